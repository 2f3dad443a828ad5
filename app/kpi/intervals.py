"""Reporting intervals in the center's time zone: which bucket an instant falls in, and every
bucket of a window.

Sizes: "30min", "hour", "day", "week" (ISO, Monday start) and "month". A bucket is the set of
instants whose local wall-clock time (IANA zone, via zoneinfo) has the same floor:

- 30min / hour: the local time floored to :00 or :30 (hour: :00), together with its `fold`, so
  the hour that repeats when clocks go back is two buckets ("02:00 summer time" and
  "02:00 winter time"), and labels that fall in the gap when clocks go forward do not exist.
  A Europe/Berlin day therefore has 46 half-hour buckets in spring, 48 normally and 50 in autumn.
- day: from the first instant of a local calendar date to the first instant of the next one;
  week: likewise from that ISO week's Monday; month: from the month's first day. A day is 23,
  24 or 25 hours long.

A bucket is named by the instant it begins, returned as a UTC-aware datetime: distinct buckets
always have distinct, correctly ordered names (two local "02:00" labels on the autumn day
compare equal as local datetimes of the same zone, which is why names are UTC). Use
`local_label(start, tz)` or `start.astimezone(tz)` to show one. When a local midnight (or a
half-hour label) falls inside a DST gap, the bucket begins at the first instant that has that
local date (or label), i.e. at the transition.

Boundaries are half-open: an instant exactly at a bucket's start belongs to that bucket
(a request at 10:30:00 local is in the 10:30 bucket, not the 10:00 one). Naive datetimes are
taken to be UTC, as the event log stores UTC.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

HALF_HOUR = "30min"
HOUR = "hour"
DAY = "day"
WEEK = "week"
MONTH = "month"
SIZES = (HALF_HOUR, HOUR, DAY, WEEK, MONTH)
SUB_DAY = (HALF_HOUR, HOUR)

_ALIASES = {
    "30m": HALF_HOUR, "30min": HALF_HOUR, "30mins": HALF_HOUR, "30minutes": HALF_HOUR,
    "halfhour": HALF_HOUR, "half_hour": HALF_HOUR, "half-hour": HALF_HOUR,
    "1h": HOUR, "h": HOUR, "hour": HOUR, "hourly": HOUR,
    "1d": DAY, "d": DAY, "day": DAY, "daily": DAY,
    "1w": WEEK, "w": WEEK, "week": WEEK, "weekly": WEEK, "isoweek": WEEK,
    "month": MONTH, "monthly": MONTH,
}

_STEP = {HALF_HOUR: timedelta(minutes=30), HOUR: timedelta(hours=1)}
# Sub-day buckets are enumerated by probing a UTC grid this fine: every bucket contains a grid
# point as long as UTC offsets and transition times are multiples of 15 minutes (true of every
# IANA zone for modern dates).
_GRID = timedelta(minutes=15)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICRO = timedelta(microseconds=1)


def normalize_size(size: str) -> str:
    """The canonical name of an interval size ("30min", "hour", "day", "week", "month")."""
    key = str(size).strip().lower().replace(" ", "")
    if key in _ALIASES:
        return _ALIASES[key]
    raise ValueError(f"interval size must be one of {', '.join(SIZES)}; got {size!r}")


def as_zone(tz: str | tzinfo) -> tzinfo:
    """A tzinfo for an IANA name ("Europe/Berlin") or a tzinfo passed through."""
    if isinstance(tz, tzinfo):
        return tz
    if isinstance(tz, str) and tz:
        return ZoneInfo(tz)
    raise ValueError(f"time zone must be an IANA name or a tzinfo; got {tz!r}")


def as_utc(at: datetime) -> datetime:
    """The same instant as a UTC-aware datetime (a naive datetime is taken to be UTC)."""
    if at.tzinfo is None or at.tzinfo.utcoffset(at) is None:
        return at.replace(tzinfo=timezone.utc)
    return at.astimezone(timezone.utc)


def local_label(start: datetime, tz: str | tzinfo) -> datetime:
    """A bucket's start as an aware local datetime (for display)."""
    return as_utc(start).astimezone(as_zone(tz))


def bucket_start(at: datetime, size: str, tz: str | tzinfo) -> datetime:
    """The UTC instant at which the bucket containing `at` begins (see the module docstring)."""
    size = normalize_size(size)
    zone = as_zone(tz)
    at = as_utc(at)
    if size in SUB_DAY:
        return _sub_day_start(at, size, zone)
    day = _floor_date(at.astimezone(zone).date(), size)
    start, following = local_date_start(day, zone), local_date_start(_next_date(day, size), zone)
    # Only if clocks went back across midnight: the next date has already begun.
    while at >= following:
        day = _next_date(day, size)
        start, following = following, local_date_start(_next_date(day, size), zone)
    return start


