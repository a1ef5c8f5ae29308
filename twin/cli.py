"""The ``smartlib`` command line. It parses, calls a function, prints: no logic lives here."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from geometry.errors import ScenarioError

from . import printing
from .app import DEFAULT_WALKER
from .errors import UserError
from .printing import err, out

app = typer.Typer(help="Smartlib Twin: digital twin and simulation of smart library spaces.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
scenario_app = typer.Typer(help="Scenario files: validate, show, schema.", no_args_is_help=True)
geometry_app = typer.Typer(help="Building geometry: 3D export and pictures.", no_args_is_help=True)
app.add_typer(scenario_app, name="scenario")
app.add_typer(geometry_app, name="geometry")


def fail(message: str, code: int = 1) -> typer.Exit:
    printing.error(message)
    return typer.Exit(code)


ScenarioArg = Annotated[str, typer.Argument(help="scenario file, or a built-in name such as central-library")]
VariantOpt = Annotated[str | None, typer.Option("--variant", "-v", help="named variant in the scenario")]


@scenario_app.command("validate")
def scenario_validate(
    files: Annotated[list[str], typer.Argument(help="scenario files or built-in names")],
    geometry: Annotated[bool, typer.Option(help="also check geometry and reachability")] = True,
) -> None:
    """Check scenario files (and all their variants); exit 1 when any has a mistake."""
    from .app import validate

    bad = printing.validations(validate(files, geometry=geometry))
    if bad:
        raise fail(f"{bad} of {len(files)} scenario file(s) have mistakes")


@scenario_app.command("schema")
def scenario_schema() -> None:
    """Print the JSON Schema of the scenario format (for editors)."""
    from .app import scenario_schema as schema

    sys.stdout.write(json.dumps(schema(), indent=2) + "\n")


@scenario_app.command("show")
def scenario_show(scenario: ScenarioArg, variant: VariantOpt = None) -> None:
    """Floors, zones, areas, seats and devices as tables."""
    from .app import load

    printing.building_tables(load(scenario, variant).building, variant)


@geometry_app.command("export")
def geometry_export(
    scenario: ScenarioArg,
    variant: VariantOpt = None,
    glb: Annotated[Path | None, typer.Option(help="write the 3D model here (GLB)")] = None,
    png: Annotated[Path | None, typer.Option(help="write a picture here (PNG)")] = None,
) -> None:
    """Export the building as a 3D model (GLB) and/or a picture (PNG)."""
    from .app import export_geometry

    printing.wrote(export_geometry(scenario, variant=variant, glb=glb, png=png))


@app.command("demo")
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="where to write results")] = Path("out/demo"),
    live: Annotated[bool, typer.Option("--live/--no-live", help="then run the hub live with its dashboard")] = True,
    speed: Annotated[float, typer.Option(help="live: how many times faster than real time the devices publish")]
    = 60.0,
    duration: Annotated[float | None, typer.Option("--duration", help="live: stop after this many seconds "
                                                   "(default: Ctrl-C)")] = None,
    embedded_broker: Annotated[bool, typer.Option("--embedded-broker", help="use the embedded amqtt broker even "
                                                  "where Mosquitto is installed")] = False,
    port: Annotated[int, typer.Option(help="live: dashboard port on 127.0.0.1 (0: any free port)",
                                      min=0, max=65535)] = 8050,
) -> None:
    """Run the main job on the built-in branches, then the hub live: devices, MQTT, ingest, dashboard."""
    from twin.demo import run_demo

    with _telemetry_errors():
        run_demo(out_dir, out, live=live, embedded=embedded_broker, speed=speed, duration_s=duration, port=port)


# --------------------------------------------------------------------------- telemetry
# Thin commands: parse, call twin.telemetry_ops, print. Mistakes become UserError (no traceback).

store_app = typer.Typer(help="Telemetry stores: what is stored, what was rejected.", no_args_is_help=True)
app.add_typer(store_app, name="store")

BrokerOpt = Annotated[str, typer.Option("--broker", help="broker URL: mqtt://host:1883 or mqtts://host:8883")]
StoreOpt = Annotated[str, typer.Option("--store", help="store URL: duckdb:///abs/file.duckdb, file.duckdb or "
                                                       "postgresql://user@host:5432/db?schema=NAME")]
RetainOpt = Annotated[str | None, typer.Option(help="keep raw readings this long (30d, 12h ...); older ones are "
                                                  "rolled up into 1-minute and 1-hour aggregates, at start and "
                                                  "every hour")]
UserOpt = Annotated[str | None, typer.Option("--username", help="MQTT user (else from the URL or "
                                                                "$SMARTLIB_MQTT_USERNAME)")]
PasswordFileOpt = Annotated[Path | None, typer.Option("--password-file", help="file whose first line is the MQTT "
                                                      "password (else $SMARTLIB_MQTT_PASSWORD[_FILE])")]
TlsCaOpt = Annotated[Path | None, typer.Option("--tls-ca", help="CA certificate file (implies TLS)")]
TlsCertOpt = Annotated[Path | None, typer.Option("--tls-cert", help="client certificate file (TLS)")]
TlsKeyOpt = Annotated[Path | None, typer.Option("--tls-key", help="client key file (TLS)")]
TlsInsecureOpt = Annotated[bool, typer.Option("--tls-insecure", help="skip the server host name check (tests)")]


@contextlib.contextmanager
def _telemetry_errors() -> Iterator[None]:
    from telemetry.errors import TelemetryError

    try:
        yield
    except TelemetryError as exc:
        raise UserError(str(exc)) from None
    except KeyboardInterrupt:
        err.print("interrupted")
        raise typer.Exit(130) from None


@app.command("publish")
def publish(
    broker: BrokerOpt,
    results_dir: Annotated[Path | None, typer.Argument(help="results folder holding telemetry.parquet")] = None,
    speed: Annotated[float, typer.Option(help="times faster than recorded; 0 = as fast as possible")] = 60.0,
    synthetic: Annotated[str | None, typer.Option(help="publish a synthetic day of this scenario's devices "
                                                       "instead (file or built-in name)")] = None,
    hours: Annotated[float, typer.Option(help="--synthetic: hours of readings")] = 1.0,
    seed: Annotated[int, typer.Option(help="--synthetic: random seed")] = 0,
    keep_times: Annotated[bool, typer.Option("--keep-times", help="send recorded times (default: re-stamp "
                                                                  "onto the replay's wall clock)")] = False,
    qos: Annotated[int, typer.Option(help="MQTT QoS of telemetry messages (0 or 1)")] = 1,
    username: UserOpt = None, password_file: PasswordFileOpt = None, tls_ca: TlsCaOpt = None,
    tls_cert: TlsCertOpt = None, tls_key: TlsKeyOpt = None, tls_insecure: TlsInsecureOpt = False,
) -> None:
    """Replay telemetry as the devices would publish it (status topics, Wills), in real time or faster."""
    from .scenarios import scenario_file
    from .telemetry_ops import broker_settings, publish_command

    with _telemetry_errors():
        settings = broker_settings(broker, username=username, password_file=password_file, tls_ca=tls_ca,
                                   tls_cert=tls_cert, tls_key=tls_key, tls_insecure=tls_insecure)
        publish_command(settings=settings, results_dir=results_dir,
                        synthetic=scenario_file(synthetic) if synthetic else None, hours=hours, seed=seed,
                        speed=speed, keep_times=keep_times, qos=qos, console=out)


@app.command("broker")
def broker_cmd(
    port: Annotated[int | None, typer.Option(help="TCP port on 127.0.0.1 (default: a free one)")] = None,
    embedded: Annotated[bool, typer.Option("--embedded", help="use the embedded amqtt demo broker")] = False,
    workdir: Annotated[Path | None, typer.Option("--dir", help="folder for config, log and persistence")] = None,
    persistence: Annotated[bool, typer.Option(help="keep sessions and retained messages across restarts")] = True,
    password_file: Annotated[Path | None, typer.Option(help="Mosquitto password file, or user:password lines "
                                                             "(else $SMARTLIB_MQTT_USERNAME/PASSWORD)")] = None,
    acl_file: Annotated[Path | None, typer.Option(help="Mosquitto ACL file (see deploy/mosquitto/acl)")] = None,
    tls_cert: Annotated[Path | None, typer.Option(help="server certificate (serve TLS)")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="server key (serve TLS)")] = None,
    tls_ca: Annotated[Path | None, typer.Option(help="CA of client certificates")] = None,
) -> None:
    """Run a private MQTT broker (Mosquitto; the embedded amqtt broker when Mosquitto is missing)."""
    from .telemetry_ops import broker_command

    with _telemetry_errors():
        broker_command(port=port, embedded=embedded, workdir=workdir, persistence=persistence,
                       password_file=password_file, acl_file=acl_file, tls_cert=tls_cert, tls_key=tls_key,
                       tls_ca=tls_ca, console=out)


@app.command("ingest")
def ingest(
    broker: BrokerOpt,
    store: StoreOpt,
    scenarios: Annotated[Path | None, typer.Option(help="folder (or file) of scenarios whose devices are "
                                                       "accepted (default: the built-in branches)")] = None,
    share: Annotated[str | None, typer.Option(help="MQTT 5 shared-subscription group to split the load")] = None,
    client_id: Annotated[str | None, typer.Option(help="client id of the persistent session (one per "
                                                       "process)")] = None,
    batch_records: Annotated[int, typer.Option(help="commit at this many readings")] = 5000,
    linger_s: Annotated[float, typer.Option(help="commit at the latest this long after a batch began [s]")] = 0.02,
    max_past_s: Annotated[float, typer.Option(help="oldest reading accepted, before now [s]; 0 = any")] = 604800.0,
    max_future_s: Annotated[float, typer.Option(help="clock skew allowed ahead of now [s]")] = 300.0,
    status_interval: Annotated[float, typer.Option(help="seconds between status updates")] = 1.0,
    connect_timeout_s: Annotated[float, typer.Option(help="give up reaching the broker at start after [s]")] = 30.0,
    retain: RetainOpt = None,
    workers: Annotated[int, typer.Option(help="ingest processes on one MQTT 5 shared subscription (--share, default "
                                              "group smartlib-workers); needs a PostgreSQL store")] = 1,
    username: UserOpt = None, password_file: PasswordFileOpt = None, tls_ca: TlsCaOpt = None,
    tls_cert: TlsCertOpt = None, tls_key: TlsKeyOpt = None, tls_insecure: TlsInsecureOpt = False,
) -> None:
    """Validate telemetry from MQTT into a store, with dead letters; stops cleanly on Ctrl-C/SIGTERM."""
    from .scenarios import builtin_dir
    from .telemetry_ops import broker_settings, ingest_command

    with _telemetry_errors():
        settings = broker_settings(broker, username=username, password_file=password_file, tls_ca=tls_ca,
                                   tls_cert=tls_cert, tls_key=tls_key, tls_insecure=tls_insecure)
        ingest_command(settings=settings, store_url=store, scenarios=scenarios or builtin_dir(), share=share,
                       client_id=client_id,
                       batch_records=batch_records, linger_s=linger_s, max_past_s=max_past_s,
                       max_future_s=max_future_s, status_interval_s=status_interval,
                       connect_timeout_s=connect_timeout_s, retain=retain, workers=workers, console=out)


@store_app.command("stats")
def store_stats(store: StoreOpt, as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Stored readings per branch, device and quantity, time range, and dead letters per reason."""
    from .telemetry_ops import store_stats as stats

    with _telemetry_errors():
        printing.store_stats(stats(store_url=store), as_json=as_json)


