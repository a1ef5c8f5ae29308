"""The store interface: batches in (Arrow or DataFrame), the queries the twin and dashboard need out.

Tables (the same in DuckDB and PostgreSQL):

- ``readings``: one row per accepted reading, the columns of
  :data:`~telemetry.records.TELEMETRY_SCHEMA`; key (branch, device, quantity, time), so writing a
  reading twice (a redelivery) stores it once. It is a view: ``series`` gives each (branch, device,
  quantity, unit) an integer id and ``samples`` holds (series, time, value, bool_value, string_value).
- ``rollups``: per series, 1-minute and 1-hour aggregates (count, mean, min, max, last) of readings
  that :meth:`Store.compact` removed; resampled queries read them with the raw readings.
- ``dead_letters``: rejected messages and records: receive time, topic, branch, device, reason,
  detail, record index, the payload up to a cap and its full size.
- ``rejection_counts``: rejections per (branch, device, reason), exact even when a flood of bad
  messages is only sampled into ``dead_letters``.
- ``device_status``: the latest ``online``/``offline`` per device and when it was received.
- ``devices``: the device list the ingest was started with (branch, device, type, floor, zone),
  so readings can be grouped per zone.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from geometry.quantities import TELEMETRY_SCHEMA

from ..records import SERIES_KEY_SEP, SeriesIndex
from ..registry import DEVICE_SCHEMA

DEAD_LETTER_SCHEMA = pa.schema([
    pa.field("received", pa.float64(), nullable=False),
    pa.field("topic", pa.string(), nullable=False),
    pa.field("branch", pa.string()),
    pa.field("device", pa.string()),
    pa.field("reason", pa.string(), nullable=False),
    pa.field("detail", pa.string(), nullable=False),
    pa.field("record", pa.int32()),
    pa.field("payload", pa.binary(), nullable=False),
    pa.field("payload_bytes", pa.int64(), nullable=False),
])

REJECTION_COUNT_SCHEMA = pa.schema([
    pa.field("branch", pa.string(), nullable=False),
    pa.field("device", pa.string(), nullable=False),
    pa.field("reason", pa.string(), nullable=False),
    pa.field("count", pa.int64(), nullable=False),
    pa.field("first_received", pa.float64(), nullable=False),
    pa.field("last_received", pa.float64(), nullable=False),
])

STATUS_SCHEMA = pa.schema([
    pa.field("branch", pa.string(), nullable=False),
    pa.field("device", pa.string(), nullable=False),
    pa.field("status", pa.string(), nullable=False),
    pa.field("time", pa.float64(), nullable=False),
])

Agg = Literal["mean", "sum", "min", "max", "last", "count"]
EVERY_S = {"minute": 60.0, "hour": 3600.0, "day": 86400.0}

#: Widths of the aggregates kept by :meth:`Store.compact` [s].
ROLLUP_WIDTHS_S = (60.0, 3600.0)

#: SQL of the aggregates table (the same in both stores; ``{float}``/``{int}`` are the dialect's types).
ROLLUPS_SQL = """
CREATE TABLE IF NOT EXISTS rollups (
    series INTEGER NOT NULL, width_s {float} NOT NULL, start {float} NOT NULL, n {int} NOT NULL,
    mean {float} NOT NULL, min {float} NOT NULL, max {float} NOT NULL, last {float} NOT NULL,
    last_time {float} NOT NULL, PRIMARY KEY (series, width_s, start));
