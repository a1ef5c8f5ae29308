"""A library day that starts from a state: readers already inside, seats taken, queues waiting.

A what-if "from now" forks the simulation from what the live twin knows at one instant: how many
readers are in each zone, how many of them sit, how many wait at each service, the zone CO2.
:class:`StartState` holds that, :func:`present_parties` turns it into the parties the engine
places at the start (:class:`~simulation.day.library_day.LibraryDay` with ``start_state``).

What a sensor cannot tell (who each reader is, how long they will still stay) is drawn: the
visitor type and the time left of a reader present at ``t`` follow from the day's arrival rate
``lambda(u)`` and the stay distribution ``S``: a reader who came at ``u`` with stay ``s`` is
still in at ``t`` when ``u + s > t``, so drawing ``u`` from ``lambda`` before ``t`` and ``s``
from ``S`` and keeping the pairs still in gives readers present at ``t`` with the right mix of
types and the right residual stays ``u + s - t`` (the M(t)/G/infinity queue; Eick, Massey and
Whitt 1993).

References
----------
Eick, S.G., Massey, W.A., Whitt, W. (1993). The physics of the M(t)/G/infinity queue.
Operations Research 41(4), 731-742.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .demand import DemandSpec, VisitorType, hourly_rate_pieces
from .readers import Plan, Step, break_schedule


@dataclass(frozen=True, kw_only=True)
class StartState:
    """What is in the branch at the start of a forked run.

    Attributes
    ----------
    time_s
        Start time [s after local midnight of the run's first day].
    readers
        Zone id -> readers in the zone (staff not counted).
    seated
        Zone id -> how many of those readers sit (at most the zone's readers; those for whom the
        zone has no seat, e.g. in a variant that removed seats, look for a seat elsewhere).
    queues
        Service id (desk, kiosk, cafe) -> readers waiting there; they count on top of ``readers``.
    co2_ppm
        Zone id -> CO2 concentration now [ppm] (zones not given start at the outdoor level).
    temperature_c
        Zone id -> air temperature now [degC] (the zone's fabric starts at it too; zones not given
        start at the physics section's initial temperature).
    """

    time_s: float
    readers: Mapping[str, int] = field(default_factory=dict)
    seated: Mapping[str, int] = field(default_factory=dict)
    queues: Mapping[str, int] = field(default_factory=dict)
    co2_ppm: Mapping[str, float] = field(default_factory=dict)
    temperature_c: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 <= self.time_s < 86400.0:
            raise ValueError(f"start time {self.time_s} s is not within a day (0-86400 s after midnight)")
        for name, counts in (("readers", self.readers), ("seated", self.seated), ("queues", self.queues)):
            for k, v in counts.items():
                if int(v) != v or v < 0:
                    raise ValueError(f"{name} of '{k}' must be a whole number >= 0, got {v}")
        for z, n in self.seated.items():
            if n > self.readers.get(z, 0):
                raise ValueError(f"zone '{z}': {n} seated but only {self.readers.get(z, 0)} readers")

    @property
    def total(self) -> int:
        """Readers in the building, queues included."""
        return int(sum(self.readers.values()) + sum(self.queues.values()))


@dataclass(frozen=True)
class PresentParty:
    """A reader inside when the run starts: where, doing what, of which type, for how much longer."""

    zone_id: str
    visitor_type: str
    plan: Plan
    seated: bool = False
    service_id: str | None = None


def residual_stays(demand: DemandSpec, day_type: str, intervals: Sequence[tuple[float, float]], t_s: float,
                   weights: Mapping[str, float], duration: Mapping[str, VisitorType | None], n: int,
                   rng: np.random.Generator, *, seated: bool) -> list[tuple[str, float]]:
    """Visitor type and time left [s] of ``n`` readers present at ``t_s`` (see the module docstring).

    Parameters
    ----------
    day_type, intervals
        The day's type and its opening intervals (entry allowed) [s after midnight].
    weights
        Visitor type -> relative weight among those who do this (share x probability).
    duration
        Visitor type -> its type (seated: ``stay_s``; otherwise ``stay_s`` for children's-area
        visitors, ``browse_s`` for the others).
    seated
        Draw seated stays (``stay_s``) or stays on foot.
    """
    names = [k for k, w in weights.items() if w > 0]
    if n <= 0:
        return []
    if not names:
        raise ValueError("no visitor type of the demand does this (all weights are zero)")
    p = np.array([weights[k] for k in names], dtype=float)
    p /= p.sum()
    edges, rates = hourly_rate_pieces(demand.day_types[day_type], intervals)
    before = np.clip(edges, None, t_s)
    mass = rates * np.diff(before) if rates.size else np.zeros(0)
    out: list[tuple[str, float]] = []
    for _ in range(200):
        m = max(64, 4 * (n - len(out)))
        k = rng.choice(len(names), size=m, p=p)
        if mass.sum() > 0:
            piece = rng.choice(len(mass), size=m, p=mass / mass.sum())
            u = before[piece] + rng.random(m) * (before[piece + 1] - before[piece])
        else:  # nobody could have come yet: stays count from now
            u = np.full(m, t_s)
        s = np.empty(m)
        for j, name in enumerate(names):
            sel = k == j
            if sel.any():
                vt = duration[name]
                assert vt is not None
                dist = vt.stay_s if seated or vt.children_p > 0 else vt.browse_s
                s[sel] = np.atleast_1d(dist.sample(rng, int(sel.sum())))
        left = u + s - t_s
        for i in np.flatnonzero(left > 0):
            out.append((names[int(k[i])], float(left[i])))
            if len(out) == n:
                return out
    raise RuntimeError(f"could not draw {n} readers present at {t_s:.0f} s")


def present_parties(state: StartState, demand: DemandSpec, day_type: str,
                    intervals: Sequence[tuple[float, float]], service_tasks: Mapping[str, Sequence[str]],
                    rng: np.random.Generator) -> list[PresentParty]:
    """The readers of a start state, each with a type and what is left of their visit.

    Seated readers sit out their residual stay (with breaks) and may borrow on the way out;
    readers on foot stay their residual browse (or children's-area) time where they are; readers
    in a queue are served and leave.

    Parameters
    ----------
    service_tasks
        Service id -> the tasks it serves (a queued reader's task is its first of borrow,
        return, help, cafe).
    """
    vts = demand.visitor_types
    shares = demand.shares_on(day_type)
    t = state.time_s
    out: list[PresentParty] = []
    for zone, total in sorted(state.readers.items()):
        n_seat = int(state.seated.get(zone, 0))
        seat_w = {k: shares.get(k, 0.0) * max(v.seat_p, v.group_room_p) for k, v in vts.items()}
        foot_w = {k: shares.get(k, 0.0) * (1.0 - max(v.seat_p, v.group_room_p)) for k, v in vts.items()}
        if not any(foot_w.values()):
            foot_w = {k: shares.get(k, 0.0) for k in vts}
        for name, left in residual_stays(demand, day_type, intervals, t, seat_w, vts, n_seat, rng, seated=True):
            vt = vts[name]
            breaks = break_schedule(left, vt.breaks_per_h, vt.break_s, vt.cafe_p, rng, vt.restroom_s)
            steps = [Step("seated", duration_s=left, breaks=breaks), *_tail(vt, rng)]
            out.append(PresentParty(zone, name, Plan(tuple(steps)), seated=True))
        for name, left in residual_stays(demand, day_type, intervals, t, foot_w, vts, int(total) - n_seat, rng,
                                         seated=False):
            out.append(PresentParty(zone, name, Plan((Step("here", duration_s=left), *_tail(vts[name], rng)))))
    for svc, n in sorted(state.queues.items()):
        tasks = list(service_tasks[svc])
        task = next((x for x in ("borrow", "return", "help", "cafe") if x in tasks), tasks[0] if tasks else "help")
        w = {k: shares.get(k, 0.0) for k in vts}
        for _ in range(int(n)):
            name = str(rng.choice(list(w), p=np.array(list(w.values())) / sum(w.values())))
            out.append(PresentParty("", name, Plan((Step("queue", task=task, ref=svc),)), service_id=svc))
    return out


def _tail(vt: VisitorType, rng: np.random.Generator) -> tuple[Step, ...]:
    """What a reader still does on the way out: borrow (with the type's probability)."""
    return (Step("service", task="borrow"),) if rng.random() < vt.borrow_p else ()


def clip_intervals(intervals: Sequence[tuple[float, float]], t0_s: float,
                   t1_s: float = math.inf) -> list[tuple[float, float]]:
    """Intervals cut to ``[t0_s, t1_s]`` (empty ones dropped) [s]."""
    return [(max(a, t0_s), min(b, t1_s)) for a, b in intervals if min(b, t1_s) > max(a, t0_s)]


def state_at(events: pd.DataFrame, zones: pd.DataFrame, t_s: float) -> StartState:
    """What a perfect live twin would know of a simulated run at ``t_s``: its start state then.

    Readers per zone follow each party's last ``arrive``/``walk`` before ``t_s`` (a walking party
    counts in the zone it left, as in the engine); readers queuing (``service_queue`` not yet
    followed by ``service_start``/``service_reneged``) count in ``queues`` instead; seated
    readers are seats taken minus left per zone (at most the zone's readers: a reader on a break
    keeps a seat elsewhere); CO2 and temperature are each zone's values at the last physics step
    before ``t_s``.

    Parameters
    ----------
    events, zones
        Tables of a run (:class:`~simulation.day.library_day.DayResult`).
    t_s
        When [s after the run's first midnight; within the first day].
    """
    before = events.loc[events["t_s"] < t_s]
    gone = set(before.loc[before["event"] == "leave", "party"])
    arrive = before.loc[(before["event"] == "arrive") & ~before["party"].isin(gone)]
    size = arrive.groupby("party").size()
    moves = before.loc[before["event"].isin(["arrive", "walk"]) & before["party"].isin(size.index)]
    where = moves.groupby("party")["zone_id"].last()
    q = before.loc[before["event"].isin(["service_queue", "service_start", "service_reneged"])
                   & before["party"].isin(size.index)]
    last_q = q.groupby("party")[["event", "ref"]].last()
    queued = last_q.loc[last_q["event"] == "service_queue"]
    queues = {str(r): int(size.loc[queued.index[queued["ref"] == r]].sum()) for r in sorted(set(queued["ref"]))}
    inside = size.drop(index=queued.index)
    readers = inside.groupby(where.loc[inside.index].to_numpy()).sum()
    seats = before.loc[before["event"].isin(["seat_take", "seat_leave"])]
    taken = seats.assign(d=np.where(seats["event"] == "seat_take", 1, -1)).groupby("zone_id")["d"].sum()
    seated = {str(z): int(min(n, readers.get(z, 0))) for z, n in taken.items() if n > 0}
    last = zones.loc[zones["t_s"] < t_s]
    co2 = last.loc[last["t_s"] == last["t_s"].max()] if len(last) else last
    return StartState(time_s=float(t_s) % 86400.0, readers={str(z): int(n) for z, n in readers.items() if n > 0},
                      seated={z: n for z, n in seated.items() if n > 0}, queues=queues,
                      co2_ppm={str(z): float(c) for z, c in zip(co2["zone_id"], co2["co2_ppm"], strict=True)},
                      temperature_c={str(z): float(c) for z, c in zip(co2["zone_id"], co2["temperature_c"],
                                                                     strict=True)})
