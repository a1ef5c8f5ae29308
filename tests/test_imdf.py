"""IMDF: a venue written by hand imports correctly, broken archives get clear errors, and a built-in
branch exported to IMDF and imported back keeps its levels, units, openings and areas."""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path
from typing import Any

import pytest
from conftest import SCENARIOS

LON0, LAT0 = 13.40, 52.52  # somewhere in Berlin
R = 6378137.0


def _ll(x: float, y: float) -> list[float]:
    """Metres east/north of (LON0, LAT0) as [lon, lat], written independently of the importer."""
    return [LON0 + math.degrees(x / (R * math.cos(math.radians(LAT0)))), LAT0 + math.degrees(y / R)]


def _poly(*pts: tuple[float, float]) -> dict[str, Any]:
    ring = [_ll(*p) for p in pts]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def _line(a: tuple[float, float], b: tuple[float, float]) -> dict[str, Any]:
    return {"type": "LineString", "coordinates": [_ll(*a), _ll(*b)]}


def _f(ftype: str, fid: str, geom: dict[str, Any] | None, **props: Any) -> dict[str, Any]:
    return {"id": fid, "type": "Feature", "feature_type": ftype, "geometry": geom, "properties": props}


def _venue() -> dict[str, list[dict[str, Any]]]:
    """Two levels of 20 x 10 m: ground floor a lobby and a reading room (door between, entrance from outside),
    upper floor one study room; a stair joins them; a desk fixture in the reading room."""
    en = lambda s: {"en": s}  # noqa: E731
    return {
        "venue": [_f("venue", "v1", _poly((0, 0), (20, 0), (20, 10), (0, 10)), category="communitycenter",
                     name=en("Test Library"), display_point={"type": "Point", "coordinates": _ll(0, 0)})],
        "level": [_f("level", "L0", _poly((0, 0), (20, 0), (20, 10), (0, 10)), ordinal=0, name=en("Ground"),
                     short_name=en("G"), outdoor=False, category="unspecified"),
                  _f("level", "L1", _poly((0, 0), (20, 0), (20, 10), (0, 10)), ordinal=1, name=en("First"),
                     short_name=en("1"), outdoor=False, category="unspecified")],
        "unit": [_f("unit", "u-lobby", _poly((0, 0), (8, 0), (8, 10), (0, 10)), category="lobby",
                    name=en("Lobby"), level_id="L0"),
                 _f("unit", "u-read", _poly((8, 0), (20, 0), (20, 10), (8, 10)), category="library",
                    name=en("Reading room"), level_id="L0"),
                 _f("unit", "u-study", _poly((0, 0), (20, 0), (20, 10), (0, 10)), category="conferenceroom",
                    name=en("Study"), level_id="L1"),
                 _f("unit", "u-void", _poly((18, 8), (20, 8), (20, 10), (18, 10)), category="opentobelow",
                    name=en("Void"), level_id="L1")],
        "opening": [_f("opening", "o-in", _line((3, 0), (4.5, 0)), category="pedestrian", name=en("entrance"),
                       door={"type": "turnstile.waistheight", "automatic": False}, level_id="L0"),
                    _f("opening", "o-mid", _line((8, 4), (8, 5.2)), category="pedestrian", name=en("inner"),
                       door={"type": "swinging", "automatic": False}, level_id="L0")],
        "fixture": [_f("fixture", "fx", _poly((12, 4), (14, 4), (14, 5), (12, 5)), category="desk",
                       name=en("desk-1"), level_id="L0")],
        "amenity": [_f("amenity", "s0", {"type": "Point", "coordinates": _ll(2, 8)}, category="stairs",
                       name=en("main-stair"), unit_ids=["u-lobby"]),
                    _f("amenity", "s1", {"type": "Point", "coordinates": _ll(2, 8)}, category="stairs",
                       name=en("main-stair"), unit_ids=["u-study"]),
                    _f("amenity", "wc", {"type": "Point", "coordinates": _ll(15, 2)}, category="restroom",
                       unit_ids=["u-read"])],
    }


def _write(folder: Path, features: dict[str, list[dict[str, Any]]], *, manifest: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if manifest:
        (folder / "manifest.json").write_text(json.dumps({"version": "1.0.0", "language": "en"}))
    for kind, items in features.items():
        (folder / f"{kind}.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": items}))
    return folder


