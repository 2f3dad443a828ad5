"""Tenure bucketing for the CSR scorecard (app/quality/tenure.py): week indexes from the start date,
the start date falling back to the account's creation, veterans and their median, weeks with no data."""

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from app.quality import tenure


def test_week_zero_is_the_first_seven_days():
    start = date(2026, 3, 2)
    assert tenure.tenure_week(start, start) == 0
    assert tenure.tenure_week(start + timedelta(days=6), start) == 0
    assert tenure.tenure_week(start + timedelta(days=7), start) == 1
    assert tenure.tenure_week(start + timedelta(days=20), start) == 2
    assert tenure.tenure_week(start - timedelta(days=1), start) == -1


def test_the_start_is_the_start_date_else_the_accounts_creation_day_in_the_center_zone():
    assert tenure.start_of(date(2026, 1, 5), datetime(2025, 1, 1, tzinfo=timezone.utc)) == date(2026, 1, 5)
    made = datetime(2026, 2, 1, 23, 30, tzinfo=timezone.utc)
    assert tenure.start_of(None, made) == date(2026, 2, 1)
    assert tenure.start_of(None, made, ZoneInfo("Asia/Shanghai")) == date(2026, 2, 2)
    assert tenure.start_of(None, None) is None


def test_tenure_windows_run_from_week_zero_to_the_week_of_today():
    start = date(2026, 3, 2)
    windows = tenure.tenure_windows(start, date(2026, 3, 20))
    assert [(w.index, w.first, w.last) for w in windows] == [
        (0, date(2026, 3, 2), date(2026, 3, 8)), (1, date(2026, 3, 9), date(2026, 3, 15)),
        (2, date(2026, 3, 16), date(2026, 3, 22))]
    assert tenure.tenure_windows(start, date(2026, 3, 1)) == []
    assert [w.index for w in tenure.tenure_windows(start, date(2026, 3, 20), max_weeks=2)] == [1, 2]


def test_calendar_windows_are_mondays():
    windows = tenure.calendar_windows(date(2026, 12, 5), 3)  # a Saturday
    assert [w.first for w in windows] == [date(2026, 11, 16), date(2026, 11, 23), date(2026, 11, 30)]
    assert all(w.first.weekday() == 0 for w in windows)


def test_veterans_have_more_than_the_configured_months():
    today = date(2026, 12, 5)
    assert tenure.months_before(today, 6) == date(2026, 6, 5)
    assert tenure.months_before(date(2026, 8, 31), 6) == date(2026, 2, 28)
    starts = {1: date(2025, 12, 5), 2: date(2026, 6, 4), 3: date(2026, 6, 5), 4: date(2026, 11, 1), 5: None}
    assert tenure.veterans(starts, today) == [1, 2]
    assert tenure.veterans(starts, today, months=12) == []  # 2025-12-05 is exactly 12 months: not above
    assert tenure.veterans(starts, today, months=2) == [1, 2, 3]
    assert tenure.veterans(starts, today, months=1) == [1, 2, 3, 4]
    assert tenure.veterans(starts, today, exclude=[1]) == [2]


def test_the_reference_is_the_veterans_median_and_empty_weeks_stay():
    windows = tenure.tenure_windows(date(2026, 3, 2), date(2026, 3, 25))  # weeks 0..3
    own = {0: 50.0, 1: 60.0, 3: 80.0}
    others = {0: {10: 90.0, 11: 70.0, 12: None}, 1: {10: 90.0, 11: 80.0, 12: 100.0}, 2: {}}
    points = tenure.curve(windows, own, others)
    assert [(p.index, p.value, p.reference, p.reference_count) for p in points] == [
        (0, 50.0, 80.0, 2), (1, 60.0, 90.0, 3), (2, None, None, 0), (3, 80.0, None, 0)]
    assert points[0].gap == -30.0 and points[2].gap is None


def test_median():
    assert tenure.median([]) is None
    assert tenure.median([None, None]) is None
    assert tenure.median([3.0, None, 1.0]) == 2.0
    assert tenure.median([5.0, 1.0, 3.0]) == 3.0
