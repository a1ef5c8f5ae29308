"""Route choice in evacuations: people take a farther exit when the near one queues, stairs stay limited."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SCENARIOS

from geometry import load_building
from simulation import EvacuationConfig, run_evacuation
from simulation.crowd.evacuation import EvacuationInputError

TWO_EXITS_YAML = """\
version: 1
branch: {id: two-exits, name: Two exits, kind: district, seed: 3}
building:
  floors:
    - id: G
      elevation_m: 0
      outline: [[0, 0], [16, 0], [16, 10], [0, 10]]
      zones:
        - {id: hall, kind: reading_room, polygon: [[0, 0], [16, 0], [16, 10], [0, 10]]}
      openings:
        - {id: narrow, kind: emergency_exit, zones: [hall, outside], at: [0, 5], width_m: 0.8}
        - {id: wide, kind: emergency_exit, zones: [hall, outside], at: [16, 5], width_m: 2.0}
      seat_blocks:
        - {id: t, zone: hall, kind: table_grid, origin: [1.5, 1.5], rows: 4, cols: 2, table_m: [1.6, 0.8],
           pitch_m: [2.4, 2.0], seats_per_table: 4}
"""


@pytest.fixture(scope="module")
def two_exits(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    p: Path = tmp_path_factory.mktemp("scen") / "two-exits.yaml"
    p.write_text(TWO_EXITS_YAML)
    return load_building(p)


def _run(building, choice: str):  # type: ignore[no-untyped-def]
    return run_evacuation(building, EvacuationConfig(seed=2, dt_s=0.05, route_choice=choice)).summary


def test_with_route_choice_some_take_the_farther_exit_and_the_room_clears_faster(two_exits) -> None:  # type: ignore[no-untyped-def]
    static, dynamic = _run(two_exits, "static"), _run(two_exits, "dynamic")
    n = static["people"]
    assert n == 32 and static["complete"] and dynamic["complete"]
    # static: everyone to the nearest door, the narrow one on the west side where they sit
    assert static["exits"]["narrow"]["count"] == n
    # with route choice some walk to the wide door on the far side, and the room empties sooner
    assert 0 < dynamic["exits"]["wide"]["count"] < n
    assert dynamic["evacuation_time_s"] < 0.9 * static["evacuation_time_s"]
    assert dynamic["model"]["route_choice"] == "dynamic"


@pytest.mark.slow
def test_central_library_full_both_stair_cores_carry_similar_loads() -> None:
    building = load_building(SCENARIOS / "central-library.yaml")
    s = run_evacuation(building, EvacuationConfig(seed=0, dt_s=0.05, route_choice="dynamic")).summary
    assert s["complete"]
    west, east = s["stairs"]["stair-w-1"]["people"], s["stairs"]["stair-e-1"]["people"]
    assert abs(west - east) <= 0.25 * max(west, east), (west, east)
    # the stairs keep their flow limit: never more than stair_flow_per_m_s x width onto a flight
    for k, v in s["stairs"].items():
        if v["people"] > 30:
            assert v["people"] / (v["last_s"] - v["first_s"]) <= 1.0 * 1.5 * 1.05, k


def test_unknown_route_choice_is_refused() -> None:
    with pytest.raises(EvacuationInputError, match="route_choice must be one of dynamic, static"):
        EvacuationConfig(route_choice="teleport")
