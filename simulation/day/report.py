"""What ``smartlib simulate`` and ``smartlib compare`` show: headline KPIs, comparisons, a picture of the day.

:func:`headline` picks the indicators worth a glance from :func:`simulation.day.kpis.compute_kpis`;
:func:`compare_rows` lines up runs (base and variants) with their differences; :func:`day_picture`
draws occupancy per floor and CO2 per zone over the simulated time (PNG, matplotlib).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from .kpis import flat

#: Headline indicators: (key in :func:`simulation.day.kpis.flat` form, label with unit, format).
HEADLINE: tuple[tuple[str, str, str], ...] = (
    ("visits", "visits", "{:,.0f}"),
    ("visits_per_opening_hour", "visits per opening hour", "{:,.1f}"),
    ("mean_stay_s", "mean stay min", "min"),
    ("peak_occupancy", "peak occupancy (people)", "{:,.0f}"),
    ("mean_occupancy", "mean occupancy while open", "{:,.1f}"),
    ("seats", "seats", "{:,.0f}"),
    ("seat_occupancy_rate", "seat occupancy rate %", "pct"),
    ("turned_away", "turned away", "{:,.0f}"),
    ("energy_total_kwh", "energy kWh", "{:,.1f}"),
    ("kwh_per_visit", "kWh per visit", "{:,.2f}"),
    ("kwh_per_m2", "kWh per m2", "{:,.3f}"),
    ("walking_m_per_visit", "walking m per visit", "{:,.1f}"),
)


def _fmt(value: float, how: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if how == "min":
        return f"{value / 60.0:,.1f}"
    if how == "pct":
        return f"{100.0 * value:,.1f}"
    return how.format(value)


def headline(kpis: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, formatted value) rows: the headline indicators, mean waits per service, CO2 hours per zone."""
    f = flat(kpis)
    rows = [(label, _fmt(f[key], how)) for key, label, how in HEADLINE if key in f]
    rows += [(f"wait at {k.split('.')[1]} mean s", _fmt(v, "{:,.0f}")) for k, v in sorted(f.items())
             if k.startswith("waits.") and k.endswith(".mean_s")]
    rows += [(f"CO2 > 1000 ppm h, {k.split('.', 1)[1]}", _fmt(v, "{:,.1f}")) for k, v in sorted(f.items())
             if k.startswith("co2_hours_above_1000.") and v > 0]
    return rows


def compare_rows(runs: Mapping[str, Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Columns and rows lining up the KPIs of runs; after the first (the base), each run's difference.

    Every numeric KPI present in any run is a row (``a.b`` keys); values missing in a run are ``-``.

    Returns
    -------
    columns : list of str
        ``kpi``, the base name, then each other run and ``Δ <run>``.
    rows : list of list of str
    """
    names = list(runs)
    flats = {n: flat(k) for n, k in runs.items()}
    keys: list[str] = []
    for f in flats.values():
        keys += [k for k in f if k not in keys]
    base = names[0]
    cols = ["kpi", base]
    for n in names[1:]:
        cols += [n, f"Δ {n}"]
    rows = []
    for k in keys:
        b = flats[base].get(k, math.nan)
        row = [k, _num(b)]
        for n in names[1:]:
            v = flats[n].get(k, math.nan)
            d = v - b
            row += [_num(v), "-" if math.isnan(d) else f"{d:+,.4g}"]
        rows.append(row)
    return cols, rows


def _num(v: float) -> str:
    return "-" if math.isnan(v) else f"{v:,.4g}"


def day_picture(zones: pd.DataFrame, path: str | Path, *, title: str = "") -> Path:
    """Occupancy per floor (top) and CO2 per zone (bottom) over the simulated time; written as PNG.

    Parameters
    ----------
    zones
        The zones table of a run (:data:`simulation.day.library_day.ZONE_COLUMNS`).
    path
        Where to write the picture.
    title
        Figure title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7), sharex=True, constrained_layout=True)
    if len(zones):
        hours = zones["t_s"] / 3600.0
        occ = zones.assign(h=hours).groupby(["h", "floor_id"])["occupancy"].sum().unstack("floor_id")
        for fid in occ.columns:
            top.plot(occ.index, occ[fid], label=f"floor {fid}", lw=1.2)
        co2 = zones.assign(h=hours).pivot_table(index="h", columns="zone_id", values="co2_ppm")
        for zid in co2.columns:
            bottom.plot(co2.index, co2[zid], lw=0.9, label=zid)
        bottom.axhline(1000.0, color="crimson", ls="--", lw=1, label="1000 ppm")
        top.legend(loc="upper right", fontsize="small")
        if co2.shape[1] <= 14:
            bottom.legend(loc="upper right", fontsize="x-small", ncol=2)
    top.set_ylabel("people (mean per minute)")
    bottom.set_ylabel("CO2 ppm")
    bottom.set_xlabel("hours from midnight of the first day")
    top.set_title(title)
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
