"""Walkable grids: each floor rasterised into square cells that people can or cannot stand in.

Cell ``(i, j)`` is row ``i`` (y) and column ``j`` (x); its centre is
``(x0 + (j + 0.5) * cell_m, y0 + (i + 0.5) * cell_m)``. Walls (zone boundaries that are not
open, with door gaps cut out) are drawn at least 1.5 cells thick so no 8-neighbour step can
slip diagonally through them; obstacles grow by half a cell so thin shelves never vanish
between cell centres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from scipy import ndimage
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from .model import Floor

DEFAULT_CELL_M = 0.25


@dataclass(frozen=True, eq=False)
class WalkableGrid:
    """A boolean raster of one floor: ``walkable[i, j]`` is True where a person may stand."""

    floor_id: str
    x0: float
    y0: float
    cell_m: float
    walkable: NDArray[np.bool_]

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.walkable.shape[0]), int(self.walkable.shape[1]))

    @property
    def walkable_area_m2(self) -> float:
        return float(self.walkable.sum()) * self.cell_m**2

    def cell_of(self, x: float, y: float) -> tuple[int, int]:
        """Row and column of the cell holding point (x, y) [m]; may be outside the grid."""
        return (int(np.floor((y - self.y0) / self.cell_m)), int(np.floor((x - self.x0) / self.cell_m)))

    def center(self, i: int, j: int) -> tuple[float, float]:
        """Centre of cell (i, j) [m]."""
        return (self.x0 + (j + 0.5) * self.cell_m, self.y0 + (i + 0.5) * self.cell_m)

    def centers(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """X and Y of all cell centres, each shaped like ``walkable``."""
        ny, nx = self.shape
        xs = self.x0 + (np.arange(nx) + 0.5) * self.cell_m
        ys = self.y0 + (np.arange(ny) + 0.5) * self.cell_m
        gx, gy = np.meshgrid(xs, ys)
        return gx, gy

    def inside(self, i: int, j: int) -> bool:
        ny, nx = self.shape
        return 0 <= i < ny and 0 <= j < nx

    def nearest_walkable(self, x: float, y: float, max_m: float = 0.75) -> tuple[int, int] | None:
        """The walkable cell nearest to (x, y) within ``max_m`` metres, or None."""
        i0, j0 = self.cell_of(x, y)
        r = int(np.ceil(max_m / self.cell_m))
        best: tuple[int, int] | None = None
        best_d = max_m**2 + 1e-12
        for i in range(i0 - r, i0 + r + 1):
            for j in range(j0 - r, j0 + r + 1):
                if self.inside(i, j) and self.walkable[i, j]:
                    cx, cy = self.center(i, j)
                    d = (cx - x) ** 2 + (cy - y) ** 2
                    if d < best_d:
                        best, best_d = (i, j), d
        return best


def _cover(geom: BaseGeometry, gx: NDArray[np.float64], gy: NDArray[np.float64]) -> NDArray[np.bool_]:
    if geom.is_empty:
        return np.zeros(gx.shape, dtype=bool)
    shapely.prepare(geom)
    return np.asarray(shapely.intersects_xy(geom, gx, gy), dtype=bool)


def rasterize(area: BaseGeometry, blocked: BaseGeometry | None = None, *, cell_m: float = DEFAULT_CELL_M,
              floor_id: str = "", pad_m: float = 0.5) -> WalkableGrid:
    """Rasterise plain geometry: cells whose centre lies in ``area`` and not in ``blocked``.

    Parameters
    ----------
    area
        Where people may walk (polygon or multipolygon) [m].
    blocked
        Walls and obstacles, already given their thickness [m].
    cell_m
        Cell size [m].
    """
    if cell_m <= 0:
        raise ValueError(f"cell_m must be positive, got {cell_m}")
    minx, miny, maxx, maxy = area.bounds
    x0, y0 = minx - pad_m, miny - pad_m
    nx = int(np.ceil((maxx + pad_m - x0) / cell_m))
    ny = int(np.ceil((maxy + pad_m - y0) / cell_m))
    grid = WalkableGrid(floor_id, x0, y0, cell_m, np.zeros((ny, nx), dtype=bool))
    gx, gy = grid.centers()
    mask = _cover(area, gx, gy)
    if blocked is not None:
        mask &= ~_cover(blocked, gx, gy)
    return WalkableGrid(floor_id, x0, y0, cell_m, mask)


def floor_walls(floor: Floor, wall_thickness_m: float = 0.2) -> BaseGeometry:
    """Centre lines of the floor's walls: zone boundaries and outline minus door gaps and open sides."""
    lines = shapely.union_all([floor.outline.exterior] + [z.polygon.exterior for z in floor.zones])
    cuts = []
    half = max(wall_thickness_m / 2.0, 0.75 * DEFAULT_CELL_M)
    for o in floor.openings:
        if o.kind == "open":
            # the open side only: walls meeting it at its ends keep their ends (cutting them short
            # left a gap at the junction where a zone's corner cell was a pocket no one fits in)
            ends = shapely.union_all([Point(c).buffer(half) for c in (o.segment.coords[0], o.segment.coords[-1])])
            cuts.append(o.segment.buffer(wall_thickness_m, cap_style="flat").difference(ends))
        else:
            cuts.append(Point(o.center).buffer(o.width_m / 2.0))
    if cuts:
        lines = lines.difference(shapely.union_all(cuts))
    return lines


