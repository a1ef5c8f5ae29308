"""Dashboard speed on a month of history: time to first render per page, and callback latency.

The store (DuckDB) holds ``--days`` days (default 30) of minute data for the three built-in
branches (the synthetic source: every device at its period). The app is served as ``smartlib
dashboard`` serves it. Then:

1. Time to first render of each page in headless Chromium: from navigation until every graph on
   the page has its data (a fresh browser context each time, the median of ``--repeat`` loads).
2. Latency of each data callback, as the browser would call it (POST /_dash-update-component with
   the callback's real inputs), median and max of ``--repeat`` calls.

Targets (issue): every page under 2 s and every callback under 300 ms; goals 1 s and 100 ms.
Numbers depend on the machine and its load; nothing here is asserted.

    .venv/bin/python bench/dashboard.py [--days 30] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
TIMEOUT_S = 180.0
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
PAGES = {"Live": "/", "Building": "/building", "Scenarios": "/scenarios", "Branches": "/branches",
         "Devices": "/devices"}
READY = """() => {
  const plots = [...document.querySelectorAll('.js-plotly-plot')];
  if (document.querySelector('[data-dash-is-loading="true"]')) return false;
  // the Scenarios page has graphs only once results are chosen: its form and table stand for them
  if (!plots.length) return !!document.querySelector('#sc-run') && !!document.querySelector('#sc-kpis');
  const n = a => (a && a.length) || 0;
  return plots.every(p => Array.isArray(p._fullData) && p._fullData.some(t => n(t.x) + n(t.y) + n(t.z) + n(t.i) > 0));
}"""


def fill_store(path: Path, days: float) -> int:
    """Write ``days`` days of synthetic minute data of the built-ins, ending now, a day per batch."""
    from rich.progress import Progress

    from telemetry import load_registry, open_store, synthetic_telemetry

    reg = load_registry(ROOT / "scenarios")
    end = time.time()
    rows = 0
    with open_store(str(path)) as store, Progress() as bar:
        task = bar.add_task("filling the store", total=days)
        d = 0.0
        while d < days:
            hours = min(24.0, (days - d) * 24.0)
            t = synthetic_telemetry(reg, start=end - (days - d) * 86_400.0, hours=hours, seed=int(d))
            store.write_readings(t)
            rows += t.num_rows
            d += hours / 24.0
            bar.update(task, completed=d)
    return rows


def callback_bodies(base: str, values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Request bodies of the app's data callbacks, built from /_dash-dependencies and the given input values."""
    import requests

    deps = requests.get(base + "/_dash-dependencies", timeout=30).json()
    bodies = {}
    for dep in deps:
        ins = dep["inputs"]
        if not ins or any(f"{i['id']}.{i['property']}" not in values for i in ins):
            continue
        outs = dep["output"].strip(".").split("...")
        outputs = [{"id": o.split(".")[0], "property": o.split(".")[1]} for o in outs]
        body = {"output": dep["output"], "outputs": outputs if len(outputs) > 1 else outputs[0],
                "inputs": [{**i, "value": values[f"{i['id']}.{i['property']}"]} for i in ins],
                "state": [{**s, "value": values.get(f"{s['id']}.{s['property']}")} for s in dep["state"]],
                "changedPropIds": [f"{ins[0]['id']}.{ins[0]['property']}"]}
        bodies[" + ".join(outs)] = body
    return bodies


