"""Fetching free music from Debian's archive into a ready-to-ingest library.

Debian ships the soundtracks of free games as packages. This module downloads them with
``apt-get download`` (no installation, no root needed once the package lists exist), unpacks them
with ``dpkg -x`` into a cache, and lays out ``dest/<package>/<path>`` holding only the MUSIC:
each package's music folder is known (sound effects and voices elsewhere are left out), zip
``.pk3`` archives are opened, tracks shorter than ``MIN_SECONDS`` are dropped, and files that
repeat one loop many times (Planet Blupi) are cut to a single cycle (written as FLAC).

Beside every track goes ``<stem>.tags.json`` (album, artist, title where the package says, and
``tags`` = [package, style]); ``dest/LICENSES/<package>.copyright`` keeps each licence and
``dest/manifest.json`` records package, version, licence and files. A second run with the
cache present downloads and decodes nothing.

Tracks in ``dest`` are hard links into ``cache/extract`` where the file system allows: treat
them as read-only. This module never ingests, analyses or touches the store; the CLI wires it to
``radio fetch-demo``. It is longer than most modules because the loop finder lives here too:
only fetching needs it, so it moves out when a second user appears.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import re
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import mutagen
import numpy as np
import soundfile as sf
from scipy.signal import fftconvolve

from radio.audio import decode, probe_duration
from radio.errors import AudioLoadError, FetchError

__all__ = [
    "CI_PACKAGES",
    "DEMO_PACKAGES",
    "DEV_PACKAGES",
    "MIN_SECONDS",
    "STYLES",
    "FetchReport",
    "PackageReport",
    "SkippedFile",
    "fetch_corpus",
    "fetch_packages",
    "find_loop_period",
]

Progress = Callable[[str], None]

MIN_SECONDS = 20.0
"""Shorter audio in a music folder is a jingle or sting, not a track."""

AUDIO_SUFFIXES = frozenset({".ogg", ".oga", ".opus", ".mp3", ".flac", ".wav"})

CI_PACKAGES = ("neverball-common", "xmoto-data")
# Four clearly different styles (electronic, ambient, orchestral, retro) in about 250 MB.
DEMO_PACKAGES = ("nexuiz-music", "warzone2100-music", "flare-game", "drascula-music")
DEV_PACKAGES = (
    "ufoai-music",
    "warzone2100-music",
    "nexuiz-music",
    "hedgewars-data",
    "drascula-music",
    "flare-game",
    "asc-music",
    "planetblupi-music-ogg",
)
_CORPORA: dict[str, tuple[str, ...]] = {
    "ci": CI_PACKAGES, "demo": DEMO_PACKAGES, "dev": DEV_PACKAGES}

# One honest style label per package: the ground truth for prompt-search tests, so each says what
# the package as a whole sounds like. Each judgement combines the package's own metadata (genre
# tags, titles, the game) with measurements of every track (30 s at 22 kHz: percussive share of
# the energy by HPSS, spectral centroid, tempo, pulse clarity) and a look at spectrograms.
STYLES: dict[str, str] = {
    # Synth arpeggios over a drum machine in every bgm track; steady pulse (clarity 0.75).
    "neverball-common": "electronic",
    # Synth bass and drum loops, dark-toned (median centroid 0.8 kHz); the files' own genre tag
    # says only "Soundtrack". The least certain label here: electronic rather than rock.
    "xmoto-data": "electronic",
    # Film-style underscore for a sci-fi strategy game: orchestral themes (Vanethian) beside
    # synth-sweep battle cues (Crystan, FL Studio); little percussion (0.14), dark (1.3 kHz).
    "ufoai-music": "cinematic",
    # Dark, slow-moving synth textures; the lowest percussive share (0.14) and brightness
    # (centroid 1.0 kHz) of the sets with beats; the original 1999 score is ambient electronica.
    "warzone2100-music": "ambient",
    # Techno, drum'n'bass and industrial by elysis, blkrbt, Parapraxis (genre tag "Electronic");
    # the most percussive and brightest set (0.35, 2.3 kHz), tempo ~130 BPM.
    "nexuiz-music": "electronic",
    # Cartoon-game theme tunes per map (pirate, oriental, Halloween, snow, olympics...), the most
    # varied set (pulse clarity 0.23-0.95): one mood, not one genre.
    "hedgewars-data": "playful",
    # A 1996 adventure game's score: General-MIDI-style synthesis (perfectly steady partials, no
    # vibrato), mostly without drums (percussive share 0.09).
    "drascula-music": "retro",
    # Fantasy RPG themes (town, battle, dungeon, magical): sustained strings/winds, timpani hits;
    # the softest and darkest set (percussive share 0.04, centroid 0.7 kHz).
    "flare-game": "orchestral",
    # Synth stabs and drum loops (percussive share 0.51) in two of three tracks, pads in the third.
    "asc-music": "electronic",
    # Drum-machine grooves under synth leads: bright (2.5 kHz), percussive (0.42) and the
    # clearest pulse of all (0.79).
    "planetblupi-music-ogg": "electronic",
}


@dataclass(frozen=True)
class _Spec:
    """Where a package keeps its music; ``music`` folders are relative to ``root``.

    A folder of the form ``x.pk3/dir`` reaches inside the zip ``x.pk3``.
    """

    album: str
    root: str
    music: tuple[str, ...]
    exclude: tuple[tuple[str, str], ...] = ()  # (file-name glob, why it is not a track)
    loops: bool = False  # each file repeats one cycle; keep one


_SPECS: dict[str, _Spec] = {
    "neverball-common": _Spec("Neverball", "usr/share/games/neverball", ("bgm",)),
    "xmoto-data": _Spec("X-Moto", "usr/share/games/xmoto", ("Textures/Musics",)),
    "ufoai-music": _Spec(
        "UFO: Alien Invasion", "usr/share/games/ufoai/base", ("0music.pk3/music",),
        exclude=(("dynamictest-*", "a test clip of the game's dynamic-music system"),),
    ),
    "warzone2100-music": _Spec("Warzone 2100", "usr/share/games/warzone2100/music", ("",)),
    "nexuiz-music": _Spec(
        "Nexuiz", "usr/share/games/nexuiz/data", ("music.pk3/sound/cdtracks",),
        exclude=(("thunder.ogg", "a thunder sound effect (noise, spectral flatness 0.3)"),),
    ),
    "hedgewars-data": _Spec("Hedgewars", "usr/share/games/hedgewars/Data", ("Music",)),
    "drascula-music": _Spec(
        "Drascula: The Vampire Strikes Back", "usr/share/scummvm/drascula", ("audio",)
    ),
    "flare-game": _Spec(
        "Flare", "usr/share/games/flare/mods/fantasycore", ("music",),
        exclude=(("wind_ambient.ogg", "a wind-noise ambience (its tags: CC0 'wind1'), not music"),),
    ),
    "asc-music": _Spec("Advanced Strategic Command", "usr/share/games/asc", ("music",)),
    "planetblupi-music-ogg": _Spec("Planet Blupi", "usr/share/planetblupi", ("music",), loops=True),
}


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
    name: Literal["demo", "ci", "dev"],
    *,
    cache: Path,
    dest: Path,
    progress: Progress | None = None,
) -> FetchReport:
    """Fetch a named package set (`DEMO_PACKAGES`, `CI_PACKAGES`, `DEV_PACKAGES`) into ``dest``."""
    if name not in _CORPORA:
        raise FetchError(f"unknown corpus {name!r}; choose one of {', '.join(_CORPORA)}")
    return fetch_packages(_CORPORA[name], cache=cache, dest=dest, progress=progress)


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
    unknown = [p for p in packages if p not in _SPECS]
    if unknown:
        raise FetchError(f"no music layout known for {', '.join(unknown)}; "
                         f"known packages: {', '.join(_SPECS)}")
    cache, dest = Path(cache), Path(dest)
    (cache / "debs").mkdir(parents=True, exist_ok=True)
    dest.mkdir(parents=True, exist_ok=True)
    manifest_path = dest / "manifest.json"
    manifest: dict[str, Any] = {"packages": {}}
    with contextlib.suppress(OSError, ValueError):
        manifest = json.loads(manifest_path.read_text("utf-8"))
    reports = []
    updater = _AptUpdater()
    for package in packages:
        deb, downloaded = _find_or_download(package, cache / "debs", updater, say)
        version = _deb_field(deb, "Version")
        old = manifest["packages"].get(package)
        if (old and old.get("deb") == deb.name and old.get("style") == STYLES[package]
                and _all_present(dest, package, old)):
            say(f"{package}: up to date ({len(old['files'])} tracks)")
            entry = old
        else:
            root = _extract(deb, cache / "extract" / f"{package}_{version}", say)
            entry = _lay_out(package, root, dest, old, say)
            entry.update(deb=deb.name, version=version)
            manifest["packages"][package] = entry
            # ASCII-escaped: a file name that is not valid UTF-8 must not break the manifest.
            with _atomic(manifest_path) as tmp:
                tmp.write_text(json.dumps(manifest, indent=1), "utf-8")
        reports.append(_report(package, entry, downloaded))
        say(f"{package}: {len(entry['files'])} tracks, "
            f"{sum(f['seconds'] for f in entry['files']) / 3600:.2f} h, style {STYLES[package]}")
    return FetchReport(dest=dest, packages=reports)


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


# --- download and unpack -------------------------------------------------------------------


class _AptUpdater:
    """Runs ``apt-get update`` at most once per fetch, and only when a package was not found."""

    def __init__(self) -> None:
        self.done = False

    def __call__(self, say: Progress) -> None:
        if self.done:
            return
        self.done = True
        if os.geteuid() != 0:
            raise FetchError("apt-get cannot find the package: its lists are missing or stale; "
                             "run `sudo apt-get update` once, then fetch again")
        say("apt-get update (package lists are missing or stale)")
        proc = _run(["apt-get", "update"], timeout=600)
        if proc.returncode != 0:
            raise FetchError(f"`apt-get update` failed: {_tail(proc.stderr)}")


def _find_or_download(package: str, debs: Path, update: _AptUpdater,
                      say: Progress) -> tuple[Path, bool]:
    """The cached ``.deb`` of ``package`` (newest if several), downloading it if absent."""
    found = sorted(debs.glob(f"{_glob_escape(package)}_*.deb"), key=lambda p: p.stat().st_mtime)
    if found:
        return found[-1], False
    for attempt in (1, 2):
        say(f"{package}: downloading")
        proc = _run(["apt-get", "download", package], cwd=debs, timeout=1800)
        found = sorted(debs.glob(f"{_glob_escape(package)}_*.deb"))
        if proc.returncode == 0 and found:
            return found[-1], True
        not_found = re.search(r"Unable to locate|no installation candidate|Can't select",
                              proc.stderr)
        if attempt == 1 and not_found:
            update(say)
            continue
        raise FetchError(f"`apt-get download {package}` failed: {_tail(proc.stderr)}; "
                         f"check the network and /etc/apt/sources.list (Debian main), or put "
                         f"the .deb into {debs}")
    raise AssertionError("unreachable")


def _glob_escape(text: str) -> str:
    """``text`` with glob metacharacters made literal."""
    return re.sub(r"([*?\[])", r"[\1]", text)


def _run(cmd: list[str], *, cwd: Path | None = None,
         timeout: float = 600) -> subprocess.CompletedProcess[str]:
    if shutil.which(cmd[0]) is None:
        raise FetchError(f"`{cmd[0]}` is not installed; fetching needs a Debian or Ubuntu system "
                         "(apt-get, dpkg)")
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                              check=False, env={**os.environ, "LC_ALL": "C"})
    except subprocess.TimeoutExpired as exc:
        raise FetchError(f"`{' '.join(cmd)}` took more than {timeout:g} s; try again") from exc


def _tail(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return " / ".join(lines[-2:])[:300] or "no message"


def _deb_field(deb: Path, name: str) -> str:
    proc = _run(["dpkg-deb", "--field", str(deb), name])
    if proc.returncode != 0 or not proc.stdout.strip():
        raise FetchError(f"{deb} is not a readable .deb ({_tail(proc.stderr)}); delete it and "
                         "fetch again")
    return proc.stdout.strip()


def _extract(deb: Path, target: Path, say: Progress) -> Path:
    """``dpkg -x`` into ``target`` once; a half-finished extraction is never reused."""
    if (target / ".complete").is_file():
        return target
    say(f"{deb.name}: unpacking")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".unpack-"))
    try:
        proc = _run(["dpkg", "-x", str(deb), str(tmp)], timeout=1200)
        if proc.returncode != 0:
            raise FetchError(f"dpkg -x {deb} failed ({_tail(proc.stderr)}); delete the file and "
                             "fetch again")
        (tmp / ".complete").write_text(deb.name, "utf-8")
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


# --- layout --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    """One audio file of a package's music folders: a plain file or a zip member."""

    rel: PurePosixPath  # path under dest/<package>/ (and under the package's root)
    path: Path  # the file, or the zip holding it
    member: str | None = None

    @property
    def label(self) -> str:
        return f"{self.rel}" if self.member is None else f"{self.path.name}/{self.member}"


