"""DuckDB store: the embedded default, one file, one writer process."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from ..errors import StoreUnavailableError
from ..records import SERIES_KEY_SEP
from ..registry import DEVICE_SCHEMA
from .base import ROLLUPS_SQL, Batch, Store, WriteResult, as_arrow, series_ids, series_keys

SCHEMA_SQL = """
CREATE SEQUENCE IF NOT EXISTS series_ids START 1;
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY DEFAULT nextval('series_ids'), branch VARCHAR NOT NULL, device VARCHAR NOT NULL,
    quantity VARCHAR NOT NULL, unit VARCHAR NOT NULL, UNIQUE (branch, device, quantity, unit));
CREATE TABLE IF NOT EXISTS samples (
    series INTEGER NOT NULL, time DOUBLE NOT NULL, value DOUBLE, bool_value BOOLEAN, string_value VARCHAR,
    PRIMARY KEY (series, time));
CREATE OR REPLACE VIEW readings AS
    SELECT s.branch, s.device, s.quantity, s.unit, r.time, r.value, r.bool_value, r.string_value
    FROM samples r JOIN series s ON s.id = r.series;
CREATE TABLE IF NOT EXISTS dead_letters (
    received DOUBLE NOT NULL, topic VARCHAR NOT NULL, branch VARCHAR, device VARCHAR, reason VARCHAR NOT NULL,
    detail VARCHAR NOT NULL, record INTEGER, payload BLOB NOT NULL, payload_bytes BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS rejection_counts (
    branch VARCHAR NOT NULL, device VARCHAR NOT NULL, reason VARCHAR NOT NULL, count BIGINT NOT NULL,
    first_received DOUBLE NOT NULL, last_received DOUBLE NOT NULL, PRIMARY KEY (branch, device, reason));
CREATE TABLE IF NOT EXISTS device_status (
    branch VARCHAR NOT NULL, device VARCHAR NOT NULL, status VARCHAR NOT NULL, time DOUBLE NOT NULL,
    PRIMARY KEY (branch, device));
CREATE TABLE IF NOT EXISTS devices (
    branch VARCHAR NOT NULL, device VARCHAR NOT NULL, type VARCHAR NOT NULL, floor VARCHAR NOT NULL, zone VARCHAR,
    period_s DOUBLE NOT NULL, PRIMARY KEY (branch, device));
""" + ROLLUPS_SQL.format(float="DOUBLE", int="BIGINT")

#: A store file of the first layout (one ``readings`` table keyed by strings) is moved to this one on opening.
MIGRATE_SQL = """
ALTER TABLE readings RENAME TO readings_v1;
""" + SCHEMA_SQL + """
INSERT INTO series (branch, device, quantity, unit) SELECT DISTINCT branch, device, quantity, unit FROM readings_v1;
INSERT INTO samples SELECT s.id, r.time, r.value, r.bool_value, r.string_value
    FROM readings_v1 r JOIN series s USING (branch, device, quantity, unit);
DROP TABLE readings_v1;
"""

_VALUE_COLUMNS = ("time", "value", "bool_value", "string_value")


class DuckDBStore(Store):
    """Readings and dead letters in a DuckDB file.

    DuckDB lets one process write a file at a time: run one ingest per file, and read it (``store
    stats``, the dashboard) when the ingest is stopped, or use PostgreSQL for concurrent access.

    Parameters
    ----------
    path
        The database file (created with its tables when missing); ``":memory:"`` for a scratch store.
    read_only
        Open without writing (queries only).
    """

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = str(path)
        self._series: dict[str, int] = {}  # "branch\x1fdevice\x1fquantity\x1funit" -> id (never removed)
        self.url = f"duckdb://{self.path}" if self.path == ":memory:" else f"duckdb:///{Path(self.path).resolve()}"
        if self.path != ":memory:":
            parent = Path(self.path).parent
            if not parent.is_dir():
                raise StoreUnavailableError(f"cannot create the DuckDB file {self.path}: "
                                            f"folder {parent} does not exist")
            if read_only and not Path(self.path).exists():
                raise StoreUnavailableError(f"DuckDB file {self.path} does not exist")
        try:
            self.con = duckdb.connect(self.path, read_only=read_only)
        except duckdb.IOException as exc:
            msg = str(exc)
            if "lock" in msg.lower():
                raise StoreUnavailableError(
                    f"DuckDB file {self.path} is open by another process (DuckDB allows one writer: stop the "
                    f"ingest first, or use a PostgreSQL store for concurrent access): {msg}") from exc
            raise StoreUnavailableError(f"cannot open DuckDB file {self.path}: {msg}") from exc
        except duckdb.Error as exc:
            raise StoreUnavailableError(f"cannot open DuckDB file {self.path}: {exc}") from exc
        if not read_only:
            self._create_or_migrate()
        else:
            tables = {r[0] for r in self.con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
            if "readings" not in tables:
                self.con.close()
                raise StoreUnavailableError(f"DuckDB file {self.path} is not a telemetry store (it has no readings "
                                            f"table; tables: {', '.join(sorted(tables)) or 'none'})")

    def _create_or_migrate(self) -> None:
        kinds = dict(self.con.execute("SELECT table_name, table_type FROM information_schema.tables").fetchall())
        if kinds.get("readings") != "BASE TABLE":
            self.con.execute(SCHEMA_SQL)
            return
        # the first layout: readings keyed by (branch, device, quantity, time) strings; move it in one transaction
        self.con.begin()
        try:
            self.con.execute(MIGRATE_SQL)
            self.con.commit()
        except duckdb.Error as exc:
            self.con.rollback()
            self.con.close()
            raise StoreUnavailableError(f"DuckDB file {self.path} has readings in the first layout (no series ids) "
                                        f"and moving them failed: {exc}; open it with the smartlib version that "
                                        f"wrote it and export the readings") from exc

    def write(self, batch: Batch) -> WriteResult:
        # Readings go in by integer series id (computed per batch, cached: no join on the four strings). A plain
        # INSERT costs DuckDB about half of INSERT OR IGNORE; redeliveries are rare, so a key conflict (a reading
        # already stored) writes the batch again skipping what is there.
        try:
            samples = self._samples(batch)
            try:
                return self._write(batch, samples, skip_stored=False)
            except duckdb.ConstraintException as exc:
                msg = str(exc)
                if "PRIMARY KEY" not in msg and "Duplicate key" not in msg:
                    raise
                return self._write(batch, samples, skip_stored=True)
        except duckdb.Error as exc:
            raise StoreUnavailableError(f"DuckDB write to {self.path} failed: {exc}") from exc

    def _samples(self, batch: Batch) -> pa.Table:
        """The readings as ``samples`` rows: series id, time and the three value columns."""
        ids = series_ids(series_keys(batch), self._series, self._add_series)
        return pa.Table.from_arrays([pa.array(ids), *(batch.readings.column(c) for c in _VALUE_COLUMNS)],
                                    names=["series", *_VALUE_COLUMNS])

    def _add_series(self, keys: list[str]) -> dict[str, int]:
        """Add series (outside the readings' transaction: idempotent) and return their ids."""
        self.con.executemany("INSERT INTO series (branch, device, quantity, unit) VALUES (?, ?, ?, ?) "
                             "ON CONFLICT DO NOTHING", [k.split(SERIES_KEY_SEP) for k in keys])
        rows = self.con.execute("SELECT id, concat_ws(?, branch, device, quantity, unit) AS k FROM series "
                                "WHERE k IN (SELECT unnest(?))", [SERIES_KEY_SEP, keys]).fetchall()
        found = {k: int(i) for i, k in rows}
        self._series.update(found)
        return found

    def _write(self, batch: Batch, samples: pa.Table, *, skip_stored: bool) -> WriteResult:
        con = self.con
        n = samples.num_rows
        insert = f"INSERT {'OR IGNORE ' if skip_stored else ''}INTO samples SELECT * FROM _samples_in"
        _samples_in = samples  # read by DuckDB through its replacement scan (so are the others)
        if n and not (batch.dead_letters.num_rows or batch.rejection_counts.num_rows or batch.statuses.num_rows):
            # the common case, readings only: one statement in its own transaction, no register/unregister
            # round trips (each Python call into DuckDB waits for the GIL while paho's thread is busy)
            row = con.execute(insert).fetchone()
            inserted = int(row[0]) if row else 0
            return WriteResult(inserted, n - inserted, 0)
        con.begin()
        try:
            inserted = 0
            if n:
                row = con.execute(insert).fetchone()
                inserted = int(row[0]) if row else 0
            if batch.dead_letters.num_rows:
                _dead_in = batch.dead_letters
                con.execute("INSERT INTO dead_letters SELECT received, topic, branch, device, reason, detail, record, "
                            "payload, payload_bytes FROM _dead_in")
            if batch.rejection_counts.num_rows:
                _counts_in = batch.rejection_counts
                con.execute("INSERT INTO rejection_counts SELECT branch, device, reason, count, first_received, "
                            "last_received FROM _counts_in ON CONFLICT (branch, device, reason) DO UPDATE SET "
                            "count = rejection_counts.count + excluded.count, "
                            "last_received = greatest(rejection_counts.last_received, excluded.last_received)")
            if batch.statuses.num_rows:
                # the last status of a device in the batch wins
                _status_in = batch.statuses
                con.execute("INSERT OR REPLACE INTO device_status SELECT branch, device, arg_max(status, rowid_), "
                            "max(time) FROM (SELECT *, row_number() OVER () AS rowid_ FROM _status_in) "
                            "GROUP BY branch, device")
            con.commit()
        except BaseException:
            con.rollback()
            raise
        return WriteResult(inserted, n - inserted, batch.dead_letters.num_rows)

    def register_devices(self, devices: pa.Table) -> None:
        table = as_arrow(devices, DEVICE_SCHEMA, "device")
        con = self.con
        con.begin()
        con.register("_devices_in", table)
        con.execute("DELETE FROM devices WHERE branch IN (SELECT DISTINCT branch FROM _devices_in)")
        con.execute("INSERT INTO devices SELECT branch, device, type, floor, zone, period_s FROM _devices_in")
        con.unregister("_devices_in")
        con.commit()

    def _run_in_transaction(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[int]:
        con = self.con
        counts = []
        try:
            con.begin()
            for sql, params in statements:
                row = con.execute(sql.replace("%s", "?"), list(params)).fetchone()
                counts.append(int(row[0]) if row else 0)
            con.commit()
        except duckdb.Error as exc:
            con.rollback()
            raise StoreUnavailableError(f"DuckDB store {self.path}: {exc}") from exc
        con.execute("CHECKPOINT")  # the space of removed rows is reused from here on
        return counts

    def _query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        return self.con.execute(sql.replace("%s", "?"), list(params)).df()

    def close(self) -> None:
        self.con.close()