# --------------------------------------------------------------------------- evacuation

@app.command("evacuate")
def evacuate(
    scenario: ScenarioArg,
    variant: VariantOpt = None,
    people: Annotated[int | None, typer.Option("--people", "-n", help="how many people (seats first, then standing "
                                               "in zones); default: every seat taken")] = None,
    occupancy: Annotated[Path | None, typer.Option("--occupancy", help="JSON or YAML file: zone id -> people")] = None,
    seed: Annotated[int, typer.Option("--seed", help="random seed (placement, walking speeds)")] = 0,
    block: Annotated[list[str] | None, typer.Option("--block", help="an exit nobody may use (repeat for more)")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="where to write summary.json and evacuation.png")] = Path(
        "out/evacuation"),
    trajectories: Annotated[bool, typer.Option("--trajectories", help="also write PedPy trajectory files")] = False,
    max_time: Annotated[float, typer.Option("--max-time", help="give up after this simulated time [s]")] = 1800.0,
) -> None:
    """Evacuate a building: everyone to the nearest open exit; times, exit flows, peak density."""
    from .app import evacuate as run

    with printing.progress_bar("placing people", unit="out") as progress:
        result = run(scenario, variant=variant, people=people, occupancy=occupancy, seed=seed, blocked=block or (),
                     max_time_s=max_time, trajectories=trajectories, out_dir=out_dir, progress=progress)
    printing.evacuation(result)


