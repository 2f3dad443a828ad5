"""Erlang B, Erlang C and Erlang A (Palm) queueing formulas for staffing a chat center.

Notation used throughout (all times in seconds):

* ``volume`` contacts arrive in an interval of ``interval_seconds``; arrival rate
  ``lambda = volume / interval_seconds``.
* ``aht`` is the average handle time; service rate ``mu = 1 / aht``.
* ``A = lambda * aht = volume * aht / interval_seconds`` is the offered load in erlangs.
* ``N`` is the number of agents working the queue (positive integer).
* ``T`` (``threshold``) is the service-level threshold.
* ``patience`` is the mean patience of an exponentially impatient visitor (Erlang A);
  abandonment rate per waiting visitor ``theta = 1 / patience``.

Erlang C (M/M/N, nobody abandons), valid for ``N > A``::

    B(0) = 1,  B(k) = A*B(k-1) / (k + A*B(k-1))          (Erlang B, recursive and stable)
    P(wait) = N*B(N) / (N - A*(1 - B(N)))
    SL(T)   = 1 - P(wait) * exp(-(N - A) * T / aht)
    ASA     = P(wait) * aht / (N - A)
    occupancy = A / N

For ``N <= A`` the Erlang C queue is unstable: this module then reports P(wait) = 1,
SL = 0, ASA = +inf and occupancy = 1.

Erlang A (M/M/N+M) is the birth-death chain on n = number of visitors in the system with
birth rate ``lambda`` and death rate ``min(n, N)*mu + max(n - N, 0)*theta``. It is solved in
log space (see :func:`erlang_a`), so it stays stable for thousands of agents, and the
queue is truncated once the neglected tail is below ``exp(-40)`` of what was kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Callable

__all__ = [
    "DEFAULT_MAX_ABANDON",
    "MODEL_ERLANG_A",
    "MODEL_ERLANG_C",
    "ErlangAMetrics",
    "StaffingResult",
    "asa",
    "effective_aht",
    "erlang_a",
    "erlang_a_asa",
    "erlang_a_occupancy",
    "erlang_a_prob_abandon",
    "erlang_a_prob_wait",
    "erlang_a_service_level",
    "erlang_b",
    "evaluate",
    "occupancy",
    "offered_load",
    "prob_wait",
    "required_agents",
    "service_level",
    "staff_after_shrinkage",
]

MODEL_ERLANG_C = "erlang_c"
MODEL_ERLANG_A = "erlang_a"

#: Relative size (natural log) below which the rest of the Erlang A queue is dropped.
_TAIL_LOG_TOLERANCE = 40.0
#: Default ceiling on the Erlang A abandonment rate when staffing (a fraction: 5 %).
DEFAULT_MAX_ABANDON = 0.05
#: Hard limit on queue states kept for Erlang A (an overloaded queue with very long patience).
_MAX_QUEUE_STATES = 5_000_000
#: Hard limit on the number of agents the staffing search will consider.
_MAX_AGENTS = 1_000_000
#: Tolerance when comparing computed figures against targets (floating-point noise).
_EPS = 1e-12


# --------------------------------------------------------------------------- validation


def _real(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    result = float(value)
    if not math.isfinite(result):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return result


def _positive(name: str, value: object) -> float:
    result = _real(name, value)
    if result <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return result


def _non_negative(name: str, value: object) -> float:
    result = _real(name, value)
    if result < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")
    return result


def _agents(value: object, name: str = "agents") -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    result = int(value)
    if result < 1:
        raise ValueError(f"{name} must be at least 1, got {value!r}")
    return result


def _open_fraction(name: str, value: object) -> float:
    result = _real(name, value)
    if not 0.0 < result < 1.0:
        raise ValueError(f"{name} must be strictly between 0 and 1, got {value!r}")
    return result


def _shrinkage(value: object) -> float:
    result = _real("shrinkage", value)
    if not 0.0 <= result < 1.0:
        raise ValueError(f"shrinkage must be in [0, 1), got {value!r}")
    return result


def _max_abandon(value: object) -> float:
    result = _real("max_abandon", value)
    if not 0.0 < result < 1.0:
        raise ValueError(f"max_abandon must be strictly between 0 and 1, got {value!r}")
    return result


def _max_occupancy(value: object) -> float:
    result = _real("max_occupancy", value)
    if not 0.0 < result <= 1.0:
        raise ValueError(f"max_occupancy must be in (0, 1], got {value!r}")
    return result


# --------------------------------------------------------------------------- basics


def offered_load(volume: float, interval_seconds: float, aht: float) -> float:
    """Offered load in erlangs: ``A = volume * aht / interval_seconds``."""
    volume = _positive("volume", volume)
    interval_seconds = _positive("interval_seconds", interval_seconds)
    aht = _positive("aht", aht)
    return volume * aht / interval_seconds


def effective_aht(aht: float, concurrency: float) -> float:
    """Handle time to feed the single-server formulas when agents run chats concurrently.

    Implemented as ``effective AHT = aht / concurrency``: an agent who holds ``concurrency``
    chats at once, each lasting ``aht`` seconds of wall-clock time, clears one chat every
    ``aht / concurrency`` seconds on average, so Erlang C/A treat them as one server with
    that handle time. ``aht`` should be the handle time *measured at the concurrency the
    center actually runs* (chats get longer when agents juggle more of them), which is how
    the factor is calibrated from the center's own history. ``concurrency`` is a positive
    real number (1 = one chat at a time, the telephone case).
    """
    aht = _positive("aht", aht)
    concurrency = _positive("concurrency", concurrency)
    return aht / concurrency


def staff_after_shrinkage(agents: int, shrinkage: float) -> int:
    """Scheduled staff so that ``agents`` remain after shrinkage: ``ceil(N / (1 - s))``.

    A tiny tolerance absorbs floating-point noise (14 / 0.7 is 20, not 21).
    """
    agents = _agents(agents)
    shrinkage = _shrinkage(shrinkage)
    return max(agents, math.ceil(agents / (1.0 - shrinkage) - 1e-9))


# --------------------------------------------------------------------------- Erlang B / C


def erlang_b(load: float, agents: int) -> float:
    """Erlang B blocking probability by the stable recursion.

    ``B(0) = 1`` and ``B(k) = A*B(k-1) / (k + A*B(k-1))`` for ``k = 1..N``; every step stays
    in [0, 1], so it never overflows (for ``N`` far above ``A`` it underflows gracefully to 0).
    """
    load = _positive("offered load", load)
    agents = _agents(agents)
    b = 1.0
    for k in range(1, agents + 1):
        ab = load * b
        b = ab / (k + ab)
    return b


def prob_wait(load: float, agents: int) -> float:
    """Erlang C probability that a contact waits: ``N*B / (N - A*(1 - B))``, ``B`` = Erlang B.

    Returns 1.0 when ``N <= A`` (unstable queue: everyone waits).
    """
    load = _positive("offered load", load)
    agents = _agents(agents)
    if agents <= load:
        return 1.0
    b = erlang_b(load, agents)
    return min(1.0, agents * b / (agents - load * (1.0 - b)))


def service_level(load: float, agents: int, aht: float, threshold: float) -> float:
    """Erlang C service level ``SL(T) = 1 - P(wait) * exp(-(N - A) * T / aht)``.

    The share of contacts answered within ``threshold`` seconds; 0.0 when ``N <= A``.
    """
    load = _positive("offered load", load)
    agents = _agents(agents)
    aht = _positive("aht", aht)
    threshold = _non_negative("threshold", threshold)
    if agents <= load:
        return 0.0
    pw = prob_wait(load, agents)
    return min(1.0, max(0.0, 1.0 - pw * math.exp(-(agents - load) * threshold / aht)))


def asa(load: float, agents: int, aht: float) -> float:
    """Erlang C average speed of answer ``ASA = P(wait) * aht / (N - A)`` (seconds).

    ``math.inf`` when ``N <= A``.
    """
    load = _positive("offered load", load)
    agents = _agents(agents)
    aht = _positive("aht", aht)
    if agents <= load:
        return math.inf
    return prob_wait(load, agents) * aht / (agents - load)


def occupancy(load: float, agents: int) -> float:
    """Erlang C agent occupancy ``A / N`` (capped at 1.0 when ``N <= A``)."""
    load = _positive("offered load", load)
    agents = _agents(agents)
    return min(1.0, load / agents)


# --------------------------------------------------------------------------- Erlang A


def _logaddexp(a: float, b: float) -> float:
    """``log(exp(a) + exp(b))`` without overflow; either argument may be ``-inf``."""
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    if a < b:
        a, b = b, a
    return a + math.log1p(math.exp(b - a))


def _log_inverse_erlang_b(load: float, agents: int) -> float:
    """``log(1/B(N))`` through ``I(0) = 1, I(k) = 1 + (k/A)*I(k-1)`` (``I(k) = 1/B(k)``), in logs."""
    log_i = 0.0
    log_load = math.log(load)
    for k in range(1, agents + 1):
        log_i = _logaddexp(0.0, math.log(k) - log_load + log_i)
    return log_i


@dataclass(frozen=True)
class ErlangAMetrics:
    """Steady-state figures of the Erlang A (M/M/N+M) queue; see :func:`erlang_a`."""

    prob_wait: float
    prob_abandon: float
    occupancy: float
    service_level: float | None
    asa: float
    average_wait: float
    queue_states: int


def erlang_a(
    load: float, agents: int, aht: float, patience: float, threshold: float | None = None
) -> ErlangAMetrics:
    """Solve the Erlang A (M/M/N+M, Palm) queue.

    Birth-death chain on ``n`` (visitors present): birth rate ``lambda``, death rate
    ``min(n, N)*mu + max(n - N, 0)*theta`` with ``mu = 1/aht`` and ``theta = 1/patience``.
    Write ``x = N*mu/theta = N*patience/aht`` and, for the queue states ``n = N + j``,

        r(0) = 1,   r(j) = r(j-1) * lambda / (N*mu + j*theta) = r(j-1) * A / (N + j*aht/patience)

    (computed as logs). With ``B`` the Erlang B value of ``(A, N)``, the states ``n < N``
    weigh ``(1/B - 1)`` relative to ``n = N``, so ``pi(N + j) = r(j) / (1/B - 1 + S)``
    where ``S = sum_j r(j)``; ``log(1/B - 1) = log(N/A) + log(1/B(N-1))`` is exact.
    By PASTA an arrival finds ``j`` visitors ahead of it in the queue with probability
    ``pi(N + j)``. The time until it would reach an agent, ``V``, is then a sum of
    exponentials with rates ``theta*(x + i)``, ``i = 0..j``; its own patience is
    ``Exp(theta)``. From that:

    * ``P(wait) = S / (1/B - 1 + S)``
    * ``P(served | j ahead) = E[exp(-theta*V)] = x / (x + j + 1)``, so
      ``P(abandon) = sum_j pi(N+j) * (j + 1) / (x + j + 1)``  (equals ``theta*E[Q]/lambda``)
    * ``occupancy = carried load / N = A * (1 - P(abandon)) / N``
    * ``service_level(T) = P(W <= T and served)``: the share of *all* arrivals that are
      answered within ``T`` -- abandons count against it (Cisco "abandons negative"),
      which is Mandelbaum & Zeltyn's ``P{W <= T, Sr}``:
      ``SL(T) = (1 - P(wait)) + sum_j pi(N+j) * x/(x+j+1) * (1 - I_u(x+1, j+1))`` with
      ``u = exp(-T/patience)`` and ``I_u(a, j+1) = sum_{b=0..j} C(a+b-1, b) u^a (1-u)^b``
      (regularised incomplete beta = negative-binomial CDF, summed in logs). This follows
      because ``V`` is the ``(j+1)``-th order statistic of ``x + j`` Exp(theta) clocks and
      tilting by ``exp(-theta*V)`` turns ``x`` into ``x + 1``.
    * ``asa = E[W | served]`` (mean wait of answered visitors), where
      ``E[V*exp(-theta*V) | j] = patience * x/(x+j+1) * sum_{i=1..j+1} 1/(x+i)``, divided
      by ``P(served) = 1 - P(abandon)``.
    * ``average_wait = E[min(V, patience clock)] = P(abandon) * patience`` (all arrivals).

    ``threshold=None`` skips the service level. ``queue_states`` is how many ``j`` were kept.
    """
    load = _positive("offered load", load)
    agents = _agents(agents)
    aht = _positive("aht", aht)
    patience = _positive("patience", patience)
    if threshold is not None:
        threshold = _non_negative("threshold", threshold)

    x = agents * patience / aht
    step = aht / patience
    log_load = math.log(load)

    # Queue weights r(j) in logs, with a running (rescaled) sum, until the tail is negligible.
    log_r: list[float] = [0.0]
    top = 0.0  # running maximum of log r
    acc = 1.0  # sum of exp(log r - top)
    current = 0.0
    j = 0
    while True:
        next_ratio = load / (agents + (j + 1) * step)
        if next_ratio < 1.0:
            # All later ratios are smaller, so the rest is at most r(j) * q / (1 - q).
            tail = current + math.log(next_ratio) - math.log1p(-next_ratio)
            if tail < top + math.log(acc) - _TAIL_LOG_TOLERANCE:
                break
        j += 1
        if j >= _MAX_QUEUE_STATES:
            raise ValueError(
                "Erlang A queue too long to solve: patience is far too long for this overload"
            )
        current += log_load - math.log(agents + j * step)
        log_r.append(current)
        if current > top:
            acc = acc * math.exp(top - current) + 1.0
            top = current
        else:
            acc += math.exp(current - top)

    log_s = top + math.log(acc)
    # log(1/B(N) - 1) = log(N/A) + log(1/B(N-1)), with B(0) = 1: weight of the states n < N.
    log_below = math.log(agents) - log_load + _log_inverse_erlang_b(load, agents - 1)
    log_z = _logaddexp(log_below, log_s)
    p_wait = math.exp(log_s - log_z)
    p_no_wait = math.exp(log_below - log_z)

    p_abandon = 0.0
    served_wait = 0.0  # sum pi * E[V exp(-theta V) | j] / patience
    sl_waiting = 0.0  # sum pi * P(served, V <= T | j)
    harmonic = 0.0
    if threshold is not None:
        log_u1 = -(x + 1.0) * threshold / patience  # log u^(x+1)
        log_one_minus_u = math.log(-math.expm1(-threshold / patience)) if threshold > 0 else -math.inf
        log_term = log_u1
        cdf = 0.0
    for j, lr in enumerate(log_r):
        p = math.exp(lr - log_z)
        served = x / (x + j + 1.0)
        p_abandon += p * (j + 1.0) / (x + j + 1.0)
        harmonic += 1.0 / (x + j + 1.0)
        served_wait += p * served * harmonic
        if threshold is not None:
            if j > 0:
                log_term += log_one_minus_u + math.log(x + j) - math.log(j)
            cdf += math.exp(log_term)
            sl_waiting += p * served * max(0.0, 1.0 - cdf)

    p_abandon = min(1.0, p_abandon)
    p_served = 1.0 - p_abandon
    return ErlangAMetrics(
        prob_wait=min(1.0, p_wait),
        prob_abandon=p_abandon,
        occupancy=min(1.0, load * p_served / agents),
        service_level=None if threshold is None else min(1.0, p_no_wait + sl_waiting),
        asa=patience * served_wait / p_served if p_served > 0 else math.inf,
        average_wait=p_abandon * patience,
        queue_states=len(log_r),
    )


def erlang_a_prob_wait(load: float, agents: int, aht: float, patience: float) -> float:
    """Erlang A probability that an arrival has to queue (see :func:`erlang_a`)."""
    return erlang_a(load, agents, aht, patience).prob_wait


def erlang_a_prob_abandon(load: float, agents: int, aht: float, patience: float) -> float:
    """Erlang A probability of abandoning: ``sum_j pi(N+j) (j+1)/(x+j+1) = theta*E[Q]/lambda``."""
    return erlang_a(load, agents, aht, patience).prob_abandon


def erlang_a_occupancy(load: float, agents: int, aht: float, patience: float) -> float:
    """Erlang A occupancy: carried load / N = ``A * (1 - P(abandon)) / N``."""
    return erlang_a(load, agents, aht, patience).occupancy


def erlang_a_service_level(
    load: float, agents: int, aht: float, patience: float, threshold: float
) -> float:
    """Erlang A service level ``P(W <= T and served)`` over all arrivals (see :func:`erlang_a`)."""
    threshold = _non_negative("threshold", threshold)
    result = erlang_a(load, agents, aht, patience, threshold).service_level
    assert result is not None
    return result


def erlang_a_asa(load: float, agents: int, aht: float, patience: float) -> float:
    """Erlang A average speed of answer ``E[W | served]`` in seconds (see :func:`erlang_a`)."""
    return erlang_a(load, agents, aht, patience).asa


# --------------------------------------------------------------------------- staffing


@dataclass(frozen=True)
class StaffingResult:
    """Staffing figures for one interval.

    ``agents`` work the queue; ``staff = ceil(agents / (1 - shrinkage))`` are scheduled.
    ``prob_abandon`` is None for Erlang C (no abandonment in that model).
    ``model`` is ``"erlang_c"`` or ``"erlang_a"``.
    """

    agents: int
    staff: int
    service_level: float
    asa: float
    occupancy: float
    prob_wait: float
    prob_abandon: float | None
    model: str


def _evaluate_load(
    load: float, agents: int, aht: float, threshold: float, patience: float | None, shrinkage: float
) -> StaffingResult:
    staff = staff_after_shrinkage(agents, shrinkage)
    if patience is None:
        return StaffingResult(
            agents=agents,
            staff=staff,
            service_level=service_level(load, agents, aht, threshold),
            asa=asa(load, agents, aht),
            occupancy=occupancy(load, agents),
            prob_wait=prob_wait(load, agents),
            prob_abandon=None,
            model=MODEL_ERLANG_C,
        )
    metrics = erlang_a(load, agents, aht, patience, threshold)
    assert metrics.service_level is not None
    return StaffingResult(
        agents=agents,
        staff=staff,
        service_level=metrics.service_level,
        asa=metrics.asa,
        occupancy=metrics.occupancy,
        prob_wait=metrics.prob_wait,
        prob_abandon=metrics.prob_abandon,
        model=MODEL_ERLANG_A,
    )


def evaluate(
    volume: float,
    interval_seconds: float,
    aht: float,
    agents: int,
    threshold: float,
    patience: float | None = None,
    shrinkage: float = 0.0,
) -> StaffingResult:
    """Figures for a fixed number of agents.

    ``A = volume * aht / interval_seconds``; Erlang C when ``patience`` is None, else
    Erlang A with mean patience ``patience`` seconds. For chat, pass
    ``aht=effective_aht(aht, concurrency)``.
    """
    load = offered_load(volume, interval_seconds, aht)
    agents = _agents(agents)
    threshold = _non_negative("threshold", threshold)
    if patience is not None:
        patience = _positive("patience", patience)
    shrinkage = _shrinkage(shrinkage)
    return _evaluate_load(load, agents, float(aht), threshold, patience, shrinkage)


def _smallest(meets: Callable[[int], bool], failing: int) -> int:
    """Smallest ``n > failing`` with ``meets(n)``, for a predicate monotone in ``n``."""
    step = 1
    low, high = failing, failing + 1
    while not meets(high):
        low = high
        step *= 2
        high = low + step
        if high > _MAX_AGENTS:
            raise ValueError(f"targets cannot be met with up to {_MAX_AGENTS} agents")
    while high - low > 1:
        middle = (low + high) // 2
        if meets(middle):
            high = middle
        else:
            low = middle
    return high


def required_agents(
    volume: float,
    interval_seconds: float,
    aht: float,
    target_sl: float,
    threshold: float,
    max_occupancy: float | None = None,
    shrinkage: float = 0.0,
    patience: float | None = None,
    target_asa: float | None = None,
    max_abandon: float | None = DEFAULT_MAX_ABANDON,
) -> StaffingResult:
    """Fewest agents ``N`` meeting every target, with the figures at that ``N``.

    Targets: ``service_level >= target_sl`` (share answered within ``threshold`` seconds),
    and when given ``occupancy <= max_occupancy`` and ``asa <= target_asa``. Erlang C when
    ``patience`` is None (then ``N > A`` is required), else Erlang A, where also
    ``prob_abandon <= max_abandon`` (default 5 %; None: no abandonment limit; ignored by
    Erlang C, where nobody abandons).

    The offered load is a floor in both models: never fewer than ``ceil(A)`` agents. Fewer
    agents than erlangs of work cannot be a plan: under Erlang A such a queue only "meets" a
    service level because the visitors it cannot serve give up (at A = 3,333, 2,679 agents
    answer 80 % within 20 s while a fifth of the visitors abandon and occupancy is 100 %).

    All the figures are monotone in ``N``, so the search gallops up from the lower bound and
    bisects. ``staff = ceil(N / (1 - shrinkage))``.
    """
    load = offered_load(volume, interval_seconds, aht)
    aht = float(aht)
    target_sl = _open_fraction("target_sl", target_sl)
    threshold = _non_negative("threshold", threshold)
    occupancy_cap = None if max_occupancy is None else _max_occupancy(max_occupancy)
    shrinkage = _shrinkage(shrinkage)
    if patience is not None:
        patience = _positive("patience", patience)
    asa_cap = None if target_asa is None else _positive("target_asa", target_asa)
    abandon_cap = None if max_abandon is None or patience is None else _max_abandon(max_abandon)

    cache: dict[int, StaffingResult] = {}

    def result(n: int) -> StaffingResult:
        if n not in cache:
            cache[n] = _evaluate_load(load, n, aht, threshold, patience, shrinkage)
        return cache[n]

    def meets(n: int) -> bool:
        r = result(n)
        if r.service_level < target_sl - _EPS:
            return False
        if occupancy_cap is not None and r.occupancy > occupancy_cap + _EPS:
            return False
        if asa_cap is not None and r.asa > asa_cap + _EPS:
            return False
        if abandon_cap is not None and r.prob_abandon is not None and r.prob_abandon > abandon_cap + _EPS:
            return False
        return True

    # A number of agents known to miss the targets: below the floor of ceil(A) agents.
    failing = max(0, math.ceil(load - 1e-9) - 1)
    if patience is None:
        failing = max(failing, math.floor(load))  # Erlang C needs N > A
        if occupancy_cap is not None:  # and A / N <= cap
            failing = max(failing, math.ceil(load / occupancy_cap - 1e-9) - 1)
    return result(_smallest(meets, failing))
