"""Erlang B / C / A and staffing: public vectors from docs KPIS.md, stability, validation."""

from __future__ import annotations

import math
import time

import pytest

from app.kpi import erlang
from app.kpi.erlang import (
    StaffingResult,
    asa,
    effective_aht,
    erlang_a,
    erlang_b,
    evaluate,
    occupancy,
    offered_load,
    prob_wait,
    required_agents,
    service_level,
    staff_after_shrinkage,
)

# --------------------------------------------------------------------------- Erlang B


def test_erlang_b_small_values_by_hand() -> None:
    # B(A=1, N=1) = 1/2; B(A=2, N=2) = (4/2) / (1 + 2 + 2) = 0.4
    assert erlang_b(1.0, 1) == pytest.approx(0.5)
    assert erlang_b(2.0, 2) == pytest.approx(0.4)


def test_erlang_b_matches_direct_formula() -> None:
    a, n = 7.3, 11
    terms = [a**k / math.factorial(k) for k in range(n + 1)]
    assert erlang_b(a, n) == pytest.approx(terms[-1] / sum(terms), rel=1e-12)


# --------------------------------------------------------------------------- Erlang C vectors


def test_erlang_c_vector_a10() -> None:
    load = offered_load(100, 1800, 180)
    assert load == pytest.approx(10.0)
    assert prob_wait(load, 14) == pytest.approx(0.1741, abs=5e-5)
    assert service_level(load, 14, 180, 20) == pytest.approx(0.8884, abs=5e-5)
    assert asa(load, 14, 180) == pytest.approx(7.84, abs=5e-3)
    assert occupancy(load, 14) == pytest.approx(0.7143, abs=5e-5)
    assert service_level(load, 13, 180, 20) == pytest.approx(0.7956, abs=5e-5)


def test_required_agents_a10_with_shrinkage() -> None:
    result = required_agents(100, 1800, 180, 0.8, 20, shrinkage=0.3)
    assert isinstance(result, StaffingResult)
    assert result.agents == 14
    assert result.staff == 20
    assert result.model == "erlang_c"
    assert result.prob_abandon is None
    assert result.prob_wait == pytest.approx(0.1741, abs=5e-5)
    assert result.service_level == pytest.approx(0.8884, abs=5e-5)
    assert result.asa == pytest.approx(7.84, abs=5e-3)
    assert result.occupancy == pytest.approx(0.7143, abs=5e-5)
    assert required_agents(100, 1800, 180, 0.8, 20).staff == 14


def test_n13_misses_target() -> None:
    result = evaluate(100, 1800, 180, 13, 20)
    assert result.service_level == pytest.approx(0.7956, abs=5e-5)
    assert result.service_level < 0.8


def test_erlang_c_vector_a48() -> None:
    assert offered_load(360, 1800, 240) == pytest.approx(48.0)
    result = required_agents(360, 1800, 240, 0.8, 15)
    assert result.agents == 55
    assert result.prob_wait == pytest.approx(0.2387, abs=5e-5)
    assert result.service_level == pytest.approx(0.8459, abs=5e-5)
    assert result.asa == pytest.approx(8.18, abs=5e-3)
    assert result.occupancy == pytest.approx(0.8727, abs=5e-5)
    assert evaluate(360, 1800, 240, 54, 15).service_level == pytest.approx(0.7929, abs=5e-5)


def test_staff_after_shrinkage_is_not_fooled_by_rounding() -> None:
    assert staff_after_shrinkage(14, 0.3) == 20  # 14 / 0.7 = 20.000000000000004 in floats
    assert staff_after_shrinkage(14, 0.0) == 14
    assert staff_after_shrinkage(15, 0.3) == 22


def test_unstable_erlang_c() -> None:
    assert prob_wait(10.0, 10) == 1.0
    assert service_level(10.0, 9, 180, 20) == 0.0
    assert asa(10.0, 10, 180) == math.inf
    assert occupancy(10.0, 5) == 1.0


# --------------------------------------------------------------------------- extra targets


def test_max_occupancy_and_asa_targets() -> None:
    # occupancy <= 0.65 needs A/N <= 0.65 -> N >= 15.38 -> 16
    assert required_agents(100, 1800, 180, 0.8, 20, max_occupancy=0.65).agents == 16
    # ASA <= 5 s: N=14 gives 7.84 s, so more agents are needed
    result = required_agents(100, 1800, 180, 0.8, 20, target_asa=5.0)
    assert result.asa <= 5.0
    assert evaluate(100, 1800, 180, result.agents - 1, 20).asa > 5.0


