"""``radio train``, ``radio calibrate``, ``radio eval`` and ``radio embed``: the continuation
model's commands.

Registered on the `radio.cli` group; each parses options, calls `radio.modeling` or `ranking`,
and prints the result (JSON with ``--json``).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from radio.cli_common import echo_json, home_option, json_option, settings_from, stderr_console

if TYPE_CHECKING:
    from radio.config import Settings
    from radio.modeling import ModelInputs
    from radio.records import Track
    from ranking.inference import ContinuationModel
    from ranking.model import ModelConfig
    from ranking.pairs import TrackMel
    from ranking.train import TrainConfig

__all__ = ["calibrate_cmd", "embed_cmd", "eval_cmd", "train_cmd"]


def _bar(label: str) -> Progress:
    console = stderr_console()
    return Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=console,
                    disable=not console.is_terminal, transient=True)


@click.command("train")
# The defaults are the shipped model's recipe (`ranking.train.TrainConfig`'s).
@click.option("--epochs", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--steps", "steps_per_epoch", type=click.IntRange(min=1), default=480,
              show_default=True, help="Optimiser steps per epoch.")
@click.option("--batch", "batch_size", type=click.IntRange(min=4), default=64, show_default=True)
@click.option("--fine-steps", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Steps of the second stage, the fine seam on audio at the cuts (0: none).")
@click.option("--tone-steps", type=click.IntRange(min=0), default=1500, show_default=True,
              help="Steps of the third stage, the learned tone term on audio at the cuts "
                   "(0: none).")
@click.option("--lag-steps", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Steps of the fourth stage, the lag term on the log-mel either side of "
                   "the cuts (0: none).")
@click.option("--extend", "extend_from", type=click.Path(dir_okay=False, path_type=Path),
              default=None, metavar="CHECKPOINT",
              help="Keep CHECKPOINT's trained stages and train only the learned tone and lag "
                   "terms it lacks, with the tracks, seed and held-out patterns it was "
                   "trained with; then calibrate. The other training options are ignored.")
@click.option("--precision", type=click.Choice(["float32", "bfloat16"]), default="bfloat16",
              show_default=True,
              help="Training arithmetic: bfloat16 autocast is about 1.5x faster on CPUs with "
                   "AVX512-BF16 or AMX (weights, optimiser and inference stay float32).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--resume", is_flag=True, help="Continue the last interrupted run.")
@click.option("--holdout", multiple=True, metavar="PATTERN",
              help="Leave out every track whose album or path contains PATTERN (repeatable).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Checkpoint path (default: RADIO_HOME/models/continuation.pt).")
@click.option("--ship", is_flag=True,
              help="Also copy the result into the package as its default weights.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Decoding processes (default: every core).")
@json_option
@home_option
@click.pass_context
def train_cmd(ctx: click.Context, epochs: int, steps_per_epoch: int, batch_size: int,
              fine_steps: int, tone_steps: int, lag_steps: int, extend_from: Path | None,
              precision: str,
              seed: int, resume: bool, holdout: tuple[str, ...], out: Path | None, ship: bool,
              workers: int | None, as_json: bool) -> None:
    """Train the continuation model on the library's own songs, cut into clip pairs."""
    from radio.modeling import load_model_inputs, model_path
    from ranking.model import ModelConfig
    from ranking.pairs import split_tracks
    from ranking.train import TrainConfig, train

    settings = settings_from(ctx)
    out = out or model_path(settings)
    if extend_from is not None:
        _extend(settings, extend_from, out, tone_steps, lag_steps, workers, as_json)
        _ship(out, ship)
        return
    mcfg = ModelConfig(fine_frames=ModelConfig.fine_frames if fine_steps else 0,
                       tone_channels=ModelConfig.tone_channels if tone_steps else 0,
                       lag_channels=ModelConfig.lag_channels if lag_steps else 0)
    tcfg = TrainConfig(epochs=epochs, steps_per_epoch=steps_per_epoch, batch_size=batch_size,
                       seed=seed, fine_steps=fine_steps, tone_steps=tone_steps,
                       lag_steps=lag_steps, precision=precision)
    with _bar("decode") as bar:
        task = bar.add_task("decode", total=None, info="")
        # The fine seam and the tone term train, and the splice term calibrates, on audio at
        # the cuts: keep every track's decoded audio.
        inputs = load_model_inputs(settings, cfg=mcfg, holdout=holdout, workers=workers,
                                   keep_audio=mcfg.fine_frames > 0 or mcfg.splice_size > 0,
                                   progress=lambda d, t: bar.update(task, completed=d, total=t))
    tr, val, _ = split_tracks(inputs.train, val_fraction=0.1, seed=seed)
    with _bar("train") as bar:
        task = bar.add_task("train", total=None, info="")

        def progress(step: int, total: int, info: dict[str, float]) -> None:
            bar.update(task, completed=step, total=total, info=f"loss {info['loss']:.3f}")

        result = train(tr, val, out=out, model_cfg=mcfg, cfg=tcfg, resume=resume,
                       progress=progress)
    from ranking.inference import ContinuationModel

    model = ContinuationModel.load(out)
    model.meta["holdout"] = list(holdout)
    # Content hashes of everything it learned from: `radio eval` refuses to score them.
    model.meta["train_track_hashes"] = [t.track_id for t in tr + val]
    model.save(out)
    _ship(out, ship)
    summary = {"checkpoint": str(out), "train_tracks": len(tr), "val_tracks": len(val),
               "held_out_tracks": len(inputs.test), "seconds": round(result.seconds, 1),
               "scale": result.scale, "bias": result.bias, "history": result.history}
    if as_json:
        echo_json(summary)
        return
    last = result.history[-1]
    click.echo(f"trained on {len(tr)} tracks ({len(val)} for calibration) in "
               f"{result.seconds / 60:.1f} min -> {out}")
    click.echo(f"validation AUC vs other songs {last['val_auc_easy']:.3f}, "
               f"vs the same song {last['val_auc_same']:.3f}")


