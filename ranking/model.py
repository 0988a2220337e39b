"""The continuation model: P(clip B follows clip A), as two towers over log-mel spectrograms.

A is the audio just before a cut and B the audio just after. The exit tower embeds A, the entry
tower embeds B, both as L2-normalised vectors, and

    P(B follows A) = sigmoid(scale * <e_A, e_B> + bias)

so that a FAISS inner-product search over entry vectors retrieves the best continuations of an
exit. ``scale`` and ``bias`` are fitted after training on held-out pairs (Platt calibration), so
the probabilities mean something.

The front end (`LogMel`) is shared by training and inference: training slices the log-mel of a
whole track at hop-aligned cut points; inference computes the log-mel of each clip. Each tower
is a dilated 1-D convolution stack over time, pooled over windows at increasing distance from
the cut (`ranking.layers`).

A pairwise re-ranker refines chosen pairs (the towers alone retrieve): a 2-D CNN over the coarse
log-mel frames either side of the cut (`Seam`), and a second one over 16 ms windows every 5 ms
right at the cut (`FineSeam`), which sees what rings on or stops at the cut itself, where the
coarse frames blur it. A third term has no weights of its own: splice continuity
(`ranking.splice`), which asks whether the waveform itself runs on across the cut, as only a
true continuation's does (closed-loop prediction across the cut and the reach of A's own
continuation into B, each forward and backward in time, and whether the same partials ring on
both sides: five logits). A fourth, `ToneNet`, learns from the tone spectra of two windows
each side which notes start, stop or ring on around the cut. A fifth, `LagNet`, reads how the
music repeats itself at lags of up to 3.2 s either side of the cut: B must carry on A's bars,
not start elsewhere in them. All the logits (the coarse one includes the towers' inner product)
are summed under one logistic calibration fitted on held-out pairs.

This file holds the net (`ContinuationNet`) and its config; its building blocks are in
`ranking.layers`, its public face (`ContinuationModel`: load, embed, score) in
`ranking.inference`, its training in `ranking.train`. It never imports `radio` or `server`,
and never opens audio files.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ranking import splice
from ranking.layers import FineSeam, LagNet, LogMel, Seam, ToneNet, Tower

__all__ = ["CALIBRATION_STATE", "ContinuationNet", "ModelConfig", "save_checkpoint"]

# The net's state that calibration (`ranking.train.recalibrate`) rewrites. Embeddings do not
# depend on it: the towers' vectors are L2-normalised before scale and bias apply.
CALIBRATION_STATE = frozenset({"log_scale", "bias", "seam_cal", "fine_cal", "splice_cal",
                               "tone_cal", "lag_cal"})


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild the model; saved inside every checkpoint."""

    sr: int = 16000  # Hz, the model's sample rate
    n_fft: int = 1024  # samples (64 ms)
    hop: int = 320  # samples (20 ms)
    n_mels: int = 64
    fmin: float = 30.0
    fmax: float = 8000.0
    clip_hops: int = 200  # clip length in hops: 200 x 20 ms = 4.0 s
    channels: int = 128
    dim: int = 128  # embedding size
    # Pooling windows, in frames counted from the cut: [0,2), [2,6), [6,18), [18,50), [50,end).
    pool_edges: tuple[int, ...] = (0, 2, 6, 18, 50)
    dropout: float = 0.1
    # The seam re-ranker sees the last/first ``seam_frames`` frames of A/B side by side;
    # 0 turns it off (the two-tower score alone).
    seam_frames: int = 12
    seam_channels: int = 32
    # The fine seam looks at the raw audio right at the cut in short windows: ``fine_frames``
    # frames of ``fine_n_fft`` samples every ``fine_hop`` on each side (30 x 5 ms = 150 ms of
    # 16 ms windows by default); 0 turns it off. It needs the seam re-ranker.
    fine_frames: int = 30
    fine_n_fft: int = 256
    fine_hop: int = 80
    fine_mels: int = 48
    fine_fmin: float = 60.0
    fine_channels: int = 32
    # Splice continuity (`ranking.splice`): a linear predictor of order ``splice_order`` fitted
    # to ``splice_window`` samples at the cut, its error measured over ``splice_span`` samples
    # across it; and one of order ``splice_reach_order`` fitted to ``splice_reach_window``
    # samples, run on alone for ``splice_reach`` samples past the cut; and the tone spectra
    # (peaks above the envelope, ``splice_tone_fmin``-``splice_tone_fmax`` Hz) of
    # ``splice_tone`` samples each side. No weights of their own, only a calibrated share of
    # the logit. ``splice_order`` 0 turns the term off, ``splice_reach`` 0 its reach and
    # ``splice_tone`` 0 its tone. It needs the seam re-ranker.
    splice_order: int = 32
    splice_window: int = 512
    splice_span: int = 8
    splice_reach: int = 32
    splice_reach_order: int = 64
    splice_reach_window: int = 1024
    splice_tone: int = 2048  # 128 ms: 7.8 Hz bins
    splice_tone_smooth: int = 33  # bins (258 Hz) of the spectral envelope's running mean
    splice_tone_fmin: float = 50.0
    splice_tone_fmax: float = 5000.0
    # The learned tone term (`ToneNet`) reads the tone spectra of ``tone_windows`` windows of
    # ``splice_tone`` samples each side of the cut (2 x 128 ms by default), with
    # ``tone_channels`` channels; 0 turns it off. It needs the splice term's tone.
    tone_channels: int = 24
    tone_windows: int = 2
    # The lag term (`LagNet`) reads how the music repeats itself at ``lag_lags`` lags (frames)
    # over ``lag_before`` frames before the cut and ``lag_after`` after it, with
    # ``lag_channels`` channels; 0 turns it off. It needs the seam re-ranker.
    lag_channels: int = 16
    lag_lags: int = 160
    lag_before: int = 40
    lag_after: int = 80

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        """Rebuild from a checkpoint's dict (lists back to tuples)."""
        fixed: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        fixed.setdefault("fine_frames", 0)  # checkpoints from before the fine seam have none
        fixed.setdefault("splice_order", 0)  # nor those from before the splice term
        fixed.setdefault("splice_reach", 0)  # nor those from before its reach
        fixed.setdefault("splice_tone", 0)  # nor those from before its tone
        fixed.setdefault("tone_channels", 0)  # nor those from before the learned tone term
        fixed.setdefault("lag_channels", 0)  # nor those from before the lag term
        return cls(**fixed)

    @property
    def clip_samples(self) -> int:
        """Clip length in samples at ``sr``."""
        return self.clip_hops * self.hop

    @property
    def clip_seconds(self) -> float:
        return self.clip_samples / self.sr

    @property
    def clip_frames(self) -> int:
        """Frames of log-mel inside one clip (no centring)."""
        return 1 + (self.clip_samples - self.n_fft) // self.hop

    @property
    def fine_samples(self) -> int:
        """Samples of audio the fine seam reads on each side of the cut."""
        return self.fine_n_fft + (self.fine_frames - 1) * self.fine_hop if self.fine_frames else 0

    @property
    def fine_size(self) -> int:
        """Length of one clip's fine seam frames, flattened."""
        return self.fine_mels * self.fine_frames if self.seam_frames else 0

    @property
    def has_tone_net(self) -> bool:
        """Whether the model has the learned tone term (it reads the splice term's spectra)."""
        return bool(self.seam_frames and self.splice_order and self.splice_tone
                    and self.tone_channels and self.tone_windows)

    @property
    def has_lag_net(self) -> bool:
        """Whether the model has the lag term."""
        return bool(self.seam_frames and self.lag_channels)

    def lag_size(self, side: str) -> int:
        """Length of one clip's lag frames, flattened, after its seam features: A's whole
        log-mel on the exit side, B's first ``lag_after`` frames on the entry side."""
        if not self.has_lag_net:
            return 0
        return self.n_mels * (self.clip_frames if side == "exit" else self.lag_after)

    @property
    def splice(self) -> splice.Spec:
        """The splice term's settings, as `ranking.splice` takes them."""
        n = self.splice_tone
        band = (math.ceil(self.splice_tone_fmin * n / self.sr),
                min(math.floor(self.splice_tone_fmax * n / self.sr), n // 2) + 1)
        return splice.Spec(order=self.splice_order, window=self.splice_window,
                           span=self.splice_span, reach=self.splice_reach,
                           reach_order=self.splice_reach_order,
                           reach_window=self.splice_reach_window, tone=n,
                           tone_smooth=self.splice_tone_smooth, tone_band=band if n else (0, 0),
                           tone_windows=self.tone_windows if self.has_tone_net else 1)

    @property
    def splice_size(self) -> int:
        """Length of one clip's splice features (`ranking.splice.clip_features`)."""
        if not (self.seam_frames and self.splice_order):
            return 0
        return self.splice.size

    @property
    def seam_size(self) -> int:
        """Length of one clip's seam features shared by both sides: coarse frames, fine
        frames, splice (the lag frames follow, `lag_size`)."""
        return self.n_mels * self.seam_frames + self.fine_size + self.splice_size


class ContinuationNet(nn.Module):
    """The trainable part: front end, exit tower, entry tower, two-tower calibration
    (scale, bias), and the optional seam re-ranker with its own calibration."""

    seam_cal: torch.Tensor
    fine_cal: torch.Tensor  # registered only with a fine seam
    splice_cal: torch.Tensor  # registered only with splice continuity
    tone_cal: torch.Tensor  # registered only with the learned tone term
    lag_cal: torch.Tensor  # registered only with the lag term

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.logmel = LogMel(cfg)
        self.exit_tower = Tower(cfg)
        self.entry_tower = Tower(cfg)
        self.log_scale = nn.Parameter(torch.tensor(math.log(10.0)))
        self.bias = nn.Parameter(torch.tensor(0.0))
        self.seam = Seam(cfg) if cfg.seam_frames > 0 else None
        # z = seam(tail, head) + seam_w * <e_A, e_B> + seam_b; P = sigmoid(a * z + b), (a, b)
        # fitted after training (Platt) and kept as a buffer.
        self.seam_w = nn.Parameter(torch.tensor(10.0))
        self.seam_b = nn.Parameter(torch.tensor(0.0))
        self.register_buffer("seam_cal", torch.tensor([1.0, 0.0]))
        # With the fine seam: P = sigmoid(a * z + b + c * fine(tail, head)), c in ``fine_cal``.
        self.fine: FineSeam | None = None
        if self.seam is not None and cfg.fine_frames > 0:
            # Built without touching the global RNG, so stage one draws exactly what it drew
            # before the fine seam existed; `ranking.train_fine` gives it its own seeded start.
            with torch.random.fork_rng(devices=[]):
                self.fine = FineSeam(cfg)
            self.register_buffer("fine_cal", torch.tensor([0.0]))
        # With splice continuity: + d . splice logits (closed loop forward and backward, then
        # reach forward and backward), d in ``splice_cal``.
        if self.seam is not None and cfg.splice_order > 0:
            self.register_buffer("splice_cal", torch.zeros(cfg.splice.n_logits))
        # With the learned tone term: + e * tone(spectra), e in ``tone_cal``.
        self.tone: ToneNet | None = None
        if cfg.has_tone_net:
            with torch.random.fork_rng(devices=[]):  # as for the fine seam
                self.tone = ToneNet(cfg)
            self.register_buffer("tone_cal", torch.tensor([0.0]))
        # With the lag term: + g * lag(log-mel either side), g in ``lag_cal``.
        self.lag: LagNet | None = None
        if cfg.has_lag_net:
            with torch.random.fork_rng(devices=[]):  # as for the fine seam
                self.lag = LagNet(cfg)
            self.register_buffer("lag_cal", torch.tensor([0.0]))

    def stage_one_parameters(self) -> list[nn.Parameter]:
        """Everything trained in stage one: towers, calibration and the coarse seam (the fine
        seam and the learned tone term are trained afterwards on audio, the lag term last)."""
        return [p for n, p in self.named_parameters()
                if not n.startswith(("fine.", "tone.", "lag."))]

    def seam_logit(self, dots: torch.Tensor, tail: torch.Tensor,
                   head: torch.Tensor) -> torch.Tensor:
        """Uncalibrated joint logit from tower inner products and the frames at the cut."""
        assert self.seam is not None
        k = self.cfg.seam_frames
        out: torch.Tensor = (self.seam(tail[..., -k:], head[..., :k]) + self.seam_w * dots
                             + self.seam_b)
        return out

    def embed_exit_mel(self, mel: torch.Tensor) -> torch.Tensor:
        """(batch, n_mels, clip_frames), time running forward, cut at the end."""
        out: torch.Tensor = self.exit_tower(mel.flip(-1))
        return out

    def embed_entry_mel(self, mel: torch.Tensor) -> torch.Tensor:
        """(batch, n_mels, clip_frames), cut at the start."""
        out: torch.Tensor = self.entry_tower(mel)
        return out

    def logit(self, e_a: torch.Tensor, e_b: torch.Tensor) -> torch.Tensor:
        return self.log_scale.exp() * (e_a * e_b).sum(-1) + self.bias


def save_checkpoint(net: ContinuationNet, path: str | Path, *,
                    meta: dict[str, Any] | None = None,
                    extra: dict[str, Any] | None = None) -> None:
    """Weights + config (+ training state in ``extra``), written via a temp file and rename."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    ckpt: dict[str, Any] = {"config": asdict(net.cfg), "state": state, "meta": meta or {}}
    if extra:
        ckpt.update(extra)
    tmp = p.with_suffix(p.suffix + ".tmp")
    torch.save(ckpt, tmp)
    tmp.replace(p)
