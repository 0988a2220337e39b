"""The model's public face, `ContinuationModel`: load, embed, score. Inference only, CPU by
default.

`prepare_clip` turns any clip (any rate, mono or stereo, NaN-tainted) into the model's context
at its rate: A's last seconds, B's first. `ContinuationModel.features` computes what a clip
needs to be scored (its embedding and the seam features at the cut), which `radio` stores per
cue; `score_features` scores stored pairs with the whole calibrated sum, and `score_pairs`
scores clips directly.

The net itself and its config are `ranking.model`'s. Never opens audio files.
"""

from __future__ import annotations

import math
import pickle
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from ranking import splice
from ranking.errors import ClipError, ModelLoadError
from ranking.model import ContinuationNet, ModelConfig, save_checkpoint

__all__ = ["DEFAULT_WEIGHTS", "ContinuationModel", "TermLogits", "prepare_clip"]

DEFAULT_WEIGHTS = "continuation.pt"


@dataclass(frozen=True)
class TermLogits:
    """Each term's uncalibrated logits for n scored pairs (`ContinuationModel.term_logits`);
    terms a model lacks are zeros."""

    dots: np.ndarray  # (n,) tower inner products
    coarse: np.ndarray  # (n,) coarse seam logit (the towers' product included)
    fine: np.ndarray  # (n,) fine seam logit
    splice: np.ndarray  # (n, k) splice continuity logits
    tone: np.ndarray  # (n,) learned tone logit
    lag: np.ndarray  # (n,) lag logit

    def take(self, rows: np.ndarray) -> TermLogits:
        """The same terms for a subset (or reordering) of the pairs."""
        return TermLogits(*(v[rows] for v in (self.dots, self.coarse, self.fine, self.splice,
                                              self.tone, self.lag)))


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
        """(embeddings (n, dim), seam features (n, cfg.seam_size + cfg.lag_size(side)) float32)
        per clip.

        The seam features are the standardised log-mel frames next to the cut (A's last, B's
        first), flattened, followed by the fine seam's frames, the splice features and the lag
        term's frames (`ModelConfig.lag_size`: wider on the exit side) when the model has them;
        with the embeddings they are all a pair needs to be scored, so they can be stored per
        cue. (Float32: the splice features hold predictor coefficients and raw
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
        width = cfg.seam_size + cfg.lag_size(side) if keep else 0
        seam_out = np.zeros((len(ys), width), dtype=np.float32)
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
                rows = slice(i, i + len(batch))
                if cfg.splice_size:
                    sw = cfg.splice.width
                    edge = batch[:, -sw:] if side == "exit" else batch[:, :sw]
                    seam_out[rows, flat.shape[1] : cfg.seam_size] = splice.clip_features(
                        edge.numpy(), side=side, spec=cfg.splice)
                if cfg.has_lag_net:  # in dB, as `ranking.train_lag` trains it
                    db = mel * self.net.logmel.std + self.net.logmel.mean
                    lag = db if side == "exit" else db[..., : cfg.lag_after]
                    seam_out[rows, cfg.seam_size :] = lag.flatten(1).numpy()
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
        start, end = cfg.seam_size - cfg.splice_size, cfg.seam_size
        return splice.pair_logits(seam_a[:, start:end], seam_b[:, start:end], spec=cfg.splice)

    def tone_logits(self, seam_a: np.ndarray, seam_b: np.ndarray) -> np.ndarray:
        """(n,) uncalibrated learned tone logits for paired rows of stored seam features;
        zeros without the learned tone term."""
        out = np.zeros(len(seam_a), dtype=np.float32)
        tone = self.net.tone
        if tone is None:
            return out
        end = self.config.seam_size
        for i in range(0, len(out), 1024):
            out[i : i + 1024] = tone.from_features(seam_a[i : i + 1024, :end],
                                                   seam_b[i : i + 1024, :end])
        return out

    def lag_logits(self, seam_a: np.ndarray, seam_b: np.ndarray) -> np.ndarray:
        """(n,) uncalibrated lag logits for paired rows of stored seam features (exit rows
        for A, entry rows for B); zeros without the lag term."""
        out = np.zeros(len(seam_a), dtype=np.float32)
        lag = self.net.lag
        if lag is None:
            return out
        cfg = self.config
        start = cfg.seam_size
        with torch.inference_mode():
            for i in range(0, len(out), 256):
                tail = torch.from_numpy(np.ascontiguousarray(seam_a[i : i + 256, start:]))
                head = torch.from_numpy(np.ascontiguousarray(seam_b[i : i + 256, start:]))
                out[i : i + 256] = lag(tail.reshape(len(tail), cfg.n_mels, -1),
                                       head.reshape(len(head), cfg.n_mels, -1)).numpy()
        return out

    def term_logits(self, e_a: np.ndarray, seam_a: np.ndarray, e_b: np.ndarray,
                    seam_b: np.ndarray) -> TermLogits:
        """Every term's uncalibrated logits for paired rows of stored features, to be summed
        by `combine` (split so `ranking.evaluate` can score each pair once for all its
        ablations)."""
        dots = np.einsum("ij,ij->i", e_a, e_b).astype(np.float32)
        if not self.has_seam:
            zero = np.zeros(len(dots), dtype=np.float32)
            return TermLogits(dots, zero, zero, np.zeros((len(dots), 2)), zero, zero)
        z, zf = self.seam_logits(e_a, seam_a, e_b, seam_b)
        return TermLogits(dots, z, zf, self.splice_logits(seam_a, seam_b),
                          self.tone_logits(seam_a, seam_b), self.lag_logits(seam_a, seam_b))

    def combine(self, t: TermLogits, *, splice: bool = True, tone: bool = True,
                lag: bool = True) -> np.ndarray:
        """P from `term_logits`: the whole calibrated sum, or with ``splice=False`` /
        ``tone=False`` / ``lag=False`` the sum less that term (for `ranking.evaluate`)."""
        if not self.has_seam:
            return self.probability(t.dots)
        a, b = (float(v) for v in self.net.seam_cal.tolist())
        c = float(self.net.fine_cal[0]) if self.net.fine is not None else 0.0
        logit: np.ndarray = a * t.coarse.astype(np.float64) + b + c * t.fine
        if splice and self.config.splice_size:
            logit = logit + t.splice @ self.net.splice_cal.double().numpy()
        if tone and self.net.tone is not None:
            logit = logit + float(self.net.tone_cal[0]) * t.tone
        if lag and self.net.lag is not None:
            logit = logit + float(self.net.lag_cal[0]) * t.lag
        out: np.ndarray = (1.0 / (1.0 + np.exp(-logit))).astype(np.float32)
        return out

    def score_features(self, e_a: np.ndarray, seam_a: np.ndarray, e_b: np.ndarray,
                       seam_b: np.ndarray) -> np.ndarray:
        """P for paired rows of stored features (see `features`): the whole calibrated sum."""
        return self.combine(self.term_logits(e_a, seam_a, e_b, seam_b))

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
