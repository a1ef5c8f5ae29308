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
