"""Property tests (hypothesis) on polygon, block expansion, variant merge and grid code."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, box

from geometry.build import seat_block_items, shelf_range_obstacles
from geometry.grid import components, rasterize, rasterize_floor, reachable
from geometry.model import Floor, Opening, Zone
from geometry.scenario import SeatBlockSpec, ShelfRangeSpec, merge

FAST = settings(max_examples=40, deadline=None)

sizes = st.floats(min_value=2.0, max_value=30.0, allow_nan=False)
offsets = st.floats(min_value=-50.0, max_value=50.0, allow_nan=False)
cells = st.sampled_from([0.1, 0.2, 0.25, 0.5])


@FAST
@given(w=sizes, h=sizes, x0=offsets, y0=offsets, cell=cells)
def test_rectangle_raster_area_matches(w: float, h: float, x0: float, y0: float, cell: float) -> None:
    grid = rasterize(box(x0, y0, x0 + w, y0 + h), cell_m=cell)
    # cells whose centre is inside: the error is at most one cell strip along the perimeter
    assert abs(grid.walkable_area_m2 - w * h) <= 2 * (w + h) * cell + 4 * cell * cell
    # the grid covers the rectangle with margin, and every walkable centre is inside it
    gx, gy = grid.centers()
    xs, ys = gx[grid.walkable], gy[grid.walkable]
    assert xs.min() >= x0 and xs.max() <= x0 + w and ys.min() >= y0 and ys.max() <= y0 + h


@FAST
@given(x=st.floats(-100, 100), y=st.floats(-100, 100), cell=cells)
def test_cell_of_and_center_agree(x: float, y: float, cell: float) -> None:
    grid = rasterize(box(-101, -101, 101, 101), cell_m=cell, pad_m=0.0)
    i, j = grid.cell_of(x, y)
    cx, cy = grid.center(i, j)
    assert abs(cx - x) <= cell / 2 + 1e-9 and abs(cy - y) <= cell / 2 + 1e-9
    assert grid.cell_of(cx, cy) == (i, j)


def _two_rooms(w: float, h: float, split: float, door_y: float | None, door_w: float) -> Floor:
    a = Zone("a", "reading_room", "F", box(0, 0, split, h))
    b = Zone("b", "stacks", "F", box(split, 0, w, h))
    openings = []
    if door_y is not None:
        from shapely.geometry import LineString

        seg = LineString([(split, door_y - door_w / 2), (split, door_y + door_w / 2)])
        openings.append(Opening("d", "door", "F", ("a", "b"), seg, door_w))
    return Floor("F", 0, 0.0, 3.0, box(0, 0, w, h), (a, b), (), tuple(openings), ())


@FAST
@given(w=st.floats(6, 30), h=st.floats(4, 20), frac=st.floats(0.3, 0.7), door=st.floats(0.2, 0.8),
       door_w=st.floats(0.8, 2.0), cell=st.sampled_from([0.2, 0.25]))
def test_wall_separates_rooms_unless_a_door(w: float, h: float, frac: float, door: float, door_w: float,
                                            cell: float) -> None:
    split = w * frac
    door_y = max(door_w, min(h - door_w, h * door))
    closed = rasterize_floor(_two_rooms(w, h, split, None, door_w), cell_m=cell)
    _, n_closed = components(closed)
    assert n_closed == 2
    # no 8-neighbour step crosses the wall either: diagonal pairs never straddle it
    wk = closed.walkable
    j = closed.cell_of(split, 0)[1]
    left, right = wk[:, : j], wk[:, j:]
    assert left.any() and right.any()
    opened = rasterize_floor(_two_rooms(w, h, split, door_y, door_w), cell_m=cell)
    labels, n_open = components(opened)
    assert n_open == 1
    seed = opened.nearest_walkable(split / 2, h / 2)
    assert seed is not None
    far = opened.nearest_walkable((split + w) / 2, h / 2)
    assert far is not None and reachable(opened, [seed], labels)[far]


def test_diagonal_wall_leaves_no_diagonal_gap() -> None:
    from shapely.geometry import Polygon

    a = Zone("a", "stacks", "F", Polygon([(0, 0), (10, 0), (0, 10)]))
    b = Zone("b", "stacks", "F", Polygon([(10, 0), (10, 10), (0, 10)]))
    floor = Floor("F", 0, 0.0, 3.0, box(0, 0, 10, 10), (a, b), (), (), ())
    grid = rasterize_floor(floor, cell_m=0.25)
    wk = grid.walkable
    # an 8-neighbour diagonal move between two walkable cells must never cross the wall: check that
    # for every walkable cell, its diagonal walkable neighbours lie on the same side.
    gx, gy = grid.centers()
    side = (gx + gy) > 10
    pairs = (((slice(None, -1), slice(None, -1)), (slice(1, None), slice(1, None))),   # up-right
             ((slice(None, -1), slice(1, None)), (slice(1, None), slice(None, -1))))   # up-left
    for here, there in pairs:
        assert not np.any(wk[here] & wk[there] & (side[here] != side[there]))
    assert components(grid)[1] == 2


@FAST
@given(rows=st.integers(1, 6), cols=st.integers(1, 6), n=st.integers(1, 8), ox=offsets, oy=offsets,
       gap_x=st.floats(0.0, 2.0), gap_y=st.floats(0.0, 2.0))
def test_table_grid_expansion(rows: int, cols: int, n: int, ox: float, oy: float, gap_x: float,
                              gap_y: float) -> None:
    spec = SeatBlockSpec(id="t", zone="z", kind="table_grid", origin=(ox, oy), rows=rows, cols=cols,
                         seats_per_table=n, table_m=(1.6, 0.8), pitch_m=(1.6 + gap_x, 0.8 + gap_y))
    desks, seats = seat_block_items(spec, "F")
    assert len(desks) == rows * cols
    assert len(seats) == rows * cols * n
    assert len({s.id for s in seats}) == len(seats)
    for s in seats:
        own = next(d for d in desks if s.id.startswith(d.id + "-"))
        assert own.polygon.distance(Point(s.x, s.y)) > 0.4  # chair clear of its own table
        assert not own.polygon.contains(Point(s.x, s.y))


@FAST
@given(count=st.integers(1, 30), length=st.floats(1, 20), depth=st.floats(0.3, 1.0), extra=st.floats(0.5, 2),
       axis=st.sampled_from(["x", "y"]), subjects=st.lists(st.text("ABCDEFG", min_size=1, max_size=3),
                                                            min_size=0, max_size=10, unique=True))
def test_shelf_range_expansion(count: int, length: float, depth: float, extra: float, axis: str,
                               subjects: list[str]) -> None:
    spec = ShelfRangeSpec(id="r", origin=(0.0, 0.0), count=count, length_m=length, depth_m=depth,
                          pitch_m=depth + extra, axis=axis, subjects=subjects)
    shelves = shelf_range_obstacles(spec, "F")
    assert len(shelves) == count
    total = sum(s.polygon.area for s in shelves)
    assert abs(total - count * length * depth) < 1e-6
    for a, b in itertools.pairwise(shelves):
        assert a.polygon.distance(b.polygon) >= extra - 1e-9  # the aisle between them
    if subjects:
        got = [s.subjects[0] for s in shelves]
        assert got[0] == subjects[0]
        # subjects appear in order
        order = [subjects.index(x) for x in got]
        assert order == sorted(order)


items = st.lists(st.fixed_dictionaries({"id": st.sampled_from("abcdef"), "v": st.integers(0, 9)}),
                 max_size=6, unique_by=lambda d: d["id"])


@FAST
@given(base=items, over=items)
def test_merge_by_id(base: list[dict[str, object]], over: list[dict[str, object]]) -> None:
    merged = merge(base, over)
    ids = [m["id"] for m in merged]
    assert len(ids) == len(set(ids))
    assert set(ids) == {b["id"] for b in base} | {o["id"] for o in over}
    for o in over:
        assert next(m for m in merged if m["id"] == o["id"])["v"] == o["v"]
    assert merge(base, []) == base
    assert merge(merged, over) == merged  # applying the same override twice changes nothing
    if base:
        removed = merge(base, [{"id": base[0]["id"], "remove": True}])
        assert base[0]["id"] not in [m["id"] for m in removed]
