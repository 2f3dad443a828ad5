"""Work-order report formulas: plain values in, plain values out (docs/kpis.md "Work orders").

The reports (app/reports/workorder_report.py) count rows in SQL with these same rules; what is
left for Python — a ratio of two counts, the percentile of a list of resolution times, the walk of
the backlog from day to day — is computed here, so every rule is tested without a database.

- SLA compliance (`sla_outcome`, `compliance`): an order without a target is not counted at all;
  one with a target counts once it was met or missed — its reply (or resolution) came, or its due
  time passed without one. Met: the reply (resolution) at or before the due time.
- Percentile (`nearest_rank`): the nearest-rank method — the smallest value with at least p % of
  the values at or below it: the ⌈p·n/100⌉-th of the n values in ascending order. Always one of the
  values (no interpolation); the 90th percentile of 10 values is the 9th, of 11 values the 10th.
- Aging (`aging_bucket`): the age of an order open at a moment is that moment − its creation;
  buckets are half-open: [0, 1 day), [1 day, 3 days), [3 days, 7 days), [7 days, ∞).
- Backlog walk (`backlog_walk`): the orders open at the end of each day = those open at the end of
  the day before + created + reopened − resolved that day.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

DAY_SECONDS = 86_400.0
# The aging buckets: (key, label, lower bound in days (inclusive), upper bound in days (exclusive)).
AGING_BUCKETS: tuple[tuple[str, str, float, float | None], ...] = (
    ("under_1_day", "< 1 day", 0.0, 1.0),
    ("1_to_3_days", "1–3 days", 1.0, 3.0),
    ("3_to_7_days", "3–7 days", 3.0, 7.0),
    ("over_7_days", "> 7 days", 7.0, None),
)
# The upper bounds of every bucket but the last, as ages: what the SQL compares creation times with.
AGING_EDGES: tuple[timedelta, ...] = tuple(timedelta(days=b[3]) for b in AGING_BUCKETS if b[3] is not None)

MET, MISSED, PENDING = "met", "missed", "pending"


def ratio(part: float, whole: float) -> float | None:
    """part / whole; None when there is nothing to divide by."""
    return part / whole if whole else None


def sla_outcome(due: datetime | None, done: datetime | None, now: datetime) -> str | None:
    """One order against one target: None (no target: not counted), "met" (done at or before
    `due`), "missed" (done after `due`, or not done and `due` has passed at `now`) or "pending"
    (not done and not due yet: not counted either)."""
    if due is None:
        return None
    if done is not None:
        return MET if done <= due else MISSED
    return MISSED if due <= now else PENDING


@dataclass(frozen=True)
class Compliance:
    met: int
    counted: int  # met + missed: the denominator

    @property
    def rate(self) -> float | None:
        return ratio(self.met, self.counted)


def compliance(outcomes: Iterable[str | None]) -> Compliance:
    """met / (met + missed) over the outcomes of `sla_outcome`; orders without a target (None) and
    pending ones are in neither."""
    met = counted = 0
    for outcome in outcomes:
        if outcome == MET:
            met += 1
            counted += 1
        elif outcome == MISSED:
            counted += 1
    return Compliance(met, counted)


def nearest_rank(values: Sequence[float], percent: int) -> float | None:
    """The `percent`-th percentile of `values` by the nearest-rank method (None for no values):
    the ⌈percent·n/100⌉-th smallest value (integer arithmetic: no rounding surprise)."""
    if not 0 < percent <= 100:
        raise ValueError("percent is in (0, 100]")
    if not values:
        return None
    ordered = sorted(values)
    rank = -(-percent * len(ordered) // 100)  # ceil(percent·n / 100), at least 1
    return ordered[rank - 1]


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def resolution_seconds(created_at: datetime, first_resolved_at: datetime | None) -> float | None:
    """An order's resolution time: its creation → its first resolution (a reopened order keeps the
    time to its first one); None while it was never resolved."""
    if first_resolved_at is None:
        return None
    return (first_resolved_at - created_at).total_seconds()


def aging_bucket(age_seconds: float) -> int:
    """The index in AGING_BUCKETS of an open order this old."""
    for index, (_, _, _, high) in enumerate(AGING_BUCKETS):
        if high is None or age_seconds < high * DAY_SECONDS:
            return index
    return len(AGING_BUCKETS) - 1


def aging_counts(ages_seconds: Iterable[float]) -> list[int]:
    """How many of these ages fall in each bucket of AGING_BUCKETS."""
    counts = [0] * len(AGING_BUCKETS)
    for age in ages_seconds:
        counts[aging_bucket(age)] += 1
    return counts


def is_open_at(created_at: datetime, resolutions: Iterable[datetime], reopens: Iterable[datetime],
               moment: datetime) -> bool:
    """Whether an order is open at `moment` (half-open: an event at `moment` has happened): created
    before it, and not resolved since its creation or its last reopening. Closing follows a
    resolution and changes nothing; each reopening follows one resolution."""
    if created_at >= moment:
        return False
    resolved = sum(1 for at in resolutions if at < moment)
    reopened = sum(1 for at in reopens if at < moment)
    return resolved <= reopened


@dataclass(frozen=True)
class DayFlow:
    created: int = 0
    reopened: int = 0
    resolved: int = 0


def backlog_walk(opening: int, days: Sequence[DayFlow]) -> list[int]:
    """The backlog at the end of each day: the day before's (the first day: `opening`, the orders
    open at the start) + created + reopened − resolved."""
    out = []
    backlog = opening
    for day in days:
        backlog += day.created + day.reopened - day.resolved
        out.append(backlog)
    return out


def callback_state(due_at: datetime, done_at: datetime | None, now: datetime) -> str:
    """"done" (recorded, early or late), "overdue" (not recorded and due at or before `now`) or
    "pending" (not recorded, due later)."""
    if done_at is not None:
        return "done"
    return "overdue" if due_at <= now else "pending"
