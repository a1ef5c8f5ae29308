"""Pure-numpy (and heapq) twins of the Numba kernels, for the tests.

They follow the same formulas in the same floating-point order where it matters, but take the
obvious route: all pairs of agents, every wall segment, Python's ``heapq``. Slow; use them on
small scenes only.
"""

from __future__ import annotations

import heapq

import numpy as np
from numpy.typing import NDArray

from .moves import MOVES


def dijkstra16_reference(walkable: NDArray[np.bool_], cost: NDArray[np.float64], seed_cells: NDArray[np.int64],
                         seed_values: NDArray[np.float64], seed_labels: NDArray[np.int32],
                         cell_m: float, moves: NDArray[np.int64] = MOVES) -> tuple[NDArray[np.float64],
                                                                                   NDArray[np.int32]]:
    """Same result as :func:`simulation.crowd.kernels.navfield.dijkstra16`, with ``heapq``."""
    ny, nx = walkable.shape
    n = ny * nx
    dist = np.full(n, np.inf)
    src = np.full(n, -1, np.int32)
    heap: list[tuple[float, int]] = []
    for c, v, lab in zip(seed_cells.tolist(), seed_values.tolist(), seed_labels.tolist(), strict=True):
        i, j = divmod(c, nx)
        if walkable[i, j] and v < dist[c]:
            dist[c] = v
            src[c] = lab
            heapq.heappush(heap, (v, c))
    seed_val = dist.copy()
    done = np.zeros(n, bool)
    lengths = [cell_m * float(np.sqrt(m[0] ** 2 + m[1] ** 2)) for m in moves]
    while heap:
        d, c = heapq.heappop(heap)
        if done[c] or d > dist[c]:
            continue
        done[c] = True
        i, j = divmod(c, nx)
        for m, length in zip(moves, lengths, strict=True):
            ii, jj = i + m[0], j + m[1]
            if not (0 <= ii < ny and 0 <= jj < nx) or not walkable[ii, jj]:
                continue
            if not walkable[i + m[2], j + m[3]] or not walkable[i + m[4], j + m[5]]:
                continue
            cc = ii * nx + jj
            if done[cc]:
                continue
            nd = d + length * 0.5 * (cost[i, j] + cost[ii, jj])
            if nd < dist[cc]:
                dist[cc] = nd
                src[cc] = src[c]
                heapq.heappush(heap, (nd, cc))
    goal = np.where(np.isfinite(seed_val) & (dist == seed_val), src, -1).astype(np.int32)
    return dist.reshape(ny, nx), goal.reshape(ny, nx)


def _fill(v: NDArray[np.float64], hz: NDArray[np.float64], o: NDArray[np.float64]) -> NDArray[np.float64]:
    fv, fh, fo = np.isfinite(v), np.isfinite(hz), np.isfinite(o)
    with np.errstate(invalid="ignore"):
        both = np.where(fo, v + hz - o, 0.5 * (v + hz))
    return np.where(fv & fh, both, np.where(fv, v, np.where(fh, hz, o)))


