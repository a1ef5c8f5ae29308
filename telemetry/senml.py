"""SenML decoding and validation: every message ends as accepted readings or rejections with a reason.

A message is one MQTT publish: a topic (``smartlib/v1/{branch}/{device}/telemetry`` or ``.../status``)
and a payload. Telemetry payloads are SenML JSON packs (RFC 8428): an array of records with
base fields (``bn``, ``bt``, ``bu``, ``bv``, ``bver``) that apply to the records after them and
regular fields (``n``, ``u``, ``v``/``vb``/``vs``, ``t``). The validator resolves each record
(name = ``bn`` + ``n``, time = ``bt`` + ``t``, value = ``bv`` + ``v``, unit = ``u`` or ``bu``) and judges it
against the device list of the scenarios and the quantity table (:mod:`geometry.quantities`):
known branch and device, quantity listed for that device, unit, physical range, time window.

A pack may be partly good: its valid records are accepted and each bad record is rejected on its
own. Whole-message faults (not JSON, unknown device ...) reject the message once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

import msgspec
import numpy as np
import orjson
import pyarrow as pa
from msgspec import UNSET, UnsetType

from geometry.quantities import QUANTITIES, TELEMETRY_SCHEMA, Quantity

from .records import SERIES_KEY_SEP, Reading, SeriesIndex, base_name
from .registry import DeviceInfo, DeviceRegistry
from .topics import OFFLINE, ONLINE, STATUS, parse_topic


class Reason(StrEnum):
    """Why a message or a record was rejected (the ``reason`` column of the dead letters)."""

    # the whole message
    OVERSIZED = "oversized"
    EMPTY_PAYLOAD = "empty_payload"
    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"
    NOT_SENML = "not_senml"
    EMPTY_PACK = "empty_pack"
    TOO_MANY_RECORDS = "too_many_records"
    BAD_TOPIC = "bad_topic"
    UNKNOWN_BRANCH = "unknown_branch"
    UNKNOWN_DEVICE = "unknown_device"
    UNSUPPORTED_VERSION = "unsupported_version"
    BAD_STATUS = "bad_status"
    # one record
    RECORD_NOT_OBJECT = "record_not_object"
    BAD_FIELD_TYPE = "bad_field_type"
    NESTED_VALUE = "nested_value"
    MUST_UNDERSTAND = "must_understand_field"
    MISSING_NAME = "missing_name"
    BAD_NAME = "bad_name"
    NAME_MISMATCH = "name_mismatch"
    UNKNOWN_QUANTITY = "unknown_quantity"
    QUANTITY_NOT_FOR_DEVICE = "quantity_not_for_device"
    MISSING_VALUE = "missing_value"
    MULTIPLE_VALUES = "multiple_values"
    UNSUPPORTED_VALUE = "unsupported_value"
    WRONG_VALUE_KIND = "wrong_value_kind"
    NOT_FINITE = "not_finite"
    MISSING_UNIT = "missing_unit"
    WRONG_UNIT = "wrong_unit"
    OUT_OF_RANGE = "out_of_range"
    STRING_TOO_LONG = "string_too_long"
    TIME_IN_FUTURE = "time_in_future"
    TIME_TOO_OLD = "time_too_old"
    DUPLICATE = "duplicate"
    # a fault in the validator itself (a bug): the message is kept, the ingest keeps running
    INTERNAL_ERROR = "internal_error"


@dataclass(frozen=True)
class Rejection:
    """One rejected message or record: the reason code and a sentence saying what and where."""

    reason: Reason
    detail: str
    record: int | None = None


@dataclass(frozen=True)
class Limits:
    """Bounds a message must keep.

    Parameters
    ----------
    max_payload_bytes
        Largest payload read [bytes]; larger ones are rejected unread.
    max_records
        Most records in one pack.
    max_string_chars
        Longest text value (``vs``) [characters].
    max_future_s
        How far a reading may lie ahead of the receive time (device clock skew) [s].
    max_past_s
        How far a reading may lie behind the receive time (buffered readings) [s]; 0 = no limit.
    """

    max_payload_bytes: int = 65_536
    max_records: int = 1_000
    max_string_chars: int = 1_024
    max_future_s: float = 300.0
    max_past_s: float = 7 * 86_400.0


#: Units accepted besides a quantity's canonical SenML unit: canonical = alternative * scale + offset.
#: RFC 8798 registers kWh and kW as secondary units; K is the SenML base unit of temperature.
UNIT_CONVERSIONS: dict[str, dict[str, tuple[float, float]]] = {
    "Wh": {"kWh": (1000.0, 0.0)},
    "W": {"kW": (1000.0, 0.0)},
    "Cel": {"K": (1.0, -273.15)},
}

SENML_VERSION = 10
RELATIVE_TIME_LIMIT = 2.0**28  # RFC 8428 4.5.3: times below this are relative to "now"
NAME_RE = re.compile(r"^[A-Za-z0-9][-:./_A-Za-z0-9]*$")
_BASE_FIELDS = frozenset({"bn", "bt", "bu", "bv", "bs", "bver"})
_RECORD_FIELDS = frozenset({"n", "u", "v", "vs", "vb", "vd", "s", "t", "ut"})
_KNOWN_FIELDS = _BASE_FIELDS | _RECORD_FIELDS
_VALUE_FIELDS = ("v", "vb", "vs", "vd", "s")
_NO_REJECTIONS: tuple[Rejection, ...] = ()


def _column(values: list[Any], type_: pa.DataType) -> pa.Array:
    # an all-null list is built directly: pyarrow converts [None] * n to bool very slowly (seconds per 1e5)
    if values.count(None) == len(values):
        return pa.nulls(len(values), type_)
    return pa.array(values, type=type_)


def _is_number(x: object) -> bool:
    t = type(x)
    return t is float or t is int


class SeriesTable:
    """The series an ingest has seen, each (branch, device, quantity, unit) with a dense index (append-only).

    Readings in :class:`Columns` name their series by this index (one int per reading instead of four strings);
    :meth:`Columns.to_arrow` expands it to the string columns in one vectorised ``take``.
    """

    __slots__ = ("_arrays", "index", "joined", "keys")

    def __init__(self) -> None:
        self.keys: list[tuple[str, str, str, str]] = []
        self.joined: list[str] = []  # the keys joined by SERIES_KEY_SEP, as the stores name series
        self.index: dict[tuple[str, str, str, str], int] = {}
        self._arrays: list[pa.Array] = []

    def __len__(self) -> int:
        return len(self.keys)

    def add(self, key: tuple[str, str, str, str]) -> int:
        """The index of ``key`` (added when new)."""
        i = self.index.get(key)
        if i is None:
            i = self.index[key] = len(self.keys)
            self.keys.append(key)
            self.joined.append(SERIES_KEY_SEP.join(key))
        return i

    def arrays(self) -> list[pa.Array]:
        """branch, device, quantity and unit of every series, as four Arrow string arrays (cached)."""
        if not self._arrays or len(self._arrays[0]) != len(self.keys):
            self._arrays = [pa.array([k[j] for k in self.keys], pa.string()) for j in range(4)]
        return self._arrays


class Columns:
    """Accepted readings of one batch, column by column, turned into one Arrow table per batch.

    A reading is its series (an index into :attr:`series`), its time [UTC epoch s] and its numeric value;
    the few boolean and text readings also go to ``other`` as (row, bool_value, string_value) with a null
    numeric value. Appending a reading is three list appends: no tuple or object per reading.
    """

    __slots__ = ("key", "other", "series", "time", "value")

    def __init__(self, series: SeriesTable | None = None) -> None:
        self.series = series if series is not None else SeriesTable()
        self.key: list[int] = []
        self.time: list[float] = []
        self.value: list[float | None] = []
        self.other: list[tuple[int, bool | None, str | None]] = []

    def __len__(self) -> int:
        return len(self.key)

    def append(self, key: int, time: float, value: float | None, bool_value: bool | None = None,
               string_value: str | None = None) -> None:
        """Add one reading of series ``key`` (exactly one of the three values set)."""
        if value is None:
            self.other.append((len(self.key), bool_value, string_value))
        self.key.append(key)
        self.time.append(time)
        self.value.append(value)

    def truncate(self, n: int) -> None:
        """Drop rows from index ``n`` on (undo a partly appended message)."""
        del self.key[n:], self.time[n:], self.value[n:]
        if self.other and self.other[-1][0] >= n:
            self.other = [o for o in self.other if o[0] < n]

    def to_arrow(self) -> pa.Table:
        """The rows as a table in :data:`~telemetry.records.TELEMETRY_SCHEMA`."""
        n = len(self.key)
        if n == 0:
            return TELEMETRY_SCHEMA.empty_table()
        idx = pa.array(np.asarray(self.key, dtype=np.int32))
        strings = [a.take(idx) for a in self.series.arrays()]
        time = pa.array(np.asarray(self.time, dtype=np.float64))
        value = pa.array(self.value, pa.float64())
        if self.other:
            bools: list[bool | None] = [None] * n
            texts: list[str | None] = [None] * n
            for row, b, s in self.other:
                bools[row] = b
                texts[row] = s
            bool_col, text_col = _column(bools, pa.bool_()), _column(texts, pa.string())
        else:
            bool_col, text_col = pa.nulls(n, pa.bool_()), pa.nulls(n, pa.string())
        return pa.Table.from_arrays([*strings, time, value, bool_col, text_col], schema=TELEMETRY_SCHEMA)

    def series_index(self) -> SeriesIndex:
        """Each reading's series, for the store (:attr:`telemetry.store.Batch.series`)."""
        return SeriesIndex(list(self.series.joined), np.asarray(self.key, dtype=np.int32))

    def readings(self) -> list[Reading]:
        return [Reading(*row.values()) for row in self.to_arrow().to_pylist()]


