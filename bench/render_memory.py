"""Flat memory of an endless station: render + MP3-encode hours of a growing plan, sample RSS.

The plan starts with one song and grows through the renderer's ``on_item`` hook, one song ahead
(as `radio.stations.Station.ensure_ahead` does), cycling through the library's tracks (each from
an entry cue to an exit cue) for as long as asked; the MP3 bytes go nowhere. Resident memory is
printed at the start, every ``--every-min`` minutes of audio and at the end, with the number of
items the plan holds (the plan itself grows by one small record per song; the renderer must not).

    nice -n 15 .venv/bin/python bench/render_memory.py [--home radio-data-dev] [--hours 3]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from render_speed import join, library_items, rss_mb  # noqa: E402

from radio.config import Settings  # noqa: E402
from radio.encode import Encoder  # noqa: E402
from radio.plan import Plan  # noqa: E402
from radio.render import RenderConfig, beats_from_store, render  # noqa: E402
from radio.store import Store  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--home", type=Path, default=Path("radio-data-dev"))
    ap.add_argument("--hours", type=float, default=3.0)
    ap.add_argument("--every-min", type=float, default=30.0)
    args = ap.parse_args()
    cfg = RenderConfig()
    with Store(Settings(home=args.home)) as store:
        library = library_items(store)
        plan = Plan(station="endless", items=[library[0]], transitions=[])
        goal = args.hours * 3600 * cfg.sr
        frames = 0

        def on_item(i: int) -> None:
            # One song ahead, for as long as the output is short of the goal.
            if i == len(plan.items) - 1 and frames < goal:
                nxt = library[len(plan.items) % len(library)]
                plan.transitions.append(join(i, plan.items[i], nxt))
                plan.items.append(nxt)

        every = int(args.every_min * 60 * cfg.sr)
        t0 = time.perf_counter()
        print(f"start: RSS {rss_mb():.0f} MB ({len(library)} library songs)", flush=True)
        with Encoder("mp3") as enc:
            for chunk in render(plan, beats_for=beats_from_store(store), config=cfg,
                                on_item=on_item):
                enc.feed(chunk)
                before = frames // every
                frames += chunk.shape[0]
                if frames // every != before:
                    print(f"{frames / cfg.sr / 60:6.0f} min of audio: RSS {rss_mb():.0f} MB, "
                          f"{len(plan.items)} items, {time.perf_counter() - t0:.0f} s wall",
                          flush=True)
            enc.close()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
        print(f"end, {frames / cfg.sr / 3600:.2f} h of audio: RSS {rss_mb():.0f} MB (peak "
              f"{peak:.0f} MB), {len(plan.items)} items, {time.perf_counter() - t0:.0f} s wall",
              flush=True)


if __name__ == "__main__":
    main()
