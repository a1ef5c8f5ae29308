"""``smartlib report`` as a user runs it: two saved days compared in one self-contained HTML file."""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import DATA
from test_cli_simulate import smartlib

SMALL = str(DATA / "day-small.yaml")


def test_report_compares_saved_days_in_one_self_contained_file(tmp_path: Path) -> None:
    base, variant = tmp_path / "base", tmp_path / "half-seats"
    assert smartlib("simulate", SMALL, "--seed", "2", "--out", str(base)).returncode == 0
    r = smartlib("simulate", SMALL, "--seed", "2", "--variant", "half-seats", "--out", str(variant))
    assert r.returncode == 0, r.stderr
    out = tmp_path / "report" / "comparison.html"
    r = smartlib("report", str(base), str(variant), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert str(out) in r.stdout.replace("\n", "") and "2 result(s)" in r.stdout
    text = out.read_text(encoding="utf-8")
    # self-contained: plotly inlined, nothing fetched from elsewhere
    assert "Plotly" in text and not re.search(r"<script[^>]+src=", text)
    # both runs named, the first as the base, and their KPI values in the table
    assert "base: base" in text and "half-seats" in text and "<td>visits</td>" in text
    for folder in (base, variant):
        visits = json.loads((folder / "kpis.json").read_text(encoding="utf-8"))["kpis"]["visits"]
        assert re.search(rf"<td>{visits:,}</td>|<td>{visits}</td>", text), (folder.name, visits)
    # one figure per headline comparison: KPI bars, occupancy over the day, waits
    assert text.count('class="plotly-graph-div"') >= 3


def test_report_of_a_folder_without_results_names_it(tmp_path: Path) -> None:
    empty = tmp_path / "not-a-result"
    empty.mkdir()
    r = smartlib("report", str(empty), "--out", str(tmp_path / "r.html"))
    assert r.returncode == 2
    assert "not-a-result" in r.stdout + r.stderr and "kpis.json" in r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "r.html").exists()
