"""IFC import of the duplex sample (tests/data/duplex.ifc): wall time per stage against the 30 s target.

Stages: opening the file (ifcopenshell parse), reading geometry and elements (``read_ifc``, the
ifcopenshell mesher dominates), cleaning and checking (``assemble``: wall gaps, doors, the walkable
grid and reachability), and writing the scenario YAML. The reference row is ifcopenshell's own
geometry iterator over the same elements, the floor any importer that meshes them pays.

    .venv/bin/python bench/import_ifc.py [--file tests/data/duplex.ifc] [--reps 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGET_S = 30.0


def _reference(path: Path) -> float:
    """ifcopenshell's geometry iterator over spaces, doors' openings, walls, furniture, windows, stairs."""
    import multiprocessing

    import ifcopenshell
    import ifcopenshell.geom

    t0 = time.perf_counter()
    model = ifcopenshell.open(str(path))
    kinds = ("IfcSpace", "IfcOpeningElement", "IfcWall", "IfcFurnishingElement", "IfcStairFlight")
    elements = [e for k in kinds for e in model.by_type(k) if e.Representation is not None]
    settings = ifcopenshell.geom.settings()
    settings.set("use-world-coords", True)
    it = ifcopenshell.geom.iterator(settings, model, multiprocessing.cpu_count(), include=elements)
    if it.initialize():
        while it.next():
            pass
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--file", type=Path, default=ROOT / "tests" / "data" / "duplex.ifc")
    ap.add_argument("--reps", type=int, default=1)
    args = ap.parse_args()

    import ifcopenshell  # noqa: F401  (import time is not the importer's)
    from rich.console import Console
    from rich.table import Table

    from geometry.importers.assemble import assemble
    from geometry.importers.ifc import read_ifc
    from geometry.scenario import to_yaml

    rows = []
    for rep in range(args.reps):
        t0 = time.perf_counter()
        raw = read_ifc(args.file)
        t1 = time.perf_counter()
        scenario, report = assemble(raw)
        t2 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "imported.yaml").write_text(to_yaml(scenario), encoding="utf-8")
        t3 = time.perf_counter()
        ref = _reference(args.file)
        rows.append((rep, t1 - t0, t2 - t1, t3 - t2, t3 - t0, ref, report))

    table = Table(title=f"IFC import of {args.file.name} ({rows[0][6].format}), target < {TARGET_S:g} s")
    for col in ("run", "read s", "clean + check s", "write s", "total s", "ifcopenshell meshing s", "ratio",
                "target"):
        table.add_column(col, justify="right")
    for rep, read, clean, write, total, ref, _ in rows:
        table.add_row(str(rep + 1), f"{read:.1f}", f"{clean:.1f}", f"{write:.2f}", f"{total:.1f}", f"{ref:.1f}",
                      f"{total / ref:.2f}", "met" if total < TARGET_S else "MISSED")
    Console().print(table)
    report = rows[0][6]
    made = ", ".join(f"{k} {v}" for k, v in report.made.items())
    Console().print(f"found {report.found}; made {made}; {len(report.notes)} notes", highlight=False)


if __name__ == "__main__":
    main()
