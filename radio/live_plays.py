"""The play log of one live station, written on a thread of its own.

The pacer thread of `radio.live.LiveStation` hands each item to `PlayWriter.add` as it goes on
air and goes straight back to the audio: it never waits for SQLite. The writer thread writes
the plays oldest first (`radio.listeners.record_play`, and a sponsor clip's impression,
`radio.sponsor_plans.record_played`), each call through `retry_locked`. A play that cannot be
written (a library that stays locked: up to the busy timeout per try) is logged and stays at
the head of the queue, tried again when the next item goes on air or ``retry_s`` later, so the
log keeps its order and each play the wall time it went on air.

`PlayWriter.close` (the station stops) writes what is still queued, within its timeout; plays
that cannot be written even then are logged as an error with their count and their rows, never
dropped silently: the play log is the operator's data.

It never touches the audio, the station clock or the plan's order.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import deque
from functools import partial
from typing import TYPE_CHECKING

from radio.config import Settings
from radio.errors import RadioError
from radio.live_plan import StationLike, retry_locked

if TYPE_CHECKING:
    from radio.live import OnAir

__all__ = ["PlayWriter"]

log = logging.getLogger("radio.live")  # part of `LiveStation`: its logger


class PlayWriter:
    """The queue of plays one station has not written yet, and the thread that writes it."""

    def __init__(self, settings: Settings, station: StationLike, *, listener: str | None,
                 retry_s: float) -> None:
        self.settings, self.station, self.listener = settings, station, listener
        self.retry_s = retry_s
        self._queue: deque[tuple[OnAir, float]] = deque()
        self._cond = threading.Condition()
        self._kick = False  # plays were added (or the station stops) since the last attempt
        self._closing = False
        self._thread = threading.Thread(target=self._run, daemon=True,
                                         name=f"plays-{station.id}")

    def add(self, plays: list[tuple[OnAir, float]]) -> None:
        """Queue ``(item, wall time it went on air)`` pairs; returns at once."""
        with self._cond:
            if self._closing:
                log.error("station %s: %d plays came after the play log closed: %s",
                          self.station.id, len(plays), _rows(plays))
                return
            self._queue += plays
            self._kick = True
            if self._thread.ident is None:
                self._thread.start()
            self._cond.notify_all()

    def pending(self) -> int:
        """Plays not in the play log yet."""
        with self._cond:
            return len(self._queue)

    def close(self, timeout: float) -> None:
        """Write what is queued, waiting at most ``timeout`` seconds; idempotent."""
        with self._cond:
            self._closing = self._kick = True
            self._cond.notify_all()
            started = self._thread.ident is not None
        if started:
            self._thread.join(timeout)
        if self._thread.is_alive() and self.pending():
            queued = self._snapshot()
            log.error("station %s stopped with %d plays not in the play log yet (waited "
                      "%.1f s); the writer goes on trying while the server runs: %s",
                      self.station.id, len(queued), timeout, _rows(queued))

    # -- writer thread -------------------------------------------------------------------
    def _snapshot(self) -> list[tuple[OnAir, float]]:
        with self._cond:
            return list(self._queue)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return
                head, self._kick = self._queue[0], False
            try:
                self._write(*head)
            except Exception:  # not only SQLite's: a dead writer would lose every later play
                if not self._failed():
                    return
                continue
            with self._cond:
                self._queue.popleft()

    def _failed(self) -> bool:
        """The head of the queue could not be written: log it, and wait to try again. False
        when the station stopped meanwhile: what is queued is logged as lost."""
        with self._cond:
            closing, queued = self._closing, list(self._queue)
            if closing:
                self._queue.clear()
        if closing:
            log.exception("station %s stopped: %d plays could not be written to the play "
                          "log and are lost: %s", self.station.id, len(queued), _rows(queued))
            return False
        log.exception("station %s: %d plays not logged yet; tried again when the next item "
                      "goes on air or in %g s", self.station.id, len(queued), self.retry_s)
        with self._cond:
            self._cond.wait_for(lambda: self._kick, timeout=self.retry_s)
        return True

    def _write(self, e: OnAir, at: float) -> None:
        from radio.listeners import record_play

        retry_locked(partial(
            record_play, self.settings, station=self.station.id, listener=self.listener,
            item_kind=e.item.kind, ref=e.item.ref, started_at=at,
            junction_probability=e.probability))
        if e.item.kind == "sponsor":
            self._impression(e.index, at)

    def _impression(self, index: int, at: float) -> None:
        """A sponsor clip went on air at ``at``: its impression counts toward caps and
        reports."""
        from radio.sponsor_plans import record_played

        try:
            retry_locked(partial(record_played, self.settings, self.station.plan, index,
                                 listener=self.listener, at=at))
        except (RadioError, sqlite3.Error):
            log.exception("station %s: impression of item %d not recorded", self.station.id,
                          index)


def _rows(plays: list[tuple[OnAir, float]]) -> str:
    """The plays as the operator could re-enter them: kind, ref and when each went on air."""
    return ", ".join(f"{e.item.kind} {e.item.ref} at {at:.3f} "
                     f"({time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(at))})"
                     for e, at in plays)
