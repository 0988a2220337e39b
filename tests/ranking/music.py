"""Generated 'songs' for ranking tests: each a slowly evolving chord melody with its own timbre.

Consecutive clips of one song share the notes sounding at the cut; clips far apart or from other
songs do not, so a continuation model has something real (and known) to learn.
"""

from __future__ import annotations

import numpy as np


def song(rng: np.random.Generator, *, seconds: float, sr: int = 16000, bpm: float = 120.0
         ) -> tuple[np.ndarray, np.ndarray]:
    """(mono float32 audio, beat times in seconds)."""
    beat = 60.0 / bpm
    n = int(seconds * sr)
    t = np.arange(n) / sr
    y = np.zeros(n, dtype=np.float64)
    harmonics = rng.uniform(0.1, 1.0, size=6) / np.arange(1, 7)
    # A chord every 2 beats, a random walk in pitch so that neighbours are related.
    step = 2 * beat
    root = int(rng.integers(45, 60))
    k = 0
    while k * step < seconds:
        s, e = int(k * step * sr), min(n, int((k + 1) * step * sr) + int(0.2 * sr))
        root = int(np.clip(root + rng.integers(-3, 4), 40, 70))
        for off in (0, rng.choice([3, 4]), 7):
            f0 = 440.0 * 2 ** ((root + off - 69) / 12)
            seg = t[s:e] - t[s]
            env = np.minimum(1.0, seg / 0.02) * np.exp(-seg * 1.5)
            for h, amp in enumerate(harmonics, start=1):
                y[s:e] += amp * env * np.sin(2 * np.pi * f0 * h * seg)
        k += 1
    # a soft pulse on beats
    for b in np.arange(0, seconds, beat):
        s = int(b * sr)
        m = min(n - s, int(0.05 * sr))
        y[s : s + m] += 0.3 * rng.standard_normal(m) * np.exp(-np.arange(m) / (0.01 * sr))
    y = 0.3 * y / (np.abs(y).max() + 1e-9)
    return y.astype(np.float32), np.arange(0, seconds, beat)
