"""Clip-pair sampling from cut-up songs: the training and evaluation data of the continuation model.

A track arrives as its whole log-mel spectrogram plus beat-aligned cut frames. At a cut, A is the
clip that ends there and B the clip that starts there. Positives are (A, B) from one cut; the
negatives are

- ``easy``: B from another song;
- ``same``: B from the same song, at least ``min_gap_s`` away (hard: same timbre, key, tempo);
- ``similar``: B from another song of similar tempo and a compatible key (hard).

Splits are by track, or by whole group (a package or album) for held-out reports, so no audio of
an evaluated track is ever seen in training. Pure numpy; no files, no torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ranking.transitions import keys_compatible, tempo_ratio

__all__ = ["PairBatch", "PairSampler", "TrackMel", "beat_cut_frames", "split_tracks"]

NegKind = Literal["easy", "same", "similar"]


@dataclass
class TrackMel:
    """One track as the model sees it: log-mel frames and where it may be cut."""

    track_id: str
    group: str  # package or album: the unit of held-out evaluation
    mel: np.ndarray  # (n_mels, frames) float16/float32, uncentred frames at the model's hop
    cuts: np.ndarray  # int64 frame indices j: A = frames [j - clip_hops, ...), B = [j, ...)
    tempo: float = 0.0  # BPM, 0 when unknown
    camelot: str = ""  # e.g. "8A", "" when unknown
    audio: np.ndarray | None = None  # mono float32 at the model's rate; kept for evaluation


def beat_cut_frames(beats_s: np.ndarray, *, n_frames: int, hop_s: float, clip_hops: int,
                    clip_frames: int, min_spacing_s: float = 0.0) -> np.ndarray:
    """Hop-aligned cut frames at beat times where both the A and the B clip fit in the track.

    Parameters
    ----------
    beats_s : beat times in seconds
    n_frames : frames in the track's log-mel
    hop_s : seconds per frame hop
    clip_hops : clip length in hops (A starts ``clip_hops`` frames before the cut)
    clip_frames : log-mel frames inside one clip
    min_spacing_s : drop beats closer than this to the previous kept one (seconds)
    """
    j = np.unique(np.round(np.asarray(beats_s, dtype=np.float64) / hop_s).astype(np.int64))
    j = j[(j >= clip_hops) & (j + clip_frames <= n_frames)]
    if min_spacing_s > 0 and j.size:
        keep = [int(j[0])]
        step = min_spacing_s / hop_s
        for v in j[1:]:
            if v - keep[-1] >= step:
                keep.append(int(v))
        j = np.asarray(keep, dtype=np.int64)
    return j


def split_tracks(tracks: Sequence[TrackMel], *, holdout_groups: Sequence[str] = (),
                 val_fraction: float = 0.1, seed: int = 0
                 ) -> tuple[list[TrackMel], list[TrackMel], list[TrackMel]]:
    """(train, val, test): test = every track of ``holdout_groups``; val = a track-level slice."""
    held = set(holdout_groups)
    test = [t for t in tracks if t.group in held]
    rest = [t for t in tracks if t.group not in held]
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(rest))
    # At least two validation tracks where possible: a negative from another song needs one.
    n_val = min(len(rest) - 1, max(2, round(val_fraction * len(rest)))) if len(rest) > 1 else 0
    val = [rest[i] for i in order[:n_val]]
    train = [rest[i] for i in order[n_val:]]
    return train, val, test


@dataclass
class PairBatch:
    """Anchors and candidates as frame windows: (track index, start frame) per clip."""

    a: np.ndarray  # (n, 2) int64: track, first frame of A
    b: np.ndarray  # (n, 2) int64: track, first frame of B (the true continuation)
    neg: dict[str, np.ndarray]  # kind -> (n, 2) int64, -1 rows where none exists


class PairSampler:
    """Draws anchors and negatives from a fixed list of tracks, deterministically under a seed."""

    def __init__(self, tracks: Sequence[TrackMel], *, clip_hops: int, clip_frames: int,
                 hop_s: float, min_gap_s: float = 8.0, tempo_tol: float = 0.04,
                 seed: int = 0) -> None:
        self.tracks = [t for t in tracks if t.cuts.size > 0]
        if not self.tracks:
            raise ValueError("no track has a usable cut point (all too short?)")
        self.clip_hops = clip_hops
        self.clip_frames = clip_frames
        self.min_gap = round(min_gap_s / hop_s)
        self.rng = np.random.default_rng(seed)
        counts = np.array([t.cuts.size for t in self.tracks], dtype=np.float64)
        # Weight tracks by the square root of their cut count: long tracks give more pairs,
        # but do not swamp the short ones.
        w = np.sqrt(counts)
        self.track_p = w / w.sum()
        self.similar = [self._similar_to(i, tempo_tol) for i in range(len(self.tracks))]

    def _similar_to(self, i: int, tol: float) -> np.ndarray:
        t = self.tracks[i]
        out = []
        for k, u in enumerate(self.tracks):
            if k == i or u.track_id == t.track_id:
                continue
            # Same, half or double time (tempo_ratio folds octaves; no further than one).
            tempo_ok = (t.tempo > 0 and u.tempo > 0
                        and abs(np.log2(u.tempo / t.tempo)) <= 1.5
                        and abs(tempo_ratio(t.tempo, u.tempo) - 1) <= tol)
            if tempo_ok and keys_compatible(t.camelot, u.camelot):
                out.append(k)
        return np.asarray(out, dtype=np.int64)

    def _a_start(self, cut: int) -> int:
        return cut - self.clip_hops

    def sample(self, n: int) -> PairBatch:
        """``n`` anchors from distinct tracks where possible, each with its negatives."""
        rng = self.rng
        replace = n > len(self.tracks)
        ti = rng.choice(len(self.tracks), size=n, replace=replace, p=self.track_p)
        a = np.zeros((n, 2), dtype=np.int64)
        b = np.zeros((n, 2), dtype=np.int64)
        same = np.full((n, 2), -1, dtype=np.int64)
        similar = np.full((n, 2), -1, dtype=np.int64)
        easy = np.full((n, 2), -1, dtype=np.int64)
        for r, i in enumerate(ti):
            t = self.tracks[i]
            cut = int(t.cuts[rng.integers(t.cuts.size)])
            a[r] = (i, self._a_start(cut))
            b[r] = (i, cut)
            far = t.cuts[np.abs(t.cuts - cut) >= self.min_gap]
            if far.size:
                same[r] = (i, int(far[rng.integers(far.size)]))
            sim = self.similar[i]
            if sim.size:
                k = int(sim[rng.integers(sim.size)])
                u = self.tracks[k]
                similar[r] = (k, int(u.cuts[rng.integers(u.cuts.size)]))
            if len(self.tracks) > 1:  # otherwise there is no other song: the row stays -1
                k = int(rng.integers(len(self.tracks) - 1))
                k = k + 1 if k >= i else k
                u = self.tracks[k]
                easy[r] = (k, int(u.cuts[rng.integers(u.cuts.size)]))
        return PairBatch(a=a, b=b, neg={"same": same, "similar": similar, "easy": easy})

    def audio_windows(self, rows: np.ndarray, *, side: Literal["exit", "entry"], width: int,
                      hop: int) -> np.ndarray:
        """The ``width`` samples of audio that end (exit: rows name A clips) or start (entry:
        rows name B clips) at each row's cut, as float32; zeros for -1 rows and past the end.

        ``hop`` is the samples per log-mel frame; tracks must carry ``audio``.
        """
        out = np.zeros((len(rows), width), dtype=np.float32)
        for r, (i, start) in enumerate(rows):
            if i < 0:
                continue
            y = self.tracks[i].audio
            if y is None:
                raise ValueError(f"track {self.tracks[i].track_id} carries no audio")
            if side == "exit":
                cut = (int(start) + self.clip_hops) * hop
                seg = y[max(0, cut - width) : cut]
                out[r, width - len(seg) :] = seg
            else:
                cut = int(start) * hop
                seg = y[cut : cut + width]
                out[r, : len(seg)] = seg
        return out

    def windows(self, rows: np.ndarray) -> np.ndarray:
        """Stack the clip windows named by ``rows`` ((n, 2): track, first frame) as float32."""
        out = np.zeros((len(rows), self.tracks[0].mel.shape[0], self.clip_frames),
                       dtype=np.float32)
        for r, (i, start) in enumerate(rows):
            if i < 0:
                continue
            out[r] = self.tracks[i].mel[:, start : start + self.clip_frames]
        return out
