"""Bring your own building: import IFC and IMDF into scenario files, export Brick and IMDF.

Each function does the whole job a command asks for and returns a typed summary; the command line
(``smartlib import ...``, ``smartlib export ...``) only prints it. A file that cannot be imported, a
missing optional extra or a wrong option is a :class:`~twin.errors.UserError` naming what and where.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from geometry.build import build_building
from geometry.exporters.brick import BrickCounts
from geometry.exporters.imdf import ImdfExport
from geometry.grid import DEFAULT_CELL_M
from geometry.importers.report import BuildingImportError, ImportReport
from geometry.model import Building
from geometry.scenario import Scenario, ScenarioSource, apply_variant, resolve_file, to_yaml

from .errors import UserError
from .scenarios import scenario_file

Progress = Callable[[float, float, str], None]  # (done, total, what): twin.printing.progress_bar's callback


@contextlib.contextmanager
def _user_errors() -> Iterator[None]:
    """Importer errors and missing extras as the application layer's UserError."""
    try:
        yield
    except BuildingImportError as exc:
        raise UserError(str(exc)) from None
    except RuntimeError as exc:
        if "install smartlib-twin[" in str(exc):
            raise UserError(str(exc)) from None
        raise


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
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(f"# {line}\n" for line in header.splitlines()) + to_yaml(scenario), encoding="utf-8")
    path = out
    building = build_building(resolve_file(path), cell_m=cell_m)
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


def _check_out(out: Path, cell_m: float) -> None:
    if out.suffix.lower() not in (".yaml", ".yml"):
        raise UserError(f"{out}: the scenario file to write must end in .yaml or .yml")
    if not cell_m > 0:
        raise UserError(f"--cell must be positive, got {cell_m}")


def import_ifc(source: str | Path, out: str | Path, *, cell_m: float = DEFAULT_CELL_M, branch_id: str | None = None,
               name: str | None = None, png: str | Path | None = None,
               progress: Progress | None = None) -> ImportSummary:
    """Import an IFC building model into a scenario file (and a picture of it).

    Raises
    ------
    UserError
        The file is not usable IFC, ifcopenshell is not installed, or nothing walkable remains.
    """
    from geometry.importers.ifc import import_ifc as read

    out = Path(out)
    _check_out(out, cell_m)
    stage = None if progress is None else (lambda what, done: progress(done, 1.0, what))
    with _user_errors():
        scenario, report = read(source, branch_id=branch_id, name=name, cell_m=cell_m, progress=stage)
        return _finish(scenario, report, out, Path(png) if png is not None else None, cell_m)


def building_of(scenario: Scenario, file: str = "<imported>", cell_m: float = DEFAULT_CELL_M) -> Building:
    """Build an in-memory scenario (checks and reachability included)."""
    return build_building(apply_variant(ScenarioSource.from_spec(scenario, file=file)), cell_m=cell_m)


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
    UserError
        Unknown scenario name, or the ``brick`` extra (rdflib, brickschema) is not installed.
    """
    from geometry.exporters.brick import QUANTITY_POINT, brick_graph, read_brick, validate_brick

    building = build_building(resolve_file(scenario_file(scenario), variant))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with _user_errors():
        graph = brick_graph(building)
        graph.serialize(str(out), format="turtle")
        _, counts = read_brick(out)
        conforms, text = validate_brick(graph) if validate else (True, "not validated")
    sensors = sum(1 for d in building.devices for q in d.quantities if QUANTITY_POINT[q][0] != "Status")
    return BrickSummary(path=out, zones=sum(1 for _ in building.zones), sensors=sensors, counts=counts,
                        conforms=conforms, report=text)


def import_imdf(source: str | Path, out: str | Path, *, cell_m: float = DEFAULT_CELL_M, branch_id: str | None = None,
                png: str | Path | None = None) -> ImportSummary:
    """Import an IMDF archive (folder or zip) into a scenario file (and a picture of it).

    Raises
    ------
    UserError
        The archive has no manifest, levels or units, holds broken JSON or geometry, or no door outside.
    """
    from geometry.importers.imdf import import_imdf as read

    out = Path(out)
    _check_out(out, cell_m)
    with _user_errors():
        scenario, report = read(source, branch_id=branch_id, cell_m=cell_m)
        return _finish(scenario, report, out, Path(png) if png is not None else None, cell_m)


def export_imdf(scenario: str | Path, out: str | Path, *, variant: str | None = None,
                origin: tuple[float, float] = (0.0, 0.0)) -> ImdfExport:
    """Write the scenario's building as an IMDF archive (a folder, or a zip when ``out`` ends in .zip).

    ``origin`` is the longitude and latitude [deg] of the scenario's (0, 0).
    """
    from geometry.exporters.imdf import write_imdf

    lon, lat = origin
    if not (-180.0 <= lon <= 180.0 and -85.0 <= lat <= 85.0):
        raise UserError(f"--origin must be longitude,latitude in degrees (|lat| <= 85), got {lon},{lat}")
    building = build_building(resolve_file(scenario_file(scenario), variant))
    return write_imdf(building, out, origin=origin)
