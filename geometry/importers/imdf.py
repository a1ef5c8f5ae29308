"""Read an IMDF archive (Indoor Mapping Data Format, OGC Community Standard 20-094) into a scenario.

An archive is a folder or a ``.zip`` of GeoJSON feature collections (``venue.geojson``,
``level.geojson``, ``unit.geojson`` ...) and a ``manifest.json``. Levels become floors (IMDF has
ordinals, not heights: elevations are ``ordinal x 4 m``, noted as guessed), units become zones
(the unit category gives the zone kind), openings become doors (an opening without a ``door`` is
an open passage; a turnstile door is a counted gate), fixtures and kiosks become obstacles, and
``stairs`` amenities of the same name on two levels become a stair. Longitude/latitude (WGS 84)
are projected to a local metric frame around the venue's display point (equirectangular, exact
enough across a building: the scale error over 1 km is below 1e-7).

References
----------
OGC Indoor Mapping Data Format (IMDF) 1.0.0, OGC Community Standard 20-094.
"""

from __future__ import annotations

import json
import math
import zipfile
from collections import defaultdict
from itertools import pairwise
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import shape

from ..grid import DEFAULT_CELL_M
from ..scenario import Scenario, ZoneKind
from .assemble import RawBuilding, RawDoor, RawFloor, RawObstacle, RawSpace, RawStair, assemble
from .kinds import slug
from .report import BuildingImportError, ImportReport, Note

EARTH_RADIUS_M = 6378137.0  # WGS 84 semi-major axis
LEVEL_HEIGHT_M = 4.0
FEATURE_TYPES = ("venue", "building", "level", "unit", "opening", "fixture", "kiosk", "amenity")

# unit category -> zone kind; categories not listed are not walkable rooms (walls, shafts, voids)
UNIT_KIND: dict[str, ZoneKind] = {
    "library": ZoneKind.reading_room, "room": ZoneKind.reading_room, "unspecified": ZoneKind.reading_room,
    "classroom": ZoneKind.group_study, "conferenceroom": ZoneKind.group_study, "huddleroom": ZoneKind.group_study,
    "restroom": ZoneKind.restroom, "restroom.family": ZoneKind.restroom, "restroom.female": ZoneKind.restroom,
    "restroom.male": ZoneKind.restroom, "restroom.unisex": ZoneKind.restroom, "restroom.transgender": ZoneKind.restroom,
    "restroom.wheelchair": ZoneKind.restroom, "shower": ZoneKind.restroom,
    "walkway": ZoneKind.circulation, "stairs": ZoneKind.circulation, "steps": ZoneKind.circulation,
    "elevator": ZoneKind.circulation, "escalator": ZoneKind.circulation, "ramp": ZoneKind.circulation,
    "lobby": ZoneKind.entrance, "foodservice": ZoneKind.cafe, "kitchen": ZoneKind.cafe, "lounge": ZoneKind.cafe,
    "storage": ZoneKind.stacks, "office": ZoneKind.office, "nonpublic": ZoneKind.office,
    "auditorium": ZoneKind.event_space, "theater": ZoneKind.event_space, "movietheater": ZoneKind.event_space,
    "laboratory": ZoneKind.computer_lab, "serverroom": ZoneKind.office, "waitingroom": ZoneKind.service_desk,
    "recreation": ZoneKind.children, "mothersroom": ZoneKind.restroom, "phoneroom": ZoneKind.quiet_study,
    "privatelounge": ZoneKind.quiet_study, "fitnessroom": ZoneKind.event_space, "mailroom": ZoneKind.office,
}
# zone kind -> unit category (export); chosen so that importing gives the same kind back
KIND_UNIT: dict[str, str] = {
    "reading_room": "library", "stacks": "storage", "quiet_study": "phoneroom", "group_study": "conferenceroom",
    "service_desk": "waitingroom", "entrance": "lobby", "cafe": "foodservice", "restroom": "restroom",
    "circulation": "walkway", "children": "recreation", "event_space": "auditorium", "computer_lab": "laboratory",
    "office": "office",
}


def to_local(lon: float, lat: float, origin: tuple[float, float]) -> tuple[float, float]:
    """Longitude/latitude [deg] to metres east/north of ``origin`` (lon, lat) [m]."""
    lon0, lat0 = origin
    return (math.radians(lon - lon0) * EARTH_RADIUS_M * math.cos(math.radians(lat0)),
            math.radians(lat - lat0) * EARTH_RADIUS_M)


def to_lonlat(x: float, y: float, origin: tuple[float, float]) -> tuple[float, float]:
    """Metres east/north of ``origin`` (lon, lat) to longitude/latitude [deg]; inverse of :func:`to_local`."""
    lon0, lat0 = origin
    return (lon0 + math.degrees(x / (EARTH_RADIUS_M * math.cos(math.radians(lat0)))),
            lat0 + math.degrees(y / EARTH_RADIUS_M))


