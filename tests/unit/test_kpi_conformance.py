"""Schedule conformance on hand-computed timelines: ready time within shifts / scheduled time."""

from datetime import datetime, timezone

import pytest

from app.kpi.engine import ShiftRow, StatusRow, conformance

UTC = timezone.utc


def hm(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 5, 12, hour, minute, tzinfo=UTC)


WINDOW = (hm(0), datetime(2026, 5, 13, tzinfo=UTC))


def test_ready_time_within_the_shift_over_scheduled_time():
    # Shift 09:00–17:00 (480 min). Available 08:30–10:00, Away 10:00–10:15, Available 10:15–12:00,
    # Offline 12:00–13:00, Available 13:00–17:30, Offline after.
    # Ready within the shift: 09:00–10:00 (60) + 10:15–12:00 (105) + 13:00–17:00 (240) = 405 min.
    status = [
        StatusRow(1, "available", hm(8, 30)), StatusRow(1, "away", hm(10), reason="Break"),
        StatusRow(1, "available", hm(10, 15)), StatusRow(1, "offline", hm(12)),
        StatusRow(1, "available", hm(13)), StatusRow(1, "offline", hm(17, 30)),
    ]
    result = conformance(status, [ShiftRow(1, hm(9), hm(17))], *WINDOW)
    assert set(result) == {1}
    c = result[1]
    assert c.scheduled_seconds == 480 * 60
    assert c.ready_scheduled_seconds == 405 * 60
    assert c.conformance == pytest.approx(405 / 480)


def test_two_shifts_overlapping_shifts_count_once_and_unscheduled_agents_are_left_out():
    # Agent 2: shifts 08:00–10:00 and 09:00–11:00 (union 08:00–11:00, 180 min) and 14:00–15:00 (60 min).
    # Available 07:00–09:30 and 14:30–16:00 → ready in schedule: 08:00–09:30 (90) + 14:30–15:00 (30) = 120.
    # Agent 3 is Available all day but has no shift: not listed.
    status = [
        StatusRow(2, "available", hm(7)), StatusRow(2, "away", hm(9, 30), reason="Meal"),
        StatusRow(2, "available", hm(14, 30)), StatusRow(2, "offline", hm(16)),
        StatusRow(3, "available", hm(6)),
    ]
    shifts = [ShiftRow(2, hm(8), hm(10)), ShiftRow(2, hm(9), hm(11)), ShiftRow(2, hm(14), hm(15))]
    result = conformance(status, shifts, *WINDOW)
    assert set(result) == {2}
    assert result[2].scheduled_seconds == 240 * 60
    assert result[2].ready_scheduled_seconds == 120 * 60
    assert result[2].conformance == pytest.approx(0.5)


def test_shifts_are_clipped_to_the_window_and_the_state_at_its_start_comes_from_before():
    # Window 12:00–13:00; shift 11:30–12:30 → 30 min scheduled in the window. Available since 11:00
    # (before the window), Away from 12:10: ready in schedule = 12:00–12:10 = 10 min.
    status = [StatusRow(4, "available", hm(11)), StatusRow(4, "away", hm(12, 10), reason="Break")]
    result = conformance(status, [ShiftRow(4, hm(11, 30), hm(12, 30))], hm(12), hm(13))
    assert result[4].scheduled_seconds == 30 * 60
    assert result[4].ready_scheduled_seconds == 10 * 60
    assert result[4].conformance == pytest.approx(1 / 3)


def test_a_scheduled_agent_who_never_signed_in_conforms_zero():
    result = conformance([], [ShiftRow(5, hm(9), hm(10))], *WINDOW)
    assert (result[5].scheduled_seconds, result[5].ready_scheduled_seconds, result[5].conformance) == (3600, 0, 0)
