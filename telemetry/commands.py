"""What the ``smartlib`` telemetry commands do, so ``twin/cli.py`` only parses and calls.

Each function takes already-parsed options, does the work and prints to a rich console.
User mistakes raise :class:`~telemetry.errors.TelemetryError` (or ``geometry.ScenarioError``) with
a message naming what and where; the CLI prints it without a traceback.
"""

from __future__ import annotations

import datetime as dt
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from .broker import EmbeddedBroker, TLSFiles, broker_from_options
from .errors import TelemetryError
from .ingest import IngestConfig, IngestStats, run_ingest, stop_on_signals
from .mqtt import BrokerSettings, parse_broker_url
from .publisher import ReplayStats, load_telemetry, run_publish
from .registry import load_registry
from .senml import Limits
from .store import CompactResult, StoreStats, open_store, redact
from .synthetic import synthetic_telemetry


def broker_settings(url: str, *, username: str | None = None, password_file: Path | None = None,
                    tls_ca: Path | None = None, tls_cert: Path | None = None, tls_key: Path | None = None,
                    tls_insecure: bool = False) -> BrokerSettings:
    """Broker settings from the common command-line options (see :func:`telemetry.mqtt.parse_broker_url`)."""
    return parse_broker_url(url, username=username, password_file=password_file, ca_file=tls_ca,
                            cert_file=tls_cert, key_file=tls_key, insecure=tls_insecure)


def publish_command(*, settings: BrokerSettings, results_dir: Path | None, synthetic: Path | None, hours: float,
                    seed: int, speed: float, keep_times: bool, qos: int, console: Any) -> ReplayStats:
    """``smartlib publish``: replay a results folder's telemetry.parquet (or a synthetic day) over MQTT."""
    if (results_dir is None) == (synthetic is None):
        raise TelemetryError("give a RESULTS_DIR with telemetry.parquet, or --synthetic SCENARIO (not both)")
    if qos not in (0, 1):
        raise TelemetryError(f"--qos must be 0 or 1, got {qos}")
    if not hours > 0:
        raise TelemetryError(f"--hours must be positive, got {hours}")
    if synthetic is not None:
        registry = load_registry(synthetic)
        table = synthetic_telemetry(registry, start=time.time() - hours * 3600.0, hours=hours, seed=seed)
    else:
        assert results_dir is not None
        table = load_telemetry(results_dir)
    return run_publish(settings=settings, table=table, speed=speed, keep_times=keep_times, qos=qos, console=console)


def broker_command(*, port: int | None, embedded: bool, workdir: Path | None, persistence: bool,
                   password_file: Path | None, acl_file: Path | None, tls_cert: Path | None, tls_key: Path | None,
                   tls_ca: Path | None, console: Any, stop: threading.Event | None = None) -> None:
    """``smartlib broker``: run a private broker until Ctrl-C or SIGTERM."""
    if (tls_cert is None) != (tls_key is None):
        raise TelemetryError("give both --tls-cert and --tls-key to serve TLS, or neither")
    tls = TLSFiles(str(tls_cert), str(tls_key), str(tls_ca) if tls_ca else None) if tls_cert and tls_key else None
    broker = broker_from_options(port=port, embedded=embedded, workdir=workdir, persistence=persistence,
                                 password_file=password_file, acl_file=acl_file, tls=tls)
    broker.start()
    with stop_on_signals(stop) as stop_event:
        try:
            if isinstance(broker, EmbeddedBroker):
                console.print("[yellow]Mosquitto is not installed (or --embedded): running the embedded amqtt broker. "
                              "Demo use only: MQTT 3.1.1 (no shared subscriptions), a few thousand msg/s, nothing kept "
                              "across restarts, no credentials or ACLs.[/]", highlight=False)
            else:
                console.print(f"Mosquitto ({broker.binary}), config {broker.config_path}, log {broker.log_path}",
                              highlight=False)
            # the URL alone on stdout's last line, for scripts: URL=$(smartlib broker | ...)
            console.print(f"broker listening on {broker.url}  (Ctrl-C to stop)", highlight=False)
            sys.stdout.flush()
            while not stop_event.wait(0.5):
                if not isinstance(broker, EmbeddedBroker) and not broker.running:
                    raise TelemetryError(f"Mosquitto exited; see its log {broker.log_path}")
        finally:
            broker.stop()
    console.print("broker stopped", highlight=False)


_UNITS_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0, "w": 7 * 86_400.0}


def parse_duration(text: str, option: str) -> float:
    """A duration such as ``30d``, ``12h``, ``90m``, ``3600s`` or ``3600`` (seconds) in seconds.

    Raises
    ------
    TelemetryError
        When it is not a positive number with one of the units s, m, h, d, w (naming ``option``).
    """
    raw = text.strip().lower()
    unit = raw[-1:] if raw[-1:] in _UNITS_S else "s"
    number = raw[:-1] if raw[-1:] in _UNITS_S else raw
    try:
        value = float(number) * _UNITS_S[unit]
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise TelemetryError(f"{option} {text!r} is not a duration; give a positive number with a unit: "
                             f"30d, 12h, 90m, 3600s (s, m, h, d or w)")
    return value


