"""radio compare: per-facet scores with known answers, the CLI, unknown tracks."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from radio.cli import cli
from radio.compare import compare_tracks, harmony_score, loudness_score, rhythm_score
from radio.config import Settings
from radio.errors import NotFound
from tests.radio.search_library import build


@pytest.fixture
def library(settings: Settings) -> Settings:
    build(settings)
    return settings


def test_facet_formulas() -> None:
    assert rhythm_score(120, 120) == 1.0
    assert rhythm_score(140, 70) == pytest.approx(1.0)  # one groove, an octave apart
    assert rhythm_score(120, 126) == pytest.approx(math.exp(-((math.log2(1.05) / 0.1) ** 2)))
    assert rhythm_score(0, 120) is None
    assert harmony_score("8A", "8A", 1.0) == 1.0
    assert harmony_score("8A", "9A", None) == 0.75
    assert harmony_score("8A", "2A", None) == 0.0  # six steps: nothing in common
    assert harmony_score("", "", 0.5) == 0.5 and harmony_score("", "8A", None) is None
    assert loudness_score(-10, -10, None, None) == 1.0
    assert loudness_score(-10, -16, 5.0, 5.0) == pytest.approx(math.exp(-1))


def test_alike_songs_score_higher_on_every_audio_facet(library: Settings) -> None:
    near = compare_tracks(library, "Neon Grid", "Circuit Rain")
    far = compare_tracks(library, "Neon Grid", "Glass Dunes")
    slower = compare_tracks(library, "Neon Grid", "Battle Hymn")  # 140 vs 100 BPM
    for name, other in (("timbre", far), ("harmony", far), ("loudness", far),
                        ("rhythm", slower)):
        a = next(f for f in near.facets if f.name == name)
        b = next(f for f in other.facets if f.name == name)
        assert a.score is not None and b.score is not None and 0 <= b.score < a.score <= 1
    octave = next(f for f in far.facets if f.name == "rhythm")
    assert octave.score == pytest.approx(1.0)  # 70 BPM is 140 at half time
    text = next(f for f in near.facets if f.name == "text")
    assert text.score is None and text.values["shared_tags"] == ["electronic"]
    assert near.overall is not None and far.overall is not None and near.overall > far.overall
    rhythm = next(f for f in near.facets if f.name == "rhythm")
    assert rhythm.values["tempo_bpm"] == [140.0, 135.0]


def test_cli_compare(library: Settings) -> None:
    runner = CliRunner()
    out = runner.invoke(cli, ["compare", "Neon", "Circuit", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert set(data["facets"]) == {"timbre", "harmony", "rhythm", "loudness", "text"}
    assert data["facets"]["harmony"]["values"]["camelot"] == ["8A", "9A"]
    table = runner.invoke(cli, ["compare", "1", "3"])
    assert table.exit_code == 0 and "timbre" in table.stdout
    missing = runner.invoke(cli, ["compare", "1", "999"])
    assert missing.exit_code == 1 and "no track" in missing.output
    with pytest.raises(NotFound):
        compare_tracks(library, "🎧", "1")
