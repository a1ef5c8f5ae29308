"""Application functions of the optimisers: placement, staffing, layout search and sweeps.

Each takes a scenario path and plain options, calls :mod:`optimization`, writes its files and
returns a typed result for the command line (or the dashboard) to show.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from .errors import UserError
from .scenarios import scenario_file

#: ``progress(done, total, text)``, as in :mod:`twin.app`.
Progress = Callable[[float, float, str], None]
F = TypeVar("F", bound=Callable[..., Any])


@contextlib.contextmanager
def _user_errors() -> Iterator[None]:
    from optimization.errors import OptimizationError

    try:
        yield
    except OptimizationError as exc:
        raise UserError(str(exc)) from None


def _requests(fn: F) -> F:
    """The optimisers' errors about a request (unknown path, k too large, bad target ...) as UserError."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _user_errors():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@dataclass(frozen=True)
class PlacementReport:
    plan: Any  # optimization.place.PlacementPlan
    picture: Path
    scenario_out: Path | None
    variant: str | None


@_requests
def optimize_placement(scenario: str | Path, *, device: str, k: int, variant: str | None = None, seed: int = 0,
                       out_dir: Path = Path("out/optimize"), cell_m: float = 0.5,
                       time_limit_s: float = 120.0) -> PlacementReport:
    """Best positions for ``k`` devices; writes the PNG and a scenario copy with the variant ``<device>-k<k>``."""
    from optimization.place import placement_variant, plan_placement, render_placement
    from optimization.placement import DEVICES
    from optimization.scenario import load, variant_override, write_variant

    scenario = scenario_file(scenario)
    src = load(scenario, variant)
    plan, problem = plan_placement(src, device, k, seed=seed, cell_m=cell_m, time_limit_s=time_limit_s)
    stem = Path(scenario).stem
    picture = render_placement(problem, plan, Path(out_dir) / f"{stem}-{device}-k{k}.png")
    name = f"{device}-k{k}"
    if DEVICES[device].scenario_type is None:
        return PlacementReport(plan, picture, None, None)
    changed = placement_variant(src, plan)
    desc = (f"{k} {device} devices placed for maximal coverage of simulated occupancy "
            f"({plan.exact.share:.1%} covered, seed {seed})" + (f", on variant {variant}" if variant else ""))
    path = write_variant(scenario, Path(out_dir) / f"{stem}-{name}.yaml", name, desc, variant_override(
        load(scenario), changed))
    return PlacementReport(plan, picture, path, name)


@dataclass(frozen=True)
class SweepReport:
    table: Any  # pandas.DataFrame, one row per run
    summary: Any  # pandas.DataFrame, one row per grid point
    parquet: Path


@_requests
def run_sweep(scenario: str | Path, *, grid: list[str], seeds: int, variant: str | None = None, base_seed: int = 0,
              cluster: str | None = None, workers: int = 2, reps_per_task: int = 1,
              out: Path = Path("out/sweep.parquet"),
              progress: Progress | None = None) -> SweepReport:
    """Sweep a grid of parameters over replications on Dask; the table goes to Parquet."""
    from optimization.scenario import load
    from optimization.sweep import SweepError, parse_axis, summarize, sweep

    if not grid:
        raise SweepError("give at least one --grid PATH=VALUES (e.g. staff.desk=1..4)")
    axes = [parse_axis(g) for g in grid]
    src = load(scenario_file(scenario), variant)
    table = sweep(src, axes, seeds=seeds, base_seed=base_seed, reps_per_task=reps_per_task, cluster=cluster,
                  workers=workers, progress=None if progress is None else (
                      lambda done, total: progress(done, total, f"sweep: {done} of {total} tasks")))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(out, index=False)
    return SweepReport(table, summarize(table, axes), out)


@dataclass(frozen=True)
class StaffingReport:
    plan: Any  # optimization.staffing.StaffingPlan
    written: Path | None


@_requests
def optimize_staffing(scenario: str | Path, *, target: str, variant: str | None = None, replications: int = 5,
                      pilot: int = 3, seed: int = 0, min_shift_h: int = 4, max_shift_h: int = 8,
                      patience_s: float | None = None, out: Path | None = None,
                      progress: Progress | None = None) -> StaffingReport:
    """Fewest desk clerks per hour meeting ``target`` as shifts, verified by simulation; ``out`` gets the plan."""
    from optimization.scenario import load
    from optimization.staffing import parse_target, plan_staffing

    tgt = parse_target(target)
    src = load(scenario_file(scenario), variant)
    plan = plan_staffing(src, tgt, replications=replications, pilot=pilot, base_seed=seed, min_shift_h=min_shift_h,
                         max_shift_h=max_shift_h, patience_s=patience_s,
                         progress=None if progress is None else (lambda text: progress(0, 0, text)))
    written = None
    if out is not None:
        import yaml

        v = plan.verification
        head = (f"# Staff plan for {src.scenario.branch.id} from `smartlib optimize staffing` (target {target}):\n"
                f"# {plan.staff_hours} desk staff-hours; verified over {v.replications} simulated days: share "
                f"{v.share:.3f} +- {v.share_ci:.3f}, mean wait {v.mean_wait_s:.0f} +- {v.mean_wait_ci:.0f} s "
                f"({'met' if v.met else 'NOT met'}).\n# Use it as the scenario's `staff` section or in a variant "
                f"override.\n")
        written = Path(out)
        written.parent.mkdir(parents=True, exist_ok=True)
        written.write_text(head + yaml.safe_dump({"staff": plan.staff_section()}, sort_keys=False), encoding="utf-8")
    return StaffingReport(plan, written)


@dataclass(frozen=True)
class LayoutReport:
    result: Any  # optimization.layout.LayoutResult
    picture: Path
    scenario_out: Path
    variants: tuple[str, ...]


@_requests
def optimize_layout(scenario: str | Path, *, space: list[str], objectives: list[str], trials: int, seeds: int = 1,
                    variant: str | None = None, seed: int = 0, population: int = 8,
                    out_dir: Path = Path("out/optimize"),
                    progress: Progress | None = None) -> LayoutReport:
    """NSGA-II over a declared space; writes the Pareto front as variants of a scenario copy and a PNG."""
    from optimization.layout import render_front, search
    from optimization.scenario import edit, load, variant_override, write_variants
    from optimization.sweep import parse_axis

    objectives = [o.strip() for o in objectives if o.strip()]
    axes = [parse_axis(s) for s in space]
    scenario = scenario_file(scenario)
    src = load(scenario, variant)
    res = search(src, axes, objectives, trials=trials, seeds=seeds, seed=seed, population=population,
                 progress=None if progress is None else (
                     lambda done, total: progress(done, total, f"layout search: trial {done} of {total}")))
    stem = Path(scenario).stem
    base = load(scenario)
    variants = {}
    for n, (_, r) in enumerate(res.pareto.iterrows(), start=1):
        params = {a.path: r[a.path] for a in axes}
        params = {k: (v.item() if hasattr(v, "item") else v) for k, v in params.items()}
        desc = "layout search (Pareto front): " + ", ".join(f"{k}={v}" for k, v in params.items()) + "; " + \
            ", ".join(f"{o}={r[o]:.4g}" for o in objectives)
        variants[f"pareto-{n}"] = (desc, variant_override(base, edit(src, params)))
    path = write_variants(scenario, Path(out_dir) / f"{stem}-layout.yaml", variants)
    picture = render_front(res, Path(out_dir) / f"{stem}-layout.png")
    return LayoutReport(res, picture, path, tuple(variants))
