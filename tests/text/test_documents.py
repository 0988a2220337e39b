"""Song documents: descriptors from analysis values, field order, hashing, matched fields."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from text.documents import SongFields, descriptors, document, document_hash, matched_fields


def test_descriptors_follow_the_thresholds() -> None:
    slow = SongFields(title="x", tempo=72, key="A", mode="minor", lufs=-24, centroid_hz=800)
    assert descriptors(slow) == ("instrumental", "slow tempo (72 BPM)", "A minor key",
                                 "quiet, soft, low energy", "dark, warm tone")
    fast = SongFields(title="x", tempo=140, mode="major", lufs=-9, centroid_hz=3000,
                      lyrics="la la", duration=400)
    assert descriptors(fast) == ("fast tempo (140 BPM)", "major key", "loud, high energy",
                                 "bright tone", "long piece")
    mid = SongFields(title="x", tempo=110, lufs=-16, centroid_hz=1500, lyrics="words")
    assert descriptors(mid) == ("moderate tempo (110 BPM)", "medium energy")


def test_unknown_analysis_gives_no_made_up_descriptors() -> None:
    assert descriptors(SongFields(title="x", lyrics="sung")) == ()
    assert descriptors(SongFields(title="x", tempo=0.0, lyrics="sung")) == ()


def test_document_puts_metadata_first_and_lyrics_last() -> None:
    f = SongFields(title="Night Drive", artist="Ana", album="Roads", genre="Synthwave",
                   comment="made at 3 am", lyrics="city  lights\nfading", tags=("dark", "synth"),
                   tempo=120, mode="minor", key="E")
    doc = document(f)
    assert doc.startswith("Night Drive by Ana. Album: Roads. Genre: Synthwave. Tags: dark, synth.")
    assert "Sound: moderate tempo (120 BPM), E minor key" in doc
    assert doc.endswith("Lyrics: city lights fading.")
    assert doc.index("made at 3 am") < doc.index("Lyrics")


def test_library_without_tags_still_has_descriptors() -> None:
    doc = document(SongFields(title="track07", tempo=150, centroid_hz=2600))
    assert doc == "track07. Sound: instrumental, fast tempo (150 BPM), bright tone."


def test_hash_changes_with_the_text_only() -> None:
    a = document(SongFields(title="A", tags=("calm",)))
    assert document_hash(a) == document_hash(document(SongFields(title="A", tags=("calm",))))
    assert document_hash(a) != document_hash(document(SongFields(title="A", tags=("loud",))))


def test_matched_fields_names_fields_and_words() -> None:
    f = SongFields(title="Battle of the Kings", album="Fantasy Themes", tags=("orchestral",),
                   tempo=150)
    got = matched_fields("Orchestral fantasy battles, FAST!", f)
    assert got == {"title": ("battle",), "album": ("fantasy",), "tags": ("orchestral",),
                   "descriptors": ("fast",)}
    assert matched_fields("the a of", f) == {}
    assert matched_fields("🎻 中文", SongFields(title="中文 song")) == {"title": ("中文",)}


@given(st.text(max_size=200), st.lists(st.text(max_size=20), max_size=5),
       st.one_of(st.none(), st.floats(allow_nan=False)))
def test_any_values_give_a_document(title: str, tags: list[str], tempo: float | None) -> None:
    f = SongFields(title=title, tags=tuple(tags), tempo=tempo, lufs=tempo, centroid_hz=tempo)
    doc = document(f)
    assert doc.endswith(".") and len(document_hash(doc)) == 20
    matched_fields(title, f)


def test_a_tag_matches_whole() -> None:
    f = SongFields(title="Cave", tags=("flare-game", "orchestral"), guessed_tags=("retro",))
    assert matched_fields("an adventure game", f) == {}
    assert matched_fields("flare game, orchestral", f) == {"tags": ("flare", "game",
                                                                    "orchestral")}
    assert matched_fields("retro", f) == {"guessed_tags": ("retro",)}
