"""``radio compare A B``: how alike two songs are, facet by facet, each 0..1 with its evidence.

Facets and how each becomes a number (1 = the same, 0 = as unlike as it gets):

* **timbre**: cosine of the two songs' timbre values (MFCC means and spreads, spectral contrast,
  centroid, bandwidth, roll-off, flatness, band ratios, zero crossings), each standardised over
  the library so that no unit dominates; mapped from -1..1 to 0..1.
* **harmony**: the mean of the key relation on the Camelot wheel (same key 1, relative or one
  fifth away 0.75, then 0.25 less per step, never below 0; `ranking.transitions.camelot_steps`)
  and the cosine of the mean chroma vectors (both non-negative, so already 0..1).
* **rhythm**: tempo agreement after folding by octaves (`ranking.transitions.tempo_ratio`: 140
  and 70 BPM are one groove): exp(-(log2 ratio / 0.1)^2), so 7 % apart scores 0.5.
* **loudness**: integrated loudness and dynamics (spread of short-term level):
  exp(-|dLUFS| / 6) x exp(-|d spread dB| / 6): 6 LU apart scores 0.37.
* **text**: cosine of the two songs' text vectors (tags, titles, descriptors) in the text index,
  mapped to 0..1; absent (None) until `radio search` has built the index.

``overall`` is the song-vector cosine that `radio similar` ranks by, mapped to 0..1. Nothing is
written; the text index is read as it is (never rebuilt here).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from radio.config import Settings
from radio.errors import RadioError
from radio.records import Features, Track
from radio.songvectors import features_or_none, update_song_index
from radio.store import Store
from ranking.transitions import camelot_steps, tempo_ratio

__all__ = ["Comparison", "Facet", "compare_tracks", "harmony_score", "loudness_score",
           "rhythm_score"]

_TIMBRE_PREFIXES = ("mfcc_", "dmfcc_", "contrast_", "centroid_", "bandwidth_", "rolloff_",
                    "flatness_", "band_ratio_", "zcr_")
_CHROMA_PREFIX = "chroma_mean_"


@dataclass(frozen=True)
class Facet:
    """One facet's similarity (0..1, None when it cannot be told) and the values behind it."""

    name: str
    score: float | None
    values: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"score": None if self.score is None else round(self.score, 4),
                "values": self.values}


@dataclass(frozen=True)
class Comparison:
    """Two songs side by side."""

    a: Track
    b: Track
    facets: list[Facet]
    overall: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"a": {"id": self.a.id, "title": self.a.title},
                "b": {"id": self.b.id, "title": self.b.title},
                "overall": None if self.overall is None else round(self.overall, 4),
                "facets": {f.name: f.to_dict() for f in self.facets}}


def harmony_score(camelot_a: str, camelot_b: str, chroma_cos: float | None) -> float | None:
    """Mean of the Camelot relation score and the chroma cosine (either may be unknown)."""
    parts: list[float] = []
    steps = camelot_steps(camelot_a, camelot_b) if camelot_a and camelot_b else None
    if steps is not None:
        parts.append(1.0 if steps == 0 else max(0.0, 1.0 - 0.25 * steps))
    if chroma_cos is not None:
        parts.append(min(1.0, max(0.0, chroma_cos)))
    return float(np.mean(parts)) if parts else None


def rhythm_score(tempo_a: float, tempo_b: float) -> float | None:
    """Octave-folded tempo agreement, 1 for equal tempi; None when a tempo is unknown."""
    if tempo_a <= 0 or tempo_b <= 0:
        return None
    return math.exp(-((math.log2(tempo_ratio(tempo_a, tempo_b)) / 0.1) ** 2))


def loudness_score(lufs_a: float, lufs_b: float, spread_a: float | None,
                   spread_b: float | None) -> float:
    """Agreement of integrated loudness and, where known, of dynamics (dB)."""
    score = math.exp(-abs(lufs_a - lufs_b) / 6.0)
    if spread_a is not None and spread_b is not None:
        score *= math.exp(-abs(spread_a - spread_b) / 6.0)
    return score


def _value(f: Features | None, name: str) -> float | None:
    if f is None or name not in f.summary_names:
        return None
    v = float(f.summary[f.summary_names.index(name)])
    return v if math.isfinite(v) else None


