"""The cue dynamic program: the best exit and entry cues for a fixed order of songs.

For a fixed order a song's entry and exit cue interact only through "enter at least
``min_play_s`` before exiting" and its play duration, so the best cues are a chain dynamic
program, solved exactly in O(L·A·B) and vectorised over many orders at once (`batch_best_cues`: the
GA's memetic step and local search call it on whole populations). In minutes mode it also picks
the shortest prefix whose play time reaches the target. `best_cues` is its one-order form.

It chooses cues only, never the order (that is the search in `ranking.sequencer`), and scores
by `ranking.objective`'s rules. Pure numpy; never imports `radio` or `server`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ranking.objective import Constraints, fitness, start_times
from ranking.transitions import TransitionScores

__all__ = ["batch_best_cues", "best_cues"]

_NEG = -np.inf


def batch_best_cues(s: TransitionScores, c: Constraints, orders: np.ndarray, *, decode: bool
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best exit/entry cue per position for P fixed orders (P, L), vectorised over P.

    State: the entry cue of the song at position k. ``V[k][b]`` is the best score of the
    junctions before song k given it enters at b; ``W[a]`` the best given it leaves at exit a
    (max over entries at least ``min_play_s`` earlier). With ``decode`` in minutes mode the
    plan ends at the first position where some entry reaches the target duration along its
    best path (each path's duration is carried with it). Returns (exit_pos, entry_pos, m).
    """
    p_n, L = orders.shape
    rows = np.arange(p_n)[:, None]
    xt, nt = s.exit_times, s.entry_times
    start = start_times(s, c, orders[:, 0])
    x0 = xt[orders[:, 0]]
    ok0 = (x0 - start[:, None] >= c.min_play_s) & (x0 >= c.first_min_exit)
    w = np.where(ok0, 0.0, _NEG)
    minutes = c.minutes if decode else None
    target = (minutes or 0.0) * 60.0
    dw = np.where(ok0, x0 - start[:, None], 0.0)  # play time up to and including this exit
    allowed = nt[:, :, None] + c.min_play_s <= xt[:, None, :]  # (n, B, A): enter, then exit
    bps: list[np.ndarray] = [np.zeros((p_n, nt.shape[1]), np.int64)]
    bpws: list[np.ndarray] = [np.zeros((p_n, xt.shape[1]), np.int64)]
    kstar = np.full(p_n, L - 1)
    bstar = np.zeros(p_n, np.int64)
    done = np.zeros(p_n, bool)
    if minutes is not None:
        done = s.ends[orders[:, 0]] - start >= target
        kstar[done] = 0
    for k in range(1, L):
        tk = orders[:, k]
        tot = w[:, :, None] + s.pair_major[orders[:, k - 1], tk]  # (P, A, B)
        bp = tot.argmax(1)
        v = tot.max(1)
        nk = nt[tk]
        play_to_end = s.ends[tk][:, None] - nk
        end_ok = (v > _NEG) & (play_to_end >= c.min_play_s)
        if minutes is not None:
            dv = dw[rows, bp]
            feas = end_ok & (dv + play_to_end >= target)
            new = ~done & feas.any(1)
            bstar[new] = np.where(feas, v, _NEG).argmax(1)[new]
            kstar[new] = k
            done |= new
        if k == L - 1:
            last = ~done
            bstar[last] = np.where(end_ok, v, _NEG).argmax(1)[last]
        bps.append(bp)
        if k < L - 1:
            cand = np.where(allowed[tk], v[:, :, None], _NEG)  # (P, B, A)
            bpw = cand.argmax(1)
            w = cand.max(1)
            if minutes is not None:
                dw = dv[rows, bpw] + xt[tk] - nk[rows, bpw]
            bpws.append(bpw)
    exit_pos = np.zeros((p_n, L), np.int64)
    entry_pos = np.zeros((p_n, L), np.int64)
    cur = np.zeros(p_n, np.int64)
    for k in range(L - 1, 0, -1):
        cur = np.where(kstar == k, bstar, cur)
        active = k <= kstar
        a = bps[k][rows[:, 0], cur]
        exit_pos[active, k - 1] = a[active]
        entry_pos[active, k] = cur[active]
        if k - 1 >= 1:
            cur = np.where(active, bpws[k - 1][rows[:, 0], a], cur)
    return exit_pos, entry_pos, kstar + 1


def best_cues(scores: TransitionScores, constraints: Constraints, order: Sequence[int]
              ) -> tuple[list[int], list[int], float]:
    """The best (exit cues, entry cues) for a fixed order of songs, and the plan's fitness."""
    o = np.asarray(order, dtype=np.int64)[None, :]
    ex, en, _ = batch_best_cues(scores, constraints, o, decode=False)
    exits, entries = ex[0, :-1].tolist(), en[0, 1:].tolist()
    return exits, entries, fitness(scores, constraints, order, exits, entries)
