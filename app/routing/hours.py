"""Business hours: when a queue takes chats, as people write them.

    "mon-fri 09:00-17:00; sat 10:00-14:00"
    "mon,wed,fri 08:30-12:00, 13:00-18:00"
    "sun-sat 00:00-24:00"

Days: mon tue wed thu fri sat sun, single, comma-separated or ranges (a range may wrap, such as
"sat-mon"); times: HH:MM-HH:MM in the queue's time zone (a department's own, else the center's),
end after start, "24:00" for midnight.

Holidays (`Schedule`): dates on which the queue is closed all day, or keeps special hours instead of
its weekly ones — one per line as people write them:

    2026-12-25 closed
    2026-12-24 09:00-13:00
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


class HoursError(ValueError):
    """Business hours that cannot be read; the message says what is wrong."""


@dataclass(frozen=True)
class BusinessHours:
    spans: tuple[tuple[int, int, int], ...]  # (weekday 0 = Monday, start minute, end minute)

    def open_at(self, at: datetime, time_zone: str) -> bool:
        local = at.astimezone(ZoneInfo(time_zone))
        minute = local.hour * 60 + local.minute
        return any(day == local.weekday() and start <= minute < end for day, start, end in self.spans)


def _days(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        part = part.strip().lower()
        if "-" in part:
            first, _, last = part.partition("-")
            if first not in DAYS or last not in DAYS:
                raise HoursError(f"{part!r} is not a range of days such as mon-fri.")
            i = DAYS.index(first)
            while True:
                out.append(i)
                if i == DAYS.index(last):
                    break
                i = (i + 1) % 7
        elif part in DAYS:
            out.append(DAYS.index(part))
        else:
            raise HoursError(f"{part!r} is not a day (mon, tue, wed, thu, fri, sat, sun).")
    return out


def _minutes(hours: str, minutes: str) -> int:
    h, m = int(hours), int(minutes)
    if m > 59 or h > 24 or (h == 24 and m):
        raise HoursError(f"{hours}:{minutes} is not a time of day.")
    return h * 60 + m


def _overlaps(spans: list[tuple[int, int, int]], what: str = "") -> None:
    for day in range(7):
        times = sorted((start, end) for d, start, end in spans if d == day)
        for (s1, e1), (s2, e2) in zip(times, times[1:]):
            if s2 < e1:
                on = what or DAYS[day]
                raise HoursError(f"The hours on {on} overlap ({_hhmm(s1)}-{_hhmm(e1)} and {_hhmm(s2)}-{_hhmm(e2)}).")


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def parse(text: str, *, strict: bool = False) -> BusinessHours:
    """Read business hours; `strict` (when they are set) also refuses spans that overlap."""
    spans: list[tuple[int, int, int]] = []
    if not text or not text.strip():
        raise HoursError("Give the business hours, such as mon-fri 09:00-17:00.")
    for rule in text.split(";"):
        rule = rule.strip()
        if not rule:
            continue
        days_text, _, times_text = rule.partition(" ")
        if not times_text.strip():
            raise HoursError(f"{rule!r} needs days and times, such as mon-fri 09:00-17:00.")
        days = _days(days_text)
        for span in times_text.split(","):
            match = _SPAN.match(span.strip())
            if not match:
                raise HoursError(f"{span.strip()!r} is not a time span such as 09:00-17:00.")
            start, end = _minutes(*match.group(1, 2)), _minutes(*match.group(3, 4))
            if end <= start:
                raise HoursError(f"{span.strip()!r} ends before it starts.")
            spans.extend((day, start, end) for day in days)
    if strict:
        _overlaps(spans)
    return BusinessHours(tuple(spans))


def time_zone(name: str) -> str:
    """An IANA time zone name as given, or HoursError."""
    name = (name or "").strip()
    if not name or len(name) > 64 or name not in _zones():
        raise HoursError(f"{name!r} is not a time zone; use a name such as Europe/Berlin or Asia/Shanghai.")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise HoursError(f"{name!r} is not a time zone; use a name such as Europe/Berlin or Asia/Shanghai.") from None
    return name


_ZONES: frozenset[str] | None = None


def _zones() -> frozenset[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones()) | {"UTC"}
    return _ZONES


def zone_names() -> list[str]:
    """Every IANA time zone name, sorted (for a picker)."""
    return sorted(_zones())


def _spans_of_day(text: str) -> tuple[tuple[int, int], ...]:
    spans = []
    for span in text.split(","):
        match = _SPAN.match(span.strip())
        if not match:
            raise HoursError(f"{span.strip()!r} is not a time span such as 09:00-13:00.")
        start, end = _minutes(*match.group(1, 2)), _minutes(*match.group(3, 4))
        if end <= start:
            raise HoursError(f"{span.strip()!r} ends before it starts.")
        spans.append((start, end))
    return tuple(sorted(spans))


def parse_holidays(text: str) -> list[dict]:
    """Holiday lines ("2026-12-25 closed", "2026-12-24 09:00-13:00") as stored:
    [{"date": "2026-12-25", "hours": None}, {"date": "2026-12-24", "hours": "09:00-13:00"}]."""
    out: list[dict] = []
    seen: set[str] = set()
    for number, line in enumerate((text or "").splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        day_text, _, rest = line.partition(" ")
        try:
            day = date.fromisoformat(day_text)
        except ValueError:
            raise HoursError(f"Line {number}: {day_text!r} is not a date such as 2026-12-25.") from None
        if day.isoformat() in seen:
            raise HoursError(f"Line {number}: {day.isoformat()} is listed twice.")
        seen.add(day.isoformat())
        rest = rest.strip()
        if not rest or rest.lower() == "closed":
            out.append({"date": day.isoformat(), "hours": None})
            continue
        spans = _spans_of_day(rest)
        _overlaps([(0, s, e) for s, e in spans], what=day.isoformat())
        out.append({"date": day.isoformat(), "hours": ", ".join(f"{_hhmm(s)}-{_hhmm(e)}" for s, e in spans)})
    if len(out) > 366:
        raise HoursError("At most 366 holiday dates.")
    return sorted(out, key=lambda h: h["date"])


def holidays_text(holidays: list[dict] | None) -> str:
    """Stored holidays back as the lines people write."""
    return "\n".join(f"{h['date']} {h['hours'] or 'closed'}" for h in holidays or []
                     if isinstance(h, dict) and "date" in h)


@dataclass(frozen=True)
class Schedule:
    """A queue's hours: weekly `hours` (None: always open) read in `time_zone`, except on the
    `holidays` dates (closed, or their own hours)."""

    hours: BusinessHours | None
    time_zone: str
    holidays: dict[str, tuple[tuple[int, int], ...] | None] = field(default_factory=dict)

    def open_at(self, at: datetime) -> bool:
        local = at.astimezone(ZoneInfo(self.time_zone))
        special = self.holidays.get(local.date().isoformat(), ())
        if special != ():
            minute = local.hour * 60 + local.minute
            return special is not None and any(start <= minute < end for start, end in special)
        return self.hours is None or self.hours.open_at(at, self.time_zone)


def next_open(schedule: Schedule, at: datetime, *, days: int = 400) -> datetime | None:
    """The first moment at or after `at` when `schedule` is open (`at` itself when open now), to the
    minute; None when it does not open within `days` days. Read in the schedule's time zone, day by
    day (a holiday's own hours replace that day's weekly ones)."""
    zone = ZoneInfo(schedule.time_zone)
    if schedule.open_at(at):
        return at
    local = at.astimezone(zone)
    day = local.date()
    for offset in range(days + 1):
        current = day + timedelta(days=offset)
        special = schedule.holidays.get(current.isoformat(), ())
        if special != ():
            starts = [start for start, _ in special or ()]
        elif schedule.hours is None:
            starts = [0]
        else:
            starts = [start for weekday, start, _ in schedule.hours.spans if weekday == current.weekday()]
        for start in sorted(starts):
            moment = datetime.combine(current, time(start // 60, start % 60), tzinfo=zone) if start < 1440 else None
            if moment is None or moment < local.replace(second=0, microsecond=0):
                continue
            # A wall time a DST change skips is read as the next real one; check it is open then.
            moment = moment.astimezone(at.tzinfo or zone)
            if moment >= at and schedule.open_at(moment):
                return moment
    return None


def schedule(business_hours: str | None, time_zone: str, holidays: list[dict] | None = None) -> Schedule:
    """The schedule of stored values; anything unreadable never closes a queue (it is checked when set)."""
    try:
        weekly = parse(business_hours) if business_hours else None
    except HoursError:
        weekly = None
    days: dict[str, tuple[tuple[int, int], ...] | None] = {}
    for h in holidays or []:
        if not isinstance(h, dict) or not isinstance(h.get("date"), str):
            continue
        try:
            days[h["date"]] = _spans_of_day(h["hours"]) if h.get("hours") else None
        except HoursError:
            continue
    return Schedule(weekly, time_zone, days)


__all__ = ["BusinessHours", "DAYS", "HoursError", "Schedule", "holidays_text", "next_open", "parse", "parse_holidays",
           "schedule", "time_zone", "zone_names"]
