"""Staffing: targets, Erlang screening, shift plans, and a plan verified by simulating a built-in branch."""

from __future__ import annotations

from pathlib import Path

import pytest

from optimization.scenario import load
from optimization.staffing import (
    DeskLoad,
    StaffingError,
    Target,
    parse_target,
    plan_staffing,
    screen,
    shift_plan,
    staffed,
)

ROOT = Path(__file__).resolve().parent.parent


def test_targets_parse_and_nonsense_is_named() -> None:
    t = parse_target("p(wait>120s)<=0.2")
    assert (t.wait_over_s, t.max_share, t.max_mean_wait_s) == (120.0, 0.2, None)
    t = parse_target("P(wait > 2min) <= 20% and mean(wait)<=1min")
    assert (t.wait_over_s, t.max_share, t.max_mean_wait_s) == (120.0, 0.2, 60.0)
    for bad in ("", "wait<2min", "p(wait>120s)<=1.5", "p(wait>abc)<=0.2", "mean(queue)<=3"):
        with pytest.raises(StaffingError, match="target"):
            parse_target(bad)


def _load(rate_per_h: float, hours: range, service_s: float = 120.0) -> DeskLoad:
    return DeskLoad("d", dict.fromkeys(hours, rate_per_h / 3600.0), service_s, tuple(hours))


def test_screen_uses_erlang_c_and_at_least_one_clerk() -> None:
    from simulation.day.queueing import erlang_c_wait_over

    tgt = parse_target("p(wait>60s)<=0.1")
    need = screen(_load(60.0, range(9, 12)), tgt)  # 60/h x 2 min = 2 Erlang
    c = need[9]
    assert erlang_c_wait_over(60 / 3600, 1 / 120, c, 60.0) <= 0.1 < erlang_c_wait_over(60 / 3600, 1 / 120, c - 1, 60)
    assert screen(_load(0.0, range(9, 12)), tgt) == {9: 1, 10: 1, 11: 1}


def test_an_infeasible_target_is_a_clear_error() -> None:
    with pytest.raises(StaffingError, match="cannot be met at desk 'd' at 09:00"):
        screen(_load(20000.0, range(9, 10)), Target("p(wait>60s)<=0.1", 60.0, 0.1))  # 667 Erlang > 200 clerks
    with pytest.raises(StaffingError, match="cannot be met: with random arrivals"):
        parse_target("p(wait>0s)<=0")


def test_shift_plan_covers_the_need_with_allowed_lengths_and_fewest_hours() -> None:
    need = dict.fromkeys(range(9, 20), 1) | {12: 2, 13: 2, 17: 3}
    shifts = shift_plan(need, min_shift_h=4, max_shift_h=8)
    for h, n in need.items():
        assert staffed(shifts, h) >= n
    assert all(4 <= s.end_h - s.start_h <= 8 for s in shifts)
    assert 16 <= sum((s.end_h - s.start_h) * s.count for s in shifts) <= 23
    # the fewest staff-hours, checked against every combination on a small day
    import itertools

    need = dict.fromkeys(range(9, 14), 1) | {11: 2}
    cands = [(a, a + n) for n in (2, 3) for a in range(9, 14 - n + 1)]
    best = min(sum((e - a) * c for (a, e), c in zip(cands, combo, strict=True))
               for combo in itertools.product(range(3), repeat=len(cands))
               if all(sum(c for (a, e), c in zip(cands, combo, strict=True) if a <= h < e) >= n
                      for h, n in need.items()))
    got = shift_plan(need, min_shift_h=2, max_shift_h=3)
    assert sum((s.end_h - s.start_h) * s.count for s in got) == best
    assert shift_plan(dict.fromkeys(range(9, 17), 1), min_shift_h=4, max_shift_h=8)[0].text == "09:00-17:00"
    assert sum(s.count for s in shift_plan({10: 1, 11: 1}, min_shift_h=4)) == 1  # a short day: one shift


@pytest.mark.slow
def test_the_verified_plan_meets_the_target_on_the_district_branch() -> None:
    src = load(ROOT / "scenarios" / "district-branch.yaml")
    target = parse_target("p(wait>120s)<=0.25")
    plan = plan_staffing(src, target, replications=3, pilot=2, base_seed=1)
    v = plan.verification
    assert v.met and v.share + v.share_ci <= 0.25
    assert plan.staff_hours >= len(plan.desks[0].load.open_hours)  # someone at the desk all day
    members = plan.staff_section()["members"]
    assert any(m["role"] == "shelver" for m in members)  # other staff kept
    desk = [m for m in members if m["role"] == "desk"]
    assert desk and all("-" in m["shift"] and ":" in m["shift"] for m in desk)
