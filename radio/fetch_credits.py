"""What a package says about its music: titles, artists and licences.

`package_metadata` reads the per-track facts a package states (warzone2100-style
``album.json``, hedgewars-style ``credits.txt``); `sidecar_tags` turns them, with the album, the
package and its style, into one track's ``.tags.json`` object (titled from the file name when
nothing names the track). `write_licences` copies the package's copyright file, and licence
files beside its music, into ``dest/LICENSES`` and matches each track to its DEP-5 licence.

This module reads text files and tags; it never places, cuts or decodes audio.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
from pathlib import Path, PurePosixPath
from typing import Any

import mutagen

from radio.errors import FetchError
from radio.fetch_catalog import STYLES, PackageSpec
from radio.fetch_sources import MusicSource

__all__ = ["copy_copyright", "package_metadata", "sidecar_tags", "write_licences"]


def package_metadata(spec: PackageSpec, base: Path) -> dict[str, dict[str, str]]:
    """Per-track title/artist/comment that the package states, keyed by path under ``base``.

    Sources: warzone2100-style ``album.json`` (album title, tracks with title and author) and
    hedgewars-style ``credits.txt`` lines ``File.ogg=Artist``.
    """
    out: dict[str, dict[str, str]] = {}
    for folder in spec.music:
        top = base / folder
        if not top.is_dir():
            continue
        for album in sorted(top.rglob("album.json")):
            try:
                data = json.loads(album.read_text("utf-8"))
            except (OSError, ValueError):
                continue
            note = ": ".join(str(data[k]) for k in ("title", "description") if data.get(k))
            where = album.parent.relative_to(base)
            for track in data.get("tracks", []):
                if not isinstance(track, dict) or "filename" not in track:
                    continue
                meta = {"title": track.get("title"), "artist": track.get("author"),
                        "comment": note}
                out[(where / track["filename"]).as_posix()] = {
                    k: str(v) for k, v in meta.items() if v}
        for credits in sorted(top.rglob("credits.txt")):
            where = credits.parent.relative_to(base)
            for line in credits.read_text("utf-8", "replace").splitlines():
                name, eq, artist = line.partition("=")
                artist = re.sub(r"\s*<[^>]*>", "", artist).strip()  # drop <url> / <e-mail>
                if eq and name.strip() and artist:
                    entry = out.setdefault((where / name.strip()).as_posix(), {})
                    entry.setdefault("artist", artist)
    return out


def sidecar_tags(package: str, spec: PackageSpec, src: MusicSource, target: Path,
                 extra: dict[str, dict[str, str]], info: dict[str, Any]) -> dict[str, Any]:
    """The ``.tags.json`` object for one track."""
    tags: dict[str, Any] = {"album": spec.album, **extra.get(src.rel.as_posix(), {})}
    if "title" not in tags and src.span is not None:  # a WAD lump: D_RUNNIN -> RUNNIN
        tags["title"] = src.rel.stem.removeprefix("D_")
    elif "title" not in tags and not _has_title_tag(target if not spec.loops else src.path):
        tags["title"] = _title_from_name(src.rel.stem)
    if info.get("cycle_seconds"):
        tags["comment"] = (f"one cycle ({info['cycle_seconds']:.1f} s) of {src.rel.name}, "
                           f"which plays it {info['cycles']:.2f} times "
                           f"({info['original_seconds']:.1f} s)")
    if info.get("soundfont"):
        tags["comment"] = f"rendered from General MIDI ({src.label}) with {info['soundfont']}"
    tags["tags"] = [package, STYLES[package]]
    return tags


def _has_title_tag(path: Path) -> bool:
    try:
        meta = mutagen.File(path, easy=True)
    except (mutagen.MutagenError, OSError):
        return False
    return bool(meta is not None and meta.tags and meta.tags.get("title"))


def _title_from_name(stem: str) -> str:
    """``battle_theme`` -> ``Battle Theme``; ``track12`` -> ``Track 12``."""
    words = re.sub(r"(?<=[A-Za-z])(?=\d)", " ", stem.replace("_", " ")).split()
    return " ".join(w[:1].upper() + w[1:] for w in words) or stem


def copy_copyright(package: str, root: Path, dest: Path) -> str:
    """Copy an unpacked package's Debian copyright file to ``dest/LICENSES``; its text."""
    copyright_file = root / "usr/share/doc" / package / "copyright"
    try:
        text = copyright_file.read_text("utf-8", "replace")
    except OSError as exc:
        raise FetchError(f"{package}: no copyright file at {copyright_file}; the .deb is "
                         "incomplete, delete it and fetch again") from exc
    (dest / "LICENSES").mkdir(parents=True, exist_ok=True)
    (dest / "LICENSES" / f"{package}.copyright").write_text(text, "utf-8")
    return text


def write_licences(package: str, root: Path, base: Path, spec: PackageSpec, dest: Path,
                   files: list[dict[str, Any]]) -> str:
    """Copy the package's copyright (and licence files beside its music); a licence summary.

    Each file entry gains ``licence``: the DEP-5 stanzas whose patterns name it (matched on
    its last two path parts, since Debian writes source paths, not installed ones), else the
    ``Files: *`` stanza.
    """
    out = dest / "LICENSES"
    out.mkdir(parents=True, exist_ok=True)
    text = copy_copyright(package, root, dest)
    for folder in spec.music:
        top = base / folder
        for lic in sorted(top.rglob("license*.txt")) if top.is_dir() else []:
            name = "_".join(lic.relative_to(base).parts)
            if lic.is_file():
                shutil.copyfile(lic, out / f"{package}.{name}")
            elif lic.is_symlink():  # e.g. -> /usr/share/common-licenses/GPL-2, not in the .deb
                (out / f"{package}.{name}").write_text(
                    f"{lic.name} in {package} is a link to {os.readlink(lic)}\n", "utf-8")
    stanzas = _dep5_stanzas(text)
    fallback = next((lic for pats, lic in stanzas if "*" in pats), None) or _free_text_licence(text)
    for f in files:
        tail = "/".join(PurePosixPath(f["source"]).parts[-2:])
        hits = [lic for pats, lic in stanzas
                if any(p != "*" and fnmatch.fnmatch(tail, "/".join(PurePosixPath(p).parts[-2:]))
                       for p in pats)]
        f["licence"] = " / ".join(dict.fromkeys(hits)) or fallback
    return " / ".join(sorted({f["licence"] for f in files})) or fallback


def _dep5_stanzas(text: str) -> list[tuple[list[str], str]]:
    """(file patterns, licence short name) of each ``Files:`` stanza, debian/* left out."""
    out = []
    for block in re.split(r"\n\s*\n", text):
        files = re.search(r"^Files:(.*(?:\n[ \t].*)*)", block, re.M)
        lic = re.search(r"^License:[ \t]*(.+)$", block, re.M)
        if files and lic:
            pats = files.group(1).split()
            if not all(p.startswith("debian/") for p in pats):
                out.append((pats, lic.group(1).strip()))
    return out


def _free_text_licence(text: str) -> str:
    """A short licence name from a pre-DEP-5 copyright file, where it is recognisable."""
    gpl = re.search(r"GNU General Public License.{0,200}?version (\d)", text, re.S | re.I)
    if gpl:
        later = re.search(r"any later version", text, re.I)
        return f"GPL-{gpl.group(1)}{'+' if later else ''}"
    return "see LICENSES/ (no machine-readable licence)"
