"""Building model, walkable grid, 3D export and pictures on a hand-computed branch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh

from geometry import Building, floor_grids, load_building
from geometry.build import check_reachability, reachable_cells


def test_areas_and_seats_match_hand_computation(building: Building) -> None:
    # 20 x 10 m floor; hall 5 x 10; reading 15 x 10; 2 x 3 tables of 4 seats + 2 window seats.
    assert building.area_m2 == pytest.approx(200.0)
    assert building.zone("hall").area_m2 == pytest.approx(50.0)
    assert building.zone("reading").area_m2 == pytest.approx(150.0)
    assert building.seat_count == 26
    assert building.seats_per_zone() == {"hall": 0, "reading": 26}
    floor = building.floor("G")
    shelves = [o for o in floor.obstacles if o.kind == "shelf"]
    desks = [o for o in floor.obstacles if o.kind == "desk"]
    assert len(shelves) == 3 and len(desks) == 6
    assert sum(o.polygon.area for o in shelves) == pytest.approx(3 * 4 * 0.6)
    assert [o.subjects for o in shelves] == [("000",), ("100",), ("200",)]
    # free area = zones minus shelves (7.2 m2) minus desks (6 x 1.28 m2)
    assert floor.free_area_m2 == pytest.approx(200.0 - 7.2 - 6 * 1.6 * 0.8)
    window = {s.id for s in building.seats if "window" in s.attrs}
    assert window == {"win-1", "win-2"}
    assert all("power" in s.attrs for s in building.seats if s.block == "tables")


def test_table_seats_sit_beside_their_tables(building: Building) -> None:
    seats = {s.id: s for s in building.seats}
    # first table: origin (7, 1.5), 1.6 x 0.8; two seats below at y = 1.05, two above at y = 2.75
    assert (seats["tables-r1c1-1"].x, seats["tables-r1c1-1"].y) == pytest.approx((7.4, 1.05))
    assert (seats["tables-r1c1-2"].x, seats["tables-r1c1-2"].y) == pytest.approx((8.2, 1.05))
    assert (seats["tables-r1c1-3"].x, seats["tables-r1c1-3"].y) == pytest.approx((7.4, 2.75))
    # second row is 3.0 m further up, third column 2 x 2.6 m to the right
    assert (seats["tables-r2c3-4"].x, seats["tables-r2c3-4"].y) == pytest.approx((7 + 5.2 + 1.2, 5.75))


def test_adjacency_through_openings(building: Building) -> None:
    graph = building.adjacency()
    assert ("reading", "hall-reading") in graph["hall"]
    assert ("outside", "main-door") in graph["hall"]
    assert graph["reading"] == [("hall", "hall-reading")]
    assert [o.id for o in building.entrances] == ["main-door"]
    assert building.exits[0].center == pytest.approx((0.0, 5.0))


def test_variant_overrides_seat_block(small_scenario: Path) -> None:
    variant = load_building(small_scenario, "fewer-tables")
    assert variant.seat_count == 26 - 12
    assert variant.variant == "fewer-tables"


def test_grid_walls_doors_and_obstacles(building: Building) -> None:
    grid = floor_grids(building)["G"]
    assert grid.cell_m == 0.25
    walk = grid.walkable
    # the wall between hall and reading room (x = 5) is closed except at the 1.2 m door (y 4.4 .. 5.6)
    j = grid.cell_of(5.0, 0)[1]
    column = walk[:, j - 1:j + 1].any(axis=1)
    open_rows = np.nonzero(column)[0]
    ys = np.array([grid.center(i, 0)[1] for i in open_rows])
    assert ys.min() > 4.3 and ys.max() < 5.7 and len(ys) >= 3
    # inside a shelf and inside a table nobody stands
    assert not walk[grid.cell_of(17.0, 6.3)]
    assert not walk[grid.cell_of(7.8, 1.9)]
    # the middle of the reading room is free
    assert walk[grid.cell_of(6.0, 3.5)]
    # walkable area is the free area less the wall and obstacle margins
    assert 0.6 * building.floor("G").free_area_m2 < grid.walkable_area_m2 < building.floor("G").free_area_m2


def test_every_seat_and_zone_reachable(building: Building) -> None:
    assert check_reachability(building) == []
    grids = floor_grids(building)
    reach = reachable_cells(building, grids)
    for seat in building.seats:
        cell = grids[seat.floor_id].nearest_walkable(seat.x, seat.y, 0.5)
        assert cell is not None and reach[seat.floor_id][cell], seat.id


def test_glb_round_trip(tmp_path: Path, building: Building) -> None:
    from geometry.mesh import export_glb, glb_floor_ids

    path = export_glb(building, tmp_path / "small.glb")
    assert path.stat().st_size > 1000
    assert glb_floor_ids(path) == ["G"]
    scene = trimesh.load(str(path), force="scene")
    names = set(scene.geometry)
    assert {"G/slab", "G/walls", "G/shelves", "G/desks", "G/seats"} <= names
    assert len(scene.geometry["G/seats"].faces) == 26 * 12  # one box (12 triangles) per seat
    lo, hi = scene.bounds
    assert lo[0] == pytest.approx(0.0, abs=0.2) and hi[0] == pytest.approx(20.0, abs=0.2)
    assert hi[2] == pytest.approx(3.5, abs=0.01)  # walls reach the floor height


def test_png_is_not_blank(tmp_path: Path, building: Building) -> None:
    from PIL import Image

    from geometry.render import render_png

    path = render_png(building, tmp_path / "small.png", size=(500, 400))
    img = np.asarray(Image.open(path).convert("RGB")).astype(int)
    assert img.shape == (400, 500, 3)
    colours = {tuple(c) for c in img.reshape(-1, 3)[::37]}
    assert len(colours) > 20
    # the reading room's colour (kind reading_room: 141, 211, 199) appears on a good share of pixels
    near = (np.abs(img - np.array([141, 211, 199])).sum(axis=2) < 60).mean()
    assert near > 0.05
