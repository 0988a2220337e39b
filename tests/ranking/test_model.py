"""The continuation model's behaviour: it learns, it round-trips, its API is strict."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import cast

import numpy as np
import pytest
import torch

from ranking import ContinuationModel
from ranking.errors import ClipError, ModelLoadError
from ranking.evaluate import build_eval_set, evaluate
from ranking.model import ContinuationNet, ModelConfig
from ranking.pairs import TrackMel
from ranking.train import TrainConfig, train
from tests.ranking.conftest import FIXTURE_TRAIN, make_tracks

CFG = ModelConfig()


def _cut_pairs(tracks: list[TrackMel], *, per_track: int,
               seed: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(A clips, B clips): ``per_track`` random beat cuts of each track, in track order."""
    rng = np.random.default_rng(seed)
    a, b = [], []
    for t in tracks:
        assert t.audio is not None
        for cut in rng.choice(t.cuts, per_track, replace=False):
            c = int(cut) * CFG.hop
            a.append(t.audio[c - CFG.clip_samples : c])
            b.append(t.audio[c : c + CFG.clip_samples])
    return a, b


def test_model_trained_a_few_steps_beats_chance_on_unseen_songs(trained_model_path: Path):
    model = ContinuationModel.load(trained_model_path)
    unseen = make_tracks(6, seed=99)
    ev = build_eval_set(unseen, clip_hops=CFG.clip_hops, hop=CFG.hop, sr=CFG.sr, n_anchors=40)
    result = evaluate(model, ev, baselines=False)
    m = result["model"]
    assert m["recall1_other"] > 0.3  # chance is 0.1
    assert m["auc_other"] > 0.8
    assert m["auc_same"] > 0.6
    assert model.net.fine is not None and "model_without_fine_seam" in result


def test_fine_seam_alone_tells_the_true_continuation_from_the_same_song_elsewhere(
        trained_model_path: Path):
    model = ContinuationModel.load(trained_model_path)
    assert float(model.net.fine_cal[0]) != 0.0  # calibrated into the sum
    unseen = make_tracks(6, seed=98)
    ev = build_eval_set(unseen, clip_hops=CFG.clip_hops, hop=CFG.hop, sr=CFG.sr, n_anchors=40)
    e_a, s_a = model.features(list(ev.clips), ev.sr, "exit")
    e_b, s_b = model.features(list(ev.clips), ev.sr, "entry")
    has = ev.same[:, 0] >= 0
    a, t, s = ev.anchors[has], ev.truth[has], ev.same[has, 0]
    fine_true = model.seam_logits(e_a[a], s_a[a], e_b[t], s_b[t])[1]
    fine_same = model.seam_logits(e_a[a], s_a[a], e_b[s], s_b[s])[1]
    assert (fine_true > fine_same).mean() > 0.6  # chance is 0.5


def test_consecutive_clips_score_above_shuffled(trained_model_path: Path):
    model = ContinuationModel.load(trained_model_path)
    a, b = _cut_pairs(make_tracks(4, seed=7), per_track=5, seed=3)
    true_p = model.score_pairs(a, b, CFG.sr)
    shuffled = model.score_pairs(a, b[5:] + b[:5], CFG.sr)  # other songs' continuations
    assert true_p.mean() > shuffled.mean() + 0.2
    assert np.all((true_p >= 0) & (true_p <= 1))


def test_save_load_round_trip_keeps_config_and_scores(trained_model_path: Path, tmp_path: Path):
    model = ContinuationModel.load(trained_model_path)
    copy = tmp_path / "copy.pt"
    model.save(copy)
    again = ContinuationModel.load(copy)
    assert again.config == model.config
    rng = np.random.default_rng(0)
    clips = [rng.standard_normal(CFG.clip_samples).astype(np.float32) for _ in range(3)]
    np.testing.assert_allclose(again.embed_exits(clips, CFG.sr), model.embed_exits(clips, CFG.sr))
    assert again.scale == pytest.approx(model.scale)
    assert again.meta["train_tracks"] == 16


def test_embeddings_are_unit_rows_and_dot_product_is_monotone_in_probability():
    model = ContinuationModel(net=ContinuationNet(ModelConfig(seam_frames=0)).eval())
    rng = np.random.default_rng(1)
    clips = [rng.standard_normal(44100 * 5).astype(np.float32) * 0.1 for _ in range(5)]
    e_a, e_b = model.embed_exits(clips, 44100), model.embed_entries(clips, 44100)
    assert e_a.dtype == np.float32 and e_a.shape == (5, CFG.dim)
    np.testing.assert_allclose(np.linalg.norm(e_a, axis=1), 1.0, atol=1e-5)
    dots = (e_a[:, None, :] * e_b[None, :, :]).sum(-1).ravel()
    p = model.probability(dots)
    assert np.all(np.diff(p[np.argsort(dots)]) >= 0)
    np.testing.assert_allclose(model.score_pairs(clips, clips, 44100), np.diag(
        model.probability(e_a @ e_b.T)), rtol=1e-5)


