"""Stage-one recipes over the leave-one-package-out folds, many at once on one GPU.

    # here: pack the library's log-mel, cuts and folds (about 105 MB for the development corpus)
    .venv/bin/python bench/stage_one_sweep.py export --home radio-data-dev --out sweep-data
    # on a GPU machine (torch and numpy suffice: neither librosa nor deap is needed there)
    python3 bench/stage_one_sweep.py run sweep-data sweep-out --procs 14 \\
        --configs base,base_s1,long4 --folds planetblupi,nexuiz,ufoai,all
    python3 bench/stage_one_sweep.py table sweep-out

Each job trains stage one (the towers and the coarse seam) with `ranking.train.train`, exactly
as `radio train --epochs 8 --steps 120 --batch 64` does before its second stage, with the
config's changes; it calibrates on the fold's calibration tracks (the split `radio train`
makes), saves the checkpoint, and scores the held-out package by the coarse seam and the towers
on log-mel windows: the clips `radio eval` draws (`ranking.evaluate.draw_eval_clips`: seed 0,
500 anchors, 9 other songs and 9 of the same song per anchor), cut from frames rather than
decoded audio. Fold ``all`` holds nothing out (the shipped model's training set) and is not
scored.

The figures are for comparing recipes in one run. The issue's figures come from `radio eval`
on a full model: stage one from here, joined to a fine seam and recalibrated with the splice
term (`BENCHMARKS.md`, "Stage one on a GPU"). The log-mel travels as 8-bit steps of 0.55 dB,
which is far below the gain jitter the training applies anyway.
"""

from __future__ import annotations

import argparse
import json
import lzma
import multiprocessing as mp
import os
import sys
import time
import types
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Recipe name -> (TrainConfig changes, ModelConfig changes), against the shipped recipe.
BASE: dict[str, Any] = {"epochs": 8, "steps_per_epoch": 120, "batch_size": 64, "seed": 0,
                        "fine_steps": 0}
CONFIGS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "base": ({}, {}),
    "base_s1": ({"seed": 1}, {}),
    "reg": ({"weight_decay": 0.05}, {"dropout": 0.3}),
    "seam24": ({}, {"seam_frames": 24}),
    "wide": ({}, {"channels": 256}),
    "lr4": ({"lr": 4e-3}, {}),
    "b32": ({"batch_size": 32, "steps_per_epoch": 240}, {}),
    "b32lr4": ({"batch_size": 32, "steps_per_epoch": 240, "lr": 4e-3}, {}),
    "long4": ({"steps_per_epoch": 480}, {}),
    "long8": ({"steps_per_epoch": 960}, {}),
}
LO_DB, STEP_DB = -100.0, 0.55  # the 8-bit log-mel: -100 dB .. +40 dB
PARTS = 2  # the packed log-mel is split so that each part travels alone (64 MiB limits)
_DATA: dict[str, Any] = {}


def export(home: Path, out: Path, folds: list[str]) -> None:
    """Pack every track's log-mel (uint8, lzma), cuts, tempo, key and fold memberships."""
    import librosa

    from radio.config import Settings
    from radio.modeling import is_held_out, load_model_inputs
    from radio.store import Store
    from ranking.model import ModelConfig

    settings = Settings(home=home)
    with Store(settings) as store:
        tracks = store.tracks()
    cfg = ModelConfig()
    inputs = load_model_inputs(settings, cfg=cfg, workers=1)
    out.mkdir(parents=True, exist_ok=True)
    meta, mels = [], []
    for t, tm in zip(tracks, inputs.train, strict=True):
        q = np.clip(np.round((tm.mel.astype(np.float32) - LO_DB) / STEP_DB), 0, 255)
        mels.append(q.astype(np.uint8).T)
        meta.append({"track_id": tm.track_id, "group": tm.group, "tempo": float(tm.tempo),
                     "camelot": tm.camelot, "cuts": tm.cuts.tolist(), "frames": int(q.shape[1]),
                     "folds": [f for f in folds if is_held_out(t, [f])]})
    raw = np.concatenate(mels, 0)
    bounds = np.linspace(0, len(raw), PARTS + 1).astype(int)
    for k in range(PARTS):
        part = np.ascontiguousarray(raw[bounds[k] : bounds[k + 1]])
        (out / f"mel{k}.xz").write_bytes(lzma.compress(part.tobytes(), preset=6))
    fb = librosa.filters.mel(sr=cfg.sr, n_fft=cfg.n_fft, n_mels=cfg.n_mels, fmin=cfg.fmin,
                             fmax=cfg.fmax)
    np.save(out / "fb.npy", fb)
    (out / "meta.json").write_text(json.dumps({"lo": LO_DB, "step": STEP_DB, "tracks": meta}))
    print(f"{len(meta)} tracks, {raw.shape[0]} frames -> {out}")


