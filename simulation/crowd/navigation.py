"""Navigation: walkable spaces per floor, distance fields per target, routes across floors.

A :class:`FloorSpace` is one floor as the crowd sees it: a raster for the distance fields
(:class:`~geometry.grid.WalkableGrid`, obstacles grown by half a cell so thin shelves never
vanish) and the exact walkable polygon whose edges are the walls the movement model feels. Exit
doors get an *apron*: a short channel of the door's width outside the building, so people walk
through the door and leave when they are past it.

A :class:`Target` names where someone goes: a point, a box, a zone, a seat, a door, an exit,
all exits of a floor, or a stop of a stair or lift. The :class:`Navigator` turns a target into
goal cells, computes the travel-cost field to them with the 16-neighbourhood Dijkstra kernel
(:func:`simulation.crowd.kernels.navfield.dijkstra16`) and keeps the most recently used fields in one
flat pool that the movement kernel reads directly. Cost is metres of open floor: crossing a cell
closer than ``wall_clearance_m`` to a wall costs up to ``1 + wall_penalty`` times more, so paths
keep off walls and go through the middle of doors.

:meth:`Navigator.route` plans a trip across floors: walk legs on floors, stair legs (time =
length / stair speed) and, if asked, lift legs (ride time; the waiting is the library-day
model's business: it turns :class:`~geometry.model.Link` lifts into SimPy resources).
:meth:`Navigator.evacuation_target` gives, per floor, one field that leads to the nearest
exit of the building, through stairs where that is faster.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely
from numpy.typing import NDArray
from scipy import ndimage
from shapely.geometry import Point, Polygon, box
from shapely.geometry.base import BaseGeometry

from geometry.grid import DEFAULT_CELL_M, WalkableGrid, floor_barriers, rasterize
from geometry.model import Building, Floor, Link

from . import kernels
from .kernels.moves import MOVES
from .routes import NoRouteError, Route, Stop, StopGraph

#: Weidmann's free walking speed on the flat [m/s] (Weidmann 1993).
FREE_SPEED_M_S = 1.34
#: Walking speed along a stair flight used for routes and evacuations [m/s]: the middle of the
#: 0.5-0.8 m/s measured for descending crowds (Fruin 1971; Fujiyama and Tyler 2010).
STAIR_SPEED_M_S = 0.6
#: A point target is reached within this distance [m].
POINT_RADIUS_M = 0.35
#: A stop of a stair or lift is reached within this distance [m].
STOP_RADIUS_M = 0.5
#: Seat and point targets inside a zone get a *local* field (see :meth:`Navigator.local_field`):
#: exact inside a window of their tile of the zone (tiles of ``LOCAL_TILE_M`` [m]) grown by
#: ``LOCAL_MARGIN_M`` [m], and the tile's shared field outside it.
LOCAL_TILE_M = 8.0
LOCAL_MARGIN_M = 2.5
#: The window part of this many local fields is kept after their field leaves the pool, so a seat
#: a reader comes back to gets its field again without a Dijkstra run (a window is a few tens of kB).
LOCAL_PARTS_KEPT = 4096
#: Cells of a ``shelves`` target need this much room to the nearest blocked cell centre [m] (a body
#: of radius 0.2 m fits; where no cell has it, every cell near the shelves counts).
SHELF_CLEAR_M = 0.45


# --------------------------------------------------------------------------- spaces

def _segments(geom: BaseGeometry) -> NDArray[np.float64]:
    """Edges of all rings of a (multi)polygon as rows (x1, y1, x2, y2) [m]."""
    rows = []
    polys = getattr(geom, "geoms", [geom])
    for poly in polys:
        if poly.is_empty or poly.geom_type != "Polygon":
            continue
        for ring in (poly.exterior, *poly.interiors):
            xy = np.asarray(ring.coords, float)
            if len(xy) >= 2:
                rows.append(np.column_stack([xy[:-1], xy[1:]]))
    if not rows:
        return np.zeros((0, 4))
    seg = np.concatenate(rows)
    keep = np.hypot(seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1]) > 1e-9
    return np.ascontiguousarray(seg[keep])


@dataclass(frozen=True, eq=False)
class FloorSpace:
    """One floor as the crowd sees it.

    Attributes
    ----------
    floor_id
        Floor name.
    grid
        Raster the distance fields live on (conservative: obstacles grown by half a cell).
    free
        Exact walkable polygon [m]; its edges are the walls of the movement model.
    segments
        ``free``'s edges as float64[k, 4] rows (x1, y1, x2, y2) [m].
    clearance_m
        Distance of each cell centre to the nearest blocked cell centre [m] (0 on blocked cells).
    exits
        Exit id -> region; standing in the region means having left (e.g. a door's apron).
    elevation_m
        Height of the floor [m] (for lift ride times).
    """

    floor_id: str
    grid: WalkableGrid
    free: BaseGeometry
    segments: NDArray[np.float64]
    clearance_m: NDArray[np.float64]
    exits: Mapping[str, BaseGeometry] = field(default_factory=dict)
    elevation_m: float = 0.0

    @classmethod
    def from_polygons(cls, floor_id: str, walkable: BaseGeometry, obstacles: Iterable[BaseGeometry] = (), *,
                      cell_m: float = DEFAULT_CELL_M, exits: Mapping[str, BaseGeometry] | None = None,
                      elevation_m: float = 0.0) -> FloorSpace:
        """A floor from plain shapely geometry.

        Parameters
        ----------
        walkable
            Where people may walk (polygon or multipolygon) [m].
        obstacles
            Polygons inside ``walkable`` nobody can walk through (shelves, columns) [m].
        cell_m
            Raster cell size [m].
        exits
            Named regions inside ``walkable``; reaching one means leaving (see :meth:`Target.exits`).
        """
        obs = [o for o in obstacles if not o.is_empty]
        blocked = shapely.union_all(obs) if obs else None
        free = walkable.difference(blocked) if blocked is not None else walkable
        grown = blocked.buffer(0.5 * cell_m, join_style="mitre") if blocked is not None else None
        grid = rasterize(walkable, grown, cell_m=cell_m, floor_id=floor_id)
        return cls._make(floor_id, grid, free, dict(exits or {}), elevation_m)

    @classmethod
    def _make(cls, floor_id: str, grid: WalkableGrid, free: BaseGeometry, exits: dict[str, BaseGeometry],
              elevation_m: float) -> FloorSpace:
        free = shapely.simplify(free, 1e-6)
        clearance = ndimage.distance_transform_edt(grid.walkable) * grid.cell_m
        return cls(floor_id, grid, free, _segments(free), np.asarray(clearance, float), exits, elevation_m)


def exit_apron(floor: Floor, opening_id: str, depth_m: float = 1.0) -> Polygon:
    """The channel of a door's width outside the floor outline in front of an exit door [m]."""
    op = next(o for o in floor.openings if o.id == opening_id)
    (x0, y0), (x1, y1) = op.segment.coords[0], op.segment.coords[-1]
    tx, ty = x1 - x0, y1 - y0
    n = math.hypot(tx, ty)
    nx_, ny_ = -ty / n, tx / n
    cx, cy = op.center
    if floor.outline.covers(Point(cx + 0.05 * nx_, cy + 0.05 * ny_)):
        nx_, ny_ = -nx_, -ny_
    return Polygon([(x0, y0), (x1, y1), (x1 + depth_m * nx_, y1 + depth_m * ny_),
                    (x0 + depth_m * nx_, y0 + depth_m * ny_)])


def floor_spaces(building: Building, *, cell_m: float = DEFAULT_CELL_M,
                 exit_apron_m: float = 1.0) -> dict[str, FloorSpace]:
    """Every floor of a building as a :class:`FloorSpace`, exits with aprons of ``exit_apron_m``.

    The walls and obstacles are those of :func:`geometry.grid.floor_barriers` (walls at least
    1.5 cells thick, obstacles grown by half a cell), so the raster and the walls agree.
    """
    out = {}
    for f in building.floors:
        area = shapely.union_all([z.polygon for z in f.zones]).intersection(f.outline)
        aprons = {o.id: exit_apron(f, o.id, exit_apron_m) for o in f.openings if o.is_exit}
        whole = shapely.union_all([area, *aprons.values()])
        blocked = floor_barriers(f, cell_m=cell_m, wall_thickness_m=building.wall_thickness_m)
        grid = rasterize(whole, blocked, cell_m=cell_m, floor_id=f.id)
        free = whole.difference(blocked)
        # leaving = being in the apron beyond the wall
        reach = max(building.wall_thickness_m / 2, 0.75 * cell_m) + 0.25
        exits = {k: a.difference(f.outline.buffer(reach, join_style="mitre")) for k, a in aprons.items()}
        out[f.id] = FloorSpace._make(f.id, grid, free, exits, f.elevation_m)
    return out


# --------------------------------------------------------------------------- targets

@dataclass(frozen=True)
class Target:
    """Where someone goes, on one floor. Build with the class methods; hashable (a cache key).

    ``kind`` is one of ``point``, ``box``, ``zone``, ``seat``, ``opening``, ``exit``, ``exits``,
    ``stop``, ``shelves``, ``evacuation`` and ``tile`` (part of a zone, see :meth:`Navigator.local_field`);
    ``ref`` holds what identifies it.
    """

    kind: str
    floor_id: str
    ref: tuple[object, ...] = ()

    @classmethod
    def point(cls, floor_id: str, x: float, y: float, radius_m: float = POINT_RADIUS_M) -> Target:
        """A place (a desk, a kiosk, a shelf face), reached within ``radius_m`` [m]."""
        return cls("point", floor_id, (float(x), float(y), float(radius_m)))

    @classmethod
    def box(cls, floor_id: str, xmin: float, ymin: float, xmax: float, ymax: float) -> Target:
        """An axis-aligned box [m]; reached when inside."""
        return cls("box", floor_id, (float(xmin), float(ymin), float(xmax), float(ymax)))

    @classmethod
    def zone(cls, floor_id: str, zone_id: str) -> Target:
        """A zone of the building; reached on entering it."""
        return cls("zone", floor_id, (zone_id,))

    @classmethod
    def seat(cls, floor_id: str, seat_id: str) -> Target:
        """A seat of the building, reached within :data:`POINT_RADIUS_M` of the chair."""
        return cls("seat", floor_id, (seat_id,))

    @classmethod
    def opening(cls, floor_id: str, opening_id: str) -> Target:
        """A door or passage; reached within half a metre of its line (from either side)."""
        return cls("opening", floor_id, (opening_id,))

    @classmethod
    def exit(cls, floor_id: str, opening_id: str) -> Target:
        """One exit: reached when through the door, in its apron."""
        return cls("exit", floor_id, (opening_id,))

    @classmethod
    def exits(cls, floor_id: str, blocked: Iterable[str] = ()) -> Target:
        """The nearest of the floor's exits, except ``blocked`` ones; the goal label says which."""
        return cls("exits", floor_id, tuple(sorted(blocked)))

    @classmethod
    def shelves(cls, floor_id: str, subject: str, reach_m: float = 0.75) -> Target:
        """The shelves of a subject: reached on entering an aisle cell within ``reach_m`` [m] of one of them."""
        return cls("shelves", floor_id, (subject, float(reach_m)))

    @classmethod
    def stop(cls, floor_id: str, link_id: str) -> Target:
        """The landing of a stair or the door of a lift on this floor."""
        return cls("stop", floor_id, (link_id,))


@dataclass(frozen=True)
class Goal:
    """Goal cells of a field: flat cell indices, the cost already spent there [m], a label."""

    label: str
    cells: NDArray[np.int64]
    value_m: float = 0.0


@dataclass(frozen=True, eq=False)
class NavField:
    """A travel-cost field on one floor (a copy; safe to keep).

    Attributes
    ----------
    dist
        float32[ny, nx] travel cost to the nearest goal [m of open floor]; ``inf`` where unreachable.
    goal
        int16[ny, nx] goal label index on goal cells, -1 elsewhere.
    labels
        Label of each goal index (e.g. exit ids).
    """

    target: Target
    grid: WalkableGrid
    dist: NDArray[np.float32]
    goal: NDArray[np.int16]
    labels: tuple[str, ...]

    def value_at(self, x: float, y: float) -> float:
        """Travel cost from (x, y) [m]: nearest reachable cell within 1 m plus the way to it."""
        return _value_at(self.grid, self.dist, x, y)

    def direction_at(self, x: float, y: float) -> tuple[float, float]:
        """Unit walking direction at (x, y), as the movement kernel sees it."""
        from .kernels.reference import field_direction_reference

        ex, ey = field_direction_reference(np.array([x]), np.array([y]), self.dist, self.grid.x0, self.grid.y0,
                                           self.grid.cell_m)
        return float(ex[0]), float(ey[0])

    def path(self, x: float, y: float, *, step_m: float = 0.1, max_steps: int = 100_000) -> NDArray[np.float64]:
        """Points [m] followed from (x, y) down the field until a goal cell (for pictures and tests)."""
        pts = [(x, y)]
        g = self.grid
        for _ in range(max_steps):
            i, j = g.cell_of(x, y)
            if g.inside(i, j) and self.goal[i, j] >= 0:
                break
            ex, ey = self.direction_at(x, y)
            if ex == 0.0 and ey == 0.0:
                break
            x, y = x + step_m * ex, y + step_m * ey
            pts.append((x, y))
        return np.asarray(pts)


def _value_at(grid: WalkableGrid, dist: NDArray[np.float32], x: float, y: float) -> float:
    i, j = grid.cell_of(x, y)
    if grid.inside(i, j) and np.isfinite(dist[i, j]):
        cx, cy = grid.center(i, j)
        return float(dist[i, j]) + math.hypot(cx - x, cy - y)
    c = grid.nearest_walkable(x, y, 1.0)
    if c is None or not np.isfinite(dist[c]):
        return math.inf
    cx, cy = grid.center(*c)
    return float(dist[c]) + math.hypot(cx - x, cy - y)


# --------------------------------------------------------------------------- the navigator

@dataclass
class _Slot:
    offset: int
    floor: int
    size: int
    labels: tuple[str, ...]
    pins: int = 0
    local: bool = False


@dataclass(frozen=True, eq=False)
class _LocalPart:
    """The window of a local field: travel cost and goal labels on rows i0:i1, columns j0:j1 of the
    floor grid; elsewhere the field is the shared field of ``tile`` plus ``top`` (the window's largest cost)."""

    tile: Target
    i0: int
    i1: int
    j0: int
    j1: int
    dist: NDArray[np.float64]
    goal: NDArray[np.int32]
    top: float


class Navigator:
    """Distance fields for targets on the floors of one space, cached, and routes across floors.

    Parameters
    ----------
    spaces
        The floors (see :func:`floor_spaces`, :meth:`FloorSpace.from_polygons`).
    building
        Needed for zone, seat, door and stop targets.
    wall_clearance_m, wall_penalty
        Cells closer than ``wall_clearance_m`` [m] to a wall cost up to ``1 + wall_penalty``
        times more to cross (0 turns this off).
    max_fields
        Fields kept; least recently used ones that no walker follows are dropped beyond this.
    local_fields
        Seat and point targets inside a zone of ``building`` get a local field (see
        :meth:`local_field`): a library day sends readers to a thousand seats, and a field over a
        room costs a fraction of one over the floor.
    """

    def __init__(self, spaces: Mapping[str, FloorSpace] | Sequence[FloorSpace], *, building: Building | None = None,
                 wall_clearance_m: float = 0.3, wall_penalty: float = 1.0, max_fields: int = 256,
                 local_fields: bool = True) -> None:
        if not isinstance(spaces, Mapping):
            spaces = {s.floor_id: s for s in spaces}
        if not spaces:
            raise ValueError("a navigator needs at least one floor")
        if wall_clearance_m < 0 or wall_penalty < 0:
            raise ValueError(f"wall_clearance_m and wall_penalty must be >= 0, got {wall_clearance_m}, {wall_penalty}")
        self.spaces: dict[str, FloorSpace] = dict(spaces)
        cells = {s.grid.cell_m for s in self.spaces.values()}
        if len(cells) != 1:
            raise ValueError(f"all floors need the same cell size, got {sorted(cells)}")
        self.cell_m = cells.pop()
        self.building = building
        self.floor_ids = tuple(self.spaces)
        self.floor_index = {f: k for k, f in enumerate(self.floor_ids)}
        self.max_fields = int(max_fields)
        self._cost = {}
        for fid, s in self.spaces.items():
            wall_m = np.maximum(s.clearance_m - 0.5 * self.cell_m, 0.0)
            if wall_clearance_m > 0 and wall_penalty > 0:
                self._cost[fid] = 1.0 + wall_penalty * np.clip(1.0 - wall_m / wall_clearance_m, 0.0, 1.0)
            else:
                self._cost[fid] = np.ones(s.grid.shape)
        self.links: tuple[Link, ...] = building.links if building is not None else ()
        self.dist = np.empty(0, np.float32)
        self.goal = np.empty(0, np.int16)
        self._used = 0
        self._free: dict[int, list[int]] = {}
        self._slots: OrderedDict[Target, _Slot] = OrderedDict()
        self._by_offset: dict[int, Target] = {}
        self.fields_computed = 0
        self.local_fields = bool(local_fields)
        self._zone_cells: dict[Target, NDArray[np.int64]] = {}  # zones', tiles', shelves' and seats' cells
        #: Fields computed as local fields (also counted in ``fields_computed``).
        self.local_fields_computed = 0
        # (target, tile_m, margin_m) -> the window part of its local field, or None (it has none)
        self._parts: OrderedDict[tuple[Target, float, float], _LocalPart | None] = OrderedDict()
        self._stops: StopGraph | None = None
        self._from_stops: dict[Target, NDArray[np.float64]] = {}  # cost from each stop to a target [m]
        self._stop_targets: dict[tuple[str, str], Target] = {}

    # ---------------------------------------------------------------- goals

    def _floor(self, target: Target) -> FloorSpace:
        try:
            return self.spaces[target.floor_id]
        except KeyError:
            raise KeyError(f"no floor '{target.floor_id}' (floors: {', '.join(self.floor_ids)})") from None

    def _need_building(self, target: Target) -> Building:
        if self.building is None:
            raise ValueError(f"a {target.kind} target needs a crowd built from a Building")
        return self.building

    @staticmethod
    def _cells_in(grid: WalkableGrid, geom: BaseGeometry) -> NDArray[np.int64]:
        """Flat indices of the walkable cells whose centre is in ``geom`` (only its bounding box is tested)."""
        ny, nx = grid.shape
        if geom.is_empty:
            return np.zeros(0, np.int64)
        x0, y0, x1, y1 = geom.bounds
        i0, j0 = grid.cell_of(x0, y0)
        i1, j1 = grid.cell_of(x1, y1)
        i0, j0, i1, j1 = max(i0, 0), max(j0, 0), min(i1 + 1, ny), min(j1 + 1, nx)
        if i0 >= i1 or j0 >= j1:
            return np.zeros(0, np.int64)
        jj, ii = np.meshgrid(np.arange(j0, j1), np.arange(i0, i1))
        gx = grid.x0 + (jj + 0.5) * grid.cell_m
        gy = grid.y0 + (ii + 0.5) * grid.cell_m
        inside = np.asarray(shapely.intersects_xy(geom, gx, gy), bool) & grid.walkable[i0:i1, j0:j1]
        return (ii[inside] * nx + jj[inside]).astype(np.int64)

    def _near_point(self, grid: WalkableGrid, x: float, y: float, radius_m: float, what: str) -> NDArray[np.int64]:
        cells = self._cells_in(grid, Point(x, y).buffer(radius_m))
        if cells.size == 0:
            c = grid.nearest_walkable(x, y, max(1.0, radius_m))
            if c is None:
                raise NoRouteError(f"{what} at ({x:.2f}, {y:.2f}) on floor '{grid.floor_id}' is not near any walkable "
                              "cell")
            cells = np.array([c[0] * grid.shape[1] + c[1]], np.int64)
        return cells

    def goals(self, target: Target) -> list[Goal]:
        """The goal cells of a target (raises KeyError or NoRouteError naming what is wrong)."""
        sp = self._floor(target)
        g = sp.grid
        kind, ref = target.kind, target.ref
        if kind == "point":
            x, y, r = ref
            return [Goal("point", self._near_point(g, float(x), float(y), float(r), "point"))]  # type: ignore[arg-type]
        if kind == "box":
            cells = self._cells_in(g, box(*(float(v) for v in ref)))  # type: ignore[arg-type]
            if cells.size == 0:
                raise NoRouteError(f"box {ref} on floor '{target.floor_id}' holds no walkable cell")
            return [Goal("box", cells)]
        if kind in ("exit", "exits"):
            if kind == "exit":
                if ref[0] not in sp.exits:
                    known = ", ".join(sorted(sp.exits)) or "none"
                    raise KeyError(f"floor '{target.floor_id}' has no exit '{ref[0]}' (exits: {known})")
                names = [str(ref[0])]
            else:
                names = [k for k in sorted(sp.exits) if k not in ref]
                if not names:
                    raise NoRouteError(f"floor '{target.floor_id}' has no exit left open")
            out = []
            for k in names:
                cells = self._cells_in(g, sp.exits[k])
                if cells.size == 0:
                    raise NoRouteError(f"exit '{k}' on floor '{target.floor_id}' holds no walkable cell")
                out.append(Goal(k, cells))
            return out
        b = self._need_building(target)
        fl = b.floor(target.floor_id)
        ident = str(ref[0])
        if kind == "shelves":
            got = self._zone_cells.get(target)
            if got is None:
                shelves = [o.polygon for o in fl.obstacles if ident in o.subjects]
                if not shelves:
                    raise NoRouteError(f"no shelves of subject '{ident}' on floor '{fl.id}'")
                near = self._cells_in(g, shapely.union_all(shelves).buffer(float(str(ref[1]))))
                roomy = near[self.spaces[fl.id].clearance_m.ravel()[near] >= SHELF_CLEAR_M]
                got = self._zone_cells[target] = roomy if roomy.size else near
            if got.size == 0:
                raise NoRouteError(f"the shelves of subject '{ident}' on floor '{fl.id}' have no walkable cell "
                                   "near them")
            return [Goal(ident, got)]
        if kind == "tile":  # the cells of a zone in one square of a tiling of its bounding box
            z = fl.zone(ident)
            ti, tj, size = int(str(ref[1])), int(str(ref[2])), float(str(ref[3]))
            got = self._zone_cells.get(target)
            if got is None:
                zx0, zy0, _, _ = z.polygon.bounds
                sq = box(zx0 + tj * size, zy0 + ti * size, zx0 + (tj + 1) * size, zy0 + (ti + 1) * size)
                got = self._zone_cells[target] = self._cells_in(g, z.polygon.intersection(sq))
            if got.size == 0:
                raise NoRouteError(f"tile ({ti}, {tj}) of zone '{ident}' holds no walkable cell")
            return [Goal(ident, got)]
        if kind == "zone":
            z = fl.zone(ident)
            zc = self._zone_cells.get(target)
            if zc is None:
                zc = self._zone_cells[target] = self._cells_in(g, z.polygon)
            if zc.size == 0:
                raise NoRouteError(f"zone '{ident}' holds no walkable cell")
            return [Goal(ident, zc)]
        if kind == "seat":
            got = self._zone_cells.get(target)
            if got is None:
                s = next((s for s in fl.seats if s.id == ident), None)
                if s is None:
                    raise KeyError(f"floor '{fl.id}' has no seat '{ident}'")
                got = self._zone_cells[target] = self._near_point(g, s.x, s.y, POINT_RADIUS_M, f"seat '{ident}'")
            return [Goal(ident, got)]
        if kind == "opening":
            o = next((o for o in fl.openings if o.id == ident), None)
            if o is None:
                raise KeyError(f"floor '{fl.id}' has no opening '{ident}'")
            cells = self._cells_in(g, o.segment.buffer(0.5, cap_style="flat"))
            if cells.size == 0:
                raise NoRouteError(f"opening '{ident}' holds no walkable cell")
            return [Goal(ident, cells)]
        if kind == "stop":
            x, y = self.stop_xy(ident, fl.id)
            return [Goal(ident, self._near_point(g, x, y, STOP_RADIUS_M, f"stop of '{ident}'"))]
        raise ValueError(f"unknown target kind '{kind}'")

    def link(self, link_id: str) -> Link:
        for lk in self.links:
            if lk.id == link_id:
                return lk
        raise KeyError(f"no stair or lift '{link_id}'")

    def stop_xy(self, link_id: str, floor_id: str) -> tuple[float, float]:
        """Where a stair or lift stops on a floor [m]."""
        for f, _, x, y in self.link(link_id).stops:
            if f == floor_id:
                return (x, y)
        raise KeyError(f"'{link_id}' does not stop on floor '{floor_id}'")

    # ---------------------------------------------------------------- the pool

    def _alloc(self, size: int) -> int:
        free = self._free.get(size)
        if free:
            return free.pop()
        need = self._used + size
        if need > self.dist.size:
            cap = max(need, 2 * self.dist.size)
            d = np.empty(cap, np.float32)
            g = np.empty(cap, np.int16)
            d[: self._used] = self.dist[: self._used]
            g[: self._used] = self.goal[: self._used]
            self.dist, self.goal = d, g
        off = self._used
        self._used = need
        return off

    def _evict(self, room: int = 0) -> None:
        """Drop the least recently used unfollowed fields beyond ``max_fields - room``, local ones first.

        A seat's local field costs a few percent of a whole field to make again; the whole fields
        (zones, tiles, stops, doors) are few and shared, so they stay while local ones can go.
        """
        while len(self._slots) > self.max_fields - room:
            victim = next((t for t, s in self._slots.items() if s.pins == 0 and s.local), None)
            if victim is None:
                victim = next((t for t, s in self._slots.items() if s.pins == 0), None)
            if victim is None:
                return
            s = self._slots.pop(victim)
            del self._by_offset[s.offset]
            self._free.setdefault(s.size, []).append(s.offset)

    def _store(self, target: Target, dist: NDArray[np.float64], goal: NDArray[np.int32],
               labels: tuple[str, ...], *, local: bool = False) -> _Slot:
        size = dist.size
        self._evict(room=1)  # before the new field goes in, so it is never the one dropped
        off = self._alloc(size)
        self.dist[off: off + size] = dist.ravel()
        self.goal[off: off + size] = goal.ravel()
        slot = _Slot(off, self.floor_index[target.floor_id], size, labels, local=local)
        self._slots[target] = slot
        self._by_offset[off] = target
        return slot

    def compute(self, floor_id: str, goals: Sequence[Goal]) -> tuple[NDArray[np.float64], NDArray[np.int32]]:
        """Run the distance-field kernel for goals on a floor (uncached)."""
        sp = self.spaces[floor_id]
        cells = np.concatenate([g.cells for g in goals]) if goals else np.zeros(0, np.int64)
        values = np.concatenate([np.full(g.cells.size, g.value_m) for g in goals]) if goals else np.zeros(0)
        labels = np.concatenate([np.full(g.cells.size, k, np.int32) for k, g in enumerate(goals)]) if goals \
            else np.zeros(0, np.int32)
        self.fields_computed += 1
        dist, goal = kernels.dijkstra16(sp.grid.walkable, self._cost[floor_id], cells.astype(np.int64),
                                        values.astype(np.float64), labels, float(sp.grid.cell_m), MOVES)
        return np.asarray(dist, np.float64), np.asarray(goal, np.int32)

    def _slot(self, target: Target) -> _Slot:
        slot = self._slots.get(target)
        if slot is not None:
            self._slots.move_to_end(target)
            return slot
        if target.kind == "evacuation":
            self._evacuation(target)
            return self._slots[target]
        goals = self.goals(target)
        got = self.local_field(target, goals) if self.local_fields else None
        dist, goal = got if got is not None else self.compute(target.floor_id, goals)
        slot = self._store(target, dist, goal, tuple(g.label for g in goals), local=got is not None)
        return slot

    def local_field(self, target: Target, goals: Sequence[Goal] | None = None, *, tile_m: float = LOCAL_TILE_M,
                    margin_m: float = LOCAL_MARGIN_M) -> tuple[NDArray[np.float64], NDArray[np.int32]] | None:
        """The field of a seat or point target from a local field and a shared one, or None.

        The zone holding the target is cut into square tiles of ``tile_m`` [m]; the target's tile
        ``S`` (the zone's cells in it) has a shared field ``Z`` (cached like any other). Inside the
        window ``W`` (the tile grown by ``margin_m`` [m]) the field is the exact travel cost ``L``
        to the goal computed on the window alone; elsewhere it is ``Z + max(L)``. So someone far
        away walks towards the tile and, once in the window, to the seat. The field has no pit: a
        cell with ``L`` descends along ``L``; a cell without it descends along ``Z`` to a cell of
        ``S``, and every cell of ``S`` has ``L`` (checked; else the whole zone is tried as the tile,
        and failing that None: the caller computes the whole field). A window is a few percent of
        a floor, so the thousand seats of a library day cost about as much as a few dozen whole
        fields. ``L`` is kept (the last ``LOCAL_PARTS_KEPT`` targets), so a field that left the pool
        comes back without a Dijkstra run.

        Returns None for other kinds of target, without a building, or when the target is in no zone.
        """
        if target.kind not in ("seat", "point") or self.building is None:
            return None
        key = (target, float(tile_m), float(margin_m))
        if key in self._parts:
            self._parts.move_to_end(key)
            part = self._parts[key]
            return None if part is None else self._assemble(part)
        fid = target.floor_id
        fl = self.building.floor(fid)
        if target.kind == "point":
            x, y = float(target.ref[0]), float(target.ref[1])  # type: ignore[arg-type]
        else:
            st = next((s for s in fl.seats if s.id == target.ref[0]), None)
            if st is None:
                return None
            x, y = st.x, st.y
        zone = fl.zone_at(x, y)
        if zone is None:
            return None
        goals = list(goals) if goals is not None else self.goals(target)
        zx0, zy0, _, _ = zone.polygon.bounds
        ti, tj = int((y - zy0) // tile_m), int((x - zx0) // tile_m)
        part = None
        for tile in (Target("tile", fid, (zone.id, ti, tj, float(tile_m))), Target.zone(fid, zone.id)):
            try:
                part = self._local(tile, goals, margin_m)
            except NoRouteError:  # no walkable cell of the zone in the tile
                continue
            if part is not None:
                self.fields_computed += 1
                self.local_fields_computed += 1
                break
        self._parts[key] = part
        while len(self._parts) > LOCAL_PARTS_KEPT:
            self._parts.popitem(last=False)
        return None if part is None else self._assemble(part)

    def _local(self, tile: Target, goals: Sequence[Goal], margin_m: float) -> _LocalPart | None:
        fid = tile.floor_id
        g = self.spaces[fid].grid
        ny, nx = g.shape
        tcells = self.goals(tile)[0].cells
        ti, tj = tcells // nx, tcells % nx
        pad = math.ceil(margin_m / g.cell_m)
        i0, j0 = max(int(ti.min()) - pad, 0), max(int(tj.min()) - pad, 0)
        i1, j1 = min(int(ti.max()) + pad + 1, ny), min(int(tj.max()) + pad + 1, nx)
        if (i1 - i0) * (j1 - j0) >= 0.6 * nx * ny:
            return None  # the window is most of the floor: the whole field is as cheap
        cells = np.concatenate([gl.cells for gl in goals])
        ci, cj = cells // nx, cells % nx
        if not ((ci >= i0) & (ci < i1) & (cj >= j0) & (cj < j1)).all():
            return None
        wnx = j1 - j0
        walk = np.ascontiguousarray(g.walkable[i0:i1, j0:j1])
        cost = np.ascontiguousarray(self._cost[fid][i0:i1, j0:j1])
        values = np.concatenate([np.full(gl.cells.size, gl.value_m) for gl in goals])
        labels = np.concatenate([np.full(gl.cells.size, k, np.int32) for k, gl in enumerate(goals)])
        ld, lq = kernels.dijkstra16(walk, cost, ((ci - i0) * wnx + (cj - j0)).astype(np.int64),
                                    values.astype(np.float64), labels, float(g.cell_m), MOVES)
        if not np.isfinite(ld[ti - i0, tj - j0]).all():
            return None  # part of the tile is cut off from the target inside the window
        top = float(ld[np.isfinite(ld)].max())
        return _LocalPart(tile, i0, i1, j0, j1, np.asarray(ld, np.float64), np.asarray(lq, np.int32), top)

    def _assemble(self, part: _LocalPart) -> tuple[NDArray[np.float64], NDArray[np.int32]]:
        """A whole local field from its window part and the tile's shared field (see :meth:`local_field`)."""
        zd, _ = self._view(self._slot(part.tile))
        i0, i1, j0, j1 = part.i0, part.i1, part.j0, part.j1
        dist = zd.astype(np.float64) + part.top
        dist[i0:i1, j0:j1] = np.where(np.isfinite(part.dist), part.dist, dist[i0:i1, j0:j1])
        goal = np.full(zd.shape, -1, np.int32)
        goal[i0:i1, j0:j1] = part.goal
        return dist, goal

    def offset(self, target: Target) -> int:
        """Where the target's field starts in :attr:`dist` / :attr:`goal` (computing it if needed)."""
        return self._slot(target).offset

    def labels(self, target: Target) -> tuple[str, ...]:
        return self._slot(target).labels

    def pin(self, offset: int, by: int = 1) -> None:
        """Mark a field as followed (``by`` walkers); pinned fields are never dropped."""
        self._slots[self._by_offset[offset]].pins += by

    def unpin(self, offset: int, by: int = 1) -> None:
        t = self._by_offset.get(offset)
        if t is not None:
            self._slots[t].pins = max(0, self._slots[t].pins - by)
        self._evict()

    def label_of(self, offset: int, index: int) -> str:
        """The name of goal ``index`` of the field at ``offset``."""
        return self._slots[self._by_offset[offset]].labels[index]

    def _view(self, slot: _Slot) -> tuple[NDArray[np.float32], NDArray[np.int16]]:
        g = self.spaces[self.floor_ids[slot.floor]].grid
        d = self.dist[slot.offset: slot.offset + slot.size].reshape(g.shape)
        q = self.goal[slot.offset: slot.offset + slot.size].reshape(g.shape)
        return d, q

    def field(self, target: Target) -> NavField:
        """The field of a target (a copy)."""
        slot = self._slot(target)
        d, q = self._view(slot)
        return NavField(target, self.spaces[target.floor_id].grid, d.copy(), q.copy(), slot.labels)

    def distance_m(self, target: Target, x: float, y: float) -> float:
        """Travel cost from (x, y) on the target's floor to the target [m of open floor]."""
        slot = self._slot(target)
        return _value_at(self.spaces[target.floor_id].grid, self._view(slot)[0], x, y)

    @property
    def cached(self) -> int:
        """Fields in the cache."""
        return len(self._slots)

    # ---------------------------------------------------------------- routes

    def stop_graph(self) -> StopGraph:
        """The stops of the stairs and lifts on these floors, joined by this navigator's walking costs."""
        if self._stops is None:
            def walk_m(a: Stop, b: Stop) -> float:
                return self.distance_m(Target.stop(b.floor_id, b.link_id), a.x, a.y)

            self._stops = StopGraph(self.links, {f: s.elevation_m for f, s in self.spaces.items()}, walk_m,
                                    floors=self.floor_ids)
        return self._stops

    def _stop_target(self, floor_id: str, link_id: str) -> Target:
        """``Target.stop(floor_id, link_id)``, made once."""
        key = (floor_id, link_id)
        t = self._stop_targets.get(key)
        if t is None:
            t = self._stop_targets[key] = Target.stop(floor_id, link_id)
        return t

    def route(self, floor_id: str, x: float, y: float, target: Target, *, walk_speed_m_s: float = FREE_SPEED_M_S,
              stair_speed_m_s: float = STAIR_SPEED_M_S, use_lifts: bool = False, lift_wait_s: float = 0.0) -> Route:
        """Fastest legs from (x, y) on ``floor_id`` to ``target``, through stairs (and lifts).

        Planned by :class:`~simulation.crowd.routes.StopGraph`: walk legs cost travel cost /
        ``walk_speed_m_s``; stairs ``length_m / stair_speed_m_s``; lifts door time plus height / lift
        speed (their ``duration_s``; ``lift_wait_s`` is the expected wait counted in the choice only).
        Walk legs carry their :class:`Target` (a stop, or ``target``).

        Raises
        ------
        NoRouteError
            When the target cannot be reached.
        """
        if walk_speed_m_s <= 0 or stair_speed_m_s <= 0:
            raise ValueError("speeds must be positive")
        self._floor(target)
        if floor_id not in self.spaces:
            raise KeyError(f"no floor '{floor_id}' (floors: {', '.join(self.floor_ids)})")
        graph = self.stop_graph()
        direct = self.distance_m(target, x, y) if floor_id == target.floor_id else math.inf
        to_stops = np.array([self.distance_m(self._stop_target(floor_id, graph.stops[k].link_id), x, y)
                             for k in graph.on_floor(floor_id)]) if not math.isfinite(direct) else np.zeros(0)
        from_stops = np.zeros(0)
        if not math.isfinite(direct):
            from_stops = self._from_stops.get(target)  # a target's field is the same whenever it is made
            if from_stops is None:
                from_stops = np.array([self.distance_m(target, graph.stops[k].x, graph.stops[k].y)
                                       for k in graph.on_floor(target.floor_id)])
                if len(self._from_stops) >= 65536:
                    self._from_stops.clear()
                self._from_stops[target] = from_stops
        what = f"{target.kind} {target.ref}"
        try:
            return graph.plan(floor_id, to_stops, target.floor_id, from_stops, direct, use_lifts=use_lifts,
                              walk_speed_m_s=walk_speed_m_s, stair_speed_m_s=stair_speed_m_s, lift_wait_s=lift_wait_s,
                              goal=target, stop_target=lambda st: self._stop_target(st.floor_id, st.link_id),
                              what=what)
        except NoRouteError:
            raise NoRouteError(f"no way from ({x:.2f}, {y:.2f}) on floor '{floor_id}' to {what} on floor "
                               f"'{target.floor_id}'") from None

    # ---------------------------------------------------------------- evacuation

    def evacuation_target(self, floor_id: str, *, blocked: Iterable[str] = (),
                          stair_speed_m_s: float = STAIR_SPEED_M_S, walk_speed_m_s: float = FREE_SPEED_M_S) -> Target:
        """A target leading from anywhere on ``floor_id`` to the nearest open exit of the building.

        Goal labels are exit ids, or ``stair:<link>:<floor>`` for the landing of a stair that is
        the faster way out (its field value there is the rest of the way, stair included).
        """
        self._floor(Target("exits", floor_id))
        return Target("evacuation", floor_id, (tuple(sorted(blocked)), float(stair_speed_m_s), float(walk_speed_m_s)))

    def _evacuation(self, target: Target) -> None:
        blocked, stair_speed, walk_speed = target.ref
        assert isinstance(blocked, tuple) and isinstance(stair_speed, float) and isinstance(walk_speed, float)
        known = {e for s in self.spaces.values() for e in s.exits}
        unknown = [b for b in blocked if b not in known]
        if unknown:
            raise KeyError(f"cannot block '{unknown[0]}': no such exit (exits: {', '.join(sorted(known)) or 'none'})")
        base: dict[str, list[Goal]] = {}
        for fid, sp in self.spaces.items():
            base[fid] = []
            for k in sorted(sp.exits):
                if k not in blocked:
                    cells = self._cells_in(sp.grid, sp.exits[k])
                    if cells.size:
                        base[fid].append(Goal(k, cells))
        if not any(base.values()):
            raise NoRouteError(f"every exit is blocked ({', '.join(blocked)}): nobody can leave")
        stairs = [lk for lk in self.links if lk.kind == "stair" and all(f in self.spaces for f, *_ in lk.stops)]
        stop_cells = {(lk.id, f): self._near_point(self.spaces[f].grid, x, y, STOP_RADIUS_M, f"stair '{lk.id}'")
                      for lk in stairs for f, _, x, y in lk.stops}
        fields: dict[str, tuple[NDArray[np.float64], NDArray[np.int32], tuple[str, ...]]] = {}
        seeds_prev: dict[str, tuple[tuple[str, float], ...]] = {}
        for _ in range(len(self.spaces) + 2):
            changed = False
            for fid in self.spaces:
                goals = list(base[fid])
                for lk in stairs:
                    ends = {f: (x, y) for f, _, x, y in lk.stops}
                    if fid not in ends:
                        continue
                    for other, (ox, oy) in ends.items():
                        if other == fid or other not in fields:
                            continue
                        rest = _value_at(self.spaces[other].grid, fields[other][0].astype(np.float32), ox, oy)
                        if math.isfinite(rest):
                            goals.append(Goal(f"stair:{lk.id}:{other}", stop_cells[(lk.id, fid)],
                                              lk.length_m / stair_speed * walk_speed + rest))
                key = tuple((g.label, round(g.value_m, 9)) for g in goals)
                if fid in fields and seeds_prev.get(fid) == key:
                    continue
                seeds_prev[fid] = key
                if goals:
                    d, q = self.compute(fid, goals)
                else:
                    d = np.full(self.spaces[fid].grid.shape, np.inf)
                    q = np.full(d.shape, -1, np.int32)
                fields[fid] = (d, q, tuple(g.label for g in goals))
                changed = True
            if not changed:
                break
        # the asked-for floor last, so a small cache cannot drop it straight away
        for fid in sorted(fields, key=lambda f: f == target.floor_id):
            d, q, labels = fields[fid]
            t = Target("evacuation", fid, target.ref)
            if t not in self._slots:
                self._store(t, d, q, labels)
