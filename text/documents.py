"""What text describes a song: one document per track, and which of its fields a prompt hits.

A document joins the track's own words (title, artist, album, genre, tags, comment, lyrics) with
plain-English descriptors derived from its analysis (tempo class, major/minor, energy from
loudness, brightness from the spectral centroid, instrumental when there are no lyrics), so that
a library without any tags still answers "slow dark ambient". Metadata and descriptors come
first and lyrics last: the encoder keeps only the first 256 tokens, and lyrics are what may go.

Pure functions over plain values: `radio` fills a `SongFields`; nothing here reads files.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

__all__ = [
    "DOCUMENT_VERSION",
    "SongFields",
    "descriptors",
    "document",
    "document_hash",
    "matched_fields",
    "words",
]

DOCUMENT_VERSION = 3
"""Bump when `document` changes what it writes, so that indexes rebuild their documents."""

# Thresholds, chosen before looking at any search result.
SLOW_BPM = 90.0  # below: slow
FAST_BPM = 130.0  # above: fast
QUIET_LUFS = -20.0  # integrated loudness below this reads as soft / low energy
LOUD_LUFS = -12.0  # above: loud / high energy (a modern master sits around -9 to -14)
DARK_HZ = 1000.0  # mean spectral centroid below this: dark, warm tone
BRIGHT_HZ = 2200.0  # above: bright tone
SHORT_S = 60.0
LONG_S = 360.0

_TEXT_FIELDS = ("title", "artist", "album", "genre", "tags", "comment", "lyrics")
_WORD = re.compile(r"\w+", re.UNICODE)
_STOP = frozenset((
    "a", "an", "and", "any", "are", "as", "at", "be", "but", "by", "for", "from", "has", "have",
    "i", "in", "is", "it", "its", "me", "my", "of", "on", "or", "our", "so", "some", "that",
    "the", "their", "this", "to", "was", "with", "music", "song", "songs", "track", "tracks",
    "something", "like",
))


@dataclass(frozen=True)
class SongFields:
    """Everything a document is made of. Units: BPM, LUFS, Hz, seconds; None means unknown."""

    title: str
    artist: str | None = None
    album: str | None = None
    genre: str | None = None
    comment: str | None = None
    lyrics: str | None = None
    tags: tuple[str, ...] = ()
    guessed_tags: tuple[str, ...] = ()  # voted by audio neighbours for an untagged song
    tempo: float | None = None
    key: str | None = None
    mode: str | None = None  # "major" | "minor"
    lufs: float | None = None
    centroid_hz: float | None = None
    duration: float | None = None


def descriptors(fields: SongFields) -> tuple[str, ...]:
    """Plain-English phrases derived from the analysis, in a fixed order."""
    out: list[str] = []
    if not (fields.lyrics or "").strip():
        out.append("instrumental")
    if fields.tempo is not None and fields.tempo > 0:
        if fields.tempo < SLOW_BPM:
            pace = "slow tempo"
        elif fields.tempo > FAST_BPM:
            pace = "fast tempo"
        else:
            pace = "moderate tempo"
        out.append(f"{pace} ({fields.tempo:.0f} BPM)")
    if fields.mode in ("major", "minor"):
        out.append(f"{fields.key} {fields.mode} key" if fields.key else f"{fields.mode} key")
    if fields.lufs is not None:
        if fields.lufs < QUIET_LUFS:
            out.append("quiet, soft, low energy")
        elif fields.lufs > LOUD_LUFS:
            out.append("loud, high energy")
        else:
            out.append("medium energy")
    if fields.centroid_hz is not None:
        if fields.centroid_hz < DARK_HZ:
            out.append("dark, warm tone")
        elif fields.centroid_hz > BRIGHT_HZ:
            out.append("bright tone")
    if fields.duration is not None:
        if fields.duration < SHORT_S:
            out.append("short piece")
        elif fields.duration > LONG_S:
            out.append("long piece")
    return tuple(out)


def document(fields: SongFields) -> str:
    """The text the encoder embeds for one song."""
    parts = [_clean(fields.title) or "Untitled"]
    if artist := _clean(fields.artist):
        parts[0] += f" by {artist}"
    for label, value in (("Album", fields.album), ("Genre", fields.genre)):
        if text := _clean(value):
            parts.append(f"{label}: {text}")
    tags = [t for t in (_clean(t) for t in fields.tags) if t]
    if tags:
        parts.append("Tags: " + ", ".join(tags))
    guessed = [t for t in (_clean(t) for t in fields.guessed_tags) if t]
    if guessed:
        parts.append("Tags (guessed from similar-sounding songs): " + ", ".join(guessed))
    if desc := descriptors(fields):
        parts.append("Sound: " + ", ".join(desc))
    if comment := _clean(fields.comment):
        parts.append(comment)
    if lyrics := _clean(fields.lyrics):
        parts.append(f"Lyrics: {lyrics}")
    return ". ".join(p.rstrip(".") for p in parts) + "."


def document_hash(text: str) -> str:
    """A short, stable fingerprint of a document: re-embed only when it changes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def matched_fields(prompt: str, fields: SongFields) -> dict[str, tuple[str, ...]]:
    """Prompt words found in each field (``descriptors`` included), for explaining a hit.

    Matching is lexical (case-folded words, a plural ``s`` ignored, common words skipped; a
    multi-word tag only when the prompt holds all its words): this says which words a person
    would see, while the score comes from `text.search`.
    """
    wanted = set(words(prompt))
    if not wanted:
        return {}
    out: dict[str, tuple[str, ...]] = {}
    values: dict[str, str | None] = {
        name: ", ".join(fields.tags) if name == "tags" else getattr(fields, name)
        for name in _TEXT_FIELDS
    }
    values["guessed_tags"] = ", ".join(fields.guessed_tags)
    values["descriptors"] = ", ".join(descriptors(fields))
    tag_lists = {"tags": fields.tags, "guessed_tags": fields.guessed_tags}
    for name, value in values.items():
        if not value:
            continue
        if name in tag_lists:
            # A tag counts whole, as in `text.lexical`: "flare-game" needs both words.
            parts = [set(words(t)) for t in tag_lists[name]]
            hit = sorted(set().union(*(p for p in parts if p and p <= wanted)))
        else:
            hit = sorted(wanted & set(words(value)))
        if hit:
            out[name] = tuple(hit)
    return out


def _clean(value: str | None) -> str:
    return " ".join(value.split()) if value else ""


def words(text: str) -> list[str]:
    """Case-folded, stemmed words of ``text``, common words and single letters left out."""
    return [_stem(w) for w in _raw_words(text)]


def _raw_words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.casefold()) if len(w) > 1 and w not in _STOP]


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word
