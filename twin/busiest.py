"""Busiest times: how full each zone and the whole branch usually is, by hour and kind of day.

What occupancy apps show readers ("usually busy at 15:00"): for every day of a period, each
hour's mean occupancy of each zone (and of the building, the zones' sum); then, across the days
of one day type (the scenario's ``weekday``, ``weekend`` ...), the median and the 10th and 90th
percentiles of those hourly means. The occupancy comes from the live twin's estimates replayed
over the stored history (:func:`occupancy_history`) or from a simulated run's zones table
(:func:`occupancy_from_run`): both are ``time, zone, occupancy`` rows, and :func:`busiest_times`
treats them the same way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

#: The zone name of the whole building in the tables.
BUILDING = "(building)"


@dataclass(frozen=True, kw_only=True)
class BusiestTimes:
    """Occupancy by hour per day type and zone.

    ``table`` columns: ``day_type``, ``zone``, ``hour`` (0-23, local), ``days`` (days with data),
    ``p10``, ``median``, ``p90`` [persons]. ``capacity``: zone -> persons it holds (for ratios).
    """

    branch: str
    since: dt.date
    until: dt.date
    table: pd.DataFrame
    capacity: dict[str, float]

    def zone(self, zone: str = BUILDING) -> pd.DataFrame:
        """Rows of one zone (default: the building)."""
        return self.table.loc[self.table["zone"] == zone]

    def day(self, day_type: str, zone: str = BUILDING) -> pd.DataFrame:
        """Rows of one day type and zone, by hour (``hour, days, p10, median, p90``)."""
        t = self.table
        rows = t.loc[(t["day_type"] == day_type) & (t["zone"] == zone)].sort_values("hour")
        return rows[["hour", "days", "p10", "median", "p90"]].reset_index(drop=True)


def busiest_times(history: pd.DataFrame, *, timezone: str, day_type_of: Callable[[dt.date], str],
                  hours: Callable[[dt.date], Sequence[tuple[float, float]]]) -> pd.DataFrame:
    """Median and 10/90th percentile occupancy per day type, zone and opening hour.

    Parameters
    ----------
    history
        ``time`` [UTC epoch s], ``zone``, ``occupancy`` [persons] rows (any sampling step).
    timezone
        The branch's time zone (hours are local).
    day_type_of
        The day type of a local date.
    hours
        Opening intervals of a local date [s after midnight]; hours outside them are left out.
    """
    cols = ["day_type", "zone", "hour", "days", "p10", "median", "p90"]
    if not len(history):
        return pd.DataFrame(columns=cols)
    tz = ZoneInfo(timezone)
    total = history.groupby("time", as_index=False)["occupancy"].sum().assign(zone=BUILDING)
    h = pd.concat([history[["time", "zone", "occupancy"]], total], ignore_index=True)
    local = pd.to_datetime(h["time"], unit="s", utc=True).dt.tz_convert(tz)
    h = h.assign(date=local.dt.date, hour=local.dt.hour, sec=local.dt.hour * 3600 + local.dt.minute * 60
                 + local.dt.second)
    dates = pd.unique(h["date"])
    open_mask = np.zeros(len(h), dtype=bool)
    types = {}
    for d in dates:
        types[d] = day_type_of(d)
        sel = (h["date"] == d).to_numpy()
        sec = h["sec"].to_numpy()[sel]
        ok = np.zeros(sel.sum(), dtype=bool)
        for a, b in hours(d):
            ok |= (sec >= a) & (sec < b)
        open_mask[np.flatnonzero(sel)[ok]] = True
    h = h.loc[open_mask]
    hourly = h.groupby(["date", "zone", "hour"], as_index=False)["occupancy"].mean()
    hourly["day_type"] = hourly["date"].map(types)
    g = hourly.groupby(["day_type", "zone", "hour"])["occupancy"]
    out = pd.DataFrame({"days": g.size(), "p10": g.quantile(0.1), "median": g.median(), "p90": g.quantile(0.9)})
    return out.reset_index()[cols]


def occupancy_from_run(zones: pd.DataFrame, meta: dict[str, Any], column: str = "readers") -> pd.DataFrame:
    """A simulated run's zones table as ``time, zone, occupancy`` rows (readers; staff left out)."""
    return pd.DataFrame({"time": zones["t_s"].to_numpy(float) + float(meta["epoch0_s"]),
                         "zone": zones["zone_id"].to_numpy(), "occupancy": zones[column].to_numpy(float)})


