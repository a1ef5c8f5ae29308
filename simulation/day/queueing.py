"""Queueing formulas for staffed services: Erlang B, Erlang C (M/M/c), Erlang A (M/M/c+M) and the
square-root staffing rule.

Pure functions over floats. Rates are per second unless a name says otherwise; the formulas are
unit-free as long as ``lam``, ``mu`` and ``theta`` share one time unit and ``t`` is in it too.

References
----------
Kleinrock, L. (1975). Queueing Systems, Vol. 1: Theory. Wiley, Sect. 3.5 (M/M/m).
Gross, D., Shortle, J.F., Thompson, J.M., Harris, C.M. (2008). Fundamentals of Queueing Theory,
4th ed. Wiley, Sect. 2.3.
Halfin, S., Whitt, W. (1981). Heavy-traffic limits for queues with many exponential servers.
Operations Research 29(3), 567-588.
Garnett, O., Mandelbaum, A., Reiman, M. (2002). Designing a call center with impatient customers.
Manufacturing & Service Operations Management 4(3), 208-227 (the Erlang A model).
Mandelbaum, A., Zeltyn, S. (2007). Service engineering in action: the Palm/Erlang-A queue, with
applications to call centers. In: Advances in Services Innovations, Springer, 17-45.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: States beyond the servers kept when truncating the Erlang A chain (probability mass left out < 1e-12).
_ERLANG_A_TAIL_TOL = 1e-12


def erlang_b(a: float, c: int) -> float:
    """Erlang B blocking probability of ``c`` servers offered ``a`` Erlangs (stable recursion).

    ``B(0) = 1``, ``B(k) = a B(k-1) / (k + a B(k-1))``.
    """
    if c < 0 or a < 0:
        raise ValueError(f"need c >= 0 and a >= 0, got c={c}, a={a}")
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(a: float, c: int) -> float:
    """Erlang C: probability that an arrival waits in an M/M/c queue with offered load ``a = lam/mu``.

    ``C = c B / (c - a (1 - B))`` with ``B`` the Erlang B probability; requires ``a < c``.

    References
    ----------
    Kleinrock, L. (1975). Queueing Systems, Vol. 1: Theory. Wiley, eq. (3.40).
    """
    if not 0 <= a < c:
        raise ValueError(f"M/M/c is stable only for a = lam/mu < c; got a={a:.4g}, c={c}")
    b = erlang_b(a, c)
    return c * b / (c - a * (1.0 - b))


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    """Mean wait in queue of an M/M/c system [s]: ``Wq = C(c, lam/mu) / (c mu - lam)``.

    Parameters
    ----------
    lam
        Arrival rate [1/s].
    mu
        Service rate of one server [1/s] (1 / mean service time).
    c
        Number of servers.

    References
    ----------
    Gross et al. (2008), Sect. 2.3.
    """
    if lam < 0 or mu <= 0 or c < 1:
        raise ValueError(f"need lam >= 0, mu > 0, c >= 1; got lam={lam}, mu={mu}, c={c}")
    if lam == 0:
        return 0.0
    return erlang_c(lam / mu, c) / (c * mu - lam)


def erlang_c_wait_over(lam: float, mu: float, c: int, t_s: float) -> float:
    """Share of arrivals of an M/M/c queue (FCFS) who wait longer than ``t_s``: ``C exp(-(c mu - lam) t)``.

    Returns 1 when the queue is unstable (``lam >= c mu``): the wait grows without bound.
    """
    if lam < 0 or mu <= 0 or c < 1 or t_s < 0:
        raise ValueError(f"need lam >= 0, mu > 0, c >= 1, t >= 0; got lam={lam}, mu={mu}, c={c}, t={t_s}")
    if lam == 0:
        return 0.0
    if lam >= c * mu:
        return 1.0
    return erlang_c(lam / mu, c) * math.exp(-(c * mu - lam) * t_s)


# --------------------------------------------------------------------------- Erlang A

@dataclass(frozen=True)
class ErlangA:
    """Steady state of an M/M/c+M queue (Erlang A): Poisson arrivals, exponential service and patience.

    Attributes
    ----------
    p_wait
        Probability that an arrival finds every server busy (has to wait).
    p_abandon
        Probability that an arrival gives up before service.
    mean_wait_s
        Mean time in queue over all arrivals, served or not [s].
    probs
        Stationary probabilities of 0, 1, ... persons in the system (truncated, summing to 1).
    """

    lam: float
    mu: float
    theta: float
    c: int
    p_wait: float
    p_abandon: float
    mean_wait_s: float
    probs: np.ndarray

    def wait_over(self, t_s: float) -> float:
        """Share of arrivals whose time in queue exceeds ``t_s`` (served later or given up after ``t_s``).

        An arrival finding ``j`` others queued moves forward at rate ``c mu + k theta`` with ``k``
        ahead, so its offered wait is a sum of exponentials; its own patience (rate ``theta``)
        cuts it: ``P(W > t) = exp(-theta t) sum_j pi(c + j) P(V_j > t)`` (PASTA).
        """
        if t_s < 0:
            raise ValueError(f"t must be >= 0, got {t_s}")
        tail = self.probs[self.c:]
        if tail.size == 0 or tail.sum() == 0.0:
            return 0.0
        return math.exp(-self.theta * t_s) * float(tail @ _ahead_survival(tail.size, self.c * self.mu,
                                                                          self.theta, t_s))


def _ahead_survival(n: int, c_mu: float, theta: float, t: float) -> np.ndarray:
    """``P(V_j > t)`` for ``j = 0 .. n-1`` persons ahead: survival of a pure-death chain (expm)."""
    from scipy.sparse import diags
    from scipy.sparse.linalg import expm_multiply

    rates = c_mu + theta * np.arange(n, dtype=float)
    q = diags([-rates, rates[1:]], [0, -1], shape=(n, n), format="csr")
    return np.asarray(np.clip(expm_multiply(q * t, np.ones(n)), 0.0, 1.0), dtype=float)


def erlang_a(lam: float, mu: float, c: int, theta: float) -> ErlangA:
    """Erlang A (M/M/c+M): the birth-death chain solved numerically, truncated where mass < 1e-12.

    Parameters
    ----------
    lam
        Arrival rate [1/s].
    mu
        Service rate of one server [1/s].
    c
        Number of servers (>= 1).
    theta
        Abandonment rate of a waiting customer [1/s] (1 / mean patience); 0 gives Erlang C
        (which then needs ``lam < c mu``).

    References
    ----------
    Garnett, Mandelbaum and Reiman (2002); Mandelbaum and Zeltyn (2007).
    """
    if lam < 0 or mu <= 0 or c < 1 or theta < 0:
        raise ValueError(f"need lam >= 0, mu > 0, c >= 1, theta >= 0; got lam={lam}, mu={mu}, c={c}, "
                         f"theta={theta}")
    if theta == 0 and lam >= c * mu:
        raise ValueError(f"without abandonment the queue is stable only for lam < c mu; got "
                         f"lam={lam:.4g}, c mu={c * mu:.4g}")
    # log-probabilities up the chain, from n = 0, until the tail is negligible
    logs = [0.0]
    n = 0
    while True:
        n += 1
        death = min(n, c) * mu + max(n - c, 0) * theta
        logs.append(logs[-1] + math.log(lam / death) if lam > 0 else -math.inf)
        if n > c and (logs[-1] - max(logs) < math.log(_ERLANG_A_TAIL_TOL)) and death > lam:
            break
        if n > 10_000_000:
            raise ValueError("Erlang A chain did not converge (check the rates)")
    lp = np.array(logs)
    p = np.exp(lp - lp.max())
    p /= p.sum()
    k = np.arange(p.size)
    lq = float(np.sum(np.maximum(k - c, 0) * p))
    p_wait = float(p[c:].sum())
    mean_wait = lq / lam if lam > 0 else 0.0
    p_abandon = theta * lq / lam if lam > 0 else 0.0
    return ErlangA(lam, mu, theta, c, p_wait, p_abandon, mean_wait, p)


# --------------------------------------------------------------------------- square-root staffing

def _norm_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _norm_pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def halfin_whitt_delay(beta: float) -> float:
    """Probability of waiting in the Halfin-Whitt regime ``c = a + beta sqrt(a)``:
    ``P(W > 0) -> [1 + beta Phi(beta) / phi(beta)]^-1`` (Halfin and Whitt 1981)."""
    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    return 1.0 / (1.0 + beta * _norm_cdf(beta) / _norm_pdf(beta))


def square_root_beta(p_wait: float) -> float:
    """The quality-of-service parameter ``beta`` whose Halfin-Whitt delay probability is ``p_wait``."""
    if not 0.0 < p_wait < 1.0:
        raise ValueError(f"the probability of waiting must be between 0 and 1, got {p_wait}")
    from scipy.optimize import brentq

    return float(brentq(lambda b: halfin_whitt_delay(b) - p_wait, 1e-9, 12.0, xtol=1e-12))


def square_root_staffing(a: float, p_wait: float) -> int:
    """Servers by the square-root rule ``c = ceil(a + beta sqrt(a))`` for a delay probability ``p_wait``.

    Parameters
    ----------
    a
        Offered load ``lam / mu`` [Erlang].
    p_wait
        Target probability that an arrival waits.

    References
    ----------
    Halfin and Whitt (1981); Gans, Koole, Mandelbaum (2003), Telephone call centers: tutorial,
    review and research prospects, MSOM 5(2), Sect. 4.1.
    """
    if a < 0:
        raise ValueError(f"offered load must be >= 0, got {a}")
    if a == 0:
        return 0
    return max(1, math.ceil(a + square_root_beta(p_wait) * math.sqrt(a) - 1e-9))


def fewest_servers(lam: float, mu: float, *, wait_over_s: float | None = None, max_share: float | None = None,
                   max_mean_wait_s: float | None = None, theta: float = 0.0, c_max: int = 1000) -> int:
    """Fewest servers meeting a waiting target (exact Erlang C, or Erlang A when ``theta > 0``).

    The search starts from the square-root rule and walks down or up by one server.

    Parameters
    ----------
    wait_over_s, max_share
        Target "share of arrivals waiting longer than ``wait_over_s`` is at most ``max_share``".
    max_mean_wait_s
        Target "mean wait at most this" [s].
    theta
        Abandonment rate [1/s] (0: no abandonment, Erlang C).

    Raises
    ------
    ValueError
        When the target cannot be met with up to ``c_max`` servers.
    """
    if lam == 0:
        return 0

    def ok(c: int) -> bool:
        if theta == 0 and lam >= c * mu:
            return False
        if theta > 0:
            q = erlang_a(lam, mu, c, theta)
            share, mean = (q.wait_over(wait_over_s) if wait_over_s is not None else 0.0), q.mean_wait_s
        else:
            share = erlang_c_wait_over(lam, mu, c, wait_over_s) if wait_over_s is not None else 0.0
            mean = erlang_c_wait(lam, mu, c)
        if max_share is not None and share > max_share + 1e-12:
            return False
        return not (max_mean_wait_s is not None and mean > max_mean_wait_s + 1e-12)

    a = lam / mu
    guess = max(1, square_root_staffing(a, min(max(max_share or 0.2, 1e-6), 1 - 1e-6)))
    c = min(guess, c_max)
    if ok(c):
        while c > 1 and ok(c - 1):
            c -= 1
        return c
    while not ok(c):
        c += 1
        if c > c_max:
            raise ValueError(f"no staffing up to {c_max} servers meets the target (load {a:.3g} Erlang)")
    return c
