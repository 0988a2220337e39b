"""The server's settings: one pydantic-settings object beside `radio.config.Settings`.

`ServerSettings()` reads RADIO_ADMIN_TOKEN, RADIO_HOST, RADIO_PORT and the limits from the
environment (the same RADIO_ prefix as the library's settings) and validates them when the server
starts, so that a bad value stops `radio serve` with one clear line instead of a failing request
later. The library settings (RADIO_HOME, ...) stay in `radio.config.Settings`;
`ServerSettings.radio` carries them so that the app receives a single object.
"""

from __future__ import annotations

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from radio.config import Settings
from radio.errors import ConfigError

__all__ = ["ServerSettings", "load_settings"]


class ServerSettings(BaseSettings):
    """HTTP service settings; every field can be set as RADIO_<NAME> in the environment."""

    model_config = SettingsConfigDict(env_prefix="RADIO_", extra="ignore")

    radio: Settings = Field(default_factory=Settings, exclude=True)
    admin_token: str | None = Field(
        default=None, description="bearer token for the admin routes; unset disables them")
    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=8000, ge=0, le=65535)
    max_upload_bytes: int = Field(default=50 * 1024**2, gt=0, description="sponsor clips, ...")
    max_stations: int = Field(default=32, ge=1, le=10_000)
    max_listeners_per_station: int = Field(default=200, ge=1, le=100_000)
    idle_stop_s: float = Field(default=600.0, gt=0, description="stop a station with no listener")
    render_ahead_s: float = Field(default=8.0, ge=1.0, le=120.0,
                                  description="rendered audio kept ahead of the live point")
    render_ahead_songs: int = Field(default=2, ge=0, le=5,
                                    description="songs after the one on air rendered ahead")
    client_queue_s: float = Field(
        default=15.0, ge=1.0, le=600.0,
        description="a listener this far behind the live point is dropped")
    preload_s: float = Field(
        default=2.0, ge=0.0, le=30.0,
        description="audio a new listener gets at once, before the live point")
    skip_margin_s: float = Field(default=2.0, ge=0.0, le=60.0,
                                 description="a skip cuts no sooner than this after the playhead")

    @field_validator("admin_token")
    @classmethod
    def _token(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if len(value) < 16 or any(c.isspace() for c in value):
            raise ValueError("must be at least 16 characters without spaces "
                             "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe())'`)")
        return value


def load_settings(**overrides: object) -> ServerSettings:
    """Settings from the environment plus ``overrides``; `ConfigError` names a bad field."""
    try:
        return ServerSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "RADIO_" + "_".join(str(p) for p in first["loc"]).upper()
        raise ConfigError(f"invalid setting {name}: {first['msg']}") from exc
