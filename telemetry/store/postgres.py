"""PostgreSQL store: the shared store for deployments past one machine.

Readings go in by binary COPY (psycopg 3) into a session staging table and from there into
``readings`` with ``ON CONFLICT DO NOTHING`` (idempotent on branch, device, quantity, time).
``readings`` is partitioned by day on ``time`` (UTC epoch seconds); a day's partition is created
the first time a reading of that day arrives.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import StoreUnavailableError, StoreURLError
from ..registry import DEVICE_SCHEMA
from .base import Batch, Store, WriteResult, as_arrow

if TYPE_CHECKING:
    import psycopg

DAY_S = 86_400.0
SCHEMA_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS readings (
    branch text NOT NULL, device text NOT NULL, quantity text NOT NULL, time double precision NOT NULL,
    unit text NOT NULL, value double precision, bool_value boolean, string_value text,
    PRIMARY KEY (branch, device, quantity, time)) PARTITION BY RANGE (time);
CREATE TABLE IF NOT EXISTS dead_letters (
    received double precision NOT NULL, topic text NOT NULL, branch text, device text, reason text NOT NULL,
    detail text NOT NULL, record integer, payload bytea NOT NULL, payload_bytes bigint NOT NULL);
CREATE INDEX IF NOT EXISTS dead_letters_received ON dead_letters (received);
CREATE TABLE IF NOT EXISTS rejection_counts (
    branch text NOT NULL, device text NOT NULL, reason text NOT NULL, count bigint NOT NULL,
    first_received double precision NOT NULL, last_received double precision NOT NULL,
    PRIMARY KEY (branch, device, reason));
CREATE TABLE IF NOT EXISTS device_status (
    branch text NOT NULL, device text NOT NULL, status text NOT NULL, time double precision NOT NULL,
    PRIMARY KEY (branch, device));
CREATE TABLE IF NOT EXISTS devices (
    branch text NOT NULL, device text NOT NULL, type text NOT NULL, floor text NOT NULL, zone text,
    period_s double precision NOT NULL, PRIMARY KEY (branch, device));
"""

_READING_COLS = ("branch", "device", "quantity", "time", "unit", "value", "bool_value", "string_value")
_READING_TYPES = ("text", "text", "text", "float8", "text", "float8", "bool", "text")
_DEAD_COLS = ("received", "topic", "branch", "device", "reason", "detail", "record", "payload", "payload_bytes")
_DEAD_TYPES = ("float8", "text", "text", "text", "text", "text", "int4", "bytea", "int8")


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise StoreUnavailableError("the PostgreSQL store needs psycopg: "
                                    "pip install 'smartlib-twin[postgres]'") from exc
    return psycopg


