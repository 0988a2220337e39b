"""Station pools on a real library: style agreement, variety, taste, and latency.

    nice -n 10 .venv/bin/python bench/pools.py --home radio-data-demo

For every track of the library as a seed, `radio.pools.candidate_pool` draws a pool; the share
of the ten songs after the seed whose style (`radio.fetch_catalog.STYLES` of their Debian package)
equals the seed's is the figure the issue sets (>= 70 %). It is reported for plain relevance
(diverse 1.0), the default MMR variety (0.7) and a baseline in the same run: ten random songs.
"Back to back" counts neighbouring pool entries from one album (pool order is the relevance
order; the sequencer chooses the playing order). Taste: a listener who liked three songs of
another style than the seed's; the share of the pool from the liked style, without and with
the taste term. Latency: median wall time of a pool on this library (one BLAS thread).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse
import itertools
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from radio.config import Settings
from radio.fetch_catalog import STYLES
from radio.listeners import record_feedback
from radio.pools import StationRequest, candidate_pool
from radio.records import Track
from radio.store import Store


def style(track: Track) -> str | None:
    for part in Path(track.path).parts:
        if part in STYLES:
            return STYLES[part]
    return next((STYLES[t] for t in track.tags if t in STYLES), None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, default=Path("radio-data-demo"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    settings = Settings(home=args.home)
    with Store(settings) as store:
        tracks = [t for t in store.tracks() if style(t)]
    styles = {t.id: style(t) for t in tracks}
    albums = {t.id: t.album or Path(t.path).parent.name for t in tracks}
    rng = np.random.default_rng(args.seed)
    print(f"library {args.home}: {len(tracks)} tracks with a style label, "
          f"{len(set(styles.values()))} styles; load avg {os.getloadavg()[0]:.1f}")
    rows: dict[str, list[float]] = {}
    times: list[float] = []
    for t in tracks:
        ids = [x.id for x in tracks if x.id != t.id]
        rand = rng.choice(ids, size=10, replace=False)
        rows.setdefault("random 10 (baseline)", []).append(
            float(np.mean([styles[i] == styles[t.id] for i in rand])))
        for diverse in (1.0, 0.7):
            t0 = time.perf_counter()
            pool = candidate_pool(settings, StationRequest(seed=str(t.id), pool_size=11,
                                                           diverse=diverse))
            times.append(time.perf_counter() - t0)
            top = [x.id for x in pool.tracks[1:11]]
            rows.setdefault(f"pool, diverse {diverse}", []).append(
                float(np.mean([styles.get(i) == styles[t.id] for i in top])))
            rows.setdefault(f"pool, diverse {diverse}: album back to back", []).append(
                float(sum(albums.get(a) == albums.get(b) for a, b in itertools.pairwise(top))))
    print("\n| seed-song pools (top 10 after the seed) | mean over seeds |\n|---|---|")
    for name, vals in rows.items():
        print(f"| {name} | {statistics.mean(vals):.3f} |")
    print(f"| pool latency, median | {1000 * statistics.median(times):.1f} ms |")
    # Taste: like three songs of another style, then draw pools from seeds of the first style.
    by_style: dict[str, list[Track]] = {}
    for t in tracks:
        by_style.setdefault(str(styles[t.id]), []).append(t)
    names = sorted(by_style, key=lambda s: -len(by_style[s]))
    a, b = names[0], names[1]
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp)
        for name in ("features", "indexes"):
            (copy / name).symlink_to((args.home / name).resolve())
        with Store(settings) as src:
            src._db.conn.execute(f"VACUUM INTO '{copy / 'library.db'}'")
        local = Settings(home=copy)
        for t in by_style[b][:3]:
            record_feedback(local, listener="bench", track_id=t.id, kind="like")
        share = {}
        for who in (None, "bench"):
            vals = []
            for t in by_style[a][:15]:
                pool = candidate_pool(local, StationRequest(seed=str(t.id), pool_size=11,
                                                            listener=who))
                liked = {x.id for x in by_style[b][:3]}
                vals.append(float(np.mean([styles[x.id] == b and x.id not in liked
                                           for x in pool.tracks[1:11]])))
            share[who] = float(np.mean(vals))
    print(f"\n| taste: seeds of style {a!r}, listener liked 3 songs of {b!r} | share of "
          f"other {b!r} songs in the pool |\n|---|---|")
    print(f"| no listener | {share[None]:.3f} |\n| with the listener's taste | "
          f"{share['bench']:.3f} |")


if __name__ == "__main__":
    main()
