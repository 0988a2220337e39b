"""Bars and phrases on a beat grid: the downbeat phase and the cues where a mix may cut.

`downbeat_phase` picks which beat of every four is the downbeat (4/4 assumed) from bass onsets
and chord changes; `cue_candidates` puts a `Cue` on each phrase boundary (a downbeat a multiple
of 8 beats after the first) in the intro (entries) and the outro (exits). Exits keep 8 beats of
audio after them for the crossfade, a promise `radio.plan` and `radio.render_geometry` rely on.

This module never opens files, never decodes, never touches the database or the network: it
takes beat grids and frame-level arrays and returns indices and `Cue` records, which
`radio.store` keeps as rows of the ``cues`` table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from radio.beats import beat_strength

__all__ = ["Cue", "cue_candidates", "downbeat_phase"]

Array = np.ndarray


@dataclass(frozen=True)
class Cue:
    """A phrase-aligned point where a mix may leave (exit) or join (entry) a track."""

    kind: Literal["exit", "entry"]
    time: float  # seconds from the start of the file
    beat_index: int  # index into Analysis.beats
    # the largest of 32/16/8 beats this downbeat is aligned to (counted from the first downbeat)
    phrase: int


def downbeat_phase(*, beats: Array, onset: Array, onset_low: Array, chroma: Array) -> int:
    """Bar phase 0..3 (4/4 assumed) whose beats carry the most bass onset and chord change."""
    if beats.size < 8:
        return 0
    bounds = np.r_[beats, chroma.shape[0]]
    sync = np.add.reduceat(chroma, np.minimum(bounds[:-1], chroma.shape[0] - 1), axis=0)
    sync /= np.linalg.norm(sync, axis=1, keepdims=True) + 1e-10
    change = np.r_[0.0, 1.0 - np.sum(sync[1:] * sync[:-1], axis=1)]
    change[0] = change[1:].mean()

    def z(v: Array) -> Array:
        out: Array = (v - v.mean()) / (v.std() + 1e-10)
        return out

    evidence = (z(beat_strength(onset_low, beats)) + 0.5 * z(beat_strength(onset, beats))
                + z(change))
    return int(np.argmax([evidence[p::4].mean() for p in range(4)]))


def cue_candidates(
    *, beats: Array, first_downbeat: int, audible_start: float, audible_end: float,
    max_each: int = 8,
) -> list[Cue]:
    """Entry cues in the intro and exit cues in the outro, on phrase boundaries.

    A phrase boundary is a downbeat a multiple of 8 beats after the first downbeat; its
    ``phrase`` is 32, 16 or 8, the largest that divides that distance. The intro is the first
    half of the audible part, at most 90 s; the outro is the last half, at most 90 s. Exits
    need 8 more beats after them for the crossfade. Each side keeps its ``max_each`` best
    boundaries: longer phrases first, then those nearest the track's edge.

    Parameters
    ----------
    beats : np.ndarray
        Beat times in seconds.
    first_downbeat : int
        Index into ``beats`` of the first downbeat.
    audible_start, audible_end : float
        Seconds.

    Returns
    -------
    list of Cue
        Entries then exits, each in time order.
    """
    region = min(0.5 * (audible_end - audible_start), 90.0)
    idx = np.arange(first_downbeat, beats.size, 8)
    dist = idx - first_downbeat
    phrase = np.where(dist % 32 == 0, 32, np.where(dist % 16 == 0, 16, 8))
    t = beats[idx] if idx.size else np.zeros(0)
    entry = np.flatnonzero(t < audible_start + region)
    exits = np.flatnonzero((t >= audible_end - region) & (idx + 8 < beats.size))
    entry = entry[np.lexsort((t[entry], -phrase[entry]))][:max_each]
    exits = exits[np.lexsort((-t[exits], -phrase[exits]))][:max_each]
    def cue(kind: Literal["exit", "entry"], i: int) -> Cue:
        return Cue(kind=kind, time=float(t[i]), beat_index=int(idx[i]), phrase=int(phrase[i]))

    return [cue("entry", i) for i in np.sort(entry)] + [cue("exit", i) for i in np.sort(exits)]
