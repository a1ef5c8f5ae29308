"""The library day: demand, readers, services and staff, zone physics, virtual sensors, KPIs.

Names load their module on first use, so ``import simulation`` does not import mesa, simpy or pandas.
"""

from __future__ import annotations

__all__ = [
    "CrowdWalker",
    "DayResult",
    "GridWalker",
    "LibraryDay",
    "Place",
    "WalkResult",
    "Walker",
    "ZonePhysics",
    "compute_kpis",
    "erlang_c_wait",
    "run_day",
    "walker_factory",
]

_LAZY = {"DayResult": "library_day", "LibraryDay": "library_day", "run_day": "library_day",
         "GridWalker": "walker", "Place": "walker", "WalkResult": "walker", "Walker": "walker",
         "ZonePhysics": "physics", "compute_kpis": "kpis", "erlang_c_wait": "queueing",
         "CrowdWalker": "crowdwalk", "walker_factory": "crowdwalk"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module '{__name__}' has no attribute '{name}'")
