"""The crowd walker: readers of a library day walk in the crowd kernel (phase 2 of the Walker protocol).

:class:`CrowdWalker` implements :class:`~simulation.day.walker.Walker` with one
:class:`~simulation.crowd.movement.Crowd` for the whole building. A walk is planned with
``crowd.navigator.route``: walk legs are ``Crowd.add`` / ``Crowd.set_target`` (every member of a
party is a walker of its own, each to their own seat at a table), stair legs are a delay of the
flight's length at stair speed and then ``Crowd.place`` on the landing of the other floor, lift
legs queue for and ride the day's SimPy lifts.

One SimPy process (:meth:`CrowdWalker._run`) owns the movement, as in the engine loop of the
design: while anyone walks it calls :meth:`Crowd.advance` up to the time of the next scheduled
SimPy event (``env.peek()``), returning early at the first arrival, yields a timeout for the time
advanced and succeeds the arrival events of those who arrived; while nobody walks it sleeps on a
"walker added" event. Python runs once per SimPy event or arrival, never once per time step, and
seated readers (idle in the crowd) cost nothing.

Use it through :func:`walker_factory` or ``run_day(..., walker="crowd")``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import simpy

from ..crowd.movement import Crowd, CSMParameters
from ..crowd.navigation import POINT_RADIUS_M, Target
from ..crowd.routes import LIFT_WAIT_GUESS_S, STAIR_SPEED_RATIO, NoRouteError, Route
from ..crowd.trajectories import TrajectoryRecorder
from .walker import GridRouter, GridWalker, Place, Walker, WalkerContext, WalkResult

XY = tuple[float, float]

#: Time step of the crowd in a library day [s]. Readers mostly walk alone or in small parties, so
#: a step of 0.05 s (five times JuPedSim's 0.01 s) keeps the speed model stable (time gap 0.7 s)
#: and makes a day five times cheaper.
DAY_DT_S = 0.05
#: Someone who has not come closer to their target for this long walks through the others (rule 6
#: of :mod:`simulation.crowd.kernels.csm`) [s]: two readers wedged face to face in a 1 m aisle or
#: door slip past each other instead of standing there until the watchdog puts them at their target.
DAY_PASS_S = 10.0
#: A walker whose walk leg is still unfinished after ``WATCHDOG_FACTOR`` x its free-walking time
#: plus ``WATCHDOG_EXTRA_S`` ...
WATCHDOG_FACTOR = 4.0
WATCHDOG_EXTRA_S = 120.0
#: ... and has not come 0.25 m closer to its target for this long [s] (a walker in a moving queue is
#: late but not stuck, and is left to walk on; checked again every half of this).
STUCK_S = 60.0
#: Members of a party set off this long one after another [s] (single file through a door).
PARTY_GAP_S = 1.0
#: Room a point target needs around it to be reachable by a body (radius 0.2 m) [m], measured
#: from the cell centre to the nearest blocked cell centre.
CLEAR_M = 0.5
#: Offsets [m] at which the members of a party start around their place (leader first).
#: Someone about to set off closer than this to a walker steps aside first [m] (two radii and a bit).
CLEAR_M = 0.45
PARTY_OFFSETS_M: tuple[XY, ...] = ((0.0, 0.0), (0.55, 0.0), (-0.55, 0.0), (0.0, 0.55), (0.0, -0.55),
                                   (0.55, 0.55), (-0.55, 0.55), (0.55, -0.55), (-0.55, -0.55))


class CrowdWalker:
    """Readers walk in the crowd kernel; one SimPy process moves everyone walking.

    Parameters
    ----------
    env
        The SimPy environment (its clock and the crowd's run together from ``env.now``).
    crowd
        The crowd over the building's floors.
    router
        Grid router of the day: the reported ``distance_m`` of a walk is its shortest path on the
        walkable grid (as with :class:`~simulation.day.walker.GridWalker`, so walking
        distances compare across walkers); the time is the crowd's.
    lifts
        Link id -> :class:`~simulation.day.services.Lift` (SimPy resources ridden on lift legs).
    seat_ids
        Seat index -> seat id, so that members of a party walk to their own seats
        (``member.seat``) when the party walks to a seat.
    max_chunk_s
        Longest single :meth:`Crowd.advance` when no SimPy event is scheduled [s].
    parallel_from
        The kernel runs on all threads only when at least this many people walk (see
        :meth:`_advance`).
    recorder
        Keeps the positions of everyone walking every few seconds of a time window (the crowd
        stops at each of its frame times).

    Attributes
    ----------
    stats
        ``walks``, ``legs``, ``advances`` (calls of the kernel), ``rescued`` (walkers put at their
        target by the watchdog), ``passes`` (how often someone started walking through the others,
        rule 6 of the kernel), ``stepped_aside`` (people who set off from a spot a walker stood on,
        :meth:`_step_aside`), ``stairs``, ``lift_rides``, ``agent_steps``.
    """

    def __init__(self, env: simpy.Environment, crowd: Crowd, *, router: GridRouter | None = None,
                 lifts: Mapping[str, Any] | None = None, seat_ids: Sequence[str] = (),
                 max_chunk_s: float = 600.0, parallel_from: int = 256,
                 recorder: TrajectoryRecorder | None = None) -> None:
        if not max_chunk_s > 0:
            raise ValueError(f"max_chunk_s must be positive, got {max_chunk_s}")
        self.env = env
        self.crowd = crowd
        self.nav = crowd.navigator
        self.router = router
        self.lifts = dict(lifts or {})
        self.seat_ids = list(seat_ids)
        self.max_chunk_s = float(max_chunk_s)
        self.parallel_from = int(parallel_from)
        self.recorder = recorder
        # a parallel region per time step costs far more than moving a handful of readers, and a
        # library day mostly has a few walkers at a time: one thread below ``parallel_from``
        crowd.parallel_min_walkers = self.parallel_from
        self._crowd_id: dict[int, int] = {}  # member unique_id -> crowd id
        self._waiting: dict[int, simpy.Event] = {}  # crowd id -> its arrival event
        # crowd id -> [next check time, target, fallback xy] of each walker under the watchdog
        self._watch: dict[int, list[Any]] = {}
        self._check_s = math.inf  # the earliest check time of _watch, when not _check_dirty
        self._check_dirty = False
        self._wake: simpy.Event | None = None
        self._targets: dict[tuple[Place, int], Target] = {}
        self._points: dict[Place, XY] = {}
        #: (time [s], floor, x [m], y [m], target) of each walker the watchdog put at its target.
        self.rescues: list[tuple[float, str, float, float, Target]] = []
        self.stats = {"walks": 0, "legs": 0, "advances": 0, "rescued": 0, "stairs": 0, "lift_rides": 0,
                      "agent_steps": 0, "passes": 0, "stepped_aside": 0}
        self.process = env.process(self._run())

    @classmethod
    def for_day(cls, ctx: WalkerContext, *, dt_s: float = DAY_DT_S, max_fields: int = 512,
                recorder: TrajectoryRecorder | None = None) -> CrowdWalker:
        """The crowd walker of a library day (its building, grid cell, lifts, seats; seed = the day's seed)."""
        crowd = Crowd.from_building(ctx.building, cell_m=ctx.router.cell_m, dt_s=dt_s, seed=ctx.seed,
                                    max_fields=max_fields, params=CSMParameters(pass_s=DAY_PASS_S))
        return cls(ctx.env, crowd, router=ctx.router, lifts=ctx.lifts, seat_ids=ctx.seat_ids, recorder=recorder)

    # ------------------------------------------------------------------ targets
    def _snap(self, floor_id: str, x: float, y: float, max_m: float = 3.0, clear_m: float = 0.0) -> XY:
        """The nearest point to (x, y) with ``clear_m`` of room around it [m].

        The point itself when its cell is walkable and clear; else the centre of the nearest walkable
        cell at least ``clear_m`` from anything blocked (within ``max_m``), else of the nearest
        walkable cell. Points tucked into a corner beside a kiosk or along a shelf are not reachable
        for a body of 0.2 m radius, so desks and shelves are approached from where there is room.
        """
        sp = self.nav.spaces[floor_id]
        g = sp.grid
        i, j = g.cell_of(x, y)
        if g.inside(i, j) and g.walkable[i, j] and sp.clearance_m[i, j] >= clear_m:
            return (x, y)
        if clear_m > 0:
            i0, j0 = g.cell_of(x - max_m, y - max_m)
            i1, j1 = g.cell_of(x + max_m, y + max_m)
            i0, j0 = max(i0, 0), max(j0, 0)
            i1, j1 = min(i1 + 1, g.shape[0]), min(j1 + 1, g.shape[1])
            jj, ii = np.meshgrid(np.arange(j0, j1), np.arange(i0, i1))
            gx, gy = g.x0 + (jj + 0.5) * g.cell_m, g.y0 + (ii + 0.5) * g.cell_m
            d = np.hypot(gx - x, gy - y)
            ok = g.walkable[i0:i1, j0:j1] & (sp.clearance_m[i0:i1, j0:j1] >= clear_m) & (d <= max_m)
            if ok.any():
                k = int(np.argmin(np.where(ok, d, np.inf)))
                return float(gx.flat[k]), float(gy.flat[k])
        c = g.nearest_walkable(x, y, max_m)
        if c is None:
            raise NoRouteError(f"({x:.2f}, {y:.2f}) on floor '{floor_id}' is not within {max_m} m of a walkable cell")
        return g.center(*c)

    def target(self, place: Place, party_size: int = 1) -> Target:
        """The navigation target of a place (cached): seat, point, zone, opening, stop.

        Point-like places (desks, kiosks) are reached within a radius that grows with the party, so
        a party does not have to squeeze into one spot; the shelves of a subject on entering an
        aisle beside any of them (as the grid walker counts them), so browsers stop at the first
        shelf of their subject instead of pushing deep into a 1 m aisle against those leaving it.
        """
        key = (place, party_size if place.kind in ("service", "point") else 1)
        got = self._targets.get(key)
        if got is not None:
            return got
        radius = POINT_RADIUS_M + 0.3 * math.sqrt(max(key[1], 1) - 1)
        if place.kind == "seat":
            t = Target.seat(place.floor_id, place.ref)
        elif place.kind == "zone":
            t = Target.zone(place.floor_id, place.ref)
        elif place.kind == "entrance":
            t = Target.opening(place.floor_id, place.ref)
        elif place.kind == "stop":
            t = Target.stop(place.floor_id, place.ref)
        elif place.kind == "subject":  # any aisle cell beside the subject's shelves, as on the grid
            t = Target.shelves(place.floor_id, place.ref)
        else:  # service, point
            xy = self._points.get(place)
            if xy is None:
                xy = self._points[place] = self._snap(place.floor_id, place.x, place.y, clear_m=CLEAR_M)
            t = Target.point(place.floor_id, *xy, radius_m=radius)
        self._targets[key] = t
        return t

    def _target_xy(self, target: Target, fallback: XY) -> XY:
        """Where someone put at ``target`` by the watchdog stands [m]."""
        if target.kind == "point":
            return float(target.ref[0]), float(target.ref[1])  # type: ignore[arg-type]
        if target.kind == "stop":
            return self.nav.stop_xy(str(target.ref[0]), target.floor_id)
        if target.kind == "shelves":
            g = self.nav.spaces[target.floor_id].grid
            return g.center(*divmod(int(self.nav.goals(target)[0].cells[0]), g.shape[1]))
        if target.kind == "seat" and self.nav.building is not None:
            s = next((s for s in self.nav.building.floor(target.floor_id).seats if s.id == target.ref[0]), None)
            if s is not None:
                return (s.x, s.y)
        return fallback

    # ------------------------------------------------------------------ the walk
    def walk(self, agent: Any, floor_id: str, from_xy: XY, to: Place) -> simpy.Event:
        """A SimPy process that ends when every member of ``agent`` is at ``to``; value: :class:`WalkResult`.

        ``agent`` is a party (``members``, ``speed_m_s``, ``use_lifts``) or a single agent with a
        ``unique_id`` and ``speed_m_s``.
        """
        members = list(getattr(agent, "members", None) or [agent])
        speed = float(agent.speed_m_s)
        use_lifts = bool(getattr(agent, "use_lifts", False)) and bool(self.lifts)
        return self.env.process(self._go(members, speed, use_lifts, floor_id, from_xy, to))

    def _go(self, members: Sequence[Any], speed: float, use_lifts: bool, floor_id: str, from_xy: XY,
            to: Place) -> Generator[simpy.Event, Any, WalkResult]:
        env, crowd, nav = self.env, self.crowd, self.nav
        t0 = env.now
        self.stats["walks"] += 1
        self._sync()
        target = self.target(to, len(members))
        lead = self._crowd_id.get(members[0].unique_id)
        if lead is not None and crowd.location(lead)[0] == floor_id:
            _, lx, ly = crowd.location(lead)
        else:
            lx, ly = self._snap(floor_id, *from_xy)
        try:
            nav_route = nav.route(floor_id, lx, ly, target, walk_speed_m_s=speed,
                                  stair_speed_m_s=speed * STAIR_SPEED_RATIO, use_lifts=use_lifts,
                                  lift_wait_s=LIFT_WAIT_GUESS_S)
        except NoRouteError:
            # the leader stands where the raster has no way on (squeezed against a wall): plan from the place
            if lead is not None:
                crowd.place(lead, floor_id, *self._snap(floor_id, *from_xy))
            nav_route = nav.route(floor_id, *self._snap(floor_id, *from_xy), target, walk_speed_m_s=speed,
                                  stair_speed_m_s=speed * STAIR_SPEED_RATIO, use_lifts=use_lifts,
                                  lift_wait_s=LIFT_WAIT_GUESS_S)
        head = nav_route.legs[0].target if nav_route.legs and nav_route.legs[0].kind == "walk" else None
        first = head if isinstance(head, Target) else None
        ids = self._ensure(members, floor_id, from_xy, first)
        legs = nav_route.legs
        for k, leg in enumerate(legs):
            self.stats["legs"] += 1
            if leg.kind == "walk":
                assert isinstance(leg.target, Target)
                last = k == len(legs) - 1
                per_member = self._member_targets(members, to, leg.target) if last else [leg.target] * len(ids)
                yield from self._walk_leg(ids, per_member, speed, leg.duration_s, to.xy)
            else:
                assert leg.link_id is not None and leg.to_floor_id is not None
                for i in ids:
                    crowd.stop(i)
                lift = self.lifts.get(leg.link_id) if leg.kind == "lift" else None
                if lift is not None:
                    self.stats["lift_rides"] += 1
                    yield from lift.ride(leg.floor_id, leg.to_floor_id)
                else:
                    self.stats["stairs"] += 1
                    yield env.timeout(leg.duration_s)
                self._sync()
                self._put(ids, leg.to_floor_id, nav.stop_xy(leg.link_id, leg.to_floor_id))
        if to.kind == "entrance":  # out through the door: leave the crowd (a new visit starts anew)
            for m, i in zip(members, ids, strict=True):
                crowd.remove(i)
                del self._crowd_id[m.unique_id]
        else:
            for i in ids:
                crowd.stop(i)
        route = self._grid_route(floor_id, from_xy, to, use_lifts, nav_route)
        return WalkResult(route.distance_m, env.now - t0, route)

    def _member_targets(self, members: Sequence[Any], to: Place, target: Target) -> list[Target]:
        """Each member's target on the last leg: their own seat when the party goes to a seat."""
        out = []
        for m in members:
            seat = getattr(m, "seat", -1)
            if to.kind == "seat" and isinstance(seat, (int, np.integer)) and 0 <= seat < len(self.seat_ids):
                out.append(Target.seat(to.floor_id, self.seat_ids[seat]))
            else:
                out.append(target)
        return out

    def _grid_route(self, floor_id: str, from_xy: XY, to: Place, use_lifts: bool, nav_route: Route) -> Route:
        """The walk's route on the day's grid (its length is the reported distance), else the crowd's."""
        if self.router is not None:
            try:
                return self.router.route(self.router.place_at(floor_id, from_xy), to, use_lifts=use_lifts)
            except NoRouteError:
                pass
        return nav_route

    def _ensure(self, members: Sequence[Any], floor_id: str, from_xy: XY, first: Target | None) -> list[int]:
        """Crowd ids of the members, standing where they are (added around ``from_xy`` when new).

        New members are added heading for ``first`` (the first leg's target: a field needed anyway).
        """
        ids: list[int] = []
        new: list[Any] = []
        for m in members:
            i = self._crowd_id.get(m.unique_id)
            if i is not None and self.crowd.location(i)[0] == floor_id:
                ids.append(i)
            else:
                if i is not None:
                    self.crowd.remove(i)
                    del self._crowd_id[m.unique_id]
                new.append(m)
                ids.append(-1)
        if new:
            spots = self._spots(floor_id, from_xy, len(members))
            anchor = first if first is not None else Target.point(floor_id, *spots[0])
            for k, m in enumerate(members):
                if ids[k] < 0:
                    try:
                        i = self.crowd.add(floor_id, *spots[k], anchor)
                    except NoRouteError:  # a spot beside the leader's cut off from the target: start at the leader's
                        i = self.crowd.add(floor_id, *spots[0], anchor)
                    self.crowd.stop(i)
                    self._crowd_id[m.unique_id] = i
                    ids[k] = i
        return ids

    def _spots(self, floor_id: str, xy: XY, n: int) -> list[XY]:
        """``n`` walkable starting points around ``xy`` (the first at ``xy``, snapped) [m]."""
        g = self.nav.spaces[floor_id].grid
        base = self._snap(floor_id, *xy)
        out = [base]
        for dx, dy in PARTY_OFFSETS_M[1:]:
            if len(out) == n:
                break
            x, y = base[0] + dx, base[1] + dy
            i, j = g.cell_of(x, y)
            if g.inside(i, j) and g.walkable[i, j]:
                out.append((x, y))
        while len(out) < n:
            out.append(out[len(out) % max(len(out), 1)])
        return out

    def _put(self, ids: Iterable[int], floor_id: str, xy: XY) -> None:
        """Put walkers around ``xy`` on a floor (off a stair or lift), idle."""
        ids = list(ids)
        for i, spot in zip(ids, self._spots(floor_id, xy, len(ids)), strict=True):
            self.crowd.place(i, floor_id, *spot)

    def _step_aside(self, i: int) -> None:
        """Before someone sets off: if a walker stands on them (closer than ``CLEAR_M``), they step to
        the nearest spot of ``PARTY_OFFSETS_M`` (and twice as far) clear of walkers and walls.

        Readers who arrived at a room stand where they entered it, so at closing time several can set
        off from one point, and two bodies on one point have no direction to part in.
        """
        if self.crowd.is_walking(i):
            return  # already on the way
        floor_id, x, y = self.crowd.location(i)

        def clear(px: float, py: float) -> bool:
            return self.crowd.walkers_within(floor_id, px, py, CLEAR_M) == 0

        if clear(x, y):
            return
        sp = self.nav.spaces[floor_id]
        g = sp.grid
        for scale in (1.0, 2.0):
            for dx, dy in PARTY_OFFSETS_M[1:]:
                px, py = x + scale * dx, y + scale * dy
                ci, cj = g.cell_of(px, py)
                if g.inside(ci, cj) and g.walkable[ci, cj] and sp.clearance_m[ci, cj] >= CLEAR_M and clear(px, py):
                    self.crowd.place(i, floor_id, px, py)
                    self.stats["stepped_aside"] += 1
                    return

    def _start(self, i: int, t: Target, speed: float, fallback: XY, ev: simpy.Event, wait_s: float) -> bool:
        """Send walker ``i`` to ``t``; ``ev`` fires on arrival. False when they had to be put there.

        They step aside first when a walker stands on them (:meth:`_step_aside`). The watchdog looks
        at them first ``wait_s`` from now.
        """
        self._step_aside(i)
        try:
            self.crowd.set_target(i, t, speed)
        except NoRouteError:  # squeezed where the raster has no way on: step to a walkable cell first
            fl, x, y = self.crowd.location(i)
            self.crowd.place(i, fl, *self._snap(fl, x, y, clear_m=CLEAR_M))
            try:
                self.crowd.set_target(i, t, speed)
            except NoRouteError:  # still no way: put them there (counted as rescued)
                self.crowd.place(i, t.floor_id, *self._target_xy(t, fallback))
                self.stats["rescued"] += 1
                return False
        self._waiting[i] = ev
        self._check_dirty |= i in self._watch  # replacing an entry may move the earliest check later
        self._watch[i] = [self.env.now + wait_s, t, fallback]
        self._check_s = min(self._check_s, self.env.now + wait_s)
        if self._wake is not None and not self._wake.triggered:
            self._wake.succeed()
        return True

    def _start_later(self, delay_s: float, i: int, t: Target, speed: float, fallback: XY,
                     ev: simpy.Event, wait_s: float) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(delay_s)
        self._sync()
        if not self._start(i, t, speed, fallback, ev, wait_s):
            ev.succeed()

    def _walk_leg(self, ids: Sequence[int], targets: Sequence[Target], speed: float, free_s: float,
                  fallback: XY) -> Generator[simpy.Event, Any, None]:
        """Send the walkers to their targets and wait for all of them (see :meth:`_check_stuck`).

        The members of a party set off ``PARTY_GAP_S`` apart, in single file, as a group leaves a room:
        five people reaching a 1 m door at the same instant wedge in its frame for good.
        """
        env = self.env
        wait = WATCHDOG_FACTOR * free_s + WATCHDOG_EXTRA_S
        events = []
        for k, (i, t) in enumerate(zip(ids, targets, strict=True)):
            ev = env.event()
            if k == 0:
                if not self._start(i, t, speed, fallback, ev, wait):
                    continue
            else:
                env.process(self._start_later(k * PARTY_GAP_S, i, t, speed, fallback, ev, wait))
            events.append(ev)
        yield env.all_of(events)

    # ------------------------------------------------------------------ the crowd process
    def _sync(self) -> None:
        """Bring an idle crowd's clock to ``env.now`` (free when nobody walks)."""
        if not self._waiting and self.crowd.time_s < self.env.now:
            self.crowd.advance(self.env.now)

    def _advance(self, until_s: float) -> tuple[float, list[int]]:
        """One kernel call (the crowd runs its one-thread build unless ``parallel_from`` people walk)."""
        self.stats["advances"] += 1
        try:
            return self.crowd.advance(until_s, stop_on_arrival=True)
        finally:
            self.stats["agent_steps"] = self.crowd.agent_steps
            self.stats["passes"] = self.crowd.passes

    def _check_stuck(self) -> None:
        """The watchdog: put walkers whose walk is late and who are stuck at their target.

        A walker still walking ``WATCHDOG_FACTOR`` x the leg's free walking time plus
        ``WATCHDOG_EXTRA_S`` after setting off, and who has not come closer to the target for
        ``STUCK_S``, is put there (counted in ``rescued``, listed in :attr:`rescues`); one late but
        still getting closer (a queue at a gate at closing time) is looked at again ``STUCK_S / 2``
        later. The crowd process calls this at the check times (it stops there), so a walk leaves no
        event of its own in SimPy's queue: the crowd stops only at events of the day.
        """
        env = self.env
        for i, w in list(self._watch.items()):
            if w[0] > env.now:
                continue
            ev = self._waiting.get(i)
            if ev is None or ev.triggered:
                del self._watch[i]
            elif self.crowd.stuck_time_s(i) >= STUCK_S:
                del self._watch[i]
                del self._waiting[i]
                self.rescues.append((env.now, *self.crowd.location(i), w[1]))
                self.crowd.place(i, w[1].floor_id, *self._target_xy(w[1], w[2]))
                self.stats["rescued"] += 1
                ev.succeed()
            else:
                w[0] = env.now + STUCK_S / 2
        self._check_dirty = True

    def _next_check_s(self) -> float:
        """The earliest check time of the walkers under the watchdog (inf for none)."""
        if self._check_dirty:
            self._check_s = min((w[0] for w in self._watch.values()), default=math.inf)
            self._check_dirty = False
        return self._check_s

    def _run(self) -> Generator[simpy.Event, Any, None]:
        """The one crowd process: advance everyone walking up to the next SimPy event or first arrival."""
        env, crowd = self.env, self.crowd
        while True:
            if not self._waiting:
                self._wake = env.event()
                yield self._wake
                self._wake = None
                continue
            nxt = env.peek()
            if nxt <= env.now:  # let everything due now happen first (it may add walkers)
                yield env.timeout(0.0)
                continue
            check = self._next_check_s()
            if check <= env.now:
                self._check_stuck()
                continue
            until = min(nxt, env.now + self.max_chunk_s, check)
            if self.recorder is not None and env.now < self.recorder.next_s() < until:
                until = self.recorder.next_s()  # stop at the frame time to record it
            if crowd.time_s < until:
                t_s, arrived = self._advance(until)
            else:  # the crowd is already there (it stops on whole steps)
                t_s, arrived = crowd.time_s, []
            # always move the clock on: the next event may be a rounding error later than now, too
            # close for a whole step (advance then takes none), and a loop without a yield never ends
            yield env.timeout(max((t_s if arrived else max(t_s, until)) - env.now, 0.0))
            if self.recorder is not None:
                self.recorder.record(crowd)
            for i in arrived:
                if self._watch.pop(i, None) is not None:
                    self._check_dirty = True
                ev = self._waiting.pop(i, None)
                if ev is not None and not ev.triggered:
                    ev.succeed()


WALKERS: tuple[str, ...] = ("grid", "crowd")


def walker_factory(name: str, *, recorder: TrajectoryRecorder | None = None) -> Callable[[WalkerContext], Walker]:
    """The walker factory for ``run_day(walker=...)`` by name: ``grid`` (shortest path / speed) or ``crowd``.

    ``recorder`` keeps trajectories of a time window (crowd walker only).

    Raises
    ------
    ValueError
        For an unknown name, or trajectories asked of the grid walker.
    """
    if name == "grid":
        if recorder is not None:
            raise ValueError("trajectories need the crowd walker (the grid walker has no positions)")
        return GridWalker.for_day
    if name == "crowd":
        if recorder is not None:
            return functools.partial(CrowdWalker.for_day, recorder=recorder)
        return CrowdWalker.for_day
    raise ValueError(f"unknown walker '{name}' (walkers: {', '.join(WALKERS)})")