def _lay_out(package: str, root: Path, dest: Path, old: dict[str, Any] | None,
             say: Progress) -> dict[str, Any]:
    """Place the music of one unpacked package under ``dest/<package>``; its manifest entry."""
    spec = _SPECS[package]
    base = root / spec.root
    sources, skipped = _music_sources(package, spec, base)
    out_dir = dest / package
    previous = {dest / f["path"]: f for f in (old or {}).get("files", [])}
    extra = _package_metadata(spec, base)
    files, kept = [], set()
    say(f"{package}: laying out {len(sources)} files")
    for src in sources:
        reason = next((why for pat, why in spec.exclude if fnmatch.fnmatch(src.rel.name, pat)),
                      None)
        if reason:
            skipped.append({"path": src.label, "reason": reason})
            continue
        target = out_dir / src.rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            if spec.loops:
                target, info = _one_cycle(src, target, previous, say)
            else:
                _place(src, target)
                info = {}
            seconds = _duration(target)
        except AudioLoadError as exc:
            target.unlink(missing_ok=True)
            skipped.append({"path": src.label, "reason": f"not decodable ({exc.reason})"})
            continue
        if seconds < MIN_SECONDS:
            target.unlink()
            why = f"{seconds:.1f} s, shorter than {MIN_SECONDS:g} s (a jingle)"
            skipped.append({"path": src.label, "reason": why})
            continue
        sidecar = target.with_name(target.stem + ".tags.json")
        tags = _sidecar(package, spec, src, target, extra, info)
        sidecar.write_text(json.dumps(tags, indent=1) + "\n", "utf-8")
        kept.update({target, sidecar})
        files.append({
            **{k: v for k, v in info.items() if k not in ("path", "sidecar", "bytes", "seconds")},
            "path": target.relative_to(dest).as_posix(), "source": src.label,
            "sidecar": sidecar.relative_to(dest).as_posix(),
            "bytes": target.stat().st_size, "seconds": round(seconds, 3),
        })
    _remove_stale(out_dir, kept)
    licence = _write_licences(package, root, base, spec, dest, files)
    return {"album": spec.album, "style": STYLES[package], "licence": licence,
            "files": files, "skipped": skipped}


