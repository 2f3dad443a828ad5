from datetime import datetime, timedelta, timezone
from itertools import count
from zoneinfo import ZoneInfo

import pytest

from app.kpi.engine import (
    EventRow,
    StatusRow,
    agent_kpis,
    agent_time_in_state,
    by_agent,
    by_department,
    by_site,
    combine_agent_kpis,
    compute_kpis,
    compute_series,
    facts_from_events,
)
from app.kpi.intervals import local_label

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2026, 5, 12, 8, 0, tzinfo=UTC)
_ids = count(1)


def at(minutes: float = 0, seconds: float = 0) -> datetime:
    return T0 + timedelta(minutes=minutes, seconds=seconds)


def hm(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 5, 12, hour, minute, tzinfo=UTC)


def answered_chat(
    requested: datetime, queue: float, *, agent: int = 1, response_after: float | None = None,
    handle: float | None = None, visitor: int | None = None, department: int | None = None, site: int = 1,
    cid: int | None = None,
) -> list[EventRow]:
    """The events the services write for a chat that an agent accepted (and maybe closed)."""
    cid = cid or next(_ids)
    base = dict(conversation_id=cid, site_id=site, department_id=department, visitor_id=visitor)
    accepted = requested + timedelta(seconds=queue)
    rows = [
        EventRow(kind="requested", at=requested, **base),
        EventRow(kind="queued", at=requested, **base),
        EventRow(kind="assigned", at=accepted, agent_id=agent, data={"queue_seconds": queue}, **base),
    ]
    if response_after is not None:
        responded = accepted + timedelta(seconds=response_after)
        rows.append(EventRow(kind="first_response", at=responded, agent_id=agent, **base))
    if handle is not None:
        closed = accepted + timedelta(seconds=handle)
        rows.append(EventRow(kind="closed", at=closed, agent_id=agent, data={"by": "agent"}, **base))
    return rows


def abandoned_chat(requested: datetime, queue: float, *, visitor: int | None = None, department: int | None = None,
                   site: int = 1) -> list[EventRow]:
    cid = next(_ids)
    base = dict(conversation_id=cid, site_id=site, department_id=department, visitor_id=visitor)
    left = requested + timedelta(seconds=queue)
    return [
        EventRow(kind="requested", at=requested, **base),
        EventRow(kind="queued", at=requested, **base),
        EventRow(kind="abandoned", at=left, data={"queue_seconds": queue, "by": "visitor"}, **base),
        EventRow(kind="closed", at=left, data={"by": "visitor"}, **base),
    ]


def waiting_chat(requested: datetime, *, visitor: int | None = None) -> list[EventRow]:
    cid = next(_ids)
    return [EventRow(cid, "requested", requested, site_id=1, visitor_id=visitor),
            EventRow(cid, "queued", requested, site_id=1, visitor_id=visitor)]


def facts_of(*chats: list[EventRow]):
    return facts_from_events([row for chat in chats for row in chat])


# --- facts ----------------------------------------------------------------------------------


def test_facts_of_an_answered_chat():
    (f,) = facts_of(answered_chat(at(0), 12, agent=7, response_after=18, handle=288, visitor=3, department=2))
    assert f.requested_at == at(0)
    assert f.answered_at == at(0, 12) and f.agent_id == 7 and f.last_agent_id == 7
    assert f.first_response_at == at(0, 30)
    assert f.closed_at == at(0, 300)
    assert f.queue_seconds == 12
    assert f.handle_seconds == 288
    assert f.answered and not f.abandoned and not f.waiting
    assert (f.department_id, f.site_id, f.visitor_id) == (2, 1, 3)
    assert [(h.agent_id, h.start, h.end) for h in f.holds] == [(7, at(0, 12), at(0, 300))]


def test_facts_of_abandoned_and_waiting_chats():
    gone, waiting = facts_of(abandoned_chat(at(0), 40), waiting_chat(at(1)))
    assert gone.abandoned and gone.queue_seconds == 40 and gone.handle_seconds is None and gone.holds == ()
    assert waiting.waiting and waiting.queue_seconds is None


def test_queue_time_falls_back_to_the_timestamps():
    rows = [EventRow(1, "requested", at(0)), EventRow(1, "assigned", at(0, 9), agent_id=4)]
    (f,) = facts_from_events(rows)
    assert f.queue_seconds == 9


def test_wrap_up_is_added_to_handle_time():
    chat = answered_chat(at(0), 10, handle=200, cid=900)
    chat.append(EventRow(900, "wrap_up", at(0, 240), agent_id=1, data={"wrap_up_seconds": 30}))
    (f,) = facts_of(chat)
    assert f.wrap_up_seconds == 30
    assert f.handle_seconds == 230


