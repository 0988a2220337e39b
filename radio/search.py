"""Search the library by text prompt (`search_prompt`) or by sound (`similar_tracks`).

The glue between the store and `text`: it turns each track into `text.SongFields` (its tags plus
the analysis values the descriptors need), keeps ``RADIO_HOME/indexes/text.faiss`` in step with
the library before every prompt search (only new or changed tracks are embedded), and converts
`text.TextError` into `RadioError` so the CLI and server report it like any other user error.

"Similar" compares songs by their song vectors in ``indexes/songs.faiss`` (`radio.songvectors`:
the analysis summary plus the continuation model's cue embeddings). ``diverse`` re-ranks the
nearest candidates by maximal marginal relevance and keeps one album from following itself.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np

from radio.config import Settings
from radio.errors import ConfigError, RadioError
from radio.records import Features, Track
from radio.songvectors import (
    Representation,
    features_or_none,
    song_matrix,
    summary_matrix,
    update_song_index,
)
from radio.store import Store
from radio.tagvote import TagVote, update_tag_votes
from text.config import TextSettings
from text.documents import DOCUMENT_VERSION, SongFields, document, matched_fields
from text.encoder import Embedder, Encoder
from text.errors import ModelMissing, TextError
from text.index import SyncReport, TextIndex
from text.lexical import song_terms
from text.search import Blend, check_prompt, mmr
from text.search import search as text_search

__all__ = [
    "BLEND",
    "SearchHit",
    "SearchResult",
    "SimilarResult",
    "audio_vectors",
    "default_embedder",
    "search_prompt",
    "similar_tracks",
    "song_fields",
    "spread_albums",
    "text_vectors",
    "update_text_index",
]

_CENTROID = "centroid_mean"
BLEND = Blend()
"""Default prompt-score weights (`text.search.Blend`)."""
_MMR_POOL = 50  # candidates MMR chooses from, at least; more when more results are asked for


@dataclass(frozen=True)
class SearchHit:
    """One result: the track, its blended score and the prompt words each field holds."""

    track: Track
    score: float
    matched: dict[str, tuple[str, ...]]
    parts: tuple[float, float, float] | None = None  # text cosine, word share, audio feedback

    def to_dict(self) -> dict[str, Any]:
        t = self.track
        out = {"id": t.id, "title": t.title, "artist": t.artist, "album": t.album,
               "path": t.path, "score": round(self.score, 4),
               "matched": {k: list(v) for k, v in self.matched.items()}}
        if self.parts is not None:
            out["parts"] = dict(zip(("text", "words", "audio"),
                                    (round(p, 4) for p in self.parts), strict=True))
        return out


@dataclass(frozen=True)
class SearchResult:
    """Ranked hits for a prompt; ``truncated`` when the model read only the prompt's start."""

    prompt: str
    truncated: bool
    hits: list[SearchHit]
    index: SyncReport

    def to_dict(self) -> dict[str, Any]:
        return {"prompt": self.prompt, "truncated": self.truncated,
                "embedded": self.index.embedded, "results": [h.to_dict() for h in self.hits]}


@dataclass(frozen=True)
class SimilarResult:
    """Tracks that sound like ``seed``, best first, with their cosine to it."""

    seed: Track
    hits: list[tuple[Track, float]]
    diverse: float | None
    kind: str = "summary"  # the song-vector representation compared (radio.songvectors)

    def to_dict(self) -> dict[str, Any]:
        return {"seed": {"id": self.seed.id, "title": self.seed.title},
                "diverse": self.diverse, "representation": self.kind,
                "results": [{"id": t.id, "title": t.title, "artist": t.artist,
                             "album": t.album, "path": t.path, "score": round(s, 4)}
                            for t, s in self.hits]}


@contextmanager
def _text_errors() -> Iterator[None]:
    try:
        yield
    except ModelMissing as exc:
        raise ConfigError(str(exc)) from exc
    except TextError as exc:
        raise RadioError(str(exc)) from exc


def song_fields(track: Track, features: Features | None, *,
                guessed: tuple[str, ...] = ()) -> SongFields:
    """What a track's document is made of; ``features`` None leaves brightness unknown.

    ``guessed`` are tags voted by audio neighbours (`radio.tagvote`); they are used only for a
    track without tags or genre of its own.
    """
    centroid: float | None = None
    if features is not None and _CENTROID in features.summary_names:
        centroid = float(features.summary[features.summary_names.index(_CENTROID)])
    return SongFields(
        title=track.title, artist=track.artist, album=track.album, genre=track.genre,
        comment=track.comment, lyrics=track.lyrics, tags=track.tags,
        tempo=track.tempo, key=track.key or None, mode=track.mode or None, lufs=track.lufs,
        centroid_hz=centroid, duration=track.duration,
        guessed_tags=() if (track.tags or track.genre) else guessed,
    )


@lru_cache(maxsize=4)
def _encoder(config: str) -> Encoder:
    with _text_errors():
        return Encoder.from_settings(TextSettings.model_validate_json(config))


