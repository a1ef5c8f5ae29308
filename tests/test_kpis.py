"""KPI functions on small hand-made tables, with hand-computed answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from simulation.day.kpis import (
    co2_hours_above,
    energy_kwh,
    flat,
    littles_law,
    seat_occupancy_rate,
    staff_utilisation,
    time_mean,
    turned_away,
    visits,
    waits,
    walking_m_per_visit,
    zone_occupancy,
)


def _events(rows: list[tuple[float, str, int, int, str, float]]) -> pd.DataFrame:
    """Rows of (t_s, event, reader, size, ref, value)."""
    return pd.DataFrame([{"t_s": t, "event": e, "reader": r, "party": r, "visitor_type": "studier", "size": n,
                          "floor_id": "G", "zone_id": "z", "ref": ref, "value": v} for t, e, r, n, ref, v in rows])


def test_littles_law_terms_by_hand() -> None:
    # reader 1 in 0-20 s, reader 2 in 10-30 s, observed over 0-40 s
    ev = _events([(0, "arrive", 1, 1, "", math.nan), (10, "arrive", 2, 1, "", math.nan),
                  (20, "leave", 1, 1, "", math.nan), (30, "leave", 2, 1, "", math.nan)])
    terms = littles_law(ev, 0.0, 40.0)
    assert visits(ev) == 2
    assert terms["arrival_rate_per_s"] == pytest.approx(2 / 40)
    assert terms["mean_stay_s"] == pytest.approx(20.0)
    assert terms["lambda_w"] == pytest.approx(1.0)
    assert terms["mean_in_building"] == pytest.approx((1 * 10 + 2 * 10 + 1 * 10) / 40)
    assert time_mean(np.array([5.0]), np.array([3]), 0.0, 10.0, start=1.0) == pytest.approx((5 + 15) / 10)


def test_seat_occupancy_rate_is_held_seat_time_over_open_seat_time() -> None:
    # two seats open 0-100 s: one taken 0-50, the other 25-100 (and 150-200, after closing)
    ev = _events([(0, "seat_take", 1, 1, "a", math.nan), (25, "seat_take", 2, 1, "b", math.nan),
                  (50, "seat_leave", 1, 1, "a", math.nan), (100, "seat_leave", 2, 1, "b", math.nan),
                  (150, "seat_take", 3, 1, "a", math.nan), (200, "seat_leave", 3, 1, "a", math.nan)])
    assert seat_occupancy_rate(ev, 2, [(0.0, 100.0)]) == pytest.approx((50 + 75) / 200)
    # two opening periods, the second with seat a taken throughout
    assert seat_occupancy_rate(ev, 2, [(0.0, 100.0), (150.0, 200.0)]) == pytest.approx((125 + 50) / 300)


def test_waits_per_service() -> None:
    ev = _events([(1, "service_start", 1, 1, "desk", 0.0), (2, "service_start", 2, 1, "desk", 10.0),
                  (3, "service_start", 3, 1, "desk", 400.0), (4, "service_reneged", 4, 1, "desk", 0.0),
                  (5, "service_reneged", 5, 1, "kiosk", 0.0)])
    w = waits(ev, target_s=300.0)
    assert w["desk"]["served"] == 3 and w["desk"]["gave_up"] == 1
    assert w["desk"]["mean_s"] == pytest.approx(410 / 3)
    assert w["desk"]["p90_s"] == pytest.approx(np.percentile([0, 10, 400], 90))
    assert w["desk"]["share_over_target"] == pytest.approx(1 / 3)
    assert w["kiosk"]["served"] == 0 and w["kiosk"]["gave_up"] == 1


def test_staff_utilisation_is_service_time_over_staffed_time() -> None:
    ev = _events([(0, "positions", -1, 0, "desk", 2.0), (100, "positions", -1, 0, "desk", 1.0),
                  (200, "positions", -1, 0, "desk", 0.0), (50, "service_end", 1, 1, "desk", 60.0),
                  (150, "service_end", 2, 1, "desk", 90.0)])
    # staffed: 2 x 100 + 1 x 100 = 300 position-seconds; busy 150 s
    assert staff_utilisation(ev, 1000.0) == {"desk": pytest.approx(0.5)}


def test_turned_away_and_walking_count_each_member() -> None:
    ev = _events([(0, "arrive", 1, 1, "", math.nan), (0, "arrive", 2, 1, "", math.nan),
                  (0, "arrive", 3, 1, "", math.nan), (1, "walk", 1, 2, "x", 10.0), (2, "walk", 3, 1, "y", 5.0),
                  (3, "turned_away", 1, 2, "", 300.0)])
    assert turned_away(ev) == 2
    assert walking_m_per_visit(ev) == pytest.approx((2 * 10 + 5) / 3)


def test_zone_tables_co2_hours_and_energy() -> None:
    t = np.arange(0, 7200, 60.0)
    zones = pd.DataFrame({"t_s": np.repeat(t, 2), "zone_id": np.tile(["a", "b"], t.size),
                          "is_open": np.repeat(t < 3600, 2),
                          "occupancy": np.tile([10.0, 2.0], t.size) * np.repeat(1 + (t < 1800), 2),
                          "co2_ppm": np.tile([900.0, 1200.0], t.size) + np.repeat(np.where(t < 1800, 200.0, 0.0), 2)})
    hours = co2_hours_above(zones, 1000.0)
    assert hours == {"a": pytest.approx(0.5), "b": pytest.approx(2.0)}
    occ = zone_occupancy(zones)
    assert occ.loc["a", "peak"] == 20 and occ.loc["a", "mean"] == pytest.approx(15.0)
    energy = pd.DataFrame({"t_s": [0.0, 60.0], "dt_s": [60.0, 60.0], "lighting_w": [3600.0, 3600.0],
                           "plug_loads_w": [0.0, 600.0], "hvac_w": [0.0, 0.0], "kiosks_w": [0.0, 0.0],
                           "lifts_w": [0.0, 0.0]})
    kwh = energy_kwh(energy)
    assert kwh["lighting"] == pytest.approx(0.12) and kwh["plug_loads"] == pytest.approx(0.01)


def test_flat_keys() -> None:
    assert flat({"a": 1, "b": {"c": 2.5, "d": {"e": 3}}, "s": "x", "t": True}) == {"a": 1.0, "b.c": 2.5, "b.d.e": 3.0}
