"""Business hours: when a queue takes chats, as people write them.

    "mon-fri 09:00-17:00; sat 10:00-14:00"
    "mon,wed,fri 08:30-12:00, 13:00-18:00"
    "sun-sat 00:00-24:00"

Days: mon tue wed thu fri sat sun, single, comma-separated or ranges (a range may wrap, such as
"sat-mon"); times: HH:MM-HH:MM in the center's time zone, end after start, "24:00" for midnight.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

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


def parse(text: str) -> BusinessHours:
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
    return BusinessHours(tuple(spans))


__all__ = ["BusinessHours", "DAYS", "HoursError", "parse"]