def _music_sources(package: str, spec: _Spec,
                   base: Path) -> tuple[list[_Source], list[dict[str, str]]]:
    """Audio files in the music folders, and a note on the audio left outside them."""
    sources: list[_Source] = []
    skipped: list[dict[str, str]] = []
    for folder in spec.music:
        zip_part, _, inner = folder.partition(".pk3/")
        if inner:
            sources += _zip_sources(base / (zip_part + ".pk3"), inner, skipped)
            continue
        top = base / folder
        if not top.is_dir():
            raise FetchError(f"{package}: its music folder {top} is missing; the package's layout "
                             "changed, so update radio.fetch._SPECS")
        for path in sorted(top.rglob("*")):
            if path.suffix.lower() not in AUDIO_SUFFIXES:
                continue
            rel = PurePosixPath(path.relative_to(base).as_posix())
            if path.is_symlink():
                skipped.append({"path": str(rel), "reason": "a link to another file"})
            elif path.is_file():
                sources.append(_Source(rel, path))
    if not sources:
        raise FetchError(f"{package}: no audio in {', '.join(spec.music)}; the package's layout "
                         "changed, so update radio.fetch._SPECS")
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


def _zip_sources(archive: Path, inner: str, skipped: list[dict[str, str]]) -> list[_Source]:
    if not archive.is_file():
        raise FetchError(f"{archive} is missing; the package's layout changed, so update "
                         "radio.fetch._SPECS")
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
            out.append(_Source(rel, archive, name))
        else:
            skipped.append({"path": f"{archive.name}/{name}",
                            "reason": "outside the zip's music folder"})
    return out


