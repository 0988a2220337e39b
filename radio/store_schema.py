"""The layout of ``library.db`` and its upgrades: each schema version's tables, and `migrate`.

Schema versions live in the ``meta`` table. `radio.store.Store` calls `migrate` once when it
opens the file: an older file is upgraded in one ``BEGIN IMMEDIATE`` transaction (so two
processes opening a fresh home cannot both create it, and a killed upgrade leaves the old
version whole), a current one is only read, and a newer one is refused with a `ConfigError`.
A new schema version adds its DDL here as ``_SCHEMA_V2`` and one more step to `migrate`.

The operator's own data (sponsors, listeners, feedback, plays) will get tables of its own in a
later schema version; no step here may ever drop them.

This is part of the store, split out so that the schema and its history read on their own: it
is called by `radio.store.Store` and nothing else, and it never reads or writes tracks, cues or
failures (that is `radio.store`'s job).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlite_utils import Database

from radio.errors import ConfigError

__all__ = ["SCHEMA_VERSION", "migrate"]

SCHEMA_VERSION = 1

# Ids are AUTOINCREMENT so that a deleted track's or cue's id is never handed out again:
# cue ids are the FAISS ids of their embeddings, and plays/feedback will point at track ids.
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


def migrate(db: Database, db_path: Path) -> None:
    """Bring ``db`` (the file at ``db_path``) up to `SCHEMA_VERSION`.

    Raises `ConfigError` for a file written by a newer radio-jockey, and lets SQLite's own
    errors through (`radio.store.Store` turns them into a `ConfigError` naming the file).
    """
    # Opening a current store only reads: a read that turned into a write would fail at once
    # (SQLITE_BUSY_SNAPSHOT, no busy wait) whenever another connection had just committed.
    version = _version(db)
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
        version = _version(db)  # another process may have migrated meanwhile
        if "meta" not in db.table_names():
            db.table("meta").create({"key": str, "value": str}, pk="key")
        if version < 1:
            _create_v1(db)
        db.table("meta").upsert(
            {"key": "schema_version", "value": str(SCHEMA_VERSION)}, pk="key"
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _version(db: Database) -> int:
    if "meta" not in db.table_names():
        return 0
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def _create_v1(db: Database) -> None:
    # Statement by statement: executescript would commit the migration's transaction.
    for statement in _statements(_SCHEMA_V1):
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
