"""The telemetry side of the application layer: publish, run a broker, ingest, store statistics and compaction.

Each function takes already-parsed options and does the work; the long-running ones (broker,
ingest) report their status lines to the console they are given. User mistakes raise
:class:`~telemetry.errors.TelemetryError` (or ``geometry.ScenarioError``) with a message naming
what and where; the CLI prints it without a traceback.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

from telemetry.broker import EmbeddedBroker, TLSFiles, broker_from_options
from telemetry.errors import TelemetryError
from telemetry.ingest import IngestConfig, IngestStats, run_ingest, stop_on_signals
from telemetry.mqtt import BrokerSettings, parse_broker_url
from telemetry.publisher import ReplayStats, load_telemetry, run_publish
from telemetry.registry import load_registry
from telemetry.senml import Limits
from telemetry.store import CompactResult, StoreStats, open_store
from telemetry.synthetic import synthetic_telemetry


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
    """A duration such as ``30d``, ``12h``, ``90m``, ``3600s`` or ``3600`` (seconds), in seconds.

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
    if not 0 < value < float("inf"):
        raise TelemetryError(f"{option} {text!r} is not a duration; give a positive number with a unit: "
                             f"30d, 12h, 90m, 3600s (s, m, h, d or w)")
    return value


def compact_store(*, store_url: str, older_than: str, keep_minutes: str | None = None) -> CompactResult:
    """Roll raw readings older than ``older_than`` (``30d``) up into 1-minute and 1-hour aggregates and remove them;
    with ``keep_minutes``, also drop 1-minute aggregates older than that (see :meth:`telemetry.store.Store.compact`)."""
    older_than_s = parse_duration(older_than, "--older-than")
    keep_minutes_s = parse_duration(keep_minutes, "--keep-minutes") if keep_minutes is not None else None
    with open_store(store_url) as store:
        return store.compact(older_than_s=older_than_s, keep_minutes_s=keep_minutes_s)


def ingest_command(*, settings: BrokerSettings, store_url: str, scenarios: Path, share: str | None,
                   client_id: str | None, batch_records: int, linger_s: float, max_past_s: float,
                   max_future_s: float, status_interval_s: float, console: Any,
                   connect_timeout_s: float = 30.0, retain: str | None = None, workers: int = 1) -> IngestStats:
    """``smartlib ingest``: MQTT to store until SIGINT/SIGTERM (``retain``: compact readings older than that;
    ``workers`` > 1: that many processes on a shared subscription, :func:`telemetry.workers.run_workers`)."""
    if batch_records < 1:
        raise TelemetryError(f"--batch-records must be at least 1, got {batch_records}")
    if not linger_s > 0:
        raise TelemetryError(f"--linger-s must be positive, got {linger_s}")
    if max_past_s < 0 or max_future_s < 0:
        raise TelemetryError("--max-past-s and --max-future-s cannot be negative")
    if share is not None:
        from telemetry.topics import ID_RE

        if not ID_RE.match(share):
            raise TelemetryError(f"--share {share!r}: a group name is letters, digits, '-', '_' or '.'")
    retain_s = parse_duration(retain, "--retain") if retain is not None else None
    config = IngestConfig(client_id=client_id or "", share=share, batch_records=batch_records, linger_s=linger_s,
                          limits=Limits(max_past_s=max_past_s, max_future_s=max_future_s),
                          connect_timeout_s=connect_timeout_s, retain_s=retain_s)
    if workers < 1:
        raise TelemetryError(f"--workers must be at least 1, got {workers}")
    if workers > 1:
        from telemetry.workers import run_workers

        return run_workers(broker=settings, store_url=store_url, scenarios=str(scenarios), config=config,
                           workers=workers, status_interval_s=status_interval_s, console=console)
    return run_ingest(broker=settings, store_url=store_url, scenarios=str(scenarios), config=config,
                      status_interval_s=status_interval_s, console=console)


def store_stats(*, store_url: str) -> StoreStats:
    """What is in a store, and what was rejected and why."""
    read_only = store_url.endswith(".duckdb") or store_url.startswith("duckdb:")
    with open_store(store_url, read_only=read_only) as store:
        return store.stats()


__all__ = ["broker_command", "broker_settings", "compact_store", "ingest_command", "parse_duration", "publish_command",
           "store_stats"]
