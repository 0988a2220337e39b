"""The second training stage: the fine seam, on raw audio at the cuts.

Stage one (`ranking.train`) learns the towers and the coarse seam from log-mel windows. The fine
seam (`ranking.layers.FineSeam`) reads 16 ms windows every 5 ms right at the cut, which the
whole-track log-mel cache cannot give, so it is trained afterwards on audio windows cut from the
tracks' decoded audio (`TrackMel.audio`). Its loss is binary cross-entropy: the true continuation
against the same song elsewhere (weighted double, as that is where the coarse model is weakest),
a song of similar tempo and key, and another song. The towers are untouched, so retrieval does
not move; the fine logit joins the coarse one in the calibrated sum (`ranking.train`).

Deterministic under a seed: it draws from its own sampler and generators, so resuming stage one
and running this stage gives the same model as a run from scratch. Arrays in, no files.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from ranking.layers import FineSeam
from ranking.model import ContinuationNet
from ranking.pairs import PairBatch, PairSampler, TrackMel

__all__ = ["PRECISIONS", "audio_sampler", "autocast", "check_precision", "fine_logits",
           "fit_steps", "fresh_start", "train_fine_seam"]

# Training arithmetic: float32, or bfloat16 autocast (matmuls and convolutions in bfloat16 with
# float32 weights, optimiser and loss), which CPUs with AVX512-BF16 or AMX and recent GPUs run
# about 1.5 times as fast. Inference always runs in float32.
PRECISIONS = ("float32", "bfloat16")


def check_precision(precision: str) -> None:
    """Raise ValueError unless ``precision`` is one of `PRECISIONS`."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager[None]:
    """The context a training step's forward pass runs in under ``precision``."""
    check_precision(precision)
    if precision == "float32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


# Negative kinds and their loss weights.
_NEG_WEIGHTS = {"same": 2.0, "similar": 1.0, "easy": 1.0}


def _frames(fine: FineSeam, sampler: PairSampler, rows: np.ndarray,
            side: Literal["exit", "entry"], gain: np.ndarray | None,
            device: torch.device) -> torch.Tensor:
    cfg = fine.cfg
    y = sampler.audio_windows(rows, side=side, width=cfg.fine_samples, hop=cfg.hop)
    if gain is not None:  # the same random gain on both sides: loudness is relative
        y = y * gain[:, None].astype(np.float32)
    return fine.frames(torch.from_numpy(y).to(device))


def audio_sampler(net: ContinuationNet, tracks: Sequence[TrackMel], *, what: str,
                  min_gap_s: float, seed: int) -> PairSampler:
    """The seeded pair sampler of a stage trained on audio at the cuts (this one, and the
    learned tone term's); ``what`` names the stage in the error raised when a track carries no
    audio."""
    if any(t.audio is None for t in tracks if t.cuts.size):
        raise ValueError(f"{what} trains on audio: every training track needs `audio`")
    cfg = net.cfg
    return PairSampler(tracks, clip_hops=cfg.clip_hops, clip_frames=cfg.clip_frames,
                       hop_s=cfg.hop / cfg.sr, min_gap_s=min_gap_s, seed=seed)


def fresh_start(module: torch.nn.Module, seed: int) -> None:
    """Initialise ``module``'s weights from a generator of their own (PyTorch's default uniform
    for weights, zero biases), so a stage starts the same whatever ran before it."""
    gen = torch.Generator().manual_seed(seed)
    for p in module.parameters():
        if p.dim() > 1:
            torch.nn.init.kaiming_uniform_(p, a=5**0.5, generator=gen)
        else:
            torch.nn.init.zeros_(p)


def fit_steps(module: torch.nn.Module, step_loss: Callable[[], torch.Tensor], *, steps: int,
              lr: float, weight_decay: float,
              progress: Callable[[int, float], None] | None = None,
              precision: str = "float32") -> None:
    """Train ``module`` for ``steps`` steps of ``step_loss()`` (which draws its own batch): AdamW
    under a one-cycle schedule, gradients clipped to norm 5, as both audio stages (this one and
    the learned tone term's) train, each forward pass under ``autocast(precision)`` on the
    module's device. ``progress(step, loss)`` is called after every step."""
    opt = torch.optim.AdamW(module.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps,
                                                pct_start=0.1)
    module.train()
    device = next(module.parameters()).device
    for step in range(steps):
        with autocast(precision, device):
            loss = step_loss()
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_(module.parameters(), 5.0)
        opt.step()
        sched.step()
        if progress:
            progress(step + 1, float(loss.detach()))


def fine_logits(net: ContinuationNet, sampler: PairSampler, batch: PairBatch, kind: str,
                device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """Fine-seam logits (true continuations, negatives of ``kind`` where present)."""
    fine = net.fine
    assert fine is not None
    rows = batch.neg[kind]
    ok = rows[:, 0] >= 0
    with torch.inference_mode():
        tail = _frames(fine, sampler, batch.a, "exit", None, device)
        pos = fine(tail, _frames(fine, sampler, batch.b, "entry", None, device))
        neg = fine(tail[torch.from_numpy(ok).to(device)],
                   _frames(fine, sampler, rows[ok], "entry", None, device))
    return pos.cpu().numpy(), neg.cpu().numpy()


def train_fine_seam(net: ContinuationNet, tracks: Sequence[TrackMel], *, steps: int,
                    batch_size: int, lr: float, weight_decay: float, gain_jitter_db: float,
                    min_gap_s: float, seed: int, device: torch.device,
                    progress: Callable[[int, float], None] | None = None,
                    precision: str = "float32") -> None:
    """Fit ``net.fine`` (standardisation, then weights) on audio windows of ``tracks``.

    ``progress(step, loss)`` is called after every step.
    """
    fine = net.fine
    if fine is None:
        return
    sampler = audio_sampler(net, tracks, what="the fine seam", min_gap_s=min_gap_s,
                            seed=seed + 300)
    rng = np.random.default_rng(seed + 301)
    fresh_start(fine, seed + 302)  # independent of stage one's RNG use
    with torch.no_grad():
        fine.mean.fill_(0.0)
        fine.std.fill_(1.0)
        x = _frames(fine, sampler, sampler.sample(512).a, "exit", None, device)
        fine.mean.fill_(float(x.mean()))
        fine.std.fill_(float(x.std().clamp_min(1e-3)))
    def step_loss() -> torch.Tensor:
        batch = sampler.sample(batch_size)
        gain = 10 ** (rng.uniform(-gain_jitter_db, gain_jitter_db, size=batch_size) / 20)
        tail = _frames(fine, sampler, batch.a, "exit", gain, device)
        z_pos = fine(tail, _frames(fine, sampler, batch.b, "entry", gain, device))
        z_neg, weights = [], []
        for kind, w in _NEG_WEIGHTS.items():
            rows = batch.neg[kind]
            ok = rows[:, 0] >= 0
            if not ok.any():
                continue
            head = _frames(fine, sampler, rows[ok], "entry", gain[ok], device)
            z_neg.append(fine(tail[torch.from_numpy(ok).to(device)], head))
            weights.append(torch.full((int(ok.sum()),), w, device=device))
        zn, wn = torch.cat(z_neg), torch.cat(weights)
        return (F.binary_cross_entropy_with_logits(z_pos, torch.ones_like(z_pos))
                + (F.binary_cross_entropy_with_logits(zn, torch.zeros_like(zn),
                                                      reduction="none") * wn).sum() / wn.sum())

    fit_steps(fine, step_loss, steps=steps, lr=lr, weight_decay=weight_decay, progress=progress,
              precision=precision)
    fine.eval()
