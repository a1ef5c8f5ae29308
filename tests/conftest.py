"""Shared fixtures: named after the core objects (building, broker, store)."""

from __future__ import annotations

import os
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


@pytest.fixture(scope="session")
def small_scenario() -> Path:
    return DATA / "small-branch.yaml"


@pytest.fixture(scope="session")
def building(small_scenario: Path):  # type: ignore[no-untyped-def]
    from geometry import load_building

    return load_building(small_scenario)


# telemetry fixtures (broker, store, store_url) live in their own module
from telemetry_fixtures import broker, store, store_url  # noqa: E402, F401
