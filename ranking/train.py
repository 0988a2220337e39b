"""Training the continuation model: contrastive learning on cut-up songs, then calibration.

Each step draws anchors (A, B) from distinct tracks. The loss is InfoNCE: each A must pick its own
B among every B of the batch (easy negatives) plus the batch's explicit hard negatives (the same
song elsewhere, songs of similar tempo and key), and symmetrically each B its A. After training,
``scale`` and ``bias`` are fitted by Platt scaling on held-out (validation) pairs, with as many
negatives as positives, so that P = sigmoid(scale * <e_A, e_B> + bias) is calibrated.

A second stage (`ranking.train_fine`) then trains the fine seam on audio windows at the cuts, a
third (`ranking.train_tone`) the learned tone term on the tone spectra there, a fourth
(`ranking.train_lag`) the lag term on the log-mel either side, and the calibration
(`ranking.calibration`) fits the re-ranker's sum (coarse seam + fine seam + the splice
continuity logits of `ranking.splice` + the learned tone logit + the lag logit) as one logistic
regression. `recalibrate` repeats that last step alone, which is how a model trained before the
splice term gains it; `extend` runs the third and fourth stages where the model lacks them, and
the calibration, which is how one trained before the learned tone term or the lag term gains it.

Deterministic under a seed on one device; resumable from the last epoch's checkpoint, which holds
the optimiser and every random state (an interrupted second stage starts over from its seeded
start, so the result is the same). Uses a GPU when one is present. Inputs are arrays
(`TrackMel`), never files; `radio` turns a library into them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ranking.calibration import Batcher, calibrate_net, pair_scores
from ranking.inference import ContinuationModel
from ranking.model import ContinuationNet, ModelConfig, save_checkpoint
from ranking.pairs import PairSampler, TrackMel
from ranking.train_fine import autocast, check_precision, train_fine_seam
from ranking.train_lag import train_lag
from ranking.train_tone import train_tone

__all__ = ["TrainConfig", "TrainResult", "extend", "fit_standardisation", "recalibrate",
           "track_logmel", "train"]


@dataclass(frozen=True)
class TrainConfig:
    """A training run's settings; the defaults are the shipped model's recipe."""

    epochs: int = 8
    steps_per_epoch: int = 480
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0
    min_gap_s: float = 8.0
    calib_pairs: int = 2000  # positives (and as many negatives) for Platt scaling
    gain_jitter_db: float = 6.0  # the same random gain on A and B: loudness is relative
    threads: int = 0  # torch CPU threads; 0 = leave torch's default
    fine_steps: int = 1000  # stage two: the fine seam on audio windows (`ranking.train_fine`)
    fine_batch: int = 128
    tone_steps: int = 1500  # stage three: the learned tone term (`ranking.train_tone`)
    tone_batch: int = 128
    lag_steps: int = 1000  # stage four: the lag term on log-mel (`ranking.train_lag`)
    lag_batch: int = 64
    precision: str = "bfloat16"  # or "float32" (`ranking.train_fine.PRECISIONS`), every stage

    def __post_init__(self) -> None:
        check_precision(self.precision)


@dataclass
class TrainResult:
    checkpoint: Path
    epochs_done: int
    history: list[dict[str, float]]
    scale: float
    bias: float
    seconds: float


def _sampler(ts: Sequence[TrackMel], model_cfg: ModelConfig, cfg: TrainConfig,
             seed: int) -> PairSampler:
    return PairSampler(ts, clip_hops=model_cfg.clip_hops, clip_frames=model_cfg.clip_frames,
                       hop_s=model_cfg.hop / model_cfg.sr, min_gap_s=cfg.min_gap_s, seed=seed)


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def track_logmel(y: np.ndarray, cfg: ModelConfig) -> np.ndarray:
    """Raw (unstandardised) log-mel of a whole mono track at cfg.sr, float16 (n_mels, frames)."""
    from ranking.layers import LogMel

    front = LogMel(cfg)
    out = []
    with torch.inference_mode():
        # Chunk with overlap so memory stays flat on long tracks; uncentred frames line up.
        step = cfg.hop * 30000
        span = step + cfg.n_fft - cfg.hop
        x = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32))
        for s in range(0, max(1, x.numel() - cfg.n_fft + 1), step):
            seg = x[s : s + span]
            if seg.numel() < cfg.n_fft:
                break
            out.append(front(seg[None])[0].numpy().astype(np.float16))
    if not out:
        return np.zeros((cfg.n_mels, 0), dtype=np.float16)
    return np.concatenate(out, axis=1)


def fit_standardisation(tracks: Sequence[TrackMel], *, seed: int = 0,
                        frames: int = 200_000) -> tuple[np.ndarray, np.ndarray]:
    """Per-mel-bin mean and std (n_mels, 1) over a sample of training frames."""
    rng = np.random.default_rng(seed)
    per = max(1, frames // max(1, len(tracks)))
    cols = []
    for t in tracks:
        if t.mel.shape[1]:
            idx = rng.integers(0, t.mel.shape[1], size=min(per, t.mel.shape[1]))
            cols.append(t.mel[:, idx].astype(np.float32))
    x = np.concatenate(cols, axis=1)
    return x.mean(1, keepdims=True), np.maximum(x.std(1, keepdims=True), 1e-3)


def _step_loss(net: ContinuationNet, sampler: PairSampler, batcher: Batcher, n: int,
               gain_jitter_db: float, rng: np.random.Generator) -> torch.Tensor:
    batch = sampler.sample(n)
    gain = rng.uniform(-gain_jitter_db, gain_jitter_db, size=n)
    mel_a = batcher(sampler.windows(batch.a), gain)
    mel_b = batcher(sampler.windows(batch.b), gain)
    e_a = net.embed_exit_mel(mel_a)
    e_b = net.embed_entry_mel(mel_b)
    hard = np.concatenate([batch.neg["same"], batch.neg["similar"]])
    present = torch.from_numpy(hard[:, 0] >= 0).to(e_a.device)
    mel_h = batcher(sampler.windows(hard), np.concatenate([gain, gain]))
    e_h = net.embed_entry_mel(mel_h)
    scale = net.log_scale.exp()
    cand = torch.cat([e_b, e_h], 0)
    logits = scale * e_a @ cand.T
    logits[:, n:] = logits[:, n:].masked_fill(~present[None, :], float("-inf"))
    target = torch.arange(n, device=e_a.device)
    loss = 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(scale * e_b @ e_a.T, target))
    if net.seam is None:
        return loss
    # Seam re-ranker: binary cross-entropy on the true continuation against the hard
    # negatives and an in-batch easy one (the next anchor's B), the towers' inner products
    # entering as a fixed input (the re-ranker must not pull the retrieval space about).
    rolled = torch.roll(torch.arange(n, device=e_a.device), 1)
    dots_pos = (e_a * e_b).sum(1).detach()
    dots_hard = (e_a.repeat(2, 1) * e_h).sum(1).detach()
    dots_easy = (e_a * e_b[rolled]).sum(1).detach()
    z_pos = net.seam_logit(dots_pos, mel_a, mel_b)
    z_hard = net.seam_logit(dots_hard, mel_a.repeat(2, 1, 1), mel_h)[present]
    z_easy = net.seam_logit(dots_easy, mel_a, mel_b[rolled])
    z_neg = torch.cat([z_hard, z_easy])
    seam_loss = (F.binary_cross_entropy_with_logits(z_pos, torch.ones_like(z_pos))
                 + F.binary_cross_entropy_with_logits(z_neg, torch.zeros_like(z_neg)))
    return loss + seam_loss


def _quick_val(net: ContinuationNet, sampler: PairSampler, batcher: Batcher,
               n: int) -> dict[str, float]:
    """Fraction of positives scoring above an easy and a same-song negative (AUC estimates)."""
    out: dict[str, float] = {}
    for kind in ("easy", "same"):
        s = pair_scores(net, sampler, batcher, n, kind)
        out[f"val_auc_{kind}"] = _auc(s["dot_pos"], s["dot_neg"])
        if "seam_pos" in s:
            out[f"val_auc_{kind}_seam"] = _auc(s["seam_pos"], s["seam_neg"])
    return out


def _load_stage_one(net: ContinuationNet, state: dict[str, torch.Tensor]) -> None:
    """Load a training state; one saved before the fine seam (or the splice term, or the
    learned tone term) existed lacks only their weights (stages two and three train them from a
    seeded start; calibration fits the rest)."""
    missing, unexpected = net.load_state_dict(state, strict=False)
    stray = [k for k in missing if not k.startswith(("fine", "splice", "tone"))] + list(unexpected)
    if stray:
        raise RuntimeError(f"training state does not fit the model: {stray[:5]}")


def _later_stage(stage: str, net: ContinuationNet, tracks: Sequence[TrackMel],
                 cfg: TrainConfig, device: torch.device,
                 progress: Callable[[int, int, dict[str, float]], None] | None, *, done: int,
                 total: int) -> None:
    """Stage three (``"tone"``, `ranking.train_tone`) or four (``"lag"``, `ranking.train_lag`),
    its steps reported after the ``done`` before it; nothing where the net lacks the term."""
    fit, module = (train_tone, net.tone) if stage == "tone" else (train_lag, net.lag)
    steps, batch = getattr(cfg, f"{stage}_steps"), getattr(cfg, f"{stage}_batch")
    if module is None or not steps:
        return
    fit(net, tracks, steps=steps, batch_size=batch, lr=cfg.lr, weight_decay=cfg.weight_decay,
        min_gap_s=cfg.min_gap_s, seed=cfg.seed, device=device,
        progress=_after(progress, done, total), precision=cfg.precision)


def _after(progress: Callable[[int, int, dict[str, float]], None] | None, done: int,
           total: int) -> Callable[[int, float], None]:
    """A later stage's ``progress(step, loss)``, reported to the run's ``progress`` as steps
    after the ``done`` of the stages before it, out of ``total``."""

    def report(step: int, loss: float) -> None:
        if progress:
            progress(done + step, total, {"loss": loss})

    return report


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    return float((pos[:, None] > neg[None, :]).mean()) if pos.size and neg.size else 0.0


def train(tracks: Sequence[TrackMel], val_tracks: Sequence[TrackMel], *, out: Path,
          model_cfg: ModelConfig | None = None, cfg: TrainConfig | None = None,
          resume: bool = False,
          progress: Callable[[int, int, dict[str, float]], None] | None = None) -> TrainResult:
    """Train on ``tracks``, calibrate on ``val_tracks``, write the checkpoint to ``out``.

    ``out`` + ".state" holds the resumable training state, written after every epoch.
    """
    cfg = cfg or TrainConfig()
    model_cfg = model_cfg or ModelConfig()
    t0 = time.perf_counter()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    device = pick_device()
    net = ContinuationNet(model_cfg)
    mean, std = fit_standardisation(tracks, seed=cfg.seed)
    net.logmel.mean.copy_(torch.from_numpy(mean))
    net.logmel.std.copy_(torch.from_numpy(std))
    net.to(device)
    opt = torch.optim.AdamW(net.stage_one_parameters(), lr=cfg.lr,
                            weight_decay=cfg.weight_decay)
    stage_one = cfg.epochs * cfg.steps_per_epoch
    fine_steps = cfg.fine_steps if net.fine is not None else 0
    tone_steps = cfg.tone_steps if net.tone is not None else 0
    lag_steps = cfg.lag_steps if net.lag is not None else 0
    total = stage_one + fine_steps + tone_steps + lag_steps
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=stage_one,
                                                pct_start=0.1)

    def sampler_for(ts: Sequence[TrackMel], seed: int) -> PairSampler:
        return _sampler(ts, model_cfg, cfg, seed)

    sampler = sampler_for(tracks, cfg.seed)
    rng = np.random.default_rng(cfg.seed + 1)
    history: list[dict[str, float]] = []
    start_epoch = 0
    state_path = Path(str(out) + ".state")
    if resume and state_path.exists():
        st = torch.load(state_path, map_location=device, weights_only=False)
        _load_stage_one(net, st["state"])
        opt.load_state_dict(st["opt"])
        sched.load_state_dict(st["sched"])
        sampler.rng.bit_generator.state = st["sampler_rng"]
        rng.bit_generator.state = st["rng"]
        torch.set_rng_state(st["torch_rng"])
        history = st["history"]
        start_epoch = st["epoch"]
    batcher = Batcher(net, device)
    for epoch in range(start_epoch, cfg.epochs):
        net.train()
        losses = []
        for step in range(cfg.steps_per_epoch):
            with autocast(cfg.precision, device):
                loss = _step_loss(net, sampler, batcher, cfg.batch_size, cfg.gain_jitter_db,
                                  rng)
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            if progress:
                progress(epoch * cfg.steps_per_epoch + step + 1, total,
                         {"loss": float(np.mean(losses[-20:]))})
        val_sampler = sampler_for(val_tracks, cfg.seed + 100)
        row = {"epoch": float(epoch + 1), "loss": float(np.mean(losses)),
               **_quick_val(net, val_sampler, batcher, 256)}
        history.append(row)
        save_checkpoint(net, state_path, extra={
            "opt": opt.state_dict(), "sched": sched.state_dict(), "epoch": epoch + 1,
            "sampler_rng": sampler.rng.bit_generator.state, "rng": rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(), "history": history})
    if fine_steps:  # zero without a fine seam
        train_fine_seam(net, tracks, steps=fine_steps, batch_size=cfg.fine_batch, lr=cfg.lr,
                        weight_decay=cfg.weight_decay, gain_jitter_db=cfg.gain_jitter_db,
                        min_gap_s=cfg.min_gap_s, seed=cfg.seed, device=device,
                        progress=_after(progress, stage_one, total), precision=cfg.precision)
    _later_stage("tone", net, tracks, cfg, device, progress, done=stage_one + fine_steps,
                 total=total)
    _later_stage("lag", net, tracks, cfg, device, progress,
                 done=stage_one + fine_steps + tone_steps, total=total)
    scale, bias = calibrate_net(net, sampler_for(val_tracks, cfg.seed + 200), batcher,
                                 cfg.calib_pairs)
    net.to("cpu").eval()
    meta: dict[str, Any] = {"train_config": asdict(cfg), "history": history,
                            "train_tracks": len(tracks), "val_tracks": len(val_tracks),
                            "groups": sorted({t.group for t in tracks})}
    ContinuationModel(net=net, meta=meta).save(out)
    return TrainResult(checkpoint=Path(out), epochs_done=cfg.epochs, history=history,
                       scale=scale, bias=bias, seconds=time.perf_counter() - t0)


def _learned(cfg: ModelConfig, *, also: tuple[str, ...] = ()) -> dict[str, Any]:
    """The config's fields that trained weights depend on (all but the splice term's, and
    those starting with ``also``)."""
    return {k: v for k, v in asdict(cfg).items() if not k.startswith(("splice_", *also))}


def _rebuild(model: ContinuationModel, cfg: ModelConfig, *,
             fresh: frozenset[str]) -> ContinuationNet:
    """A net under ``cfg`` holding ``model``'s weights, less the calibration buffers and the
    modules named in ``fresh`` (which the caller fits again); ``model``'s weights of modules
    ``cfg`` lacks are dropped."""
    net = ContinuationNet(cfg)
    own = net.state_dict().keys()
    refit = {"splice_cal", "tone_cal", "lag_cal"}
    state = {k: v for k, v in model.net.state_dict().items()
             if k not in refit and not k.startswith(tuple(fresh)) and k in own}
    missing, _ = net.load_state_dict(state, strict=False)
    stray = [k for k in missing if k not in refit and not k.startswith(tuple(fresh))]
    if stray:
        raise RuntimeError(f"checkpoint does not fit its own config: {stray[:5]}")
    return net


def recalibrate(model: ContinuationModel, val_tracks: Sequence[TrackMel], *,
                model_cfg: ModelConfig | None = None,
                cfg: TrainConfig | None = None) -> ContinuationModel:
    """Fit a trained model's calibration again on ``val_tracks``, which must carry audio.

    ``model_cfg`` may differ from the model's own config only in terms that have no trained
    weights (the splice term): this is how a model trained before them gains them, without
    retraining. The weights are untouched. With the training run's validation tracks and
    ``cfg`` (its seed and calibration size), the result is exactly the checkpoint a full run
    under ``model_cfg`` writes, since calibration is the last step of training and draws from
    its own seeded sampler.
    """
    cfg = cfg or TrainConfig()
    new_cfg = model_cfg or model.config
    if _learned(new_cfg) != _learned(model.config) or (
            new_cfg.has_tone_net and model.net.tone is None):
        raise ValueError("recalibration may change only the splice term's settings; "
                         "`extend` trains a learned tone or lag term, `train` a new model")
    net = _rebuild(model, new_cfg, fresh=frozenset())
    device = pick_device()
    net.to(device)
    calibrate_net(net, _sampler(val_tracks, new_cfg, cfg, cfg.seed + 200), Batcher(net, device),
                   cfg.calib_pairs)
    net.to("cpu").eval()
    return ContinuationModel(net=net, meta=dict(model.meta))


def extend(model: ContinuationModel, tracks: Sequence[TrackMel], val_tracks: Sequence[TrackMel],
           *, model_cfg: ModelConfig, cfg: TrainConfig | None = None,
           progress: Callable[[int, int, dict[str, float]], None] | None = None
           ) -> ContinuationModel:
    """Train a trained model's later terms under ``model_cfg`` on ``tracks``, then calibrate
    on ``val_tracks``; both must carry audio.

    Each of the learned tone term and the lag term is trained afresh where the model lacks it
    or its settings change (the tone term's include the splice term's, whose spectra it
    reads); the others are kept. ``model_cfg`` may differ from the model's config only in the splice
    term's settings and those two terms' (``tone_*``, ``lag_*``): this is how a model trained
    before them gains them, without training stages one and two again, whose weights are
    kept. With the training run's tracks and ``cfg``, the result is exactly the checkpoint a
    full run under ``model_cfg`` writes: stages three and four and the calibration draw from
    their own seeded samplers.
    """
    cfg = cfg or TrainConfig()
    later = ("tone_", "lag_")
    if _learned(model_cfg, also=later) != _learned(model.config, also=later):
        raise ValueError("extending may change only the splice, learned tone and lag terms' "
                         "settings; train a new model for anything else")

    def changed(*prefixes: str) -> bool:
        def pick(c: ModelConfig) -> dict[str, Any]:
            return {k: v for k, v in asdict(c).items() if k.startswith(prefixes)}

        return pick(model_cfg) != pick(model.config)

    fresh = set()
    if model.net.tone is None or changed("tone_", "splice_"):
        fresh.add("tone.")
    if model.net.lag is None or changed("lag_"):
        fresh.add("lag.")
    net = _rebuild(model, model_cfg, fresh=frozenset(fresh))
    device = pick_device()
    net.to(device)
    tone_steps = cfg.tone_steps if "tone." in fresh and net.tone is not None else 0
    lag_steps = cfg.lag_steps if "lag." in fresh and net.lag is not None else 0
    total = tone_steps + lag_steps
    if tone_steps:
        _later_stage("tone", net, tracks, cfg, device, progress, done=0, total=total)
    if lag_steps:
        _later_stage("lag", net, tracks, cfg, device, progress, done=tone_steps, total=total)
    calibrate_net(net, _sampler(val_tracks, model_cfg, cfg, cfg.seed + 200),
                   Batcher(net, device), cfg.calib_pairs)
    net.to("cpu").eval()
    return ContinuationModel(net=net, meta={**model.meta, "train_config": asdict(cfg)})
