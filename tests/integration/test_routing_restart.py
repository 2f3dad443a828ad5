"""Nothing is lost when workers restart: queues and assignments recover from the database (one
process, in-memory store) and from Redis (two workers); CSRs whose consoles did not come back
get the grace period, then their chats go to a colleague (one process: counted from its start-up,
its timers died with it; with Redis: from the moment they left, on the shared schedule that
outlives every worker)."""

from __future__ import annotations

import asyncio

import pytest

from tests.support import clients
from tests.support.clients import new_id
from tests.support.server import deploy

# One process starts the grace at start-up, and the CSR must be back within it (a busy machine may
# take seconds to reconnect them); with Redis it runs from the disconnect, through the restart of
# both workers, which must take less than it.
GRACE = {"sqlite": 8.0, "postgres+redis x2": 20.0}


def grace(deployment) -> float:
    return float(deployment.env["AGENT_DISCONNECT_GRACE_SECONDS"])


@pytest.fixture(params=["sqlite", "postgres+redis x2"], scope="module")
def restartable(request, new_postgres_database, redis_url):
    env = {"AGENT_DISCONNECT_GRACE_SECONDS": str(GRACE[request.param]), "VISITOR_ABANDON_GRACE_SECONDS": "120"}
    if request.param == "sqlite":
        deployment = deploy(database_url=None, redis_url=None, processes=1, extra_env=env)
    else:
        deployment = deploy(database_url=new_postgres_database(), redis_url=redis_url, processes=2,
                            extra_env=env)
    yield deployment
    deployment.stop()


def restart(deployment) -> None:
    for server in deployment.servers:
        server.stop()
    for server in deployment.servers:
        server.start()


async def until(condition, timeout: float = 15.0) -> None:
    async def poll():
        while not await condition():
            await asyncio.sleep(0.1)  # polling a condition, not synchronising by time
    await asyncio.wait_for(poll(), timeout)


async def test_queues_and_holds_survive_a_restart_of_every_worker(restartable):
    d = restartable
    tag = new_id()[:6]
    email = f"keeper-{tag}@example.com"
    d.create_user(email, "agent", f"Kim Keeper {tag}", max_chats=2)
    agent = await clients.agent(d.servers[0].url, email, d.password)
    assert (await agent.call("set_status", {"status": "available"}))["ok"]
    visitors, ids = [], []
    for body in ("one", "two", "three"):
        visitor = await clients.visitor(d.servers[-1].url, d.site_key, d.origin)
        ack = await visitor.call("message", {"client_id": new_id(), "body": body})
        visitors.append(visitor)
        ids.append(ack["conversation_id"])
    for cid in ids[:2]:
        await agent.rec.wait_for("conversation.assigned", lambda c, cid=cid: c["id"] == cid)
    for client in (agent, *visitors):
        await client.disconnect()

    restart(d)

    # The CSR comes back within the grace period: still Available, still holding both chats.
    agent = await clients.agent(d.servers[-1].url, email, d.password)
    later = await clients.visitor(d.servers[0].url, d.site_key, d.origin)
    helper_email = f"helper-{tag}@example.com"
    d.create_user(helper_email, "agent", f"Hal Helper {tag}", max_chats=1)
    helper = await clients.agent(d.servers[0].url, helper_email, d.password)
    fourth = None
    try:
        listed = await agent.call("list", {})
        assert sorted(c["id"] for c in listed["conversations"]) == sorted(ids[:2])
        # A new chat is not given to the CSR: their two chats still fill their capacity.
        fourth = (await later.call("message", {"client_id": new_id(), "body": "four"}))["conversation_id"]
        listed = await agent.call("list", {})
        assert sorted(c["id"] for c in listed["conversations"]) == sorted(ids[:2])
        # The queue kept its order: a colleague gets the chat that waited since before the restart.
        assert (await helper.call("set_status", {"status": "available"}))["ok"]
        await helper.rec.wait_for("conversation.assigned", lambda c: c["id"] == ids[2], timeout=15)
        # A chat closed frees a place: the next one in the queue comes to the CSR.
        assert (await agent.call("close", {"conversation_id": ids[0]}))["ok"]
        await agent.rec.wait_for("conversation.assigned", lambda c: c["id"] == fourth, timeout=15)
    finally:
        await helper.call("close", {"conversation_id": ids[2]})
        for cid in (ids[1], fourth):
            if cid is not None:
                await agent.call("close", {"conversation_id": cid})
        for client in (agent, helper):
            await client.call("set_status", {"status": "offline"})
            await client.disconnect()
        await later.disconnect()


async def test_a_csr_who_does_not_come_back_after_a_restart_hands_their_chats_on(restartable):
    d = restartable
    tag = new_id()[:6]
    gone, colleague_email = f"gone-{tag}@example.com", f"stay-{tag}@example.com"
    d.create_user(gone, "agent", f"Gus Gone {tag}")
    d.create_user(colleague_email, "agent", f"Cleo Colleague {tag}")
    agent = await clients.agent(d.server.url, gone, d.password)
    assert (await agent.call("set_status", {"status": "available"}))["ok"]
    visitor = await clients.visitor(d.server.url, d.site_key, d.origin)
    cid = (await visitor.call("message", {"client_id": new_id(), "body": "Still there?"}))["conversation_id"]
    await agent.rec.wait_for("conversation.assigned", lambda c: c["id"] == cid)
    await agent.disconnect()
    await visitor.disconnect()

    restart(d)

    colleague = await clients.agent(d.server.url, colleague_email, d.password)
    try:
        assert (await colleague.call("set_status", {"status": "available"}))["ok"]
        assigned = await colleague.rec.wait_for("conversation.assigned", lambda c: c["id"] == cid, timeout=grace(d) + 15)
        opened = await colleague.call("open", {"conversation_id": assigned["id"]})
        assert "Still there?" in [m["body"] for m in opened["messages"]]
    finally:
        await colleague.call("close", {"conversation_id": cid})
        await colleague.call("set_status", {"status": "offline"})
        await colleague.disconnect()
