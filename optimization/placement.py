"""Device placement: choose k positions for devices of a type that cover the most demand.

A device covers a walkable cell when the cell is within its range, inside its field of view and
in line of sight (walls and tall obstacles such as shelves block; :mod:`optimization.kernels`).
Demand is a weight per walkable cell: the simulated mean occupancy of each zone spread evenly over
the zone's walkable cells (:func:`occupancy_demand`).

Two problems over the resulting coverage sets ``N(i)`` (candidates covering demand cell ``i``):

maximal coverage (Church and ReVelle 1974)
    ``max sum_i w_i y_i  s.t.  y_i <= sum_{j in N(i)} x_j,  sum_j x_j = k,  x binary, 0 <= y <= 1``
set cover with a coverage target (partial set cover)
    ``min sum_j x_j  s.t.  sum_i w_i y_i >= target sum_i w_i,  y_i <= sum_{j in N(i)} x_j``

both solved exactly with :func:`scipy.optimize.milp` (HiGHS). Before the MILP: demand cells with
the same covering candidates are merged (weights added), candidates whose coverage is a subset
of another's are dropped, the greedy (1 - 1/e) solution improved by swaps gives a lower bound, and
a Lagrangian relaxation (:func:`lagrangian_survivors`) gives an upper bound and drops candidates
that cannot be in a better solution; the best coverage known is a cut of the MILP. The gap
reported is ``(optimum - greedy) / optimum``.

References
----------
Church, R., ReVelle, C. (1974). The maximal covering location problem. Papers of the Regional
Science Association 32, 101-118.
Nemhauser, G.L., Wolsey, L.A., Fisher, M.L. (1978). An analysis of approximations for maximizing
submodular set functions I. Mathematical Programming 14, 265-294.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from geometry.grid import rasterize
from geometry.model import Building, Floor

from .errors import OptimizationError


@dataclass(frozen=True)
class DeviceModel:
    """How a device type senses: range [m], field of view [deg] and the scenario type it becomes."""

    name: str
    range_m: float
    fov_deg: float = 360.0
    scenario_type: str | None = None
    headings: int = 1


#: Typical sensing ranges (manufacturer data sheets, rounded): a ceiling PIR/presence sensor about
#: 6 m radius; a CO2/environment sensor taken as representative of the air within about 8 m in an
#: open room; an overhead people counter about 3 m; an indoor Wi-Fi access point about 15 m in a
#: furnished room; a camera about 12 m with a 90 degree lens (8 headings tried per position).
DEVICES: dict[str, DeviceModel] = {
    "co2": DeviceModel("co2", 8.0, scenario_type="co2"),
    "environment": DeviceModel("environment", 8.0, scenario_type="environment"),
    "temperature": DeviceModel("temperature", 8.0, scenario_type="temperature"),
    "presence": DeviceModel("presence", 6.0, scenario_type="occupancy"),
    "people_counter": DeviceModel("people_counter", 3.0, scenario_type="people_counter"),
    "wifi_ap": DeviceModel("wifi_ap", 15.0),
    "camera": DeviceModel("camera", 12.0, fov_deg=90.0, headings=8),
}

#: Obstacles at least this tall block sight [m] (shelves, walls; not tables or counters).
BLOCK_HEIGHT_M = 1.5


class PlacementError(OptimizationError):
    """A placement request that cannot be answered (unknown device, k too large, no candidates)."""


@dataclass(frozen=True)
class FloorRaster:
    """One floor for placement: cells that block sight and cells with demand (and their zone)."""

    floor_id: str
    x0: float
    y0: float
    cell_m: float
    opaque: np.ndarray
    walkable: np.ndarray
    zone: np.ndarray  # zone number per cell, -1 outside zones

    def center(self, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.x0 + (j + 0.5) * self.cell_m, self.y0 + (i + 0.5) * self.cell_m


def floor_raster(floor: Floor, *, cell_m: float = 0.5, wall_thickness_m: float = 0.2,
                 block_height_m: float = BLOCK_HEIGHT_M) -> FloorRaster:
    """Rasterise a floor for placement: opaque = outside the zones, walls, obstacles taller than ``block_height_m``."""
    import shapely

    from geometry.grid import floor_barriers, floor_walls

    area = shapely.union_all([z.polygon for z in floor.zones]).intersection(floor.outline)
    half = max(wall_thickness_m / 2.0, 0.75 * cell_m)
    parts = [floor_walls(floor, wall_thickness_m).buffer(half, cap_style="flat", join_style="mitre")]
    tall = [o.polygon for o in floor.obstacles if o.height_m >= block_height_m]
    if tall:
        parts.append(shapely.union_all(tall).buffer(0.25 * cell_m, join_style="mitre"))
    seen = rasterize(area, shapely.union_all(parts), cell_m=cell_m, floor_id=floor.id)
    walk = rasterize(area, floor_barriers(floor, cell_m=cell_m, wall_thickness_m=wall_thickness_m),
                     cell_m=cell_m, floor_id=floor.id)
    gx, gy = seen.centers()
    zone = np.full(seen.shape, -1, dtype=np.int64)
    for zi, z in enumerate(floor.zones):
        zone[shapely.contains_xy(z.polygon, gx, gy)] = zi
    return FloorRaster(floor.id, seen.x0, seen.y0, cell_m, ~seen.walkable, walk.walkable & seen.walkable, zone)


@dataclass(frozen=True)
class CoverageProblem:
    """Candidates, demand cells and the CSR incidence candidate -> covered demand cells."""

    device: DeviceModel
    cand_floor: np.ndarray
    cand_xy: np.ndarray  # (n, 2) [m]
    cand_heading: np.ndarray  # [rad]
    dem_floor: np.ndarray
    dem_xy: np.ndarray
    weight: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    floor_ids: tuple[str, ...]
    rasters: tuple[FloorRaster, ...] = field(default=(), compare=False)

    @property
    def n_candidates(self) -> int:
        return int(self.cand_floor.size)

    @property
    def n_demand(self) -> int:
        return int(self.weight.size)

    def covered_weight(self, chosen: Sequence[int]) -> float:
        from .kernels import covered_weight

        return covered_weight(self.indptr, self.indices, self.weight, np.asarray(chosen, dtype=np.int64))


def coverage_problem(rasters: Sequence[FloorRaster], demand: Sequence[np.ndarray], device: DeviceModel, *,
                     candidate_every: int = 2) -> CoverageProblem:
    """Coverage sets on each floor: candidates on every ``candidate_every``-th walkable cell.

    Parameters
    ----------
    rasters
        The floors (:func:`floor_raster`).
    demand
        Demand weight per cell of each floor (same shape as its raster; 0 = no demand).
    """
    from .kernels import coverage_csr

    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("cf", "cx", "ch", "df", "dx", "w", "ptr", "idx")}
    n_dem = 0
    nh = max(1, device.headings)
    heads = np.arange(nh) * (2.0 * math.pi / nh)
    fov = math.radians(device.fov_deg) if device.fov_deg < 360.0 else 4.0 * math.pi
    offset_ptr = 0
    for fi, (r, w) in enumerate(zip(rasters, demand, strict=True)):
        if w.shape != r.opaque.shape:
            raise ValueError(f"demand on floor '{r.floor_id}' has shape {w.shape}, raster {r.opaque.shape}")
        di, dj = np.nonzero((w > 0) & ~r.opaque)
        dem_index = np.full(r.opaque.shape, -1, dtype=np.int64)
        dem_index[di, dj] = np.arange(di.size) + n_dem
        mask = np.zeros_like(r.walkable)
        mask[::candidate_every, ::candidate_every] = True
        ci, cj = np.nonzero(r.walkable & mask)
        ci, cj = np.repeat(ci, nh), np.repeat(cj, nh)
        ch = np.tile(heads, ci.size // nh if nh else 0)
        ptr, idx = coverage_csr(r.opaque, ci.astype(np.int64), cj.astype(np.int64), ch.astype(np.float64),
                                dem_index, device.range_m, fov, r.cell_m)
        x, y = r.center(ci, cj)
        dx, dy = r.center(di, dj)
        parts["cf"].append(np.full(ci.size, fi))
        parts["cx"].append(np.column_stack([x, y]))
        parts["ch"].append(ch)
        parts["df"].append(np.full(di.size, fi))
        parts["dx"].append(np.column_stack([dx, dy]))
        parts["w"].append(w[di, dj].astype(float))
        parts["ptr"].append(ptr[1:] + offset_ptr if parts["ptr"] else ptr + offset_ptr)
        parts["idx"].append(idx)
        offset_ptr += int(ptr[-1])
        n_dem += di.size
    return CoverageProblem(device, np.concatenate(parts["cf"]), np.concatenate(parts["cx"]),
                           np.concatenate(parts["ch"]), np.concatenate(parts["df"]), np.concatenate(parts["dx"]),
                           np.concatenate(parts["w"]), np.concatenate(parts["ptr"]).astype(np.int64),
                           np.concatenate(parts["idx"]).astype(np.int64),
                           tuple(r.floor_id for r in rasters), tuple(rasters))


def occupancy_demand(rasters: Sequence[FloorRaster], building: Building,
                     zone_occupancy: Mapping[str, float]) -> list[np.ndarray]:
    """Demand per cell: each zone's mean occupancy [persons] spread evenly over its walkable cells."""
    out = []
    for r in rasters:
        fl = building.floor(r.floor_id)
        w = np.zeros(r.opaque.shape)
        for zi, z in enumerate(fl.zones):
            cells = (r.zone == zi) & r.walkable
            n = int(cells.sum())
            occ = float(zone_occupancy.get(z.id, 0.0))
            if n and occ > 0:
                w[cells] = occ / n
        out.append(w)
    return out


