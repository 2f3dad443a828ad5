"""Customer satisfaction: a visitor rates a chat once it has ended; the CSR sees it."""

from __future__ import annotations

import json

import pytest

from tests.support import clients
from tests.support.clients import new_id
from tests.support.server import cli


def code(ack) -> str | None:
    return None if ack.get("ok") else ack["error"]["code"]


@pytest.fixture
async def ended_chat(deployment):
    tag = new_id()[:6]
    email = f"cat-{tag}@example.com"
    deployment.create_user(email, "agent", f"Cat {tag}")
    agent = await clients.agent(deployment.servers[0].url, email, deployment.password)
    await agent.call("set_status", {"status": "available"})
    visitor = await clients.visitor(deployment.servers[-1].url, deployment.site_key, deployment.origin)
    ack = await visitor.call("message", {"client_id": new_id(), "body": "Can I change my order?"})
    cid = ack["conversation_id"]
    await agent.rec.wait_for("conversation.assigned", lambda c: c["id"] == cid)
    yield agent, visitor, cid
    await clients.sign_off(agent)
    await agent.disconnect()
    await visitor.disconnect()


async def test_the_visitor_rates_an_ended_chat_and_the_csr_sees_it(ended_chat):
    agent, visitor, cid = ended_chat
    # Not before it has ended.
    assert code(await visitor.call("rate", {"conversation_id": cid, "rating": "good"})) == "invalid_state"
    assert (await agent.call("close", {"conversation_id": cid}))["ok"]
    ack = await visitor.call("rate", {"conversation_id": cid, "rating": "good",
                                      "comment": "Quick and kind <img src=x onerror=alert(1)>"})
    assert ack["ok"] and ack["rating"] == "good"
    live = await agent.rec.wait_for("conversation.rated", lambda r: r["conversation_id"] == cid)
    assert live["rating"] == "good" and live["comment"] == "Quick and kind <img src=x onerror=alert(1)>"
    opened = await agent.call("open", {"conversation_id": cid})
    assert opened["conversation"]["rating"]["rating"] == "good"
    # The visitor may change their mind; the latest counts, everywhere.
    assert (await visitor.call("rate", {"conversation_id": cid, "rating": "neutral"}))["ok"]
    history = (await visitor.call("history", {}))["conversations"]
    assert next(c for c in history if c["id"] == cid)["rating"]["rating"] == "neutral"
    synced = await visitor.call("sync", {"conversation_id": cid, "after_seq": 0})
    assert synced["conversation"]["rating"]["rating"] == "neutral"


async def test_rating_refuses_bad_input_and_other_peoples_chats(ended_chat, deployment):
    agent, visitor, cid = ended_chat
    await agent.call("close", {"conversation_id": cid})
    for payload, expected in (
        ({"conversation_id": cid}, "bad_request"),
        ({"conversation_id": cid, "rating": "great"}, "bad_request"),
        ({"conversation_id": cid, "rating": 5}, "bad_request"),
        ({"conversation_id": str(cid), "rating": "good"}, "bad_request"),
        ({"rating": "good"}, "bad_request"),
        ({"conversation_id": cid, "rating": "good", "comment": "x" * 1001}, "too_large"),
        ({"conversation_id": cid, "rating": "good", "comment": 7}, "bad_request"),
        ({"conversation_id": 987654321, "rating": "good"}, "not_found"),
    ):
        assert code(await visitor.call("rate", payload)) == expected, payload
    stranger = await clients.visitor(deployment.servers[0].url, deployment.site_key, deployment.origin)
    try:
        assert code(await stranger.call("rate", {"conversation_id": cid, "rating": "bad"})) == "not_found"
    finally:
        await stranger.disconnect()
    assert visitor.connected
    # Nothing of the refused ones was stored.
    history = (await visitor.call("history", {}))["conversations"]
    assert next(c for c in history if c["id"] == cid)["rating"] is None


async def test_a_chat_nobody_answered_is_not_rated(deployment):
    tag = new_id()[:6]
    desk = json.loads(cli(deployment.env, "create-department", "--site", deployment.site_key,
                          "--name", f"Empty {tag}", "--json"))["id"]
    visitor = await clients.visitor(deployment.servers[0].url, deployment.site_key, deployment.origin)
    try:
        ack = await visitor.call("message", {"client_id": new_id(), "body": "Anyone?", "department_id": desk})
        await visitor.call("close", {"conversation_id": ack["conversation_id"]})
        refused = await visitor.call("rate", {"conversation_id": ack["conversation_id"], "rating": "bad"})
        assert code(refused) == "invalid_state"
    finally:
        await visitor.disconnect()
