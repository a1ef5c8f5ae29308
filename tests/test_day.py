"""A simulated library day: Little's law, conservation, reproducibility, and a variant with fewer seats."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from conftest import DATA

from geometry import build_building, resolve_file
from simulation.day.kpis import flat, littles_law
from simulation.day.library_day import EVENT_COLUMNS, ZONE_COLUMNS, DayResult, run_day

OPEN_S, CLOSE_S = 9 * 3600.0, 21 * 3600.0  # day-small: Mo-Su 09:00-21:00


def _run(variant: str | None = None, seed: int = 3) -> DayResult:
    src = resolve_file(DATA / "day-small.yaml", variant)
    return run_day(build_building(src), src, seed=seed, progress=False)


@pytest.fixture(scope="module")
def day() -> DayResult:
    return _run()


def test_tables_have_their_columns(day: DayResult) -> None:
    assert tuple(day.events.columns) == EVENT_COLUMNS
    assert tuple(day.zones.columns) == ZONE_COLUMNS
    assert len(day.zones) == 24 * 60 * 2  # 1-min steps, two zones
    assert set(day.zones["zone_id"]) == {"hall", "reading"}
    assert day.kpis.visits > 100
    assert day.meta["in_building_at_end"] == 0
    assert day.meta["devices_not_simulated"] == []


def test_littles_law_holds_within_3_percent(day: DayResult) -> None:
    """Mean readers in the building (from the per-minute zone table) = arrival rate x mean stay
    (from the events), over the day and over the opening hours."""
    ev = day.events
    per_minute = day.zones.groupby("t_s")["readers"].sum()
    for t0, t1 in ((0.0, 86400.0), (OPEN_S, CLOSE_S)):
        terms = littles_law(ev, t0, t1)
        occupancy = float(per_minute.loc[(per_minute.index >= t0) & (per_minute.index < t1)].mean())
        assert terms["lambda_w"] > 5
        assert occupancy == pytest.approx(terms["lambda_w"], rel=0.03)
        assert terms["mean_in_building"] == pytest.approx(terms["lambda_w"], rel=0.03)


def test_littles_law_holds_in_each_zone(day: DayResult) -> None:
    """Per zone: mean readers from the zone table = (time each party spent there x its size) / day,
    with the stays rebuilt from the journeys (arrival at the gate, each walk's destination, leaving)."""
    ev = day.events.sort_values("t_s", kind="stable")
    person_s: dict[str, float] = {}
    for _, g in ev.loc[ev["event"].isin(["arrive", "walk", "leave"])].groupby("party"):
        first = g.iloc[0]
        assert first["event"] == "arrive"
        size = int((g["event"] == "arrive").sum())
        zone, since = first["zone_id"], first["t_s"]
        for _, row in g.iloc[1:].iterrows():
            if row["event"] == "arrive":
                continue
            person_s[zone] = person_s.get(zone, 0.0) + (row["t_s"] - since) * size
            if row["event"] == "leave":
                break
            zone, since = row["zone_id"], row["t_s"]
    table = day.zones.groupby("zone_id")["readers"].mean()
    assert set(person_s) == {"hall", "reading"}
    for zone, total in person_s.items():
        assert table[zone] == pytest.approx(total / 86400.0, rel=0.03)


def test_everyone_who_came_left_by_closing_through_balanced_counters(day: DayResult) -> None:
    ev = day.events
    arrive = ev.loc[ev["event"] == "arrive"].set_index("reader")["t_s"]
    leave = ev.loc[ev["event"] == "leave"].set_index("reader")["t_s"]
    assert sorted(arrive.index) == sorted(leave.index)
    assert (leave.loc[arrive.index] >= arrive).all()
    assert arrive.min() >= OPEN_S and leave.max() <= CLOSE_S
    tel = day.telemetry
    for device in ("door-counter", "room-counter"):
        t = tel.loc[tel["device"] == device]
        ins = t.loc[t["quantity"] == "people_in", "value"].sum()
        outs = t.loc[t["quantity"] == "people_out", "value"].sum()
        assert ins == outs > 0
    door = tel.loc[(tel["device"] == "door-counter") & (tel["quantity"] == "people_in"), "value"].sum()
    assert door == len(arrive)  # each visit passes the gate once each way


def test_no_seat_holds_two_readers(day: DayResult) -> None:
    ev = day.events
    seats = ev.loc[ev["event"].isin(["seat_take", "seat_leave"])].sort_values("t_s", kind="stable")
    assert len(seats) > 50
    for seat, g in seats.groupby("ref"):
        kinds = g["event"].tolist()
        assert kinds == ["seat_take", "seat_leave"] * (len(kinds) // 2), seat
        readers = g["reader"].tolist()
        assert readers[0::2] == readers[1::2], seat  # each take is followed by the same reader leaving
        # the next reader sits down no earlier than the last one stood up
        t = g["t_s"].to_numpy()
        assert np.all(t[2::2] >= t[1:-1:2]), seat
    assert day.kpis.seat_occupancy_rate <= 1.0


def test_same_seed_same_day_other_seed_other_day(day: DayResult) -> None:
    again = _run()
    assert json.dumps(again.kpis.to_dict(), sort_keys=True) == json.dumps(day.kpis.to_dict(), sort_keys=True)
    pd.testing.assert_frame_equal(again.events, day.events)
    pd.testing.assert_frame_equal(again.telemetry, day.telemetry)
    other = _run(seed=4)
    assert flat(other.kpis) != flat(day.kpis)


def test_fewer_seats_turn_more_readers_away(day: DayResult) -> None:
    half = _run("half-seats")
    assert half.kpis.seats == 14 and day.kpis.seats == 26
    assert half.kpis.turned_away > day.kpis.turned_away
    assert half.kpis.turned_away >= 10
    # the same readers came (the arrivals do not depend on the building)
    assert half.kpis.visits == day.kpis.visits
    turned = half.events.loc[half.events["event"] == "turned_away"]
    assert set(turned["visitor_type"]) <= {"studier", "browser", "borrower"}
    assert (turned["value"] >= 0).all()


def test_kpis_are_plausible(day: DayResult) -> None:
    k = day.kpis
    assert k.visits_per_opening_hour == pytest.approx(k.visits / 12)
    assert 0 < k.seat_occupancy_rate < 1
    assert k.peak_occupancy >= k.mean_occupancy > 0
    assert set(k.waits) <= {"desk-counter", "kiosk-1"}
    assert k.waits["kiosk-1"].served > 0
    assert 0 < k.staff_utilisation["desk-counter"] < 1
    assert k.energy_kwh["lighting"] == pytest.approx(14 * 200 * 12 / 1000, rel=1e-6)
    assert k.kwh_per_m2 == pytest.approx(k.energy_total_kwh / 200)
    assert k.walking_m_per_visit > 2 * 5  # at least into the hall and back
    assert set(k.co2_hours_above_1000) == {"hall", "reading"}
    assert math.isfinite(k.mean_stay_s)


def test_closed_days_and_several_days(tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = (DATA / "day-small.yaml").read_text().replace('opening_hours: "Mo-Su 09:00-21:00"',
                                                        'opening_hours: "Tu-Su 09:00-21:00"')
    text = text.replace("start_date: 2025-03-05", "start_date: 2025-03-03")  # a Monday
    f = tmp_path / "monday.yaml"
    f.write_text(text)
    src = resolve_file(f)
    res = run_day(build_building(src), src, seed=1, days=2, progress=False)
    arrive = res.events.loc[res.events["event"] == "arrive", "t_s"]
    assert len(arrive) > 50
    assert (arrive >= 86400 + OPEN_S).all()  # nobody on the closed Monday
    assert res.kpis.opening_hours_h == 12
    assert len(res.zones) == 2 * 24 * 60 * 2
    # telemetry time is UTC epoch seconds from local midnight of the first day (the branch is on UTC)
    assert res.telemetry["time"].min() == pytest.approx(1740960000 + 30)  # 2025-03-03 00:00 UTC + 30 s
    assert res.meta["start"] == "2025-03-03" and res.meta["days"] == 2


def test_results_write_and_read_back(day: DayResult, tmp_path) -> None:  # type: ignore[no-untyped-def]
    paths = day.write(tmp_path / "out")
    assert [p.name for p in paths] == ["kpis.json", "zones.parquet", "events.parquet", "telemetry.parquet",
                                       "energy.parquet"]
    saved = json.loads(paths[0].read_text())
    assert saved["kpis"]["visits"] == day.kpis.visits and saved["meta"]["branch"] == "small-day"
    zones = pd.read_parquet(paths[1])
    assert len(zones) == len(day.zones)
    tel = pd.read_parquet(paths[3])
    assert list(tel.columns) == list(day.telemetry.columns)
    assert len(tel) == len(day.telemetry)


def test_building_and_scenario_must_match() -> None:
    src = resolve_file(DATA / "day-small.yaml")
    other = build_building(resolve_file(DATA / "small-branch.yaml"))
    with pytest.raises(ValueError, match="does not come from scenario"):
        run_day(other, src, seed=1, progress=False)
