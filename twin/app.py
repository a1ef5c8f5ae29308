"""The application layer: what the platform does, as plain functions returning typed results.

The command line (:mod:`twin.cli`), the demo and the dashboard call these and nothing below them:
each takes a scenario (a file, a built-in name, or an already resolved scenario) and options,
checks the options (:class:`~twin.errors.UserError` names the mistake), runs the engine and
returns a frozen result. Progress goes to an optional callback; printing lives in
:mod:`twin.printing`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import UserError
from .scenarios import scenario_file

if TYPE_CHECKING:
    from geometry.model import Building
    from geometry.scenario import ResolvedScenario, ScenarioSource
    from simulation.crowd.evacuation import EvacuationResult
    from simulation.day.kpis import DayKpis
    from simulation.day.library_day import DayResult

#: ``progress(done, total, text)``: work done and in all (any unit), a short status line.
Progress = Callable[[float, float, str], None]

WALKERS = ("grid", "crowd")
#: How readers walk unless told: ``crowd`` (everyone walking moves in the crowd kernel, so readers meet
#: in aisles, doors and stair cores; a central-library day takes about 15 s, bench/library_day.py).
#: ``grid`` (shortest path / speed, nobody meets) is the quick screening, about five times faster.
DEFAULT_WALKER = "crowd"


# --------------------------------------------------------------------------- scenarios

@dataclass(frozen=True)
class Loaded:
    """A scenario read and checked: the file, the scenario with ``variant`` applied, and its building."""

    source: ScenarioSource
    resolved: ResolvedScenario
    building: Building

    @property
    def variant(self) -> str | None:
        return self.resolved.variant

    @property
    def branch(self) -> str:
        return self.building.branch_id

    def with_variant(self, variant: str | None, *, check_reach: bool = True) -> Loaded:
        """The same file with another variant applied (the file is not read again)."""
        return _build(self.source, variant, check_reach=check_reach)


def _build(source: ScenarioSource, variant: str | None, *, check_reach: bool = True) -> Loaded:
    from geometry.build import build_building
    from geometry.scenario import apply_variant

    resolved = apply_variant(source, variant)
    return Loaded(source, resolved, build_building(resolved, check_reach=check_reach))


def load(scenario: str | Path | ScenarioSource, variant: str | None = None, *, check_reach: bool = True) -> Loaded:
    """Read, validate and build a scenario (a file, a built-in name, or a source made in memory with
    ``ScenarioSource.from_spec``), with ``variant`` applied.

    Raises
    ------
    UserError
        Unknown file or built-in name.
    geometry.errors.ScenarioError
        A mistake in the file (file, line, field named), or an unknown variant.
    """
    from geometry.scenario import ScenarioSource, load_scenario

    src = scenario if isinstance(scenario, ScenarioSource) else load_scenario(scenario_file(scenario))
    return _build(src, variant, check_reach=check_reach)


def check_variants(src: ScenarioSource, asked: Sequence[str | None]) -> None:
    """Raise :class:`UserError` naming the first asked variant the scenario lacks."""
    known = list(src.scenario.variants)
    for v in asked:
        if v is not None and v not in known:
            raise UserError(f"no variant '{v}' in {src.file} (variants: {', '.join(known) or 'none'})")


@dataclass(frozen=True)
class Validation:
    """The outcome of checking one scenario file: ``problems`` is empty when it is valid."""

    name: str
    file: str
    variants: int
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


def validate(names: Sequence[str], *, geometry: bool = True) -> list[Validation]:
    """Check scenario files, each whole: every section, every variant, the geometry, the cross-references.

    The document is validated whole (unknown fields, types, ranges in every section); then, for
    the base and each variant, the building is built (``geometry``: zones, seats, openings,
    devices, reachability) and the day's sections are filled in with their defaults and checked
    against it and each other (events in zones that exist, staff at desks that exist ...). Every
    mistake comes as ``file:line: field: message``; one of the base is reported once, not again
    for every variant.
    """
    return [_validate_one(name, geometry=geometry) for name in names]


def _validate_one(name: str, *, geometry: bool) -> Validation:
    from geometry.errors import Problem, ScenarioError
    from geometry.scenario import load_scenario

    try:
        path = scenario_file(name)
    except UserError as exc:
        return Validation(name, name, 0, (str(exc),))
    try:
        src = load_scenario(path, keep_going=True)
    except ScenarioError as exc:
        return Validation(name, exc.file, 0, tuple(str(exc).splitlines()))
    problems: list[Problem] = list(src.problems)
    seen = {(p.loc, p.message) for p in problems}
    variants = tuple(src.scenario.variants)
    for variant in (None, *variants):
        suffix = f" (in variant '{variant}')" if variant else ""
        try:
            if geometry:
                from simulation.day.inputs import day_inputs

                loaded = _build(src, variant)
                day_inputs(loaded.resolved, loaded.building, skip=src.skipped)
            else:
                from geometry.scenario import apply_variant

                apply_variant(src, variant)
        except ScenarioError as exc:
            for p in exc.problems:
                key = (p.loc, p.message.removesuffix(suffix))
                if key not in seen:
                    seen.add(key)
                    problems.append(p)
    return Validation(name, src.file, len(variants), tuple(p.render(src.file) for p in problems))


def scenario_schema() -> dict[str, Any]:
    """The JSON Schema of the scenario format (for editors)."""
    from geometry.scenario import Scenario

    return Scenario.model_json_schema()


def export_geometry(scenario: str | Path, *, variant: str | None = None, glb: Path | None = None,
                    png: Path | None = None) -> list[Path]:
    """Write the building as a 3D model (GLB) and/or a picture (PNG); returns the files written."""
    if glb is None and png is None:
        raise UserError("nothing to do: give --glb OUT.glb and/or --png OUT.png")
    b = load(scenario, variant).building
    written = []
    if glb is not None:
        from geometry.mesh import export_glb

        written.append(export_glb(b, glb))
    if png is not None:
        from geometry.render import render_png

        written.append(render_png(b, png))
    return written


# --------------------------------------------------------------------------- library days

@dataclass(frozen=True)
class SimulationRun:
    """One simulated run of a branch: its options, the engine's result and the files written."""

    branch: str
    variant: str | None
    seed: int
    days: int
    walker: str
    day: DayResult
    files: tuple[Path, ...] = ()

    @property
    def kpis(self) -> DayKpis:
        return self.day.kpis


