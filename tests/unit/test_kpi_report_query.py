from datetime import date, datetime, timezone

import pytest

from app.reports.kpi_report import Query, ReportError, parse_query

DEFAULTS = dict(time_zone="Europe/Berlin", threshold_seconds=20, short_abandon_seconds=5, today=date(2026, 3, 30))


def test_a_window_is_whole_local_days_in_the_center_time_zone():
    q = parse_query({"from": "2026-03-29", "to": "2026-03-29"}, **DEFAULTS)
    lo, hi = q.window
    # The day clocks go forward in Berlin is 23 hours long.
    assert lo == datetime(2026, 3, 28, 23, 0, tzinfo=timezone.utc)
    assert hi == datetime(2026, 3, 29, 22, 0, tzinfo=timezone.utc)


def test_defaults_and_the_previous_period():
    q = parse_query({}, **DEFAULTS)
    assert (q.start, q.end, q.slice, q.group, q.variant) == (date(2026, 3, 24), date(2026, 3, 30), "day", "none", "negative")
    previous = q.previous()
    assert (previous.start, previous.end) == (date(2026, 3, 17), date(2026, 3, 23))


@pytest.mark.parametrize("params, message", [
    ({"from": "yesterday"}, "'from' must be a date"),
    ({"from": "2026-03-30", "to": "2026-03-01"}, "must not be after"),
    ({"from": "2020-01-01"}, "at most 400 days"),
    ({"slice": "decade"}, "'slice' must be one of"),
    ({"group": "moon"}, "'group' must be one of"),
    ({"variant": "x"}, "'variant' must be one of"),
    ({"agent": "-1"}, "'agent' must be an id"),
])
def test_bad_parameters_say_what_is_wrong(params, message):
    with pytest.raises(ReportError, match=message):
        parse_query(params, **DEFAULTS)


def test_slices_accept_their_usual_names():
    assert parse_query({"slice": "hourly"}, **DEFAULTS).slice == "hour"
    assert parse_query({"slice": "30m"}, **DEFAULTS).slice == "30min"
    assert isinstance(parse_query({}, **DEFAULTS), Query)


def test_a_window_can_go_by_the_hour_in_the_center_time_zone():
    q = parse_query({"from": "2026-03-29T09:00", "to": "2026-03-29T17:00"}, **DEFAULTS)
    lo, hi = q.window
    # Berlin is UTC+2 after the clocks went forward at 02:00 that day.
    assert (lo, hi) == (datetime(2026, 3, 29, 7, 0, tzinfo=timezone.utc), datetime(2026, 3, 29, 15, 0, tzinfo=timezone.utc))
    assert (q.start_hour, q.end_hour, q.whole_days) == (9, 17, False)
    # Seconds at zero and a space for the T are accepted; an hour skipped by DST begins at the change.
    q = parse_query({"from": "2026-03-29 02:00:00", "to": "2026-03-30T00:00"}, **DEFAULTS)
    assert q.window == (datetime(2026, 3, 29, 1, 0, tzinfo=timezone.utc), datetime(2026, 3, 29, 22, 0, tzinfo=timezone.utc))
    assert (q.end, q.end_hour) == (date(2026, 3, 29), 24)  # until midnight: the whole day
    # A date and a date-time mix: from 09:00 on the 28th through the whole 29th.
    q = parse_query({"from": "2026-03-28T09:00", "to": "2026-03-29"}, **DEFAULTS)
    assert q.window == (datetime(2026, 3, 28, 8, 0, tzinfo=timezone.utc), datetime(2026, 3, 29, 22, 0, tzinfo=timezone.utc))
    # The previous period of a window by the hour: the same hours the day before.
    previous = parse_query({"from": "2026-03-30T09:00", "to": "2026-03-30T12:00"}, **DEFAULTS).previous()
    assert previous.window == (datetime(2026, 3, 29, 7, 0, tzinfo=timezone.utc),
                               datetime(2026, 3, 29, 10, 0, tzinfo=timezone.utc))


@pytest.mark.parametrize("params, message", [
    ({"from": "2026-03-29T9"}, "like 2026-11-23T09:00"),
    ({"from": "2026-03-29T09:30"}, "whole hours"),
    ({"to": "2026-03-29T24:00"}, "00 to 23"),
    ({"from": "2026-02-30T09:00"}, "not a day of the calendar"),
    ({"from": "2026-03-29T10:00", "to": "2026-03-29T10:00"}, "must be before"),
    ({"from": "2026-03-29T10:00", "to": "2026-03-29T09:00"}, "must be before"),
    ({"from": "2026-03-29T09:00+02:00"}, "center's time zone, Europe/Berlin"),
])
def test_bad_hours_say_what_is_wrong(params, message):
    with pytest.raises(ReportError, match=message):
        parse_query(params, **DEFAULTS)
