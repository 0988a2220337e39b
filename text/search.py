"""Prompt search over a `TextIndex`, and maximal marginal relevance (MMR) over unit vectors.

`search` validates the prompt (an empty one is a `EmptyPrompt`; a long one is embedded from its
first 256 word pieces and the result says it was truncated), embeds it and scores every song:

    score = cosine(prompt, document) + lexical * matched-word share (`text.lexical`)
            + audio * cosine(song's audio vector, mean audio vector of the top ``feedback``)

The last term is pseudo-relevance feedback in audio space: the songs the words found best pull
up the songs that *sound* like them, which rescues songs whose words say little ("Track 22").
It needs the caller's song vectors (plain arrays: `text` never sees audio); without them it is
left out. The weights (`Blend`) were set on the demo library's benchmark prompts (see
bench/search.py for the figures with each part switched off).
`mmr` re-ranks any candidates by relevance minus redundancy; `radio similar --diverse` uses it
on audio vectors, so it takes plain arrays and knows nothing about text.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

import numpy as np

from text.encoder import Embedder
from text.errors import EmptyPrompt, TextError
from text.index import TextIndex

__all__ = ["MAX_PROMPT_CHARS", "PLAIN", "Blend", "PromptResult", "blend_scores", "check_prompt",
           "mmr", "search"]

MAX_PROMPT_CHARS = 20_000
"""Longer prompts are cut here before tokenising (the model reads ~1,000 characters anyway)."""


@dataclass(frozen=True)
class Blend:
    """Weights of the score's parts; all zero = the plain embedding cosine."""

    lexical: float = 0.2
    audio: float = 0.2
    feedback: int = 10  # top songs whose mean audio vector is the feedback query

    def __post_init__(self) -> None:
        if self.lexical < 0 or self.audio < 0 or self.feedback < 0:
            raise TextError(f"blend weights must be >= 0, got {self}")


PLAIN = Blend(lexical=0.0, audio=0.0, feedback=0)


@dataclass(frozen=True)
class PromptResult:
    """Ranked (track id, score) pairs; ``truncated`` when the model saw only the prompt's start.

    ``parts`` gives, per hit, the cosine, the lexical share and the audio-feedback cosine.
    """

    prompt: str
    hits: list[tuple[int, float]]
    truncated: bool
    parts: dict[int, tuple[float, float, float]] = field(default_factory=dict)


def blend_scores(dense: np.ndarray, lexical: np.ndarray, audio: np.ndarray | None,
                 rows: np.ndarray | None = None, *, blend: Blend) -> tuple[np.ndarray, np.ndarray]:
    """(total score, audio-feedback cosine) per song.

    ``audio`` holds unit vectors; song ``j`` has row ``rows[j]`` of it, or none when that is -1
    (no feedback term, not used as feedback). ``rows`` None means row ``j`` is song ``j``.
    """
    total = dense + blend.lexical * lexical
    feedback = np.zeros_like(total)
    if audio is None or audio.size == 0 or blend.audio == 0.0 or blend.feedback == 0:
        return total, feedback
    if rows is None:
        rows = np.arange(len(total))
    has = rows >= 0
    # Feedback from most of a small library would be its mean, which says nothing: at most a
    # quarter of the songs speak.
    m = min(blend.feedback, max(1, int(has.sum()) // 4))
    ranked = np.argsort(-np.where(has, total, -np.inf), kind="stable")[:m]
    top = ranked[has[ranked]]
    if top.size == 0:
        return total, feedback
    centroid = audio[rows[top]].mean(axis=0)
    centroid /= np.linalg.norm(centroid) + 1e-12
    feedback[has] = (audio @ centroid)[rows[has]]
    return total + blend.audio * feedback, feedback


def check_prompt(prompt: str) -> str:
    """The prompt, NFC-normalised and stripped; `EmptyPrompt` when no letter or digit is left."""
    text = unicodedata.normalize("NFC", prompt).strip()
    if not any(unicodedata.category(c)[0] in "LNS" for c in text):
        raise EmptyPrompt()
    return text


def search(prompt: str, *, index: TextIndex, embedder: Embedder, k: int = 10,
           audio: tuple[np.ndarray, np.ndarray] | None = None,
           blend: Blend = PLAIN) -> PromptResult:
    """The ``k`` best songs for ``prompt`` by `blend_scores`, best first.

    ``audio`` is (track ids, unit audio vectors row by row); songs missing from it get no
    feedback term.
    """
    if k < 1:
        raise TextError(f"asked for {k} results; ask for at least 1")
    text = check_prompt(prompt)
    cut = len(text) > MAX_PROMPT_CHARS
    text = text[:MAX_PROMPT_CHARS]
    truncated = cut or embedder.truncated(text)
    query = embedder.encode([text])[0]
    if blend == PLAIN:
        return PromptResult(prompt=text, hits=index.search(query, k), truncated=truncated)
    ids, dense = index.scores(query)
    lexical = index.lexical()
    lex = np.zeros_like(dense)
    if blend.lexical > 0 and lexical.ids == ids:
        lex = lexical.scores(text)
    matrix = rows = None
    if audio is not None and blend.audio > 0:
        matrix, rows = np.asarray(audio[1], np.float32), _rows(ids, audio[0])
    total, fb = blend_scores(dense, lex, matrix, rows, blend=blend)
    order = np.argsort(-total, kind="stable")[:k]
    return PromptResult(
        prompt=text, truncated=truncated,
        hits=[(ids[j], float(total[j])) for j in order],
        parts={ids[j]: (float(dense[j]), float(lex[j]), float(fb[j])) for j in order})


def _rows(ids: list[int], audio_ids: np.ndarray) -> np.ndarray:
    """For each of ``ids`` its row in ``audio_ids``, or -1."""
    a_ids = np.asarray(audio_ids, np.int64)
    if a_ids.size == 0:
        return np.full(len(ids), -1, np.int64)
    order = np.argsort(a_ids, kind="stable")
    want = np.asarray(ids, np.int64)
    pos = np.clip(np.searchsorted(a_ids[order], want), 0, a_ids.size - 1)
    return np.where(a_ids[order][pos] == want, order[pos], -1)


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
