"""The building model: immutable types derived from a scenario (or, later, an importer).

A :class:`Building` does not know where it came from. Polygons are shapely geometries in metres
in each floor's local frame; ``elevation_m`` places a floor in 3D.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property

import shapely
from shapely.geometry import LineString, Point, Polygon

OUTSIDE = "outside"


@dataclass(frozen=True)
class Zone:
    """A region of a floor with one use (``kind``), e.g. a reading room."""

    id: str
    kind: str
    floor_id: str
    polygon: Polygon
    name: str | None = None

    @property
    def area_m2(self) -> float:
        """Floor area of the zone [m2]."""
        return float(self.polygon.area)


@dataclass(frozen=True)
class Obstacle:
    """Something people cannot walk through: a shelf, wall, column, desk, counter, kiosk."""

    id: str
    kind: str
    floor_id: str
    polygon: Polygon
    height_m: float
    subjects: tuple[str, ...] = ()


@dataclass(frozen=True)
class Opening:
    """A passage between two zones (or a zone and :data:`OUTSIDE`).

    ``segment`` is the passable part of the boundary: the door gap for doors and exits, the
    whole shared boundary for ``open`` passages.
    """

    id: str
    kind: str
    floor_id: str
    zones: tuple[str, str]
    segment: LineString
    width_m: float
    gate: bool = False

    @property
    def to_outside(self) -> bool:
        return OUTSIDE in self.zones

    @property
    def is_exit(self) -> bool:
        """Usable to leave the building in an evacuation."""
        return self.to_outside

    @property
    def is_entrance(self) -> bool:
        """Usable by visitors to come in (doors to outside, not emergency exits)."""
        return self.to_outside and self.kind == "door"

    @property
    def center(self) -> tuple[float, float]:
        c = self.segment.interpolate(0.5, normalized=True)
        return (float(c.x), float(c.y))


@dataclass(frozen=True)
class Seat:
    """A place to sit, with attributes such as window, power, quiet, group."""

    id: str
    floor_id: str
    zone_id: str
    x: float
    y: float
    attrs: frozenset[str] = frozenset()
    block: str | None = None


@dataclass(frozen=True)
class Device:
    """A sensor or service device placed in the building."""

    id: str
    type: str
    floor_id: str
    x: float
    y: float
    quantities: tuple[str, ...]
    period_s: float
    zone_id: str | None = None
    opening_id: str | None = None
    seat_id: str | None = None
    circuit: str | None = None
    noise: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Floor:
    """One storey: outline, zones, obstacles, openings and seats."""

    id: str
    level: int
    elevation_m: float
    height_m: float
    outline: Polygon
    zones: tuple[Zone, ...]
    obstacles: tuple[Obstacle, ...]
    openings: tuple[Opening, ...]
    seats: tuple[Seat, ...]
    name: str | None = None

    @property
    def area_m2(self) -> float:
        """Gross floor area inside the outline [m2]."""
        return float(self.outline.area)

    @property
    def zoned_area_m2(self) -> float:
        return sum(z.area_m2 for z in self.zones)

    @cached_property
    def free_area_m2(self) -> float:
        """Zone area not covered by obstacles [m2]."""
        zones = shapely.union_all([z.polygon for z in self.zones])
        blocked = shapely.union_all([o.polygon for o in self.obstacles]) if self.obstacles else Polygon()
        return float(zones.difference(blocked).area)

    def zone(self, zone_id: str) -> Zone:
        for z in self.zones:
            if z.id == zone_id:
                return z
        raise KeyError(f"floor '{self.id}' has no zone '{zone_id}'")

    def zone_at(self, x: float, y: float) -> Zone | None:
        p = Point(x, y)
        for z in self.zones:
            if z.polygon.covers(p):
                return z
        return None


@dataclass(frozen=True)
class Link:
    """A vertical connection: a stair (walked) or a lift (ridden)."""

    id: str
    kind: str  # "stair" | "lift"
    stops: tuple[tuple[str, str, float, float], ...]  # (floor, zone, x, y)
    length_m: float = 0.0
    width_m: float = 1.2
    capacity: int = 0
    speed_m_s: float = 0.0
    door_s: float = 0.0


@dataclass(frozen=True)
class Building:
    """A whole branch building: floors, vertical links and devices."""

    branch_id: str
    name: str
    floors: tuple[Floor, ...]
    links: tuple[Link, ...] = ()
    devices: tuple[Device, ...] = ()
    wall_thickness_m: float = 0.2
    variant: str | None = None
    meta: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def floor(self, floor_id: str) -> Floor:
        for f in self.floors:
            if f.id == floor_id:
                return f
        raise KeyError(f"building '{self.branch_id}' has no floor '{floor_id}'")

    @property
    def zones(self) -> Iterator[Zone]:
        for f in self.floors:
            yield from f.zones

    @property
    def seats(self) -> Iterator[Seat]:
        for f in self.floors:
            yield from f.seats

    @property
    def openings(self) -> Iterator[Opening]:
        for f in self.floors:
            yield from f.openings

    def zone(self, zone_id: str) -> Zone:
        for z in self.zones:
            if z.id == zone_id:
                return z
        raise KeyError(f"building '{self.branch_id}' has no zone '{zone_id}'")

    @property
    def area_m2(self) -> float:
        """Gross floor area over all floors [m2]."""
        return sum(f.area_m2 for f in self.floors)

    @property
    def seat_count(self) -> int:
        return sum(len(f.seats) for f in self.floors)

    def seats_per_zone(self) -> dict[str, int]:
        """Seat capacity of every zone (zones without seats give 0)."""
        out = {z.id: 0 for z in self.zones}
        for s in self.seats:
            out[s.zone_id] += 1
        return out

    @property
    def exits(self) -> list[Opening]:
        return [o for o in self.openings if o.is_exit]

    @property
    def entrances(self) -> list[Opening]:
        return [o for o in self.openings if o.is_entrance]

    def adjacency(self) -> dict[str, list[tuple[str, str]]]:
        """Zone graph: zone id -> [(neighbour zone id or 'outside', opening or link id)].

        Zones connect through openings on a floor and through stairs and lifts across floors.
        """
        graph: dict[str, list[tuple[str, str]]] = {z.id: [] for z in self.zones}
        graph[OUTSIDE] = []
        for o in self.openings:
            a, b = o.zones
            graph[a].append((b, o.id))
            graph[b].append((a, o.id))
        for link in self.links:
            for i, (_, za, _, _) in enumerate(link.stops):
                for _, zb, _, _ in link.stops[i + 1:]:
                    graph[za].append((zb, link.id))
                    graph[zb].append((za, link.id))
        return graph
