"""Layout search: the Pareto front is non-dominated (checked pairwise) and its members load as variants."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import DATA

from geometry.scenario import apply_variant, load_scenario
from optimization.layout import OBJECTIVES, LayoutError, non_dominated, search
from optimization.scenario import edit, load, variant_override, write_variants
from optimization.sweep import parse_axis


def _dominates(a: np.ndarray, b: np.ndarray, sign: np.ndarray) -> bool:
    a, b = a * sign, b * sign
    return bool(np.all(a <= b) and np.any(a < b))


def test_non_dominated_against_pairwise_comparison() -> None:
    rng = np.random.default_rng(2)
    v = rng.integers(0, 6, size=(60, 3)).astype(float)
    dirs = ["minimize", "maximize", "minimize"]
    sign = np.array([1.0, -1.0, 1.0])
    keep = non_dominated(v, dirs)
    for i in range(len(v)):
        dominated = any(_dominates(v[j], v[i], sign) for j in range(len(v)) if j != i)
        assert keep[i] == (not dominated)


@pytest.mark.slow
def test_search_on_a_small_space_returns_a_non_dominated_front(tmp_path: Path) -> None:
    src = load(DATA / "day-small.yaml")
    axes = [parse_axis("staff.desk=1..2"), parse_axis("kiosks=0..1")]
    objectives = ["desk_mean_wait_s", "energy_kwh", "visits"]
    res = search(src, axes, objectives, trials=6, seeds=1, seed=3, population=4)
    t = res.trials
    assert len(t) == 6
    sign = np.array([1.0 if OBJECTIVES[o] == "minimize" else -1.0 for o in objectives])
    vals = t[objectives].to_numpy(float)
    front = t["pareto"].to_numpy()
    assert front.any()
    for i in range(len(t)):
        dominated = any(_dominates(vals[j], vals[i], sign) for j in range(len(t)) if j != i)
        assert front[i] == (not dominated)
    # the front as variants of a scenario copy, each of which loads
    variants = {f"p{n}": ("front", variant_override(src, edit(src, {a.path: int(r[a.path]) for a in axes})))
                for n, (_, r) in enumerate(res.pareto.iterrows())}
    out = write_variants(DATA / "day-small.yaml", tmp_path / "s.yaml", variants)
    copy = load_scenario(out)
    for n, (_, r) in enumerate(res.pareto.iterrows()):
        kiosks = [o for f in apply_variant(copy, f"p{n}").scenario.building.floors for o in f.obstacles
                  if o.kind == "kiosk"]
        assert len(kiosks) == r["kiosks"]


def test_bad_objectives_are_named() -> None:
    src = load(DATA / "day-small.yaml")
    with pytest.raises(LayoutError, match="unknown: speed"):
        search(src, [parse_axis("kiosks=0..1")], ["speed", "energy_kwh"], trials=1)
