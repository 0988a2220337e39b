"""Splice continuity: does the waveform run on across the cut, or is it a splice?

A true continuation carries the very same vibrations on past the cut; a clip from elsewhere,
even the same bar of the same song eight seconds later, starts them at another phase, and
most often with other notes. Linear prediction measures the first directly, in two ways, and
a fine-grained spectrum the second.

- **Closed loop** (``order``, ``window``, ``span``): a short-term predictor is fitted to A's
  last ``window`` samples. It then predicts B's first ``span`` samples from the samples before
  each of them, which are A's at first and then B's own. If B follows A, the prediction error
  stays at the level it had inside A; at a splice it jumps. This sees a break within a sample
  or two, wherever the signal is predictable sample to sample.
- **Reach** (``reach``, ``reach_order``, ``reach_window``): a longer predictor, fitted to a
  longer stretch of A, is run on alone past the cut (A's own continuation, no B samples fed
  back) for ``reach`` samples, and compared with what B actually starts with: the log of B's
  energy over the error. A true continuation is predicted from A; a splice is not. Where dense
  or noisy music drowns the one-sample break (drums and synths whose closed-loop error inside
  A is already high), the partials that A carries on still give it away over a few
  milliseconds.

Both predictors run backwards as well: from B's first samples, back in time into A's last ones.

- **Tone** (``tone``, ``tone_smooth``, ``tone_band``): which pitches sound on both sides. The
  log-magnitude spectrum of A's last ``tone`` samples and of B's first, at the FFT's full
  resolution (7.8 Hz bins for 128 ms at 16 kHz), has its spectral envelope (a running mean over
  ``tone_smooth`` bins) taken away and only what stands above it kept: the peaks, the partials
  of the notes sounding, not the timbre. The logit is the Fisher z of their correlation. A
  chord held over the cut keeps its partials; a clip from elsewhere, even the same
  instruments in the same key, has other notes ringing. Phase plays no part, so this still
  speaks where an onset right at the cut drowns the waveform's own continuation.

With ``tone_windows`` above 1, each clip also keeps the spectra of the next windows away
from the cut (``tone_windows`` in all, nearest first). The handcrafted tone logit reads only the
nearest; the learned tone term (`ranking.layers.ToneNet`) reads them all, to hear which notes
start, stop or carry on around the cut.

The two closed-loop logits (four with reach, and one more with tone) are the splice features
of a pair. They carry no learned weights. The model (`ranking.model`) adds them to its
re-ranker's logit with weights fitted by the same logistic calibration as the other terms, so
their share of the probability is learned on held-out pairs. On their own they are a
no-learning reference in `ranking.evaluate`.

Per clip, only the results are kept (`clip_features`): the closed-loop predictor, its
in-window error, the samples at the cut, the reach continuation and the tone spectrum; pairs
then score from stored rows (`pair_logits`), like the seam frames. Arrays in, arrays out: no
torch, no files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.signal
from numpy.lib.stride_tricks import sliding_window_view
from scipy.ndimage import uniform_filter1d

__all__ = ["Spec", "clip_features", "extrapolate", "pair_logits", "tone_spectra"]

# Error energies are floored at roughly 16-bit quantisation noise (full scale 1.0): below it,
# silence and near-silence would make the ratios arbitrary.
_FLOOR = 1e-10
# Bound on each log ratio (natural log, about 52 dB): one gross splice should not outweigh
# everything else the re-ranker knows.
_BOUND = 12.0


@dataclass(frozen=True)
class Spec:
    """The splice term's settings, all in samples at the model's rate (`ranking.model.
    ModelConfig` keeps them as its ``splice_*`` fields)."""

    order: int  # closed-loop predictor order
    window: int  # samples it is fitted to
    span: int  # samples across the cut its error is measured over
    reach: int = 0  # samples the reach predictor runs on past the cut; 0: no reach logits
    reach_order: int = 64
    reach_window: int = 1024
    tone: int = 0  # samples each side whose spectra are compared; 0: no tone logit
    tone_smooth: int = 33  # bins of the running mean taken as the spectral envelope
    tone_band: tuple[int, int] = (0, 0)  # FFT bins [lo, hi) compared
    tone_windows: int = 1  # consecutive ``tone`` windows whose spectra are kept, nearest first

    @property
    def tone_bins(self) -> int:
        """Length of one window's tone spectrum (0 without the tone logit)."""
        return self.tone_band[1] - self.tone_band[0] if self.tone else 0

    @property
    def width(self) -> int:
        """Samples of audio next to the cut that one clip's features read."""
        return max(self.window, self.reach_window if self.reach else 0,
                   self.tone * self.tone_windows)

    @property
    def edge(self) -> int:
        """Samples nearest the cut kept per clip: a history for the closed loop, and what the
        other side's predictors are compared with."""
        return max(self.order, self.span, self.reach)

    @property
    def size(self) -> int:
        """Length of one clip's features: predictor, log error, edge samples, reach, tone
        spectra."""
        return self.order + 1 + self.edge + self.reach + self.tone_bins * self.tone_windows

    @property
    def n_logits(self) -> int:
        """Logits per pair: closed loop forward and backward, reach likewise, then tone."""
        return 2 + (2 if self.reach else 0) + (1 if self.tone else 0)


