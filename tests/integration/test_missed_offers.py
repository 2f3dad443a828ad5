"""Missed offers: a CSR who lets `missed_offers_limit` offers in a row run out is set Away with the
reason "missed offers"; an accepted offer starts the count again — on SQLite and PostgreSQL + Redis x2.

The department has one member, so an offer that ran out comes round to the same CSR again (that
is how routing treats a chat everyone declined): each new offer after a miss also shows that the
server finished handling that miss and left the CSR Available."""

from __future__ import annotations

import asyncio
import json

from tests.support import clients, db
from tests.support.clients import new_id
from tests.support.server import cli

OFFER_SECONDS = 4  # long enough to accept an offer in time on a busy machine
LIMIT = 2
MISSED_OFFERS = "missed offers"  # app/services/offers.py MISSED_OFFERS_REASON


async def setup(deployment, supervisor: str | None = None):
    """A department with one CSR (and `supervisor`, an e-mail, who stays Offline: never offered)."""
    tag = new_id()[:6]
    email = f"mo-{tag}@example.com"
    user = deployment.create_user(email, "agent", f"Mona {tag}")
    department_id = json.loads(cli(
        deployment.env, "create-department", "--site", deployment.site_key, "--name", f"Missed {tag}",
        "--member", email, *(["--member", supervisor] if supervisor else []),
        "--offer-seconds", str(OFFER_SECONDS), "--missed-offers-limit", str(LIMIT), "--json",
    ))["id"]
    agent = await clients.agent(deployment.servers[0].url, email, deployment.password)
    assert (await agent.call("set_status", {"status": "available"}))["ok"]
    return user, department_id, agent


async def ask(deployment, department_id: int):
    visitor = await clients.visitor(deployment.servers[-1].url, deployment.site_key, deployment.origin)
    ack = await visitor.call("message", {"client_id": new_id(), "body": "Is this in stock?",
                                         "department_id": department_id})
    assert ack["ok"], ack
    return visitor, ack["conversation_id"]


def offers_of(agent, cid: int) -> int:
    return sum(1 for c in agent.rec.of("conversation.offered") if c["id"] == cid)


async def miss(agent, cid: int, nth: int) -> None:
    """Wait until the agent's `nth` offer of `cid` runs out unanswered."""
    await agent.rec.wait_for("conversation.offered", lambda c: c["id"] == cid and offers_of(agent, cid) >= nth,
                             timeout=OFFER_SECONDS + 10)
    await agent.rec.wait_for(
        "conversation.offer_withdrawn",
        lambda w: w["conversation_id"] == cid and w["reason"] == "expired"
        and sum(1 for x in agent.rec.of("conversation.offer_withdrawn") if x["conversation_id"] == cid) >= nth,
        timeout=OFFER_SECONDS + 10,
    )


async def missed_count(deployment, user_id: int) -> int:
    return (await db.fetch(deployment, "SELECT missed_offers FROM app_user WHERE id = ?", user_id))[0]["missed_offers"]


async def until_missed(deployment, user_id: int, expected: int, timeout: float = 10.0) -> None:
    """Wait (polling the database) until the server has counted the CSR's misses up to `expected`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (count := await missed_count(deployment, user_id)) != expected:
        assert asyncio.get_running_loop().time() < deadline, f"missed_offers is {count}, expected {expected}"
        await asyncio.sleep(0.05)  # polling for a condition


async def test_missing_the_limit_in_a_row_sets_the_csr_away(deployment):
    boss_email = f"mo-boss-{new_id()[:6]}@example.com"  # supervises the department (app/services/scope.py)
    deployment.create_user(boss_email, "supervisor", "Mo Boss")
    user, department_id, agent = await setup(deployment, supervisor=boss_email)
    visitor, cid = await ask(deployment, department_id)
    try:
        await miss(agent, cid, 1)
        await until_missed(deployment, user["id"], 1)
        # One miss (below the limit): still Available, so the chat comes round to her again.
        await agent.rec.wait_for("conversation.offered", lambda c: c["id"] == cid and offers_of(agent, cid) >= 2,
                                 timeout=OFFER_SECONDS + 10)
        assert not any(s["status"] == "away" for s in agent.rec.of("status"))
        await miss(agent, cid, 2)
        # Two in a row: Away, with the server's reason, and the count starts again.
        status = await agent.rec.wait_for("status", lambda s: s["status"] == "away", timeout=OFFER_SECONDS + 10)
        assert status["reason"] == MISSED_OFFERS
        # The reason is what the board shows, and the chat is not offered to her any more.
        boss = await clients.agent(deployment.servers[-1].url, boss_email, deployment.password)
        try:
            board = {a["id"]: a for a in (await boss.call("board", {}))["agents"]}
            assert (board[user["id"]]["status"], board[user["id"]]["reason"]) == ("away", MISSED_OFFERS)
        finally:
            await boss.disconnect()
        await until_missed(deployment, user["id"], 0)  # the count starts again
        sync = await visitor.call("sync", {"conversation_id": cid, "after_seq": 0})
        assert sync["conversation"]["status"] == "waiting"
        assert offers_of(agent, cid) == 2
    finally:
        await visitor.call("close", {"conversation_id": cid})
        await visitor.disconnect()
        await clients.sign_off(agent)
        await agent.disconnect()


async def test_an_accepted_offer_resets_the_count(deployment):
    user, department_id, agent = await setup(deployment)
    first, one = await ask(deployment, department_id)
    second = two = None
    try:
        # Miss one …
        await miss(agent, one, 1)
        await until_missed(deployment, user["id"], 1)
        # … accept one (the same chat, offered again) …
        await agent.rec.wait_for("conversation.offered", lambda c: c["id"] == one and offers_of(agent, one) >= 2,
                                 timeout=OFFER_SECONDS + 10)
        assert (await agent.call("accept", {"conversation_id": one}))["ok"]
        await agent.rec.wait_for("conversation.assigned", lambda c: c["id"] == one)
        assert await missed_count(deployment, user["id"]) == 0
        # … miss one: one miss since the accept, below the limit of two, so still Available —
        # the chat comes round to her again rather than her being set Away.
        second, two = await ask(deployment, department_id)
        await miss(agent, two, 1)
        await until_missed(deployment, user["id"], 1)  # counted (from 0 after the accept)
        await agent.rec.wait_for("conversation.offered", lambda c: c["id"] == two and offers_of(agent, two) >= 2,
                                 timeout=OFFER_SECONDS + 10)
        assert [s["status"] for s in agent.rec.of("status")][-1] == "available"
        assert not any(s["status"] == "away" for s in agent.rec.of("status"))
        assert await missed_count(deployment, user["id"]) == 1
        assert (await agent.call("accept", {"conversation_id": two}))["ok"]
    finally:
        for visitor, cid in ((first, one), (second, two)):
            if visitor is not None:
                await visitor.call("close", {"conversation_id": cid})
                await visitor.disconnect()
        await clients.sign_off(agent)
        await agent.disconnect()
