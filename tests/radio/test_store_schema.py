"""Schema version 2 (the operator's tables) on files made by older code, with known rows.

Before version 2, `radio.sponsors` and `radio.listeners` created their tables themselves on first
use; the DDL below is theirs, word for word, so these files are what an operator's home really
holds. It repeats ``store_schema._SCHEMA_V2`` on purpose: it is history, frozen, and the layout
test fails if version 2's DDL ever drifts from what old homes hold. Whichever opener comes
first (`Store`, `SponsorStore`, `operator_db`), the file must end at version 2 with every row
kept and the same layout as a fresh one.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import radio.store_schema
from radio.config import Settings
from radio.errors import ConfigError
from radio.listeners import operator_db, plays, record_feedback, record_play, taste
from radio.sponsors import Impression, SponsorStore
from radio.store import Store
from radio.store_schema import _SCHEMA_V1, SCHEMA_VERSION

# radio/sponsors.py and radio/listeners.py before schema version 2 (commit 2dbfdf4).
OLD_SPONSORS_DDL = """
CREATE TABLE IF NOT EXISTS sponsors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    text TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '[]',           -- JSON list of strings
    path TEXT NOT NULL,                        -- the copy under RADIO_HOME/sponsors
    original_name TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    duration REAL NOT NULL, audible_start REAL NOT NULL, audible_end REAL NOT NULL,
    tempo REAL NOT NULL, tempo_confidence REAL NOT NULL, lufs REAL NOT NULL,
    beats BLOB NOT NULL,                       -- float64 seconds
    model_id TEXT NOT NULL,                    -- which continuation model made the vectors
    entry_vector BLOB NOT NULL, exit_vector BLOB NOT NULL,  -- float32
    cap_per_hour INTEGER NOT NULL CHECK (cap_per_hour >= 1),
    min_gap_minutes REAL NOT NULL CHECK (min_gap_minutes >= 0),
    starts_at REAL, ends_at REAL,              -- seconds since the epoch; NULL: no limit
    weight REAL NOT NULL CHECK (weight > 0),
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'deleted')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sponsor_impressions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sponsor_id INTEGER NOT NULL REFERENCES sponsors(id),
    station TEXT NOT NULL,
    listener TEXT,
    time REAL NOT NULL,                        -- seconds since the epoch
    junction_drop REAL,                        -- nats: how much the ad cost the mix
    probability_in REAL, probability_out REAL
);
CREATE INDEX IF NOT EXISTS sponsor_impressions_by_sponsor ON sponsor_impressions(sponsor_id, time);
CREATE INDEX IF NOT EXISTS sponsor_impressions_by_listener ON sponsor_impressions(listener, time);
CREATE INDEX IF NOT EXISTS sponsor_impressions_by_station ON sponsor_impressions(station, time);
"""
OLD_LISTENERS_DDL = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    listener TEXT NOT NULL,
    station TEXT,
    track_id INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('like', 'skip', 'block')),
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_listener ON feedback (listener, at);
CREATE TABLE IF NOT EXISTS plays (
    id INTEGER PRIMARY KEY,
    station TEXT NOT NULL,
    listener TEXT,
    item_kind TEXT NOT NULL,
    ref INTEGER NOT NULL,
    started_at REAL NOT NULL,
    junction_probability REAL
);
CREATE INDEX IF NOT EXISTS plays_station ON plays (station, started_at);
"""
# radio/tagvote.py before schema version 2: what sqlite-utils made of its first insert.
OLD_TAG_VOTES_DDL = """
CREATE TABLE "tag_votes" (
   "track_id" INTEGER PRIMARY KEY,
   "stamp" TEXT,
   "method" TEXT,
   "tags" TEXT,
   "shares" TEXT,
   "neighbours" TEXT,
   "created_at" TEXT
);
"""
# What sqlite-utils made of store_schema's meta table.
META_DDL = "CREATE TABLE [meta] (\n   [key] TEXT PRIMARY KEY,\n   [value] TEXT\n);"

OPERATOR_TABLES = {"sponsors", "sponsor_impressions", "feedback", "plays"}
OPERATOR_INDEXES = {"sponsor_impressions_by_sponsor", "sponsor_impressions_by_listener",
                    "sponsor_impressions_by_station", "feedback_listener", "plays_station"}


def _open_store(s: Settings) -> None:
    Store(s).close()


def _open_sponsors(s: Settings) -> None:
    SponsorStore(s).close()


def _open_operator_db(s: Settings) -> None:
    with operator_db(s):
        pass


OPENERS: dict[str, Callable[[Settings], None]] = {
    "Store": _open_store, "SponsorStore": _open_sponsors, "operator_db": _open_operator_db}


