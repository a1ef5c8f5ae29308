"""Telemetry ingest speed against a private Mosquitto, in one run.

1. Throughput, QoS 1, SenML packs of 1 and of 10 records: the raw ceiling (a bare paho subscriber
   that only counts messages, auto-acknowledging) and our ingest (decode, validate, store in DuckDB,
   acknowledge after commit) drain the same stream. The stream is published with ``mosquitto_pub``
   (or paho when it is missing) into each subscriber's persistent session while the subscriber is
   away, so the drain measures the subscriber alone, not the publisher sharing its CPU.
2. Latency from publish to committed at 1,000 msg/s (a paced publisher in another process stamps
   each reading with its publish time; the ingest's commit hook compares): p50, p99, max; alone and
   beside a flood of 5,000 garbage msg/s from one device (``mosquitto_pub``).
3. PostgreSQL: our ingest into the local server (a scratch schema), 10-record packs.
4. Two ingest processes on a shared subscription (``$share/bench/...``) vs one, 10-record packs,
   each process with its own DuckDB file (DuckDB has one writer per file; PostgreSQL would be the
   shared store).

Numbers depend on the machine and its load; nothing here is asserted. "records/CPU-s" divides the readings by
the CPU time the ingest's process used during the drain (all its threads, DuckDB's included; the broker's is
shown apart): what one dedicated core would drain, less dependent on what else shares the machine.

    .venv/bin/python bench/ingest.py [--messages 60000] [--quick]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
import paho.mqtt.client as paho  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from telemetry import Ingest, IngestConfig, load_registry, open_store  # noqa: E402
from telemetry.broker import Mosquitto  # noqa: E402
from telemetry.mqtt import BrokerSettings, connect_blocking, end_session, new_client  # noqa: E402

SCENARIO = ROOT / "tests" / "data" / "small-branch.yaml"
TOPIC = "smartlib/v1/small/co2-reading/telemetry"
console = Console(width=110)


def payloads(n: int, records: int, t0: float) -> list[bytes]:
    """n SenML packs of `records` readings each (co2 and temperature), all times distinct."""
    out = []
    for i in range(n):
        bt = t0 + i * records
        recs: list[dict[str, Any]] = [{"bn": "small/co2-reading/", "bt": bt, "n": "co2", "u": "ppm",
                                       "v": 400 + i % 600}]
        for j in range(1, records):
            q, u, v = ("temperature", "Cel", 20.0 + (i + j) % 50 / 10) if j % 2 else ("co2", "ppm", 400 + j)
            recs.append({"n": q, "u": u, "v": v, "t": j})
        out.append(orjson.dumps(recs))
    return out


def preload(broker: Mosquitto, messages: list[bytes]) -> float:
    """Publish at QoS 1 while the subscriber is away; returns msgs/s of the publisher."""
    t = time.perf_counter()
    exe = shutil.which("mosquitto_pub")
    if exe:
        for k in range(0, len(messages), 60_000):  # mosquitto_pub -l drops QoS 1 lines past 65,535 per run
            chunk = b"\n".join(messages[k:k + 60_000]) + b"\n"
            subprocess.run([exe, "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1", "-l", "-t", TOPIC,
                            "-V", "mqttv5", "-i", f"preload-{k}"], input=chunk, check=True)
    else:
        c = new_client(broker.settings, client_id="preload")
        c.max_inflight_messages_set(1000)
        c.max_queued_messages_set(0)
        connect_blocking(c, broker.settings, timeout_s=10)
        c.loop_start()
        infos = [c.publish(TOPIC, m, qos=1) for m in messages]
        for info in infos:
            info.wait_for_publish(120)
        c.disconnect()
        c.loop_stop()
    return len(messages) / (time.perf_counter() - t)


def session_props() -> Properties:
    p = Properties(PacketTypes.CONNECT)
    p.SessionExpiryInterval = 3600
    p.ReceiveMaximum = 10_000
    return p


def cpu_s(pid: int) -> float:
    """CPU time (user + system) a process has used so far [s], from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raw_drain(broker: Mosquitto, messages: list[bytes]) -> float:
    """A bare paho subscriber: count messages, paho acknowledges them. Returns msgs/s."""
    cid = f"raw-{uuid.uuid4().hex[:6]}"
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=cid, protocol=paho.MQTTv5)
    c.connect("127.0.0.1", broker.port, clean_start=False, properties=session_props())
    c.subscribe("smartlib/v1/#", qos=1)
    c.loop(1.0)
    c.loop(0.2)
    c.disconnect()
    preload(broker, messages)
    n = len(messages)
    got = [0]
    done = threading.Event()

    def on_message(client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        got[0] += 1
        if got[0] >= n:
            done.set()

    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=cid, protocol=paho.MQTTv5)
    c.on_message = on_message
    t = time.perf_counter()
    c.connect("127.0.0.1", broker.port, clean_start=False, properties=session_props())
    c.loop_start()
    done.wait(600)
    el = time.perf_counter() - t
    c.disconnect()
    c.loop_stop()
    end_session(broker.settings, cid)
    return got[0] / el


