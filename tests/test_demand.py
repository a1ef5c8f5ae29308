"""Demand: the scenario format, defaults per branch kind, and the non-homogeneous Poisson arrivals."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from conftest import DATA, SCENARIOS

from geometry import build_building, resolve_file
from geometry.errors import ScenarioError
from simulation.day.demand import (
    DayType,
    Distribution,
    hourly_rate_pieces,
    load_demand,
    piecewise_poisson_times,
    sample_day_arrivals,
    thinning_poisson_times,
)


@pytest.mark.parametrize(("spec", "mean"), [
    ({"dist": "fixed", "mean_s": 42}, 42.0),
    ({"dist": "exponential", "mean_s": 90}, 90.0),
    ({"dist": "lognormal", "mean_s": 600, "sd_s": 300}, 600.0),
    ({"dist": "gamma", "mean_s": 120, "sd_s": 60}, 120.0),
    ({"dist": "uniform", "min_s": 10, "max_s": 30}, 20.0),
    ({"dist": "triangular", "min_s": 0, "mode_s": 30, "max_s": 90}, 40.0),
    (15, 15.0),
])
def test_distributions_sample_their_mean(spec: object, mean: float) -> None:
    d = Distribution.model_validate(spec)
    assert d.mean == pytest.approx(mean)
    x = d.sample(np.random.default_rng(3), 200_000)
    assert x.mean() == pytest.approx(mean, rel=0.01)
    assert np.all(x >= 0)


def test_lognormal_spread_and_clipping() -> None:
    d = Distribution(dist="lognormal", mean_s=600, sd_s=300)
    x = d.sample(np.random.default_rng(4), 200_000)
    assert x.std() == pytest.approx(300, rel=0.03)
    c = Distribution(dist="exponential", mean_s=100, min_s=20, max_s=150).sample(np.random.default_rng(4), 10_000)
    assert c.min() == 20 and c.max() == 150
    with pytest.raises(ValueError, match="needs mean_s, sd_s"):
        Distribution(dist="lognormal", mean_s=10)


def test_piecewise_poisson_counts_and_placement() -> None:
    """Counts per piece are Poisson with mean rate x length; times are uniform within the piece."""
    edges = np.array([0.0, 3600.0, 5400.0, 9000.0])
    rates = np.array([100.0, 0.0, 250.0]) / 3600.0
    rng = np.random.default_rng(11)
    counts = []
    inside_second_half = []
    for _ in range(400):
        t = piecewise_poisson_times(edges, rates, rng)
        assert np.all(np.diff(t) >= 0)
        counts.append(np.histogram(t, edges)[0])
        first = t[t < 3600.0]
        inside_second_half.append(np.mean(first > 1800.0) if first.size else 0.5)
    c = np.array(counts)
    expected = rates * np.diff(edges)  # 100, 0, 250
    assert c[:, 1].sum() == 0
    for k in (0, 2):
        assert c[:, k].mean() == pytest.approx(expected[k], abs=4 * math.sqrt(expected[k] / 400))
        assert c[:, k].var() == pytest.approx(expected[k], rel=0.2)  # Poisson: variance = mean
    assert np.mean(inside_second_half) == pytest.approx(0.5, abs=0.02)


def test_thinning_agrees_with_exact_sampling() -> None:
    rng = np.random.default_rng(5)

    def rate(t: np.ndarray) -> np.ndarray:
        return np.where(t < 3600.0, 0.02, 0.05)

    n = [thinning_poisson_times(rate, 0.0, 7200.0, 0.05, rng).size for _ in range(300)]
    assert np.mean(n) == pytest.approx(72 + 180, abs=4 * math.sqrt(252 / 300))


def test_hourly_pieces_spread_visits_over_open_hours_only() -> None:
    day = DayType(visits=600, profile={9: 1, 10: 2, 11: 1, 12: 0, 13: 2})
    # open 09:30-12:00 and 13:00-14:00 (a lunch closure)
    edges, rates = hourly_rate_pieces(day, [(9.5 * 3600, 12 * 3600), (13 * 3600, 14 * 3600)])
    assert list(edges / 3600) == [9.5, 10, 11, 12, 13, 14]
    assert rates[3] == 0.0  # closed 12-13
    assert float(np.sum(rates * np.diff(edges))) == pytest.approx(600.0)
    # weights: 0.5 h x 1, 1 h x 2, 1 h x 1, 1 h x 2 = 5.5 weight-hours for 600 visits
    assert rates[1] * 3600 == pytest.approx(2 * 600 / 5.5)
    absolute = DayType(arrivals_per_hour={"09:00": 30, "10": 60})
    edges, rates = hourly_rate_pieces(absolute, [(9 * 3600, 11 * 3600)])
    assert list(rates * 3600) == [30.0, 60.0]
    with pytest.raises(ValueError, match="either 'visits'"):
        DayType(visits=10, arrivals_per_hour={9: 1})


def test_day_arrivals_bring_the_expected_visits_in_parties() -> None:
    src = resolve_file(DATA / "day-small.yaml")
    demand = load_demand(src)
    date = demand.start_date
    totals, studiers = [], []
    for seed in range(60):
        arr = sample_day_arrivals(demand, date, [(9 * 3600.0, 21 * 3600.0)], np.random.default_rng(seed),
                                  last_entry_s=900.0)
        assert all(9 * 3600 <= a.t_s < 21 * 3600 - 900 for a in arr)
        assert [a.t_s for a in arr] == sorted(a.t_s for a in arr)
        totals.append(sum(a.size for a in arr))
        studiers.append(sum(a.size for a in arr if a.visitor_type == "studier"))
    # 180 visits a day (the profile renormalised to the hours left for entry), half of them studiers
    assert np.mean(totals) == pytest.approx(180, rel=0.04)
    assert np.mean(studiers) / np.mean(totals) == pytest.approx(0.5, abs=0.03)


def test_event_attendees_arrive_around_the_start(tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = (DATA / "day-small.yaml").read_text().replace(
        "  visitor_types:\n",
        "  events:\n    - {id: talk, zone: reading, start: \"14:00\", duration_s: 3600, attendees: 40, days: [We]}\n"
        "  visitor_types:\n")
    f = tmp_path / "events.yaml"
    f.write_text(text)
    src = resolve_file(f)
    demand = load_demand(src, building=build_building(src))
    assert "event_attendee" in demand.visitor_types  # brought in by the event
    wed = dt.date(2025, 3, 5)
    assert [e.id for e in demand.events_on(wed)] == ["talk"]
    assert demand.events_on(wed + dt.timedelta(days=1)) == []
    arr = sample_day_arrivals(demand, wed, [(9 * 3600.0, 21 * 3600.0)], np.random.default_rng(1))
    ev = [a for a in arr if a.event == "talk"]
    assert 20 <= sum(a.size for a in ev) <= 60
    assert all(14 * 3600 - 900 <= a.t_s <= 14 * 3600 + 300 for a in ev)


def test_defaults_per_branch_kind_and_day_types() -> None:
    for name, kind in (("central-library", "central"), ("district-branch", "district"),
                       ("service-point", "service_point")):
        src = resolve_file(SCENARIOS / f"{name}.yaml")
        assert src.scenario.branch.kind == kind
        d = load_demand(src)
        assert abs(sum(v.share for v in d.visitor_types.values()) - 1.0) < 1e-9
        assert d.day_type_of(dt.date(2025, 3, 5)) == "weekday"
        assert d.day_type_of(dt.date(2025, 3, 8)) == "weekend"
    central = load_demand(resolve_file(SCENARIOS / "central-library.yaml"))
    district = load_demand(resolve_file(SCENARIOS / "district-branch.yaml"))
    assert central.day_types["weekday"].visits > district.day_types["weekday"].visits  # type: ignore[operator]
    # a scenario's visitor types replace the mix but keep the built-in behaviour of their name
    small = load_demand(resolve_file(DATA / "day-small.yaml"))
    assert set(small.visitor_types) == {"studier", "browser", "borrower"}
    assert small.visitor_types["studier"].seat_p == 1.0
    assert small.visitor_types["studier"].stay_s.mean == 7200


def test_demand_errors_name_file_line_and_field(tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = (DATA / "day-small.yaml").read_text()
    cases = [  # (replace, by, message, field, the line it is reported at)
        ("browser: {share: 0.3}", "browser: {share: 0.4}",
         "visitor-type shares must add up to 1, they add up to 1.100", "demand.visitor_types", "visitor_types:"),
        ("weekday: {visits: 180}", "weekday: {visits: -5}", "greater than or equal to 0",
         "demand.day_types.weekday.visits", "weekday: {visits: -5}"),
        ("stay_s: {dist: lognormal, mean_s: 7200, sd_s: 3600, min_s: 900}", "stay_s: {dist: gamma, mean_s: 60}",
         "a gamma distribution needs mean_s, sd_s (missing sd_s)",
         "demand.visitor_types.studier.stay_s", "studier:"),
        ("search_s: 300}", "search_s: 300, sofa_p: 1}", "unknown field 'sofa_p'",
         "demand.visitor_types.studier.sofa_p", "studier:"),
    ]
    for i, (old, new, message, where, marker) in enumerate(cases):
        assert old in text
        bad = text.replace(old, new)
        f = tmp_path / f"bad-{i}.yaml"
        f.write_text(bad)
        with pytest.raises(ScenarioError) as err:
            load_demand(resolve_file(f))
        line = next(n for n, row in enumerate(bad.splitlines(), 1) if row.strip().startswith(marker))
        assert f"bad-{i}.yaml:{line}: {where}: " in str(err.value)
        assert message in str(err.value)
    bad = text.replace("  visitor_types:\n", "  events:\n    - {id: x, zone: nowhere, start: \"10:00\", "
                                             "duration_s: 60, attendees: 5}\n  visitor_types:\n")
    f = tmp_path / "bad-zone.yaml"
    f.write_text(bad)
    src = resolve_file(f)
    with pytest.raises(ScenarioError, match=r"demand.events\[0\].zone: event 'x' is in zone 'nowhere'"):
        load_demand(src, building=build_building(src))
