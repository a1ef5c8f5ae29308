"""Broken scenario files give a clear error naming the file, the line and the field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DATA, ROOT

from geometry import ScenarioError, load_building

BASE = (DATA / "small-branch.yaml").read_text()


def _line_of(text: str, needle: str) -> int:
    for n, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return n
    raise AssertionError(f"{needle!r} not in text")


# (name, old text, new text, expected message part, field path part, line marker or None)
CASES = [
    ("yaml-syntax", "outline: [[0, 0], [20, 0], [20, 10], [0, 10]]", "outline: [[0, 0], [20, 0]",
     "not valid YAML", "(top level)", None),
    ("unknown-field", "height_m: 3.5", "height_m: 3.5\n      colour: red", "unknown field 'colour'",
     "building.floors[0].colour", "colour: red"),
    ("missing-field", "      outline: [[0, 0], [20, 0], [20, 10], [0, 10]]\n", "",
     "missing required field 'outline'", "building.floors[0].outline", None),
    ("wrong-type", "at: [5, 5], width_m: 1.2}", "at: [5, 5], width_m: wide}", "valid number",
     "building.floors[0].openings[1].width_m", "width_m: wide"),
    ("bad-zone-kind", "kind: reading_room", "kind: ballroom", "Input should be",
     "building.floors[0].zones[1].kind", "kind: ballroom"),
    ("zone-outside-floor", "[[5, 0], [20, 0], [20, 10], [5, 10]]", "[[5, 0], [22, 0], [22, 10], [5, 10]]",
     "lies partly outside floor 'G' (20.00 m2 outside)", "building.floors[0].zones[1].polygon", "[22, 0]"),
    ("overlapping-zones", "[[0, 0], [5, 0], [5, 10], [0, 10]]", "[[0, 0], [6, 0], [6, 10], [0, 10]]",
     "zone 'reading' overlaps zone 'hall' by 10.00 m2", "building.floors[0].zones[1].polygon", "id: reading"),
    ("seat-in-shelf", "at: [19.5, 2.0]", "at: [17.0, 6.3]", "seat 'win-2' at (17.00, 6.30) is inside or touching "
     "shelf 'stack-a-1'", "building.floors[0].seats[1]", "id: win-2"),
    ("opening-off-boundary", "at: [5, 5], width_m: 1.2", "at: [6, 5], width_m: 1.2",
     "is not on the boundary of zone 'hall'", "building.floors[0].openings[1].at", "id: hall-reading"),
    ("seat-unreachable", "        - {id: hall-reading, zones: [hall, reading], at: [5, 5], width_m: 1.2}\n", "",
     "zone 'reading' cannot be reached from any entrance", "building.floors[0].zones[1]", "id: reading"),
    ("duplicate-id", "id: win-2", "id: win-1", "seat id 'win-1' is used twice", "building.floors[0]", None),
    ("unknown-quantity", "quantities: [co2, temperature]", "quantities: [co2, radon]", "unknown quantity 'radon'",
     "devices[1].quantities", "quantities: [co2, radon]"),
    ("quantity-not-for-type", "quantities: [seat_occupied]", "quantities: [co2]",
     "a seat_sensor does not measure 'co2'", "devices[2].quantities", "quantities: [co2]"),
    ("device-unknown-zone", "floor: G, zone: reading", "floor: G, zone: attic",
     "names zone 'attic', which is not on floor 'G'", "devices[1].zone", "zone: attic"),
    ("duplicate-yaml-key", "height_m: 3.5", "height_m: 3.5\n      height_m: 4", "duplicate key 'height_m'",
     "building.floors[0].height_m", "height_m: 4"),
    ("too-few-points", "[[0, 0], [5, 0], [5, 10], [0, 10]]", "[[0, 0], [5, 0]]", "at least 3 items",
     "building.floors[0].zones[0].polygon", "id: hall"),
    ("door-at-corner", "at: [0, 5], width_m: 1.8", "at: [0, 0.3], width_m: 1.8",
     "does not fit on a straight shared boundary", "building.floors[0].openings[0]", "id: main-door"),
    ("no-exit", "zones: [hall, outside], at: [0, 5]", "zones: [hall, reading], at: [5, 2]",
     "has no door to 'outside'", "building", None),
    ("door-missing-width", "at: [5, 5], width_m: 1.2}", "at: [5, 5]}", "a door needs 'at' and 'width_m'",
     "building.floors[0].openings[1]", "id: hall-reading"),
    ("negative-period", "period_s: 300", "period_s: -5", "greater than or equal to 1", "devices[1].period_s",
     "period_s: -5"),
]


@pytest.mark.parametrize(("name", "old", "new", "message", "field", "marker"), CASES, ids=[c[0] for c in CASES])
def test_broken_file_names_file_line_and_field(tmp_path: Path, name: str, old: str, new: str, message: str,
                                               field: str, marker: str | None) -> None:
    assert old in BASE, f"case {name}: test text not found in the base file"
    text = BASE.replace(old, new, 1)
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_building(path)
    rendered = str(info.value)
    assert message in rendered, rendered
    assert f": {field}" in rendered, rendered
    assert rendered.startswith(str(path)), rendered
    if marker is not None:
        assert f"{path}:{_line_of(text, marker)}:" in rendered, rendered


def test_at_least_ten_kinds_of_mistake() -> None:
    assert len({c[3] for c in CASES}) >= 10


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    text = BASE.replace("quantities: [co2, temperature]", "quantities: [co2, radon]").replace(
        "floor: G, zone: reading", "floor: G, zone: attic")
    path = tmp_path / "two.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_building(path)
    assert len(info.value.problems) == 2


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="file not found"):
        load_building(tmp_path / "nope.yaml")
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing\n")
    with pytest.raises(ScenarioError, match="file is empty"):
        load_building(empty)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"branch: {id: caf\xe9}\n")
    with pytest.raises(ScenarioError, match="not UTF-8"):
        load_building(latin)


def test_unknown_variant_lists_the_known_ones(small_scenario: Path) -> None:
    with pytest.raises(ScenarioError, match=r"no variant 'bigger' \(known: fewer-tables\)"):
        load_building(small_scenario, "bigger")


def test_variant_removing_unknown_item(tmp_path: Path) -> None:
    text = BASE.replace("              - {id: tables, rows: 1}", "              - {id: chairs, remove: true}")
    path = tmp_path / "v.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match="cannot remove 'chairs'"):
        load_building(path, "fewer-tables")


def test_cli_validate_reports_without_traceback(tmp_path: Path, small_scenario: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BASE.replace("kind: reading_room", "kind: ballroom"))
    smartlib = Path(sys.executable).parent / "smartlib"
    proc = subprocess.run([str(smartlib), "scenario", "validate", str(small_scenario), str(bad)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr + proc.stdout
    assert f"{bad}:{_line_of(BASE, 'kind: reading_room')}: building.floors[0].zones[1].kind" in proc.stderr
    assert "ok" in proc.stdout and "1 of 2 scenario file(s) have mistakes" in proc.stderr


def test_cli_bad_arguments_are_clean(tmp_path: Path) -> None:
    smartlib = Path(sys.executable).parent / "smartlib"
    for args, needle in ((["scenario", "show", "no-such-branch"], "no scenario file 'no-such-branch'"),
                         (["geometry", "export", str(DATA / "small-branch.yaml")], "nothing to do"),
                         (["scenario", "show", str(DATA / "small-branch.yaml"), "--variant", "x"], "no variant 'x'")):
        proc = subprocess.run([str(smartlib), *args], capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert proc.returncode != 0, args
        assert "Traceback" not in proc.stderr, proc.stderr
        assert needle in proc.stderr, proc.stderr


def test_variant_removing_from_a_list_the_base_lacks(tmp_path: Path) -> None:
    text = BASE.replace("              - {id: tables, rows: 1}",
                        "              - {id: tables, rows: 1}\n"
                        "            obstacles:\n"
                        "              - {id: x, remove: true}")
    path = tmp_path / "v.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match="cannot remove 'x'"):
        load_building(path, "fewer-tables")
