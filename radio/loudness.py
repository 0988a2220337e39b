"""Levels of a signal: sample hygiene, the silence gate and ITU-R BS.1770-4 loudness.

`audible_range` finds where the audio of a track starts and ends (short-term RMS against a
threshold relative to full scale); `loudness` gives the integrated loudness and the short-term
loudness curve, with pyloudnorm's K-weighting filters and vectorised gating. `radio.analysis`
stores both for every track; the renderer and `radio.loudness_match` measure clips with
`loudness` while they mix. `as_channels` is the input hygiene every analysis function starts
with.

This module never opens files, never decodes, never touches the database or the network: it
takes arrays (``y``, ``sr``, keyword-only) and returns numbers and arrays.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.signal
from pyloudnorm.iirfilter import IIRfilter

from radio.errors import AnalysisError

__all__ = [
    "LOUDNESS_HOP_S",
    "LUFS_FLOOR",
    "SHORT_TERM_S",
    "SILENCE_DBFS",
    "as_channels",
    "audible_range",
    "loudness",
]

Array = np.ndarray

SILENCE_DBFS = -60.0  # one hop's RMS below this (re a full-scale square wave) is silence
LOUDNESS_HOP_S = 0.1  # EBU Tech 3341 asks short-term meters to update at least 10 times a second
SHORT_TERM_S = 3.0
LUFS_FLOOR = -70.0  # BS.1770's absolute gate; quieter windows read as this


# -- input hygiene and silence -----------------------------------------------------------------


def as_channels(y: Array) -> Array:
    """``y`` as float32 (channels, n) with NaN/inf replaced by 0."""
    x = np.asarray(y, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[0] == 0:
        raise AnalysisError("bad-shape", f"expected (n,) or (channels, n) samples, got {x.shape}")
    if x.shape[1] == 0:
        raise AnalysisError("too-short", "no samples")
    if not np.isfinite(x).all():
        x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    return x


def audible_range(
    *, y: Array, sr: int, hop_length: int = 512, threshold_db: float = SILENCE_DBFS
) -> tuple[int, int] | None:
    """First and one-past-last audible sample, or None when everything is silent.

    Parameters
    ----------
    y : np.ndarray
        Samples, (n,) or (channels, n); channel powers are averaged.
    sr : int
        Sample rate in Hz (unused but kept for a uniform signature).
    hop_length : int
        Block length in samples for the short-term RMS (512 = 23 ms at 22050 Hz).
    threshold_db : float
        A block is audible when its RMS exceeds this many dB relative to full scale (a
        full-scale square wave reads 0 dBFS, a full-scale sine -3 dBFS).

    Returns
    -------
    (start, end) : tuple of int or None
        Sample indices at block boundaries, so the error is below one block (23 ms).
    """
    del sr
    x = as_channels(y)
    n_blocks = -(-x.shape[1] // hop_length)
    padded = np.zeros((x.shape[0], n_blocks * hop_length), np.float32)
    padded[:, : x.shape[1]] = x
    power = np.einsum("cbk,cbk->b", *(padded.reshape(x.shape[0], n_blocks, hop_length),) * 2)
    power /= x.shape[0] * hop_length
    loud = np.flatnonzero(power > 10 ** (threshold_db / 10))
    if loud.size == 0:
        return None
    return int(loud[0]) * hop_length, min(int(loud[-1] + 1) * hop_length, x.shape[1])


# -- loudness (ITU-R BS.1770-4) ----------------------------------------------------------------


@lru_cache(maxsize=8)
def _k_weighting(sr: int) -> Array:
    """K-weighting as second-order sections, from the same RBJ biquads pyloudnorm's Meter uses."""
    stages = (IIRfilter(4.0, 1 / np.sqrt(2), 1500.0, sr, "high_shelf"),
              IIRfilter(0.0, 0.5, 38.0, sr, "high_pass"))
    return np.array([np.r_[f.b, f.a] for f in stages], dtype=np.float32)


def loudness(*, y: Array, sr: int, hop_s: float = LOUDNESS_HOP_S) -> tuple[float, Array]:
    """Integrated loudness and the short-term loudness curve, per ITU-R BS.1770-4.

    Channels are K-weighted and their mean squares summed (weights 1.0 for L/R/C, 1.41 for
    surrounds), so stereo stays stereo and a 1-D ``y`` is one channel, as BS.1770 prescribes.
    Gating uses 400 ms blocks every 100 ms, the -70 LUFS absolute and -10 LU relative gates.

    Parameters
    ----------
    y : np.ndarray
        Samples, (n,) or (channels, n), full scale = 1.0.
    sr : int
        Sample rate in Hz.
    hop_s : float
        Seconds between short-term values; rounded to a multiple of 0.1 s.

    Returns
    -------
    lufs : float
        Integrated loudness in LUFS; ``LUFS_FLOOR`` when no block passes the gates.
    curve : np.ndarray
        float32 short-term loudness (3 s window) in LUFS, floored at ``LUFS_FLOOR``; value ``i``
        is the window centred on ``i * hop_s`` seconds, truncated at the ends of ``y``.
    """
    x = as_channels(y)
    kw = scipy.signal.sosfilt(_k_weighting(sr), x, axis=-1)
    seg = round(0.1 * sr)  # 100 ms: blocks and windows are whole numbers of segments
    n_seg = x.shape[1] // seg
    gains = np.array([1.0, 1.0, 1.0, 1.41, 1.41][: x.shape[0]] + [1.0] * (x.shape[0] - 5))[:, None]
    z_seg = np.einsum("csk,csk->cs", *(kw[:, : n_seg * seg].reshape(x.shape[0], n_seg, seg),) * 2)
    z_seg = z_seg.astype(np.float64) / seg
    # 400 ms blocks overlapping by 75 %: block j is segments j..j+3.
    csum = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(z_seg, axis=1)], axis=1)
    z = (csum[:, 4:] - csum[:, :-4]) / 4 if n_seg >= 4 else np.zeros((x.shape[0], 0))
    with np.errstate(divide="ignore"):
        block = -0.691 + 10 * np.log10(np.sum(gains * z, axis=0))
        gated = z[:, block >= LUFS_FLOOR]
        lufs = LUFS_FLOOR
        if gated.shape[1]:
            rel = -0.691 + 10 * np.log10(np.sum(gains[:, 0] * gated.mean(axis=1))) - 10.0
            keep = z[:, (block > rel) & (block > LUFS_FLOOR)]
            if keep.shape[1]:
                lufs = float(-0.691 + 10 * np.log10(np.sum(gains[:, 0] * keep.mean(axis=1))))
        step = max(1, round(hop_s / 0.1))
        half = round(SHORT_TERM_S / 0.1) // 2
        p = np.concatenate([[0.0], np.cumsum(np.sum(gains * z_seg, axis=0))])
        centres = np.arange(0, n_seg + 1, step)
        lo, hi = np.clip(centres - half, 0, n_seg), np.clip(centres + half, 0, n_seg)
        mean_p = (p[hi] - p[lo]) / np.maximum(hi - lo, 1)
        curve = np.maximum(-0.691 + 10 * np.log10(mean_p), LUFS_FLOOR)
    return max(lufs, LUFS_FLOOR), curve.astype(np.float32)