# --------------------------------------------------------------------------- library day

WalkerOpt = Annotated[str, typer.Option("--walker", help="how readers walk: crowd (the default: the crowd "
                                                         "kernel, everyone walking at once, readers meet) or grid "
                                                         "(shortest path / speed, nobody meets: a quick screening, "
                                                         "about five times faster)")]
SeedOpt = Annotated[int, typer.Option("--seed", help="random seed: the same seed gives the same day")]
DaysOpt = Annotated[int, typer.Option("--days", help="days to simulate from the scenario's start date")]


@app.command("simulate")
def simulate(
    scenario: ScenarioArg,
    variant: VariantOpt = None,
    seed: SeedOpt = 0,
    days: DaysOpt = 1,
    out_dir: Annotated[Path, typer.Option("--out", help="where to write kpis.json, the tables and day.png")] = Path(
        "out/simulate"),
    walker: WalkerOpt = DEFAULT_WALKER,
    trajectories: Annotated[str | None, typer.Option(
        "--trajectories", help="also write PedPy trajectories per floor for a window, e.g. 10:00-10:15 "
                               "(not with --walker grid)")] = None,
) -> None:
    """Simulate library days: KPIs, zones, events and telemetry tables, and a picture of the day."""
    from .app import simulate as run

    with printing.progress_bar("simulating", unit="h") as progress:
        result = run(scenario, variant=variant, seed=seed, days=days, walker=walker, out_dir=out_dir,
                     progress=progress, trajectories=trajectories)
    printing.simulation(result)


