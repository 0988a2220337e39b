"""The sequencer: which songs play, in what order, and at which cues each hands over to the next.

Objective: the sum over junctions of ``TransitionScores.score`` (the model's log P plus the
musical terms), subject to hard constraints (`Constraints`): no track twice, no artist twice
within ``artist_gap`` songs, a length in songs or minutes, a fixed first song (the seed, or the
song on air when extending), every song played at least ``min_play_s`` between its entry and
exit cue. `fitness` is a pure function of the tensor, the constraints and a plan; a violated
constraint costs `PENALTY` so that every feasible plan beats every infeasible one.

Search (`sequence`) is a DEAP genetic algorithm with a memetic step:

- genome: a permutation of the free candidates (the plan is its prefix, after the fixed first
  song) plus one exit and one entry cue gene per candidate, so a song keeps its cues when
  crossover moves it;
- ordered crossover (OX) and swap/insert/reverse mutations for the order, uniform crossover and
  per-gene mutation for the cues, tournament selection, elitism;
- memetic step: for a fixed order the best cues are a chain dynamic program (a song's entry and
  exit cue interact only through "enter at least ``min_play_s`` before exiting" and its play
  duration), solved exactly in O(L·A·B) and vectorised over the population, written back into
  the genome (Lamarckian);
- in minutes mode the plan is the shortest prefix whose play time reaches the target; the DP picks
  that prefix and its cues together.

DEAP's operators draw from the module-level `random`; a run holds a lock, seeds it and restores
its state afterwards, so a run is deterministic under ``GAConfig.seed`` as long as it stops by
convergence or generation count (the time budget is a safety cap for live use).

`extend` plans the next songs of an endless station without touching what has been streamed.
Pure: numpy and DEAP only; never imports `radio` or `server`.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from deap import base, tools

from ranking.transitions import TransitionScores

__all__ = ["PENALTY", "Constraints", "GAConfig", "Solution", "best_cues", "extend", "fitness",
           "sequence", "violations"]

PENALTY = 1.0e4  # per violated constraint (and per minute short of a minutes target)
FLOOR = -100.0  # a missing cue's junction counts this much in an infeasible plan's fitness
_NEG = -np.inf


@dataclass(frozen=True)
class Constraints:
    """Hard constraints of a plan. Exactly one of ``n_songs`` and ``minutes`` is set for
    `sequence` (`extend` sets its own length).

    Indices are rows of the `TransitionScores`; artist codes are its ``artists`` values.
    """

    n_songs: int | None = None
    minutes: float | None = None  # play time from the first song's start to the last's end
    artist_gap: int = 3  # two songs of one artist are at least this many positions apart
    first: int | None = None  # this candidate plays first (the seed, or the song on air)
    first_entry: int | None = None  # entry cue it started at; None: from its audible start
    first_min_exit: float = 0.0  # s: the first song may not exit before this (the playhead)
    exclude: frozenset[int] = frozenset()  # never play these (e.g. already streamed)
    recent_artists: tuple[int, ...] = ()  # artists played just before the first, oldest first
    min_play_s: float = 15.0  # s: shortest stretch of a song between its entry and exit

    def check(self, n: int) -> None:
        """ValueError naming the problem when these constraints cannot apply to ``n`` songs."""
        if (self.n_songs is None) == (self.minutes is None):
            raise ValueError("set exactly one of n_songs and minutes")
        if self.n_songs is not None and self.n_songs < 1:
            raise ValueError(f"n_songs must be at least 1, got {self.n_songs}")
        if self.minutes is not None and self.minutes <= 0:
            raise ValueError(f"minutes must be positive, got {self.minutes}")
        if self.first is not None and not 0 <= self.first < n:
            raise ValueError(f"first={self.first} is not one of the {n} candidates")
        if self.first is not None and self.first in self.exclude:
            raise ValueError(f"first={self.first} is also excluded")
        free = n - len({i for i in self.exclude if 0 <= i < n})
        if self.n_songs is not None and self.n_songs > free:
            raise ValueError(f"{self.n_songs} songs asked for but only {free} candidates")


@dataclass(frozen=True)
class Solution:
    """A sequenced plan over candidate indices. Junction ``k`` joins ``order[k]`` (at its exit
    cue ``exit_cues[k]``) to ``order[k + 1]`` (at its entry cue ``entry_cues[k]``)."""

    order: tuple[int, ...]
    exit_cues: tuple[int, ...]
    entry_cues: tuple[int, ...]
    first_entry: int | None  # entry cue of order[0]; None: it starts at its audible start
    junction_logp: tuple[float, ...]  # the model's log P per junction
    junction_scores: tuple[float, ...]  # log P + musical terms per junction
    total: float  # sum of junction_scores: the objective
    duration_s: float
    violations: tuple[str, ...] = ()
    stats: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def log_probability(self) -> float:
        return float(sum(self.junction_logp))

    @property
    def probabilities(self) -> tuple[float, ...]:
        return tuple(float(np.exp(v)) for v in self.junction_logp)

    @property
    def feasible(self) -> bool:
        return not self.violations


@dataclass(frozen=True)
class GAConfig:
    """Search settings; the defaults fit a 40-song pool into about a second on one core."""

    population: int = 32
    generations: int = 300  # cap
    patience: int = 12  # stop after this many generations without improvement
    time_budget_s: float = 1.0  # safety cap: live radio cannot wait
    cx_prob: float = 0.8
    mut_prob: float = 0.5  # chance an offspring's order mutates (swap, insert or reverse)
    cue_mut_prob: float = 0.05  # per cue gene
    memetic: float = 1.0  # share of offspring whose cues the DP sets
    elite: int = 2
    tournament: int = 3
    seed: int = 0
    seed_greedy: bool = False  # put the greedy plan in the first population (it tends to
    # take over: on 40-song pools the unseeded GA ends higher)
    greedy_floor: bool = True  # return the greedy plan if the GA's best is worse
    local_search: bool = True  # hill-climb every new best plan over one-move neighbours
    ls_prob: float = 0.3  # share of offspring hill-climbed too (a memetic GA)
    ls_rounds: int = 5  # improving moves per such climb
    max_neighbours: int = 400  # moves tried per climbing step (sampled when there are more)


# -- plan arithmetic ----------------------------------------------------------------------------

def _start_times(s: TransitionScores, c: Constraints, first_tracks: np.ndarray) -> np.ndarray:
    if c.first_entry is not None and c.first is not None:
        return np.full(len(first_tracks), s.entry_times[c.first, c.first_entry])
    return np.asarray(s.starts[first_tracks], dtype=np.float64)


def _batch_fitness(s: TransitionScores, c: Constraints, orders: np.ndarray,
                   exit_pos: np.ndarray, entry_pos: np.ndarray, *, decode: bool
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fitness of P plans given per position: orders, exit cue, entry cue (all (P, L) int).

    The exit cue of the last position and the entry cue of the first are ignored. With
    ``decode`` in minutes mode a plan is the shortest prefix reaching the target; otherwise all
    L songs. Returns (fitness, songs used m, duration s, violation count), each (P,).
    Assumes the orders hold no repeats (`violations` checks those); checks cues, play times,
    artists, the first song and the length.
    """
    p_n, L = orders.shape
    rows = np.arange(p_n)[:, None]
    tx = s.exit_times[orders, np.clip(exit_pos, 0, s.exit_times.shape[1] - 1)]  # (P, L)
    tn = s.entry_times[orders, np.clip(entry_pos, 0, s.entry_times.shape[1] - 1)]
    bad_idx = (exit_pos < 0) | (exit_pos >= s.exit_times.shape[1]) | (entry_pos < 0) | (
        entry_pos >= s.entry_times.shape[1])
    tn[:, 0] = _start_times(s, c, orders[:, 0])
    bad_idx[:, 0] = (exit_pos[:, 0] < 0) | (exit_pos[:, 0] >= s.exit_times.shape[1])
    ends = s.ends[orders]
    # duration if the plan stopped after position k (that song plays to its end)
    mid = np.cumsum(tx - tn, axis=1)
    dur_at = np.concatenate([np.zeros((p_n, 1)), mid[:, :-1]], axis=1) + ends - tn
    if decode and c.minutes is not None:
        reach = np.nan_to_num(dur_at, nan=-1.0) >= c.minutes * 60.0
        m = np.where(reach.any(1), reach.argmax(1) + 1, L)
    else:
        m = np.full(p_n, L)
    pos = np.arange(L)[None, :]
    if L > 1:
        j = s.score[orders[:, :-1], np.clip(exit_pos[:, :-1], 0, None),
                    orders[:, 1:], np.clip(entry_pos[:, 1:], 0, None)]
        jbad = ~np.isfinite(j) | bad_idx[:, :-1] | bad_idx[:, 1:]
        in_plan = pos[:, 1:] < m[:, None]
        total = np.where(in_plan, np.where(jbad, FLOOR, j), 0.0).sum(1)
        viol = (jbad & in_plan).sum(1)
        # every song but the last: enter at least min_play before exiting
        short = ~(tx - tn >= c.min_play_s) & (pos < (m - 1)[:, None])
        viol += short.sum(1)
    else:
        total = np.zeros(p_n)
        viol = np.zeros(p_n, dtype=np.int64)
    last_play = ends[rows[:, 0], m - 1] - tn[rows[:, 0], m - 1]
    viol += ~(last_play >= c.min_play_s)
    # the first song's exit may not come before the playhead (when it is not the last)
    viol += (m > 1) & ~(tx[:, 0] >= c.first_min_exit)
    if c.first is not None:
        viol += orders[:, 0] != c.first
    if c.artist_gap > 1:
        recent = np.asarray(c.recent_artists[-(c.artist_gap - 1):], dtype=np.int64)
        art = np.concatenate([np.broadcast_to(recent, (p_n, len(recent))), s.artists[orders]],
                             axis=1)
        off = len(recent)
        apos = np.arange(art.shape[1])[None, :] - off
        for d in range(1, c.artist_gap):
            if d >= art.shape[1]:
                break
            same = (art[:, d:] == art[:, :-d]) & (art[:, d:] >= 0) & (apos[:, d:] >= 0)
            viol += (same & (apos[:, d:] < m[:, None])).sum(1)
    duration = dur_at[rows[:, 0], m - 1]
    if c.n_songs is not None:
        viol += m != c.n_songs
    short_min = np.zeros(p_n)
    if c.minutes is not None:
        short_min = np.maximum(0.0, c.minutes - np.nan_to_num(duration, nan=0.0) / 60.0)
        viol += short_min > 0
    fit = total - PENALTY * viol - PENALTY * short_min
    return fit, m, duration, viol


