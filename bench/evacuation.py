"""Evacuation of the central library at full seat occupancy: wall time and peak memory.

Loads ``scenarios/central-library.yaml`` (5 floors, 12,000 m2, every seat taken), runs
:func:`simulation.run_evacuation` and prints where the time went (building, fields and
placement, movement), the simulated evacuation time, the agent-steps per second of the whole
run, and memory: the process's peak resident size (``ru_maxrss``) and the peak of Python-level
allocations during the run (``tracemalloc``, numpy arrays included).

    .venv/bin/python bench/evacuation.py [--scenario central-library] [--seed 0] [--trajectories] [--reps 1]
    .venv/bin/python bench/evacuation.py --compare-routes     # route choice against static nearest exit

With ``--compare-routes`` it runs the evacuation with route choice (estimated time with queues,
revised every 5 s) and with the static nearest-exit rule, and prints the evacuation time and the
load of every exit and stair for both.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="central-library")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--trajectories", action="store_true", help="also keep trajectories (memory)")
    ap.add_argument("--out", type=Path, default=None, help="write summary.json and the picture here")
    ap.add_argument("--compare-routes", action="store_true", help="route choice vs static nearest exit")
    ap.add_argument("--dt", type=float, default=0.01, help="movement time step [s]")
    a = ap.parse_args()

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from geometry import load_building
    from simulation import EvacuationConfig, run_evacuation, write_outputs
    from simulation.crowd import kernels

    console = Console(width=max(120, Console().width))
    path = ROOT / "scenarios" / f"{a.scenario}.yaml"
    if not path.exists():
        path = Path(a.scenario)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    building = load_building(path)
    t_load = time.perf_counter() - t0
    # compile or load the kernels outside the timed run
    run_evacuation(load_building(ROOT / "tests" / "data" / "small-branch.yaml"), EvacuationConfig(people=5))
    if a.compare_routes:
        compare_routes(console, building, a.seed, a.dt)
        return
    rows = []

    def once(seed: int, trace: bool) -> tuple[dict, float, float, float, float, object]:  # type: ignore[type-arg]
        if trace:
            tracemalloc.start()
        t1 = time.perf_counter()
        first: list[float] = []
        cols = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*cols, console=console, transient=True) as bar:
            task = bar.add_task("fields and placement" + (" (tracing memory)" if trace else ""), total=None)

            def progress(t_s: float, out_n: int, total: int) -> None:
                if not first:
                    first.append(time.perf_counter())
                bar.update(task, total=total, completed=out_n, description=f"evacuating, t = {t_s:4.0f} s"
                           + (" (tracing memory)" if trace else ""))

            result = run_evacuation(building, EvacuationConfig(seed=seed, dt_s=a.dt), trajectories=a.trajectories,
                                    progress=progress)
        t2 = time.perf_counter()
        peak = 0.0
        if trace:
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
        start = first[0] if first else t1
        return result.summary, start - t1, t2 - start, t2 - t1, peak, result

    for rep in range(a.reps):
        rows.append(once(a.seed + rep, trace=False))
    peak_py = once(a.seed, trace=True)[4]
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    s = rows[-1][0]
    result = rows[-1][5]
    table = Table(title=f"evacuation of {s['name']} at full seat occupancy ({building.area_m2:,.0f} m2, "
                        f"{len(building.floors)} floors, {kernels.max_threads()} cores)")
    for col in ("seed", "people", "evacuation s", "load building s", "fields + placement s", "movement s",
                "total s", "agent-steps", "agent-steps/s (movement)"):
        table.add_column(col, justify="right")
    for rep, (summ, setup, move, total, _, _) in enumerate(rows):
        ev = summ["evacuation_time_s"]
        table.add_row(str(a.seed + rep), f"{summ['people']:,}", "-" if ev is None else f"{ev:.1f}", f"{t_load:.2f}",
                      f"{setup:.2f}", f"{move:.2f}", f"{total:.2f}", f"{summ['agent_steps']:,}",
                      f"{summ['agent_steps'] / move:,.0f}")
    console.print(table)
    console.print(f"memory: peak resident size of the process {rss1:,.0f} MiB ({rss0:,.0f} MiB after imports); "
                  f"peak traced Python/numpy allocations during one run {peak_py:,.1f} MiB")
    console.print("exits used: " + ", ".join(f"{k} {v['count']}" for k, v in s["exits"].items() if v["count"]))
    if a.out is not None:
        for p in write_outputs(result, a.out):
            console.print(f"wrote {p}")


def compare_routes(console: object, building: object, seed: int, dt_s: float) -> None:
    """Evacuate with route choice and with static routing; print times and loads side by side."""
    from rich.table import Table

    from simulation import EvacuationConfig, run_evacuation

    runs = {}
    for choice in ("dynamic", "static"):
        t0 = time.perf_counter()
        s = run_evacuation(building, EvacuationConfig(seed=seed, dt_s=dt_s, route_choice=choice)).summary  # type: ignore[arg-type]
        runs[choice] = (s, time.perf_counter() - t0)
    dyn, sta = runs["dynamic"][0], runs["static"][0]
    table = Table(title=f"evacuation of {dyn['name']} at full seat occupancy ({dyn['people']:,} people, seed {seed}, "
                        f"dt {dt_s:g} s): route choice vs static nearest exit; load average "
                        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for col in ("", "route choice", "static", "ratio"):
        table.add_column(col, justify="left" if not col else "right")

    def row(name: str, a: float | None, b: float | None, fmt: str = "{:,.0f}") -> None:
        ratio = f"{a / b:.2f}" if a is not None and b else "-"
        table.add_row(name, "-" if a is None else fmt.format(a), "-" if b is None else fmt.format(b), ratio)

    row("evacuation time s", dyn["evacuation_time_s"], sta["evacuation_time_s"], "{:.1f}")
    row("wall time s", runs["dynamic"][1], runs["static"][1], "{:.1f}")
    for e in sorted(dyn["exits"]):
        row(f"exit {e}", dyn["exits"][e]["count"], sta["exits"][e]["count"])
    for k in sorted(set(dyn["stairs"]) | set(sta["stairs"])):
        row(f"stair {k}", dyn["stairs"].get(k, {}).get("people", 0), sta["stairs"].get(k, {}).get("people", 0))
    console.print(table)  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
