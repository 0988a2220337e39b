"""Where the same-song information sits: distances of short-window spectra across the cut.

    .venv/bin/python bench/seam_windows.py --home radio-data-dev --holdout ufoai
    .venv/bin/python bench/seam_windows.py --home radio-data-ci

Builds the evaluation set `radio eval` uses (same seed, 500 anchors; every track when no
``--holdout`` is given) and scores each pair by minus the mean L1 distance between the log power
spectrum of A's last window and B's first window, for windows of 4 to 64 ms. No learning: it
shows how much of the same-song task the first milliseconds either side of the cut can answer,
which is what the fine seam (`ranking.layers.FineSeam`, 16 ms windows) was built on.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from radio.config import Settings
from radio.modeling import load_model_inputs
from ranking.evaluate import build_eval_set, score_structure
from ranking.model import ModelConfig


def _log_spectra(frames: np.ndarray, n_fft: int) -> np.ndarray:
    window = np.hanning(n_fft).astype(np.float32)
    power = np.abs(np.fft.rfft(frames * window, axis=-1)) ** 2
    out: np.ndarray = np.log(power + 1e-8)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--holdout", action="append", default=[])
    ap.add_argument("--anchors", type=int, default=500)
    args = ap.parse_args()
    cfg = ModelConfig()
    inputs = load_model_inputs(Settings(home=args.home), cfg=cfg, holdout=args.holdout,
                               keep_audio=not args.holdout)
    tracks = inputs.test if args.holdout else inputs.train
    ev = build_eval_set(tracks, clip_hops=cfg.clip_hops, hop=cfg.hop, sr=cfg.sr,
                        n_anchors=args.anchors, seed=0)
    print(f"{len(tracks)} tracks, {args.anchors} anchors")
    print(f"{'window':>8} {'R@1 other':>10} {'AUC other':>10} {'R@1 same':>9} {'AUC same':>9}")
    for n_fft in (64, 128, 256, 512, 1024):
        tail = _log_spectra(ev.clips[:, -n_fft:], n_fft)
        head = _log_spectra(ev.clips[:, :n_fft], n_fft)

        def score(a: np.ndarray, b: np.ndarray, tail: np.ndarray = tail,
                  head: np.ndarray = head) -> np.ndarray:
            out: np.ndarray = -np.abs(tail[a] - head[b]).mean(1)
            return out

        m = score_structure(ev, score)
        print(f"{1000 * n_fft / cfg.sr:>6.0f}ms {m['recall1_other']:>10.3f} "
              f"{m['auc_other']:>10.3f} {m['recall1_same']:>9.3f} {m['auc_same']:>9.3f}")


if __name__ == "__main__":
    main()
