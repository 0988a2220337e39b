"""``radio serve``: run the HTTP service (API, streams, web player) on uvicorn.

Registered on the `radio.cli` group. Settings come from the environment (RADIO_ADMIN_TOKEN,
RADIO_MAX_STATIONS, ...; see `server.config.ServerSettings`) and these options; they are
validated before the server starts, and a library with no tracks is refused with a hint.
"""

from __future__ import annotations

from pathlib import Path

import click

from radio.cli_common import home_option, settings_from
from radio.errors import ConfigError

__all__ = ["serve_cmd"]


@click.command("serve")
@click.option("--host", default=None, help="Interface to listen on (default 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help="TCP port (default 8000).")
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]),
              default="info", show_default=True)
@home_option
@click.pass_context
def serve_cmd(ctx: click.Context, host: str | None, port: int | None, log_level: str) -> None:
    """Serve stations, their MP3 streams and the web player over HTTP."""
    import uvicorn

    from radio.store import Store
    from server.app import create_app
    from server.config import load_settings

    settings = settings_from(ctx)
    overrides: dict[str, object] = {"radio": settings}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    config = load_settings(**overrides)
    with Store(settings) as store:
        n, _ = store.totals()
    if n == 0:
        raise ConfigError(f"the library in {settings.home} has no tracks; "
                          "run `radio ingest DIR` and `radio embed` first")
    shown = "localhost" if config.host in ("127.0.0.1", "0.0.0.0", "::") else config.host
    click.echo(f"radio-jockey: {n} tracks from {Path(settings.home)}; "
               f"listen at http://{shown}:{config.port}/", err=True)
    if config.admin_token is None:
        click.echo("admin routes are off (set RADIO_ADMIN_TOKEN to open them)", err=True)
    uvicorn.run(create_app(config), host=config.host, port=config.port, log_level=log_level,
                timeout_graceful_shutdown=3)
