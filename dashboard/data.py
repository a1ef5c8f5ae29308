"""What the dashboard reads: buildings, live branch states, stored series, dead letters and saved results.

One :class:`HubData` per app, built from the hub's twins, a store URL and a results folder.
Callbacks ask it; it asks the twins (buildings, live states), the store (history, dead letters)
and the result files.
The store connection is opened once and shared by Dash's threads under a lock (a DuckDB
connection is not used by two threads at once); it is reopened after an error.
What does not change while the app runs is kept: each branch's resolved scenario, yesterday's
series, the busiest times of the past weeks (per local day) and the indicators of past periods.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    import datetime as dt

    from geometry import Building, ResolvedScenario, ScenarioSource
    from telemetry.store import Store
    from twin.busiest import BusiestTimes
    from twin.evaluate import Evaluation
    from twin.registry import TwinRegistry
    from twin.state import BranchState
    from twin.whatif import WhatIfResult

#: Quantities shown on the Live page against yesterday: store quantity -> (title, unit, aggregate over devices).
DAY_QUANTITIES: dict[str, tuple[str, str, str]] = {
    "occupancy": ("occupancy (occupancy sensors)", "persons", "sum"),
    "co2": ("CO2 (mean of sensors)", "ppm", "mean"),
    "temperature": ("temperature (mean of sensors)", "°C", "mean"),
    "power": ("power (all meters)", "W", "sum"),
}

#: How long an evaluation of a period that includes today is reused [s].
EVALUATION_TTL_S = 60.0
#: Past local days the Live page's busiest-times band is computed over.
BUSIEST_DAYS = 28
#: The one day type of busiest times over all days (when the past weeks hold no day of today's type).
ANY_DAY = "day"
#: Width of the buckets of the Live page's day curves [s].
DAY_BUCKET_S = 300.0


@dataclass(frozen=True)
class SavedRun:
    """One saved simulation result folder (``smartlib simulate --out``): its label and KPIs."""

    label: str
    path: Path
    kpis: dict[str, Any]
    meta: dict[str, Any]


@dataclass
class HubData:
    """The dashboard's view of the hub.

    Parameters
    ----------
    registry
        The branches' live twins (fed by a :class:`twin.hub.Hub`): buildings and live states.
    store_url
        Telemetry store (``duckdb:///...`` or ``postgresql://...``): history and dead letters.
    results_dir
        Folder with saved simulation results (one sub-folder each, holding ``kpis.json``); new
        runs from the Scenarios page go here too.
    clock
        Current time [UTC epoch s] (the demo's accelerated clock, or ``time.time``).
    """

    registry: TwinRegistry
    store_url: str
    results_dir: Path
    clock: Callable[[], float] = time.time
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _scenario_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _scenarios: dict[str, ScenarioSource] = field(default_factory=dict, repr=False)
    _resolved: dict[str, ResolvedScenario] = field(default_factory=dict, repr=False)
    _evaluations: dict[str, tuple[float, Evaluation]] = field(default_factory=dict, repr=False)
    _store: Store | None = field(default=None, repr=False)
    _past: dict[tuple[str, ...], Any] = field(default_factory=dict, repr=False)

    @property
    def sources(self) -> dict[str, Path]:
        """Branch id -> scenario file."""
        return {b: Path(self.registry.branch(b).inputs.source) for b in self.registry.branches}

    def branches(self) -> list[str]:
        return self.registry.branches

    def building(self, branch: str) -> Building:
        """The branch's building (as its twin has it)."""
        return self.registry.branch(branch).building

    def variants(self, branch: str) -> list[str]:
        """The variant names of the branch's scenario."""
        return list(self.resolved(branch).scenario.variants)

    def _scenario(self, branch: str) -> ScenarioSource:
        from geometry import load_scenario  # the file as written, with its variants

        with self._scenario_lock:
            if branch not in self._scenarios:
                self._scenarios[branch] = load_scenario(self.sources[branch])
            return self._scenarios[branch]

    def resolved(self, branch: str) -> ResolvedScenario:
        """The branch's scenario as the twin runs it (no variant): the twin's own, else read once."""
        from geometry import apply_variant

        kept = self.registry.branch(branch).inputs.resolved
        if kept is not None:
            return kept
        src = self._scenario(branch)
        with self._scenario_lock:
            if branch not in self._resolved:
                self._resolved[branch] = apply_variant(src)
            return self._resolved[branch]

    @contextmanager
    def store(self) -> Iterator[Store]:
        """The app's store connection, for one request at a time (opened on first use, reopened after an error)."""
        from telemetry.store import open_store

        with self._lock:
            if self._store is None:
                self._store = open_store(self.store_url)
            try:
                yield self._store
            except Exception:
                self._store.close()
                self._store = None
                raise

    def close(self) -> None:
        """Close the store connection (the next request opens it again)."""
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def state(self, branch: str) -> BranchState:
        """The live state of a branch now (the hub's twin, at the dashboard's clock)."""
        return self.registry.state(branch, self.clock())

    @staticmethod
    def seats(building: Building, state: BranchState) -> dict[str, bool]:
        """Seat id -> occupied, from the latest reading of each seat sensor (in the twin's state)."""
        seat_of = {d.id: d.seat_id for d in building.devices if d.seat_id}
        return {seat_of[v.device]: bool(v.value) for v in state.latest
                if v.quantity == "seat_occupied" and v.device in seat_of}

    def timezone(self, branch: str) -> str:
        """The branch's time zone (IANA name)."""
        return str(self.registry.branch(branch).inputs.timezone)

    def midnight(self, branch: str) -> float:
        """Today's midnight at the branch (its time zone) [UTC epoch s]."""
        import datetime as dt
        from zoneinfo import ZoneInfo

        local = dt.datetime.fromtimestamp(self.clock(), ZoneInfo(self.timezone(branch)))
        return local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()

    def day_series(self, branch: str, quantity: str, *, day: int = 0) -> pd.DataFrame:
        """A quantity over one local day of the branch in 5-minute buckets (``time`` [UTC s], ``value``).

        ``day`` 0 is today so far, 1 yesterday (kept once read: past days do not change). Quantities
        summed over devices (:data:`DAY_QUANTITIES`) add each device's bucket mean; meters of one
        circuit (a main meter and its sub-meters) count once, by the largest.
        """
        midnight = self.midnight(branch) - day * 86_400.0
        key = ("day", branch, quantity, str(midnight))
        if day > 0 and key in self._past:
            return self._past[key]  # type: ignore[no-any-return]
        end = self.clock() + 1 if day == 0 else midnight + 86_400.0
        agg = DAY_QUANTITIES[quantity][2]
        with self.store() as s:
            if agg == "sum":
                per = s.series(branch=branch, quantity=quantity, start=midnight, end=end, every=DAY_BUCKET_S,
                               per_device=True)
            else:
                out = s.series(branch=branch, quantity=quantity, start=midnight, end=end, every=DAY_BUCKET_S,
                               agg=agg)[["time", "value"]]
        if agg == "sum":
            circuit = {d.id: d.circuit for d in self.building(branch).devices if d.circuit}
            group = per["device"].map(circuit).fillna(per["device"])
            total = per.assign(group=group).groupby(["time", "group"])["value"].max().groupby("time").sum()
            out = pd.DataFrame({"time": total.index.to_numpy(float), "value": total.to_numpy(float)})
        if day > 0:
            self._keep(key, out)
        return out

    def _keep(self, key: tuple[str, ...], value: Any) -> None:
        """Keep ``value`` under ``key`` (its last part a day), dropping what was kept for other days."""
        for old in [k for k in self._past if k[:-1] == key[:-1] and k != key]:
            self._past.pop(old, None)
        self._past[key] = value

    def busiest(self, branch: str, *, any_day: bool = False) -> BusiestTimes:
        """Busiest times of the branch's occupancy sensors over the :data:`BUSIEST_DAYS` days before today.

        Computed once per local day (:func:`twin.busiest.sensor_busiest`), by the scenario's day
        types, or with ``any_day`` all days as one type, :data:`ANY_DAY`.
        """
        import datetime as dt
        from zoneinfo import ZoneInfo

        from twin.busiest import sensor_busiest

        today = dt.datetime.fromtimestamp(self.clock(), ZoneInfo(self.timezone(branch))).date()
        key = ("busiest", branch, str(any_day), today.isoformat())
        if key not in self._past:
            src = self.resolved(branch)
            with self.store() as s:
                self._keep(key, sensor_busiest(s, src, self.building(branch), today=today, days=BUSIEST_DAYS,
                                               day_type_of=(lambda d: ANY_DAY) if any_day else None))
        return self._past[key]  # type: ignore[no-any-return]

    def busiest_band(self, branch: str) -> tuple[str, pd.DataFrame]:
        """Today's busiest times of the whole building (sensed rooms), and what they are of.

        By today's day type when the past weeks hold days of it, else over all past days.
        """
        from twin.busiest import BUILDING

        kind = self.day_type(branch)
        result = self.busiest(branch)
        rows = result.day(kind, BUILDING)
        if not len(rows):
            kind = ANY_DAY
            result = self.busiest(branch, any_day=True)
            rows = result.day(kind, BUILDING)
        days = int(rows["days"].max()) if len(rows) else 0
        return f"usual {kind} ({days} past day{'s' if days != 1 else ''})", rows

    def day_type(self, branch: str) -> str:
        """Today's day type at the branch (the scenario's ``weekday``, ``weekend`` ...)."""
        import datetime as dt
        from zoneinfo import ZoneInfo

        return self.day_type_of(branch, dt.datetime.fromtimestamp(self.clock(), ZoneInfo(self.timezone(branch))).date())

    def day_type_of(self, branch: str, date: dt.date) -> str:
        """The day type of a local date at the branch."""
        from twin.busiest import calendar

        key = ("calendar", branch)
        if key not in self._past:
            self._past[key] = calendar(self.resolved(branch), self.building(branch))
        return str(self._past[key][0](date))

    def evaluation(self, days: int) -> Evaluation:
        """The branches' indicators over the last ``days`` local days (0: today so far, 1: yesterday), ranked.

        Raises
        ------
        twin.errors.UserError
            When no branch has readings in the period.
        """
        from twin.evaluate import evaluate_loaded

        branches = self.branches()
        label = period_label(self.clock(), self.timezone(branches[0]), days)
        # past days do not change: keep their evaluation; a period with today in it for a minute
        hit = self._evaluations.get(label)
        if hit is not None and (days == 1 or time.monotonic() - hit[0] < EVALUATION_TTL_S):
            return hit[1]
        loaded = [(self.resolved(b), self.building(b)) for b in branches]
        # on a connection of its own: a long period must not hold up the other pages' requests
        ev = evaluate_loaded(self.store_url, label, loaded, what="the hub")
        self._evaluations[label] = (time.monotonic(), ev)
        return ev

    def warm_up(self) -> None:
        """Fill what the pages read first and what does not change: each branch's busiest times,
        yesterday's curves and 3D meshes, and today's indicators (run in a background thread at start).

        A failure here only leaves the cache cold (it is logged); the page asks again.
        """
        import logging

        from . import figures

        for branch in self.branches():
            try:
                self.busiest_band(branch)
                for q in DAY_QUANTITIES:
                    self.day_series(branch, q, day=1)
                figures.building_3d(self.building(branch), {})
            except Exception as exc:  # a cache left cold is not an error of the app
                logging.getLogger(__name__).warning("warming the dashboard's cache of %s failed: %s", branch, exc)
        try:
            self.evaluation(0)
        except Exception as exc:
            logging.getLogger(__name__).info("no indicators of today yet: %s", exc)

    def whatif_now(self, branch: str, variant: str | None, *, horizon_s: float, replications: int = 3, seed: int = 0,
                   on_run: Callable[[int, int], None] | None = None) -> WhatIfResult:
        """Fork the branch's day from its live state now, as it is and with ``variant``, for ``horizon_s`` [s].

        Raises
        ------
        ValueError
            When the live state does not fit the building or the horizon is not positive.
        """
        import datetime as dt
        from zoneinfo import ZoneInfo

        from twin.indicators import device_services
        from twin.whatif import start_state_from_branch, whatif

        src = self._scenario(branch)
        building = self.building(branch)
        live = self.state(branch)
        tz = self.timezone(branch)
        start = start_state_from_branch(live, building, device_services(building, self.resolved(branch)), tz)
        return whatif(src, start, variant=variant, horizon_s=horizon_s, replications=replications, seed=seed,
                      date=dt.datetime.fromtimestamp(live.time, ZoneInfo(tz)).date(), on_run=on_run)

    def dead_letters(self, branch: str | None, reason: str | None, limit: int = 200) -> pd.DataFrame:
        with self.store() as s:
            return s.dead_letters(branch=branch, reason=reason, limit=limit)

    def rejection_counts(self) -> pd.DataFrame:
        with self.store() as s:
            return s.rejection_counts()

    def saved_runs(self) -> list[SavedRun]:
        """Saved simulation results under ``results_dir`` (newest first)."""
        runs = []
        if not self.results_dir.is_dir():
            return runs
        for kp in sorted(self.results_dir.glob("*/kpis.json"), key=lambda p: p.stat().st_mtime, reverse=True):
            try:
                doc = json.loads(kp.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            runs.append(SavedRun(kp.parent.name, kp.parent, doc.get("kpis", {}), doc.get("meta", {})))
        return runs


def period_label(now: float, timezone: str, days: int) -> str:
    """A period as :func:`twin.indicators.branch_period` reads it: today (0), yesterday (1) or the last ``days`` days.

    ``now`` [UTC epoch s] in ``timezone`` gives today's local date.
    """
    import datetime as dt
    from zoneinfo import ZoneInfo

    today = dt.datetime.fromtimestamp(now, ZoneInfo(timezone)).date()
    if days == 0:
        return today.isoformat()
    if days == 1:
        return (today - dt.timedelta(days=1)).isoformat()
    return f"{(today - dt.timedelta(days=days - 1)).isoformat()}..{today.isoformat()}"


def simulate_and_save(scenario: Path, variant: str | None, *, seed: int, out_dir: Path,
                      progress: Callable[[int, int, str], None] | None = None) -> Path:
    """Simulate a day of a branch (a variant) and evacuate it at full seat occupancy; write both into ``out_dir``.

    Through the application layer (:func:`twin.app.simulate`, :func:`twin.app.evacuate`): what
    ``smartlib simulate`` writes, and the evacuation's ``evacuation/summary.json``.
    ``progress(step, steps, text)`` is told each step.
    """
    from twin import app

    tell = progress or (lambda i, n, text: None)
    tell(0, 3, "loading the scenario")
    loaded = app.load(scenario, variant)
    tell(1, 3, "simulating the day")
    app.simulate(loaded, seed=seed, out_dir=out_dir)
    tell(2, 3, "evacuating")
    app.evacuate(loaded, seed=seed, out_dir=out_dir / "evacuation")
    tell(3, 3, "done")
    return out_dir
