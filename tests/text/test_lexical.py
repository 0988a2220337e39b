"""Exact-word evidence and the blended score: known answers on tiny inputs."""

from __future__ import annotations

import numpy as np
import pytest

from text.documents import SongFields
from text.errors import TextError
from text.lexical import LexicalIndex, song_terms
from text.search import Blend, blend_scores


def test_song_terms_keep_tags_whole_and_skip_descriptors() -> None:
    f = SongFields(title="Cave Theme", album="Flare", tags=("flare-game", "Orchestral"),
                   tempo=150, lyrics="never counted")
    assert song_terms(f) == ("cave", "flare", "flare_game", "orchestral", "theme")
    guessed = SongFields(title="x1", guessed_tags=("retro",))
    assert song_terms(guessed) == ("retro", "x1")


def test_a_package_tag_needs_all_its_words() -> None:
    lex = LexicalIndex({1: ("flare_game", "cave"), 2: ("retro",), 3: ("retro", "cave")})
    assert lex.prompt_terms("retro adventure game tune") == {"retro"}
    assert lex.prompt_terms("the Flare game soundtrack") == {"flare_game"}
    scores = lex.scores("retro cave music")
    # idf: retro and cave are each held by 2 of 3 songs, so each is half the prompt's weight.
    assert np.allclose(scores, [0.5, 0.5, 1.0])
    assert not lex.scores("words nobody has").any()
    assert not LexicalIndex({}).scores("retro").size


def test_blend_adds_words_and_audio_feedback() -> None:
    dense = np.array([0.50, 0.45, 0.40, 0.30, 0.10, 0.05, 0.0, 0.0])
    lexical = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0])
    audio = np.zeros((8, 2), np.float32)
    audio[[0, 1, 7]] = [1.0, 0.0]  # song 7 sounds like the two best text matches
    audio[[2, 3, 4, 5, 6]] = [0.0, 1.0]
    total, fb = blend_scores(dense, lexical, audio, blend=Blend(lexical=0.2, audio=0.2,
                                                                feedback=2))
    assert np.isclose(total[6], 0.2)  # the exact word
    assert fb[7] == pytest.approx(1.0) and fb[2] == pytest.approx(0.0)
    assert total[7] > total[4]  # pulled up by its sound
    plain, none = blend_scores(dense, lexical, None, blend=Blend(lexical=0.0))
    assert np.array_equal(plain, dense) and not none.any()
    rows = np.array([0, 1, -1, -1, -1, -1, -1, 2])  # only three songs have audio
    _, fb2 = blend_scores(dense, lexical, audio[[0, 1, 7]], rows, blend=Blend(feedback=4))
    assert fb2[2] == 0.0 and fb2[7] == pytest.approx(1.0)
    with pytest.raises(TextError):
        Blend(lexical=-1.0)
