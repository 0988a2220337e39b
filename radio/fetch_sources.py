"""Which files of an unpacked package are its music, and how each is put into place.

`music_sources` lists them: each `MusicSource` is one audio file in a package's music folders
(`PackageSpec.music`), a plain file or a member of a zip ``.pk3`` archive (members with unsafe
paths are skipped). `place_source` hard-links a plain file into ``dest`` (copying across file
systems) or unpacks a zip member, and `atomic_write` gives every write a temporary name that
replaces the target only if the write succeeds. Audio outside the music folders (sound effects,
voices) is counted and reported, never placed.

Nothing here decodes audio or decides what counts as a track (length, loops, exclusions):
`radio.fetch_layout` does.

General MIDI packages (`PackageSpec.midi`) list MIDI files instead of audio: plain ``.mid``
files, or the music lumps of a Doom ``.wad`` named as a music folder (`wad_music`; a lump whose
bytes repeat an earlier one, as Freedoom's two WADs share tunes, is listed once). Their bytes
come from `source_bytes`; `radio.fetch_midi` renders them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import struct
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from radio.errors import FetchError
from radio.fetch_catalog import PackageSpec

__all__ = ["AUDIO_SUFFIXES", "MIDI_SUFFIXES", "MusicSource", "WadLump", "atomic_write",
           "music_sources", "place_source", "source_bytes", "wad_music"]


AUDIO_SUFFIXES = frozenset({".ogg", ".oga", ".opus", ".mp3", ".flac", ".wav"})
MIDI_SUFFIXES = frozenset({".mid", ".midi"})


@dataclass(frozen=True)
class MusicSource:
    """One file of a package's music folders: a plain file, a zip member or a WAD lump."""

    rel: PurePosixPath  # path under dest/<package>/ (and under the package's root)
    path: Path  # the file, or the zip or WAD holding it
    member: str | None = None
    span: tuple[int, int] | None = None  # a WAD lump's (offset, size) in ``path``

    @property
    def label(self) -> str:
        """How reports name it: the path, or ``<zip name>/<member>``."""
        return f"{self.rel}" if self.member is None else f"{self.path.name}/{self.member}"


def music_sources(package: str, spec: PackageSpec,
                  base: Path) -> tuple[list[MusicSource], list[dict[str, str]]]:
    """Music files in the music folders, and a note on the audio left outside them."""
    suffixes = MIDI_SUFFIXES if spec.midi else AUDIO_SUFFIXES
    sources: list[MusicSource] = []
    skipped: list[dict[str, str]] = []
    seen: dict[str, str] = {}  # WAD lump digest -> the label of its first copy
    for folder in spec.music:
        zip_part, _, inner = folder.partition(".pk3/")
        if inner:
            sources += _zip_sources(base / (zip_part + ".pk3"), inner, skipped)
            continue
        if spec.midi and folder.endswith(".wad"):
            sources += _wad_sources(base / folder, seen, skipped)
            continue
        top = base / folder
        if not top.is_dir():
            raise FetchError(f"{package}: its music folder {top} is missing; the package's layout "
                             "changed, so update radio.fetch_catalog.PACKAGE_SPECS")
        for path in sorted(top.rglob("*")):
            if path.suffix.lower() not in suffixes:
                continue
            rel = PurePosixPath(path.relative_to(base).as_posix())
            if path.is_symlink():
                skipped.append({"path": str(rel), "reason": "a link to another file"})
            elif path.is_file():
                sources.append(MusicSource(rel, path))
    if not sources:
        raise FetchError(f"{package}: no music in {', '.join(spec.music)}; the package's layout "
                         "changed, so update radio.fetch_catalog.PACKAGE_SPECS")
    music_roots = [base / f.partition(".pk3/")[0] for f in spec.music]
    elsewhere = sum(
        1 for p in base.rglob("*")
        if p.suffix.lower() in suffixes and not p.is_symlink()
        and not any(p.is_relative_to(m) for m in music_roots)
    )
    if elsewhere:
        plural = "s" * (elsewhere != 1)
        skipped.append({"path": f"{elsewhere} audio file{plural} outside {', '.join(spec.music)}",
                        "reason": "sound effects and voices, not music"})
    return sources, skipped


