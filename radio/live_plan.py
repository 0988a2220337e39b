"""How the live engine reaches its station: what it needs of one, the plan as the renderer reads
it, and calls that survive a briefly locked SQLite.

- `StationLike`: the part of `radio.stations.Station` that `radio.live.LiveStation` uses.
- `PlanTail`: a live view of the station's plan from one item on, which `radio.render.render` walks
  while the station keeps appending to it (the first item's entry can be replaced, for a skip).
- `retry_locked`: a station or store call tried again when SQLite said "database is locked"
  (the server opens its stores through it too).

It never plans (the station does), never renders and never keeps state of its own.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

from radio.errors import RadioError
from radio.plan import Plan

__all__ = ["PlanTail", "StationLike", "retry_locked"]

T = TypeVar("T")


class StationLike(Protocol):
    """What the engine needs of `radio.stations.Station`."""

    id: str
    plan: Plan

    def ensure_ahead(self, index: int, n: int = 2) -> None: ...

    def replan_after(self, index: int, *, not_before: float) -> None: ...


class PlanTail(Sequence[T]):
    """A live view of ``source()[offset:]`` (the station's plan grows in place), with the first
    element optionally replaced."""

    def __init__(self, source: Callable[[], list[T]], offset: int,
                 first: Callable[[T], T] | None = None) -> None:
        self._source, self._offset, self._first = source, offset, first

    def __len__(self) -> int:
        return max(0, len(self._source()) - self._offset)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        j = i + len(self) if i < 0 else i
        if not 0 <= j < len(self):
            raise IndexError(i)
        got = self._source()[self._offset + j]
        return self._first(got) if j == 0 and self._first is not None else got

    def __iter__(self) -> Iterator[T]:
        j = 0
        while j < len(self):
            yield self[j]
            j += 1


def retry_locked(fn: Callable[[], T], *, tries: int = 5) -> T:
    """``fn()``, tried again after a short pause when SQLite said "database is locked".

    In WAL mode SQLite answers "locked" at once, without waiting out the busy timeout, when a
    transaction that read must turn into a write after another connection committed in
    between (SQLITE_BUSY_SNAPSHOT), e.g. the play log's. The race is brief, so a few retries
    make station planning under load reliable. SQLite says it in a `RadioError` when a store
    is opened (`radio.store_schema.open_library`) and as its own ``sqlite3.OperationalError``
    when a later write fails (`radio.listeners.record_play`).
    """
    for attempt in range(tries):
        try:
            return fn()
        except (RadioError, sqlite3.OperationalError) as exc:
            if "locked" not in str(exc) or attempt == tries - 1:
                raise
            time.sleep(0.02 * (attempt + 1))
    raise AssertionError("unreachable")