def _seconds(x: float) -> str:
    return f"> {TIMEOUT_S:.0f}" if x == float("inf") else f"{x:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=float, default=30.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--store", type=Path, default=None, help="reuse this DuckDB file (filled when missing)")
    args = ap.parse_args()

    import requests
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright
    from rich.console import Console
    from rich.table import Table

    from dashboard.app import create_app
    from dashboard.data import HubData
    from twin.hub import Hub, HubConfig
    from twin.live_demo import serve
    from twin.registry import TwinRegistry

    con = Console(width=max(Console().width, 150))
    tmp = Path(tempfile.mkdtemp(prefix="smartlib-bench-dash-"))
    store = args.store or tmp / "month.duckdb"
    if not store.exists():
        t = time.perf_counter()
        rows = fill_store(store, args.days)
        con.print(f"store: {rows:,} readings of {args.days:g} days, 3 branches, written in "
                  f"{time.perf_counter() - t:.0f} s ({store})", highlight=False)
    registry = TwinRegistry.from_dir(ROOT / "scenarios")
    hub = Hub(registry=registry, store_url=str(store), broker=None,
              config=HubConfig(follow=True, publish_alerts=False))
    t = time.perf_counter()
    hub.start()  # rebuilds the twins from the last day of the store
    con.print(f"hub started (twins rebuilt from the store) in {time.perf_counter() - t:.1f} s", highlight=False)
    data = HubData(registry=registry, store_url=str(store), results_dir=tmp / "results")
    server, _ = serve(create_app(data, cache_dir=tmp / "cache"), "127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.server_port}"
    con.print("load average (1, 5, 15 min) at start: {:.2f}, {:.2f}, {:.2f}".format(*os.getloadavg()),
              highlight=False)
    try:
        pages = Table(title=f"time to first render, {args.days:g} days x 3 branches (median of {args.repeat}); "
                            f"new visitor: a fresh browser profile (nothing cached, plotly.js compiled anew); "
                            f"returning: the same page opened again in that profile")
        for col in ("page", "new visitor s", "max s", "returning s", "max s ", "target s", "ratio (new)",
                    "ratio (returning)"):
            pages.add_column(col, justify="left" if col == "page" else "right")

        def load(page: Any, url: str) -> float:
            t = time.perf_counter()
            page.goto(url)
            try:
                page.wait_for_function(READY, timeout=TIMEOUT_S * 1000)
            except PlaywrightTimeout:
                return float("inf")
            return time.perf_counter() - t

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for name, path in PAGES.items():
                cold, warm = [], []
                for _ in range(args.repeat):
                    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
                    page = ctx.new_page()
                    cold.append(load(page, base + path))
                    page.goto("about:blank")
                    warm.append(load(page, base + path))
                    ctx.close()
                c, w = statistics.median(cold), statistics.median(warm)
                pages.add_row(name, _seconds(c), _seconds(max(cold)), _seconds(w), _seconds(max(warm)), "2.0",
                              f"{c / 2.0:.2f}", f"{w / 2.0:.2f}")
            browser.close()
        con.print(pages)
        branch = "central-library"
        values = {"live-branch.value": branch, "live-floor.value": data.building(branch).floors[0].id,
                  "live-tick.n_intervals": 1, "b3d-branch.value": branch, "b3d-metric.value": "occupancy",
                  "b3d-floors.value": [f.id for f in data.building(branch).floors], "br-period.value": "last 30 days",
                  "br-indicator.value": "visits", "dev-branch.value": branch,
                  "dev-status.value": ["online", "flagged", "offline", "unknown"], "dev-reason.value": None,
                  "sc-branch.value": branch, "sc-runs.value": []}
        calls = Table(title=f"callback latency (POST /_dash-update-component, median of {args.repeat})")
        for col in ("callback outputs", "median ms", "max ms", "target ms", "ratio to target"):
            calls.add_column(col, justify="left" if col == "callback outputs" else "right")
        for name, body in sorted(callback_bodies(base, values).items()):
            times = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                r = requests.post(base + "/_dash-update-component", json=body, timeout=120)
                times.append((time.perf_counter() - t) * 1000.0)
                if r.status_code not in (200, 204):
                    raise SystemExit(f"callback {name} answered {r.status_code}: {r.text[:300]}")
            med = statistics.median(times)
            calls.add_row(name[:70], f"{med:.0f}", f"{max(times):.0f}", "300", f"{med / 300.0:.2f}")
        con.print(calls)
        con.print("load average (1, 5, 15 min) at end: {:.2f}, {:.2f}, {:.2f}".format(*os.getloadavg()),
                  highlight=False)
    finally:
        server.shutdown()
        hub.stop()


if __name__ == "__main__":
    main()
