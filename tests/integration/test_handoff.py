"""Transfer a chat to another CSR or to a department's queue, with a note only staff see."""

from __future__ import annotations

import json

import pytest

from tests.support import clients
from tests.support.clients import new_id
from tests.support.server import cli


def code(ack) -> str | None:
    return None if ack.get("ok") else ack["error"]["code"]


@pytest.fixture
async def team(deployment):
    """Two CSRs on different servers, in a department; a visitor chatting with the first."""
    tag = new_id()[:8]
    first_email, second_email = f"first-{tag}@example.com", f"second-{tag}@example.com"
    first_user = deployment.create_user(first_email, "agent", "Fran First", max_chats=5)
    second_user = deployment.create_user(second_email, "agent", "Sid Second", max_chats=5)
    department = json.loads(cli(deployment.env, "create-department", "--site", deployment.site_key,
                                "--name", f"Billing {tag}", "--member", second_email, "--json"))
    first = await clients.agent(deployment.servers[0].url, first_email, deployment.password)
    second = await clients.agent(deployment.servers[-1].url, second_email, deployment.password)
    await first.call("set_status", {"status": "available"})
    visitor = await clients.visitor(deployment.servers[0].url, deployment.site_key, deployment.origin)
    ack = await visitor.call("message", {"client_id": new_id(), "body": "I was charged twice"})
    conversation_id = ack["conversation_id"]
    await first.rec.wait_for("conversation.assigned", lambda c: c["id"] == conversation_id)
    yield {
        "first": first, "second": second, "visitor": visitor, "conversation_id": conversation_id,
        "first_user": first_user, "second_user": second_user, "department": department,
    }
    for client in (first, second):
        await clients.sign_off(client)
        await client.disconnect()
    await visitor.disconnect()


async def test_transfer_to_a_colleague_with_a_note(team):
    first, second, visitor, cid = team["first"], team["second"], team["visitor"], team["conversation_id"]
    await second.call("set_status", {"status": "available"})
    targets = await first.call("transfer_targets", {"conversation_id": cid})
    listed = {a["id"]: a for a in targets["agents"]}
    assert listed[team["second_user"]["id"]]["status"] == "available"
    assert listed[team["second_user"]["id"]]["load"] == 0 and listed[team["second_user"]["id"]]["capacity"] == 5
    assert team["first_user"]["id"] not in listed
    assert any(d["id"] == team["department"]["id"] for d in targets["departments"])

    ack = await first.call("transfer", {"conversation_id": cid, "to_agent_id": team["second_user"]["id"],
                                        "note": "Refund approved, please confirm the amount"})
    assert ack["ok"], ack
    assigned = await second.rec.wait_for("conversation.assigned", lambda c: c["id"] == cid)
    assert assigned["agent_id"] == team["second_user"]["id"]
    opened = await second.call("open", {"conversation_id": cid})
    bodies = [(m["sender"], m["body"]) for m in opened["messages"]]
    assert ("visitor", "I was charged twice") in bodies
    assert ("internal", "Refund approved, please confirm the amount") in bodies

    joined = await visitor.rec.wait_for("message", lambda m: m["body"] == "Sid Second joined the chat.")
    assert joined["sender"] == "system"
    update = await visitor.rec.wait_for("conversation", lambda c: c["agent"] == {"name": "Sid Second"})
    assert update["id"] == cid
    # The note never reaches the visitor: not live, not on sync, not in history.
    assert all(m["sender"] != "internal" for m in visitor.rec.of("message"))
    synced = await visitor.call("sync", {"conversation_id": cid, "after_seq": 0})
    assert "Refund approved" not in json.dumps(synced)
    assert "Refund approved" not in json.dumps(await visitor.call("history", {}))

    # The first CSR's console is told it is no longer theirs, and can no longer write.
    gone = await first.rec.wait_for("conversation.updated", lambda c: c["id"] == cid)
    assert gone["agent_id"] == team["second_user"]["id"]
    refused = await first.call("message", {"conversation_id": cid, "client_id": new_id(), "body": "still here?"})
    assert code(refused) == "not_found"
    # The new CSR's reply reaches the visitor.
    await second.call("message", {"conversation_id": cid, "client_id": new_id(), "body": "Confirmed: 20 EUR back."})
    await visitor.rec.wait_for("message", lambda m: m["body"] == "Confirmed: 20 EUR back.")


async def test_transfer_to_a_department_requeues_to_its_members(team):
    first, second, visitor, cid = team["first"], team["second"], team["visitor"], team["conversation_id"]
    ack = await first.call("transfer", {"conversation_id": cid, "to_department_id": team["department"]["id"]})
    assert ack["ok"], ack
    notice = await visitor.rec.wait_for("message", lambda m: m["body"].startswith("Transferring you to Billing"))
    assert notice["sender"] == "system"
    # The first CSR is available with free capacity but is not in Billing: it waits for Sid.
    waiting = await visitor.call("sync", {"conversation_id": cid, "after_seq": 0})
    assert waiting["conversation"]["status"] == "waiting"
    await second.call("set_status", {"status": "available"})
    assigned = await second.rec.wait_for("conversation.assigned", lambda c: c["id"] == cid)
    assert assigned["department"] == team["department"]["id"]


