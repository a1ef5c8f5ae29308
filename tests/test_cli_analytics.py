"""``smartlib whatif``, ``evaluate``, ``calibrate`` and ``busiest`` as a user runs them, and their mistakes."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SCENARIOS
from test_cli_simulate import smartlib

pytestmark = pytest.mark.slow  # each test starts smartlib as a user would (a new Python process)


@pytest.fixture(scope="module")
def day_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A DuckDB store holding one simulated day of the service point, and that day."""
    from geometry import build_building, resolve_file
    from simulation.day.library_day import run_day
    from telemetry.store import open_store

    src = resolve_file(SCENARIOS / "service-point.yaml")
    r = run_day(build_building(src), src, seed=2, progress=False)
    url = f"duckdb:///{tmp_path_factory.mktemp('store') / 'telemetry.duckdb'}"
    with open_store(url) as s:
        s.write_readings(r.telemetry)
    return url, r.meta["start"]


def table_row(stdout: str, label: str) -> list[str]:
    line = next(x for x in stdout.splitlines() if x.strip("│┃ ").startswith(label))
    return [c.strip() for c in line.split("│")[1:-1]]


def test_whatif_from_a_state_file(tmp_path: Path) -> None:
    state = tmp_path / "now.yaml"
    state.write_text('time: "15:00"\nreaders: {reading: 12, stacks: 3}\nseated: {reading: 10}\n'
                     "queues: {kiosk-loan: 1}\n")
    r = smartlib("whatif", "service-point", "--state", str(state), "--horizon", "30min", "-r", "2")
    assert r.returncode == 0, r.stderr
    assert "15:00-15:30" in r.stdout and "mean ± 95% CI of 2 replications" in r.stdout
    mean_in = table_row(r.stdout, "mean readers in")
    assert mean_in[1] == "persons" and "±" in mean_in[2] and float(mean_in[2].split("±")[0]) > 5
    assert "Traceback" not in r.stderr


def test_whatif_from_the_store_at_a_time(day_store: tuple[str, str]) -> None:
    url, day = day_store
    r = smartlib("whatif", "service-point", "--store", url, "--at", f"{day} 11:00", "--horizon", "1h", "-r", "2")
    assert r.returncode == 0, r.stderr
    assert f"service-point on {day}, 11:00-12:00" in r.stdout
    assert float(table_row(r.stdout, "mean readers in")[2].split("±")[0]) > 1


def test_whatif_mistakes_are_named(tmp_path: Path) -> None:
    from geometry.errors import ScenarioError
    from twin.errors import UserError
    from twin.whatif import run_whatif

    state = tmp_path / "s.yaml"
    state.write_text('time: "15:00"\nreaders: {reading: 2}\n')
    bad = tmp_path / "b.yaml"
    bad.write_text('time: "15:00"\nreaders: {attic: 2}\n')
    sp = SCENARIOS / "service-point.yaml"
    with pytest.raises(UserError, match="duration 'soon' is not understood"):
        run_whatif(sp, state_file=state, variant=None, horizon="soon")
    with pytest.raises(UserError, match=r"give the state now as a state file \(--state\) or a store"):
        run_whatif(sp, state_file=state, store_url="x.duckdb", variant=None, horizon="1h")
    with pytest.raises(UserError, match="--at YYYY-MM-DD HH:MM"):
        run_whatif(sp, store_url="x.duckdb", at="noon", variant=None, horizon="1h")
    with pytest.raises(ScenarioError, match="nope"):
        run_whatif(sp, state_file=state, variant="nope", horizon="1h", replications=2)
    # as a user sees it: a message naming the zone, exit code 2, no traceback
    r = smartlib("whatif", "service-point", "--state", str(bad), "-r", "2")
    assert r.returncode == 2 and "zone 'attic' is not in building 'service-point'" in r.stderr
    assert "Traceback" not in r.stderr


def test_evaluate_prints_ranks_and_writes_csv(day_store: tuple[str, str], tmp_path: Path) -> None:
    url, day = day_store
    csv = tmp_path / "eval.csv"
    r = smartlib("evaluate", "--store", url, "--period", day, "--csv", str(csv))
    assert r.returncode == 0, r.stderr
    assert "1. service-point" in r.stdout and "(#1)" in r.stdout
    assert "no readings in" in r.stdout and "central-library" in r.stdout
    assert csv.read_text().splitlines()[0].startswith("place,branch,mean_rank,visits,visits_rank")
    r = smartlib("evaluate", "--store", url, "--period", "November")
    assert r.returncode == 2 and "period 'November' is not understood" in r.stderr and "Traceback" not in r.stderr
    from twin.errors import UserError
    from twin.evaluate import evaluate

    with pytest.raises(UserError, match="has readings"):  # nothing stored then
        evaluate(url, "2024-01", SCENARIOS)


def test_calibrate_writes_a_scenario_that_loads(day_store: tuple[str, str], tmp_path: Path) -> None:
    url, day = day_store
    out = tmp_path / "cal.yaml"
    r = smartlib("calibrate", "service-point", "--store", url, "--since", day, "--until", day, "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "Little's law" in r.stdout and out.exists()
    from geometry import resolve_file

    assert resolve_file(out).scenario.branch.id == "service-point"


def test_busiest_prints_the_building_and_writes_csv_and_png(day_store: tuple[str, str], tmp_path: Path) -> None:
    url, day = day_store
    r = smartlib("busiest", "service-point", "--store", url, "--since", day, "--until", day, "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "(building): people by hour" in r.stdout and "weekday" in r.stdout
    assert (tmp_path / "busiest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import pandas as pd

    t = pd.read_csv(tmp_path / "busiest.csv")
    assert set(t["zone"]) >= {"(building)", "reading"} and set(t["day_type"]) == {"weekday"}
    assert t["median"].max() > 3 and (t["days"] == 1).all()
