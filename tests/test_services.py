"""Services: Erlang C against the SimPy desk, desk positions that follow staff, kiosks, rooms, lifts, hours."""

from __future__ import annotations

import math

import numpy as np
import pytest
import simpy
from conftest import DATA

from geometry import build_building, resolve_file
from geometry.errors import ScenarioError
from geometry.scenario.hours import OpeningHours
from simulation.day.demand import Distribution
from simulation.day.services import (
    GroupRoomPoint,
    GroupRooms,
    Lift,
    Service,
    ServicePoint,
    StaffMember,
    erlang_b,
    erlang_c,
    erlang_c_wait,
    load_services,
    load_staff,
    service_layout,
    shift_intervals,
)


def _desk(env: simpy.Environment, mean_s: float, positions: int, dist: str = "exponential") -> Service:
    point = ServicePoint("desk", "desk", "G", "hall", (0.0, 0.0), ("borrow",),
                         {"borrow": Distribution(dist=dist, mean_s=mean_s)})
    return Service(env, point, positions)


# --------------------------------------------------------------------------- Erlang formulas

def test_erlang_formulas_match_hand_computed_values() -> None:
    # a = 1 Erlang on 2 servers: B = (1/2) / (1 + 1 + 1/2) = 0.2, C = 2B / (2 - (1 - B)) = 1/3
    assert erlang_b(1.0, 2) == pytest.approx(0.2)
    assert erlang_c(1.0, 2) == pytest.approx(1.0 / 3.0)
    # M/M/2 with lam = mu = 1/90: Wq = C / (2 mu - lam) = (1/3) * 90 = 30 s
    assert erlang_c_wait(1 / 90, 1 / 90, 2) == pytest.approx(30.0)
    # one server: M/M/1, Wq = rho / (mu - lam)
    lam, mu = 1 / 120, 1 / 60
    assert erlang_c_wait(lam, mu, 1) == pytest.approx((lam / mu) / (mu - lam))
    # textbook value (Kleinrock): a = 2, c = 3 gives C = 4/9
    assert erlang_c(2.0, 3) == pytest.approx(4.0 / 9.0)
    with pytest.raises(ValueError, match="stable only"):
        erlang_c(3.0, 3)


def test_staffed_desk_matches_erlang_c_within_5_percent() -> None:
    """Two clerks, Poisson arrivals, exponential service (rho = 0.5): the mean wait of 150,000
    readers (about 4 s of CPU) is within 5% of Erlang C (30 s).

    Run length: waits in a queue are strongly correlated, so the standard error of the mean wait
    falls slowly; at 150,000 readers the batch-means standard error is about 1.8% (2.2% at
    100,000, 3.4% at 50,000), and the 5% bound is about 2.7 standard errors. Seeds 2024 and 11-14
    gave errors of -0.4% to +2.3%."""
    lam, mu, c, n = 1 / 90, 1 / 90, 2, 150_000
    env = simpy.Environment()
    desk = _desk(env, 1 / mu, c)
    for _ in range(c):
        desk.open_position()
    rng = np.random.default_rng(2024)
    waits = np.zeros(n)

    def reader(i: int):  # type: ignore[no-untyped-def]
        got = yield from desk.serve("borrow", rng)
        waits[i] = got[0]

    def arrivals():  # type: ignore[no-untyped-def]
        for i in range(n):
            yield env.timeout(rng.exponential(1 / lam))
            env.process(reader(i))

    env.process(arrivals())
    env.run()
    expected = erlang_c_wait(lam, mu, c)  # 30 s
    batches = waits.reshape(30, -1).mean(axis=1)
    standard_error = batches.std(ddof=1) / math.sqrt(batches.size)
    assert standard_error / expected < 0.025
    assert waits.mean() == pytest.approx(expected, rel=0.05)
    assert desk.served == n


# --------------------------------------------------------------------------- desk positions

def test_positions_follow_staff_and_a_leaving_clerk_finishes_the_reader_first() -> None:
    env = simpy.Environment()
    desk = _desk(env, 100.0, 2, dist="fixed")
    rng = np.random.default_rng(0)
    log: list[tuple[str, float]] = []
    assert desk.open_positions == 0

    def reader(name: str, at: float):  # type: ignore[no-untyped-def]
        yield env.timeout(at)
        yield from desk.serve("borrow", rng)
        log.append((name, env.now))

    def clerk():  # type: ignore[no-untyped-def]
        yield env.timeout(50)
        desk.open_position()  # 50 s: desk opens
        yield env.timeout(60)
        yield desk.close_position()  # asks to leave at 110 s, reader a is served until 150 s
        log.append(("closed", env.now))

    env.process(reader("a", 10))  # waits until the desk opens at 50, done at 150
    env.process(reader("b", 120))  # desk closed by then: waits for ever
    env.process(clerk())
    env.run(until=1000)
    assert log == [("a", 150.0), ("closed", 150.0)]
    assert desk.open_positions == 0
    assert desk.queue_length == 1  # b still waiting
    assert desk.staffed.total_at(1000) == pytest.approx(60.0)  # open from 50 s to 110 s
    assert desk.busy.total_at(1000) == pytest.approx(100.0)


