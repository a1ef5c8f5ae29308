"""The hub's cost: readings/s through ingest + twins vs the ingest alone, and resident memory.

Three built-in branches, one simulated day each, their telemetry as the devices would publish it
(one SenML pack per device and reading time). The stream is published at QoS 1 into the
subscriber's persistent session while the subscriber is away, then drained as fast as the broker
gives it, so each run measures the subscriber alone:

1. the ingest alone (validate, store in DuckDB, acknowledge after commit);
2. the hub: the same ingest in the same process, every committed batch handed to the branch twins
   (reorder window, occupancy estimates each minute of reading time, health, alerts into the store);
3. the twins alone: the same readings applied straight from the table (no broker, no store).

Each drain runs in a fresh process, whose peak resident memory is reported. Goals (issue): the
twins cost under 20 % of the ingest's throughput; the hub stays under 500 MB.

    .venv/bin/python bench/hub.py [--quick]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

BRANCHES = ("central-library", "district-branch", "service-point")
console = Console(width=120)


def simulate(out: Path, hours: float | None) -> Path:
    """One simulated day of each built-in branch, their telemetry in one time-ordered table."""
    from geometry.build import build_building
    from geometry.scenario.source import resolve_file
    from simulation.day.library_day import run_day
    from simulation.day.sensors import telemetry_arrow

    parts = []
    for name in BRANCHES:
        t = time.perf_counter()
        src = resolve_file(ROOT / "scenarios" / f"{name}.yaml")
        res = run_day(build_building(src), src, seed=1)
        tel = telemetry_arrow(res.telemetry)
        if hours is not None:
            t0 = tel.column("time")[0].as_py()
            tel = tel.filter(pa.compute.less(tel.column("time"), t0 + hours * 3600.0))
        parts.append(tel)
        console.print(f"simulated {name}: {tel.num_rows:,} readings in {time.perf_counter() - t:.1f} s",
                      highlight=False)
    table = pa.concat_tables(parts)
    table = table.take(pa.compute.sort_indices(table, [("time", "ascending"), ("branch", "ascending")]))
    path = out / "telemetry.parquet"
    pq.write_table(table, path)
    return path


def peak_rss_mb() -> float:
    """This process's peak resident memory [MB] (VmHWM: unlike ru_maxrss, not inherited across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _registry_files() -> list[str]:
    return [str(ROOT / "scenarios" / f"{b}.yaml") for b in BRANCHES]


def _session(kind: str, port: int, store_url: str, client_id: str) -> None:
    """Runs in another process: create the persistent session (subscribe, then leave)."""
    from telemetry import Ingest, IngestConfig, load_registry, open_store
    from telemetry.mqtt import BrokerSettings
    from telemetry.senml import Limits

    store = open_store(store_url)
    ing = Ingest(broker=BrokerSettings("127.0.0.1", port), store=store, registry=load_registry(_registry_files()),
                 config=IngestConfig(client_id=client_id, limits=Limits(max_past_s=0)))
    ing.start()
    ing.stop()
    store.close()


def _drain(kind: str, port: int, store_url: str, client_id: str, n: int, out: Any) -> None:
    """Runs in another process: drain the preloaded session (ingest alone, or the hub); report time and memory."""
    from telemetry import Ingest, IngestConfig, load_registry, open_store
    from telemetry.mqtt import BrokerSettings
    from telemetry.senml import Limits
    from twin.hub import Hub, HubConfig
    from twin.registry import TwinRegistry

    settings = BrokerSettings("127.0.0.1", port)
    cfg = IngestConfig(client_id=client_id, limits=Limits(max_past_s=0))
    if kind == "ingest":
        store = open_store(store_url)
        ing = Ingest(broker=settings, store=store, registry=load_registry(_registry_files()), config=cfg)
        t = time.perf_counter()
        ing.start()
        while ing.stats().records < n and time.perf_counter() - t < 900:
            time.sleep(0.005)
        el = time.perf_counter() - t
        done = ing.stats().records
        ing.stop()
        store.close()
        extra = ""
    else:
        reg = TwinRegistry([t for f in _registry_files() for t in TwinRegistry.from_dir(f)])
        hub = Hub(registry=reg, store_url=store_url, broker=settings, ingest_config=cfg,
                  config=HubConfig(clock="data", reorder_s=0.0, rebuild_s=0, publish_alerts=False))
        t = time.perf_counter()
        hub.start()
        while (s := hub.stats()).readings + s.duplicates + s.late < n and time.perf_counter() - t < 900:
            time.sleep(0.005)
            if s.error:
                break
        # the last reorder window is handed over after flush_after_s of quiet: not the twins' cost
        el = time.perf_counter() - t
        done = hub.ingest_stats().records
        s = hub.stats()
        hub.stop()
        occ = ", ".join(f"{b} {st.occupancy:.0f}" for b, st in reg.states().items())
        extra = f"applied {s.readings:,} (late {s.late:,}); occupancy at the end: {occ}"
    rss_mb = peak_rss_mb()
    out.put((done, el, rss_mb, extra))


