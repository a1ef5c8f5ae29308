"""A small synthetic telemetry source in the format a simulation writes (``telemetry.parquet``).

It stands in for the library-day model until that exists: plausible readings for every device of
the given branches at each device's period, from a seeded generator (same seed, same table).
The numbers are shaped like a library day (visits peaking around midday, CO2 following
occupancy) but model nothing; use the simulation for anything quantitative.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from geometry.quantities import QUANTITIES, TELEMETRY_SCHEMA

from .registry import DeviceInfo, DeviceRegistry

TELEMETRY_FILE = "telemetry.parquet"


def _busy(t: np.ndarray) -> np.ndarray:
    """Relative busyness 0..1 by UTC hour of day: closed at night, a peak at 14:00."""
    hour = (t % 86_400.0) / 3_600.0
    busy: np.ndarray = np.clip(np.exp(-((hour - 14.0) / 3.5) ** 2) * ((hour > 8.0) & (hour < 21.0)), 0.0, 1.0)
    return busy


def _values(q: str, t: np.ndarray, period_s: float, rng: np.random.Generator) -> np.ndarray:
    busy = _busy(t)
    n = len(t)
    if q == "temperature":
        return np.round(20.5 + 1.5 * busy + rng.normal(0.0, 0.15, n), 2)
    if q == "humidity":
        return np.round(45.0 + 5.0 * busy + rng.normal(0.0, 1.0, n), 1)
    if q == "co2":
        return np.round(430.0 + 650.0 * busy + rng.normal(0.0, 15.0, n), 0)
    if q == "illuminance":
        return np.round(320.0 + 180.0 * (busy > 0) + rng.normal(0.0, 20.0, n), 0)
    if q == "sound_level":
        return np.round(32.0 + 14.0 * busy + rng.normal(0.0, 1.5, n), 1)
    if q in ("people_in", "people_out"):
        return rng.poisson(busy * 120.0 * period_s / 3_600.0).astype(float)
    if q == "occupancy":
        return np.round(busy * 80.0 + rng.normal(0.0, 2.0, n)).clip(0.0)
    if q == "transactions":
        return rng.poisson(busy * 30.0 * period_s / 3_600.0).astype(float)
    if q == "queue_length":
        return rng.poisson(busy * 2.0).astype(float)
    if q == "power":
        return np.round(1_500.0 + 2_500.0 * busy + rng.normal(0.0, 50.0, n), 1).clip(0.0)
    if q == "energy":
        power = 1_500.0 + 2_500.0 * busy
        return np.round(1.0e6 + np.cumsum(power * period_s / 3_600.0), 1)
    raise ValueError(f"no synthetic model for quantity {q!r}")


def _device_rows(d: DeviceInfo, start: float, end: float, rng: np.random.Generator) -> dict[str, list[object]]:
    offset = float(rng.uniform(0.0, d.period_s))  # devices are not in lockstep
    t = np.arange(start + offset, end, d.period_s)
    t = np.round(t, 3)
    cols: dict[str, list[object]] = {name: [] for name in TELEMETRY_SCHEMA.names}
    for qname in sorted(d.quantities):
        q = QUANTITIES[qname]
        n = len(t)
        if q.kind == "v":
            vals: list[object] = _values(qname, t, d.period_s, rng).tolist()
            cols["value"] += vals
            cols["bool_value"] += [None] * n
            cols["string_value"] += [None] * n
        elif q.kind == "vb":
            busy = _busy(t)
            cols["value"] += [None] * n
            cols["bool_value"] += (rng.random(n) < 0.15 + 0.7 * busy).tolist()
            cols["string_value"] += [None] * n
        else:
            cols["value"] += [None] * n
            cols["bool_value"] += [None] * n
            cols["string_value"] += np.where(rng.random(n) < 0.02, "paper_low", "ok").tolist()
        cols["branch"] += [d.branch] * n
        cols["device"] += [d.device] * n
        cols["quantity"] += [qname] * n
        cols["unit"] += [q.unit] * n
        cols["time"] += t.tolist()
    return cols


def synthetic_telemetry(registry: DeviceRegistry, *, start: float, hours: float = 1.0, seed: int = 0,
                        branches: list[str] | None = None) -> pa.Table:
    """Synthetic readings of every device, in :data:`~telemetry.records.TELEMETRY_SCHEMA`, sorted by time.

    Parameters
    ----------
    registry
        The devices (their quantities and periods).
    start
        First instant [UTC epoch s].
    hours
        Length of the period [h].
    seed
        Seed of the random generator.
    branches
        Only these branches (default: all in the registry).
    """
    rng = np.random.default_rng(seed)
    end = start + hours * 3_600.0
    cols: dict[str, list[object]] = {name: [] for name in TELEMETRY_SCHEMA.names}
    for branch in branches or registry.branches:
        for d in sorted(registry.devices(branch), key=lambda x: x.device):
            for k, v in _device_rows(d, start, end, rng).items():
                cols[k] += v
    table = pa.table(cols, schema=TELEMETRY_SCHEMA)
    return table.sort_by([("time", "ascending"), ("branch", "ascending"), ("device", "ascending")])


def write_synthetic(registry: DeviceRegistry, out_dir: str | Path, *, start: float, hours: float = 1.0,
                    seed: int = 0) -> Path:
    """Write ``telemetry.parquet`` of synthetic readings into a results folder; returns its path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / TELEMETRY_FILE
    pq.write_table(synthetic_telemetry(registry, start=start, hours=hours, seed=seed), path)
    return path
