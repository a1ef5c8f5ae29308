"""Place devices in a scenario: demand from a simulated day, the exact placement, a variant and a picture."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geometry.model import Building
from geometry.scenario import ScenarioSource

from .placement import (
    DEVICES,
    CoverageProblem,
    PlacementError,
    Solution,
    coverage_problem,
    floor_raster,
    greedy,
    max_coverage,
    occupancy_demand,
)
from .scenario import build, run_scenario, with_raw


@dataclass(frozen=True)
class PlacedDevice:
    id: str
    floor_id: str
    x_m: float
    y_m: float
    heading_deg: float


@dataclass(frozen=True)
class PlacementPlan:
    """The chosen positions, how much demand they cover, and the heuristic's gap to the optimum."""

    device: str
    k: int
    devices: tuple[PlacedDevice, ...]
    exact: Solution
    heuristic: Solution
    candidates: int
    demand_cells: int
    existing_share: float | None

    @property
    def gap(self) -> float:
        """(optimum - greedy) / optimum."""
        return (self.exact.covered - self.heuristic.covered) / self.exact.covered if self.exact.covered else 0.0


def zone_demand(src: ScenarioSource, building: Building, *, seed: int) -> dict[str, float]:
    """Mean occupancy of each zone over opening hours in one simulated day [persons]."""
    result = run_scenario(src, seed=seed, building=building)
    return {str(k): float(v) for k, v in result.kpis.zone_mean_occupancy.items()}


def _existing(p: CoverageProblem, building: Building, scenario_type: str | None) -> list[int]:
    """Candidates nearest to the scenario's devices of this type (to score the current layout)."""
    out = []
    for d in building.devices:
        if scenario_type is None or d.type != scenario_type or d.floor_id not in p.floor_ids:
            continue
        on = np.flatnonzero(p.cand_floor == p.floor_ids.index(d.floor_id))
        if on.size:
            out.append(int(on[np.argmin(np.hypot(p.cand_xy[on, 0] - d.x, p.cand_xy[on, 1] - d.y))]))
    return out


def plan_placement(src: ScenarioSource, device: str, k: int, *, seed: int, cell_m: float = 0.5,
                   candidate_every: int = 2, time_limit_s: float = 120.0,
                   zone_occupancy: dict[str, float] | None = None) -> tuple[PlacementPlan, CoverageProblem]:
    """Best positions of ``k`` devices of type ``device`` for the scenario's simulated occupancy.

    Raises
    ------
    PlacementError
        Unknown device type, or ``k`` larger than the candidate positions.
    """
    if device not in DEVICES:
        raise PlacementError(f"unknown device '{device}' (known: {', '.join(DEVICES)})")
    model = DEVICES[device]
    if k < 1:
        raise PlacementError(f"k must be at least 1, got {k}")
    building = build(src)
    rasters = [floor_raster(f, cell_m=cell_m, wall_thickness_m=building.wall_thickness_m) for f in building.floors]
    n_pos = sum(int(r.walkable[::candidate_every, ::candidate_every].sum()) for r in rasters)
    if k > n_pos:
        raise PlacementError(f"k={k} is larger than the {n_pos} candidate positions (use a smaller k or a finer "
                             f"candidate grid)")
    occ = zone_occupancy if zone_occupancy is not None else zone_demand(src, building, seed=seed)
    p = coverage_problem(rasters, occupancy_demand(rasters, building, occ), model, candidate_every=candidate_every)
    if p.weight.sum() <= 0:
        raise PlacementError("the simulated day has no occupancy to cover")
    h = greedy(p, k)
    exact = max_coverage(p, k, bound=h, time_limit_s=time_limit_s)
    ex = _existing(p, building, model.scenario_type)
    placed = tuple(PlacedDevice(f"{device}-opt-{n + 1}", p.floor_ids[int(p.cand_floor[c])], float(p.cand_xy[c, 0]),
                                float(p.cand_xy[c, 1]), float(np.degrees(p.cand_heading[c])))
                   for n, c in enumerate(exact.chosen))
    plan = PlacementPlan(device, k, placed, exact, h, p.n_candidates, p.n_demand,
                         p.covered_weight(ex) / float(p.weight.sum()) if ex else None)
    return plan, p


