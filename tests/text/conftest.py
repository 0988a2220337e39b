"""A fast stand-in for the sentence encoder: hashed bag of words, L2-normalised.

Texts sharing words get a positive cosine, unrelated texts ~0, so index and search logic can be
tested without loading the 90 MB model; `test_encoder.py` covers the real one.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import numpy as np
import pytest


class FakeEmbedder:
    name = "fake-bag-of-words"
    dim = 256
    max_words = 50

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        out = np.zeros((len(texts), self.dim), np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+|[^\w\s]", text.casefold())[: self.max_words]:
                out[row, zlib.crc32(word.encode()) % self.dim] += 1.0
            out[row, -1] += 1e-3  # never a zero vector
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out

    def truncated(self, text: str) -> bool:
        return len(re.findall(r"\w+", text)) > self.max_words

    @property
    def embedded(self) -> int:
        return sum(len(c) for c in self.calls)


@pytest.fixture
def fake() -> FakeEmbedder:
    return FakeEmbedder()