class PostgresStore(Store):
    """Readings and dead letters in PostgreSQL (several ingest processes may write at once).

    Parameters
    ----------
    conninfo
        A libpq connection string or URL (``postgresql://user@host:5432/db``).
    schema
        Schema holding the tables (created when missing); None for the server's search path.
    url
        The URL to show in messages (without a password).
    """

    _last_sql = "(array_agg({x} ORDER BY {t} DESC))[1]"

    def __init__(self, conninfo: str, *, schema: str | None = None, url: str | None = None) -> None:
        _psycopg()
        self.conninfo = conninfo
        self.schema = schema
        self.url = url or conninfo
        if schema is not None and not SCHEMA_NAME_RE.match(schema):
            raise StoreURLError(f"store URL {self.url}: schema {schema!r} must be lower-case letters, digits and _")
        self._partitions: set[int] = set()
        self.con: Any = self._connect()
        with self.con.transaction():
            if schema is not None:
                self.con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            self.con.execute("SELECT pg_advisory_xact_lock(7510001)")  # two ingests creating tables at once
            self.con.execute(SCHEMA_SQL)
        self._staging()

    def _connect(self) -> Any:
        psycopg = _psycopg()
        try:
            con = psycopg.connect(self.conninfo, connect_timeout=10)
        except psycopg.Error as exc:
            raise StoreUnavailableError(f"cannot connect to PostgreSQL at {self.url}: {str(exc).strip()}") from exc
        if self.schema is not None:
            con.execute(f'SET search_path TO "{self.schema}"')
            con.commit()
        return con

    def _staging(self) -> None:
        cols = ", ".join(f"{c} {t}" for c, t in zip(_READING_COLS, _READING_TYPES, strict=True))
        self.con.execute(f"CREATE TEMP TABLE IF NOT EXISTS readings_in ({cols}) ON COMMIT DELETE ROWS")
        self.con.commit()

    def _reconnect(self) -> None:
        try:
            self.con.close()
        finally:
            self._partitions.clear()
            self.con = self._connect()
            self._staging()

    def _ensure_partitions(self, cur: psycopg.Cursor[Any], times: pa.ChunkedArray) -> list[int]:
        days = pc.unique(pc.floor(pc.divide(times, DAY_S))).to_pylist()
        new = [int(d) for d in days if int(d) not in self._partitions]
        if new:
            cur.execute("SELECT pg_advisory_xact_lock(7510002)")
        for day in new:
            name = "readings_" + dt.datetime.fromtimestamp(day * DAY_S, dt.UTC).strftime("%Y%m%d")
            if day < 0:
                name = f"readings_m{-day}"
            cur.execute(f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF readings "
                        f"FOR VALUES FROM ({day * DAY_S!r}) TO ({(day + 1) * DAY_S!r})")
        return new

    def write(self, batch: Batch) -> WriteResult:
        psycopg = _psycopg()
        try:
            return self._write(batch)
        except psycopg.OperationalError as exc:
            with contextlib.suppress(StoreUnavailableError):
                self._reconnect()
            raise StoreUnavailableError(f"PostgreSQL write to {self.url} failed (nothing committed): "
                                   f"{str(exc).strip()}") from exc
        except psycopg.Error as exc:
            if not self.con.closed:
                self.con.rollback()
            raise StoreUnavailableError(f"PostgreSQL write to {self.url} failed (nothing committed): "
                                   f"{str(exc).strip()}") from exc

    def _write(self, batch: Batch) -> WriteResult:
        con = self.con
        n = batch.readings.num_rows
        inserted = 0
        new_days: list[int] = []
        with con.cursor() as cur:
            if n:
                new_days = self._ensure_partitions(cur, batch.readings.column("time"))
                cols = [batch.readings.column(c).to_pylist() for c in _READING_COLS]
                with cur.copy(f"COPY readings_in ({', '.join(_READING_COLS)}) FROM STDIN (FORMAT BINARY)") as cp:
                    cp.set_types(list(_READING_TYPES))
                    for row in zip(*cols, strict=True):
                        cp.write_row(row)
                cur.execute(f"INSERT INTO readings ({', '.join(_READING_COLS)}) SELECT {', '.join(_READING_COLS)} "
                            "FROM readings_in ON CONFLICT DO NOTHING")
                inserted = cur.rowcount
            if batch.dead_letters.num_rows:
                cols = [batch.dead_letters.column(c).to_pylist() for c in _DEAD_COLS]
                with cur.copy(f"COPY dead_letters ({', '.join(_DEAD_COLS)}) FROM STDIN (FORMAT BINARY)") as cp:
                    cp.set_types(list(_DEAD_TYPES))
                    for row in zip(*cols, strict=True):
                        cp.write_row(row)
            if batch.rejection_counts.num_rows:
                cur.executemany(
                    "INSERT INTO rejection_counts (branch, device, reason, count, first_received, last_received) "
                    "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (branch, device, reason) DO UPDATE SET "
                    "count = rejection_counts.count + excluded.count, "
                    "last_received = greatest(rejection_counts.last_received, excluded.last_received)",
                    [tuple(r.values()) for r in batch.rejection_counts.to_pylist()])
            if batch.statuses.num_rows:
                cur.executemany(
                    "INSERT INTO device_status (branch, device, status, time) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (branch, device) DO UPDATE SET status = excluded.status, time = excluded.time",
                    [tuple(r.values()) for r in batch.statuses.to_pylist()])
        con.commit()
        self._partitions.update(new_days)
        return WriteResult(inserted, n - inserted, batch.dead_letters.num_rows)

    def register_devices(self, devices: pa.Table) -> None:
        table = as_arrow(devices, DEVICE_SCHEMA, "device")
        rows = [tuple(r.values()) for r in table.to_pylist()]
        with self.con.transaction(), self.con.cursor() as cur:
            branches = sorted(set(table.column("branch").to_pylist()))
            cur.execute("DELETE FROM devices WHERE branch = ANY(%s)", (branches,))
            cur.executemany("INSERT INTO devices (branch, device, type, floor, zone, period_s) "
                            "VALUES (%s, %s, %s, %s, %s, %s)", rows)

    def _query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        with self.con.cursor() as cur:
            cur.execute(sql, list(params))
            rows = cur.fetchall()
            names = [d.name for d in cur.description or ()]
        self.con.commit()
        df = pd.DataFrame(rows, columns=names)
        for c in df.columns:  # bytea arrives as memoryview
            if len(df) and isinstance(df[c].iloc[0], memoryview):
                df[c] = df[c].map(bytes)
        return df

    def drop_schema(self) -> None:
        """Drop this store's schema and everything in it (tests and scratch stores)."""
        if self.schema is None:
            raise ValueError("this store has no schema of its own to drop")
        with self.con.transaction():
            self.con.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')

    def close(self) -> None:
        self.con.close()
