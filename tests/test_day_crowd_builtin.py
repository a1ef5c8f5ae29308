"""The crowd walker on the three built-in branches: everyone who came left through balanced counters,
Little's law, the same seed gives the same day, and nobody got stuck (the watchdog rescued no one).

The crowd walker is the default of ``smartlib simulate`` and ``compare``; these are the same checks
as the grid walker's (tests/test_day.py, tests/test_day_builtin.py) on the buildings users simulate.
"""

from __future__ import annotations

import pytest
from conftest import SCENARIOS
from test_day_builtin import _conserved

from geometry import build_building, resolve_file
from simulation.day.kpis import flat, littles_law
from simulation.day.library_day import DayResult, run_day

BRANCHES = ("central-library", "district-branch", "service-point")


def _run(branch: str, end_s: float | None = None) -> DayResult:
    src = resolve_file(SCENARIOS / f"{branch}.yaml")
    return run_day(build_building(src, check_reach=False), src, seed=4, progress=False, walker="crowd", end_s=end_s)


@pytest.fixture(scope="module", params=BRANCHES)
def day(request: pytest.FixtureRequest) -> DayResult:
    return _run(request.param)


def test_everyone_came_in_and_left_through_balanced_counters(day: DayResult) -> None:
    stats = day.meta["walker_stats"]
    assert day.meta["walker"] == "CrowdWalker"
    logged = int((day.events["event"] == "walk").sum())
    assert stats["walks"] == logged > 50
    _conserved(day, max(b for _, b in day.meta["open_intervals_s"]))


def test_nobody_was_rescued(day: DayResult) -> None:
    stats = day.meta["walker_stats"]
    assert stats["rescued"] == 0, f"{stats['rescued']} walkers stuck for good in {day.meta['branch']}"


def test_littles_law_holds_within_3_percent(day: DayResult) -> None:
    """Mean readers in the building (per-minute zone table) = arrival rate x mean stay (events)."""
    per_minute = day.zones.groupby("t_s")["readers"].sum()
    terms = littles_law(day.events, 0.0, 86400.0)
    assert terms["lambda_w"] > 0.5
    assert float(per_minute.mean()) == pytest.approx(terms["lambda_w"], rel=0.03)
    assert terms["mean_in_building"] == pytest.approx(terms["lambda_w"], rel=0.03)


@pytest.mark.parametrize("branch", BRANCHES)
def test_same_seed_same_morning(branch: str) -> None:
    """Two runs of a morning (to 11:00) give the same events to the step and the same walker counters."""
    a, b = _run(branch, end_s=11 * 3600.0), _run(branch, end_s=11 * 3600.0)
    assert a.meta["walker_stats"]["walks"] > 10
    assert a.events["t_s"].equals(b.events["t_s"])
    assert flat(a.kpis) == flat(b.kpis)
    assert a.meta["walker_stats"] == b.meta["walker_stats"]
