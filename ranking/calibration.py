"""Calibration: the logistic fits that make the model's probabilities mean what they say.

After training, pairs are drawn from validation tracks (as many negatives as positives, half
from other songs and half from the same song elsewhere) and every term the model has is
scored on them: the towers' inner product, the coarse and fine seams, the splice continuity
logits, the learned tone logit and the lag logit. `calibrate` fits the two-tower (scale, bias)
by Platt scaling; `calibrate_multi` fits the re-ranker's sum of terms as one logistic
regression; `calibrate_net` does both in place on a net. `Batcher` turns sampled log-mel
windows into the net's standardised input, as training's steps do too.

Draws come from the sampler passed in, so the result is fixed by its seed. Inputs are arrays
(`ranking.pairs.TrackMel`), never files.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from ranking import splice
from ranking.model import ContinuationNet
from ranking.pairs import PairBatch, PairSampler
from ranking.train_fine import fine_logits

__all__ = ["Batcher", "calibrate", "calibrate_multi", "calibrate_net", "pair_scores"]


class Batcher:
    """Turns sampled frame windows into standardised tensors on the device."""

    def __init__(self, net: ContinuationNet, device: torch.device) -> None:
        self.mean = net.logmel.mean.to(device)
        self.std = net.logmel.std.to(device)
        self.device = device

    def __call__(self, x: np.ndarray, gain_db: np.ndarray | None = None) -> torch.Tensor:
        t = torch.from_numpy(x).to(self.device)
        if gain_db is not None:
            t = t + torch.from_numpy(gain_db.astype(np.float32)).to(self.device)[:, None, None]
        return (t - self.mean) / self.std


def pair_scores(net: ContinuationNet, sampler: PairSampler, batcher: Batcher, n: int,
                 kind: str, *, audio: bool = False) -> dict[str, np.ndarray]:
    """For n positives and n negatives of ``kind``: tower inner products (``dot``), coarse seam
    logits (``seam``) and, with ``audio``, the terms read from audio at the cut: fine seam
    logits (``fine``), splice logits (``splice``, 2 to 5 columns) and learned tone logits
    (``tone``), and lag logits (``lag``, from the log-mel), where the model has them; each as
    ``(pos, neg)`` arrays under ``KEY_pos`` / ``KEY_neg``."""
    out: dict[str, list[np.ndarray]] = {}

    def add(key: str, pos: torch.Tensor | np.ndarray, neg: torch.Tensor | np.ndarray) -> None:
        for side, v in (("pos", pos), ("neg", neg)):
            arr = v.cpu().numpy() if isinstance(v, torch.Tensor) else v
            out.setdefault(f"{key}_{side}", []).append(arr)

    net.eval()
    with torch.inference_mode():
        done = 0
        while done < n:
            m = min(128, n - done)
            batch = sampler.sample(m)
            rows = batch.neg[kind]
            ok = torch.from_numpy(rows[:, 0] >= 0)
            raw_a, raw_b, raw_n = (sampler.windows(r) for r in (batch.a, batch.b, rows))
            mel_a, mel_b, mel_n = batcher(raw_a), batcher(raw_b), batcher(raw_n)
            e_a = net.embed_exit_mel(mel_a)
            pos = (e_a * net.embed_entry_mel(mel_b)).sum(1)
            neg = (e_a * net.embed_entry_mel(mel_n)).sum(1)
            add("dot", pos, neg[ok.to(neg.device)])
            if net.seam is not None:
                add("seam", net.seam_logit(pos, mel_a, mel_b),
                    net.seam_logit(neg, mel_a, mel_n)[ok.to(neg.device)])
            if net.lag is not None:  # in dB, as it is trained
                db_a, db_b, db_n = (torch.from_numpy(r).to(batcher.device)
                                    for r in (raw_a, raw_b, raw_n))
                add("lag", net.lag(db_a, db_b), net.lag(db_a, db_n)[ok.to(neg.device)])
            if audio and net.fine is not None:
                add("fine", *fine_logits(net, sampler, batch, kind, batcher.device))
            if audio and net.cfg.splice_size:
                for key, (p, q) in _splice_terms(net, sampler, batch, kind).items():
                    add(key, p, q)
            done += m
    return {k: np.concatenate(v) for k, v in out.items()}



def _splice_terms(net: ContinuationNet, sampler: PairSampler, batch: PairBatch,
                  kind: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Splice logits (n, ``cfg.splice.n_logits``), and learned tone logits where the model has
    them, of true continuations and of negatives of ``kind`` where present, from the audio at
    the cuts: ``{"splice": (pos, neg), "tone": (pos, neg)}``."""
    cfg = net.cfg
    rows = batch.neg[kind]
    ok = rows[:, 0] >= 0

    def feats(r: np.ndarray, side: Literal["exit", "entry"]) -> np.ndarray:
        y = sampler.audio_windows(r, side=side, width=cfg.splice.width, hop=cfg.hop)
        return splice.clip_features(y, side=side, spec=cfg.splice)

    tail, head, other = feats(batch.a, "exit"), feats(batch.b, "entry"), feats(rows[ok], "entry")
    out = {"splice": (splice.pair_logits(tail, head, spec=cfg.splice),
                      splice.pair_logits(tail[ok], other, spec=cfg.splice))}
    if net.tone is not None:
        out["tone"] = (net.tone.from_features(tail, head),
                       net.tone.from_features(tail[ok], other))
    return out



