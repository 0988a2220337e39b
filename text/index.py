"""The text FAISS index: one unit vector per track, inner product = cosine, keyed by track id.

Kept as ``<dir>/text.faiss`` plus ``<dir>/text.json`` (model name, dimension, and per track the
caller's source stamp and the hash of its document). `TextIndex.sync` is incremental: a track
whose stamp is unchanged is not even re-described, one whose document text is unchanged is not
re-embedded, and tracks gone from the library leave the index. Both files are written to a
temporary name and renamed, so a killed process leaves the old pair or the new one; a pair that
disagrees (or was built by another model) is dropped and rebuilt rather than trusted.

Exact search (``IndexFlatIP``): at 384 dimensions a 10,000-track library is scanned in well under
a millisecond, and exact results need no training or tuning.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import faiss
import numpy as np

from text.documents import document_hash
from text.encoder import Embedder
from text.lexical import LexicalIndex

__all__ = ["SyncReport", "TextIndex"]

INDEX_FILE = "text.faiss"
META_FILE = "text.json"
_EMBED_CHUNK = 256  # documents per encode call: bounds memory, lets progress move


@dataclass(frozen=True)
class SyncReport:
    """What one `TextIndex.sync` did; ``seconds`` is wall time, most of it embedding."""

    added: int
    changed: int
    removed: int
    unchanged: int
    seconds: float

    @property
    def embedded(self) -> int:
        return self.added + self.changed


class TextIndex:
    """Track id -> unit text vector, searchable by inner product."""

    def __init__(self, directory: Path, *, model: str, dim: int) -> None:
        self.directory = Path(directory)
        self.model = model
        self.dim = dim
        self._index: faiss.Index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self._stamps: dict[int, str] = {}
        self._hashes: dict[int, str] = {}
        self._terms: dict[int, tuple[str, ...]] = {}
        self._lexical: LexicalIndex | None = None
        self._matrix: tuple[list[int], np.ndarray] | None = None  # (ids, vectors), sorted ids

    @classmethod
    def open(cls, directory: Path, *, model: str, dim: int) -> TextIndex:
        """The saved index in ``directory``, or an empty one if absent, stale or inconsistent."""
        self = cls(directory, model=model, dim=dim)
        index_path, meta_path = self.directory / INDEX_FILE, self.directory / META_FILE
        if not (index_path.is_file() and meta_path.is_file()):
            return self
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            index = faiss.read_index(str(index_path))
        except (OSError, ValueError, RuntimeError):
            return self  # damaged: rebuilding costs one embedding pass, nothing is lost
        # IndexIDMap2's id vector is missing from faiss's stubs, hence the cast below.
        if meta.get("model") != model or meta.get("dim") != dim or index.d != dim:
            return self
        tracks: dict[str, Any] = meta.get("tracks", {})
        id_map = cast(Any, index).id_map
        stored = set(faiss.vector_to_array(id_map).tolist()) if index.ntotal else set()
        if stored != {int(k) for k in tracks}:
            return self
        self._index = index
        self._stamps = {int(k): str(v["stamp"]) for k, v in tracks.items()}
        self._hashes = {int(k): str(v["hash"]) for k, v in tracks.items()}
        self._terms = {int(k): tuple(v.get("terms", ())) for k, v in tracks.items()}
        return self

    @classmethod
    def read(cls, directory: Path) -> TextIndex | None:
        """The saved index whatever model built it (for reading vectors), or None."""
        try:
            meta = json.loads((Path(directory) / META_FILE).read_text(encoding="utf-8"))
            model, dim = str(meta["model"]), int(meta["dim"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        index = cls.open(directory, model=model, dim=dim)
        return index if len(index) else None

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @property
    def ids(self) -> list[int]:
        return sorted(self._hashes)

    def sync(
        self,
        stamps: Mapping[int, str],
        document_for: Callable[[int], str],
        embedder: Embedder,
        *,
        terms_for: Callable[[int], Sequence[str]] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> SyncReport:
        """Make the index hold exactly the ids in ``stamps`` and save it.

        ``stamps`` maps each track id to a string that changes whenever the inputs of its
        document may have changed (e.g. its row's update time); ``document_for(id)`` builds the
        document, and is called only for new or re-stamped ids; so is ``terms_for(id)``, the
        song's exact-word terms for `lexical` (`text.lexical.song_terms`).
        """
        start = time.perf_counter()
        gone = [i for i in self._hashes if i not in stamps]
        pending: list[tuple[int, str, str]] = []  # (id, document, hash) to embed
        unchanged = restamped = 0
        new_terms: dict[int, tuple[str, ...]] = {}
        for track_id, stamp in stamps.items():
            if self._stamps.get(track_id) == stamp:
                unchanged += 1
                continue
            doc = document_for(track_id)
            digest = document_hash(doc)
            if terms_for is not None:
                new_terms[track_id] = tuple(terms_for(track_id))
            if self._hashes.get(track_id) == digest:
                self._stamps[track_id] = stamp
                unchanged += 1
                restamped += 1
            else:
                pending.append((track_id, doc, digest))
        changed = sum(1 for i, _, _ in pending if i in self._hashes)
        self._remove(gone + [i for i, _, _ in pending if i in self._hashes])
        for lo in range(0, len(pending), _EMBED_CHUNK):
            chunk = pending[lo : lo + _EMBED_CHUNK]
            vecs = embedder.encode([doc for _, doc, _ in chunk])
            self._add([i for i, _, _ in chunk], vecs)
            for track_id, _, digest in chunk:
                self._hashes[track_id] = digest
                self._stamps[track_id] = stamps[track_id]
            if progress is not None:
                progress(lo + len(chunk), len(pending))
        self._terms.update(new_terms)
        self._lexical = None
        if gone or pending or restamped or not (self.directory / META_FILE).is_file():
            self.save()
        return SyncReport(added=len(pending) - changed, changed=changed, removed=len(gone),
                          unchanged=unchanged, seconds=time.perf_counter() - start)

    def add(self, ids: list[int], vectors: np.ndarray, hashes: list[str],
            terms: list[tuple[str, ...]] | None = None) -> None:
        """Add precomputed vectors (benchmarks, bulk loads); ``hashes`` are their documents'."""
        self._remove([i for i in ids if i in self._hashes])
        self._add(ids, vectors)
        for i, h in zip(ids, hashes, strict=True):
            self._hashes[i] = h
            self._stamps[i] = ""
        if terms is not None:
            self._terms.update(zip(ids, terms, strict=True))
        self._lexical = None

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The ``k`` best (track id, cosine) pairs for one unit query vector, best first."""
        if k <= 0 or len(self) == 0:
            return []
        q = np.ascontiguousarray(np.asarray(query, np.float32).reshape(1, self.dim))
        # One query gains nothing from OpenMP threads, and on a busy machine they cost 35x
        # (22 ms vs 0.6 ms for 10,000 vectors); the setting is process-wide, so restore it.
        previous = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            scores, ids = self._index.search(q, min(k, len(self)))
        finally:
            faiss.omp_set_num_threads(previous)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def lexical(self) -> LexicalIndex:
        """The exact-word index over the songs' stored terms (rebuilt after each change)."""
        if self._lexical is None:
            self._lexical = LexicalIndex({i: self._terms.get(i, ()) for i in self._hashes})
        return self._lexical

    def scores(self, query: np.ndarray) -> tuple[list[int], np.ndarray]:
        """Every song's cosine to one unit query: (ids in `ids` order, scores).

        One matrix-vector product over a copy of the vectors kept until the index changes
        (10,000 x 384 floats = 15 MB).
        """
        if self._matrix is None:
            ids = self.ids
            self._matrix = ids, self.vectors(ids)
        ids, matrix = self._matrix
        return ids, matrix @ np.asarray(query, np.float32).reshape(self.dim)

    def vectors(self, ids: list[int]) -> np.ndarray:
        """The stored vectors of these ids, (len(ids), dim) float32."""
        if not ids:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([self._index.reconstruct(int(i)) for i in ids]).astype(np.float32)


    def save(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp_index = self.directory / f".{INDEX_FILE}.{os.getpid()}.{threading.get_ident()}.tmp"
        tmp_meta = self.directory / f".{META_FILE}.{os.getpid()}.{threading.get_ident()}.tmp"
        meta = {"model": self.model, "dim": self.dim,
                "tracks": {str(i): {"stamp": self._stamps.get(i, ""), "hash": h,
                                    "terms": list(self._terms.get(i, ()))}
                           for i, h in sorted(self._hashes.items())}}
        try:
            faiss.write_index(self._index, str(tmp_index))
            tmp_meta.write_text(json.dumps(meta), encoding="utf-8")
            os.replace(tmp_index, self.directory / INDEX_FILE)
            os.replace(tmp_meta, self.directory / META_FILE)
        finally:
            tmp_index.unlink(missing_ok=True)
            tmp_meta.unlink(missing_ok=True)

    def _add(self, ids: list[int], vectors: np.ndarray) -> None:
        self._matrix = None
        vecs = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), self.dim)
        self._index.add_with_ids(vecs, np.asarray(ids, dtype=np.int64))

    def _remove(self, ids: list[int]) -> None:
        if ids:
            self._matrix = None
            self._index.remove_ids(faiss.IDSelectorBatch(np.asarray(ids, dtype=np.int64)))
            for i in ids:
                self._hashes.pop(i, None)
                self._stamps.pop(i, None)
                self._terms.pop(i, None)
            self._lexical = None
