"""The visitor's own controls (docs/protocol.md `close`, `transcript`) and chats requested outside
business hours (docs/kpis.md, "After hours").

- A visitor who leaves the queue (`close` while waiting) has abandoned it, with the time waited,
  and the reports count the abandon.
- `transcript` mails the visitor's own ended chat to the address they gave, through the outgoing
  mail (an aiosmtpd server of the test's own receives it), in their language and time zone; it
  refuses bad input, another visitor's chat, a chat not ended, a visitor without an address, and
  too many requests.
- A chat requested while its queue is outside business hours is refused with `outside_hours` and
  the next opening, and never reaches an Available CSR; the note left instead is a missed chat
  "outside business hours". A queue that accepts chats after hours holds the chat (offered to
  nobody) and queues it at the opening; the reports count it as after-hours.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from tests.support.mailsink import mail_sink, until
from tests.support import clients
from tests.support.clients import new_id
from tests.support.db import fetch
from tests.support.server import cli, deploy
from tests.support.web import signed_in

ADMIN = "controls-admin@example.com"


@pytest.fixture(scope="module")
def sink():
    yield from mail_sink()


@pytest.fixture(scope="module")
def site(sink):
    """A deployment of this module's own that sends mail to the sink; abandons count from the first
    moment (no short-abandon time), so a test need not wait to leave the queue."""
    deployment = deploy(database_url=None, redis_url=None, extra_env={
        "SMTP_URL": f"smtp://127.0.0.1:{sink.port}?starttls=0", "MAIL_FROM": "Shop <support@shop.example>",
        "SHORT_ABANDON_SECONDS": "0.001", "VISITOR_ABANDON_GRACE_SECONDS": "5"})
    deployment.create_user(ADMIN, "admin", "Ada Admin")
    yield deployment
    deployment.stop()


def code(ack) -> str | None:
    return None if ack.get("ok") else ack["error"]["code"]


def department(d, name: str, *members: str, hours: str | None = None, after_hours: bool = False) -> int:
    args = ["create-department", "--site", d.site_key, "--name", name, "--json"]
    for m in members:
        args += ["--member", m]
    if hours:
        args += ["--hours", hours, "--time-zone", "UTC"]
    if after_hours:
        args.append("--accept-after-hours")
    return json.loads(cli(d.env, *args))["id"]


async def summary(d, department_id: int) -> dict:
    async with signed_in(d.server.url, ADMIN, d.password) as http:
        response = await http.get("/api/reports/summary", params={"department": department_id})
        assert response.status_code == 200, response.text
        return response.json()["headline"]


async def report(d, name: str, **params) -> dict:
    async with signed_in(d.server.url, ADMIN, d.password) as http:
        response = await http.get(f"/api/reports/{name}", params=params)
        assert response.status_code == 200, response.text
        return response.json() if params.get("format") != "csv" else {"csv": response.text}


# --- leaving the queue ------------------------------------------------------------------------------


async def test_a_visitor_who_leaves_the_queue_has_abandoned_it_and_the_report_counts_it(site):
    desk = department(site, f"Quiet {new_id()[:6]}")  # nobody serves it: the chat waits
    visitor = await clients.visitor(site.server.url, site.site_key, site.origin)
    try:
        ack = await visitor.call("message", {"client_id": new_id(), "body": "Anyone there?", "department_id": desk})
        cid = ack["conversation_id"]
        assert (await visitor.call("close", {"conversation_id": cid}))["ok"]
        closed = await visitor.rec.wait_for("conversation", lambda c: c["id"] == cid and c["status"] == "closed")
        assert closed["agent"] is None
        assert code(await visitor.call("close", {"conversation_id": cid})) == "invalid_state"
    finally:
        await visitor.disconnect()
    rows = await fetch(site, "SELECT kind, data FROM conversation_event WHERE conversation_id = ? ORDER BY id", cid)
    abandoned = [json.loads(r["data"]) for r in rows if r["kind"] == "abandoned"]
    assert len(abandoned) == 1 and abandoned[0]["by"] == "visitor" and abandoned[0]["queue_seconds"] >= 0
    headline = await summary(site, desk)
    assert (headline["offered"], headline["abandoned"], headline["answered"]) == (1, 1, 0)


# --- the transcript by mail -------------------------------------------------------------------------


async def _answered_chat(site, tag: str, *, email: str | None, accept_language: str = "en"):
    """A chat a CSR answered and closed: (visitor client, conversation id, agent client)."""
    csr = f"tia-{tag}@example.com"
    site.create_user(csr, "agent", f"Tia {tag}")
    desk = department(site, f"Desk {tag}", csr)
    agent = await clients.agent(site.server.url, csr, site.password)
    await agent.call("set_status", {"status": "available"})
    visitor = await clients.visitor(site.server.url, site.site_key, site.origin,
                                    headers={"Accept-Language": accept_language})
    first = {"client_id": new_id(), "body": "Where is my parcel?", "department_id": desk}
    if email:
        first["email"] = email
    cid = (await visitor.call("message", first))["conversation_id"]
    await agent.rec.wait_for("conversation.assigned", lambda c: c["id"] == cid)
    assert (await agent.call("message", {"conversation_id": cid, "client_id": new_id(),
                                         "body": "It left the depot\nthis morning."}))["ok"]
    return visitor, cid, agent


async def test_a_visitor_gets_the_transcript_of_an_ended_chat_in_their_language_and_time_zone(site, sink):
    tag = new_id()[:6]
    address = f"pia-{tag}@example.org"
    visitor, cid, agent = await _answered_chat(site, tag, email=address, accept_language="zh-CN,zh;q=0.9")
    try:
        assert code(await visitor.call("transcript", {"conversation_id": cid})) == "not_ended"
        await agent.call("close", {"conversation_id": cid})
        await visitor.rec.wait_for("conversation", lambda c: c["id"] == cid and c["status"] == "closed")
        ack = await visitor.call("transcript", {"conversation_id": cid, "time_zone": "Asia/Shanghai"})
        assert ack == {"ok": True, "to": address}
        mail = (await until(lambda: [m for _, rcpt, m in sink.received if address in rcpt], bool, "the transcript"))[0]
        body = mail.get_content()
        assert "对话记录" in str(mail["Subject"]) and "Asia/Shanghai" in body
        assert "Where is my parcel?" in body and "It left the depot" in body and f"Tia {tag}" in body
        # Times in the visitor's zone: the chat's start, 8 hours ahead of UTC.
        start = (await fetch(site, "SELECT requested_at FROM conversation WHERE id = ?", cid))[0]["requested_at"]
        assert start.astimezone(timezone(timedelta(hours=8))).strftime("%Y-%m-%d %H:%M") in body

        # English, no zone given: UTC, said so.
        ack = await visitor.call("transcript", {"conversation_id": cid, "language": "en"})
        assert ack["ok"], ack
        mails = await until(lambda: [m for _, rcpt, m in sink.received if address in rcpt],
                            lambda found: len(found) == 2, "the English transcript")
        english = mails[1].get_content()
        assert "Times are in UTC." in english and start.strftime("%Y-%m-%d %H:%M") in english
        assert "Your chat with" in str(mails[1]["Subject"])
        rows = await fetch(site, "SELECT purpose, to_address FROM outgoing_mail WHERE to_address = ?", address)
        assert [r["purpose"] for r in rows] == ["transcript", "transcript"]
    finally:
        await clients.sign_off(agent)
        for client in (visitor, agent):
            await client.disconnect()


async def test_the_transcript_refuses_bad_input_other_visitors_no_address_and_too_many(site, sink):
    tag = new_id()[:6]
    visitor, cid, agent = await _answered_chat(site, tag, email=None)
    stranger = await clients.visitor(site.server.url, site.site_key, site.origin)
    try:
        await agent.call("close", {"conversation_id": cid})
        await visitor.rec.wait_for("conversation", lambda c: c["id"] == cid and c["status"] == "closed")
        for payload, expected in (
            ([], "bad_request"), ("x", "bad_request"), ({}, "bad_request"), ({"conversation_id": "1"}, "bad_request"),
            ({"conversation_id": 0}, "bad_request"), ({"conversation_id": 2**40}, "bad_request"),
            ({"conversation_id": True}, "bad_request"), ({"conversation_id": 1.5}, "bad_request"),
            ({"conversation_id": cid, "language": "de"}, "bad_request"),
            ({"conversation_id": cid, "language": 5}, "bad_request"),
            ({"conversation_id": cid, "time_zone": "Mars/Olympus"}, "bad_request"),
            ({"conversation_id": cid, "time_zone": 8}, "bad_request"),
            ({"conversation_id": cid, "time_zone": "A" * 65}, "too_large"),
        ):
            assert code(await stranger.call("transcript", payload)) == expected, payload
        # Another visitor's chat is not theirs to have mailed.
        assert code(await stranger.call("transcript", {"conversation_id": cid})) == "not_found"
        # No address given (no pre-chat e-mail, no identify): nothing to send it to.
        assert code(await visitor.call("transcript", {"conversation_id": cid})) == "no_address"
        assert (await visitor.call("identify", {"email": f"late-{tag}@example.org"}))["ok"]
        assert (await visitor.call("transcript", {"conversation_id": cid}))["ok"]
        assert (await visitor.call("transcript", {"conversation_id": cid}))["ok"]
        # Three in ten minutes per visitor (the refusal above counted too).
        assert code(await visitor.call("transcript", {"conversation_id": cid})) == "rate_limited"
        assert visitor.connected and stranger.connected
    finally:
        await clients.sign_off(agent)
        for client in (visitor, stranger, agent):
            await client.disconnect()
    rows = await fetch(site, "SELECT to_address FROM outgoing_mail WHERE purpose = 'transcript' AND to_address LIKE ?",
                       f"%{tag}%")
    assert [r["to_address"] for r in rows] == [f"late-{tag}@example.org"] * 2


# --- after hours ------------------------------------------------------------------------------------

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def closed_today() -> tuple[str, datetime]:
    """Hours (UTC) that are never open today, and their next opening: tomorrow at midnight."""
    now = datetime.now(timezone.utc)
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return f"{DAYS[tomorrow.weekday()]} 00:00-24:00", tomorrow


def opening_soon(margin: float = 12.0) -> tuple[str, datetime]:
    """Hours (UTC) that open at the start of the next minute (the one after, when that is less than
    `margin` seconds away, so a test has time to ask while closed), and that opening."""
    now = datetime.now(timezone.utc)
    opening = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    if (opening - now).total_seconds() < margin:
        opening += timedelta(minutes=1)
    end = min(opening.hour * 60 + opening.minute + 30, 24 * 60)
    return f"{DAYS[opening.weekday()]} {opening:%H:%M}-{end // 60:02d}:{end % 60:02d}", opening


async def test_a_chat_asked_for_outside_hours_is_refused_with_the_opening_and_offered_to_nobody(site):
    tag = new_id()[:6]
    csr = f"ora-{tag}@example.com"
    site.create_user(csr, "agent", f"Ora {tag}")
    hours, opening = closed_today()
    desk = department(site, f"Night {tag}", csr, hours=hours)
    agent = await clients.agent(site.server.url, csr, site.password)
    await agent.call("set_status", {"status": "available"})  # Available, but the queue is closed
    visitor = await clients.visitor(site.server.url, site.site_key, site.origin)
    try:
        ack = await visitor.call("message", {"client_id": new_id(), "body": "Open?", "department_id": desk})
        assert code(ack) == "outside_hours", ack
        assert datetime.fromisoformat(ack["error"]["opens_at"]) == opening
        session = visitor.rec.of("session")[0]
        rows = await fetch(site, "SELECT id FROM conversation WHERE visitor_id = ?", session["visitor_id"])
        assert rows == []  # nothing stored: no waiting chat, nothing to offer
        assert (await agent.call("list", {}))["conversations"] == [] and not agent.rec.of("conversation.assigned")
        # The note left instead is a missed chat "outside business hours".
        note = await visitor.call("leave_message", {"email": f"nox-{tag}@example.org", "body": "Call me tomorrow",
                                                    "department_id": desk})
        assert note["ok"], note
        events = await fetch(site, "SELECT data FROM contact_event WHERE kind = 'note_left' AND department_id = ?", desk)
        assert [json.loads(e["data"])["reason"] for e in events] == ["outside_hours"]
        missed = await report(site, "missed", department=desk)
        assert [r["cause"] for r in missed["rows"]] == ["Outside business hours — left a note (offline form)"]
        headline = await summary(site, desk)
        assert (headline["offered"], headline["abandoned"], headline["after_hours"]) == (0, 0, 0)
    finally:
        await clients.sign_off(agent)
        for client in (visitor, agent):
            await client.disconnect()


async def test_a_queue_accepting_chats_after_hours_holds_them_until_it_opens(site):
    tag = new_id()[:6]
    csr = f"hal-{tag}@example.com"
    site.create_user(csr, "agent", f"Hal {tag}")
    hours, opening = opening_soon()
    desk = department(site, f"Early {tag}", csr, hours=hours, after_hours=True)
    agent = await clients.agent(site.server.url, csr, site.password)
    await agent.call("set_status", {"status": "available"})
    stays = await clients.visitor(site.server.url, site.site_key, site.origin)
    leaves = await clients.visitor(site.server.url, site.site_key, site.origin)
    try:
        held = await stays.call("message", {"client_id": new_id(), "body": "Early bird", "department_id": desk})
        gone = await leaves.call("message", {"client_id": new_id(), "body": "Me too", "department_id": desk})
        assert held["ok"] and gone["ok"], (held, gone)
        synced = await stays.call("sync", {"conversation_id": held["conversation_id"], "after_seq": 0})
        assert synced["conversation"]["status"] == "held"
        assert datetime.fromisoformat(synced["conversation"]["opens_at"]) == opening
        assert [m["body"] for m in synced["messages"]] == ["Early bird"]
        # Held: offered to nobody, though its CSR is Available (the opening is still ahead).
        assert datetime.now(timezone.utc) < opening
        rows = await fetch(site, "SELECT status FROM conversation WHERE department_id = ? ORDER BY id", desk)
        assert [r["status"] for r in rows] == ["held", "held"]
        assert (await agent.call("list", {}))["conversations"] == []
        # One visitor leaves before the opening: an after-hours abandon.
        assert (await leaves.call("close", {"conversation_id": gone["conversation_id"]}))["ok"]

        # At the opening the other joins the queue and reaches the CSR; its queue time starts then.
        assigned = await agent.rec.wait_for("conversation.assigned", lambda c: c["id"] == held["conversation_id"],
                                            timeout=120)
        assert datetime.now(timezone.utc) >= opening and assigned["id"] == held["conversation_id"]
        waited = await fetch(site, "SELECT data FROM conversation_event WHERE conversation_id = ? AND kind = 'assigned'",
                             held["conversation_id"])
        assert json.loads(waited[0]["data"])["queue_seconds"] < 30
        await stays.rec.wait_for("conversation", lambda c: c["id"] == held["conversation_id"]
                                 and c["status"] == "assigned")
    finally:
        await clients.sign_off(agent)
        for client in (stays, leaves, agent):
            await client.disconnect()
    headline = await summary(site, desk)
    assert (headline["after_hours"], headline["after_hours_abandoned"]) == (2, 1)
    assert (headline["offered"], headline["answered"], headline["abandoned"]) == (1, 1, 0)
    queues = await report(site, "queues", department=desk)
    assert [(r["after_hours"], r["after_hours_abandoned"], r["offered"]) for r in queues["rows"]] == [(2, 1, 1)]
    exported = (await report(site, "queues", department=desk, format="csv"))["csv"]
    assert "After-hours chats,After-hours abandoned" in exported.splitlines()[0]
    missed = await report(site, "missed", department=desk)
    assert [r["cause"] for r in missed["rows"]] == ["Left while held outside business hours"]


async def test_after_hours_refuses_bad_settings_and_the_general_queue_keeps_the_sites_hours(site):
    tag = new_id()[:6]
    # The CLI flag takes no value; the setting is a yes or no.
    with pytest.raises(RuntimeError):
        cli(site.env, "create-department", "--site", site.site_key, "--name", f"Bad {tag}",
            "--accept-after-hours", "yes", "--json")
    with pytest.raises(RuntimeError):  # nor a value of any kind
        cli(site.env, "create-department", "--site", site.site_key, "--name", f"Bad {tag}", "--accept-after-hours=1")
    other = json.loads(cli(site.env, "create-site", "--name", f"Night shop {tag}", "--origin", site.origin, "--json"))
    hours, opening = closed_today()
    async with signed_in(site.server.url, ADMIN, site.password) as http:
        from tests.support.web import post_form
        saved = await post_form(http, f"/admin/departments/general/{other['id']}",
                                {"business_hours": hours, "time_zone": "UTC", "holidays": ""})
        assert saved.status_code == 303, saved.text
    visitor = await clients.visitor(site.server.url, other["key"], site.origin)
    try:
        ack = await visitor.call("message", {"client_id": new_id(), "body": "Anyone?"})
        assert code(ack) == "outside_hours" and datetime.fromisoformat(ack["error"]["opens_at"]) == opening
        for payload in ({"client_id": new_id(), "body": "x", "department_id": "1"},
                        {"client_id": new_id(), "body": "x", "department_id": 0}):
            assert code(await visitor.call("message", payload)) == "bad_request"
    finally:
        await visitor.disconnect()


async def test_the_admin_form_switches_after_hours_acceptance_on_and_off(site):
    from tests.integration.test_admin_departments import form
    from tests.support.web import post_form

    other = json.loads(cli(site.env, "create-site", "--name", f"Form shop {new_id()[:6]}", "--origin", site.origin,
                           "--json"))
    name = f"Late desk {new_id()[:6]}"
    async with signed_in(site.server.url, ADMIN, site.password) as http:
        page = await http.get(f"/admin/departments/new?site={other['id']}")
        assert "Accept chats outside business hours" in page.text and 'name="accept_after_hours"' in page.text
        created = await post_form(http, f"/admin/departments/new?site={other['id']}",
                                  form(name, site_id=str(other["id"]), accept_after_hours="on"),
                                  action="/admin/departments/new")
        assert created.status_code == 303, created.text
        [row] = await fetch(site, "SELECT id, accept_after_hours FROM department WHERE name = ?", name)
        assert bool(row["accept_after_hours"]) is True
        assert 'name="accept_after_hours" aria-describedby="f-accept-after-hours-hint" checked' in \
            (await http.get(f"/admin/departments/{row['id']}")).text
        # Unticked (a browser sends nothing for it): off again.
        edited = await post_form(http, f"/admin/departments/{row['id']}", form(name, site_id=str(other["id"])))
        assert edited.status_code == 303, edited.text
        [row] = await fetch(site, "SELECT accept_after_hours FROM department WHERE name = ?", name)
        assert bool(row["accept_after_hours"]) is False
