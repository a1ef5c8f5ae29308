"""``smartlib dashboard`` as an operator runs it: served on a real store and broker, fed, stopped; its mistakes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from test_cli_simulate import smartlib

from telemetry import open_store
from telemetry.broker import Mosquitto

ROOT = Path(__file__).resolve().parent.parent


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.status, r.read().decode("utf-8")


def test_dashboard_serves_ingests_and_stops_cleanly(broker: Mosquitto, store_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "250", "NUMBA_CACHE_DIR": str(ROOT / ".numba_cache")}
    p = subprocess.Popen([sys.executable, "-c", "from twin.cli import main; main()", "dashboard", "--store",
                          store_url, "--broker", broker.url, "--port", "0", "--results", str(tmp_path / "results")],
                         cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout is not None
        line = ""
        deadline = time.monotonic() + 120
        while "dashboard on" not in line and time.monotonic() < deadline and p.poll() is None:
            line = p.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        assert m, (line, p.stderr.read() if p.poll() is not None else "")
        assert "ingesting from " + broker.url in line
        url = m.group(0)
        status, page = _get(url + "/")
        assert status == 200 and "<title>" in page
        status, layout = _get(url + "/_dash-layout")
        assert status == 200 and json.loads(layout)  # the app's layout as JSON
        # devices publish half an hour of a built-in branch; the dashboard's hub stores it
        r = smartlib("publish", "--broker", broker.url, "--synthetic", "service-point", "--hours", "0.5",
                     "--speed", "0")
        assert r.returncode == 0, r.stderr
        sent = int(re.search(r"([\d,]+) readings", r.stdout).group(1).replace(",", ""))  # type: ignore[union-attr]
        assert sent > 0
        # the Devices page answers while the stream lands
        status, _ = _get(url + "/devices")
        assert status == 200
        time.sleep(3.0)  # the ingest commits its last batch within its flush interval
    finally:
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert "dashboard stopped" in out and "Traceback" not in err
    s = open_store(store_url)  # the dashboard has stopped: what it stored is final
    try:
        assert s.stats().records == sent
    finally:
        s.close()


def test_dashboard_mistakes_are_messages(tmp_path: Path) -> None:
    store = f"duckdb:///{tmp_path / 't.duckdb'}"
    env_password = {k: v for k, v in os.environ.items() if not k.startswith("SMARTLIB_DASHBOARD_PASSWORD")}
    cases = [
        # another address than loopback without a password
        (["dashboard", "--store", store, "--host", "0.0.0.0", "--port", "0"], "password"),
        # a store that does not answer
        (["dashboard", "--store", "postgresql://nobody@127.0.0.1:1/none", "--port", "0"], "127.0.0.1:1"),
        # a store URL of no known kind
        (["dashboard", "--store", "mongodb://x", "--port", "0"], "mongodb"),
        # a scenario folder that is not there
        (["dashboard", "--store", store, "--scenarios", str(tmp_path / "nowhere"), "--port", "0"], "nowhere"),
    ]
    for args, named in cases:
        r = subprocess.run([sys.executable, "-c", "from twin.cli import main; main()", *args], cwd=ROOT,
                           env={**env_password, "COLUMNS": "250"}, capture_output=True, text=True, timeout=120)
        text = r.stdout + r.stderr
        assert r.returncode != 0, args
        assert named in text, (args, text)
        assert "Traceback" not in text, (args, text)
