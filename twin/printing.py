"""Everything the command line prints: rich tables of typed results, progress bars, messages.

User text (file names, field values, messages that quote a file) is printed literally: never read
as rich markup or emoji codes.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from geometry.exporters.imdf import ImdfExport
    from geometry.model import Building

    from .app import Comparison, EvacuationRun, SimulationRun, Validation
    from .buildings import BrickSummary, ImportSummary

out = Console(soft_wrap=True, emoji=False, highlight=False)
err = Console(stderr=True, soft_wrap=True, emoji=False, highlight=False)


def say(text: str, *, style: str | None = None, to_err: bool = False) -> None:
    """Print one line of plain text (no markup is interpreted)."""
    (err if to_err else out).print(Text(text, style=style or ""))


def error(message: str) -> None:
    """``error: message`` on stderr."""
    err.print(Text.assemble(("error:", "bold red"), " ", message))


def problems(lines: Iterable[str]) -> None:
    """Lines of a located problem report (``file:line: field: message``) on stderr, in red."""
    for line in lines:
        err.print(Text(line, style="red"))


def wrote(paths: Iterable[Any]) -> None:
    for p in paths:
        say(f"wrote {p}")


@contextlib.contextmanager
def progress_bar(description: str, *, unit: str = "") -> Iterator[Any]:
    """A transient rich progress bar on stderr; yields a ``progress(done, total, text)`` callback."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
               TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(description, total=None)

        def update(done: float, total: float, text: str) -> None:
            bar.update(task, completed=done, total=total, description=text)

        yield update


# --------------------------------------------------------------------------- scenarios

def validations(results: Iterable[Validation]) -> int:
    """Print each file's outcome; returns how many had mistakes."""
    bad = 0
    for r in results:
        if r.ok:
            out.print(Text.assemble(("ok", "green"), f" {r.file} ({r.variants} variants)"))
        else:
            bad += 1
            problems(r.problems)
    return bad


def building_tables(b: Building, variant: str | None = None) -> None:
    """Floors, zones and devices of a building as tables."""
    title = f"{b.name} ({b.branch_id})" + (f", variant {variant}" if variant else "")
    floors = Table(title=Text(title))
    for col in ("floor", "elevation m", "area m2", "zones", "seats", "openings", "obstacles"):
        floors.add_column(col, justify="right" if col != "floor" else "left")
    for f in b.floors:
        floors.add_row(Text(f.id), f"{f.elevation_m:.1f}", f"{f.area_m2:,.0f}", str(len(f.zones)),
                       str(len(f.seats)), str(len(f.openings)), str(len(f.obstacles)))
    floors.add_row("total", "", f"{b.area_m2:,.0f}", str(sum(len(f.zones) for f in b.floors)), str(b.seat_count),
                   str(sum(len(f.openings) for f in b.floors)), str(sum(len(f.obstacles) for f in b.floors)),
                   style="bold")
    out.print(floors)
    zones = Table(title="zones")
    for col in ("zone", "floor", "kind", "area m2", "seats", "m2 per seat"):
        zones.add_column(col)
    per_zone = b.seats_per_zone()
    for z in b.zones:
        n = per_zone[z.id]
        zones.add_row(Text(z.id), Text(z.floor_id), str(z.kind), f"{z.area_m2:,.1f}", str(n),
                      f"{z.area_m2 / n:.1f}" if n else "-")
    out.print(zones)
    if b.devices:
        devices = Table(title="devices")
        for col in ("device", "type", "floor", "zone", "quantities", "period s"):
            devices.add_column(col)
        for d in b.devices:
            devices.add_row(Text(d.id), str(d.type), Text(d.floor_id), Text(d.zone_id or "-"),
                            Text(", ".join(d.quantities)), f"{d.period_s:g}")
        out.print(devices)


# --------------------------------------------------------------------------- library days