"""

# numbers and booleans (as 0/1) are rolled up; text readings (a kiosk's status) are kept as they are
_X = "COALESCE(value, CAST(bool_value AS INTEGER))"
_NUMERIC = "(value IS NOT NULL OR bool_value IS NOT NULL)"


@dataclass(frozen=True)
class CompactResult:
    """What :meth:`Store.compact` did.

    Parameters
    ----------
    cutoff
        Readings before this time were rolled up and removed [UTC epoch s] (a whole hour).
    removed
        Raw readings removed.
    minute_rows, hour_rows
        1-minute and 1-hour aggregate rows written or merged.
    minute_rows_dropped
        1-minute aggregates older than ``keep_minutes_s`` removed (their hours stay).
    """

    cutoff: float
    removed: int
    minute_rows: int
    hour_rows: int
    minute_rows_dropped: int


def as_arrow(data: pa.Table | pd.DataFrame, schema: pa.Schema, what: str) -> pa.Table:
    """A batch as an Arrow table in ``schema`` (columns selected and cast by name)."""
    if isinstance(data, pd.DataFrame):
        data = pa.Table.from_pandas(data, preserve_index=False)
    missing = [n for n in schema.names if n not in data.column_names]
    if missing:
        raise ValueError(f"{what} batch lacks column(s) {', '.join(missing)}; needs {', '.join(schema.names)}")
    return data.select(schema.names).cast(schema)


def empty(schema: pa.Schema) -> pa.Table:
    return schema.empty_table()


@dataclass
class Batch:
    """What one commit writes: readings, dead letters, rejection counts and device statuses.

    Everything in a batch is committed together or not at all; the ingest acknowledges the MQTT
    messages of a batch only after the commit.
    """

    readings: pa.Table = field(default_factory=lambda: empty(TELEMETRY_SCHEMA))
    dead_letters: pa.Table = field(default_factory=lambda: empty(DEAD_LETTER_SCHEMA))
    rejection_counts: pa.Table = field(default_factory=lambda: empty(REJECTION_COUNT_SCHEMA))
    statuses: pa.Table = field(default_factory=lambda: empty(STATUS_SCHEMA))
    #: the readings' series as the ingest's validator numbered them (None: found from the string columns)
    series: SeriesIndex | None = None

    @classmethod
    def of(cls, readings: pa.Table | pd.DataFrame | None = None, dead_letters: pa.Table | pd.DataFrame | None = None,
           rejection_counts: pa.Table | pd.DataFrame | None = None,
           statuses: pa.Table | pd.DataFrame | None = None) -> Batch:
        """A batch from Arrow tables or DataFrames (missing parts are empty)."""
        b = cls()
        if readings is not None:
            b.readings = as_arrow(readings, TELEMETRY_SCHEMA, "readings")
        if dead_letters is not None:
            b.dead_letters = as_arrow(dead_letters, DEAD_LETTER_SCHEMA, "dead letter")
        if rejection_counts is not None:
            b.rejection_counts = as_arrow(rejection_counts, REJECTION_COUNT_SCHEMA, "rejection count")
        if statuses is not None:
            b.statuses = as_arrow(statuses, STATUS_SCHEMA, "status")
        return b


SERIES_KEY_COLUMNS = ("branch", "device", "quantity", "unit")


def series_keys(batch: Batch) -> SeriesIndex:
    """Each reading's series: the batch's own :attr:`Batch.series` (the ingest's validator gives it), else
    found from the four string columns (joined and dictionary-encoded by Arrow, no Python per reading)."""
    if batch.series is not None:
        return batch.series
    keys = pc.binary_join_element_wise(*(batch.readings.column(c) for c in SERIES_KEY_COLUMNS),
                                       SERIES_KEY_SEP).combine_chunks().dictionary_encode()
    return SeriesIndex(keys.dictionary.to_pylist(), keys.indices.to_numpy(zero_copy_only=False))


def series_ids(series: SeriesIndex, known: Mapping[str, int],
               add: Callable[[list[str]], Mapping[str, int]]) -> np.ndarray:
    """The store's series id of each reading [int32].

    Parameters
    ----------
    series
        The readings' series (:func:`series_keys`).
    known
        Series key -> id the store has cached.
    add
        Called with the keys not in ``known`` (when there are any); adds them to the store and returns
        their ids.
    """
    used = np.flatnonzero(np.bincount(series.index, minlength=len(series.keys)))
    keys = [series.keys[i] for i in used.tolist()]
    missing = [k for k in keys if k not in known]
    found = add(missing) if missing else {}
    lookup = np.zeros(len(series.keys), dtype=np.int32)
    lookup[used] = [known[k] if k in known else found[k] for k in keys]
    ids: np.ndarray = lookup[series.index]
    return ids


@dataclass(frozen=True)
class WriteResult:
    """What a commit did: readings newly stored, readings already there (redeliveries), dead letters."""

    inserted: int
    duplicates: int
    dead_letters: int


@dataclass(frozen=True)
class StoreStats:
    """What an operator checks first (``smartlib store stats``)."""

    url: str
    records: int
    first_time: float | None
    last_time: float | None
    per_quantity: pd.DataFrame  # branch, device, quantity, records, first_time, last_time
    dead_letters_by_reason: pd.DataFrame  # reason, count
    dead_letters_by_device: pd.DataFrame  # branch, device, count
    dead_letter_rows: int
    devices_online: int
    devices_offline: int

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON output (times as UTC epoch seconds)."""
        def rows(df: pd.DataFrame) -> list[dict[str, Any]]:
            return [{k: _plain(v) for k, v in r.items()} for r in df.to_dict("records")]

        return {
            "store": self.url,
            "records": self.records,
            "first_time": self.first_time,
            "last_time": self.last_time,
            "per_quantity": rows(self.per_quantity),
            "rejected_by_reason": rows(self.dead_letters_by_reason),
            "rejected_by_device": rows(self.dead_letters_by_device),
            "dead_letter_rows": self.dead_letter_rows,
            "devices_online": self.devices_online,
            "devices_offline": self.devices_offline,
        }


def _plain(v: Any) -> Any:
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


class Store(ABC):
    """A time-series store of readings and dead letters.

    Subclasses give the connection and the dialect-specific writes; the queries are shared SQL
    written with ``%s`` parameters.
    """

    url: str
    #: SQL of "the value {x} at the latest time {t}" in a GROUP BY, per dialect
    _last_sql: str = "arg_max({x}, {t})"

    # ------------------------------------------------------------------ writing
    @abstractmethod
    def write(self, batch: Batch) -> WriteResult:
        """Commit a batch in one transaction; readings already stored are skipped, not duplicated."""

    def write_readings(self, readings: pa.Table | pd.DataFrame) -> WriteResult:
        """Commit readings only (Arrow table or DataFrame with the telemetry columns)."""
        return self.write(Batch.of(readings=readings))

    @abstractmethod
    def register_devices(self, devices: pa.Table) -> None:
        """Replace the device list of the branches in ``devices`` (columns of ``DEVICE_SCHEMA``)."""

    @abstractmethod
    def _query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        """Run a query with ``%s`` parameters and return the rows as a DataFrame."""

    @abstractmethod
    def _run_in_transaction(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[int]:
        """Run statements (``%s`` parameters) in one transaction; the rows each changed."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ queries
    def latest(self, *, branch: str | None = None, device: str | None = None,
               quantity: str | None = None) -> pd.DataFrame:
        """The latest reading per device and quantity (telemetry columns)."""
        where, params = _where(branch=branch, device=device, quantity=quantity)
        return self._query(
            "SELECT DISTINCT ON (branch, device, quantity) branch, device, quantity, unit, time, value, bool_value, "
            f"string_value FROM readings {where} ORDER BY branch, device, quantity, time DESC", params)

    def series(self, *, branch: str, quantity: str, device: str | None = None, zone: str | None = None,
               start: float | None = None, end: float | None = None, every: str | float | None = None,
               agg: Agg = "mean") -> pd.DataFrame:
        """Readings of one quantity over time, raw or resampled, for a device, a zone or a branch.

        Parameters
        ----------
        branch, quantity
            What to read.
        device, zone
            Restrict to one device, or to the devices placed in one zone (at most one of them).
        start, end
            Time range [UTC epoch s], start inclusive, end exclusive.
        every
            None for raw readings; ``"minute"``, ``"hour"``, ``"day"`` or a bucket width [s] to resample.
        agg
            How a bucket is summarised over its readings (and over the devices of a zone):
            ``mean``, ``sum``, ``min``, ``max``, ``last`` or ``count``. Booleans count as 0/1.

        Returns
        -------
        pandas.DataFrame
            Raw: ``device, time, value, bool_value, string_value``. Resampled: ``time`` (bucket start
            [UTC epoch s]), ``value``, ``n`` (readings in the bucket).
        """
        if device is not None and zone is not None:
            raise ValueError("give a device or a zone, not both")
        conds = ["r.branch = %s", "r.quantity = %s"]
        params: list[Any] = [branch, quantity]
        join = ""
        if device is not None:
            conds.append("r.device = %s")
            params.append(device)
        if zone is not None:
            join = "JOIN devices d ON d.branch = r.branch AND d.device = r.device"
            conds.append("d.zone = %s")
            params.append(zone)
        if start is not None:
            conds.append("r.time >= %s")
            params.append(float(start))
        if end is not None:
            conds.append("r.time < %s")
            params.append(float(end))
        where = "WHERE " + " AND ".join(conds)
        if every is None:
            return self._query(f"SELECT r.device, r.time, r.value, r.bool_value, r.string_value FROM readings r {join} "
                               f"{where} ORDER BY r.time, r.device", params)
        width = EVERY_S.get(every) if isinstance(every, str) else float(every)
        if width is None or not width > 0:
            raise ValueError(f"every must be minute, hour, day or a positive number of seconds, got {every!r}")
        exprs = {"mean": "sum(p.sum_x) / NULLIF(sum(p.n_x), 0)", "sum": "sum(p.sum_x)", "min": "min(p.min_x)",
                 "max": "max(p.max_x)", "count": "sum(p.n)", "last": self._last_sql.format(x="p.last_x", t="p.lt")}
        if agg not in exprs:
            raise ValueError(f"agg must be one of {', '.join(exprs)}, got {agg!r}")
        # raw readings and, for periods that were compacted, the aggregates of the widest width that divides
        # the bucket (a bucket of whole hours reads the hourly ones): each part gives its sums, counts, extremes
        x = "COALESCE(r.value, CAST(r.bool_value AS INTEGER))"
        parts = (f"SELECT r.time AS t, {x} AS sum_x, CASE WHEN {x} IS NULL THEN 0 ELSE 1 END AS n_x, 1 AS n, "
                 f"{x} AS min_x, {x} AS max_x, {x} AS last_x, r.time AS lt FROM readings r {join} {where}")
        rollup = max((w for w in ROLLUP_WIDTHS_S if width % w == 0), default=None)
        all_params = list(params)
        if rollup is not None:
            a_where = where.replace("r.time", "r.start")
            parts += (f" UNION ALL SELECT r.start AS t, r.mean * r.n AS sum_x, r.n AS n_x, r.n AS n, "
                      f"r.min AS min_x, r.max AS max_x, r.last AS last_x, r.last_time AS lt "
                      f"FROM (SELECT a.*, s.branch, s.device, s.quantity FROM rollups a JOIN series s "
                      f"ON s.id = a.series WHERE a.width_s = {rollup!r}) r {join} "
                      f"{a_where}")
            all_params += params
        bucket = f"floor(p.t / {width!r}) * {width!r}"
        return self._query(f"SELECT {bucket} AS time, CAST({exprs[agg]} AS DOUBLE PRECISION) AS value, "
                           f"CAST(sum(p.n) AS BIGINT) AS n FROM ({parts}) p GROUP BY 1 ORDER BY 1", all_params)

    # ------------------------------------------------------------------ retention
    def compact(self, *, older_than_s: float, now: float | None = None,
                keep_minutes_s: float | None = 90 * 86_400.0) -> CompactResult:
        """Roll raw readings older than ``older_than_s`` up into 1-minute and 1-hour aggregates, then remove them.

        Numbers and booleans (as 0/1) become per-series aggregates (count, mean, min, max, last) in
        ``rollups``; text readings are kept raw. The cutoff is rounded down to a whole hour, so an hour is
        compacted whole. Readings that arrive late for a compacted period are merged into its aggregates
        by the next compaction. Resampled :meth:`series` queries read raw readings and aggregates together.
        Everything happens in one transaction.

        Parameters
        ----------
        older_than_s
            Keep raw readings this recent [s].
        now
            The present [UTC epoch s] (default: the clock).
        keep_minutes_s
            Drop 1-minute aggregates older than this [s] (the hourly ones stay); None keeps them.
        """
        import time as _time

        if not older_than_s > 0:
            raise ValueError(f"older_than_s must be positive, got {older_than_s!r}")
        now = _time.time() if now is None else float(now)
        cutoff = math.floor((now - older_than_s) / 3600.0) * 3600.0
        statements: list[tuple[str, Sequence[Any]]] = []
        for width in ROLLUP_WIDTHS_S:
            statements.append((
                f"INSERT INTO rollups (series, width_s, start, n, mean, min, max, last, last_time) "
                f"SELECT series, {width!r}, floor(time / {width!r}) * {width!r}, count(*), avg(x), min(x), max(x), "
                f"{self._last_sql.format(x='x', t='time')}, max(time) "
                f"FROM (SELECT series, time, {_X} AS x FROM samples WHERE time < %s AND {_NUMERIC}) q "
                f"GROUP BY series, floor(time / {width!r}) * {width!r} "
                "ON CONFLICT (series, width_s, start) DO UPDATE SET "
                "mean = (rollups.mean * rollups.n + excluded.mean * excluded.n) / (rollups.n + excluded.n), "
                "n = rollups.n + excluded.n, min = least(rollups.min, excluded.min), "
                "max = greatest(rollups.max, excluded.max), "
                "last = CASE WHEN excluded.last_time >= rollups.last_time THEN excluded.last ELSE rollups.last END, "
                "last_time = greatest(rollups.last_time, excluded.last_time)", [cutoff]))
        statements.append((f"DELETE FROM samples WHERE time < %s AND {_NUMERIC}", [cutoff]))
        if keep_minutes_s is not None:
            statements.append(("DELETE FROM rollups WHERE width_s = 60.0 AND start < %s", [now - keep_minutes_s]))
        else:
            statements.append(("DELETE FROM rollups WHERE false", []))
        minute_rows, hour_rows, removed, dropped = self._run_in_transaction(statements)
        return CompactResult(cutoff=cutoff, removed=removed, minute_rows=minute_rows, hour_rows=hour_rows,
                             minute_rows_dropped=dropped)

    def readings_after(self, after: float, *, until: float | None = None, limit: int = 100_000) -> pa.Table:
        """Stored readings with ``after < time <= until``, oldest first: what a store follower reads next.

        Parameters
        ----------
        after
            Cursor: the newest reading time already taken [UTC epoch s] (``-inf`` for everything).
        until
            Newest time to return [UTC epoch s]; None for no bound.
        limit
            Most rows returned; page on with ``after`` set to the last row's time (rows sharing that
            time may then come twice: the twin counts them as duplicates).

        Returns
        -------
        pyarrow.Table
            Rows in :data:`~geometry.quantities.TELEMETRY_SCHEMA`, ordered by time, branch, device, quantity.
        """
        conds, params = ["time > %s"], [float(after)]
        if until is not None:
            conds.append("time <= %s")
            params.append(float(until))
        df = self._query("SELECT branch, device, quantity, unit, time, value, bool_value, string_value FROM readings "
                         f"WHERE {' AND '.join(conds)} ORDER BY time, branch, device, quantity LIMIT {int(limit)}",
                         params)
        if not len(df):
            return TELEMETRY_SCHEMA.empty_table()
        return pa.Table.from_pandas(df, schema=TELEMETRY_SCHEMA, preserve_index=False)

    def counts(self, *, branch: str | None = None) -> pd.DataFrame:
        """Stored readings per branch, device and quantity, with their time range [UTC epoch s]."""
        where, params = _where(branch=branch)
        return self._query(
            "SELECT branch, device, quantity, count(*) AS records, min(time) AS first_time, max(time) AS last_time "
            f"FROM readings {where} GROUP BY branch, device, quantity ORDER BY branch, device, quantity", params)

    def dead_letters(self, *, branch: str | None = None, device: str | None = None, reason: str | None = None,
                     limit: int = 100) -> pd.DataFrame:
        """The latest dead letters (newest first), optionally of one branch, device or reason."""
        where, params = _where(branch=branch, device=device, reason=reason)
        return self._query(
            "SELECT received, topic, branch, device, reason, detail, record, payload, payload_bytes "
            f"FROM dead_letters {where} ORDER BY received DESC LIMIT {int(limit)}", params)

    def rejection_counts(self, *, branch: str | None = None) -> pd.DataFrame:
        """Rejections per branch, device and reason (exact, including those not kept as dead letters)."""
        where, params = _where(branch=branch)
        return self._query("SELECT branch, device, reason, count, first_received, last_received "
                           f"FROM rejection_counts {where} ORDER BY branch, device, reason", params)

    def device_status(self, *, branch: str | None = None) -> pd.DataFrame:
        """Latest status (``online``/``offline``) per device and when it was received [UTC epoch s]."""
        where, params = _where(branch=branch)
        return self._query(f"SELECT branch, device, status, time FROM device_status {where} "
                           "ORDER BY branch, device", params)

    def stats(self) -> StoreStats:
        """Records per branch, device and quantity, the time range, and rejections per reason."""
        per_q = self.counts()
        by_reason = self._query("SELECT reason, CAST(sum(count) AS BIGINT) AS count FROM rejection_counts "
                                "GROUP BY reason ORDER BY count DESC, reason")
        by_device = self._query("SELECT branch, device, CAST(sum(count) AS BIGINT) AS count FROM rejection_counts "
                                "GROUP BY branch, device ORDER BY count DESC, branch, device")
        dl_rows = int(self._query("SELECT count(*) AS n FROM dead_letters")["n"].iloc[0])
        status = self._query("SELECT status, count(*) AS n FROM device_status GROUP BY status")
        by_status = dict(zip(status["status"], status["n"], strict=True))
        records = int(per_q["records"].sum()) if len(per_q) else 0
        return StoreStats(
            url=self.url, records=records,
            first_time=float(per_q["first_time"].min()) if records else None,
            last_time=float(per_q["last_time"].max()) if records else None,
            per_quantity=per_q, dead_letters_by_reason=by_reason, dead_letters_by_device=by_device,
            dead_letter_rows=dl_rows, devices_online=int(by_status.get("online", 0)),
            devices_offline=int(by_status.get("offline", 0)))


def _where(**conds: str | None) -> tuple[str, list[Any]]:
    parts = []
    params: list[Any] = []
    for k, v in conds.items():
        if v is not None:
            parts.append(f"{k} = %s")
            params.append(v)
    return ("WHERE " + " AND ".join(parts) if parts else ""), params


__all__ = [
    "DEAD_LETTER_SCHEMA",
    "DEVICE_SCHEMA",
    "REJECTION_COUNT_SCHEMA",
    "ROLLUPS_SQL",
    "ROLLUP_WIDTHS_S",
    "STATUS_SCHEMA",
    "Batch",
    "CompactResult",
    "Store",
    "StoreStats",
    "WriteResult",
]