@app.command("compare")
def compare(
    scenario: ScenarioArg,
    variants: Annotated[str, typer.Option("--variants", help="comma-separated variant names, e.g. A,B")],
    seed: SeedOpt = 0,
    days: DaysOpt = 1,
    walker: WalkerOpt = DEFAULT_WALKER,
) -> None:
    """KPIs of the base scenario and each variant side by side, with the differences (same seed)."""
    from .app import compare as run

    with printing.progress_bar("simulating", unit="h") as progress:
        result = run(scenario, variants=variants.split(","), seed=seed, days=days, walker=walker, progress=progress)
    printing.comparison(result)



# --------------------------------------------------------------------------- optimisation and sweeps
# Thin commands: parse, call twin.optimize, print with twin.printing.

optimize_app = typer.Typer(help="Optimise a branch: device placement, staffing, layout.", no_args_is_help=True)
app.add_typer(optimize_app, name="optimize")


@optimize_app.command("placement")
def optimize_placement(
    scenario: ScenarioArg,
    device: Annotated[str, typer.Option("--device", help="co2, environment, temperature, presence, people_counter, "
                                                         "wifi_ap, camera")],
    k: Annotated[int, typer.Option("--k", help="number of devices")],
    variant: VariantOpt = None,
    seed: SeedOpt = 0,
    out_dir: Annotated[Path, typer.Option("--out", help="where to write the picture and the scenario copy")] = Path(
        "out/optimize"),
    time_limit_s: Annotated[float, typer.Option("--time-limit", help="stop the exact solver after this [s]")] = 120.0,
) -> None:
    """Place k devices for the most coverage of simulated occupancy (exact MILP, greedy gap); writes a variant."""
    from .optimize import optimize_placement as run

    printing.placement(run(scenario, device=device, k=k, variant=variant, seed=seed, out_dir=out_dir,
                           time_limit_s=time_limit_s))


