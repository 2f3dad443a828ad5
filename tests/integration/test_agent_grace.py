"""A CSR whose console goes away keeps their chats for a grace period; after it they go Offline
and their chats go back to the front of the queue, transcript and all. A visitor who leaves the
site while queued has abandoned, at the moment they left."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest

from tests.support import clients
from tests.support.clients import new_id
from tests.support.db import fetch
from tests.support.server import deploy

# Short enough to wait out, long enough that coming back "within the grace" (a reconnect) fits in
# it with room to spare on a busy machine.
GRACE = 5.0


async def until(reading, expected, what: str, timeout: float = GRACE + 30) -> None:
    """Waits until `await reading()` is `expected`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (found := await reading()) != expected:
        assert loop.time() < deadline, f"timed out waiting for {what} (still {found})"
        await asyncio.sleep(0.1)  # polling a condition, not synchronising by time


async def status_of(deployment, user_id: int) -> tuple[str, str | None]:
    row = (await fetch(deployment, "SELECT status, status_reason FROM app_user WHERE id = ?", user_id))[0]
    return row["status"], row["status_reason"]


async def chat_status(deployment, conversation_id: int) -> str:
    return (await fetch(deployment, "SELECT status FROM conversation WHERE id = ?", conversation_id))[0]["status"]


@pytest.fixture(params=["sqlite", "postgres+redis x2"], scope="module")
def short_grace(request, new_postgres_database, redis_url):
    """A deployment of its own whose grace period is short (so tests can wait it out)."""
    env = {"AGENT_DISCONNECT_GRACE_SECONDS": str(GRACE), "VISITOR_ABANDON_GRACE_SECONDS": str(GRACE)}
    if request.param == "sqlite":
        deployment = deploy(database_url=None, redis_url=None, processes=1, extra_env=env)
    else:
        deployment = deploy(database_url=new_postgres_database(), redis_url=redis_url, processes=2,
                            extra_env=env)
    yield deployment
    deployment.stop()


async def _chat_with(deployment, agent_email: str, token: str | None = None):
    agent = await clients.agent(deployment.servers[0].url, agent_email, deployment.password, token=token)
    assert (await agent.call("set_status", {"status": "available"}))["ok"]
    visitor = await clients.visitor(deployment.servers[-1].url, deployment.site_key, deployment.origin)
    ack = await visitor.call("message", {"client_id": new_id(), "body": "Is the blue tent in stock?"})
    cid = ack["conversation_id"]
    await agent.rec.wait_for("conversation.assigned", lambda c: c["id"] == cid)
    return agent, visitor, cid


async def test_after_the_grace_period_the_chat_goes_to_a_colleague(short_grace):
    d = short_grace
    tag = new_id()[:6]
    d.create_user(f"gone-{tag}@example.com", "agent", "Gina Gone")
    d.create_user(f"next-{tag}@example.com", "agent", "Nico Next")
    d.create_user(f"boss-{tag}@example.com", "supervisor", "Bo Boss")
    agent, visitor, cid = await _chat_with(d, f"gone-{tag}@example.com")
    await agent.call("message", {"conversation_id": cid, "client_id": new_id(), "body": "Let me check."})
    await agent.disconnect()  # the CSR's laptop dies

    colleague = await clients.agent(d.servers[-1].url, f"next-{tag}@example.com", d.password)
    boss = await clients.agent(d.servers[0].url, f"boss-{tag}@example.com", d.password)
    try:
        assert (await colleague.call("set_status", {"status": "available"}))["ok"]
        # The colleague gets the chat once the grace period is over, with the whole transcript.
        assigned = await colleague.rec.wait_for("conversation.assigned", lambda c: c["id"] == cid, timeout=GRACE + 10)
        opened = await colleague.call("open", {"conversation_id": assigned["id"]})
        bodies = [m["body"] for m in opened["messages"]]
        assert "Is the blue tent in stock?" in bodies and "Let me check." in bodies
        assert "We are connecting you to someone else…" in bodies
        # The visitor was told, then saw the colleague join.
        await visitor.rec.wait_for("message", lambda m: m["body"] == "We are connecting you to someone else…")
        await visitor.rec.wait_for("message", lambda m: m["body"] == "Nico Next joined the chat.")
        # The CSR who left is Offline, by the server, with the reason.
        board = await boss.call("board", {})
        gone = next(a for a in board["agents"] if a["name"] == "Gina Gone")
        assert gone["status"] == "offline" and gone["reason"] == "disconnected" and gone["load"] == 0
    finally:
        await colleague.call("close", {"conversation_id": cid})
        for client in (colleague, boss):
            await client.call("set_status", {"status": "offline"})
            await client.disconnect()
        await visitor.disconnect()


