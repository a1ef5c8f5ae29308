"""Write a building as an IMDF archive (OGC Community Standard 20-094) for indoor-map viewers.

venue (the largest floor outline), building, one level per floor (ordinal = the floor's level),
one unit per zone (category from the zone kind), one opening per door or open passage (the
passable line; ``door`` is null for open passages, a turnstile for counted gates), fixtures for
walls, shelves, desks and furniture, kiosks, and amenities for restrooms, service desks and the
two ends of every stair. Seats, devices and lifts have no IMDF feature here; the summary counts them.
Coordinates are WGS 84 longitude/latitude around ``origin`` (the scenario's (0, 0)).
Feature ids are UUIDs derived from the branch and item ids, so an export is reproducible.

References
----------
OGC Indoor Mapping Data Format (IMDF) 1.0.0, OGC Community Standard 20-094.
"""

from __future__ import annotations

import json
import uuid
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import shapely
import shapely.ops
from shapely.geometry import Point, mapping
from shapely.geometry.base import BaseGeometry

from ..importers.imdf import KIND_UNIT, to_lonlat
from ..model import Building

FIXTURE_CATEGORY = {"wall": "wall", "column": "obstruction", "desk": "desk", "counter": "desk",
                    "shelf": "furniture", "furniture": "furniture"}
AMENITY_OF_KIND = {"restroom": "restroom", "service_desk": "information"}


@dataclass(frozen=True)
class ImdfExport:
    """What an IMDF export wrote: the archive and its feature counts, and what IMDF cannot hold."""

    path: Path
    features: dict[str, int]
    seats_left_out: int
    devices_left_out: int
    lifts_left_out: int


def _lonlat(geom: BaseGeometry, origin: tuple[float, float]) -> dict[str, Any]:
    def proj(xy: Any) -> Any:
        out = xy.copy()
        for i in range(len(xy)):
            out[i] = to_lonlat(float(xy[i, 0]), float(xy[i, 1]), origin)
        return out

    return dict(mapping(shapely.transform(geom, proj)))


