"""The effective scenario sections: the file's ``demand``, ``services``, ``staff`` and ``physics``
(already validated as written, in :class:`~geometry.scenario.ResolvedScenario`) with the defaults
of the branch kind and the building filled in, validated again by the same models.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from geometry.errors import Loc, Problem, ScenarioError
from geometry.scenario import ResolvedScenario, pydantic_problems

M = TypeVar("M", bound=BaseModel)


def given(model: BaseModel) -> dict[str, Any]:
    """The fields a section gives (not its model defaults), as plain data to merge defaults under."""
    return model.model_dump(mode="python", exclude_unset=True)


def validate_section(model: type[M], data: Any, *, section: str, resolved: ResolvedScenario | None) -> M:
    """Validate ``data`` (a section with its defaults filled in) as ``model``.

    Raises
    ------
    geometry.errors.ScenarioError
        Naming the file, line and ``section.field`` of each mistake (the variant too).
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        probs = pydantic_problems(exc, None, (section,))
        if resolved is None:
            raise ScenarioError("<defaults>", probs) from None
        raise resolved.error(resolved.problem(p.loc, p.message) for p in probs) from None


def section_problem(resolved: ResolvedScenario | None, loc: Loc, message: str) -> Problem:
    """One located mistake of a section (found against the building or another section)."""
    if resolved is None:
        return Problem(loc, message)
    return resolved.problem(loc, message)


def raise_problems(resolved: ResolvedScenario | None, problems: list[Problem]) -> None:
    """Raise the problems found, if any, as one :class:`ScenarioError`."""
    if problems:
        raise ScenarioError(resolved.file if resolved is not None else "<defaults>", problems)