def _twins_alone(path: str, out: Any) -> None:
    """Runs in another process: the twins fed straight from the table, in ingest-sized batches."""
    from twin.registry import TwinRegistry

    table = pq.read_table(path)
    reg = TwinRegistry([t for f in _registry_files() for t in TwinRegistry.from_dir(f)])
    t = time.perf_counter()
    for i in range(0, table.num_rows, 5_000):
        reg.apply(table.slice(i, 5_000))
    el = time.perf_counter() - t
    rss_mb = peak_rss_mb()
    out.put((table.num_rows, el, rss_mb, ""))


def _run(target: Any, *args: Any) -> tuple[int, float, float, str]:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=target, args=(*args, q))
    p.start()
    res = q.get(timeout=1800)
    p.join(60)
    return res  # type: ignore[no-any-return]


def preload(port: int, path: Path) -> tuple[int, int, float]:
    """Publish the telemetry as device packs at QoS 1 into the waiting session; (messages, readings, s)."""
    from telemetry.mqtt import BrokerSettings, connect_blocking, new_client
    from telemetry.records import records_to_packs

    table = pq.read_table(path)
    msgs = list(records_to_packs(table))
    settings = BrokerSettings("127.0.0.1", port)
    c = new_client(settings, client_id="bench-hub-preload")
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    connect_blocking(c, settings, timeout_s=10)
    c.loop_start()
    t = time.perf_counter()
    for k in range(0, len(msgs), 5_000):  # keep paho's outgoing queue bounded
        infos = [c.publish(m.topic, m.payload, qos=1) for m in msgs[k:k + 5_000]]
        for info in infos:
            info.wait_for_publish(300)
    c.disconnect()
    c.loop_stop()
    return len(msgs), table.num_rows, time.perf_counter() - t


def main() -> None:
    from telemetry.broker import Mosquitto

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="the first 6 hours of each day (a smoke run)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-hub-"))
    console.print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                  f"load average {os.getloadavg()[0]:.2f} (other processes share the cores)", highlight=False)
    path = simulate(tmp, 6.0 if args.quick else None)
    rows = []
    with Mosquitto(workdir=tmp / "mosquitto") as broker:
        for kind in ("ingest", "hub"):
            cid = f"bench-{kind}"
            url = f"duckdb:///{tmp / f'{kind}.duckdb'}"
            _session_proc = mp.get_context("spawn").Process(target=_session, args=(kind, broker.port, url, cid))
            _session_proc.start()
            _session_proc.join(300)
            n_msgs, n, pub_s = preload(broker.port, path)
            done, el, rss, extra = _run(_drain, kind, broker.port, url, cid, n)
            rows.append((kind, n_msgs, done, el, rss, extra))
            console.print(f"{kind}: {done:,} readings in {el:.1f} s (preloaded {n_msgs:,} messages in {pub_s:.1f} s)"
                          + (f"; {extra}" if extra else ""), highlight=False)
    n, el, rss, _ = _run(_twins_alone, str(path))
    rows.append(("twins alone", 0, n, el, rss, ""))
    ingest_rate = rows[0][2] / rows[0][3]
    table = Table(title="3 branches, one simulated day each: ingest alone vs ingest + twins in one process "
                        "(DuckDB), QoS 1 drain")
    for col in ("run", "messages", "readings", "seconds", "readings/s", "vs ingest", "peak RSS MB"):
        table.add_column(col, justify="right")
    for kind, msgs, done, el, rss, _ in rows:
        rate = done / el
        table.add_row(kind, f"{msgs:,}" if msgs else "-", f"{done:,}", f"{el:.1f}", f"{rate:,.0f}",
                      f"{rate / ingest_rate:.2f}", f"{rss:,.0f}")
    console.print(table)
    hub_rate = rows[1][2] / rows[1][3]
    twins_rate = rows[2][2] / rows[2][3]
    console.print(f"the twins cost {100 * (1 - hub_rate / ingest_rate):.0f} % of the ingest's throughput "
                  f"(goal under 20 %); alone they apply {twins_rate:,.0f} readings/s, "
                  f"{twins_rate / ingest_rate:.1f}x the ingest's rate; hub peak RSS {rows[1][4]:,.0f} MB "
                  f"(goal under 500 MB)", highlight=False)


if __name__ == "__main__":
    main()
