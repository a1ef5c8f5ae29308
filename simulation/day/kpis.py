"""Key performance indicators of a simulated day, as pure functions over its tables.

Inputs are the tables :func:`simulation.day.library_day.library_day.run_day` returns:

- ``events``: one row per event, columns ``t_s`` (simulation time [s]), ``event``, ``reader``,
  ``party``, ``visitor_type``, ``size`` (persons the row stands for), ``floor_id``, ``zone_id``,
  ``ref`` (seat, service, subject, zone ...), ``value`` (wait [s], service time [s], distance [m] ...);
- ``zones``: one row per zone and physics step, columns ``t_s``, ``zone_id``, ``is_open``,
  ``occupancy``, ``readers`` (means over the step), ``co2_ppm``, ``temperature_c``, ``power_w``;
- ``energy``: one row per physics step, ``t_s``, ``dt_s`` and ``<end use>_w`` columns (building means [W]).

Where an indicator has an ISO 11620 counterpart the docstring names it; ISO 11620 measures
over a year of opening hours, these over the simulated days.

References
----------
ISO 11620:2014. Information and documentation - Library performance indicators (B.1.2.x
"Seat occupancy rate", B.1.1.x user visits per opening hour; indicator codes vary by edition).
ISO 2789:2013. Information and documentation - International library statistics (definition
of a visit: a person entering the library premises).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from .physics import END_USES


def visits(events: pd.DataFrame) -> int:
    """Visits: people entering the premises (ISO 2789), i.e. ``arrive`` rows."""
    return int((events["event"] == "arrive").sum())


def stays_s(events: pd.DataFrame) -> pd.Series:
    """Time in the building of each reader who came and left [s], indexed by reader."""
    a = events.loc[events["event"] == "arrive"].set_index("reader")["t_s"]
    b = events.loc[events["event"] == "leave"].set_index("reader")["t_s"]
    both = a.index.intersection(b.index)
    return (b.loc[both] - a.loc[both]).rename("stay_s")


def occupancy_series(events: pd.DataFrame, t0_s: float, t1_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Readers in the building as a step function: change times and the count after each [s, persons]."""
    ev = events.loc[events["event"].isin(["arrive", "leave"]), ["t_s", "event"]]
    ev = ev.loc[(ev["t_s"] >= t0_s) & (ev["t_s"] <= t1_s)].sort_values("t_s", kind="stable")
    delta = np.where(ev["event"].to_numpy() == "arrive", 1, -1)
    return ev["t_s"].to_numpy(float), np.cumsum(delta)


def time_mean(times: np.ndarray, counts: np.ndarray, t0_s: float, t1_s: float, start: float = 0.0) -> float:
    """Time average of a step function over ``[t0_s, t1_s]`` (value ``start`` before the first change)."""
    if t1_s <= t0_s:
        return math.nan
    t = np.concatenate([[t0_s], np.clip(times, t0_s, t1_s), [t1_s]])
    c = np.concatenate([[start], counts])
    return float(np.sum(c * np.diff(t)) / (t1_s - t0_s))


def littles_law(events: pd.DataFrame, t0_s: float, t1_s: float) -> dict[str, float]:
    """Little's law terms over ``[t0_s, t1_s]``: arrival rate [1/s], mean stay [s], their product,
    and the mean number in the building from the event times (Little 1961)."""
    st = stays_s(events)
    n = visits(events)
    lam = n / (t1_s - t0_s)
    w = float(st.mean()) if len(st) else 0.0
    times, counts = occupancy_series(events, t0_s, t1_s)
    return {"arrival_rate_per_s": lam, "mean_stay_s": w, "lambda_w": lam * w,
            "mean_in_building": time_mean(times, counts, t0_s, t1_s)}


def zone_occupancy(zones: pd.DataFrame, *, open_only: bool = True) -> pd.DataFrame:
    """Peak and mean occupancy of each zone (people; per-step means), over opening hours by default."""
    z = zones.loc[zones["is_open"]] if open_only else zones
    g = z.groupby("zone_id", sort=True)["occupancy"]
    return pd.DataFrame({"peak": g.max(), "mean": g.mean()})


def building_occupancy(zones: pd.DataFrame, column: str = "readers") -> pd.Series:
    """Readers (or people) in the whole building per step."""
    return zones.groupby("t_s", sort=True)[column].sum()