# --------------------------------------------------------------------------- solvers

@dataclass(frozen=True)
class Solution:
    """Chosen candidates and what they cover."""

    chosen: tuple[int, ...]
    covered: float
    share: float
    seconds: float
    status: str


@dataclass(frozen=True)
class Reduced:
    """The problem after merging identical demand and dropping dominated candidates."""

    indptr: np.ndarray
    indices: np.ndarray
    weight: np.ndarray
    candidates: np.ndarray  # original candidate number of each kept candidate


def reduce_problem(p: CoverageProblem) -> Reduced:
    """Merge demand cells with the same covering candidates; drop candidates covered by another's set."""
    from scipy import sparse

    n_c, n_d = p.n_candidates, p.n_demand
    a = sparse.csr_matrix((np.ones(p.indices.size, dtype=np.int8), p.indices, p.indptr), shape=(n_c, n_d))
    col = a.T.tocsr()
    col.sort_indices()
    keys: dict[bytes, int] = {}
    group = np.full(n_d, -1, dtype=np.int64)
    for i in range(n_d):
        s = col.indices[col.indptr[i]:col.indptr[i + 1]]
        if s.size == 0:
            continue
        group[i] = keys.setdefault(s.tobytes(), len(keys))
    ng = len(keys)
    w = np.zeros(ng)
    ok = group >= 0
    np.add.at(w, group[ok], p.weight[ok])
    rows = np.repeat(np.arange(n_c), np.diff(p.indptr))
    g = group[p.indices]
    m = sparse.csr_matrix((np.ones(g.size, dtype=np.int32), (rows, g)), shape=(n_c, ng))
    m.data[:] = 1
    m.sum_duplicates()
    m.data[:] = 1
    size = np.asarray(m.sum(axis=1)).ravel()
    overlap = (m @ m.T).tocoo()
    dominated = np.zeros(n_c, dtype=bool)
    dominated[size == 0] = True
    r, c, v = overlap.row, overlap.col, overlap.data
    sel = (r != c) & (v == size[r]) & ((size[c] > size[r]) | ((size[c] == size[r]) & (c < r)))
    dominated[r[sel]] = True
    keep = np.flatnonzero(~dominated)
    mk = m[keep].tocsr()
    mk.sort_indices()
    return Reduced(mk.indptr.astype(np.int64), mk.indices.astype(np.int64), w, keep)


