"""radio.fetch on tiny fake Debian packages built with ``dpkg-deb -b`` (tests/radio/conftest.py):
what is laid out and reported, the second run, unknown names, and fetch_apt's one
``apt-get update``. Sidecars and licences: test_fetch_credits.py; loops: test_fetch_loops.py.

No network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from radio import fetch, fetch_apt, fetch_catalog, fetch_layout, fetch_loops
from radio.errors import FetchError
from tests.radio.conftest import ODD_FILE, ODD_MEMBER, _no_apt

pytestmark = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")


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


def test_missing_deb_runs_apt_update_once(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    def fake_run(cmd, *, cwd=None, timeout=600):
        calls.append(cmd)
        if cmd[:2] == ["apt-get", "download"] and ["apt-get", "update"] in calls:
            (cwd / "asc-music_1.3-6_all.deb").write_bytes(b"deb")
            return subprocess.CompletedProcess(cmd, 0, "", "")
        if cmd[:2] == ["apt-get", "download"]:
            return subprocess.CompletedProcess(cmd, 100, "", "E: Unable to locate package x")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(fetch_apt, "_run", fake_run)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    deb, downloaded = fetch_apt.find_or_download("asc-music", tmp_path, fetch_apt.AptUpdater(),
                                                 lambda _m: None)
    assert downloaded and deb.name == "asc-music_1.3-6_all.deb"
    assert [c[:2] for c in calls] == [["apt-get", "download"], ["apt-get", "update"],
                                      ["apt-get", "download"]]
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    calls.clear()
    with pytest.raises(FetchError, match="sudo apt-get update"):
        fetch_apt.find_or_download("nexuiz-music", tmp_path, fetch_apt.AptUpdater(),
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
