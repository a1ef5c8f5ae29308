"""The live twin without a broker: estimation formulas, device health, alerts, bad and disordered input."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from geometry.quantities import TELEMETRY_SCHEMA
from simulation.day.physics import co2_step_ppm
from telemetry.records import Reading
from twin.alerts import AlertRule, Debouncer
from twin.branch import BranchTwin, TwinConfig
from twin.estimate import (
    co2_category,
    co2_linear_response,
    co2_occupancy_estimate,
    co2_occupancy_linear,
    fuse,
    reconcile,
    seat_sample_estimate,
    zone_capacity,
)
from twin.registry import TwinRegistry

DATA = Path(__file__).resolve().parent / "data"
SMALL = DATA / "small-branch.yaml"
# a Wednesday; the small branch is on UTC and open 08:00-22:00 every day
DAY0 = dt.datetime(2025, 3, 5, tzinfo=dt.UTC).timestamp()


def at(hour: float) -> float:
    return DAY0 + hour * 3600.0


def r(device: str, quantity: str, t: float, value: float | bool, unit: str = "", branch: str = "small") -> Reading:
    if isinstance(value, bool):
        return Reading(branch, device, quantity, unit, t, bool_value=value)
    return Reading(branch, device, quantity, unit, t, value=float(value))


@pytest.fixture
def twin() -> BranchTwin:
    return BranchTwin.from_scenario(SMALL)


# --------------------------------------------------------------------------- formulas


def test_co2_inversion_recovers_the_occupants_of_the_simulations_mass_balance() -> None:
    # forward: the simulation's own step with 12 people for 300 s; backward: the twin's inversion
    v_m3, q_l_s, dt_s = 525.0, 120.0, 300.0
    c0 = 650.0
    c1 = float(co2_step_ppm(c0, 12.0, q_l_s, v_m3, dt_s))
    n, sd = co2_occupancy_linear(c0, c1, co2_linear_response(volume_m3=v_m3, ventilation_l_s=q_l_s, dt_s=dt_s))
    assert n == pytest.approx(12.0, rel=1e-9)
    assert 0 < sd < 12
    # demand-controlled ventilation (Q grows with N): the bisection finds the same people
    def vent(people: float) -> float:
        return 2.5 * people + 0.6 * 150.0

    c1_dcv = float(co2_step_ppm(c0, 30.0, vent(30.0), v_m3, dt_s))
    n_dcv, _ = co2_occupancy_estimate(c0, c1_dcv, dt_s, volume_m3=v_m3, ventilation_l_s=vent)
    assert n_dcv == pytest.approx(30.0, rel=1e-6)
    # CO2 falling faster than an empty zone would decay: no one (never negative)
    assert co2_occupancy_linear(900.0, 420.0, co2_linear_response(volume_m3=v_m3, ventilation_l_s=q_l_s,
                                                                  dt_s=dt_s))[0] == 0.0


def test_co2_categories_are_en16798_1() -> None:
    # EN 16798-1:2019 Table B.12: 550 / 800 / 1350 ppm above outdoor
    assert co2_category(420 + 550) == "I"
    assert co2_category(420 + 551) == "II"
    assert co2_category(420 + 800) == "II"
    assert co2_category(420 + 1350) == "III"
    assert co2_category(420 + 1351) == "IV"
    assert co2_category(900, outdoor_ppm=400) == "I"


def test_seat_sample_scaling_and_its_uncertainty() -> None:
    mean, sd = seat_sample_estimate(3, 6, 60)
    assert mean == 30.0
    assert sd > 5  # six seats say little about sixty
    # every seat sampled: the count is exact
    assert seat_sample_estimate(17, 40, 40) == (17.0, 0.0)
    # half the people sit: twice as many in the zone
    assert seat_sample_estimate(3, 6, 60, seated_share=0.5)[0] == 60.0


def test_fuse_and_reconcile() -> None:
    m, s = fuse([(10.0, 1.0), (20.0, 1.0)])
    assert m == 15.0 and s == pytest.approx(math.sqrt(0.5))
    assert fuse([(10.0, 0.0), (50.0, 3.0)]) == (10.0, 0.0)
    means, stds = reconcile(np.array([10.0, 5.0]), np.array([0.0, 4.0]), 25.0, 0.0)
    # the exactly known zone keeps its value, the uncertain one takes the difference
    assert means.tolist() == [10.0, 15.0]
    assert stds[1] == pytest.approx(0.0)
    assert float(reconcile(np.array([3.0, 3.0]), np.array([2.0, 2.0]), 0.0, 0.0)[0].sum()) == pytest.approx(0.0)


def test_zone_capacity_uses_seats_or_occupant_load() -> None:
    assert zone_capacity("reading_room", 150.0, 26) == 32  # 150 m2 / 4.65 m2 per person (IBC Table 1004.5)
    assert zone_capacity("reading_room", 50.0, 26) == 26
    assert zone_capacity("stacks", 93.0, 0) == 10


# --------------------------------------------------------------------------- alerts


def test_co2_alert_starts_and_ends_at_the_expected_minutes(twin: BranchTwin) -> None:
    # limit 420 + 800 = 1220 ppm, clear at 1120 ppm, 5 min hold both ways; one reading a minute from 10:00
    t0 = at(10.0)
    series = dict.fromkeys(range(10), 800.0)
    series[3] = 1400.0  # a one-minute spike: never held for 5 minutes
    series.update(dict.fromkeys(range(10, 40), 1300.0))  # above from minute 10
    series.update(dict.fromkeys(range(40, 45), 1150.0))  # under the limit but above the clear level: stays
    series[42] = 1250.0
    series.update(dict.fromkeys(range(45, 60), 1000.0))  # clear from minute 45
    raised_at = ended_at = None
    for m in range(60):
        twin.apply([r("co2-reading", "co2", t0 + 60 * m, series[m], "ppm")])
        active = twin.active_alerts()
        if active and raised_at is None:
            raised_at = m
        if raised_at is not None and not active and ended_at is None:
            ended_at = m
    co2 = [a for a in twin.alerts() if a.kind == "co2"]
    assert raised_at == 15 and ended_at == 50  # held 5 minutes either way
    assert len(co2) == 2  # raised, then ended
    done = co2[-1]
    assert done.subject == "reading" and done.limit == 1220.0
    assert done.started == t0 + 600 and done.ended == t0 + 45 * 60
    assert done.value == 1300.0
    print(f"CO2 alert: started minute {(done.started - t0) / 60:.0f}, raised minute {raised_at}, "
          f"ended minute {(done.ended - t0) / 60:.0f}, cleared minute {ended_at}")


def test_debouncer_hysteresis_ignores_wobble() -> None:
    d = Debouncer(kind="queue", branch="b", subject="q", rule=AlertRule(hold_s=0, clear_hold_s=0, hysteresis=2))
    assert d.update(0, 6, 5) is not None  # raised at once (no hold)
    for t, v in enumerate([5, 4, 5, 3.5, 6], start=1):
        assert d.update(t, v, 5) is None  # never down to 3: stays active
    ended = d.update(10, 3, 5)
    assert ended is not None and ended.ended == 10


# --------------------------------------------------------------------------- device health


def test_silence_offline_after_three_periods_and_back(twin: BranchTwin) -> None:
    t0 = at(10.0)
    for k in range(5):
        twin.apply([r("seat-win-1", "seat_occupied", t0 + 60 * k, True)])
    last = t0 + 240
    twin.advance(last + 3 * 60)  # exactly three periods: still online
    assert twin.state(last + 180).device("seat-win-1").status == "online"
    twin.advance(last + 181)
    h = twin.state(last + 181).device("seat-win-1")
    assert h.status == "offline" and "silent" in h.reason
    off = [a for a in twin.active_alerts() if a.kind == "device_offline"]
    assert [a.subject for a in off] == ["seat-win-1"] and off[0].started == last + 180
    twin.apply([r("seat-win-1", "seat_occupied", last + 400, False)])
    assert not twin.active_alerts()
    assert twin.alerts()[-1].ended == last + 400


def test_status_offline_is_offline_at_once(twin: BranchTwin) -> None:
    t0 = at(10.0)
    twin.apply([r("co2-reading", "co2", t0, 600, "ppm")])
    assert twin.apply_status("co2-reading", "offline", t0 + 5)
    st = twin.state(t0 + 6)
    assert st.device("co2-reading").status == "offline"
    assert [a.kind for a in st.alerts] == ["device_offline"]
    assert twin.apply_status("co2-reading", "online", t0 + 30)
    assert twin.state(t0 + 31).device("co2-reading").status == "online"
    assert not twin.active_alerts()
    assert not twin.apply_status("no-such-device", "offline", t0)
    assert not twin.apply_status("co2-reading", "sleeping", t0)


def test_out_of_range_jump_and_stuck_values_are_flagged(twin: BranchTwin) -> None:
    t0 = at(10.0)
    twin.apply([r("co2-reading", "temperature", t0, 21.0, "Cel")])
    twin.apply([r("co2-reading", "temperature", t0 + 300, 55.0, "Cel")])  # no library is 55 degC
    h = twin.state(t0 + 301).device("co2-reading")
    assert h.status == "flagged" and any("temperature: out of range" in f for f in h.flags)
    twin.apply([r("co2-reading", "temperature", t0 + 600, 21.5, "Cel")])
    assert twin.state(t0 + 601).device("co2-reading").status == "online"
    twin.apply([r("co2-reading", "co2", t0 + 600, 600, "ppm"), r("co2-reading", "co2", t0 + 660, 2500, "ppm")])
    assert any("co2: jump" in f for f in twin.state(t0 + 661).device("co2-reading").flags)
    # the same CO2 to the ppm for 3 h while open: stuck (and not used to estimate occupancy)
    for k in range(40):
        twin.apply([r("co2-reading", "co2", t0 + 720 + 300 * k, 700, "ppm")])
    st = twin.state(t0 + 720 + 300 * 39)
    assert any("co2: stuck" in f for f in st.device("co2-reading").flags)
    assert "co2" not in st.zone("reading").sources
    assert any(lv.quality == "flagged" for lv in st.latest if lv.quantity == "co2")


# --------------------------------------------------------------------------- occupancy


def test_counters_give_the_building_and_restart_at_closing(twin: BranchTwin) -> None:
    t0 = at(9.0)
    rows = []
    for k in range(60):  # 5 in, 2 out a minute for an hour: 180 in the building
        rows += [r("door-counter", "people_in", t0 + 60 * (k + 1), 5, "count"),
                 r("door-counter", "people_out", t0 + 60 * (k + 1), 2, "count")]
    twin.apply(rows)
    st = twin.state(t0 + 3600)
    assert st.occupancy == pytest.approx(180.0, abs=1.0)
    assert st.zone("hall").sources == ("prior",)
    assert twin.hours.intervals(2)[-1][1] == 22 * 3600.0
    # after closing (22:00) + 30 min the branch is known empty: the counters start again from 0
    twin.apply([r("door-counter", "people_in", at(22.75), 1, "count"),
                r("door-counter", "people_out", at(22.75), 0, "count")])
    assert twin.state(at(22.75)).occupancy == pytest.approx(1.0, abs=0.6)


def test_counter_drift_is_corrected_by_the_previous_day(twin: BranchTwin) -> None:
    # day 1: 300 in, but the counter misses 10 % of those going out (270 out): 30 "left" at closing
    rows = []
    for k in range(30):
        t = at(10.0) + 60 * k
        rows += [r("door-counter", "people_in", t, 10, "count"), r("door-counter", "people_out", t + 7200, 9, "count")]
    twin.apply(sorted(rows, key=lambda x: x.time))
    assert twin.state(rows[-1].time).occupancy == pytest.approx(30.0, abs=1.0)
    # day 2: 100 in, 90 counted out, everyone gone: the out-counts scaled by 300/270 give ~0
    rows = []
    for k in range(10):
        t = at(24 + 10.0) + 60 * k
        rows += [r("door-counter", "people_in", t, 10, "count"), r("door-counter", "people_out", t + 3600, 9, "count")]
    twin.apply(sorted(rows, key=lambda x: x.time))
    counted = twin.state(rows[-1].time)
    assert counted.occupancy == pytest.approx(0.0, abs=1.0) and counted.occupancy_std < 5
    # a counter silent for more than 3 periods misses people: its total is no longer trusted
    assert twin.state(rows[-1].time + 600).occupancy_std > 5


def test_seat_sensor_and_co2_estimates_fuse(twin: BranchTwin) -> None:
    t0 = at(11.0)
    twin.apply([r("seat-win-1", "seat_occupied", t0, True), r("co2-reading", "co2", t0 - 300, 700, "ppm"),
                r("co2-reading", "co2", t0, 760, "ppm")])
    z = twin.state(t0).zone("reading")
    assert set(z.sources) == {"co2", "seat_sensors"}
    assert z.occupancy > 0 and z.occupancy_std > 0
    assert z.co2_ppm == 760 and z.co2_category == "I"


# --------------------------------------------------------------------------- bad and disordered input


def test_unknown_branches_devices_and_quantities_are_counted_not_applied(twin: BranchTwin) -> None:
    t0 = at(10.0)
    twin.apply([r("co2-reading", "co2", t0, 600, "ppm")])
    before = twin.state(t0)
    res = twin.apply([r("ghost", "co2", t0 + 60, 900, "ppm"), r("co2-reading", "occupancy", t0 + 60, 4),
                      r("co2-reading", "co2", t0 + 60, 900, "ppm", branch="elsewhere"),
                      Reading("small", "co2-reading", "co2", "ppm", t0 + 60)])
    assert (res.applied, res.unknown) == (0, 4)
    assert any("device 'ghost' is not in branch 'small'" in p for p in res.problems)
    assert any("does not measure 'occupancy'" in p for p in res.problems)
    assert any("branch 'elsewhere'" in p for p in res.problems)
    assert any("no value" in p for p in res.problems)
    assert twin.state(t0) == before
    reg = TwinRegistry([twin])
    res = reg.apply(pa.Table.from_pylist([{"branch": "nowhere", "device": "x", "quantity": "co2", "unit": "ppm",
                                           "time": t0, "value": 1.0}], schema=TELEMETRY_SCHEMA))
    assert res.unknown == 1 and "unknown branch 'nowhere'" in res.problems[0]
    with pytest.raises(KeyError, match="no branch 'nowhere' in the hub"):
        reg.branch("nowhere")


def test_problems_name_each_bad_row_in_order_whether_given_as_table_or_readings(twin: BranchTwin) -> None:
    t0 = at(10.0)
    rows = [r("co2-reading", "co2", t0, 600, "ppm"),
            r("ghost", "co2", t0 + 1, 900, "ppm", branch="elsewhere"),  # the branch is named first
            r("ghost", "co2", t0 + 2, math.nan, "ppm"),  # then the device
            r("co2-reading", "occupancy", t0 + 3, math.inf),  # then the quantity
            r("co2-reading", "co2", t0 + 4, math.nan, "ppm"),  # then the value
            Reading("small", "co2-reading", "co2", "ppm", t0 + 5),
            r("co2-reading", "co2", t0 + 6, 640, "ppm"),
            r("co2-reading", "co2", t0 + 6, 650, "ppm")]  # the same time again: a duplicate
    expected = ("reading of branch 'elsewhere' given to the twin of 'small'", "device 'ghost' is not in branch 'small'",
                "device 'co2-reading' does not measure 'occupancy' (it measures co2, temperature)",
                f"device 'co2-reading' co2 at {t0 + 4}: value nan is not a finite number",
                f"device 'co2-reading' co2 at {t0 + 5}: no value")
    table = pa.Table.from_pylist([{"branch": x.branch, "device": x.device, "quantity": x.quantity, "unit": x.unit,
                                   "time": x.time, "value": x.value, "bool_value": x.bool_value,
                                   "string_value": x.string_value} for x in rows], schema=TELEMETRY_SCHEMA)
    results = []
    for given in (rows, table):
        fresh = BranchTwin(inputs=twin.inputs)
        results.append(fresh.apply(given))
        assert fresh.latest[("co2-reading", "co2")][:2] == (t0 + 6, 640)
    for res in results:
        assert (res.applied, res.duplicates, res.unknown) == (2, 1, 5)
        assert res.problems == expected


def test_out_of_order_and_duplicated_readings_do_not_corrupt_the_state() -> None:
    t0 = at(9.0)
    rng = np.random.default_rng(3)
    rows = []
    for k in range(120):
        t = t0 + 60 * (k + 1)
        rows += [r("door-counter", "people_in", t, int(rng.integers(0, 6)), "count"),
                 r("door-counter", "people_out", t, int(rng.integers(0, 3)), "count"),
                 r("seat-win-1", "seat_occupied", t, bool(k % 3))]
        if k % 5 == 0:
            rows.append(r("co2-reading", "co2", t, 500 + 3 * k, "ppm"))
    ordered = BranchTwin.from_scenario(SMALL)
    for i in range(0, len(rows), 40):
        ordered.apply(rows[i:i + 40])
    # the same readings shuffled inside each batch, every batch sent twice, and old ones again at the end
    shuffled = BranchTwin.from_scenario(SMALL)
    for i in range(0, len(rows), 40):
        batch = list(rows[i:i + 40])
        rng.shuffle(batch)  # type: ignore[arg-type]
        shuffled.apply(batch)
        res = shuffled.apply(batch)
        # counts are recognised as repeats; other readings as no newer than the newest of their device
        assert res.applied == 0 and res.duplicates + res.late == len(batch) and res.duplicates >= len(batch) // 2
    late = shuffled.apply([r("co2-reading", "co2", t0 + 30, 5000, "ppm"),
                           r("seat-win-1", "seat_occupied", t0 + 90, True)])
    assert late.applied == 0 and late.late == 2
    end = t0 + 121 * 60
    a, b = ordered.state(end), shuffled.state(end)
    assert a.occupancy == b.occupancy and a.zones == b.zones
    assert ordered.history().equals(shuffled.history())
    assert b.zone("reading").co2_ppm == 500 + 3 * 115  # the late 5000 ppm did not replace the newest


def test_a_twin_with_no_readings_has_a_state(twin: BranchTwin) -> None:
    st = twin.state(at(10.0))
    assert st.readings == 0 and st.last_reading is None
    assert all(d.status == "unknown" for d in st.devices)
    assert st.occupancy >= 0 and st.capacity == sum(z.capacity for z in st.zones)
    assert twin.history().empty


def test_config_is_checked() -> None:
    with pytest.raises(ValueError, match="tick_s must be positive"):
        TwinConfig(tick_s=0)


def test_a_zone_without_sensors_takes_the_typical_occupancy_of_the_hour() -> None:
    import pandas as pd

    from twin.branch import ZonePrior

    hours = np.arange(24)
    zones = pd.DataFrame({"time": np.concatenate([DAY0 + 3600 * hours + 60, DAY0 + 3600 * hours + 120]),
                          "zone_id": ["hall"] * 48, "occupancy": np.tile(np.where(hours == 10, 7.0, 1.0), 2)})
    prior = ZonePrior.from_zones_table(zones, "UTC")
    assert prior.hourly["hall"][10] == 7.0 and prior.hourly["hall"][3] == 1.0
    twin = BranchTwin.from_scenario(SMALL, prior=prior)
    z = twin.state(at(10.5)).zone("hall")
    assert z.sources == ("prior",) and z.occupancy == 7.0 and z.occupancy_std > 0
