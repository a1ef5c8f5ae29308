"""The same store tests on DuckDB and on PostgreSQL (a fresh schema per test)."""

from __future__ import annotations

import math

import pandas as pd
import pyarrow as pa
import pytest
from telemetry_fixtures import telemetry_registry

from telemetry import TELEMETRY_SCHEMA, Batch, Store, open_store
from telemetry.errors import StoreUnavailableError, StoreURLError
from telemetry.store import DEAD_LETTER_SCHEMA, REJECTION_COUNT_SCHEMA, STATUS_SCHEMA

T0 = 1_790_000_000.0 - 1_790_000_000.0 % 86_400  # a UTC midnight


def readings(rows: list[tuple[str, str, str, float, float | None, bool | None, str | None]]) -> pa.Table:
    units = {"co2": "ppm", "temperature": "Cel", "seat_occupied": "", "status": "", "people_in": "count"}
    return pa.table({
        "branch": ["small"] * len(rows), "device": [r[0] for r in rows], "quantity": [r[1] for r in rows],
        "unit": [units[r[1]] for r in rows], "time": [r[3] for r in rows], "value": [r[4] for r in rows],
        "bool_value": [r[5] for r in rows], "string_value": [r[6] for r in rows]}, schema=TELEMETRY_SCHEMA)


def co2(times_values: list[tuple[float, float]], device: str = "co2-reading") -> pa.Table:
    return readings([(device, "co2", "", t, v, None, None) for t, v in times_values])


def test_write_is_idempotent_on_branch_device_quantity_time(store: Store) -> None:
    first = store.write_readings(co2([(T0 + i, 400.0 + i) for i in range(100)]))
    assert (first.inserted, first.duplicates) == (100, 0)
    # a redelivery of half of them plus 50 new ones; values of redelivered rows do not overwrite
    again = store.write_readings(co2([(T0 + i, 999.0) for i in range(50, 150)]))
    assert (again.inserted, again.duplicates) == (50, 50)
    counts = store.counts()
    assert counts[["device", "quantity", "records"]].to_dict("records") == [
        {"device": "co2-reading", "quantity": "co2", "records": 150}]
    assert counts["first_time"].iloc[0] == T0 and counts["last_time"].iloc[0] == T0 + 149
    raw = store.series(branch="small", quantity="co2", device="co2-reading", start=T0 + 99, end=T0 + 101)
    assert raw["value"].tolist() == [499.0, 999.0]  # the first write of T0+99 stays
    # duplicates inside one batch keep one row
    dup = store.write_readings(co2([(T0 + 1000, 1.0), (T0 + 1000, 2.0)]))
    assert dup.inserted == 1 and dup.duplicates == 1


def test_dataframe_batches_are_accepted_too(store: Store) -> None:
    df = co2([(T0 + 1, 500.0), (T0 + 2, 510.0)]).to_pandas()
    assert store.write_readings(df).inserted == 2
    with pytest.raises(ValueError, match="lacks column"):
        store.write_readings(df.drop(columns=["unit"]))


def test_latest_per_device_and_quantity_with_all_value_kinds(store: Store) -> None:
    store.write_readings(readings([
        ("co2-reading", "co2", "", T0 + 10, 500.0, None, None),
        ("co2-reading", "co2", "", T0 + 20, 650.0, None, None),
        ("co2-reading", "temperature", "", T0 + 5, 21.5, None, None),
        ("seat-win-1", "seat_occupied", "", T0 + 7, None, True, None),
        ("seat-win-1", "seat_occupied", "", T0 + 3, None, False, None),
        ("kiosk-1", "status", "", T0 + 1, None, None, "ok"),
    ]))
    latest = store.latest()
    got = {(r.device, r.quantity): (r.time, r.value, r.bool_value, r.string_value)
           for r in latest.itertuples(index=False)}
    assert got[("co2-reading", "co2")][:2] == (T0 + 20, 650.0)
    assert got[("co2-reading", "temperature")][:2] == (T0 + 5, 21.5)
    assert got[("seat-win-1", "seat_occupied")][0] == T0 + 7 and bool(got[("seat-win-1", "seat_occupied")][2])
    assert got[("kiosk-1", "status")][3] == "ok"
    assert len(store.latest(device="co2-reading")) == 2
    assert store.latest(quantity="co2")["value"].tolist() == [650.0]


