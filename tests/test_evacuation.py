"""Evacuations: placement, stairs, blocked exits, the summary, the picture, PedPy trajectories, the CLI."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import shapely
from test_navigation import TWO_FLOORS_YAML

from geometry import load_building
from simulation import Crowd, EvacuationConfig, EvacuationInputError, run_evacuation
from simulation.crowd.evacuation import place_people, read_occupancy


@pytest.fixture(scope="module")
def two_floors_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("scen") / "two-floors.yaml"
    p.write_text(TWO_FLOORS_YAML)
    return p


@pytest.fixture(scope="module")
def two_floors(two_floors_file: Path):  # type: ignore[no-untyped-def]
    return load_building(two_floors_file)


def test_small_branch_everyone_leaves_through_the_door(building) -> None:  # type: ignore[no-untyped-def]
    r = run_evacuation(building, EvacuationConfig(people=40, seed=2))
    s = r.summary
    assert s.people == 40 and s.seated == 26 and s.standing == 14
    assert s.complete and s.evacuated == 40 and s.remaining == 0 and s.trapped == 0
    door = s.exits["main-door"].flow
    assert door.count == 40
    assert s.evacuation_time_s is not None
    assert s.evacuation_time_s == door.last_s == s.floors["G"].cleared_s
    # nobody is faster than the free speed allows: the far window seats are ~20 m from the door
    assert s.evacuation_time_s > 19.0 / 2.0
    # the 1.2 m inner door and 1.8 m front door limit the flow to what bottlenecks allow
    assert door.peak_flow_per_s is not None and door.peak_flow_per_s <= 2.1 * 1.8
    assert 0.5 < s.peak_density.per_m2 < 7.0 and s.peak_density.floor == "G"
    assert s.agent_steps > 40 * s.evacuation_time_s / 0.01 * 0.3


def test_same_seed_same_evacuation(building) -> None:  # type: ignore[no-untyped-def]
    a = run_evacuation(building, EvacuationConfig(people=30, seed=4)).summary
    b = run_evacuation(building, EvacuationConfig(people=30, seed=4)).summary
    c = run_evacuation(building, EvacuationConfig(people=30, seed=5)).summary
    a, b, c = (replace(s, wall_time_s=0.0) for s in (a, b, c))
    assert a == b
    assert a != c


def test_summary_to_dict_is_the_json_layout(building) -> None:  # type: ignore[no-untyped-def]
    s = run_evacuation(building, EvacuationConfig(people=10, seed=1)).summary
    d = json.loads(json.dumps(s.to_dict()))
    assert list(d) == ["scenario", "name", "variant", "seed", "people", "seated", "standing", "blocked_exits",
                       "evacuated", "remaining", "trapped", "complete", "evacuation_time_s", "simulated_s", "frame_s",
                       "floors", "exits", "stairs", "peak_density", "model", "agent_steps", "wall_time_s"]
    assert d["people"] == s.people == 10 and d["blocked_exits"] == []
    assert d["floors"]["G"] == {"people": 10, "cleared_s": s.floors["G"].cleared_s,
                                "peak_density_per_m2": s.floors["G"].peak_density_per_m2}
    door = d["exits"]["main-door"]
    assert list(door) == ["floor", "width_m", "blocked", "count", "first_s", "last_s", "mean_flow_per_s",
                          "peak_flow_per_s", "peak_specific_flow_per_m_s"]
    assert door["count"] == s.exits["main-door"].flow.count == 10 and door["blocked"] is False
    assert d["model"]["time_gap_s"] == s.model.params.time_gap_s and d["model"]["route_choice"] == "dynamic"
    assert next(iter(d["model"])) == "name" and list(d["model"])[-1] == "switch_margin_s"


def test_upstairs_people_take_the_stair_and_a_blocked_exit_sends_them_elsewhere(two_floors) -> None:  # type: ignore[no-untyped-def]
    open_ = run_evacuation(two_floors, EvacuationConfig(seed=1)).summary  # every seat: 24, all upstairs
    assert open_.people == 24 and open_.complete
    assert open_.floors["L1"].people == 24 and open_.floors["G"].people == 0
    stair = open_.stairs["stair"]
    assert stair.people == 24
    # the stair takes at most 1.0 person/(m s) x 1.2 m, and 8 m at 0.6 m/s to walk down
    assert stair.last_s - stair.first_s >= 23 / 1.2 - 1e-6
    first_out = min(e.flow.first_s for e in open_.exits.values() if e.flow.count and e.flow.first_s is not None)
    assert first_out > stair.first_s + 8 / 0.6
    assert open_.evacuation_time_s is not None
    assert open_.floors["L1"].cleared_s < open_.evacuation_time_s
    # the stair lands at x = 20 m: the east exit (4 m away) is nearer than the west door (20 m)
    assert open_.exits["east-exit"].flow.count == 24
    blocked = run_evacuation(two_floors, EvacuationConfig(seed=1, blocked=("east-exit",))).summary
    assert blocked.complete and blocked.exits["east-exit"].flow.count == 0
    assert blocked.exits["east-exit"].blocked and blocked.exits["west-door"].flow.count == 24
    assert blocked.evacuation_time_s is not None
    assert blocked.evacuation_time_s > open_.evacuation_time_s + 10


def test_bad_evacuation_requests_say_what_is_wrong(building, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(EvacuationInputError, match="every exit is blocked"):
        run_evacuation(building, EvacuationConfig(people=5, blocked=("main-door",)))
    with pytest.raises(EvacuationInputError, match="no exit of that name"):
        run_evacuation(building, EvacuationConfig(people=5, blocked=("hall-reading",)))
    with pytest.raises(EvacuationInputError, match="not both"):
        EvacuationConfig(people=5, occupancy={"hall": 2})
    with pytest.raises(EvacuationInputError, match="holds 0 seats and room for about"):
        run_evacuation(building, EvacuationConfig(occupancy={"hall": 500}))
    with pytest.raises(EvacuationInputError, match="zone 'attic'"):
        run_evacuation(building, EvacuationConfig(occupancy={"attic": 3}))
    bad = tmp_path / "occ.yaml"
    bad.write_text("hall: lots\n")
    with pytest.raises(EvacuationInputError, match="whole number"):
        read_occupancy(bad)
    with pytest.raises(EvacuationInputError, match="cannot read"):
        read_occupancy(tmp_path / "missing.json")


def test_occupancy_places_people_in_the_named_zones(building, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "occ.json"
    f.write_text(json.dumps({"hall": 12, "reading": 30}))
    occ = read_occupancy(f)
    crowd = Crowd.from_building(building)
    p = place_people(crowd, building, EvacuationConfig(occupancy=occ), np.random.default_rng(0))
    zones = np.array(p.zone)
    assert (zones == "hall").sum() == 12 and (zones == "reading").sum() == 30
    seats = [s for s, z in zip(p.seat, p.zone, strict=True) if z == "reading" and s is not None]
    assert len(seats) == 26  # seats of the zone first, then 4 standing
    xy = np.asarray(p.xy)
    hall = building.zone("hall").polygon
    assert shapely.contains_xy(hall, xy[zones == "hall", 0], xy[zones == "hall", 1]).all()
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    assert d.min() >= 0.4  # nobody starts on top of someone else


def _cli(args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from twin.cli import main

    monkeypatch.setattr(sys, "argv", ["smartlib", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_cli_evacuate_writes_summary_picture_and_pedpy_trajectories(
        two_floors_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import pedpy

    out = tmp_path / "run"
    code, stdout, stderr = _cli(["evacuate", str(two_floors_file), "--people", "30", "--seed", "3", "--out", str(out),
                                 "--trajectories"], monkeypatch, capsys)
    assert code == 0, stderr
    assert "evacuation time" in stdout and "exits" in stdout and "Traceback" not in stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["people"] == 30 and summary["complete"]
    png = (out / "evacuation.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    # PedPy loads each floor's trajectories and walkable area and can analyse them
    ids_seen: set[int] = set()
    for fid in ("G", "L1"):
        traj = pedpy.load_trajectory_from_txt(trajectory_file=out / f"trajectories-{fid}.txt")
        assert traj.frame_rate == pytest.approx(1 / summary["frame_s"])
        ids_seen |= set(traj.data["id"].unique().tolist())
        area = pedpy.WalkableArea(shapely.from_wkt((out / f"walkable-{fid}.wkt").read_text()))
        inside = shapely.contains_xy(area.polygon.buffer(1e-3), traj.data["x"], traj.data["y"])
        assert inside.all()
    assert len(ids_seen) == 30
    g = pedpy.load_trajectory_from_txt(trajectory_file=out / "trajectories-G.txt")
    density = pedpy.compute_classic_density(traj_data=g, measurement_area=pedpy.MeasurementArea(
        shapely.box(18, 6, 22, 9.5)))
    assert density["density"].max() > 0  # people stepping off the stair pass there


@pytest.mark.parametrize(("args", "message"), [
    (["evacuate", "no-such-branch"], "no built-in scenario"),
    (["evacuate", "{small}", "--people", "-3"], "--people must be 0 or more"),
    (["evacuate", "{small}", "--people", "3", "--occupancy", "x.json"], "not both"),
    (["evacuate", "{small}", "--people", "3", "--block", "back-door"], "cannot block 'back-door'"),
    (["evacuate", "{small}", "--occupancy", "{missing}"], "cannot read occupancy file"),
    (["evacuate", "{small}", "--max-time", "0"], "--max-time must be positive"),
])
def test_cli_evacuate_bad_input_is_a_message_not_a_traceback(
        args: list[str], message: str, small_scenario: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    args = [a.format(small=small_scenario, missing=tmp_path / "missing.json") for a in args]
    code, _, stderr = _cli([*args, "--out", str(tmp_path / "o")], monkeypatch, capsys)
    assert code == 2
    assert message in stderr and "Traceback" not in stderr
    assert not (tmp_path / "o" / "summary.json").exists()


def test_cli_evacuate_unknown_variant_names_the_file(small_scenario: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    code, _, stderr = _cli(["evacuate", str(small_scenario), "--variant", "nope", "--out", str(tmp_path)],
                           monkeypatch, capsys)
    assert code == 1 and "no variant 'nope'" in stderr and "small-branch.yaml" in stderr
