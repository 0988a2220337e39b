"""The stations on air in this process: creation, lookup, idle reaping, shutdown.

One `Registry` per app (``app.state.registry``). It loads the continuation model once (lazily,
under a lock; `preload` warms it and the text encoder at start-up so the first station is
quick), creates each `radio.stations.Station` with its `radio.live.LiveStation` and its
`server.broadcast.Broadcast`, and stops a station nobody has listened to for
``idle_stop_s``. Creation runs in a worker thread (planning takes about a second); everything
that touches a `Broadcast` runs on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from radio.errors import NotFound, RadioError
from radio.live import LiveConfig, LiveStation
from radio.live_pacer import Segment
from radio.live_plan import retry_locked
from server.broadcast import Broadcast
from server.config import ServerSettings

if TYPE_CHECKING:
    from radio.pools import StationRequest
    from radio.stations import Station
    from ranking import ContinuationModel

__all__ = ["OnAirStation", "Registry", "StationsFull"]

log = logging.getLogger(__name__)


class StationsFull(RadioError):
    """The server already plays its maximum number of stations (a 503)."""


@dataclass
class OnAirStation:
    station: Station
    live: LiveStation
    broadcast: Broadcast
    created_at: float = field(default_factory=time.time)
    idle_since: float | None = field(default_factory=time.monotonic)  # no listener since

    @property
    def id(self) -> str:
        return self.station.id


class Registry:
    """Stations by id, with their live engines and broadcasts."""

    def __init__(self, config: ServerSettings) -> None:
        self.config = config
        self.started_at = time.time()
        self._stations: dict[str, OnAirStation] = {}
        self._lock = threading.Lock()
        self._model_lock = threading.Lock()
        self._model: ContinuationModel | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.live_config = LiveConfig(render_ahead_s=config.render_ahead_s,
                                      render_ahead_songs=config.render_ahead_songs,
                                      release_ahead_s=config.preload_s,
                                      skip_margin_s=config.skip_margin_s)

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """The event loop that owns the broadcasts (set at start-up)."""
        self._loop = loop

    def model(self) -> ContinuationModel:
        with self._model_lock:
            if self._model is None:
                from radio.modeling import resolve_model

                self._model = resolve_model(self.config.radio)
            return self._model

    def preload(self) -> None:
        """Load the continuation model and the text encoder now (runs in a thread)."""
        try:
            self.model()
            from radio.search import default_embedder

            default_embedder()
        except RadioError as exc:  # the first station creation will report it properly
            log.warning("preload failed: %s", exc)

    # -- stations -----------------------------------------------------------------------
    def create(self, request: StationRequest, *, wait_s: float = 10.0) -> OnAirStation:
        """Plan and start a station; returns once its first audio is on air (or ``wait_s``)."""
        from radio.stations import Station

        if self._loop is None:
            raise RuntimeError("the registry has no event loop; call attach() first")
        with self._lock:
            if len(self._stations) >= self.config.max_stations:
                raise StationsFull(f"this server already plays {self.config.max_stations} "
                                   "stations (RADIO_MAX_STATIONS); try again later")
        model = self.model()
        station = retry_locked(lambda: Station.create(self.config.radio, request, model=model,
                                                      station_id=uuid.uuid4().hex[:12]))
        broadcast = Broadcast(keep_s=max(10.0, 2 * self.config.preload_s),
                              max_queue_s=self.config.client_queue_s,
                              max_listeners=self.config.max_listeners_per_station)
        loop = self._loop

        def publish(segment: Segment) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed: shutting down
                loop.call_soon_threadsafe(broadcast.publish, segment)

        live = LiveStation(station, settings=self.config.radio, publish=publish,
                           config=self.live_config, listener=request.listener)
        handle = OnAirStation(station, live, broadcast)
        with self._lock:
            if len(self._stations) >= self.config.max_stations:
                raise StationsFull(f"this server already plays {self.config.max_stations} "
                                   "stations (RADIO_MAX_STATIONS); try again later")
            self._stations[handle.id] = handle
        live.start()
        if not live.wait_live(wait_s) and live.state == "failed":
            self.remove(handle.id)
            raise RadioError(f"the station could not start: {live.error}")
        return handle

    def get(self, station_id: str) -> OnAirStation:
        with self._lock:
            handle = self._stations.get(station_id)
        if handle is None:
            raise NotFound("station", station_id)
        return handle

    def all(self) -> list[OnAirStation]:
        with self._lock:
            return list(self._stations.values())

    def remove(self, station_id: str) -> OnAirStation:
        """Stop a station and forget it (its listeners' streams end)."""
        with self._lock:
            handle = self._stations.pop(station_id, None)
        if handle is None:
            raise NotFound("station", station_id)
        handle.live.stop()
        self._close_broadcast(handle)
        return handle

    def _close_broadcast(self, handle: OnAirStation) -> None:
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(handle.broadcast.close)

    def reap(self, now: float | None = None) -> list[str]:
        """Stop stations without a listener for ``idle_stop_s``; returns their ids."""
        now = time.monotonic() if now is None else now
        gone = []
        for handle in self.all():
            if handle.live.state == "failed" and not handle.broadcast.closed:
                # Its listeners' streams end now; GET still tells why until it is reaped.
                self._close_broadcast(handle)
            if handle.broadcast.listeners:
                handle.idle_since = None
            elif handle.idle_since is None:
                handle.idle_since = now
            elif now - handle.idle_since >= self.config.idle_stop_s:
                gone.append(handle.id)
        for station_id in gone:
            with contextlib.suppress(NotFound):
                self.remove(station_id)
                log.info("station %s stopped: no listener for %.0f s", station_id,
                         self.config.idle_stop_s)
        return gone

    def close(self) -> None:
        for handle in self.all():
            with contextlib.suppress(NotFound):
                self.remove(handle.id)
