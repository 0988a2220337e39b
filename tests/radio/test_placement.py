"""Sponsor placement: the DP against brute force, the rules never broken, plans edited right."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from radio.errors import RadioError
from radio.placement import (
    Junction,
    Placement,
    Rules,
    SponsorSpec,
    brute_force,
    choose,
    costs,
    solve,
    violations,
)
from radio.placement_splice import insert_sponsors, remove_sponsors
from radio.plan import Plan, PlanItem, Transition

_V = np.zeros(4, np.float32)


def _spec(i: int, **kw: object) -> SponsorSpec:
    return SponsorSpec(id=i, entry_vector=_V, exit_vector=_V, **kw)  # type: ignore[arg-type]


@st.composite
def instances(draw: st.DrawFn, *, max_j: int = 7, max_s: int = 3, span: float = 3000.0
              ) -> tuple[list[float], np.ndarray, list[SponsorSpec], Rules]:
    n_j = draw(st.integers(1, max_j))
    n_s = draw(st.integers(1, max_s))
    times = sorted(draw(st.lists(st.floats(0, span, allow_nan=False), min_size=n_j,
                                 max_size=n_j)))
    flat = draw(st.lists(st.one_of(st.floats(-3, 6, allow_nan=False), st.just(math.inf)),
                         min_size=n_j * n_s, max_size=n_j * n_s))
    cost = np.array(flat).reshape(n_j, n_s)
    specs = []
    for s in range(n_s):
        lo = draw(st.one_of(st.none(), st.floats(-100, span)))
        hi = draw(st.one_of(st.none(), st.floats(-100, span + 100)))
        history = tuple(draw(st.lists(st.floats(-3600, 0), max_size=3)))
        specs.append(_spec(s, cap_per_hour=draw(st.integers(1, 3)),
                           min_gap_s=draw(st.sampled_from([0.0, 300.0, 700.0])),
                           active_from=lo, active_until=hi, history=history))
    rules = Rules(min_gap_s=draw(st.sampled_from([0.0, 120.0, 400.0, 900.0])),
                  last_ad_s=draw(st.one_of(st.none(), st.floats(-1000, 0))),
                  last_ad_gap_s=draw(st.sampled_from([0.0, 600.0])),
                  max_ads=draw(st.one_of(st.none(), st.integers(0, 4))),
                  max_cost=draw(st.one_of(st.none(), st.floats(-1, 5))))
    return times, cost, specs, rules


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_dp_equals_brute_force_on_small_instances(inst) -> None:
    times, cost, specs, rules = inst
    chosen, exact, _ = solve(times, cost, specs, rules)
    assert exact  # every instance spans less than the one-hour cap window
    assert violations(times, cost, specs, rules, chosen) == []
    _, best = brute_force(times, cost, specs, rules)
    got = (len(chosen), -sum(cost[j, s] for j, s in chosen.items()))
    assert got[0] == best[0]
    assert got[1] == pytest.approx(best[1], abs=1e-9)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(max_j=30, max_s=4, span=4 * 3600.0))
def test_caps_spacing_and_windows_never_violated_on_long_plans(inst) -> None:
    times, cost, specs, rules = inst
    chosen, _, _ = solve(times, cost, specs, rules)
    assert violations(times, cost, specs, rules, chosen) == []


def test_known_answer_spacing_picks_cheapest_compatible_junctions() -> None:
    times = [0.0, 200.0, 400.0, 600.0, 800.0]
    cost = np.array([[1.0], [0.1], [5.0], [0.2], [3.0]])
    # Gap 500 s: at most two ads; the pairs are (0, 600) = 1.2, (200, 800) = 3.1, (0, 800) = 4.
    chosen, exact, _ = solve(times, cost, [_spec(7, cap_per_hour=5)], Rules(min_gap_s=500))
    assert exact and chosen == {0: 0, 3: 0}


def test_caps_limit_plays_per_listener_hour_including_history() -> None:
    times = [float(t) for t in range(0, 3000, 300)]  # ten junctions, 5 min apart
    cost = np.zeros((10, 2))
    cost[:, 1] = 1.0  # sponsor 1 is worse everywhere
    specs = [_spec(0, cap_per_hour=2, history=(-100.0,)), _spec(1, cap_per_hour=3)]
    chosen, _, _ = solve(times, cost, specs, Rules(min_gap_s=0))
    plays = [s for s in chosen.values()]
    assert plays.count(0) == 1  # one play already heard 100 s before the plan
    assert plays.count(1) == 3
    assert violations(times, cost, specs, Rules(min_gap_s=0), chosen) == []


def test_history_falls_out_of_the_window() -> None:
    times = [0.0, 3000.0]
    specs = [_spec(0, cap_per_hour=1, history=(-700.0,))]
    chosen, _, _ = solve(times, np.zeros((2, 1)), specs, Rules(min_gap_s=0))
    assert chosen == {1: 0}  # at 0 s the play at -700 s is inside the hour; at 3000 s it is not


def test_caps_that_allow_nothing_place_nothing() -> None:
    times = [0.0, 600.0, 1200.0]
    specs = [_spec(0, cap_per_hour=1, history=(-10.0,)),  # no room again until 3590 s
             _spec(1, active_from=5000.0),  # its window opens after the plan
             _spec(2, active_until=-1.0)]  # and this one's closed before it
    chosen, exact, _ = solve(times, np.zeros((3, 3)), specs, Rules(min_gap_s=0))
    assert chosen == {} and exact
    also_none, _, _ = solve(times, np.zeros((3, 1)), [_spec(0)], Rules(max_ads=0))
    assert also_none == {}
    too_costly, _, _ = solve(times, np.full((3, 1), 2.0), [_spec(0)], Rules(max_cost=1.0))
    assert too_costly == {}


def test_unsorted_times_are_refused() -> None:
    with pytest.raises(RadioError, match="plan order"):
        solve([10.0, 5.0], np.zeros((2, 1)), [_spec(0)], Rules())


def test_costs_match_the_definition(rng: np.random.Generator) -> None:
    def unit(n: int) -> np.ndarray:
        v = rng.normal(size=(n, 8))
        return np.asarray(v / np.linalg.norm(v, axis=1, keepdims=True), dtype=np.float32)

    ex, en, s_in, s_out = unit(3), unit(3), unit(2), unit(2)
    scale, bias = 6.0, -1.0
    js = [Junction(k, 60.0 * k, ex[k], en[k],
                   -math.log1p(math.exp(-(scale * float(ex[k] @ en[k]) + bias))))
          for k in range(3)]
    sp = [SponsorSpec(id=10 + s, entry_vector=s_in[s], exit_vector=s_out[s], similarity=0.5,
                      weight=2.0) for s in range(2)]
    m = costs(js, sp, scale=scale, bias=bias, targeting=2.0)

    def logp(a: np.ndarray, b: np.ndarray) -> float:
        return -math.log1p(math.exp(-(scale * float(a @ b) + bias)))

    for k in range(3):
        for s in range(2):
            drop = js[k].logp - logp(ex[k], s_in[s]) - logp(s_out[s], en[k])
            assert m["drop"][k, s] == pytest.approx(drop, abs=1e-5)
            assert m["cost"][k, s] == pytest.approx(drop - 1.0 - math.log(2.0), abs=1e-5)


def _item(ref: int, kind: str = "track", tempo: float = 120.0) -> PlanItem:
    return PlanItem(kind=kind, ref=ref, path=f"/m/{kind}{ref}.ogg",  # type: ignore[arg-type]
                    title=f"{kind} {ref}", artist=None, entry_time=1.0, exit_time=100.0,
                    tempo=tempo, beat_confidence=0.9, lufs=-14.0)


def _plan(n: int) -> Plan:
    items = [_item(k) for k in range(n)]
    trs = [Transition(index=k, exit_time=90.0 + k, entry_time=2.0 + k, overlap_beats=16,
                      tempo_ratio=1.0, probability=0.5) for k in range(n - 1)]
    return Plan(station="s1", items=items, transitions=trs, log_probability=(n - 1) *
                math.log(0.5))


def _placement(j: int, sponsor: int, p_in: float = 0.25, p_out: float = 0.2) -> Placement:
    return Placement(junction=j, sponsor=sponsor, time_s=100.0 * j, drop=0.0,
                     logp_in=math.log(p_in), logp_out=math.log(p_out), similarity=0.3,
                     cost=0.0)


def test_insert_then_remove_restores_the_plan() -> None:
    plan = _plan(5)
    ad = PlanItem(kind="sponsor", ref=42, path="/ads/a.wav", title="Acme", artist=None,
                  entry_time=0.2, exit_time=20.0, tempo=0.0, beat_confidence=0.0, lufs=-20.0)
    with_ads = insert_sponsors(plan, [_placement(1, 42), _placement(3, 42)], {42: ad})
    assert [i.kind for i in with_ads.items] == ["track", "track", "sponsor", "track",
                                                "track", "sponsor", "track"]
    assert [t.index for t in with_ads.transitions] == list(range(6))
    into, out = with_ads.transitions[1], with_ads.transitions[2]
    assert (into.exit_time, into.entry_time) == (91.0, 0.2)  # song 1's exit cue, ad's start
    assert (out.exit_time, out.entry_time) == (20.0, 3.0)  # ad's end, song 2's entry cue
    assert into.probability == pytest.approx(0.25) and out.probability == pytest.approx(0.2)
    expected = plan.log_probability + 2 * (math.log(0.25) + math.log(0.2) - math.log(0.5))
    assert with_ads.log_probability == pytest.approx(expected)
    assert [n["item"] for n in with_ads.meta["sponsors"]] == [2, 5]
    # Round trip through JSON, as `radio plan --json` does.
    with_ads = Plan.from_dict(with_ads.to_dict())
    back = remove_sponsors(with_ads, keep=lambda ref: False)
    assert back.items == plan.items and back.transitions == plan.transitions
    assert back.log_probability == pytest.approx(plan.log_probability)
    assert back.meta["sponsors"] == []


def test_remove_keeps_ads_before_the_playhead_and_of_live_sponsors() -> None:
    plan = _plan(6)
    ads = {1: _item(1, "sponsor"), 2: _item(2, "sponsor")}
    with_ads = insert_sponsors(plan, [_placement(0, 1), _placement(2, 2), _placement(4, 1)],
                               ads)
    # items: t0 ad1 t1 t2 ad2 t3 t4 ad1 t5; sponsor 1 deleted while item 3 is on air
    pruned = remove_sponsors(with_ads, keep=lambda ref: ref != 1, from_index=3)
    assert [(i.kind, i.ref) for i in pruned.items] == [
        ("track", 0), ("sponsor", 1), ("track", 1), ("track", 2), ("sponsor", 2),
        ("track", 3), ("track", 4), ("track", 5)]
    assert pruned.transitions[6] == replace_index(plan.transitions[4], 6)
    assert [n["item"] for n in pruned.meta["sponsors"]] == [1, 4]


def replace_index(t: Transition, k: int) -> Transition:
    from dataclasses import replace

    return replace(t, index=k)


def test_insert_refuses_bad_placements() -> None:
    plan = _plan(3)
    ad = {5: _item(5, "sponsor")}
    with pytest.raises(RadioError, match="not in a plan"):
        insert_sponsors(plan, [_placement(2, 5)], ad)
    with pytest.raises(RadioError, match="no clip"):
        insert_sponsors(plan, [_placement(0, 6)], ad)
    with pytest.raises(RadioError, match="one junction"):
        insert_sponsors(plan, [_placement(0, 5), _placement(0, 5)], ad)
    once = insert_sponsors(plan, [_placement(0, 5)], ad)
    with pytest.raises(RadioError, match="ads never meet"):
        insert_sponsors(once, [_placement(1, 5)], ad)


def test_choose_prefers_the_sponsor_that_continues_the_music(rng: np.random.Generator) -> None:
    # Junction vectors: song exits point along e0, entries along e1. Sponsor A's entry matches
    # the exits and its exit matches the entries (it "continues" the music); B is orthogonal.
    e = np.eye(4, dtype=np.float32)
    js = [Junction(k, 700.0 * k, e[0], e[1], math.log(0.5)) for k in range(4)]
    a = SponsorSpec(id=1, entry_vector=e[0], exit_vector=e[1], cap_per_hour=1)
    b = SponsorSpec(id=2, entry_vector=e[2], exit_vector=e[3], cap_per_hour=1)
    res = choose(js, [b, a], Rules(min_gap_s=600), scale=8.0, bias=-2.0)
    assert [p.sponsor for p in res.placements].count(1) == 1
    assert len(res.placements) == 2  # both caps are one per hour; the span is 35 min
    best = min(res.placements, key=lambda p: p.cost)
    assert best.sponsor == 1 and best.drop < 0  # P(e0 -> e0) beats the plan's P = 0.5
