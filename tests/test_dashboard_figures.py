"""Dashboard figures as pure functions, on the small test branch and hand-made states."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboard import figures
from twin.state import DeviceHealth, QueueState, ZoneState


def zone(zone_id: str, occupancy: float, capacity: int, std: float = 1.0, co2: float | None = None) -> ZoneState:
    return ZoneState(zone=zone_id, floor="G", kind="reading_room", name=None, area_m2=100.0, capacity=capacity,
                     occupancy=occupancy, occupancy_std=std, sources=("seat_sensors",), co2_ppm=co2)


def health(device: str, status: str) -> DeviceHealth:
    return DeviceHealth(device=device, type="co2", floor="G", zone="reading", period_s=60.0, status=status,  # type: ignore[arg-type]
                        last_seen=None)


def test_colour_scale_ends_middle_and_missing_values() -> None:
    assert figures.occupancy_colour(0.0) == "#2ca25f"
    assert figures.occupancy_colour(-1.0) == "#2ca25f"
    assert figures.occupancy_colour(1.0) == "#d7191c"
    assert figures.occupancy_colour(3.0) == "#d7191c"
    assert figures.occupancy_colour(0.7) == "#fdae61"
    # half way from green (0) to amber (0.7): each channel the mean of the two stops
    mid = figures.occupancy_colour(0.35)
    assert mid == "#" + "".join(f"{round((a + b) / 2):02x}" for a, b in [(0x2c, 0xfd), (0xa2, 0xae), (0x5f, 0x61)])
    assert figures.occupancy_colour(None) == figures.NO_DATA
    assert figures.occupancy_colour(float("nan")) == figures.NO_DATA


def test_floor_plan_colours_a_known_zone_and_shows_uncertainty(building) -> None:  # type: ignore[no-untyped-def]
    zones = [zone("reading", 26.0, 26, std=2.5, co2=1210.0)]  # full: red; the hall has no state: grey
    fig = figures.floor_plan(building, "G", zones, [health("co2-reading", "offline"), health("door-counter", "online")],
                             seats={"win-1": True, "win-2": False})
    by_name = {t.name: t for t in fig.data}
    assert by_name["reading"].fillcolor == "#d7191c"
    assert "26.0 ± 2.5 of 26 (100%)" in by_name["reading"].text and "CO2 1210 ppm" in by_name["reading"].text
    assert by_name["hall"].fillcolor == figures.NO_DATA and "no data" in by_name["hall"].text
    # the reading room polygon as drawn: a closed ring of its 4 corners
    assert {(x, y) for x, y in zip(by_name["reading"].x, by_name["reading"].y, strict=True)} == {
        (5.0, 0.0), (20.0, 0.0), (20.0, 10.0), (5.0, 10.0)}
    assert list(by_name["seats occupied"].text) == ["win-1"]
    assert list(by_name["seats free"].text) == ["win-2"]
    assert len(by_name["seats unknown"].x) == building.seat_count - 2
    assert by_name["devices offline"].marker.color == figures.HEALTH_COLOURS["offline"]
    assert by_name["devices online"].marker.color == figures.HEALTH_COLOURS["online"]


def test_zone_updates_address_the_zone_traces_of_the_plan(building) -> None:  # type: ignore[no-untyped-def]
    zones = [zone("hall", 0.0, 10), zone("reading", 13.0, 26)]
    fig = figures.floor_plan(building, "G", zones, [])
    later = [zone("hall", 10.0, 10), zone("reading", 0.0, 26)]
    updates = figures.floor_plan_zone_updates(building, "G", later)
    assert [fig.data[i].name for i, _, _ in updates] == ["hall", "reading"]
    assert [c for _, c, _ in updates] == ["#d7191c", "#2ca25f"]


def test_day_profile_puts_today_and_yesterday_on_one_clock_with_the_busiest_band() -> None:
    midnight = 1_790_000_000.0 - 1_790_000_000.0 % 86_400.0
    today = pd.DataFrame({"time": [midnight + 3600.0, midnight + 7200.0], "value": [1.0, 2.0]})
    yday = pd.DataFrame({"time": [midnight - 86_400.0 + 3600.0], "value": [5.0]})
    busiest = pd.DataFrame({"hour": [9, 10], "days": [4, 4], "p10": [1.0, 3.0], "median": [2.0, 5.0],
                            "p90": [4.0, 8.0]})
    fig = figures.day_profile(today, yday, title="t", unit="persons", busiest=busiest, busiest_label="usual",
                              day_start=midnight)
    assert [t.name for t in fig.data] == ["usual (10-90 %)", "usual (median)", "yesterday", "today"]
    assert fig.data[figures.DAY_TODAY_TRACE].name == "today"
    assert list(fig.data[3].x) == [1.0, 2.0] and list(fig.data[2].x) == [1.0]
    # the band: p90 along the hours' middles, back along p10
    assert list(fig.data[0].x) == [9.5, 10.5, 10.5, 9.5] and list(fig.data[0].y) == [4.0, 8.0, 3.0, 1.0]
    assert list(fig.data[1].y) == [2.0, 5.0]
    later = figures.today_xy(pd.DataFrame({"time": [midnight + 1800.0], "value": [7.0]}), midnight)
    assert later["x"].tolist() == [0.5] and later["y"].tolist() == [7.0]
    bare = figures.day_profile(today, yday.iloc[:0], title="t", unit="persons", day_start=midnight)
    assert len(bare.data) == 4 and len(bare.data[0].x) == 0 and len(bare.data[2].x) == 0


def test_building_3d_colours_each_zone_and_toggles_floors(building) -> None:  # type: ignore[no-untyped-def]
    fig = figures.building_3d(building, {"reading": 1.0})
    meshes = {t.name: t for t in fig.data}
    assert set(meshes) == {"G slab", "G zones"}
    zones = meshes["G zones"]
    texts = list(zones.hovertext)
    colour = {}
    for a, b, c, fc in zip(zones.i, zones.j, zones.k, zones.facecolor, strict=True):
        names = {texts[v].split(" ")[0] for v in (a, b, c)}
        assert len(names) == 1  # a face belongs to one zone
        colour.setdefault(names.pop(), set()).add(fc)
    assert colour == {"reading": {"#d7191c"}, "hall": {figures.NO_DATA}}
    z = [zz for zz, t in zip(zones.z, texts, strict=True) if t.startswith("reading")]
    assert min(z) == pytest.approx(0.0) and max(z) == pytest.approx(1.0)
    assert "no data" in next(t for t in texts if t.startswith("hall"))
    assert len(figures.building_3d(building, {}, floors=[]).data) == 0


def test_kpi_table_gives_differences_to_the_first_run() -> None:
    rows = figures.kpi_table({"base": {"visits": 100, "energy_kwh": 50.0}, "more seats": {"visits": 120,
                                                                                           "energy_kwh": 45.5}})
    assert rows[0] == {"kpi": "visits", "base": "100", "more seats": "120", "more seats − base": "+20"}
    assert rows[1]["more seats − base"] == "-4.5"


def test_other_figures_on_small_inputs() -> None:
    q = figures.queue_bars([QueueState(device="desk", zone=None, length=7.0, time=0.0, target=5.0),
                            QueueState(device="kiosk", zone=None, length=1.0, time=0.0, target=5.0)])
    assert list(q.data[0].y) == [7.0, 1.0] and list(q.data[0].marker.color) == ["#c0392b", "#2980b9"]
    ev = figures.evacuation_bars({"base": {"G": 60.0, "L1": 90.0}, "variant": {"G": 50.0, "L1": 95.0}})
    assert [t.name for t in ev.data] == ["base", "variant"] and list(ev.data[1].y) == [50.0, 95.0]
    br = figures.branch_bars(pd.DataFrame({"branch": ["a", "b"], "visits": [10.0, 30.0]}), "visits")
    assert list(br.data[0].x) == ["b", "a"]
    dev = figures.device_status_bars([health("a", "online"), health("b", "offline"), health("c", "online")])
    assert {t.name: list(t.y) for t in dev.data} == {"online": [2], "offline": [1]}


def test_wait_bars_group_runs_by_service_with_the_p90_marked() -> None:
    from simulation.day.kpis import WaitStats

    def w(mean_s: float, p90_s: float) -> WaitStats:
        return WaitStats(served=10, mean_s=mean_s, p90_s=p90_s, share_over_target=0.1, gave_up=1)

    fig = figures.wait_bars({"base": {"kiosk-1": w(20.0, 50.0), "desk-G": w(120.0, 300.0)},
                             "more staff": {"desk-G": w(60.0, 150.0)}})
    bars = [t for t in fig.data if t.type == "bar"]
    marks = [t for t in fig.data if t.type == "scatter"]
    assert [b.name for b in bars] == ["base", "more staff"]
    assert list(bars[0].x) == ["desk-G", "kiosk-1"] and list(bars[0].y) == [120.0, 20.0]
    assert list(marks[0].y) == [300.0, 50.0] and list(bars[1].y) == [60.0] and list(marks[1].y) == [150.0]
    assert "gave up 1" in bars[1].hovertext[0]
