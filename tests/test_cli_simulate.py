"""``smartlib simulate`` and ``smartlib compare`` as a user runs them (subprocess), and their mistakes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import DATA

ROOT = Path(__file__).resolve().parent.parent
SMALL = str(DATA / "day-small.yaml")


def smartlib(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NUMBA_CACHE_DIR": str(ROOT / ".numba_cache")}
    return subprocess.run([sys.executable, "-c", "from twin.cli import main; main()", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(("option", "walker"), [((), "CrowdWalker"), (("--walker", "grid"), "GridWalker")])
def test_simulate_writes_the_tables_the_picture_and_prints_kpis(tmp_path: Path, option: tuple[str, ...],
                                                                walker: str) -> None:
    """The crowd walker unless told otherwise; the grid walker on ``--walker grid``."""
    r = smartlib("simulate", SMALL, "--seed", "5", *option, "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    for name in ("kpis.json", "zones.parquet", "events.parquet", "telemetry.parquet", "day.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert (tmp_path / "day.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    doc = json.loads((tmp_path / "kpis.json").read_text())
    assert doc["kpis"]["visits"] > 0 and doc["meta"]["seed"] == 5 and doc["meta"]["walker"] == walker
    events = pd.read_parquet(tmp_path / "events.parquet")
    assert (events["event"] == "arrive").sum() == doc["kpis"]["visits"]
    visits = next(line for line in r.stdout.splitlines() if line.strip("│ ").startswith("visits "))
    assert visits.split("│")[2].strip() == f"{doc['kpis']['visits']:,}"
    assert "Traceback" not in r.stderr


def test_compare_prints_base_variant_and_difference() -> None:
    r = smartlib("compare", SMALL, "--variants", "half-seats", "--seed", "3")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    head = next(line for line in lines if "kpi" in line and "base" in line)
    assert "half-seats" in head and "Δ half-seats" in head
    seats = next(line for line in lines if line.strip("│ ").startswith("seats "))
    cells = [c.strip() for c in seats.strip("│").split("│")]
    assert cells[1:] == ["26", "14", "-12"]


@pytest.mark.parametrize(("args", "message"), [
    (["simulate", SMALL, "--variant", "no-such"], "no variant 'no-such'"),
    (["simulate", SMALL, "--days", "0"], "--days must be 1 or more"),
    (["simulate", SMALL, "--walker", "teleport"], "--walker must be one of grid, crowd"),
    (["simulate", "atlantis"], "no scenario file 'atlantis'"),
    (["simulate", "missing.yaml"], "file not found"),
    (["compare", SMALL, "--variants", "half-seats,nope"], "no variant 'nope'"),
    (["compare", SMALL, "--variants", " , "], "at least one variant"),
])
def test_mistakes_give_a_message_and_no_traceback(args: list[str], message: str, tmp_path: Path) -> None:
    r = smartlib(*args, *(["--out", str(tmp_path)] if args[0] == "simulate" else []))
    assert r.returncode != 0
    assert message in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "kpis.json").exists()
