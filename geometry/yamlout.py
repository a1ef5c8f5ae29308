"""Write a :class:`~geometry.scenario.Scenario` as a scenario file (YAML) that loads back the same."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .scenario import Scenario


class _Dumper(yaml.SafeDumper):
    """Points and short number lists on one line (``[1.5, 2.0]``), everything else in block style."""


def _list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flow = all(isinstance(x, (int, float, str)) for x in data) and len(data) <= 8
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _list)
_Dumper.add_representer(tuple, _list)  # type: ignore[arg-type]


def to_yaml(scenario: Scenario) -> str:
    """The scenario as YAML text: defaults and empty values left out, points as ``[x, y]``."""
    data = scenario.model_dump(mode="json", exclude_defaults=True, exclude_none=True)
    data = {"version": scenario.version, **data}
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)


def write_yaml(scenario: Scenario, path: str | Path, header: str | None = None) -> Path:
    """Write ``scenario`` to ``path`` (folders made as needed), with ``header`` as leading comment lines."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = to_yaml(scenario)
    if header:
        text = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines()) + text
    path.write_text(text, encoding="utf-8")
    return path