def _check_day_options(days: int, walker: str) -> None:
    from simulation.day.library_day import MAX_DAYS

    if days < 1:
        raise UserError(f"--days must be 1 or more, got {days}")
    if days > MAX_DAYS:
        raise UserError(f"--days must be at most {MAX_DAYS}, got {days}")
    if walker not in WALKERS:
        raise UserError(f"--walker must be one of {', '.join(WALKERS)}, got '{walker}'")


def run_library_day(loaded: Loaded, *, seed: int, days: int = 1, walker: str = DEFAULT_WALKER,
                    progress: Progress | None = None, recorder: Any = None) -> DayResult:
    """The library-day engine on a loaded scenario (the one place the application layer calls it).

    ``recorder`` (a :class:`simulation.crowd.trajectories.TrajectoryRecorder`) keeps trajectories
    of the crowd walker.
    """
    from simulation.day.crowdwalk import walker_factory
    from simulation.day.library_day import run_day

    return run_day(loaded.building, loaded.resolved, seed=seed, days=days,
                   walker=walker_factory(walker, recorder=recorder), progress=progress)


def trajectory_window_s(text: str) -> tuple[float, float]:
    """``HH:MM-HH:MM`` (local clock of the first day) as seconds from its midnight [s]."""
    import re

    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", text)
    if m is None:
        raise UserError(f"--trajectories takes a time window like 10:00-10:15, got '{text}'")
    h0, m0, h1, m1 = (int(g) for g in m.groups())
    if h0 > 24 or h1 > 24 or m0 > 59 or m1 > 59:
        raise UserError(f"--trajectories: '{text}' is not a time of day")
    start, end = 3600.0 * h0 + 60.0 * m0, 3600.0 * h1 + 60.0 * m1
    if end <= start:
        raise UserError(f"--trajectories: the window '{text}' must end after it starts")
    return start, end


