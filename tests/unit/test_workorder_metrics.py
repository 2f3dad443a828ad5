"""The work-order report formulas (app/workorders/metrics.py) against vectors worked out by hand:
SLA outcomes and compliance (no target, pending, exactly on time), the nearest-rank percentile,
the aging buckets at their edges, whether an order is open at a moment across reopenings, the
backlog walk and a callback's state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.workorders import metrics
from app.workorders.metrics import DayFlow

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)


# -- SLA compliance ----------------------------------------------------------------------------------

def test_an_sla_outcome_is_met_at_or_before_the_due_time_and_missed_after_it():
    due = T0 + 2 * H
    assert metrics.sla_outcome(due, T0 + H, now=T0 + 10 * H) == "met"
    assert metrics.sla_outcome(due, due, now=T0 + 10 * H) == "met"  # exactly on time counts as met
    assert metrics.sla_outcome(due, due + timedelta(microseconds=1), now=T0 + 10 * H) == "missed"
    # Not done: missed once the due time has come (at it exactly), pending before.
    assert metrics.sla_outcome(due, None, now=due) == "missed"
    assert metrics.sla_outcome(due, None, now=due - timedelta(seconds=1)) == "pending"
    # A reply after the due time is missed even when "now" is before it (it came late).
    assert metrics.sla_outcome(due, due + H, now=T0) == "missed"
    # No target: not counted, whatever happened.
    assert metrics.sla_outcome(None, T0, now=T0 + D) is None
    assert metrics.sla_outcome(None, None, now=T0 + D) is None


def test_compliance_leaves_orders_without_a_target_and_pending_ones_out_of_the_denominator():
    # 3 met, 2 missed, 4 without a target, 1 pending: 3 / 5.
    outcomes = ["met", "missed", None, "met", None, "pending", "missed", None, "met", None]
    c = metrics.compliance(outcomes)
    assert (c.met, c.counted) == (3, 5)
    assert c.rate == pytest.approx(0.6)
    # Nothing counted: no rate (not 0 %, not 100 %).
    assert metrics.compliance([None, "pending"]).rate is None
    assert metrics.compliance([]).counted == 0


def test_ratio_of_nothing_is_none():
    assert metrics.ratio(1, 4) == 0.25
    assert metrics.ratio(0, 3) == 0
    assert metrics.ratio(2, 0) is None


# -- percentile --------------------------------------------------------------------------------------

@pytest.mark.parametrize("values, percent, expected", [
    # n = 10: ⌈0.9 · 10⌉ = 9 → the 9th smallest.
    ([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 90, 90),
    # n = 11: ⌈9.9⌉ = 10 → the 10th.
    ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 90, 10),
    # n = 5: ⌈4.5⌉ = 5 → the largest. Unsorted input.
    ([300, 100, 500, 200, 400], 90, 500),
    # n = 1: the value itself.
    ([42.5], 90, 42.5),
    # n = 20: ⌈18⌉ = 18 exactly (no float error pushes it to 19).
    (list(range(1, 21)), 90, 18),
    # n = 30: ⌈27⌉ = 27.
    (list(range(1, 31)), 90, 27),
    # The median by nearest rank of 4 values: ⌈2⌉ = 2 → the 2nd (no averaging).
    ([4, 1, 3, 2], 50, 2),
    ([7, 7, 7], 100, 7),
    ([5, 1, 9], 1, 1),  # ⌈0.03⌉ = 1 → the smallest
])
def test_the_nearest_rank_percentile(values, percent, expected):
    assert metrics.nearest_rank(values, percent) == expected


def test_a_percentile_of_nothing_is_none_and_the_percent_is_checked():
    assert metrics.nearest_rank([], 90) is None
    with pytest.raises(ValueError):
        metrics.nearest_rank([1], 0)
    with pytest.raises(ValueError):
        metrics.nearest_rank([1], 101)


def test_resolution_time_runs_from_creation_to_the_first_resolution():
    assert metrics.resolution_seconds(T0, T0 + 2 * H + timedelta(seconds=30)) == 7230.0
    assert metrics.resolution_seconds(T0, None) is None
    assert metrics.mean([3600.0, 7200.0, 10800.0]) == 7200.0
    assert metrics.mean([]) is None


# -- aging -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("age, bucket", [
    (0, 0), (86_399.999, 0),  # < 1 day
    (86_400, 1), (3 * 86_400 - 1, 1),  # exactly 1 day: 1–3 days
    (3 * 86_400, 2), (7 * 86_400 - 0.5, 2),  # exactly 3 days: 3–7 days
    (7 * 86_400, 3), (400 * 86_400, 3),  # exactly 7 days and beyond: > 7 days
])
def test_aging_buckets_are_half_open(age, bucket):
    assert metrics.aging_bucket(age) == bucket


def test_aging_counts_and_the_edges_the_sql_uses():
    ages = [h * 3600 for h in (1, 23, 24, 30, 71, 72, 100, 167, 168, 1000)]
    # < 1 day: 1 h, 23 h; 1–3 days: 24, 30, 71 h; 3–7 days: 72, 100, 167 h; > 7 days: 168, 1000 h.
    assert metrics.aging_counts(ages) == [2, 3, 3, 2]
    assert metrics.AGING_EDGES == (timedelta(days=1), timedelta(days=3), timedelta(days=7))
    assert [b[1] for b in metrics.AGING_BUCKETS] == ["< 1 day", "1–3 days", "3–7 days", "> 7 days"]


# -- open at a moment, backlog -----------------------------------------------------------------------

def test_an_order_is_open_from_creation_until_resolved_and_again_once_reopened():
    created, resolved, reopened, resolved_again = T0, T0 + D, T0 + 2 * D, T0 + 3 * D
    at = lambda moment: metrics.is_open_at(created, [resolved, resolved_again], [reopened], moment)
    assert not at(created)  # half-open: created at the moment is not yet open before it
    assert at(created + timedelta(microseconds=1))
    assert at(resolved)  # the resolution at the moment itself has not happened "before" it
    assert not at(resolved + H)
    assert at(reopened + H)  # reopening brings it back
    assert not at(resolved_again + H)
    # Closing is no event here: a resolved-then-closed order stays out of the backlog.
    assert not metrics.is_open_at(created, [resolved], [], T0 + 10 * D)


def test_the_backlog_walk():
    # Open at the start 5. Day 1: +3 created, −2 resolved → 6. Day 2: +1 reopened, −4 resolved → 3.
    # Day 3: nothing → 3. Day 4: +2 created, +1 reopened → 6.
    days = [DayFlow(created=3, resolved=2), DayFlow(reopened=1, resolved=4), DayFlow(),
            DayFlow(created=2, reopened=1)]
    assert metrics.backlog_walk(5, days) == [6, 3, 3, 6]
    assert metrics.backlog_walk(0, []) == []


def test_the_backlog_walk_agrees_with_open_at_each_day_end():
    # Three orders over four days, checked one by one with is_open_at.
    ends = [T0 + (i + 1) * D for i in range(4)]
    orders = [
        (T0 - D, [T0 + 2 * H], []),  # open before the window, resolved on day 1
        (T0 + 3 * H, [T0 + D + H, T0 + 3 * D + H], [T0 + 2 * D + H]),  # day 1; resolved day 2; reopened day 3; resolved day 4
        (T0 + 2 * D + 5 * H, [], []),  # created on day 3, still open
    ]
    opening = sum(metrics.is_open_at(c, r, o, T0) for c, r, o in orders)
    flows = []
    for start, end in zip([T0, *ends], ends):
        flows.append(DayFlow(
            created=sum(start <= c < end for c, _, _ in orders),
            reopened=sum(start <= at < end for _, _, o in orders for at in o),
            resolved=sum(start <= at < end for _, r, _ in orders for at in r)))
    assert opening == 1
    assert metrics.backlog_walk(opening, flows) == [sum(metrics.is_open_at(c, r, o, end) for c, r, o in orders)
                                                    for end in ends] == [1, 0, 2, 1]


def test_a_callbacks_state():
    due = T0 + D
    assert metrics.callback_state(due, None, now=T0) == "pending"
    assert metrics.callback_state(due, None, now=due) == "overdue"
    assert metrics.callback_state(due, due + D, now=due + 2 * D) == "done"  # late, but done
    assert metrics.callback_state(due, T0, now=T0) == "done"
