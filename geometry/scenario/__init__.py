"""The scenario file format: one pydantic model for the whole file, and its resolution.

A file is read once (:func:`load_scenario`), a variant is merged in once (:func:`apply_variant`),
and every part reads the frozen :class:`ResolvedScenario`. The format is described for people in
``docs/scenario-format.md``; ``smartlib scenario schema`` prints its JSON Schema.
"""

from .building import (
    BranchSpec,
    BuildingSpec,
    DeviceSpec,
    DeviceType,
    FloorSpec,
    LiftSpec,
    ObstacleSpec,
    OpeningSpec,
    SeatAttr,
    SeatBlockSpec,
    SeatSpec,
    ShelfRangeSpec,
    StairEnd,
    StairSpec,
    ZoneKind,
    ZoneSpec,
)
from .demand import DayType, DemandSpec, Distribution, EventSpec, SeatPreferences, VisitorType
from .document import Scenario, VariantSpec
from .physics import PhysicsSpec
from .services import DeskSpec, KioskSpec, ServicesSpec, StaffMemberSpec, StaffSpec
from .source import (
    ResolvedScenario,
    ScenarioSource,
    apply_variant,
    load_scenario,
    merge,
    pydantic_problems,
    resolve_file,
    to_yaml,
)

__all__ = [
    "BranchSpec",
    "BuildingSpec",
    "DayType",
    "DemandSpec",
    "DeskSpec",
    "DeviceSpec",
    "DeviceType",
    "Distribution",
    "EventSpec",
    "FloorSpec",
    "KioskSpec",
    "LiftSpec",
    "ObstacleSpec",
    "OpeningSpec",
    "PhysicsSpec",
    "ResolvedScenario",
    "Scenario",
    "ScenarioSource",
    "SeatAttr",
    "SeatBlockSpec",
    "SeatPreferences",
    "SeatSpec",
    "ServicesSpec",
    "ShelfRangeSpec",
    "StaffMemberSpec",
    "StaffSpec",
    "StairEnd",
    "StairSpec",
    "VariantSpec",
    "VisitorType",
    "ZoneKind",
    "ZoneSpec",
    "apply_variant",
    "load_scenario",
    "merge",
    "pydantic_problems",
    "resolve_file",
    "to_yaml",
]
