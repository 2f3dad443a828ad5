from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.kpi.intervals import (
    SIZES,
    bucket_start,
    interval_starts,
    local_date_start,
    local_label,
    next_bucket_start,
    normalize_size,
)

BERLIN = ZoneInfo("Europe/Berlin")
UTC = timezone.utc


def local(*args, tz=BERLIN, fold=0) -> datetime:
    return datetime(*args, tzinfo=tz, fold=fold)


def day_window(day: date, tz=BERLIN) -> tuple[datetime, datetime]:
    return local_date_start(day, tz), local_date_start(day + timedelta(days=1), tz)


def labels(starts, tz=BERLIN) -> list[str]:
    return [local_label(s, tz).strftime("%H:%M%z") for s in starts]


# --- DST days -----------------------------------------------------------------------------


def test_ordinary_day_has_48_half_hours_and_24_hours():
    start, end = day_window(date(2026, 6, 1))
    assert end - start == timedelta(hours=24)
    assert len(interval_starts(start, end, "30min", BERLIN)) == 48
    assert len(interval_starts(start, end, "hour", BERLIN)) == 24


def test_spring_forward_day_has_23_hours_and_46_half_hours():
    start, end = day_window(date(2026, 3, 29))
    assert start == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    assert end - start == timedelta(hours=23)
    assert next_bucket_start(start, "day", BERLIN) - start == timedelta(hours=23)
    halves = interval_starts(start, end, "30min", BERLIN)
    assert len(halves) == 46
    # 02:00 and 02:30 do not exist that day: 01:30 is followed by 03:00.
    assert labels(halves[2:5]) == ["01:00+0100", "01:30+0100", "03:00+0200"]
    assert len(interval_starts(start, end, "hour", BERLIN)) == 23


def test_fall_back_day_has_25_hours_and_50_half_hours():
    start, end = day_window(date(2026, 10, 25))
    assert end - start == timedelta(hours=25)
    assert next_bucket_start(start, "day", BERLIN) - start == timedelta(hours=25)
    halves = interval_starts(start, end, "30min", BERLIN)
    assert len(halves) == 50
    assert len(set(halves)) == 50 and halves == sorted(halves)
    # The repeated hour is two pairs of buckets, summer time first.
    assert labels(halves[4:8]) == ["02:00+0200", "02:30+0200", "02:00+0100", "02:30+0100"]
    assert all(b - a == timedelta(minutes=30) for a, b in zip(halves, halves[1:]))
    assert len(interval_starts(start, end, "hour", BERLIN)) == 25


def test_instants_in_the_repeated_hour_go_to_their_own_bucket():
    first = datetime(2026, 10, 25, 0, 15, tzinfo=UTC)  # 02:15 CEST
    second = datetime(2026, 10, 25, 1, 15, tzinfo=UTC)  # 02:15 CET
    assert local_label(first, BERLIN).hour == local_label(second, BERLIN).hour == 2
    assert bucket_start(first, "30min", BERLIN) == datetime(2026, 10, 25, 0, 0, tzinfo=UTC)
    assert bucket_start(second, "30min", BERLIN) == datetime(2026, 10, 25, 1, 0, tzinfo=UTC)
    assert bucket_start(second, "hour", BERLIN) == datetime(2026, 10, 25, 1, 0, tzinfo=UTC)
    assert bucket_start(first, "day", BERLIN) == bucket_start(second, "day", BERLIN) == datetime(
        2026, 10, 24, 22, 0, tzinfo=UTC
    )


def test_week_with_a_dst_change_is_167_hours():
    monday = local_date_start(date(2026, 3, 23), BERLIN)
    assert next_bucket_start(monday, "week", BERLIN) - monday == timedelta(hours=167)


def test_month_with_a_dst_change():
    march = local_date_start(date(2026, 3, 1), BERLIN)
    assert next_bucket_start(march, "month", BERLIN) - march == timedelta(days=31) - timedelta(hours=1)
    # 2026-03-31 22:30 UTC is 00:30 on 1 April in Berlin: April's bucket.
    assert bucket_start(datetime(2026, 3, 31, 22, 30, tzinfo=UTC), "month", BERLIN) == datetime(
        2026, 3, 31, 22, 0, tzinfo=UTC
    )


# --- edges --------------------------------------------------------------------------------


def test_an_instant_on_a_boundary_belongs_to_the_bucket_it_starts():
    at = local(2026, 5, 12, 10, 30).astimezone(UTC)
    assert bucket_start(at, "30min", BERLIN) == at
    assert bucket_start(at - timedelta(microseconds=1), "30min", BERLIN) == local(2026, 5, 12, 10, 0)
    assert bucket_start(at, "hour", BERLIN) == local(2026, 5, 12, 10, 0)
    assert bucket_start(local(2026, 5, 12, 10, 59, 59, 999999), "hour", BERLIN) == local(2026, 5, 12, 10, 0)
    midnight = local(2026, 5, 12, 0, 0)
    assert bucket_start(midnight, "day", BERLIN) == midnight
    assert bucket_start(midnight - timedelta(microseconds=1), "day", BERLIN) == local(2026, 5, 11, 0, 0)


def test_results_are_utc_instants():
    start = bucket_start(local(2026, 5, 12, 10, 40), "30min", "Europe/Berlin")
    assert start.tzinfo is UTC
    assert start == datetime(2026, 5, 12, 8, 30, tzinfo=UTC)


def test_day_is_the_local_date_not_the_utc_date():
    # 23:30 UTC on 15 January is 00:30 on 16 January in Berlin.
    at = datetime(2026, 1, 15, 23, 30, tzinfo=UTC)
    assert bucket_start(at, "day", BERLIN) == datetime(2026, 1, 15, 23, 0, tzinfo=UTC)
    assert bucket_start(at, "day", "UTC") == datetime(2026, 1, 15, 0, 0, tzinfo=UTC)


