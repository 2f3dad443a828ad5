"""Supervisors: live board, monitor, whisper (never to the visitor), barge in, take over, force state."""

from __future__ import annotations

import json

import pytest

from tests.support import clients
from tests.support.clients import new_id


def code(ack) -> str | None:
    return None if ack.get("ok") else ack["error"]["code"]


@pytest.fixture
async def floor(deployment):
    tag = new_id()[:8]
    csr_user = deployment.create_user(f"csr-{tag}@example.com", "agent", f"Cas {tag}", max_chats=4)
    boss_user = deployment.create_user(f"sup-{tag}@example.com", "supervisor", f"Sue {tag}", max_chats=4)
    csr = await clients.agent(deployment.servers[0].url, f"csr-{tag}@example.com", deployment.password)
    boss = await clients.agent(deployment.servers[-1].url, f"sup-{tag}@example.com", deployment.password)
    await csr.call("set_status", {"status": "available"})
    visitor = await clients.visitor(deployment.servers[0].url, deployment.site_key, deployment.origin)
    ack = await visitor.call("message", {"client_id": new_id(), "body": "Can I change my plan?"})
    cid = ack["conversation_id"]
    await csr.rec.wait_for("conversation.assigned", lambda c: c["id"] == cid)
    yield {"csr": csr, "boss": boss, "visitor": visitor, "cid": cid, "csr_user": csr_user,
           "boss_user": boss_user, "tag": tag}
    for client in (csr, boss):
        if client.connected:
            await clients.sign_off(client)
            await client.disconnect()
    await visitor.disconnect()


async def test_board_shows_agents_queues_and_chats_and_is_pushed(floor):
    boss, csr, cid = floor["boss"], floor["csr"], floor["cid"]
    board = await boss.call("board", {})
    agents = {a["id"]: a for a in board["agents"]}
    me = agents[floor["csr_user"]["id"]]
    # Their load is the chats the board shows them holding (a chat another test left waiting in
    # this shared deployment may have reached them too): at least this one.
    held = [c["id"] for c in board["chats"] if c["agent_id"] == floor["csr_user"]["id"]]
    assert me["status"] == "available" and me["load"] == len(held) >= 1 and me["capacity"] == 4
    assert me["seconds_in_state"] is not None and me["seconds_in_state"] >= 0
    assert any(c["id"] == cid and c["agent_id"] == floor["csr_user"]["id"] for c in board["chats"])
    before = len(boss.rec.of("board.changed"))
    await csr.call("set_status", {"status": "away"})
    await boss.rec.wait_for("board.changed", lambda d: len(boss.rec.of("board.changed")) > before)
    again = {a["id"]: a for a in (await boss.call("board", {}))["agents"]}
    assert again[floor["csr_user"]["id"]]["status"] == "away"


async def test_whisper_reaches_the_csr_and_never_the_visitor(floor):
    boss, csr, visitor, cid = floor["boss"], floor["csr"], floor["visitor"], floor["cid"]
    assert (await boss.call("monitor", {"conversation_id": cid}))["ok"]
    ack = await boss.call("whisper", {"conversation_id": cid, "client_id": new_id(), "body": "Offer the annual plan"})
    assert ack["ok"]
    heard = await csr.rec.wait_for("message", lambda m: m["body"] == "Offer the annual plan")
    assert heard["sender"] == "internal"
    # The visitor keeps chatting; their socket never carries the whisper.
    reply = await csr.call("message", {"conversation_id": cid, "client_id": new_id(), "body": "Yes you can."})
    # The whisper took a staff number only: the reply is one further for staff than for the visitor.
    shown = await visitor.rec.wait_for("message", lambda m: m["body"] == "Yes you can.")
    assert shown["seq"] == reply["seq"] - 1
    assert "Offer the annual plan" not in json.dumps(visitor.rec.events)
    synced = await visitor.call("sync", {"conversation_id": cid, "after_seq": 0})
    assert "Offer the annual plan" not in json.dumps(synced)
    assert "Offer the annual plan" not in json.dumps(await visitor.call("history", {}))


async def test_barge_in_then_take_over(floor):
    boss, csr, visitor, cid, tag = floor["boss"], floor["csr"], floor["visitor"], floor["cid"], floor["tag"]
    assert (await boss.call("barge", {"conversation_id": cid}))["ok"]
    await visitor.rec.wait_for("message", lambda m: m["body"] == f"Sue {tag} joined the chat.")
    assert code(await boss.call("barge", {"conversation_id": cid})) == "invalid_state"
    said = await boss.call("message", {"conversation_id": cid, "client_id": new_id(), "body": "Hi, I'm the supervisor"})
    assert said["ok"], said
    await visitor.rec.wait_for("message", lambda m: m["body"] == "Hi, I'm the supervisor")
    await csr.rec.wait_for("message", lambda m: m["body"] == "Hi, I'm the supervisor")

    assert (await boss.call("take_over", {"conversation_id": cid}))["ok"]
    mine = await boss.rec.wait_for("conversation.assigned", lambda c: c["id"] == cid)
    assert mine["agent_id"] == floor["boss_user"]["id"]
    lost = await csr.rec.wait_for("conversation.updated", lambda c: c["id"] == cid)
    assert lost["agent_id"] == floor["boss_user"]["id"]
    assert code(await csr.call("message", {"conversation_id": cid, "client_id": new_id(), "body": "x"})) == "not_found"
    await visitor.rec.wait_for("conversation", lambda c: c["agent"] == {"name": f"Sue {tag}"})
    assert (await boss.call("close", {"conversation_id": cid}))["ok"]


async def test_force_state(floor):
    boss, csr = floor["boss"], floor["csr"]
    ack = await boss.call("force_status", {"user_id": floor["csr_user"]["id"], "status": "away", "reason": "meeting"})
    assert ack == {"ok": True, "status": "away"}
    await csr.rec.wait_for("status", lambda s: s["status"] == "away")


async def test_csrs_cannot_supervise_and_bad_input_is_refused(floor):
    csr, boss, cid = floor["csr"], floor["boss"], floor["cid"]
    for event, payload in [
        ("board", {}),
        ("monitor", {"conversation_id": cid}),
        ("whisper", {"conversation_id": cid, "client_id": new_id(), "body": "psst"}),
        ("barge", {"conversation_id": cid}),
        ("take_over", {"conversation_id": cid}),
        ("force_status", {"user_id": floor["boss_user"]["id"], "status": "offline"}),
    ]:
        assert code(await csr.call(event, payload)) == "forbidden", event
    assert code(await boss.call("monitor", {"conversation_id": 10**7})) == "not_found"
    assert code(await boss.call("whisper", {"conversation_id": cid, "client_id": "bad id", "body": "x"})) == "bad_request"
    assert code(await boss.call("whisper", {"conversation_id": cid, "client_id": new_id(), "body": "x" * 5001})) \
        == "too_large"
    assert code(await boss.call("force_status", {"user_id": floor["csr_user"]["id"], "status": "asleep"})) \
        == "bad_request"
    assert code(await boss.call("force_status", {"user_id": 10**7, "status": "away"})) == "not_found"
    assert code(await boss.call("take_over", {"conversation_id": "1"})) == "bad_request"
    # Nothing changed for the CSR or the visitor.
    board = {a["id"]: a for a in (await boss.call("board", {}))["agents"]}
    assert board[floor["csr_user"]["id"]]["status"] == "available"
