"""Built-in scenarios and scenario names.

The built-in branches are YAML files in the top-level ``scenarios`` folder, shipped inside the
wheel as the package data of a package without code, so a name such as ``district-branch`` resolves the
same from a checkout and from an installed package.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from .errors import UserError


def builtin_files() -> dict[str, Path]:
    """Built-in scenario name -> its YAML file (a real file in a checkout and in an installed wheel)."""
    try:
        package = importlib.import_module("scenarios")
    except ImportError:
        return {}
    found: dict[str, Path] = {}
    # a package without code (a namespace package): its folders are the real directories on its path
    for folder in (Path(p) for p in package.__path__):
        if folder.is_dir():
            for f in sorted(folder.glob("*.yaml")):
                found.setdefault(f.stem, f)
    return dict(sorted(found.items()))


def builtin_dir() -> Path:
    """The folder of the built-in scenario files (for commands that take a folder of scenarios)."""
    files = builtin_files()
    if not files:
        raise UserError("no built-in scenarios found: the installation lacks its 'scenarios' package data")
    return next(iter(files.values())).parent


def builtin_names() -> list[str]:
    """Names of the built-in scenarios (``central-library``, ``district-branch``, ``service-point``)."""
    return list(builtin_files())


def scenario_file(name: str | Path) -> Path:
    """The file of a scenario given as a path or as the name of a built-in scenario.

    Raises
    ------
    UserError
        When ``name`` is neither an existing path nor a built-in name; the message lists the built-ins.
    """
    p = Path(name)
    text = str(name)
    if p.exists() or p.suffix in (".yaml", ".yml") or "/" in text:
        return p
    files = builtin_files()
    if text in files:
        return files[text]
    raise UserError(f"no scenario file '{text}' and no built-in scenario of that name "
                    f"(built-in: {', '.join(builtin_names())})")