def _import_ranking(data: Path) -> None:
    """Let `ranking`'s modules import where only torch and numpy are installed: skip the
    package's __init__ (the sequencer needs deap) and serve the mel filterbank from the export
    (librosa computes it here)."""
    try:
        import deap  # noqa: F401
        import librosa  # noqa: F401
        return
    except ImportError:
        pass
    pkg = types.ModuleType("ranking")
    pkg.__path__ = [str(ROOT / "ranking")]
    sys.modules["ranking"] = pkg
    fb = np.load(data / "fb.npy")
    stub = types.ModuleType("librosa")
    stub.filters = types.SimpleNamespace(mel=lambda **_: fb)  # type: ignore[attr-defined]
    sys.modules["librosa"] = stub


def _load(data: Path) -> None:
    meta = json.loads((data / "meta.json").read_text())
    raw = b"".join(lzma.decompress((data / f"mel{k}.xz").read_bytes()) for k in range(PARTS))
    q = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 64)
    _DATA["meta"] = meta
    _DATA["mel"] = (q.astype(np.float32) * meta["step"] + meta["lo"]).astype(np.float16).T.copy()


def _tracks() -> list[tuple[list[str], Any]]:
    from ranking.pairs import TrackMel

    out, o = [], 0
    for m in _DATA["meta"]["tracks"]:
        f = m["frames"]
        out.append((m["folds"], TrackMel(
            track_id=m["track_id"], group=m["group"], mel=_DATA["mel"][:, o : o + f],
            cuts=np.asarray(m["cuts"], dtype=np.int64), tempo=m["tempo"], camelot=m["camelot"])))
        o += f
    return out


