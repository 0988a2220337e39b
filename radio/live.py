"""The live engine: one endless station rendered, encoded and paced in real time.

`LiveStation` runs two threads for one `radio.stations.Station`:

- the **render** thread pulls PCM from `radio.render.render` over the station's growing plan
  (``on_item`` asks the station to keep >= 2 songs planned ahead; the song after next is
  planned on a planner thread) and keeps rendering until ``render_ahead_songs`` songs after the
  one on air have begun and at least ``render_ahead_s`` seconds lie ahead of the live point: a
  stall in decoding or planning eats that cushion instead of the listeners' audio, and a skip
  throws the rendered tail away;
- the **pacer** thread owns the station clock. Every tick it feeds the persistent MP3 encoder
  (`radio.encode.Encoder`) with the PCM due within ``release_ahead_s + encode_lead_s`` of the
  live point and hands the whole MP3 frames due within ``release_ahead_s`` to ``publish`` as
  `Segment`s, hands each song as it goes on air to the play log's writer thread
  (`radio.live_plays`: the pacer never waits for the database), and holds the clock when
  rendering fell behind (counted in ``stall_s``) instead of skipping audio.

Station time: frame 0 is the first rendered sample; the **live point** is ``now - t0`` seconds.
A listener joining now starts there. Audio before ``encoded_end`` is committed (it is in the
encoder); audio after it can still be replaced.

A **skip** (`request_skip`) is handled by the render thread between chunks: it picks a splice
point ``S`` no sooner than ``skip_margin_s`` after the live point and after the committed audio,
fences the pacer there, asks the station for a new exit of the on-air item at the first downbeat
after ``S`` (`Station.replan_after`), throws away the rendered PCM after ``S`` and renders the new
tail from the on-air item at the file time that plays at ``S``, crossfaded over a few
milliseconds (the same audio on both sides): the song then hands over at a beat-aligned junction
a few seconds after the press. The file time at ``S`` is exact for an item that started fresh;
for one entered through a junction it is the render marker's ``offset`` when the renderer gives
one, else the item's entry cue (`radio.render_geometry`: the overlap starts on the entry beat).
A skip that comes when the song is already stretching into its planned junction does nothing.

The pacer thread and the station clock live in `radio.live_pacer` (a mixin of `LiveStation`:
one object, one lock), what the engine needs of the station in `radio.live_plan`.

It never speaks HTTP (``publish`` is any callable) and never plans (the station does).
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Literal, cast

import numpy as np

from radio.config import Settings
from radio.errors import RadioError
from radio.live_pacer import SR, PacerMixin, Segment, to_f32, to_i16
from radio.live_plan import PlanTail, StationLike, retry_locked
from radio.live_plays import PlayWriter
from radio.plan import Plan, PlanItem, Transition
from radio.render import RenderConfig, beats_from_store, render
from radio.sponsor_plans import with_sponsor_beats

__all__ = ["LiveConfig", "LiveStation", "LiveStats", "OnAir"]

log = logging.getLogger(__name__)

State = Literal["starting", "live", "stopped", "failed"]


@dataclass(frozen=True)
class LiveConfig:
    """Timing of the live engine, in seconds."""

    render_ahead_s: float = 8.0  # rendered PCM kept ahead of the live point at least
    render_ahead_songs: int = 2  # ... and until this many songs after the one on air started
    release_ahead_s: float = 2.0  # MP3 handed to listeners ahead of the live point
    encode_lead_s: float = 0.5  # PCM fed to the encoder before its frames are due
    skip_margin_s: float = 2.0  # a skip splices no sooner than this after the live point
    skip_room_s: float = 0.5  # ... and the new exit lies at least this after the splice
    splice_fade_s: float = 0.02  # crossfade of the exact splice (same audio on both sides)
    tick_s: float = 0.05
    bitrate: int = 192
    log_retry_s: float = 10.0  # a play the database refused is tried again this much later


@dataclass
class OnAir:
    """Where a plan item lies in station time, and the file time at its first rendered frame."""

    index: int
    item: PlanItem
    start_frame: int  # first rendered frame of the item (a junction's start, or a splice)
    on_air_frame: int  # when it counts as playing (the middle of its incoming junction)
    offset: float | None  # file seconds at start_frame; None when unknown
    probability: float | None  # of the junction that brought it in
    continued: bool = False  # a splice inside an item already on air
    logged: bool = False

    @property
    def title(self) -> str:
        return f"{self.item.artist} - {self.item.title}" if self.item.artist else self.item.title


@dataclass
class LiveStats:
    """Counters of one station (``stall_s`` and ``skips`` are in ``GET /admin/stats``). The
    failure that stops a station is `LiveStation.error`; failures it survives are logged."""

    stall_s: float = 0.0
    skips: int = 0
    rendered_frames: int = 0
    published_bytes: int = 0


def _render_takes_on_item() -> bool:
    return "on_item" in inspect.signature(render).parameters


class LiveStation(PacerMixin):
    """One station on air. `start` it, read `position`/`now_playing`, `request_skip`, `stop`."""

    def __init__(self, station: StationLike, *, settings: Settings,
                 publish: Callable[[Segment], None], config: LiveConfig | None = None,
                 listener: str | None = None, log_plays: bool = True,
                 beats_for: Callable[[PlanItem], np.ndarray | None] | None = None) -> None:
        self.station, self.settings, self.publish = station, settings, publish
        self.cfg = config or LiveConfig()
        self.listener, self.log_plays = listener, log_plays
        self._beats_for = beats_for
        self.state: State = "starting"
        self.error: str | None = None
        self.stats = LiveStats()
        self.started_at = time.time()
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._pcm: deque[tuple[int, np.ndarray]] = deque()  # rendered, not yet encoded (int16)
        self._rendered_end = 0  # frames
        self._encoded_end = 0
        self._fence: int | None = None  # the pacer encodes nothing past this (a skip in work)
        self._t0: float | None = None  # monotonic time of station frame 0
        self._onair: list[OnAir] = []
        self._history: list[tuple[OnAir, float]] = []  # (item, wall time it went on air)
        # ... handed to the thread that writes them to the play log
        self._plays = PlayWriter(settings, station, listener=listener,
                                 retry_s=self.cfg.log_retry_s)
        # (transition index, first frame, end frame) of the latest junction rendered: the item
        # after it counts as on air from its middle (`_marker`)
        self._last_junction: tuple[int, int, int] | None = None
        self._skip = threading.Event()
        self._skip_ref: int | None = None
        self._xfade: np.ndarray | None = None  # old audio to crossfade into the new render
        self._gen: Iterator[np.ndarray] | None = None
        self._has_on_item = _render_takes_on_item()
        self._planner = ThreadPoolExecutor(max_workers=1,
                                           thread_name_prefix=f"plan-{station.id}")
        self._threads = [threading.Thread(target=self._guard(self._render_loop), daemon=True,
                                          name=f"render-{station.id}"),
                         threading.Thread(target=self._guard(self._pace_loop), daemon=True,
                                          name=f"pacer-{station.id}")]

    # -- public --------------------------------------------------------------------------
    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop both threads and the encoder, and write the plays still queued, within about
        ``timeout`` seconds; idempotent. Plays that cannot be written by then are logged
        (`radio.live_plays.PlayWriter.close`)."""
        end = time.monotonic() + timeout
        self._stop.set()
        with self._lock:
            self._lock.notify_all()
        for t in self._threads:
            if t.is_alive() and t is not threading.current_thread():
                t.join(max(end - time.monotonic(), 0.0))
        self._planner.shutdown(wait=False, cancel_futures=True)
        self._plays.close(max(end - time.monotonic(), 0.0))
        if self.state != "failed":
            self.state = "stopped"

    def position(self) -> float:
        """The live point in station seconds (0 until the first audio exists)."""
        with self._lock:
            return self._position()

    def wait_live(self, timeout: float) -> bool:
        """Block until the first audio is on air (or the station failed); True when live."""
        end = time.monotonic() + timeout
        with self._lock:
            while self.state == "starting" and not self._stop.is_set():
                left = end - time.monotonic()
                if left <= 0:
                    break
                self._lock.wait(left)
            return self.state == "live"

    def ahead(self) -> tuple[float, int]:
        """Seconds of audio rendered past the live point, and songs after the one on air that
        have begun rendering."""
        with self._lock:
            return (max(self._rendered_end / SR - self._position(), 0.0), self._songs_ahead())

    def now_playing(self) -> OnAir | None:
        with self._lock:
            return self._at(round(self._position() * SR))

    def history(self) -> list[tuple[OnAir, float]]:
        """Items that went on air, oldest first, with the wall time they did."""
        with self._lock:
            return list(self._history)

    def request_skip(self, track_id: int | None = None) -> None:
        """Cut the on-air song short at the next beat-aligned junction soon (see module doc).

        ``track_id``: skip only if that track is still the one on air when the skip is done.
        """
        self._skip_ref = track_id
        self._skip.set()
        with self._lock:
            self._lock.notify_all()

    # -- threads -------------------------------------------------------------------------
    def _guard(self, loop: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                loop()
            except Exception as exc:  # a dead station must say why, not vanish
                log.exception("station %s failed", self.station.id)
                self.error = str(exc) if isinstance(exc, RadioError) else f"internal error: {exc}"
                self.state = "failed"
                self._stop.set()
                with self._lock:
                    self._lock.notify_all()
        return run

    # -- render thread -------------------------------------------------------------------
    def _render_loop(self) -> None:
        from radio.store import Store

        with retry_locked(lambda: Store(self.settings)) as store:
            if self._beats_for is None:
                self._beats_for = with_sponsor_beats(self.settings, beats_from_store(store))
            retry_locked(lambda: self.station.ensure_ahead(0))
            self._start_render(0, None, 0)
            while not self._stop.is_set():
                if self._skip.is_set():
                    self._skip.clear()
                    self._do_skip()
                with self._lock:
                    ahead = self._rendered_end - self._position() * SR
                    if (ahead >= self.cfg.render_ahead_s * SR
                            and self._songs_ahead() >= self.cfg.render_ahead_songs):
                        self._lock.wait(0.1)
                        continue
                assert self._gen is not None
                chunk = next(self._gen, None)
                if chunk is None:
                    log.warning("station %s: the plan ended", self.station.id)
                    return
                self._add_pcm(chunk)

    def _songs_ahead(self) -> int:
        """Items after the one on air whose rendering has begun (call with the lock held)."""
        on_air = self._at(round(self._position() * SR))
        if on_air is None:
            return 0
        return len({e.index for e in self._onair if e.index > on_air.index})

    def _start_render(self, first: int, entry: float | None, base: int) -> None:
        station = self.station

        def first_item(item: PlanItem) -> PlanItem:
            return item if entry is None else replace(item, entry_time=entry)

        tail = Plan(station=station.id, items=[], transitions=[])
        tail.items = cast(list[PlanItem], PlanTail(lambda: station.plan.items, first, first_item))
        tail.transitions = cast(list[Transition], PlanTail(lambda: station.plan.transitions, first))
        kwargs: dict[str, Any] = {}
        if self._has_on_item:
            kwargs["on_item"] = lambda i: self._plan_ahead(first + i)
        assert self._beats_for is not None
        self._gen = render(tail, beats_for=self._beats_for,
                           on_marker=lambda m: self._marker(m, first, entry, base), **kwargs)

    def _plan_ahead(self, index: int) -> None:
        """The renderer starts item ``index``: the song after it must exist now (usually it
        does, planned a song earlier, and this returns at once); the one after that is planned
        on the planner thread, so rendering never waits for the sequencer."""
        retry_locked(lambda: self.station.ensure_ahead(index, n=1))
        if not self._stop.is_set():
            self._planner.submit(self._plan_later, index + 1)

    def _plan_later(self, index: int) -> None:
        try:
            retry_locked(lambda: self.station.ensure_ahead(index, n=2))
        except Exception:  # the render thread plans synchronously when this failed
            log.exception("station %s: planning ahead of item %d failed", self.station.id,
                          index)

    def _marker(self, m: Any, first: int, entry: float | None, base: int) -> None:
        index = first + m.index
        if m.kind == "junction":
            with self._lock:
                self._last_junction = (index, base + m.start, base + m.end)
            return
        plan = self.station.plan
        item = plan.items[index]
        start = base + m.start
        if m.index == 0:
            offset: float | None = item.entry_time if entry is None else entry
            on_air, prob = start, None
            if index > 0 and entry is None:
                prob = plan.transitions[index - 1].probability  # faded in by a skip
        else:
            offset = getattr(m, "offset", None)
            j = self._last_junction
            on_air = (j[1] + j[2]) // 2 if j is not None and j[0] == index - 1 else start
            prob = plan.transitions[index - 1].probability
        with self._lock:
            previous = self._at(start, rendered=True)
            continued = entry is not None and previous is not None and previous.index == index
            if continued and previous is not None:
                on_air, prob = previous.on_air_frame, previous.probability
            self._onair.append(OnAir(index, item, start, on_air, offset, prob, continued,
                                     logged=continued))
        if not self._has_on_item:
            retry_locked(lambda: self.station.ensure_ahead(index + 1))

    def _add_pcm(self, chunk: np.ndarray) -> None:
        chunk = np.asarray(chunk, dtype=np.float32)
        with self._lock:
            if self._xfade is not None:
                old, self._xfade = self._xfade, None
                n = min(len(old), len(chunk))
                fade = np.linspace(0.0, 1.0, n, dtype=np.float32)[:, None]
                head = old[:n] * np.cos(0.5 * np.pi * fade) + chunk[:n] * np.sin(0.5 * np.pi * fade)
                chunk = np.concatenate([head, chunk[n:]]) if n < len(chunk) else head
                if n < len(old):
                    self._xfade = old[n:]  # a longer fade than this chunk
            self._pcm.append((self._rendered_end, to_i16(chunk)))
            self._rendered_end += len(chunk)
            self.stats.rendered_frames += len(chunk)
            if self._t0 is None:
                self._t0 = time.monotonic()
                self.state = "live"
            self._lock.notify_all()

    def _do_skip(self) -> None:
        cfg = self.cfg
        with self._lock:
            live = round(self._position() * SR)
            splice = max(live + round(cfg.skip_margin_s * SR), self._encoded_end + SR // 10)
            splice = min(splice, self._rendered_end)
            on_air = self._at(live)
            here = self._at(splice, rendered=True)
            if on_air is None or here is None or here.index != on_air.index or (
                    self._skip_ref is not None and on_air.item.ref != self._skip_ref):
                return  # the song is already handing over (or another one is on air)
            self._fence = splice
        k = here.index
        try:
            plan = self.station.plan
            item = plan.items[k]
            file_at = (here.offset if here.offset is not None else item.entry_time) + (
                splice - here.start_frame) / SR
            if k < len(plan.transitions):
                # Past this point the renderer already holds back (and stretches) the song's
                # tail for its planned junction (`RenderConfig.lead_s`, `ramp_beats`).
                rc = RenderConfig()
                beat = 60.0 / item.tempo if item.tempo > 0 else 0.5
                tail_s = max(rc.lead_s, rc.ramp_beats * beat, rc.ambient_fade_s) + 1.0
                before = plan.transitions[k]
                if file_at + cfg.skip_room_s > before.exit_time - tail_s:
                    return
            else:
                before = None
            try:
                retry_locked(lambda: self.station.replan_after(
                    k, not_before=file_at + cfg.skip_room_s))
            except RadioError as exc:
                log.info("station %s: cannot cut item %d short: %s", self.station.id, k, exc)
                return
            after = plan.transitions[k] if k < len(plan.transitions) else None
            if after is None or after == before:
                return  # the station keeps the planned exit
            with self._lock:
                self._cut(splice, cfg.splice_fade_s)
                self._start_render(k, file_at, splice)
                self.stats.skips += 1
        finally:
            with self._lock:
                self._fence = None
                self._lock.notify_all()

    def _cut(self, splice: int, fade_s: float) -> None:
        """Drop rendered audio after ``splice``, keeping ``fade_s`` of it to crossfade."""
        kept: deque[tuple[int, np.ndarray]] = deque()
        after: list[np.ndarray] = []
        for start, pcm in self._pcm:
            if start + len(pcm) <= splice:
                kept.append((start, pcm))
            elif start >= splice:
                after.append(pcm)
            else:
                kept.append((start, pcm[: splice - start]))
                after.append(pcm[splice - start :])
        self._pcm = kept
        self._rendered_end = splice
        old = to_f32(np.concatenate(after)) if after else np.zeros((0, 2), np.float32)
        n = min(len(old), round(fade_s * SR))
        self._xfade = old[:n] if n else None
        self._onair = [e for e in self._onair if e.start_frame < splice]
