"""Fetching free music from Debian's archive into a ready-to-ingest library.

Debian ships the soundtracks of free games as packages. `fetch_packages` downloads them with
``apt-get download`` (no installation, no root needed once the package lists exist), unpacks them
with ``dpkg -x`` into a cache, and lays out ``dest/<package>/<path>`` holding only the MUSIC:
each package's music folder is known (sound effects and voices elsewhere are left out), zip
``.pk3`` archives are opened, tracks shorter than `radio.fetch_layout.MIN_SECONDS` are dropped,
files that repeat one loop many times (Planet Blupi) are cut to a single cycle (FLAC), and
General MIDI music (OpenMSX, Freedoom's WADs) is rendered to FLAC by fluidsynth with the
soundfont packages of `radio.fetch_catalog.SOUNDFONTS`, downloaded and unpacked like the music.

Beside every track goes ``<stem>.tags.json`` (album, artist, title where the package says, and
``tags`` = [package, style]); ``dest/LICENSES/<package>.copyright`` keeps each licence and
``dest/manifest.json`` records package, version, licence and files. A second run with the
cache present downloads and decodes nothing.

This module holds the entry points, the reports and the manifest; the steps live beside it:
`radio.fetch_catalog` (which packages, their styles and music folders), `radio.fetch_apt`
(download and unpack), `radio.fetch_sources` (finding and placing the music files),
`radio.fetch_loops` (the loop finder), `radio.fetch_midi` (MIDI rendering),
`radio.fetch_credits` (titles, artists, licences) and
`radio.fetch_layout` (one package's folder in ``dest``).

Tracks in ``dest`` are hard links into ``cache/extract`` where the file system allows: treat
them as read-only. Fetching never ingests, analyses or touches the store; the CLI wires it to
``radio fetch-demo``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from radio.errors import FetchError
from radio.fetch_apt import AptUpdater, deb_field, extract_deb, find_or_download
from radio.fetch_catalog import CORPORA, PACKAGE_SPECS, SOUNDFONTS, STYLES
from radio.fetch_credits import copy_copyright
from radio.fetch_layout import lay_out_package
from radio.fetch_sources import atomic_write

__all__ = [
    "FetchReport",
    "PackageReport",
    "SkippedFile",
    "fetch_corpus",
    "fetch_packages",
]


Progress = Callable[[str], None]


@dataclass
class SkippedFile:
    """A file the fetch left out, and why (``path`` is inside the package or its zip)."""

    path: str
    reason: str


@dataclass
class PackageReport:
    """What one package gave: tracks laid out under ``dest/<package>``."""

    package: str
    version: str
    album: str
    style: str
    licence: str
    tracks: int
    seconds: float
    bytes: int
    downloaded: bool
    skipped: list[SkippedFile] = field(default_factory=list)


@dataclass
class FetchReport:
    """The outcome of `fetch_packages`: one `PackageReport` per package, in request order."""

    dest: Path
    packages: list[PackageReport]

    @property
    def tracks(self) -> int:
        return sum(p.tracks for p in self.packages)

    @property
    def seconds(self) -> float:
        return sum(p.seconds for p in self.packages)

    @property
    def bytes(self) -> int:
        return sum(p.bytes for p in self.packages)


def fetch_corpus(
    name: Literal["demo", "ci", "dev", "gm"],
    *,
    cache: Path,
    dest: Path,
    progress: Progress | None = None,
) -> FetchReport:
    """Fetch a named package set (`radio.fetch_catalog.CORPORA`) into ``dest``."""
    if name not in CORPORA:
        raise FetchError(f"unknown corpus {name!r}; choose one of {', '.join(CORPORA)}")
    return fetch_packages(CORPORA[name], cache=cache, dest=dest, progress=progress)


def fetch_packages(
    packages: Sequence[str],
    *,
    cache: Path,
    dest: Path,
    progress: Progress | None = None,
) -> FetchReport:
    """Download (unless ``cache/debs`` holds them), unpack and lay out the music of ``packages``.

    ``cache/debs/<package>_*.deb`` already present are used as they are, so the network is
    touched only for missing packages; ``cache/extract/`` keeps the unpacked trees. ``dest``
    receives ``<package>/...`` tracks with ``.tags.json`` sidecars, ``LICENSES/`` and
    ``manifest.json`` (merged with an existing one, so other packages' entries stay).

    Raises
    ------
    FetchError
        unknown package, apt-get/dpkg missing or failing, a corrupt ``.deb``.
    """
    say = progress or (lambda _msg: None)
    unknown = [p for p in packages if p not in PACKAGE_SPECS]
    if unknown:
        raise FetchError(f"no music layout known for {', '.join(unknown)}; "
                         f"known packages: {', '.join(PACKAGE_SPECS)}")
    cache, dest = Path(cache), Path(dest)
    (cache / "debs").mkdir(parents=True, exist_ok=True)
    dest.mkdir(parents=True, exist_ok=True)
    manifest_path = dest / "manifest.json"
    manifest: dict[str, Any] = {"packages": {}}
    with contextlib.suppress(OSError, ValueError):
        manifest = json.loads(manifest_path.read_text("utf-8"))
    reports = []
    updater = AptUpdater()
    soundfonts: list[Path] = []
    if any(PACKAGE_SPECS[p].midi for p in packages):
        soundfonts = _soundfonts(cache, dest, updater, say)
    for package in packages:
        deb, downloaded = find_or_download(package, cache / "debs", updater, say)
        version = deb_field(deb, "Version")
        old = manifest["packages"].get(package)
        rendered_with = [font.name for font in soundfonts] if PACKAGE_SPECS[package].midi else None
        if (old and old.get("deb") == deb.name and old.get("style") == STYLES[package]
                and old.get("soundfonts") == rendered_with and _all_present(dest, package, old)):
            say(f"{package}: up to date ({len(old['files'])} tracks)")
            entry = old
        else:
            root = extract_deb(deb, cache / "extract" / f"{package}_{version}", say)
            entry = lay_out_package(package, root, dest, old, say, soundfonts)
            entry.update(deb=deb.name, version=version, soundfonts=rendered_with)
            manifest["packages"][package] = entry
            # ASCII-escaped: a file name that is not valid UTF-8 must not break the manifest.
            with atomic_write(manifest_path) as tmp:
                tmp.write_text(json.dumps(manifest, indent=1), "utf-8")
        reports.append(_report(package, entry, downloaded))
        say(f"{package}: {len(entry['files'])} tracks, "
            f"{sum(f['seconds'] for f in entry['files']) / 3600:.2f} h, style {STYLES[package]}")
    return FetchReport(dest=dest, packages=reports)


def _soundfonts(cache: Path, dest: Path, updater: AptUpdater, say: Progress) -> list[Path]:
    """The `SOUNDFONTS`, downloaded and unpacked into the cache; their licences into ``dest``."""
    out = []
    for package, inside in SOUNDFONTS:
        deb, _ = find_or_download(package, cache / "debs", updater, say)
        root = extract_deb(deb, cache / "extract" / f"{package}_{deb_field(deb, 'Version')}", say)
        if not (root / inside).is_file():
            raise FetchError(f"{deb.name} has no {inside}; the package's layout changed, so "
                             "update radio.fetch_catalog.SOUNDFONTS")
        copy_copyright(package, root, dest)
        out.append(root / inside)
    return out


def _report(package: str, entry: dict[str, Any], downloaded: bool) -> PackageReport:
    files = entry["files"]
    return PackageReport(
        package=package, version=entry["version"], album=entry["album"], style=entry["style"],
        licence=entry["licence"], tracks=len(files),
        seconds=round(sum(f["seconds"] for f in files), 1),
        bytes=sum(f["bytes"] for f in files), downloaded=downloaded,
        skipped=[SkippedFile(**s) for s in entry["skipped"]],
    )


def _all_present(dest: Path, package: str, entry: dict[str, Any]) -> bool:
    files = [dest / f[k] for f in entry.get("files", []) for k in ("path", "sidecar")]
    return all(p.is_file() for p in [dest / "LICENSES" / f"{package}.copyright", *files])
