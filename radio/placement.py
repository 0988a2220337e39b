"""Sponsor placement: which junctions of a plan carry which sponsor clip.

Pure functions over arrays and records: no store, no clock, no audio, no plan edits.
`radio.sponsor_plans` gathers the inputs (cue embeddings, impressions, the station's text) and
calls `choose`; `radio.placement_splice` puts the chosen clips into the plan.

**Noticeability.** Putting sponsor ``s`` between songs ``i`` and ``j`` replaces one junction with
two. With the continuation model's calibrated two-tower probability at the plan's own cues,

    drop(i, s, j) = log P(i -> j) - log P(i -> s) - log P(s -> j)        (nats, >= 0 mostly)

is how much less the mix sounds like one continuous piece of music. The cost of a candidate is
``drop - targeting * similarity - log(weight)``: ``similarity`` is the cosine between the
sponsor's text and the station's prompt or seed description (a relevant ad is a smaller
interruption), ``weight`` the operator's preference between sponsors.

**Rules.** Times are seconds relative to the plan's origin (negative = before it):
- spacing: two consecutive ads on the station are at least ``max(rules.min_gap_s, gap of either
  sponsor)`` apart, counting the station's last ad before the plan (checking consecutive pairs
  suffices: gaps add up);
- caps: in every window ``(t - window_s, t]`` a sponsor is heard at most ``cap_per_hour`` times
  by this listener, counting the impressions before the plan (``history``);
- active windows: an ad plays only at a junction inside its sponsor's ``[active_from,
  active_until)``; ``max_ads`` and ``max_cost`` bound the total and the worst cost.

**Search.** Among the placements that obey the rules, `solve` finds the one with the most ads,
then the lowest total cost: an exact dynamic program over junctions in time order whose state is
(last ad's junction, its sponsor, plays so far of each sponsor whose cap can bind, ads so far).
Within a span shorter than the cap window every earlier ad of the span lies inside each window
that ends at a later one, so the counts are the whole story and the program is exact; a longer
plan is solved span by span, earlier spans' ads becoming history (``Result.exact`` is then
False, as it is if ``max_states`` had to prune). Ads lengthen the mix, which only widens real
gaps and thins real windows, so rules checked on the plan's own junction times hold on air too.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from radio.errors import RadioError

__all__ = ["Junction", "Placement", "Result", "Rules", "SponsorSpec", "brute_force", "choose",
           "costs", "solve", "violations"]

_EPS = 1e-9
_Value = tuple[int, float]  # (ads placed, -total cost): larger is better, compared in order


@dataclass(frozen=True)
class Junction:
    """One junction of a plan as placement sees it."""

    index: int  # the plan's transition index (between items index and index + 1)
    time_s: float  # when it is heard, s from the plan's origin
    exit_vector: np.ndarray  # (dim,) the outgoing song's exit cue embedding
    entry_vector: np.ndarray  # (dim,) the incoming song's entry cue embedding
    logp: float  # log P(i -> j) at these cues


@dataclass(frozen=True)
class SponsorSpec:
    """One sponsor as placement sees it: its clip's embeddings and its rules."""

    id: int
    entry_vector: np.ndarray  # (dim,) the clip's first seconds
    exit_vector: np.ndarray  # (dim,) its last seconds
    cap_per_hour: int = 4
    min_gap_s: float = 0.0  # its own minimum distance to any other ad on the station
    active_from: float | None = None  # s from the plan's origin; None: no limit
    active_until: float | None = None
    weight: float = 1.0
    similarity: float = 0.0  # cosine of its text with the station's description
    history: tuple[float, ...] = ()  # times (s, <= 0) this listener heard it before the plan


@dataclass(frozen=True)
class Rules:
    """The station's side of the rules, and the search's settings."""

    min_gap_s: float = 600.0  # at least this between any two ads on the station
    last_ad_s: float | None = None  # when the station's last ad played (s, <= 0), if any
    last_ad_gap_s: float = 0.0  # that ad's sponsor's own gap
    window_s: float = 3600.0  # the cap window: one listener-hour
    targeting: float = 2.0  # nats of cost per unit of text similarity
    max_ads: int | None = None  # at most this many ads in the plan
    max_cost: float | None = None  # never place an ad costing more than this
    max_states: int = 200_000  # DP states kept per junction before pruning the worst


