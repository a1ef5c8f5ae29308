"""Desk staffing: the fewest clerks per hour that meet a waiting target, as a shift plan, verified by simulation.

1. Load: pilot library days give each staffed desk's arrivals per hour and its mean service time.
2. Screen: per hour the fewest clerks meeting the target by Erlang C (Erlang A when a patience is
   given), starting from the square-root rule (:mod:`simulation.day.queueing`).
3. Shifts: whole-hour shifts of allowed lengths covering every hour's need at the fewest
   staff-hours (an integer program, :func:`scipy.optimize.milp`).
4. Verify: independent replications of the library day with the plan; the share of waits over
   the limit and the mean wait with Student-t 95% intervals. Hours that miss get one more clerk
   and the plan is made again (a few rounds).

A target is text: ``p(wait>120s)<=0.2`` (share of readers waiting longer than 120 s at most 0.2;
``2min`` and ``20%`` work too), ``mean(wait)<=60s``, or both joined by ``and``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from geometry.scenario import ScenarioSource

from .errors import OptimizationError
from .metrics import desk_waits, mean_ci, replication_seeds
from .scenario import build, run_scenario, with_desk_shifts


class StaffingError(OptimizationError):
    """A target that cannot be read or met, or a scenario without staffed desks."""


@dataclass(frozen=True)
class Target:
    """A waiting target: share of waits over ``wait_over_s`` at most ``max_share``, and/or a mean bound."""

    text: str
    wait_over_s: float | None = None
    max_share: float | None = None
    max_mean_wait_s: float | None = None

    def met(self, share: float, mean_wait_s: float) -> bool:
        ok = self.max_share is None or share <= self.max_share + 1e-12
        return ok and (self.max_mean_wait_s is None or mean_wait_s <= self.max_mean_wait_s + 1e-12)


_DUR = r"(\d+(?:\.\d+)?)\s*(s|sec|min|h)?"
_SHARE = re.compile(rf"^p\(\s*wait\s*>\s*{_DUR}\s*\)\s*<=\s*(\d+(?:\.\d+)?)\s*(%?)$")
_MEAN = re.compile(rf"^mean\(\s*wait\s*\)\s*<=\s*{_DUR}$")
_UNIT_S = {None: 1.0, "s": 1.0, "sec": 1.0, "min": 60.0, "h": 3600.0}
_EXAMPLES = "p(wait>120s)<=0.2, p(wait>2min)<=20%, mean(wait)<=60s, or two joined by 'and'"


def parse_target(text: str) -> Target:
    """Read a waiting target (see the module docstring); raises StaffingError with examples on nonsense."""
    over = share = mean = None
    parts = [p.strip() for p in re.split(r"\s+and\s+", text.strip().lower()) if p.strip()]
    if not parts:
        raise StaffingError(f"empty staffing target (examples: {_EXAMPLES})")
    for part in parts:
        if m := _SHARE.match(part):
            over = float(m.group(1)) * _UNIT_S[m.group(2)]
            share = float(m.group(3)) / (100.0 if m.group(4) else 1.0)
            if not 0.0 <= share <= 1.0:
                raise StaffingError(f"target '{part}': a share must be between 0 and 1 (or 0% and 100%)")
            if share == 0.0:
                raise StaffingError(f"target '{part}' cannot be met: with random arrivals some reader always "
                                    f"risks a wait; ask for a small share such as 0.01")
        elif m := _MEAN.match(part):
            mean = float(m.group(1)) * _UNIT_S[m.group(2)]
        else:
            raise StaffingError(f"cannot read the staffing target '{part}' (examples: {_EXAMPLES})")
    return Target(text, over, share, mean)


# --------------------------------------------------------------------------- load and screening

@dataclass(frozen=True)
class DeskLoad:
    """Arrivals at one desk per hour of the day [1/s] and its mean service time [s]."""

    desk: str
    rate_per_s: dict[int, float]
    mean_service_s: float
    open_hours: tuple[int, ...]


def desk_loads(src: ScenarioSource, *, seeds: Sequence[int]) -> list[DeskLoad]:
    """Each staffed desk's load, from pilot library days of the scenario as it is."""
    building = build(src)
    counts: dict[str, dict[int, int]] = {}
    services: dict[str, list[float]] = {}
    hours: set[int] = set()
    for seed in seeds:
        res = run_scenario(src, seed=seed, building=building)
        for a, b in res.meta["open_intervals_s"]:
            hours.update(range(int(a // 3600) % 24, math.ceil(b / 3600) % 24 or 24))
        ev = res.events
        for desk in res.kpis.staff_utilisation:
            rows = ev.loc[(ev["event"] == "service_queue") & (ev["ref"] == desk)]
            h = (rows["t_s"].to_numpy(float) % 86400.0 // 3600.0).astype(int)
            c = counts.setdefault(desk, {})
            for hh, n in zip(*np.unique(h, return_counts=True), strict=True):
                c[int(hh)] = c.get(int(hh), 0) + int(n)
            services.setdefault(desk, []).extend(
                ev.loc[(ev["event"] == "service_end") & (ev["ref"] == desk), "value"].astype(float).tolist())
    if not counts:
        raise StaffingError("the scenario has no staffed desk to plan for")
    n = len(seeds)
    out = []
    for desk in sorted(counts):
        sv = services.get(desk) or []
        if not sv:
            raise StaffingError(f"no reader was served at desk '{desk}' in the pilot days: nothing to plan")
        out.append(DeskLoad(desk, {h: counts[desk].get(h, 0) / n / 3600.0 for h in sorted(hours)},
                            float(np.mean(sv)), tuple(sorted(hours))))
    return out


def screen(load: DeskLoad, target: Target, *, theta_per_s: float = 0.0, min_staff: int = 1) -> dict[int, int]:
    """Fewest clerks per open hour meeting ``target`` by Erlang C (or Erlang A when ``theta_per_s > 0``)."""
    from simulation.day.queueing import fewest_servers

    mu = 1.0 / load.mean_service_s
    need = {}
    for h in load.open_hours:
        lam = load.rate_per_s.get(h, 0.0)
        try:
            c = fewest_servers(lam, mu, wait_over_s=target.wait_over_s, max_share=target.max_share,
                               max_mean_wait_s=target.max_mean_wait_s, theta=theta_per_s, c_max=200)
        except ValueError as exc:
            raise StaffingError(f"the target '{target.text}' cannot be met at desk '{load.desk}' at {h:02d}:00 "
                                f"({lam * 3600:.1f} arrivals/h, mean service {load.mean_service_s:.0f} s): "
                                f"{exc}") from None
        need[h] = max(min_staff, c)
    return need


# --------------------------------------------------------------------------- shifts

@dataclass(frozen=True)
class Shift:
    """``count`` clerks from ``start_h`` to ``end_h`` (hours of the day)."""

    start_h: int
    end_h: int
    count: int

    @property
    def text(self) -> str:
        return f"{self.start_h:02d}:00-{self.end_h:02d}:00"


def shift_plan(need: Mapping[int, int], *, min_shift_h: int = 4, max_shift_h: int = 8) -> list[Shift]:
    """Fewest staff-hours of whole-hour shifts (``min_shift_h`` .. ``max_shift_h`` long) covering ``need``.

    Shifts lie within the first and last hour that needs anyone; a day shorter than
    ``min_shift_h`` gets one shift over all of it.
    """
    from scipy.optimize import LinearConstraint, milp

    if min_shift_h < 1 or max_shift_h < min_shift_h:
        raise StaffingError(f"shift lengths must satisfy 1 <= min <= max, got {min_shift_h}..{max_shift_h} h")
    hours = sorted(h for h, n in need.items() if n > 0)
    if not hours:
        return []
    a, b = hours[0], hours[-1] + 1
    span = b - a
    lengths = range(min(min_shift_h, span), min(max_shift_h, span) + 1)
    cands = [(s, s + ln) for ln in lengths for s in range(a, b - ln + 1)]
    cover = np.array([[1.0 if s <= h < e else 0.0 for s, e in cands] for h in range(a, b)])
    req = np.array([need.get(h, 0) for h in range(a, b)], dtype=float)
    cost = np.array([e - s for s, e in cands], dtype=float)
    res = milp(cost, integrality=np.ones(len(cands)), bounds=(0, np.inf),
               constraints=[LinearConstraint(cover, req, np.inf)], options={"time_limit": 60.0})
    if res.x is None:
        raise StaffingError(f"no shift plan covers the need ({res.message})")
    x = np.round(res.x).astype(int)
    return [Shift(s, e, int(n)) for (s, e), n in zip(cands, x, strict=True) if n > 0]


def staffed(shifts: Sequence[Shift], hour: int) -> int:
    """Clerks on duty during ``hour``."""
    return sum(s.count for s in shifts if s.start_h <= hour < s.end_h)


# --------------------------------------------------------------------------- verification

@dataclass(frozen=True)
class Verification:
    """Replications of the library day with a plan: waits with 95% intervals (Student t)."""

    share: float
    share_ci: float
    mean_wait_s: float
    mean_wait_ci: float
    hour_share: dict[int, float]
    hour_served: dict[int, float]
    replications: int
    met: bool


def verify(src: ScenarioSource, target: Target, *, seeds: Sequence[int]) -> Verification:
    """Run the library day once per seed and test the target on the upper 95% confidence limits."""
    building = build(src)
    limit = target.wait_over_s if target.wait_over_s is not None else 0.0
    shares, means = [], []
    per_hour: dict[int, list[tuple[int, int]]] = {}
    for seed in seeds:
        w, h = desk_waits(run_scenario(src, seed=seed, building=building))
        shares.append(float(np.mean(w > limit)) if w.size else 0.0)
        means.append(float(w.mean()) if w.size else 0.0)
        for hh in np.unique(h).astype(int):
            sel = h == hh
            per_hour.setdefault(int(hh), []).append((int(np.sum(w[sel] > limit)), int(sel.sum())))
    share, share_ci = mean_ci(shares)
    mean, mean_ci_ = mean_ci(means)
    hour_share = {h: sum(o for o, _ in v) / max(1, sum(n for _, n in v)) for h, v in sorted(per_hour.items())}
    hour_served = {h: sum(n for _, n in v) / len(seeds) for h, v in sorted(per_hour.items())}
    met = target.met(share + share_ci, mean + mean_ci_)
    return Verification(share, share_ci, mean, mean_ci_, hour_share, hour_served, len(seeds), met)


@dataclass(frozen=True)
class DeskPlan:
    desk: str
    load: DeskLoad
    need: dict[int, int]
    shifts: tuple[Shift, ...]

    @property
    def staff_hours(self) -> int:
        return sum((s.end_h - s.start_h) * s.count for s in self.shifts)


@dataclass(frozen=True)
class StaffingPlan:
    """The plan per desk, its verification and how many rounds it took."""

    target: Target
    desks: tuple[DeskPlan, ...]
    verification: Verification
    rounds: int
    scenario: ScenarioSource

    @property
    def staff_hours(self) -> int:
        return sum(d.staff_hours for d in self.desks)

    def staff_section(self) -> dict[str, Any]:
        """The plan as the scenario's ``staff`` section."""
        return dict(self.scenario.raw.get("staff") or {})


def plan_staffing(src: ScenarioSource, target: Target, *, replications: int = 5, pilot: int = 3, base_seed: int = 0,
                  min_shift_h: int = 4, max_shift_h: int = 8, patience_s: float | None = None, rounds: int = 3,
                  progress: Callable[[str], None] | None = None) -> StaffingPlan:
    """Screen, plan shifts and verify by simulation (see the module docstring).

    Parameters
    ----------
    replications
        Independent library days verifying the plan (2 or more for an interval).
    pilot
        Library days measuring the desks' load.
    patience_s
        Mean patience of a waiting reader [s] for Erlang A; None screens with Erlang C.
    rounds
        Plans tried at most; hours that miss the target get one more clerk each round.
    """
    if replications < 2:
        raise StaffingError(f"verification needs at least 2 replications for an interval, got {replications}")
    seeds = replication_seeds(base_seed, pilot + replications)
    say = progress or (lambda _m: None)
    say(f"pilot: {pilot} library day(s)")
    loads = desk_loads(src, seeds=seeds[:pilot])
    theta = 1.0 / patience_s if patience_s else 0.0
    needs = {ld.desk: screen(ld, target, theta_per_s=theta) for ld in loads}
    for r in range(1, rounds + 1):
        plans = [DeskPlan(ld.desk, ld, needs[ld.desk], tuple(shift_plan(needs[ld.desk], min_shift_h=min_shift_h,
                                                                          max_shift_h=max_shift_h)))
                 for ld in loads]
        changed = with_desk_shifts(src, {p.desk: [(s.text, s.count) for s in p.shifts] for p in plans})
        say(f"round {r}: verifying {sum(p.staff_hours for p in plans)} staff-hours over {replications} days")
        ver = verify(changed, target, seeds=seeds[pilot:])
        if ver.met or r == rounds:
            return StaffingPlan(target, tuple(plans), ver, r, changed)
        limit = target.max_share if target.max_share is not None else 0.0
        bumped = False
        for p in plans:
            for h, s in ver.hour_share.items():
                if h in p.need and (s > limit if target.max_share is not None else True):
                    needs[p.desk][h] = staffed(p.shifts, h) + 1
                    bumped = True
        if not bumped:  # no single hour misses: add a clerk at the busiest hour
            for p in plans:
                h = max(p.load.rate_per_s, key=lambda hh: p.load.rate_per_s[hh])
                needs[p.desk][h] = staffed(p.shifts, h) + 1
    raise AssertionError("unreachable")
