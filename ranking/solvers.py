"""Reference solvers for the sequencer's problem, for tests and benchmarks.

- `exact`: Held-Karp dynamic programming over (set of songs played, last song, its entry cue),
  with the cue choice inside, so it is optimal over order and cues together. Song-count targets
  only, up to `EXACT_MAX` candidates, artist gap at most 2 (the state knows only the last song).
- `greedy`: nearest neighbour: from the song on air take the best next (exit, song, entry)
  junction allowed by the constraints; without a fixed first song every start is tried and the
  best plan kept (a stronger baseline than one arbitrary start).
- `random_plan`: a random allowed order with random valid cues: the floor.

All take the `TransitionScores` and `Constraints` of `ranking.objective` and return its
`Solution`. Pure numpy.
"""

from __future__ import annotations

import numpy as np

from ranking.errors import PlanError
from ranking.objective import Constraints, Solution, fitness, solution_from, start_times
from ranking.transitions import TransitionScores

__all__ = ["EXACT_MAX", "exact", "greedy", "random_plan"]

EXACT_MAX = 13  # candidates (2^13 subsets x 13 songs x cues states)


def _artist_ok(s: TransitionScores, c: Constraints, history: list[int], j: int) -> bool:
    """May candidate j follow the songs of ``history`` (recent artists included)?"""
    a = int(s.artists[j])
    if a < 0 or c.artist_gap <= 1:
        return True
    arts = [*c.recent_artists, *(int(s.artists[t]) for t in history)]
    return a not in arts[len(arts) - (c.artist_gap - 1):]


def _walk(s: TransitionScores, c: Constraints, first: int,
          pick: np.random.Generator | None) -> tuple[list[int], list[int], list[int]]:
    """Build a plan song by song from ``first`` (``c.first`` when that is set): the best next
    junction, or a random one."""
    order, exits, entries = [first], [], []
    used = set(c.exclude) | {first}
    enter, played = float(start_times(s, c, np.array([first]))[0]), 0.0
    while True:
        i = order[-1]
        if c.n_songs is not None and len(order) >= c.n_songs:
            break
        if c.minutes is not None and played + s.ends[i] - enter >= c.minutes * 60.0:
            break
        exit_ok = s.exit_times[i] - enter >= c.min_play_s
        if len(order) == 1:
            exit_ok &= s.exit_times[i] >= c.first_min_exit
        nxt = np.array([j for j in range(s.n) if j not in used and _artist_ok(s, c, order, j)],
                       dtype=np.int64)
        if not nxt.size or not exit_ok.any():
            break
        entry_ok = s.ends[nxt][:, None] - s.entry_times[nxt] >= c.min_play_s  # (J, B)
        vals = np.where(exit_ok[:, None, None] & entry_ok[None], s.score[i][:, nxt, :], -np.inf)
        finite = np.isfinite(vals)
        if not finite.any():
            break
        if pick is None:
            a, jj, b = (int(x) for x in np.unravel_index(int(vals.argmax()), vals.shape))
        else:
            jj = int(pick.choice(np.flatnonzero(finite.any((0, 2)))))
            a, b = (int(x) for x in np.unravel_index(
                int(pick.choice(np.flatnonzero(finite[:, jj, :]))), finite[:, jj, :].shape))
        j = int(nxt[jj])
        played += float(s.exit_times[i, a]) - enter
        enter = float(s.entry_times[j, b])
        order.append(j)
        exits.append(int(a))
        entries.append(int(b))
        used.add(j)
    return order, exits, entries


def greedy(scores: TransitionScores, constraints: Constraints) -> Solution:
    """Nearest-neighbour plan (every start tried when no first song is fixed)."""
    c = constraints
    c.check(scores.n)
    starts = [c.first] if c.first is not None else [i for i in range(scores.n)
                                                     if i not in c.exclude]
    best: tuple[float, list[int], list[int], list[int]] | None = None
    for st in starts:
        if not _artist_ok(scores, c, [], st):
            continue
        plan = _walk(scores, c, st, None)
        f = fitness(scores, c, *plan)
        if best is None or f > best[0]:
            best = (f, *plan)
    if best is None:
        best = (0.0, *_walk(scores, c, starts[0], None))
    return solution_from(scores, c, best[1], best[2], best[3], stats={"solver": "greedy"})


def random_plan(scores: TransitionScores, constraints: Constraints, *, seed: int = 0
                ) -> Solution:
    """A random allowed order with random valid cues (deterministic under ``seed``)."""
    c = constraints
    c.check(scores.n)
    rng = np.random.default_rng(seed)
    starts = [c.first] if c.first is not None else [
        i for i in range(scores.n) if i not in c.exclude and _artist_ok(scores, c, [], i)]
    order, ex, en = _walk(scores, c, int(rng.choice(starts)), rng)
    return solution_from(scores, c, order, ex, en, stats={"solver": "random", "seed": seed})


def _infeasible(s: TransitionScores, c: Constraints, first_ok: np.ndarray) -> PlanError:
    """The error for candidates ``s`` (already narrowed to `exact`'s) on which no plan meets
    ``c``; ``first_ok`` marks those that may open it. It names the artist gap when counting
    the artists alone proves it cannot be kept, else the constraints that remain."""
    n, m = s.n, c.n_songs
    known = s.artists[s.artists >= 0]
    if c.artist_gap == 2 and known.size:
        artists, counts = np.unique(known, return_counts=True)
        top = int(counts.argmax())
        others = n - int(counts[top])
        # no two of the top artist in a row: at most one more of them than of the rest, and
        # only when one of them may open the plan
        opens = bool((first_ok & (s.artists == artists[top])).any())
        longest = min(n, 2 * others + int(opens))
        if m is not None and m > longest:
            return PlanError(
                f"no plan of {m} songs keeps artist_gap=2: {counts[top]} of the {n} candidates "
                f"are by one artist (code {artists[top]}), so at most {longest} can play "
                "without two of theirs in a row; ask for fewer songs, a smaller artist_gap or "
                "more artists")
    playhead = f", the first song exiting after {c.first_min_exit} s" if c.first_min_exit else ""
    return PlanError(
        f"no plan of {m} of these {n} candidates meets the constraints: no order and cues keep "
        f"artist_gap={c.artist_gap} and play every song at least {c.min_play_s} s between its "
        f"entry and exit{playhead}; ask for fewer songs or relax the constraints")


