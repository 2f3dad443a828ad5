"""A waiting visitor is told their place in the queue and an estimated wait, live."""

from __future__ import annotations

import json

from tests.support import clients
from tests.support.clients import new_id
from tests.support.server import cli


async def test_waiting_visitors_learn_their_place_and_it_moves_up(deployment):
    tag = new_id()[:6]
    email = f"quinn-{tag}@example.com"
    deployment.create_user(email, "agent", f"Quinn {tag}", max_chats=1)
    queue_id = json.loads(cli(deployment.env, "create-department", "--site", deployment.site_key,
                              "--name", f"Line {tag}", "--member", email, "--json"))["id"]
    agent = await clients.agent(deployment.servers[0].url, email, deployment.password)
    visitors = []
    try:
        for i in range(3):
            visitor = await clients.visitor(deployment.servers[-1].url, deployment.site_key, deployment.origin)
            ack = await visitor.call("message", {"client_id": new_id(), "body": f"Visitor {i}",
                                                 "department_id": queue_id})
            visitors.append((visitor, ack["conversation_id"]))
        # Nobody is Available: places 1, 2, 3 and no estimate yet (nothing was served recently).
        for position, (visitor, cid) in enumerate(visitors, start=1):
            place = await visitor.rec.wait_for("queue", lambda q, cid=cid, p=position:
                                               q["conversation_id"] == cid and q["position"] == p)
            assert place["eta_seconds"] is None
        # A reconnecting visitor gets the place in its session, too.
        third, third_id = visitors[2]
        token = third.rec.of("session")[0]["token"]
        again = await clients.visitor(deployment.servers[0].url, deployment.site_key, deployment.origin, token=token)
        session = again.rec.of("session")[0]
        assert session["conversation"]["id"] == third_id
        assert session["conversation"]["queue"] == {"position": 3, "eta_seconds": None}
        await again.disconnect()

        # Quinn takes the first chat: the others move up, with an estimate from the current service rate.
        assert (await agent.call("set_status", {"status": "available"}))["ok"]
        first_id = visitors[0][1]
        await agent.rec.wait_for("conversation.assigned", lambda c: c["id"] == first_id)
        second, second_id = visitors[1]
        # (A worker's pass may tell the new place a moment before the assignment's event is written,
        # without an estimate; the estimate follows with the next pass.)
        moved = await second.rec.wait_for("queue", lambda q: q["conversation_id"] == second_id
                                          and q["position"] == 1 and q["eta_seconds"] is not None)
        assert isinstance(moved["eta_seconds"], int) and moved["eta_seconds"] > 0
        await third.rec.wait_for("queue", lambda q: q["conversation_id"] == third_id and q["position"] == 2)
        # Assigned chats carry no place.
        first = visitors[0][0]
        synced = await first.call("sync", {"conversation_id": first_id, "after_seq": 0})
        assert synced["conversation"]["queue"] is None
        # No visitor is ever told about someone else's chat.
        for visitor, cid in visitors:
            assert all(q["conversation_id"] == cid for q in visitor.rec.of("queue"))
    finally:
        for visitor, cid in visitors:
            await visitor.call("close", {"conversation_id": cid})
            await visitor.disconnect()
        await clients.sign_off(agent)
        await agent.disconnect()
