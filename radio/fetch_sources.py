"""Which files of an unpacked package are its music, and how each is put into place.

`music_sources` lists them: each `MusicSource` is one audio file in a package's music folders
(`PackageSpec.music`), a plain file or a member of a zip ``.pk3`` archive (members with unsafe
paths are skipped). `place_source` hard-links a plain file into ``dest`` (copying across file
systems) or unpacks a zip member, and `atomic_write` gives every write a temporary name that
replaces the target only if the write succeeds. Audio outside the music folders (sound effects,
voices) is counted and reported, never placed.

Nothing here decodes audio or decides what counts as a track (length, loops, exclusions):
`radio.fetch_layout` does.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from radio.errors import FetchError
from radio.fetch_catalog import PackageSpec

__all__ = ["AUDIO_SUFFIXES", "MusicSource", "atomic_write", "music_sources", "place_source"]


AUDIO_SUFFIXES = frozenset({".ogg", ".oga", ".opus", ".mp3", ".flac", ".wav"})


@dataclass(frozen=True)
class MusicSource:
    """One audio file of a package's music folders: a plain file or a zip member."""

    rel: PurePosixPath  # path under dest/<package>/ (and under the package's root)
    path: Path  # the file, or the zip holding it
    member: str | None = None

    @property
    def label(self) -> str:
        """How reports name it: the path, or ``<zip name>/<member>``."""
        return f"{self.rel}" if self.member is None else f"{self.path.name}/{self.member}"


def music_sources(package: str, spec: PackageSpec,
                  base: Path) -> tuple[list[MusicSource], list[dict[str, str]]]:
    """Audio files in the music folders, and a note on the audio left outside them."""
    sources: list[MusicSource] = []
    skipped: list[dict[str, str]] = []
    for folder in spec.music:
        zip_part, _, inner = folder.partition(".pk3/")
        if inner:
            sources += _zip_sources(base / (zip_part + ".pk3"), inner, skipped)
            continue
        top = base / folder
        if not top.is_dir():
            raise FetchError(f"{package}: its music folder {top} is missing; the package's layout "
                             "changed, so update radio.fetch_catalog.PACKAGE_SPECS")
        for path in sorted(top.rglob("*")):
            if path.suffix.lower() not in AUDIO_SUFFIXES:
                continue
            rel = PurePosixPath(path.relative_to(base).as_posix())
            if path.is_symlink():
                skipped.append({"path": str(rel), "reason": "a link to another file"})
            elif path.is_file():
                sources.append(MusicSource(rel, path))
    if not sources:
        raise FetchError(f"{package}: no audio in {', '.join(spec.music)}; the package's layout "
                         "changed, so update radio.fetch_catalog.PACKAGE_SPECS")
    music_roots = [base / f.partition(".pk3/")[0] for f in spec.music]
    elsewhere = sum(
        1 for p in base.rglob("*")
        if p.suffix.lower() in AUDIO_SUFFIXES and not p.is_symlink()
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
