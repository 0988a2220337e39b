"""The lag term: how the music repeats itself across the cut (`ranking.layers.lag_matrix`,
`LagNet`) and what it learns."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from ranking.inference import ContinuationModel
from ranking.layers import lag_matrix
from ranking.model import ModelConfig

from .conftest import make_tracks

CFG = ModelConfig()
KW = dict(gap=CFG.clip_hops - CFG.clip_frames, lags=CFG.lag_lags, before=CFG.lag_before,
          after=CFG.lag_after)


def _periodic(period: int, frames: int, *, seed: int) -> torch.Tensor:
    """(1, n_mels, frames) log-mel in dB that repeats every ``period`` frames."""
    rng = np.random.default_rng(seed)
    bar = rng.uniform(-60, 0, size=(CFG.n_mels, period))
    return torch.from_numpy(np.tile(bar, frames // period + 1)[:, :frames]).float()[None]


def test_lag_matrix_of_music_that_repeats_every_bar():
    period = 24  # frames: a bar of 0.48 s, of unrelated frames
    song = _periodic(period, 600, seed=1)
    cut = 300  # A ends a few frames before the cut (a frame spans more than one hop)
    tail = song[..., cut - CFG.clip_hops : cut - CFG.clip_hops + CFG.clip_frames]
    z = lag_matrix(tail, song[..., cut : cut + CFG.lag_after], **KW)
    assert z.shape == (1, 3, CFG.lag_lags // 2, (CFG.lag_before + CFG.lag_after) // 2)
    cos, in_b, straddles = z[0, 0].numpy(), z[0, 1].numpy(), z[0, 2].numpy()
    # Cells average lags 2k+1 and 2k+2: lag 24 sits in row 11 beside lag 23. Before the cut
    # every frame matches the one a bar earlier (cosine 1) and no other (near 0, give or take
    # 0.2), so row 11 reads about 0.5 and row 10 about 0.
    before, after = slice(0, CFG.lag_before // 2), slice(CFG.lag_before // 2, None)
    seen = slice(0, CFG.lag_before // 2 - 2)  # the last 3 frames before the cut read 0
    row = period // 2 - 1
    assert abs(cos[row, seen].mean() - 0.5) < 0.1 and cos[row, seen].min() > 0.3
    assert abs(cos[row - 1, seen].mean()) < 0.1
    assert np.all(cos[:, CFG.lag_before // 2 - 1] < 0.5)
    # The true continuation carries on matching a bar back across the cut; B from the same
    # song a third of a bar off does not (within B, it repeats itself as well as any). Medians:
    # a few cells reach back into the frames the cut hides, which read 0.
    off = lag_matrix(tail, song[..., cut + 8 : cut + 8 + CFG.lag_after], **KW)[0, 0].numpy()
    across = straddles[row] == 1.0
    assert across.sum() >= 8
    assert abs(np.median(cos[row, across]) - 0.5) < 0.15
    assert abs(np.median(off[row, across])) < 0.15
    # The masks: B's frames are the later half; pairs straddle the cut only after it, at
    # lags longer than their distance from it.
    assert in_b[:, before].sum() == 0.0 and in_b[:, after].min() == 1.0
    assert straddles[:, before].sum() == 0.0 and straddles[0, -1] == 0.0
    assert straddles[-1, after].min() == 1.0


def test_lag_matrix_ignores_loudness_and_refuses_lags_beyond_a():
    rng = np.random.default_rng(3)
    a = torch.from_numpy(rng.uniform(-60, 0, (2, CFG.n_mels, CFG.clip_frames))).float()
    b = torch.from_numpy(rng.uniform(-60, 0, (2, CFG.n_mels, CFG.lag_after))).float()
    z = lag_matrix(a, b, **KW)
    torch.testing.assert_close(lag_matrix(a - 12.0, b - 12.0, **KW), z, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="before A's first frame"):
        lag_matrix(a, b, **{**KW, "lags": CFG.clip_hops})


def test_trained_lag_term_prefers_the_true_continuation(trained_model_path: Path):
    from ranking.evaluate import build_eval_set, evaluate

    model = ContinuationModel.load(trained_model_path)
    assert model.net.lag is not None and float(model.net.lag_cal[0]) != 0.0
    ev = build_eval_set(make_tracks(6, seed=97), clip_hops=CFG.clip_hops, hop=CFG.hop,
                        sr=CFG.sr, n_anchors=40)
    result = evaluate(model, ev, baselines=False)
    # Chance is 0.5: the generated songs change chord every two beats, and B must go on
    # changing where A did.
    assert result["lag_alone"]["auc_other"] > 0.6 and result["lag_alone"]["auc_same"] > 0.6


def test_evaluate_scores_each_pair_once_as_direct_scoring_would(trained_model_path: Path):
    from ranking.evaluate import build_eval_set, evaluate, score_structure

    model = ContinuationModel.load(trained_model_path)
    ev = build_eval_set(make_tracks(4, seed=96), clip_hops=CFG.clip_hops, hop=CFG.hop,
                        sr=CFG.sr, n_anchors=24)
    result = evaluate(model, ev, baselines=False)
    e_a, s_a = model.features(list(ev.clips), ev.sr, "exit")
    e_b, s_b = model.features(list(ev.clips), ev.sr, "entry")
    direct: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
        "model": lambda a, b: model.score_features(e_a[a], s_a[a], e_b[b], s_b[b]),
        "lag_alone": lambda a, b: model.lag_logits(s_a[a], s_b[b]),
        "model_without_lag": lambda a, b: model.combine(
            model.term_logits(e_a[a], s_a[a], e_b[b], s_b[b]), lag=False),
    }
    for name, fn in direct.items():
        want = score_structure(ev, fn)
        assert {k: result[name][k] for k in want} == pytest.approx(want, abs=1e-9)