@dataclass(frozen=True)
class Placement:
    """Sponsor ``sponsor`` goes into junction ``junction`` (a transition index)."""

    junction: int
    sponsor: int
    time_s: float
    drop: float  # log P(i->j) - log P(i->s) - log P(s->j), nats
    logp_in: float  # log P(i -> s)
    logp_out: float  # log P(s -> j)
    similarity: float
    cost: float  # drop - targeting * similarity - log(weight)


@dataclass(frozen=True)
class Result:
    placements: tuple[Placement, ...]
    total_cost: float
    exact: bool  # False when the plan was solved span by span or states were pruned
    states: int  # largest DP frontier
    stats: dict[str, Any] = field(default_factory=dict, compare=False)


def _log_sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(-np.logaddexp(0.0, -z), dtype=np.float64)


def costs(junctions: Sequence[Junction], sponsors: Sequence[SponsorSpec], *, scale: float,
          bias: float, targeting: float = 2.0) -> dict[str, np.ndarray]:
    """(J, S) arrays ``drop``, ``logp_in``, ``logp_out`` and ``cost`` of every candidate.

    ``scale``/``bias`` are the model's calibration (``ContinuationModel.scale``/``.bias``), so
    log P here is exactly the sequencer's. Sponsors with a non-positive weight cost ``inf``.
    """
    n_j, n_s = len(junctions), len(sponsors)
    if not n_j or not n_s:
        z = np.zeros((n_j, n_s))
        return {"drop": z, "logp_in": z, "logp_out": z, "cost": z}
    ex = np.stack([j.exit_vector for j in junctions]).astype(np.float64)
    en = np.stack([j.entry_vector for j in junctions]).astype(np.float64)
    s_in = np.stack([s.entry_vector for s in sponsors]).astype(np.float64)
    s_out = np.stack([s.exit_vector for s in sponsors]).astype(np.float64)
    lp_in = _log_sigmoid(scale * (ex @ s_in.T) + bias)
    lp_out = _log_sigmoid(scale * (s_out @ en.T).T + bias)
    base = np.array([j.logp for j in junctions], dtype=np.float64)[:, None]
    drop = base - lp_in - lp_out
    sim = np.array([s.similarity for s in sponsors], dtype=np.float64)
    w = np.array([s.weight for s in sponsors], dtype=np.float64)
    with np.errstate(divide="ignore"):
        log_w = np.where(w > 0, np.log(np.maximum(w, 1e-300)), -np.inf)
    cost = drop - targeting * sim[None, :] - log_w[None, :]
    return {"drop": drop, "logp_in": lp_in, "logp_out": lp_out, "cost": cost}


# -- the rules, checked directly (the reference the solver is tested against) -------------------

def _active(s: SponsorSpec, t: float) -> bool:
    return ((s.active_from is None or t >= s.active_from)
            and (s.active_until is None or t < s.active_until))


def _gap(rules: Rules, a: float, b: float) -> float:
    return max(rules.min_gap_s, a, b)


def violations(times: Sequence[float], cost: np.ndarray, sponsors: Sequence[SponsorSpec],
               rules: Rules, chosen: Mapping[int, int]) -> list[str]:
    """Every rule that ``chosen`` (junction position -> sponsor position) breaks, in words."""
    out: list[str] = []
    ads = sorted((times[j], j, s) for j, s in chosen.items())
    if rules.max_ads is not None and len(ads) > rules.max_ads:
        out.append(f"{len(ads)} ads, more than max_ads={rules.max_ads}")
    prev_t, prev_gap = rules.last_ad_s, rules.last_ad_gap_s
    for t, j, s in ads:
        sp = sponsors[s]
        if not _active(sp, t):
            out.append(f"sponsor {sp.id} at {t:.0f} s is outside its active window")
        if not math.isfinite(cost[j, s]):
            out.append(f"sponsor {sp.id} cannot go into junction {j} (infinite cost)")
        if rules.max_cost is not None and cost[j, s] > rules.max_cost + _EPS:
            out.append(f"sponsor {sp.id} at junction {j} costs more than max_cost")
        if prev_t is not None and t - prev_t < _gap(rules, prev_gap, sp.min_gap_s) - _EPS:
            out.append(f"ads at {prev_t:.0f} s and {t:.0f} s are closer than the minimum gap")
        prev_t, prev_gap = t, sp.min_gap_s
        heard = [h for h in sp.history] + [times[k] for k, q in chosen.items() if q == s]
        in_window = sum(1 for h in heard if t - rules.window_s < h <= t + _EPS)
        if in_window > sp.cap_per_hour:
            out.append(f"sponsor {sp.id} heard {in_window} times in the hour up to {t:.0f} s, "
                       f"cap {sp.cap_per_hour}")
    return out


