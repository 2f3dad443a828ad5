"""Queues as a visitor and a CSR meet them: choosing a department, sticky agents, manual
(pooled) queues where CSRs pick chats themselves — on SQLite and on PostgreSQL + Redis x2."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.support import clients
from tests.support.clients import new_id
from tests.support.server import cli, deploy


def code(ack) -> str | None:
    return None if ack.get("ok") else ack["error"]["code"]


def department(deployment, name: str, *members: str, strategy: str = "longest_idle", sticky: int = 0) -> int:
    args = ["create-department", "--site", deployment.site_key, "--name", name, "--strategy", strategy,
            "--sticky-seconds", str(sticky), "--json"]
    for member in members:
        args += ["--member", member]
    return json.loads(cli(deployment.env, *args))["id"]


async def staff(deployment, *names: str, max_chats: int = 3, server: int = 0):
    tag = new_id()[:6]
    out = []
    for name in names:
        email = f"{name.lower()}-{tag}@example.com"
        deployment.create_user(email, "agent", f"{name} {tag}", max_chats=max_chats)
        out.append((email, await clients.agent(deployment.servers[server % len(deployment.servers)].url, email,
                                               deployment.password)))
        server += 1
    return out


async def ask(deployment, body: str, token: str | None = None, **extra):
    visitor = await clients.visitor(deployment.servers[-1].url, deployment.site_key, deployment.origin, token=token)
    ack = await visitor.call("message", {"client_id": new_id(), "body": body, **extra})
    return visitor, ack


async def teardown(*agents, conversations=()):
    for agent in agents:
        for cid in conversations:
            await agent.call("close", {"conversation_id": cid})
        await agent.call("set_status", {"status": "offline"})
        await agent.disconnect()


async def test_the_visitor_chooses_a_department(deployment):
    (sales_email, sales), (support_email, support) = await staff(deployment, "Sally", "Sven")
    sales_id = department(deployment, f"Sales {new_id()[:6]}", sales_email)
    department(deployment, f"Support {new_id()[:6]}", support_email)
    for agent in (sales, support):
        await agent.call("set_status", {"status": "available"})
    visitor, ack = await ask(deployment, "Do you do group discounts?", department_id=sales_id)
    assert ack["ok"], ack
    cid = ack["conversation_id"]
    assigned = await sales.rec.wait_for("conversation.assigned", lambda c: c["id"] == cid)
    assert assigned["department"] == sales_id
    assert not any(c["id"] == cid for c in support.rec.of("conversation.assigned"))
    await visitor.disconnect()
    await teardown(sales, support, conversations=[cid])


@pytest.mark.parametrize("department_id, expected", [("7", "bad_request"), (True, "bad_request"), (0, "bad_request"),
                                                     (10**12, "bad_request"), (987654, "not_found")])
async def test_a_wrong_department_is_refused_and_nothing_is_stored(deployment, department_id, expected):
    visitor, ack = await ask(deployment, "Hello?", department_id=department_id)
    try:
        assert code(ack) == expected
        assert visitor.connected
        # Nothing was started: the history is empty and the next message starts the first conversation.
        assert (await visitor.call("history", {}))["conversations"] == []
    finally:
        await visitor.disconnect()


async def test_another_sites_department_is_not_found(deployment):
    other_site = json.loads(cli(deployment.env, "create-site", "--name", f"Other {new_id()[:6]}",
                                "--origin", "https://other.example.org", "--json"))
    foreign = json.loads(cli(deployment.env, "create-department", "--site", other_site["key"],
                             "--name", "Foreign", "--json"))["id"]
    ours = department(deployment, f"Ours {new_id()[:6]}")
    visitor, ack = await ask(deployment, "Hi", department_id=foreign)
    try:
        assert code(ack) == "not_found"
        ack = await visitor.call("message", {"client_id": new_id(), "body": "Hi", "department_id": ours})
        assert ack["ok"]
        await visitor.call("close", {"conversation_id": ack["conversation_id"]})
    finally:
        await visitor.disconnect()


async def test_a_returning_visitor_waits_for_their_csr_then_gets_them(deployment):
    (ann_email, ann), (bob_email, bob) = await staff(deployment, "Ann", "Bob", max_chats=1)
    sticky_id = department(deployment, f"Sticky {new_id()[:6]}", ann_email, bob_email, sticky=60)
    await ann.call("set_status", {"status": "available"})
    # First visit: Ann helps; the chat closes.
    visitor, ack = await ask(deployment, "Where is order 1001?", department_id=sticky_id)
    first = ack["conversation_id"]
    await ann.rec.wait_for("conversation.assigned", lambda c: c["id"] == first)
    token = visitor.rec.of("session")[0]["token"]
    await ann.call("close", {"conversation_id": first})
    await visitor.disconnect()
    # Ann is now busy with someone else (capacity 1); Bob is free.
    other, ack = await ask(deployment, "Another question", department_id=sticky_id)
    busy = ack["conversation_id"]
    await ann.rec.wait_for("conversation.assigned", lambda c: c["id"] == busy)
    await bob.call("set_status", {"status": "available"})
    # The returning visitor's chat waits for Ann although Bob is free …
    visitor, ack = await ask(deployment, "It is me again", token=token, department_id=sticky_id)
    again = ack["conversation_id"]
    await asyncio.sleep(2.5)  # scenario timing: more than one routing tick passes
    assert not any(c["id"] == again for c in bob.rec.of("conversation.assigned"))
    # … and goes to her as soon as she is free.
    await ann.call("close", {"conversation_id": busy})
    await ann.rec.wait_for("conversation.assigned", lambda c: c["id"] == again)
    await visitor.disconnect()
    await other.disconnect()
    await teardown(ann, bob, conversations=[again])


async def test_manual_queue_csrs_pick_chats_themselves(deployment):
    (pia_email, pia), (max_email, maxi) = await staff(deployment, "Pia", "Max", max_chats=1)
    pool = department(deployment, f"Pool {new_id()[:6]}", pia_email, strategy="manual")
    for agent in (pia, maxi):
        await agent.call("set_status", {"status": "available"})
    visitor, ack = await ask(deployment, "Any humans here?", department_id=pool)
    cid = ack["conversation_id"]
    await pia.rec.wait_for("queue.changed")
    listed = await pia.call("queue", {})
    mine = next(c for c in listed["chats"] if c["id"] == cid)
    assert mine["manual"] is True and mine["department"] == pool and mine["waiting_seconds"] >= 0
    # Not a member: the chat is invisible and cannot be picked.
    assert not any(c["id"] == cid for c in (await maxi.call("queue", {}))["chats"])
    assert code(await maxi.call("pick", {"conversation_id": cid})) == "not_found"
    # Pia picks it; a second pick is refused; with her capacity full she cannot pick another.
    assert (await pia.call("pick", {"conversation_id": cid}))["ok"]
    await pia.rec.wait_for("conversation.assigned", lambda c: c["id"] == cid)
    assert code(await pia.call("pick", {"conversation_id": cid})) == "invalid_state"
    second, ack = await ask(deployment, "Me too", department_id=pool)
    assert code(await pia.call("pick", {"conversation_id": ack["conversation_id"]})) == "unavailable"
    # Bad input.
    for payload in ({}, {"conversation_id": "1"}, {"conversation_id": -1}, [], "x"):
        assert code(await pia.call("pick", payload)) == "bad_request"
    assert code(await pia.call("queue", [])) == "bad_request"
    assert pia.connected
    await visitor.disconnect()
    await second.disconnect()
    await teardown(pia, conversations=[cid, ack["conversation_id"]])
    await teardown(maxi)


async def test_away_csrs_cannot_pick(deployment):
    (ida_email, ida), = await staff(deployment, "Ida")
    pool = department(deployment, f"Pool {new_id()[:6]}", ida_email, strategy="manual")
    visitor, ack = await ask(deployment, "Hello", department_id=pool)
    try:
        assert code(await ida.call("pick", {"conversation_id": ack["conversation_id"]})) == "invalid_state"
    finally:
        await visitor.call("close", {"conversation_id": ack["conversation_id"]})
        await visitor.disconnect()
        await teardown(ida)


async def test_page_rules_pick_the_department_and_its_priority(deployment):
    (rex_email, rex), = await staff(deployment, "Rex", max_chats=1)
    pricing = department(deployment, f"Pricing {new_id()[:6]}", rex_email)
    cli(deployment.env, "create-department", "--site", deployment.site_key, "--name", f"Deals {new_id()[:6]}",
        "--member", rex_email, "--route-page", "/deals/*", "--route-page", "/sale*", "--priority", "50", "--json")
    # An older chat in Pricing, chosen by the visitor …
    first, ack = await ask(deployment, "How much is the tent?", department_id=pricing)
    older = ack["conversation_id"]
    # … and a later one started on a sale page, which the rules send to Deals with priority 50.
    second = await clients.visitor(deployment.servers[0].url, deployment.site_key, deployment.origin)
    assert (await second.call("page_view", {"url": "https://shop.example.com/sale/winter?utm=x"}))["ok"]
    ack = await second.call("message", {"client_id": new_id(), "body": "Is the sale on?"})
    later = ack["conversation_id"]
    await rex.call("set_status", {"status": "available"})
    assigned = await rex.rec.wait_for("conversation.assigned")
    assert assigned["id"] == later  # the priority goes first, although it came later
    assert assigned["department"] != pricing
    await first.call("close", {"conversation_id": older})
    await teardown(rex, conversations=[later])
    for v in (first, second):
        await v.disconnect()


def test_bad_rules_are_refused(sqlite_deployment):
    import subprocess
    import sys

    from tests.support.server import ROOT

    for extra in (["--route-page", "pricing"], ["--priority", "101"], ["--hours", "someday"],
                  ["--max-wait-seconds", "1"]):
        result = subprocess.run([sys.executable, "-m", "app", "create-department", "--site", sqlite_deployment.site_key,
                                 "--name", f"Bad {new_id()[:6]}", *extra], cwd=ROOT, env=sqlite_deployment.env,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 2 and result.stderr.startswith("error:"), (extra, result.stderr)


async def test_a_chat_without_a_topic_goes_to_the_department_of_the_browser_language(deployment):
    (dora_email, dora), (eve_email, eve) = await staff(deployment, "Dora", "Eve")
    tag = new_id()[:6]
    german = json.loads(cli(deployment.env, "create-department", "--site", deployment.site_key, "--name",
                            f"Deutsch {tag}", "--member", dora_email, "--route-language", "de", "--json"))["id"]
    department(deployment, f"English {tag}", eve_email)
    for agent in (dora, eve):
        await agent.call("set_status", {"status": "available"})
    visitor = await clients.visitor(deployment.servers[-1].url, deployment.site_key, deployment.origin,
                                    headers={"Accept-Language": "fr;q=0.2, de-CH, en;q=0.8"})
    try:
        ack = await visitor.call("message", {"client_id": new_id(), "body": "Grüezi, wo ist meine Bestellung?"})
        assert ack["ok"], ack
        cid = ack["conversation_id"]
        assigned = await dora.rec.wait_for("conversation.assigned", lambda c: c["id"] == cid)
        assert assigned["department"] == german
        assert not any(c["id"] == cid for c in eve.rec.of("conversation.assigned"))
    finally:
        await visitor.disconnect()
        await teardown(dora, eve, conversations=[cid])


def test_a_wrong_language_rule_is_refused(deployment):
    with pytest.raises(RuntimeError, match="language is a tag"):
        cli(deployment.env, "create-department", "--site", deployment.site_key, "--name", f"Bad {new_id()[:6]}",
            "--route-language", "<script>")


@pytest.fixture(params=["sqlite", "postgres+redis x2"], scope="module")
def isolated(request, new_postgres_database, redis_url):
    """Deployments no other test leaves chats in: a CSR with room for one chat must get ours."""
    if request.param == "sqlite":
        d = deploy(database_url=None, redis_url=None, processes=1)
    else:
        d = deploy(database_url=new_postgres_database(), redis_url=redis_url, processes=2)
    yield d
    d.stop()


async def test_members_without_a_capacity_of_their_own_get_the_department_default(isolated):
    deployment = isolated
    tag = new_id()[:6]
    email = f"cap-{tag}@example.com"
    deployment.create_user(email, "agent", f"Cara {tag}", max_chats=None)
    single = json.loads(cli(deployment.env, "create-department", "--site", deployment.site_key, "--name",
                            f"One at a time {tag}", "--member", email, "--default-max-chats", "1", "--json"))["id"]
    agent = await clients.agent(deployment.servers[0].url, email, deployment.password)
    await agent.call("set_status", {"status": "available"})
    first, ack1 = await ask(deployment, "First!", department_id=single)
    second, ack2 = await ask(deployment, "Second!", department_id=single)
    one, two = ack1["conversation_id"], ack2["conversation_id"]
    try:
        await agent.rec.wait_for("conversation.assigned", lambda c: c["id"] == one)
        # Capacity 1: the second waits, and its place in the queue says so.
        await second.rec.wait_for("queue", lambda q: q.get("conversation_id") == two and q.get("position") == 1)
        assert not any(c["id"] == two for c in agent.rec.of("conversation.assigned"))
        await agent.call("close", {"conversation_id": one})
        await agent.rec.wait_for("conversation.assigned", lambda c: c["id"] == two)
    finally:
        for visitor in (first, second):
            await visitor.disconnect()
        await teardown(agent, conversations=[two])
