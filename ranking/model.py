"""The continuation model: P(clip B follows clip A), as two towers over log-mel spectrograms.

A is the audio just before a cut and B the audio just after. The exit tower embeds A, the entry
tower embeds B, both as L2-normalised vectors, and

    P(B follows A) = sigmoid(scale * <e_A, e_B> + bias)

so that a FAISS inner-product search over entry vectors retrieves the best continuations of an
exit. ``scale`` and ``bias`` are fitted after training on held-out pairs (Platt calibration), so
the probabilities mean something.

The front end (`LogMel`) is shared by training and inference: training slices the log-mel of a
whole track at hop-aligned cut points; inference computes the log-mel of each clip. Frames are
taken without centring, so a clip's frames are exactly the whole track's frames that lie inside
it: nothing of B leaks into A.

Each tower is a dilated 1-D convolution stack over time (mel bins as channels) followed by pooling
over time windows at increasing distance from the cut (the boundary matters most: what sounds at
the very end of A must go on at the very start of B), then a linear projection.

A pairwise re-ranker refines chosen pairs (the towers alone retrieve): a 2-D CNN over the coarse
log-mel frames either side of the cut (`Seam`), and a second one over 16 ms windows every 5 ms
right at the cut (`FineSeam`), which sees what rings on or stops at the cut itself, where the
coarse frames blur it. A third term has no weights of its own: splice continuity
(`ranking.splice`), which asks whether the waveform itself runs on across the cut, as only a
true continuation's does (closed-loop prediction across the cut and the reach of A's own
continuation into B, each forward and backward in time, and whether the same partials ring on
both sides: five logits). A fourth, `ToneNet`, learns from the tone spectra of two windows
each side which notes start, stop or ring on around the cut. All the logits (the coarse one
includes the towers' inner product) are summed under one logistic calibration fitted on
held-out pairs.

This file holds the model and its config; training lives in `ranking.train`. It never imports
`radio` or `server`, and never opens audio files.
"""

from __future__ import annotations

import itertools
import math
import pickle
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ranking import splice
from ranking.errors import ClipError, ModelLoadError

__all__ = ["CALIBRATION_STATE", "ContinuationModel", "LogMel", "ModelConfig", "ToneNet",
           "prepare_clip"]

# The net's state that calibration (`ranking.train.recalibrate`) rewrites. Embeddings do not
# depend on it: the towers' vectors are L2-normalised before scale and bias apply.
CALIBRATION_STATE = frozenset({"log_scale", "bias", "seam_cal", "fine_cal", "splice_cal",
                               "tone_cal"})

DEFAULT_WEIGHTS = "continuation.pt"


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

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        """Rebuild from a checkpoint's dict (lists back to tuples)."""
        fixed: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        fixed.setdefault("fine_frames", 0)  # checkpoints from before the fine seam have none
        fixed.setdefault("splice_order", 0)  # nor those from before the splice term
        fixed.setdefault("splice_reach", 0)  # nor those from before its reach
        fixed.setdefault("splice_tone", 0)  # nor those from before its tone
        fixed.setdefault("tone_channels", 0)  # nor those from before the learned tone term
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
        """Length of one clip's stored seam features: coarse frames, fine frames, splice."""
        return self.n_mels * self.seam_frames + self.fine_size + self.splice_size


def _register_mel(m: nn.Module, *, sr: int, n_fft: int, n_mels: int, fmin: float,
                  fmax: float) -> None:
    """Give ``m`` the buffers of a mel front end: the filterbank ``fb`` and the Hann ``window``."""
    import librosa  # only for the filterbank matrix; imported late to keep start-up light

    fb = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    m.register_buffer("fb", torch.from_numpy(fb.astype(np.float32)))
    m.register_buffer("window", torch.hann_window(n_fft))


def _mel_power(y: torch.Tensor, *, hop: int, window: torch.Tensor,
               fb: torch.Tensor) -> torch.Tensor:
    """(batch, samples) -> (batch, n_mels, frames) mel power of uncentred STFT frames."""
    spec = torch.stft(y, window.numel(), hop, window=window, center=False, return_complex=True)
    return torch.matmul(fb, spec.real.square() + spec.imag.square())


