"""Reconnect and replay, returning visitors, read state, the visitor's page in the sidebar."""

from __future__ import annotations

import pytest

from tests.support import clients
from tests.support.clients import new_id


@pytest.fixture
async def chat(deployment, request):
    """An agent (on the last server) holding a chat with a visitor (on the first server)."""
    email = f"recovery-{request.node.name[:20]}-{new_id()[:6]}@example.com"
    deployment.create_user(email, "agent", "Rita Recovery", max_chats=5)
    agent = await clients.agent(deployment.servers[-1].url, email, deployment.password)
    await agent.call("set_status", {"status": "available"})
    visitor = await clients.visitor(deployment.servers[0].url, deployment.site_key, deployment.origin)
    ack = await visitor.call("message", {"client_id": new_id(), "body": "first"})
    conversation_id = ack["conversation_id"]
    await agent.rec.wait_for("conversation.assigned", lambda c: c["id"] == conversation_id)
    opened = await agent.call("open", {"conversation_id": conversation_id})
    assert opened["ok"]
    yield deployment, agent, visitor, conversation_id
    await clients.sign_off(agent)
    for client in (agent, visitor):
        if client.connected:
            await client.disconnect()


async def test_visitor_reconnects_and_replays_everything_after_last_seq(chat):
    deployment, agent, visitor, conversation_id = chat
    session = visitor.rec.of("session")[0]
    seen = max(m["seq"] for m in visitor.rec.of("message") + [{"seq": 1}])
    await visitor.disconnect()

    for body in ("while you were away 1", "while you were away 2"):
        assert (await agent.call("message", {"conversation_id": conversation_id, "client_id": new_id(),
                                             "body": body}))["ok"]

    again = await clients.visitor(deployment.servers[-1].url, deployment.site_key, deployment.origin,
                                  token=session["token"])
    try:
        resumed = again.rec.of("session")[0]
        assert resumed["visitor_id"] == session["visitor_id"]
        assert resumed["conversation"]["id"] == conversation_id
        replay = await again.call("sync", {"conversation_id": conversation_id, "after_seq": seen})
        bodies = [m["body"] for m in replay["messages"]]
        assert bodies[-2:] == ["while you were away 1", "while you were away 2"]
        seqs = [m["seq"] for m in replay["messages"]]
        assert seqs == sorted(seqs) and seqs[0] == seen + 1 and seqs[-1] == resumed["conversation"]["last_seq"]
    finally:
        await again.disconnect()


async def test_outbox_resend_after_reconnect_is_stored_once(chat):
    deployment, agent, visitor, conversation_id = chat
    session = visitor.rec.of("session")[0]
    client_id = new_id()
    first = await visitor.call("message", {"client_id": client_id, "body": "did this arrive?"})
    await visitor.disconnect()
    again = await clients.visitor(deployment.servers[-1].url, deployment.site_key, deployment.origin,
                                  token=session["token"])
    try:
        resent = await again.call("message", {"client_id": client_id, "body": "did this arrive?"})
        assert resent["seq"] == first["seq"] and resent["conversation_id"] == conversation_id
        transcript = await agent.call("sync", {"conversation_id": conversation_id, "after_seq": 0})
        assert [m["body"] for m in transcript["messages"]].count("did this arrive?") == 1
    finally:
        await again.disconnect()


async def test_read_state_travels_both_ways(chat):
    deployment, agent, visitor, conversation_id = chat
    reply = await agent.call("message", {"conversation_id": conversation_id, "client_id": new_id(), "body": "hi"})
    await visitor.rec.wait_for("message", lambda m: m["seq"] == reply["seq"])
    assert (await visitor.call("read", {"conversation_id": conversation_id, "seq": reply["seq"]}))["ok"]
    read = await agent.rec.wait_for("read", lambda r: r["conversation_id"] == conversation_id)
    assert read["seq"] == reply["seq"]
    assert (await agent.call("read", {"conversation_id": conversation_id, "seq": reply["seq"]}))["ok"]
    seen = await visitor.rec.wait_for("read", lambda r: r["conversation_id"] == conversation_id)
    assert seen["seq"] == reply["seq"]
    # Read state never moves backwards and never past the last message.
    assert (await visitor.call("read", {"conversation_id": conversation_id, "seq": 10**6}))["ok"]
    synced = await visitor.call("sync", {"conversation_id": conversation_id, "after_seq": 0})
    assert synced["conversation"]["agent_read_seq"] == reply["seq"]


async def test_agent_sees_the_visitors_current_page_and_device(chat):
    deployment, agent, visitor, conversation_id = chat
    url = deployment.origin + "/pricing?plan=pro"
    assert (await visitor.call("page_view", {"url": url, "title": "Pricing", "referrer": None}))["ok"]
    page = await agent.rec.wait_for("visitor.page", lambda p: p["url"] == url)
    assert page["title"] == "Pricing"
    profile = (await agent.call("open", {"conversation_id": conversation_id}))["visitor"]
    assert profile["current_page"] == {"url": url, "title": "Pricing"}
    assert profile["browser"] == "Chrome 131" and profile["os"] == "Linux" and profile["device"] == "desktop"
    assert profile["online"] is True


async def test_returning_visitor_finds_earlier_conversations_and_agent_sees_them(chat):
    deployment, agent, visitor, conversation_id = chat
    token = visitor.rec.of("session")[0]["token"]
    await agent.call("message", {"conversation_id": conversation_id, "client_id": new_id(), "body": "bye now"})
    assert (await agent.call("close", {"conversation_id": conversation_id}))["ok"]
    await visitor.rec.wait_for("conversation", lambda c: c["status"] == "closed")
    await visitor.disconnect()

    later = await clients.visitor(deployment.servers[0].url, deployment.site_key, deployment.origin, token=token)
    try:
        assert later.rec.of("session")[0]["conversation"] is None
        history = await later.call("history", {})
        earlier = next(c for c in history["conversations"] if c["id"] == conversation_id)
        assert [m["body"] for m in earlier["messages"] if m["sender"] != "system"] == ["first", "bye now"]
        assert earlier["status"] == "closed" and earlier["agent"] == {"name": "Rita Recovery"}

        ack = await later.call("message", {"client_id": new_id(), "body": "me again"})
        assert ack["conversation_id"] != conversation_id
        await agent.rec.wait_for("conversation.assigned", lambda c: c["id"] == ack["conversation_id"])
        opened = await agent.call("open", {"conversation_id": ack["conversation_id"]})
        past = {c["id"]: c for c in opened["past"]}
        assert conversation_id in past and ack["conversation_id"] not in past
        assert "bye now" in [m["body"] for m in past[conversation_id]["messages"]]
        assert past[conversation_id]["agent_name"] == "Rita Recovery"
    finally:
        await later.disconnect()


async def test_visitor_closing_a_waiting_chat_is_an_abandon_and_a_new_message_starts_afresh(deployment):
    visitor = await clients.visitor(deployment.server.url, deployment.site_key, deployment.origin)
    try:
        ack = await visitor.call("message", {"client_id": new_id(), "body": "anyone?"})
        closed = await visitor.call("close", {"conversation_id": ack["conversation_id"]})
        assert closed["ok"]
        again = await visitor.call("close", {"conversation_id": ack["conversation_id"]})
        assert again["error"]["code"] == "invalid_state"
        fresh = await visitor.call("message", {"client_id": new_id(), "body": "hello?"})
        assert fresh["conversation_id"] != ack["conversation_id"] and fresh["seq"] == 1
        await visitor.call("close", {"conversation_id": fresh["conversation_id"]})
    finally:
        await visitor.disconnect()
