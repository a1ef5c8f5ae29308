"""The demo: the main job on the built-in branches, with embedded defaults.

Validates every built-in branch and variant, writes a 3D model (GLB) and a picture (PNG) of each
building, and prints a summary table. Later stages (simulated day, evacuation, telemetry replay)
are added as the engine grows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from geometry.build import build_building, load_scenario
from geometry.mesh import export_glb
from geometry.render import render_png

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "scenarios"


@dataclass(frozen=True)
class BranchSummary:
    branch: str
    floors: int
    area_m2: float
    seats: int
    devices: int
    variants: int
    glb: Path
    png: Path


def run_demo(out_dir: Path, console: Console | None = None) -> list[BranchSummary]:
    """Run the demo into ``out_dir`` and return one summary per built-in branch."""
    console = console or Console()
    files = sorted(BUILTIN_DIR.glob("*.yaml"))
    out_dir.mkdir(parents=True, exist_ok=True)
    summaries = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("built-in branches", total=len(files) * 3)
        for path in files:
            progress.update(task, description=f"{path.stem}: validating")
            src = load_scenario(path)
            building = build_building(src)
            for variant in src.scenario.variants:
                build_building(src, variant)
            progress.advance(task)
            progress.update(task, description=f"{path.stem}: 3D model")
            glb = export_glb(building, out_dir / f"{path.stem}.glb")
            progress.advance(task)
            progress.update(task, description=f"{path.stem}: picture")
            png = render_png(building, out_dir / f"{path.stem}.png")
            progress.advance(task)
            summaries.append(BranchSummary(building.branch_id, len(building.floors), building.area_m2,
                                           building.seat_count, len(building.devices),
                                           len(src.scenario.variants), glb, png))
    table = Table(title="Smartlib Twin demo: built-in branches")
    for col in ("branch", "floors", "area m2", "seats", "devices", "variants"):
        table.add_column(col, justify="left" if col == "branch" else "right", no_wrap=True)
    for s in summaries:
        table.add_row(s.branch, str(s.floors), f"{s.area_m2:,.0f}", f"{s.seats:,}", str(s.devices), str(s.variants))
    console.print(table)
    console.print(f"3D models (GLB) and pictures (PNG) of each building in {out_dir}/")
    return summaries
