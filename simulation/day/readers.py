"""Readers: what each visitor plans, which seat they choose, and their journey through the day.

Decisions are pure functions over arrays, so they can be tested and reused:

- :func:`plan_visit`: the activities of one visit (return books, ask a question, browse subjects,
  study at a seat or in a group room, spend time in the children's library, borrow, leave),
  drawn from the visitor type's probabilities;
- :func:`seat_utilities` and :func:`choose_seat`: a multinomial-logit choice over free seats
  (window, power, quiet, group, computer, lounge, walking distance, strangers at the table),
  sampled exactly with the Gumbel-max trick; :func:`choose_table` seats a party together;
- :func:`break_schedule`: restroom and cafe breaks during a stay (a Poisson process).

:class:`Reader` is the Mesa agent of one person; a :class:`Party` (one reader, a group, a
parent with children) moves together, and :meth:`Party.journey` is its SimPy process: enter
through a gate, do the plan, leave by the same door. Everyone is asked to leave at the closing
call; a party that finds no acceptable seat searches for ``search_s`` and leaves (turned away).
Walking goes through the :class:`~simulation.day.walker.Walker` protocol. A journey sees its day
only through a :class:`VisitContext`: the clock, the generator, the walker, where things are and
what the day records.

References
----------
McFadden, D. (1974). Conditional logit analysis of qualitative choice behavior. In Zarembka (ed.),
Frontiers in Econometrics, 105-142.
Gumbel, E.J. (1954). Statistical theory of extreme values and some practical applications.
NBS Applied Mathematics Series 33 (the argmax of utilities plus Gumbel noise is a logit draw).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import mesa
import numpy as np
import simpy
from numpy.typing import NDArray

from geometry.model import Building

from .demand import SeatPreferences, VisitorType
from .services import GroupRoom, Service
from .walker import Place, Walker, WalkResult

F = NDArray[np.float64]

#: Seat attributes the logit model weighs, in this order (columns of :attr:`SeatBook.attrs`).
SEAT_ATTRS: tuple[str, ...] = ("window", "power", "quiet", "group", "computer", "lounge", "accessible")
_TABLE = re.compile(r"^(.*-r\d+c\d+)-\d+$")


# --------------------------------------------------------------------------- activity plans

@dataclass(frozen=True)
class Step:
    """One activity of a visit.

    ``kind``: ``service`` (``task`` borrow/return/help), ``browse`` (``subject``, ``duration_s``),
    ``seat`` (``duration_s`` seated, ``breaks``), ``group`` (a group room or a shared table),
    ``children`` (time in a children's zone), ``event`` (``event`` id).
    """

    kind: str
    task: str | None = None
    subject: str | None = None
    duration_s: float = 0.0
    breaks: tuple[tuple[float, float, str], ...] = ()
    event: str | None = None


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]

    def kinds(self) -> list[str]:
        return [s.kind for s in self.steps]


def break_schedule(stay_s: float, breaks_per_h: float, break_s: Any, cafe_p: float,
                   rng: np.random.Generator, restroom_s: Any = None) -> tuple[tuple[float, float, str], ...]:
    """Breaks during a stay: (start offset [s], length [s], ``cafe`` or ``restroom``).

    Break starts form a Poisson process of rate ``breaks_per_h`` over the stay; a share ``cafe_p``
    go to a cafe (length from ``break_s``), the others to a restroom (from ``restroom_s``, or
    ``break_s`` when not given); a break that would overlap the previous one starts after it.
    """
    if breaks_per_h <= 0 or stay_s <= 0:
        return ()
    n = int(rng.poisson(breaks_per_h * stay_s / 3600.0))
    if n == 0:
        return ()
    starts = np.sort(rng.uniform(0.0, stay_s, n))
    cafe = rng.random(n) < cafe_p
    lengths = np.atleast_1d(break_s.sample(rng, n))
    if restroom_s is not None:
        lengths = np.where(cafe, lengths, np.atleast_1d(restroom_s.sample(rng, n)))
    where = np.where(cafe, "cafe", "restroom")
    out = []
    free_from = 0.0
    for s, d, w in zip(starts, lengths, where, strict=True):
        s = max(float(s), free_from)
        if s >= stay_s:
            break
        out.append((s, float(d), str(w)))
        free_from = s + float(d)
    return tuple(out)


def plan_visit(vt: VisitorType, rng: np.random.Generator, *, subjects: Sequence[str] = (),
               subject_weights: Sequence[float] | None = None, has_children_zone: bool = True,
               has_group_rooms: bool = True, event: str | None = None, event_s: float = 0.0) -> Plan:
    """Draw the activities of one visit from the visitor type's probabilities.

    Order: return books, ask a question, attend the event, spend time in the children's area,
    browse subjects, study (seat or group room), borrow, leave.

    Parameters
    ----------
    vt
        The visitor type.
    subjects, subject_weights
        Subjects of the collection map and their browsing weights.
    event, event_s
        The event the party comes for and its remaining length [s].
    """
    steps: list[Step] = []
    if rng.random() < vt.return_p:
        steps.append(Step("service", task="return"))
    if rng.random() < vt.help_p:
        steps.append(Step("service", task="help"))
    if event is not None:
        steps.append(Step("event", event=event, duration_s=event_s))
    if has_children_zone and rng.random() < vt.children_p:
        steps.append(Step("children", duration_s=float(vt.stay_s.sample(rng))))
    if subjects and rng.random() < vt.browse_p:
        k = min(len(subjects), 1 + int(rng.poisson(vt.browse_subjects_extra)))
        w = np.asarray(subject_weights if subject_weights is not None else np.ones(len(subjects)), dtype=float)
        chosen = rng.choice(len(subjects), size=k, replace=False, p=w / w.sum())
        for c in chosen:
            steps.append(Step("browse", subject=subjects[int(c)], duration_s=float(vt.browse_s.sample(rng))))
    group_room = has_group_rooms and rng.random() < vt.group_room_p
    if group_room or rng.random() < vt.seat_p:
        stay = float(vt.stay_s.sample(rng))
        breaks = break_schedule(stay, vt.breaks_per_h, vt.break_s, vt.cafe_p, rng, vt.restroom_s)
        steps.append(Step("group" if group_room else "seat", duration_s=stay, breaks=breaks))
    if rng.random() < vt.borrow_p:
        steps.append(Step("service", task="borrow"))
    return Plan(tuple(steps))


# --------------------------------------------------------------------------- seat choice

def seat_utilities(attrs: NDArray[np.bool_], coefs: F, distance_m: F, neighbours: NDArray[np.int64] | F,
                   *, distance_per_m: float, neighbour_coef: float) -> F:
    """Systematic utility of every seat: ``attrs @ coefs + distance_per_m d + neighbour_coef n``.

    Parameters
    ----------
    attrs
        Seat attributes, shape (seats, attributes).
    coefs
        Utility of each attribute.
    distance_m
        Walk to each seat [m] (inf where unreachable: utility -inf).
    neighbours
        Occupied seats at the same table.
    """
    d = np.asarray(distance_m, dtype=float)
    v = attrs.astype(float) @ np.asarray(coefs, dtype=float) + neighbour_coef * np.asarray(neighbours, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(d), v + distance_per_m * np.where(np.isfinite(d), d, 0.0), -np.inf)


def logit_probabilities(v: F, available: NDArray[np.bool_]) -> F:
    """Multinomial-logit choice probabilities over the available alternatives (McFadden 1974)."""
    ok = available & np.isfinite(v)
    p = np.zeros_like(v, dtype=float)
    if ok.any():
        x = v[ok] - v[ok].max()
        e = np.exp(x)
        p[ok] = e / e.sum()
    return p


def choose_seat(v: F, available: NDArray[np.bool_], rng: np.random.Generator,
                min_utility: float | None = None) -> int:
    """A logit draw over available seats (Gumbel-max): the seat index, or -1 if none is acceptable.

    A seat is acceptable when available, reachable (finite utility) and, if given, its
    systematic utility is at least ``min_utility``.
    """
    ok = available & np.isfinite(v)
    if min_utility is not None:
        ok &= v >= min_utility
    idx = np.flatnonzero(ok)
    if idx.size == 0:
        return -1
    g = rng.gumbel(size=idx.size)
    return int(idx[int(np.argmax(v[idx] + g))])


def choose_table(v: F, available: NDArray[np.bool_], tables: NDArray[np.int64], k: int,
                 rng: np.random.Generator, min_utility: float | None = None) -> NDArray[np.int64]:
    """Seats for a party of ``k`` at one table: a logit draw over tables with ``k`` acceptable free seats.

    A table's utility is the mean utility of its ``k`` best free seats; the party takes those.

    Returns
    -------
    numpy.ndarray
        ``k`` seat indices, or an empty array when no table has room.
    """
    ok = available & np.isfinite(v)
    if min_utility is not None:
        ok &= v >= min_utility
    idx = np.flatnonzero(ok)
    if idx.size < k:
        return np.zeros(0, dtype=np.int64)
    order = idx[np.lexsort((-v[idx], tables[idx]))]  # by table, best seat first
    t = tables[order]
    starts = np.flatnonzero(np.r_[True, t[1:] != t[:-1]])
    ends = np.r_[starts[1:], t.size]
    big = starts[(ends - starts) >= k]
    if big.size == 0:
        return np.zeros(0, dtype=np.int64)
    cum = np.r_[0.0, np.cumsum(v[order])]
    util = (cum[big + k] - cum[big]) / k
    pick = int(big[int(np.argmax(util + rng.gumbel(size=big.size)))])
    return order[pick:pick + k].astype(np.int64)


class SeatBook:
    """Every seat of the building: attributes, table, zone, who holds it and whether they sit there.

    A seat is held from the moment it is chosen (so two readers never choose the same seat)
    until its reader leaves it; ``present`` is False while the reader walks to it or is on a
    break (seat sensors see presence, occupancy counts holding).
    """

    def __init__(self, building: Building, *, reserved: Sequence[str] = ()) -> None:
        seats = list(building.seats)
        self.ids = [s.id for s in seats]
        self.index = {sid: i for i, sid in enumerate(self.ids)}
        self.floor_ids = [s.floor_id for s in seats]
        self.zone_ids = [s.zone_id for s in seats]
        kind = {z.id: z.kind for z in building.zones}
        self.zone_kinds = np.array([kind[s.zone_id] for s in seats], dtype=object)
        self.attrs = np.array([[a in s.attrs for a in SEAT_ATTRS] for s in seats], dtype=bool).reshape(
            len(seats), len(SEAT_ATTRS))
        keys: dict[str, int] = {}
        tables = []
        for s in seats:
            m = _TABLE.match(s.id)
            key = m.group(1) if m else s.id
            tables.append(keys.setdefault(key, len(keys)))
        self.tables = np.array(tables, dtype=np.int64)
        self.n_tables = len(keys)
        self.holder = np.full(len(seats), -1, dtype=np.int64)
        self.present = np.zeros(len(seats), dtype=bool)
        self.reserved = np.zeros(len(seats), dtype=bool)
        for sid in reserved:
            self.reserved[self.index[sid]] = True
        self.taken_count = 0
        self._kind_masks: dict[tuple[str, ...], NDArray[np.bool_]] = {}

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def free(self) -> NDArray[np.bool_]:
        return self.holder < 0

    def neighbours(self) -> NDArray[np.int64]:
        """Occupied (held) seats at each seat's table, the seat itself excluded."""
        held = (self.holder >= 0).astype(np.int64)
        per_table = np.bincount(self.tables, weights=held, minlength=self.n_tables).astype(np.int64)
        return per_table[self.tables] - held

    def in_zone_kinds(self, kinds: Sequence[str]) -> NDArray[np.bool_]:
        key = tuple(sorted(kinds))
        m = self._kind_masks.get(key)
        if m is None:
            m = np.isin(self.zone_kinds, list(kinds)) & ~self.reserved
            self._kind_masks[key] = m
        return m

    def hold(self, i: int, reader: int) -> None:
        if self.holder[i] >= 0:
            raise RuntimeError(f"seat '{self.ids[i]}' is held by reader {self.holder[i]}, not free for {reader}")
        self.holder[i] = reader
        self.taken_count += 1

    def release(self, i: int, reader: int) -> None:
        if self.holder[i] != reader:
            raise RuntimeError(f"reader {reader} leaves seat '{self.ids[i]}' held by {self.holder[i]}")
        self.holder[i] = -1
        self.present[i] = False
        self.taken_count -= 1

    def utilities(self, prefs: SeatPreferences, distance_m: F) -> F:
        return seat_utilities(self.attrs, prefs.coefficients(SEAT_ATTRS), distance_m, self.neighbours(),
                              distance_per_m=prefs.distance_per_m, neighbour_coef=prefs.neighbours)


# --------------------------------------------------------------------------- agents

class Reader(mesa.Agent):  # type: ignore[misc]  # mesa has no type hints
    """One visitor (a Mesa agent): type, party, walking speed; seat and distance walked."""

    def __init__(self, model: mesa.Model, *, visitor_type: str, party: int, speed_m_s: float) -> None:
        super().__init__(model)
        self.visitor_type = visitor_type
        self.party = party
        self.speed_m_s = speed_m_s
        self.seat = -1
        self.walked_m = 0.0

    def choose_seat(self, book: SeatBook, prefs: SeatPreferences, distance_m: F, rng: np.random.Generator) -> int:
        """This reader's logit choice of a free acceptable seat (-1: none)."""
        ok = book.free & book.in_zone_kinds(prefs.zone_kinds)
        return choose_seat(book.utilities(prefs, distance_m), ok, rng, prefs.min_utility)


@dataclass(frozen=True, kw_only=True)
class VisitContext:
    """What a party's journey may use of its day, and nothing else.

    Attributes
    ----------
    env, rng, walker
        The day's SimPy clock, its one random generator and its walker.
    call_time_s
        When readers present at a time [s] are asked to leave [s].
    enter, leave, moved, log
        Record arriving through the gate, leaving by it, a finished walk (``party, from, to,
        result``), an event (``event, party, ref=, value=``).
    choose_service, service_place, cafe_at
        The desk or kiosk for a task (None when none is open), where a service is, the cafe at a
        place (None if the place is no cafe).
    subject_place, children_place, break_place, event_place
        Where a subject is shelved nearest a place, the nearest children's area, where to take a
        break (``cafe`` or ``restroom``), and the place and end time [s] of an event.
    find_seats, seat_place, sit, stand, away
        Hold seats for a party (a logit draw; [] when none), where a seat is, sit down, stand up and
        give the seats back, leave them for a break or come back (``away`` True/False).
    book_room, room_place, room_seats, release_room
        Group rooms: book one for a stay [s], where it is, its seats for the party, release it.
    """

    env: simpy.Environment
    rng: np.random.Generator
    walker: Walker
    call_time_s: Callable[[float], float]
    enter: Callable[[Party], None]
    leave: Callable[[Party], None]
    moved: Callable[[Party, Place, Place, WalkResult], None]
    log: Callable[..., None]
    choose_service: Callable[[Party, str], Service | None]
    service_place: Callable[[Service], Place]
    cafe_at: Callable[[Place], Service | None]
    subject_place: Callable[[str, Place], Place | None]
    children_place: Callable[[Place], Place | None]
    break_place: Callable[[str, Place], Place | None]
    event_place: Callable[[str], tuple[Place, float]]
    find_seats: Callable[[Party], list[int]]
    seat_place: Callable[[int], Place]
    sit: Callable[[Party, Sequence[int]], None]
    stand: Callable[[Party], None]
    away: Callable[[Party, bool], None]
    book_room: Callable[[Party, float], GroupRoom | None]
    room_place: Callable[[GroupRoom], Place]
    room_seats: Callable[[GroupRoom, Party], list[int]]
    release_room: Callable[[Party, GroupRoom], None]


class Party:
    """Readers who come, move and leave together (one reader, a study group, a parent with children).

    The party walks at its slowest member's speed; it is what a :class:`Walker` moves.
    """

    def __init__(self, pid: int, members: Sequence[Reader], vt_name: str, vt: VisitorType, plan: Plan,
                 entrance: Place, *, use_lifts: bool, event: str | None = None) -> None:
        self.id = pid
        self.members = list(members)
        self.vt_name = vt_name
        self.vt = vt
        self.plan = plan
        self.entrance = entrance
        self.place = entrance
        self.use_lifts = use_lifts
        self.speed_m_s = min(m.speed_m_s for m in members)
        self.event = event
        self.seats: list[int] = []
        self.call_s = math.inf
        self.turned_away = False

    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def leader(self) -> Reader:
        return self.members[0]

    # ------------------------------------------------------------- the journey
    def journey(self, ctx: VisitContext) -> Generator[simpy.Event, Any, None]:
        """The party's visit: a SimPy process body."""
        env = ctx.env
        self.call_s = ctx.call_time_s(env.now)
        ctx.enter(self)
        for step in self.plan.steps:
            if env.now >= self.call_s:
                break
            if step.kind == "service":
                yield from self._service(ctx, str(step.task))
            elif step.kind == "browse":
                yield from self._browse(ctx, step)
            elif step.kind in ("seat", "group"):
                ok = yield from self._study(ctx, step)
                if not ok:
                    break
            elif step.kind == "children":
                yield from self._zone_stay(ctx, ctx.children_place(self.place), step.duration_s, "children")
            elif step.kind == "event":
                place, end_s = ctx.event_place(str(step.event))
                yield from self._zone_stay(ctx, place, end_s - env.now, "event")
        yield from self.walk(ctx, self.entrance)
        ctx.leave(self)

    def walk(self, ctx: VisitContext, to: Place) -> Generator[simpy.Event, Any, WalkResult | None]:
        """Walk the party to ``to`` (through the day's walker) and tell the day it moved."""
        if to == self.place:
            return None
        res: WalkResult = yield ctx.walker.walk(self, self.place.floor_id, self.place.xy, to)
        ctx.moved(self, self.place, to, res)
        self.place = to
        return res

    def _left_s(self, ctx: VisitContext, want_s: float) -> float:
        return max(0.0, min(want_s, self.call_s - ctx.env.now))

    def _service(self, ctx: VisitContext, task: str) -> Generator[simpy.Event, Any, None]:
        svc = ctx.choose_service(self, task)
        if svc is None:
            ctx.log("service_skipped", self, ref=task)
            return
        yield from self.walk(ctx, ctx.service_place(svc))
        yield from self._use(ctx, svc, task)

    def _use(self, ctx: VisitContext, svc: Service, task: str,
             patience_s: float = math.inf) -> Generator[simpy.Event, Any, None]:
        """Queue at a service (until the closing call at most) and be served, logging each stage."""
        ctx.log("service_queue", self, ref=svc.id, value=float(svc.queue_length))
        got = yield from svc.serve(task, ctx.rng, patience_s=min(patience_s, self.call_s - ctx.env.now),
                                   on_start=lambda w: ctx.log("service_start", self, ref=svc.id, value=w))
        if got is None:
            ctx.log("service_reneged", self, ref=svc.id, value=0.0)
        else:
            ctx.log("service_end", self, ref=svc.id, value=got[1])

    def _browse(self, ctx: VisitContext, step: Step) -> Generator[simpy.Event, Any, None]:
        place = ctx.subject_place(str(step.subject), self.place)
        if place is None:
            return
        yield from self.walk(ctx, place)
        ctx.log("browse_start", self, ref=place.ref)
        yield ctx.env.timeout(self._left_s(ctx, step.duration_s))
        ctx.log("browse_end", self, ref=place.ref)

    def _zone_stay(self, ctx: VisitContext, place: Place | None, stay_s: float,
                   what: str) -> Generator[simpy.Event, Any, None]:
        if place is None:
            return
        yield from self.walk(ctx, place)
        ctx.log(f"{what}_start", self, ref=place.ref)
        yield ctx.env.timeout(self._left_s(ctx, stay_s))
        ctx.log(f"{what}_end", self, ref=place.ref)

    def _study(self, ctx: VisitContext, step: Step) -> Generator[simpy.Event, Any, bool]:
        """Find seats (or a group room), sit with breaks, stand up. False when turned away."""
        env = ctx.env
        room = ctx.book_room(self, step.duration_s) if step.kind == "group" else None
        if room is not None:
            # the booking is for at most the room's longest booking, from now
            step = replace(step, duration_s=min(step.duration_s, room.until_s - env.now))
            place = ctx.room_place(room)
            yield from self.walk(ctx, place)
            seats = ctx.room_seats(room, self)
            if seats:
                ctx.sit(self, seats)
            yield from self._sit_out(ctx, step, place)
            if seats:
                ctx.stand(self)
            ctx.release_room(self, room)
            return True
        start = env.now
        while True:
            seats = ctx.find_seats(self)
            if seats:
                break
            waited = env.now - start
            if waited >= self.vt.search_s or env.now >= self.call_s:
                self.turned_away = True
                ctx.log("turned_away", self, value=waited)
                return False
            # look around the floor for a while, then try again
            yield env.timeout(max(1.0, min(self.vt.search_s / 2.0, self.vt.search_s - waited)))
        yield from self.walk(ctx, ctx.seat_place(seats[0]))
        ctx.sit(self, seats)
        yield from self._sit_out(ctx, step, self.place)
        ctx.stand(self)
        return True

    def _sit_out(self, ctx: VisitContext, step: Step, home: Place) -> Generator[simpy.Event, Any, None]:
        env = ctx.env
        t0 = env.now
        stay = self._left_s(ctx, step.duration_s)
        for offset, length, where in step.breaks:
            if t0 + offset >= t0 + stay or env.now >= self.call_s:
                break
            yield env.timeout(max(0.0, t0 + offset - env.now))
            target = ctx.break_place(where, self.place)
            if target is None:
                continue
            ctx.away(self, True)
            ctx.log("break_start", self, ref=target.ref)
            yield from self.walk(ctx, target)
            if where == "cafe":
                svc = ctx.cafe_at(target)
                if svc is not None:  # queue no longer than the break was to last
                    yield from self._use(ctx, svc, "cafe", patience_s=length)
            yield env.timeout(self._left_s(ctx, length))
            yield from self.walk(ctx, home)
            ctx.log("break_end", self, ref=target.ref)
            ctx.away(self, False)
        yield env.timeout(max(0.0, min(t0 + stay, self.call_s) - env.now))


def seat_table_keys(seat_ids: Sequence[str]) -> list[str]:
    """The table of each seat (``{block}-r{row}c{col}``), or the seat itself for carrels and singles."""
    out = []
    for sid in seat_ids:
        m = _TABLE.match(sid)
        out.append(m.group(1) if m else sid)
    return out

