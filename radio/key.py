"""Musical key: pitch-class names, the key of a pitch-class profile, and its Camelot code.

`estimate_key` correlates a 12-bin pitch-class profile with Albrecht & Shanahan's (2013) major
and minor key profiles, spread over their harmonics because audio chroma holds overtones;
`camelot` names a key on the Camelot wheel DJs mix by (relative keys share a number).
`radio.analysis` builds the profile from the chroma of its one STFT pass (`radio.spectral`).

This module never opens files, never decodes, never touches the database or the network, and
computes no chroma: it takes a (12,) profile and returns names and numbers.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

__all__ = ["PITCHES", "Mode", "camelot", "estimate_key"]

Mode = Literal["major", "minor"]
Array = np.ndarray

PITCHES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")

# Albrecht & Shanahan (2013) key profiles (pitch-class distributions of a large common-practice
# corpus), tonic first. Audio chroma also holds each note's overtones, so every profile weight
# is spread over the pitch classes of its first 6 harmonics with amplitudes 0.6^(k-1), as Gomez
# (2006) does to compare symbolic profiles with audio. On music21's corpus rendered to audio
# (bench/key_accuracy.py) this scores well above Krumhansl's or Temperley's profiles.
_AS_MAJOR = (0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081)
_AS_MINOR = (0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052)


def _with_harmonics(profile: tuple[float, ...], *, decay: float = 0.6, n: int = 6) -> Array:
    """Spread each pitch class's weight over its first ``n`` harmonics, amplitude decay^(k-1)."""
    p = np.asarray(profile)
    out: Array = np.sum([decay ** (k - 1) * np.roll(p, round(12 * np.log2(k)) % 12)
                         for k in range(1, n + 1)], axis=0)
    return out


_KEY_PROFILES = np.stack([np.roll(_with_harmonics(p), t)
                          for p in (_AS_MAJOR, _AS_MINOR) for t in range(12)])
_CAMELOT_MAJOR = (8, 3, 10, 5, 12, 7, 2, 9, 4, 11, 6, 1)  # by tonic pitch class, C = 0


def camelot(key: str, mode: Mode) -> str:
    """Camelot wheel code of a key: C major is 8B, A minor 8A (relatives share a number)."""
    pc = PITCHES.index(key)
    if mode == "major":
        return f"{_CAMELOT_MAJOR[pc]}B"
    return f"{_CAMELOT_MAJOR[(pc + 3) % 12]}A"


def estimate_key(*, chroma: Array) -> tuple[str, Mode, float]:
    """Key by correlating a 12-bin pitch-class profile with rotated major/minor key profiles.

    Parameters
    ----------
    chroma : np.ndarray
        Pitch-class weights, C first, shape (12,) (any scale).

    Returns
    -------
    key, mode, confidence
        Tonic name from ``PITCHES``, mode, and the margin of the best correlation over the
        runner-up relative to its distance from 1 (0 = a tie, 1 = unambiguous).
    """
    c = np.asarray(chroma, dtype=np.float64)
    profiles = _KEY_PROFILES
    cz = (c - c.mean()) / (c.std() + 1e-12)
    pz = (profiles - profiles.mean(axis=1, keepdims=True)) / profiles.std(axis=1, keepdims=True)
    r = pz @ cz / 12.0
    order = np.argsort(r)[::-1]
    best, second = float(r[order[0]]), float(r[order[1]])
    confidence = 0.0 if best <= 0 else (best - second) / max(1.0 - second, 1e-9)
    mode: Mode = "major" if order[0] < 12 else "minor"
    return PITCHES[int(order[0]) % 12], mode, float(np.clip(confidence, 0.0, 1.0))
