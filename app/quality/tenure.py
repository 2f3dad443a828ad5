"""Tenure curves and weekly trends of the CSR scorecard (docs/quality.md "The CSR scorecard and tenure").

Pure: dates and numbers in, rows out. The figures themselves (QA score, CSAT, first response, AHT, FCR,
occupancy, adherence, chats per hour) come from the KPI engine (app/kpi/engine.py) over each window;
this module only decides the windows and the reference lines.

- A CSR's **start** is `User.started_on`, else the local day their account was made.
- **Tenure week** k (k = 0, 1, …) is the 7 days [start + 7k, start + 7k + 7): week 0 is the first 7 days.
- A **veteran** is a CSR whose start lies more than `months` whole calendar months before today
  (`months_before`: the same day of the month, clamped to the month's last day).
- The **reference line** of a tenure curve: for each of the CSR's tenure weeks, the median of the
  veterans' values over the same 7 calendar days (veterans with no value that week are left out;
  no veteran with a value → no reference for that week).
- **Weekly trends** go by calendar weeks (Monday to Sunday, the center's time zone), against the median
  of the team's values of that week.
"""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from statistics import median as _median
from typing import Hashable

DEFAULT_VETERAN_MONTHS = 6
MAX_WEEKS = 104  # a curve or a trend covers at most two years of weeks


def start_of(started_on: date | None, created_at: datetime | date | None, zone: tzinfo | None = None) -> date | None:
    """The CSR's first day: `started_on`, else the (local) day the account was made."""
    if started_on is not None:
        return started_on
    if created_at is None:
        return None
    if isinstance(created_at, datetime):
        if zone is not None and created_at.tzinfo is not None:
            created_at = created_at.astimezone(zone)
        return created_at.date()
    return created_at


def tenure_week(day: date, start: date) -> int:
    """The tenure week of `day` (0: the first 7 days from `start`; negative: before the start)."""
    return (day - start).days // 7


def months_before(day: date, months: int) -> date:
    """`day` moved back `months` calendar months (the 31st of a shorter month: its last day)."""
    month_index = day.year * 12 + (day.month - 1) - months
    year, month = divmod(month_index, 12)
    return date(year, month + 1, min(day.day, monthrange(year, month + 1)[1]))


def is_veteran(start: date | None, today: date, months: int = DEFAULT_VETERAN_MONTHS) -> bool:
    """Tenure above `months` months: started before the day `months` months ago."""
    return start is not None and start < months_before(today, months)


def veterans(starts: Mapping[Hashable, date | None], today: date, months: int = DEFAULT_VETERAN_MONTHS,
             exclude: Iterable[Hashable] = ()) -> list[Hashable]:
    """The ids of `starts` ({id: start}) whose tenure is above `months` months, but those in `exclude`."""
    left_out = set(exclude)
    return [key for key, start in starts.items() if key not in left_out and is_veteran(start, today, months)]


@dataclass(frozen=True)
class Window:
    """A week of a curve or trend: days [first, first + days), `index` its tenure week (or calendar week order)."""

    index: int
    first: date
    days: int = 7

    @property
    def last(self) -> date:
        return self.first + timedelta(days=self.days - 1)

    @property
    def end(self) -> date:
        """The day after the window (exclusive end)."""
        return self.first + timedelta(days=self.days)


def tenure_windows(start: date, today: date, max_weeks: int = MAX_WEEKS) -> list[Window]:
    """The CSR's tenure weeks from week 0 to the week holding `today` (at most the last `max_weeks`);
    none when `start` is after today."""
    if start > today:
        return []
    last = tenure_week(today, start)
    first = max(0, last - max_weeks + 1)
    return [Window(k, start + timedelta(days=7 * k)) for k in range(first, last + 1)]


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def calendar_windows(today: date, weeks: int) -> list[Window]:
    """The last `weeks` calendar weeks (Monday first) up to the one holding `today`, oldest first."""
    if weeks < 1:
        return []
    this = monday_of(today)
    return [Window(i, this - timedelta(days=7 * (weeks - 1 - i))) for i in range(weeks)]


def median(values: Iterable[float | None]) -> float | None:
    """The median of the values that are not None (None: none is)."""
    known = [v for v in values if v is not None]
    return float(_median(known)) if known else None


@dataclass(frozen=True)
class Point:
    """One week of a curve: the CSR's value and the reference (team or veterans' median) and how many
    values the reference is the median of."""

    index: int
    first: date
    last: date
    value: float | None
    reference: float | None
    reference_count: int

    @property
    def gap(self) -> float | None:
        """value − reference (None when either is unknown)."""
        if self.value is None or self.reference is None:
            return None
        return self.value - self.reference


def curve(windows: Iterable[Window], own: Mapping[int, float | None],
          others: Mapping[int, Mapping[Hashable, float | None]]) -> list[Point]:
    """One point per window: the CSR's value (`own[index]`, None when missing) and the median of the
    others' values of the same window (`others[index]`: {id: value}); weeks with no data are kept, empty."""
    points = []
    for window in windows:
        values = [v for v in (others.get(window.index) or {}).values() if v is not None]
        points.append(Point(window.index, window.first, window.last, own.get(window.index),
                            median(values), len(values)))
    return points


__all__ = ["DEFAULT_VETERAN_MONTHS", "MAX_WEEKS", "Point", "Window", "calendar_windows", "curve", "is_veteran",
           "median", "monday_of", "months_before", "start_of", "tenure_week", "tenure_windows", "veterans"]
