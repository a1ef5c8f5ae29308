"""Services of a library day: staffed desks, kiosks, cafes, group rooms and lifts (SimPy), and staff (Mesa).

The scenario's ``services`` and ``staff`` sections are described by their models in
:mod:`geometry.scenario.services` (with an example of each).

A shift is ``HH:MM-HH:MM`` (several, comma-separated, for a split shift) or ``early``, ``late``,
``all``: the first half (plus 15 min before opening and a 15 min overlap), the second half (to
15 min after closing) or the whole of the day's opening hours.

A staffed desk is a SimPy :class:`~simpy.resources.resource.PriorityResource` with one slot per
desk position; a position without staff is held by a high-priority "closed" request, so opening
and closing positions as staff come and go changes the capacity without interrupting anyone
being served (a leaving clerk finishes the current reader first).

Service-time defaults are typical, estimated: a circulation-desk transaction about 2 min, a
reference question about 4 min, a self-service loan about 75 s, a return-kiosk drop about 30 s,
a cafe order about 90 s.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import mesa
import numpy as np
import simpy
from shapely.geometry import Point

from geometry.errors import Problem
from geometry.model import Building, Link
from geometry.scenario import ResolvedScenario, merge
from geometry.scenario.demand import Distribution
from geometry.scenario.hours import OpeningHours, weekdays_in
from geometry.scenario.services import (
    CafeSpec,
    DeskSpec,
    GroupRoomSpec,
    KioskSpec,
    ServicesSpec,
    ShelvingSpec,
    StaffMemberSpec,
    StaffSpec,
    Task,
    lognormal_s,
)
from geometry.scenario.types import clock_s

from .ledger import Integrator
from .queueing import erlang_b, erlang_c, erlang_c_wait  # noqa: F401  (the formulas live in queueing.py)
from .spec import given, raise_problems, section_problem, validate_section

__all__ = ["CafeSpec", "DeskSpec", "GroupRoomSpec", "KioskSpec", "ServiceLayout", "ServicePoint", "ServicesSpec",
           "ShelvingSpec", "StaffMemberSpec", "StaffSpec", "Task", "load_services", "load_staff", "service_layout"]
XY = tuple[float, float]

#: Largest group-study zone that counts as a bookable room by default [m2] (typical rooms 10-40 m2).
GROUP_ROOM_MAX_M2 = 60.0
#: Floor area per person of a group room without seats [m2] (typical meeting-room density).
GROUP_ROOM_M2_PER_PERSON = 2.5
#: Cafe floor area per server at the counter [m2] (typical).
CAFE_M2_PER_SERVER = 100.0


# --------------------------------------------------------------------------- scenario format

DEFAULT_SERVICES: dict[str, dict[str, Any]] = {
    "central": {"opening_hours": "Mo-Su 09:00-21:00"},
    "district": {"opening_hours": "Tu-Su 09:00-20:00"},
    "service_point": {"opening_hours": "Mo-Su 08:00-22:00"},
}
#: Clerks per shift at the main desk and at other desks, and shelvers, per branch kind (typical).
DEFAULT_STAFFING: dict[str, tuple[int, int, int]] = {"central": (2, 1, 2), "district": (1, 1, 1),
                                                     "service_point": (0, 0, 0)}


def load_services(resolved: ResolvedScenario) -> ServicesSpec:
    """The scenario's ``services`` section over the defaults of its branch kind, validated."""
    raw = merge(DEFAULT_SERVICES[resolved.scenario.branch.kind], given(resolved.scenario.services))
    return validate_section(ServicesSpec, raw, section="services", resolved=resolved)


# --------------------------------------------------------------------------- resolved services

@dataclass(frozen=True)
class ServicePoint:
    """Where a service is: id, kind (desk, kiosk, cafe), floor, zone and the reader's spot [m]."""

    id: str
    kind: str
    floor_id: str
    zone_id: str
    xy: XY
    tasks: tuple[str, ...]
    service: dict[str, Distribution] = field(default_factory=dict, compare=False)
    servers: int = 1


@dataclass(frozen=True)
class GroupRoomPoint:
    zone_id: str
    floor_id: str
    capacity: int
    max_booking_s: float
    seat_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServiceLayout:
    """Every service point of a building (from the scenario, or derived from its furniture)."""

    desks: tuple[ServicePoint, ...]
    kiosks: tuple[ServicePoint, ...]
    cafes: tuple[ServicePoint, ...]
    group_rooms: tuple[GroupRoomPoint, ...]


