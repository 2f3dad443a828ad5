"""Calibration: how far evaluators who scored the same chats agree (pure, no database).

`spread(scale, answers)` describes one criterion of one chat across evaluators:

- `agreement`: the share of the answers equal to the most frequent answer (the mode; on a tie, the
  first in the scale's order) — 1.0 when everyone agrees; N/A counts as an answer like any other;
- on the five-point scale, over the numeric answers (N/A left out): `low`, `high`, `range`
  (high − low) and `stdev` (the population standard deviation, rounded to two decimals).

`score_spread(scores)` is the max − min of the evaluators' scores of one chat (None scores left out).

`deviation(rows, period)` is the evaluator-deviation report: per evaluator and period ("week": the
Monday; "month": the first), the number of their calibration answers that have an agreed answer,
how many differ from it and that share, and the mean |their score − the agreed answers' score| over
the chats whose agreed answers are complete (the agreed score computed like any score,
app/quality/scoring.py).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from app.quality import scoring

PERIODS = ("week", "month")


@dataclass(frozen=True)
class Spread:
    count: int
    mode: str | None
    agreement: float | None
    low: int | None = None
    high: int | None = None
    range: int | None = None
    stdev: float | None = None


def spread(scale: str, answers: Iterable[str]) -> Spread:
    values = [a for a in answers if a]
    if not values:
        return Spread(0, None, None)
    counts = Counter(values)
    order = {a: i for i, a in enumerate(scoring.ANSWERS.get(scale, ()))}
    mode = min(counts, key=lambda a: (-counts[a], order.get(a, len(order)), a))
    agreement = round(counts[mode] / len(values), 4)
    if scale != "five":
        return Spread(len(values), mode, agreement)
    numbers = [int(v) for v in values if v.isdigit()]
    if not numbers:
        return Spread(len(values), mode, agreement)
    mean = sum(numbers) / len(numbers)
    stdev = math.sqrt(sum((n - mean) ** 2 for n in numbers) / len(numbers))
    return Spread(len(values), mode, agreement, min(numbers), max(numbers), max(numbers) - min(numbers),
                  round(stdev, 2))


def score_spread(scores: Iterable[float | None]) -> float | None:
    known = [s for s in scores if s is not None]
    if not known:
        return None
    return round(max(known) - min(known), 1)


def period_start(day: date, period: str) -> date:
    if period == "month":
        return day.replace(day=1)
    return day - timedelta(days=day.weekday())


def agreed_score(sections: list[dict], agreed: dict[str, str]) -> float | None:
    """The score of the agreed answers, or None while some criterion has none (or all are N/A)."""
    try:
        return scoring.score(sections, agreed).score
    except scoring.ScorecardError:
        return None


@dataclass
class DeviationRow:
    evaluator_id: int
    period: date
    answers: int = 0
    differing: int = 0
    chats_scored: int = 0
    score_gap_total: float = 0.0

    @property
    def share(self) -> float | None:
        return round(self.differing / self.answers, 4) if self.answers else None

    @property
    def mean_score_gap(self) -> float | None:
        return round(self.score_gap_total / self.chats_scored, 1) if self.chats_scored else None


def deviation(rows: Iterable[dict], period: str = "week") -> list[DeviationRow]:
    """rows: one per submitted calibration evaluation — {"evaluator_id", "day" (date), "answers"
    {key: value}, "score" (float | None), "agreed" {key: value}, "agreed_score" (float | None)}.
    Sorted by period, then evaluator."""
    if period not in PERIODS:
        raise ValueError(period)
    table: dict[tuple[date, int], DeviationRow] = {}
    for row in rows:
        key = (period_start(row["day"], period), row["evaluator_id"])
        line = table.get(key)
        if line is None:
            line = table[key] = DeviationRow(row["evaluator_id"], key[0])
        agreed = row.get("agreed") or {}
        for criterion, value in (row.get("answers") or {}).items():
            if criterion in agreed:
                line.answers += 1
                line.differing += value != agreed[criterion]
        if row.get("score") is not None and row.get("agreed_score") is not None:
            line.chats_scored += 1
            line.score_gap_total += abs(row["score"] - row["agreed_score"])
    return [table[k] for k in sorted(table)]
