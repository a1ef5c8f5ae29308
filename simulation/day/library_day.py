"""A library day (or week): SimPy as the master clock wiring demand, readers, services, physics, sensors.

:func:`run_day` is the entry point (the ``smartlib simulate`` command will call it)::

    from geometry import apply_variant, build_building, load_scenario
    from simulation import run_day

    resolved = apply_variant(load_scenario("scenarios/district-branch.yaml"), "some-variant")
    result = run_day(build_building(resolved), resolved, seed=1)
    result.kpis.turned_away, result.zones, result.events, result.telemetry
    result.write("out/")   # kpis.json, zones.parquet, events.parquet, telemetry.parquet, energy.parquet

What runs (all SimPy processes on one :class:`simpy.Environment`, time in seconds from local
midnight of the first day):

- arrivals: the parties of every day, sampled up front (:mod:`simulation.day.demand`), each
  starting its journey (:meth:`simulation.day.readers.Party.journey`) at its arrival time;
- staff (:class:`~simulation.day.services.StaffMember`) on their shifts, opening and closing desk
  positions; kiosks and cafes open on their hours;
- zone physics (:class:`~simulation.day.physics.ZonePhysics`) every ``physics.step_s``, fed with the
  exact mean occupancy of each zone over the step (kept per event by ledgers);
- virtual sensors (:class:`~simulation.day.sensors.VirtualSensors`), one process per device period.

Nothing runs per agent per time step: a reader seated for three hours is one timeout.

Conventions: a walking party is counted in the zone it left until it arrives; a visit starts and
ends at the gate the party uses (readers leave by the door they came in, so each gate's counts
balance); staff use a staff entrance (not counted by gate counters) and are in the zone they work
in (people, CO2 and heat count them; the ``readers`` column does not).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import deque
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import mesa
import numpy as np
import pandas as pd
import simpy

from geometry.grid import DEFAULT_CELL_M
from geometry.model import OUTSIDE, Building
from geometry.scenario import ResolvedScenario

from ..crowd.routes import NoRouteError
from .demand import PartyArrival, sample_day_arrivals
from .inputs import day_inputs
from .kpis import DayKpis, compute_kpis
from .ledger import Ledger
from .physics import END_USES, ZonePhysics, ZoneStep, meter_scopes
from .readers import SEAT_ATTRS, Party, Reader, SeatBook, VisitContext, choose_seat, choose_table, plan_visit
from .sensors import Snapshot, VirtualSensors, empty_telemetry, telemetry_arrow
from .services import (
    GroupRoom,
    GroupRooms,
    Lift,
    Service,
    StaffMember,
    staff_shifts,
)
from .walker import (
    GridRouter,
    GridWalker,
    Place,
    Walker,
    WalkerContext,
    WalkResult,
    entrance_places,
    shelf_counts,
    subject_places,
    zone_places,
)

#: Longest run [days] (a year): memory and time grow with the days simulated.
MAX_DAYS = 366

EVENT_COLUMNS: tuple[str, ...] = ("t_s", "time", "event", "reader", "party", "visitor_type", "size", "floor_id",
                                  "zone_id", "ref", "value")
ZONE_COLUMNS: tuple[str, ...] = ("t_s", "time", "zone_id", "floor_id", "is_open", "occupancy", "readers", "co2_ppm",
                                 "temperature_c", "humidity_pct", "illuminance_lx", "sound_db", "ventilation_l_s",
                                 "power_w")

WalkerFactory = Callable[[WalkerContext], Walker]
#: ``progress(done_h, total_h, text)``: simulated hours done, hours in all, a short status line.
ProgressFn = Callable[[float, float, str], None]


@dataclass(frozen=True)
class DayResult:
    """What a simulated run produces.

    Attributes
    ----------
    kpis
        Indicators (:func:`simulation.day.kpis.compute_kpis`), JSON-ready.
    zones
        Per physics step per zone: :data:`ZONE_COLUMNS` (occupancy and readers are means over the
        step starting at ``t_s``; CO2, temperature, humidity at its end; ``power_w`` the zone's
        electric power, lifts excluded).
    events
        One row per event: :data:`EVENT_COLUMNS` (``t_s`` simulation time [s], ``time`` UTC epoch [s]).
    telemetry
        Virtual-sensor readings in the telemetry columns (:data:`simulation.day.sensors.TELEMETRY_COLUMNS`).
    energy
        Per physics step: ``t_s``, ``time``, ``dt_s`` and ``<end use>_w`` building means [W].
    meta
        Branch, variant, seed, dates, time zone, epoch of ``t_s = 0``, devices not simulated.
    """

    kpis: DayKpis
    zones: pd.DataFrame
    events: pd.DataFrame
    telemetry: pd.DataFrame
    energy: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)

    def write(self, out_dir: str | Path) -> list[Path]:
        """Write ``kpis.json`` (with ``meta``), ``zones``, ``events``, ``telemetry``, ``energy`` (Parquet)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = [out / "kpis.json", out / "zones.parquet", out / "events.parquet", out / "telemetry.parquet",
                 out / "energy.parquet"]
        doc = {"kpis": self.kpis.to_dict(), "meta": self.meta}
        paths[0].write_text(json.dumps(doc, indent=2, default=_json_default, allow_nan=True), encoding="utf-8")
        self.zones.to_parquet(paths[1], index=False)
        self.events.to_parquet(paths[2], index=False)
        import pyarrow.parquet as pq

        pq.write_table(telemetry_arrow(self.telemetry), paths[3])
        self.energy.to_parquet(paths[4], index=False)
        return paths


