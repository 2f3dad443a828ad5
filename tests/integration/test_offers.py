"""Offer and accept: a chat is offered to one CSR at a time; declined or unanswered offers go to
the next; a CSR who misses offers in a row is set Away — on SQLite and PostgreSQL + Redis x2."""

from __future__ import annotations

import json

from tests.support import clients
from tests.support.clients import new_id
from tests.support.server import cli

OFFER_SECONDS = 8  # the steps taken while an offer is open fit in it on a busy machine


def code(ack) -> str | None:
    return None if ack.get("ok") else ack["error"]["code"]


async def setup(deployment, missed_limit: int = 3):
    tag = new_id()[:6]
    emails = [f"olga-{tag}@example.com", f"omar-{tag}@example.com"]
    for email, name in zip(emails, ("Olga", "Omar")):
        deployment.create_user(email, "agent", f"{name} {tag}")
    args = ["create-department", "--site", deployment.site_key, "--name", f"Offers {tag}",
            "--offer-seconds", str(OFFER_SECONDS), "--missed-offers-limit", str(missed_limit), "--json"]
    for email in emails:
        args += ["--member", email]
    department_id = json.loads(cli(deployment.env, *args))["id"]
    olga = await clients.agent(deployment.servers[0].url, emails[0], deployment.password)
    omar = await clients.agent(deployment.servers[-1].url, emails[1], deployment.password)
    return department_id, olga, omar


async def ask(deployment, department_id):
    visitor = await clients.visitor(deployment.servers[-1].url, deployment.site_key, deployment.origin)
    ack = await visitor.call("message", {"client_id": new_id(), "body": "Can I pay by invoice?",
                                         "department_id": department_id})
    return visitor, ack["conversation_id"]


async def finish(visitor, cid, *agents):
    await visitor.call("close", {"conversation_id": cid})
    await visitor.disconnect()
    for agent in agents:
        await agent.call("set_status", {"status": "offline"})
        await agent.disconnect()


async def test_declined_offer_goes_to_the_next_csr_who_accepts(deployment):
    department_id, olga, omar = await setup(deployment)
    await olga.call("set_status", {"status": "available"})
    visitor, cid = await ask(deployment, department_id)
    offer = await olga.rec.wait_for("conversation.offered", lambda c: c["id"] == cid)
    assert offer["offer_seconds"] == OFFER_SECONDS and offer["offer_expires_at"]
    # Still waiting for the visitor, who keeps their place.
    assert (await visitor.call("sync", {"conversation_id": cid, "after_seq": 0}))["conversation"]["status"] == "waiting"
    # Omar cannot take what is on offer to Olga.
    await omar.call("set_status", {"status": "available"})
    assert code(await omar.call("accept", {"conversation_id": cid})) == "not_found"
    assert code(await omar.call("pick", {"conversation_id": cid})) == "invalid_state"

    assert (await olga.call("decline", {"conversation_id": cid}))["ok"]
    await olga.rec.wait_for("conversation.offer_withdrawn", lambda w: w["conversation_id"] == cid
                            and w["reason"] == "declined")
    await omar.rec.wait_for("conversation.offered", lambda c: c["id"] == cid)
    assert code(await olga.call("accept", {"conversation_id": cid})) == "invalid_state"  # hers no more
    assert (await omar.call("accept", {"conversation_id": cid}))["ok"]
    assigned = await omar.rec.wait_for("conversation.assigned", lambda c: c["id"] == cid)
    assert assigned["agent_id"] is not None
    await visitor.rec.wait_for("conversation", lambda c: c["id"] == cid and c["status"] == "assigned")
    assert code(await omar.call("accept", {"conversation_id": cid})) == "invalid_state"  # twice
    await finish(visitor, cid, olga, omar)


async def test_unanswered_offers_move_on_and_serial_missers_go_away(deployment):
    department_id, olga, omar = await setup(deployment, missed_limit=1)
    await olga.call("set_status", {"status": "available"})
    visitor, cid = await ask(deployment, department_id)
    await olga.rec.wait_for("conversation.offered", lambda c: c["id"] == cid)
    await omar.call("set_status", {"status": "available"})
    # Olga does not answer: the offer runs out, she is set Away, and Omar gets the offer.
    await olga.rec.wait_for("conversation.offer_withdrawn", lambda w: w["conversation_id"] == cid
                            and w["reason"] == "expired", timeout=OFFER_SECONDS + 8)
    await olga.rec.wait_for("status", lambda s: s["status"] == "away")
    await omar.rec.wait_for("conversation.offered", lambda c: c["id"] == cid, timeout=OFFER_SECONDS + 8)
    assert code(await olga.call("accept", {"conversation_id": cid})) == "invalid_state"
    assert (await omar.call("accept", {"conversation_id": cid}))["ok"]
    await finish(visitor, cid, olga, omar)


async def test_offer_events_refuse_bad_input(deployment):
    _, olga, _omar = await setup(deployment)
    try:
        for event in ("accept", "decline"):
            for payload in ({}, {"conversation_id": "3"}, {"conversation_id": 0}, {"conversation_id": 2**40}, [], None):
                assert code(await olga.call(event, payload)) == "bad_request", (event, payload)
            assert code(await olga.call(event, {"conversation_id": 987654321})) == "not_found"
        assert olga.connected
    finally:
        for agent in (olga, _omar):
            await agent.disconnect()
