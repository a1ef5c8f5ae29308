"""Retention: compaction into 1-minute and 1-hour aggregates (DuckDB and PostgreSQL), and the store layout move."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from telemetry import open_store
from telemetry.registry import DeviceInfo, DeviceRegistry
from telemetry.store import Store

DAY = 86_400.0
NOW = 1_767_225_600.0 + 40 * DAY  # a fixed "now" (2026-02-10 00:00 UTC): the tests do not read the clock
T0 = NOW - 10 * DAY  # the readings start ten days back, on a whole hour


def _frame(rows: list[tuple[str, str, float, object]]) -> pd.DataFrame:
    out = []
    for device, quantity, t, v in rows:
        unit = {"co2": "ppm", "temperature": "Cel", "seat_occupied": "", "status": ""}[quantity]
        out.append({"branch": "small", "device": device, "quantity": quantity, "unit": unit, "time": t,
                    "value": float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None,
                    "bool_value": v if isinstance(v, bool) else None,
                    "string_value": v if isinstance(v, str) else None})
    return pd.DataFrame(out)


def _readings() -> list[tuple[str, str, float, object]]:
    """Three hours of co2 from two sensors at uneven times, a seat sensor and a kiosk's text status."""
    rng = np.random.default_rng(7)
    rows: list[tuple[str, str, float, object]] = []
    for device in ("co2-a", "co2-b"):
        t = T0
        while t < T0 + 3 * 3600:
            rows.append((device, "co2", t, float(rng.integers(400, 1500))))
            t += float(rng.integers(7, 170))
    for k in range(0, 3 * 3600, 400):
        rows.append(("seat-1", "seat_occupied", T0 + k + 0.5, bool(k % 1200)))
    rows.append(("kiosk-1", "status", T0 + 100.0, "ok"))
    return rows


def _register(store: Store) -> None:
    store.register_devices(DeviceRegistry([
        DeviceInfo("small", "co2-a", "co2", frozenset({"co2"}), "G", "reading"),
        DeviceInfo("small", "co2-b", "co2", frozenset({"co2"}), "G", "reading"),
        DeviceInfo("small", "seat-1", "seat_sensor", frozenset({"seat_occupied"}), "G", "reading"),
        DeviceInfo("small", "kiosk-1", "kiosk", frozenset({"status"}), "G", "hall"),
    ]).to_arrow())


