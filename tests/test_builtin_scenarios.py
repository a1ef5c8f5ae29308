"""The built-in branches and every variant of them validate and have realistic sizes."""

from __future__ import annotations

import pytest
from conftest import SCENARIOS

from geometry import apply_variant, build_building, load_scenario, resolve_file

BUILTIN = ["central-library", "district-branch", "service-point"]


def _cases() -> list[tuple[str, str | None]]:
    cases: list[tuple[str, str | None]] = []
    for name in BUILTIN:
        path = SCENARIOS / f"{name}.yaml"
        cases.append((name, None))
        if path.exists():
            cases.extend((name, v) for v in load_scenario(path).scenario.variants)
    return cases


@pytest.mark.parametrize(("name", "variant"), _cases(), ids=lambda x: str(x))
def test_builtin_scenario_and_variants_validate(name: str, variant: str | None) -> None:
    # build_building includes every geometry and reachability check
    building = build_building(resolve_file(SCENARIOS / f"{name}.yaml", variant))
    assert building.branch_id == name
    assert building.exits and building.entrances


def test_builtin_sizes_are_realistic() -> None:
    central = build_building(resolve_file(SCENARIOS / "central-library.yaml"), check_reach=False)
    district = build_building(resolve_file(SCENARIOS / "district-branch.yaml"), check_reach=False)
    point = build_building(resolve_file(SCENARIOS / "service-point.yaml"), check_reach=False)
    assert len(central.floors) >= 3 and central.area_m2 >= 9000 and central.seat_count >= 1000
    assert len(district.floors) == 2 and 150 <= district.seat_count <= 500
    assert len(point.floors) == 1 and point.area_m2 <= 400 and 12 <= point.seat_count <= 80
    assert central.area_m2 > district.area_m2 > point.area_m2
    assert {link.kind for link in central.links} == {"stair", "lift"}
    for b in (central, district, point):
        kinds = {d.type for d in b.devices}
        assert "people_counter" in kinds
        assert any(o.gate for o in b.entrances)


def test_central_library_has_two_renovation_variants() -> None:
    src = load_scenario(SCENARIOS / "central-library.yaml")
    assert len(src.scenario.variants) >= 2
    base = build_building(apply_variant(src), check_reach=False)
    for name in src.scenario.variants:
        variant = build_building(apply_variant(src, name), check_reach=False)
        changed = (variant.seat_count != base.seat_count
                   or len(list(variant.openings)) != len(list(base.openings))
                   or sum(len(f.obstacles) for f in variant.floors) != sum(len(f.obstacles) for f in base.floors)
                   or len(variant.devices) != len(base.devices)
                   or [z.kind for z in variant.zones] != [z.kind for z in base.zones])
        assert changed, f"variant {name} changes nothing in the building"
