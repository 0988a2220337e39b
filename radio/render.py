"""The mix renderer: turns a `Plan` into one continuous stream of PCM chunks, lazily.

`render(plan, beats_for=...)` is a generator. It decodes one item at a time (through
`radio.audio.decode`, at 44.1 kHz stereo), so the first chunk leaves after the first few seconds
of the first song are decoded, and memory holds at most one song plus the tail of the previous
one however long the station runs. Chunks are float32 arrays shaped (frames, 2), interleaved
stereo at `RenderConfig.sr` (44100 Hz), full scale 1.0, never above the limiter's ceiling, at most
`RenderConfig.chunk_frames` frames each; `radio.encode.pcm_s16le` turns one into 16-bit bytes.

Per item: gain to `target_lufs` from the plan's integrated loudness (at most
`max_limiting_db` more than the peak allows, so quiet, peaky tracks are not crushed), played
from its entry cue to its exit cue. Per junction, `radio.render_geometry` says where the overlap
lies (it starts on A's exit beat, which lands on B's entry beat) and how A's tail is stretched
(Rubber Band) so that both beat grids coincide; `radio.loudness_match` says how A and B are
ridden so that the short-term loudness just before the overlap equals the one just after it;
`radio.render_junction` does both to the samples and mixes the overlap.
Equal-power fades; with ``bass_swap`` the low end (< 150 Hz) swaps from A to B on the
overlap's middle beat. Sponsor items (``kind == "sponsor"``, 5-30 s clips) go through the same
machinery with short overlaps (a quick duck when they have no beat) and sit just under the
music they interrupt.

Growing plans: ``on_item(i)`` is called before the renderer reads item ``i``'s exit, item
``i + 1`` and transition ``i``; it may extend ``plan.items``/``plan.transitions`` in place or
replace their not-yet-rendered tail. The renderer re-reads the lists at every step and ends
only when item ``i`` is still the last one after ``on_item(i)``.

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
from radio.dsp import Limiter, db_to_gain, frames
from radio.errors import RadioError
from radio.loudness_match import SHORT_TERM_S
from radio.plan import Plan, PlanItem
from radio.render_geometry import Junction, plan_junction
from radio.render_junction import Carry, JunctionAudio, mix_overlap

if TYPE_CHECKING:
    from pydub import AudioSegment

    from radio.store import Store

__all__ = ["BeatsFor", "Marker", "OnItem", "RenderConfig", "beats_from_store", "render",
           "segments"]

Array = np.ndarray
BeatsFor = Callable[[PlanItem], "Array | None"]
OnItem = Callable[[int], None]


@dataclass(frozen=True)
class RenderConfig:
    """How a plan is rendered. Levels in dB/LUFS, times in seconds."""

    sr: int = 44100
    target_lufs: float = -14.0
    ceiling_db: float = -1.0
    max_limiting_db: float = 6.0  # never push a peak more than this into the limiter
    chunk_frames: int = 22050
    bass_swap: bool = True
    min_beat_confidence: float = 0.3
    ambient_fade_s: float = 10.0
    sponsor_fade_s: float = 1.5  # the duck into and out of a sponsor clip with no beat
    sponsor_beats: int = 4  # longest beat-matched overlap next to a sponsor clip
    max_stretch: float = 0.12  # largest tempo change (fraction) a junction may stretch
    ramp_beats: int = 8
    stretch_hq: bool = False  # Rubber Band R3 engine: 3.5x the CPU of R2 (the default here)
    lead_s: float = 8.0  # A's audio held back before an overlap, so it can still be ridden
    ride_s: float = 20.0  # B glides from the meeting level back to its own over this
    max_ride_db: float = 12.0
    max_lead_db: float = 6.0
    first_window_s: float = 4.0  # decode this much of the first song first, to start at once
    block_s: float = 150.0  # songs are decoded in pieces of about this: memory stays flat
    decode_timeout_s: float = 120.0


@dataclass(frozen=True)
class Marker:
    """Where an item or a junction lies in the output, in frames from the first sample."""

    kind: Literal["item", "junction"]
    index: int  # item index, or transition index
    start: int
    end: int
    style: str = ""  # junctions: beat | smooth | short
    offset: float | None = None  # items: file seconds of the item at ``start``


def _pieces(start: float, end: float, held: float | None, *, first: float, least: float,
            block: float, whole: bool) -> list[float]:
    """Where an item's audio is cut into separately decoded pieces (file seconds, ``start`` to
    ``end``): an optional ``first`` short piece, then equal pieces of at most ``block`` seconds
    (the first one at least ``least``) up to ``held``; the last piece runs on to ``end`` and so
    holds the whole held-back tail. Each piece costs one decoder start (~65 ms of CPU), so
    pieces are as long as allowed."""
    stop = end if held is None else held
    points = [start]
    t = start
    if not whole:
        if first > 0 and start + first < stop - 1.0:
            t = start + first
            points.append(t)
        n = max(1, math.ceil((stop - t) / block))
        if n > 1 and (stop - t) / n < least:
            if t + least >= stop - 1.0:
                n = 1
            else:
                t += least
                points.append(t)
                n = max(1, math.ceil((stop - t) / block))
        points += [t + (stop - t) * k / n for k in range(1, n)]
    points.append(end)
    return points


class _Renderer(JunctionAudio):
    def __init__(self, plan: Plan, beats_for: BeatsFor, cfg: RenderConfig,
                 on_marker: Callable[[Marker], None] | None, on_item: OnItem | None) -> None:
        self.plan, self.beats_for, self.cfg = plan, beats_for, cfg
        self.on_marker, self.on_item = on_marker, on_item
        self.limiter = Limiter(sr=cfg.sr, ceiling_db=cfg.ceiling_db)
        self.pending: list[Array] = []
        self.pending_frames = 0
        self.written = 0  # frames handed to the limiter
        self._beats: dict[tuple[str, int, str], Array | None] = {}

    def beats(self, item: PlanItem) -> Array | None:
        # Keyed by the item itself, not its index: a growing plan may replace its tail.
        key = (item.kind, item.ref, item.path)
        if key not in self._beats:
            if len(self._beats) >= 2:
                self._beats.pop(next(iter(self._beats)))
            got = self.beats_for(item)
            self._beats[key] = None if got is None else np.asarray(got, dtype=np.float64)
        return self._beats[key]

    def mark(self, kind: Literal["item", "junction"], index: int, start: int, end: int,
             style: str = "", offset: float | None = None) -> None:
        if self.on_marker is not None:
            self.on_marker(Marker(kind, index, start, end, style, offset))

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
        # Decode from 0.1 s earlier and drop it: an MP3 decoder needs a few frames after a
        # seek before its output is the file's (up to ~40 ms of garbage otherwise).
        start = max(start, 0.0)
        pre = min(0.1, start)
        y = decode(item.path, sr=self.cfg.sr, channels=2, offset=start - pre,
                   duration=max(end - start, 0.01) + pre, timeout=self.cfg.decode_timeout_s)
        return y[:, frames(pre, self.cfg.sr) :]

    def gain(self, item: PlanItem, y: Array) -> float:
        lufs = item.lufs
        if not math.isfinite(lufs) or lufs <= -69.0:
            from radio.loudness import loudness

            lufs = loudness(y=y, sr=self.cfg.sr)[0]
        g = db_to_gain(self.cfg.target_lufs - lufs)
        peak = float(np.max(np.abs(y))) if y.size else 0.0
        if peak > 0:
            g = min(g, db_to_gain(self.cfg.ceiling_db + self.cfg.max_limiting_db) / peak)
        return g

    def next_junction(self, i: int, body_from: float) -> Junction | None:
        """Let a growing plan extend itself, then plan item ``i``'s outgoing junction."""
        if self.on_item is not None:
            self.on_item(i)
        items, trs = self.plan.items, self.plan.transitions
        if i >= len(items) - 1:
            return None
        if len(trs) < len(items) - 1:
            raise RadioError(f"plan has {len(items)} items but {len(trs)} transitions")
        tr = trs[i]
        a = replace(items[i], exit_time=tr.exit_time)
        b = replace(items[i + 1], entry_time=tr.entry_time)
        return plan_junction(a, b, tr.overlap_beats, a_beats=self.beats(a),
                             b_beats=self.beats(b), a_from=body_from, cfg=self.cfg)

    def run(self) -> Iterator[Array]:
        cfg, sr = self.cfg, self.cfg.sr
        carry: Carry | None = None
        geo_in: Junction | None = None
        i = 0
        while True:
            start = geo_in.b_start if geo_in is not None else self.plan.items[i].entry_time
            body_from = geo_in.b_entry + geo_in.post if geo_in is not None else start
            geo_out = self.next_junction(i, body_from)
            item = self.plan.items[i]  # read after on_item(i): its exit may have moved
            end = geo_out.a_end + 0.5 if geo_out is not None else item.exit_time
            # Hold back A from ``lead_s`` before the overlap: B's level may ask to ride it.
            held = (max(body_from, min(geo_out.a_ramp, geo_out.a_ov - cfg.lead_s))
                    if geo_out is not None else None)
            # The first song starts with a short piece, so that playing starts at once. Other
            # first pieces hold what the junction in needs: the overlap, B's short-term window
            # and its ride.
            first = cfg.first_window_s if geo_in is None else 0.0
            least = geo_in.overlap + SHORT_TERM_S + cfg.ride_s + 1.0 if geo_in else 0.0
            points = _pieces(start, end, held, first=first, least=least, block=cfg.block_s,
                             whole=item.kind == "sponsor")
            level: float | None = None  # a sponsor's: the music's level it was matched to
            g = 1.0
            for k, (offset, y) in enumerate(zip(points, self.pieces(item, points), strict=False)):
                if k == 0:
                    g = self.gain(item, y)
                y *= g
                if k == 0 and carry is not None and geo_in is not None:
                    level = self.match(y, carry, geo_in, item)
                    yield from self.emit(carry.audio[:, : carry.overlap_at])
                    n_ov = min(frames(geo_in.overlap, sr), y.shape[1])
                    j0 = self.written
                    ov = carry.audio[:, carry.overlap_at :]
                    yield from self.emit(mix_overlap(ov, y[:, :n_ov], geo_in, sr=sr))
                    self.mark("junction", carry.index, j0, self.written, geo_in.style)
                    self.mark("item", i, j0, j0, offset=start)
                    y = y[:, n_ov:]
                    offset += n_ov / sr
                elif k == 0:
                    self.mark("item", i, self.written, self.written, offset=start)
                    fade = min(frames(0.005, sr), y.shape[1])
                    y[:, :fade] *= np.linspace(0, 1, fade, dtype=np.float32)
                if k < len(points) - 2:
                    yield from self.emit(y)
                elif held is None:
                    fade = min(frames(0.02, sr), y.shape[1])
                    y[:, y.shape[1] - fade :] *= np.linspace(1, 0, fade, dtype=np.float32)
                    yield from self.emit(y)
                else:
                    assert geo_out is not None
                    cut = int(np.clip(frames(held - offset, sr), 0, y.shape[1]))
                    yield from self.emit(y[:, :cut])
                    carry = self.tail(y[:, cut:], geo_out, i, held, level)
            if geo_out is None:
                break
            geo_in = geo_out
            i += 1
        yield from self._chunks(self.limiter.flush(), final=True)

    def pieces(self, item: PlanItem, points: list[float]) -> Iterator[Array]:
        """The item's audio between consecutive ``points`` (file seconds), one decode each,
        joined by 10 ms crossfades over the same audio; the last piece runs to the file's
        decoded end. Frames add up exactly: piece ``k`` starts at ``round((points[k] -
        points[0]) * sr)``."""
        sr = self.cfg.sr
        xf = frames(0.01, sr)
        prev: Array | None = None
        for k in range(len(points) - 1):
            t0, t1 = points[k], points[k + 1]
            last = k == len(points) - 2
            y = self.load(item, t0, t1 if last else t1 + 0.02)
            if prev is not None:  # the same audio on both sides: gains that sum to 1
                n = min(prev.shape[1], xf, y.shape[1])
                f_in = (np.arange(n, dtype=np.float32) + 0.5) / max(n, 1)
                y[:, :n] = prev[:, :n] * (1.0 - f_in) + y[:, :n] * f_in
            if last:
                yield y
                return
            n = frames(t1 - points[0], sr) - frames(t0 - points[0], sr)
            prev = y[:, n : n + xf].copy()
            yield y[:, :n]


def render(plan: Plan, *, beats_for: BeatsFor, config: RenderConfig | None = None,
           on_marker: Callable[[Marker], None] | None = None,
           on_item: OnItem | None = None) -> Iterator[Array]:
    """Render ``plan`` as a lazy stream of float32 (frames, 2) chunks at ``config.sr``.

    ``beats_for(item)`` gives an item's beat times (seconds, from the file's start) or None
    (`beats_from_store` reads them from the library). ``on_marker`` hears where each item and
    junction lands in the output, in frames, as the renderer reaches it. ``on_item(i)`` is
    called when item ``i`` starts to render, before the renderer reads its exit, item ``i + 1``
    or transition ``i``; it may extend ``plan.items`` and ``plan.transitions`` in place (an
    endless station: ``on_item=lambda i: station.ensure_ahead(i)``). The stream ends when item
    ``i`` is still the last one after ``on_item(i)``.

    Raises
    ------
    AudioLoadError
        an item's file cannot be decoded (when the renderer reaches it, not before).
    """
    if not plan.items:
        return iter(())
    return _Renderer(plan, beats_for, config or RenderConfig(), on_marker, on_item).run()


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