def test_effective_aht_for_chat_concurrency() -> None:
    assert effective_aht(360, 2) == pytest.approx(180.0)
    assert effective_aht(180, 1) == 180.0
    chat = required_agents(100, 1800, effective_aht(360, 2), 0.8, 20)
    assert chat.agents == 14


# --------------------------------------------------------------------------- Erlang A


def test_erlang_a_vector() -> None:
    m = erlang_a(10.0, 14, 180, 300, 20)
    assert m.prob_wait == pytest.approx(0.14526, abs=5e-6)
    assert m.prob_abandon == pytest.approx(0.013984, abs=5e-7)
    assert m.occupancy == pytest.approx(0.704297, abs=5e-7)
    assert m.service_level == pytest.approx(0.916792, abs=5e-7)
    result = evaluate(100, 1800, 180, 14, 20, patience=300)
    assert result.model == "erlang_a"
    assert result.prob_abandon == pytest.approx(0.013984, abs=5e-7)
    assert result.service_level == pytest.approx(0.916792, abs=5e-7)
    assert erlang.erlang_a_prob_wait(10.0, 14, 180, 300) == pytest.approx(0.14526, abs=5e-6)
    assert erlang.erlang_a_prob_abandon(10.0, 14, 180, 300) == pytest.approx(0.013984, abs=5e-7)
    assert erlang.erlang_a_occupancy(10.0, 14, 180, 300) == pytest.approx(0.704297, abs=5e-7)
    assert erlang.erlang_a_service_level(10.0, 14, 180, 300, 20) == pytest.approx(0.916792, abs=5e-7)


def test_erlang_a_matches_direct_chain() -> None:
    """Brute-force the truncated birth-death chain in plain floats and compare."""
    lam, mu, theta, n_agents = 100 / 1800, 1 / 180, 1 / 300, 14
    weights = [1.0]
    for n in range(1, 400):
        death = min(n, n_agents) * mu + max(n - n_agents, 0) * theta
        weights.append(weights[-1] * lam / death)
    total = sum(weights)
    pi = [w / total for w in weights]
    p_wait = sum(pi[n_agents:])
    p_abandon = theta * sum((n - n_agents) * p for n, p in enumerate(pi) if n > n_agents) / lam
    busy = sum(min(n, n_agents) * p for n, p in enumerate(pi))
    m = erlang_a(10.0, n_agents, 180, 300)
    assert m.prob_wait == pytest.approx(p_wait, rel=1e-10)
    assert m.prob_abandon == pytest.approx(p_abandon, rel=1e-10)
    assert m.occupancy == pytest.approx(busy / n_agents, rel=1e-10)
    assert m.average_wait == pytest.approx(p_abandon / theta, rel=1e-10)
    assert m.service_level is None


def test_erlang_a_asa_is_consistent_with_service_level() -> None:
    """E[W; served] = integral over t of P(served) - P(served, W <= t)."""
    load, n_agents, aht, patience = 10.0, 14, 180.0, 300.0
    m = erlang_a(load, n_agents, aht, patience)
    served = 1.0 - m.prob_abandon
    step, upper = 0.5, 400.0
    grid = [i * step for i in range(int(upper / step) + 1)]
    tail = [served - erlang.erlang_a_service_level(load, n_agents, aht, patience, t) for t in grid]
    integral = step * (sum(tail) - (tail[0] + tail[-1]) / 2)
    assert tail[-1] < 1e-9
    assert m.asa == pytest.approx(integral / served, rel=1e-4)
    assert erlang.erlang_a_asa(load, n_agents, aht, patience) == m.asa


def test_erlang_a_tends_to_erlang_c_with_endless_patience() -> None:
    m = erlang_a(10.0, 14, 180, 1e9, 20)
    assert m.prob_wait == pytest.approx(prob_wait(10.0, 14), rel=1e-5)
    assert m.service_level == pytest.approx(service_level(10.0, 14, 180, 20), rel=1e-5)
    assert m.asa == pytest.approx(asa(10.0, 14, 180), rel=1e-5)
    assert m.prob_abandon < 1e-6


def test_erlang_a_threshold_zero_and_overload() -> None:
    m = erlang_a(10.0, 14, 180, 300, 0)
    assert m.service_level == pytest.approx(1.0 - m.prob_wait, rel=1e-12)
    # overloaded (N < A) is fine with abandonment: carried load <= N and the excess abandons
    over = erlang_a(10.0, 5, 180, 300, 20)
    assert 0.0 < over.service_level < 0.1
    assert over.occupancy == pytest.approx(1.0, abs=5e-3)
    assert over.prob_abandon == pytest.approx(0.5, abs=0.02)