def _json_default(x: Any) -> Any:
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, (dt.date,)):
        return x.isoformat()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


class ZonePaths:
    """Openings crossed between two zones: a fewest-doors path in the zone graph (cached, symmetric).

    The path from ``b`` to ``a`` is the path from ``a`` to ``b`` reversed, so a reader who goes
    somewhere and comes back crosses the same openings both ways.
    """

    def __init__(self, building: Building) -> None:
        adj = building.adjacency()
        openings = {o.id for o in building.openings}
        self.graph = {z: sorted((n, via) for n, via in nbrs if n != OUTSIDE) for z, nbrs in adj.items()}
        self.openings = openings
        self._cache: dict[tuple[str, str], list[tuple[str, str]]] = {}

    def crossings(self, a: str, b: str) -> list[tuple[str, str]]:
        """(opening id, zone entered) along the way from ``a`` to ``b`` (links between floors left out)."""
        if a == b:
            return []
        key = (a, b) if a < b else (b, a)
        path = self._cache.get(key)
        if path is None:
            path = self._bfs(*key)
            self._cache[key] = path
        if (a, b) == key:
            return path
        # reversed: walk the same openings the other way
        zones = [key[0]] + [z for _, z in path]
        rev = list(reversed(zones))
        ops = [o for o, _ in path]
        return [(o, rev[i + 1]) for i, o in enumerate(reversed(ops))]

    def _bfs(self, a: str, b: str) -> list[tuple[str, str]]:
        prev: dict[str, tuple[str, str]] = {}
        seen = {a}
        q = deque([a])
        while q:
            z = q.popleft()
            if z == b:
                break
            for n, via in self.graph.get(z, []):
                if n not in seen:
                    seen.add(n)
                    prev[n] = (z, via)
                    q.append(n)
        if b not in prev:
            return []
        out = []
        z = b
        while z != a:
            p, via = prev[z]
            out.append((via, z))
            z = p
        out.reverse()
        return [(o, z) for o, z in out if o in self.openings]


