"""Demand: who comes to the library, when, in what parties, and what they came for.

The scenario's ``demand`` section is described by its model, :class:`geometry.scenario.DemandSpec`
(an example in :mod:`geometry.scenario.demand`); here are its defaults by branch kind, and arrivals.

Sections a scenario leaves out come from defaults keyed by branch kind (:data:`DEFAULT_DEMAND`).
Named visitor types take the behaviour of the built-in type of the same name
(:data:`BUILTIN_VISITOR_TYPES`) for every field they do not give; a scenario that lists
``visitor_types`` replaces the default mix (types it does not name do not come).

Arrivals are a non-homogeneous Poisson process, sampled exactly for a piecewise-constant rate
(:func:`piecewise_poisson_times`): a Poisson number of arrivals in each constant piece, placed
uniformly within it (Lewis and Shedler 1979, who also give the thinning method for general rates).
Parties (a group, a parent with children) arrive as one Poisson stream per visitor type at rate
``visitors/h x share / mean party size``.

References
----------
Lewis, P.A.W., Shedler, G.S. (1979). Simulation of nonhomogeneous Poisson processes by thinning.
Naval Research Logistics Quarterly 26(3), 403-413.
Morse, P.M. (1968). Library Effectiveness: A Systems Approach. MIT Press (Poisson arrivals and
queues at library desks).
"""

from __future__ import annotations

import copy
import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from geometry.model import Building
from geometry.scenario import ResolvedScenario, merge
from geometry.scenario.demand import (
    STUDY_ZONE_KINDS,
    DayType,
    DemandSpec,
    Distribution,
    EventSpec,
    SeatPreferences,
    VisitorType,
)

from .spec import given, raise_problems, section_problem, validate_section

Kind = Literal["central", "district", "service_point"]

__all__ = ["STUDY_ZONE_KINDS", "DayType", "DemandSpec", "Distribution", "EventSpec", "PartyArrival",
           "SeatPreferences", "VisitorType", "default_demand_raw", "load_demand", "merge_demand",
           "piecewise_poisson_times", "sample_day_arrivals", "thinning_poisson_times"]

def _dist(**kw: Any) -> dict[str, Any]:
    return dict(kw)

# --------------------------------------------------------------------------- defaults

#: A typical weekday arrival profile by hour (relative weights), estimated from published
#: people-counter summaries: morning use from opening, a lunchtime dip, the busiest hours in the
#: afternoon after school and work, tailing off in the evening (Oregon City Public Library
#: 2023-2024 counter data: heavy use 10:00-12:00; Georgia State University Library 2010: busiest
#: 12:00-13:00 then 10:00-11:00; Cambridge Central Library 2009-2011 checkouts: busy from 11:00).
WEEKDAY_PROFILE: dict[int, float] = {7: 0.3, 8: 0.7, 9: 1.2, 10: 1.2, 11: 1.0, 12: 0.8, 13: 1.0, 14: 1.2, 15: 1.3,
                                     16: 1.4, 17: 1.1, 18: 0.9, 19: 0.8, 20: 0.5, 21: 0.3}
#: A typical weekend profile: a rush for study seats at opening, families late morning and early
#: afternoon (typical, estimated; weekend hours are the busiest per open hour in many public
#: libraries, e.g. Park Ridge Public Library March 2017: 150-167 visits/h on weekends vs ~100).
WEEKEND_PROFILE: dict[int, float] = {7: 0.4, 8: 1.0, 9: 1.6, 10: 1.4, 11: 1.1, 12: 0.8, 13: 1.0, 14: 1.2, 15: 1.1,
                                     16: 0.9, 17: 0.7, 18: 0.6, 19: 0.5, 20: 0.3, 21: 0.2}

_LIBRARY_SEATS = {"zone_kinds": list(STUDY_ZONE_KINDS)}
_BROWSE_SEATS = {"zone_kinds": [*STUDY_ZONE_KINDS, "entrance", "children"], "lounge": 0.8, "window": 0.4,
                 "power": 0.0, "distance_per_m": -0.05}

