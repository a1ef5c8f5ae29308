"""Replay telemetry as the devices would publish it: one MQTT client per device, its Will, its status.

The source is a results folder's ``telemetry.parquet`` (written by a simulation, or by
:func:`telemetry.synthetic.write_synthetic`). Messages go out in time order, ``speed`` times faster
than recorded (``speed=0``: as fast as the broker takes them).

Times: by default readings are re-stamped onto the wall clock of the replay, so a live ingest
accepts them (a reading is stamped when it is due: start + (t - t0) / speed). With ``keep_times``
the recorded times go out unchanged (start the ingest with a ``--max-past-s`` that covers them).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pyarrow as pa
import pyarrow.parquet as pq

from geometry.quantities import TELEMETRY_COLUMNS

from .errors import TelemetryError
from .mqtt import BrokerSettings, DeviceClient
from .records import Reading, iter_readings, senml_pack
from .synthetic import TELEMETRY_FILE
from .topics import status_topic, telemetry_topic

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ReplayStats:
    """What a replay sent."""

    messages: int
    records: int
    devices: int
    duration_s: float
    first_time: float | None
    last_time: float | None


def load_telemetry(results_dir: str | Path) -> pa.Table:
    """Read ``telemetry.parquet`` from a results folder (or a parquet file) and check its columns.

    Raises
    ------
    TelemetryError
        When the file is missing, unreadable, or lacks telemetry columns.
    """
    p = Path(results_dir)
    path = p / TELEMETRY_FILE if p.is_dir() else p
    if not path.exists():
        hint = f" (folder {p} has no {TELEMETRY_FILE})" if p.is_dir() else ""
        raise TelemetryError(f"no telemetry file {path}{hint}; run a simulation first, or use --synthetic SCENARIO")
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise TelemetryError(f"cannot read {path} as parquet: {exc}") from exc
    missing = [c for c in TELEMETRY_COLUMNS if c not in table.column_names]
    if missing:
        raise TelemetryError(f"{path} lacks column(s) {', '.join(missing)}; telemetry tables have "
                             f"{', '.join(TELEMETRY_COLUMNS)} (docs/telemetry.md)")
    return table


def _group(readings: list[Reading], max_records: int) -> list[list[Reading]]:
    readings.sort(key=lambda r: (r.time, r.branch, r.device))
    groups: list[list[Reading]] = []
    for r in readings:
        g = groups[-1] if groups else None
        if (g is not None and len(g) < max_records and g[0].time == r.time and g[0].device == r.device
                and g[0].branch == r.branch):
            g.append(r)
        else:
            groups.append([r])
    return groups


def replay(table: pa.Table, settings: BrokerSettings, *, speed: float = 60.0, keep_times: bool = False,
           qos: int = 1, max_records: int = 64, progress: Progress | None = None,
           stop: threading.Event | None = None, client_prefix: str = "") -> ReplayStats:
    """Publish a telemetry table as its devices would, in time order.

    Parameters
    ----------
    table
        Readings in :data:`~telemetry.records.TELEMETRY_SCHEMA`.
    settings
        Broker address and credentials (every device client uses them).
    speed
        Replay this many times faster than recorded; 0 for as fast as possible.
    keep_times
        Send the recorded times instead of re-stamping them onto the replay's wall clock.
    qos
        MQTT QoS of the telemetry messages (0 or 1).
    max_records
        Most records per SenML pack.
    progress
        Called with (messages sent, messages in all) now and then.
    stop
        Set it to end the replay early (devices still say offline).
    client_prefix
        Prefix of the device client ids (``{prefix}{branch}.{device}``), to run replays side by side.
    """
    if speed < 0 or not math.isfinite(speed):
        raise TelemetryError(f"speed must be 0 (as fast as possible) or a positive factor, got {speed}")
    groups = _group(list(iter_readings(table)), max_records)
    if not groups:
        return ReplayStats(0, 0, 0, 0.0, None, None)
    t0 = groups[0][0].time
    t_last = groups[-1][0].time
    wall0 = time.time()
    if speed > 0:
        def stamp(t: float) -> float:
            return wall0 + (t - t0) / speed
    else:
        def stamp(t: float) -> float:  # as fast as possible: keep the spacing, end at the start instant
            return wall0 - (t_last - t)
    devices: dict[tuple[str, str], DeviceClient] = {}
    for g in groups:
        key = (g[0].branch, g[0].device)
        if key not in devices:
            devices[key] = DeviceClient(settings, branch=key[0], device=key[1],
                                        status_topic=status_topic(*key), client_id=f"{client_prefix}{key[0]}.{key[1]}")
    sent = 0
    records = 0
    infos: list[paho.MQTTMessageInfo] = []
    started = time.monotonic()
    try:
        v5: bool | None = None  # the first device finds out what the broker speaks; the others follow
        for client in devices.values():
            client.connect(v5=v5)
            v5 = client.v5
        for i, g in enumerate(groups):
            if stop is not None and stop.is_set():
                break
            r0 = g[0]
            if speed > 0:
                delay = wall0 + (r0.time - t0) / speed - time.time()
                if delay > 0:
                    if stop is not None:
                        if stop.wait(delay):
                            break
                    else:
                        time.sleep(delay)
            if not keep_times:
                g = [replace(r, time=round(stamp(r.time), 6)) for r in g]
            payload = senml_pack(r0.branch, r0.device, g)
            info = devices[(r0.branch, r0.device)].publish(telemetry_topic(r0.branch, r0.device), payload, qos)
            if qos:
                infos.append(info)
                if len(infos) >= 5_000:  # keep paho's outgoing queue bounded
                    _wait_all(infos)
            sent += 1
            records += len(g)
            if progress is not None and (i % 100 == 0 or i == len(groups) - 1):
                progress(sent, len(groups))
        _wait_all(infos)
    finally:
        for client in devices.values():
            client.close()
    return ReplayStats(sent, records, len(devices), time.monotonic() - started, t0, t_last)


def _wait_all(infos: list[paho.MQTTMessageInfo], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    for info in infos:
        left = deadline - time.monotonic()
        try:
            info.wait_for_publish(max(left, 0.01))
        except (RuntimeError, ValueError) as exc:
            raise TelemetryError(f"a message could not be published: {exc}") from exc
        if not info.is_published():
            raise TelemetryError(f"the broker did not acknowledge our messages within {timeout_s:g} s")
    infos.clear()


def run_publish(*, settings: BrokerSettings, table: pa.Table, speed: float, keep_times: bool = False,
                qos: int = 1, console: Any = None) -> ReplayStats:
    """Replay with a progress bar; Ctrl-C ends early (devices still go offline cleanly)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    con: Console = console or Console()
    stop = threading.Event()
    n_dev = len({(b, d) for b, d in zip(table.column("branch").to_pylist(), table.column("device").to_pylist(),
                                         strict=True)})
    con.print(f"publishing {table.num_rows:,} readings of {n_dev} devices to {settings.url} "
              f"({'as fast as possible' if speed == 0 else f'{speed:g}x real time'})", highlight=False)
    with Progress(TextColumn("messages"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=con, transient=False) as bar:
        task = bar.add_task("publish", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            stats = replay(table, settings, speed=speed, keep_times=keep_times, qos=qos, progress=progress, stop=stop)
        except KeyboardInterrupt:
            stop.set()
            raise
    con.print(f"sent {stats.messages:,} messages ({stats.records:,} readings) from {stats.devices} devices "
              f"in {stats.duration_s:.1f} s", highlight=False)
    return stats


__all__ = ["ReplayStats", "load_telemetry", "replay", "run_publish"]
