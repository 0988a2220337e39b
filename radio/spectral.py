"""The shared STFT pass: every frame-level spectral feature of a track, from ONE transform.

`stft_pass` runs a centred Hann short-time Fourier transform over the mono mix, in blocks of
2048 frames to bound memory, and derives from each block's power the mel spectrogram (onsets,
MFCC), the chroma (key, downbeats) and the per-frame spectral statistics; `timbre_summary`
reduces them to the fixed-length, named timbre summary that ingestion stores.
`radio.analysis.analyse` runs the pass once and hands its `SpectralFrames` to the beat, downbeat
and key code, which is what keeps a 3-minute track well under a second on one core.

``__all__`` lists what `radio.analysis` builds on; from outside the analysis modules the way in
is `radio.analysis.analyse`. It never opens files, never decodes, never touches the database or
the network, and it must not grow a second transform: a new spectral feature derives from the
power computed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import librosa
import numpy as np
import scipy.fft
import scipy.signal
from numpy.lib.stride_tricks import sliding_window_view

from radio.key import PITCHES

__all__ = ["N_MELS", "SpectralFrames", "stft_pass", "timbre_summary"]

Array = np.ndarray

N_MELS = 128
"""Mel bands in `SpectralFrames.mel_db` and `SpectralFrames.mel_amp`."""
_N_MFCC = 20
_SUMMARY_STRIDE = 4  # spectral statistics use every 4th frame (~93 ms apart): plenty for mean/std
_CHUNK = 2048  # STFT frames per block; bounds memory on long tracks
_CONTRAST_EDGES = (0.0, 200.0, 400.0, 800.0, 1600.0, 3200.0, 6400.0)  # Hz, then up to Nyquist
# Lower edges (Hz) of the bands whose share of the power the summary reports.
_BANDS = {"sub": 0.0, "bass": 60.0, "mid": 250.0, "presence": 2000.0, "air": 6000.0}


@dataclass
class SpectralFrames:
    """Frame-level features from one STFT pass over the mono mix."""

    mel_db: Array  # (T, n_mels) float32, dB re 1.0, floored 80 dB below the maximum
    mel_amp: Array  # (T, n_mels) float32, square root of the mel power
    chroma: Array  # (T, 12) float32 pitch-class power
    stats: dict[str, Array]  # per-summary-frame spectral descriptors


@lru_cache(maxsize=8)
def _filterbanks(sr: int, n_fft: int) -> tuple[Array, Array, Array]:
    """Mel (n_mels, bins), chroma (12, bins) filterbanks and bin frequencies (Hz) as float32."""
    mel = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=N_MELS).astype(np.float32)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    chroma = _chroma_filterbank(freqs)
    return mel, chroma, freqs.astype(np.float32)


def _chroma_filterbank(freqs: Array) -> Array:
    """Map FFT bins to pitch classes with a triangular kernel one semitone wide.

    Only 55 Hz..2 kHz counts (A1..B6): lower, bins are wider than a semitone; higher, upper
    harmonics and percussion blur the pitch classes. Each bin is shared by its two nearest
    pitch classes.
    """
    fb = np.zeros((12, freqs.size), np.float32)
    ok = (freqs >= 55.0) & (freqs <= 2000.0)
    midi = 69 + 12 * np.log2(freqs[ok] / 440.0)
    lo = np.floor(midi).astype(int)
    frac = (midi - lo).astype(np.float32)
    cols = np.flatnonzero(ok)
    np.add.at(fb, (lo % 12, cols), 1 - frac)
    np.add.at(fb, ((lo + 1) % 12, cols), frac)
    return fb


def stft_pass(*, y: Array, sr: int, n_fft: int, hop_length: int) -> SpectralFrames:
    """One centred Hann STFT over mono ``y``; every spectral feature is derived from it."""
    melfb, chromafb, freqs = _filterbanks(sr, n_fft)
    frames = sliding_window_view(np.pad(y, n_fft // 2), n_fft)[::hop_length]
    n_frames = frames.shape[0]
    window = scipy.signal.get_window("hann", n_fft).astype(np.float32)
    mel = np.empty((n_frames, melfb.shape[0]), np.float32)
    chroma = np.empty((n_frames, 12), np.float32)
    parts: dict[str, list[Array]] = {}
    for a in range(0, n_frames, _CHUNK):
        block = frames[a : a + _CHUNK]
        spec = scipy.fft.rfft(block * window, axis=1)
        power = spec.real**2 + spec.imag**2
        mel[a : a + len(block)] = power @ melfb.T
        chroma[a : a + len(block)] = power @ chromafb.T
        # a is a multiple of _CHUNK, itself a multiple of the stride, so frames stay evenly spaced
        for name, value in _spectral_stats(
            power=power[::_SUMMARY_STRIDE], frames=block[::_SUMMARY_STRIDE], freqs=freqs
        ).items():
            parts.setdefault(name, []).append(value)
    mel_db = 10 * np.log10(np.maximum(mel, 1e-10))
    np.maximum(mel_db, mel_db.max() - 80.0, out=mel_db)
    return SpectralFrames(mel_db=mel_db, mel_amp=np.sqrt(mel), chroma=chroma,
                          stats={k: np.concatenate(v) for k, v in parts.items()})


def _spectral_stats(*, power: Array, frames: Array, freqs: Array) -> dict[str, Array]:
    """Per-frame centroid, bandwidth, roll-off (Hz), flatness, contrast (dB), band ratios, ZCR."""
    mag = np.sqrt(power)
    total = mag.sum(axis=1) + 1e-10
    centroid = mag @ freqs / total
    bandwidth = np.sqrt(np.maximum(mag @ freqs**2 / total - centroid**2, 0.0))
    cum = np.cumsum(mag, axis=1)
    rolloff = freqs[np.argmax(cum >= 0.85 * cum[:, -1:], axis=1)]
    logp = np.log(power + 1e-10)
    flatness = np.exp(logp.mean(axis=1)) / (power.mean(axis=1) + 1e-10)
    out = {"centroid": centroid, "bandwidth": bandwidth, "rolloff": rolloff, "flatness": flatness}
    edges = np.searchsorted(freqs, (*_CONTRAST_EDGES, freqs[-1] + 1))
    for i in range(len(edges) - 1):
        band = np.sort(power[:, edges[i] : edges[i + 1]], axis=1)
        if band.shape[1] == 0:  # above Nyquist at low sample rates
            out[f"contrast_{i}"] = np.zeros(power.shape[0])
            continue
        k = max(1, round(0.02 * band.shape[1]))
        valley, peak = band[:, :k].mean(axis=1), band[:, -k:].mean(axis=1)
        out[f"contrast_{i}"] = 10 * np.log10((peak + 1e-10) / (valley + 1e-10))
    ptotal = power.sum(axis=1) + 1e-10
    bands = np.searchsorted(freqs, (*_BANDS.values(), freqs[-1] + 1))
    for i, name in enumerate(_BANDS):
        out[f"band_ratio_{name}"] = power[:, bands[i] : bands[i + 1]].sum(axis=1) / ptotal
    out["zcr"] = np.count_nonzero(np.diff(np.signbit(frames), axis=1), axis=1) / frames.shape[1]
    return {k: v.astype(np.float32) for k, v in out.items()}


def timbre_summary(frames: SpectralFrames, *, rms_db: Array) -> tuple[Array, tuple[str, ...]]:
    """Fixed-length, named timbre summary from the frame-level features."""
    mfcc = scipy.fft.dct(frames.mel_db, type=2, norm="ortho", axis=1)[:, :_N_MFCC]
    dmfcc = np.diff(mfcc, axis=0) if mfcc.shape[0] > 1 else np.zeros_like(mfcc)
    chroma = frames.chroma / (frames.chroma.sum(axis=1, keepdims=True) + 1e-10)
    values: list[float] = []
    names: list[str] = []

    def add(prefix: str, v: Array, labels: tuple[str, ...] | None = None) -> None:
        values.extend(np.atleast_1d(v).astype(float).tolist())
        if np.ndim(v) == 0:
            names.append(prefix)
        else:
            names.extend(f"{prefix}_{x}" for x in (labels or tuple(map(str, range(len(v))))))

    add("mfcc_mean", mfcc.mean(axis=0))
    add("mfcc_std", mfcc.std(axis=0))
    add("dmfcc_std", dmfcc.std(axis=0))  # frame-to-frame change; its mean is ~0
    add("chroma_mean", chroma.mean(axis=0), PITCHES)
    for name, v in frames.stats.items():
        add(f"{name}_mean", v.mean())
        if not name.startswith(("band_ratio_", "contrast_")):
            add(f"{name}_std", v.std())
    for q in (10, 50, 90):
        add(f"rms_db_p{q}", np.percentile(rms_db, q))
    add("rms_db_mean", rms_db.mean())
    add("rms_db_std", rms_db.std())
    return np.asarray(values, np.float32), tuple(names)
