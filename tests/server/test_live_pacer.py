"""The pacer of the live engine (`radio.live_pacer`) and its play log writer (`radio.live_plays`)
on a real two-song station: a play log that SQLite keeps reporting locked neither stops nor holds
up the stream, and the plays still queued when the station stops are written then."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import radio.listeners as listeners
from radio.config import Settings
from radio.live import LiveConfig, LiveStation
from radio.live_pacer import Segment
from radio.plan import Plan, PlanItem, Transition
from tests.conftest import MakeTrack


class _TwoSongs:
    """A station whose plan is two songs: Ann's (0 .. 3 s) hands over to Bob's (1 s .. end)
    in a 2 s junction, so Bob's goes on air about 4 s in."""

    id = "flaky"

    def __init__(self, a: Path, b: Path) -> None:
        def item(ref: int, path: Path, artist: str, entry: float, exit_: float) -> PlanItem:
            return PlanItem(kind="track", ref=ref, path=str(path), title=path.stem,
                            artist=artist, entry_time=entry, exit_time=exit_, tempo=120.0,
                            beat_confidence=0.9, lufs=-14.0)

        self.plan = Plan(station=self.id, items=[item(1, a, "Ann", 0.0, 3.0),
                                                 item(2, b, "Bob", 1.0, 12.0)],
                         transitions=[Transition(0, 3.0, 1.0, 4, 1.0, 0.5)])

    def ensure_ahead(self, index: int, n: int = 2) -> None:
        pass

    def replan_after(self, index: int, *, not_before: float) -> None:
        pass


def _wait(live: LiveStation, until: Callable[[], bool], timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not until():
        assert live.state != "failed", live.error
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.parametrize("failures", [7, None], ids=["locked-a-while", "always-failing"])
def test_a_play_log_that_cannot_be_written_does_not_stop_the_station(
        failures: int | None, settings: Settings, make_track: MakeTrack,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """record_play says the database is locked ``failures`` times (None: always). The station
    streams on; a failure that outlasts `retry_locked` (5 tries) is logged with its traceback
    and the play is written with the next one, at the time it went on air."""
    real, calls = listeners.record_play, []

    def flaky(*args: Any, **kw: Any) -> None:
        calls.append(kw["ref"])
        if failures is None or len(calls) <= failures:
            raise sqlite3.OperationalError("database is locked")
        real(*args, **kw)

    monkeypatch.setattr(listeners, "record_play", flaky)
    station = _TwoSongs(make_track(settings.home / "a.wav", seconds=12, seed=1),
                        make_track(settings.home / "b.wav", seconds=12, seed=2))
    segments: list[Segment] = []
    live = LiveStation(station, settings=settings, publish=segments.append,
                       config=LiveConfig(log_retry_s=60.0),  # retried when Bob's goes on air
                       beats_for=lambda item: np.arange(0.0, 12.0, 0.5))
    caplog.set_level(logging.ERROR, logger="radio.live")
    live.start()
    try:
        _wait(live, lambda: len(live.history()) == 2)  # Bob's song went on air
        heard = len(segments)
        _wait(live, lambda: len(segments) > heard + 5)  # ... and the stream goes on
        assert live.state == "live" and live.error is None
    finally:
        live.stop()
    history = live.history()
    assert [e.item.ref for e, _ in history] == [1, 2]
    failed = [r for r in caplog.records if "plays not logged yet" in r.getMessage()]
    assert failed and all(r.exc_info for r in failed)  # with the traceback
    logged = listeners.plays(settings, station="flaky")
    lost = [r for r in caplog.records if "are lost" in r.getMessage()]
    if failures is None:
        assert logged == [] and len(failed) == 2  # once per song that went on air
        assert "2 plays not logged yet" in failed[-1].getMessage()
        # ... and once more when the station stopped: the plays are in the server's log
        assert len(lost) == 1 and "2 plays could not be written" in lost[0].getMessage()
        assert "track 1 at" in lost[0].getMessage() and "track 2 at" in lost[0].getMessage()
    else:
        assert lost == []
        # 5 tries when Ann's song went on air, then 2 more and a success with Bob's
        assert calls == [1] * 8 + [2] and len(failed) == 1
        assert [(p["ref"], p["started_at"]) for p in logged] == [(e.item.ref, at)
                                                                  for e, at in history]


@pytest.mark.slow
def test_plays_still_queued_when_the_station_stops_are_written(
        settings: Settings, make_track: MakeTrack, monkeypatch: pytest.MonkeyPatch) -> None:
    """The play log refuses both plays while the station runs, and accepts them once it is
    stopping: `LiveStation.stop` writes them, oldest first, at the times they went on air."""
    real, calls, refuse = listeners.record_play, [], [True]

    def flaky(*args: Any, **kw: Any) -> None:
        calls.append(kw["ref"])
        if refuse[0]:
            raise sqlite3.OperationalError("database is locked")
        real(*args, **kw)

    monkeypatch.setattr(listeners, "record_play", flaky)
    station = _TwoSongs(make_track(settings.home / "a.wav", seconds=12, seed=1),
                        make_track(settings.home / "b.wav", seconds=12, seed=2))
    live = LiveStation(station, settings=settings, publish=lambda s: None,
                       config=LiveConfig(log_retry_s=60.0),
                       beats_for=lambda item: np.arange(0.0, 12.0, 0.5))
    live.start()
    try:
        _wait(live, lambda: len(live.history()) == 2 and len(calls) >= 10)  # 5 tries a song
        assert listeners.plays(settings, station="flaky") == []
        refuse[0] = False
    finally:
        live.stop()
    logged = listeners.plays(settings, station="flaky")
    assert [(p["ref"], p["started_at"]) for p in logged] == [(e.item.ref, at)
                                                              for e, at in live.history()]


@pytest.mark.slow
def test_a_library_locked_for_long_does_not_hold_up_the_audio(
        settings: Settings, make_track: MakeTrack) -> None:
    """Another process holds library.db's write lock for longer than SQLite's busy timeout
    (10 s a try, 5 tries). Both songs go on air and the stream runs in real time meanwhile;
    once the lock is gone, the plays are in the log."""
    listeners.plays(settings)  # library.db exists, in WAL mode, with the current schema
    other = sqlite3.connect(settings.db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # the write lock; readers go on (WAL)
    station = _TwoSongs(make_track(settings.home / "a.wav", seconds=12, seed=1),
                        make_track(settings.home / "b.wav", seconds=12, seed=2))
    segments: list[Segment] = []
    live = LiveStation(station, settings=settings, publish=segments.append,
                       beats_for=lambda item: np.arange(0.0, 12.0, 0.5))
    live.start()
    try:
        _wait(live, lambda: len(live.history()) == 2, timeout=20.0)  # Bob's went on air
        heard = len(segments)
        _wait(live, lambda: len(segments) > heard + 5, timeout=5.0)
        # one busy wait on the pacer would hold the clock 10 s: well short of that, rendering
        # on a loaded machine may still stall a little
        assert live.stats.stall_s < 5.0
        assert listeners.plays(settings, station="flaky") == []  # still locked
    finally:
        other.execute("ROLLBACK")
        other.close()
        live.stop()
    logged = listeners.plays(settings, station="flaky")
    assert [(p["ref"], p["started_at"]) for p in logged] == [(e.item.ref, at)
                                                              for e, at in live.history()]
