"""Read a BIM model (IFC2X3, IFC4) into a scenario with ifcopenshell (the optional extra ``ifc``).

IfcBuildingStorey -> floors, IfcSpace -> zones (footprint of the space's body), IfcDoor -> doors
(centre of the opening they fill, ``OverallWidth``), IfcWall -> wall obstacles (the wall's
bottom faces, so door openings stay open), IfcStair -> stairs from the storey it stands on to the
storey its top reaches, IfcFurnishingElement -> obstacles, or seats where the name or type says
chair, seat, stool or bench (a sofa stays an obstacle); IfcWindow -> the ``window`` attribute of seats near it.
Lengths are converted to metres with the file's own length unit. Geometry comes in world
coordinates from ``ifcopenshell.geom``; see :mod:`geometry.importers.assemble` for the cleaning.
"""

from __future__ import annotations

import math
import multiprocessing
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from ..grid import DEFAULT_CELL_M
from ..scenario import Scenario, SeatAttr
from .assemble import RawBuilding, RawDoor, RawFloor, RawObstacle, RawSeat, RawSpace, RawStair, assemble
from .kinds import slug
from .report import BuildingImportError, ImportReport, Note

Progress = Callable[[str, float], None]  # (stage, fraction done)
SEAT_WORDS = ("chair", "seat", "stool", "bench", "stuhl", "sessel", "hocker", "armchair")
LOUNGE_WORDS = ("sessel", "armchair", "lounge")
HUNG_M = 1.0  # furniture whose bottom is higher above its floor hangs on a wall
DESK_WORDS = ("desk", "table", "tisch", "counter", "workstation")
_MESH = tuple[NDArray[np.float64], NDArray[np.int64]]


def _need_ifcopenshell() -> Any:
    try:
        import ifcopenshell
        import ifcopenshell.geom
        import ifcopenshell.util.element
        import ifcopenshell.util.unit
    except ImportError:
        raise BuildingImportError("ifcopenshell", "IFC import needs ifcopenshell: install smartlib-twin[ifc] "
                                                  "(pip install 'smartlib-twin[ifc]')") from None
    return ifcopenshell


def _open(path: Path) -> Any:
    ifcopenshell = _need_ifcopenshell()
    if not path.is_file():
        raise BuildingImportError(str(path), "no such file")
    head = path.open("rb").read(64)
    if not head.lstrip().upper().startswith(b"ISO-10303-21"):
        raise BuildingImportError(str(path), "not an IFC file in STEP format (it should start with "
                                             "'ISO-10303-21;'; IFC-XML and ifcZIP are not read)")
    with path.open("rb") as fh:
        fh.seek(max(0, path.stat().st_size - 512))
        tail = fh.read()
    if b"END-ISO-10303-21" not in tail.upper():
        raise BuildingImportError(str(path), "is truncated: an IFC file ends with 'END-ISO-10303-21;', this one "
                                             "stops before it")
    try:
        model = ifcopenshell.open(str(path))
    except Exception as exc:  # ifcopenshell raises several types for a broken file
        raise BuildingImportError(str(path), f"cannot be read as IFC ({type(exc).__name__}: {exc}); is it "
                                             "truncated or damaged?") from None
    return model


def _storey_of(el: Any) -> Any:
    """The IfcBuildingStorey an element is contained in or (for spaces) aggregated under."""
    import ifcopenshell.util.element as ue

    seen = 0
    while el is not None and seen < 10:
        if el.is_a("IfcBuildingStorey"):
            return el
        parent = ue.get_container(el) or ue.get_aggregate(el)
        if parent is None and el.is_a("IfcElement"):
            fills = getattr(el, "FillsVoids", None)
            if fills:
                parent = fills[0].RelatingOpeningElement
            elif getattr(el, "VoidsElements", None):
                parent = el.VoidsElements[0].RelatingBuildingElement
        el = parent
        seen += 1
    return None


