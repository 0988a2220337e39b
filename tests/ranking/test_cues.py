"""ranking.cues: the cue dynamic program, and Held-Karp (ranking.solvers.exact) with it, against
brute force on tiny instances. No torch, no audio: synthetic score tensors only."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ranking.cues import best_cues
from ranking.objective import Constraints, fitness, violations
from ranking.solvers import exact
from ranking.transitions import TransitionScores
from tests.ranking.conftest import scores_of


def brute_force(s: TransitionScores, c: Constraints) -> float:
    """Every order and every cue choice: the ground truth for tiny instances."""
    best = -np.inf
    na = [int((~np.isnan(s.exit_times[i])).sum()) for i in range(s.n)]
    nb = [int((~np.isnan(s.entry_times[i])).sum()) for i in range(s.n)]
    assert c.n_songs is not None
    for order in itertools.permutations(range(s.n), c.n_songs):
        ex_ranges = [range(na[t]) for t in order[:-1]]
        en_ranges = [range(nb[t]) for t in order[1:]]
        for ex in itertools.product(*ex_ranges):
            for en in itertools.product(*en_ranges):
                if not violations(s, c, order, ex, en):
                    best = max(best, fitness(s, c, order, ex, en))
    return best


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dp_and_held_karp_match_brute_force(seed: int) -> None:
    s = scores_of(5, seed, cues=2, artists=3)
    c = Constraints(n_songs=4, artist_gap=2, min_play_s=30.0)
    truth = brute_force(s, c)
    ex = exact(s, c)
    assert ex.feasible and ex.total == pytest.approx(truth, abs=1e-4)
    assert best_cues(s, c, ex.order)[2] == pytest.approx(truth, abs=1e-4)
    first = Constraints(n_songs=3, first=2, artist_gap=2, min_play_s=30.0)
    assert exact(s, first).total == pytest.approx(brute_force(s, first), abs=1e-4)
