"""Each audience's numbers run 1, 2, 3 … with no holes (docs/protocol.md, "Sequence numbers").

Whispers and transfer notes are staff-only messages: they take a staff number, never one of the
visitor's, so the visitor's numbers run on without a hole (live, on `sync`, in `history`), staff
still see every message in order with their own numbers, and read receipts cross over translated.
"""

from __future__ import annotations

import json

import pytest

from tests.support import clients
from tests.support.clients import new_id

# The conversation every test below builds, in the order it happens:
# (sender, body, staff seq, visitor seq or None for a staff-only note).
SCRIPT = [
    ("visitor", "Hello, is my order shipped?", 1, 1),
    ("system", "{a} joined the chat.", 2, 2),
    ("internal", "Check the warehouse system first", 3, None),  # whisper
    ("agent", "Let me look that up.", 4, 3),
    ("internal", "Shipping knows this one", 5, None),  # transfer note
    ("system", "{b} joined the chat.", 6, 4),
    ("internal", "Offer express shipping", 7, None),  # whisper
    ("agent", "It left this morning.", 8, 5),
    ("visitor", "Great, thanks!", 9, 6),
]


def expected(tag: str, *, staff: bool) -> list[tuple[int, str, str]]:
    names = {"a": f"Ann {tag}", "b": f"Bob {tag}"}
    return [(staff_seq if staff else visitor_seq, sender, body.format(**names))
            for sender, body, staff_seq, visitor_seq in SCRIPT if staff or visitor_seq is not None]


def shape(messages: list[dict]) -> list[tuple[int, str, str]]:
    return [(m["seq"], m["sender"], m["body"]) for m in messages]


@pytest.fixture
async def chat(deployment):
    """A visitor (two tabs) whose chat went from Ann to Bob with a note, with two whispers of Sue
    the supervisor in between: SCRIPT, each step waited for where everyone sees it."""
    tag = new_id()[:8]
    ann_user = deployment.create_user(f"ann-{tag}@example.com", "agent", f"Ann {tag}", max_chats=5)
    bob_user = deployment.create_user(f"bob-{tag}@example.com", "agent", f"Bob {tag}", max_chats=5)
    deployment.create_user(f"sue-{tag}@example.com", "supervisor", f"Sue {tag}", max_chats=5)
    ann = await clients.agent(deployment.servers[-1].url, f"ann-{tag}@example.com", deployment.password)
    bob = await clients.agent(deployment.servers[0].url, f"bob-{tag}@example.com", deployment.password)
    sue = await clients.agent(deployment.servers[-1].url, f"sue-{tag}@example.com", deployment.password)
    visitor = await clients.visitor(deployment.servers[0].url, deployment.site_key, deployment.origin)
    token = visitor.rec.of("session")[0]["token"]
    # A second tab of the same visitor, on the other server: it gets the first tab's messages live.
    other_tab = await clients.visitor(deployment.servers[-1].url, deployment.site_key, deployment.origin, token=token)
    people = (ann, bob, sue, visitor, other_tab)
    acks: dict[str, dict] = {}
    cid = None
    try:
        await ann.call("set_status", {"status": "available"})
        acks["hello"] = await visitor.call("message", {"client_id": new_id(), "body": "Hello, is my order shipped?"})
        assert acks["hello"]["ok"], acks["hello"]
        cid = acks["hello"]["conversation_id"]
        await ann.rec.wait_for("conversation.assigned", lambda c: c["id"] == cid)
        await visitor.rec.wait_for("message", lambda m: m["body"] == f"Ann {tag} joined the chat.")
        assert (await ann.call("open", {"conversation_id": cid}))["ok"]
        assert (await sue.call("monitor", {"conversation_id": cid}))["ok"]

        acks["whisper1"] = await sue.call("whisper", {"conversation_id": cid, "client_id": new_id(),
                                                      "body": "Check the warehouse system first"})
        assert acks["whisper1"]["ok"], acks["whisper1"]
        await ann.rec.wait_for("message", lambda m: m["body"] == "Check the warehouse system first")
        acks["reply1"] = await ann.call("message", {"conversation_id": cid, "client_id": new_id(),
                                                    "body": "Let me look that up."})
        await visitor.rec.wait_for("message", lambda m: m["body"] == "Let me look that up.")

        await bob.call("set_status", {"status": "available"})
        moved = await ann.call("transfer", {"conversation_id": cid, "to_agent_id": bob_user["id"],
                                            "note": "Shipping knows this one"})
        assert moved["ok"], moved
        await bob.rec.wait_for("conversation.assigned", lambda c: c["id"] == cid)
        await visitor.rec.wait_for("message", lambda m: m["body"] == f"Bob {tag} joined the chat.")
        assert (await bob.call("open", {"conversation_id": cid}))["ok"]

        acks["whisper2"] = await sue.call("whisper", {"conversation_id": cid, "client_id": new_id(),
                                                      "body": "Offer express shipping"})
        assert acks["whisper2"]["ok"], acks["whisper2"]
        await bob.rec.wait_for("message", lambda m: m["body"] == "Offer express shipping")
        acks["reply2"] = await bob.call("message", {"conversation_id": cid, "client_id": new_id(),
                                                    "body": "It left this morning."})
        await visitor.rec.wait_for("message", lambda m: m["body"] == "It left this morning.")
        acks["thanks"] = await visitor.call("message", {"client_id": new_id(), "body": "Great, thanks!"})
        await bob.rec.wait_for("message", lambda m: m["body"] == "Great, thanks!")
        await other_tab.rec.wait_for("message", lambda m: m["body"] == "Great, thanks!")

        yield {"tag": tag, "cid": cid, "ann": ann, "bob": bob, "sue": sue, "visitor": visitor,
               "other_tab": other_tab, "acks": acks, "ann_user": ann_user, "bob_user": bob_user}
    finally:
        if cid is not None and visitor.connected:
            await visitor.call("close", {"conversation_id": cid})  # `invalid_state` when a test closed it
        for client in (ann, bob):
            if client.connected:
                await clients.sign_off(client)
        for client in people:
            if client.connected:
                await client.disconnect()