def _obstacle(building: Building, oid: str) -> tuple[str, Any] | None:
    for f in building.floors:
        for o in f.obstacles:
            if o.id == oid:
                return f.id, o
    return None


def _zone_of(building: Building, floor_id: str, xy: XY) -> str | None:
    z = building.floor(floor_id).zone_at(*xy)
    if z is None:  # a counter on a zone edge: the nearest zone
        p = Point(xy)
        zones = building.floor(floor_id).zones
        return min(zones, key=lambda zz: zz.polygon.distance(p)).id if zones else None
    return z.id


def service_layout(spec: ServicesSpec, building: Building, resolved: ResolvedScenario | None = None) -> ServiceLayout:
    """Resolve the services against the building (defaults from counters, kiosks, cafes, rooms).

    Raises
    ------
    geometry.errors.ScenarioError
        Listing every service that names a floor, zone or obstacle the building does not have.
    """
    zone_kind = {z.id: z.kind for z in building.zones}
    zone_floor = {z.id: z.floor_id for z in building.zones}
    problems: list[Problem] = []

    class _MisplacedError(Exception):
        pass

    def scenario_problem(_: object, loc: tuple[str | int, ...], message: str) -> _MisplacedError:
        problems.append(section_problem(resolved, loc, message))
        return _MisplacedError()

    def place(kind: str, i: int, sid: str, floor: str | None, zone: str | None,
              at: tuple[float, float] | None) -> tuple[str, str, XY]:
        loc = ("services", kind, i)
        found = _obstacle(building, sid)
        if floor is None:
            if found is not None:
                floor = found[0]
            elif zone is not None and zone in zone_floor:
                floor = zone_floor[zone]
            else:
                raise scenario_problem(resolved, loc, f"{kind[:-1]} '{sid}': give 'floor' and 'at' (or 'zone'), "
                                                      f"or use the id of a counter or kiosk in the building")
        if floor not in {f.id for f in building.floors}:
            raise scenario_problem(resolved, loc + ("floor",), f"{kind[:-1]} '{sid}' names floor '{floor}', which "
                                                              f"does not exist")
        if at is not None:
            xy: XY = (float(at[0]), float(at[1]))
        elif found is not None and found[0] == floor:
            c = found[1].polygon.centroid
            xy = (float(c.x), float(c.y))
        elif zone is not None and zone in zone_floor:
            c = building.zone(zone).polygon.representative_point()
            xy = (float(c.x), float(c.y))
        else:
            raise scenario_problem(resolved, loc, f"{kind[:-1]} '{sid}': no position (give 'at' or 'zone')")
        if zone is None:
            zone = _zone_of(building, floor, xy)
        if zone not in zone_floor or zone_floor[zone] != floor:
            raise scenario_problem(resolved, loc + ("zone",), f"{kind[:-1]} '{sid}': zone '{zone}' is not on floor "
                                                             f"'{floor}'")
        return floor, zone, xy

    desks: list[ServicePoint] = []
    if spec.desks is None:
        for f in building.floors:
            for o in f.obstacles:
                if o.kind != "counter":
                    continue
                c = o.polygon.centroid
                zid = _zone_of(building, f.id, (c.x, c.y))
                if zid is None or zone_kind[zid] in ("cafe", "office"):
                    continue
                tasks = ("borrow", "return", "help") if zone_kind[zid] in ("service_desk", "children", "entrance") \
                    else ("help",)
                d = DeskSpec(id=o.id)
                desks.append(ServicePoint(o.id, "desk", f.id, zid, (float(c.x), float(c.y)), tasks,
                                          {"borrow": d.service_s, "return": d.service_s, "help": d.help_s}))
        if not desks:
            for z in building.zones:
                if z.kind == "service_desk":
                    c = z.polygon.representative_point()
                    d = DeskSpec(id=z.id)
                    desks.append(ServicePoint(z.id, "desk", z.floor_id, z.id, (float(c.x), float(c.y)),
                                              ("borrow", "return", "help"),
                                              {"borrow": d.service_s, "return": d.service_s, "help": d.help_s}))
    else:
        for i, d in enumerate(spec.desks):
            try:
                fl, zid, xy = place("desks", i, d.id, d.floor, d.zone, d.at)
            except _MisplacedError:
                continue
            desks.append(ServicePoint(d.id, "desk", fl, zid, xy, tuple(d.tasks),
                                      {"borrow": d.service_s, "return": d.service_s, "help": d.help_s}))

    kiosks: list[ServicePoint] = []
    if spec.kiosks is None:
        for f in building.floors:
            for o in f.obstacles:
                if o.kind == "kiosk":
                    c = o.polygon.centroid
                    zid = _zone_of(building, f.id, (c.x, c.y))
                    returns_only = "return" in o.id
                    dist = lognormal_s(30, 15) if returns_only else lognormal_s(75, 40)
                    k = KioskSpec(id=o.id, tasks=["return"] if returns_only else ["borrow", "return"],
                                  service_s=Distribution(**dist))
                    kiosks.append(ServicePoint(o.id, "kiosk", f.id, zid or "", (float(c.x), float(c.y)),
                                               tuple(k.tasks), dict.fromkeys(k.tasks, k.service_s)))
    else:
        for i, k in enumerate(spec.kiosks):
            try:
                fl, zid, xy = place("kiosks", i, k.id, k.floor, None, k.at)
            except _MisplacedError:
                continue
            kiosks.append(ServicePoint(k.id, "kiosk", fl, zid, xy, tuple(k.tasks), dict.fromkeys(k.tasks, k.service_s)))

    cafes: list[ServicePoint] = []
    cafe_specs = spec.cafes if spec.cafes is not None else [CafeSpec(zone=z.id) for z in building.zones
                                                            if z.kind == "cafe"]
    for i, cs in enumerate(cafe_specs):
        if cs.zone not in zone_floor:
            scenario_problem(resolved, ("services", "cafes", i, "zone"), f"cafe zone '{cs.zone}' does not exist")
            continue
        fl = zone_floor[cs.zone]
        at = cs.at
        if at is not None:
            xy = at
        else:
            counters = [o for o in building.floor(fl).obstacles if o.kind == "counter"
                        and building.zone(cs.zone).polygon.intersects(o.polygon)]
            c = counters[0].polygon.centroid if counters else building.zone(cs.zone).polygon.representative_point()
            xy = (float(c.x), float(c.y))
        servers = cs.servers or max(1, math.ceil(building.zone(cs.zone).area_m2 / CAFE_M2_PER_SERVER))
        cafes.append(ServicePoint(cs.id or cs.zone, "cafe", fl, cs.zone, (float(xy[0]), float(xy[1])), ("cafe",),
                                  {"cafe": cs.service_s}, servers))

    seats_in: dict[str, list[str]] = {}
    for s in building.seats:
        seats_in.setdefault(s.zone_id, []).append(s.id)
    room_specs = spec.group_rooms if spec.group_rooms is not None else [
        GroupRoomSpec(zone=z.id) for z in building.zones if z.kind == "group_study" and z.area_m2 <= GROUP_ROOM_MAX_M2]
    rooms: list[GroupRoomPoint] = []
    for i, rs in enumerate(room_specs):
        if rs.zone not in zone_floor:
            scenario_problem(resolved, ("services", "group_rooms", i, "zone"),
                             f"group room zone '{rs.zone}' does not exist")
            continue
        seats = tuple(seats_in.get(rs.zone, ()))
        cap = rs.capacity or (len(seats) if seats else max(2, int(building.zone(rs.zone).area_m2
                                                                    / GROUP_ROOM_M2_PER_PERSON)))
        rooms.append(GroupRoomPoint(rs.zone, zone_floor[rs.zone], cap, rs.max_booking_s, seats))
    for kind, points in (("desks", desks), ("kiosks", kiosks)):
        seen: set[str] = set()
        for i, sp in enumerate(points):
            if sp.id in seen:
                scenario_problem(resolved, ("services", kind, i, "id"), f"{kind[:-1]} id '{sp.id}' is used twice")
            seen.add(sp.id)
    raise_problems(resolved, problems)
    return ServiceLayout(tuple(desks), tuple(kiosks), tuple(cafes), tuple(rooms))


