"""Signal processing for the mix renderer: pure functions and one small stateful limiter.

Everything here works on float32 arrays shaped (channels, n) at the caller's rate and never
opens files, decodes or encodes: `radio.render` decides what to do with the samples, this module
only knows how. Time-stretching uses Rubber Band through pedalboard; when pedalboard is not
importable it falls back to librosa's phase vocoder (constant ratio only, audibly phasier).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import scipy.ndimage
import scipy.signal

__all__ = [
    "Limiter",
    "crossover",
    "db_to_gain",
    "equal_power",
    "frames",
    "ramp_output_length",
    "stretch",
]

Array = np.ndarray


def db_to_gain(db: float) -> float:
    """Amplitude factor for a level change of ``db`` decibels."""
    return float(10.0 ** (db / 20.0))


def frames(seconds: float, sr: int) -> int:
    """Whole samples in ``seconds`` at ``sr``: rounded, never negative."""
    return max(0, round(seconds * sr))


def equal_power(n: int) -> tuple[Array, Array]:
    """Fade-out and fade-in gains over ``n`` samples whose squares sum to 1 (float32, (n,))."""
    u = (np.arange(n, dtype=np.float64) + 0.5) / max(n, 1)
    return (np.cos(0.5 * np.pi * u).astype(np.float32),
            np.sin(0.5 * np.pi * u).astype(np.float32))


@lru_cache(maxsize=8)
def _lowpass(sr: int, cutoff: float) -> Array:
    sos: Array = scipy.signal.butter(4, cutoff, btype="lowpass", fs=sr, output="sos")
    return sos


def crossover(y: Array, *, sr: int, cutoff: float = 150.0) -> tuple[Array, Array]:
    """Split ``y`` into (low, high) bands that sum back to ``y`` exactly.

    The low band is zero-phase (forward-backward Butterworth), so ``high = y - low`` has no
    phase smear at the crossover and a band whose gain is 1 reproduces the input untouched.
    """
    if y.shape[-1] < 64:
        return np.zeros_like(y), y.copy()
    low = scipy.signal.sosfiltfilt(_lowpass(sr, cutoff), y, axis=-1).astype(np.float32)
    return low, (y - low).astype(np.float32)


def ramp_output_length(seconds: float, factor: float) -> float:
    """Output seconds of ``seconds`` of input whose speed factor ramps linearly from 1 to
    ``factor`` (the integral of 1/f); ``factor`` > 1 plays faster."""
    if abs(factor - 1.0) < 1e-9:
        return seconds
    return seconds * math.log(factor) / (factor - 1.0)


def stretch(y: Array, *, sr: int, factor: Array | float, high_quality: bool = True) -> Array:
    """Time-stretch ``y`` (channels, n) without changing pitch.

    ``factor`` is the playback speed (> 1 shorter), constant or one value per input sample. The
    result has ``round(sum(1 / factor))`` samples so that callers can place its beats from the
    factor alone (Rubber Band adds some trailing material, which is cut). ``high_quality``
    picks Rubber Band's R3 ("finer") engine; False its R2 engine, about 3.5x less CPU.
    """
    n = y.shape[-1]
    f = np.broadcast_to(np.asarray(factor, dtype=np.float64), (n,))
    want = round(float(np.sum(1.0 / f))) if n else 0
    if n == 0:
        return y.copy()
    if np.allclose(f, 1.0, atol=1e-6):
        return y.copy()
    try:
        from pedalboard import time_stretch

        arg: Array | float = float(f[0]) if np.all(f == f[0]) else np.ascontiguousarray(f)
        out = time_stretch(np.ascontiguousarray(y, dtype=np.float32), float(sr), arg,
                           high_quality=high_quality)
    except ImportError:  # pragma: no cover - pedalboard is a dependency; this is the fallback
        import librosa

        rate = float(n / max(want, 1))
        out = np.stack([librosa.effects.time_stretch(ch, rate=rate) for ch in y])
    out = np.asarray(out, dtype=np.float32)
    if out.shape[-1] < want:
        out = np.pad(out, ((0, 0), (0, want - out.shape[-1])))
    return np.ascontiguousarray(out[:, :want])


class Limiter:
    """A look-ahead peak limiter for a stream of (channels, n) blocks; output never exceeds
    ``ceiling_db`` dBFS (sample peak).

    The gain at each sample is the smallest needed anywhere within ``lookahead_s`` + ``hold_s``
    of it, smoothed by a triangular window no wider than that reach, so gain changes are gradual
    yet every peak is already caught. Output lags input by `latency` samples; `flush` returns
    the rest. Positions are preserved: output sample k is input sample k, only later.
    """

    def __init__(self, *, sr: int, channels: int = 2, ceiling_db: float = -1.0,
                 lookahead_s: float = 0.0015, hold_s: float = 0.02) -> None:
        self.ceiling = db_to_gain(ceiling_db)
        self._r = max(1, round(lookahead_s * sr))
        self._h = max(1, round(hold_s * sr))
        self._box = 2 * ((self._r + self._h) // 2) + 1  # two boxes: reach r + h in all
        self.latency = self._r + self._h + 2 * (self._box // 2)
        self._ctx = np.zeros((channels, self.latency), dtype=np.float32)
        self._pos = self.latency  # index in _ctx of the first sample not yet output

    def _gain(self, x: Array) -> Array:
        peak = scipy.ndimage.maximum_filter1d(np.max(np.abs(x), axis=0), 2 * self._r + 1,
                                              mode="nearest")
        g = np.minimum(1.0, self.ceiling / np.maximum(peak, 1e-9)).astype(np.float32)
        g = scipy.ndimage.minimum_filter1d(g, 2 * self._h + 1, mode="nearest")
        g = scipy.ndimage.uniform_filter1d(g, self._box, mode="nearest")
        out: Array = scipy.ndimage.uniform_filter1d(g, self._box, mode="nearest")
        return out

    def process(self, block: Array) -> Array:
        """Feed ``block``; returns the limited samples that are ready (maybe none)."""
        x = np.concatenate([self._ctx, np.asarray(block, dtype=np.float32)], axis=1)
        end = x.shape[1] - self.latency
        if end <= self._pos:
            self._ctx = x
            return x[:, :0]
        seg = x[:, self._pos - self.latency : end + self.latency]
        out: Array
        if float(np.max(np.abs(seg))) <= self.ceiling:
            # Nothing within reach of these samples needs limiting: the gain is 1 throughout.
            out = x[:, self._pos : end].copy()
        else:
            g = self._gain(seg)[self.latency : self.latency + end - self._pos]
            out = np.clip(x[:, self._pos : end] * g, -self.ceiling, self.ceiling)
        self._ctx = x[:, end - self.latency :]
        self._pos = self.latency
        return out.astype(np.float32, copy=False)

    def flush(self) -> Array:
        """The samples still held back (the stream's last `latency` samples)."""
        pending = self._ctx.shape[1] - self._pos
        out = self.process(np.zeros((self._ctx.shape[0], self.latency), dtype=np.float32))
        return out[:, :pending]