def test_events_are_read_in_time_order_whatever_the_input_order():
    chat = answered_chat(at(0), 5, response_after=10, handle=100)
    (f,) = facts_from_events(list(reversed(chat)))
    assert f.answered_at == at(0, 5) and f.closed_at == at(0, 105)


def test_transfer_moves_the_chat_between_agents():
    chat = answered_chat(at(0), 10, agent=1, handle=600, cid=901)
    chat.insert(3, EventRow(901, "transferred", at(5, 10), agent_id=1, data={"to_agent_id": 2}))
    (f,) = facts_of(chat)
    assert f.transferred and f.transfers == 1
    assert f.agent_id == 1 and f.last_agent_id == 2
    assert [(h.agent_id, h.start, h.end) for h in f.holds] == [(1, at(0, 10), at(5, 10)), (2, at(5, 10), at(10, 10))]


# --- conversation KPIs ----------------------------------------------------------------------


def cisco_vector():
    """70 answered within T, 10 abandoned within T, 20 over T (12 answered, 8 abandoned)."""
    chats = [answered_chat(at(i), 10) for i in range(70)]
    chats += [abandoned_chat(at(i), 15) for i in range(10)]
    chats += [answered_chat(at(i), 45) for i in range(12)]
    chats += [abandoned_chat(at(i), 60) for i in range(8)]
    return facts_of(*chats)


def test_cisco_ucce_service_level_vector():
    facts = cisco_vector()
    results = {v: compute_kpis(facts, threshold_seconds=20, sl_variant=v) for v in ("ignored", "negative", "positive")}
    for summary in results.values():
        assert summary.offered == 100
        assert summary.answered_within_threshold == 70
        assert summary.abandoned_within_threshold == 10
    assert results["ignored"].service_level == pytest.approx(70 / 90)
    assert round(results["ignored"].service_level * 100, 1) == 77.8
    assert results["negative"].service_level == pytest.approx(0.70)
    assert results["positive"].service_level == pytest.approx(0.80)
    assert compute_kpis(facts).service_level == pytest.approx(0.70)  # abandons negative by default


def test_volume_rates_and_queue_times_of_the_vector():
    s = compute_kpis(cisco_vector())
    assert (s.answered, s.abandoned, s.waiting, s.short_abandons) == (82, 18, 0, 0)
    assert s.abandonment_rate == pytest.approx(0.18)
    assert s.answered_rate == pytest.approx(0.82)
    assert s.asa_seconds == pytest.approx((70 * 10 + 12 * 45) / 82)
    assert s.avg_abandon_seconds == pytest.approx((10 * 15 + 8 * 60) / 18)
    assert s.avg_queue_seconds == pytest.approx((70 * 10 + 12 * 45 + 10 * 15 + 8 * 60) / 100)


def test_threshold_is_inclusive():
    facts = facts_of(answered_chat(at(0), 20), answered_chat(at(1), 20.001))
    assert compute_kpis(facts, threshold_seconds=20).answered_within_threshold == 1


def test_short_abandons_are_excluded_from_offered_and_abandoned():
    facts = facts_of(
        abandoned_chat(at(0), 3), abandoned_chat(at(1), 4.999),  # short
        abandoned_chat(at(2), 5),  # exactly S: an abandon
        abandoned_chat(at(3), 30),
        answered_chat(at(4), 8), answered_chat(at(5), 25),
    )
    s = compute_kpis(facts, short_abandon_seconds=5)
    assert s.short_abandons == 2
    assert s.offered == 4
    assert s.abandoned == 2
    assert s.abandonment_rate == pytest.approx(0.5)
    assert s.avg_abandon_seconds == pytest.approx(17.5)
    # Within 20 s: one answered (8 s), one abandoned (the 5 s one); the short ones are not counted.
    assert (s.answered_within_threshold, s.abandoned_within_threshold) == (1, 1)
    assert s.service_level == pytest.approx(1 / 4)
    assert compute_kpis(facts, sl_variant="positive").service_level == pytest.approx(2 / 4)
    assert compute_kpis(facts, sl_variant="ignored").service_level == pytest.approx(1 / 3)
    assert compute_kpis(facts, short_abandon_seconds=0).offered == 6


def test_waiting_chats_count_as_offered_only():
    s = compute_kpis(facts_of(answered_chat(at(0), 10), waiting_chat(at(1))))
    assert (s.offered, s.answered, s.abandoned, s.waiting) == (2, 1, 0, 1)
    assert s.avg_queue_seconds == 10


