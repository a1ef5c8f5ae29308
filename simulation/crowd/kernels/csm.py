"""Collision-free speed model (Tordeux, Chraibi, Seyfried 2016), many steps per call.

One step, for every walking agent ``i`` at position ``x_i`` (all from the positions at the start
of the step, so the result does not depend on the order or the number of threads):

1. desired direction ``e0``: the negative gradient of the agent's navigation field, bilinear
   between the four nearest cell centres (missing corners, i.e. blocked cells, are filled so the
   gradient has no component into a wall; see :func:`field_direction`);
2. neighbours ``j``: other walkers closer than ``cutoff_m`` whose connecting line crosses no wall
   segment; walls: segments closer than ``cutoff_m``;
3. direction ``e = normalise(e0 + sum_j R_ij + sum_w R_iw)`` with
   ``R_ij = -a_n exp((r_i + r_j - d_ij) / D_n) (x_j - x_i) / d_ij`` and
   ``R_iw = -a_w exp((r_i - d_iw) / D_w) (p_w - x_i) / d_iw`` (``p_w`` nearest point of the
   segment); when the sum is zero the previous direction is kept;
4. spacing ``s = min_j (d_ij - r_i - r_j)`` over neighbours in front (``e . (x_j - x_i) >= 0``)
   and inside the corridor ``|e_perp . (x_j - x_i)| <= r_i + r_j``;
3b. counterflow (a side-stepping rule of this project, see below): a neighbour ``j`` in front of
   ``i`` (``e_i0 . (x_j - x_i) > 0``) who walks against ``i`` (``o_j . e_i0 < -c``, ``o_j`` its
   last direction, ``e_i0`` the desired direction) and is within ``r_i + r_j + 0.3 m`` of ``i``'s
   line adds ``a_s exp((r_i + r_j - d_ij) / D_s)`` times the unit vector across ``e_i0`` away from
   ``j`` to the direction; when ``j`` is nearly on the line (less than ``keep_right_m`` to its
   right) both step to their right, so the two make the same choice and never mirror each other
   into a deadlock. In the spacing, such a neighbour counts with the contact distance
   ``squeeze (r_i + r_j)`` (people turn their shoulders to pass someone in a narrow aisle);
5. speed ``v = min(max(s / T_i, 0), v0_i)``; ``x_i += v e dt``;
6. walking through (a last-resort rule of this project, off with ``pass_s = 0``): someone who
   has not come ``progress_m`` closer to their target for ``pass_s`` ignores the walkers headed
   the other way (their field's direction more than 90 degrees from one's own, where
   each wants to go rather than where the crowd pushes them: no repulsion or spacing from them;
   walls and everyone else still count) and walks down the field
   until ``pass_hold_s`` after their next progress; the others still keep their distance from
   them. Two people wedged face to face in a door or a 1 m aisle, whom rules 3b and the
   stuck turn do not part, slip past each other this way instead of standing there for good,
   while a queue (everyone heading the same way) stays a queue. Their stuck time runs from
   ``-pass_hold_s`` up to 0 while they walk through, and ``passes`` counts how often each started.

This is the algorithm of JuPedSim's ``CollisionFreeSpeedModel`` (defaults a_n = 8,
D_n = 0.1 m, a_w = 5, D_w = 0.02 m, T = 1 s, r = 0.2 m); the differences are the desired
direction, which comes from a distance field instead of a navigation mesh, and the counterflow
rule 3b (off with ``a_s = 0``): the isotropic repulsion of the CSM pushes two people who meet head
on straight back, and in an aisle of 1 m they stand facing each other for good. Passing on the
right follows the side preference measured in avoidance experiments (Moussaid et al. 2009).

Neighbour search uses a cell list rebuilt every step (cells of ``cutoff_m / 2``). While the crowd
fills its cells (at most ``DENSE_CELLS_PER_WALKER`` cells per walker) the walkers are sorted by a
counting sort and a dense table gives where each cell's walkers start; a sparser crowd (a few
walkers in a large building) is sorted by a stable sort and each row of cells is found by binary
search, so the work per step follows the walkers, not the floor area: cells nobody stands in, and
floors nobody walks on, cost nothing. Either way the walkers end up in (cell, index) order, so the
sums over neighbours, and the results, do not depend on the path or on how a run is cut into
calls. Of each row of cells only the part within ``cutoff_m`` of the walker is scanned.

During a call the walkers' state lives in the kernel in that cell order (gathered each step into
the snapshot every walker reads; each walker writes its new state at its own place), so walkers
near each other sit near each other in memory, and it goes back to the caller's arrays at the end.
Per walker, the neighbours within the cutoff are first copied to a per-thread buffer without
branches; the repulsion magnitudes are computed in a loop the compiler vectorises (``exp_kernel``,
an exp within one ulp of ``np.exp`` written as plain arithmetic) and summed in order; the side
step and the spacing are further loops over the buffer.
Walls come from buckets of 1 m that list every segment within ``cutoff_m`` of the bucket.
Agents on different floors live in one world frame where floors sit side by side, far enough
apart that they never interact, so one call advances the whole building.

References
----------
Tordeux, A., Chraibi, M., Seyfried, A. (2016). Collision-free speed model for pedestrian
dynamics. In Traffic and Granular Flow '15, Springer, 225-232. arXiv:1512.05597.
Moussaid, M., Helbing, D., Garnier, S., Johansson, A., Combe, M., Theraulaz, G. (2009).
Experimental study of the behavioural mechanisms underlying self-organization in human crowds.
Proc. R. Soc. B 276, 2755-2762 (a preference for passing on the right).
"""

