"""General MIDI packages: WAD lumps found, MIDI rendered by fluidsynth into FLAC tracks.

Fake ``openttd-openmsx`` and ``freedoom`` packages hold MIDI written here byte by byte, so the
answers are known: a held A4 lasts four seconds at 120 BPM and sounds at 440 Hz; one WAD lump
repeats another's bytes; a ``.mid`` that is not MIDI is reported, not laid out. The two soundfont
packages both carry Debian's small TimGM6mb soundfont (under their own file names), so the test
needs fluidsynth and timgm6mb-soundfont, which ``make dev`` installs. No network.
"""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from radio import fetch, fetch_apt, fetch_layout, fetch_midi
from radio.errors import FetchError
from radio.fetch_sources import wad_music
from tests.radio.conftest import _no_apt, build_deb, sidecar
from tests.synth import TIMGM

pytestmark = pytest.mark.skipif(
    shutil.which("fluidsynth") is None or shutil.which("dpkg-deb") is None or not TIMGM.exists(),
    reason="needs fluidsynth, dpkg-deb and the TimGM6mb soundfont")

TPQ, BPM = 480, 120.0  # ticks per quarter note; a beat is half a second


def smf(notes: list[tuple[int, float, float]], *, program: int = 0, end: bool = True) -> bytes:
    """A one-track Standard MIDI File: (MIDI note, start beat, length in beats) at `BPM`.

    ``end=False`` leaves every note without its note-off (a note that never ends).
    """
    events = []
    for note, start, length in notes:
        events.append((round(start * TPQ), 0x90, note, 100))
        if end:
            events.append((round((start + length) * TPQ), 0x80, note, 0))
    track = b"\x00\xff\x51\x03" + round(60e6 / BPM).to_bytes(3, "big")
    track += bytes([0, 0xC0, program])
    now = 0
    for tick, status, note, velocity in sorted(events):
        track += _vlq(tick - now) + bytes([status, note, velocity])
        now = tick
    track += b"\x00\xff\x2f\x00"
    return (b"MThd" + struct.pack(">ihhh", 6, 0, 1, TPQ)
            + b"MTrk" + struct.pack(">i", len(track)) + track)


def _vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def wad(lumps: list[tuple[str, bytes]]) -> bytes:
    """A Doom IWAD holding ``lumps`` (name, bytes) in order."""
    body, directory, at = b"", b"", 12
    for name, data in lumps:
        directory += struct.pack("<ii8s", at if data else 0, len(data), name.encode())
        body += data
        at += len(data)
    return b"IWAD" + struct.pack("<ii", len(lumps), at) + body + directory


HELD_A4 = smf([(69, 0.0, 8.0)], program=73)  # four seconds of A4 on a flute
TUNE = smf([(60 + (k * 5) % 12, k * 0.5, 0.5) for k in range(12)], program=24)  # 6 s, guitar
ROCK = smf([(40 + (k * 7) % 12, k * 0.5, 0.5) for k in range(10)], program=30)  # 5 s


@pytest.fixture(scope="module")
def gm(tmp_path_factory: pytest.TempPathFactory) -> tuple[fetch.FetchReport, Path, Path]:
    cache = tmp_path_factory.mktemp("gm-cache")
    debs = cache / "debs"
    font = TIMGM.read_bytes()
    build_deb(debs, "fluid-soundfont-gm", {
        "usr/share/sounds/sf2/FluidR3_GM.sf2": font,
        "usr/share/doc/fluid-soundfont-gm/copyright": b"Files: *\nLicense: MIT\n"})
    build_deb(debs, "timgm6mb-soundfont", {
        "usr/share/sounds/sf2/TimGM6mb.sf2": font,
        "usr/share/doc/timgm6mb-soundfont/copyright": b"Files: *\nLicense: GPL-2\n"})
    # Like the real package: its licence.txt links to Debian's common-licenses, outside the .deb.
    openmsx = cache / "build/openttd-openmsx/usr/share/games/openttd/baseset/openmsx"
    openmsx.mkdir(parents=True)
    (openmsx / "license.txt").symlink_to("../../../../common-licenses/GPL-2")
    build_deb(debs, "openttd-openmsx", {
        "usr/share/games/openttd/baseset/openmsx/held_a4.mid": HELD_A4,
        "usr/share/games/openttd/baseset/openmsx/city_tune.mid": TUNE,
        "usr/share/games/openttd/baseset/openmsx/broken.mid": b"not a MIDI file at all",
        "usr/share/games/openttd/baseset/openmsx/openmsx.obm": b"[metadata]\n",
        "usr/share/doc/openttd-openmsx/copyright": b"Files: *\nLicense: GPL-2.0\n"})
    playpal = bytes(range(256)) * 3
    build_deb(debs, "freedoom", {
        "usr/share/games/doom/freedoom1.wad": wad([
            ("PLAYPAL", playpal), ("D_E1M1", ROCK), ("F_START", b""), ("D_INTRO", b"MUS\x1a")]),
        "usr/share/games/doom/freedoom2.wad": wad([
            ("D_RUNNIN", TUNE), ("D_SAME", ROCK), ("PLAYPAL", playpal)]),
        "usr/share/doc/freedoom/copyright": b"Files: *\nLicense: BSD-3-clause\n"})
    dest = cache / "gm"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fetch_layout, "MIN_SECONDS", 3.0)
        mp.setattr(fetch_apt, "_run", _no_apt(fetch_apt._run))
        report = fetch.fetch_corpus("gm", cache=cache, dest=dest)
    return report, cache, dest