def _old_file(path: Path, *, v1: bool, operator: bool) -> None:
    """A file as older code left it: the v1 library (with ``meta``), the old operator tables,
    or both, each holding known rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    if v1:
        conn.executescript(META_DDL + _SCHEMA_V1)
        conn.execute("INSERT INTO meta VALUES ('schema_version', '1')")
        conn.execute("INSERT INTO failures VALUES ('/m/bad.mp3', 'decode', 'no frames', 't0')")
    if operator:
        conn.executescript(OLD_SPONSORS_DDL + OLD_LISTENERS_DDL + OLD_TAG_VOTES_DDL)
        conn.execute("INSERT INTO tag_votes VALUES (3, 's1', 'cues', '[\"rock\"]', "
                     "'{\"rock\": 0.8}', '[]', 't0')")
        for name in ("Coffee", "Shoes"):
            conn.execute(
                "INSERT INTO sponsors (name, path, original_name, content_hash, duration, "
                "audible_start, audible_end, tempo, tempo_confidence, lufs, beats, model_id, "
                "entry_vector, exit_vector, cap_per_hour, min_gap_minutes, weight, created_at, "
                "updated_at) VALUES (?, ?, ?, 'h', 10.0, 0.1, 9.9, 100.0, 0.9, -14.0, ?, 'm1', "
                "?, ?, 4, 15.0, 1.0, 't0', 't0')",
                [name, f"/home/sponsors/{name}.wav", f"{name}.wav",
                 np.arange(3, dtype=np.float64).tobytes(), np.ones(4, np.float32).tobytes(),
                 np.ones(4, np.float32).tobytes()])
        conn.executemany(
            "INSERT INTO sponsor_impressions (sponsor_id, station, listener, time, junction_drop)"
            " VALUES (?, ?, ?, ?, ?)",
            [(1, "night", "ann", 1000.0, 0.5), (1, "night", None, 2000.0, None),
             (2, "day", "bob", 3000.0, 0.25)])
        conn.executemany(
            "INSERT INTO feedback (listener, station, track_id, kind, at) VALUES (?, ?, ?, ?, ?)",
            [("ann", "night", 7, "like", 100.0), ("ann", None, 8, "block", 200.0)])
        conn.executemany(
            "INSERT INTO plays (station, listener, item_kind, ref, started_at, "
            "junction_probability) VALUES (?, ?, ?, ?, ?, ?)",
            [("night", "ann", "track", 7, 10.0, None), ("night", "ann", "sponsor", 1, 20.0, 0.8)])
    conn.commit()
    conn.close()


def _dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table (AUTOINCREMENT's counters included), by table name."""
    conn = sqlite3.connect(path)
    try:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {n: conn.execute(f"SELECT * FROM [{n}] ORDER BY rowid").fetchall() for n in names}
    finally:
        conn.close()


def _layout(path: Path) -> dict[str, str]:
    """name -> the CREATE statement SQLite keeps, for every table and index but ``meta``'s."""
    conn = sqlite3.connect(path)
    try:
        return {n: s for n, s in conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name != 'meta'")}
    finally:
        conn.close()


def _version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT value FROM meta WHERE key = 'schema_version'"
                                ).fetchone()[0])
    finally:
        conn.close()


@pytest.fixture
def fresh_layout(tmp_path: Path) -> dict[str, str]:
    """The layout a fresh home gets: the reference every upgraded file must match."""
    home = tmp_path / "fresh"
    Store(Settings(home=home)).close()
    return _layout(home / "library.db")


def test_schema_version_is_2() -> None:
    assert SCHEMA_VERSION == 2


@pytest.mark.parametrize("opener", OPENERS)
def test_a_fresh_home_gets_the_library_and_the_operator_tables(
        settings: Settings, fresh_layout: dict[str, str], opener: str) -> None:
    OPENERS[opener](settings)
    assert _version(settings.db_path) == 2
    layout = _layout(settings.db_path)
    assert layout == fresh_layout
    assert {"tracks", "cues", "failures"} | OPERATOR_TABLES | OPERATOR_INDEXES <= set(layout)


def test_the_operator_ddl_is_the_old_ddl_word_for_word(
        tmp_path: Path, fresh_layout: dict[str, str]) -> None:
    old = tmp_path / "old.db"
    conn = sqlite3.connect(old)
    conn.executescript(OLD_SPONSORS_DDL + OLD_LISTENERS_DDL + OLD_TAG_VOTES_DDL)
    conn.close()
    old_layout = _layout(old)
    assert set(old_layout) == (OPERATOR_TABLES | OPERATOR_INDEXES
                               | {"sqlite_sequence", "tag_votes"})
    assert {n: fresh_layout[n] for n in old_layout} == old_layout