@dataclass(frozen=True)
class _QuantityRule:
    q: Quantity
    units: dict[str, tuple[float, float]]  # accepted unit -> (scale, offset) to the canonical unit
    series: int  # index of (branch, device, quantity, canonical unit) in the validator's SeriesTable


@dataclass(frozen=True)
class _DeviceRule:
    info: DeviceInfo
    prefix: str
    quantities: dict[str, _QuantityRule]
    #: (bn, n) -> (quantity, rule) of names already resolved (a device sends the same few names)
    resolved: dict[tuple[str, str], tuple[str, _QuantityRule]] = field(default_factory=dict)


class Outcome(NamedTuple):
    """What became of one message.

    ``accepted`` readings were appended to the caller's :class:`Columns`; ``rejections`` explain the
    rest; ``status`` is the new device status for a status message.
    """

    branch: str | None
    device: str | None
    accepted: int
    rejections: Sequence[Rejection]
    status: str | None = None


class Validator:
    """Judges messages against the known devices and the quantity table.

    Parameters
    ----------
    registry
        Known branches and devices (from the scenario files).
    limits
        Payload size, record count, string length and time-window bounds.
    """

    def __init__(self, registry: DeviceRegistry, limits: Limits | None = None) -> None:
        self.registry = registry
        self.limits = limits or Limits()
        self._rules: dict[str, _DeviceRule | Outcome] = {}
        self.series = SeriesTable()

    def columns(self) -> Columns:
        """An empty batch of readings naming series by this validator's :attr:`series`."""
        return Columns(self.series)

    # ------------------------------------------------------------------ per topic (cached)
    def _rule(self, topic: str) -> _DeviceRule | Outcome:
        rule = self._rules.get(topic)
        if rule is None:
            rule = self._make_rule(topic)
            if len(self._rules) < 100_000:  # a flood of random topics must not grow memory without bound
                self._rules[topic] = rule
        return rule

    def _make_rule(self, topic: str) -> _DeviceRule | Outcome:
        parsed = parse_topic(topic)
        if isinstance(parsed, str):
            return Outcome(None, None, 0, (Rejection(Reason.BAD_TOPIC, f"topic {topic!r}: {parsed}"),))
        branch, device, kind = parsed
        if not self.registry.has_branch(branch):
            known = ", ".join(self.registry.branches) or "none"
            return Outcome(branch, device, 0, (Rejection(
                Reason.UNKNOWN_BRANCH, f"branch {branch!r} is in no scenario file (known: {known})"),))
        info = self.registry.get(branch, device)
        if info is None:
            return Outcome(branch, device, 0, (Rejection(
                Reason.UNKNOWN_DEVICE, f"device {device!r} is not in the device list of branch {branch!r}"),))
        if kind == STATUS:
            return _DeviceRule(info, "", {})
        rules = {}
        for name in info.quantities:
            q = QUANTITIES[name]
            units = {q.unit: (1.0, 0.0), **UNIT_CONVERSIONS.get(q.unit, {})}
            rules[name] = _QuantityRule(q, units, self.series.add((branch, device, name, q.unit)))
        return _DeviceRule(info, base_name(branch, device), rules)

    # ------------------------------------------------------------------ a message
    def validate(self, topic: str, payload: bytes, received: float, out: Columns) -> Outcome:
        """Judge one message; append its accepted readings to ``out``.

        Parameters
        ----------
        topic
            MQTT topic it came on.
        payload
            Raw payload bytes.
        received
            Receive time [UTC epoch s]: relative SenML times count from it and the time window is
            checked against it.
        out
            Where accepted readings go.

        Returns
        -------
        Outcome
            Counts of accepted readings and the rejections with their reasons.
        """
        size = len(payload)
        if size > self.limits.max_payload_bytes:
            parsed = parse_topic(topic)
            b, d = (parsed[0], parsed[1]) if isinstance(parsed, tuple) else (None, None)
            return Outcome(b, d, 0, (Rejection(
                Reason.OVERSIZED, f"payload of {size:,} bytes is over the limit of "
                f"{self.limits.max_payload_bytes:,} bytes"),))
        rule = self._rule(topic)
        if isinstance(rule, Outcome):
            return rule
        info = rule.info
        if not rule.prefix:  # status topic
            return self._status(info, payload)
        if size == 0:
            return Outcome(info.branch, info.device, 0, (Rejection(Reason.EMPTY_PAYLOAD, "empty payload"),))
        if out.series is not self.series:
            if len(out):
                raise ValueError("these Columns hold readings of another validator's series")
            out.series = self.series
        start = len(out)
        try:
            accepted = self._fast(rule, payload, received, out)
        except Exception as exc:  # a bug must not stop the ingest; keep the message as a dead letter
            out.truncate(start)
            return Outcome(info.branch, info.device, 0, (Rejection(
                Reason.INTERNAL_ERROR, f"validator failed: {type(exc).__name__}: {exc}"),))
        if accepted >= 0:
            return Outcome(info.branch, info.device, accepted, _NO_REJECTIONS)
        try:
            pack = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            try:
                payload.decode("utf-8")
            except UnicodeDecodeError as uexc:
                return Outcome(info.branch, info.device, 0, (Rejection(
                    Reason.NOT_UTF8, f"payload is not UTF-8 (byte {uexc.start}: {uexc.reason})"),))
            return Outcome(info.branch, info.device, 0, (Rejection(Reason.NOT_JSON, f"payload is not JSON: {exc}"),))
        if type(pack) is not list:
            return Outcome(info.branch, info.device, 0, (Rejection(
                Reason.NOT_SENML, f"a SenML pack is a JSON array of records, got a JSON {_json_type(pack)}"),))
        n = len(pack)
        if n == 0:
            return Outcome(info.branch, info.device, 0, (Rejection(Reason.EMPTY_PACK, "the SenML pack has no "
                                                                                     "records"),))
        if n > self.limits.max_records:
            return Outcome(info.branch, info.device, 0, (Rejection(
                Reason.TOO_MANY_RECORDS, f"{n:,} records in one pack, over the limit of {self.limits.max_records:,}"),))
        start = len(out)
        try:
            rejections = self._records(rule, pack, received, out)
        except Exception as exc:  # a bug must not stop the ingest; keep the message as a dead letter
            out.truncate(start)
            return Outcome(info.branch, info.device, 0, (Rejection(
                Reason.INTERNAL_ERROR, f"validator failed: {type(exc).__name__}: {exc}"),))
        return Outcome(info.branch, info.device, len(out) - start, rejections)

    def _fast(self, rule: _DeviceRule, payload: bytes, received: float, out: Columns) -> int:
        """Accept a pack whose every record is valid, decoded straight into typed records; the readings it
        appended, or -1 (nothing appended) when anything is unusual: then :meth:`_records` judges the message
        record by record and says why. The common case costs one C decode and a short loop per record."""
        try:
            pack = _decode_records(payload)
        except msgspec.DecodeError:  # not JSON, not an array of objects, a field we do not take here, a wrong type
            return -1
        n = len(pack)
        lim = self.limits
        if n == 0 or n > lim.max_records:
            return -1
        earliest = received - lim.max_past_s if lim.max_past_s > 0 else -_MAX_FLOAT
        latest = received + lim.max_future_s
        resolved = rule.resolved
        keys, times, values = out.key, out.time, out.value
        start = len(keys)
        seen: set[tuple[int, float]] | None = set() if n > 1 else None
        bn = ""
        bt = 0.0
        bu = ""
        for rec in pack:
            if rec.bn is not UNSET:
                bn = rec.bn
            if rec.bt is not UNSET:
                bt = rec.bt
            if rec.bu is not UNSET:
                bu = rec.bu
            if rec.bver is not UNSET and rec.bver > SENML_VERSION:
                break
            hit = resolved.get((bn, rec.n))
            if hit is None:
                got = self._name(rule, bn, rec.n, 0)
                if isinstance(got, Rejection):
                    break
                if len(resolved) < 1_000:
                    resolved[(bn, rec.n)] = got
                hit = got
            qr = hit[1]
            q = qr.q
            time = bt + rec.t
            if time < RELATIVE_TIME_LIMIT:
                time += received
            if not earliest <= time <= latest:  # also catches an infinite sum (times of +-1e308)
                break
            conv = qr.units.get(bu if rec.u is UNSET else rec.u)
            if conv is None:
                break
            value = rec.v
            if value is not UNSET:
                if q.kind != "v" or rec.vb is not UNSET or rec.vs is not UNSET:
                    break
                if conv[0] != 1.0 or conv[1] != 0.0:
                    value = value * conv[0] + conv[1]
                if not q.min <= value <= q.max:
                    break
                if seen is not None:
                    key = (qr.series, time)
                    if key in seen:
                        break
                    seen.add(key)
                keys.append(qr.series)
                times.append(time)
                values.append(value)
                continue
            if rec.vb is not UNSET and rec.vs is UNSET and q.kind == "vb":
                if seen is not None:
                    key = (qr.series, time)
                    if key in seen:
                        break
                    seen.add(key)
                out.append(qr.series, time, None, rec.vb)
            elif (rec.vs is not UNSET and rec.vb is UNSET and q.kind == "vs"
                  and len(rec.vs) <= lim.max_string_chars):
                if seen is not None:
                    key = (qr.series, time)
                    if key in seen:
                        break
                    seen.add(key)
                out.append(qr.series, time, None, None, rec.vs)
            else:
                break
        else:
            return n
        out.truncate(start)
        return -1

    def _status(self, info: DeviceInfo, payload: bytes) -> Outcome:
        text = payload.strip()
        if text == b"online" or text == b"offline":
            return Outcome(info.branch, info.device, 0, _NO_REJECTIONS, ONLINE if text == b"online" else OFFLINE)
        shown = payload[:40].decode("utf-8", "replace")
        return Outcome(info.branch, info.device, 0, (Rejection(
            Reason.BAD_STATUS, f"status payload must be 'online' or 'offline', got {shown!r}"),))

    # ------------------------------------------------------------------ the records of a pack
    def _records(self, rule: _DeviceRule, pack: list[Any], received: float, out: Columns) -> Sequence[Rejection]:
        lim = self.limits
        bn = ""
        bt = 0.0
        bu: str | None = None
        bv: float | None = None
        rejections: list[Rejection] | None = None
        seen: set[tuple[str, float]] | None = set() if len(pack) > 1 else None
        earliest = received - lim.max_past_s if lim.max_past_s > 0 else -math.inf
        latest = received + lim.max_future_s
        for i, rec in enumerate(pack):
            problem: Rejection | None = None
            if type(rec) is not dict:
                problem = Rejection(Reason.RECORD_NOT_OBJECT,
                                    f"record {i} is a JSON {_json_type(rec)}, not an object", i)
            else:
                keys = rec.keys()
                if not keys <= _KNOWN_FIELDS:
                    problem = _unknown_fields(rec, i)
                if problem is None and not keys.isdisjoint(_BASE_FIELDS):
                    base = _base_fields(rec, i)
                    if isinstance(base, Rejection):
                        # base fields apply to every later record: none of them can be read
                        rejections = rejections or []
                        rejections.append(Rejection(base.reason, base.detail + (
                            f" (records {i}..{len(pack) - 1} not read)" if i < len(pack) - 1 else ""), i))
                        return rejections
                    if "bn" in rec:
                        bn = base["bn"]
                    if "bt" in rec:
                        bt = base["bt"]
                    if "bu" in rec:
                        bu = base["bu"]
                    if "bv" in rec:
                        bv = base["bv"]
                if problem is None:
                    problem = self._record(rule, rec, i, bn, bt, bu, bv, received, earliest, latest, seen, out)
            if problem is not None:
                if rejections is None:
                    rejections = []
                rejections.append(problem)
        return rejections if rejections is not None else _NO_REJECTIONS

    def _name(self, rule: _DeviceRule, bn: str, n: str, i: int) -> tuple[str, _QuantityRule] | Rejection:
        """The quantity a record's name (``bn`` + ``n``) gives, and its rule, or why the name is refused."""
        name = bn + n
        if not name:
            return Rejection(Reason.MISSING_NAME, f"record {i} has no name (neither 'bn' nor 'n')", i)
        if name.startswith(rule.prefix):
            qname = name[len(rule.prefix):]
        elif "/" in name:
            return Rejection(Reason.NAME_MISMATCH, f"record {i}: name {name!r} does not belong to "
                             f"{rule.info.branch}/{rule.info.device} (expected {rule.prefix}<quantity>)", i)
        else:
            qname = name
        qr = rule.quantities.get(qname)
        if qr is None:
            if not NAME_RE.match(name):
                return Rejection(Reason.BAD_NAME, f"record {i}: name {name!r} has characters SenML does not allow", i)
            if qname in QUANTITIES:
                return Rejection(Reason.QUANTITY_NOT_FOR_DEVICE, f"record {i}: device {rule.info.device!r} "
                                 f"({rule.info.type}) does not report {qname!r} (it reports "
                                 f"{', '.join(sorted(rule.quantities))})", i)
            return Rejection(Reason.UNKNOWN_QUANTITY, f"record {i}: unknown quantity {qname!r}", i)
        return qname, qr

    def _record(self, rule: _DeviceRule, rec: dict[str, Any], i: int, bn: str, bt: float, bu: str | None,
                bv: float | None,
                received: float, earliest: float, latest: float, seen: set[tuple[str, float]] | None,
                out: Columns) -> Rejection | None:
        # name
        n = rec.get("n", "")
        if type(n) is not str:
            return Rejection(Reason.BAD_FIELD_TYPE, f"record {i}: name 'n' must be a string, got {_json_type(n)}", i)
        hit = rule.resolved.get((bn, n))
        if hit is None:
            resolved = self._name(rule, bn, n, i)
            if isinstance(resolved, Rejection):
                return resolved
            if len(rule.resolved) < 1_000:
                rule.resolved[(bn, n)] = resolved
            qname, qr = resolved
        else:
            qname, qr = hit
        q = qr.q
        # time
        t = rec.get("t", 0.0)
        if type(t) is not float and type(t) is not int:
            return Rejection(Reason.BAD_FIELD_TYPE, f"record {i} ({qname}): time 't' must be a number, "
                             f"got {_json_type(t)}", i)
        time = bt + t
        if time < RELATIVE_TIME_LIMIT:
            time += received
        if not math.isfinite(time):
            return Rejection(Reason.NOT_FINITE, f"record {i} ({qname}): time is not finite", i)
        if time > latest:
            return Rejection(Reason.TIME_IN_FUTURE, f"record {i} ({qname}): time {time:.3f} is "
                             f"{time - received:,.0f} s after the receive time "
                             f"(limit {self.limits.max_future_s:g} s)", i)
        if time < earliest:
            return Rejection(Reason.TIME_TOO_OLD, f"record {i} ({qname}): time {time:.3f} is {received - time:,.0f} s "
                             f"before the receive time (limit {self.limits.max_past_s:g} s)", i)
        # value: exactly one of v / vb / vs
        has_v = "v" in rec
        has_vb = "vb" in rec
        has_vs = "vs" in rec
        if has_v + has_vb + has_vs + ("vd" in rec) + ("s" in rec) > 1:
            given = [f for f in _VALUE_FIELDS if f in rec]
            return Rejection(Reason.MULTIPLE_VALUES, f"record {i} ({qname}): more than one value field "
                             f"({', '.join(given)})", i)
        value: float | None = None
        bool_value: bool | None = None
        string_value: str | None = None
        kind = q.kind
        if has_v or (bv is not None and not has_vb and not has_vs and "vd" not in rec and "s" not in rec):
            if kind != "v":
                return Rejection(Reason.WRONG_VALUE_KIND, f"record {i} ({qname}): a numeric value 'v' was sent, "
                                 f"but {qname} takes '{kind}'", i)
            v = rec.get("v", 0.0)
            if type(v) is not float and type(v) is not int:
                return Rejection(Reason.BAD_FIELD_TYPE, f"record {i} ({qname}): value 'v' must be a number, "
                                 f"got {_json_type(v)}", i)
            value = float(v) if bv is None else bv + v
            if not math.isfinite(value):
                return Rejection(Reason.NOT_FINITE, f"record {i} ({qname}): value is not finite", i)
        elif has_vb:
            if kind != "vb":
                return Rejection(Reason.WRONG_VALUE_KIND, f"record {i} ({qname}): a boolean 'vb' was sent, "
                                 f"but {qname} takes '{kind}'", i)
            bool_value = rec["vb"]
            if type(bool_value) is not bool:
                return Rejection(Reason.BAD_FIELD_TYPE, f"record {i} ({qname}): 'vb' must be true or false, "
                                 f"got {_json_type(bool_value)}", i)
        elif has_vs:
            if kind != "vs":
                return Rejection(Reason.WRONG_VALUE_KIND, f"record {i} ({qname}): a string 'vs' was sent, "
                                 f"but {qname} takes '{kind}'", i)
            string_value = rec["vs"]
            if type(string_value) is not str:
                return Rejection(Reason.BAD_FIELD_TYPE, f"record {i} ({qname}): 'vs' must be a string, "
                                 f"got {_json_type(string_value)}", i)
            if len(string_value) > self.limits.max_string_chars:
                return Rejection(Reason.STRING_TOO_LONG, f"record {i} ({qname}): text of {len(string_value):,} "
                                 f"characters, over the limit of {self.limits.max_string_chars:,}", i)
        elif "vd" in rec or "s" in rec:
            field = "vd" if "vd" in rec else "s"
            return Rejection(Reason.UNSUPPORTED_VALUE, f"record {i} ({qname}): '{field}' "
                             f"({'data value' if field == 'vd' else 'sum'}) is not used by smartlib; send '{kind}'", i)
        else:
            return Rejection(Reason.MISSING_VALUE, f"record {i} ({qname}): no value (one of v, vb, vs)", i)
        # unit
        u = rec.get("u", bu)
        if u is None:
            u = ""
        elif type(u) is not str:
            return Rejection(Reason.BAD_FIELD_TYPE, f"record {i} ({qname}): unit 'u' must be a string, "
                             f"got {_json_type(u)}", i)
        conv = qr.units.get(u)
        if conv is None:
            expected = " or ".join(repr(x) for x in qr.units)
            if not u:
                return Rejection(Reason.MISSING_UNIT, f"record {i} ({qname}): no unit; expected {expected}", i)
            return Rejection(Reason.WRONG_UNIT, f"record {i} ({qname}): unit {u!r}, expected {expected}", i)
        if value is not None:
            if conv[0] != 1.0 or conv[1] != 0.0:
                value = value * conv[0] + conv[1]
            if not q.min <= value <= q.max:
                side = "below the minimum" if value < q.min else "above the maximum"
                return Rejection(Reason.OUT_OF_RANGE, f"record {i} ({qname}): {value:g} {q.unit} is {side} "
                                 f"{q.min if value < q.min else q.max:g} {q.unit}", i)
        # duplicates inside the pack (across messages the store is idempotent)
        if seen is not None:
            key = (qname, time)
            if key in seen:
                return Rejection(Reason.DUPLICATE, f"record {i} ({qname}): a second reading at time {time:.3f} "
                                 f"in the same pack", i)
            seen.add(key)
        out.append(qr.series, time, value, bool_value, string_value)
        return None