from __future__ import annotations

import os

import numba
import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

from .moves import MOVES

# Numba's GNU OpenMP layer makes any later fork() fatal in the child ("fork() called from a process
# already using GNU OpenMP"), and the dashboard forks its background runs (and Dask may fork
# workers) from processes that have already moved a crowd. The workqueue layer is fork-safe; it
# allows one parallel kernel at a time per process, which is how the engine calls it (Dask workers
# run one task per process). NUMBA_THREADING_LAYER still chooses another layer when set.
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"

INF = np.inf
#: The cell list is a dense table over all cells (a counting sort, O(1) lookup of a cell's walkers)
#: while it has at most this many cells per walker, plus ``DENSE_MIN_CELLS``; a sparser crowd (few
#: walkers in a large building) is sorted and its cells found by binary search instead, so the work
#: per step follows the walkers, never the floor area. Both give the same order and the same result.
DENSE_CELLS_PER_WALKER = 8
DENSE_MIN_CELLS = 4096
#: Slack on the reach of a row of cells [m]: only makes the scan visit a few more cells than needed.
ROW_SLACK_M = 1e-9


def set_threads(n: int) -> None:
    """Use ``n`` threads in the parallel kernels (at most the number of cores numba saw)."""
    numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))


def max_threads() -> int:
    """Most threads the parallel kernels can use (the size of their per-thread scratch)."""
    return int(numba.config.NUMBA_NUM_THREADS)


def get_threads() -> int:
    """Threads the parallel kernels use now."""
    return int(numba.get_num_threads())


@njit(cache=True, inline="always")
def _corner(dist, base, nx, ny, i, j):
    if i < 0 or i >= ny or j < 0 or j >= nx:
        return INF
    v = dist[base + i * nx + j]
    if np.isfinite(v):
        return np.float64(v)
    return INF


@njit(cache=True, inline="always")
def _fill(v, hz, o):
    fv = v < INF
    fh = hz < INF
    if fv and fh:
        if o < INF:
            return v + hz - o
        return 0.5 * (v + hz)
    if fv:
        return v
    if fh:
        return hz
    return o


@njit(cache=True)
def field_direction(px, py, dist, base, nx, ny, x0, y0, h):
    """Unit direction down the field at (px, py) [m], or (0, 0) where it has none.

    The four cell centres around the point are interpolated bilinearly. A blocked corner takes
    the value of its vertical and horizontal partners (planar extrapolation when three corners
    are known, their mean when two diagonal ones are, a copy when one partner is), so the
    gradient never points into a wall. With a flat patch the agent heads for the centre of its
    lowest known corner.
    """
    gx = (px - x0) / h - 0.5
    gy = (py - y0) / h - 0.5
    j0 = int(np.floor(gx))
    i0 = int(np.floor(gy))
    fx = gx - j0
    fy = gy - i0
    a = _corner(dist, base, nx, ny, i0, j0)
    b = _corner(dist, base, nx, ny, i0, j0 + 1)
    c = _corner(dist, base, nx, ny, i0 + 1, j0)
    d = _corner(dist, base, nx, ny, i0 + 1, j0 + 1)
    if a == INF and b == INF and c == INF and d == INF:
        return 0.0, 0.0
    a2 = a if a < INF else _fill(c, b, d)
    b2 = b if b < INF else _fill(d, a, c)
    c2 = c if c < INF else _fill(a, d, b)
    d2 = d if d < INF else _fill(b, c, a)
    ddx = ((1.0 - fy) * (b2 - a2) + fy * (d2 - c2)) / h
    ddy = ((1.0 - fx) * (c2 - a2) + fx * (d2 - b2)) / h
    norm = np.sqrt(ddx * ddx + ddy * ddy)
    if norm > 1e-9:
        return -ddx / norm, -ddy / norm
    best = a
    bi, bj = i0, j0
    if b < best:
        best, bi, bj = b, i0, j0 + 1
    if c < best:
        best, bi, bj = c, i0 + 1, j0
    if d < best:
        best, bi, bj = d, i0 + 1, j0 + 1
    tx = x0 + (bj + 0.5) * h - px
    ty = y0 + (bi + 0.5) * h - py
    tn = np.sqrt(tx * tx + ty * ty)
    if tn > 1e-9:
        return tx / tn, ty / tn
    return 0.0, 0.0


