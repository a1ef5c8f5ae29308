"""Trajectories as PedPy reads them: one plain-text file per floor and its walkable area as WKT.

Used by evacuations (:func:`simulation.crowd.evacuation.write_trajectories`) and by the crowd
walker of a library day (:class:`TrajectoryRecorder`). A file ``trajectories-<floor>.txt`` holds
``ID frame x/m y/m z/m`` rows with the frame rate in its header; load it with
``pedpy.load_trajectory_from_txt(trajectory_file=...)`` and the floor with
``pedpy.WalkableArea(shapely.from_wkt(open("walkable-<floor>.wkt").read()))``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import shapely
from numpy.typing import NDArray

from .movement import Crowd
from .navigation import FloorSpace


def write_pedpy(frames: Mapping[str, Sequence[NDArray[np.float64]]], spaces: Mapping[str, FloorSpace],
                out_dir: str | Path, *, frame_s: float, title: str) -> list[Path]:
    """Write each floor's rows (id, frame, x, y) [m] and walkable area; floors without rows are skipped."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for fid, chunks in frames.items():
        if not chunks:
            continue
        data = np.concatenate(chunks)
        z = spaces[fid].elevation_m
        p = out / f"trajectories-{fid}.txt"
        with p.open("w", encoding="utf-8") as fh:
            fh.write(f"# {title}, floor {fid}\n")
            fh.write(f"# framerate: {1.0 / frame_s:g}\n")
            fh.write("# ID frame x/m y/m z/m\n")
            rows = data[np.lexsort((data[:, 1], data[:, 0]))]
            np.savetxt(fh, np.column_stack([rows, np.full(len(rows), z)]), fmt=["%d", "%d", "%.4f", "%.4f", "%.2f"])
        paths.append(p)
        w = out / f"walkable-{fid}.wkt"
        w.write_text(shapely.to_wkt(spaces[fid].free, rounding_precision=4) + "\n", encoding="utf-8")
        paths.append(w)
    return paths


class TrajectoryRecorder:
    """Positions of everyone walking in a crowd, every ``frame_s``, from ``start_s`` to ``end_s``.

    Frame ``k`` is time ``start_s + k frame_s`` [s]. The crowd walker of a library day stops the
    crowd at every frame time inside the window (and only there) and calls :meth:`record`.

    Raises
    ------
    ValueError
        For an empty window or a frame interval that is not positive.
    """

    def __init__(self, *, start_s: float, end_s: float, frame_s: float = 0.5) -> None:
        if not (math.isfinite(start_s) and math.isfinite(end_s) and end_s > start_s):
            raise ValueError(f"the trajectory window must end after it starts, got {start_s} to {end_s} s")
        if not (frame_s > 0 and math.isfinite(frame_s)):
            raise ValueError(f"frame_s must be positive, got {frame_s}")
        self.start_s, self.end_s, self.frame_s = float(start_s), float(end_s), float(frame_s)
        self.frames: dict[str, list[NDArray[np.float64]]] = {}
        self.spaces: Mapping[str, FloorSpace] = {}
        self._next = 0

    def next_s(self) -> float:
        """Time of the next frame to record [s] (inf once the window is over)."""
        t = self.start_s + self._next * self.frame_s
        return t if t <= self.end_s + 1e-9 else math.inf

    def record(self, crowd: Crowd) -> None:
        """Record the frame due at the crowd's time (and skip those the crowd passed while nobody walked)."""
        t = crowd.time_s
        while self.next_s() < t - 1e-9:
            self._next += 1
        if abs(self.next_s() - t) > 1e-6:
            return
        self.spaces = crowd.navigator.spaces
        for fid in crowd.navigator.floor_ids:
            ids = crowd.walking_on(fid)
            if ids.size:
                pos = crowd.positions(ids)
                self.frames.setdefault(fid, []).append(
                    np.column_stack([ids, np.full(ids.size, self._next), pos]).astype(float))
        self._next += 1

    def write(self, out_dir: str | Path, *, title: str) -> list[Path]:
        """The recorded frames as PedPy files per floor (none when nobody walked in the window)."""
        return write_pedpy(self.frames, self.spaces, out_dir, frame_s=self.frame_s, title=title)
