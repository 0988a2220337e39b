"""One audio vector per song, and the song FAISS index that `radio similar` and stations search.

Two representations, combined by default:

* ``summary``: the analysis' fixed-length timbre/spectral/loudness vector, each value
  standardised over the library (so dB and Hz weigh alike), then L2-normalised;
* ``tower``: the continuation model's view of the song, the mean of its exit and entry cue
  embeddings from the cue index (``radio embed``), centred on the library mean, L2-normalised;
* ``both``: the two unit vectors side by side, each weighted by sqrt(1/2), so the inner product
  is the mean of the two cosines.

Measured on the demo library (bench/search.py, 86 songs): the share of a song's ten nearest
neighbours of its own style is 0.655 (summary), 0.662 (tower) and 0.727 (both); on the dev
library 0.445, 0.427 and 0.468. So ``auto`` uses ``both`` where the cue index covers every song
and falls back to ``summary`` otherwise.

`SongIndex` keeps the vectors in ``RADIO_HOME/indexes/songs.faiss`` + ``songs.json``. Because
standardising and centring depend on the whole library, the index is rebuilt as a whole (no audio
is decoded: summaries and cue vectors are already stored, so 10,000 songs take seconds) whenever
the set of songs, their content or the cue model changes. Inner-product exact search: 10,000
songs x 227 values is well under a millisecond. Never decodes audio and never writes the store.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import faiss
import numpy as np

from radio.config import Settings
from radio.errors import RadioError
from radio.records import Features, Track
from radio.store import Store
from ranking.index import CueIndex

__all__ = [
    "Representation",
    "SongIndex",
    "cue_index",
    "features_or_none",
    "song_matrix",
    "summary_matrix",
    "tower_matrix",
    "update_song_index",
]

Representation = Literal["auto", "summary", "tower", "both"]

INDEX_FILE = "songs.faiss"
META_FILE = "songs.json"
_CUE_META = "audio_meta.json"


def _unit(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = (x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-12)).astype(np.float32)
    return out


def features_or_none(store: Store, track: Track) -> Features | None:
    """The track's arrays, or None when its features file is missing or damaged."""
    try:
        return store.features(track)
    except RadioError:
        return None  # a damaged features file costs this song its vector, not the search


def summary_matrix(store: Store, tracks: list[Track]) -> tuple[list[Track], np.ndarray]:
    """Tracks with a usable audio summary and their standardised unit vectors, (n, d) float32.

    Summaries whose names differ from the most common layout (an older analysis version) are
    left out.
    """
    rows: list[tuple[Track, Features]] = []
    for t in tracks:
        f = features_or_none(store, t)
        if f is not None and f.summary.size:
            rows.append((t, f))
    if not rows:
        return [], np.zeros((0, 0), np.float32)
    layouts = [f.summary_names for _, f in rows]
    common = max(set(layouts), key=layouts.count)
    kept = [(t, f) for t, f in rows if f.summary_names == common]
    x = np.stack([np.nan_to_num(f.summary.astype(np.float64)) for _, f in kept])
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-9)
    return [t for t, _ in kept], _unit(x)


