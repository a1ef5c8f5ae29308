"""Where readers go and how long it takes them: places, shortest paths, and the grid walker.

A :class:`Place` is a destination (a seat, a desk, the shelves of a subject, a zone, a door, a
stair landing). :class:`GridRouter` measures shortest walking paths on the walkable grid of each
floor (the distance-field kernel of the crowd on 8-connected cells, diagonals only between two free
neighbours), and routes between floors with the one route planner of the project
(:class:`~simulation.crowd.routes.StopGraph`).
Distance fields are computed once per non-seat place and cached, so a walk costs a few array
look-ups. :class:`GridWalker` is the phase-1 implementation of the :class:`Walker` protocol:
a walk takes ``path length / desired speed`` (stairs at half speed along the flight; lifts are
queued and ridden as SimPy resources). Readers walking alone do not need a crowd kernel; the
crowd kernel plugs in through the same protocol (:mod:`simulation.crowd.movement`).

References
----------
Fruin, J.J. (1971). Pedestrian Planning and Design. Metropolitan Association of Urban Designers
and Environmental Planners (speeds on stairs about half the level walking speed).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import shapely
import simpy
from numpy.typing import NDArray

from geometry.build import floor_grids
from geometry.grid import DEFAULT_CELL_M, WalkableGrid, segment_cells
from geometry.model import Building

from ..crowd import kernels
from ..crowd.kernels.moves import MOVES8
from ..crowd.routes import LIFT_WAIT_GUESS_S, STAIR_SPEED_RATIO, NoRouteError, Route, StopGraph

F = NDArray[np.float64]
I64 = NDArray[np.int64]
XY = tuple[float, float]

@dataclass(frozen=True)
class Place:
    """A destination in the building.

    ``kind`` is ``seat``, ``service`` (desk, kiosk, cafe), ``subject`` (the shelves of one
    subject on one floor), ``zone``, ``entrance`` (a door to outside), ``stop`` (a stair landing
    or lift door: ``ref`` is the link id) or ``point``; ``ref`` identifies it; ``zone_id`` is where
    someone standing there is counted; ``x``, ``y`` a representative point [m].
    """

    kind: str
    floor_id: str
    ref: str
    zone_id: str
    x: float
    y: float

    @property
    def xy(self) -> XY:
        return (self.x, self.y)


@dataclass(frozen=True)
class WalkResult:
    """What a finished walk reports: route length [m], time taken [s], the route."""

    distance_m: float
    duration_s: float
    route: Route


@runtime_checkable
class Walker(Protocol):
    """How agents get from one place to another; the event fires on arrival with a :class:`WalkResult`.

    Phase 1: :class:`GridWalker` (shortest path / desired speed). Phase 2: the crowd kernel
    moving everyone who walks at once, behind the same call.
    """

    def walk(self, agent: Any, floor_id: str, from_xy: XY, to: Place) -> simpy.Event:
        """Start walking ``agent`` from ``from_xy`` on ``floor_id`` to ``to``."""
        ...


@dataclass
class _FloorGraph:
    """A floor's walkable cells numbered as nodes (fields are kept per node, not per cell)."""

    grid: WalkableGrid
    node_of: I64  # cell (flattened) -> node, -1 when blocked
    flat: I64  # node -> cell (flattened)
    ones: F = field(repr=False)
    centers: tuple[F, F] = field(repr=False)

    @property
    def n(self) -> int:
        return int(self.flat.size)


def _floor_graph(grid: WalkableGrid) -> _FloorGraph:
    w = grid.walkable
    node = -np.ones(w.size, dtype=np.int64)
    flat = np.flatnonzero(w.ravel()).astype(np.int64)
    node[flat] = np.arange(flat.size)
    return _FloorGraph(grid, node, flat, np.ones(w.shape), grid.centers())


