"""From a file (or a model in memory) to one frozen :class:`ResolvedScenario`.

``load_scenario`` reads a file (bounded YAML, every key's line remembered) and validates it whole
as a :class:`~geometry.scenario.document.Scenario`; ``apply_variant`` merges a named variant into
it, once, with :func:`merge`, and validates the result; ``to_yaml`` writes a scenario back as a
file that loads equal. Every part of the engine reads the :class:`ResolvedScenario`; nothing else
reads YAML.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import Loc, Problem, ScenarioError
from ..yamlsrc import LineMap, load_yaml
from .document import Scenario

#: Sections whose mistakes do not stop the checks of the others (they fall back to defaults).
SOFT_SECTIONS: tuple[str, ...] = ("demand", "services", "staff", "physics")


@dataclass(frozen=True)
class ScenarioSource:
    """A scenario as read: the base document, its plain data and the line of every key.

    ``problems`` and ``skipped`` are only set by ``load_scenario(..., keep_going=True)``: the
    mistakes found in the sections named in ``skipped``, which were replaced by their defaults so
    the rest of the file can still be checked.
    """

    file: str
    raw: dict[str, Any]
    lines: LineMap
    scenario: Scenario
    problems: tuple[Problem, ...] = ()
    skipped: frozenset[str] = frozenset()

    @classmethod
    def from_spec(cls, scenario: Scenario, *, file: str = "<memory>") -> ScenarioSource:
        """A source for a scenario made in memory (by an importer, an optimiser or a test)."""
        return cls(file, plain(scenario), LineMap(), scenario)


@dataclass(frozen=True)
class ResolvedScenario:
    """The scenario every part reads: the document with its variant merged in, and where it came from.

    Attributes
    ----------
    scenario
        The validated document with the variant applied (``scenario.variants`` still lists the
        base's variants).
    file
        The file it came from (``<memory>`` for one made in code), for messages.
    lines
        Line of every key of the file, for messages.
    variant
        The variant merged in, or None for the base.
    """

    scenario: Scenario
    file: str
    lines: LineMap
    variant: str | None = None

    def line(self, loc: Loc) -> int | None:
        """Line of ``loc`` in the file: the key itself, else the variant, else its nearest ancestor."""
        exact = self.lines.exact(loc)
        if exact is not None or self.variant is None:
            return exact if exact is not None else self.lines.line(loc)
        return self.lines.line(("variants", self.variant))

    def problem(self, loc: Loc, message: str) -> Problem:
        """A mistake at ``loc``, located in the file and naming the variant."""
        if self.variant:
            message += f" (in variant '{self.variant}')"
        return Problem(loc, message, self.line(loc))

    def error(self, problems: Iterable[Problem]) -> ScenarioError:
        """A :class:`ScenarioError` of this file."""
        return ScenarioError(self.file, list(problems))


# --------------------------------------------------------------------------- validation

def pydantic_problems(exc: ValidationError, lines: LineMap | None, prefix: Loc = ()) -> list[Problem]:
    """Pydantic errors as :class:`Problem` objects, located in the file when ``lines`` is given."""
    out = []
    for err in exc.errors(include_url=False):
        loc = prefix + tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        msg = str(err["msg"])
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        if err["type"] == "extra_forbidden":
            msg = f"unknown field '{loc[-1]}'"
        elif err["type"] == "missing":
            msg = f"missing required field '{loc[-1]}'"
        elif "input" in err and err["type"] not in ("model_type", "dict_type"):
            shown = repr(err["input"])
            if len(shown) < 60:
                msg += f" (got {shown})"
            if err["type"] in ("float_type", "int_type") and _numeric_text(err["input"]):
                msg += "; YAML read it as text (write numbers unquoted, exponents with a point and a sign: 1.0e+12)"
        out.append(Problem(loc, msg, lines.line(loc) if lines is not None else None))
    return out


def _numeric_text(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True


def validate_document(raw: Any, file: str, lines: LineMap, prefix: Loc = ()) -> Scenario:
    """Validate plain data as a :class:`Scenario`, raising :class:`ScenarioError` with lines."""
    scenario, problems, _ = _validate(raw, file, lines, prefix)
    if problems or scenario is None:
        raise ScenarioError(file, problems)
    return scenario


def _validate(raw: Any, file: str, lines: LineMap, prefix: Loc = ()) -> tuple[Scenario | None, list[Problem],
                                                                              frozenset[str]]:
    """The scenario, every mistake, and the soft sections left at their defaults to get a scenario."""
    if not isinstance(raw, dict):
        return None, [Problem(prefix, f"expected a mapping at the top, got {type(raw).__name__}",
                              lines.line(prefix))], frozenset()
    try:
        return Scenario.model_validate(raw), [], frozenset()
    except ValidationError as exc:
        problems = pydantic_problems(exc, lines, prefix)
    bad = {str(p.loc[len(prefix)]) for p in problems if len(p.loc) > len(prefix)}
    if not bad or not bad <= set(SOFT_SECTIONS):
        return None, problems, frozenset()
    if "services" in bad:
        bad.add("staff")  # staff name desks of the services: they cannot be checked against defaults
    try:
        rest = Scenario.model_validate({k: v for k, v in raw.items() if k not in bad})
    except ValidationError:
        return None, problems, frozenset()
    return rest, problems, frozenset(bad)


def load_scenario(path: str | Path, text: str | None = None, *, keep_going: bool = False) -> ScenarioSource:
    """Read and validate a scenario file (the document; :func:`geometry.build.build_building` checks
    the geometry).

    Parameters
    ----------
    path
        The file (also used in messages when ``text`` is given).
    text
        The file's content, when it is already read.
    keep_going
        When only the ``demand``, ``services``, ``staff`` or ``physics`` sections have mistakes,
        return the source with those sections at their defaults and the mistakes in
        ``problems``, so the other checks can still run.

    Raises
    ------
    ScenarioError
        With every mistake, each with file, line and field.
    """
    file = str(path)
    raw, lines = load_yaml(path, text)
    scenario, problems, skipped = _validate(raw, file, lines)
    if scenario is None or (problems and not keep_going):
        raise ScenarioError(file, problems)
    return ScenarioSource(file, {k: v for k, v in raw.items() if k not in skipped}, lines, scenario,
                          tuple(problems), skipped)


# --------------------------------------------------------------------------- variants

def merge(base: Any, override: Any) -> Any:
    """Deep-merge ``override`` into ``base`` (see :class:`~geometry.scenario.document.VariantSpec`).

    Mappings merge key by key; lists whose items all are mappings with an ``id`` merge by id (an
    item with ``remove: true`` deletes that id; an unknown id is appended); anything else in
    ``override`` replaces ``base``. Neither argument is changed.

    Raises
    ------
    KeyError
        When an item to remove is not in the base.
    """
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for k, v in override.items():
            # a key the base lacks merges into an empty one, so `remove` of a missing item still errors
            out[k] = merge(base[k] if k in base else type(v)() if isinstance(v, (dict, list)) else None, v)
        return out
    if (isinstance(base, list) and isinstance(override, list)
            and all(isinstance(x, dict) and "id" in x for x in base + override)):
        merged = [copy.deepcopy(x) for x in base]
        index = {_key(x["id"]): i for i, x in enumerate(merged)}
        removed = set()
        for item in override:
            key = _key(item["id"])
            if item.get("remove") is True:
                if key not in index:
                    raise KeyError(f"cannot remove '{item['id']}': no such item in the base")
                removed.add(key)
            elif key in index:
                merged[index[key]] = merge(merged[index[key]], item)
            else:
                merged.append(copy.deepcopy(item))
                index[key] = len(merged) - 1
        return [x for x in merged if _key(x["id"]) not in removed]
    return copy.deepcopy(override)


def _key(ident: Any) -> Any:
    """An id usable as a dict key (a malformed id such as a list is reported by validation later)."""
    try:
        hash(ident)
    except TypeError:
        return repr(ident)
    return ident


def apply_variant(src: ScenarioSource, variant: str | None = None) -> ResolvedScenario:
    """The scenario with variant ``variant`` merged in (``None`` gives the base), validated.

    This is the one place a variant is applied.

    Raises
    ------
    ScenarioError
        When there is no such variant, or the merged document has mistakes (named ``in variant``).
    """
    if variant is None:
        return ResolvedScenario(src.scenario, src.file, src.lines, None)
    if variant not in src.scenario.variants:
        known = ", ".join(src.scenario.variants) or "none"
        raise ScenarioError(src.file, [Problem(("variants",), f"no variant '{variant}' (known: {known})",
                                               src.lines.line(("variants",)))])
    resolved = ResolvedScenario(src.scenario, src.file, src.lines, variant)
    override = src.scenario.variants[variant].override
    loc: Loc = ("variants", variant, "override")
    forbidden = [k for k in override if k in ("variants", "version")]
    if forbidden:
        raise resolved.error([Problem(loc + (forbidden[0],), f"a variant cannot change '{forbidden[0]}'",
                                      src.lines.line(loc + (forbidden[0],)))])
    base = {k: v for k, v in src.raw.items() if k != "variants"}
    try:
        raw = merge(base, override)
    except KeyError as exc:
        raise resolved.error([Problem(loc, str(exc.args[0]), src.lines.line(loc))]) from None
    raw["variants"] = src.raw.get("variants", {})
    try:
        scen = Scenario.model_validate(raw)
    except ValidationError as exc:
        raise resolved.error([resolved.problem(p.loc, p.message) for p in pydantic_problems(exc, None)]) from None
    return ResolvedScenario(scen, src.file, src.lines, variant)


def resolve_file(path: str | Path, variant: str | None = None) -> ResolvedScenario:
    """Read a scenario file and apply ``variant``: ``apply_variant(load_scenario(path), variant)``."""
    return apply_variant(load_scenario(path), variant)


# --------------------------------------------------------------------------- writing

def plain(scenario: Scenario) -> dict[str, Any]:
    """The scenario as plain data (what a file holds): fields that were given, enums as text,
    tuples as lists, dates as dates (YAML writes them as ``2025-03-05``)."""
    return _plain(scenario.model_dump(mode="python", exclude_unset=True))  # type: ignore[no-any-return]


def _plain(x: Any) -> Any:
    if isinstance(x, BaseModel):
        return _plain(x.model_dump(mode="python", exclude_unset=True))
    if isinstance(x, dict):
        return {_plain_key(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, Enum):
        return x.value
    return x


def _plain_key(k: Any) -> Any:
    if isinstance(k, Enum):
        return k.value
    if isinstance(k, dt.date):
        return k.isoformat()
    return k


def to_yaml(scenario: Scenario) -> str:
    """The scenario as YAML text that validates and loads back equal (fields given, in model order)."""
    import yaml

    return yaml.safe_dump(plain(scenario), sort_keys=False, allow_unicode=True, width=120)
