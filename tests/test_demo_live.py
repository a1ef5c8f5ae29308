"""`smartlib demo --duration S`: the summary, then the live hub with its dashboard; exits 0 with the store consistent.

Run twice: on a private Mosquitto, and with Mosquitto hidden as on a machine without it (the
demo's own choice, no option given: it must fall back to the embedded amqtt broker). Hidden means
a private mount namespace in which every Mosquitto binary is covered by an empty, non-executable
file (needs root, as CI has). Meanwhile the dashboard must answer on the printed URL.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT, require

from telemetry import open_store
from telemetry.broker import MOSQUITTO_PATHS, find_mosquitto

pytestmark = pytest.mark.slow


def without_mosquitto(tmp_path: Path) -> list[str]:
    """A command prefix running the rest where no Mosquitto binary can be found or executed (a private
    mount namespace)."""
    found = {p for p in (*MOSQUITTO_PATHS, shutil.which("mosquitto")) if p and os.path.exists(p)}
    empty = tmp_path / "no-mosquitto"
    empty.write_bytes(b"")
    empty.chmod(0o644)
    can = shutil.which("unshare") is not None and os.geteuid() == 0 and subprocess.run(
        ["unshare", "-m", "true"], capture_output=True).returncode == 0
    require(can, "root and unshare(1) to hide Mosquitto in a mount namespace")
    cover = " && ".join(f"mount --bind {shlex.quote(str(empty))} {shlex.quote(p)}" for p in sorted(found)) or "true"
    return ["unshare", "-m", "sh", "-c", f'{cover} && exec "$@"', "sh"]


@pytest.mark.parametrize("broker", ["mosquitto", "hidden"])
def test_demo_runs_the_live_hub_for_its_duration(broker: str, tmp_path: Path) -> None:
    if broker == "mosquitto":
        require(find_mosquitto() is not None, "Mosquitto (/usr/sbin/mosquitto)")
    # port 0: the demo takes any free port and prints it (a port picked here could be taken meanwhile)
    args = [sys.executable, "-m", "twin.cli", "demo", "--out", str(tmp_path / "demo"), "--duration", "60",
            "--port", "0"]
    if broker == "hidden":
        hide = without_mosquitto(tmp_path)
        probe = subprocess.run([*hide, sys.executable, "-c",
                                "from telemetry.broker import find_mosquitto; print(find_mosquitto())"],
                               cwd=ROOT, capture_output=True, text=True)
        assert probe.stdout.strip() == "None", probe.stdout + probe.stderr
        args = [*hide, *args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    answered: list[int] = []
    seen_url = threading.Event()

    def poll(url: str) -> None:  # the page and its layout answer while the hub runs
        while proc.poll() is None:
            try:
                with urllib.request.urlopen(url + "/", timeout=10) as r:
                    page = r.read().decode()
                with urllib.request.urlopen(url + "/_dash-layout", timeout=10) as r:
                    layout = r.read().decode()
                if "Smartlib hub" in page and '"page"' in layout:
                    answered.append(r.status)
            except OSError:
                pass
            time.sleep(2.0)

    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            m = re.search(r"dashboard on (http://127\.0\.0\.1:\d+)", line)
            if m and not seen_url.is_set():
                seen_url.set()
                threading.Thread(target=poll, args=(m.group(1),), daemon=True).start()
        assert proc.wait(120) == 0, "".join(lines[-30:])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out = "".join(lines)
    assert "Traceback" not in out
    assert re.search(r"dashboard on http://127\.0\.0\.1:[1-9]\d*", out)
    assert (", embedded;" in out) == (broker == "hidden")
    assert answered, "the dashboard never answered while the hub ran"
    m = re.search(r"stopped: ([\d,]+) readings published live, ([\d,]+) in the store \(([\d,]+) written as history\), "
                  r"(\d+) rejected", " ".join(out.split()))
    assert m is not None, out[-2000:]
    published, stored, history, rejected = (int(g.replace(",", "")) for g in m.groups())
    assert published > 0 and rejected == 0
    assert stored == history + published
    with open_store(str(tmp_path / "demo" / "live" / "live.duckdb"), read_only=True) as s:
        counts = s.counts()
        assert int(counts["records"].sum()) == stored
        assert set(counts["branch"]) == {"central-library", "district-branch", "service-point"}