@optimize_app.command("staffing")
def optimize_staffing(
    scenario: ScenarioArg,
    target: Annotated[str, typer.Option("--target", help="e.g. 'p(wait>120s)<=0.2' or 'mean(wait)<=60s'")],
    variant: VariantOpt = None,
    out_path: Annotated[Path | None, typer.Option("--out", help="write the plan as a staff section (YAML)")] = None,
    replications: Annotated[int, typer.Option("--replications", help="simulated days verifying the plan")] = 5,
    pilot: Annotated[int, typer.Option("--pilot", help="simulated days measuring the load")] = 3,
    seed: Annotated[int, typer.Option("--seed", help="base seed of the replications")] = 0,
    min_shift_h: Annotated[int, typer.Option("--min-shift", help="shortest shift [h]")] = 4,
    max_shift_h: Annotated[int, typer.Option("--max-shift", help="longest shift [h]")] = 8,
    patience_s: Annotated[float | None, typer.Option("--patience", help="mean reader patience [s]: Erlang A")] = None,
) -> None:
    """Fewest desk clerks per hour that meet a waiting target: Erlang screen, shift plan, simulated check."""
    from .optimize import optimize_staffing as run

    with printing.progress_bar("staffing") as progress:
        rep = run(scenario, target=target, variant=variant, replications=replications, pilot=pilot, seed=seed,
                  min_shift_h=min_shift_h, max_shift_h=max_shift_h, patience_s=patience_s, out=out_path,
                  progress=progress)
    printing.staffing(rep)


@optimize_app.command("layout")
def optimize_layout(
    scenario: ScenarioArg,
    space: Annotated[list[str], typer.Option("--space", help="PATH=VALUES to search, e.g. kiosks=1..3 (repeat)")],
    objectives: Annotated[str, typer.Option("--objectives", help="comma-separated, e.g. "
                                            "turned_away,desk_mean_wait_s,energy_kwh")] = "turned_away,energy_kwh",
    trials: Annotated[int, typer.Option("--trials", help="scenarios to simulate")] = 16,
    seeds: Annotated[int, typer.Option("--seeds", help="replications per trial")] = 1,
    variant: VariantOpt = None,
    seed: SeedOpt = 0,
    out_dir: Annotated[Path, typer.Option("--out", help="where to write the scenario copy and picture")] = Path(
        "out/optimize"),
) -> None:
    """Multi-objective layout search (NSGA-II): Pareto table and plot; the front written as variants."""
    from .optimize import optimize_layout as run

    with printing.progress_bar("layout search") as progress:
        rep = run(scenario, space=space, objectives=objectives.split(","), trials=trials, seeds=seeds,
                  variant=variant, seed=seed, out_dir=out_dir, progress=progress)
    printing.layout(rep)


@app.command("sweep")
def sweep(
    scenario: ScenarioArg,
    grid: Annotated[list[str], typer.Option("--grid", help="PATH=VALUES, e.g. staff.desk=1..4 (repeat for more)")],
    seeds: Annotated[int, typer.Option("--seeds", help="replications per grid point")] = 5,
    variant: VariantOpt = None,
    seed: Annotated[int, typer.Option("--seed", help="base seed the replication seeds derive from")] = 0,
    cluster: Annotated[str | None, typer.Option("--cluster", help="Dask scheduler, e.g. tcp://host:8786 "
                                                                  "(default: a local cluster)")] = None,
    workers: Annotated[int, typer.Option("--workers", help="local cluster worker processes")] = 2,
    out_path: Annotated[Path, typer.Option("--out", help="Parquet table of every run")] = Path("out/sweep.parquet"),
) -> None:
    """Simulate every grid point x seeds on Dask; one Parquet row per run, means with 95% intervals printed."""
    from .optimize import run_sweep

    with printing.progress_bar("sweep", unit="tasks") as progress:
        rep = run_sweep(scenario, grid=grid, seeds=seeds, variant=variant, base_seed=seed, cluster=cluster,
                        workers=workers, out=out_path, progress=progress)
    printing.sweep(rep)
# --------------------------------------------------------------------------- import and export of buildings
# `smartlib import ifc|imdf`, `smartlib export brick|imdf`: logic in twin.buildings.