def _ship(checkpoint: Path, ship: bool) -> None:
    """With ``ship``, copy ``checkpoint`` into the package as its default weights."""
    if ship:
        target = resources.files("ranking").joinpath("weights", "continuation.pt")
        with resources.as_file(target) as dest:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(checkpoint, dest)


def _extend(settings: Settings, src: Path, out: Path, tone_steps: int, lag_steps: int,
            workers: int | None, as_json: bool) -> None:
    """``radio train --extend``: train the learned tone and lag terms ``src`` lacks (or whose
    settings changed) on the tracks it was trained with, calibrate, and save to ``out``."""
    from dataclasses import asdict, replace

    from radio.errors import RadioError
    from ranking.inference import ContinuationModel
    from ranking.model import ModelConfig
    from ranking.pairs import split_tracks
    from ranking.train import extend

    t0 = time.perf_counter()
    model = ContinuationModel.load(src)
    _require_training_record(model, src)
    if not (tone_steps and lag_steps):
        raise RadioError("--extend trains the learned tone and lag terms: give --tone-steps "
                         "and --lag-steps above 0")
    tcfg = replace(_train_config(model), tone_steps=tone_steps, lag_steps=lag_steps)
    mcfg = replace(_splice_now(model), **{k: v for k, v in asdict(ModelConfig()).items()
                                          if k.startswith(("tone_", "lag_"))})
    inputs = _decode_for_calibration(settings, mcfg, workers=workers,
                                     holdout=tuple(model.meta.get("holdout", ())))
    tr, val, _ = split_tracks(inputs.train, val_fraction=0.1, seed=tcfg.seed)
    if {t.track_id for t in tr + val} != set(model.meta["train_track_hashes"]):
        raise RadioError(f"this library is not the one {src} was trained on; retrain with "
                         "`radio train`")
    with _bar("extend") as bar:
        task = bar.add_task("extend", total=None, info="")

        def progress(step: int, total: int, info: dict[str, float]) -> None:
            bar.update(task, completed=step, total=total, info=f"loss {info['loss']:.3f}")

        result = extend(model, tr, val, model_cfg=mcfg, cfg=tcfg, progress=progress)
    result.save(out)
    seconds = time.perf_counter() - t0
    summary = {"checkpoint": str(out), "train_tracks": len(tr), "val_tracks": len(val),
               "seconds": round(seconds, 1), "tone_cal": result.net.tone_cal.tolist(),
               "lag_cal": result.net.lag_cal.tolist()}
    if as_json:
        echo_json(summary)
        return
    click.echo(f"trained the later terms on {len(tr)} tracks ({len(val)} for calibration) in "
               f"{seconds / 60:.1f} min -> {out}")


@click.command("calibrate")
@click.option("--model", "model_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Checkpoint (default: RADIO_HOME/models/continuation.pt; "
                                 "with --library, the shipped model if there is none).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the result (default: over the checkpoint; with --library, "
                   "RADIO_HOME/models/continuation.pt).")
@click.option("--library", "on_library", is_flag=True,
              help="Fit the calibration to this library's own songs, cut up (no labels "
                   "needed), instead of the training run's calibration tracks.")
