"""`smartlib simulate --trajectories`: PedPy trajectories of a library day's crowd walker for a time window."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import shapely
from conftest import DATA

from twin.app import simulate, trajectory_window_s
from twin.errors import UserError


@pytest.mark.slow
def test_simulate_writes_pedpy_trajectories_of_the_window(tmp_path: Path) -> None:
    import pedpy

    out = tmp_path / "day"
    run = simulate(DATA / "day-small.yaml", seed=3, walker="crowd", out_dir=out, trajectories="10:00-10:20")
    files = sorted(p.name for p in run.files if p.name.startswith(("trajectories-", "walkable-")))
    assert "trajectories-G.txt" in files and "walkable-G.wkt" in files
    traj = pedpy.load_trajectory_from_txt(trajectory_file=out / "trajectories-G.txt")
    assert traj.frame_rate == pytest.approx(2.0)
    data = traj.data
    assert data["id"].nunique() >= 3  # several readers walked in those 20 minutes
    assert data["frame"].min() >= 0 and data["frame"].max() <= 20 * 60 * 2  # frames of the window only
    area = pedpy.WalkableArea(shapely.from_wkt((out / "walkable-G.wkt").read_text()))
    assert shapely.contains_xy(area.polygon.buffer(1e-3), data["x"], data["y"]).all()
    # consecutive frames of one walker are at most a step of walking apart
    one = data.loc[data["id"] == data["id"].iloc[0]].sort_values("frame")
    steps = ((one["x"].diff() ** 2 + one["y"].diff() ** 2) ** 0.5)[one["frame"].diff() == 1]
    assert (steps <= 2.5 * 0.5).all()
    speeds = pedpy.compute_individual_speed(traj_data=traj, frame_step=2)
    # walkers slow down at desks, doors and seats; free walking shows in the upper part, never beyond 2 m/s
    assert speeds["speed"].quantile(0.9) >= 0.8 and speeds["speed"].max() <= 2.0


@pytest.mark.parametrize(("walker", "window", "message"), [
    ("grid", "10:00-10:10", "needs --walker crowd"),
    ("crowd", "10:00", "a time window like 10:00-10:15"),
    ("crowd", "11:00-10:00", "must end after it starts"),
    ("crowd", "25:00-26:00", "not a time of day"),
])
def test_bad_trajectory_requests_say_what_is_wrong(walker: str, window: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        simulate(DATA / "day-small.yaml", walker=walker, trajectories=window)


def test_window_in_seconds_from_midnight() -> None:
    assert trajectory_window_s("09:30-10:00") == (34200.0, 36000.0)


def test_cli_option_reaches_the_application_layer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from twin.cli import main

    monkeypatch.setattr(sys, "argv", ["smartlib", "simulate", str(DATA / "day-small.yaml"), "--out",
                                      str(tmp_path), "--walker", "grid", "--trajectories", "10:00-10:10"])
    with pytest.raises(SystemExit) as exc:
        main()
    err = capsys.readouterr().err
    assert exc.value.code != 0 and "needs --walker crowd" in err and "Traceback" not in err
