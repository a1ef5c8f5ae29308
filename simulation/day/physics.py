"""Zone physics on a coarse clock: CO2, heat (2R2C), humidity, light, sound and energy by end use.

Pure functions hold the formulas (each with its reference); :class:`ZonePhysics` steps them for
all zones at once (numpy arrays over zones), one call per clock tick (1 min by default). Every
step integrates exactly (CO2, humidity) or implicitly (heat), so a step of any length is stable.

The scenario's ``physics`` section (all optional) is described by its model in
:mod:`geometry.scenario.physics` (with an example); the defaults below are cited.

References
----------
Persily, A., de Jonge, L. (2017). Carbon dioxide generation rates for building occupants.
Indoor Air 27(5), 868-879 (0.0052-0.0056 L/s for a seated adult at 1.0-1.2 met).
EN 16798-1:2019. Energy performance of buildings - Ventilation for buildings - Part 1: Indoor
environmental input parameters (CO2 categories I-IV: 550/800/1350 ppm above outdoor; 20 L/h CO2
per person; operative temperature 20-26 degC in category II).
ANSI/ASHRAE Standard 62.1-2019, Table 6.2.2.1: libraries 2.5 L/s per person plus 0.6 L/s per m2,
default occupant density 10 per 100 m2.
ANSI/ASHRAE/IES Standard 90.1-2004, Table 9.5.1: library lighting power density 1.3 W/ft2 (14 W/m2).
ASHRAE Handbook - Fundamentals (2017), Ch. 18: seated, very light work 70 W sensible + 45 W
latent per person; a desktop computer about 55 W.
ISO 13790:2008, Sect. 12.3 and Table 12: the 5R1C building model; medium construction
C_m = 165 kJ/(m2 K), A_m = 2.5 A_floor, h_ms = 9.1 W/(m2 K).
EN 12464-1:2021, Table 5.37 (libraries): bookshelves 200 lx, reading areas 500 lx, counters 500 lx.
Alduchov, O.A., Eskridge, R.E. (1996). Improved Magnus form approximation of saturation vapor
pressure. J. Appl. Meteor. 35, 601-609.
Kuttruff, H. (2009). Room Acoustics, 5th ed., Sect. 5.1 (diffuse field: L_p = L_W + 10 lg(4/A)).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from shapely.geometry import LineString, Point

from geometry.model import Building, Zone
from geometry.scenario import ResolvedScenario
from geometry.scenario.physics import (
    ASHRAE_RATES_BY_KIND,
    LUX_BY_KIND,
    AcousticsSpec,
    HvacSpec,
    KindRates,
    LiftPowerSpec,
    LightingSpec,
    MeterSpec,
    OutdoorSpec,
    PhysicsSpec,
    PlugSpec,
    ThermalSpec,
    VentilationSpec,
    ZoneOverride,
)

from .spec import raise_problems, section_problem

__all__ = [
    "ASHRAE_RATES_BY_KIND",
    "END_USES",
    "LUX_BY_KIND",
    "AcousticsSpec",
    "HvacSpec",
    "KindRates",
    "LiftPowerSpec",
    "LightingSpec",
    "MeterSpec",
    "OutdoorSpec",
    "PhysicsSpec",
    "PlugSpec",
    "ThermalSpec",
    "VentilationSpec",
    "ZoneGeometry",
    "ZoneOverride",
    "ZonePhysics",
    "ZoneStep",
    "load_physics",
    "meter_scopes",
    "zone_geometry",
]

F = NDArray[np.float64]

RHO_AIR_KG_M3 = 1.2
CP_AIR_J_KGK = 1005.0
LATENT_J_KG = 2.45e6  # latent heat of vaporisation of water near 20 degC [J/kg]
P_ATM_PA = 101325.0
END_USES: tuple[str, ...] = ("lighting", "plug_loads", "hvac", "kiosks", "lifts")


# --------------------------------------------------------------------------- pure formulas: air

def ashrae_ventilation_l_s(people: ArrayLike, area_m2: ArrayLike, *, people_l_s: float = 2.5,
                           area_l_s_m2: float = 0.6) -> F:
    """Breathing-zone outdoor airflow ``Vbz = Rp Pz + Ra Az`` [L/s] (ASHRAE 62.1, Eq. 6.2.2.1).

    Defaults are the rates for libraries: ``Rp`` 2.5 L/s per person, ``Ra`` 0.6 L/s per m2.
    """
    return people_l_s * np.asarray(people, dtype=float) + area_l_s_m2 * np.asarray(area_m2, dtype=float)


def co2_steady_state_ppm(people: ArrayLike, ventilation_l_s: ArrayLike, *, generation_l_s: float = 0.0054,
                         outdoor_ppm: float = 420.0) -> F:
    """Steady-state CO2 of a well-mixed zone: ``C = C_out + 1e6 G N / Q`` [ppm].

    Parameters
    ----------
    people
        Occupants N.
    ventilation_l_s
        Outdoor air Q [L/s] (> 0).
    generation_l_s
        CO2 generation G per person [L/s] (Persily and de Jonge 2017: 0.0052-0.0056 seated adult).
    outdoor_ppm
        Outdoor concentration [ppm].
    """
    q = np.asarray(ventilation_l_s, dtype=float)
    out: F = outdoor_ppm + 1e6 * generation_l_s * np.asarray(people, dtype=float) / q
    return out


def co2_step_ppm(c_ppm: ArrayLike, people: ArrayLike, ventilation_l_s: ArrayLike, volume_m3: ArrayLike,
                 dt_s: float, *, generation_l_s: float = 0.0054, outdoor_ppm: float = 420.0) -> F:
    """CO2 after ``dt_s`` of constant occupancy and ventilation: exact solution of the mass balance.

    ``V dC/dt = Q (C_out - C) + 1e6 G N`` gives ``C(t+dt) = C_ss + (C - C_ss) exp(-Q dt / V)``;
    with ``Q = 0`` the zone only accumulates: ``C + 1e6 G N dt / V``.

    Parameters
    ----------
    c_ppm
        Concentration at the start [ppm].
    people, ventilation_l_s, volume_m3
        Occupants, outdoor air [L/s] and zone volume [m3].
    dt_s
        Step [s].
    """
    c = np.asarray(c_ppm, dtype=float)
    n = np.asarray(people, dtype=float)
    q = np.asarray(ventilation_l_s, dtype=float) / 1000.0  # m3/s
    v = np.asarray(volume_m3, dtype=float)
    gen = 1e6 * generation_l_s / 1000.0 * n  # ppm m3/s
    with np.errstate(divide="ignore", invalid="ignore"):
        css = np.where(q > 0, outdoor_ppm + gen / np.where(q > 0, q, 1.0), c)
        decay = np.exp(-q * dt_s / v)
        out = np.where(q > 0, css + (c - css) * decay, c + gen * dt_s / v)
    return np.asarray(out, dtype=float)


def saturation_pressure_pa(t_c: ArrayLike) -> F:
    """Saturation vapour pressure over water [Pa], Magnus form (Alduchov and Eskridge 1996)."""
    t = np.asarray(t_c, dtype=float)
    return 610.94 * np.exp(17.625 * t / (t + 243.04))


def humidity_ratio(t_c: ArrayLike, rh_pct: ArrayLike) -> F:
    """Humidity ratio of moist air at ``t_c`` [degC] and ``rh_pct`` [%] [kg water / kg dry air]."""
    pw = np.asarray(rh_pct, dtype=float) / 100.0 * saturation_pressure_pa(t_c)
    return 0.622 * pw / (P_ATM_PA - pw)


def relative_humidity_pct(t_c: ArrayLike, w: ArrayLike) -> F:
    """Relative humidity [%] of air at ``t_c`` [degC] with humidity ratio ``w`` [kg/kg], at most 100."""
    wa = np.asarray(w, dtype=float)
    pw = wa * P_ATM_PA / (0.622 + wa)
    return np.minimum(100.0 * pw / saturation_pressure_pa(t_c), 100.0)


def moisture_step(w: ArrayLike, people: ArrayLike, ventilation_l_s: ArrayLike, volume_m3: ArrayLike, dt_s: float,
                  *, w_out: float, latent_w_per_person: float = 45.0) -> F:
    """Humidity ratio after ``dt_s``: the same exact mass balance as CO2 for water vapour.

    Each person releases ``latent_w_per_person / 2.45e6`` kg/s of water (ASHRAE Fundamentals: 45 W
    latent for seated, very light work).
    """
    wa = np.asarray(w, dtype=float)
    m_air = RHO_AIR_KG_M3 * np.asarray(volume_m3, dtype=float)
    mdot = RHO_AIR_KG_M3 * np.asarray(ventilation_l_s, dtype=float) / 1000.0
    gen = latent_w_per_person / LATENT_J_KG * np.asarray(people, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        wss = np.where(mdot > 0, w_out + gen / np.where(mdot > 0, mdot, 1.0), wa)
        out = np.where(mdot > 0, wss + (wa - wss) * np.exp(-mdot * dt_s / m_air), wa + gen * dt_s / m_air)
    return np.asarray(out, dtype=float)


# --------------------------------------------------------------------------- pure formulas: heat

def two_node_steady_state(t_out_c: ArrayLike, phi_air_w: ArrayLike, phi_mass_w: ArrayLike, h_air_w_k: ArrayLike,
                          h_mass_w_k: ArrayLike, h_am_w_k: ArrayLike) -> tuple[F, F]:
    """Steady state of the 2R2C zone model [degC].

    Air node: ``H_ve (T_out - T_a) + H_am (T_m - T_a) + phi_air = 0``; mass node:
    ``H_em (T_out - T_m) + H_am (T_a - T_m) + phi_mass = 0``.

    Returns
    -------
    t_air_c, t_mass_c
    """
    to = np.asarray(t_out_c, dtype=float)
    hve, hem, ham = (np.asarray(x, dtype=float) for x in (h_air_w_k, h_mass_w_k, h_am_w_k))
    pa, pm = np.asarray(phi_air_w, dtype=float), np.asarray(phi_mass_w, dtype=float)
    a11, a12, a22 = hve + ham, -ham, hem + ham
    b1, b2 = hve * to + pa, hem * to + pm
    det = a11 * a22 - a12 * a12
    return (b1 * a22 - a12 * b2) / det, (a11 * b2 - a12 * b1) / det


def two_node_step(t_air_c: ArrayLike, t_mass_c: ArrayLike, t_out_c: ArrayLike, phi_air_w: ArrayLike,
                  phi_mass_w: ArrayLike, *, c_air_j_k: ArrayLike, c_mass_j_k: ArrayLike, h_air_w_k: ArrayLike,
                  h_mass_w_k: ArrayLike, h_am_w_k: ArrayLike, dt_s: float,
                  heat_set_c: ArrayLike | None = None, cool_set_c: ArrayLike | None = None,
                  heat_cap_w: ArrayLike = 0.0, cool_cap_w: ArrayLike = 0.0) -> tuple[F, F, F]:
    """One implicit-Euler step of the 2R2C zone model, with ideal HVAC to setpoints within capacity.

    ``C_a dT_a/dt = H_ve (T_out - T_a) + H_am (T_m - T_a) + phi_air + phi_hvac`` (air and furniture),
    ``C_m dT_m/dt = H_em (T_out - T_m) + H_am (T_a - T_m) + phi_mass`` (the building's thermal mass),
    as the ISO 13790 5R1C model reduced to two capacities. The HVAC power is what brings the air
    to the heating (or cooling) setpoint at the end of the step, clipped to the capacity.

    Returns
    -------
    t_air_c, t_mass_c, phi_hvac_w
        Temperatures at the end of the step [degC] and HVAC heat delivered (+ heating, - cooling) [W].
    """
    ta, tm, to = (np.asarray(x, dtype=float) for x in (t_air_c, t_mass_c, t_out_c))
    ca, cm = np.asarray(c_air_j_k, dtype=float), np.asarray(c_mass_j_k, dtype=float)
    hve, hem, ham = (np.asarray(x, dtype=float) for x in (h_air_w_k, h_mass_w_k, h_am_w_k))
    a11 = ca / dt_s + hve + ham
    a12 = -ham
    a22 = cm / dt_s + hem + ham
    b1 = ca / dt_s * ta + hve * to + np.asarray(phi_air_w, dtype=float)
    b2 = cm / dt_s * tm + hem * to + np.asarray(phi_mass_w, dtype=float)
    det = a11 * a22 - a12 * a12
    ta_free = (b1 * a22 - a12 * b2) / det
    gain = a22 / det  # dT_a / dphi_hvac
    phi = np.zeros_like(ta_free)
    if heat_set_c is not None:
        need = (np.asarray(heat_set_c, dtype=float) - ta_free) / gain
        phi = np.where(need > 0, np.minimum(need, heat_cap_w), phi)
    if cool_set_c is not None:
        need = (np.asarray(cool_set_c, dtype=float) - ta_free) / gain
        phi = np.where(need < 0, np.maximum(need, -np.asarray(cool_cap_w, dtype=float)), phi)
    ta_new = ta_free + gain * phi
    tm_new = (b2 - a12 * ta_new) / a22
    return ta_new, tm_new, phi


def outdoor_temperature_c(t_s: ArrayLike, *, mean_c: float, amplitude_c: float, coldest_hour: float = 5.0) -> F:
    """A daily sinusoid of outdoor temperature, coldest at ``coldest_hour`` [degC] (typical shape)."""
    h = (np.asarray(t_s, dtype=float) / 3600.0) % 24.0
    return mean_c - amplitude_c * np.cos(2.0 * math.pi * (h - coldest_hour) / 24.0)


def solar_irradiance_w_m2(t_s: ArrayLike, *, peak_w_m2: float, sunrise_h: float = 6.5,
                          sunset_h: float = 18.0) -> F:
    """Irradiance on the facades as a half sine between sunrise and sunset [W/m2] (clear-day shape)."""
    h = (np.asarray(t_s, dtype=float) / 3600.0) % 24.0
    x = (h - sunrise_h) / max(sunset_h - sunrise_h, 1e-9)
    return np.where((x > 0) & (x < 1), peak_w_m2 * np.sin(math.pi * np.clip(x, 0, 1)), 0.0)


def sound_level_db(background_db: ArrayLike, talkers: ArrayLike, absorption_m2: ArrayLike, *,
                   talker_lw_db: float = 68.0) -> F:
    """A-weighted sound level from a background and talkers in a diffuse field [dB].

    ``L = 10 lg(10^(L_bg/10) + N 10^(L_W/10) 4 / A)`` (Kuttruff 2009), with ``L_W`` the sound power of a
    normal voice (about 68 dB(A), typical) and ``A`` the room's equivalent absorption area [m2].
    """
    bg = np.power(10.0, np.asarray(background_db, dtype=float) / 10.0)
    src = np.asarray(talkers, dtype=float) * 10 ** (talker_lw_db / 10.0) * 4.0 / np.asarray(absorption_m2, dtype=float)
    out: F = 10.0 * np.log10(bg + src)
    return out


# --------------------------------------------------------------------------- scenario format

def load_physics(resolved: ResolvedScenario, building: Building | None = None) -> PhysicsSpec:
    """The scenario's ``physics`` section (validated with the file), checked against the building.

    Raises
    ------
    geometry.errors.ScenarioError
        Listing zones, floors and meters named that the building does not have.
    """
    spec = resolved.scenario.physics
    if building is not None:
        problems = []
        zones = {z.id for z in building.zones}
        for zid in spec.zones:
            if zid not in zones:
                problems.append(section_problem(resolved, ("physics", "zones", zid),
                                                f"no zone '{zid}' in the building"))
        floors = {f.id for f in building.floors}
        devices = {d.id: d.type for d in building.devices}
        for did, m in spec.meters.items():
            if did not in devices:
                problems.append(section_problem(resolved, ("physics", "meters", did), f"no device '{did}' in the "
                                                                                      f"scenario"))
            if m.floor is not None and m.floor not in floors:
                problems.append(section_problem(resolved, ("physics", "meters", did, "floor"), f"no floor '{m.floor}'"))
        raise_problems(resolved, problems)
    return spec


# --------------------------------------------------------------------------- zone geometry

@dataclass(frozen=True)
class ZoneGeometry:
    """Per-zone constants the physics needs, as arrays in zone order."""

    zone_ids: tuple[str, ...]
    floor_ids: tuple[str, ...]
    kinds: tuple[str, ...]
    area_m2: F
    volume_m3: F
    wall_m2: F  # exterior wall (opaque + glazing)
    window_m2: F
    roof_m2: F
    ground_m2: F
    computers: NDArray[np.int64]
    cafes: NDArray[np.bool_]


def _on_ring_m(coords: Any, ring: LineString, tol_m: float = 0.05) -> float:
    """Length of a zone boundary's edges that lie on the floor outline [m]."""
    pts = list(coords)
    total = 0.0
    for (x0, y0), (x1, y1) in itertools.pairwise(pts):
        mid = Point((x0 + x1) / 2, (y0 + y1) / 2)
        if (ring.distance(Point(x0, y0)) <= tol_m and ring.distance(Point(x1, y1)) <= tol_m
                and ring.distance(mid) <= tol_m):
            total += math.hypot(x1 - x0, y1 - y0)
    return total


def zone_geometry(building: Building, spec: PhysicsSpec) -> ZoneGeometry:
    """Areas, volumes, exterior walls, roofs and windows of every zone.

    A zone's exterior wall is the part of its boundary on the floor outline times the storey
    height; the top floor has a roof and the lowest a ground slab.
    """
    zones: list[Zone] = []
    floor_of: list[str] = []
    heights: list[float] = []
    walls: list[float] = []
    roofs: list[float] = []
    grounds: list[float] = []
    top = max(f.elevation_m for f in building.floors)
    low = min(f.elevation_m for f in building.floors)
    for f in building.floors:
        ring = LineString(f.outline.exterior.coords)
        for z in f.zones:
            zones.append(z)
            floor_of.append(f.id)
            ov = spec.zones.get(z.id)
            h = ov.height_m if ov is not None and ov.height_m else f.height_m
            heights.append(h)
            walls.append(_on_ring_m(z.polygon.exterior.coords, ring) * h)
            roofs.append(z.area_m2 if f.elevation_m == top else 0.0)
            grounds.append(z.area_m2 if f.elevation_m == low else 0.0)
    comp = {z.id: 0 for z in zones}
    for s in building.seats:
        if "computer" in s.attrs:
            comp[s.zone_id] += 1
    area = np.array([z.area_m2 for z in zones])
    wall = np.array(walls)
    return ZoneGeometry(tuple(z.id for z in zones), tuple(floor_of), tuple(z.kind for z in zones), area,
                        area * np.array(heights), wall, wall * spec.thermal.window_ratio, np.array(roofs),
                        np.array(grounds), np.array([comp[z.id] for z in zones], dtype=np.int64),
                        np.array([z.kind == "cafe" for z in zones]))


# --------------------------------------------------------------------------- the stepping class

@dataclass(frozen=True)
class ZoneStep:
    """Result of one physics step, arrays over zones (power means over the step)."""

    t_s: float
    co2_ppm: F
    temperature_c: F
    humidity_pct: F
    illuminance_lx: F
    sound_db: F
    ventilation_l_s: F
    power_w: dict[str, F]  # end use -> per-zone mean power [W]; "lifts" is building-level (len 1)


class ZonePhysics:
    """All zones of a building stepped together: CO2, 2R2C heat, humidity, light, sound, energy.

    Parameters
    ----------
    building
        The building.
    spec
        The physics section.
    """

    def __init__(self, building: Building, spec: PhysicsSpec | None = None, *, n_lifts: int | None = None) -> None:
        self.spec = spec = spec or PhysicsSpec()
        self.geo = g = zone_geometry(building, spec)
        n = len(g.zone_ids)
        self.index = {z: i for i, z in enumerate(g.zone_ids)}
        th, vent, hv = spec.thermal, spec.ventilation, spec.hvac
        self.c_air = RHO_AIR_KG_M3 * CP_AIR_J_KGK * g.volume_m3 + th.furniture_j_m2k * g.area_m2
        self.c_mass = th.mass_j_m2k * g.area_m2
        opaque = g.wall_m2 - g.window_m2
        self.h_window = th.u_window_w_m2k * g.window_m2
        self.h_mass = th.u_wall_w_m2k * opaque + th.u_roof_w_m2k * g.roof_m2 + th.u_ground_w_m2k * g.ground_m2
        self.h_am = th.h_ms_w_m2k * th.mass_area_ratio * g.area_m2
        self.heat_cap = hv.heating_w_m2 * g.area_m2
        self.cool_cap = hv.cooling_w_m2 * g.area_m2
        kinds: list[Any] = list(g.kinds)  # zone kinds, the keys of the per-kind tables
        self.fixed_vent = np.array([np.nan if (o := spec.zones.get(z)) is None or o.ventilation_l_s is None
                                    else o.ventilation_l_s for z in g.zone_ids])
        lib = KindRates(people_l_s=vent.people_l_s, area_l_s_m2=vent.area_l_s_m2,
                        design_people_m2=vent.design_people_m2)
        rates = [vent.by_kind.get(k, lib) for k in kinds]
        self.rp = np.array([r.people_l_s for r in rates])
        self.ra = np.array([r.area_l_s_m2 for r in rates])
        self.design_vent = self.rp * np.array([r.design_people_m2 for r in rates]) * g.area_m2 + self.ra * g.area_m2
        self.heat_set = np.array([o.heating_setpoint_c if (o := spec.zones.get(z)) is not None
                                  and o.heating_setpoint_c is not None else hv.heating_setpoint_c for z in g.zone_ids])
        self.cool_set = np.array([o.cooling_setpoint_c if (o := spec.zones.get(z)) is not None
                                  and o.cooling_setpoint_c is not None else hv.cooling_setpoint_c for z in g.zone_ids])
        li, pl, ac = spec.lighting, spec.plug_loads, spec.acoustics
        self.light_w = np.array([li.w_m2_by_kind.get(k, li.w_m2) for k in kinds]) * g.area_m2
        self.light_lux = np.array([li.lux_by_kind.get(k, 300.0) for k in kinds])
        self.occ_lights = np.array([k in li.occupancy_control for k in kinds])
        self.plug_w = np.array([pl.w_m2_by_kind.get(k, pl.w_m2) for k in kinds]) * g.area_m2
        self.background_db = np.array([ac.background_db.get(k, 35.0) for k in kinds])
        self.talk_share = np.array([ac.talk_share.get(k, 0.05) for k in kinds])
        self.absorption_m2 = np.maximum(ac.absorption_ratio * g.area_m2, 1.0)
        self.n_lifts = n_lifts if n_lifts is not None else sum(1 for lk in building.links if lk.kind == "lift")
        # state
        out = spec.outdoor
        self.t_air = np.full(n, th.initial_c)
        self.t_mass = np.full(n, th.initial_c)
        self.co2 = np.full(n, out.co2_ppm)
        self.w = np.full(n, float(humidity_ratio(th.initial_c, 40.0)))
        self.energy_wh = {u: np.zeros(1 if u == "lifts" else n) for u in END_USES}
        self.t_s = 0.0

    # ------------------------------------------------------------- inputs
    def outdoor_c(self, t_s: float) -> float:
        o = self.spec.outdoor
        return float(outdoor_temperature_c(t_s, mean_c=o.temperature_c, amplitude_c=o.amplitude_c,
                                           coldest_hour=o.coldest_hour))

    def ventilation_l_s(self, people: F, hvac_on: bool) -> F:
        """Outdoor air of every zone [L/s]: the mode's rate while the HVAC runs, infiltration otherwise."""
        v, g = self.spec.ventilation, self.geo
        infil = v.infiltration_ach * g.volume_m3 / 3.6  # ACH x m3 / 3600 s x 1000 L/m3
        if not hvac_on:
            return infil
        if v.mode == "design":
            q = self.design_vent.copy()
        elif v.mode == "dcv":
            q = self.rp * people + self.ra * g.area_m2
        else:
            q = v.fixed_l_s_m2 * g.area_m2
        q = np.where(np.isnan(self.fixed_vent), q, self.fixed_vent)
        return np.maximum(q, infil)

    # ------------------------------------------------------------- the step
    def step(self, t_s: float, dt_s: float, *, people: ArrayLike, is_open: bool, hvac_on: bool,
             computers_busy: ArrayLike | None = None, kiosks: ArrayLike | None = None,
             kiosks_busy: ArrayLike | None = None, lifts_running: float = 0.0) -> ZoneStep:
        """Advance every zone from ``t_s`` by ``dt_s`` with the step's mean inputs.

        Parameters
        ----------
        people
            Mean occupants of each zone over the step.
        is_open
            The branch is open (lights, plug loads, computers, cafes on).
        hvac_on
            Ventilation and HVAC at occupied setpoints (otherwise setback and infiltration).
        computers_busy, kiosks, kiosks_busy
            Mean computers in use, kiosks present and kiosks serving in each zone.
        lifts_running
            Mean number of lift cars moving over the step.
        """
        sp, g = self.spec, self.geo
        n_z = len(g.zone_ids)
        p = np.asarray(people, dtype=float)
        zero = np.zeros(n_z)
        comp_busy = zero if computers_busy is None else np.asarray(computers_busy, dtype=float)
        n_kiosk = zero if kiosks is None else np.asarray(kiosks, dtype=float)
        k_busy = zero if kiosks_busy is None else np.asarray(kiosks_busy, dtype=float)
        t_mid = t_s + dt_s / 2.0
        to = self.outdoor_c(t_mid)
        out = sp.outdoor
        solar = float(solar_irradiance_w_m2(t_mid, peak_w_m2=out.solar_peak_w_m2, sunrise_h=out.sunrise_h,
                                            sunset_h=out.sunset_h))
        # electric loads
        lights_on = np.where(self.occ_lights, p > 0, is_open) if (is_open or hvac_on) else np.zeros(n_z, bool)
        light = self.light_w * lights_on
        if is_open:
            plug = self.plug_w + sp.plug_loads.computer_w * comp_busy \
                + sp.plug_loads.computer_idle_w * np.maximum(g.computers - comp_busy, 0.0) \
                + sp.plug_loads.cafe_w * g.cafes
        else:
            plug = sp.plug_loads.standby_w_m2 * g.area_m2
        kiosk = sp.plug_loads.kiosk_idle_w * n_kiosk + (sp.plug_loads.kiosk_w - sp.plug_loads.kiosk_idle_w) * k_busy
        # air
        q = self.ventilation_l_s(p, hvac_on)
        self.co2 = co2_step_ppm(self.co2, p, q, g.volume_m3, dt_s, generation_l_s=sp.co2_l_s_per_person,
                                outdoor_ppm=out.co2_ppm)
        w_out = float(humidity_ratio(to, out.rh_pct))
        self.w = moisture_step(self.w, p, q, g.volume_m3, dt_s, w_out=w_out,
                               latent_w_per_person=sp.latent_w_per_person)
        # heat
        recov = sp.ventilation.heat_recovery if hvac_on else 0.0
        h_vent = RHO_AIR_KG_M3 * CP_AIR_J_KGK * q / 1000.0 * (1.0 - recov)
        internal = sp.sensible_w_per_person * p + light + plug + kiosk
        fc = sp.thermal.convective_fraction
        phi_air = fc * internal
        phi_mass = (1.0 - fc) * internal + sp.thermal.g_value * g.window_m2 * solar
        hv = sp.hvac
        heat_set = self.heat_set if hvac_on else np.full(n_z, hv.setback_heating_c)
        cool_set = self.cool_set if hvac_on else np.full(n_z, hv.setback_cooling_c)
        self.t_air, self.t_mass, phi_hvac = two_node_step(
            self.t_air, self.t_mass, to, phi_air, phi_mass, c_air_j_k=self.c_air, c_mass_j_k=self.c_mass,
            h_air_w_k=self.h_window + h_vent, h_mass_w_k=self.h_mass, h_am_w_k=self.h_am, dt_s=dt_s,
            heat_set_c=heat_set, cool_set_c=cool_set, heat_cap_w=self.heat_cap, cool_cap_w=self.cool_cap)
        fans = sp.ventilation.fan_w_per_l_s * q if hvac_on else zero
        hvac = np.maximum(phi_hvac, 0.0) / hv.cop + np.maximum(-phi_hvac, 0.0) / hv.eer + fans
        lifts = np.array([sp.lifts.standby_w * self.n_lifts
                          + (sp.lifts.running_w - sp.lifts.standby_w) * lifts_running])
        power = {"lighting": light.astype(float), "plug_loads": np.asarray(plug, dtype=float),
                 "hvac": hvac, "kiosks": np.asarray(kiosk, dtype=float), "lifts": lifts}
        for u in END_USES:
            self.energy_wh[u] = self.energy_wh[u] + power[u] * dt_s / 3600.0
        # light and sound
        daylight = sp.lighting.daylight_factor * sp.lighting.efficacy_lm_w * solar * (g.window_m2 > 0)
        lux = self.light_lux * lights_on + daylight
        db = sound_level_db(self.background_db, self.talk_share * p, self.absorption_m2)
        self.t_s = t_s + dt_s
        return ZoneStep(self.t_s, self.co2.copy(), self.t_air.copy(), relative_humidity_pct(self.t_air, self.w),
                        lux, db, q, power)


def meter_scopes(building: Building, spec: PhysicsSpec) -> dict[str, str | None]:
    """Which floor each energy meter meters (None: the whole building).

    ``physics.meters`` says so explicitly; otherwise, where several meters share a circuit, a meter
    whose id ends with ``-<its floor id>`` meters that floor (e.g. ``em-lighting-L2``).
    """
    meters = [d for d in building.devices if d.type == "energy_meter"]
    by_circuit: dict[str | None, int] = {}
    for d in meters:
        by_circuit[d.circuit] = by_circuit.get(d.circuit, 0) + 1
    out: dict[str, str | None] = {}
    for d in meters:
        if d.id in spec.meters:
            out[d.id] = spec.meters[d.id].floor
        elif by_circuit[d.circuit] > 1 and d.id.endswith(f"-{d.floor_id}"):
            out[d.id] = d.floor_id
        else:
            out[d.id] = None
    return out