def exact(scores: TransitionScores, constraints: Constraints) -> Solution:
    """The optimal plan by Held-Karp over (songs played, last song, its entry cue).

    Raises `PlanError` beyond `EXACT_MAX` candidates, for a minutes target, or for an artist gap
    above 2 (those need more state than this reference carries), and when no plan meets the
    constraints: there is no optimum to return (`greedy` and `ranking.sequencer.sequence` return
    their best plan with its `Solution.violations` instead).
    """
    c = constraints
    c.check(scores.n)
    if c.n_songs is None:
        raise PlanError("the exact solver handles song-count targets only")
    if c.artist_gap > 2:
        raise PlanError(f"the exact solver handles artist_gap <= 2, got {c.artist_gap}")
    cands = ([c.first] if c.first is not None else []) + [
        i for i in range(scores.n) if i not in c.exclude and i != c.first]
    if len(cands) > EXACT_MAX:
        raise PlanError(f"{len(cands)} candidates; the exact solver stops at {EXACT_MAX}")
    s = scores.subset(cands)
    n, a_n, b_n, m = s.n, s.exit_times.shape[1], s.entry_times.shape[1], c.n_songs
    score = s.score.astype(np.float64)
    if c.artist_gap == 2:
        same = (s.artists[:, None] == s.artists[None, :]) & (s.artists[:, None] >= 0)
        score = np.where(same[:, None, :, None], -np.inf, score)
    flat = score.reshape(n * a_n, n * b_n)
    size = 1 << n
    h = np.full((size, n, b_n), -np.inf)  # best value, ending at song j entered at cue b
    h_ptr = np.zeros((size, n, b_n), np.int64)  # previous (song * A + exit cue)
    w = np.full((size, n, a_n), -np.inf)  # best value, song j leaving at exit cue a
    w_ptr = np.zeros((size, n, a_n), np.int64)  # its entry cue
    start = start_times(scores, c, np.array(cands))  # a fixed first song's only is read
    first_ok = np.ones(n, bool) if c.first is None else np.arange(n) == 0
    if c.artist_gap == 2 and c.recent_artists:
        first_ok &= ~((s.artists == c.recent_artists[-1]) & (s.artists >= 0))
    for f in np.flatnonzero(first_ok):
        ok = (s.exit_times[f] - start[f] >= c.min_play_s) & (s.exit_times[f] >=
                                                              c.first_min_exit)
        w[1 << f, f] = np.where(ok, 0.0, -np.inf)
    allowed = s.entry_times[:, :, None] + c.min_play_s <= s.exit_times[:, None, :]  # (n,B,A)
    popcount = np.array([bin(x).count("1") for x in range(size)])
    bits = 1 << np.arange(n)
    for mask in range(1, size):
        k_in = (mask & bits) > 0
        if popcount[mask] > 1:
            cand = np.where(allowed, h[mask][:, :, None], -np.inf)  # (n, B, A)
            w_ptr[mask] = cand.argmax(1)
            w[mask] = cand.max(1)
        if popcount[mask] >= m or not np.isfinite(w[mask]).any():
            continue
        tot = w[mask].reshape(-1, 1) + flat  # (n*A, n*B)
        arg = tot.argmax(0)
        best = tot[arg, np.arange(n * b_n)].reshape(n, b_n)
        arg = arg.reshape(n, b_n)
        for k in np.flatnonzero(~k_in):
            new = mask | (1 << k)
            better = best[k] > h[new, k]
            h[new, k] = np.where(better, best[k], h[new, k])
            h_ptr[new, k] = np.where(better, arg[k], h_ptr[new, k])
    end_ok = s.ends[:, None] - s.entry_times >= c.min_play_s  # (n, B)
    if m == 1:
        vals = np.where(first_ok & (s.ends - start >= c.min_play_s), 0.0, -np.inf)
        if not np.isfinite(vals).any():
            raise _infeasible(s, c, first_ok)
        return solution_from(scores, c, [cands[int(vals.argmax())]], [], [],
                             stats={"solver": "exact"})
    full = np.flatnonzero(popcount == m)
    final = np.where(end_ok[None], h[full], -np.inf)  # (M, n, B)
    if not np.isfinite(final).any():  # the back-pointers below would lead nowhere
        raise _infeasible(s, c, first_ok)
    mi, j, b = (int(x) for x in np.unravel_index(int(final.argmax()), final.shape))
    mask = int(full[mi])
    order: list[int] = [j]
    exits: list[int] = []
    entries: list[int] = []
    while popcount[mask] > 1:
        pj, pa = divmod(int(h_ptr[mask, j, b]), a_n)
        entries.append(b)
        exits.append(pa)
        mask ^= 1 << j
        j = pj
        order.append(j)
        b = int(w_ptr[mask, j, pa])
    order.reverse()
    exits.reverse()
    entries.reverse()
    return solution_from(scores, c, [cands[t] for t in order], exits, entries,
                         stats={"solver": "exact"})
