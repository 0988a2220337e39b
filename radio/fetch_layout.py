"""Laying out one unpacked package under ``dest/<package>``: tracks, sidecars and licences.

`lay_out_package` takes the package's music sources (`radio.fetch_sources`), leaves out the
files its `PackageSpec` excludes, cuts looped files to one cycle (`radio.fetch_loops`), renders
General MIDI with the soundfonts in turn (`radio.fetch_midi`), drops
audio shorter than `MIN_SECONDS`, writes each track's ``.tags.json`` and the licences
(`radio.fetch_credits`), deletes what an earlier run left that is no longer wanted, and returns
the package's manifest entry.

It never downloads or unpacks (`radio.fetch_apt`) and never writes the manifest (`radio.fetch`).
Tracks placed here are hard links into the cache where the file system allows: read-only.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mutagen

from radio.audio import probe_duration
from radio.errors import AudioLoadError
from radio.fetch_catalog import PACKAGE_SPECS, STYLES
from radio.fetch_credits import package_metadata, sidecar_tags, write_licences
from radio.fetch_loops import place_one_cycle
from radio.fetch_midi import render_source
from radio.fetch_sources import music_sources, place_source

if TYPE_CHECKING:
    from radio.fetch import Progress

__all__ = ["MIN_SECONDS", "lay_out_package"]


MIN_SECONDS = 20.0
"""Shorter audio in a music folder is a jingle or sting, not a track."""


def lay_out_package(package: str, root: Path, dest: Path, old: dict[str, Any] | None,
                    say: Progress, soundfonts: Sequence[Path] = ()) -> dict[str, Any]:
    """Place the music of one unpacked package under ``dest/<package>``; its manifest entry.

    ``soundfonts`` render a General MIDI package (`PackageSpec.midi`), taking turns by track.
    """
    spec = PACKAGE_SPECS[package]
    base = root / spec.root
    sources, skipped = music_sources(package, spec, base)
    out_dir = dest / package
    previous = {dest / f["path"]: f for f in (old or {}).get("files", [])}
    extra = package_metadata(spec, base)
    files, kept = [], set()
    if spec.midi and not soundfonts:
        raise ValueError(f"{package} is General MIDI: it needs soundfonts to be rendered with")
    say(f"{package}: {'rendering' if spec.midi else 'laying out'} {len(sources)} files")
    for number, src in enumerate(sources):
        reason = next((why for pat, why in spec.exclude if fnmatch.fnmatch(src.rel.name, pat)),
                      None)
        if reason:
            skipped.append({"path": src.label, "reason": reason})
            continue
        target = out_dir / src.rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            if spec.midi:
                soundfont = soundfonts[number % len(soundfonts)]
                target, info = render_source(src, target, soundfont=soundfont, previous=previous)
            elif spec.loops:
                target, info = place_one_cycle(src, target, previous, say)
            else:
                place_source(src, target)
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
        tags = sidecar_tags(package, spec, src, target, extra, info)
        sidecar.write_text(json.dumps(tags, indent=1) + "\n", "utf-8")
        kept.update({target, sidecar})
        files.append({
            **{k: v for k, v in info.items() if k not in ("path", "sidecar", "bytes", "seconds")},
            "path": target.relative_to(dest).as_posix(), "source": src.label,
            "sidecar": sidecar.relative_to(dest).as_posix(),
            "bytes": target.stat().st_size, "seconds": round(seconds, 3),
        })
    _remove_stale(out_dir, kept)
    licence = write_licences(package, root, base, spec, dest, files)
    return {"album": spec.album, "style": STYLES[package], "licence": licence,
            "files": files, "skipped": skipped}


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