class GridRouter:
    """Shortest walking distances between places of a building, on its walkable grids.

    Parameters
    ----------
    building
        The building.
    cell_m
        Grid cell size [m].
    grids
        Walkable grids per floor (computed when not given).
    seat_cache
        Distance fields of seats (rarely needed) kept in a small LRU cache of this size.
    """

    def __init__(self, building: Building, *, cell_m: float = DEFAULT_CELL_M,
                 grids: Mapping[str, WalkableGrid] | None = None, seat_cache: int = 64) -> None:
        self.building = building
        grids = dict(grids) if grids is not None else floor_grids(building, cell_m)
        self.floors = {fid: _floor_graph(g) for fid, g in grids.items()}
        self.cell_m = float(next(iter(grids.values())).cell_m) if grids else float(cell_m)
        self._cells: dict[Place, I64] = {}
        self._fields: dict[Place, NDArray[np.float32]] = {}
        self._lru: OrderedDict[Place, NDArray[np.float32]] = OrderedDict()
        self._lru_size = seat_cache
        self._by_xy: dict[tuple[str, float, float], Place] = {}
        self.fields_computed = 0
        self.elevation = {f.id: f.elevation_m for f in building.floors}
        # stops of stairs and lifts, joined by walking on each floor: the one route planner
        self.graph = StopGraph(building.links, self.elevation,
                               lambda p, q: self.floor_distance_m(self._stop_place[p], self._stop_place[q]),
                               floors=list(self.floors))
        self._stop_place = {st: self.register(Place("stop", st.floor_id, st.link_id, st.zone_id, st.x, st.y))
                            for st in self.graph.stops}
        self.stops: list[Place] = [self._stop_place[st] for st in self.graph.stops]
        self._seat_index: dict[str, int] = {}
        self._seat_places: list[Place] = []
        for s in building.seats:
            self._seat_index[s.id] = len(self._seat_places)
            self._seat_places.append(self.register(Place("seat", s.floor_id, s.id, s.zone_id, s.x, s.y)))
        self._seat_nodes: dict[str, tuple[I64, I64]] = {}
        for fid in self.floors:
            idx = np.array([i for i, p in enumerate(self._seat_places) if p.floor_id == fid], dtype=np.int64)
            nodes = np.array([self.cells(self._seat_places[i])[0] for i in idx], dtype=np.int64)
            self._seat_nodes[fid] = (idx, nodes)
        self._seat_dist: dict[tuple[Place, bool], F] = {}
        self._stops_of: dict[Place, tuple[I64, F]] = {}
        self._routes: OrderedDict[tuple[Place, Place, bool], Route] = OrderedDict()
        self._route_cache_size = 200_000

    # ------------------------------------------------------------- places and cells
    def register(self, place: Place) -> Place:
        """Remember a place so a walk starting at its point finds it again."""
        self._by_xy.setdefault((place.floor_id, place.x, place.y), place)
        return place

    def place_at(self, floor_id: str, xy: XY) -> Place:
        """The registered place at exactly ``xy`` on ``floor_id``, or a new point place there."""
        p = self._by_xy.get((floor_id, float(xy[0]), float(xy[1])))
        if p is not None:
            return p
        fl = self.building.floor(floor_id)
        z = fl.zone_at(*xy)
        return self.register(Place("point", floor_id, f"{xy[0]:.2f},{xy[1]:.2f}", z.id if z else "", *map(float, xy)))

    def seat_place(self, seat_id: str) -> Place:
        return self._seat_places[self._seat_index[seat_id]]

    def _nearest(self, fg: _FloorGraph, x: float, y: float, max_m: float) -> int | None:
        c = fg.grid.nearest_walkable(x, y, max_m)
        if c is None:
            return None
        return int(fg.node_of[c[0] * fg.grid.shape[1] + c[1]])

    def cells(self, place: Place) -> I64:
        """Graph nodes that count as being at ``place`` (cached)."""
        got = self._cells.get(place)
        if got is not None:
            return got
        fg = self.floors[place.floor_id]
        g = fg.grid
        nodes: I64
        if place.kind == "zone":
            poly = self.building.zone(place.ref).polygon
            inside = shapely.contains_xy(poly, *fg.centers) & g.walkable
            nodes = fg.node_of[np.flatnonzero(inside.ravel())]
        elif place.kind == "subject":
            shelves = [o.polygon for o in self.building.floor(place.floor_id).obstacles if place.ref in o.subjects]
            if not shelves:
                raise NoRouteError(f"no shelves of subject '{place.ref}' on floor '{place.floor_id}'")
            geom = shapely.union_all(shelves)
            minx, miny, maxx, maxy = geom.bounds
            i0, j0 = g.cell_of(minx - 1.0, miny - 1.0)
            i1, j1 = g.cell_of(maxx + 1.0, maxy + 1.0)
            i0, j0 = max(i0, 0), max(j0, 0)
            i1, j1 = min(i1, g.shape[0] - 1), min(j1, g.shape[1] - 1)
            sx = fg.centers[0][i0:i1 + 1, j0:j1 + 1]
            sy = fg.centers[1][i0:i1 + 1, j0:j1 + 1]
            near = shapely.dwithin(geom, shapely.points(sx, sy), 0.75) & g.walkable[i0:i1 + 1, j0:j1 + 1]
            ii, jj = np.nonzero(near)
            nodes = fg.node_of[(ii + i0) * g.shape[1] + (jj + j0)]
        elif place.kind == "entrance":
            op = next(o for o in self.building.floor(place.floor_id).openings if o.id == place.ref)
            cells = segment_cells(g, op.segment, 0.5 + g.cell_m)
            nodes = np.array([fg.node_of[i * g.shape[1] + j] for i, j in cells], dtype=np.int64)
        else:
            reach = {"seat": 0.75, "stop": 1.0, "service": 2.5}.get(place.kind, 1.5)
            n = self._nearest(fg, place.x, place.y, reach)
            if n is None:
                n = self._nearest(fg, place.x, place.y, 3.0)
            nodes = np.array([] if n is None else [n], dtype=np.int64)
        nodes = nodes[nodes >= 0]
        if nodes.size == 0:
            raise NoRouteError(f"{place.kind} '{place.ref}' at ({place.x:.2f}, {place.y:.2f}) on floor "
                             f"'{place.floor_id}' has no walkable cell near it")
        self._cells[place] = nodes
        return nodes

    def field(self, place: Place) -> NDArray[np.float32]:
        """Walking distance from every node of the place's floor to the place [m] (cached)."""
        got = self._fields.get(place)
        if got is None:
            got = self._lru.get(place)
            if got is not None:
                self._lru.move_to_end(place)
                return got
        else:
            return got
        fg = self.floors[place.floor_id]
        seeds = fg.flat[self.cells(place)]
        dist, _ = kernels.dijkstra16(fg.grid.walkable, fg.ones, seeds, np.zeros(seeds.size),
                                     np.zeros(seeds.size, np.int32), float(fg.grid.cell_m), MOVES8)
        d: NDArray[np.float32] = dist.ravel()[fg.flat].astype(np.float32)
        self.fields_computed += 1
        if place.kind == "seat" or place.kind == "point":
            self._lru[place] = d
            if len(self._lru) > self._lru_size:
                self._lru.popitem(last=False)
        else:
            self._fields[place] = d
        return d

    # ------------------------------------------------------------- distances
    def _has_field(self, p: Place) -> bool:
        return p in self._fields or p.kind not in ("seat", "point")

    def floor_distance_m(self, a: Place, b: Place) -> float:
        """Walking distance between two places on one floor [m] (inf when walls part them)."""
        if a.floor_id != b.floor_id:
            raise ValueError(f"{a.ref} and {b.ref} are on different floors")
        if self._has_field(b) or not self._has_field(a):
            return float(self.field(b)[self.cells(a)].min())
        return float(self.field(a)[self.cells(b)].min())

    def _stop_costs(self, use_lifts: bool) -> F:
        return self.graph.costs(use_lifts=use_lifts, lift_wait_s=LIFT_WAIT_GUESS_S)[0]

    def _to_stops(self, p: Place) -> tuple[I64, F]:
        """Stops on the place's floor and the walking distance to each [m] (cached)."""
        got = self._stops_of.get(p)
        if got is None:
            idx = np.array(self.graph.on_floor(p.floor_id), dtype=np.int64)
            d = np.array([self.floor_distance_m(p, self.stops[i]) for i in idx]) if idx.size else np.zeros(0)
            got = (idx, d)
            self._stops_of[p] = got
        return got

    def route(self, a: Place, b: Place, *, use_lifts: bool = False) -> Route:
        """The quickest route from ``a`` to ``b`` (walking legs, stairs, lifts); cached.

        Leg durations are at :data:`~simulation.crowd.routes.REFERENCE_SPEED_M_S`; use
        :meth:`Route.time_s` for another speed.

        Raises
        ------
        NoRouteError
            When ``b`` cannot be reached from ``a``.
        """
        key = (a, b, use_lifts)
        got = self._routes.get(key)
        if got is None:
            direct = self.floor_distance_m(a, b) if a.floor_id == b.floor_id else math.inf
            to_stops = from_stops = np.zeros(0)
            if not math.isfinite(direct):
                to_stops = self._to_stops(a)[1]
                from_stops = self._to_stops(b)[1]
            try:
                got = self.graph.plan(a.floor_id, to_stops, b.floor_id, from_stops, direct, use_lifts=use_lifts,
                                      lift_wait_s=LIFT_WAIT_GUESS_S, what=f"{b.kind} '{b.ref}'")
            except NoRouteError:
                raise NoRouteError(f"no way from {a.kind} '{a.ref}' (floor '{a.floor_id}') to {b.kind} '{b.ref}' "
                                   f"(floor '{b.floor_id}')") from None
            self._routes[key] = got
            if len(self._routes) > self._route_cache_size:
                self._routes.popitem(last=False)
        return got

    def seat_distances_m(self, a: Place, *, use_lifts: bool = False) -> F:
        """Route-equivalent distance from ``a`` to every seat of the building [m] (inf if unreachable).

        Seats on other floors cost the walk to a stair or lift, the climb (stairs count double,
        lifts their ride and a typical wait at walking speed), and the walk from the landing.
        Cached per place.
        """
        key = (a, use_lifts)
        got = self._seat_dist.get(key)
        if got is not None:
            return got
        out = np.full(len(self._seat_places), np.inf)
        same_idx, same_nodes = self._seat_nodes[a.floor_id]
        if same_idx.size:
            if self._has_field(a):
                out[same_idx] = self.field(a)[same_nodes]
            else:
                out[same_idx] = [self.floor_distance_m(a, self._seat_places[i]) for i in same_idx]
        if self.stops:
            dist = self._stop_costs(use_lifts)
            ia, da = self._to_stops(a)
            for fid, (idx, nodes) in self._seat_nodes.items():
                if idx.size == 0:
                    continue
                for t in self.graph.on_floor(fid):
                    via = (da + dist[ia, t]).min() if ia.size else np.inf
                    if math.isfinite(via):
                        out[idx] = np.minimum(out[idx], via + self.field(self.stops[t])[nodes])
        if self._has_field(a):
            self._seat_dist[key] = out
        return out


