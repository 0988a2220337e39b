"""Tempo and beats from an onset envelope: Ellis' (2007) dynamic-programming beat tracker.

`track_beats` picks the beat period from the onset autocorrelation between 100 and 200 BPM,
tracks beats at that period with a dynamic program vectorised in blocks of half a beat (so that
it needs no numba compilation), halves the metrical level when the tracked beats alternate
strong/weak, and takes the tempo from a Theil-Sen fit of the beat grid. `amplitude_flux` (the
level-preserving onset envelope) and `beat_strength` are shared with `radio.analysis` and the
downbeat finder in `radio.phrases`.

Frames in, frames out: beats are frame indices at ``sr / hop_length`` frames per second, and
`radio.analysis` turns them into seconds. This module never opens files, never decodes, never
touches the database or the network, and computes no spectrogram: it takes onset envelopes.
"""

from __future__ import annotations

import numpy as np
import scipy.fft
import scipy.ndimage
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["amplitude_flux", "beat_strength", "track_beats"]

Array = np.ndarray


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


def amplitude_flux(mel_amp: Array, *, lag_pad: int) -> Array:
    """Half-wave rectified flux of mel amplitudes, aligned like librosa's onset strength.

    Unlike the log-power flux used for tracking, it keeps level differences: a hi-hat 12 dB
    below the kick stays 4x weaker instead of looking like a loud onset out of silence. That is
    what the metrical-level and downbeat decisions need.
    """
    flux = np.maximum(np.diff(mel_amp, axis=0), 0.0).mean(axis=1)
    out: Array = np.r_[np.zeros(lag_pad), flux][: mel_amp.shape[0]]
    return out


def beat_strength(onset: Array, beats: Array) -> Array:
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
        s = beat_strength(acc, beats) + 0.05 * float(acc.mean() + 1e-10)
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
