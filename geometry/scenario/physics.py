"""The ``physics`` section of a scenario: building physics, all optional, defaults cited.

::

    physics:
      step_s: 60
      outdoor: {co2_ppm: 420, temperature_c: 12, amplitude_c: 5, rh_pct: 60, solar_peak_w_m2: 400}
      co2_l_s_per_person: 0.0054
      ventilation: {mode: design, people_l_s: 2.5, area_l_s_m2: 0.6, design_people_m2: 0.1,
                    by_kind: {cafe: {people_l_s: 3.8, area_l_s_m2: 0.9, design_people_m2: 1.0}}}
      thermal: {mass_j_m2k: 165000, u_wall_w_m2k: 0.35, window_ratio: 0.4}
      hvac: {heating_setpoint_c: 20, cooling_setpoint_c: 26, heating_w_m2: 80, cooling_w_m2: 80}
      lighting: {w_m2: 14}
      plug_loads: {w_m2: 2, computer_w: 55}
      lifts: {standby_w: 200, running_w: 5000}
      zones: {reading-L1: {ventilation_l_s: 600}}   # per-zone overrides
      meters: {em-lighting-G: {floor: G}}            # an energy meter that meters one floor only

The formulas and their references are in ``simulation.day.physics``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .building import ZoneKind
from .types import Float, Id, Strict


def _by_kind(values: dict[str, float]) -> dict[ZoneKind, float]:
    return {ZoneKind(k): v for k, v in values.items()}


class OutdoorSpec(Strict):
    """Outdoor air and weather over a day (a sinusoidal temperature, a clear-sky sun)."""

    co2_ppm: Float = Field(default=420.0, ge=250, le=1000, description="outdoor CO2 [ppm]")
    temperature_c: Float = Field(default=12.0, ge=-40, le=50, description="daily mean outdoor temperature [degC]")
    amplitude_c: Float = Field(default=5.0, ge=0, le=25, description="half the daily swing [K]")
    coldest_hour: Float = Field(default=5.0, ge=0, lt=24, description="local hour of the daily minimum [h]")
    rh_pct: Float = Field(default=60.0, ge=0, le=100, description="outdoor relative humidity [%]")
    solar_peak_w_m2: Float = Field(default=400.0, ge=0, le=1200, description="midday irradiance on facades [W/m2]")
    sunrise_h: Float = Field(default=6.5, ge=0, lt=24, description="local hour of sunrise [h]")
    sunset_h: Float = Field(default=18.0, gt=0, le=24, description="local hour of sunset [h]")


class KindRates(Strict):
    """ASHRAE 62.1 breathing-zone rates of one kind of space."""

    people_l_s: Float = Field(ge=0, description="Rp [L/s per person]")
    area_l_s_m2: Float = Field(ge=0, description="Ra [L/s per m2]")
    design_people_m2: Float = Field(ge=0, description="default occupant density [persons/m2]")


#: ASHRAE 62.1-2019 Table 6.2.2.1 rates for the zone kinds that are not library space: cafe
#: (cafeteria/fast-food dining), computer lab, event space (multiuse assembly), office (office
#: space), circulation (corridors), entrance (lobbies/prefunction), group study (conference/meeting);
#: restrooms by their exhaust (Table 6.5: 25 L/s per water closet or urinal, about one per 4 m2, typical).
ASHRAE_RATES_BY_KIND: dict[str, dict[str, float]] = {
    "cafe": {"people_l_s": 3.8, "area_l_s_m2": 0.9, "design_people_m2": 1.0},
    "computer_lab": {"people_l_s": 5.0, "area_l_s_m2": 0.6, "design_people_m2": 0.25},
    "event_space": {"people_l_s": 3.8, "area_l_s_m2": 0.3, "design_people_m2": 1.0},
    "office": {"people_l_s": 2.5, "area_l_s_m2": 0.3, "design_people_m2": 0.05},
    "circulation": {"people_l_s": 0.0, "area_l_s_m2": 0.3, "design_people_m2": 0.0},
    "entrance": {"people_l_s": 3.8, "area_l_s_m2": 0.3, "design_people_m2": 0.3},
    "group_study": {"people_l_s": 2.5, "area_l_s_m2": 0.3, "design_people_m2": 0.5},
    "restroom": {"people_l_s": 0.0, "area_l_s_m2": 6.0, "design_people_m2": 0.0},
}


class VentilationSpec(Strict):
    """Outdoor air: ``design`` (ASHRAE 62.1 at design occupancy), ``dcv`` (at actual occupancy) or ``fixed``.

    ``people_l_s``, ``area_l_s_m2`` and ``design_people_m2`` are the library rates; ``by_kind``
    gives other kinds of space their own.
    """

    mode: Literal["design", "dcv", "fixed"] = Field(default="design", description="how outdoor air is set")
    people_l_s: Float = Field(default=2.5, ge=0, description="Rp [L/s per person] (ASHRAE 62.1, libraries)")
    area_l_s_m2: Float = Field(default=0.6, ge=0, description="Ra [L/s per m2] (ASHRAE 62.1, libraries)")
    design_people_m2: Float = Field(default=0.10, ge=0, description="design occupancy [persons/m2] (62.1 default)")
    by_kind: dict[ZoneKind, KindRates] = Field(
        default_factory=lambda: {ZoneKind(k): KindRates(**v) for k, v in ASHRAE_RATES_BY_KIND.items()},
        description="rates of other kinds of space (default: ASHRAE 62.1 Table 6.2.2.1)")
    fixed_l_s_m2: Float = Field(default=1.5, ge=0, le=100, description="outdoor air in 'fixed' mode [L/s per m2]")
    infiltration_ach: Float = Field(default=0.2, ge=0, le=5, description="air changes per hour when off (typical)")
    heat_recovery: Float = Field(default=0.0, ge=0, lt=1, description="heat recovery efficiency of the air handler")
    fan_w_per_l_s: Float = Field(default=1.25, ge=0, le=5,
                                 description="specific fan power [W per L/s] (EN 16798-3 SFP 3)")
    before_open_s: Float = Field(default=3600.0, ge=0, le=43200,
                                 description="ventilation and HVAC start this long before opening")
    after_close_s: Float = Field(default=1800.0, ge=0, le=43200, description="... and stop this long after closing [s]")


class ThermalSpec(Strict):
    """Envelope and thermal mass of the two-node (air, mass) zone model."""

    mass_j_m2k: Float = Field(default=165000.0, gt=0, le=1e7,
                              description="thermal mass per floor area [J/(m2 K)] (ISO 13790 medium)")
    furniture_j_m2k: Float = Field(default=10000.0, ge=0, le=1e7,
                                   description="air-node capacity of furnishings [J/(m2 K)]")
    h_ms_w_m2k: Float = Field(default=9.1, gt=0, le=100, description="ISO 13790 mass-to-surface coefficient [W/(m2 K)]")
    mass_area_ratio: Float = Field(default=2.5, gt=0, le=20, description="A_m / A_floor (ISO 13790 medium)")
    u_wall_w_m2k: Float = Field(default=0.35, gt=0, le=10, description="U-value of exterior walls [W/(m2 K)]")
    u_window_w_m2k: Float = Field(default=1.8, gt=0, le=10, description="U-value of windows [W/(m2 K)]")
    u_roof_w_m2k: Float = Field(default=0.25, gt=0, le=10, description="U-value of the roof [W/(m2 K)]")
    u_ground_w_m2k: Float = Field(default=0.3, gt=0, le=10, description="U-value of the ground slab [W/(m2 K)]")
    window_ratio: Float = Field(default=0.4, ge=0, le=1, description="window share of the exterior wall")
    g_value: Float = Field(default=0.35, ge=0, le=1, description="solar gain factor of glazing with shading")
    convective_fraction: Float = Field(default=0.5, ge=0, le=1, description="share of internal gains to the air node")
    initial_c: Float = Field(default=19.0, ge=-40, le=60, description="air and mass temperature at the start [degC]")


class HvacSpec(Strict):
    """Heating and cooling: setpoints while open and set back while closed [degC], capacities."""

    heating_setpoint_c: Float = Field(default=20.0, ge=-40, le=60,
                                      description="[degC] (EN 16798-1 category II, winter)")
    cooling_setpoint_c: Float = Field(default=26.0, ge=-40, le=60,
                                      description="[degC] (EN 16798-1 category II, summer)")
    setback_heating_c: Float = Field(default=16.0, ge=-40, le=60, description="heating setpoint while closed [degC]")
    setback_cooling_c: Float = Field(default=32.0, ge=-40, le=80, description="cooling setpoint while closed [degC]")
    heating_w_m2: Float = Field(default=80.0, ge=0, le=2000,
                                description="heating capacity per floor area [W/m2] (typical)")
    cooling_w_m2: Float = Field(default=80.0, ge=0, le=2000,
                                description="cooling capacity per floor area [W/m2] (typical)")
    cop: Float = Field(default=3.0, gt=0, le=20, description="heating COP (heat pump, typical)")
    eer: Float = Field(default=3.0, gt=0, le=20, description="cooling EER (typical)")


LUX_BY_KIND = {"reading_room": 500.0, "quiet_study": 500.0, "computer_lab": 500.0, "service_desk": 500.0,
               "office": 500.0, "group_study": 500.0, "stacks": 200.0, "children": 300.0, "cafe": 200.0,
               "entrance": 200.0, "event_space": 300.0, "circulation": 100.0, "restroom": 200.0}


class LightingSpec(Strict):
    """Lighting power and target illuminance."""

    w_m2: Float = Field(default=14.0, ge=0, le=200,
                        description="lighting power density [W/m2] (ASHRAE 90.1-2004, library)")
    w_m2_by_kind: dict[ZoneKind, Float] = Field(default_factory=lambda: _by_kind({"circulation": 7.0, "restroom": 9.0}),
                                                description="lighting power density by zone kind [W/m2]")
    lux_by_kind: dict[ZoneKind, Float] = Field(default_factory=lambda: _by_kind(LUX_BY_KIND),
                                               description="maintained illuminance by zone kind [lx] (EN 12464-1)")
    occupancy_control: list[ZoneKind] = Field(default_factory=lambda: [ZoneKind.restroom, ZoneKind.group_study],
                                         description="zone kinds whose lights follow occupancy")
    daylight_factor: Float = Field(default=0.02, ge=0, le=0.2, description="daylit zones: share of outdoor daylight")
    efficacy_lm_w: Float = Field(default=110.0, gt=0, le=1000, description="luminous efficacy of daylight [lm/W]")


class PlugSpec(Strict):
    """Plug loads: equipment, computers, the cafe, kiosks [W]."""

    w_m2: Float = Field(default=2.0, ge=0, description="plug loads while open [W/m2] (typical)")
    w_m2_by_kind: dict[ZoneKind, Float] = Field(default_factory=lambda: _by_kind({"office": 8.0, "service_desk": 6.0}),
                                                description="plug loads by zone kind while open [W/m2]")
    standby_w_m2: Float = Field(default=0.5, ge=0, description="plug loads while closed [W/m2]")
    computer_w: Float = Field(default=55.0, ge=0, description="a public computer in use (ASHRAE Fundamentals ch. 18)")
    computer_idle_w: Float = Field(default=20.0, ge=0, description="a public computer idle [W]")
    cafe_w: Float = Field(default=2500.0, ge=0, description="cafe equipment while open [W] (typical)")
    kiosk_w: Float = Field(default=150.0, ge=0, description="a kiosk serving [W] (typical)")
    kiosk_idle_w: Float = Field(default=40.0, ge=0, description="a kiosk idle [W]")


class LiftPowerSpec(Strict):
    """Electric power of a lift [W]."""

    standby_w: Float = Field(default=200.0, ge=0, description="a lift at rest (VDI 4707 class D, typical)")
    running_w: Float = Field(default=5000.0, ge=0, description="a 1,000 kg traction lift moving (typical)")


class AcousticsSpec(Strict):
    """Sound: background level and share of people talking, by zone kind."""

    background_db: dict[ZoneKind, Float] = Field(default_factory=lambda: _by_kind({
        "quiet_study": 30.0, "reading_room": 33.0, "stacks": 33.0, "computer_lab": 38.0, "group_study": 35.0,
        "cafe": 45.0, "children": 40.0, "entrance": 42.0, "circulation": 40.0, "service_desk": 40.0,
        "event_space": 35.0, "office": 38.0, "restroom": 40.0}), description="background level by zone kind [dB(A)]")
    talk_share: dict[ZoneKind, Float] = Field(default_factory=lambda: _by_kind({
        "quiet_study": 0.005, "reading_room": 0.02, "stacks": 0.05, "computer_lab": 0.05, "group_study": 0.3,
        "cafe": 0.3, "children": 0.3, "entrance": 0.15, "circulation": 0.1, "service_desk": 0.3,
        "event_space": 0.05, "office": 0.2, "restroom": 0.05}), description="share of people talking by zone kind")
    absorption_ratio: Float = Field(default=0.8, gt=0, le=20, description="equivalent absorption area per floor area")


class ZoneOverride(Strict):
    """Settings of one zone that differ from the building's."""

    ventilation_l_s: Float | None = Field(default=None, ge=0, description="fixed outdoor air for this zone [L/s]")
    height_m: Float | None = Field(default=None, gt=0, le=100, description="room height [m] (default: storey height)")
    heating_setpoint_c: Float | None = Field(default=None, ge=-40, le=60, description="[degC]")
    cooling_setpoint_c: Float | None = Field(default=None, ge=-40, le=60, description="[degC]")