import_app = typer.Typer(help="Import a building (IFC, IMDF) into a scenario file.", no_args_is_help=True)
export_app = typer.Typer(help="Export a scenario's building (Brick, IMDF).", no_args_is_help=True)
app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")
OutYaml = Annotated[Path, typer.Option("--out", "-o", help="scenario file to write (.yaml)")]
CellOpt = Annotated[float, typer.Option("--cell", help="walkable grid cell used to check reachability [m]")]
BranchIdOpt = Annotated[str | None, typer.Option("--id", help="branch id (default: from the file name)")]
PngOpt = Annotated[Path | None, typer.Option("--png", help="picture of the imported building (default: the "
                                                           "--out file with .png)")]


@import_app.command("ifc")
def import_ifc_cmd(
    source: Annotated[Path, typer.Argument(help="IFC file (IFC2X3 or IFC4, STEP format)")],
    out_file: OutYaml,
    cell: CellOpt = 0.25,
    branch_id: BranchIdOpt = None,
    png: PngOpt = None,
) -> None:
    """Import a BIM model: storeys, spaces, doors, walls, stairs, furniture; a report of what was changed."""
    from .buildings import import_ifc

    with printing.progress_bar("reading") as progress:
        summary = import_ifc(source, out_file, cell_m=cell, branch_id=branch_id,
                             png=png or out_file.with_suffix(".png"), progress=progress)
    printing.import_summary(summary)


@export_app.command("brick")
def export_brick_cmd(
    scenario: ScenarioArg,
    out_file: Annotated[Path, typer.Option("--out", "-o", help="Brick model to write (Turtle, .ttl)")],
    variant: VariantOpt = None,
    validate: Annotated[bool, typer.Option(help="validate against the Brick shapes (pyshacl, ~30 s)")] = True,
) -> None:
    """Export the building, zones and sensors as a Brick model (Turtle), validated with brickschema."""
    from .buildings import export_brick

    summary = export_brick(scenario, out_file, variant=variant, validate=validate)
    if not printing.brick_export(summary):
        raise fail("the Brick model does not conform to the Brick shapes (report above)")



@import_app.command("imdf")
def import_imdf_cmd(
    source: Annotated[Path, typer.Argument(help="IMDF archive: a folder or a .zip of GeoJSON files")],
    out_file: OutYaml,
    cell: CellOpt = 0.25,
    branch_id: BranchIdOpt = None,
    png: PngOpt = None,
) -> None:
    """Import an indoor map (IMDF): levels, units, openings, fixtures, kiosks; a report of what was changed."""
    from .buildings import import_imdf

    printing.import_summary(import_imdf(source, out_file, cell_m=cell, branch_id=branch_id,
                                        png=png or out_file.with_suffix(".png")))


@export_app.command("imdf")
def export_imdf_cmd(
    scenario: ScenarioArg,
    out_path: Annotated[Path, typer.Option("--out", "-o", help="IMDF archive to write: a folder, or a .zip")],
    variant: VariantOpt = None,
    origin: Annotated[tuple[float, float], typer.Option(help="longitude and latitude [deg] of the scenario's "
                                                             "(0, 0)")] = (0.0, 0.0),
) -> None:
    """Export the building as an IMDF archive (venue, building, levels, units, openings, fixtures ...)."""
    from .buildings import export_imdf

    printing.imdf_export(export_imdf(scenario, out_path, variant=variant, origin=origin))


# --------------------------------------------------------------------------- telemetry retention

@store_app.command("compact")
def store_compact(
    store: StoreOpt,
    older_than: Annotated[str, typer.Option(help="roll up raw readings older than this (30d, 12h, 90m, 3600s)")],
    keep_minutes: Annotated[str | None, typer.Option(help="also drop 1-minute aggregates older than this "
                                                          "(the hourly ones stay)")] = None,
) -> None:
    """Roll raw readings older than an age into 1-minute and 1-hour aggregates and remove them."""
    from .telemetry_ops import compact_store

    with _telemetry_errors():
        printing.store_compacted(compact_store(store_url=store, older_than=older_than, keep_minutes=keep_minutes),
                                 store_url=store)


# --------------------------------------------------------------------------- the hub (live twins)