def test_iso_weeks_start_on_monday():
    sunday_night = local(2026, 1, 11, 23, 59)  # Sunday
    assert bucket_start(sunday_night, "week", BERLIN) == local(2026, 1, 5, 0, 0)
    assert bucket_start(local(2026, 1, 12, 0, 0), "week", BERLIN) == local(2026, 1, 12, 0, 0)
    # A week that spans New Year starts in the old year.
    assert bucket_start(local(2026, 1, 1, 12, 0), "week", BERLIN) == local(2025, 12, 29, 0, 0)


def test_months_roll_over_the_year():
    starts = interval_starts(local(2025, 11, 15), local(2026, 2, 1), "month", BERLIN)
    assert [local_label(s, BERLIN).date() for s in starts] == [date(2025, 11, 1), date(2025, 12, 1), date(2026, 1, 1)]


def test_window_lists_empty_buckets_and_a_partial_first_one():
    starts = interval_starts(local(2026, 5, 12, 10, 10), local(2026, 5, 12, 12, 0), "30min", BERLIN)
    assert labels(starts) == ["10:00+0200", "10:30+0200", "11:00+0200", "11:30+0200"]
    # The end is exclusive.
    assert len(interval_starts(local(2026, 5, 12, 10, 0), local(2026, 5, 12, 11, 0), "30min", BERLIN)) == 2
    assert len(interval_starts(local(2026, 5, 12, 10, 0), local(2026, 5, 12, 11, 0, 0, 1), "30min", BERLIN)) == 3
    assert interval_starts(local(2026, 5, 12, 10, 0), local(2026, 5, 12, 10, 0), "hour", BERLIN) == []


def test_half_hour_offset_zone():
    kolkata = ZoneInfo("Asia/Kolkata")  # UTC+05:30
    at = datetime(2026, 5, 12, 4, 50, tzinfo=UTC)  # 10:20 local
    assert bucket_start(at, "hour", kolkata) == datetime(2026, 5, 12, 4, 30, tzinfo=UTC)
    assert bucket_start(at, "30min", kolkata) == datetime(2026, 5, 12, 4, 30, tzinfo=UTC)
    start, end = day_window(date(2026, 5, 12), kolkata)
    assert len(interval_starts(start, end, "30min", kolkata)) == 48


def test_midnight_in_a_dst_gap_starts_the_day_at_the_transition():
    sao_paulo = ZoneInfo("America/Sao_Paulo")  # 2018-11-04: 00:00 -03 became 01:00 -02
    start, end = day_window(date(2018, 11, 4), sao_paulo)
    assert start == datetime(2018, 11, 4, 3, 0, tzinfo=UTC)
    assert local_label(start, sao_paulo).strftime("%H:%M%z") == "01:00-0200"
    assert end - start == timedelta(hours=23)
    assert len(interval_starts(start, end, "30min", sao_paulo)) == 46


def test_thirty_minute_dst_shift():
    lord_howe = ZoneInfo("Australia/Lord_Howe")  # +11 ↔ +10:30
    start, end = day_window(date(2026, 4, 5), lord_howe)  # 02:00 → 01:30
    assert end - start == timedelta(hours=24, minutes=30)
    assert len(interval_starts(start, end, "30min", lord_howe)) == 49
    start, end = day_window(date(2026, 10, 4), lord_howe)  # 02:00 → 02:30
    assert end - start == timedelta(hours=23, minutes=30)
    assert len(interval_starts(start, end, "30min", lord_howe)) == 47
    # The 02:00 hour exists only from 02:30 on that day.
    assert bucket_start(datetime(2026, 10, 3, 15, 40, tzinfo=UTC), "hour", lord_howe) == datetime(
        2026, 10, 3, 15, 30, tzinfo=UTC
    )


def test_sizes_time_zones_and_naive_input():
    assert normalize_size("30m") == normalize_size("half_hour") == "30min"
    assert normalize_size("Hourly") == "hour"
    with pytest.raises(ValueError):
        normalize_size("fortnight")
    naive = datetime(2026, 5, 12, 8, 40)
    assert bucket_start(naive, "30min", "Europe/Berlin") == datetime(2026, 5, 12, 8, 30, tzinfo=UTC)


# --- properties ---------------------------------------------------------------------------

ZONES = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "America/Sao_Paulo", "UTC"]
instants = st.datetimes(min_value=datetime(2017, 1, 1), max_value=datetime(2027, 12, 31)).map(
    lambda d: d.replace(tzinfo=UTC)
)


@settings(max_examples=300, deadline=None)
@given(at=instants, size=st.sampled_from(SIZES), zone=st.sampled_from(ZONES))
def test_every_instant_lies_in_its_bucket(at, size, zone):
    start = bucket_start(at, size, zone)
    end = next_bucket_start(start, size, zone)
    assert start <= at < end
    assert bucket_start(start, size, zone) == start
    assert bucket_start(end, size, zone) == end


@settings(max_examples=100, deadline=None)
@given(
    at=instants, hours=st.integers(min_value=1, max_value=60), size=st.sampled_from(["30min", "hour", "day"]),
    zone=st.sampled_from(ZONES),
)
def test_window_buckets_are_consecutive(at, hours, size, zone):
    starts = interval_starts(at, at + timedelta(hours=hours), size, zone)
    assert starts[0] == bucket_start(at, size, zone)
    assert bucket_start(at + timedelta(hours=hours) - timedelta(microseconds=1), size, zone) == starts[-1]
    for a, b in zip(starts, starts[1:]):
        assert next_bucket_start(a, size, zone) == b
