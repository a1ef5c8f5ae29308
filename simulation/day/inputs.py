"""Everything a library day reads from its scenario, with the defaults filled in and cross-checked."""

from __future__ import annotations

from dataclasses import dataclass

from geometry.errors import Problem, ScenarioError
from geometry.model import Building
from geometry.scenario import DemandSpec, PhysicsSpec, ResolvedScenario, ServicesSpec, StaffSpec

from .demand import load_demand
from .physics import load_physics
from .services import ServiceLayout, load_services, load_staff, service_layout


@dataclass(frozen=True)
class DayInputs:
    """The effective ``demand``, ``services`` (and where they are), ``staff`` and ``physics``."""

    demand: DemandSpec
    services: ServicesSpec
    layout: ServiceLayout
    staff: StaffSpec
    physics: PhysicsSpec


def day_inputs(resolved: ResolvedScenario, building: Building, *,
               skip: frozenset[str] = frozenset()) -> DayInputs:
    """The day's sections of ``resolved`` over the defaults of its branch kind, checked against ``building``.

    Parameters
    ----------
    resolved
        The scenario, variant applied.
    building
        Its building (``geometry.build_building(resolved)``).
    skip
        Sections whose mistakes are already reported (their checks are not repeated).

    Raises
    ------
    geometry.errors.ScenarioError
        With every mistake of every section (file, line and field of each).
    """
    if building.branch_id != resolved.scenario.branch.id or building.variant != resolved.variant:
        raise ValueError(f"building '{building.branch_id}' (variant {building.variant}) does not come from "
                         f"scenario '{resolved.scenario.branch.id}' (variant {resolved.variant}, {resolved.file})")
    problems: list[Problem] = []

    def collect(exc: ScenarioError, section: str) -> None:
        if section not in skip:
            problems.extend(exc.problems)

    demand = services = layout = staff = physics = None
    try:
        demand = load_demand(resolved, building)
    except ScenarioError as exc:
        collect(exc, "demand")
    try:
        services = load_services(resolved)
        layout = service_layout(services, building, resolved)
    except ScenarioError as exc:
        collect(exc, "services")
    if layout is not None:
        try:
            staff = load_staff(resolved, layout)
        except ScenarioError as exc:
            collect(exc, "staff")
    try:
        physics = load_physics(resolved, building)
    except ScenarioError as exc:
        collect(exc, "physics")
    if problems:
        raise resolved.error(problems)
    if demand is None or services is None or layout is None or staff is None or physics is None:
        raise resolved.error([Problem((), f"sections {', '.join(sorted(skip))} have mistakes")])
    return DayInputs(demand, services, layout, staff, physics)
