"""One model for the whole scenario file: every section strict, every mistake located, variants merged once."""

from __future__ import annotations

import copy
import datetime as dt
import json
from dataclasses import FrozenInstanceError
from pathlib import Path
from typing import Any

import pytest
from conftest import DATA, ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from geometry import ScenarioError, apply_variant, build_building, load_scenario, resolve_file, to_yaml
from geometry.scenario import Scenario, ScenarioSource, merge
from geometry.scenario.source import plain
from twin.cli import app

SMALL = (DATA / "day-small.yaml").read_text()


def _line(text: str, needle: str) -> int:
    return next(n for n, row in enumerate(text.splitlines(), 1) if needle in row)


def _validate(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["scenario", "validate", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def _edit(text: str, *pairs: tuple[str, str]) -> str:
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def test_validate_reports_a_typo_in_every_section_and_a_dangling_reference(tmp_path: Path) -> None:
    text = _edit(SMALL,
                 ("  start_date: 2025-03-05", "  start_dat: 2025-03-05"),
                 ('  opening_hours: "Mo-Su 09:00-21:00"', '  opening_hourz: "Mo-Su 09:00-21:00"'),
                 ("desk: desk-counter, shift: early}", "desk: desk-counter, shift: early, shfit: late}"),
                 ("outdoor: {temperature_c: 8,", "outdoor: {temprature_c: 8,"),
                 ("floor: G, zone: hall, quantities", "floor: G, zone: attic, quantities"))
    path = tmp_path / "typos.yaml"
    path.write_text(text)
    code, output = _validate(path)
    assert code == 1
    expected = [
        (_line(text, "start_dat:"), "demand.start_dat: unknown field 'start_dat'"),
        (_line(text, "opening_hourz:"), "services.opening_hourz: unknown field 'opening_hourz'"),
        (_line(text, "shfit: late"), "staff.members[0].shfit: unknown field 'shfit'"),
        (_line(text, "temprature_c"), "physics.outdoor.temprature_c: unknown field 'temprature_c'"),
        (_line(text, "zone: attic"), "devices[3].zone: device 'env-hall' names zone 'attic', which is not on floor"),
    ]
    for line, message in expected:
        assert f"typos.yaml:{line}: {message}" in output, output


def test_validate_reports_every_dangling_reference_between_sections(tmp_path: Path) -> None:
    text = _edit(SMALL,
                 ("desk: desk-counter, shift: late}", "desk: desk-nowhere, shift: late}"),
                 ("  visitor_types:\n", "  events:\n    - {id: talk, zone: attic, start: \"10:00\", duration_s: 3600, "
                                        "attendees: 10, days: [Holiday]}\n  visitor_types:\n"),
                 ("  outdoor: {temperature_c: 8, amplitude_c: 4}",
                  "  outdoor: {temperature_c: 8, amplitude_c: 4}\n  zones: {attic: {ventilation_l_s: 50}}\n"
                  "  meters: {em-nowhere: {floor: G}}"))
    path = tmp_path / "refs.yaml"
    path.write_text(text)
    code, output = _validate(path)
    assert code == 1
    expected = [
        (_line(text, "desk-nowhere"), "staff.members[1].desk: staff 'clerk-late' works at desk 'desk-nowhere', "
                                      "which does not exist (desks: desk-counter)"),
        (_line(text, "id: talk"), "demand.events[0].zone: event 'talk' is in zone 'attic'"),
        (_line(text, "id: talk"), "demand.events[0].days: event 'talk': 'Holiday' is not a weekday"),
        (_line(text, "zones: {attic"), "physics.zones.attic: no zone 'attic' in the building"),
        (_line(text, "em-nowhere"), "physics.meters.em-nowhere: no device 'em-nowhere' in the scenario"),
    ]
    for line, message in expected:
        assert f"refs.yaml:{line}: {message}" in output, output


@pytest.mark.parametrize(("old", "new", "message"), [
    ("timezone: UTC", "timezone: Mars/Olympus", "'Mars/Olympus' is not an IANA time zone"),
    ("weekday: {visits: 180}", "weekday: {visits: 1e12}", "demand.day_types.weekday.visits: Input should be a "
     "valid number (got '1e12'); YAML read it as text"),
    ("weekday: {visits: 180}", "weekday: {visits: 1.0e+12}", "demand.day_types.weekday.visits: Input should be "
     "less than or equal to 50000"),
    ("start_date: 2025-03-05", "start_date: 2025-13-45", "demand.start_date: not a valid value: '2025-13-45'"),
    ("quantities: [people_in, people_out], period_s: 60}", "quantities: [people_in, people_out], period_s: true}",
     "devices[0].period_s: Input should be a valid number"),
    ("quantities: [people_in, people_out], period_s: 60}", "quantities: [people_in, people_out], period_s: 0.001}",
     "devices[0].period_s: Input should be greater than or equal to 1"),
    ("seed: 7}", "seed: true}", "branch.seed: Input should be a valid integer"),
    ("width_m: 1.8, gate: true}", "width_m: 1.8, gate: 1}", "gate: Input should be a valid boolean"),
    ("- {id: win-2, zone: reading, at: [19.5, 2.0]", "- {id: win-2, zone: reading, at: [19.5, 1.0]",
     "seat 'win-2' at (19.50, 1.00) is at the same spot as seat 'win-1'"),
])
def test_input_that_used_to_pass_and_crash_later_is_refused(tmp_path: Path, old: str, new: str, message: str) -> None:
    path = tmp_path / "odd.yaml"
    path.write_text(_edit(SMALL, (old, new)))
    code, output = _validate(path)
    assert code == 1
    assert message in output, output


def test_loader_bounds_alias_bombs_and_deep_nesting(tmp_path: Path) -> None:
    bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 9))
    deep = "building: " + "[" * 5000 + "]" * 5000 + "\n"
    for name, text, message in (("bomb", bomb, "expands to more than"), ("deep", deep, "nested more than 64 deep")):
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        with pytest.raises(ScenarioError, match=message):
            load_scenario(path)


