from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ranking.model import ModelConfig
from ranking.pairs import TrackMel, beat_cut_frames
from ranking.train import track_logmel
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


@pytest.fixture(scope="session")
def synthetic_tracks() -> list[TrackMel]:
    torch.set_num_threads(1)
    return make_tracks(20, seed=1)


@pytest.fixture(scope="session")
def trained_model_path(tmp_path_factory: pytest.TempPathFactory,
                       synthetic_tracks: list[TrackMel]) -> Path:
    from ranking.train import TrainConfig, train

    out = tmp_path_factory.mktemp("model") / "m.pt"
    train(synthetic_tracks[:16], synthetic_tracks[16:], out=out,
          cfg=TrainConfig(epochs=2, steps_per_epoch=15, batch_size=12, calib_pairs=160,
                          fine_steps=40, fine_batch=12, tone_steps=40, tone_batch=12))
    return out
