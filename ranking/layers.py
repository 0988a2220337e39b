"""The model's building blocks: the log-mel front ends, the towers and the re-rankers.

`LogMel` is the front end shared by training and inference. Frames are taken without
centring, so a clip's frames are exactly the whole track's frames that lie inside it: nothing of
B leaks into A.

Each `Tower` is a dilated 1-D convolution stack over time (mel bins as channels) followed by
pooling over time windows at increasing distance from the cut (the boundary matters most: what
sounds at the very end of A must go on at the very start of B), then a linear projection.

The re-rankers judge a chosen pair: `Seam`, a 2-D CNN over the coarse log-mel frames either side
of the cut; `FineSeam`, another over 16 ms windows every 5 ms right at the cut; `ToneNet`, a
1-D CNN over the tone spectra of two windows each side; and `LagNet`, a 2-D CNN over the lag
matrix across the cut (does B carry on A's bars?).

How they are put together, and the config they read, is `ranking.model`'s; this file holds only
the modules. It never opens audio files.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:
    from ranking.model import ModelConfig

__all__ = ["FineSeam", "LagNet", "LogMel", "Seam", "ToneNet", "Tower", "lag_matrix"]


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


def lag_matrix(tail: torch.Tensor, head: torch.Tensor, *, gap: int, lags: int, before: int,
               after: int) -> torch.Tensor:
    """How the music repeats itself at every lag, frame by frame, across the cut.

    ``tail`` is A's log-mel in dB (n, n_mels, frames), ending ``gap`` frames before the cut (a
    frame spans more than one hop); ``head`` is B's first ``after`` frames or more. Both are joined
    on one time line, each band less its mean over the pair and each frame scaled to unit
    length; entry (P, j) is the cosine of the frame ``j`` frames after the cut (j < 0: before
    it) with the frame ``P`` frames earlier, for P in 1..``lags`` and j in -``before``..
    ``after`` - 1. Returned averaged over 2 x 2 cells, as three channels: the cosines, whether
    the later frame lies in B, and whether the pair of frames straddles the cut:
    (n, 3, lags // 2, (before + after) // 2). The standardisation and any gain offset cancel.
    """
    n_a = tail.shape[2]
    back = n_a + gap  # the cut, on the joined time line
    if lags > back - before:
        raise ValueError(f"{lags} lags reach before A's first frame")
    x = torch.cat([tail, head[..., :after]], 2).float()
    x = F.normalize(x - x.mean(2, keepdim=True), dim=1)
    x = torch.cat([x[..., :n_a], x.new_zeros(len(x), x.shape[1], gap), x[..., n_a:]], 2)
    gram = x.transpose(1, 2) @ x
    later = torch.arange(back - before, back + after, device=x.device)[None, :].expand(lags, -1)
    earlier = later - torch.arange(1, lags + 1, device=x.device)[:, None]
    cos = gram[:, later, earlier]
    in_b = (later >= back).to(cos.dtype)
    straddles = ((later >= back) & (earlier < back)).to(cos.dtype)
    z = torch.stack([cos, in_b.expand_as(cos), straddles.expand_as(cos)], 1)
    return F.avg_pool2d(z, 2)


class LagNet(nn.Module):
    """The lag term: does B carry on the bars A was playing?

    A true continuation repeats what A played a beat, a bar or a phrase earlier at the same
    lags as A repeated itself; the same song's music from elsewhere, even a beat off in its
    bar, breaks that pattern at the cut. A 2-D CNN reads the lag matrix (`lag_matrix`: 3.2 s
    of lags, 0.8 s before the cut and 1.6 s after it), pools it over time before and after the
    cut separately, compares the two lag profiles with a 1-D convolution over lags, and gives
    a logit. It sees only how the music repeats, never its timbre or key, so it carries over to
    music it never heard. It reads log-mel frames, so it is trained in its own stage on the
    tracks' log-mel (`ranking.train_lag`), and its logit joins the calibrated sum.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        c = cfg.lag_channels
        self.gap = cfg.clip_hops - cfg.clip_frames
        self.lags, self.before, self.after = cfg.lag_lags, cfg.lag_before, cfg.lag_after
        self.c1 = nn.Conv2d(3, c, 3, padding=1)
        self.c2 = nn.Conv2d(c, c, 3, padding=(1, 2), dilation=(1, 2))
        self.c3 = nn.Conv2d(c, c, 3, padding=(1, 4), dilation=(1, 4))
        self.c4 = nn.Conv1d(2 * c, c, 3, padding=1)
        self.head = nn.Linear(2 * c, 1)

    # Rows go through 64 at a time. Each pair's lag matrix and activations take some 0.3 MB,
    # and the C allocator maps and unmaps every block over 32 MB afresh, page by page: whole
    # batches of 256 pairs spent most of a training step in the kernel (0.55 s against 0.20 s
    # a step; 3.4 times slower to score).
    chunk = 64

    def forward(self, tail: torch.Tensor, head: torch.Tensor) -> torch.Tensor:
        """A's log-mel (n, n_mels, clip_frames) and B's first ``lag_after`` frames (or more)
        -> (n,) logits."""
        if len(tail) > self.chunk:
            return torch.cat([self(tail[i : i + self.chunk], head[i : i + self.chunk])
                              for i in range(0, len(tail), self.chunk)])
        z = lag_matrix(tail, head, gap=self.gap, lags=self.lags, before=self.before,
                       after=self.after)
        h = F.gelu(self.c1(z))
        h = F.gelu(self.c2(h)) + h
        h = F.gelu(self.c3(h)) + h  # (n, c, lags, offsets)
        cut = self.before // 2
        g = F.gelu(self.c4(torch.cat([h[..., :cut].mean(3), h[..., cut:].mean(3)], 1)))
        out: torch.Tensor = self.head(torch.cat([g.mean(2), g.amax(2)], 1))
        return out[:, 0]
