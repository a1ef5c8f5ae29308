"""Optimisation over the simulation: device placement, desk staffing, layout search and sweeps on Dask.

Names load their module on first use, so ``import optimization`` imports neither numba nor dask.
"""

from __future__ import annotations

__all__ = [
    "OptimizationError",
    "edit",
    "parse_axis",
    "parse_target",
    "plan_placement",
    "plan_staffing",
    "run_scenario",
    "search",
    "sweep",
]

_LAZY = {"OptimizationError": "errors", "edit": "scenario", "run_scenario": "scenario", "parse_axis": "sweep",
         "sweep": "sweep", "parse_target": "staffing", "plan_staffing": "staffing", "plan_placement": "place",
         "search": "layout"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module '{__name__}' has no attribute '{name}'")