def floor_barriers(floor: Floor, *, cell_m: float = DEFAULT_CELL_M,
                   wall_thickness_m: float = 0.2) -> BaseGeometry:
    """Walls (thickened, at least 1.5 cells) and obstacles (grown by half a cell) as one geometry."""
    half = max(wall_thickness_m / 2.0, 0.75 * cell_m)
    walls = floor_walls(floor, wall_thickness_m).buffer(half, cap_style="flat", join_style="mitre")
    parts = [walls]
    if floor.obstacles:
        parts.append(shapely.union_all([o.polygon for o in floor.obstacles]).buffer(
            0.5 * cell_m, join_style="mitre"))
    return shapely.union_all(parts)


def rasterize_floor(floor: Floor, *, cell_m: float = DEFAULT_CELL_M,
                    wall_thickness_m: float = 0.2) -> WalkableGrid:
    """Walkable grid of one floor: inside some zone, off walls and obstacles."""
    area = shapely.union_all([z.polygon for z in floor.zones]).intersection(floor.outline)
    blocked = floor_barriers(floor, cell_m=cell_m, wall_thickness_m=wall_thickness_m)
    return rasterize(area, blocked, cell_m=cell_m, floor_id=floor.id)


_FOUR = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=bool)


def components(grid: WalkableGrid) -> tuple[NDArray[np.int32], int]:
    """Label 4-connected walkable regions (conservative: no diagonal squeezing)."""
    labels, n = ndimage.label(grid.walkable, structure=_FOUR)
    return labels.astype(np.int32), int(n)


def reachable(grid: WalkableGrid, seeds: list[tuple[int, int]],
              labels: NDArray[np.int32] | None = None) -> NDArray[np.bool_]:
    """Cells connected (4-neighbour) to any of the seed cells."""
    if labels is None:
        labels, _ = components(grid)
    ids = {int(labels[i, j]) for i, j in seeds if grid.inside(i, j) and labels[i, j] > 0}
    if not ids:
        return np.zeros(grid.shape, dtype=bool)
    return np.isin(labels, sorted(ids))


def segment_cells(grid: WalkableGrid, segment: BaseGeometry, reach_m: float) -> list[tuple[int, int]]:
    """Walkable cells whose centre lies within ``reach_m`` of a segment (e.g. the cells at a door)."""
    minx, miny, maxx, maxy = segment.bounds
    i0, j0 = grid.cell_of(minx - reach_m, miny - reach_m)
    i1, j1 = grid.cell_of(maxx + reach_m, maxy + reach_m)
    ny, nx = grid.shape
    i0, j0, i1, j1 = max(i0, 0), max(j0, 0), min(i1, ny - 1), min(j1, nx - 1)
    if i0 > i1 or j0 > j1:
        return []
    gx, gy = grid.centers()
    sub_x, sub_y = gx[i0:i1 + 1, j0:j1 + 1], gy[i0:i1 + 1, j0:j1 + 1]
    near = shapely.dwithin(segment, shapely.points(sub_x, sub_y), reach_m)
    near &= grid.walkable[i0:i1 + 1, j0:j1 + 1]
    ii, jj = np.nonzero(near)
    return [(int(i + i0), int(j + j0)) for i, j in zip(ii, jj, strict=True)]
