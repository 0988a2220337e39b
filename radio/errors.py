"""The one exception tree of the `radio` package.

Every error a user can cause (a bad file, an unknown id, a bad setting) is a `RadioError`.
Errors are converted only at the boundaries: the CLI prints one line and exits 1, the server
returns a 4xx, batch ingestion records the failure with its reason and goes on.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "AnalysisError",
    "AudioLoadError",
    "ConfigError",
    "FetchError",
    "NotFound",
    "RadioError",
]


class RadioError(Exception):
    """Root of every error radio-jockey raises on purpose."""


class ConfigError(RadioError):
    """A setting is missing or invalid; the message names it and says how to fix it."""


class NotFound(RadioError):
    """An id or name that the store does not hold."""

    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"no {kind} {key!r}; list them with `radio {kind}s`")
        self.kind = kind
        self.key = key


class AudioLoadError(RadioError):
    """A file could not be read or decoded as audio.

    ``reason`` is a short machine-friendly word (``empty``, ``not-audio``, ``timeout``...)
    recorded in the ``failures`` table; ``cause`` is the human detail.
    """

    def __init__(self, path: Path | str, reason: str, cause: str = "") -> None:
        detail = f": {cause}" if cause else ""
        super().__init__(f"{path}: {reason}{detail}")
        self.path = str(path)
        self.reason = reason
        self.cause = cause


class AnalysisError(RadioError):
    """Audio decoded but cannot be analysed (too short, silent...)."""

    def __init__(self, reason: str, cause: str = "") -> None:
        detail = f": {cause}" if cause else ""
        super().__init__(f"{reason}{detail}")
        self.reason = reason
        self.cause = cause


class FetchError(RadioError):
    """The demo or CI corpus could not be fetched from Debian's archive."""
