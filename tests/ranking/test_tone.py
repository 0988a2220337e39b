"""The learned tone term: its spectra's order, and what it learns on generated music."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ranking import ContinuationModel
from ranking.model import ContinuationNet, ModelConfig
from ranking.splice import tone_spectra
from tests.ranking.conftest import make_tracks

CFG = ModelConfig()
SPEC = CFG.splice
C_MAJOR, D_MINOR = [261.6, 329.6, 392.0], [293.7, 349.2, 440.0]


def _chord(freqs: list[float], n: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / CFG.sr
    y = sum(np.sin(2 * np.pi * f * h * t + rng.uniform(0, 2 * np.pi)) / h
            for f in freqs for h in range(1, 4))
    return 0.1 * np.asarray(y) + 0.001 * rng.standard_normal(n)


def test_tone_spectra_come_nearest_the_cut_first(rng: np.random.Generator):
    n, bins = SPEC.tone, SPEC.tone_bins
    assert CFG.has_tone_net and SPEC.tone_windows == 2 and SPEC.width == 2 * n
    # Time runs forward to the cut: C major sounds first, then D minor up to the cut.
    y = np.concatenate([_chord(C_MAJOR, n, rng), _chord(D_MINOR, n, rng)])[None]
    s = tone_spectra(y, spec=SPEC)
    assert s.shape == (1, 2 * bins)
    near_d = tone_spectra(_chord(D_MINOR, 2 * n, rng)[None], spec=SPEC)[0, :bins]
    far_c = tone_spectra(_chord(C_MAJOR, 2 * n, rng)[None], spec=SPEC)[0, :bins]
    assert s[0, :bins] @ near_d > 0.7 and s[0, :bins] @ far_c < 0.3
    assert s[0, bins:] @ far_c > 0.7 and s[0, bins:] @ near_d < 0.3
    with pytest.raises(ValueError, match="tone spectra need"):
        tone_spectra(y[:, -n:], spec=SPEC)


def test_tone_net_reads_the_spectra_stored_with_the_seam_features(rng: np.random.Generator):
    torch.manual_seed(0)
    model = ContinuationModel(net=ContinuationNet(CFG).eval())
    clips = [_chord(C_MAJOR, CFG.clip_samples, rng).astype(np.float32) for _ in range(3)]
    _, s_exit = model.features(clips, CFG.sr, "exit")
    _, s_entry = model.features(clips, CFG.sr, "entry")
    # The spectra end the features both sides share; the lag term's frames follow them.
    end = CFG.seam_size
    assert s_exit.shape == (3, end + CFG.lag_size("exit"))
    assert CFG.splice_size == SPEC.size > 2 * SPEC.tone_bins
    a = torch.from_numpy(s_exit[:, end - 2 * SPEC.tone_bins : end]).reshape(3, 2, -1)
    b = torch.from_numpy(s_entry[:, end - 2 * SPEC.tone_bins : end]).reshape(3, 2, -1)
    assert model.net.tone is not None  # CFG has the tone net (see the test above)
    with torch.no_grad():
        want = model.net.tone(a, b).numpy()
    np.testing.assert_allclose(model.tone_logits(s_exit, s_entry), want, rtol=1e-5, atol=1e-6)
    # Without the term its logits are zeros and its checkpoints have no weights for it.
    bare = ContinuationModel(net=ContinuationNet(ModelConfig(tone_channels=0)).eval())
    assert bare.net.tone is None and not np.any(bare.tone_logits(s_exit, s_entry))


def test_trained_tone_term_finds_true_continuations(trained_model_path: Path):
    from ranking.evaluate import build_eval_set, evaluate

    model = ContinuationModel.load(trained_model_path)
    assert model.net.tone is not None and float(model.net.tone_cal[0]) > 0
    ev = build_eval_set(make_tracks(6, seed=97), clip_hops=CFG.clip_hops, hop=CFG.hop,
                        sr=CFG.sr, n_anchors=40)
    result = evaluate(model, ev, baselines=False)
    # Alone, after 40 steps, against the same song elsewhere (chance is 0.5).
    assert result["tone_net_alone"]["auc_same"] > 0.75
    assert result["model"]["recall1_same"] >= result["model_without_tone_net"]["recall1_same"]
