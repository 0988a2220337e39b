"""Sponsors: the operator's ad clips as records, and the tables that keep them and their plays.

Sponsor rows and impressions are the operator's own data (nothing can rebuild them), so they
live in their own tables of ``library.db`` (``sponsors`` and ``sponsor_impressions``, schema
version 2 of `radio.store_schema`, which no step ever drops), written through a connection
opened by `radio.store_schema.open_library` with ``PRAGMA synchronous = FULL``: a committed
sponsor or impression survives a killed process and a power cut. A new clip comes in through
`radio.sponsor_clips.add_sponsor` (checks, analysis, embedding, the durable copy of the clip),
which stores its row here.

Deleting a sponsor marks it ``deleted`` (its impressions and reports stay, and so does the clip,
so a plan already on air still renders); `place_sponsors` never chooses a paused or deleted
sponsor, and `radio.placement_splice.remove_sponsors` takes a deleted one out of a plan's future.

The choice itself is `radio.placement` (pure), and `radio.sponsor_plans` gathers its inputs: cue
embeddings of the plan's junctions from the FAISS cue index, the sponsors' rules, this listener's
impressions of the last hour, and the text similarity of each sponsor with the station's
description. This module holds the records and their SQL only: it must not decode or analyse
audio, load a model, or choose where an ad goes.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np

from radio.config import Settings
from radio.errors import NotFound
from radio.plan import PlanItem
from radio.store_schema import open_library

__all__ = ["Impression", "Sponsor", "SponsorReport", "SponsorStatus", "SponsorStore",
           "iso_utc", "sponsor_item", "vector_blob"]

SponsorStatus = Literal["active", "paused", "deleted"]


@dataclass(frozen=True, eq=False)
class Sponsor:
    """One sponsor (a row of ``sponsors``). Times in seconds; ``starts_at``/``ends_at`` epoch."""

    id: int
    name: str
    text: str
    tags: tuple[str, ...]
    path: str
    original_name: str
    content_hash: str
    duration: float
    audible_start: float
    audible_end: float
    tempo: float
    tempo_confidence: float
    lufs: float
    cap_per_hour: int
    min_gap_minutes: float
    starts_at: float | None
    ends_at: float | None
    weight: float
    status: SponsorStatus
    created_at: str
    updated_at: str
    model_id: str
    beats: np.ndarray = field(repr=False)
    entry_vector: np.ndarray = field(repr=False)
    exit_vector: np.ndarray = field(repr=False)

    def describe(self) -> str:
        """The text targeting compares with a station's prompt or seed."""
        return ". ".join(x for x in (self.name, self.text, ", ".join(self.tags)) if x)

    def active_at(self, when: float) -> bool:
        return self.status == "active" and (self.starts_at is None or when >= self.starts_at) \
            and (self.ends_at is None or when < self.ends_at)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "text": self.text, "tags": list(self.tags),
                "original_name": self.original_name, "duration": round(self.duration, 3),
                "lufs": round(self.lufs, 2), "tempo": round(self.tempo, 2),
                "cap_per_hour": self.cap_per_hour, "min_gap_minutes": self.min_gap_minutes,
                "start": iso_utc(self.starts_at), "end": iso_utc(self.ends_at),
                "weight": self.weight, "status": self.status, "created_at": self.created_at}


@dataclass(frozen=True)
class Impression:
    sponsor_id: int
    station: str
    listener: str | None
    time: float
    junction_drop: float | None
    probability_in: float | None
    probability_out: float | None


@dataclass(frozen=True)
class SponsorReport:
    """What a sponsor got: impressions overall, lately, by station, and how they sounded."""

    sponsor: Sponsor
    impressions: int
    last_hour: int
    last_day: int
    listeners: int  # distinct listener ids (anonymous plays count as none)
    by_station: dict[str, int]
    first: float | None
    last: float | None
    mean_drop: float | None  # nats: lower = the ad sat more naturally in the music
    mean_probability_in: float | None
    mean_probability_out: float | None

    def to_dict(self) -> dict[str, Any]:
        def r(v: float | None) -> float | None:
            return None if v is None else round(v, 4)

        return {"sponsor": self.sponsor.to_dict(), "impressions": self.impressions,
                "last_hour": self.last_hour, "last_day": self.last_day,
                "listeners": self.listeners, "by_station": self.by_station,
                "first": iso_utc(self.first), "last": iso_utc(self.last),
                "mean_drop": r(self.mean_drop), "mean_probability_in": r(
                    self.mean_probability_in),
                "mean_probability_out": r(self.mean_probability_out)}


