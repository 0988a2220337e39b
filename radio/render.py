"""The mix renderer: turns a `Plan` into one continuous stream of PCM chunks, lazily.

`render(plan, beats_for=...)` is a generator. It decodes one item at a time (through
`radio.audio.decode`, at 44.1 kHz stereo), so the first chunk leaves after the first few seconds
of the first song are decoded, and memory holds at most one song plus the tail of the previous
one however long the station runs. Chunks are float32 arrays shaped (frames, 2), interleaved
stereo at `RenderConfig.sr` (44100 Hz), full scale 1.0, never above the limiter's ceiling, at most
`RenderConfig.chunk_frames` frames each; `radio.encode.pcm_s16le` turns one into 16-bit bytes.

Per item: gain to `target_lufs` from the plan's integrated loudness (at most
`max_limiting_db` more than the peak allows, so quiet, peaky tracks are not crushed), played
from its entry cue to its exit cue. Per junction (``_junction`` chooses):

- ``beat``: the outgoing song A is time-stretched (Rubber Band) so that its beat period ramps
  over `ramp_beats` beats from its own to the incoming song B's, then holds through the overlap;
  A's exit beat lands on B's entry beat, so both beat grids coincide through the overlap
  (octave-folded: a 70 BPM song meets a 140 BPM one on every other beat). B is never stretched,
  so it continues untouched after the junction. The overlap is the plan's ``overlap_beats``
  (clamped to 8-32, shorter when tempi differ), placed before the cue as far as B has audio
  before its entry cue and after it otherwise. Equal-power fades; with ``bass_swap`` the low end
  (< 150 Hz) swaps from A to B on the overlap's middle beat instead of fading.
- ``smooth``: either side has no reliable beat (beat confidence below `min_beat_confidence`):
  an equal-power crossfade of `ambient_fade_s`, no stretching.
- ``short``: tempi too far apart to stretch (more than `max_stretch`): four beats of
  equal-power crossfade with the cue beats on each other.

Everything passes one streaming look-ahead `radio.dsp.Limiter` (ceiling -1 dBFS). pydub is not
used for the arithmetic: its AudioSegment works in whole milliseconds on integers and cannot
stretch, so samples stay in numpy; `segments` wraps the chunks as AudioSegments for callers that
want pydub. This module never touches the store except through a ``beats_for`` callable
(`beats_from_store` builds one) and never encodes (see `radio.encode`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

import numpy as np

from radio.audio import decode
from radio.dsp import Limiter, crossover, db_to_gain, equal_power, ramp_output_length, stretch
from radio.errors import RadioError
from radio.plan import Plan, PlanItem

if TYPE_CHECKING:
    from pydub import AudioSegment

    from radio.store import Store

__all__ = ["BeatsFor", "Marker", "RenderConfig", "beats_from_store", "render", "segments"]

Array = np.ndarray
BeatsFor = Callable[[PlanItem], "Array | None"]
Style = Literal["beat", "smooth", "short"]


@dataclass(frozen=True)
class RenderConfig:
    """How a plan is rendered. Levels in dB/LUFS, times in seconds."""

    sr: int = 44100
    target_lufs: float = -14.0
    ceiling_db: float = -1.0
    max_limiting_db: float = 6.0  # never push a track's peak more than this into the limiter
    chunk_frames: int = 22050
    bass_swap: bool = True
    min_beat_confidence: float = 0.3
    ambient_fade_s: float = 10.0
    max_stretch: float = 0.12  # largest tempo change (fraction) a junction may stretch
    ramp_beats: int = 8
    ride_s: float = 20.0  # an incoming song starts at the outgoing one's level, then returns
    max_ride_db: float = 9.0
    first_window_s: float = 4.0  # decode this much of the first song first, to start at once
    decode_timeout_s: float = 120.0


@dataclass(frozen=True)
class Marker:
    """Where an item or a junction lies in the output, in frames from the first sample."""

    kind: Literal["item", "junction"]
    index: int  # item index, or transition index
    start: int
    end: int
    style: str = ""  # junctions: beat | smooth | short


@dataclass(frozen=True)
class _Junction:
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
    b_entry: float
    swap: float | None  # output seconds from the overlap start to the bass swap
    beats: int  # overlap length in A beats (0 for smooth)

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


def _junction(a: PlanItem, b: PlanItem, overlap_beats: int, *, a_beats: Array | None,
              b_beats: Array | None, a_from: float, cfg: RenderConfig) -> _Junction:
    """Plan one junction. ``a_from`` is the earliest A time its tail may start."""
    t_a, t_b = a.exit_time, b.entry_time
    reliable = (a_beats is not None and b_beats is not None and a_beats.size >= 8
                and b_beats.size >= 8 and a.tempo > 0 and b.tempo > 0
                and min(a.beat_confidence, b.beat_confidence) >= cfg.min_beat_confidence)
    room_a = max(t_a - a_from, 0.0)

    def fade(seconds: float, style: Style) -> _Junction:
        pre = min(seconds, t_b, room_a)
        post = seconds - pre
        return _Junction(style, t_a - pre, t_a - pre, t_a, t_a + post, 1.0, pre, post,
                         t_b - pre, t_b, None, 0)

    if not reliable:
        return fade(cfg.ambient_fade_s, "smooth")
    assert a_beats is not None and b_beats is not None
    i_a = int(np.argmin(np.abs(a_beats - t_a)))
    j_b = int(np.argmin(np.abs(b_beats - t_b)))
    p_a = _period(a_beats, i_a, before=16, after=4)
    p_b = _period(b_beats, j_b, before=4, after=16)
    if p_a <= 0 or p_b <= 0:
        return fade(cfg.ambient_fade_s, "smooth")
    p_b *= 2.0 ** round(math.log2(p_a / p_b))  # B's period per A beat, octave-folded
    factor = p_a / p_b
    if abs(math.log(factor)) > math.log1p(cfg.max_stretch):
        return fade(max(4 * p_a, 1.0), "short")
    t_a = float(a_beats[i_a])
    n = int(np.clip(overlap_beats, 8, 32))
    if abs(factor - 1) > 0.04:
        n = min(n, 16)
    if abs(factor - 1) > 0.08:
        n = min(n, 8)
    ramp = 0 if abs(factor - 1) < 0.002 else cfg.ramp_beats
    # Beats of A available before the exit (after a_from), and B seconds before its entry.
    before = int(np.sum((a_beats >= a_from + 0.05) & (a_beats < t_a - 1e-6)))
    n_pre = min(n, int(t_b / p_b), before)
    ramp = min(ramp, before - n_pre)
    n_post = min(n - n_pre, a_beats.size - 1 - i_a)
    if n_pre + n_post < 4:
        return fade(max(4 * p_a, 1.0), "short")
    a_ov = float(a_beats[i_a - n_pre])
    a_end = float(a_beats[i_a + n_post])
    a_ramp = float(a_beats[i_a - n_pre - ramp])
    geo = _Junction("beat", a_ramp, a_ov, t_a, a_end, factor, 0.0, 0.0, 0.0, t_b, None,
                    n_pre + n_post)
    pre = geo.a_out(t_a) - geo.a_out(a_ov)
    post = geo.a_out(a_end) - geo.a_out(t_a)
    swap = None
    if cfg.bass_swap and n_pre + n_post >= 8:
        swap = (geo.a_out(float(a_beats[i_a - n_pre + (n_pre + n_post) // 2]))
                - geo.a_out(a_ov))
    return _Junction("beat", a_ramp, a_ov, t_a, a_end, factor, pre, post, t_b - pre, t_b,
                     swap, n_pre + n_post)


class _Carry:
    """A's processed tail, in output samples from where A's body ends."""

    def __init__(self, audio: Array, overlap_at: int, geo: _Junction, index: int,
                 level: float) -> None:
        self.audio = audio
        self.level = level  # short-term LUFS of A just before the overlap
        self.overlap_at = overlap_at
        self.geo = geo
        self.index = index


def _frames(seconds: float, sr: int) -> int:
    return max(0, round(seconds * sr))


def _level(y: Array, *, sr: int) -> float:
    """Loudness (LUFS) of a few seconds of audio; NaN when too short or silent."""
    if y.shape[1] < sr:
        return math.nan
    from radio.analysis import loudness

    lufs = loudness(y=y, sr=sr)[0]
    return lufs if lufs > -60.0 else math.nan


def _mix_overlap(a: Array, b: Array, geo: _Junction, *, sr: int) -> Array:
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
    at = _frames(geo.swap, sr)
    width = max(1, _frames(0.03, sr))  # a quick fade, not a click, at the swap beat
    u = np.clip((np.arange(n) - (at - width)) / (2 * width), 0.0, 1.0)
    lo_out, lo_in = np.cos(0.5 * np.pi * u), np.sin(0.5 * np.pi * u)
    out: Array = a_hi * g_out + b_hi * g_in + a_lo * lo_out + b_lo * lo_in
    return out.astype(np.float32)


class _Renderer:
    def __init__(self, plan: Plan, beats_for: BeatsFor, cfg: RenderConfig,
                 on_marker: Callable[[Marker], None] | None) -> None:
        self.plan, self.beats_for, self.cfg, self.on_marker = plan, beats_for, cfg, on_marker
        self.limiter = Limiter(sr=cfg.sr, ceiling_db=cfg.ceiling_db)
        self.pending: list[Array] = []
        self.pending_frames = 0
        self.written = 0  # frames handed to the limiter
        self._beats: dict[int, Array | None] = {}

    def beats(self, i: int) -> Array | None:
        if i not in self._beats:
            self._beats = {k: v for k, v in self._beats.items() if k >= i - 1}
            item = self.plan.items[i]
            got = self.beats_for(item) if item.kind == "track" else None
            self._beats[i] = None if got is None else np.asarray(got, dtype=np.float64)
        return self._beats[i]

    def mark(self, kind: Literal["item", "junction"], index: int, start: int, end: int,
             style: str = "") -> None:
        if self.on_marker is not None:
            self.on_marker(Marker(kind, index, start, end, style))

    def emit(self, piece: Array) -> Iterator[Array]:
        if piece.shape[1] == 0:
            return
        self.written += piece.shape[1]
        step = self.cfg.chunk_frames  # small blocks: no song-sized temporaries
        for k in range(0, piece.shape[1], step):
            yield from self._chunks(self.limiter.process(piece[:, k : k + step]))

    def _chunks(self, out: Array, final: bool = False) -> Iterator[Array]:
        if out.shape[1]:
            self.pending.append(out)
            self.pending_frames += out.shape[1]
        size = self.cfg.chunk_frames
        if self.pending_frames < size and not (final and self.pending_frames):
            return
        buf = np.concatenate(self.pending, axis=1) if len(self.pending) > 1 else self.pending[0]
        start = 0
        while buf.shape[1] - start >= size or (final and start < buf.shape[1]):
            yield np.ascontiguousarray(buf[:, start : start + size].T)
            start += size
        rest = buf[:, start:]
        self.pending = [rest] if rest.shape[1] else []
        self.pending_frames = rest.shape[1]

    def load(self, item: PlanItem, start: float, end: float) -> Array:
        return decode(item.path, sr=self.cfg.sr, channels=2, offset=max(start, 0.0),
                      duration=max(end - max(start, 0.0), 0.01),
                      timeout=self.cfg.decode_timeout_s)

    def gain(self, item: PlanItem, y: Array) -> float:
        lufs = item.lufs
        if not math.isfinite(lufs) or lufs <= -69.0:
            from radio.analysis import loudness

            lufs = loudness(y=y, sr=self.cfg.sr)[0]
        g = db_to_gain(self.cfg.target_lufs - lufs)
        peak = float(np.max(np.abs(y))) if y.size else 0.0
        if peak > 0:
            g = min(g, db_to_gain(self.cfg.ceiling_db + self.cfg.max_limiting_db) / peak)
        return g

    def run(self) -> Iterator[Array]:
        cfg, items, sr = self.cfg, self.plan.items, self.cfg.sr
        carry: _Carry | None = None
        geo_in: _Junction | None = None
        for i, item in enumerate(items):
            last = i == len(items) - 1
            start = geo_in.b_start if geo_in is not None else item.entry_time
            body_from = geo_in.b_entry + geo_in.post if geo_in is not None else item.entry_time
            geo_out = None
            if not last:
                nxt, tr = items[i + 1], self.plan.transitions[i]
                a = replace(item, exit_time=tr.exit_time)
                b = replace(nxt, entry_time=tr.entry_time)
                geo_out = _junction(a, b, tr.overlap_beats, a_beats=self.beats(i),
                                    b_beats=self.beats(i + 1), a_from=body_from, cfg=cfg)
            end = geo_out.a_end + 0.5 if geo_out is not None else item.exit_time
            ramp_at = geo_out.a_ramp if geo_out is not None else end
            if i == 0 and ramp_at - start > 2 * cfg.first_window_s:
                # Start playing before the whole first song is decoded.
                split = start + cfg.first_window_s
                head = self.load(item, start, split + 0.05)
                g = self.gain(item, head)
                self.mark("item", i, self.written, self.written)
                n0 = _frames(cfg.first_window_s, sr)
                yield from self.emit(head[:, :n0] * g)
                rest = self.load(item, split, end) * g
                fade = min(rest.shape[1], head.shape[1] - n0, _frames(0.01, sr))
                f_out, f_in = equal_power(fade)
                rest[:, :fade] = head[:, n0 : n0 + fade] * g * f_out + rest[:, :fade] * f_in
                y, offset = rest, split
            else:
                y = self.load(item, start, end)
                y *= self.gain(item, y)
                offset = start
            if carry is not None and geo_in is not None:
                self.ride(y, carry.level, geo_in)
                yield from self.emit(carry.audio[:, : carry.overlap_at])
                n_ov = min(_frames(geo_in.pre + geo_in.post, sr), y.shape[1])
                j0 = self.written
                ov = carry.audio[:, carry.overlap_at :]
                yield from self.emit(_mix_overlap(ov, y[:, :n_ov], geo_in, sr=sr))
                self.mark("junction", carry.index, j0, self.written, geo_in.style)
                self.mark("item", i, j0, j0)
                y = y[:, n_ov:]
                offset += n_ov / sr
            elif i == 0 and offset == start:
                self.mark("item", i, self.written, self.written)
                y[:, : _frames(0.005, sr)] *= np.linspace(0, 1, _frames(0.005, sr))[: y.shape[1]]
            if geo_out is None:
                tail = min(_frames(0.02, sr), y.shape[1])
                y[:, y.shape[1] - tail :] *= np.linspace(1, 0, tail)
                yield from self.emit(y)
                carry = None
                break
            cut = int(np.clip(_frames(geo_out.a_ramp - offset, sr), 0, y.shape[1]))
            yield from self.emit(y[:, :cut])
            carry = self.tail(y[:, cut:], geo_out, i)
            geo_in = geo_out
        yield from self._chunks(self.limiter.flush(), final=True)

    def tail(self, y: Array, geo: _Junction, index: int) -> _Carry:
        """Stretch A's tail (from ``geo.a_ramp``) and cut it at the overlap's end."""
        sr = self.cfg.sr
        n = y.shape[1]
        if geo.style != "beat" or abs(geo.factor - 1.0) < 1e-4:
            audio = y
        else:
            t = geo.a_ramp + np.arange(n) / sr
            ramp = max(geo.a_ov - geo.a_ramp, 1e-9)
            f = np.where(t < geo.a_ov, 1.0 + (geo.factor - 1.0) * (t - geo.a_ramp) / ramp,
                         geo.factor)
            audio = stretch(y, sr=sr, factor=f)
            # Splice from the untouched body into the stretched copy (both at speed 1 here).
            k = min(_frames(0.01, sr), n, audio.shape[1])
            f_out, f_in = equal_power(k)
            audio[:, :k] = y[:, :k] * f_out + audio[:, :k] * f_in
        at = _frames(geo.a_out(geo.a_ov), sr)
        end = at + _frames(geo.pre + geo.post, sr)
        level = _level(audio[:, max(0, at - _frames(4.0, sr)) : at], sr=sr)
        return _Carry(audio[:, :end], at, geo, index, level)

    def ride(self, y: Array, level: float, geo: _Junction) -> None:
        """Start B at A's level and glide to B's own over ``ride_s`` after the overlap."""
        sr, cfg = self.cfg.sr, self.cfg
        ov = _frames(geo.pre + geo.post, sr)
        own = _level(y[:, ov : ov + _frames(4.0, sr)], sr=sr)
        if not (math.isfinite(level) and math.isfinite(own)):
            return
        d = float(np.clip(level - own, -cfg.max_ride_db, cfg.max_ride_db))
        if abs(d) < 0.5:
            return
        n = min(y.shape[1], ov + _frames(cfg.ride_s, sr))
        env = np.full(n, d, dtype=np.float32)
        glide = n - ov
        if glide > 0:
            env[ov:] = d * 0.5 * (1 + np.cos(np.pi * np.arange(glide) / glide))
        y[:, :n] *= (10.0 ** (env / 20.0)).astype(np.float32)


def render(plan: Plan, *, beats_for: BeatsFor, config: RenderConfig | None = None,
           on_marker: Callable[[Marker], None] | None = None) -> Iterator[Array]:
    """Render ``plan`` as a lazy stream of float32 (frames, 2) chunks at ``config.sr``.

    ``beats_for(item)`` gives an item's beat times (seconds, from the file's start) or None
    (`beats_from_store` reads them from the library). ``on_marker`` hears where each item and
    junction lands in the output, in frames, as the renderer reaches it.

    Raises
    ------
    AudioLoadError
        an item's file cannot be decoded (when the renderer reaches it, not before).
    """
    if not plan.items:
        return iter(())
    return _Renderer(plan, beats_for, config or RenderConfig(), on_marker).run()


def beats_from_store(store: Store) -> BeatsFor:
    """A ``beats_for`` that reads a track item's beats from the library's features."""

    def beats_for(item: PlanItem) -> Array | None:
        if item.kind != "track":
            return None
        try:
            return store.features(store.track(item.ref)).beats
        except RadioError:
            return None

    return beats_for


def segments(chunks: Iterator[Array], *, sr: int = 44100) -> Iterator[AudioSegment]:
    """The same chunks as 16-bit stereo pydub AudioSegments (for pydub-based callers)."""
    from pydub import AudioSegment

    from radio.encode import pcm_s16le

    for chunk in chunks:
        yield AudioSegment(data=pcm_s16le(chunk), sample_width=2, frame_rate=sr, channels=2)
