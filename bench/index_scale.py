"""A 1,000,000-song audio index: build time, memory, recall@10 against exact search, ms per query.

There are not a million real songs, so the vectors are drawn to look like real ones: each is a
real cue embedding of the development library (the continuation model's 128-dimensional tower
output, exit and entry sides pooled) plus Gaussian noise scaled to the real nearest-neighbour
distance, re-normalised. The vectors therefore keep the real clusters (styles, albums) and the
real spread within them, which is what decides how an approximate index does. Queries are drawn
the same way from other noise, so none is in the index.

Index choice: **IVF-Flat** (``IndexIVFFlat``, inner product, nlist = 4 sqrt(n) rounded to a
power of two = 4096 lists at 1M), against HNSW-Flat (M = 32), both built here. Measured on the
shared 2-core machine, one thread (see /work/notes/search-results.md for the run):

* build: IVF 62 s (k-means on 164k vectors 37 s + assigning 1M 25 s), HNSW 203 s;
* memory: IVF keeps the raw vectors and ids (~500 MB); HNSW adds 256 MB of links (~730 MB);
* recall@10 / ms per query: IVF 0.999 / 0.5 ms at nprobe 8, HNSW 0.993 / 0.1 ms at efSearch 32;
  both are far inside the 20 ms budget, so HNSW's faster queries buy nothing a station needs;
* upkeep: a library changes (songs added, re-analysed, removed); IVF supports ``add`` and
  ``remove_ids`` in place, while faiss's HNSW cannot remove vectors (rebuild: minutes).

One faiss thread (``omp_set_num_threads(1)``) so that other work on the machine is not starved;
peak RSS is printed (target < 4 GB).

    nice -n 10 .venv/bin/python bench/index_scale.py [--home radio-data-dev] [--n 1000000]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ranking.index import CueIndex


def real_vectors(home: Path) -> np.ndarray:
    """Every exit and entry cue vector of a library's cue index, (m, dim) float32."""
    meta = json.loads((home / "indexes" / "audio_meta.json").read_text())
    index = CueIndex.load(home / "indexes", dim=int(meta["dim"]), model_id=str(meta["model_id"]))
    parts = [index.vectors(side, index.ids(side)) for side in ("exit", "entry")]
    out = np.concatenate(parts).astype(np.float32)
    if len(out) < 100:
        raise SystemExit(f"{home} holds only {len(out)} cue vectors; run `radio embed` there")
    return out


def synthetic(real: np.ndarray, n: int, *, rng: np.random.Generator,
              chunk: int = 100_000) -> np.ndarray:
    """``n`` unit vectors spread over the real vectors' neighbourhoods.

    Each is a random point on the segment from a real vector to one of its 10 nearest real
    neighbours, plus isotropic noise whose size is the median nearest-neighbour distance: new
    songs fill the space between real ones instead of piling onto copies of them.
    """
    sims = real @ real.T
    np.fill_diagonal(sims, -np.inf)
    near = np.argsort(-sims, axis=1)[:, :10]
    nn_dist = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * sims.max(axis=1)))
    sigma = np.float32(np.median(nn_dist) / np.sqrt(real.shape[1]))
    out = np.empty((n, real.shape[1]), np.float32)
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        i = rng.integers(0, len(real), hi - lo)
        j = near[i, rng.integers(0, near.shape[1], hi - lo)]
        t = rng.random((hi - lo, 1), dtype=np.float32)
        x = (1 - t) * real[i] + t * real[j]
        x += rng.standard_normal(x.shape, dtype=np.float32) * sigma
        out[lo:hi] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def exact_top(base: np.ndarray, queries: np.ndarray, k: int,
              block: int = 100_000) -> np.ndarray:
    """Ids of the ``k`` largest inner products per query, best first (exact)."""
    best_s = np.full((len(queries), k), -np.inf, np.float32)
    best_i = np.zeros((len(queries), k), np.int64)
    for lo in range(0, len(base), block):
        s = queries @ base[lo : lo + block].T
        top = np.argpartition(-s, k - 1, axis=1)[:, :k]
        cand_s = np.concatenate([best_s, np.take_along_axis(s, top, axis=1)], axis=1)
        cand_i = np.concatenate([best_i, top + lo], axis=1)
        keep = np.argsort(-cand_s, axis=1, kind="stable")[:, :k]
        best_s = np.take_along_axis(cand_s, keep, axis=1)
        best_i = np.take_along_axis(cand_i, keep, axis=1)
    return best_i


