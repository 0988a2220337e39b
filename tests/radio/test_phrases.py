"""Known-answer tests for radio.phrases (downbeats and phrase cues, through
radio.analysis.analyse) on generated audio (see tests/synth.py)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.radio.conftest import _analysed


@pytest.mark.parametrize(("kind", "bpm"), [("rock", 120), ("four", 128), ("click", 100),
                                           ("hiphop", 90), ("dnb", 174)])
def test_downbeats_land_on_the_accented_bar_start(kind: str, bpm: float) -> None:
    beat, a = _analysed(kind, bpm)
    assert np.isin(a.downbeats, a.beats).all()
    assert np.allclose(np.diff(np.flatnonzero(np.isin(a.beats, a.downbeats))), 4)
    err = np.abs(a.downbeats[:, None] - beat.downbeats[None, :]).min(axis=1)
    assert np.all(err <= 0.07), f"downbeats off the bar start by up to {err.max():.3f} s"


def test_cues_on_a_long_click_track() -> None:
    beat, a = _analysed("click", 120, seconds=120.0)
    entries = [c for c in a.cues if c.kind == "entry"]
    exits = [c for c in a.cues if c.kind == "exit"]
    assert len(entries) >= 4 and len(exits) >= 4
    middle = (a.audible_start + a.audible_end) / 2
    first = int(np.flatnonzero(a.beats == a.downbeats[0])[0])
    assert first == a.first_downbeat
    for c in a.cues:
        assert c.time == a.beats[c.beat_index]
        assert c.time in a.downbeats
        assert np.abs(beat.downbeats - c.time).min() <= 0.07  # a true bar start
        distance = c.beat_index - first
        assert distance % 8 == 0
        assert c.phrase == max(p for p in (32, 16, 8) if distance % p == 0)
    assert all(c.time < middle for c in entries)
    assert all(c.time >= middle for c in exits)
    assert any(c.phrase == 32 for c in entries) and any(c.phrase == 32 for c in exits)