def test_user_text_prints_literally(tmp_path: Path) -> None:
    text = _edit(SMALL, ("kind: entrance,", "kind: '[/] :100: [bold]x',"))
    path = tmp_path / "markup.yaml"
    path.write_text(text)
    code, output = _validate(path)
    assert code == 1
    assert "[/] :100: [bold]x" in output and "\U0001f4af" not in output


# --------------------------------------------------------------------------- one merge, to_yaml

def test_variant_is_merged_once_and_every_section_sees_it(tmp_path: Path) -> None:
    text = SMALL.replace("variants:\n", "variants:\n  busy:\n    description: busier, later\n    override:\n"
                                        "      demand: {day_types: {weekday: {visits: 400}}}\n"
                                        "      services: {opening_hours: \"Mo-Su 10:00-22:00\"}\n"
                                        "      physics: {outdoor: {temperature_c: 20}}\n", 1)
    path = tmp_path / "busy.yaml"
    path.write_text(text)
    src = load_scenario(path)
    busy = apply_variant(src, "busy")
    assert busy.variant == "busy" and busy.file == str(path)
    assert busy.scenario.demand.day_types["weekday"].visits == 400
    assert busy.scenario.services.opening_hours == "Mo-Su 10:00-22:00"
    assert busy.scenario.physics.outdoor.temperature_c == 20
    assert busy.scenario.physics.outdoor.amplitude_c == 4  # kept from the base
    assert apply_variant(src).scenario.demand.day_types["weekday"].visits == 180
    with pytest.raises(FrozenInstanceError):
        busy.scenario = src.scenario  # type: ignore[misc]


