"""Speed and memory of `radio.render` + `radio.encode` on a long plan over a real library.

Builds one long plan by chaining library tracks (tempo-compatible neighbours first, cues where
the library has them), renders it and feeds every chunk to the MP3 encoder, and reports:
x real time by wall clock and by CPU time (this process plus its ffmpeg children: decoders and
the encoder), the time to the first PCM chunk, and the resident memory sampled every 5 minutes
of output (flat = no growth with length). Thread pools are pinned to one thread.

    nice -n 10 .venv/bin/python bench/render_speed.py [--home radio-data-dev] [--hours 1]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from itertools import pairwise  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from radio.config import Settings  # noqa: E402
from radio.encode import Encoder  # noqa: E402
from radio.plan import Plan, PlanItem, Transition  # noqa: E402
from radio.render import RenderConfig, beats_from_store, render  # noqa: E402
from radio.store import Store  # noqa: E402


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def long_plan(store: Store, *, hours: float, seed: int = 0) -> Plan:
    """Tracks ordered by tempo (a slow walk up and down), each from entry cue to exit cue."""
    rng = np.random.default_rng(seed)
    tracks = [t for t in store.tracks() if t.audible_end - t.audible_start > 60]
    rng.shuffle(tracks)  # type: ignore[arg-type]
    items: list[PlanItem] = []
    total = 0.0
    while total < hours * 3600:
        for t in sorted(tracks, key=lambda t: t.tempo):
            cues = store.cues(t.id)
            entries = [c.time for c in cues if c.kind == "entry"] or [t.audible_start]
            exits = [c.time for c in cues if c.kind == "exit"] or [t.audible_end - 10]
            entry, exit_ = min(entries), max(exits)
            if exit_ - entry < 40:
                continue
            items.append(PlanItem(kind="track", ref=t.id, path=t.path, title=t.title,
                                  artist=t.artist, entry_time=entry, exit_time=exit_,
                                  tempo=t.tempo, beat_confidence=t.tempo_confidence,
                                  lufs=t.lufs))
            total += exit_ - entry
            if total >= hours * 3600:
                break
    trs = [Transition(index=i, exit_time=a.exit_time, entry_time=b.entry_time, overlap_beats=16,
                      tempo_ratio=1.0, probability=0.5)
           for i, (a, b) in enumerate(pairwise(items))]
    return Plan(station="speed", items=items, transitions=trs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--home", type=Path, default=Path("radio-data-dev"))
    ap.add_argument("--hours", type=float, default=1.0)
    args = ap.parse_args()
    with Store(Settings(home=args.home)) as store:
        plan = long_plan(store, hours=args.hours)
        beats_for = beats_from_store(store)
        cfg = RenderConfig()
        styles: list[str] = []
        cpu0 = time.process_time()
        ch0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        first = None
        frames = 0
        encoded = 0
        rss: list[float] = []
        with Encoder("mp3") as enc:
            for chunk in render(plan, beats_for=beats_for, config=cfg,
                                on_marker=lambda m: styles.append(m.style)
                                if m.kind == "junction" else None):
                if first is None:
                    first = time.perf_counter() - t0
                encoded += len(enc.feed(chunk))
                before = frames // (300 * cfg.sr)
                frames += chunk.shape[0]
                if frames // (300 * cfg.sr) != before:
                    rss.append(_rss_mb())
            encoded += len(enc.close())
        wall = time.perf_counter() - t0
        ch1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = time.process_time() - cpu0
    child = (ch1.ru_utime + ch1.ru_stime) - (ch0.ru_utime + ch0.ru_stime)
    seconds = frames / cfg.sr
    print(f"{len(plan.items)} songs, {seconds / 3600:.2f} h of output, junctions: "
          + ", ".join(f"{styles.count(s)} {s}" for s in sorted(set(styles))))
    print(f"wall {wall:.1f} s = {seconds / wall:.0f}x real time; CPU {cpu:.1f} s here + "
          f"{child:.1f} s ffmpeg = {seconds / (cpu + child):.0f}x real time per core")
    print(f"first PCM chunk after {first:.3f} s; MP3 {encoded / 1e6:.1f} MB "
          f"({encoded * 8 / seconds / 1000:.0f} kbit/s)")
    print("RSS MB every 5 min of output: " + " ".join(f"{r:.0f}" for r in rss))


if __name__ == "__main__":
    main()
