"""Two workers sharing PostgreSQL and Redis, a few CSRs and a burst of visitors (more chats than
room, so chats queue and are handed out as CSRs close others). Checked continuously while they
chat, not only at the end:

- no conversation is held by two CSRs at once, nor ever given to a second one — from the CSRs'
  own `conversation.assigned` events, as each arrives;
- the routing store (Redis) never has a chat among two CSRs' holds, nor a CSR holding more than
  their capacity, nor a hold that disagrees with the chat's holder (one atomic snapshot per poll);
- no chat keeps waiting for longer than one routing tick plus a margin while a CSR who could take
  it has free capacity all along and receives no chat (each poll reads one consistent database
  snapshot). A CSR with room is served first (the longest idle), so this holds however slow the
  machine is, unless routing stalls — or its store believes the CSR is full or away.

A smaller companion of test_routing_load.py, whose 200 visitors make latency checks meaningless
on a loaded machine."""

from __future__ import annotations

import asyncio
import random
import time

import asyncpg
import pytest
import redis.asyncio as aioredis

from tests.support import clients
from tests.support.clients import new_id
from tests.support.server import deploy

AGENTS = 6
CAPACITY = 2
VISITORS = 100
TICK_SECONDS = 2.0  # app/services/routing.py tick_forever
MARGIN_SECONDS = 3.0


@pytest.fixture(scope="module")
def floor(new_postgres_database, redis_url):
    url = new_postgres_database()
    deployment = deploy(database_url=url, redis_url=redis_url, processes=2)
    yield deployment, url.replace("postgres://", "postgresql://", 1), redis_url
    deployment.stop()


