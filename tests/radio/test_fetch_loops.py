"""radio.fetch_loops: the looped file of the fake packages' fetch (tests/radio/conftest.py) cut to
the cycle it was built from, and `find_loop_period` on known answers. No network.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from radio import fetch_loops
from tests.radio.conftest import CYCLE, SR, melody, sidecar

pytestmark = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")


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