def test_builtin_branches_round_trip_through_yaml(tmp_path: Path) -> None:
    for name in ("central-library", "district-branch", "service-point"):
        scenario = load_scenario(ROOT / "scenarios" / f"{name}.yaml").scenario
        path = tmp_path / f"{name}.yaml"
        path.write_text(to_yaml(scenario))
        again = load_scenario(path).scenario
        assert again == scenario
        assert plain(again) == plain(scenario)


def test_a_scenario_made_in_memory_builds_a_building() -> None:
    base = load_scenario(DATA / "small-branch.yaml").scenario
    made = Scenario.model_validate({**plain(base), "branch": {"id": "made", "name": "Made in code"}})
    building = build_building(apply_variant(ScenarioSource.from_spec(made), "fewer-tables"))
    assert building.branch_id == "made" and building.variant == "fewer-tables"
    assert building.seat_count < build_building(apply_variant(ScenarioSource.from_spec(made))).seat_count


def test_schema_describes_every_section() -> None:
    result = CliRunner().invoke(app, ["scenario", "schema"])
    schema = json.loads(result.output)
    for section in ("branch", "building", "devices", "demand", "services", "staff", "physics", "variants"):
        assert schema["properties"][section].get("description"), section
    defs = schema["$defs"]
    for model in ("DemandSpec", "ServicesSpec", "StaffSpec", "PhysicsSpec", "VisitorType", "DayType"):
        assert defs[model]["additionalProperties"] is False, model
    undescribed = [f"{name}.{field}" for name, d in defs.items() for field, p in d.get("properties", {}).items()
                   if not p.get("description")]
    assert not undescribed
    assert "[s]" in defs["ServicesSpec"]["properties"]["last_entry_s"]["description"]


# --------------------------------------------------------------------------- properties

_ids = st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True)
_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20)
_coord = st.floats(-1000, 1000, allow_nan=False, allow_infinity=False)
_pos = st.floats(0.01, 1000, allow_nan=False, allow_infinity=False)


_SMALL_DOC = plain(load_scenario(DATA / "day-small.yaml").scenario)


@st.composite
def _scenarios(draw: st.DrawFn) -> Scenario:
    doc = copy.deepcopy(_SMALL_DOC)
    doc["branch"]["name"] = draw(_text)
    doc["branch"]["seed"] = draw(st.integers(0, 2**63 - 1))
    doc["branch"]["timezone"] = draw(st.sampled_from(["UTC", "Asia/Shanghai", "Europe/Berlin"]))
    floor = doc["building"]["floors"][0]
    floor["seats"] = [{"id": f"s{i}-{sid}", "zone": "reading", "at": [draw(_coord), draw(_coord)],
                       "attrs": draw(st.lists(st.sampled_from(["window", "power", "quiet"]), unique=True))}
                      for i, sid in enumerate(draw(st.lists(_ids, max_size=4)))]
    demand = doc["demand"]
    demand["start_date"] = draw(st.dates(dt.date(2000, 1, 1), dt.date(2100, 1, 1)))
    demand["day_types"] = {name: ({"visits": draw(_pos), "profile": {h: draw(_pos) for h in hours}}
                                  if draw(st.booleans()) else {"arrivals_per_hour": {h: draw(_pos) for h in hours}})
                           for name, hours in draw(st.dictionaries(_ids, st.lists(st.integers(0, 23), unique=True,
                                                                                   max_size=4),
                                                                   min_size=1, max_size=3)).items()}
    demand["dates"] = {draw(st.dates(dt.date(2000, 1, 1), dt.date(2100, 1, 1))): next(iter(demand["day_types"]))}
    studier = demand["visitor_types"]["studier"]
    studier["seat"] = {"window": draw(st.floats(-5, 5)), "zone_kinds": ["reading_room"]}
    studier["stay_s"] = draw(st.one_of(_pos, st.just({"dist": "uniform", "min_s": 10.0, "max_s": 20.0})))
    doc["physics"]["lighting"] = {"lux_by_kind": {"stacks": draw(_pos)}}
    doc["services"]["last_entry_s"] = draw(st.floats(0, 7200))
    return Scenario.model_validate(doc)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_scenarios())