def test_reader_gives_up_at_patience_and_a_closed_desk_serves_no_one() -> None:
    env = simpy.Environment()
    desk = _desk(env, 30.0, 1, dist="fixed")
    rng = np.random.default_rng(0)
    out = []

    def reader():  # type: ignore[no-untyped-def]
        got = yield from desk.serve("borrow", rng, patience_s=120.0)
        out.append((got, env.now))

    env.process(reader())
    env.run()
    assert out == [(None, 120.0)]
    assert desk.queue_length == 0 and desk.served == 0


def test_staff_member_opens_desk_for_shift_and_takes_shelving_rounds() -> None:
    env = simpy.Environment()
    import mesa

    from simulation.day.services import ShelvingSpec

    model = mesa.Model(rng=np.random.default_rng(1))
    desk = _desk(env, 60.0, 2)
    where: list[tuple[float, str | None]] = []

    def move(staff: StaffMember, zone: str | None) -> None:
        staff.zone_id = zone
        where.append((env.now, zone))

    shelving = ShelvingSpec(every_s=3600, round_s=600, min_at_desk=1)
    a = StaffMember(model, staff_id="a", role="desk", desk=desk, shifts=[(0.0, 8 * 3600.0)], shelving=shelving,
                    stacks=["stacks"], home_zone="office")
    b = StaffMember(model, staff_id="b", role="desk", desk=desk, shifts=[(0.0, 8 * 3600.0)], shelving=shelving,
                    stacks=["stacks"], home_zone="office")
    env.process(a.work(env, move))
    env.process(b.work(env, move))
    env.run(until=3600 + 1)
    # at 1 h one clerk went shelving (the other stays: min_at_desk = 1)
    assert desk.open_positions == 1
    assert sorted(z for t, z in where if t == 3600.0) == ["stacks"]
    env.run(until=8 * 3600 + 10)
    assert desk.open_positions == 0
    assert a.rounds + b.rounds >= 7  # one round an hour, never both at once
    # staffed time: 2 x 8 h minus the rounds (10 min each)
    assert desk.staffed.total_at(8 * 3600) == pytest.approx(2 * 8 * 3600 - (a.rounds + b.rounds) * 600, rel=1e-9)


# --------------------------------------------------------------------------- rooms, lifts, hours

def test_group_rooms_book_the_smallest_free_room_that_fits() -> None:
    rooms = GroupRooms([GroupRoomPoint("big", "G", 8, 7200.0), GroupRoomPoint("small", "G", 4, 3600.0)])
    r1 = rooms.book(1, 3, 0.0, 9000.0)
    assert r1 is not None and r1.point.zone_id == "small" and r1.until_s == 3600.0
    assert rooms.book(2, 5, 0.0, 100.0).point.zone_id == "big"  # type: ignore[union-attr]
    assert rooms.book(3, 2, 0.0, 100.0) is None
    rooms.release(r1, 50.0)
    assert rooms.book(3, 2, 60.0, 100.0) is r1


def test_lift_ride_time_and_capacity() -> None:
    from geometry.model import Link

    env = simpy.Environment()
    link = Link("lift", "lift", (("G", "a", 0, 0), ("L1", "b", 0, 0)), capacity=2, speed_m_s=1.0, door_s=8.0)
    lift = Lift(env, link, {"G": 0.0, "L1": 4.0}, boarding_s=3.0)
    assert lift.ride_s("G", "L1") == pytest.approx(3 + 16 + 4)
    waits: list[float] = []

    def rider():  # type: ignore[no-untyped-def]
        w = yield from lift.ride("G", "L1")
        waits.append(w)

    for _ in range(3):
        env.process(rider())
    env.run()
    assert sorted(waits) == [0.0, 0.0, 23.0]  # a third rider waits for a place
    assert lift.running.total_at(env.now) == pytest.approx(46.0)


