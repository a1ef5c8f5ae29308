"""The one base of the optimisers' user-facing errors (a bad request, not a bug)."""

from __future__ import annotations


class OptimizationError(ValueError):
    """A request the optimiser cannot answer; the message says what and what would work."""
