"""``smartlib ingest --workers N``: N ingest processes on one MQTT 5 shared subscription, into PostgreSQL.

Each worker is a whole :class:`~telemetry.ingest.Ingest` in its own process (its own GIL, paho thread,
validator and writer), with its own persistent session ``{client id}-{k}`` in the shared-subscription
group (``$share/{group}/smartlib/v1/#``): the broker hands each message to one of them, and each
acknowledges its messages after its own commit. The guarantees are those of one ingest: nothing
acknowledged before it is committed, redeliveries stored once (the store's key), every rejection
counted and dead-lettered (PostgreSQL sums the counts of all workers).

The store must take several writing processes: PostgreSQL. DuckDB lets one process write a file, so
``--workers`` with a DuckDB store is refused with a message saying so.

The parent process only starts the workers, shows their summed status line and stops them (SIGINT or
SIGTERM to the parent; each worker then commits and acknowledges what it received).
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import queue
import signal
import threading
import time
from typing import Any

from .errors import TelemetryError
from .ingest import Ingest, IngestConfig, IngestStats, show_status, stop_on_signals
from .mqtt import BrokerSettings

DEFAULT_GROUP = "smartlib-workers"
_SUMMED = ("messages", "records", "inserted", "duplicates", "rejected", "dead_letter_rows", "statuses", "batches",
           "queue_depth", "reconnects", "store_errors", "compacted")


def _worker(k: int, broker: BrokerSettings, store_url: str, scenarios: str, config: IngestConfig, stop: Any,
            reports: Any, interval_s: float) -> None:
    """One worker process: run an ingest, report its counters every ``interval_s`` until ``stop`` is set."""
    from .registry import load_registry
    from .store import open_store

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent stops us in order
    try:
        store = open_store(store_url)
    except TelemetryError as exc:
        reports.put((k, "error", str(exc)))
        return
    try:
        ingest = Ingest(broker=broker, store=store, registry=load_registry(scenarios), config=config)
        ingest.start()
    except TelemetryError as exc:
        store.close()
        reports.put((k, "error", str(exc)))
        return
    try:
        reports.put((k, "stats", dataclasses.asdict(ingest.stats())))
        while not stop.wait(interval_s) and ingest.running:
            reports.put((k, "stats", dataclasses.asdict(ingest.stats())))
        ingest.stop()
        final = ingest.stats()
        reports.put((k, "stats", dataclasses.asdict(final)))
        if ingest.error is not None:
            reports.put((k, "error", f"stopped on an error: {final.last_error}"))
        else:
            reports.put((k, "stopped", None))
    finally:
        store.close()


def combined(stats: list[IngestStats]) -> IngestStats:
    """The workers' counters summed (queue peaks: the largest; connected: all of them)."""
    summed = {name: sum(getattr(s, name) for s in stats) for name in _SUMMED}
    errors = [f"worker {k}: {s.last_error}" for k, s in enumerate(stats) if s.last_error]
    return IngestStats(**summed, peak_queue_depth=max(s.peak_queue_depth for s in stats),
                       connected=all(s.connected for s in stats), protocol=stats[0].protocol,
                       last_error="; ".join(errors) or None, uptime_s=max(s.uptime_s for s in stats))