def seat_occupancy_rate(events: pd.DataFrame, n_seats: int, open_intervals: Sequence[tuple[float, float]]) -> float:
    """Share of seats taken, averaged over opening hours (ISO 11620 "Seat occupancy rate").

    ISO 11620 counts occupied seats at random times in opening hours; this is the exact time
    average of seats taken (``seat_take`` to ``seat_leave``) over the same hours.
    """
    if n_seats <= 0 or not open_intervals:
        return math.nan
    ev = events.loc[events["event"].isin(["seat_take", "seat_leave"]), ["t_s", "event"]].sort_values(
        "t_s", kind="stable")
    times = ev["t_s"].to_numpy(float)
    counts = np.cumsum(np.where(ev["event"].to_numpy() == "seat_take", 1, -1))
    total = 0.0
    span = 0.0
    for a, b in open_intervals:
        before = counts[times < a]
        start = float(before[-1]) if before.size else 0.0
        inside = (times >= a) & (times <= b)
        total += time_mean(times[inside], counts[inside], a, b, start) * (b - a)
        span += b - a
    return total / span / n_seats


def turned_away(events: pd.DataFrame) -> int:
    """Readers who found no acceptable seat and left (each row stands for its party's size)."""
    rows = events.loc[events["event"] == "turned_away"]
    return int(rows["size"].sum())


def waits(events: pd.DataFrame, target_s: float = 300.0) -> dict[str, dict[str, Any]]:
    """Wait in queue per service: mean, 90th percentile, share over ``target_s`` [s], served, gave up."""
    out: dict[str, dict[str, Any]] = {}
    start = events.loc[events["event"] == "service_start"]
    gave_up = events.loc[events["event"] == "service_reneged"].groupby("ref").size()
    for ref, g in start.groupby("ref", sort=True):
        w = g["value"].to_numpy(float)
        out[str(ref)] = {"served": int(w.size), "mean_s": float(w.mean()), "p90_s": float(np.percentile(w, 90)),
                         "share_over_target": float(np.mean(w > target_s)), "gave_up": int(gave_up.get(ref, 0))}
    for ref, n in gave_up.items():
        out.setdefault(str(ref), {"served": 0, "mean_s": math.nan, "p90_s": math.nan, "share_over_target": math.nan,
                                  "gave_up": int(n)})
    return out


def staff_utilisation(events: pd.DataFrame, t1_s: float) -> dict[str, float]:
    """Busy share of staffed time per desk: service time / open-position time (``positions`` rows)."""
    out: dict[str, float] = {}
    pos = events.loc[events["event"] == "positions"]
    ends = events.loc[events["event"] == "service_end"]
    for ref, g in pos.groupby("ref", sort=True):
        g = g.sort_values("t_s", kind="stable")
        t = np.append(g["t_s"].to_numpy(float), t1_s)
        staffed = float(np.sum(g["value"].to_numpy(float) * np.diff(t)))
        busy = float(ends.loc[ends["ref"] == ref, "value"].sum())
        out[str(ref)] = busy / staffed if staffed > 0 else math.nan
    return out


def energy_kwh(energy: pd.DataFrame) -> dict[str, float]:
    """Electricity by end use over the run [kWh]."""
    dt = energy["dt_s"].to_numpy(float)
    return {u: float(np.sum(energy[f"{u}_w"].to_numpy(float) * dt) / 3.6e6) for u in END_USES}


def co2_hours_above(zones: pd.DataFrame, limit_ppm: float = 1000.0) -> dict[str, float]:
    """Hours each zone spent above ``limit_ppm`` of CO2 [h] (any hour of the day)."""
    dt = _step_s(zones)
    over = zones.assign(over=zones["co2_ppm"] > limit_ppm).groupby("zone_id", sort=True)["over"].sum()
    return {str(k): float(v) * dt / 3600.0 for k, v in over.items()}


def _step_s(zones: pd.DataFrame) -> float:
    t = np.unique(zones["t_s"].to_numpy(float))
    return float(np.min(np.diff(t))) if t.size > 1 else 60.0


def walking_m_per_visit(events: pd.DataFrame) -> float:
    """Mean walking distance per visit [m]: every ``walk`` row counts for each member of its party."""
    n = visits(events)
    if n == 0:
        return math.nan
    w = events.loc[events["event"] == "walk"]
    return float((w["value"] * w["size"]).sum() / n)