def test_zero_denominators_give_none():
    empty = compute_kpis([])
    assert empty.offered == empty.answered == empty.abandoned == 0
    for name in ("abandonment_rate", "avg_abandon_seconds", "service_level", "asa_seconds", "avg_queue_seconds",
                 "first_response_seconds", "first_response_from_request_seconds", "aht_seconds", "transfer_rate",
                 "fcr", "answered_rate", "csat"):
        assert getattr(empty, name) is None, name
    only_short = compute_kpis(facts_of(abandoned_chat(at(0), 2)))
    assert only_short.offered == 0 and only_short.short_abandons == 1
    assert only_short.service_level is None and only_short.abandonment_rate is None
    # All offered chats abandoned within T: the "ignored" variant has nothing left to divide by.
    assert compute_kpis(facts_of(abandoned_chat(at(0), 10)), sl_variant="ignored").service_level is None
    # Answered but not closed, unrated, no first response.
    open_chat = compute_kpis(facts_of(answered_chat(at(0), 10)))
    assert open_chat.aht_seconds is None and open_chat.csat is None and open_chat.first_response_seconds is None
    assert open_chat.transfer_rate == 0.0


def test_unknown_service_level_variant_is_refused():
    with pytest.raises(ValueError):
        compute_kpis([], sl_variant="optimistic")


def test_first_response_and_handle_times():
    facts = facts_of(
        answered_chat(at(0), 10, response_after=20, handle=300),
        answered_chat(at(1), 30, response_after=40, handle=500),
        answered_chat(at(2), 5),  # no message yet, still open
    )
    s = compute_kpis(facts)
    assert s.first_response_seconds == pytest.approx(30)
    assert s.first_response_from_request_seconds == pytest.approx(50)
    assert s.aht_seconds == pytest.approx(400)


def test_transfer_rate():
    chats = [answered_chat(at(i), 10, handle=100, cid=1000 + i) for i in range(4)]
    chats[0].insert(3, EventRow(1000, "transferred", at(0, 50), agent_id=1, data={"to_agent_id": 2}))
    chats[0].insert(4, EventRow(1000, "transferred", at(0, 60), agent_id=2, data={"to_agent_id": 3}))
    s = compute_kpis(facts_of(*chats, abandoned_chat(at(9), 30)))
    assert s.transferred == 1
    assert s.transfer_rate == pytest.approx(0.25)


def test_csat_counts_good_over_all_ratings_and_the_last_rating_wins():
    chats = [answered_chat(at(i), 10, handle=100, cid=2000 + i) for i in range(5)]
    for chat, rating in zip(chats, ["good", "good", "bad", "neutral"]):
        chat.append(EventRow(chat[0].conversation_id, "rated", at(30), data={"rating": rating}))
    chats[2].append(EventRow(2002, "rated", at(31), data={"rating": "good"}))  # changed their mind
    chats[4].append(EventRow(2004, "rated", at(30), data={"rating": "excellent"}))  # not a rating
    s = compute_kpis(facts_of(*chats))
    assert (s.ratings, s.good_ratings) == (4, 3)
    assert s.csat == pytest.approx(0.75)


def test_first_contact_resolution_window():
    facts = facts_of(
        # Visitor 1 comes back 23 h after the first chat closed: a repeat contact.
        answered_chat(hm(9), 10, handle=600, visitor=1),
        answered_chat(hm(9, 10) + timedelta(hours=23), 10, handle=60, visitor=1),
        # Visitor 2 comes back 25 h after closing: resolved at W = 24 h, not at W = 26 h.
        answered_chat(hm(10), 10, handle=590, visitor=2),
        abandoned_chat(hm(10, 10) + timedelta(hours=25), 30, visitor=2),
        # Visitor 3 never comes back; an anonymous chat is not counted.
        answered_chat(hm(11), 10, handle=60, visitor=3),
        answered_chat(hm(12), 10, handle=60, visitor=None),
    )
    s = compute_kpis(facts, fcr_window_hours=24)
    assert (s.fcr_eligible, s.fcr_resolved) == (4, 3)  # all but visitor 1's first chat
    assert s.fcr == pytest.approx(0.75)
    wide = compute_kpis(facts, fcr_window_hours=26)
    assert (wide.fcr_eligible, wide.fcr_resolved) == (4, 2)


def test_fcr_of_a_slice_sees_repeats_outside_it():
    facts = facts_of(answered_chat(hm(9), 10, handle=60, visitor=1), answered_chat(hm(15), 10, handle=60, visitor=1))
    assert compute_kpis(facts[:1]).fcr == 1.0
    assert compute_kpis(facts[:1], fcr_population=facts).fcr == 0.0


