"""Speed of `radio.render` + `radio.encode` on a long plan over a real library, on one core.

The process (and so its ffmpeg children: decoders and the encoder) is pinned to one CPU and its
thread pools to one thread. Reports, in one run:

- time to the first PCM chunk of a new plan (``render(plan)`` to the first chunk), for
  ``--starts`` plans that begin with different songs (target <= 0.5 s);
- render + MP3 encode of a long plan (tempo-sorted library tracks, each from an entry cue to an
  exit cue): x real time by wall clock and by CPU time (this process plus its ffmpeg children),
  target >= 60x;
- the baseline: MP3 encoding alone of the first minutes of that same output, same encoder.

    nice -n 10 .venv/bin/python bench/render_speed.py [--home radio-data-dev] [--hours 0.5]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Generator  # noqa: E402
from itertools import pairwise  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from radio.config import Settings  # noqa: E402
from radio.encode import Encoder  # noqa: E402
from radio.plan import Plan, PlanItem, Transition  # noqa: E402
from radio.render import RenderConfig, beats_from_store, render  # noqa: E402
from radio.store import Store  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def library_items(store: Store, *, seed: int = 0) -> list[PlanItem]:
    """Every track longer than a minute, sorted by tempo, from its first entry cue to its last
    exit cue (the audible range where it has none)."""
    rng = np.random.default_rng(seed)
    tracks = [t for t in store.tracks() if t.audible_end - t.audible_start > 60]
    rng.shuffle(tracks)
    items = []
    for t in sorted(tracks, key=lambda t: t.tempo):
        cues = store.cues(t.id)
        entries = [c.time for c in cues if c.kind == "entry"] or [t.audible_start]
        exits = [c.time for c in cues if c.kind == "exit"] or [t.audible_end - 10]
        entry, exit_ = min(entries), max(exits)
        if exit_ - entry >= 40:
            items.append(PlanItem(kind="track", ref=t.id, path=t.path, title=t.title,
                                  artist=t.artist, entry_time=entry, exit_time=exit_,
                                  tempo=t.tempo, beat_confidence=t.tempo_confidence,
                                  lufs=t.lufs))
    return items


def join(index: int, a: PlanItem, b: PlanItem) -> Transition:
    return Transition(index=index, exit_time=a.exit_time, entry_time=b.entry_time,
                      overlap_beats=16, tempo_ratio=1.0, probability=0.5)


def long_plan(items: list[PlanItem], *, hours: float) -> Plan:
    """The library's items, repeated as needed, until ``hours`` of music."""
    out: list[PlanItem] = []
    total = 0.0
    while total < hours * 3600:
        for it in items:
            out.append(it)
            total += it.exit_time - it.entry_time
            if total >= hours * 3600:
                break
    return Plan(station="speed", items=out,
                transitions=[join(i, a, b) for i, (a, b) in enumerate(pairwise(out))])


def first_chunk_s(items: list[PlanItem], beats_for: object, cfg: RenderConfig,
                  starts: int) -> list[float]:
    """Seconds from ``render(plan)`` to its first chunk, for plans starting at different songs."""
    step = max(1, len(items) // starts)
    out = []
    for k in range(starts):
        a, b, c = (items[(k * step + j) % len(items)] for j in range(3))
        plan = Plan(station="first", items=[a, b, c], transitions=[join(0, a, b), join(1, b, c)])
        t0 = time.perf_counter()
        stream = render(plan, beats_for=beats_for, config=cfg)  # type: ignore[arg-type]
        next(stream)
        out.append(time.perf_counter() - t0)
        assert isinstance(stream, Generator)  # `render` is a generator for a non-empty plan
        stream.close()
    return out


def encode_only(pcm: list[np.ndarray]) -> tuple[float, float]:
    """(wall, CPU incl. ffmpeg) seconds to MP3-encode ``pcm`` chunks."""
    cpu0 = time.process_time()
    ch0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with Encoder("mp3") as enc:
        for chunk in pcm:
            enc.feed(chunk)
        enc.close()
    wall = time.perf_counter() - t0
    ch1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    child = (ch1.ru_utime + ch1.ru_stime) - (ch0.ru_utime + ch0.ru_stime)
    return wall, time.process_time() - cpu0 + child


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--home", type=Path, default=Path("radio-data-dev"))
    ap.add_argument("--hours", type=float, default=0.5)
    ap.add_argument("--starts", type=int, default=8, help="new plans timed to their first chunk")
    ap.add_argument("--baseline-min", type=float, default=5.0,
                    help="minutes of the output encoded alone for the baseline")
    args = ap.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, children included
    cfg = RenderConfig()
    with Store(Settings(home=args.home)) as store:
        items = library_items(store)
        beats_for = beats_from_store(store)
        firsts = first_chunk_s(items, beats_for, cfg, args.starts)
        plan = long_plan(items, hours=args.hours)
        styles: list[str] = []
        keep: list[np.ndarray] = []
        keep_frames = int(args.baseline_min * 60 * cfg.sr)
        cpu0 = time.process_time()
        ch0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        frames = encoded = 0
        with Encoder("mp3") as enc:
            for chunk in render(plan, beats_for=beats_for, config=cfg,
                                on_marker=lambda m: styles.append(m.style)
                                if m.kind == "junction" else None):
                encoded += len(enc.feed(chunk))
                if frames < keep_frames:
                    keep.append(chunk)
                frames += chunk.shape[0]
            encoded += len(enc.close())
        wall = time.perf_counter() - t0
        ch1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = time.process_time() - cpu0
    child = (ch1.ru_utime + ch1.ru_stime) - (ch0.ru_utime + ch0.ru_stime)
    seconds = frames / cfg.sr
    base_s = sum(c.shape[0] for c in keep) / cfg.sr
    base_wall, base_cpu = encode_only(keep)
    print(f"{len(plan.items)} songs, {seconds / 3600:.2f} h of output, junctions: "
          + ", ".join(f"{styles.count(s)} {s}" for s in sorted(set(styles))))
    print(f"first PCM chunk of a new plan ({len(firsts)} plans): median "
          f"{np.median(firsts):.3f} s, worst {max(firsts):.3f} s")
    print(f"render + MP3 encode: wall {wall:.1f} s = {seconds / wall:.0f}x real time; CPU "
          f"{cpu:.1f} s here + {child:.1f} s ffmpeg = {seconds / (cpu + child):.0f}x real time "
          f"on one core; MP3 {encoded * 8 / seconds / 1000:.0f} kbit/s")
    print(f"baseline, MP3 encode alone of {base_s / 60:.1f} min of that output: wall "
          f"{base_s / base_wall:.0f}x, CPU {base_s / base_cpu:.0f}x real time on one core")


if __name__ == "__main__":
    main()
