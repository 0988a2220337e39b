"""Splice continuity: known answers on generated waveforms, and its place in the model."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg

from ranking import ContinuationModel
from ranking.model import ContinuationNet, ModelConfig
from ranking.pairs import TrackMel
from ranking.splice import _levinson, clip_features, pair_logits
from ranking.train import extend, recalibrate, train
from tests.ranking.conftest import FIXTURE_TRAIN, make_tracks

CFG = ModelConfig()
SPEC = CFG.splice
KW = {"spec": SPEC}
W = SPEC.width


def _tones(rng: np.random.Generator, n: int, samples: int) -> np.ndarray:
    """Rows of three random partials (100-2000 Hz at 16 kHz) in a little white noise."""
    t = np.arange(samples) / CFG.sr
    rows = []
    for _ in range(n):
        f = rng.uniform(100, 2000, 3)
        ph = rng.uniform(0, 2 * np.pi, 3)
        parts = zip(f, ph, strict=True)
        y = sum(np.sin(2 * np.pi * fi * t + p) / (k + 1) for k, (fi, p) in enumerate(parts))
        rows.append(0.3 * y + 0.003 * rng.standard_normal(samples))
    return np.asarray(rows, dtype=np.float32)


def test_levinson_matches_a_direct_toeplitz_solve(rng: np.random.Generator):
    x = rng.standard_normal((5, 400))
    r = np.stack([np.correlate(v, v, "full")[399:399 + 17] for v in x])
    a = _levinson(r, 16)
    for row, ri in zip(a, r, strict=True):
        np.testing.assert_allclose(-row[1:], scipy.linalg.solve_toeplitz(ri[:16], ri[1:17]),
                                   rtol=1e-8, atol=1e-10)


def test_a_waveform_that_runs_on_scores_near_zero_and_a_splice_far_below(
        rng: np.random.Generator):
    y = _tones(rng, 20, 2 * W)
    exits = clip_features(y[:, :W], side="exit", **KW)
    assert exits.shape == (20, SPEC.size) and SPEC.n_logits == 5
    true = pair_logits(exits, clip_features(y[:, W:], side="entry", **KW), **KW)
    # The same tones restarted a quarter period or more out of phase: the rows rolled by one.
    spliced = pair_logits(exits, clip_features(np.roll(y, 1, 0)[:, W:], side="entry", **KW),
                          **KW)
    # Closed loop: the error across the cut stays at its level inside, or jumps far above it.
    assert np.median(true[:, :2]) > -1.0 and np.median(spliced[:, :2]) < -4.0
    # Reach: three steady partials are foretold 2 ms ahead to within a small fraction of
    # their energy (median error under 1 %); another row's tones are not foretold.
    assert np.min(true[:, 2:4]) > 2.0 and np.median(true[:, 2:4]) > np.log(100)
    assert np.median(spliced[:, 2:4]) < 0.0
    # Tone: the same three partials ring on both sides; another row's random partials hardly
    # overlap theirs. (The noise floor's own ripples, independent on each side, keep even
    # steady tones' correlation near 0.8.)
    assert np.min(true[:, 4]) > np.arctanh(0.6) and np.median(true[:, 4]) > np.arctanh(0.8)
    assert np.median(np.abs(spliced[:, 4])) < 0.2
    assert np.all(true.sum(1) > spliced.sum(1))


def test_the_very_same_song_a_period_later_is_not_a_splice(rng: np.random.Generator):
    # A 250 Hz tone repeats exactly every 64 samples: jumping a whole number of periods is
    # seamless, and the measure must say so (it hears the waveform, not the clock).
    t = np.arange(4 * W) / CFG.sr
    y = (0.5 * np.sin(2 * np.pi * 250 * t) + 0.003 * rng.standard_normal(t.size))[None]
    exits = clip_features(y[:, :W], side="exit", **KW)
    ahead = pair_logits(exits, clip_features(y[:, W + 640 : 2 * W + 640], side="entry", **KW),
                        **KW)
    off = pair_logits(exits, clip_features(y[:, W + 32 : 2 * W + 32], side="entry", **KW), **KW)
    assert ahead.min() > -1.0 and off[:, :2].max() < -4.0
    assert ahead[:, 2:4].min() > 3.0 and off[:, 2:4].max() < 0.0  # half a period out: opposite
    # Tone hears which pitches sound, not their phase: the same note either way.
    assert ahead[:, 4].min() > np.arctanh(0.6) and np.abs(ahead[:, 4] - off[:, 4]).max() < 0.1


def _notes(freqs: list[float], *, seconds: float, rng: np.random.Generator,
           bright: float) -> np.ndarray:
    """Struck notes (harmonics decaying at 6 dB per partial times ``bright``), random phases,
    in a little noise, at the model's rate."""
    t = np.arange(round(seconds * CFG.sr)) / CFG.sr
    y = np.zeros_like(t)
    for f in freqs:
        for h in range(1, 6):
            y += bright ** (h - 1) / h * np.sin(2 * np.pi * f * h * t + rng.uniform(0, 2 * np.pi))
    y *= np.exp(-3.0 * t)
    return (0.2 * y + 0.002 * rng.standard_normal(t.size)).astype(np.float32)


