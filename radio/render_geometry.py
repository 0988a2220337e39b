"""Where a junction lies: the pure geometry `radio.render` follows, in file seconds of A and B.

A junction joins the outgoing item A at its exit cue to the incoming item B at its entry cue. The
convention, shared with `radio.phrases` (which keeps 8 beats of audio after every exit cue) and
`radio.plan`: **A's exit beat lands on B's entry beat and the overlap starts there**. A plays on
past its exit cue for the overlap, fading out, while B plays from its entry cue, fading in; so the
listener hears A up to its exit and B from its entry, the two clips the continuation model scored.
Only when A has fewer beats left after its exit than the overlap needs does the overlap reach back
before the cue (as far as B has audio before its entry cue).

Styles (`plan_junction` chooses):

- ``beat``: both sides have reliable beats and tempi within `max_stretch`. A's beat period ramps
  over `ramp_beats` beats before the overlap from its own to B's (octave-folded) and holds
  through the overlap; B is never stretched. The overlap is the plan's ``overlap_beats`` (8-32,
  shorter when tempi differ; at most `sponsor_beats` next to a sponsor clip).
- ``short``: beats, but tempi too far apart to stretch or too little room: four beats of
  crossfade with the cue beats on each other.
- ``smooth``: either side has no reliable beat: an equal-power crossfade of `ambient_fade_s`
  between songs, `sponsor_fade_s` (a quick duck) next to a sponsor clip.

Nothing here touches audio; the functions are pure and cheap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from radio.dsp import ramp_output_length

if TYPE_CHECKING:
    from radio.plan import PlanItem
    from radio.render import RenderConfig

__all__ = ["Junction", "Style", "plan_junction"]

Array = np.ndarray
Style = Literal["beat", "smooth", "short"]


@dataclass(frozen=True)
class Junction:
    """Geometry of one junction in file seconds of A (``a_*``) and B (``b_*``)."""

    style: Style
    a_ramp: float  # A: where its stretched tail starts (factor 1 here)
    a_ov: float  # A: where the overlap starts (factor reaches ``factor``)
    a_exit: float  # A: the exit beat (lands on B's entry beat)
    a_end: float  # A: where the overlap ends
    factor: float  # A's playback speed through the overlap
    pre: float  # output seconds of overlap before the junction beat
    post: float  # ... and after it
    b_start: float  # B: where its audio starts (entry - pre)
    b_entry: float  # B: the beat on A's exit (for fades next to a clip with no audio
    #                 before its entry, a point ``pre`` seconds after ``b_start``)
    swap: float | None  # output seconds from the overlap start to the bass swap
    beats: int  # overlap length in A beats (0 for fades)

    @property
    def overlap(self) -> float:
        """Output seconds of the overlap."""
        return self.pre + self.post

    def a_out(self, t: float) -> float:
        """Output seconds, from ``a_ramp``, of A's file time ``t`` (``t`` >= ``a_ramp``)."""
        ramp = self.a_ov - self.a_ramp
        if t <= self.a_ov:
            return ramp_output_length(t - self.a_ramp, 1.0 + (self.factor - 1.0)
                                      * (t - self.a_ramp) / ramp) if ramp > 0 else 0.0
        return ramp_output_length(ramp, self.factor) + (t - self.a_ov) / self.factor


def _period(beats: Array, at: int, *, before: int, after: int) -> float:
    seg = beats[max(0, at - before) : at + after + 1]
    return float(np.median(np.diff(seg))) if seg.size >= 3 else 0.0


def _fade(a: PlanItem, b: PlanItem, seconds: float, style: Style, *, a_from: float) -> Junction:
    """A crossfade of ``seconds``, after A's exit where A has audio there, else before it."""
    t_a, t_b = a.exit_time, b.entry_time
    a_after = 0.0 if a.kind == "sponsor" else math.inf  # a clip ends at its exit
    post = min(seconds, a_after)
    pre = min(seconds - post, max(t_a - a_from, 0.0))
    b_start = max(t_b - pre, 0.0)  # B from its entry when it has no audio before it
    return Junction(style, t_a - pre, t_a - pre, t_a, t_a + post, 1.0, pre, post,
                    b_start, b_start + pre, None, 0)