class _Record(msgspec.Struct, forbid_unknown_fields=True):
    """A SenML record with only the fields and types the fast path takes (anything else: the full path)."""

    bn: str | UnsetType = UNSET
    bt: float | UnsetType = UNSET
    bu: str | UnsetType = UNSET
    bver: float | UnsetType = UNSET
    n: str = ""
    u: str | UnsetType = UNSET
    v: float | UnsetType = UNSET
    vb: bool | UnsetType = UNSET
    vs: str | UnsetType = UNSET
    t: float = 0.0


_decode_records = msgspec.json.Decoder(list[_Record]).decode
_MAX_FLOAT = 1.7976931348623157e308


def _json_type(x: object) -> str:
    if x is None:
        return "null"
    if isinstance(x, bool):
        return "boolean"
    if isinstance(x, (int, float)):
        return "number"
    if isinstance(x, str):
        return "string"
    if isinstance(x, list):
        return "array"
    if isinstance(x, dict):
        return "object"
    return type(x).__name__


def _unknown_fields(rec: dict[str, Any], i: int) -> Rejection | None:
    for k, v in rec.items():
        if k in _KNOWN_FIELDS:
            continue
        if k.endswith("_"):
            return Rejection(Reason.MUST_UNDERSTAND, f"record {i}: field {k!r} must be understood (RFC 8428 4.4) "
                             f"and smartlib does not know it", i)
        if isinstance(v, (dict, list)):
            return Rejection(Reason.NESTED_VALUE, f"record {i}: field {k!r} holds a JSON {_json_type(v)}; "
                             f"SenML fields are plain values", i)
    return None


