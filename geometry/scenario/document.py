"""The whole scenario file as one pydantic model: :class:`Scenario`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from .building import BranchSpec, BuildingSpec, DeviceSpec
from .demand import DemandSpec
from .physics import PhysicsSpec
from .services import ServicesSpec, StaffSpec
from .types import Id, Strict, Text


class VariantSpec(Strict):
    """A named renovation scenario: a deep override of the base document.

    ``override`` is merged into the base: mappings merge key by key; lists of items with an ``id``
    merge by id (an item with ``remove: true`` deletes that id, unknown ids are appended); other
    values and other lists replace.
    """

    description: Text = Field(description="what the variant changes, for people")
    override: dict[str, Any] = Field(default_factory=dict, description="parts of the base document to change "
                                     "(same shape as the file)")


class Scenario(Strict):
    """One branch of the library system: the whole scenario file."""

    version: Literal[1] = Field(default=1, description="format version")
    branch: BranchSpec = Field(description="which branch this is")
    building: BuildingSpec = Field(description="floors, zones, furniture, openings, seats, stairs and lifts")
    devices: list[DeviceSpec] = Field(default_factory=list, max_length=5000,
                                      description="sensors and service devices")
    demand: DemandSpec = Field(default_factory=DemandSpec, description="who comes, when and what for")
    services: ServicesSpec = Field(default_factory=ServicesSpec,
                                   description="opening hours, desks, kiosks, cafes, group rooms")
    staff: StaffSpec = Field(default_factory=StaffSpec, description="staff shifts and shelving")
    physics: PhysicsSpec = Field(default_factory=PhysicsSpec,
                                 description="outdoor air, ventilation, heat, light, sound, energy")
    variants: dict[Id, VariantSpec] = Field(default_factory=dict, max_length=100,
                                            description="named renovation variants")
