"""What a broker crash loses: a private Mosquitto SIGKILLed mid-stream and restarted on its persistence file.

A paced QoS 1 publisher (persistent session; paho resends what the broker had not acknowledged)
streams 1-record packs into our ingest (DuckDB). ``--kill-at`` seconds in, the broker is killed with
SIGKILL, stays down ``--down`` seconds and comes back on the same port and persistence folder.
The table gives, per persistence setting, the readings sent and stored, the loss, and whether any
reading was stored twice. The loss is what the broker had acknowledged to the publisher but had
neither saved nor delivered to the ingest when it died.

    .venv/bin/python bench/broker_crash.py [--rate 500] [--kill-at 20] [--down 20]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from telemetry import Ingest, IngestConfig, load_registry, open_store  # noqa: E402
from telemetry.broker import AUTOSAVE_INTERVAL_S, Mosquitto, free_port, mosquitto_config  # noqa: E402
from telemetry.mqtt import connect_blocking, new_client  # noqa: E402

SCENARIO = ROOT / "tests" / "data" / "small-branch.yaml"
TOPIC = "smartlib/v1/small/co2-reading/telemetry"


def run(workdir: Path, autosave: str, rate: float, kill_at_s: float, down_s: float, after_s: float) -> dict[str, int]:
    """One crash; ``autosave`` is the persistence lines of the config."""
    port = free_port()
    data = workdir / "data"
    data.mkdir(parents=True)
    text = mosquitto_config(port=port, persistence_dir=str(data), log_file=str(workdir / "mosquitto.log"))
    text = "\n".join(x for x in text.splitlines() if not x.startswith("autosave")) + "\n" + autosave + "\n"
    broker = Mosquitto(workdir=workdir, port=port, config_text=text).start()
    store = open_store(str(workdir / "crash.duckdb"))
    ing = Ingest(broker=broker.settings, store=store, registry=load_registry(SCENARIO),
                 config=IngestConfig(client_id="crash-ingest"))
    ing.start()
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    pub = new_client(broker.settings, client_id="crash-publisher")
    pub.max_inflight_messages_set(200)
    pub.max_queued_messages_set(0)
    pub.reconnect_delay_set(1, 2)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    connect_blocking(pub, broker.settings, timeout_s=10, clean_start=False, properties=props)
    pub.loop_start()
    n = int(rate * (kill_at_s + down_s + after_s))
    t_base = time.time() - 3600
    infos = []

    def stream() -> None:
        t0 = time.monotonic()
        for i in range(n):
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            payload = orjson.dumps([{"bn": "small/co2-reading/", "bt": t_base + i * 1e-3, "n": "co2", "u": "ppm",
                                     "v": 400 + i % 500}])
            infos.append(pub.publish(TOPIC, payload, qos=1))

    streamer = threading.Thread(target=stream)
    streamer.start()
    time.sleep(kill_at_s)
    broker.restart(kill=True, down_s=down_s)
    streamer.join()
    deadline = time.monotonic() + 120
    while not all(i._published for i in infos) and time.monotonic() < deadline:
        time.sleep(0.05)
    # the ingest's reconnect backs off (1, 2, 4 ... 30 s): after a long outage it may come back well after the
    # publisher; what waits for it in its session is not lost, so judge only once it is connected again
    while not ing.stats().connected and time.monotonic() < deadline + 60:
        time.sleep(0.05)
    last, last_t = -1, time.monotonic()
    while time.monotonic() - last_t < 5.0:
        s = ing.stats().inserted
        if s != last:
            last, last_t = s, time.monotonic()
        if s >= n:
            break
        time.sleep(0.05)
    ing.stop()
    pub.disconnect()
    pub.loop_stop()
    stored = int(store.counts()["records"].sum())
    distinct = int(store._query("SELECT count(DISTINCT time) AS n FROM readings")["n"].iloc[0])
    store.close()
    broker.close()
    return {"sent": n, "stored": stored, "lost": n - distinct, "doubled": stored - distinct}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rate", type=float, default=500.0, help="messages per second")
    ap.add_argument("--kill-at", type=float, default=20.0, help="seconds into the stream the broker is killed")
    ap.add_argument("--down", type=float, default=20.0, help="seconds the broker stays down")
    ap.add_argument("--after", type=float, default=5.0, help="seconds the stream goes on after the restart")
    args = ap.parse_args()
    console = Console(width=110)
    table = Table(title=f"Mosquitto SIGKILLed {args.kill_at:g} s into a {args.rate:g} msg/s QoS 1 stream, "
                        f"down {args.down:g} s")
    for col in ("persistence", "sent", "stored", "lost", "stored twice"):
        table.add_column(col, justify="right" if col != "persistence" else "left")
    variants = [("autosave_interval 60 (once a minute, the old config)", "autosave_interval 60"),
                ("autosave_on_changes, every 100 changes (session 2's config)",
                 "autosave_on_changes true\nautosave_interval 100"),
                (f"autosave_interval {AUTOSAVE_INTERVAL_S} (shipped)", f"autosave_interval {AUTOSAVE_INTERVAL_S}")]
    with tempfile.TemporaryDirectory(prefix="bench-crash-") as tmp:
        for k, (label, lines) in enumerate(variants):
            r = run(Path(tmp) / str(k), lines, args.rate, args.kill_at, args.down, args.after)
            table.add_row(label, f"{r['sent']:,}", f"{r['stored']:,}", f"{r['lost']:,}", f"{r['doubled']:,}")
    console.print(table)


if __name__ == "__main__":
    main()
