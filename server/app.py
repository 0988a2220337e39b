"""The FastAPI application: routers, error mapping, the web player, and the stations' lifetime.

`create_app(config)` builds an app around one `ServerSettings`; `radio serve` runs it on uvicorn.
Errors are converted here and only here: `NotFound` -> 404, `StationsFull`/`StationBusy` ->
503, any other `RadioError` -> 400, a bad body or query -> 422 (FastAPI), each as
``{"detail": "<message>"}``; anything unexpected is logged and answered 500 without detail, so
nothing a client sends can take the server down. The web player is ``static/index.html`` at ``/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from radio import __version__
from radio.errors import ConfigError, NotFound, RadioError
from server.config import ServerSettings, load_settings
from server.registry import Registry, StationsFull
from server.routes import admin, stations, tracks

__all__ = ["create_app"]

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
_REAP_EVERY_S = 10.0


def _status(exc: RadioError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, StationsFull | stations.StationBusy):
        return 503
    if isinstance(exc, ConfigError):
        return 503  # the server's library is not usable (not the client's fault)
    return 400


def _message(exc: RadioError) -> str:
    if isinstance(exc, NotFound):
        return f"no {exc.kind} {exc.key!r}"
    return str(exc)


async def _reaper(registry: Registry, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            await asyncio.to_thread(registry.reap)
        except Exception:  # the reaper must outlive any one failure
            log.exception("reaping idle stations failed")


def create_app(config: ServerSettings | None = None, *, preload: bool = True) -> FastAPI:
    """The app for ``config`` (default: from the environment)."""
    config = config or load_settings()
    registry = Registry(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        registry.attach(asyncio.get_running_loop())
        if preload:
            asyncio.get_running_loop().run_in_executor(None, registry.preload)
        reaper = asyncio.create_task(_reaper(registry, min(_REAP_EVERY_S, config.idle_stop_s)))
        try:
            yield
        finally:
            reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reaper
            await asyncio.to_thread(registry.close)

    app = FastAPI(title="radio-jockey", version=__version__, lifespan=lifespan,
                  description="An automated radio station: ask for a station by a seed song or "
                              "a prompt and listen to an endless, beat-matched mix.")
    app.state.config = config
    app.state.registry = registry

    @app.exception_handler(RadioError)
    async def radio_error(_request: Request, exc: RadioError) -> JSONResponse:
        return JSONResponse({"detail": _message(exc)}, status_code=_status(exc))

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error", exc_info=exc)
        return JSONResponse({"detail": "internal error; see the server log"}, status_code=500)

    app.include_router(stations.router)
    app.include_router(tracks.router)
    app.include_router(admin.router)
    if importlib.util.find_spec("server.routes_sponsors") is not None:
        from server import routes_sponsors

        app.include_router(routes_sponsors.router)

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
