"""ranking.objective: the pure fitness and its penalties, with hand-computed answers on a
three-song tensor. No torch, no audio: synthetic score tensors only."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from ranking.cues import best_cues
from ranking.errors import PlanError, RankingError
from ranking.objective import FLOOR, PENALTY, Constraints, fitness, violations
from ranking.sequencer import extend
from ranking.solvers import exact, greedy
from ranking.transitions import TransitionScores, score_tensor


def tiny() -> TransitionScores:
    """Three songs, two exit and two entry cues each, values chosen by hand."""
    logp = np.full((3, 2, 3, 2), -5.0, np.float32)
    logp[0, 1, 1, 0] = -0.5  # song 0 leaves at exit 1 into song 1's entry 0
    logp[1, 0, 2, 1] = -0.25
    logp[1, 1, 2, 1] = -0.1  # better, but song 1's exit 1 comes too soon after its entry 0
    exit_times = np.array([[100.0, 150.0], [160.0, 30.0], [140.0, np.nan]])
    entry_times = np.array([[10.0, 20.0], [20.0, 25.0], [5.0, 15.0]])
    return TransitionScores.from_logp(logp, exit_times=exit_times, entry_times=entry_times,
                                      starts=np.zeros(3), ends=np.full(3, 200.0),
                                      artists=np.array([0, 1, 0]))


def test_fitness_sums_junctions_by_hand() -> None:
    s, c = tiny(), Constraints(n_songs=3, artist_gap=1, min_play_s=15.0)
    assert fitness(s, c, [0, 1, 2], [1, 0], [0, 1]) == pytest.approx(-0.75)
    assert violations(s, c, [0, 1, 2], [1, 0], [0, 1]) == []
    # exit 1 of song 1 (t=30 s) after entry 0 (t=20 s): 10 s of play < 15 s
    assert fitness(s, c, [0, 1, 2], [1, 1], [0, 1]) == pytest.approx(-0.6 - PENALTY)
    # the best cues for that order are the hand-picked ones
    ex, en, f = best_cues(s, c, [0, 1, 2])
    assert (ex, en) == ([1, 0], [0, 1]) and f == pytest.approx(-0.75)


def test_fitness_penalises_each_broken_rule() -> None:
    s = tiny()
    ok = [1, 0], [0, 1]
    gap2 = Constraints(n_songs=3, artist_gap=2)
    assert fitness(s, gap2, [0, 1, 2], *ok) == pytest.approx(-0.75)
    gap3 = Constraints(n_songs=3, artist_gap=3)  # songs 0 and 2 share artist 0
    assert fitness(s, gap3, [0, 1, 2], *ok) == pytest.approx(-0.75 - PENALTY)
    assert any("artist" in v for v in violations(s, gap3, [0, 1, 2], *ok))
    assert fitness(s, Constraints(n_songs=4, artist_gap=1), [0, 1, 2], *ok) == pytest.approx(
        -0.75 - PENALTY)
    assert fitness(s, Constraints(n_songs=3, first=1, artist_gap=1), [0, 1, 2],
                   *ok) == pytest.approx(-0.75 - PENALTY)
    # song 2 has no exit cue 1: that junction counts FLOOR, and song 2's play is undefined
    assert fitness(s, Constraints(n_songs=3, artist_gap=1), [0, 2, 1], [1, 1], [0, 0]) == (
        pytest.approx(-5.0 + FLOOR - 2 * PENALTY))
    assert fitness(s, Constraints(n_songs=3, artist_gap=1, exclude=frozenset({2})), [0, 1, 2],
                   *ok) == pytest.approx(-0.75 - PENALTY)


def test_fitness_minutes_target_by_hand() -> None:
    s = tiny()
    order, ex, en = [0, 1, 2], [1, 0], [0, 1]
    # song 0 plays 0..150 s, song 1 20..160 s, song 2 15..200 s (its end): 475 s
    c = Constraints(minutes=7.5, artist_gap=1)
    dur = 150.0 + 140.0 + (200.0 - 15.0)
    assert fitness(s, c, order, ex, en) == pytest.approx(-0.75)  # 475 s >= 450 s
    c6 = Constraints(minutes=8.0, artist_gap=1)
    short = 8.0 - dur / 60.0
    assert fitness(s, c6, order, ex, en) == pytest.approx(-0.75 - PENALTY * (1 + short))


@pytest.mark.parametrize(("call", "message"), [
    (lambda s: Constraints().check(s.n), "exactly one of n_songs and minutes"),
    (lambda s: Constraints(n_songs=0).check(s.n), "n_songs must be at least 1, got 0"),
    (lambda s: Constraints(minutes=-1.0).check(s.n), "minutes must be positive, got -1.0"),
    (lambda s: greedy(s, Constraints(n_songs=2, first=7)), "first=7 is not one of the 3"),
    (lambda s: greedy(s, Constraints(n_songs=2, first=1, exclude=frozenset({1}))),
     "first=1 is also excluded"),
    (lambda s: greedy(s, Constraints(n_songs=3, exclude=frozenset({2}))),
     "3 songs asked for but only 2 candidates"),
    (lambda s: fitness(s, Constraints(n_songs=3), [0, 1, 2], [1], [0]),
     "3 songs need 2 exit and entry cues"),
    (lambda s: exact(s, Constraints(minutes=5.0)), "song-count targets only"),
    (lambda s: exact(s, Constraints(n_songs=2, artist_gap=3)), "artist_gap <= 2, got 3"),
    (lambda s: exact(s, Constraints(n_songs=3, artist_gap=2, min_play_s=1000.0)),
     "no plan of 3 of these 3 candidates meets the constraints"),
    (lambda s: extend(s, exact(s, Constraints(n_songs=2, artist_gap=1)), streamed=3,
                      n_more=1), "streamed must be 1..2, got 3"),
    (lambda s: score_tensor([], scale=1.0, bias=0.0), "no candidates to sequence"),
], ids=["no-length", "no-songs", "negative-minutes", "first-unknown", "first-excluded",
        "too-few", "cue-count", "exact-minutes", "exact-gap", "exact-infeasible",
        "extend-streamed", "no-candidates"])
def test_a_problem_that_cannot_be_solved_as_posed_is_a_ranking_error(
        call: Callable[[TransitionScores], object], message: str) -> None:
    """Bad constraints and inputs raise `PlanError`, which callers catch as the package's
    `RankingError` (the CLI's one-line error) or, as before, as a ValueError."""
    with pytest.raises(PlanError, match=message) as caught:
        call(tiny())
    assert isinstance(caught.value, RankingError) and isinstance(caught.value, ValueError)
