"""BranchTwin: one branch's building and devices plus its live state, updated incrementally from readings.

Readings come in batches (what the ingest committed, or what the store follower read) and are
applied in time order; nothing rescans history. Every ``tick_s`` of reading time (the twin's
clock) the twin estimates the occupancy of every zone, records it in its history, and checks the
time-based alerts (a zone over capacity, a device silent); value-based alerts (CO2, queues) are
checked as their readings arrive. ``state(now)`` gives an immutable :class:`~twin.state.BranchState`.

Occupancy per zone fuses what the zone has (inverse-variance, :func:`twin.estimate.fuse`):
presence/occupancy sensors, seat sensors scaled from the sampled seats to all, CO2 with the
zone's mass balance inverted, counters at every door of a zone; zones with no sensor get a prior
(their share of the building total, or the typical occupancy at that hour when given). When the
entrances are counted (in minus out since the last time the branch was known empty, with the
out-counts scaled by the previous day's in/out ratio to correct drift), the zones are reconciled
with that building total (:func:`twin.estimate.reconcile`).

The order readings arrive in does not matter within a tick: counters are sums, everything else
keeps the newest reading per device and quantity; a reading older than the newest of its device
and quantity is counted ``late`` (a counter's is still added to its day), a repeated one ``duplicate``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from geometry.model import OUTSIDE, Building, Device
from geometry.scenario.hours import OpeningHours
from geometry.scenario.source import ResolvedScenario
from simulation.day.physics import END_USES, PhysicsSpec, ZonePhysics
from telemetry.records import Reading

from .alerts import AlertRule, Debouncer
from .estimate import (
    co2_category,
    co2_linear_response,
    co2_occupancy_estimate,
    co2_occupancy_linear,
    fuse,
    reconcile,
    seat_sample_estimate,
    temperature_deviation_k,
    zone_capacity,
)
from .health import DeviceTracker
from .state import (
    Alert,
    AlertKind,
    ApplyResult,
    BranchState,
    LatestValue,
    OccupancySource,
    QueueState,
    ZoneState,
)

#: Problems listed per batch (the rest are only counted).
MAX_PROBLEMS = 5

#: Indoor-air quantities checked for plausibility as they arrive.
_ENV_QUANTITIES = frozenset({"co2", "temperature", "humidity"})


@dataclass(frozen=True, kw_only=True)
class TwinConfig:
    """How the twin estimates, judges devices and raises alerts.

    Parameters
    ----------
    tick_s
        Reading time between occupancy estimates, history rows and time-based alert checks [s].
    history_s
        History kept in memory [s].
    silence_periods
        A device silent for more than this many of its periods is offline.
    stuck_s
        The same CO2 or humidity value for this long while open is flagged stuck [s].
    co2_limit_above_outdoor_ppm
        CO2 alert limit above outdoor [ppm] (800: the top of EN 16798-1 category II).
    queue_target
        People waiting above which a queue alert is raised [persons].
    empty_after_close_s
        The branch is known to be empty this long after closing; counters restart from 0 then [s].
    counter_rel_sd
        Relative miscount of a people counter (standard deviation per counted person).
    co2_sensor_sd_ppm
        Noise of a CO2 reading when the scenario gives none [ppm].
    occupancy_sensor_sd
        Noise of an occupancy sensor when the scenario gives none [persons].
    seated_share
        Share of a zone's people who sit, by zone kind (for seat sensors; default 1).
    co2_rule, capacity_rule, offline_rule, queue_rule
        Hold times and hysteresis of each alert kind.
    """

    tick_s: float = 60.0
    history_s: float = 2 * 86400.0
    silence_periods: float = 3.0
    stuck_s: float = 3 * 3600.0
    co2_limit_above_outdoor_ppm: float = 800.0
    queue_target: float = 5.0
    empty_after_close_s: float = 1800.0
    counter_rel_sd: float = 0.02
    co2_sensor_sd_ppm: float = 10.0
    occupancy_sensor_sd: float = 0.5
    seated_share: Mapping[str, float] = field(default_factory=dict)
    co2_rule: AlertRule = field(default_factory=lambda: AlertRule(hold_s=300.0, clear_hold_s=300.0, hysteresis=100.0))
    capacity_rule: AlertRule = field(default_factory=lambda: AlertRule(hold_s=300.0, clear_hold_s=300.0,
                                                                       hysteresis_ratio=0.1))
    offline_rule: AlertRule = field(default_factory=lambda: AlertRule(hold_s=0.0, clear_hold_s=0.0))
    queue_rule: AlertRule = field(default_factory=lambda: AlertRule(hold_s=120.0, clear_hold_s=120.0, hysteresis=1.0))

    def __post_init__(self) -> None:
        if not self.tick_s > 0:
            raise ValueError(f"tick_s must be positive, got {self.tick_s}")
        if not self.silence_periods > 0:
            raise ValueError(f"silence_periods must be positive, got {self.silence_periods}")


@dataclass(frozen=True, kw_only=True)
class ZonePrior:
    """Typical occupancy of each zone by hour of day (local), e.g. a simulation's mean day.

    Parameters
    ----------
    hourly
        Zone id -> 24 mean occupants, hour 0 first [persons].
    """

    hourly: Mapping[str, Sequence[float]]

    @classmethod
    def from_zones_table(cls, zones: pd.DataFrame, timezone: str) -> ZonePrior:
        """From a simulation's zone table (``zone_id``, ``time`` [UTC epoch s], ``occupancy``)."""
        tz = ZoneInfo(timezone)
        hours = pd.to_datetime(zones["time"], unit="s", utc=True).dt.tz_convert(tz).dt.hour
        g = zones.assign(hour=hours).groupby(["zone_id", "hour"])["occupancy"].mean()
        out: dict[str, list[float]] = {}
        for (z, h), v in g.items():
            out.setdefault(str(z), [0.0] * 24)[int(h)] = float(v)
        return cls(hourly=out)