def default_embedder() -> Embedder:
    """The configured sentence encoder (``RADIO_TEXT_MODEL`` ...), loaded once per process."""
    return _encoder(TextSettings().model_dump_json())


def update_text_index(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    fields: Callable[[Track, Features | None], SongFields] = song_fields,
    progress: Callable[[int, int], None] | None = None,
    vote_tags: bool = True,
    votes: Mapping[int, TagVote] | None = None,
) -> tuple[TextIndex, SyncReport]:
    """Bring ``indexes/text.faiss`` up to date with the library's ``ok`` tracks.

    With ``vote_tags``, untagged tracks' documents carry the tags their audio neighbours voted
    (``votes``, or `radio.tagvote.update_tag_votes`, refreshed when the library changed).
    """
    embedder = embedder or default_embedder()
    if votes is None:
        votes = update_tag_votes(settings) if vote_tags else {}
    with Store(settings) as store, _text_errors():
        tracks = {t.id: t for t in store.tracks()}
        index = TextIndex.open(settings.indexes_dir, model=embedder.name, dim=embedder.dim)
        guessed = {i: v.tags for i, v in votes.items()}
        # The row's update time changes with every re-ingest or tag change; the document
        # version with every change to what `document` writes; the votes when they change.
        stamps = {i: f"{DOCUMENT_VERSION}:{t.updated_at}:{t.content_hash}:"
                     f"{','.join(guessed.get(i, ()))}"
                  for i, t in tracks.items()}

        @lru_cache(maxsize=1)
        def described(track_id: int) -> SongFields:
            t = tracks[track_id]
            f = fields(t, features_or_none(store, t))
            if not f.tags and not f.genre and guessed.get(track_id):
                f = replace(f, guessed_tags=guessed[track_id])
            return f

        report = index.sync(stamps, lambda i: document(described(i)), embedder,
                            terms_for=lambda i: song_terms(described(i)), progress=progress)
    return index, report


def search_prompt(settings: Settings, prompt: str, *, n: int = 10,
                  embedder: Embedder | None = None, blend: Blend = BLEND) -> SearchResult:
    """The ``n`` tracks whose text best matches ``prompt``, updating the indexes first.

    The score blends the text cosine with exact-word matches and audio feedback (`text.search`,
    ``blend``); songs' audio vectors come from the song index (`radio.songvectors`). The
    indexes are kept in memory between calls while the library is unchanged (`_Prepared`).
    """
    if n < 1:
        raise RadioError(f"asked for {n} results; ask for at least 1")
    embedder = embedder or default_embedder()
    with _text_errors():
        check_prompt(prompt)  # fail on an empty prompt before any indexing work
    ready = _prepare(settings, embedder, audio=blend.audio > 0)
    with _text_errors():
        result = text_search(prompt, index=ready.text, embedder=embedder, k=n,
                             audio=ready.audio, blend=blend)
    hits: list[SearchHit] = []
    with Store(settings) as store:
        for track_id, score in result.hits:
            track = store.track(track_id)
            fields = song_fields(track, features_or_none(store, track),
                                 guessed=ready.guessed.get(track_id, ()))
            matched = matched_fields(result.prompt, fields)
            hits.append(SearchHit(track=track, score=score, matched=matched,
                                  parts=result.parts.get(track_id)))
    return SearchResult(prompt=result.prompt, truncated=result.truncated, hits=hits,
                        index=ready.report)


@dataclass(frozen=True)
class _Prepared:
    """What a prompt search needs, valid while ``fingerprint`` says the library is unchanged."""

    fingerprint: str
    text: TextIndex
    audio: tuple[np.ndarray, np.ndarray] | None
    guessed: dict[int, tuple[str, ...]]
    report: SyncReport


_PREPARED: dict[tuple[str, str, bool], _Prepared] = {}
_PREPARED_LOCK = threading.Lock()


def _fingerprint(settings: Settings) -> str:
    """A cheap summary of everything the indexes depend on: the ok tracks (id, update time,
    content hash) and the cue index files' modification times. Reads the store's table directly,
    with its own read-only connection, because listing 10,000 tracks through `Store.tracks`
    takes ~0.4 s. Taken *before* an update, so a change made during one is seen next time."""
    parts: list[str] = []
    try:
        with sqlite3.connect(f"file:{settings.db_path}?mode=ro", uri=True, timeout=10) as conn:
            row = conn.execute(
                "SELECT group_concat(id || ':' || updated_at || ':' || content_hash, ',') "
                "FROM (SELECT id, updated_at, content_hash FROM tracks WHERE status = 'ok' "
                "ORDER BY id)").fetchone()
        parts.append(hashlib.sha256(str(row[0]).encode()).hexdigest())
    except sqlite3.Error:
        return ""  # no usable fingerprint: always rebuild (the store reports the real error)
    for name in ("audio_meta.json", "audio_exit.faiss", "audio_entry.faiss"):
        try:
            parts.append(str((settings.indexes_dir / name).stat().st_mtime_ns))
        except OSError:
            parts.append("-")
    return "|".join(parts)


