"""Work orders' pure rules (app/workorders/): the workflow's moves and numbers, SLA arithmetic in a
team's business hours (weekends, a DST change, holidays closed or with hours of their own, targets
longer than a week), which SLA policy applies, what an attachment is by its bytes, safe file names,
and the customer's mails in English and Simplified Chinese."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from app.routing.hours import schedule
from app.workorders import files, mails, sla, workflow
from app.workorders.sla import Policy
from app.workorders.workflow import WorkflowError

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = "mon-fri 09:00-17:00"


def berlin(y, mo, d, h, mi=0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=BERLIN)


def utc(y, mo, d, h, mi=0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=timezone.utc)


# -- the workflow ----------------------------------------------------------------------------------

EVERY_ALLOWED = [(a, b) for a, targets in workflow.ALLOWED.items() for b in sorted(targets)]


@pytest.mark.parametrize("current, target", EVERY_ALLOWED)
def test_every_allowed_move_passes(current, target):
    workflow.check_move(current, target)


def test_the_allowed_moves_are_the_documented_workflow():
    assert workflow.ALLOWED == {
        "new": {"assigned", "in_progress", "resolved"},
        "assigned": {"assigned", "in_progress", "waiting", "resolved"},
        "in_progress": {"assigned", "waiting", "resolved"},
        "waiting": {"assigned", "in_progress", "resolved"},
        "resolved": {"closed", "reopened"},
        "closed": {"reopened"},
    }
    assert set(workflow.ALLOWED) == set(workflow.STATUSES)


@pytest.mark.parametrize("current, target, message", [
    ("new", "closed", "A new order cannot be moved to Closed."),
    ("new", "waiting", "A new order cannot be moved to Waiting for customer."),
    ("new", "reopened", "A new order cannot be reopened."),
    ("in_progress", "closed", "An in progress order cannot be moved to Closed."),
    ("waiting", "reopened", "cannot be reopened"),
    ("resolved", "in_progress", "A resolved order cannot be moved to In progress."),
    ("resolved", "waiting", "cannot be moved to Waiting for customer"),
    ("closed", "resolved", "A closed order cannot be moved to Resolved."),
    ("closed", "closed", "A closed order cannot be moved to Closed."),
    ("new", "new", "cannot be moved to New"),
    ("new", "done", "Unknown status: 'done'."),
    ("new", "", "Unknown status"),
    ("nonsense", "assigned", "cannot be moved to Assigned"),
])
def test_refused_moves_say_why(current, target, message):
    with pytest.raises(WorkflowError) as refused:
        workflow.check_move(current, target)
    assert message in str(refused.value)


def test_no_order_leaves_closed_but_by_reopening():
    for target in workflow.STATUSES:
        with pytest.raises(WorkflowError):
            workflow.check_move("closed", target)


def test_a_reopened_order_is_assigned_when_someone_handles_it_else_new():
    assert workflow.reopened_status(True) == "assigned"
    assert workflow.reopened_status(False) == "new"
    assert [s for s in workflow.STATUSES if workflow.is_open(s)] == ["new", "assigned", "in_progress", "waiting"]


def test_numbers_carry_the_year_and_six_digits():
    assert workflow.number(2026, 1) == "WO-2026-000001"
    assert workflow.number(2026, 42) == "WO-2026-000042"
    assert workflow.number(2027, 999_999) == "WO-2027-999999"
    assert workflow.number(2027, 1_000_000) == "WO-2027-1000000"  # grows, never wraps


# -- SLA arithmetic --------------------------------------------------------------------------------

def test_always_open_counts_wall_clock_minutes():
    always = schedule(None, "UTC", [])
    start = utc(2026, 3, 28, 23, 30)
    assert sla.add_business_minutes(always, start, 90) == utc(2026, 3, 29, 1, 0)
    assert sla.add_business_minutes(always, start, 8 * 24 * 60) == start + timedelta(days=8)
    assert sla.add_business_minutes(always, start, 0) == start


def test_office_hours_inside_one_day():
    office = schedule(OFFICE, "Europe/Berlin", [])
    # Wednesday 2026-06-03 10:00 CEST + 3 h = 13:00 CEST = 11:00 UTC.
    assert sla.add_business_minutes(office, berlin(2026, 6, 3, 10), 180) == utc(2026, 6, 3, 11)
    # Exactly up to closing time stays on the day.
    assert sla.add_business_minutes(office, berlin(2026, 6, 3, 16), 60) == utc(2026, 6, 3, 15)
    # Before opening: the clock starts at 09:00.
    assert sla.add_business_minutes(office, berlin(2026, 6, 3, 6, 15), 30) == utc(2026, 6, 3, 7, 30)
    # After closing: the next morning.
    assert sla.add_business_minutes(office, berlin(2026, 6, 3, 20), 30) == utc(2026, 6, 4, 7, 30)


def test_the_result_is_utc():
    office = schedule(OFFICE, "Europe/Berlin", [])
    due = sla.add_business_minutes(office, berlin(2026, 6, 3, 10), 1)
    assert due.utcoffset() == timedelta(0)


def test_office_hours_across_a_weekend_and_the_spring_dst_change():
    office = schedule(OFFICE, "Europe/Berlin", [])
    # Friday 2026-03-27 16:00 CET (UTC+1): 60 minutes that day, then Saturday, Sunday (the clocks go
    # forward on Sunday 2026-03-29), then 60 minutes on Monday from 09:00 CEST (UTC+2).
    start = berlin(2026, 3, 27, 16)
    assert start.utcoffset() == timedelta(hours=1)
    due = sla.add_business_minutes(office, start, 120)
    assert due == utc(2026, 3, 30, 8, 0)  # Monday 10:00 CEST
    assert due.astimezone(BERLIN).hour == 10


def test_office_hours_across_the_autumn_dst_change():
    office = schedule(OFFICE, "Europe/Berlin", [])
    # Friday 2026-10-23 15:00 CEST; clocks go back on Sunday 2026-10-25; Monday is CET (UTC+1).
    due = sla.add_business_minutes(office, berlin(2026, 10, 23, 15), 180)
    assert due == utc(2026, 10, 26, 9, 0)  # Monday 10:00 CET


def test_open_around_the_clock_counts_real_hours_across_dst_changes():
    # Every day 00:00-24:00 in Berlin: on 2026-03-29 the day has 23 real hours, on 2026-10-25 25.
    always = schedule("mon-sun 00:00-24:00", "Europe/Berlin", [])
    spring = berlin(2026, 3, 28, 12)  # Saturday 12:00 CET = 11:00 UTC
    assert sla.add_business_minutes(always, spring, 24 * 60) == utc(2026, 3, 29, 11, 0)
    assert sla.add_business_minutes(always, spring, 48 * 60) == utc(2026, 3, 30, 11, 0)  # 48 real hours
    autumn = berlin(2026, 10, 24, 12)  # Saturday 12:00 CEST = 10:00 UTC
    assert sla.add_business_minutes(always, autumn, 24 * 60) == utc(2026, 10, 25, 10, 0)
    assert sla.add_business_minutes(always, autumn, 30 * 60) == utc(2026, 10, 25, 16, 0)


def test_a_span_holding_the_dst_change_is_as_long_as_the_time_that_passes():
    # Sunday 2026-03-29 01:00-05:00 Berlin is three real hours (02:00 CET jumps to 03:00 CEST).
    night = schedule("sun 01:00-05:00", "Europe/Berlin", [])
    start = berlin(2026, 3, 29, 1)  # 00:00 UTC
    assert sla.add_business_minutes(night, start, 180) == utc(2026, 3, 29, 3, 0)  # 05:00 CEST
    # A fourth hour is the next Sunday's first.
    assert sla.add_business_minutes(night, start, 240) == utc(2026, 4, 4, 23, 0) + timedelta(hours=1)


def test_a_holiday_closed_all_day_counts_nothing():
    holidays = [{"date": "2026-12-25", "hours": None}]  # a Friday
    office = schedule(OFFICE, "Europe/Berlin", holidays)
    # Thursday 16:30: 30 minutes; Friday closed; the weekend; Monday 2026-12-28 09:30 CET.
    assert sla.add_business_minutes(office, berlin(2026, 12, 24, 16, 30), 60) == utc(2026, 12, 28, 8, 30)
    # Starting on the holiday itself.
    assert sla.add_business_minutes(office, berlin(2026, 12, 25, 11), 60) == utc(2026, 12, 28, 9, 0)


def test_special_hours_on_a_holiday_replace_the_weekly_hours():
    # Christmas Eve (Thursday) only 09:00-13:00; and a Saturday opened 10:00-12:00.
    holidays = [{"date": "2026-12-24", "hours": "09:00-13:00"}, {"date": "2026-12-26", "hours": "10:00-12:00"}]
    office = schedule(OFFICE, "Europe/Berlin", holidays)
    # Thursday 12:00: 60 minutes on the short day, then Friday 09:00 onwards.
    assert sla.add_business_minutes(office, berlin(2026, 12, 24, 12), 90) == utc(2026, 12, 25, 8, 30)
    # Friday 16:00: 60 minutes, then the Saturday's two special hours.
    assert sla.add_business_minutes(office, berlin(2026, 12, 25, 16), 180) == utc(2026, 12, 26, 11, 0)
    # One more minute spills over Sunday to Monday 09:01.
    assert sla.add_business_minutes(office, berlin(2026, 12, 25, 16), 181) == utc(2026, 12, 28, 8, 1)


def test_a_target_longer_than_a_week():
    office = schedule(OFFICE, "Europe/Berlin", [])
    # A week is 5 × 480 = 2400 open minutes; 3000 = a week and 600 more: Monday (480) and 120 on
    # Tuesday. Monday 2026-06-01 09:00 CEST → Tuesday 2026-06-09 11:00 CEST.
    assert sla.add_business_minutes(office, berlin(2026, 6, 1, 9), 3000) == utc(2026, 6, 9, 9, 0)
    # Three weeks exactly end at the third Friday's closing time.
    assert sla.add_business_minutes(office, berlin(2026, 6, 1, 9), 3 * 2400) == utc(2026, 6, 19, 15, 0)


def test_several_spans_a_day_in_another_zone():
    split = schedule("mon-fri 08:30-12:00, 13:00-18:00", "Asia/Shanghai", [])
    shanghai = ZoneInfo("Asia/Shanghai")
    # Monday 11:30: 30 minutes before lunch, then 60 from 13:00 → 14:00 Shanghai = 06:00 UTC.
    start = datetime(2026, 6, 1, 11, 30, tzinfo=shanghai)
    assert sla.add_business_minutes(split, start, 90) == utc(2026, 6, 1, 6, 0)


def test_a_schedule_without_open_time_falls_back_to_the_wall_clock():
    # Every day a holiday for ten years is unrealistic; a weekly schedule that is never open after
    # its holidays is not: a Sunday-only schedule whose Sundays are all closed for a while still
    # finds the first open Sunday.
    sundays = [{"date": (datetime(2026, 6, 7) + timedelta(weeks=w)).date().isoformat(), "hours": None}
               for w in range(4)]
    only_sundays = schedule("sun 10:00-11:00", "UTC", sundays)
    assert sla.add_business_minutes(only_sundays, utc(2026, 6, 1, 0), 30) == utc(2026, 7, 5, 10, 30)


def test_warn_at_is_eighty_percent_of_the_target():
    start, due = utc(2026, 6, 1, 9), utc(2026, 6, 1, 19)
    assert sla.warn_at(start, due) == utc(2026, 6, 1, 17)


# -- which policy applies --------------------------------------------------------------------------

DEFAULT = Policy(None, None, 600, 6000)
URGENT = Policy(None, "urgent", 60, 600)
PARENT = Policy(1, None, 300, 3000)
PARENT_URGENT = Policy(1, "urgent", 30, 300)
CHILD = Policy(2, None, 200, 2000)
CHILD_URGENT = Policy(2, "urgent", 20, 200)
EVERY = [DEFAULT, URGENT, PARENT, PARENT_URGENT, CHILD, CHILD_URGENT]


def test_the_most_specific_policy_wins():
    # Category 2 is a child of category 1.
    assert sla.pick(EVERY, 2, 1, "urgent") == CHILD_URGENT
    assert sla.pick(EVERY, 2, 1, "normal") == CHILD
    assert sla.pick([DEFAULT, URGENT, PARENT, PARENT_URGENT, CHILD], 2, 1, "urgent") == CHILD  # category > parent+prio
    assert sla.pick([DEFAULT, URGENT, PARENT, PARENT_URGENT], 2, 1, "urgent") == PARENT_URGENT
    assert sla.pick([DEFAULT, URGENT, PARENT], 2, 1, "urgent") == PARENT  # parent category > priority
    assert sla.pick([DEFAULT, URGENT], 2, 1, "urgent") == URGENT  # priority > default
    assert sla.pick([DEFAULT, URGENT], 2, 1, "low") == DEFAULT
    assert sla.pick([DEFAULT], None, None, "high") == DEFAULT


def test_policies_of_other_categories_and_priorities_never_apply():
    other = [Policy(9, None, 1, 1), Policy(None, "low", 1, 1), Policy(2, "low", 1, 1)]
    assert sla.pick(other, 2, 1, "urgent") is None
    assert sla.pick(other + [DEFAULT], 2, 1, "urgent") == DEFAULT
    # A top-level category has no parent: a child's policy never applies to it.
    assert sla.pick([CHILD, DEFAULT], 1, None, "normal") == DEFAULT
    # No category at all: only category-less policies.
    assert sla.pick(EVERY, None, None, "urgent") == URGENT
    assert sla.pick([], 2, 1, "normal") is None


def test_the_order_of_the_list_does_not_matter():
    assert sla.pick(list(reversed(EVERY)), 2, 1, "urgent") == CHILD_URGENT
    assert sla.pick(list(reversed(EVERY)), 2, 1, "high") == CHILD


# -- attachments -----------------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 20
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 20
GIF = b"GIF89a\x01\x00\x01\x00" + b"\x00" * 20
GIF87 = b"GIF87a\x01\x00\x01\x00" + b"\x00" * 20
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 20
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + b"\x00" * 20


@pytest.mark.parametrize("data, kind", [
    (PNG, "image/png"), (JPEG, "image/jpeg"), (GIF, "image/gif"), (GIF87, "image/gif"), (WEBP, "image/webp"),
    (PDF, "application/pdf"),
])
def test_images_and_pdfs_are_known_by_their_first_bytes(data, kind):
    assert files.sniff(data) == kind
    assert files.sniff(data[:16]) == kind  # what the service reads


@pytest.mark.parametrize("data", [
    b"<!DOCTYPE html><html><script>alert(1)</script>",
    b"<html><body>hi</body></html>",
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
    b"",
    b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 20,  # a zip (also docx, xlsx)
    b"RIFF\x24\x00\x00\x00WAVEfmt ",  # RIFF, but a sound
    b"\x89PNG",  # a PNG's first bytes cut short
    b"  %PDF-1.7",  # not at the start
    b"MZ\x90\x00",  # a Windows program
])
def test_everything_else_is_refused(data):
    assert files.sniff(data) is None


def test_the_name_never_decides():
    # An SVG named like a PNG is still an SVG: refused. A PNG named .html is a PNG.
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    assert files.sniff(svg) is None and files.safe_name("cat.png") == "cat.png"
    assert files.sniff(PNG) == "image/png" and files.safe_name("page.html") == "page.html"


@pytest.mark.parametrize("name, safe", [
    ("invoice.pdf", "invoice.pdf"),
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\ana\\Desktop\\photo.jpg", "photo.jpg"),
    ('bad"name;.png', "badname.png"),
    ("<script>.png", "script.png"),
    ("line\r\nSet-Cookie: x=1.png", "lineSet-Cookie: x=1.png"),
    ("tab\tnul\x00del\x7f.png", "tabnuldel.png"),
    ("  spaced.png  ", "spaced.png"),
    ("...", "attachment"),
    ("", "attachment"),
    ("dir/", "attachment"),
    ("发票 2026.pdf", "发票 2026.pdf"),
])
def test_safe_names(name, safe):
    assert files.safe_name(name) == safe


def test_safe_names_are_at_most_200_characters():
    assert files.safe_name("a" * 500 + ".png") == "a" * 200
    assert len(files.safe_name("x" * 199 + "é.png")) == 200


def test_at_most_ten_megabytes():
    assert files.MAX_BYTES == 10 * 1024 * 1024


# -- the customer's mails --------------------------------------------------------------------------

LINK = "https://help.example.com/requests/7.0123456789abcdef0123456789abcdef"


def test_created_mail_in_english():
    subject, body = mails.compose("created", "en", number="WO-2026-000007", subject="Broken tent pole", name="Ana",
                                  link=LINK)
    assert subject == "[WO-2026-000007] We received your request: Broken tent pole"
    assert body.startswith("Hello Ana,\n")
    assert "WO-2026-000007" in body and "Broken tent pole" in body and LINK in body


def test_created_mail_in_chinese():
    subject, body = mails.compose("created", "zh-CN", number="WO-2026-000007", subject="帐篷杆断了", name="李娜",
                                  link=LINK)
    assert subject == "[WO-2026-000007] 我们已收到您的请求：帐篷杆断了"
    assert body.startswith("李娜，您好：")
    assert "工单号 WO-2026-000007" in body and LINK in body


@pytest.mark.parametrize("language, greeting, signature", [("en", "Hello there,", "— Sam"),
                                                              ("zh-CN", "客户，您好：", "— Sam")])
def test_reply_mail_without_a_name(language, greeting, signature):
    subject, body = mails.compose("reply", language, number="WO-2026-000008", subject="Refund", name=None,
                                  link=LINK, body="Your refund is on its way.", who="Sam")
    assert "[WO-2026-000008]" in subject and "Refund" in subject
    assert body.startswith(greeting)
    assert "Your refund is on its way." in body and signature in body and LINK in body


@pytest.mark.parametrize("language, you, headline", [("en", "You", "Resolved: Refund"),
                                                     ("zh-CN", "您", "已解决：Refund")])
def test_resolved_mail_carries_the_thread(language, you, headline):
    thread = [mails.Post(mails.customer_label(language), "2026-06-01 09:00 UTC", "Where is my refund?"),
              mails.Post("Sam", "2026-06-01 10:00 UTC", "Sent today.")]
    subject, body = mails.compose("resolved", language, number="WO-2026-000009", subject="Refund", name="Ana",
                                  link=LINK, thread=thread)
    assert subject == f"[WO-2026-000009] {headline}"
    assert f"--- {you}, 2026-06-01 09:00 UTC\nWhere is my refund?" in body
    assert "--- Sam, 2026-06-01 10:00 UTC\nSent today." in body
    assert body.index("Where is my refund?") < body.index("Sent today.")
    assert LINK in body


def test_text_people_wrote_is_never_a_template():
    # Braces in a subject, a name or a body are plain text, not placeholders.
    subject, body = mails.compose("reply", "en", number="WO-2026-000010", subject="{link} {0}", name="{name}",
                                  link=LINK, body="Use {number} and {}", who="{who}")
    assert subject == "[WO-2026-000010] Re: {link} {0}"
    assert "Hello {name}," in body and "Use {number} and {}" in body and "— {who}" in body


def test_an_unknown_language_is_english_and_browsers_pick_chinese():
    assert mails.compose("created", "fr", number="N", subject="S", name="A", link=LINK) == \
        mails.compose("created", "en", number="N", subject="S", name="A", link=LINK)
    assert mails.language_of("zh-Hans-CN,zh;q=0.9") == "zh-CN"
    assert mails.language_of("zh") == "zh-CN"
    assert mails.language_of("de-DE") == "en"
    assert mails.language_of(None) == "en"
    assert mails.customer_label("zh-CN") == "您" and mails.customer_label("xx") == "You"
