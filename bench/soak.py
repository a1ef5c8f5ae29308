"""Soak: the ingest under a steady stream for a long time, with flat memory and every reading stored.

A paced QoS 1 publisher in its own process sends 1-record SenML packs at ``--rate`` messages/s for
``--minutes`` into a private Mosquitto; our ingest (in this process) stores them in DuckDB (or
``--store``). Every ``--every`` seconds it samples the ingest's resident memory, the queue depth
(now and the peak since the start), the readings stored and the publish-to-commit latency of
the readings committed in that interval (p50, p99, max). At the end it checks stored == sent
exactly, prints the series as a table and draws it (``--png``, default ``bench/soak.png``).

Memory: the resident set of the whole process (the ingest, paho, DuckDB's buffers). DuckDB keeps
the primary-key index of ``readings`` in memory, so part of the growth is the index of what was
stored; the table shows the stored count next to it.

    .venv/bin/python bench/soak.py [--minutes 10] [--rate 2000] [--store URL] [--png bench/soak.png]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.progress import Progress  # noqa: E402
from rich.table import Table  # noqa: E402

from telemetry import Ingest, IngestConfig, load_registry, open_store  # noqa: E402
from telemetry.broker import Mosquitto  # noqa: E402
from telemetry.mqtt import BrokerSettings  # noqa: E402

SCENARIO = ROOT / "tests" / "data" / "small-branch.yaml"
TOPIC = "smartlib/v1/small/co2-reading/telemetry"


def rss_mib() -> float:
    """Resident memory of this process [MiB]."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def publisher(port: int, rate: float, seconds: float, sent: Any) -> None:
    """In its own process: publish ``rate`` msgs/s for ``seconds``; each reading's time is its publish time."""
    import orjson

    from telemetry.mqtt import connect_blocking, new_client

    settings = BrokerSettings("127.0.0.1", port)
    c = new_client(settings, client_id="soak-publisher")
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    acked = [0]

    def on_publish(client: Any, userdata: Any, mid: int, rc: Any, props: Any) -> None:
        acked[0] += 1

    c.on_publish = on_publish
    connect_blocking(c, settings, timeout_s=10)
    c.loop_start()
    n = int(rate * seconds)
    t0 = time.monotonic()
    last = 0.0
    info = None
    for i in range(n):
        due = t0 + i / rate
        delay = due - time.monotonic()
        if delay > 0.0005:
            time.sleep(delay)
        while i - acked[0] > 30_000:  # packet ids are 16 bits: never have that many unacknowledged
            time.sleep(0.001)
        now = max(time.time(), last + 1e-6)  # distinct times: each reading is a new row
        last = now
        info = c.publish(TOPIC, orjson.dumps([{"bn": "small/co2-reading/", "bt": now, "n": "co2", "u": "ppm",
                                               "v": 400 + i % 600}]), qos=1)
        if i % 1000 == 999:
            sent.value = i + 1
    if info is not None:
        info.wait_for_publish(120)
    sent.value = n
    c.disconnect()
    c.loop_stop()


@dataclass
class Sample:
    t_s: float
    rss_mib: float
    queue: int
    peak_queue: int
    sent: int
    stored: int
    p50_ms: float
    p99_ms: float
    max_ms: float