def greedy(p: CoverageProblem, k: int, *, swaps: bool = True) -> Solution:
    """Greedy maximal coverage (then 1-swap improvement): the (1 - 1/e) baseline."""
    from .kernels import greedy_max_cover, swap_improve

    _check_k(p, k)
    t0 = time.perf_counter()
    chosen = greedy_max_cover(p.indptr, p.indices, p.weight, k)
    if swaps:
        chosen = swap_improve(p.indptr, p.indices, p.weight, chosen)
    cov = p.covered_weight(chosen)
    return Solution(tuple(sorted(int(c) for c in chosen)), cov, cov / max(float(p.weight.sum()), 1e-300),
                    time.perf_counter() - t0, "greedy+swap" if swaps else "greedy")


def _check_k(p: CoverageProblem, k: int) -> None:
    if k < 1:
        raise PlacementError(f"k must be at least 1, got {k}")
    n_pos = p.n_candidates // max(1, p.device.headings)
    if k > n_pos:
        raise PlacementError(f"k={k} is larger than the {n_pos} candidate positions (use a smaller k or a finer "
                             f"candidate grid)")


def _cover_rows(red: Reduced) -> Any:
    from scipy import sparse

    n_c, n_g = red.candidates.size, red.weight.size
    return sparse.csr_matrix((np.ones(red.indices.size), red.indices, red.indptr), shape=(n_c, n_g)).T.tocsr()


