"""A branch's live state read from the latest stored values, for a dashboard without the hub's twins.

This reads measured values only (occupancy sensors, seat sensors, CO2, temperature, power, queue
counters) and assumes nothing between them: a zone without an occupancy or seat sensor shows the
prior (0 persons with half its capacity as standard deviation). The hub's BranchTwin estimates
better and, when the app runs inside the hub (``smartlib demo``), is used instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from geometry import Building
    from telemetry.store import Store
    from twin.state import BranchState

CO2_ALERT_PPM = 1_000.0
QUEUE_TARGET = 5.0


def zone_capacity(building: Building, zone_id: str, area_m2: float) -> int:
    """Seats of the zone, or one person per 4 m2 where it has none."""
    seats = building.seats_per_zone().get(zone_id, 0)
    return seats if seats > 0 else max(1, int(area_m2 / 4.0))


def state_from_store(store: Store, building: Building, now: float) -> BranchState:
    """The branch's state at ``now`` [UTC epoch s] from the store's latest readings and device statuses."""
    from twin.state import Alert, BranchState, DeviceHealth, QueueState, ZoneState

    latest = store.latest(branch=building.branch_id)
    status = store.device_status(branch=building.branch_id)
    status_of = {r.device: (r.status, float(r.time)) for r in status.itertuples()}
    val: dict[tuple[str, str], float] = {}
    seen: dict[str, float] = {}
    for r in latest.itertuples():
        v = r.value if not pd.isna(r.value) else float(bool(r.bool_value)) if not pd.isna(r.bool_value) else None
        if v is not None:
            val[(r.device, r.quantity)] = float(v)
        seen[r.device] = max(seen.get(r.device, 0.0), float(r.time))
    zone_of_seat = {seat.id: seat.zone_id for seat in building.seats}
    seat_devices: dict[str, list[str]] = {}
    for d in building.devices:
        if d.seat_id and (d.id, "seat_occupied") in val and d.seat_id in zone_of_seat:
            seat_devices.setdefault(zone_of_seat[d.seat_id], []).append(d.id)
    zones = []
    alerts = []
    for floor in building.floors:
        for z in floor.zones:
            cap = zone_capacity(building, z.id, z.area_m2)
            devs = [d for d in building.devices if d.zone_id == z.id]
            occ_vals = [val[(d.id, "occupancy")] for d in devs if (d.id, "occupancy") in val]
            seat_devs = seat_devices.get(z.id, [])
            if occ_vals:
                occ, std, src = sum(occ_vals), 0.5, ("occupancy_sensor",)
            elif seat_devs:
                share = sum(val[(d, "seat_occupied")] for d in seat_devs) / len(seat_devs)
                occ, std, src = share * cap, cap * 0.5 / len(seat_devs) ** 0.5, ("seat_sensors",)
            else:
                occ, std, src = 0.0, cap * 0.5, ("prior",)
            co2 = _mean([val.get((d.id, "co2")) for d in devs])
            temp = _mean([val.get((d.id, "temperature")) for d in devs])
            zones.append(ZoneState(zone=z.id, floor=floor.id, kind=z.kind, name=z.name, area_m2=z.area_m2,
                                   capacity=cap, occupancy=occ, occupancy_std=std, sources=src, co2_ppm=co2,
                                   temperature_c=temp, updated=max((seen.get(d.id, 0.0) for d in devs), default=None)))
            if co2 is not None and co2 > CO2_ALERT_PPM:
                alerts.append(Alert(kind="co2", branch=building.branch_id, subject=z.id, started=now, ended=None,
                                    value=co2, limit=CO2_ALERT_PPM,
                                    message=f"CO2 {co2:.0f} ppm in {z.name or z.id} (limit {CO2_ALERT_PPM:.0f})"))
            if occ > cap:
                alerts.append(Alert(kind="over_capacity", branch=building.branch_id, subject=z.id, started=now,
                                    ended=None, value=occ, limit=cap,
                                    message=f"{occ:.0f} persons in {z.name or z.id} (capacity {cap})"))
    devices = []
    for d in building.devices:
        last = seen.get(d.id)
        st, st_t = status_of.get(d.id, (None, None))
        if last is None and st is None:
            health, reason = "unknown", "nothing heard yet"
        elif st == "offline" and (last is None or (st_t or 0) >= last):
            health, reason = "offline", "its status says offline"
        elif last is not None and now - last > 3 * d.period_s:
            health, reason = "offline", f"silent for {now - last:.0f} s (period {d.period_s:.0f} s)"
        else:
            health, reason = "online", ""
        devices.append(DeviceHealth(device=d.id, type=d.type, floor=d.floor_id, zone=d.zone_id, period_s=d.period_s,
                                    status=health, last_seen=max(x for x in (last, st_t) if x is not None)
                                    if (last or st_t) else None, reason=reason))
        if health == "offline":
            alerts.append(Alert(kind="device_offline", branch=building.branch_id, subject=d.id, started=now,
                                ended=None, value=1.0, limit=0.0, message=f"device {d.id} offline: {reason}"))
    queues = [QueueState(device=d.id, zone=d.zone_id, length=val[(d.id, "queue_length")],
                         time=seen.get(d.id, now), target=QUEUE_TARGET)
              for d in building.devices if (d.id, "queue_length") in val]
    power: dict[str, float] = {}
    for d in building.devices:  # a circuit's main meter reads at least as much as any of its sub-meters
        if (d.id, "power") in val:
            key = d.circuit or d.id
            power[key] = max(power.get(key, 0.0), val[(d.id, "power")])
    if power:
        power["total"] = sum(power.values())
    occupancy = sum(z.occupancy for z in zones)
    return BranchState(branch=building.branch_id, name=building.name, time=now, is_open=True, zones=tuple(zones),
                       devices=tuple(devices), alerts=tuple(alerts), occupancy=occupancy,
                       occupancy_std=sum(z.occupancy_std ** 2 for z in zones) ** 0.5,
                       capacity=sum(z.capacity for z in zones), power_w=power, queues=tuple(queues),
                       readings=len(latest), last_reading=max(seen.values()) if seen else None)


def _mean(xs: list[float | None]) -> float | None:
    got = [x for x in xs if x is not None]
    return sum(got) / len(got) if got else None

