"""Where readers go and how long it takes them: places, shortest paths, and the grid walker.

A :class:`Place` is a destination (a seat, a desk, the shelves of a subject, a zone, a door, a
stair landing). :class:`GridRouter` measures shortest walking paths on the walkable grid of each
floor (Dijkstra over 8-connected cells, diagonals only between two free neighbours, with
:func:`scipy.sparse.csgraph.dijkstra`), and routes between floors over stairs and lifts.
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

import itertools
import math
from collections import OrderedDict
from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import shapely
import simpy
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra, shortest_path

from geometry.build import floor_grids
from geometry.grid import DEFAULT_CELL_M, WalkableGrid, segment_cells
from geometry.model import Building

F = NDArray[np.float64]
I64 = NDArray[np.int64]
XY = tuple[float, float]

#: Walking speed on stairs as a share of level walking speed, along the flight (Fruin 1971, typical).
STAIR_SPEED_RATIO = 0.5
#: Reference level walking speed for route choice [m/s] (Weidmann 1993).
REFERENCE_SPEED_M_S = 1.34
#: Expected wait for a lift car when choosing a route [s] (typical).
LIFT_WAIT_GUESS_S = 30.0
#: Lift users avoid stairs: a stair counts this many times its usual cost for them.
STAIR_PENALTY_LIFT_USERS = 10.0


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
class Leg:
    """Part of a route: ``walk`` on a floor, ``stair`` or ``lift`` between floors [m]."""

    kind: str
    floor_id: str
    to_floor_id: str
    distance_m: float
    link_id: str | None = None


@dataclass(frozen=True)
class Route:
    legs: tuple[Leg, ...]

    @property
    def distance_m(self) -> float:
        """Walked length, stairs included (lift rides are not walked) [m]."""
        return sum(leg.distance_m for leg in self.legs if leg.kind != "lift")

    def duration_s(self, speed_m_s: float, ride_s: Any = None) -> float:
        """Time without queues at walking speed ``speed_m_s`` [s]; ``ride_s(leg)`` times lift legs."""
        t = 0.0
        for leg in self.legs:
            if leg.kind == "walk":
                t += leg.distance_m / speed_m_s
            elif leg.kind == "stair":
                t += leg.distance_m / (speed_m_s * STAIR_SPEED_RATIO)
            elif ride_s is not None:
                t += float(ride_s(leg))
        return t


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


class NoWayError(ValueError):
    """No path between two places (walls, missing stairs)."""


@dataclass
class _FloorGraph:
    grid: WalkableGrid
    node_of: I64  # cell (flattened) -> node, -1 when blocked
    graph: csr_matrix
    centers: tuple[F, F] = field(repr=False, default=(np.zeros(0), np.zeros(0)))

    @property
    def n(self) -> int:
        return int(self.graph.shape[0])


def _floor_graph(grid: WalkableGrid) -> _FloorGraph:
    w = grid.walkable
    ny, nx = w.shape
    node = -np.ones(w.size, dtype=np.int64)
    flat = np.flatnonzero(w.ravel())
    node[flat] = np.arange(flat.size)
    ii, jj = np.divmod(flat, nx)
    rows, cols, vals = [], [], []
    for di, dj, c in ((0, 1, 1.0), (1, 0, 1.0), (1, 1, math.sqrt(2.0)), (1, -1, math.sqrt(2.0))):
        i2, j2 = ii + di, jj + dj
        ok = (i2 >= 0) & (i2 < ny) & (j2 >= 0) & (j2 < nx)
        ok[ok] &= w[i2[ok], j2[ok]]
        if di and dj:  # no corner cutting: both orthogonal neighbours free
            ok[ok] &= w[ii[ok] + di, jj[ok]] & w[ii[ok], jj[ok] + dj]
        rows.append(node[ii[ok] * nx + jj[ok]])
        cols.append(node[i2[ok] * nx + j2[ok]])
        vals.append(np.full(int(ok.sum()), c * grid.cell_m))
    r, c, v = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    g = csr_matrix((np.concatenate([v, v]), (np.concatenate([r, c]), np.concatenate([c, r]))),
                   shape=(flat.size, flat.size))
    return _FloorGraph(grid, node, g, grid.centers())


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
        self._cells: dict[Place, I64] = {}
        self._fields: dict[Place, NDArray[np.float32]] = {}
        self._lru: OrderedDict[Place, NDArray[np.float32]] = OrderedDict()
        self._lru_size = seat_cache
        self._by_xy: dict[tuple[str, float, float], Place] = {}
        self.fields_computed = 0
        self.elevation = {f.id: f.elevation_m for f in building.floors}
        # stops of stairs and lifts, and the stop graph between floors
        self.stops: list[Place] = []
        self._link_of: list[str] = []
        for link in building.links:
            for fid, zid, x, y in link.stops:
                self.stops.append(self.register(Place("stop", fid, link.id, zid, float(x), float(y))))
                self._link_of.append(link.id)
        self._stop_cost: dict[bool, tuple[F, I64]] = {}
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
                raise NoWayError(f"no shelves of subject '{place.ref}' on floor '{place.floor_id}'")
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
            raise NoWayError(f"{place.kind} '{place.ref}' at ({place.x:.2f}, {place.y:.2f}) on floor "
                             f"'{place.floor_id}' has no walkable cell near it")
        self._cells[place] = nodes
        return nodes

    def field(self, place: Place) -> NDArray[np.float32]:
        """Walking distance from every cell of the place's floor to the place [m] (cached)."""
        got = self._fields.get(place)
        if got is None:
            got = self._lru.get(place)
            if got is not None:
                self._lru.move_to_end(place)
                return got
        else:
            return got
        fg = self.floors[place.floor_id]
        d = dijkstra(fg.graph, directed=False, indices=self.cells(place), min_only=True).astype(np.float32)
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

    def _stop_graph(self, use_lifts: bool) -> tuple[F, I64]:
        got = self._stop_cost.get(use_lifts)
        if got is not None:
            return got
        n = len(self.stops)
        cost = np.full((n, n), np.inf)
        links = {lk.id: lk for lk in self.building.links}
        for i, a in enumerate(self.stops):
            for j, b in enumerate(self.stops):
                if i == j:
                    continue
                if a.floor_id == b.floor_id:
                    cost[i, j] = self.floor_distance_m(a, b)
                elif self._link_of[i] == self._link_of[j]:
                    lk = links[self._link_of[i]]
                    if lk.kind == "stair":
                        # lift users (prams, wheelchairs) take stairs only when no lift goes there
                        cost[i, j] = lk.length_m / STAIR_SPEED_RATIO * (STAIR_PENALTY_LIFT_USERS if use_lifts else 1.0)
                    elif use_lifts:
                        rise = abs(self.elevation[a.floor_id] - self.elevation[b.floor_id])
                        ride = LIFT_WAIT_GUESS_S + 2 * lk.door_s + rise / max(lk.speed_m_s, 1e-9)
                        cost[i, j] = ride * REFERENCE_SPEED_M_S
        dense = np.where(np.isfinite(cost), np.maximum(cost, 1e-6), 0.0)
        dist, pred = shortest_path(csr_matrix(dense), directed=True, return_predecessors=True)
        self._stop_cost[use_lifts] = (dist, pred)
        return dist, pred

    def _to_stops(self, p: Place) -> tuple[I64, F]:
        """Stops on the place's floor and the walking distance to each [m] (cached)."""
        got = self._stops_of.get(p)
        if got is None:
            idx = np.array([i for i, s in enumerate(self.stops) if s.floor_id == p.floor_id], dtype=np.int64)
            d = np.array([self.floor_distance_m(p, self.stops[i]) for i in idx]) if idx.size else np.zeros(0)
            got = (idx, d)
            self._stops_of[p] = got
        return got

    def _leg_cost(self, leg: Leg) -> float:
        if leg.kind == "stair":
            return leg.distance_m / STAIR_SPEED_RATIO
        if leg.kind == "lift":
            lk = next(x for x in self.building.links if x.id == leg.link_id)
            return (LIFT_WAIT_GUESS_S + 2 * lk.door_s + leg.distance_m / max(lk.speed_m_s, 1e-9)) * REFERENCE_SPEED_M_S
        return leg.distance_m

    def route(self, a: Place, b: Place, *, use_lifts: bool = False) -> Route:
        """The quickest route from ``a`` to ``b`` (walking legs, stairs, lifts); cached.

        Raises
        ------
        NoWayError
            When ``b`` cannot be reached from ``a``.
        """
        key = (a, b, use_lifts)
        got = self._routes.get(key)
        if got is None:
            got = self._route(a, b, use_lifts)
            self._routes[key] = got
            if len(self._routes) > self._route_cache_size:
                self._routes.popitem(last=False)
        return got

    def _route(self, a: Place, b: Place, use_lifts: bool) -> Route:
        best: tuple[float, tuple[Leg, ...]] = (math.inf, ())
        if a.floor_id == b.floor_id:
            d = self.floor_distance_m(a, b)
            if math.isfinite(d):
                best = (d, (Leg("walk", a.floor_id, a.floor_id, d),))
        if self.stops and (a.floor_id != b.floor_id or not math.isfinite(best[0])):
            dist, pred = self._stop_graph(use_lifts)
            ia, da = self._to_stops(a)
            ib, db = self._to_stops(b)
            if ia.size and ib.size:
                tot = da[:, None] + dist[np.ix_(ia, ib)] + db[None, :]
                k = int(np.argmin(tot))
                if math.isfinite(tot.flat[k]) and tot.flat[k] < best[0]:
                    s, t = int(ia[k // ib.size]), int(ib[k % ib.size])
                    path = [t]
                    while path[-1] != s:
                        path.append(int(pred[s, path[-1]]))
                    path.reverse()
                    legs = [Leg("walk", a.floor_id, a.floor_id, float(da[k // ib.size]))]
                    links = {lk.id: lk for lk in self.building.links}
                    for u, v in itertools.pairwise(path):
                        su, sv = self.stops[u], self.stops[v]
                        if su.floor_id == sv.floor_id:
                            legs.append(Leg("walk", su.floor_id, su.floor_id, self.floor_distance_m(su, sv)))
                        else:
                            lk = links[self._link_of[u]]
                            if lk.kind == "stair":
                                legs.append(Leg("stair", su.floor_id, sv.floor_id, lk.length_m, lk.id))
                            else:
                                rise = abs(self.elevation[su.floor_id] - self.elevation[sv.floor_id])
                                legs.append(Leg("lift", su.floor_id, sv.floor_id, rise, lk.id))
                    legs.append(Leg("walk", b.floor_id, b.floor_id, float(db[k % ib.size])))
                    best = (float(tot.flat[k]), tuple(legs))
        if not best[1]:
            raise NoWayError(f"no way from {a.kind} '{a.ref}' (floor '{a.floor_id}') to {b.kind} '{b.ref}' "
                             f"(floor '{b.floor_id}')")
        return Route(tuple(leg for leg in best[1] if not (leg.kind == "walk" and leg.distance_m == 0.0
                                                            and len(best[1]) > 1)))

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
            dist, _ = self._stop_graph(use_lifts)
            ia, da = self._to_stops(a)
            for fid, (idx, nodes) in self._seat_nodes.items():
                if idx.size == 0:
                    continue
                for t in (i for i, s in enumerate(self.stops) if s.floor_id == fid):
                    via = (da + dist[ia, t]).min() if ia.size else np.inf
                    if math.isfinite(via):
                        out[idx] = np.minimum(out[idx], via + self.field(self.stops[t])[nodes])
        if self._has_field(a):
            self._seat_dist[key] = out
        return out


class GridWalker:
    """The phase-1 :class:`Walker`: time = shortest path on the walkable grid / desired speed.

    Lifts are queued and ridden (``lifts``: link id -> :class:`~simulation.day.services.Lift`). The
    agent needs ``speed_m_s`` [m/s] and ``use_lifts`` (bool).
    """

    def __init__(self, env: simpy.Environment, router: GridRouter, lifts: Mapping[str, Any] | None = None) -> None:
        self.env = env
        self.router = router
        self.lifts = dict(lifts or {})

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