def lagrangian_survivors(red: Reduced, k: int, lower: float, *, iterations: int = 300
                         ) -> tuple[np.ndarray, float, float, np.ndarray | None]:
    """Candidates that can be in a solution at least as good as the best known, and both bounds.

    Returns the kept candidates (reduced numbering), the upper bound, the best coverage known
    (``lower`` or better: each iteration's top-k set is a solution too, improved by swaps) and
    that solution (None when ``lower`` stayed the best).

    Relaxing ``y_i <= sum_{j in N(i)} x_j`` with multipliers ``0 <= lam_i <= w_i`` gives
    ``L(lam) = sum_i (w_i - lam_i) + top-k of v_j``, ``v_j = sum_{i covered by j} lam_i``, an upper
    bound for every ``lam``; forcing ``x_j = 1`` bounds by ``L - v_(k) + v_j``. A candidate whose
    forced bound is below ``lower`` is in no better solution and is dropped. ``lam`` follows the
    subgradient method with the Polyak step (Fisher 1981; for maximal coverage Galvao and ReVelle
    1996, A Lagrangean heuristic for the maximal covering location problem, EJOR 88, 114-123).
    """
    from scipy import sparse

    n_c, n_g = red.candidates.size, red.weight.size
    a = sparse.csr_matrix((np.ones(red.indices.size), red.indices, red.indptr), shape=(n_c, n_g))
    at = a.T.tocsr()
    w = red.weight
    lam = 0.5 * w
    best_ub = np.inf
    best_lam = lam
    step = 1.0
    since = 0
    best_set: np.ndarray | None = None
    for _ in range(iterations):
        v = a @ lam
        top = np.argpartition(-v, k - 1)[:k]
        ub = float(np.sum(np.maximum(w - lam, 0.0)) + v[top].sum())
        x = np.zeros(n_c)
        x[top] = 1.0
        covered = at @ x
        val = float(w[covered > 0].sum())
        if val > lower * (1 + 1e-12):
            lower, best_set = val, top.copy()
        if ub < best_ub - 1e-12:
            best_ub, best_lam, since = ub, lam.copy(), 0
        else:
            since += 1
            if since >= 20:
                step, since = step / 2.0, 0
        if best_ub <= lower * (1 + 1e-12) or step < 1e-6:
            break
        g = (w > lam).astype(float) - covered  # dL/dlam = -g: y_i (1 where w_i > lam_i) minus coverage
        g2 = float(g @ g)
        if g2 == 0.0:
            break
        lam = np.clip(lam + step * (ub - lower) / g2 * g, 0.0, w)
    if best_set is not None:
        from .kernels import covered_weight, swap_improve

        best_set = swap_improve(red.indptr, red.indices, w, best_set.astype(np.int64))
        lower = max(lower, covered_weight(red.indptr, red.indices, w, best_set))
    v = a @ best_lam
    vk = float(np.partition(v, n_c - k)[n_c - k])
    forced = best_ub - vk + v
    keep = (forced >= lower * (1 - 1e-9)) | (v >= vk)
    return np.flatnonzero(keep), best_ub, lower, best_set