def _value(cost: np.ndarray, chosen: Mapping[int, int]) -> _Value:
    return len(chosen), -float(sum(cost[j, s] for j, s in chosen.items()))


def brute_force(times: Sequence[float], cost: np.ndarray, sponsors: Sequence[SponsorSpec],
                rules: Rules) -> tuple[dict[int, int], _Value]:
    """The best placement by trying all (S + 1) ** J of them (tests only: tiny instances)."""
    best: dict[int, int] = {}
    best_v: _Value = (0, 0.0)
    for combo in itertools.product(range(-1, len(sponsors)), repeat=len(times)):
        chosen = {j: s for j, s in enumerate(combo) if s >= 0}
        v = _value(cost, chosen)
        if v > best_v and not violations(
                times, cost, sponsors, rules, chosen):
            best, best_v = chosen, v
    return best, best_v


# -- the exact dynamic program ------------------------------------------------------------------

@dataclass
class _State:
    value: _Value
    back: tuple[int, int, _Key] | None  # (junction, sponsor, previous state's key)


# (last ad's junction or -1, its sponsor or -1, plays of each tracked sponsor, ads in all)
_Key = tuple[int, int, tuple[int, ...], int]


def _room(sp: SponsorSpec, t: float, window: float) -> int:
    """Plays of ``sp`` still allowed in the window ending at ``t`` after its history."""
    return sp.cap_per_hour - sum(1 for h in sp.history if t - window < h <= t + _EPS)


def _span(times: Sequence[float], cost: np.ndarray, sponsors: Sequence[SponsorSpec],
          rules: Rules, positions: Sequence[int]) -> tuple[dict[int, int], bool, int]:
    """Exact DP over ``positions`` (a span shorter than the cap window), in time order."""
    n_s = len(sponsors)
    room = np.array([[_room(sp, times[p], rules.window_s) for sp in sponsors]
                     for p in positions], dtype=np.int64).reshape(len(positions), n_s)
    allowed = np.zeros((len(positions), n_s), dtype=bool)
    for r, p in enumerate(positions):
        for s, sp in enumerate(sponsors):
            c = cost[p, s]
            allowed[r, s] = (room[r, s] >= 1 and _active(sp, times[p]) and math.isfinite(c)
                             and (rules.max_cost is None or c <= rules.max_cost + _EPS))
    # Ads that fit by spacing alone (greedy earliest is optimal for points on a line).
    fit, last = 0, rules.last_ad_s
    for r, p in enumerate(positions):
        if allowed[r].any() and (last is None or times[p] - last >= rules.min_gap_s - _EPS):
            fit, last = fit + 1, times[p]
    limit = fit if rules.max_ads is None else min(fit, rules.max_ads)
    # Count plays only of sponsors whose cap can bind within this span.
    # (A sponsor with room for ``limit`` plays wherever it is allowed can never hit its cap.)
    least = np.where(allowed, room, np.iinfo(np.int64).max).min(axis=0, initial=limit)
    tracked = [s for s in range(n_s) if allowed[:, s].any() and least[s] < limit]
    slot = {s: k for k, s in enumerate(tracked)}
    gaps = [sp.min_gap_s for sp in sponsors]
    start: _Key = (-1, -1, (0,) * len(tracked), 0)
    states: dict[_Key, _State] = {start: _State((0, 0.0), None)}
    exact, peak = True, 1
    for r, p in enumerate(positions):
        t = times[p]
        born: dict[_Key, _State] = {}
        for key, st in states.items():
            if st.value[0] >= limit:
                continue
            last_r, last_s, counts, _ = key
            prev_t: float | None
            if last_r >= 0:
                prev_t, prev_gap = times[positions[last_r]], gaps[last_s]
            else:
                prev_t, prev_gap = rules.last_ad_s, rules.last_ad_gap_s
            for s in map(int, np.flatnonzero(allowed[r])):
                if prev_t is not None and t - prev_t < _gap(rules, prev_gap, gaps[s]) - _EPS:
                    continue
                new_counts = counts
                if s in slot:
                    k = slot[s]
                    if counts[k] + 1 > room[r, s]:
                        continue
                    new_counts = (*counts[:k], counts[k] + 1, *counts[k + 1:])
                value = (st.value[0] + 1, st.value[1] - float(cost[p, s]))
                # The total is part of the key: two states that differ only in it have
                # different futures under ``limit`` (max_ads or spacing).
                nk = (r, s, new_counts, st.value[0] + 1)
                old = born.get(nk)
                if old is None or value > old.value:
                    born[nk] = _State(value, (r, s, key))
        states.update(born)
        if len(states) > rules.max_states:
            exact = False
            keep = sorted(states.items(), key=lambda kv: kv[1].value, reverse=True)
            states = dict(keep[: rules.max_states])
        peak = max(peak, len(states))
    best_key = max(states, key=lambda k: states[k].value)
    chosen: dict[int, int] = {}
    node = states[best_key].back
    while node is not None:
        r, s, prev = node
        chosen[positions[r]] = s
        node = states[prev].back
    return chosen, exact, peak


