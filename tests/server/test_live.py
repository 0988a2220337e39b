"""Pure parts of the live engine: the growing-plan view the renderer reads, and the retry of a
store that SQLite reported locked."""

from __future__ import annotations

import sqlite3

import pytest

from radio.errors import ConfigError, RadioError
from radio.live_plan import PlanTail, retry_locked


def test_tail_view_follows_the_list_as_it_grows_and_replaces_its_first_element() -> None:
    base = [10, 11, 12]
    tail = PlanTail(lambda: base, 1, lambda x: x * 100)
    assert len(tail) == 2 and tail[0] == 1100 and tail[1] == 12 and tail[-1] == 12
    seen = []
    for x in tail:  # the list grows while it is read, as a station's plan does
        seen.append(x)
        if len(base) < 5:
            base.append(len(base) + 10)
    assert seen == [1100, 12, 13, 14]
    assert tail[1:3] == [12, 13]
    with pytest.raises(IndexError):
        tail[4]
    base[2:] = [99]  # the planned tail replaced in place
    assert list(tail) == [1100, 99]


def test_retry_locked_retries_only_a_locked_database() -> None:
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConfigError("library.db is not a usable SQLite database (database is locked)")
        return "ok"

    assert retry_locked(flaky) == "ok" and len(calls) == 3

    def broken() -> None:
        calls.append(1)
        raise RadioError("no such song")

    calls.clear()
    with pytest.raises(RadioError, match="no such song"):
        retry_locked(broken)
    assert len(calls) == 1

    def locked_write() -> str:  # a write after the open says it as SQLite's own error
        calls.append(1)
        if len(calls) < 3:
            raise sqlite3.OperationalError("database is locked")
        return "written"

    calls.clear()
    assert retry_locked(locked_write) == "written" and len(calls) == 3
