"""Device health: offline by the device's Will or by silence; values stuck, out of range or jumping.

A device is ``offline`` at once when its retained status topic says so (its MQTT Will, or a clean
goodbye), and when nothing came from it for more than ``silence_periods`` reporting periods. A
reporting device is ``flagged`` while one of its indoor-air quantities is stuck (the same value
for hours while the branch is open), out of the range plausible indoors, or jumps faster than
the physics allows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from geometry.model import Device

from .state import DeviceHealth, DeviceStatus

#: Values plausible indoors (a library in use), per quantity [its SenML unit]; outside is flagged.
PLAUSIBLE_RANGE: dict[str, tuple[float, float]] = {
    "co2": (350.0, 5000.0),
    "temperature": (5.0, 40.0),
    "humidity": (5.0, 95.0),
}

#: Fastest change a real zone shows, per quantity [unit/s], with a floor for one step [unit]:
#: a packed room adds about 1 ppm/s of CO2 (0.0054 L/s per person, 2 m2 per person, 3 m ceiling);
#: air temperature moves a few kelvin per hour.
MAX_RATE: dict[str, tuple[float, float]] = {
    "co2": (5.0, 300.0),
    "temperature": (0.01, 3.0),
    "humidity": (0.05, 15.0),
}

#: Quantities checked for stuck values (those that always move while people are in).
STUCK_QUANTITIES: frozenset[str] = frozenset({"co2", "humidity"})


@dataclass
class _QuantityCheck:
    last_value: float | None = None
    last_time: float = 0.0
    same_since: float = 0.0
    open_same_s: float = 0.0  # open time the value has stayed the same [s]
    flag: str = ""


@dataclass
class DeviceTracker:
    """The health of one device, updated as its readings and statuses arrive (times in UTC epoch s).

    Parameters
    ----------
    device
        The device as the scenario lists it.
    silence_periods
        Silent for more than this many periods means offline.
    stuck_s
        The same value for this long while open means stuck [s].
    """

    device: Device
    silence_periods: float = 3.0
    stuck_s: float = 3 * 3600.0
    last_seen: float | None = None
    status_offline_at: float | None = None  # when the status topic said offline (None: it did not, or came back)
    checks: dict[str, _QuantityCheck] = field(default_factory=dict)
    silence_s: float = field(init=False)  # silence longer than this means offline [s]

    def __post_init__(self) -> None:
        self.silence_s = self.silence_periods * self.device.period_s

    def seen(self, t: float) -> None:
        if self.last_seen is None or t > self.last_seen:
            self.last_seen = t
        if self.status_offline_at is not None and t > self.status_offline_at:
            self.status_offline_at = None  # a reading after the goodbye: it is back

    def status(self, value: str, t: float) -> None:
        """A message on the device's retained status topic (``online``/``offline``)."""
        if value == "offline":
            if self.last_seen is None or t >= self.last_seen:
                self.status_offline_at = t
        else:  # back: silence is judged from its readings again (a status is received, not measured, time)
            self.status_offline_at = None

    def check(self, quantity: str, value: float, t: float, is_open: bool) -> None:
        """Plausibility of one numeric reading (in time order per quantity; older ones are skipped)."""
        rng = PLAUSIBLE_RANGE.get(quantity)
        if rng is None:
            return
        c = self.checks.get(quantity)
        if c is None:
            c = self.checks[quantity] = _QuantityCheck(same_since=t)
        if c.last_value is not None and t <= c.last_time:
            return
        if not rng[0] <= value <= rng[1]:  # judged alone; the next value is compared with the last plausible one
            c.flag = f"{quantity}: out of range ({value:g} outside {rng[0]:g}-{rng[1]:g})"
            return
        flag = ""
        if c.last_value is not None:
            rate, floor = MAX_RATE[quantity]
            step = abs(value - c.last_value)
            if step > max(rate * (t - c.last_time), floor):
                flag = f"{quantity}: jump ({c.last_value:g} to {value:g} in {t - c.last_time:g} s)"
        if c.last_value is not None and value == c.last_value:
            if is_open:
                c.open_same_s += t - c.last_time
        else:
            c.same_since = t
            c.open_same_s = 0.0
        if not flag and quantity in STUCK_QUANTITIES and c.open_same_s >= self.stuck_s:
            flag = f"{quantity}: stuck at {value:g} for {c.open_same_s / 3600:.1f} h while open"
        c.flag = flag
        c.last_value = value
        c.last_time = t

    def health(self, now: float) -> DeviceHealth:
        """The device's health at ``now``."""
        d = self.device
        flags = tuple(c.flag for c in self.checks.values() if c.flag)
        status: DeviceStatus
        reason = ""
        if self.status_offline_at is not None:
            status, reason = "offline", "its status topic says offline (the device's Will or goodbye)"
        elif self.last_seen is None:
            status = "unknown"
            reason = "nothing heard yet"
        elif now - self.last_seen > self.silence_periods * d.period_s:
            status = "offline"
            reason = (f"silent for {now - self.last_seen:.0f} s (more than {self.silence_periods:g} periods "
                      f"of {d.period_s:g} s)")
        elif flags:
            status, reason = "flagged", "; ".join(flags)
        else:
            status = "online"
        return DeviceHealth(device=d.id, type=d.type, floor=d.floor_id, zone=d.zone_id, period_s=d.period_s,
                            status=status, last_seen=self.last_seen, reason=reason, flags=flags)

    def usable(self, now: float) -> bool:
        """Whether its readings should feed the estimates at ``now`` (heard recently, not said offline)."""
        return (self.status_offline_at is None and self.last_seen is not None
                and now - self.last_seen <= self.silence_periods * self.device.period_s)

    def flagged(self, quantity: str) -> bool:
        c = self.checks.get(quantity)
        return c is not None and bool(c.flag)