@dataclass(frozen=True, kw_only=True)
class WaitStats:
    """Waits in the queue of one service [s]."""

    served: int
    mean_s: float
    p90_s: float
    share_over_target: float
    gave_up: int


@dataclass(frozen=True, kw_only=True)
class DayKpis:
    """Every indicator of a simulated run (see the functions of this module for each definition).

    ``to_dict`` gives the JSON-ready form written to ``kpis.json``; ``from_dict`` reads it back.
    """

    visits: int
    visits_per_opening_hour: float
    opening_hours_h: float
    mean_stay_s: float
    peak_occupancy: float
    mean_occupancy: float
    zone_peak_occupancy: Mapping[str, float]
    zone_mean_occupancy: Mapping[str, float]
    seats: int
    seat_occupancy_rate: float
    turned_away: int
    waits: Mapping[str, WaitStats]
    wait_target_s: float
    staff_utilisation: Mapping[str, float]
    energy_kwh: Mapping[str, float]
    energy_total_kwh: float
    kwh_per_visit: float
    kwh_per_m2: float
    co2_hours_above_1000: Mapping[str, float]
    walking_m_per_visit: float

    def to_dict(self) -> dict[str, Any]:
        """The indicators as plain JSON-ready data, in field order."""
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "waits":
                v = {k: {g.name: getattr(w, g.name) for g in fields(w)} for k, w in v.items()}
            elif isinstance(v, Mapping):
                v = dict(v)
            out[f.name] = v
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DayKpis:
        """Indicators from :meth:`to_dict` output (for example a saved ``kpis.json``)."""
        d = dict(data)
        d["waits"] = {k: WaitStats(**w) for k, w in d.get("waits", {}).items()}
        return cls(**{f.name: d[f.name] for f in fields(cls)})

    def flat(self) -> dict[str, float]:
        """Numeric indicators as one level of ``a.b.c`` keys (see :func:`flat`)."""
        return flat(self.to_dict())


def compute_kpis(events: pd.DataFrame, zones: pd.DataFrame, energy: pd.DataFrame, *, n_seats: int,
                 area_m2: float, open_intervals: Sequence[tuple[float, float]], t1_s: float,
                 wait_target_s: float = 300.0, co2_limit_ppm: float = 1000.0) -> DayKpis:
    """Every indicator of a run."""
    n = visits(events)
    open_h = sum(b - a for a, b in open_intervals) / 3600.0
    kwh = energy_kwh(energy)
    total_kwh = float(sum(kwh.values()))
    occ = zone_occupancy(zones)
    bld = building_occupancy(zones.loc[zones["is_open"]])
    st = stays_s(events)
    return DayKpis(
        visits=n,
        visits_per_opening_hour=n / open_h if open_h else math.nan,
        opening_hours_h=open_h,
        mean_stay_s=float(st.mean()) if len(st) else math.nan,
        peak_occupancy=float(bld.max()) if len(bld) else 0.0,
        mean_occupancy=float(bld.mean()) if len(bld) else 0.0,
        zone_peak_occupancy={str(k): float(v) for k, v in occ["peak"].items()},
        zone_mean_occupancy={str(k): float(v) for k, v in occ["mean"].items()},
        seats=n_seats,
        seat_occupancy_rate=seat_occupancy_rate(events, n_seats, open_intervals),
        turned_away=turned_away(events),
        waits={k: WaitStats(**w) for k, w in waits(events, wait_target_s).items()},
        wait_target_s=wait_target_s,
        staff_utilisation=staff_utilisation(events, t1_s),
        energy_kwh=kwh,
        energy_total_kwh=total_kwh,
        kwh_per_visit=total_kwh / n if n else math.nan,
        kwh_per_m2=total_kwh / area_m2 if area_m2 else math.nan,
        co2_hours_above_1000=co2_hours_above(zones, co2_limit_ppm),
        walking_m_per_visit=walking_m_per_visit(events),
    )


def flat(kpis: Mapping[str, Any] | DayKpis, prefix: str = "") -> dict[str, float]:
    """Nested KPIs as one level of ``a.b.c`` keys (numbers only), e.g. to compare runs side by side."""
    if isinstance(kpis, DayKpis):
        kpis = kpis.to_dict()
    out: dict[str, float] = {}
    for k, v in kpis.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flat(v, key + "."))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[key] = float(v)
    return out