class LibraryDay:
    """One branch over ``days`` days: the SimPy environment, Mesa model and every process.

    Parameters
    ----------
    building
        The branch (with its variant applied, ``building.variant``).
    resolved
        The scenario it came from, with the same variant (``demand``, ``services``, ``staff``,
        ``physics`` sections).
    seed
        Seed of the one random generator.
    days
        Days to simulate, from ``start``.
    start
        First day (default: ``demand.start_date``).
    walker
        Builds the :class:`~simulation.day.walker.Walker` (default: :class:`GridWalker`), or its
        name: ``"grid"`` or ``"crowd"`` (:func:`simulation.day.crowdwalk.walker_factory`).
    cell_m
        Walkable-grid cell for walking distances [m].
    """

    def __init__(self, building: Building, resolved: ResolvedScenario, *, seed: int, days: int = 1,
                 start: dt.date | None = None, walker: WalkerFactory | str | None = None,
                 cell_m: float = DEFAULT_CELL_M) -> None:
        if not 1 <= days <= MAX_DAYS:
            raise ValueError(f"days must be between 1 and {MAX_DAYS}, got {days}")
        self.building = building
        self.resolved = resolved
        self.seed = seed
        inputs = day_inputs(resolved, building)
        self.demand = inputs.demand
        self.services_spec = inputs.services
        self.layout = inputs.layout
        self.staff_spec = inputs.staff
        self.physics_spec = inputs.physics
        self.start = start or self.demand.start_date
        self.dates = [self.start + dt.timedelta(days=k) for k in range(days)]
        self.t_end = 86400.0 * days
        tz = ZoneInfo(resolved.scenario.branch.timezone)
        self.epoch0_s = dt.datetime.combine(self.start, dt.time(0), tzinfo=tz).timestamp()
        self.env = simpy.Environment()
        self.model = mesa.Model(rng=np.random.default_rng(seed))
        self.rng: np.random.Generator = self.model.rng
        hours = self.services_spec.hours
        kiosk_hours = self.services_spec.kiosk_hours
        self.open_intervals = [(k * 86400.0 + a, k * 86400.0 + b) for k, d in enumerate(self.dates)
                               for a, b in hours.intervals(d.weekday())]
        self.kiosk_intervals = [(k * 86400.0 + a, k * 86400.0 + b) for k, d in enumerate(self.dates)
                                for a, b in kiosk_hours.intervals(d.weekday())]
        vent = self.physics_spec.ventilation
        self.hvac_intervals = [(a - vent.before_open_s, b + vent.after_close_s) for a, b in self.open_intervals]

        # space
        self.router = GridRouter(building, cell_m=cell_m)
        self.physics = ZonePhysics(building, self.physics_spec)
        self.zone_ids = self.physics.geo.zone_ids
        self.zidx = {z: i for i, z in enumerate(self.zone_ids)}
        nz = len(self.zone_ids)
        self.people = Ledger(nz)
        self.readers_in = Ledger(nz)
        self.computers = Ledger(nz)
        self.opening_ids = [o.id for o in building.openings]
        self.opening_zones = {o.id: o.zones for o in building.openings}
        self.oidx = {o: i for i, o in enumerate(self.opening_ids)}
        self.cross_in = np.zeros(len(self.opening_ids), dtype=np.int64)
        self.cross_out = np.zeros(len(self.opening_ids), dtype=np.int64)
        self.paths = ZonePaths(building)
        room_seats = [s for r in self.layout.group_rooms for s in r.seat_ids]
        self.seats = SeatBook(building, reserved=room_seats)
        self.seat_zone = np.array([self.zidx[z] for z in self.seats.zone_ids], dtype=np.int64)
        self.seat_computer = self.seats.attrs[:, SEAT_ATTRS.index("computer")]

        # services
        self.services: dict[str, Service] = {}
        self.service_places: dict[str, Place] = {}
        desk_staff: dict[str, int] = {}
        for m in self.staff_spec.members:
            if m.role == "desk" and m.desk is not None:
                desk_staff[m.desk] = desk_staff.get(m.desk, 0) + m.count
        for p in (*self.layout.desks, *self.layout.kiosks, *self.layout.cafes):
            positions = max(1, desk_staff.get(p.id, 0)) if p.kind == "desk" else p.servers
            svc = Service(self.env, p, positions)
            if p.kind == "desk":
                svc.on_positions = self._positions_changed
            self.services[p.id] = svc
            self.service_places[p.id] = self.router.register(Place("service", p.floor_id, p.id, p.zone_id, *p.xy))
        self.desks = [self.services[p.id] for p in self.layout.desks]
        self.kiosks = [self.services[p.id] for p in self.layout.kiosks]
        self.cafes = [self.services[p.id] for p in self.layout.cafes]
        self.service_list = list(self.services.values())
        self.rooms = GroupRooms(self.layout.group_rooms)
        self.room_places = {r.point.zone_id: self.router.register(p) for r in self.rooms.rooms
                            for p in zone_places(building, ["group_study"]) if p.ref == r.point.zone_id}
        elevations = {f.id: f.elevation_m for f in building.floors}
        self.lifts = {lk.id: Lift(self.env, lk, elevations, boarding_s=self.services_spec.lift_boarding_s)
                      for lk in building.links if lk.kind == "lift"}
        self.kiosk_zone = np.zeros(nz)
        for kiosk in self.kiosks:
            self.kiosk_zone[self.zidx[kiosk.point.zone_id]] += 1

        # places
        self.entrances = [self.router.register(p) for p in entrance_places(building)]
        if not self.entrances:
            raise ValueError(f"building '{building.branch_id}' has no entrance for visitors")
        self.subjects = {s: [self.router.register(p) for p in ps] for s, ps in subject_places(building).items()}
        counts = shelf_counts(building)
        weights = self.demand.subjects or counts
        self.subject_names = [s for s in self.subjects if weights.get(s, 0) > 0]
        self.subject_weights = [float(weights[s]) for s in self.subject_names]
        self.restrooms = [self.router.register(p) for p in zone_places(building, ["restroom"])]
        self.children = [self.router.register(p) for p in zone_places(building, ["children"])]
        self.zone_place = {p.ref: self.router.register(p) for p in zone_places(building, {z.kind for z in
                                                                                          building.zones})}
        if isinstance(walker, str):
            from .crowdwalk import walker_factory

            walker = walker_factory(walker)
        self.walker_context = WalkerContext(env=self.env, building=building, router=self.router, lifts=self.lifts,
                                            seat_ids=self.seats.ids, seed=seed)
        self.walker: Walker = (walker or GridWalker.for_day)(self.walker_context)
        self.visit = VisitContext(
            env=self.env, rng=self.rng, walker=self.walker, call_time_s=self.call_time_s, enter=self.enter,
            leave=self.leave, moved=self.moved, log=self.log, choose_service=self.choose_service,
            service_place=self.service_place, cafe_at=self.cafe_at, subject_place=self.subject_place,
            children_place=self.children_place, break_place=self.break_place, event_place=self.event_place,
            find_seats=self.find_seats, seat_place=self.seat_place, sit=self.sit, stand=self.stand, away=self.away,
            book_room=self.book_room, room_place=self.room_place, room_seats=self.room_seats,
            release_room=self.release_room)

        # records
        self._events: list[tuple[Any, ...]] = []
        self._zone_rows: list[tuple[float, ZoneStep, np.ndarray, np.ndarray, bool]] = []
        self._energy_rows: list[tuple[float, float, dict[str, float]]] = []
        self.latest = ZoneStep(0.0, self.physics.co2.copy(), self.physics.t_air.copy(),
                               np.full(nz, 40.0), np.zeros(nz), self.physics.background_db.copy(), np.zeros(nz),
                               {u: np.zeros(1 if u == "lifts" else nz) for u in END_USES})
        self.parties: dict[int, Party] = {}
        self._next_party = 0
        self.in_building = 0

        # staff
        stacks = [z.id for z in building.zones if z.kind == "stacks"]
        offices = [z.id for z in building.zones if z.kind == "office"]
        self.staff: list[StaffMember] = []
        day_starts = [k * 86400.0 for k in range(days)]
        for m in self.staff_spec.members:
            for k in range(m.count):
                sid = m.id if m.count == 1 else f"{m.id}-{k + 1}"
                desk = self.services.get(m.desk) if m.desk else None
                self.staff.append(StaffMember(
                    self.model, staff_id=sid, role=m.role, desk=desk,
                    shifts=staff_shifts(m, hours, self.dates, day_starts), shelving=self.staff_spec.shelving,
                    stacks=stacks, home_zone=offices[0] if offices else (desk.point.zone_id if desk else None)))

        # arrivals, sampled up front (one generator, so the same seed gives the same day)
        self.arrivals: list[PartyArrival] = []
        self.event_times: dict[tuple[int, str], tuple[Place, float]] = {}
        for k, d in enumerate(self.dates):
            intervals = hours.intervals(d.weekday())
            self.arrivals.extend(sample_day_arrivals(self.demand, d, intervals, self.rng, day_start_s=k * 86400.0,
                                                     last_entry_s=self.services_spec.last_entry_s))
            for ev in self.demand.events_on(d):
                self.event_times[(k, ev.id)] = (self.zone_place[ev.zone], k * 86400.0 + ev.start_s + ev.duration_s)

        # sensors
        services_geo = {s.id: (s.point.kind, s.point.floor_id, s.point.xy[0], s.point.xy[1])
                        for s in self.service_list}
        self.sensors = VirtualSensors(
            building, zone_ids=self.zone_ids, opening_ids=self.opening_ids, seat_ids=self.seats.ids,
            service_ids=[s.id for s in self.service_list], services=services_geo,
            meter_floor=meter_scopes(building, self.physics_spec), zone_floor=self.physics.geo.floor_ids,
            epoch0_s=self.epoch0_s, rng=self.rng)

    # ------------------------------------------------------------- clock helpers
    def is_open(self, t_s: float) -> bool:
        return any(a <= t_s < b for a, b in self.open_intervals)

    def hvac_on(self, t_s: float) -> bool:
        return any(a <= t_s < b for a, b in self.hvac_intervals)

    def call_time_s(self, t_s: float) -> float:
        """When readers present at ``t_s`` are asked to leave: the closing call of the current opening [s]."""
        for a, b in self.open_intervals:
            if a <= t_s < b:
                return b - self.services_spec.closing_call_s
        return t_s

    # ------------------------------------------------------------- logging
    def log(self, event: str, party: Party | None, *, ref: str = "", value: float = math.nan,
            reader: Reader | None = None, zone_id: str | None = None, size: int | None = None) -> None:
        """Record an event of a party (or of one ``reader`` of it)."""
        if party is None:
            self._events.append((self.env.now, event, -1, -1, "", size or 0, "", zone_id or "", ref, value))
            return
        r = reader or party.leader
        place = party.place
        self._events.append((self.env.now, event, r.unique_id, party.id, party.vt_name,
                             size if size is not None else (1 if reader is not None else party.size),
                             place.floor_id, zone_id if zone_id is not None else place.zone_id, ref, value))

    def _positions_changed(self, svc: Service) -> None:
        self._events.append((self.env.now, "positions", -1, -1, "", 0, svc.point.floor_id, svc.point.zone_id,
                             svc.id, float(svc.open_positions)))

    # ------------------------------------------------------------- people moving
    def _cross(self, opening: str, into: str, n: int) -> None:
        i = self.oidx.get(opening)
        if i is None:
            return
        if self.opening_zones[opening][0] == into:
            self.cross_in[i] += n
        else:
            self.cross_out[i] += n

    def enter(self, party: Party) -> None:
        """A party comes in through its gate."""
        t = self.env.now
        z = self.zidx[party.entrance.zone_id]
        self.people.change(z, t, party.size)
        self.readers_in.change(z, t, party.size)
        self._cross(party.entrance.ref, party.entrance.zone_id, party.size)
        self.in_building += party.size
        for m in party.members:
            self.log("arrive", party, reader=m, ref=party.entrance.ref)

    def leave(self, party: Party) -> None:
        """A party goes out through its gate; its agents leave the model."""
        t = self.env.now
        z = self.zidx[party.place.zone_id]
        self.people.change(z, t, -party.size)
        self.readers_in.change(z, t, -party.size)
        self._cross(party.entrance.ref, OUTSIDE, party.size)
        self.in_building -= party.size
        for m in party.members:
            self.log("leave", party, reader=m, ref=party.entrance.ref)
            m.remove()
        del self.parties[party.id]

    def moved(self, party: Party, a: Place, b: Place, res: WalkResult) -> None:
        """A party arrived at ``b`` from ``a``: zone counts, door counters, walking distance."""
        t = self.env.now
        if a.zone_id != b.zone_id:
            za, zb = self.zidx[a.zone_id], self.zidx[b.zone_id]
            self.people.change(za, t, -party.size)
            self.people.change(zb, t, party.size)
            self.readers_in.change(za, t, -party.size)
            self.readers_in.change(zb, t, party.size)
            for opening, into in self.paths.crossings(a.zone_id, b.zone_id):
                self._cross(opening, into, party.size)
        for m in party.members:
            m.walked_m += res.distance_m
        self._events.append((t, "walk", party.leader.unique_id, party.id, party.vt_name, party.size, b.floor_id,
                             b.zone_id, b.ref, float(res.distance_m)))

    def move_staff(self, staff: StaffMember, zone_id: str | None) -> None:
        """A member of staff is now in ``zone_id`` (None: off duty)."""
        t = self.env.now
        if staff.zone_id is not None:
            self.people.change(self.zidx[staff.zone_id], t, -1)
        if zone_id is not None:
            self.people.change(self.zidx[zone_id], t, 1)
        staff.zone_id = zone_id
        self._events.append((t, "staff_move", -1, -1, "staff", 1, "", zone_id or "", staff.staff_id, math.nan))

    # ------------------------------------------------------------- choices
    def _route_s(self, party: Party, to: Place) -> float:
        try:
            return self.router.route(party.place, to, use_lifts=party.use_lifts).time_s(party.speed_m_s)
        except NoRouteError:
            return math.inf

    def _nearest(self, party: Party, places: Sequence[Place]) -> Place | None:
        if not places:
            return None
        if len(places) == 1:
            return places[0]
        same = [p for p in places if p.floor_id == party.place.floor_id]
        pool = same or list(places)
        return min(pool, key=lambda p: self._route_s(party, p))

    def choose_service(self, party: Party, task: str) -> Service | None:
        """The desk or kiosk a party uses for ``task``: self-service by the type's share, then the
        quickest (walk plus expected wait) among those open; None when none is open."""
        kiosks = [s for s in self.kiosks if task in s.point.tasks and s.open_positions > 0]
        desks = [s for s in self.desks if task in s.point.tasks and s.open_positions > 0]
        if task == "help":
            pool = desks
        elif kiosks and (not desks or self.rng.random() < party.vt.self_service_p):
            pool = kiosks
        else:
            pool = desks or kiosks
        if not pool:
            return None
        return min(pool, key=lambda s: s.expected_wait_s(task) + self._route_s(party, self.service_places[s.id]))

    def service_place(self, svc: Service) -> Place:
        return self.service_places[svc.id]

    def subject_place(self, subject: str, near: Place) -> Place | None:
        return self._nearest_to(near, self.subjects.get(subject, []))

    def _nearest_to(self, near: Place, places: Sequence[Place]) -> Place | None:
        if not places:
            return None
        if len(places) == 1:
            return places[0]
        same = [p for p in places if p.floor_id == near.floor_id] or list(places)
        return min(same, key=lambda p: self.router.route(near, p).distance_m)

    def children_place(self, near: Place) -> Place | None:
        return self._nearest_to(near, self.children)

    def event_place(self, event_id: str) -> tuple[Place, float]:
        day = int(self.env.now // 86400)
        return self.event_times[(day, event_id)]

    def break_place(self, where: str, near: Place) -> Place | None:
        if where == "cafe":
            open_cafes = [self.service_places[c.id] for c in self.cafes if c.open_positions > 0]
            if open_cafes:
                return self._nearest_to(near, open_cafes)
        return self._nearest_to(near, self.restrooms)

    def cafe_at(self, place: Place) -> Service | None:
        svc = self.services.get(place.ref)
        return svc if svc is not None and svc.point.kind == "cafe" else None

    def find_seats(self, party: Party) -> list[int]:
        """Seats for the whole party (a logit draw; at one table for more than one), held now; [] if none."""
        prefs = party.vt.seat
        book = self.seats
        dist = self.router.seat_distances_m(party.place, use_lifts=party.use_lifts)
        ok = book.free & book.in_zone_kinds(prefs.zone_kinds)
        v = book.utilities(prefs, dist)
        if party.size == 1:
            i = choose_seat(v, ok, self.rng, prefs.min_utility)
            seats = [i] if i >= 0 else []
        else:
            seats = [int(i) for i in choose_table(v, ok, book.tables, party.size, self.rng, prefs.min_utility)]
        for m, i in zip(party.members, seats, strict=False):
            book.hold(i, m.unique_id)
            m.seat = i
        party.seats = seats
        return seats

    def seat_place(self, seat: int) -> Place:
        return self.router.seat_place(self.seats.ids[seat])

    def sit(self, party: Party, seats: Sequence[int]) -> None:
        t = self.env.now
        for m in party.members:
            if m.seat < 0:
                continue
            self.seats.present[m.seat] = True
            if self.seat_computer[m.seat]:
                self.computers.change(int(self.seat_zone[m.seat]), t, 1)
            self.log("seat_take", party, reader=m, ref=self.seats.ids[m.seat], zone_id=self.seats.zone_ids[m.seat])

    def stand(self, party: Party) -> None:
        t = self.env.now
        for m in party.members:
            if m.seat < 0:
                continue
            if self.seats.present[m.seat] and self.seat_computer[m.seat]:
                self.computers.change(int(self.seat_zone[m.seat]), t, -1)
            self.log("seat_leave", party, reader=m, ref=self.seats.ids[m.seat], zone_id=self.seats.zone_ids[m.seat])
            self.seats.release(m.seat, m.unique_id)
            m.seat = -1
        party.seats = []

    def away(self, party: Party, away: bool) -> None:
        """Readers of a party leave their seats for a break (seats stay theirs) or come back."""
        t = self.env.now
        for m in party.members:
            if m.seat < 0:
                continue
            self.seats.present[m.seat] = not away
            if self.seat_computer[m.seat]:
                self.computers.change(int(self.seat_zone[m.seat]), t, -1 if away else 1)

    def book_room(self, party: Party, stay_s: float) -> GroupRoom | None:
        room = self.rooms.book(party.id, party.size, self.env.now, stay_s)
        if room is not None:
            self.log("room_book", party, ref=room.point.zone_id)
        return room

    def room_place(self, room: GroupRoom) -> Place:
        return self.room_places[room.point.zone_id]

    def room_seats(self, room: GroupRoom, party: Party) -> list[int]:
        free = [self.seats.index[s] for s in room.point.seat_ids if self.seats.holder[self.seats.index[s]] < 0]
        seats = free[:party.size]
        for m, i in zip(party.members, seats, strict=False):
            self.seats.hold(i, m.unique_id)
            m.seat = i
        party.seats = seats
        return seats

    def release_room(self, party: Party, room: GroupRoom) -> None:
        self.rooms.release(room, self.env.now)
        self.log("room_release", party, ref=room.point.zone_id)

    # ------------------------------------------------------------- processes
    def _new_party(self, arrival: PartyArrival) -> Party:
        vt = self.demand.visitor_types[arrival.visitor_type]
        pid = self._next_party
        self._next_party += 1
        members = [Reader(self.model, visitor_type=arrival.visitor_type, party=pid,
                          speed_m_s=float(vt.speed_m_s.sample(self.rng))) for _ in range(arrival.size)]
        entrance = self.entrances[int(self.rng.integers(len(self.entrances)))] if len(self.entrances) > 1 \
            else self.entrances[0]
        event_s = 0.0
        if arrival.event is not None:
            _, end = self.event_times[(int(arrival.t_s // 86400), arrival.event)]
            event_s = end - arrival.t_s
        plan = plan_visit(vt, self.rng, subjects=self.subject_names, subject_weights=self.subject_weights,
                          has_children_zone=bool(self.children), has_group_rooms=bool(self.rooms.rooms),
                          event=arrival.event, event_s=event_s)
        use_lifts = bool(self.lifts) and self.rng.random() < vt.lift_p
        party = Party(pid, members, arrival.visitor_type, vt, plan, entrance, use_lifts=use_lifts,
                      event=arrival.event)
        self.parties[pid] = party
        return party

    def _arrive(self) -> Generator[simpy.Event, Any, None]:
        for a in self.arrivals:
            if a.t_s > self.env.now:
                yield self.env.timeout(a.t_s - self.env.now)
            party = self._new_party(a)
            self.env.process(party.journey(self.visit))

    def _physics(self) -> Generator[simpy.Event, Any, None]:
        dt_s = self.physics_spec.step_s
        env = self.env
        last_busy = {k.id: 0.0 for k in self.kiosks}
        last_lift = dict.fromkeys(self.lifts, 0.0)
        nz = len(self.zone_ids)
        while env.now + dt_s <= self.t_end + 1e-9:
            t0 = env.now
            yield env.timeout(dt_s)
            t1 = env.now
            people = self.people.take(t1) / dt_s
            readers = self.readers_in.take(t1) / dt_s
            comp = self.computers.take(t1) / dt_s
            kbusy = np.zeros(nz)
            for k in self.kiosks:
                tot = k.busy.total_at(t1)
                kbusy[self.zidx[k.point.zone_id]] += (tot - last_busy[k.id]) / dt_s
                last_busy[k.id] = tot
            running = 0.0
            for lid, lift in self.lifts.items():
                tot = lift.running.total_at(t1)
                running += (tot - last_lift[lid]) / dt_s
                last_lift[lid] = tot
            mid = (t0 + t1) / 2.0
            is_open = self.is_open(mid)
            st = self.physics.step(t0, dt_s, people=people, is_open=is_open, hvac_on=self.hvac_on(mid),
                                   computers_busy=comp, kiosks=self.kiosk_zone, kiosks_busy=kbusy,
                                   lifts_running=running)
            self.latest = st
            self._zone_rows.append((t0, st, people, readers, is_open))
            self._energy_rows.append((t0, dt_s, {u: float(st.power_w[u].sum()) for u in END_USES}))

    def _snapshot(self) -> Snapshot:
        st = self.latest
        return Snapshot(
            t_s=self.env.now,
            zone={"co2": st.co2_ppm, "temperature": st.temperature_c, "humidity": st.humidity_pct,
                  "illuminance": st.illuminance_lx, "sound_level": st.sound_db,
                  "occupancy": self.people.count.astype(float)},
            crossings_in=self.cross_in.copy(), crossings_out=self.cross_out.copy(),
            seat_present=self.seats.present.copy(), energy_wh=self.physics.energy_wh, power_w=st.power_w,
            queue=np.array([s.queue_length for s in self.service_list], dtype=np.int64),
            served=np.array([s.served for s in self.service_list], dtype=np.int64),
            open=np.array([s.open_positions > 0 for s in self.service_list], dtype=bool))

    def _progress(self, report: ProgressFn) -> Generator[simpy.Event, Any, None]:
        while self.env.now < self.t_end:
            yield self.env.timeout(min(3600.0, self.t_end - self.env.now))
            report(self.env.now / 3600.0, self.t_end / 3600.0,
                   f"{self.building.branch_id}: {self.in_building} in, {len(self.parties)} parties")

    # ------------------------------------------------------------- run
    def run(self, *, progress: ProgressFn | None = None) -> DayResult:
        """Run every process to the end of the last day and collect the tables and KPIs.

        ``progress(done_h, total_h, text)`` is called every simulated hour when given.
        """
        env = self.env
        env.process(self._arrive())
        for s in self.staff:
            env.process(s.work(env, self.move_staff))
        for k in self.kiosks:
            env.process(k.schedule(self.kiosk_intervals))
        for c in self.cafes:
            env.process(c.schedule(self.open_intervals))
        env.process(self._physics())
        for period in self.sensors.groups:
            env.process(self.sensors.process(env, period, self.t_end, self._snapshot))
        if progress:
            env.process(self._progress(progress))
        env.run(until=self.t_end + 1e-6)  # events due at the very end (last step, last readings) too
        return self._result()

    def _result(self) -> DayResult:
        events = pd.DataFrame(self._events, columns=[c for c in EVENT_COLUMNS if c != "time"])
        events.insert(1, "time", events["t_s"] + self.epoch0_s)
        events = events.astype({"reader": "int64", "party": "int64", "size": "int64", "value": "float64"})
        zones = self._zones_table()
        energy = pd.DataFrame({"t_s": [r[0] for r in self._energy_rows], "dt_s": [r[1] for r in self._energy_rows],
                               **{f"{u}_w": [r[2][u] for r in self._energy_rows] for u in END_USES}})
        energy.insert(1, "time", energy["t_s"] + self.epoch0_s)
        telemetry = self.sensors.table() if self.sensors.groups else empty_telemetry()
        kpis = compute_kpis(events, zones, energy, n_seats=len(self.seats), area_m2=self.building.area_m2,
                            open_intervals=self.open_intervals, t1_s=self.t_end)
        meta = {"branch": self.building.branch_id, "variant": self.building.variant, "seed": self.seed,
                "start": self.start.isoformat(), "days": len(self.dates),
                "timezone": self.resolved.scenario.branch.timezone, "epoch0_s": self.epoch0_s,
                "open_intervals_s": self.open_intervals, "in_building_at_end": self.in_building,
                "devices_not_simulated": [{"device": d, "why": w} for d, w in self.sensors.unbound],
                "walker": type(self.walker).__name__, "distance_fields": self.router.fields_computed,
                "walker_stats": dict(getattr(self.walker, "stats", {}))}
        return DayResult(kpis, zones, events, telemetry, energy, meta)

    def _zones_table(self) -> pd.DataFrame:
        nz = len(self.zone_ids)
        rows = self._zone_rows
        if not rows:
            return pd.DataFrame(columns=list(ZONE_COLUMNS))
        nt = len(rows)
        t = np.repeat([r[0] for r in rows], nz)

        def col(f: Callable[[Any], np.ndarray]) -> np.ndarray:
            return np.concatenate([f(r) for r in rows])

        power = col(lambda r: sum(r[1].power_w[u] for u in END_USES if u != "lifts"))
        return pd.DataFrame({
            "t_s": t, "time": t + self.epoch0_s,
            "zone_id": np.tile(np.array(self.zone_ids, dtype=object), nt),
            "floor_id": np.tile(np.array(self.physics.geo.floor_ids, dtype=object), nt),
            "is_open": np.repeat([r[4] for r in rows], nz),
            "occupancy": col(lambda r: r[2]), "readers": col(lambda r: r[3]),
            "co2_ppm": col(lambda r: r[1].co2_ppm), "temperature_c": col(lambda r: r[1].temperature_c),
            "humidity_pct": col(lambda r: r[1].humidity_pct), "illuminance_lx": col(lambda r: r[1].illuminance_lx),
            "sound_db": col(lambda r: r[1].sound_db), "ventilation_l_s": col(lambda r: r[1].ventilation_l_s),
            "power_w": power})


def run_day(building: Building, resolved: ResolvedScenario, *, seed: int, days: int = 1,
            progress: ProgressFn | None = None, start: dt.date | None = None,
            walker: WalkerFactory | str | None = None) -> DayResult:
    """Simulate ``days`` days of a branch and return KPIs and the zones, events and telemetry tables.

    Parameters
    ----------
    building
        The branch building (``build_building(resolved)``).
    resolved
        The scenario the building came from (``apply_variant(load_scenario(path), variant)``); its
        demand, services, staff and physics sections (variant applied) drive the day.
    seed
        Seed of the one random generator: the same seed gives the same result.
    days
        Number of days, from ``start`` (default: the scenario's ``demand.start_date``).
    progress
        Called every simulated hour as ``progress(done_h, total_h, text)`` (None or False: silent).
    walker
        Factory of the walker, or its name: ``"grid"`` (the default: shortest path / speed) or
        ``"crowd"`` (everyone walking moves in the crowd kernel, :mod:`simulation.day.crowdwalk`).

    Raises
    ------
    geometry.errors.ScenarioError
        When a section of the scenario is wrong (file, line and field named).
    """
    return LibraryDay(building, resolved, seed=seed, days=days, start=start, walker=walker).run(
        progress=progress)
