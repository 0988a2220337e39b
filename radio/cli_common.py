"""What the ``radio`` commands share: the ``--home`` and ``--json`` options, the settings they
resolve to, JSON and stderr output, and the ``m:ss`` clock.

`radio.cli` and every ``radio.cli_*`` module import these from here, so that each of them can
be imported on its own, in any order. This module must not import `radio.cli` or any
``radio.cli_*`` module (that is the cycle it exists to break), must not define commands, and
must stay light: no analysis, no `ranking` (torch), nothing that slows ``radio --help``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError
from rich.console import Console

from radio.config import Settings
from radio.errors import ConfigError

__all__ = ["echo_json", "format_clock", "home_option", "json_option", "settings_from",
           "stderr_console"]


class _State:
    """The context object: ``--home`` given on the group or on a command."""

    home: Path | None = None


def _set_home(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.ensure_object(_State).home = value


home_option = click.option(
    "--home", type=click.Path(file_okay=False, path_type=Path), default=None,
    expose_value=False, callback=_set_home,
    help="Where the library lives (default: $RADIO_HOME, else ./radio-data).",
)
"""``--home DIR``, for the group and for every command that touches the library."""

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
"""``--json``: passes ``as_json`` to the command."""


def settings_from(ctx: click.Context) -> Settings:
    """The settings for this invocation: ``--home`` if given, else the environment's.

    Raises `ConfigError` naming the ``RADIO_*`` variable when a setting does not validate.
    """
    home = ctx.ensure_object(_State).home
    try:
        return Settings(home=home) if home is not None else Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "RADIO_" + "_".join(str(p) for p in first["loc"]).upper()
        raise ConfigError(f"invalid setting {name}: {first['msg']}") from exc


def stderr_console() -> Console:
    """A rich console on stderr, for progress bars that must not mix with the output."""
    return Console(stderr=True)


def echo_json(data: Any) -> None:
    """Print `data` as indented JSON on stdout (non-ASCII kept as is)."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def format_clock(seconds: float) -> str:
    """``m:ss`` for a duration in seconds, rounded to the second."""
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}:{secs:02d}"
