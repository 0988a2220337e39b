"""Search the library by text prompt (`search_prompt`) or by sound (`similar_tracks`).

The glue between the store and `text`: it turns each track into `text.SongFields` (its tags plus
the analysis values the descriptors need), keeps ``RADIO_HOME/indexes/text.faiss`` in step with
the library before every prompt search (only new or changed tracks are embedded), and converts
`text.TextError` into `RadioError` so the CLI and server report it like any other user error.

"Similar" compares songs by their audio summary (the analysis' fixed-length timbre/spectral
vector), standardised over the library and L2-normalised, by exact numpy inner product: even
10,000 tracks x 99 values is one small matrix product, so no index file is needed. ``diverse``
re-ranks the nearest candidates by maximal marginal relevance.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from radio.config import Settings
from radio.errors import ConfigError, RadioError
from radio.records import Features, Track
from radio.store import Store
from text.config import TextSettings
from text.documents import DOCUMENT_VERSION, SongFields, document, matched_fields
from text.encoder import Embedder, Encoder
from text.errors import ModelMissing, TextError
from text.index import SyncReport, TextIndex
from text.search import check_prompt, mmr
from text.search import search as text_search

__all__ = [
    "SearchHit",
    "SearchResult",
    "SimilarResult",
    "audio_vectors",
    "default_embedder",
    "search_prompt",
    "similar_tracks",
    "song_fields",
    "update_text_index",
]

_CENTROID = "centroid_mean"
_MMR_POOL = 50  # candidates MMR chooses from, at least; more when more results are asked for


@dataclass(frozen=True)
class SearchHit:
    """One result: the track, its cosine score (-1..1) and the prompt words each field holds."""

    track: Track
    score: float
    matched: dict[str, tuple[str, ...]]

    def to_dict(self) -> dict[str, Any]:
        t = self.track
        return {"id": t.id, "title": t.title, "artist": t.artist, "album": t.album,
                "path": t.path, "score": round(self.score, 4),
                "matched": {k: list(v) for k, v in self.matched.items()}}


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

    def to_dict(self) -> dict[str, Any]:
        return {"seed": {"id": self.seed.id, "title": self.seed.title},
                "diverse": self.diverse,
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


def song_fields(track: Track, features: Features | None) -> SongFields:
    """What a track's document is made of; ``features`` None leaves brightness unknown."""
    centroid: float | None = None
    if features is not None and _CENTROID in features.summary_names:
        centroid = float(features.summary[features.summary_names.index(_CENTROID)])
    return SongFields(
        title=track.title, artist=track.artist, album=track.album, genre=track.genre,
        comment=track.comment, lyrics=track.lyrics, tags=track.tags,
        tempo=track.tempo, key=track.key or None, mode=track.mode or None, lufs=track.lufs,
        centroid_hz=centroid, duration=track.duration,
    )


def _features_or_none(store: Store, track: Track) -> Features | None:
    try:
        return store.features(track)
    except RadioError:
        return None  # a damaged features file costs the descriptors, not the search


@lru_cache(maxsize=4)
def _encoder(model_dir: Path | None, batch_size: int, threads: int) -> Encoder:
    with _text_errors():
        return Encoder(model_dir, batch_size=batch_size, threads=threads)


def default_embedder() -> Embedder:
    """The configured sentence encoder (``RADIO_TEXT_MODEL``), loaded once per process."""
    cfg = TextSettings()
    return _encoder(cfg.text_model, cfg.text_batch_size, cfg.text_threads)


