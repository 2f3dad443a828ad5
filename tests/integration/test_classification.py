"""Contact classification: closing a chat of a department that classifies its contacts asks what it
was about (the work-order taxonomy). A required category missing, an unknown or inactive one: the
close is refused and the chat stays open; a category given is stored and logged as `classified`."""

from __future__ import annotations

import json

from tests.support import clients
from tests.support.clients import new_id
from tests.support.db import fetch
from tests.support.server import cli


def code(ack) -> str | None:
    return None if ack.get("ok") else ack["error"]["code"]


def department(d, name: str, member: str, classification: str) -> int:
    return json.loads(cli(d.env, "create-department", "--site", d.site_key, "--name", name, "--member", member,
                          "--classification", classification, "--json"))["id"]


def category_ids(d, *paths: str) -> dict[str, int]:
    args = ["work-setup", "--json"]
    for path in paths:
        args += ["--category", path]
    setup = json.loads(cli(d.env, *args))
    return {c["path"]: c["id"] for c in setup["categories"]}


async def chat_with(d, agent, department_id: int) -> tuple[clients.Client, int]:
    visitor = await clients.visitor(d.servers[-1].url, d.site_key, d.origin)
    sent = await visitor.call("message", {"client_id": new_id(), "body": "My parcel is late",
                                          "department_id": department_id})
    assert sent["ok"], sent
    await agent.rec.wait_for("conversation.assigned", lambda c: c["id"] == sent["conversation_id"])
    return visitor, sent["conversation_id"]


async def test_a_required_category_is_asked_for_checked_and_logged(deployment):
    tag = new_id()[:6]
    email = f"cleo-{tag}@example.com"
    deployment.create_user(email, "agent", f"Cleo {tag}")
    desk = department(deployment, f"Returns {tag}", email, "required")
    ids = category_ids(deployment, f"Complaint {tag}/Delivery", f"Question {tag}")
    delivery = ids[f"Complaint {tag} › Delivery"]
    agent = await clients.agent(deployment.servers[0].url, email, deployment.password)
    visitor = None
    try:
        await agent.call("set_status", {"status": "available"})
        visitor, conversation_id = await chat_with(deployment, agent, desk)
        options = await agent.call("close_options", {"conversation_id": conversation_id})
        assert options["ok"] and options["classification"] == "required"
        assert {c["path"] for c in options["categories"]} >= {f"Complaint {tag} › Delivery", f"Question {tag}"}

        # Refused, and the chat stays open: no category, a wrong type, an unknown one.
        refused = await agent.call("close", {"conversation_id": conversation_id})
        assert code(refused) == "category_required" and refused["error"]["field"] == "category_id"
        assert code(await agent.call("close", {"conversation_id": conversation_id, "category_id": "1"})) == "bad_request"
        assert code(await agent.call("close", {"conversation_id": conversation_id, "category_id": 10 ** 9})) \
            == "bad_request"
        rows = await fetch(deployment, "SELECT status, category_id FROM conversation WHERE id = ?", conversation_id)
        assert rows == [{"status": "assigned", "category_id": None}]

        assert (await agent.call("close", {"conversation_id": conversation_id, "category_id": delivery}))["ok"]
        rows = await fetch(deployment, "SELECT status, category_id FROM conversation WHERE id = ?", conversation_id)
        assert rows == [{"status": "closed", "category_id": delivery}]
        events = await fetch(deployment, "SELECT kind, data FROM conversation_event WHERE conversation_id = ? "
                                         "AND kind = 'classified'", conversation_id)
        assert len(events) == 1
        data = events[0]["data"] if isinstance(events[0]["data"], dict) else json.loads(events[0]["data"])
        assert data["category_id"] == delivery and data["parent_id"] == ids[f"Complaint {tag}"]
    finally:
        await clients.sign_off(agent)
        await agent.disconnect()
        if visitor is not None:
            await visitor.disconnect()


async def test_optional_and_off_departments_close_without_a_category(deployment):
    tag = new_id()[:6]
    email = f"odo-{tag}@example.com"
    deployment.create_user(email, "agent", f"Odo {tag}")
    optional = department(deployment, f"Optional {tag}", email, "optional")
    off = department(deployment, f"Off {tag}", email, "off")
    agent = await clients.agent(deployment.servers[0].url, email, deployment.password)
    visitors = []
    try:
        await agent.call("set_status", {"status": "available"})
        for desk, mode in ((optional, "optional"), (off, "off")):
            visitor, conversation_id = await chat_with(deployment, agent, desk)
            visitors.append(visitor)
            options = await agent.call("close_options", {"conversation_id": conversation_id})
            assert options["classification"] == mode
            assert (options["categories"] == []) is (mode == "off")
            assert (await agent.call("close", {"conversation_id": conversation_id}))["ok"]
        # Someone else's chat: close_options answers like an unknown one.
        assert code(await agent.call("close_options", {"conversation_id": 10 ** 9})) == "not_found"
        assert code(await agent.call("close_options", {})) == "bad_request"
    finally:
        await clients.sign_off(agent)
        await agent.disconnect()
        for visitor in visitors:
            await visitor.disconnect()