def simulation(run: SimulationRun) -> None:
    """The headline KPIs of a run, then the files written."""
    from simulation.day.report import headline

    name = run.branch + (f", variant {run.variant}" if run.variant else "")
    table = Table(title=Text(f"{name}: {run.days} day(s) from {run.day.meta['start']}, seed {run.seed}, "
                             f"{run.walker} walker"))
    table.add_column("kpi")
    table.add_column("value", justify="right")
    for label, value in headline(run.kpis.to_dict()):
        table.add_row(Text(label), value)
    out.print(table)
    wrote(run.files)


def comparison(c: Comparison) -> None:
    variants = [n for n in c.runs if n != "base"]
    cols, rows = c.rows()
    table = Table(title=Text(f"{c.branch}: base and {', '.join(variants)}, seed {c.seed}, {c.days} day(s)"))
    for col in cols:
        table.add_column(Text(col), justify="left" if col == "kpi" else "right")
    for r in rows:
        table.add_row(*(Text(x) for x in r))
    out.print(table)


# --------------------------------------------------------------------------- evacuation

def _f(v: float | None, fmt: str) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)


def evacuation(run: EvacuationRun) -> None:
    """Summary, floors and exits of an evacuation, then the files written."""
    s = run.result.summary
    head = Table(title=Text(f"evacuation of {s.name}" + (f", variant {run.variant}" if run.variant else "")))
    head.add_column("")
    head.add_column("value", justify="right")
    rows = (("people (seated + standing)", f"{s.people} ({s.seated} + {s.standing})"),
            ("out", str(s.evacuated)), ("still inside at the end", str(s.remaining)),
            ("with no way out", str(s.trapped)),
            ("evacuation time s", _f(s.evacuation_time_s, ".1f")),
            ("peak density /m2", f"{s.peak_density.per_m2:.2f} on {s.peak_density.floor}"),
            ("blocked exits", ", ".join(s.blocked_exits) or "none"))
    for label, value in rows:
        head.add_row(label, Text(value))
    out.print(head)
    floors = Table(title="floors")
    for col in ("floor", "people", "cleared at s", "peak density /m2"):
        floors.add_column(col, justify="right" if col != "floor" else "left")
    for fid, f in s.floors.items():
        floors.add_row(Text(fid), str(f.people), f"{f.cleared_s:.1f}", f"{f.peak_density_per_m2:.2f}")
    out.print(floors)
    exits = Table(title="exits")
    for col in ("exit", "floor", "width m", "out", "first s", "last s", "flow /s", "peak /(m s)"):
        exits.add_column(col, justify="right" if col != "exit" else "left")
    for eid, e in s.exits.items():
        exits.add_row(Text(eid + (" (blocked)" if e.blocked else "")), Text(e.floor), f"{e.width_m:g}",
                      str(e.flow.count), _f(e.flow.first_s, ".1f"), _f(e.flow.last_s, ".1f"),
                      _f(e.flow.mean_flow_per_s, ".2f"), _f(e.flow.peak_specific_flow_per_m_s, ".2f"))
    out.print(exits)
    wrote(run.files)


# --------------------------------------------------------------------------- telemetry store

def _utc(t: float | None, fmt: str = "%Y-%m-%d %H:%M:%S UTC") -> str:
    import datetime as dt

    if t is None or t != t:
        return "-"
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime(fmt)


