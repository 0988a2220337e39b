"""The one exception tree of the `ranking` package."""

from __future__ import annotations

__all__ = ["ClipError", "ModelLoadError", "RankingError"]


class RankingError(Exception):
    """Root of every error `ranking` raises on purpose."""


class ClipError(RankingError, ValueError):
    """A clip (or pair of clips) cannot be scored: too short, wrong shape, bad rate."""


class ModelLoadError(RankingError):
    """A checkpoint is missing, corrupt or from an incompatible version."""