def _label(value: Any) -> str | None:
    """An IMDF LABELS object ({"en": "Reading room"}) as text."""
    if isinstance(value, dict) and value:
        return str(value.get("en") or next(iter(value.values())))
    return str(value) if value else None


def _read_archive(path: Path) -> dict[str, list[dict[str, Any]]]:
    if not path.exists():
        raise BuildingImportError(str(path), "no such file or folder")
    texts: dict[str, str] = {}
    if path.is_dir():
        for f in path.glob("*.*json"):
            texts[f.name] = f.read_text(encoding="utf-8")
    else:
        try:
            with zipfile.ZipFile(path) as z:
                for name in z.namelist():
                    if name.endswith(("json", "geojson")):
                        texts[Path(name).name] = z.read(name).decode("utf-8")
        except zipfile.BadZipFile:
            raise BuildingImportError(str(path), "is neither a folder nor a zip archive of IMDF GeoJSON files"
                                      ) from None
    if "manifest.json" not in texts:
        raise BuildingImportError(str(path), "is not an IMDF archive: it has no manifest.json")
    out: dict[str, list[dict[str, Any]]] = {}
    for ftype in FEATURE_TYPES:
        name = f"{ftype}.geojson"
        if name not in texts:
            continue
        try:
            doc = json.loads(texts[name])
        except json.JSONDecodeError as exc:
            raise BuildingImportError(f"{path}/{name}", f"is not valid JSON (line {exc.lineno}: {exc.msg})") from None
        feats = doc.get("features") if isinstance(doc, dict) else None
        if not isinstance(feats, list):
            raise BuildingImportError(f"{path}/{name}", "is not a GeoJSON FeatureCollection (no 'features' list)")
        for i, f in enumerate(feats):
            if not isinstance(f, dict) or "id" not in f or not isinstance(f.get("properties"), dict):
                raise BuildingImportError(f"{path}/{name}", f"feature {i} has no 'id' or no 'properties'")
        out[ftype] = feats
    for required in ("level", "unit"):
        if not out.get(required):
            raise BuildingImportError(str(path), f"has no {required} features ({required}.geojson missing or empty)")
    return out


def _geom(f: dict[str, Any], origin: tuple[float, float], where: str) -> Any:
    g = f.get("geometry")
    if not g:
        return None
    try:
        geom = shape(g)
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise BuildingImportError(where, f"feature {f['id']} has a broken geometry ({exc})") from None
    return shapely.transform(geom, lambda xy: _project(xy, origin))


def _project(xy: Any, origin: tuple[float, float]) -> Any:
    import numpy as np

    lon0, lat0 = origin
    out = np.empty_like(xy)
    out[:, 0] = np.radians(xy[:, 0] - lon0) * EARTH_RADIUS_M * math.cos(math.radians(lat0))
    out[:, 1] = np.radians(xy[:, 1] - lat0) * EARTH_RADIUS_M
    return out


