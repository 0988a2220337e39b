"""radio.fetch_credits on the fake packages' fetch (tests/radio/conftest.py): sidecar titles from
``album.json`` and file names, and licences matched per file. No network.
"""

from __future__ import annotations

import json
import shutil

import pytest

from radio import fetch_catalog
from tests.radio.conftest import DEP5, ODD_MEMBER, sidecar

pytestmark = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")


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
