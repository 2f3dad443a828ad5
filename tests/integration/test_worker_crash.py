"""A worker killed with SIGKILL loses nothing that must happen later: its presence lease lapses
(its visitors leave the live Visitors list on the other worker, its sockets' presence goes), and
the grace periods its sockets' departures start run on the shared schedule, fired by the worker
that is still alive — its CSR goes Offline and their chat goes to a colleague, its queued
visitor's chat is abandoned. A PostgreSQL + Redis deployment of two workers of this test's own."""

from __future__ import annotations

import asyncio

import pytest
import redis

from tests.support import clients
from tests.support.clients import new_id
from tests.support.db import fetch
from tests.support.server import deploy

# PRESENCE_LEASE_SECONDS: a dead worker's sockets lapse within 1.25 × this; a live worker renews
# every quarter of it, so it may stall for seconds on a busy machine without losing its lease.
LEASE = 6.0
AGENT_GRACE = 4.0
VISITOR_GRACE = 1.0  # shorter than the CSR's: the queued visitor has gone before the colleague is free
WAIT = 30.0  # generous: a busy CI machine


@pytest.fixture
def cluster(new_postgres_database, redis_url):
    env = {"PRESENCE_LEASE_SECONDS": str(LEASE), "AGENT_DISCONNECT_GRACE_SECONDS": str(AGENT_GRACE),
           "VISITOR_ABANDON_GRACE_SECONDS": str(VISITOR_GRACE)}
    deployment = deploy(database_url=new_postgres_database(), redis_url=redis_url, processes=2, extra_env=env)
    yield deployment
    deployment.stop()


async def until(condition, what: str, timeout: float) -> None:
    async def poll():
        while not await condition():
            await asyncio.sleep(0.1)  # polling a condition, not synchronising by time
    try:
        await asyncio.wait_for(poll(), timeout)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def test_a_killed_workers_csr_and_queued_visitor_are_handled_by_the_live_one(cluster):
    d = cluster
    live_worker, doomed = d.servers
    store = redis.Redis.from_url(d.env["REDIS_URL"])
    prefix = d.redis_prefix
    presence = prefix + "presence:visitors"
    d.create_user("gone@example.com", "agent", "Gus Gone", max_chats=1)
    d.create_user("next@example.com", "agent", "Nico Next", max_chats=1)

    boss = await clients.agent(live_worker.url, "boss@example.com", d.password)
    watching = await boss.call("visitors", {})
    assert watching["ok"], watching
    gone = await clients.agent(doomed.url, "gone@example.com", d.password)
    colleague = await clients.agent(live_worker.url, "next@example.com", d.password)
    assert (await gone.call("set_status", {"status": "available"}))["ok"]
    # A visitor on the live worker chats with the CSR on the worker that will die …
    chatting = await clients.visitor(live_worker.url, d.site_key, d.origin)
    held = (await chatting.call("message", {"client_id": new_id(), "body": "Is the tent waterproof?"}))
    held = held["conversation_id"]
    await gone.rec.wait_for("conversation.assigned", lambda c: c["id"] == held, timeout=WAIT)
    # … and a visitor on that worker waits in the queue (the CSR is full, the colleague Offline).
    queued = await clients.visitor(doomed.url, d.site_key, d.origin)
    queued_id = queued.rec.of("session")[0]["visitor_id"]
    waiting = (await queued.call("message", {"client_id": new_id(), "body": "Hello?"}))["conversation_id"]
    await boss.rec.wait_for("visitors.delta", lambda delta: any(r["id"] == queued_id for r in delta["upsert"]),
                            timeout=WAIT)
    gone_id = d.users["gone@example.com"]["id"]
    assert int(store.hget(presence, f"agent:{gone_id}")) == 1 and int(store.hget(presence, queued_id)) == 1

    doomed.proc.kill()  # SIGKILL: no disconnect handler runs, nothing is decremented
    doomed.proc.wait(10)

    try:
        # Within the lease bound: the visitor leaves the live list on the live worker's console, and
        # neither the visitor nor the CSR is present any more.
        await boss.rec.wait_for("visitors.delta", lambda delta: queued_id in delta["remove"],
                                timeout=LEASE * 1.25 + WAIT)
        await until(lambda: _absent(store, presence, f"agent:{gone_id}", queued_id), "presence to lapse", WAIT)
        assert queued_id not in [r["id"] for r in (await boss.call("visitors", {}))["visitors"]]

        # After the visitor's grace: their chat was abandoned.
        async def abandoned():
            rows = await fetch(d, "SELECT status FROM conversation WHERE id = ?", waiting)
            return rows[0]["status"] == "closed"
        await until(abandoned, "the queued visitor's chat to be abandoned", VISITOR_GRACE + WAIT)
        kinds = [r["kind"] for r in await fetch(d, "SELECT kind FROM conversation_event WHERE conversation_id = ?",
                                                 waiting)]
        assert kinds.count("abandoned") == 1

        # After the CSR's grace: Offline, and their chat goes to the colleague on the live worker.
        assert (await colleague.call("set_status", {"status": "available"}))["ok"]
        await colleague.rec.wait_for("conversation.assigned", lambda c: c["id"] == held, timeout=AGENT_GRACE + WAIT)
        await chatting.rec.wait_for("message", lambda m: m["body"] == "Nico Next joined the chat.",
                                     timeout=WAIT)
        board = await boss.call("board", {})
        csr = next(a for a in board["agents"] if a["id"] == gone_id)
        assert (csr["status"], csr["reason"], csr["load"]) == ("offline", "disconnected", 0)
        # Exactly once: one re-queue of the held chat, one Offline of the CSR.
        events = await fetch(d, "SELECT kind FROM conversation_event WHERE conversation_id = ?", held)
        assert [r["kind"] for r in events].count("requeued") == 1, events
        offline = await fetch(d, "SELECT status FROM agent_status_event WHERE user_id = ? AND reason = ?",
                              gone_id, "disconnected")
        assert [r["status"] for r in offline] == ["offline"]
    finally:
        await colleague.call("close", {"conversation_id": held})
        for client in (colleague, boss):
            await clients.sign_off(client)
            await client.disconnect()
        await chatting.disconnect()

    # Everyone has gone: no presence is left over, on the live worker's count or the dead one's.
    async def empty():
        return store.hlen(presence) == 0 and not store.keys(prefix + "presence:worker:*")
    await until(empty, "presence counts back to zero", WAIT)
    assert store.zcard(prefix + "presence:workers") == 1  # the live worker's lease only
    store.close()


async def _absent(store, key: str, *members: str) -> bool:
    return all(store.hget(key, member) is None for member in members)