def test_to_yaml_loads_back_equal(scenario: Scenario) -> None:
    text = to_yaml(scenario)
    again = load_scenario("generated.yaml", text).scenario
    assert again == scenario
    assert plain(again) == plain(scenario)


_item = st.fixed_dictionaries({"id": _ids}, optional={"a": st.integers(), "b": st.dictionaries(_ids, st.integers(),
                                                                                                max_size=2)})
_value = st.recursive(st.one_of(st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=3)),
                      lambda inner: st.dictionaries(_ids, inner, max_size=3), max_leaves=8)


def _by_hand(base: Any, override: Any) -> Any:
    """What a variant means, written out: mappings key by key, id lists by id, the rest replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = copy.deepcopy(base)
        for k, v in override.items():
            out[k] = _by_hand(base.get(k, {} if isinstance(v, dict) else [] if isinstance(v, list) else None), v)
        return out
    if (isinstance(base, list) and isinstance(override, list)
            and all(isinstance(x, dict) and "id" in x for x in base + override)):
        ids = [x["id"] for x in base]
        out = {x["id"]: copy.deepcopy(x) for x in base}
        for item in override:
            if item.get("remove") is True:
                out.pop(item["id"])
                ids.remove(item["id"])
            else:
                if item["id"] not in out:
                    ids.append(item["id"])
                out[item["id"]] = _by_hand(out.get(item["id"], {}), item)
        return [out[i] for i in ids]
    return copy.deepcopy(override)


@settings(max_examples=100, deadline=None)
@given(base=st.dictionaries(_ids, st.one_of(_value, st.lists(_item, max_size=4, unique_by=lambda x: x["id"])),
                            max_size=4),
       data=st.data())
def test_applying_a_variant_equals_merging_by_hand(base: dict[str, Any], data: st.DataObject) -> None:
    override: dict[str, Any] = {}
    for key, value in base.items():
        if not data.draw(st.booleans()):
            continue
        if isinstance(value, list) and all(isinstance(x, dict) for x in value):
            removed = data.draw(st.lists(st.sampled_from([x["id"] for x in value]), unique=True)) if value else []
            changed = data.draw(st.lists(_item, max_size=3, unique_by=lambda x: x["id"]))
            changed = [x for x in changed if x["id"] not in removed]
            override[key] = [{"id": i, "remove": True} for i in removed] + changed
        elif isinstance(value, dict):
            override[key] = data.draw(st.dictionaries(_ids, _value, max_size=3))
        else:
            override[key] = data.draw(_value)
    override.update(data.draw(st.dictionaries(_ids.map(lambda s: "new-" + s), _value, max_size=2)))
    before = copy.deepcopy(base)
    assert merge(base, override) == _by_hand(base, override)
    assert base == before  # the base is not changed


def test_a_variant_of_a_real_file_equals_the_file_merged_by_hand(tmp_path: Path) -> None:
    path = ROOT / "scenarios" / "central-library.yaml"
    src = load_scenario(path)
    for name, variant in src.scenario.variants.items():
        by_hand = _by_hand({k: v for k, v in src.raw.items() if k != "variants"}, plain(src.scenario)["variants"][name]
                           ["override"])
        resolved = apply_variant(src, name).scenario
        assert resolved.model_dump(exclude={"variants"}) == \
            Scenario.model_validate({**by_hand, "variants": {}}).model_dump(exclude={"variants"}), name
        assert variant.description


def test_resolve_file_names_the_variant_in_problems(tmp_path: Path) -> None:
    text = SMALL.replace("              - {id: tables, rows: 1}", "              - {id: tables, rows: 0}")
    path = tmp_path / "v.yaml"
    path.write_text(text)
    resolve_file(path)
    with pytest.raises(ScenarioError, match=r"rows: Input should be greater than or equal to 1 .*in variant "
                                            r"'half-seats'"):
        resolve_file(path, "half-seats")
