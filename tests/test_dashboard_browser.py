"""The dashboard in real headless Chromium (Playwright driving Debian's /usr/bin/chromium).

A hub runs in this process: a private Mosquitto, the hub (ingest into DuckDB and the branch
twins), the Dash app on a free port. The store holds a simulated day of the service point
(yesterday and today so far); new telemetry arrives over MQTT during the tests. Screenshots of
each page are saved in a folder this module prints.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from conftest import SCENARIOS, require, screenshots_dir

from telemetry import IngestConfig, open_store, replay
from telemetry.broker import Mosquitto, find_mosquitto

pytestmark = [pytest.mark.browser, pytest.mark.broker, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
BRANCH = "service-point"
SCENARIO = SCENARIOS / f"{BRANCH}.yaml"
PAGES = {"live": "/", "building": "/building", "scenarios": "/scenarios", "branches": "/branches",
         "devices": "/devices"}


class RunningHub:
    def __init__(self, url: str, broker: Mosquitto, store_url: str, later: pa.Table, results: Path) -> None:
        self.url = url
        self.broker = broker
        self.store_url = store_url
        self.later = later
        self.results = results


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = screenshots_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):  # this run's pictures only
        old.unlink()
    print(f"\nscreenshots of the dashboard pages: {folder}")
    return folder


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    require(find_mosquitto() is not None, "Mosquitto (/usr/sbin/mosquitto)")
    require(os.access(CHROMIUM, os.X_OK), f"Chromium ({CHROMIUM})")
    from dashboard.app import create_app
    from dashboard.data import HubData
    from geometry import build_building, resolve_file
    from simulation.day.library_day import run_day
    from twin.hub import Hub
    from twin.live_demo import as_day_before, local_midnight, onto_today, serve, split_at
    from twin.registry import TwinRegistry

    tmp = tmp_path_factory.mktemp("hub")
    src = resolve_file(SCENARIO)
    day = run_day(build_building(src), src, seed=3)
    tz = src.scenario.branch.timezone
    now = time.time()
    moved = onto_today(day.telemetry if isinstance(day.telemetry, pa.Table) else pa.Table.from_pandas(
        day.telemetry, preserve_index=False), local_midnight(now, tz), tz)
    before, later = split_at(moved, now - 600.0)
    store_path = tmp / "hub.duckdb"
    with open_store(str(store_path)) as s:
        s.write_readings(pa.concat_tables([as_day_before(moved), before]))
    broker = Mosquitto(workdir=tmp / "mosquitto", persistence=False).start()
    registry = TwinRegistry.from_dir(SCENARIO)
    hub = Hub(registry=registry, store_url=str(store_path), broker=broker.settings,
              ingest_config=IngestConfig(client_id="browser-hub"))
    hub.start()
    results = tmp / "results"
    day.write(results / "service-point-seed3")  # a saved result for the Scenarios page
    data = HubData(registry=registry, store_url=str(store_path), results_dir=results)
    server, _ = serve(create_app(data, cache_dir=tmp / "cache"), "127.0.0.1", 0)  # any free port
    port = server.server_port
    # the last ten minutes arrive over MQTT, as the devices would send them
    recent = before.filter(pc.greater_equal(before.column("time"), now - 600.0))
    replay(recent if recent.num_rows else before.slice(before.num_rows - 50), broker.settings, speed=0,
           keep_times=True, client_prefix="recent-")
    try:
        yield RunningHub(f"http://127.0.0.1:{port}", broker, str(store_path), later, results)
    finally:
        server.shutdown()
        hub.stop()
        broker.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    pg.set_default_timeout(60_000)
    try:
        yield pg
    finally:
        ctx.close()


GRAPHS_READY = """() => {
  const plots = [...document.querySelectorAll('.js-plotly-plot')];
  if (!plots.length || document.querySelector('[data-dash-is-loading="true"]')) return false;
  const n = a => (a && a.length) || 0;  // plotly.js decodes the figure's arrays into _fullData
  return plots.every(p => Array.isArray(p._fullData) && p._fullData.some(t =>
      n(t.x) + n(t.y) + n(t.z) + n(t.i) > 0));
}"""


def open_page(page: Any, hub: RunningHub, path: str) -> None:
    page.goto(hub.url + path)
    page.wait_for_selector(".js-plotly-plot .main-svg")  # dcc.Graph loads lazily
    page.wait_for_function(GRAPHS_READY, timeout=60_000)


def assert_no_errors(page: Any) -> None:
    assert page.locator(".dash-fe-error__title").count() == 0
    assert page.locator(".dash-error-card").count() == 0


def plot_data(page: Any, graph_id: str) -> list[dict[str, Any]]:
    return page.evaluate(f"() => document.querySelector('#{graph_id} .js-plotly-plot')._fullData.map("
                         "t => ({name: t.name, fillcolor: t.fillcolor, text: t.text, n: (t.x || []).length}))")


def test_every_page_loads_with_real_numbers(hub: RunningHub, page: Any, shots: Path) -> None:
    for name, path in PAGES.items():
        try:
            open_page(page, hub, path)
        except Exception as exc:
            page.screenshot(path=str(shots / f"{name}-failed.png"), full_page=True)
            raise AssertionError(f"page {path}: graphs did not all get data ({exc})") from None
        assert_no_errors(page)
        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    open_page(page, hub, "/")
    summary = page.locator("#live-summary").inner_text()
    assert "persons of" in summary and " 0 readings applied" not in summary
    zones = {t["name"]: t for t in plot_data(page, "live-plan")}
    assert {"lobby", "reading"} <= set(zones)
    assert "occupancy" in zones["reading"]["text"]
    # the busiest-times band behind today's occupancy: twin.busiest over the stored days before today
    occupancy = plot_data(page, "live-occupancy")
    band, median = occupancy[0], occupancy[1]
    assert band["name"].startswith("usual ") and "(10-90 %)" in band["name"]
    assert band["n"] >= 2 * 6 and median["n"] >= 6  # yesterday's opening hours, there and back
    assert [t["name"] for t in occupancy][2:] == ["yesterday", "today"]
    from dashboard.data import HubData
    from twin.busiest import BUILDING, sensor_busiest
    from twin.registry import TwinRegistry

    data = HubData(registry=TwinRegistry.from_dir(SCENARIO), store_url=hub.store_url, results_dir=hub.results)
    today = dt.datetime.now(ZoneInfo(data.timezone(BRANCH))).date()
    with data.store() as s:  # the store holds yesterday only: by its day type if today's is the same, else any day
        same = data.day_type(BRANCH) == data.day_type_of(BRANCH, today - dt.timedelta(days=1))
        want = sensor_busiest(s, data.resolved(BRANCH), data.building(BRANCH), today=today,
                              day_type_of=None if same else lambda d: "day")
    data.close()
    rows = want.day(data.day_type(BRANCH) if same else "day", BUILDING)
    assert len(rows) >= 6
    drawn = page.evaluate("() => Array.from(document.querySelector('#live-occupancy .js-plotly-plot')"
                          "._fullData[1].y)")
    assert drawn == pytest.approx(rows["median"].tolist())
    open_page(page, hub, "/devices")
    assert page.locator("#dev-table td").count() > 10
    devices = page.locator("#dev-table").inner_text()
    assert "pc-gate" in devices and ("online" in devices or "offline" in devices)
    open_page(page, hub, "/branches")
    assert BRANCH in page.locator("#br-table").inner_text()


def test_live_page_changes_after_new_telemetry(hub: RunningHub, page: Any) -> None:
    open_page(page, hub, "/")
    before = page.locator("#live-summary").inner_text()
    reading_before = {t["name"]: t for t in plot_data(page, "live-plan")}["reading"]["text"]
    # the reading room fills up: 30 persons, as its occupancy sensor reports now
    now = time.time()
    table = pa.table({"branch": [BRANCH], "device": ["occ-reading"], "quantity": ["occupancy"], "unit": ["count"],
                      "time": [now], "value": [30.0], "bool_value": pa.array([None], pa.bool_()),
                      "string_value": pa.array([None], pa.string())})
    replay(table.cast(hub.later.schema), hub.broker.settings, speed=0, keep_times=True, client_prefix="late-")
    page.wait_for_function(
        "before => { const p = document.querySelector('#live-plan .js-plotly-plot');"
        " const z = p && p._fullData.find(t => t.name === 'reading'); return z && z.text !== before; }",
        arg=reading_before, timeout=60_000)
    after = page.locator("#live-summary").inner_text()
    assert after != before
    reading_after = {t["name"]: t for t in plot_data(page, "live-plan")}["reading"]
    occupancy = float(reading_after["text"].split("occupancy ")[1].split(" ")[0])
    assert occupancy > float(reading_before.split("occupancy ")[1].split(" ")[0])
    from dashboard.figures import occupancy_colour

    capacity = float(reading_after["text"].split(" of ")[1].split(" ")[0])
    want = occupancy_colour(occupancy / capacity)  # up to the rounding of the occupancy shown to 0.1
    got = reading_after["fillcolor"]
    assert all(abs(int(got[i:i + 2], 16) - int(want[i:i + 2], 16)) <= 3 for i in (1, 3, 5)), (got, want)


def test_a_small_scenario_runs_from_the_scenarios_page(hub: RunningHub, page: Any, shots: Path) -> None:
    page.goto(hub.url + "/scenarios")
    page.wait_for_selector("#sc-run")
    page.wait_for_function("() => document.querySelector('#sc-variant') && "
                           "document.querySelector('#sc-variant').innerText.includes('(base)')")
    page.click("#sc-run")
    page.wait_for_function("() => document.querySelector('#sc-status').innerText.startsWith('saved')",
                           timeout=240_000)
    saved = page.locator("#sc-status").inner_text().removeprefix("saved ").strip()
    assert (hub.results / saved / "kpis.json").is_file()
    assert (hub.results / saved / "evacuation" / "summary.json").is_file()
    page.wait_for_function(GRAPHS_READY)
    table = page.locator("#sc-kpis").inner_text()
    assert "visits" in table and "seat_occupancy_rate" in table
    evac = plot_data(page, "sc-evac")
    assert evac and evac[0]["n"] >= 1
    # waits per service of each chosen run: the new run's desk and kiosks, mean bars and p90 marks
    waits = plot_data(page, "sc-waits")
    assert len(waits) == 4 and all(t["n"] >= 1 for t in waits)  # two runs, a bar and a mark trace each
    kpis = json.loads((hub.results / saved / "kpis.json").read_text(encoding="utf-8"))["kpis"]["waits"]
    bars = page.evaluate("() => { const t = document.querySelector('#sc-waits .js-plotly-plot')._fullData[0];"
                         " return {x: Array.from(t.x), y: Array.from(t.y)}; }")
    assert bars["y"] == pytest.approx([kpis[s]["mean_s"] for s in bars["x"]])
    assert_no_errors(page)
    # the comparison on the page, exported as one HTML file beside the results
    page.click("#sc-export")
    page.wait_for_function("() => document.querySelector('#sc-export-status').innerText.startsWith('report written')")
    report = Path(page.locator("#sc-export-status").inner_text().removeprefix("report written:").strip())
    assert report.parent == hub.results and report.is_file()
    text = report.read_text(encoding="utf-8")
    assert saved in text and "<td>visits</td>" in text and "Plotly" in text
    # a what-if from the live state now, half an hour ahead
    page.fill("#wi-hours", "0.5")
    page.click("#wi-run")
    page.wait_for_function("() => document.querySelector('#wi-status').innerText.includes('replications from')",
                           timeout=240_000)
    forecast = page.locator("#wi-table").inner_text()
    assert "as is" in forecast and "±" in forecast
    assert_no_errors(page)
    page.screenshot(path=str(shots / "scenarios-after-run.png"), full_page=True)
