"""Transition scores: how well each candidate's exit cues lead into each candidate's entry cues.

For candidates ``i``, ``j``, exit cue ``a`` of ``i`` and entry cue ``b`` of ``j`` the score tensor
holds

    score[i, a, j, b] = log P(entry b of j follows exit a of i) + soft(i, j)

with the continuation model's calibrated probability ``P = sigmoid(scale * <e_exit, e_entry> +
bias)`` computed from stored embeddings in one einsum, and ``soft`` a sum of non-positive musical
terms (tempo ratio, Camelot key, loudness jump) whose weights live in `SoftWeights`. Both are log
domain, so a plan's total is a log-probability times a prior. Missing cues (tracks have different
numbers of cues) and ``i == j`` are ``-inf``.

Cue times travel with the tensor (an exit cue's time is where the song stops, an entry cue's time
where it starts) because a song's play duration, and the rule that it must enter before it exits,
join its entry and exit choices. Pure numpy: no files, no store, no torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ranking.errors import PlanError

__all__ = ["Candidate", "SoftWeights", "TransitionScores", "camelot_steps", "key_relation",
           "keys_compatible",
           "score_tensor", "soft_components", "tempo_ratio"]


@dataclass(frozen=True)
class Candidate:
    """One song as the sequencer sees it. Times in seconds from the start of the file."""

    track_id: int
    exit_vectors: np.ndarray  # (a, dim) L2-normalised, one row per exit cue
    entry_vectors: np.ndarray  # (b, dim)
    exit_times: np.ndarray  # (a,) s
    entry_times: np.ndarray  # (b,) s
    start: float  # s, audible start: where a plan's first song starts
    end: float  # s, audible end: where a plan's last song stops
    artist: str | None = None
    tempo: float = 0.0  # BPM, 0 when unknown
    camelot: str = ""  # e.g. "8A", "" when unknown
    lufs: float = float("nan")  # integrated loudness


@dataclass(frozen=True)
class SoftWeights:
    """Weights (log units, i.e. nats of penalty) of the musical terms; 0 switches one off.

    - tempo: ``tempo`` per ``tempo_tolerance`` of relative tempo change after octave folding
      (120 -> 240 BPM counts as 0 % change; 120 -> 126 as 5 %), linear.
    - key: ``key`` times 0 (same Camelot code), 0.25 (one step: a neighbour or the relative
      key), 0.6 (two steps) or 1 (further: a clash).
    - loudness: ``loudness`` per 6 dB of integrated-loudness jump beyond ``loudness_free_db``
      (the renderer matches loudness, so only big jumps in energy are penalised).
    """

    tempo: float = 1.0
    tempo_tolerance: float = 0.08
    key: float = 0.5
    loudness: float = 0.3
    loudness_free_db: float = 3.0


def tempo_ratio(a: float, b: float) -> float:
    """Incoming/outgoing tempo folded into [1/sqrt 2, sqrt 2) by octaves; 1 when unknown."""
    if a <= 0 or b <= 0:
        return 1.0
    r = float(np.log2(b / a))
    return float(2.0 ** (r - np.round(r)))


def camelot_steps(a: str, b: str) -> int | None:
    """Steps on the Camelot wheel (number distance + 1 for a letter change); None if unknown."""
    try:
        na, la, nb, lb = int(a[:-1]), a[-1].upper(), int(b[:-1]), b[-1].upper()
    except (ValueError, IndexError):
        return None
    d = abs(na - nb) % 12
    return min(d, 12 - d) + (la != lb)


def keys_compatible(a: str, b: str) -> bool:
    """Same key, relative major/minor, or one fifth away (at most one step on the wheel)."""
    steps = camelot_steps(a, b)
    return steps is not None and steps <= 1


def key_relation(a: str, b: str) -> str:
    """A name for the move between two Camelot codes, for plans and logs."""
    steps = camelot_steps(a, b)
    if steps is None:
        return ""
    if steps == 0:
        return "same key"
    if a[:-1] == b[:-1]:
        return "relative"
    if steps == 1:
        return "+1 fifth" if (int(b[:-1]) - int(a[:-1])) % 12 == 1 else "-1 fifth"
    return "clash" if steps > 2 else "two steps"


_KEY_COST = np.array([0.0, 0.25, 0.6, 1.0])


def soft_components(candidates: Sequence[Candidate], w: SoftWeights) -> dict[str, np.ndarray]:
    """The musical terms one by one: ``{"tempo", "key", "loudness"}`` -> (n, n) float64
    non-positive penalties for going from song i to song j (what ``--explain`` shows)."""
    n = len(candidates)
    tempo = np.array([c.tempo for c in candidates], dtype=np.float64)
    lufs = np.array([c.lufs for c in candidates], dtype=np.float64)
    out = {name: np.zeros((n, n)) for name in ("tempo", "key", "loudness")}
    if w.tempo:
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.log2(tempo[None, :] / tempo[:, None])
        change = np.abs(2.0 ** (r - np.round(r)) - 1.0)
        out["tempo"] = -w.tempo * np.nan_to_num(change, nan=0.0, posinf=0.0) / w.tempo_tolerance
    if w.key:
        steps = np.array([[camelot_steps(a.camelot, b.camelot) if a.camelot and b.camelot
                           else -1 for b in candidates] for a in candidates])
        out["key"] = -w.key * np.where(steps < 0, 0.0, _KEY_COST[np.clip(steps, 0, 3)])
    if w.loudness:
        jump = np.abs(lufs[None, :] - lufs[:, None]) - w.loudness_free_db
        out["loudness"] = -w.loudness * np.nan_to_num(np.maximum(jump, 0.0), nan=0.0) / 6.0
    return out


def _soft_terms(candidates: Sequence[Candidate], w: SoftWeights) -> np.ndarray:
    """(n, n) float64 non-positive penalties for going from song i to song j."""
    return np.asarray(sum(soft_components(candidates, w).values()))


@dataclass(frozen=True)
class TransitionScores:
    """The sequencer's whole view of a candidate pool: scores, cue times, artists.

    ``score = logp + soft[:, None, :, None]``; ``-inf`` where a cue does not exist or ``i == j``.
    Cue slots past a track's own count have ``nan`` times.
    """

    logp: np.ndarray  # (n, A, n, B) float32: the model's log P per junction
    soft: np.ndarray  # (n, n) float32 <= 0: musical terms per pair of songs
    exit_times: np.ndarray  # (n, A) float64 s, nan where missing
    entry_times: np.ndarray  # (n, B) float64 s, nan where missing
    starts: np.ndarray  # (n,) float64 s
    ends: np.ndarray  # (n,) float64 s
    artists: np.ndarray  # (n,) int64 artist codes, -1 where unknown (never a conflict)
    track_ids: np.ndarray  # (n,) int64
    score: np.ndarray = field(init=False, repr=False)
    pair_major: np.ndarray = field(init=False, repr=False)  # score as (n, n, A, B), contiguous

    def __post_init__(self) -> None:
        n, a, n2, b = self.logp.shape
        if n != n2 or self.exit_times.shape != (n, a) or self.entry_times.shape != (n, b):
            raise ValueError(f"inconsistent shapes: logp {self.logp.shape}, exits "
                             f"{self.exit_times.shape}, entries {self.entry_times.shape}")
        score = (self.logp + self.soft[:, None, :, None]).astype(np.float32)
        object.__setattr__(self, "score", score)
        object.__setattr__(self, "pair_major",
                           np.ascontiguousarray(score.transpose(0, 2, 1, 3)))

    @property
    def n(self) -> int:
        return int(self.logp.shape[0])

    @classmethod
    def from_logp(cls, logp: np.ndarray, *, exit_times: np.ndarray, entry_times: np.ndarray,
                  starts: np.ndarray, ends: np.ndarray, soft: np.ndarray | None = None,
                  artists: np.ndarray | None = None,
                  track_ids: np.ndarray | None = None) -> TransitionScores:
        """Build from a ready tensor (tests, benchmarks); cues with nan times are masked."""
        n = logp.shape[0]
        lp = np.array(logp, dtype=np.float32)
        et = np.asarray(exit_times, dtype=np.float64)
        nt = np.asarray(entry_times, dtype=np.float64)
        lp[np.isnan(et)] = -np.inf
        lp.transpose(2, 3, 0, 1)[np.isnan(nt)] = -np.inf
        lp[np.arange(n), :, np.arange(n), :] = -np.inf
        return cls(
            logp=lp,
            soft=np.zeros((n, n), np.float32) if soft is None else np.asarray(soft, np.float32),
            exit_times=et, entry_times=nt,
            starts=np.asarray(starts, np.float64), ends=np.asarray(ends, np.float64),
            artists=np.full(n, -1, np.int64) if artists is None else np.asarray(artists,
                                                                                np.int64),
            track_ids=np.arange(n, dtype=np.int64) if track_ids is None
            else np.asarray(track_ids, np.int64),
        )

    def subset(self, rows: Sequence[int]) -> TransitionScores:
        """The same scores restricted to candidates ``rows`` (in that order)."""
        r = np.asarray(rows, dtype=np.int64)
        return TransitionScores(
            logp=self.logp[r][:, :, r], soft=self.soft[np.ix_(r, r)],
            exit_times=self.exit_times[r], entry_times=self.entry_times[r],
            starts=self.starts[r], ends=self.ends[r], artists=self.artists[r],
            track_ids=self.track_ids[r])


def _pad(rows: Sequence[np.ndarray], width: int, fill: float) -> np.ndarray:
    first = np.asarray(rows[0])
    out = np.full((len(rows), width, *first.shape[1:]), fill, dtype=np.float64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def score_tensor(candidates: Sequence[Candidate], *, scale: float, bias: float,
                 weights: SoftWeights | None = None) -> TransitionScores:
    """The (n, A, n, B) transition scores of ``candidates`` from their stored embeddings.

    ``scale`` and ``bias`` are the model's calibration (`ContinuationModel.scale`/``.bias``).
    """
    if not candidates:
        raise PlanError("no candidates to sequence")
    w = weights or SoftWeights()
    n = len(candidates)
    a_max = max(1, max(len(c.exit_times) for c in candidates))
    b_max = max(1, max(len(c.entry_times) for c in candidates))
    dim = candidates[0].exit_vectors.shape[-1] if len(candidates[0].exit_vectors) else (
        max(c.entry_vectors.shape[-1] for c in candidates))
    ex = np.zeros((n, a_max, dim), np.float32)
    en = np.zeros((n, b_max, dim), np.float32)
    for i, c in enumerate(candidates):
        ex[i, : len(c.exit_vectors)] = c.exit_vectors
        en[i, : len(c.entry_vectors)] = c.entry_vectors
    dots = np.einsum("iad,jbd->iajb", ex, en, optimize=True)
    logp = -np.logaddexp(0.0, -(scale * dots.astype(np.float64) + bias))
    exit_times = _pad([np.asarray(c.exit_times, np.float64) for c in candidates], a_max, np.nan)
    entry_times = _pad([np.asarray(c.entry_times, np.float64) for c in candidates], b_max,
                       np.nan)
    names: dict[str, int] = {}
    artists = np.array([names.setdefault(c.artist.casefold(), len(names)) if c.artist else -1
                        for c in candidates], dtype=np.int64)
    return TransitionScores.from_logp(
        logp.astype(np.float32), exit_times=exit_times, entry_times=entry_times,
        starts=np.array([c.start for c in candidates]), ends=np.array([c.end for c in candidates]),
        soft=_soft_terms(candidates, w), artists=artists,
        track_ids=np.array([c.track_id for c in candidates], dtype=np.int64))
