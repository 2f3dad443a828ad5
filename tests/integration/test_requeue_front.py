"""After a CSR's disconnect grace period their chats go back to the FRONT of the queue: ahead of
chats that were requested after them, though those have been waiting in the queue all along —
on SQLite and on PostgreSQL + Redis with two workers."""

from __future__ import annotations

import json

import pytest

from tests.support import clients
from tests.support.clients import new_id
from tests.support.server import cli, deploy

GRACE = 1.5
REQUEUED = "We are connecting you to someone else…"


@pytest.fixture(params=["sqlite", "postgres+redis x2"], scope="module")
def short_grace(request, new_postgres_database, redis_url):
    env = {"AGENT_DISCONNECT_GRACE_SECONDS": str(GRACE)}
    if request.param == "sqlite":
        deployment = deploy(database_url=None, redis_url=None, processes=1, extra_env=env)
    else:
        deployment = deploy(database_url=new_postgres_database(), redis_url=redis_url, processes=2,
                            extra_env=env)
    yield deployment
    deployment.stop()


async def test_a_requeued_chat_is_served_before_later_chats_that_waited(short_grace):
    d = short_grace
    tag = new_id()[:6]
    first, second = f"rq-ana-{tag}@example.com", f"rq-ben-{tag}@example.com"
    d.create_user(first, "agent", f"Ana {tag}", max_chats=1)
    d.create_user(second, "agent", f"Ben {tag}", max_chats=1)
    # A queue of its own, so nobody outside this test can take its chats.
    department = json.loads(cli(d.env, "create-department", "--site", d.site_key, "--name", f"Front {tag}",
                                "--member", first, "--member", second, "--json"))["id"]
    ana = await clients.agent(d.servers[0].url, first, d.password)
    visitors: list[clients.Client] = []
    ben = None

    async def ask(body: str) -> int:
        visitor = await clients.visitor(d.servers[-1].url, d.site_key, d.origin)
        visitors.append(visitor)
        ack = await visitor.call("message", {"client_id": new_id(), "body": body, "department_id": department})
        assert ack["ok"], ack
        return ack["conversation_id"]

    try:
        assert (await ana.call("set_status", {"status": "available"}))["ok"]
        x = await ask("X: my parcel is lost")
        await ana.rec.wait_for("conversation.assigned", lambda c: c["id"] == x)
        # Ana is full (capacity 1) and Ben is not signed in: Y and Z wait, in this order.
        y = await ask("Y: do you ship to Norway?")
        z = await ask("Z: is there a student discount?")
        vx, vy, vz = visitors
        await vy.rec.wait_for("queue", lambda q: q.get("conversation_id") == y and q.get("position") == 1)
        await vz.rec.wait_for("queue", lambda q: q.get("conversation_id") == z and q.get("position") == 2)

        await ana.disconnect()  # her console is gone, and stays gone
        # After the grace period X is back in the queue — at its front, ahead of Y and Z.
        await vx.rec.wait_for("message", lambda m: m["body"] == REQUEUED, timeout=GRACE + 10)
        await vx.rec.wait_for("queue", lambda q: q.get("conversation_id") == x and q.get("position") == 1)
        await vy.rec.wait_for("queue", lambda q: q.get("conversation_id") == y and q.get("position") == 2)

        # Ben becomes Available with room for one chat: he gets X, not Y.
        ben = await clients.agent(d.servers[-1].url, second, d.password)
        assert (await ben.call("set_status", {"status": "available"}))["ok"]
        got = await ben.rec.wait_for("conversation.assigned")
        assert got["id"] == x, f"Ben got {got['id']} first; expected the re-queued X={x} (Y={y}, Z={z})"
        opened = await ben.call("open", {"conversation_id": x})
        assert "X: my parcel is lost" in [m["body"] for m in opened["messages"]]
        # Then the rest in their order: Y before Z.
        assert (await ben.call("close", {"conversation_id": x}))["ok"]
        got = await ben.rec.wait_for("conversation.assigned", lambda c: c["id"] != x)
        assert got["id"] == y
        assert (await ben.call("close", {"conversation_id": y}))["ok"]
        await ben.rec.wait_for("conversation.assigned", lambda c: c["id"] == z)
        assert [c["id"] for c in ben.rec.of("conversation.assigned")] == [x, y, z]
    finally:
        if ben is not None:
            await ben.call("close", {"conversation_id": z})
            await ben.call("set_status", {"status": "offline"})
            await ben.disconnect()
        for visitor in visitors:
            await visitor.disconnect()
