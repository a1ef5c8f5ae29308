"""The live state of a branch as plain, immutable values: what the dashboard shows and analytics reads.

A :class:`~twin.branch.BranchTwin` keeps its working state privately and hands out a
:class:`BranchState` snapshot on ``state(now)``; nothing here changes after it is made, so a
snapshot can be passed to another thread (the dashboard) or kept as history.

Times are UTC epoch seconds [s]; occupancy in persons; concentrations in ppm; temperatures in
degC; power in W and energy in Wh (SI, as everywhere in the project).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

#: Where an occupancy estimate came from (several may be fused for one zone).
OccupancySource = Literal["occupancy_sensor", "seat_sensors", "counters", "co2", "prior"]

#: EN 16798-1 indoor-air categories by CO2 above outdoor (I best); None when no CO2 is measured.
Co2Category = Literal["I", "II", "III", "IV"]

#: A device's liveness: ``online`` reporting normally, ``offline`` (its Will said so, or silent for
#: more than 3 periods), ``flagged`` (reporting, but a value is stuck, out of range or jumping),
#: ``unknown`` (nothing heard yet).
DeviceStatus = Literal["online", "offline", "flagged", "unknown"]

#: What an alert is about.
AlertKind = Literal["co2", "over_capacity", "device_offline", "queue"]

#: Quality of a latest value.
Quality = Literal["good", "flagged"]


@dataclass(frozen=True, kw_only=True)
class LatestValue:
    """The most recent reading of one quantity of one device.

    Parameters
    ----------
    device, quantity, unit
        Who measured what, in which SenML unit.
    time
        Reading time [UTC epoch s].
    value
        Numeric, boolean or text value as the quantity's kind says.
    quality
        ``flagged`` when the device's health check flagged this quantity.
    """

    device: str
    quantity: str
    unit: str
    time: float
    value: float | bool | str
    quality: Quality = "good"


@dataclass(frozen=True, kw_only=True)
class ZoneState:
    """One zone now: estimated occupancy with its uncertainty, indoor air and comfort.

    Parameters
    ----------
    zone, floor, kind, name
        The zone's id, its floor id, its use (``reading_room`` ...) and display name.
    area_m2
        Floor area [m2].
    capacity
        Persons the zone holds [persons]: its seats, or its area at the design density where it
        has few or none (see :func:`twin.estimate.zone_capacity`).
    occupancy, occupancy_std
        Estimated persons in the zone now and the standard deviation of that estimate [persons].
    sources
        What the estimate used (fused), best first; ``("prior",)`` when the zone has no sensor.
    co2_ppm, temperature_c, humidity_pct
        Latest measured values (None when the zone has no such sensor or nothing came yet).
    co2_category
        EN 16798-1 category of ``co2_ppm`` (I-IV), None without a CO2 reading.
    heating_setpoint_c, cooling_setpoint_c
        The comfort band of the zone [degC].
    temperature_deviation_k
        How far ``temperature_c`` lies outside the band [K]: negative below the heating
        setpoint, positive above the cooling setpoint, 0 inside; None without a reading.
    updated
        Time of the newest reading that touched the zone [UTC epoch s], None if none yet.
    """

    zone: str
    floor: str
    kind: str
    name: str | None
    area_m2: float
    capacity: int
    occupancy: float
    occupancy_std: float
    sources: tuple[OccupancySource, ...]
    co2_ppm: float | None = None
    temperature_c: float | None = None
    humidity_pct: float | None = None
    co2_category: Co2Category | None = None
    heating_setpoint_c: float = 20.0
    cooling_setpoint_c: float = 26.0
    temperature_deviation_k: float | None = None
    updated: float | None = None

    @property
    def occupancy_ratio(self) -> float:
        """Estimated occupancy over capacity (0 when the capacity is 0)."""
        return self.occupancy / self.capacity if self.capacity > 0 else 0.0


@dataclass(frozen=True, kw_only=True)
class DeviceHealth:
    """Liveness and plausibility of one device.

    Parameters
    ----------
    device, type, floor, zone
        The device as the scenario lists it (``zone`` None for devices not in a zone).
    period_s
        Its reporting period [s].
    status
        See :data:`DeviceStatus`.
    last_seen
        Time of its newest reading or status message [UTC epoch s], None if never heard.
    reason
        Why it is offline or flagged, in words (empty when online).
    flags
        Current plausibility flags, each ``"{quantity}: stuck"``, ``"{quantity}: out of range"``
        or ``"{quantity}: jump"``.
    """

    device: str
    type: str
    floor: str
    zone: str | None
    period_s: float
    status: DeviceStatus
    last_seen: float | None
    reason: str = ""
    flags: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Alert:
    """A condition that held long enough to be raised, with when it started and ended.

    Parameters
    ----------
    kind
        See :data:`AlertKind`.
    branch
        Branch id.
    subject
        What it is about: a zone id (``co2``, ``over_capacity``), a device id (``device_offline``,
        ``queue``).
    started
        When the condition began (the start of the debounce window) [UTC epoch s].
    ended
        When it cleared (the time the value came back past the hysteresis band) [UTC epoch s];
        None while active.
    value
        The worst value seen while active (ppm, persons, 1 for offline, persons waiting).
    limit
        The threshold it crossed, in the same unit.
    message
        One sentence for people.
    """

    kind: AlertKind
    branch: str
    subject: str
    started: float
    ended: float | None
    value: float
    limit: float
    message: str = ""

    @property
    def active(self) -> bool:
        return self.ended is None

    @property
    def key(self) -> tuple[str, str, str, float]:
        """Identity of the alert: (branch, kind, subject, started)."""
        return (self.branch, self.kind, self.subject, self.started)


@dataclass(frozen=True, kw_only=True)
class QueueState:
    """People waiting at a service point, from a queue counter or a kiosk.

    Parameters
    ----------
    device
        The device that counts.
    zone
        Its zone (None when outside any zone).
    length
        People waiting at ``time``.
    time
        Reading time [UTC epoch s].
    target
        The alert threshold for this queue [persons].
    """

    device: str
    zone: str | None
    length: float
    time: float
    target: float


@dataclass(frozen=True, kw_only=True)
class BranchState:
    """A snapshot of one branch at ``time``.

    Parameters
    ----------
    branch, name
        Branch id and display name.
    time
        The instant the snapshot describes [UTC epoch s].
    is_open
        Whether the branch is open by its opening hours at ``time``.
    zones
        Every zone, in the building's order.
    devices
        Every device's health, in the scenario's order.
    alerts
        Active alerts (use ``BranchTwin.alerts()`` for ended ones too).
    occupancy, occupancy_std
        Persons in the building and the standard deviation [persons].
    capacity
        Sum of the zones' capacities [persons].
    power_w
        Latest power by end use (``lighting``, ``plug_loads``, ``hvac``, ``kiosks``, ``lifts``,
        ``total``) [W]; only end uses that have a meter.
    energy_wh
        Energy by end use since the first reading of the meter this run (the meters' cumulative
        counters, differenced) [Wh].
    queues
        Every queue counter and kiosk queue.
    latest
        The newest reading of every device quantity.
    readings
        Readings applied to the twin so far.
    last_reading
        Time of the newest reading applied [UTC epoch s], None if none.
    """

    branch: str
    name: str
    time: float
    is_open: bool
    zones: tuple[ZoneState, ...]
    devices: tuple[DeviceHealth, ...]
    alerts: tuple[Alert, ...]
    occupancy: float
    occupancy_std: float
    capacity: int
    power_w: Mapping[str, float] = field(default_factory=dict)
    energy_wh: Mapping[str, float] = field(default_factory=dict)
    queues: tuple[QueueState, ...] = ()
    latest: tuple[LatestValue, ...] = ()
    readings: int = 0
    last_reading: float | None = None

    def zone(self, zone_id: str) -> ZoneState:
        """The zone with this id.

        Raises
        ------
        KeyError
            Naming the zone and the branch.
        """
        for z in self.zones:
            if z.zone == zone_id:
                return z
        raise KeyError(f"branch '{self.branch}' has no zone '{zone_id}'")

    def device(self, device_id: str) -> DeviceHealth:
        """The health of the device with this id (KeyError naming it when unknown)."""
        for d in self.devices:
            if d.device == device_id:
                return d
        raise KeyError(f"branch '{self.branch}' has no device '{device_id}'")


@dataclass(frozen=True, kw_only=True)
class ApplyResult:
    """What ``BranchTwin.apply`` / ``TwinRegistry.apply`` did with a batch of readings.

    Parameters
    ----------
    applied
        Readings that changed the state.
    duplicates
        Readings already seen (same device, quantity and time): ignored.
    late
        Readings older than the newest of their device quantity: kept for history only, the
        state is not rolled back.
    unknown
        Readings of unknown branches or devices, or quantities a device does not measure:
        ignored, each kind counted in ``problems``.
    problems
        Short sentences naming what was ignored and why (at most a few per batch).
    """

    applied: int = 0
    duplicates: int = 0
    late: int = 0
    unknown: int = 0
    problems: tuple[str, ...] = ()


__all__ = [
    "Alert",
    "AlertKind",
    "ApplyResult",
    "BranchState",
    "Co2Category",
    "DeviceHealth",
    "DeviceStatus",
    "LatestValue",
    "OccupancySource",
    "Quality",
    "QueueState",
    "ZoneState",
]