@pytest.mark.parametrize("opener", OPENERS)
def test_a_v1_file_with_the_old_operator_tables_keeps_every_row(
        settings: Settings, fresh_layout: dict[str, str], opener: str) -> None:
    _old_file(settings.db_path, v1=True, operator=True)
    before = _dump(settings.db_path)
    assert [len(before[t]) for t in ("sponsors", "sponsor_impressions", "feedback", "plays",
                                      "tag_votes", "failures")] == [2, 3, 2, 2, 1, 1]
    OPENERS[opener](settings)
    assert _version(settings.db_path) == 2
    after = _dump(settings.db_path)
    assert after.pop("meta") == [("schema_version", "2")]
    before.pop("meta")
    assert after == before
    assert _layout(settings.db_path) == fresh_layout

    # ... and the new code reads the old rows and writes after them.
    with SponsorStore(settings) as store:
        assert [s.name for s in store.sponsors()] == ["Coffee", "Shoes"]
        assert store.get(1).cap_per_hour == 4 and list(store.get(1).beats) == [0.0, 1.0, 2.0]
        store.record_impression(Impression(2, "day", "cat", 4000.0, None, 0.5, 0.6))
        assert [(i.sponsor_id, i.listener) for i in store.impressions(since=0)] == [
            (1, "ann"), (1, None), (2, "bob"), (2, "cat")]
        assert store.report(1, now=2500.0).impressions == 2
    record_feedback(settings, listener="ann", track_id=9, kind="skip", at=300.0)
    record_play(settings, station="night", listener=None, item_kind="track", ref=9,
                started_at=30.0, junction_probability=0.4)
    t = taste(settings, "ann", now=400.0)
    assert (t.likes, t.blocks, t.recent_skips) == (frozenset({7}), frozenset({8}), frozenset({9}))
    assert [(p["id"], p["ref"]) for p in plays(settings, station="night")] == [
        (1, 7), (2, 1), (3, 9)]
    assert _version(settings.db_path) == 2


@pytest.mark.parametrize("opener", OPENERS)
def test_a_v1_file_without_operator_tables_gains_them(
        settings: Settings, fresh_layout: dict[str, str], opener: str) -> None:
    _old_file(settings.db_path, v1=True, operator=False)
    assert not OPERATOR_TABLES & set(_layout(settings.db_path))
    OPENERS[opener](settings)
    assert _version(settings.db_path) == 2
    assert _layout(settings.db_path) == fresh_layout
    rows = _dump(settings.db_path)
    assert rows["failures"] == [("/m/bad.mp3", "decode", "no frames", "t0")]
    assert all(rows[t] == [] for t in OPERATOR_TABLES)
    record_feedback(settings, listener="ann", track_id=1, kind="like", at=1.0)
    assert taste(settings, "ann").likes == {1}


def test_operator_tables_made_before_any_library_are_kept(
        settings: Settings, fresh_layout: dict[str, str]) -> None:
    """The old `operator_db` on a fresh home made its tables and no ``meta``: version 0."""
    _old_file(settings.db_path, v1=False, operator=True)
    before = _dump(settings.db_path)
    with Store(settings) as store:
        assert store.schema_version() == 2 and store.tracks() == []
    after = _dump(settings.db_path)
    assert {t: after[t] for t in before} == before
    assert _layout(settings.db_path) == fresh_layout


@pytest.mark.parametrize("opener", OPENERS)
def test_a_newer_schema_is_refused_by_every_opener(settings: Settings, opener: str) -> None:
    _old_file(settings.db_path, v1=True, operator=True)
    conn = sqlite3.connect(settings.db_path)
    with conn:
        conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    conn.close()
    before = _dump(settings.db_path)
    message = re.escape(f"{settings.db_path} has schema version 3 but this radio-jockey knows "
                        "only up to 2; upgrade radio-jockey")
    with pytest.raises(ConfigError, match=message):
        OPENERS[opener](settings)
    assert _dump(settings.db_path) == before


@pytest.mark.parametrize("opener", OPENERS)
def test_a_non_database_is_refused_naming_the_file(settings: Settings, opener: str) -> None:
    settings.db_path.parent.mkdir(parents=True)
    settings.db_path.write_bytes(b"this is not sqlite" * 100)
    message = re.escape(f"{settings.db_path} is not a usable SQLite database")
    with pytest.raises(ConfigError, match=message):
        OPENERS[opener](settings)


@pytest.mark.parametrize("opener", OPENERS)
def test_a_locked_database_is_called_locked_not_damaged(
        settings: Settings, opener: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A busy file is healthy: the message must not tell the operator to move it away."""
    OPENERS[opener](settings)
    before = _dump(settings.db_path)

    def locked(*args: object) -> None:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(radio.store_schema, "migrate", locked)
    with pytest.raises(ConfigError, match="is locked by another process") as err:
        OPENERS[opener](settings)
    assert "move it away" not in str(err.value) and str(settings.db_path) in str(err.value)
    monkeypatch.undo()
    OPENERS[opener](settings)
    assert _dump(settings.db_path) == before
