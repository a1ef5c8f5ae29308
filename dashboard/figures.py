"""Figures of the dashboard as pure functions: typed inputs in, a plotly Figure out, nothing read or written.

The callbacks fetch the inputs (live state, store series, simulation results) through the twin
and hand them here, so each figure can be tested on small inputs without a server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

    from geometry import Building
    from simulation.day.kpis import WaitStats
    from twin.state import DeviceHealth, QueueState, ZoneState

#: Occupancy ratio -> colour: green when empty, amber at 70 % of capacity, red at capacity and above.
OCCUPANCY_SCALE: tuple[tuple[float, str], ...] = ((0.0, "#2ca25f"), (0.7, "#fdae61"), (1.0, "#d7191c"))
#: CO2 [ppm] -> colour: EN 16798-1 category I up to 970 ppm (550 above outdoor 420), IV above 1770.
CO2_SCALE: tuple[tuple[float, str], ...] = ((420.0, "#2ca25f"), (970.0, "#a6d96a"), (1220.0, "#fdae61"),
                                            (1770.0, "#d7191c"))
#: Device status -> marker colour.
HEALTH_COLOURS: dict[str, str] = {"online": "#1a9641", "flagged": "#f39c12", "offline": "#c0392b",
                                  "unknown": "#7f8c8d"}
#: Seat state -> marker colour.
SEAT_COLOURS: dict[str, str] = {"occupied": "#2c3e50", "free": "#ffffff", "unknown": "#bdc3c7"}
NO_DATA = "#e0e0e0"


def _hex(c: str) -> np.ndarray:
    return np.array([int(c[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)


def scale_colour(value: float | None, scale: Sequence[tuple[float, str]]) -> str:
    """Colour of ``value`` on a piecewise-linear scale of (value, '#rrggbb') stops; grey for None/NaN.

    Values below the first stop get its colour, above the last stop the last colour.
    """
    if value is None or not np.isfinite(value):
        return NO_DATA
    xs = [x for x, _ in scale]
    if value <= xs[0]:
        return scale[0][1]
    if value >= xs[-1]:
        return scale[-1][1]
    i = int(np.searchsorted(xs, value, side="right")) - 1
    f = (value - xs[i]) / (xs[i + 1] - xs[i])
    rgb = (1 - f) * _hex(scale[i][1]) + f * _hex(scale[i + 1][1])
    return "#" + "".join(f"{round(v):02x}" for v in rgb)


def occupancy_colour(ratio: float | None) -> str:
    """Colour of an occupancy ratio (persons over capacity) on :data:`OCCUPANCY_SCALE`."""
    return scale_colour(ratio, OCCUPANCY_SCALE)


@lru_cache(maxsize=1)
def _template() -> go.layout.Template:
    """The layout part of plotly's ``plotly_white`` template, built once.

    Naming the template by its string makes plotly copy all of it (with every trace type's
    defaults) into each figure, about 40 ms a figure; its layout alone gives the same look in a
    quarter of the time.
    """
    import plotly.graph_objects as go
    import plotly.io as pio

    return go.layout.Template(layout=pio.templates["plotly_white"].layout)


def _layout(fig: go.Figure, title: str, *, height: int = 360) -> go.Figure:
    fig.update_layout(title={"text": title, "x": 0.01}, height=height, margin={"l": 50, "r": 20, "t": 50, "b": 40},
                      template=_template(), legend={"orientation": "h", "y": -0.15})
    return fig


def _ring(poly) -> tuple[list[float], list[float]]:  # type: ignore[no-untyped-def]
    x, y = poly.exterior.xy
    return list(x), list(y)


def _zone_look(zone, st: ZoneState | None) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """Fill colour and hover text of a zone on the floor plan."""
    if st is None:
        return NO_DATA, f"<b>{zone.name or zone.id}</b><br>no data"
    ratio = st.occupancy_ratio
    hover = (f"<b>{zone.name or zone.id}</b> ({zone.kind})<br>occupancy {st.occupancy:.1f} ± "
             f"{st.occupancy_std:.1f} of {st.capacity} ({ratio:.0%})")
    if st.co2_ppm is not None:
        hover += f"<br>CO2 {st.co2_ppm:.0f} ppm"
    if st.temperature_c is not None:
        hover += f"<br>{st.temperature_c:.1f} °C"
    return occupancy_colour(ratio), hover


def floor_plan_zone_updates(building: Building, floor_id: str,
                            zones: Sequence[ZoneState]) -> list[tuple[int, str, str]]:
    """(trace index, fill colour, hover text) of each zone of :func:`floor_plan`'s figure, for a partial update."""
    by_zone = {z.zone: z for z in zones}
    return [(i, *_zone_look(zone, by_zone.get(zone.id)))
            for i, zone in enumerate(building.floor(floor_id).zones, start=1)]