def occupancy_history(scenario: str | Path, store: Any, start: float, end: float, *,
                      tick_s: float = 300.0) -> pd.DataFrame:
    """The live twin's zone occupancy estimates over ``[start, end]``, replayed from the store.

    Raises
    ------
    ValueError
        When the store holds no readings of the branch then.
    """
    from twin.branch import BranchTwin, TwinConfig

    from .whatif import replay_store

    twin = BranchTwin.from_scenario(scenario, config=TwinConfig(tick_s=tick_s, history_s=end - start + 86400.0))
    if replay_store(twin, store, start, end) == 0:
        raise ValueError(f"the store {store.url} holds no readings of branch '{twin.branch}' in the period")
    hist = twin.history()
    return hist.loc[(hist["time"] > start) & (hist["time"] <= end), ["time", "zone", "occupancy"]]


def busiest_picture(result: BusiestTimes, path: Path, zones: int = 4) -> Path:
    """Median (line) and 10-90% band (shade) by hour per day type: the building and its busiest zones (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = result.table
    kinds = sorted(set(t["day_type"]))
    top = (t.loc[t["zone"] != BUILDING].groupby("zone")["median"].max().sort_values(ascending=False)
           .index[:zones].tolist())
    fig, axes = plt.subplots(1, max(1, len(kinds)), figsize=(6 * max(1, len(kinds)), 4.2), sharey=True, squeeze=False)
    for ax, kind in zip(axes[0], kinds, strict=False):
        for i, z in enumerate([BUILDING, *top]):
            r = t.loc[(t["day_type"] == kind) & (t["zone"] == z)].sort_values("hour")
            if not len(r):
                continue
            x = r["hour"].to_numpy() + 0.5
            color = "black" if z == BUILDING else f"C{i}"
            ax.fill_between(x, r["p10"], r["p90"], color=color, alpha=0.15 if z == BUILDING else 0.2, step=None)
            ax.plot(x, r["median"], color=color, lw=2.2 if z == BUILDING else 1.4, label=z)
        ax.set_title(f"{result.branch}: {kind}")
        ax.set_xlabel("hour of day (local)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("people (median, 10-90% of days)")
    axes[0][0].legend(fontsize=8, loc="upper left")
    fig.suptitle(f"busiest times {result.since} to {result.until}", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def branch_busiest(scenario: str | Path, store_url: str, *, since: str, until: str | None = None,
                   out_dir: Path | None = None, zone: str | None = None) -> tuple[BusiestTimes, list[Path]]:
    """Busiest times of a branch from the store (``smartlib busiest``): table, and CSV and PNG in ``out_dir``.

    Raises
    ------
    twin.errors.UserError
        Bad dates, no readings in the period, or ``zone`` not in the branch.
    telemetry.errors.TelemetryError
        When the store cannot be opened.
    """
    from geometry.errors import ScenarioError

    from .errors import UserError
    from .scenarios import scenario_file

    try:
        result, paths = _branch_busiest(scenario_file(scenario), store_url, since=since, until=until, out_dir=out_dir)
    except ScenarioError:
        raise
    except ValueError as exc:
        raise UserError(str(exc)) from None
    zones = set(result.table["zone"])
    if zone is not None and zone not in zones:
        raise UserError(f"no zone '{zone}' in {result.branch} (zones: {', '.join(sorted(zones))})")
    return result, paths


def calendar(src: Any, building: Any) -> tuple[Callable[[dt.date], str],
                                                Callable[[dt.date], Sequence[tuple[float, float]]]]:
    """The branch's day type of a local date and its opening intervals that day [s after midnight]."""
    from simulation.day.demand import load_demand
    from simulation.day.services import load_services

    demand, hours = load_demand(src, building), load_services(src).hours
    return demand.day_type_of, lambda d: hours.intervals(d.weekday())


def busiest_of(history: pd.DataFrame, src: Any, building: Any, first: dt.date, last: dt.date, *,
               day_type_of: Callable[[dt.date], str] | None = None) -> BusiestTimes:
    """:func:`busiest_times` of a branch's ``time, zone, occupancy`` history over the local days ``first..last``.

    ``day_type_of`` replaces the scenario's day types (e.g. one type for all days).
    """
    kind_of, hours = calendar(src, building)
    day_type_of = day_type_of or kind_of
    table = busiest_times(history, timezone=src.scenario.branch.timezone, day_type_of=day_type_of, hours=hours)
    cap = {k: float(v) for k, v in building.seats_per_zone().items()}
    cap[BUILDING] = float(building.seat_count)
    return BusiestTimes(branch=building.branch_id, since=first, until=last, table=table, capacity=cap)


