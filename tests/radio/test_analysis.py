"""Known-answer tests for radio.analysis on generated audio (see tests/synth.py): the timbre
summary (radio.spectral, whose names are private: `analyse` is its way in) and what `analyse`
does with bad input. The steps have files of their own: test_beats.py, test_phrases.py,
test_key.py, test_loudness.py."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from radio.analysis import analyse
from radio.errors import AnalysisError
from radio.key import camelot
from tests import synth
from tests.radio.conftest import _analysed

SR = synth.SR


def test_summary_is_fixed_length_and_named() -> None:
    _, short = _analysed("rock", 120)
    _, long = _analysed("click", 120, seconds=120.0)
    assert short.summary.dtype == np.float32
    assert short.summary.shape == long.summary.shape == (len(short.summary_names),)
    assert short.summary_names == long.summary_names
    assert len(set(short.summary_names)) == len(short.summary_names)
    assert np.isfinite(short.summary).all()
    for name in ("mfcc_mean_0", "chroma_mean_C", "centroid_mean", "flatness_std", "zcr_mean",
                 "rolloff_mean", "contrast_0_mean", "band_ratio_bass_mean", "rms_db_mean"):
        assert name in short.summary_names
    assert abs(short.chroma.sum() - 1) < 1e-4


# -- bad input ---------------------------------------------------------------------------------


def test_silent_input_is_an_analysis_error() -> None:
    with pytest.raises(AnalysisError) as err:
        analyse(y=np.zeros((2, SR * 10), np.float32), sr=SR)
    assert err.value.reason == "silent"
    quiet = 10 ** (-70 / 20) * synth.sine(freq=440.0, dbfs=0.0, duration=10.0)
    with pytest.raises(AnalysisError, match="silent"):
        analyse(y=quiet, sr=SR)


def test_three_seconds_is_too_short() -> None:
    beat = synth.drum_pattern(bpm=120, duration=3.0)
    with pytest.raises(AnalysisError) as err:
        analyse(y=synth.pad(beat.y, before=5.0, after=5.0), sr=SR)
    assert err.value.reason == "too-short"


def test_nan_and_inf_samples_count_as_zero() -> None:
    beat = synth.drum_pattern(bpm=120, duration=20.0, seed=9)
    y = beat.y.copy()
    y[::997] = np.nan
    y[5000] = np.inf
    y[7000] = -np.inf
    a = analyse(y=y, sr=SR)
    assert np.isfinite(a.lufs) and np.isfinite(a.tempo) and np.isfinite(a.summary).all()
    assert abs(a.tempo - 120) <= 2.4


def test_mono_and_stereo_agree() -> None:
    beat = synth.drum_pattern(bpm=128, duration=20.0, style="four", seed=2)
    mono = analyse(y=beat.y, sr=SR)
    stereo = analyse(y=np.stack([beat.y, beat.y]), sr=SR)
    assert mono.tempo == pytest.approx(stereo.tempo)
    np.testing.assert_allclose(mono.beats, stereo.beats)
    assert (mono.key, mono.mode) == (stereo.key, stereo.mode)
    # BS.1770 sums channel powers: dual mono is 3.01 dB louder than one channel.
    assert stereo.lufs - mono.lufs == pytest.approx(10 * np.log10(2), abs=0.01)


def test_bad_shape_is_an_analysis_error() -> None:
    with pytest.raises(AnalysisError, match="bad-shape"):
        analyse(y=np.zeros((2, 3, 4), np.float32), sr=SR)


def test_empty_input_is_too_short() -> None:
    with pytest.raises(AnalysisError) as err:
        analyse(y=np.zeros((2, 0), np.float32), sr=SR)
    assert err.value.reason == "too-short"


@settings(max_examples=12, deadline=None)
@given(
    seconds=st.floats(min_value=0.5, max_value=9.0),
    level_db=st.floats(min_value=-80.0, max_value=6.0),
    tone=st.floats(min_value=30.0, max_value=8000.0),
    channels=st.sampled_from([1, 2]),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_any_input_gives_a_well_formed_analysis_or_an_analysis_error(
    seconds: float, level_db: float, tone: float, channels: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    y = 10 ** (level_db / 20) * (0.5 * np.sin(2 * np.pi * tone * t) + 0.5 * rng.standard_normal(n))
    y = np.stack([y] * channels).astype(np.float32) if channels == 2 else y.astype(np.float32)
    try:
        a = analyse(y=y, sr=SR)
    except AnalysisError as err:
        assert err.reason in ("silent", "too-short")
        return
    assert 0 <= a.audible_start < a.audible_end <= a.duration + 1e-9
    assert a.audible_end - a.audible_start >= 5.0
    assert np.all(np.diff(a.beats) > 0) and np.isin(a.downbeats, a.beats).all()
    assert a.tempo >= 0 and 0 <= a.tempo_confidence <= 1 and 0 <= a.key_confidence <= 1
    assert a.camelot == camelot(a.key, a.mode)
    assert np.isfinite(a.lufs) and np.isfinite(a.summary).all()
    assert all(a.beats[c.beat_index] == c.time for c in a.cues)
