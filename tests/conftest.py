"""Shared fixtures: named after the core objects (building, broker, store)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SCENARIOS = ROOT / "scenarios"
SHARED = ROOT.parent / "shared"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))
os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")


def require(condition: bool, what: str) -> None:
    """Skip locally when a system part is missing; in CI a missing part is a failure."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI needs {what}, and it is missing")
    pytest.skip(f"needs {what}")


def screenshots_dir() -> Path:
    """Where the browser tests save their screenshots (``SMARTLIB_SCREENSHOTS``, else out/screenshots)."""
    return Path(os.environ.get("SMARTLIB_SCREENSHOTS", ROOT / "out" / "screenshots")).resolve()


_STARTED = time.time()


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # type: ignore[no-untyped-def]
    """Name the screenshot folder at the end of the run (also under xdist, where workers' prints are hidden)."""
    folder = screenshots_dir()
    shots = sorted(folder.glob("*.png")) if folder.is_dir() else []
    if shots and any(p.stat().st_mtime >= _STARTED for p in shots):
        terminalreporter.write_line(f"screenshots of the dashboard pages ({len(shots)}): {folder}")


def require_module(name: str, what: str):  # type: ignore[no-untyped-def]
    """Import an optional package (an extra) for a test module: skipped locally without it, a failure in CI."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        if IN_CI:
            pytest.fail(f"CI needs {what}, and it is missing", pytrace=False)
        pytest.skip(f"needs {what}", allow_module_level=True)


@pytest.fixture(scope="session")
def small_scenario() -> Path:
    return DATA / "small-branch.yaml"


@pytest.fixture(scope="session")
def building(small_scenario: Path):  # type: ignore[no-untyped-def]
    from geometry import load_building

    return load_building(small_scenario)


# telemetry fixtures (broker, store, store_url) live in their own module
from telemetry_fixtures import broker, store, store_url  # noqa: E402, F401
