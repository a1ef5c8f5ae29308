"""Which devices exist: the scenario device lists, so simulated and real devices are judged alike."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from .errors import TelemetryError

if TYPE_CHECKING:
    from geometry.model import Building


@dataclass(frozen=True)
class DeviceInfo:
    """A known device: where it is and which quantities it may report."""

    branch: str
    device: str
    type: str
    quantities: frozenset[str]
    floor: str
    zone: str | None = None
    period_s: float = 60.0


DEVICE_SCHEMA = pa.schema([
    pa.field("branch", pa.string(), nullable=False),
    pa.field("device", pa.string(), nullable=False),
    pa.field("type", pa.string(), nullable=False),
    pa.field("floor", pa.string(), nullable=False),
    pa.field("zone", pa.string()),
    pa.field("period_s", pa.float64(), nullable=False),
])


class DeviceRegistry:
    """Known branches and their devices, looked up by ``(branch, device)``.

    Parameters
    ----------
    devices
        Every known device; a (branch, device) pair may appear once.
    sources
        Where each branch came from (file names, for messages).
    """

    def __init__(self, devices: Iterable[DeviceInfo], sources: dict[str, str] | None = None) -> None:
        self._by_branch: dict[str, dict[str, DeviceInfo]] = {}
        for d in devices:
            branch = self._by_branch.setdefault(d.branch, {})
            if d.device in branch:
                raise TelemetryError(f"device {d.device!r} listed twice in branch {d.branch!r}")
            branch[d.device] = d
        self.sources = dict(sources or {})

    @classmethod
    def from_buildings(cls, buildings: Iterable[Building], sources: dict[str, str] | None = None) -> DeviceRegistry:
        """Registry of the devices of some buildings (one branch each)."""
        return cls((DeviceInfo(b.branch_id, d.id, d.type, frozenset(d.quantities), d.floor_id, d.zone_id, d.period_s)
                    for b in buildings for d in b.devices), sources)

    @property
    def branches(self) -> list[str]:
        return sorted(self._by_branch)

    def has_branch(self, branch: str) -> bool:
        return branch in self._by_branch

    def get(self, branch: str, device: str) -> DeviceInfo | None:
        """The device, or None when the branch or the device is unknown."""
        b = self._by_branch.get(branch)
        return None if b is None else b.get(device)

    def devices(self, branch: str | None = None) -> Iterator[DeviceInfo]:
        for name in sorted(self._by_branch) if branch is None else [branch]:
            yield from self._by_branch.get(name, {}).values()

    def __len__(self) -> int:
        return sum(len(b) for b in self._by_branch.values())

    def to_arrow(self) -> pa.Table:
        """The devices as a table (branch, device, type, floor, zone, period_s) for the store."""
        ds = list(self.devices())
        return pa.table({
            "branch": [d.branch for d in ds], "device": [d.device for d in ds], "type": [d.type for d in ds],
            "floor": [d.floor for d in ds], "zone": [d.zone for d in ds], "period_s": [d.period_s for d in ds],
        }, schema=DEVICE_SCHEMA)


def scenario_files(source: str | Path) -> list[Path]:
    """The scenario files of a folder (``*.yaml``, ``*.yml``), or the one file given.

    Raises
    ------
    TelemetryError
        When the folder holds no scenario file, or nothing exists at ``source``.
    """
    p = Path(source)
    if p.is_dir():
        files = sorted([*p.glob("*.yaml"), *p.glob("*.yml")])
        if not files:
            raise TelemetryError(f"no scenario files (*.yaml) in {p}")
        return files
    if p.exists():
        return [p]
    raise TelemetryError(f"scenario directory or file {p} does not exist")


def load_registry(source: str | Path | Iterable[str | Path]) -> DeviceRegistry:
    """Read the devices of every scenario file in a directory (or of the given files).

    Parameters
    ----------
    source
        A directory (all ``*.yaml``/``*.yml`` in it), one scenario file, or several files.

    Raises
    ------
    TelemetryError
        When there is no scenario file or two files describe the same branch.
    geometry.ScenarioError
        When a scenario file has mistakes (it names file, line and field).
    """
    from geometry.build import load_building

    if isinstance(source, (str, Path)):
        files = scenario_files(source)
    else:
        files = [Path(x) for x in source]
    buildings = []
    sources: dict[str, str] = {}
    for f in files:
        b = load_building(f, check_reach=False)
        if b.branch_id in sources:
            raise TelemetryError(f"branch {b.branch_id!r} is described twice: in {sources[b.branch_id]} and in {f}")
        sources[b.branch_id] = str(f)
        buildings.append(b)
    return DeviceRegistry.from_buildings(buildings, sources)
