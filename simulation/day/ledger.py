"""Time integrals of piecewise-constant counts, updated per event (never per time step).

A :class:`Ledger` holds ``n`` counts (people per zone, busy kiosks per zone ...). Each change
adds the count's elapsed area first, so :meth:`Ledger.take` returns the exact time integral
since the previous take (count x seconds), from which a clock process derives means.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


class Ledger:
    """``n`` piecewise-constant counts and their running time integrals [count s]."""

    def __init__(self, n: int, t0_s: float = 0.0) -> None:
        self.count = np.zeros(n, dtype=np.int64)
        self._area = np.zeros(n, dtype=float)
        self._since = np.full(n, float(t0_s))
        self.total = np.zeros(n, dtype=float)  # integral since creation [count s]
        self.peak = np.zeros(n, dtype=np.int64)

    def change(self, i: int, t_s: float, delta: int) -> None:
        """Add ``delta`` to count ``i`` at time ``t_s`` [s]."""
        dt = t_s - self._since[i]
        if dt < -1e-9:
            raise ValueError(f"ledger change at t={t_s} s before the last one at {self._since[i]} s")
        a = self.count[i] * max(dt, 0.0)
        self._area[i] += a
        self.total[i] += a
        self._since[i] = t_s
        self.count[i] += delta
        if self.count[i] < 0:
            raise ValueError(f"count {i} fell below zero at t={t_s} s")
        if self.count[i] > self.peak[i]:
            self.peak[i] = self.count[i]

    def take(self, t_s: float) -> NDArray[np.float64]:
        """Integral of every count since the previous take, up to ``t_s`` [count s]; resets it."""
        a = self.count * np.maximum(t_s - self._since, 0.0)
        out: NDArray[np.float64] = self._area + a
        self.total += a
        self._since[:] = t_s
        self._area = np.zeros_like(self._area)
        return out


class Integrator:
    """One piecewise-constant value and its time integral (server-busy seconds, lift running time)."""

    def __init__(self, t0_s: float = 0.0) -> None:
        self.value = 0.0
        self._t = float(t0_s)
        self._total = 0.0

    def set(self, t_s: float, value: float) -> None:
        """The value becomes ``value`` at ``t_s`` [s]."""
        self._total += self.value * max(t_s - self._t, 0.0)
        self._t = t_s
        self.value = float(value)

    def add(self, t_s: float, delta: float) -> None:
        self.set(t_s, self.value + delta)

    def total_at(self, t_s: float) -> float:
        """Integral from the start to ``t_s`` [value s]."""
        return self._total + self.value * max(t_s - self._t, 0.0)
