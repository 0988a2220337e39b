"""The station clock and the pacer thread of `radio.live.LiveStation`.

Station time counts frames at ``SR`` from the first rendered sample; the **live point** is
``now - t0`` seconds. The pacer thread owns that clock. Every tick it feeds the persistent MP3
encoder (`radio.encode.Encoder`) with the PCM due within ``release_ahead_s + encode_lead_s`` of
the live point and hands the whole MP3 frames due within ``release_ahead_s`` to ``publish`` as
`Segment`s (`radio.encode.mp3_frame_sizes` finds them), hands each song to the play log's own
writer thread as it goes on air (`radio.live_plays`: a locked or failing database never holds
up or stops the stream), and holds the clock when rendering fell behind (counted in
``stall_s``) instead of skipping audio. Rendered audio waits for it as 16-bit PCM (`to_i16`).

`PacerMixin` is not an object of its own: `LiveStation` inherits these methods, and the
state they read and write is the station's, created in `LiveStation.__init__` and guarded by
its one ``_lock`` exactly as the render thread's is. The annotations below only declare that
state for the type checker.

It never renders, plans or skips (`radio.live` does) and never speaks HTTP (``publish`` is any
callable).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from radio.encode import Encoder, mp3_frame_sizes

if TYPE_CHECKING:
    from radio.live import LiveConfig, LiveStats, OnAir
    from radio.live_plays import PlayWriter

__all__ = ["SR", "PacerMixin", "Segment", "to_f32", "to_i16"]

SR = 44100
MP3_FRAME = 1152  # samples per MPEG-1 layer III frame: the pacer accepts no other MPEG version


def to_i16(chunk: np.ndarray) -> np.ndarray:
    """Rendered audio as it is kept ahead of the live point: 16-bit, quantised exactly as the
    encoder's input would be (`radio.encode.pcm_s16le`), at half the memory of float32."""
    out: np.ndarray = (np.clip(chunk, -1.0, 32767 / 32768) * 32768.0).astype(np.int16)
    return out


def to_f32(pcm: np.ndarray) -> np.ndarray:
    """16-bit PCM kept by `to_i16` back as float32 samples, full scale 1.0."""
    out: np.ndarray = pcm.astype(np.float32) / np.float32(32768.0)
    return out


@dataclass(frozen=True)
class Segment:
    """Whole MP3 frames of station time ``start`` .. ``start + duration`` (seconds)."""

    data: bytes
    start: float
    duration: float
    title: str  # "Artist - Title" on air at ``start``
    index: int  # plan item on air at ``start``


class PacerMixin:
    """The clock and the pacer thread of `radio.live.LiveStation` (see the module doc)."""

    cfg: LiveConfig
    publish: Callable[[Segment], None]
    log_plays: bool
    stats: LiveStats
    _lock: threading.Condition
    _stop: threading.Event
    _pcm: deque[tuple[int, np.ndarray]]
    _encoded_end: int
    _fence: int | None
    _t0: float | None
    _onair: list[OnAir]
    _history: list[tuple[OnAir, float]]
    _plays: PlayWriter

    # -- time ----------------------------------------------------------------------------
    def _position(self) -> float:
        return 0.0 if self._t0 is None else max(0.0, time.monotonic() - self._t0)

    def _at(self, frame: int, *, rendered: bool = False) -> OnAir | None:
        """The item on air at ``frame`` (``rendered``: the one whose audio is there)."""
        found = None
        for entry in self._onair:
            if (entry.start_frame if rendered else entry.on_air_frame) <= frame:
                found = entry
        return found

    # -- pacer thread --------------------------------------------------------------------
    def _pace_loop(self) -> None:
        cfg = self.cfg
        frame_s = MP3_FRAME / SR
        mp3 = bytearray()
        released = 0  # MP3 frames handed to publish
        with Encoder("mp3", bitrate=cfg.bitrate, sr=SR) as enc:
            while not self._stop.is_set():
                time.sleep(cfg.tick_s)
                with self._lock:
                    if self._t0 is None:
                        continue
                    live = self._position()
                    horizon = round((live + cfg.release_ahead_s + cfg.encode_lead_s) * SR)
                    if self._fence is not None:
                        horizon = min(horizon, self._fence)
                    pieces: list[np.ndarray] = []
                    while self._pcm and self._encoded_end < horizon:
                        start, pcm = self._pcm[0]
                        take = min(len(pcm), horizon - start)
                        pieces.append(pcm[:take])
                        if take < len(pcm):
                            self._pcm[0] = (start + take, pcm[take:])
                        else:
                            self._pcm.popleft()
                        self._encoded_end = start + take
                    self._lock.notify_all()
                mp3 += enc.feed(to_f32(np.concatenate(pieces)) if pieces
                                else np.zeros((0, 2), np.float32))
                due = int((live + cfg.release_ahead_s) / frame_s) - released
                sizes = mp3_frame_sizes(mp3, mpeg1_only=True)[: max(due, 0)]
                if sizes:
                    self._release(bytes(mp3[: sum(sizes)]), released, len(sizes))
                    del mp3[: sum(sizes)]
                    released += len(sizes)
                self._hold_clock(released * frame_s, live)
                self._log_plays(live)

    def _release(self, data: bytes, first_frame: int, n: int) -> None:
        start = first_frame * MP3_FRAME / SR
        with self._lock:
            entry = self._at(round(start * SR))
        title = entry.title if entry else ""
        self.stats.published_bytes += len(data)
        self.publish(Segment(data, start, n * MP3_FRAME / SR, title,
                             entry.index if entry else 0))

    def _hold_clock(self, released_s: float, live: float) -> None:
        """When the released audio does not even reach the live point, stop the clock there."""
        gap = live - released_s
        if gap > 0.05:
            with self._lock:
                if self._t0 is not None:
                    self._t0 += gap
                    self.stats.stall_s += gap

    def _log_plays(self, live: float) -> None:
        """Log the items that went on air by ``live``: in the history, and handed to the play
        log's writer thread (`radio.live_plays.PlayWriter`), which writes them and a sponsor
        clip's impression. The pacer never waits for the database."""
        frame = round(live * SR)
        with self._lock:
            went = [(e, time.time()) for e in self._onair
                    if not e.logged and e.on_air_frame <= frame]
            for e, _ in went:
                e.logged = True
            self._history += went
        if went and self.log_plays:
            self._plays.add(went)
