"""Optimisation: staffing, device placement, layout search and scenario sweeps."""

__all__: list[str] = []
