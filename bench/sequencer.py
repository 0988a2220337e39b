"""Sequencer benchmark: GA vs the exact optimum, GA vs greedy, and a 60-minute plan's latency.

    nice -n 10 .venv/bin/python bench/sequencer.py --home radio-data-dev [--instances 50]

Data: cue times, tempo, key, loudness and artists of the tracks in the store at ``--home``.
Cue vectors come from its audio index (``indexes/audio_meta.json``, built by `radio embed`) when
there is one; otherwise they are SYNTHETIC (a per-album style plus a per-track style plus noise,
L2-normalised) and the table says so. ``--embed`` builds the index first with
`radio.modeling.embed_library` (decodes the whole library: slow). The junction scale and bias
come from the model that built the index (``--model``, default the library's or the shipped
one); a model of another id is refused, since its calibration would not fit the vectors. The
1,000-track library tiles the real tracks with perturbed vectors and jittered cue times, since
no library that big exists.

Timings are single-threaded (BLAS pinned to one thread) wall-clock seconds.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from radio.config import Settings  # noqa: E402
from radio.store import Store  # noqa: E402
from ranking.index import CueIndex  # noqa: E402
from ranking.objective import Constraints, fitness  # noqa: E402
from ranking.sequencer import GAConfig, sequence  # noqa: E402
from ranking.solvers import exact, greedy  # noqa: E402
from ranking.transitions import Candidate, score_tensor  # noqa: E402

SCALE, BIAS = 10.0, -3.0  # calibration used with synthetic vectors


@dataclass
class Library:
    tracks: list[Candidate]
    albums: list[str]
    source: str  # where the vectors came from
    scale: float
    bias: float


def load_library(home: Path, *, dim: int, seed: int, embed: bool,
                 model_file: Path | None = None) -> Library:
    settings = Settings(home=home)
    meta_path = settings.indexes_dir / "audio_meta.json"
    if embed and not meta_path.exists():
        from radio.modeling import embed_library

        print("embedding the library (slow) ...", file=sys.stderr)
        embed_library(settings, model_file=model_file)
    index, scale, bias, source = None, SCALE, BIAS, "synthetic vectors, real cue times"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        index = CueIndex.load(settings.indexes_dir, dim=int(meta["dim"]),
                              model_id=str(meta["model_id"]))
        if len(index):
            from radio.modeling import model_id, resolve_model

            model = resolve_model(settings, model_file)
            if model_id(model) != meta["model_id"]:
                raise SystemExit(f"the cue index at {settings.indexes_dir} was built by model "
                                 f"{meta['model_id']}, not {model_id(model)}: pass that "
                                 "checkpoint as --model, or run `radio embed` with this one")
            scale, bias = model.scale, model.bias
            dim = index.dim
            source = f"real embeddings (model {meta['model_id']})"
        else:
            index = None
    rng = np.random.default_rng(seed)
    album_style: dict[str, np.ndarray] = {}
    out, albums = [], []
    with Store(settings) as store:
        for t in store.tracks():
            rows = store.cue_rows(t.id)
            exits = [(i, c.time) for i, c in rows if c.kind == "exit"]
            entries = [(i, c.time) for i, c in rows if c.kind == "entry"]
            if not exits or not entries:
                continue
            if index is not None:
                try:
                    xv = index.vectors("exit", np.array([i for i, _ in exits]))
                    nv = index.vectors("entry", np.array([i for i, _ in entries]))
                except KeyError:
                    continue
            else:
                album = t.album or Path(t.path).parent.name
                base = album_style.setdefault(album, rng.normal(size=dim))
                style = base + 0.8 * rng.normal(size=dim)
                xv = style + 1.2 * rng.normal(size=(len(exits), dim))
                nv = style + 1.2 * rng.normal(size=(len(entries), dim))
                xv /= np.linalg.norm(xv, axis=1, keepdims=True)
                nv /= np.linalg.norm(nv, axis=1, keepdims=True)
            out.append(Candidate(
                track_id=t.id, exit_vectors=xv.astype(np.float32),
                entry_vectors=nv.astype(np.float32),
                exit_times=np.array([x for _, x in exits]),
                entry_times=np.array([x for _, x in entries]),
                start=t.audible_start, end=t.audible_end, artist=t.artist, tempo=t.tempo,
                camelot=t.camelot, lufs=t.lufs))
            albums.append(t.album or Path(t.path).parent.name)
    return Library(out, albums, source, scale, bias)


def limit_cues(c: Candidate, k: int, rng: np.random.Generator) -> Candidate:
    """At most ``k`` exit and ``k`` entry cues, drawn at random (kept in time order)."""
    xi = np.sort(rng.choice(len(c.exit_times), min(k, len(c.exit_times)), replace=False))
    ni = np.sort(rng.choice(len(c.entry_times), min(k, len(c.entry_times)), replace=False))
    return replace(c, exit_vectors=c.exit_vectors[xi], exit_times=c.exit_times[xi],
                   entry_vectors=c.entry_vectors[ni], entry_times=c.entry_times[ni])


def bench_exact(lib: Library, n: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    gaps, t_ga, cpu_ga, t_ex, hits = [], [], [], [], 0
    for k in range(n):
        pick = rng.choice(len(lib.tracks), 12, replace=False)
        cands = [limit_cues(lib.tracks[i], 4, rng) for i in pick]
        s = score_tensor(cands, scale=lib.scale, bias=lib.bias)
        c = Constraints(n_songs=12, artist_gap=2)
        t0 = time.perf_counter()
        opt = exact(s, c)
        t_ex.append(time.perf_counter() - t0)
        t0, c0 = time.perf_counter(), time.process_time()
        ga = sequence(s, c, GAConfig(seed=k))
        t_ga.append(time.perf_counter() - t0)
        cpu_ga.append(time.process_time() - c0)
        gap = (opt.total - ga.total) / abs(opt.total)
        gaps.append(gap)
        hits += gap < 1e-6
    return {"mean gap %": 100 * statistics.mean(gaps), "max gap %": 100 * max(gaps),
            "optimal": hits / n, "GA s mean": statistics.mean(t_ga), "GA s max": max(t_ga),
            "GA CPU s mean (one thread)": statistics.mean(cpu_ga),
            "GA CPU s max": max(cpu_ga), "exact s mean": statistics.mean(t_ex)}


def bench_greedy(lib: Library, n: int, seed: int, pool: int = 40, songs: int = 15
                 ) -> dict[str, float]:
    rng = np.random.default_rng(seed + 1)
    wins, gain, gain_pct, t_ga, t_gr, wins_plain, gain_plain = 0, [], [], [], [], 0, []
    stuck = 0
    for k in range(n):
        pick = rng.choice(len(lib.tracks), pool, replace=False)
        s = score_tensor([lib.tracks[i] for i in pick], scale=lib.scale, bias=lib.bias)
        c = Constraints(n_songs=songs, artist_gap=3, first=0)
        t0 = time.perf_counter()
        gr = greedy(s, c)
        t_gr.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ga = sequence(s, c, GAConfig(seed=k, time_budget_s=1.5))
        t_ga.append(time.perf_counter() - t0)
        plain = sequence(s, c, GAConfig(seed=k, time_budget_s=1.5, greedy_floor=False))
        # Compare by fitness: a greedy walk that gets stuck short of 15 songs (no song left
        # that the artist gap allows) has a higher junction sum than any full plan, but breaks
        # the length constraint, so it must not count as a win over a feasible GA plan.
        f_gr = fitness(s, c, gr.order, gr.exit_cues, gr.entry_cues)
        wins += fitness(s, c, ga.order, ga.exit_cues, ga.entry_cues) >= f_gr - 1e-6
        wins_plain += fitness(s, c, plain.order, plain.exit_cues, plain.entry_cues) >= (
            f_gr - 1e-6)
        stuck += not gr.feasible
        if gr.feasible:
            gain.append(ga.total - gr.total)
            gain_pct.append(100 * (ga.total - gr.total) / abs(gr.total))
            gain_plain.append(plain.total - gr.total)
    return {"GA >= greedy (by fitness)": wins / n, "greedy infeasible (stuck short)": stuck / n,
            "mean gain where greedy feasible (nats)": _mean(gain),
            "mean gain %": _mean(gain_pct), "GA s mean": statistics.mean(t_ga),
            "GA s max": max(t_ga), "greedy s mean": statistics.mean(t_gr),
            "GA alone (no greedy floor) >= greedy": wins_plain / n,
            "GA alone mean gain where greedy feasible (nats)": _mean(gain_plain)}


def _mean(values: list[float]) -> float:
    """The mean, or NaN when greedy was never feasible (a few instances, a tight pool)."""
    return statistics.mean(values) if values else float("nan")


def tile(lib: Library, size: int, seed: int) -> Library:
    """A ``size``-track library from perturbed copies of the real tracks."""
    rng = np.random.default_rng(seed)
    out, albums = [], []
    for k in range(size):
        i = k % len(lib.tracks)
        c = lib.tracks[i]
        copy = k // len(lib.tracks)

        def jitter(v: np.ndarray, copy: int = copy) -> np.ndarray:
            v = v + (0.3 * rng.normal(size=v.shape) if copy else 0.0)
            return np.asarray(v / np.linalg.norm(v, axis=1, keepdims=True), dtype=np.float32)

        shift = rng.uniform(-2, 2) if copy else 0.0
        out.append(replace(c, track_id=k, exit_vectors=jitter(c.exit_vectors),
                           entry_vectors=jitter(c.entry_vectors),
                           exit_times=c.exit_times + shift, entry_times=c.entry_times + shift,
                           artist=f"{c.artist or lib.albums[i]} #{copy}"))
        albums.append(f"{lib.albums[i]} #{copy}")
    return Library(out, albums, lib.source + ", tiled x perturbed", lib.scale, lib.bias)


def candidate_pool(exit_mean: np.ndarray, entry_mean: np.ndarray, seed: int, size: int,
                   fan_out: int = 8) -> list[int]:
    """Breadth-first over track-level affinities (mean exit . mean entry) from the seed.

    A stand-in for the station's pool (FAISS + MMR + listener profile, another module)."""
    chosen, frontier = [seed], [seed]
    taken = np.zeros(len(exit_mean), bool)
    taken[seed] = True
    while len(chosen) < size and frontier:
        nxt = []
        aff = exit_mean[frontier] @ entry_mean.T
        for row in aff:
            row = np.where(taken, -np.inf, row)
            for j in np.argsort(-row)[:fan_out]:
                if not taken[j] and len(chosen) < size:
                    taken[j] = True
                    chosen.append(int(j))
                    nxt.append(int(j))
        frontier = nxt
    return chosen