def sensor_occupancy(store: Any, building: Any, start: float, end: float, *, step_s: float = 300.0) -> pd.DataFrame:
    """People counted by the branch's occupancy sensors over ``[start, end)``, as ``time, zone, occupancy`` rows.

    Each sensor's mean per ``step_s`` bucket [s] (resampled in the store, raw and compacted periods
    alike), summed over the sensors of a zone. Zones without an occupancy sensor are absent, so the
    building total of :func:`busiest_times` is the sensed rooms' total.
    """
    zone_of = {d.id: d.zone_id for d in building.devices if "occupancy" in d.quantities and d.zone_id}
    per = store.series(branch=building.branch_id, quantity="occupancy", start=start, end=end, every=step_s,
                       per_device=True)
    per = per.loc[per["device"].isin(list(zone_of))]
    if not len(per):
        return pd.DataFrame({"time": [], "zone": [], "occupancy": []})
    per = per.assign(zone=per["device"].map(zone_of))
    out = per.groupby(["time", "zone"], as_index=False)["value"].sum()
    return out.rename(columns={"value": "occupancy"})[["time", "zone", "occupancy"]]


def sensor_busiest(store: Any, src: Any, building: Any, *, today: dt.date, days: int = 28,
                   day_type_of: Callable[[dt.date], str] | None = None) -> BusiestTimes:
    """Busiest times of the ``days`` local days before ``today`` from the occupancy sensors (:func:`sensor_occupancy`).

    What the dashboard draws behind today's sensed occupancy: cheap (one resampled query), unlike
    the twin's estimates replayed over the period (:func:`branch_busiest`). ``day_type_of`` as in
    :func:`busiest_of`.
    """
    tz = ZoneInfo(src.scenario.branch.timezone)
    first, last = today - dt.timedelta(days=days), today - dt.timedelta(days=1)
    start = dt.datetime.combine(first, dt.time(0), tzinfo=tz).timestamp()
    end = dt.datetime.combine(today, dt.time(0), tzinfo=tz).timestamp()
    return busiest_of(sensor_occupancy(store, building, start, end), src, building, first, last,
                      day_type_of=day_type_of)


def _branch_busiest(scenario: Path, store_url: str, *, since: str, until: str | None,
                    out_dir: Path | None) -> tuple[BusiestTimes, list[Path]]:
    from geometry import apply_variant, build_building, load_scenario
    from telemetry.store import open_store

    src = apply_variant(load_scenario(scenario))
    tz = ZoneInfo(src.scenario.branch.timezone)
    from .indicators import day_range

    first, last = day_range(since, until, tz)
    start = dt.datetime.combine(first, dt.time(0), tzinfo=tz).timestamp()
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), tzinfo=tz).timestamp()
    with open_store(store_url) as store:
        hist = occupancy_history(scenario, store, start, end)
    result = busiest_of(hist, src, build_building(src, check_reach=False), first, last)
    paths: list[Path] = []
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        csv = out_dir / "busiest.csv"
        result.table.to_csv(csv, index=False)
        paths = [csv, busiest_picture(result, out_dir / "busiest.png")]
    return result, paths


def busiest_rows(result: BusiestTimes, zone: str = BUILDING) -> tuple[list[str], list[list[str]]]:
    """Columns (hour, then each day type) and rows ``median [p10-p90]`` of one zone, for printing."""
    t = result.zone(zone)
    kinds = sorted(set(t["day_type"]))
    cols = ["hour", *kinds]
    rows = []
    for hour in sorted(set(t["hour"])):
        row = [f"{hour:02d}:00"]
        for k in kinds:
            r = t.loc[(t["day_type"] == k) & (t["hour"] == hour)]
            if not len(r):
                row.append("-")
                continue
            row.append(f"{r['median'].iloc[0]:.0f} [{r['p10'].iloc[0]:.0f}-{r['p90'].iloc[0]:.0f}]")
        rows.append(row)
    return cols, rows
