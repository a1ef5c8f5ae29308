"""The scenario file format: one library branch, validated at the edge by pydantic.

The format is described for people in ``docs/scenario-format.md``; ``smartlib scenario schema``
prints its JSON Schema. Coordinates are metres in a floor-local frame (x east, y north); each
floor has an elevation. Sections ``demand``, ``services``, ``staff`` and ``physics`` are open
mappings that later parts of the engine read and validate themselves.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Point = tuple[float, float]
Polygon = Annotated[list[Point], Field(min_length=3, description="closed ring of [x, y] points in metres")]
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")]


class ZoneKind(StrEnum):
    """What a zone is used for; drives colours, defaults and reader behaviour."""

    reading_room = "reading_room"
    stacks = "stacks"
    quiet_study = "quiet_study"
    group_study = "group_study"
    service_desk = "service_desk"
    entrance = "entrance"
    cafe = "cafe"
    restroom = "restroom"
    circulation = "circulation"
    children = "children"
    event_space = "event_space"
    computer_lab = "computer_lab"
    office = "office"


class SeatAttr(StrEnum):
    window = "window"
    power = "power"
    quiet = "quiet"
    group = "group"
    computer = "computer"
    accessible = "accessible"
    lounge = "lounge"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Open(BaseModel):
    """A section whose contents later issues define; any mapping is accepted."""

    model_config = ConfigDict(extra="allow", frozen=True)


class BranchSpec(_Strict):
    id: Id = Field(description="branch id, used in MQTT topics")
    name: str
    kind: Literal["central", "district", "service_point"] = "district"
    timezone: str = "UTC"
    seed: int = Field(0, description="seed of the one random generator every run starts from")


class ZoneSpec(_Strict):
    id: Id
    kind: ZoneKind
    polygon: Polygon
    name: str | None = None


class ObstacleSpec(_Strict):
    id: Id
    kind: Literal["shelf", "wall", "column", "desk", "counter", "furniture", "kiosk"]
    polygon: Polygon
    height_m: float | None = Field(None, gt=0, le=20)
    subjects: list[str] = Field(default_factory=list, description="collection subjects (shelves)")


class ShelfRangeSpec(_Strict):
    """A range of ``count`` parallel shelves, each ``length_m`` long along ``axis``."""

    id: Id
    origin: Point = Field(description="lower-left corner of the first shelf [m]")
    count: int = Field(ge=1, le=500)
    length_m: float = Field(gt=0, le=100)
    depth_m: float = Field(0.6, gt=0, le=3, description="double-sided shelf depth [m]")
    pitch_m: float = Field(1.5, gt=0, le=20, description="centre-to-centre spacing of shelves [m]")
    axis: Literal["x", "y"] = "x"
    height_m: float = Field(2.1, gt=0, le=10)
    subjects: list[str] = Field(default_factory=list, description="subjects, spread over the shelves in order")

    @model_validator(mode="after")
    def _pitch_leaves_aisle(self) -> ShelfRangeSpec:
        if self.count > 1 and self.pitch_m <= self.depth_m:
            raise ValueError(f"pitch_m {self.pitch_m} must exceed depth_m {self.depth_m}, or shelves overlap")
        return self


class SeatSpec(_Strict):
    id: Id
    zone: Id
    at: Point
    attrs: list[SeatAttr] = Field(default_factory=list)


class SeatBlockSpec(_Strict):
    """Many seats at once: a grid of tables, or a row of study carrels.

    ``table_grid``: ``rows`` x ``cols`` tables of size ``table_m`` [w, d]; the lower-left corner of
    the first table is ``origin``; tables repeat every ``pitch_m`` [px, py]; ``seats_per_table``
    seats sit along the two long sides (one side only when 1). ``carrel_row``: ``count`` carrels of
    size ``table_m`` along ``axis`` every ``pitch_m[0]``, one seat each on the ``seat_side``.
    """

    id: Id
    zone: Id
    kind: Literal["table_grid", "carrel_row"]
    origin: Point
    rows: int = Field(1, ge=1, le=200)
    cols: int = Field(1, ge=1, le=200)
    count: int = Field(1, ge=1, le=500)
    axis: Literal["x", "y"] = "x"
    table_m: tuple[float, float] | None = Field(
        None, description="table [w, d] in metres; default 1.6 x 0.8 (tables), 0.9 x 0.6 (carrels)")
    pitch_m: tuple[float, float] | None = Field(
        None, description="repeat distance [px, py] in metres; default leaves 1.0 m and 1.8 m of room")
    seats_per_table: int = Field(4, ge=1, le=12)
    seat_side: Literal["-", "+"] = "-"
    attrs: list[SeatAttr] = Field(default_factory=list)

    @model_validator(mode="after")
    def _sizes(self) -> SeatBlockSpec:
        w, d = self.table
        if w <= 0 or d <= 0:
            raise ValueError(f"table_m {[w, d]} must be positive")
        if self.pitch_m is not None:
            px, py = self.pitch_m
            if self.kind == "table_grid" and (px < w or py < d):
                raise ValueError(f"pitch_m {list(self.pitch_m)} is smaller than the table {[w, d]}")
            if self.kind == "carrel_row" and px < w:
                raise ValueError(f"pitch_m {px} is smaller than the carrel width {w}")
        return self

    @property
    def table(self) -> tuple[float, float]:
        """Table or carrel size [w, d] in metres, with the kind's default."""
        if self.table_m is not None:
            return self.table_m
        return (1.6, 0.8) if self.kind == "table_grid" else (0.9, 0.6)

    @property
    def pitch(self) -> tuple[float, float]:
        """Repeat distance [px, py] in metres, with the kind's default."""
        if self.pitch_m is not None:
            return self.pitch_m
        w, d = self.table
        return (w + 1.0, d + 1.8) if self.kind == "table_grid" else (w + 0.1, 0.0)