def _place(src: _Source, target: Path) -> None:
    """Hard-link (or copy) a plain file, or unpack a zip member, unless already there."""
    if src.member is not None:
        with zipfile.ZipFile(src.path) as zf:
            info = zf.getinfo(src.member)
            if target.is_file() and target.stat().st_size == info.file_size:
                return
            with zf.open(info) as fin, _atomic(target) as tmp, open(tmp, "wb") as fout:
                shutil.copyfileobj(fin, fout, 1 << 20)
        return
    if target.is_file() and os.path.samefile(src.path, target):
        return
    with _atomic(target) as tmp:
        try:
            os.link(src.path, tmp)
        except OSError:  # another file system: copy instead
            shutil.copyfile(src.path, tmp)


@contextlib.contextmanager
def _atomic(target: Path) -> Iterator[Path]:
    """A temporary name beside ``target`` that replaces it only if the block succeeds."""
    tmp = target.with_name(f".{target.name}.part")
    tmp.unlink(missing_ok=True)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _remove_stale(out_dir: Path, kept: set[Path]) -> None:
    """Delete what an earlier run with other rules left in this package's folder."""
    for path in sorted(out_dir.rglob("*"), reverse=True):
        if path.is_file() and path not in kept:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def _duration(path: Path) -> float:
    """Seconds of audio from the header (mutagen), or from ffprobe as a fallback."""
    try:
        meta = mutagen.File(path)
        if meta is not None and meta.info.length > 0:
            return float(meta.info.length)
    except (mutagen.MutagenError, OSError):
        pass
    return probe_duration(path)