def _files(dest: Path) -> dict[str, dict[str, Any]]:
    manifest = json.loads((dest / "manifest.json").read_text("utf-8"))
    return {f["path"]: f for p in manifest["packages"].values() for f in p["files"]}


def test_midi_is_rendered_into_tracks_and_odd_lumps_are_reported(gm) -> None:
    report, _cache, dest = gm
    assert sorted(_files(dest)) == [
        "freedoom/freedoom1/D_E1M1.flac", "freedoom/freedoom2/D_RUNNIN.flac",
        "openttd-openmsx/city_tune.flac", "openttd-openmsx/held_a4.flac"]
    by_name = {p.package: p for p in report.packages}
    assert [p.package for p in report.packages] == ["openttd-openmsx", "freedoom"]
    assert {s.path: s.reason for s in by_name["freedoom"].skipped} == {
        "freedoom2.wad/D_SAME": "the same music as freedoom1.wad/D_E1M1"}
    broken = {s.path: s.reason for s in by_name["openttd-openmsx"].skipped}
    assert broken == {"broken.mid": "not decodable (not-midi)"}
    assert by_name["freedoom"].style == "rock" and by_name["openttd-openmsx"].style == "jazz"
    for package in ("freedoom", "openttd-openmsx", "fluid-soundfont-gm", "timgm6mb-soundfont"):
        assert (dest / "LICENSES" / f"{package}.copyright").is_file()
    link_note = (dest / "LICENSES/openttd-openmsx.license.txt").read_text("utf-8")
    assert link_note == ("license.txt in openttd-openmsx is a link to "
                         "../../../../common-licenses/GPL-2\n")
    assert sidecar(dest, "freedoom/freedoom2/D_RUNNIN.flac")["title"] == "RUNNIN"
    tags = sidecar(dest, "openttd-openmsx/held_a4.flac")
    assert tags["title"] == "Held A 4" and tags["tags"] == ["openttd-openmsx", "jazz"]
    assert "rendered from General MIDI (held_a4.mid)" in tags["comment"]


def test_a_held_a4_renders_as_four_seconds_of_440_hz_peaking_at_minus_1_dbfs(gm) -> None:
    _report, _cache, dest = gm
    y, sr = sf.read(dest / "openttd-openmsx/held_a4.flac", always_2d=True)
    assert sr == fetch_midi.RENDER_SR and y.shape[1] == 2
    assert 20 * np.log10(np.max(np.abs(y))) == pytest.approx(-1.0, abs=0.01)
    loud = np.flatnonzero(np.abs(y[:, 0]) > 0.05)
    assert loud[0] / sr < 0.05 and 3.9 < loud[-1] / sr < 4.6  # the note, then its release
    mono = y[: 2 * sr].mean(axis=1)
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(mono.size)))
    # within 35 cents: a flute sample breathes a little sharp, a semitone away is 100 cents
    assert np.argmax(spectrum) * sr / mono.size == pytest.approx(440.0, rel=0.02)


def test_the_soundfonts_take_turns_and_a_second_run_renders_nothing(
        gm, monkeypatch: pytest.MonkeyPatch) -> None:
    report, cache, dest = gm
    files = _files(dest)
    # In file order: broken.mid (FluidR3_GM, not rendered), city_tune.mid, held_a4.mid.
    order = ["openttd-openmsx/city_tune.flac", "openttd-openmsx/held_a4.flac"]
    assert [files[p]["soundfont"] for p in order] == ["TimGM6mb.sf2", "FluidR3_GM.sf2"]
    monkeypatch.setattr(fetch_apt, "_run", _no_apt(fetch_apt._run))
    monkeypatch.setattr(fetch_layout, "MIN_SECONDS", 3.0)
    monkeypatch.setattr(fetch_midi, "render_midi", lambda *a, **k: pytest.fail("rendered again"))
    again = fetch.fetch_corpus("gm", cache=cache, dest=dest)
    assert [(p.package, p.tracks, p.bytes) for p in again.packages] == [
        (p.package, p.tracks, p.bytes) for p in report.packages]


def test_a_note_that_never_ends_is_cut_at_the_limit(tmp_path: Path) -> None:
    stuck = tmp_path / "stuck.mid"
    stuck.write_bytes(smf([(69, 0.0, 1.0)], program=19, end=False))  # church organ, no note-off
    y = fetch_midi.render_midi(stuck, soundfont=TIMGM, max_seconds=3.0)
    assert y.shape == (2, 3 * fetch_midi.RENDER_SR) and np.abs(y[:, -100:]).max() > 0.01


def test_wad_music_finds_midi_lumps_and_rejects_what_is_not_a_wad(tmp_path: Path) -> None:
    path = tmp_path / "x.wad"
    path.write_bytes(wad([("PLAYPAL", b"\0" * 768), ("D_E1M1", ROCK), ("D_E1M2", b"MUS\x1a" * 8),
                          ("D_BAD/..", TUNE)]))
    assert [lump.name for lump in wad_music(path)] == ["D_E1M1", "D_BAD___"]  # MUS left out
    data = path.read_bytes()
    path.write_bytes(data[:-10])  # the directory cut short
    with pytest.raises(FetchError, match="runs past the end"):
        wad_music(path)
    path.write_bytes(b"PK\x03\x04 a zip, not a wad")
    with pytest.raises(FetchError, match="not a Doom WAD"):
        wad_music(path)