@app.command("hub")
def hub(
    store: StoreOpt,
    broker: Annotated[str | None, typer.Option("--broker", help="broker URL: mqtt://host:1883 (ingest, alerts)")]
    = None,
    scenarios: Annotated[Path | None, typer.Option(help="folder (or file) of the branches' scenarios "
                                                       "(default: the built-in branches)")] = None,
    follow: Annotated[bool, typer.Option("--follow", help="follow the store (ingest runs elsewhere) instead of "
                                                          "ingesting here")] = False,
    clock: Annotated[str, typer.Option(help="wall (live devices) or data (replays of recorded days)")] = "wall",
    share: Annotated[str | None, typer.Option(help="MQTT 5 shared-subscription group of the ingest")] = None,
    client_id: Annotated[str | None, typer.Option(help="client id of the ingest's session")] = None,
    reorder_s: Annotated[float, typer.Option(help="hand readings to the twins this much reading time behind the "
                                                  "newest, in time order [s]")] = 5.0,
    rebuild_s: Annotated[float, typer.Option(help="rebuild from this much stored history at start [s]")] = 86400.0,
    max_past_s: Annotated[float, typer.Option(help="oldest reading accepted, before now [s]; 0 = any")] = 604800.0,
    max_future_s: Annotated[float, typer.Option(help="clock skew allowed ahead of now [s]")] = 300.0,
    publish_alerts: Annotated[bool, typer.Option(help="publish alerts on smartlib/v1/{branch}/alerts")] = True,
    status_interval: Annotated[float, typer.Option(help="seconds between status lines")] = 1.0,
    connect_timeout_s: Annotated[float, typer.Option(help="give up reaching the broker at start after [s]")] = 30.0,
    retain: RetainOpt = None,
    username: UserOpt = None, password_file: PasswordFileOpt = None,
) -> None:
    """Run every branch's live twin: ingest (or follow the store), estimate, raise alerts; Ctrl-C stops."""
    from .hub import hub_command
    from .scenarios import builtin_dir

    with _telemetry_errors():
        hub_command(scenarios=str(scenarios or builtin_dir()), broker_url=broker, store_url=store, follow=follow,
                    clock=clock, share=share, client_id=client_id, reorder_s=reorder_s, rebuild_s=rebuild_s,
                    max_past_s=max_past_s, max_future_s=max_future_s, publish_alerts=publish_alerts,
                    status_interval_s=status_interval, connect_timeout_s=connect_timeout_s, console=out,
                    username=username, password_file=password_file, retain=retain)


# --------------------------------------------------------------------------- hub analytics: what-if, evaluation
# Thin commands: parse, call one function of twin.whatif / twin.evaluate / twin.calibrate / twin.busiest, print.

@app.command("whatif")
def whatif_cmd(
    branch: ScenarioArg,
    variant: VariantOpt = None,
    store: Annotated[str | None, typer.Option("--store", help="rebuild the live state from this store (URL)")] = None,
    at: Annotated[str | None, typer.Option("--at", help="with --store: the moment, local YYYY-MM-DD HH:MM "
                                                        "(default: the newest reading)")] = None,
    state: Annotated[Path | None, typer.Option("--state", help="or a YAML/JSON file of the state now: time, readers, "
                                               "seated, queues, co2_ppm, temperature_c")] = None,
    horizon: Annotated[str, typer.Option("--horizon", help="how far ahead: 2h, 90min, 1h30m")] = "2h",
    replications: Annotated[int, typer.Option("--replications", "-r", help="forks per arm (CI)")] = 10,
    seed: Annotated[int, typer.Option("--seed", help="seed of the first replication")] = 0,
    date: Annotated[str | None, typer.Option("--date", help="the day (YYYY-MM-DD; its day type and hours)")] = None,
) -> None:
    """Forecast KPIs from the state now, as is and with a variant, with 95% confidence intervals."""
    from .whatif import run_whatif

    with printing.progress_bar("forking", unit="runs") as progress, _telemetry_errors():
        result = run_whatif(branch, state_file=state, store_url=store, at=at, variant=variant, horizon=horizon,
                            date=date, replications=replications, seed=seed,
                            on_run=lambda done, total: progress(done, total, "forking"))
    printing.forecast(result)


