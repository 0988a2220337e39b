"""The samples of one junction: A's tail stretched and held back, both ridden, the overlap mixed.

`radio.render_geometry` says where a junction lies and how fast A's tail plays;
`radio.loudness_match` says how A and B are ridden so that their levels meet. This module applies
both to audio the renderer has already decoded and gained: `JunctionAudio.tail` cuts A's tail
from the ramp on, stretches it (Rubber Band, spliced into the untouched body over 10 ms) so that
both beat grids coincide, and holds it back as a `Carry` until B arrives; `JunctionAudio.match`
rides B in place (and the carried A) so that the short-term loudness just before the overlap
equals the one just after it, or sets a sponsor clip just under the music; `mix_overlap`
crossfades the two with equal power and, when the junction asks for it, swaps the low end
(< 150 Hz) on the overlap's middle beat.

`JunctionAudio` is mixed into `radio.render`'s renderer and reads its ``cfg`` (a `RenderConfig`).
Nothing here decodes, reads the store, limits or chunks the stream: it works on (channels, n)
float32 arrays at ``cfg.sr`` and leaves where they go to `radio.render`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from radio.dsp import crossover, db_to_gain, equal_power, frames, stretch
from radio.loudness_match import (
    SHORT_TERM_S,
    clip_offset,
    db_envelope,
    heard,
    level_clip,
    peak_db,
    ride_db,
    settle,
    split_match,
)
from radio.render_geometry import Junction

if TYPE_CHECKING:
    from radio.plan import PlanItem
    from radio.render import RenderConfig

__all__ = ["Carry", "JunctionAudio", "mix_overlap"]

Array = np.ndarray


@dataclass
class Carry:
    """A's held-back tail (processed, in output samples) up to the end of the overlap."""

    audio: Array
    overlap_at: int  # where the overlap starts in ``audio``
    geo: Junction
    index: int
    level: float  # short-term LUFS just before the overlap (a sponsor: the music's level)
    headroom_db: float  # how far A may still be raised


def mix_overlap(a: Array, b: Array, geo: Junction, *, sr: int) -> Array:
    """A's overlap ``a`` and B's ``b`` mixed with equal-power fades (bass swap at ``geo.swap``)."""
    n = b.shape[1]
    if a.shape[1] < n:
        a = np.pad(a, ((0, 0), (0, n - a.shape[1])))
    a = a[:, :n]
    g_out, g_in = equal_power(n)
    if geo.swap is None:
        mixed: Array = a * g_out + b * g_in
        return mixed
    a_lo, a_hi = crossover(a, sr=sr)
    b_lo, b_hi = crossover(b, sr=sr)
    at = frames(geo.swap, sr)
    width = max(1, frames(0.03, sr))  # a quick fade, not a click, at the swap beat
    u = np.clip((np.arange(n) - (at - width)) / (2 * width), 0.0, 1.0)
    lo_out, lo_in = np.cos(0.5 * np.pi * u), np.sin(0.5 * np.pi * u)
    out: Array = a_hi * g_out + b_hi * g_in + a_lo * lo_out + b_lo * lo_in
    return out.astype(np.float32)


class JunctionAudio:
    """A's tail and both sides' levels at a junction; mixed into the renderer, whose ``cfg`` it
    reads."""

    cfg: RenderConfig

    def headroom(self, y: Array) -> float:
        return self.cfg.ceiling_db + self.cfg.max_limiting_db - peak_db(y)

    def tail(self, y: Array, geo: Junction, index: int, held: float,
             level: float | None) -> Carry:
        """Stretch A's tail (from ``geo.a_ramp``; ``y`` starts at ``held``), cut it at the
        overlap's end and measure A's level just before the overlap."""
        sr = self.cfg.sr
        k0 = min(frames(geo.a_ramp - held, sr), y.shape[1])
        body, y = y[:, :k0], y[:, k0:]
        n = y.shape[1]
        if geo.style != "beat" or abs(geo.factor - 1.0) < 1e-4:
            audio = y
        else:
            t = geo.a_ramp + np.arange(n) / sr
            ramp = max(geo.a_ov - geo.a_ramp, 1e-9)
            f = np.where(t < geo.a_ov, 1.0 + (geo.factor - 1.0) * (t - geo.a_ramp) / ramp,
                         geo.factor)
            audio = stretch(y, sr=sr, factor=f, high_quality=self.cfg.stretch_hq)
            # Splice from the untouched body into the stretched copy (both at speed 1 here).
            k = min(frames(0.01, sr), n, audio.shape[1])
            f_out, f_in = equal_power(k)
            audio[:, :k] = y[:, :k] * f_out + audio[:, :k] * f_in
        audio = np.concatenate([body, audio], axis=1) if k0 else audio
        at = k0 + frames(geo.a_out(geo.a_ov), sr)
        end = at + frames(geo.overlap, sr)
        if level is None:
            level = heard(audio[:, max(0, at - frames(SHORT_TERM_S, sr)) : at], sr=sr,
                          ceiling_db=self.cfg.ceiling_db)
        return Carry(audio[:, :end], at, geo, index, level, self.headroom(audio[:, :end]))

    def match(self, y: Array, carry: Carry, geo: Junction, item: PlanItem) -> float | None:
        """Ride B (``y``, in place) and A's held-back tail so their levels meet at the overlap.

        Returns the music level a sponsor clip was matched to (None for songs)."""
        cfg, sr = self.cfg, self.cfg.sr
        ov = frames(geo.overlap, sr)
        window = frames(SHORT_TERM_S, sr)
        if item.kind == "sponsor":  # levelled, then one gain: just under the music, never above
            if math.isfinite(carry.level):
                y[:] = level_clip(y, sr=sr)
                d = min(clip_offset(y, sr=sr, music_lufs=carry.level), self.headroom(y))
                y *= db_to_gain(d)
            return carry.level
        level_b = heard(y[:, ov : ov + window], sr=sr, ceiling_db=cfg.ceiling_db)
        m = split_match(carry.level, level_b, a_headroom_db=carry.headroom_db,
                        b_headroom_db=self.headroom(y[:, : ov + window]),
                        max_ride_db=cfg.max_ride_db, max_lead_db=cfg.max_lead_db)
        at = carry.overlap_at
        m = settle(carry.audio[:, max(0, at - window) : at], y[:, ov : ov + window], m, sr=sr,
                   ceiling_db=cfg.ceiling_db, max_ride_db=cfg.max_ride_db,
                   max_lead_db=cfg.max_lead_db)
        if abs(m.b_db) >= 0.1:
            env = ride_db(y, sr=sr, db=m.b_db, hold=ov + window, glide=frames(cfg.ride_s, sr),
                          ceiling_lufs=level_b + m.b_db)
            y[:, : env.size] *= np.power(10.0, env / 20.0, dtype=np.float32)
        if abs(m.a_db) >= 0.1:
            # A glides to its offset before its last short-term window and holds it.
            env = db_envelope(carry.audio.shape[1], start=0, end=max(at - window, at // 2),
                              db0=0.0, db1=m.a_db)
            carry.audio *= np.power(10.0, env / 20.0, dtype=np.float32)
        return None
