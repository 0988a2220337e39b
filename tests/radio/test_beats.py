"""Known-answer tests for radio.beats (tempo and beat times, through radio.analysis.analyse) on
generated audio (see tests/synth.py)."""

from __future__ import annotations

import mir_eval
import numpy as np
import pytest

from tests import synth
from tests.radio.conftest import _analysed

SR = synth.SR


TEMPO_CASES = [
    ("rock", 70), ("hiphop", 90), ("rock", 120), ("four", 128), ("rock", 150), ("dnb", 174),
    ("rock", 180), ("four", 100), ("hiphop", 80), ("plain-click", 70), ("plain-click", 120),
    ("plain-click", 180),
]


@pytest.mark.parametrize(("kind", "bpm"), TEMPO_CASES)
def test_tempo_within_two_percent_without_octave_errors(kind: str, bpm: float) -> None:
    _, a = _analysed(kind, bpm)
    assert abs(a.tempo - bpm) <= 0.02 * bpm, f"{kind} at {bpm}: got {a.tempo:.2f}"
    assert 0.0 <= a.tempo_confidence <= 1.0


@pytest.mark.parametrize(("kind", "bpm"), TEMPO_CASES)
def test_beat_f_measure(kind: str, bpm: float) -> None:
    beat, a = _analysed(kind, bpm)
    # MIREX convention: ignore the first 5 s, 70 ms tolerance window.
    ref, est = mir_eval.beat.trim_beats(beat.beats), mir_eval.beat.trim_beats(a.beats)
    f = mir_eval.beat.f_measure(ref, est, f_measure_threshold=0.07)
    assert f >= 0.9, f"{kind} at {bpm}: F = {f:.3f}"
    assert a.beats.dtype == np.float64 and np.all(np.diff(a.beats) > 0)


def test_block_dp_matches_librosa_beat_tracker() -> None:
    """The vectorised dynamic program is a re-implementation of librosa's (Ellis 2007)."""
    import librosa
    import librosa.beat

    beat = synth.drum_pattern(bpm=110, duration=30, style="rock", seed=3)
    env = librosa.onset.onset_strength(y=beat.y, sr=SR)
    from radio.beats import track_beats

    tempo, _, ours = track_beats(onset=env, sr=SR, hop_length=512)
    _, theirs = librosa.beat.beat_track(onset_envelope=env, sr=SR, bpm=tempo, units="time")
    f = mir_eval.beat.f_measure(theirs, ours * 512 / SR, f_measure_threshold=0.03)
    assert f >= 0.95
