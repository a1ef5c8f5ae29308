"""Numba kernels of the optimisers (the only module of ``optimization`` that imports numba).

- :func:`coverage_csr`: which demand cells each candidate device position covers (range, field of
  view, line of sight on a raster where opaque cells block), as a CSR incidence.
- :func:`greedy_max_cover` and :func:`swap_improve`: the greedy maximal-coverage heuristic and
  a best-swap local search over that incidence.

Grid convention as :class:`geometry.grid.WalkableGrid`: cell ``(i, j)`` is row ``i`` (y), column
``j`` (x), centre at ``((j + 0.5) cell, (i + 0.5) cell)`` from the grid origin.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np


@nb.njit(cache=True)
def line_of_sight(opaque: np.ndarray, ai: int, aj: int, bi: int, bj: int) -> bool:
    """True when the segment between the centres of cells ``a`` and ``b`` crosses no opaque cell.

    Exact grid traversal (Amanatides and Woo 1987, "A fast voxel traversal algorithm for ray
    tracing", Eurographics '87): every cell the segment passes through is visited; where it runs
    exactly through a cell corner both side cells are checked, so nothing is seen through a
    diagonal gap between two opaque cells.
    """
    di = bi - ai
    dj = bj - aj
    si = 1 if di > 0 else (-1 if di < 0 else 0)
    sj = 1 if dj > 0 else (-1 if dj < 0 else 0)
    adi = abs(di)
    adj = abs(dj)
    i = ai
    j = aj
    # parametric distance to the next horizontal / vertical cell boundary, in units of 1/(2 adi adj)
    # (integer arithmetic: the segment starts at a centre, so the first boundary is half a cell away)
    ti = adj * 1 if adi > 0 else 1 << 60  # next i-boundary at t = (2k+1) / (2 adi); scaled by 2 adi adj
    tj = adi * 1 if adj > 0 else 1 << 60
    step_i = 2 * adj
    step_j = 2 * adi
    while i != bi or j != bj:
        if opaque[i, j]:
            return False
        if ti < tj:
            i += si
            ti += step_i
        elif tj < ti:
            j += sj
            tj += step_j
        else:  # through a corner: both neighbours must be clear
            if opaque[i + si, j] or opaque[i, j + sj]:
                return False
            i += si
            j += sj
            ti += step_i
            tj += step_j
    return not opaque[bi, bj]


@nb.njit(cache=True)
def _covers(opaque: np.ndarray, ci: int, cj: int, heading: float, half_fov: float, r2: float,
            di_: int, dj_: int, cell: float) -> bool:
    dy = (di_ - ci) * cell
    dx = (dj_ - cj) * cell
    d2 = dx * dx + dy * dy
    if d2 > r2:
        return False
    if half_fov < math.pi and d2 > 0.0:
        ang = math.atan2(dy, dx) - heading
        ang = (ang + math.pi) % (2.0 * math.pi) - math.pi
        if abs(ang) > half_fov:
            return False
    return line_of_sight(opaque, ci, cj, di_, dj_)


@nb.njit(cache=True)
def coverage_csr(opaque: np.ndarray, cand_i: np.ndarray, cand_j: np.ndarray, heading: np.ndarray,
                 dem_index: np.ndarray, range_m: float, fov_rad: float,
                 cell_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Demand cells covered by each candidate: CSR ``(indptr, indices)`` over demand numbers.

    Parameters
    ----------
    opaque
        Cells that block sight (walls, tall shelves, outside the floor) [bool, ny x nx].
    cand_i, cand_j, heading
        Candidate cells and the direction each faces [rad, from +x towards +y].
    dem_index
        Demand number of each cell, -1 where there is no demand [int64, ny x nx].
    range_m
        Sensing range [m].
    fov_rad
        Field of view [rad]; 2 pi or more for an omnidirectional device.
    cell_m
        Cell size [m].
    """
    ny, nx = opaque.shape
    n = cand_i.size
    r = math.ceil(range_m / cell_m)
    r2 = range_m * range_m + 1e-9
    half = fov_rad / 2.0
    counts = np.zeros(n + 1, dtype=np.int64)
    for c in range(n):
        ci = cand_i[c]
        cj = cand_j[c]
        k = 0
        for i in range(max(0, ci - r), min(ny, ci + r + 1)):
            for j in range(max(0, cj - r), min(nx, cj + r + 1)):
                if dem_index[i, j] >= 0 and _covers(opaque, ci, cj, heading[c], half, r2, i, j, cell_m):
                    k += 1
        counts[c + 1] = k
    indptr = np.cumsum(counts)
    indices = np.empty(indptr[-1], dtype=np.int64)
    for c in range(n):
        ci = cand_i[c]
        cj = cand_j[c]
        p = indptr[c]
        for i in range(max(0, ci - r), min(ny, ci + r + 1)):
            for j in range(max(0, cj - r), min(nx, cj + r + 1)):
                if dem_index[i, j] >= 0 and _covers(opaque, ci, cj, heading[c], half, r2, i, j, cell_m):
                    indices[p] = dem_index[i, j]
                    p += 1
    return indptr, indices


@nb.njit(cache=True)
def _gains(indptr: np.ndarray, indices: np.ndarray, w: np.ndarray, cnt: np.ndarray, out: np.ndarray) -> None:
    for c in range(indptr.size - 1):
        g = 0.0
        for p in range(indptr[c], indptr[c + 1]):
            if cnt[indices[p]] == 0:
                g += w[indices[p]]
        out[c] = g


@nb.njit(cache=True)
def greedy_max_cover(indptr: np.ndarray, indices: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
    """Greedy maximal coverage: ``k`` times add the candidate of largest uncovered weight.

    Gives at least (1 - 1/e) of the optimum (Nemhauser, Wolsey, Fisher 1978). Ties go to the
    lowest candidate number, so the result is deterministic.
    """
    n = indptr.size - 1
    cnt = np.zeros(w.size, dtype=np.int64)
    chosen = np.full(k, -1, dtype=np.int64)
    taken = np.zeros(n, dtype=np.bool_)
    g = np.empty(n)
    for s in range(k):
        _gains(indptr, indices, w, cnt, g)
        best = -1
        bg = -1.0
        for c in range(n):
            if not taken[c] and g[c] > bg:
                bg = g[c]
                best = c
        chosen[s] = best
        taken[best] = True
        for p in range(indptr[best], indptr[best + 1]):
            cnt[indices[p]] += 1
    return chosen


@nb.njit(cache=True)
def covered_weight(indptr: np.ndarray, indices: np.ndarray, w: np.ndarray, chosen: np.ndarray) -> float:
    """Demand weight covered by at least one of ``chosen``."""
    hit = np.zeros(w.size, dtype=np.bool_)
    for c in chosen:
        for p in range(indptr[c], indptr[c + 1]):
            hit[indices[p]] = True
    return float(np.sum(w[hit]))


@nb.njit(cache=True)
def swap_improve(indptr: np.ndarray, indices: np.ndarray, w: np.ndarray, chosen: np.ndarray,
                 max_rounds: int = 100) -> np.ndarray:
    """Best-improvement 1-swap local search: replace a chosen candidate by another while coverage grows."""
    n = indptr.size - 1
    sel = chosen.copy()
    cnt = np.zeros(w.size, dtype=np.int64)
    taken = np.zeros(n, dtype=np.bool_)
    for c in sel:
        taken[c] = True
        for p in range(indptr[c], indptr[c + 1]):
            cnt[indices[p]] += 1
    g = np.empty(n)
    for _ in range(max_rounds):
        best_delta = 1e-12
        best_out = -1
        best_in = -1
        for s in range(sel.size):
            out = sel[s]
            loss = 0.0
            for p in range(indptr[out], indptr[out + 1]):
                cnt[indices[p]] -= 1
                if cnt[indices[p]] == 0:
                    loss += w[indices[p]]
            _gains(indptr, indices, w, cnt, g)
            for c in range(n):
                if not taken[c] and g[c] - loss > best_delta:
                    best_delta = g[c] - loss
                    best_out = s
                    best_in = c
            for p in range(indptr[out], indptr[out + 1]):
                cnt[indices[p]] += 1
        if best_out < 0:
            break
        out = sel[best_out]
        for p in range(indptr[out], indptr[out + 1]):
            cnt[indices[p]] -= 1
        for p in range(indptr[best_in], indptr[best_in + 1]):
            cnt[indices[p]] += 1
        taken[out] = False
        taken[best_in] = True
        sel[best_out] = best_in
    return sel
