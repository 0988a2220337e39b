"""Dependencies shared by the routes (`Annotated` aliases, as in the FastAPI template's deps.py).

The app keeps its `ServerSettings` in ``app.state.config`` and its `Registry` in
``app.state.registry``; routes get them through these aliases, and open the SQLite store in the
thread that uses it (`open_store`: a connection must not cross threads).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, Request

from radio.errors import ConfigError
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


def _open(config: ServerSettings, tries: int = 5) -> Store:
    # Store() writes its schema row on open; in WAL mode that can fail at once with "database
    # is locked" when another connection commits at the same moment. Such a race is brief.
    for attempt in range(tries):
        try:
            return Store(config.radio)
        except ConfigError as exc:
            if "locked" not in str(exc) or attempt == tries - 1:
                raise
            time.sleep(0.02 * (attempt + 1))
    raise AssertionError("unreachable")


@contextmanager
def open_store(config: ServerSettings) -> Iterator[Store]:
    """The library store for this thread, closed afterwards."""
    store = _open(config)
    try:
        yield store
    finally:
        store.close()
