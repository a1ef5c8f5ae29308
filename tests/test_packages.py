"""Each package has a small public surface and is the one from this repository."""

from __future__ import annotations

import importlib

import pytest
from conftest import ROOT

PACKAGES = ["geometry", "simulation", "telemetry", "twin", "optimization", "dashboard"]


@pytest.mark.parametrize("name", PACKAGES)
def test_package_is_ours_and_exports_what_it_lists(name: str) -> None:
    mod = importlib.import_module(name)
    assert mod.__file__ is not None
    assert mod.__file__.startswith(str(ROOT)), f"{name} imported from {mod.__file__}, not this repository"
    assert isinstance(mod.__all__, list)
    assert len(mod.__all__) == len(set(mod.__all__))
    for public in mod.__all__:
        assert hasattr(mod, public), f"{name}.__all__ lists {public}, which it does not define"
