"""Helpers shared by the ranking test modules.

`make_tracks` and the session fixtures built on it are generated songs (tests/ranking/music.py)
for the tests that train or run the model. `synthetic` and `scores_of` are candidates with random
cue vectors and their score tensor, for the transition, objective, cue and sequencer tests (no
model, no audio).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ranking.model import ModelConfig
from ranking.pairs import TrackMel, beat_cut_frames
from ranking.train import TrainConfig, track_logmel
from ranking.transitions import Candidate, TransitionScores, score_tensor
from tests.ranking.music import song


def make_tracks(n: int, *, seed: int, seconds: float = 40.0, groups: int = 4) -> list[TrackMel]:
    rng = np.random.default_rng(seed)
    cfg = ModelConfig()
    out = []
    for i in range(n):
        y, beats = song(rng, seconds=seconds, bpm=float(rng.uniform(90, 140)))
        mel = track_logmel(y, cfg)
        cuts = beat_cut_frames(beats, n_frames=mel.shape[1], hop_s=cfg.hop / cfg.sr,
                               clip_hops=cfg.clip_hops, clip_frames=cfg.clip_frames)
        out.append(TrackMel(f"s{seed}-{i}", f"g{i % groups}", mel, cuts, tempo=120.0,
                            camelot="8A", audio=y))
    return out


def synthetic(n: int, rng: np.random.Generator, *, cues: int = 3, artists: int | None = None,
              dim: int = 16) -> list[Candidate]:
    """Songs in a few styles: same-style junctions score high, so an order matters."""
    styles = rng.normal(size=(4, dim))
    out = []
    for i in range(n):
        st_ = styles[rng.integers(4)]
        na, nb = int(rng.integers(1, cues + 1)), int(rng.integers(1, cues + 1))
        ex = st_ + rng.normal(size=(na, dim))
        en = st_ + rng.normal(size=(nb, dim))
        dur = float(rng.uniform(120, 240))
        out.append(Candidate(
            track_id=1000 + i,
            exit_vectors=ex / np.linalg.norm(ex, axis=1, keepdims=True),
            entry_vectors=en / np.linalg.norm(en, axis=1, keepdims=True),
            exit_times=np.sort(dur - rng.uniform(5, 50, na)),
            entry_times=np.sort(rng.uniform(5, 50, nb)), start=0.5, end=dur,
            artist=None if artists is None else f"artist {rng.integers(artists)}",
            tempo=float(rng.choice([90.0, 120.0, 124.0, 180.0])),
            camelot=f"{rng.integers(1, 13)}{'AB'[rng.integers(2)]}",
            lufs=float(rng.uniform(-16, -8))))
    return out


def scores_of(n: int, seed: int, **kw: int | None) -> TransitionScores:
    rng = np.random.default_rng(seed)
    return score_tensor(synthetic(n, rng, **kw), scale=8.0, bias=-2.0)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def synthetic_tracks() -> list[TrackMel]:
    torch.set_num_threads(1)
    return make_tracks(20, seed=1)


# The shared trained model's run (`trained_model_path`): a few steps of every stage. The
# thresholds of the tests using it were set on float32 training; bfloat16 has its own test
# (test_model.py).
FIXTURE_TRAIN = TrainConfig(epochs=2, steps_per_epoch=15, batch_size=12, calib_pairs=160,
                            fine_steps=40, fine_batch=12, tone_steps=40, tone_batch=12,
                            lag_steps=40, lag_batch=12, precision="float32")


@pytest.fixture(scope="session")
def trained_model_path(tmp_path_factory: pytest.TempPathFactory,
                       synthetic_tracks: list[TrackMel]) -> Path:
    from ranking.train import train

    out = tmp_path_factory.mktemp("model") / "m.pt"
    train(synthetic_tracks[:16], synthetic_tracks[16:], out=out, cfg=FIXTURE_TRAIN)
    return out
