"""Soak: the ingest under a steady stream for a long time, with flat memory and every reading stored.

Paced QoS 1 publishers in their own processes (``--publishers``, each its own series) send 1-record
SenML packs at ``--rate`` messages/s in all for ``--minutes`` into a private Mosquitto; our ingest
(in this process) stores them in DuckDB (or ``--store``). Every ``--every`` seconds it samples the
ingest's resident memory, the queue depth
(now and the peak since the start), the readings stored and the publish-to-commit latency of
the readings committed in that interval (p50, p99, max). At the end it checks stored == sent
exactly, prints the series as a table and draws it (``--png``, default ``bench/soak.png``).

Memory: the resident set of the whole process (the ingest, paho, DuckDB), and of it what DuckDB
reports (``duckdb_memory()``: its buffers and the primary-key index of what was stored, which grows
with the table; retention bounds it).

    .venv/bin/python bench/soak.py [--minutes 10] [--rate 2000] [--store URL] [--png bench/soak.png]
"""

from __future__ import annotations

import argparse
import logging
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
from rich.logging import RichHandler  # noqa: E402
from rich.progress import Progress  # noqa: E402
from rich.table import Table  # noqa: E402

from telemetry import Ingest, IngestConfig, load_registry, open_store  # noqa: E402
from telemetry.broker import Mosquitto  # noqa: E402
from telemetry.mqtt import BrokerSettings, connect_blocking, new_client  # noqa: E402

SCENARIO = ROOT / "tests" / "data" / "small-branch.yaml"
#: what each publisher process sends: its device's topic, base name, quantity and unit (one series each)
STREAMS = [("co2-reading", "co2", "ppm"), ("door-counter", "people_in", "count"),
           ("co2-reading", "temperature", "Cel"), ("door-counter", "people_out", "count")]


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


def publisher(port: int, k: int, rate: float, seconds: float, sent: Any) -> None:
    """In its own process: publish stream ``k`` at ``rate`` msgs/s for ``seconds``; each reading's time is its
    publish time."""
    import orjson


    settings = BrokerSettings("127.0.0.1", port)
    device, quantity, unit = STREAMS[k]
    topic = f"smartlib/v1/small/{device}/telemetry"
    c = new_client(settings, client_id=f"soak-publisher-{k}")
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
        info = c.publish(topic, orjson.dumps([{"bn": f"small/{device}/", "bt": now, "n": quantity, "u": unit,
                                               "v": 20 + i % 10}]), qos=1)
        if i % 1000 == 999:
            sent[k] = i + 1
    if info is not None:
        info.wait_for_publish(120)
    sent[k] = n
    c.disconnect()
    c.loop_stop()


@dataclass
class Sample:
    t_s: float
    rss_mib: float
    duckdb_mib: float
    queue: int
    peak_queue: int
    sent: int
    stored: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    broker_held: int  # messages the broker holds ($SYS/broker/store/messages/count): its backlog
    reconnects: int


def soak(*, minutes: float, rate: float, every_s: float, store_url: str | None, workdir: Path,
         console: Console, publishers: int = 2) -> tuple[list[Sample], int, int]:
    """Run the soak; returns the samples, messages sent and readings stored."""
    lat_lock = threading.Lock()
    lat: list[float] = []

    def on_commit(batch: Any, result: Any, committed_at: float) -> None:
        times = batch.readings.column("time").to_pylist()
        with lat_lock:
            lat.extend(committed_at - t for t in times)

    seconds = minutes * 60.0
    with Mosquitto(workdir=workdir / "mosquitto") as broker:
        store = open_store(store_url or f"duckdb:///{workdir / 'soak.duckdb'}")
        ing = Ingest(broker=broker.settings, store=store, registry=load_registry(SCENARIO),
                     config=IngestConfig(client_id="soak-ingest"))
        ing.subscribe(on_commit)
        ing.start()
        held = [0]  # the broker's own count of messages it holds (queued, in flight), every sys_interval
        sys_client = new_client(broker.settings, client_id="soak-sys")
        sys_client.on_message = lambda c, u, m: held.__setitem__(0, int(m.payload or 0))
        connect_blocking(sys_client, broker.settings, timeout_s=10)
        sys_client.subscribe("$SYS/broker/store/messages/count")
        sys_client.loop_start()
        # DuckDB's own memory (buffers, the primary-key index), read through a second connection of its own
        db = store.con.cursor() if hasattr(store, "con") and type(store).__name__ == "DuckDBStore" else None

        def duckdb_mib() -> float:
            if db is None:
                return float("nan")
            return float(db.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchone()[0]) / 2**20

        ctx = mp.get_context("spawn")
        sent = ctx.Array("q", publishers)
        procs = [ctx.Process(target=publisher, args=(broker.port, k, rate / publishers, seconds, sent), daemon=True)
                 for k in range(publishers)]
        t0 = time.monotonic()
        for proc in procs:
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
                    t_s=time.monotonic() - t0, rss_mib=rss_mib(), duckdb_mib=duckdb_mib(), queue=s.queue_depth,
                    peak_queue=s.peak_queue_depth, sent=sum(sent), stored=s.inserted,
                    p50_ms=statistics.median(ms) if ms else nan, p99_ms=ms[int(0.99 * (len(ms) - 1))] if ms else nan,
                    max_ms=ms[-1] if ms else nan, broker_held=held[0], reconnects=s.reconnects))
                x = samples[-1]  # a line per sample as it comes (a long run cut short still tells something)
                progress.console.print(f"{x.t_s / 60:6.2f} min  RSS {x.rss_mib:6.1f} MiB  "
                                       f"DuckDB {x.duckdb_mib:6.1f} MiB  queue {x.queue:,}  sent {x.sent:,}  "
                                       f"stored {x.stored:,}  p99 {x.p99_ms:.0f} ms  broker holds {x.broker_held:,}  "
                                       f"reconnects {x.reconnects}" + (f" ({s.last_error})" if s.last_error else ""),
                                       highlight=False)
                alive = any(p.is_alive() for p in procs)
                if not alive and (s.inserted >= sum(sent) or time.monotonic() - t0 > seconds + 120):
                    break
        for proc in procs:
            proc.join(30)
        n_sent = sum(sent)
        deadline = time.monotonic() + 60
        while ing.stats().inserted < n_sent and time.monotonic() < deadline:
            time.sleep(0.05)
        ing.stop()
        sys_client.loop_stop()
        sys_client.disconnect()
        stored = int(store.counts()["records"].sum())
        if db is not None:
            db.close()
        store.close()
    return samples, n_sent, stored


