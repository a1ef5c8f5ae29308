"""Building model: scenario files, floors and zones, walkable grids, 3D meshes and renders."""

from .build import ScenarioSource, build_building, floor_grids, load_building, load_scenario
from .errors import Problem, ScenarioError
from .grid import WalkableGrid, rasterize, rasterize_floor
from .model import OUTSIDE, Building, Device, Floor, Link, Obstacle, Opening, Seat, Zone
from .scenario import Scenario

__all__ = [
    "OUTSIDE",
    "Building",
    "Device",
    "Floor",
    "Link",
    "Obstacle",
    "Opening",
    "Problem",
    "Scenario",
    "ScenarioError",
    "ScenarioSource",
    "Seat",
    "WalkableGrid",
    "Zone",
    "build_building",
    "floor_grids",
    "load_building",
    "load_scenario",
    "rasterize",
    "rasterize_floor",
]