async def test_never_held_twice_and_nobody_waits_beside_free_room(floor):
    deployment, db_url, store_url = floor
    rng = random.Random(20261123)
    tag = new_id()[:6]
    violations: list[str] = []
    holding: dict[int, int] = {}  # conversation → the CSR holding it now (by their own events)
    first_holder: dict[int, int] = {}  # conversation → the CSR it was given to
    agents: dict[int, clients.Client] = {}
    last_given: dict[int, float] = {}  # CSR → when their console last received a chat

    def on_assigned(me: int, chat: dict) -> None:
        cid = chat["id"]
        if chat.get("agent_id") != me:
            violations.append(f"CSR {me} was sent conversation {cid} as assigned to {chat.get('agent_id')}")
        if holding.get(cid, me) != me:
            violations.append(f"conversation {cid} held by CSRs {holding[cid]} and {me} at once")
        if first_holder.get(cid, me) != me:
            violations.append(f"conversation {cid} given to CSR {first_holder[cid]}, then to {me}")
        holding[cid] = first_holder[cid] = me
        last_given[me] = time.monotonic()

    for i in range(AGENTS):
        user = deployment.create_user(f"inv{i}-{tag}@example.com", "agent", f"Inv {i}", max_chats=CAPACITY)
        agent = await clients.agent(deployment.servers[i % 2].url, f"inv{i}-{tag}@example.com", deployment.password)
        record = agent.rec.record

        async def hooked(event, data, me=user["id"], record=record):
            if event == "conversation.assigned":  # checked the moment it arrives
                on_assigned(me, data)
            await record(event, data)

        agent.rec.record = hooked
        agents[user["id"]] = agent
    agent_ids = sorted(agents)

    db = await asyncpg.connect(db_url)
    store = aioredis.from_url(store_url)
    prefix = deployment.redis_prefix + "rt:"  # app/routing/store.py key layout, in the deployment's namespace
    stop = asyncio.Event()
    polls = {"db": 0, "store": 0}
    stats = {"longest_wait": 0.0}
    # One consistent snapshot per poll: the waiting chats, and our CSRs who are Available with
    # fewer chats than their capacity (no departments here: every CSR may take every chat).
    waiting_sql = "SELECT id FROM conversation WHERE status = 'waiting' AND offered_to_id IS NULL"
    room_sql = """
        SELECT u.id FROM app_user u WHERE u.id = ANY($1::int[]) AND u.status = 'available'
        AND (SELECT count(*) FROM conversation h WHERE h.agent_id = u.id AND h.status = 'assigned') < $2
    """

    async def explain(cid: int) -> str:
        """What the database and the store said about the chat and the CSRs with room (to diagnose)."""
        rows = await db.fetch(
            "SELECT u.id, u.status, (SELECT count(*) FROM conversation h WHERE h.agent_id = u.id "
            "AND h.status = 'assigned') AS load FROM app_user u WHERE u.id = ANY($1::int[])", agent_ids)
        room = [r["id"] for r in rows if r["status"] == "available" and r["load"] < CAPACITY]
        pad = f"{cid:012d}"
        out = [f"store: queue score {await store.zscore(prefix + 'q:g', pad)}, "
               f"holder {await store.hget(prefix + 'holder', pad)}"]
        for aid in room:
            load = next(r["load"] for r in rows if r["id"] == aid)
            agent_hash = await store.hgetall(f"{prefix}a:{aid}")
            held = await store.zrange(f"{prefix}held:{aid}", 0, -1, withscores=True)
            ranked = await store.zscore(prefix + "aq:g", f"{aid:012d}")
            out.append(f"CSR {aid}: database load {load}; store {agent_hash}, held {held}, aq:g {ranked}")
        return "; ".join(out)

    async def watch_database():
        """A chat that has waited, unbroken, for longer than a tick plus the margin while one CSR had
        room all along (every poll in that window) is a routing stall. Not merely slow: routing
        serves the CSR who has been idle longest first, so that CSR stays empty only if routing
        stops deciding."""
        waiting_since: dict[int, float] = {}
        room_since: dict[int, float] = {}
        limit = TICK_SECONDS + MARGIN_SECONDS
        while not stop.is_set():
            now = time.monotonic()
            async with db.transaction(isolation="repeatable_read", readonly=True):
                waiting = {r["id"] for r in await db.fetch(waiting_sql)}
                room = {r["id"] for r in await db.fetch(room_sql, agent_ids, CAPACITY)}
            polls["db"] += 1
            waiting_since = {cid: waiting_since.get(cid, now) for cid in waiting}
            room_since = {aid: room_since.get(aid, now) for aid in room}
            # Had room at every poll of the window, and received no chat in it (a chat given and
            # closed between two polls would not show in the database).
            free_since = {aid: max(since, last_given.get(aid, 0.0)) for aid, since in room_since.items()}
            stats["longest_wait"] = max([stats["longest_wait"], *(now - s for s in waiting_since.values())])
            for cid, since in waiting_since.items():
                idle = [aid for aid, free in free_since.items() if now - max(since, free) > limit]
                if idle:
                    violations.append(f"conversation {cid} waited {now - since:.1f}s, CSRs {idle} with room "
                                      f"all along for more than {limit}s of it; {await explain(cid)}")
                    waiting_since[cid] = float("inf")  # report once
            await asyncio.sleep(0.1)

    async def watch_store():
        while not stop.is_set():
            async with store.pipeline(transaction=True) as pipe:  # MULTI/EXEC: one atomic snapshot
                for aid in agent_ids:
                    pipe.zrange(f"{prefix}held:{aid}", 0, -1)
                pipe.hgetall(f"{prefix}holder")
                *held, holders = await pipe.execute()
            polls["store"] += 1
            holders = {int(k): int(v) for k, v in holders.items()}
            seen: dict[int, int] = {}
            for aid, chats in zip(agent_ids, held):
                if len(chats) > CAPACITY:
                    violations.append(f"store: CSR {aid} holds {len(chats)} chats")
                for member in chats:
                    cid = int(member)
                    if cid in seen:
                        violations.append(f"store: conversation {cid} held by CSRs {seen[cid]} and {aid}")
                    seen[cid] = aid
                    if holders.get(cid) != aid:
                        violations.append(f"store: CSR {aid} holds {cid}, whose holder is {holders.get(cid)}")
            await asyncio.sleep(0.05)

    async def work(me: int, agent: clients.Client):
        handled: set[int] = set()
        while not stop.is_set():
            chat = await agent.rec.wait_for("conversation.assigned", lambda c: c["id"] not in handled, timeout=120)
            handled.add(chat["id"])
            ack = await agent.call("message", {"conversation_id": chat["id"], "client_id": new_id(),
                                               "body": "Hello, how can I help?"})
            if not ack.get("ok"):
                violations.append(f"reply refused: {ack}")
            await asyncio.sleep(rng.uniform(0.5, 1.5))  # scenario: the chat lasts a moment
            holding.pop(chat["id"], None)  # released before the close, so a re-assignment after it counts too
            closed = await agent.call("close", {"conversation_id": chat["id"]})
            if not closed.get("ok"):
                violations.append(f"close refused: {closed}")

    watchers = [asyncio.create_task(watch_database()), asyncio.create_task(watch_store())]
    for agent in agents.values():
        assert (await agent.call("set_status", {"status": "available"}))["ok"]
    workers = [asyncio.create_task(work(me, agent)) for me, agent in agents.items()]

    async def visit(i: int):
        await asyncio.sleep(rng.uniform(0, 2))  # scenario: arrivals spread over two seconds
        visitor = await clients.visitor(deployment.servers[i % 2].url, deployment.site_key, deployment.origin)
        try:
            ack = await visitor.call("message", {"client_id": new_id(), "body": f"Question {i}"}, timeout=30)
            assert ack["ok"], ack
            await visitor.rec.wait_for("message", lambda m: m["sender"] == "agent", timeout=60)
            return ack["conversation_id"]
        finally:
            await visitor.disconnect()

    try:
        visits = await asyncio.gather(*(visit(i) for i in range(VISITORS)), return_exceptions=True)
    finally:
        stop.set()
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        await asyncio.gather(*watchers)
    try:
        assert violations == []  # first: a stall shows here with its diagnosis, not as a visitor's timeout
        assert [v for v in visits if isinstance(v, BaseException)] == []
        assert polls["db"] > 10 and polls["store"] > 10  # the watchers did watch
        # Chats did queue for longer than the limit (so the wait check had something to check).
        assert stats["longest_wait"] > TICK_SECONDS + MARGIN_SECONDS, stats
        conversation_ids = set(visits)
        assert len(conversation_ids) == VISITORS
        assert conversation_ids <= set(first_holder)
        rows = await db.fetch("SELECT conversation_id, count(*) AS n FROM conversation_event WHERE kind = 'assigned' "
                              "GROUP BY conversation_id")
        assert {r["conversation_id"]: r["n"] for r in rows if r["conversation_id"] in conversation_ids} == \
            {cid: 1 for cid in conversation_ids}
        assert await db.fetchval("SELECT count(*) FROM conversation WHERE status = 'waiting'") == 0
    finally:
        await db.close()
        await store.aclose()
        for agent in agents.values():
            await clients.sign_off(agent)
            await agent.disconnect()
