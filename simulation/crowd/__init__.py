"""Pedestrian dynamics: navigation fields, the crowd movement kernels and their facade, evacuation."""

from .evacuation import EvacuationConfig, EvacuationInputError, EvacuationResult, run_evacuation, write_outputs
from .movement import Crowd, CSMParameters, periodic_corridor
from .navigation import FloorSpace, NavField, Navigator, Target, floor_spaces
from .routes import Leg, NoRouteError, Route

__all__ = [
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
