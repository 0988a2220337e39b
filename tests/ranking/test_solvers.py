"""The solvers and the objective on where a fixed first song starts (`Constraints.first_entry`):
by hand, on an instance where entering the first song at a late cue rules out its best exit.
And on an instance no plan satisfies: `exact` says why, the others return a plan that says what
it breaks."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from ranking.errors import PlanError
from ranking.objective import Constraints, Solution, violations
from ranking.sequencer import GAConfig, sequence
from ranking.solvers import exact, greedy, random_plan
from ranking.transitions import TransitionScores
from tests.ranking.conftest import scores_of


def late_entry() -> TransitionScores:
    """Song 0 leaves best at its exit 0 (90 s), which comes before its entry 1 (100 s)."""
    logp = np.full((3, 2, 3, 2), -5.0, np.float32)
    logp[0, 0, 1, 0] = -0.1
    logp[0, 1, 1, 0] = -1.0  # exit 1 (150 s): the best left when song 0 entered at 100 s
    return TransitionScores.from_logp(
        logp, exit_times=np.array([[90.0, 150.0], [100.0, 160.0], [100.0, 160.0]]),
        entry_times=np.array([[10.0, 100.0], [10.0, 20.0], [10.0, 20.0]]),
        starts=np.zeros(3), ends=np.full(3, 200.0))


def _ga(s: TransitionScores, c: Constraints) -> Solution:
    return sequence(s, c, GAConfig(seed=1))


@pytest.mark.parametrize("solve", [exact, greedy, _ga], ids=["exact", "greedy", "ga"])
def test_solvers_start_a_fixed_first_song_at_its_entry_cue(
        solve: Callable[[TransitionScores, Constraints], Solution]) -> None:
    s = late_entry()
    from_start = solve(s, Constraints(n_songs=2, first=0, artist_gap=1))
    assert (from_start.order, from_start.exit_cues, from_start.entry_cues) == ((0, 1), (0,), (0,))
    assert from_start.total == pytest.approx(-0.1)
    assert from_start.duration_s == pytest.approx(90.0 + 190.0)
    late = solve(s, Constraints(n_songs=2, first=0, first_entry=1, artist_gap=1))
    assert (late.order, late.exit_cues, late.entry_cues) == ((0, 1), (1,), (0,))
    assert late.feasible and late.first_entry == 1
    assert late.total == pytest.approx(-1.0)
    assert late.duration_s == pytest.approx(50.0 + 190.0)


def test_random_plans_never_exit_the_first_song_before_its_entry_cue() -> None:
    s = late_entry()
    c = Constraints(n_songs=2, first=0, first_entry=1, artist_gap=1)
    plans = [random_plan(s, c, seed=k) for k in range(10)]
    assert all(p.feasible and p.exit_cues == (1,) for p in plans)
    assert violations(s, c, (0, 1), (0,), (0,)) == ["song 0 plays less than 15.0 s"]


def five_by_one() -> TransitionScores:
    """Six songs, five of them by one artist: with artist_gap=2 at most three can play (A B A)."""
    s = scores_of(6, 0, artists=3)
    assert sorted(np.bincount(s.artists)) == [1, 5]
    return s


@pytest.mark.timeout(20)  # exact used to follow dead back-pointers here until memory ran out
def test_exact_says_why_when_no_plan_meets_the_constraints() -> None:
    s = five_by_one()
    with pytest.raises(PlanError, match=r"4 songs keeps artist_gap=2: 5 of the 6 .* at most 3"):
        exact(s, Constraints(n_songs=4, artist_gap=2))
    with pytest.raises(PlanError, match=r"at most 2"):  # the song before was by that artist
        exact(s, Constraints(n_songs=3, artist_gap=2, recent_artists=(int(s.artists[0]),)))
    with pytest.raises(PlanError, match=r"at least 1000.0 s between its entry and exit"):
        exact(s, Constraints(n_songs=1, artist_gap=2, min_play_s=1000.0))
    with pytest.raises(PlanError, match=r"first song exiting after 1000.0 s"):
        exact(s, Constraints(n_songs=3, artist_gap=2, first_min_exit=1000.0))
    control = exact(s, Constraints(n_songs=3, artist_gap=2))
    assert control.feasible and len(control.order) == 3


@pytest.mark.timeout(20)
def test_greedy_and_the_ga_return_a_plan_that_says_what_it_breaks_when_none_is_feasible(
        ) -> None:
    s = five_by_one()
    c = Constraints(n_songs=4, artist_gap=2)
    for sol in (greedy(s, c), _ga(s, c), random_plan(s, c, seed=0)):
        assert not sol.feasible and sol.violations
        assert sol.violations == tuple(violations(s, c, sol.order, sol.exit_cues,
                                                  sol.entry_cues))
    control = Constraints(n_songs=3, artist_gap=2)
    best = exact(s, control)
    for sol in (greedy(s, control), _ga(s, control)):
        assert sol.feasible and sol.total == pytest.approx(best.total)
