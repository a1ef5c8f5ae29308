"""Queueing formulas against published values and an independent simulation of the queue."""

from __future__ import annotations

import heapq
import math

import numpy as np
import pytest

from simulation.day.queueing import (
    erlang_a,
    erlang_c,
    erlang_c_wait,
    erlang_c_wait_over,
    fewest_servers,
    halfin_whitt_delay,
    square_root_beta,
    square_root_staffing,
)


def test_erlang_c_matches_the_published_worked_example() -> None:
    # lambda 1.5/min, mu 0.5/min: a = 3 Erlang on c = 4 servers (e.g. Gross et al. 2008, Example 2.5
    # style; also the common textbook/Wikipedia worked value P(wait) = 0.5094, Wq = 1.019 min)
    assert erlang_c(3.0, 4) == pytest.approx(0.5094, abs=1e-4)
    assert erlang_c_wait(1.5, 0.5, 4) == pytest.approx(1.0189, abs=1e-4)
    # the same in seconds
    assert erlang_c_wait(1.5 / 60, 0.5 / 60, 4) == pytest.approx(61.13, abs=0.01)


def test_erlang_c_wait_tail_is_exponential() -> None:
    lam, mu, c = 1.5, 0.5, 4
    assert erlang_c_wait_over(lam, mu, c, 0.0) == pytest.approx(erlang_c(3.0, 4))
    assert erlang_c_wait_over(lam, mu, c, 2.0) == pytest.approx(0.5094 * math.exp(-1.0), abs=1e-4)
    assert erlang_c_wait_over(lam, mu, 3, 1.0) == 1.0  # unstable: everyone waits long


def test_erlang_a_without_abandonment_is_erlang_c() -> None:
    q = erlang_a(1.5, 0.5, 4, 0.0)
    assert q.p_wait == pytest.approx(0.5094, abs=1e-4)
    assert q.mean_wait_s == pytest.approx(1.0189, abs=1e-4)
    assert q.p_abandon == 0.0
    for t in (0.5, 2.0, 5.0):
        assert q.wait_over(t) == pytest.approx(erlang_c_wait_over(1.5, 0.5, 4, t), rel=1e-6)


def _simulate_mmcm(lam: float, mu: float, c: int, theta: float, n: int, rng: np.random.Generator,
                   t: float) -> tuple[float, float, float, float]:
    """FCFS M/M/c+M by direct simulation: P(wait), P(abandon), mean wait, P(wait > t)."""
    arr = np.cumsum(rng.exponential(1 / lam, n))
    serv = rng.exponential(1 / mu, n)
    pat = rng.exponential(1 / theta, n)
    free = [0.0] * c
    waited = abandoned = over = 0
    total = 0.0
    for i in range(n):
        start = max(arr[i], free[0])
        w = start - arr[i]
        if w > 0:
            waited += 1
        if w > pat[i]:
            abandoned += 1
            w = pat[i]
        else:
            heapq.heapreplace(free, start + serv[i])
        total += w
        over += w > t
    return waited / n, abandoned / n, total / n, over / n


def test_erlang_a_matches_a_simulation_of_the_queue() -> None:
    lam, mu, c, theta, t = 4.0, 1.0, 4, 0.5, 0.5  # overloaded without abandonment (a = c)
    q = erlang_a(lam, mu, c, theta)
    pw, pa, mw, po = _simulate_mmcm(lam, mu, c, theta, 200_000, np.random.default_rng(5), t)
    assert q.p_wait == pytest.approx(pw, abs=0.01)
    assert q.p_abandon == pytest.approx(pa, abs=0.01)
    assert q.mean_wait_s == pytest.approx(mw, rel=0.03)
    assert q.wait_over(t) == pytest.approx(po, abs=0.01)
    assert q.probs.sum() == pytest.approx(1.0)


def test_halfin_whitt_and_square_root_rule() -> None:
    assert halfin_whitt_delay(1.0) == pytest.approx(0.2234, abs=1e-4)  # Halfin and Whitt (1981)
    assert square_root_beta(halfin_whitt_delay(0.7)) == pytest.approx(0.7, abs=1e-9)
    for a in (10.0, 50.0, 100.0, 400.0):
        exact = next(c for c in range(int(a) + 1, 2000) if erlang_c(a, c) <= 0.2)
        assert abs(square_root_staffing(a, 0.2) - exact) <= 1
    assert square_root_staffing(0.0, 0.2) == 0
    with pytest.raises(ValueError, match="between 0 and 1"):
        square_root_beta(1.5)


def test_fewest_servers_is_the_smallest_that_meets_the_target() -> None:
    lam, mu = 1.5, 0.5
    c = fewest_servers(lam, mu, wait_over_s=2.0, max_share=0.2)
    assert erlang_c_wait_over(lam, mu, c, 2.0) <= 0.2 < erlang_c_wait_over(lam, mu, c - 1, 2.0)
    c = fewest_servers(lam, mu, max_mean_wait_s=0.1)
    assert erlang_c_wait(lam, mu, c) <= 0.1 < (erlang_c_wait(lam, mu, c - 1) if lam < (c - 1) * mu else math.inf)
    # abandonment makes fewer servers enough
    assert fewest_servers(4.0, 1.0, wait_over_s=0.5, max_share=0.3, theta=2.0) <= fewest_servers(
        4.0, 1.0, wait_over_s=0.5, max_share=0.3)
    with pytest.raises(ValueError, match="no staffing up to"):
        fewest_servers(5.0, 1.0, max_share=0.0, wait_over_s=0.0, c_max=20)


def test_erlang_a_with_patience_as_long_as_service_is_a_poisson_count() -> None:
    """With abandonment rate = service rate, everyone in the system leaves at rate mu whether served or
    waiting, so the number in the system is Poisson(a) (the M/M/infinity queue): exact values to check.

    a = 3, c = 4: P(wait) = P(N >= 4) = 1 - 13 e^-3 = 0.352768; L_q = E[(N - 4)+]; P(abandon) = theta L_q / lam.
    """
    lam, mu, c = 1.5 / 60.0, 0.5 / 60.0, 4  # a = 3 (1.5 per minute, 2 minutes of service)
    q = erlang_a(lam, mu, c, mu)
    a = lam / mu
    pois = [math.exp(-a) * a**n / math.factorial(n) for n in range(60)]
    assert q.p_wait == pytest.approx(1.0 - 13.0 * math.exp(-3.0), abs=1e-4)
    assert q.p_wait == pytest.approx(0.352768, abs=1e-4)
    lq = sum((n - c) * p for n, p in enumerate(pois) if n > c)
    assert q.p_abandon == pytest.approx(mu * lq / lam, abs=1e-4)
    assert q.mean_wait_s == pytest.approx(lq / lam, rel=1e-4)
    assert q.probs[: 20] == pytest.approx(pois[: 20], abs=1e-9)
