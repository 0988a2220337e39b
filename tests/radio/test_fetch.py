"""radio.fetch and its fetch_* modules on tiny fake Debian packages built with ``dpkg-deb -b``.

No network.

Known answers: the cycle length a looped file was built from, the titles written into an
``album.json``, the file names (odd characters included) and licences put into each package.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from radio import fetch, fetch_apt, fetch_catalog, fetch_layout, fetch_loops
from radio.errors import FetchError

SR = 22050
CYCLE = 10.731  # seconds: the known answer of the looped file
ODD_MEMBER = "music/Ça va – l'été (mix) [1] #2.ogg"
ODD_FILE = "bgm/track ü & 'quote' $x.ogg"

pytestmark = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")


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
    return (0.5 * y / np.max(np.abs(y))).astype(np.float32)


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


@pytest.fixture(scope="module")
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


@pytest.fixture(scope="module")
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


def _no_apt(run):  # type: ignore[no-untyped-def]
    def guarded(cmd, **kw):  # type: ignore[no-untyped-def]
        assert cmd[0] != "apt-get", "debs are in the cache: nothing may be downloaded"
        return run(cmd, **kw)
    return guarded


def sidecar(dest: Path, rel: str) -> dict:  # type: ignore[type-arg]
    path = dest / rel
    return json.loads(path.with_name(path.stem + ".tags.json").read_text("utf-8"))


def test_only_music_is_laid_out_with_odd_names_intact(fetched) -> None:
    report, dest = fetched
    tracks = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*")
                    if p.suffix in (".ogg", ".opus", ".flac"))
    assert tracks == sorted([
        "neverball-common/" + ODD_FILE,
        "planetblupi-music-ogg/music/music000.flac",
        "planetblupi-music-ogg/music/music004.ogg",
        "ufoai-music/" + ODD_MEMBER,
        "ufoai-music/music/Song1.ogg",
        "warzone2100-music/albums/legacy/track4.opus",
        "warzone2100-music/albums/legacy/track5.opus",
        "warzone2100-music/menu.ogg",
    ])
    by_name = {p.package: p for p in report.packages}
    assert [p.package for p in report.packages] == [
        "ufoai-music", "warzone2100-music", "neverball-common", "planetblupi-music-ogg"]
    assert by_name["ufoai-music"].tracks == 2
    reasons = {s.path: s.reason for s in by_name["ufoai-music"].skipped}
    assert "dynamic-music" in reasons["0music.pk3/music/dynamictest-battle.ogg"]
    assert "outside" in reasons["0music.pk3/sound/explosion.ogg"]
    never = {s.path: s.reason for s in by_name["neverball-common"].skipped}
    assert "shorter than 3 s" in never["bgm/jingle.ogg"]
    assert never["2 audio files outside bgm"] == "sound effects and voices, not music"
    assert report.tracks == 8 and report.bytes > 0 and report.seconds > 40


def test_sidecars_carry_album_style_and_album_json_titles(fetched) -> None:
    _, dest = fetched
    t4 = sidecar(dest, "warzone2100-music/albums/legacy/track4.opus")
    assert t4["title"] == "Uncertain Future" and t4["artist"] == "LupusMechanicus"
    assert t4["album"] == "Warzone 2100" and "Legacy Soundtrack" in t4["comment"]
    assert t4["tags"] == ["warzone2100-music", fetch_catalog.STYLES["warzone2100-music"]]
    assert sidecar(dest, "warzone2100-music/albums/legacy/track5.opus")["title"] == "Recovery Ops"
    assert sidecar(dest, "warzone2100-music/menu.ogg")["title"] == "Menu"  # from the file name
    odd = sidecar(dest, "ufoai-music/" + ODD_MEMBER)
    assert odd["album"] == "UFO: Alien Invasion" and odd["tags"][0] == "ufoai-music"
    for style in fetch_catalog.STYLES.values():
        assert style, "every package needs an honest style label"


def test_licences_are_kept_and_matched_per_file(fetched) -> None:
    report, dest = fetched
    lic = dest / "LICENSES"
    assert (lic / "ufoai-music.copyright").read_text() == DEP5
    assert (lic / "warzone2100-music.albums_legacy_license.txt").is_file()
    manifest = json.loads((dest / "manifest.json").read_text())
    ufo = manifest["packages"]["ufoai-music"]
    per_file = {f["path"]: f["licence"] for f in ufo["files"]}
    assert per_file["ufoai-music/music/Song1.ogg"] == "CC-BY-SA-3.0"
    assert per_file["ufoai-music/" + ODD_MEMBER] == "GPL-2+"
    assert ufo["licence"] == "CC-BY-SA-3.0 / GPL-2+" and ufo["version"] == "1.0-1"
    by_name = {p.package: p for p in report.packages}
    assert by_name["neverball-common"].licence == "GPL-2+"  # from free text, not DEP-5


def test_looped_file_is_cut_to_one_cycle(fetched, cache: Path) -> None:
    _, dest = fetched
    cut, rate = sf.read(dest / "planetblupi-music-ogg/music/music000.flac", dtype="float32")
    assert rate == SR
    assert abs(len(cut) / SR - CYCLE) < 0.003
    cycle = np.load(cache / "cycle.npy")
    n = min(len(cut), len(cycle))
    mono = cut if cut.ndim == 1 else cut.mean(axis=1)
    assert np.corrcoef(mono[:n], cycle[:n])[0, 1] > 0.95  # the cycle, not a shifted window
    whole, _ = sf.read(dest / "planetblupi-music-ogg/music/music004.ogg")
    assert abs(len(whole) / SR - 25.0) < 0.05  # no repeat: kept whole
    files = {f["path"]: f for f in json.loads((dest / "manifest.json").read_text())
             ["packages"]["planetblupi-music-ogg"]["files"]}
    info = files["planetblupi-music-ogg/music/music000.flac"]
    assert info["cycles"] == pytest.approx(3.4, abs=0.02)
    assert info["loop_match"] > 0.95
    assert "3.40 times" in sidecar(dest, "planetblupi-music-ogg/music/music000.flac")["comment"]


def test_second_run_is_quick_and_rewrites_nothing(fetched, cache: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    report, dest = fetched
    flac = dest / "planetblupi-music-ogg/music/music000.flac"
    before = flac.stat().st_mtime_ns
    monkeypatch.setattr(fetch_layout, "MIN_SECONDS", 3.0)
    monkeypatch.setattr(fetch_apt, "_run", _no_apt(fetch_apt._run))
    monkeypatch.setattr(fetch_loops, "decode", lambda *a, **k: pytest.fail("decoded again"))
    start = time.perf_counter()
    again = fetch.fetch_packages([p.package for p in report.packages], cache=cache, dest=dest)
    assert time.perf_counter() - start < 5
    assert flac.stat().st_mtime_ns == before
    assert [(p.package, p.tracks, p.bytes, p.downloaded) for p in again.packages] == [
        (p.package, p.tracks, p.bytes, False) for p in report.packages]


def test_find_loop_period_known_answers(rng: np.random.Generator) -> None:
    sr = 4000
    cycle = melody(12.5, seed=11, sr=sr)
    looped = np.tile(cycle, 3) + 0.003 * rng.standard_normal(3 * cycle.size).astype(np.float32)
    assert fetch_loops.find_loop_period(looped, sr=sr) == cycle.size
    # A piece that repeats a phrase but does not loop: A A B C.
    a = melody(11.0, seed=12, sr=sr)
    song = np.concatenate([a, a, melody(11.0, seed=13, sr=sr), melody(11.0, seed=14, sr=sr)])
    assert fetch_loops.find_loop_period(song, sr=sr) is None
    assert fetch_loops.find_loop_period(melody(40.0, seed=15, sr=sr), sr=sr) is None
    assert fetch_loops.find_loop_period(np.zeros(60 * sr, dtype=np.float32), sr=sr) is None


def test_missing_deb_runs_apt_update_once(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    def fake_run(cmd, *, cwd=None, timeout=600):  # type: ignore[no-untyped-def]
        calls.append(cmd)
        if cmd[:2] == ["apt-get", "download"] and ["apt-get", "update"] in calls:
            (cwd / "asc-music_1.3-6_all.deb").write_bytes(b"deb")
            return subprocess.CompletedProcess(cmd, 0, "", "")
        if cmd[:2] == ["apt-get", "download"]:
            return subprocess.CompletedProcess(cmd, 100, "", "E: Unable to locate package x")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(fetch_apt, "_run", fake_run)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    deb, downloaded = fetch_apt._find_or_download("asc-music", tmp_path, fetch_apt._AptUpdater(),
                                                  lambda _m: None)
    assert downloaded and deb.name == "asc-music_1.3-6_all.deb"
    assert [c[:2] for c in calls] == [["apt-get", "download"], ["apt-get", "update"],
                                      ["apt-get", "download"]]
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    calls.clear()
    with pytest.raises(FetchError, match="sudo apt-get update"):
        fetch_apt._find_or_download("nexuiz-music", tmp_path, fetch_apt._AptUpdater(),
                                    lambda _m: None)


def test_unknown_names_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="unknown corpus"):
        fetch.fetch_corpus("nope", cache=tmp_path, dest=tmp_path / "d")  # type: ignore[arg-type]
    with pytest.raises(FetchError, match="no music layout known for foo"):
        fetch.fetch_packages(["foo"], cache=tmp_path, dest=tmp_path / "d")
    assert set(fetch_catalog.DEV_PACKAGES) == {
        "ufoai-music", "warzone2100-music", "nexuiz-music", "hedgewars-data", "drascula-music",
        "flare-game", "asc-music", "planetblupi-music-ogg"}
    assert fetch_catalog.CI_PACKAGES == ("neverball-common", "xmoto-data")
