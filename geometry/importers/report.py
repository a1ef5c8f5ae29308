"""What an import found, what it made of it, and everything it repaired, guessed or left out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Action = Literal["repaired", "guessed", "dropped"]


class BuildingImportError(ValueError):
    """A building file that cannot be imported, with a message naming the file and what is wrong."""

    def __init__(self, file: str, message: str) -> None:
        self.file = file
        self.reason = message
        super().__init__(f"{file}: {message}")


@dataclass(frozen=True)
class Note:
    """One change the importer made to the source: ``what`` names the element, ``why`` says what and why."""

    action: Action
    what: str
    why: str

    def render(self) -> str:
        return f"{self.action}: {self.what}: {self.why}"


@dataclass(frozen=True)
class ZoneReport:
    """One imported zone: where it came from, its guessed kind and its areas."""

    id: str
    floor: str
    source: str
    name: str | None
    kind: str
    kind_from: str | None  # the word the kind was guessed from; None for the default or a given category
    source_area_m2: float  # footprint of the source space
    area_m2: float  # the zone after closing wall gaps (up to the wall centre lines)


@dataclass(frozen=True)
class ImportReport:
    """Summary of one import: counts in the source and in the scenario, and every note.

    ``found`` counts source elements by type (``IfcSpace``: 21); ``made`` counts what the scenario
    holds (``zones``: 19). ``origin_m`` is the source point that became (0, 0) in the scenario.
    """

    source: str
    format: str
    found: dict[str, int]
    made: dict[str, int]
    zones: tuple[ZoneReport, ...]
    notes: tuple[Note, ...]
    space_areas_m2: dict[str, float] = field(default_factory=dict)  # every source space read, by source
    origin_m: tuple[float, float] = (0.0, 0.0)
    unit_scale_m: float = 1.0
    extra: dict[str, str] = field(default_factory=dict)

    def notes_of(self, action: Action) -> list[Note]:
        return [n for n in self.notes if n.action == action]

    @property
    def space_area_m2(self) -> float:
        """Total footprint of every source space read, imported or not [m2]."""
        return sum(self.space_areas_m2.values())
