"""Evaluate branches: every branch's indicators over a period from the store, ranked.

Each indicator ranks the branches that measure it (1 = best; which way is better is in
:data:`twin.indicators.INDICATORS`); a branch's overall place is by its mean rank.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from .indicators import INDICATORS, Indicators, branch_period, indicators, observations_from_store

if TYPE_CHECKING:
    from geometry import Building, ResolvedScenario
    from telemetry.store import Store


@dataclass(frozen=True, kw_only=True)
class RankedBranch:
    """One branch's indicators, each indicator's rank among the branches (None: not measured)."""

    branch: str
    name: str
    indicators: Indicators
    ranks: dict[str, int | None]
    mean_rank: float


@dataclass(frozen=True, kw_only=True)
class Evaluation:
    """Branches over one period, best mean rank first; branches without readings are listed apart."""

    period: str
    store: str
    rows: tuple[RankedBranch, ...]
    without_readings: tuple[str, ...]

    def to_frame(self) -> pd.DataFrame:
        """One row per branch: ``place``, ``branch``, each indicator and its ``<key>_rank``."""
        recs = []
        for place, r in enumerate(self.rows, start=1):
            rec: dict[str, object] = {"place": place, "branch": r.branch, "mean_rank": r.mean_rank}
            for key, value in r.indicators.values().items():
                rec[key] = value
                rec[f"{key}_rank"] = r.ranks[key]
            recs.append(rec)
        return pd.DataFrame(recs)


def ranking_table(ev: Evaluation) -> tuple[list[str], list[list[str]]]:
    """Columns (indicator, unit, then each branch best first) and rows ``value (#rank)`` for printing."""
    cols = ["indicator", "unit", *[f"{i}. {r.branch}" for i, r in enumerate(ev.rows, start=1)]]
    rows = []
    for key, label, unit, better in INDICATORS:
        row = [f"{label} {'(higher better)' if better > 0 else '(lower better)'}", unit]
        for r in ev.rows:
            v, k = r.indicators.values()[key], r.ranks[key]
            digits = 3 if unit == "share" else (0 if key == "visits" else 2)
            row.append("n/a" if math.isnan(v) else f"{v:,.{digits}f} (#{k})")
        rows.append(row)
    rows.append(["mean rank", "", *[f"{r.mean_rank:.2f}" for r in ev.rows]])
    return cols, rows


def rank(values: dict[str, float], better: int) -> dict[str, int | None]:
    """Competition ranks (1 = best, ties share a rank) of the finite values; None for NaN."""
    ok = {k: v for k, v in values.items() if not math.isnan(v)}
    out: dict[str, int | None] = dict.fromkeys(values)
    for k, v in ok.items():
        out[k] = 1 + sum(1 for w in ok.values() if (w > v if better > 0 else w < v))
    return out


def evaluate_loaded(store_url: str | Store, period: str, loaded: Sequence[tuple[ResolvedScenario, Building]], *,
                    what: str = "the scenarios") -> Evaluation:
    """:func:`evaluate` on scenarios already loaded (source and building of each branch).

    ``store_url`` may also be an open store (left open), as the dashboard keeps one.

    Raises
    ------
    twin.errors.UserError
        A bad period, or no branch with readings in the period (``what`` names the branches' origin).
    """
    from telemetry.store import open_store

    from .errors import UserError

    found: list[tuple[str, Indicators]] = []
    empty: list[str] = []
    with open_store(store_url) if isinstance(store_url, str) else nullcontext(store_url) as store:
        for src, building in loaded:
            try:
                p = branch_period(src, period)
            except ValueError as exc:
                raise UserError(str(exc)) from None
            obs = observations_from_store(store, src, building, p)
            if obs.device_availability == 0 or math.isnan(obs.device_availability):
                empty.append(building.branch_id)
                continue
            found.append((src.scenario.branch.name or building.branch_id, indicators(obs)))
        url = store.url
    ranks = {key: rank({ind.branch: ind.values()[key] for _, ind in found}, better) for key, _, _, better in INDICATORS}
    rows = []
    for name, ind in found:
        r = {key: ranks[key][ind.branch] for key, *_ in INDICATORS}
        given = [v for v in r.values() if v is not None]
        rows.append(RankedBranch(branch=ind.branch, name=name, indicators=ind, ranks=r,
                                 mean_rank=sum(given) / len(given) if given else math.nan))
    rows.sort(key=lambda x: (math.isnan(x.mean_rank), x.mean_rank, x.branch))
    if not rows:
        raise UserError(f"no branch of {what} has readings in {url} for {period}")
    return Evaluation(period=period, store=url, rows=tuple(rows), without_readings=tuple(empty))


def evaluate(store_url: str, period: str, scenarios: Path | None = None, *, csv: Path | None = None) -> Evaluation:
    """Indicators of every branch of ``scenarios`` over ``period`` from the store, ranked.

    Parameters
    ----------
    store_url
        The telemetry store (``telemetry.store.open_store``).
    period
        ``YYYY-MM``, ``YYYY-MM-DD`` or ``YYYY-MM-DD..YYYY-MM-DD`` (local days of each branch).
    scenarios
        A folder of scenario files (or one file): the branches and their devices (default: the
        built-in branches).
    csv
        Also write the table here.

    Raises
    ------
    twin.errors.UserError
        A bad period, no scenario file in ``scenarios``, or no branch with readings in the period.
    telemetry.errors.TelemetryError
        When the store cannot be opened.
    geometry.errors.ScenarioError
        When a scenario file is wrong.
    """
    from geometry import apply_variant, build_building, load_scenario

    from .errors import UserError
    from .scenarios import builtin_dir

    scenarios = scenarios or builtin_dir()
    files = sorted(scenarios.glob("*.y*ml")) if scenarios.is_dir() else [scenarios]
    if not files:
        raise UserError(f"no scenario files (*.yaml) in {scenarios}")
    loaded = []
    for f in files:
        src = apply_variant(load_scenario(f))
        loaded.append((src, build_building(src)))
    result = evaluate_loaded(store_url, period, loaded, what=str(scenarios))
    if csv is not None:
        csv.parent.mkdir(parents=True, exist_ok=True)
        result.to_frame().to_csv(csv, index=False)
    return result