def test_resampling_per_minute_and_hour_by_hand(store: Store) -> None:
    # minute 0: 400, 500 (mean 450); minute 1: 600; minute 3: 700, 800, 900 (mean 800)
    store.write_readings(co2([(T0 + 0, 400), (T0 + 30, 500), (T0 + 60, 600), (T0 + 180, 700), (T0 + 200, 800),
                              (T0 + 239.5, 900)]))
    m = store.series(branch="small", quantity="co2", device="co2-reading", every="minute")
    assert m["time"].tolist() == [T0, T0 + 60, T0 + 180]
    assert m["value"].tolist() == [450.0, 600.0, 800.0]
    assert m["n"].tolist() == [2, 1, 3]
    h = store.series(branch="small", quantity="co2", every="hour", agg="max")
    assert h["time"].tolist() == [T0] and h["value"].tolist() == [900.0]
    last = store.series(branch="small", quantity="co2", every=120.0, agg="last")
    assert last["value"].tolist() == [600.0, 900.0]
    total = store.series(branch="small", quantity="co2", every="hour", agg="sum", start=T0 + 60, end=T0 + 200)
    assert total["value"].tolist() == [1300.0]
    with pytest.raises(ValueError, match="every must be"):
        store.series(branch="small", quantity="co2", every="fortnight")
    with pytest.raises(ValueError, match="agg must be"):
        store.series(branch="small", quantity="co2", every="hour", agg="median")  # type: ignore[arg-type]


def test_resampling_per_device_keeps_devices_apart_across_compacted_hours(store: Store) -> None:
    # co2-reading: 400 and 600 in the first hour (compacted below), 800 in the second; co2-hall: 1000 then 1200
    store.write_readings(readings([
        ("co2-reading", "co2", "ppm", T0 + 10, 400.0, None, None),
        ("co2-reading", "co2", "ppm", T0 + 70, 600.0, None, None),
        ("co2-hall", "co2", "ppm", T0 + 20, 1000.0, None, None),
        ("co2-reading", "co2", "ppm", T0 + 3610, 800.0, None, None),
        ("co2-hall", "co2", "ppm", T0 + 3620, 1200.0, None, None),
    ]))
    store.compact(older_than_s=3600.0, now=T0 + 3600.0 + 3600.0)  # the first hour becomes aggregates
    per = store.series(branch="small", quantity="co2", every="hour", per_device=True)
    assert per.columns.tolist() == ["device", "time", "value", "n"]
    got = {(r.device, r.time): (r.value, r.n) for r in per.itertuples(index=False)}
    assert got == {("co2-hall", T0): (1000.0, 1), ("co2-reading", T0): (500.0, 2),
                   ("co2-hall", T0 + 3600): (1200.0, 1), ("co2-reading", T0 + 3600): (800.0, 1)}
    # over all devices the first hour's mean weighs each reading: (400 + 600 + 1000) / 3
    assert store.series(branch="small", quantity="co2", every="hour")["value"].iloc[0] == pytest.approx(2000 / 3)


