"""Every telemetry path against the embedded amqtt broker (the demo's fallback where Mosquitto is missing).

amqtt speaks MQTT 3.1.1 only and never answers an MQTT 5 CONNECT: devices and the ingest must
find that out and fall back, or `smartlib publish` times out against `smartlib broker --embedded`.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from telemetry_fixtures import DATA, ROOT_DIR

from telemetry import open_store
from telemetry.broker import EmbeddedBroker
from telemetry.mqtt import DeviceClient

SMALL = DATA / "small-branch.yaml"


def smartlib(*args: str) -> list[str]:
    return [sys.executable, "-m", "twin.cli", *args]


def test_a_device_falls_back_to_mqtt_3_1_1_on_the_embedded_broker() -> None:
    b = EmbeddedBroker().start()
    try:
        dev = DeviceClient(b.settings, branch="small", device="d1", status_topic="smartlib/v1/small/d1/status")
        dev.connect(timeout_s=10)
        assert dev.v5 is False
        assert dev.publish("smartlib/v1/small/d1/telemetry", b"[]").rc == 0
        dev.close()
    finally:
        b.stop()


@pytest.mark.slow
def test_publish_and_ingest_through_smartlib_broker_embedded(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    broker = subprocess.Popen(smartlib("broker", "--embedded"), cwd=ROOT_DIR, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    ingest = None
    try:
        assert broker.stdout is not None
        url = None
        for line in broker.stdout:
            m = re.search(r"listening on (mqtt://127\.0\.0\.1:\d+)", line)
            if m:
                url = m.group(1)
                break
        assert url is not None, "smartlib broker --embedded printed no URL"
        store = tmp_path / "embedded.duckdb"
        ingest = subprocess.Popen(smartlib("ingest", "--broker", url, "--store", str(store), "--scenarios", str(SMALL),
                                           "--client-id", "embedded-ingest", "--status-interval", "0.2"),
                                  cwd=ROOT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert ingest.stdout is not None
        head = ingest.stdout.readline()  # printed once subscribed
        assert "MQTT 3.1.1" in head, head
        pub = subprocess.run(smartlib("publish", "--broker", url, "--synthetic", str(SMALL), "--hours", "1",
                                      "--speed", "0"), cwd=ROOT_DIR, env=env, capture_output=True, text=True,
                             timeout=120)
        assert pub.returncode == 0, pub.stdout + pub.stderr
        assert "from 3 devices" in pub.stdout and "Traceback" not in pub.stdout + pub.stderr
        rows = 60 * 3 + 12 * 2  # door counter 2 x 60, seat 60, co2 sensor 2 x 12 (one synthetic hour)
        for line in ingest.stdout:  # status lines until everything is stored
            m = re.search(r"stored ([\d,]+)", line)
            if m and int(m.group(1).replace(",", "")) >= rows:
                break
        ingest.send_signal(signal.SIGTERM)
        out = ingest.communicate(timeout=30)[0]
        assert ingest.returncode == 0, out
        assert "Traceback" not in out
        with open_store(str(store)) as s:
            assert int(s.counts()["records"].sum()) == rows
            assert s.rejection_counts().empty
    finally:
        for p in (ingest, broker):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