def test_seam_re_ranker_scores_from_stored_features_equal_scores_from_clips():
    model = ContinuationModel(net=ContinuationNet(CFG).eval())
    assert model.has_seam
    rng = np.random.default_rng(4)
    clips = [rng.standard_normal(22050 * 5).astype(np.float32) * 0.1 for _ in range(4)]
    e_a, s_a = model.features(clips, 22050, "exit")
    e_b, s_b = model.features(clips[::-1], 22050, "entry")
    # The lag term's frames follow: A's whole log-mel, B's first ``lag_after`` frames.
    assert s_a.shape == (4, CFG.seam_size + CFG.n_mels * CFG.clip_frames)
    assert s_b.shape == (4, CFG.seam_size + CFG.n_mels * CFG.lag_after)
    assert s_a.dtype == np.float32
    assert CFG.seam_size == (CFG.n_mels * CFG.seam_frames + CFG.fine_mels * CFG.fine_frames
                             + CFG.splice_order + 1
                             + max(CFG.splice_order, CFG.splice_span, CFG.splice_reach)
                             + CFG.splice_reach
                             # tone: 2048-point bins 7-640, 54.7 Hz to 5 kHz, two windows
                             + 2 * 634)
    np.testing.assert_allclose(model.score_features(e_a, s_a, e_b, s_b),
                               model.score_pairs(clips, clips[::-1], 22050), atol=1e-6)


def test_clip_handling_any_rate_stereo_nan_silence_and_errors():
    model = ContinuationModel(net=ContinuationNet(CFG).eval())
    rng = np.random.default_rng(2)
    mono = rng.standard_normal(48000 * 5).astype(np.float32) * 0.1
    stereo = np.stack([mono, mono])
    # stereo in either orientation equals its mono mix
    np.testing.assert_allclose(model.embed_exits([stereo], 48000),
                               model.embed_exits([mono], 48000), atol=1e-5)
    np.testing.assert_allclose(model.embed_exits([stereo.T], 48000),
                               model.embed_exits([mono], 48000), atol=1e-5)
    bad = mono.copy()
    bad[100:200] = np.nan
    bad[300] = np.inf
    assert np.isfinite(model.score_pairs([bad], [mono], 48000)).all()
    silent = np.zeros(8000 * 5, dtype=np.float32)
    assert np.isfinite(model.score_pairs([silent], [silent], 8000)).all()
    with pytest.raises(ClipError, match="shorter than the model's context"):
        model.score_pairs([mono[:48000]], [mono], 48000)
    with pytest.raises(ClipError, match="pair them"):
        model.score_pairs([mono, mono], [mono], 48000)
    with pytest.raises(ClipError, match="sample rate"):
        model.embed_entries([mono], 0)
    assert model.score_pairs([], [], 16000).shape == (0,)


def test_load_reports_missing_or_corrupt_checkpoints(tmp_path: Path):
    with pytest.raises(ModelLoadError, match="cannot load"):
        ContinuationModel.load(tmp_path / "nope.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelLoadError):
        ContinuationModel.load(junk)


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return cast(dict[str, torch.Tensor], torch.load(path, weights_only=False)["state"])


class _Interrupt(Exception):
    pass


def test_training_is_deterministic_and_resumes_exactly(synthetic_tracks: list[TrackMel],
                                                        tmp_path: Path):
    tr, va = synthetic_tracks[:8], synthetic_tracks[16:]
    cfg = TrainConfig(epochs=2, steps_per_epoch=3, batch_size=6, calib_pairs=40, seed=5,
                      fine_steps=3, fine_batch=6, tone_steps=3, tone_batch=6, lag_steps=3,
                lag_batch=6)
    first = train(tr, va, out=tmp_path / "a.pt", cfg=cfg)
    train(tr, va, out=tmp_path / "b.pt", cfg=cfg)
    wa, wb = _weights(tmp_path / "a.pt"), _weights(tmp_path / "b.pt")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)

    def stop_in_epoch_two(step: int, total: int, info: dict[str, float]) -> None:
        if step == cfg.steps_per_epoch + 2:
            raise _Interrupt

    with pytest.raises(_Interrupt):
        train(tr, va, out=tmp_path / "c.pt", cfg=cfg, progress=stop_in_epoch_two)
    assert not (tmp_path / "c.pt").exists()
    assert torch.load(tmp_path / "c.pt.state", weights_only=False)["epoch"] == 1
    resumed = train(tr, va, out=tmp_path / "c.pt", cfg=cfg, resume=True)
    assert resumed.history == first.history
    wc = _weights(tmp_path / "c.pt")
    assert all(torch.equal(wa[k], wc[k]) for k in wa)


