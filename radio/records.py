"""Records the store keeps: plain dataclasses, one per row kind, with no behaviour and no I/O.

`Track` is one row of the ``tracks`` table; `TrackTags` is what `radio.tags` reads from a file and
its sidecars; `Features` holds a track's arrays (kept in ``features/<hash>.npz``, not in SQLite);
`Failure` is one row of the ``failures`` table. Cues are `radio.phrases.Cue`, stored as rows of
the ``cues`` table. Only `radio.store` turns rows into these records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

__all__ = ["Failure", "Features", "Track", "TrackStatus", "TrackTags"]

TrackStatus = Literal["ok", "missing"]


@dataclass(frozen=True)
class TrackTags:
    """Descriptive text about one file: embedded tags overridden by its sidecars.

    ``title`` is never empty (it defaults to the cleaned file name); the rest may be None.
    ``tags`` are free-form labels (genre words, moods) from the ``<stem>.tags.json`` sidecar.
    """

    title: str
    artist: str | None = None
    album: str | None = None
    genre: str | None = None
    comment: str | None = None
    lyrics: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Track:
    """One analysed music file in the library (a row of ``tracks``).

    Times are seconds from the start of the file, tempo is BPM, loudness is LUFS.
    ``status`` is ``missing`` when the file vanished from a scanned folder; its row and
    features stay so that a later move or restore finds it again without re-analysis.
    """

    id: int
    path: str
    content_hash: str  # xxh3_128 hex of the file's bytes; names features/<hash>.npz
    size: int  # bytes
    mtime: float  # seconds since the epoch, as stat() reported at ingestion
    duration: float
    title: str
    artist: str | None
    album: str | None
    genre: str | None
    comment: str | None
    lyrics: str | None
    tags: tuple[str, ...]
    analysis_version: int
    status: TrackStatus
    audible_start: float
    audible_end: float
    tempo: float
    tempo_confidence: float
    key: str
    mode: str
    key_confidence: float
    camelot: str
    lufs: float
    added_at: str  # ISO 8601, UTC
    updated_at: str


@dataclass(frozen=True)
class Features:
    """A track's arrays, loaded from ``features/<hash>.npz``.

    ``beats``/``downbeats`` are float64 seconds; ``loudness_curve`` is float32 short-term LUFS,
    one value every ``loudness_hop`` seconds; ``summary`` is a fixed-length float32 vector whose
    entries are named by ``summary_names``.
    """

    beats: np.ndarray
    downbeats: np.ndarray
    loudness_curve: np.ndarray
    loudness_hop: float
    summary: np.ndarray
    summary_names: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Failure:
    """A file that ingestion could not add, with a short ``reason`` word and a human ``detail``.

    Reasons: ``empty``, ``not-audio``, ``truncated``, ``too-short``, ``silent``, ``unreadable``,
    ``not-a-file``, ``too-large``, ``timeout``, ``bad-filename``, ``duplicate`` (detail names
    the file holding the same bytes), ``analysis-error``, ``worker-died``.
    """

    path: str
    reason: str
    detail: str
    time: str  # ISO 8601, UTC
