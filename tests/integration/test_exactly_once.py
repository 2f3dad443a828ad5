"""Exactly one open conversation per visitor, and each message stored once, however the visitor's
sockets race: two tabs of the same visitor (the same token) on different workers sending their
first message at the same moment, the same client_id from both, or one tab sending its second
message before the first is acknowledged.

Each race runs for several visitors in turn, so that the interleaving that breaks a check-then-
insert actually happens. A supervisor reads the outcome through `open` (which any supervisor may
do, so no routing is involved), and the database says how many conversations are open.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.support import clients
from tests.support.clients import new_id
from tests.support.db import fetch

ROUNDS = 5
OPEN = ("waiting", "assigned")


@pytest.fixture
async def supervisor(deployment):
    """A supervisor of this test's own (Offline throughout: no chat is routed to them)."""
    tag = new_id()[:8]
    email = f"once-sup-{tag}@example.com"
    deployment.create_user(email, "supervisor", f"Una {tag}")
    client = await clients.agent(deployment.servers[0].url, email, deployment.password)
    yield client
    await client.disconnect()


async def two_tabs(deployment) -> tuple[clients.Client, clients.Client, str]:
    """One visitor with a tab on each worker (the second tab carries the token the first got)."""
    first = await clients.visitor(deployment.servers[0].url, deployment.site_key, deployment.origin)
    session = first.rec.of("session")[0]
    second = await clients.visitor(deployment.servers[-1].url, deployment.site_key, deployment.origin,
                                   token=session["token"])
    assert second.rec.of("session")[0]["visitor_id"] == session["visitor_id"]
    return first, second, session["visitor_id"]


async def open_conversations_in_db(deployment, visitor_id: str) -> list[int]:
    rows = await fetch(deployment, "SELECT id FROM conversation WHERE visitor_id = ? AND status IN ('waiting', "
                                   "'assigned') ORDER BY id", visitor_id)
    return [r["id"] for r in rows]


async def check_one_open(deployment, supervisor: clients.Client, visitor_id: str, cid: int) -> dict:
    """The chat `cid` is the visitor's only open one — in the supervisor's `open` reply and in the
    database. Returns the `open` reply."""
    opened = await supervisor.call("open", {"conversation_id": cid})
    assert opened["ok"], opened
    assert opened["conversation"]["visitor_id"] == visitor_id
    assert opened["conversation"]["status"] in OPEN
    also_open = [c["id"] for c in opened["past"] if c["status"] in OPEN]
    assert also_open == [], f"visitor {visitor_id} has other open conversations besides {cid}: {also_open}"
    assert await open_conversations_in_db(deployment, visitor_id) == [cid]
    return opened


def visitor_messages(opened: dict) -> list[dict]:
    return [m for m in opened["messages"] if m["sender"] == "visitor"]


async def finish(visitor_tabs: list[clients.Client]) -> None:
    """Close whatever the visitor has open (a failed race may have opened two), then leave."""
    if visitor_tabs[0].connected:
        history = await visitor_tabs[0].call("history", {})
        for conversation in history.get("conversations", []):
            if conversation["status"] in OPEN:
                await visitor_tabs[0].call("close", {"conversation_id": conversation["id"]})
    for tab in visitor_tabs:
        if tab.connected:
            await tab.disconnect()