@click.option("--tracks", "n_tracks", type=click.IntRange(min=4), default=40,
              show_default=True, help="With --library: how many songs to cut up at most.")
@json_option
@home_option
@click.pass_context
def calibrate_cmd(ctx: click.Context, model_file: Path | None, out: Path | None,
                  on_library: bool, n_tracks: int, as_json: bool) -> None:
    """Fit a model's calibration again, adding the splice term; weights unchanged.

    Uses the calibration tracks, seed and held-out patterns the model was trained with, so the
    result is the model `radio train` would now write from the same run. With --library it
    uses this library's songs instead (those the model never learned from), so that its
    probabilities hold on this music: on a soundtrack unlike the training corpus, this took
    the calibration error from about 0.08 to 0.025-0.044 (BENCHMARKS.md).
    """
    from radio.errors import RadioError
    from radio.modeling import model_path, resolve_model
    from ranking.inference import ContinuationModel
    from ranking.pairs import split_tracks

    settings = settings_from(ctx)
    src = model_file or model_path(settings)
    model = resolve_model(settings, model_file) if on_library else ContinuationModel.load(src)
    tcfg = _train_config(model)
    mcfg = _splice_now(model)
    if on_library:
        seen = _learned_from(model)

        def pick(tracks: Sequence[Track]) -> list[Track]:  # a seeded pick of unseen songs
            import numpy as np

            fresh = sorted((t for t in tracks if t.content_hash not in seen),
                           key=lambda t: t.content_hash)
            keep = np.random.default_rng(tcfg.seed).permutation(len(fresh))[:n_tracks]
            return [fresh[i] for i in sorted(keep.tolist())]

        songs = _decode_for_calibration(settings, mcfg, only=pick).train
        if len(songs) < 4:
            raise RadioError("calibrating on this library needs at least 4 songs the model has "
                             f"not learned from; it has {len(songs)}")
        _refit(model, songs, mcfg, tcfg, out or model_path(settings), as_json,
               "library_tracks", record=True)
        return
    _require_training_record(model, src)
    inputs = _decode_for_calibration(settings, mcfg,
                                     holdout=tuple(model.meta.get("holdout", ())))
    _, val, _ = split_tracks(inputs.train, val_fraction=0.1, seed=tcfg.seed)
    trained = set(model.meta["train_track_hashes"])
    if not val or any(t.track_id not in trained for t in val):
        raise RadioError(f"this library is not the one {src} was trained on: its calibration "
                         "tracks differ; retrain with `radio train`")
    _refit(model, val, mcfg, tcfg, out or src, as_json, "val_tracks", record=False)


def _require_training_record(model: ContinuationModel, src: Path) -> None:
    """Raise unless ``model`` records its training run (config and tracks), which
    `radio calibrate` and `radio train --extend` repeat."""
    from radio.errors import RadioError

    if not model.meta.get("train_config") or "train_track_hashes" not in model.meta:
        raise RadioError(f"{src} does not record how it was trained; retrain it with "
                         "`radio train`")


def _learned_from(model: ContinuationModel) -> set[str]:
    """Content hashes of the songs the model was trained or calibrated on."""
    return set(model.meta.get("train_track_hashes", ())) | set(
        model.meta.get("calibration_track_hashes", ()))


def _train_config(model: ContinuationModel) -> TrainConfig:
    """The seed and calibration size the model was trained with (defaults where unrecorded)."""
    from dataclasses import fields

    from ranking.train import TrainConfig

    known = {f.name for f in fields(TrainConfig)}
    # Models from before the precision setting were all trained in float32.
    saved = {"precision": "float32", **(model.meta.get("train_config") or {})}
    return TrainConfig(**{k: v for k, v in saved.items() if k in known})


def _splice_now(model: ContinuationModel) -> ModelConfig:
    """The model's config with today's splice settings (the only ones calibration may add)."""
    from dataclasses import asdict, replace

    from ranking.model import ModelConfig

    return replace(model.config, **{k: v for k, v in asdict(ModelConfig()).items()
                                    if k.startswith("splice_")})


def _decode_for_calibration(settings: Settings, mcfg: ModelConfig,
                            **kwargs: Any) -> ModelInputs:
    from radio.modeling import load_model_inputs

    with _bar("decode") as bar:
        task = bar.add_task("decode", total=None, info="")
        return load_model_inputs(settings, cfg=mcfg, keep_audio=True,
                                 progress=lambda d, t: bar.update(task, completed=d, total=t),
                                 **kwargs)


