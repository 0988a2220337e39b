"""Prompt search and audio similarity over a tmp library, with a fake encoder (no model load)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import radio.search
from radio.analysis import ANALYSIS_VERSION, Analysis
from radio.cli import cli
from radio.config import Settings
from radio.errors import NotFound, RadioError
from radio.records import TrackTags
from radio.search import audio_vectors, search_prompt, similar_tracks
from radio.store import Store
from tests.text.conftest import FakeEmbedder
from text.documents import SongFields
from text.index import INDEX_FILE

NAMES = ("centroid_mean", "rms_db_mean", "flatness_mean")


def _analysis(*, tempo: float, lufs: float, summary: tuple[float, ...]) -> Analysis:
    beats = np.arange(0.0, 30.0, 60.0 / tempo)
    return Analysis(
        version=ANALYSIS_VERSION, duration=30.0, audible_start=0.0, audible_end=30.0,
        tempo=tempo, tempo_confidence=0.9, beats=beats, downbeats=beats[::4], key="A",
        mode="minor", key_confidence=0.7, camelot="8A", lufs=lufs,
        loudness_curve=np.full(10, lufs, np.float32), loudness_hop=3.0,
        summary=np.asarray(summary, np.float32), summary_names=NAMES,
    )


LIBRARY = [  # title, tags, tempo, lufs, (centroid Hz, rms dB, flatness)
    ("Neon Grid", ("electronic", "techno"), 140.0, -9.0, (2600.0, -12.0, 0.30)),
    ("Circuit Rain", ("electronic",), 135.0, -10.0, (2500.0, -13.0, 0.28)),
    ("Glass Dunes", ("ambient",), 70.0, -24.0, (900.0, -30.0, 0.05)),
    ("Battle Hymn", ("orchestral", "fantasy"), 100.0, -18.0, (1400.0, -20.0, 0.10)),
    ("track05", (), 150.0, -8.0, (2550.0, -11.0, 0.31)),
]


@pytest.fixture
def library(settings: Settings) -> Settings:
    with Store(settings) as store:
        for i, (title, tags, tempo, lufs, summary) in enumerate(LIBRARY):
            store.save_track(path=f"/m/{i}.ogg", content_hash=f"{i:032x}", size=1, mtime=1.0,
                             tags=TrackTags(title=title, tags=tags),
                             analysis=_analysis(tempo=tempo, lufs=lufs, summary=summary))
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
    def untagged(track, features):  # type: ignore[no-untyped-def]
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