def _zip_sources(archive: Path, inner: str, skipped: list[dict[str, str]]) -> list[MusicSource]:
    if not archive.is_file():
        raise FetchError(f"{archive} is missing; the package's layout changed, so update "
                         "radio.fetch_catalog.PACKAGE_SPECS")
    try:
        with zipfile.ZipFile(archive) as zf:
            names = [i.filename for i in zf.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError) as exc:
        raise FetchError(f"{archive} is not a readable zip ({exc}); delete the cache and fetch "
                         "again") from exc
    out = []
    for name in sorted(names):
        rel = PurePosixPath(name)
        if rel.suffix.lower() not in AUDIO_SUFFIXES:
            continue
        if rel.is_absolute() or ".." in rel.parts or "\\" in name:
            skipped.append({"path": f"{archive.name}/{name}", "reason": "unsafe path in the zip"})
        elif name.startswith(inner.rstrip("/") + "/"):
            out.append(MusicSource(rel, archive, name))
        else:
            skipped.append({"path": f"{archive.name}/{name}",
                            "reason": "outside the zip's music folder"})
    return out


@dataclass(frozen=True)
class WadLump:
    """One MIDI lump of a WAD: its name (``D_RUNNIN``) and where its bytes sit."""

    name: str
    offset: int
    size: int


def wad_music(wad: Path) -> list[WadLump]:
    """The MIDI lumps of a Doom WAD, in directory order.

    Raises
    ------
    FetchError
        the file is not a WAD (no ``IWAD``/``PWAD`` header) or its directory runs past its end.
    """
    try:
        with open(wad, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] not in (b"IWAD", b"PWAD"):
                raise FetchError(f"{wad} is not a Doom WAD (no IWAD/PWAD header)")
            count, table = struct.unpack("<ii", head[4:])
            size = wad.stat().st_size
            if count < 0 or table < 12 or table + 16 * count > size:
                raise FetchError(f"{wad}: its lump directory runs past the end of the file")
            f.seek(table)
            directory = f.read(16 * count)
            lumps = []
            for k in range(count):
                offset, length, raw = struct.unpack("<ii8s", directory[16 * k: 16 * k + 16])
                if length < 14 or offset < 12 or offset + length > size:
                    continue  # markers (F_START...) and broken entries hold no music
                f.seek(offset)
                if f.read(4) == b"MThd":
                    name = raw.split(b"\0", 1)[0].decode("latin-1")
                    lumps.append(WadLump(re.sub(r"[^A-Za-z0-9_-]", "_", name), offset, length))
    except OSError as exc:
        raise FetchError(f"{wad} cannot be read ({exc})") from exc
    return lumps


def _wad_sources(wad: Path, seen: dict[str, str],
                 skipped: list[dict[str, str]]) -> list[MusicSource]:
    if not wad.is_file():
        raise FetchError(f"{wad} is missing; the package's layout changed, so update "
                         "radio.fetch_catalog.PACKAGE_SPECS")
    out = []
    for lump in wad_music(wad):
        src = MusicSource(PurePosixPath(wad.stem, f"{lump.name}.mid"), wad, lump.name,
                          (lump.offset, lump.size))
        digest = hashlib.sha256(source_bytes(src)).hexdigest()
        if digest in seen:
            skipped.append({"path": src.label, "reason": f"the same music as {seen[digest]}"})
        else:
            seen[digest] = src.label
            out.append(src)
    return out


def source_bytes(src: MusicSource) -> bytes:
    """The bytes of a source: the file, the zip member or the WAD lump."""
    if src.span is not None:
        with open(src.path, "rb") as f:
            f.seek(src.span[0])
            return f.read(src.span[1])
    if src.member is not None:
        with zipfile.ZipFile(src.path) as zf:
            return zf.read(src.member)
    return src.path.read_bytes()


def place_source(src: MusicSource, target: Path) -> None:
    """Hard-link (or copy) a plain file, or unpack a zip member, unless already there."""
    if src.member is not None:
        with zipfile.ZipFile(src.path) as zf:
            info = zf.getinfo(src.member)
            if target.is_file() and target.stat().st_size == info.file_size:
                return
            with zf.open(info) as fin, atomic_write(target) as tmp, open(tmp, "wb") as fout:
                shutil.copyfileobj(fin, fout, 1 << 20)
        return
    if target.is_file() and os.path.samefile(src.path, target):
        return
    with atomic_write(target) as tmp:
        try:
            os.link(src.path, tmp)
        except OSError:  # another file system: copy instead
            shutil.copyfile(src.path, tmp)


@contextlib.contextmanager
def atomic_write(target: Path) -> Iterator[Path]:
    """A temporary name beside ``target`` that replaces it only if the block succeeds."""
    tmp = target.with_name(f".{target.name}.part")
    tmp.unlink(missing_ok=True)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