def _timbre(store: Store, tracks: list[Track], a: Track,
            b: Track) -> tuple[float | None, dict[str, Any]]:
    feats = {t.id: features_or_none(store, t) for t in tracks}
    fa, fb = feats[a.id], feats[b.id]
    if fa is None or fb is None or fa.summary_names != fb.summary_names:
        return None, {}
    names = [n for n in fa.summary_names if n.startswith(_TIMBRE_PREFIXES)]
    cols = [fa.summary_names.index(n) for n in names]
    rows = [f.summary[cols] for f in feats.values()
            if f is not None and f.summary_names == fa.summary_names]
    lib = np.nan_to_num(np.stack(rows).astype(np.float64))
    mean, std = lib.mean(axis=0), lib.std(axis=0) + 1e-9
    za = (np.nan_to_num(fa.summary[cols].astype(np.float64)) - mean) / std
    zb = (np.nan_to_num(fb.summary[cols].astype(np.float64)) - mean) / std
    cos = float(za @ zb / (np.linalg.norm(za) * np.linalg.norm(zb) + 1e-12))
    values = {"cosine": round(cos, 4), "values_compared": len(names),
              "centroid_hz": [_round(_value(fa, "centroid_mean")),
                              _round(_value(fb, "centroid_mean"))],
              "flatness": [_round(_value(fa, "flatness_mean"), 5),
                           _round(_value(fb, "flatness_mean"), 5)]}
    return (cos + 1.0) / 2.0, values


def _chroma_cos(fa: Features | None, fb: Features | None) -> float | None:
    if fa is None or fb is None:
        return None
    names = [n for n in fa.summary_names if n.startswith(_CHROMA_PREFIX)]
    if not names or any(n not in fb.summary_names for n in names):
        return None
    ca = np.array([_value(fa, n) or 0.0 for n in names])
    cb = np.array([_value(fb, n) or 0.0 for n in names])
    denom = np.linalg.norm(ca) * np.linalg.norm(cb)
    return float(ca @ cb / denom) if denom > 0 else None


def _round(v: float | None, digits: int = 1) -> float | None:
    return None if v is None else round(v, digits)


def _text(settings: Settings, a: Track, b: Track) -> tuple[float | None, dict[str, Any]]:
    shared = sorted(set(map(str.casefold, a.tags)) & set(map(str.casefold, b.tags)))
    values: dict[str, Any] = {"shared_tags": shared}
    from radio.search import text_vectors  # search imports this module's neighbours

    vecs = text_vectors(settings, [a.id, b.id])
    if vecs is None:
        values["note"] = "no text index yet; run `radio search` once"
        return None, values
    cos = float(vecs[0] @ vecs[1])
    values["cosine"] = round(cos, 4)
    return (cos + 1.0) / 2.0, values


def compare_tracks(settings: Settings, query_a: str, query_b: str) -> Comparison:
    """Compare the songs named by ``query_a`` and ``query_b`` (ids or titles; `NotFound`)."""
    with Store(settings) as store:
        a, b = store.find_track(query_a), store.find_track(query_b)
        tracks = store.tracks()
        if a.id not in {t.id for t in tracks} or b.id not in {t.id for t in tracks}:
            raise RadioError("only analysed tracks (status ok) can be compared")
        fa, fb = features_or_none(store, a), features_or_none(store, b)
        timbre, timbre_values = _timbre(store, tracks, a, b)
        songs = update_song_index(settings, store=store)
    chroma = _chroma_cos(fa, fb)
    spread_a, spread_b = _value(fa, "rms_db_std"), _value(fb, "rms_db_std")
    facets = [
        Facet("timbre", timbre, timbre_values),
        Facet("harmony", harmony_score(a.camelot, b.camelot, chroma),
              {"key": [f"{a.key} {a.mode}", f"{b.key} {b.mode}"],
               "camelot": [a.camelot, b.camelot],
               "camelot_steps": camelot_steps(a.camelot, b.camelot)
               if a.camelot and b.camelot else None,
               "chroma_cosine": _round(chroma, 4)}),
        Facet("rhythm", rhythm_score(a.tempo, b.tempo),
              {"tempo_bpm": [round(a.tempo, 1), round(b.tempo, 1)],
               "folded_ratio": round(tempo_ratio(a.tempo, b.tempo), 4),
               "tempo_confidence": [round(a.tempo_confidence, 2),
                                    round(b.tempo_confidence, 2)]}),
        Facet("loudness", loudness_score(a.lufs, b.lufs, spread_a, spread_b),
              {"lufs": [round(a.lufs, 1), round(b.lufs, 1)],
               "level_spread_db": [_round(spread_a), _round(spread_b)]}),
        Facet("text", *_text(settings, a, b)),
    ]
    overall = None
    try:
        va, vb = songs.vectors([a.id, b.id])
        overall = (float(va @ vb) + 1.0) / 2.0
    except KeyError:
        pass  # a song without an audio vector: the facets still stand
    return Comparison(a=a, b=b, facets=facets, overall=overall)
