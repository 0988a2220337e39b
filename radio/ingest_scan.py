"""Finding the audio files under ingestion's roots, and fingerprinting their bytes.

`scan` walks the given roots (files or folders) for audio files, by suffix in any case, and
survives symlink loops, unreadable folders and odd names: every problem comes out as a
``(path, reason, detail)`` failure rather than an exception, so ingestion can record it and go
on. Running as root, permission bits do not stop reads, so "unreadable" is what ``stat``/``open``
refuse: dangling symlinks, symlink loops, unlistable folders. `hash_file` gives the content hash
(xxh3-128) that names a track's features file and tells moves and duplicates apart.

It only stats, lists and reads bytes: it never decodes audio, never decides what changed (that
is `radio.ingest`) and never touches the store.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import xxhash

__all__ = ["AUDIO_SUFFIXES", "Found", "hash_file", "scan"]

AUDIO_SUFFIXES = frozenset({".mp3", ".ogg", ".opus", ".flac", ".wav", ".m4a", ".aac"})


@dataclass(frozen=True)
class Found:
    """One audio file that `scan` found, with its stat: what incremental ingestion compares."""

    path: str
    size: int
    mtime: float


def hash_file(path: str | Path) -> str:
    """xxh3-128 of the file's bytes, as 32 hex digits."""
    h = xxhash.xxh3_128()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def scan(roots: Sequence[str]) -> Iterator[Found | tuple[str, str, str]]:
    """Audio files under ``roots`` (files or folders), and (path, reason, detail) failures.

    Folders are entered once each, by (device, inode), so symlink loops end; a file reached
    twice (a symlink or hard link to one already seen) is yielded once. Only folders and
    audio-named entries are stat'ed: cover art and the like cost nothing.
    """
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[tuple[int, int]] = set()
    stack = list(reversed(roots))
    while stack:
        path = stack.pop()
        is_root = path in roots
        try:
            st = os.stat(path)
        except OSError as exc:  # dangling symlink, symlink loop, no permission
            yield path, "unreadable", exc.strerror or str(exc)
            continue
        if stat.S_ISDIR(st.st_mode):
            if (st.st_dev, st.st_ino) in seen_dirs:
                continue
            seen_dirs.add((st.st_dev, st.st_ino))
            if _is_audio(path) and not is_root:
                yield path, "not-a-file", "a folder with an audio file's name"
            try:
                stack.extend(reversed(_children(path)))
            except OSError as exc:
                yield path, "unreadable", f"cannot list folder: {exc.strerror or exc}"
        elif not _utf8(path):
            shown = path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            yield shown, "bad-filename", "the name is not valid UTF-8; rename the file"
        elif not stat.S_ISREG(st.st_mode):
            yield path, "not-a-file", "not a regular file (a pipe, socket or device)"
        elif (st.st_dev, st.st_ino) not in seen_files:
            seen_files.add((st.st_dev, st.st_ino))
            yield Found(path, st.st_size, st.st_mtime)


def _children(folder: str) -> list[str]:
    """Sub-folders and audio-named entries of ``folder``, sorted by name."""
    out = []
    with os.scandir(folder) as entries:
        for entry in entries:
            try:
                wanted = _is_audio(entry.name) or entry.is_dir()
            except OSError:
                wanted = False
            if wanted:
                out.append(entry.path)
    return sorted(out)


def _is_audio(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in AUDIO_SUFFIXES


def _utf8(path: str) -> bool:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