class Rideable(Protocol):
    """A lift as walkers use it: a SimPy process body that queues for a car and rides it."""

    def ride(self, from_floor: str, to_floor: str) -> Generator[simpy.Event, Any, Any]:
        """Wait for a car at ``from_floor`` and ride it to ``to_floor``."""
        ...


@dataclass(frozen=True, kw_only=True)
class WalkerContext:
    """What a walker of a library day may use of the day (and nothing else).

    Attributes
    ----------
    env
        The day's SimPy environment.
    building
        The building walked in.
    router
        The day's place router (walking distances, routes).
    lifts
        Link id -> lift ridden on lift legs (:class:`~simulation.day.services.Lift`).
    seat_ids
        Seat index -> seat id (a party member's ``seat`` is an index).
    seed
        The day's seed (for walkers with randomness of their own).
    """

    env: simpy.Environment
    building: Building
    router: GridRouter
    lifts: Mapping[str, Rideable]
    seat_ids: Sequence[str]
    seed: int


class GridWalker:
    """The screening :class:`Walker`: time = shortest path on the walkable grid / desired speed.

    Lifts are queued and ridden (``lifts``: link id -> :class:`~simulation.day.services.Lift`). The
    agent needs ``speed_m_s`` [m/s] and ``use_lifts`` (bool).
    """

    def __init__(self, env: simpy.Environment, router: GridRouter, lifts: Mapping[str, Rideable] | None = None) -> None:
        self.env = env
        self.router = router
        self.lifts = dict(lifts or {})

    @classmethod
    def for_day(cls, ctx: WalkerContext) -> GridWalker:
        """The grid walker of a library day."""
        return cls(ctx.env, ctx.router, ctx.lifts)

    def route_for(self, agent: Any, floor_id: str, from_xy: XY, to: Place) -> Route:
        origin = self.router.place_at(floor_id, from_xy)
        return self.router.route(origin, to, use_lifts=bool(getattr(agent, "use_lifts", False)) and bool(self.lifts))

    def walk(self, agent: Any, floor_id: str, from_xy: XY, to: Place) -> simpy.Event:
        """A SimPy process that ends when the agent is at ``to``; its value is a :class:`WalkResult`."""
        route = self.route_for(agent, floor_id, from_xy, to)
        return self.env.process(self._go(route, float(agent.speed_m_s)))

    def _go(self, route: Route, speed: float) -> Generator[simpy.Event, Any, WalkResult]:
        t0 = self.env.now
        pending = 0.0
        for leg in route.legs:
            if leg.kind == "lift" and leg.link_id in self.lifts:
                if pending > 0:
                    yield self.env.timeout(pending)
                    pending = 0.0
                yield from self.lifts[leg.link_id].ride(leg.floor_id, leg.to_floor_id)
            elif leg.kind == "stair":
                pending += leg.distance_m / (speed * STAIR_SPEED_RATIO)
            elif leg.kind == "walk":
                pending += leg.distance_m / speed
        if pending > 0:
            yield self.env.timeout(pending)
        return WalkResult(route.distance_m, self.env.now - t0, route)