async def test_transfers_that_are_refused_change_nothing(deployment, team):
    first, second, visitor, cid = team["first"], team["second"], team["visitor"], team["conversation_id"]
    other_site = json.loads(cli(deployment.env, "create-site", "--name", "Elsewhere", "--origin",
                                "https://elsewhere.example.com", "--json"))
    foreign_department = json.loads(cli(deployment.env, "create-department", "--site", other_site["key"],
                                        "--name", "Theirs", "--json"))
    cases = [
        ({"conversation_id": cid}, "bad_request"),
        ({"conversation_id": cid, "to_agent_id": 1, "to_department_id": 1}, "bad_request"),
        ({"conversation_id": cid, "to_agent_id": "2"}, "bad_request"),
        ({"conversation_id": cid, "to_agent_id": 10**6}, "not_found"),
        ({"conversation_id": cid, "to_agent_id": deployment.users["marketer@example.com"]["id"]}, "not_found"),
        ({"conversation_id": cid, "to_agent_id": team["second_user"]["id"]}, "unavailable"),  # Sid is offline
        ({"conversation_id": cid, "to_agent_id": team["first_user"]["id"]}, "invalid_state"),
        ({"conversation_id": cid, "to_department_id": foreign_department["id"]}, "not_found"),
        ({"conversation_id": cid, "to_department_id": team["department"]["id"], "note": "n" * 2001}, "too_large"),
    ]
    for payload, expected in cases:
        assert code(await first.call("transfer", payload)) == expected, payload
    # Someone else's chat: not theirs to transfer.
    await second.call("set_status", {"status": "available"})
    assert code(await second.call("transfer", {"conversation_id": cid, "to_agent_id": team["first_user"]["id"]})) \
        == "not_found"
    assert code(await second.call("transfer_targets", {"conversation_id": cid})) == "not_found"
    state = await visitor.call("sync", {"conversation_id": cid, "after_seq": 0})
    assert state["conversation"]["status"] == "assigned" and state["conversation"]["agent"] == {"name": "Fran First"}
    assert all(m["sender"] != "system" or "joined" in m["body"] for m in state["messages"])


async def test_warm_transfer_both_stay_until_the_first_leaves(team):
    first, second, visitor, cid = team["first"], team["second"], team["visitor"], team["conversation_id"]
    second_id, first_id = team["second_user"]["id"], team["first_user"]["id"]
    await second.call("set_status", {"status": "available"})
    ack = await first.call("transfer", {"conversation_id": cid, "to_agent_id": second_id, "warm": True,
                                        "note": "Customer wants the invoice re-issued"})
    assert ack["ok"], ack
    joined = await second.rec.wait_for("conversation.assigned", lambda c: c["id"] == cid)
    assert joined["agent_id"] == first_id  # still the first CSR's chat …
    assert [p["id"] for p in joined["participants"]] == [second_id]  # … with the colleague in it
    await visitor.rec.wait_for("message", lambda m: m["body"] == "Sid Second joined the chat.")
    # Both can write; the visitor sees both; the note stays with staff.
    opened = await second.call("open", {"conversation_id": cid})
    assert any(m["body"] == "Customer wants the invoice re-issued" for m in opened["messages"])
    assert (await second.call("message", {"conversation_id": cid, "client_id": new_id(), "body": "Hi, Sid here"}))["ok"]
    assert (await first.call("message", {"conversation_id": cid, "client_id": new_id(), "body": "Sid will help you"}))["ok"]
    await visitor.rec.wait_for("message", lambda m: m["body"] == "Hi, Sid here")
    assert not any("invoice re-issued" in m["body"] for m in visitor.rec.of("message"))
    # The colleague cannot close a chat that is not theirs yet; nor join twice.
    assert code(await second.call("close", {"conversation_id": cid})) == "not_found"
    assert code(await first.call("transfer", {"conversation_id": cid, "to_agent_id": second_id, "warm": True})) \
        == "invalid_state"
    # The first CSR leaves: the chat is the colleague's.
    assert (await first.call("leave", {"conversation_id": cid}))["ok"]
    await visitor.rec.wait_for("message", lambda m: m["body"] == "Fran First left the chat.")
    await visitor.rec.wait_for("conversation", lambda c: c["agent"] and c["agent"]["name"] == "Sid Second")
    updated = await second.rec.wait_for("conversation.updated", lambda c: c["id"] == cid and c["agent_id"] == second_id)
    assert updated["participants"] == []
    assert code(await first.call("message", {"conversation_id": cid, "client_id": new_id(), "body": "x"})) \
        == "not_found"
    assert (await second.call("close", {"conversation_id": cid}))["ok"]


async def test_warm_transfer_and_leave_refuse_bad_input(team):
    first, second, cid = team["first"], team["second"], team["conversation_id"]
    second_id = team["second_user"]["id"]
    assert code(await first.call("transfer", {"conversation_id": cid, "to_agent_id": second_id, "warm": "yes"})) \
        == "bad_request"
    assert code(await first.call("transfer", {"conversation_id": cid, "to_department_id": team["department"]["id"],
                                               "warm": True})) == "bad_request"
    # Alone in the chat: nothing to leave to.
    assert code(await first.call("leave", {"conversation_id": cid})) == "invalid_state"
    # Not in the chat at all: nothing to see.
    assert code(await second.call("leave", {"conversation_id": cid})) == "not_found"
    for payload in ({}, {"conversation_id": "1"}, [], None):
        assert code(await first.call("leave", payload)) == "bad_request"
    assert first.connected