async def test_the_visitors_numbers_run_on_live_across_whispers_and_transfer_notes(chat):
    tag, visitor, other_tab, acks = chat["tag"], chat["visitor"], chat["other_tab"], chat["acks"]
    # The visitor's own messages are acknowledged in their numbering …
    assert (acks["hello"]["seq"], acks["thanks"]["seq"]) == (1, 6)
    # … and everything sent to them live is numbered on from there: 2, 3, 4, 5.
    live = [m for m in visitor.rec.of("message") if m["conversation_id"] == chat["cid"]]
    assert sorted(shape(live)) == [e for e in expected(tag, staff=False) if e[0] not in (1, 6)]
    # The other tab saw it all live, the first tab's own messages included: 1 … 6, no hole.
    seen = [m for m in other_tab.rec.of("message") if m["conversation_id"] == chat["cid"]]
    assert sorted(shape(seen)) == expected(tag, staff=False)
    assert not any(m["sender"] == "internal" for m in visitor.rec.of("message") + other_tab.rec.of("message"))
    # The transfer's conversation update carries the visitor's last seq (3, or 4 with Bob's
    # notice), never the staff one (5 or 6).
    update = await visitor.rec.wait_for("conversation", lambda c: c["agent"] == {"name": f"Bob {tag}"})
    assert update["last_seq"] in (3, 4)


async def test_sync_and_history_use_the_visitors_numbers(chat):
    tag, visitor, cid = chat["tag"], chat["visitor"], chat["cid"]
    whole = await visitor.call("sync", {"conversation_id": cid, "after_seq": 0})
    assert whole["ok"] and shape(whole["messages"]) == expected(tag, staff=False)
    assert whole["conversation"]["last_seq"] == 6
    # Resuming from the middle (past where the first whisper sits in the staff numbering) gives
    # exactly what follows, in order, with nothing skipped and nothing repeated.
    for after in (2, 3, 4):
        rest = await visitor.call("sync", {"conversation_id": cid, "after_seq": after})
        assert shape(rest["messages"]) == expected(tag, staff=False)[after:], after
    assert (await visitor.call("sync", {"conversation_id": cid, "after_seq": 6}))["messages"] == []
    for text in ("warehouse", "Shipping knows", "express"):
        assert text not in json.dumps(whole)

    history = await visitor.call("history", {})
    listed = next(c for c in history["conversations"] if c["id"] == cid)
    assert shape(listed["messages"]) == expected(tag, staff=False) and listed["last_seq"] == 6
    # After the chat ends, its closing notice is number 7 for the visitor (10 for staff).
    assert (await chat["bob"].call("close", {"conversation_id": cid}))["ok"]
    closed = await visitor.rec.wait_for("message", lambda m: m["body"] == "The chat was closed.")
    assert closed["seq"] == 7
    ended = await visitor.rec.wait_for("conversation", lambda c: c["id"] == cid and c["status"] == "closed")
    assert ended["last_seq"] == 7
    history = await visitor.call("history", {})
    listed = next(c for c in history["conversations"] if c["id"] == cid)
    assert [m["seq"] for m in listed["messages"]] == list(range(1, 8)) and listed["last_seq"] == 7
    staff_notice = await chat["sue"].rec.wait_for("message", lambda m: m["body"] == "The chat was closed.")
    assert staff_notice["seq"] == 10