def our_drain(broker: Mosquitto, messages: list[bytes], store_url: str, client_id: str | None = None,
              share: str | None = None) -> tuple[float, float, float, float]:
    """Our ingest draining the preloaded stream into a store. Returns (msgs/s, records/s, CPU seconds of this
    process and of the broker during the drain)."""
    registry = load_registry(SCENARIO)
    cid = client_id or f"ours-{uuid.uuid4().hex[:6]}"
    cfg = IngestConfig(client_id=cid, share=share)
    store = open_store(store_url)
    first = Ingest(broker=broker.settings, store=store, registry=registry, config=cfg)
    first.start()
    first.stop()  # the session and its subscription now exist on the broker
    preload(broker, messages)
    ing = Ingest(broker=broker.settings, store=store, registry=registry, config=cfg)
    n = len(messages)
    assert broker.proc is not None
    t, cpu0, broker0 = time.perf_counter(), time.process_time(), cpu_s(broker.proc.pid)
    ing.start()
    while ing.stats().messages < n:
        time.sleep(0.002)
        if time.perf_counter() - t > 600:
            break
    el = time.perf_counter() - t
    cpu, broker_cpu = time.process_time() - cpu0, cpu_s(broker.proc.pid) - broker0
    s = ing.stats()
    ing.stop()
    store.close()
    end_session(broker.settings, cid)  # leave no persistent session behind
    if s.rejected:
        console.print(f"[red]unexpected rejections: {s.rejected}[/]")
    return s.messages / el, s.records / el, cpu, broker_cpu


def latency_publisher(port: int, rate: float, seconds: float, records: int) -> None:
    """Runs in another process: publish `rate` msgs/s for `seconds`, each reading stamped when sent."""
    c = new_client(BrokerSettings("127.0.0.1", port), client_id="latency-pub")
    c.max_inflight_messages_set(1000)
    connect_blocking(c, BrokerSettings("127.0.0.1", port), timeout_s=10)
    c.loop_start()
    n = int(rate * seconds)
    t0 = time.time()
    infos = []
    for i in range(n):
        due = t0 + i / rate
        delay = due - time.time()
        if delay > 0:
            time.sleep(delay)
        now = time.time()
        recs: list[dict[str, Any]] = [{"bn": "small/co2-reading/", "bt": now, "n": "co2", "u": "ppm", "v": 500}]
        recs += [{"n": "temperature" if j % 2 else "co2", "u": "Cel" if j % 2 else "ppm", "v": 21.0 if j % 2 else 500,
                  "t": j * 1e-3} for j in range(1, records)]
        infos.append(c.publish(TOPIC, orjson.dumps(recs), qos=1))
    for info in infos:
        info.wait_for_publish(60)
    c.disconnect()
    c.loop_stop()


