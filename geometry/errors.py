"""Errors raised for bad scenario input: each names the file, the line and the field."""

from __future__ import annotations

from dataclasses import dataclass

Loc = tuple[str | int, ...]


def format_loc(loc: Loc) -> str:
    """Render a location path as ``building.floors[0].zones[2].polygon``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


@dataclass(frozen=True)
class Problem:
    """One mistake in a scenario: where (path in the document, line) and what."""

    loc: Loc
    message: str
    line: int | None = None

    def render(self, file: str) -> str:
        where = f"{file}:{self.line}" if self.line else file
        return f"{where}: {format_loc(self.loc)}: {self.message}"


class ScenarioError(ValueError):
    """A scenario file that cannot be used, with every problem found in it."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        self.file = file
        self.problems = problems
        super().__init__("\n".join(p.render(file) for p in problems))
