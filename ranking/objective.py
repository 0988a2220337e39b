"""The sequencing problem: its hard constraints, the plan record and the objective.

Objective: the sum over junctions of ``TransitionScores.score`` (the model's log P plus the
musical terms), subject to hard constraints (`Constraints`): no track twice, no artist twice
within ``artist_gap`` songs, a length in songs or minutes, a fixed first song (the seed, or the
song on air when extending), every song played at least ``min_play_s`` between its entry and
exit cue. `fitness` is a pure function of the tensor, the constraints and a plan; a violated
constraint costs `PENALTY` so that every feasible plan beats every infeasible one.
`violations` says in words what a plan breaks; `solution_from` packages a plan as a `Solution`.

`batch_fitness` scores many plans at once (the GA's population, in `ranking.sequencer`);
`fitness` and `plan_duration` are its one-plan forms, so the GA, the cue dynamic program
(`ranking.cues`) and the reference solvers (`ranking.solvers`) all judge a plan the same way;
`start_times` (where a plan's first song starts) is shared with them for the same reason.

Pure numpy: no search here (that is `ranking.sequencer`, `ranking.cues`, `ranking.solvers`), no
DEAP; never imports `radio` or `server`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ranking.errors import PlanError
from ranking.transitions import TransitionScores

__all__ = ["FLOOR", "PENALTY", "Constraints", "Solution", "batch_fitness", "fitness",
           "plan_duration", "solution_from", "start_times", "violations"]

PENALTY = 1.0e4  # per violated constraint (and per minute short of a minutes target)
FLOOR = -100.0  # a missing cue's junction counts this much in an infeasible plan's fitness


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
        """`PlanError` (a ValueError) naming the problem when these constraints cannot apply
        to ``n`` songs."""
        if (self.n_songs is None) == (self.minutes is None):
            raise PlanError("set exactly one of n_songs and minutes")
        if self.n_songs is not None and self.n_songs < 1:
            raise PlanError(f"n_songs must be at least 1, got {self.n_songs}")
        if self.minutes is not None and self.minutes <= 0:
            raise PlanError(f"minutes must be positive, got {self.minutes}")
        if self.first is not None and not 0 <= self.first < n:
            raise PlanError(f"first={self.first} is not one of the {n} candidates")
        if self.first is not None and self.first in self.exclude:
            raise PlanError(f"first={self.first} is also excluded")
        free = n - len({i for i in self.exclude if 0 <= i < n})
        if self.n_songs is not None and self.n_songs > free:
            raise PlanError(f"{self.n_songs} songs asked for but only {free} candidates")


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


# -- plan arithmetic ----------------------------------------------------------------------------

def start_times(s: TransitionScores, c: Constraints, first_tracks: np.ndarray) -> np.ndarray:
    """Seconds into each of ``first_tracks`` where it starts when it opens a plan: the fixed
    first song's entry cue ``c.first_entry`` when one is set, else the track's audible start.

    With a fixed first song and its entry cue every track gets that cue's time: a plan opening
    with another song already breaks the first-song rule, and the batch stays one array.
    """
    if c.first_entry is not None and c.first is not None:
        return np.full(len(first_tracks), s.entry_times[c.first, c.first_entry])
    return np.asarray(s.starts[first_tracks], dtype=np.float64)


def batch_fitness(s: TransitionScores, c: Constraints, orders: np.ndarray,
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
    tn[:, 0] = start_times(s, c, orders[:, 0])
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
        raise PlanError(f"{len(order)} songs need {len(order) - 1} exit and entry cues")
    o, ex, en = _positional(order, exit_cues, entry_cues)
    fit = batch_fitness(scores, constraints, o, ex, en, decode=False)[0]
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
    enter = [float(start_times(s, c, np.asarray(order[:1]))[0]) if order else 0.0]
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
    return float(batch_fitness(scores, constraints, o, ex, en, decode=False)[2][0])


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