def recall_at(found: np.ndarray, truth: np.ndarray, k: int) -> float:
    """Mean share of the exact top ``k`` that the approximate top ``k`` holds."""
    hits = [len(set(f[:k].tolist()) & set(t[:k].tolist())) for f, t in zip(found, truth,
                                                                           strict=True)]
    return float(np.mean(hits)) / k


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, default=Path("radio-data-dev"))
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--skip-hnsw", action="store_true", help="build only the IVF index")
    args = ap.parse_args()
    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(0)

    real = real_vectors(args.home)
    dim = real.shape[1]
    t0 = time.perf_counter()
    base = synthetic(real, args.n, rng=rng)
    queries = synthetic(real, args.queries, rng=np.random.default_rng(1))
    print(f"{len(real)} real cue vectors (dim {dim}) from {args.home}; {args.n:,} synthetic "
          f"drawn in {time.perf_counter() - t0:.1f} s")

    # Exact reference: one matrix product per block of the base, top 10 kept.
    t0 = time.perf_counter()
    truth = exact_top(base, queries, 10)
    exact_ms = (time.perf_counter() - t0) * 1e3 / len(queries)

    nlist = 1 << round(np.log2(4 * np.sqrt(args.n)))
    quantizer = faiss.IndexFlatIP(dim)
    ivf = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    train = base[rng.choice(args.n, size=min(args.n, 40 * nlist), replace=False)]
    t0 = time.perf_counter()
    ivf.train(train)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ivf.add(base)
    add_s = time.perf_counter() - t0
    ivf_mb = (args.n * (dim * 4 + 8) + nlist * dim * 4) / 2**20

    print(f"\nIVF-Flat, nlist {nlist}: trained on {len(train):,} in {train_s:.1f} s, "
          f"{args.n:,} added in {add_s:.1f} s, ~{ivf_mb:.0f} MB")
    print(f"exact search ({len(queries)} queries as one matrix product, 1 thread): "
          f"{exact_ms:.1f} ms per query")
    print("\n| nprobe | recall@10 | ms per query (1 thread) |")
    print("|---|---|---|")
    for nprobe in (1, 4, 8, 16, 32, 64):
        ivf.nprobe = nprobe
        ivf.search(queries[:5], 10)  # warm
        t0 = time.perf_counter()
        _, found = ivf.search(queries, 10)
        ms = (time.perf_counter() - t0) * 1e3 / len(queries)
        print(f"| {nprobe} | {recall_at(found, truth, 10):.3f} | {ms:.2f} |")
    del ivf

    if args.skip_hnsw:
        print(f"peak RSS {_rss_mb():.0f} MB (target < 4096)")
        return
    hnsw = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
    t0 = time.perf_counter()
    hnsw.add(base)
    hnsw_s = time.perf_counter() - t0
    hnsw_mb = args.n * (dim * 4 + 32 * 2 * 4) / 2**20
    print(f"\nHNSW-Flat, M 32: {args.n:,} added in {hnsw_s:.1f} s, ~{hnsw_mb:.0f} MB")
    print("\n| efSearch | recall@10 | ms per query (1 thread) |")
    print("|---|---|---|")
    for ef in (16, 32, 64, 128):
        hnsw.hnsw.efSearch = ef
        t0 = time.perf_counter()
        _, found = hnsw.search(queries, 10)
        ms = (time.perf_counter() - t0) * 1e3 / len(queries)
        print(f"| {ef} | {recall_at(found, truth, 10):.3f} | {ms:.2f} |")
    print(f"peak RSS {_rss_mb():.0f} MB (target < 4096)")


if __name__ == "__main__":
    main()
