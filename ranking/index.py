"""FAISS indexes of cue embeddings: exits (what a song sounds like as it leaves) and entries.

Two inner-product indexes with 64-bit ids (the store's cue ids), so that for an exit vector the
entry index returns the cues most likely to follow it: the model's probability is monotone in the
inner product. Vectors can be read back by id (the sequencer builds its score tensor from them).
The index remembers which model made its vectors; vectors from another model are rebuilt, not
mixed. Persisted under ``RADIO_HOME/indexes`` as ``audio_exit.faiss``, ``audio_entry.faiss`` and
``audio_meta.json``, written atomically. Exact search (``IndexFlatIP``): a library's cues number in
the tens of thousands, where exact search takes well under a millisecond per query.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import faiss
import numpy as np

__all__ = ["CueIndex", "Side"]

Side = Literal["exit", "entry"]


def _new(dim: int) -> faiss.Index:
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


@dataclass
class CueIndex:
    """Exit and entry vectors keyed by cue id."""

    dim: int
    model_id: str = ""
    exit: faiss.Index | None = None
    entry: faiss.Index | None = None

    def __post_init__(self) -> None:
        self.exit = self.exit if self.exit is not None else _new(self.dim)
        self.entry = self.entry if self.entry is not None else _new(self.dim)

    def _side(self, side: Side) -> faiss.Index:
        idx = self.exit if side == "exit" else self.entry
        assert idx is not None  # set in __post_init__
        return idx

    def __len__(self) -> int:
        return int(self._side("exit").ntotal + self._side("entry").ntotal)

    def ids(self, side: Side) -> np.ndarray:
        """Every cue id held on ``side``."""
        idx = self._side(side)
        id_map = cast(Any, idx).id_map  # IndexIDMap2's id vector; the stubs lack it
        return faiss.vector_to_array(id_map).astype(np.int64)

    def add(self, side: Side, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add (or replace) vectors; ``vectors`` are L2-normalised float32 rows."""
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        vecs = np.ascontiguousarray(vectors, dtype=np.float32)
        if vecs.ndim != 2 or vecs.shape[1] != self.dim or len(ids) != len(vecs):
            raise ValueError(f"expected ({len(ids)}, {self.dim}) vectors, got {vecs.shape}")
        self.remove(ids)
        self._side(side).add_with_ids(vecs, ids)

    def remove(self, ids: np.ndarray) -> None:
        """Drop these cue ids from both sides (unknown ids are ignored)."""
        sel = faiss.IDSelectorBatch(np.ascontiguousarray(ids, dtype=np.int64))
        self._side("exit").remove_ids(sel)
        self._side("entry").remove_ids(sel)

    def vectors(self, side: Side, ids: np.ndarray) -> np.ndarray:
        """Stored vectors for ``ids`` (KeyError naming the first unknown id)."""
        idx = self._side(side)
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        for r, i in enumerate(np.asarray(ids, dtype=np.int64)):
            try:
                out[r] = idx.reconstruct(int(i))
            except RuntimeError as exc:
                raise KeyError(f"cue {int(i)} has no {side} vector") from exc
        return out

    def search(self, side: Side, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(inner products, ids), each (n_queries, k); ids are -1 past the index's size."""
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        idx = self._side(side)
        k = max(1, min(k, int(idx.ntotal))) if idx.ntotal else 1
        scores, ids = idx.search(q, k)
        return scores, ids

    # -- persistence ----------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for side in ("exit", "entry"):
            tmp = folder / f"audio_{side}.faiss.tmp"
            faiss.write_index(self._side(side), str(tmp))
            tmp.replace(folder / f"audio_{side}.faiss")
        meta = folder / "audio_meta.json.tmp"
        meta.write_text(json.dumps({"dim": self.dim, "model_id": self.model_id}))
        meta.replace(folder / "audio_meta.json")

    @classmethod
    def load(cls, folder: Path, *, dim: int, model_id: str) -> CueIndex:
        """The saved index when it was built by ``model_id``; otherwise a new empty one."""
        meta_path = folder / "audio_meta.json"
        try:
            meta = json.loads(meta_path.read_text())
            if meta.get("model_id") != model_id or meta.get("dim") != dim:
                return cls(dim=dim, model_id=model_id)
            exit_idx = faiss.read_index(str(folder / "audio_exit.faiss"))
            entry_idx = faiss.read_index(str(folder / "audio_entry.faiss"))
        except (OSError, ValueError, RuntimeError):
            return cls(dim=dim, model_id=model_id)
        return cls(dim=dim, model_id=model_id, exit=exit_idx, entry=entry_idx)