def _levinson(r: np.ndarray, order: int) -> np.ndarray:
    """Rows of autocorrelations (n, >= order + 1) -> prediction-error filters (n, order + 1)
    with a[:, 0] = 1, so that e[t] = sum_j a[j] x[t - j] (Levinson-Durbin, batched)."""
    n = r.shape[0]
    a = np.zeros((n, order + 1))
    a[:, 0] = 1.0
    err = r[:, 0].copy()
    for i in range(1, order + 1):
        acc = r[:, i] + np.einsum("nj,nj->n", a[:, 1:i], r[:, i - 1 : 0 : -1])
        k = -acc / err
        a[:, 1:i] = a[:, 1:i] + k[:, None] * a[:, i - 1 : 0 : -1]
        a[:, i] = k
        err = err * (1.0 - k * k)
    return a


def _predictor(x: np.ndarray, order: int) -> np.ndarray:
    """Prediction-error filters (n, order + 1) fitted to rows of ``x`` (n, samples): Hann
    window, autocorrelation, Levinson-Durbin (the autocorrelation method: minimum phase)."""
    w = x * np.hanning(x.shape[1])
    spec = np.fft.rfft(w, n=2 * x.shape[1], axis=1)
    r = np.fft.irfft(spec.real ** 2 + spec.imag ** 2, axis=1)[:, : order + 1]
    r[:, 0] = r[:, 0] * (1.0 + 1e-6) + _FLOOR  # white-noise correction keeps it well posed
    return _levinson(r, order)


