"""Indicators: the same from a simulated day's own tables and from its telemetry in a store; ranking."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SCENARIOS

#: The district branch with a transaction counter at the lending desk (so desk waits and the
#: self-service share are measured, not only the kiosks').
DESK_COUNTER = ("  - {id: desk-counter-G, type: kiosk, floor: G, at: [30, 6], quantities: [transactions], "
                "period_s: 60}\n")


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from geometry import build_building, resolve_file
    from simulation.day.library_day import run_day

    folder = tmp_path_factory.mktemp("scenarios")
    path = folder / "district-branch.yaml"
    path.write_text((SCENARIOS / "district-branch.yaml").read_text(encoding="utf-8") + DESK_COUNTER, encoding="utf-8")
    src = resolve_file(path)
    building = build_building(src)
    return src, building, run_day(building, src, seed=3, progress=False), folder


def test_indicators_from_the_store_equal_those_from_the_run(district, store) -> None:  # type: ignore[no-untyped-def]
    from twin.indicators import INDICATORS, indicators, observations_from_run, observations_from_store, period_of_days

    src, building, result, _ = district
    store.write_readings(result.telemetry)
    period = period_of_days(src, [dt.date.fromisoformat(result.meta["start"])], result.meta["start"])
    run = indicators(observations_from_run(result.events, result.zones, result.energy, result.telemetry, result.meta,
                                           src=src, building=building, period=period)).values()
    hist = indicators(observations_from_store(store, src, building, period)).values()
    print(f"\n{'indicator':28s} {'simulation':>12s} {'store':>12s} {'difference':>10s}")
    for key, *_ in INDICATORS:
        diff = abs(hist[key] - run[key]) / abs(run[key]) if run[key] else abs(hist[key])
        print(f"{key:28s} {run[key]:12.4f} {hist[key]:12.4f} {diff:10.2%}")
    for key, *_ in INDICATORS:
        assert math.isfinite(run[key]), key
        assert hist[key] == pytest.approx(run[key], rel=0.03, abs=1e-9), key
    # the day is not trivial: people came, sat, queued, and the desk and kiosks were both used
    assert run["visits"] > 300 and run["seat_occupancy_rate"] > 0.05 and run["desk_wait_mean_s"] > 0
    assert 0 < run["self_service_share"] < 1 and run["peak_occupancy_ratio"] > 0.1


def test_little_law_waits_and_ratios_by_hand() -> None:
    from twin.indicators import Observations, Period, QueueObs, indicators

    period = Period(label="d", days=(dt.date(2026, 11, 5),), start=0.0, end=86400.0,
                    open_intervals=((36000.0, 72000.0),))  # 10 h open
    obs = Observations(branch="b", period=period, seats=100, user_area_m2=500.0, gross_area_m2=800.0, visits=400.0,
                       readers_in=np.array([10.0, 50.0, 30.0]), seats_in_use=np.array([0.2, 0.4]),
                       queues={"desk": QueueObs(lengths=np.array([0, 0, 1, 2, 2] * 2, dtype=float), served=360.0),
                               "kiosk": QueueObs(lengths=np.zeros(4), served=1440.0)},
                       energy_kwh=200.0, co2_hours_above=1.5, device_availability=0.9)
    ind = indicators(obs)
    assert ind.visits_per_opening_hour == 40.0
    assert ind.seat_occupancy_rate == pytest.approx(0.3)
    assert ind.user_area_per_seat_m2 == 5.0 and ind.peak_occupancy_ratio == 0.5
    # throughput 360 / 36000 s = 0.01 /s; mean queue 1.0 -> 100 s; someone waits 60% of the time:
    # C = sqrt(0.6), p90 = 100 / C ln(C / 0.1)
    c = math.sqrt(0.6)
    assert ind.desk_wait_mean_s == pytest.approx(100.0)
    assert ind.desk_wait_p90_s == pytest.approx(100 / c * math.log(c / 0.1))
    assert ind.kiosk_wait_mean_s == 0.0 and ind.self_service_share == pytest.approx(0.8)
    assert ind.energy_kwh_per_visit == 0.5 and ind.energy_kwh_per_m2 == 0.25


def test_rank_ties_direction_and_missing() -> None:
    from twin.evaluate import rank

    assert rank({"a": 3.0, "b": 1.0, "c": 3.0, "d": math.nan}, +1) == {"a": 1, "b": 3, "c": 1, "d": None}
    assert rank({"a": 3.0, "b": 1.0}, -1) == {"a": 2, "b": 1}


def test_evaluate_ranks_the_branches_with_readings(district, store_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from geometry import build_building, resolve_file
    from simulation.day.library_day import run_day
    from telemetry.store import open_store
    from twin.evaluate import evaluate
    from twin.indicators import INDICATORS

    _, _, result, folder = district
    sp = resolve_file(SCENARIOS / "service-point.yaml")
    small = run_day(build_building(sp), sp, seed=4, progress=False)
    (folder / "service-point.yaml").write_text((SCENARIOS / "service-point.yaml").read_text(encoding="utf-8"),
                                               encoding="utf-8")
    (folder / "central-library.yaml").write_text((SCENARIOS / "central-library.yaml").read_text(encoding="utf-8"),
                                                 encoding="utf-8")
    with open_store(store_url) as s:
        s.write_readings(result.telemetry)
        s.write_readings(small.telemetry)
    csv = tmp_path / "eval.csv"
    ev = evaluate(store_url, result.meta["start"], folder, csv=csv)
    assert [r.branch for r in ev.rows] == sorted([r.branch for r in ev.rows], key=lambda b: next(
        x.mean_rank for x in ev.rows if x.branch == b))
    assert {r.branch for r in ev.rows} == {"district-branch", "service-point"}
    assert ev.without_readings == ("central-library",)
    by = {r.branch: r for r in ev.rows}
    # the district branch has more visits, so ranks first on visits; each rank follows its values
    assert by["district-branch"].ranks["visits"] == 1 and by["service-point"].ranks["visits"] == 2
    for key, _, _, better in INDICATORS:
        a, b = (by[x].indicators.values()[key] for x in ("district-branch", "service-point"))
        ra, rb = by["district-branch"].ranks[key], by["service-point"].ranks[key]
        if math.isnan(a) or math.isnan(b):
            assert (ra is None) == math.isnan(a) and (rb is None) == math.isnan(b)
        elif a != b:
            assert (ra < rb) == ((a > b) == (better > 0)), key  # type: ignore[operator]

    table = pd.read_csv(csv)
    assert list(table["branch"]) == [r.branch for r in ev.rows] and "visits_rank" in table.columns


def test_a_finished_days_miscount_is_spread_over_its_crossings_and_an_open_day_is_left_alone() -> None:
    from twin.indicators import BALANCE_AFTER_CLOSE_S, balanced_inside

    utc = dt.UTC
    midnight = dt.datetime(2026, 11, 5, tzinfo=utc).timestamp()
    opening = ((midnight + 9 * 3600, midnight + 17 * 3600),)
    # 10 in at 10:00, 6 out at 12:00, 2 out at 16:00: 2 left over although everyone has gone
    times = midnight + np.array([10, 12, 16, 17.75]) * 3600
    flow = pd.Series([10.0, -6.0, -2.0, 0.0], index=times)
    crossings = pd.Series([10.0, 6.0, 2.0, 0.0], index=times)
    got = balanced_inside(flow, crossings, utc, opening)
    # the rest of 2 is taken out in proportion to 10, 16 and 18 of the 18 crossings
    np.testing.assert_allclose(got.to_numpy(), [10 - 2 * 10 / 18, 4 - 2 * 16 / 18, 0.0, 0.0])
    # the same day with counts only up to closing: still open as far as the store knows, left as counted
    early = times[:3]
    assert early[-1] < opening[0][1] + BALANCE_AFTER_CLOSE_S
    np.testing.assert_allclose(balanced_inside(flow.iloc[:3], crossings.iloc[:3], utc, opening).to_numpy(),
                               [10.0, 4.0, 2.0])