# --- metadata ------------------------------------------------------------------------------


def _package_metadata(spec: _Spec, base: Path) -> dict[str, dict[str, str]]:
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


def _sidecar(package: str, spec: _Spec, src: _Source, target: Path,
             extra: dict[str, dict[str, str]], info: dict[str, Any]) -> dict[str, Any]:
    """The ``.tags.json`` object for one track."""
    tags: dict[str, Any] = {"album": spec.album, **extra.get(src.rel.as_posix(), {})}
    if "title" not in tags and not _has_title_tag(target if not spec.loops else src.path):
        tags["title"] = _title_from_name(src.rel.stem)
    if info.get("cycle_seconds"):
        tags["comment"] = (f"one cycle ({info['cycle_seconds']:.1f} s) of {src.rel.name}, "
                           f"which plays it {info['cycles']:.2f} times "
                           f"({info['original_seconds']:.1f} s)")
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


# --- licences ------------------------------------------------------------------------------


def _write_licences(package: str, root: Path, base: Path, spec: _Spec, dest: Path,
                    files: list[dict[str, Any]]) -> str:
    """Copy the package's copyright (and licence files beside its music); a licence summary.

    Each file entry gains ``licence``: the DEP-5 stanzas whose patterns name it (matched on
    its last two path parts, since Debian writes source paths, not installed ones), else the
    ``Files: *`` stanza.
    """
    out = dest / "LICENSES"
    out.mkdir(parents=True, exist_ok=True)
    copyright_file = root / "usr/share/doc" / package / "copyright"
    try:
        text = copyright_file.read_text("utf-8", "replace")
    except OSError as exc:
        raise FetchError(f"{package}: no copyright file at {copyright_file}; the .deb is "
                         "incomplete, delete it and fetch again") from exc
    (out / f"{package}.copyright").write_text(text, "utf-8")
    for folder in spec.music:
        top = base / folder
        for lic in sorted(top.rglob("license*.txt")) if top.is_dir() else []:
            name = "_".join(lic.relative_to(base).parts)
            shutil.copyfile(lic, out / f"{package}.{name}")
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


# --- looped files --------------------------------------------------------------------------

_LOOP_SR = 8000  # Hz: enough to tell a repeat from a look-alike, 1/8 ms resolution
_LOOP_MIN_SECONDS = 10.0  # shorter repeats are bars, not the cycle of a whole piece
_LOOP_FADE_SECONDS = 0.02