def max_coverage(p: CoverageProblem, k: int, *, bound: Solution | None = None, time_limit_s: float = 600.0,
                 reduce: bool = True) -> Solution:
    """Exact maximal coverage by MILP (HiGHS), after reduction, with ``bound`` as a lower-bound cut.

    Parameters
    ----------
    bound
        A feasible solution (e.g. :func:`greedy`); the MILP is told the optimum is at least its coverage.
    time_limit_s
        Stop HiGHS after this long; the status then says so and the best solution found is returned.
    """
    from scipy import sparse
    from scipy.optimize import Bounds, LinearConstraint, milp

    _check_k(p, k)
    t0 = time.perf_counter()
    red = reduce_problem(p) if reduce else Reduced(p.indptr, p.indices, p.weight, np.arange(p.n_candidates))
    n_c, n_g = red.candidates.size, red.weight.size
    if n_c <= k:  # every useful candidate fits
        chosen = list(red.candidates) + [int(c) for c in range(p.n_candidates) if c not in set(red.candidates)]
        chosen = chosen[:k]
        cov = p.covered_weight(chosen)
        return Solution(tuple(sorted(int(c) for c in chosen)), cov, cov / max(float(p.weight.sum()), 1e-300),
                        time.perf_counter() - t0, "optimal")
    if bound is not None and reduce:
        keep, upper, _, found = lagrangian_survivors(red, k, bound.covered)
        if found is not None:  # the Lagrangian heuristic beat the given bound
            chosen = tuple(sorted(int(c) for c in red.candidates[found]))
            cov = p.covered_weight(chosen)
            bound = Solution(chosen, cov, cov / max(float(p.weight.sum()), 1e-300), 0.0, "lagrangian")
        if upper <= bound.covered * (1 + 1e-9):  # the bound is optimal: nothing can beat it
            return Solution(bound.chosen, bound.covered, bound.share, time.perf_counter() - t0, "optimal")
        if keep.size > k:
            sub = _cover_rows(red)[:, keep].tocsc().T.tocsr()  # kept candidates x demand
            sub.sort_indices()
            red = Reduced(sub.indptr.astype(np.int64), sub.indices.astype(np.int64), red.weight, red.candidates[keep])
            n_c = red.candidates.size
    cover = _cover_rows(red)  # n_g x n_c
    a = sparse.hstack([-cover, sparse.identity(n_g, format="csr")], format="csr")
    cons = [LinearConstraint(a, -np.inf, 0.0),
            LinearConstraint(sparse.csr_matrix(np.r_[np.ones(n_c), np.zeros(n_g)]), k, k)]
    if bound is not None:
        cons.append(LinearConstraint(sparse.csr_matrix(np.r_[np.zeros(n_c), red.weight]),
                                     bound.covered * (1.0 - 1e-7), np.inf))
    c = np.r_[np.zeros(n_c), -red.weight]
    integrality = np.r_[np.ones(n_c), np.zeros(n_g)]
    res = milp(c, integrality=integrality, bounds=Bounds(0.0, 1.0), constraints=cons,
               options={"time_limit": time_limit_s, "mip_rel_gap": 1e-9, "disp": False})
    if res.x is None:
        if bound is not None:  # infeasible with the cut "at least the bound": only the bound itself reaches it
            return Solution(bound.chosen, bound.covered, bound.share, time.perf_counter() - t0,
                            "optimal" if res.status == 2 else f"bound only: {res.message}")
        raise PlacementError(f"the MILP found no solution ({res.message})")
    x = res.x[:n_c] > 0.5
    chosen = [int(v) for v in red.candidates[x]]
    cov = p.covered_weight(chosen)
    if bound is not None and bound.covered > cov:
        chosen, cov = list(bound.chosen), bound.covered
    status = "optimal" if res.status == 0 else f"stopped: {res.message}"
    return Solution(tuple(sorted(chosen)), cov, cov / max(float(p.weight.sum()), 1e-300),
                    time.perf_counter() - t0, status)


