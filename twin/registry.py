"""TwinRegistry: the twins of every branch of a deployment, fed readings as one stream."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from telemetry.errors import TelemetryError
from telemetry.registry import DeviceRegistry

from .branch import BranchTwin, TwinConfig, load_twin_inputs
from .state import Alert, ApplyResult, BranchState


class TwinRegistry:
    """All branch twins, by branch id. Thread-safe: one lock around feeding and reading.

    Parameters
    ----------
    twins
        One twin per branch (branch ids must differ).
    sources
        Where each branch came from (for messages).
    """

    def __init__(self, twins: Iterable[BranchTwin], sources: dict[str, str] | None = None) -> None:
        self._twins: dict[str, BranchTwin] = {}
        for t in twins:
            if t.branch in self._twins:
                raise TelemetryError(f"branch '{t.branch}' is given twice")
            self._twins[t.branch] = t
        self.sources = dict(sources or {})
        self.lock = threading.RLock()

    @classmethod
    def from_dir(cls, directory: str | Path, *, config: TwinConfig | None = None) -> TwinRegistry:
        """Twins of every scenario file (``*.yaml``, ``*.yml``) in a directory, or of one file.

        Raises
        ------
        TelemetryError
            When the directory does not exist, holds no scenario, or two files describe one branch.
        geometry.ScenarioError
            When a scenario has mistakes (file, line and field named).
        """
        from telemetry.registry import scenario_files

        files = scenario_files(directory)
        twins = []
        sources: dict[str, str] = {}
        for f in files:
            inputs = load_twin_inputs(f)
            b = inputs.building.branch_id
            if b in sources:
                raise TelemetryError(f"branch '{b}' is described twice: in {sources[b]} and in {f}")
            sources[b] = str(f)
            twins.append(BranchTwin(inputs=inputs, config=config))
        return cls(twins, sources)

    @property
    def branches(self) -> list[str]:
        """Branch ids, sorted."""
        return sorted(self._twins)

    def __iter__(self) -> Iterator[BranchTwin]:
        return iter(self._twins[b] for b in self.branches)

    def __len__(self) -> int:
        return len(self._twins)

    def branch(self, branch_id: str) -> BranchTwin:
        """The twin of one branch.

        Raises
        ------
        KeyError
            Naming the branch and the known ones.
        """
        t = self._twins.get(branch_id)
        if t is None:
            raise KeyError(f"no branch '{branch_id}' in the hub (known: {', '.join(self.branches) or 'none'})")
        return t

    def device_registry(self) -> DeviceRegistry:
        """The devices of every branch, for the ingest's validator."""
        return DeviceRegistry.from_buildings([t.building for t in self], self.sources)

    def apply(self, readings: pa.Table) -> ApplyResult:
        """Route readings (telemetry columns) to their branches' twins; readings of unknown branches are counted."""
        applied = dup = late = unknown = 0
        problems: list[str] = []
        if readings.num_rows == 0:
            return ApplyResult()
        branches = pc.unique(readings.column("branch")).to_pylist()
        with self.lock:
            for b in branches:
                part = readings if len(branches) == 1 else readings.filter(pc.equal(readings.column("branch"), b))
                twin = self._twins.get(b)
                if twin is None:
                    unknown += part.num_rows
                    problems.append(f"{part.num_rows} reading(s) of unknown branch '{b}' "
                                    f"(known: {', '.join(self.branches)})")
                    continue
                r = twin.apply(part)
                applied += r.applied
                dup += r.duplicates
                late += r.late
                unknown += r.unknown
                problems.extend(r.problems)
        return ApplyResult(applied=applied, duplicates=dup, late=late, unknown=unknown, problems=tuple(problems))

    def apply_statuses(self, statuses: pa.Table) -> int:
        """Apply device status messages (``branch, device, status, time``); returns how many were known."""
        n = 0
        if statuses.num_rows == 0:
            return 0
        cols = [statuses.column(c).to_pylist() for c in ("branch", "device", "status", "time")]
        with self.lock:
            for b, d, s, t in zip(*cols, strict=True):
                twin = self._twins.get(b)
                if twin is not None and twin.apply_status(d, s, float(t)):
                    n += 1
        return n

    def advance(self, now: float) -> None:
        """Bring every twin's clock-driven parts up to ``now`` [UTC epoch s]."""
        with self.lock:
            for t in self._twins.values():
                t.advance(now)

    def states(self, now: float | None = None) -> dict[str, BranchState]:
        """Every branch's state (at ``now``, default each twin's newest reading time)."""
        with self.lock:
            return {b: self._twins[b].state(now) for b in self.branches}

    def state(self, branch_id: str, now: float | None = None) -> BranchState:
        """One branch's state (at ``now``, default its twin's newest reading time)."""
        twin = self.branch(branch_id)
        with self.lock:
            return twin.state(now)

    def take_alert_changes(self) -> list[Alert]:
        """Alerts raised or ended since the last call, over all branches (for the store and MQTT)."""
        out: list[Alert] = []
        with self.lock:
            for t in self._twins.values():
                out.extend(t.take_alert_changes())
        return out


__all__ = ["TwinRegistry"]
