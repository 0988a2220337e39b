"""Put sponsors into a station's plan: the I/O around the pure `radio.placement`.

`place_sponsors` reads what the choice needs (the plan's junction cue embeddings from the FAISS
cue index, or from the audio when a cue is not indexed; the active sponsors; this listener's
impressions of the last hour; the station's last ad) and returns the plan with the chosen clips
in. `record_played` logs an impression when the stream reaches a sponsor item, and
`drop_deleted` takes sponsors deleted since planning out of the plan's future.

Timeline: ``started_at`` (seconds since the epoch) is when item 0 starts playing; junction ``k``
is heard after items 0..k have played from their entry to their exit cue (crossfades ignored:
they are seconds against the minutes that spacing and caps speak of).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from radio.config import Settings
from radio.errors import RadioError
from radio.placement import Junction, Result, Rules, SponsorSpec, choose
from radio.placement_splice import insert_sponsors
from radio.placement_splice import remove_sponsors as _remove
from radio.plan import Plan, PlanItem
from radio.sponsors import Impression, Sponsor, SponsorStore, sponsor_item

if TYPE_CHECKING:
    from radio.render import BeatsFor
    from ranking.index import CueIndex
    from ranking.inference import ContinuationModel
    from text.encoder import Embedder

__all__ = [
    "drop_deleted",
    "junction_times",
    "junction_vectors",
    "place_sponsors",
    "record_played",
    "sponsor_similarity",
    "with_sponsor_beats",
]


def junction_times(plan: Plan) -> list[float]:
    """Seconds from item 0's start at which each junction is heard."""
    out: list[float] = []
    t, entry = 0.0, plan.items[0].entry_time if plan.items else 0.0
    for tr in plan.transitions:
        t += max(tr.exit_time - entry, 0.0)
        out.append(t)
        entry = tr.entry_time
    return out