def plan_junction(a: PlanItem, b: PlanItem, overlap_beats: int, *, a_beats: Array | None,
                  b_beats: Array | None, a_from: float, cfg: RenderConfig) -> Junction:
    """Plan the junction from ``a`` (its ``exit_time``) to ``b`` (its ``entry_time``).

    ``a_from`` is the earliest A time its tail may start (where A's own incoming overlap ends).
    """
    sponsor = "sponsor" in (a.kind, b.kind)
    fade_s = cfg.sponsor_fade_s if sponsor else cfg.ambient_fade_s
    if sponsor:  # a clip of 5-30 s: fades take at most a fifth of it
        clip = b if b.kind == "sponsor" else a
        fade_s = min(fade_s, 0.2 * max(clip.exit_time - clip.entry_time, 0.5))
    t_a, t_b = a.exit_time, b.entry_time
    reliable = (a_beats is not None and b_beats is not None and a_beats.size >= 8
                and b_beats.size >= 8 and a.tempo > 0 and b.tempo > 0
                and min(a.beat_confidence, b.beat_confidence) >= cfg.min_beat_confidence)
    if not reliable:
        return _fade(a, b, fade_s, "smooth", a_from=a_from)
    assert a_beats is not None and b_beats is not None
    i_a = int(np.argmin(np.abs(a_beats - t_a)))
    j_b = int(np.argmin(np.abs(b_beats - t_b)))
    p_a = _period(a_beats, i_a, before=16, after=4)
    p_b = _period(b_beats, j_b, before=4, after=16)
    if p_a <= 0 or p_b <= 0:
        return _fade(a, b, fade_s, "smooth", a_from=a_from)
    short = max(4 * p_a, 1.0)
    if sponsor:
        short = min(short, fade_s)
    p_b *= 2.0 ** round(math.log2(p_a / p_b))  # B's period per A beat, octave-folded
    factor = p_a / p_b
    if abs(math.log(factor)) > math.log1p(cfg.max_stretch):
        return _fade(a, b, short, "short", a_from=a_from)
    t_a = float(a_beats[i_a])
    n = int(np.clip(overlap_beats, 8, 32))
    if abs(factor - 1) > 0.04:
        n = min(n, 16)
    if abs(factor - 1) > 0.08:
        n = min(n, 8)
    if sponsor:
        n = min(n, cfg.sponsor_beats)
    ramp = 0 if abs(factor - 1) < 0.002 else cfg.ramp_beats
    # A's beats after the exit carry the overlap; before it only when they run out.
    before = int(np.sum((a_beats >= a_from + 0.05) & (a_beats < t_a - 1e-6)))
    n_post = min(n, a_beats.size - 1 - i_a)
    if a.kind == "sponsor":
        n_post = 0
    n_pre = min(n - n_post, int(t_b / p_b), before)
    ramp = max(0, min(ramp, before - n_pre))
    if n_pre + n_post < min(4, n):
        return _fade(a, b, short, "short", a_from=a_from)
    a_ov = float(a_beats[i_a - n_pre])
    a_end = float(a_beats[i_a + n_post])
    a_ramp = float(a_beats[i_a - n_pre - ramp])
    geo = Junction("beat", a_ramp, a_ov, t_a, a_end, factor, 0.0, 0.0, 0.0, t_b, None,
                   n_pre + n_post)
    pre = geo.a_out(t_a) - geo.a_out(a_ov)
    post = geo.a_out(a_end) - geo.a_out(t_a)
    swap = None
    if cfg.bass_swap and n_pre + n_post >= 8:
        swap = (geo.a_out(float(a_beats[i_a - n_pre + (n_pre + n_post) // 2]))
                - geo.a_out(a_ov))
    return Junction("beat", a_ramp, a_ov, t_a, a_end, factor, pre, post, t_b - pre, t_b,
                    swap, n_pre + n_post)