@njit(cache=True)
def descent_direction(px, py, dist, base, nx, ny, x0, y0, h):
    """Unit vector to the cheapest of the 16 neighbours of the cell holding (px, py), or (0, 0).

    The discrete steepest descent of the field: unlike the interpolated gradient it never
    averages the two sides of a ridge (where two ways round an obstacle are equally long), so
    a stuck person following it leaves the ridge. Moves follow the field kernel's rules.
    """
    j = int(np.floor((px - x0) / h))
    i = int(np.floor((py - y0) / h))
    if i < 0 or i >= ny or j < 0 or j >= nx:
        return 0.0, 0.0
    best = dist[base + i * nx + j]
    if not np.isfinite(best):
        return 0.0, 0.0
    bi = 0
    bj = 0
    for m in range(16):
        ii = i + MOVES[m, 0]
        jj = j + MOVES[m, 1]
        if ii < 0 or ii >= ny or jj < 0 or jj >= nx:
            continue
        v = dist[base + ii * nx + jj]
        if not np.isfinite(v) or v >= best:
            continue
        if not np.isfinite(dist[base + (i + MOVES[m, 2]) * nx + j + MOVES[m, 3]]):
            continue
        if not np.isfinite(dist[base + (i + MOVES[m, 4]) * nx + j + MOVES[m, 5]]):
            continue
        best = v
        bi = MOVES[m, 0]
        bj = MOVES[m, 1]
    if bi == 0 and bj == 0:
        return 0.0, 0.0
    n = np.sqrt(float(bi * bi + bj * bj))
    return bj / n, bi / n


@njit(cache=True, inline="always")
def _seg_closest(px, py, ax, ay, bx, by):
    ex = bx - ax
    ey = by - ay
    ll = ex * ex + ey * ey
    t = 0.0
    if ll > 0.0:
        t = ((px - ax) * ex + (py - ay) * ey) / ll
        if t < 0.0:
            t = 0.0
        elif t > 1.0:
            t = 1.0
    return ax + t * ex, ay + t * ey


@njit(cache=True, inline="always")
def _cross(ox, oy, ax, ay, bx, by):
    return (ax - ox) * (by - oy) - (ay - oy) * (bx - ox)


@njit(cache=True, inline="always")
def _on_seg(ax, ay, bx, by, px, py):
    return min(ax, bx) <= px <= max(ax, bx) and min(ay, by) <= py <= max(ay, by)


@njit(cache=True)
def segments_intersect(ax, ay, bx, by, cx, cy, dx, dy):
    """True when segment AB and segment CD share a point (touching counts)."""
    if max(ax, bx) < min(cx, dx) or max(cx, dx) < min(ax, bx):
        return False
    if max(ay, by) < min(cy, dy) or max(cy, dy) < min(ay, by):
        return False
    d1 = _cross(cx, cy, dx, dy, ax, ay)
    d2 = _cross(cx, cy, dx, dy, bx, by)
    d3 = _cross(ax, ay, bx, by, cx, cy)
    d4 = _cross(ax, ay, bx, by, dx, dy)
    if ((d1 > 0 and d2 < 0) or (d1 < 0 and d2 > 0)) and ((d3 > 0 and d4 < 0) or (d3 < 0 and d4 > 0)):
        return True
    if d1 == 0 and _on_seg(cx, cy, dx, dy, ax, ay):
        return True
    if d2 == 0 and _on_seg(cx, cy, dx, dy, bx, by):
        return True
    if d3 == 0 and _on_seg(ax, ay, bx, by, cx, cy):
        return True
    return d4 == 0 and _on_seg(ax, ay, bx, by, dx, dy)


@njit(cache=True, inline="always")
def _visible(wx, wy, dx, dy, seg, local, nloc):
    for q in range(nloc):
        s = local[q]
        if segments_intersect(wx, wy, wx + dx, wy + dy, seg[s, 0], seg[s, 1], seg[s, 2], seg[s, 3]):
            return False
    return True


@njit(cache=True)
def turn_sign(seed, i, epoch):
    """+1 or -1, a fixed function of (seed, agent, epoch) (SplitMix64), the same on every thread."""
    h = np.uint64(seed) + np.uint64(i) * np.uint64(0x9E3779B97F4A7C15)
    h = h + np.uint64(epoch) * np.uint64(0xD1B54A32D192ED03)
    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    h = h ^ (h >> np.uint64(31))
    if h & np.uint64(1):
        return 1.0
    return -1.0