def imdf_features(building: Building, *, origin: tuple[float, float] = (0.0, 0.0)) -> dict[str, list[dict[str, Any]]]:
    """The building as IMDF feature lists, by feature type."""
    ns = uuid.uuid5(uuid.NAMESPACE_URL, f"urn:smartlib:{building.branch_id}")

    def fid(kind: str, ident: str) -> str:
        return str(uuid.uuid5(ns, f"{kind}:{ident}"))

    def feature(kind: str, ident: str, geom: BaseGeometry | None, props: dict[str, Any]) -> dict[str, Any]:
        return {"id": fid(kind, ident), "type": "Feature", "feature_type": kind,
                "geometry": _lonlat(geom, origin) if geom is not None else None, "properties": props}

    def point(geom: BaseGeometry) -> dict[str, Any]:
        return _lonlat(geom.representative_point() if geom.geom_type != "Point" else geom, origin)

    outline = max((f.outline for f in building.floors), key=lambda p: p.area)
    bid = fid("building", building.branch_id)
    out: dict[str, list[dict[str, Any]]] = {k: [] for k in ("venue", "building", "level", "unit", "opening",
                                                            "fixture", "kiosk", "amenity")}
    out["venue"].append(feature("venue", building.branch_id, outline, {
        "category": "communitycenter", "restriction": None, "name": {"en": building.name}, "alt_name": None,
        "hours": None, "phone": None, "website": None, "display_point": _lonlat(Point(0.0, 0.0), origin),
        "address_id": None}))
    out["building"].append({"id": bid, "type": "Feature", "feature_type": "building", "geometry": None,
                            "properties": {"name": {"en": building.name}, "alt_name": None,
                                           "category": "unspecified", "restriction": None,
                                           "display_point": point(outline), "address_id": None}})
    unit_of: dict[str, str] = {}
    for f in building.floors:
        lid = fid("level", f.id)
        out["level"].append(feature("level", f.id, f.outline, {
            "category": "unspecified", "restriction": None, "outdoor": False, "ordinal": f.level,
            "name": {"en": f.name or f.id}, "short_name": {"en": f.id}, "display_point": point(f.outline),
            "address_id": None, "building_ids": [bid]}))
        for z in f.zones:
            unit_of[z.id] = fid("unit", z.id)
            out["unit"].append(feature("unit", z.id, z.polygon, {
                "category": KIND_UNIT.get(z.kind, "room"), "restriction": None, "accessibility": None,
                "name": {"en": z.name or z.id}, "alt_name": {"en": z.id}, "level_id": lid,
                "display_point": point(z.polygon)}))
            if z.kind in AMENITY_OF_KIND:
                out["amenity"].append(feature("amenity", f"zone:{z.id}", z.polygon.representative_point(), {
                    "category": AMENITY_OF_KIND[z.kind], "accessibility": None, "name": {"en": z.name or z.id},
                    "alt_name": None, "hours": None, "phone": None, "website": None, "unit_ids": [unit_of[z.id]],
                    "address_id": None, "correlation_id": None}))
        for o in f.openings:
            door = None if o.kind == "open" else {"type": "turnstile.waistheight" if o.gate else "swinging",
                                                  "automatic": False, "material": None}
            geom = o.segment
            if o.kind != "open" and o.segment.length > o.width_m + 1e-6:  # the door gap: width_m at its centre
                d = o.segment.length / 2
                geom = shapely.ops.substring(o.segment, max(0.0, d - o.width_m / 2),
                                             min(o.segment.length, d + o.width_m / 2))
            out["opening"].append(feature("opening", o.id, geom, {
                "category": "emergencyexit" if o.kind == "emergency_exit" else "pedestrian",
                "accessibility": None, "access_control": None, "door": door, "name": {"en": o.id},
                "alt_name": None, "display_point": point(geom), "level_id": lid}))
        for ob in f.obstacles:
            if ob.kind == "kiosk":
                out["kiosk"].append(feature("kiosk", ob.id, ob.polygon, {
                    "name": {"en": ob.id}, "alt_name": None, "anchor_id": None, "level_id": lid}))
            else:
                out["fixture"].append(feature("fixture", ob.id, ob.polygon, {
                    "category": FIXTURE_CATEGORY.get(ob.kind, "furniture"), "name": {"en": ob.id},
                    "alt_name": None, "anchor_id": None, "level_id": lid, "display_point": point(ob.polygon)}))
    for link in building.links:
        if link.kind != "stair":
            continue
        for floor_id, zone_id, x, y in link.stops:
            out["amenity"].append(feature("amenity", f"{link.id}:{floor_id}", Point(x, y), {
                "category": "stairs", "accessibility": None, "name": {"en": link.id}, "alt_name": None,
                "hours": None, "phone": None, "website": None, "unit_ids": [unit_of[zone_id]],
                "address_id": None, "correlation_id": None}))
    return out


def write_imdf(building: Building, out: str | Path, *, origin: tuple[float, float] = (0.0, 0.0)) -> ImdfExport:
    """Write the IMDF archive: a ``.zip`` when ``out`` ends in .zip, else a folder of GeoJSON files."""
    out = Path(out)
    feats = imdf_features(building, origin=origin)
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    files: dict[str, dict[str, Any]] = {"manifest.json": {"version": "1.0.0", "created": created, "language": "en",
                                                          "generated_by": {"name": "smartlib-twin"}}}
    for kind, items in feats.items():
        files[f"{kind}.geojson"] = {"type": "FeatureCollection", "name": kind, "features": items}
    texts = {name: json.dumps(doc, indent=1, ensure_ascii=False) for name, doc in files.items()}
    if out.suffix.lower() == ".zip":
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            for name, text in texts.items():
                z.writestr(name, text)
    else:
        out.mkdir(parents=True, exist_ok=True)
        for name, text in texts.items():
            (out / name).write_text(text, encoding="utf-8")
    return ImdfExport(out, {k: len(v) for k, v in feats.items()}, building.seat_count, len(building.devices),
                      sum(1 for link in building.links if link.kind == "lift"))