class LogMel(nn.Module):
    """Log-mel front end (dB-like, globally standardised), shared by training and inference."""

    fb: torch.Tensor
    window: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        _register_mel(self, sr=cfg.sr, n_fft=cfg.n_fft, n_mels=cfg.n_mels, fmin=cfg.fmin,
                      fmax=cfg.fmax)
        # Global standardisation, fitted on training audio; identity until then.
        self.register_buffer("mean", torch.zeros(cfg.n_mels, 1))
        self.register_buffer("std", torch.ones(cfg.n_mels, 1))

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """(batch, samples) float32 at cfg.sr -> (batch, n_mels, frames), uncentred frames."""
        mel = _mel_power(y, hop=self.cfg.hop, window=self.window, fb=self.fb)
        logmel = 10.0 * torch.log10(mel + 1e-10)
        return (logmel - self.mean) / self.std


class Tower(nn.Module):
    """Encodes one clip's log-mel (boundary at frame 0) into an L2-normalised vector."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        c = cfg.channels
        self.inp = nn.Conv1d(cfg.n_mels, c, kernel_size=3, padding=1)
        self.blocks = nn.ModuleList(
            nn.Conv1d(c, c, kernel_size=3, padding=d, dilation=d) for d in (1, 2, 4, 8)
        )
        self.norms = nn.ModuleList(nn.GroupNorm(8, c) for _ in range(4))
        edges = [*cfg.pool_edges, cfg.clip_frames]
        self.windows = list(itertools.pairwise(edges))
        self.drop = nn.Dropout(cfg.dropout)
        self.proj = nn.Linear(c * len(self.windows) * 2, cfg.dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.gelu(self.inp(x))
        for conv, norm in zip(self.blocks, self.norms, strict=True):
            h = h + conv(F.gelu(norm(h)))
        pooled = [torch.cat([h[:, :, a:b].mean(-1), h[:, :, a:b].amax(-1)], 1)
                  for a, b in self.windows]
        z = self.proj(self.drop(torch.cat(pooled, 1)))
        out: torch.Tensor = F.normalize(z, dim=1)
        return out


def _join_logit(m: Seam | FineSeam, tail: torch.Tensor, head: torch.Tensor) -> torch.Tensor:
    """The seam CNNs' shared body: A's frames then B's side by side in time, three 3x3
    convolutions (pooled twice), then the features near the join and the strongest anywhere."""
    x = torch.cat([tail, head], -1)[:, None]
    h = F.max_pool2d(F.gelu(m.c1(x)), 2)
    h = F.max_pool2d(F.gelu(m.c2(h)), 2)
    h = F.gelu(m.c3(h))
    mid = h.shape[-1] // 2
    near = h[..., max(0, mid - 2) : mid + 2].mean((2, 3))
    out: torch.Tensor = m.head(torch.cat([near, h.amax((2, 3))], 1))[:, 0]
    return out


class Seam(nn.Module):
    """Pairwise re-ranker: a small 2-D CNN over A's last and B's first frames side by side.

    It judges the join itself (does what sounds at the end of A go on at the start of B?),
    which the towers, each seeing one side, can only approximate. Convolution over frequency
    makes it shift-invariant in pitch, so it generalises across composers and keys.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        c = cfg.seam_channels
        self.k = cfg.seam_frames
        self.c1 = nn.Conv2d(1, c, 3, padding=1)
        self.c2 = nn.Conv2d(c, c, 3, padding=1)
        self.c3 = nn.Conv2d(c, c, 3, padding=1)
        self.head = nn.Linear(2 * c, 1)

    def forward(self, tail: torch.Tensor, head: torch.Tensor) -> torch.Tensor:
        """(n, n_mels, k) each, standardised log-mel -> (n,) logits."""
        return _join_logit(self, tail, head)