@dataclass(frozen=True, kw_only=True)
class TwinInputs:
    """What a twin needs from a scenario: the building, its physics, opening hours and time zone.

    ``resolved`` keeps the scenario they were read from, so readers of the hub (the dashboard's
    indicators and busiest times) need not parse the file again.
    """

    building: Building
    physics: PhysicsSpec
    hours: OpeningHours
    timezone: str
    source: str = ""
    resolved: ResolvedScenario | None = None


def load_twin_inputs(path: str | Path, variant: str | None = None) -> TwinInputs:
    """Read a scenario file into :class:`TwinInputs` (the scenario's errors name file and line).

    Raises
    ------
    geometry.ScenarioError
        When the scenario has mistakes.
    """
    from geometry.build import build_building
    from geometry.scenario.source import resolve_file
    from simulation.day.physics import load_physics
    from simulation.day.services import load_services

    resolved = resolve_file(path, variant)
    building = build_building(resolved, check_reach=False)
    return TwinInputs(building=building, physics=load_physics(resolved, building),
                      hours=load_services(resolved).hours, timezone=resolved.scenario.branch.timezone,
                      source=str(path), resolved=resolved)


@dataclass
class _Counter:
    """A people counter at a door: sums of its counts in the current 'since empty' period."""

    device: Device
    tracker: DeviceTracker
    into: str  # zone that ``people_in`` goes into
    other: str  # zone on the other side
    epoch: float = -math.inf
    n_in: float = 0.0
    n_out: float = 0.0
    var: float = 0.0
    out_scale: float = 1.0
    seen: set[tuple[str, float]] = field(default_factory=set)

    def net_into(self, zone: str) -> float:
        net = self.n_in - self.out_scale * self.n_out
        return net if zone == self.into else -net


@dataclass
class _Co2:
    """The newest two CO2 readings of a device and the occupancy they imply."""

    t0: float = -math.inf
    c0: float = math.nan
    t1: float = -math.inf
    c1: float = math.nan
    estimate: tuple[float, float] | None = None  # (mean, std) over (t0, t1]


