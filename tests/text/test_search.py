"""Prompt search and MMR: bad prompts, long and unicode prompts, diversity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.text.conftest import FakeEmbedder
from text.errors import EmptyPrompt, TextError
from text.index import TextIndex
from text.search import check_prompt, mmr, search

DOCS = {1: "calm ambient pads", 2: "fast techno drums", 3: "orchestral battle strings 🎻",
        4: "中文 歌曲 ambient"}


@pytest.fixture
def index(tmp_path: Path, fake: FakeEmbedder) -> TextIndex:
    idx = TextIndex.open(tmp_path, model=fake.name, dim=fake.dim)
    idx.sync({i: "" for i in DOCS}, DOCS.__getitem__, fake)
    return idx


@pytest.mark.parametrize("prompt", ["", "   ", "\n\t", "\u200b"])
def test_empty_prompt_is_a_clear_error(prompt: str, index: TextIndex,
                                       fake: FakeEmbedder) -> None:
    with pytest.raises(EmptyPrompt, match="prompt is empty"):
        search(prompt, index=index, embedder=fake)


def test_prompts_find_their_documents(index: TextIndex, fake: FakeEmbedder) -> None:
    assert search("techno", index=index, embedder=fake, k=1).hits[0][0] == 2
    assert search("🎻", index=index, embedder=fake, k=1).hits[0][0] == 3
    assert search("中文", index=index, embedder=fake, k=1).hits[0][0] == 4
    assert check_prompt("  cafe\u0301 ") == "café"
    with pytest.raises(TextError, match="at least 1"):
        search("techno", index=index, embedder=fake, k=0)


def test_long_prompt_works_and_says_it_was_cut(index: TextIndex, fake: FakeEmbedder) -> None:
    result = search("ambient " * 1250, index=index, embedder=fake, k=2)  # 10,000 characters
    assert result.truncated and result.hits[0][0] in (1, 4)
    assert not search("ambient", index=index, embedder=fake).truncated


def test_mmr_trades_relevance_for_variety() -> None:
    q = np.array([1.0, 0.0, 0.0])
    near = np.array([0.95, 0.31, 0.0])
    cands = np.stack([near, near, np.array([0.8, 0.0, 0.6])])
    cands /= np.linalg.norm(cands, axis=1, keepdims=True)
    assert mmr(q, cands, k=3, lam=1.0) == [0, 1, 2]
    assert mmr(q, cands, k=2, lam=0.5) == [0, 2]  # the duplicate waits
    assert mmr(q, cands[:0], k=3, lam=0.5) == []
    with pytest.raises(TextError):
        mmr(q, cands, k=2, lam=1.5)