def solve(times: Sequence[float], cost: np.ndarray, sponsors: Sequence[SponsorSpec],
          rules: Rules) -> tuple[dict[int, int], bool, int]:
    """Junction position -> sponsor position: the most ads the rules allow, then the cheapest.

    ``times`` must be non-decreasing. Returns (choice, exact, largest DP frontier).
    """
    if any(b < a for a, b in itertools.pairwise(times)):
        raise RadioError("junction times must be in plan order (non-decreasing)")
    cost = np.asarray(cost, dtype=np.float64).reshape(len(times), len(sponsors))
    if not len(times) or not sponsors:
        return {}, True, 0
    chosen: dict[int, int] = {}
    exact, peak, begin = True, 0, 0
    specs, rules_now = list(sponsors), rules
    while begin < len(times):
        end = begin
        while end < len(times) and times[end] - times[begin] < rules.window_s:
            end += 1
        part, ok, n = _span(times, cost, specs, rules_now, range(begin, end))
        chosen.update(part)
        exact, peak = exact and ok, max(peak, n)
        if end < len(times):
            exact = False  # spans are chained greedily: exact within each, not across
        if part:
            last = max(part)
            rules_now = replace(rules_now, last_ad_s=times[last],
                                last_ad_gap_s=specs[part[last]].min_gap_s)
            specs = [replace(sp, history=sp.history + tuple(
                times[j] for j, q in part.items() if q == s)) for s, sp in enumerate(specs)]
        if rules.max_ads is not None:
            rules_now = replace(rules_now, max_ads=rules.max_ads - len(chosen))
        begin = end
    return chosen, exact, peak


def choose(junctions: Sequence[Junction], sponsors: Sequence[SponsorSpec], rules: Rules, *,
           scale: float, bias: float) -> Result:
    """The placement of ``sponsors`` into ``junctions`` that `solve` finds, with its figures."""
    js = sorted(junctions, key=lambda j: (j.time_s, j.index))
    m = costs(js, sponsors, scale=scale, bias=bias, targeting=rules.targeting)
    chosen, exact, peak = solve([j.time_s for j in js], m["cost"], sponsors, rules)
    out = tuple(
        Placement(junction=js[p].index, sponsor=sponsors[s].id, time_s=js[p].time_s,
                  drop=float(m["drop"][p, s]), logp_in=float(m["logp_in"][p, s]),
                  logp_out=float(m["logp_out"][p, s]), similarity=sponsors[s].similarity,
                  cost=float(m["cost"][p, s]))
        for p, s in sorted(chosen.items()))
    return Result(out, float(sum(p.cost for p in out)), exact, peak,
                  stats={"junctions": len(js), "sponsors": len(sponsors)})
