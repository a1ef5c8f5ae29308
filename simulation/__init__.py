"""Simulation engine in two parts: ``simulation.crowd`` (navigation fields, the crowd movement
kernels, evacuation) and ``simulation.day`` (demand, readers, services, physics, virtual sensors,
KPIs). The names users need most are re-exported here; the day's names load on first use, so
``import simulation`` stays free of mesa, simpy and pandas.
"""

from __future__ import annotations

from .crowd import (
    Crowd,
    CSMParameters,
    EvacuationConfig,
    EvacuationInputError,
    EvacuationResult,
    EvacuationSummary,
    FloorSpace,
    Leg,
    NavField,
    Navigator,
    NoRouteError,
    Route,
    Target,
    floor_spaces,
    periodic_corridor,
    run_evacuation,
    write_outputs,
)
from .day import __all__ as _day_all

__all__: list[str] = [
    "CSMParameters",
    "Crowd",
    "EvacuationConfig",
    "EvacuationInputError",
    "EvacuationResult",
    "EvacuationSummary",
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
    *_day_all,
]


def __getattr__(name: str) -> object:
    if name in _day_all:
        from . import day

        return getattr(day, name)
    raise AttributeError(f"module 'simulation' has no attribute '{name}'")
