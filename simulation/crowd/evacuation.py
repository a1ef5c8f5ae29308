"""Evacuation of a building: place people, move everyone to the nearest open exit, measure.

:func:`run_evacuation` places people in seats and zones (:func:`place_people`), gives each floor
one evacuation field (nearest open exit, through stairs where faster; see
:meth:`~simulation.crowd.navigation.Navigator.evacuation_target`) and moves everyone with the crowd
kernel in frames of ``frame_s``. Someone reaching a stair landing leaves the floor, walks the
flight (``length_m / stair_speed_m_s``; the stair lets at most ``stair_flow_per_m_s x width_m``
persons per second onto it) and steps off on the other floor as soon as the landing has room.
It reports the evacuation time per floor and overall, the flow through each exit and the largest
density seen (persons per m2 of walkable floor in a square window, every frame).
:func:`write_outputs` writes ``summary.json``, a picture (``evacuation.png``: peak density per
floor and people out over time per exit) and, if asked, trajectories PedPy can load (one plain
text file per floor, ``trajectories-<floor>.txt``, with the walkable area as WKT next to it).

References
----------
Weidmann, U. (1993). Transporttechnik der Fussgaenger (free speed 1.34 +- 0.26 m/s).
SFPE Handbook of Fire Protection Engineering, 5th ed. (2016), ch. 64: stair speeds and the
maximum specific flow of stairs, about 1.0 persons/(m s).
RiMEA Guideline for microscopic evacuation analysis, 4.0 (2022).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from geometry.model import Building

from .movement import Crowd, CSMParameters
from .navigation import FREE_SPEED_M_S, STAIR_SPEED_M_S
from .routes import NoRouteError

#: Standard deviation of free walking speeds [m/s] (Weidmann 1993).
FREE_SPEED_SD_M_S = 0.26
#: Maximum specific flow onto a stair [persons/(m s)] (SFPE Handbook, about 1.0).
STAIR_FLOW_PER_M_S = 1.0
#: How people choose their way out (see :class:`EvacuationConfig`).
ROUTE_CHOICES: tuple[str, ...] = ("dynamic", "static")


class EvacuationInputError(ValueError):
    """A mistake in what was asked (people count, occupancy file, blocked exit)."""


@dataclass(frozen=True)
class EvacuationConfig:
    """How to run an evacuation.

    Attributes
    ----------
    people
        How many people: seats first (chosen at random), the rest standing in zones in
        proportion to their floor area. None: every seat taken (unless ``occupancy`` is given).
    occupancy
        Zone id -> people in that zone (seats of the zone first, then standing).
    seed
        Seed of the random generator (placement, speeds).
    blocked
        Exits nobody may use.
    dt_s
        Movement time step [s].
    max_time_s
        Give up after this simulated time [s].
    frame_s
        Bookkeeping interval: densities, stair hand-overs, trajectory frames [s].
    speed_mean_m_s, speed_sd_m_s, speed_min_m_s, speed_max_m_s
        Desired speeds: normal, clipped [m/s].
    stair_speed_m_s
        Walking speed along a stair flight [m/s].
    stair_flow_per_m_s
        Most persons per metre of stair width per second entering a stair [1/(m s)].
    density_window_m
        Side of the square window densities are measured in [m].
    params
        Movement model parameters.
    cell_m
        Raster cell size [m].
    route_choice
        ``dynamic``: everyone picks the exit or stair with the earliest estimated way out, queues
        included, and revises it every ``revise_s`` (:class:`~simulation.crowd.routechoice.ExitChoice`);
        ``static``: everyone walks to the nearest way out.
    revise_s
        How often choices are revised [s].
    switch_margin_s
        Someone switches only to an option at least this much earlier [s].
    """

    people: int | None = None
    occupancy: Mapping[str, int] | None = None
    seed: int = 0
    blocked: tuple[str, ...] = ()
    dt_s: float = 0.01
    max_time_s: float = 1800.0
    frame_s: float = 0.2
    speed_mean_m_s: float = FREE_SPEED_M_S
    speed_sd_m_s: float = FREE_SPEED_SD_M_S
    speed_min_m_s: float = 0.5
    speed_max_m_s: float = 2.0
    stair_speed_m_s: float = STAIR_SPEED_M_S
    stair_flow_per_m_s: float = STAIR_FLOW_PER_M_S
    density_window_m: float = 2.0
    params: CSMParameters = field(default_factory=CSMParameters)
    cell_m: float = 0.25
    route_choice: str = "dynamic"
    revise_s: float = 5.0
    switch_margin_s: float = 5.0

    def __post_init__(self) -> None:
        if self.route_choice not in ROUTE_CHOICES:
            raise EvacuationInputError(f"route_choice must be one of {', '.join(ROUTE_CHOICES)}, got "
                                       f"'{self.route_choice}'")
        if not (self.switch_margin_s >= 0 and math.isfinite(self.switch_margin_s)):
            raise EvacuationInputError(f"switch_margin_s must be 0 or more, got {self.switch_margin_s}")
        if self.people is not None and self.occupancy is not None:
            raise EvacuationInputError("give either a number of people or an occupancy, not both")
        if self.people is not None and self.people < 0:
            raise EvacuationInputError(f"people must be 0 or more, got {self.people}")
        for name in ("dt_s", "max_time_s", "frame_s", "stair_speed_m_s", "stair_flow_per_m_s", "density_window_m",
                     "speed_mean_m_s", "revise_s"):
            v = getattr(self, name)
            if not (v > 0 and math.isfinite(v)):
                raise EvacuationInputError(f"{name} must be a positive number, got {v}")
        if self.frame_s < self.dt_s:
            raise EvacuationInputError(f"frame_s ({self.frame_s}) must be at least dt_s ({self.dt_s})")


@dataclass
class Placement:
    """Where people start: floor, position [m], seat id (or None when standing), zone id."""

    floor: list[str] = field(default_factory=list)
    xy: list[tuple[float, float]] = field(default_factory=list)
    seat: list[str | None] = field(default_factory=list)
    zone: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.floor)


# --------------------------------------------------------------------------- placement

def read_occupancy(path: str | Path) -> dict[str, int]:
    """Zone id -> people from a JSON or YAML mapping file (clear errors on bad input)."""
    import yaml

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise EvacuationInputError(f"cannot read occupancy file '{p}': {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise EvacuationInputError(f"occupancy file '{p}' is not valid JSON or YAML: {exc}") from None
    if not isinstance(data, dict) or not data:
        raise EvacuationInputError(f"occupancy file '{p}' must be a mapping of zone id to people, "
                                   "e.g. {\"reading\": 40}")
    out = {}
    for k, v in data.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise EvacuationInputError(f"occupancy file '{p}': zone '{k}' needs a whole number of people >= 0, "
                                       f"got {v!r}")
        out[str(k)] = v
    return out


def place_people(crowd: Crowd, building: Building, config: EvacuationConfig,
                 rng: np.random.Generator) -> Placement:
    """Starting places: seats first (chosen at random), then standing spots in zones.

    Standing people get walkable cells at least 0.35 m from walls and 0.5 m from each other,
    picked at random.

    Raises
    ------
    EvacuationInputError
        Unknown zones, or more people than the seats and floor can hold.
    """
    nav = crowd.navigator
    zones = {z.id: z for z in building.zones}
    seats_by_zone: dict[str, list[Any]] = {z: [] for z in zones}
    for s in building.seats:
        seats_by_zone[s.zone_id].append(s)
    if config.occupancy is not None:
        unknown = [z for z in config.occupancy if z not in zones]
        if unknown:
            raise EvacuationInputError(f"occupancy names zone '{unknown[0]}', which the building does not have "
                                       f"(zones: {', '.join(sorted(zones))})")
        want = {z: int(n) for z, n in config.occupancy.items() if n > 0}
    else:
        total = building.seat_count if config.people is None else int(config.people)
        all_seats = list(building.seats)
        want = {}
        if total <= len(all_seats):
            chosen = rng.choice(len(all_seats), size=total, replace=False) if total else np.zeros(0, int)
            for k in np.sort(chosen):
                want[all_seats[k].zone_id] = want.get(all_seats[k].zone_id, 0) + 1
        else:
            for z, ss in seats_by_zone.items():
                if ss:
                    want[z] = len(ss)
            rest = total - len(all_seats)
            ids = sorted(zones)
            area = np.array([zones[z].area_m2 for z in ids])
            extra = rng.multinomial(rest, area / area.sum())
            for z, e in zip(ids, extra, strict=True):
                if e:
                    want[z] = want.get(z, 0) + int(e)
    out = Placement()
    taken: dict[str, dict[tuple[int, int], list[tuple[float, float]]]] = {f: {} for f in nav.floor_ids}

    def free(fid: str, x: float, y: float, gap: float = 0.5) -> bool:
        cx, cy = int(x // gap), int(y // gap)
        for ix in (cx - 1, cx, cx + 1):
            for iy in (cy - 1, cy, cy + 1):
                for px, py in taken[fid].get((ix, iy), ()):
                    if (px - x) ** 2 + (py - y) ** 2 < gap * gap:
                        return False
        return True

    def take(fid: str, x: float, y: float, seat: str | None, zone: str, gap: float = 0.5) -> None:
        taken[fid].setdefault((int(x // gap), int(y // gap)), []).append((x, y))
        out.floor.append(fid)
        out.xy.append((x, y))
        out.seat.append(seat)
        out.zone.append(zone)

    for zid in sorted(want):
        n = want[zid]
        zone = zones[zid]
        fid = zone.floor_id
        grid = nav.spaces[fid].grid
        seats = seats_by_zone[zid]
        k = min(n, len(seats))
        pick = rng.choice(len(seats), size=k, replace=False) if k else np.zeros(0, int)
        for s in (seats[i] for i in np.sort(pick)):
            x, y = s.x, s.y
            i, j = grid.cell_of(x, y)
            if not (grid.inside(i, j) and grid.walkable[i, j]):
                c = grid.nearest_walkable(x, y, 0.5)
                if c is None:
                    continue
                x, y = grid.center(*c)
            take(fid, x, y, s.id, zid, gap=0.01)
        stand = n - k
        if stand <= 0:
            continue
        gx, gy = grid.centers()
        ok = grid.walkable & (nav.spaces[fid].clearance_m >= 0.35 + 0.5 * grid.cell_m)
        ok &= np.asarray(shapely.contains_xy(zone.polygon, gx, gy), np.bool_)
        cand = np.flatnonzero(ok)
        placed = 0
        for c in rng.permutation(cand):
            x, y = float(gx.flat[c]), float(gy.flat[c])
            if free(fid, x, y):
                take(fid, x, y, None, zid)
                placed += 1
                if placed == stand:
                    break
        if placed < stand:
            raise EvacuationInputError(f"zone '{zid}' holds {len(seats)} seats and room for about {placed} standing "
                                       f"people; {n} asked for")
    return out


# --------------------------------------------------------------------------- densities

class _Density:
    """Peak density per floor in square windows, from walker positions each frame."""

    def __init__(self, crowd: Crowd, window_m: float, bin_m: float = 0.5) -> None:
        self.bin_m = bin_m
        self.k = max(1, round(window_m / bin_m))
        self.window_m = self.k * bin_m
        self.floors: dict[str, dict[str, Any]] = {}
        for fid, sp in crowd.navigator.spaces.items():
            g = sp.grid
            per = max(1, round(bin_m / g.cell_m))
            ny, nx = g.shape[0] // per, g.shape[1] // per
            walk = g.walkable[: ny * per, : nx * per].reshape(ny, per, nx, per).sum(axis=(1, 3)) * g.cell_m ** 2
            area = self._box(walk)
            self.floors[fid] = {"x0": g.x0, "y0": g.y0, "shape": (ny, nx), "area": area,
                                "valid": area >= 0.5 * self.window_m ** 2, "peak": np.zeros_like(area),
                                "best": (0.0, math.nan, math.nan, math.nan)}

    def _box(self, a: NDArray[np.float64]) -> NDArray[np.float64]:
        k = self.k
        c = np.zeros((a.shape[0] + 1, a.shape[1] + 1))
        c[1:, 1:] = a.cumsum(0).cumsum(1)
        return c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]

    def add(self, fid: str, xy: NDArray[np.float64], t_s: float) -> None:
        f = self.floors[fid]
        ny, nx = f["shape"]
        if xy.size == 0 or ny < self.k or nx < self.k:
            return
        j = np.floor((xy[:, 0] - f["x0"]) / self.bin_m).astype(int)
        i = np.floor((xy[:, 1] - f["y0"]) / self.bin_m).astype(int)
        ok = (i >= 0) & (i < ny) & (j >= 0) & (j < nx)
        counts = np.zeros((ny, nx))
        np.add.at(counts, (i[ok], j[ok]), 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            dens = np.where(f["valid"], self._box(counts) / f["area"], 0.0)
        np.maximum(f["peak"], dens, out=f["peak"])
        m = int(np.argmax(dens))
        v = float(dens.flat[m])
        if v > f["best"][0]:
            wi, wj = divmod(m, dens.shape[1])
            cx = f["x0"] + (wj + self.k / 2) * self.bin_m
            cy = f["y0"] + (wi + self.k / 2) * self.bin_m
            f["best"] = (v, cx, cy, t_s)


# --------------------------------------------------------------------------- the run

@dataclass
class EvacuationResult:
    """What an evacuation produced (see :func:`write_outputs` for files)."""

    summary: dict[str, Any]
    exit_times: dict[str, list[float]]
    density: _Density
    crowd: Crowd
    trajectories: dict[str, list[NDArray[np.float64]]] | None = None


def run_evacuation(building: Building, config: EvacuationConfig | None = None, *, trajectories: bool = False,
                   progress: Callable[[float, int, int], None] | None = None) -> EvacuationResult:
    """Evacuate a building; see the module docstring.

    Parameters
    ----------
    building
        The building (any variant).
    config
        Options; defaults to every seat taken.
    trajectories
        Keep every walker's position each frame (for :func:`write_outputs`).
    progress
        Called each frame with (simulated time [s], people out, people in total).

    Raises
    ------
    EvacuationInputError
        Unknown blocked exit, every exit blocked, bad occupancy.
    """
    config = config or EvacuationConfig()
    wall0 = time.perf_counter()
    rng = np.random.default_rng(config.seed)
    crowd = Crowd.from_building(building, cell_m=config.cell_m, params=config.params, dt_s=config.dt_s)
    nav = crowd.navigator
    exits = {o.id: o for o in building.exits}
    for b in config.blocked:
        if b not in exits:
            raise EvacuationInputError(f"cannot block '{b}': the building has no exit of that name "
                                       f"(exits: {', '.join(sorted(exits))})")
    if set(exits) <= set(config.blocked):
        raise EvacuationInputError(f"every exit is blocked ({', '.join(sorted(config.blocked))}): nobody can leave")
    targets = {f: nav.evacuation_target(f, blocked=config.blocked, stair_speed_m_s=config.stair_speed_m_s)
               for f in nav.floor_ids}
    try:
        for target in targets.values():
            nav.offset(target)
    except (KeyError, NoRouteError) as exc:
        raise EvacuationInputError(str(exc.args[0] if exc.args else exc)) from None
    placement = place_people(crowd, building, config, rng)
    n_total = len(placement)
    speeds = np.clip(rng.normal(config.speed_mean_m_s, config.speed_sd_m_s, n_total), config.speed_min_m_s,
                     config.speed_max_m_s)
    floors = np.array(placement.floor, dtype=object)
    xy_all = np.asarray(placement.xy, float).reshape(-1, 2)
    trapped = 0
    start_floor: dict[int, str] = {}
    people_per_floor = dict.fromkeys(nav.floor_ids, 0)
    for fid in nav.floor_ids:
        sel = np.flatnonzero(floors == fid)
        if sel.size == 0:
            continue
        fld = nav.field(targets[fid])
        reach = np.array([math.isfinite(fld.value_at(x, y)) for x, y in xy_all[sel]], bool)
        trapped += int((~reach).sum())
        sel = sel[reach]
        ids = crowd.add_many(fid, xy_all[sel], targets[fid], speeds[sel])
        for i in ids:
            start_floor[int(i)] = fid
        people_per_floor[fid] = int(sel.size)
    n_moving = len(start_floor)
    stair_free_at: dict[tuple[str, str], float] = {}
    chooser = None
    if config.route_choice == "dynamic":
        from .routechoice import ExitChoice

        chooser = ExitChoice(crowd, building, targets, blocked=config.blocked, stair_speed_m_s=config.stair_speed_m_s,
                             stair_flow_per_m_s=config.stair_flow_per_m_s, reference_speed_m_s=config.speed_mean_m_s,
                             switch_margin_s=config.switch_margin_s)
        chooser.stair_wait_s = lambda link_id, fid: max(0.0, stair_free_at.get((link_id, fid), 0.0) - crowd.time_s)
        for fid in nav.floor_ids:
            chooser.revise(fid)
    next_revise = config.revise_s

    links = {lk.id: lk for lk in building.links}
    pending: list[tuple[float, int, str, str]] = []  # (ready time, id, floor, link)
    exit_times: dict[str, list[float]] = {e: [] for e in exits}
    stair_use: dict[str, list[float]] = {}
    cleared = dict.fromkeys(nav.floor_ids, 0.0)
    density = _Density(crowd, config.density_window_m)
    traj: dict[str, list[NDArray[np.float64]]] | None = {f: [] for f in nav.floor_ids} if trajectories else None
    out_count = 0
    frame = 0

    def record(frame_no: int) -> None:
        for fid in nav.floor_ids:
            ids = crowd.walking_on(fid)
            if ids.size == 0:
                continue
            pos = crowd.positions(ids)
            density.add(fid, pos, frame_no * config.frame_s)
            if traj is not None:
                traj[fid].append(np.column_stack([ids, np.full(ids.size, frame_no), pos]))

    landings: dict[tuple[str, float, float], NDArray[np.float64]] = {}

    def landing_spot(fid: str, x: float, y: float) -> tuple[float, float] | None:
        """The free cell centre nearest to a stair's landing (within 1.5 m), or None."""
        key = (fid, x, y)
        if key not in landings:
            sp = nav.spaces[fid]
            g = sp.grid
            gx, gy = g.centers()
            d = np.hypot(gx - x, gy - y)
            ok = g.walkable & (sp.clearance_m >= 0.3 + 0.5 * g.cell_m) & (d <= 1.5)
            order = np.argsort(d[ok], kind="stable")
            landings[key] = np.column_stack([gx[ok][order], gy[ok][order]])
        cands = landings[key]
        others = crowd.positions(crowd.walking_on(fid))
        if others.size:
            others = others[np.hypot(others[:, 0] - x, others[:, 1] - y) < 2.0]
        for cx, cy in cands:
            if others.size == 0 or np.min(np.hypot(others[:, 0] - cx, others[:, 1] - cy)) >= 0.45:
                return (float(cx), float(cy))
        return None

    record(0)
    t = 0.0
    while (crowd.walking.size or pending) and t < config.max_time_s:
        frame += 1
        t_next = frame * config.frame_s
        _, arrived = crowd.advance(t_next, stop_on_arrival=False)
        t = crowd.time_s
        for i in arrived:
            label = crowd.reached(i) or ""
            t_arr = crowd.arrival_time_s(i)
            fid = crowd.location(i)[0]
            cleared[fid] = max(cleared[fid], t_arr)
            opt = chooser.choice.pop(i, None) if chooser is not None else None
            if opt is not None and opt.link_id is not None and opt.to_floor is not None:
                label = f"stair:{opt.link_id}:{opt.to_floor}"
            if label.startswith("stair:"):
                _, link_id, to_floor = label.split(":", 2)
                lk = links[link_id]
                key = (link_id, fid)
                enter = max(t_arr, stair_free_at.get(key, 0.0))
                stair_free_at[key] = enter + 1.0 / (config.stair_flow_per_m_s * lk.width_m)
                stair_use.setdefault(link_id, []).append(enter)
                pending.append((enter + lk.length_m / config.stair_speed_m_s, i, to_floor, link_id))
            else:
                exit_times.setdefault(label, []).append(t_arr)
                crowd.remove(i)
                out_count += 1
        still = []
        for ready, i, to_floor, link_id in sorted(pending):
            if ready > t:
                still.append((ready, i, to_floor, link_id))
                continue
            sx, sy = nav.stop_xy(link_id, to_floor)
            spot = landing_spot(to_floor, sx, sy)
            if spot is None:
                still.append((ready, i, to_floor, link_id))
                continue
            crowd.place(i, to_floor, spot[0], spot[1], targets[to_floor])
            if chooser is not None:
                chooser.revise(to_floor, [i])
        pending = still
        if chooser is not None and t >= next_revise:
            for fid in nav.floor_ids:
                chooser.revise(fid)
            next_revise += config.revise_s
        record(frame)
        if progress is not None:
            progress(t, out_count, n_total)
    remaining = n_moving - out_count
    summary = _summary(building, config, placement, n_total, trapped, remaining, exit_times, stair_use, cleared,
                       people_per_floor, density, exits, t, time.perf_counter() - wall0, crowd)
    return EvacuationResult(summary, exit_times, density, crowd, traj)


