"""Validation of the open scenario sections (``demand``, ``services``, ``staff``, ``physics``).

The scenario loader (:mod:`geometry.scenario`) keeps these sections as open mappings; the
simulation validates them with its own pydantic models, and reports mistakes like the loader
does: :class:`~geometry.errors.ScenarioError` with ``file:line: section.field: message``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from geometry.build import ScenarioSource, apply_variant, pydantic_problems
from geometry.errors import Loc, Problem, ScenarioError

M = TypeVar("M", bound=BaseModel)

_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


class Strict(BaseModel):
    """A frozen model that rejects unknown fields (a typo is an error, not silence)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def clock_s(text: str) -> float:
    """Seconds after midnight of a clock time ``"HH:MM"`` or ``"HH:MM:SS"`` (``"24:00"`` allowed) [s].

    Raises
    ------
    ValueError
        When the text is not a clock time.
    """
    m = _CLOCK.match(text.strip())
    if not m:
        raise ValueError(f"'{text}' is not a clock time HH:MM")
    h, mi, s = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    if mi > 59 or s > 59 or h > 24 or (h == 24 and (mi or s)):
        raise ValueError(f"'{text}' is not a clock time between 00:00 and 24:00")
    return float(h * 3600 + mi * 60 + s)


def deep_merge(base: Any, override: Any) -> Any:
    """Mappings merge key by key (recursively); anything else in ``override`` replaces ``base``."""
    if isinstance(base, Mapping) and isinstance(override, Mapping):
        out = {k: copy.deepcopy(v) for k, v in base.items()}
        for k, v in override.items():
            out[k] = deep_merge(base[k], v) if k in base else copy.deepcopy(v)
        return out
    return copy.deepcopy(override)


def problems_of(exc: ValidationError, src: ScenarioSource | None, prefix: Loc) -> list[Problem]:
    """Pydantic errors as :class:`Problem` objects located in the scenario file."""
    return pydantic_problems(exc, src.lines if src is not None else None, prefix)


def section_raw(src: ScenarioSource, section: str, variant: str | None = None) -> dict[str, Any]:
    """The raw mapping of one open section, with ``variant`` merged in (empty when absent)."""
    s = apply_variant(src, variant)
    raw = s.raw.get(section) or {}
    if not isinstance(raw, dict):
        raise ScenarioError(src.file, [Problem((section,), f"expected a mapping, got {type(raw).__name__}",
                                               src.lines.line((section,)))])
    return raw


def validate_section(model: type[M], data: Any, *, section: str, src: ScenarioSource | None = None,
                     variant: str | None = None) -> M:
    """Validate ``data`` as ``model``; errors name the file, line and ``section.field``.

    Parameters
    ----------
    model
        The pydantic model of the section.
    data
        Plain data (defaults already merged with the scenario's own section).
    section
        Section name (``demand``, ``services``, ``staff``, ``physics``): the first part of each
        error location.
    src
        Where the data came from, for file and line numbers (None: ``<defaults>``).
    variant
        The variant merged in, named in messages so a mistake in an override is found.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        probs = problems_of(exc, src, (section,))
        if variant:
            probs = [Problem(p.loc, f"{p.message} (in variant '{variant}')", p.line) for p in probs]
        raise ScenarioError(src.file if src is not None else "<defaults>", probs) from None


def scenario_problem(src: ScenarioSource | None, loc: Loc, message: str) -> ScenarioError:
    """One located problem as a :class:`ScenarioError` (for checks against the building)."""
    file = src.file if src is not None else "<defaults>"
    return ScenarioError(file, [Problem(loc, message, src.lines.line(loc) if src is not None else None)])