def draw(samples: list[Sample], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [s.t_s / 60.0 for s in samples]
    fig, axes = plt.subplots(3, 1, figsize=(8, 8), sharex=True)
    axes[0].plot(t, [s.rss_mib for s in samples], marker="o", label="process (RSS)")
    axes[0].plot(t, [s.duckdb_mib for s in samples], marker=".", label="of it DuckDB")
    axes[0].set_ylabel("memory [MiB]")
    axes[0].legend()
    axes[1].plot(t, [s.peak_queue for s in samples], marker="o", label="peak since start")
    axes[1].plot(t, [s.queue for s in samples], marker=".", label="at sample")
    axes[1].plot(t, [s.broker_held for s in samples], marker="x", label="held by the broker")
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
    ap.add_argument("--publishers", type=int, default=2, choices=range(1, len(STREAMS) + 1),
                    help="publisher processes sharing the rate (one Python publisher manages about 1,000 msg/s "
                         "on a loaded machine; its own backlog would count as latency)")
    ap.add_argument("--store", default=None, help="store URL (default: a DuckDB file in a temporary folder)")
    ap.add_argument("--png", type=Path, default=ROOT / "bench" / "soak.png", help="where to draw the series")
    args = ap.parse_args()
    console = Console(width=110)
    # the ingest's connection events (telemetry.mqtt logs each disconnect with its reason), timed
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        handlers=[RichHandler(console=console, show_path=False)])
    console.print(f"soak: {args.minutes:g} min at {args.rate:,.0f} msg/s, {os.cpu_count()} cores, "
                  f"load average {os.getloadavg()[0]:.2f} (other processes share the cores)", highlight=False)
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp:
        samples, n_sent, stored = soak(minutes=args.minutes, rate=args.rate, every_s=args.every,
                                       store_url=args.store, workdir=Path(tmp), console=console,
                                       publishers=args.publishers)
    table = Table(title=f"soak, {args.minutes:g} min at {args.rate:,.0f} msg/s (1-record packs, QoS 1)")
    for col in ("t [min]", "RSS [MiB]", "DuckDB [MiB]", "queue", "peak queue",
                "sent", "stored", "p50 ms", "p99 ms", "max ms", "broker holds", "reconnects"):
        table.add_column(col, justify="right")
    for s in samples:
        table.add_row(f"{s.t_s / 60:.2f}", f"{s.rss_mib:.1f}", f"{s.duckdb_mib:.1f}", f"{s.queue:,}",
                      f"{s.peak_queue:,}", f"{s.sent:,}", f"{s.stored:,}", f"{s.p50_ms:.1f}", f"{s.p99_ms:.1f}",
                      f"{s.max_ms:.1f}", f"{s.broker_held:,}", f"{s.reconnects}")
    console.print(table)
    ok = "[green]stored == sent[/]" if stored == n_sent else f"[red]stored {stored:,} != sent {n_sent:,}[/]"
    console.print(f"sent {n_sent:,}, stored {stored:,}: {ok}")
    if samples:
        args.png.parent.mkdir(parents=True, exist_ok=True)
        draw(samples, args.png, f"ingest soak: {args.minutes:g} min at {args.rate:,.0f} msg/s")
        console.print(f"drawn: {args.png}", highlight=False)


if __name__ == "__main__":
    main()
