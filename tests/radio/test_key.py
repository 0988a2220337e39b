"""Known-answer tests for radio.key: keys of generated chord progressions (see tests/synth.py),
of symbolic pitch-class profiles, and the Camelot wheel. Real scores: test_key_accuracy.py."""

from __future__ import annotations

import numpy as np
import pytest

from radio.analysis import analyse
from radio.key import PITCHES, camelot, estimate_key
from tests import synth

SR = synth.SR


@pytest.mark.parametrize(("tonic", "mode", "code"), [
    ("C", "major", "8B"), ("A", "minor", "8A"), ("F#", "major", "2B"), ("Eb", "minor", "2A"),
    ("G", "major", "9B"), ("D", "minor", "7A"), ("Bb", "major", "6B"), ("C#", "minor", "12A"),
])
def test_chord_progression_key(tonic: str, mode: str, code: str) -> None:
    y = synth.chord_progression(tonic=tonic, mode=mode, bars=12)  # type: ignore[arg-type]
    a = analyse(y=y, sr=SR)
    assert PITCHES[synth.pitch_class(tonic)] == a.key and a.mode == mode
    assert a.camelot == code
    assert 0.0 <= a.key_confidence <= 1.0


def test_camelot_wheel() -> None:
    assert camelot("C", "major") == "8B" and camelot("A", "minor") == "8A"
    for pc, key in enumerate(PITCHES):
        major = camelot(key, "major")
        assert camelot(PITCHES[(pc + 9) % 12], "minor") == major[:-1] + "A"  # relative minor
        up = int(camelot(PITCHES[(pc + 7) % 12], "major")[:-1])  # a fifth up is one step on
        assert up == int(major[:-1]) % 12 + 1
    assert len({camelot(k, m) for k in PITCHES for m in ("major", "minor")}) == 24


def test_estimate_key_on_symbolic_profiles() -> None:
    # Pitch-class counts of a C major scale with a tonic triad weighted up.
    counts = np.array([3, 0, 1, 0, 2, 1, 0, 2, 0, 1, 0, 1], float)
    for shift in range(12):
        key, mode, _ = estimate_key(chroma=np.roll(counts, shift))
        assert (key, mode) == (PITCHES[shift], "major")
