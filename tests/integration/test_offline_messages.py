"""When nobody can chat — outside business hours or with no CSR of the queue Available — the
visitor leaves a message; CSRs of that queue see it and mark it done."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from tests.support import clients
from tests.support.clients import new_id
from tests.integration.test_work_orders_api import staff
from tests.support.db import fetch
from tests.support.server import cli


def code(ack) -> str | None:
    return None if ack.get("ok") else ack["error"]["code"]


def department(d, name, *members, hours=None):
    args = ["create-department", "--site", d.site_key, "--name", name, "--json"]
    for m in members:
        args += ["--member", m]
    if hours:
        args += ["--hours", hours]
    return json.loads(cli(d.env, *args))["id"]


def closed_day_hours() -> str:
    """Hours that are never open today (in UTC, the test deployment's center time zone)."""
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    tomorrow = days[(datetime.now(timezone.utc).weekday() + 1) % 7]
    return f"{tomorrow} 00:00-24:00"


async def test_a_queue_is_open_with_an_available_member_within_its_hours(deployment):
    tag = new_id()[:6]
    email = f"ola-{tag}@example.com"
    deployment.create_user(email, "agent", f"Ola {tag}")
    open_desk = department(deployment, f"Desk {tag}", email)
    closed_desk = department(deployment, f"Night {tag}", email, hours=closed_day_hours())
    agent = await clients.agent(deployment.servers[0].url, email, deployment.password)
    visitor = await clients.visitor(deployment.servers[-1].url, deployment.site_key, deployment.origin)
    try:
        state = await visitor.call("availability", {})
        assert state["departments"][str(open_desk)] is False  # nobody Available
        await agent.call("set_status", {"status": "available"})
        state = await visitor.call("availability", {})
        assert state["departments"][str(open_desk)] is True and state["general"] is True
        assert state["departments"][str(closed_desk)] is False  # outside its hours
        assert code(await visitor.call("availability", [])) == "bad_request"
    finally:
        await clients.sign_off(agent)
        await agent.disconnect()
        await visitor.disconnect()


async def test_a_left_message_reaches_the_queues_csrs_who_mark_it_done(deployment):
    tag = new_id()[:6]
    member, outsider = f"mae-{tag}@example.com", f"out-{tag}@example.com"
    deployment.create_user(member, "agent", f"Mae {tag}")
    deployment.create_user(outsider, "agent", f"Out {tag}")
    desk = department(deployment, f"Billing {tag}", member)
    mae = await clients.agent(deployment.servers[0].url, member, deployment.password)
    out = await clients.agent(deployment.servers[-1].url, outsider, deployment.password)
    visitor = await clients.visitor(deployment.servers[-1].url, deployment.site_key, deployment.origin)
    try:
        ack = await visitor.call("leave_message", {"email": "ana@example.org", "name": "Ana",
                                                   "body": "Please send me a copy of invoice 77 <b>thanks</b>",
                                                   "department_id": desk})
        assert ack["ok"], ack
        await mae.rec.wait_for("offline_messages.changed")
        listed = (await mae.call("offline_messages", {}))["messages"]
        mine = next(m for m in listed if m["id"] == ack["id"])
        assert (mine["email"], mine["name"], mine["department_name"]) == ("ana@example.org", "Ana", f"Billing {tag}")
        assert mine["body"] == "Please send me a copy of invoice 77 <b>thanks</b>"
        # A CSR outside the department neither sees nor handles it.
        assert all(m["id"] != ack["id"] for m in (await out.call("offline_messages", {}))["messages"])
        assert code(await out.call("message_done", {"id": ack["id"]})) == "not_found"
        assert (await mae.call("message_done", {"id": ack["id"]}))["ok"]
        assert code(await mae.call("message_done", {"id": ack["id"]})) == "invalid_state"
        assert all(m["id"] != ack["id"] for m in (await mae.call("offline_messages", {}))["messages"])
        for payload in ({}, {"id": "1"}, {"id": 0}, {"id": 2**40}, []):
            assert code(await mae.call("message_done", payload)) == "bad_request"
        assert code(await mae.call("message_done", {"id": 987654321})) == "not_found"
        for payload in ([], "x"):
            assert code(await mae.call("offline_messages", payload)) == "bad_request"
    finally:
        for client in (mae, out, visitor):
            await client.disconnect()


async def test_leaving_a_message_refuses_bad_input_and_stores_nothing(deployment):
    visitor = await clients.visitor(deployment.servers[0].url, deployment.site_key, deployment.origin)
    other_site = json.loads(cli(deployment.env, "create-site", "--name", f"Else {new_id()[:6]}",
                                "--origin", "https://else.example.net", "--json"))
    foreign = json.loads(cli(deployment.env, "create-department", "--site", other_site["key"], "--name", "Theirs",
                             "--json"))["id"]
    try:
        for payload, expected in (
            ({"body": "hi"}, "bad_request"), ({"email": "not-an-address", "body": "hi"}, "bad_request"),
            ({"email": "a@b.c"}, "bad_request"), ({"email": "a@b.c", "body": 5}, "bad_request"),
            ({"email": "a@b.c", "body": "x" * 5001}, "too_large"),
            ({"email": "a@b.c", "body": "hi", "department_id": "2"}, "bad_request"),
            ({"email": "a@b.c", "body": "hi", "department_id": foreign}, "not_found"),
        ):
            assert code(await visitor.call("leave_message", payload)) == expected, payload
        assert visitor.connected
    finally:
        await visitor.disconnect()


async def test_a_waiting_visitor_who_leaves_a_message_has_abandoned_the_queue(deployment):
    tag = new_id()[:6]
    desk = department(deployment, f"Quiet {tag}")
    visitor = await clients.visitor(deployment.servers[0].url, deployment.site_key, deployment.origin)
    try:
        ack = await visitor.call("message", {"client_id": new_id(), "body": "Hello?", "department_id": desk})
        cid = ack["conversation_id"]
        assert (await visitor.call("leave_message", {"email": "zed@example.org", "body": "Call me back",
                                                     "department_id": desk}))["ok"]
        closed = await visitor.rec.wait_for("conversation", lambda c: c["id"] == cid and c["status"] == "closed")
        assert closed["closed_at"]
    finally:
        await visitor.disconnect()


async def test_a_note_is_a_work_order_and_settling_one_settles_the_other(deployment):
    """Each note left is a work order (source "offline note"): marking the note done resolves the
    order, and an order resolved on its own page takes its note off the list."""
    tag = new_id()[:6]
    member = f"noa-{tag}@example.com"
    deployment.create_user(member, "supervisor", f"Noa {tag}")
    desk = department(deployment, f"Notes {tag}", member)
    noa = await clients.agent(deployment.servers[0].url, member, deployment.password)
    visitor = await clients.visitor(deployment.servers[-1].url, deployment.site_key, deployment.origin)
    try:
        first = await visitor.call("leave_message", {"email": f"ida-{tag}@example.org", "body": "Where is my order?",
                                                     "department_id": desk})
        second = await visitor.call("leave_message", {"email": f"ida-{tag}@example.org", "body": "Still waiting.",
                                                      "department_id": desk})
        assert first["ok"] and second["ok"]
        notes = {m["id"]: m for m in (await noa.call("offline_messages", {}))["messages"]}
        orders = {i: notes[i]["work_order"] for i in (first["id"], second["id"])}
        assert all(o and o["number"].startswith("WO-") for o in orders.values())

        # Done on the note: its order is resolved (and the customer told).
        assert (await noa.call("message_done", {"id": first["id"]}))["ok"]
        async with staff(deployment, member) as web:
            order = await web.order(orders[first["id"]]["id"])
            assert (order["status"], order["source"]) == ("resolved", "offline_note")
            # Resolved on the order's page: the note leaves the list.
            moved = await web.post(f"/api/work-orders/{orders[second['id']]['id']}/status", {"status": "resolved"})
            assert moved.status_code == 200, moved.text
        listed = {m["id"] for m in (await noa.call("offline_messages", {}))["messages"]}
        assert first["id"] not in listed and second["id"] not in listed
        mails = await fetch(deployment, "SELECT purpose FROM outgoing_mail WHERE work_order_id = ?",
                            orders[first["id"]]["id"])
        assert sorted(m["purpose"] for m in mails) == ["created", "resolved"]
    finally:
        await clients.sign_off(noa)
        await noa.disconnect()
        await visitor.disconnect()
