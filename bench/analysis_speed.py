"""Speed of `radio.analysis.analyse` in x real time on ONE core, and its peak memory.

Thread pools are pinned to one thread before numpy loads, so the figure is per core (ingestion
runs one process per core). Each input is analysed ``--runs`` times after one warm-up call;
the median is reported. Generated audio: a 3-minute stereo drum loop with a chord bed at 22050
Hz. Real files given on the command line are decoded first (not timed) with `radio.audio.decode`.

    .venv/bin/python bench/analysis_speed.py [--runs 5] [--rss] [FILE ...]

``--rss`` also analyses a generated 10-minute track in a fresh process and prints its peak
resident memory (the process total: interpreter, libraries, input and analysis).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from radio.analysis import Analysis, analyse  # noqa: E402
from tests.synth import SR, drum_pattern  # noqa: E402


def generated(seconds: float) -> np.ndarray:
    """Stereo drum loop with a chord bed; the right channel slightly quieter."""
    y = drum_pattern(bpm=124.0, duration=seconds, style="four", seed=1).y
    return np.stack([y, 0.8 * y])


def time_it(y: np.ndarray, runs: int) -> tuple[float, Analysis]:
    """Median seconds of ``runs`` analyses after one warm-up."""
    a = analyse(y=y, sr=SR)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        a = analyse(y=y, sr=SR)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), a


def report(name: str, y: np.ndarray, runs: int) -> float:
    """Print one line for ``y`` and return its x-real-time."""
    seconds: float = y.shape[-1] / SR
    t, a = time_it(y, runs)
    cues = sum(c.kind == "exit" for c in a.cues), sum(c.kind == "entry" for c in a.cues)
    print(f"{name[-40:]:40s} {seconds:6.1f} s  {t * 1000:6.0f} ms  {seconds / t:6.0f}x  "
          f"{a.tempo:6.1f} BPM ({a.tempo_confidence:.2f})  {a.key:>2s} {a.mode:5s} "
          f"{a.camelot:>3s}  "
          f"{a.lufs:6.1f} LUFS  cues {cues[0]}x/{cues[1]}e")
    return seconds / t


def peak_rss(seconds: float) -> None:
    """Analyse a generated track of ``seconds`` in a child process; print its peak RSS."""
    code = (
        "import sys, resource; sys.path.insert(0, '.');"
        "from bench.analysis_speed import generated; from radio.analysis import analyse;"
        f"y = generated({seconds}); analyse(y=y, sr=22050);"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                         check=True, env=os.environ)
    kib = int(out.stdout.strip().splitlines()[-1])
    print(f"peak RSS analysing a {seconds / 60:.0f}-minute stereo track: {kib / 1024:.0f} MiB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("files", nargs="*", type=Path, help="real audio files to time as well")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--rss", action="store_true", help="measure peak memory on 10 minutes")
    args = ap.parse_args()
    print(f"{'input':40s} {'length':>8s}  {'time':>8s}  {'speed':>7s}")
    report("generated 3-min stereo drum loop", generated(180.0), args.runs)
    speeds = []
    if args.files:
        from radio.audio import decode

        for path in args.files:
            speeds.append(report(str(path), decode(path, sr=SR), args.runs))
        print(f"real files: median {statistics.median(speeds):.0f}x real time per core")
    if args.rss:
        peak_rss(600.0)


if __name__ == "__main__":
    main()
