"""Broken and odd copies of a built-in branch: validate never crashes or hangs, and what it accepts runs.

Each case mutates ``scenarios/service-point.yaml`` (with demand, staff and physics sections added,
so every section is mutated): lines deleted, duplicated or swapped, numbers and types changed,
keys renamed, YAML alias bombs, deep nesting, binary junk, markup-like text, truncation. The
mutations are drawn from one seeded generator, so a failure names a case that can be replayed.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ROOT
from typer.testing import CliRunner

from geometry import ScenarioError, apply_variant, build_building, load_scenario
from geometry.scenario import Scenario, ScenarioSource, merge
from geometry.scenario.source import plain
from twin.cli import app

CASES = 160
VALIDATE_LIMIT_S = 10
SIMULATE_LIMIT_S = 60

DAY_SECTIONS = """
demand:
  day_types:
    weekday: {visits: 120, profile: {10: 1.0, 11: 2.0}}
  visitor_types:
    studier: {share: 0.6, stay_s: {dist: lognormal, mean_s: 3600, sd_s: 1800}}
    borrower: {share: 0.4}
  events:
    - {id: reading-club, zone: reading, start: "10:30", duration_s: 3600, attendees: 6, days: [We]}
staff:
  members:
    - {id: visiting-shelver, role: shelver, shift: "10:00-11:30", days: "Tu,We"}
  shelving: {every_s: 3600, round_s: 1200}
physics:
  outdoor: {temperature_c: 8, amplitude_c: 4}
  zones: {wc: {ventilation_l_s: 50}}
  meters: {em-lighting: {floor: G}}
