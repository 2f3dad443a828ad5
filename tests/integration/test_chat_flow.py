"""A visitor chats with a CSR end to end through real socket.io clients and a real server."""

from __future__ import annotations

import asyncio

from tests.support import clients
from tests.support.clients import new_id


async def test_visitor_message_reaches_available_agent_and_reply_comes_back(deployment):
    visitor_server, agent_server = deployment.servers[0], deployment.servers[-1]
    agent = await clients.agent(agent_server.url, "agent@example.com", deployment.password)
    visitor = await clients.visitor(visitor_server.url, deployment.site_key, deployment.origin)
    try:
        assert (await agent.call("set_status", {"status": "available"}))["status"] == "available"
        ack = await visitor.call("message", {"client_id": new_id(), "body": "Hi, do you ship to Norway?"})
        assert ack["ok"] and ack["seq"] == 1
        conversation_id = ack["conversation_id"]

        assigned = await agent.rec.wait_for("conversation.assigned", lambda c: c["id"] == conversation_id)
        assert assigned["visitor_id"] == visitor.rec.of("session")[0]["visitor_id"]
        opened = await agent.call("open", {"conversation_id": conversation_id})
        assert opened["ok"]
        assert [m["body"] for m in opened["messages"] if m["sender"] == "visitor"] == ["Hi, do you ship to Norway?"]

        reply = await agent.call("message", {"conversation_id": conversation_id, "client_id": new_id(),
                                             "body": "We do, in 3 days."})
        assert reply["ok"]
        got = await visitor.rec.wait_for("message", lambda m: m["sender"] == "agent")
        assert got["body"] == "We do, in 3 days." and got["author"] == "Alex Agent"
        assert got["seq"] == reply["seq"]

        await agent.call("typing", {"conversation_id": conversation_id, "typing": True})
        typing = await visitor.rec.wait_for("typing")
        assert typing == {"conversation_id": conversation_id, "typing": True, "name": "Alex Agent"}

        assert (await agent.call("close", {"conversation_id": conversation_id}))["ok"]
        closed = await visitor.rec.wait_for("conversation", lambda c: c["status"] == "closed")
        assert closed["id"] == conversation_id
    finally:
        await clients.sign_off(agent)
        await visitor.disconnect()
        await agent.disconnect()


async def test_a_visitor_who_leaves_while_a_csr_is_being_assigned_still_leaves(deployment):
    """Visitors' closes race the routing that offers and assigns their chats (on another worker in
    the scaled deployment): every close succeeds, and every chat ends closed, off the CSR's list."""
    visitor_server, agent_server = deployment.servers[0], deployment.servers[-1]
    agent = await clients.agent(agent_server.url, "agent@example.com", deployment.password)
    visitors = [await clients.visitor(visitor_server.url, deployment.site_key, deployment.origin) for _ in range(4)]

    async def come_and_go(visitor, n: int) -> None:
        for attempt in range(n):
            sent = await visitor.call("message", {"client_id": new_id(), "body": f"Quick question {attempt}"})
            assert sent["ok"], sent
            closed = await visitor.call("close", {"conversation_id": sent["conversation_id"]})
            assert closed["ok"], (attempt, closed)
            await visitor.rec.wait_for("conversation", lambda c: c["id"] == sent["conversation_id"]
                                       and c["status"] == "closed")

    try:
        assert (await agent.call("set_status", {"status": "available"}))["ok"]
        await asyncio.gather(*(come_and_go(visitor, 8) for visitor in visitors))
        # Nothing stays on the CSR, whatever stage each chat had reached when its visitor left.
        assert (await agent.call("list", {}))["conversations"] == []
    finally:
        await clients.sign_off(agent)
        for visitor in visitors:
            await visitor.disconnect()
        await agent.disconnect()