def find_loop_period(y: np.ndarray, *, sr: int, min_seconds: float = _LOOP_MIN_SECONDS,
                     threshold: float = 0.9) -> int | None:
    """Length in samples of the cycle that ``y`` repeats from start to end, or None.

    Parameters
    ----------
    y : np.ndarray
        mono (n,) or (channels, n) samples; a few kHz sampling rate is plenty.
    sr : int
        sampling rate of ``y`` in Hz.
    min_seconds : float
        shortest cycle considered; musical bars repeat too, but they are not the cycle.
    threshold : float
        normalised cross-correlation (0..1) that counts as "the same audio"; a lossy codec
        leaves about 0.98 between two copies of one cycle.

    A head window (starting 1 s into the sound, where the previous cycle's reverb tail no
    longer differs) is cross-correlated with the whole signal; each lag where it matches is
    then checked all along the file (windows every few seconds must match the window one lag
    later), and the shortest lag that passes is the period. A piece that merely repeats a
    phrase, or that lasts less than two cycles, gives None.
    """
    x = np.asarray(y, dtype=np.float64)
    x = x.mean(axis=0) if x.ndim == 2 else x.reshape(-1)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak == 0.0:
        return None
    min_lag = int(min_seconds * sr)
    w = min_lag // 2
    t0 = int(np.argmax(np.abs(x) > 0.01 * peak)) + sr
    if x.size < t0 + 2 * min_lag:
        return None
    head = x[t0 : t0 + w]
    tail = x[t0:]
    corr = fftconvolve(tail, head[::-1], mode="valid")
    csum = np.concatenate([[0.0], np.cumsum(tail * tail)])
    energy = (csum[w:] - csum[:-w]) * float(head @ head)
    ncc = corr / np.sqrt(np.maximum(energy, 1e-20))
    hits = np.flatnonzero(ncc[min_lag:] >= threshold) + min_lag
    for run in np.split(hits, np.flatnonzero(np.diff(hits) > 1) + 1) if hits.size else []:
        lag = int(run[np.argmax(ncc[run])])
        if _periodicity(x, lag=lag, sr=sr, start=t0) >= threshold:
            return lag
    return None


def _periodicity(x: np.ndarray, *, lag: int, sr: int, start: int) -> float:
    """Median similarity of 2 s windows with the window ``lag`` later, all along ``x``."""
    w = 2 * sr
    stops = x.size - lag - w
    if stops <= start:
        return 0.0
    scores = []
    for p in np.linspace(start, stops, num=max(4, min(32, (stops - start) // (5 * sr)))):
        a, b = x[int(p) : int(p) + w], x[int(p) + lag : int(p) + lag + w]
        ea, eb = float(a @ a), float(b @ b)
        if min(ea, eb) > 1e-8 * w:  # silence matches anything: ignore it
            scores.append(float(a @ b) / np.sqrt(ea * eb))
    return float(np.median(scores)) if scores else 0.0


def _one_cycle(src: _Source, target: Path, previous: dict[Path, dict[str, Any]],
               say: Progress) -> tuple[Path, dict[str, Any]]:
    """Lay out looped ``src``: one cycle as ``<stem>.flac``, or the file as it is if none.

    Returns the path written and the manifest facts (lengths before/after, match scores); an
    output from an earlier run is reused without decoding again.
    """
    flac = target.with_suffix(".flac")
    for done in (flac, target):
        if done in previous and done.is_file():
            return done, previous[done]
    say(f"{src.rel.name}: looking for its cycle")
    y = decode(src.path, sr=_LOOP_SR, channels=1, timeout=900)[0]
    original = y.size / _LOOP_SR
    lag = find_loop_period(y, sr=_LOOP_SR)
    if lag is None:
        say(f"{src.rel.name}: no repeating cycle, kept whole ({original:.1f} s)")
        _place(src, target)
        return target, {"original_seconds": round(original, 3), "cycle_seconds": None}
    meta = mutagen.File(src.path)
    rate = int(getattr(meta.info, "sample_rate", 0) or 44100) if meta else 44100
    channels = int(getattr(meta.info, "channels", 0) or 2) if meta else 2
    seconds = lag / _LOOP_SR
    n = round(seconds * rate)
    audio = decode(src.path, sr=rate, channels=channels, timeout=900, duration=seconds + 0.1)
    audio = audio[:, :n].copy()
    # The cycle's last sound rings on into the next copy; cut there, it would click.
    fade = min(n, int(_LOOP_FADE_SECONDS * rate))
    audio[:, n - fade :] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    with _atomic(flac) as tmp:
        sf.write(tmp, np.clip(audio.T, -1.0, 1.0), rate, format="FLAC", subtype="PCM_16")
    w = 2 * _LOOP_SR
    seam = np.corrcoef(y[:w], y[lag : lag + w])[0, 1]  # what follows the cut, vs its start
    say(f"{src.rel.name}: {original:.1f} s -> one cycle of {seconds:.1f} s")
    return flac, {
        "original_seconds": round(original, 3), "cycle_seconds": round(seconds, 3),
        "cycles": round(original / seconds, 2), "seam_match": round(float(seam), 4),
        "loop_match": round(_periodicity(y, lag=lag, sr=_LOOP_SR, start=0), 4),
    }
