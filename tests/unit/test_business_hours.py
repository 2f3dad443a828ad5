from datetime import datetime, timezone

import pytest

from app.routing.hours import HoursError, parse

BERLIN = "Europe/Berlin"


def at(y, mo, d, h, mi):  # a UTC instant
    return datetime(y, mo, d, h, mi, tzinfo=timezone.utc)


def test_weekday_office_hours_in_the_center_time_zone():
    hours = parse("mon-fri 09:00-17:00; sat 10:00-14:00")
    # Monday 2026-11-23: 09:00 Berlin is 08:00 UTC.
    assert not hours.open_at(at(2026, 11, 23, 7, 59), BERLIN)
    assert hours.open_at(at(2026, 11, 23, 8, 0), BERLIN)
    assert hours.open_at(at(2026, 11, 23, 15, 59), BERLIN)
    assert not hours.open_at(at(2026, 11, 23, 16, 0), BERLIN)  # 17:00 local: closed (end excluded)
    assert hours.open_at(at(2026, 11, 28, 9, 30), BERLIN)  # Saturday 10:30
    assert not hours.open_at(at(2026, 11, 29, 10, 0), BERLIN)  # Sunday


def test_lists_wrapping_ranges_split_days_and_midnight():
    hours = parse("sat-mon 00:00-24:00; wed 08:30-12:00, 13:00-18:00")
    assert hours.open_at(at(2026, 11, 29, 23, 59), "UTC")  # Sunday
    assert hours.open_at(at(2026, 11, 25, 8, 30), "UTC") and not hours.open_at(at(2026, 11, 25, 12, 30), "UTC")
    assert not hours.open_at(at(2026, 11, 24, 10, 0), "UTC")  # Tuesday


@pytest.mark.parametrize("text, message", [
    ("", "Give the business hours"), ("mon-fri", "needs days and times"), ("moon 09:00-17:00", "not a day"),
    ("mon-xyz 09:00-17:00", "not a range of days"), ("mon 9-17", "not a time span"),
    ("mon 17:00-09:00", "ends before it starts"), ("mon 09:00-24:30", "not a time of day"),
    ("mon 09:60-10:00", "not a time of day"),
])
def test_unreadable_hours_say_why(text, message):
    with pytest.raises(HoursError, match=message):
        parse(text)
