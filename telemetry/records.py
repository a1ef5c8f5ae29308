"""The telemetry table format and its SenML encoding.

One row per reading, the same columns whether the rows come from a simulation's virtual sensors
(``telemetry.parquet`` in a results directory), from the synthetic source, or out of the store:

============  ==========  ===============================================================
column        type        meaning
============  ==========  ===============================================================
branch        string      branch id (scenario ``branch.id``)
device        string      device id (scenario ``devices[].id``)
quantity      string      quantity name (``geometry.quantities.QUANTITIES``), e.g. ``co2``
unit          string      SenML unit of ``value`` (``ppm``, ``Cel``, ``Wh`` ...; ``""`` for none)
time          float64     UTC epoch seconds [s]
value         float64     numeric reading, or null
bool_value    bool        boolean reading (``seat_occupied``), or null
string_value  string      text reading (``status``), or null
============  ==========  ===============================================================

Exactly one of ``value``, ``bool_value``, ``string_value`` is set in a row, as the quantity's
``kind`` says (``v``, ``vb``, ``vs``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from geometry.quantities import TELEMETRY_COLUMNS

from .topics import telemetry_topic

SERIES_KEY_SEP = "\x1f"  # joins branch, device, quantity and unit into one series key (ids never hold it)


@dataclass(frozen=True)
class SeriesIndex:
    """Each reading's series as an index into ``keys`` (branch, device, quantity and unit joined by
    :data:`SERIES_KEY_SEP`); ``keys`` may hold series no reading of the batch has."""

    keys: Sequence[str]
    index: np.ndarray  # int32, one per reading


@dataclass(frozen=True)
class Reading:
    """One reading of one quantity by one device (a row of the telemetry table)."""

    branch: str
    device: str
    quantity: str
    unit: str
    time: float
    value: float | None = None
    bool_value: bool | None = None
    string_value: str | None = None


@dataclass(frozen=True)
class Message:
    """A SenML pack ready to publish: topic, payload bytes and the reading time [UTC epoch s]."""

    branch: str
    device: str
    topic: str
    payload: bytes
    time: float
    records: int


def base_name(branch: str, device: str) -> str:
    """SenML base name ``bn`` of a device: ``{branch}/{device}/`` (records then name the quantity)."""
    return f"{branch}/{device}/"


def _number(x: float) -> float | int:
    # integers travel as JSON integers (shorter, exact)
    return int(x) if x.is_integer() and abs(x) < 2**53 else x


def senml_pack(branch: str, device: str, readings: Sequence[Reading]) -> bytes:
    """Encode readings of one device as a SenML JSON pack (RFC 8428).

    The first record carries the base name ``{branch}/{device}/`` and the base time ``bt``
    (UTC epoch seconds); later records give ``t`` relative to it when their time differs.

    Parameters
    ----------
    branch, device
        Who sends the pack (must match every reading).
    readings
        At least one reading.

    Returns
    -------
    bytes
        The JSON payload.
    """
    if not readings:
        raise ValueError("a SenML pack needs at least one reading")
    bt = readings[0].time
    records: list[dict[str, Any]] = []
    for i, r in enumerate(readings):
        if r.branch != branch or r.device != device:
            raise ValueError(f"reading of {r.branch}/{r.device} in a pack of {branch}/{device}")
        rec: dict[str, Any] = {}
        if i == 0:
            rec["bn"] = base_name(branch, device)
            rec["bt"] = _number(bt)
        rec["n"] = r.quantity
        if r.unit:
            rec["u"] = r.unit
        if r.value is not None:
            if not math.isfinite(r.value):
                raise ValueError(f"{branch}/{device} {r.quantity}: value {r.value} is not finite")
            rec["v"] = _number(float(r.value))
        elif r.bool_value is not None:
            rec["vb"] = bool(r.bool_value)
        elif r.string_value is not None:
            rec["vs"] = r.string_value
        else:
            raise ValueError(f"{branch}/{device} {r.quantity} at t={r.time}: no value")
        if r.time != bt:
            rec["t"] = _number(r.time - bt)
        records.append(rec)
    return orjson.dumps(records)


def iter_readings(table: pa.Table) -> Iterator[Reading]:
    """Rows of a telemetry table as :class:`Reading` objects (in table order)."""
    missing = [c for c in TELEMETRY_COLUMNS if c not in table.column_names]
    if missing:
        raise ValueError(f"telemetry table lacks column(s) {', '.join(missing)} (needs {', '.join(TELEMETRY_COLUMNS)})")
    cols = [table.column(c).to_pylist() for c in TELEMETRY_COLUMNS]
    for row in zip(*cols, strict=True):
        yield Reading(*row)


def records_to_packs(table: pa.Table | Iterable[Reading], *, max_records: int = 64) -> Iterator[Message]:
    """Turn telemetry rows into SenML messages, as the devices would publish them.

    Rows are grouped per device and reading time (one message holds every quantity a device
    read at that instant, up to ``max_records``), in time order.

    Parameters
    ----------
    table
        A table in :data:`TELEMETRY_SCHEMA` (e.g. a simulation's ``telemetry.parquet``) or readings.
    max_records
        Most records in one pack.

    Yields
    ------
    Message
        Topic ``smartlib/v1/{branch}/{device}/telemetry`` and the SenML payload.
    """
    readings = list(iter_readings(table)) if isinstance(table, pa.Table) else list(table)
    readings.sort(key=lambda r: (r.time, r.branch, r.device))
    i = 0
    n = len(readings)
    while i < n:
        first = readings[i]
        j = i + 1
        while (j < n and j - i < max_records and readings[j].time == first.time
               and readings[j].device == first.device and readings[j].branch == first.branch):
            j += 1
        group = readings[i:j]
        yield Message(first.branch, first.device, telemetry_topic(first.branch, first.device),
                      senml_pack(first.branch, first.device, group), first.time, len(group))
        i = j