def _flow_stats(times: list[float], width_m: float, window_s: float = 10.0) -> dict[str, Any]:
    ts = np.sort(np.asarray(times))
    out: dict[str, Any] = {"count": int(ts.size), "first_s": None, "last_s": None, "mean_flow_per_s": None,
                           "peak_flow_per_s": None, "peak_specific_flow_per_m_s": None}
    if ts.size == 0:
        return out
    out["first_s"] = round(float(ts[0]), 2)
    out["last_s"] = round(float(ts[-1]), 2)
    if ts.size >= 2 and ts[-1] > ts[0]:
        out["mean_flow_per_s"] = round(float((ts.size - 1) / (ts[-1] - ts[0])), 3)
    ends = np.searchsorted(ts, ts + window_s, side="left")
    peak = float((ends - np.arange(ts.size)).max()) / window_s
    out["peak_flow_per_s"] = round(peak, 3)
    out["peak_specific_flow_per_m_s"] = round(peak / width_m, 3)
    return out


def _summary(building: Building, config: EvacuationConfig, placement: Placement, n_total: int, trapped: int,
             remaining: int, exit_times: dict[str, list[float]], stair_use: dict[str, list[float]],
             cleared: dict[str, float], people_per_floor: dict[str, int], density: _Density,
             exits: Mapping[str, Any], t_end: float, wall_s: float, crowd: Crowd) -> dict[str, Any]:
    all_out = [t for ts in exit_times.values() for t in ts]
    best = max(density.floors.items(), key=lambda kv: kv[1]["best"][0])
    bv, bx, by, bt = best[1]["best"]
    params = asdict(config.params)
    return {
        "scenario": building.branch_id,
        "name": building.name,
        "variant": building.variant,
        "seed": config.seed,
        "people": n_total,
        "seated": sum(s is not None for s in placement.seat),
        "standing": sum(s is None for s in placement.seat),
        "blocked_exits": list(config.blocked),
        "evacuated": len(all_out),
        "remaining": remaining,
        "trapped": trapped,
        "complete": remaining == 0 and trapped == 0,
        "evacuation_time_s": round(max(all_out), 2) if all_out and remaining == 0 else None,
        "simulated_s": round(t_end, 2),
        "frame_s": config.frame_s,
        "floors": {
            f: {"people": people_per_floor[f],
                "cleared_s": round(cleared[f], 2) if people_per_floor[f] or cleared[f] else 0.0,
                "peak_density_per_m2": round(density.floors[f]["best"][0], 3)}
            for f in crowd.navigator.floor_ids},
        "exits": {e: {"floor": exits[e].floor_id, "width_m": exits[e].width_m, "blocked": e in config.blocked,
                      **_flow_stats(exit_times.get(e, []), exits[e].width_m)} for e in sorted(exits)},
        "stairs": {k: {"people": len(v), "first_s": round(min(v), 2), "last_s": round(max(v), 2)}
                   for k, v in sorted(stair_use.items())},
        "peak_density": {"per_m2": round(bv, 3), "floor": best[0], "x": None if math.isnan(bx) else round(bx, 2),
                         "y": None if math.isnan(by) else round(by, 2), "t_s": None if math.isnan(bt) else round(bt, 2),
                         "window_m": density.window_m},
        "model": {"name": "collision-free speed model (Tordeux, Chraibi, Seyfried 2016)", **params,
                  "dt_s": config.dt_s, "stair_speed_m_s": config.stair_speed_m_s,
                  "stair_flow_per_m_s": config.stair_flow_per_m_s, "speed_mean_m_s": config.speed_mean_m_s,
                  "speed_sd_m_s": config.speed_sd_m_s, "route_choice": config.route_choice,
                  "revise_s": config.revise_s, "switch_margin_s": config.switch_margin_s},
        "agent_steps": crowd.agent_steps,
        "wall_time_s": round(wall_s, 2),
    }