def test_zone_series_uses_the_registered_devices(store: Store) -> None:
    store.register_devices(telemetry_registry().to_arrow())
    # co2-reading and em-1 are in zone 'reading'; kiosk-1 in 'hall'; seats count as 0/1
    store.write_readings(readings([
        ("seat-win-1", "seat_occupied", "", T0 + 1, None, True, None),
        ("seat-win-1", "seat_occupied", "", T0 + 2, None, False, None),
        ("seat-win-1", "seat_occupied", "", T0 + 3, None, True, None),
        ("co2-reading", "co2", "", T0 + 1, 500.0, None, None),
        ("co2-reading", "co2", "", T0 + 2, 700.0, None, None),
    ]))
    occ = store.series(branch="small", quantity="seat_occupied", zone="reading", every="minute")
    assert occ["value"].tolist() == [pytest.approx(2 / 3)]
    co2_zone = store.series(branch="small", quantity="co2", zone="reading", every="hour")
    assert co2_zone["value"].tolist() == [600.0]
    assert store.series(branch="small", quantity="co2", zone="hall", every="hour").empty
    with pytest.raises(ValueError, match="not both"):
        store.series(branch="small", quantity="co2", zone="hall", device="co2-reading")
    # registering again replaces the branch's devices instead of piling up
    store.register_devices(telemetry_registry().to_arrow())
    assert store.series(branch="small", quantity="co2", zone="reading", every="hour")["n"].tolist() == [2]


def test_readings_spanning_days_land_in_their_partitions(store: Store) -> None:
    times = [T0 - 1, T0, T0 + 86_399.5, T0 + 86_400, T0 + 5 * 86_400]
    assert store.write_readings(co2([(t, 400.0 + i) for i, t in enumerate(times)])).inserted == 5
    assert store.write_readings(co2([(T0 + 86_400, 1.0)])).duplicates == 1
    day = store.series(branch="small", quantity="co2", every="day", agg="count")
    assert day["time"].tolist() == [T0 - 86_400, T0, T0 + 86_400, T0 + 5 * 86_400]
    assert day["value"].tolist() == [1, 2, 1, 1]


def _dead(reason: str, device: str | None, i: int) -> dict[str, object]:
    return {"received": T0 + i, "topic": f"smartlib/v1/small/{device or 'ghost'}/telemetry", "branch": "small",
            "device": device, "reason": reason, "detail": f"detail {i}", "record": None if i % 2 else i,
            "payload": b"\xff\x00payload" + bytes([i]), "payload_bytes": 1000 + i}


def test_dead_letters_counts_and_statuses_commit_with_the_readings(store: Store) -> None:
    dl = pa.Table.from_pylist([_dead("not_json", "co2-reading", 1), _dead("out_of_range", "co2-reading", 2),
                               _dead("unknown_device", None, 3)], schema=DEAD_LETTER_SCHEMA)
    counts = pa.Table.from_pylist([
        {"branch": "small", "device": "co2-reading", "reason": "not_json", "count": 5, "first_received": T0,
         "last_received": T0 + 1},
        {"branch": "small", "device": "", "reason": "unknown_device", "count": 1, "first_received": T0 + 3,
         "last_received": T0 + 3}], schema=REJECTION_COUNT_SCHEMA)
    statuses = pa.Table.from_pylist([
        {"branch": "small", "device": "co2-reading", "status": "online", "time": T0},
        {"branch": "small", "device": "co2-reading", "status": "offline", "time": T0 + 9},
        {"branch": "small", "device": "seat-win-1", "status": "online", "time": T0 + 2}], schema=STATUS_SCHEMA)
    result = store.write(Batch(readings=co2([(T0, 450.0)]), dead_letters=dl, rejection_counts=counts,
                               statuses=statuses))
    assert (result.inserted, result.dead_letters) == (1, 3)
    # a second batch adds to the counts and moves the status on
    store.write(Batch.of(rejection_counts=counts.slice(0, 1), statuses=statuses.slice(0, 1)))
    rc = store.rejection_counts()
    assert rc[["device", "reason", "count"]].to_dict("records") == [
        {"device": "", "reason": "unknown_device", "count": 1},
        {"device": "co2-reading", "reason": "not_json", "count": 10}]
    assert store.device_status()[["device", "status"]].to_dict("records") == [
        {"device": "co2-reading", "status": "online"}, {"device": "seat-win-1", "status": "online"}]
    letters = store.dead_letters()
    assert letters["reason"].tolist() == ["unknown_device", "out_of_range", "not_json"]  # newest first
    assert letters["payload"].iloc[0] == b"\xff\x00payload\x03"
    assert letters["payload_bytes"].tolist() == [1003, 1002, 1001]
    assert pd.isna(letters["device"].iloc[0]) and letters["record"].iloc[1] == 2
    assert store.dead_letters(reason="not_json", limit=5)["detail"].tolist() == ["detail 1"]
    stats = store.stats().to_dict()
    assert stats["records"] == 1 and stats["dead_letter_rows"] == 3
    assert stats["rejected_by_reason"] == [{"reason": "not_json", "count": 10}, {"reason": "unknown_device",
                                                                                 "count": 1}]
    assert stats["devices_online"] == 2 and stats["devices_offline"] == 0
    assert stats["first_time"] == T0 and stats["per_quantity"][0]["records"] == 1


