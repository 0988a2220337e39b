"""The bridge between the library and `ranking.sequencer`: songs in, plan items out.

`candidates` turns a pool's tracks into the sequencer's `ranking.transitions.Candidate` rows,
with their exit and entry cue vectors from the FAISS cue index (`radio embed` builds it), as a
`CandidateSet`; a song without vectors is set aside in its ``dropped``. `to_plan` turns a
sequencer `Solution` over those rows back into `radio.plan` items and transitions, and chooses
each junction's overlap length.

`radio.stations` uses both, for one finite plan and for endless stations. This module decides
nothing about what to sequence (pools, constraints, how far ahead, when to replan: that is
`radio.stations`); it only reads the store and the cue index, and it has no HTTP and no audio.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from radio.config import Settings
from radio.modeling import model_id
from radio.plan import PlanItem, Transition
from radio.records import Track
from radio.store import Store
from ranking import ContinuationModel
from ranking.index import CueIndex
from ranking.objective import Solution
from ranking.transitions import Candidate, key_relation, tempo_ratio

__all__ = ["CandidateSet", "candidates", "load_cue_index", "to_plan"]


@dataclass(frozen=True)
class CandidateSet:
    """The pool's songs as the sequencer sees them: ``tracks[i]`` is row ``i`` of
    ``candidates`` (and of the score tensor built from them)."""

    tracks: list[Track]
    candidates: list[Candidate]
    dropped: list[Track]  # pool songs with no cue vectors (not embedded yet)


def load_cue_index(settings: Settings, model: ContinuationModel) -> CueIndex:
    """The FAISS cue index that `radio embed` built for ``model``, from ``settings.indexes_dir``."""
    return CueIndex.load(settings.indexes_dir, dim=model.config.dim, model_id=model_id(model))


def candidates(settings: Settings, tracks: Sequence[Track], *, model: ContinuationModel,
               index: CueIndex | None = None) -> CandidateSet:
    """Sequencer candidates for ``tracks`` from the cue index (`radio embed` builds it)."""
    index = index or load_cue_index(settings, model)
    kept, out, dropped = [], [], []
    with Store(settings) as store:
        for t in tracks:
            rows = store.cue_rows(t.id)
            exits = [(i, c.time) for i, c in rows if c.kind == "exit"]
            entries = [(i, c.time) for i, c in rows if c.kind == "entry"]
            try:
                xv = index.vectors("exit", np.array([i for i, _ in exits], np.int64))
                nv = index.vectors("entry", np.array([i for i, _ in entries], np.int64))
            except KeyError:
                dropped.append(t)
                continue
            if not exits or not entries:
                dropped.append(t)
                continue
            kept.append(t)
            out.append(Candidate(
                track_id=t.id, exit_vectors=xv, entry_vectors=nv,
                exit_times=np.array([x for _, x in exits]),
                entry_times=np.array([x for _, x in entries]),
                start=t.audible_start, end=t.audible_end, artist=t.artist, tempo=t.tempo,
                camelot=t.camelot, lufs=t.lufs))
    return CandidateSet(kept, out, dropped)


def _overlap_beats(ratio: float, a: Track, b: Track, exit_time: float) -> int:
    """Long blends for close tempi and confident beats, short ones otherwise. The overlap
    starts on the exit beat, and the analysis promises only 8 beats of audio after an exit
    cue: 16 only where the outgoing song plays on that long."""
    if min(a.tempo_confidence, b.tempo_confidence) < 0.3 or abs(math.log(ratio)) >= 0.03:
        return 8
    return 16 if a.tempo > 0 and exit_time + 16 * 60.0 / a.tempo <= a.audible_end else 8


def _item(t: Track, entry: float, exit_: float) -> PlanItem:
    return PlanItem(kind="track", ref=t.id, path=t.path, title=t.title, artist=t.artist,
                    entry_time=float(entry), exit_time=float(exit_), tempo=t.tempo,
                    beat_confidence=t.tempo_confidence, lufs=t.lufs)


def to_plan(sol: Solution, lib: CandidateSet, *, station: str, first_time: float | None = None
            ) -> tuple[list[PlanItem], list[Transition]]:
    """Items and transitions of a sequencer solution over ``lib``'s candidates."""
    items: list[PlanItem] = []
    transitions: list[Transition] = []
    for k, row in enumerate(sol.order):
        t, c = lib.tracks[row], lib.candidates[row]
        if k == 0:
            entry = first_time if first_time is not None else (
                c.start if sol.first_entry is None else c.entry_times[sol.first_entry])
        else:
            entry = c.entry_times[sol.entry_cues[k - 1]]
        last = k == len(sol.order) - 1
        exit_ = c.end if last else c.exit_times[sol.exit_cues[k]]
        items.append(_item(t, entry, exit_))
    for k in range(len(sol.order) - 1):
        a, b = lib.tracks[sol.order[k]], lib.tracks[sol.order[k + 1]]
        ratio = tempo_ratio(a.tempo, b.tempo)
        transitions.append(Transition(
            index=k, exit_time=items[k].exit_time, entry_time=items[k + 1].entry_time,
            overlap_beats=_overlap_beats(ratio, a, b, items[k].exit_time), tempo_ratio=ratio,
            probability=float(np.exp(sol.junction_logp[k])),
            key_relation=key_relation(a.camelot, b.camelot)))
    return items, transitions
