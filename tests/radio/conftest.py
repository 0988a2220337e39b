"""Helpers shared by the radio test modules.

`_analysed` generates known-answer audio (see tests/synth.py) and analyses it once per session:
the beat, phrase, loudness and analysis tests read the same results.
"""

from __future__ import annotations

import functools

from radio.analysis import Analysis, analyse
from tests import synth

SR = synth.SR


@functools.cache
def _analysed(kind: str, bpm: float, seconds: float = 30.0) -> tuple[synth.Beat, Analysis]:
    """Generate and analyse once per session; several tests read the same result."""
    if kind == "click":
        beat = synth.click_track(bpm=bpm, duration=seconds, accent_every=4)
    elif kind == "plain-click":
        beat = synth.click_track(bpm=bpm, duration=seconds)
    else:
        beat = synth.drum_pattern(bpm=bpm, duration=seconds, style=kind, seed=int(bpm))  # type: ignore[arg-type]
    return beat, analyse(y=beat.y, sr=SR)