def junction_vectors(settings: Settings, plan: Plan, indices: Sequence[int], *,
                     model: ContinuationModel, index: CueIndex | None = None
                     ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """(exit vector of item k, entry vector of item k+1) for each junction ``k`` of two songs.

    Vectors come from the cue index when the plan's cue times are indexed cues of the track
    (the sequencer's plans always are); otherwise the audio around the cue is decoded and
    embedded, so a hand-made plan works too.
    """
    from radio.audio import decode
    from radio.modeling import model_id
    from radio.store import Store
    from ranking.index import CueIndex, Side

    cfg = model.config
    if index is None:  # a caller that holds the library's cue index passes it
        index = CueIndex.load(settings.indexes_dir, dim=cfg.dim, model_id=model_id(model))
    cues: dict[int, list[tuple[int, str, float]]] = {}

    def vector(store: Store, k: int, kind: str, at: float) -> np.ndarray:
        item = plan.items[k]
        if item.ref not in cues:
            cues[item.ref] = [(i, c.kind, c.time) for i, c in store.cue_rows(item.ref)]
        for cue_id, c_kind, c_time in cues[item.ref]:
            if c_kind == kind and abs(c_time - at) < 0.02:
                try:
                    side: Side = "exit" if kind == "exit" else "entry"
                    return np.asarray(index.vectors(side, np.array([cue_id]))[0])
                except KeyError:
                    break
        span = cfg.clip_seconds
        lo = max(at - span, 0.0) if kind == "exit" else at
        y = decode(item.path, sr=cfg.sr, channels=1, offset=lo, duration=span + 0.05,
                   timeout=settings.decode_timeout_s)[0]
        clip = np.zeros(cfg.clip_samples, np.float32)
        if kind == "exit":
            got = y[: round((at - lo) * cfg.sr)][-cfg.clip_samples:]
            clip[cfg.clip_samples - got.size:] = got
            return np.asarray(model.embed_exits([clip], cfg.sr)[0])
        got = y[: cfg.clip_samples]
        clip[: got.size] = got
        return np.asarray(model.embed_entries([clip], cfg.sr)[0])

    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    with Store(settings) as store:
        for k in indices:
            a, b = plan.items[k], plan.items[k + 1]
            if a.kind != "track" or b.kind != "track":
                continue
            tr = plan.transitions[k]
            out[k] = (vector(store, k, "exit", tr.exit_time),
                      vector(store, k + 1, "entry", tr.entry_time))
    return out


def sponsor_similarity(sponsors: Sequence[Sponsor], description: str | None, *,
                       embedder: Embedder | None = None) -> list[float]:
    """Cosine of each sponsor's text with the station's description (0 without one)."""
    if not description or not description.strip() or not sponsors:
        return [0.0] * len(sponsors)
    from radio.search import default_embedder

    enc = embedder or default_embedder()
    vecs = enc.encode([description, *(s.describe() for s in sponsors)])
    return [float(v) for v in vecs[1:] @ vecs[0]]


def _fresh_vectors(store: SponsorStore, sponsors: list[Sponsor], model: ContinuationModel,
                   settings: Settings) -> list[Sponsor]:
    """Re-embed clips embedded by another model (the library trained its own since)."""
    from radio.audio import decode
    from radio.modeling import model_id
    from radio.sponsor_clips import embed_clip

    mid = model_id(model)
    out = []
    for s in sponsors:
        if s.model_id != mid:
            y = decode(s.path, sr=model.config.sr, channels=1,
                       timeout=settings.decode_timeout_s)[0]
            entry, exit_ = embed_clip(y, model.config.sr, start=s.audible_start,
                                      end=s.audible_end, model=model)
            store.set_vectors(s.id, mid, entry, exit_)
            s = replace(s, model_id=mid, entry_vector=entry, exit_vector=exit_)
        out.append(s)
    return out


def place_sponsors(settings: Settings, plan: Plan, *, station: str, started_at: float,
                   listener: str | None = None, description: str | None = None,
                   from_junction: int = 0, rules: Rules | None = None,
                   model: ContinuationModel | None = None, embedder: Embedder | None = None,
                   index: CueIndex | None = None
                   ) -> tuple[Plan, Result]:
    """The plan with sponsors at the least noticeable junctions from ``from_junction`` on.

    ``description`` is the station's prompt or its seed song's description (targeting).
    Every ad already in the plan counts toward caps and spacing at its planned time, whether
    it has aired or not (a live station renders ahead of what has been heard); the impression
    log (`record_played`) adds what the listener heard elsewhere, and this station's own
    impressions before ``started_at`` (the plan's item 0).
    """
    from radio.modeling import resolve_model

    rules = rules or Rules()
    if not plan.transitions:
        return plan, Result((), 0.0, True, 0)
    model = model or resolve_model(settings)
    times = junction_times(plan)
    with SponsorStore(settings) as store:
        now_rel = [started_at + t for t in times]
        sponsors = [s for s in store.sponsors() if s.status == "active"
                    and any(s.active_at(t) for t in now_rel[from_junction:])]
        sponsors = _fresh_vectors(store, sponsors, model, settings)
        heard = store.impressions(since=started_at + times[from_junction] - rules.window_s
                                  if from_junction < len(times) else started_at,
                                  listener=listener, station=None if listener else station)
        last = store.last_ad(station)
    if not sponsors:
        return plan, Result((), 0.0, True, 0, stats={"reason": "no active sponsor"})
    history: dict[int, list[float]] = {s.id: [] for s in sponsors}
    for imp in heard:
        in_plan = imp.station == station and imp.time >= started_at  # counted from the plan
        if imp.sponsor_id in history and not in_plan:
            history[imp.sponsor_id].append(imp.time - started_at)
    gaps = {s.id: 60.0 * s.min_gap_minutes for s in sponsors}
    if last is not None and last[0] >= started_at:
        last = None  # an ad of this plan: found in its items below
    last_t, last_gap = (None, 0.0) if last is None else (last[0] - started_at,
                                                         gaps.get(last[1], 0.0))
    busy: set[int] = set()
    item_t = [0.0, *times]  # an item starts (roughly) at the junction before it
    for k, item in enumerate(plan.items):
        if item.kind != "sponsor":
            continue
        busy.update({k - 1, k})
        if item.ref in history:
            history[item.ref].append(item_t[k])
        if last_t is None or item_t[k] > last_t:
            last_t, last_gap = item_t[k], gaps.get(item.ref, rules.min_gap_s)
    todo = [k for k in range(from_junction, len(plan.transitions)) if k not in busy]
    vectors = junction_vectors(settings, plan, todo, model=model, index=index)
    scale, bias = model.scale, model.bias
    junctions = [Junction(index=k, time_s=times[k], exit_vector=vectors[k][0],
                          entry_vector=vectors[k][1],
                          logp=-math.log1p(math.exp(-(scale * float(vectors[k][0]
                                                                    @ vectors[k][1]) + bias))))
                 for k in todo if k in vectors]
    sims = sponsor_similarity(sponsors, description, embedder=embedder)
    specs = [SponsorSpec(id=s.id, entry_vector=s.entry_vector, exit_vector=s.exit_vector,
                         cap_per_hour=s.cap_per_hour, min_gap_s=gaps[s.id],
                         active_from=None if s.starts_at is None else s.starts_at - started_at,
                         active_until=None if s.ends_at is None else s.ends_at - started_at,
                         weight=s.weight, similarity=sim,
                         history=tuple(sorted(history[s.id])))
             for s, sim in zip(sponsors, sims, strict=True)]
    result = choose(junctions, specs, replace(rules, last_ad_s=last_t, last_ad_gap_s=last_gap),
                    scale=scale, bias=bias)
    clips = {s.id: sponsor_item(s) for s in sponsors}
    return insert_sponsors(plan, result.placements, clips), result


def drop_deleted(settings: Settings, plan: Plan, *, from_index: int = 0) -> Plan:
    """The plan without ads, at or after ``from_index``, whose sponsor is paused or deleted."""
    with SponsorStore(settings) as store:
        live = {s.id for s in store.sponsors() if s.status == "active"}
    return _remove(plan, keep=lambda ref: ref in live, from_index=from_index)


def record_played(settings: Settings, plan: Plan, index: int, *, listener: str | None,
                  at: float | None = None) -> None:
    """Log the impression of sponsor item ``index`` of ``plan``, heard at ``at`` (now)."""
    if not 0 <= index < len(plan.items) or plan.items[index].kind != "sponsor":
        raise RadioError(f"item {index} of the plan is not a sponsor clip")
    note: dict[str, Any] = next(
        (n for n in plan.meta.get("sponsors", []) if int(n["item"]) == index), {})
    with SponsorStore(settings) as store:
        store.record_impression(Impression(
            sponsor_id=plan.items[index].ref, station=plan.station or "-", listener=listener,
            time=time.time() if at is None else at, junction_drop=note.get("drop"),
            probability_in=note.get("probability_in"),
            probability_out=note.get("probability_out")))


def with_sponsor_beats(settings: Settings, beats_for: BeatsFor) -> BeatsFor:
    """``beats_for`` that also knows sponsor clips' beats (stored when the clip was added), so a
    jingle with a beat is beat-matched in instead of crossfaded."""
    cache: dict[int, np.ndarray | None] = {}

    def both(item: PlanItem) -> np.ndarray | None:
        if item.kind != "sponsor":
            return beats_for(item)
        if item.ref not in cache:
            try:
                with SponsorStore(settings) as store:
                    beats = store.get(item.ref).beats
                cache[item.ref] = beats if beats.size else None
            except RadioError:
                cache[item.ref] = None
        return cache[item.ref]

    return both