#: Behaviour of the built-in visitor types (typical values, estimated where no study is named).
#: Stays: studiers 3 h on average (UK archive users 2006: 53% stayed over 3 h; study-seat users in
#: city libraries stay half a day, typical); regular borrowers 17 min on average (a municipal
#: library survey of ~2,000 users, analibraryse.com 2019: 38% leave within 10 min, 86% within
#: 30 min); children 50 min mean, 33 min median (Gjerdrum public library traffic count 2010).
#: Activity shares follow Pew Research Center (2013), "Library Services in the Digital Age": of
#: library visitors 73% borrow print books, 73% browse the shelves, 50% get help from librarians,
#: 49% sit and read or study. Walking speed: Weidmann (1993), 1.34 +- 0.26 m/s.
BUILTIN_VISITOR_TYPES: dict[str, dict[str, Any]] = {
    "studier": {
        "group_size": {1: 0.85, 2: 0.15},
        "stay_s": _dist(dist="lognormal", mean_s=10800, sd_s=5400, min_s=900),
        "seat_p": 1.0, "browse_p": 0.15, "browse_subjects_extra": 0.2, "borrow_p": 0.10, "return_p": 0.10,
        "help_p": 0.03, "breaks_per_h": 0.4, "cafe_p": 0.3, "search_s": 600.0, "seat": _LIBRARY_SEATS,
    },
    "browser": {
        "group_size": {1: 0.8, 2: 0.2},
        "stay_s": _dist(dist="lognormal", mean_s=1800, sd_s=1200, min_s=300),
        "seat_p": 0.3, "browse_p": 1.0, "browse_subjects_extra": 0.8,
        "browse_s": _dist(dist="lognormal", mean_s=600, sd_s=400, min_s=60),
        "borrow_p": 0.35, "return_p": 0.2, "help_p": 0.05, "search_s": 60.0, "seat": _BROWSE_SEATS,
    },
    "borrower": {
        "group_size": {1: 0.9, 2: 0.1},
        "stay_s": _dist(dist="lognormal", mean_s=900, sd_s=600, min_s=120),
        "seat_p": 0.05, "browse_p": 0.6, "browse_subjects_extra": 0.3,
        "browse_s": _dist(dist="lognormal", mean_s=420, sd_s=300, min_s=60),
        "borrow_p": 0.8, "return_p": 0.7, "help_p": 0.08, "search_s": 60.0, "seat": _BROWSE_SEATS,
    },
    "group": {
        "group_size": {2: 0.3, 3: 0.35, 4: 0.25, 5: 0.1},
        "stay_s": _dist(dist="lognormal", mean_s=7200, sd_s=3600, min_s=1200),
        "seat_p": 1.0, "group_room_p": 0.7, "browse_p": 0.1, "borrow_p": 0.1, "return_p": 0.05,
        "breaks_per_h": 0.3, "cafe_p": 0.5, "search_s": 600.0,
        "seat": {"zone_kinds": list(STUDY_ZONE_KINDS), "group": 1.0, "power": 0.5, "neighbours": -1.0},
    },
    "parent_child": {
        "group_size": {2: 0.6, 3: 0.4},
        "stay_s": _dist(dist="lognormal", mean_s=2700, sd_s=1800, min_s=300),
        "children_p": 1.0, "seat_p": 0.0, "browse_p": 0.2, "borrow_p": 0.6, "return_p": 0.4, "help_p": 0.05,
        "speed_m_s": _dist(dist="normal", mean_s=1.0, sd_s=0.2, min_s=0.5, max_s=1.6), "lift_p": 0.6,
        "seat": _BROWSE_SEATS,
    },
    "event_attendee": {
        "group_size": {1: 0.5, 2: 0.3, 3: 0.2},
        "stay_s": _dist(dist="fixed", mean_s=3600),
        "browse_p": 0.25, "borrow_p": 0.15, "return_p": 0.05, "seat": _BROWSE_SEATS,
    },
}

