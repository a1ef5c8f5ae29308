"""3D model of a Building as trimesh meshes: floor slabs, walls with door gaps, shelves, desks, seats.

Every mesh is a node named ``{floor}/{part}`` (parts: ``slab``, ``walls``, ``obstacles``, ``seats``)
under a node named after the floor, so a GLB viewer lists floors and a reader can count them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import trimesh
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from .grid import floor_walls
from .model import Building, Floor

SLAB_M = 0.3
SEAT_BOX_M = (0.45, 0.45, 0.45)

# RGBA per part and per zone kind (also used by the renderer's legend).
PART_COLOURS: dict[str, tuple[int, int, int, int]] = {
    "slab": (200, 200, 200, 255),
    "walls": (235, 230, 220, 255),
    "shelf": (150, 100, 60, 255),
    "desk": (190, 160, 120, 255),
    "obstacle": (120, 120, 120, 255),
    "seats": (60, 110, 200, 255),
}
ZONE_COLOURS: dict[str, tuple[int, int, int]] = {
    "reading_room": (141, 211, 199),
    "stacks": (255, 237, 111),
    "quiet_study": (190, 186, 218),
    "group_study": (251, 128, 114),
    "service_desk": (128, 177, 211),
    "entrance": (253, 180, 98),
    "cafe": (179, 222, 105),
    "restroom": (252, 205, 229),
    "circulation": (217, 217, 217),
    "children": (188, 128, 189),
    "event_space": (204, 235, 197),
    "computer_lab": (255, 255, 179),
    "office": (166, 166, 166),
}


_PLURAL = {"shelf": "shelves", "desk": "desks", "obstacle": "obstacles"}


def _polygons(geom: BaseGeometry) -> list[Polygon]:
    if geom.is_empty:
        return []
    if isinstance(geom, Polygon):
        return [geom]
    return [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon) and g.area > 1e-6]


def extrude(geom: BaseGeometry, z0: float, height: float) -> trimesh.Trimesh | None:
    """Extrude a (multi)polygon from ``z0`` up by ``height`` [m]; None when empty."""
    parts = []
    for poly in _polygons(geom):
        m = trimesh.creation.extrude_polygon(poly, height)
        m.apply_translation((0.0, 0.0, z0))
        parts.append(m)
    if not parts:
        return None
    return _concat(parts)


def _concat(meshes: list[trimesh.Trimesh]) -> trimesh.Trimesh:
    joined = trimesh.util.concatenate(meshes)
    assert isinstance(joined, trimesh.Trimesh)
    return joined


def _coloured(mesh: trimesh.Trimesh, rgba: tuple[int, int, int, int]) -> trimesh.Trimesh:
    colours = np.tile(np.array(rgba, dtype=np.uint8), (len(mesh.faces), 1))
    mesh.visual = trimesh.visual.ColorVisuals(mesh, face_colors=colours)
    return mesh


def floor_meshes(floor: Floor, wall_thickness_m: float = 0.2) -> dict[str, trimesh.Trimesh]:
    """Meshes of one floor by part name."""
    z = floor.elevation_m
    out: dict[str, trimesh.Trimesh] = {}
    slab = extrude(floor.outline, z - SLAB_M, SLAB_M)
    if slab is not None:
        out["slab"] = _coloured(slab, PART_COLOURS["slab"])
    for zone in floor.zones:
        top = extrude(zone.polygon.buffer(-0.01), z, 0.02)
        if top is not None:
            out[f"zone-{zone.id}"] = _coloured(top, (*ZONE_COLOURS.get(zone.kind, (200, 200, 200)), 255))
    walls = floor_walls(floor, wall_thickness_m).buffer(wall_thickness_m / 2, cap_style="flat", join_style="mitre")
    wall_mesh = extrude(walls, z, floor.height_m)
    if wall_mesh is not None:
        out["walls"] = _coloured(wall_mesh, PART_COLOURS["walls"])
    by_kind: dict[str, list[trimesh.Trimesh]] = {}
    for ob in floor.obstacles:
        m = extrude(ob.polygon, z, min(ob.height_m, floor.height_m))
        if m is not None:
            key = ob.kind if ob.kind in ("shelf", "desk") else "obstacle"
            by_kind.setdefault(key, []).append(m)
    for key, meshes in by_kind.items():
        out[_PLURAL[key]] = _coloured(_concat(meshes), PART_COLOURS[key])
    if floor.seats:
        unit = trimesh.creation.box(extents=SEAT_BOX_M)
        n = len(floor.seats)
        offs = np.array([[s.x, s.y, z + SEAT_BOX_M[2] / 2] for s in floor.seats])
        verts = (unit.vertices[None, :, :] + offs[:, None, :]).reshape(-1, 3)
        faces = (unit.faces[None, :, :] + (np.arange(n) * len(unit.vertices))[:, None, None]).reshape(-1, 3)
        out["seats"] = _coloured(trimesh.Trimesh(verts, faces, process=False), PART_COLOURS["seats"])
    return out


def building_scene(building: Building) -> trimesh.Scene:
    """A trimesh Scene with one group node per floor and its part meshes below it."""
    scene = trimesh.Scene()
    for floor in building.floors:
        scene.graph.update(frame_to=f"floor:{floor.id}", frame_from=scene.graph.base_frame)
        for part, mesh in floor_meshes(floor, building.wall_thickness_m).items():
            name = f"{floor.id}/{part}"
            scene.add_geometry(mesh, node_name=name, geom_name=name, parent_node_name=f"floor:{floor.id}")
    scene.metadata["branch"] = building.branch_id
    scene.metadata["floors"] = [f.id for f in building.floors]
    return scene


def export_glb(building: Building, path: str | Path) -> Path:
    """Write the building as a binary glTF (GLB) file and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data: Any = building_scene(building).export(file_type="glb")
    path.write_bytes(data)
    return path


def glb_floor_ids(path: str | Path) -> list[str]:
    """Floor ids found in a GLB written by :func:`export_glb` (from its node names)."""
    scene = trimesh.load(str(path), force="scene")
    assert isinstance(scene, trimesh.Scene)
    floors = {name.split("/", 1)[0] for name in scene.geometry if "/" in name}
    return sorted(floors)

