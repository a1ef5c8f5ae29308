"""The ``demand`` section of a scenario: who comes, when, in what parties, and what for.

::

    demand:
      start_date: 2025-03-05          # first simulated day (default: a Wednesday)
      day_types:                      # named day types (or weekday names Mo..Su)
        weekday: {visits: 800}        # expected visits (persons) a day, spread by a profile
        weekend: {visits: 1200, profile: {9: 1.6, 10: 1.4, 11: 1.1}}
        exam:    {arrivals_per_hour: {8: 120, 9: 200}}   # or absolute rates [visitors/h]
      week: {Mo: weekday, Sa: weekend, Su: weekend}    # default: Mo-Fr weekday, Sa-Su weekend
      dates: {"2025-05-01": weekend}  # special dates
      visitor_types:                  # shares of visitors in the hourly stream, and behaviour
        studier: {share: 0.4, stay_s: {dist: lognormal, mean_s: 10800, sd_s: 5400}}
        browser: {share: 0.6}
      events:
        - {id: storytime, zone: children-G, start: "10:30", duration_s: 2700, attendees: 25, days: [Sa]}
      subjects: {"I Literature": 2.0}  # browsing interest per subject (default: shelf count)

``day_types`` and ``visitor_types`` the file leaves out come from the defaults of the branch
kind (``simulation.day.demand``); a visitor type named like a built-in one takes the built-in
behaviour for every field it does not give. The same models validate the section as written and
the section with the defaults filled in; :meth:`DemandSpec.reference_problems` checks the names
that refer to each other once the defaults are in.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import Field, field_validator, model_validator

from ..errors import Loc
from .hours import WEEKDAYS
from .types import Float, Id, Strict, Text, clock_s

Name = Id
#: Largest expected number of visits on one day [persons] (the busiest libraries see some 10,000).
MAX_VISITS_PER_DAY = 50_000.0
#: Largest arrival rate of one hour [visitors/h].
MAX_ARRIVALS_PER_HOUR = 10_000.0

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

    dist: Literal["fixed", "exponential", "lognormal", "gamma", "normal", "uniform", "triangular"] = Field(
        description="the kind of distribution")
    mean_s: Float | None = Field(default=None, gt=0, le=1e7, description="mean [s]")
    sd_s: Float | None = Field(default=None, ge=0, le=1e7, description="standard deviation [s]")
    min_s: Float | None = Field(default=None, ge=0, le=1e7, description="lower bound [s]")
    mode_s: Float | None = Field(default=None, ge=0, le=1e7, description="most likely value (triangular) [s]")
    max_s: Float | None = Field(default=None, gt=0, le=1e7, description="upper bound [s]")

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
        m, s = self.mean_s or 0.0, self.sd_s or 0.0  # both given where the kind needs them (validated)
        lo, mode, hi = self.min_s or 0.0, self.mode_s or 0.0, self.max_s or 0.0
        x: Any
        if self.dist == "fixed":
            x = np.full(size, m) if size is not None else float(m)
        elif self.dist == "exponential":
            x = rng.exponential(m, size)
        elif self.dist == "lognormal":
            sigma2 = math.log1p((s / m) ** 2)
            x = rng.lognormal(math.log(m) - sigma2 / 2.0, math.sqrt(sigma2), size)
        elif self.dist == "gamma":
            x = rng.gamma((m / s) ** 2, s * s / m, size)
        elif self.dist == "normal":
            x = rng.normal(m, s, size)
            x = np.maximum(x, lo)
        elif self.dist == "uniform":
            x = rng.uniform(lo, hi, size)
        else:
            x = rng.triangular(lo, mode, hi, size)
        if self.dist not in ("uniform", "triangular") and (self.min_s is not None or self.max_s is not None):
            x = np.clip(x, lo, self.max_s if self.max_s is not None else np.inf)
        return float(x) if size is None else np.asarray(x, dtype=float)



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

    window: Float = Field(default=0.5, ge=-50, le=50, description="utility of a window seat")
    power: Float = Field(default=0.8, ge=-50, le=50, description="utility of a seat with a power socket")
    quiet: Float = Field(default=0.4, ge=-50, le=50, description="utility of a quiet seat")
    group: Float = Field(default=-0.5, ge=-50, le=50, description="utility of a group-table seat")
    computer: Float = Field(default=-0.6, ge=-50, le=50, description="utility of a seat at a public computer")
    lounge: Float = Field(default=-0.8, ge=-50, le=50, description="utility of a lounge chair")
    accessible: Float = Field(default=0.0, ge=-50, le=50, description="utility of an accessible seat")
    distance_per_m: Float = Field(default=-0.02, ge=-50, le=0, description="utility per metre of walk [1/m]")
    neighbours: Float = Field(default=-0.6, ge=-50, le=50, description="utility per occupied seat at the same table")
    zone_kinds: tuple[str, ...] = Field(default=STUDY_ZONE_KINDS, max_length=20,
                                        description="zone kinds where this reader sits")
    min_utility: Float | None = Field(default=None, ge=-1000, le=1000,
                                      description="seats below this systematic utility are not acceptable")

    def coefficients(self, attrs: Sequence[str]) -> NDArray[np.float64]:
        """Coefficients of seat attributes ``attrs``, in that order."""
        return np.array([float(getattr(self, a, 0.0)) for a in attrs])


class VisitorType(Strict):
    """What one kind of visitor does. Probabilities are per visit; durations are distributions [s]."""

    share: Float = Field(default=0.0, ge=0, le=1, description="share of visitors in the hourly stream")
    group_size: dict[int, Float] = Field(default_factory=lambda: {1: 1.0},
                                         description="party size -> probability")
    stay_s: Distribution = Field(default_factory=lambda: Distribution(dist="lognormal", mean_s=3600, sd_s=1800),
                                 description="time at a seat, in a group room or the children's area [s]")
    seat_p: Float = Field(default=0.0, ge=0, le=1, description="probability of taking a seat")
    group_room_p: Float = Field(default=0.0, ge=0, le=1, description="probability a party asks for a group room first")
    children_p: Float = Field(default=0.0, ge=0, le=1,
                              description="probability of spending the stay in a children's zone")
    browse_p: Float = Field(default=0.0, ge=0, le=1, description="probability of browsing the stacks")
    browse_subjects_extra: Float = Field(default=0.5, ge=0, le=50,
                                         description="mean number of further subjects browsed")
    browse_s: Distribution = Field(default_factory=lambda: Distribution(dist="lognormal", mean_s=480, sd_s=300),
                                   description="time at the shelves of one subject [s]")
    borrow_p: Float = Field(default=0.0, ge=0, le=1, description="probability of borrowing")
    return_p: Float = Field(default=0.0, ge=0, le=1, description="probability of returning items")
    help_p: Float = Field(default=0.0, ge=0, le=1, description="probability of a question at a staffed desk")
    self_service_p: Float = Field(default=0.85, ge=0, le=1, description="loans/returns at a kiosk when both exist")
    breaks_per_h: Float = Field(default=0.0, ge=0, le=20, description="breaks (restroom, cafe) per hour seated [1/h]")
    break_s: Distribution = Field(default_factory=lambda: Distribution(dist="lognormal", mean_s=900, sd_s=450),
                                  description="a cafe break, away from the seat [s] (typical)")
    restroom_s: Distribution = Field(default_factory=lambda: Distribution(dist="lognormal", mean_s=240, sd_s=120),
                                     description="a restroom break, away from the seat [s] (typical)")
    cafe_p: Float = Field(default=0.3, ge=0, le=1, description="share of breaks at a cafe (when there is one)")
    search_s: Float = Field(default=300.0, ge=0, le=86400,
                            description="time spent looking for a seat before giving up [s]")
    speed_m_s: Distribution = Field(default_factory=lambda: Distribution(dist="normal", mean_s=1.34, sd_s=0.26,
                                                                            min_s=0.5, max_s=2.0),
                                    description="desired walking speed [m/s] (Weidmann 1993: 1.34 +- 0.26)")
    lift_p: Float = Field(default=0.1, ge=0, le=1, description="probability of taking a lift rather than stairs")
    seat: SeatPreferences = Field(default_factory=SeatPreferences, description="how this reader chooses a seat")

    @field_validator("speed_m_s")
    @classmethod
    def _walking_speed(cls, v: Distribution) -> Distribution:
        if not 0.2 <= v.mean <= 3.0:
            raise ValueError(f"a walking speed of {v.mean:g} m/s on average is not a walking speed (0.2-3.0 m/s)")
        if v.max_s is not None and v.max_s > 5.0:
            raise ValueError(f"max_s {v.max_s:g} m/s is faster than anyone walks (at most 5 m/s)")
        return v

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

    visits: Float | None = Field(default=None, ge=0, le=MAX_VISITS_PER_DAY,
                                 description="expected visits (persons) a day")
    profile: dict[int, Float] | None = Field(default=None,
                                             description="relative arrival weight by hour (0-23 -> weight)")
    arrivals_per_hour: dict[int, Float] | None = Field(default=None, description="arrival rate by hour (0-23 -> "
                                                                          "visitors/h)")
    shares: dict[Name, Float] | None = Field(default=None, description="visitor-type shares on this kind of day")

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
                if x > MAX_ARRIVALS_PER_HOUR:
                    raise ValueError(f"hour {h}: {x:g} is more than {MAX_ARRIVALS_PER_HOUR:g} (visitors/h or weight)")
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

    id: Name = Field(description="event id")
    zone: Name = Field(description="zone where it takes place")
    start: str = Field(max_length=8, description="start time HH:MM (local)")
    duration_s: Float = Field(gt=0, le=86400, description="length of the event [s]")
    attendees: Float = Field(gt=0, le=5000, description="expected attendees (persons); the count is Poisson")
    days: list[str] | None = Field(default=None, max_length=400, description="weekdays (Mo..Su), day types or dates "
                                                                     "YYYY-MM-DD; default every open day")
    arrive_before_s: Float = Field(default=900.0, ge=0, le=86400, description="earliest arrival before the start [s]")
    late_s: Float = Field(default=300.0, ge=0, le=86400, description="latest arrival after the start [s]")
    visitor_type: Name = Field(default="event_attendee", description="visitor type of the attendees")
    name: Text | None = Field(default=None, description="name shown to people")

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
    """The ``demand`` section (see the module docstring).

    As written in a file, ``day_types`` and ``visitor_types`` may be left out (they default by
    branch kind); once the defaults are in, :meth:`reference_problems` checks the names.
    """

    start_date: dt.date = Field(default=dt.date(2025, 3, 5), description="first simulated day (local)")
    day_types: dict[Name, DayType] = Field(default_factory=dict, max_length=100,
                                           description="arrivals by kind of day (default: weekday and weekend "
                                                       "of the branch kind)")
    week: dict[Literal["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"], Name] = Field(
        default_factory=dict, description="day type of each weekday (default: Mo-Fr weekday, Sa-Su weekend)")
    dates: dict[dt.date, Name] = Field(default_factory=dict, max_length=1000,
                                       description="day type of special dates (YYYY-MM-DD)")
    visitor_types: dict[Name, VisitorType] = Field(default_factory=dict, max_length=100,
                                                   description="who comes and what they do (default: the mix of "
                                                               "the branch kind)")
    events: list[EventSpec] = Field(default_factory=list, max_length=200, description="scheduled events")
    subjects: dict[Text, Float] = Field(default_factory=dict, description="browsing interest per subject "
                                        "(relative weight; default: its number of shelves)")

    @field_validator("start_date")
    @classmethod
    def _plausible_date(cls, v: dt.date) -> dt.date:
        if not 1970 <= v.year <= 2200:
            raise ValueError(f"start_date {v} is not between 1970 and 2200")
        return v

    @field_validator("dates")
    @classmethod
    def _plausible_dates(cls, v: dict[dt.date, str]) -> dict[dt.date, str]:
        for d in v:
            cls._plausible_date(d)
        return v

    @field_validator("subjects")
    @classmethod
    def _weights(cls, v: dict[str, float]) -> dict[str, float]:
        for k, x in v.items():
            if not 0 <= x <= 1e6:
                raise ValueError(f"subject '{k}': weight {x:g} must be between 0 and 1e6")
        return v

    def reference_problems(self) -> list[tuple[Loc, str]]:
        """Names that refer to nothing, and shares that do not add up (with the defaults filled in).

        Returns
        -------
        list of (location in the ``demand`` section, message)
        """
        out: list[tuple[Loc, str]] = []
        if not self.day_types:
            out.append((("day_types",), "needs at least one day type"))
        if not self.visitor_types:
            out.append((("visitor_types",), "needs at least one visitor type"))
        known = ", ".join(self.day_types)
        for wd, name in self.week.items():
            if name not in self.day_types:
                out.append((("week", wd), f"day '{wd}' uses day type '{name}', which is not in day_types "
                                          f"(known: {known})"))
        for date, name in self.dates.items():
            if name not in self.day_types:
                out.append((("dates", date.isoformat()), f"day '{date}' uses day type '{name}', which is not in "
                                                         f"day_types (known: {known})"))
        if self.visitor_types:
            msg = self._shares_problem(None, {k: v.share for k, v in self.visitor_types.items()})
            if msg:
                out.append((("visitor_types",), msg))
        for name, day in self.day_types.items():
            if day.shares is not None:
                unknown = [k for k in day.shares if k not in self.visitor_types]
                if unknown:
                    out.append((("day_types", name, "shares"), f"day type '{name}': shares name unknown visitor "
                                                               f"type(s) {', '.join(unknown)}"))
                msg = self._shares_problem(name, day.shares)
                if msg:
                    out.append((("day_types", name, "shares"), msg))
        for i, ev in enumerate(self.events):
            if ev.visitor_type not in self.visitor_types:
                out.append((("events", i, "visitor_type"), f"event '{ev.id}' brings visitor type "
                            f"'{ev.visitor_type}', which is not in visitor_types "
                            f"(known: {', '.join(self.visitor_types)})"))
            for when in ev.days or ():
                if when not in WEEKDAYS and when not in self.day_types and not _is_iso_date(when):
                    out.append((("events", i, "days"), f"event '{ev.id}': '{when}' is not a weekday (Mo..Su), a "
                                                       f"day type or a date YYYY-MM-DD"))
        seen: set[str] = set()
        for i, ev in enumerate(self.events):
            if ev.id in seen:
                out.append((("events", i, "id"), f"event id '{ev.id}' is used twice"))
            seen.add(ev.id)
        return out

    @staticmethod
    def _shares_problem(where: str | None, shares: Mapping[str, float]) -> str | None:
        total = sum(shares.values())
        if abs(total - 1.0) > 0.01:
            detail = ", ".join(f"{k} {v:g}" for k, v in shares.items() if v)
            at = f"day type '{where}': " if where else ""
            return f"{at}visitor-type shares must add up to 1, they add up to {total:.3f} ({detail})"
        return None

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




def _is_iso_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True
