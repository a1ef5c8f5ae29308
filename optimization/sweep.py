"""Parameter sweeps on Dask: every grid point x replications, one task per point and block of replications.

Grid axes are written ``PATH=VALUES`` (:func:`parse_axis`) with ``PATH`` a parameter path of
:mod:`optimization.scenario` and ``VALUES`` an integer range ``1..4`` (inclusive, optional step
``0..10:5``) or a comma-separated list (``a,b``; numbers become numbers). Replication ``r``
uses seed ``replication_seeds(base_seed, n)[r]`` at every grid point (common random numbers),
so a table depends only on the scenario, the grid and the seeds, never on how many workers
ran it or which worker ran what.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from geometry.scenario import ScenarioSource

from .errors import OptimizationError
from .metrics import METRICS, day_row, replication_seeds
from .scenario import check_path, edit, run_scenario


class SweepError(OptimizationError):
    """A sweep that cannot run (bad grid, unreachable cluster, a failing task)."""


@dataclass(frozen=True)
class Axis:
    """One grid axis: a parameter path and its values."""

    path: str
    values: tuple[Any, ...]


def _scalar(text: str) -> Any:
    import yaml

    try:
        v = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return v if isinstance(v, (int, float, str, bool)) else text


def parse_axis(text: str) -> Axis:
    """``"staff.desk=1..4"`` -> ``Axis("staff.desk", (1, 2, 3, 4))``; raises SweepError on nonsense."""
    path, sep, spec = text.partition("=")
    path, spec = path.strip(), spec.strip()
    if not sep or not path or not spec:
        raise SweepError(f"grid axis '{text}' is not PATH=VALUES (e.g. staff.desk=1..4 or kiosks=1,2,3)")
    if ".." in spec:
        rng, _, step = spec.partition(":")
        a, _, b = rng.partition("..")
        try:
            lo, hi, st = int(a), int(b), int(step) if step else 1
        except ValueError:
            raise SweepError(f"grid axis '{text}': a range is INT..INT[:STEP], e.g. 1..4 or 0..10:5") from None
        if st <= 0 or hi < lo:
            raise SweepError(f"grid axis '{text}': the range {lo}..{hi} step {st} is empty")
        values: tuple[Any, ...] = tuple(range(lo, hi + 1, st))
    else:
        values = tuple(_scalar(v.strip()) for v in spec.split(",") if v.strip())
    if not values:
        raise SweepError(f"grid axis '{text}' has no values")
    return Axis(path, values)


def grid_points(axes: Sequence[Axis]) -> list[dict[str, Any]]:
    """Every combination of the axes' values (the first axis varies slowest)."""
    paths = [a.path for a in axes]
    if len(set(paths)) != len(paths):
        raise SweepError(f"a parameter appears twice in the grid: {', '.join(paths)}")
    return [dict(zip(paths, combo, strict=True)) for combo in itertools.product(*(a.values for a in axes))]


def run_task(src: ScenarioSource, point: int, params: dict[str, Any], reps: Sequence[tuple[int, int]],
             wait_s: float) -> list[dict[str, Any]]:
    """Simulate one grid point for some replications ``(number, seed)``: one table row each (a Dask task)."""
    from .scenario import build

    building = build(src)
    rows = []
    for rep, seed in reps:
        res = run_scenario(src, seed=seed, building=building)
        rows.append({"point": point, **params, "replication": rep, "seed": seed, **day_row(res, wait_s=wait_s)})
    return rows


def _client(cluster: str | None, workers: int) -> tuple[Any, Any]:
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise SweepError("sweeps need Dask: install smartlib-twin[cluster]") from None
    if cluster:
        try:
            return Client(cluster, timeout="10s", set_as_default=False), None
        except (OSError, TimeoutError, ValueError) as exc:
            raise SweepError(f"cannot reach the Dask scheduler at {cluster} ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else 'no answer'}); start one with "
                             f"'dask scheduler' and 'dask worker {cluster}', or leave out --cluster") from None
    if workers < 1:
        raise SweepError(f"--workers must be 1 or more, got {workers}")
    import logging

    lc = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR)
    return Client(lc, set_as_default=False), lc


def sweep(src: ScenarioSource, axes: Sequence[Axis], *, seeds: int, base_seed: int = 0, reps_per_task: int = 1,
          cluster: str | None = None, workers: int = 2, wait_s: float = 120.0,
          progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """Run every grid point ``seeds`` times on Dask and return one row per run, sorted by point and replication.

    Parameters
    ----------
    src
        The scenario (variant applied).
    axes
        Grid axes (:func:`parse_axis`).
    seeds
        Replications per grid point.
    reps_per_task
        Replications in one task (a task should take a second or more).
    cluster
        Address of a Dask scheduler (``tcp://host:8786``); None starts a local cluster of
        ``workers`` processes.
    progress
        Called with (tasks done, tasks) as tasks finish.

    Raises
    ------
    SweepError
        Unknown parameter path, bad value, unreachable cluster.
    """
    if seeds < 1:
        raise SweepError(f"--seeds must be 1 or more, got {seeds}")
    for a in axes:
        check_path(src, a.path)
    points = grid_points(axes)
    edited = [edit(src, p) for p in points]  # every point validated before anything runs
    rep_seeds = list(enumerate(replication_seeds(base_seed, seeds)))
    blocks = [rep_seeds[i:i + max(1, reps_per_task)] for i in range(0, seeds, max(1, reps_per_task))]
    tasks = [(i, p, b) for i, p in enumerate(points) for b in blocks]
    client, local = _client(cluster, workers)
    try:
        from dask.distributed import as_completed

        futures = [client.submit(run_task, edited[i], i, p, b, wait_s, pure=False) for i, p, b in tasks]
        rows: list[dict[str, Any]] = []
        for done, fut in enumerate(as_completed(futures, loop=client.loop), start=1):
            rows.extend(fut.result())
            if progress is not None:
                progress(done, len(tasks))
    finally:
        client.close()
        if local is not None:
            local.close()
    cols = ["point", *[a.path for a in axes], "replication", "seed", *METRICS]
    return pd.DataFrame(rows, columns=cols).sort_values(["point", "replication"], kind="stable").reset_index(
        drop=True)


def summarize(table: pd.DataFrame, axes: Sequence[Axis], metrics: Sequence[str] = ("visits", "turned_away",
              "desk_mean_wait_s", "desk_share_wait_over", "energy_kwh")) -> pd.DataFrame:
    """Mean and 95% half-width (Student t over replications) of ``metrics`` per grid point."""
    from .metrics import mean_ci

    out = []
    for _, g in table.groupby("point", sort=True):
        row = {a.path: g[a.path].iloc[0] for a in axes}
        for m in metrics:
            mean, half = mean_ci(g[m].tolist())
            row[m] = mean
            row[f"{m}_ci"] = half
        out.append(row)
    return pd.DataFrame(out)