"""
BASE = (ROOT / "scenarios" / "service-point.yaml").read_text() + DAY_SECTIONS
LINES = BASE.splitlines()

ODD_NUMBERS = ["0", "-1", "-0.5", "1e12", "1.0e12", "1.0e+12", "0.001", "true", "false", '"12"', ".nan", ".inf",
               "-.inf",
               "99999999999999999999999", "[]", "{}", "null", "1.5", "2025-13-45"]
MARKUP = ["[/]", "[bold red]boom[/]", ":100:", "[link=file:///etc/passwd]x[/link]", "]]][[[", "[/bold]",
          "\\[x]", "{{x}}", "%s%n", "\u202eevil"]
NUMBER = re.compile(r"(?<![\w.\-])-?\d+(?:\.\d+)?(?![\w.:\-])")
KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_]*):")
SCALAR_VALUE = re.compile(r"(name|id|kind|zone|shift|timezone|opening_hours|start): ([^,}\]]+)")


def _line_index(rng: np.random.Generator, pattern: re.Pattern[str] | None = None) -> int:
    candidates = [i for i, ln in enumerate(LINES) if ln.strip() and not ln.lstrip().startswith("#")
                  and (pattern is None or pattern.search(ln))]
    return int(candidates[rng.integers(len(candidates))])


def _with_line(i: int, new: str | None) -> str:
    lines = list(LINES)
    if new is None:
        del lines[i]
    else:
        lines[i] = new
    return "\n".join(lines) + "\n"


def delete_line(rng: np.random.Generator) -> str:
    return _with_line(_line_index(rng), None)


def duplicate_line(rng: np.random.Generator) -> str:
    i = _line_index(rng)
    return _with_line(i, LINES[i] + "\n" + LINES[i])


def swap_lines(rng: np.random.Generator) -> str:
    i, j = _line_index(rng), _line_index(rng)
    lines = list(LINES)
    lines[i], lines[j] = lines[j], lines[i]
    return "\n".join(lines) + "\n"


def change_number(rng: np.random.Generator) -> str:
    i = _line_index(rng, NUMBER)
    matches = list(NUMBER.finditer(LINES[i]))
    m = matches[rng.integers(len(matches))]
    if rng.random() < 0.3:
        new = repr(float(m.group()) * float(rng.choice([1000.0, 1e-3, -1.0, 10.0])))
    else:
        new = str(rng.choice(ODD_NUMBERS))
    return _with_line(i, LINES[i][:m.start()] + new + LINES[i][m.end():])


def nudge_number(rng: np.random.Generator) -> str:
    """A plausible magnitude change (0.8 to 1.25 times): mostly accepted, so the simulation runs it."""
    i = _line_index(rng, NUMBER)
    matches = list(NUMBER.finditer(LINES[i]))
    m = matches[rng.integers(len(matches))]
    new = f"{float(m.group()) * float(rng.uniform(0.8, 1.25)):.3f}"
    return _with_line(i, LINES[i][:m.start()] + new + LINES[i][m.end():])


def rename_key(rng: np.random.Generator) -> str:
    i = _line_index(rng, KEY)
    matches = list(KEY.finditer(LINES[i]))
    m = matches[rng.integers(len(matches))]
    key = m.group(1)
    new = key[:-1] if len(key) > 1 and rng.random() < 0.5 else key + "x"
    return _with_line(i, LINES[i][:m.start(1)] + new + LINES[i][m.end(1):])


def change_type(rng: np.random.Generator) -> str:
    i = _line_index(rng, re.compile(r"\[|\{"))
    line = LINES[i]
    swaps = [("[", "{"), ("{", "["), ("[", "'["), (": ", ": [")]
    old, new = swaps[rng.integers(len(swaps))]
    k = line.find(old)
    return _with_line(i, line[:k] + new + line[k + len(old):])


def odd_text(rng: np.random.Generator) -> str:
    i = _line_index(rng, SCALAR_VALUE)
    matches = list(SCALAR_VALUE.finditer(LINES[i]))
    m = matches[rng.integers(len(matches))]
    text = str(rng.choice(MARKUP))
    return _with_line(i, LINES[i][:m.start(2)] + repr(text) + LINES[i][m.end(2):])


def alias_bomb(rng: np.random.Generator) -> str:
    width, depth = int(rng.integers(5, 12)), int(rng.integers(4, 10))
    bomb = f"lol0: &l0 [{', '.join(['lol'] * width)}]\n" + "".join(
        f"lol{k}: &l{k} [{', '.join([f'*l{k - 1}'] * width)}]\n" for k in range(1, depth))
    return bomb + BASE if rng.random() < 0.5 else BASE + bomb


def deep_nesting(rng: np.random.Generator) -> str:
    depth = int(rng.choice([60, 70, 500, 5000, 20000]))
    opener, closer = ("[", "]") if rng.random() < 0.5 else ("{a: ", "}")
    i = _line_index(rng, KEY)
    m = KEY.search(LINES[i])
    assert m is not None
    return _with_line(i, LINES[i][:m.end()] + " " + opener * depth + "1" + closer * depth)


def binary_junk(rng: np.random.Generator) -> bytes:
    data = BASE.encode()
    at = int(rng.integers(len(data)))
    junk = rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8).tobytes()
    return data[:at] + junk + data[at:]


def truncate(rng: np.random.Generator) -> str:
    return BASE[:int(rng.integers(1, len(BASE)))]


def known_crashers(rng: np.random.Generator) -> str:
    """The inputs that used to pass validation and crash or hang the simulation."""
    cases = [("timezone: Asia/Shanghai", "timezone: Mars/Olympus"), ("visits: 120", "visits: 1e12"),
             ("visits: 120", "visits: 1.0e12"), ("period_s: 300", "period_s: 0.001"),
             ("period_s: 300", "period_s: true"), ("every_s: 3600", "every_s: 0.001"),
             ("{id: lounge-2, zone: reading, at: [1.0, 7.2]", "{id: lounge-2, zone: reading, at: [1.0, 5.8]"),
             ("attendees: 6", "attendees: 1e9"), ("duration_s: 3600", "duration_s: true")]
    old, new = cases[rng.integers(len(cases))]
    assert old in BASE
    return BASE.replace(old, new, 1)


MUTATIONS: list[Callable[[np.random.Generator], str | bytes]] = [
    delete_line, duplicate_line, swap_lines, change_number, nudge_number, rename_key, change_type, odd_text,
    alias_bomb, deep_nesting, binary_junk, truncate, known_crashers, nudge_number, odd_text]


class _OvertimeError(Exception):
    pass


@contextmanager
def _time_limit(seconds: int) -> Iterator[None]:
    def stop(signum: int, frame: Any) -> None:
        raise _OvertimeError(f"took more than {seconds} s")

    old = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _short_day(path: Path) -> None:
    """Simulate an accepted file over a short day: open 10:00-11:30, physics on its coarsest clock."""
    from simulation.day.library_day import run_day

    scenario = load_scenario(path).scenario
    short = {"services": {"opening_hours": "Mo-Su 10:00-11:30", "self_service_hours": "Mo-Su 10:00-11:30"},
             "physics": {"step_s": 900}}
    resolved = apply_variant(ScenarioSource.from_spec(Scenario.model_validate(merge(plain(scenario), short))))
    run_day(build_building(resolved, check_reach=False), resolved, seed=1, progress=False, walker="grid")


def _cases() -> Iterator[tuple[int, str, str | bytes]]:
    rng = np.random.default_rng(20261130)
    for k in range(CASES):
        mutate = MUTATIONS[k % len(MUTATIONS)]
        yield k, mutate.__name__, mutate(rng)


@pytest.mark.slow
def test_broken_copies_never_crash_hang_or_pass_and_fail_later(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["scenario", "validate", str(ROOT / "scenarios" / "service-point.yaml")]).exit_code == 0
    accepted: list[str] = []
    kinds: set[str] = set()
    for k, kind, content in _cases():
        kinds.add(kind)
        path = tmp_path / f"case-{k:03d}-{kind}.yaml"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        with _time_limit(VALIDATE_LIMIT_S):
            result = runner.invoke(app, ["scenario", "validate", str(path)])
        where = f"case {k} ({kind}), {path.name}"
        assert result.exit_code in (0, 1), f"{where}: exit {result.exit_code}\n{result.output}"
        assert result.exception is None or isinstance(result.exception, SystemExit), f"{where}: {result.exception!r}"
        assert "Traceback" not in result.output, where
        assert "\U0001f4af" not in result.output, f"{where}: ':100:' printed as an emoji"
        if result.exit_code == 0:
            accepted.append(path.name)
            try:
                with _time_limit(SIMULATE_LIMIT_S):
                    _short_day(path)
            except ScenarioError as exc:
                pytest.fail(f"{where}: validate accepted it, simulate refused it:\n{exc}")
        else:
            assert f"{path.name}" in result.output, f"{where}: the message does not name the file\n{result.output}"
    assert kinds == {m.__name__ for m in MUTATIONS}
    assert 10 <= len(accepted) < CASES, f"{len(accepted)} of {CASES} accepted: {accepted}"
