"""The Dash app of the hub: Live, Building, Scenarios, Branches and Devices pages.

:func:`create_app` builds it around a :class:`~dashboard.data.HubData`; callbacks only fetch
through it and draw with :mod:`dashboard.figures`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import figures
from .data import DAY_QUANTITIES, HubData, simulate_and_save

if TYPE_CHECKING:
    import dash

    from .auth import Login

PAGES = (("/", "Live"), ("/building", "Building"), ("/scenarios", "Scenarios"), ("/branches", "Branches"),
         ("/devices", "Devices"))
PERIODS = {"today": 0, "yesterday": 1, "last 7 days": 7, "last 30 days": 30}
LIVE_INTERVAL_MS = 3_000
NAV_STYLE = {"display": "flex", "gap": "1.5em", "padding": "0.6em 1em", "background": "#2c3e50"}
LINK_STYLE = {"color": "white", "textDecoration": "none", "fontWeight": "bold"}
ROW = {"display": "flex", "gap": "1em", "flexWrap": "wrap", "alignItems": "center"}


def _dropdown(id_: str, options: list[str], value: str | None, width: str = "16em", clearable: bool = False,
              **kw: Any) -> Any:
    from dash import dcc

    return dcc.Dropdown(id=id_, options=[{"label": o, "value": o} for o in options], value=value, clearable=clearable,
                        style={"width": width}, **kw)


def _table(id_: str, **kw: Any) -> Any:
    from dash import dash_table

    return dash_table.DataTable(id=id_, page_size=kw.pop("page_size", 15), sort_action="native",
                                style_table={"overflowX": "auto"},
                                style_cell={"fontFamily": "sans-serif", "fontSize": "13px", "textAlign": "left",
                                            "maxWidth": "420px", "overflow": "hidden", "textOverflow": "ellipsis"},
                                style_header={"fontWeight": "bold"}, **kw)


def live_layout(data: HubData) -> Any:
    from dash import dcc, html

    branches = data.branches()
    floors, first = _floor_options(data, branches[0] if branches else None)
    return html.Div([
        html.Div([html.Span("branch"), _dropdown("live-branch", branches, branches[0] if branches else None),
                  html.Span("floor"), dcc.Dropdown(id="live-floor", options=floors, value=first, clearable=False,
                                                   style={"width": "10em"}),
                  html.Span(id="live-summary", style={"fontWeight": "bold"})], style=ROW),
        html.Div([dcc.Graph(id="live-plan", style={"flex": "3 1 600px"}),
                  html.Div([html.H4("current alerts"), html.Ul(id="live-alerts"),
                            dcc.Graph(id="live-queues")], style={"flex": "2 1 360px"})], style=ROW),
        html.Div([dcc.Graph(id=f"live-{q}", style={"flex": "1 1 460px"}) for q in DAY_QUANTITIES], style=ROW),
        dcc.Interval(id="live-tick", interval=LIVE_INTERVAL_MS),
        dcc.Store(id="live-plan-drawn"), dcc.Store(id="live-day-drawn"),  # what the figures show, for patches
    ])


def building_layout(data: HubData) -> Any:
    from dash import dcc, html

    branches = data.branches()
    return html.Div([
        html.Div([html.Span("branch"), _dropdown("b3d-branch", branches, branches[0] if branches else None),
                  dcc.RadioItems(id="b3d-metric", options=["occupancy", "CO2"], value="occupancy", inline=True),
                  dcc.Checklist(id="b3d-floors", options=[], value=[], inline=True)], style=ROW),
        dcc.Graph(id="b3d-graph", style={"height": "640px"}),
    ])


def scenarios_layout(data: HubData) -> Any:
    from dash import dcc, html

    branches = data.branches()
    runs = [r.label for r in data.saved_runs()]
    return html.Div([
        html.H3("run a simulation"),
        html.Div([html.Span("branch"), _dropdown("sc-branch", branches, branches[0] if branches else None),
                  html.Span("variant"), _dropdown("sc-variant", [], None, width="14em"),
                  html.Span("seed"), dcc.Input(id="sc-seed", type="number", value=1, min=0, style={"width": "5em"}),
                  html.Button("run", id="sc-run"), html.Button("cancel", id="sc-cancel", disabled=True),
                  html.Progress(id="sc-progress", value="0", max="3"), html.Span(id="sc-status")], style=ROW),
        html.H3("what-if from now"),
        html.Div([html.Span("the chosen branch and variant, forked from the live state for"),
                  dcc.Input(id="wi-hours", type="number", value=2, min=0.25, max=12, step=0.25,
                            style={"width": "5em"}), html.Span("h (3 replications each)"),
                  html.Button("run what-if", id="wi-run"), html.Progress(id="wi-progress", value="0", max="6"),
                  html.Span(id="wi-status")], style=ROW),
        _table("wi-table", page_size=20),
        html.H3("compare saved results"),
        html.Div([dcc.Dropdown(id="sc-runs", options=runs, value=runs[:2], multi=True, style={"minWidth": "40em"}),
                  html.Button("export report", id="sc-export"), html.Span(id="sc-export-status")], style=ROW),
        _table("sc-kpis", page_size=40),
        html.Div(id="sc-figures", style=ROW),
    ])


def branches_layout(data: HubData) -> Any:
    from dash import dcc, html

    from twin.indicators import INDICATORS

    return html.Div([
        html.Div([html.Span("period"), _dropdown("br-period", list(PERIODS), "today"),
                  html.Span("chart"), dcc.Dropdown(id="br-indicator", value="visits", clearable=False,
                                                   options=[{"label": f"{label} ({unit})", "value": key}
                                                            for key, label, unit, _ in INDICATORS],
                                                   style={"width": "22em"}),
                  html.Span(id="br-status")], style=ROW),
        _table("br-table", page_size=20),
        dcc.Graph(id="br-chart"),
    ])


def devices_layout(data: HubData) -> Any:
    from dash import dcc, html

    branches = data.branches()
    return html.Div([
        html.Div([html.Span("branch"), _dropdown("dev-branch", branches, branches[0] if branches else None),
                  html.Span("status"), dcc.Checklist(id="dev-status", options=["online", "flagged", "offline",
                                                                                 "unknown"],
                                                     value=["online", "flagged", "offline", "unknown"], inline=True)],
                 style=ROW),
        html.Div([_table("dev-table", page_size=12, style_data_conditional=[
            {"if": {"filter_query": f"{{status}} = {s}", "column_id": "status"}, "color": c, "fontWeight": "bold"}
            for s, c in figures.HEALTH_COLOURS.items()])], style={"marginBottom": "1em"}),
        dcc.Graph(id="dev-bars"),
        html.H3("dead letters"),
        html.Div([html.Span("reason"), _dropdown("dev-reason", [], None, width="20em", clearable=True)], style=ROW),
        _table("dev-dead", page_size=10, filter_action="native"),
    ])


def _routes(data: HubData) -> dict[str, Any]:
    return {"/": live_layout, "/building": building_layout, "/scenarios": scenarios_layout,
            "/branches": branches_layout, "/devices": devices_layout}


def create_app(data: HubData, *, login: Login | None = None, background: bool = True,
               cache_dir: Path | None = None, warm: bool = True) -> dash.Dash:
    """The Dash app of the hub.

    Parameters
    ----------
    data
        Where the app reads (store, scenarios, results, live states).
    login
        Required credentials (see :mod:`dashboard.auth`); None serves without a login (loopback).
    background
        Run simulations from the Scenarios page as background callbacks with progress (in threads of
        this process, one at a time: :mod:`dashboard.jobs`);
        False runs them in the request (tests of the pages without a worker).
    cache_dir
        Folder of the background callbacks' disk cache (a temporary one when None).
    warm
        Fill ``data``'s caches (busiest times, yesterday's curves, 3D meshes) in a background
        thread, so the first visit of a page does not compute them.
    """
    import threading

    import dash
    from dash import Input, Output, dcc, html

    warmed = threading.Event()  # set once the warm-up thread (if any) is done
    if not warm:
        warmed.set()
    manager = None
    if background:
        import tempfile

        import diskcache

        from .jobs import threaded_manager

        cache = diskcache.Cache(str(cache_dir or tempfile.mkdtemp(prefix="smartlib-dash-")))
        manager = threaded_manager(cache, ready=warmed)
    app = dash.Dash(__name__, title="Smartlib hub", suppress_callback_exceptions=True,
                    background_callback_manager=manager, update_title=None)
    if login is not None:
        from .auth import protect

        protect(app.server, login)
    routes = _routes(data)
    app.layout = html.Div([
        dcc.Location(id="url"),
        html.Nav([html.Span("Smartlib hub", style={**LINK_STYLE, "color": "#f1c40f"})]
                 + [dcc.Link(name, href=path, style=LINK_STYLE, id=f"nav-{name.lower()}") for path, name in PAGES],
                 style=NAV_STYLE),
        html.Div(id="page", style={"padding": "0.5em 1em", "fontFamily": "sans-serif"}),
    ])

    @app.callback(Output("page", "children"), Input("url", "pathname"))
    def show_page(path: str | None) -> Any:
        make = routes.get(path or "/")
        if make is None:
            return html.Div([html.H3("no such page"), html.P(f"{path}: try one of the links above")])
        return make(data)

    _live_callbacks(app, data)
    _building_callbacks(app, data)
    _scenario_callbacks(app, data, background=background)
    _branch_callbacks(app, data)
    _device_callbacks(app, data)
    if warm:
        def warm_up() -> None:
            try:
                data.warm_up()
            finally:
                warmed.set()

        threading.Thread(target=warm_up, name="dashboard-warm-up", daemon=True).start()
    return app


def _local(t: float, timezone: str) -> str:
    import datetime as dt
    from zoneinfo import ZoneInfo

    return dt.datetime.fromtimestamp(t, ZoneInfo(timezone)).strftime(f"%H:%M:%S ({timezone})")


def _floor_options(data: HubData, branch: str | None) -> tuple[list[dict[str, str]], str | None]:
    if not branch:
        return [], None
    floors = data.building(branch).floors
    return [{"label": f.name or f.id, "value": f.id} for f in floors], floors[0].id


def _live_callbacks(app: Any, data: HubData) -> None:
    from dash import Input, Output, Patch, State, ctx, html, no_update

    @app.callback(Output("live-floor", "options"), Output("live-floor", "value"), Input("live-branch", "value"))
    def live_floors(branch: str | None) -> Any:
        return _floor_options(data, branch)

    @app.callback(Output("live-plan", "figure"), Output("live-summary", "children"), Output("live-alerts", "children"),
                  Output("live-queues", "figure"), Output("live-plan-drawn", "data"), Input("live-branch", "value"),
                  Input("live-floor", "value"), Input("live-tick", "n_intervals"), State("live-plan-drawn", "data"))
    def live_now(branch: str | None, floor: str | None, _tick: int | None, drawn: str | None) -> Any:
        if not branch or not floor:
            return no_update, "", [], no_update, no_update
        building = data.building(branch)
        if floor not in {f.id for f in building.floors}:
            return no_update, "", [], no_update, no_update
        state = data.state(branch)
        seats = data.seats(building, state)
        summary = (f"{state.occupancy:.0f} ± {state.occupancy_std:.0f} persons of {state.capacity} · "
                   f"{state.power_w.get('total', 0.0) / 1000:.1f} kW · {state.readings:,} readings applied · "
                   f"at {_local(state.time, data.timezone(branch))}")
        alerts = [html.Li(a.message or f"{a.kind} {a.subject}") for a in state.alerts] or [html.Li("none")]
        queues = figures.queue_bars(state.queues)
        if ctx.triggered_id == "live-tick" and drawn == f"{branch}/{floor}":  # the zones' colours and texts only
            patch = Patch()
            for i, colour, text in figures.floor_plan_zone_updates(building, floor, state.zones):
                patch["data"][i]["fillcolor"] = colour
                patch["data"][i]["text"] = text
            return patch, summary, alerts, queues, no_update
        plan = figures.floor_plan(building, floor, state.zones, state.devices, seats)
        return plan, summary, alerts, queues, f"{branch}/{floor}"

    @app.callback([Output(f"live-{q}", "figure") for q in DAY_QUANTITIES], Output("live-day-drawn", "data"),
                  Input("live-branch", "value"), Input("live-tick", "n_intervals"), State("live-day-drawn", "data"))
    def day_curves(branch: str | None, _tick: int | None, drawn: str | None) -> Any:
        if not branch:
            return [no_update] * (len(DAY_QUANTITIES) + 1)
        midnight = data.midnight(branch)
        today = {q: data.day_series(branch, q) for q in DAY_QUANTITIES}
        if ctx.triggered_id == "live-tick" and drawn == f"{branch}@{midnight}":  # only today's line moves
            patches = []
            for q in DAY_QUANTITIES:
                patch = Patch()
                xy = figures.today_xy(today[q], midnight)
                patch["data"][figures.DAY_TODAY_TRACE]["x"] = xy["x"]
                patch["data"][figures.DAY_TODAY_TRACE]["y"] = xy["y"]
                patches.append(patch)
            return [*patches, no_update]
        label, busiest = data.busiest_band(branch)
        out = []
        for q, (title, unit, _agg) in DAY_QUANTITIES.items():
            band = busiest if q == "occupancy" else None  # busiest times are of people
            out.append(figures.day_profile(today[q], data.day_series(branch, q, day=1),
                                           title=f"{title}: today and yesterday", unit=unit, busiest=band,
                                           busiest_label=label, day_start=midnight, timezone=data.timezone(branch)))
        return [*out, f"{branch}@{midnight}"]


def _building_callbacks(app: Any, data: HubData) -> None:
    from dash import Input, Output, no_update

    @app.callback(Output("b3d-floors", "options"), Output("b3d-floors", "value"), Input("b3d-branch", "value"))
    def floors(branch: str | None) -> Any:
        opts, _ = _floor_options(data, branch)
        return opts, [o["value"] for o in opts]

    @app.callback(Output("b3d-graph", "figure"), Input("b3d-branch", "value"), Input("b3d-metric", "value"),
                  Input("b3d-floors", "value"))
    def model(branch: str | None, metric: str, shown: list[str] | None) -> Any:
        if not branch:
            return no_update
        state = data.state(branch)
        if metric == "CO2":
            values = {z.zone: z.co2_ppm for z in state.zones if z.co2_ppm is not None}
            return figures.building_3d(data.building(branch), values, floors=shown, metric="CO2 ppm",
                                       scale=figures.CO2_SCALE)
        values = {z.zone: z.occupancy_ratio for z in state.zones}
        return figures.building_3d(data.building(branch), values, floors=shown, metric="occupancy ratio")


def _scenario_callbacks(app: Any, data: HubData, *, background: bool) -> None:
    from dash import Input, Output, State, dcc

    from .report import comparison_report, evacuation_times, occupancy_series, run_label, wait_stats

    @app.callback(Output("sc-variant", "options"), Output("sc-variant", "value"), Input("sc-branch", "value"))
    def variants(branch: str | None) -> Any:
        if not branch:
            return [], None
        names = ["(base)", *data.variants(branch)]
        return [{"label": n, "value": n} for n in names], "(base)"

    def run(set_progress: Any, branch: str, variant: str | None, seed: int | None) -> Any:
        v = None if variant in (None, "(base)") else variant
        label = f"{branch}-{v or 'base'}-seed{int(seed or 0)}-{time.strftime('%H%M%S')}"

        def tell(i: int, n: int, text: str) -> None:
            if set_progress is not None:
                set_progress((str(i), f"{label}: {text}"))

        simulate_and_save(data.sources[branch], v, seed=int(seed or 0), out_dir=data.results_dir / label,
                          progress=tell)
        runs = [r.label for r in data.saved_runs()]
        return f"saved {label}", runs, [label, *[r for r in runs if r != label][:1]]

    outputs = [Output("sc-status", "children", allow_duplicate=True), Output("sc-runs", "options"),
               Output("sc-runs", "value")]
    inputs = [Input("sc-run", "n_clicks"), State("sc-branch", "value"), State("sc-variant", "value"),
              State("sc-seed", "value")]
    if background:
        @app.callback(*outputs, *inputs, background=True, prevent_initial_call=True,
                      running=[(Output("sc-run", "disabled"), True, False),
                               (Output("sc-cancel", "disabled"), False, True)],
                      progress=[Output("sc-progress", "value"), Output("sc-status", "children")],
                      cancel=[Input("sc-cancel", "n_clicks")])
        def run_background(set_progress: Any, _n: int | None, branch: str, variant: str | None,
                           seed: int | None) -> Any:
            return run(set_progress, branch, variant, seed)
    else:
        @app.callback(*outputs, *inputs, prevent_initial_call=True)
        def run_inline(_n: int | None, branch: str, variant: str | None, seed: int | None) -> Any:
            return run(None, branch, variant, seed)

    def whatif_now(set_progress: Any, branch: str, variant: str | None, hours: float | None) -> Any:
        from twin.whatif import forecast_table

        v = None if variant in (None, "(base)") else variant

        def tell(done: int, total: int) -> None:
            if set_progress is not None:
                set_progress((str(done), f"run {done} of {total}"))

        try:
            result = data.whatif_now(branch, v, horizon_s=float(hours or 2) * 3600.0, on_run=tell)
        except ValueError as exc:
            return f"cannot fork from now: {exc}", [], []
        cols, rows = forecast_table(result)
        note = (f"{branch}{' with ' + v if v else ''}: {result.replications} replications from "
                f"{result.start_s / 3600:.2f} h to {result.end_s / 3600:.2f} h (local), mean ± "
                f"{result.level:.0%} interval")
        return note, [dict(zip(cols, r, strict=True)) for r in rows], [{"name": c, "id": c} for c in cols]

    wi_out = [Output("wi-status", "children", allow_duplicate=True), Output("wi-table", "data"),
              Output("wi-table", "columns")]
    wi_in = [Input("wi-run", "n_clicks"), State("sc-branch", "value"), State("sc-variant", "value"),
             State("wi-hours", "value")]
    if background:
        @app.callback(*wi_out, *wi_in, background=True, prevent_initial_call=True,
                      running=[(Output("wi-run", "disabled"), True, False)],
                      progress=[Output("wi-progress", "value"), Output("wi-status", "children")])
        def whatif_background(set_progress: Any, _n: int | None, branch: str, variant: str | None,
                              hours: float | None) -> Any:
            return whatif_now(set_progress, branch, variant, hours)
    else:
        @app.callback(*wi_out, *wi_in, prevent_initial_call=True)
        def whatif_inline(_n: int | None, branch: str, variant: str | None, hours: float | None) -> Any:
            return whatif_now(None, branch, variant, hours)

    def chosen(labels: list[str] | None) -> list[Any]:
        by = {r.label: r for r in data.saved_runs()}
        return [by[x] for x in labels or [] if x in by]

    @app.callback(Output("sc-kpis", "data"), Output("sc-kpis", "columns"), Output("sc-figures", "children"),
                  Input("sc-runs", "value"))
    def compare(labels: list[str] | None) -> Any:
        runs = chosen(labels)
        if not runs:
            return [], [], []
        kpis = {run_label(r): r.kpis for r in runs}
        rows = figures.kpi_table(kpis)
        cols = [{"name": c, "id": c} for c in (rows[0] if rows else {"kpi": ""})]
        graphs = [dcc.Graph(id="sc-kpi-bars", style={"flex": "1 1 600px"}, figure=figures.kpi_bars(
            kpis, ["visits", "peak_occupancy", "seat_occupancy_rate", "energy_total_kwh"]))]
        evac = {run_label(r): t for r in runs if (t := evacuation_times(r)) is not None}
        if evac:  # only runs with an evacuation have times per floor
            graphs.append(dcc.Graph(id="sc-evac", style={"flex": "1 1 420px"}, figure=figures.evacuation_bars(evac)))
        occ = {run_label(r): s for r in runs if (s := occupancy_series(r)) is not None}
        if occ:
            graphs.append(dcc.Graph(id="sc-occupancy", style={"flex": "1 1 100%"}, figure=figures.series_by_run(
                occ, title="persons in the building", unit="persons")))
        waits = {run_label(r): w for r in runs if (w := wait_stats(r))}
        if waits:
            graphs.append(dcc.Graph(id="sc-waits", style={"flex": "1 1 100%"}, figure=figures.wait_bars(waits)))
        return rows, cols, graphs

    @app.callback(Output("sc-export-status", "children"), Input("sc-export", "n_clicks"), State("sc-runs", "value"),
                  prevent_initial_call=True)
    def export(_n: int | None, labels: list[str] | None) -> Any:
        runs = chosen(labels)
        if not runs:
            return "choose results to compare first"
        out = data.results_dir / f"report-{time.strftime('%Y%m%d-%H%M%S')}.html"
        out.write_text(comparison_report(runs), encoding="utf-8")
        return f"report written: {out}"


def _branch_callbacks(app: Any, data: HubData) -> None:
    from dash import Input, Output, no_update

    @app.callback(Output("br-table", "data"), Output("br-table", "columns"), Output("br-chart", "figure"),
                  Output("br-status", "children"), Input("br-period", "value"), Input("br-indicator", "value"))
    def table(period: str, indicator: str) -> Any:
        from twin.errors import UserError
        from twin.evaluate import ranking_table
        from twin.indicators import INDICATORS

        try:
            ev = data.evaluation(PERIODS.get(period, 0))
        except UserError as exc:
            return [], [], no_update, str(exc)
        cols, rows = ranking_table(ev)
        frame = ev.to_frame()
        unit = next((u for k, _, u, _ in INDICATORS if k == indicator), "")
        note = f"{ev.period}, ranked by mean rank (1 = best)"
        if ev.without_readings:
            note += f"; no readings: {', '.join(ev.without_readings)}"
        return ([dict(zip(cols, r, strict=True)) for r in rows], [{"name": c, "id": c} for c in cols],
                figures.branch_bars(frame, indicator, unit=unit), note)


def _device_callbacks(app: Any, data: HubData) -> None:
    from dash import Input, Output

    @app.callback(Output("dev-table", "data"), Output("dev-table", "columns"), Output("dev-bars", "figure"),
                  Input("dev-branch", "value"), Input("dev-status", "value"))
    def health(branch: str | None, statuses: list[str] | None) -> Any:
        if not branch:
            return [], [], figures.device_status_bars([])
        state = data.state(branch)
        now = state.time
        keep = set(statuses or [])
        rows = [{"device": d.device, "type": d.type, "floor": d.floor, "zone": d.zone or "", "status": d.status,
                 "last seen s ago": "-" if d.last_seen is None else f"{now - d.last_seen:,.0f}",
                 "reason": d.reason, "flags": ", ".join(d.flags)}
                for d in state.devices if d.status in keep]
        cols = [{"name": c, "id": c} for c in ("device", "type", "floor", "zone", "status", "last seen s ago",
                                               "reason", "flags")]
        return rows, cols, figures.device_status_bars(state.devices)

    @app.callback(Output("dev-reason", "options"), Input("dev-branch", "value"))
    def reasons(branch: str | None) -> Any:
        counts = data.rejection_counts()
        if branch:
            counts = counts[counts["branch"].isin([branch, ""])]
        return sorted(set(counts["reason"]))

    @app.callback(Output("dev-dead", "data"), Output("dev-dead", "columns"), Input("dev-branch", "value"),
                  Input("dev-reason", "value"))
    def dead(branch: str | None, reason: str | None) -> Any:
        df = data.dead_letters(None, reason)
        if branch:
            df = df[df["branch"].isin([branch, None, ""]) | df["branch"].isna()]
        rows = [{"received (UTC)": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r.received)), "topic": r.topic,
                 "device": r.device or "", "reason": r.reason, "detail": r.detail,
                 "payload": bytes(r.payload[:160]).decode("utf-8", "replace")} for r in df.itertuples()]
        cols = [{"name": c, "id": c} for c in ("received (UTC)", "topic", "device", "reason", "detail", "payload")]
        return rows, cols


__all__ = ["PAGES", "create_app"]