def update_text_index(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    fields: Callable[[Track, Features | None], SongFields] = song_fields,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[TextIndex, SyncReport]:
    """Bring ``indexes/text.faiss`` up to date with the library's ``ok`` tracks."""
    embedder = embedder or default_embedder()
    with Store(settings) as store, _text_errors():
        tracks = {t.id: t for t in store.tracks()}
        index = TextIndex.open(settings.indexes_dir, model=embedder.name, dim=embedder.dim)
        # The row's update time changes with every re-ingest or tag change; the document
        # version with every change to what `document` writes.
        stamps = {i: f"{DOCUMENT_VERSION}:{t.updated_at}:{t.content_hash}"
                  for i, t in tracks.items()}

        def doc(track_id: int) -> str:
            t = tracks[track_id]
            return document(fields(t, _features_or_none(store, t)))

        report = index.sync(stamps, doc, embedder, progress=progress)
    return index, report


def search_prompt(settings: Settings, prompt: str, *, n: int = 10,
                  embedder: Embedder | None = None) -> SearchResult:
    """The ``n`` tracks whose text best matches ``prompt``, updating the index first."""
    if n < 1:
        raise RadioError(f"asked for {n} results; ask for at least 1")
    embedder = embedder or default_embedder()
    with _text_errors():
        check_prompt(prompt)  # fail on an empty prompt before any indexing work
    index, report = update_text_index(settings, embedder=embedder)
    with _text_errors():
        result = text_search(prompt, index=index, embedder=embedder, k=n)
    hits: list[SearchHit] = []
    with Store(settings) as store:
        for track_id, score in result.hits:
            track = store.track(track_id)
            fields = song_fields(track, _features_or_none(store, track))
            matched = matched_fields(result.prompt, fields)
            hits.append(SearchHit(track=track, score=score, matched=matched))
    return SearchResult(prompt=result.prompt, truncated=result.truncated, hits=hits,
                        index=report)


def audio_vectors(store: Store, tracks: list[Track]) -> tuple[list[Track], np.ndarray]:
    """Tracks with a usable audio summary and their vectors, (n, d) float32 unit rows.

    Each summary value is standardised over these tracks (so loudness in dB and centroid in
    Hz weigh alike), then each row is L2-normalised. Summaries whose names differ from the
    most common layout (an older analysis version) are left out.
    """
    rows: list[tuple[Track, Features]] = []
    for t in tracks:
        f = _features_or_none(store, t)
        if f is not None and f.summary.size:
            rows.append((t, f))
    if not rows:
        return [], np.zeros((0, 0), np.float32)
    layouts = [f.summary_names for _, f in rows]
    common = max(set(layouts), key=layouts.count)
    kept = [(t, f) for t, f in rows if f.summary_names == common]
    x = np.stack([np.nan_to_num(f.summary.astype(np.float64)) for _, f in kept])
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-9)
    x /= np.linalg.norm(x, axis=1, keepdims=True) + 1e-12
    return [t for t, _ in kept], x.astype(np.float32)


def similar_tracks(settings: Settings, query: str, *, n: int = 10,
                   diverse: float | None = None) -> SimilarResult:
    """The ``n`` tracks that sound most like the track named by ``query`` (id or title).

    ``diverse`` in 0..1 is MMR's lambda: 1 = plain similarity, lower = more variety.
    Raises `NotFound` for an unknown track.
    """
    if n < 1:
        raise RadioError(f"asked for {n} results; ask for at least 1")
    if diverse is not None and not 0.0 <= diverse <= 1.0:
        raise RadioError(f"--diverse {diverse} is outside 0..1; try 0.7")
    with Store(settings) as store:
        seed = store.find_track(query)
        tracks, vecs = audio_vectors(store, store.tracks())
    pos = {t.id: i for i, t in enumerate(tracks)}
    if seed.id not in pos:
        raise RadioError(f"track {seed.id} has no audio summary; re-ingest its folder")
    q = vecs[pos[seed.id]]
    sims = vecs @ q
    sims[pos[seed.id]] = -np.inf
    order = np.argsort(-sims, kind="stable")[: len(tracks) - 1]
    if diverse is None:
        chosen = order[:n]
    else:
        pool = order[: max(_MMR_POOL, 4 * n)]
        with _text_errors():
            picked = mmr(q, vecs[pool], k=n, lam=diverse)
        chosen = pool[picked]
    return SimilarResult(seed=seed, hits=[(tracks[i], float(sims[i])) for i in chosen],
                         diverse=diverse)