def subject_places(building: Building) -> dict[str, list[Place]]:
    """The shelves of each subject, one :class:`Place` per floor holding it."""
    out: dict[str, list[Place]] = {}
    for f in building.floors:
        seen: dict[str, list[Any]] = {}
        for o in f.obstacles:
            for s in o.subjects:
                seen.setdefault(s, []).append(o)
        for s, shelves in seen.items():
            c = shelves[0].polygon.centroid
            z = f.zone_at(c.x, c.y)
            if z is None:
                z = min(f.zones, key=lambda zz: zz.polygon.distance(c))
            out.setdefault(s, []).append(Place("subject", f.id, s, z.id, float(c.x), float(c.y)))
    return out


def shelf_counts(building: Building) -> dict[str, int]:
    """Number of shelves holding each subject (the default browsing weight)."""
    out: dict[str, int] = {}
    for f in building.floors:
        for o in f.obstacles:
            for s in o.subjects:
                out[s] = out.get(s, 0) + 1
    return out


def zone_places(building: Building, kinds: Iterable[str]) -> list[Place]:
    """One :class:`Place` per zone of the given kinds."""
    ks = set(kinds)
    out = []
    for z in building.zones:
        if z.kind in ks:
            c = z.polygon.representative_point()
            out.append(Place("zone", z.floor_id, z.id, z.id, float(c.x), float(c.y)))
    return out


def entrance_places(building: Building) -> list[Place]:
    """Doors readers use to come in and go out (gates first when there are any)."""
    ents = building.entrances
    gates = [o for o in ents if o.gate]
    out = []
    for o in gates or ents:
        zone = next(z for z in o.zones if z != "outside")
        out.append(Place("entrance", o.floor_id, o.id, zone, *o.center))
    return out


def seat_ids(building: Building) -> Sequence[str]:
    return [s.id for s in building.seats]
