"""The movement model against the literature: RiMEA tests, Weidmann's fundamental diagram, bottlenecks.

Sources
-------
RiMEA e.V. (2022). Guideline for microscopic evacuation analysis, version 4.0: test 1 (walk
40 m at 1.33 m/s in 26-34 s), test 6 (20 people round a corner without crossing walls).
Weidmann, U. (1993). Transporttechnik der Fussgaenger. Schriftenreihe des IVT 90, ETH Zuerich:
v(rho) = 1.34 (1 - exp(-1.913 (1/rho - 1/5.4))) m/s.
Seyfried, A. et al. (2009). New insights into pedestrian flow through bottlenecks. Transportation
Science 43(3), 395-406; Kretz, T. et al. (2006), J. Stat. Mech. P10014: about 1.8-1.9
persons/(m s) through bottlenecks about 1 m wide, flow growing with the width.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
import shapely
from shapely.geometry import Point, box

from simulation import Crowd, Target, periodic_corridor
from simulation.crowd import CSMParameters
from simulation.day.crowdwalk import DAY_DT_S, DAY_PASS_S

#: Every movement model users get: evacuations (the calibrated defaults at JuPedSim's 0.01 s step) and
#: the library day's crowd walker (0.05 s, walking through after 10 s stuck: rule 6).
MODELS = {"evacuation": (CSMParameters(), 0.01), "library-day": (CSMParameters(pass_s=DAY_PASS_S), DAY_DT_S)}


@pytest.fixture(params=sorted(MODELS))
def model(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Keyword arguments of :class:`Crowd` for one movement model: ``params`` and ``dt_s``."""
    params, dt_s = MODELS[request.param]
    return {"params": params, "dt_s": dt_s}


def weidmann_speed(rho: float) -> float:
    """Weidmann's (1993) walking speed at density rho [1/m2] [m/s]."""
    return 1.34 * (1.0 - math.exp(-1.913 * (1.0 / rho - 1.0 / 5.4)))


def jittered_grid(rng: np.random.Generator, n: int, x0: float, y0: float, x1: float, y1: float,
                  min_gap: float = 0.42) -> np.ndarray:
    """n points on a jittered grid in a box, at least ``min_gap`` apart (as the benchmark scene)."""
    w, h = x1 - x0, y1 - y0
    ky = max(1, round(math.sqrt(n * h / w * 1.15)))
    kx = math.ceil(n * 1.15 / ky)
    px, py = w / kx, h / ky
    assert min(px, py) > min_gap, "too dense for a jittered grid"
    cells = rng.choice(kx * ky, size=n, replace=False)
    ix, iy = cells % kx, cells // kx
    jx, jy = (px - min_gap) / 2, (py - min_gap) / 2
    return np.column_stack([x0 + (ix + 0.5) * px + rng.uniform(-jx, jx, n),
                            y0 + (iy + 0.5) * py + rng.uniform(-jy, jy, n)])


def test_rimea_1_one_person_walks_40_m_at_1_33_m_s_in_26_to_34_s(model: dict[str, Any]) -> None:
    crowd = Crowd.from_polygons(box(0, 0, 42, 2), exits={"end": box(41.5, 0, 42, 2)}, **model)
    who = crowd.add("0", 1.5, 1.0, Target.exits("0"), 1.33)  # 40 m to the end region
    crowd.advance(60.0)
    assert 26.0 <= crowd.arrival_time_s(who) <= 34.0
    assert crowd.arrival_time_s(who) == pytest.approx(40.0 / 1.33, abs=0.1)


def _step_and_check(crowd: Crowd, free, until_s: float) -> float:  # type: ignore[no-untyped-def]
    """Advance one time step at a time, asserting every walker stands in the free space; min wall distance."""
    edge = free.boundary
    closest = math.inf
    while crowd.walking.size and crowd.time_s < until_s:
        crowd.advance(crowd.time_s + crowd.dt_s, stop_on_arrival=False)
        w = crowd.walking
        if w.size == 0:
            break
        p = crowd.positions(w)
        inside = shapely.contains_xy(free, p[:, 0], p[:, 1])
        assert inside.all(), f"t = {crowd.time_s:.2f} s: {p[~inside]} outside the walkable area"
        closest = min(closest, float(shapely.distance(edge, shapely.points(p)).min()))
    return closest


@pytest.mark.parametrize("people", [1, 20])
def test_rimea_6_people_turn_a_corner_without_touching_the_walls(people: int, model: dict[str, Any]) -> None:
    walk = box(0, 0, 12, 2).union(box(10, 0, 12, 12))
    crowd = Crowd.from_polygons(walk, exits={"end": box(10, 11.5, 12, 12)}, **model)
    if people == 1:
        xy = np.array([[1.0, 1.0]])
    else:
        xy = np.array([(x, y) for x in np.linspace(0.6, 5.4, 5) for y in np.linspace(0.4, 1.6, 4)])
    ids = crowd.add_many("0", xy, Target.exits("0"), 1.34)
    closest = _step_and_check(crowd, crowd.navigator.spaces["0"].free, 60.0)
    assert all(crowd.reached(i) == "end" for i in ids)
    # the body (r = 0.2 m) never touches a wall; at the library day's 0.05 s step (6.7 cm a step at
    # 1.34 m/s) a body pressed by others may graze one by a few millimetres (measured: 3 mm)
    graze = 0.005 if crowd.dt_s >= DAY_DT_S else 0.0
    assert closest > crowd.params.radius_m - graze


