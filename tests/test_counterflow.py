"""Counterflow: people walking against each other in a 1 m aisle and through a door pass, nobody stays stuck.

The collision-free speed model pushes two people who meet head on straight back; the side step of
:mod:`simulation.crowd.kernels.csm` (rule 3b: step aside, pass on the right) resolves it. Nobody is
ever put anywhere by hand here: the crowd has no watchdog, so "everyone arrived" means they walked.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely.geometry import box

from simulation.crowd import Crowd, CSMParameters, Target

DT_S = 0.05  # the library day's step


def _grid(x0: float, y0: float, x1: float, y1: float, n: int, gap: float = 0.6) -> np.ndarray:
    pts = [(x, y) for x in np.arange(x0, x1, gap) for y in np.arange(y0, y1, gap)]
    assert len(pts) >= n
    return np.asarray(pts[:n])


def _finish(crowd: Crowd, ids: list[int], limit_s: float) -> tuple[int, float]:
    """(people still walking at ``limit_s``, time the last one arrived [s])."""
    t = crowd.time_s
    while crowd.walking.size and t < limit_s:
        t, _ = crowd.advance(min(limit_s, t + 10.0), stop_on_arrival=False)
    times = [crowd.arrival_time_s(i) for i in ids if not crowd.is_walking(i)]
    return int(crowd.walking.size), max(times) if times else float("nan")


def swap_aisle(params: CSMParameters, *, n: int = 20, seed: int = 1, limit_s: float = 200.0) -> tuple[int, float]:
    """Two groups of ``n`` swap ends through a 1 m wide, 10 m long aisle between two 4 m x 4 m rooms."""
    walk = shapely.union_all([box(-4, -1.5, 0.01, 2.5), box(0, 0, 10, 1), box(9.99, -1.5, 14, 2.5)])
    crowd = Crowd.from_polygons(walk, params=params, dt_s=DT_S, seed=seed)
    rng = np.random.default_rng(seed)
    a = _grid(-3.6, -1.1, -0.3, 2.2, n)
    b = a.copy()
    b[:, 0] = 10.0 - a[:, 0]
    ids = [*crowd.add_many("0", a, Target.box("0", 11.0, -1.5, 14.0, 2.5), rng.uniform(1.1, 1.5, n)),
           *crowd.add_many("0", b, Target.box("0", -4.0, -1.5, -1.0, 2.5), rng.uniform(1.1, 1.5, n))]
    return _finish(crowd, ids, limit_s)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_two_groups_of_20_swap_ends_of_a_1_m_aisle(seed: int) -> None:
    left, last_s = swap_aisle(CSMParameters(), seed=seed)
    assert left == 0, f"{left} people never got through"
    # free walking takes about 14 s; single file both ways through 10 m of aisle takes longer, not minutes
    assert last_s < 120.0


def test_a_single_file_each_way_passes_in_a_1_m_aisle_thanks_to_the_side_step() -> None:
    def run(params: CSMParameters) -> float:
        crowd = Crowd.from_polygons(box(-2, 0, 12, 1), params=params, dt_s=DT_S, seed=1)
        a = crowd.add_many("0", np.array([[-1.5 + 0.6 * k, 0.5] for k in range(10)]),
                           Target.box("0", 11, 0, 12, 1), 1.3)
        b = crowd.add_many("0", np.array([[11.5 - 0.6 * k, 0.5] for k in range(10)]),
                           Target.box("0", -2, 0, -1, 1), 1.3)
        left, last_s = _finish(crowd, [*a, *b], 300.0)
        assert left == 0
        return last_s

    with_step = run(CSMParameters())
    free_s = 12.5 / 1.3 + 0.6 * 9 / 1.3  # the last of each file walks 12.5 m, behind nine others
    assert with_step < 1.6 * free_s
    # without the side step the two files block each other until the stuck rule squeezes them past
    assert run(CSMParameters(counterflow_strength=0.0)) > 2.0 * with_step


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_crossing_flows_through_a_doorway(seed: int) -> None:
    """20 people in each of two rooms go to the other room through one 0.9 m door."""
    wall = 0.2
    walk = shapely.union_all([box(0, 0, 6, 6), box(6, 2.55, 6 + wall, 3.45), box(6 + wall, 0, 12.2, 6)])
    crowd = Crowd.from_polygons(walk, dt_s=DT_S, seed=seed)
    rng = np.random.default_rng(seed)
    a = _grid(0.5, 0.5, 5.5, 5.5, 20, 1.0)
    b = a.copy()
    b[:, 0] = 12.2 - a[:, 0]
    ids = [*crowd.add_many("0", a, Target.box("0", 8.2, 0, 12.2, 6), rng.uniform(1.1, 1.5, 20)),
           *crowd.add_many("0", b, Target.box("0", 0, 0, 4, 6), rng.uniform(1.1, 1.5, 20))]
    left, last_s = _finish(crowd, ids, 200.0)
    assert left == 0, f"{left} people never got through the door"
    assert last_s < 150.0  # about 110 s measured: both crowds press on one door
    # nobody crossed a wall: every position is on the floor
    assert shapely.contains_xy(walk.buffer(1e-6), *crowd.positions(ids).T).all()


def test_the_published_model_has_no_side_step() -> None:
    assert CSMParameters.jupedsim().counterflow_strength == 0.0
    with pytest.raises(ValueError, match="counterflow"):
        CSMParameters(counterflow_strength=-1.0)


def test_two_people_wedged_in_a_passage_too_narrow_to_pass_walk_through_with_rule_6() -> None:
    """Face to face in a 0.5 m passage nobody can step aside: without rule 6 they stand there for good."""
    walk = shapely.union_all([box(-4, -1, -2, 1.5), box(-2, 0, 8, 0.5), box(8, -1, 10, 1.5)])

    def run(params: CSMParameters) -> tuple[Crowd, list[int]]:
        crowd = Crowd.from_polygons(walk, params=params, dt_s=DT_S, seed=1)
        ids = [*crowd.add_many("0", np.array([[0.0, 0.25]]), Target.box("0", 8.5, -1, 10, 1.5), 1.3),
               *crowd.add_many("0", np.array([[6.0, 0.25]]), Target.box("0", -4, -1, -2.5, 1.5), 1.3)]
        _finish(crowd, ids, 120.0)
        return crowd, ids

    stuck, ids = run(CSMParameters())
    assert stuck.walking.size == 2 and stuck.passes == 0
    assert stuck.location(ids[0])[1] < stuck.location(ids[1])[1]  # still face to face after 2 minutes
    through, ids = run(CSMParameters(pass_s=5.0))
    assert through.walking.size == 0
    assert through.passes >= 2  # each of them walked through the other
    # about 10 m at 1.3 m/s after 5 s of standing, not minutes
    assert max(through.arrival_time_s(i) for i in ids) < 30.0
