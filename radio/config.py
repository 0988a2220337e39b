"""Configuration in one place: one settings object, overridable by environment (RADIO_*).

`Settings()` reads RADIO_HOME, RADIO_ADMIN_TOKEN, ... and validates them at start-up; paths
under the home are derived here so that no other module builds them by hand.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Radio-jockey settings; every field can be set as RADIO_<NAME> in the environment."""

    model_config = SettingsConfigDict(env_prefix="RADIO_", extra="ignore")

    home: Path = Field(default=Path("radio-data"), description="where the store and indexes live")
    decode_timeout_s: float = Field(default=120.0, gt=0, description="kill a decoder after this")
    max_file_bytes: int = Field(default=2 * 1024**3, gt=0, description="larger files are refused")
    analysis_sr: int = Field(default=22050, ge=8000, le=96000)

    @field_validator("home")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def db_path(self) -> Path:
        return self.home / "library.db"

    @property
    def features_dir(self) -> Path:
        return self.home / "features"

    @property
    def indexes_dir(self) -> Path:
        return self.home / "indexes"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"
