"""How fast the broker takes messages while a backlog waits for an ingest that is away.

A persistent QoS 1 session (the ingest's) subscribes and disconnects; a publisher then sends
``--messages`` QoS 1 messages as fast as the broker acknowledges them (at most 5,000 unacknowledged).
The table gives the broker's acceptance rate for each block of 10,000 as the backlog grows, for a
save after every 100 changes, the shipped save once a second, and no persistence. It
answers: if the ingest is down, how long can devices keep publishing at a given rate before the
broker itself falls behind?

    .venv/bin/python bench/broker_backlog.py [--messages 100000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import Progress  # noqa: E402
from rich.table import Table  # noqa: E402

from telemetry.broker import AUTOSAVE_INTERVAL_S, Mosquitto, free_port, mosquitto_config  # noqa: E402
from telemetry.mqtt import connect_blocking, new_client  # noqa: E402

BLOCK = 10_000
MODES = {
    "save every 100 changes": "autosave_on_changes true\nautosave_interval 100",
    f"save every {AUTOSAVE_INTERVAL_S} s (shipped)": f"autosave_interval {AUTOSAVE_INTERVAL_S}",
    "no persistence": None,
}
PAYLOAD = b'[{"bn":"small/co2-reading/","bt":1790000000.0,"n":"co2","u":"ppm","v":500}]'


def accept_rates(workdir: Path, autosave: str | None, n: int, progress: Progress) -> list[float]:
    """Messages/s the broker acknowledged in each block of 10,000 while the session's backlog grew."""
    port = free_port()
    data = workdir / "data"
    data.mkdir(parents=True)
    text = mosquitto_config(port=port, persistence_dir=str(data) if autosave else None)
    lines = [x for x in text.splitlines() if not x.startswith("autosave")]
    text = "\n".join(lines) + "\n" + (autosave + "\n" if autosave else "")
    with Mosquitto(workdir=workdir, port=port, config_text=text) as broker:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600  # the session outlives the connection, as the ingest's does
        away = new_client(broker.settings, client_id="away-ingest")
        connect_blocking(away, broker.settings, timeout_s=10, clean_start=False, properties=props)
        away.loop_start()
        away.subscribe("smartlib/v1/#", qos=1)
        time.sleep(0.3)
        away.disconnect()
        away.loop_stop()
        pub = new_client(broker.settings, client_id="backlog-publisher")
        pub.max_inflight_messages_set(1000)
        acked = [0]
        pub.on_publish = lambda *a: acked.__setitem__(0, acked[0] + 1)
        connect_blocking(pub, broker.settings, timeout_s=10)
        pub.loop_start()
        task = progress.add_task("publishing", total=n)
        rates: list[float] = []
        t_block = time.monotonic()
        for i in range(n):
            while i - acked[0] > 5_000:
                time.sleep(0.001)
            pub.publish("smartlib/v1/small/co2-reading/telemetry", PAYLOAD, qos=1)
            if (i + 1) % BLOCK == 0:
                while acked[0] < i + 1 - 100:
                    time.sleep(0.001)
                now = time.monotonic()
                rates.append(BLOCK / (now - t_block))
                t_block = now
                progress.update(task, completed=i + 1)
        pub.disconnect()
        pub.loop_stop()
        progress.remove_task(task)
    return rates


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=100_000, help="messages to queue for the absent ingest")
    args = ap.parse_args()
    console = Console(width=110)
    console.print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (other processes share them)",
                  highlight=False)
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-backlog-") as tmp, Progress(console=console, transient=True) as p:
        for k, (label, autosave) in enumerate(MODES.items()):
            results[label] = accept_rates(Path(tmp) / str(k), autosave, args.messages, p)
    table = Table(title="messages/s the broker accepts as an absent ingest's backlog grows (QoS 1, 1-record packs)")
    table.add_column("backlog")
    for label in results:
        table.add_column(label, justify="right")
    for b in range(args.messages // BLOCK):
        table.add_row(f"{(b + 1) * BLOCK:,}", *(f"{r[b]:,.0f}" for r in results.values()))
    console.print(table)


if __name__ == "__main__":
    main()
