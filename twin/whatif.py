"""What-if from now: fork library-day simulations from a branch's live state and run them forward.

:func:`whatif` runs ``replications`` forks of the day from a :class:`~simulation.day.start.StartState`
(readers per zone, seats taken, queues, CO2, time of day) without and with a variant, each pair
on the same seed (common random numbers, so differences are sharper than either forecast), over
a horizon, and returns each forecast KPI's mean with a confidence interval.

A start state comes from the live twin, from a file (:func:`load_start_state`), or from a
simulated day (:func:`simulation.day.start.state_at`, used to check that a fork without a variant
reproduces the rest of the day).

References
----------
Law, A.M. (2015). Simulation Modeling and Analysis, 5th ed., McGraw-Hill, sections 9.4 (confidence
intervals from independent replications) and 11.2 (common random numbers).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from geometry.model import Building
from geometry.scenario import ScenarioSource
from simulation.day.kpis import compute_kpis
from simulation.day.start import StartState, clip_intervals

if TYPE_CHECKING:  # pragma: no cover
    from twin.state import BranchState

#: Forecast KPIs: key, label, unit.
FORECAST_KPIS: tuple[tuple[str, str, str], ...] = (
    ("visits", "visits", "persons"),
    ("mean_occupancy", "mean readers in", "persons"),
    ("peak_occupancy", "peak readers in", "persons"),
    ("seat_occupancy_rate", "seat occupancy rate", "share"),
    ("turned_away", "turned away (no seat)", "persons"),
    ("desk_wait_mean_s", "desk wait, mean", "s"),
    ("kiosk_wait_mean_s", "kiosk wait, mean", "s"),
    ("energy_total_kwh", "energy", "kWh"),
    ("co2_zone_hours_above", "zone-hours above CO2 limit", "h"),
)


@dataclass(frozen=True, kw_only=True)
class Interval:
    """A KPI over replications: mean and the half-width of its confidence interval."""

    mean: float
    half_width: float
    values: tuple[float, ...]

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width

    def prediction_half_width(self, level: float = 0.95) -> float:
        """Half-width of the interval one more run falls in with probability ``level``: ``t s sqrt(1 + 1/n)``."""
        n = len(self.values)
        if n < 2:
            return math.nan
        from scipy import stats

        s = float(np.std(self.values, ddof=1))
        return float(stats.t.ppf(0.5 + level / 2.0, n - 1)) * s * math.sqrt(1.0 + 1.0 / n)


def interval(values: Sequence[float], level: float = 0.95) -> Interval:
    """Mean of independent replications and the t confidence interval of the mean (Law 2015, 9.4)."""
    x = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    if x.size == 0:
        return Interval(mean=math.nan, half_width=math.nan, values=tuple(float(v) for v in values))
    if x.size == 1:
        return Interval(mean=float(x[0]), half_width=math.nan, values=(float(x[0]),))
    from scipy import stats

    hw = float(stats.t.ppf(0.5 + level / 2.0, x.size - 1)) * float(np.std(x, ddof=1)) / math.sqrt(x.size)
    return Interval(mean=float(x.mean()), half_width=hw, values=tuple(float(v) for v in x))


@dataclass(frozen=True, kw_only=True)
class ForecastRow:
    """One KPI: the forecast without and with the variant, and their paired difference."""

    key: str
    label: str
    unit: str
    base: Interval
    variant: Interval | None
    difference: Interval | None


@dataclass(frozen=True, kw_only=True)
class WhatIfResult:
    """Forecast KPIs of forks from one start state over ``[start_s, end_s]``."""

    branch: str
    variant: str | None
    date: dt.date
    start_s: float
    end_s: float
    replications: int
    level: float
    rows: tuple[ForecastRow, ...]

    def row(self, key: str) -> ForecastRow:
        return next(r for r in self.rows if r.key == key)


def window_kpis(events: pd.DataFrame, zones: pd.DataFrame, energy: pd.DataFrame, meta: Mapping[str, Any], *,
                building: Building, t0_s: float, t1_s: float) -> dict[str, Any]:
    """KPIs of a run over ``[t0_s, t1_s]`` only, the same way for a whole day and for a fork.

    Events before ``t0_s`` only carry in the seats taken then (as ``seat_take`` rows at
    ``t0_s``, which is what a fork logs for readers it seats at its start); visits, waits and
    stays count what happens inside the window.
    """
    before = events.loc[events["t_s"] < t0_s]
    held = int((before["event"] == "seat_take").sum() - (before["event"] == "seat_leave").sum())
    inside = events.loc[(events["t_s"] >= t0_s) & (events["t_s"] <= t1_s)]
    if held > 0:
        carry = pd.DataFrame({c: [inside[c].iloc[0] if len(inside) else None] * held for c in events.columns})
        carry = carry.assign(t_s=float(t0_s), event="seat_take", reader=-1, party=-1, size=1)
        inside = pd.concat([carry.astype(events.dtypes.to_dict()), inside], ignore_index=True)
    z = zones.loc[(zones["t_s"] >= t0_s) & (zones["t_s"] < t1_s)]
    e = energy.loc[(energy["t_s"] >= t0_s) & (energy["t_s"] < t1_s)]
    k = compute_kpis(inside, z, e, n_seats=building.seat_count, area_m2=building.area_m2,
                     open_intervals=clip_intervals(meta["open_intervals_s"], t0_s, t1_s), t1_s=t1_s).to_dict()
    kinds = meta.get("services", {})
    for kind in ("desk", "kiosk"):
        w = [v for s, v in k["waits"].items() if kinds.get(s) == kind and v["served"] > 0]
        served = sum(v["served"] for v in w)
        k[f"{kind}_wait_mean_s"] = sum(v["mean_s"] * v["served"] for v in w) / served if served else math.nan
    k["co2_zone_hours_above"] = float(sum(k["co2_hours_above_1000"].values()))
    return k


def parse_duration_s(text: str) -> float:
    """A duration such as ``2h``, ``90min``, ``45m``, ``1h30m``, ``5400s`` or ``5400`` [s]."""
    t = text.strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(\.\d+)?", t):
        return float(t)
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|min|m|s)", t)
    if not parts or "".join(a + b for a, b in parts) != t:
        raise ValueError(f"duration '{text}' is not understood; write it as 2h, 90min, 1h30m or 5400s")
    return sum(float(a) * {"h": 3600.0, "min": 60.0, "m": 60.0, "s": 1.0}[u] for a, u in parts)


def whatif(src: ScenarioSource, state: StartState, *, variant: str | None, horizon_s: float,
           date: dt.date | None = None, replications: int = 10, seed: int = 0, level: float = 0.95,
           on_run: Callable[[int, int], None] | None = None) -> WhatIfResult:
    """Fork the day from ``state`` without and with ``variant`` and forecast KPIs over the horizon.

    Parameters
    ----------
    src
        The branch's scenario.
    state
        Readers, seats, queues and CO2 now, and the time of day.
    variant
        The variant to try (None: forecast the branch as it is, once).
    horizon_s
        How far to run [s]; cut at midnight.
    date
        The day (its day type, opening hours); default the scenario's first simulated day.
    replications
        Independent forks per arm; replication ``k`` uses seed ``seed + k`` in both arms.
    on_run
        Called with (runs done, runs in all) after each run (a progress bar).

    Raises
    ------
    ValueError
        When the state does not fit the building, or the horizon is not positive.
    geometry.errors.ScenarioError
        When the variant is not in the scenario.
    """
    from geometry import apply_variant, build_building
    from simulation.day.library_day import run_day

    if horizon_s <= 0:
        raise ValueError(f"the horizon must be positive, got {horizon_s} s")
    if replications < 2:
        raise ValueError(f"need at least 2 replications for a confidence interval, got {replications}")
    t0 = state.time_s
    t1 = min(86400.0, t0 + horizon_s)
    arms: list[str | None] = [None] if variant is None else [None, variant]
    resolved = {a: apply_variant(src, a) for a in arms}
    buildings = {a: build_building(resolved[a]) for a in arms}
    runs: dict[str | None, list[dict[str, Any]]] = {a: [] for a in arms}
    done = 0
    for k in range(replications):
        for a in arms:
            r = run_day(buildings[a], resolved[a], seed=seed + k, start=date, start_state=state,
                        end_s=t1)
            runs[a].append(window_kpis(r.events, r.zones, r.energy, r.meta, building=buildings[a], t0_s=t0, t1_s=t1))
            done += 1
            if on_run is not None:
                on_run(done, replications * len(arms))
    rows = []
    for key, label, unit in FORECAST_KPIS:
        base = [float(x[key]) for x in runs[None]]
        var = [float(x[key]) for x in runs[variant]] if variant is not None else None
        rows.append(ForecastRow(key=key, label=label, unit=unit, base=interval(base, level),
                                variant=interval(var, level) if var is not None else None,
                                difference=interval([v - b for v, b in zip(var, base, strict=True)], level)
                                if var is not None else None))
    day = date or dt.date.fromisoformat(str(_start_date(src)))
    return WhatIfResult(branch=src.scenario.branch.id, variant=variant, date=day, start_s=t0, end_s=t1,
                        replications=replications, level=level, rows=tuple(rows))


def _start_date(src: ScenarioSource) -> dt.date:
    from geometry import apply_variant
    from simulation.day.demand import load_demand

    return load_demand(apply_variant(src)).start_date


def load_start_state(path: str | Path) -> StartState:
    """A start state from a YAML or JSON file::

        time: "14:00"                 # local time of day
        readers: {reading-L1: 30, stacks-G: 8}
        seated: {reading-L1: 24}
        queues: {desk-counter-G: 3}
        co2_ppm: {reading-L1: 900}
        temperature_c: {reading-L1: 23.5}

    Raises
    ------
    ValueError
        Naming the file and what is wrong.
    """
    import yaml

    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{p}: cannot read the state file ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{p}: not YAML/JSON ({exc})") from None
    if not isinstance(raw, Mapping):
        raise ValueError(f"{p}: expected a mapping with time, readers, seated, queues, co2_ppm")
    unknown = set(raw) - {"time", "readers", "seated", "queues", "co2_ppm", "temperature_c"}
    if unknown:
        raise ValueError(f"{p}: unknown key(s) {', '.join(sorted(map(str, unknown)))} "
                         "(known: time, readers, seated, queues, co2_ppm, temperature_c)")
    if "time" not in raw:
        raise ValueError(f"{p}: 'time' (HH:MM, local) is missing")
    from geometry.scenario.types import clock_s

    try:
        t = clock_s(str(raw["time"]))
        counts: dict[str, dict[str, int]] = {}
        levels: dict[str, dict[str, float]] = {}
        for key in ("readers", "seated", "queues", "co2_ppm", "temperature_c"):
            m = raw.get(key) or {}
            if not isinstance(m, Mapping):
                raise ValueError(f"'{key}' must map names to numbers")
            if key in ("co2_ppm", "temperature_c"):
                levels[key] = {str(k): float(v) for k, v in m.items()}
            else:
                counts[key] = {str(k): _whole(key, k, v) for k, v in m.items()}
        return StartState(time_s=t, readers=counts["readers"], seated=counts["seated"], queues=counts["queues"],
                          co2_ppm=levels["co2_ppm"], temperature_c=levels["temperature_c"])
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{p}: {exc}") from None


def _whole(key: str, name: Any, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or int(v) != v or v < 0:
        raise ValueError(f"{key} of '{name}' must be a whole number >= 0, got {v!r}")
    return int(v)


def _pm(iv: Interval | None, unit: str) -> str:
    if iv is None or math.isnan(iv.mean):
        return "-"
    digits = 3 if unit == "share" else 1
    hw = "" if math.isnan(iv.half_width) else f" ± {iv.half_width:,.{digits}f}"
    return f"{iv.mean:,.{digits}f}{hw}"


def forecast_table(result: WhatIfResult) -> tuple[list[str], list[list[str]]]:
    """Columns and rows of a forecast for printing: KPI, unit, without, with, difference (mean ± CI)."""
    cols = ["kpi", "unit", "as is"]
    if result.variant is not None:
        cols += [result.variant, "difference"]
    rows = []
    for r in result.rows:
        row = [r.label, r.unit, _pm(r.base, r.unit)]
        if result.variant is not None:
            row += [_pm(r.variant, r.unit), _pm(r.difference, r.unit)]
        rows.append(row)
    return cols, rows


def run_whatif(scenario: str | Path, *, state_file: str | Path | None = None, store_url: str | None = None,
               at: str | None = None, variant: str | None, horizon: str, date: str | None = None,
               replications: int = 10, seed: int = 0,
               on_run: Callable[[int, int], None] | None = None) -> WhatIfResult:
    """:func:`whatif` from a scenario file and the state now: a state file, or the branch's live
    state rebuilt from the store at ``at`` (local ``YYYY-MM-DD HH:MM``; default the newest
    reading). What ``smartlib whatif`` calls.

    Raises
    ------
    twin.errors.UserError
        A bad state file, horizon, date or time, no readings, or a state that does not fit the building.
    telemetry.errors.TelemetryError
        When the store cannot be opened.
    """
    from geometry.errors import ScenarioError

    from .errors import UserError
    from .scenarios import scenario_file

    try:
        return _run_whatif(scenario_file(scenario), state_file=state_file, store_url=store_url, at=at,
                           variant=variant, horizon=horizon, date=date, replications=replications, seed=seed,
                           on_run=on_run)
    except ScenarioError:
        raise
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _run_whatif(scenario: Path, *, state_file: str | Path | None, store_url: str | None, at: str | None,
                variant: str | None, horizon: str, date: str | None, replications: int, seed: int,
                on_run: Callable[[int, int], None] | None) -> WhatIfResult:
    from geometry import apply_variant, build_building, load_scenario

    if (state_file is None) == (store_url is None):
        raise ValueError("give the state now as a state file (--state) or a store to rebuild it from (--store)")
    horizon_s = parse_duration_s(horizon)
    src = load_scenario(scenario)
    tz = ZoneInfo(src.scenario.branch.timezone)
    try:
        day = dt.date.fromisoformat(date) if date is not None else None
        when = dt.datetime.fromisoformat(at).replace(tzinfo=tz).timestamp() if at is not None else None
    except ValueError:
        raise ValueError(f"--date must be YYYY-MM-DD and --at YYYY-MM-DD HH:MM (got {date!r}, {at!r})") from None
    if state_file is not None:
        state = load_start_state(state_file)
    else:
        from telemetry.store import open_store

        from .indicators import device_services

        assert store_url is not None
        with open_store(store_url) as store:
            live = live_state(scenario, store, when)
        base = apply_variant(src)
        building = build_building(base)
        state = start_state_from_branch(live, building, device_services(building, base), src.scenario.branch.timezone)
        day = day or dt.datetime.fromtimestamp(live.time, tz).date()
    return whatif(src, state, variant=variant, horizon_s=horizon_s, date=day, replications=replications, seed=seed,
                  on_run=on_run)


# --------------------------------------------------------------------------- from the live twin

def start_state_from_branch(state: BranchState, building: Building, services: Mapping[str, tuple[str, str]],
                            timezone: str) -> StartState:
    """The start state of a fork from a live twin's snapshot.

    Readers per zone are the twin's occupancy estimates, rounded (they fuse counters, seat sensors,
    occupancy and CO2 sensors). Readers in zones where readers study (reading rooms, quiet study,
    stacks, computer labs, group rooms) are taken as seated, up to the zone's seats: a handful of
    seat sensors sampled at one instant says little about one zone, while nearly everyone who
    stays in those zones sits. Queues come from queue counters and kiosks (``services``: device ->
    (service id, kind), :func:`twin.indicators.device_services`); CO2 and temperature from the
    zones' latest readings.
    """
    from simulation.day.demand import STUDY_ZONE_KINDS

    tz = ZoneInfo(timezone)
    local = dt.datetime.fromtimestamp(state.time, tz)
    seats_in = building.seats_per_zone()
    readers: dict[str, int] = {}
    seated: dict[str, int] = {}
    for z in state.zones:
        n = round(max(z.occupancy, 0.0))
        if n <= 0:
            continue
        readers[z.zone] = n
        if z.kind in STUDY_ZONE_KINDS and seats_in.get(z.zone, 0) > 0:
            seated[z.zone] = min(n, seats_in[z.zone])
    queues: dict[str, int] = {}
    for q in state.queues:
        svc = services.get(q.device)
        if svc is not None and svc[1] in ("desk", "kiosk", "cafe") and q.length >= 0.5:
            queues[svc[0]] = queues.get(svc[0], 0) + round(q.length)
    return StartState(
        time_s=local.hour * 3600.0 + local.minute * 60.0 + local.second,
        readers=readers, seated=seated, queues=queues,
        co2_ppm={z.zone: float(z.co2_ppm) for z in state.zones if z.co2_ppm is not None},
        temperature_c={z.zone: float(z.temperature_c) for z in state.zones if z.temperature_c is not None})


def replay_store(twin: Any, store: Any, start: float, end: float, *, page_rows: int = 200_000) -> int:
    """Feed a :class:`~twin.branch.BranchTwin` its branch's stored readings with ``start < time <= end``,
    in time order; returns how many it got."""
    after = start
    n = 0
    while True:
        page = store.readings_after(after, until=end, limit=page_rows)
        if page.num_rows == 0:
            break
        df = page.to_pandas()
        after = float(df["time"].iloc[-1])
        df = df.loc[df["branch"] == twin.branch]
        if len(df):
            twin.apply(df)
            n += len(df)
        if page.num_rows < page_rows:
            break
    twin.advance(end)
    return n


def live_state(scenario: str | Path, store: Any, at: float | None = None) -> BranchState:
    """The branch's live state at ``at`` [UTC epoch s] rebuilt from the store: the twin fed with the
    day's readings up to then (default: the branch's newest stored reading).

    Raises
    ------
    ValueError
        When the store holds no readings of the branch (before ``at``).
    """
    from twin.branch import BranchTwin

    twin = BranchTwin.from_scenario(scenario)
    counts = store.counts(branch=twin.branch)
    if not len(counts):
        raise ValueError(f"the store {store.url} holds no readings of branch '{twin.branch}'")
    if at is None:
        at = float(counts["last_time"].max())
    tz = twin.tz
    midnight = dt.datetime.combine(dt.datetime.fromtimestamp(at, tz).date(), dt.time(0), tzinfo=tz).timestamp()
    if replay_store(twin, store, midnight - 1e-6, at) == 0:
        raise ValueError(f"the store {store.url} holds no readings of branch '{twin.branch}' on the day before "
                         f"{dt.datetime.fromtimestamp(at, tz):%Y-%m-%d %H:%M}")
    return twin.state(at)
