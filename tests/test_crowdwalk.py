"""A library day with the crowd walker: conservation, reproducibility, and walking times from the crowd."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from conftest import DATA

from geometry import build_building, resolve_file
from simulation.day.crowdwalk import CrowdWalker, walker_factory
from simulation.day.kpis import flat
from simulation.day.library_day import DayResult, LibraryDay, run_day
from simulation.day.walker import GridWalker, Place, WalkResult

OPEN_S, CLOSE_S = 9 * 3600.0, 21 * 3600.0  # day-small: Mo-Su 09:00-21:00


def _run(seed: int = 3) -> DayResult:
    src = resolve_file(DATA / "day-small.yaml")
    return run_day(build_building(src), src, seed=seed, progress=False, walker="crowd")


@pytest.fixture(scope="module")
def day() -> DayResult:
    return _run()


def test_the_crowd_walked_everyone(day: DayResult) -> None:
    stats = day.meta["walker_stats"]
    assert day.meta["walker"] == "CrowdWalker"
    walks = int((day.events["event"] == "walk").sum())
    assert walks > 100 and stats["walks"] == walks
    assert 0 < stats["advances"] < 20 * walks  # per event, never per time step (a day is 864k steps)
    assert stats["rescued"] == 0  # nobody got stuck for good


def test_everyone_who_came_left_through_balanced_counters(day: DayResult) -> None:
    ev = day.events
    arrive = ev.loc[ev["event"] == "arrive"].set_index("reader")["t_s"]
    leave = ev.loc[ev["event"] == "leave"].set_index("reader")["t_s"]
    assert len(arrive) > 100
    assert sorted(arrive.index) == sorted(leave.index)
    assert (leave.loc[arrive.index] >= arrive).all()
    assert day.meta["in_building_at_end"] == 0
    assert arrive.min() >= OPEN_S and leave.max() <= CLOSE_S
    tel = day.telemetry
    for device in ("door-counter", "room-counter"):
        t = tel.loc[tel["device"] == device]
        ins = t.loc[t["quantity"] == "people_in", "value"].sum()
        outs = t.loc[t["quantity"] == "people_out", "value"].sum()
        assert ins == outs > 0
    gates = ev.loc[ev["event"].isin(["arrive", "leave"])].groupby(["ref", "event"]).size().unstack()
    assert (gates["arrive"] == gates["leave"]).all()


def test_no_seat_holds_two_readers(day: DayResult) -> None:
    ev = day.events.sort_values("t_s", kind="stable")
    seated: dict[str, int] = {}
    n = 0
    for kind, seat, reader in ev.loc[ev["event"].isin(["seat_take", "seat_leave"]), ["event", "ref", "reader"]] \
            .itertuples(index=False):
        if kind == "seat_take":
            assert seat not in seated, f"seat {seat} taken by {reader} while {seated.get(seat)} sits there"
            seated[seat] = reader
            n += 1
        else:
            assert seated.pop(seat) == reader
    assert n > 20 and not seated


def test_same_seed_same_kpis(day: DayResult) -> None:
    again = _run()
    assert flat(again.kpis) == flat(day.kpis)
    assert again.events["t_s"].equals(day.events["t_s"])  # to the step: no wall clock, no unseeded draws
    assert again.meta["walker_stats"] == day.meta["walker_stats"]


def test_walks_take_longer_than_on_the_grid_but_not_much(day: DayResult) -> None:
    """The crowd walks a path that keeps off walls and accelerates: its walks cost a little more time
    than the grid's shortest path at the same speed; the distances reported are the grid's."""
    grid = run_day(*_source(), seed=3, progress=False)
    assert day.kpis.visits == grid.kpis.visits  # the same arrivals: the walker draws no random numbers
    assert flat(day.kpis)["walking_m_per_visit"] == pytest.approx(flat(grid.kpis)["walking_m_per_visit"], rel=0.15)


def _source():  # type: ignore[no-untyped-def]
    src = resolve_file(DATA / "day-small.yaml")
    return build_building(src), src


def _walker_day() -> tuple[LibraryDay, CrowdWalker]:
    b, src = _source()
    d = LibraryDay(b, src, seed=1, walker="crowd")
    assert isinstance(d.walker, CrowdWalker)
    return d, d.walker


def _party(size: int, speed: float, first_id: int = 10_000) -> SimpleNamespace:
    members = [SimpleNamespace(unique_id=first_id + k, seat=-1) for k in range(size)]
    return SimpleNamespace(members=members, speed_m_s=speed, use_lifts=False)


def _walk(d: LibraryDay, agent: SimpleNamespace, start: Place, to: Place) -> WalkResult:
    proc = d.walker.walk(agent, start.floor_id, start.xy, to)
    d.env.run(until=proc)
    return proc.value


def test_a_lone_walker_takes_about_path_length_over_speed() -> None:
    d, w = _walker_day()
    start = d.entrances[0]
    far = max(d.seats.ids, key=lambda s: d.router.route(start, d.router.seat_place(s)).distance_m)
    to = d.router.seat_place(far)
    speed = 1.2
    res = _walk(d, _party(1, speed), start, to)
    path_m = d.router.route(start, to).distance_m
    assert path_m > 10
    assert res.distance_m == pytest.approx(path_m)
    # the crowd's path keeps off walls and ends within reach of the chair: a little longer or shorter
    assert 0.85 * path_m / speed <= res.duration_s <= 1.3 * path_m / speed
    assert w.stats["advances"] >= 1 and w.crowd.walking.size == 0
    # the grid walker's time for the same walk, for comparison: the same within 30 %
    g = GridWalker(d.env, d.router, d.lifts).walk(_party(1, speed, 20_000), start.floor_id, start.xy, to)
    t0 = d.env.now
    d.env.run(until=g)
    assert res.duration_s == pytest.approx(d.env.now - t0, rel=0.3)


def test_a_slower_walker_takes_longer() -> None:
    d, _ = _walker_day()
    start, to = d.entrances[0], d.router.seat_place(d.seats.ids[-1])
    fast = _walk(d, _party(1, 1.4, 1), start, to).duration_s
    d2, _ = _walker_day()
    slow = _walk(d2, _party(1, 0.7, 1), start, to).duration_s
    assert slow == pytest.approx(2 * fast, rel=0.15)


def test_a_party_through_one_door_takes_no_less_time_than_one_reader() -> None:
    d, _ = _walker_day()
    start = d.entrances[0]
    to = d.zone_place["reading"]
    alone = _walk(d, _party(1, 1.3, 1), start, to)
    d2, w2 = _walker_day()
    party = _walk(d2, _party(6, 1.3, 100), start, to)
    assert party.distance_m == pytest.approx(alone.distance_m)
    assert party.duration_s >= alone.duration_s - 0.1
    assert w2.crowd.walking.size == 0 and len(w2.crowd) == 6  # all six arrived and stand there, idle
    assert w2.stats["rescued"] == 0
    # everyone arrived in the reading zone
    pos = w2.crowd.positions()
    zone = d2.building.zone("reading").polygon
    import shapely

    assert shapely.contains_xy(zone.buffer(0.6), pos[:, 0], pos[:, 1]).all()
    # leaving through the door takes them out of the crowd
    _walk(d2, _party(6, 1.3, 100), to, start)
    assert len(w2.crowd) == 0


def test_walker_names() -> None:
    assert walker_factory("crowd") == CrowdWalker.for_day
    b, src = _source()
    assert isinstance(LibraryDay(b, src, seed=1, walker="grid").walker, GridWalker)
    with pytest.raises(ValueError, match=r"unknown walker 'teleport'.*grid, crowd"):
        walker_factory("teleport")
    assert np.isfinite(CrowdWalker.for_day(LibraryDay(b, src, seed=1).walker_context).crowd.time_s)


def test_events_a_rounding_error_apart_do_not_stall_the_crowd() -> None:
    """An event less than a step after now (float sums) must not make the crowd process spin in place."""
    d, w = _walker_day()
    start, to = d.entrances[0], d.zone_place["reading"]

    def ticks():  # type: ignore[no-untyped-def]
        for _ in range(50):
            yield d.env.timeout(1e-12)

    proc = d.walker.walk(_party(1, 1.3), start.floor_id, start.xy, to)
    d.env.process(ticks())
    d.env.run(until=proc)
    assert proc.value.duration_s > 1.0 and w.crowd.walking.size == 0


@pytest.mark.parametrize("slow", [1e-6, 0.05])
def test_the_watchdog_puts_a_walker_who_cannot_get_on_at_the_target_and_lets_a_slow_one_walk(slow: float) -> None:
    """Someone who stops getting closer is put at the target once their walk is late; someone late but
    still getting closer (the end of a queue) walks on. The speed is cut after they set off, the fault
    the watchdog is there for (the kernel's own rules leave nobody stuck in these buildings)."""
    from simulation.day.crowdwalk import STUCK_S, WATCHDOG_EXTRA_S, WATCHDOG_FACTOR

    d, w = _walker_day()
    start = d.entrances[0]
    to = max((d.router.seat_place(s) for s in d.seats.ids), key=lambda p: d.router.route(start, p).distance_m)
    party = _party(1, 1.2)
    t0 = d.env.now
    proc = w.walk(party, start.floor_id, start.xy, to)
    d.env.run(until=t0 + 1.0)
    i = w._crowd_id[party.members[0].unique_id]
    w.crowd._v0[i] *= slow
    free_s = d.router.route(start, to).distance_m / 1.2
    d.env.run(until=t0 + 30 * free_s + 2000.0)  # a bound, so a watchdog that never fires fails instead of hanging
    assert proc.triggered, "the walk never ended"
    took = proc.value.duration_s
    if slow < 1e-3:  # stands still: put at the seat after the walk is late and they were stuck long enough
        assert w.stats["rescued"] == 1 and len(w.rescues) == 1
        assert took >= WATCHDOG_FACTOR * free_s + WATCHDOG_EXTRA_S - 1.0
        assert took <= WATCHDOG_FACTOR * 1.5 * free_s + WATCHDOG_EXTRA_S + STUCK_S
        _, x, y = w.crowd.location(i)
        assert np.hypot(x - to.x, y - to.y) < 1e-9  # at the seat
    else:  # late (20 times slower) but getting closer all the way: nobody puts them anywhere
        assert w.stats["rescued"] == 0 and not w.rescues
        assert took > WATCHDOG_FACTOR * free_s + WATCHDOG_EXTRA_S
    assert w.crowd.walking.size == 0


def test_two_readers_setting_off_from_one_spot_step_apart_and_both_arrive() -> None:
    """Two parties of one added at the same door at the same instant stand on one point; the second
    steps aside before setting off (two bodies on one point have no direction to part in)."""
    d, w = _walker_day()
    start = d.entrances[0]
    to = d.zone_place["reading"]
    a = w.walk(_party(1, 1.3, 30_000), start.floor_id, start.xy, to)
    b = w.walk(_party(1, 1.3, 30_001), start.floor_id, start.xy, to)
    d.env.run(until=d.env.all_of([a, b]))
    assert w.stats["stepped_aside"] == 1 and w.stats["rescued"] == 0
    assert w.crowd.walking.size == 0
    assert a.value.duration_s < 120 and b.value.duration_s < 120