# --- series and slices ----------------------------------------------------------------------


def test_a_chat_across_midnight_counts_on_the_day_it_was_requested():
    # Requested 23:50 in Berlin (21:50 UTC, summer time), closed 00:20 the next day.
    facts = facts_of(answered_chat(datetime(2026, 7, 14, 21, 50, tzinfo=UTC), 15, handle=1785))
    assert facts[0].closed_at.astimezone(BERLIN).day == 15
    window = (datetime(2026, 7, 14, tzinfo=BERLIN), datetime(2026, 7, 16, tzinfo=BERLIN))
    series = compute_series(facts, *window, "day", "Europe/Berlin")
    assert [local_label(start, BERLIN).day for start, _ in series] == [14, 15]
    assert [s.answered for _, s in series] == [1, 0]
    assert series[0][1].aht_seconds == 1785
    # By hour it is in the 23:00 Berlin bucket, where it was requested.
    hourly = compute_series(facts, *window, "hour", BERLIN)
    assert local_label(next(start for start, s in hourly if s.offered), BERLIN).hour == 23


def test_a_request_on_a_boundary_goes_to_the_bucket_it_starts():
    on_edge = datetime(2026, 5, 12, 10, 30, tzinfo=BERLIN)
    facts = facts_of(answered_chat(on_edge, 5), answered_chat(on_edge - timedelta(seconds=1), 5))
    series = compute_series(facts, datetime(2026, 5, 12, 10, tzinfo=BERLIN), datetime(2026, 5, 12, 11, tzinfo=BERLIN),
                            "30min", BERLIN)
    offered = [(local_label(start, BERLIN).strftime("%H:%M"), s.offered) for start, s in series]
    assert offered == [("10:00", 1), ("10:30", 1)]


def test_series_on_dst_days_lists_every_interval_and_skips_chats_outside_the_window():
    spring = (datetime(2026, 3, 29, tzinfo=BERLIN), datetime(2026, 3, 30, tzinfo=BERLIN))
    autumn = (datetime(2026, 10, 25, tzinfo=BERLIN), datetime(2026, 10, 26, tzinfo=BERLIN))
    inside = answered_chat(datetime(2026, 10, 25, 1, 15, tzinfo=UTC), 5)  # 02:15 CET, the second 02:15
    outside = answered_chat(datetime(2026, 10, 24, 21, 59, tzinfo=UTC), 5)  # 23:59 the day before
    facts = facts_of(inside, outside)
    assert len(compute_series([], *spring, "30min", BERLIN)) == 46
    series = compute_series(facts, *autumn, "30min", BERLIN)
    assert len(series) == 50
    assert sum(s.offered for _, s in series) == 1
    (busy,) = [start for start, s in series if s.offered]
    assert busy == datetime(2026, 10, 25, 1, 0, tzinfo=UTC)
    assert local_label(busy, BERLIN).strftime("%H:%M%z") == "02:00+0100"


def test_series_passes_kpi_options_and_finds_fcr_repeats_after_the_bucket():
    facts = facts_of(
        answered_chat(hm(9), 10, handle=60, visitor=1), answered_chat(hm(15), 30, handle=60, visitor=1),
    )
    series = compute_series(facts, hm(9), hm(10), "hour", "UTC", threshold_seconds=5)
    assert len(series) == 1
    assert series[0][1].fcr == 0.0  # the 15:00 chat is outside the window but still a repeat
    assert series[0][1].service_level == 0.0


def test_slices():
    facts = facts_of(
        answered_chat(at(0), 5, agent=1, department=10, site=1),
        answered_chat(at(1), 5, agent=2, department=10, site=2),
        answered_chat(at(2), 5, agent=1, department=20, site=1),
        abandoned_chat(at(3), 30, department=20, site=2),
    )
    assert {k: len(v) for k, v in by_department(facts).items()} == {10: 2, 20: 2}
    assert {k: len(v) for k, v in by_agent(facts).items()} == {1: 2, 2: 1, None: 1}
    assert {k: len(v) for k, v in by_site(facts).items()} == {1: 2, 2: 2}
    per_department = {k: compute_kpis(v).abandonment_rate for k, v in by_department(facts).items()}
    assert per_department == {10: 0.0, 20: 0.5}


# --- agent states ---------------------------------------------------------------------------