def default_staff_raw(kind: str, layout: ServiceLayout) -> dict[str, Any]:
    """Default staff: clerks on early and late shifts at each desk, and shelvers (per branch kind)."""
    main_n, other_n, shelvers = DEFAULT_STAFFING[kind]
    members: list[dict[str, Any]] = []
    for i, d in enumerate(layout.desks):
        n = main_n if i == 0 else other_n
        if n == 0:
            continue
        for shift in ("early", "late"):
            members.append({"id": f"{d.id}-{shift}", "role": "desk", "desk": d.id, "shift": shift, "count": n})
    if shelvers:
        members.append({"id": "shelver", "role": "shelver", "shift": "all", "count": shelvers})
    elif kind == "service_point":
        # the branch's staff visit to restock and shelve (typical: twice a week)
        members.append({"id": "visiting-shelver", "role": "shelver", "shift": "10:00-11:30", "days": "Tu,Fr"})
    return {"members": members}


def load_staff(resolved: ResolvedScenario, layout: ServiceLayout) -> StaffSpec:
    """The scenario's ``staff`` section (or the default for its branch kind), validated against the desks."""
    section = resolved.scenario.staff
    raw = given(section)
    if "members" not in section.model_fields_set:
        raw["members"] = default_staff_raw(resolved.scenario.branch.kind, layout)["members"]
    spec = validate_section(StaffSpec, raw, section="staff", resolved=resolved)
    desk_ids = {d.id for d in layout.desks}
    problems = []
    for i, m in enumerate(spec.members):
        if m.role == "desk" and m.desk not in desk_ids:
            problems.append(section_problem(resolved, ("staff", "members", i, "desk"),
                                            f"staff '{m.id}' works at desk '{m.desk}', which does not exist "
                                            f"(desks: {', '.join(sorted(desk_ids)) or 'none'})"))
    raise_problems(resolved, problems)
    return spec