def _meshes(model: Any, elements: list[Any], progress: Progress | None) -> dict[int, _MESH]:
    """World-coordinate triangle meshes (in metres) of the elements that have a body."""
    import ifcopenshell.geom

    todo = [e for e in elements if getattr(e, "Representation", None) is not None]
    out: dict[int, _MESH] = {}
    if not todo:
        return out
    settings = ifcopenshell.geom.settings()
    settings.set("use-world-coords", True)
    it = ifcopenshell.geom.iterator(settings, model, max(1, multiprocessing.cpu_count()), include=todo)
    if not it.initialize():
        return out
    while True:
        shape = it.get()
        g = shape.geometry
        verts = np.asarray(g.verts, dtype=np.float64).reshape(-1, 3)
        faces = np.asarray(g.faces, dtype=np.int64).reshape(-1, 3)
        if len(faces):
            out[int(shape.id)] = (verts, faces)
        if progress is not None:
            progress("reading geometry", len(out) / len(todo))
        if not it.next():
            break
    return out


def _mapped_meshes(elements: list[Any], scale: float) -> tuple[dict[int, _MESH], list[Any]]:
    """Meshes of elements whose body is one mapped item (furniture types): each type meshed once.

    Returns the meshes and the elements left for the general iterator.
    """
    import ifcopenshell.geom
    import ifcopenshell.util.placement as up

    settings = ifcopenshell.geom.settings()
    local: dict[int, _MESH | None] = {}
    out: dict[int, _MESH] = {}
    rest = []
    for el in elements:
        rep = el.Representation
        bodies = [r for r in (rep.Representations if rep is not None else ())
                  if r.RepresentationIdentifier == "Body"]
        items: Any = bodies[0].Items if len(bodies) == 1 else ()
        if len(items) != 1 or not items[0].is_a("IfcMappedItem") or el.ObjectPlacement is None \
                or not items[0].MappingTarget.is_a("IfcCartesianTransformationOperator3D"):
            rest.append(el)
            continue
        item = items[0]
        key = item.MappingSource.id()
        if key not in local:
            try:
                tri: Any = ifcopenshell.geom.create_shape(settings, item.MappingSource.MappedRepresentation)
                local[key] = (np.asarray(tri.verts, dtype=np.float64).reshape(-1, 3),
                              np.asarray(tri.faces, dtype=np.int64).reshape(-1, 3))
            except Exception:  # a representation the mesher cannot do alone: mesh the element instead
                local[key] = None
        mesh = local[key]
        if mesh is None or not len(mesh[1]):
            rest.append(el)
            continue
        m = np.asarray(up.get_local_placement(el.ObjectPlacement), dtype=np.float64).copy()
        m[:3, 3] *= scale
        t = np.asarray(up.get_mappeditem_transformation(item), dtype=np.float64).copy()
        t[:3, 3] *= scale
        full = m @ t
        verts = mesh[0] @ full[:3, :3].T + full[:3, 3]
        out[el.id()] = (verts, mesh[1])
    return out, rest


def _footprint(mesh: _MESH, *, bottom_only: bool = False) -> BaseGeometry:
    """Union of the mesh's triangles seen from above (only its bottom faces when ``bottom_only``)."""
    verts, faces = mesh
    tri = verts[faces]
    if bottom_only:
        n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        zmin = verts[:, 2].min()
        keep = (n[:, 2] < -1e-9) & (tri[:, :, 2].max(axis=1) < zmin + 0.05)
        tri = tri[keep]
    xy = tri[:, :, :2]
    area = 0.5 * np.abs((xy[:, 1, 0] - xy[:, 0, 0]) * (xy[:, 2, 1] - xy[:, 0, 1])
                        - (xy[:, 2, 0] - xy[:, 0, 0]) * (xy[:, 1, 1] - xy[:, 0, 1]))
    xy = xy[area > 1e-8]
    if not len(xy):
        return Polygon()
    polys = shapely.polygons(np.concatenate([xy, xy[:, :1]], axis=1))
    return shapely.union_all(polys, grid_size=1e-5)


def _short(el: Any, prefix: str) -> str:
    """A short id base for an element: Revit-style 'Family:Type:123456' names give 'door-123456'."""
    name = str(el.Name or "")
    if ":" in name or not name:
        tail = name.rsplit(":", 1)[-1].strip() or str(el.id())
        return f"{prefix}-{tail}"
    return name