@intrinsic
def _int_bits_as_float(typingctx, bits):
    """The float64 whose IEEE 754 bit pattern is the int64 ``bits``."""
    if bits != types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 in two parts (Cody and Waite): k * _LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10


@njit(cache=True, inline="always")
def exp_kernel(z):
    """exp(z) within one ulp for z in [-708, 709] (0 below, exp(709) above), without branches.

    Unlike ``np.exp`` (a call into libm) this is plain arithmetic, so a loop calling it is
    vectorised: exp(z) = 2**k exp(r) with k the integer nearest z / ln 2, |r| <= ln(2) / 2, and
    exp(r) a degree-13 Taylor polynomial (truncation error below 1e-17 relative); 2**k is built
    from its exponent bits.
    """
    zc = min(max(z, -708.0), 709.0)
    kf = np.floor(zc * _LOG2E + 0.5)
    r = (zc - kf * _LN2_HI) - kf * _LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    scale = _int_bits_as_float((np.int64(kf) + 1023) << 52)
    return p * scale if z >= -708.0 else 0.0


@njit(cache=True, inline="always")
def _cell_of(wx, wy, cl_x0, cl_y0, csx, csy, cl_nx, cl_ny):
    """Cell-list key of a world position [m] (positions beyond the grid fall in its edge cells)."""
    cx = int(np.floor((wx - cl_x0) / csx))
    cy = int(np.floor((wy - cl_y0) / csy))
    cx = min(max(cx, 0), cl_nx - 1)
    cy = min(max(cy, 0), cl_ny - 1)
    return cy * cl_nx + cx


@njit(cache=True, inline="always")
def _lower_bound(keys, n, key):
    """First index in the sorted ``keys[:n]`` whose key is at least ``key`` (``n`` if none)."""
    lo = 0
    hi = n
    while lo < hi:
        mid = (lo + hi) >> 1
        if keys[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True)
def _counting_sort(cell, na, ncell, cstart, order):
    """Stable counting sort of ``cell[:na]`` into ``order``; then cell c holds ``order[cstart[c]:cstart[c + 1]]``."""
    cstart[:] = 0
    for k in range(na):
        cstart[cell[k] + 2] += 1
    for c in range(2, ncell + 2):
        cstart[c] += cstart[c - 1]
    for k in range(na):
        c = cell[k] + 1
        order[cstart[c]] = k
        cstart[c] += 1


@njit(cache=True)
def _by_index_within_cells(order, cell, idx, na):
    """Insertion sort of ``order[:na]`` by ``idx`` among walkers of the same cell (few per cell).

    The walkers are then in (cell, index) order whatever order they came in, so the sums over
    neighbours, and with them the results, do not depend on how a run is cut into calls.
    """
    for s in range(1, na):
        t = order[s]
        c = cell[t]
        it = idx[t]
        u = s
        while u > 0:
            v = order[u - 1]
            if cell[v] != c or idx[v] < it:
                break
            order[u] = v
            u -= 1
        order[u] = t


@njit(cache=True)
def _insertion_by_cell_index(order, cell, idx, na):
    """``order[:na]``: the walkers sorted by (cell, index), by insertion from the order they are in.

    Walkers stay in last step's sorted order; only the few that changed cells move, so this is
    about linear (the first step of a call, from index order, sorts in full instead).
    """
    for s in range(na):
        order[s] = s
    for s in range(1, na):
        c = cell[s]
        it = idx[s]
        u = s
        while u > 0:
            v = order[u - 1]
            if cell[v] < c or (cell[v] == c and idx[v] < it):
                break
            order[u] = v
            u -= 1
        order[u] = s


@njit(cache=True)
def _gather(order, na, now, snap, fixf_from, fixf_to, fixi_from, fixi_to, cell, skey):
    """Walkers' state in sorted order: ``snap[:, s] = now[:, order[s]]`` and likewise the fixed part."""
    for s in range(na):
        k = order[s]
        for q in range(7):
            snap[q, s] = now[q, k]
        for q in range(3):
            fixf_to[q, s] = fixf_from[q, k]
            fixi_to[q, s] = fixi_from[q, k]
        skey[s] = cell[k]


@njit(cache=True)
def _write_back(k, i, now, pos, orient, stuck_s, best_d):
    """Walker ``i``'s changing state from column ``k`` of the call's state into the caller's arrays."""
    pos[i, 0] = now[0, k]
    pos[i, 1] = now[1, k]
    orient[i, 0] = now[2, k]
    orient[i, 1] = now[3, k]
    stuck_s[i] = now[4, k]
    best_d[i] = now[5, k]