def cue_index(settings: Settings) -> CueIndex | None:
    """The library's cue index as `radio embed` left it, or None when there is none."""
    try:
        meta = json.loads((settings.indexes_dir / _CUE_META).read_text(encoding="utf-8"))
        dim, model = int(meta["dim"]), str(meta["model_id"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    index = CueIndex.load(settings.indexes_dir, dim=dim, model_id=model)
    return index if len(index) else None


def tower_matrix(store: Store, cues: CueIndex,
                 tracks: list[Track]) -> tuple[list[Track], np.ndarray]:
    """Tracks with embedded cues and the centred mean of their exit+entry vectors, unit rows."""
    have = {side: set(cues.ids(side).tolist()) for side in ("exit", "entry")}
    kept: list[Track] = []
    rows: list[np.ndarray] = []
    for t in tracks:
        parts = []
        for side in ("exit", "entry"):
            ids = np.array([cid for cid, c in store.cue_rows(t.id)
                            if c.kind == side and cid in have[side]], dtype=np.int64)
            if ids.size:
                parts.append(cues.vectors(side, ids))
        if parts:
            kept.append(t)
            rows.append(np.concatenate(parts).mean(axis=0))
    if not rows:
        return [], np.zeros((0, cues.dim), np.float32)
    x = np.stack(rows).astype(np.float64)
    return kept, _unit(x - x.mean(axis=0))


def song_matrix(settings: Settings, store: Store, tracks: list[Track], *,
                kind: Representation = "auto") -> tuple[list[Track], np.ndarray, str]:
    """(tracks, unit vectors, the representation used); see the module docstring."""
    if kind not in ("auto", "summary", "tower", "both"):
        raise RadioError(f"unknown audio representation {kind!r}; use summary, tower or both")
    if kind == "summary":
        return (*summary_matrix(store, tracks), "summary")
    cues = cue_index(settings)
    if cues is None:
        if kind == "auto":
            return (*summary_matrix(store, tracks), "summary")
        raise RadioError("no cue embeddings in this library; run `radio embed` first")
    t_tracks, t_vecs = tower_matrix(store, cues, tracks)
    if kind == "tower":
        return t_tracks, t_vecs, "tower"
    s_tracks, s_vecs = summary_matrix(store, tracks)
    if kind == "auto" and len(t_tracks) < len(s_tracks):
        # A half-embedded library: every song keeps a vector rather than the best vector.
        return s_tracks, s_vecs, "summary"
    pos = {t.id: i for i, t in enumerate(t_tracks)}
    kept = [(t, i) for i, t in enumerate(s_tracks) if t.id in pos]
    both = np.hstack([s_vecs[[i for _, i in kept]], t_vecs[[pos[t.id] for t, _ in kept]]])
    return [t for t, _ in kept], (both * np.float32(np.sqrt(0.5))), "both"


@dataclass
class SongIndex:
    """Track id -> unit song vector, exact inner-product search."""

    kind: str
    stamp: str
    index: faiss.Index

    @property
    def ids(self) -> np.ndarray:
        id_map = cast(Any, self.index).id_map  # IndexIDMap2's id vector; the stubs lack it
        return faiss.vector_to_array(id_map).astype(np.int64)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def vectors(self, ids: list[int]) -> np.ndarray:
        """Stored vectors of these ids (KeyError for an id without one)."""
        out = np.zeros((len(ids), self.index.d), np.float32)
        for r, i in enumerate(ids):
            try:
                out[r] = self.index.reconstruct(int(i))
            except RuntimeError as exc:
                raise KeyError(i) from exc
        return out

    def matrix(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of every song, in index order."""
        n = len(self)
        if n == 0:
            return np.zeros(0, np.int64), np.zeros((0, self.index.d), np.float32)
        flat = faiss.downcast_index(cast(Any, self.index).index)
        return self.ids, np.asarray(flat.reconstruct_n(0, n), np.float32)

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The ``k`` nearest (track id, inner product) pairs to one vector, best first."""
        if k <= 0 or len(self) == 0:
            return []
        q = np.ascontiguousarray(np.asarray(query, np.float32).reshape(1, self.index.d))
        previous = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)  # one query gains nothing from threads; see text.index
        try:
            scores, ids = self.index.search(q, min(k, len(self)))
        finally:
            faiss.omp_set_num_threads(previous)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        tmp_index = directory / f".{INDEX_FILE}.{os.getpid()}.{threading.get_ident()}.tmp"
        tmp_meta = directory / f".{META_FILE}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            faiss.write_index(self.index, str(tmp_index))
            tmp_meta.write_text(json.dumps({"kind": self.kind, "stamp": self.stamp}),
                                encoding="utf-8")
            os.replace(tmp_index, directory / INDEX_FILE)
            os.replace(tmp_meta, directory / META_FILE)
        finally:
            tmp_index.unlink(missing_ok=True)
            tmp_meta.unlink(missing_ok=True)

    @classmethod
    def load(cls, directory: Path) -> SongIndex | None:
        """The saved index, or None when absent or damaged (it is then rebuilt)."""
        try:
            meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
            index = faiss.read_index(str(directory / INDEX_FILE))
            return cls(kind=str(meta["kind"]), stamp=str(meta["stamp"]), index=index)
        except (OSError, ValueError, KeyError, TypeError, RuntimeError):
            return None


def _library_stamp(settings: Settings, tracks: list[Track], kind: Representation) -> str:
    import hashlib

    h = hashlib.sha256(kind.encode())
    for t in sorted(tracks, key=lambda t: t.id):
        h.update(f"{t.id}:{t.content_hash}:{t.analysis_version};".encode())
    try:
        h.update((settings.indexes_dir / _CUE_META).read_bytes())
        h.update(str((settings.indexes_dir / "audio_exit.faiss").stat().st_mtime_ns).encode())
    except OSError:
        h.update(b"no cues")
    return h.hexdigest()[:20]


def update_song_index(settings: Settings, *, kind: Representation = "auto",
                      store: Store | None = None) -> SongIndex:
    """The song index, rebuilt first when the library, its cues or ``kind`` changed.

    Threads of one process take turns (a server's stations may ask at once); processes may
    race harmlessly: each writes its own temporary files and renames them into place.
    """
    with _UPDATE_LOCK:
        return _update_song_index(settings, kind=kind, store=store)


_UPDATE_LOCK = threading.Lock()


def _update_song_index(settings: Settings, *, kind: Representation,
                       store: Store | None) -> SongIndex:
    own = store is None
    st = store if store is not None else Store(settings)
    try:
        tracks = st.tracks()
        stamp = _library_stamp(settings, tracks, kind)
        saved = SongIndex.load(settings.indexes_dir)
        if saved is not None and saved.stamp == stamp:
            return saved
        kept, vecs, used = song_matrix(settings, st, tracks, kind=kind)
    finally:
        if own:
            st.close()
    dim = vecs.shape[1] if vecs.size else 1
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    if kept:
        index.add_with_ids(np.ascontiguousarray(vecs, np.float32),
                           np.array([t.id for t in kept], np.int64))
    song_index = SongIndex(kind=used, stamp=stamp, index=index)
    song_index.save(settings.indexes_dir)
    return song_index
