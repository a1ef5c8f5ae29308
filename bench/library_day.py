"""Benchmark: wall time and peak memory of one simulated library day per built-in branch and walker.

Each (branch, walker) runs in a fresh subprocess, so peak memory (``ru_maxrss``) is that run's
alone, and the time is ``run_day`` only (imports, Numba's cached kernels and scenario loading are
measured apart as ``setup s``: one person first walks across a small room, which loads the
kernels; ``cpu s`` is the CPU time of ``run_day``, which other processes on the machine
inflate less than the wall time). Target: the central library's day with the crowd
walker under 15 s on a 2-core machine; the goal is under 5 s, with no walker rescued.

    .venv/bin/python bench/library_day.py                    # every branch, grid and crowd walkers
    .venv/bin/python bench/library_day.py --walkers grid --branches central-library --timeout 300

Other processes on the machine slow every number down: the table prints the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BRANCHES = ("central-library", "district-branch", "service-point")
WALKERS = ("grid", "crowd")
TARGET_S, GOAL_S = 15.0, 5.0

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from geometry import build_building, resolve_file
from simulation.day.library_day import run_day
src = resolve_file(sys.argv[1])
building = build_building(src)
# load the walkers and Numba's cached kernels: one person crosses a small room
from shapely.geometry import box
from simulation.crowd import Crowd, Target
from simulation.day import crowdwalk  # noqa: F401
warm = Crowd.from_polygons(box(0, 0, 5, 5))
warm.add("0", 1.0, 1.0, Target.point("0", 4.0, 4.0), 1.3)
warm.advance(10.0)
t1 = time.perf_counter()
ru0 = resource.getrusage(resource.RUSAGE_SELF)
rss0 = ru0.ru_maxrss
r = run_day(building, src, seed=int(sys.argv[3]), progress=False, walker=sys.argv[2])
t2 = time.perf_counter()
ru1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime
print(json.dumps({"setup_s": t1 - t0, "run_s": t2 - t1, "cpu_s": cpu, "rss_before_mb": rss0 / 1024,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "visits": r.kpis.visits, "walks": int((r.events["event"] == "walk").sum()),
                  "stats": r.meta.get("walker_stats", {})}))
"""


def run_one(branch: str, walker: str, seed: int, timeout_s: float) -> dict[str, object]:
    """One day of ``branch`` with ``walker`` in a fresh Python; {'error': ...} on failure or timeout."""
    env = {**os.environ, "NUMBA_CACHE_DIR": os.environ.get("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))}
    path = ROOT / "scenarios" / f"{branch}.yaml"
    t0 = time.perf_counter()
    try:
        p = subprocess.run([sys.executable, "-c", CHILD, str(path), walker, str(seed)], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"error": f"> {timeout_s:.0f} s (stopped)", "wall_s": time.perf_counter() - t0}
    if p.returncode != 0:
        return {"error": p.stderr.strip().splitlines()[-1] if p.stderr.strip() else f"exit {p.returncode}"}
    return json.loads(p.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--branches", default=",".join(BRANCHES), help="comma-separated built-in branches")
    ap.add_argument("--walkers", default=",".join(WALKERS), help="comma-separated walkers (grid, crowd)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=900.0, help="give up on one run after this many seconds")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)
    from rich.console import Console
    from rich.table import Table

    console = Console(width=200)
    rows = []
    for branch in args.branches.split(","):
        for walker in args.walkers.split(","):
            console.print(f"running {branch} with the {walker} walker...", highlight=False)
            res = run_one(branch, walker, args.seed, args.timeout)
            rows.append({"branch": branch, "walker": walker, **res})
    load = os.getloadavg()
    table = Table(title=f"one library day per branch (seed {args.seed}; target central < {TARGET_S:g} s, goal "
                        f"< {GOAL_S:g} s; load average {load[0]:.1f} on {os.cpu_count()} cores)")
    for col in ("branch", "walker", "visits", "walks", "day s", "cpu s", "setup s", "peak RSS MB", "RSS before MB",
                "kernel calls", "agent-steps/s", "rescued", "vs target"):
        table.add_column(col, justify="left" if col in ("branch", "walker", "vs target") else "right")
    for r in rows:
        if "error" in r:
            table.add_row(r["branch"], r["walker"], "-", "-", str(r["error"]), "-", "-", "-", "-", "-", "-", "-", "-")
            continue
        st = r.get("stats") or {}
        verdict = ""
        if r["branch"] == "central-library" and r["walker"] == "crowd":
            verdict = "goal met" if r["run_s"] < GOAL_S else ("target met" if r["run_s"] < TARGET_S else "MISSED")
        table.add_row(r["branch"], r["walker"], f"{r['visits']:,}", f"{r['walks']:,}", f"{r['run_s']:.1f}",
                      f"{r['cpu_s']:.1f}", f"{r['setup_s']:.1f}", f"{r['peak_rss_mb']:.0f}",
                      f"{r['rss_before_mb']:.0f}",
                      str(st.get("advances", "-")),
                      f"{st['agent_steps'] / r['run_s']:,.0f}" if st.get("agent_steps") else "-",
                      str(st.get("rescued", "-")), verdict)
    console.print(table)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
