"""YAML loading that remembers the line of every mapping key and list item.

Errors found later (by pydantic or by the geometry checks) carry a path such as
``("building", "floors", 0, "zones", 2)``; :class:`LineMap` turns that path into the line of the
deepest part of it that exists in the file.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml

from .errors import Loc, Problem, ScenarioError

#: Largest scenario file [bytes].
MAX_FILE_BYTES = 5_000_000
#: Deepest nesting of lists and mappings (a scenario needs about 8).
MAX_DEPTH = 64
#: Most values a file may expand to, aliases counted each time they are used (a large branch has
#: some 20,000).
MAX_VALUES = 200_000


class LineMap:
    """Map from document paths to 1-based line numbers."""

    def __init__(self) -> None:
        self._lines: dict[Loc, int] = {}

    def add(self, loc: Loc, line: int) -> None:
        self._lines.setdefault(loc, line)

    def exact(self, loc: Loc) -> int | None:
        """Line of ``loc`` itself, or None when the file does not have it."""
        return self._lines.get(tuple(loc))

    def line(self, loc: Loc) -> int | None:
        """Line of ``loc`` or of its nearest ancestor present in the file."""
        parts = tuple(loc)
        while True:
            if parts in self._lines:
                return self._lines[parts]
            if not parts:
                return None
            parts = parts[:-1]


class _Budget:
    """Counts the values built from the node graph, so aliases cannot expand without bound."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.left = MAX_VALUES
        self.loader = yaml.SafeLoader("")  # builds scalars; one per file, not one per value

    def spend(self, node: yaml.Node) -> None:
        self.left -= 1
        if self.left < 0:
            raise ScenarioError(self.file, [Problem((), f"the file expands to more than {MAX_VALUES:,} values "
                                                        f"(aliases used over and over?)", node.start_mark.line + 1)])


def _check_depth(text: str, file: str) -> None:
    """Reject nesting deeper than :data:`MAX_DEPTH` before anything recursive reads the file."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                line = event.start_mark.line + 1 if event.start_mark is not None else None
                raise ScenarioError(file, [Problem((), f"lists and mappings are nested more than {MAX_DEPTH} deep",
                                                   line)])
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1


def _construct(node: yaml.Node, loc: Loc, lines: LineMap, file: str, budget: _Budget) -> Any:
    budget.spend(node)
    lines.add(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise ScenarioError(file, [Problem(loc, "YAML merge keys (<<) are not supported",
                                                   key_node.start_mark.line + 1)])
            key = budget.loader.construct_object(key_node)  # scalars only
            if isinstance(key, dt.date) and not isinstance(key, dt.datetime):
                key = key.isoformat()
            if not isinstance(key, (str, int, float, bool)) or isinstance(key, bool):
                raise ScenarioError(file, [Problem(loc, f"mapping key {str(key)[:40]!r} must be a name",
                                                   key_node.start_mark.line + 1)])
            key = str(key)
            if key in out:
                raise ScenarioError(file, [Problem(loc + (key,), f"duplicate key '{key}'",
                                                   key_node.start_mark.line + 1)])
            lines.add(loc + (key,), key_node.start_mark.line + 1)
            out[key] = _construct(value_node, loc + (key,), lines, file, budget)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, loc + (i,), lines, file, budget) for i, item in enumerate(node.value)]
    try:
        return budget.loader.construct_object(node)
    except (ValueError, OverflowError) as exc:  # a timestamp such as 2025-13-45
        raise ScenarioError(file, [Problem(loc, f"not a valid value: {node.value!r} ({exc})",
                                           node.start_mark.line + 1)]) from None


def load_yaml(path: str | Path, text: str | None = None) -> tuple[Any, LineMap]:
    """Parse a YAML file into plain Python data and a :class:`LineMap`.

    Raises
    ------
    ScenarioError
        When the file is missing, unreadable, not UTF-8 or not valid YAML.
    """
    file = str(path)
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ScenarioError(file, [Problem((), "file not found")]) from None
        except IsADirectoryError:
            raise ScenarioError(file, [Problem((), "is a directory, expected a YAML file")]) from None
        except UnicodeDecodeError as exc:
            raise ScenarioError(file, [Problem((), f"not UTF-8 text ({exc.reason})")]) from None
        except OSError as exc:
            raise ScenarioError(file, [Problem((), f"cannot read: {exc.strerror}")]) from None
    if len(text) > MAX_FILE_BYTES:
        raise ScenarioError(file, [Problem((), f"file is larger than {MAX_FILE_BYTES:,} bytes")])
    lines = LineMap()
    try:
        _check_depth(text, file)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if node is None:
            raise ScenarioError(file, [Problem((), "file is empty")])
        return _construct(node, (), lines, file, _Budget(file)), lines
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ScenarioError(file, [Problem((), f"not valid YAML: {exc.problem or exc.context}", line)]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(file, [Problem((), f"not valid YAML: {exc}")]) from None
    except (ValueError, OverflowError) as exc:  # e.g. a timestamp such as 2025-13-45
        if isinstance(exc, ScenarioError):
            raise
        raise ScenarioError(file, [Problem((), f"not valid YAML: {exc}")]) from None