def test_time_in_state_on_a_hand_computed_timeline():
    events = [
        StatusRow(1, "available", hm(7, 30)),  # before the window: Available at 09:00
        StatusRow(1, "away", hm(10), reason="lunch", previous_status="available"),
        StatusRow(1, "available", hm(10, 30), previous_status="away"),
        StatusRow(1, "offline", hm(16), previous_status="available"),
        StatusRow(1, "available", hm(17), previous_status="offline"),  # at the window end: not inside
        StatusRow(2, "available", hm(9, 30), previous_status="offline"),  # state before known from the row
        StatusRow(3, "available", hm(12)),  # state before unknown: counted from 12:00 only
        StatusRow(4, "available", hm(18)),  # after the window
    ]
    times = agent_time_in_state(events, hm(9), hm(17))
    assert times[1] == {"available": 3600 + 5.5 * 3600, "away": 1800, "offline": 3600}
    assert sum(times[1].values()) == 8 * 3600
    assert times[2] == {"offline": 1800, "available": 7.5 * 3600}
    assert times[3] == {"available": 5 * 3600}
    assert 4 not in times


def test_state_before_the_window_prefers_the_earlier_row():
    events = [StatusRow(1, "away", hm(8)), StatusRow(1, "available", hm(10), previous_status="offline")]
    assert agent_time_in_state(events, hm(9), hm(11))[1] == {"away": 3600, "available": 3600}


def test_occupancy_concurrency_and_chats_per_hour_on_a_hand_computed_timeline():
    # Window 09:00–12:00. Available all along except Away 11:00–11:30.
    statuses = [
        StatusRow(1, "available", hm(8)),
        StatusRow(1, "away", hm(11), previous_status="available"),
        StatusRow(1, "available", hm(11, 30), previous_status="away"),
    ]
    # Chats held: A 09:10–09:40, B 09:20–10:00, C 10:30–11:15 (into the Away time), D from 11:50, open.
    facts = facts_of(
        answered_chat(hm(9, 9), 60, agent=1, handle=30 * 60),
        answered_chat(hm(9, 19), 60, agent=1, handle=40 * 60),
        answered_chat(hm(10, 29), 60, agent=1, handle=45 * 60),
        answered_chat(hm(11, 49), 60, agent=1),
    )
    (k,) = agent_kpis(statuses, facts, hm(9), hm(12)).values()
    # ≥ 1 chat: 09:10–10:00, 10:30–11:15, 11:50–12:00 = 50 + 45 + 10 = 105 min.
    assert k.chat_seconds == 105 * 60
    # Chat-minutes: 30 + 40 + 45 + 10 = 125.
    assert k.chat_load_seconds == 125 * 60
    # Available and idle: 09:00–09:10, 10:00–10:30, 11:30–11:50 = 60 min (11:00–11:15 is chat time while Away).
    assert k.available_idle_seconds == 60 * 60
    assert k.occupancy == pytest.approx(105 / 165)
    assert k.concurrency == pytest.approx(125 / 105)
    assert k.seconds_in_state == {"available": 150 * 60, "away": 30 * 60}
    assert k.logged_in_seconds == 3 * 3600
    assert k.answered == 4
    assert k.chats_per_hour == pytest.approx(4 / 3)


def test_holds_are_clipped_to_the_window_and_follow_transfers():
    statuses = [StatusRow(1, "available", hm(8)), StatusRow(2, "available", hm(8)), StatusRow(3, "offline", hm(8))]
    early = answered_chat(hm(8, 30), 0, agent=1, handle=60 * 60)  # held 08:30–09:30
    moved = answered_chat(hm(9, 30), 0, agent=1, handle=30 * 60, cid=3000)  # 09:30–10:00, then to agent 2
    moved.insert(3, EventRow(3000, "transferred", hm(9, 45), agent_id=1, data={"to_agent_id": 2}))
    facts = facts_of(early, moved)
    result = agent_kpis(statuses, facts, hm(9), hm(10))
    one, two, three = result[1], result[2], result[3]
    assert one.chat_seconds == 45 * 60 and one.available_idle_seconds == 15 * 60
    assert one.occupancy == pytest.approx(0.75)
    assert one.answered == 1  # the early chat was answered before the window
    assert two.chat_seconds == 15 * 60 and two.available_idle_seconds == 45 * 60
    assert two.answered == 0 and two.chats_per_hour == 0.0
    assert three.occupancy is None and three.concurrency is None and three.chats_per_hour is None
    team = combine_agent_kpis(result.values())
    assert team.agent_id is None
    assert team.chat_seconds == 60 * 60 and team.available_idle_seconds == 60 * 60
    assert team.occupancy == pytest.approx(0.5)
    assert team.logged_in_seconds == 2 * 3600
    assert team.seconds_in_state == {"available": 2 * 3600, "offline": 3600}
