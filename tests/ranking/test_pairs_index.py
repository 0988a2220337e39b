"""Pair sampling, splits, metrics and the cue index: known answers on small inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ranking.calibration import calibrate
from ranking.evaluate import expected_calibration_error, roc_auc
from ranking.index import CueIndex
from ranking.pairs import PairSampler, TrackMel, beat_cut_frames, split_tracks


def _track(i: int, group: str, frames: int = 3000, tempo: float = 120.0, camelot: str = "8A"):
    mel = np.full((4, frames), float(i), dtype=np.float32)
    cuts = np.arange(250, frames - 250, 25, dtype=np.int64)
    return TrackMel(f"t{i}", group, mel, cuts, tempo=tempo, camelot=camelot)


def test_beat_cut_frames_keep_only_cuts_where_both_clips_fit():
    beats = np.arange(0.0, 20.0, 0.5)
    cuts = beat_cut_frames(beats, n_frames=1000, hop_s=0.02, clip_hops=200, clip_frames=197)
    assert cuts.min() >= 200 and cuts.max() + 197 <= 1000
    np.testing.assert_array_equal(np.diff(cuts), 25)  # 0.5 s at 20 ms hops
    spaced = beat_cut_frames(beats, n_frames=1000, hop_s=0.02, clip_hops=200, clip_frames=197,
                             min_spacing_s=2.0)
    assert np.all(np.diff(spaced) >= 100)


def test_split_by_group_never_leaks_a_held_out_group():
    tracks = [_track(i, f"g{i % 3}") for i in range(30)]
    train, val, test = split_tracks(tracks, holdout_groups=["g2"], val_fraction=0.2, seed=1)
    assert {t.group for t in test} == {"g2"}
    assert not {t.track_id for t in train} & {t.track_id for t in val}
    assert all(t.group != "g2" for t in train + val)
    assert len(train) + len(val) + len(test) == 30


def test_sampler_negatives_are_what_they_claim():
    tracks = [_track(i, "g", tempo=120.0 if i < 4 else 90.0, camelot="8A" if i < 4 else "3B")
              for i in range(8)]
    s = PairSampler(tracks, clip_hops=200, clip_frames=197, hop_s=0.02, min_gap_s=8.0, seed=0)
    batch = s.sample(8)
    assert len(set(batch.a[:, 0])) == 8  # distinct tracks per batch
    np.testing.assert_array_equal(batch.a[:, 0], batch.b[:, 0])
    np.testing.assert_array_equal(batch.b[:, 1] - batch.a[:, 1], 200)
    same, sim, easy = batch.neg["same"], batch.neg["similar"], batch.neg["easy"]
    np.testing.assert_array_equal(same[:, 0], batch.a[:, 0])
    assert np.all(np.abs(same[:, 1] - batch.b[:, 1]) >= 400)
    assert np.all(easy[:, 0] != batch.a[:, 0])
    for (ti, _), (k, _) in zip(batch.a, sim, strict=True):
        assert k != ti and (k < 4) == (ti < 4)  # similar tempo and key only
    w = s.windows(batch.a)
    assert w.shape == (8, 4, 197)
    np.testing.assert_array_equal(w[:, 0, 0], batch.a[:, 0])  # each window is its track's


def test_a_single_track_sampler_has_no_other_song_negatives():
    s = PairSampler([_track(0, "g")], clip_hops=200, clip_frames=197, hop_s=0.02, seed=0)
    batch = s.sample(4)
    assert (batch.neg["easy"] == -1).all() and (batch.neg["same"][:, 0] == 0).all()
    train, val, _ = split_tracks([_track(i, "g") for i in range(8)], val_fraction=0.1)
    assert len(val) == 2 and len(train) == 6


def test_roc_auc_and_ece_known_answers():
    assert roc_auc(np.array([3.0, 4.0]), np.array([1.0, 2.0])) == 1.0
    assert roc_auc(np.array([1.0]), np.array([1.0])) == 0.5
    assert roc_auc(np.array([1.0, 3.0]), np.array([2.0])) == 0.5
    p = np.array([0.9] * 10 + [0.1] * 10)
    y = np.array([1] * 9 + [0] + [0] * 9 + [1])
    assert expected_calibration_error(p, y) == pytest.approx(0.0)
    assert expected_calibration_error(np.full(4, 0.75), np.array([1, 1, 0, 0])) == 0.25


def test_platt_calibration_recovers_a_known_logistic():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, 20000)
    y = (rng.uniform(size=x.size) < 1 / (1 + np.exp(-(8.0 * x - 2.0)))).astype(float)
    a, b = calibrate(x, y)
    assert a == pytest.approx(8.0, rel=0.1) and b == pytest.approx(-2.0, abs=0.2)


def test_cue_index_add_replace_remove_search_and_persist(tmp_path: Path):
    ix = CueIndex(dim=4, model_id="m1")
    v = np.eye(4, dtype=np.float32)
    ix.add("exit", np.array([10, 11]), v[:2])
    ix.add("entry", np.array([20, 21, 22]), v[1:])
    scores, ids = ix.search("entry", v[2], 2)
    assert ids[0, 0] == 21 and scores[0, 0] == pytest.approx(1.0)
    ix.add("entry", np.array([21]), v[:1])  # replacing keeps one vector per id
    assert sorted(ix.ids("entry")) == [20, 21, 22]
    np.testing.assert_array_equal(ix.vectors("entry", np.array([21])), v[:1])
    ix.save(tmp_path)
    assert len(CueIndex.load(tmp_path, dim=4, model_id="m1")) == 5
    assert len(CueIndex.load(tmp_path, dim=4, model_id="other-model")) == 0
    ix.remove(np.array([10, 20]))
    assert list(ix.ids("exit")) == [11] and sorted(ix.ids("entry")) == [21, 22]
    with pytest.raises(KeyError, match="cue 99"):
        ix.vectors("entry", np.array([99]))
    with pytest.raises(ValueError):
        ix.add("exit", np.array([1]), np.ones((1, 3), dtype=np.float32))
