"""Tags: embedded (ID3, Vorbis, MP4), lyrics sidecars, the tags.json sidecar, title defaults."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import mutagen
import pytest
from mutagen.id3 import COMM, ID3, TALB, TCON, TIT2, TPE1, USLT

from radio.tags import clean_title, header_duration, read_tags, strip_lrc
from tests.conftest import beat_track, write_audio


@pytest.fixture
def short(tmp_path: Path):
    y = beat_track(seconds=2.0, bpm=120, seed=1)

    def make(name: str) -> Path:
        return write_audio(tmp_path / name, y)

    return make


def test_id3_tags_and_lyrics_from_mp3(short) -> None:
    path = short("song.mp3")
    tags = ID3()
    tags.add(TIT2(encoding=3, text="Night Drive"))
    tags.add(TPE1(encoding=3, text=["Ana", "Bo"]))
    tags.add(TALB(encoding=3, text="Roads"))
    tags.add(TCON(encoding=3, text="(18)"))  # an ID3v1 genre number
    tags.add(COMM(encoding=3, lang="eng", desc="iTunNORM", text="0000 1111"))
    tags.add(COMM(encoding=3, lang="eng", desc="", text="recorded live"))
    tags.add(USLT(encoding=3, lang="eng", desc="", text="first line\nsecond line"))
    tags.save(path)
    t = read_tags(path)
    assert (t.title, t.artist, t.album, t.genre) == ("Night Drive", "Ana; Bo", "Roads", "Techno")
    assert t.comment == "recorded live"
    assert t.lyrics == "first line\nsecond line"
    assert t.tags == ()


def test_vorbis_comments_from_ogg_and_flac(short) -> None:
    for name in ("a.ogg", "a.flac"):
        path = short(name)
        f = mutagen.File(path)
        f["TITLE"] = "Dark Synth"
        f["Artist"] = "Cy"
        f["DESCRIPTION"] = "a comment"
        f["UNSYNCEDLYRICS"] = "oh oh"
        f.save()
        t = read_tags(path)
        assert (t.title, t.artist, t.comment, t.lyrics) == (
            "Dark Synth", "Cy", "a comment", "oh oh")


def test_mp4_atoms_from_m4a(short) -> None:
    path = short("a.m4a")
    f = mutagen.File(path)
    if f.tags is None:
        f.add_tags()
    f.tags["\xa9nam"] = ["Dawn"]
    f.tags["\xa9gen"] = ["Ambient"]
    f.tags["\xa9lyr"] = ["sun up"]
    f.save()
    t = read_tags(path)
    assert (t.title, t.genre, t.lyrics) == ("Dawn", "Ambient", "sun up")


def test_title_defaults_to_cleaned_stem(short) -> None:
    assert read_tags(short("03_-_Night_Drive.wav")).title == "Night Drive"
    assert clean_title("01. Intro") == "Intro"
    assert clean_title("07 Outro") == "Outro"
    assert clean_title("1999") == "1999"
    assert clean_title("99 Luftballons") == "99 Luftballons"
    assert clean_title("a\nb  c") == "a b c"
    assert clean_title("___") == "___"


def test_lrc_sidecar_strips_timestamps_and_beats_txt(short, tmp_path: Path) -> None:
    path = short("song.wav")
    (tmp_path / "song.txt").write_text("plain lyrics\n")
    assert read_tags(path).lyrics == "plain lyrics"
    (tmp_path / "song.lrc").write_text(
        "[ar:Ana]\n[ti:Song]\n[offset:+10]\n[00:01.00]first <00:01.50>line\n"
        "[00:05.20][01:05.20]chorus\n\n[00:09.00]last\n", encoding="utf-8")
    assert read_tags(path).lyrics == "first line\nchorus\n\nlast"
    assert strip_lrc("[00:01]x\n[length: 3:00]") == "x"


def test_tags_json_overrides_embedded_and_lyrics_sidecars(short, tmp_path: Path) -> None:
    path = short("song.ogg")
    f = mutagen.File(path)
    f["title"] = "Embedded"
    f["album"] = "Kept"
    f.save()
    (tmp_path / "song.lrc").write_text("[00:01.00]from lrc")
    (tmp_path / "song.tags.json").write_text(json.dumps({
        "title": "From Sidecar", "artist": "Dee", "lyrics": "from json",
        "tags": ["neverball-common", "chiptune", "chiptune", 7], "source": "debian",
    }))
    t = read_tags(path)
    assert (t.title, t.artist, t.album, t.lyrics) == ("From Sidecar", "Dee", "Kept", "from json")
    assert t.tags == ("neverball-common", "chiptune")


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"title": 5, "tags": "x"}'])
def test_bad_tags_json_is_ignored_with_a_warning(short, tmp_path: Path, text: str,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    path = short("-odd: näme.wav")
    (tmp_path / "-odd: näme.tags.json").write_text(text)
    with caplog.at_level(logging.WARNING, logger="radio.tags"):
        t = read_tags(path)
    assert t.title == "-odd: näme" and t.tags == ()
    assert "odd: näme.tags.json" in caplog.text


def test_garbage_file_gives_default_tags(tmp_path: Path) -> None:
    path = tmp_path / "fake.mp3"
    path.write_bytes(b"\x00garbage" * 100)
    assert read_tags(path).title == "fake"
    assert header_duration(path) is None


def test_header_duration(short) -> None:
    assert header_duration(short("a.wav")) == pytest.approx(2.0, abs=0.01)