def test_people_leave_a_furnished_room_through_a_door_and_never_cross_a_wall(model: dict[str, Any]) -> None:
    rng = np.random.default_rng(11)
    room = box(0, 0, 10, 8)
    walk = room.union(box(10, 3.5, 10.3, 4.5)).union(box(10.3, 2, 12, 6))  # a 1 m door in a 0.3 m wall
    shelves = [box(2, y, 7, y + 0.5) for y in (1.5, 3.5, 5.5)]
    column = Point(8.5, 2).buffer(0.3)
    crowd = Crowd.from_polygons(walk, [*shelves, column], exits={"out": box(11.5, 2, 12, 6)}, **model)
    free = crowd.navigator.spaces["0"].free
    assert not free.intersects(shelves[1].buffer(-0.01))
    spots = [(x, y) for x in np.arange(0.5, 9.6, 0.6) for y in (0.6, 1.1, 2.5, 3.0, 4.5, 5.0, 6.5, 7.1)]
    spots = [p for p in spots if column.distance(Point(p)) > 0.3]
    xy = np.asarray(spots)[rng.choice(len(spots), 60, replace=False)]
    ids = crowd.add_many("0", xy, Target.exits("0"), rng.normal(1.34, 0.26, 60).clip(0.6, 2.0))
    closest = _step_and_check(crowd, free, 120.0)
    assert all(crowd.reached(i) == "out" for i in ids)
    assert closest > 0.1  # pressed by others, bodies may graze a wall, centres stay well clear


def test_fundamental_diagram_follows_weidmann_in_a_periodic_corridor(model: dict[str, Any]) -> None:
    length, width = 20.0, 3.0
    speeds = {}
    for rho in (0.5, 1.0, 2.0, 3.0):
        rng = np.random.default_rng(int(rho * 10))
        crowd, target = periodic_corridor(length, width, **model)
        n = round(rho * length * width)
        ids = crowd.add_many("corridor", jittered_grid(rng, n, 0.0, 0.25, length, width - 0.25), target, 1.34)
        crowd.advance(20.0, stop_on_arrival=False)  # settle into lanes
        samples = []
        for k in range(1, 41):
            crowd.advance(20.0 + 0.5 * k, stop_on_arrival=False)
            samples.append(crowd.velocities(ids)[:, 0].mean())
        speeds[rho] = float(np.mean(samples))
        assert len(crowd.walking) == n  # a periodic corridor never empties
    for rho, v in speeds.items():
        assert abs(v - weidmann_speed(rho)) <= 0.3, f"rho {rho}: {v:.3f} m/s vs Weidmann {weidmann_speed(rho):.3f}"
    # the speed falls with density
    vs = [speeds[r] for r in sorted(speeds)]
    assert all(a > b for a, b in itertools.pairwise(vs))
    # calibrated defaults: on average within 0.15 m/s (published JuPedSim T = 1 s: about 0.2 m/s)
    assert np.mean([abs(v - weidmann_speed(r)) for r, v in speeds.items()]) < 0.15


def bottleneck_flow(width_m: float, seed: int = 0, n: int = 150, model: dict[str, Any] | None = None) -> float:
    """Persons per second through a door of ``width_m`` in a 0.4 m wall, crowd of n waiting behind."""
    rng = np.random.default_rng(seed)
    walk = box(0, 0, 8, 8).union(box(8, 4 - width_m / 2, 8.4, 4 + width_m / 2)).union(box(8.4, 0, 12, 8))
    crowd = Crowd.from_polygons(walk, exits={"door": box(8.4, 4 - width_m / 2, 8.7, 4 + width_m / 2)}, seed=seed,
                                **(model or {}))
    ids = crowd.add_many("0", jittered_grid(rng, n, 0.5, 0.5, 7.5, 7.5), Target.exits("0"),
                         rng.normal(1.34, 0.26, n).clip(0.8, 2.0))
    crowd.advance(300.0, stop_on_arrival=False)
    t = np.sort([crowd.arrival_time_s(i) for i in ids])
    assert np.isfinite(t).all(), f"{np.isnan(t).sum()} people never got through a {width_m} m door"
    k0, k1 = 20, n - 20  # the steady part of the outflow
    return (k1 - k0) / (t[k1] - t[k0])


def test_bottleneck_1_m_gives_the_measured_specific_flow_and_flow_grows_with_width(model: dict[str, Any]) -> None:
    flows = {w: bottleneck_flow(w, model=model) for w in (0.8, 1.0, 1.6)}
    specific = flows[1.0] / 1.0
    assert 1.5 <= specific <= 2.1, f"{specific:.2f} persons/(m s) through a 1 m door"
    assert flows[0.8] < flows[1.0] < flows[1.6]
    assert 1.5 <= flows[1.6] / 1.6 <= 2.1
