"""Dependencies shared by the routes (`Annotated` aliases, as in the FastAPI template's deps.py).

The app keeps its `ServerSettings` in ``app.state.config`` and its `Registry` in
``app.state.registry``; routes get them through these aliases, and open the SQLite store in the
thread that uses it (`open_store`: a connection must not cross threads).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, Request

from radio.live_plan import retry_locked
from radio.store import Store
from server.config import ServerSettings
from server.registry import Registry

__all__ = ["ConfigDep", "RegistryDep", "open_store"]


def _config(request: Request) -> ServerSettings:
    config: ServerSettings = request.app.state.config
    return config


def _registry(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


ConfigDep = Annotated[ServerSettings, Depends(_config)]
RegistryDep = Annotated[Registry, Depends(_registry)]


@contextmanager
def open_store(config: ServerSettings) -> Iterator[Store]:
    """The library store for this thread, closed afterwards."""
    store = retry_locked(lambda: Store(config.radio))
    try:
        yield store
    finally:
        store.close()