def test_a_failed_batch_commits_nothing(store: Store) -> None:
    good = co2([(T0 + 1, 500.0)])
    # a dead letter without a reason violates NOT NULL after the readings went in: all of it must roll back
    loose = pa.schema([f.with_nullable(True) for f in DEAD_LETTER_SCHEMA])
    bad_letter = pa.Table.from_pylist([{**_dead("not_json", "co2-reading", 1), "reason": None}], schema=loose)
    with pytest.raises(StoreUnavailableError, match="failed"):
        store.write(Batch(readings=good, dead_letters=bad_letter))
    assert store.counts().empty and store.dead_letters().empty
    assert store.write_readings(good).inserted == 1  # the store is usable afterwards


def test_empty_store_stats(store: Store) -> None:
    s = store.stats()
    assert s.records == 0 and s.first_time is None and s.per_quantity.empty and s.dead_letter_rows == 0


def test_store_reopens_with_its_data(store_url: str) -> None:
    with open_store(store_url) as s:
        s.write_readings(co2([(T0, 400.0)]))
    with open_store(store_url) as s:
        assert s.counts()["records"].tolist() == [1]
        assert not math.isnan(s.stats().first_time or math.nan)


@pytest.mark.parametrize(("url", "message"), [
    ("", "empty store URL"),
    ("mysql://host/db", "not understood"),
    ("duckdb://relative.duckdb", "absolute path"),
    ("duckdb:", "names no DuckDB file"),
    ("postgresql:///db", "names no host"),
    ("postgresql://u@host:99999/db", "bad port"),
    ("postgresql://u:secret@host:notaport/db", "bad port"),
])
def test_bad_store_urls_say_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(StoreURLError, match=message) as exc:
        open_store(url)
    assert "secret" not in str(exc.value)


def test_duckdb_missing_folder_and_foreign_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(StoreUnavailableError, match="does not exist"):
        open_store(f"duckdb:///{tmp_path}/no/such/dir/t.duckdb")
    import duckdb

    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).execute("CREATE TABLE x (a INT)").close()
    with pytest.raises(StoreUnavailableError, match="not a telemetry store"):
        open_store(str(other), read_only=True)


def test_duckdb_file_held_by_another_process_is_explained(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    path = tmp_path / "held.duckdb"
    open_store(str(path)).close()
    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb,sys; c=duckdb.connect({str(path)!r}); "
                               "print('ok', flush=True); sys.stdin.read()"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        with pytest.raises(StoreUnavailableError, match="another process"):
            open_store(str(path))
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)  # a DuckDB file has one writing process
def test_two_ingests_register_the_same_branch_at_once(store_url: str) -> None:
    """A shared subscription starts N ingests on one store; each registers the deployment's devices."""
    import threading

    stores = [open_store(store_url) for _ in range(2)]
    table = telemetry_registry().to_arrow()
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def register(s: Store) -> None:
        try:
            for _ in range(20):
                barrier.wait(timeout=30)
                s.register_devices(table)
        except BaseException as exc:  # reported below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=register, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    assert not errors, errors
    with open_store(store_url) as s:  # the branch's devices once each: zone series still count each reading once
        s.write_readings(co2([(T0 + 1, 500.0), (T0 + 2, 700.0)]))
        assert s.series(branch="small", quantity="co2", zone="reading", every="hour")["n"].tolist() == [2]