def placement_variant(src: ScenarioSource, plan: PlacementPlan) -> ScenarioSource:
    """The scenario with the devices of the plan's type replaced by the planned ones."""
    model = DEVICES[plan.device]
    if model.scenario_type is None:
        raise PlacementError(f"a '{plan.device}' is not a device type of the scenario format, so it cannot be "
                             f"written into a variant")
    from geometry.quantities import DEVICE_QUANTITIES

    old = [d for d in src.raw.get("devices", []) if d.get("type") == model.scenario_type]
    quantities = list(old[0]["quantities"]) if old else sorted(DEVICE_QUANTITIES[model.scenario_type])
    period = old[0].get("period_s", 300) if old else 300
    kept = [d for d in src.raw.get("devices", []) if d.get("type") != model.scenario_type]
    new = [{"id": d.id, "type": model.scenario_type, "floor": d.floor_id, "at": [round(d.x_m, 2), round(d.y_m, 2)],
            "quantities": quantities, "period_s": period} for d in plan.devices]
    return with_raw(src, "devices", kept + new)


def render_placement(p: CoverageProblem, plan: PlacementPlan, path: str | Path) -> Path:
    """One panel per floor: demand density, walls and shelves, chosen devices with their range."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle, Wedge

    n = len(p.rasters)
    fig, axes = plt.subplots(1, n, figsize=(6.5 * n, 5.0), squeeze=False)
    chosen = set(plan.exact.chosen)
    for fi, (ax, r) in enumerate(zip(axes[0], p.rasters, strict=True)):
        ny, nx = r.opaque.shape
        dens = np.zeros((ny, nx))
        on = p.dem_floor == fi
        ii = np.floor((p.dem_xy[on, 1] - r.y0) / r.cell_m).astype(int)
        jj = np.floor((p.dem_xy[on, 0] - r.x0) / r.cell_m).astype(int)
        dens[ii, jj] = p.weight[on] / r.cell_m**2
        ext = (r.x0, r.x0 + nx * r.cell_m, r.y0, r.y0 + ny * r.cell_m)
        im = ax.imshow(np.ma.masked_where(dens <= 0, dens), origin="lower", extent=ext, cmap="YlOrRd")
        ax.imshow(np.ma.masked_where(~r.opaque, r.opaque.astype(float)), origin="lower", extent=ext, cmap="Greys",
                  vmin=0, vmax=1.4, alpha=0.8)
        for c in sorted(chosen):
            if int(p.cand_floor[c]) != fi:
                continue
            x, y = p.cand_xy[c]
            if p.device.fov_deg < 360:
                h = np.degrees(p.cand_heading[c])
                ax.add_patch(Wedge((x, y), p.device.range_m, h - p.device.fov_deg / 2, h + p.device.fov_deg / 2,
                                   alpha=0.15, color="tab:blue"))
            else:
                ax.add_patch(Circle((x, y), p.device.range_m, alpha=0.12, color="tab:blue"))
            ax.plot(x, y, "o", color="tab:blue", markeredgecolor="k")
        ax.set_title(f"floor {r.floor_id}")
        ax.set_xlabel("x [m]")
        ax.set_ylabel("y [m]")
        ax.set_aspect("equal")
        ax.set_xlim(ext[0], ext[1])
        ax.set_ylim(ext[2], ext[3])
        fig.colorbar(im, ax=ax, shrink=0.7, label="demand [persons/m2]")
    fig.suptitle(f"{plan.k} x {plan.device}: {plan.exact.share:.1%} of occupancy covered "
                 f"(greedy {plan.heuristic.share:.1%}, gap {plan.gap:.2%})")
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out

