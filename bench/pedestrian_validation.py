"""Validation curves of the crowd model: fundamental diagram vs Weidmann, bottleneck flow vs width.

Measures, with the calibrated defaults and with JuPedSim's published parameters (ours), and with
JuPedSim itself for the bottleneck (same geometry, same people):

* mean speed in a periodic corridor (20 m x 3 m) at densities 0.5-3.5 /m2, three seeds each,
  next to Weidmann's v = 1.34 (1 - exp(-1.913 (1/rho - 1/5.4))) m/s;
* specific flow through a door of 0.8-2.0 m in a 0.4 m wall, 150 people waiting in an 8 m x 8 m
  room, steady part of the outflow (the 20th to the 130th person).

Prints both tables and writes ``docs/pedestrian-validation.png``.

    .venv/bin/python bench/pedestrian_validation.py [--no-jupedsim] [--out docs/pedestrian-validation.png]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))

DENSITIES = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5)
WIDTHS = (0.8, 0.9, 1.0, 1.2, 1.6, 2.0)


def weidmann(rho: float) -> float:
    return 1.34 * (1.0 - math.exp(-1.913 * (1.0 / rho - 1.0 / 5.4)))


def jittered_grid(rng: np.random.Generator, n: int, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    w, h = x1 - x0, y1 - y0
    ky = max(1, round(math.sqrt(n * h / w * 1.15)))
    kx = math.ceil(n * 1.15 / ky)
    px, py = w / kx, h / ky
    cells = rng.choice(kx * ky, size=n, replace=False)
    ix, iy = cells % kx, cells // kx
    jx, jy = max(0.0, (px - 0.42) / 2), max(0.0, (py - 0.42) / 2)
    return np.column_stack([x0 + (ix + 0.5) * px + rng.uniform(-jx, jx, n),
                            y0 + (iy + 0.5) * py + rng.uniform(-jy, jy, n)])


def corridor_speed(rho: float, params, seed: int) -> float:  # type: ignore[no-untyped-def]
    from simulation import periodic_corridor

    rng = np.random.default_rng(seed)
    crowd, target = periodic_corridor(20.0, 3.0, params=params)
    n = round(rho * 60)
    ids = crowd.add_many("corridor", jittered_grid(rng, n, 0.0, 0.25, 20.0, 2.75), target, 1.34)
    crowd.advance(20.0, stop_on_arrival=False)
    v = []
    for k in range(1, 41):
        crowd.advance(20.0 + 0.5 * k, stop_on_arrival=False)
        v.append(crowd.velocities(ids)[:, 0].mean())
    return float(np.mean(v))


def _scene(width_m: float, seed: int, n: int = 150):  # type: ignore[no-untyped-def]
    from shapely.geometry import box

    rng = np.random.default_rng(seed)
    walk = box(0, 0, 8, 8).union(box(8, 4 - width_m / 2, 8.4, 4 + width_m / 2)).union(box(8.4, 0, 12, 8))
    door = box(8.4, 4 - width_m / 2, 8.7, 4 + width_m / 2)
    xy = jittered_grid(rng, n, 0.5, 0.5, 7.5, 7.5)
    v0 = rng.normal(1.34, 0.26, n).clip(0.8, 2.0)
    return walk, door, xy, v0


def _flow(times: list[float], n: int) -> float:
    t = np.sort(times)
    if len(t) < n:
        return math.nan  # clogged: someone never got through
    return (n - 40) / (t[n - 20] - t[20])


def bottleneck_ours(width_m: float, params, seed: int, n: int = 150) -> float:  # type: ignore[no-untyped-def]
    from simulation import Crowd, Target

    walk, door, xy, v0 = _scene(width_m, seed, n)
    crowd = Crowd.from_polygons(walk, exits={"door": door}, params=params, seed=seed)
    ids = crowd.add_many("0", xy, Target.exits("0"), v0)
    crowd.advance(300.0, stop_on_arrival=False)
    t = [crowd.arrival_time_s(i) for i in ids]
    return _flow([x for x in t if np.isfinite(x)], n)


def bottleneck_jupedsim(width_m: float, seed: int, n: int = 150) -> float:
    import jupedsim as jps

    walk, door, xy, v0 = _scene(width_m, seed, n)
    sim = jps.Simulation(model=jps.CollisionFreeSpeedModel(), geometry=walk, dt=0.01)
    exit_id = sim.add_exit_stage(door)
    journey = sim.add_journey(jps.JourneyDescription([exit_id]))
    for (x, y), s in zip(xy, v0, strict=True):
        sim.add_agent(jps.CollisionFreeSpeedModelAgentParameters(position=(x, y), journey_id=journey,
                                                                 stage_id=exit_id, desired_speed=s, radius=0.2))
    times: list[float] = []
    left = n
    while sim.agent_count() > 0 and sim.iteration_count() < 30000:
        sim.iterate()
        c = sim.agent_count()
        if c < left:
            times += [sim.elapsed_time()] * (left - c)
            left = c
    return _flow(times, n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-jupedsim", action="store_true")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "pedestrian-validation.png")
    a = ap.parse_args()

    from rich.console import Console
    from rich.markup import escape
    from rich.progress import Progress
    from rich.table import Table

    from simulation import CSMParameters

    calibrated, published = CSMParameters(), CSMParameters.jupedsim()
    seeds = range(a.seeds)
    console = Console(width=max(120, Console().width))
    fd: dict[str, list[list[float]]] = {"calibrated": [], "published": []}
    bn: dict[str, list[list[float]]] = {"calibrated": [], "published": [], "JuPedSim": []}
    total = len(DENSITIES) * 2 + len(WIDTHS) * (2 if a.no_jupedsim else 3)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("validation", total=total)
        for name, p in (("calibrated", calibrated), ("published", published)):
            for rho in DENSITIES:
                bar.update(task, description=f"corridor {name} rho {rho}")
                fd[name].append([corridor_speed(rho, p, 100 * s + int(10 * rho)) for s in seeds])
                bar.advance(task)
        for w in WIDTHS:
            for name, p in (("calibrated", calibrated), ("published", published)):
                bar.update(task, description=f"bottleneck {name} {w} m")
                bn[name].append([bottleneck_ours(w, p, s) for s in seeds])
                bar.advance(task)
            if not a.no_jupedsim:
                bar.update(task, description=f"bottleneck JuPedSim {w} m")
                bn["JuPedSim"].append([bottleneck_jupedsim(w, s) for s in seeds])
                bar.advance(task)

    t1 = Table(title=escape("periodic corridor 20 m x 3 m: mean speed [m/s] (mean of seeds, min-max)"))
    for col in ("density /m2", "Weidmann", "calibrated (T 0.7 s)", "published (T 1 s)"):
        t1.add_column(col, justify="right")
    for k, rho in enumerate(DENSITIES):
        row = [f"{rho:g}", f"{weidmann(rho):.3f}"]
        for name in ("calibrated", "published"):
            v = fd[name][k]
            row.append(f"{np.mean(v):.3f} ({min(v):.2f}-{max(v):.2f})")
        t1.add_row(*row)
    console.print(t1)
    t2 = Table(title=escape("bottleneck: specific flow [persons/(m s)] (mean of seeds; 'clog' = someone never got "
                            "through)"))
    cols = ["width m", "calibrated", "published", *(() if a.no_jupedsim else ("JuPedSim 1.x",))]
    for col in cols:
        t2.add_column(col, justify="right")

    def fmt(v: list[float], w: float) -> str:
        ok = [x / w for x in v if np.isfinite(x)]
        clogs = len(v) - len(ok)
        s = f"{np.mean(ok):.2f}" if ok else "-"
        return s + (f" ({clogs} clog)" if clogs else "")

    for k, w in enumerate(WIDTHS):
        t2.add_row(f"{w:g}", *(fmt(bn[name][k], w) for name in cols[1:] if name != "JuPedSim 1.x"),
                   *(() if a.no_jupedsim else (fmt(bn["JuPedSim"][k], w),)))
    console.print(t2)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    r = np.linspace(0.3, 5.3, 200)
    ax1.plot(r, [weidmann(x) for x in r], "k-", label="Weidmann (1993)")
    ax1.fill_between(r, [max(weidmann(x) - 0.3, 0) for x in r], [weidmann(x) + 0.3 for x in r], color="0.9",
                     label="+-0.3 m/s")
    for name, style in (("calibrated", "o-"), ("published", "s--")):
        m = [np.mean(v) for v in fd[name]]
        ax1.plot(DENSITIES, m, style, label=f"ours, {name}")
    ax1.set(xlabel="density [1/m2]", ylabel="mean speed [m/s]", title="periodic corridor", xlim=(0, 4), ylim=(0, 1.6))
    ax1.legend(fontsize=8)
    ax2.axhspan(1.8, 1.9, color="0.85", label="measured, about 1.8-1.9")
    for name, style in (("calibrated", "o-"), ("published", "s--"), ("JuPedSim", "^:")):
        if not bn[name]:
            continue
        m = [np.nanmean([x / w for x in v]) if np.isfinite(v).any() else np.nan for v, w in zip(bn[name], WIDTHS,
                                                                                                 strict=True)]
        ax2.plot(WIDTHS, m, style, label=name if name == "JuPedSim" else f"ours, {name}")
    ax2.set(xlabel="door width [m]", ylabel="specific flow [1/(m s)]", title="bottleneck", ylim=(1.0, 2.4))
    ax2.legend(fontsize=8)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(a.out, dpi=110)
    console.print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