def next_bucket_start(start: datetime, size: str, tz: str | tzinfo) -> datetime:
    """The start of the bucket that follows the bucket containing `start` (its end, exclusive)."""
    size = normalize_size(size)
    zone = as_zone(tz)
    first = bucket_start(start, size, zone)
    if size not in SUB_DAY:
        return local_date_start(_next_date(_floor_date(first.astimezone(zone).date(), size), size), zone)
    key = _sub_day_key(first, size, zone)
    probe = _grid_ceil(first + _MICRO)
    while _sub_day_key(probe, size, zone) == key:
        probe += _GRID
    return _sub_day_start(probe, size, zone)


def interval_starts(
    window_start: datetime, window_end: datetime, size: str, tz: str | tzinfo
) -> list[datetime]:
    """Every bucket that overlaps [window_start, window_end), empty or not, in order.

    Returned as UTC-aware start instants. The first one may begin before `window_start` when the
    window does not start on a boundary; an empty window gives an empty list.
    """
    size = normalize_size(size)
    zone = as_zone(tz)
    window_start, window_end = as_utc(window_start), as_utc(window_end)
    if window_end <= window_start:
        return []
    if size not in SUB_DAY:
        starts = []
        day = _floor_date(window_start.astimezone(zone).date(), size)
        while True:
            start = local_date_start(day, zone)
            if start >= window_end:
                return starts
            starts.append(start)
            day = _next_date(day, size)
    starts = [_sub_day_start(window_start, size, zone)]
    probe = _grid_ceil(window_start + _MICRO)
    last_key = _sub_day_key(starts[0], size, zone)
    while probe < window_end:
        key = _sub_day_key(probe, size, zone)
        if key != last_key:
            start = _sub_day_start(probe, size, zone)
            if start > starts[-1]:
                starts.append(start)
            last_key = key
        probe += _GRID
    return starts


def local_date_start(day: date, tz: str | tzinfo) -> datetime:
    """The first instant (UTC) whose local date in `tz` is `day`: local midnight, or the end of
    the DST gap when midnight does not exist that day."""
    zone = as_zone(tz)
    midnight = datetime.combine(day, time(0))
    # fold=0 is the earlier of two midnights when midnight repeats.
    candidate = midnight.replace(tzinfo=zone, fold=0).astimezone(timezone.utc)
    if candidate.astimezone(zone).replace(tzinfo=None) == midnight:
        return candidate
    # Midnight is in a gap: fold=0 maps it past the transition; search back for the transition.
    return _first_true(candidate - timedelta(days=1), candidate, lambda x: x.astimezone(zone).date() >= day)


def _floor_date(day: date, size: str) -> date:
    if size == WEEK:
        return day - timedelta(days=day.weekday())
    if size == MONTH:
        return day.replace(day=1)
    return day


def _next_date(day: date, size: str) -> date:
    if size == DAY:
        return day + timedelta(days=1)
    if size == WEEK:
        return day + timedelta(days=7)
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def _sub_day_key(at: datetime, size: str, zone: tzinfo) -> tuple[datetime, int]:
    local = at.astimezone(zone)
    minute = 0 if size == HOUR else local.minute - local.minute % 30
    return local.replace(minute=minute, second=0, microsecond=0, tzinfo=None), local.fold


def _sub_day_start(at: datetime, size: str, zone: tzinfo) -> datetime:
    """Earliest instant of the contiguous run of instants sharing `at`'s (label, fold)."""
    key = _sub_day_key(at, size, zone)
    label, fold = key
    candidate = label.replace(tzinfo=zone, fold=fold).astimezone(timezone.utc)
    if (
        candidate <= at
        and _sub_day_key(candidate, size, zone) == key
        and _sub_day_key(candidate - _MICRO, size, zone) != key
    ):
        return candidate
    # The label sits (partly) in a DST gap, or its fold does not exist on its own (30-minute
    # shifts): find where the run containing `at` begins.
    lower = at - _STEP[size] - timedelta(hours=3)
    return _first_true(lower, at, lambda x: _sub_day_key(x, size, zone) == key)


def _first_true(lower: datetime, upper: datetime, predicate) -> datetime:
    """Smallest instant in (lower, upper] (to the microsecond) where `predicate` holds, given it
    is false at `lower`, true at `upper` and switches once in between."""
    lo, hi = 0, (upper - lower) // _MICRO
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if predicate(lower + mid * _MICRO):
            hi = mid
        else:
            lo = mid
    return lower + hi * _MICRO


def _grid_ceil(at: datetime) -> datetime:
    """The first 15-minute UTC grid point at or after `at`."""
    steps = -((_EPOCH - at) // _GRID)
    return _EPOCH + steps * _GRID


__all__ = [
    "DAY", "HALF_HOUR", "HOUR", "MONTH", "SIZES", "WEEK",
    "as_utc", "as_zone", "bucket_start", "interval_starts", "local_date_start", "local_label",
    "next_bucket_start", "normalize_size",
]
