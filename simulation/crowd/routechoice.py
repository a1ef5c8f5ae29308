"""Route choice in an evacuation: each person picks the exit or stair with the earliest estimated way out.

The static rule (:meth:`~simulation.crowd.navigation.Navigator.evacuation_target`) sends everyone to
the nearest exit; a narrow door or one stair core then takes far more people than its neighbour.
:class:`ExitChoice` lets people choose, and revise their choice every few seconds:

* the *options* of a floor are its open exits and the landings of stairs that lead down towards an
  exit (a stair whose other end is nearer the way out than this end);
* the estimated time of option ``o`` for person ``p`` is
  ``max(d_po / v_p, w_o + n_o / c_o) + rest_o``: the walk there (travel cost of the option's field
  over the desired speed) or, if longer, the time until the ``n_o`` people who chose ``o`` and are
  nearer to it have passed its capacity ``c_o`` (door: :data:`DOOR_FLOW_PER_M_S` x width; stair:
  the configured stair flow x width), after the wait ``w_o`` of those already queueing at a stair;
  plus, for a stair, the flight and the best estimate of the same kind from its foot on the floor
  below (the queues down there included, so people spread over the stair cores);
* people choose in order of how near they are to any way out (the nearest first, so a queue is
  made of those ahead), each taking the option with the earliest estimate; someone keeps their
  current option unless another is at least ``switch_margin_s`` earlier, so nobody dithers.

References
----------
Lovas, G.G. (1998). Models of wayfinding in emergency evacuations. European Journal of Operational
Research 105, 371-389 (exit choice by the expected time to get out, queues included).
Seyfried, A. et al. (2009). New insights into pedestrian flow through bottlenecks. Transportation
Science 43, 395-406 (specific flow of a door, about 1.8-1.9 persons/(m s)).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from geometry.model import Building

from .movement import Crowd
from .navigation import Navigator, Target

#: Specific flow through a door used to estimate its queue [persons/(m s)] (Seyfried et al. 2009).
DOOR_FLOW_PER_M_S = 1.8


@dataclass(frozen=True)
class Option:
    """One way off a floor: an exit, or a stair down to ``to_floor``.

    ``capacity_per_s`` is how many people pass it per second; ``rest_s`` the time from reaching it
    to being out of the building without queues [s] (0 for an exit).
    """

    floor_id: str
    label: str
    target: Target
    capacity_per_s: float
    rest_s: float
    link_id: str | None = None
    to_floor: str | None = None


class ExitChoice:
    """Exit and stair choice by estimated time including queues, revised on demand.

    Parameters
    ----------
    crowd
        The evacuating crowd (its navigator holds the fields).
    building
        The building (exit widths, stairs).
    static
        Per floor, the static evacuation target (nearest way out) whose field values give the
        rest of the way from a stair's foot.
    blocked
        Exits nobody may use.
    stair_speed_m_s, stair_flow_per_m_s
        Walking speed along a flight [m/s] and the most persons per metre of stair width per second.
    reference_speed_m_s
        Walking speed turning the static field (metres) into time [s].
    switch_margin_s
        Someone changes their option only for one at least this much earlier [s].
    """

    def __init__(self, crowd: Crowd, building: Building, static: Mapping[str, Target], *,
                 blocked: Iterable[str] = (), stair_speed_m_s: float, stair_flow_per_m_s: float,
                 reference_speed_m_s: float, switch_margin_s: float = 5.0) -> None:
        self.crowd = crowd
        self.nav: Navigator = crowd.navigator
        self.switch_margin_s = float(switch_margin_s)
        self.stair_speed_m_s = float(stair_speed_m_s)
        nav = self.nav
        closed = set(blocked)
        widths = {o.id: o.width_m for o in building.exits}
        self.options: dict[str, list[Option]] = {f: [] for f in nav.floor_ids}
        for fid in nav.floor_ids:
            for ex in sorted(nav.spaces[fid].exits):
                if ex not in closed:
                    self.options[fid].append(Option(fid, ex, Target.exit(fid, ex),
                                                    DOOR_FLOW_PER_M_S * widths.get(ex, 1.0), 0.0))
        for lk in nav.links:
            if lk.kind != "stair":
                continue
            ends = {f: (x, y) for f, _, x, y in lk.stops if f in nav.spaces}
            for fid, (x, y) in ends.items():
                here = nav.distance_m(static[fid], x, y)
                for other, (ox, oy) in ends.items():
                    if other == fid:
                        continue
                    below = nav.distance_m(static[other], ox, oy)
                    if not (math.isfinite(below) and below < here):
                        continue  # this stair leads away from the way out
                    self.options[fid].append(Option(
                        fid, f"stair:{lk.id}:{other}", Target.stop(fid, lk.id), stair_flow_per_m_s * lk.width_m,
                        lk.length_m / stair_speed_m_s + below / reference_speed_m_s, lk.id, other))
        self._fields: dict[str, list[NDArray[np.float32]]] = {}
        for fid, opts in self.options.items():
            g = nav.spaces[fid].grid
            views = []
            for o in opts:
                off = nav.offset(o.target)
                nav.pin(off)  # kept for the whole evacuation
                views.append(nav.dist[off: off + g.shape[0] * g.shape[1]].reshape(g.shape))
            self._fields[fid] = views
        self.choice: dict[int, Option] = {}
        self.switches = 0
        self._load: dict[str, NDArray[np.float64]] = {f: np.zeros(len(o)) for f, o in self.options.items()}
        self._cap = {f: np.array([o.capacity_per_s for o in opts]) for f, opts in self.options.items()}
        self.reference_speed_m_s = float(reference_speed_m_s)
        #: ``stair_wait_s(link_id, floor_id)``: how long until someone arriving now gets onto the flight [s]
        self.stair_wait_s = lambda link_id, floor_id: 0.0

    def _wait_s(self, fid: str) -> NDArray[np.float64]:
        return np.array([self.stair_wait_s(o.link_id, fid) if o.link_id is not None else 0.0
                         for o in self.options[fid]])

    def _rest_s(self, fid: str, memo: dict[str, NDArray[np.float64]]) -> NDArray[np.float64]:
        """Per option of ``fid``: time from reaching it to being out, queues below included [s]."""
        got = memo.get(fid)
        if got is not None:
            return got
        out = np.array([o.rest_s for o in self.options[fid]])
        for k, o in enumerate(self.options[fid]):
            if o.link_id is None or o.to_floor is None:
                continue
            f2 = o.to_floor
            lk = self.nav.link(o.link_id)
            x, y = self.nav.stop_xy(o.link_id, f2)
            g = self.nav.spaces[f2].grid
            i, j = g.cell_of(x, y)
            i, j = min(max(i, 0), g.shape[0] - 1), min(max(j, 0), g.shape[1] - 1)
            walk = np.array([float(v[i, j]) for v in self._fields[f2]]) / self.reference_speed_m_s
            below = np.maximum(walk, self._wait_s(f2) + self._load[f2] / self._cap[f2]) + self._rest_s(f2, memo)
            if below.size and np.isfinite(below).any():
                out[k] = lk.length_m / self.stair_speed_m_s + float(np.min(below))
        memo[fid] = out
        return out

    def _costs_m(self, fid: str, ids: NDArray[np.int64]) -> NDArray[np.float64]:
        """Travel cost from each person to each option of their floor [m] (inf: unreachable)."""
        g = self.nav.spaces[fid].grid
        pos = self.crowd.positions(ids)
        j = np.clip(np.floor((pos[:, 0] - g.x0) / g.cell_m).astype(np.int64), 0, g.shape[1] - 1)
        i = np.clip(np.floor((pos[:, 1] - g.y0) / g.cell_m).astype(np.int64), 0, g.shape[0] - 1)
        out = np.empty((ids.size, len(self._fields[fid])))
        for k, view in enumerate(self._fields[fid]):
            out[:, k] = view[i, j]
        bad = ~np.isfinite(out)
        if bad.any():  # standing on a raster cell counted as blocked: ask the field around it
            for r, k in zip(*np.nonzero(bad), strict=True):
                x, y = pos[r]
                out[r, k] = self.nav.distance_m(self.options[fid][k].target, float(x), float(y))
        return out

    def revise(self, fid: str, ids: Sequence[int] | NDArray[np.int64] | None = None) -> list[tuple[int, Option]]:
        """Choose for everyone walking on ``fid`` (or just ``ids`` of them, the others' choices
        counting as queues); returns the (person, option) pairs that changed."""
        opts = self.options[fid]
        walking = self.crowd.walking_on(fid)
        if not opts or walking.size == 0:
            self._load[fid] = np.zeros(len(opts))
            return []
        speed = self.crowd.desired_speeds(walking)
        walk_s = self._costs_m(fid, walking) / speed[:, None]
        cap = self._cap[fid]
        rest = self._rest_s(fid, {})
        wait = self._wait_s(fid)
        index = {o.label: k for k, o in enumerate(opts)}
        current = np.array([index.get(self.choice[int(i)].label, -1) if int(i) in self.choice else -1
                            for i in walking])
        chosen = current.copy()
        only = None if ids is None else {int(i) for i in ids}
        order = np.argsort(np.min(walk_s + rest[None, :], axis=1), kind="stable")
        counts = np.zeros(len(opts))
        changed = []
        for r in order:
            pid = int(walking[r])
            if only is not None and pid not in only and current[r] >= 0:
                counts[current[r]] += 1
                continue
            est = np.maximum(walk_s[r], wait + counts / cap) + rest
            best = int(np.argmin(est))
            if not math.isfinite(est[best]):
                continue
            c = int(current[r])
            keep = c >= 0 and est[c] <= est[best] + self.switch_margin_s
            pick = c if keep else best
            counts[pick] += 1
            chosen[r] = pick
            if pick != c:
                changed.append((pid, opts[pick]))
        self._load[fid] = counts
        for pid, opt in changed:
            if pid in self.choice:
                self.switches += 1
            self.choice[pid] = opt
            self.crowd.set_target(pid, opt.target)
        return changed
