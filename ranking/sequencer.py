"""The sequencer: which songs play, in what order, and at which cues each hands over to the next.

It searches; what it maximises (`fitness`, under `Constraints`) and the plan it returns
(`Solution`) are `ranking.objective`'s.

Search (`sequence`) is a DEAP genetic algorithm with a memetic step:

- genome: a permutation of the free candidates (the plan is its prefix, after the fixed first
  song) plus one exit and one entry cue gene per candidate, so a song keeps its cues when
  crossover moves it;
- ordered crossover (OX) and swap/insert/reverse mutations for the order, uniform crossover and
  per-gene mutation for the cues, tournament selection, elitism;
- memetic step: for a fixed order the best cues are a chain dynamic program (`ranking.cues`),
  solved exactly and vectorised over the population, written back into the genome (Lamarckian);
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
from dataclasses import dataclass, replace

import numpy as np
from deap import base, tools

from ranking.cues import batch_best_cues
from ranking.errors import PlanError
from ranking.objective import (
    Constraints,
    Solution,
    batch_fitness,
    fitness,
    plan_duration,
    solution_from,
)
from ranking.solvers import greedy
from ranking.transitions import TransitionScores

__all__ = ["GAConfig", "extend", "sequence"]


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
        ex, en, m = batch_best_cues(self.s, self.c, o, decode=True)
        for g, row, e, n_, mm in zip(pop, o, ex, en, m, strict=True):
            g.exits[row[: mm - 1]] = e[: mm - 1]
            g.entries[row[1:mm]] = n_[1:mm]

    def evaluate(self, pop: Sequence[_Genome]) -> None:
        o = self.orders(pop)
        ex = np.stack([g.exits for g in pop])[np.arange(len(pop))[:, None], o]
        en = np.stack([g.entries for g in pop])[np.arange(len(pop))[:, None], o]
        fit = batch_fitness(self.s, self.c, o, ex, en, decode=True)[0]
        for g, f in zip(pop, fit, strict=True):
            g.fitness.values = (float(f),)
        self.evaluations += len(pop)

    def plan_of(self, g: _Genome) -> tuple[list[int], list[int], list[int]]:
        o = self.orders([g])
        ex = g.exits[o[0]][None, :]
        en = g.entries[o[0]][None, :]
        m = int(batch_fitness(self.s, self.c, o, ex, en, decode=True)[1][0])
        order = o[0, :m].tolist()
        return order, ex[0, : m - 1].tolist(), en[0, 1:m].tolist()

    def initial(self) -> list[_Genome]:
        cfg, f = self.cfg, len(self.free)
        exits, entries = self.random_cues(cfg.population)
        pop = [_Genome(random.sample(range(f), f), exits[i], entries[i])
               for i in range(cfg.population)]
        if cfg.seed_greedy:
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
            ex, en, _ = batch_best_cues(self.s, self.c, tracks, decode=True)
            fit = batch_fitness(self.s, self.c, tracks, ex, en, decode=True)[0]
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
        ex, en, m = batch_best_cues(scores, constraints, o, decode=True)
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
        raise PlanError(f"streamed must be 1..{len(played.order)}, got {streamed}")
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