# --------------------------------------------------------------------------- files

def write_outputs(result: EvacuationResult, out_dir: str | Path) -> list[Path]:
    """Write ``summary.json``, ``evacuation.png`` and, if kept, trajectories; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    p = out / "summary.json"
    p.write_text(json.dumps(result.summary, indent=2) + "\n", encoding="utf-8")
    paths.append(p)
    paths.append(plot_evacuation(result, out / "evacuation.png"))
    if result.trajectories is not None:
        paths.extend(write_trajectories(result, out))
    return paths


def write_trajectories(result: EvacuationResult, out_dir: Path) -> list[Path]:
    """One PedPy plain-text trajectory file per floor (id, frame, x, y, z in metres) and its walkable area.

    Load with ``pedpy.load_trajectory_from_txt(trajectory_file=...)`` and
    ``pedpy.WalkableArea(shapely.from_wkt(open("walkable-<floor>.wkt").read()))``.
    """
    assert result.trajectories is not None
    from .trajectories import write_pedpy

    return write_pedpy(result.trajectories, result.crowd.navigator.spaces, out_dir,
                       frame_s=float(result.summary["frame_s"]),
                       title=f"smartlib evacuation of {result.summary['scenario']}")


def plot_evacuation(result: EvacuationResult, path: str | Path) -> Path:
    """A picture: peak density per floor (persons/m2) and people out over time per exit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nav = result.crowd.navigator
    fids = list(nav.floor_ids)
    n = len(fids) + 1
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 4.0 * rows), squeeze=False, layout="constrained")
    vmax = max(3.0, max(float(d["peak"].max()) for d in result.density.floors.values()))
    im = None
    for ax, fid in zip(axes.flat, fids, strict=False):
        d = result.density.floors[fid]
        sp = nav.spaces[fid]
        g = sp.grid
        ext = (g.x0, g.x0 + g.shape[1] * g.cell_m, g.y0, g.y0 + g.shape[0] * g.cell_m)
        ax.imshow(np.where(g.walkable, 1.0, 0.0), origin="lower", extent=ext, cmap="Greys_r", vmin=-0.2, vmax=1.4)
        peak = np.ma.masked_less_equal(d["peak"], 0.0)
        k = result.density.k
        b = result.density.bin_m
        ny, nx = d["peak"].shape
        pext = (g.x0 + k * b / 2, g.x0 + k * b / 2 + nx * b, g.y0 + k * b / 2, g.y0 + k * b / 2 + ny * b)
        im = ax.imshow(peak, origin="lower", extent=pext, cmap="YlOrRd", vmin=0, vmax=vmax, alpha=0.85)
        blocked = set(result.summary["blocked_exits"])
        for e, poly in sp.exits.items():
            c = poly.centroid
            colour = "tab:red" if e in blocked else "tab:green"
            ax.plot(c.x, c.y, marker="x" if e in blocked else "s", color=colour, ms=6)
            ax.annotate(e + (" (blocked)" if e in blocked else ""), (c.x, c.y), fontsize=6, color=colour)
        info = result.summary["floors"][fid]
        ax.set_title(f"floor {fid}: {info['people']} people, clear at {info['cleared_s']:.0f} s, "
                     f"peak {info['peak_density_per_m2']:.1f}/m2", fontsize=8)
        ax.set_aspect("equal")
        ax.tick_params(labelsize=6)
    ax = axes.flat[len(fids)]
    for e, ts in sorted(result.exit_times.items()):
        if ts:
            out_s = np.sort(ts)
            ax.step(out_s, np.arange(1, out_s.size + 1), where="post", label=f"{e} ({out_s.size})")
    ax.set_xlabel("time [s]")
    ax.set_ylabel("people out")
    ax.set_title("people out per exit", fontsize=8)
    if any(result.exit_times.values()):
        ax.legend(fontsize=6)
    for extra in list(axes.flat)[n:]:
        extra.axis("off")
    if im is not None:
        fig.colorbar(im, ax=list(axes.flat[: len(fids)]), shrink=0.6, location="bottom",
                     label=f"peak density [1/m2] in a {result.density.window_m:g} m window")
    s = result.summary
    t = s["evacuation_time_s"]
    fig.suptitle(f"{s['name']}: {s['people']} people, evacuation "
                 + (f"{t:.0f} s" if t is not None else f"incomplete ({s['remaining']} left)"), fontsize=10)
    p = Path(path)
    fig.savefig(p, dpi=110)
    plt.close(fig)
    return p
