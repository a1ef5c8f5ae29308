"""Calibration: demand estimated from a simulated week's telemetry in a store."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from conftest import SCENARIOS

SCENARIO = SCENARIOS / "service-point.yaml"


@pytest.fixture(scope="module")
def week():  # type: ignore[no-untyped-def]
    from geometry import build_building, resolve_file
    from simulation.day.library_day import run_day

    src = resolve_file(SCENARIO)
    return src, run_day(build_building(src), src, seed=11, days=7, progress=False)


def true_rates(src, result) -> dict[str, dict[int, float]]:  # type: ignore[no-untyped-def]
    """The week's own arrival rates: ``arrive`` events per hour of entry time, averaged per day type."""
    from simulation.day.demand import load_demand
    from simulation.day.services import load_services
    from twin.calibrate import entry_seconds_by_hour

    demand, services = load_demand(src), load_services(src)
    first = dt.date.fromisoformat(result.meta["start"])
    arrive = result.events.loc[result.events["event"] == "arrive", "t_s"].to_numpy()
    per_type: dict[str, list[np.ndarray]] = {}
    for k in range(7):
        d = first + dt.timedelta(days=k)
        entry = entry_seconds_by_hour(services.hours.intervals(d.weekday()), services.last_entry_s)
        counts = np.bincount(((arrive[(arrive >= k * 86400) & (arrive < (k + 1) * 86400)] - k * 86400) // 3600)
                             .astype(int), minlength=24)
        with np.errstate(invalid="ignore", divide="ignore"):
            per_type.setdefault(demand.day_type_of(d), []).append(np.where(entry > 0, counts * 3600 / entry, np.nan))
    return {t: {h: float(np.nanmean(np.array(v)[:, h])) for h in range(24) if not np.all(np.isnan(np.array(v)[:, h]))}
            for t, v in per_type.items()}


@pytest.mark.slow
def test_calibration_recovers_the_hourly_arrival_rates_of_a_week(week, store_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from geometry import resolve_file
    from simulation.day.demand import load_demand
    from telemetry.store import open_store
    from twin.calibrate import calibrate

    src, result = week
    with open_store(store_url) as s:
        s.write_readings(result.telemetry)
    first = dt.date.fromisoformat(result.meta["start"])
    out = tmp_path / "calibrated.yaml"
    cal = calibrate(SCENARIO, store_url, since=first.isoformat(), until=(first + dt.timedelta(days=6)).isoformat(),
                    out=out)
    truth = true_rates(src, result)
    configured = load_demand(src)
    assert dict(cal.days) == {"weekday": 5, "weekend": 2}
    print("\nday type  hour  week's rate  calibrated  configured [persons/h]")
    for kind, rates in truth.items():
        assert set(cal.arrivals_per_hour[kind]) == set(rates)
        from simulation.day.demand import hourly_rate_pieces
        from simulation.day.services import load_services

        svc = load_services(src)
        day = next(first + dt.timedelta(days=k) for k in range(7) if configured.day_type_of(
            first + dt.timedelta(days=k)) == kind)
        edges, conf = hourly_rate_pieces(configured.day_types[kind], [
            (a, b - svc.last_entry_s) for a, b in svc.hours.intervals(day.weekday())])
        for h, r in sorted(rates.items()):
            c = float(conf[np.searchsorted(edges, h * 3600 + 1, side="right") - 1] * 3600)
            print(f"{kind:9s} {h:4d} {r:12.2f} {cal.arrivals_per_hour[kind][h]:11.2f} {c:11.2f}")
            assert cal.arrivals_per_hour[kind][h] == pytest.approx(r, rel=0.10), (kind, h)
    # Little's law from counters: the mean time in the building
    assert cal.mean_stay_s == pytest.approx(result.kpis.mean_stay_s, rel=0.10)
    # the written scenario loads, and carries the measured rates
    written = load_demand(resolve_file(out))
    assert written.day_types["weekday"].arrivals_per_hour == pytest.approx(
        {h: round(r, 2) for h, r in cal.arrivals_per_hour["weekday"].items()})
    assert "calibrated from" in out.read_text().splitlines()[0]


def test_calibration_says_what_is_missing(store_url: str) -> None:
    from twin.calibrate import calibrate
    from twin.errors import UserError

    with pytest.raises(UserError, match="no gate counts of branch 'service-point'"):
        calibrate(SCENARIO, store_url, since="2025-03-05", until="2025-03-06")
    with pytest.raises(UserError, match="YYYY-MM-DD"):
        calibrate(SCENARIO, store_url, since="March")
    with pytest.raises(UserError, match="comes before"):
        calibrate(SCENARIO, store_url, since="2025-03-05", until="2025-03-01")