@app.command("evaluate")
def evaluate_cmd(
    store: StoreOpt,
    period: Annotated[str, typer.Option("--period", help="a month 2026-11, a day 2026-11-05 or days A..B")],
    csv: Annotated[Path | None, typer.Option("--csv", help="also write the table as CSV")] = None,
    scenarios: Annotated[Path | None, typer.Option(help="folder (or file) of the branches' scenarios "
                                                        "(default: the built-in branches)")] = None,
) -> None:
    """Indicators (ISO 11620 style) of every branch over a period from the store, ranked."""
    from .evaluate import evaluate

    with _telemetry_errors():
        result = evaluate(store, period, scenarios, csv=csv)
    printing.evaluation(result, csv)


@app.command("calibrate")
def calibrate_cmd(
    branch: ScenarioArg,
    store: StoreOpt,
    since: Annotated[str, typer.Option("--since", help="first day read (YYYY-MM-DD, local)")],
    out_file: Annotated[Path, typer.Option("--out", help="write the calibrated scenario here (YAML)")],
    until: Annotated[str | None, typer.Option("--until", help="last day read (default: yesterday)")] = None,
) -> None:
    """Fit the branch's demand (arrivals by hour and day type) to the stored history; write the scenario."""
    from .calibrate import calibrate

    with _telemetry_errors():
        result = calibrate(branch, store, since=since, until=until, out=out_file)
    printing.calibration(result)


@app.command("busiest")
def busiest_cmd(
    branch: ScenarioArg,
    store: StoreOpt,
    since: Annotated[str, typer.Option("--since", help="first day (YYYY-MM-DD, local)")],
    until: Annotated[str | None, typer.Option("--until", help="last day (default: yesterday)")] = None,
    zone: Annotated[str | None, typer.Option("--zone", help="print this zone (default: the whole building)")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="where to write busiest.csv and busiest.png")] = Path(
        "out/busiest"),
) -> None:
    """Busiest times: median and 10-90% occupancy by hour per day type, from the stored history."""
    from .busiest import branch_busiest

    with _telemetry_errors():
        result, paths = branch_busiest(branch, store, since=since, until=until, out_dir=out_dir, zone=zone)
    printing.busiest(result, zone)
    printing.wrote(paths)


# --------------------------------------------------------------------------- dashboard
@app.command("dashboard")
def dashboard_cmd(
    store: StoreOpt,
    broker: Annotated[str | None, typer.Option("--broker", help="also ingest from this broker (mqtt://host:1883)")]
    = None,
    scenarios: Annotated[Path | None, typer.Option(help="folder (or file) of the branches' scenarios "
                                                 "(default: the built-ins)")] = None,
    results: Annotated[Path, typer.Option(help="folder of saved simulation results (Scenarios page)")]
    = Path("out/results"),
    host: Annotated[str, typer.Option(help="address to serve on; other than 127.0.0.1 needs a login "
                                           "($SMARTLIB_DASHBOARD_PASSWORD[_FILE] or --password-file)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port (0: any free port)", min=0, max=65535)] = 8050,
    password_file: Annotated[Path | None, typer.Option("--password-file", help="file whose first line is the "
                                                       "dashboard password")] = None,
) -> None:
    """Serve the hub's dashboard (Live, Building, Scenarios, Branches, Devices) on a store."""
    from twin.serve import serve_dashboard

    with _telemetry_errors():
        serve_dashboard(store_url=store, console=out, broker_url=broker, scenarios=scenarios, results_dir=results,
                        host=host, port=port, password_file=password_file)


@app.command("report")
def report_cmd(
    results: Annotated[list[Path], typer.Argument(help="result folders (smartlib simulate --out); the first is "
                                                       "the base")],
    out_path: Annotated[Path, typer.Option("--out", help="HTML file to write")] = Path("report.html"),
) -> None:
    """A self-contained HTML report comparing saved simulation results."""
    from twin.serve import report_command

    report_command(results=results, out=out_path, console=out)


def main() -> None:
    """Entry point: run the app; user mistakes print a message, never a traceback."""
    try:
        app()
    except ScenarioError as exc:
        printing.problems(str(exc).splitlines())
        sys.exit(1)
    except UserError as exc:
        printing.error(str(exc))
        sys.exit(2)


if __name__ == "__main__":
    main()
