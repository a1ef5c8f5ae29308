"""What-if from now: a run started from a state, and forks with and without a variant."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import SCENARIOS

T14 = 14 * 3600.0


def test_a_run_starts_with_the_state_it_is_given() -> None:
    from geometry import build_building, resolve_file
    from simulation.day.library_day import run_day
    from simulation.day.start import StartState

    src = resolve_file(SCENARIOS / "service-point.yaml")
    b = build_building(src)
    state = StartState(time_s=T14, readers={"reading": 10, "stacks": 2}, seated={"reading": 7},
                       queues={"kiosk-loan": 2}, co2_ppm={"reading": 900.0}, temperature_c={"reading": 23.0})
    r = run_day(b, src, seed=5, progress=False, start_state=state, end_s=T14 + 3600)
    first = r.zones.loc[r.zones["t_s"] == r.zones["t_s"].min()].set_index("zone_id")
    assert r.zones["t_s"].min() == T14 and r.zones["t_s"].max() < T14 + 3600
    # the first minute: everyone is where the state says (queuing readers stand by the kiosk in the lobby)
    assert first.loc["reading", "readers"] == pytest.approx(10, abs=0.5)
    assert first.loc["reading", "co2_ppm"] > 800  # started at 900 ppm, not at the outdoor level
    at_start = r.events.loc[r.events["t_s"] == T14]
    assert (at_start["event"] == "seat_take").sum() == 7
    assert (r.events["event"] == "arrive").loc[r.events["t_s"] == T14].sum() == 0  # they were already in
    served = r.events.loc[(r.events["event"] == "service_start") & (r.events["ref"] == "kiosk-loan")]
    assert len(served) >= 2 and served["t_s"].iloc[:2].max() < T14 + 600
    left = r.events.loc[r.events["event"] == "leave"]
    assert len(left) >= 10  # stays are residuals: most of the 14 present leave within the hour or so
    assert r.meta["start_s"] == T14 and r.kpis.visits == int((r.events["event"] == "arrive").sum())


def test_a_bad_state_is_named() -> None:
    from geometry import build_building, resolve_file
    from simulation.day.library_day import LibraryDay
    from simulation.day.start import StartState

    with pytest.raises(ValueError, match="5 seated but only 2 readers"):
        StartState(time_s=T14, readers={"reading": 2}, seated={"reading": 5})
    with pytest.raises(ValueError, match="not within a day"):
        StartState(time_s=90000.0)
    src = resolve_file(SCENARIOS / "service-point.yaml")
    b = build_building(src)
    with pytest.raises(ValueError, match="zone 'nowhere' is not in building"):
        LibraryDay(b, src, seed=1, start_state=StartState(time_s=T14, readers={"nowhere": 3}))
    with pytest.raises(ValueError, match="no service 'desk-9'"):
        LibraryDay(b, src, seed=1, start_state=StartState(time_s=T14, queues={"desk-9": 1}))


def test_state_files_and_durations(tmp_path: Path) -> None:
    from twin.whatif import load_start_state, parse_duration_s

    assert parse_duration_s("2h") == 7200 and parse_duration_s("1h30m") == 5400 and parse_duration_s("90min") == 5400
    assert parse_duration_s("600") == 600
    with pytest.raises(ValueError, match="write it as 2h"):
        parse_duration_s("two hours")
    f = tmp_path / "state.yaml"
    f.write_text('time: "14:30"\nreaders: {reading: 4}\nseated: {reading: 3}\nqueues: {kiosk-loan: 1}\n')
    s = load_start_state(f)
    assert s.time_s == 14.5 * 3600 and s.readers == {"reading": 4} and s.total == 5
    f.write_text('time: "14:30"\nreader: {reading: 4}\n')
    with pytest.raises(ValueError, match=r"state\.yaml: unknown key\(s\) reader"):
        load_start_state(f)
    f.write_text('time: "25:00"\n')
    with pytest.raises(ValueError, match=r"state\.yaml"):
        load_start_state(f)
    f.write_text('time: "10:00"\nreaders: {reading: -1}\n')
    with pytest.raises(ValueError, match="whole number >= 0"):
        load_start_state(f)


@pytest.mark.slow
def test_forks_at_14_without_a_variant_reproduce_the_rest_of_the_day() -> None:
    """Eight original days (seeds 101-108) of the district branch, each forked at 14:00 from what a
    live twin sees (readers per zone, seats taken, queues, CO2 and temperature; not who they are nor
    how long they stay) with 6 replications on other seeds.

    - Per day: each KPI of the original's 14:00-24:00 lies within the 95% interval one more run of
      the forks falls in (the prediction interval: the original is one run, not a mean), checked on
      the first day.
    - Over the days: the forks are unbiased, i.e. the 95% confidence interval of the mean paired
      difference (original minus its forks' mean) contains 0 for every KPI, and for visits,
      occupancy, seat occupancy and energy that mean difference is under 3% of the value.
    """
    from geometry.build import apply_variant, build_building, load_scenario
    from simulation.day.library_day import run_day
    from simulation.day.start import state_at
    from twin.whatif import FORECAST_KPIS, interval, whatif, window_kpis

    src = load_scenario(SCENARIOS / "district-branch.yaml")
    b = build_building(apply_variant(src))
    keys = [k for k, *_ in FORECAST_KPIS]
    diffs: dict[str, list[float]] = {k: [] for k in keys}
    originals: dict[str, list[float]] = {k: [] for k in keys}
    first = None
    for day in range(8):
        original = run_day(b, apply_variant(src), seed=101 + day, progress=False)
        state = state_at(original.events, original.zones, T14)
        assert state.total > 50
        rest = window_kpis(original.events, original.zones, original.energy, original.meta, building=b, t0_s=T14,
                           t1_s=86400.0)
        w = whatif(src, state, variant=None, horizon_s=10 * 3600, replications=6, seed=1000 + 100 * day)
        assert w.end_s == 86400.0 and w.replications == 6
        for row in w.rows:
            diffs[row.key].append(float(rest[row.key]) - row.base.mean)
            originals[row.key].append(float(rest[row.key]))
        first = first or (rest, w)
    assert first is not None
    rest, w = first
    print(f"\nday 1 (seed 101)\n{'kpi 14:00-24:00':24s} {'original':>10s} {'fork mean':>10s} {'95% CI':>19s}"
          f" {'95% PI':>19s}")
    for row in w.rows:
        o, iv = float(rest[row.key]), row.base
        ph = iv.prediction_half_width()
        print(f"{row.key:24s} {o:10.3f} {iv.mean:10.3f} [{iv.low:8.3f},{iv.high:8.3f}] "
              f"[{iv.mean - ph:8.3f},{iv.mean + ph:8.3f}]")
    for row in w.rows:
        o, iv = float(rest[row.key]), row.base
        if np.isnan(o) or np.isnan(iv.mean):
            assert np.isnan(o) == np.isnan(iv.mean), row.key
            continue
        assert abs(o - iv.mean) <= iv.prediction_half_width() + 1e-9, row.key
    # the forecast is informative: the intervals are narrower than the values
    for key in ("visits", "mean_occupancy", "seat_occupancy_rate", "energy_total_kwh"):
        iv = w.row(key).base
        assert 0 < iv.half_width < 0.1 * iv.mean, key
    gaps = {k: interval(v) for k, v in diffs.items()}
    mean_of = {k: float(np.nanmean(v)) for k, v in originals.items()}
    print(f"\n8 days: original minus the mean of its 6 forks\n{'kpi 14:00-24:00':24s} {'original':>10s}"
          f" {'mean diff':>10s} {'95% CI of the mean diff':>24s} {'relative':>9s}")
    for key, d in gaps.items():
        rel = d.mean / mean_of[key] if mean_of[key] else 0.0
        print(f"{key:24s} {mean_of[key]:10.3f} {d.mean:10.3f} [{d.low:10.3f},{d.high:10.3f}] {rel:9.3f}")
    for key, d in gaps.items():
        if np.isnan(d.half_width):  # never defined on these days (e.g. no desk visit at all)
            continue
        assert d.low - 1e-9 <= 0.0 <= d.high + 1e-9, key
    for key in ("visits", "mean_occupancy", "seat_occupancy_rate", "energy_total_kwh"):
        assert abs(gaps[key].mean) < 0.03 * mean_of[key], key


def test_a_variant_that_removes_seats_turns_readers_away(small_scenario: Path) -> None:
    from geometry.build import load_scenario
    from simulation.day.start import StartState
    from twin.whatif import whatif

    src = load_scenario(small_scenario)
    state = StartState(time_s=11 * 3600.0, readers={"reading": 24}, seated={"reading": 24})
    w = whatif(src, state, variant="fewer-tables", horizon_s=3600.0, replications=4, seed=3)
    turned = w.row("turned_away")
    assert turned.base.mean < turned.variant.mean  # type: ignore[union-attr]
    assert turned.difference is not None and turned.difference.low > 0  # paired on seeds: clearly more
    assert w.row("mean_occupancy").variant.mean < w.row("mean_occupancy").base.mean  # type: ignore[union-attr]