def run_workers(*, broker: BrokerSettings, store_url: str, scenarios: str, config: IngestConfig, workers: int,
                status_interval_s: float = 1.0, console: Any = None, stop: threading.Event | None = None
                ) -> IngestStats:
    """Run ``workers`` ingest processes on one shared subscription until SIGINT/SIGTERM; return the summed counters.

    Parameters
    ----------
    broker
        Broker settings (the broker must speak MQTT 5: shared subscriptions).
    store_url
        A PostgreSQL store URL (DuckDB is refused: one writing process per file).
    scenarios
        Directory (or file) of scenario files whose devices are accepted.
    config
        Ingest configuration of every worker; ``share`` is the group (default ``smartlib-workers``) and worker
        ``k`` gets the client id ``{client_id}-{k}``.
    workers
        Number of processes (at least 1).
    status_interval_s
        Seconds between status lines.
    console
        A ``rich.console.Console`` (default: stdout).
    stop
        Set it to stop (besides the signals).

    Raises
    ------
    TelemetryError
        DuckDB store, a bad count, or a worker that could not start (its message, named by worker).
    """
    from rich.console import Console

    from .registry import load_registry
    from .store import open_store

    if workers < 1:
        raise TelemetryError(f"--workers must be at least 1, got {workers}")
    con: Console = console or Console()
    store = open_store(store_url)
    try:
        if not store.shared_writers:
            raise TelemetryError(
                f"--workers {workers} needs a PostgreSQL store: DuckDB lets one process write a file ({store.url}). "
                f"Store in PostgreSQL (postgresql://user@host:5432/db), or run one ingest per DuckDB file")
        url = store.url
    finally:
        store.close()
    registry = load_registry(scenarios)  # a bad scenario folder is reported once, here
    share = config.share or DEFAULT_GROUP
    base = config.client_id or dataclasses.replace(config, share=share).resolved_client_id()
    ctx = mp.get_context("spawn")  # a fresh interpreter each: no threads or connections inherited
    stop_workers = ctx.Event()
    reports: Any = ctx.Queue()
    procs = [ctx.Process(target=_worker, name=f"smartlib-ingest-worker-{k}",
                         args=(k, broker, store_url, scenarios,
                               dataclasses.replace(config, share=share, client_id=f"{base}-{k}"),
                               stop_workers, reports, status_interval_s))
             for k in range(workers)]
    latest: dict[int, IngestStats] = {}
    ended: set[int] = set()
    failures: list[str] = []

    def drain(block_s: float = 0.0) -> None:
        deadline = time.monotonic() + block_s
        while True:
            try:
                k, kind, payload = reports.get(timeout=max(0.0, deadline - time.monotonic())) if block_s \
                    else reports.get_nowait()
            except queue.Empty:
                return
            if kind == "stats":
                latest[k] = IngestStats(**payload)
            else:
                ended.add(k)
                if kind == "error":
                    failures.append(f"ingest worker {k}: {payload}")

    def current() -> IngestStats:
        drain()
        return combined([latest[k] for k in sorted(latest)])

    with stop_on_signals(stop) as stop_event:
        for p in procs:
            p.start()
        try:
            start_s = config.connect_timeout_s + 120.0  # spawning imports pyarrow, duckdb ...
            started_by = time.monotonic() + start_s
            while len(latest) < workers and not failures and time.monotonic() < started_by:
                drain(0.2)
                if any(not p.is_alive() and k not in latest for k, p in enumerate(procs)):
                    drain(0.5)
                    if not failures:
                        failures.append("an ingest worker exited before it started")
            if failures:
                raise TelemetryError("; ".join(failures))
            if len(latest) < workers:
                raise TelemetryError(f"the ingest workers did not all start within {start_s:g} s")
            con.print(f"ingest: {workers} workers ({base}-0 .. {base}-{workers - 1}), share {share}: {broker.url} -> "
                      f"{url}; {len(registry)} devices in {', '.join(registry.branches)}", highlight=False)
            show_status(con, current, lambda: not failures and all(p.is_alive() for p in procs), stop_event,
                        status_interval_s)
        finally:
            stop_workers.set()
            deadline = time.monotonic() + 60.0
            while len(ended) < len([p for p in procs if p.pid is not None]) and time.monotonic() < deadline:
                drain(0.2)
                if all(not p.is_alive() for p in procs):
                    drain(0.2)
                    break
            for p in procs:
                p.join(5.0)
                if p.is_alive():
                    p.kill()
    if failures:
        raise TelemetryError("; ".join(failures))
    final = combined([latest[k] for k in sorted(latest)])
    split = ", ".join(f"worker {k}: {latest[k].messages:,}" for k in sorted(latest))
    con.print(f"stopped: {final.messages:,} messages ({split}), {final.inserted:,} readings stored "
              f"({final.duplicates:,} already there), {final.rejected:,} rejected", highlight=False)
    return final


__all__ = ["DEFAULT_GROUP", "combined", "run_workers"]
