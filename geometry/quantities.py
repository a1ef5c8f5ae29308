"""What devices measure: the quantity names a scenario may list, their SenML unit and physical range.

The same table drives scenario validation (a device may only list known quantities), the
virtual sensors and the telemetry ingest (unit and range checks), so a simulated and a real
device are judged alike. Units follow the SenML registry (RFC 8428 and RFC 8798).

:data:`TELEMETRY_SCHEMA` is the one definition of a telemetry table (one reading per row), written
by the virtual sensors and read by the publisher, the ingest and the stores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

#: Columns of a telemetry table: who (branch, device), what (quantity, SenML unit), when (UTC epoch
#: seconds) and the value in one of three fields by its kind (number, boolean, string).
TELEMETRY_SCHEMA = pa.schema([
    pa.field("branch", pa.string(), nullable=False),
    pa.field("device", pa.string(), nullable=False),
    pa.field("quantity", pa.string(), nullable=False),
    pa.field("unit", pa.string(), nullable=False),
    pa.field("time", pa.float64(), nullable=False),
    pa.field("value", pa.float64()),
    pa.field("bool_value", pa.bool_()),
    pa.field("string_value", pa.string()),
])
TELEMETRY_COLUMNS: tuple[str, ...] = tuple(TELEMETRY_SCHEMA.names)

ValueKind = Literal["v", "vb", "vs"]


@dataclass(frozen=True)
class Quantity:
    """A measured quantity: its SenML unit, value field and plausible physical range."""

    name: str
    unit: str
    kind: ValueKind = "v"
    min: float = float("-inf")
    max: float = float("inf")
    description: str = ""


QUANTITIES: dict[str, Quantity] = {
    q.name: q
    for q in (
        Quantity("temperature", "Cel", "v", -40.0, 85.0, "air temperature [degC]"),
        Quantity("humidity", "%RH", "v", 0.0, 100.0, "relative humidity [%]"),
        Quantity("co2", "ppm", "v", 0.0, 40000.0, "CO2 concentration [ppm]"),
        Quantity("illuminance", "lx", "v", 0.0, 200000.0, "illuminance [lx]"),
        Quantity("sound_level", "dB", "v", 0.0, 140.0, "A-weighted sound level [dB]"),
        Quantity("people_in", "count", "v", 0.0, 100000.0, "people entering in the period"),
        Quantity("people_out", "count", "v", 0.0, 100000.0, "people leaving in the period"),
        Quantity("occupancy", "count", "v", 0.0, 100000.0, "people present"),
        Quantity("seat_occupied", "", "vb", description="seat taken (true) or free"),
        Quantity("power", "W", "v", 0.0, 1.0e7, "electric power [W]"),
        Quantity("energy", "Wh", "v", 0.0, 1.0e13, "cumulative electric energy [Wh]"),
        Quantity("transactions", "count", "v", 0.0, 100000.0, "transactions in the period"),
        Quantity("queue_length", "count", "v", 0.0, 10000.0, "people waiting"),
        Quantity("status", "", "vs", description="device state text"),
    )
}

# Which quantities each device type may report (scenario validation).
DEVICE_QUANTITIES: dict[str, frozenset[str]] = {
    "people_counter": frozenset({"people_in", "people_out"}),
    "seat_sensor": frozenset({"seat_occupied"}),
    "environment": frozenset({"temperature", "humidity", "co2", "illuminance", "sound_level"}),
    "co2": frozenset({"co2", "temperature", "humidity"}),
    "temperature": frozenset({"temperature", "humidity"}),
    "energy_meter": frozenset({"power", "energy"}),
    "kiosk": frozenset({"transactions", "status", "queue_length"}),
    "queue_counter": frozenset({"queue_length"}),
    "occupancy": frozenset({"occupancy"}),
}