def flood(broker: Mosquitto, rate: float, seconds: float, start: threading.Event) -> threading.Thread:
    """From ``start`` on, ``mosquitto_pub`` sends a payload that is not JSON at ``rate`` msg/s for ``seconds``."""
    exe = shutil.which("mosquitto_pub")
    if exe is None:
        raise SystemExit("the flood needs mosquitto_pub (package mosquitto-clients)")
    n = int(rate * seconds)

    def run() -> None:
        start.wait(120)
        proc = subprocess.Popen([exe, "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1", "-l", "-t",
                                 "smartlib/v1/small/door-counter/telemetry", "-V", "mqttv5", "-i", "flooder"],
                                stdin=subprocess.PIPE)
        assert proc.stdin is not None
        t0, k = time.monotonic(), 0
        while k < n:
            due = min(n, int((time.monotonic() - t0) * rate))
            if due > k:
                proc.stdin.write(b"".join(b"{garbage %d\n" % i for i in range(k, due)))
                proc.stdin.flush()
                k = due
            time.sleep(0.005)
        proc.stdin.close()
        proc.wait(120)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def latency(broker: Mosquitto, store_url: str, rate: float = 1000.0, seconds: float = 10.0,
            flood_rate: float = 0.0) -> dict[str, float]:
    """Publish-to-committed latency of the first reading of each message [ms], optionally beside a garbage flood."""
    lat: list[float] = []
    first = threading.Event()

    def on_commit(batch: Any, result: Any, committed_at: float) -> None:
        # 1-record packs: each reading's time is the instant it was published
        lat.extend(committed_at - t for t in batch.readings.column("time").to_pylist())
        first.set()

    store = open_store(store_url)
    ing = Ingest(broker=broker.settings, store=store, registry=load_registry(SCENARIO),
                 config=IngestConfig(client_id=f"lat-{uuid.uuid4().hex[:6]}"))
    ing.subscribe(on_commit)
    ing.start()
    cid = ing.client_id
    proc = mp.get_context("spawn").Process(target=latency_publisher, args=(broker.port, rate, seconds, 1))
    proc.start()
    flooder = flood(broker, flood_rate, seconds * 0.9, first) if flood_rate > 0 else None
    proc.join(seconds * 5 + 30)
    if flooder is not None:
        flooder.join(120)
    n = int(rate * seconds)
    deadline = time.time() + 30
    while ing.stats().messages < n and time.time() < deadline:
        time.sleep(0.01)
    ing.stop()
    store.close()
    end_session(broker.settings, cid)
    ms = sorted(x * 1000 for x in lat)
    return {"n": len(ms), "p50": statistics.median(ms), "p99": ms[int(0.99 * (len(ms) - 1))], "max": ms[-1],
            "rejected": ing.stats().rejected}


def share_worker(port: int, client_id: str, store_path: str, ready: Any, go: Any, out: Any) -> None:
    """Runs in its own process: one ingest member of the share group; reports (messages, records, t0, t1)."""
    registry = load_registry(SCENARIO)
    store = open_store(store_path)
    cfg = IngestConfig(client_id=client_id, share="bench")
    first = Ingest(broker=BrokerSettings("127.0.0.1", port), store=store, registry=registry, config=cfg)
    first.start()
    first.stop()
    ready.set()
    go.wait()
    ing = Ingest(broker=BrokerSettings("127.0.0.1", port), store=store, registry=registry, config=cfg)
    t0 = time.time()
    ing.start()
    last_n, last_change = 0, time.time()
    while True:
        time.sleep(0.01)
        n = ing.stats().messages
        if n != last_n:
            last_n, last_change = n, time.time()
        elif n and time.time() - last_change > 5.0:  # a loaded machine pauses for seconds
            break
        if time.time() - t0 > 300:
            break
    s = ing.stats()
    ing.stop()
    store.close()
    out.put((s.messages, s.records, t0, last_change))