def test_a_hand_written_venue_imports(tmp_path: Path) -> None:
    from geometry.importers.imdf import import_imdf
    from twin.buildings import building_of

    scenario, report = import_imdf(_write(tmp_path / "venue", _venue()))
    assert report.found["level"] == 2 and report.found["unit"] == 4 and report.found["opening"] == 2
    b = building_of(scenario)
    assert b.name == "Test Library"
    assert [(f.id, f.level, f.elevation_m) for f in b.floors] == [("G", 0, 0.0), ("1", 1, 4.0)]
    zones = {z.id: z for z in b.zones}
    assert set(zones) == {"Lobby", "Reading-room", "Study"}
    assert (zones["Lobby"].kind, zones["Reading-room"].kind, zones["Study"].kind) == (
        "entrance", "reading_room", "group_study")
    assert zones["Lobby"].area_m2 == pytest.approx(80.0, rel=1e-4)
    assert zones["Reading-room"].area_m2 == pytest.approx(120.0, rel=1e-4)
    ops = {o.id: o for o in b.openings}
    assert ops["entrance"].zones == ("Lobby", "outside") and ops["entrance"].gate
    assert ops["entrance"].width_m == pytest.approx(1.5, abs=0.01)
    assert set(ops["inner"].zones) == {"Lobby", "Reading-room"} and not ops["inner"].gate
    assert [o.kind for o in b.floor("G").obstacles] == ["desk"]
    assert len(b.links) == 1 and {s[1] for s in b.links[0].stops} == {"Lobby", "Study"}
    dropped = " ".join(n.render() for n in report.notes_of("dropped"))
    assert "unit Void (opentobelow): category 'opentobelow' is not a walkable room" in dropped
    assert "1 amenities" in dropped and "restroom" in dropped


def test_the_zip_form_writes_a_scenario_and_a_picture(tmp_path: Path) -> None:
    from geometry.build import load_building
    from twin.buildings import import_imdf

    folder = _write(tmp_path / "venue", _venue())
    archive = tmp_path / "venue.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in folder.iterdir():
            z.write(f, f.name)
    summary = import_imdf(archive, tmp_path / "imported.yaml", png=tmp_path / "plan.png")
    assert (summary.floors, summary.zones, summary.exits) == (2, 3, 1)
    assert {z.id for z in load_building(summary.scenario_path).zones} == {"Lobby", "Reading-room", "Study"}
    assert summary.picture is not None and summary.picture.read_bytes()[:4] == b"\x89PNG"


def test_broken_archives_get_clear_errors(tmp_path: Path) -> None:
    from geometry.importers.imdf import import_imdf
    from geometry.importers.report import BuildingImportError

    with pytest.raises(BuildingImportError, match=r"no manifest\.json"):
        import_imdf(_write(tmp_path / "a", _venue(), manifest=False))
    no_levels = {k: v for k, v in _venue().items() if k != "level"}
    with pytest.raises(BuildingImportError, match="has no level features"):
        import_imdf(_write(tmp_path / "b", no_levels))
    bad = _write(tmp_path / "c", _venue())
    (bad / "unit.geojson").write_text('{"type": "FeatureCollection", "features": [')
    with pytest.raises(BuildingImportError, match=r"c/unit\.geojson: is not valid JSON \(line 1"):
        import_imdf(bad)
    no_door = _venue()
    no_door["opening"] = [no_door["opening"][1]]
    with pytest.raises(BuildingImportError, match="no door to outside"):
        import_imdf(_write(tmp_path / "d", no_door))
    (tmp_path / "e.zip").write_text("not a zip")
    with pytest.raises(BuildingImportError, match="neither a folder nor a zip"):
        import_imdf(tmp_path / "e.zip")


def test_a_builtin_branch_round_trips_through_imdf(tmp_path: Path) -> None:
    from geometry.build import load_building
    from geometry.importers.imdf import import_imdf
    from twin.buildings import building_of, export_imdf

    original = load_building(SCENARIOS / "district-branch.yaml")
    export = export_imdf(SCENARIOS / "district-branch.yaml", tmp_path / "db.zip", origin=(LON0, LAT0))
    assert export.features["level"] == len(original.floors) and export.seats_left_out == original.seat_count
    back = building_of(import_imdf(export.path)[0])
    assert [(f.id, f.level) for f in back.floors] == [(f.id, f.level) for f in original.floors]
    a = {z.id: z for z in original.zones}
    b = {z.id: z for z in back.zones}
    assert set(a) == set(b)
    for zid, z in a.items():
        assert b[zid].kind == z.kind
        assert b[zid].area_m2 == pytest.approx(z.area_m2, rel=0.01), zid
    oa = {o.id: o for o in original.openings}
    ob = {o.id: o for o in back.openings}
    assert set(oa) == set(ob)
    for oid, o in oa.items():
        assert set(ob[oid].zones) == set(o.zones) and ob[oid].kind == o.kind and ob[oid].gate == o.gate, oid
        if o.kind != "open":
            assert ob[oid].width_m == pytest.approx(o.width_m, abs=0.01), oid
    assert len([x for x in back.links if x.kind == "stair"]) == len([x for x in original.links if x.kind == "stair"])