class BranchTwin:
    """The live mirror of one branch.

    Parameters
    ----------
    inputs
        Building, physics, opening hours and time zone (see :func:`load_twin_inputs`).
    config
        Estimation, health and alert settings.
    prior
        Typical occupancy by hour for zones without sensors (default: their share of the
        building total by capacity).
    """

    def __init__(self, *, inputs: TwinInputs, config: TwinConfig | None = None, prior: ZonePrior | None = None) -> None:
        self.inputs = inputs
        self.config = cfg = config or TwinConfig()
        self.prior = prior
        b = self.building = inputs.building
        self.branch = b.branch_id
        self.tz = ZoneInfo(inputs.timezone)
        self.hours = inputs.hours
        self.physics = ZonePhysics(b, inputs.physics)
        geo = self.physics.geo
        self.zone_ids: tuple[str, ...] = geo.zone_ids
        self.zidx = {z: i for i, z in enumerate(self.zone_ids)}
        self._zones = [b.zone(z) for z in self.zone_ids]
        seats = b.seats_per_zone()
        self.seats = np.array([seats[z] for z in self.zone_ids], dtype=np.int64)
        self.capacity = np.array([zone_capacity(z.kind, z.area_m2, seats[z.id]) for z in self._zones], dtype=np.int64)
        self.outdoor_ppm = inputs.physics.outdoor.co2_ppm
        self.co2_limit_ppm = self.outdoor_ppm + cfg.co2_limit_above_outdoor_ppm
        self.devices: dict[str, Device] = {d.id: d for d in b.devices}
        self.trackers = {d.id: DeviceTracker(d, cfg.silence_periods, cfg.stuck_s) for d in b.devices}
        self._noise = {d.id: dict(d.noise) for d in b.devices}
        seat_zone = {s.id: s.zone_id for s in b.seats}
        openings = {o.id: o for o in b.openings}
        self.seat_zone: dict[str, str] = {}
        self.counters: dict[str, _Counter] = {}
        for d in b.devices:
            if d.type == "seat_sensor" and d.seat_id in seat_zone:
                self.seat_zone[d.id] = seat_zone[d.seat_id]
            elif d.type == "people_counter" and d.opening_id in openings:
                za, zb = openings[d.opening_id].zones
                self.counters[d.id] = _Counter(d, self.trackers[d.id], za, zb)
        # zones whose every door is counted (and no stair or lift) are measured by their counters
        counted = {c.device.opening_id for c in self.counters.values()}
        linked = {stop[1] for lk in b.links for stop in lk.stops}
        self.counted_zones: set[str] = set()
        for z in self.zone_ids:
            doors = [o.id for o in b.openings if z in o.zones]
            if doors and z not in linked and all(o in counted for o in doors):
                self.counted_zones.add(z)
        entrances = {o.id for o in b.openings if o.is_entrance}
        self.building_counted = bool(entrances) and entrances <= counted
        self._outside_counters = [c for c in self.counters.values() if OUTSIDE in (c.into, c.other)]
        # working state
        self.latest: dict[tuple[str, str], tuple[float, float | bool | str, str]] = {}  # -> (time, value, unit)
        self._info: dict[str, tuple[Device, DeviceTracker, _Counter | None]] = {
            d.id: (d, self.trackers[d.id], self.counters.get(d.id)) for d in b.devices}
        self._slots: dict[tuple[str, str], _Slot] = {}  # (device, quantity) -> how apply handles it
        self._seat_devices = [(dev, self.zidx[z], self.trackers[dev]) for dev, z in self.seat_zone.items()
                              if z in self.zidx]
        self._occupancy_devices = [
            (d.id, self.zidx[d.zone_id], self.trackers[d.id], self._noise[d.id].get("occupancy", 0.0)
             or cfg.occupancy_sensor_sd) for d in b.devices
            if d.type == "occupancy" and d.zone_id in self.zidx and "occupancy" in d.quantities]
        self._co2_devices = [(d.id, self.zidx[d.zone_id], self.trackers[d.id]) for d in b.devices
                             if "co2" in d.quantities and d.zone_id in self.zidx]
        # what the per-tick estimate reads, grouped once: the seat sensors of each zone, the keys of
        # ``latest`` each source reads, the counters at the doors of each counted zone
        seat_groups: dict[int, list[tuple[tuple[str, str], DeviceTracker]]] = {}
        for dev, i, tr in self._seat_devices:
            seat_groups.setdefault(i, []).append(((dev, "seat_occupied"), tr))
        self._seat_groups = [(i, tuple(g), int(self.seats[i]), cfg.seated_share.get(self._zones[i].kind, 1.0))
                             for i, g in seat_groups.items()]
        self._seat_estimates: dict[tuple[int, int, int], tuple[float, float]] = {}  # (zone, taken, sampled) ->
        self._occupancy_sources = [((dev, "occupancy"), i, tr, sd) for dev, i, tr, sd in self._occupancy_devices]
        self._co2_sources = [(dev, i, tr, 2 * tr.device.period_s) for dev, i, tr in self._co2_devices]
        self._counted_sources = [(self.zidx[z], tuple(c for c in self.counters.values() if z in (c.into, c.other)))
                                 for z in self.counted_zones]
        cap = self.capacity.astype(float)
        self._cap_share = (cap / max(float(cap.sum()), 1.0)).tolist()  # a zone's share of the building
        self._cap_open_sd = (0.25 * cap + 1.0).tolist()  # the prior's std while open, nothing else known
        # zones over this are over capacity (a zone of no capacity never is)
        self._over_limit = np.where(self.capacity > 0, cap, math.inf)
        self._capacity_debouncers: dict[str, Debouncer] = {}  # zone -> its over_capacity debouncer
        self._silence_due = -math.inf  # before this no device can have fallen silent (-inf: look again)
        self._open_now = False
        self._total_std = 0.0
        self._offline: set[str] = set()  # devices with an offline alert active
        self._co2_response: dict[tuple[int, bool, float], tuple[float, float, float]] = {}
        self._epoch_span = (math.inf, -math.inf, -math.inf)  # (from, to, epoch): _epoch's last answer
        self.co2: dict[str, _Co2] = {}
        self.energy_first: dict[str, float] = {}
        self.clock: float | None = None  # the newest reading time applied [UTC epoch s]
        self._next_tick: float | None = None
        self.readings = 0
        self._debouncers: dict[tuple[AlertKind, str], Debouncer] = {}
        self.alert_log: list[Alert] = []  # raised and ended, in order
        self._alerts_taken = 0
        self._history_t: list[float] = []
        self._history_m: list[np.ndarray] = []
        self._history_s: list[np.ndarray] = []
        self._epoch_cache: dict[dt.date, float] = {}
        self._hvac_cache: dict[float, bool] = {}  # time -> hvac_on

    @classmethod
    def from_scenario(cls, path: str | Path, *, variant: str | None = None, config: TwinConfig | None = None,
                      prior: ZonePrior | None = None) -> BranchTwin:
        """A twin of the branch a scenario file describes."""
        return cls(inputs=load_twin_inputs(path, variant), config=config, prior=prior)

    # ------------------------------------------------------------------ time
    def _local(self, t: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(t, self.tz)

    def is_open(self, t: float) -> bool:
        """Whether the branch is open at ``t`` [UTC epoch s] by its opening hours."""
        lt = self._local(t)
        return self.hours.is_open(lt.weekday(), lt.hour * 3600.0 + lt.minute * 60.0 + lt.second)

    def hvac_on(self, t: float) -> bool:
        """Whether ventilation runs at ``t`` (from before opening to after closing, as in the simulation)."""
        on = self._hvac_cache.get(t)  # the CO2 sensors of a branch mostly report at the same times
        if on is None:
            if len(self._hvac_cache) >= 4096:
                self._hvac_cache.clear()
            on = self._hvac_cache[t] = self._hvac_on(t)
        return on

    def _hvac_on(self, t: float) -> bool:
        lt = self._local(t)
        s = lt.hour * 3600.0 + lt.minute * 60.0 + lt.second
        v = self.inputs.physics.ventilation
        for day_shift in (-1, 0, 1):
            wd = (lt.weekday() - day_shift) % 7
            for a, b in self.hours.intervals(wd):
                if a - v.before_open_s <= s + day_shift * 86400.0 < b + v.after_close_s:
                    return True
        return False

    def _epoch(self, t: float) -> float:
        """The last instant at or before ``t`` the branch was known empty (closing + margin) [UTC epoch s]."""
        lo, hi, e = self._epoch_span
        if lo <= t < hi:
            return e
        d = self._local(t).date()
        resets = [self._reset(d + dt.timedelta(days=k)) for k in range(-8, 3)]
        e = max((r for r in resets if r <= t), default=-math.inf)
        nxt = min((r for r in resets if r > t), default=t + 1.0)
        self._epoch_span = (e if math.isfinite(e) else t, nxt, e)
        return e

    def _reset(self, day: dt.date) -> float:
        """When the branch is known empty on ``day``: its closing plus the margin, or midnight if closed."""
        e = self._epoch_cache.get(day)
        if e is None:
            midnight = dt.datetime.combine(day, dt.time(0), tzinfo=self.tz).timestamp()
            iv = self.hours.intervals(day.weekday())
            e = midnight + iv[-1][1] + self.config.empty_after_close_s if iv else midnight
            self._epoch_cache[day] = e
        return e

    # ------------------------------------------------------------------ feeding
    def apply(self, readings: pa.Table | pd.DataFrame | Iterable[Reading]) -> ApplyResult:
        """Apply validated readings of this branch (telemetry columns), in time order.

        Parameters
        ----------
        readings
            An Arrow table or DataFrame with the telemetry columns, or :class:`Reading` objects.
            Rows of other branches, unknown devices or quantities a device does not measure are
            ignored and counted.

        Returns
        -------
        ApplyResult
            What was applied and what was ignored, with sentences naming it.
        """
        cols = _columns(readings, self.branch)
        if cols is None:
            return ApplyResult()
        applied = dup = late = unknown = 0
        problems: list[str] = []
        slots = self._slots
        latest = self.latest
        offline = self._offline
        queue_target = self.config.queue_target
        next_tick = self._next_tick if self._next_tick is not None else -math.inf
        last_t: float | None = None  # the newest time applied (the rows are in time order)
        for device, q, unit, t, v in zip(*cols, strict=True):
            key = (device, q)
            slot = slots.get(key)
            if slot is None:  # a device quantity not seen yet, or a row rejected by _columns
                slot, text = self._slot(device, q)
                if slot is None:
                    unknown += 1
                    if len(problems) < MAX_PROBLEMS:
                        problems.append(text)
                    continue
            d, tr, counter, kind = slot
            if t > next_tick:
                self._advance_to(t)
                next_tick = self._next_tick if self._next_tick is not None else -math.inf
            last_t = t
            if tr.status_offline_at is not None and t > tr.status_offline_at:
                tr.status_offline_at = None  # a reading after its goodbye: it is back
                self._silence_due = -math.inf
            if offline and device in offline and tr.status_offline_at is None:
                self._debounce("device_offline", device, t, 0.0, 0.5)
            if counter is not None:
                outcome = self._count(counter, tr, q, t, float(v))
                if outcome == 0:
                    applied += 1
                elif outcome == 1:
                    dup += 1
                else:
                    late += 1
                continue
            prev = latest.get(key)
            if prev is not None and t <= prev[0]:
                if t == prev[0]:
                    dup += 1
                else:
                    late += 1
                continue
            applied += 1
            latest[key] = (t, v, unit)
            if tr.last_seen is None:
                tr.last_seen = t
                self._silence_due = -math.inf  # heard for the first time: it can fall silent
            elif t > tr.last_seen:
                tr.last_seen = t
            if kind:
                if kind in (_INDOOR_AIR, _ZONE_CO2):
                    tr.check(q, v, t, self._open_now)
                    if kind == _ZONE_CO2:
                        self._co2(d, t, v)
                elif kind == _QUEUE:
                    self._debounce("queue", device, t, v, queue_target)
                elif device not in self.energy_first:
                    self.energy_first[device] = v
        if last_t is not None and (self.clock is None or last_t > self.clock):
            self.clock = last_t
        self.readings += applied
        return ApplyResult(applied=applied, duplicates=dup, late=late, unknown=unknown, problems=tuple(problems))

    def _slot(self, device: str | _Rejected, q: str) -> tuple[_Slot | None, str]:
        """What :meth:`apply` needs of a device quantity (kept for its next readings), or the row's problem.

        Returns
        -------
        slot, problem
            ``(device, tracker, counter, kind)`` and ``""``; or None and the sentence naming what
            is wrong with the row (in the order checked: branch, device, quantity, value, time).
        """
        if isinstance(device, _Rejected):
            rejected: _Rejected | None = device
            if device.before_device:
                return None, device.problem
            dev = device.device
        else:
            rejected, dev = None, device
        di = self._info.get(dev)
        if di is None:
            return None, f"device '{dev}' is not in branch '{self.branch}'"
        d, tr, counter = di
        if q not in d.quantities:
            return None, f"device '{dev}' does not measure '{q}' (it measures {', '.join(d.quantities)})"
        if rejected is not None:
            return None, rejected.problem
        if counter is not None and (q == "people_in" or q == "people_out"):
            kind = _COUNT
        elif q in _ENV_QUANTITIES:
            kind = _ZONE_CO2 if q == "co2" and d.zone_id in self.zidx else _INDOOR_AIR
        else:
            kind = {"queue_length": _QUEUE, "energy": _ENERGY}.get(q, _PLAIN)
        slot = self._slots[dev, q] = (d, tr, counter if kind == _COUNT else None, kind)
        return slot, ""

    def apply_status(self, device: str, status: str, t: float) -> bool:
        """A message on a device's retained status topic (``online`` or ``offline``) received at ``t``.

        Returns False (and changes nothing) for an unknown device or status.
        """
        tr = self.trackers.get(device)
        if tr is None or status not in ("online", "offline"):
            return False
        tr.status(status, t)
        self._silence_due = -math.inf  # back after a goodbye, it can fall silent
        self._debounce("device_offline", device, t, 1.0 if status == "offline" else 0.0, 0.5)
        return True

    def advance(self, now: float) -> None:
        """Bring the clock-driven parts (estimates, silence, alerts) up to ``now`` without a reading.

        Ticks run for every ``tick_s`` boundary before ``now``; the clock moves to ``now``.
        """
        self._advance_to(now)
        self._check_silence(now)
        if self.clock is None or now > self.clock:
            self.clock = now

    def _advance_to(self, t: float) -> None:
        """Run the ticks of every boundary before ``t`` (readings at ``t`` come after them)."""
        tick = self.config.tick_s
        if self._next_tick is None:  # the first tick is the first boundary at or after the first reading
            self._next_tick = math.ceil(t / tick) * tick
            self._open_now = self.is_open(t)
            return
        if t - self._next_tick > self.config.history_s:  # a long gap: skip to the last ticks
            self._next_tick = math.floor((t - self.config.history_s) / tick) * tick
        while self._next_tick < t:
            self._tick(self._next_tick)
            self._next_tick += tick

    def _count(self, c: _Counter, tr: DeviceTracker, q: str, t: float, v: float) -> int:
        """Add a people count to its period; 0 applied, 1 duplicate, 2 late (a period already closed)."""
        if (q, t) in c.seen:
            return 1
        epoch = self._epoch(t)
        if epoch < c.epoch:
            return 2
        if epoch > c.epoch:
            if c.n_in > 20 and c.n_out > 20:  # drift: in and out should balance over a day that ends empty
                c.out_scale = min(max(c.n_in / c.n_out, 0.8), 1.25)
            c.epoch, c.n_in, c.n_out, c.var = epoch, 0.0, 0.0, 0.0
            c.seen.clear()
        c.seen.add((q, t))
        if q == "people_in":
            c.n_in += v
        else:
            c.n_out += v
        sd = self._noise[c.device.id].get(q, 0.0)
        c.var += sd * sd + (self.config.counter_rel_sd * v) ** 2
        if tr.last_seen is None:
            tr.last_seen = t
            self._silence_due = -math.inf  # heard for the first time: it can fall silent
        elif t > tr.last_seen:
            tr.last_seen = t
        key = (c.device.id, q)
        prev = self.latest.get(key)
        if prev is None or t > prev[0]:
            self.latest[key] = (t, v, "count")
        return 0

    def _co2(self, d: Device, t: float, c: float) -> None:
        s = self.co2.setdefault(d.id, _Co2())
        s.t0, s.c0, s.t1, s.c1 = s.t1, s.c1, t, c
        s.estimate = None
        dt_s = s.t1 - s.t0
        if math.isfinite(dt_s) and 0 < dt_s <= 2.5 * d.period_s:
            i = self.zidx[d.zone_id]  # type: ignore[index]
            hvac = self.hvac_on(0.5 * (s.t0 + s.t1))
            sd = self._noise[d.id].get("co2", 0.0) or self.config.co2_sensor_sd_ppm
            phys = self.physics
            spec = self.inputs.physics
            if spec.ventilation.mode != "dcv" or not hvac:  # ventilation does not depend on the people
                key = (i, hvac, dt_s)
                resp = self._co2_response.get(key)
                if resp is None:
                    q = float(phys.ventilation_l_s(np.zeros(len(self.zone_ids)), hvac)[i])
                    resp = self._co2_response[key] = co2_linear_response(
                        volume_m3=float(phys.geo.volume_m3[i]), ventilation_l_s=q, dt_s=dt_s,
                        generation_l_s=spec.co2_l_s_per_person, outdoor_ppm=self.outdoor_ppm)
                s.estimate = co2_occupancy_linear(s.c0, s.c1, resp, sensor_sd_ppm=sd)
            else:
                nz = len(self.zone_ids)

                def vent(n: float) -> float:
                    people = np.zeros(nz)
                    people[i] = n
                    return float(phys.ventilation_l_s(people, hvac)[i])

                s.estimate = co2_occupancy_estimate(
                    s.c0, s.c1, dt_s, volume_m3=float(phys.geo.volume_m3[i]), ventilation_l_s=vent,
                    generation_l_s=spec.co2_l_s_per_person, outdoor_ppm=self.outdoor_ppm,
                    sensor_sd_ppm=sd, max_people=10.0 * max(float(self.capacity[i]), 10.0))
        self._debounce("co2", d.zone_id or d.id, t, c, self.co2_limit_ppm)

    def _debounce(self, kind: AlertKind, subject: str, t: float, value: float, limit: float) -> None:
        key = (kind, subject)
        db = self._debouncers.get(key)
        if db is None:
            if value <= limit:
                return  # nothing to watch yet
            rule = {"co2": self.config.co2_rule, "over_capacity": self.config.capacity_rule,
                    "device_offline": self.config.offline_rule, "queue": self.config.queue_rule}[kind]
            unit = {"co2": "ppm", "over_capacity": "persons", "device_offline": "", "queue": "persons"}[kind]
            db = self._debouncers[key] = Debouncer(kind=kind, branch=self.branch, subject=subject, rule=rule,
                                                   unit=unit)
            if kind == "over_capacity":
                self._capacity_debouncers[subject] = db
        elif db.idle and value <= limit:
            return
        changed = db.update(t, value, limit)
        if changed is not None:
            self.alert_log.append(changed)
            if kind == "device_offline":
                if changed.ended is None:
                    self._offline.add(subject)
                else:
                    self._offline.discard(subject)
                    self._silence_due = -math.inf  # it can fall silent again

    def _tick(self, t: float) -> None:
        self._open_now = self.is_open(t)
        means, stds, _ = self._estimate(t, want_sources=False)
        self._history_t.append(t)
        self._history_m.append(means.astype(np.float32))
        self._history_s.append(stds.astype(np.float32))
        keep = int(self.config.history_s / self.config.tick_s)
        if len(self._history_t) > keep + 64:
            drop = len(self._history_t) - keep
            del self._history_t[:drop], self._history_m[:drop], self._history_s[:drop]
        over = means > self._over_limit
        for z, db in self._capacity_debouncers.items():
            if not db.idle:
                i = self.zidx[z]
                self._debounce("over_capacity", z, t, float(means[i]), float(self.capacity[i]))
        if over.any():
            for j in np.flatnonzero(over).tolist():
                if self.zone_ids[j] not in self._capacity_debouncers:
                    self._debounce("over_capacity", self.zone_ids[j], t, float(means[j]), float(self.capacity[j]))
        self._check_silence(t)

    def _check_silence(self, now: float) -> None:
        """Devices silent for more than their periods at ``now`` go offline (from the moment the silence passed).

        Each scan notes when the next device can fall silent at the earliest, so the calls before
        then return at once. Readings only push that moment later; what can bring it earlier (a
        device heard for the first time, back after its goodbye, or whose offline alert ended)
        sets it to ``-inf`` so the next call scans again.
        """
        if now < self._silence_due:
            return
        due = math.inf
        offline = self._offline
        for dev, tr in self.trackers.items():
            if tr.last_seen is not None and tr.status_offline_at is None and dev not in offline:
                if now - tr.last_seen > tr.silence_s:
                    self._debounce("device_offline", dev, tr.last_seen + tr.silence_s, 1.0, 0.5)
                    if dev not in offline:  # its alert waits for a hold time: look again next time
                        due = -math.inf
                else:
                    due = min(due, tr.last_seen + tr.silence_s)
        # a second early: the sum above is rounded, the test of silence is not
        self._silence_due = due - 1.0

    # ------------------------------------------------------------------ estimation
    def _usable(self, tr: DeviceTracker, now: float) -> bool:
        return tr.status_offline_at is None and tr.last_seen is not None and now - tr.last_seen <= tr.silence_s

    def _estimate(self, now: float, want_sources: bool = True) -> tuple[np.ndarray, np.ndarray,
                                                                          list[tuple[OccupancySource, ...]]]:
        """Occupancy of every zone at ``now``: means, standard deviations, sources (if wanted) [persons].

        Runs every tick, so the device checks of :meth:`_usable` are written out in the loops.
        """
        nz = len(self.zone_ids)
        latest = self.latest
        # the estimates of each zone that has some, in the order they are fused: seat sensors,
        # occupancy sensors, CO2, counters
        per_zone: dict[int, list[tuple[OccupancySource, float, float]]] = {}
        seat_estimates = self._seat_estimates
        for i, group, seats, share in self._seat_groups:
            taken = sampled = 0
            for key, tr in group:
                lv = latest.get(key)
                if (lv is not None and tr.status_offline_at is None and tr.last_seen is not None
                        and now - tr.last_seen <= tr.silence_s):
                    taken += bool(lv[1])
                    sampled += 1
            if sampled:
                seat = seat_estimates.get((i, taken, sampled))
                if seat is None:
                    seat = seat_estimates[i, taken, sampled] = seat_sample_estimate(taken, sampled, seats,
                                                                                    seated_share=share)
                per_zone[i] = [("seat_sensors", seat[0], seat[1])]
        for key, i, tr, sd in self._occupancy_sources:
            lv = latest.get(key)
            if (lv is not None and tr.status_offline_at is None and tr.last_seen is not None
                    and now - tr.last_seen <= tr.silence_s):
                e: tuple[OccupancySource, float, float] = ("occupancy_sensor", float(lv[1]), sd)
                zone = per_zone.get(i)
                if zone is None:
                    per_zone[i] = [e]
                else:
                    zone.append(e)
        co2 = self.co2
        for dev, i, tr, window in self._co2_sources:
            s = co2.get(dev)
            if (s is not None and s.estimate is not None and now - s.t1 <= window and tr.status_offline_at is None
                    and tr.last_seen is not None and now - tr.last_seen <= tr.silence_s and not tr.flagged("co2")):
                n, sd = s.estimate
                if math.isfinite(sd):
                    # the model is a well-mixed zone: add 10 % of the estimate for what it leaves out
                    e = ("co2", n, math.hypot(sd, 0.1 * n, 0.5))
                    zone = per_zone.get(i)
                    if zone is None:
                        per_zone[i] = [e]
                    else:
                        zone.append(e)
        usable = self._usable
        epoch = self._epoch(now)
        for i, cs in self._counted_sources:
            if not all(usable(c.tracker, now) for c in cs):
                continue
            net = sum(c.net_into(self.zone_ids[i]) if c.epoch == epoch else 0.0 for c in cs)
            var = sum(c.var for c in cs if c.epoch == epoch)
            per_zone.setdefault(i, []).append(("counters", max(net, 0.0), math.sqrt(var) + 0.5))
        total: tuple[float, float] | None = None
        outside = self._outside_counters
        if self.building_counted and all(usable(c.tracker, now) for c in outside):  # a silent counter misses people
            net = var = 0.0
            for c in outside:
                if c.epoch == epoch:
                    net += c.net_into(c.into if c.into != OUTSIDE else c.other)
                    var += c.var
            total = (max(net, 0.0), math.sqrt(var) + 0.5)
        if len(per_zone) < nz:
            m_list, s_list = self._prior(now, total, per_zone)
        else:
            m_list, s_list = [0.0] * nz, [0.0] * nz
        for i, est in per_zone.items():
            if len(est) == 1:
                m_list[i], s_list[i] = est[0][1], est[0][2]
            else:
                m_list[i], s_list[i] = fuse([(m, s) for _, m, s in est])
        sources: list[tuple[OccupancySource, ...]] = []
        if want_sources:
            for i in range(nz):
                est = per_zone.get(i, [])
                if len(est) == 1:
                    sources.append((est[0][0],))
                elif est:
                    order = sorted(est, key=lambda e: e[2])
                    sources.append(tuple(dict.fromkeys(src for src, _, _ in order)))
                else:
                    sources.append(("prior",))
        means = np.array(m_list)
        stds = np.array(s_list)
        var_sum = float((stds ** 2).sum())
        if total is not None:
            means, stds = reconcile(means, stds, total[0], total[1])
            vt = total[1] ** 2
            var_sum = var_sum * vt / (var_sum + vt) if var_sum + vt > 0 else 0.0
        self._total_std = math.sqrt(var_sum)
        return means, stds, sources

    def _prior(self, now: float, total: tuple[float, float] | None,
               sensed: Container[int]) -> tuple[list[float], list[float]]:
        """Means and standard deviations of every zone by the prior (the zones without a sensor keep them).

        The prior is the typical occupancy at this hour when given (left 0 for the ``sensed``
        zones), else a zone's share of the building total by capacity, else 0 (uncertain by a
        quarter of the capacity while open).
        """
        if self.prior is not None:
            hour = self._local(now).hour
            hourly = self.prior.hourly
            means = []
            for i, z in enumerate(self.zone_ids):
                typ = hourly.get(z) if i not in sensed else None
                means.append(float(typ[hour]) if typ is not None else 0.0)
            return means, [0.5 * m + 1.0 for m in means]
        if total is not None:
            means = [share * total[0] for share in self._cap_share]
            return means, [0.5 * m + 1.0 for m in means]
        nz = len(self.zone_ids)
        return [0.0] * nz, list(self._cap_open_sd) if self.is_open(now) else [1.0] * nz

    # ------------------------------------------------------------------ reading out
    def latest_values(self) -> list[LatestValue]:
        """The newest reading of every device quantity, flagged where the device's checks flag it."""
        out = []
        for (dev, q), (t, v, unit) in self.latest.items():
            out.append(LatestValue(device=dev, quantity=q, unit=unit, time=t, value=v,
                                   quality="flagged" if self.trackers[dev].flagged(q) else "good"))
        return out

    def state(self, now: float | None = None) -> BranchState:
        """The branch at ``now`` (default: the newest reading time), as an immutable snapshot."""
        if now is None:
            now = self.clock if self.clock is not None else 0.0
        means, stds, sources = self._estimate(now)
        total_std = self._total_std
        ph = self.physics
        latest = self.latest
        air: dict[int, dict[str, tuple[float, float]]] = {}
        for d in self.building.devices:
            if d.zone_id not in self.zidx or not self._usable(self.trackers[d.id], now):
                continue
            zone_air = air.setdefault(self.zidx[d.zone_id], {})
            for q in ("co2", "temperature", "humidity"):
                lv = latest.get((d.id, q))
                if lv is not None and not isinstance(lv[1], (bool, str)) and (q not in zone_air
                                                                             or lv[0] > zone_air[q][0]):
                    zone_air[q] = (lv[0], float(lv[1]))
        zones = []
        for i, z in enumerate(self._zones):
            za = air.get(i, {})
            co2 = za["co2"][1] if "co2" in za else None
            temp = za["temperature"][1] if "temperature" in za else None
            hum = za["humidity"][1] if "humidity" in za else None
            updated = max((x[0] for x in za.values()), default=None)
            heat, cool = float(ph.heat_set[i]), float(ph.cool_set[i])
            zones.append(ZoneState(
                zone=z.id, floor=z.floor_id, kind=z.kind, name=z.name, area_m2=z.area_m2,
                capacity=int(self.capacity[i]), occupancy=float(means[i]), occupancy_std=float(stds[i]),
                sources=sources[i], co2_ppm=co2, temperature_c=temp, humidity_pct=hum,
                co2_category=co2_category(co2, self.outdoor_ppm) if co2 is not None else None,
                heating_setpoint_c=heat, cooling_setpoint_c=cool,
                temperature_deviation_k=temperature_deviation_k(temp, heat, cool) if temp is not None else None,
                updated=updated))
        devices = tuple(self.trackers[d.id].health(now) for d in self.building.devices)
        power: dict[str, float] = {}
        energy: dict[str, float] = {}
        for d in self.building.devices:
            if d.type != "energy_meter":
                continue
            use = d.circuit if d.circuit in END_USES else "total"
            p = latest.get((d.id, "power"))
            if p is not None and not isinstance(p[1], (bool, str)):
                power[use] = power.get(use, 0.0) + float(p[1])
            e = latest.get((d.id, "energy"))
            if e is not None and not isinstance(e[1], (bool, str)):
                first = self.energy_first.get(d.id, float(e[1]))
                energy[use] = energy.get(use, 0.0) + float(e[1]) - first
        if "total" not in power and power:
            power["total"] = sum(power.values())
        if "total" not in energy and energy:
            energy["total"] = sum(energy.values())
        queues = []
        for d in self.building.devices:
            lv = latest.get((d.id, "queue_length"))
            if lv is not None and not isinstance(lv[1], (bool, str)):
                queues.append(QueueState(device=d.id, zone=d.zone_id, length=float(lv[1]), time=lv[0],
                                         target=self.config.queue_target))
        return BranchState(
            branch=self.branch, name=self.building.name, time=now, is_open=self.is_open(now), zones=tuple(zones),
            devices=devices, alerts=tuple(self.active_alerts()), occupancy=float(means.sum()),
            occupancy_std=total_std, capacity=int(self.capacity.sum()), power_w=power, energy_wh=energy,
            queues=tuple(queues), latest=tuple(self.latest_values()), readings=self.readings,
            last_reading=self.clock)

    def active_alerts(self) -> list[Alert]:
        """Alerts raised and not ended, oldest first."""
        out = [db.active for db in self._debouncers.values() if db.active is not None]
        return sorted(out, key=lambda a: (a.started, a.kind, a.subject))

    def alerts(self) -> list[Alert]:
        """Every alert raised or ended so far, in the order it happened (an ended alert appears twice)."""
        return list(self.alert_log)

    def take_alert_changes(self) -> list[Alert]:
        """Alerts raised or ended since the last call (the hub stores and publishes them)."""
        out = self.alert_log[self._alerts_taken:]
        self._alerts_taken = len(self.alert_log)
        return out

    def history(self) -> pd.DataFrame:
        """Occupancy of every zone at every tick kept: ``time`` [UTC epoch s], ``zone``, ``occupancy``, ``std``."""
        n = len(self._history_t)
        if n == 0:
            return pd.DataFrame({"time": pd.Series(dtype=float), "zone": pd.Series(dtype=str),
                                 "occupancy": pd.Series(dtype=float), "std": pd.Series(dtype=float)})
        nz = len(self.zone_ids)
        return pd.DataFrame({
            "time": np.repeat(np.asarray(self._history_t), nz),
            "zone": np.tile(np.asarray(self.zone_ids, dtype=object), n),
            "occupancy": np.concatenate(self._history_m).astype(float),
            "std": np.concatenate(self._history_s).astype(float)})


_COLUMNS = ("branch", "device", "quantity", "unit", "time", "value", "bool_value", "string_value")

#: What :meth:`BranchTwin.apply` does with a reading once it is stored as the newest of its quantity.
_PLAIN, _COUNT, _INDOOR_AIR, _ZONE_CO2, _QUEUE, _ENERGY = range(6)

#: A device quantity as :meth:`BranchTwin.apply` handles it: device, tracker, counter (people
#: counts only), kind (above).
_Slot = tuple[Device, DeviceTracker, "_Counter | None", int]


@dataclass(frozen=True, eq=False)
class _Rejected:
    """A reading failing a check made before the loop, in place of its device in the columns.

    ``before_device``: the problem is named before the device is looked up (another branch);
    the others (no value, a value or time that is not a finite number) come after the device and
    quantity checks, as when each row is checked in turn.
    """

    device: str
    problem: str
    before_device: bool


def _check_row(own: str, branch: Any, device: Any, q: Any, t: Any, v: Any, bv: Any,
               sv: Any) -> tuple[Any, _Rejected | None]:
    """One reading's value (the number, else the boolean, else the string), or why it is rejected."""
    if branch != own:
        return None, _Rejected(device, f"reading of branch '{branch}' given to the twin of '{own}'", True)
    if v is None:
        v = bv if bv is not None else sv
        if v is None:
            return None, _Rejected(device, f"device '{device}' {q} at {t}: no value", False)
    elif not -math.inf < v < math.inf:
        return None, _Rejected(device, f"device '{device}' {q} at {t}: value {v} is not a finite number", False)
    if t is None or not -math.inf < t < math.inf:
        return None, _Rejected(device, f"device '{device}' {q}: time {t} is not a number", False)
    return v, None


def _columns(readings: pa.Table | pd.DataFrame | Iterable[Reading], own: str) -> list[list[Any]] | None:
    """Readings as the columns :meth:`BranchTwin.apply` reads, in time order (None when there are none).

    The columns are device, quantity, unit, time and value (the number, else the boolean, else
    the string). Rows of another branch than ``own``, without a value, or with a value or time
    that is not a finite number have a :class:`_Rejected` naming the problem in place of their
    device; a table is checked column by column, and only those rows one by one.
    """
    if isinstance(readings, pd.DataFrame):
        readings = pa.Table.from_pandas(readings, preserve_index=False)
    if not isinstance(readings, pa.Table):
        rows = [(r.branch, r.device, r.quantity, r.unit, r.time, r.value, r.bool_value, r.string_value)
                for r in readings]
        if not rows:
            return None
        rows.sort(key=lambda r: (r[4], r[1], r[2]))
        cols = [list(c) for c in zip(*rows, strict=True)]
        return _checked(own, cols, range(len(rows)))
    missing = [n for n in _COLUMNS if n not in readings.column_names]
    if missing:
        raise ValueError(f"readings lack column(s) {', '.join(missing)}; need {', '.join(_COLUMNS)}")
    if readings.num_rows == 0:
        return None
    times = readings.column("time").to_numpy(zero_copy_only=False)
    if len(times) > 1 and not bool(np.all(times[1:] >= times[:-1])):
        order = np.argsort(times, kind="stable")
        readings = readings.take(pa.array(order))
        times = times[order]
    time_col, value_col = readings.column("time"), readings.column("value")
    numeric = all(pa.types.is_floating(c.type) or pa.types.is_integer(c.type) for c in (time_col, value_col))
    if not numeric or time_col.null_count:  # checked row by row
        cols = [readings.column(n).to_pylist() for n in _COLUMNS]
        return _checked(own, cols, range(readings.num_rows))
    branch = readings.column("branch")
    suspect = ~np.isfinite(times)
    other = pc.fill_null(pc.not_equal(branch, own), True)
    if pc.any(other).as_py():
        suspect |= other.to_numpy(zero_copy_only=False)
    values = value_col.to_numpy(zero_copy_only=False)
    missing_value = value_col.is_null().to_numpy(zero_copy_only=False) if value_col.null_count else None
    value_list = value_col.to_pylist() if missing_value is not None else values.tolist()
    if missing_value is not None:
        suspect |= ~missing_value & ~np.isfinite(values)
        # rows without a number carry a boolean or a string (or nothing: checked below)
        gaps = np.flatnonzero(missing_value)
        b_list = readings.column("bool_value").take(pa.array(gaps)).to_pylist()
        s_list = readings.column("string_value").take(pa.array(gaps)).to_pylist()
        for i, bv, sv in zip(gaps.tolist(), b_list, s_list, strict=True):
            if bv is not None:
                value_list[i] = bv
            elif sv is not None:
                value_list[i] = sv
            else:
                suspect[i] = True
    else:
        suspect |= ~np.isfinite(values)
    cols = [readings.column(n).to_pylist() for n in ("device", "quantity", "unit")]
    cols += [times.tolist(), value_list]
    bad = np.flatnonzero(suspect)
    if len(bad):
        rows = readings.take(pa.array(bad))
        raw = [rows.column(n).to_pylist() for n in _COLUMNS]
        for i, (b, d, q, _, t, v, bv, sv) in zip(bad.tolist(), zip(*raw, strict=True), strict=True):
            _, rejected = _check_row(own, b, d, q, t, v, bv, sv)
            if rejected is not None:
                cols[0][i] = rejected
    return cols


def _checked(own: str, cols: list[list[Any]], rows: Iterable[int]) -> list[list[Any]]:
    """The columns :func:`_columns` gives from all eight telemetry columns, the ``rows`` checked one by one."""
    branch, device, q, unit, t, v, bv, sv = cols
    for i in rows:
        v[i], rejected = _check_row(own, branch[i], device[i], q[i], t[i], v[i], bv[i], sv[i])
        if rejected is not None:
            device[i] = rejected
    return [device, q, unit, t, v]


__all__ = ["BranchTwin", "TwinConfig", "TwinInputs", "ZonePrior", "load_twin_inputs"]
