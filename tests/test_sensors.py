"""Virtual sensors: each device reads the simulated state at its period, in the telemetry table format."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DATA

from geometry import build_building, resolve_file
from geometry.quantities import QUANTITIES
from simulation.day.library_day import DayResult, run_day
from simulation.day.sensors import TELEMETRY_COLUMNS, TELEMETRY_SCHEMA, VirtualSensors, telemetry_arrow


@pytest.fixture(scope="module")
def day() -> DayResult:
    src = resolve_file(DATA / "day-small.yaml")
    return run_day(build_building(src), src, seed=11, progress=False)


def _series(day: DayResult, device: str, quantity: str):  # type: ignore[no-untyped-def]
    t = day.telemetry
    return t.loc[(t["device"] == device) & (t["quantity"] == quantity)].sort_values("time")


def test_table_matches_the_telemetry_schema(day: DayResult) -> None:
    assert tuple(day.telemetry.columns) == TELEMETRY_COLUMNS
    table = telemetry_arrow(day.telemetry)
    assert table.schema.equals(TELEMETRY_SCHEMA)
    import telemetry

    assert telemetry.TELEMETRY_SCHEMA is TELEMETRY_SCHEMA  # one definition: the columns the ingest stores
    units = day.telemetry.groupby("quantity")["unit"].unique()
    for q, u in units.items():
        assert list(u) == [QUANTITIES[str(q)].unit]
    # exactly one value column is set per row, as the quantity's kind says
    set_cols = day.telemetry[["value", "bool_value", "string_value"]].notna().sum(axis=1)
    assert (set_cols == 1).all()


def test_every_device_reads_at_its_period(day: DayResult) -> None:
    epoch0 = day.meta["epoch0_s"]
    b = build_building(resolve_file(DATA / "day-small.yaml"))
    for d in b.devices:
        for q in d.quantities:
            s = _series(day, d.id, q)
            assert len(s) == int(86400 // d.period_s), (d.id, q)
            rel = s["time"].to_numpy() - epoch0
            np.testing.assert_allclose(rel, d.period_s * np.arange(1, len(s) + 1))


def test_seat_sensor_sees_the_reader_sitting_there(day: DayResult) -> None:
    ev = day.events
    for device, seat in (("seat-win-1", "win-1"), ("seat-table-1", "tables-r1c1-1")):
        s = _series(day, device, "seat_occupied")
        times = s["time"].to_numpy() - day.meta["epoch0_s"]
        seen = s["bool_value"].to_numpy(bool)
        present = np.zeros(times.size, dtype=bool)
        for reader, g in ev.loc[ev["ref"] == seat].groupby("reader"):
            take, leave = g.loc[g["event"] == "seat_take", "t_s"], g.loc[g["event"] == "seat_leave", "t_s"]
            for a, b in zip(take, leave, strict=True):
                present |= (times > a) & (times < b)
            mine = ev.loc[(ev["reader"] == reader) & ev["event"].isin(["break_start", "break_end"])]
            starts = mine.loc[mine["event"] == "break_start", "t_s"]
            ends = mine.loc[mine["event"] == "break_end", "t_s"]
            for a, b in zip(starts, ends, strict=True):
                present &= ~((times > a) & (times < b))
        assert seen.any()
        np.testing.assert_array_equal(seen, present)


def test_zone_sensors_read_the_zone_state(day: DayResult) -> None:
    co2 = _series(day, "co2-reading", "co2")
    z = day.zones.loc[day.zones["zone_id"] == "reading"].set_index("t_s")
    t = co2["time"].to_numpy() - day.meta["epoch0_s"]
    # a reading at t is the state at the end of the physics step that started at t - 60
    np.testing.assert_allclose(co2["value"].to_numpy(float), z.loc[t - 60.0, "co2_ppm"].to_numpy())
    assert co2["value"].max() > 600  # people breathe
    # the hall sensor has 20 ppm of noise: its readings scatter around the zone's value
    noisy = _series(day, "env-hall", "co2")
    zh = day.zones.loc[day.zones["zone_id"] == "hall"].set_index("t_s")
    th = noisy["time"].to_numpy() - day.meta["epoch0_s"]
    diff = noisy["value"].to_numpy(float) - zh.loc[th - 60.0, "co2_ppm"].to_numpy()
    assert 14 < diff.std() < 27 and abs(diff.mean()) < 6
    # occupancy: the instantaneous count agrees with the per-minute means on average
    occ = _series(day, "occ-reading", "occupancy")["value"].to_numpy(float)
    assert occ.mean() == pytest.approx(z["occupancy"].mean(), rel=0.05)
    lux = _series(day, "env-hall", "illuminance")
    assert lux["value"].max() >= 200  # the lights are on while open (EN 12464-1 entrance 200 lx)


def test_meters_add_up_to_the_energy_table(day: DayResult) -> None:
    energy = day.energy
    total_wh = float(sum((energy[c] * energy["dt_s"]).sum() for c in energy.columns if c.endswith("_w"))) / 3600
    e = _series(day, "em-total", "energy")["value"].to_numpy(float)
    assert np.all(np.diff(e) >= 0)
    assert e[-1] == pytest.approx(total_wh, rel=1e-9)
    lighting = _series(day, "em-lighting", "energy")["value"].to_numpy(float)
    assert lighting[-1] == pytest.approx(day.kpis.energy_kwh["lighting"] * 1000, rel=1e-9)
    p = _series(day, "em-lighting", "power")["value"].to_numpy(float)
    assert p.max() == pytest.approx(14 * 200)  # 14 W/m2 over 200 m2 while open
    assert p.min() == 0.0


def test_kiosk_and_queue_counter(day: DayResult) -> None:
    ev = day.events
    served = int(((ev["event"] == "service_end") & (ev["ref"] == "kiosk-1")).sum())
    tx = _series(day, "kiosk-1", "transactions")["value"].sum()
    assert tx == served > 0
    status = _series(day, "kiosk-1", "status")
    t = status["time"].to_numpy() - day.meta["epoch0_s"]
    open_ = status["string_value"].to_numpy(str) == "open"
    assert not open_[t < 9 * 3600].any() and open_[(t > 9 * 3600) & (t < 21 * 3600)].all()
    q = _series(day, "q-desk", "queue_length")["value"].to_numpy(float)
    assert len(q) == 2880 and (q >= 0).all() and np.all(q == np.round(q))


def test_devices_that_cannot_be_simulated_are_listed() -> None:
    b = build_building(resolve_file(DATA / "day-small.yaml"))
    vs = VirtualSensors(b, zone_ids=["hall", "reading"], opening_ids=["main-door", "hall-reading"],
                        seat_ids=[s.id for s in b.seats], service_ids=[], services={}, meter_floor={},
                        zone_floor=["G", "G"], epoch0_s=0.0, rng=np.random.default_rng(0))
    assert dict(vs.unbound) == {"kiosk-1": "no kiosk within 2 m", "q-desk": "no desk or cafe within 10 m"}
