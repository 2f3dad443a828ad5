"""SLA arithmetic: targets counted in a team's business hours, and which policy applies.

`add_business_minutes(schedule, start, minutes)` is the moment `minutes` of open time after `start`
(an always-open schedule: plain wall-clock minutes). A policy for the order's category and priority
beats one for the category alone, which beats one for the priority alone, which beats the default
(neither set); a sub-category without a policy of its own uses its parent's.

Warnings: an order is *at risk* once `WARN_FRACTION` of its target (wall-clock from the start to the
due time) has passed, and *breached* at the due time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.routing.hours import Schedule

WARN_FRACTION = 0.8
_DAY = 24 * 60
_MAX_DAYS = 3660  # an SLA never looks further than ten years for open time
_UTC = ZoneInfo("UTC")


@dataclass(frozen=True)
class Policy:
    category_id: int | None
    priority: str | None
    first_response_minutes: int | None
    resolution_minutes: int | None


def pick(policies: list[Policy], category_id: int | None, parent_id: int | None, priority: str) -> Policy | None:
    """The most specific policy for an order of this category (with its parent) and priority."""
    def rank(p: Policy) -> tuple[int, int] | None:
        if p.priority is not None and p.priority != priority:
            return None
        if p.category_id is None:
            cat = 0
        elif p.category_id == category_id:
            cat = 2
        elif parent_id is not None and p.category_id == parent_id:
            cat = 1
        else:
            return None
        return cat, 1 if p.priority is not None else 0

    ranked = [(rank(p), i, p) for i, p in enumerate(policies)]
    ranked = [r for r in ranked if r[0] is not None]
    return max(ranked, key=lambda r: (r[0], -r[1]))[2] if ranked else None


def _open_spans(schedule: Schedule, day: date) -> list[tuple[int, int]]:
    """The open minutes of a local date, as (start, end) minute pairs."""
    special = schedule.holidays.get(day.isoformat(), ())
    if special != ():
        return list(special or ())
    if schedule.hours is None:
        return [(0, _DAY)]
    return sorted((start, end) for weekday, start, end in schedule.hours.spans if weekday == day.weekday())


def _instant(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """The UTC moment of a local date's `minute` (wall clock: a DST day has 23 or 25 real hours)."""
    return (datetime.combine(day, time(0), tzinfo=zone) + timedelta(minutes=minute)).astimezone(_UTC)


def add_business_minutes(schedule: Schedule, start: datetime, minutes: int) -> datetime:
    """`minutes` of the schedule's open time after `start` (an aware datetime); the result is UTC.
    Open time is real elapsed time: a span across a DST change counts the hours that really pass."""
    if schedule.hours is None and not schedule.holidays:
        return start + timedelta(minutes=minutes)
    zone = ZoneInfo(schedule.time_zone)
    start = start.astimezone(_UTC)
    left = timedelta(minutes=minutes)
    day = start.astimezone(zone).date()
    for _ in range(_MAX_DAYS):
        for span_start, span_end in _open_spans(schedule, day):
            begin = max(_instant(day, span_start, zone), start)
            end = _instant(day, span_end, zone)
            if begin >= end:
                continue
            if begin + left <= end:
                return begin + left
            left -= end - begin
        day += timedelta(days=1)
    return start + timedelta(minutes=minutes)  # a schedule with (almost) no open time: wall clock


def warn_at(start: datetime, due: datetime) -> datetime:
    """When an order due at `due` (its clock started at `start`) becomes at risk."""
    return start + (due - start) * WARN_FRACTION
