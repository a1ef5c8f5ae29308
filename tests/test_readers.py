"""Reader decisions (activity plans, logit seat choice, tables for parties) and the grid walker."""

from __future__ import annotations

import math

import numpy as np
import pytest
import simpy
from conftest import DATA, SCENARIOS

from geometry import load_building
from simulation.crowd.routes import STAIR_SPEED_RATIO
from simulation.day.demand import Distribution, SeatPreferences, VisitorType
from simulation.day.readers import (
    SEAT_ATTRS,
    SeatBook,
    break_schedule,
    choose_seat,
    choose_table,
    logit_probabilities,
    plan_visit,
    seat_table_keys,
    seat_utilities,
)
from simulation.day.walker import (
    GridRouter,
    GridWalker,
    Place,
    Walker,
    entrance_places,
    subject_places,
)


@pytest.fixture(scope="module")
def small():  # type: ignore[no-untyped-def]
    return load_building(DATA / "day-small.yaml")


# --------------------------------------------------------------------------- plans

def test_plan_follows_the_visitor_type() -> None:
    rng = np.random.default_rng(0)
    always = VisitorType(return_p=1, borrow_p=1, browse_p=1, seat_p=1, browse_subjects_extra=10,
                         stay_s=Distribution(dist="fixed", mean_s=3600), breaks_per_h=0)
    plan = plan_visit(always, rng, subjects=["a", "b", "c"], subject_weights=[1, 1, 1])
    assert plan.kinds() == ["service", "browse", "browse", "browse", "seat", "service"]
    assert plan.steps[0].task == "return" and plan.steps[-1].task == "borrow"
    assert sorted(s.subject for s in plan.steps if s.kind == "browse") == ["a", "b", "c"]  # type: ignore[type-var]
    assert plan.steps[4].duration_s == 3600
    never = VisitorType()
    assert plan_visit(never, rng, subjects=["a"]).kinds() == []
    group = VisitorType(group_room_p=1.0)
    assert plan_visit(group, rng).kinds() == ["group"]
    assert plan_visit(group, rng, has_group_rooms=False).kinds() == []
    ev = plan_visit(never, rng, event="talk", event_s=1800.0)
    assert ev.kinds() == ["event"] and ev.steps[0].duration_s == 1800.0
    # shares over many visits follow the probabilities
    half = VisitorType(borrow_p=0.5, browse_p=0.25)
    plans = [plan_visit(half, rng, subjects=["a"]) for _ in range(4000)]
    assert np.mean([p.kinds()[-1:] == ["service"] for p in plans]) == pytest.approx(0.5, abs=0.03)
    assert np.mean(["browse" in p.kinds() for p in plans]) == pytest.approx(0.25, abs=0.03)


def test_breaks_are_inside_the_stay_and_do_not_overlap() -> None:
    rng = np.random.default_rng(2)
    d = Distribution(dist="fixed", mean_s=600)
    counts = []
    for _ in range(500):
        b = break_schedule(3 * 3600.0, 1.0, d, 0.3, rng)
        counts.append(len(b))
        ends = [s + length for s, length, _ in b]
        assert all(0 <= s < 3 * 3600 for s, _, _ in b)
        assert all(b[i + 1][0] >= ends[i] for i in range(len(b) - 1))
        assert all(w in ("cafe", "restroom") for _, _, w in b)
    assert np.mean(counts) == pytest.approx(3.0, abs=0.25)  # 1 per hour for 3 h (a few merge at the end)
    assert break_schedule(3600.0, 0.0, d, 0.5, rng) == ()


# --------------------------------------------------------------------------- seat choice

def test_logit_choice_frequencies_match_the_probabilities() -> None:
    v = np.array([0.0, 1.0, 2.0, -np.inf, 0.5])
    ok = np.array([True, True, True, True, False])
    p = logit_probabilities(v, ok)
    assert p[3] == 0 and p[4] == 0
    e = np.exp([0.0, 1.0, 2.0])
    np.testing.assert_allclose(p[:3], e / e.sum())
    rng = np.random.default_rng(7)
    picks = np.bincount([choose_seat(v, ok, rng) for _ in range(20000)], minlength=5) / 20000
    np.testing.assert_allclose(picks, p, atol=0.012)
    assert choose_seat(v, ok, rng, min_utility=1.5) == 2
    assert choose_seat(v, np.zeros(5, bool), rng) == -1


def test_utilities_weigh_attributes_distance_and_strangers() -> None:
    attrs = np.zeros((3, len(SEAT_ATTRS)), dtype=bool)
    attrs[0, SEAT_ATTRS.index("window")] = True
    attrs[1, SEAT_ATTRS.index("power")] = True
    prefs = SeatPreferences(window=0.5, power=0.8, distance_per_m=-0.1, neighbours=-1.0)
    v = seat_utilities(attrs, prefs.coefficients(SEAT_ATTRS), np.array([10.0, 20.0, np.inf]), np.array([0, 1, 0]),
                       distance_per_m=prefs.distance_per_m, neighbour_coef=prefs.neighbours)
    np.testing.assert_allclose(v[:2], [0.5 - 1.0, 0.8 - 2.0 - 1.0])
    assert v[2] == -np.inf  # unreachable