def _base_fields(rec: dict[str, Any], i: int) -> dict[str, Any] | Rejection:
    got: dict[str, Any] = {}
    if "bver" in rec:
        ver = rec["bver"]
        if not _is_number(ver):
            return Rejection(Reason.BAD_FIELD_TYPE, f"record {i}: 'bver' must be a number, got {_json_type(ver)}", i)
        if ver > SENML_VERSION:
            return Rejection(Reason.UNSUPPORTED_VERSION, f"record {i}: SenML version {ver} is newer than "
                             f"the supported {SENML_VERSION}", i)
    for key, want in (("bn", str), ("bu", str), ("bt", float), ("bv", float), ("bs", float)):
        if key in rec:
            x = rec[key]
            if isinstance(x, (dict, list)):
                return Rejection(Reason.NESTED_VALUE, f"record {i}: base field {key!r} holds a JSON {_json_type(x)}", i)
            ok = type(x) is str if want is str else _is_number(x)
            if not ok:
                return Rejection(Reason.BAD_FIELD_TYPE, f"record {i}: base field {key!r} must be a "
                                 f"{'string' if want is str else 'number'}, got {_json_type(x)}", i)
            got[key] = float(x) if want is float else x
    for key in ("bt", "bv"):
        if key in got and not math.isfinite(got[key]):
            return Rejection(Reason.NOT_FINITE, f"record {i}: base field {key!r} is not finite", i)
    return got


@dataclass(frozen=True)
class Decoded:
    """Result of :func:`decode`: accepted readings, rejections, and the status of a status message."""

    readings: list[Reading]
    rejections: Sequence[Rejection]
    status: str | None = None


def decode(topic: str, payload: bytes, registry: DeviceRegistry, *, received: float,
           limits: Limits | None = None) -> Decoded:
    """Decode and validate one message (convenience over :class:`Validator` for single messages).

    Parameters
    ----------
    topic, payload
        The MQTT message.
    registry
        Known branches and devices.
    received
        Receive time [UTC epoch s].
    limits
        Bounds; defaults to :class:`Limits`.
    """
    out = Columns()
    outcome = Validator(registry, limits).validate(topic, payload, received, out)
    return Decoded(out.readings(), outcome.rejections, outcome.status)
