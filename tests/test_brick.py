"""Brick export of a built-in branch (validated, counts read back) and the shared Brick examples."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SCENARIOS, SHARED, require, require_module

require_module("brickschema", "the 'brick' extra (brickschema, rdflib) for the Brick export")
pytestmark = pytest.mark.slow
BRICK_DIR = SHARED / "data" / "brick"


def test_district_branch_exports_valid_brick_with_its_zones_and_sensors(tmp_path: Path) -> None:
    from geometry.build import load_building
    from twin.buildings import export_brick

    s = export_brick(SCENARIOS / "district-branch.yaml", tmp_path / "model.ttl")
    assert s.conforms, s.report
    b = load_building(SCENARIOS / "district-branch.yaml")
    zones = sum(1 for _ in b.zones)
    status = sum(1 for d in b.devices for q in d.quantities if q == "status")
    # read back from the file with brickschema: every zone a Brick space, every measured quantity a sensor
    assert s.counts.floors == len(b.floors) and s.counts.buildings == 1
    assert s.counts.spaces == zones == s.zones
    assert s.counts.sensors == sum(len(d.quantities) for d in b.devices) - status == s.sensors
    assert s.counts.points == sum(len(d.quantities) for d in b.devices)
    text = (tmp_path / "model.ttl").read_text()
    assert "brick:Library" in text and "smartlib/v1/district-branch/" in text


def test_an_invalid_model_does_not_conform() -> None:
    from rdflib import Literal, Namespace

    from geometry.build import load_building
    from geometry.exporters.brick import BRICK, brick_graph, validate_brick

    g = brick_graph(load_building(SCENARIOS / "service-point.yaml"))
    brick = Namespace(BRICK)
    point = next(g.subjects(brick.isPointOf, None))
    g.add((point, brick.hasUnit, Literal("not a unit")))  # units must be QUDT units
    conforms, report = validate_brick(g)
    assert not conforms and "hasUnit" in report


def test_shared_brick_examples_parse_with_the_same_tooling() -> None:
    require(BRICK_DIR.is_dir(), f"the shared Brick examples in {BRICK_DIR} (../shared beside the repository)")
    from geometry.exporters.brick import read_brick

    g, soda = read_brick(BRICK_DIR / "soda_brick.ttl")
    assert (soda.buildings, soda.floors, soda.spaces) == (1, 7, 243)  # Soda Hall: 7 floors, 243 rooms
    q = ("PREFIX brick: <https://brickschema.org/schema/Brick#> SELECT (COUNT(?s) AS ?n) "
         "WHERE { ?s a brick:Zone_Air_Temperature_Sensor }")
    assert int(next(iter(g.query(q)))[0]) == 232
    _, room = read_brick(BRICK_DIR / "air_quality_sensor_example.ttl")
    assert (room.floors, room.spaces, room.sensors) == (1, 1, 5)


def test_a_broken_turtle_file_gets_a_clear_error(tmp_path: Path) -> None:
    from geometry.exporters.brick import read_brick

    bad = tmp_path / "bad.ttl"
    bad.write_text("@prefix brick: <https://brickschema.org/schema/Brick#> .\nthis is not turtle\n")
    with pytest.raises(ValueError, match=r"bad\.ttl: not a readable Turtle file"):
        read_brick(bad)