@njit(cache=True, parallel=True)
def csm_advance(pos, orient, vel, active, floor, field_base, v0, radius, time_gap, stuck_s, best_d,
                arrived_goal, arrived_step,
                pool_dist, pool_goal, fl_nx, fl_ny, fl_x0, fl_y0, fl_shift, cell_m,
                seg, bk_start, bk_items, bk_x0, bk_y0, bk_size, bk_nx, bk_ny,
                cl_x0, cl_y0, cl_nx, cl_ny, periodic_x_m,
                a_n, d_n, a_w, d_w, cutoff_m, patience_s, squeeze, turn_rad, progress_m, seed,
                a_s, d_s, counter_cos, keep_right_m, pass_s, pass_hold_s, passes,
                dt_s, n_steps, stop_on_arrival, n_threads):
    """Advance all active agents by up to ``n_steps`` steps of ``dt_s``.

    Parameters
    ----------
    pos, orient, vel : float64[n, 2]
        Position in the floor's frame [m], last walking direction [1], velocity [m/s]; updated.
    active : bool[n]
        Walking agents; an agent that reaches a goal cell is set inactive.
    floor : int32[n]
        Floor index of each agent.
    field_base : int64[n]
        Offset of the agent's navigation field in ``pool_dist`` / ``pool_goal``.
    v0, radius, time_gap : float64[n]
        Desired speed [m/s], radius [m], time gap T [s].
    arrived_goal, arrived_step : int32[n]
        Set for agents that arrive: goal label reached, and the step (1-based, within this call).
    pool_dist : float32[m]
        Navigation fields (travel cost [m]) stored flat, row-major per field.
    pool_goal : int16[m]
        Goal label of each field cell, -1 where the cell is not a goal.
    fl_nx, fl_ny : int64[f]; fl_x0, fl_y0, fl_shift : float64[f]
        Grid shape and origin [m] of each floor, and where the floor sits in the world frame
        along x [m].
    cell_m : float
        Grid cell size [m].
    seg : float64[k, 4]
        Wall segments (x1, y1, x2, y2) in the world frame [m].
    bk_start, bk_items, bk_x0, bk_y0, bk_size, bk_nx, bk_ny
        Wall buckets: segments of bucket b are ``bk_items[bk_start[b]:bk_start[b + 1]]``.
    cl_x0, cl_y0, cl_nx, cl_ny
        Cell list: origin [m] and number of cells (cells are ``cutoff_m / 2`` wide; with
        ``periodic_x_m > 0`` the cells in x are ``periodic_x_m / cl_nx`` wide).
    periodic_x_m : float
        0, or the period of a corridor periodic in x (one floor only; x wraps to [0, L)) [m].
    a_n, d_n, a_w, d_w : float
        Neighbour and wall repulsion strength [1] and range [m].
    cutoff_m : float
        Neighbours and walls farther than this are ignored [m].
    a_s, d_s, counter_cos, keep_right_m : float
        Counterflow side step: strength [1], range [m], the cosine c below which a neighbour's
        heading counts as against [1], and how far right of the line a neighbour may be for both
        to still pass on the right [m].
    pass_s, pass_hold_s : float
        Walking through (rule 6): someone stuck for ``pass_s`` [s] ignores the walkers coming the
        other way until ``pass_hold_s`` [s] after their next progress; ``pass_s = 0`` turns it off.
    passes : int64[n]
        Counts, per agent, how often they started walking through; updated.
    dt_s : float
        Time step [s].
    n_steps : int
        Most steps to take.
    stop_on_arrival : bool
        Return after the first step in which someone arrived.
    n_threads : int
        Size of the per-thread scratch (``numba.config.NUMBA_NUM_THREADS``).

    Returns
    -------
    int
        Steps taken.
    """
    n = pos.shape[0]
    na = 0
    for i in range(n):
        if active[i]:
            na += 1
            arrived_goal[i] = -1
            arrived_step[i] = 0
    periodic = periodic_x_m > 0.0
    if periodic:
        csx = periodic_x_m / cl_nx
    else:
        csx = 0.5 * cutoff_m
    csy = 0.5 * cutoff_m
    ncell = cl_nx * cl_ny
    dense = ncell <= DENSE_CELLS_PER_WALKER * na + DENSE_MIN_CELLS
    cap = max(na, 1)
    # The walkers' state lives here during the call, in cell order: each step gathers it sorted by
    # cell into the snapshot every walker reads (walkers near each other sit near each other in
    # memory) and writes each walker's new state back at the walker's place in that order.
    # Changing state: position (floor frame), direction, stuck time, best field value, world x, speed.
    now = np.empty((8, cap))
    snap = np.empty((8, cap))
    # Fixed per walker (two copies, used in turn): desired speed, radius, time gap; index, floor, field.
    fixf = np.empty((2, 3, cap))
    fixi = np.empty((2, 3, cap), np.int64)
    cell = np.empty(cap, np.int64)
    order = np.empty(cap, np.int64)
    skey = np.empty(cap, np.int64)
    cstart = np.empty(ncell + 2 if dense else 1, np.int64)
    maxb = 1
    for b in range(bk_start.shape[0] - 1):
        maxb = max(maxb, bk_start[b + 1] - bk_start[b])
    scratch = np.empty((n_threads, maxb), np.int64)
    nbscratch = np.empty((n_threads, 6, cap))
    nbm = np.empty((n_threads, cap), np.int64)
    cut2 = cutoff_m * cutoff_m
    k = 0
    for i in range(n):
        if active[i]:
            wx = pos[i, 0] + fl_shift[floor[i]]
            if periodic:
                wx = wx - periodic_x_m * np.floor(wx / periodic_x_m)
            now[0, k] = pos[i, 0]
            now[1, k] = pos[i, 1]
            now[2, k] = orient[i, 0]
            now[3, k] = orient[i, 1]
            now[4, k] = stuck_s[i]
            now[5, k] = best_d[i]
            now[6, k] = wx
            fixf[0, 0, k] = v0[i]
            fixf[0, 1, k] = radius[i]
            fixf[0, 2, k] = time_gap[i]
            fixi[0, 0, k] = i
            fixi[0, 1, k] = floor[i]
            fixi[0, 2, k] = field_base[i]
            cell[k] = _cell_of(wx, pos[i, 1], cl_x0, cl_y0, csx, csy, cl_nx, cl_ny)
            k += 1
    npx = now[0]
    npy = now[1]
    nox = now[2]
    noy = now[3]
    nst = now[4]
    nbd = now[5]
    nwx = now[6]
    nsp = now[7]
    spx = snap[0]
    sy = snap[1]
    sox = snap[2]
    soy = snap[3]
    sst = snap[4]
    sbd = snap[5]
    sx = snap[6]
    cur = 0
    steps = 0
    for step in range(n_steps):
        if na == 0:
            break
        # ---- cell list: walkers sorted by (cell, index), their state gathered in that order
        if dense:
            _counting_sort(cell, na, ncell, cstart, order)
            _by_index_within_cells(order, cell, fixi[cur, 0], na)
        elif step == 0:
            order[:na] = np.argsort(cell[:na], kind="mergesort")
            _by_index_within_cells(order, cell, fixi[cur, 0], na)
        else:  # still in last step's order but for those who changed cells: an insertion sort
            _insertion_by_cell_index(order, cell, fixi[cur, 0], na)
        nxt = 1 - cur
        _gather(order, na, now, snap, fixf[cur], fixf[nxt], fixi[cur], fixi[nxt], cell, skey)
        cur = nxt
        sv0 = fixf[cur, 0]
        srad = fixf[cur, 1]
        stg = fixf[cur, 2]
        sidx = fixi[cur, 0]
        sfl = fixi[cur, 1]
        sbase = fixi[cur, 2]
        # ---- every walker: direction and speed from the snapshot, then its move
        narr = 0
        for s in prange(na):
            tid = numba.get_thread_id()
            local = scratch[tid]
            bdx = nbscratch[tid, 0]
            bdy = nbscratch[tid, 1]
            bd2 = nbscratch[tid, 2]
            bll = nbscratch[tid, 3]
            brad = nbscratch[tid, 4]
            bw = nbscratch[tid, 5]
            bm = nbm[tid]
            i = sidx[s]
            wx = sx[s]
            wy = sy[s]
            ri = srad[s]
            f = sfl[s]
            fb = sbase[s]
            px = spx[s]
            py = wy
            stuck = sst[s]
            st0 = stuck
            passing = pass_s > 0.0 and (stuck < 0.0 or stuck >= pass_s)
            ex, ey = field_direction(px, py, pool_dist, fb, fl_nx[f], fl_ny[f], fl_x0[f], fl_y0[f], cell_m)
            fx = ex
            fy = ey
            shrink = 1.0
            if patience_s > 0.0 and stuck >= patience_s:
                shrink = squeeze
                qx, qy = descent_direction(px, py, pool_dist, fb, fl_nx[f], fl_ny[f], fl_x0[f], fl_y0[f], cell_m)
                if qx != 0.0 or qy != 0.0:
                    ex = qx
                    ey = qy
                if not passing:
                    ang = turn_rad * turn_sign(seed, i, int(stuck / patience_s))
                    ca = np.cos(ang)
                    sa = np.sin(ang)
                    ex, ey = ca * ex - sa * ey, sa * ex + ca * ey
            e0x = ex
            e0y = ey
            # walls: repulsion and the local list used for line of sight
            nloc = 0
            bx = int(np.floor((wx - bk_x0) / bk_size))
            by = int(np.floor((wy - bk_y0) / bk_size))
            if bx >= 0 and bx < bk_nx and by >= 0 and by < bk_ny:
                b = by * bk_nx + bx
                for q in range(bk_start[b], bk_start[b + 1]):
                    sg = bk_items[q]
                    qx, qy = _seg_closest(wx, wy, seg[sg, 0], seg[sg, 1], seg[sg, 2], seg[sg, 3])
                    vx = qx - wx
                    vy = qy - wy
                    dd = vx * vx + vy * vy
                    if dd >= cut2:
                        continue
                    local[nloc] = sg
                    nloc += 1
                    dw = np.sqrt(dd)
                    if dw > 1e-12:
                        z = (ri - dw) / d_w
                        if z > -700.0:
                            mag = -a_w * np.exp(z) / dw
                            ex += mag * vx
                            ey += mag * vy
            # neighbours: repulsion and side step (cells of cutoff/2, at most two rings, only the
            # part of each row of cells that reaches within the cutoff)
            cx = int(np.floor((wx - cl_x0) / csx))
            cy = int(np.floor((wy - cl_y0) / csy))
            cx = min(max(cx, 0), cl_nx - 1)
            cy = min(max(cy, 0), cl_ny - 1)
            cnt = 0
            for yy in range(max(cy - 2, 0), min(cy + 3, cl_ny)):
                # dy0: least |dy| to anyone in this row (the edge rows also hold whoever is beyond them)
                dy0 = 0.0
                if yy > 0 and wy < cl_y0 + yy * csy:
                    dy0 = cl_y0 + yy * csy - wy
                elif yy < cl_ny - 1 and wy > cl_y0 + (yy + 1) * csy:
                    dy0 = wy - cl_y0 - (yy + 1) * csy
                dy0 = max(dy0 - ROW_SLACK_M, 0.0)
                if dy0 * dy0 > cut2:
                    continue
                for part in range(2):
                    if periodic:
                        lo = cx - 2
                        hi = cx + 2
                        if part == 0:
                            if lo < 0:
                                lo = lo + cl_nx
                                hi = cl_nx - 1
                            elif hi >= cl_nx:
                                hi = cl_nx - 1
                        else:
                            if cx - 2 < 0:
                                lo = 0
                                hi = cx + 2
                            elif cx + 2 >= cl_nx:
                                lo = 0
                                hi = cx + 2 - cl_nx
                            else:
                                continue
                    else:
                        if part == 1:
                            continue
                        half = np.sqrt(cut2 - dy0 * dy0) + ROW_SLACK_M
                        lo = max(int(np.floor((wx - half - cl_x0) / csx)), cx - 2, 0)
                        hi = min(int(np.floor((wx + half - cl_x0) / csx)), cx + 2, cl_nx - 1)
                        if hi < lo:
                            continue
                    if dense:
                        m0 = cstart[yy * cl_nx + lo]
                        m1 = cstart[yy * cl_nx + hi + 1]
                    else:
                        m0 = _lower_bound(skey, na, yy * cl_nx + lo)
                        m1 = m0
                        khi = yy * cl_nx + hi
                        while m1 < na and skey[m1] <= khi:
                            m1 += 1
                    # everyone in the range into the buffer; only those within the cutoff stay
                    for m in range(m0, m1):
                        dx = sx[m] - wx
                        dy = sy[m] - wy
                        if periodic:
                            dx = dx - periodic_x_m * np.floor(dx / periodic_x_m + 0.5)
                        d2 = dx * dx + dy * dy
                        bdx[cnt] = dx
                        bdy[cnt] = dy
                        bd2[cnt] = d2
                        bm[cnt] = m
                        brad[cnt] = srad[m]
                        cnt += 1 - ((d2 > cut2) | (d2 < 1e-18) | (m == s))
            if passing:
                # walking through: whoever is headed the other way (by the fields: where each wants
                # to go, not where the crowd pushes them) makes way; those ahead in a queue do not
                kept = 0
                for q in range(cnt):
                    m = bm[q]
                    fm = sfl[m]
                    mx, my = field_direction(spx[m], sy[m], pool_dist, sbase[m], fl_nx[fm], fl_ny[fm], fl_x0[fm],
                                             fl_y0[fm], cell_m)
                    if mx * fx + my * fy >= 0.0:
                        bdx[kept] = bdx[q]
                        bdy[kept] = bdy[q]
                        bd2[kept] = bd2[q]
                        bm[kept] = m
                        brad[kept] = brad[q]
                        kept += 1
                cnt = kept
            if nloc > 0:
                # line of sight: drop neighbours behind a wall
                kept = 0
                for q in range(cnt):
                    if _visible(wx, wy, bdx[q], bdy[q], seg, local, nloc):
                        bdx[kept] = bdx[q]
                        bdy[kept] = bdy[q]
                        bd2[kept] = bd2[q]
                        bm[kept] = bm[q]
                        brad[kept] = brad[q]
                        kept += 1
                cnt = kept
            # repulsion: the magnitudes in a loop the compiler vectorises, then their sum in order
            for q in range(cnt):
                ll = ri + brad[q]
                dist = np.sqrt(bd2[q])
                bw[q] = -a_n * exp_kernel((ll - dist) / d_n) / dist
                bll[q] = ll * shrink
                bd2[q] = dist
            for q in range(cnt):
                ex += bw[q] * bdx[q]
                ey += bw[q] * bdy[q]
            if a_s > 0.0:
                # side step from whoever comes the other way on one's line
                sq_sh = min(shrink, squeeze)
                for q in range(cnt):
                    m = bm[q]
                    if sox[m] * e0x + soy[m] * e0y < -counter_cos:
                        dx = bdx[q]
                        dy = bdy[q]
                        ll = ri + srad[m]
                        bll[q] = ll * sq_sh
                        lat = -e0y * dx + e0x * dy  # > 0: j is to the left of i's line
                        if e0x * dx + e0y * dy > 0.0 and abs(lat) < ll + 0.3:
                            side = -1.0 if lat > -keep_right_m else 1.0
                            mag = side * a_s * np.exp((ll - bd2[q]) / d_s)
                            ex += -mag * e0y
                            ey += mag * e0x
            norm = np.sqrt(ex * ex + ey * ey)
            if norm > 0.0:
                ex = ex / norm
                ey = ey / norm
            else:
                ex = sox[s]
                ey = soy[s]
            # spacing: the nearest neighbour in front, inside the corridor
            smin = INF
            for q in range(cnt):
                dx = bdx[q]
                dy = bdy[q]
                ll = bll[q]
                sq = bd2[q] - ll
                if ex * dx + ey * dy >= 0.0 and abs(-ey * dx + ex * dy) <= ll and sq < smin:
                    smin = sq
            sp = smin / stg[s]
            if sp < 0.0:
                sp = 0.0
            if sp > sv0[s]:
                sp = sv0[s]
            # move, wrap, arrive: the new state at this walker's place in the sorted order
            vx = ex * sp
            vy = ey * sp
            x = px + vx * dt_s
            y = py + vy * dt_s
            best = sbd[s]
            if periodic:
                xw = x - periodic_x_m * np.floor(x / periodic_x_m)
                if xw != x:
                    best = INF  # a new lap: the field value jumps back up
                x = xw
            gj = int(np.floor((x - fl_x0[f]) / cell_m))
            gi = int(np.floor((y - fl_y0[f]) / cell_m))
            stuck += dt_s
            if pass_s > 0.0 and st0 < pass_s <= stuck:
                passes[i] += 1
            if gi >= 0 and gi < fl_ny[f] and gj >= 0 and gj < fl_nx[f]:
                dval = pool_dist[fb + gi * fl_nx[f] + gj]
                if dval < best - progress_m:
                    best = dval
                    if pass_s > 0.0 and st0 >= pass_s:
                        stuck = -pass_hold_s  # through: keep walking through for pass_hold_s
                    elif st0 >= 0.0:
                        stuck = 0.0
                g = pool_goal[fb + gi * fl_nx[f] + gj]
                if g >= 0:
                    arrived_goal[i] = g
                    arrived_step[i] = step + 1
                    narr += 1
            npx[s] = x
            npy[s] = y
            nox[s] = ex
            noy[s] = ey
            nst[s] = stuck
            nbd[s] = best
            nsp[s] = sp
            wxn = x + fl_shift[f]
            if periodic:
                wxn = wxn - periodic_x_m * np.floor(wxn / periodic_x_m)
            nwx[s] = wxn
            cell[s] = _cell_of(wxn, y, cl_x0, cl_y0, csx, csy, cl_nx, cl_ny)
        steps = step + 1
        if narr > 0:
            # arrivals leave the walkers' state for good
            kk = 0
            for k in range(na):
                i = sidx[k]
                if arrived_step[i] == step + 1:
                    active[i] = False
                    _write_back(k, i, now, pos, orient, stuck_s, best_d)
                    vel[i, 0] = 0.0
                    vel[i, 1] = 0.0
                else:
                    for q in range(8):
                        now[q, kk] = now[q, k]
                    for q in range(3):
                        fixf[cur, q, kk] = fixf[cur, q, k]
                        fixi[cur, q, kk] = fixi[cur, q, k]
                    cell[kk] = cell[k]
                    kk += 1
            na = kk
            if stop_on_arrival:
                break
    if steps > 0:
        for k in range(na):
            i = fixi[cur, 0, k]
            _write_back(k, i, now, pos, orient, stuck_s, best_d)
            vel[i, 0] = now[2, k] * now[7, k]
            vel[i, 1] = now[3, k] * now[7, k]
    return steps
