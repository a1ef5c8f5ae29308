"""Navigation fields: the 16-neighbourhood Dijkstra kernel, targets, the cache, routes across floors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from shapely.geometry import Point, box

from geometry import load_building
from simulation.crowd import kernels
from simulation.crowd.kernels.moves import MOVES
from simulation.crowd.kernels.reference import dijkstra16_reference, field_direction_reference
from simulation.crowd.navigation import FloorSpace, Navigator, NoRouteError, Target, floor_spaces

# Two floors: a ground floor with two exits, an upper floor reached by a stair (8 m) and a lift.
TWO_FLOORS_YAML = """\
version: 1
branch: {id: two, name: Two floors, kind: district, seed: 3}
building:
  floors:
    - id: G
      elevation_m: 0
      outline: [[0, 0], [24, 0], [24, 10], [0, 10]]
      zones:
        - {id: hall, kind: entrance, polygon: [[0, 0], [24, 0], [24, 10], [0, 10]]}
      openings:
        - {id: west-door, zones: [hall, outside], at: [0, 5], width_m: 1.2}
        - {id: east-exit, kind: emergency_exit, zones: [hall, outside], at: [24, 5], width_m: 1.0}
    - id: L1
      elevation_m: 4
      outline: [[0, 0], [24, 0], [24, 10], [0, 10]]
      zones:
        - {id: study, kind: reading_room, polygon: [[0, 0], [24, 0], [24, 10], [0, 10]]}
      seat_blocks:
        - {id: t, zone: study, kind: table_grid, origin: [4, 2], rows: 2, cols: 3, table_m: [1.6, 0.8],
           pitch_m: [6, 4], seats_per_table: 4}
  stairs:
    - {id: stair, length_m: 8, width_m: 1.2, ends: [{floor: G, zone: hall, at: [20, 8.5]},
                                                    {floor: L1, zone: study, at: [20, 8.5]}]}
  lifts:
    - {id: lift, capacity: 8, speed_m_s: 1.0, door_s: 5,
       stops: [{floor: G, zone: hall, at: [2, 8.5]}, {floor: L1, zone: study, at: [2, 8.5]}]}
