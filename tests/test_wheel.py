"""The wheel carries the built-in branches: installed outside the checkout, names still resolve."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT


def _uv() -> str:
    uv = Path(sys.executable).parent / "uv"
    return str(uv) if uv.exists() else (shutil.which("uv") or pytest.fail("uv is needed (make venv installs it)"))


@pytest.mark.slow
def test_installed_wheel_runs_builtin_scenarios_outside_the_checkout(tmp_path: Path) -> None:
    uv = _uv()
    dist = tmp_path / "dist"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    # sdist first, the wheel from it (no build folder left in the checkout)
    subprocess.run([uv, "build", "--out-dir", str(dist), str(ROOT)], check=True, env=env,
                   capture_output=True, timeout=600)
    wheel = next(dist.glob("smartlib_twin-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert {"scenarios/district-branch.yaml", "scenarios/service-point.yaml"} <= set(names)
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "--python", sys.executable, str(venv)], check=True, env=env, capture_output=True,
                   timeout=300)
    subprocess.run([uv, "pip", "install", "--python", str(venv / "bin" / "python"), str(wheel)], check=True,
                   env=env, capture_output=True, timeout=600)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    smartlib = str(venv / "bin" / "smartlib")
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "numba")
    r = subprocess.run([smartlib, "scenario", "validate", "district-branch"], cwd=elsewhere, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "ok" in r.stdout and str(ROOT) not in r.stdout  # the wheel's copy, not the checkout's
    r = subprocess.run([smartlib, "simulate", "service-point", "--out", str(elsewhere / "out")], cwd=elsewhere,
                       env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert (elsewhere / "out" / "kpis.json").exists() and "visits" in r.stdout
