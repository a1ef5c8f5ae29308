"""``smartlib optimize`` and ``smartlib sweep`` as a user runs them (subprocess), and their mistakes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from conftest import DATA

from geometry.scenario import apply_variant, load_scenario

ROOT = Path(__file__).resolve().parent.parent
SMALL = str(DATA / "day-small.yaml")


def smartlib(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NUMBA_CACHE_DIR": str(ROOT / ".numba_cache")}
    return subprocess.run([sys.executable, "-c", "from twin.cli import main; main()", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def _user_error(r: subprocess.CompletedProcess[str], text: str) -> None:
    assert r.returncode == 2, r.stdout + r.stderr
    assert text in " ".join(r.stderr.split()), r.stderr
    assert "Traceback" not in r.stderr


def test_placement_writes_a_variant_and_a_picture(tmp_path: Path) -> None:
    r = smartlib("optimize", "placement", SMALL, "--device", "co2", "--k", "2", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "of occupancy covered (optimal)" in r.stdout and "gap" in r.stdout
    png = tmp_path / "day-small-co2-k2.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    src = apply_variant(load_scenario(tmp_path / "day-small-co2-k2.yaml"), "co2-k2")
    co2 = [d for d in src.scenario.devices if d.type.value == "co2"]
    assert [d.id for d in co2] == ["co2-opt-1", "co2-opt-2"]
    assert all(d.at is not None for d in co2)


def test_bad_requests_are_messages_not_tracebacks() -> None:
    _user_error(smartlib("optimize", "placement", SMALL, "--device", "co2", "--k", "100000"),
                "k=100000 is larger than the")
    _user_error(smartlib("optimize", "staffing", SMALL, "--target", "wait<2min"),
                "cannot read the staffing target 'wait<2min'")
    _user_error(smartlib("optimize", "staffing", SMALL, "--target", "p(wait>0s)<=0"), "cannot be met")
    _user_error(smartlib("sweep", SMALL, "--grid", "staff.dsk=1..2", "--seeds", "1"),
                "unknown parameter path 'staff.dsk'")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _user_error(smartlib("sweep", SMALL, "--grid", "staff.desk=1..2", "--seeds", "1", "--cluster",
                         f"tcp://127.0.0.1:{port}"), f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}")