def test_required_agents_erlang_a() -> None:
    result = required_agents(100, 1800, 180, 0.8, 20, patience=300)
    assert result.model == "erlang_a"
    assert result.service_level >= 0.8
    assert evaluate(100, 1800, 180, result.agents - 1, 20, patience=300).service_level < 0.8
    assert result.agents <= 14  # abandonment never makes things worse here


# --------------------------------------------------------------------------- stability


def test_stability_at_a900_n1000() -> None:
    load = 900.0
    b = erlang_b(load, 1000)
    assert 0.0 < b < 1.0
    pw = prob_wait(load, 1000)
    assert 0.0 <= pw < 1.0 and math.isfinite(pw)
    sl = service_level(load, 1000, 180, 20)
    assert 0.99 < sl <= 1.0
    start = time.perf_counter()
    c = required_agents(900 * 1800 / 180, 1800, 180, 0.8, 20)
    assert load < c.agents < 1000
    assert c.service_level >= 0.8
    assert evaluate(900 * 1800 / 180, 1800, 180, c.agents - 1, 20).service_level < 0.8
    a = required_agents(900 * 1800 / 180, 1800, 180, 0.8, 20, patience=300)
    assert a.agents <= c.agents
    for n in (800, 1000, 1200):
        m = erlang_a(load, n, 180, 300, 20)
        for value in (m.prob_wait, m.prob_abandon, m.occupancy, m.service_level, m.asa):
            assert value is not None and math.isfinite(value) and value >= 0.0
        assert m.prob_wait <= 1.0 and m.service_level is not None and m.service_level <= 1.0
    assert time.perf_counter() - start < 5.0


