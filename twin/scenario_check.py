"""Check a scenario file whole: every section, every variant, the geometry and the cross-references."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from geometry.errors import Problem, ScenarioError


@dataclass(frozen=True)
class ScenarioCheck:
    """What checking one scenario file found.

    Attributes
    ----------
    file
        The file checked.
    variants
        Its variants (all checked too).
    problems
        Every mistake found, each with its line; empty when the file is good.
    """

    file: str
    variants: tuple[str, ...]
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        """The problems as ``file:line: field: message`` lines."""
        return [p.render(self.file) for p in self.problems]


def check_scenario(path: str | Path, *, geometry: bool = True) -> ScenarioCheck:
    """Check a scenario file and each of its variants, collecting every mistake.

    The document is validated whole (unknown fields, types, ranges in every section); then, for
    the base and each variant, the building is built (``geometry``: zones, seats, openings,
    devices, reachability) and the day's sections are filled in with their defaults and checked
    against it and each other (events in zones that exist, staff at desks that exist ...). A
    mistake of the base is reported once, not again for every variant.

    Parameters
    ----------
    path
        The scenario file.
    geometry
        Also build the building and check the sections against it (slower).
    """
    from geometry.build import build_building
    from geometry.scenario import apply_variant, load_scenario

    file = str(path)
    try:
        src = load_scenario(path, keep_going=True)
    except ScenarioError as exc:
        return ScenarioCheck(file, (), tuple(exc.problems))
    problems: list[Problem] = list(src.problems)
    seen = {(p.loc, p.message) for p in problems}
    variants = tuple(src.scenario.variants)
    for variant in (None, *variants):
        suffix = f" (in variant '{variant}')" if variant else ""
        try:
            resolved = apply_variant(src, variant)
            if geometry:
                from simulation.day.inputs import day_inputs

                day_inputs(resolved, build_building(resolved), skip=src.skipped)
        except ScenarioError as exc:
            for p in exc.problems:
                key = (p.loc, p.message.removesuffix(suffix))
                if key not in seen:
                    seen.add(key)
                    problems.append(p)
    return ScenarioCheck(file, variants, tuple(problems))
