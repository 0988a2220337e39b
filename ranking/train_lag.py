"""The fourth training stage: the lag term, on the tracks' log-mel.

`ranking.layers.LagNet` reads how the music repeats itself at lags of up to 3.2 s on either
side of a cut (`ranking.layers.lag_matrix`), from the log-mel frames of A and of B's start, in
dB. Each step draws anchors with their true continuation and one negative of each kind (the
same song at least ``min_gap_s`` away, a song of similar tempo and key, any other song), and
the loss is the cross-entropy of picking the true continuation among them plus the binary
cross-entropy of each pair on its own, so the logit both ranks and separates. The same song
elsewhere is the negative this term is for: it sounds alike, but lies elsewhere in its bars.
Nothing else in the model moves; its logit joins the calibrated sum (`ranking.train`).

Deterministic under a seed: it draws from its own sampler and generators, so it gives the same
weights whether it runs after stage three or is added to a trained model (`ranking.train.extend`).
Arrays in, no files.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ranking.model import ContinuationNet
from ranking.pairs import PairSampler, TrackMel
from ranking.train_fine import fit_steps, fresh_start

__all__ = ["train_lag"]

_KINDS = ("same", "similar", "easy")


def train_lag(net: ContinuationNet, tracks: Sequence[TrackMel], *, steps: int,
              batch_size: int, lr: float, weight_decay: float, min_gap_s: float, seed: int,
              device: torch.device,
              progress: Callable[[int, float], None] | None = None,
              precision: str = "float32") -> None:
    """Fit ``net.lag`` on the log-mel (in dB) at the cuts of ``tracks``.

    ``progress(step, loss)`` is called after every step.
    """
    lag = net.lag
    if lag is None:
        return
    cfg = net.cfg
    sampler = PairSampler(tracks, clip_hops=cfg.clip_hops, clip_frames=cfg.clip_frames,
                          hop_s=cfg.hop / cfg.sr, min_gap_s=min_gap_s, seed=seed + 600)
    fresh_start(lag, seed + 602)  # as for the fine seam

    def frames(rows: np.ndarray, width: int) -> torch.Tensor:
        return torch.from_numpy(sampler.windows(rows)[..., :width]).to(device)

    def step_loss() -> torch.Tensor:
        batch = sampler.sample(batch_size)
        cands = [batch.b, *(batch.neg[kind] for kind in _KINDS)]
        valid = torch.from_numpy(np.stack([c[:, 0] >= 0 for c in cands], 1)).to(device)
        tail = frames(batch.a, cfg.clip_frames)
        head = torch.cat([frames(c, cfg.lag_after) for c in cands])
        z = lag(tail.repeat(len(cands), 1, 1), head).float().view(len(cands), -1).T
        labels = torch.zeros_like(z)
        labels[:, 0] = 1.0
        pick = F.cross_entropy(z.masked_fill(~valid, -1e4),
                               torch.zeros(len(z), dtype=torch.long, device=device))
        return pick + F.binary_cross_entropy_with_logits(z[valid], labels[valid])

    fit_steps(lag, step_loss, steps=steps, lr=lr, weight_decay=weight_decay, progress=progress,
              precision=precision)
    lag.eval()
