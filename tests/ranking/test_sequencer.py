"""The sequencer (ranking.sequencer, the GA): against the exact optimum and the baselines of
ranking.solvers, minutes plans, hard constraints (property test), endless extension and
determinism. No torch, no audio: synthetic score tensors only."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ranking.objective import Constraints, violations
from ranking.sequencer import GAConfig, extend, sequence
from ranking.solvers import exact, greedy, random_plan
from tests.ranking.conftest import scores_of

FAST = GAConfig(population=16, generations=60, patience=10, time_budget_s=30.0)


# -- reference solvers ---------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(4))
def test_ga_finds_the_exact_optimum_on_small_instances(seed: int) -> None:
    s = scores_of(9, 10 + seed, cues=3, artists=6)
    c = Constraints(n_songs=7, artist_gap=2, first=seed)
    opt = exact(s, c)
    ga = sequence(s, c, FAST)
    assert ga.feasible
    assert ga.total == pytest.approx(opt.total, abs=1e-4)
    assert ga.junction_scores == pytest.approx(
        [s.score[i, a, j, b] for i, a, j, b in zip(ga.order, ga.exit_cues, ga.order[1:],
                                                   ga.entry_cues, strict=False)])


def test_greedy_and_random_behave() -> None:
    s = scores_of(20, 3, cues=3, artists=8)
    c = Constraints(n_songs=8, artist_gap=3)
    g = greedy(s, c)
    assert g.feasible and len(g.order) == 8 and greedy(s, c) == g
    r = [random_plan(s, c, seed=k) for k in range(10)]
    assert all(x.feasible and len(x.order) == 8 for x in r)
    assert random_plan(s, c, seed=4) == r[4] and len({x.order for x in r}) > 5
    assert g.total > np.mean([x.total for x in r])
    assert sequence(s, c, FAST).total >= g.total - 1e-6


def test_minutes_plan_is_the_shortest_reaching_the_target() -> None:
    s = scores_of(25, 5, cues=3, artists=10)
    c = Constraints(minutes=20.0, artist_gap=3)
    sol = sequence(s, c, FAST)
    assert sol.feasible and sol.duration_s >= 20 * 60
    # without its last song (the one before then plays to its end) it would be too short
    k = len(sol.order) - 2
    enters = [s.starts[sol.order[0]]] + [s.entry_times[t, b] for t, b in
                                         zip(sol.order[1:], sol.entry_cues, strict=True)]
    before = sum(s.exit_times[t, a] - enters[i]
                 for i, (t, a) in enumerate(zip(sol.order[:k], sol.exit_cues[:k], strict=True)))
    assert before + s.ends[sol.order[k]] - enters[k] < 20 * 60


# -- hard constraints, as a property -------------------------------------------------------------

@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(4, 12), cues=st.integers(1, 3),
       artists=st.integers(1, 6), gap=st.integers(1, 3), songs=st.integers(1, 6),
       use_first=st.booleans(), minutes=st.booleans())
def test_constraints_hold(seed: int, n: int, cues: int, artists: int, gap: int, songs: int,
                          use_first: bool, minutes: bool) -> None:
    s = scores_of(n, seed, cues=cues, artists=artists)
    exclude = frozenset({n - 1})
    first = seed % (n - 1) if use_first else None
    c = (Constraints(minutes=float(songs), artist_gap=gap, first=first, exclude=exclude)
         if minutes else Constraints(n_songs=min(songs, n - 1), artist_gap=gap, first=first,
                                     exclude=exclude))
    sol = sequence(s, c, GAConfig(population=8, generations=8, patience=4, seed=seed))
    assert len(set(sol.order)) == len(sol.order) and n - 1 not in sol.order
    assert first is None or sol.order[0] == first
    assert len(sol.exit_cues) == len(sol.entry_cues) == len(sol.order) - 1
    assert list(sol.violations) == violations(s, c, sol.order, sol.exit_cues, sol.entry_cues)
    if greedy(s, c).feasible:  # a feasible plan exists: the GA returns one
        assert sol.feasible, sol.violations


# -- endless radio and determinism ---------------------------------------------------------------

@pytest.mark.parametrize("streamed", [1, 2, 4])
def test_extend_keeps_the_streamed_prefix(streamed: int) -> None:
    s = scores_of(30, 7, cues=3, artists=12)
    c = Constraints(n_songs=6, artist_gap=3, first=0)
    plan = sequence(s, c, FAST)
    on_air = plan.order[streamed - 1]
    playhead = float(np.nanmax(s.exit_times[on_air])) - 0.1  # only its last exit is left
    more = extend(s, plan, streamed=streamed, n_more=5, constraints=Constraints(artist_gap=3),
                  not_before=playhead, config=FAST)
    k = streamed - 1
    assert more.order[:streamed] == plan.order[:streamed]
    assert more.exit_cues[:k] == plan.exit_cues[:k]
    assert more.entry_cues[:k] == plan.entry_cues[:k]
    assert more.junction_logp[:k] == plan.junction_logp[:k]
    assert more.first_entry == plan.first_entry
    assert len(more.order) == streamed + 5 and len(set(more.order)) == len(more.order)
    assert s.exit_times[more.order[k], more.exit_cues[k]] >= playhead
    assert more.total == pytest.approx(sum(more.junction_scores))
    whole = Constraints(n_songs=len(more.order), artist_gap=3, first=0, min_play_s=15.0)
    assert violations(s, whole, more.order, more.exit_cues, more.entry_cues) == []


def test_seeded_runs_are_deterministic() -> None:
    s = scores_of(30, 8, cues=4, artists=10)
    c = Constraints(n_songs=10, artist_gap=3)
    a = sequence(s, c, GAConfig(seed=3, time_budget_s=60.0))
    b = sequence(s, c, GAConfig(seed=3, time_budget_s=60.0))
    assert a == b and a.stats["stopped"] != "time"