def test_erlang_a_large_system_matches_erlang_c_when_patient() -> None:
    m = erlang_a(900.0, 1000, 180, 1e8, 20)
    assert m.prob_wait == pytest.approx(prob_wait(900.0, 1000), rel=1e-4)
    assert m.service_level == pytest.approx(service_level(900.0, 1000, 180, 20), rel=1e-4)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"volume": 0}, "volume"),
        ({"volume": -5}, "volume"),
        ({"volume": math.nan}, "volume"),
        ({"interval_seconds": 0}, "interval_seconds"),
        ({"aht": 0}, "aht"),
        ({"aht": -1}, "aht"),
        ({"target_sl": 0}, "target_sl"),
        ({"target_sl": 1}, "target_sl"),
        ({"target_sl": 1.5}, "target_sl"),
        ({"threshold": -1}, "threshold"),
        ({"max_occupancy": 0}, "max_occupancy"),
        ({"max_occupancy": 1.2}, "max_occupancy"),
        ({"shrinkage": 1}, "shrinkage"),
        ({"shrinkage": -0.1}, "shrinkage"),
        ({"patience": 0}, "patience"),
        ({"target_asa": 0}, "target_asa"),
        ({"volume": "100"}, "volume"),
    ],
)
def test_required_agents_rejects_bad_input(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "volume": 100, "interval_seconds": 1800, "aht": 180, "target_sl": 0.8, "threshold": 20,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        required_agents(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize("agents", [0, -3, 2.5, True])
def test_evaluate_rejects_bad_agents(agents: object) -> None:
    with pytest.raises(ValueError, match="agents"):
        evaluate(100, 1800, 180, agents, 20)  # type: ignore[arg-type]


def test_functions_reject_bad_load_and_concurrency() -> None:
    with pytest.raises(ValueError, match="offered load"):
        prob_wait(0.0, 5)
    with pytest.raises(ValueError, match="offered load"):
        erlang_b(-1.0, 5)
    with pytest.raises(ValueError, match="concurrency"):
        effective_aht(180, 0)
    with pytest.raises(ValueError, match="patience"):
        erlang_a(10.0, 14, 180, -1)


def test_result_is_frozen() -> None:
    result = evaluate(100, 1800, 180, 14, 20)
    with pytest.raises(AttributeError):
        result.agents = 3  # type: ignore[misc]


# --------------------------------------------------------------------------- Erlang A: abandonment limit, load floor


def textbook_erlang_a(volume: float, interval: float, aht: float, patience: float, n: int) -> tuple[float, float]:
    """P(wait) and P(abandon) of M/M/n+M straight from the birth-death chain of KPIS.md (death
    rate min(k, n)·μ + max(k − n, 0)·θ), truncated far out; P(abandon) = θ·E[queue] / λ."""
    lam, mu, theta = volume / interval, 1 / aht, 1 / patience
    weights = [1.0]
    for k in range(1, n + 3000):
        weights.append(weights[-1] * lam / (min(k, n) * mu + max(k - n, 0) * theta))
    total = sum(weights)
    pi = [w / total for w in weights]
    queue = sum((k - n) * p for k, p in enumerate(pi) if k > n)
    return sum(pi[n:]), theta * queue / lam


def test_textbook_chain_reproduces_the_public_vector() -> None:
    assert textbook_erlang_a(100, 1800, 180, 300, 14) == pytest.approx((0.14526, 0.013984), abs=1e-5)


def test_erlang_a_staffing_respects_the_abandonment_limit() -> None:
    # A = 10 erlangs, mean patience 60 s. Hand-checked with the textbook chain:
    # N = 12 abandon 7.59 %, 13: 4.92 %, 15: 1.78 %, 16: 0.99 %; SL(20 s) ≥ 80 % from N = 12.
    assert textbook_erlang_a(100, 1800, 180, 60, 12)[1] == pytest.approx(0.0759, abs=1e-4)
    assert textbook_erlang_a(100, 1800, 180, 60, 13)[1] == pytest.approx(0.0492, abs=1e-4)
    assert textbook_erlang_a(100, 1800, 180, 60, 15)[1] == pytest.approx(0.0178, abs=1e-4)
    assert textbook_erlang_a(100, 1800, 180, 60, 16)[1] == pytest.approx(0.0099, abs=1e-4)
    no_limit = required_agents(100, 1800, 180, 0.8, 20, patience=60, max_abandon=None)
    assert no_limit.agents == 12  # the service level alone
    default = required_agents(100, 1800, 180, 0.8, 20, patience=60)  # 5 % by default
    assert erlang.DEFAULT_MAX_ABANDON == 0.05
    assert default.agents == 13
    strict = required_agents(100, 1800, 180, 0.8, 20, patience=60, max_abandon=0.01)
    assert strict.agents == 16 and strict.model == "erlang_a"
    p_wait, p_abandon = textbook_erlang_a(100, 1800, 180, 60, 16)
    assert strict.prob_abandon == pytest.approx(p_abandon, rel=1e-9)
    assert strict.prob_wait == pytest.approx(p_wait, rel=1e-9)
    assert strict.occupancy == pytest.approx(10 * (1 - p_abandon) / 16, rel=1e-9)
    # Smallest: one agent fewer breaks the limit.
    assert textbook_erlang_a(100, 1800, 180, 60, 15)[1] > 0.01


def test_the_offered_load_is_a_floor() -> None:
    # Very impatient visitors (10 s): 7 agents would "answer" 60 % within 20 s while 39 % give up.
    seven = evaluate(100, 1800, 180, 7, 20, patience=10)
    assert seven.service_level >= 0.5 and seven.prob_abandon is not None and seven.prob_abandon < 0.5
    result = required_agents(100, 1800, 180, 0.5, 20, patience=10, max_abandon=0.5)
    assert result.agents == 10  # ceil(A), A = 10
    fractional = required_agents(101, 1800, 180, 0.5, 20, patience=10, max_abandon=0.5)
    assert fractional.agents == 11  # A = 10.1
    # Erlang C already needs N > A.
    assert required_agents(100, 1800, 180, 0.01, 20).agents == 11


def test_the_overloaded_example_is_staffed_above_the_load() -> None:
    # 20,000 chats in 30 min at 300 s: A = 3,333.3 erlangs, patience 60 s. Without the floor and
    # the limit this was 2,679 agents with 19.6 % abandoning and 100 % occupancy.
    result = required_agents(20000, 1800, 300, 0.8, 20, patience=60)
    assert result.agents >= 3334
    assert result.prob_abandon is not None and result.prob_abandon <= 0.05
    assert result.service_level >= 0.8 and result.occupancy < 1.0


@pytest.mark.parametrize("value", [0, 1, -0.1, 1.5, math.nan, "0.05"])
def test_max_abandon_is_checked(value: object) -> None:
    with pytest.raises(ValueError, match="max_abandon"):
        required_agents(100, 1800, 180, 0.8, 20, patience=60, max_abandon=value)  # type: ignore[arg-type]