async def test_staff_see_every_message_in_order_with_their_own_numbers(chat):
    tag, cid, acks = chat["tag"], chat["cid"], chat["acks"]
    assert (acks["whisper1"]["seq"], acks["reply1"]["seq"], acks["whisper2"]["seq"], acks["reply2"]["seq"]) \
        == (3, 4, 7, 8)
    opened = await chat["bob"].call("open", {"conversation_id": cid})
    assert shape(opened["messages"]) == expected(tag, staff=True)
    assert opened["conversation"]["last_seq"] == 9
    for after in (0, 3, 5):
        synced = await chat["sue"].call("sync", {"conversation_id": cid, "after_seq": after})
        assert shape(synced["messages"]) == expected(tag, staff=True)[after:], after
    # The supervisor who monitored from the start got what was written live, in the staff
    # numbering (whatever else reaches staff live carries its staff number too).
    live = set(shape(m for m in chat["sue"].rec.of("message") if m["conversation_id"] == cid))
    everything = expected(tag, staff=True)
    assert live <= set(everything)
    assert {e for e in everything if e[0] in (3, 4, 7, 8, 9)} <= live


async def test_read_receipts_cross_over_in_the_other_sides_numbers(chat):
    cid, bob, visitor = chat["cid"], chat["bob"], chat["visitor"]
    # Bob has read up to the second whisper (staff 7): for the visitor that is up to Bob's
    # "joined" notice (their 4), the last thing before it they can see.
    assert (await bob.call("read", {"conversation_id": cid, "seq": 7}))["ok"]
    read = await visitor.rec.wait_for("read", lambda r: r["conversation_id"] == cid)
    assert read["seq"] == 4
    synced = await visitor.call("sync", {"conversation_id": cid, "after_seq": 6})
    assert synced["conversation"]["agent_read_seq"] == 4
    # Up to the visitor's thanks (staff 9): their 6.
    assert (await bob.call("read", {"conversation_id": cid, "seq": 9}))["ok"]
    await visitor.rec.wait_for("read", lambda r: r["conversation_id"] == cid and r["seq"] == 6)
    await chat["other_tab"].rec.wait_for("read", lambda r: r["conversation_id"] == cid and r["seq"] == 6)
    assert [r["seq"] for r in visitor.rec.of("read") if r["conversation_id"] == cid] == [4, 6]
    # The visitor reads Bob's reply (their 5): staff learn it as staff 8.
    assert (await visitor.call("read", {"conversation_id": cid, "seq": 5}))["ok"]
    seen = await bob.rec.wait_for("read", lambda r: r["conversation_id"] == cid)
    assert seen["seq"] == 8
    # Past the end it stops at the last message; it never moves back.
    assert (await visitor.call("read", {"conversation_id": cid, "seq": 10**6}))["ok"]
    await bob.rec.wait_for("read", lambda r: r["conversation_id"] == cid and r["seq"] == 9)
    assert (await visitor.call("read", {"conversation_id": cid, "seq": 1}))["ok"]
    state = (await bob.call("open", {"conversation_id": cid}))["conversation"]
    assert (state["visitor_read_seq"], state["agent_read_seq"], state["unread"]) == (9, 9, 0)
    assert (await visitor.call("sync", {"conversation_id": cid, "after_seq": 6}))["conversation"]["agent_read_seq"] == 6
