"""A five-song library with known sounds for the search, tag-vote and compare tests.

Three fast, loud, bright songs (two tagged electronic, one untagged), one ambient, one orchestral;
each with two cues, so a cue index can be built over them with chosen vectors.
"""

from __future__ import annotations

import numpy as np

from radio.analysis import ANALYSIS_VERSION, Analysis
from radio.config import Settings
from radio.phrases import Cue
from radio.records import TrackTags
from radio.store import Store
from ranking.index import CueIndex

NAMES = ("centroid_mean", "rms_db_mean", "flatness_mean", "rms_db_std",
         "chroma_mean_C", "chroma_mean_G")

LIBRARY = [  # title, tags, tempo, lufs, camelot, (centroid Hz, rms dB, flatness, spread, C, G)
    ("Neon Grid", ("electronic", "techno"), 140.0, -9.0, "8A",
     (2600.0, -12.0, 0.30, 6.0, 0.9, 0.2)),
    ("Circuit Rain", ("electronic",), 135.0, -10.0, "9A", (2500.0, -13.0, 0.28, 6.5, 0.8, 0.3)),
    ("Glass Dunes", ("ambient",), 70.0, -24.0, "3B", (900.0, -30.0, 0.05, 3.0, 0.1, 0.9)),
    ("Battle Hymn", ("orchestral", "fantasy"), 100.0, -18.0, "8A",
     (1400.0, -20.0, 0.10, 9.0, 0.5, 0.5)),
    ("track05", (), 150.0, -8.0, "8A", (2550.0, -11.0, 0.31, 6.2, 0.85, 0.25)),
]


def analysis(*, tempo: float, lufs: float, camelot: str,
             summary: tuple[float, ...]) -> Analysis:
    beats = np.arange(0.0, 30.0, 60.0 / tempo)
    return Analysis(
        version=ANALYSIS_VERSION, duration=30.0, audible_start=0.0, audible_end=30.0,
        tempo=tempo, tempo_confidence=0.9, beats=beats, downbeats=beats[::4], key="A",
        mode="minor" if camelot.endswith("A") else "major", key_confidence=0.7,
        camelot=camelot, lufs=lufs, loudness_curve=np.full(10, lufs, np.float32),
        loudness_hop=3.0, summary=np.asarray(summary, np.float32), summary_names=NAMES,
        cues=[Cue(kind="entry", time=1.0, beat_index=2, phrase=8),
              Cue(kind="exit", time=25.0, beat_index=40, phrase=8)],
    )


def build(settings: Settings, rows: list[tuple] | None = None) -> None:  # type: ignore[type-arg]
    """Save the songs (``rows`` defaults to `LIBRARY`) into the store of ``settings``."""
    with Store(settings) as store:
        for i, (title, tags, tempo, lufs, camelot, summary) in enumerate(rows or LIBRARY):
            store.save_track(path=f"/m/{i}.ogg", content_hash=f"{i:032x}", size=1, mtime=1.0,
                             tags=TrackTags(title=title, tags=tags),
                             analysis=analysis(tempo=tempo, lufs=lufs, camelot=camelot,
                                               summary=summary))


def build_cue_index(settings: Settings, style_of: dict[str, int], dim: int = 8) -> None:
    """A cue index whose vectors put each song at the axis ``style_of[title]`` (plus a little
    per-cue noise), saved where `radio embed` would save it."""
    rng = np.random.default_rng(7)
    index = CueIndex(dim=dim, model_id="test-model")
    with Store(settings) as store:
        for t in store.tracks():
            for cid, cue in store.cue_rows(t.id):
                v = np.zeros(dim, np.float32)
                v[style_of[t.title]] = 1.0
                v += rng.normal(0, 0.05, dim).astype(np.float32)
                index.add(cue.kind, np.array([cid]), (v / np.linalg.norm(v))[None])
    index.save(settings.indexes_dir)
