"""IFC import on two real models, checked against what ifcopenshell itself reports, and broken files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DATA, ROOT, SHARED, require, require_module

ifcopenshell = require_module("ifcopenshell", "the 'ifc' extra (ifcopenshell) for the IFC import")

DUPLEX = DATA / "duplex.ifc"
FZK = SHARED / "data" / "ifc" / "AC20-FZK-Haus.ifc"

pytestmark = pytest.mark.slow


def _space_footprints_m2(path: Path) -> dict[str, float]:
    """Footprint area of every IfcSpace by name, as ifcopenshell computes it (its mesher and shape utility)."""
    import ifcopenshell.geom
    import ifcopenshell.util.shape

    model = ifcopenshell.open(str(path))
    settings = ifcopenshell.geom.settings()
    out = {}
    for sp in model.by_type("IfcSpace"):
        shape = ifcopenshell.geom.create_shape(settings, sp)
        out[sp.Name] = float(ifcopenshell.util.shape.get_footprint_area(shape.geometry))
    return out


@pytest.fixture(scope="module")
def duplex():  # type: ignore[no-untyped-def]
    from geometry.importers.ifc import import_ifc

    return import_ifc(DUPLEX)


def test_duplex_counts_match_ifcopenshell(duplex) -> None:  # type: ignore[no-untyped-def]
    scenario, report = duplex
    model = ifcopenshell.open(str(DUPLEX))
    assert report.format == "IFC (IFC2X3)"
    assert report.found["IfcBuildingStorey"] == len(model.by_type("IfcBuildingStorey")) == 4
    assert report.found["IfcSpace"] == len(model.by_type("IfcSpace")) == 21
    assert report.found["IfcDoor"] == len(model.by_type("IfcDoor")) == 14
    # every door became an opening; every space is a zone except the roof space, which no door reaches
    assert report.made["doors"] == 14
    zones = {z.id for f in scenario.building.floors for z in f.zones}
    assert len(zones) == 20 and "R301" not in zones
    dropped = {n.what: n.why for n in report.notes_of("dropped")}
    assert "no door" in dropped["zone 'R301'"]
    assert "no usable spaces" in dropped["storey 'T/FDN'"]
    # storeys: the two with reachable spaces became floors, at their IFC elevations
    assert [(f.id, f.elevation_m) for f in scenario.building.floors] == [("Level-1", 0.0), ("Level-2", 3.1)]
    assert report.made["stairs"] == 2 and report.made["exits"] == 4
    # no chairs in this model (sofas, beds, tables and cabinets stay obstacles); wall-hung cabinets are no
    # obstacle to walking
    assert report.made["seats"] == 0
    obstacles = [o.id for f in scenario.building.floors for o in f.obstacles]
    assert {"furniture-167283", "furniture-167426", "furniture-168377", "furniture-168378"} <= set(obstacles)
    assert sum("hangs" in n.why for n in report.notes_of("dropped")) == 8


def test_duplex_space_area_matches_ifcopenshell(duplex) -> None:  # type: ignore[no-untyped-def]
    _, report = duplex
    ref = _space_footprints_m2(DUPLEX)
    ours = {source.split()[1]: area for source, area in report.space_areas_m2.items()}
    assert set(ours) == set(ref) and len(ref) == 21
    # the two hallways are open meshes with inward faces, for which ifcopenshell's footprint is 0;
    # every other space matches it within 1 %, and the mirrored hallways match each other
    open_meshes = {name for name, area in ref.items() if area == 0.0}
    assert open_meshes == {"A201", "B201"}
    for name, area in ref.items():
        if name not in open_meshes:
            assert ours[name] == pytest.approx(area, rel=0.01), name
    assert ours["A201"] == pytest.approx(ours["B201"], rel=0.01) and ours["A201"] > 5.0
    total = sum(a for n, a in ref.items() if n not in open_meshes)
    assert sum(a for n, a in ours.items() if n not in open_meshes) == pytest.approx(total, rel=0.01)
    # zones reach to the wall centre lines, so each is at least its space's footprint (less what overlapped)
    for z in report.zones:
        assert z.area_m2 >= 0.95 * z.source_area_m2, z


def test_duplex_builds_renders_and_every_zone_is_reachable(duplex, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from geometry.build import check_reachability
    from geometry.mesh import export_glb
    from twin.buildings import building_of

    scenario, _ = duplex
    building = building_of(scenario)
    assert check_reachability(building) == []
    doors_into = {z for o in building.openings for z in o.zones}
    assert {z.id for z in building.zones} <= doors_into  # each zone has a door or an open side
    assert export_glb(building, tmp_path / "duplex.glb").stat().st_size > 10_000


def test_duplex_evacuates(duplex) -> None:  # type: ignore[no-untyped-def]
    from simulation.crowd.evacuation import EvacuationConfig, run_evacuation
    from twin.buildings import building_of

    result = run_evacuation(building_of(duplex[0]), EvacuationConfig(people=12, seed=1, max_time_s=300.0))
    s = result.summary
    assert s.people == 12 and s.evacuated == 12 and s.trapped == 0


def test_fzk_haus_counts_and_areas_match_ifcopenshell() -> None:
    require(FZK.is_file(), f"the shared IFC sample {FZK} (../shared beside the repository)")
    import ifcopenshell.util.element as ue

    from geometry.importers.ifc import import_ifc
    from twin.buildings import building_of

    scenario, report = import_ifc(FZK)
    model = ifcopenshell.open(str(FZK))
    assert report.format == "IFC (IFC4)"
    assert report.found["IfcBuildingStorey"] == len(model.by_type("IfcBuildingStorey")) == 2
    assert report.found["IfcSpace"] == len(model.by_type("IfcSpace")) == 7
    assert report.found["IfcDoor"] == len(model.by_type("IfcDoor")) == 5
    assert report.made["floors"] == 2 and report.made["zones"] == 7 and report.made["doors"] == 5
    assert report.made["stairs"] == 1
    gross = sum(ue.get_psets(sp)["BaseQuantities"]["GrossFloorArea"] for sp in model.by_type("IfcSpace"))
    assert report.space_area_m2 == pytest.approx(gross, rel=0.01)
    building = building_of(scenario)
    assert {z.name for z in building.zones} >= {"Flur", "Küche", "Wohnen", "Galerie"}
    assert building.floor("Dachgeschoss").elevation_m == pytest.approx(2.7)


def _smartlib(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-c", "from twin.cli import main; main()", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_truncated_file_gets_a_clear_error(tmp_path: Path) -> None:
    from geometry.importers.ifc import import_ifc
    from geometry.importers.report import BuildingImportError

    broken = tmp_path / "broken.ifc"
    data = DUPLEX.read_bytes()
    broken.write_bytes(data[: len(data) // 3])
    with pytest.raises(BuildingImportError, match=r"broken\.ifc: .*(truncated|cannot be read|no IfcSpace)"):
        import_ifc(broken)
    r = _smartlib("import", "ifc", str(broken), "--out", str(tmp_path / "x.yaml"))
    assert r.returncode == 2 and "broken.ifc" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x.yaml").exists()


def test_not_an_ifc_file_and_a_wrong_out_name(tmp_path: Path) -> None:
    from twin.buildings import import_ifc
    from twin.errors import UserError

    text = tmp_path / "plan.ifc"
    text.write_text("just some text\n")
    with pytest.raises(UserError, match=r"plan\.ifc: not an IFC file in STEP format"):
        import_ifc(text, tmp_path / "x.yaml")
    with pytest.raises(UserError, match=r"x\.txt: the scenario file to write must end in \.yaml"):
        import_ifc(DUPLEX, tmp_path / "x.txt")
    with pytest.raises(UserError, match="no such file"):
        import_ifc(tmp_path / "missing.ifc", tmp_path / "x.yaml")


def _model(tmp_path: Path, *, storey: bool, body: bool) -> Path:
    """A tiny IFC4 file: one space (with or without a body), on a storey or not."""
    import ifcopenshell.api

    f = ifcopenshell.file(schema="IFC4")
    project = ifcopenshell.api.run("root.create_entity", f, ifc_class="IfcProject", name="t")
    ifcopenshell.api.run("unit.assign_unit", f)
    ctx = ifcopenshell.api.run("context.add_context", f, context_type="Model")
    body_ctx = ifcopenshell.api.run("context.add_context", f, context_type="Model", context_identifier="Body",
                                    target_view="MODEL_VIEW", parent=ctx)
    site = ifcopenshell.api.run("root.create_entity", f, ifc_class="IfcSite", name="site")
    ifcopenshell.api.run("aggregate.assign_object", f, relating_object=project, products=[site])
    bldg = ifcopenshell.api.run("root.create_entity", f, ifc_class="IfcBuilding", name="b")
    ifcopenshell.api.run("aggregate.assign_object", f, relating_object=site, products=[bldg])
    parent = bldg
    if storey:
        parent = ifcopenshell.api.run("root.create_entity", f, ifc_class="IfcBuildingStorey", name="Ground")
        ifcopenshell.api.run("aggregate.assign_object", f, relating_object=bldg, products=[parent])
    space = ifcopenshell.api.run("root.create_entity", f, ifc_class="IfcSpace", name="S1")
    ifcopenshell.api.run("aggregate.assign_object", f, relating_object=parent, products=[space])
    if body:
        rep = ifcopenshell.api.run("geometry.add_wall_representation", f, context=body_ctx, length=5, height=3,
                                   thickness=4)
        ifcopenshell.api.run("geometry.assign_representation", f, product=space, representation=rep)
    path = tmp_path / f"model-{storey}-{body}.ifc"
    f.write(str(path))
    return path


def test_missing_storeys_and_a_space_without_geometry(tmp_path: Path) -> None:
    from geometry.importers.ifc import import_ifc
    from geometry.importers.report import BuildingImportError

    with pytest.raises(BuildingImportError, match="has no IfcBuildingStorey"):
        import_ifc(_model(tmp_path, storey=False, body=True))
    with pytest.raises(BuildingImportError, match=r"no storey has a usable space .*IfcSpace S1: has no geometry"):
        import_ifc(_model(tmp_path, storey=True, body=False))
    # a space with geometry but no door: nothing can be entered
    with pytest.raises(BuildingImportError, match="no door to outside"):
        import_ifc(_model(tmp_path, storey=True, body=True))


@pytest.mark.parametrize("which", ["duplex", "fzk-haus"])
def test_an_imported_building_validates_renders_simulates_and_evacuates_from_the_cli(which: str,
                                                                                      tmp_path: Path) -> None:
    """What a planner does next with an imported model: each step a command, as from the shell."""
    import json

    import numpy as np
    from PIL import Image

    source = DUPLEX if which == "duplex" else FZK
    if which == "fzk-haus":
        require(FZK.is_file(), f"the shared IFC sample {FZK} (../shared beside the repository)")
    out = tmp_path / f"{which}.yaml"
    r = _smartlib("import", "ifc", str(source), "--out", str(out))
    assert r.returncode == 0 and "Traceback" not in r.stdout + r.stderr, r.stdout + r.stderr
    picture = Image.open(out.with_suffix(".png")).convert("RGB")
    colours = np.unique(np.asarray(picture.resize((64, 64))).reshape(-1, 3), axis=0)
    assert len(colours) > 10  # a drawing, not a blank image
    r = _smartlib("scenario", "validate", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    r = _smartlib("simulate", str(out), "--seed", "1", "--out", str(tmp_path / "day"))
    assert r.returncode == 0 and "Traceback" not in r.stdout + r.stderr, r.stdout + r.stderr
    kpis = json.loads((tmp_path / "day" / "kpis.json").read_text(encoding="utf-8"))["kpis"]
    assert kpis["visits"] > 0
    r = _smartlib("evacuate", str(out), "--people", "8", "--out", str(tmp_path / "evac"))
    assert r.returncode == 0 and "Traceback" not in r.stdout + r.stderr, r.stdout + r.stderr
    summary = json.loads((tmp_path / "evac" / "summary.json").read_text(encoding="utf-8"))
    assert summary["evacuated"] == summary["people"] == 8