class MeterSpec(Strict):
    """What an energy meter meters."""

    floor: Id | None = Field(default=None, description="meter one floor only")


class PhysicsSpec(Strict):
    """The ``physics`` section (see the module docstring); every field has a default."""

    step_s: Float = Field(default=60.0, ge=10, le=900, description="physics clock [s]")
    outdoor: OutdoorSpec = Field(default_factory=OutdoorSpec, description="outdoor conditions")
    co2_l_s_per_person: Float = Field(default=0.0054, gt=0, le=0.05,
                                      description="CO2 per person [L/s] (Persily and de Jonge 2017)")
    sensible_w_per_person: Float = Field(default=70.0, ge=0, le=1000,
                                         description="sensible heat per person [W] (ASHRAE Fundamentals ch. 18)")
    latent_w_per_person: Float = Field(default=45.0, ge=0, le=1000,
                                       description="latent heat per person [W] (ASHRAE Fundamentals ch. 18)")
    ventilation: VentilationSpec = Field(default_factory=VentilationSpec, description="outdoor air")
    thermal: ThermalSpec = Field(default_factory=ThermalSpec, description="envelope and thermal mass")
    hvac: HvacSpec = Field(default_factory=HvacSpec, description="heating and cooling")
    lighting: LightingSpec = Field(default_factory=LightingSpec, description="lighting")
    plug_loads: PlugSpec = Field(default_factory=PlugSpec, description="plug loads")
    lifts: LiftPowerSpec = Field(default_factory=LiftPowerSpec, description="lift power")
    acoustics: AcousticsSpec = Field(default_factory=AcousticsSpec, description="sound levels")
    zones: dict[Id, ZoneOverride] = Field(default_factory=dict, description="per-zone overrides, by zone id")
    meters: dict[Id, MeterSpec] = Field(default_factory=dict, description="energy meters that meter one floor, by "
                                             "device id")
