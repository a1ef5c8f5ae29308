"""Zone physics: CO2 mass balance, 2R2C heat with HVAC, humidity, energy by end use, sensors' inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import DATA, SCENARIOS

from geometry import build_building, load_building, resolve_file
from geometry.errors import ScenarioError
from simulation.day.physics import (
    PhysicsSpec,
    ZonePhysics,
    ashrae_ventilation_l_s,
    co2_steady_state_ppm,
    co2_step_ppm,
    humidity_ratio,
    load_physics,
    meter_scopes,
    relative_humidity_pct,
    sound_level_db,
    two_node_steady_state,
    two_node_step,
    zone_geometry,
)


def test_ashrae_62_1_library_rates() -> None:
    # 10 people in 100 m2: 2.5 x 10 + 0.6 x 100 = 85 L/s (ASHRAE 62.1 Table 6.2.2.1, libraries)
    assert float(ashrae_ventilation_l_s(10, 100)) == pytest.approx(85.0)


def test_design_ventilation_uses_the_rates_of_each_kind_of_space() -> None:
    b = load_building(SCENARIOS / "central-library.yaml", check_reach=False)
    zp = ZonePhysics(b, PhysicsSpec())
    cafe, reading = zp.index["cafe-G"], zp.index["reading-L1"]
    a_cafe, a_read = zp.geo.area_m2[cafe], zp.geo.area_m2[reading]
    assert a_cafe == pytest.approx(16 * 17)
    # cafeteria: 3.8 L/s per person at 100 per 100 m2, plus 0.9 L/s per m2 (ASHRAE 62.1 Table 6.2.2.1)
    assert zp.design_vent[cafe] == pytest.approx((3.8 * 1.0 + 0.9) * a_cafe)
    # library: 2.5 L/s per person at 10 per 100 m2, plus 0.6 L/s per m2
    assert zp.design_vent[reading] == pytest.approx((2.5 * 0.1 + 0.6) * a_read)
    n = np.zeros(len(zp.index))
    assert zp.ventilation_l_s(n, hvac_on=True)[reading] == pytest.approx(zp.design_vent[reading])
    # off hours: infiltration only (0.2 air changes an hour)
    assert zp.ventilation_l_s(n, hvac_on=False)[reading] == pytest.approx(0.2 * zp.geo.volume_m3[reading] / 3.6)


def test_co2_steady_state_formula() -> None:
    # 30 people, 180 L/s, 0.0054 L/s each: 420 + 1e6 x 0.162 / 180 = 1320 ppm
    assert float(co2_steady_state_ppm(30, 180.0)) == pytest.approx(1320.0)
    # EN 16798-1's 20 L/h per person at 10 L/s per person: 420 + 1e6 x (20/3600/1000 m3/s) / 0.01 m3/s = 976 ppm
    assert float(co2_steady_state_ppm(1, 10.0, generation_l_s=20 / 3600)) == pytest.approx(420 + 555.6, abs=0.1)


def test_sealed_zone_co2_converges_to_the_mass_balance_steady_state() -> None:
    """The small branch's reading room (150 m2, 525 m3) with 30 readers and a fixed 180 L/s of
    outdoor air: the stepped model reaches the steady state within 2% and follows the solution
    of the mass balance on the way (checked against a 1 s forward-Euler integration)."""
    src = resolve_file(DATA / "day-small.yaml")
    b = build_building(src)
    zp = ZonePhysics(b, load_physics(src, building=b))  # fixed ventilation 1.2 L/s per m2
    i = zp.index["reading"]
    n = np.zeros(len(zp.index))
    n[i] = 30.0
    volume = zp.geo.volume_m3[i]
    assert volume == pytest.approx(525.0)
    q = None
    trace = []
    for k in range(8 * 60):  # 8 h of 1-min steps, HVAC running
        st = zp.step(k * 60.0, 60.0, people=n, is_open=True, hvac_on=True)
        q = st.ventilation_l_s[i]
        trace.append(st.co2_ppm[i])
    assert q == pytest.approx(180.0)
    steady = float(co2_steady_state_ppm(30, q))
    assert steady == pytest.approx(1320.0)
    assert trace[-1] == pytest.approx(steady, rel=0.02)
    # on the way: forward Euler at 1 s of V dC/dt = Q (C_out - C) + 1e6 G N
    c, ref = 420.0, []
    for s in range(1, 8 * 3600 + 1):
        c += (q / 1000 * (420.0 - c) + 1e6 * 0.0054 / 1000 * 30) / volume
        if s % 60 == 0:
            ref.append(c)
    np.testing.assert_allclose(trace, ref, rtol=2e-3)
    # one time constant V/Q in: 63% of the way
    tau_min = volume / (q / 1000) / 60
    assert np.interp(tau_min, np.arange(1, 481), trace) == pytest.approx(420 + 0.632 * 900, rel=0.01)
    # the other zone (the hall) had no one: it stays at outdoor CO2
    assert st.co2_ppm[zp.index["hall"]] == pytest.approx(420.0)


def test_co2_without_ventilation_accumulates_linearly() -> None:
    c = co2_step_ppm(420.0, 10, 0.0, 100.0, 3600.0)
    assert float(c) == pytest.approx(420 + 1e6 * 0.0054e-3 * 10 * 3600 / 100)


def test_two_node_model_reaches_its_steady_state_and_hvac_holds_the_setpoint() -> None:
    kw = {"c_air_j_k": 2e6, "c_mass_j_k": 3e7, "h_air_w_k": 150.0, "h_mass_w_k": 60.0, "h_am_w_k": 2000.0}
    ta, tm = 15.0, 15.0
    for _ in range(60 * 144):  # 60 days of 10-min steps, no HVAC (the mass's time constant is ~6 days)
        ta, tm, phi = two_node_step(ta, tm, 5.0, 2000.0, 1000.0, dt_s=600.0, **kw)  # type: ignore[arg-type]
    sa, sm = two_node_steady_state(5.0, 2000.0, 1000.0, 150.0, 60.0, 2000.0)
    assert float(ta) == pytest.approx(float(sa), abs=0.01)
    assert float(tm) == pytest.approx(float(sm), abs=0.01)
    # the steady state balances: losses through both paths equal the gains
    assert 150 * (sa - 5) + 60 * (sm - 5) == pytest.approx(3000.0)
    # heating to 21 degC with enough capacity: exactly at the setpoint after one step
    ta2, _, phi = two_node_step(15.0, 15.0, 5.0, 0.0, 0.0, dt_s=60.0, heat_set_c=21.0, cool_set_c=26.0,
                                heat_cap_w=1e9, cool_cap_w=1e9, **kw)  # type: ignore[arg-type]
    assert float(ta2) == pytest.approx(21.0)
    assert float(phi) > 0
    # with 2 kW only, the heater runs flat out and the air stays below the setpoint
    ta3, _, phi3 = two_node_step(15.0, 15.0, 5.0, 0.0, 0.0, dt_s=60.0, heat_set_c=21.0, heat_cap_w=2000.0,
                                 **kw)  # type: ignore[arg-type]
    assert float(phi3) == pytest.approx(2000.0) and float(ta3) < 21.0
    # cooling a warm room
    ta4, _, phi4 = two_node_step(30.0, 30.0, 30.0, 5000.0, 0.0, dt_s=60.0, heat_set_c=20.0, cool_set_c=26.0,
                                 heat_cap_w=1e9, cool_cap_w=1e9, **kw)  # type: ignore[arg-type]
    assert float(ta4) == pytest.approx(26.0) and float(phi4) < 0


def test_humidity_round_trip_and_moisture_steady_state() -> None:
    w = humidity_ratio(22.0, 45.0)
    assert float(relative_humidity_pct(22.0, w)) == pytest.approx(45.0)
    # saturation: Magnus gives 2.64 kPa at 22 degC (psychrometric tables 2.645 kPa)
    assert float(humidity_ratio(22.0, 100.0)) == pytest.approx(0.622 * 2645 / (101325 - 2645), rel=0.01)


def test_sound_rises_with_talkers() -> None:
    quiet = sound_level_db(30.0, 0.0, 100.0)
    assert float(quiet) == pytest.approx(30.0)
    one = sound_level_db(30.0, 1.0, 100.0)
    ten = sound_level_db(30.0, 10.0, 100.0)
    assert float(quiet) < float(one) < float(ten)
    # far above the background, ten talkers are 10 dB louder than one
    assert float(sound_level_db(-50.0, 10.0, 100.0) - sound_level_db(-50.0, 1.0, 100.0)) == pytest.approx(10.0)


def test_lighting_energy_is_power_density_times_area_times_hours() -> None:
    b = load_building(DATA / "day-small.yaml")
    zp = ZonePhysics(b, PhysicsSpec())
    n = np.zeros(len(zp.index))
    for k in range(24 * 60):
        h = k / 60
        zp.step(k * 60.0, 60.0, people=n, is_open=9 <= h < 21, hvac_on=8 <= h < 21.5)
    # 14 W/m2 (ASHRAE 90.1-2004, library) x 200 m2 x 12 h = 33.6 kWh
    assert zp.energy_wh["lighting"].sum() == pytest.approx(14 * 200 * 12, rel=1e-9)
    # plug loads: 2 W/m2 x 12 h open + 0.5 W/m2 x 12 h closed
    assert zp.energy_wh["plug_loads"].sum() == pytest.approx(200 * (2 * 12 + 0.5 * 12), rel=1e-9)
    assert zp.energy_wh["hvac"].sum() > 0
    # no lift in this building
    assert zp.energy_wh["lifts"].sum() == 0


def test_zone_geometry_finds_exterior_walls_and_roofs() -> None:
    b = load_building(DATA / "day-small.yaml")
    g = zone_geometry(b, PhysicsSpec())
    i = g.zone_ids.index("hall")
    # the hall's outer walls: 5 + 10 + 5 m of outline, 3.5 m high; one storey: roof and ground
    assert g.wall_m2[i] == pytest.approx(20 * 3.5, rel=1e-3)
    assert g.window_m2[i] == pytest.approx(0.4 * 70, rel=1e-3)
    assert g.roof_m2[i] == pytest.approx(50.0) and g.ground_m2[i] == pytest.approx(50.0)


def test_meters_scope_a_floor_when_named_after_it() -> None:
    src = resolve_file(SCENARIOS / "central-library.yaml")
    b = build_building(src, check_reach=False)
    scopes = meter_scopes(b, load_physics(src))
    assert scopes["em-lighting"] is None
    assert scopes["em-lighting-L2"] == "L2"
    assert scopes["em-hvac"] is None


def test_physics_errors_name_file_line_and_field(tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = (DATA / "day-small.yaml").read_text()
    bad = text.replace("  outdoor: {temperature_c: 8, amplitude_c: 4}",
                       "  outdoor: {temperature_c: 8, amplitude_c: 4}\n  zones: {attic: {ventilation_l_s: 10}}")
    f = tmp_path / "bad.yaml"
    f.write_text(bad)
    src = resolve_file(f)
    line = bad.splitlines().index("  zones: {attic: {ventilation_l_s: 10}}") + 1
    with pytest.raises(ScenarioError, match=rf"bad.yaml:{line}: physics.zones.attic: no zone 'attic'"):
        load_physics(src, building=build_building(src))
    bad = text.replace("fixed_l_s_m2: 1.2", "fixed_l_s_m2: -1")
    f.write_text(bad)
    with pytest.raises(ScenarioError, match=r"physics.ventilation.fixed_l_s_m2: Input should be greater"):
        load_physics(resolve_file(f))
    assert math.isclose(load_physics(resolve_file(DATA / "day-small.yaml")).ventilation.fixed_l_s_m2, 1.2)