def read_imdf(path: str | Path) -> RawBuilding:
    """Read the venue, levels, units, openings, fixtures, kiosks and amenities of an IMDF archive [m]."""
    path = Path(path)
    fc = _read_archive(path)
    notes: list[Note] = []
    venue = fc["venue"][0] if fc.get("venue") else None
    if venue is not None and (venue["properties"].get("display_point") or {}).get("coordinates"):
        lon, lat = venue["properties"]["display_point"]["coordinates"][:2]
        origin = (float(lon), float(lat))
    else:
        lon, lat = shapely.get_coordinates(shape(fc["level"][0]["geometry"]))[0]
        origin = (float(lon), float(lat))
    levels = sorted(fc["level"], key=lambda f: (f["properties"].get("ordinal", 0), f["id"]))
    where = {ft: f"{path}/{ft}.geojson" for ft in FEATURE_TYPES}
    per: dict[str, dict[str, list[Any]]] = {lv["id"]: defaultdict(list) for lv in levels}
    unit_level: dict[str, str] = {}

    def level_of(f: dict[str, Any], ft: str) -> str | None:
        lid = f["properties"].get("level_id")
        if lid not in per:
            notes.append(Note("dropped", f"{ft} {f['id']}", f"names level '{lid}', which the archive does not hold"))
            return None
        return str(lid)

    for u in fc["unit"]:
        lid = level_of(u, "unit")
        if lid is None:
            continue
        p = u["properties"]
        cat = str(p.get("category") or "unspecified")
        name, alt = _label(p.get("name")), _label(p.get("alt_name"))
        label = f"unit {alt or name or u['id']} ({cat})"
        if cat not in UNIT_KIND:
            notes.append(Note("dropped", label, f"category '{cat}' is not a walkable room"))
            continue
        geom = _geom(u, origin, where["unit"])
        if geom is None or geom.geom_type not in ("Polygon", "MultiPolygon"):
            notes.append(Note("dropped", label, "has no polygon"))
            continue
        per[lid]["spaces"].append(RawSpace(label, geom, alt or name, name, cat, UNIT_KIND[cat]))
        unit_level[u["id"]] = lid
    for o in fc.get("opening", []):
        lid = level_of(o, "opening")
        if lid is None:
            continue
        p = o["properties"]
        geom = _geom(o, origin, where["opening"])
        name = _label(p.get("name"))
        label = f"opening {name or o['id']}"
        if geom is None or geom.geom_type != "LineString" or geom.length < 0.5:
            notes.append(Note("dropped", label, "has no line of at least 0.5 m"))
            continue
        door = p.get("door")
        kind = "open" if not door else ("emergency_exit" if p.get("category") == "emergencyexit" else "door")
        gate = isinstance(door, dict) and str(door.get("type", "")).startswith("turnstile")
        mid = geom.interpolate(0.5, normalized=True)
        per[lid]["doors"].append(RawDoor(label, (mid.x, mid.y), min(geom.length, 20.0), kind, name, gate))
    for ft, default in (("fixture", "furniture"), ("kiosk", "kiosk")):
        for f in fc.get(ft, []):
            lid = level_of(f, ft)
            if lid is None:
                continue
            p = f["properties"]
            geom = _geom(f, origin, where[ft])
            name = _label(p.get("name"))
            label = f"{ft} {name or f['id']}"
            if geom is None or geom.geom_type not in ("Polygon", "MultiPolygon"):
                notes.append(Note("dropped", label, "has no polygon"))
                continue
            cat = str(p.get("category") or "")
            kind = {"desk": "desk", "wall": "wall", "obstruction": "column"}.get(cat, default)
            per[lid]["obstacles"].append(RawObstacle(label, kind, geom, None, name))
    stairs: dict[str, list[tuple[int, str, tuple[float, float]]]] = defaultdict(list)
    other: dict[str, int] = defaultdict(int)
    ordinal = {lv["id"]: int(lv["properties"].get("ordinal", 0)) for lv in levels}
    for a in fc.get("amenity", []):
        p = a["properties"]
        cat = str(p.get("category") or "")
        units = [u for u in p.get("unit_ids") or [] if u in unit_level]
        geom = _geom(a, origin, where["amenity"])
        if cat == "stairs" and units and geom is not None and geom.geom_type == "Point":
            lid = unit_level[units[0]]
            stairs[_label(p.get("name")) or a["id"]].append((ordinal[lid], lid, (geom.x, geom.y)))
        else:
            other[cat or "uncategorised"] += 1
    if other:
        listed = ", ".join(f"{n} {c}" for c, n in sorted(other.items()))
        notes.append(Note("dropped", f"{sum(other.values())} amenities", f"points of interest, not part of the "
                                                                         f"walkable model ({listed})"))
    raw_stairs = []
    for name, ends in stairs.items():
        ends.sort()
        for (o1, l1, p1), (o2, l2, p2) in pairwise(ends):
            rise = (o2 - o1) * LEVEL_HEIGHT_M
            raw_stairs.append(RawStair(f"stairs '{name}' (levels {o1} to {o2})", name, l1, l2, p1, p2,
                                       max(math.hypot(rise, 1.5 * rise), 1.0)))
        if len(ends) < 2:
            notes.append(Note("dropped", f"stairs '{name}'", "found on one level only"))
    floors = []
    for lv in levels:
        lp = lv["properties"]
        lo = ordinal[lv["id"]]
        name = _label(lp.get("name")) or _label(lp.get("short_name")) or f"level {lo}"
        got = per[lv["id"]]
        floors.append(RawFloor(key=lv["id"], name=_label(lp.get("short_name")) or name,
                               elevation_m=lo * LEVEL_HEIGHT_M, level=lo, height_m=LEVEL_HEIGHT_M,
                               spaces=tuple(got["spaces"]), doors=tuple(got["doors"]),
                               obstacles=tuple(got["obstacles"])))
    if len(levels) > 1:
        notes.append(Note("guessed", "floor elevations", f"IMDF gives ordinals only: ordinal x {LEVEL_HEIGHT_M:g} m"))
    vname = _label(venue["properties"].get("name")) if venue else None
    found = {ft: len(fc.get(ft, [])) for ft in FEATURE_TYPES}
    return RawBuilding(source=str(path), format="IMDF", branch_id=slug(vname or path.stem, "imported").lower(),
                       name=vname or path.stem, floors=tuple(floors), stairs=tuple(raw_stairs), found=found,
                       notes=tuple(notes), touching_is_open=False, upper_exits=True)


def import_imdf(path: str | Path, *, branch_id: str | None = None, cell_m: float = DEFAULT_CELL_M
                ) -> tuple[Scenario, ImportReport]:
    """Import an IMDF archive (folder or zip) as a scenario and a report.

    Raises
    ------
    BuildingImportError
        For an archive without manifest, levels or units, broken JSON or geometry, or no door outside.
    """
    from dataclasses import replace

    raw = read_imdf(path)
    if branch_id:
        raw = replace(raw, branch_id=branch_id)
    return assemble(raw, cell_m=cell_m)
