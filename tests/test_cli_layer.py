"""twin/cli.py only parses, calls the application layer and prints: no engine logic in it."""

from __future__ import annotations

import ast

from conftest import ROOT

CLI = ROOT / "twin" / "cli.py"
#: modules below the application layer that the CLI may name: only their error types, to print them
ALLOWED_LOW = {"geometry.errors", "telemetry.errors"}


def _module_of(node: ast.ImportFrom) -> str:
    return ("twin." if node.level else "") + (node.module or "")


def test_cli_imports_nothing_below_the_application_layer() -> None:
    tree = ast.parse(CLI.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                assert alias.name.split(".")[0] not in ("geometry", "simulation", "telemetry", "optimization"), \
                    f"twin/cli.py:{node.lineno} imports {alias.name}"
        elif isinstance(node, ast.ImportFrom):
            mod = _module_of(node)
            top = mod.split(".")[0]
            if top in ("geometry", "simulation", "telemetry", "optimization", "dashboard"):
                assert mod in ALLOWED_LOW, f"twin/cli.py:{node.lineno} imports from {mod}: call a twin function"


def test_each_command_calls_into_twin_and_builds_no_tables() -> None:
    tree = ast.parse(CLI.read_text(encoding="utf-8"))
    commands = [f for f in tree.body if isinstance(f, ast.FunctionDef)
                and any(isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.func.attr == "command"
                        for d in f.decorator_list)]
    assert len(commands) >= 10
    for fn in commands:
        names = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)}
        attrs = {n.attr for n in ast.walk(fn) if isinstance(n, ast.Attribute)}
        assert "Table" not in names and "add_row" not in attrs, f"{fn.name} builds a table: that is twin.printing's"
        loops = [n for n in ast.walk(fn) if isinstance(n, (ast.For, ast.While, ast.ListComp, ast.DictComp))]
        assert not loops, f"{fn.name} (line {fn.lineno}) loops: logic belongs in the application layer"
        local_imports = [n for n in ast.walk(fn) if isinstance(n, ast.ImportFrom)]
        assert local_imports or "printing" in names, f"{fn.name} calls nothing in twin"
        for imp in local_imports:
            assert _module_of(imp).startswith("twin."), f"{fn.name} imports from {imp.module}"
