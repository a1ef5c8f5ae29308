"""Building model: scenario files, floors and zones, walkable grids, 3D meshes and renders."""

from .build import build_building, floor_grids, load_building
from .errors import Problem, ScenarioError
from .grid import WalkableGrid, rasterize, rasterize_floor
from .model import OUTSIDE, Building, Device, Floor, Link, Obstacle, Opening, Seat, Zone
from .scenario import ResolvedScenario, Scenario, ScenarioSource, apply_variant, load_scenario, resolve_file, to_yaml

__all__ = [
    "OUTSIDE",
    "Building",
    "Device",
    "Floor",
    "Link",
    "Obstacle",
    "Opening",
    "Problem",
    "ResolvedScenario",
    "Scenario",
    "ScenarioError",
    "ScenarioSource",
    "Seat",
    "WalkableGrid",
    "Zone",
    "apply_variant",
    "build_building",
    "floor_grids",
    "load_building",
    "load_scenario",
    "rasterize",
    "rasterize_floor",
    "resolve_file",
    "to_yaml",
]
