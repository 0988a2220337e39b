"""The third training stage: the learned tone term, on audio at the cuts.

`ranking.layers.ToneNet` reads the tone spectra (`ranking.splice.tone_spectra`) of two 128 ms
windows each side of a cut. Those come from raw audio, not from the whole-track log-mel, so the
term is trained after the fine seam, on the tracks' decoded audio (`TrackMel.audio`). The
spectra of every cut are computed once, both sides, before the first step (`ToneBank`): 1,500
steps draw about 770,000 rows from the dev corpus's 200,000 cut sides, so computing them per
batch would repeat each almost four times.

Its loss is binary cross-entropy: the true continuation against the same song at least
``min_gap_s`` away and against another song, weighted alike, the recipe the seventh session
measured (BENCHMARKS.md); the similar-tempo-and-key negatives of the other stages were not
tried here. Nothing else in the model moves; its logit joins the calibrated sum
(`ranking.train`).

Deterministic under a seed: it draws from its own sampler and generators, so it gives the same
weights whether it runs after stage two or is added to a trained model (`ranking.train.extend`).
Arrays in, no files.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ranking import splice
from ranking.layers import ToneNet
from ranking.model import ContinuationNet
from ranking.pairs import PairSampler, TrackMel
from ranking.train_fine import audio_sampler, fit_steps, fresh_start

__all__ = ["ToneBank", "train_tone"]

_KINDS = ("same", "easy")


class ToneBank:
    """The tone spectra at every cut of a sampler's tracks, exit and entry side, as float16
    (n_cuts, windows, bins) per track; looked up by the sampler's rows."""

    def __init__(self, sampler: PairSampler, tone: ToneNet, spec: splice.Spec, *,
                 hop: int) -> None:
        self.sampler = sampler
        self.hop = hop
        self.shape = (tone.windows, tone.bins)
        width = spec.tone * spec.tone_windows
        self.exit: list[np.ndarray] = []
        self.entry: list[np.ndarray] = []
        for i, t in enumerate(sampler.tracks):
            track = np.full(t.cuts.size, i)
            # The sampler names B clips by their first frame, which is the cut, and A clips by
            # theirs, a clip before it.
            y = sampler.audio_windows(np.column_stack([track, t.cuts - sampler.clip_hops]),
                                      side="exit", width=width, hop=hop)
            self.exit.append(self._spectra(y, spec))
            y = sampler.audio_windows(np.column_stack([track, t.cuts]), side="entry",
                                      width=width, hop=hop)
            self.entry.append(self._spectra(y[:, ::-1], spec))  # the cut at the end

    def _spectra(self, y: np.ndarray, spec: splice.Spec) -> np.ndarray:
        return splice.tone_spectra(y, spec=spec).reshape(len(y), *self.shape).astype(np.float16)

    def __call__(self, rows: np.ndarray, side: str, device: torch.device) -> torch.Tensor:
        """Spectra (n, windows, bins) float32 for the sampler's ``rows`` (no -1 rows)."""
        store = self.exit if side == "exit" else self.entry
        out = np.empty((len(rows), *self.shape), dtype=np.float32)
        for r, (i, start) in enumerate(rows):
            cuts = self.sampler.tracks[i].cuts
            cut = int(start) + (self.sampler.clip_hops if side == "exit" else 0)
            out[r] = store[i][np.searchsorted(cuts, cut)]
        return torch.from_numpy(out).to(device)


def train_tone(net: ContinuationNet, tracks: Sequence[TrackMel], *, steps: int,
               batch_size: int, lr: float, weight_decay: float, min_gap_s: float, seed: int,
               device: torch.device,
               progress: Callable[[int, float], None] | None = None,
               precision: str = "float32") -> None:
    """Fit ``net.tone`` on the tone spectra at the cuts of ``tracks``, which must carry audio.

    ``progress(step, loss)`` is called after every step.
    """
    tone = net.tone
    if tone is None:
        return
    sampler = audio_sampler(net, tracks, what="the tone term", min_gap_s=min_gap_s,
                            seed=seed + 400)
    if any(np.any(np.diff(t.cuts) <= 0) for t in sampler.tracks):
        raise ValueError("cut points must rise strictly within each track")
    bank = ToneBank(sampler, tone, net.cfg.splice, hop=net.cfg.hop)
    fresh_start(tone, seed + 402)  # as for the fine seam

    def step_loss() -> torch.Tensor:
        batch = sampler.sample(batch_size)
        a = bank(batch.a, "exit", device)
        z = [tone(a, bank(batch.b, "entry", device))]
        for kind in _KINDS:
            ok = batch.neg[kind][:, 0] >= 0
            if ok.any():
                z.append(tone(a[torch.from_numpy(ok).to(device)],
                              bank(batch.neg[kind][ok], "entry", device)))
        logits = torch.cat(z)
        labels = torch.zeros_like(logits)
        labels[: len(z[0])] = 1.0
        return F.binary_cross_entropy_with_logits(logits, labels)

    fit_steps(tone, step_loss, steps=steps, lr=lr, weight_decay=weight_decay, progress=progress,
              precision=precision)
    tone.eval()
