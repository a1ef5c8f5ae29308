"""Busiest times: percentiles by hour per day type, from a crafted history and from a simulated run."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from conftest import SCENARIOS

UTC = "UTC"


def test_percentiles_by_hour_and_day_type_by_hand() -> None:
    from twin.busiest import BUILDING, busiest_times

    rows = []
    first = dt.date(2026, 11, 2)  # a Monday
    for k in range(14):
        d = first + dt.timedelta(days=k)
        midnight = dt.datetime.combine(d, dt.time(0), tzinfo=dt.UTC).timestamp()
        for minute in range(0, 24 * 60, 5):
            t = midnight + minute * 60
            busy = 10.0 * k if minute // 60 == 10 else 1.0  # at 10:00-11:00 day k has 10 k people
            rows += [(t, "a", busy), (t, "b", 2.0)]
    hist = pd.DataFrame(rows, columns=["time", "zone", "occupancy"])
    table = busiest_times(hist, timezone=UTC, day_type_of=lambda d: "weekend" if d.weekday() >= 5 else "weekday",
                          hours=lambda d: [(9 * 3600.0, 17 * 3600.0)])
    assert set(table["hour"]) == set(range(9, 17))  # closed hours are left out
    wk = table.loc[(table["day_type"] == "weekday") & (table["zone"] == "a") & (table["hour"] == 10)].iloc[0]
    weekdays = np.array([10.0 * k for k in range(14) if (first + dt.timedelta(days=k)).weekday() < 5])
    assert wk["days"] == 10 and wk["median"] == pytest.approx(np.median(weekdays))
    assert wk["p10"] == pytest.approx(np.percentile(weekdays, 10)) and wk["p90"] == pytest.approx(
        np.percentile(weekdays, 90))
    b = table.loc[(table["zone"] == BUILDING) & (table["hour"] == 12)]
    assert (b["median"] == 3.0).all() and (b["p10"] == 3.0).all()  # the building is the zones' sum


def test_a_simulated_day_gives_its_hourly_means() -> None:
    from geometry import build_building, resolve_file
    from simulation.day.library_day import run_day
    from twin.busiest import BUILDING, busiest_times, occupancy_from_run

    src = resolve_file(SCENARIOS / "service-point.yaml")
    r = run_day(build_building(src), src, seed=9, progress=False)
    hist = occupancy_from_run(r.zones, r.meta)
    table = busiest_times(hist, timezone=r.meta["timezone"], day_type_of=lambda d: "day",
                          hours=lambda d: [(a, b) for a, b in r.meta["open_intervals_s"]])
    b = table.loc[table["zone"] == BUILDING].set_index("hour")
    z = r.zones.loc[r.zones["is_open"]]
    truth = z.groupby((z["t_s"] // 3600).astype(int))["readers"].sum() / z.groupby(
        (z["t_s"] // 3600).astype(int))["t_s"].nunique()
    for hour, mean in truth.items():
        assert b.loc[hour, "median"] == pytest.approx(mean, rel=1e-9, abs=1e-9)
        assert b.loc[hour, "p10"] == b.loc[hour, "median"] == b.loc[hour, "p90"]  # one day: no spread


def test_busiest_times_from_the_occupancy_sensors_in_the_store(store) -> None:  # type: ignore[no-untyped-def]
    import pyarrow as pa

    from geometry import build_building, resolve_file
    from geometry.quantities import TELEMETRY_SCHEMA
    from twin.busiest import BUILDING, sensor_busiest, sensor_occupancy

    src = resolve_file(SCENARIOS / "service-point.yaml")  # open 08:00-22:00 every day; one sensor, in 'reading'
    building = build_building(src, check_reach=False)
    tz = ZoneInfo(src.scenario.branch.timezone)
    today = dt.date(2026, 11, 5)
    rows = []
    for k in range(4):  # three past days and today
        midnight = dt.datetime.combine(today - dt.timedelta(days=3 - k), dt.time(0), tzinfo=tz).timestamp()
        for minute in range(24 * 60):
            busy = float(k + 1) if minute // 60 == 10 else 2.0  # 10:00-11:00: 1, 2, 3 persons, today 4
            rows += [("occ-reading", midnight + minute * 60, busy), ("occ-elsewhere", midnight + minute * 60, 50.0)]
    store.write_readings(pa.table({
        "branch": ["service-point"] * len(rows), "device": [r[0] for r in rows], "quantity": ["occupancy"] * len(rows),
        "unit": ["count"] * len(rows), "time": [r[1] for r in rows], "value": [r[2] for r in rows],
        "bool_value": pa.array([None] * len(rows), pa.bool_()), "string_value": pa.array([None] * len(rows),
                                                                                           pa.string())},
        schema=TELEMETRY_SCHEMA))
    first = dt.datetime.combine(today - dt.timedelta(days=3), dt.time(10), tzinfo=tz).timestamp()
    occ = sensor_occupancy(store, building, first, first + 3600.0)
    assert occ["zone"].unique().tolist() == ["reading"]  # a device the building does not have is left out
    assert len(occ) == 12 and (occ["occupancy"] == 1.0).all()  # 5-minute means of the sensor
    result = sensor_busiest(store, src, building, today=today, days=3, day_type_of=lambda d: "day")
    assert (result.since, result.until) == (today - dt.timedelta(days=3), today - dt.timedelta(days=1))
    b = result.day("day", BUILDING).set_index("hour")
    assert b.index.tolist() == list(range(8, 22))  # opening hours only
    assert b.loc[10, "days"] == 3 and b.loc[10, "median"] == pytest.approx(2.0)  # today's 4 is not history
    assert b.loc[10, "p10"] == pytest.approx(1.2) and b.loc[10, "p90"] == pytest.approx(2.8)
    assert (b.drop(index=10)["median"] == 2.0).all()