def test_opening_hours_parse_osm_rules() -> None:
    h = OpeningHours.parse("Mo-Fr 09:00-12:00,13:00-21:00; Sa 10:00-18:00; Su off")
    assert h.intervals(0) == ((9 * 3600.0, 12 * 3600.0), (13 * 3600.0, 21 * 3600.0))
    assert h.intervals(5) == ((10 * 3600.0, 18 * 3600.0),)
    assert h.intervals(6) == ()
    assert h.hours_per_week() == pytest.approx(5 * 11 + 8)
    assert OpeningHours.parse("Tu-Su 09:00-20:00").intervals(0) == ()
    assert OpeningHours.parse("Sa-Mo 10:00-12:00").intervals(0) == ((36000.0, 43200.0),)
    assert OpeningHours.parse("24/7").intervals(3) == ((0.0, 86400.0),)
    for bad in ("Mo-Fr 9-21", "Xy 09:00-10:00", "Mo 10:00-09:00", "PH 10:00-12:00", "Mo 09:00-12:00,11:00-13:00"):
        with pytest.raises(ValueError):
            OpeningHours.parse(bad)


def test_shift_keywords_cover_the_day() -> None:
    opening = [(9 * 3600.0, 21 * 3600.0)]
    (a0, a1), = shift_intervals("early", opening)
    (b0, b1), = shift_intervals("late", opening)
    assert a0 == 9 * 3600 - 900 and b1 == 21 * 3600 + 900
    assert b0 < a1  # the shifts overlap for the hand-over
    assert shift_intervals("08:00-12:00,13:00-17:00", opening) == [(28800.0, 43200.0), (46800.0, 61200.0)]


# --------------------------------------------------------------------------- the scenario sections

def test_default_services_come_from_the_furniture() -> None:
    src = resolve_file(DATA / "day-small.yaml")
    b = build_building(src)
    layout = service_layout(load_services(src), b, src)
    assert [d.id for d in layout.desks] == ["desk-counter"]
    assert layout.desks[0].zone_id == "hall"
    assert [k.id for k in layout.kiosks] == ["kiosk-1"]
    staff = load_staff(src, layout)
    assert [m.id for m in staff.members] == ["clerk-early", "clerk-late"]
    # the district branch without a services section for desks: counters, kiosks, group rooms
    dsrc = resolve_file("scenarios/district-branch.yaml")
    dl = service_layout(load_services(dsrc), build_building(dsrc, check_reach=False), dsrc)
    assert [d.id for d in dl.desks] == ["desk-counter-G"]
    assert {k.id for k in dl.kiosks} == {"kiosk-1", "kiosk-2", "kiosk-return"}
    assert dict(zip((k.id for k in dl.kiosks), (k.tasks for k in dl.kiosks), strict=True))["kiosk-return"] == (
        "return",)
    assert {r.zone_id for r in dl.group_rooms} == {"group-L1a", "group-L1b"}
    assert load_services(dsrc).hours.intervals(0) == ()  # closed on Mondays ("Tu-Su 09:00-20:00")


def test_services_and_staff_errors_name_file_line_and_field(tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = (DATA / "day-small.yaml").read_text()
    bad = text.replace('opening_hours: "Mo-Su 09:00-21:00"', 'opening_hours: "Mo-Su 9-21"')
    f = tmp_path / "bad-hours.yaml"
    f.write_text(bad)
    with pytest.raises(ScenarioError) as err:
        load_services(resolve_file(f))
    line = bad.splitlines().index('  opening_hours: "Mo-Su 9-21"') + 1
    assert f"bad-hours.yaml:{line}: services.opening_hours:" in str(err.value)
    assert "is not a time range" in str(err.value)

    bad = text.replace("desk: desk-counter, shift: early", "desk: front-desk, shift: early")
    f = tmp_path / "bad-staff.yaml"
    f.write_text(bad)
    src = resolve_file(f)
    with pytest.raises(ScenarioError) as err:
        load_staff(src, service_layout(load_services(src), build_building(src), src))
    line = next(i for i, s in enumerate(bad.splitlines(), 1) if "front-desk" in s)
    assert f"bad-staff.yaml:{line}: staff.members[0].desk: staff 'clerk-early' works at desk 'front-desk'" in str(
        err.value)

    bad = text.replace("service_s: {dist: exponential, mean_s: 90}", "service_s: {dist: lognormal, mean_s: 90}")
    f = tmp_path / "bad-dist.yaml"
    f.write_text(bad)
    with pytest.raises(ScenarioError) as err:
        load_services(resolve_file(f))
    assert "services.desks[0].service_s: a lognormal distribution needs mean_s, sd_s (missing sd_s)" in str(err.value)
