"""Sponsor clips spliced into a plan and out again: the plan edits that follow a placement.

`insert_sponsors` puts each `radio.placement.Placement`'s clip between the two songs of its
junction: the junction's one transition becomes two (song -> ad at the song's exit cue and the
clip's start, ad -> song at the clip's end and the next song's entry cue) and the plan's
log-probability changes by the difference. ``meta["sponsors"]`` notes which item is an ad, why
it is there and the transition it replaced, so that `remove_sponsors` can join the songs again
when a sponsor is deleted or paused while the plan is still ahead of the listener.

Pure functions over `radio.plan` records: no store, no clock, no audio. They never choose where
an ad goes (`radio.placement` does) and never edit the plan they are given: each returns a new one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, replace
from typing import Any

from radio.errors import RadioError
from radio.placement import Placement
from radio.plan import Plan, PlanItem, Transition

__all__ = ["insert_sponsors", "remove_sponsors"]


def _renumber(transitions: list[Transition]) -> list[Transition]:
    return [t if t.index == k else replace(t, index=k) for k, t in enumerate(transitions)]


def insert_sponsors(plan: Plan, placements: Sequence[Placement],
                    clips: Mapping[int, PlanItem], *, overlap_beats: int = 4) -> Plan:
    """A new plan with each placement's clip between the two songs of its junction.

    ``clips[sponsor id]`` is the sponsor's item (path, audible start/end as entry/exit, tempo,
    loudness). Junction ``k`` (items k -> k+1) becomes k -> ad at k's exit cue and the ad's
    start, and ad -> k+1 at the ad's end and k+1's entry cue. ``meta["sponsors"]`` says which
    item is an ad, why it is there, and keeps the junction it replaced (`remove_sponsors`).
    """
    by_junction = {p.junction: p for p in placements}
    if len(by_junction) != len(placements):
        raise RadioError("two sponsors placed into one junction")
    for p in placements:
        if not 0 <= p.junction < len(plan.transitions):
            raise RadioError(f"junction {p.junction} is not in a plan of "
                             f"{len(plan.transitions)} junctions")
        if p.sponsor not in clips:
            raise RadioError(f"no clip for sponsor {p.sponsor}")
        if "sponsor" in (plan.items[p.junction].kind, plan.items[p.junction + 1].kind):
            raise RadioError(f"junction {p.junction} already touches an ad; ads never meet")
    items: list[PlanItem] = []
    transitions: list[Transition] = []
    where: dict[int, int] = {}  # old item index -> new
    added: list[dict[str, Any]] = []
    logp = plan.log_probability
    for i, item in enumerate(plan.items):
        where[i] = len(items)
        items.append(item)
        if i >= len(plan.transitions):
            break
        tr = plan.transitions[i]
        if i not in by_junction:
            transitions.append(tr)
            continue
        p = by_junction[i]
        clip = clips[p.sponsor]
        nxt = plan.items[i + 1]
        transitions.append(Transition(
            index=0, exit_time=tr.exit_time, entry_time=clip.entry_time,
            overlap_beats=overlap_beats, tempo_ratio=_ratio(item.tempo, clip.tempo),
            probability=math.exp(p.logp_in)))
        transitions.append(Transition(
            index=0, exit_time=clip.exit_time, entry_time=tr.entry_time,
            overlap_beats=overlap_beats, tempo_ratio=_ratio(clip.tempo, nxt.tempo),
            probability=math.exp(p.logp_out)))
        added.append({"item": len(items), "sponsor": p.sponsor, "junction": i,
                      "time_s": round(p.time_s, 3), "drop": round(p.drop, 4),
                      "similarity": round(p.similarity, 4), "cost": round(p.cost, 4),
                      "probability_in": math.exp(p.logp_in),
                      "probability_out": math.exp(p.logp_out), "replaced": asdict(tr),
                      "reason": _reason(p)})
        items.append(clip)
        logp += p.logp_in + p.logp_out - math.log(max(tr.probability, 1e-300))
    old = [{**n, "item": where[int(n["item"])]} for n in plan.meta.get("sponsors", [])
           if int(n["item"]) in where]
    notes = sorted(old + added, key=lambda n: int(n["item"]))
    return Plan(station=plan.station, items=items, transitions=_renumber(transitions),
                log_probability=logp, meta={**plan.meta, "sponsors": notes})


def remove_sponsors(plan: Plan, keep: Callable[[int], bool], *, from_index: int = 0) -> Plan:
    """A new plan without the sponsor items at or after ``from_index`` whose id ``keep`` rejects.

    The songs around a dropped ad are joined again by the junction the ad replaced (kept in
    ``meta["sponsors"]``), or, for an ad placed by other means, at the same cues. An ad that
    opens or closes the plan, or lies before ``from_index`` (on air or gone), stays.
    """
    notes = {int(n["item"]): n for n in plan.meta.get("sponsors", [])}
    items: list[PlanItem] = []
    transitions: list[Transition] = []
    where: dict[int, int] = {}
    logp = plan.log_probability
    for i, item in enumerate(plan.items):
        drop = (item.kind == "sponsor" and max(from_index, 1) <= i < len(plan.items) - 1
                and not keep(item.ref))
        if not drop:
            where[i] = len(items)
            items.append(item)
            if i < len(plan.transitions):
                transitions.append(plan.transitions[i])
            continue
        into, out = transitions.pop(), plan.transitions[i]
        replaced = notes.get(i, {}).get("replaced")
        if isinstance(replaced, dict):
            joined = Transition(**replaced)
        else:
            joined = replace(into, entry_time=out.entry_time,
                             probability=into.probability * out.probability)
        transitions.append(joined)
        logp += (_log(joined.probability) - _log(into.probability) - _log(out.probability))
    kept = [{**n, "item": where[int(n["item"])]} for n in plan.meta.get("sponsors", [])
            if int(n["item"]) in where]
    return Plan(station=plan.station, items=items, transitions=_renumber(transitions),
                log_probability=logp, meta={**plan.meta, "sponsors": kept})


def _log(p: float) -> float:
    return math.log(max(p, 1e-300))


def _ratio(a: float, b: float) -> float:
    if a <= 0 or b <= 0:
        return 1.0
    r = math.log2(b / a)
    return float(2.0 ** (r - round(r)))


def _reason(p: Placement) -> str:
    return (f"drop {p.drop:+.2f} nats (P in {math.exp(p.logp_in):.2f}, out "
            f"{math.exp(p.logp_out):.2f}), text match {p.similarity:.2f}")
