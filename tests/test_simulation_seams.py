"""The seams of the simulation package: one routing stack, narrow contexts, no import cycles, numba in one place."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import simulation
from simulation.crowd import routes
from simulation.day import readers, walker

ROOT = Path(simulation.__file__).resolve().parent


def _imports(path: Path) -> set[str]:
    """Absolute names of the modules a file imports (relative imports resolved)."""
    rel = path.relative_to(ROOT.parent).with_suffix("")
    pkg = list(rel.parts[:-1])
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = pkg[: len(pkg) - node.level + 1] if node.level else []
            mod = ".".join([*base, *(node.module.split(".") if node.module else [])])
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)
    return out


def test_only_the_kernels_package_imports_numba() -> None:
    offenders = [str(p.relative_to(ROOT.parent)) for p in ROOT.rglob("*.py")
                 if "kernels" not in p.parts and any(m.split(".")[0] == "numba" for m in _imports(p))]
    assert offenders == []


def test_readers_and_walkers_do_not_import_the_library_day() -> None:
    for name in ("readers", "walker", "crowdwalk"):
        assert "simulation.day.library_day" not in _imports(ROOT / "day" / f"{name}.py"), name
    code = ("import sys, simulation.day.crowdwalk, simulation.day.readers; "
            "print('simulation.day.library_day' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_one_route_type_and_error_for_both_routers() -> None:
    from simulation.crowd import navigation

    assert walker.Route is routes.Route is navigation.Route
    assert walker.NoRouteError is routes.NoRouteError is navigation.NoRouteError
    assert not hasattr(walker, "Leg") or walker.Leg is routes.Leg
    assert not hasattr(walker, "NoWayError")
    for path in (ROOT / "day" / "walker.py", ROOT / "crowd" / "navigation.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        defined = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
        assert not defined & {"Leg", "Route", "NoRouteError", "NoWayError", "StopGraph"}, path.name


def test_a_journey_gets_a_narrow_context() -> None:
    import dataclasses
    import inspect

    params = inspect.signature(readers.Party.journey).parameters
    assert params["ctx"].annotation in ("VisitContext", readers.VisitContext)
    fields = {f.name for f in dataclasses.fields(readers.VisitContext)}
    assert "building" not in fields and "router" not in fields and len(fields) < 30
    assert {f.name for f in dataclasses.fields(walker.WalkerContext)} == {"env", "building", "router", "lifts",
                                                                         "seat_ids", "seed"}
