"""From spaces, doors and stairs read out of a building file to a scenario that builds and is walkable.

Real building models are drawn for architects, not for walking: spaces stop at the inner face of
walls (so neighbours share no boundary), overlap a little, come as slivers, and doors sit in the
wall between them. :func:`assemble` turns such a reading (:class:`RawBuilding`, metres in one
frame) into a :class:`~geometry.scenario.Scenario`:

1. spaces are cleaned (made valid, slivers narrower than 0.3 m or smaller than 0.5 m2 left out,
   overlaps cut from the larger space, holes split off);
2. the gaps left by walls are closed (a morphological closing of the floor's spaces) and shared
   among the neighbouring spaces by nearest boundary (a Voronoi partition of points sampled on
   the space boundaries), so neighbours meet on the wall's centre line;
3. each door is snapped onto the straight shared boundary of the two zones it lies between (or
   of its zone and the floor outline: a door to outside); spaces that touch without a wall become
   an open passage;
4. walls, furniture, seats and stairs are placed on the zones, and the result is built with
   :func:`geometry.build.build_building`: whatever still fails the checks (an item the checks
   reject, a zone nobody can reach from an exit) is left out.

Every such change is a :class:`~geometry.importers.report.Note` in the returned report.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import LineString, MultiPoint, Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points, split

from ..errors import ScenarioError
from ..grid import DEFAULT_CELL_M
from ..model import OUTSIDE
from ..scenario import (
    BranchSpec,
    BuildingSpec,
    FloorSpec,
    ObstacleSpec,
    OpeningSpec,
    Scenario,
    SeatAttr,
    SeatSpec,
    StairEnd,
    StairSpec,
    ZoneKind,
    ZoneSpec,
)
from .kinds import IdMaker, guess_zone_kind
from .report import BuildingImportError, ImportReport, Note, ZoneReport

MIN_SPACE_AREA_M2 = 0.5
MIN_SPACE_WIDTH_M = 0.3
WALL_GAPS_M = (0.6, 1.0, 1.5, 2.0)  # widest wall gap closed between spaces, tried in turn
SAMPLE_M = 0.1  # spacing of boundary samples for the Voronoi partition
DOOR_SNAP_M = 0.6  # a door's centre may lie this far from the zone boundary it opens
TOUCH_M = 0.05  # spaces closer than this have no wall between them
MIN_OPEN_M = 0.8  # shortest touching boundary that becomes an open passage
STAIR_SNAP_M = 3.0
WINDOW_SEAT_M = 1.5  # a seat this close to a window gets the window attribute
GROUND_M = 1.0  # storeys up to this far above the lowest one with spaces may have exits
DIGITS = 4  # coordinates rounded to 0.1 mm


@dataclass(frozen=True)
class RawSpace:
    source: str  # e.g. "IfcSpace A101 'Foyer'"
    polygon: BaseGeometry
    name: str | None = None
    long_name: str | None = None
    usage: str | None = None
    kind: ZoneKind | None = None  # a kind the source states (IMDF category); else guessed from the names


@dataclass(frozen=True)
class RawDoor:
    source: str
    center: tuple[float, float]
    width_m: float
    kind: str = "door"  # "emergency_exit", or "open" (a doorless passage: the whole shared boundary)
    name: str | None = None
    gate: bool = False


@dataclass(frozen=True)
class RawObstacle:
    source: str
    kind: str  # an ObstacleSpec kind
    polygon: BaseGeometry
    height_m: float | None = None
    name: str | None = None


@dataclass(frozen=True)
class RawSeat:
    source: str
    at: tuple[float, float]
    attrs: tuple[SeatAttr, ...] = ()
    name: str | None = None


@dataclass(frozen=True)
class RawFloor:
    key: str
    name: str | None
    elevation_m: float
    level: int
    height_m: float | None = None
    spaces: tuple[RawSpace, ...] = ()
    doors: tuple[RawDoor, ...] = ()
    obstacles: tuple[RawObstacle, ...] = ()
    seats: tuple[RawSeat, ...] = ()
    windows: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class RawStair:
    source: str
    name: str
    low_floor: str  # RawFloor.key
    high_floor: str
    low_at: tuple[float, float]
    high_at: tuple[float, float]
    length_m: float
    width_m: float = 1.2


@dataclass(frozen=True)
class RawBuilding:
    source: str
    format: str
    branch_id: str
    name: str
    floors: tuple[RawFloor, ...]
    stairs: tuple[RawStair, ...] = ()
    found: dict[str, int] = field(default_factory=dict)
    notes: tuple[Note, ...] = ()
    unit_scale_m: float = 1.0
    shift_to_origin: bool = True
    touching_is_open: bool = True  # spaces that touch open into each other (BIM); False where walls are implied
    upper_exits: bool = False  # doors to outside above the ground storeys are exits (else balconies: dropped)


# --------------------------------------------------------------------------- small geometry helpers

def _polygons(geom: BaseGeometry) -> list[Polygon]:
    """The polygonal parts of any geometry."""
    if geom.is_empty:
        return []
    if isinstance(geom, Polygon):
        return [geom]
    return [g for part in getattr(geom, "geoms", []) for g in _polygons(part)]


def _largest(geom: BaseGeometry) -> tuple[Polygon | None, float]:
    """The largest polygon of ``geom`` and the area of the rest."""
    parts = sorted(_polygons(geom), key=lambda p: p.area, reverse=True)
    if not parts:
        return None, 0.0
    return parts[0], float(sum(p.area for p in parts[1:]))


def _ring(poly: Polygon) -> list[tuple[float, float]]:
    poly = shapely.geometry.polygon.orient(poly, 1.0)
    pts = [(round(x, DIGITS), round(y, DIGITS)) for x, y in poly.exterior.coords[:-1]]
    out: list[tuple[float, float]] = []
    for p in pts:
        if not out or p != out[-1]:
            out.append(p)
    if len(out) > 1 and out[0] == out[-1]:
        out.pop()
    return out


def _pt(p: tuple[float, float] | Point) -> tuple[float, float]:
    if isinstance(p, Point):
        return (round(p.x, DIGITS), round(p.y, DIGITS))
    return (round(p[0], DIGITS), round(p[1], DIGITS))


def _straight_pieces(line: BaseGeometry) -> list[LineString]:
    """A boundary as straight pieces: consecutive collinear segments merged."""
    pieces: list[LineString] = []
    lines = [g for g in getattr(line, "geoms", [line]) if isinstance(g, LineString) and not g.is_empty]
    merged = shapely.line_merge(shapely.MultiLineString(lines)) if len(lines) > 1 else (lines[0] if lines else None)
    if merged is None:
        return pieces
    for ls in getattr(merged, "geoms", [merged]):
        coords = list(ls.coords)
        start = coords[0]
        for i in range(1, len(coords) - 1):
            a, b, c = np.array(start), np.array(coords[i]), np.array(coords[i + 1])
            u, v = b - a, c - b
            cross = abs(u[0] * v[1] - u[1] * v[0])
            if cross > 1e-6 * max(float(np.linalg.norm(u) * np.linalg.norm(v)), 1e-12) or np.dot(u, v) < 0:
                pieces.append(LineString([start, coords[i]]))
                start = coords[i]
        pieces.append(LineString([start, coords[-1]]))
    return [p for p in pieces if p.length > 1e-6]


def _remove_holes(poly: Polygon, name: str, notes: list[Note]) -> list[Polygon]:
    """Fill holes under 0.5 m2; split a polygon with bigger holes so each piece is a simple ring."""
    small = [h for h in poly.interiors if Polygon(h).area < MIN_SPACE_AREA_M2]
    if small:
        poly = Polygon(poly.exterior, [h for h in poly.interiors if Polygon(h).area >= MIN_SPACE_AREA_M2])
        notes.append(Note("repaired", name, f"{len(small)} hole(s) under {MIN_SPACE_AREA_M2} m2 filled"))
    if not poly.interiors:
        return [poly]
    hole = Polygon(poly.interiors[0])
    c = hole.representative_point()
    _, miny, _, maxy = poly.bounds
    cut = LineString([(c.x, miny - 1), (c.x, maxy + 1)])
    parts = _polygons(split(poly, cut))
    if len(parts) < 2:
        return [Polygon(poly.exterior)]
    notes.append(Note("repaired", name, f"has {len(poly.interiors)} hole(s): split along x = {c.x:.2f} m into "
                                        f"{len(parts)} zones joined by open passages"))
    out: list[Polygon] = []
    for p in parts:
        out.extend(_remove_holes(p, name, []))
    return out


# --------------------------------------------------------------------------- per floor

@dataclass
class _Zone:
    id: str
    space: RawSpace
    source_poly: Polygon  # the cleaned source footprint
    poly: Polygon  # grown to the wall centre lines
    kind: ZoneKind
    kind_from: str | None
    piece_of: str | None = None  # zone id this one was split from (holes)


def _clean_spaces(fl: RawFloor, ids: IdMaker, notes: list[Note]) -> list[_Zone]:
    zones: list[_Zone] = []
    for sp in fl.spaces:
        poly, rest = _largest(shapely.make_valid(sp.polygon))
        if poly is None or poly.area < MIN_SPACE_AREA_M2:
            area = 0.0 if poly is None else poly.area
            notes.append(Note("dropped", sp.source, f"footprint of {area:.2f} m2 is under {MIN_SPACE_AREA_M2} m2"))
            continue
        if rest > 0.01:
            notes.append(Note("dropped", sp.source, f"{rest:.2f} m2 in parts apart from its main footprint left out"))
        poly = poly.simplify(0.005)
        if poly.buffer(-MIN_SPACE_WIDTH_M / 2).is_empty:
            notes.append(Note("dropped", sp.source, f"a sliver narrower than {MIN_SPACE_WIDTH_M} m "
                                                    f"({poly.area:.2f} m2)"))
            continue
        if sp.kind is not None:
            kind, kind_from = sp.kind, None
        else:
            kind, kind_from = guess_zone_kind(sp.long_name, sp.name, sp.usage)
        numeric = sp.name is not None and sp.name.strip().isdigit() and sp.long_name
        zid = ids.make(f"{sp.long_name}-{sp.name}" if numeric else (sp.name or sp.long_name), "space")
        pieces = _remove_holes(poly, sp.source, notes)
        for k, piece in enumerate(pieces):
            pid = zid if k == 0 else ids.make(f"{zid}-{k + 1}", "space")
            zones.append(_Zone(pid, sp, piece, piece, kind, kind_from, None if k == 0 else zid))
    # overlaps: cut from the larger space (the smaller one is usually the more specific room)
    zones.sort(key=lambda z: z.source_poly.area)
    kept: list[_Zone] = []
    for z in zones:
        poly = z.source_poly
        for other in kept:
            ov = poly.intersection(other.source_poly).area
            if ov > 0.01:
                poly, rest = _largest(poly.difference(other.source_poly))
                notes.append(Note("repaired", z.space.source, f"overlapped {other.space.source} by {ov:.2f} m2: "
                                                              "the overlap stays with the smaller space"))
                if poly is None:
                    break
        if poly is None or poly.area < MIN_SPACE_AREA_M2 or poly.buffer(-MIN_SPACE_WIDTH_M / 2).is_empty:
            notes.append(Note("dropped", z.space.source, "almost all of it lies inside other spaces"))
            continue
        z.source_poly = z.poly = poly
        kept.append(z)
    return kept


def _grow(zones: list[_Zone], fl: RawFloor, notes: list[Note]) -> Polygon:
    """Close the wall gaps between the zones and share them out; returns the floor outline."""
    union = shapely.union_all([z.source_poly for z in zones])
    region: BaseGeometry = union
    for gap in WALL_GAPS_M:
        closed = union.buffer(gap / 2, join_style="mitre").buffer(-gap / 2, join_style="mitre").union(union)
        region = closed
        if len(_polygons(closed)) == 1:
            break
    main, rest = _largest(region)
    assert main is not None
    if rest > 0.01:
        out = [z for z in zones if not z.source_poly.intersects(main)]
        for z in out:
            notes.append(Note("dropped", z.space.source, f"lies apart from the rest of storey '{fl.name or fl.key}' "
                                                         f"(more than {WALL_GAPS_M[-1]} m away)"))
            zones.remove(z)
    region = Polygon(main.exterior)
    if len(zones) > 1:
        pts, labels = [], []
        for i, z in enumerate(zones):
            ring = shapely.segmentize(z.source_poly.exterior, SAMPLE_M)
            xy = shapely.get_coordinates(ring)[:-1]
            pts.append(xy)
            labels.append(np.full(len(xy), i))
        xy = np.vstack(pts)
        lab = np.concatenate(labels)
        xy, first = np.unique(np.round(xy, 3), axis=0, return_index=True)
        lab = lab[first]
        cells = shapely.voronoi_polygons(MultiPoint(xy), extend_to=region.buffer(1.0), ordered=True)
        cell_arr = shapely.make_valid(np.array(list(cells.geoms), dtype=object))
        # only the gaps between spaces are shared out: each space keeps its own footprint
        gap = region.difference(union, grid_size=1e-4)
        grown = []
        for i, z in enumerate(zones):
            share = shapely.union_all(cell_arr[lab == i], grid_size=1e-4).intersection(gap, grid_size=1e-4)
            grown.append(shapely.union_all([z.source_poly, share], grid_size=1e-4))
        simple = _straighten(grown)
        for z, g in zip(zones, simple, strict=True):
            part, rest = _largest(shapely.make_valid(g))
            if part is None:
                continue
            if rest > 0.01:
                notes.append(Note("repaired", z.space.source, f"{rest:.2f} m2 of wall gap left unzoned "
                                                              "(a separate piece)"))
            z.poly = Polygon(part.exterior)
    else:
        zones[0].poly = region
    outline = shapely.union_all([z.poly for z in zones])
    main, _ = _largest(outline.buffer(1e-6, join_style="mitre").buffer(-1e-6, join_style="mitre"))
    assert main is not None
    return Polygon(main.exterior)


def _straighten(polys: list[BaseGeometry]) -> list[BaseGeometry]:
    """Make the zones an exact coverage (edges noded once, shared by both sides), then simplify it.

    The Voronoi boundaries zigzag by a centimetre or so; coverage simplification (Visvalingam-Whyatt
    on shared edges) straightens them without opening gaps or overlaps between neighbours.
    """
    lines = shapely.union_all([p.boundary for p in polys], grid_size=1e-4)
    faces = list(shapely.polygonize(list(getattr(lines, "geoms", [lines]))).geoms)
    owner: list[list[BaseGeometry]] = [[] for _ in polys]
    for face in faces:
        pt = face.representative_point()
        hits = [i for i, p in enumerate(polys) if p.covers(pt)]
        if hits:
            owner[hits[0]].append(face)
    exact = np.array([shapely.coverage_union_all(fs) if fs else Polygon() for fs in owner], dtype=object)
    if not bool(shapely.coverage_is_valid(exact)):
        return polys
    simple = shapely.coverage_simplify(exact, 0.15)
    return list(simple) if bool(shapely.coverage_is_valid(simple)) else list(exact)


def _shared(a: Polygon, b: BaseGeometry) -> BaseGeometry:
    return a.exterior.intersection(b.buffer(1e-3, cap_style="flat", join_style="mitre"))


def _place_on(pieces: list[LineString], center: tuple[float, float], width_m: float
              ) -> tuple[tuple[float, float], float, float] | None:
    """The point on the nearest straight piece where a door of ``width_m`` fits: (at, width, moved)."""
    if not pieces:
        return None
    c = Point(center)
    piece = min(pieces, key=lambda p: p.distance(c))
    length = piece.length
    margin = 0.03
    width = min(width_m, length - 2 * margin)
    if width <= 0.55:
        return None
    t = min(max(piece.project(c), width / 2 + margin), length - width / 2 - margin)
    at = piece.interpolate(t)
    return (at.x, at.y), width, at.distance(c)


def _floor(fl: RawFloor, fid: str, height_m: float, ids: IdMaker, notes: list[Note],
           zrep: list[ZoneReport], *, ground: bool, touching_is_open: bool) -> FloorSpec | None:
    zones = _clean_spaces(fl, ids, notes)
    if not zones:
        return None
    outline = _grow(zones, fl, notes)
    zone_specs = [ZoneSpec(id=z.id, kind=z.kind, polygon=_ring(z.poly),
                           name=z.space.long_name or z.space.name) for z in zones]
    for z in zones:
        zrep.append(ZoneReport(z.id, fid, z.space.source, z.space.long_name or z.space.name, z.kind.value,
                               z.kind_from, float(z.source_poly.area), float(z.poly.area)))

    openings: list[OpeningSpec] = []
    joined: set[frozenset[str]] = set()
    for d in fl.doors:
        c = Point(d.center)
        near = sorted(((z.poly.distance(c), z) for z in zones), key=lambda t: t[0])
        near = [(dist, z) for dist, z in near if dist <= DOOR_SNAP_M]
        to_outline = outline.exterior.distance(c)
        if not near:
            notes.append(Note("dropped", d.source, f"no space within {DOOR_SNAP_M} m of the door"))
            continue
        za = near[0][1]
        if d.kind == "open":
            if len(near) < 2 or _shared(za.poly, near[1][1].poly.exterior).length < 0.5:
                notes.append(Note("dropped", d.source, "an open passage that does not lie between two zones"))
                continue
            zb = near[1][1]
            if frozenset((za.id, zb.id)) not in joined:
                openings.append(OpeningSpec(id=ids.make(d.name, "open"), kind="open", zones=(za.id, zb.id)))
                joined.add(frozenset((za.id, zb.id)))
            continue
        if len(near) > 1 and near[1][0] < to_outline:
            zb = near[1][1]
            line = _shared(za.poly, zb.poly.exterior)
            other, other_id = f"space {zb.id}", zb.id
        elif to_outline <= DOOR_SNAP_M and not ground:
            notes.append(Note("dropped", d.source, f"leads outside from upper storey '{fl.name or fl.key}' "
                                                   "(a balcony or terrace?): not an exit"))
            continue
        elif to_outline <= DOOR_SNAP_M:
            line = _shared(za.poly, outline.exterior)
            other, other_id = "outside", OUTSIDE
        else:
            notes.append(Note("dropped", d.source, f"opens only into zone '{za.id}' (no second space or outside "
                                                   f"within {DOOR_SNAP_M} m)"))
            continue
        placed = _place_on(_straight_pieces(line), d.center, d.width_m)
        if placed is None:
            notes.append(Note("dropped", d.source, f"zone '{za.id}' and {other} share no straight boundary "
                                                   "wide enough for a door"))
            continue
        at, width, moved = placed
        if moved > 0.05 or width < d.width_m - 1e-6:
            notes.append(Note("repaired", d.source, f"moved {moved:.2f} m onto the boundary of '{za.id}' and "
                                                    f"{other}" + (f", narrowed from {d.width_m:.2f} to {width:.2f} m"
                                                                  if width < d.width_m - 1e-6 else "")))
        kind = d.kind if other_id == OUTSIDE else "door"
        openings.append(OpeningSpec(id=ids.make(d.name, "door"), kind=kind, zones=(za.id, other_id), at=_pt(at),
                                    width_m=round(width, 3), gate=d.gate))
        joined.add(frozenset((za.id, other_id)))

    # spaces that touch with no wall between them, and the pieces of a split space, open into each other
    for i, a in enumerate(zones):
        for b in zones[i + 1:]:
            if frozenset((a.id, b.id)) in joined:
                continue
            split = a.piece_of == b.id or b.piece_of == a.id or (a.piece_of is not None and a.piece_of == b.piece_of)
            touching = touching_is_open and a.source_poly.distance(b.source_poly) < TOUCH_M
            if not (split or touching):
                continue
            shared = a.source_poly.buffer(TOUCH_M).intersection(b.source_poly.exterior).length if touching else 0
            grown_shared = _shared(a.poly, b.poly.exterior).length
            if (split or shared >= MIN_OPEN_M) and grown_shared >= MIN_OPEN_M:
                openings.append(OpeningSpec(id=ids.make(f"open-{a.id}-{b.id}", "open"), kind="open",
                                            zones=(a.id, b.id)))
                joined.add(frozenset((a.id, b.id)))
                if not split:
                    notes.append(Note("guessed", f"spaces {a.id} and {b.id}", f"touch along {shared:.1f} m with no "
                                                                              "wall between: an open passage"))

    obstacles: list[ObstacleSpec] = []
    doors_at = [Point(o.at).buffer((o.width_m or 1.0) / 2 + 0.1) for o in openings if o.at is not None]
    door_zone = shapely.union_all(doors_at) if doors_at else Polygon()
    clipped = cleared = 0
    for ob in fl.obstacles:
        geom = shapely.make_valid(ob.polygon)
        inside = geom.intersection(outline)
        if inside.area < geom.area - 0.01:
            clipped += 1
        if ob.kind == "wall":
            inside = inside.difference(door_zone)
        elif inside.intersects(door_zone):
            notes.append(Note("dropped", ob.source, "stands in a doorway"))
            cleared += 1
            continue
        parts = [p for p in _polygons(inside) if p.area >= 0.01]
        for k, p in enumerate(parts):
            base = ob.name or ob.kind
            obstacles.append(ObstacleSpec(id=ids.make(base if len(parts) == 1 else f"{base}-{k + 1}", ob.kind),
                                          kind=ob.kind, polygon=_ring(p),
                                          height_m=round(ob.height_m, 3) if ob.height_m else None))
    if clipped:
        notes.append(Note("repaired", f"{clipped} obstacle(s) on '{fid}'", "the parts outside the floor outline "
                                                                           "(exterior walls) cut off"))

    seats: list[SeatSpec] = []
    windows = [Point(w) for w in fl.windows]
    for s in fl.seats:
        p = Point(s.at)
        zone = next((z for z in zones if z.poly.covers(p)), None)
        if zone is None:
            notes.append(Note("dropped", s.source, "not inside any zone"))
            continue
        attrs = set(s.attrs)
        if any(w.distance(p) <= WINDOW_SEAT_M for w in windows):
            attrs.add(SeatAttr.window)
        seats.append(SeatSpec(id=ids.make(s.name, "seat"), zone=zone.id, at=_pt(p), attrs=sorted(attrs)))

    return FloorSpec(id=fid, name=fl.name, level=fl.level, elevation_m=round(fl.elevation_m, 3),
                     height_m=round(height_m, 3), outline=_ring(outline), zones=zone_specs, obstacles=obstacles,
                     openings=openings, seats=seats)


def _stair_end(floor: FloorSpec, at: tuple[float, float]) -> tuple[StairEnd, float] | None:
    p = Point(at)
    best: tuple[float, str, Point] | None = None
    for z in floor.zones:
        poly = Polygon(z.polygon)
        if poly.covers(p):
            return StairEnd(floor=floor.id, zone=z.id, at=_pt(p)), 0.0
        inner = poly.buffer(-0.3)
        target = inner if not inner.is_empty else poly
        q = nearest_points(target, p)[0]
        d = q.distance(p)
        if d <= STAIR_SNAP_M and (best is None or d < best[0]):
            best = (d, z.id, q)
    if best is None:
        return None
    return StairEnd(floor=floor.id, zone=best[1], at=_pt(best[2])), best[0]


def _heights(raw: RawBuilding) -> dict[str, float]:
    order = sorted(raw.floors, key=lambda f: f.elevation_m)
    out = {}
    for i, f in enumerate(order):
        h = f.height_m
        if h is None and i + 1 < len(order):
            h = order[i + 1].elevation_m - f.elevation_m
        out[f.key] = min(max(h or 3.0, 2.2), 20.0)
    return out


# --------------------------------------------------------------------------- the building

def _translate(raw: RawBuilding) -> tuple[RawBuilding, tuple[float, float]]:
    geoms = [s.polygon for f in raw.floors for s in f.spaces]
    if not raw.shift_to_origin or not geoms:
        return raw, (0.0, 0.0)
    minx, miny, _, _ = shapely.union_all(geoms).bounds
    ox, oy = math.floor(minx), math.floor(miny)
    if ox == 0 and oy == 0:
        return raw, (0.0, 0.0)

    def mv(p: tuple[float, float]) -> tuple[float, float]:
        return (p[0] - ox, p[1] - oy)

    def g(geom: BaseGeometry) -> BaseGeometry:
        return affinity.translate(geom, -ox, -oy)

    floors = tuple(replace(
        f, spaces=tuple(replace(s, polygon=g(s.polygon)) for s in f.spaces),
        doors=tuple(replace(d, center=mv(d.center)) for d in f.doors),
        obstacles=tuple(replace(o, polygon=g(o.polygon)) for o in f.obstacles),
        seats=tuple(replace(s, at=mv(s.at)) for s in f.seats),
        windows=tuple(mv(w) for w in f.windows)) for f in raw.floors)
    stairs = tuple(replace(s, low_at=mv(s.low_at), high_at=mv(s.high_at)) for s in raw.stairs)
    return replace(raw, floors=floors, stairs=stairs), (float(ox), float(oy))


def assemble(raw: RawBuilding, *, cell_m: float = DEFAULT_CELL_M) -> tuple[Scenario, ImportReport]:
    """Turn a building reading into a scenario that builds, renders and is walkable from its exits.

    Raises
    ------
    BuildingImportError
        When nothing usable remains: no spaces, or no door to outside.
    """
    raw, origin = _translate(raw)
    notes: list[Note] = list(raw.notes)
    ids = IdMaker()
    heights = _heights(raw)
    zrep: list[ZoneReport] = []
    floors: list[FloorSpec] = []
    fid_of: dict[str, str] = {}
    ground_m = min((f.elevation_m for f in raw.floors if f.spaces), default=0.0)
    for fl in sorted(raw.floors, key=lambda f: f.elevation_m):
        fid = ids.make(fl.name, f"floor-{fl.level}")
        spec = _floor(fl, fid, heights[fl.key], ids, notes, zrep, touching_is_open=raw.touching_is_open,
                      ground=raw.upper_exits or fl.elevation_m <= ground_m + GROUND_M)
        if spec is None:
            notes.append(Note("dropped", f"storey '{fl.name or fl.key}'", "has no usable spaces"))
            continue
        floors.append(spec)
        fid_of[fl.key] = fid
    if not floors:
        why = "; ".join(f"{n.what}: {n.why}" for n in notes if n.action == "dropped")
        raise BuildingImportError(raw.source, "no storey has a usable space (a footprint of at least "
                                              f"{MIN_SPACE_AREA_M2} m2), so there is nothing to import"
                                              + (f" ({why})" if why else ""))
    by_id = {f.id: f for f in floors}
    stairs: list[StairSpec] = []
    for st in raw.stairs:
        lo, hi = fid_of.get(st.low_floor), fid_of.get(st.high_floor)
        if lo is None or hi is None or lo == hi:
            notes.append(Note("dropped", st.source, "does not link two imported storeys"))
            continue
        a, b = _stair_end(by_id[lo], st.low_at), _stair_end(by_id[hi], st.high_at)
        if a is None or b is None:
            notes.append(Note("dropped", st.source, f"an end lies more than {STAIR_SNAP_M} m from every zone"))
            continue
        for (end, moved), fid in ((a, lo), (b, hi)):
            if moved > 0.05:
                notes.append(Note("repaired", st.source, f"end on '{fid}' moved {moved:.2f} m into zone '{end.zone}'"))
        stairs.append(StairSpec(id=ids.make(st.name, "stair"), ends=(a[0], b[0]),
                                length_m=round(max(st.length_m, 0.5), 3), width_m=round(min(max(st.width_m, 0.6),
                                                                                            10.0), 3)))
    branch = BranchSpec(id=raw.branch_id, name=raw.name)
    scen = Scenario(branch=branch, building=BuildingSpec(floors=floors, stairs=stairs))
    scen = _settle(scen, raw.source, notes, cell_m)
    kept = {z.id for f in scen.building.floors for z in f.zones}
    zones = tuple(z for z in zrep if z.id in kept)
    made = {
        "floors": len(scen.building.floors),
        "zones": len(zones),
        "doors": sum(1 for f in scen.building.floors for o in f.openings if o.kind != "open"),
        "open_passages": sum(1 for f in scen.building.floors for o in f.openings if o.kind == "open"),
        "exits": sum(1 for f in scen.building.floors for o in f.openings if OUTSIDE in o.zones),
        "stairs": len(scen.building.stairs),
        "obstacles": sum(len(f.obstacles) for f in scen.building.floors),
        "seats": sum(len(f.seats) for f in scen.building.floors),
    }
    areas = {s.source: float(shapely.make_valid(s.polygon).area) for f in raw.floors for s in f.spaces}
    return scen, ImportReport(source=raw.source, format=raw.format, found=dict(raw.found), made=made, zones=zones,
                              notes=tuple(notes), space_areas_m2=areas, origin_m=origin,
                              unit_scale_m=raw.unit_scale_m)


# --------------------------------------------------------------------------- settle: build, drop what fails

def _without(scen: Scenario, *, zones: frozenset[str] | set[str] = frozenset(),
             items: frozenset[tuple[int, str, int]] | set[tuple[int, str, int]] = frozenset(),
             seats: frozenset[str] | set[str] = frozenset()) -> Scenario:
    floors = []
    for fi, f in enumerate(scen.building.floors):
        zs = [z for z in f.zones if z.id not in zones]
        if not zs:
            continue

        def keep(kind: str, seq: Iterable[object], fi: int = fi) -> list[object]:
            return [x for i, x in enumerate(seq) if (fi, kind, i) not in items]

        ops = [o for o in keep("openings", f.openings) if not (set(o.zones) & zones)]  # type: ignore[attr-defined]
        st = [s for s in keep("seats", f.seats) if s.zone not in zones and s.id not in seats]  # type: ignore[attr-defined]
        floors.append(f.model_copy(update={"zones": zs, "openings": ops, "seats": st,
                                           "obstacles": keep("obstacles", f.obstacles)}))
    kept = {f.id for f in floors}
    stairs = [s for s in scen.building.stairs
              if all(e.floor in kept and e.zone not in zones for e in s.ends)]
    return scen.model_copy(update={"building": scen.building.model_copy(update={"floors": floors,
                                                                                "stairs": stairs})})


def _settle(scen: Scenario, source: str, notes: list[Note], cell_m: float) -> Scenario:
    """Build the scenario; leave out what the checks reject and what cannot be reached, until it builds."""
    from ..build import build_building, floor_grids, reachable_cells
    from ..scenario import ScenarioSource, apply_variant

    for _ in range(10):
        if not any(OUTSIDE in o.zones for f in scen.building.floors for o in f.openings):
            raise BuildingImportError(source, "no door to outside was found on any storey, so nobody could enter "
                                              "or leave the building")
        try:
            building = build_building(apply_variant(ScenarioSource.from_spec(scen, file=source)), check_reach=False)
        except ScenarioError as exc:
            items: set[tuple[int, str, int]] = set()
            bad_zones: set[str] = set()
            for p in exc.problems:
                loc = p.loc
                if len(loc) >= 5 and loc[:2] == ("building", "floors") and loc[3] in ("openings", "seats",
                                                                                     "obstacles"):
                    fi, kind, i = int(loc[2]), str(loc[3]), int(loc[4])
                    items.add((fi, kind, i))
                    item = getattr(scen.building.floors[fi], kind)[i]
                    notes.append(Note("dropped", f"{kind[:-1]} '{item.id}'", p.message))
                elif len(loc) >= 5 and loc[3] == "zones":
                    z = scen.building.floors[int(loc[2])].zones[int(loc[4])]
                    bad_zones.add(z.id)
                    notes.append(Note("dropped", f"zone '{z.id}'", p.message))
                else:
                    raise BuildingImportError(source, f"the imported building does not check out: {p.message}"
                                              ) from None
            scen = _without(scen, zones=bad_zones, items=items)
            continue
        grids = floor_grids(building, cell_m)
        reach = reachable_cells(building, grids)
        lost: set[str] = set()
        lost_seats: set[str] = set()
        for f in building.floors:
            g, r = grids[f.id], reach[f.id]
            gx, gy = g.centers()
            for zone in f.zones:
                if not (shapely.contains_xy(zone.polygon, gx, gy) & r).any():
                    lost.add(zone.id)
                    has_door = any(zone.id in o.zones for o in f.openings)
                    why = ("has a door, but no way from it leads to an exit" if has_door else
                           "has no door (nor a stair or open side) through which to reach it from an exit")
                    notes.append(Note("dropped", f"zone '{zone.id}'", why))
            for s in f.seats:
                c = g.nearest_walkable(s.x, s.y, 0.5)
                if (c is None or not r[c]) and s.zone_id not in lost:
                    lost_seats.add(s.id)
                    notes.append(Note("dropped", f"seat '{s.id}'", "cannot be reached from an exit"))
        if not lost and not lost_seats:
            return scen
        scen = _without(scen, zones=lost, seats=lost_seats)
    raise BuildingImportError(source, "the imported building still fails its checks after leaving out what "
                                      "could not be placed")