def simulate(scenario: str | Path | Loaded, *, variant: str | None = None, seed: int = 0, days: int = 1,
             walker: str = DEFAULT_WALKER, out_dir: Path | None = None, progress: Progress | None = None,
             trajectories: str | None = None) -> SimulationRun:
    """Simulate library days of a branch; with ``out_dir``, write ``kpis.json``, the tables and ``day.png``.

    ``trajectories`` (``HH:MM-HH:MM``, crowd walker only) also writes PedPy trajectories of everyone
    walking in that window of the first day, one file per floor, every 0.5 s.
    """
    _check_day_options(days, walker)
    recorder = None
    if trajectories is not None:
        if walker != "crowd":
            raise UserError("--trajectories needs --walker crowd, the default (the grid walker moves nobody in space)")
        from simulation.crowd.trajectories import TrajectoryRecorder

        start, end = trajectory_window_s(trajectories)
        recorder = TrajectoryRecorder(start_s=start, end_s=end, frame_s=0.5)
    loaded = scenario if isinstance(scenario, Loaded) else load(scenario, variant)
    day = run_library_day(loaded, seed=seed, days=days, walker=walker, progress=progress, recorder=recorder)
    files: list[Path] = []
    if out_dir is not None:
        from simulation.day.report import day_picture

        files = day.write(out_dir)
        name = loaded.branch + (f", variant {loaded.variant}" if loaded.variant else "")
        files.append(day_picture(day.zones, Path(out_dir) / "day.png", title=f"{name}: {days} day(s), seed {seed}"))
        if recorder is not None:
            files.extend(recorder.write(out_dir, title=f"smartlib day of {name}, {trajectories}"))
    return SimulationRun(loaded.branch, loaded.variant, seed, days, walker, day, tuple(files))


@dataclass(frozen=True)
class Comparison:
    """KPIs of a base scenario and its variants, run with the same seed."""

    branch: str
    seed: int
    days: int
    runs: Mapping[str, DayKpis]

    def rows(self) -> tuple[list[str], list[list[str]]]:
        """Columns and formatted rows: every KPI, each run, and each variant's difference to the base."""
        from simulation.day.report import compare_rows

        return compare_rows({name: k.to_dict() for name, k in self.runs.items()})


def compare(scenario: str | Path, *, variants: Sequence[str], seed: int = 0, days: int = 1,
            walker: str = DEFAULT_WALKER,
            progress: Progress | None = None) -> Comparison:
    """Run the base scenario and each variant with the same seed; their KPIs side by side."""
    names = [v.strip() for v in variants if v.strip()]
    if not names:
        raise UserError("--variants needs at least one variant name (comma-separated)")
    _check_day_options(days, walker)
    base = load(scenario)
    check_variants(base.source, names)
    runs = {"base": run_library_day(base, seed=seed, days=days, walker=walker, progress=progress).kpis}
    for v in names:
        loaded = base.with_variant(v)
        runs[v] = run_library_day(loaded, seed=seed, days=days, walker=walker, progress=progress).kpis
    return Comparison(base.branch, seed, days, runs)


# --------------------------------------------------------------------------- evacuation

@dataclass(frozen=True)
class EvacuationRun:
    """An evacuation of a branch and the files written."""

    branch: str
    variant: str | None
    result: EvacuationResult
    files: tuple[Path, ...] = field(default_factory=tuple)


def evacuate(scenario: str | Path | Loaded, *, variant: str | None = None, people: int | None = None,
             occupancy: Path | Mapping[str, int] | None = None, seed: int = 0, blocked: Sequence[str] = (),
             max_time_s: float = 1800.0, trajectories: bool = False, out_dir: Path | None = None,
             progress: Progress | None = None) -> EvacuationRun:
    """Evacuate a building (default: every seat taken); with ``out_dir``, write summary, picture, trajectories.

    ``progress(out, total, text)`` reports people out of the building.
    """
    from simulation.crowd.evacuation import (
        EvacuationConfig,
        EvacuationInputError,
        read_occupancy,
        run_evacuation,
        write_outputs,
    )

    if people is not None and occupancy is not None:
        raise UserError("give --people or --occupancy, not both")
    if people is not None and people < 0:
        raise UserError(f"--people must be 0 or more, got {people}")
    if not max_time_s > 0:
        raise UserError(f"--max-time must be positive, got {max_time_s}")
    try:
        occ = read_occupancy(occupancy) if isinstance(occupancy, (str, Path)) else occupancy
        config = EvacuationConfig(people=people, occupancy=dict(occ) if occ is not None else None, seed=seed,
                                  blocked=tuple(blocked), max_time_s=max_time_s)
        loaded = scenario if isinstance(scenario, Loaded) else load(scenario, variant)

        def tick(t_s: float, out_n: int, total: int) -> None:
            if progress is not None:
                progress(out_n, total, f"evacuating, t = {t_s:4.0f} s")

        result = run_evacuation(loaded.building, config, trajectories=trajectories, progress=tick)
    except EvacuationInputError as exc:
        raise UserError(str(exc)) from None
    files = tuple(write_outputs(result, out_dir)) if out_dir is not None else ()
    return EvacuationRun(loaded.branch, loaded.variant, result, files)
