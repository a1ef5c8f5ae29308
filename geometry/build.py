"""From a resolved scenario to a checked :class:`~geometry.model.Building`.

``build_building`` expands seat blocks and shelf ranges of a
:class:`~geometry.scenario.ResolvedScenario` and checks the geometry (zones inside floors and not
overlapping, seats clear of obstacles and of each other, openings on zone boundaries, everything
reachable from an entrance). Reading files and applying variants is :mod:`geometry.scenario`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import LineString, Point, Polygon, box
from shapely.ops import linemerge

from .errors import Loc, Problem
from .grid import DEFAULT_CELL_M, WalkableGrid, components, rasterize_floor, reachable, segment_cells
from .model import OUTSIDE, Building, Device, Floor, Link, Obstacle, Opening, Seat, Zone
from .quantities import DEVICE_QUANTITIES, QUANTITIES
from .scenario import FloorSpec, ResolvedScenario, Scenario, SeatBlockSpec, ShelfRangeSpec, StairEnd
from .scenario.source import apply_variant, load_scenario

AREA_TOL_M2 = 0.01
ON_BOUNDARY_TOL_M = 0.05
SEAT_CLEARANCE_M = 0.1
SEAT_OFFSET_M = 0.45  # chair centre from the table edge
SEAT_SAME_SPOT_M = 0.05  # two seats nearer than about this are at the same spot


# --------------------------------------------------------------------------- expansion

def _poly(points: list[tuple[float, float]]) -> Polygon:
    return shapely.geometry.polygon.orient(Polygon(points), 1.0)


def shelf_range_obstacles(spec: ShelfRangeSpec, floor_id: str) -> list[Obstacle]:
    """The individual shelves of a shelf range, subjects spread over them in order."""
    ox, oy = spec.origin
    out = []
    for i in range(spec.count):
        if spec.axis == "x":
            poly = box(ox, oy + i * spec.pitch_m, ox + spec.length_m, oy + i * spec.pitch_m + spec.depth_m)
        else:
            poly = box(ox + i * spec.pitch_m, oy, ox + i * spec.pitch_m + spec.depth_m, oy + spec.length_m)
        subjects: tuple[str, ...] = ()
        if spec.subjects:
            subjects = (spec.subjects[i * len(spec.subjects) // spec.count],)
        out.append(Obstacle(f"{spec.id}-{i + 1}", "shelf", floor_id, poly, spec.height_m, subjects))
    return out


def seat_block_items(spec: SeatBlockSpec, floor_id: str) -> tuple[list[Obstacle], list[Seat]]:
    """Tables (or carrels) as desk obstacles and the seats around them."""
    w, d = spec.table
    px, py = spec.pitch
    attrs = frozenset(a.value for a in spec.attrs)
    ox, oy = spec.origin
    desks: list[Obstacle] = []
    seats: list[Seat] = []

    def seat(sid: str, x: float, y: float) -> None:
        seats.append(Seat(sid, floor_id, spec.zone, x, y, attrs, spec.id))

    if spec.kind == "table_grid":
        n = spec.seats_per_table
        low = n if n == 1 else math.ceil(n / 2)
        for r in range(spec.rows):
            for c in range(spec.cols):
                x0, y0 = ox + c * px, oy + r * py
                tid = f"{spec.id}-r{r + 1}c{c + 1}"
                desks.append(Obstacle(tid, "desk", floor_id, box(x0, y0, x0 + w, y0 + d), 0.75))
                for k in range(low):
                    seat(f"{tid}-{k + 1}", x0 + w * (k + 0.5) / low, y0 - SEAT_OFFSET_M)
                for k in range(n - low):
                    seat(f"{tid}-{low + k + 1}", x0 + w * (k + 0.5) / (n - low), y0 + d + SEAT_OFFSET_M)
    else:
        sign = -1.0 if spec.seat_side == "-" else 1.0
        for k in range(spec.count):
            cid = f"{spec.id}-{k + 1}"
            if spec.axis == "x":
                x0 = ox + k * px
                desks.append(Obstacle(cid, "desk", floor_id, box(x0, oy, x0 + w, oy + d), 1.2))
                y = oy - SEAT_OFFSET_M if sign < 0 else oy + d + SEAT_OFFSET_M
                seat(cid, x0 + w / 2, y)
            else:
                y0 = oy + k * px
                desks.append(Obstacle(cid, "desk", floor_id, box(ox, y0, ox + d, y0 + w), 1.2))
                x = ox - SEAT_OFFSET_M if sign < 0 else ox + d + SEAT_OFFSET_M
                seat(cid, x, y0 + w / 2)
    return desks, seats


# --------------------------------------------------------------------------- building

class _Collector:
    def __init__(self, resolved: ResolvedScenario) -> None:
        self.resolved = resolved
        self.problems: list[Problem] = []

    def add(self, loc: Loc, message: str) -> None:
        self.problems.append(self.resolved.problem(loc, message))


def _boundary_piece(ring: Any, at: tuple[float, float], width_m: float) -> LineString | None:
    piece = ring.intersection(Point(at).buffer(width_m / 2.0, quad_segs=32))
    if piece.is_empty:
        return None
    if piece.geom_type == "MultiLineString":
        piece = linemerge(piece)
    if piece.geom_type != "LineString":
        return None
    (x0, y0), (x1, y1) = piece.coords[0], piece.coords[-1]
    if piece.length - math.hypot(x1 - x0, y1 - y0) > 1e-6:
        return None  # bends round a corner
    return piece


def _build_floor(fl: FloorSpec, fi: int, col: _Collector) -> Floor:
    floc: Loc = ("building", "floors", fi)
    outline = _poly(fl.outline)
    if not outline.is_valid or outline.area <= AREA_TOL_M2:
        col.add(floc + ("outline",), f"floor '{fl.id}' outline is not a simple polygon with area "
                f"({shapely.is_valid_reason(outline)})")
    zones: list[Zone] = []
    for zi, zs in enumerate(fl.zones):
        zloc = floc + ("zones", zi, "polygon")
        poly = _poly(zs.polygon)
        if not poly.is_valid or poly.area <= AREA_TOL_M2:
            col.add(zloc, f"zone '{zs.id}' polygon is not a simple polygon with area "
                    f"({shapely.is_valid_reason(poly)})")
            continue
        if outline.is_valid:
            outside = poly.difference(outline).area
            if outside > AREA_TOL_M2:
                col.add(zloc, f"zone '{zs.id}' lies partly outside floor '{fl.id}' ({outside:.2f} m2 outside)")
        for other in zones:
            overlap = poly.intersection(other.polygon).area
            if overlap > AREA_TOL_M2:
                col.add(zloc, f"zone '{zs.id}' overlaps zone '{other.id}' by {overlap:.2f} m2")
        zones.append(Zone(zs.id, zs.kind.value, fl.id, poly, zs.name))
    zone_by_id = {z.id: z for z in zones}

    obstacles: list[Obstacle] = []
    for oi, os_ in enumerate(fl.obstacles):
        poly = _poly(os_.polygon)
        if not poly.is_valid or poly.area <= 0:
            col.add(floc + ("obstacles", oi, "polygon"), f"obstacle '{os_.id}' polygon is not a simple polygon")
            continue
        height = os_.height_m or {"wall": fl.height_m, "column": fl.height_m, "shelf": 2.1}.get(os_.kind, 1.1)
        obstacles.append(Obstacle(os_.id, os_.kind, fl.id, poly, height, tuple(os_.subjects)))
    for ri, rs in enumerate(fl.shelf_ranges):
        shelves = shelf_range_obstacles(rs, fl.id)
        hull = shapely.union_all([s.polygon for s in shelves])
        if outline.is_valid and hull.difference(outline).area > AREA_TOL_M2:
            col.add(floc + ("shelf_ranges", ri), f"shelf range '{rs.id}' reaches outside floor '{fl.id}'")
        obstacles.extend(shelves)

    seats: list[Seat] = []
    for ss in fl.seats:
        seats.append(Seat(ss.id, fl.id, ss.zone, ss.at[0], ss.at[1], frozenset(a.value for a in ss.attrs)))
    seat_locs: list[Loc] = [floc + ("seats", i) for i in range(len(fl.seats))]
    for bi, bs in enumerate(fl.seat_blocks):
        desks, bseats = seat_block_items(bs, fl.id)
        obstacles.extend(desks)
        seats.extend(bseats)
        seat_locs.extend([floc + ("seat_blocks", bi)] * len(bseats))

    for ob in obstacles:
        if outline.is_valid and ob.polygon.difference(outline).area > AREA_TOL_M2:
            col.add(floc, f"obstacle '{ob.id}' reaches outside floor '{fl.id}'")
    taken: dict[tuple[int, int], str] = {}
    for seat, sloc in zip(seats, seat_locs, strict=True):
        spot = (round(seat.x / SEAT_SAME_SPOT_M), round(seat.y / SEAT_SAME_SPOT_M))
        if spot in taken:
            col.add(sloc, f"seat '{seat.id}' at ({seat.x:.2f}, {seat.y:.2f}) is at the same spot as seat "
                    f"'{taken[spot]}'")
        else:
            taken[spot] = seat.id
    tree = shapely.STRtree([o.polygon for o in obstacles])
    for seat, sloc in zip(seats, seat_locs, strict=True):
        zone = zone_by_id.get(seat.zone_id)
        p = Point(seat.x, seat.y)
        if zone is None:
            col.add(sloc, f"seat '{seat.id}' names zone '{seat.zone_id}', which is not on floor '{fl.id}'")
            continue
        if not zone.polygon.covers(p):
            col.add(sloc, f"seat '{seat.id}' at ({seat.x:.2f}, {seat.y:.2f}) is not inside its zone '{zone.id}'")
        hits = tree.query(p, predicate="dwithin", distance=SEAT_CLEARANCE_M)
        for h in hits:
            ob = obstacles[int(h)]
            if seat.block and (seat.id == ob.id or seat.id.startswith(f"{ob.id}-")):
                continue  # the seat's own table or carrel
            col.add(sloc, f"seat '{seat.id}' at ({seat.x:.2f}, {seat.y:.2f}) is inside or touching "
                    f"{ob.kind} '{ob.id}'")
            break

    openings: list[Opening] = []
    for oi, ops in enumerate(fl.openings):
        oloc = floc + ("openings", oi)
        rings = []
        for zid in ops.zones:
            if zid == OUTSIDE:
                rings.append(outline.exterior)
            elif zid in zone_by_id:
                rings.append(zone_by_id[zid].polygon.exterior)
            else:
                col.add(oloc + ("zones",), f"opening '{ops.id}' names zone '{zid}', which is not on floor '{fl.id}'")
        if len(rings) != 2:
            continue
        if ops.kind == "open":
            shared = rings[0].buffer(ON_BOUNDARY_TOL_M).intersection(rings[1])
            length = shared.length
            if length < 0.5:
                col.add(oloc, f"open passage '{ops.id}': zones '{ops.zones[0]}' and '{ops.zones[1]}' share "
                        f"no boundary (shared length {length:.2f} m)")
                continue
            seg = linemerge(shared) if shared.geom_type == "MultiLineString" else shared
            if seg.geom_type != "LineString":
                seg = LineString(list(shapely.get_coordinates(shared)))
            openings.append(Opening(ops.id, ops.kind, fl.id, ops.zones, seg, float(length), ops.gate))
            continue
        assert ops.at is not None and ops.width_m is not None
        p = Point(ops.at)
        off = [ring.distance(p) for ring in rings]
        if max(off) > ON_BOUNDARY_TOL_M:
            bad = ops.zones[0] if off[0] > ON_BOUNDARY_TOL_M else ops.zones[1]
            what = f"floor '{fl.id}' outline" if bad == OUTSIDE else f"zone '{bad}'"
            col.add(oloc + ("at",), f"opening '{ops.id}' at ({ops.at[0]}, {ops.at[1]}) is not on the boundary "
                    f"of {what} ({max(off):.2f} m away)")
            continue
        seg_or_none = _boundary_piece(rings[0], ops.at, ops.width_m)
        seg_b = _boundary_piece(rings[1], ops.at, ops.width_m)
        if (seg_or_none is None or seg_b is None or seg_or_none.length < 0.95 * ops.width_m
                or seg_b.length < 0.95 * ops.width_m):
            col.add(oloc, f"opening '{ops.id}' ({ops.width_m} m) does not fit on a straight shared boundary "
                    f"at ({ops.at[0]}, {ops.at[1]}): move it away from the corner")
            continue
        assert seg_or_none is not None
        openings.append(Opening(ops.id, ops.kind, fl.id, ops.zones, seg_or_none, ops.width_m, ops.gate))

    return Floor(fl.id, fl.level, fl.elevation_m, fl.height_m, outline, tuple(zones), tuple(obstacles),
                 tuple(openings), tuple(seats), fl.name)


def _unique(col: _Collector, items: list[tuple[str, Loc]], what: str) -> None:
    seen: dict[str, Loc] = {}
    for ident, loc in items:
        if ident in seen:
            col.add(loc, f"{what} id '{ident}' is used twice (first at line {col.resolved.line(seen[ident])})")
        else:
            seen[ident] = loc


def _link_stops(kind: str, link_id: str, ends: Sequence[StairEnd], loc: Loc, field: str,
                floors: dict[str, Floor], col: _Collector) -> tuple[tuple[str, str, float, float], ...] | None:
    """Checked stops of a stair or lift: floors exist, zones exist there, points inside the zones."""
    ok = True
    for ei, end in enumerate(ends):
        eloc = loc + (field, ei)
        fl = floors.get(end.floor)
        if fl is None:
            col.add(eloc, f"{kind} '{link_id}' names floor '{end.floor}', which does not exist")
            ok = False
            continue
        zone = next((z for z in fl.zones if z.id == end.zone), None)
        if zone is None:
            col.add(eloc, f"{kind} '{link_id}' names zone '{end.zone}', which is not on floor '{end.floor}'")
            ok = False
        elif not zone.polygon.covers(Point(end.at)):
            col.add(eloc, f"{kind} '{link_id}' end ({end.at[0]}, {end.at[1]}) is not inside zone '{end.zone}'")
            ok = False
    if len({e.floor for e in ends}) < len(ends):
        col.add(loc, f"{kind} '{link_id}' must link different floors")
        ok = False
    return tuple((e.floor, e.zone, e.at[0], e.at[1]) for e in ends) if ok else None


def build_building(resolved: ResolvedScenario, *, check_reach: bool = True,
                   cell_m: float = DEFAULT_CELL_M) -> Building:
    """Turn a resolved scenario into a Building, collecting every geometry problem.

    Parameters
    ----------
    resolved
        The scenario with its variant applied (:func:`geometry.scenario.apply_variant`, or
        ``apply_variant(ScenarioSource.from_spec(scenario))`` for one made in memory).
    check_reach
        Also check that every zone and seat can be reached from an entrance (rasterises every
        floor; slower).
    cell_m
        Grid cell of the reachability check [m].

    Raises
    ------
    ScenarioError
        Listing all problems found, each with file, line and field.
    """
    sc = resolved.scenario
    variant = resolved.variant
    col = _Collector(resolved)
    floors_spec = sc.building.floors
    _unique(col, [(f.id, ("building", "floors", i, "id")) for i, f in enumerate(floors_spec)], "floor")
    _unique(col, [(z.id, ("building", "floors", i, "zones", j, "id"))
                  for i, f in enumerate(floors_spec) for j, z in enumerate(f.zones)], "zone")
    _unique(col, [(o.id, ("building", "floors", i, "openings", j, "id"))
                  for i, f in enumerate(floors_spec) for j, o in enumerate(f.openings)], "opening")
    _unique(col, [(d.id, ("devices", i, "id")) for i, d in enumerate(sc.devices)], "device")
    link_ids: list[tuple[str, Loc]] = [(st.id, ("building", "stairs", i, "id"))
                                       for i, st in enumerate(sc.building.stairs)]
    link_ids += [(lf.id, ("building", "lifts", i, "id")) for i, lf in enumerate(sc.building.lifts)]
    _unique(col, link_ids, "stair or lift")
    if any(z.id == OUTSIDE for f in floors_spec for z in f.zones):
        col.add(("building", "floors"), f"'{OUTSIDE}' is reserved and cannot be a zone id")

    floors = [_build_floor(f, i, col) for i, f in enumerate(floors_spec)]
    _unique(col, [(s.id, ("building", "floors", i)) for i, f in enumerate(floors) for s in f.seats], "seat")
    _unique(col, [(o.id, ("building", "floors", i)) for i, f in enumerate(floors) for o in f.obstacles],
            "obstacle")
    floor_by_id = {f.id: f for f in floors}

    links: list[Link] = []
    for li, st in enumerate(sc.building.stairs):
        stops = _link_stops("stair", st.id, st.ends, ("building", "stairs", li), "ends", floor_by_id, col)
        if stops:
            links.append(Link(st.id, "stair", stops, length_m=st.length_m, width_m=st.width_m))
    for li, lf in enumerate(sc.building.lifts):
        stops = _link_stops("lift", lf.id, lf.stops, ("building", "lifts", li), "stops", floor_by_id, col)
        if stops:
            links.append(Link(lf.id, "lift", stops, capacity=lf.capacity, speed_m_s=lf.speed_m_s, door_s=lf.door_s))

    devices = _build_devices(sc, floor_by_id, col)
    if not any(o.is_entrance or o.is_exit for f in floors for o in f.openings):
        col.add(("building",), "the building has no door to 'outside': add an opening with zones [<zone>, outside]")
    if col.problems:
        raise resolved.error(col.problems)
    building = Building(sc.branch.id, sc.branch.name, tuple(floors), tuple(links), tuple(devices),
                        sc.building.wall_thickness_m, variant)
    if check_reach:
        problems = check_reachability(building, cell_m=cell_m)
        for loc, msg in problems:
            col.add(loc, msg)
        if col.problems:
            raise resolved.error(col.problems)
    return building


def _build_devices(sc: Scenario, floors: dict[str, Floor], col: _Collector) -> list[Device]:
    out = []
    for di, ds in enumerate(sc.devices):
        dloc: Loc = ("devices", di)
        fl = floors.get(ds.floor)
        if fl is None:
            col.add(dloc + ("floor",), f"device '{ds.id}' names floor '{ds.floor}', which does not exist")
            continue
        allowed = DEVICE_QUANTITIES[ds.type.value]
        for q in ds.quantities:
            if q not in QUANTITIES:
                col.add(dloc + ("quantities",), f"device '{ds.id}': unknown quantity '{q}' "
                        f"(known: {', '.join(sorted(QUANTITIES))})")
            elif q not in allowed:
                col.add(dloc + ("quantities",), f"device '{ds.id}': a {ds.type.value} does not measure '{q}' "
                        f"(it may measure: {', '.join(sorted(allowed))})")
        x = y = math.nan
        zone_id = None
        if ds.at is not None:
            x, y = ds.at
            if not fl.outline.covers(Point(ds.at)):
                col.add(dloc + ("at",), f"device '{ds.id}' at ({x}, {y}) is outside floor '{fl.id}'")
            z = fl.zone_at(x, y)
            zone_id = z.id if z else None
        elif ds.zone is not None:
            try:
                zone = fl.zone(ds.zone)
                c = zone.polygon.representative_point()
                x, y, zone_id = c.x, c.y, zone.id
            except KeyError:
                col.add(dloc + ("zone",), f"device '{ds.id}' names zone '{ds.zone}', which is not on floor '{fl.id}'")
        elif ds.opening is not None:
            op = next((o for o in fl.openings if o.id == ds.opening), None)
            if op is None:
                col.add(dloc + ("opening",), f"device '{ds.id}' names opening '{ds.opening}', which is not on "
                        f"floor '{fl.id}'")
            else:
                x, y = op.center
                zone_id = next((z for z in op.zones if z != OUTSIDE), None)
        elif ds.seat is not None:
            st = next((s for s in fl.seats if s.id == ds.seat), None)
            if st is None:
                col.add(dloc + ("seat",), f"device '{ds.id}' names seat '{ds.seat}', which is not on floor '{fl.id}'")
            else:
                x, y, zone_id = st.x, st.y, st.zone_id
        out.append(Device(ds.id, ds.type.value, fl.id, float(x), float(y), tuple(ds.quantities), ds.period_s,
                          zone_id, ds.opening, ds.seat, ds.circuit, tuple(sorted(ds.noise.items()))))
    return out


def floor_grids(building: Building, cell_m: float = DEFAULT_CELL_M) -> dict[str, WalkableGrid]:
    """The walkable grid of every floor."""
    return {f.id: rasterize_floor(f, cell_m=cell_m, wall_thickness_m=building.wall_thickness_m)
            for f in building.floors}


def reachable_cells(building: Building, grids: dict[str, WalkableGrid]) -> dict[str, Any]:
    """Cells reachable from any door to outside, following stairs and lifts between floors."""
    labels = {fid: components(g)[0] for fid, g in grids.items()}
    seeds: dict[str, list[tuple[int, int]]] = {fid: [] for fid in grids}
    for f in building.floors:
        g = grids[f.id]
        for o in f.openings:
            if o.to_outside:
                seeds[f.id].extend(segment_cells(g, o.segment, 0.5 + g.cell_m))
    reach = {fid: reachable(grids[fid], seeds[fid], labels[fid]) for fid in grids}
    changed = True
    while changed:
        changed = False
        for link in building.links:
            cells = []
            for fid, _, x, y in link.stops:
                c = grids[fid].nearest_walkable(x, y, 1.0)
                cells.append((fid, c))
            if any(c is not None and reach[fid][c] for fid, c in cells):
                for fid, c in cells:
                    if c is not None and not reach[fid][c]:
                        reach[fid] |= reachable(grids[fid], [c], labels[fid])
                        changed = True
    return reach


def check_reachability(building: Building, cell_m: float = DEFAULT_CELL_M) -> list[tuple[Loc, str]]:
    """Problems for seats and zones that no one can reach from an entrance."""
    grids = floor_grids(building, cell_m)
    reach = reachable_cells(building, grids)
    problems: list[tuple[Loc, str]] = []
    for fi, f in enumerate(building.floors):
        g, r = grids[f.id], reach[f.id]
        gx, gy = g.centers()
        for zi, z in enumerate(f.zones):
            inside = shapely.contains_xy(z.polygon, gx, gy)
            if not (inside & r).any():
                problems.append((("building", "floors", fi, "zones", zi),
                                 f"zone '{z.id}' cannot be reached from any entrance (no door into it?)"))
        bad = []
        for s in f.seats:
            c = g.nearest_walkable(s.x, s.y, 0.5)
            if c is None or not r[c]:
                bad.append(s.id)
        if bad:
            more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
            problems.append((("building", "floors", fi),
                             f"{len(bad)} seat(s) on floor '{f.id}' cannot be reached from any entrance: "
                             f"{', '.join(bad[:5])}{more}"))
    return problems


def load_building(path: str | Path, variant: str | None = None, *, cell_m: float = DEFAULT_CELL_M,
                  check_reach: bool = True) -> Building:
    """Read, validate and build a scenario file in one call."""
    return build_building(apply_variant(load_scenario(path), variant), check_reach=check_reach, cell_m=cell_m)