def iso_utc(t: float | None) -> str | None:
    """Unix time ``t`` as an ISO 8601 UTC string to the second, or None for None."""
    return None if t is None else datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class SponsorStore:
    """The sponsor tables of ``library.db``; one per thread, closed after use."""

    def __init__(self, settings: Settings) -> None:
        self.dir = settings.home / "sponsors"
        # Operator data: FULL, so a committed row survives a power cut.
        self._db = open_library(settings.db_path, synchronous="FULL")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SponsorStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- sponsors -------------------------------------------------------------------------
    def insert(self, row: dict[str, Any]) -> Sponsor:
        now = _now_iso()
        with self._db.atomic():
            new_id = self._db.table("sponsors").insert(
                {**row, "status": "active", "created_at": now, "updated_at": now}).last_rowid
        assert new_id is not None
        return self.get(new_id)

    def get(self, sponsor_id: int, *, deleted: bool = True) -> Sponsor:
        """The sponsor with this id (a deleted one too unless ``deleted`` is False)."""
        rows = list(self._db.query("SELECT * FROM sponsors WHERE id = ?", [sponsor_id]))
        if not rows or (not deleted and rows[0]["status"] == "deleted"):
            raise NotFound("sponsor", sponsor_id)
        return _sponsor(rows[0])

    def sponsors(self, *, include_deleted: bool = False) -> list[Sponsor]:
        sql = "SELECT * FROM sponsors" + ("" if include_deleted else
                                          " WHERE status != 'deleted'") + " ORDER BY id"
        return [_sponsor(r) for r in self._db.query(sql)]

    def set_status(self, sponsor_id: int, status: SponsorStatus) -> Sponsor:
        """Pause, resume or delete; a deleted sponsor stays deleted (`NotFound`)."""
        with self._db.atomic():
            cur = self._db.execute(
                "UPDATE sponsors SET status = ?, updated_at = ? WHERE id = ? "
                "AND status != 'deleted'", [status, _now_iso(), sponsor_id])
        if cur.rowcount == 0:
            raise NotFound("sponsor", sponsor_id)
        return self.get(sponsor_id)

    def set_vectors(self, sponsor_id: int, model_id: str, entry: np.ndarray,
                    exit_: np.ndarray) -> None:
        with self._db.atomic():
            self._db.execute(
                "UPDATE sponsors SET model_id = ?, entry_vector = ?, exit_vector = ? "
                "WHERE id = ?", [model_id, vector_blob(entry), vector_blob(exit_), sponsor_id])

    # -- impressions ----------------------------------------------------------------------
    def record_impression(self, imp: Impression) -> None:
        """Log one play of an ad (committed and synced before this returns)."""
        self.get(imp.sponsor_id)
        with self._db.atomic():
            self._db.table("sponsor_impressions").insert({
                "sponsor_id": imp.sponsor_id, "station": imp.station[:128],
                "listener": None if imp.listener is None else imp.listener[:64],
                "time": float(imp.time), "junction_drop": imp.junction_drop,
                "probability_in": imp.probability_in, "probability_out": imp.probability_out})

    def impressions(self, *, since: float, listener: str | None = None,
                    station: str | None = None) -> list[Impression]:
        """Impressions at or after ``since``, of this listener (else this station), by time."""
        where: list[str] = ["time >= ?"]
        args: list[Any] = [float(since)]
        if listener is not None:
            where.append("listener = ?")
            args.append(listener)
        elif station is not None:
            where.append("station = ?")
            args.append(station)
        rows = self._db.execute(
            "SELECT sponsor_id, station, listener, time, junction_drop, probability_in, "
            f"probability_out FROM sponsor_impressions WHERE {' AND '.join(where)} "
            "ORDER BY time", args).fetchall()
        return [Impression(*r) for r in rows]

    def last_ad(self, station: str) -> tuple[float, int] | None:
        """(time, sponsor id) of the station's latest impression, if any."""
        row = self._db.execute(
            "SELECT time, sponsor_id FROM sponsor_impressions WHERE station = ? "
            "ORDER BY time DESC LIMIT 1", [station]).fetchone()
        return None if row is None else (float(row[0]), int(row[1]))

    def report(self, sponsor_id: int, *, now: float | None = None) -> SponsorReport:
        sponsor = self.get(sponsor_id)
        now = time.time() if now is None else now
        q = self._db.execute
        n, first, last, drop, p_in, p_out, listeners = q(
            "SELECT COUNT(*), MIN(time), MAX(time), AVG(junction_drop), AVG(probability_in), "
            "AVG(probability_out), COUNT(DISTINCT listener) FROM sponsor_impressions "
            "WHERE sponsor_id = ?", [sponsor_id]).fetchone()

        def count_since(t: float) -> int:
            return int(q("SELECT COUNT(*) FROM sponsor_impressions WHERE sponsor_id = ? "
                         "AND time > ?", [sponsor_id, t]).fetchone()[0])

        by_station = dict(q("SELECT station, COUNT(*) FROM sponsor_impressions WHERE "
                            "sponsor_id = ? GROUP BY station ORDER BY 2 DESC", [sponsor_id]))
        return SponsorReport(sponsor=sponsor, impressions=int(n), last_hour=count_since(
            now - 3600), last_day=count_since(now - 86400), listeners=int(listeners),
            by_station={str(k): int(v) for k, v in by_station.items()}, first=first, last=last,
            mean_drop=drop, mean_probability_in=p_in, mean_probability_out=p_out)


def vector_blob(v: np.ndarray) -> bytes:
    """A cue vector as the sponsor table stores it: contiguous float32 bytes."""
    return np.ascontiguousarray(v, dtype=np.float32).tobytes()


def _sponsor(row: dict[str, Any]) -> Sponsor:
    v = dict(row)
    v["tags"] = tuple(json.loads(v.get("tags") or "[]"))
    v["beats"] = np.frombuffer(v["beats"], dtype=np.float64).copy()
    v["entry_vector"] = np.frombuffer(v["entry_vector"], dtype=np.float32).copy()
    v["exit_vector"] = np.frombuffer(v["exit_vector"], dtype=np.float32).copy()
    return Sponsor(**v)


def sponsor_item(sponsor: Sponsor) -> PlanItem:
    """The sponsor's clip as a plan item: played whole, from its audible start to its end."""
    return PlanItem(kind="sponsor", ref=sponsor.id, path=sponsor.path, title=sponsor.name,
                    artist=None, entry_time=sponsor.audible_start,
                    exit_time=sponsor.audible_end, tempo=sponsor.tempo,
                    beat_confidence=sponsor.tempo_confidence, lufs=sponsor.lufs)
