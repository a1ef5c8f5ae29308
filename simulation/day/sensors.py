"""Virtual sensors: every device of the building reads the simulated state at its period, with its noise.

Devices are grouped by period; each group is one SimPy process that wakes once per period and
reads all its devices with array look-ups (no Python per device per tick beyond a few vector
operations per quantity). Readings form a table with the telemetry columns (one row per
reading; the same columns the real ingest stores, see ``telemetry/records.py``):

============  ==========  ===============================================================
column        type        meaning
============  ==========  ===============================================================
branch        string      branch id
device        string      device id
quantity      string      quantity name (:data:`geometry.quantities.QUANTITIES`)
unit          string      SenML unit (``QUANTITIES[quantity].unit``)
time          float64     UTC epoch seconds [s]
value         float64     numeric reading, or null
bool_value    bool        boolean reading (``seat_occupied``), or null
string_value  string      text reading (``status``), or null
============  ==========  ===============================================================

What each device type reads:

- ``people_counter`` at an opening: line crossings in the period (``people_in`` into the opening's
  first zone, ``people_out`` out of it; at an entrance, in = entering the building);
- ``seat_sensor``: whether someone sits on its seat now (a reader on a break is away);
- ``co2`` / ``temperature`` / ``environment``: their zone's state at the last physics step;
- ``occupancy``: people in its zone now;
- ``energy_meter``: its circuit (end use: ``lighting``, ``plug_loads``, ``hvac``, ``kiosks``,
  ``lifts``, or ``total``) over the building or one floor: cumulative ``energy`` [Wh] and mean
  ``power`` over the last physics step [W];
- ``kiosk``: transactions completed in the period, ``status`` (``open``/``closed``), queue length;
- ``queue_counter``: people waiting at the nearest desk or cafe (within 10 m on its floor).

Devices of one period read together: one SimPy process per period, one numpy operation per
quantity per reading, whatever the number of devices.

Noise: each quantity with a standard deviation in the device's ``noise`` gets Gaussian noise;
values are clipped to the quantity's physical range, counts rounded to whole numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import simpy
from numpy.typing import NDArray

from geometry.model import Building, Device
from geometry.quantities import QUANTITIES, TELEMETRY_COLUMNS, TELEMETRY_SCHEMA

#: A queue counter watches the nearest desk or cafe within this distance on its floor [m].
QUEUE_COUNTER_REACH_M = 10.0

F = NDArray[np.float64]


@dataclass
class Snapshot:
    """The simulated state sensors read at one instant (arrays in the model's index orders)."""

    t_s: float
    zone: dict[str, F]  # co2, temperature, humidity, illuminance, sound_level, occupancy (per zone)
    crossings_in: NDArray[np.int64]  # cumulative, per opening
    crossings_out: NDArray[np.int64]
    seat_present: NDArray[np.bool_]
    energy_wh: dict[str, F]  # end use -> cumulative per zone ("lifts": building, len 1)
    power_w: dict[str, F]  # end use -> last-step mean per zone ("lifts": building, len 1)
    queue: NDArray[np.int64]  # per service: people waiting
    served: NDArray[np.int64]  # per service: completed, cumulative
    open: NDArray[np.bool_]  # per service: open now


@dataclass
class _Block:
    """Devices of one period reading one quantity the same way: read together with array look-ups."""

    quantity: str
    how: str  # zone, in, out, seat, meter, served, queue, status
    devices: list[str]
    idx: NDArray[np.int64]
    sd: F
    weights: dict[str, F] = field(default_factory=dict)  # meters: end use -> (devices, zones) or (devices,)
    last: NDArray[np.int64] | None = None
    values: list[Any] = field(default_factory=list)


def _noise(device: Device) -> dict[str, float]:
    return {k: float(v) for k, v in device.noise}


_ZONE_Q = ("co2", "temperature", "humidity", "illuminance", "sound_level", "occupancy")
_END_USES = ("lighting", "plug_loads", "hvac", "kiosks", "lifts")


class VirtualSensors:
    """The devices of a building bound to the model's state, and the readings they produce.

    Parameters
    ----------
    building
        The building (its ``devices``).
    zone_ids, opening_ids, seat_ids, service_ids
        Index orders of the snapshot arrays.
    services
        Service points by id: ``(kind, floor_id, x, y)``; kiosks match by id, queue counters the
        nearest desk or cafe.
    meter_floor
        Energy meter id -> the floor it meters (None: the whole building).
    zone_floor
        Floor of each zone (in ``zone_ids`` order).
    epoch0_s
        UTC epoch of simulation time 0 [s].
    rng
        The random generator for noise.
    """

    def __init__(self, building: Building, *, zone_ids: Sequence[str], opening_ids: Sequence[str],
                 seat_ids: Sequence[str], service_ids: Sequence[str],
                 services: Mapping[str, tuple[str, str, float, float]], meter_floor: Mapping[str, str | None],
                 zone_floor: Sequence[str], epoch0_s: float, rng: np.random.Generator) -> None:
        self.branch = building.branch_id
        self.epoch0_s = epoch0_s
        self.rng = rng
        zidx = {z: i for i, z in enumerate(zone_ids)}
        oidx = {o: i for i, o in enumerate(opening_ids)}
        sidx = {s: i for i, s in enumerate(seat_ids)}
        vidx = {s: i for i, s in enumerate(service_ids)}
        zfloor = np.array(zone_floor, dtype=object)
        self.unbound: list[tuple[str, str]] = []
        # period -> (quantity, how) -> [(device, index, sd, meter weights)]
        plan: dict[float, dict[tuple[str, str], list[tuple[Device, int, float, Any]]]] = {}
        for d in building.devices:
            bind = self._bind(d, zidx, oidx, sidx, vidx, services, meter_floor, zfloor)
            if bind is None:
                continue
            index, weights = bind
            noise = _noise(d)
            for q in d.quantities:
                how = self._how(d.type, q)
                plan.setdefault(float(d.period_s), {}).setdefault((q, how), []).append(
                    (d, index, noise.get(q, 0.0), weights))
        self.groups: dict[float, list[_Block]] = {}
        for period, blocks in sorted(plan.items()):
            out = []
            for (q, how), items in blocks.items():
                blk = _Block(q, how, [d.id for d, *_ in items], np.array([i for _, i, _, _ in items], dtype=np.int64),
                             np.array([sd for _, _, sd, _ in items], dtype=float))
                if how == "meter":
                    for u in _END_USES:
                        blk.weights[u] = np.array([w[u] for *_, w in items])
                if how in ("in", "out", "served"):
                    blk.last = np.zeros(len(items), dtype=np.int64)
                out.append(blk)
            self.groups[period] = out
        self._times: dict[float, list[float]] = {p: [] for p in self.groups}

    @staticmethod
    def _how(dtype: str, q: str) -> str:
        if q == "people_in":
            return "in"
        if q == "people_out":
            return "out"
        if q == "seat_occupied":
            return "seat"
        if q in ("energy", "power"):
            return "meter"
        if q == "transactions":
            return "served"
        if q in ("queue_length", "status"):
            return "queue" if q == "queue_length" else "status"
        return "zone"

    def _bind(self, d: Device, zidx: Mapping[str, int], oidx: Mapping[str, int], sidx: Mapping[str, int],
              vidx: Mapping[str, int], services: Mapping[str, tuple[str, str, float, float]],
              meter_floor: Mapping[str, str | None], zfloor: NDArray[Any]) -> tuple[int, Any] | None:
        t = d.type
        if t == "people_counter":
            if d.opening_id is None or d.opening_id not in oidx:
                self.unbound.append((d.id, "a people counter needs an opening"))
                return None
            return oidx[d.opening_id], None
        if t == "seat_sensor":
            if d.seat_id is None or d.seat_id not in sidx:
                self.unbound.append((d.id, "a seat sensor needs a seat"))
                return None
            return sidx[d.seat_id], None
        if t in ("co2", "temperature", "environment", "occupancy"):
            if d.zone_id is None or d.zone_id not in zidx:
                self.unbound.append((d.id, "not inside any zone"))
                return None
            return zidx[d.zone_id], None
        if t == "energy_meter":
            circuit = d.circuit or "total"
            if circuit not in (*_END_USES, "total", "main"):
                self.unbound.append((d.id, f"unknown circuit '{circuit}' (known: {', '.join(_END_USES)}, total)"))
                return None
            scope = meter_floor.get(d.id)
            zw = np.ones(len(zfloor)) if scope is None else (zfloor == scope).astype(float)
            weights = {}
            for u in _END_USES:
                on = circuit in ("total", "main") or circuit == u
                weights[u] = (1.0 if on and scope is None else 0.0) if u == "lifts" else zw * on
            return 0, weights
        if t in ("kiosk", "queue_counter"):
            if t == "kiosk" and d.id in vidx:
                return vidx[d.id], None
            kinds = ("kiosk",) if t == "kiosk" else ("desk", "cafe")
            reach = 2.0 if t == "kiosk" else QUEUE_COUNTER_REACH_M
            best, best_d = None, math.inf
            for sid, (kind, fid, x, y) in services.items():
                if kind in kinds and fid == d.floor_id:
                    dist = math.hypot(x - d.x, y - d.y)
                    if dist < best_d:
                        best, best_d = sid, dist
            if best is None or best_d > reach:
                self.unbound.append((d.id, f"no {' or '.join(kinds)} within {reach:g} m"))
                return None
            return vidx[best], None
        self.unbound.append((d.id, f"unknown device type '{t}'"))
        return None

    # ------------------------------------------------------------- reading
    def read(self, period_s: float, snap: Snapshot) -> None:
        """Read every device of one period group from ``snap`` (vectorised per quantity)."""
        self._times[period_s].append(snap.t_s)
        for blk in self.groups[period_s]:
            how = blk.how
            if how == "zone":
                v: Any = snap.zone[blk.quantity][blk.idx].astype(float)
            elif how in ("in", "out", "served"):
                src = {"in": snap.crossings_in, "out": snap.crossings_out, "served": snap.served}[how]
                cum = src[blk.idx].astype(np.int64)
                assert blk.last is not None
                v = (cum - blk.last).astype(float)
                blk.last = cum
            elif how == "seat":
                v = snap.seat_present[blk.idx].copy()
            elif how == "queue":
                v = snap.queue[blk.idx].astype(float)
            elif how == "status":
                v = snap.open[blk.idx].copy()
            else:  # meter
                src_m = snap.energy_wh if blk.quantity == "energy" else snap.power_w
                v = np.zeros(len(blk.devices))
                for u, w in blk.weights.items():
                    arr = src_m[u]
                    v += w * float(arr[0]) if u == "lifts" else w @ arr
            if how not in ("seat", "status"):
                v = self._noisy(v, blk.quantity, blk.sd)
            blk.values.append(v)

    def _noisy(self, v: F, q: str, sd: F) -> F:
        quantity = QUANTITIES[q]
        noisy = sd > 0
        if noisy.any():
            v = v.copy()
            v[noisy] += self.rng.normal(0.0, sd[noisy])
            if quantity.unit == "count":
                v[noisy] = np.round(v[noisy])
        return np.clip(v, quantity.min, quantity.max)

    def process(self, env: simpy.Environment, period_s: float, until_s: float,
                snapshot: Callable[[], Snapshot]) -> Generator[simpy.Event, Any, None]:
        """Read one period group every ``period_s`` until ``until_s``: a SimPy process body.

        Each reading waits for a zero-length timeout so state changes due at the same instant
        (a physics step ending on the minute) are in before the devices read.
        """
        t = env.now
        while t + period_s <= until_s + 1e-9:
            t += period_s
            yield env.timeout(t - env.now)
            yield env.timeout(0)
            self.read(period_s, snapshot())

    def table(self) -> pd.DataFrame:
        """All readings so far, in time order, with the telemetry columns."""
        parts = []
        for period, blocks in self.groups.items():
            times = np.asarray(self._times[period], dtype=float) + self.epoch0_s
            n_t = times.size
            if n_t == 0:
                continue
            for blk in blocks:
                vals = np.stack(blk.values)  # (ticks, devices)
                n_d = len(blk.devices)
                q = QUANTITIES[blk.quantity]
                n = n_t * n_d
                value = pd.array([None] * n, dtype="Float64")
                bool_value = pd.array([None] * n, dtype="boolean")
                string_value = pd.array([None] * n, dtype="string")
                flat = vals.reshape(-1)
                if q.kind == "v":
                    value = pd.array(flat.astype(float), dtype="Float64")
                elif q.kind == "vb":
                    bool_value = pd.array(flat.astype(bool), dtype="boolean")
                else:
                    string_value = pd.array(np.where(flat.astype(bool), "open", "closed"), dtype="string")
                parts.append(pd.DataFrame({
                    "branch": pd.array([self.branch] * n, dtype="string"),
                    "device": pd.array(np.tile(np.array(blk.devices, dtype=object), n_t), dtype="string"),
                    "quantity": pd.array([blk.quantity] * n, dtype="string"),
                    "unit": pd.array([q.unit] * n, dtype="string"),
                    "time": np.repeat(times, n_d),
                    "value": value, "bool_value": bool_value, "string_value": string_value}))
        if not parts:
            return empty_telemetry()
        df = pd.concat(parts, ignore_index=True)
        return df.sort_values(["time", "device", "quantity"], kind="stable").reset_index(drop=True)


def empty_telemetry() -> pd.DataFrame:
    """A telemetry table with no rows."""
    return pd.DataFrame({"branch": pd.Series(dtype="string"), "device": pd.Series(dtype="string"),
                         "quantity": pd.Series(dtype="string"), "unit": pd.Series(dtype="string"),
                         "time": pd.Series(dtype=float), "value": pd.Series(dtype="Float64"),
                         "bool_value": pd.Series(dtype="boolean"), "string_value": pd.Series(dtype="string")})


def telemetry_arrow(df: pd.DataFrame) -> pa.Table:
    """A telemetry DataFrame as an Arrow table in :data:`TELEMETRY_SCHEMA`."""
    return pa.Table.from_pandas(df[list(TELEMETRY_COLUMNS)], schema=TELEMETRY_SCHEMA, preserve_index=False)
