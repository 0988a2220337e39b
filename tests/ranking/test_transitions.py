"""ranking.transitions: the score tensor against a plain loop, and the soft musical terms. No
torch, no audio: synthetic candidates only."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ranking.transitions import (
    Candidate,
    SoftWeights,
    camelot_steps,
    key_relation,
    score_tensor,
    tempo_ratio,
)
from tests.ranking.conftest import synthetic


def test_score_tensor_matches_a_loop_and_masks_missing_cues(rng: np.random.Generator) -> None:
    cands = synthetic(5, rng, cues=3)
    w = SoftWeights(tempo=0.0, key=0.0, loudness=0.0)
    s = score_tensor(cands, scale=7.0, bias=-1.5, weights=w)
    for i, j in itertools.product(range(5), range(5)):
        for a in range(3):
            for b in range(3):
                got = s.logp[i, a, j, b]
                if i == j or a >= len(cands[i].exit_times) or b >= len(cands[j].entry_times):
                    assert got == -np.inf
                    continue
                dot = float(cands[i].exit_vectors[a] @ cands[j].entry_vectors[b])
                assert got == pytest.approx(-np.log1p(np.exp(-(7.0 * dot - 1.5))), abs=1e-5)


def test_soft_terms() -> None:
    assert tempo_ratio(120, 240) == pytest.approx(1.0)
    assert tempo_ratio(120, 126) == pytest.approx(1.05)
    assert camelot_steps("8A", "8A") == 0 and camelot_steps("8A", "8B") == 1
    assert camelot_steps("12A", "1A") == 1 and camelot_steps("8A", "3B") == 6
    assert key_relation("8A", "8B") == "relative" and key_relation("8A", "9A") == "+1 fifth"
    assert key_relation("8A", "2A") == "clash" and key_relation("", "2A") == ""
    vec = np.ones((1, 4)) / 2

    def cand(tempo: float, camelot: str, lufs: float) -> Candidate:
        return Candidate(0, vec, vec, np.array([100.0]), np.array([10.0]), 0.0, 120.0,
                         tempo=tempo, camelot=camelot, lufs=lufs)

    w = SoftWeights(tempo=1.0, tempo_tolerance=0.05, key=0.5, loudness=0.3, loudness_free_db=3)
    s = score_tensor([cand(120, "8A", -10), cand(240, "8A", -10), cand(126, "9B", -19)],
                     scale=1.0, bias=0.0, weights=w)
    assert s.soft[0, 1] == pytest.approx(0.0)  # double time, same key, same loudness
    # 5 % faster = one tolerance; two Camelot steps = 0.6; 9 dB jump = 6 dB past the free 3
    assert s.soft[0, 2] == pytest.approx(-1.0 - 0.5 * 0.6 - 0.3, abs=1e-5)
    assert np.all(s.score[0, 0, 1, 0] == s.logp[0, 0, 1, 0] + s.soft[0, 1])