def test_tone_hears_the_same_notes_across_the_cut_and_not_others(rng: np.random.Generator):
    c_major, d_minor = [261.6, 329.6, 392.0], [293.7, 349.2, 440.0]
    a = np.stack([_notes(c_major, seconds=0.3, rng=rng, bright=0.5)[::-1] for _ in range(4)])
    # B strikes its chord anew, on a brighter instrument, with its own phases: the waveform
    # does not run on, but the notes do.
    same = np.stack([_notes(c_major, seconds=0.3, rng=rng, bright=0.8) for _ in range(4)])
    other = np.stack([_notes(d_minor, seconds=0.3, rng=rng, bright=0.8) for _ in range(4)])
    exits = clip_features(a, side="exit", **KW)
    held = pair_logits(exits, clip_features(same, side="entry", **KW), **KW)[:, 4]
    moved = pair_logits(exits, clip_features(other, side="entry", **KW), **KW)[:, 4]
    assert held.min() > np.arctanh(0.6) and np.abs(moved).max() < np.arctanh(0.2)


def test_silence_and_tiny_windows(rng: np.random.Generator):
    zeros = np.zeros((2, W), dtype=np.float32)
    z = pair_logits(clip_features(zeros, side="exit", **KW),
                    clip_features(zeros, side="entry", **KW), **KW)
    assert np.all(np.isfinite(z)) and np.all(np.abs(z) <= 12.0)
    loud = clip_features(_tones(rng, 2, W), side="entry", **KW)
    z = pair_logits(clip_features(zeros, side="exit", **KW), loud, **KW)
    assert np.all(np.isfinite(z)) and z[:, 0].max() < -4.0  # sound out of silence: a splice
    assert np.all(np.abs(z[:, 2]) < 1e-6)  # silence foretells nothing, right or wrong
    assert np.all(z[:, 4] == 0.0)  # and has no partials to share
    with pytest.raises(ValueError, match="splice features need"):
        clip_features(zeros[:, :40], side="exit", **KW)
    with pytest.raises(ValueError, match="windows over twice their orders"):
        clip_features(zeros, side="exit", spec=replace(SPEC, reach_order=W // 2))
    with pytest.raises(ValueError, match="tone band"):
        clip_features(zeros, side="exit", spec=replace(SPEC, tone_band=(0, W)))


def test_trained_model_weighs_the_splice_term_and_it_finds_true_continuations(
        trained_model_path: Path):
    from ranking.evaluate import build_eval_set, evaluate

    model = ContinuationModel.load(trained_model_path)
    # Closed loop carries the weight on generated music; reach, collinear with it there, may
    # take a little either way.
    d = model.net.splice_cal.numpy()
    assert model.config.splice_size and np.all(d[:2] > 0) and d[2:].sum() > -0.1
    ev = build_eval_set(make_tracks(6, seed=97), clip_hops=CFG.clip_hops, hop=CFG.hop,
                        sr=CFG.sr, n_anchors=40)
    result = evaluate(model, ev, baselines=False)
    assert result["splice_alone"]["auc_same"] > 0.8  # chance is 0.5
    assert result["model"]["recall1_same"] >= result["model_without_splice"]["recall1_same"]


def test_an_older_model_gains_splice_and_tone_terms_as_training_with_them_gives(
        synthetic_tracks: list[TrackMel], trained_model_path: Path, tmp_path: Path):
    # The same run as the `trained_model_path` fixture, under a config without the splice term
    # (and so without the learned tone term, which reads the splice term's spectra), nor the
    # lag term.
    cfg = FIXTURE_TRAIN
    tr, val = synthetic_tracks[:16], synthetic_tracks[16:]
    old = train(tr, val, out=tmp_path / "old.pt",
                model_cfg=ModelConfig(splice_order=0, lag_channels=0), cfg=cfg)
    older = ContinuationModel.load(old.checkpoint)
    assert not older.config.splice_size and older.net.tone is None and older.net.lag is None
    # Calibration alone cannot add a term with weights; `extend` trains it.
    with pytest.raises(ValueError, match="only the splice"):
        recalibrate(older, val, model_cfg=CFG, cfg=cfg)
    with pytest.raises(ValueError, match="only the splice"):
        recalibrate(older, val, model_cfg=ModelConfig(dim=64), cfg=cfg)
    with pytest.raises(ValueError, match="only the splice, learned tone and lag"):
        extend(older, tr, val, model_cfg=ModelConfig(dim=64), cfg=cfg)
    new = extend(older, tr, val, model_cfg=CFG, cfg=cfg)
    want = ContinuationModel.load(trained_model_path).net.state_dict()
    got = new.net.state_dict()
    assert got.keys() == want.keys()
    for k in want:
        assert bool((got[k] == want[k]).all()), k
    # A model from before the reach logits (three splice weights) gains them by calibration.
    closed = recalibrate(new, val, model_cfg=replace(CFG, splice_reach=0), cfg=cfg)
    assert closed.net.splice_cal.shape == (3,) and closed.config.splice_size < CFG.splice_size
    again = recalibrate(closed, val, model_cfg=CFG, cfg=cfg).net.state_dict()
    for k in want:
        assert bool((again[k] == want[k]).all()), k


@pytest.mark.parametrize("sr", [16000, 22050, 44100, 48000])
def test_a_song_cut_at_any_rate_still_runs_on_across_the_cut(sr: int):
    from tests.ranking.music import song

    # Resampling each side on its own must not bend the cut: A and B of one song, given at
    # the caller's rate, keep splice logits near zero once at the model's rate.
    model = ContinuationModel(net=ContinuationNet(CFG).eval())
    rng = np.random.default_rng(5)
    y, _ = song(rng, seconds=10.0, sr=sr)
    a, b = [], []
    # Cuts between the generator's events: a chord that starts (on beats 4.0, 5.0) or is
    # stopped dead (5.2 s) right at a cut is a real break in the waveform, and reads as one.
    for cut_s in (4.3, 4.9, 5.1, 5.77):
        cut = int(cut_s * sr)
        a.append(y[:cut])
        b.append(y[cut:])
    _, s_a = model.features(a, sr, "exit")
    _, s_b = model.features(b, sr, "entry")
    true = model.splice_logits(s_a, s_b)
    spliced = model.splice_logits(s_a, np.roll(s_b, 1, 0))
    assert true.min() > -1.5 and spliced.sum(1).max() < -4.0
