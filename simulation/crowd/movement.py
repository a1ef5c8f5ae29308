"""The crowd: walkers as numpy arrays, moved by the collision-free speed model kernel.

A :class:`Crowd` holds every person of a building (or of plain polygons) as rows of arrays. Only
*walkers* cost anything: a person who arrived, or waits, or sits, is inactive and invisible to
the movement kernel. One :meth:`Crowd.advance` call runs many small steps inside one Numba call
(no Python per step or per agent) up to a time, or until the first walker reaches its target.

Public API
----------
Build
    ``Crowd.from_building(building, *, cell_m=0.25, exit_apron_m=1.0, **options)``;
    ``Crowd.from_polygons(walkable, obstacles=(), *, floor_id="0", exits=None, **options)``;
    ``Crowd(spaces, *, building=None, params=CSMParameters(), dt_s=0.01, periodic_x_m=0.0,
    max_fields=256, wall_clearance_m=0.3, wall_penalty=1.0)``;
    :func:`periodic_corridor` for fundamental-diagram experiments.
Targets
    :class:`~simulation.crowd.navigation.Target` (``Target.seat(floor, id)``, ``.zone``, ``.opening``,
    ``.exit``, ``.exits``, ``.point``, ``.box``, ``.stop``); fields are computed once per target
    and cached (``crowd.navigator``).
People
    ``add(floor_id, x, y, target, desired_speed_m_s=1.34, *, radius_m=None, time_gap_s=None) -> id``;
    ``add_many(floor_id, xy, target, desired_speed_m_s) -> ids``; ``set_target(id, target)``
    (walks again); ``place(id, floor_id, x, y, target=None)`` (moves someone, e.g. off a stair);
    ``stop(id)``; ``remove(id)``.
Time
    ``advance(until_s, *, stop_on_arrival=True) -> (time_s, arrived_ids)``: runs steps of
    ``dt_s`` until ``time_s >= until_s`` (the first step at or after it), or, with
    ``stop_on_arrival``, until the end of the first step in which someone arrived. Arrived
    walkers stop; ``reached(id)`` says which goal (e.g. which exit), ``arrival_time_s(id)`` when.
Read
    ``time_s``, ``walking`` (ids), ``walking_on(floor_id)``, ``positions(ids=None)``, ``location(id) -> (floor, x, y)``,
    ``velocities(ids=None)``, ``frame() -> pandas.DataFrame``.
Routes across floors
    ``crowd.navigator.route(floor_id, x, y, target, use_lifts=False) -> Route`` with walk, stair
    and lift legs; a walk leg is ``add``/``set_target``; a stair leg is a delay of its
    ``duration_s`` then ``place`` on the other floor; lifts are the library-day model's SimPy
    resources (``crowd.navigator.links``: capacity, speed, door time).

The model is the collision-free speed model (Tordeux, Chraibi, Seyfried 2016) as in JuPedSim,
see :mod:`simulation.crowd.kernels.csm`. Same inputs and seed give the same positions, on any number
of threads.

References
----------
Tordeux, A., Chraibi, M., Seyfried, A. (2016). Collision-free speed model for pedestrian
dynamics. Traffic and Granular Flow '15, 225-232. arXiv:1512.05597.
Weidmann, U. (1993). Transporttechnik der Fussgaenger. Schriftenreihe des IVT 90, ETH Zuerich.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from geometry.grid import DEFAULT_CELL_M
from geometry.model import Building

from . import kernels
from .navigation import FREE_SPEED_M_S, FloorSpace, Navigator, Target, floor_spaces
from .routes import NoRouteError

WALKING, IDLE, REMOVED = 1, 0, 2
_NONE = np.zeros(0, np.int64)  # no arrivals


@dataclass(frozen=True)
class CSMParameters:
    """Parameters of the collision-free speed model.

    The repulsion parameters and the radius are JuPedSim's published defaults. Two things are
    calibrated (see docs/pedestrian.md for the measured curves): the time gap ``T`` is 0.7 s
    instead of 1 s, which brings the fundamental diagram within about 0.1 m/s of Weidmann's and
    a 1 m bottleneck to 1.8-1.9 persons/(m s) (measured: about 1.8-1.9). And someone who has not
    come ``progress_m`` closer to their target for ``patience_s`` is *stuck*: they turn their
    shoulders (measure their spacing with a contact distance ``squeeze`` times smaller) and try
    a step to one side (their desired direction turns by ``turn_deg``). The deterministic model
    otherwise locks up for good, as JuPedSim's does: two people facing each other in a door up
    to about 0.9 m wide, or one person walking into the middle of a shelf's face.
    :meth:`jupedsim` gives the unmodified published model.

    Attributes
    ----------
    strength_neighbor_repulsion
        a_n [1].
    range_neighbor_repulsion_m
        D_n [m].
    strength_geometry_repulsion
        a_w [1].
    range_geometry_repulsion_m
        D_w [m].
    time_gap_s
        T: the time to close the gap to the person ahead [s]; speed = spacing / T, at most v0.
    radius_m
        Default body radius [m] (spacing counts from body edge to body edge).
    cutoff_m
        Neighbours and walls farther than this are ignored [m] (JuPedSim: 3 m; at 2 m the
        repulsion is below 1e-6 and the spacing only matters up to v0 T + 2 r).
    patience_s
        Time without getting ``progress_m`` closer to the target before someone counts as stuck
        [s]; 0 turns the mechanism off.
    squeeze
        Factor on the contact distance r_i + r_j in the spacing while stuck [1].
    turn_deg
        While stuck, the desired direction turns by this angle, to the left or right, the side
        drawn anew every ``patience_s`` from a hash of (crowd seed, person, period) [deg].
    progress_m
        Getting this much closer to the target (travel cost) counts as progress [m].
    counterflow_strength, counterflow_range_m
        a_s [1] and D_s [m] of the counterflow side step (rule 3b of
        :mod:`simulation.crowd.kernels.csm`): someone coming the other way on one's line makes one
        step aside, the nearer the stronger; 0 turns it off.
    counterflow_cos
        A neighbour walks against someone when the cosine between their direction and the
        other's desired direction is below minus this [1] (0.5: more than 120 degrees apart).
    keep_right_m
        Both pass on the right unless the other is already more than this to one's right [m].
    pass_s
        Walking through (rule 6 of :mod:`simulation.crowd.kernels.csm`): someone stuck this long
        [s] ignores the walkers coming the other way until ``pass_hold_s`` after their next
        progress (0: off, the default; the library day's crowd walker turns it on).
        :attr:`Crowd.passes` counts it.
    pass_hold_s
        How long someone walks through after their first progress [s].

    References
    ----------
    Tordeux, Chraibi, Seyfried (2016), arXiv:1512.05597; JuPedSim 1.x ``CollisionFreeSpeedModel``.
    """

    strength_neighbor_repulsion: float = 8.0
    range_neighbor_repulsion_m: float = 0.1
    strength_geometry_repulsion: float = 5.0
    range_geometry_repulsion_m: float = 0.02
    time_gap_s: float = 0.7
    radius_m: float = 0.2
    cutoff_m: float = 2.0
    patience_s: float = 2.0
    squeeze: float = 0.7
    turn_deg: float = 30.0
    progress_m: float = 0.25
    counterflow_strength: float = 3.0
    counterflow_range_m: float = 0.5
    counterflow_cos: float = 0.5
    keep_right_m: float = 0.3
    pass_s: float = 0.0
    pass_hold_s: float = 2.0

    def __post_init__(self) -> None:
        for name in ("range_neighbor_repulsion_m", "range_geometry_repulsion_m", "time_gap_s", "radius_m", "cutoff_m",
                     "squeeze", "counterflow_range_m"):
            v = getattr(self, name)
            if not (v > 0 and math.isfinite(v)):
                raise ValueError(f"CSMParameters.{name} must be a positive number, got {v}")
        if not (self.patience_s >= 0 and self.progress_m >= 0 and self.squeeze <= 1 and 0 <= self.turn_deg <= 90):
            raise ValueError("CSMParameters: patience_s and progress_m must be >= 0, squeeze <= 1, turn_deg in "
                             "[0, 90]")
        if not (self.pass_s >= 0 and self.pass_hold_s >= 0 and math.isfinite(self.pass_s + self.pass_hold_s)):
            raise ValueError("CSMParameters: pass_s and pass_hold_s must be finite and >= 0")
        if not (self.counterflow_strength >= 0 and -1 <= self.counterflow_cos <= 1 and self.keep_right_m >= 0):
            raise ValueError("CSMParameters: counterflow_strength and keep_right_m must be >= 0, counterflow_cos in "
                             "[-1, 1]")

    @classmethod
    def jupedsim(cls) -> CSMParameters:
        """JuPedSim's published defaults, unmodified (T = 1 s, no squeezing)."""
        return cls(time_gap_s=1.0, patience_s=0.0, counterflow_strength=0.0)

    @property
    def turn_rad(self) -> float:
        return math.radians(self.turn_deg)


class Crowd:
    """People on the floors of one building (or plain polygons), moved by the CSM kernel.

    See the module docstring for the whole API.

    Parameters
    ----------
    spaces
        The floors (:class:`~simulation.crowd.navigation.FloorSpace`), all with one cell size.
    building
        The building the spaces come from (for seat, zone, door and stop targets, and stairs).
    params
        Movement model parameters.
    dt_s
        Time step [s] (JuPedSim's default 0.01 s).
    periodic_x_m
        0, or the length of a corridor that is periodic along x (one floor; x wraps to
        [0, periodic_x_m)) [m].
    max_fields, wall_clearance_m, wall_penalty
        Passed to :class:`~simulation.crowd.navigation.Navigator`.
    seed
        Picks the side a stuck person tries first (see :class:`CSMParameters`); draw it from the
        run's ``numpy.random.Generator``.
    """

    def __init__(self, spaces: Mapping[str, FloorSpace] | Sequence[FloorSpace], *, building: Building | None = None,
                 params: CSMParameters | None = None, dt_s: float = 0.01, periodic_x_m: float = 0.0,
                 max_fields: int = 256, wall_clearance_m: float = 0.3, wall_penalty: float = 1.0,
                 bucket_m: float = 1.0, seed: int = 0) -> None:
        if not (0 < dt_s <= 0.5):
            raise ValueError(f"dt_s must be in (0, 0.5] s, got {dt_s}")
        self.params = params or CSMParameters()
        self.dt_s = float(dt_s)
        self.seed = int(seed) % (2**63)
        self.navigator = Navigator(spaces, building=building, wall_clearance_m=wall_clearance_m,
                                   wall_penalty=wall_penalty, max_fields=max_fields)
        nav = self.navigator
        self.building = building
        self.periodic_x_m = float(periodic_x_m)
        if self.periodic_x_m and len(nav.spaces) != 1:
            raise ValueError("a periodic crowd has exactly one floor")
        if self.periodic_x_m and self.periodic_x_m < 2.5 * self.params.cutoff_m:
            raise ValueError(f"periodic_x_m must be at least 2.5 cutoffs ({2.5 * self.params.cutoff_m} m), "
                             f"got {self.periodic_x_m}")
        self._layout(float(bucket_m))
        self._n = 0
        cap = 64
        self._pos = np.zeros((cap, 2))
        self._orient = np.zeros((cap, 2))
        self._vel = np.zeros((cap, 2))
        self._active = np.zeros(cap, bool)
        self._floor = np.zeros(cap, np.int32)
        self._base = np.zeros(cap, np.int64)
        self._v0 = np.zeros(cap)
        self._radius = np.zeros(cap)
        self._tgap = np.zeros(cap)
        self._stuck = np.zeros(cap)
        self._best = np.full(cap, np.inf)
        self._agoal = np.full(cap, -1, np.int32)
        self._astep = np.zeros(cap, np.int32)
        self._passes = np.zeros(cap, np.int64)
        self._status = np.zeros(cap, np.int8)
        self._arrival_s = np.full(cap, np.nan)
        self._targets: list[Target | None] = []
        self._reached: list[str | None] = []
        self._steps = 0
        self.agent_steps = 0
        #: Below this many walkers a call runs on one thread (same results, less overhead).
        self.parallel_min_walkers = 500
        #: Time one thread against all and use the faster (see :meth:`_pick_threads`).
        self.auto_threads = True
        self._calls = 0
        self._timed = 0
        self._cost: dict[int, float] = {}

    # ---------------------------------------------------------------- construction

    @classmethod
    def from_building(cls, building: Building, *, cell_m: float = DEFAULT_CELL_M, exit_apron_m: float = 1.0,
                      **options: object) -> Crowd:
        """A crowd over every floor of a building (exits get aprons of ``exit_apron_m`` [m])."""
        return cls(floor_spaces(building, cell_m=cell_m, exit_apron_m=exit_apron_m), building=building,
                   **options)  # type: ignore[arg-type]

    @classmethod
    def from_polygons(cls, walkable: BaseGeometry, obstacles: Iterable[BaseGeometry] = (), *, floor_id: str = "0",
                      exits: Mapping[str, BaseGeometry] | None = None, cell_m: float = DEFAULT_CELL_M,
                      **options: object) -> Crowd:
        """A one-floor crowd from plain shapely polygons [m] (see ``FloorSpace.from_polygons``)."""
        space = FloorSpace.from_polygons(floor_id, walkable, obstacles, cell_m=cell_m, exits=exits)
        return cls([space], **options)  # type: ignore[arg-type]

    def _layout(self, bucket_m: float) -> None:
        """Floors side by side in one world frame; cell list and wall buckets over it."""
        nav = self.navigator
        cut = self.params.cutoff_m
        gap = cut + 2.0 * bucket_m + 1.0
        shifts, x = [], 0.0
        ymin, ymax = math.inf, -math.inf
        for fid in nav.floor_ids:
            g = nav.spaces[fid].grid
            shifts.append(x - g.x0)
            x += g.shape[1] * g.cell_m + gap
            ymin = min(ymin, g.y0)
            ymax = max(ymax, g.y0 + g.shape[0] * g.cell_m)
        xmin, xmax = 0.0, x - gap
        if self.periodic_x_m:
            g = nav.spaces[nav.floor_ids[0]].grid
            shifts = [0.0]
            xmin, xmax = g.x0, g.x0 + g.shape[1] * g.cell_m
        self._fl_shift = np.asarray(shifts, float)
        grids = [nav.spaces[f].grid for f in nav.floor_ids]
        self._fl_nx = np.asarray([g.shape[1] for g in grids], np.int64)
        self._fl_ny = np.asarray([g.shape[0] for g in grids], np.int64)
        self._fl_x0 = np.asarray([g.x0 for g in grids], float)
        self._fl_y0 = np.asarray([g.y0 for g in grids], float)
        cny = math.ceil((ymax - ymin) / (0.5 * cut)) + 1
        if self.periodic_x_m:
            self._cl = (0.0, ymin, max(5, int(self.periodic_x_m // (0.5 * cut))), cny)
        else:
            self._cl = (0.0, ymin, math.ceil(xmax / (0.5 * cut)) + 1, cny)
        segs = [nav.spaces[f].segments + np.array([s, 0.0, s, 0.0]) for f, s in zip(nav.floor_ids, shifts, strict=True)]
        seg = np.ascontiguousarray(np.concatenate(segs)) if segs else np.zeros((0, 4))
        bx0, by0 = xmin - 1.0, ymin - 1.0
        bnx = math.ceil((xmax - xmin + 2.0) / bucket_m) + 1
        bny = math.ceil((ymax - ymin + 2.0) / bucket_m) + 1
        start = np.zeros(bnx * bny + 1, np.int64)
        items = np.zeros(0, np.int64)
        if len(seg):
            lines = shapely.linestrings(seg.reshape(-1, 2, 2))
            tree = shapely.STRtree(lines)
            jj, ii = np.meshgrid(np.arange(bnx), np.arange(bny))
            boxes = shapely.box(bx0 + jj.ravel() * bucket_m, by0 + ii.ravel() * bucket_m,
                                bx0 + (jj.ravel() + 1) * bucket_m, by0 + (ii.ravel() + 1) * bucket_m)
            b_idx, s_idx = tree.query(boxes, predicate="dwithin", distance=cut)
            order = np.lexsort((s_idx, b_idx))
            b_idx, s_idx = b_idx[order], s_idx[order]
            counts = np.bincount(b_idx, minlength=bnx * bny)
            start[1:] = np.cumsum(counts)
            items = s_idx.astype(np.int64)
        self._seg = seg
        self._bk = (start, items, bx0, by0, float(bucket_m), bnx, bny)

    # ---------------------------------------------------------------- people

    def _grow(self, need: int) -> None:
        cap = self._pos.shape[0]
        if need <= cap:
            return
        new = max(need, 2 * cap)
        for name in ("_pos", "_orient", "_vel"):
            a = getattr(self, name)
            b = np.zeros((new, 2))
            b[:cap] = a
            setattr(self, name, b)
        for name, fill in (("_active", False), ("_floor", 0), ("_base", 0), ("_v0", 0.0), ("_radius", 0.0),
                           ("_tgap", 0.0), ("_stuck", 0.0), ("_best", np.inf), ("_agoal", -1), ("_astep", 0),
                           ("_passes", 0), ("_status", 0), ("_arrival_s", np.nan)):
            a = getattr(self, name)
            b = np.full(new, fill, a.dtype)
            b[:cap] = a
            setattr(self, name, b)

    def _check_target(self, floor_id: str, target: Target) -> None:
        if not isinstance(target, Target):
            raise TypeError(f"target must be a Target, got {type(target).__name__}")
        if floor_id not in self.navigator.floor_index:
            raise KeyError(f"no floor '{floor_id}' (floors: {', '.join(self.navigator.floor_ids)})")
        if target.floor_id != floor_id:
            raise ValueError(f"target is on floor '{target.floor_id}', the person on floor '{floor_id}': plan the "
                             "legs with crowd.navigator.route(...)")

    def add_many(self, floor_id: str, xy: ArrayLike, target: Target, desired_speed_m_s: ArrayLike = FREE_SPEED_M_S,
                 *, radius_m: ArrayLike | None = None, time_gap_s: ArrayLike | None = None) -> NDArray[np.int64]:
        """Add walkers at positions ``xy`` [m] (shape (k, 2)) on a floor, all heading for ``target``.

        Returns their ids (rows of the state arrays; never reused).
        """
        self._check_target(floor_id, target)
        xy = np.asarray(xy, float).reshape(-1, 2)
        k = xy.shape[0]
        if not np.isfinite(xy).all():
            raise ValueError("positions must be finite numbers")
        v0 = np.broadcast_to(np.asarray(desired_speed_m_s, float), (k,))
        if k and not ((v0 > 0) & (v0 <= 10)).all():
            raise ValueError(f"desired speeds must be in (0, 10] m/s, got {v0.min():g}..{v0.max():g}")
        r = np.broadcast_to(np.asarray(self.params.radius_m if radius_m is None else radius_m, float), (k,))
        tg = np.broadcast_to(np.asarray(self.params.time_gap_s if time_gap_s is None else time_gap_s, float), (k,))
        if k and not ((r > 0) & (r <= 2)).all():
            raise ValueError("radius_m must be in (0, 2] m")
        if k and not ((tg >= 0.1) & (tg <= 10)).all():
            raise ValueError("time_gap_s must be in [0.1, 10] s")
        off = self.navigator.offset(target)
        self._check_reachable(floor_id, off, xy, target)
        ids = np.arange(self._n, self._n + k)
        self._grow(self._n + k)
        f = self.navigator.floor_index[floor_id]
        self._pos[ids] = xy
        self._floor[ids] = f
        self._base[ids] = off
        self._v0[ids] = v0
        self._radius[ids] = r
        self._tgap[ids] = tg
        self._stuck[ids] = 0.0
        self._best[ids] = np.inf
        self._status[ids] = WALKING
        self._active[ids] = True
        self._arrival_s[ids] = np.nan
        self._orient[ids] = self._initial_orientation(f, off, xy)
        self._n += k
        self._targets.extend([target] * k)
        self._reached.extend([None] * k)
        if k:
            self.navigator.pin(off, k)
        return ids

    def add(self, floor_id: str, x: float, y: float, target: Target, desired_speed_m_s: float = FREE_SPEED_M_S, *,
            radius_m: float | None = None, time_gap_s: float | None = None) -> int:
        """Add one walker at (x, y) [m] on a floor heading for ``target``; returns its id."""
        return int(self.add_many(floor_id, [[x, y]], target, desired_speed_m_s, radius_m=radius_m,
                                 time_gap_s=time_gap_s)[0])

    def _check_reachable(self, floor_id: str, off: int, xy: NDArray[np.float64], target: Target) -> None:
        """Raise unless each start has a reachable cell among the four around it (what the kernel reads)."""
        f = self.navigator.floor_index[floor_id]
        nx_, ny_ = int(self._fl_nx[f]), int(self._fl_ny[f])
        h = self.navigator.cell_m
        dist = self.navigator.dist
        if len(xy) == 1:  # one start (a walk of a library day): plain Python is ten times quicker
            gj = math.floor((float(xy[0, 0]) - float(self._fl_x0[f])) / h - 0.5)
            gi = math.floor((float(xy[0, 1]) - float(self._fl_y0[f])) / h - 0.5)
            if any(0 <= gi + di < ny_ and 0 <= gj + dj < nx_ and math.isfinite(dist[off + (gi + di) * nx_ + gj + dj])
                   for di in (0, 1) for dj in (0, 1)):
                return
        field = dist[off: off + nx_ * ny_].reshape(ny_, nx_)
        j0 = np.floor((xy[:, 0] - self._fl_x0[f]) / h - 0.5).astype(np.int64)
        i0 = np.floor((xy[:, 1] - self._fl_y0[f]) / h - 0.5).astype(np.int64)
        ok = np.zeros(len(xy), bool)
        for di in (0, 1):
            for dj in (0, 1):
                i, j = i0 + di, j0 + dj
                inside = (i >= 0) & (i < ny_) & (j >= 0) & (j < nx_)
                ok[inside] |= np.isfinite(field[i[inside], j[inside]])
        if not ok.all():
            x, y = xy[int(np.argmin(ok))]
            raise NoRouteError(f"{int((~ok).sum())} start(s) cannot reach {target.kind} {target.ref} on floor "
                               f"'{floor_id}', e.g. ({x:.2f}, {y:.2f}): inside a wall or obstacle, or cut off")

    def _initial_orientation(self, f: int, off: int, xy: NDArray[np.float64]) -> NDArray[np.float64]:
        """The field's direction at each start (the kernel's own function: a few microseconds each)."""
        nx_, ny_ = int(self._fl_nx[f]), int(self._fl_ny[f])
        x0, y0, h = float(self._fl_x0[f]), float(self._fl_y0[f]), float(self.navigator.cell_m)
        out = np.empty((len(xy), 2))
        for k, (x, y) in enumerate(xy):
            ex, ey = kernels.field_direction(float(x), float(y), self.navigator.dist, off, nx_, ny_, x0, y0, h)
            out[k, 0], out[k, 1] = (1.0, 0.0) if ex == 0.0 and ey == 0.0 else (ex, ey)
        return out

    def _id(self, agent_id: int) -> int:
        i = int(agent_id)
        if not (0 <= i < self._n) or self._status[i] == REMOVED:
            raise KeyError(f"no person with id {agent_id} in the crowd")
        return i

    def _release(self, i: int) -> None:
        if self._status[i] == WALKING:
            self.navigator.unpin(int(self._base[i]))
        self._active[i] = False
        self._vel[i] = 0.0

    def set_target(self, agent_id: int, target: Target, desired_speed_m_s: float | None = None) -> None:
        """Send someone (walking or not) to a new target on their floor; they walk again."""
        i = self._id(agent_id)
        self._check_target(self.navigator.floor_ids[self._floor[i]], target)
        off = self.navigator.offset(target)
        self._check_reachable(self.navigator.floor_ids[self._floor[i]], off, self._pos[i: i + 1], target)
        self._release(i)
        self.navigator.pin(off)
        self._base[i] = off
        if desired_speed_m_s is not None:
            if not 0 < desired_speed_m_s <= 10:
                raise ValueError(f"desired speed must be in (0, 10] m/s, got {desired_speed_m_s}")
            self._v0[i] = desired_speed_m_s
        self._status[i] = WALKING
        self._active[i] = True
        self._stuck[i] = 0.0
        self._best[i] = np.inf
        self._targets[i] = target
        self._reached[i] = None
        self._arrival_s[i] = np.nan
        f = int(self._floor[i])
        self._orient[i] = self._initial_orientation(f, off, self._pos[i: i + 1])[0]

    def place(self, agent_id: int, floor_id: str, x: float, y: float, target: Target | None = None) -> None:
        """Put someone at (x, y) on a floor (e.g. off a stair); walking to ``target`` if given."""
        i = self._id(agent_id)
        if floor_id not in self.navigator.floor_index:
            raise KeyError(f"no floor '{floor_id}' (floors: {', '.join(self.navigator.floor_ids)})")
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValueError("position must be finite")
        self._release(i)
        self._status[i] = IDLE
        self._floor[i] = self.navigator.floor_index[floor_id]
        self._pos[i] = (x, y)
        if target is not None:
            self.set_target(i, target)

    def stop(self, agent_id: int) -> None:
        """Stop someone walking (they stay, invisible to walkers, e.g. seated)."""
        i = self._id(agent_id)
        self._release(i)
        self._status[i] = IDLE

    def remove(self, agent_id: int) -> None:
        """Take someone out of the crowd for good."""
        i = self._id(agent_id)
        self._release(i)
        self._status[i] = REMOVED

    # ---------------------------------------------------------------- time

    @property
    def time_s(self) -> float:
        """Simulated time [s] (a whole number of steps)."""
        return self._steps * self.dt_s

    def _pick_threads(self, walkers: int, threads: int) -> int:
        """Threads for this call: 1 for small crowds; else the faster of 1 and all, as measured.

        A parallel region per step costs tens of microseconds on an idle machine and milliseconds
        when other processes hold the cores, so with ``auto_threads`` the crowd times both
        settings and re-checks the slower one every 25 calls. Results do not depend on it.
        """
        if threads <= 1 or walkers < self.parallel_min_walkers:
            return 1
        if not self.auto_threads:
            return threads
        self._calls += 1
        one, many = self._cost.get(1), self._cost.get(threads)
        if one is None:
            return 1
        if many is None:
            return threads
        fast, slow = (1, threads) if one <= many else (threads, 1)
        return slow if self._calls % 25 == 0 else fast

    def _learn(self, threads: int, elapsed_s: float, agent_steps: int) -> None:
        if agent_steps < 2000 or elapsed_s <= 0:
            return
        self._timed += 1
        if self._timed == 1:
            return  # the first call may include loading or compiling the kernel
        rate = elapsed_s / agent_steps
        old = self._cost.get(threads)
        self._cost[threads] = rate if old is None else 0.7 * old + 0.3 * rate

    def _kernel_call(self, n: int, n_steps: int, stop_on_arrival: bool, threads: int = 0) -> int:
        """One call of the CSM kernel; the serial build when it runs on one thread (``threads == 1``)."""
        p = self.params
        nav = self.navigator
        start, items, bx0, by0, bsize, bnx, bny = self._bk
        cx0, cy0, cnx, cny = self._cl
        kernel = kernels.csm_advance_serial if threads == 1 else kernels.csm_advance
        return int(kernel(
            self._pos[:n], self._orient[:n], self._vel[:n], self._active[:n], self._floor[:n], self._base[:n],
            self._v0[:n], self._radius[:n], self._tgap[:n], self._stuck[:n], self._best[:n], self._agoal[:n],
            self._astep[:n],
            nav.dist, nav.goal, self._fl_nx, self._fl_ny, self._fl_x0, self._fl_y0, self._fl_shift, nav.cell_m,
            self._seg, start, items, bx0, by0, bsize, bnx, bny, cx0, cy0, cnx, cny, self.periodic_x_m,
            p.strength_neighbor_repulsion, p.range_neighbor_repulsion_m, p.strength_geometry_repulsion,
            p.range_geometry_repulsion_m, p.cutoff_m, p.patience_s, p.squeeze, p.turn_rad, p.progress_m, self.seed,
            p.counterflow_strength, p.counterflow_range_m, p.counterflow_cos, p.keep_right_m, p.pass_s,
            p.pass_hold_s, self._passes[:n], self.dt_s, n_steps, bool(stop_on_arrival), kernels.max_threads()))

    def advance(self, until_s: float, *, stop_on_arrival: bool = True) -> tuple[float, list[int]]:
        """Move all walkers until ``until_s`` [s] or, with ``stop_on_arrival``, the first arrival.

        Returns
        -------
        time_s : float
            Time reached: the first whole step at or after ``until_s``, or the end of the step in
            which the first walker(s) arrived.
        arrived : list of int
            Ids of the walkers that reached their target (they are now idle).
        """
        if not math.isfinite(until_s):
            raise ValueError(f"until_s must be finite, got {until_s}")
        n_steps = math.ceil((until_s - self.time_s) / self.dt_s - 1e-9)
        if n_steps <= 0 or self._n == 0:
            if n_steps > 0:
                self._steps += n_steps
            return self.time_s, []
        n = self._n
        was = self._active[:n].copy()
        nav = self.navigator
        t0_steps = self._steps
        walkers = int(np.count_nonzero(was))
        # small crowds run the one-thread build: no need to ask numba for its threads (tens of us a call)
        threads = kernels.get_threads() if walkers >= self.parallel_min_walkers else 1
        use = self._pick_threads(walkers, threads)
        switch = use != threads and use != 1  # one thread runs the serial build: no thread setting
        if switch:
            kernels.set_threads(use)
        clock = time.perf_counter()
        try:
            steps = self._kernel_call(n, n_steps, stop_on_arrival, use)
        finally:
            if switch:
                kernels.set_threads(threads)
        elapsed = time.perf_counter() - clock
        still = int(np.count_nonzero(self._active[:n]))
        # the kernel only ever turns walkers off: those it did arrived
        arrived = np.flatnonzero(was != self._active[:n]) if still < walkers else _NONE
        # walkers still active walked all steps; arrivals walked until their step
        done = still * int(steps) + (int(self._astep[arrived].sum()) if arrived.size else 0)
        self.agent_steps += done
        self._learn(use, elapsed, done)
        if not (stop_on_arrival and arrived.size):
            steps = n_steps  # the kernel stops early only at an arrival or when nobody walks any more
        self._steps += int(steps)
        for i in arrived:
            self._status[i] = IDLE
            off = int(self._base[i])
            self._reached[i] = nav.label_of(off, int(self._agoal[i]))
            self._arrival_s[i] = (t0_steps + int(self._astep[i])) * self.dt_s
            nav.unpin(off)
        return self.time_s, [int(i) for i in arrived]

    def reference_step(self) -> dict[str, NDArray[np.float64]]:
        """One step from the current state by the pure-numpy reference (nothing changes here).

        For tests: the returned arrays (``pos``, ``orient``, ``vel``, ``stuck_s``, ``best_d``,
        ``arrived_goal``, one row per id) are what :meth:`advance` gives after one step.
        """
        from .kernels.reference import csm_step_reference

        n = self._n
        p = self.params
        nav = self.navigator
        return csm_step_reference(
            self._pos[:n], self._orient[:n], self._active[:n], self._floor[:n], self._base[:n], self._v0[:n],
            self._radius[:n], self._tgap[:n], self._stuck[:n], self._best[:n], nav.dist, nav.goal, self._fl_nx,
            self._fl_ny, self._fl_x0, self._fl_y0, self._fl_shift, nav.cell_m, self._seg, self.periodic_x_m,
            p.strength_neighbor_repulsion, p.range_neighbor_repulsion_m, p.strength_geometry_repulsion,
            p.range_geometry_repulsion_m, p.cutoff_m, p.patience_s, p.squeeze, p.turn_rad, p.progress_m, self.seed,
            p.counterflow_strength, p.counterflow_range_m, p.counterflow_cos, p.keep_right_m, p.pass_s,
            p.pass_hold_s, self.dt_s)

    def state(self) -> dict[str, NDArray[np.float64]]:
        """Copies of the movement state arrays (``pos``, ``orient``, ``vel``, ``stuck_s``, ``best_d``)."""
        n = self._n
        return {"pos": self._pos[:n].copy(), "orient": self._orient[:n].copy(), "vel": self._vel[:n].copy(),
                "stuck_s": self._stuck[:n].copy(), "best_d": self._best[:n].copy()}

    # ---------------------------------------------------------------- reading

    def __len__(self) -> int:
        return int(((self._status[: self._n] != REMOVED)).sum())

    @property
    def walking(self) -> NDArray[np.int64]:
        """Ids of the people walking now."""
        return np.flatnonzero(self._active[: self._n])

    def walking_on(self, floor_id: str) -> NDArray[np.int64]:
        """Ids of the people walking on one floor now."""
        f = self.navigator.floor_index[floor_id]
        n = self._n
        return np.flatnonzero(self._active[:n] & (self._floor[:n] == f))

    @property
    def ids(self) -> NDArray[np.int64]:
        """Ids of everyone in the crowd (not removed)."""
        return np.flatnonzero(self._status[: self._n] != REMOVED)

    def is_walking(self, agent_id: int) -> bool:
        return bool(self._active[self._id(agent_id)])

    def positions(self, ids: ArrayLike | None = None) -> NDArray[np.float64]:
        """Positions (k, 2) [m] in each person's floor frame (a copy); all non-removed if ``ids`` is None."""
        idx = self.ids if ids is None else np.asarray(ids, np.int64)
        return self._pos[idx].copy()

    def desired_speeds(self, ids: ArrayLike) -> NDArray[np.float64]:
        """Desired (free) walking speeds of people [m/s]."""
        return np.asarray(self._v0[np.asarray(ids, np.int64)], float).copy()

    def velocities(self, ids: ArrayLike | None = None) -> NDArray[np.float64]:
        """Velocities (k, 2) [m/s] of the last step (zero for people not walking)."""
        idx = self.ids if ids is None else np.asarray(ids, np.int64)
        return self._vel[idx].copy()

    def floors_of(self, ids: ArrayLike | None = None) -> list[str]:
        idx = self.ids if ids is None else np.asarray(ids, np.int64)
        return [self.navigator.floor_ids[f] for f in self._floor[idx]]

    def location(self, agent_id: int) -> tuple[str, float, float]:
        """(floor id, x, y) of one person [m]."""
        i = self._id(agent_id)
        return self.navigator.floor_ids[self._floor[i]], float(self._pos[i, 0]), float(self._pos[i, 1])

    def target_of(self, agent_id: int) -> Target | None:
        return self._targets[self._id(agent_id)]

    def reached(self, agent_id: int) -> str | None:
        """Label of the goal the person last arrived at (an exit id, a seat id...), or None."""
        return self._reached[self._id(agent_id)]

    def walkers_within(self, floor_id: str, x: float, y: float, r_m: float) -> int:
        """How many people walking on ``floor_id`` are closer than ``r_m`` to (x, y)."""
        n = self._n
        near = self._active[:n] & (self._floor[:n] == self.navigator.floor_index[floor_id])
        if not near.any():
            return 0
        d = self._pos[:n][near] - (x, y)
        return int(np.count_nonzero(d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1] < r_m * r_m))

    @property
    def passes(self) -> int:
        """How often anyone started walking through the others (rule 6; ``CSMParameters.pass_s``)."""
        return int(self._passes[: self._n].sum())

    def stuck_time_s(self, agent_id: int) -> float:
        """How long the person has walked without coming ``progress_m`` closer to their target [s]."""
        return max(float(self._stuck[self._id(agent_id)]), 0.0)

    def arrival_time_s(self, agent_id: int) -> float:
        """When the person last arrived [s] (NaN while walking or never)."""
        return float(self._arrival_s[self._id(agent_id)])

    def frame(self):  # type: ignore[no-untyped-def]
        """Everyone as a pandas DataFrame: id, floor, x, y, vx, vy [m, m/s], walking, target, reached."""
        import pandas as pd

        idx = self.ids
        return pd.DataFrame({
            "id": idx,
            "floor": [self.navigator.floor_ids[f] for f in self._floor[idx]],
            "x": self._pos[idx, 0], "y": self._pos[idx, 1],
            "vx": self._vel[idx, 0], "vy": self._vel[idx, 1],
            "walking": self._active[idx],
            "target": [None if self._targets[i] is None else f"{self._targets[i].kind}:{self._targets[i].ref}"
                       for i in idx],
            "reached": [self._reached[i] for i in idx],
        })


def periodic_corridor(length_m: float, width_m: float, *, cell_m: float = DEFAULT_CELL_M,
                      params: CSMParameters | None = None, dt_s: float = 0.01) -> tuple[Crowd, Target]:
    """A corridor of ``width_m`` periodic along x over ``length_m`` [m], and a target down it.

    Walls are along y = 0 and y = width; the desired direction is +x everywhere (no wall
    penalty: a uniform stream, as in fundamental-diagram experiments). People are placed with
    ``crowd.add_many("corridor", xy, target)`` for 0 <= x < length.
    """
    params = params or CSMParameters()
    ext = params.cutoff_m + 1.0
    walk = box(-ext, 0.0, length_m + ext, width_m)
    end = box(length_m + ext - 0.5, 0.0, length_m + ext, width_m)
    space = FloorSpace.from_polygons("corridor", walk, cell_m=cell_m, exits={"end": end})
    crowd = Crowd([space], params=params, dt_s=dt_s, periodic_x_m=length_m, wall_penalty=0.0)
    return crowd, Target.exits("corridor")