def _text(*values: Any) -> str:
    return " ".join(str(v) for v in values if v)


def _label(el: Any) -> str:
    name = el.Name or el.GlobalId
    long = getattr(el, "LongName", None)
    return f"{el.is_a()} {name}" + (f" '{long}'" if long else "")


def read_ifc(path: str | Path, *, progress: Progress | None = None) -> RawBuilding:
    """Read storeys, spaces, doors, walls, stairs, furniture and windows of an IFC file [m].

    Raises
    ------
    BuildingImportError
        For a file that is not IFC, truncated, inconsistent, or without storeys or spaces.
    """
    path = Path(path)
    try:
        return _read(path, progress)
    except (AttributeError, IndexError, TypeError, RuntimeError) as exc:
        raise BuildingImportError(str(path), f"its contents are incomplete or inconsistent ({type(exc).__name__}: "
                                             f"{exc}); is it damaged?") from None


def _read(path: Path, progress: Progress | None) -> RawBuilding:
    model = _open(path)
    import ifcopenshell.util.element as ue
    import ifcopenshell.util.unit as uu

    storeys = list(model.by_type("IfcBuildingStorey"))
    spaces = list(model.by_type("IfcSpace"))
    if not storeys:
        raise BuildingImportError(str(path), "has no IfcBuildingStorey: an importable model needs storeys "
                                             "holding its spaces")
    if not spaces:
        raise BuildingImportError(str(path), f"has {len(storeys)} storey(s) but no IfcSpace: export the model "
                                             "with its rooms/spaces")
    scale = float(uu.calculate_unit_scale(model))
    doors = list(model.by_type("IfcDoor"))
    walls = list(model.by_type("IfcWall"))  # includes IfcWallStandardCase
    stairs = list(model.by_type("IfcStair"))
    furniture = list(model.by_type("IfcFurnishingElement"))
    windows = list(model.by_type("IfcWindow"))
    found = {"IfcBuildingStorey": len(storeys), "IfcSpace": len(spaces), "IfcDoor": len(doors),
             "IfcWall": len(walls), "IfcStair": len(stairs), "IfcFurnishingElement": len(furniture),
             "IfcWindow": len(windows)}
    notes: list[Note] = []

    # the geometry of each door is the opening it fills (the hole in the wall), else the door itself
    door_body = {}
    for d in doors:
        fills = getattr(d, "FillsVoids", None)
        door_body[d.id()] = fills[0].RelatingOpeningElement if fills else d
    stair_parts = {}
    for s in stairs:
        parts = [p for p in ue.get_decomposition(s) if p.is_a("IfcStairFlight") or p.is_a("IfcSlab")]
        stair_parts[s.id()] = ([s] if s.Representation is not None else []) + parts
    window_body = {}
    for w in windows:
        fills = getattr(w, "FillsVoids", None)
        window_body[w.id()] = fills[0].RelatingOpeningElement if fills else w
    elements = spaces + list(door_body.values()) + walls + furniture + list(window_body.values())
    elements += [p for ps in stair_parts.values() for p in ps]
    mapped, _ = _mapped_meshes([f for f in furniture if f.Representation is not None], scale)
    elements = [e for e in elements if e.id() not in mapped]
    meshes = _meshes(model, list({e.id(): e for e in elements}.values()), progress)
    meshes.update(mapped)

    elev: dict[int, float] = {}
    for st in storeys:
        z = st.Elevation
        if z is None:
            plc = st.ObjectPlacement
            z = plc.RelativePlacement.Location.Coordinates[2] if plc is not None else 0.0
            notes.append(Note("guessed", _label(st), "no Elevation: taken from its placement"))
        elev[st.id()] = float(z) * scale
    order = sorted(storeys, key=lambda s: elev[s.id()])
    level_of = {s.id(): i - next((k for k, x in enumerate(order) if elev[x.id()] >= -0.01), 0)
                for i, s in enumerate(order)}

    per: dict[int, dict[str, list[Any]]] = {s.id(): {"spaces": [], "doors": [], "obstacles": [], "seats": [],
                                                     "windows": []} for s in storeys}

    def storey_or_note(el: Any) -> int | None:
        st = _storey_of(el)
        if st is None or st.id() not in per:
            notes.append(Note("dropped", _label(el), "is not placed on any storey"))
            return None
        return int(st.id())

    for sp in spaces:
        sid = storey_or_note(sp)
        if sid is None:
            continue
        mesh = meshes.get(sp.id())
        if mesh is None:
            notes.append(Note("dropped", _label(sp), "has no geometry (no body representation)"))
            continue
        fp = _footprint(mesh)
        usage = _text(getattr(sp, "ObjectType", None), getattr(sp, "Description", None))
        per[sid]["spaces"].append(RawSpace(_label(sp), fp, sp.Name, getattr(sp, "LongName", None), usage))
    for d in doors:
        sid = storey_or_note(d)
        if sid is None:
            continue
        mesh = meshes.get(door_body[d.id()].id()) or meshes.get(d.id())
        if mesh is None:
            notes.append(Note("dropped", _label(d), "has no geometry to place it"))
            continue
        fp = _footprint(mesh)
        c = fp.envelope.centroid if not fp.is_empty else None
        width = d.OverallWidth * scale if getattr(d, "OverallWidth", None) else None
        if c is None or c.is_empty:
            notes.append(Note("dropped", _label(d), "its geometry has no footprint"))
            continue
        if width is None:
            minx, miny, maxx, maxy = fp.bounds
            width = max(maxx - minx, maxy - miny)
            notes.append(Note("guessed", _label(d), f"no OverallWidth: {width:.2f} m from its geometry"))
        per[sid]["doors"].append(RawDoor(_label(d), (c.x, c.y), float(width), name=_short(d, "door")))
    def by_height(el: Any, sid: int | None) -> int | None:
        """Walls and furniture belong to the storey they stand on, whichever one contains them."""
        if sid is None or el.id() not in meshes:
            return sid
        zmin = float(meshes[el.id()][0][:, 2].min())
        below = [x for x in order if elev[x.id()] <= zmin + 0.6]
        return int(below[-1].id()) if below else sid

    for w in walls:
        sid = by_height(w, storey_or_note(w))
        if sid is None or w.id() not in meshes:
            if sid is not None:
                notes.append(Note("dropped", _label(w), "has no geometry"))
            continue
        fp = _footprint(meshes[w.id()], bottom_only=True)
        per[sid]["obstacles"].append(RawObstacle(_label(w), "wall", fp, name=_short(w, "wall")))
    for f in furniture:
        sid = by_height(f, storey_or_note(f))
        if sid is None or f.id() not in meshes:
            if sid is not None:
                notes.append(Note("dropped", _label(f), "has no geometry"))
            continue
        t = ue.get_type(f)
        words = _text(f.Name, f.ObjectType, t.Name if t is not None else None).lower()
        verts = meshes[f.id()][0]
        hull = shapely.MultiPoint(verts[:, :2]).convex_hull
        if any(re.search(rf"(^|[^a-z]){w}", words) for w in SEAT_WORDS):
            c = hull.centroid
            attrs = (SeatAttr.lounge,) if any(w in words for w in LOUNGE_WORDS) else ()
            per[sid]["seats"].append(RawSeat(_label(f), (c.x, c.y), attrs, name=_short(f, "seat")))
            continue
        lift = float(verts[:, 2].min()) - elev[sid]
        if lift > HUNG_M:
            notes.append(Note("dropped", _label(f), f"hangs {lift:.1f} m above the floor: no obstacle to walking"))
            continue
        kind = "desk" if any(w in words for w in DESK_WORDS) else "furniture"
        height = float(verts[:, 2].max() - verts[:, 2].min())
        per[sid]["obstacles"].append(RawObstacle(_label(f), kind, hull, height if height > 0 else None,
                                                 name=_short(f, kind)))
    for w in windows:
        sid = _storey_of(w)
        body = window_body[w.id()].id()
        if sid is None or body not in meshes:
            continue
        c = shapely.MultiPoint(meshes[body][0][:, :2]).centroid
        per[sid.id()]["windows"].append((c.x, c.y))

    raw_stairs = []
    for s in stairs:
        st = _storey_of(s)
        flights = [meshes[p.id()] for p in stair_parts[s.id()] if p.id() in meshes]
        if st is None or not flights:
            notes.append(Note("dropped", _label(s), "has no geometry" if st is not None else "is on no storey"))
            continue
        verts = np.vstack([m[0] for m in flights])
        z0, z1 = float(verts[:, 2].min()), float(verts[:, 2].max())
        lo = verts[verts[:, 2] <= z0 + 0.3][:, :2].mean(axis=0)
        hi = verts[verts[:, 2] >= z1 - 0.3][:, :2].mean(axis=0)
        upper = [x for x in order if elev[x.id()] > elev[st.id()] + 1.0]
        if not upper:
            notes.append(Note("dropped", _label(s), "no storey above the one it stands on"))
            continue
        top = min(upper, key=lambda x: abs(elev[x.id()] - z1))
        rise = elev[top.id()] - elev[st.id()]
        run = float(np.hypot(*(hi - lo)))
        fp = shapely.MultiPoint(verts[:, :2]).convex_hull
        rect = fp.minimum_rotated_rectangle
        edges = np.diff(np.asarray(rect.exterior.coords), axis=0) if rect.geom_type == "Polygon" else np.ones((2, 2))
        width = float(min(np.hypot(edges[:, 0], edges[:, 1]))) if len(edges) else 1.0
        raw_stairs.append(RawStair(_label(s), _short(s, "stair"), str(st.id()), str(top.id()),
                                   (float(lo[0]), float(lo[1])), (float(hi[0]), float(hi[1])),
                                   math.hypot(rise, max(run, rise)), min(width, 2.0)))

    floors = []
    for st in order:
        p = per[st.id()]
        floors.append(RawFloor(key=str(st.id()), name=st.Name or st.LongName or f"storey {st.id()}",
                               elevation_m=elev[st.id()], level=level_of[st.id()], spaces=tuple(p["spaces"]),
                               doors=tuple(p["doors"]), obstacles=tuple(p["obstacles"]), seats=tuple(p["seats"]),
                               windows=tuple(p["windows"])))
    buildings = model.by_type("IfcBuilding")
    projects = model.by_type("IfcProject")
    name = next((x for x in [*(b.Name for b in buildings), *(b.LongName for b in buildings),
                             *(pr.LongName for pr in projects), *(pr.Name for pr in projects)] if x), path.stem)
    return RawBuilding(source=str(path), format=f"IFC ({model.schema})", branch_id=slug(path.stem, "imported"),
                       name=str(name), floors=tuple(floors), stairs=tuple(raw_stairs), found=found,
                       notes=tuple(notes), unit_scale_m=scale)


def import_ifc(path: str | Path, *, branch_id: str | None = None, name: str | None = None,
               cell_m: float = DEFAULT_CELL_M, progress: Progress | None = None) -> tuple[Scenario, ImportReport]:
    """Import an IFC file as a scenario (in memory) and a report of what was made of it.

    Parameters
    ----------
    path
        The ``.ifc`` file (STEP physical file, IFC2X3 or IFC4).
    branch_id, name
        Branch id and name of the scenario; default from the file name and the IfcBuilding.
    cell_m
        Cell size of the walkable grid used to check that every zone can be reached [m].

    Raises
    ------
    BuildingImportError
        For a file that is not IFC, truncated, without storeys or spaces, or without a door outside.
    """
    raw = read_ifc(path, progress=progress)
    if branch_id:
        raw = _renamed(raw, branch_id=branch_id)
    if name:
        raw = _renamed(raw, name=name)
    if progress is not None:
        progress("cleaning and checking", 0.0)
    return assemble(raw, cell_m=cell_m)


def _renamed(raw: RawBuilding, **kw: str) -> RawBuilding:
    from dataclasses import replace

    return replace(raw, **kw)  # type: ignore[arg-type]
