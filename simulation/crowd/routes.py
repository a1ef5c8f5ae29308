"""Routes across floors: the one route type and the one planner over stairs and lifts.

Both routers of the project plan with this module: the :class:`~simulation.crowd.navigation.Navigator`
(travel-cost fields the crowd follows) and the place-level
:class:`~simulation.day.walker.GridRouter` (walking distances of a library day). Each gives the
floor distances; :class:`StopGraph` joins them over the stops of stairs and lifts and returns a
:class:`Route` of walk, stair and lift :class:`Leg` s.

Costs are metres of level walking: a stair counts its flight length times
``walk speed / stair speed``, a lift its ride (doors, travel and an optional expected wait) at the
reference walking speed :data:`REFERENCE_SPEED_M_S`. People who use lifts (prams, wheelchairs) take
a stair only when no lift goes there: for them a stair costs :data:`STAIR_PENALTY_LIFT_USERS` times
more. Routes on one floor are one walk whenever the target is reachable on that floor.

References
----------
Weidmann, U. (1993). Transporttechnik der Fussgaenger. ETH Zuerich, IVT Schriftenreihe 90
(free walking speed 1.34 m/s).
Fruin, J.J. (1971). Pedestrian Planning and Design. Metropolitan Association of Urban Designers
and Environmental Planners (speeds on stairs about half the level walking speed).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import shortest_path

from geometry.model import Link

F = NDArray[np.float64]
I64 = NDArray[np.int64]

#: Weidmann's free walking speed on the flat, the reference speed of route choice [m/s] (Weidmann 1993).
REFERENCE_SPEED_M_S = 1.34
#: Walking speed on stairs as a share of level walking speed, along the flight (Fruin 1971, typical).
STAIR_SPEED_RATIO = 0.5
#: Expected wait for a lift car counted when a library day chooses a route [s] (typical).
LIFT_WAIT_GUESS_S = 30.0
#: Lift users avoid stairs: a stair counts this many times its usual cost for them.
STAIR_PENALTY_LIFT_USERS = 10.0


class NoRouteError(ValueError):
    """No way from the start to the target (walls, blocked exits, missing stairs)."""


@dataclass(frozen=True)
class Leg:
    """One part of a route.

    ``walk``: on ``floor_id`` to ``target`` (``distance_m`` walked). ``stair``: the flight of
    ``link_id`` from ``floor_id`` to ``to_floor_id`` (``distance_m`` its length). ``lift``: a ride
    of ``link_id`` (``distance_m`` the rise, not walked). ``duration_s`` is the leg's time at the
    speeds the route was planned for, without queues.
    """

    kind: str
    floor_id: str
    to_floor_id: str
    distance_m: float = 0.0
    duration_s: float = 0.0
    link_id: str | None = None
    target: Hashable | None = None


@dataclass(frozen=True)
class Route:
    """Legs from a start to a target."""

    legs: tuple[Leg, ...]

    @property
    def distance_m(self) -> float:
        """Walked length, stairs included (lift rides are not walked) [m]."""
        return sum(leg.distance_m for leg in self.legs if leg.kind != "lift")

    @property
    def duration_s(self) -> float:
        """Time at the planned speeds, without queues [s]."""
        return sum(leg.duration_s for leg in self.legs)

    @property
    def floors(self) -> list[str]:
        """Floors walked on, in order."""
        return [leg.floor_id for leg in self.legs if leg.kind == "walk"]

    def time_s(self, walk_speed_m_s: float, ride_s: Callable[[Leg], float] | None = None) -> float:
        """Walking time at ``walk_speed_m_s`` [s]: stairs at :data:`STAIR_SPEED_RATIO` of it, lift legs
        ``ride_s(leg)`` (nothing when not given: waiting for and riding a lift are the queue's business)."""
        t = 0.0
        for leg in self.legs:
            if leg.kind == "walk":
                t += leg.distance_m / walk_speed_m_s
            elif leg.kind == "stair":
                t += leg.distance_m / (walk_speed_m_s * STAIR_SPEED_RATIO)
            else:
                t += float(ride_s(leg)) if ride_s is not None else 0.0
        return t


@dataclass(frozen=True)
class Stop:
    """Where a stair or lift stops on a floor [m]."""

    link_id: str
    floor_id: str
    zone_id: str
    x: float
    y: float


def lift_ride_s(link: Link, rise_m: float) -> float:
    """A lift ride without waiting: doors twice and the travel [s]."""
    return 2.0 * link.door_s + rise_m / max(link.speed_m_s, 1e-9)


class StopGraph:
    """The stops of stairs and lifts of a building and the cheapest way between any two of them.

    Parameters
    ----------
    links
        Stairs and lifts.
    elevation_m
        Floor id -> height [m] (for lift rides).
    walk_m
        ``walk_m(a, b)``: walking cost [m] between two stops on one floor (``inf`` when walls part them).
    floors
        Floors that exist (stops elsewhere are left out); all when not given.
    """

    def __init__(self, links: Sequence[Link], elevation_m: Mapping[str, float],
                 walk_m: Callable[[Stop, Stop], float], *, floors: Sequence[str] | None = None) -> None:
        keep = set(floors) if floors is not None else None
        self.links = {lk.id: lk for lk in links}
        self.elevation_m = dict(elevation_m)
        self.stops: list[Stop] = [Stop(lk.id, f, z, float(x), float(y)) for lk in links for f, z, x, y in lk.stops
                                  if keep is None or f in keep]
        self.index = {(s.link_id, s.floor_id): k for k, s in enumerate(self.stops)}
        self._walk_m = walk_m
        self._walk: F | None = None
        self._cost: dict[tuple[bool, float, float], tuple[F, I64]] = {}

    def on_floor(self, floor_id: str) -> list[int]:
        """Indices of the stops on a floor."""
        return [k for k, s in enumerate(self.stops) if s.floor_id == floor_id]

    def _walks(self) -> F:
        if self._walk is None:
            n = len(self.stops)
            w = np.full((n, n), np.inf)
            for i, a in enumerate(self.stops):
                for j, b in enumerate(self.stops):
                    if i != j and a.floor_id == b.floor_id:
                        w[i, j] = self._walk_m(a, b)
            self._walk = w
        return self._walk

    def link_cost_m(self, a: Stop, b: Stop, *, use_lifts: bool, stair_factor: float, lift_wait_s: float) -> float:
        """Cost of riding or climbing from stop ``a`` to stop ``b`` of the same link [m]; inf if not allowed."""
        lk = self.links[a.link_id]
        if lk.kind == "stair":
            return lk.length_m * stair_factor * (STAIR_PENALTY_LIFT_USERS if use_lifts else 1.0)
        if not use_lifts:
            return math.inf
        rise = abs(self.elevation_m[a.floor_id] - self.elevation_m[b.floor_id])
        return (lift_wait_s + lift_ride_s(lk, rise)) * REFERENCE_SPEED_M_S

    def costs(self, *, use_lifts: bool, stair_factor: float = 1.0 / STAIR_SPEED_RATIO,
              lift_wait_s: float = 0.0) -> tuple[F, I64]:
        """Cheapest cost between every two stops [m] and the predecessor matrix (cached)."""
        key = (use_lifts, round(stair_factor, 9), round(lift_wait_s, 9))
        got = self._cost.get(key)
        if got is not None:
            return got
        cost = self._walks().copy()
        for i, a in enumerate(self.stops):
            for j, b in enumerate(self.stops):
                if i != j and a.link_id == b.link_id and a.floor_id != b.floor_id:
                    cost[i, j] = self.link_cost_m(a, b, use_lifts=use_lifts, stair_factor=stair_factor,
                                                  lift_wait_s=lift_wait_s)
        dense = np.where(np.isfinite(cost), np.maximum(cost, 1e-6), 0.0)
        dist, pred = shortest_path(csr_matrix(dense), directed=True, return_predecessors=True)
        got = (np.asarray(dist, float), np.asarray(pred, np.int64))
        self._cost[key] = got
        return got

    def plan(self, start_floor: str, to_stops: F, goal_floor: str, from_stops: F, direct_m: float, *,
             use_lifts: bool, walk_speed_m_s: float = REFERENCE_SPEED_M_S,
             stair_speed_m_s: float | None = None, lift_wait_s: float = 0.0, goal: Hashable | None = None,
             stop_target: Callable[[Stop], Hashable] | None = None, what: str = "the target") -> Route:
        """The cheapest route from a start to a goal.

        Parameters
        ----------
        start_floor, goal_floor
            Floors of the start and of the goal.
        to_stops
            Walking cost [m] from the start to each stop on ``start_floor`` (in :meth:`on_floor` order).
        from_stops
            Walking cost [m] from each stop on ``goal_floor`` to the goal.
        direct_m
            Walking cost on one floor [m] (``inf`` when on different floors or parted by walls).
        walk_speed_m_s, stair_speed_m_s
            Speeds for the legs' durations (stairs: :data:`STAIR_SPEED_RATIO` of walking when not
            given); their ratio also weighs stairs against walking.
        lift_wait_s
            Expected wait for a lift car counted in the choice [s] (not in the leg's duration).
        goal, stop_target
            Targets put on the walk legs (the goal; a stop's target).

        Raises
        ------
        NoRouteError
            When no way leads to the goal.
        """
        stair_speed = stair_speed_m_s if stair_speed_m_s is not None else walk_speed_m_s * STAIR_SPEED_RATIO
        if start_floor == goal_floor and math.isfinite(direct_m):
            return Route((Leg("walk", start_floor, start_floor, direct_m, direct_m / walk_speed_m_s, None, goal),))
        ia = np.array(self.on_floor(start_floor), np.int64)
        ib = np.array(self.on_floor(goal_floor), np.int64)
        if ia.size == 0 or ib.size == 0:
            raise NoRouteError(f"no way from floor '{start_floor}' to {what} on floor '{goal_floor}'")
        factor = walk_speed_m_s / stair_speed
        dist, pred = self.costs(use_lifts=use_lifts, stair_factor=factor, lift_wait_s=lift_wait_s)
        tot = np.asarray(to_stops, float)[:, None] + dist[np.ix_(ia, ib)] + np.asarray(from_stops, float)[None, :]
        k = int(np.argmin(tot))
        if not math.isfinite(float(tot.flat[k])):
            raise NoRouteError(f"no way from floor '{start_floor}' to {what} on floor '{goal_floor}'")
        s, t = int(ia[k // ib.size]), int(ib[k % ib.size])
        path = [t]
        while path[-1] != s:
            path.append(int(pred[s, path[-1]]))
        path.reverse()

        def target_of(st: Stop) -> Hashable | None:
            return stop_target(st) if stop_target is not None else None

        d0 = float(to_stops[k // ib.size])
        legs = [Leg("walk", start_floor, start_floor, d0, d0 / walk_speed_m_s, None, target_of(self.stops[s]))]
        walks = self._walks()
        for u, v in itertools.pairwise(path):
            su, sv = self.stops[u], self.stops[v]
            if su.floor_id == sv.floor_id:
                d = float(walks[u, v])
                legs.append(Leg("walk", su.floor_id, su.floor_id, d, d / walk_speed_m_s, None, target_of(sv)))
                continue
            lk = self.links[su.link_id]
            if lk.kind == "stair":
                legs.append(Leg("stair", su.floor_id, sv.floor_id, lk.length_m, lk.length_m / stair_speed, lk.id))
            else:
                rise = abs(self.elevation_m[su.floor_id] - self.elevation_m[sv.floor_id])
                legs.append(Leg("lift", su.floor_id, sv.floor_id, rise, lift_ride_s(lk, rise), lk.id))
        d1 = float(from_stops[k % ib.size])
        legs.append(Leg("walk", goal_floor, goal_floor, d1, d1 / walk_speed_m_s, None, goal))
        # a walk of nothing (starting on a landing) is no leg
        return Route(tuple(leg for leg in legs if not (leg.kind == "walk" and leg.distance_m == 0.0)) or
                     (legs[-1],))