def set_cover(p: CoverageProblem, target_share: float, *, time_limit_s: float = 600.0) -> Solution:
    """Fewest devices covering at least ``target_share`` of the demand weight (MILP, greedy as bound)."""
    from scipy import sparse
    from scipy.optimize import Bounds, LinearConstraint, milp

    from .kernels import greedy_max_cover

    if not 0.0 < target_share <= 1.0:
        raise PlacementError(f"coverage target must be in (0, 1], got {target_share}")
    t0 = time.perf_counter()
    total = float(p.weight.sum())
    red = reduce_problem(p)
    reachable = float(red.weight.sum())
    if reachable < target_share * total * (1 - 1e-9):
        raise PlacementError(f"no placement covers {target_share:.0%} of the demand: at most "
                             f"{reachable / total:.1%} is in range and sight of any candidate")
    # greedy on the reduced problem until the target is met: an upper bound on the count
    n_c = red.candidates.size
    order = greedy_max_cover(red.indptr, red.indices, red.weight, n_c)
    hit = np.zeros(red.weight.size, dtype=bool)
    n_greedy = n_c
    for s, cnd in enumerate(order):
        hit[red.indices[red.indptr[cnd]:red.indptr[cnd + 1]]] = True
        if red.weight[hit].sum() >= target_share * total * (1 - 1e-9):
            n_greedy = s + 1
            break
    n_g = red.weight.size
    cover = _cover_rows(red)
    a = sparse.hstack([-cover, sparse.identity(n_g, format="csr")], format="csr")
    cons = [LinearConstraint(a, -np.inf, 0.0),
            LinearConstraint(sparse.csr_matrix(np.r_[np.zeros(n_c), red.weight]), target_share * total * (1 - 1e-9),
                             np.inf),
            LinearConstraint(sparse.csr_matrix(np.r_[np.ones(n_c), np.zeros(n_g)]), 1, n_greedy)]
    res = milp(np.r_[np.ones(n_c), np.zeros(n_g)], integrality=np.r_[np.ones(n_c), np.zeros(n_g)],
               bounds=Bounds(0.0, 1.0), constraints=cons,
               options={"time_limit": time_limit_s, "mip_rel_gap": 1e-9, "disp": False})
    if res.x is None:
        chosen = [int(red.candidates[c]) for c in order[:n_greedy]]
        status = f"greedy (MILP: {res.message})"
    else:
        chosen = [int(v) for v in red.candidates[res.x[:n_c] > 0.5]]
        status = "optimal" if res.status == 0 else f"stopped: {res.message}"
    cov = p.covered_weight(chosen)
    return Solution(tuple(sorted(chosen)), cov, cov / max(total, 1e-300), time.perf_counter() - t0, status)


def brute_force(p: CoverageProblem, k: int) -> Solution:
    """Best of every k-subset (tiny problems only; the tests' reference)."""
    from itertools import combinations

    t0 = time.perf_counter()
    best: tuple[int, ...] = ()
    best_cov = -1.0
    for comb in combinations(range(p.n_candidates), k):
        cov = p.covered_weight(comb)
        if cov > best_cov + 1e-12:
            best, best_cov = comb, cov
    return Solution(best, best_cov, best_cov / max(float(p.weight.sum()), 1e-300), time.perf_counter() - t0,
                    "optimal")