def shift_intervals(shift: str, opening: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """A shift's working intervals on a day with opening intervals ``opening`` [s after midnight].

    ``early``: 15 min before opening to 15 min past the middle of the day; ``late``: 15 min
    before the middle to 15 min after closing; ``all``: both. Explicit times hold on any day.
    """
    s = shift.strip()
    if s in ("early", "late", "all"):
        if not opening:
            return []
        a, b = opening[0][0], opening[-1][1]
        mid = (a + b) / 2.0
        return {"early": [(a - 900.0, mid + 900.0)], "late": [(mid - 900.0, b + 900.0)],
                "all": [(a - 900.0, b + 900.0)]}[s]
    out = []
    for part in s.split(","):
        x, _, y = part.strip().partition("-")
        out.append((clock_s(x), clock_s(y)))
    return out


# --------------------------------------------------------------------------- runtime: services

class Service:
    """A SimPy service point with positions that open and close (staff, opening hours).

    Readers request with priority 0; a closed position is held by a priority -1 request, so a
    closing position waits for its current reader to finish, and no reader is served by a
    closed position. Counters: ``served``, server-busy time (``busy``), open positions over
    time (``staffed``).
    """

    def __init__(self, env: simpy.Environment, point: ServicePoint, positions: int) -> None:
        if positions < 1:
            raise ValueError(f"service '{point.id}' needs at least one position")
        self.env = env
        self.point = point
        self.positions = positions
        self.res = simpy.PriorityResource(env, capacity=positions)
        self._blocks: list[Any] = [self.res.request(priority=-1) for _ in range(positions)]
        self.served = 0
        self.busy = Integrator(env.now)
        self.staffed = Integrator(env.now)
        self.waiting = 0
        self.on_positions: Any = None  # called with the service when positions open or close

    @property
    def id(self) -> str:
        return self.point.id

    @property
    def open_positions(self) -> int:
        """Positions open now (staffed, or within opening hours)."""
        return self.positions - len(self._blocks)

    @property
    def queue_length(self) -> int:
        """Readers waiting to be served."""
        return self.waiting

    def open_position(self) -> None:
        """Open one position now (a clerk arrives); a pending close is withdrawn first."""
        if not self._blocks:
            raise RuntimeError(f"service '{self.id}': all {self.positions} positions are open already")
        pending = [b for b in self._blocks if not b.triggered]
        blk = pending[-1] if pending else self._blocks[-1]
        self._blocks.remove(blk)
        if blk.triggered:
            self.res.release(blk)
        else:
            blk.cancel()
        self.staffed.set(self.env.now, self.open_positions)
        if self.on_positions is not None:
            self.on_positions(self)

    def close_position(self) -> simpy.Event:
        """Close one position; the event fires once it is free (its reader served)."""
        blk = self.res.request(priority=-1)
        self._blocks.append(blk)
        self.staffed.set(self.env.now, self.open_positions)
        if self.on_positions is not None:
            self.on_positions(self)
        return blk

    def mean_service_s(self, task: str) -> float:
        return self.point.service[task].mean

    def expected_wait_s(self, task: str) -> float:
        """A reader's rough estimate of the wait here: queue ahead x service time / open positions [s]."""
        n = self.open_positions
        if n <= 0:
            return math.inf
        return (self.waiting + 1.0) * self.mean_service_s(task) / n

    def serve(self, task: str, rng: np.random.Generator, *, patience_s: float = math.inf,
              on_start: Any = None) -> Generator[simpy.Event, Any, tuple[float, float] | None]:
        """Queue, get served, leave: a SimPy process body.

        Parameters
        ----------
        patience_s
            The reader gives up after waiting this long [s] (e.g. until the closing call).
        on_start
            Called with the wait [s] when service starts (to log it).

        Returns
        -------
        (wait_s, service_s) or None
            None when the reader gave up.
        """
        env = self.env
        if patience_s <= 0:
            return None
        t0 = env.now
        req = self.res.request(priority=0)
        self.waiting += 1
        if math.isinf(patience_s):
            yield req
        else:
            got = yield req | env.timeout(patience_s)
            if req not in got:
                self.waiting -= 1
                req.cancel()
                if req.triggered:  # granted at the same instant as the timeout
                    self.res.release(req)
                return None
        self.waiting -= 1
        wait = env.now - t0
        if on_start is not None:
            on_start(wait)
        dur = float(self.point.service[task].sample(rng))
        self.busy.add(env.now, 1)
        yield env.timeout(dur)
        self.busy.add(env.now, -1)
        self.res.release(req)
        self.served += 1
        return wait, dur

    def schedule(self, intervals: Iterable[tuple[float, float]]) -> Generator[simpy.Event, Any, None]:
        """Open every position during ``intervals`` [absolute s] (kiosks, cafes): a SimPy process body."""
        for a, b in intervals:
            if b <= self.env.now:
                continue
            yield self.env.timeout(max(0.0, a - self.env.now))
            for _ in range(self.positions):
                self.open_position()
            yield self.env.timeout(b - self.env.now)
            yield simpy.AllOf(self.env, [self.close_position() for _ in range(self.positions)])


class GroupRoom:
    """A bookable group room: one party at a time, up to ``capacity`` persons."""

    def __init__(self, point: GroupRoomPoint) -> None:
        self.point = point
        self.party: int | None = None
        self.until_s = 0.0
        self.bookings = 0
        self.booked = Integrator()

    def free(self) -> bool:
        return self.party is None


class GroupRooms:
    """The branch's group rooms; a party books the smallest free room that fits it."""

    def __init__(self, points: Iterable[GroupRoomPoint]) -> None:
        self.rooms = [GroupRoom(p) for p in points]

    def book(self, party: int, size: int, now_s: float, stay_s: float) -> GroupRoom | None:
        """Book a free room for ``party`` of ``size`` persons from now; None when none fits."""
        fits = [r for r in self.rooms if r.free() and r.point.capacity >= size]
        if not fits:
            return None
        room = min(fits, key=lambda r: (r.point.capacity, r.point.zone_id))
        room.party = party
        room.until_s = now_s + min(stay_s, room.point.max_booking_s)
        room.bookings += 1
        room.booked.set(now_s, 1)
        return room

    def release(self, room: GroupRoom, now_s: float) -> None:
        room.party = None
        room.booked.set(now_s, 0)


class Lift:
    """A lift car as a SimPy resource of ``capacity`` riders; a ride takes door time and travel.

    Ride time = boarding + 2 x door time + rise / speed [s]. ``running`` integrates the time the
    car is in use (for lift energy).
    """

    def __init__(self, env: simpy.Environment, link: Link, elevations: dict[str, float], *,
                 boarding_s: float = 3.0) -> None:
        if link.kind != "lift":
            raise ValueError(f"link '{link.id}' is a {link.kind}, not a lift")
        self.env = env
        self.link = link
        self.elevations = elevations
        self.boarding_s = boarding_s
        self.res = simpy.Resource(env, capacity=max(1, link.capacity))
        self.running = Integrator(env.now)
        self.rides = 0
        self._riders = 0

    def ride_s(self, from_floor: str, to_floor: str) -> float:
        """Time of a ride between two stops [s]."""
        rise = abs(self.elevations[to_floor] - self.elevations[from_floor])
        return self.boarding_s + 2.0 * self.link.door_s + rise / max(self.link.speed_m_s, 1e-9)

    def ride(self, from_floor: str, to_floor: str) -> Generator[simpy.Event, Any, float]:
        """Wait for the car and ride: a SimPy process body; returns the wait [s]."""
        t0 = self.env.now
        with self.res.request() as req:
            yield req
            wait = self.env.now - t0
            self._riders += 1
            self.running.set(self.env.now, 1.0)
            yield self.env.timeout(self.ride_s(from_floor, to_floor))
            self._riders -= 1
            if self._riders == 0:
                self.running.set(self.env.now, 0.0)
            self.rides += 1
        return wait


# --------------------------------------------------------------------------- runtime: staff

class StaffMember(mesa.Agent):  # type: ignore[misc]  # mesa has no type hints
    """A member of staff (Mesa agent): desk clerk or shelver, on shifts, with shelving rounds.

    ``shifts`` are absolute working intervals [s]. A clerk opens a desk position while on duty
    and leaves it for a shelving round every ``every_s`` when the desk can spare them; a shelver
    works rounds in the stacks all shift. ``zone_id`` is where they are (None: off duty).
    """

    def __init__(self, model: mesa.Model, *, staff_id: str, role: str, desk: Service | None,
                 shifts: list[tuple[float, float]], shelving: ShelvingSpec, stacks: Sequence[str],
                 home_zone: str | None) -> None:
        super().__init__(model)
        self.staff_id = staff_id
        self.role = role
        self.desk = desk
        self.shifts = shifts
        self.shelving = shelving
        self.stacks = list(stacks)
        self.home_zone = home_zone
        self.zone_id: str | None = None
        self.rounds = 0
        self.at_desk = False

    def _stack(self) -> str | None:
        if not self.stacks:
            return self.home_zone
        return self.stacks[(int(self.unique_id) + self.rounds) % len(self.stacks)]

    def work(self, env: simpy.Environment, move: Any) -> Generator[simpy.Event, Any, None]:
        """The staff member's day(s): a SimPy process body.

        ``move(staff, zone_id_or_None)`` tells the model where they are.
        """
        sh = self.shelving
        for start, end in self.shifts:
            if end <= env.now:
                continue
            yield env.timeout(max(0.0, start - env.now))
            if self.role == "desk" and self.desk is not None:
                self.desk.open_position()
                self.at_desk = True
                move(self, self.desk.point.zone_id)
                next_round = env.now + sh.every_s
                while next_round < end:
                    yield env.timeout(next_round - env.now)
                    if self.desk.queue_length <= sh.max_queue and self.desk.open_positions - 1 >= sh.min_at_desk:
                        yield self.desk.close_position()
                        self.at_desk = False
                        move(self, self._stack())
                        self.rounds += 1
                        yield env.timeout(max(0.0, min(sh.round_s, end - env.now)))
                        if env.now < end:
                            self.desk.open_position()
                            self.at_desk = True
                            move(self, self.desk.point.zone_id)
                    next_round = env.now + sh.every_s
                yield env.timeout(max(0.0, end - env.now))
                if self.at_desk:
                    yield self.desk.close_position()
                    self.at_desk = False
            else:
                while env.now < end:
                    move(self, self._stack())
                    self.rounds += 1
                    yield env.timeout(min(sh.round_s, end - env.now))
            move(self, None)


def staff_shifts(member: StaffMemberSpec, hours: OpeningHours, dates: Sequence[Any],
                 day_starts_s: Sequence[float]) -> list[tuple[float, float]]:
    """Absolute working intervals of a staff member over the run's days [s]."""
    days = set(weekdays_in(member.days)) if member.days else set(range(7))
    out: list[tuple[float, float]] = []
    for date, t0 in zip(dates, day_starts_s, strict=True):
        wd = date.weekday()
        opening = hours.intervals(wd)
        if wd not in days or (member.shift in ("early", "late", "all") and not opening):
            continue
        out.extend((t0 + a, t0 + b) for a, b in shift_intervals(member.shift, opening))
    return out

