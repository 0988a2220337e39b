"""Where `radio train`'s time goes: each stage's step time, its set-up, and the calibration.

Decodes a library as `radio train` does, then runs `ranking.train.train` once with the shipped
recipe's settings but a few steps of each stage, timing every step from the progress callback.
It prints the median step of each stage, the set-up before a stage's first step (the fine
seam's standardisation, the tone term's spectra at every cut), the epoch-end validation and the
final calibration, and projects the shipped recipe's full run from them:

    decode + epochs x (steps x stage-one step + validation) + fine steps x stage-two step
    + tone steps x stage-three step + lag steps x stage-four step + set-ups + calibration

(counting the fine seam's small set-up with every epoch's validation, a slight overestimate),
so that a change to any stage can be weighed against the <= 30 min target without a 30 min run.
The projection's baseline is a whole run's wall time, measured with `/usr/bin/time radio train`
(BENCHMARKS.md). Run alone on the machine: every figure is wall time.

    python bench/train_stages.py --home radio-data-dev [--steps 40] [--workers 2]
        [--precision float32 bfloat16] [--stage-one-steps N]

With several ``--precision`` values, each is timed in turn on the same decoded tracks, the
first being the baseline. ``--stage-one-steps`` projects a recipe with that many stage-one
steps instead of the shipped recipe's.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ranking.model import ModelConfig
    from ranking.pairs import TrackMel
    from ranking.train import TrainConfig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, required=True, help="RADIO_HOME of an ingested library")
    ap.add_argument("--steps", type=int, default=40, help="steps timed per stage")
    ap.add_argument("--workers", type=int, default=None, help="decoding processes")
    ap.add_argument("--precision", nargs="+", default=None, choices=["float32", "bfloat16"],
                    help="training arithmetic(s) to time (default: the shipped recipe's)")
    ap.add_argument("--stage-one-steps", type=int, default=None,
                    help="project this many stage-one steps (default: the shipped recipe's)")
    args = ap.parse_args()

    from radio.config import Settings
    from radio.modeling import load_model_inputs
    from ranking.model import ModelConfig
    from ranking.pairs import split_tracks
    from ranking.train import TrainConfig

    shipped = TrainConfig()
    mcfg = ModelConfig()
    t0 = time.perf_counter()
    inputs = load_model_inputs(Settings(home=args.home), cfg=mcfg, workers=args.workers,
                               keep_audio=True)
    decode = time.perf_counter() - t0
    tr, val, _ = split_tracks(inputs.train, val_fraction=0.1, seed=shipped.seed)
    s1 = args.stage_one_steps or shipped.epochs * shipped.steps_per_epoch
    args.precision = args.precision or [shipped.precision]
    print(f"{len(tr)} training + {len(val)} calibration tracks, {args.steps} steps timed per "
          f"stage; decode {decode:.1f} s")
    base = None
    for precision in args.precision:
        full = _time_stages(tr, val, mcfg, shipped, args.steps, precision, decode, s1)
        ratio = "" if base is None else f" ({base / full:.2f}x faster than {args.precision[0]})"
        base = base or full
        print(f"projected run ({s1} + {shipped.fine_steps} + {shipped.tone_steps} + "
              f"{shipped.lag_steps} steps, {precision}): {full / 60:.1f} min{ratio}")


def _time_stages(tr: list[TrackMel], val: list[TrackMel], mcfg: ModelConfig,
                 shipped: TrainConfig, n: int, precision: str, decode: float, s1: int) -> float:
    """Print one precision's stage timings; return the projected run's seconds."""
    from ranking.train import TrainConfig, train

    cfg = TrainConfig(epochs=1, steps_per_epoch=n, fine_steps=n, tone_steps=n, lag_steps=n,
                      precision=precision)
    stamps: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        train(tr, val, out=Path(tmp) / "m.pt", model_cfg=mcfg, cfg=cfg,
              progress=lambda step, total, info: stamps.append(time.perf_counter()))
        end = time.perf_counter()
    gaps = [b - a for a, b in zip([start, *stamps], stamps, strict=False)]
    # Steps 1..n are stage one, n+1..2n stage two, 2n+1..3n stage three, 3n+1..4n stage four.
    # The first step of a stage also carries what ran before it: stage one's set-up, stage
    # one's epoch-end validation and stage two's set-up, stage three's set-up, stage four's.
    one, two, three, four = (statistics.median(gaps[k * n + 1 : (k + 1) * n]) for k in range(4))
    setup_two = gaps[n] - two  # validation at the epoch's end + the fine seam's set-up
    setup_three = gaps[2 * n] - three
    setup_four = gaps[3 * n] - four
    calibration = end - stamps[-1]
    full = (decode + s1 * one + setup_two * shipped.epochs + shipped.fine_steps * two
            + shipped.tone_steps * three + setup_three + shipped.lag_steps * four + setup_four
            + calibration)
    rows = [
        (f"stage one: step (batch {shipped.batch_size})", one),
        ("epoch-end validation (+ the fine seam's set-up, once)", setup_two),
        (f"stage two: step (batch {shipped.fine_batch})", two),
        ("stage three: set-up (tone spectra at every cut)", setup_three),
        (f"stage three: step (batch {shipped.tone_batch})", three),
        ("stage four: set-up", setup_four),
        (f"stage four: step (batch {shipped.lag_batch})", four),
        (f"calibration ({shipped.calib_pairs} pairs)", calibration),
    ]
    print(f"{precision}:")
    for name, sec in rows:
        print(f"  {name:55s} {sec:8.3f} s")
    print(f"  stage one {s1 * one / 60:.1f} min, stage two {shipped.fine_steps * two / 60:.1f} "
          f"min, stage three {(shipped.tone_steps * three + setup_three) / 60:.1f} min, "
          f"stage four {(shipped.lag_steps * four + setup_four) / 60:.1f} min")
    return full

if __name__ == "__main__":
    main()
