"""Numba kernels: the only place in the project that imports numba.

Each kernel is a plain function over numpy arrays, compiled on first use and cached on disk
(``cache=True``; ``NUMBA_CACHE_DIR`` picks the folder). Importing this package does not import
numba: the names below load their module on first attribute access, so ``import simulation``
stays fast. Every kernel has a pure-numpy twin in :mod:`simulation.crowd.kernels.reference` that the
tests compare it with.

========================  ==========================================================
``dijkstra16``            distance field on a walkable grid, 16-neighbourhood
``csm_advance``           collision-free speed model, many steps per call
``csm_advance_serial``    the same, compiled for one thread (no parallel region per step)
``field_direction``       walking direction down a distance field at one point
========================  ==========================================================
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "dijkstra16": "navfield",
    "csm_advance": "csm",
    "csm_advance_serial": "serial",
    "field_direction": "csm",
    "set_threads": "csm",
    "get_threads": "csm",
    "max_threads": "csm",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        mod = importlib.import_module(f"{__name__}.{_WHERE[name]}")
        value = getattr(mod, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
