"""Audio analysis: what ingestion stores about one track, computed from samples in memory.

`analyse(y=..., sr=...)` trims silence, then makes ONE pass of a short-time Fourier transform
(n_fft 2048, hop 512 at 22050 Hz) from which the mel spectrogram (onsets, MFCC), the chroma
(key, downbeats) and the spectral summary are all derived, so a 3-minute stereo track takes well
under a second on one core. Loudness follows ITU-R BS.1770-4 with pyloudnorm's K-weighting filters
and vectorised gating. The beat tracker is Ellis' (2007) dynamic program, vectorised in blocks of
half a beat so that it needs no numba compilation.

This module holds the `Analysis` record and `analyse`, which runs the steps in order and turns
frames into seconds; each step lives in a module of its own: `radio.loudness` (silence gate,
BS.1770 loudness), `radio.spectral` (the shared STFT pass and the timbre summary),
`radio.beats` (tempo and beats), `radio.phrases` (downbeats and phrase-aligned `Cue`s) and
`radio.key` (key and Camelot code). The STFT pass runs once, here, and its frames are handed to
the others; none of them may run a second STFT.

None of these modules opens files, decodes, or touches the database or the network: they take
arrays and return arrays and dataclasses. Every time is in seconds from the first sample of
``y``. Bump ``ANALYSIS_VERSION`` only when stored results would change meaning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import librosa
import numpy as np

from radio.beats import amplitude_flux, track_beats
from radio.errors import AnalysisError
from radio.key import camelot, estimate_key
from radio.loudness import LOUDNESS_HOP_S, SILENCE_DBFS, as_channels, audible_range, loudness
from radio.phrases import Cue, cue_candidates, downbeat_phase
from radio.spectral import N_MELS, stft_pass, timbre_summary

__all__ = ["ANALYSIS_VERSION", "MIN_AUDIBLE_S", "Analysis", "analyse"]

ANALYSIS_VERSION = 1

Array = np.ndarray

MIN_AUDIBLE_S = 5.0


@dataclass
class Analysis:
    """Everything ingestion stores for one track. Arrays go to features/<hash>.npz."""

    version: int
    duration: float  # seconds, whole file
    audible_start: float  # seconds, first sample above the silence threshold
    audible_end: float
    tempo: float  # BPM
    tempo_confidence: float  # 0..1
    beats: np.ndarray  # float64 seconds
    downbeats: np.ndarray  # float64 seconds, subset of beats
    key: str  # pitch class name, e.g. "F#"
    mode: Literal["major", "minor"]
    key_confidence: float  # 0..1
    camelot: str  # e.g. "8B"
    lufs: float  # integrated loudness, ITU-R BS.1770
    loudness_curve: np.ndarray  # float32 short-term loudness (LUFS) per hop
    loudness_hop: float  # seconds between loudness_curve values
    summary: np.ndarray  # float32 fixed-length timbre/spectral summary
    summary_names: tuple[str, ...]
    cues: list[Cue] = field(default_factory=list)
    # Added with the analysis itself (not in the first contract stub):
    # float32 (12,) pitch-class profile C..B the key was estimated from; sums to 1
    chroma: np.ndarray = field(default_factory=lambda: np.zeros(12, np.float32))
    first_downbeat: int = 0  # index into beats of downbeats[0]; phrases count from here


# -- the whole track ---------------------------------------------------------------------------


def analyse(*, y: Array, sr: int, hop_length: int | None = None) -> Analysis:
    """Analyse one track.

    Parameters
    ----------
    y : np.ndarray
        float32 samples, (n,) or (channels, n), full scale 1.0. NaN/inf count as 0.
    sr : int
        Sample rate in Hz (22050 from ingestion).
    hop_length : int, optional
        STFT hop in samples; default n_fft / 4, with n_fft 2048 at 22050 Hz (93 ms) scaled to
        the nearest power of two at other rates.

    Returns
    -------
    Analysis
        Times in seconds from the first sample of ``y``.

    Raises
    ------
    AnalysisError
        ``silent`` when no 23 ms block exceeds -60 dBFS RMS; ``too-short`` when the audible
        part is shorter than 5 s.
    """
    x = as_channels(y)
    duration = x.shape[1] / sr
    n_fft = 1 << round(np.log2(2048 * sr / 22050))
    hop = hop_length or n_fft // 4
    bounds = audible_range(y=x, sr=sr, hop_length=hop)
    if bounds is None:
        raise AnalysisError("silent", f"no part of {duration:.1f} s is above {SILENCE_DBFS} dBFS")
    start, end = bounds
    if (end - start) / sr < MIN_AUDIBLE_S:
        audible = (end - start) / sr
        raise AnalysisError("too-short", f"{audible:.1f} s audible, need {MIN_AUDIBLE_S:g} s")
    t0 = start / sr
    mono = x[:, start:end].mean(axis=0)
    lufs, curve = loudness(y=x, sr=sr)

    frames = stft_pass(y=mono, sr=sr, n_fft=n_fft, hop_length=hop)
    mel_s = librosa.mel_frequencies(n_mels=N_MELS + 2, fmax=sr / 2)[1:-1]
    onset = librosa.onset.onset_strength(S=frames.mel_db.T, sr=sr, hop_length=hop, n_fft=n_fft)
    low = int(np.searchsorted(mel_s, 200.0))
    lag_pad = 1 + n_fft // (2 * hop)
    accent = amplitude_flux(frames.mel_amp, lag_pad=lag_pad)
    accent_low = amplitude_flux(frames.mel_amp[:, :low], lag_pad=lag_pad)
    tempo, tempo_conf, beat_frames = track_beats(onset=onset, accent=accent, sr=sr,
                                                 hop_length=hop)
    phase = downbeat_phase(beats=beat_frames, onset=accent, onset_low=accent_low,
                           chroma=frames.chroma)
    # Log-power flux (with librosa's framing shift) peaks about one hop after an onset: +20 to
    # +30 ms on generated clicks and drums, more on slow attacks. One hop earlier centres it.
    beats = t0 + np.maximum(beat_frames - 1, 0) * (hop / sr)
    audible_start, audible_end = t0, end / sr
    cues = cue_candidates(beats=beats, first_downbeat=phase, audible_start=audible_start,
                          audible_end=audible_end) if beats.size >= 8 else []

    # Per-frame pitch-class amplitudes (root of the power) summed over time: loud passages
    # count more, but not quadratically more.
    profile = np.sqrt(frames.chroma).sum(axis=0)
    profile = profile / (profile.sum() + 1e-12)
    key, mode, key_conf = estimate_key(chroma=profile)

    rms_db = 10 * np.log10(np.maximum(
        np.mean(mono[: mono.size // hop * hop].reshape(-1, hop) ** 2, axis=1), 1e-10))
    summary, names = timbre_summary(frames, rms_db=rms_db)
    return Analysis(
        version=ANALYSIS_VERSION, duration=duration, audible_start=audible_start,
        audible_end=audible_end, tempo=tempo, tempo_confidence=tempo_conf,
        beats=beats.astype(np.float64), downbeats=beats[phase::4].astype(np.float64),
        key=key, mode=mode, key_confidence=key_conf, camelot=camelot(key, mode), lufs=lufs,
        loudness_curve=curve, loudness_hop=LOUDNESS_HOP_S, summary=summary, summary_names=names,
        cues=cues, chroma=profile.astype(np.float32), first_downbeat=phase if beats.size else 0,
    )
