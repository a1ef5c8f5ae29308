"""What the optimisers read from a simulated day: a flat row of numbers per run, and confidence intervals."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

#: Columns of :func:`day_row`, in order.
METRICS: tuple[str, ...] = ("visits", "turned_away", "seat_occupancy_rate", "peak_occupancy", "desk_served",
                            "desk_mean_wait_s", "desk_share_wait_over", "energy_kwh", "kwh_per_visit",
                            "walking_m_per_visit")


def desk_waits(result: Any) -> tuple[np.ndarray, np.ndarray]:
    """Waits at staffed desks [s] and the hour of day [h] each wait began.

    Desks are those with staff (``staff_utilisation``). A reader who gave up (``service_reneged``)
    counts with the time waited until then, so an unstaffed hour shows as long waits, not as none.
    """
    desks = set(result.kpis.staff_utilisation)
    ev = result.events
    rows = ev.loc[(ev["event"] == "service_start") & ev["ref"].isin(desks)]
    t = rows["t_s"].to_numpy(float)
    w = rows["value"].to_numpy(float)
    gave = ev.loc[(ev["event"] == "service_reneged") & ev["ref"].isin(desks), ["reader", "ref", "t_s"]]
    if len(gave):
        q = ev.loc[(ev["event"] == "service_queue") & ev["ref"].isin(desks), ["reader", "ref", "t_s"]]
        m = gave.reset_index().merge(q, on=["reader", "ref"], suffixes=("", "_q"))
        m = m.loc[m["t_s_q"] <= m["t_s"]].groupby("index").agg(t=("t_s", "first"), tq=("t_s_q", "max"))
        t = np.concatenate([t, m["t"].to_numpy(float)])
        w = np.concatenate([w, (m["t"] - m["tq"]).to_numpy(float)])
    return w, np.floor((t - w) % 86400.0 / 3600.0)


def day_row(result: Any, *, wait_s: float = 120.0) -> dict[str, float]:
    """The numbers of one simulated run (see :data:`METRICS`); ``desk_share_wait_over`` uses ``wait_s``."""
    k = result.kpis
    w, _ = desk_waits(result)
    return {
        "visits": float(k.visits),
        "turned_away": float(k.turned_away),
        "seat_occupancy_rate": float(k.seat_occupancy_rate),
        "peak_occupancy": float(k.peak_occupancy),
        "desk_served": float(w.size),
        "desk_mean_wait_s": float(w.mean()) if w.size else 0.0,
        "desk_share_wait_over": float(np.mean(w > wait_s)) if w.size else 0.0,
        "energy_kwh": float(k.energy_total_kwh),
        "kwh_per_visit": float(k.kwh_per_visit),
        "walking_m_per_visit": float(k.walking_m_per_visit),
    }


def mean_ci(values: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of its confidence interval from independent replications (Student t).

    ``half = t_{(1+level)/2, n-1} s / sqrt(n)``; infinite with fewer than two values.

    References
    ----------
    Law, A.M. (2015). Simulation Modeling and Analysis, 5th ed. McGraw-Hill, Sect. 9.4.1.
    """
    from scipy.stats import t as student_t

    x = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    if x.size == 0:
        return math.nan, math.inf
    if x.size < 2:
        return float(x.mean()), math.inf
    half = float(student_t.ppf(0.5 + level / 2.0, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return float(x.mean()), half


def replication_seeds(base_seed: int, n: int) -> list[int]:
    """``n`` independent seeds for replications, derived from ``base_seed`` (numpy SeedSequence spawning).

    The same ``base_seed`` and replication number always give the same seed, whatever runs it.
    """
    return [int(s.generate_state(1, np.uint32)[0]) for s in np.random.SeedSequence(base_seed).spawn(n)]