def field_direction_reference(px: NDArray[np.float64], py: NDArray[np.float64], dist: NDArray[np.float32],
                              x0: float, y0: float, h: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Unit direction down the field ``dist[ny, nx]`` at points (px, py) [m] (see the kernel)."""
    px = np.asarray(px, float)
    py = np.asarray(py, float)
    ny, nx = dist.shape
    gx = (px - x0) / h - 0.5
    gy = (py - y0) / h - 0.5
    j0 = np.floor(gx).astype(np.int64)
    i0 = np.floor(gy).astype(np.int64)
    fx = gx - j0
    fy = gy - i0

    def corner(i: NDArray[np.int64], j: NDArray[np.int64]) -> NDArray[np.float64]:
        ok = (i >= 0) & (i < ny) & (j >= 0) & (j < nx)
        v = np.full(i.shape, np.inf)
        v[ok] = dist[i[ok], j[ok]].astype(np.float64)
        v[~np.isfinite(v)] = np.inf
        return v

    a, b = corner(i0, j0), corner(i0, j0 + 1)
    c, d = corner(i0 + 1, j0), corner(i0 + 1, j0 + 1)
    a2 = np.where(np.isfinite(a), a, _fill(c, b, d))
    b2 = np.where(np.isfinite(b), b, _fill(d, a, c))
    c2 = np.where(np.isfinite(c), c, _fill(a, d, b))
    d2 = np.where(np.isfinite(d), d, _fill(b, c, a))
    with np.errstate(invalid="ignore"):
        ddx = ((1.0 - fy) * (b2 - a2) + fy * (d2 - c2)) / h
        ddy = ((1.0 - fx) * (c2 - a2) + fx * (d2 - b2)) / h
    norm = np.sqrt(ddx * ddx + ddy * ddy)
    none = ~(np.isfinite(a) | np.isfinite(b) | np.isfinite(c) | np.isfinite(d))
    ok = (norm > 1e-9) & ~none
    ex = np.zeros_like(px)
    ey = np.zeros_like(py)
    ex[ok] = -ddx[ok] / norm[ok]
    ey[ok] = -ddy[ok] / norm[ok]
    for k in np.nonzero(~ok & ~none)[0]:
        best, bi, bj = a[k], i0[k], j0[k]
        for val, ci, cj in ((b[k], i0[k], j0[k] + 1), (c[k], i0[k] + 1, j0[k]), (d[k], i0[k] + 1, j0[k] + 1)):
            if val < best:
                best, bi, bj = val, ci, cj
        tx = x0 + (bj + 0.5) * h - px[k]
        ty = y0 + (bi + 0.5) * h - py[k]
        tn = np.sqrt(tx * tx + ty * ty)
        if tn > 1e-9:
            ex[k], ey[k] = tx / tn, ty / tn
    return ex, ey


def _intersects(ax: NDArray[np.float64], ay: NDArray[np.float64], bx: NDArray[np.float64], by: NDArray[np.float64],
                cx: float, cy: float, dx: float, dy: float) -> NDArray[np.bool_]:
    """Segments A-B (arrays) against one segment C-D, as in the kernel (touching counts)."""
    def cross(ox, oy, px, py, qx, qy):  # type: ignore[no-untyped-def]
        return (px - ox) * (qy - oy) - (py - oy) * (qx - ox)

    def on(x1, y1, x2, y2, px, py):  # type: ignore[no-untyped-def]
        return (np.minimum(x1, x2) <= px) & (px <= np.maximum(x1, x2)) & (np.minimum(y1, y2) <= py) & (
            py <= np.maximum(y1, y2))

    box = ~((np.maximum(ax, bx) < min(cx, dx)) | (max(cx, dx) < np.minimum(ax, bx))
            | (np.maximum(ay, by) < min(cy, dy)) | (max(cy, dy) < np.minimum(ay, by)))
    d1 = cross(cx, cy, dx, dy, ax, ay)
    d2 = cross(cx, cy, dx, dy, bx, by)
    d3 = cross(ax, ay, bx, by, cx, cy)
    d4 = cross(ax, ay, bx, by, dx, dy)
    proper = (((d1 > 0) & (d2 < 0)) | ((d1 < 0) & (d2 > 0))) & (((d3 > 0) & (d4 < 0)) | ((d3 < 0) & (d4 > 0)))
    touch = (((d1 == 0) & on(cx, cy, dx, dy, ax, ay)) | ((d2 == 0) & on(cx, cy, dx, dy, bx, by))
             | ((d3 == 0) & on(ax, ay, bx, by, cx, cy)) | ((d4 == 0) & on(ax, ay, bx, by, dx, dy)))
    hit: NDArray[np.bool_] = box & (proper | touch)
    return hit


def descent_direction_reference(px: float, py: float, dist: NDArray[np.float32], x0: float, y0: float,
                                h: float) -> tuple[float, float]:
    """Unit vector to the cheapest of the 16 neighbour cells (see the kernel), or (0, 0)."""
    ny, nx = dist.shape
    j = int(np.floor((px - x0) / h))
    i = int(np.floor((py - y0) / h))
    if not (0 <= i < ny and 0 <= j < nx) or not np.isfinite(dist[i, j]):
        return 0.0, 0.0
    best = dist[i, j]
    bi = bj = 0
    for m in MOVES:
        ii, jj = i + m[0], j + m[1]
        if not (0 <= ii < ny and 0 <= jj < nx):
            continue
        v = dist[ii, jj]
        if not np.isfinite(v) or v >= best:
            continue
        if not (np.isfinite(dist[i + m[2], j + m[3]]) and np.isfinite(dist[i + m[4], j + m[5]])):
            continue
        best, bi, bj = v, int(m[0]), int(m[1])
    if bi == 0 and bj == 0:
        return 0.0, 0.0
    n = float(np.sqrt(float(bi * bi + bj * bj)))
    return bj / n, bi / n


def turn_sign_reference(seed: int, i: NDArray[np.int64], epoch: NDArray[np.int64]) -> NDArray[np.float64]:
    """+1 or -1 per (seed, agent, epoch): SplitMix64, as :func:`simulation.crowd.kernels.csm.turn_sign`."""
    u = np.uint64
    with np.errstate(over="ignore"):
        h = u(seed) + np.asarray(i).astype(u) * u(0x9E3779B97F4A7C15)
        h = h + np.asarray(epoch).astype(u) * u(0xD1B54A32D192ED03)
        h = (h ^ (h >> u(30))) * u(0xBF58476D1CE4E5B9)
        h = (h ^ (h >> u(27))) * u(0x94D049BB133111EB)
        h = h ^ (h >> u(31))
    return np.where((h & u(1)) == u(1), 1.0, -1.0)


def csm_step_reference(pos: NDArray[np.float64], orient: NDArray[np.float64], active: NDArray[np.bool_],
                       floor: NDArray[np.int32], field_base: NDArray[np.int64], v0: NDArray[np.float64],
                       radius: NDArray[np.float64], time_gap: NDArray[np.float64], stuck_s: NDArray[np.float64],
                       best_d: NDArray[np.float64],
                       pool_dist: NDArray[np.float32], pool_goal: NDArray[np.int16],
                       fl_nx: NDArray[np.int64], fl_ny: NDArray[np.int64], fl_x0: NDArray[np.float64],
                       fl_y0: NDArray[np.float64], fl_shift: NDArray[np.float64], cell_m: float,
                       seg: NDArray[np.float64], periodic_x_m: float, a_n: float, d_n: float, a_w: float,
                       d_w: float, cutoff_m: float, patience_s: float, squeeze: float, turn_rad: float,
                       progress_m: float, seed: int, a_s: float, d_s: float, counter_cos: float,
                       keep_right_m: float, pass_s: float, pass_hold_s: float,
                       dt_s: float) -> dict[str, NDArray]:  # type: ignore[type-arg]
    """One step of the collision-free speed model for all active agents, all pairs, every wall.

    Same arguments as :func:`simulation.crowd.kernels.csm.csm_advance` (without the search structures
    and the ``passes`` counter).
    Returns new ``pos``, ``orient``, ``vel``, ``stuck_s``, ``best_d`` and ``arrived_goal`` (-1 for
    none) arrays; inactive agents keep their state.
    """
    n = pos.shape[0]
    pos_new, orient_new, stuck_new, best_new = pos.copy(), orient.copy(), stuck_s.copy(), best_d.copy()
    vel = np.zeros_like(pos)
    arrived = np.full(n, -1, np.int32)
    idx = np.nonzero(active)[0]
    if idx.size == 0:
        return {"pos": pos_new, "orient": orient_new, "vel": vel, "stuck_s": stuck_new, "best_d": best_new,
                "arrived_goal": arrived}
    L = periodic_x_m
    wx = pos[idx, 0] + fl_shift[floor[idx]]
    wy = pos[idx, 1].copy()
    if L > 0:
        wx = wx - L * np.floor(wx / L)
    ex = np.zeros(idx.size)
    ey = np.zeros(idx.size)
    for f in np.unique(floor[idx]):
        for base in np.unique(field_base[idx][floor[idx] == f]):
            sel = (floor[idx] == f) & (field_base[idx] == base)
            nx_, ny_ = int(fl_nx[f]), int(fl_ny[f])
            field = pool_dist[base: base + nx_ * ny_].reshape(ny_, nx_)
            ex[sel], ey[sel] = field_direction_reference(pos[idx[sel], 0], pos[idx[sel], 1], field,
                                                         float(fl_x0[f]), float(fl_y0[f]), cell_m)
    fx, fy = ex.copy(), ey.copy()  # the field's own directions (rule 6 compares them)
    stuck = (patience_s > 0.0) & (stuck_s[idx] >= patience_s)
    passing = (pass_s > 0.0) & ((stuck_s[idx] < 0.0) | (stuck_s[idx] >= pass_s))
    for k in np.nonzero(stuck)[0]:
        f = floor[idx[k]]
        nx_, ny_ = int(fl_nx[f]), int(fl_ny[f])
        base = int(field_base[idx[k]])
        field = pool_dist[base: base + nx_ * ny_].reshape(ny_, nx_)
        qx, qy = descent_direction_reference(pos[idx[k], 0], pos[idx[k], 1], field, float(fl_x0[f]),
                                             float(fl_y0[f]), cell_m)
        if qx != 0.0 or qy != 0.0:
            ex[k], ey[k] = qx, qy
    if stuck.any():
        epoch = (stuck_s[idx] / patience_s).astype(np.int64) if patience_s > 0 else np.zeros(idx.size, np.int64)
        ang = turn_rad * turn_sign_reference(seed, idx, epoch)
        ca, sa = np.cos(ang), np.sin(ang)
        rx, ry = ca * ex - sa * ey, sa * ex + ca * ey
        turn = stuck & ~passing
        ex, ey = np.where(turn, rx, ex), np.where(turn, ry, ey)
    e0x, e0y = ex.copy(), ey.copy()
    cut2 = cutoff_m * cutoff_m
    r = radius[idx]
    # walls
    for s in range(seg.shape[0]):
        ax, ay, bx, by = seg[s]
        exs, eys = bx - ax, by - ay
        ll = exs * exs + eys * eys
        if ll > 0:
            t = np.clip(((wx - ax) * exs + (wy - ay) * eys) / ll, 0.0, 1.0)
        else:
            t = np.zeros_like(wx)
        vx = ax + t * exs - wx
        vy = ay + t * eys - wy
        dd = vx * vx + vy * vy
        dw = np.sqrt(dd)
        use = (dd < cut2) & (dw > 1e-12)
        z = np.where(use, (r - dw) / d_w, -800.0)
        use &= z > -700.0
        with np.errstate(divide="ignore", invalid="ignore"):
            mag = np.where(use, -a_w * np.exp(z) / np.where(use, dw, 1.0), 0.0)
        ex += mag * vx
        ey += mag * vy
    # neighbours
    dx = wx[None, :] - wx[:, None]
    dy = wy[None, :] - wy[:, None]
    if L > 0:
        dx = dx - L * np.floor(dx / L + 0.5)
    d2 = dx * dx + dy * dy
    near = (d2 <= cut2) & (d2 >= 1e-18)
    np.fill_diagonal(near, False)
    # walking through: whoever is headed the other way (by the fields) makes way
    against = (fx[None, :] * fx[:, None] + fy[None, :] * fy[:, None]) < 0.0
    near &= ~(passing[:, None] & against)
    if seg.shape[0]:
        ii, jj = np.nonzero(near)
        ax, ay = wx[ii], wy[ii]
        bx, by = ax + dx[ii, jj], ay + dy[ii, jj]
        blocked = np.zeros(ii.size, bool)
        for s in range(seg.shape[0]):
            blocked |= _intersects(ax, ay, bx, by, *seg[s])
        near[ii[blocked], jj[blocked]] = False
    ll = r[:, None] + r[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        dist = np.sqrt(d2)
        mag = np.where(near, -a_n * np.exp((ll - dist) / d_n) / np.where(near, dist, 1.0), 0.0)
    ex = ex + (mag * dx).sum(axis=1)
    ey = ey + (mag * dy).sum(axis=1)
    # counterflow: side step across the desired direction, away from who comes the other way
    counter = (a_s > 0.0) & ((orient[idx, 0][None, :] * e0x[:, None] + orient[idx, 1][None, :] * e0y[:, None])
                             < -counter_cos)
    lat = -e0y[:, None] * dx + e0x[:, None] * dy
    ahead = (e0x[:, None] * dx + e0y[:, None] * dy) > 0.0
    step = near & counter & ahead & (np.abs(lat) < ll + 0.3)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        side = np.where(step, np.where(lat > -keep_right_m, -1.0, 1.0) * a_s * np.exp((ll - dist) / d_s), 0.0)
    ex = ex - e0y * side.sum(axis=1)
    ey = ey + e0x * side.sum(axis=1)
    norm = np.sqrt(ex * ex + ey * ey)
    ok = norm > 0
    ex = np.where(ok, ex / np.where(ok, norm, 1.0), orient[idx, 0])
    ey = np.where(ok, ey / np.where(ok, norm, 1.0), orient[idx, 1])
    shrink = np.where(stuck, squeeze, 1.0)
    ls = ll * np.where(counter, squeeze, shrink[:, None])
    front = (ex[:, None] * dx + ey[:, None] * dy) >= 0.0
    corridor = np.abs(-ey[:, None] * dx + ex[:, None] * dy) <= ls
    spacing = np.where(near & front & corridor, dist - ls, np.inf).min(axis=1)
    speed = np.clip(spacing / time_gap[idx], 0.0, v0[idx])
    vx, vy = ex * speed, ey * speed
    x = pos[idx, 0] + vx * dt_s
    y = pos[idx, 1] + vy * dt_s
    best = best_d[idx].copy()
    if L > 0:
        xw = x - L * np.floor(x / L)
        best[xw != x] = np.inf
        x = xw
    pos_new[idx, 0], pos_new[idx, 1] = x, y
    orient_new[idx, 0], orient_new[idx, 1] = ex, ey
    vel[idx, 0], vel[idx, 1] = vx, vy
    f = floor[idx]
    gj = np.floor((x - fl_x0[f]) / cell_m).astype(np.int64)
    gi = np.floor((y - fl_y0[f]) / cell_m).astype(np.int64)
    inside = (gi >= 0) & (gi < fl_ny[f]) & (gj >= 0) & (gj < fl_nx[f])
    g = np.full(idx.size, -1, np.int32)
    flat = field_base[idx] + gi * fl_nx[f] + gj
    g[inside] = pool_goal[flat[inside]]
    arrived[idx] = np.where(g >= 0, g, -1)
    dval = np.full(idx.size, np.inf)
    dval[inside] = pool_dist[flat[inside]].astype(np.float64)
    better = inside & (dval < best - progress_m)
    best_new[idx] = np.where(better, dval, best)
    st0 = stuck_s[idx]
    on_progress = np.where((pass_s > 0.0) & (st0 >= pass_s), -pass_hold_s, np.where(st0 >= 0.0, 0.0, st0 + dt_s))
    stuck_new[idx] = np.where(better, on_progress, st0 + dt_s)
    return {"pos": pos_new, "orient": orient_new, "vel": vel, "stuck_s": stuck_new, "best_d": best_new,
            "arrived_goal": arrived}
