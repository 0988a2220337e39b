"""Listeners' feedback (likes, skips, blocks) and the play log: the operator's own data.

Unlike everything else in ``RADIO_HOME``, these rows cannot be rebuilt from the music files, so
they are written with ``PRAGMA synchronous = FULL`` (each commit reaches the disk before the
call returns: a killed process or a power cut loses nothing that was acknowledged), one
transaction per event, and the tables are only ever appended to.

`taste` turns a listener's history into what station pools need: the tracks they like, skipped
recently, or blocked. The ``feedback`` and ``plays`` tables live in ``library.db`` beside the
library: schema version 2 of `radio.store_schema`, whose `open_library` (`operator_db`) brings
an older file up to date, keeping the rows of one that already holds them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal, get_args

from sqlite_utils import Database

from radio.config import Settings
from radio.errors import RadioError
from radio.store_schema import open_library

__all__ = ["FeedbackKind", "Taste", "check_listener", "operator_db", "plays", "record_feedback",
           "record_play", "taste"]

FeedbackKind = Literal["like", "skip", "block"]
MAX_LISTENER_CHARS = 64
RECENT_SKIP_S = 7 * 24 * 3600.0  # a skip keeps a song off the listener's stations this long


@contextmanager
def operator_db(settings: Settings) -> Iterator[Database]:
    """The library database opened for operator writes (FULL sync) and brought up to date."""
    db = open_library(settings.db_path, synchronous="FULL")
    try:
        yield db
    finally:
        db.close()


def check_listener(listener: str) -> str:
    """The listener id, stripped; RadioError when empty or too long."""
    name = listener.strip()
    if not name:
        raise RadioError("a listener id cannot be empty")
    if len(name) > MAX_LISTENER_CHARS:
        raise RadioError(f"a listener id has at most {MAX_LISTENER_CHARS} characters, "
                         f"got {len(name)}")
    return name


def record_feedback(settings: Settings, *, listener: str, track_id: int, kind: FeedbackKind,
                    station: str | None = None, at: float | None = None) -> None:
    """Append one like, skip or block; durable when this returns."""
    if kind not in get_args(FeedbackKind):
        raise RadioError(f"feedback must be like, skip or block, not {kind!r}")
    row = {"listener": check_listener(listener), "station": station, "track_id": int(track_id),
           "kind": kind, "at": time.time() if at is None else float(at)}
    with operator_db(settings) as db, db.conn:
        db.conn.execute("INSERT INTO feedback (listener, station, track_id, kind, at) "
                        "VALUES (:listener, :station, :track_id, :kind, :at)", row)


def record_play(settings: Settings, *, station: str, listener: str | None, item_kind: str,
                ref: int, started_at: float, junction_probability: float | None) -> None:
    """Append one line of the play log (a song or sponsor clip went on air)."""
    row = {"station": station, "listener": listener, "item_kind": item_kind, "ref": int(ref),
           "started_at": float(started_at), "junction_probability": junction_probability}
    with operator_db(settings) as db, db.conn:
        db.conn.execute(
            "INSERT INTO plays (station, listener, item_kind, ref, started_at, "
            "junction_probability) VALUES (:station, :listener, :item_kind, :ref, :started_at, "
            ":junction_probability)", row)


def plays(settings: Settings, *, station: str | None = None) -> list[dict[str, object]]:
    """The play log, oldest first (one station's when ``station`` is given)."""
    with operator_db(settings) as db:
        if station is None:
            return list(db.query("SELECT * FROM plays ORDER BY started_at, id"))
        return list(db.query("SELECT * FROM plays WHERE station = ? ORDER BY started_at, id",
                             [station]))


@dataclass(frozen=True)
class Taste:
    """What a listener's feedback says, as track ids (each id in at most one of the sets,
    decided by the most recent feedback on it)."""

    listener: str
    likes: frozenset[int] = frozenset()
    skips: frozenset[int] = frozenset()  # every skip, however old (the taste vector's minus)
    recent_skips: frozenset[int] = frozenset()  # skipped within RECENT_SKIP_S: left out
    blocks: frozenset[int] = frozenset()  # never again
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def excluded(self) -> frozenset[int]:
        """Tracks a station for this listener leaves out."""
        return self.blocks | self.recent_skips


def taste(settings: Settings, listener: str, *, now: float | None = None) -> Taste:
    """The listener's current likes, skips and blocks."""
    name = check_listener(listener)
    now = time.time() if now is None else now
    with operator_db(settings) as db:
        rows = list(db.query("SELECT track_id, kind, at FROM feedback WHERE listener = ? "
                             "ORDER BY at, id", [name]))
    last: dict[int, tuple[str, float]] = {}
    counts: dict[str, int] = {}
    for r in rows:
        last[int(r["track_id"])] = (str(r["kind"]), float(r["at"]))
        counts[str(r["kind"])] = counts.get(str(r["kind"]), 0) + 1
    likes = {t for t, (k, _) in last.items() if k == "like"}
    skips = {t for t, (k, _) in last.items() if k == "skip"}
    recent = {t for t in skips if now - last[t][1] <= RECENT_SKIP_S}
    blocks = {t for t, (k, _) in last.items() if k == "block"}
    return Taste(listener=name, likes=frozenset(likes), skips=frozenset(skips),
                 recent_skips=frozenset(recent), blocks=frozenset(blocks), counts=counts)