class OpeningSpec(_Strict):
    """A passage between two zones, or between a zone and ``outside``.

    ``door``: a gap of ``width_m`` centred at ``at`` on the shared boundary. ``open``: the whole shared
    boundary of the two zones is open (open-plan floors). ``emergency_exit``: a door to outside used
    only in evacuations. A ``door`` to ``outside`` is an entrance and an exit.
    """

    id: Id
    kind: Literal["door", "open", "emergency_exit"] = "door"
    zones: tuple[Id, Id]
    at: Point | None = None
    width_m: float | None = Field(None, gt=0.5, le=20)
    gate: bool = Field(False, description="a counted entrance gate (people counters sit here)")

    @model_validator(mode="after")
    def _door_has_place(self) -> OpeningSpec:
        if self.kind != "open" and (self.at is None or self.width_m is None):
            raise ValueError(f"a {self.kind} needs 'at' and 'width_m'")
        if self.kind == "open" and "outside" in self.zones:
            raise ValueError("an 'open' boundary cannot lead outside; use a door or emergency_exit")
        if self.zones[0] == self.zones[1]:
            raise ValueError(f"opening joins zone '{self.zones[0]}' to itself")
        return self


class FloorSpec(_Strict):
    id: Id
    name: str | None = None
    level: int = 0
    elevation_m: float = Field(0.0, ge=-50, le=500)
    height_m: float = Field(4.0, gt=2, le=20)
    outline: Polygon
    zones: list[ZoneSpec] = Field(min_length=1)
    obstacles: list[ObstacleSpec] = Field(default_factory=list)
    shelf_ranges: list[ShelfRangeSpec] = Field(default_factory=list)
    openings: list[OpeningSpec] = Field(default_factory=list)
    seats: list[SeatSpec] = Field(default_factory=list)
    seat_blocks: list[SeatBlockSpec] = Field(default_factory=list)


class StairEnd(_Strict):
    floor: Id
    zone: Id
    at: Point


class StairSpec(_Strict):
    id: Id
    ends: tuple[StairEnd, StairEnd]
    length_m: float = Field(gt=0, le=200, description="walking length along the flight [m]")
    width_m: float = Field(1.2, gt=0.5, le=10)


class LiftSpec(_Strict):
    id: Id
    stops: list[StairEnd] = Field(min_length=2)
    capacity: int = Field(8, ge=1, le=50)
    speed_m_s: float = Field(1.0, gt=0, le=10)
    door_s: float = Field(8.0, ge=0, le=120, description="door open/close time per stop [s]")


class BuildingSpec(_Strict):
    floors: list[FloorSpec] = Field(min_length=1)
    stairs: list[StairSpec] = Field(default_factory=list)
    lifts: list[LiftSpec] = Field(default_factory=list)
    wall_thickness_m: float = Field(0.2, gt=0, le=1)


class DeviceType(StrEnum):
    people_counter = "people_counter"
    seat_sensor = "seat_sensor"
    environment = "environment"
    co2 = "co2"
    temperature = "temperature"
    energy_meter = "energy_meter"
    kiosk = "kiosk"
    queue_counter = "queue_counter"
    occupancy = "occupancy"


class DeviceSpec(_Strict):
    """A sensor or service device; where it is comes from exactly one of at/zone/opening/seat."""

    id: Id
    type: DeviceType
    floor: Id
    at: Point | None = None
    zone: Id | None = None
    opening: Id | None = None
    seat: Id | None = None
    quantities: list[str] = Field(min_length=1)
    period_s: float = Field(60.0, gt=0, le=86400)
    circuit: str | None = Field(None, description="energy meters: which end use they meter")
    noise: dict[str, float] = Field(default_factory=dict, description="per-quantity noise std-dev")

    @model_validator(mode="after")
    def _one_place(self) -> DeviceSpec:
        given = [k for k in ("at", "zone", "opening", "seat") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of at, zone, opening, seat (got {', '.join(given) or 'none'})")
        return self


class VariantSpec(_Strict):
    """A named renovation scenario: a deep override of the base document.

    ``override`` is merged into the base: mappings merge key by key; lists of items with an ``id``
    merge by id (an item with ``remove: true`` deletes that id, unknown ids are appended); other
    values and other lists replace.
    """

    description: str
    override: dict[str, Any] = Field(default_factory=dict)


class Scenario(_Strict):
    """One branch of the library system."""

    version: Literal[1] = 1
    branch: BranchSpec
    building: BuildingSpec
    devices: list[DeviceSpec] = Field(default_factory=list)
    demand: _Open = Field(default_factory=_Open)
    services: _Open = Field(default_factory=_Open)
    staff: _Open = Field(default_factory=_Open)
    physics: _Open = Field(default_factory=_Open)
    variants: dict[Id, VariantSpec] = Field(default_factory=dict)