async def test_two_tabs_on_two_workers_start_one_conversation(deployment, supervisor):
    for round_ in range(ROUNDS):
        first, second, visitor_id = await two_tabs(deployment)
        try:
            ids = (new_id(), new_id())
            bodies = (f"From tab one, round {round_}", f"From tab two, round {round_}")
            acks = await asyncio.gather(
                first.call("message", {"client_id": ids[0], "body": bodies[0]}),
                second.call("message", {"client_id": ids[1], "body": bodies[1]}),
            )
            assert all(a.get("ok") for a in acks), f"round {round_}: {acks}"
            assert acks[0]["conversation_id"] == acks[1]["conversation_id"], f"round {round_}: {acks}"
            cid = acks[0]["conversation_id"]
            assert acks[0]["seq"] != acks[1]["seq"]
            opened = await check_one_open(deployment, supervisor, visitor_id, cid)
            stored = visitor_messages(opened)
            assert sorted(m["client_id"] for m in stored) == sorted(ids), stored
            assert sorted(m["body"] for m in stored) == sorted(bodies)
            # The visitor's own numbering (sync) carries both, once each, as acknowledged.
            synced = await first.call("sync", {"conversation_id": cid, "after_seq": 0})
            mine = [m for m in synced["messages"] if m["sender"] == "visitor"]
            assert sorted((m["client_id"], m["seq"]) for m in mine) == \
                sorted(((ids[0], acks[0]["seq"]), (ids[1], acks[1]["seq"])))
        finally:
            await finish([first, second])


async def test_the_same_client_id_from_two_tabs_is_stored_once(deployment, supervisor):
    for round_ in range(ROUNDS):
        first, second, visitor_id = await two_tabs(deployment)
        try:
            client_id = new_id()
            body = f"Sent from both tabs, round {round_}"
            acks = await asyncio.gather(
                first.call("message", {"client_id": client_id, "body": body}),
                second.call("message", {"client_id": client_id, "body": body}),
            )
            assert all(a.get("ok") for a in acks), f"round {round_}: {acks}"
            assert acks[0]["conversation_id"] == acks[1]["conversation_id"], f"round {round_}: {acks}"
            assert acks[0]["seq"] == acks[1]["seq"], f"round {round_}: {acks}"
            cid = acks[0]["conversation_id"]
            opened = await check_one_open(deployment, supervisor, visitor_id, cid)
            stored = visitor_messages(opened)
            assert [m["client_id"] for m in stored] == [client_id], stored
            synced = await second.call("sync", {"conversation_id": cid, "after_seq": 0})
            mine = [m for m in synced["messages"] if m["sender"] == "visitor"]
            assert [(m["client_id"], m["seq"]) for m in mine] == [(client_id, acks[0]["seq"])]
            rows = await fetch(deployment, "SELECT count(*) AS n FROM message WHERE client_id = ?", client_id)
            assert rows[0]["n"] == 1
        finally:
            await finish([first, second])


async def test_a_second_message_before_the_first_ack_joins_the_same_conversation(deployment, supervisor):
    for round_ in range(ROUNDS):
        tab = await clients.visitor(deployment.servers[round_ % len(deployment.servers)].url, deployment.site_key,
                                    deployment.origin)
        visitor_id = tab.rec.of("session")[0]["visitor_id"]
        try:
            ids = (new_id(), new_id())
            bodies = (f"Hello, round {round_}", f"Are you there? round {round_}")
            acks = await asyncio.gather(
                tab.call("message", {"client_id": ids[0], "body": bodies[0]}),
                tab.call("message", {"client_id": ids[1], "body": bodies[1]}),
            )
            assert all(a.get("ok") for a in acks), f"round {round_}: {acks}"
            assert acks[0]["conversation_id"] == acks[1]["conversation_id"], f"round {round_}: {acks}"
            cid = acks[0]["conversation_id"]
            assert acks[0]["seq"] != acks[1]["seq"]
            opened = await check_one_open(deployment, supervisor, visitor_id, cid)
            stored = visitor_messages(opened)
            assert sorted(m["client_id"] for m in stored) == sorted(ids), stored
            synced = await tab.call("sync", {"conversation_id": cid, "after_seq": 0})
            mine = [m for m in synced["messages"] if m["sender"] == "visitor"]
            assert sorted((m["client_id"], m["seq"]) for m in mine) == \
                sorted(((ids[0], acks[0]["seq"]), (ids[1], acks[1]["seq"])))
        finally:
            await finish([tab])