def _refit(model: ContinuationModel, tracks: Sequence[TrackMel], mcfg: ModelConfig,
           tcfg: TrainConfig, dest: Path, as_json: bool, count_key: str, *,
           record: bool) -> None:
    """Recalibrate on ``tracks`` under ``mcfg``, save to ``dest`` (recording the tracks when
    ``record``), and report."""
    from ranking.train import recalibrate

    result = recalibrate(model, tracks, model_cfg=mcfg, cfg=tcfg)
    if record:
        result.meta["calibration_track_hashes"] = sorted(t.track_id for t in tracks)
    dest.parent.mkdir(parents=True, exist_ok=True)
    result.save(dest)
    cal = {"seam_cal": result.net.seam_cal.tolist(),
           "splice_cal": result.net.splice_cal.tolist() if mcfg.splice_size else []}
    if as_json:
        echo_json({"checkpoint": str(dest), count_key: len(tracks), **cal})
        return
    click.echo(f"calibrated on {len(tracks)} tracks -> {dest}; splice weights "
               f"{', '.join(f'{w:.3f}' for w in cal['splice_cal'])}")


@click.command("eval")
@click.option("--model", "model_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Checkpoint (default: the library's, else the shipped one).")
@click.option("--holdout", multiple=True, metavar="PATTERN",
              help="Evaluate on tracks whose album or path contains PATTERN (default: the "
                   "patterns the model was trained without; else every track).")
@click.option("--anchors", type=click.IntRange(min=10), default=500, show_default=True)
@click.option("--no-baselines", is_flag=True, help="Skip the (slow) handcrafted baselines.")
@click.option("--seed", type=int, default=0, show_default=True)
@json_option
@home_option
@click.pass_context
def eval_cmd(ctx: click.Context, model_file: Path | None, holdout: tuple[str, ...],
             anchors: int, no_baselines: bool, seed: int, as_json: bool) -> None:
    """Score held-out tracks with the model and two baselines, side by side."""
    from radio.errors import RadioError
    from radio.modeling import load_model_inputs, resolve_model
    from ranking.evaluate import build_eval_set, evaluate

    settings = settings_from(ctx)
    model = resolve_model(settings, model_file)
    patterns = holdout or tuple(model.meta.get("holdout", ()))
    cfg = model.config
    inputs = load_model_inputs(settings, cfg=cfg, holdout=patterns, keep_audio=not patterns)
    test = inputs.test if patterns else inputs.train
    trained_on = _learned_from(model)
    leaked = [t.track_id for t in test if t.track_id in trained_on]
    if leaked:
        raise RadioError(f"{len(leaked)} evaluation tracks were used to train or calibrate "
                         "this model; "
                         "pick held-out music with --holdout")
    ev = build_eval_set(test, clip_hops=cfg.clip_hops, hop=cfg.hop, sr=cfg.sr,
                        n_anchors=anchors, seed=seed)
    t0 = time.perf_counter()
    result = evaluate(model, ev, baselines=not no_baselines, seed=seed)
    report = {"tracks": len(test), "groups": sorted({t.group for t in test}),
              "anchors": anchors, "seconds": round(time.perf_counter() - t0, 1),
              "scorers": result}
    if as_json:
        echo_json(report)
        return
    table = Table("scorer", "R@1 other", "AUC other", "R@1 same", "AUC same", "ECE",
                  box=None, pad_edge=False)
    for name, m in result.items():
        ece = f"{m['ece']:.3f}" if "ece" in m else "-"
        table.add_row(name, f"{m['recall1_other']:.3f}", f"{m['auc_other']:.3f}",
                      f"{m['recall1_same']:.3f}", f"{m['auc_same']:.3f}", ece)
    Console().print(table)
    m = result["model"]
    click.echo(f"{len(test)} held-out tracks, {anchors} anchors; "
               f"10k pairs from embeddings in {m['ms_per_10k_pairs_from_embeddings']:.2f} ms, "
               f"{m['clips_embedded_per_s']:.0f} clips embedded/s")


@click.command("embed")
@click.option("--model", "model_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Checkpoint (default: the library's, else the shipped one).")
@json_option
@home_option
@click.pass_context
def embed_cmd(ctx: click.Context, model_file: Path | None, as_json: bool) -> None:
    """Embed every track's exit and entry cues into the FAISS cue index (incremental)."""
    from radio.modeling import embed_library

    settings = settings_from(ctx)
    report = embed_library(settings, model_file=model_file)
    if as_json:
        echo_json(report)
        return
    click.echo(f"embedded {report['tracks_embedded']:.0f} tracks "
               f"({report['cues_embedded']:.0f} cues) in {report['seconds']:.1f} s; "
               f"index holds {report['index_vectors']:.0f} vectors")
