"""Library performance indicators (ISO 11620 style), the same way from live history and from simulations.

Both sources are first reduced to :class:`Observations`, what the branch's devices measure over a
period: entrances counted, readers in at sampled times, the share of sensed seats in use at
sampled times, queue lengths and transactions per kind of service, energy, CO2 of the sensed
zones, readings received. :func:`observations_from_store` reads them from stored telemetry;
:func:`observations_from_run` from a simulated run's own tables (events, zones, energy), using the
same building's devices to choose what counts (which seats, which zones' CO2). :func:`indicators`
is the one function that turns observations into indicators, so a simulated day and the stored
telemetry of that day give the same numbers up to what the sensors miss.

==========================  =====================================================================
indicator                   definition
==========================  =====================================================================
visits                      persons entering (ISO 2789), gate counters ``people_in``
visits_per_opening_hour     visits / opening hours (ISO 11620 B.1.1.x "user visits per hour")
seat_occupancy_rate         seats in use / seats observed at sampled opening times (ISO 11620
                            "seat occupancy rate"; sampled seats are the sensed ones)
user_area_per_seat_m2       public area (all zones but offices) / reader seats
peak_occupancy_ratio        most readers in at once (gate counts) / reader seats
desk_wait_mean_s, kiosk_    mean wait in queue by Little's law: mean queue length over opening
wait_mean_s                 time / throughput (Little 1961)
desk_wait_p90_s, kiosk_     90th percentile of the wait with the M/M/c tail P(W > t) = C exp(-t C / W)
wait_p90_s                  (Erlang C), C the probability of waiting, W the mean wait; C from the
                            share of sampled times someone waits (rho^2 in M/M/1, C = rho)
self_service_share          kiosk transactions / (kiosk + desk transactions)
energy_kwh_per_visit        electricity / visits
energy_kwh_per_m2           electricity / gross floor area
co2_hours_above             hours in which any sensed zone was above the CO2 limit
device_availability         readings received / readings expected from each device's period
==========================  =====================================================================

References
----------
ISO 11620:2014. Information and documentation - Library performance indicators.
ISO 2789:2013. Information and documentation - International library statistics.
Little, J.D.C. (1961). A proof for the queuing formula L = lambda W. Operations Research 9(3), 383-387.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from geometry.model import OUTSIDE, Building
from geometry.scenario import ResolvedScenario

#: Indicators, their labels, units and which way is better (+1 higher, -1 lower) for ranking.
INDICATORS: tuple[tuple[str, str, str, int], ...] = (
    ("visits", "visits", "persons", +1),
    ("visits_per_opening_hour", "visits per opening hour", "1/h", +1),
    ("seat_occupancy_rate", "seat occupancy rate", "share", +1),
    ("user_area_per_seat_m2", "user area per seat", "m2", +1),
    ("peak_occupancy_ratio", "peak occupancy / seats", "share", -1),
    ("desk_wait_mean_s", "desk wait mean", "s", -1),
    ("desk_wait_p90_s", "desk wait p90", "s", -1),
    ("kiosk_wait_mean_s", "kiosk wait mean", "s", -1),
    ("kiosk_wait_p90_s", "kiosk wait p90", "s", -1),
    ("self_service_share", "self-service share", "share", +1),
    ("energy_kwh_per_visit", "energy per visit", "kWh", -1),
    ("energy_kwh_per_m2", "energy per m2", "kWh/m2", -1),
    ("co2_hours_above", "hours above CO2 limit", "h", -1),
    ("device_availability", "device availability", "share", +1),
)

#: Sampling step of a simulated run's state, as seat sensors and counters read it [s].
RUN_SAMPLE_S = 60.0
#: Zone kinds that are not user area (ISO 11620 counts the area open to users).
STAFF_ZONE_KINDS = ("office",)


@dataclass(frozen=True, kw_only=True)
class Period:
    """A reporting period of one branch: its label, days, time span and opening intervals [UTC epoch s]."""

    label: str
    days: tuple[dt.date, ...]
    start: float
    end: float
    open_intervals: tuple[tuple[float, float], ...]

    @property
    def opening_hours_h(self) -> float:
        return sum(b - a for a, b in self.open_intervals) / 3600.0


def day_range(since: str, until: str | None, tz: dt.tzinfo) -> tuple[dt.date, dt.date]:
    """The first and last day of ``--since``/``--until`` (``YYYY-MM-DD``; no ``until``: yesterday in ``tz``).

    Raises
    ------
    ValueError
        A date that is not ``YYYY-MM-DD``, or ``until`` before ``since``.
    """
    try:
        first = dt.date.fromisoformat(since)
        last = dt.date.fromisoformat(until) if until else dt.datetime.now(tz).date() - dt.timedelta(days=1)
    except ValueError:
        raise ValueError(f"dates must be YYYY-MM-DD (got since={since!r}, until={until!r})") from None
    if last < first:
        raise ValueError(f"--until {last} comes before --since {first}")
    return first, last


def branch_period(src: ResolvedScenario, label: str) -> Period:
    """The days of ``label`` (``YYYY-MM`` a month, ``YYYY-MM-DD`` a day, ``A..B`` days A to B) in
    the branch's time zone, with its opening intervals.

    Raises
    ------
    ValueError
        When the label is not one of those forms.
    """
    text = label.strip()
    try:
        if ".." in text:
            a, b = (dt.date.fromisoformat(x.strip()) for x in text.split("..", 1))
        elif re.fullmatch(r"\d{4}-\d{2}", text):
            y, m = int(text[:4]), int(text[5:])
            a = dt.date(y, m, 1)
            b = (dt.date(y + (m == 12), m % 12 + 1, 1)) - dt.timedelta(days=1)
        else:
            a = b = dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"period '{label}' is not understood; give a month 2026-11, a day 2026-11-05 or "
                         "days 2026-11-02..2026-11-08") from None
    if b < a:
        raise ValueError(f"period '{label}' ends before it starts")
    days = tuple(a + dt.timedelta(days=k) for k in range((b - a).days + 1))
    return period_of_days(src, days, label)


def period_of_days(src: ResolvedScenario, days: Sequence[dt.date], label: str) -> Period:
    """A :class:`Period` over ``days`` (local) of the branch."""
    from simulation.day.services import load_services

    tz = ZoneInfo(src.scenario.branch.timezone)
    hours = load_services(src).hours
    intervals: list[tuple[float, float]] = []
    for d in days:
        midnight = dt.datetime.combine(d, dt.time(0), tzinfo=tz).timestamp()
        intervals.extend((midnight + a, midnight + b) for a, b in hours.intervals(d.weekday()))
    start = dt.datetime.combine(days[0], dt.time(0), tzinfo=tz).timestamp()
    end = dt.datetime.combine(days[-1] + dt.timedelta(days=1), dt.time(0), tzinfo=tz).timestamp()
    return Period(label=label, days=tuple(days), start=start, end=end, open_intervals=tuple(intervals))


@dataclass(frozen=True, kw_only=True)
class QueueObs:
    """Queues of one kind of service (desk or kiosk) over opening time."""

    lengths: np.ndarray  # parties waiting at all services of the kind, at sampled opening times
    served: float  # transactions completed in the period


@dataclass(frozen=True, kw_only=True)
class Observations:
    """What the indicators are computed from: one branch over one period."""

    branch: str
    period: Period
    seats: int
    user_area_m2: float
    gross_area_m2: float
    visits: float
    readers_in: np.ndarray  # readers in the building at sampled opening times
    seats_in_use: np.ndarray  # share of observed seats in use at sampled opening times
    queues: Mapping[str, QueueObs]  # "desk", "kiosk"
    energy_kwh: float
    co2_hours_above: float
    device_availability: float
    co2_limit_ppm: float = 1000.0
    notes: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, kw_only=True)
class Indicators:
    """The indicators of one branch over one period (NaN: the branch does not measure it)."""

    branch: str
    period: str
    visits: float
    visits_per_opening_hour: float
    seat_occupancy_rate: float
    user_area_per_seat_m2: float
    peak_occupancy_ratio: float
    desk_wait_mean_s: float
    desk_wait_p90_s: float
    kiosk_wait_mean_s: float
    kiosk_wait_p90_s: float
    self_service_share: float
    energy_kwh_per_visit: float
    energy_kwh_per_m2: float
    co2_hours_above: float
    device_availability: float

    def values(self) -> dict[str, float]:
        """Indicator key -> value (the keys of :data:`INDICATORS`)."""
        d = asdict(self)
        return {k: float(d[k]) for k, *_ in INDICATORS}


def _ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


def indicators(obs: Observations) -> Indicators:
    """The indicators of one branch over one period from its observations (one formula each)."""
    waits: dict[str, float] = {}
    open_s = obs.period.opening_hours_h * 3600.0
    for kind in ("desk", "kiosk"):
        q = obs.queues.get(kind)
        rate = _ratio(q.served, open_s) if q is not None else math.nan  # throughput [1/s]
        has = q is not None and q.lengths.size > 0 and rate > 0
        if q is not None and has:
            mean_s = float(np.mean(q.lengths)) / rate
            waits[f"{kind}_wait_mean_s"] = mean_s
            waits[f"{kind}_wait_p90_s"] = wait_quantile_s(mean_s, float(np.mean(q.lengths > 0)), 0.9)
        else:
            waits[f"{kind}_wait_mean_s"] = waits[f"{kind}_wait_p90_s"] = math.nan
    desk, kiosk = obs.queues.get("desk"), obs.queues.get("kiosk")
    served = (desk.served if desk else math.nan) + (kiosk.served if kiosk else math.nan)
    return Indicators(
        branch=obs.branch, period=obs.period.label,
        visits=obs.visits,
        visits_per_opening_hour=_ratio(obs.visits, obs.period.opening_hours_h),
        seat_occupancy_rate=float(np.mean(obs.seats_in_use)) if obs.seats_in_use.size else math.nan,
        user_area_per_seat_m2=_ratio(obs.user_area_m2, obs.seats),
        peak_occupancy_ratio=_ratio(float(np.max(obs.readers_in)), obs.seats) if obs.readers_in.size else math.nan,
        self_service_share=_ratio(kiosk.served, served) if kiosk and served == served else math.nan,
        energy_kwh_per_visit=_ratio(obs.energy_kwh, obs.visits),
        energy_kwh_per_m2=_ratio(obs.energy_kwh, obs.gross_area_m2),
        co2_hours_above=obs.co2_hours_above, device_availability=obs.device_availability, **waits)


def wait_quantile_s(mean_s: float, p_queue: float, q: float) -> float:
    """Quantile ``q`` of the wait in queue under the M/M/c tail [s].

    In an M/M/c queue ``P(W > t) = C exp(-(c mu - lambda) t)`` with ``C`` the probability of
    waiting (Erlang C) and mean ``W = C / (c mu - lambda)``, so ``t_q = (W / C) ln(C / (1 - q))``
    (0 when ``C <= 1 - q``). ``C`` is not observed by queue counters; what they see is the share
    of time someone waits, which is ``rho^2`` in M/M/1 where ``C = rho``, so ``C`` is taken as
    its square root.

    References
    ----------
    Kleinrock, L. (1975). Queueing Systems, Vol. 1, Wiley, section 3.5 (M/M/m waiting time).
    """
    p_wait = math.sqrt(p_queue)
    if not p_wait > 1.0 - q or not mean_s > 0:
        return 0.0
    return mean_s / p_wait * math.log(p_wait / (1.0 - q))


# --------------------------------------------------------------------------- shared helpers

def _in_open(times: np.ndarray, intervals: Iterable[tuple[float, float]]) -> np.ndarray:
    t = np.asarray(times, dtype=float)
    ok = np.zeros(t.shape, dtype=bool)
    for a, b in intervals:
        ok |= (t >= a) & (t < b)
    return ok


def _gate_openings(building: Building) -> set[str]:
    return {o.id for o in building.openings if OUTSIDE in o.zones}


def _co2_zones(building: Building) -> list[str]:
    return sorted({d.zone_id for d in building.devices if "co2" in d.quantities and d.zone_id})


def _hours_any_above(times: np.ndarray, values: np.ndarray, step_s: float, limit: float) -> float:
    """Hours during which any series is above ``limit``: each sample time stands for ``step_s``."""
    if times.size == 0:
        return 0.0
    over = pd.Series(values > limit).groupby(times).any()
    return float(over.sum()) * step_s / 3600.0


def availability(readings: pd.DataFrame, building: Building, start: float, end: float) -> float:
    """Readings received / readings expected over ``[start, end)`` for every device quantity.

    ``readings`` has ``device``, ``quantity`` and ``time`` columns; a device quantity is expected
    every ``period_s`` of its device.
    """
    got = readings.loc[(readings["time"] >= start) & (readings["time"] < end)].groupby(
        ["device", "quantity"]).size() if len(readings) else pd.Series(dtype=float)
    return availability_of_counts({k: float(v) for k, v in got.items()}, building, end - start)


def availability_of_counts(got: Mapping[tuple[str, str], float], building: Building, span_s: float) -> float:
    """Readings received / readings expected over ``span_s`` [s], from counts per (device, quantity).

    A device quantity is expected every ``period_s`` of its device; surplus readings of one do not
    make up for another's missing ones.
    """
    expected = received = 0.0
    for d in building.devices:
        for q in d.quantities:
            n = math.floor(span_s / d.period_s)
            expected += n
            received += min(float(got.get((d.id, q), 0)), n)
    return received / expected if expected else math.nan


def device_services(building: Building, src: ResolvedScenario) -> dict[str, tuple[str, str]]:
    """Device id -> (service id, kind: ``desk``, ``kiosk``, ``cafe``) of the service whose queue or
    transactions it reports, bound as the virtual sensors bind them (kiosks by id, queue counters
    to the nearest desk or cafe)."""
    from simulation.day.physics import load_physics, meter_scopes
    from simulation.day.sensors import VirtualSensors
    from simulation.day.services import load_services, service_layout

    layout = service_layout(load_services(src), building, src)
    points = [*layout.desks, *layout.kiosks, *layout.cafes]
    zones = [z.id for z in building.zones]
    vs = VirtualSensors(
        building, zone_ids=zones, opening_ids=[o.id for o in building.openings],
        seat_ids=[s.id for s in building.seats],
        service_ids=[p.id for p in points], services={p.id: (p.kind, p.floor_id, p.xy[0], p.xy[1]) for p in points},
        meter_floor=meter_scopes(building, load_physics(src, building)),
        zone_floor=[z.floor_id for z in building.zones], epoch0_s=0.0, rng=np.random.default_rng(0))
    out: dict[str, tuple[str, str]] = {}
    for blocks in vs.groups.values():
        for blk in blocks:
            if blk.how in ("queue", "served"):
                for dev, i in zip(blk.devices, blk.idx, strict=True):
                    out[dev] = (points[int(i)].id, points[int(i)].kind)
    return out


def _areas(building: Building) -> tuple[float, float]:
    user = sum(z.area_m2 for z in building.zones if z.kind not in STAFF_ZONE_KINDS)
    return float(user), float(building.area_m2)


# --------------------------------------------------------------------------- from stored history

def observations_from_store(store: Any, src: ResolvedScenario, building: Building, period: Period, *,
                            co2_limit_ppm: float = 1000.0) -> Observations:
    """What the branch's devices recorded over ``period``, read from a telemetry store.

    Readers in the building are the gate counts in minus out since the day's midnight (local);
    seat use is the share of seat sensors reporting occupied (per minute); queues and transactions
    come from kiosks and queue counters (a ``kiosk``-type device with a desk's id reports the desk's
    transactions); energy is the rise of the building-wide meters' cumulative ``energy``.

    The store does the heavy part: only the gate counters' readings come back raw; seats, queues,
    transactions, energy, CO2 and the availability counts come back aggregated (per minute, per
    device or per hour), so a month of minute data is read in a few small answers.
    """
    branch = building.branch_id
    a, b = period.start, period.end
    gates = _gate_openings(building)
    counters = {d.id for d in building.devices if d.type == "people_counter" and d.opening_id in gates}
    quantities = {q for d in building.devices for q in d.quantities}

    def raw(q: str) -> pd.DataFrame:
        if q not in quantities:
            return pd.DataFrame({"device": [], "time": [], "value": []})
        return store.series(branch=branch, quantity=q, start=a, end=b)

    def per_device(q: str, every: float, agg: str = "mean") -> pd.DataFrame:
        if q not in quantities:
            return pd.DataFrame({"device": [], "time": [], "value": [], "n": []})
        return store.series(branch=branch, quantity=q, start=a, end=b, every=every, agg=agg, per_device=True)

    ins, outs = raw("people_in"), raw("people_out")
    ins = ins.loc[ins["device"].isin(counters)]
    outs = outs.loc[outs["device"].isin(counters)]
    visits = float(ins["value"].sum())
    flow = pd.concat([ins[["time", "value"]], outs[["time", "value"]].assign(value=-outs["value"])])
    flow = flow.groupby("time")["value"].sum().sort_index()
    crossings = pd.concat([ins[["time", "value"]], outs[["time", "value"]]]).groupby("time")["value"].sum()
    tz = ZoneInfo(src.scenario.branch.timezone)
    inside = balanced_inside(flow, crossings.reindex(flow.index, fill_value=0.0), tz, period.open_intervals)
    t_in = inside.index.to_numpy(float)
    readers_in = np.clip(inside.to_numpy(float)[_in_open(t_in, period.open_intervals)], 0.0, None)

    share = (store.series(branch=branch, quantity="seat_occupied", start=a, end=b, every=RUN_SAMPLE_S, agg="mean")
             if "seat_occupied" in quantities else pd.DataFrame({"time": [], "value": []}))
    seats_in_use = share["value"].to_numpy(float)[_in_open(share["time"].to_numpy(float), period.open_intervals)]

    kinds = {d: k for d, (_, k) in device_services(building, src).items()}
    queues: dict[str, QueueObs] = {}
    tr = per_device("transactions", 86_400.0, "sum")
    period_of = {d.id: float(d.period_s) for d in building.devices if "queue_length" in d.quantities}
    for kind in ("desk", "kiosk"):
        devs = {d for d, k in kinds.items() if k == kind}
        # queue lengths in bins of the devices' own period, so each reading counts once (the share of
        # readings with someone waiting is part of the p90)
        step = min((period_of[d] for d in devs if d in period_of), default=RUN_SAMPLE_S)
        ql = per_device("queue_length", step)
        q = ql.loc[ql["device"].isin(devs)]
        total = q.groupby("time")["value"].sum()
        lengths = total.to_numpy(float)[_in_open(total.index.to_numpy(float), period.open_intervals)]
        t = tr.loc[tr["device"].isin(devs)]
        if len(q) or len(t):
            queues[kind] = QueueObs(lengths=lengths, served=float(t["value"].sum()) if len(t) else math.nan)

    energy = None
    if "energy" in quantities:  # cumulative meters: the rise is the largest minus the smallest reading
        lo, hi = per_device("energy", 3600.0, "min"), per_device("energy", 3600.0, "max")
        if len(hi):
            rise = hi.groupby("device")["value"].max() - lo.groupby("device")["value"].min()
            energy = rise
    energy_kwh = _meter_kwh(energy, building, src)
    co2_devs = [d for d in building.devices if "co2" in d.quantities]
    step = float(min((d.period_s for d in co2_devs), default=300.0))
    co2_h = 0.0
    if co2_devs:  # an interval is above the limit when any sensor's reading in it is
        top = store.series(branch=branch, quantity="co2", start=a, end=b, every=step, agg="max")
        co2_h = float((top["value"].to_numpy(float) > co2_limit_ppm).sum()) * step / 3600.0
    counts = store.counts(branch=branch, start=a, end=b)
    got = {(r.device, r.quantity): float(r.records) for r in counts.itertuples(index=False)}
    user_area, gross = _areas(building)
    return Observations(branch=branch, period=period, seats=building.seat_count, user_area_m2=user_area,
                        gross_area_m2=gross, visits=visits, readers_in=readers_in, seats_in_use=seats_in_use,
                        queues=queues, energy_kwh=energy_kwh, co2_hours_above=co2_h,
                        device_availability=availability_of_counts(got, building, b - a),
                        co2_limit_ppm=co2_limit_ppm)


#: A day's counts are balanced only when the store has them this long after the day's last closing [s]
#: (readers have left by then; before, the in-minus-out rest is people still inside, not drift).
BALANCE_AFTER_CLOSE_S = 1800.0


def balanced_inside(flow: pd.Series, crossings: pd.Series, tz: dt.tzinfo,
                    open_intervals: Sequence[tuple[float, float]]) -> pd.Series:
    """Readers inside at each counter reading time: in minus out since the local midnight, with each
    finished day's miscount taken out.

    Gate counters miss people and count some twice, so in minus out drifts and a day ends with a
    rest although the building is empty after closing. That rest is spread over the day in
    proportion to the crossings counted so far (each crossing is equally likely to be miscounted),
    so the corrected count ends the day at zero. A day is corrected when the counts go on for
    :data:`BALANCE_AFTER_CLOSE_S` past its last closing; the day still open is left as counted.

    ``flow`` is in minus out and ``crossings`` in plus out per reading time (index, epoch s).
    """
    if not len(flow):
        return flow
    day = np.asarray(pd.to_datetime(flow.index, unit="s", utc=True).tz_convert(tz).date)
    inside = flow.groupby(day).cumsum()
    counted = crossings.groupby(day).cumsum()
    last_time = float(flow.index.max())
    closes = pd.Series([b for _, b in open_intervals], dtype=float)
    close_day = np.asarray(pd.to_datetime(closes, unit="s", utc=True).dt.tz_convert(tz).dt.date)
    last_close = closes.groupby(close_day).max() if len(closes) else pd.Series(dtype=float)
    out = inside.to_numpy(float).copy()
    for d in np.unique(day):
        if d not in last_close.index or last_time < float(last_close[d]) + BALANCE_AFTER_CLOSE_S:
            continue
        sel = day == d
        total = float(counted.to_numpy(float)[sel][-1])
        if total > 0:
            rest = float(out[sel][-1])
            out[sel] -= rest * counted.to_numpy(float)[sel] / total
    return pd.Series(out, index=flow.index)


def _meter_kwh(energy: pd.Series | None, building: Building, src: ResolvedScenario) -> float:
    """Electricity over the period from building-wide meters: a ``total`` meter, else the sum of
    the end-use circuits (each meter's rise of its cumulative reading over the period, [Wh] per device) [kWh]."""
    if energy is None or not len(energy):
        return math.nan
    from simulation.day.physics import load_physics, meter_scopes

    scope = meter_scopes(building, load_physics(src, building))
    meters = {d.id: d.circuit or "total" for d in building.devices
              if d.type == "energy_meter" and scope.get(d.id) is None}
    rise = energy
    totals = [m for m, c in meters.items() if c in ("total", "main") and m in rise.index]
    use = totals[:1] or [m for m in meters if m in rise.index]
    return float(sum(rise[m] for m in use)) / 1000.0


# --------------------------------------------------------------------------- from a simulated run

def _step_counts(times: np.ndarray, deltas: np.ndarray, at: np.ndarray) -> np.ndarray:
    """A count changed by ``deltas`` at ``times``, read at ``at`` (changes at a time included)."""
    order = np.argsort(times, kind="stable")
    t = times[order]
    c = np.cumsum(deltas[order])
    i = np.searchsorted(t, at, side="right")
    return np.where(i > 0, c[np.maximum(i - 1, 0)], 0.0)


def _grid(period: Period, step_s: float, epoch0_s: float) -> np.ndarray:
    """Sample times every ``step_s`` from the run's start ``epoch0_s`` that fall in opening time
    (the times the virtual sensors of that period read at)."""
    parts = [epoch0_s + step_s * np.arange(math.ceil((a - epoch0_s) / step_s - 1e-9),
                                           math.ceil((b - epoch0_s) / step_s - 1e-9)) for a, b in period.open_intervals]
    return np.concatenate(parts) if parts else np.zeros(0)


def _watched_services(building: Building, src: ResolvedScenario) -> dict[tuple[str, str], tuple[set[str], float]]:
    """(quantity, kind) -> (services some device reports that quantity of, the shortest such period [s])
    for ``queue_length`` and ``transactions`` of desks and kiosks."""
    periods = {d.id: (float(d.period_s), set(d.quantities)) for d in building.devices}
    out: dict[tuple[str, str], tuple[set[str], float]] = {}
    for dev, (service, kind) in device_services(building, src).items():
        period_s, quantities = periods[dev]
        for q in ("queue_length", "transactions"):
            if q in quantities:
                seen, step = out.get((q, kind), (set(), math.inf))
                out[(q, kind)] = (seen | {service}, min(step, period_s))
    return out


def observations_from_run(events: pd.DataFrame, zones: pd.DataFrame, energy: pd.DataFrame, telemetry: pd.DataFrame,
                          meta: Mapping[str, Any], *, src: ResolvedScenario, building: Building,
                          period: Period | None = None, co2_limit_ppm: float = 1000.0) -> Observations:
    """The observations of a simulated run from its own tables (not its virtual sensors).

    The state is read every :data:`RUN_SAMPLE_S` of opening time: readers in (``arrive`` minus
    ``leave``), seats in use among the seats that carry a sensor in the building (all seats when
    none does: ``seat_take`` minus ``seat_leave``, less readers away on a break), parties waiting
    per kind of service (``service_queue`` minus ``service_start``/``service_reneged``);
    transactions are ``service_end`` rows; CO2 comes from the zones table for the zones with a CO2
    sensor; device availability from the run's telemetry.
    """
    from simulation.day.kpis import energy_kwh, visits

    epoch0 = float(meta["epoch0_s"])
    if period is None:
        first = dt.date.fromisoformat(str(meta["start"]))
        period = period_of_days(src, [first + dt.timedelta(days=k) for k in range(int(meta["days"]))],
                                first.isoformat())
    ev = events.assign(time=events["t_s"] + epoch0)
    ev = ev.loc[(ev["time"] >= period.start) & (ev["time"] < period.end)]
    grid = _grid(period, RUN_SAMPLE_S, epoch0)

    def count(plus: Sequence[str], minus: Sequence[str], rows: pd.DataFrame, weight: str | None = None,
              at: np.ndarray = grid) -> np.ndarray:
        r = rows.loc[rows["event"].isin([*plus, *minus])]
        sign = np.where(r["event"].isin(plus), 1.0, -1.0)
        w = r[weight].to_numpy(float) if weight else 1.0
        return _step_counts(r["time"].to_numpy(float), sign * w, at)

    readers_in = count(["arrive"], ["leave"], ev)
    sensed = {d.seat_id for d in building.devices if d.type == "seat_sensor" and d.seat_id}
    seat_rows = ev.loc[ev["event"].isin(["seat_take", "seat_leave"])]
    n_seats = building.seat_count
    if sensed:
        seat_rows = seat_rows.loc[seat_rows["ref"].isin(sensed)]
        n_seats = len(sensed)
    in_use = count(["seat_take"], ["seat_leave"], seat_rows)
    # readers on a break keep their seat but are away: seat sensors see them gone
    seat_readers = ev.loc[ev["event"] == "seat_take", ["party", "ref"]]
    if sensed:
        seat_readers = seat_readers.loc[seat_readers["ref"].isin(sensed)]
    per_party = seat_readers.groupby("party").size()
    brk = ev.loc[ev["event"].isin(["break_start", "break_end"]) & ev["party"].isin(per_party.index)]
    brk = brk.assign(n=per_party.reindex(brk["party"]).to_numpy(float))
    in_use = in_use - count(["break_start"], ["break_end"], brk, "n")
    seats_in_use = in_use / n_seats if n_seats else np.zeros(0)

    kinds = meta.get("services", {})
    watched = _watched_services(building, src) if kinds else {}
    queues: dict[str, QueueObs] = {}
    for kind in ("desk", "kiosk"):
        refs = [s for s, k in kinds.items() if k == kind]
        if not refs:
            continue
        # the services the branch's devices watch, read when they read them (all, every minute, if none does)
        seen, step = watched.get(("queue_length", kind), (set(refs), RUN_SAMPLE_S))
        rows = ev.loc[ev["ref"].isin(seen)]
        lengths = count(["service_queue"], ["service_start", "service_reneged"], rows,
                        at=_grid(period, step, epoch0))
        done = ev.loc[ev["ref"].isin(watched.get(("transactions", kind), (set(refs), 0.0))[0])]
        queues[kind] = QueueObs(lengths=lengths, served=float((done["event"] == "service_end").sum()))

    en = energy.assign(time=energy["t_s"] + epoch0)
    en = en.loc[(en["time"] >= period.start) & (en["time"] < period.end)]
    zz = zones.assign(time=zones["t_s"] + epoch0)
    zz = zz.loc[(zz["time"] >= period.start) & (zz["time"] < period.end) & zz["zone_id"].isin(_co2_zones(building))]
    step = float(np.min(np.diff(np.unique(zz["time"])))) if zz["time"].nunique() > 1 else 60.0
    user_area, gross = _areas(building)
    return Observations(
        branch=building.branch_id, period=period, seats=building.seat_count, user_area_m2=user_area,
        gross_area_m2=gross, visits=float(visits(ev)), readers_in=readers_in, seats_in_use=seats_in_use,
        queues=queues, energy_kwh=float(sum(energy_kwh(en).values())),
        co2_hours_above=_hours_any_above(zz["time"].to_numpy(float), zz["co2_ppm"].to_numpy(float), step,
                                         co2_limit_ppm),
        device_availability=availability(telemetry, building, period.start, period.end), co2_limit_ppm=co2_limit_ppm)
