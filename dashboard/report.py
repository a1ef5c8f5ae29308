"""A self-contained HTML report comparing saved simulation results (KPIs side by side, figures inline).

The same function serves the Scenarios page's "export report" button and ``smartlib report``.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .data import SavedRun

if TYPE_CHECKING:
    from simulation.day.kpis import WaitStats

HEADLINE_KPIS = ("visits", "mean_stay_s", "peak_occupancy", "seat_occupancy_rate", "turned_away",
                 "energy_total_kwh", "kwh_per_visit")


class ReportError(ValueError):
    """A results folder that cannot be reported (named in the message)."""


def load_run(path: Path) -> SavedRun:
    """A saved result folder (``smartlib simulate --out``): its ``kpis.json``.

    Raises
    ------
    ReportError
        When the folder or its ``kpis.json`` is missing or not JSON.
    """
    kp = path / "kpis.json"
    if not kp.is_file():
        raise ReportError(f"{path} holds no kpis.json (give folders written by `smartlib simulate --out DIR`)")
    try:
        doc = json.loads(kp.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ReportError(f"{kp} is not valid JSON: {exc}") from exc
    return SavedRun(path.name, path, doc.get("kpis", {}), doc.get("meta", {}))


def run_label(run: SavedRun) -> str:
    """A short label: the folder name, with branch and variant when the metadata names them."""
    meta = run.meta or {}
    parts = [str(meta[k]) for k in ("branch", "variant") if meta.get(k)]
    return f"{run.label} ({', '.join(parts)})" if parts else run.label


def evacuation_times(run: SavedRun) -> dict[str, float] | None:
    """Floor -> last person out [s] from an evacuation ``summary.json`` in (or under) the run folder."""
    for p in [run.path / "summary.json", *sorted(run.path.glob("evacuation*/summary.json"))]:
        if p.is_file():
            try:
                floors = json.loads(p.read_text(encoding="utf-8")).get("floors", {})
            except ValueError:
                return None
            return {f: float(v.get("cleared_s", 0.0)) for f, v in floors.items()}
    return None


def wait_stats(run: SavedRun) -> dict[str, WaitStats] | None:
    """Service -> its waits (:class:`simulation.day.kpis.WaitStats`) from the run's KPIs; None when
    its ``kpis.json`` is not a full day's KPIs (an older or foreign file)."""
    from simulation.day.kpis import DayKpis

    try:
        return dict(DayKpis.from_dict(run.kpis).waits)
    except (KeyError, TypeError):
        return None


def occupancy_series(run: SavedRun) -> Any:
    """Persons in the building over the day (``zones.parquet`` summed over zones): columns time [s], value."""
    import pandas as pd

    p = run.path / "zones.parquet"
    if not p.is_file():
        return None
    z = pd.read_parquet(p, columns=["t_s", "occupancy"])
    s = z.groupby("t_s")["occupancy"].sum()
    return pd.DataFrame({"time": s.index.to_numpy(float), "value": s.to_numpy(float)})


def comparison_report(runs: Sequence[SavedRun], *, title: str = "Smartlib scenario comparison") -> str:
    """The HTML text of a report comparing ``runs`` (the first is the base): one file, plotly inlined."""
    from . import figures

    if not runs:
        raise ReportError("give at least one results folder")
    kpis = {run_label(r): r.kpis for r in runs}
    rows = figures.kpi_table(kpis)
    cols = list(rows[0]) if rows else ["kpi"]
    table = "<table><thead><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in cols) + "</tr></thead><tbody>"
    for row in rows:
        table += "<tr>" + "".join(f"<td>{html.escape(str(row.get(c, '')))}</td>" for c in cols) + "</tr>"
    table += "</tbody></table>"
    figs = [figures.kpi_bars(kpis, [k for k in HEADLINE_KPIS if any(k in v for v in kpis.values())])]
    occ = {run_label(r): s for r in runs if (s := occupancy_series(r)) is not None}
    if occ:
        figs.append(figures.series_by_run(occ, title="persons in the building", unit="persons"))
    waits = {run_label(r): w for r in runs if (w := wait_stats(r))}
    if waits:
        figs.append(figures.wait_bars(waits))
    evac = {run_label(r): t for r in runs if (t := evacuation_times(r)) is not None}
    if evac:
        figs.append(figures.evacuation_bars(evac))
    parts = [f.to_html(full_html=False, include_plotlyjs="inline" if i == 0 else False) for i, f in enumerate(figs)]
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    sources = "".join(f"<li>{html.escape(run_label(r))}: {html.escape(str(r.path))}</li>" for r in runs)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>"
            "body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child{text-align:left}"
            f"</style></head><body><h1>{html.escape(title)}</h1><p>written {now}; base: "
            f"{html.escape(run_label(runs[0]))}</p><ul>{sources}</ul><h2>KPIs</h2>{table}<h2>Figures</h2>"
            + "".join(parts) + "</body></html>")


def write_report(paths: Sequence[Path], out: Path) -> Path:
    """Write :func:`comparison_report` of the result folders ``paths`` to ``out``."""
    runs = [load_run(Path(p)) for p in paths]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(comparison_report(runs), encoding="utf-8")
    return out


__all__ = ["ReportError", "comparison_report", "evacuation_times", "load_run", "occupancy_series", "run_label",
           "wait_stats", "write_report"]
