"""Bring your own building: import IFC and IMDF into scenario files, export Brick and IMDF.

Each function does the whole job a command asks for and returns a typed summary; the command line
(``smartlib import ...``, ``smartlib export ...``) only prints it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from geometry.build import ScenarioSource, build_building, load_scenario
from geometry.exporters.brick import BrickCounts
from geometry.grid import DEFAULT_CELL_M
from geometry.importers.report import BuildingImportError, ImportReport
from geometry.model import Building
from geometry.scenario import Scenario
from geometry.yamlout import write_yaml
from geometry.yamlsrc import LineMap

Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class ImportSummary:
    """An imported building: the scenario file written, its picture, and the importer's report."""

    report: ImportReport
    scenario_path: Path
    picture: Path | None
    picture_skipped: str | None  # why no picture was drawn (rendering extra missing), else None
    floors: int
    zones: int
    openings: int
    exits: int
    area_m2: float


def _finish(scenario: Scenario, report: ImportReport, out: Path, png: Path | None, cell_m: float) -> ImportSummary:
    """Write the scenario, build it back from the file (the check a user's next command makes), draw it."""
    header = (f"Imported from {Path(report.source).name} ({report.format}) by `smartlib import`.\n"
              "Zone kinds were guessed from room names: edit them as needed.\n"
              f"Source point ({report.origin_m[0]:g}, {report.origin_m[1]:g}) m is (0, 0) here.")
    path = write_yaml(scenario, out, header=header)
    building = build_building(load_scenario(path), cell_m=cell_m)
    picture, skipped = None, None
    if png is not None:
        try:
            from geometry.render import render_png

            picture = render_png(building, png)
        except (ImportError, RuntimeError) as exc:
            skipped = str(exc)
    return ImportSummary(report=report, scenario_path=path, picture=picture, picture_skipped=skipped,
                         floors=len(building.floors), zones=sum(1 for _ in building.zones),
                         openings=sum(1 for _ in building.openings), exits=len(building.exits),
                         area_m2=building.area_m2)


def _check_out(out: Path) -> None:
    if out.suffix.lower() not in (".yaml", ".yml"):
        raise BuildingImportError(str(out), "the scenario file to write must end in .yaml or .yml")


def import_ifc(source: str | Path, out: str | Path, *, cell_m: float = DEFAULT_CELL_M, branch_id: str | None = None,
               name: str | None = None, png: str | Path | None = None,
               progress: Progress | None = None) -> ImportSummary:
    """Import an IFC building model into a scenario file (and a picture of it).

    Raises
    ------
    BuildingImportError
        The file is not usable IFC, ifcopenshell is not installed, or nothing walkable remains.
    """
    from geometry.importers.ifc import import_ifc as read

    out = Path(out)
    _check_out(out)
    if not cell_m > 0:
        raise BuildingImportError("--cell", f"the grid cell must be positive, got {cell_m}")
    scenario, report = read(source, branch_id=branch_id, name=name, cell_m=cell_m, progress=progress)
    return _finish(scenario, report, out, Path(png) if png is not None else None, cell_m)


def building_of(scenario: Scenario, file: str = "<imported>", cell_m: float = DEFAULT_CELL_M) -> Building:
    """Build an in-memory scenario (checks and reachability included)."""
    return build_building(ScenarioSource(file, scenario.model_dump(mode="json"), LineMap(), scenario), cell_m=cell_m)


@dataclass(frozen=True)
class BrickSummary:
    """A Brick export: where it went, what it holds (counted back from the file) and its validation."""

    path: Path
    zones: int
    sensors: int
    counts: BrickCounts
    conforms: bool
    report: str


def export_brick(scenario: str | Path, out: str | Path, *, variant: str | None = None,
                 validate: bool = True) -> BrickSummary:
    """Write the scenario's building, zones and devices as a Brick model (Turtle), read it back, validate it.

    Raises
    ------
    ScenarioError
        For a scenario that does not load or build.
    RuntimeError
        When the ``brick`` extra (rdflib, brickschema) is not installed.
    """
    from geometry.exporters.brick import QUANTITY_POINT, brick_graph, read_brick, validate_brick

    building = build_building(load_scenario(scenario), variant)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    graph = brick_graph(building)
    graph.serialize(str(out), format="turtle")
    _, counts = read_brick(out)
    conforms, text = validate_brick(graph) if validate else (True, "not validated")
    sensors = sum(1 for d in building.devices for q in d.quantities if QUANTITY_POINT[q][0] != "Status")
    return BrickSummary(path=out, zones=sum(1 for _ in building.zones), sensors=sensors, counts=counts,
                        conforms=conforms, report=text)