def test_parties_sit_together_at_one_table() -> None:
    tables = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2])
    v = np.array([1.0, 0.9, 0.8, 0.7, 1.2, 1.1, 0.0, 0.0, 9.0])
    free = np.array([True, True, True, False, True, True, False, False, True])
    rng = np.random.default_rng(1)
    for _ in range(50):
        seats = choose_table(v, free, tables, 3, rng)
        assert list(seats) == [0, 1, 2]  # the only table with three free seats
    got = {tuple(sorted(choose_table(v, free, tables, 2, rng))) for _ in range(200)}
    assert got == {(0, 1), (4, 5)}  # best two seats of either table
    assert choose_table(v, free, tables, 4, rng).size == 0


def test_seat_book_tables_neighbours_and_holding(small) -> None:  # type: ignore[no-untyped-def]
    book = SeatBook(small)
    assert len(book) == 26
    keys = seat_table_keys(book.ids)
    assert keys.count("tables-r1c1") == 4 and "win-1" in keys
    assert book.n_tables == 6 + 2
    i, j = book.index["tables-r1c1-1"], book.index["tables-r1c1-3"]
    book.hold(i, 101)
    assert book.neighbours()[j] == 1 and book.neighbours()[i] == 0
    with pytest.raises(RuntimeError, match="held by reader 101"):
        book.hold(i, 102)
    with pytest.raises(RuntimeError, match="leaves seat"):
        book.release(i, 102)
    book.release(i, 101)
    assert book.free.all()
    assert book.in_zone_kinds(["reading_room"]).sum() == 26
    assert book.in_zone_kinds(["stacks"]).sum() == 0


# --------------------------------------------------------------------------- walking

def test_grid_distances_follow_walls_and_doors(small) -> None:  # type: ignore[no-untyped-def]
    r = GridRouter(small)
    door = entrance_places(small)[0]
    assert door.ref == "main-door" and door.zone_id == "hall"
    seat = r.seat_place("win-1")  # (19.5, 1.0), reached through the door at (5, 5)
    d = r.floor_distance_m(door, seat)
    via_door = math.hypot(5 - 0, 5 - 5) + math.hypot(19.5 - 5, 1.0 - 5)
    assert via_door - 1.0 <= d <= via_door * 1.08 + 0.5  # grid paths are up to 8% longer than straight
    # symmetric and consistent with the vector of seat distances
    assert r.floor_distance_m(seat, door) == pytest.approx(d, abs=1e-3)
    assert r.seat_distances_m(door)[r._seat_index["win-1"]] == pytest.approx(d, abs=1e-3)
    subj = subject_places(small)
    assert set(subj) == {"000", "100", "200"}
    assert r.route(door, subj["200"][0]).distance_m > 0


def test_grid_walker_takes_distance_over_speed(small) -> None:  # type: ignore[no-untyped-def]
    env = simpy.Environment()
    r = GridRouter(small)
    walker = GridWalker(env, r)
    assert isinstance(walker, Walker)

    class Agent:
        speed_m_s = 1.25
        use_lifts = False

    door = r.register(entrance_places(small)[0])  # a walk from its point starts at the whole doorway
    seat = r.seat_place("win-2")
    ev = walker.walk(Agent(), door.floor_id, door.xy, seat)
    env.run()
    res = ev.value
    assert res.distance_m == pytest.approx(r.floor_distance_m(door, seat))
    assert res.duration_s == pytest.approx(res.distance_m / 1.25)
    assert env.now == pytest.approx(res.duration_s)


def test_routes_between_floors_take_stairs_or_lifts() -> None:
    b = load_building(SCENARIOS / "district-branch.yaml", check_reach=False)
    r = GridRouter(b)
    door = entrance_places(b)[0]
    seat = r.seat_place(next(s.id for s in b.seats if s.floor_id == "L1"))
    walk = r.route(door, seat)
    kinds = [leg.kind for leg in walk.legs]
    assert kinds[0] == "walk" and kinds[-1] == "walk" and "stair" in kinds
    stair = next(leg for leg in walk.legs if leg.kind == "stair")
    assert walk.time_s(1.0) == pytest.approx(walk.distance_m + stair.distance_m * (1 / STAIR_SPEED_RATIO - 1))
    lift = r.route(door, seat, use_lifts=True)
    assert [leg.kind for leg in lift.legs].count("lift") == 1
    assert lift.distance_m < walk.distance_m + 1e-9  # lift rides are not walked
    # a seat upstairs costs more than the climb itself
    assert r.seat_distances_m(door)[r._seat_index[seat.ref]] > stair.distance_m


def test_a_point_place_is_found_again_by_its_position(small) -> None:  # type: ignore[no-untyped-def]
    r = GridRouter(small)
    p = r.register(Place("service", "G", "desk-counter", "hall", 3.4, 8.5))
    assert r.place_at("G", (3.4, 8.5)) is p
    q = r.place_at("G", (12.0, 5.0))
    assert q.kind == "point" and q.zone_id == "reading"