#: Default demand per branch kind (typical). Visits: Chinese public libraries averaged about
#: 770 visits a day in 2019 (901 million visits in 3,196 libraries; Ministry of Culture and
#: Tourism of the PRC, 2019 statistical bulletin); a city's central library takes several times
#: that, a community reading point a fraction. Mixes are estimated from Pew (2013) activity shares
#: and the study-seat demand typical of Chinese city libraries.
DEFAULT_DEMAND: dict[str, dict[str, Any]] = {
    "central": {
        "day_types": {"weekday": {"visits": 3800}, "weekend": {"visits": 5600, "profile": WEEKEND_PROFILE}},
        "mix": {"studier": 0.42, "browser": 0.20, "borrower": 0.18, "group": 0.08, "parent_child": 0.12},
    },
    "district": {
        "day_types": {"weekday": {"visits": 650}, "weekend": {"visits": 1000, "profile": WEEKEND_PROFILE}},
        "mix": {"studier": 0.30, "browser": 0.22, "borrower": 0.25, "group": 0.05, "parent_child": 0.18},
    },
    "service_point": {
        "day_types": {"weekday": {"visits": 110}, "weekend": {"visits": 160, "profile": WEEKEND_PROFILE}},
        "mix": {"studier": 0.45, "browser": 0.25, "borrower": 0.22, "parent_child": 0.08},
    },
}


def _default_events(kind: str, building: Building | None) -> list[dict[str, Any]]:
    """Weekly events where the building has room for them (typical programmes)."""
    if building is None or kind == "service_point":
        return []
    out: list[dict[str, Any]] = []
    children = [z for z in building.zones if z.kind == "children"]
    halls = [z for z in building.zones if z.kind == "event_space"]
    if children:
        out.append({"id": "storytime", "zone": children[0].id, "start": "10:30", "duration_s": 2700,
                    "attendees": 25 if kind == "district" else 40, "days": ["Sa", "Su"],
                    "visitor_type": "event_attendee"})
    if halls:
        out.append({"id": "lecture", "zone": halls[0].id, "start": "14:30", "duration_s": 5400,
                    "attendees": 120, "days": ["Sa"], "visitor_type": "event_attendee"})
    return out


def default_demand_raw(kind: str, building: Building | None = None) -> dict[str, Any]:
    """The default ``demand`` section of a branch kind, as plain data."""
    if kind not in DEFAULT_DEMAND:
        raise ValueError(f"unknown branch kind '{kind}' (known: {', '.join(DEFAULT_DEMAND)})")
    base = DEFAULT_DEMAND[kind]
    types = {name: merge(BUILTIN_VISITOR_TYPES[name], {"share": share}) for name, share in base["mix"].items()}
    types["event_attendee"] = merge(BUILTIN_VISITOR_TYPES["event_attendee"], {"share": 0.0})
    return {"day_types": merge({}, base["day_types"]), "visitor_types": types,
            "events": _default_events(kind, building)}


