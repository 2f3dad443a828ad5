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


def test_overlapping_spans_are_refused_when_hours_are_set():
    with pytest.raises(HoursError, match="overlap"):
        parse("mon-fri 09:00-12:00, 11:30-14:00", strict=True)
    with pytest.raises(HoursError, match="hours on wed overlap"):
        parse("mon-fri 09:00-17:00; wed 16:00-18:00", strict=True)
    parse("mon-fri 09:00-12:00, 12:00-17:00", strict=True)  # touching is not overlapping
    parse("mon-fri 09:00-12:00, 11:30-14:00")  # stored hours are read as they are


def test_a_department_schedule_in_its_own_time_zone_with_holidays():
    from app.routing.hours import parse_holidays, schedule

    holidays = parse_holidays("2026-12-25 closed\n\n2026-12-24 09:00-13:00")
    assert holidays == [{"date": "2026-12-24", "hours": "09:00-13:00"}, {"date": "2026-12-25", "hours": None}]
    shanghai = schedule("mon-fri 09:00-18:00", "Asia/Shanghai", holidays)
    # Wednesday 2026-12-02 09:30 in Shanghai is 01:30 UTC; 18:00 there is 10:00 UTC.
    assert shanghai.open_at(at(2026, 12, 2, 1, 30)) and not shanghai.open_at(at(2026, 12, 2, 10, 0))
    assert not shanghai.open_at(at(2026, 12, 2, 0, 59))  # 08:59 local
    # Friday 2026-12-25 is a holiday: closed all day; Thursday the 24th closes at 13:00 local.
    assert not shanghai.open_at(at(2026, 12, 25, 3, 0))
    assert shanghai.open_at(at(2026, 12, 24, 4, 59)) and not shanghai.open_at(at(2026, 12, 24, 5, 0))
    # A holiday with hours opens a day that is otherwise closed (a Saturday).
    saturday = schedule("mon-fri 09:00-18:00", "UTC", parse_holidays("2026-12-26 10:00-12:00"))
    assert saturday.open_at(at(2026, 12, 26, 11, 0)) and not saturday.open_at(at(2026, 12, 26, 12, 0))
    # No weekly hours: open except on the holidays.
    always = schedule(None, "UTC", parse_holidays("2026-12-25"))
    assert always.open_at(at(2026, 12, 24, 3, 0)) and not always.open_at(at(2026, 12, 25, 3, 0))


@pytest.mark.parametrize("text, message", [
    ("25.12.2026 closed", "not a date"), ("2026-02-30 closed", "not a date"),
    ("2026-12-25 closed\n2026-12-25 09:00-10:00", "listed twice"), ("2026-12-24 13:00-09:00", "ends before"),
    ("2026-12-24 09:00-12:00, 11:00-13:00", "overlap"), ("2026-12-24 morning", "not a time span"),
])
def test_unreadable_holidays_say_which_line_and_why(text, message):
    from app.routing.hours import parse_holidays

    with pytest.raises(HoursError, match=message):
        parse_holidays(text)


def test_time_zones_are_iana_names():
    from app.routing.hours import holidays_text, parse_holidays, time_zone

    assert time_zone(" Asia/Shanghai ") == "Asia/Shanghai" and time_zone("UTC") == "UTC"
    for bad in ("Mars/Olympus", "", "../../etc/passwd", "x" * 100):
        with pytest.raises(HoursError, match="not a time zone"):
            time_zone(bad)
    assert holidays_text(parse_holidays("2026-12-25\n2026-12-24 09:00-13:00")) == \
        "2026-12-24 09:00-13:00\n2026-12-25 closed"
