"""The live part of ``smartlib demo``: a hub running in this process, fed by the built-ins' virtual devices.

A private broker (Mosquitto; the embedded amqtt broker only where Mosquitto is missing or when
forced), the ingest into a DuckDB store, and the Dash app on http://127.0.0.1:8050. Each built-in
branch lives through a simulated day whose virtual-sensor telemetry is published over MQTT on an
accelerated clock (60x by default), as its devices would. The day is moved onto today's date:
readings before ``start_hour`` are stored at once as the morning so far, yesterday gets the same
day one day earlier (so the Live page has something to compare with), and the rest arrives live.
The demo's clock runs ``speed`` times faster than the wall clock; the ingest accepts readings
that far ahead and the dashboard shows the demo's "now".

The hub (:class:`twin.hub.Hub`: ingest and twins in this process) rebuilds the twins from that
history, then follows what the devices send. Ctrl-C (or ``duration_s``) stops the replay, lets
the ingest commit what it received, stops the hub, the broker and the web server, and closes
the store.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

DEFAULT_PORT = 8050


@dataclass(frozen=True)
class LiveDemoResult:
    """What the live demo did.

    Parameters
    ----------
    url
        Where the dashboard was served.
    broker
        The broker URL and kind (``mosquitto`` or ``embedded``).
    published
        Readings published over MQTT.
    stored
        Readings in the store at the end (history written directly included).
    history
        Readings written directly as yesterday and the morning so far.
    rejected
        Readings the ingest refused.
    store_path
        The DuckDB file.
    """

    url: str
    broker: str
    broker_kind: str
    published: int
    stored: int
    history: int
    rejected: int
    store_path: Path


def branch_days(out_dir: Path, *, seed: int, reuse: dict[str, Path] | None = None,
                progress: Callable[[str], None] | None = None,
                stop: threading.Event | None = None) -> dict[str, pa.Table]:
    """A simulated day's telemetry of every built-in branch (``reuse``: branch -> results folder already made).

    Stops early (returning what it has) when ``stop`` is set between branches.
    """
    from telemetry import load_telemetry

    from . import app
    from .scenarios import builtin_files

    out: dict[str, pa.Table] = {}
    for name in builtin_files():
        loaded = app.load(name)
        branch = loaded.branch
        if stop is not None and stop.is_set():
            break
        if reuse and branch in reuse and (reuse[branch] / "telemetry.parquet").is_file():
            out[branch] = load_telemetry(reuse[branch])
            continue
        if progress is not None:
            progress(f"simulating a day at {branch}")
        # the hub's feed needs each branch's telemetry, not who met whom: the quick screening walker
        day = app.run_library_day(loaded, seed=seed, walker="grid")
        day.write(out_dir / branch)
        out[branch] = load_telemetry(out_dir / branch)
    return out


def local_midnight(t: float, timezone: str) -> float:
    """The midnight before ``t`` [UTC epoch s] in ``timezone`` (an IANA name), as UTC epoch seconds."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    local = dt.datetime.fromtimestamp(t, ZoneInfo(timezone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def onto_today(table: pa.Table, today_midnight: float, timezone: str = "UTC") -> pa.Table:
    """The table with its times moved by whole days so its first local day starts at ``today_midnight``.

    ``today_midnight`` is a local midnight in ``timezone`` [UTC epoch s].
    """
    t = table.column("time").to_numpy()
    day0 = local_midnight(float(t.min()), timezone)
    shift = round((today_midnight - day0) / 86_400.0) * 86_400.0
    return table.set_column(table.schema.get_field_index("time"), "time", pc.add(table.column("time"), shift))


def split_at(table: pa.Table, t: float) -> tuple[pa.Table, pa.Table]:
    """Rows before ``t`` and rows from ``t`` on, each sorted by time."""
    times = table.column("time")
    before = table.filter(pc.less(times, t)).sort_by("time")
    after = table.filter(pc.greater_equal(times, t)).sort_by("time")
    return before, after


def shift_days(table: pa.Table, days: float) -> pa.Table:
    """The table ``days`` days later (earlier when negative)."""
    return table.set_column(table.schema.get_field_index("time"), "time",
                            pc.add(table.column("time"), days * 86_400.0))


