"""Tags for untagged songs, voted by their tagged neighbours in audio space, with the evidence.

A song with neither tags nor genre says nothing to a text prompt but its sound. Each of its cue
clips (the "chunks" the continuation model embedded: exit and entry vectors in the cue index)
looks up its ``k`` nearest cue clips of *tagged* songs on the same side; every neighbour votes
for its song's tags and genre with weight max(0, inner product). A tag is adopted when it holds
at least ``min_share`` of the total weight (several may pass; none may). Voting per chunk rather
than per song lets a song whose intro and body differ gather both. Without a cue index, songs
vote with their song vectors (`radio.songvectors`, summary) instead, ``k`` neighbours each.

Votes live in the ``tag_votes`` table of ``library.db`` (schema version 2 of
`radio.store_schema`; the store's own tables are never touched): per untagged song its voted
tags, the share of each candidate tag and the neighbours that voted (id, title, weight, how
many chunks matched), so ``radio show`` can say why. They are recomputed as a whole, in one
transaction, when the library's songs, tags or cue vectors change (a stamp), which costs a
few index searches per untagged song and no audio decoding.
`radio.search` puts voted tags into the documents of untagged songs, marked as guessed.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlite_utils import Database

from radio.config import Settings
from radio.errors import RadioError
from radio.records import Track
from radio.songvectors import cue_index, summary_matrix
from radio.store import Store
from radio.store_schema import open_library

__all__ = [
    "MIN_SHARE",
    "K",
    "Neighbour",
    "TagVote",
    "compute_votes",
    "labels_of",
    "show_vote",
    "tag_votes",
    "update_tag_votes",
    "vote",
]

K = 5
"""Neighbours per chunk (or per song without cues)."""
MIN_SHARE = 0.5
"""A tag is adopted with at least this share of the vote weight (0.5: a majority)."""
TABLE = "tag_votes"
_UPDATE_LOCK = threading.Lock()
_MAX_SHOWN = 5  # neighbours kept as evidence


@dataclass(frozen=True)
class Neighbour:
    """A tagged song that voted: its summed weight and how many chunks it matched."""

    track_id: int
    title: str
    weight: float
    matches: int


@dataclass(frozen=True)
class TagVote:
    """The outcome for one untagged song."""

    track_id: int
    tags: tuple[str, ...]
    shares: dict[str, float]
    neighbours: tuple[Neighbour, ...]
    method: str  # "cues" | "songs"

    def explain(self) -> str:
        """One line for people: what was voted, by whom."""
        if not self.shares:
            return "no tagged neighbours voted"
        top = ", ".join(f"{t} {s:.0%}" for t, s in sorted(self.shares.items(),
                                                         key=lambda kv: -kv[1])[:4])
        who = ", ".join(f"{n.title} ({n.weight:.2f})" for n in self.neighbours)
        got = ", ".join(self.tags) or "nothing (no tag has a majority)"
        return f"guessed {got} from audio neighbours [{top}] by {self.method}: {who}"


def labels_of(track: Track) -> tuple[str, ...]:
    """The labels a song can vote with: its tags and genre, case-folded, de-duplicated."""
    raw = [*track.tags, *([track.genre] if track.genre else [])]
    out: list[str] = []
    for label in raw:
        text = " ".join(label.split()).casefold()
        if text and text not in out:
            out.append(text)
    return tuple(out)


def vote(hits: Iterable[tuple[int, float]], labels: Mapping[int, tuple[str, ...]], *,
         min_share: float = MIN_SHARE) -> tuple[tuple[str, ...], dict[str, float],
                                                 dict[int, tuple[float, int]]]:
    """Pure vote: (adopted tags, share per tag, per neighbour (weight, matches)).

    ``hits`` are (neighbour song id, similarity) pairs pooled over a song's chunks; songs
    without labels and non-positive similarities do not vote.
    """
    per_song: dict[int, tuple[float, int]] = {}
    per_tag: dict[str, float] = {}
    for song, sim in hits:
        if sim <= 0.0 or not labels.get(song):
            continue
        w, n = per_song.get(song, (0.0, 0))
        per_song[song] = (w + sim, n + 1)
        for tag in labels[song]:
            per_tag[tag] = per_tag.get(tag, 0.0) + sim
    total = sum(w for w, _ in per_song.values())
    if total <= 0.0:
        return (), {}, {}
    shares = {t: w / total for t, w in per_tag.items()}
    adopted = tuple(sorted((t for t, s in shares.items() if s >= min_share),
                           key=lambda t: (-shares[t], t)))
    return adopted, shares, per_song


def _stamp(tracks: list[Track], settings: Settings, k: int, min_share: float) -> str:
    h = hashlib.sha256(f"{k}:{min_share}".encode())
    for t in sorted(tracks, key=lambda t: t.id):
        h.update(f"{t.id}:{t.content_hash}:{labels_of(t)};".encode())
    try:
        h.update(str((settings.indexes_dir / "audio_exit.faiss").stat().st_mtime_ns).encode())
    except OSError:
        h.update(b"no cues")
    return h.hexdigest()[:20]


def _cue_hits(store: Store, settings: Settings, tracks: list[Track], todo: list[Track],
              k: int) -> dict[int, list[tuple[int, float]]] | None:
    cues = cue_index(settings)
    if cues is None:
        return None
    owner: dict[int, int] = {}
    mine: dict[int, dict[str, list[int]]] = {}
    for t in tracks:
        for cid, c in store.cue_rows(t.id):
            owner[cid] = t.id
            mine.setdefault(t.id, {"exit": [], "entry": []})[c.kind].append(cid)
    have = {side: set(cues.ids(side).tolist()) for side in ("exit", "entry")}
    voters = {t.id for t in tracks if labels_of(t)}
    out: dict[int, list[tuple[int, float]]] = {}
    for t in todo:
        hits: list[tuple[int, float]] = []
        for side in ("exit", "entry"):
            ids = np.array([c for c in mine.get(t.id, {}).get(side, []) if c in have[side]],
                           np.int64)
            if not ids.size:
                continue
            # Ask for more than k: the song's own cues and untagged songs' cues are skipped.
            scores, found = cues.search(side, cues.vectors(side, ids), 4 * k + len(ids))
            for row_s, row_i in zip(scores, found, strict=True):
                kept = [(owner[int(c)], float(s)) for c, s in zip(row_i, row_s, strict=True)
                        if c >= 0 and owner.get(int(c)) in voters and owner[int(c)] != t.id]
                hits.extend(kept[:k])
        out[t.id] = hits
    return out


def _song_hits(store: Store, tracks: list[Track], todo: list[Track],
               k: int) -> dict[int, list[tuple[int, float]]]:
    kept, vecs = summary_matrix(store, tracks)
    pos = {t.id: i for i, t in enumerate(kept)}
    voters = np.array([bool(labels_of(t)) for t in kept])
    out: dict[int, list[tuple[int, float]]] = {}
    for t in todo:
        if t.id not in pos:
            out[t.id] = []
            continue
        sims = vecs @ vecs[pos[t.id]]
        sims[~voters] = -np.inf
        sims[pos[t.id]] = -np.inf
        order = [int(j) for j in np.argsort(-sims, kind="stable")[:k] if np.isfinite(sims[j])]
        out[t.id] = [(kept[j].id, float(sims[j])) for j in order]
    return out


def compute_votes(settings: Settings, store: Store, *, k: int = K,
                  min_share: float = MIN_SHARE,
                  tracks: list[Track] | None = None) -> list[TagVote]:
    """Votes for every song without tags or genre (nothing is written).

    ``tracks`` (default: the store's) may carry other labels than the store's, e.g. a
    benchmark that hides some songs' tags.
    """
    if k < 1:
        raise RadioError(f"k = {k}: at least one neighbour must vote")
    if not 0.0 < min_share <= 1.0:
        raise RadioError(f"min share {min_share} is outside (0, 1]")
    tracks = store.tracks() if tracks is None else tracks
    todo = [t for t in tracks if not labels_of(t)]
    if not todo:
        return []
    labels = {t.id: labels_of(t) for t in tracks}
    titles = {t.id: t.title for t in tracks}
    hits = _cue_hits(store, settings, tracks, todo, k)
    method = "cues"
    if hits is None or not any(hits.values()):
        hits, method = _song_hits(store, tracks, todo, k), "songs"
    out = []
    for t in todo:
        tags, shares, per_song = vote(hits.get(t.id, []), labels, min_share=min_share)
        best = sorted(per_song.items(), key=lambda kv: -kv[1][0])[:_MAX_SHOWN]
        out.append(TagVote(
            track_id=t.id, tags=tags, shares={k_: round(v, 4) for k_, v in shares.items()},
            neighbours=tuple(Neighbour(i, titles[i], round(w, 4), n) for i, (w, n) in best),
            method=method))
    return out


def _db(settings: Settings) -> Database:
    # Votes can be recomputed, so NORMAL sync (as the library's own tables) is enough.
    return open_library(settings.db_path, synchronous="NORMAL")


_COLUMNS = ("track_id", "stamp", "method", "tags", "shares", "neighbours", "created_at")


def _replace_all(db: Database, rows: list[dict[str, Any]]) -> None:
    """Every stored vote replaced by ``rows`` in one transaction: a reader sees the old votes
    or the new ones, and a process killed halfway leaves the old ones."""
    marks = ", ".join("?" * len(_COLUMNS))
    with db.atomic():  # the DELETE takes the write lock first, waiting out the busy timeout
        db.execute(f"DELETE FROM {TABLE}")
        db.conn.executemany(f"INSERT INTO {TABLE} ({', '.join(_COLUMNS)}) VALUES ({marks})",
                            [tuple(r[c] for c in _COLUMNS) for r in rows])


def update_tag_votes(settings: Settings, *, k: int = K, min_share: float = MIN_SHARE,
                     force: bool = False) -> dict[int, TagVote]:
    """The stored votes, recomputed first when the library or its cue vectors changed.

    Threads of one process take turns; two processes recomputing at once each replace the
    whole table in one transaction, one after the other, so neither fails.
    """
    with _UPDATE_LOCK, Store(settings) as store:
        db = store.database  # the votes' table, on the store's own connection
        stamp = _stamp(store.tracks(), settings, k, min_share)
        stored = {r[0] for r in db.execute(f"SELECT DISTINCT stamp FROM {TABLE}")}
        if not force and stored == {stamp}:
            return _read(db)
        votes = compute_votes(settings, store, k=k, min_share=min_share)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        rows = [{"track_id": v.track_id, "stamp": stamp, "method": v.method,
                 "tags": json.dumps(list(v.tags)), "shares": json.dumps(v.shares),
                 "neighbours": json.dumps([asdict(n) for n in v.neighbours]),
                 "created_at": now} for v in votes]
        if not rows:  # an all-tagged library keeps one marker row, so it is not redone
            rows = [{"track_id": 0, "stamp": stamp, "method": "none", "tags": "[]",
                     "shares": "{}", "neighbours": "[]", "created_at": now}]
        _replace_all(db, rows)
        return {v.track_id: v for v in votes}


def tag_votes(settings: Settings) -> dict[int, TagVote]:
    """The stored votes without recomputing (empty before the first `update_tag_votes`)."""
    db = _db(settings)
    try:
        return _read(db)
    finally:
        db.close()


def vote_of(settings: Settings, track_id: int) -> TagVote | None:
    """For `radio show`: the stored vote for one song, or None (none stored, or the table is
    unreadable: evidence is a courtesy, and a damaged table must not break `radio show`)."""
    try:
        return tag_votes(settings).get(track_id)
    except (OSError, ValueError, KeyError, sqlite3.DatabaseError, RadioError):
        return None


def show_vote(settings: Settings, track_id: int, echo: Callable[[str], None]) -> None:
    """For `radio show`: one line saying which tags were guessed and why (nothing if none)."""
    found = vote_of(settings, track_id)
    if found is not None:
        echo(f"  voted     {found.explain()}")


def _read(db: Database) -> dict[int, TagVote]:
    out = {}
    for r in db.table(TABLE).rows:
        if r["track_id"] == 0:
            continue
        neighbours: list[dict[str, Any]] = json.loads(r["neighbours"])
        out[int(r["track_id"])] = TagVote(
            track_id=int(r["track_id"]), tags=tuple(json.loads(r["tags"])),
            shares=dict(json.loads(r["shares"])),
            neighbours=tuple(Neighbour(**n) for n in neighbours), method=str(r["method"]))
    return out