def _prepare(settings: Settings, embedder: Embedder, *, audio: bool) -> _Prepared:
    key = (str(settings.home.resolve()), embedder.name, audio)
    with _PREPARED_LOCK:
        before = _fingerprint(settings)
        cached = _PREPARED.get(key)
        if before and cached is not None and cached.fingerprint == before:
            return replace(cached, report=SyncReport(0, 0, 0, len(cached.text), 0.0))
        votes = update_tag_votes(settings)
        text, report = update_text_index(settings, embedder=embedder, votes=votes)
        vectors = update_song_index(settings).matrix() if audio else None
        ready = _Prepared(fingerprint=before, text=text, audio=vectors,
                          guessed={i: v.tags for i, v in votes.items()}, report=report)
        _PREPARED[key] = ready
        return ready


def text_vectors(settings: Settings, ids: list[int]) -> np.ndarray | None:
    """The text index's vectors of these tracks as it stands (no rebuild), or None when the
    index is missing or lacks one of them."""
    index = TextIndex.read(settings.indexes_dir)
    if index is None or any(i not in set(index.ids) for i in ids):
        return None
    return index.vectors(ids)


def audio_vectors(store: Store, tracks: list[Track], *, settings: Settings | None = None,
                  kind: Representation = "summary") -> tuple[list[Track], np.ndarray]:
    """Tracks with a usable audio vector and those vectors, (n, d) float32 unit rows.

    Without ``settings`` (or with ``kind="summary"``) these are the analysis summaries,
    standardised over ``tracks``; with ``settings`` and ``kind="auto"`` the song vectors that
    `radio similar` uses (summary + cue embeddings where the library has them, standardised
    over the whole library, from ``indexes/songs.faiss``; see `radio.songvectors`). Tracks
    without a vector are left out.
    """
    if settings is None or kind == "summary":
        return summary_matrix(store, tracks)
    if kind != "auto":
        kept, vecs, _ = song_matrix(settings, store, tracks, kind=kind)
        return kept, vecs
    # The persisted song index (standardised over the whole library), rebuilt only when the
    # library changed: no features file is read on the common path.
    ids, matrix = update_song_index(settings, store=store).matrix()
    row = {int(i): r for r, i in enumerate(ids)}
    kept = [t for t in tracks if t.id in row]
    if not kept:
        return [], np.zeros((0, matrix.shape[1]), np.float32)
    return kept, matrix[[row[t.id] for t in kept]]


def similar_tracks(settings: Settings, query: str, *, n: int = 10,
                   diverse: float | None = None,
                   kind: Representation = "auto") -> SimilarResult:
    """The ``n`` tracks that sound most like the track named by ``query`` (id or title).

    Songs are compared by their song vectors (`radio.songvectors`, ``kind`` picks the
    representation). ``diverse`` in 0..1 is MMR's lambda: 1 = plain similarity, lower = more
    variety; with it, no two tracks of one album follow each other either (where the pool
    allows). Raises `NotFound` for an unknown track.
    """
    if n < 1:
        raise RadioError(f"asked for {n} results; ask for at least 1")
    if diverse is not None and not 0.0 <= diverse <= 1.0:
        raise RadioError(f"--diverse {diverse} is outside 0..1; try 0.7")
    with Store(settings) as store:
        seed = store.find_track(query)
        index = update_song_index(settings, kind=kind, store=store)
        try:
            q = index.vectors([seed.id])[0]
        except KeyError:
            raise RadioError(f"track {seed.id} has no audio vector; re-ingest its folder") from None
        want = n + 1 if diverse is None else max(_MMR_POOL, 4 * n) + 1
        hits = [(i, s) for i, s in index.search(q, want) if i != seed.id]
        tracks = {i: store.track(i) for i, _ in hits}
    if diverse is None:
        chosen = hits[:n]
    else:
        vecs = index.vectors([i for i, _ in hits])
        with _text_errors():
            order = mmr(q, vecs, k=len(hits), lam=diverse)
        albums = [tracks[hits[j][0]].album for j in order]
        chosen = [hits[order[j]] for j in spread_albums(albums)[:n]]
    return SimilarResult(seed=seed, hits=[(tracks[i], s) for i, s in chosen],
                         diverse=diverse, kind=index.kind)


def spread_albums(albums: list[str | None]) -> list[int]:
    """Positions of ``albums`` reordered so that no album follows itself, keeping rank order.

    Each step takes the best-ranked remaining item whose album differs from the last one taken
    (an unknown album never clashes); when every remaining item clashes, the best one is taken.
    """
    left = list(range(len(albums)))
    out: list[int] = []
    while left:
        last = albums[out[-1]] if out else None
        pick = next((p for p in left if last is None or albums[p] != last), left[0])
        out.append(pick)
        left.remove(pick)
    return out
