"""Audio analysis: what ingestion stores about one track, computed from samples in memory.

`analyse(y=..., sr=...)` trims silence, then makes ONE pass of a short-time Fourier transform
(n_fft 2048, hop 512 at 22050 Hz) from which the mel spectrogram (onsets, MFCC), the chroma
(key, downbeats) and the spectral summary are all derived, so a 3-minute stereo track takes well
under a second on one core. Loudness follows ITU-R BS.1770-4 with pyloudnorm's K-weighting filters
and vectorised gating. The beat tracker is Ellis' (2007) dynamic program, vectorised in blocks of
half a beat so that it needs no numba compilation.

This module never opens files, never decodes, never touches the database or the network: it
takes arrays and returns arrays and dataclasses. Every time is in seconds from the first sample
of ``y``. Bump ``ANALYSIS_VERSION`` only when stored results would change meaning.

It is longer than the 400 lines STYLE.md suggests because the features share one STFT pass and
one set of frame-level arrays; splitting them across modules would hide that sharing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import librosa
import numpy as np
import scipy.fft
import scipy.ndimage
from numpy.lib.stride_tricks import sliding_window_view

from radio.errors import AnalysisError
from radio.key import camelot, estimate_key
from radio.loudness import LOUDNESS_HOP_S, SILENCE_DBFS, _channels, audible_range, loudness
from radio.spectral import _N_MELS, _stft_pass, _summary

__all__ = [
    "ANALYSIS_VERSION",
    "Analysis",
    "Cue",
    "analyse",
    "cue_candidates",
    "track_beats",
]

ANALYSIS_VERSION = 1

Array = np.ndarray

MIN_AUDIBLE_S = 5.0


@dataclass(frozen=True)
class Cue:
    """A phrase-aligned point where a mix may leave (exit) or join (entry) a track."""

    kind: Literal["exit", "entry"]
    time: float  # seconds from the start of the file
    beat_index: int  # index into Analysis.beats
    # the largest of 32/16/8 beats this downbeat is aligned to (counted from the first downbeat)
    phrase: int


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


# -- tempo and beats ---------------------------------------------------------------------------


def _periodicity(onset: Array, *, max_lag: int, win: int = 512) -> Array:
    """Autocorrelation of the onset envelope, normalised so lag 0 is 1, averaged over windows.

    Windows of ``win`` frames (12 s at 43 Hz) overlapping by half follow tempo drift better
    than one autocorrelation over the whole track; louder windows weigh more.
    """
    x = onset - scipy.ndimage.uniform_filter1d(onset, 43, mode="nearest")
    win = min(win, x.size)
    segs = sliding_window_view(x, win)[:: max(1, win // 2)]
    segs = segs - segs.mean(axis=1, keepdims=True)
    n = scipy.fft.next_fast_len(2 * win)
    spec = scipy.fft.rfft(segs, n=n, axis=1)
    ac = scipy.fft.irfft(spec.real**2 + spec.imag**2, n=n, axis=1)[:, : max_lag + 1].sum(axis=0)
    out: Array = ac / ac[0] if ac[0] > 0 else np.zeros_like(ac)
    if out.size < max_lag + 1:
        out = np.pad(out, (0, max_lag + 1 - out.size))
    return out


def _dp_beats(onset: Array, *, period: float, tightness: float = 100.0) -> Array:
    """Ellis' (2007) dynamic-programming beat tracker at a fixed ``period`` (frames).

    A frame's best predecessor lies between 2 and 1/2 periods back, so the frames of a block
    half a period long never depend on each other: each block is one vectorised step.
    """
    norm = onset / (onset.std() + 1e-10)
    half_w = round(period)
    kernel = np.exp(-0.5 * (np.arange(-half_w, half_w + 1) * 32.0 / period) ** 2)
    local = np.convolve(norm, kernel, mode="same")
    n = local.size
    d_min, d_max = max(1, round(period / 2)), max(2, round(2 * period))
    offsets = np.arange(d_min, d_max + 1)
    penalty = tightness * np.log(offsets / period) ** 2
    cum = local.copy()
    back = np.full(n, -1, dtype=np.int64)
    started = np.flatnonzero(local >= 0.01 * local.max())
    first = int(started[0]) if started.size else n
    for k in range(first + 1, n, d_min):
        rows = np.arange(k, min(k + d_min, n))
        idx = rows[:, None] - offsets[None, :]
        valid = idx >= first
        cand = np.where(valid, cum[np.maximum(idx, 0)] - penalty, -np.inf)
        best = cand.argmax(axis=1)
        has = valid.any(axis=1)
        r = np.arange(rows.size)
        cum[rows] = local[rows] + np.where(has, cand[r, best], 0.0)
        back[rows] = np.where(has, idx[r, best], -1)
    peaks = np.flatnonzero((cum[1:-1] >= cum[:-2]) & (cum[1:-1] > cum[2:])) + 1
    if peaks.size == 0:
        return np.zeros(0, np.int64)
    good = peaks[cum[peaks] >= 0.5 * np.median(cum[peaks])]
    # librosa ends on the last good peak, which can be an off-beat onset and bends the final
    # beats towards it; the best-scoring peak within the last two periods keeps the phase.
    near = good[good >= good[-1] - 2 * period]
    beats = [int(near[np.argmax(cum[near])])]
    while back[beats[-1]] >= 0:
        beats.append(int(back[beats[-1]]))
    out = np.array(beats[::-1], dtype=np.int64)
    # Drop leading/trailing beats on weak onsets, as librosa's trim does but at half its
    # threshold (a quarter of the smoothed RMS, i.e. half a typical beat): librosa's also drops
    # real beats that are merely softer than average, which would shift the phrase count.
    strength = local[out]
    smooth = np.convolve(strength, np.hanning(5), mode="same")
    thresh = 0.25 * np.sqrt(np.mean(smooth**2))
    strong = np.flatnonzero(strength > thresh)
    return out[strong[0] : strong[-1] + 1] if strong.size else out


def _amplitude_flux(mel_amp: Array, *, lag_pad: int) -> Array:
    """Half-wave rectified flux of mel amplitudes, aligned like librosa's onset strength.

    Unlike the log-power flux used for tracking, it keeps level differences: a hi-hat 12 dB
    below the kick stays 4x weaker instead of looking like a loud onset out of silence. That is
    what the metrical-level and downbeat decisions need.
    """
    flux = np.maximum(np.diff(mel_amp, axis=0), 0.0).mean(axis=1)
    out: Array = np.r_[np.zeros(lag_pad), flux][: mel_amp.shape[0]]
    return out


def _beat_strength(onset: Array, beats: Array) -> Array:
    """Largest onset value within one frame of each beat frame."""
    padded = np.pad(onset, 1)
    out: Array = np.max(np.stack([padded[beats], padded[beats + 1], padded[beats + 2]]), axis=0)
    return out


def track_beats(
    *, onset: Array, accent: Array | None = None, sr: int, hop_length: int
) -> tuple[float, float, Array]:
    """Tempo, tempo confidence and beat frames from an onset-strength envelope.

    The strongest periodicity between 100 and 200 BPM (summing its 2x and 4x multiples, so a
    true beat beats its own subdivisions' rivals) is tracked first. If the tracked beats
    alternate strong/weak (even beats 3x stronger than odd ones or the reverse, which separates
    a subdivision from a drummer's accents), they are a subdivision and every other beat is
    kept, so 60..100 BPM music is not reported at double tempo while a plain
    120..200 BPM pulse stays where it is.

    Parameters
    ----------
    onset : np.ndarray
        Onset strength per frame (log-power flux), used for tracking.
    accent : np.ndarray, optional
        Level-preserving onset strength per frame (amplitude flux) for the strong/weak test;
        defaults to ``onset``.
    sr, hop_length : int
        Sample rate (Hz) and hop (samples) that define the frame rate.

    Returns
    -------
    tempo : float
        BPM from the robust (Theil-Sen) beat period; 0 when fewer than two beats.
    confidence : float
        Normalised onset autocorrelation at the beat period, 0..1.
    beats : np.ndarray
        int64 frame indices.
    """
    fps = sr / hop_length
    lags = 60.0 * fps / np.geomspace(100.0, 200.0, 240, endpoint=False)
    ac = _periodicity(onset, max_lag=int(np.ceil(4 * lags.max())) + 2)
    smooth = scipy.ndimage.gaussian_filter1d(ac, 1.0)
    grid = np.arange(smooth.size)
    score = (np.interp(lags, grid, smooth) + np.interp(2 * lags, grid, smooth)
             + 0.5 * np.interp(4 * lags, grid, smooth))
    period = float(lags[np.argmax(score)])
    beats = _dp_beats(onset, period=period)
    if beats.size >= 8:
        acc = onset if accent is None else accent
        s = _beat_strength(acc, beats) + 0.05 * float(acc.mean() + 1e-10)
        if _alternation(s) > np.log(3.0):
            parity = int(s[1::2].mean() > s[0::2].mean())
            beats, period = beats[parity::2], 2 * period
    if beats.size < 2:
        return 0.0, 0.0, beats
    span = _beat_period(beats)
    beats = _extend_grid(beats, span=span, n_frames=onset.size)
    tempo = 60.0 * fps / float(span)
    confidence = float(np.clip(np.interp(span, grid, ac), 0.0, 1.0))
    return tempo, confidence, beats


def _alternation(strength: Array, *, window: int = 16) -> float:
    """Median over 16-beat windows of |log(mean even-beat / mean odd-beat strength)|.

    Windows keep a tracking slip from mixing the two parities; comparing parities rather than
    neighbours keeps a pattern with one soft beat per bar (a two-step) from looking halved.
    """
    starts = range(0, max(strength.size - window, 0) + 1, window // 2)
    ratios = [np.log(strength[a : a + window : 2].mean() / strength[a + 1 : a + window : 2].mean())
              for a in starts]
    return float(np.median(np.abs(ratios)))


def _beat_period(beats: Array, *, most: int = 400) -> float:
    """Frames per beat: the Theil-Sen slope of beat frame against beat number.

    The median of pairwise slopes ignores a few misplaced beats, and spans of many beats make
    it far finer than a frame (a 16-beat span already pins 180 BPM to 0.2 %).
    """
    idx = np.linspace(0, beats.size - 1, min(beats.size, most)).round().astype(int)
    i, j = np.triu_indices(idx.size, k=1)
    far = (idx[j] - idx[i]) >= 4
    if not far.any():
        return float(np.median(np.diff(beats)))
    i, j = idx[i[far]], idx[j[far]]
    return float(np.median((beats[j] - beats[i]) / (j - i)))


def _extend_grid(beats: Array, *, span: float, n_frames: int, most: int = 4) -> Array:
    """Continue the beat grid by up to ``most`` beats towards each end of the audio.

    Flux needs a previous frame, so the very first onset of a track is invisible to it, and
    trimming may drop a soft first beat; without these beats the first downbeat, from which
    phrases are counted, would land a bar late.
    """
    head = beats[0] - span * np.arange(most, 0, -1)
    tail = beats[-1] + span * np.arange(1, most + 1)
    head, tail = head[head >= -0.5], tail[tail <= n_frames - 0.5]
    return np.concatenate([np.round(head), beats, np.round(tail)]).astype(np.int64)


def _downbeat_phase(*, beats: Array, onset: Array, onset_low: Array, chroma: Array) -> int:
    """Bar phase 0..3 (4/4 assumed) whose beats carry the most bass onset and chord change."""
    if beats.size < 8:
        return 0
    bounds = np.r_[beats, chroma.shape[0]]
    sync = np.add.reduceat(chroma, np.minimum(bounds[:-1], chroma.shape[0] - 1), axis=0)
    sync /= np.linalg.norm(sync, axis=1, keepdims=True) + 1e-10
    change = np.r_[0.0, 1.0 - np.sum(sync[1:] * sync[:-1], axis=1)]
    change[0] = change[1:].mean()

    def z(v: Array) -> Array:
        out: Array = (v - v.mean()) / (v.std() + 1e-10)
        return out

    evidence = (z(_beat_strength(onset_low, beats)) + 0.5 * z(_beat_strength(onset, beats))
                + z(change))
    return int(np.argmax([evidence[p::4].mean() for p in range(4)]))




def cue_candidates(
    *, beats: Array, first_downbeat: int, audible_start: float, audible_end: float,
    max_each: int = 8,
) -> list[Cue]:
    """Entry cues in the intro and exit cues in the outro, on phrase boundaries.

    A phrase boundary is a downbeat a multiple of 8 beats after the first downbeat; its
    ``phrase`` is 32, 16 or 8, the largest that divides that distance. The intro is the first
    half of the audible part, at most 90 s; the outro is the last half, at most 90 s. Exits
    need 8 more beats after them for the crossfade. Each side keeps its ``max_each`` best
    boundaries: longer phrases first, then those nearest the track's edge.

    Parameters
    ----------
    beats : np.ndarray
        Beat times in seconds.
    first_downbeat : int
        Index into ``beats`` of the first downbeat.
    audible_start, audible_end : float
        Seconds.

    Returns
    -------
    list of Cue
        Entries then exits, each in time order.
    """
    region = min(0.5 * (audible_end - audible_start), 90.0)
    idx = np.arange(first_downbeat, beats.size, 8)
    dist = idx - first_downbeat
    phrase = np.where(dist % 32 == 0, 32, np.where(dist % 16 == 0, 16, 8))
    t = beats[idx] if idx.size else np.zeros(0)
    entry = np.flatnonzero(t < audible_start + region)
    exits = np.flatnonzero((t >= audible_end - region) & (idx + 8 < beats.size))
    entry = entry[np.lexsort((t[entry], -phrase[entry]))][:max_each]
    exits = exits[np.lexsort((-t[exits], -phrase[exits]))][:max_each]
    def cue(kind: Literal["exit", "entry"], i: int) -> Cue:
        return Cue(kind=kind, time=float(t[i]), beat_index=int(idx[i]), phrase=int(phrase[i]))

    return [cue("entry", i) for i in np.sort(entry)] + [cue("exit", i) for i in np.sort(exits)]


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
    x = _channels(y)
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

    frames = _stft_pass(y=mono, sr=sr, n_fft=n_fft, hop_length=hop)
    mel_s = librosa.mel_frequencies(n_mels=_N_MELS + 2, fmax=sr / 2)[1:-1]
    onset = librosa.onset.onset_strength(S=frames.mel_db.T, sr=sr, hop_length=hop, n_fft=n_fft)
    low = int(np.searchsorted(mel_s, 200.0))
    lag_pad = 1 + n_fft // (2 * hop)
    accent = _amplitude_flux(frames.mel_amp, lag_pad=lag_pad)
    accent_low = _amplitude_flux(frames.mel_amp[:, :low], lag_pad=lag_pad)
    tempo, tempo_conf, beat_frames = track_beats(onset=onset, accent=accent, sr=sr,
                                                 hop_length=hop)
    phase = _downbeat_phase(beats=beat_frames, onset=accent, onset_low=accent_low,
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
    summary, names = _summary(frames, rms_db=rms_db)
    return Analysis(
        version=ANALYSIS_VERSION, duration=duration, audible_start=audible_start,
        audible_end=audible_end, tempo=tempo, tempo_confidence=tempo_conf,
        beats=beats.astype(np.float64), downbeats=beats[phase::4].astype(np.float64),
        key=key, mode=mode, key_confidence=key_conf, camelot=camelot(key, mode), lufs=lufs,
        loudness_curve=curve, loudness_hop=LOUDNESS_HOP_S, summary=summary, summary_names=names,
        cues=cues, chroma=profile.astype(np.float32), first_downbeat=phase if beats.size else 0,
    )
