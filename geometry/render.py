"""Offscreen pictures of a Building (pyvista): zones coloured by kind, or by a value per zone.

pyvista is imported here only, so ``import geometry`` stays light; without it the error says
which extra to install.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .mesh import PART_COLOURS, ZONE_COLOURS, floor_meshes
from .model import Building


def _pyvista() -> Any:
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    try:
        import pyvista as pv
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise RuntimeError("rendering needs pyvista: pip install 'smartlib-twin[render]'") from exc
    pv.OFF_SCREEN = True
    return pv


def render_png(building: Building, path: str | Path, *, values: Mapping[str, float] | None = None,
               value_label: str = "value", size: tuple[int, int] | None = None, cmap: str = "viridis") -> Path:
    """Render every floor (one panel each, oblique view) to a PNG and return its path.

    Parameters
    ----------
    values
        Optional value per zone id (e.g. occupancy); zones are then coloured with ``cmap`` and a
        scalar bar, zones without a value in grey. Without it zones take their kind's colour.
    size
        Image size [px]; default 700 x 620 px per panel (one per floor, plus a legend; 3 a row).
    """
    pv = _pyvista()
    floors = building.floors
    panels = len(floors) + (1 if values is None else 0)  # one panel for the legend
    cols = min(3, panels)
    rows = (panels + cols - 1) // cols
    if size is None:
        size = (700 * cols, 620 * rows)
    plotter = pv.Plotter(off_screen=True, shape=(rows, cols), window_size=list(size), border=False)
    vmin = min(values.values()) if values else 0.0
    vmax = max(values.values()) if values else 1.0
    if values and vmax <= vmin:
        vmax = vmin + 1.0
    for k, floor in enumerate(floors):
        plotter.subplot(k // cols, k % cols)
        plotter.set_background("white")
        meshes = floor_meshes(floor, building.wall_thickness_m)
        for part, mesh in meshes.items():
            pm = pv.wrap(mesh)
            if part.startswith("zone-"):
                zid = part[len("zone-"):]
                if values is not None:
                    if zid in values:
                        pm.cell_data[value_label] = np.full(pm.n_cells, float(values[zid]))
                        plotter.add_mesh(pm, scalars=value_label, cmap=cmap, clim=(vmin, vmax),
                                         show_scalar_bar=(k == 0), scalar_bar_args={"title": value_label,
                                                                                    "color": "black"})
                    else:
                        plotter.add_mesh(pm, color=(0.85, 0.85, 0.85))
                else:
                    kind = floor.zone(zid).kind
                    plotter.add_mesh(pm, color=np.array(ZONE_COLOURS.get(kind, (200, 200, 200))) / 255.0,
                                     lighting=False)
            else:
                key = {"shelves": "shelf", "desks": "desk", "obstacles": "obstacle"}.get(part, part)
                rgba = PART_COLOURS.get(key, (150, 150, 150, 255))
                opacity = 0.35 if part == "walls" else 1.0
                plotter.add_mesh(pm, color=np.array(rgba[:3]) / 255.0, opacity=opacity)
        title = f"{building.branch_id} {floor.id}" + (f" ({floor.name})" if floor.name else "")
        plotter.add_text(title, font_size=10, color="black")
        minx, miny, maxx, maxy = floor.outline.bounds
        cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
        span = max(maxx - minx, maxy - miny)
        z = floor.elevation_m
        plotter.camera.focal_point = (cx, cy, z)
        plotter.camera.position = (cx, cy - 0.9 * span, z + 1.4 * span)
        plotter.camera.up = (0.0, 0.0, 1.0)
        plotter.reset_camera()
        plotter.camera.zoom(1.15)
    if values is None:
        kinds = sorted({z.kind for z in building.zones})
        plotter.subplot(rows - 1, cols - 1)
        entries = [[kind.replace("_", " "), np.array(ZONE_COLOURS.get(kind, (200, 200, 200))) / 255.0]
                   for kind in kinds]
        plotter.add_legend(entries, bcolor="white", face="rectangle", background_opacity=0.8,
                           size=(0.5, min(0.9, 0.06 * len(kinds))), loc="center")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plotter.screenshot(str(path))
    plotter.close()
    return path
