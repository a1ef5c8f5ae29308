"""The live mirror of each branch and the hub; the ``smartlib`` command line lives in twin.cli.

The live twin's names load on first use (``twin.BranchTwin``), so ``import twin`` stays light for
the command line.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "BranchTwin": "twin.branch", "TwinConfig": "twin.branch", "ZonePrior": "twin.branch",
    "TwinRegistry": "twin.registry",
    "Hub": "twin.hub", "HubConfig": "twin.hub",
    "Alert": "twin.state", "BranchState": "twin.state", "DeviceHealth": "twin.state", "LatestValue": "twin.state",
    "QueueState": "twin.state", "ZoneState": "twin.state",
}

__all__: list[str] = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'twin' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
