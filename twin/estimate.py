"""Occupancy and comfort estimation: pure functions the live twin composes.

Each function turns what one kind of sensor says into persons with a standard deviation; the
twin fuses them per zone (inverse-variance) and reconciles the zones with the building total
from the entrance counters (:func:`reconcile`). The CO2 inversion runs the simulation's own mass
balance (:func:`simulation.day.physics.co2_step_ppm`) backwards, so the twin and the simulation
agree on the physics by construction.

References
----------
EN 16798-1:2019, Table B.12: CO2 above outdoor for categories I-IV: 550, 800, 1350 ppm.
International Building Code (2021), Table 1004.5: maximum floor area allowances per occupant
(library reading rooms 50 ft2 net = 4.65 m2, stack areas 100 ft2 gross = 9.3 m2, business
150 ft2 = 13.9 m2, assembly unconcentrated 15 ft2 net = 1.4 m2, concentrated 7 ft2 = 0.65 m2).
Agresti, A., Coull, B.A. (1998). Approximate is better than "exact" for interval estimation of
binomial proportions. The American Statistician 52(2), 119-126.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from simulation.day.physics import co2_step_ppm

from .state import Co2Category

F = NDArray[np.float64]

#: Floor area per occupant by zone kind [m2/person] (IBC 2021 Table 1004.5; see the module docstring).
AREA_PER_OCCUPANT_M2: dict[str, float] = {
    "reading_room": 4.65, "quiet_study": 4.65, "computer_lab": 4.65, "children": 4.65, "stacks": 9.3,
    "group_study": 1.4, "cafe": 1.4, "event_space": 0.65, "entrance": 1.4, "service_desk": 13.9,
    "office": 13.9, "circulation": 9.3, "restroom": 4.65,
}
DEFAULT_AREA_PER_OCCUPANT_M2 = 4.65

#: EN 16798-1 upper bounds of categories I, II, III of CO2 above outdoor [ppm]; above is IV.
CO2_CATEGORY_DELTA_PPM: tuple[tuple[Co2Category, float], ...] = (("I", 550.0), ("II", 800.0), ("III", 1350.0))


def zone_capacity(kind: str, area_m2: float, seats: int) -> int:
    """Persons a zone holds: its seats, or its occupant load by floor area if that is more.

    Parameters
    ----------
    kind
        Zone use (``reading_room`` ...); unknown kinds use 4.65 m2 per person.
    area_m2
        Floor area [m2].
    seats
        Seats in the zone.

    Returns
    -------
    int
        ``max(seats, floor(area_m2 / area per occupant))`` (IBC 2021 Table 1004.5).
    """
    per = AREA_PER_OCCUPANT_M2.get(kind, DEFAULT_AREA_PER_OCCUPANT_M2)
    return max(int(seats), int(area_m2 / per))


def co2_category(co2_ppm: float, outdoor_ppm: float = 420.0) -> Co2Category:
    """EN 16798-1 indoor-air category of a CO2 concentration (I: at most 550 ppm above outdoor ... IV)."""
    delta = co2_ppm - outdoor_ppm
    for cat, upper in CO2_CATEGORY_DELTA_PPM:
        if delta <= upper:
            return cat
    return "IV"


def temperature_deviation_k(temperature_c: float, heating_setpoint_c: float, cooling_setpoint_c: float) -> float:
    """How far a temperature lies outside the comfort band [K]: < 0 below heating, > 0 above cooling, else 0."""
    if temperature_c < heating_setpoint_c:
        return temperature_c - heating_setpoint_c
    if temperature_c > cooling_setpoint_c:
        return temperature_c - cooling_setpoint_c
    return 0.0


def seat_sample_estimate(occupied: int, sampled: int, seats: int, *, seated_share: float = 1.0) -> tuple[float, float]:
    """People in a zone from a sample of its seats: the share taken, scaled to all seats.

    Parameters
    ----------
    occupied, sampled
        Sampled seats taken now, and sampled seats reporting (``sampled >= 1``).
    seats
        Seats in the zone (``seats >= sampled``).
    seated_share
        Share of the zone's people who sit (1: everyone present sits).

    Returns
    -------
    mean, std
        Persons [persons]. The standard deviation is the sampling error of the share with the
        finite-population correction, the share taken as ``(m + 1) / (k + 2)`` (Agresti and Coull
        1998) so a sample of all-free or all-taken seats still carries its uncertainty.
    """
    if sampled < 1:
        raise ValueError("a seat estimate needs at least one sampled seat")
    seats = max(seats, sampled)
    p = occupied / sampled
    p_ac = (occupied + 1.0) / (sampled + 2.0)
    fpc = (seats - sampled) / (seats - 1) if seats > 1 else 0.0
    sd_p = math.sqrt(p_ac * (1.0 - p_ac) / (sampled + 2.0) * fpc)
    return seats * p / seated_share, seats * sd_p / seated_share


def co2_occupancy_estimate(c0_ppm: float, c1_ppm: float, dt_s: float, *, volume_m3: float,
                           ventilation_l_s: Callable[[float], float], generation_l_s: float = 0.0054,
                           outdoor_ppm: float = 420.0, sensor_sd_ppm: float = 10.0,
                           max_people: float = 1000.0) -> tuple[float, float]:
    """Mean occupants over an interval from the CO2 at its start and end: the mass balance inverted.

    Solves ``co2_step_ppm(c0, N, Q(N), V, dt) = c1`` for ``N`` (bisection; ``Q`` may depend on
    ``N`` as with demand-controlled ventilation), using the simulation's own step
    (:func:`simulation.day.physics.co2_step_ppm`).

    Parameters
    ----------
    c0_ppm, c1_ppm
        CO2 at the start and end of the interval [ppm].
    dt_s
        Interval length [s] (> 0).
    volume_m3
        Zone volume [m3].
    ventilation_l_s
        Outdoor air of the zone for a given occupancy [L/s].
    generation_l_s
        CO2 generation per person [L/s] (Persily and de Jonge 2017).
    outdoor_ppm
        Outdoor CO2 [ppm].
    sensor_sd_ppm
        Standard deviation of one CO2 reading [ppm].
    max_people
        Upper end of the search [persons].

    Returns
    -------
    mean, std
        Occupants (at least 0) and the standard deviation from the sensor noise [persons].
    """
    if not dt_s > 0:
        raise ValueError(f"the CO2 interval must be positive, got {dt_s} s")

    def step(n: float) -> float:
        return float(co2_step_ppm(c0_ppm, n, ventilation_l_s(n), volume_m3, dt_s, generation_l_s=generation_l_s,
                                  outdoor_ppm=outdoor_ppm))

    base = step(0.0)
    one = step(1.0)
    slope = one - base  # ppm per person at the end of the interval (exact when Q does not depend on N)
    if not slope > 0:
        return 0.0, math.inf
    if c1_ppm <= base:
        n = 0.0
    elif ventilation_l_s(0.0) == ventilation_l_s(max_people):
        n = (c1_ppm - base) / slope
    else:
        lo, hi = 0.0, max_people
        if step(hi) < c1_ppm:
            n = hi
        else:
            for _ in range(40):
                mid = 0.5 * (lo + hi)
                if step(mid) < c1_ppm:
                    lo = mid
                else:
                    hi = mid
            n = 0.5 * (lo + hi)
    # c1 and c0 both carry the sensor noise; c0 enters through the decay factor
    decay = (base - outdoor_ppm) / (c0_ppm - outdoor_ppm) if c0_ppm != outdoor_ppm else 1.0
    sd = sensor_sd_ppm * math.sqrt(1.0 + decay * decay) / slope
    return max(n, 0.0), sd


def co2_linear_response(*, volume_m3: float, ventilation_l_s: float, dt_s: float, generation_l_s: float = 0.0054,
                        outdoor_ppm: float = 420.0) -> tuple[float, float, float]:
    """The CO2 step as a linear map at constant ventilation: ``C(t+dt) = a + e C(t) + k N``.

    The coefficients are read off :func:`simulation.day.physics.co2_step_ppm` itself (its values at
    three points), so the twin inverts exactly the simulation's mass balance.

    Returns
    -------
    a, e, k
        Offset [ppm], decay factor over ``dt_s`` [-] and ppm added per occupant [ppm/person].
    """
    def step(c: float, n: float) -> float:
        return float(co2_step_ppm(c, n, ventilation_l_s, volume_m3, dt_s, generation_l_s=generation_l_s,
                                  outdoor_ppm=outdoor_ppm))

    a = step(0.0, 0.0)
    return a, step(1.0, 0.0) - a, step(0.0, 1.0) - a


def co2_occupancy_linear(c0_ppm: float, c1_ppm: float, response: tuple[float, float, float], *,
                         sensor_sd_ppm: float = 10.0) -> tuple[float, float]:
    """Mean occupants over an interval from its start and end CO2, with :func:`co2_linear_response` of the zone.

    ``N = (c1 - a - e c0) / k`` (at least 0); the standard deviation ``sd sqrt(1 + e^2) / k`` comes from
    the noise of both readings [persons].
    """
    a, e, k = response
    if not k > 0:
        return 0.0, math.inf
    n = (c1_ppm - a - e * c0_ppm) / k
    return max(n, 0.0), sensor_sd_ppm * math.sqrt(1.0 + e * e) / k


def fuse(estimates: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """Inverse-variance weighted mean of independent estimates ``(mean, std)``; returns ``(mean, std)``.

    Estimates with zero standard deviation dominate (their mean is returned); infinite ones are ignored.
    """
    if len(estimates) == 2:  # the usual case, written out: the same sums as below, in the same order
        (m1, s1), (m2, s2) = estimates
        if s1 != 0 and s2 != 0 and math.isfinite(s1) and math.isfinite(s2):
            w1, w2 = 1.0 / (s1 * s1), 1.0 / (s2 * s2)
            tot = 0.0 + w1 + w2
            return (0.0 + m1 * w1 + m2 * w2) / tot, math.sqrt(1.0 / tot)
    exact = [m for m, s in estimates if s == 0]
    if exact:
        return float(np.mean(exact)), 0.0
    w = [(m, 1.0 / (s * s)) for m, s in estimates if math.isfinite(s)]
    if not w:
        raise ValueError("no finite estimate to fuse")
    tot = sum(x for _, x in w)
    return sum(m * x for m, x in w) / tot, math.sqrt(1.0 / tot)


def reconcile(means: F, stds: F, total: float, total_std: float) -> tuple[F, F]:
    """Zone estimates adjusted so they add up to a measured building total (a linear Gaussian update).

    With independent zone estimates ``x_i`` (variances ``v_i``) and the observation
    ``sum(x) = total`` (variance ``v_T``), the posterior is ``x_i + v_i / (S + v_T) (total - sum(x))``
    with ``S = sum(v_i)``; zones known poorly (a prior) absorb most of the difference, zones with
    good sensors little. Negative results are clipped to 0.

    Returns
    -------
    means, stds
        Posterior per zone [persons].
    """
    m = np.asarray(means, dtype=float)
    v = np.asarray(stds, dtype=float) ** 2
    s = float(v.sum())
    vt = total_std * total_std
    if s + vt <= 0:
        return m.copy(), np.sqrt(v)
    gain = v / (s + vt)
    post = gain * (total - float(m.sum()))  # in place from here: the same operations, fewer arrays
    post += m
    var = v * gain
    np.subtract(v, var, out=var)
    np.maximum(var, 0.0, out=var)
    return np.maximum(post, 0.0, out=post), np.sqrt(var, out=var)