def shared(broker: Mosquitto, messages: list[bytes], workers: int, tmp: Path) -> tuple[float, float, list[int]]:
    ctx = mp.get_context("fork")
    readies, go, out = [ctx.Event() for _ in range(workers)], ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=share_worker, args=(broker.port, f"share-{workers}-{k}",
                                                    str(tmp / f"share-{workers}-{k}.duckdb"), readies[k], go, out))
             for k in range(workers)]
    for p in procs:
        p.start()
    for r in readies:
        r.wait(60)
    preload(broker, messages)
    go.set()
    results = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(30)
    for k in range(workers):  # the group's sessions would otherwise keep receiving a share of later streams
        end_session(broker.settings, f"share-{workers}-{k}")
    total_msgs = sum(r[0] for r in results)
    total_recs = sum(r[1] for r in results)
    span = max(r[3] for r in results) - min(r[2] for r in results)
    return total_msgs / span, total_recs / span, [r[0] for r in results]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=60_000, help="messages of the 1-record stream")
    ap.add_argument("--quick", action="store_true", help="small streams (a smoke run)")
    args = ap.parse_args()
    n1 = 5_000 if args.quick else args.messages
    n10 = max(1, n1 // 3)
    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    console.print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                  f"load average {os.getloadavg()[0]:.2f} (other processes share the cores)", highlight=False)
    t0 = time.time() - 5 * 86_400  # readings five days old: inside the 7-day window
    with Mosquitto(workdir=tmp / "mosquitto") as broker:
        table = Table(title="QoS 1 drain of a preloaded stream: bare paho subscriber vs our ingest (DuckDB)")
        for col in ("pack", "messages", "raw msg/s", "ours msg/s", "ours records/s", "ratio ours/raw",
                    "ours records/CPU-s", "broker CPU s"):
            table.add_column(col, justify="right")
        for records, n in ((1, n1), (10, n10)):
            msgs = payloads(n, records, t0)
            raw = raw_drain(broker, msgs)
            ours_m, ours_r, cpu, broker_cpu = our_drain(broker, msgs, f"duckdb:///{tmp / f'ours{records}.duckdb'}")
            table.add_row(f"{records} record{'s' if records > 1 else ''}", f"{n:,}", f"{raw:,.0f}", f"{ours_m:,.0f}",
                          f"{ours_r:,.0f}", f"{ours_m / raw:.2f}", f"{n * records / cpu:,.0f}", f"{broker_cpu:.2f}")
        console.print(table)
        lt = Table(title="latency publish -> committed of valid readings at 1,000 msg/s (1-record packs, DuckDB)")
        for col in ("beside", "valid messages", "garbage messages", "p50 ms", "p99 ms", "max ms"):
            lt.add_column(col, justify="right")
        for label, flood_rate in (("nothing", 0.0), ("a 5,000 msg/s garbage flood", 5000.0)):
            lat = latency(broker, f"duckdb:///{tmp / f'latency{int(flood_rate)}.duckdb'}",
                          seconds=3.0 if args.quick else 10.0, flood_rate=flood_rate)
            lt.add_row(label, f"{lat['n']:,}", f"{int(lat['rejected']):,}", f"{lat['p50']:.1f}", f"{lat['p99']:.1f}",
                       f"{lat['max']:.1f}")
        console.print(lt)
        pg = Table(title="PostgreSQL store (local server, scratch schema), 10-record packs")
        for col in ("messages", "msg/s", "records/s", "ours records/CPU-s"):
            pg.add_column(col, justify="right")
        pg_url = None
        try:
            import psycopg

            for user in ("postgres", os.environ.get("USER", "")):
                try:
                    psycopg.connect(host="127.0.0.1", port=5432, dbname="test", user=user, connect_timeout=3).close()
                    pg_url = f"postgresql://{user}@127.0.0.1:5432/test"
                    break
                except psycopg.Error:
                    continue
        except ImportError:
            pass
        if pg_url is not None:
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            msgs = payloads(n10, 10, t0)
            m, r, cpu, _ = our_drain(broker, msgs, f"{pg_url}?schema={schema}")
            pg.add_row(f"{n10:,}", f"{m:,.0f}", f"{r:,.0f}", f"{n10 * 10 / cpu:,.0f}")
            import psycopg

            with psycopg.connect(pg_url, autocommit=True) as con:
                con.execute(f'DROP SCHEMA "{schema}" CASCADE')
        else:
            pg.add_row("-", "no PostgreSQL on 127.0.0.1:5432", "-", "-")
        console.print(pg)
        sh = Table(title="shared subscription, 10-record packs, each process its own DuckDB file")
        for col in ("ingest processes", "messages", "msg/s", "records/s", "split"):
            sh.add_column(col, justify="right")
        for workers in (1, 2):
            msgs = payloads(n10, 10, t0)
            m, r, split = shared(broker, msgs, workers, tmp)
            sh.add_row(str(workers), f"{n10:,}", f"{m:,.0f}", f"{r:,.0f}", " / ".join(f"{x:,}" for x in split))
        console.print(sh)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