def _positional(order: Sequence[int], exit_cues: Sequence[int], entry_cues: Sequence[int]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    o = np.asarray(order, dtype=np.int64)[None, :]
    ex = np.asarray([*exit_cues, 0], dtype=np.int64)[None, :]
    en = np.asarray([0, *entry_cues], dtype=np.int64)[None, :]
    return o, ex, en


def fitness(scores: TransitionScores, constraints: Constraints, order: Sequence[int],
            exit_cues: Sequence[int], entry_cues: Sequence[int]) -> float:
    """The objective of one explicit plan: its summed junction scores when it satisfies every
    constraint, else far below any feasible plan (``PENALTY`` per violation).

    ``exit_cues[k]``/``entry_cues[k]`` are junction ``k``'s cues (``len(order) - 1`` each).
    """
    if len(exit_cues) != len(order) - 1 or len(entry_cues) != len(order) - 1:
        raise ValueError(f"{len(order)} songs need {len(order) - 1} exit and entry cues")
    o, ex, en = _positional(order, exit_cues, entry_cues)
    fit = _batch_fitness(scores, constraints, o, ex, en, decode=False)[0]
    repeats = len(order) - len(set(order)) + len(set(order) & constraints.exclude)
    return float(fit[0]) - PENALTY * repeats


def violations(scores: TransitionScores, constraints: Constraints, order: Sequence[int],
               exit_cues: Sequence[int], entry_cues: Sequence[int]) -> list[str]:
    """Every constraint an explicit plan breaks, in words (empty when it is feasible)."""
    s, c, out = scores, constraints, []
    if len(set(order)) != len(order):
        out.append("a track plays twice")
    if set(order) & c.exclude:
        out.append(f"excluded tracks {sorted(set(order) & c.exclude)} play")
    if c.first is not None and (not order or order[0] != c.first):
        out.append(f"the first song is not {c.first}")
    if c.n_songs is not None and len(order) != c.n_songs:
        out.append(f"{len(order)} songs instead of {c.n_songs}")
    arts = [*c.recent_artists[-max(c.artist_gap - 1, 0):], *(int(s.artists[t]) for t in order)]
    off = len(arts) - len(order)
    for k in range(off, len(arts)):
        for d in range(1, c.artist_gap):
            if k - d >= 0 and arts[k] >= 0 and arts[k] == arts[k - d]:
                out.append(f"artist {arts[k]} twice within {c.artist_gap} songs at {k - off}")
    start = (s.entry_times[c.first, c.first_entry] if c.first is not None and
             c.first_entry is not None else s.starts[order[0]]) if order else 0.0
    enter = [float(start)]
    for k, (a, b) in enumerate(zip(exit_cues, entry_cues, strict=True)):
        i, j = order[k], order[k + 1]
        ok = 0 <= a < s.exit_times.shape[1] and 0 <= b < s.entry_times.shape[1]
        if not ok or not np.isfinite(s.score[i, a, j, b]):
            out.append(f"junction {k} uses a cue that does not exist")
            enter.append(float("nan"))
            continue
        if not s.exit_times[i, a] - enter[-1] >= c.min_play_s:
            out.append(f"song {k} plays less than {c.min_play_s} s")
        if k == 0 and s.exit_times[i, a] < c.first_min_exit:
            out.append("the first song exits before the playhead")
        enter.append(float(s.entry_times[j, b]))
    if order and not s.ends[order[-1]] - enter[-1] >= c.min_play_s:
        out.append(f"the last song plays less than {c.min_play_s} s")
    if c.minutes is not None and order:
        dur = plan_duration(s, c, order, exit_cues, entry_cues)
        if not dur >= c.minutes * 60.0:
            out.append(f"{dur / 60:.1f} min instead of {c.minutes} min")
    return out


def plan_duration(scores: TransitionScores, constraints: Constraints, order: Sequence[int],
                  exit_cues: Sequence[int], entry_cues: Sequence[int]) -> float:
    """Seconds of music: each song from its entry (or start) to its exit (or end)."""
    o, ex, en = _positional(order, exit_cues, entry_cues)
    return float(_batch_fitness(scores, constraints, o, ex, en, decode=False)[2][0])


# -- the cue dynamic program -------------------------------------------------------------------

def _cue_dp(s: TransitionScores, c: Constraints, orders: np.ndarray, *, decode: bool
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
    start = _start_times(s, c, orders[:, 0])
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
    ex, en, _ = _cue_dp(scores, constraints, o, decode=False)
    exits, entries = ex[0, :-1].tolist(), en[0, 1:].tolist()
    return exits, entries, fitness(scores, constraints, order, exits, entries)


def solution_from(scores: TransitionScores, constraints: Constraints, order: Sequence[int],
                  exit_cues: Sequence[int], entry_cues: Sequence[int],
                  stats: dict[str, Any] | None = None) -> Solution:
    """Package an explicit plan with its per-junction values and any violations."""
    s = scores
    order = [int(t) for t in order]
    ex, en = [int(a) for a in exit_cues], [int(b) for b in entry_cues]
    lp = [float(s.logp[order[k], ex[k], order[k + 1], en[k]]) for k in range(len(ex))]
    sc = [float(s.score[order[k], ex[k], order[k + 1], en[k]]) for k in range(len(ex))]
    first_entry = constraints.first_entry if constraints.first is not None else None
    return Solution(order=tuple(order), exit_cues=tuple(ex), entry_cues=tuple(en),
                    first_entry=first_entry, junction_logp=tuple(lp), junction_scores=tuple(sc),
                    total=float(sum(sc)), duration_s=plan_duration(s, constraints, order, ex, en),
                    violations=tuple(violations(s, constraints, order, ex, en)),
                    stats=dict(stats or {}))


# -- the genetic algorithm ---------------------------------------------------------------------

_RANDOM_LOCK = threading.Lock()


@contextlib.contextmanager
def _seeded_random(seed: int) -> Iterator[None]:
    """DEAP's operators use the module-level `random`: seed it for this run, then restore it."""
    with _RANDOM_LOCK:
        state = random.getstate()
        random.seed(seed)
        try:
            yield
        finally:
            random.setstate(state)


class _Fitness(base.Fitness):  # type: ignore[misc]  # DEAP is untyped
    weights = (1.0,)


class _Genome(list[int]):
    """Positions into the free candidates (a permutation) plus cue genes per candidate."""

    def __init__(self, perm: Sequence[int], exits: np.ndarray, entries: np.ndarray) -> None:
        super().__init__(perm)
        self.exits = exits
        self.entries = entries
        self.fitness = _Fitness()

    def clone(self) -> _Genome:
        g = _Genome(self, self.exits.copy(), self.entries.copy())
        g.fitness.values = self.fitness.values
        return g


def _mut_insert(ind: _Genome, head: int) -> None:
    """Move one song to another place; the source lies in the plan (``head`` positions)."""
    i = random.randrange(min(head, len(ind)))
    j = random.randrange(len(ind))
    ind.insert(j, ind.pop(i))


def _mut_swap(ind: _Genome, head: int) -> None:
    """Swap a song of the plan with any other (which may bring in an unplayed one)."""
    i = random.randrange(min(head, len(ind)))
    j = random.randrange(len(ind))
    ind[i], ind[j] = ind[j], ind[i]


class _Search:
    """One GA run over fixed scores and constraints."""

    def __init__(self, s: TransitionScores, c: Constraints, cfg: GAConfig) -> None:
        self.s, self.c, self.cfg = s, c, cfg
        self.free = np.array([i for i in range(s.n) if i not in c.exclude and i != c.first],
                             dtype=np.int64)
        self.lead = [] if c.first is None else [c.first]
        if c.n_songs is not None:
            self.head = c.n_songs - len(self.lead)  # genome positions that reach the plan
        else:  # minutes: look at most this far ahead (1.5 x the songs a typical play needs)
            last_exit = np.where(np.isnan(s.exit_times), -np.inf, s.exit_times).max(1)
            first_entry = np.where(np.isnan(s.entry_times), np.inf, s.entry_times).min(1)
            plays = (last_exit - first_entry)[np.isfinite(last_exit - first_entry)]
            typical = float(np.median(plays)) if plays.size else 60.0
            need = float(c.minutes or 0.0) * 60.0 / max(typical, c.min_play_s, 1.0)
            self.head = min(len(self.free), int(np.ceil(1.5 * need)) + 3)
        self.length = len(self.lead) + self.head
        self.n_exit = np.maximum((~np.isnan(s.exit_times)).sum(1), 1)
        self.n_entry = np.maximum((~np.isnan(s.entry_times)).sum(1), 1)
        self.rng = np.random.default_rng(cfg.seed)
        self.evaluations = 0
        self.deadline = float("inf")

    def orders(self, pop: Sequence[_Genome]) -> np.ndarray:
        perm = np.array([g[: self.head] for g in pop], dtype=np.int64).reshape(len(pop), -1)
        tracks = self.free[perm]
        if self.lead:
            tracks = np.concatenate([np.full((len(pop), 1), self.lead[0]), tracks], axis=1)
        return tracks

    def random_cues(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        u = self.rng.random((2, size, self.s.n))
        return (u[0] * self.n_exit).astype(np.int64), (u[1] * self.n_entry).astype(np.int64)

    def memetic(self, pop: Sequence[_Genome]) -> None:
        if not pop:
            return
        o = self.orders(pop)
        ex, en, m = _cue_dp(self.s, self.c, o, decode=True)
        for g, row, e, n_, mm in zip(pop, o, ex, en, m, strict=True):
            g.exits[row[: mm - 1]] = e[: mm - 1]
            g.entries[row[1:mm]] = n_[1:mm]

    def evaluate(self, pop: Sequence[_Genome]) -> None:
        o = self.orders(pop)
        ex = np.stack([g.exits for g in pop])[np.arange(len(pop))[:, None], o]
        en = np.stack([g.entries for g in pop])[np.arange(len(pop))[:, None], o]
        fit = _batch_fitness(self.s, self.c, o, ex, en, decode=True)[0]
        for g, f in zip(pop, fit, strict=True):
            g.fitness.values = (float(f),)
        self.evaluations += len(pop)

    def plan_of(self, g: _Genome) -> tuple[list[int], list[int], list[int]]:
        o = self.orders([g])
        ex = g.exits[o[0]][None, :]
        en = g.entries[o[0]][None, :]
        m = int(_batch_fitness(self.s, self.c, o, ex, en, decode=True)[1][0])
        order = o[0, :m].tolist()
        return order, ex[0, : m - 1].tolist(), en[0, 1:m].tolist()

    def initial(self) -> list[_Genome]:
        cfg, f = self.cfg, len(self.free)
        exits, entries = self.random_cues(cfg.population)
        pop = [_Genome(random.sample(range(f), f), exits[i], entries[i])
               for i in range(cfg.population)]
        if cfg.seed_greedy:
            from ranking.solvers import greedy  # solvers builds on this module

            sol = greedy(self.s, self.c)
            where = {int(t): k for k, t in enumerate(self.free)}
            head = [where[t] for t in sol.order[len(self.lead):] if t in where]
            rest = [k for k in pop[0] if k not in set(head)]
            g = pop[0]
            g[:] = head + rest
            g.exits[list(sol.order[:-1])] = sol.exit_cues
            g.entries[list(sol.order[1:])] = sol.entry_cues
        return pop

    def _neighbours(self, g: _Genome) -> np.ndarray:
        """Every permutation one move away that changes the plan: swap a planned song with
        any other (an unplayed one comes in), move a planned song elsewhere in the plan,
        reverse a stretch of the plan."""
        base_ = np.asarray(g, dtype=np.int64)
        f, h = len(base_), min(self.head, len(base_))
        out = []
        i, j = np.nonzero(np.arange(h)[:, None] < np.arange(f)[None, :])
        sw = np.tile(base_, (len(i), 1))
        r = np.arange(len(i))
        sw[r, i], sw[r, j] = base_[j], base_[i]
        out.append(sw)
        for a in range(h):
            for b in range(h):
                if a != b and b != a + 1:
                    lst = base_.tolist()
                    lst.insert(b if b < a else b - 1, lst.pop(a))
                    out.append(np.asarray(lst)[None, :])
                if a + 1 < b:
                    rv = base_.copy()
                    rv[a:b + 1] = rv[a:b + 1][::-1]
                    out.append(rv[None, :])
        return np.concatenate(out)

    def local_search(self, g: _Genome, *, rounds: int = 50) -> None:
        """Best-improvement hill climbing over `_neighbours`, cues by the DP (in place)."""
        cur = g.fitness.values[0] if g.fitness.valid else -np.inf
        for _ in range(rounds):
            if time.perf_counter() > self.deadline:
                return
            perms = self._neighbours(g)
            if len(perms) > self.cfg.max_neighbours:  # large pools: a random sample of moves
                perms = perms[self.rng.choice(len(perms), self.cfg.max_neighbours, False)]
            tracks = self.free[perms[:, : self.head]]
            if self.lead:
                tracks = np.concatenate([np.full((len(perms), 1), self.lead[0]), tracks], 1)
            ex, en, _ = _cue_dp(self.s, self.c, tracks, decode=True)
            fit = _batch_fitness(self.s, self.c, tracks, ex, en, decode=True)[0]
            self.evaluations += len(perms)
            k = int(fit.argmax())
            if not fit[k] > cur + 1e-9:
                return
            cur = float(fit[k])
            g[:] = perms[k].tolist()
            g.exits[tracks[k, :-1]] = ex[k, :-1]
            g.entries[tracks[k, 1:]] = en[k, 1:]
            g.fitness.values = (cur,)

    def run(self) -> Solution:
        cfg = self.cfg
        t0 = time.perf_counter()
        self.deadline = t0 + cfg.time_budget_s
        pop = self.initial()
        self.memetic(pop[1:] if cfg.seed_greedy else pop)
        self.evaluate(pop)
        if cfg.local_search:
            self.local_search(tools.selBest(pop, 1)[0])
        best = max(g.fitness.values[0] for g in pop)
        stale, gen, last_gain, stopped = 0, 0, 0, "generations"
        n_off = cfg.population - cfg.elite
        gen_start, slowest = time.perf_counter(), 0.0
        for gen in range(1, cfg.generations + 1):
            elite = [g.clone() for g in tools.selBest(pop, cfg.elite)]
            off = [g.clone() for g in tools.selTournament(pop, n_off, cfg.tournament)]
            for a, b in zip(off[::2], off[1::2], strict=False):
                if random.random() < cfg.cx_prob:
                    tools.cxOrdered(a, b)
                    swap = self.rng.random(self.s.n) < 0.5
                    a.exits[swap], b.exits[swap] = b.exits[swap], a.exits[swap].copy()
                    a.entries[swap], b.entries[swap] = b.entries[swap], a.entries[swap].copy()
            for g in off:
                if random.random() < cfg.mut_prob:
                    op = random.randrange(3)
                    if op == 0:
                        _mut_swap(g, self.head)
                    elif op == 1:
                        _mut_insert(g, self.head)
                    else:
                        tools.mutInversion(g)
                if cfg.cue_mut_prob > 0:
                    new_ex, new_en = self.random_cues(1)
                    hit = self.rng.random((2, self.s.n)) < cfg.cue_mut_prob
                    g.exits[hit[0]] = new_ex[0][hit[0]]
                    g.entries[hit[1]] = new_en[0][hit[1]]
            self.memetic([g for g in off if random.random() < cfg.memetic])
            self.evaluate(off)
            for g in off:
                if random.random() < cfg.ls_prob:
                    self.local_search(g, rounds=cfg.ls_rounds)
            pop = elite + off
            top_g = tools.selBest(pop, 1)[0]
            if cfg.local_search and top_g.fitness.values[0] > best + 1e-9:
                self.local_search(top_g)
            top = top_g.fitness.values[0]
            if top > best + 1e-9:
                best, stale, last_gain = top, 0, gen
            else:
                stale += 1
            if stale >= cfg.patience:
                stopped = "converged"
                break
            # Stop when another generation as slow as the slowest so far would overrun.
            now = time.perf_counter()
            slowest, gen_start = max(slowest, now - gen_start), now
            if now + slowest > self.deadline:
                stopped = "time"
                break
        winner = tools.selBest(pop, 1)[0]
        order, ex, en = self.plan_of(winner)
        source = "ga"
        if cfg.greedy_floor:
            from ranking.solvers import greedy  # solvers builds on this module

            g = greedy(self.s, self.c)
            if fitness(self.s, self.c, g.order, g.exit_cues, g.entry_cues) > (
                    winner.fitness.values[0] + 1e-9):
                order, ex, en, source = list(g.order), list(g.exit_cues), list(g.entry_cues), (
                    "greedy")
        return solution_from(self.s, self.c, order, ex, en, stats={
            "generations": gen, "last_gain": last_gain, "evaluations": self.evaluations,
            "stopped": stopped, "source": source, "seconds": time.perf_counter() - t0})


def sequence(scores: TransitionScores, constraints: Constraints,
             config: GAConfig | None = None) -> Solution:
    """The best plan the GA finds: order, cues per junction and per-junction probabilities."""
    cfg = config or GAConfig()
    constraints.check(scores.n)
    search = _Search(scores, constraints, cfg)
    if len(search.free) < 2 or search.head <= 0:
        order: list[int] = [*search.lead, *search.free.tolist()]
        if constraints.n_songs is not None:
            order = order[: search.length]
        o = np.asarray(order, np.int64)[None, :]
        ex, en, m = _cue_dp(scores, constraints, o, decode=True)
        mm = int(m[0])
        return solution_from(scores, constraints, order[:mm], ex[0, : mm - 1].tolist(),
                             en[0, 1:mm].tolist(),
                             stats={"generations": 0, "evaluations": 1, "stopped": "trivial"})
    with _seeded_random(cfg.seed):
        return search.run()


def extend(scores: TransitionScores, played: Solution, *, streamed: int, n_more: int,
           constraints: Constraints | None = None, not_before: float = 0.0,
           config: GAConfig | None = None) -> Solution:
    """Plan ``n_more`` songs after the first ``streamed`` songs of ``played``.

    Those songs, their order and the cues of the junctions between them stay exactly as they
    were: they are on air or gone. The last of them (the song on air) gets a new exit cue, not
    before ``not_before`` seconds into its file (the playhead plus a safety margin), chosen
    together with what follows. Songs of ``played`` after ``streamed`` are replanned. The
    ``constraints``' artist gap, exclusions, minimum play time and recent artists (played
    before ``played`` began) apply; its length is ignored.
    """
    if not 1 <= streamed <= len(played.order):
        raise ValueError(f"streamed must be 1..{len(played.order)}, got {streamed}")
    base_c = constraints or Constraints()
    cur = played.order[streamed - 1]
    cur_entry = played.entry_cues[streamed - 2] if streamed >= 2 else played.first_entry
    gap = base_c.artist_gap
    recent = tuple(int(scores.artists[t]) for t in
                   played.order[max(0, streamed - gap) : streamed - 1]) if gap > 1 else ()
    c = replace(base_c, n_songs=n_more + 1, minutes=None, first=cur, first_entry=cur_entry,
                first_min_exit=not_before, recent_artists=(*base_c.recent_artists, *recent),
                exclude=base_c.exclude | frozenset(played.order[: streamed - 1]))
    tail = sequence(scores, c, config)
    k = streamed - 1  # junctions already made
    order = [*played.order[:k], *tail.order]
    ex = [*played.exit_cues[:k], *tail.exit_cues]
    en = [*played.entry_cues[:k], *tail.entry_cues]
    lp = (*played.junction_logp[:k], *tail.junction_logp)
    sc = (*played.junction_scores[:k], *tail.junction_scores)
    before = Constraints(n_songs=len(order), first=order[0], first_entry=played.first_entry,
                         artist_gap=0, min_play_s=0.0)
    return Solution(order=tuple(order), exit_cues=tuple(ex), entry_cues=tuple(en),
                    first_entry=played.first_entry, junction_logp=lp, junction_scores=sc,
                    total=float(sum(sc)), duration_s=plan_duration(scores, before, order, ex, en),
                    violations=tail.violations, stats=tail.stats)
