"""Splice continuity: does the waveform run on across the cut, or is it a splice?

A true continuation carries the very same vibrations on past the cut; a clip from elsewhere,
even the same bar of the same song eight seconds later, starts them at another phase. Linear
prediction measures this directly. A short-term predictor (order ``order``) is fitted to A's
last ``window`` samples. It then predicts B's first ``span`` samples from the samples before
each of them, which are A's at first and then B's own. If B follows A, the prediction error
stays at the level it had inside A; at a splice it jumps. The same runs backwards: a predictor
fitted to B's first samples, run back in time into A's last ones.

The two log error ratios are the splice features of a pair. They carry no learned weights.
The model (`ranking.model`) adds them to its re-ranker's logit with weights fitted by the same
logistic calibration as the other terms, so their share of the probability is learned on
held-out pairs. On their own they are a no-learning reference in `ranking.evaluate`.

Per clip, only the predictor, its in-window error and the samples at the cut are kept
(`clip_features`), so pairs score from stored rows (`pair_logits`), like the seam frames.
Arrays in, arrays out: no torch, no files.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["clip_features", "extrapolate", "feature_size", "pair_logits"]

# Error energies are floored at roughly 16-bit quantisation noise (full scale 1.0): below it,
# silence and near-silence would make the ratios arbitrary.
_FLOOR = 1e-10
# Bound on each log ratio (natural log, about 52 dB): one gross splice should not outweigh
# everything else the re-ranker knows.
_BOUND = 12.0


def feature_size(*, order: int, span: int) -> int:
    """Length of one clip's splice features: predictor, log error, edge samples."""
    return order + 1 + max(order, span)


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


def clip_features(y: np.ndarray, *, side: Literal["exit", "entry"], order: int,
                  span: int) -> np.ndarray:
    """Splice features of clips at their cut: (n, `feature_size`) float32.

    Parameters
    ----------
    y : np.ndarray
        (n, window) float audio at the model's rate: A's last samples (``side="exit"``) or B's
        first (``"entry"``), time running forward; window > 2 * order.
    side : {"exit", "entry"}
        Which side of the cut the rows lie on.
    order : int
        Predictor order, in samples.
    span : int
        Samples either side of the cut the junction error is measured over.

    Returns
    -------
    np.ndarray
        Per row: the predictor's coefficients a[1..order] (run forward for exits, backward in
        time for entries), the log mean squared error it leaves inside the window, then the
        max(order, span) samples nearest the cut, nearest last (time reversed for entries).
    """
    x = np.asarray(y, dtype=np.float64)
    if side == "entry":
        x = x[:, ::-1]  # predict backwards in time: the cut is at the end either way
    if x.ndim != 2 or x.shape[1] <= 2 * order:
        raise ValueError(f"splice features need (n, > {2 * order}) samples, got {x.shape}")
    a = _predictor(x, order)
    inside = np.log(_residual_energy(a, x) + _FLOOR)
    edge = x[:, -max(order, span) :]
    return np.concatenate([a[:, 1:], inside[:, None], edge], axis=1).astype(np.float32)


def pair_logits(exit_f: np.ndarray, entry_f: np.ndarray, *, order: int,
                span: int) -> np.ndarray:
    """(n, 2) splice logits of paired rows of `clip_features`: minus the log ratio of the
    prediction error across the cut to that inside the clip, forward (A's predictor into B)
    and backward (B's predictor into A); near 0 for a true continuation, negative at a splice."""
    fa = exit_f.astype(np.float64)
    fb = entry_f.astype(np.float64)
    ones = np.ones((len(fa), 1))
    out = np.empty((len(fa), 2))
    for col, (own, other) in enumerate(((fa, fb), (fb, fa))):
        a = np.concatenate([ones, own[:, :order]], axis=1)
        before = own[:, -order:]  # the `order` samples nearest the cut
        after = other[:, order + 1 :][:, ::-1][:, :span]  # the far side, nearest first
        across = _residual_energy(a, np.concatenate([before, after], axis=1))
        out[:, col] = own[:, order] - np.log(across + _FLOOR)
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
    import scipy.signal

    x = np.asarray(y, dtype=np.float64)[-window:]
    if count <= 0 or x.size <= 2 * order:
        return np.zeros(max(count, 0), dtype=np.float32)
    a = _predictor(x[None], order)[0]
    zi = scipy.signal.lfiltic([1.0], a, x[::-1][:order])
    out, _ = scipy.signal.lfilter([1.0], a, np.zeros(count), zi=zi)
    return np.asarray(out, dtype=np.float32)
