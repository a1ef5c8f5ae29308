"""The demo: the main job on the built-in branches, with embedded defaults.

1. Every built-in branch and variant is validated; each building gets a 3D model (GLB) and a
   picture (PNG).
2. The district branch lives through a simulated day (readers, services, zone physics, virtual
   sensors) and is evacuated at full seat occupancy.
3. The day's virtual-sensor telemetry is replayed over MQTT (a private Mosquitto, or the embedded
   broker without one) into the ingest, which validates it and stores it in DuckDB, as the hub
   does for a real branch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from geometry.mesh import export_glb
from geometry.render import render_png

from . import app
from .scenarios import builtin_dir, builtin_files

DEMO_BRANCH = "district-branch"


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


def model_branches(out_dir: Path, console: Console) -> list[BranchSummary]:
    """Validate every built-in branch and variant; write a GLB and a PNG of each building."""
    names = list(builtin_files())
    summaries = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("built-in branches", total=len(names) * 3)
        for name in names:
            progress.update(task, description=f"{name}: validating")
            loaded = app.load(name)
            for variant in loaded.source.scenario.variants:
                loaded.with_variant(variant)
            building = loaded.building
            progress.advance(task)
            progress.update(task, description=f"{name}: 3D model")
            glb = export_glb(building, out_dir / f"{name}.glb")
            progress.advance(task)
            progress.update(task, description=f"{name}: picture")
            png = render_png(building, out_dir / f"{name}.png")
            progress.advance(task)
            summaries.append(BranchSummary(building.branch_id, len(building.floors), building.area_m2,
                                           building.seat_count, len(building.devices),
                                           len(loaded.source.scenario.variants), glb, png))
    table = Table(title="1. built-in branches")
    for col in ("branch", "floors", "area m2", "seats", "devices", "variants"):
        table.add_column(col, justify="left" if col == "branch" else "right", no_wrap=True)
    for s in summaries:
        table.add_row(s.branch, str(s.floors), f"{s.area_m2:,.0f}", f"{s.seats:,}", str(s.devices), str(s.variants))
    console.print(table)
    console.print(f"3D models (GLB) and pictures (PNG) of each building in {out_dir}/", highlight=False)
    return summaries


def simulate_day(out_dir: Path, console: Console, seed: int = 1) -> dict[str, Any]:
    """One simulated day of the demo branch; returns its KPIs and writes its tables."""
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(f"simulating {DEMO_BRANCH}", total=None)
        run = app.simulate(DEMO_BRANCH, seed=seed, out_dir=out_dir,
                           progress=lambda done, total, text: bar.update(task, completed=done, total=total,
                                                                         description=text))
    k = run.kpis
    table = Table(title=f"2. a simulated day at {DEMO_BRANCH} (seed {seed})")
    table.add_column("indicator")
    table.add_column("value", justify="right")
    table.add_row("visits", f"{k.visits:,}")
    table.add_row("visits per opening hour", f"{k.visits_per_opening_hour:.1f}")
    table.add_row("mean stay min", f"{k.mean_stay_s / 60:.0f}")
    table.add_row("peak occupancy", f"{k.peak_occupancy:.0f}")
    table.add_row("seat occupancy rate", f"{k.seat_occupancy_rate:.0%}")
    table.add_row("turned away", str(k.turned_away))
    table.add_row("energy kWh", f"{k.energy_total_kwh:.0f}")
    table.add_row("kWh per visit", f"{k.kwh_per_visit:.2f}")
    worst = max(k.co2_hours_above_1000.items(), key=lambda kv: kv[1])
    table.add_row("most hours CO2 > 1000 ppm", f"{worst[1]:.1f} h in {worst[0]}")
    table.add_row("virtual sensor readings", f"{len(run.day.telemetry):,}")
    console.print(table)
    return k.to_dict()


def evacuate(out_dir: Path, console: Console, seed: int = 1) -> dict[str, Any]:
    """Evacuate the demo branch with every seat taken; writes summary.json and a picture."""
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"evacuating {DEMO_BRANCH}", total=None)
        run = app.evacuate(DEMO_BRANCH, seed=seed, out_dir=out_dir,
                           progress=lambda done, total, text: progress.update(task, completed=done, total=total,
                                                                              description=text))
    s = run.result.summary
    console.print(f"3. evacuation of {DEMO_BRANCH} with every seat taken: {s.people} people out in "
                  f"{s.evacuation_time_s:.0f} s; pictures and summary in {out_dir}/", highlight=False)
    return s.to_dict()


def replay_telemetry(day_dir: Path, store_path: Path, console: Console, *, embedded: bool = False) -> dict[str, int]:
    """Replay the day's telemetry over a private broker into the ingest and a DuckDB store."""
    from telemetry import Ingest, IngestConfig, load_registry, load_telemetry, open_store, parse_broker_url, replay
    from telemetry.broker import broker_from_options

    table = load_telemetry(day_dir)
    store_path.unlink(missing_ok=True)
    broker = broker_from_options(persistence=False, embedded=embedded).start()
    store = open_store(str(store_path))
    try:
        settings = parse_broker_url(broker.url)
        ingest = Ingest(broker=settings, store=store, registry=load_registry(builtin_dir()),
                        config=IngestConfig(client_id=f"smartlib-demo-{int(time.time())}", session_expiry_s=0))
        ingest.start()
        try:
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task("replaying telemetry over MQTT", total=None)
                sent = replay(table, settings, speed=0, qos=1,
                              progress=lambda done, total: progress.update(task, completed=done, total=total))
                deadline = time.monotonic() + 60.0
                while ingest.stats().records < sent.records and time.monotonic() < deadline:
                    time.sleep(0.05)
        finally:
            ingest.stop()
        stats = ingest.stats()
        stored = int(store.counts()["records"].sum())
    finally:
        store.close()
        broker.stop()
    console.print(f"4. telemetry: {sent.messages:,} MQTT messages ({sent.records:,} readings) from {sent.devices} "
                  f"devices through {broker.url}; ingest validated {stats.records:,}, rejected {stats.rejected}, "
                  f"stored {stored:,} in {store_path}", highlight=False)
    return {"sent": sent.records, "validated": stats.records, "rejected": stats.rejected, "stored": stored}


def run_demo(out_dir: Path, console: Console | None = None, *, live: bool = True, embedded: bool = False,
             speed: float = 60.0, duration_s: float | None = None, port: int = 8050) -> dict[str, Any]:
    """Run the whole demo into ``out_dir``; returns what each step produced.

    With ``live``, the hub then runs (see :mod:`twin.live_demo`) until Ctrl-C or ``duration_s``;
    ``embedded`` uses the embedded amqtt broker even where Mosquitto is installed.
    """
    console = console or Console()
    out_dir.mkdir(parents=True, exist_ok=True)
    branches = model_branches(out_dir, console)
    kpis = simulate_day(out_dir / "day", console)
    evacuation = evacuate(out_dir / "evacuation", console)
    telemetry = replay_telemetry(out_dir / "day", out_dir / "telemetry.duckdb", console, embedded=embedded)
    result: dict[str, Any] = {"branches": branches, "day": kpis, "evacuation": evacuation, "telemetry": telemetry}
    if live:
        from .live_demo import run_live_demo

        result["live"] = run_live_demo(out_dir / "live", console=console, speed=speed, duration_s=duration_s,
                                       embedded=embedded, port=port, reuse={DEMO_BRANCH: out_dir / "day"})
    return result
