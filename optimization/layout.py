"""Layout search: several objectives over a declared space of scenario changes, with NSGA-II (Optuna).

The space is a list of grid axes (:func:`optimization.sweep.parse_axis`: ``PATH=VALUES`` over the
parameter paths of :mod:`optimization.scenario`: seats per zone through seat blocks, shelf ranges,
kiosk count, opening hours, staffing, physics setpoints ...). Each trial picks one value per axis,
simulates the changed scenario for a few replications (the same seeds for every trial) and
scores the means of the objectives. The Pareto front (the non-dominated trials) comes back as a
table; the caller writes its members as scenario variants.

References
----------
Deb, K., Pratap, A., Agarwal, S., Meyarivan, T. (2002). A fast and elitist multiobjective genetic
algorithm: NSGA-II. IEEE Transactions on Evolutionary Computation 6(2), 182-197.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geometry.scenario import ScenarioSource

from .errors import OptimizationError
from .metrics import METRICS, day_row, replication_seeds
from .scenario import build, check_path, edit, run_scenario
from .sweep import Axis

#: Objectives a search may use, with their direction.
OBJECTIVES: dict[str, str] = {
    "turned_away": "minimize",
    "desk_mean_wait_s": "minimize",
    "desk_share_wait_over": "minimize",
    "energy_kwh": "minimize",
    "kwh_per_visit": "minimize",
    "walking_m_per_visit": "minimize",
    "visits": "maximize",
    "seat_occupancy_rate": "maximize",
}


class LayoutError(OptimizationError):
    """A search that cannot run (unknown objective, empty space)."""


def non_dominated(values: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """Mask of the rows no other row dominates (at least as good in every objective, better in one).

    Parameters
    ----------
    values
        One row per point, one column per objective.
    directions
        ``"minimize"`` or ``"maximize"`` per column.
    """
    v = np.asarray(values, dtype=float) * np.array([1.0 if d == "minimize" else -1.0 for d in directions])
    n = v.shape[0]
    keep = np.ones(n, dtype=bool)
    for i in range(n):
        no_worse = np.all(v <= v[i], axis=1)
        better = np.any(v < v[i], axis=1)
        if np.any(no_worse & better):
            keep[i] = False
    return keep


@dataclass(frozen=True)
class LayoutResult:
    """Every trial (parameters, objective means) and which are on the Pareto front."""

    trials: pd.DataFrame
    objectives: tuple[str, ...]
    axes: tuple[Axis, ...]

    @property
    def pareto(self) -> pd.DataFrame:
        return self.trials.loc[self.trials["pareto"]].drop_duplicates(subset=[a.path for a in self.axes])


def search(src: ScenarioSource, axes: Sequence[Axis], objectives: Sequence[str], *, trials: int, seeds: int = 1,
           seed: int = 0, population: int = 8,
           progress: Callable[[int, int], None] | None = None) -> LayoutResult:
    """Multi-objective search with Optuna's NSGA-II sampler (set explicitly, seeded).

    Parameters
    ----------
    axes
        The search space: one categorical choice per axis.
    objectives
        Names from :data:`OBJECTIVES`.
    trials
        Scenarios simulated (a repeated choice is simulated once).
    seeds
        Replications per trial (common random numbers across trials).
    population
        NSGA-II population size.
    """
    try:
        import optuna
    except ImportError:
        raise LayoutError("layout search needs Optuna: install smartlib-twin[optimize]") from None
    if not axes:
        raise LayoutError("the search space is empty: give at least one PATH=VALUES")
    bad = [o for o in objectives if o not in OBJECTIVES]
    if bad or len(objectives) < 2:
        raise LayoutError(f"objectives must be two or more of {', '.join(OBJECTIVES)}"
                          + (f" (unknown: {', '.join(bad)})" if bad else ""))
    for a in axes:
        check_path(src, a.path)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rep_seeds = replication_seeds(seed, seeds)
    cache: dict[tuple[int, ...], dict[str, float]] = {}
    rows: list[dict[str, Any]] = []

    def evaluate(choice: tuple[int, ...]) -> dict[str, float]:
        if choice not in cache:
            params = {a.path: a.values[i] for a, i in zip(axes, choice, strict=True)}
            changed = edit(src, params)
            building = build(changed)
            runs = [day_row(run_scenario(changed, seed=s, building=building)) for s in rep_seeds]
            cache[choice] = {m: float(np.mean([r[m] for r in runs])) for m in METRICS}
        return cache[choice]

    def objective(trial: Any) -> tuple[float, ...]:
        choice = tuple(trial.suggest_categorical(f"{k}:{a.path}", list(range(len(a.values))))
                       for k, a in enumerate(axes))
        m = evaluate(choice)
        rows.append({"trial": trial.number, **{a.path: a.values[i] for a, i in zip(axes, choice, strict=True)},
                     **{o: m[o] for o in objectives}})
        if progress is not None:
            progress(len(rows), trials)
        return tuple(m[o] for o in objectives)

    sampler = optuna.samplers.NSGAIISampler(population_size=max(2, population), seed=seed)
    study = optuna.create_study(directions=[OBJECTIVES[o] for o in objectives], sampler=sampler)
    study.optimize(objective, n_trials=trials)
    table = pd.DataFrame(rows)
    table["pareto"] = non_dominated(table[list(objectives)].to_numpy(), [OBJECTIVES[o] for o in objectives])
    return LayoutResult(table, tuple(objectives), tuple(axes))


def render_front(result: LayoutResult, path: str | Path) -> Path:
    """Scatter of the first two objectives: every trial, the Pareto front highlighted and labelled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x, y = result.objectives[0], result.objectives[1]
    t = result.trials
    fig, ax = plt.subplots(figsize=(7, 5))
    ax.scatter(t[x], t[y], c="0.7", label="trials")
    f = result.pareto.sort_values(x)
    ax.plot(f[x], f[y], "o-", color="tab:red", label="Pareto front")
    for _, r in f.iterrows():
        ax.annotate(", ".join(f"{a.path}={r[a.path]}" for a in result.axes), (r[x], r[y]), fontsize=7,
                    xytext=(4, 4), textcoords="offset points")
    ax.set_xlabel(f"{x} ({OBJECTIVES[x]})")
    ax.set_ylabel(f"{y} ({OBJECTIVES[y]})")
    ax.legend()
    ax.set_title(f"layout search: {len(t)} trials, {len(f)} on the front")
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
