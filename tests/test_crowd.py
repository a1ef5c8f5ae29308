"""The crowd: Numba step equals the numpy reference, determinism across threads, the public API."""

from __future__ import annotations

import math

import numpy as np
import pytest
from shapely.geometry import Point, box
from test_navigation import TWO_FLOORS_YAML

from simulation import Crowd, CSMParameters, NoRouteError, Target, periodic_corridor
from simulation.crowd import kernels


@pytest.fixture(scope="module")
def two_floors(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from geometry import load_building

    p = tmp_path_factory.mktemp("scen") / "two-floors.yaml"
    p.write_text(TWO_FLOORS_YAML)
    return load_building(p)


def _scatter(rng: np.random.Generator, n: int, area, obstacles=(),  # type: ignore[no-untyped-def]
             gap: float = 0.45, wall: float = 0.3):
    """n points inside ``area``, off the obstacles, ``gap`` apart (rejection sampling)."""
    minx, miny, maxx, maxy = area.bounds
    inner = area.buffer(-wall)
    blocked = [o.buffer(wall) for o in obstacles]
    pts: list[tuple[float, float]] = []
    while len(pts) < n:
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        p = Point(x, y)
        if not inner.contains(p) or any(b.contains(p) for b in blocked):
            continue
        if pts and np.min(np.hypot(*(np.asarray(pts) - (x, y)).T)) < gap:
            continue
        pts.append((x, y))
    return np.asarray(pts)


def _room_with_door(seed: int, n: int = 120, params: CSMParameters | None = None) -> Crowd:
    """A 10 m x 8 m room, a shelf and a column inside, a 0.9 m door to a 3 m deep outside strip."""
    rng = np.random.default_rng(seed)
    room = box(0, 0, 10, 8)
    walk = room.union(box(10, 3.55, 10.4, 4.45)).union(box(10.4, 0, 13, 8))
    obstacles = [box(3, 2, 6, 2.6), Point(7, 5.5).buffer(0.4)]
    crowd = Crowd.from_polygons(walk, obstacles, exits={"out": box(12.5, 0, 13, 8)}, params=params, seed=seed)
    xy = _scatter(rng, n, room, obstacles)
    crowd.add_many("0", xy, Target.exits("0"), rng.uniform(0.9, 1.7, n))
    return crowd


def _compare(crowd: Crowd, steps: int) -> None:
    for _ in range(steps):
        ref = crowd.reference_step()
        walking = crowd.walking
        crowd.advance(crowd.time_s + 0.5 * crowd.dt_s, stop_on_arrival=False)
        got = crowd.state()
        for key in ("pos", "orient", "vel", "stuck_s"):
            np.testing.assert_allclose(got[key][walking], ref[key][walking], rtol=0, atol=1e-9, err_msg=key)
        fin = np.isfinite(ref["best_d"][walking])
        np.testing.assert_array_equal(np.isfinite(got["best_d"][walking]), fin)
        np.testing.assert_allclose(got["best_d"][walking][fin], ref["best_d"][walking][fin], rtol=0, atol=1e-9)
        arrived = walking[ref["arrived_goal"][walking] >= 0]
        assert set(arrived.tolist()) == set(walking.tolist()) - set(crowd.walking.tolist())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_numba_step_equals_numpy_reference_in_a_room_with_obstacles(seed: int) -> None:
    crowd = _room_with_door(seed)
    crowd.advance(6.0, stop_on_arrival=False)  # let a queue form at the door
    assert (crowd.state()["stuck_s"][crowd.walking] >= crowd.params.patience_s).any(), "no one stuck: squeeze untested"
    _compare(crowd, 5)


def test_numba_step_equals_numpy_reference_while_people_walk_through_others() -> None:
    # rule 6 on soon: some are walking through (stuck_s below 0), some about to start (at or over pass_s)
    crowd = _room_with_door(3, params=CSMParameters(pass_s=1.5, pass_hold_s=1.0))
    crowd.advance(6.0, stop_on_arrival=False)
    stuck = crowd.state()["stuck_s"][crowd.walking]
    assert (stuck < 0).any() and crowd.passes > 0, "no one walking through: rule 6 untested"
    _compare(crowd, 8)


def test_numba_step_equals_numpy_reference_on_two_floors(two_floors) -> None:  # type: ignore[no-untyped-def]
    crowd = Crowd.from_building(two_floors, seed=5)
    rng = np.random.default_rng(5)
    for fid in ("G", "L1"):
        xy = _scatter(rng, 40, box(1, 1, 23, 9), [box(4, 1.5, 22, 7)] if fid == "L1" else [])
        crowd.add_many(fid, xy, Target.exits(fid) if fid == "G" else Target.stop(fid, "stair"), 1.3)
    crowd.advance(2.0, stop_on_arrival=False)
    _compare(crowd, 3)


def test_numba_step_equals_numpy_reference_in_a_periodic_corridor() -> None:
    crowd, target = periodic_corridor(10.0, 2.0)
    rng = np.random.default_rng(3)
    xy = _scatter(rng, 30, box(0, 0, 10, 2), wall=0.25)
    crowd.add_many("corridor", xy, target, 1.34)
    crowd.advance(3.0, stop_on_arrival=False)
    _compare(crowd, 3)
    assert (crowd.positions()[:, 0] >= 0).all() and (crowd.positions()[:, 0] < 10).all()


def test_numba_step_equals_numpy_reference_with_hundreds_of_neighbours_each() -> None:
    # a long cutoff gives everyone more neighbours than the kernel keeps between its passes
    crowd = Crowd.from_polygons(box(0, 0, 16, 16), params=CSMParameters(cutoff_m=9.0))
    rng = np.random.default_rng(8)
    crowd.add_many("0", _scatter(rng, 500, box(0, 0, 16, 16), gap=0.45), Target.point("0", 15.0, 8.0), 1.3)
    crowd.advance(0.3, stop_on_arrival=False)
    _compare(crowd, 2)


def test_numba_step_equals_numpy_reference_for_a_few_walkers_in_a_large_room() -> None:
    # few walkers for the cells: the kernel sorts and binary-searches instead of a dense cell table
    from simulation.crowd.kernels import csm

    shelf = box(30, 10, 32, 50)
    crowd = Crowd.from_polygons(box(0, 0, 120, 60), [shelf], exits={"e": box(119, 0, 120, 60)}, seed=4)
    rng = np.random.default_rng(4)
    crowd.add_many("0", _scatter(rng, 200, box(1, 1, 40, 59), [shelf]), Target.exits("0"), rng.uniform(1.0, 1.6, 200))
    cells = crowd._cl[2] * crowd._cl[3]
    assert cells > csm.DENSE_CELLS_PER_WALKER * 200 + csm.DENSE_MIN_CELLS, "the dense path would be taken"
    crowd.advance(3.0, stop_on_arrival=False)
    _compare(crowd, 3)


def test_one_call_or_many_give_the_same_positions() -> None:
    # walkers are summed over in (cell, index) order however the run is cut into calls
    whole = _room_with_door(3)
    whole.advance(4.0, stop_on_arrival=False)
    cut = _room_with_door(3)
    for k in range(1, 41):
        cut.advance(0.1 * k, stop_on_arrival=False)
    assert whole.time_s == pytest.approx(cut.time_s)
    for key, value in whole.state().items():
        assert np.array_equal(value, cut.state()[key]), key


def test_the_kernel_exp_is_within_one_ulp_of_numpy() -> None:
    from numba import njit

    from simulation.crowd.kernels.csm import exp_kernel

    @njit(cache=False)
    def apply(z):  # type: ignore[no-untyped-def]
        out = np.empty_like(z)
        for k in range(z.size):
            out[k] = exp_kernel(z[k])
        return out

    z = np.concatenate([np.linspace(-708.0, 709.0, 200_001), np.random.default_rng(0).uniform(-30.0, 5.0, 100_000)])
    want = np.exp(z)
    assert np.max(np.abs(apply(z) - want) / want) <= np.finfo(float).eps
    assert (apply(np.array([-709.0, -1e6])) == 0.0).all()


def test_same_seed_same_result_on_one_or_two_threads() -> None:
    results = []
    before = kernels.get_threads()
    try:
        for threads in (1, 2):
            kernels.set_threads(threads)
            crowd = _room_with_door(7, n=150)
            crowd.parallel_min_walkers = 0  # small crowds otherwise run on one thread
            crowd.auto_threads = False
            t, _ = crowd.advance(5.0, stop_on_arrival=False)
            results.append((t, crowd.state()["pos"], [crowd.arrival_time_s(i) for i in range(150)]))
    finally:
        kernels.set_threads(before)
    for t, pos, arr in results[1:]:
        assert t == results[0][0]
        assert np.array_equal(pos, results[0][1])
        assert np.array_equal(np.asarray(arr), np.asarray(results[0][2]), equal_nan=True)


def test_advance_returns_at_the_first_arrival() -> None:
    crowd = Crowd.from_polygons(box(0, 0, 30, 4))
    target = Target.point("0", 28.0, 2.0)
    near = crowd.add("0", 22.0, 1.0, target, 1.2)
    far = crowd.add("0", 4.0, 3.0, target, 1.2)
    t, arrived = crowd.advance(100.0)
    assert arrived == [near]
    expected = (math.hypot(6.0, 1.0) - 0.35) / 1.2
    assert t == pytest.approx(expected, abs=0.3)
    assert crowd.arrival_time_s(near) == pytest.approx(t)
    assert crowd.reached(near) == "point" and not crowd.is_walking(near) and crowd.is_walking(far)
    t2, arrived2 = crowd.advance(100.0)
    assert arrived2 == [far] and t2 > t
    # nobody walking: time still runs to the requested end
    assert crowd.advance(120.0) == (pytest.approx(120.0), [])


def test_people_not_walking_are_invisible_to_walkers() -> None:
    def walk_time(with_sitter: bool) -> float:
        crowd = Crowd.from_polygons(box(0, 0, 20, 2))
        if with_sitter:
            sitter = crowd.add("0", 10.0, 1.0, Target.point("0", 10.0, 1.0))
            crowd.stop(sitter)
        w = crowd.add("0", 1.0, 1.0, Target.point("0", 19.0, 1.0), 1.0)
        crowd.advance(60.0)
        return crowd.arrival_time_s(w)

    assert walk_time(True) == walk_time(False)


def test_a_walker_slows_down_behind_a_slower_one() -> None:
    crowd = Crowd.from_polygons(box(0, 0, 40, 0.9))
    target = Target.point("0", 39.0, 0.45)
    slow = crowd.add("0", 6.0, 0.45, target, 0.6)
    fast = crowd.add("0", 2.0, 0.45, target, 1.5)
    crowd.advance(20.0)
    gap = crowd.location(slow)[1] - crowd.location(fast)[1]
    assert crowd.velocities([fast])[0, 0] == pytest.approx(0.6, abs=0.05)
    # the steady gap of the model: speed = spacing / T, spacing = gap - 2 r
    assert gap == pytest.approx(0.4 + 0.6 * crowd.params.time_gap_s, abs=0.05)


def test_someone_walking_into_the_middle_of_a_shelf_gets_round_it() -> None:
    # exactly on the symmetry axis the two ways round are equally long: a deterministic model stalls
    shelf = box(9, 2, 10, 8)
    target = Target.point("0", 17.0, 5.0)
    stalled = Crowd.from_polygons(box(0, 0, 20, 10), [shelf], params=CSMParameters.jupedsim())
    a = stalled.add("0", 3.0, 5.0, target)
    stalled.advance(60.0)
    assert stalled.is_walking(a)
    ok = Crowd.from_polygons(box(0, 0, 20, 10), [shelf])
    b = ok.add("0", 3.0, 5.0, target)
    ok.advance(60.0)
    assert not ok.is_walking(b) and ok.arrival_time_s(b) < 25


def test_set_target_place_remove_and_frame() -> None:
    crowd = Crowd.from_polygons(box(0, 0, 10, 10), exits={"e": box(9.5, 4, 10, 6)})
    ids = crowd.add_many("0", [[1, 1], [2, 2], [3, 3]], Target.point("0", 8, 8), [1.0, 1.2, 1.4])
    assert list(ids) == [0, 1, 2] and len(crowd) == 3
    crowd.set_target(1, Target.exits("0"))
    crowd.place(2, "0", 5.0, 5.0)
    assert not crowd.is_walking(2) and crowd.location(2) == ("0", 5.0, 5.0)
    crowd.remove(0)
    assert len(crowd) == 2 and list(crowd.walking) == [1]
    with pytest.raises(KeyError, match=r"no person with id 0"):
        crowd.location(0)
    crowd.advance(30.0)
    assert crowd.reached(1) == "e"
    df = crowd.frame()
    assert list(df.columns) == ["id", "floor", "x", "y", "vx", "vy", "walking", "target", "reached"]
    assert list(df["id"]) == [1, 2] and df.loc[df.id == 1, "reached"].item() == "e"
    assert crowd.navigator.fields_computed == 2


def test_bad_calls_say_what_is_wrong() -> None:
    crowd = Crowd.from_polygons(box(0, 0, 10, 10))
    t = Target.point("0", 5, 5)
    with pytest.raises(ValueError, match="desired speeds must be in"):
        crowd.add("0", 1, 1, t, 0.0)
    with pytest.raises(ValueError, match=r"target is on floor '1'"):
        crowd.add("0", 1, 1, Target.point("1", 5, 5))
    with pytest.raises(KeyError, match=r"no floor '1'"):
        crowd.add("1", 1, 1, Target.point("1", 5, 5))
    with pytest.raises(ValueError, match="finite"):
        crowd.add("0", math.nan, 1, t)
    with pytest.raises(TypeError, match="must be a Target"):
        crowd.add("0", 1, 1, "somewhere")  # type: ignore[arg-type]
    with pytest.raises(NoRouteError, match=r"inside a wall or obstacle"):
        Crowd.from_polygons(box(0, 0, 10, 10), [box(4, 4, 6, 6)]).add("0", 5, 5, Target.point("0", 1, 1))
    walled = Crowd.from_polygons(box(0, 0, 10, 10), [box(4.8, 0, 5.2, 10)])  # two rooms, no door
    with pytest.raises(NoRouteError, match=r"cannot reach point"):
        walled.add("0", 1, 1, Target.point("0", 9, 9))
    with pytest.raises(ValueError, match="dt_s"):
        Crowd.from_polygons(box(0, 0, 10, 10), dt_s=0)
    with pytest.raises(ValueError, match="time_gap_s"):
        CSMParameters(time_gap_s=-1)
    with pytest.raises(ValueError, match=r"at least 2\.5 cutoffs"):
        periodic_corridor(3.0, 2.0)


def _move_in_child(queue) -> None:  # type: ignore[no-untyped-def]
    crowd = _room_with_door(5, n=60)
    crowd.parallel_min_walkers = 0
    crowd.auto_threads = False
    t, _ = crowd.advance(2.0, stop_on_arrival=False)
    queue.put(float(t))


def test_a_process_that_moved_a_crowd_can_fork_and_move_one_in_the_child() -> None:
    # the dashboard forks its background runs from a process that has already run the kernel
    import multiprocessing as mp

    crowd = _room_with_door(4, n=60)
    crowd.parallel_min_walkers = 0  # the parallel kernel, not the one-thread path
    crowd.auto_threads = False
    crowd.advance(1.0, stop_on_arrival=False)
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_move_in_child, args=(queue,))
    child.start()
    child.join(120)
    assert child.exitcode == 0, f"the forked child died (exit code {child.exitcode})"
    assert queue.get(timeout=5) > 0


def test_walkers_within_counts_only_people_walking_on_that_floor(two_floors) -> None:  # type: ignore[no-untyped-def]
    crowd = Crowd.from_building(two_floors, seed=1)
    a = crowd.add("G", 2.0, 2.0, Target.exits("G"), 1.3)
    crowd.add("G", 2.3, 2.0, Target.exits("G"), 1.3)
    crowd.add("L1", 2.0, 2.0, Target.stop("L1", "stair"), 1.3)
    assert crowd.walkers_within("G", 2.0, 2.0, 0.45) == 2
    assert crowd.walkers_within("G", 2.0, 2.0, 0.2) == 1
    crowd.stop(a)  # idle people are not walkers
    assert crowd.walkers_within("G", 2.0, 2.0, 0.45) == 1
    assert crowd.walkers_within("L1", 2.0, 2.0, 0.1) == 1 and crowd.walkers_within("L1", 9.0, 9.0, 0.45) == 0
