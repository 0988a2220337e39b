"""The library store: the one module that touches SQLite (``RADIO_HOME/library.db``).

It keeps tracks, their cue points and the files that failed ingestion, through sqlite-utils in
WAL mode, and each track's arrays in ``features/<content hash>.npz``, written atomically
(temporary file, fsync, rename) *before* the row that points at them is committed. Every write
is its own transaction, so a process killed at any moment leaves every committed track whole and
at worst one orphaned features file, which the next ingestion overwrites.

The tables themselves and their upgrades live in `radio.store_schema`; `Store` opens the file
with its `open_library` (an older file is upgraded, a newer one refused). The operator's own
data (sponsors and impressions, feedback, plays) has tables of its own there since schema
version 2, read and written by `radio.sponsors` and `radio.listeners`; nothing here may ever
drop them.

It never decodes audio, never analyses and never scans folders: `radio.ingest` does that and
hands finished records to `Store.save_track`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from sqlite_utils.db import Database, Table

from radio.config import Settings
from radio.errors import ConfigError, NotFound, RadioError
from radio.records import Failure, Features, Track, TrackStatus, TrackTags
from radio.store_schema import open_library, schema_version

if TYPE_CHECKING:
    # Only for types: the analysis stack is heavy, and listing tracks must not import it.
    from radio.analysis import Analysis
    from radio.phrases import Cue

__all__ = ["Stamp", "Store"]


class Stamp(NamedTuple):
    """What ingestion needs to decide whether a file changed, without loading a whole `Track`."""

    id: int
    path: str
    size: int
    mtime: float
    content_hash: str
    analysis_version: int
    status: TrackStatus


class Store:
    """The library database and features folder under ``settings.home``.

    Open one per process (or per thread: the SQLite connection is not shared across threads)
    and close it, or use it as a context manager.
    """

    def __init__(self, settings: Settings) -> None:
        self._features_dir = settings.features_dir
        try:
            self._features_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot open the store in {settings.home}: {exc}") from exc
        # WAL + NORMAL survives a killed process (only a power cut can lose the last commits).
        self._db = open_library(settings.db_path, synchronous="NORMAL")

    def close(self) -> None:
        self._db.close()

    @property
    def database(self) -> Database:
        """The store's open connection, for a module that keeps a table of its own in
        ``library.db`` (`radio.tagvote`) and works beside the store in one call: one
        connection, not two. It never touches the store's tables through it."""
        return self._db

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema ---------------------------------------------------------------------------

    def _table(self, name: str) -> Table:
        return self._db.table(name)

    def schema_version(self) -> int:
        return schema_version(self._db)

    def integrity_check(self) -> str:
        """SQLite's own verdict on the file: ``"ok"`` or a description of the damage."""
        return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])

    # -- reading tracks -------------------------------------------------------------------

    def track(self, track_id: int) -> Track:
        """The track with this id, or `NotFound`."""
        rows = list(self._db.query("SELECT * FROM tracks WHERE id = ?", [track_id]))
        if not rows:
            raise NotFound("track", track_id)
        return _track_from_row(rows[0])

    def tracks(self, *, status: TrackStatus | None = "ok") -> list[Track]:
        """All tracks with this status (None: every track), in the order they were added."""
        if status is None:
            rows = self._db.query("SELECT * FROM tracks ORDER BY id")
        else:
            rows = self._db.query("SELECT * FROM tracks WHERE status = ? ORDER BY id", [status])
        return [_track_from_row(r) for r in rows]

    def find_track(self, query: str) -> Track:
        """A track by id, or by a unique prefix of its title, file name or path.

        Case is ignored for titles and file names. An exact title wins over longer titles that
        start with it. Raises `NotFound` for no match and `RadioError` naming the candidates
        for an ambiguous one.
        """
        q = query.strip()
        if not q:
            raise NotFound("track", query)
        if q.isdigit():
            try:
                return self.track(int(q))
            except NotFound:
                pass  # a title may well be a number
        key = q.casefold()
        rows = list(self._db.query("SELECT id, title, path FROM tracks ORDER BY id"))
        exact = [r for r in rows if str(r["title"]).casefold() == key]
        matches = exact or [
            r for r in rows
            if str(r["title"]).casefold().startswith(key)
            or os.path.basename(r["path"]).casefold().startswith(key)
            or r["path"].startswith(q)
        ]
        if not matches:
            raise NotFound("track", query)
        if len(matches) > 1:
            shown = ", ".join(f"{r['id']} {r['title']!r}" for r in matches[:5])
            more = f" and {len(matches) - 5} more" if len(matches) > 5 else ""
            raise RadioError(
                f"{query!r} matches {len(matches)} tracks ({shown}{more}); "
                "give more of the title, or the id"
            )
        return self.track(int(matches[0]["id"]))

    def stamps(self) -> dict[str, Stamp]:
        """Path -> `Stamp` for every track: what incremental ingestion compares files to."""
        cols = ", ".join(Stamp._fields)
        return {
            row[1]: Stamp(*row)
            for row in self._db.execute(f"SELECT {cols} FROM tracks").fetchall()
        }

    def stamp_by_hash(self, content_hash: str) -> Stamp | None:
        cols = ", ".join(Stamp._fields)
        row = self._db.execute(
            f"SELECT {cols} FROM tracks WHERE content_hash = ?", [content_hash]
        ).fetchone()
        return Stamp(*row) if row else None

    def totals(self) -> tuple[int, float]:
        """(number of tracks with status ok, their summed duration in seconds)."""
        n, seconds = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(duration), 0) FROM tracks WHERE status = 'ok'"
        ).fetchone()
        return int(n), float(seconds)

    def cues(self, track_id: int) -> list[Cue]:
        """The track's exit and entry cues, in time order."""
        return [cue for _, cue in self.cue_rows(track_id)]

    def cue_rows(self, track_id: int) -> list[tuple[int, Cue]]:
        """(cue id, cue) pairs in time order. A cue id is never reused: re-analysis gives
        new cues new ids, so an index keyed by cue id can tell which entries are stale."""
        from radio.phrases import Cue

        rows = self._db.execute(
            "SELECT id, kind, time, beat_index, phrase FROM cues WHERE track_id = ? "
            "ORDER BY time, kind", [track_id],
        ).fetchall()
        return [(i, Cue(kind=k, time=t, beat_index=b, phrase=p)) for i, k, t, b, p in rows]

    # -- arrays ---------------------------------------------------------------------------

    def features_path(self, content_hash: str) -> Path:
        return self._features_dir / f"{content_hash}.npz"

    def feature_hashes(self) -> set[str]:
        """Content hashes that have a features file (one directory listing, no stat per file)."""
        return {
            name[:-4] for name in os.listdir(self._features_dir)
            if name.endswith(".npz") and not name.startswith(".")
        }

    def features(self, track: Track) -> Features:
        """The track's beats, downbeats, loudness curve and spectral summary."""
        path = self.features_path(track.content_hash)
        try:
            with np.load(path, allow_pickle=False) as npz:
                return Features(
                    beats=npz["beats"],
                    downbeats=npz["downbeats"],
                    loudness_curve=npz["loudness_curve"],
                    loudness_hop=float(npz["loudness_hop"]),
                    summary=npz["summary"],
                    summary_names=tuple(str(s) for s in npz["summary_names"]),
                )
        except (OSError, KeyError, ValueError) as exc:
            raise RadioError(
                f"features of track {track.id} ({path.name}) are missing or damaged ({exc}); "
                f"re-analyse with `radio ingest {os.path.dirname(track.path)}`"
            ) from exc

    def _write_features(self, content_hash: str, analysis: Analysis) -> None:
        final = self.features_path(content_hash)
        tmp = final.with_name(f".{content_hash}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as fh:
                np.savez(
                    fh,
                    beats=np.asarray(analysis.beats, dtype=np.float64),
                    downbeats=np.asarray(analysis.downbeats, dtype=np.float64),
                    loudness_curve=np.asarray(analysis.loudness_curve, dtype=np.float32),
                    loudness_hop=np.float64(analysis.loudness_hop),
                    summary=np.asarray(analysis.summary, dtype=np.float32),
                    summary_names=np.asarray(analysis.summary_names, dtype=np.str_),
                )
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)

    # -- writing tracks -------------------------------------------------------------------

    def save_track(
        self,
        *,
        path: str,
        content_hash: str,
        size: int,
        mtime: float,
        tags: TrackTags,
        analysis: Analysis,
        track_id: int | None = None,
    ) -> Track:
        """Insert or replace one analysed track, its cues and its arrays, in one transaction.

        The row replaced is ``track_id`` when given (a moved file that is re-analysed), else the
        row with this ``path``, else a new one. A failure recorded for ``path`` is cleared.
        """
        self._write_features(content_hash, analysis)
        now = _now()
        # float()/int(): numpy scalars (np.float32) cannot be bound as SQLite parameters.
        row: dict[str, Any] = {
            "path": path,
            "content_hash": content_hash,
            "size": size,
            "mtime": mtime,
            "duration": float(analysis.duration),
            "title": tags.title,
            "artist": tags.artist,
            "album": tags.album,
            "genre": tags.genre,
            "comment": tags.comment,
            "lyrics": tags.lyrics,
            "tags": json.dumps(list(tags.tags), ensure_ascii=False),
            "analysis_version": int(analysis.version),
            "status": "ok",
            "audible_start": float(analysis.audible_start),
            "audible_end": float(analysis.audible_end),
            "tempo": float(analysis.tempo),
            "tempo_confidence": float(analysis.tempo_confidence),
            "key": str(analysis.key),
            "mode": str(analysis.mode),
            "key_confidence": float(analysis.key_confidence),
            "camelot": str(analysis.camelot),
            "lufs": float(analysis.lufs),
            "updated_at": now,
        }
        old_hash: str | None = None
        with self._db.atomic():
            if track_id is None:
                found = self._db.execute(
                    "SELECT id FROM tracks WHERE path = ?", [path]
                ).fetchone()
                track_id = int(found[0]) if found else None
            if track_id is None:
                row["added_at"] = now
                new_id = self._table("tracks").insert(row).last_rowid
                assert new_id is not None  # SQLite gives every inserted row a rowid
                track_id = new_id
            else:
                prev = self._db.execute(
                    "SELECT content_hash FROM tracks WHERE id = ?", [track_id]
                ).fetchone()
                if prev is None:
                    raise NotFound("track", track_id)
                old_hash = str(prev[0])
                self._table("tracks").update(track_id, row)
            self._db.execute("DELETE FROM cues WHERE track_id = ?", [track_id])
            self._table("cues").insert_all(
                {"track_id": track_id, "kind": c.kind, "time": float(c.time),
                 "beat_index": int(c.beat_index), "phrase": int(c.phrase)}
                for c in analysis.cues
            )
            self._db.execute("DELETE FROM failures WHERE path = ?", [path])
        if old_hash is not None and old_hash != content_hash:
            # Content hashes are unique among tracks, so nothing else reads the old file.
            self.features_path(old_hash).unlink(missing_ok=True)
        return self.track(track_id)

    def update_location(self, track_id: int, *, path: str, size: int, mtime: float) -> None:
        """Point a track at a new path/stat (a move, or a touch that kept the bytes); status ok.

        A stale row that held ``path`` before (a file since overwritten by the moved one) is
        dropped with its cues, since its bytes no longer exist anywhere we know.
        """
        with self._db.atomic():
            self._db.execute(
                "DELETE FROM cues WHERE track_id IN "
                "(SELECT id FROM tracks WHERE path = ? AND id != ?)", [path, track_id])
            self._db.execute("DELETE FROM tracks WHERE path = ? AND id != ?", [path, track_id])
            self._db.execute(
                "UPDATE tracks SET path = ?, size = ?, mtime = ?, status = 'ok', updated_at = ? "
                "WHERE id = ?", [path, size, mtime, _now(), track_id])
            self._db.execute("DELETE FROM failures WHERE path = ?", [path])

    def mark_missing(self, paths: Iterable[str]) -> int:
        """Set status ``missing`` on the tracks at these paths; returns how many changed."""
        now = _now()
        changed = 0
        with self._db.atomic():
            for p in paths:
                cur = self._db.execute(
                    "UPDATE tracks SET status = 'missing', updated_at = ? "
                    "WHERE path = ? AND status != 'missing'", [now, p])
                changed += cur.rowcount
        return changed

    # -- failures -------------------------------------------------------------------------

    def record_failure(self, path: str, reason: str, detail: str = "") -> None:
        """Remember why ``path`` was not added, replacing any earlier failure for it."""
        with self._db.atomic():
            self._table("failures").upsert(
                {"path": path, "reason": reason, "detail": detail, "time": _now()}, pk="path"
            )

    def clear_failure(self, path: str) -> None:
        with self._db.atomic():
            self._db.execute("DELETE FROM failures WHERE path = ?", [path])

    def failures(self, *, path: str | None = None) -> list[Failure]:
        """Every recorded failure (or the one for ``path``), most recent first."""
        if path is None:
            rows = self._db.query("SELECT * FROM failures ORDER BY time DESC, path")
        else:
            rows = self._db.query("SELECT * FROM failures WHERE path = ?", [path])
        return [Failure(path=r["path"], reason=r["reason"], detail=r["detail"] or "",
                        time=r["time"]) for r in rows]


def _track_from_row(row: dict[str, Any]) -> Track:
    values = dict(row)
    try:
        tags = json.loads(values.get("tags") or "[]")
    except ValueError:
        tags = []
    values["tags"] = tuple(str(t) for t in tags) if isinstance(tags, list) else ()
    return Track(**values)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