def test_bfloat16_training_is_deterministic_and_learns(synthetic_tracks: list[TrackMel],
                                                      tmp_path: Path):
    tr, va = synthetic_tracks[:8], synthetic_tracks[16:]
    tiny = dict(epochs=1, steps_per_epoch=3, batch_size=6, calib_pairs=40, seed=5,
                fine_steps=3, fine_batch=6, tone_steps=3, tone_batch=6, lag_steps=3,
                lag_batch=6)
    for name, precision in (("a", "bfloat16"), ("b", "bfloat16"), ("f", "float32")):
        train(tr, va, out=tmp_path / f"{name}.pt", cfg=TrainConfig(**tiny, precision=precision))
    wa, wb, wf = (_weights(tmp_path / f"{n}.pt") for n in "abf")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    # Every stage ran in the other arithmetic: towers, fine seam and tone net all moved apart.
    for part in ("exit_tower.", "fine.", "tone."):
        assert any(not torch.equal(wa[k], wf[k]) for k in wa if k.startswith(part)), part
    assert all(v.dtype != torch.bfloat16 for v in wa.values())  # weights stay float32
    assert ContinuationModel.load(tmp_path / "a.pt").meta["train_config"]["precision"] == \
        "bfloat16"
    with pytest.raises(ValueError, match="precision"):
        TrainConfig(precision="float16")
    # It learns as float32 does (`test_consecutive_clips_score_above_shuffled`), on unseen songs.
    train(synthetic_tracks[:16], va, out=tmp_path / "m.pt",
          cfg=replace(FIXTURE_TRAIN, precision="bfloat16"))
    model = ContinuationModel.load(tmp_path / "m.pt")
    a, b = _cut_pairs(make_tracks(4, seed=7), per_track=5, seed=3)
    other = b[5:] + b[:5]  # other songs' continuations
    true_p, shuffled = model.score_pairs(a, b, CFG.sr), model.score_pairs(a, other, CFG.sr)
    assert true_p.mean() > shuffled.mean() + 0.2
    e_a = model.embed_exits(a, CFG.sr)
    dot_true = (e_a * model.embed_entries(b, CFG.sr)).sum(1)
    dot_other = (e_a * model.embed_entries(other, CFG.sr)).sum(1)
    assert (dot_true[:, None] > dot_other[None, :]).mean() > 0.8  # the towers' AUC; chance 0.5


def test_shipped_weights_load_and_prefer_true_continuations():
    model = ContinuationModel.load()  # the default weights inside the package
    assert model.has_seam and model.meta["train_tracks"] > 100
    assert len(model.meta["groups"]) == 8  # the eight development packages
    a, b = _cut_pairs(make_tracks(3, seed=21, seconds=30), per_track=4, seed=8)
    true_p = model.score_pairs(a, b, CFG.sr)
    other_p = model.score_pairs(a, b[4:] + b[:4], CFG.sr)
    assert np.median(true_p) > np.median(other_p)


def test_checkpoints_from_before_the_fine_seam_load_and_resume(synthetic_tracks: list[TrackMel],
                                                               tmp_path: Path):
    old_cfg = ModelConfig(fine_frames=0, tone_channels=0)
    net = ContinuationNet(old_cfg).eval()
    path = tmp_path / "old.pt"
    ContinuationModel(net=net).save(path)
    ckpt = torch.load(path, weights_only=False)
    old_keys = ("fine", "splice", "tone")  # what checkpoints from before all three lack
    ckpt["config"] = {k: v for k, v in ckpt["config"].items() if not k.startswith(old_keys)}
    ckpt["state"] = {k: v for k, v in ckpt["state"].items() if not k.startswith(old_keys)}
    torch.save(ckpt, path)
    old = ContinuationModel.load(path)
    assert old.net.fine is None and old.config.seam_size == CFG.n_mels * CFG.seam_frames
    assert not old.config.splice_order and old.net.tone is None
    # A stage-one training state without fine-seam weights resumes into stages two and three.
    tr, va = synthetic_tracks[:6], synthetic_tracks[16:]
    cfg = TrainConfig(epochs=1, steps_per_epoch=2, batch_size=6, calib_pairs=40, seed=3,
                      fine_steps=2, fine_batch=6, tone_steps=2, tone_batch=6,
                      lag_steps=2, lag_batch=6)
    train(tr, va, out=tmp_path / "m.pt", cfg=cfg)
    state_path = tmp_path / "m.pt.state"
    st = torch.load(state_path, weights_only=False)
    st["state"] = {k: v for k, v in st["state"].items() if not k.startswith(old_keys)}
    torch.save(st, state_path)
    resumed = ContinuationModel.load(train(tr, va, out=tmp_path / "m.pt", cfg=cfg,
                                           resume=True).checkpoint)
    assert resumed.net.fine is not None and resumed.config.splice_size
    assert resumed.net.tone is not None
    with pytest.raises(RuntimeError, match="does not fit"):
        st["state"]["exit_tower.stray"] = torch.zeros(1)
        torch.save(st, state_path)
        train(tr, va, out=tmp_path / "m.pt", cfg=cfg, resume=True)
