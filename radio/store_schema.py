"""The layout of ``library.db`` and its upgrades: each schema version's tables, and `migrate`.

Schema versions live in the ``meta`` table. The library store, the sponsors and the
listeners open the file through `open_library`, which runs `migrate`: an older file is upgraded
in one ``BEGIN IMMEDIATE`` transaction (so two processes opening a fresh home cannot both create
it, and a killed upgrade leaves the old version whole), a current one is only read, and a newer
one is refused with a `ConfigError`. A new schema version adds its DDL here as ``_SCHEMA_V3``
and one more step to `migrate`.

Version 1 holds the library (tracks, cues, failures); version 2 adds the operator's own data:
sponsors and their impressions (`radio.sponsors`), listeners' feedback and the play log
(`radio.listeners`). Nothing can rebuild those rows, so no step here may ever drop them. Before
version 2 those modules created the same tables themselves on first use, so a version 1 file
(or one with no ``meta`` at all) may already hold them, rows included: the version 2 step
creates each one only if it is missing, with the very same DDL, and old and new files end up
with the same layout. Version 2 also holds ``tag_votes`` (`radio.tagvote`), tags guessed for
untagged songs: rebuilt from the library whenever it changes, it too was created on first use
before (by sqlite-utils, whose DDL it keeps).

This is part of the store, split out so that the schema and its history read on their own: it
is called by `radio.store.Store`, `radio.sponsors.SponsorStore` and `radio.listeners`, and it
never reads or writes any table's rows but ``meta`` (that is their job).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Literal

from sqlite_utils import Database

from radio.errors import ConfigError

__all__ = ["SCHEMA_VERSION", "migrate", "open_library", "schema_version"]

SCHEMA_VERSION = 2

# Ids are AUTOINCREMENT so that a deleted track's or cue's id is never handed out again:
# cue ids are the FAISS ids of their embeddings, and feedback and plays point at track ids.
_SCHEMA_V1 = """
CREATE TABLE tracks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL UNIQUE,
    content_hash TEXT NOT NULL UNIQUE,  -- xxh3-128 hex; names features/<hash>.npz
    size INTEGER NOT NULL,
    mtime REAL NOT NULL,
    duration REAL NOT NULL,
    title TEXT NOT NULL,
    artist TEXT, album TEXT, genre TEXT, comment TEXT, lyrics TEXT,
    tags TEXT NOT NULL DEFAULT '[]',  -- JSON list of strings
    analysis_version INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'missing')),
    audible_start REAL, audible_end REAL, tempo REAL, tempo_confidence REAL,
    key TEXT, mode TEXT, key_confidence REAL, camelot TEXT, lufs REAL,
    added_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE cues (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    track_id INTEGER NOT NULL REFERENCES tracks(id),
    kind TEXT NOT NULL CHECK (kind IN ('exit', 'entry')),
    time REAL NOT NULL,
    beat_index INTEGER NOT NULL,
    phrase INTEGER NOT NULL
);
CREATE INDEX cues_track_id ON cues(track_id);
CREATE TABLE failures (
    path TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    time TEXT NOT NULL
);
"""

# The operator's data, word for word as radio.sponsors and radio.listeners created it on first
# use before version 2 (SQLite keeps that text, less IF NOT EXISTS, in sqlite_master), and the
# tag votes as sqlite-utils created them for radio.tagvote. IF NOT EXISTS keeps the tables, and
# their rows, of a file that already has them.
_SCHEMA_V2 = """
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
CREATE TABLE IF NOT EXISTS "tag_votes" (
   "track_id" INTEGER PRIMARY KEY,
   "stamp" TEXT,
   "method" TEXT,
   "tags" TEXT,
   "shares" TEXT,
   "neighbours" TEXT,
   "created_at" TEXT
);
"""


def open_library(db_path: Path, *, synchronous: Literal["NORMAL", "FULL"]) -> Database:
    """``library.db`` opened for writing and brought up to date by `migrate`.

    A 10 s busy timeout, WAL, foreign keys on, and ``synchronous``: ``"NORMAL"`` survives a
    killed process (the library can be re-ingested), ``"FULL"`` a power cut too (the operator's
    sponsors, feedback and plays cannot be rebuilt). The caller closes the database.

    Raises `ConfigError` naming the file when it cannot be opened, is not SQLite, or was
    written by a newer radio-jockey.
    """
    try:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        db = Database(db_path)
    except (OSError, sqlite3.DatabaseError) as exc:
        raise ConfigError(f"cannot open {db_path}: {exc}") from exc
    try:
        conn = db.conn
        conn.execute("PRAGMA busy_timeout = 10000")
        db.enable_wal()
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(db, db_path)
    except sqlite3.OperationalError as exc:
        db.close()
        if "locked" in str(exc) or "busy" in str(exc):
            # Healthy, only busy: say so, lest someone move a good file away.
            raise ConfigError(f"{db_path} is locked by another process ({exc}); try again"
                              ) from exc
        raise _unusable(db_path, exc) from exc
    except sqlite3.DatabaseError as exc:
        db.close()
        raise _unusable(db_path, exc) from exc
    except BaseException:
        db.close()
        raise
    return db


def _unusable(db_path: Path, exc: sqlite3.DatabaseError) -> ConfigError:
    return ConfigError(
        f"{db_path} is not a usable SQLite database ({exc}); if it is damaged, move it away "
        "(keep it: its sponsors, feedback and plays cannot be rebuilt) and re-ingest")


def migrate(db: Database, db_path: Path) -> None:
    """Bring ``db`` (the file at ``db_path``) up to `SCHEMA_VERSION`.

    Raises `ConfigError` for a file written by a newer radio-jockey, and lets SQLite's own
    errors through (`open_library` turns them into a `ConfigError` naming the file).
    """
    # Opening a current store only reads: a read that turned into a write would fail at once
    # (SQLITE_BUSY_SNAPSHOT, no busy wait) whenever another connection had just committed.
    version = schema_version(db)
    if version > SCHEMA_VERSION:
        raise ConfigError(
            f"{db_path} has schema version {version} but this radio-jockey "
            f"knows only up to {SCHEMA_VERSION}; upgrade radio-jockey"
        )
    if version == SCHEMA_VERSION:
        return
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")  # the write lock first (waits busy_timeout), then read
    try:
        version = schema_version(db)  # another process may have migrated meanwhile
        if "meta" not in db.table_names():
            db.table("meta").create({"key": str, "value": str}, pk="key")
        if version < 1:
            _execute(db, _SCHEMA_V1)
        if version < 2:
            _execute(db, _SCHEMA_V2)
        db.table("meta").upsert(
            {"key": "schema_version", "value": str(SCHEMA_VERSION)}, pk="key"
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def schema_version(db: Database) -> int:
    """The file's schema version: the ``meta`` row, or 0 for a file that has none yet."""
    if "meta" not in db.table_names():
        return 0
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def _execute(db: Database, script: str) -> None:
    # Statement by statement: executescript would commit the migration's transaction.
    for statement in _statements(script):
        db.conn.execute(statement)


def _statements(script: str) -> list[str]:
    """The complete SQL statements of ``script`` (comments may hold semicolons)."""
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    return [x for x in out if x]
