"""Tag votes for untagged songs: the pure vote, both neighbour sources, storage, radio show."""

from __future__ import annotations

import json
import sqlite3
from typing import Any, cast

import pytest
from click.testing import CliRunner

import radio.tagvote
from radio.cli import cli
from radio.config import Settings
from radio.errors import RadioError
from radio.search import update_text_index
from radio.store import Store
from radio.tagvote import compute_votes, tag_votes, update_tag_votes, vote
from tests.radio.search_library import LIBRARY, build, build_cue_index
from tests.text.conftest import FakeEmbedder

STYLE_AXIS = {"Neon Grid": 0, "Circuit Rain": 0, "track05": 0, "Glass Dunes": 1,
              "Battle Hymn": 2}


@pytest.fixture
def library(settings: Settings) -> Settings:
    build(settings)
    return settings


def test_vote_is_a_weighted_majority() -> None:
    labels = {1: ("electronic", "techno"), 2: ("electronic",), 3: ("ambient",), 4: ()}
    tags, shares, per_song = vote([(1, 0.9), (2, 0.8), (3, 0.5), (4, 0.99), (1, -0.3)], labels)
    assert tags == ("electronic",)  # 1.7 of 2.2; techno 0.9 / 2.2 falls short
    assert shares["electronic"] == pytest.approx(1.7 / 2.2)
    assert shares["techno"] == pytest.approx(0.9 / 2.2)
    assert per_song == {1: (0.9, 1), 2: (0.8, 1), 3: (0.5, 1)}  # 4 has no labels: no vote
    assert vote([], labels) == ((), {}, {})
    assert vote([(1, 0.4), (3, 0.4)], labels, min_share=0.6)[0] == ()  # a tie adopts nothing


def test_untagged_song_gets_its_cue_neighbours_tags(library: Settings) -> None:
    build_cue_index(library, STYLE_AXIS)
    votes = update_tag_votes(library)
    with Store(library) as store:
        untagged = store.find_track("track05").id
    assert list(votes) == [untagged]
    v = votes[untagged]
    assert v.method == "cues" and v.tags == ("electronic",)
    assert {n.title for n in v.neighbours[:2]} == {"Neon Grid", "Circuit Rain"}
    assert v.neighbours[0].weight > 10 * v.neighbours[-1].weight  # the rest barely count
    assert all(n.matches >= 1 and n.weight > 0 for n in v.neighbours)
    assert "electronic" in v.explain() and "Neon Grid" in v.explain()
    assert tag_votes(library)[untagged] == v  # stored and read back


def test_votes_are_not_redone_until_the_library_changes(
        library: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = radio.tagvote.compute_votes

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(radio.tagvote, "compute_votes", counted)
    update_tag_votes(library)
    update_tag_votes(library)
    assert len(calls) == 1
    build(library, [("New Song", ("ambient",), 80.0, -20.0, "3B",
                     (1000.0, -25.0, 0.06, 3.0, 0.2, 0.8))])
    update_tag_votes(library)
    assert len(calls) == 2


def test_a_failed_recompute_keeps_the_old_votes(
        library: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Votes are replaced in one transaction: a failure after the old rows were deleted rolls
    the deletion back, so readers never see an empty or half-written table."""
    old = update_tag_votes(library)
    assert len(old) == 1
    # A column the rows do not have: the insert fails after the DELETE ran.
    monkeypatch.setattr(radio.tagvote, "_COLUMNS", (*radio.tagvote._COLUMNS, "bogus"))
    with pytest.raises(KeyError, match="bogus"):
        update_tag_votes(library, force=True)
    assert tag_votes(library) == old
    monkeypatch.undo()
    assert update_tag_votes(library, force=True) == old


def test_an_update_opens_the_library_once(library: Settings,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The votes' table is written on the store's connection, not on a second one."""
    opened: list[str] = []
    real = sqlite3.connect

    def connect(path: Any, *args: Any, **kw: Any) -> sqlite3.Connection:
        opened.append(str(path))
        return cast(sqlite3.Connection, real(path, *args, **kw))

    monkeypatch.setattr(sqlite3, "connect", connect)
    assert len(update_tag_votes(library, force=True)) == 1
    assert opened == [str(library.db_path)]
    opened.clear()
    assert len(update_tag_votes(library)) == 1  # up to date: read back, still one connection
    assert opened == [str(library.db_path)]


def test_without_cues_songs_vote_by_summary(library: Settings) -> None:
    votes = update_tag_votes(library)
    (v,) = votes.values()
    assert v.method == "songs" and v.tags[:1] == ("electronic",)


def test_a_library_without_any_tags_votes_nothing(settings: Settings) -> None:
    build(settings, [(title, (), *rest) for title, _, *rest in LIBRARY])
    votes = update_tag_votes(settings)
    assert len(votes) == 5
    assert all(v.tags == () and v.explain() == "no tagged neighbours voted"
               for v in votes.values())
    with Store(settings) as store, pytest.raises(RadioError, match="at least one"):
        compute_votes(settings, store, k=0)


def test_guessed_tags_reach_the_document_and_radio_show(library: Settings) -> None:
    build_cue_index(library, STYLE_AXIS)
    fake = FakeEmbedder()
    index, _ = update_text_index(library, embedder=fake)
    with Store(library) as store:
        untagged = store.find_track("track05").id
    assert "electronic" in index.lexical().prompt_terms("electronic")
    assert index.lexical().scores("electronic")[index.ids.index(untagged)] > 0
    shown = CliRunner().invoke(cli, ["show", "track05"])
    assert shown.exit_code == 0 and "guessed electronic" in shown.stdout
    data = json.loads(CliRunner().invoke(cli, ["show", "track05", "--json"]).stdout)
    voted = data["voted"]  # the same evidence, for scripts
    assert voted["tags"] == ["electronic"] and voted["method"] == "cues"
    assert {n["title"] for n in voted["neighbours"][:2]} == {"Neon Grid", "Circuit Rain"}
    assert voted["shares"]["electronic"] > 0.5
    tagged = json.loads(CliRunner().invoke(cli, ["show", "Neon Grid", "--json"]).stdout)
    assert tagged["voted"] is None  # a song with its own tags was not voted on
    listed = CliRunner().invoke(cli, ["tag-votes", "--json"])
    assert json.loads(listed.stdout)["votes"][0]["tags"] == ["electronic"]
