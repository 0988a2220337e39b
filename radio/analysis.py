"""Audio analysis: pure functions on arrays. CONTRACT STUB - the analysis helper fills this in.

Never opens files, never touches the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

ANALYSIS_VERSION = 1


@dataclass(frozen=True)
class Cue:
    """A phrase-aligned point where a mix may leave (exit) or join (entry) a track."""

    kind: Literal["exit", "entry"]
    time: float  # seconds from the start of the file
    beat_index: int  # index into Analysis.beats
    phrase: int  # the largest of 32/16/8 beats this downbeat is aligned to (counted from the first downbeat)


@dataclass
class Analysis:
    """Everything ingestion stores for one track. Arrays go to features/<hash>.npz."""

    version: int
    duration: float  # seconds, whole file
    audible_start: float  # seconds, first sample above the silence threshold
    audible_end: float
    tempo: float  # BPM
    tempo_confidence: float  # 0..1
    beats: np.ndarray  # float64 seconds
    downbeats: np.ndarray  # float64 seconds, subset of beats
    key: str  # pitch class name, e.g. "F#"
    mode: Literal["major", "minor"]
    key_confidence: float  # 0..1
    camelot: str  # e.g. "8B"
    lufs: float  # integrated loudness, ITU-R BS.1770
    loudness_curve: np.ndarray  # float32 short-term loudness (LUFS) per hop
    loudness_hop: float  # seconds between loudness_curve values
    summary: np.ndarray  # float32 fixed-length timbre/spectral summary
    summary_names: tuple[str, ...]
    cues: list[Cue] = field(default_factory=list)


def analyse(*, y: np.ndarray, sr: int) -> Analysis:
    """Analyse one track. ``y`` is float32, shape (n,) or (channels, n)."""
    raise NotImplementedError