def merge_demand(default: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """The scenario's demand over the defaults.

    ``visitor_types`` given replace the default mix, each type taking the built-in behaviour of
    its name for fields it leaves out; a day type given with ``arrivals_per_hour`` replaces the
    default's ``visits``/``profile``; everything else merges key by key.
    """
    out = merge({k: v for k, v in default.items() if k not in ("visitor_types", "day_types", "events")},
                {k: v for k, v in given.items() if k not in ("visitor_types", "day_types", "events")})
    out["events"] = copy.deepcopy(given["events"] if "events" in given else default.get("events", []))
    days = merge({}, default.get("day_types", {}))
    for name, spec in (given.get("day_types") or {}).items():
        if isinstance(spec, Mapping) and "arrivals_per_hour" in spec:
            days[name] = merge({}, spec)
        else:
            days[name] = merge(days.get(name, {}), spec)
    out["day_types"] = days
    if "visitor_types" in given and isinstance(given["visitor_types"], Mapping):
        types = {}
        for name, spec in given["visitor_types"].items():
            base = BUILTIN_VISITOR_TYPES.get(str(name), {})
            if isinstance(spec, Mapping):
                # a distribution given replaces the built-in one whole (no mixing of parameters)
                base = {k: v for k, v in base.items() if not (isinstance(spec.get(k), Mapping) and "dist" in spec[k])}
                types[name] = merge(base, spec)
            else:
                types[name] = spec
        if "event_attendee" not in types and any(
                (e.get("visitor_type", "event_attendee") == "event_attendee")
                for e in out.get("events", []) if isinstance(e, Mapping)):
            types["event_attendee"] = merge(BUILTIN_VISITOR_TYPES["event_attendee"], {"share": 0.0})
        out["visitor_types"] = types
    else:
        out["visitor_types"] = merge({}, default.get("visitor_types", {}))
    return dict(out)


def load_demand(resolved: ResolvedScenario, building: Building | None = None) -> DemandSpec:
    """The scenario's ``demand`` section over the defaults of its branch kind, validated.

    Parameters
    ----------
    resolved
        The scenario (variant applied).
    building
        Its building: gives the default events (in children's and event zones) and checks the
        zones of events. None: no default events, no zone check.

    Raises
    ------
    geometry.errors.ScenarioError
        With file, line and field of every mistake (also names that refer to nothing).
    """
    kind = resolved.scenario.branch.kind
    raw = merge_demand(default_demand_raw(kind, building), given(resolved.scenario.demand))
    spec = validate_section(DemandSpec, raw, section="demand", resolved=resolved)
    problems = [section_problem(resolved, ("demand", *loc), msg) for loc, msg in spec.reference_problems()]
    if building is not None:
        zones = {z.id for z in building.zones}
        for i, ev in enumerate(spec.events):
            if ev.zone not in zones:
                problems.append(section_problem(resolved, ("demand", "events", i, "zone"),
                                                f"event '{ev.id}' is in zone '{ev.zone}', which the building "
                                                f"does not have"))
    raise_problems(resolved, problems)
    return spec


# --------------------------------------------------------------------------- arrivals

def piecewise_poisson_times(edges_s: NDArray[np.float64] | Sequence[float],
                            rates_per_s: NDArray[np.float64] | Sequence[float],
                            rng: np.random.Generator) -> NDArray[np.float64]:
    """Arrival times of a Poisson process with a piecewise-constant rate, sampled exactly.

    In each piece ``[edges_s[i], edges_s[i+1])`` the number of arrivals is Poisson with mean
    ``rate * length`` and, given that number, the times are independent and uniform in the piece
    (Lewis and Shedler 1979).

    Parameters
    ----------
    edges_s
        Piece boundaries, increasing [s]; ``len(rates_per_s) + 1`` of them.
    rates_per_s
        Rate in each piece [1/s], non-negative.
    rng
        The random generator.

    Returns
    -------
    numpy.ndarray
        Sorted arrival times [s].
    """
    edges = np.asarray(edges_s, dtype=float)
    rates = np.asarray(rates_per_s, dtype=float)
    if edges.ndim != 1 or rates.shape != (len(edges) - 1,):
        raise ValueError(f"need len(edges) = len(rates) + 1, got {len(edges)} edges and {rates.shape} rates")
    widths = np.diff(edges)
    if np.any(widths < 0) or np.any(rates < 0):
        raise ValueError("edges must increase and rates must be non-negative")
    counts = rng.poisson(rates * widths)
    starts = np.repeat(edges[:-1], counts)
    spans = np.repeat(widths, counts)
    return np.sort(starts + rng.random(int(counts.sum())) * spans)


def thinning_poisson_times(rate_per_s: Any, t0_s: float, t1_s: float, rate_max_per_s: float,
                           rng: np.random.Generator) -> NDArray[np.float64]:
    """Arrival times of a Poisson process with any rate function, by thinning (Lewis and Shedler 1979).

    Candidates come at ``rate_max_per_s``; each is kept with probability ``rate(t) / rate_max``.

    Parameters
    ----------
    rate_per_s
        Vectorised rate function ``rate(t [s]) -> [1/s]``, at most ``rate_max_per_s``.
    """
    n = rng.poisson(rate_max_per_s * (t1_s - t0_s))
    t = np.sort(t0_s + rng.random(n) * (t1_s - t0_s))
    r = np.asarray(rate_per_s(t), dtype=float)
    if np.any(r > rate_max_per_s * (1 + 1e-9)):
        raise ValueError("rate exceeds rate_max_per_s")
    return t[rng.random(n) * rate_max_per_s < r]


def hourly_rate_pieces(day: DayType, intervals: Sequence[tuple[float, float]]) -> tuple[
        NDArray[np.float64], NDArray[np.float64]]:
    """Visitor arrival rate of a day as constant pieces within the opening intervals.

    Returns
    -------
    edges_s, rates_per_s
        Piece boundaries [s after midnight] and the visitor rate in each [1/s]; pieces are the
        opening intervals cut at each full hour.
    """
    weights = day.arrivals_per_hour if day.arrivals_per_hour is not None else (day.profile or WEEKDAY_PROFILE)
    e: list[float] = []
    r: list[float] = []
    for a, b in sorted(intervals):
        if e and a > e[-1]:
            r.append(0.0)  # closed between two opening intervals
            e.append(a)
        elif not e:
            e.append(a)
        t = a
        while t < b - 1e-9:
            nxt = min(b, (math.floor(t / 3600.0) + 1) * 3600.0)
            r.append(float(weights.get(int(t // 3600) % 24, 0.0)))
            e.append(nxt)
            t = nxt
    edges_a = np.array(e, dtype=float)
    w = np.array(r, dtype=float)
    if edges_a.size == 0:
        return np.zeros(1), np.zeros(0)
    if day.arrivals_per_hour is not None:
        return edges_a, w / 3600.0
    visits = float(day.visits or 0.0)
    weight_time = float(np.sum(w * np.diff(edges_a)))
    if weight_time <= 0:
        return edges_a, np.zeros_like(w)
    return edges_a, w * visits / weight_time


@dataclass(frozen=True)
class PartyArrival:
    """A party arriving: when [s since the run's first midnight], its visitor type and size."""

    t_s: float
    visitor_type: str
    size: int
    event: str | None = None


def sample_day_arrivals(demand: DemandSpec, date: dt.date, intervals: Sequence[tuple[float, float]],
                        rng: np.random.Generator, *, day_start_s: float = 0.0,
                        last_entry_s: float = 0.0) -> list[PartyArrival]:
    """Parties arriving on one day: the hourly stream of each visitor type, plus event attendees.

    Parameters
    ----------
    intervals
        Opening intervals of the day [s after midnight].
    day_start_s
        Simulation time of the day's midnight [s].
    last_entry_s
        No one enters during the last ``last_entry_s`` of each opening interval [s].
    """
    if not intervals:
        return []
    kind = demand.day_type_of(date)
    entry = [(a, b - last_entry_s) for a, b in intervals if b - last_entry_s > a]
    edges, rates = hourly_rate_pieces(demand.day_types[kind], entry)
    shares = demand.shares_on(kind)
    out: list[PartyArrival] = []
    for name, vt in demand.visitor_types.items():
        share = shares.get(name, 0.0)
        if share <= 0 or rates.size == 0:
            continue
        times = piecewise_poisson_times(edges, rates * share / vt.mean_group_size, rng)
        for t in times:
            out.append(PartyArrival(day_start_s + float(t), name, vt.sample_group_size(rng)))
    for ev in demand.events_on(date):
        vt = demand.visitor_types[ev.visitor_type]
        n_persons = int(rng.poisson(ev.attendees))
        lo = ev.start_s - ev.arrive_before_s
        hi = ev.start_s + ev.late_s
        lo = max(lo, min(a for a, _ in intervals))
        if hi <= lo or not any(a <= ev.start_s < b for a, b in intervals):
            continue
        placed = 0
        while placed < n_persons:
            size = min(vt.sample_group_size(rng), n_persons - placed)
            out.append(PartyArrival(day_start_s + float(rng.uniform(lo, hi)), ev.visitor_type, size, ev.id))
            placed += size
    out.sort(key=lambda p: (p.t_s, p.visitor_type, p.size))
    return out
