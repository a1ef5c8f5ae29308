"""Device placement: line of sight, coverage sets, greedy vs MILP vs brute force, set cover."""

from __future__ import annotations

import math

import numpy as np
import pytest
from shapely.geometry import LineString, Polygon

from geometry.model import Floor, Opening, Zone
from optimization.kernels import line_of_sight
from optimization.placement import (
    DEVICES,
    CoverageProblem,
    DeviceModel,
    PlacementError,
    brute_force,
    coverage_problem,
    floor_raster,
    greedy,
    max_coverage,
    set_cover,
)


def _los_reference(opaque: np.ndarray, a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Dense sampling of the segment between cell centres (independent of the traversal kernel)."""
    n = 400 * (abs(b[0] - a[0]) + abs(b[1] - a[1]) + 1)
    t = np.linspace(0.0, 1.0, n)
    yi = a[0] + 0.5 + t * (b[0] - a[0])
    xj = a[1] + 0.5 + t * (b[1] - a[1])
    # skip samples exactly on a cell boundary line (the kernel treats corners conservatively)
    ok = (np.abs(yi - np.round(yi)) > 1e-9) & (np.abs(xj - np.round(xj)) > 1e-9)
    if opaque[np.floor(yi[ok]).astype(int), np.floor(xj[ok]).astype(int)].any():
        return False
    # a segment through a cell corner touches all four cells there: blocked if any is opaque
    di, dj = b[0] - a[0], b[1] - a[1]
    for y in range(min(a[0], b[0]) + 1, max(a[0], b[0]) + 1):
        for x in range(min(a[1], b[1]) + 1, max(a[1], b[1]) + 1):
            if (2 * y - 2 * a[0] - 1) * dj == (2 * x - 2 * a[1] - 1) * di and opaque[y - 1:y + 1, x - 1:x + 1].any():
                return False
    return True


def test_line_of_sight_matches_dense_sampling_on_a_random_raster() -> None:
    rng = np.random.default_rng(3)
    opaque = rng.random((30, 30)) < 0.12
    agree = total = 0
    for _ in range(3000):
        a = (int(rng.integers(30)), int(rng.integers(30)))
        b = (int(rng.integers(30)), int(rng.integers(30)))
        if opaque[a] or opaque[b]:
            continue
        k = line_of_sight(opaque, a[0], a[1], b[0], b[1])
        r = _los_reference(opaque, a, b)
        total += 1
        agree += k == r
        if k:  # the kernel never claims sight that the reference denies
            assert r, (a, b)
    assert agree == total


def _two_rooms(door: bool) -> Floor:
    """A 10 m x 5 m floor split by a wall at x = 5, with or without a 1 m door at y = 1."""
    west = Zone("west", "reading_room", "F", Polygon([(0, 0), (5, 0), (5, 5), (0, 5)]))
    east = Zone("east", "reading_room", "F", Polygon([(5, 0), (10, 0), (10, 5), (5, 5)]))
    ops = (Opening("d", "door", "F", ("west", "east"), LineString([(5, 0.5), (5, 1.5)]), 1.0),) if door else ()
    return Floor("F", 0, 0.0, 3.0, Polygon([(0, 0), (10, 0), (10, 5), (0, 5)]), (west, east), (), ops, ())


def test_no_sensor_sees_through_a_wall_on_a_hand_made_floor() -> None:
    for door in (False, True):
        r = floor_raster(_two_rooms(door), cell_m=0.25)
        w = r.walkable.astype(float)
        p = coverage_problem([r], [w], DeviceModel("wide", 20.0), candidate_every=1)
        side = np.where(p.cand_xy[:, 0] < 5.0, 0, 1)
        dside = np.where(p.dem_xy[:, 0] < 5.0, 0, 1)
        crossings = 0
        for c in range(p.n_candidates):
            cov = p.indices[p.indptr[c]:p.indptr[c + 1]]
            other = cov[dside[cov] != side[c]]
            for d in other:  # seen across the wall: only possible through the door gap
                (x0, y0), (x1, y1) = p.cand_xy[c], p.dem_xy[d]
                y_at_wall = y0 + (5.0 - x0) * (y1 - y0) / (x1 - x0)
                assert 0.5 <= y_at_wall <= 1.5, (p.cand_xy[c], p.dem_xy[d])
            crossings += other.size
        assert (crossings > 0) == door
        # with a 20 m range, each candidate sees all of its own room (a convex room without obstacles)
        own = np.array([np.sum(dside[p.indices[p.indptr[c]:p.indptr[c + 1]]] == side[c])
                        for c in range(p.n_candidates)])
        if not door:
            assert (own == np.bincount(dside)[side]).all()


def test_a_tall_shelf_blocks_and_a_low_table_does_not() -> None:
    from geometry.model import Obstacle

    fl = _two_rooms(False)
    shelf = Obstacle("shelf", "shelf", "F", Polygon([(2, 0.5), (2.5, 0.5), (2.5, 4.5), (2, 4.5)]), 2.1)
    table = Obstacle("table", "table", "F", Polygon([(3.5, 1), (4.3, 1), (4.3, 4), (3.5, 4)]), 0.75)
    fl = Floor(fl.id, 0, 0.0, 3.0, fl.outline, fl.zones, (shelf, table), (), ())
    r = floor_raster(fl, cell_m=0.25)
    xs = r.x0 + (np.arange(r.opaque.shape[1]) + 0.5) * 0.25
    j1, j2, j3 = (int(np.argmin(abs(xs - x))) for x in (1.0, 3.0, 4.5))
    i = int(np.argmin(abs(r.y0 + (np.arange(r.opaque.shape[0]) + 0.5) * 0.25 - 2.5)))
    assert not line_of_sight(r.opaque, i, j1, i, j2)  # across the shelf
    assert line_of_sight(r.opaque, i, j2, i, j3)  # across the low table


def _random_problem(rng: np.random.Generator, n_c: int, n_d: int, radius: float) -> CoverageProblem:
    cand = rng.random((n_c, 2)) * 20
    dem = rng.random((n_d, 2)) * 20
    w = rng.random(n_d)
    d = np.hypot(cand[:, None, 0] - dem[None, :, 0], cand[:, None, 1] - dem[None, :, 1])
    ptr, idx = [0], []
    for c in range(n_c):
        hit = np.flatnonzero(d[c] <= radius)
        idx.extend(hit.tolist())
        ptr.append(len(idx))
    z = np.zeros(n_c, dtype=np.int64)
    return CoverageProblem(DeviceModel("x", radius), z, cand, np.zeros(n_c), np.zeros(n_d, dtype=np.int64), dem,
                           w, np.array(ptr, dtype=np.int64), np.array(idx, dtype=np.int64), ("F",))


@pytest.mark.parametrize("seed", range(6))
def test_milp_is_at_least_greedy_and_equals_brute_force_on_tiny_floors(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = _random_problem(rng, 12, 60, 4.0)
    for k in (1, 2, 3, 4):
        g = greedy(p, k, swaps=False)
        gs = greedy(p, k)
        exact = max_coverage(p, k, bound=gs)
        bf = brute_force(p, k)
        assert exact.covered >= gs.covered - 1e-9 >= g.covered - 1e-9
        assert exact.covered == pytest.approx(bf.covered, rel=1e-9)
        assert g.covered >= (1 - 1 / math.e) * bf.covered - 1e-9
        assert len(exact.chosen) == k


@pytest.mark.parametrize("seed", range(3))
def test_milp_beats_or_matches_greedy_on_random_floors(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    p = _random_problem(rng, 80, 600, 3.0)
    g = greedy(p, 8)
    m = max_coverage(p, 8, bound=g)
    m_free = max_coverage(p, 8, reduce=False)
    assert m.status == "optimal"
    assert m.covered >= g.covered - 1e-9
    assert m.covered == pytest.approx(m_free.covered, rel=1e-7)  # reduction and bound keep the optimum


def test_set_cover_finds_the_fewest_devices_for_a_target() -> None:
    rng = np.random.default_rng(7)
    p = _random_problem(rng, 12, 60, 5.0)
    sol = set_cover(p, 0.8)
    assert sol.share >= 0.8 - 1e-9
    n = len(sol.chosen)
    assert brute_force(p, n).share >= 0.8 - 1e-9
    if n > 1:
        assert brute_force(p, n - 1).share < 0.8  # one fewer cannot reach the target
    with pytest.raises(PlacementError, match="no placement covers"):
        set_cover(_random_problem(rng, 2, 60, 0.5), 1.0)


def test_k_larger_than_the_candidates_is_a_clear_error() -> None:
    p = _random_problem(np.random.default_rng(1), 5, 20, 3.0)
    with pytest.raises(PlacementError, match="larger than the 5 candidate positions"):
        greedy(p, 6)


def test_camera_field_of_view_limits_coverage() -> None:
    r = floor_raster(_two_rooms(False), cell_m=0.5)
    w = r.walkable.astype(float)
    omni = coverage_problem([r], [w], DeviceModel("o", 12.0), candidate_every=2)
    cam = coverage_problem([r], [w], DEVICES["camera"], candidate_every=2)
    assert cam.n_candidates == 8 * omni.n_candidates
    sizes_o = np.diff(omni.indptr)
    sizes_c = np.diff(cam.indptr).reshape(-1, 8)
    assert (sizes_c <= sizes_o[:, None]).all()
    assert (sizes_c.max(axis=1) < sizes_o).any()