def soak(*, minutes: float, rate: float, every_s: float, store_url: str | None, workdir: Path,
         console: Console) -> tuple[list[Sample], int, int]:
    """Run the soak; returns the samples, messages sent and readings stored."""
    lat_lock = threading.Lock()
    lat: list[float] = []

    def on_commit(readings: Any, result: Any, committed_at: float) -> None:
        times = readings.column("time").to_pylist()
        with lat_lock:
            lat.extend(committed_at - t for t in times)

    seconds = minutes * 60.0
    with Mosquitto(workdir=workdir / "mosquitto") as broker:
        store = open_store(store_url or f"duckdb:///{workdir / 'soak.duckdb'}")
        ing = Ingest(broker=broker.settings, store=store, registry=load_registry(SCENARIO),
                     config=IngestConfig(client_id="soak-ingest"), on_commit=on_commit)
        ing.start()
        ctx = mp.get_context("spawn")
        sent = ctx.Value("q", 0)
        proc = ctx.Process(target=publisher, args=(broker.port, rate, seconds, sent), daemon=True)
        t0 = time.monotonic()
        proc.start()
        samples: list[Sample] = []
        nan = float("nan")
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("soak", total=seconds)
            next_t = t0 + every_s
            while True:
                time.sleep(max(0.0, min(0.5, next_t - time.monotonic())))
                progress.update(task, completed=min(seconds, time.monotonic() - t0))
                if time.monotonic() < next_t:
                    continue
                next_t += every_s
                s = ing.stats()
                with lat_lock:
                    ms = sorted(x * 1000.0 for x in lat)
                    lat.clear()
                samples.append(Sample(
                    t_s=time.monotonic() - t0, rss_mib=rss_mib(), queue=s.queue_depth,
                    peak_queue=s.peak_queue_depth, sent=int(sent.value), stored=s.inserted,
                    p50_ms=statistics.median(ms) if ms else nan, p99_ms=ms[int(0.99 * (len(ms) - 1))] if ms else nan,
                    max_ms=ms[-1] if ms else nan))
                if not proc.is_alive() and (s.inserted >= sent.value or time.monotonic() - t0 > seconds + 120):
                    break
        proc.join(30)
        n_sent = int(sent.value)
        deadline = time.monotonic() + 60
        while ing.stats().inserted < n_sent and time.monotonic() < deadline:
            time.sleep(0.05)
        ing.stop()
        stored = int(store.counts()["records"].sum())
        store.close()
    return samples, n_sent, stored


def draw(samples: list[Sample], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [s.t_s / 60.0 for s in samples]
    fig, axes = plt.subplots(3, 1, figsize=(8, 8), sharex=True)
    axes[0].plot(t, [s.rss_mib for s in samples], marker="o")
    axes[0].set_ylabel("resident memory [MiB]")
    axes[1].plot(t, [s.peak_queue for s in samples], marker="o", label="peak since start")
    axes[1].plot(t, [s.queue for s in samples], marker=".", label="at sample")
    axes[1].set_ylabel("queue depth [messages]")
    axes[1].legend()
    axes[2].plot(t, [s.p50_ms for s in samples], marker="o", label="p50")
    axes[2].plot(t, [s.p99_ms for s in samples], marker="o", label="p99")
    axes[2].set_ylabel("publish -> commit [ms]")
    axes[2].set_xlabel("time [min]")
    axes[2].legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="how long to stream [min]")
    ap.add_argument("--rate", type=float, default=2000.0, help="messages per second")
    ap.add_argument("--every", type=float, default=15.0, help="seconds between samples")
    ap.add_argument("--store", default=None, help="store URL (default: a DuckDB file in a temporary folder)")
    ap.add_argument("--png", type=Path, default=ROOT / "bench" / "soak.png", help="where to draw the series")
    args = ap.parse_args()
    console = Console(width=110)
    console.print(f"soak: {args.minutes:g} min at {args.rate:,.0f} msg/s, {os.cpu_count()} cores, "
                  f"load average {os.getloadavg()[0]:.2f} (other processes share the cores)", highlight=False)
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp:
        samples, n_sent, stored = soak(minutes=args.minutes, rate=args.rate, every_s=args.every,
                                       store_url=args.store, workdir=Path(tmp), console=console)
    table = Table(title=f"soak, {args.minutes:g} min at {args.rate:,.0f} msg/s (1-record packs, QoS 1)")
    for col in ("t [min]", "RSS [MiB]", "queue", "peak queue",
                "sent", "stored", "p50 ms", "p99 ms", "max ms"):
        table.add_column(col, justify="right")
    for s in samples:
        table.add_row(f"{s.t_s / 60:.2f}", f"{s.rss_mib:.1f}", f"{s.queue:,}", f"{s.peak_queue:,}", f"{s.sent:,}",
                      f"{s.stored:,}", f"{s.p50_ms:.1f}", f"{s.p99_ms:.1f}", f"{s.max_ms:.1f}")
    console.print(table)
    ok = "[green]stored == sent[/]" if stored == n_sent else f"[red]stored {stored:,} != sent {n_sent:,}[/]"
    console.print(f"sent {n_sent:,}, stored {stored:,}: {ok}")
    if samples:
        args.png.parent.mkdir(parents=True, exist_ok=True)
        draw(samples, args.png, f"ingest soak: {args.minutes:g} min at {args.rate:,.0f} msg/s")
        console.print(f"drawn: {args.png}", highlight=False)


if __name__ == "__main__":
    main()