class FineSeam(nn.Module):
    """The seam at a finer grain: log-mel of 16 ms windows every 5 ms, 150 ms each side.

    The coarse frames (64 ms windows every 20 ms) blur the last instants of A into one or two
    frames; here what decays, rings on or starts right at the cut stays visible. Its front end
    reads raw audio, so it is trained in a second stage on audio windows at the cuts
    (`ranking.train_fine`), and its logit joins the coarse seam's in the calibrated sum.
    """

    fb: torch.Tensor
    window: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        _register_mel(self, sr=cfg.sr, n_fft=cfg.fine_n_fft, n_mels=cfg.fine_mels,
                      fmin=cfg.fine_fmin, fmax=cfg.fmax)
        self.register_buffer("mean", torch.zeros(()))  # fitted on training audio
        self.register_buffer("std", torch.ones(()))
        c = cfg.fine_channels
        self.c1 = nn.Conv2d(1, c, 3, padding=1)
        self.c2 = nn.Conv2d(c, c, 3, padding=1)
        self.c3 = nn.Conv2d(c, 2 * c, 3, padding=1)
        self.head = nn.Linear(4 * c, 1)

    def frames(self, y: torch.Tensor) -> torch.Tensor:
        """(n, fine_samples) audio at cfg.sr -> (n, fine_mels, fine_frames), standardised."""
        mel = _mel_power(y, hop=self.cfg.fine_hop, window=self.window, fb=self.fb)
        out: torch.Tensor = (torch.log(mel + 1e-8) - self.mean) / self.std
        return out

    def forward(self, tail: torch.Tensor, head: torch.Tensor) -> torch.Tensor:
        """A's last and B's first fine frames, (n, fine_mels, fine_frames) each -> (n,) logits."""
        return _join_logit(self, tail, head)


# The tone spectra are unit vectors over some 630 bins, so their entries are near 0.04 and their
# products near 0.002: the products are scaled up towards the spectra's own range.
_PRODUCT_GAIN = 20.0