def calibrate(dots: np.ndarray, labels: np.ndarray, *,
              init_scale: float = 10.0) -> tuple[float, float]:
    """Platt scaling: (scale, bias) minimising log loss of sigmoid(scale * dot + bias)."""
    w, b = calibrate_multi(dots[:, None], labels, init=(init_scale,))
    return float(w[0]), b


def calibrate_multi(x: np.ndarray, labels: np.ndarray, *,
                    init: Sequence[float]) -> tuple[np.ndarray, float]:
    """Logistic regression of labels on the columns of ``x`` (n, k): (weights (k,), bias),
    minimising log loss of sigmoid(x @ weights + bias); Platt scaling when k = 1."""
    xt = torch.from_numpy(np.asarray(x, dtype=np.float64))
    y = torch.from_numpy(labels.astype(np.float64))
    w = torch.tensor(list(init), dtype=torch.float64, requires_grad=True)
    b = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(xt @ w + b, y)
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    opt.step(closure)  # type: ignore[no-untyped-call]
    return w.detach().numpy().copy(), float(b.detach())



def calibrate_net(net: ContinuationNet, sampler: PairSampler, batcher: Batcher,
                   n: int) -> tuple[float, float]:
    """Platt calibration on validation tracks, in place: as many negatives as positives, half
    from other songs and half from the same song elsewhere (the mix `ranking.evaluate`
    measures ECE on). The two-tower (scale, bias) first; then the re-ranker's sum
    a * seam + b (+ c * fine) (+ d . splice) (+ e * tone) (+ g * lag) as one logistic
    regression. Returns the two-tower pair."""
    use_fine = net.fine is not None
    use_splice = net.cfg.splice_size > 0
    easy = pair_scores(net, sampler, batcher, n // 2, "easy", audio=use_fine or use_splice)
    same = pair_scores(net, sampler, batcher, n // 2, "same", audio=use_fine or use_splice)

    def col(key: str) -> np.ndarray:
        return np.concatenate([easy[f"{key}_pos"], same[f"{key}_pos"],
                               easy[f"{key}_neg"], same[f"{key}_neg"]])

    n_pos = len(easy["dot_pos"]) + len(same["dot_pos"])
    n_neg = len(easy["dot_neg"]) + len(same["dot_neg"])
    labels = np.concatenate([np.ones(n_pos), np.zeros(n_neg)])
    scale, bias = calibrate(col("dot"), labels)
    with torch.no_grad():
        net.log_scale.copy_(torch.tensor(float(np.log(max(scale, 1e-3)))))
        net.bias.copy_(torch.tensor(bias))
        if net.seam is not None:
            cols = [col("seam")[:, None]] + ([col("fine")[:, None]] if use_fine else [])
            cols += [col("splice")] if use_splice else []
            cols += [col("tone")[:, None]] if net.tone is not None else []
            cols += [col("lag")[:, None]] if net.lag is not None else []
            x = np.concatenate(cols, 1)
            w, b = calibrate_multi(x, labels, init=(1.0,) * x.shape[1])
            net.seam_cal.copy_(torch.tensor([float(w[0]), b]))
            if use_fine:
                net.fine_cal.copy_(torch.tensor([float(w[1])]))
            if use_splice:
                start = 2 if use_fine else 1
                d = w[start : start + net.cfg.splice.n_logits]
                net.splice_cal.copy_(torch.from_numpy(d.astype(np.float32)))
            if net.tone is not None:
                at = 1 + use_fine + (net.cfg.splice.n_logits if use_splice else 0)
                net.tone_cal.copy_(torch.tensor([float(w[at])]))
            if net.lag is not None:
                net.lag_cal.copy_(torch.tensor([float(w[-1])]))
    return scale, bias

