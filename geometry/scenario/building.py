"""The ``branch``, ``building`` and ``devices`` sections of a scenario file.

Coordinates are metres in a floor-local frame (x east, y north); each floor has an elevation.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal
from zoneinfo import available_timezones

from pydantic import Field, field_validator, model_validator

from .types import Bool, Float, Id, Int, Point, Polygon, Strict, Text


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
    """What a seat offers."""

    window = "window"
    power = "power"
    quiet = "quiet"
    group = "group"
    computer = "computer"
    accessible = "accessible"
    lounge = "lounge"


class BranchSpec(Strict):
    """Which branch this is: its id, name, kind, time zone and the seed of its runs."""

    id: Id = Field(description="branch id, used in MQTT topics")
    name: Text = Field(description="name shown to people")
    kind: Literal["central", "district", "service_point"] = Field(default="district",
                                                                  description="kind of branch; demand, opening "
                                                                              "hours and staff default by kind")
    timezone: str = Field(default="UTC", max_length=64, description="IANA time zone of the branch, e.g. Asia/Shanghai")
    seed: Int = Field(default=0, ge=0, le=2**63 - 1,
                      description="seed of the one random generator every run starts from")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        if v not in _timezones():
            raise ValueError(f"'{v}' is not an IANA time zone (such as UTC, Europe/Berlin, Asia/Shanghai)")
        return v


class ZoneSpec(Strict):
    """A zone of a floor: a polygon of one use (reading room, stacks, entrance ...)."""

    id: Id = Field(description="zone id, unique in the building")
    kind: ZoneKind = Field(description="what the zone is used for")
    polygon: Polygon
    name: Text | None = Field(default=None, description="name shown to people")


class ObstacleSpec(Strict):
    """Something people walk around: a shelf, wall, column, desk, counter or kiosk."""

    id: Id = Field(description="obstacle id; a counter or kiosk id doubles as its service point id")
    kind: Literal["shelf", "wall", "column", "desk", "counter", "furniture", "kiosk"] = Field(
        description="what it is; counters and kiosks become service points")
    polygon: Polygon
    height_m: Float | None = Field(default=None, gt=0, le=20, description="height [m] (default by kind)")
    subjects: list[str] = Field(default_factory=list, description="collection subjects (shelves)")


class ShelfRangeSpec(Strict):
    """A range of ``count`` parallel shelves, each ``length_m`` long along ``axis``."""

    id: Id = Field(description="range id; shelves are <id>-1, <id>-2 ...")
    origin: Point = Field(description="lower-left corner of the first shelf [m]")
    count: Int = Field(ge=1, le=500, description="number of shelves")
    length_m: Float = Field(gt=0, le=100, description="length of each shelf along axis [m]")
    depth_m: Float = Field(default=0.6, gt=0, le=3, description="double-sided shelf depth [m]")
    pitch_m: Float = Field(default=1.5, gt=0, le=20, description="centre-to-centre spacing of shelves [m]")
    axis: Literal["x", "y"] = Field(default="x", description="direction the shelves run")
    height_m: Float = Field(default=2.1, gt=0, le=10, description="shelf height [m]")
    subjects: list[str] = Field(default_factory=list, description="subjects, spread over the shelves in order")

    @model_validator(mode="after")
    def _pitch_leaves_aisle(self) -> ShelfRangeSpec:
        if self.count > 1 and self.pitch_m <= self.depth_m:
            raise ValueError(f"pitch_m {self.pitch_m} must exceed depth_m {self.depth_m}, or shelves overlap")
        return self


class SeatSpec(Strict):
    """One seat."""

    id: Id = Field(description="seat id, unique in the building")
    zone: Id = Field(description="zone the seat is in (on the same floor)")
    at: Point = Field(description="where the seat is [m]")
    attrs: list[SeatAttr] = Field(default_factory=list, description="what the seat offers")


class SeatBlockSpec(Strict):
    """Many seats at once: a grid of tables, or a row of study carrels.

    ``table_grid``: ``rows`` x ``cols`` tables of size ``table_m`` [w, d]; the lower-left corner of
    the first table is ``origin``; tables repeat every ``pitch_m`` [px, py]; ``seats_per_table``
    seats sit along the two long sides (one side only when 1). ``carrel_row``: ``count`` carrels of
    size ``table_m`` along ``axis`` every ``pitch_m[0]``, one seat each on the ``seat_side``.
    """

    id: Id = Field(description="block id; tables are <id>-r<row>c<col>, carrels <id>-<n>")
    zone: Id = Field(description="zone the seats are in")
    kind: Literal["table_grid", "carrel_row"] = Field(description="a grid of tables, or a row of carrels")
    origin: Point = Field(description="lower-left corner of the first table [m]")
    rows: Int = Field(default=1, ge=1, le=200, description="table_grid: rows of tables")
    cols: Int = Field(default=1, ge=1, le=200, description="table_grid: columns of tables")
    count: Int = Field(default=1, ge=1, le=500, description="carrel_row: number of carrels")
    axis: Literal["x", "y"] = Field(default="x", description="carrel_row: direction of the row")
    table_m: tuple[Float, Float] | None = Field(default=None,
                                                description="table [w, d] in metres; default 1.6 x 0.8 (tables), "
                                                            "0.9 x 0.6 (carrels)")
    pitch_m: tuple[Float, Float] | None = Field(default=None,
                                                description="repeat distance [px, py] in metres; default leaves 1.0 "
                                                            "m and 1.8 m of room")
    seats_per_table: Int = Field(default=4, ge=1, le=12, description="table_grid: seats around each table")
    seat_side: Literal["-", "+"] = Field(default="-", description="carrel_row: seats on the low (-) or high (+) side")
    attrs: list[SeatAttr] = Field(default_factory=list, description="what every seat of the block offers")

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

class OpeningSpec(Strict):
    """A passage between two zones, or between a zone and ``outside``.

    ``door``: a gap of ``width_m`` centred at ``at`` on the shared boundary. ``open``: the whole shared
    boundary of the two zones is open (open-plan floors). ``emergency_exit``: a door to outside used
    only in evacuations. A ``door`` to ``outside`` is an entrance and an exit.
    """

    id: Id = Field(description="opening id")
    kind: Literal["door", "open", "emergency_exit"] = Field(default="door", description="a door, an open boundary, or "
                                                                               "an exit used only in evacuations")
    zones: tuple[Id, Id] = Field(description="the two zones joined (or a zone and 'outside')")
    at: Point | None = Field(default=None, description="centre of the door on the shared boundary [m]")
    width_m: Float | None = Field(default=None, gt=0.5, le=20, description="clear width of the door [m]")
    gate: Bool = Field(default=False, description="a counted entrance gate (people counters sit here)")

    @model_validator(mode="after")
    def _door_has_place(self) -> OpeningSpec:
        if self.kind != "open" and (self.at is None or self.width_m is None):
            raise ValueError(f"a {self.kind} needs 'at' and 'width_m'")
        if self.kind == "open" and "outside" in self.zones:
            raise ValueError("an 'open' boundary cannot lead outside; use a door or emergency_exit")
        if self.zones[0] == self.zones[1]:
            raise ValueError(f"opening joins zone '{self.zones[0]}' to itself")
        return self


class FloorSpec(Strict):
    """One storey: its outline, zones, furniture, openings and seats."""

    id: Id = Field(description="floor id")
    name: Text | None = Field(default=None, description="name shown to people")
    level: Int = Field(default=0, ge=-20, le=200, description="storey number (0 = ground)")
    elevation_m: Float = Field(default=0.0, ge=-50, le=500, description="floor level above ground [m]")
    height_m: Float = Field(default=4.0, gt=2, le=20, description="storey height, floor to floor [m]")
    outline: Polygon = Field(description="outer walls of the floor, [x, y] points in metres")
    zones: list[ZoneSpec] = Field(min_length=1, max_length=1000, description="zones; they do not overlap")
    obstacles: list[ObstacleSpec] = Field(default_factory=list, max_length=10000,
                                          description="shelves, walls, columns, counters, kiosks ...")
    shelf_ranges: list[ShelfRangeSpec] = Field(default_factory=list, max_length=1000,
                                               description="ranges of parallel shelves")
    openings: list[OpeningSpec] = Field(default_factory=list, max_length=1000,
                                        description="doors, open boundaries and exits")
    seats: list[SeatSpec] = Field(default_factory=list, max_length=10000, description="single seats")
    seat_blocks: list[SeatBlockSpec] = Field(default_factory=list, max_length=1000,
                                             description="tables and carrel rows with their seats")


class StairEnd(Strict):
    """Where a stair or lift meets a floor."""

    floor: Id = Field(description="the floor")
    zone: Id = Field(description="zone the stair or lift opens into")
    at: Point = Field(description="foot of the stair, or the lift door [m]")


class StairSpec(Strict):
    """A stair between two floors."""

    id: Id = Field(description="stair id")
    ends: tuple[StairEnd, StairEnd] = Field(description="where the stair starts and ends")
    length_m: Float = Field(gt=0, le=200, description="walking length along the flight [m]")
    width_m: Float = Field(default=1.2, gt=0.5, le=10, description="clear width [m]")


class LiftSpec(Strict):
    """A lift stopping at two or more floors."""

    id: Id = Field(description="lift id")
    stops: list[StairEnd] = Field(min_length=2, max_length=200, description="one stop per floor served")
    capacity: Int = Field(default=8, ge=1, le=50, description="persons per ride")
    speed_m_s: Float = Field(default=1.0, gt=0, le=10, description="travel speed [m/s]")
    door_s: Float = Field(default=8.0, ge=0, le=120, description="door open/close time per stop [s]")


class BuildingSpec(Strict):
    """The building: floors, and the stairs and lifts between them."""

    floors: list[FloorSpec] = Field(min_length=1, max_length=200, description="the storeys")
    stairs: list[StairSpec] = Field(default_factory=list, max_length=500, description="stairs between floors")
    lifts: list[LiftSpec] = Field(default_factory=list, max_length=200, description="lifts between floors")
    wall_thickness_m: Float = Field(default=0.2, gt=0, le=1, description="thickness of drawn walls [m]")


class DeviceType(StrEnum):
    """What kind of device it is; decides what it may measure."""

    people_counter = "people_counter"
    seat_sensor = "seat_sensor"
    environment = "environment"
    co2 = "co2"
    temperature = "temperature"
    energy_meter = "energy_meter"
    kiosk = "kiosk"
    queue_counter = "queue_counter"
    occupancy = "occupancy"


class DeviceSpec(Strict):
    """A sensor or service device; where it is comes from exactly one of at/zone/opening/seat."""

    id: Id = Field(description="device id, used in MQTT topics")
    type: DeviceType = Field(description="kind of device; decides what it may measure")
    floor: Id = Field(description="floor the device is on")
    at: Point | None = Field(default=None, description="where it is [m]")
    zone: Id | None = Field(default=None, description="the zone it watches (placed at the zone's centre)")
    opening: Id | None = Field(default=None, description="the door it counts (people counters)")
    seat: Id | None = Field(default=None, description="the seat it watches (seat sensors)")
    quantities: list[str] = Field(min_length=1, max_length=20, description="what it measures (see docs/telemetry.md)")
    period_s: Float = Field(default=60.0, ge=1, le=86400, description="time between readings [s]")
    circuit: str | None = Field(default=None, max_length=64, description="energy meters: which end use they meter")
    noise: dict[str, Float] = Field(default_factory=dict, description="per-quantity noise std-dev (in the "
                                                                      "quantity's unit)")

    @model_validator(mode="after")
    def _one_place(self) -> DeviceSpec:
        given = [k for k in ("at", "zone", "opening", "seat") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of at, zone, opening, seat (got {', '.join(given) or 'none'})")
        return self


_TIMEZONES: frozenset[str] = frozenset()


def _timezones() -> frozenset[str]:
    global _TIMEZONES
    if not _TIMEZONES:
        _TIMEZONES = frozenset(available_timezones())
    return _TIMEZONES