def _mel_eval(net: Any, test: list[Any], cfg: Any, n_anchors: int = 500,
              n_cand: int = 9) -> dict[str, dict[str, float]]:
    """R@1 and AUC of the towers' inner product and the coarse seam logit, against other songs
    and the same song, on the clips `radio eval` draws (`ranking.evaluate.draw_eval_clips`,
    seed 0), cut from the log-mel instead of the audio."""
    import torch

    from ranking.calibration import Batcher
    from ranking.evaluate import EvalSet, draw_eval_clips, score_structure

    usable = [t for t in test if t.cuts.size]
    d = draw_eval_clips(usable, clip_hops=cfg.clip_hops, gap_frames=round(8.0 * cfg.sr / cfg.hop),
                        n_anchors=n_anchors, n_cand=n_cand, seed=0)
    mel = np.stack([usable[i].mel[:, s : s + cfg.clip_frames] for i, s in d.keys])
    ev = EvalSet(clips=mel, anchors=d.anchors, truth=d.truth, other=d.other, same=d.same,
                 sr=cfg.sr)
    batcher = Batcher(net, next(net.parameters()).device)
    net.eval()
    with torch.inference_mode():
        clips = [batcher(mel[c : c + 500].astype(np.float32)) for c in range(0, len(mel), 500)]
        e_exit = torch.cat([net.embed_exit_mel(x) for x in clips])
        e_entry = torch.cat([net.embed_entry_mel(x) for x in clips])

        def towers(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            out: np.ndarray = (e_exit[a] * e_entry[b]).sum(1).cpu().numpy()
            return out

        def coarse(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            parts = []
            for c in range(0, len(a), 500):  # in slices: many jobs share the GPU's memory
                ia, ib = a[c : c + 500], b[c : c + 500]
                dots = (e_exit[ia] * e_entry[ib]).sum(1)
                parts.append(net.seam_logit(dots, batcher(mel[ia].astype(np.float32)),
                                            batcher(mel[ib].astype(np.float32))).cpu().numpy())
            return np.concatenate(parts)

        found = {"towers": score_structure(ev, towers), "coarse": score_structure(ev, coarse)}
    keys = {"recall1_other": "r1_other", "auc_other": "auc_other", "recall1_same": "r1_same",
            "auc_same": "auc_same"}
    return {name: {short: r[k] for k, short in keys.items()} for name, r in found.items()}


def _job(args: tuple[str, str, str]) -> dict[str, Any]:
    name, fold, out_dir = args
    import torch

    torch.set_num_threads(1)
    if os.environ.get("SWEEP_MEMFRAC") and torch.cuda.is_available():
        torch.cuda.set_per_process_memory_fraction(float(os.environ["SWEEP_MEMFRAC"]))
    from ranking.inference import ContinuationModel
    from ranking.model import ModelConfig
    from ranking.pairs import split_tracks
    from ranking.train import TrainConfig, train

    t_changes, m_changes = CONFIGS[name]
    tcfg = TrainConfig(**{**BASE, **t_changes})
    # Stage one only: no fine seam (stage two) and no splice term (its calibration needs audio).
    mcfg = ModelConfig(fine_frames=0, splice_order=0, **m_changes)
    tracks = _tracks()
    rest = [t for f, t in tracks if fold not in f]
    test = [t for f, t in tracks if fold in f]
    tr, val, _ = split_tracks(rest, val_fraction=0.1, seed=tcfg.seed)
    t0 = time.time()
    out = Path(out_dir) / f"{name}-{fold}.pt"
    result = train(tr, val, out=out, model_cfg=mcfg, cfg=tcfg)
    Path(str(out) + ".state").unlink(missing_ok=True)
    row: dict[str, Any] = {"cfg": name, "fold": fold, "train_s": round(time.time() - t0, 1),
                           "val": result.history[-1], "n_train": len(tr), "n_val": len(val),
                           "n_test": len(test)}
    if test:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        model = ContinuationModel.load(out)
        net = model.net.to("cuda" if torch.cuda.is_available() else "cpu")
        row["test"] = _mel_eval(net, test, model.config)
    with open(Path(out_dir) / "results.jsonl", "a") as fh:
        fh.write(json.dumps(row) + "\n")
    print(json.dumps({k: row[k] for k in ("cfg", "fold", "train_s")}), flush=True)
    return row


def run(data: Path, out: Path, procs: int, configs: list[str], folds: list[str]) -> None:
    """Run every (config, fold) not yet in ``out/results.jsonl``, ``procs`` at a time."""
    _import_ranking(data)
    out.mkdir(parents=True, exist_ok=True)
    done: set[tuple[str, str]] = set()
    results = out / "results.jsonl"
    if results.exists():
        done = {(r["cfg"], r["fold"]) for r in map(json.loads, results.read_text().splitlines())}
    jobs = [(c, f, str(out)) for f in folds for c in configs if (c, f) not in done]
    t0 = time.time()
    _load(data)  # before the fork: the workers share the log-mel pages
    print(f"{len(jobs)} jobs, {len(done)} already done; log-mel loaded in "
          f"{time.time() - t0:.1f} s", flush=True)
    with mp.get_context("fork").Pool(procs) as pool:
        for _ in pool.imap_unordered(_job, jobs):
            pass
    print(f"all done in {time.time() - t0:.1f} s", flush=True)


def table(out: Path, reference: str = "planetblupi", baseline: str = "base") -> None:
    """Per recipe: the coarse seam's mean over the folds other than ``reference`` that it ran
    on, ``baseline``'s over the same folds beside it, the towers' mean, then ``reference``
    itself (each R@1 other / AUC other / R@1 same / AUC same)."""
    by: dict[str, dict[str, Any]] = defaultdict(dict)
    for line in (out / "results.jsonl").read_text().splitlines():
        r = json.loads(line)
        if "test" in r:
            by[r["cfg"]][r["fold"]] = r["test"]
    keys = ("r1_other", "auc_other", "r1_same", "auc_same")

    def mean(cfg: str, part: str, folds: list[str]) -> str:
        return " / ".join(f"{np.mean([by[cfg][f][part][k] for f in folds]):.3f}" for k in keys)

    print(f"| recipe | folds | coarse seam, mean of the others | {baseline} on the same folds | "
          f"towers, mean of the others | coarse seam, {reference} |")
    print("|---|---|---|---|---|---|")
    for cfg, folds in by.items():
        others = sorted(f for f in folds if f != reference)
        if not others:
            continue
        base = mean(baseline, "coarse", others) if all(f in by[baseline] for f in others) else "-"
        ref = (" / ".join(f"{folds[reference]['coarse'][k]:.3f}" for k in keys)
               if reference in folds else "-")
        print(f"| {cfg} | {len(others)} | {mean(cfg, 'coarse', others)} | {base} | "
              f"{mean(cfg, 'towers', others)} | {ref} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    ex = sub.add_parser("export")
    ex.add_argument("--home", type=Path, required=True)
    ex.add_argument("--out", type=Path, required=True)
    ex.add_argument("--folds", default="ufoai,warzone2100,drascula,hedgewars,nexuiz,"
                                      "flare-game,planetblupi,asc-music")
    rn = sub.add_parser("run")
    rn.add_argument("data", type=Path)
    rn.add_argument("out", type=Path)
    rn.add_argument("--procs", type=int, default=1)
    rn.add_argument("--configs", default="base")
    rn.add_argument("--folds", default="planetblupi")
    tb = sub.add_parser("table")
    tb.add_argument("out", type=Path)
    tb.add_argument("--reference", default="planetblupi")
    tb.add_argument("--baseline", default="base")
    a = ap.parse_args()
    if a.cmd == "export":
        export(a.home, a.out, a.folds.split(","))
    elif a.cmd == "run":
        run(a.data, a.out, a.procs, a.configs.split(","), a.folds.split(","))
    else:
        table(a.out, a.reference, a.baseline)


if __name__ == "__main__":
    main()
