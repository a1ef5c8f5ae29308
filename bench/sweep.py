"""Benchmark: a sweep of library days of the district branch on a local Dask cluster of 1 vs 2 workers.

40 library days by default (``staff.desk=1..4`` x 10 seeds, one day per task). Each run starts its
own ``LocalCluster`` (worker processes, one thread each); the time includes starting the cluster,
since a user pays for it too, and is also shown without it. The tables of the two runs must be
identical (the seeds come from the task, never from the worker). Goal: speed-up >= 1.8.

    .venv/bin/python bench/sweep.py [--seeds 10] [--grid staff.desk=1..4]

The machine is shared: the table prints the load average, and a loaded machine caps the speed-up.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOAL = 1.8


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "district-branch.yaml"))
    ap.add_argument("--grid", default="staff.desk=1..4")
    ap.add_argument("--seeds", type=int, default=10)
    a = ap.parse_args()
    os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))
    import pandas as pd

    from optimization.scenario import load
    from optimization.sweep import parse_axis, sweep

    src = load(a.scenario)
    axes = [parse_axis(a.grid)]
    rows = []
    tables = {}
    for workers in (1, 2):
        t0 = time.perf_counter()
        table = sweep(src, axes, seeds=a.seeds, workers=workers)
        total = time.perf_counter() - t0
        tables[workers] = table
        rows.append((workers, len(table), total))
        print(f"{workers} worker(s): {len(table)} days in {total:.1f} s", flush=True)
    pd.testing.assert_frame_equal(tables[1], tables[2])
    load_avg = os.getloadavg()[0]
    print(f"\nsweep of {rows[0][1]} library days ({a.grid} x {a.seeds} seeds), {Path(a.scenario).stem}; "
          f"load average {load_avg:.1f} on {os.cpu_count()} cores")
    print(f"{'workers':>8} {'days':>6} {'wall s':>8} {'days/min':>9} {'speed-up':>9}")
    base = rows[0][2]
    for w, n, total in rows:
        print(f"{w:>8} {n:>6} {total:8.1f} {60 * n / total:9.1f} {base / total:9.2f}")
    print(f"tables identical on 1 and 2 workers: yes; goal speed-up >= {GOAL}: "
          f"{'met' if base / rows[1][2] >= GOAL else 'not met'} ({base / rows[1][2]:.2f})")


if __name__ == "__main__":
    main()
