"""Two server processes sharing PostgreSQL and Redis; 200 visitors and 20 CSRs with capacity 3
chat at once through real socket.io clients. Throughout and at the end: no CSR ever holds more
than their capacity, no chat is assigned twice, nothing is lost, and nobody is left waiting."""

from __future__ import annotations

import asyncio
import random

import asyncpg
import pytest
import redis.asyncio as aioredis

from tests.support import clients
from tests.support.clients import new_id
from tests.support.server import deploy

VISITORS = 200
AGENTS = 20
CAPACITY = 3


@pytest.fixture(scope="module")
def floor(new_postgres_database, redis_url):
    url = new_postgres_database()
    deployment = deploy(database_url=url, redis_url=redis_url, processes=2)
    yield deployment, url.replace("postgres://", "postgresql://", 1), redis_url
    deployment.stop()


async def test_200_visitors_20_csrs_two_workers(floor):
    deployment, db_url, store_url = floor
    rng = random.Random(20261122)
    tag = new_id()[:6]
    agents = []
    agent_ids = []
    for i in range(AGENTS):
        email = f"load{i}-{tag}@example.com"
        agent_ids.append(deployment.create_user(email, "agent", f"Load {i}", max_chats=CAPACITY)["id"])
        agents.append(await clients.agent(deployment.servers[i % 2].url, email, deployment.password))
    db = await asyncpg.connect(db_url)
    store = aioredis.from_url(store_url)
    prefix = deployment.redis_prefix + "rt:"  # app/routing/store.py key layout, in the deployment's namespace
    violations: list[str] = []
    stop = asyncio.Event()
    polls = 0

    async def watch():
        """Check the invariants in the database and in the routing store while everything runs."""
        nonlocal polls
        while not stop.is_set():
            over = await db.fetch(
                "SELECT agent_id, count(*) AS n FROM conversation WHERE status = 'assigned' "
                "GROUP BY agent_id HAVING count(*) > $1", CAPACITY)
            violations.extend(f"agent {r['agent_id']} holds {r['n']}" for r in over)
            # The routing store (one atomic MULTI/EXEC snapshot): no chat among two agents' holds,
            # nobody holding more than their capacity (app/routing/store.py key layout).
            async with store.pipeline(transaction=True) as pipe:
                for aid in agent_ids:
                    pipe.zrange(f"{prefix}held:{aid}", 0, -1)
                held = await pipe.execute()
            seen: dict[int, int] = {}
            for aid, chats in zip(agent_ids, held):
                if len(chats) > CAPACITY:
                    violations.append(f"store: agent {aid} holds {len(chats)}")
                for member in chats:
                    if int(member) in seen:
                        violations.append(f"store: conversation {int(member)} held by {seen[int(member)]} and {aid}")
                    seen[int(member)] = aid
            polls += 1
            await asyncio.sleep(0.05)

    served: dict[int, int] = {}  # conversation → the agent who got it

    async def work(agent: clients.Client):
        """Answer each assigned chat, then close it after a short while."""
        handled = set()
        while not stop.is_set():
            assigned = await agent.rec.wait_for(
                "conversation.assigned", lambda c: c["id"] not in handled, timeout=120)
            handled.add(assigned["id"])
            if assigned["id"] in served:
                violations.append(f"conversation {assigned['id']} assigned twice")
            served[assigned["id"]] = assigned["agent_id"]
            ack = await agent.call("message", {"conversation_id": assigned["id"], "client_id": new_id(),
                                               "body": "Hello from the team"})
            if not ack.get("ok"):
                violations.append(f"reply refused: {ack}")
            await asyncio.sleep(rng.uniform(0.05, 0.4))  # scenario: the chat lasts a moment
            await agent.call("close", {"conversation_id": assigned["id"]})

    watcher = asyncio.create_task(watch())
    for agent in agents:
        assert (await agent.call("set_status", {"status": "available"}))["ok"]
    workers = [asyncio.create_task(work(a)) for a in agents]

    async def visit(i: int):
        await asyncio.sleep(rng.uniform(0, 3))  # arrivals spread over three seconds
        visitor = await clients.visitor(deployment.servers[i % 2].url, deployment.site_key, deployment.origin)
        ack = await visitor.call("message", {"client_id": new_id(), "body": f"Question {i}"})
        assert ack["ok"], ack
        reply = await visitor.rec.wait_for("message", lambda m: m["sender"] == "agent", timeout=120)
        await visitor.disconnect()
        return ack["conversation_id"], reply

    try:
        results = await asyncio.gather(*(visit(i) for i in range(VISITORS)))
    finally:
        stop.set()
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        await watcher
    conversation_ids = {cid for cid, _ in results}
    assert len(conversation_ids) == VISITORS  # one conversation each, nothing merged or lost
    assert violations == []
    assert polls > 10  # the watcher did watch
    assert conversation_ids <= set(served)
    # Every chat was assigned exactly once (one `assigned` event each) and none is left waiting.
    rows = await db.fetch("SELECT conversation_id, count(*) AS n FROM conversation_event WHERE kind = 'assigned' "
                          "GROUP BY conversation_id")
    assert {r["conversation_id"]: r["n"] for r in rows if r["conversation_id"] in conversation_ids} == \
        {cid: 1 for cid in conversation_ids}
    assert await db.fetchval("SELECT count(*) FROM conversation WHERE status = 'waiting'") == 0
    # The work was spread: with longest-idle routing every CSR took chats.
    per_agent: dict[int, int] = {}
    for agent_id in served.values():
        per_agent[agent_id] = per_agent.get(agent_id, 0) + 1
    assert len(per_agent) == AGENTS
    await db.close()
    await store.aclose()
    for agent in agents:
        await clients.sign_off(agent)
        await agent.disconnect()
