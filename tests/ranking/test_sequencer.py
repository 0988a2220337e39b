"""The sequencer: the pure fitness with hand-computed answers, the cue DP and Held-Karp against
brute force, the GA against the exact optimum, baselines, hard constraints (property test),
endless extension and determinism. No torch, no audio: synthetic score tensors only."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ranking.cues import best_cues
from ranking.objective import FLOOR, PENALTY, Constraints, fitness, violations
from ranking.sequencer import GAConfig, extend, sequence
from ranking.solvers import exact, greedy, random_plan
from ranking.transitions import (
    Candidate,
    SoftWeights,
    TransitionScores,
    camelot_steps,
    key_relation,
    score_tensor,
    tempo_ratio,
)

FAST = GAConfig(population=16, generations=60, patience=10, time_budget_s=30.0)


def synthetic(n: int, rng: np.random.Generator, *, cues: int = 3, artists: int | None = None,
              dim: int = 16) -> list[Candidate]:
    """Songs in a few styles: same-style junctions score high, so an order matters."""
    styles = rng.normal(size=(4, dim))
    out = []
    for i in range(n):
        st_ = styles[rng.integers(4)]
        na, nb = int(rng.integers(1, cues + 1)), int(rng.integers(1, cues + 1))
        ex = st_ + rng.normal(size=(na, dim))
        en = st_ + rng.normal(size=(nb, dim))
        dur = float(rng.uniform(120, 240))
        out.append(Candidate(
            track_id=1000 + i,
            exit_vectors=ex / np.linalg.norm(ex, axis=1, keepdims=True),
            entry_vectors=en / np.linalg.norm(en, axis=1, keepdims=True),
            exit_times=np.sort(dur - rng.uniform(5, 50, na)),
            entry_times=np.sort(rng.uniform(5, 50, nb)), start=0.5, end=dur,
            artist=None if artists is None else f"artist {rng.integers(artists)}",
            tempo=float(rng.choice([90.0, 120.0, 124.0, 180.0])),
            camelot=f"{rng.integers(1, 13)}{'AB'[rng.integers(2)]}",
            lufs=float(rng.uniform(-16, -8))))
    return out


def scores_of(n: int, seed: int, **kw: int | None) -> TransitionScores:
    rng = np.random.default_rng(seed)
    return score_tensor(synthetic(n, rng, **kw), scale=8.0, bias=-2.0)  # type: ignore[arg-type]


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


# -- the pure fitness ----------------------------------------------------------------------------

def test_fitness_sums_junctions_by_hand() -> None:
    s, c = tiny(), Constraints(n_songs=3, artist_gap=1, min_play_s=15.0)
    assert fitness(s, c, [0, 1, 2], [1, 0], [0, 1]) == pytest.approx(-0.75)
    assert violations(s, c, [0, 1, 2], [1, 0], [0, 1]) == []
    # exit 1 of song 1 (t=30 s) after entry 0 (t=20 s): 10 s of play < 15 s
    assert fitness(s, c, [0, 1, 2], [1, 1], [0, 1]) == pytest.approx(-0.6 - PENALTY)
    # the best cues for that order are the hand-picked ones
    ex, en, f = best_cues(s, c, [0, 1, 2])
    assert (ex, en, f) == ([1, 0], [0, 1], pytest.approx(-0.75))


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


# -- transition scores ---------------------------------------------------------------------------

def test_score_tensor_matches_a_loop_and_masks_missing_cues(rng: np.random.Generator) -> None:
    cands = synthetic(5, rng, cues=3)
    w = SoftWeights(tempo=0.0, key=0.0, loudness=0.0)
    s = score_tensor(cands, scale=7.0, bias=-1.5, weights=w)
    for i, j in itertools.product(range(5), range(5)):
        for a in range(3):
            for b in range(3):
                got = s.logp[i, a, j, b]
                if i == j or a >= len(cands[i].exit_times) or b >= len(cands[j].entry_times):
                    assert got == -np.inf
                    continue
                dot = float(cands[i].exit_vectors[a] @ cands[j].entry_vectors[b])
                assert got == pytest.approx(-np.log1p(np.exp(-(7.0 * dot - 1.5))), abs=1e-5)


def test_soft_terms() -> None:
    assert tempo_ratio(120, 240) == pytest.approx(1.0)
    assert tempo_ratio(120, 126) == pytest.approx(1.05)
    assert camelot_steps("8A", "8A") == 0 and camelot_steps("8A", "8B") == 1
    assert camelot_steps("12A", "1A") == 1 and camelot_steps("8A", "3B") == 6
    assert key_relation("8A", "8B") == "relative" and key_relation("8A", "9A") == "+1 fifth"
    assert key_relation("8A", "2A") == "clash" and key_relation("", "2A") == ""
    vec = np.ones((1, 4)) / 2

    def cand(tempo: float, camelot: str, lufs: float) -> Candidate:
        return Candidate(0, vec, vec, np.array([100.0]), np.array([10.0]), 0.0, 120.0,
                         tempo=tempo, camelot=camelot, lufs=lufs)

    w = SoftWeights(tempo=1.0, tempo_tolerance=0.05, key=0.5, loudness=0.3, loudness_free_db=3)
    s = score_tensor([cand(120, "8A", -10), cand(240, "8A", -10), cand(126, "9B", -19)],
                     scale=1.0, bias=0.0, weights=w)
    assert s.soft[0, 1] == pytest.approx(0.0)  # double time, same key, same loudness
    # 5 % faster = one tolerance; two Camelot steps = 0.6; 9 dB jump = 6 dB past the free 3
    assert s.soft[0, 2] == pytest.approx(-1.0 - 0.5 * 0.6 - 0.3, abs=1e-5)
    assert np.all(s.score[0, 0, 1, 0] == s.logp[0, 0, 1, 0] + s.soft[0, 1])


# -- reference solvers ---------------------------------------------------------------------------

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