def floor_plan(building: Building, floor_id: str, zones: Sequence[ZoneState], devices: Sequence[DeviceHealth],
               seats: Mapping[str, bool] | None = None) -> go.Figure:
    """The floor plan: zones coloured by estimated occupancy ratio, seats by state, devices by health.

    Parameters
    ----------
    building
        The building (zone polygons, obstacles, seats, device positions in metres).
    floor_id
        Which floor.
    zones
        Live zone states; zones missing here are drawn grey ("no data").
    devices
        Device health; devices of other floors are ignored.
    seats
        Seat id -> occupied (from seat sensors); other seats are drawn as "unknown".

    Returns
    -------
    plotly.graph_objects.Figure
        One filled trace per zone (its hover shows occupancy +- std, capacity and CO2), one trace
        of obstacles, one per seat state and one per device status.
    """
    import plotly.graph_objects as go

    floor = building.floor(floor_id)
    by_zone = {z.zone: z for z in zones}
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=_ring(floor.outline)[0], y=_ring(floor.outline)[1], mode="lines",
                             line={"color": "#34495e", "width": 2}, hoverinfo="skip", showlegend=False,
                             name="outline"))
    for zone in floor.zones:
        colour, hover = _zone_look(zone, by_zone.get(zone.id))
        x, y = _ring(zone.polygon)
        fig.add_trace(go.Scatter(x=x, y=y, fill="toself", fillcolor=colour, mode="lines",
                                 line={"color": "#7f8c8d", "width": 1}, name=zone.id, hoveron="fills",
                                 text=hover, hoverinfo="text", showlegend=False, opacity=0.85))
    if floor.obstacles:
        xs: list[float | None] = []
        ys: list[float | None] = []
        for ob in floor.obstacles:
            x, y = _ring(ob.polygon)
            xs += [*x, None]
            ys += [*y, None]
        fig.add_trace(go.Scatter(x=xs, y=ys, fill="toself", fillcolor="rgba(120,100,80,0.5)", mode="lines",
                                 line={"width": 0}, hoverinfo="skip", name="shelves and desks"))
    seats = seats or {}
    for state in ("occupied", "free", "unknown"):
        pick = [s for s in floor.seats
                if (state == "unknown" and s.id not in seats)
                or (s.id in seats and seats[s.id] == (state == "occupied") and state != "unknown")]
        if pick:
            fig.add_trace(go.Scatter(x=[s.x for s in pick], y=[s.y for s in pick], mode="markers",
                                     marker={"size": 5, "color": SEAT_COLOURS[state],
                                             "line": {"color": "#2c3e50", "width": 0.5}},
                                     name=f"seats {state}", text=[s.id for s in pick], hoverinfo="text"))
    here = {d.id: d for d in building.devices if d.floor_id == floor_id}
    by_status: dict[str, list[DeviceHealth]] = {}
    for h in devices:
        if h.device in here:
            by_status.setdefault(h.status, []).append(h)
    for status, items in sorted(by_status.items()):
        fig.add_trace(go.Scatter(
            x=[here[h.device].x for h in items], y=[here[h.device].y for h in items], mode="markers",
            marker={"size": 11, "symbol": "diamond", "color": HEALTH_COLOURS.get(status, NO_DATA),
                    "line": {"color": "#000", "width": 1}},
            name=f"devices {status}",
            text=[f"{h.device} ({h.type}): {h.status}{' - ' + h.reason if h.reason else ''}" for h in items],
            hoverinfo="text"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x", scaleratio=1)
    return _layout(fig, f"{building.name}: floor {floor.name or floor.id}", height=520)


#: Trace index of today's line in :func:`day_profile` (its traces are always the same four, in this order).
DAY_TODAY_TRACE = 3


def day_profile(today: pd.DataFrame, yesterday: pd.DataFrame, *, title: str, unit: str,
                busiest: pd.DataFrame | None = None, busiest_label: str = "usual", day_start: float,
                timezone: str = "UTC") -> go.Figure:
    """A quantity over today against yesterday, with the busiest-times band behind them.

    Parameters
    ----------
    today, yesterday
        Columns ``time`` [UTC epoch s] and ``value``; yesterday's times are shifted one day forward
        so both lie on today's clock.
    title, unit
        Axis labelling.
    busiest
        Optional busiest times of today's day type (:meth:`twin.busiest.BusiestTimes.day`): columns
        ``hour`` (local, 0-23), ``p10``, ``median`` and ``p90`` of the hourly means; drawn as the
        10-90 % band and the median line at each hour's middle.
    busiest_label
        Legend name of the band (what days it comes from).
    day_start
        Today's local midnight [UTC epoch s]; hours are counted from it.
    timezone
        Name of the local time zone (axis label).

    Returns
    -------
    plotly.graph_objects.Figure
        Always four traces in this order (empty ones when there is nothing to draw): the band, its
        median, yesterday, today (index :data:`DAY_TODAY_TRACE`, which live updates replace).
    """
    import plotly.graph_objects as go

    b = busiest if busiest is not None and len(busiest) else None
    h = b["hour"].to_numpy(float) + 0.5 if b is not None else np.array([])
    band_x = np.concatenate([h, h[::-1]])
    band_y = (np.concatenate([b["p90"].to_numpy(float), b["p10"].to_numpy(float)[::-1]]) if b is not None
              else np.array([]))
    fig = go.Figure([
        go.Scatter(x=band_x, y=band_y, fill="toself", fillcolor="rgba(52,152,219,0.15)", line={"width": 0},
                   name=f"{busiest_label} (10-90 %)", hoverinfo="skip"),
        go.Scatter(x=h, y=b["median"].to_numpy(float) if b is not None else h, mode="lines",
                   name=f"{busiest_label} (median)", line={"color": "rgba(52,152,219,0.8)", "dash": "dash"}),
        go.Scatter(x=(yesterday["time"].to_numpy(float) + 86_400.0 - day_start) / 3600.0, y=yesterday["value"],
                   mode="lines", name="yesterday", line={"color": "#95a5a6", "dash": "dot"}),
        go.Scatter(**today_xy(today, day_start), mode="lines", name="today", line={"color": "#2c3e50", "width": 2}),
    ])
    fig.update_xaxes(title_text=f"hour of day ({timezone})", range=[0, 24], dtick=3)
    fig.update_yaxes(title_text=unit)
    fig = _layout(fig, title, height=320)
    fig.update_layout(legend={"orientation": "h", "y": -0.3, "x": 0.0}, margin={"b": 80})
    return fig


def today_xy(today: pd.DataFrame, day_start: float) -> dict[str, np.ndarray]:
    """``x`` (hours after ``day_start``) and ``y`` of today's line in :func:`day_profile`, for a partial update."""
    return {"x": (today["time"].to_numpy(float) - day_start) / 3600.0, "y": today["value"].to_numpy(float)}


def queue_bars(queues: Sequence[QueueState]) -> go.Figure:
    """People waiting per queue counter or kiosk, with each queue's alert target as a marker."""
    import plotly.graph_objects as go

    names = [q.device for q in queues]
    fig = go.Figure(go.Bar(x=names, y=[q.length for q in queues], name="waiting",
                           marker_color=["#c0392b" if q.length > q.target else "#2980b9" for q in queues]))
    fig.add_trace(go.Scatter(x=names, y=[q.target for q in queues], mode="markers", name="target",
                             marker={"symbol": "line-ew-open", "size": 24, "color": "#000"}))
    fig.update_yaxes(title_text="persons")
    return _layout(fig, "queues now", height=280)


def building_3d(building: Building, values: Mapping[str, float], *, floors: Sequence[str] | None = None,
                metric: str = "occupancy", scale: Sequence[tuple[float, str]] = OCCUPANCY_SCALE) -> go.Figure:
    """The building in 3D (zone blocks extruded from the floor polygons), coloured by a value per zone.

    Parameters
    ----------
    building
        The building.
    values
        Zone id -> value (occupancy ratio, CO2 ppm ...); zones without a value are grey.
    floors
        Floor ids to show (all when None).
    metric
        Label of the value on hover.
    scale
        Colour scale stops for the value.

    Returns
    -------
    plotly.graph_objects.Figure
        Per shown floor two ``Mesh3d`` traces: its slab (``"<floor> slab"``) and its zones
        (``"<floor> zones"``: 1 m high blocks on the slab, each zone's faces in its colour and its
        vertices carrying its hover text). Few traces keep the figure quick to build and draw.
    """
    import plotly.graph_objects as go

    shown = set(floors) if floors is not None else {f.id for f in building.floors}
    fig = go.Figure()
    for floor in building.floors:
        if floor.id not in shown:
            continue
        slab = _extruded(floor.outline.wkb, floor.elevation_m - 0.3, 0.3)
        if slab is not None:
            v, f = slab
            fig.add_trace(go.Mesh3d(x=v[:, 0], y=v[:, 1], z=v[:, 2], i=f[:, 0], j=f[:, 1], k=f[:, 2],
                                    color="#bdc3c7", opacity=0.6, name=f"{floor.id} slab", hoverinfo="skip"))
        verts, faces, colours, texts = [], [], [], []
        n = 0
        for zone in floor.zones:
            m = _extruded(zone.polygon.buffer(-0.05).wkb, floor.elevation_m, 1.0)
            if m is None:
                continue
            val = values.get(zone.id)
            v, f = m
            verts.append(v)
            faces.append(f + n)
            colours += [scale_colour(val, scale)] * len(f)
            text = f"{zone.name or zone.id} ({floor.id}): " + (f"{metric} {val:.2f}" if val is not None else "no data")
            texts += [text] * len(v)
            n += len(v)
        if verts:
            v, f = np.concatenate(verts), np.concatenate(faces)
            fig.add_trace(go.Mesh3d(x=v[:, 0], y=v[:, 1], z=v[:, 2], i=f[:, 0], j=f[:, 1], k=f[:, 2],
                                    facecolor=colours, opacity=0.9, name=f"{floor.id} zones", hovertext=texts,
                                    hoverinfo="text", flatshading=True))
    fig.update_layout(scene={"aspectmode": "data", "xaxis": {"visible": False}, "yaxis": {"visible": False},
                             "zaxis": {"visible": False},
                             "camera": {"eye": {"x": 1.3, "y": -1.8, "z": 1.4}}}, showlegend=False)
    return _layout(fig, f"{building.name} in 3D, zones by {metric}", height=600)


@lru_cache(maxsize=4096)
def _extruded(wkb: bytes, z0: float, height: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Vertices and faces of a polygon (WKB) extruded from ``z0`` by ``height`` [m]; kept, as the geometry repeats."""
    from shapely import wkb as shapely_wkb

    from geometry.mesh import extrude

    m = extrude(shapely_wkb.loads(wkb), z0, height)
    return None if m is None else (np.asarray(m.vertices), np.asarray(m.faces))


def kpi_bars(kpis: Mapping[str, Mapping[str, float]], names: Sequence[str]) -> go.Figure:
    """Selected KPIs of several runs side by side: a 2-column grid of panels, one coloured bar per run."""
    import plotly.graph_objects as go
    from plotly.colors import qualitative
    from plotly.subplots import make_subplots

    runs = list(kpis)
    cols = 2
    rows = max(1, -(-len(names) // cols))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=list(names), vertical_spacing=0.18)
    for k, name in enumerate(names):
        for i, run in enumerate(runs):
            fig.add_trace(go.Bar(x=[run], y=[kpis[run].get(name, np.nan)], name=run, legendgroup=run,
                                 showlegend=k == 0, marker_color=qualitative.Plotly[i % len(qualitative.Plotly)]),
                          row=k // cols + 1, col=k % cols + 1)
    fig.update_xaxes(showticklabels=False)
    return _layout(fig, "KPIs by run", height=220 * rows + 80)


def kpi_table(kpis: Mapping[str, Mapping[str, float]]) -> list[dict[str, str]]:
    """Rows of the side-by-side KPI table: each KPI, its value per run and the difference to the first run."""
    runs = list(kpis)
    if not runs:
        return []
    base = runs[0]
    names = [k for k in kpis[base] if isinstance(kpis[base][k], int | float)]
    rows = []
    for k in names:
        row = {"kpi": k}
        for r in runs:
            v = kpis[r].get(k)
            row[r] = "-" if v is None else f"{v:,.3g}"
            if r != base and v is not None:
                d = float(v) - float(kpis[base][k])
                row[f"{r} − {base}"] = f"{d:+,.3g}"
        rows.append(row)
    return rows


def evacuation_bars(times: Mapping[str, Mapping[str, float]]) -> go.Figure:
    """Evacuation time [s] per floor, one bar group per run (run -> floor -> seconds)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for run, per_floor in times.items():
        fig.add_trace(go.Bar(x=list(per_floor), y=list(per_floor.values()), name=run))
    fig.update_layout(barmode="group")
    fig.update_xaxes(title_text="floor")
    fig.update_yaxes(title_text="last person out [s]")
    return _layout(fig, "evacuation time per floor", height=320)


def wait_bars(waits: Mapping[str, Mapping[str, WaitStats]]) -> go.Figure:
    """Waits in queue per service, one bar group per run (run -> service -> its :class:`WaitStats`).

    Bars are the mean wait [s]; a mark on each bar is the 90th percentile; the hover adds served
    and gave up. Services a run has no waits for are left out of its group.
    """
    import plotly.graph_objects as go
    from plotly.colors import qualitative

    fig = go.Figure()
    for i, (run, per) in enumerate(waits.items()):
        names = sorted(per)
        colour = qualitative.Plotly[i % len(qualitative.Plotly)]
        text = [f"{run}<br>{s}: mean {per[s].mean_s:.0f} s, p90 {per[s].p90_s:.0f} s, served {per[s].served}, "
                f"gave up {per[s].gave_up}" for s in names]
        fig.add_trace(go.Bar(x=names, y=[per[s].mean_s for s in names], name=run, marker_color=colour,
                             legendgroup=run, hovertext=text, hoverinfo="text", offsetgroup=str(i)))
        fig.add_trace(go.Scatter(x=names, y=[per[s].p90_s for s in names], mode="markers", name=f"{run} p90",
                                 legendgroup=run, showlegend=False, hovertext=text, hoverinfo="text",
                                 marker={"symbol": "line-ew-open", "size": 18, "color": "#000"}))
    fig.update_layout(barmode="group", scattermode="group")
    fig.update_xaxes(title_text="service")
    fig.update_yaxes(title_text="wait in queue [s]")
    return _layout(fig, "waits per service: mean (bars) and 90th percentile (marks)", height=340)


def series_by_run(series: Mapping[str, pd.DataFrame], *, title: str, unit: str) -> go.Figure:
    """One line per run of a time series with columns ``time`` [s since the day's start] and ``value``."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for run, df in series.items():
        fig.add_trace(go.Scatter(x=df["time"].to_numpy(float) / 3600.0, y=df["value"], mode="lines", name=run))
    fig.update_xaxes(title_text="hour of day")
    fig.update_yaxes(title_text=unit)
    return _layout(fig, title, height=300)


def branch_bars(table: pd.DataFrame, indicator: str, *, unit: str = "") -> go.Figure:
    """One indicator compared across branches, highest first (table columns ``branch`` and the indicator)."""
    import plotly.graph_objects as go

    t = table.sort_values(indicator, ascending=False)
    fig = go.Figure(go.Bar(x=t["branch"], y=t[indicator], marker_color="#8e44ad",
                           text=[f"{v:,.3g}" for v in t[indicator]], textposition="outside"))
    fig.update_yaxes(title_text=unit or indicator)
    return _layout(fig, f"{indicator} by branch", height=300)


def device_status_bars(devices: Sequence[DeviceHealth]) -> go.Figure:
    """Devices per type, stacked by status (online, flagged, offline, unknown)."""
    import plotly.graph_objects as go

    types = sorted({d.type for d in devices})
    fig = go.Figure()
    for status in ("online", "flagged", "offline", "unknown"):
        counts = [sum(1 for d in devices if d.type == t and d.status == status) for t in types]
        if any(counts):
            fig.add_trace(go.Bar(x=types, y=counts, name=status, marker_color=HEALTH_COLOURS[status]))
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title_text="devices")
    return _layout(fig, "device health by type", height=300)


__all__ = ["CO2_SCALE", "DAY_TODAY_TRACE", "HEALTH_COLOURS", "OCCUPANCY_SCALE", "branch_bars", "building_3d",
           "day_profile", "device_status_bars", "evacuation_bars", "floor_plan", "floor_plan_zone_updates", "kpi_bars",
           "kpi_table", "occupancy_colour", "queue_bars", "scale_colour", "series_by_run", "today_xy",
           "wait_bars"]
