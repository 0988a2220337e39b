"""Ingestion speed and memory on real music, per core.

    .venv/bin/python bench/ingest.py [CORPUS] [--json]

CORPUS defaults to ``music-cache/ci`` (``radio fetch-ci``). With one worker and BLAS/OpenMP
limited to one thread, it measures, per track, audio seconds per wall second for

* decode alone (`radio.audio.decode`, 22050 Hz stereo): the floor nothing can beat;
* the full per-track work of ingestion (`radio.ingest_worker.analyse_file`: decode, checks, tags,
  `radio.analysis.analyse`);

reports the medians over tracks and their ratio, then times a real `radio.ingest.ingest` run into
a throw-away home (hashing and store writes included), and the peak RSS of a worker process
analysing a 10-minute track (built by concatenating the corpus's tracks). Target: full
analysis at >= 150x real time per core.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy is imported: one core means one thread

import argparse  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from radio.audio import decode  # noqa: E402
from radio.config import Settings  # noqa: E402
from radio.ingest import ingest  # noqa: E402
from radio.ingest_scan import AUDIO_SUFFIXES  # noqa: E402
from radio.ingest_worker import analyse_file  # noqa: E402

TARGET_X = 150.0
LONG_SECONDS = 600.0


def _tracks(corpus: Path) -> list[Path]:
    return sorted(p for p in corpus.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)


def _cpu() -> float:
    """CPU seconds of this process and its finished children (ffmpeg) so far."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _per_track(paths: list[Path], settings: Settings) -> list[dict[str, float | str]]:
    """Wall and CPU time of decode alone and of the full per-track work, track by track.

    CPU time (this process + ffmpeg) is what "per core" means on a machine shared with other
    work; wall time is reported beside it.
    """
    sr, timeout = settings.analysis_sr, settings.decode_timeout_s
    rows: list[dict[str, float | str]] = []
    for path in paths:
        c0, t0 = _cpu(), time.perf_counter()
        y = decode(path, sr=sr, channels=2, timeout=timeout)
        c1, t1 = _cpu(), time.perf_counter()
        analyse_file(path, sr=sr, timeout=timeout)
        c2, t2 = _cpu(), time.perf_counter()
        seconds = y.shape[-1] / sr
        row: dict[str, float | str] = {
            "track": path.name, "seconds": seconds,
            "decode_x": seconds / (c1 - c0), "full_x": seconds / (c2 - c1),
            "decode_wall_x": seconds / (t1 - t0), "full_wall_x": seconds / (t2 - t1),
        }
        rows.append(row)
        print(f"  {path.name:<28} {seconds:6.1f} s  decode {row['decode_x']:6.0f}x  "
              f"full {row['full_x']:6.0f}x  (wall {row['decode_wall_x']:.0f}x, "
              f"{row['full_wall_x']:.0f}x)", file=sys.stderr)
    return rows


def _long_track(paths: list[Path], folder: Path, sr: int) -> Path:
    """A 10-minute FLAC made of the corpus's tracks end to end (repeated if need be)."""
    parts, total, i = [], 0, 0
    while total < LONG_SECONDS * sr:
        y = decode(paths[i % len(paths)], sr=sr, channels=2)
        parts.append(y)
        total += y.shape[-1]
        i += 1
    y = np.concatenate(parts, axis=1)[:, : int(LONG_SECONDS * sr)]
    out = folder / "long.flac"
    sf.write(out, y.T, sr, format="FLAC")
    return out


def _peak_rss_kib() -> int:
    """This process's peak RSS. Not getrusage: Linux carries ru_maxrss over fork + exec, so a
    spawned worker would report its parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # not Linux


def _worker_rss(path: str, sr: int, timeout: float) -> tuple[float, int, int]:
    """In a fresh process: analyse one file; (CPU seconds, peak RSS after imports, peak RSS)."""
    imported = _peak_rss_kib()
    c0 = _cpu()
    analyse_file(Path(path), sr=sr, timeout=timeout)
    return _cpu() - c0, imported, _peak_rss_kib()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=ROOT / "music-cache" / "ci")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    paths = _tracks(args.corpus)
    if not paths:
        sys.exit(f"no audio under {args.corpus}; fetch it with `radio fetch-ci`")
    settings = Settings()
    print(f"{len(paths)} tracks under {args.corpus}, 1 core", file=sys.stderr)
    analyse_file(paths[0], sr=settings.analysis_sr, timeout=settings.decode_timeout_s)  # warm-up
    rows = _per_track(paths, settings)
    decode_x = statistics.median(float(r["decode_x"]) for r in rows)
    full_x = statistics.median(float(r["full_x"]) for r in rows)
    decode_wall_x = statistics.median(float(r["decode_wall_x"]) for r in rows)
    full_wall_x = statistics.median(float(r["full_wall_x"]) for r in rows)
    audio = sum(float(r["seconds"]) for r in rows)

    with tempfile.TemporaryDirectory() as tmp:
        c0 = _cpu()
        summary = ingest([args.corpus], settings=Settings(home=Path(tmp) / "home"), workers=1)
        ingest_cpu_x = summary.audio_seconds / (_cpu() - c0)
        ctx = multiprocessing.get_context("spawn")
        long = _long_track(paths, Path(tmp), settings.analysis_sr)
        with ctx.Pool(1) as pool:
            long_cpu, base_kib, rss_kib = pool.apply(
                _worker_rss, (str(long), settings.analysis_sr, settings.decode_timeout_s))

    result = {
        "corpus": str(args.corpus), "tracks": len(paths), "audio_seconds": round(audio, 1),
        "decode_x_median": round(decode_x, 1), "full_x_median": round(full_x, 1),
        "decode_wall_x_median": round(decode_wall_x, 1),
        "full_wall_x_median": round(full_wall_x, 1),
        "full_over_decode_time": round(decode_x / full_x, 2),
        "ingest_x": round(ingest_cpu_x, 1), "ingest_wall_x": round(summary.x_real_time, 1),
        "ingest_new": summary.new,
        "ingest_failed": summary.failures,
        "long_track_seconds": LONG_SECONDS, "long_track_x": round(LONG_SECONDS / long_cpu, 1),
        "worker_rss_after_imports_mib": round(base_kib / 1024, 1),
        "long_track_peak_rss_mib": round(rss_kib / 1024, 1),
        "target_x": TARGET_X, "meets_target": full_x >= TARGET_X,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print("medians over tracks, audio seconds per CPU second (wall clock in brackets):")
    print(f"decode alone     {decode_x:8.1f}x real time per core ({decode_wall_x:.1f}x wall)")
    print(f"full analysis    {full_x:8.1f}x real time per core ({full_wall_x:.1f}x wall); "
          f"target {TARGET_X:.0f}x {'met' if result['meets_target'] else 'NOT met'}")
    print(f"full / decode    {result['full_over_decode_time']:8.2f}x the decode floor's time")
    print(f"radio ingest     {ingest_cpu_x:8.1f}x real time per core "
          f"({summary.x_real_time:.1f}x wall), 1 worker, hashing and store writes included "
          f"({summary.new} new, failures {summary.failures or 'none'})")
    print(f"10-minute track  {result['long_track_x']:8.1f}x real time per core; worker peak RSS "
          f"{result['long_track_peak_rss_mib']:.0f} MiB "
          f"({result['worker_rss_after_imports_mib']:.0f} MiB of it after imports alone)")


if __name__ == "__main__":
    main()