def as_day_before(table: pa.Table) -> pa.Table:
    """The same day one day earlier, its cumulative energy counters lowered by the day's increase.

    So the counters run on without a step back at midnight (an energy meter never goes backwards).
    """
    df = shift_days(table, -1.0).to_pandas()
    energy = df["quantity"] == "energy"
    if energy.any():
        grown = df[energy].groupby("device")["value"].agg(lambda v: v.max() - v.min())
        df.loc[energy, "value"] = df.loc[energy, "value"] - df.loc[energy, "device"].map(grown)
    return pa.Table.from_pandas(df, schema=table.schema, preserve_index=False)


class DemoClock:
    """Simulated time running ``speed`` times faster than the wall clock from ``t0`` [UTC epoch s]."""

    def __init__(self, t0: float, speed: float) -> None:
        self.t0 = t0
        self.speed = speed
        self.wall0 = time.time()

    def restart(self) -> None:
        self.wall0 = time.time()

    def __call__(self) -> float:
        return self.t0 + (time.time() - self.wall0) * self.speed


def serve(app: Any, host: str, port: int) -> tuple[Any, threading.Thread]:
    """Serve a Dash app with werkzeug in a thread; returns the server (``shutdown()`` stops it) and the thread.

    ``port`` 0 takes any free port (``server.server_port`` says which).

    Raises
    ------
    telemetry.errors.TelemetryError
        When the address cannot be bound (the port taken meanwhile, an address not of this machine).
    """
    import logging

    from werkzeug.serving import make_server

    from telemetry.errors import TelemetryError

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request on the demo's console
    try:
        server = make_server(host, port, app.server, threaded=True)
    except (OSError, SystemExit) as exc:  # werkzeug exits when the port is taken
        raise TelemetryError(f"cannot serve the dashboard on {host}:{port}: "
                             f"{exc.strerror if isinstance(exc, OSError) else 'the port is in use'}; "
                             f"stop what runs there or give another --port (0: any free port)") from None
    thread = threading.Thread(target=server.serve_forever, name="dashboard-http", daemon=True)
    thread.start()
    return server, thread


