"""Loudness matching at a junction: what the listener hears just before must equal just after.

Per-item gain (`RenderConfig.target_lufs` from integrated loudness) makes whole songs equally
loud, but a junction joins two *local* levels: A's outro and B's intro can sit 10-20 LU away
from their songs' averages (a fade-out, a sparse intro). So the renderer measures the
short-term loudness (3 s, EBU R128) of the actual output on both sides of the overlap, A just
before it and B just after it, and moves them together:

- B takes the difference (`Match.b_db`, at most ``max_ride_db``, never pushing its peaks more
  than ``max_limiting_db`` into the limiter), holds it through the overlap and the following
  short-term window, then glides back to its own level over ``ride_s``; while it glides its
  short-term level is kept from rising above the meeting level, so a quiet intro brought up
  to A's level cannot make a loud drop that follows it louder than the song's own level;
- whatever B cannot take, A takes (`Match.a_db`, at most ``max_lead_db``): A glides to it over
  the seconds before its last short-term window, as a DJ pulls the fader into a quiet intro.

Sponsor clips take their whole correction as a constant gain: an ad sits 0.5 LU under the music
it interrupts and its loudest 3 s window never above it.

Pure functions over arrays ((channels, n) float32 at ``sr``); the renderer applies the results.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from radio.dsp import Limiter, db_to_gain
from radio.loudness import SHORT_TERM_S, loudness

__all__ = ["SHORT_TERM_S", "Match", "clip_offset", "db_envelope", "heard", "level_clip", "peak_db",
           "ride_db",
           "settle", "short_term", "split_match"]

Array = np.ndarray
_SILENT = -60.0


def short_term(y: Array, *, sr: int) -> float:
    """Loudness (LUFS) of ``y``, meant for about ``SHORT_TERM_S`` seconds of audio; NaN when
    shorter than one second or silent."""
    if y.shape[-1] < sr:
        return math.nan
    lufs = loudness(y=y, sr=sr)[0]
    return lufs if lufs > _SILENT else math.nan


def heard(y: Array, *, sr: int, ceiling_db: float, db: float = 0.0) -> float:
    """`short_term` of ``y`` raised by ``db`` as it leaves the limiter: a raise that only
    drives the limiter harder is not heard as louder."""
    lim = Limiter(sr=sr, ceiling_db=ceiling_db)
    x = y * np.float32(db_to_gain(db))
    return short_term(np.concatenate([lim.process(x), lim.flush()], axis=1), sr=sr)


def peak_db(y: Array) -> float:
    """Sample peak in dBFS (-120 for silence or no samples)."""
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    return 20.0 * math.log10(max(peak, 1e-6))


@dataclass(frozen=True)
class Match:
    """Level offsets (dB) that bring A's and B's local levels together."""

    a_db: float  # applied to A from the end of its glide on
    b_db: float  # applied to B through the overlap, then glided back

    def residual(self, level_a: float, level_b: float) -> float:
        """The step left after matching (LU)."""
        return (level_a + self.a_db) - (level_b + self.b_db)


def split_match(level_a: float, level_b: float, *, a_headroom_db: float, b_headroom_db: float,
                max_ride_db: float, max_lead_db: float) -> Match:
    """Offsets for A and B so that their short-term levels meet.

    ``*_headroom_db`` is how far each may be raised before its peaks pass the limiting allowed.
    No offset when either level is unknown (NaN: silence or too little audio to measure).
    """
    if not (math.isfinite(level_a) and math.isfinite(level_b)):
        return Match(0.0, 0.0)
    d = level_a - level_b
    b = float(np.clip(d, -max_ride_db, min(max_ride_db, max(b_headroom_db, 0.0))))
    rest = d - b
    a = float(np.clip(-rest, -max_lead_db, min(max_lead_db, max(a_headroom_db, 0.0))))
    return Match(a, b)


def settle(a: Array, b: Array, match: Match, *, sr: int, ceiling_db: float, max_ride_db: float,
           max_lead_db: float, rounds: int = 3) -> Match:
    """Correct ``match`` for the limiter: measure what is heard of A's window ``a`` and B's
    window ``b`` with their offsets and lower whichever side is still louder (lowering always
    works; raising may only drive the limiter)."""
    a_db, b_db = match.a_db, match.b_db
    for _ in range(rounds):
        step = heard(a, sr=sr, ceiling_db=ceiling_db, db=a_db) - heard(
            b, sr=sr, ceiling_db=ceiling_db, db=b_db)
        if not math.isfinite(step) or abs(step) < 0.2:
            break
        if step > 0:
            a_db = max(a_db - step, -max_lead_db)
        else:
            b_db = max(b_db + step, -max_ride_db)
    return Match(a_db, b_db)


def clip_offset(y: Array, *, sr: int, music_lufs: float, below: float = 0.5) -> float:
    """Constant gain (dB) for a sponsor clip ``y`` next to music at ``music_lufs`` (short-term):
    its integrated level ``below`` LU under the music, its loudest 3 s never above it."""
    if not math.isfinite(music_lufs):
        return 0.0
    hop = 0.5
    lufs, curve = loudness(y=y, sr=sr, hop_s=hop)
    if lufs <= _SILENT:
        return 0.0
    half = round(0.5 * SHORT_TERM_S / hop)
    inner = curve[half : curve.size - half] if curve.size > 2 * half + 1 else curve
    loudest = float(np.max(inner)) if inner.size else lufs
    return min(music_lufs - below - lufs, music_lufs - loudest)


def level_clip(y: Array, *, sr: int, max_cut_db: float = 8.0, rounds: int = 3) -> Array:
    """``y`` (a sponsor clip) with its loud passages turned down toward its integrated level.

    A clip gets one gain that puts its loudest 3 s at the music's level, so a clip whose
    loudest window stands far above its average (speech with pauses, a shouted tag line) would
    sit well under the music. This slow leveller brings every 3 s window (every 0.5 s) down to
    at most 0.5 LU over the clip's median window, the cut smoothed over 1.5 s and at most
    ``max_cut_db``; it only cuts, never lifts pauses or noise.
    """
    hop = 0.5
    out = np.array(y, dtype=np.float32, copy=True)
    for _ in range(rounds):
        lufs, curve = loudness(y=out, sr=sr, hop_s=hop)
        active = curve[curve > lufs - 20.0]  # windows that are the clip, not its pauses
        if lufs <= _SILENT or active.size < 2:
            break
        target = float(np.median(active)) + 0.5  # the clip's typical level, a little over
        cut = np.clip(target - curve.astype(np.float64), -max_cut_db, 0.0)
        if cut.min() > -0.3:
            break
        cut = np.convolve(np.pad(cut, 1, mode="edge"), np.ones(3) / 3, mode="valid")
        t = np.arange(curve.size) * hop * sr
        env = np.interp(np.arange(out.shape[-1]), t, cut)
        out *= np.power(10.0, env / 20.0).astype(np.float32)
    return out


def db_envelope(n: int, *, start: int, end: int, db0: float, db1: float) -> Array:
    """Per-sample dB: ``db0`` before ``start``, ``db1`` from ``end``, a raised cosine between."""
    env = np.full(n, db1, dtype=np.float32)
    s, e = max(0, min(start, n)), max(0, min(end, n))
    env[:s] = db0
    if e > s:
        u = (np.arange(e - s, dtype=np.float32) + 0.5) / max(end - start, 1)
        env[s:e] = db1 + (db0 - db1) * 0.5 * (1.0 + np.cos(np.pi * u))
    return env


def ride_db(y: Array, *, sr: int, db: float, hold: int, glide: int, ceiling_lufs: float) -> Array:
    """B's per-sample offset (dB, ``min(len, hold + glide)`` samples): ``db`` for ``hold``
    samples, then a raised-cosine glide to 0 over ``glide``. When raising (``db`` > 0) the
    glide is also capped so that B's short-term level (0.5 s hop) stays at or under
    ``ceiling_lufs`` wherever B's own level is below it."""
    n = min(y.shape[-1], hold + glide)
    env = db_envelope(n, start=hold, end=hold + glide, db0=db, db1=0.0)
    if db <= 0 or n <= hold or not math.isfinite(ceiling_lufs):
        return env
    hop = 0.5
    _, curve = loudness(y=y[:, :n], sr=sr, hop_s=hop)
    t = np.arange(curve.size) * hop * sr
    room = np.maximum(ceiling_lufs - curve.astype(np.float64), 0.0)  # dB B may still rise
    cap = np.interp(np.arange(n), t, room).astype(np.float32)
    cap[:hold] = np.maximum(cap[:hold], db)  # the overlap itself was measured to match
    out: Array = np.minimum(env, cap)
    return out
