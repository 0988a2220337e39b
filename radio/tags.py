"""Descriptive text about a music file: embedded tags, then sidecar files beside it.

Sources, later ones overriding earlier ones field by field:

1. tags embedded in the file, read with mutagen (ID3 for MP3/WAV, Vorbis comments for
   Ogg/Opus/FLAC, MP4 atoms for M4A/AAC, APEv2): title, artist, album, genre, comment, lyrics
   (ID3 ``USLT``, Vorbis ``LYRICS``/``UNSYNCEDLYRICS``, MP4 ``©lyr``);
2. lyrics sidecars ``<stem>.lrc`` (timestamps and ``[ar:...]`` header lines stripped) or, when
   there is no ``.lrc``, ``<stem>.txt``;
3. ``<stem>.tags.json``: a JSON object with any of ``title``, ``artist``, ``album``, ``genre``,
   ``comment``, ``lyrics`` (strings) and ``tags`` (a list of strings). `radio.fetch` writes
   these for downloaded music. Unknown keys are ignored so that the format can grow.

A file or sidecar that cannot be parsed is logged as a warning and skipped: tags never stop a
track from being ingested. The title defaults to the file name, cleaned of track numbers and
underscores. This module reads files but never decodes audio and never touches the store.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import mutagen
from mutagen.id3 import ID3
from mutagen.mp4 import MP4Tags

from radio.records import TrackTags

__all__ = ["clean_title", "header_duration", "read_tags", "strip_lrc"]

log = logging.getLogger(__name__)

_FIELDS = ("title", "artist", "album", "genre", "comment", "lyrics")
_SIDECAR_LIMIT = 1 << 20  # bytes; a sidecar larger than this is not lyrics, it is a mistake

_ID3_FRAMES = {"title": "TIT2", "artist": "TPE1", "album": "TALB", "genre": "TCON"}
_MP4_ATOMS = {"title": "\xa9nam", "artist": "\xa9ART", "album": "\xa9alb", "genre": "\xa9gen",
              "comment": "\xa9cmt", "lyrics": "\xa9lyr"}
# Vorbis comments and APEv2 keys are case-insensitive in mutagen.
_TEXT_KEYS = {"title": ("title",), "artist": ("artist",), "album": ("album",),
              "genre": ("genre",), "comment": ("comment", "description"),
              "lyrics": ("lyrics", "unsyncedlyrics", "unsynced lyrics")}

_LRC_TIME = re.compile(r"\[\d{1,3}:\d{1,2}(?:[.:]\d{1,3})?\]|<\d{1,3}:\d{1,2}(?:[.:]\d{1,3})?>")
_LRC_HEADER = re.compile(r"^\[[A-Za-z#]+:[^\]]*\]$")
_TRACK_NUMBER = re.compile(r"^(?:\d{1,3}\s*[-.)]\s*|0\d\s+)")


def read_tags(path: Path) -> TrackTags:
    """Tags for the audio file at ``path``, from the file itself and its sidecars."""
    values: dict[str, str] = _embedded(path)
    lyrics = _sidecar_lyrics(path)
    if lyrics:
        values["lyrics"] = lyrics
    extra: tuple[str, ...] = ()
    sidecar = _sidecar_json(path)
    if sidecar is not None:
        side_values, extra = sidecar
        values.update(side_values)
    title = values.pop("title", None) or clean_title(_stem(path))
    return TrackTags(title=title, tags=extra, **{k: values.get(k) for k in _FIELDS[1:]})


def header_duration(path: Path) -> float | None:
    """Duration in seconds that the file's header claims, or None when mutagen cannot tell.

    Ingestion compares it with what actually decodes to catch truncated downloads.
    """
    try:
        info = getattr(mutagen.File(path), "info", None)
    except Exception:  # mutagen raises many kinds on hostile input; the decoder will judge
        return None
    length = getattr(info, "length", None)
    return float(length) if isinstance(length, int | float) and length > 0 else None


def clean_title(stem: str) -> str:
    """A readable title from a file name stem: ``"03_-_Night_Drive"`` -> ``"Night Drive"``."""
    text = " ".join(stem.replace("_", " ").split())
    cleaned = _TRACK_NUMBER.sub("", text).strip()
    return cleaned or text or stem


def strip_lrc(text: str) -> str:
    """Plain lyrics from LRC text: timestamps and ``[ar:...]``-style header lines removed."""
    lines = []
    for raw in text.splitlines():
        line = raw.strip()
        if _LRC_HEADER.match(line) and not _LRC_TIME.match(line):
            continue
        lines.append(" ".join(_LRC_TIME.sub(" ", line).split()))
    return "\n".join(lines).strip()


def _stem(path: Path) -> str:
    return path.name[: -len(path.suffix)] if path.suffix else path.name


def _sidecar(path: Path, suffix: str) -> Path:
    return path.with_name(_stem(path) + suffix)


def _embedded(path: Path) -> dict[str, str]:
    try:
        audio = mutagen.File(path)
    except Exception as exc:  # hostile files raise anything from struct.error to MemoryError
        log.warning("%s: cannot read embedded tags (%s)", path, exc)
        return {}
    # mutagen's tag classes are untyped; Any keeps mypy strict honest about that.
    tags: Any = getattr(audio, "tags", None)
    if tags is None:
        return {}
    if isinstance(tags, ID3):
        found = _from_id3(tags)
    elif isinstance(tags, MP4Tags):
        found = {f: _first(tags, (atom,)) for f, atom in _MP4_ATOMS.items()}
    else:  # Vorbis comments, APEv2
        found = {f: _first(tags, keys) for f, keys in _TEXT_KEYS.items()}
    return {k: v for k, v in found.items() if v}


def _from_id3(tags: Any) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for field, frame_id in _ID3_FRAMES.items():
        frames = tags.getall(frame_id)
        if frames:
            frame = frames[0]
            found[field] = _text(frame.genres if frame_id == "TCON" else frame.text)
    # iTunes keeps machine data in described comments (iTunNORM...); prefer the plain one.
    comments = sorted(tags.getall("COMM"), key=lambda c: bool(c.desc))
    if comments and not comments[0].desc:
        found["comment"] = _text(comments[0].text)
    lyrics = tags.getall("USLT")
    if lyrics:
        found["lyrics"] = _text(lyrics[0].text)
    return found


def _first(tags: Any, keys: tuple[str, ...]) -> str | None:
    for key in keys:
        try:
            value = tags[key]
        except (KeyError, ValueError, TypeError):
            continue
        text = _text(value)
        if text:
            return text
    return None


def _text(value: object) -> str | None:
    """A tag value (a string, a list of strings, an APE value...) as one clean string."""
    if value is None:
        return None
    parts = value if isinstance(value, list | tuple) else [value]
    texts = [str(p).replace("\x00", "; ").strip() for p in parts]
    joined = "; ".join(t for t in texts if t)
    return joined or None


def _read_sidecar(path: Path) -> str | None:
    try:
        with open(path, "rb") as fh:
            data = fh.read(_SIDECAR_LIMIT + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("%s: cannot read sidecar (%s)", path, exc)
        return None
    if len(data) > _SIDECAR_LIMIT:
        log.warning("%s: sidecar larger than %d bytes, ignored", path, _SIDECAR_LIMIT)
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # old LRC files; latin-1 never fails


def _sidecar_lyrics(path: Path) -> str | None:
    lrc = _read_sidecar(_sidecar(path, ".lrc"))
    if lrc is not None:
        return strip_lrc(lrc) or None
    txt = _read_sidecar(_sidecar(path, ".txt"))
    if txt is None:
        return None
    return txt.strip() or None


def _sidecar_json(path: Path) -> tuple[dict[str, str], tuple[str, ...]] | None:
    side = _sidecar(path, ".tags.json")
    text = _read_sidecar(side)
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError as exc:
        log.warning("%s: malformed JSON, ignored (%s)", side, exc)
        return None
    if not isinstance(data, dict):
        log.warning("%s: expected a JSON object, got %s; ignored", side, type(data).__name__)
        return None
    values: dict[str, str] = {}
    for field in _FIELDS:
        value = data.get(field)
        if isinstance(value, str) and value.strip():
            values[field] = value.strip()
        elif value is not None and not isinstance(value, str):
            log.warning("%s: %r should be a string; ignored", side, field)
    raw_tags = data.get("tags", [])
    if not isinstance(raw_tags, list):
        log.warning("%s: 'tags' should be a list of strings; ignored", side)
        raw_tags = []
    tags = tuple(dict.fromkeys(t.strip() for t in raw_tags if isinstance(t, str) and t.strip()))
    return values, tags
