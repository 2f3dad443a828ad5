"""Today's wallboard figures: where the center's day starts, and the figures from event rows."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from app.kpi.engine import EventRow
from app.kpi.live import day_start, summarize

UTC = timezone.utc


def test_the_day_starts_at_local_midnight_of_the_center():
    # 23:30 UTC on 1 July is already 2 July in Berlin (UTC+2): the day began at 22:00 UTC.
    assert day_start(datetime(2026, 7, 1, 23, 30, tzinfo=UTC), "Europe/Berlin") == datetime(2026, 7, 1, 22, 0, tzinfo=UTC)
    assert day_start(datetime(2026, 7, 1, 21, 59, tzinfo=UTC), "Europe/Berlin") == datetime(2026, 6, 30, 22, 0, tzinfo=UTC)
    assert day_start(datetime(2026, 7, 1, 23, 30, tzinfo=UTC), "UTC") == datetime(2026, 7, 1, 0, 0, tzinfo=UTC)
    # The day clocks go forward (29 March 2026 in Berlin) still starts at local midnight (UTC+1).
    assert day_start(datetime(2026, 3, 29, 12, 0, tzinfo=UTC), "Europe/Berlin") == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)


def _chat(cid: int, at: datetime, *, answered_after: float | None = None, abandoned_after: float | None = None):
    rows = [EventRow(cid, "requested", at), EventRow(cid, "queued", at)]
    if answered_after is not None:
        rows.append(EventRow(cid, "assigned", at + timedelta(seconds=answered_after), agent_id=1,
                             data={"queue_seconds": answered_after}))
    if abandoned_after is not None:
        rows.append(EventRow(cid, "abandoned", at + timedelta(seconds=abandoned_after),
                             data={"queue_seconds": abandoned_after}))
    return rows


def test_figures_of_a_day_follow_the_engine():
    start = datetime(2026, 7, 1, 22, 0, tzinfo=UTC)
    at = start + timedelta(hours=9)
    events = (
        _chat(1, at, answered_after=5)          # answered within T
        + _chat(2, at, answered_after=35)       # answered late
        + _chat(3, at, abandoned_after=12)      # abandoned within T
        + _chat(4, at, abandoned_after=2)       # short abandon: neither offered nor abandoned
        + _chat(5, at)                          # still waiting: offered, not yet answered
    )
    today = summarize(events, start=start, time_zone="Europe/Berlin", threshold_seconds=20, short_abandon_seconds=5)
    assert today["day_start"] == "2026-07-01T22:00:00+00:00"
    assert (today["offered"], today["answered"], today["abandoned"], today["waiting"], today["short_abandons"]) \
        == (4, 2, 1, 1, 1)
    assert today["answered_within_threshold"] == 1 and today["abandoned_within_threshold"] == 1
    assert today["service_level"] == pytest.approx(0.25)  # abandons negative: 1 / 4
    assert today["abandonment_rate"] == pytest.approx(0.25)
    assert today["asa_seconds"] == pytest.approx(20.0)
    assert today["avg_abandon_seconds"] == pytest.approx(12.0)


def test_an_empty_day_has_no_ratios():
    start = datetime(2026, 7, 1, 22, 0, tzinfo=UTC)
    today = summarize([], start=start, time_zone="UTC", threshold_seconds=20, short_abandon_seconds=5)
    assert today["offered"] == 0
    assert today["service_level"] is None and today["asa_seconds"] is None and today["abandonment_rate"] is None
