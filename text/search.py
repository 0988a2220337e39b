"""Prompt search over a `TextIndex`, and maximal marginal relevance (MMR) over unit vectors.

`search` validates the prompt (an empty one is a `EmptyPrompt`; a long one is embedded from its
first 256 word pieces and the result says it was truncated), embeds it and asks the index.
`mmr` re-ranks any candidates by relevance minus redundancy; `radio similar --diverse` uses it
on audio vectors, so it takes plain arrays and knows nothing about text.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np

from text.encoder import Embedder
from text.errors import EmptyPrompt, TextError
from text.index import TextIndex

__all__ = ["MAX_PROMPT_CHARS", "PromptResult", "check_prompt", "mmr", "search"]

MAX_PROMPT_CHARS = 20_000
"""Longer prompts are cut here before tokenising (the model reads ~1,000 characters anyway)."""


@dataclass(frozen=True)
class PromptResult:
    """Ranked (track id, cosine) pairs; ``truncated`` when the model saw only the prompt's start."""

    prompt: str
    hits: list[tuple[int, float]]
    truncated: bool


def check_prompt(prompt: str) -> str:
    """The prompt, NFC-normalised and stripped; `EmptyPrompt` when no letter or digit is left."""
    text = unicodedata.normalize("NFC", prompt).strip()
    if not any(unicodedata.category(c)[0] in "LNS" for c in text):
        raise EmptyPrompt()
    return text


def search(prompt: str, *, index: TextIndex, embedder: Embedder, k: int = 10) -> PromptResult:
    """The ``k`` tracks whose documents are closest to ``prompt``, best first."""
    if k < 1:
        raise TextError(f"asked for {k} results; ask for at least 1")
    text = check_prompt(prompt)
    cut = len(text) > MAX_PROMPT_CHARS
    text = text[:MAX_PROMPT_CHARS]
    truncated = cut or embedder.truncated(text)
    query = embedder.encode([text])[0]
    return PromptResult(prompt=text, hits=index.search(query, k), truncated=truncated)


def mmr(query: np.ndarray, candidates: np.ndarray, *, k: int, lam: float) -> list[int]:
    """Indices of ``k`` rows of ``candidates`` chosen by maximal marginal relevance.

    Each step takes the row maximising ``lam * sim(query, row) - (1 - lam) * max sim(row,
    chosen)``, with sim the inner product of unit vectors. ``lam`` = 1 is plain relevance order;
    smaller values trade relevance for variety. ``query`` is (dim,), ``candidates`` (n, dim).
    """
    if not 0.0 <= lam <= 1.0:
        raise TextError(f"diversity lambda {lam} is outside 0..1")
    n = candidates.shape[0]
    k = min(k, n)
    if k <= 0:
        return []
    relevance = candidates @ query
    redundancy = np.full(n, -np.inf)
    chosen: list[int] = []
    free = np.ones(n, bool)
    for _ in range(k):
        penalty = np.where(np.isfinite(redundancy), redundancy, 0.0)
        score = np.where(free, lam * relevance - (1.0 - lam) * penalty, -np.inf)
        best = int(np.argmax(score))
        chosen.append(best)
        free[best] = False
        redundancy = np.maximum(redundancy, candidates @ candidates[best])
    return chosen
