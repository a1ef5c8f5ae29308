"""Demand: who comes to the library, when, in what parties, and what they came for.

The scenario's ``demand`` section (validated here; the loader keeps it as an open mapping)::

    demand:
      start_date: 2025-03-05          # first simulated day (default: a Wednesday)
      day_types:                      # named day types (or weekday names Mo..Su)
        weekday: {visits: 800}        # expected visits (persons) a day, spread by a profile
        weekend: {visits: 1200, profile: {9: 1.6, 10: 1.4, 11: 1.1, ...}}
        exam:    {arrivals_per_hour: {8: 120, 9: 200, ...}}   # or absolute rates [visitors/h]
      week: {Mo: weekday, ..., Sa: weekend, Su: weekend}       # default: Mo-Fr weekday, Sa-Su weekend
      dates: {"2025-05-01": weekend}  # special dates
      visitor_types:                  # shares of visitors in the hourly stream, and behaviour
        studier: {share: 0.4, stay_s: {dist: lognormal, mean_s: 10800, sd_s: 5400}}
        browser: {share: 0.6}
      events:
        - {id: storytime, zone: children-G, start: "10:30", duration_s: 2700, attendees: 25, days: [Sa]}
      subjects: {"I Literature": 2.0}  # browsing interest per subject (default: shelf count)

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

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import Field, field_validator, model_validator

from geometry.build import ScenarioSource
from geometry.model import Building

from .hours import WEEKDAYS
from .spec import Strict, clock_s, deep_merge, scenario_problem, section_raw, validate_section

Kind = Literal["central", "district", "service_point"]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")]

#: Zone kinds where readers may take a seat to study (the default of :class:`SeatPreferences`).
STUDY_ZONE_KINDS: tuple[str, ...] = ("reading_room", "quiet_study", "stacks", "computer_lab", "group_study")


# --------------------------------------------------------------------------- distributions

class Distribution(Strict):
    """A distribution of durations [s] (service, stay, break ...), as written in a scenario.

    ``dist`` is one of ``fixed`` (``mean_s``), ``exponential`` (``mean_s``), ``lognormal`` and
    ``gamma`` (``mean_s``, ``sd_s``), ``normal`` (``mean_s``, ``sd_s``; cut at ``min_s``, default 0),
    ``uniform`` (``min_s``, ``max_s``) and ``triangular`` (``min_s``, ``mode_s``, ``max_s``).
    ``min_s``/``max_s`` clip the other kinds. A plain number means ``fixed``.
    """

    dist: Literal["fixed", "exponential", "lognormal", "gamma", "normal", "uniform", "triangular"]
    mean_s: float | None = Field(None, gt=0, description="mean [s]")
    sd_s: float | None = Field(None, ge=0, description="standard deviation [s]")
    min_s: float | None = Field(None, ge=0, description="lower bound [s]")
    mode_s: float | None = Field(None, ge=0, description="most likely value (triangular) [s]")
    max_s: float | None = Field(None, gt=0, description="upper bound [s]")

    @model_validator(mode="before")
    @classmethod
    def _number_is_fixed(cls, data: Any) -> Any:
        if isinstance(data, (int, float)) and not isinstance(data, bool):
            return {"dist": "fixed", "mean_s": data}
        return data

    @model_validator(mode="after")
    def _parameters(self) -> Distribution:
        need = {"fixed": ("mean_s",), "exponential": ("mean_s",), "lognormal": ("mean_s", "sd_s"),
                "gamma": ("mean_s", "sd_s"), "normal": ("mean_s", "sd_s"), "uniform": ("min_s", "max_s"),
                "triangular": ("min_s", "mode_s", "max_s")}[self.dist]
        missing = [k for k in need if getattr(self, k) is None]
        if missing:
            raise ValueError(f"a {self.dist} distribution needs {', '.join(need)} (missing {', '.join(missing)})")
        if self.dist == "gamma" and not self.sd_s:
            raise ValueError("a gamma distribution needs sd_s > 0")
        lo, hi = self.min_s, self.max_s
        if lo is not None and hi is not None and hi < lo:
            raise ValueError(f"max_s {hi} is below min_s {lo}")
        if self.dist == "triangular" and not (lo <= self.mode_s <= hi):  # type: ignore[operator]
            raise ValueError(f"mode_s {self.mode_s} must lie between min_s {lo} and max_s {hi}")
        return self

    @property
    def mean(self) -> float:
        """Mean of the distribution before clipping [s]."""
        if self.dist == "uniform":
            return (self.min_s + self.max_s) / 2.0  # type: ignore[operator]
        if self.dist == "triangular":
            return (self.min_s + self.mode_s + self.max_s) / 3.0  # type: ignore[operator]
        return float(self.mean_s)  # type: ignore[arg-type]

    def sample(self, rng: np.random.Generator, size: int | None = None) -> Any:
        """Draw from the distribution [s] (a float, or an array of ``size``)."""
        m, s = self.mean_s, self.sd_s
        # numpy's stubs overload on ``size`` being None or an int; both are wanted here
        rng_: Any = rng
        if self.dist == "fixed":
            x = np.full(size, m) if size is not None else float(m)  # type: ignore[arg-type]
        elif self.dist == "exponential":
            x = rng_.exponential(m, size)
        elif self.dist == "lognormal":
            sigma2 = math.log1p((s / m) ** 2)  # type: ignore[operator]
            x = rng.lognormal(math.log(m) - sigma2 / 2.0, math.sqrt(sigma2), size)  # type: ignore[arg-type]
        elif self.dist == "gamma":
            x = rng.gamma((m / s) ** 2, s * s / m, size)  # type: ignore[operator]
        elif self.dist == "normal":
            x = rng_.normal(m, s, size)
            x = np.maximum(x, self.min_s if self.min_s is not None else 0.0)
        elif self.dist == "uniform":
            x = rng_.uniform(self.min_s, self.max_s, size)
        else:
            x = rng_.triangular(self.min_s, self.mode_s, self.max_s, size)
        if self.dist not in ("uniform", "triangular") and (self.min_s is not None or self.max_s is not None):
            x = np.clip(x, self.min_s if self.min_s is not None else 0.0,
                        self.max_s if self.max_s is not None else np.inf)
        return float(x) if size is None else np.asarray(x, dtype=float)


def _dist(**kw: Any) -> dict[str, Any]:
    return dict(kw)


# --------------------------------------------------------------------------- visitor types

class SeatPreferences(Strict):
    """Multinomial-logit seat choice: utility of a free seat, in utility units per attribute.

    ``U = sum(coef[a] * has(a)) + distance_per_m * walk distance [m] + neighbours * occupied seats at
    the same table + Gumbel noise``; the reader takes the seat of highest utility, i.e. seat ``i``
    with probability ``exp(V_i) / sum_j exp(V_j)`` (McFadden 1974). Readers avoid tables already in
    use and sit apart from strangers (Sommer 1968; Fishman and Walitt 1972); they favour power
    sockets and windows (typical, estimated; window and power seats are the first taken in
    occupancy counts).

    References
    ----------
    McFadden, D. (1974). Conditional logit analysis of qualitative choice behavior. In Zarembka (ed.),
    Frontiers in Econometrics, 105-142.
    Sommer, R. (1968). Reading areas in college libraries. The Library Quarterly 38(3), 249-260.
    Fishman, D., Walitt, R. (1972). Seating and area preferences in a college reserve room.
    College & Research Libraries 33(4), 284-297.
    """

    window: float = 0.5
    power: float = 0.8
    quiet: float = 0.4
    group: float = -0.5
    computer: float = -0.6
    lounge: float = -0.8
    accessible: float = 0.0
    distance_per_m: float = Field(-0.02, le=0, description="utility per metre of walk [1/m]")
    neighbours: float = Field(-0.6, description="utility per occupied seat at the same table")
    zone_kinds: tuple[str, ...] = Field(STUDY_ZONE_KINDS, description="zone kinds where this reader sits")
    min_utility: float | None = Field(None, description="seats below this systematic utility are not acceptable")

    def coefficients(self, attrs: Sequence[str]) -> NDArray[np.float64]:
        """Coefficients of seat attributes ``attrs``, in that order."""
        return np.array([float(getattr(self, a, 0.0)) for a in attrs])


class VisitorType(Strict):
    """What one kind of visitor does. Probabilities are per visit; durations are distributions [s]."""

    share: float = Field(0.0, ge=0, le=1, description="share of visitors in the hourly stream")
    group_size: dict[int, float] = Field(default_factory=lambda: {1: 1.0},
                                         description="party size -> probability")
    stay_s: Distribution = Field(default_factory=lambda: Distribution(dist="lognormal", mean_s=3600, sd_s=1800),
                                 description="time at a seat, in a group room or the children's area [s]")
    seat_p: float = Field(0.0, ge=0, le=1, description="probability of taking a seat")
    group_room_p: float = Field(0.0, ge=0, le=1, description="probability a party asks for a group room first")
    children_p: float = Field(0.0, ge=0, le=1, description="probability of spending the stay in a children's zone")
    browse_p: float = Field(0.0, ge=0, le=1, description="probability of browsing the stacks")
    browse_subjects_extra: float = Field(0.5, ge=0, description="mean number of further subjects browsed")
    browse_s: Distribution = Field(default_factory=lambda: Distribution(dist="lognormal", mean_s=480, sd_s=300),
                                   description="time at the shelves of one subject [s]")
    borrow_p: float = Field(0.0, ge=0, le=1)
    return_p: float = Field(0.0, ge=0, le=1)
    help_p: float = Field(0.0, ge=0, le=1, description="probability of a question at a staffed desk")
    self_service_p: float = Field(0.85, ge=0, le=1, description="loans/returns at a kiosk when both exist")
    breaks_per_h: float = Field(0.0, ge=0, description="breaks (restroom, cafe) per hour seated [1/h]")
    break_s: Distribution = Field(default_factory=lambda: Distribution(dist="lognormal", mean_s=900, sd_s=450),
                                  description="a cafe break, away from the seat [s] (typical)")
    restroom_s: Distribution = Field(default_factory=lambda: Distribution(dist="lognormal", mean_s=240, sd_s=120),
                                     description="a restroom break, away from the seat [s] (typical)")
    cafe_p: float = Field(0.3, ge=0, le=1, description="share of breaks at a cafe (when there is one)")
    search_s: float = Field(300.0, ge=0, description="time spent looking for a seat before giving up [s]")
    speed_m_s: Distribution = Field(default_factory=lambda: Distribution(dist="normal", mean_s=1.34, sd_s=0.26,
                                                                            min_s=0.5, max_s=2.0),
                                    description="desired walking speed [m/s] (Weidmann 1993: 1.34 +- 0.26)")
    lift_p: float = Field(0.1, ge=0, le=1, description="probability of taking a lift rather than stairs")
    seat: SeatPreferences = Field(default_factory=SeatPreferences)

    @field_validator("group_size")
    @classmethod
    def _sizes(cls, v: dict[int, float]) -> dict[int, float]:
        if not v:
            raise ValueError("group_size needs at least one size")
        for k, p in v.items():
            if not 1 <= k <= 30:
                raise ValueError(f"party size {k} must be between 1 and 30")
            if p < 0:
                raise ValueError(f"probability of party size {k} is negative ({p})")
        total = sum(v.values())
        if total <= 0:
            raise ValueError("group_size probabilities sum to 0")
        return {k: p / total for k, p in sorted(v.items())}

    @property
    def mean_group_size(self) -> float:
        """Expected party size [persons]."""
        return sum(k * p for k, p in self.group_size.items())

    def sample_group_size(self, rng: np.random.Generator) -> int:
        sizes = list(self.group_size)
        return int(sizes[int(rng.choice(len(sizes), p=list(self.group_size.values())))])


# --------------------------------------------------------------------------- days and events

def _hour_key(k: Any) -> int:
    text = str(k).strip()
    if ":" in text:
        s = clock_s(text)
        if s % 3600:
            raise ValueError(f"hour '{text}' must be on the hour")
        h = int(s // 3600)
    else:
        h = int(text)
    if not 0 <= h <= 23:
        raise ValueError(f"hour {text} must be 0-23")
    return h


class DayType(Strict):
    """Arrivals on one kind of day: ``visits`` spread by ``profile``, or ``arrivals_per_hour``.

    Hours are 0-23 (hour ``h`` covers ``h:00-h+1:00`` local time); only open time counts, and
    ``visits`` is the expected number of visitors (persons) over the day's opening hours.
    """

    visits: float | None = Field(None, ge=0, description="expected visits (persons) a day")
    profile: dict[int, float] | None = Field(None, description="relative arrival weight by hour")
    arrivals_per_hour: dict[int, float] | None = Field(None, description="arrival rate by hour [visitors/h]")
    shares: dict[str, float] | None = Field(None, description="visitor-type shares on this kind of day")

    @field_validator("profile", "arrivals_per_hour", mode="before")
    @classmethod
    def _hours(cls, v: Any) -> Any:
        if isinstance(v, Mapping):
            out: dict[int, Any] = {}
            for k, x in v.items():
                out[_hour_key(k)] = x
            return out
        return v

    @field_validator("profile", "arrivals_per_hour")
    @classmethod
    def _nonneg(cls, v: dict[int, float] | None) -> dict[int, float] | None:
        if v is not None:
            for h, x in v.items():
                if x < 0 or not math.isfinite(x):
                    raise ValueError(f"hour {h}: {x} must be a non-negative number")
        return v

    @model_validator(mode="after")
    def _one_way(self) -> DayType:
        if (self.visits is None) == (self.arrivals_per_hour is None):
            raise ValueError("give either 'visits' (with an optional 'profile') or 'arrivals_per_hour'")
        if self.profile is not None and self.visits is None:
            raise ValueError("'profile' goes with 'visits'")
        return self


class EventSpec(Strict):
    """A scheduled event (story time, talk, class): attendees come for it, stay, then leave."""

    id: Name
    zone: Name = Field(description="zone where it takes place")
    start: str = Field(description="start time HH:MM (local)")
    duration_s: float = Field(gt=0, le=86400)
    attendees: float = Field(gt=0, description="expected attendees (persons); the count is Poisson")
    days: list[str] | None = Field(None, description="weekdays (Mo..Su), day types or dates YYYY-MM-DD; "
                                                     "default every open day")
    arrive_before_s: float = Field(900.0, ge=0, description="earliest arrival before the start [s]")
    late_s: float = Field(300.0, ge=0, description="latest arrival after the start [s]")
    visitor_type: Name = "event_attendee"
    name: str | None = None

    @field_validator("start")
    @classmethod
    def _clock(cls, v: str) -> str:
        clock_s(v)
        return v

    @property
    def start_s(self) -> float:
        """Start [s after midnight]."""
        return clock_s(self.start)


class DemandSpec(Strict):
    """The validated ``demand`` section (see the module docstring)."""

    start_date: dt.date = Field(dt.date(2025, 3, 5), description="first simulated day (local)")
    day_types: dict[Name, DayType] = Field(min_length=1)
    week: dict[Literal["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"], str] = Field(default_factory=dict)
    dates: dict[dt.date, str] = Field(default_factory=dict)
    visitor_types: dict[Name, VisitorType] = Field(min_length=1)
    events: list[EventSpec] = Field(default_factory=list)
    subjects: dict[str, float] = Field(default_factory=dict, description="browsing interest per subject")

    @model_validator(mode="after")
    def _references(self) -> DemandSpec:
        for d, name in [*self.week.items(), *((str(k), v) for k, v in self.dates.items())]:
            if name not in self.day_types:
                raise ValueError(f"day '{d}' uses day type '{name}', which is not in day_types "
                                 f"(known: {', '.join(self.day_types)})")
        self._check_shares(None, {k: v.share for k, v in self.visitor_types.items()})
        for name, day in self.day_types.items():
            if day.shares is not None:
                unknown = [k for k in day.shares if k not in self.visitor_types]
                if unknown:
                    raise ValueError(f"day type '{name}': shares name unknown visitor type(s) {', '.join(unknown)}")
                self._check_shares(name, day.shares)
        for ev in self.events:
            if ev.visitor_type not in self.visitor_types:
                raise ValueError(f"event '{ev.id}' brings visitor type '{ev.visitor_type}', which is not in "
                                 f"visitor_types (known: {', '.join(self.visitor_types)})")
        return self

    @staticmethod
    def _check_shares(where: str | None, shares: Mapping[str, float]) -> None:
        total = sum(shares.values())
        if abs(total - 1.0) > 0.01:
            detail = ", ".join(f"{k} {v:g}" for k, v in shares.items() if v)
            at = f"day type '{where}': " if where else ""
            raise ValueError(f"{at}visitor-type shares must add up to 1, they add up to {total:.3f} ({detail})")

    def day_type_of(self, date: dt.date) -> str:
        """The day type of a date: ``dates``, then ``week``, then a type named after the weekday,
        then ``weekday``/``weekend``, then the only type."""
        if date in self.dates:
            return self.dates[date]
        wd = WEEKDAYS[date.weekday()]
        if wd in self.week:
            return self.week[wd]
        if wd in self.day_types:
            return wd
        fallback = "weekend" if date.weekday() >= 5 else "weekday"
        if fallback in self.day_types:
            return fallback
        if len(self.day_types) == 1:
            return next(iter(self.day_types))
        raise ValueError(f"no day type for {date} ({wd}): add it to demand.week")

    def shares_on(self, day_type: str) -> dict[str, float]:
        """Visitor-type shares of the hourly stream on a day type."""
        custom = self.day_types[day_type].shares
        if custom is not None:
            return {k: float(custom.get(k, 0.0)) for k in self.visitor_types}
        return {k: v.share for k, v in self.visitor_types.items()}

    def events_on(self, date: dt.date) -> list[EventSpec]:
        """Events held on ``date``."""
        wd, kind, iso = WEEKDAYS[date.weekday()], self.day_type_of(date), date.isoformat()
        return [e for e in self.events if e.days is None or wd in e.days or kind in e.days or iso in e.days]


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
    types = {name: deep_merge(BUILTIN_VISITOR_TYPES[name], {"share": share}) for name, share in base["mix"].items()}
    types["event_attendee"] = deep_merge(BUILTIN_VISITOR_TYPES["event_attendee"], {"share": 0.0})
    return {"day_types": deep_merge({}, base["day_types"]), "visitor_types": types,
            "events": _default_events(kind, building)}


def merge_demand(default: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """The scenario's demand over the defaults.

    ``visitor_types`` given replace the default mix, each type taking the built-in behaviour of
    its name for fields it leaves out; a day type given with ``arrivals_per_hour`` replaces the
    default's ``visits``/``profile``; everything else merges key by key.
    """
    out = deep_merge({k: v for k, v in default.items() if k not in ("visitor_types", "day_types")},
                     {k: v for k, v in given.items() if k not in ("visitor_types", "day_types")})
    days = deep_merge({}, default.get("day_types", {}))
    for name, spec in (given.get("day_types") or {}).items():
        if isinstance(spec, Mapping) and "arrivals_per_hour" in spec:
            days[name] = deep_merge({}, spec)
        else:
            days[name] = deep_merge(days.get(name, {}), spec)
    out["day_types"] = days
    if "visitor_types" in given and isinstance(given["visitor_types"], Mapping):
        types = {}
        for name, spec in given["visitor_types"].items():
            base = BUILTIN_VISITOR_TYPES.get(str(name), {})
            if isinstance(spec, Mapping):
                # a distribution given replaces the built-in one whole (no mixing of parameters)
                base = {k: v for k, v in base.items() if not (isinstance(spec.get(k), Mapping) and "dist" in spec[k])}
                types[name] = deep_merge(base, spec)
            else:
                types[name] = spec
        if "event_attendee" not in types and any(
                (e.get("visitor_type", "event_attendee") == "event_attendee")
                for e in out.get("events", []) if isinstance(e, Mapping)):
            types["event_attendee"] = deep_merge(BUILTIN_VISITOR_TYPES["event_attendee"], {"share": 0.0})
        out["visitor_types"] = types
    else:
        out["visitor_types"] = deep_merge({}, default.get("visitor_types", {}))
    return dict(out)


def load_demand(src: ScenarioSource, variant: str | None = None, building: Building | None = None) -> DemandSpec:
    """The scenario's ``demand`` section over the defaults of its branch kind, validated.

    Raises
    ------
    geometry.errors.ScenarioError
        With file, line and field of each mistake (also zones of events that do not exist).
    """
    kind = src.scenario.branch.kind
    raw = merge_demand(default_demand_raw(kind, building), section_raw(src, "demand", variant))
    spec = validate_section(DemandSpec, raw, section="demand", src=src, variant=variant)
    if building is not None:
        zones = {z.id for z in building.zones}
        for i, ev in enumerate(spec.events):
            if ev.zone not in zones:
                raise scenario_problem(src, ("demand", "events", i, "zone"),
                                       f"event '{ev.id}' is in zone '{ev.zone}', which the building does not have")
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
