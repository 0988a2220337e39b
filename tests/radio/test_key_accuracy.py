"""Key accuracy on real scores: the first eight pieces of bench/key_accuracy.py.

Bach chorales from music21's corpus are rendered to audio with fluidsynth at set tempi and
instruments (cached under the system temp dir, shared with the bench), and the estimated key is
scored against the key each score declares with the MIREX weighted score. The bench runs all 42
pieces; this is its fixed, un-picked prefix so the test stays fast.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

from bench.key_accuracy import PIECES, evaluate
from tests.synth import TIMGM

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("fluidsynth") is None or not TIMGM.exists(),
                       reason="needs fluidsynth and the TimGM6mb soundfont"),
]


def test_mirex_key_score_on_eight_chorales() -> None:
    results = evaluate(PIECES[:8], cache=Path(tempfile.gettempdir()) / "radio-key-bench")
    assert len(results) == 8
    scores = [r.key_score for r in results]
    detail = ", ".join(f"{r.name}: {r.truth} -> {r.estimate}" for r in results)
    assert np.mean(scores) >= 0.75, detail