def run_live_demo(out_dir: Path, *, console: Any, speed: float = 60.0, duration_s: float | None = None,
                  embedded: bool = False, port: int = DEFAULT_PORT, seed: int = 1, start_hour: float = 10.0,
                  reuse: dict[str, Path] | None = None, stop: threading.Event | None = None) -> LiveDemoResult:
    """Run the live hub until Ctrl-C, ``stop`` or ``duration_s`` [s] of live time; see the module docstring.

    Raises
    ------
    telemetry.errors.TelemetryError
        When the broker or the store cannot start, or the port is taken (message names it).
    """
    from dashboard.app import create_app
    from dashboard.data import HubData
    from telemetry import IngestConfig, Limits, open_store, replay
    from telemetry.broker import EmbeddedBroker, broker_from_options, port_is_free
    from telemetry.errors import TelemetryError
    from telemetry.ingest import stop_on_signals

    from .hub import Hub, HubConfig
    from .registry import TwinRegistry
    from .scenarios import builtin_dir

    if not speed > 0:
        raise TelemetryError(f"--speed must be positive, got {speed}")
    if duration_s is not None and not duration_s > 0:
        raise TelemetryError(f"--duration must be positive, got {duration_s}")
    if port and not port_is_free("127.0.0.1", port):  # 0 takes any free port once the app is served
        raise TelemetryError(f"port {port} on 127.0.0.1 is in use: stop what runs there or give --port "
                             f"(0: any free port)")
    out_dir.mkdir(parents=True, exist_ok=True)
    store_path = (out_dir / "live.duckdb").resolve()
    for p in (store_path, store_path.with_suffix(".duckdb.wal")):
        p.unlink(missing_ok=True)
    results_dir = out_dir / "results"
    results_dir.mkdir(exist_ok=True)

    registry = TwinRegistry.from_dir(builtin_dir())
    tz = sorted({t.inputs.timezone for t in registry})[0]  # the built-ins share one time zone; the clock follows it
    now = time.time()
    today = local_midnight(now, tz)
    t_live = today + start_hour * 3600.0
    clock = DemoClock(t_live, speed)
    broker = broker_from_options(embedded=embedded, persistence=False).start()
    kind = "embedded" if isinstance(broker, EmbeddedBroker) else "mosquitto"
    store = open_store(str(store_path))
    stop_event_ref: list[threading.Event] = []
    server = None
    hub = None
    published = history = 0
    try:
        data = HubData(registry=registry, store_url=str(store_path), results_dir=results_dir, clock=clock)
        app = create_app(data, cache_dir=out_dir / "cache")
        server, _thread = serve(app, "127.0.0.1", port)
        port = int(server.server_port)
        url = f"http://127.0.0.1:{port}"
        with stop_on_signals(stop) as stop_event:
            stop_event_ref.append(stop_event)
            console.print(f"5. the hub: dashboard on [bold]{url}[/] (broker {broker.url}, {kind}; store "
                          f"{store_path}); Ctrl-C stops it", highlight=False)
            tables = branch_days(out_dir / "days", seed=seed, reuse=reuse, stop=stop_event,
                                 progress=lambda text: console.print(f"   {text}", highlight=False))
            if stop_event.is_set():
                raise KeyboardInterrupt
            moved = {b: onto_today(t, today, tz) for b, t in tables.items()}
            live_parts = []
            for t in moved.values():
                morning, rest = split_at(t, t_live)
                earlier = pa.concat_tables([as_day_before(t), morning])
                store.write_readings(earlier)
                history += earlier.num_rows
                live_parts.append(rest)
            live = pa.concat_tables(live_parts).sort_by("time")
            # the hub rebuilds its twins from that history, then ingests what the devices send; the demo
            # clock runs ahead of the wall clock by up to a simulated day
            hub = Hub(registry=registry, store_url=str(store_path), broker=broker.settings,
                      config=HubConfig(clock="data", reorder_s=60.0, rebuild_s=3 * 86_400.0),
                      ingest_config=IngestConfig(client_id=f"smartlib-demo-live-{int(now)}", session_expiry_s=0,
                                                 limits=Limits(max_future_s=2 * 86_400.0, max_past_s=3 * 86_400.0)))
            hub.start()
            console.print(f"   {len(moved)} branches: {history:,} readings of yesterday and this morning stored; "
                          f"{live.num_rows:,} to come live at {speed:g}x (the demo clock starts at "
                          f"{start_hour:02.0f}:00 {tz})", highlight=False)
            stats: list[Any] = []

            def publish() -> None:
                stats.append(replay(live, broker.settings, speed=speed, keep_times=True, qos=1, stop=stop_event,
                                    client_prefix="demo-"))

            clock.restart()
            pub = threading.Thread(target=publish, name="demo-devices", daemon=True)
            pub.start()
            deadline = None if duration_s is None else time.monotonic() + duration_s
            while not stop_event.wait(0.5):
                if deadline is not None and time.monotonic() >= deadline:
                    break
                if not hub.running:
                    raise TelemetryError(f"the hub stopped: {hub.stats().error}")
            stop_event.set()
            pub.join(60)
            published = stats[0].records if stats else 0
            # let the ingest commit what the broker already delivered
            settle = time.monotonic() + 20.0
            while time.monotonic() < settle:
                s = hub.ingest_stats()
                if s is None or s.records + s.rejected >= published:
                    break
                time.sleep(0.1)
    except KeyboardInterrupt:
        if stop_event_ref:
            stop_event_ref[0].set()
    finally:
        rejected = 0
        if hub is not None:
            s = hub.ingest_stats()
            hub.stop()
            rejected = s.rejected if s is not None else 0
        if server is not None:
            server.shutdown()
        broker.stop()
        stored = int(store.counts()["records"].sum())
        store.close()
    console.print(f"   stopped: {published:,} readings published live, {stored:,} in the store "
                  f"({history:,} written as history), {rejected:,} rejected", highlight=False)
    return LiveDemoResult(url=f"http://127.0.0.1:{port}", broker=broker.url, broker_kind=kind, published=published,
                          stored=stored, history=history, rejected=rejected, store_path=store_path)


__all__ = ["DemoClock", "LiveDemoResult", "as_day_before", "onto_today", "run_live_demo", "split_at"]
