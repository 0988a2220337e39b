"""The one exception tree of the `ranking` package."""

from __future__ import annotations

__all__ = ["ClipError", "ModelLoadError", "PlanError", "RankingError"]


class RankingError(Exception):
    """Root of every error `ranking` raises on purpose."""


class ClipError(RankingError, ValueError):
    """A clip (or pair of clips) cannot be scored: too short, wrong shape, bad rate."""


class ModelLoadError(RankingError):
    """A checkpoint is missing, corrupt or from an incompatible version."""


class PlanError(RankingError, ValueError):
    """The sequencing problem cannot be solved as posed: constraints that do not fit the
    candidates, a solver asked for what it does not handle, or no plan that meets them.
    A `ValueError` too, as it was before it had a class of its own."""
