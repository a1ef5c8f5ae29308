"""Simulation engine: navigation fields, crowd movement, library days, zone physics, KPIs."""

from .crowd import Crowd, CSMParameters, periodic_corridor
from .evacuation import EvacuationConfig, EvacuationInputError, EvacuationResult, run_evacuation, write_outputs
from .navigation import FloorSpace, Leg, NavField, Navigator, NoRouteError, Route, Target, floor_spaces

__all__: list[str] = [
    # pedestrian dynamics (issue 3)
    "CSMParameters",
    "Crowd",
    "EvacuationConfig",
    "EvacuationInputError",
    "EvacuationResult",
    "FloorSpace",
    "Leg",
    "NavField",
    "Navigator",
    "NoRouteError",
    "Route",
    "Target",
    "floor_spaces",
    "periodic_corridor",
    "run_evacuation",
    "write_outputs",
]

# library day (issue 4): imported on first use, so mesa, simpy and pandas stay out of `import simulation`
__all__ += [
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

_LAZY = {"DayResult": "day", "LibraryDay": "day", "run_day": "day", "GridWalker": "model.walker",
         "Place": "model.walker", "WalkResult": "model.walker", "Walker": "model.walker",
         "ZonePhysics": "physics", "compute_kpis": "kpis", "erlang_c_wait": "services",
         "CrowdWalker": "crowdwalk", "walker_factory": "crowdwalk"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'simulation' has no attribute '{name}'")
