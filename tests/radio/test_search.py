"""Prompt search and audio similarity over a tmp library, with a fake encoder (no model load)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import radio.search
from radio.cli import cli
from radio.config import Settings
from radio.errors import NotFound, RadioError
from radio.records import Features, Track, TrackTags
from radio.search import audio_vectors, search_prompt, similar_tracks
from radio.store import Store
from tests.radio.search_library import analysis, build
from tests.text.conftest import FakeEmbedder
from text.documents import SongFields
from text.index import INDEX_FILE


@pytest.fixture
def library(settings: Settings) -> Settings:
    build(settings)
    return settings


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeEmbedder:
    embedder = FakeEmbedder()
    monkeypatch.setattr(radio.search, "default_embedder", lambda: embedder)
    return embedder


def test_search_ranks_and_explains(library: Settings, fake: FakeEmbedder) -> None:
    result = search_prompt(library, "ambient", n=3)
    top = result.hits[0]
    assert top.track.title == "Glass Dunes" and top.matched == {"tags": ("ambient",)}
    assert result.index.added == 5 and (library.indexes_dir / INDEX_FILE).is_file()
    assert search_prompt(library, "techno", n=2).index.embedded == 0  # nothing changed


def test_untagged_library_searches_on_descriptors(library: Settings, fake: FakeEmbedder,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    def untagged(track: Track, features: Features | None) -> SongFields:
        f = radio.search.song_fields(track, features)
        return SongFields(**{**f.__dict__, "tags": ()})

    index, _ = radio.search.update_text_index(library, embedder=fake, fields=untagged)
    q = fake.encode(["bright tone fast tempo loud high energy"])[0]
    top3 = {i for i, _ in index.search(q, 3)}
    assert top3 == {1, 2, 5}  # the three fast, loud, bright tracks


def test_bad_prompts(library: Settings, fake: FakeEmbedder) -> None:
    with pytest.raises(RadioError, match="prompt is empty"):
        search_prompt(library, "  ")
    long = search_prompt(library, "calm " * 2000, n=2)  # 10,000 characters
    assert long.truncated and len(long.hits) == 2
    assert search_prompt(library, "🎧 électronique ✨", n=1).hits


def test_similar_by_sound(library: Settings) -> None:
    result = similar_tracks(library, "Neon Grid", n=2)
    alike = {"track05", "Circuit Rain"}  # the other two fast, loud, bright tracks
    assert {t.title for t, _ in result.hits} == alike
    assert result.hits[0][1] >= result.hits[1][1]
    diverse = similar_tracks(library, "1", n=2, diverse=0.3)
    assert diverse.hits[0][0] == result.hits[0][0]
    assert diverse.hits[1][0].title not in alike  # the near-duplicate gives way
    with pytest.raises(NotFound):
        similar_tracks(library, "999")
    with pytest.raises(RadioError, match=r"outside 0\.\.1"):
        similar_tracks(library, "1", diverse=2.0)


def test_audio_vectors_are_standardised_unit_rows(library: Settings) -> None:
    with Store(library) as store:
        tracks, vecs = audio_vectors(store, store.tracks())
    assert len(tracks) == 5 and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)


def test_cli_search_and_similar(library: Settings, fake: FakeEmbedder) -> None:
    runner = CliRunner()
    out = runner.invoke(cli, ["search", "orchestral fantasy", "-n", "2", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["results"][0]["title"] == "Battle Hymn"
    assert data["results"][0]["matched"] == {"tags": ["fantasy", "orchestral"]}
    table = runner.invoke(cli, ["search", "techno"])
    assert table.exit_code == 0 and "Neon Grid" in table.stdout
    empty = runner.invoke(cli, ["search", ""])
    assert empty.exit_code == 1 and "prompt is empty" in empty.output
    long = runner.invoke(cli, ["search", "calm " * 2000, "-n", "1"])
    assert long.exit_code == 0 and "only its start was used" in long.stderr
    sim = runner.invoke(cli, ["similar", "Neon", "--diverse", "0.7", "--json"])
    assert sim.exit_code == 0 and json.loads(sim.stdout)["seed"]["title"] == "Neon Grid"
    missing = runner.invoke(cli, ["similar", "999"])
    assert missing.exit_code == 1 and "no track" in missing.output


def test_similar_uses_cue_embeddings_when_the_library_has_them(library: Settings) -> None:
    from tests.radio.search_library import build_cue_index

    # The cue vectors say Battle Hymn sounds like Neon Grid; the summaries disagree.
    build_cue_index(library, {"Neon Grid": 0, "Battle Hymn": 0, "Circuit Rain": 1,
                              "track05": 2, "Glass Dunes": 3})
    result = similar_tracks(library, "Neon Grid", n=4)
    assert result.kind == "both"
    assert similar_tracks(library, "Neon Grid", n=1, kind="tower").hits[0][0].title == \
        "Battle Hymn"
    summary_only = similar_tracks(library, "Neon Grid", n=4, kind="summary")
    assert summary_only.kind == "summary"
    score = {t.title: s for t, s in result.hits}
    assert score["Battle Hymn"] > dict((t.title, s) for t, s in summary_only.hits)["Battle Hymn"]
    assert (library.indexes_dir / "songs.faiss").is_file()


def test_spread_albums_keeps_rank_order_otherwise() -> None:
    from radio.search import spread_albums

    assert spread_albums(["A", "A", "B", "B", None, "A"]) == [0, 2, 1, 3, 4, 5]
    assert spread_albums(["A", "A"]) == [0, 1]  # nothing else left: the best one follows
    assert spread_albums([]) == []


def test_a_library_without_tags_still_searches(settings: Settings,
                                               fake: FakeEmbedder) -> None:
    from tests.radio.search_library import LIBRARY

    build(settings, [(title, (), *rest) for title, _, *rest in LIBRARY])
    result = search_prompt(settings, "fast tempo bright tone", n=5)
    assert len(result.hits) == 5
    assert result.hits[0].track.title in {"Neon Grid", "Circuit Rain", "track05"}
    assert all(h.matched.get("descriptors") for h in result.hits[:3])


def test_repeated_searches_reuse_the_indexes_until_the_library_changes(
        library: Settings, fake: FakeEmbedder, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.radio.search_library import LIBRARY

    calls: list[int] = []
    real = radio.search.update_text_index

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(radio.search, "update_text_index", counted)
    search_prompt(library, "ambient")
    search_prompt(library, "techno")
    assert len(calls) == 1
    _, _, tempo, lufs, camelot, summary = LIBRARY[2]
    with Store(library) as store:  # a new song
        store.save_track(path="/m/new.ogg", content_hash="f" * 32, size=1, mtime=1.0,
                         tags=TrackTags(title="Glass Dunes II", tags=("ambient",)),
                         analysis=analysis(tempo=tempo, lufs=lufs, camelot=camelot,
                                           summary=summary))
    assert search_prompt(library, "Glass Dunes II", n=1).hits[0].track.title == "Glass Dunes II"
    assert len(calls) == 2


def test_audio_vectors_auto_reads_the_song_index(library: Settings) -> None:
    with Store(library) as store:
        tracks = store.tracks()
        _, plain = audio_vectors(store, tracks)
        auto_tracks, auto = audio_vectors(store, tracks[::-1], settings=library, kind="auto")
    assert [t.id for t in auto_tracks] == [t.id for t in tracks[::-1]]
    assert np.allclose(auto[::-1], plain, atol=1e-5)  # no cue index: the summaries, in order
    assert (library.indexes_dir / "songs.faiss").is_file()