def _by_hand(rows: list[tuple[str, str, float, object]], width: float) -> dict[tuple[str, float], tuple]:
    """(device, bucket start) -> (n, mean, min, max, last) of the numeric and boolean readings."""
    groups: dict[tuple[str, float], list[tuple[float, float]]] = {}
    for device, _q, t, v in rows:
        if isinstance(v, str):
            continue
        groups.setdefault((device, (t // width) * width), []).append((t, float(v)))
    out = {}
    for key, pts in groups.items():
        xs = [x for _, x in pts]
        out[key] = (len(xs), sum(xs) / len(xs), min(xs), max(xs), max(pts)[1])
    return out


def _rollups(store: Store, width: float) -> dict[tuple[str, float], tuple]:
    df = store._query("SELECT s.device, a.start, a.n, a.mean, a.min, a.max, a.last FROM rollups a "
                      "JOIN series s ON s.id = a.series WHERE a.width_s = %s", [width])
    return {(r.device, float(r.start)): (int(r.n), r.mean, r.min, r.max, r.last) for r in df.itertuples(index=False)}


def _assert_same(got: dict[tuple[str, float], tuple], want: dict[tuple[str, float], tuple]) -> None:
    assert set(got) == set(want)
    for key, w in want.items():
        g = got[key]
        assert g[0] == w[0], key
        assert_allclose(g[1:], w[1:], rtol=1e-12, err_msg=str(key))


def test_compaction_keeps_every_aggregate_equal_to_the_readings_it_replaced(store: Store) -> None:
    rows = _readings()
    _register(store)
    store.write_readings(_frame(rows))
    result = store.compact(older_than_s=5 * DAY, now=NOW)
    assert result.cutoff == NOW - 5 * DAY
    numeric = [r for r in rows if not isinstance(r[3], str)]
    assert result.removed == len(numeric)
    for width in (60.0, 3600.0):
        _assert_same(_rollups(store, width), _by_hand(rows, width))
    # text readings stay raw; nothing numeric is left raw
    left = store._query("SELECT device, quantity, string_value FROM readings")
    assert left.to_dict("records") == [{"device": "kiosk-1", "quantity": "status", "string_value": "ok"}]
    # a reading that arrives late for a compacted minute is merged by the next compaction
    late = ("co2-a", "co2", T0 + 30.25, 3999.0)
    store.write_readings(_frame([late]))
    again = store.compact(older_than_s=5 * DAY, now=NOW)
    assert again.removed == 1
    for width in (60.0, 3600.0):
        _assert_same(_rollups(store, width), _by_hand([*rows, late], width))


def test_queries_spanning_raw_and_compacted_hours_read_the_same_as_before(store: Store) -> None:
    rows = _readings()
    _register(store)
    store.write_readings(_frame(rows))
    queries = [{"quantity": "co2", "device": "co2-a", "every": "hour", "agg": "mean"},
               {"quantity": "co2", "zone": "reading", "every": "hour", "agg": "mean"},
               {"quantity": "co2", "every": "hour", "agg": "max"},
               {"quantity": "co2", "every": "hour", "agg": "min"},
               {"quantity": "co2", "every": "hour", "agg": "sum"},
               {"quantity": "co2", "every": "hour", "agg": "count"},
               {"quantity": "co2", "device": "co2-b", "every": "hour", "agg": "last"},
               {"quantity": "co2", "device": "co2-b", "every": "minute", "agg": "mean"},
               {"quantity": "co2", "every": 7200.0, "agg": "mean"},
               {"quantity": "seat_occupied", "zone": "reading", "every": "hour", "agg": "mean"}]
    before = [store.series(branch="small", **q) for q in queries]  # type: ignore[arg-type]
    # compact the first hour and a half: the cutoff rounds down to the first whole hour
    result = store.compact(older_than_s=NOW - (T0 + 5400), now=NOW)
    assert result.cutoff == T0 + 3600 and result.removed > 0
    counts = store.counts()
    assert float(counts[counts["quantity"] != "status"]["first_time"].min()) >= T0 + 3600
    for q, b in zip(queries, before, strict=True):
        after = store.series(branch="small", **q)  # type: ignore[arg-type]
        assert list(after["time"]) == list(b["time"]), q
        assert list(after["n"]) == list(b["n"]), q
        assert_allclose(after["value"].to_numpy(float), b["value"].to_numpy(float), rtol=1e-12, err_msg=str(q))
    # a time range selects aggregates by their start, like readings by their time
    window = store.series(branch="small", quantity="co2", device="co2-a", every="hour", start=T0, end=T0 + 3600)
    assert list(window["time"]) == [T0]


def test_old_minute_aggregates_are_dropped_and_the_hours_stay(store: Store) -> None:
    rows = _readings()
    _register(store)
    store.write_readings(_frame(rows))
    result = store.compact(older_than_s=5 * DAY, now=NOW, keep_minutes_s=7 * DAY)
    assert result.minute_rows_dropped == result.minute_rows > 0
    assert _rollups(store, 60.0) == {}
    _assert_same(_rollups(store, 3600.0), _by_hand(rows, 3600.0))


def test_compaction_refuses_a_non_positive_age(store: Store) -> None:
    with pytest.raises(ValueError, match="older_than_s must be positive"):
        store.compact(older_than_s=0)


def test_a_duckdb_file_of_the_first_layout_is_moved_to_series_ids(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE readings (branch VARCHAR NOT NULL, device VARCHAR NOT NULL, quantity VARCHAR NOT NULL, "
                "time DOUBLE NOT NULL, unit VARCHAR NOT NULL, value DOUBLE, bool_value BOOLEAN, string_value VARCHAR, "
                "PRIMARY KEY (branch, device, quantity, time))")
    con.execute("INSERT INTO readings VALUES ('small', 'co2-a', 'co2', 100.0, 'ppm', 600, NULL, NULL), "
                "('small', 'co2-a', 'co2', 160.0, 'ppm', 700, NULL, NULL), "
                "('small', 'seat-1', 'seat_occupied', 100.0, '', NULL, true, NULL)")
    con.close()
    with open_store(str(path)) as store:
        got = store._query("SELECT device, quantity, time, value, bool_value FROM readings ORDER BY device, time")
        assert got["time"].tolist() == [100.0, 160.0, 100.0]
        assert got["value"].tolist()[:2] == [600.0, 700.0] and bool(got["bool_value"].iloc[2])
        assert int(store._query("SELECT count(*) AS n FROM series")["n"].iloc[0]) == 2
        # and it takes new readings of the old series (a redelivery is a duplicate)
        r = store.write_readings(_frame([("co2-a", "co2", 160.0, 700.0), ("co2-a", "co2", 220.0, 800.0)]))
        assert (r.inserted, r.duplicates) == (1, 1)


def _run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    import sys

    from twin import cli

    monkeypatch.setattr(sys, "argv", ["smartlib", *args])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    captured = capsys.readouterr()
    code = exc.value.code if isinstance(exc.value.code, int) else 1
    return code, " ".join((captured.out + captured.err).split())


def test_store_compact_command_rolls_up_what_is_older_than_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import time

    path = tmp_path / "c.duckdb"
    now = time.time()
    old = [("co2-a", "co2", now - 40 * DAY + k * 30.0, 500.0 + k) for k in range(10)]
    recent = [("co2-a", "co2", now - DAY + k * 30.0, 700.0) for k in range(5)]
    with open_store(str(path)) as store:
        store.write_readings(_frame(old + recent))
    code, output = _run_cli(monkeypatch, capsys, "store", "compact", "--store", str(path), "--older-than", "30d")
    assert code == 0, output
    assert "10 raw readings removed" in output and "Traceback" not in output
    with open_store(str(path)) as store:
        assert int(store.counts()["records"].sum()) == 5
        _assert_same(_rollups(store, 3600.0), _by_hand(old, 3600.0))
    for bad in ("30x", "-3d", "soon", "0"):
        code, output = _run_cli(monkeypatch, capsys, "store", "compact", "--store", str(path), "--older-than", bad)
        assert code != 0 and f"--older-than {bad!r} is not a duration" in output and "Traceback" not in output


@pytest.mark.broker
def test_the_ingest_with_retain_compacts_the_store_it_writes(broker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import time

    from telemetry_fixtures import TestPublisher, good_message, telemetry_registry, wait_for

    from telemetry import Ingest, IngestConfig

    store = open_store(str(tmp_path / "r.duckdb"))
    now = time.time()
    old = [("co2-a", "co2", now - 3 * DAY + k * 30.0, 500.0 + k) for k in range(20)]
    store.write_readings(_frame(old))
    ing = Ingest(broker=broker.settings, store=store, registry=telemetry_registry(),
                 config=IngestConfig(client_id="retain-test", retain_s=DAY, compact_every_s=0.2))
    ing.start()
    wait_for(lambda: ing.stats().compacted == len(old), 30, "the ingest's first compaction")
    _assert_same(_rollups(store, 60.0), _by_hand(old, 60.0))
    # readings that arrive later, already older than a day (about 2.3 days: a device's buffer), are rolled up by
    # a later compaction: it runs every compact_every_s, not only at the start
    pub = TestPublisher(broker.settings, client_id="retain-late")
    late = [good_message(i, now) for i in range(12) if i % 4 in (0, 1)]  # numeric readings only (text stays raw)
    for tp, payload, _ in late:
        pub.publish(tp, payload)
    pub.wait_acknowledged()
    pub.client.disconnect()
    n_late = sum(len(recs) for _, _, recs in late)
    wait_for(lambda: ing.stats().inserted == n_late, 30, "the late readings to be stored")
    wait_for(lambda: ing.stats().compacted == len(old) + n_late, 30, "a later compaction")
    ing.stop()
    assert store.counts().empty
    store.close()


@pytest.mark.postgres
def test_a_postgresql_schema_of_the_first_layout_is_moved_to_series_ids() -> None:
    import uuid

    from telemetry_fixtures import PG_DB, PG_HOST, PG_PORT, postgres_user, require

    user = postgres_user()
    require(user is not None, f"PostgreSQL on {PG_HOST}:{PG_PORT}")
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    url = f"postgresql://{user}@{PG_HOST}:{PG_PORT}/{PG_DB}?schema={schema}"
    with psycopg.connect(host=PG_HOST, port=PG_PORT, dbname=PG_DB, user=user, autocommit=True) as con:
        con.execute(f'CREATE SCHEMA "{schema}"')
        con.execute(f'SET search_path TO "{schema}"')
        con.execute("CREATE TABLE readings (branch text NOT NULL, device text NOT NULL, quantity text NOT NULL, "
                    "time double precision NOT NULL, unit text NOT NULL, value double precision, bool_value boolean, "
                    "string_value text, PRIMARY KEY (branch, device, quantity, time)) PARTITION BY RANGE (time)")
        con.execute("CREATE TABLE readings_19700101 PARTITION OF readings FOR VALUES FROM (0) TO (86400)")
        con.execute("INSERT INTO readings VALUES ('small', 'co2-a', 'co2', 100, 'ppm', 600, NULL, NULL), "
                    "('small', 'co2-a', 'co2', 160, 'ppm', 700, NULL, NULL), "
                    "('small', 'kiosk-1', 'status', 100, '', NULL, NULL, 'ok')")
    try:
        with open_store(url) as store:
            got = store._query("SELECT device, time, value, string_value FROM readings ORDER BY device, time")
            assert got["time"].tolist() == [100.0, 160.0, 100.0]
            assert got["value"].tolist()[:2] == [600.0, 700.0] and got["string_value"].iloc[2] == "ok"
            r = store.write_readings(_frame([("co2-a", "co2", 160.0, 700.0), ("co2-a", "co2", 220.0, 800.0)]))
            assert (r.inserted, r.duplicates) == (1, 1)
    finally:
        with psycopg.connect(host=PG_HOST, port=PG_PORT, dbname=PG_DB, user=user, autocommit=True) as con:
            con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