def store_stats(stats: Any, *, as_json: bool = False) -> None:
    """What a store holds (readings per branch, device and quantity) and what it rejected, and why."""
    import sys

    import orjson
    from rich import box

    if as_json:
        sys.stdout.write(orjson.dumps(stats.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    say(f"store {stats.url}: {stats.records:,} readings from {_utc(stats.first_time)} to "
        f"{_utc(stats.last_time)}; devices online {stats.devices_online}, offline {stats.devices_offline}")
    per_q = stats.per_quantity
    for branch in sorted(set(per_q["branch"])) if len(per_q) else []:
        t = Table(title=Text(f"branch {branch}: readings per device and quantity"), box=box.SIMPLE)
        for col in ("device", "quantity", "records", "first (UTC)", "last (UTC)"):
            t.add_column(col, justify="right" if col == "records" else "left", no_wrap=True)
        for r in per_q[per_q["branch"] == branch].itertuples(index=False):
            t.add_row(Text(r.device), Text(r.quantity), f"{r.records:,}", _utc(r.first_time, "%Y-%m-%d %H:%M"),
                      _utc(r.last_time, "%Y-%m-%d %H:%M"))
        out.print(t)
    d = Table(title=f"rejected per reason ({stats.dead_letter_rows:,} kept as dead letters)", box=box.SIMPLE)
    d.add_column("reason")
    d.add_column("count", justify="right")
    for r in stats.dead_letters_by_reason.itertuples(index=False):
        d.add_row(Text(str(r.reason)), f"{int(r.count):,}")
    if not len(stats.dead_letters_by_reason):
        d.add_row("(none)", "0")
    out.print(d)
    if len(stats.dead_letters_by_device):
        e = Table(title="rejected per device ('' = unknown branch or device)", box=box.SIMPLE)
        for col in ("branch", "device", "count"):
            e.add_column(col, justify="right" if col == "count" else "left")
        for r in stats.dead_letters_by_device.itertuples(index=False):
            e.add_row(Text(str(r.branch)), Text(str(r.device)), f"{int(r.count):,}")
        out.print(e)


# --------------------------------------------------------------------------- optimisation and sweeps

def placement(rep: Any) -> None:
    """A placement: chosen positions, coverage, the greedy gap and the files written."""
    p = rep.plan
    table = Table(title=Text(f"{p.k} x {p.device}: {p.exact.share:.1%} of occupancy covered ({p.exact.status})"))
    for c in ("device", "floor", "x m", "y m", "heading deg"):
        table.add_column(c, justify="left" if c in ("device", "floor") else "right")
    for d in p.devices:
        table.add_row(Text(d.id), Text(d.floor_id), f"{d.x_m:.2f}", f"{d.y_m:.2f}", f"{d.heading_deg:.0f}")
    out.print(table)
    now = f"; the scenario's own devices cover {p.existing_share:.1%}" if p.existing_share is not None else ""
    say(f"greedy + swap {p.heuristic.share:.1%} (gap {p.gap:.2%}), exact {p.exact.seconds:.2f} s over "
        f"{p.candidates} candidates and {p.demand_cells} demand cells{now}")
    if rep.scenario_out is not None:
        say(f"wrote {rep.scenario_out} (variant {rep.variant})")
    wrote([rep.picture])


def staffing(rep: Any) -> None:
    """A staffing plan: per hour load, need, staff and verified waits; the shifts; the verification."""
    from optimization.staffing import staffed

    plan, v = rep.plan, rep.plan.verification
    for d in plan.desks:
        table = Table(title=Text(f"desk {d.desk}: mean service {d.load.mean_service_s:.0f} s"))
        for c in ("hour", "arrivals/h", "Erlang need", "staffed", "served/day", "share over limit"):
            table.add_column(c, justify="right")
        for h in d.load.open_hours:
            table.add_row(f"{h:02d}:00", f"{d.load.rate_per_s.get(h, 0.0) * 3600:.1f}", str(d.need.get(h, 0)),
                          str(staffed(d.shifts, h)), f"{v.hour_served.get(h, 0.0):.1f}",
                          f"{v.hour_share[h]:.2f}" if h in v.hour_share else "-")
        out.print(table)
        say(f"shifts at {d.desk}: " + ", ".join(f"{s.count} x {s.text}" for s in d.shifts))
    say(f"{plan.staff_hours} desk staff-hours; verified over {v.replications} simulated days: share over the "
        f"limit {v.share:.3f} +- {v.share_ci:.3f}, mean wait {v.mean_wait_s:.0f} +- {v.mean_wait_ci:.0f} s (95%); "
        f"target {plan.target.text}: {'met' if v.met else 'NOT met'} after {plan.rounds} round(s)")
    if rep.written is not None:
        wrote([rep.written])


def layout(rep: Any) -> None:
    """The Pareto front of a layout search as a table, and the files written."""
    f = rep.result.pareto
    table = Table(title=Text(f"Pareto front: {len(f)} of {len(rep.result.trials)} trials"))
    table.add_column("variant")
    cols = [a.path for a in rep.result.axes] + list(rep.result.objectives)
    for c in cols:
        table.add_column(Text(c), justify="right")
    for name, (_, r) in zip(rep.variants, f.iterrows(), strict=True):
        table.add_row(Text(name), *[Text(f"{r[c]:.4g}" if isinstance(r[c], float) else str(r[c])) for c in cols])
    out.print(table)
    say(f"wrote {rep.scenario_out} (variants {', '.join(rep.variants)})")
    wrote([rep.picture])


def sweep(rep: Any) -> None:
    """Means and 95% half-widths per grid point of a sweep, and the Parquet file."""
    s = rep.summary
    shown = [c for c in s.columns if not c.endswith("_ci")]
    table = Table(title=Text(f"sweep: {len(s)} point(s), mean +- 95% half-width over replications"))
    for c in shown:
        table.add_column(Text(c), justify="right")
    for i in range(len(s)):  # by column, so integer parameters stay integers
        table.add_row(*[Text(f"{s[c].iloc[i]:.3g} +- {s[c + '_ci'].iloc[i]:.2g}" if c + "_ci" in s.columns
                             else str(s[c].iloc[i])) for c in shown])
    out.print(table)
    say(f"wrote {rep.parquet} ({len(rep.table)} runs)")
# --------------------------------------------------------------------------- building import and export

def import_summary(s: ImportSummary) -> None:
    """What an import found and made, its zones with their guessed kinds, and every note."""
    rep = s.report
    table = Table(title=Text(f"imported {rep.source} ({rep.format})"))
    for col in ("source", "found", "scenario", "made"):
        table.add_column(col, justify="right" if col in ("found", "made") else "left")
    found, made = list(rep.found.items()), list(rep.made.items())
    for i in range(max(len(found), len(made))):
        f = found[i] if i < len(found) else ("", "")
        m = made[i] if i < len(made) else ("", "")
        table.add_row(Text(f[0]), str(f[1]), m[0], str(m[1]))
    out.print(table)
    zones = Table(title="zones (kind guessed from the name: edit the file to change it)")
    for col in ("zone", "floor", "name", "kind", "from word", "source m2", "zone m2"):
        zones.add_column(col, justify="right" if "m2" in col else "left")
    for z in rep.zones:
        zones.add_row(Text(z.id), Text(z.floor), Text(z.name or ""), z.kind, Text(z.kind_from or "-"),
                      f"{z.source_area_m2:.1f}", f"{z.area_m2:.1f}")
    out.print(zones)
    for action in ("dropped", "repaired", "guessed"):
        notes = [n for n in rep.notes if n.action == action]
        if notes:
            say(f"{action} ({len(notes)})", style="bold")
            for n in notes:
                say(f"  {n.what}: {n.why}")
    say(f"{s.floors} floor(s), {s.zones} zones, {s.openings} openings, {s.exits} exit(s), {s.area_m2:,.0f} m2; "
        "every zone reachable from an exit")
    wrote([s.scenario_path] + ([s.picture] if s.picture is not None else []))
    if s.picture_skipped:
        say(f"no picture: {s.picture_skipped}")


def brick_export(s: BrickSummary) -> bool:
    """A Brick export's counts (read back from the file) and validation; returns whether it conforms."""
    c = s.counts
    say(f"wrote {s.path}: {c.triples} triples, {c.floors} floors, {c.spaces} spaces ({s.zones} zones), "
        f"{c.sensors} sensors ({s.sensors} measured quantities), {c.points} points")
    if not s.conforms:
        problems(s.report.splitlines())
        return False
    say("conforms to the Brick 1.4 shapes" if s.report != "not validated" else "not validated (--no-validate)")
    return True


def imdf_export(s: ImdfExport) -> None:
    """An IMDF export's feature counts and what IMDF does not hold."""
    say(f"wrote {s.path}: " + ", ".join(f"{n} {kind}" for kind, n in s.features.items()))
    left = [f"{n} {what}" for n, what in ((s.seats_left_out, "seats"), (s.devices_left_out, "devices"),
                                          (s.lifts_left_out, "lifts")) if n]
    if left:
        say("not in IMDF (no feature type for them): " + ", ".join(left))


def store_compacted(result: Any, *, store_url: str) -> None:
    """One line: what ``smartlib store compact`` rolled up and removed (a ``telemetry.store.CompactResult``)."""
    from telemetry.store import redact

    dropped = (f", {result.minute_rows_dropped:,} older 1-minute aggregates dropped"
               if result.minute_rows_dropped else "")
    say(f"store {redact(store_url)}: readings before {_utc(result.cutoff)} rolled up: {result.removed:,} raw readings "
        f"removed, {result.minute_rows:,} 1-minute and {result.hour_rows:,} 1-hour aggregates written{dropped}")
# --------------------------------------------------------------------------- hub analytics

def _table(title: str, cols: list[str], rows: list[list[str]], left: tuple[str, ...]) -> Table:
    table = Table(title=Text(title))
    for c in cols:
        table.add_column(Text(c), justify="left" if c in left else "right")
    for r in rows:
        table.add_row(*(Text(x) for x in r))
    return table


def forecast(result: Any) -> None:
    """A what-if forecast (:class:`twin.whatif.WhatIfResult`): mean ± CI as is, with the variant, the difference."""
    from .whatif import forecast_table

    cols, rows = forecast_table(result)
    t0, t1 = result.start_s, result.end_s
    title = (f"{result.branch} on {result.date}, {t0 // 3600:02.0f}:{t0 % 3600 // 60:02.0f}-"
             f"{t1 // 3600:02.0f}:{t1 % 3600 // 60:02.0f}: mean ± 95% CI of {result.replications} replications"
             + (f", variant {result.variant} on the same seeds" if result.variant else ""))
    out.print(_table(title, cols, rows, ("kpi", "unit")))


def evaluation(ev: Any, csv: Any = None) -> None:
    """Branches ranked over a period (:class:`twin.evaluate.Evaluation`): value (#rank) per indicator."""
    from .evaluate import ranking_table

    cols, rows = ranking_table(ev)
    out.print(_table(f"branches ranked, {ev.period} ({ev.store}); value (#rank)", cols, rows, ("indicator", "unit")))
    if ev.without_readings:
        say(f"no readings in {ev.period}: {', '.join(ev.without_readings)}")
    if csv is not None:
        wrote([csv])


def calibration(cal: Any) -> None:
    """Arrival rates by hour and day type (:class:`twin.calibrate.Calibration`), the mean stay, the file."""
    kinds = list(cal.arrivals_per_hour)
    rows = [[f"{h:02d}:00", *[f"{cal.arrivals_per_hour[k][h]:.1f}" if h in cal.arrivals_per_hour[k] else "-"
                              for k in kinds]]
            for h in sorted({h for r in cal.arrivals_per_hour.values() for h in r})]
    title = (f"{cal.branch}: arrivals [persons/h] from {cal.since} to {cal.until} ("
             + ", ".join(f"{cal.days[k]} {k}" for k in kinds) + " days)")
    out.print(_table(title, ["hour", *kinds], rows, ("hour",)))
    say(f"mean time in the building (Little's law): {cal.mean_stay_s / 60:.0f} min")
    if cal.out is not None:
        wrote([cal.out])


def busiest(result: Any, zone: str | None = None) -> None:
    """Busiest times of one zone (default the building): median [10%-90%] by hour per day type."""
    from .busiest import BUILDING, busiest_rows

    name = zone or BUILDING
    cols, rows = busiest_rows(result, name)
    out.print(_table(f"{result.branch} {name}: people by hour, median [10%-90% of days], {result.since} to "
                     f"{result.until}", cols, rows, ("hour",)))
