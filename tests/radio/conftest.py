"""Helpers shared by the radio test modules.

`_analysed` generates known-answer audio (see tests/synth.py) and analyses it once per session:
the beat, phrase, loudness and analysis tests read the same results.

`cache` holds tiny fake Debian packages built with ``dpkg-deb -b`` and `fetched` is one fetch of
them (no network), read by the fetch, fetch-credits and fetch-loops tests. Known answers: the
cycle length a looped file was built from, the titles written into an ``album.json``, the file
names (odd characters included) and licences put into each package. Both fixtures are
package-scoped so that the packages are built and fetched once for all three files.
"""

from __future__ import annotations

import functools
import io
import json
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from radio import fetch, fetch_apt, fetch_layout
from radio.analysis import Analysis, analyse
from tests import synth

SR = synth.SR  # Hz: synth's signals and the fake packages' music alike
CYCLE = 10.731  # seconds: the known answer of the looped file
ODD_MEMBER = "music/Ça va – l'été (mix) [1] #2.ogg"
ODD_FILE = "bgm/track ü & 'quote' $x.ogg"

_Run = Callable[..., subprocess.CompletedProcess[str]]  # the shape of `fetch_apt._run`


@functools.cache
def _analysed(kind: str, bpm: float, seconds: float = 30.0) -> tuple[synth.Beat, Analysis]:
    """Generate and analyse once per session; several tests read the same result."""
    if kind == "click":
        beat = synth.click_track(bpm=bpm, duration=seconds, accent_every=4)
    elif kind == "plain-click":
        beat = synth.click_track(bpm=bpm, duration=seconds)
    else:
        beat = synth.drum_pattern(bpm=bpm, duration=seconds, style=kind, seed=int(bpm))  # type: ignore[arg-type]
    return beat, analyse(y=beat.y, sr=SR)


def melody(seconds: float, *, seed: int, sr: int = SR) -> np.ndarray:
    """Mono float32: random notes (never repeating) with a little noise; music-like audio."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    y = np.zeros(n)
    at = 0
    while at < n:
        m = min(int(rng.uniform(0.12, 0.4) * sr), n - at)
        t = np.arange(m) / sr
        f = 220.0 * 2 ** (rng.integers(0, 24) / 12)
        y[at : at + m] += np.sin(2 * np.pi * f * t) * np.exp(-t / 0.2) + 0.3 * np.sin(
            4 * np.pi * f * t) * np.exp(-t / 0.1)
        at += m
    y += 0.01 * rng.standard_normal(n)
    return np.asarray(0.5 * y / np.max(np.abs(y)), dtype=np.float32)


def ogg(y: np.ndarray, sr: int = SR) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, y, sr, format="OGG", subtype="VORBIS")
    return buf.getvalue()


def build_deb(debs: Path, package: str, files: dict[str, bytes], version: str = "1.0-1") -> Path:
    """A real .deb holding ``files`` (paths under the package root) and a control file."""
    root = debs.parent / "build" / package
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    (root / "DEBIAN").mkdir(parents=True, exist_ok=True)
    (root / "DEBIAN/control").write_text(
        f"Package: {package}\nVersion: {version}\nArchitecture: all\n"
        "Maintainer: Test <t@example.org>\nDescription: fake package for tests\n")
    debs.mkdir(parents=True, exist_ok=True)
    deb = debs / f"{package}_{version}_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Znone", "-b", str(root), str(deb)],
                   check=True, capture_output=True)
    return deb


DEP5 = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: *
Copyright: 2020 Someone
License: GPL-2+

Files:
 base/music/Song*.ogg
Copyright: 2021 A Composer
License: CC-BY-SA-3.0

Files: debian/*
Copyright: 2022 Packager
License: GPL-2+
"""


def _pk3(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.fixture(scope="package")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``cache/debs`` holding four fake packages, each shaped like its real namesake."""
    cache = tmp_path_factory.mktemp("cache")
    debs = cache / "debs"
    song, short = ogg(melody(4.0, seed=1)), ogg(melody(1.0, seed=2))
    build_deb(debs, "ufoai-music", {
        "usr/share/games/ufoai/base/0music.pk3": _pk3({
            "music/Song1.ogg": song, ODD_MEMBER: ogg(melody(4.5, seed=3)),
            "music/dynamictest-battle.ogg": song, "sound/explosion.ogg": short,
            "music/readme.txt": b"not audio"}),
        "usr/share/doc/ufoai-music/copyright": DEP5.encode(),
    })
    album = {"title": "Legacy Soundtrack", "description": "From the community.", "tracks": [
        {"filename": "track4.opus", "title": "Uncertain Future", "author": "LupusMechanicus"},
        {"filename": "track5.opus", "title": "Recovery Ops", "author": "LupusMechanicus"}]}
    build_deb(debs, "warzone2100-music", {
        "usr/share/games/warzone2100/music/menu.ogg": ogg(melody(4.0, seed=4)),
        "usr/share/games/warzone2100/music/albums/legacy/album.json": json.dumps(album).encode(),
        "usr/share/games/warzone2100/music/albums/legacy/license.txt": b"CC-BY-SA-3.0\n",
        "usr/share/games/warzone2100/music/albums/legacy/track4.opus": ogg(melody(4.0, seed=5)),
        "usr/share/games/warzone2100/music/albums/legacy/track5.opus": ogg(melody(4.0, seed=6)),
        "usr/share/doc/warzone2100-music/copyright": b"Files: *\nCopyright: x\nLicense: GPL-2+\n",
    })
    build_deb(debs, "neverball-common", {
        "usr/share/games/neverball/" + ODD_FILE: ogg(melody(4.0, seed=7)),
        "usr/share/games/neverball/bgm/jingle.ogg": short,
        "usr/share/games/neverball/snd/coin.ogg": short,
        "usr/share/games/neverball/snd/bump.ogg": short,
        "usr/share/doc/neverball-common/copyright": (
            b"This is free software under the GNU General Public License, either version 2 "
            b"of the License, or (at your option) any later version.\n"),
    })
    cycle = melody(CYCLE, seed=8)
    looped = np.tile(cycle, 4)[: int(3.4 * CYCLE * SR)]
    build_deb(debs, "planetblupi-music-ogg", {
        "usr/share/planetblupi/music/music000.ogg": ogg(looped),
        "usr/share/planetblupi/music/music004.ogg": ogg(melody(25.0, seed=9)),
        "usr/share/doc/planetblupi-music-ogg/copyright": b"Files: *\nLicense: GPL-3+\n",
    })
    np.save(cache / "cycle.npy", cycle)
    return cache


@pytest.fixture(scope="package")
def fetched(cache: Path,
            tmp_path_factory: pytest.TempPathFactory) -> tuple[fetch.FetchReport, Path]:
    dest = tmp_path_factory.mktemp("dest")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fetch_layout, "MIN_SECONDS", 3.0)
        mp.setattr(fetch_apt, "_run", _no_apt(fetch_apt._run))
        report = fetch.fetch_packages(
            ["ufoai-music", "warzone2100-music", "neverball-common", "planetblupi-music-ogg"],
            cache=cache, dest=dest)
    return report, dest


def _no_apt(run: _Run) -> _Run:
    def guarded(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        assert cmd[0] != "apt-get", "debs are in the cache: nothing may be downloaded"
        return run(cmd, **kw)
    return guarded


def sidecar(dest: Path, rel: str) -> dict[str, Any]:
    path = dest / rel
    data: dict[str, Any] = json.loads(path.with_name(path.stem + ".tags.json").read_text("utf-8"))
    return data