class ToneNet(nn.Module):
    """The learned tone term: which notes start, stop or ring on around the cut.

    It reads the tone spectra (`ranking.splice.tone_spectra`: the log-magnitude peaks above the
    envelope, in 7.8 Hz bins) of ``tone_windows`` windows each side of the cut, and their
    products (each window's with its mirror across the cut, and A's farther ones with B's
    nearest: was that note already sounding?), through a dilated 1-D CNN over frequency. The
    handcrafted tone logit (the Fisher z of the nearest spectra's correlation) enters its head,
    so it learns what to add to it. Over the single nearest window a learned net gains nothing
    on the handcrafted logit; with a second window each side it does (BENCHMARKS.md). Its
    input comes from raw audio, so it is trained in a third stage on audio at the cuts
    (`ranking.train_tone`), and its logit joins the calibrated sum.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        c, w = cfg.tone_channels, cfg.tone_windows
        self.windows = w
        self.bins = cfg.splice.tone_bins
        self.c1 = nn.Conv1d(4 * w - 1, c, 7, padding=3)
        self.c2 = nn.Conv1d(c, c, 5, padding=4, dilation=2)
        self.c3 = nn.Conv1d(c, c, 5, padding=8, dilation=4)
        self.head = nn.Linear(2 * c + 1, 1)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """A's and B's tone spectra, (n, tone_windows, tone_bins) each, nearest the cut
        first -> (n,) logits."""
        cross = [a[:, k : k + 1] * b[:, :1] for k in range(1, self.windows)]
        x = torch.cat([a, b, *(_PRODUCT_GAIN * p for p in [a * b, *cross])], 1)
        h = F.gelu(self.c1(x))
        h = h + F.gelu(self.c2(h))
        h = h + F.gelu(self.c3(h))
        r = (a[:, 0] * b[:, 0]).sum(1, keepdim=True).clamp(-0.999, 0.999)
        out: torch.Tensor = self.head(torch.cat([h.mean(-1), h.amax(-1), torch.atanh(r)], 1))
        return out[:, 0]

    def from_features(self, splice_a: np.ndarray, splice_b: np.ndarray) -> np.ndarray:
        """(n,) logits from paired rows of splice features (`ranking.splice.clip_features`),
        whose tone spectra are their last columns."""
        k = self.windows * self.bins
        device = self.head.weight.device

        def spectra(f: np.ndarray) -> torch.Tensor:
            x = np.ascontiguousarray(f[:, f.shape[1] - k :], dtype=np.float32)
            return torch.from_numpy(x).reshape(-1, self.windows, self.bins).to(device)

        with torch.inference_mode():
            out: np.ndarray = self(spectra(splice_a), spectra(splice_b)).cpu().numpy()
        return out


class ContinuationNet(nn.Module):
    """The trainable part: front end, exit tower, entry tower, two-tower calibration
    (scale, bias), and the optional seam re-ranker with its own calibration."""

    seam_cal: torch.Tensor
    fine_cal: torch.Tensor  # registered only with a fine seam
    splice_cal: torch.Tensor  # registered only with splice continuity
    tone_cal: torch.Tensor  # registered only with the learned tone term

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

    def stage_one_parameters(self) -> list[nn.Parameter]:
        """Everything trained on log-mel windows: towers, calibration and the coarse seam
        (the fine seam and the learned tone term are trained afterwards, on audio)."""
        return [p for n, p in self.named_parameters() if not n.startswith(("fine.", "tone."))]

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


def prepare_clip(clip: np.ndarray, sr: int, *, cfg: ModelConfig, side: str) -> np.ndarray:
    """Mono float32 at cfg.sr, cropped to the model's context: A's last / B's first seconds.

    Accepts 1-D arrays or 2-D (channels, n) / (n, channels) at any sample rate. NaN and inf
    samples are zeroed (a decoder glitch should not poison a whole station).

    Raises
    ------
    ClipError
        when the clip is empty, has a non-positive rate, or is shorter than the context.
    """
    y = np.asarray(clip, dtype=np.float32)
    if sr <= 0:
        raise ClipError(f"sample rate must be positive, got {sr}")
    if y.ndim == 2:
        y = y.mean(axis=0 if y.shape[0] <= y.shape[1] else 1)
    elif y.ndim != 1:
        raise ClipError(f"a clip must be 1-D or 2-D, got shape {y.shape}")
    y = np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0)
    need = math.ceil(cfg.clip_seconds * sr)
    if y.size < need:
        raise ClipError(
            f"clip of {y.size / sr:.2f} s is shorter than the model's context of "
            f"{cfg.clip_seconds:.2f} s"
        )
    # Crop before resampling (cheap), with a little margin for the resampler's edges.
    take = min(y.size, need + int(0.05 * sr))
    if sr == cfg.sr:
        y = y[-take:] if side == "exit" else y[:take]
    else:
        import librosa

        # Output samples fall on the input grid every q input samples (p output samples):
        # keep the cut on such a point, so A's last sample and B's first sit exactly one model
        # sample apart, as in the song. (Rates sharing no such short period fall back to the
        # nearest sample.) Beyond the cut the resampler would assume silence and bend the last
        # milliseconds, which the splice term and the fine seam read: the signal is continued
        # there by linear prediction, and the continuation cut off again afterwards.
        g = math.gcd(sr, cfg.sr)
        q, p = sr // g, cfg.sr // g
        unit = q if q <= sr // 50 else 1
        if take - take % unit >= need:
            take -= take % unit
        ext = unit * math.ceil(0.01 * sr / unit)
        if side == "exit":
            y = y[-take:]
            y = np.concatenate([y, splice.extrapolate(y, count=ext)])
        else:
            y = y[:take]
            y = np.concatenate([splice.extrapolate(y[::-1], count=ext)[::-1], y])
        y = librosa.resample(y, orig_sr=sr, target_sr=cfg.sr, res_type="soxr_hq")
        edge = round(ext * cfg.sr / sr) if unit == 1 else ext // q * p
        y = y[: y.size - edge] if side == "exit" else y[edge:]
    n = cfg.clip_samples
    if y.size < n:  # rounding in the resampler
        pad = np.zeros(n - y.size, dtype=np.float32)
        y = np.concatenate([pad, y]) if side == "exit" else np.concatenate([y, pad])
    out = y[-n:] if side == "exit" else y[:n]
    return np.ascontiguousarray(out, dtype=np.float32)


@dataclass
class ContinuationModel:
    """The public face of the model: load, embed, score. Inference only, CPU by default."""

    net: ContinuationNet
    meta: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 64

    @property
    def config(self) -> ModelConfig:
        return self.net.cfg

    @property
    def scale(self) -> float:
        return float(self.net.log_scale.detach().exp())

    @property
    def bias(self) -> float:
        return float(self.net.bias.detach())

    # -- persistence ------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path | None = None) -> ContinuationModel:
        """Load a checkpoint; ``None`` loads the default weights shipped in the package."""
        if path is None:
            ref = resources.files("ranking").joinpath("weights", DEFAULT_WEIGHTS)
            with resources.as_file(ref) as p:
                if not p.exists():
                    raise ModelLoadError(
                        f"no shipped weights at {p}; train them with `radio train`"
                    )
                return cls.load(p)
        p = Path(path)
        try:
            ckpt = torch.load(p, map_location="cpu", weights_only=False)
            cfg = ModelConfig.from_dict(ckpt["config"])
            net = ContinuationNet(cfg)
            net.load_state_dict(ckpt["state"])
        except (OSError, KeyError, TypeError, RuntimeError, EOFError, pickle.UnpicklingError,
                ValueError) as exc:
            raise ModelLoadError(f"cannot load model checkpoint {p}: {exc}") from exc
        net.eval()
        return cls(net=net, meta=dict(ckpt.get("meta", {})))

    def save(self, path: str | Path) -> None:
        """Write weights, config and meta (atomically)."""
        save_checkpoint(self.net, path, meta=self.meta)

    # -- inference --------------------------------------------------------------------------
    @property
    def has_seam(self) -> bool:
        return self.net.seam is not None

    def features(self, clips: list[np.ndarray], sr: int, side: Literal["exit", "entry"], *,
                 seam: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(embeddings (n, dim), seam features (n, cfg.seam_size) float32) per clip.

        The seam features are the standardised log-mel frames next to the cut (A's last, B's
        first), flattened, followed by the fine seam's frames and the splice features when the
        model has them; with the embeddings they are all a pair needs to be scored, so they can
        be stored per cue. (Float32: the splice features hold predictor coefficients and raw
        samples, which float16 would round past the errors they measure.)
        Without a seam re-ranker, or with ``seam=False`` (embeddings only), the second array
        has zero width.
        """
        cfg = self.config
        ys = [prepare_clip(c, sr, cfg=cfg, side=side) for c in clips]
        keep = seam and self.has_seam
        k = cfg.seam_frames if keep else 0
        fine = self.net.fine
        emb = np.zeros((len(ys), cfg.dim), dtype=np.float32)
        seam_out = np.zeros((len(ys), cfg.seam_size if keep else 0), dtype=np.float32)
        w = cfg.fine_samples
        with torch.inference_mode():
            for i in range(0, len(ys), self.batch_size):
                batch = torch.from_numpy(np.stack(ys[i : i + self.batch_size]))
                mel = self.net.logmel(batch)
                e = (self.net.embed_exit_mel(mel) if side == "exit"
                     else self.net.embed_entry_mel(mel))
                emb[i : i + len(batch)] = e.numpy()
                if not k:
                    continue
                parts = [mel[..., -k:] if side == "exit" else mel[..., :k]]
                if fine is not None:
                    parts.append(fine.frames(batch[:, -w:] if side == "exit" else batch[:, :w]))
                flat = torch.cat([p.flatten(1) for p in parts], 1)
                seam_out[i : i + len(batch), : flat.shape[1]] = flat.numpy()
                if cfg.splice_size:
                    sw = cfg.splice.width
                    edge = batch[:, -sw:] if side == "exit" else batch[:, :sw]
                    seam_out[i : i + len(batch), flat.shape[1] :] = splice.clip_features(
                        edge.numpy(), side=side, spec=cfg.splice)
        return emb, seam_out

    def embed_exits(self, clips: list[np.ndarray], sr: int) -> np.ndarray:
        """L2-normalised float32 rows, one per clip; the clip's last seconds are used."""
        return self.features(list(clips), sr, "exit", seam=False)[0]

    def embed_entries(self, clips: list[np.ndarray], sr: int) -> np.ndarray:
        """L2-normalised float32 rows, one per clip; the clip's first seconds are used."""
        return self.features(list(clips), sr, "entry", seam=False)[0]

    def seam_logits(self, e_a: np.ndarray, seam_a: np.ndarray, e_b: np.ndarray,
                    seam_b: np.ndarray, *, fine: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Uncalibrated (coarse seam logit, fine seam logit) for paired rows of stored
        features; the fine logits are zeros without a fine seam or with ``fine=False``."""
        cfg = self.config
        dots = np.einsum("ij,ij->i", e_a, e_b).astype(np.float32)
        coarse = cfg.n_mels * cfg.seam_frames
        fine_end = coarse + cfg.fine_size
        shape = (cfg.n_mels, cfg.seam_frames)
        fine_shape = (cfg.fine_mels, cfg.fine_frames)
        z = np.zeros(len(dots), dtype=np.float32)
        zf = np.zeros(len(dots), dtype=np.float32)
        fine_seam = self.net.fine if fine else None
        with torch.inference_mode():
            for i in range(0, len(dots), 1024):
                sl = slice(i, i + 1024)
                sa = torch.from_numpy(seam_a[sl].astype(np.float32))
                sb = torch.from_numpy(seam_b[sl].astype(np.float32))
                z[sl] = self.net.seam_logit(torch.from_numpy(dots[sl]),
                                            sa[:, :coarse].reshape(-1, *shape),
                                            sb[:, :coarse].reshape(-1, *shape)).numpy()
                if fine_seam is not None:
                    zf[sl] = fine_seam(sa[:, coarse:fine_end].reshape(-1, *fine_shape),
                                       sb[:, coarse:fine_end].reshape(-1, *fine_shape)).numpy()
        return z, zf

    def splice_logits(self, seam_a: np.ndarray, seam_b: np.ndarray) -> np.ndarray:
        """(n, 2 to 5) uncalibrated splice continuity (closed loop forward and backward, then
        reach likewise and tone where the model has them) for paired rows of stored seam
        features (`ranking.splice.pair_logits`); (n, 2) zeros without the splice term."""
        cfg = self.config
        if not cfg.splice_size:
            return np.zeros((len(seam_a), 2))
        start = cfg.seam_size - cfg.splice_size
        return splice.pair_logits(seam_a[:, start:], seam_b[:, start:], spec=cfg.splice)

    def tone_logits(self, seam_a: np.ndarray, seam_b: np.ndarray) -> np.ndarray:
        """(n,) uncalibrated learned tone logits for paired rows of stored seam features;
        zeros without the learned tone term."""
        out = np.zeros(len(seam_a), dtype=np.float32)
        tone = self.net.tone
        if tone is None:
            return out
        for i in range(0, len(out), 1024):
            out[i : i + 1024] = tone.from_features(seam_a[i : i + 1024], seam_b[i : i + 1024])
        return out

    def score_features(self, e_a: np.ndarray, seam_a: np.ndarray, e_b: np.ndarray,
                       seam_b: np.ndarray, *, splice: bool = True,
                       tone: bool = True) -> np.ndarray:
        """P for paired rows of stored features (see `features`); the full model, or with
        ``splice=False`` / ``tone=False`` the full model less its splice logits / its learned
        tone term (for `ranking.evaluate`)."""
        if not self.has_seam:
            return self.probability(np.einsum("ij,ij->i", e_a, e_b))
        z, zf = self.seam_logits(e_a, seam_a, e_b, seam_b)
        a, b = (float(v) for v in self.net.seam_cal.tolist())
        c = float(self.net.fine_cal[0]) if self.net.fine is not None else 0.0
        logit: np.ndarray = a * z.astype(np.float64) + b + c * zf
        if splice and self.config.splice_size:
            d = self.net.splice_cal.double().numpy()
            logit = logit + self.splice_logits(seam_a, seam_b) @ d
        if tone and self.net.tone is not None:
            logit = logit + float(self.net.tone_cal[0]) * self.tone_logits(seam_a, seam_b)
        out: np.ndarray = (1.0 / (1.0 + np.exp(-logit))).astype(np.float32)
        return out

    def probability(self, dots: np.ndarray) -> np.ndarray:
        """The two-tower P from inner products of exit and entry embeddings (any shape).

        Monotone in the inner product, so FAISS retrieval by inner product ranks by it; the
        seam re-ranker (`score_features`, `score_pairs`) refines it for chosen pairs.
        """
        z = self.scale * np.asarray(dots, dtype=np.float64) + self.bias
        return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)

    def log_probability(self, dots: np.ndarray) -> np.ndarray:
        """log P from inner products, numerically safe for very unlikely pairs."""
        z = self.scale * np.asarray(dots, dtype=np.float64) + self.bias
        return (-np.logaddexp(0.0, -z)).astype(np.float32)

    def score_pairs(self, a_clips: list[np.ndarray], b_clips: list[np.ndarray],
                    sr: int) -> np.ndarray:
        """P(b_i follows a_i) for each i, float32 of shape (len(a_clips),); the full model."""
        if len(a_clips) != len(b_clips):
            raise ClipError(f"{len(a_clips)} A clips but {len(b_clips)} B clips; pair them 1:1")
        if not len(a_clips):
            return np.zeros(0, dtype=np.float32)
        e_a, s_a = self.features(list(a_clips), sr, "exit")
        e_b, s_b = self.features(list(b_clips), sr, "entry")
        return self.score_features(e_a, s_a, e_b, s_b)


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
