"""Calibration: fit a scenario's demand to the stored history of its branch and write the updated scenario.

What the gate counters recorded gives, for each day type of the scenario's demand (``weekday``,
``weekend`` ... by the scenario's own ``day_type_of``), the arrival rate in each hour: persons
counted in during the hour, averaged over the days of that type that had readings, per hour of
time in which entry was allowed (opening hours less the last-entry time), so a rate is comparable
with the scenario's ``arrivals_per_hour`` [visitors/h]. The mean time in the building follows
from Little's law, ``W = L / lambda`` with ``L`` the mean number inside (counted in minus out)
and ``lambda`` the arrival rate over opening time; gate counters cannot tell visitor types apart,
so it is reported for all visitors together, not written per type.

References
----------
Little, J.D.C. (1961). A proof for the queuing formula L = lambda W. Operations Research 9(3), 383-387.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from geometry.model import OUTSIDE, Building
from geometry.scenario import ResolvedScenario, ScenarioSource


@dataclass(frozen=True, kw_only=True)
class Calibration:
    """Demand estimated from history.

    Attributes
    ----------
    branch
        Branch id.
    since, until
        First and last local day read.
    days
        Day type -> days of that type with gate readings.
    arrivals_per_hour
        Day type -> hour (0-23) -> arrival rate [persons/h] (hours with entry allowed only).
    mean_stay_s
        Mean time in the building by Little's law [s] (NaN without counts).
    out
        The scenario file written, if any.
    """

    branch: str
    since: dt.date
    until: dt.date
    days: Mapping[str, int]
    arrivals_per_hour: Mapping[str, Mapping[int, float]]
    mean_stay_s: float
    out: Path | None = None


def entry_seconds_by_hour(intervals: Sequence[tuple[float, float]], last_entry_s: float) -> np.ndarray:
    """Seconds of each hour (0-23) of a day in which readers may enter [s]."""
    out = np.zeros(24)
    for a, b in intervals:
        b = b - last_entry_s
        for h in range(24):
            lo, hi = max(a, h * 3600.0), min(b, (h + 1) * 3600.0)
            if hi > lo:
                out[h] += hi - lo
    return out


def _gate_counters(building: Building) -> set[str]:
    gates = {o.id for o in building.openings if OUTSIDE in o.zones}
    return {d.id for d in building.devices if d.type == "people_counter" and d.opening_id in gates}


def estimate_demand(store: Any, src: ResolvedScenario, building: Building, since: dt.date,
                    until: dt.date) -> Calibration:
    """Arrival rates by hour and day type and the mean stay, from the gate counters' history.

    Raises
    ------
    ValueError
        When the branch has no gate counter, or the store holds none of its counts in the days.
    """
    from simulation.day.demand import load_demand
    from simulation.day.services import load_services

    counters = _gate_counters(building)
    if not counters:
        raise ValueError(f"branch '{building.branch_id}' has no people counter on an outside door: "
                         "arrivals cannot be measured")
    tz = ZoneInfo(src.scenario.branch.timezone)
    start = dt.datetime.combine(since, dt.time(0), tzinfo=tz).timestamp()
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(0), tzinfo=tz).timestamp()
    parts = [store.series(branch=building.branch_id, quantity=q, start=start, end=end).assign(sign=s)
             for q, s in (("people_in", 1.0), ("people_out", -1.0))]
    df = pd.concat(parts, ignore_index=True)
    df = df.loc[df["device"].isin(counters)]
    if not len(df):
        raise ValueError(f"the store holds no gate counts of branch '{building.branch_id}' from {since} to {until}")
    # a reading at t counts the crossings of the period ending at t: it belongs to the hour of t - 1 ms
    local = pd.to_datetime(df["time"] - 1e-3, unit="s", utc=True).dt.tz_convert(tz)
    df = df.assign(date=local.dt.date, hour=local.dt.hour)
    demand = load_demand(src, building)
    services = load_services(src)
    by_type: dict[str, list[np.ndarray]] = {}
    inside_area = inside_time = arrivals = open_s = 0.0
    for date, g in df.groupby("date"):
        intervals = services.hours.intervals(date.weekday())
        if not intervals:
            continue  # closed that day: counts are zero by construction, not a measurement of demand
        ins = g.loc[g["sign"] > 0].groupby("hour")["value"].sum().reindex(range(24), fill_value=0.0).to_numpy()
        entry = entry_seconds_by_hour(intervals, services.last_entry_s)
        with np.errstate(invalid="ignore", divide="ignore"):
            by_type.setdefault(demand.day_type_of(date), []).append(np.where(entry > 0, ins * 3600.0 / entry, np.nan))
        # Little: people inside (in minus out since midnight), time-averaged over opening hours
        flow = g.assign(v=g["value"] * g["sign"]).groupby("time")["v"].sum().sort_index()
        midnight = dt.datetime.combine(date, dt.time(0), tzinfo=tz).timestamp()
        t = flow.index.to_numpy(float) - midnight
        n = np.cumsum(flow.to_numpy(float))
        for a, b in intervals:
            sel = (t > a) & (t <= b)
            if sel.sum() > 1:
                dt_s = float(np.median(np.diff(t[sel])))
                inside_area += float(np.clip(n[sel], 0, None).sum()) * dt_s
                inside_time += b - a
        arrivals += float(ins.sum())
        open_s += sum(b - a for a, b in intervals)
    if not by_type:
        raise ValueError(f"branch '{building.branch_id}' was closed on every day from {since} to {until}")
    rates: dict[str, dict[int, float]] = {}
    for kind, days in by_type.items():
        m = np.array(days)
        seen = ~np.all(np.isnan(m), axis=0)
        mean = np.nanmean(np.where(seen, m, 0.0), axis=0)
        rates[kind] = {h: float(mean[h]) for h in range(24) if seen[h]}
    lam = arrivals / open_s if open_s else math.nan
    stay = (inside_area / inside_time) / lam if inside_time and lam else math.nan
    return Calibration(branch=building.branch_id, since=since, until=until,
                       days={k: len(v) for k, v in by_type.items()}, arrivals_per_hour=rates, mean_stay_s=stay)


def calibrated_raw(src: ScenarioSource, cal: Calibration) -> dict[str, Any]:
    """The scenario's raw document with each measured day type's ``arrivals_per_hour`` replaced.

    Day types keep their ``shares``; ``visits``/``profile`` give way to the measured rates.
    """
    raw = copy.deepcopy(src.raw)
    demand = raw.setdefault("demand", {})
    days = demand.setdefault("day_types", {})
    for kind, rates in cal.arrivals_per_hour.items():
        old = days.get(kind) or {}
        new: dict[str, Any] = {k: v for k, v in old.items() if k not in ("visits", "profile", "arrivals_per_hour")}
        new["arrivals_per_hour"] = {h: round(r, 2) for h, r in sorted(rates.items())}
        days[kind] = new
    return raw


def write_scenario_yaml(raw: Mapping[str, Any], path: Path, header: str) -> Path:
    """Write a scenario document as YAML with a comment header (the one place scenario YAML is written)."""
    import yaml

    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(f"# {line}\n" for line in header.splitlines())
    text += yaml.safe_dump(_plain(raw), sort_keys=False, allow_unicode=True, width=120)
    path.write_text(text, encoding="utf-8")
    return path


def _plain(x: Any) -> Any:
    if isinstance(x, Mapping):
        return {(k.isoformat() if isinstance(k, dt.date) else k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, dt.date):
        return x.isoformat()
    return x


def calibrate(scenario: str | Path, store_url: str, *, since: str, until: str | None = None,
              out: Path | None = None) -> Calibration:
    """Estimate the branch's demand from the store and write the updated scenario (``smartlib calibrate``).

    Parameters
    ----------
    scenario
        The branch's scenario file.
    store_url
        The telemetry store.
    since, until
        First and last local day (YYYY-MM-DD; ``until`` defaults to yesterday in the branch's zone).
    out
        Where to write the updated scenario (validated by loading it back).

    Raises
    ------
    twin.errors.UserError
        Bad dates, no counter, no counts.
    telemetry.errors.TelemetryError
        When the store cannot be opened.
    """
    from geometry.errors import ScenarioError

    from .errors import UserError
    from .scenarios import scenario_file

    try:
        return _calibrate(scenario_file(scenario), store_url, since=since, until=until, out=out)
    except ScenarioError:
        raise
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _calibrate(scenario: Path, store_url: str, *, since: str, until: str | None, out: Path | None) -> Calibration:
    from geometry import apply_variant, build_building, load_scenario
    from telemetry.store import open_store, redact

    src = load_scenario(scenario)
    tz = ZoneInfo(src.scenario.branch.timezone)
    from .indicators import day_range

    first, last = day_range(since, until, tz)
    resolved = apply_variant(src)
    building = build_building(resolved)
    with open_store(store_url) as store:
        cal = estimate_demand(store, resolved, building, first, last)
    if out is None:
        return cal
    header = (f"{src.scenario.branch.id}: demand calibrated from {redact(store_url)} over {first}..{last} "
              f"({', '.join(f'{n} {k} day(s)' for k, n in cal.days.items())}).\nBased on {src.file}; "
              "arrivals_per_hour are measured persons per hour of entry time.")
    path = write_scenario_yaml(calibrated_raw(src, cal), out, header)
    load_scenario(path)  # what was written must load
    return Calibration(**{**cal.__dict__, "out": path})