def _residual_energy(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Mean squared prediction error of each row of ``x`` under its filter in ``a``, over the
    positions that have a full history inside the row."""
    order = a.shape[1] - 1
    win = sliding_window_view(x, order + 1, axis=1)  # (n, t, order + 1), oldest sample first
    e = np.einsum("ntj,nj->nt", win, a[:, ::-1])
    out: np.ndarray = np.mean(e * e, axis=1)
    return out


def _continue(x: np.ndarray, a: np.ndarray, count: int) -> np.ndarray:
    """Run each row's predictor in ``a`` on alone for ``count`` samples past the end of its row
    of ``x`` (no new input): (n, count), nearest the end first."""
    order = a.shape[1] - 1
    out = np.empty((len(x), count))
    for i in range(len(x)):
        zi = scipy.signal.lfiltic([1.0], a[i], x[i, ::-1][:order])
        out[i] = scipy.signal.lfilter([1.0], a[i], np.zeros(count), zi=zi)[0]
    return out


def _tone_spectrum(x: np.ndarray, spec: Spec) -> np.ndarray:
    """Rows of audio (n, ``spec.tone``), the cut at the end -> (n, ``spec.tone_bins``): the
    log-magnitude spectrum's peaks above its envelope, centred and L2-normalised (zeros for
    silence, which has no partials)."""
    lo, hi = spec.tone_band
    mag = np.abs(np.fft.rfft(x * np.hanning(x.shape[1]), axis=1))[:, lo:hi]
    logmag = np.log(mag + 1e-4)  # about -80 dB of a full-scale sine's peak: below, no partial
    peaks = np.maximum(logmag - uniform_filter1d(logmag, spec.tone_smooth, axis=1,
                                                 mode="nearest"), 0.0)
    peaks -= peaks.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(peaks, axis=1, keepdims=True)
    out: np.ndarray = np.divide(peaks, norm, out=np.zeros_like(peaks), where=norm > 1e-6)
    return out


def tone_spectra(y: np.ndarray, *, spec: Spec) -> np.ndarray:
    """The tone spectra of ``spec.tone_windows`` consecutive windows of ``spec.tone`` samples
    each, nearest the cut first: rows of audio (n, >= ``spec.tone * spec.tone_windows``), the cut
    at the end (entries time reversed, as in `clip_features`) -> (n, windows * tone_bins)."""
    x = np.asarray(y, dtype=np.float64)
    n, w = spec.tone, spec.tone_windows
    lo, hi = spec.tone_band
    if not 0 <= lo < hi <= n // 2 + 1:
        raise ValueError(f"tone band {spec.tone_band} lies outside a {n}-point spectrum")
    if x.ndim != 2 or x.shape[1] < n * w:
        raise ValueError(f"tone spectra need (n, >= {n * w}) samples, got {x.shape}")
    parts = [_tone_spectrum(x[:, x.shape[1] - (k + 1) * n : x.shape[1] - k * n], spec)
             for k in range(w)]
    return np.concatenate(parts, axis=1)


def clip_features(y: np.ndarray, *, side: Literal["exit", "entry"], spec: Spec) -> np.ndarray:
    """Splice features of clips at their cut: (n, ``spec.size``) float32.

    Parameters
    ----------
    y : np.ndarray
        (n, >= ``spec.width``) float audio at the model's rate: A's last samples
        (``side="exit"``) or B's first (``"entry"``), time running forward; the predictors
        read the ``window`` and ``reach_window`` samples nearest the cut, the tone spectrum
        the ``tone`` nearest it.
    side : {"exit", "entry"}
        Which side of the cut the rows lie on.
    spec : Spec
        Predictor orders and windows, the spans compared across the cut, and the tone's
        window and band.

    Returns
    -------
    np.ndarray
        Per row: the closed-loop predictor's coefficients a[1..order] (run forward for exits,
        backward in time for entries), the log mean squared error it leaves inside its window,
        the ``spec.edge`` samples nearest the cut, nearest last (time reversed for entries),
        then the reach predictor's ``spec.reach`` samples past the cut, nearest first, then
        the tone spectra of the ``spec.tone_windows`` windows of ``spec.tone`` samples nearest
        the cut (`tone_spectra`).
    """
    x = np.asarray(y, dtype=np.float64)
    if side == "entry":
        x = x[:, ::-1]  # predict backwards in time: the cut is at the end either way
    short = spec.window <= 2 * spec.order or bool(spec.reach and
                                                  spec.reach_window <= 2 * spec.reach_order)
    if x.ndim != 2 or x.shape[1] < spec.width or short:
        raise ValueError(f"splice features need (n, >= {spec.width}) samples and windows "
                         f"over twice their orders, got {x.shape} for {spec}")
    near = x[:, -spec.window :]
    a = _predictor(near, spec.order)
    inside = np.log(_residual_energy(a, near) + _FLOOR)
    parts = [a[:, 1:], inside[:, None], x[:, -spec.edge :]]
    if spec.reach:
        far = x[:, -spec.reach_window :]
        parts.append(_continue(far, _predictor(far, spec.reach_order), spec.reach))
    if spec.tone:
        parts.append(tone_spectra(x, spec=spec))
    return np.concatenate(parts, axis=1).astype(np.float32)


def pair_logits(exit_f: np.ndarray, entry_f: np.ndarray, *, spec: Spec) -> np.ndarray:
    """(n, ``spec.n_logits``) splice logits of paired rows of `clip_features`.

    Closed loop: minus the log ratio of the prediction error across the cut to that inside the
    clip, forward (A's predictor into B) and backward (B's predictor into A); near 0 for a true
    continuation, negative at a splice. Reach: the log ratio of the other side's energy over the
    reach predictor's error on it, forward and backward; positive where A's continuation
    foretells B, 0 or below at a splice. Tone: the Fisher z of the correlation of the two tone
    spectra nearest the cut, high where the same partials ring on both sides, near 0 for
    unrelated notes (and exactly 0 next to silence).
    """
    fa = exit_f.astype(np.float64)
    fb = entry_f.astype(np.float64)
    order, span, reach = spec.order, spec.span, spec.reach
    edge = slice(order + 1, order + 1 + spec.edge)
    end = order + 1 + spec.edge + reach  # where the reach continuation ends
    ones = np.ones((len(fa), 1))
    out = np.empty((len(fa), spec.n_logits))
    for col, (own, other) in enumerate(((fa, fb), (fb, fa))):
        a = np.concatenate([ones, own[:, :order]], axis=1)
        before = own[:, edge][:, -order:]  # the `order` samples nearest the cut
        after = other[:, edge][:, ::-1]  # the far side, nearest first
        across = _residual_energy(a, np.concatenate([before, after[:, :span]], axis=1))
        out[:, col] = own[:, order] - np.log(across + _FLOOR)
        if reach:
            guess = own[:, end - reach : end]
            actual = after[:, :reach]
            out[:, 2 + col] = (np.log(np.mean(actual * actual, axis=1) + _FLOOR)
                               - np.log(np.mean((actual - guess) ** 2, axis=1) + _FLOOR))
    if spec.tone:
        near = slice(end, end + spec.tone_bins)
        r = np.einsum("ij,ij->i", fa[:, near], fb[:, near])
        out[:, -1] = np.arctanh(np.clip(r, -0.999, 0.999))
    bounded: np.ndarray = np.clip(out, -_BOUND, _BOUND)
    return bounded


def extrapolate(y: np.ndarray, *, count: int, order: int = 32, window: int = 1024) -> np.ndarray:
    """Continue a 1-D signal ``count`` samples past its end by linear prediction.

    A resampler needs samples beyond a clip's edge; at a cut there are none, and the zeros it
    assumes instead bend the last milliseconds, which are exactly what the splice term and the
    fine seam read. Predicted samples stand in for the missing ones (the predictor is fitted to
    the last ``window`` samples and is minimum phase, so the continuation decays rather than
    grows). Returns float32 of ``count`` samples.
    """
    x = np.asarray(y, dtype=np.float64)[-window:]
    if count <= 0 or x.size <= 2 * order:
        return np.zeros(max(count, 0), dtype=np.float32)
    out: np.ndarray = _continue(x[None], _predictor(x[None], order), count)[0]
    return out.astype(np.float32)