def compact_command(*, store_url: str, older_than: str, keep_minutes: str | None, console: Any) -> CompactResult:
    """``smartlib store compact``: roll raw readings older than an age up into aggregates and remove them."""
    older_than_s = parse_duration(older_than, "--older-than")
    keep_minutes_s = parse_duration(keep_minutes, "--keep-minutes") if keep_minutes is not None else None
    with open_store(store_url) as store:
        result = store.compact(older_than_s=older_than_s, keep_minutes_s=keep_minutes_s)
    console.print(f"store {redact(store_url)}: readings before {_utc(result.cutoff)} rolled up: "
                  f"{result.removed:,} raw readings removed, {result.minute_rows:,} 1-minute and "
                  f"{result.hour_rows:,} 1-hour aggregates written"
                  + (f", {result.minute_rows_dropped:,} 1-minute aggregates older than {keep_minutes} dropped"
                     if keep_minutes is not None else ""), highlight=False)
    return result


def ingest_command(*, settings: BrokerSettings, store_url: str, scenarios: Path, share: str | None,
                   client_id: str | None, batch_records: int, linger_s: float, max_past_s: float,
                   max_future_s: float, status_interval_s: float, console: Any,
                   connect_timeout_s: float = 30.0, retain: str | None = None) -> IngestStats:
    """``smartlib ingest``: MQTT to store until SIGINT/SIGTERM (``retain``: compact readings older than that)."""
    if batch_records < 1:
        raise TelemetryError(f"--batch-records must be at least 1, got {batch_records}")
    if not linger_s > 0:
        raise TelemetryError(f"--linger-s must be positive, got {linger_s}")
    if max_past_s < 0 or max_future_s < 0:
        raise TelemetryError("--max-past-s and --max-future-s cannot be negative")
    if share is not None:
        from .topics import ID_RE

        if not ID_RE.match(share):
            raise TelemetryError(f"--share {share!r}: a group name is letters, digits, '-', '_' or '.'")
    retain_s = parse_duration(retain, "--retain") if retain is not None else None
    config = IngestConfig(client_id=client_id or "", share=share, batch_records=batch_records, linger_s=linger_s,
                          limits=Limits(max_past_s=max_past_s, max_future_s=max_future_s),
                          connect_timeout_s=connect_timeout_s, retain_s=retain_s)
    return run_ingest(broker=settings, store_url=store_url, scenarios=str(scenarios), config=config,
                      status_interval_s=status_interval_s, console=console)


def _utc(t: float | None, fmt: str = "%Y-%m-%d %H:%M:%S UTC") -> str:
    if t is None or t != t:
        return "-"
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime(fmt)


def store_stats_command(*, store_url: str, as_json: bool, console: Any) -> StoreStats:
    """``smartlib store stats``: what is in a store, and what was rejected and why."""
    from rich import box
    from rich.table import Table

    with open_store(store_url, read_only=store_url.endswith(".duckdb") or store_url.startswith("duckdb:")) as store:
        stats = store.stats()
    if as_json:
        sys.stdout.write(orjson.dumps(stats.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
        return stats
    console.print(f"store {stats.url}: {stats.records:,} readings from {_utc(stats.first_time)} to "
                  f"{_utc(stats.last_time)}; devices online {stats.devices_online}, offline {stats.devices_offline}",
                  highlight=False)
    per_q = stats.per_quantity
    for branch in sorted(set(per_q["branch"])) if len(per_q) else []:
        t = Table(title=f"branch {branch}: readings per device and quantity", box=box.SIMPLE)
        for col in ("device", "quantity", "records", "first (UTC)", "last (UTC)"):
            t.add_column(col, justify="right" if col == "records" else "left", no_wrap=True)
        for r in per_q[per_q["branch"] == branch].itertuples(index=False):
            t.add_row(r.device, r.quantity, f"{r.records:,}", _utc(r.first_time, "%Y-%m-%d %H:%M"),
                      _utc(r.last_time, "%Y-%m-%d %H:%M"))
        console.print(t)
    d = Table(title=f"rejected per reason ({stats.dead_letter_rows:,} kept as dead letters)", box=box.SIMPLE)
    d.add_column("reason")
    d.add_column("count", justify="right")
    for r in stats.dead_letters_by_reason.itertuples(index=False):
        d.add_row(str(r.reason), f"{int(r.count):,}")
    if not len(stats.dead_letters_by_reason):
        d.add_row("(none)", "0")
    console.print(d)
    if len(stats.dead_letters_by_device):
        e = Table(title="rejected per device ('' = unknown branch or device)", box=box.SIMPLE)
        for col in ("branch", "device", "count"):
            e.add_column(col, justify="right" if col == "count" else "left")
        for r in stats.dead_letters_by_device.itertuples(index=False):
            e.add_row(str(r.branch), str(r.device), f"{int(r.count):,}")
        console.print(e)
    return stats


__all__ = ["broker_command", "broker_settings", "compact_command", "ingest_command", "parse_duration",
           "publish_command", "store_stats_command"]