async def test_coming_back_within_the_grace_period_keeps_everything(short_grace):
    d = short_grace
    tag = new_id()[:6]
    email = f"blip-{tag}@example.com"
    d.create_user(email, "agent", "Bea Blip")
    token = await clients.socket_token(d.server.url, email, d.password)
    agent, visitor, cid = await _chat_with(d, email, token)
    await agent.disconnect()  # a reload, a network blip
    agent = await clients.agent(d.servers[-1].url, email, d.password, token=token)
    # A colleague who leaves after the CSR came back, and stays away: once their grace is over
    # (Offline, by the server), the CSR's would have been over too.
    control_email = f"control-{tag}@example.com"
    control_id = d.create_user(control_email, "agent", "Cody Control")["id"]
    control = await clients.agent(d.servers[0].url, control_email, d.password)
    assert (await control.call("set_status", {"status": "away"}))["ok"]  # Away: no chat reaches them
    await control.disconnect()
    try:
        await until(lambda: status_of(d, control_id), ("offline", "disconnected"), "the colleague's grace to end")
        listed = await agent.call("list", {})
        assert [c["id"] for c in listed["conversations"]] == [cid]
        assert (await agent.call("set_status", {"status": "available"}))["status"] == "available"
        assert not any(m["body"] == "We are connecting you to someone else…" for m in visitor.rec.of("message"))
    finally:
        await agent.call("close", {"conversation_id": cid})
        await agent.call("set_status", {"status": "offline"})
        await agent.disconnect()
        await visitor.disconnect()


async def test_a_queued_visitor_who_leaves_the_site_has_abandoned(short_grace):
    d = short_grace
    visitor = await clients.visitor(d.servers[-1].url, d.site_key, d.origin)
    ack = await visitor.call("message", {"client_id": new_id(), "body": "Anyone there?"})
    cid = ack["conversation_id"]
    token = visitor.rec.of("session")[0]["token"]
    await visitor.disconnect()
    left = datetime.now(timezone.utc)
    # The grace period passes with no tab of theirs open.
    await until(lambda: chat_status(d, cid), "closed", "the chat to be closed as abandoned")
    back = await clients.visitor(d.servers[0].url, d.site_key, d.origin, token=token)
    try:
        assert back.rec.of("session")[0]["conversation"] is None  # nothing open any more
        history = (await back.call("history", {}))["conversations"]
        mine = next(c for c in history if c["id"] == cid)
        assert mine["status"] == "closed"
        closed_at = datetime.fromisoformat(mine["closed_at"])
        assert abs((closed_at - left).total_seconds()) < GRACE  # when they left, not when noticed
    finally:
        await back.disconnect()


async def test_a_queued_visitor_who_comes_back_in_time_keeps_their_place(short_grace):
    d = short_grace
    visitor = await clients.visitor(d.servers[-1].url, d.site_key, d.origin)
    ack = await visitor.call("message", {"client_id": new_id(), "body": "Still there?"})
    cid = ack["conversation_id"]
    token = visitor.rec.of("session")[0]["token"]
    await visitor.disconnect()  # moves to another page of the site
    back = await clients.visitor(d.servers[0].url, d.site_key, d.origin, token=token)
    # Another queued visitor who leaves after ours came back, and stays away: once their chat is
    # closed as abandoned, ours would have been too.
    control = await clients.visitor(d.servers[-1].url, d.site_key, d.origin)
    other = (await control.call("message", {"client_id": new_id(), "body": "Hello?"}))["conversation_id"]
    await control.disconnect()
    try:
        await until(lambda: chat_status(d, other), "closed", "the other visitor's chat to be abandoned")
        synced = await back.call("sync", {"conversation_id": cid, "after_seq": 0})
        assert synced["conversation"]["status"] == "waiting"
    finally:
        await back.call("close", {"conversation_id": cid})
        await back.disconnect()
