"""The ``smartlib`` command line. It parses, calls a function, prints: no logic lives here."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from geometry.errors import ScenarioError

app = typer.Typer(help="Smartlib Twin: digital twin and simulation of smart library spaces.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
scenario_app = typer.Typer(help="Scenario files: validate, show, schema.", no_args_is_help=True)
geometry_app = typer.Typer(help="Building geometry: 3D export and pictures.", no_args_is_help=True)
app.add_typer(scenario_app, name="scenario")
app.add_typer(geometry_app, name="geometry")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "scenarios"


class UserError(Exception):
    """A mistake in what the user asked for; printed without a traceback."""


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def resolve_scenario(name: str) -> Path:
    """A scenario path, or the name of a built-in scenario (``central-library``)."""
    p = Path(name)
    if p.exists() or p.suffix in (".yaml", ".yml") or "/" in name:
        return p
    builtin = BUILTIN_DIR / f"{name}.yaml"
    if builtin.exists():
        return builtin
    known = ", ".join(sorted(x.stem for x in BUILTIN_DIR.glob("*.yaml")))
    raise UserError(f"no scenario file '{name}' and no built-in scenario of that name (built-in: {known})")


ScenarioArg = Annotated[str, typer.Argument(help="scenario file, or a built-in name such as central-library")]
VariantOpt = Annotated[str | None, typer.Option("--variant", "-v", help="named variant in the scenario")]


@scenario_app.command("validate")
def scenario_validate(
    files: Annotated[list[str], typer.Argument(help="scenario files or built-in names")],
    geometry: Annotated[bool, typer.Option(help="also check geometry and reachability")] = True,
) -> None:
    """Check scenario files (and all their variants); exit 1 when any has a mistake."""
    from geometry.build import build_building, load_scenario

    bad = 0
    for name in files:
        try:
            path = resolve_scenario(name)
            src = load_scenario(path)
            checked = [None, *src.scenario.variants]
            if geometry:
                for variant in checked:
                    build_building(src, variant)
            out.print(f"[green]ok[/] {path} ({len(checked) - 1} variants)", highlight=False)
        except ScenarioError as exc:
            bad += 1
            for line in str(exc).splitlines():
                err.print(f"[red]{line}[/]", highlight=False)
        except UserError as exc:
            bad += 1
            err.print(f"[red]{exc}[/]", highlight=False)
    if bad:
        raise fail(f"{bad} of {len(files)} scenario file(s) have mistakes")


@scenario_app.command("schema")
def scenario_schema() -> None:
    """Print the JSON Schema of the scenario format (for editors)."""
    from geometry.scenario import Scenario

    sys.stdout.write(json.dumps(Scenario.model_json_schema(), indent=2) + "\n")


@scenario_app.command("show")
def scenario_show(scenario: ScenarioArg, variant: VariantOpt = None) -> None:
    """Floors, zones, areas, seats and devices as tables."""
    from geometry.build import load_building

    b = load_building(resolve_scenario(scenario), variant)
    title = f"{b.name} ({b.branch_id})" + (f", variant {variant}" if variant else "")
    floors = Table(title=title)
    for col in ("floor", "elevation m", "area m2", "zones", "seats", "openings", "obstacles"):
        floors.add_column(col, justify="right" if col != "floor" else "left")
    for f in b.floors:
        floors.add_row(f.id, f"{f.elevation_m:.1f}", f"{f.area_m2:,.0f}", str(len(f.zones)), str(len(f.seats)),
                       str(len(f.openings)), str(len(f.obstacles)))
    floors.add_row("total", "", f"{b.area_m2:,.0f}", str(sum(len(f.zones) for f in b.floors)), str(b.seat_count),
                   str(sum(len(f.openings) for f in b.floors)), str(sum(len(f.obstacles) for f in b.floors)),
                   style="bold")
    out.print(floors)
    zones = Table(title="zones")
    for col in ("zone", "floor", "kind", "area m2", "seats", "m2 per seat"):
        zones.add_column(col)
    per_zone = b.seats_per_zone()
    for z in b.zones:
        n = per_zone[z.id]
        zones.add_row(z.id, z.floor_id, z.kind, f"{z.area_m2:,.1f}", str(n), f"{z.area_m2 / n:.1f}" if n else "-")
    out.print(zones)
    if b.devices:
        devices = Table(title="devices")
        for col in ("device", "type", "floor", "zone", "quantities", "period s"):
            devices.add_column(col)
        for d in b.devices:
            devices.add_row(d.id, d.type, d.floor_id, d.zone_id or "-", ", ".join(d.quantities), f"{d.period_s:g}")
        out.print(devices)


@geometry_app.command("export")
def geometry_export(
    scenario: ScenarioArg,
    variant: VariantOpt = None,
    glb: Annotated[Path | None, typer.Option(help="write the 3D model here (GLB)")] = None,
    png: Annotated[Path | None, typer.Option(help="write a picture here (PNG)")] = None,
) -> None:
    """Export the building as a 3D model (GLB) and/or a picture (PNG)."""
    from geometry.build import load_building

    if glb is None and png is None:
        raise fail("nothing to do: give --glb OUT.glb and/or --png OUT.png", 2)
    b = load_building(resolve_scenario(scenario), variant)
    if glb is not None:
        from geometry.mesh import export_glb

        out.print(f"wrote {export_glb(b, glb)}")
    if png is not None:
        from geometry.render import render_png

        out.print(f"wrote {render_png(b, png)}")


@app.command("demo")
def demo(out_dir: Annotated[Path, typer.Option("--out", help="where to write results")] = Path("out/demo")) -> None:
    """Run the main job on the built-in branches with embedded defaults."""
    from twin.demo import run_demo

    run_demo(out_dir, out)


def main() -> None:
    """Entry point: run the app; user mistakes print a message, never a traceback."""
    try:
        app()
    except ScenarioError as exc:
        for line in str(exc).splitlines():
            err.print(f"[red]{line}[/]", highlight=False)
        sys.exit(1)
    except UserError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
