"""``smartlib dashboard``: the hub's Dash app for a real deployment, and ``smartlib report``.

The app shows the twins of a :class:`~twin.hub.Hub`: given a broker, the hub ingests into the
store in this process; without one it follows what an ingest elsewhere commits to the store.
On 127.0.0.1 it needs no login; on any other address a password from the environment or a file
is required (see :mod:`dashboard.auth`).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any


def serve_dashboard(*, store_url: str, console: Any, broker_url: str | None = None,
                    scenarios: Path | None = None, results_dir: Path = Path("out/results"),
                    host: str = "127.0.0.1", port: int = 8050, password_file: Path | None = None,
                    stop: threading.Event | None = None) -> None:
    """Serve the dashboard until Ctrl-C/SIGTERM (or ``stop``); with ``broker_url`` also ingest into the store.

    Raises
    ------
    telemetry.errors.TelemetryError
        A bad store or broker URL, an unreachable service, a taken port, a missing password
        (the message says what and where).
    """
    from dashboard.app import create_app
    from dashboard.auth import AuthError, login_for
    from dashboard.data import HubData
    from telemetry import IngestConfig, open_store, parse_broker_url
    from telemetry.broker import port_is_free
    from telemetry.errors import TelemetryError
    from telemetry.ingest import stop_on_signals

    from .hub import Hub, HubConfig
    from .live_demo import serve
    from .registry import TwinRegistry
    from .scenarios import builtin_dir

    scenarios = scenarios or builtin_dir()
    try:
        login = login_for(host, password_file=password_file)
    except AuthError as exc:
        raise TelemetryError(str(exc)) from None
    if not scenarios.exists():
        raise TelemetryError(f"--scenarios {scenarios} does not exist")
    if port and not port_is_free(host, port):  # 0 takes any free port once the app is served
        raise TelemetryError(f"port {port} on {host} is in use: stop what runs there or give --port "
                             f"(0: any free port)")
    open_store(store_url).close()  # a bad URL or an unreachable store is reported before anything starts
    results_dir.mkdir(parents=True, exist_ok=True)
    registry = TwinRegistry.from_dir(scenarios)
    # with a broker the hub ingests here; without one it follows what an ingest elsewhere commits
    hub = Hub(registry=registry, store_url=store_url,
              broker=parse_broker_url(broker_url) if broker_url is not None else None,
              config=HubConfig(follow=broker_url is None, publish_alerts=broker_url is not None),
              ingest_config=IngestConfig(client_id=f"smartlib-dashboard-{int(time.time())}"))
    hub.start()
    server = None
    try:
        data = HubData(registry=registry, store_url=store_url, results_dir=results_dir)
        server, _thread = serve(create_app(data, login=login, cache_dir=results_dir / ".cache"), host, port)
        port = int(server.server_port)
        console.print(f"dashboard on http://{host}:{port}{' (login required)' if login else ''}; store {store_url}"
                      f"{'; ingesting from ' + broker_url if broker_url else ' (following it)'}  (Ctrl-C to stop)",
                      highlight=False)
        with stop_on_signals(stop) as event:
            while not event.wait(0.5):
                if not hub.running:
                    raise TelemetryError(f"the hub stopped: {hub.stats().error}")
    finally:
        if server is not None:
            server.shutdown()
        hub.stop()
    console.print("dashboard stopped", highlight=False)


def report_command(*, results: list[Path], out: Path, console: Any) -> Path:
    """``smartlib report``: a self-contained HTML comparison of saved results (the first is the base).

    Raises
    ------
    UserError
        When a folder holds no readable ``kpis.json``.
    """
    from dashboard.report import ReportError, write_report

    from .errors import UserError

    try:
        path = write_report(results, out)
    except ReportError as exc:
        raise UserError(str(exc)) from None
    console.print(f"wrote {path} ({len(results)} result(s) compared)", highlight=False)
    return path


__all__ = ["report_command", "serve_dashboard"]
