"""Crowd movement speed: agent-steps per second, ours vs JuPedSim, on the same scene, in one run.

The scene (restated from the shared benchmark definition, ``shared/bench/scene.py``): a square
room of side L with one 2 m exit centred in the right wall; agents of radius 0.2 m, desired
speed 1.34 m/s, on a jittered grid (a random subset of cells); L = 40 m up to 5,000 agents,
above that the room grows to keep 2.5 agents/m2 (10,000 -> 63.2 m, 100,000 -> 200 m); time step
0.01 s. Agent-steps count only agents still inside. Both simulators run the collision-free speed
model with JuPedSim's default parameters (ours: ``CSMParameters.jupedsim()``); ours includes its
routing (distance-field gradient) and walls (line-of-sight and wall repulsion) in every step.
JuPedSim's core is single-threaded; ours runs with 1 thread and with all cores.

    .venv/bin/python bench/movement.py [--sizes 1000 10000 100000] [--reps 3] [--no-jupedsim]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))

RADIUS_M = 0.2
EXIT_WIDTH_M = 2.0
SPEED_M_S = 1.34
DT_S = 0.01
ITERS = {1000: 500, 10000: 300, 100000: 30}


def room_side(n: int) -> float:
    return 40.0 if n <= 5000 else math.sqrt(n / 2.5)


def exit_box(side: float) -> tuple[float, float, float, float]:
    return (side - 0.5, side / 2 - EXIT_WIDTH_M / 2, side, side / 2 + EXIT_WIDTH_M / 2)


def positions(n: int, side: float, seed: int = 0, margin: float = 0.5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    inner = side - 2 * margin - 1.0
    k = math.ceil(math.sqrt(n * 1.15))
    pitch = inner / k
    if pitch <= 2 * RADIUS_M + 0.02:
        raise ValueError(f"too dense: pitch {pitch:.3f} m")
    jitter = (pitch - 2 * RADIUS_M - 0.01) / 2
    cells = rng.choice(k * k, size=n, replace=False)
    ix, iy = cells % k, cells // k
    x = margin + (ix + 0.5) * pitch + rng.uniform(-jitter, jitter, n)
    y = margin + (iy + 0.5) * pitch + rng.uniform(-jitter, jitter, n)
    return np.column_stack([x, y])


def ours(n: int, iters: int, seed: int, threads: int) -> float:
    from shapely.geometry import box

    from simulation.crowd import kernels
    from simulation.crowd.movement import Crowd, CSMParameters
    from simulation.crowd.navigation import Target

    kernels.set_threads(threads)
    side = room_side(n)
    crowd = Crowd.from_polygons(box(0, 0, side, side), exits={"exit": box(*exit_box(side))},
                                params=CSMParameters.jupedsim(), dt_s=DT_S)
    crowd.add_many("0", positions(n, side, seed), Target.exits("0"), SPEED_M_S, radius_m=RADIUS_M)
    crowd.auto_threads = False  # measure exactly the thread count asked for
    t0 = time.perf_counter()
    crowd.advance(iters * DT_S, stop_on_arrival=False)
    return crowd.agent_steps / (time.perf_counter() - t0)


def jupedsim(n: int, iters: int, seed: int) -> float:
    import jupedsim as jps
    import shapely

    side = room_side(n)
    sim = jps.Simulation(model=jps.CollisionFreeSpeedModel(), geometry=shapely.box(0, 0, side, side), dt=DT_S)
    exit_id = sim.add_exit_stage(shapely.box(*exit_box(side)))
    journey = sim.add_journey(jps.JourneyDescription([exit_id]))
    for x, y in positions(n, side, seed):
        sim.add_agent(jps.CollisionFreeSpeedModelAgentParameters(
            position=(x, y), journey_id=journey, stage_id=exit_id, desired_speed=SPEED_M_S, radius=RADIUS_M))
    steps = 0
    t0 = time.perf_counter()
    for _ in range(iters):
        steps += sim.agent_count()
        sim.iterate()
    return steps / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    ap.add_argument("--reps", type=int, default=3, help="repetitions (median reported); 1 at 100,000 agents")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-jupedsim", action="store_true", help="skip JuPedSim (no ratio)")
    a = ap.parse_args()

    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from simulation.crowd import kernels

    cores = kernels.max_threads()
    console = Console(width=max(120, Console().width))
    ours(200, 5, a.seed, cores)  # compile or load the kernels before timing
    rows = []
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("benchmark", total=len(a.sizes))
        for n in a.sizes:
            iters = ITERS.get(n, 300)
            reps = 1 if n >= 100000 else a.reps
            bar.update(task, description=f"{n:,} agents: ours, 1 thread")
            one = statistics.median(ours(n, iters, a.seed, 1) for _ in range(reps))
            bar.update(task, description=f"{n:,} agents: ours, {cores} threads")
            many = statistics.median(ours(n, iters, a.seed, cores) for _ in range(reps))
            jps = math.nan
            if not a.no_jupedsim:
                bar.update(task, description=f"{n:,} agents: JuPedSim")
                jps = statistics.median(jupedsim(n, iters, a.seed) for _ in range(reps))
            rows.append((n, iters, reps, one, many, jps))
            bar.advance(task)
    kernels.set_threads(cores)
    table = Table(title=f"agent-steps per second (collision-free speed model, dt {DT_S} s; "
                        f"{platform.processor() or platform.machine()}, {cores} cores)")
    for col in ("agents", "steps x reps", "ours 1 thread", f"ours {cores} threads", "JuPedSim",
                "ratio 1 thread", f"ratio {cores} threads"):
        table.add_column(col, justify="right")
    for n, iters, reps, one, many, jps in rows:
        table.add_row(f"{n:,}", f"{iters} x {reps}", f"{one:,.0f}", f"{many:,.0f}",
                      "-" if math.isnan(jps) else f"{jps:,.0f}",
                      "-" if math.isnan(jps) else f"{one / jps:.1f}", "-" if math.isnan(jps) else f"{many / jps:.1f}")
    console.print(table)
    goals = []  # the project's movement goals
    for n, _, _, one, many, jps in rows:
        if n == 10000 and not math.isnan(jps):
            goals.append(f"10,000 agents, 1 thread: {one / jps:.1f}x JuPedSim (goal 10x)")
        if n == 100000:
            goals.append(f"100,000 agents, {cores} threads: {many:,.0f} agent-steps/s (goal 1,500,000)")
    if goals:
        console.print("; ".join(goals))


if __name__ == "__main__":
    main()
