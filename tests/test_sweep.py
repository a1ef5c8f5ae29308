"""Sweeps on Dask: the grid syntax, and identical tables on 1 worker, 2 workers and a separate cluster."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import DATA

from optimization.metrics import replication_seeds
from optimization.scenario import ParameterError, load
from optimization.sweep import Axis, SweepError, grid_points, parse_axis, sweep

ROOT = Path(__file__).resolve().parent.parent
SMALL = DATA / "day-small.yaml"
BIN = Path(sys.executable).parent


def test_grid_axes_parse_and_multiply() -> None:
    assert parse_axis("staff.desk=1..4") == Axis("staff.desk", (1, 2, 3, 4))
    assert parse_axis("x=0..10:5").values == (0, 5, 10)
    assert parse_axis("services.opening_hours=Mo-Su 09:00-18:00, Mo-Su 10:00-20:00").values == (
        "Mo-Su 09:00-18:00", "Mo-Su 10:00-20:00")
    assert parse_axis("a=0.5,1").values == (0.5, 1)
    pts = grid_points([Axis("a", (1, 2)), Axis("b", ("x", "y", "z"))])
    assert len(pts) == 6 and pts[0] == {"a": 1, "b": "x"} and pts[-1] == {"a": 2, "b": "z"}
    for bad in ("staff.desk", "=1..2", "a=4..1", "a=1..x", "a=,"):
        with pytest.raises(SweepError):
            parse_axis(bad)


def test_replication_seeds_do_not_depend_on_anything_but_the_base_seed() -> None:
    assert replication_seeds(3, 5) == replication_seeds(3, 5)
    assert replication_seeds(3, 5)[:2] == replication_seeds(3, 2)
    assert len(set(replication_seeds(3, 50))) == 50


def test_an_unknown_parameter_path_is_named() -> None:
    src = load(SMALL)
    with pytest.raises(ParameterError, match=r"unknown parameter path 'staff\.dsk'"):
        sweep(src, [parse_axis("staff.dsk=1..2")], seeds=1)
    with pytest.raises(ParameterError, match=r"unknown parameter path 'kiosk'.*named parameters: staff.desk"):
        sweep(src, [parse_axis("kiosk=1..2")], seeds=1)
    with pytest.raises(ParameterError, match="no item 'Z'"):
        sweep(src, [parse_axis("building.floors.Z.height_m=3,4")], seeds=1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_sweep_tables_are_identical_on_one_two_and_separate_workers(tmp_path: Path) -> None:
    src = load(SMALL)
    axes = [parse_axis("staff.desk=1..2")]
    one = sweep(src, axes, seeds=1, workers=1)
    two = sweep(src, axes, seeds=1, workers=2)
    assert len(one) == 2 and list(one["staff.desk"]) == [1, 2]
    assert one["visits"].gt(0).all() and one["seed"].nunique() == 1
    pd.testing.assert_frame_equal(one, two)

    # a deployment's cluster: a scheduler and two workers as separate processes (port 0 and a scheduler
    # file: no port picked here that another process could take first), used through `smartlib sweep --cluster`
    env = {**os.environ, "NUMBA_CACHE_DIR": str(ROOT / ".numba_cache")}
    info = tmp_path / "scheduler.json"
    procs = [subprocess.Popen([str(BIN / "dask"), "scheduler", "--port", "0", "--no-dashboard", "--host", "127.0.0.1",
                               "--scheduler-file", str(info)], cwd=tmp_path, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 180.0  # a loaded machine takes long to import distributed
        while not info.is_file() or not info.read_text(encoding="utf-8").strip().endswith("}"):
            assert procs[0].poll() is None, "dask scheduler exited"
            assert time.monotonic() < deadline, "dask scheduler wrote no scheduler file within 180 s"
            time.sleep(0.5)
        address = json.loads(info.read_text(encoding="utf-8"))["address"]
        for _ in range(2):
            procs.append(subprocess.Popen([str(BIN / "dask"), "worker", address, "--nthreads", "1",
                                           "--no-dashboard"], cwd=tmp_path, env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from dask.distributed import Client

        with Client(address, timeout="60s") as c:
            c.wait_for_workers(2, timeout=180)
        out = tmp_path / "far.parquet"
        run = subprocess.run([str(BIN / "smartlib"), "sweep", str(SMALL), "--grid", "staff.desk=1..2", "--seeds", "1",
                              "--cluster", address, "--out", str(out)], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=600)
        assert run.returncode == 0 and "Traceback" not in run.stdout + run.stderr, run.stdout + run.stderr
        far = pd.read_parquet(out)
        pd.testing.assert_frame_equal(one, far, check_dtype=False)
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            p.wait(timeout=30)


def test_an_unreachable_cluster_is_a_clear_message() -> None:
    port = _free_port()  # nothing listens there
    with pytest.raises(SweepError, match=f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}"):
        sweep(load(SMALL), [parse_axis("staff.desk=1..2")], seeds=1, cluster=f"tcp://127.0.0.1:{port}")
