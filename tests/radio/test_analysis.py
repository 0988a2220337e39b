"""Known-answer tests for radio.analysis on generated audio (see tests/synth.py)."""

from __future__ import annotations

import functools

import mir_eval
import numpy as np
import pyloudnorm
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from radio.analysis import Analysis, analyse
from radio.errors import AnalysisError
from radio.key import PITCHES, camelot, estimate_key
from radio.loudness import audible_range, loudness
from tests import synth

SR = synth.SR


@functools.cache
def _analysed(kind: str, bpm: float, seconds: float = 30.0) -> tuple[synth.Beat, Analysis]:
    """Generate and analyse once per session; several tests read the same result."""
    if kind == "click":
        beat = synth.click_track(bpm=bpm, duration=seconds, accent_every=4)
    elif kind == "plain-click":
        beat = synth.click_track(bpm=bpm, duration=seconds)
    else:
        beat = synth.drum_pattern(bpm=bpm, duration=seconds, style=kind, seed=int(bpm))  # type: ignore[arg-type]
    return beat, analyse(y=beat.y, sr=SR)


# -- tempo and beats ----------------------------------------------------------------------------

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


@pytest.mark.parametrize(("kind", "bpm"), [("rock", 120), ("four", 128), ("click", 100),
                                           ("hiphop", 90), ("dnb", 174)])
def test_downbeats_land_on_the_accented_bar_start(kind: str, bpm: float) -> None:
    beat, a = _analysed(kind, bpm)
    assert np.isin(a.downbeats, a.beats).all()
    assert np.allclose(np.diff(np.flatnonzero(np.isin(a.beats, a.downbeats))), 4)
    err = np.abs(a.downbeats[:, None] - beat.downbeats[None, :]).min(axis=1)
    assert np.all(err <= 0.07), f"downbeats off the bar start by up to {err.max():.3f} s"


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


# -- key ---------------------------------------------------------------------------------------


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


# -- loudness ----------------------------------------------------------------------------------


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


# -- silence, cues, summary ----------------------------------------------------------------------


def test_silence_trim_within_50_ms() -> None:
    y = synth.chord_progression(tonic="D", mode="major", bars=6)
    padded = np.stack([synth.pad(y, before=1.3, after=2.1)] * 2)
    a = analyse(y=padded, sr=SR)
    assert abs(a.audible_start - 1.3) <= 0.05
    assert abs(a.audible_end - (1.3 + y.size / SR)) <= 0.05
    assert a.duration == pytest.approx(padded.shape[1] / SR)
    assert a.beats.min() >= a.audible_start - 0.05
    assert audible_range(y=np.zeros(1000, np.float32), sr=SR) is None


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