"""


@pytest.fixture(scope="module")
def two_floors(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    p: Path = tmp_path_factory.mktemp("scen") / "two-floors.yaml"
    p.write_text(TWO_FLOORS_YAML)
    return load_building(p)


def _random_grid(rng: np.random.Generator, ny: int = 30, nx: int = 40) -> np.ndarray:
    walk = np.ones((ny, nx), bool)
    for _ in range(12):
        i, j = rng.integers(0, ny), rng.integers(0, nx)
        h, w = rng.integers(1, 6), rng.integers(1, 8)
        walk[i: i + h, j: j + w] = False
    walk[0, :] = walk[-1, :] = False
    walk[:, 0] = walk[:, -1] = False
    return walk


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dijkstra_kernel_equals_heapq_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    walk = _random_grid(rng)
    cost = 1.0 + rng.uniform(0, 1, walk.shape)
    free = np.flatnonzero(walk)
    cells = rng.choice(free, size=5, replace=False).astype(np.int64)
    values = rng.uniform(0, 3, 5)
    labels = np.array([0, 1, 1, 2, 3], np.int32)
    d1, g1 = kernels.dijkstra16(walk, cost, cells, values, labels, 0.25, MOVES)
    d2, g2 = dijkstra16_reference(walk, cost, cells, values, labels, 0.25)
    assert np.array_equal(np.isfinite(d1), np.isfinite(d2))
    np.testing.assert_allclose(d1[np.isfinite(d1)], d2[np.isfinite(d2)], rtol=0, atol=1e-12)
    assert np.array_equal(g1, g2)
    assert np.isinf(d1[~walk]).all()
    # a seed beaten by a cheaper neighbouring seed is not a goal
    assert (g1 >= 0).sum() <= 5


def test_open_floor_costs_are_within_three_percent_of_straight_lines() -> None:
    space = FloorSpace.from_polygons("0", box(0, 0, 40, 40))
    nav = Navigator([space], wall_penalty=0.0)
    f = nav.field(Target.point("0", 20.0, 20.0, radius_m=0.01))
    gx, gy = space.grid.centers()
    goal = np.argwhere(f.goal >= 0)[0]
    cx, cy = space.grid.center(*goal)
    straight = np.hypot(gx - cx, gy - cy)
    far = space.grid.walkable & (straight > 5)
    ratio = f.dist[far] / straight[far]
    assert ratio.min() >= 1.0 - 1e-6
    # 16 directions: at most 1/cos(13.3 deg) = 2.7 % longer; 8 directions would reach 8.2 %
    assert ratio.max() < 1.03
    assert ratio.max() > 1.02  # and it really is a 16-neighbourhood, not exact geometry


def test_knight_moves_do_not_jump_a_wall_one_cell_thick() -> None:
    walk = np.ones((20, 20), bool)
    walk[:17, 10] = False  # a wall one cell thick with a gap at the top rows 17..19
    seed = np.array([5 * 20 + 9], np.int64)
    d, _ = kernels.dijkstra16(walk, np.ones(walk.shape), seed, np.zeros(1), np.zeros(1, np.int32), 1.0, MOVES)
    # the cell just across the wall is only reachable round the end of the wall
    assert d[5, 11] > 2 * (17 - 5) - 1
    assert d[4, 11] > 2 * (17 - 4) - 1 and d[6, 11] > 2 * (17 - 6) - 1
    # and no diagonal or knight move cuts the wall's end corner
    d2, _ = dijkstra16_reference(walk, np.ones(walk.shape), seed, np.zeros(1), np.zeros(1, np.int32), 1.0)
    np.testing.assert_allclose(d, d2)


def test_walking_down_the_field_goes_round_an_obstacle_without_zigzag() -> None:
    shelf = box(9, 2, 10, 8)
    space = FloorSpace.from_polygons("0", box(0, 0, 20, 10), [shelf])
    nav = Navigator([space])
    f = nav.field(Target.point("0", 17.0, 5.0))
    path = f.path(3.0, 5.6, step_m=0.05)
    end = path[-1]
    assert math.hypot(end[0] - 17.0, end[1] - 5.0) < 0.5
    # never inside the shelf or off the floor
    assert not any(shelf.contains(Point(p)) for p in path)
    # length close to the taut path round the shelf
    taut = (math.hypot(6, 2.4) + 1 + math.hypot(7, 3))
    length = np.hypot(*np.diff(path, axis=0).T).sum()
    assert taut < length < 1.15 * taut
    # no zig-zag: the heading changes by less than 25 degrees between consecutive 0.5 m pieces
    pts = path[::10]
    ang = np.arctan2(np.diff(pts[:, 1]), np.diff(pts[:, 0]))
    turn = np.abs((np.diff(ang) + np.pi) % (2 * np.pi) - np.pi)
    assert np.degrees(turn).max() < 25


def test_field_direction_never_points_into_a_wall() -> None:
    space = FloorSpace.from_polygons("0", box(0, 0, 10, 2))
    nav = Navigator([space])
    f = nav.field(Target.point("0", 9.5, 1.0))
    g = space.grid
    ys = np.linspace(0.21, 1.79, 40)
    ex, ey = field_direction_reference(np.full(40, 3.0), ys, f.dist, g.x0, g.y0, g.cell_m)
    assert (ex > 0.7).all()  # along the corridor, turned at most ~40 degrees towards its middle
    # near the lower wall the direction has no component into it (and vice versa)
    assert (ey[ys < 0.4] >= -1e-9).all() and (ey[ys > 1.6] <= 1e-9).all()


def test_fields_are_cached_per_target_and_least_recently_used_ones_dropped() -> None:
    space = FloorSpace.from_polygons("0", box(0, 0, 12, 8))
    nav = Navigator([space], max_fields=2)
    a, b, c = (Target.point("0", x, 4.0) for x in (2.0, 6.0, 10.0))
    off_a = nav.offset(a)
    assert nav.offset(a) == off_a and nav.fields_computed == 1
    nav.pin(off_a)
    nav.offset(b)
    nav.offset(c)  # over the limit: b goes (a is pinned)
    assert nav.cached == 2 and nav.fields_computed == 3
    nav.offset(a)
    assert nav.fields_computed == 3
    nav.offset(b)
    assert nav.fields_computed == 4
    # a copy is a copy
    f = nav.field(a)
    f.dist[:] = 0
    assert np.isfinite(nav.field(a).dist).any() and nav.field(a).dist.max() > 0


def test_a_new_field_is_kept_when_every_other_one_is_followed() -> None:
    space = FloorSpace.from_polygons("0", box(0, 0, 12, 8))
    nav = Navigator([space], max_fields=2)
    a, b, c = (Target.point("0", x, 4.0) for x in (2.0, 6.0, 10.0))
    nav.pin(nav.offset(a))
    nav.pin(nav.offset(b))
    off_c = nav.offset(c)  # over the limit, but nothing can go: c stays
    nav.pin(off_c)
    assert nav.cached == 3 and nav.distance_m(c, 10.0, 4.0) < 0.5 and nav.distance_m(c, 2.0, 4.0) > 7.0
    assert nav.fields_computed == 3
    nav.unpin(off_c)  # no longer followed and over the limit: now it goes
    assert nav.cached == 2


def test_bad_targets_say_what_is_wrong(building) -> None:  # type: ignore[no-untyped-def]
    nav = Navigator(floor_spaces(building), building=building)
    with pytest.raises(KeyError, match="no floor 'X'"):
        nav.offset(Target.point("X", 1, 1))
    with pytest.raises(KeyError, match="no seat 'nope'"):
        nav.offset(Target.seat("G", "nope"))
    with pytest.raises(KeyError, match="no exit 'hall-reading'"):
        nav.offset(Target.exit("G", "hall-reading"))
    with pytest.raises(NoRouteError, match="no exit left open"):
        nav.offset(Target.exits("G", blocked=["main-door"]))
    with pytest.raises(NoRouteError, match="every exit is blocked"):
        nav.offset(nav.evacuation_target("G", blocked=["main-door"]))
    plain = Navigator([FloorSpace.from_polygons("0", box(0, 0, 5, 5))])
    with pytest.raises(ValueError, match="needs a crowd built from a Building"):
        plain.offset(Target.zone("0", "hall"))


def test_building_targets_have_goal_cells_where_they_should(building) -> None:  # type: ignore[no-untyped-def]
    spaces = floor_spaces(building)
    nav = Navigator(spaces, building=building)
    g = spaces["G"].grid
    seat = next(s for s in building.seats if s.id == "win-1")
    f = nav.field(Target.seat("G", "win-1"))
    for i, j in np.argwhere(f.goal >= 0):
        x, y = g.center(i, j)
        assert math.hypot(x - seat.x, y - seat.y) <= 0.35 + 1e-9
    door = nav.field(Target.exit("G", "main-door"))
    xs = [g.center(i, j)[0] for i, j in np.argwhere(door.goal >= 0)]
    assert xs and max(xs) < 0.0  # the exit's goal is outside the outline, through the door
    zone = nav.field(Target.zone("G", "reading"))
    assert all(g.center(i, j)[0] > 5.0 for i, j in np.argwhere(zone.goal >= 0))
    assert zone.value_at(2.0, 5.0) == pytest.approx(3.0, abs=0.6)


def test_route_across_floors_takes_the_stair_or_the_lift(two_floors) -> None:  # type: ignore[no-untyped-def]
    nav = Navigator(floor_spaces(two_floors), building=two_floors)
    exit_ = Target.exit("G", "west-door")
    r = nav.route("L1", 18.0, 5.0, exit_)
    assert [leg.kind for leg in r.legs] == ["walk", "stair", "walk"]
    assert r.legs[0].target == Target.stop("L1", "stair")
    assert r.legs[1].duration_s == pytest.approx(8 / 0.6)
    assert r.legs[2].floor_id == "G" and r.legs[2].target == exit_
    walk = r.legs[0].distance_m + r.legs[2].distance_m
    assert walk == pytest.approx(math.hypot(2, 3.5) + 20 + 1, rel=0.15)
    assert r.duration_s == pytest.approx(sum(leg.duration_s for leg in r.legs))
    # next to the lift, the lift is faster than walking to the stair
    r2 = nav.route("L1", 2.5, 7.0, exit_, use_lifts=True)
    assert [leg.kind for leg in r2.legs] == ["walk", "lift", "walk"]
    assert r2.legs[1].duration_s == pytest.approx(2 * 5 + 4 / 1.0)
    assert nav.route("L1", 2.5, 7.0, exit_).legs[1].kind == "stair"
    # same floor: one walk
    assert [leg.kind for leg in nav.route("G", 5, 5, exit_).legs] == ["walk"]
    with pytest.raises(NoRouteError):
        Navigator(floor_spaces(two_floors)).route("L1", 5, 5, exit_)  # without the building: no stairs


def test_evacuation_field_leads_upstairs_people_to_the_stair(two_floors) -> None:  # type: ignore[no-untyped-def]
    nav = Navigator(floor_spaces(two_floors), building=two_floors)
    up = nav.field(nav.evacuation_target("L1"))
    assert up.labels == ("stair:stair:G",)
    ground = nav.field(nav.evacuation_target("G"))
    assert set(ground.labels) >= {"west-door", "east-exit"}
    # upstairs: the rest of the way is stair (8 m at 0.6 m/s, as metres at 1.34 m/s) plus the ground floor
    rest = ground.value_at(20.0, 8.5)
    assert up.value_at(20.0, 8.5) == pytest.approx(8 / 0.6 * 1.34 + rest, abs=0.5)
    # the stair-up goal on the ground floor is never a goal: going up is never the way out
    used = np.array(ground.labels)[np.unique(ground.goal[ground.goal >= 0])]
    assert not any(lab.startswith("stair:") for lab in used)
    blocked = nav.field(nav.evacuation_target("G", blocked=["east-exit"]))
    assert blocked.value_at(22.0, 5.0) > ground.value_at(22.0, 5.0) + 15


def test_seats_get_local_fields_without_pits_and_come_back_from_their_window_part(building) -> None:  # type: ignore[no-untyped-def]
    floor = building.floors[0]
    spaces = floor_spaces(building, cell_m=0.25)
    nav = Navigator(spaces, building=building, max_fields=3)
    seats = [Target.seat(floor.id, s.id) for s in floor.seats]
    assert len(seats) > 10
    first = nav.field(seats[0])
    for t in seats[1:]:
        nav.field(t)
    assert nav.local_fields_computed == len(seats) and nav.cached == 3  # the first one left the pool
    again = nav.field(seats[0])
    assert nav.local_fields_computed == len(seats)  # rebuilt from its window, no new Dijkstra run
    fresh = Navigator(spaces, building=building).field(seats[0])
    for f in (again, fresh):
        np.testing.assert_array_equal(f.dist, first.dist)
        np.testing.assert_array_equal(f.goal, first.goal)
    # no pit: every reachable cell but the seat's own has a neighbour (16 directions) closer to it
    whole = Navigator(spaces, building=building, local_fields=False).field(seats[0])
    d = first.dist.astype(np.float64)
    assert (np.isfinite(d) == np.isfinite(whole.dist)).all()
    pad = np.pad(d, 2, constant_values=np.inf)
    lower = np.zeros(d.shape, bool)
    ny, nx = d.shape
    for di, dj in MOVES[:, :2]:
        lower |= pad[2 + di: 2 + di + ny, 2 + dj: 2 + dj + nx] < d
    pits = np.isfinite(d) & ~lower & (first.goal < 0)
    assert not pits.any(), f"{int(pits.sum())} cells with no way down"