def bench_hour(lib: Library, n: int, seed: int, library_size: int = 1000, pool: int = 80
               ) -> dict[str, float]:
    big = tile(lib, library_size, seed)
    exit_mean = np.stack([c.exit_vectors.mean(0) for c in big.tracks])
    entry_mean = np.stack([c.entry_vectors.mean(0) for c in big.tracks])
    rng = np.random.default_rng(seed + 2)
    times, t_pool, t_scores, minutes, feasible, songs = [], [], [], [], 0, []
    for k in range(n):
        t0 = time.perf_counter()
        rows = candidate_pool(exit_mean, entry_mean, int(rng.integers(library_size)), pool)
        t1 = time.perf_counter()
        s = score_tensor([big.tracks[i] for i in rows], scale=big.scale, bias=big.bias)
        t2 = time.perf_counter()
        sol = sequence(s, Constraints(minutes=60.0, artist_gap=3, first=0), GAConfig(seed=k))
        times.append(time.perf_counter() - t0)
        t_pool.append(t1 - t0)
        t_scores.append(t2 - t1)
        minutes.append(sol.duration_s / 60)
        songs.append(len(sol.order))
        feasible += sol.feasible
    return {"total s mean": statistics.mean(times), "total s max": max(times),
            "pool s": statistics.mean(t_pool), "scores s": statistics.mean(t_scores),
            "plan min mean": statistics.mean(minutes), "songs mean": statistics.mean(songs),
            "feasible": feasible / n}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, default=Path("radio-data-dev"))
    ap.add_argument("--instances", type=int, default=50)
    ap.add_argument("--pools", type=int, default=40, help="40-song pool instances")
    ap.add_argument("--hours", type=int, default=10, help="60-minute plans")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--embed", action="store_true", help="build the audio index first")
    ap.add_argument("--model", type=Path, default=None,
                    help="the checkpoint that built the index (default: the library's, else "
                         "the shipped one)")
    args = ap.parse_args()
    lib = load_library(args.home, dim=128, seed=args.seed, embed=args.embed,
                       model_file=args.model)
    print(f"library: {len(lib.tracks)} tracks from {args.home}; vectors: {lib.source}; "
          f"scale {lib.scale:.2f}, bias {lib.bias:.2f}; load avg {os.getloadavg()[0]:.1f}")
    rows = [
        (f"12 songs x 4 cues, GA vs exact ({args.instances})",
         bench_exact(lib, args.instances, args.seed)),
        (f"40-song pool -> 15 songs, GA vs greedy ({args.pools})",
         bench_greedy(lib, args.pools, args.seed)),
        (f"60-min plan, 1,000-track library, pool 80 ({args.hours})",
         bench_hour(lib, args.hours, args.seed)),
    ]
    for title, res in rows:
        print(f"\n| {title} | |\n|---|---|")
        for key, val in res.items():
            print(f"| {key} | {val:.3f} |")


if __name__ == "__main__":
    main()
