"""Known-answer tests for radio.loudness (BS.1770 loudness and the silence gate) on generated
audio (see tests/synth.py)."""

from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest

from radio.analysis import analyse
from radio.loudness import audible_range, loudness
from tests import synth
from tests.radio.conftest import _analysed

SR = synth.SR


@pytest.mark.parametrize("dbfs", [-23.0, -33.0])
def test_lufs_on_ebu_tech_3341_sines(dbfs: float) -> None:
    """EBU Tech 3341 (2016) test cases 1 and 2: a stereo 1 kHz sine whose peak is X dBFS in
    each channel reads X LUFS (+-0.1 LU there; 0.5 LU asked of us, at 22050 Hz)."""
    y = synth.sine(freq=1000.0, dbfs=dbfs, duration=20.0, channels=2)
    lufs, curve = loudness(y=y, sr=SR)
    assert abs(lufs - dbfs) <= 0.1
    assert np.all(np.abs(curve[15:-15] - dbfs) <= 0.1)  # full 3 s windows


def test_lufs_mono_is_one_channel() -> None:
    """ITU-R BS.1770-4: a 0 dBFS 1 kHz sine in one front channel reads -3.01 LKFS."""
    y = synth.sine(freq=1000.0, dbfs=0.0, duration=10.0, channels=1)
    assert abs(loudness(y=y, sr=SR)[0] + 3.01) <= 0.1


def test_lufs_matches_pyloudnorm_meter() -> None:
    beat = synth.drum_pattern(bpm=120, duration=20, seed=5)
    y = np.stack([beat.y, 0.5 * beat.y])
    ours, _ = loudness(y=y, sr=SR)
    ref = pyloudnorm.Meter(SR).integrated_loudness(y.T.astype(np.float64))
    assert abs(ours - ref) <= 0.01


def test_loudness_curve_shape_and_hop() -> None:
    _, a = _analysed("rock", 120)
    assert a.loudness_hop == pytest.approx(0.1)
    assert a.loudness_curve.dtype == np.float32
    assert len(a.loudness_curve) == pytest.approx(a.duration / a.loudness_hop + 1, abs=1)


def test_silence_trim_within_50_ms() -> None:
    y = synth.chord_progression(tonic="D", mode="major", bars=6)
    padded = np.stack([synth.pad(y, before=1.3, after=2.1)] * 2)
    a = analyse(y=padded, sr=SR)
    assert abs(a.audible_start - 1.3) <= 0.05
    assert abs(a.audible_end - (1.3 + y.size / SR)) <= 0.05
    assert a.duration == pytest.approx(padded.shape[1] / SR)
    assert a.beats.min() >= a.audible_start - 0.05
    assert audible_range(y=np.zeros(1000, np.float32), sr=SR) is None
