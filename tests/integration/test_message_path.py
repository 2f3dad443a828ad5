"""The checks a chat message passes, on every message: the sender's staff session is read again
(one ended in the database — revoked, its user deactivated — with no broadcast heard, refuses the
very next message), only the chat's own CSR writes in it, a closed chat takes nothing, a resend is
stored once; a refused message stores nothing and takes no sequence number; a visitor's message
carries the name they have now."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest
import socketio

from app.clock import utcnow
from tests.support import clients
from tests.support.clients import new_id
from tests.support.db import execute, fetch

WAIT = 10.0


def code(ack: dict) -> str | None:
    return None if ack.get("ok") else ack["error"]["code"]


async def disconnected(client: clients.Client) -> None:
    deadline = time.monotonic() + WAIT
    while client.connected:  # polling the client's own state, not the server's
        assert time.monotonic() < deadline, "the socket stayed connected"
        await asyncio.sleep(0.05)


@pytest.fixture
async def chat(deployment):
    """A chat assigned to a CSR of its own; yields (csr, visitor, conversation_id, csr's user id)."""
    email = f"path-{new_id()[:8]}@example.com"
    deployment.create_user(email, "agent", "Pat Path", max_chats=5)
    csr = await clients.agent(deployment.servers[-1].url, email, deployment.password)
    await csr.call("set_status", {"status": "available"})
    visitor = await clients.visitor(deployment.server.url, deployment.site_key, deployment.origin)
    ack = await visitor.call("message", {"client_id": new_id(), "body": "a question"})
    await csr.rec.wait_for("conversation.assigned", lambda c: c["id"] == ack["conversation_id"])
    user_id = deployment.users[email]["id"]
    yield csr, visitor, ack["conversation_id"], user_id
    await visitor.disconnect()
    if not csr.connected:  # its session was ended under it: signed in again to sign off, so that
        # routing offers the next test's chat to that test's own CSR
        await csr.disconnect()
        await execute(deployment, "UPDATE app_user SET is_active = ? WHERE id = ?", True, user_id)
        csr = await clients.agent(deployment.servers[-1].url, email, deployment.password)
    await clients.sign_off(csr)
    await csr.disconnect()


async def seqs(deployment, conversation_id: int) -> tuple[int, int, int]:
    """The conversation's two numberings and how many messages it holds."""
    row = (await fetch(deployment, "SELECT last_seq, visitor_last_seq, (SELECT COUNT(*) FROM message m "
                                   "WHERE m.conversation_id = c.id) AS n FROM conversation c WHERE c.id = ?",
                       conversation_id))[0]
    return row["last_seq"], row["visitor_last_seq"], row["n"]


@pytest.mark.parametrize("ending", ["revoked", "deactivated"])
async def test_a_session_ended_in_the_database_refuses_the_next_message(deployment, chat, ending):
    """No sign-out broadcast reaches the socket here (the row changes under it): its next message
    finds the session over, is refused, stores nothing, and the socket is closed."""
    csr, _, conversation_id, user_id = chat
    assert (await csr.call("message", {"conversation_id": conversation_id, "client_id": new_id(),
                                       "body": "still here"}))["ok"]
    before = await seqs(deployment, conversation_id)
    if ending == "revoked":
        await execute(deployment, "UPDATE staff_session SET revoked_at = ?, revoked_reason = 'signed_out' "
                                  "WHERE user_id = ?", utcnow(), user_id)
    else:
        await execute(deployment, "UPDATE app_user SET is_active = ? WHERE id = ?", False, user_id)
    late = new_id()
    with contextlib.suppress(socketio.exceptions.BadNamespaceError, socketio.exceptions.TimeoutError):
        assert code(await csr.call("message", {"conversation_id": conversation_id, "client_id": late,
                                               "body": "after the end"})) == "forbidden"
    await disconnected(csr)
    assert await seqs(deployment, conversation_id) == before
    assert await fetch(deployment, "SELECT id FROM message WHERE client_id = ?", late) == []


async def test_refused_messages_take_no_number_and_a_resend_is_stored_once(deployment, chat):
    csr, visitor, conversation_id, _ = chat
    other_email = f"other-{new_id()[:8]}@example.com"
    deployment.create_user(other_email, "agent", "Oscar Other", max_chats=5)
    other = await clients.agent(deployment.server.url, other_email, deployment.password)
    try:
        first = await csr.call("message", {"conversation_id": conversation_id, "client_id": new_id(), "body": "one"})
        assert first["ok"]
        before = await seqs(deployment, conversation_id)
        # Someone else's chat, a chat that does not exist: refused alike, nothing taken.
        for cid in (conversation_id, 10**9):
            assert code(await other.call("message", {"conversation_id": cid, "client_id": new_id(),
                                                     "body": "hijack"})) == "not_found"
        assert await seqs(deployment, conversation_id) == before

        # The numbering runs on without a hole; a resend answers with the stored message.
        again = new_id()
        second = await csr.call("message", {"conversation_id": conversation_id, "client_id": again, "body": "two"})
        assert second["seq"] == first["seq"] + 1
        resent = await csr.call("message", {"conversation_id": conversation_id, "client_id": again, "body": "two"})
        assert resent["ok"] and resent["seq"] == second["seq"]
        mine = new_id()
        said = await visitor.call("message", {"client_id": mine, "body": "three"})
        assert said["ok"] and said["conversation_id"] == conversation_id
        assert (await visitor.call("message", {"client_id": mine, "body": "three"}))["seq"] == said["seq"]
        last_seq, visitor_last_seq, count = await seqs(deployment, conversation_id)
        assert (last_seq, count) == (before[0] + 2, before[2] + 2)
        assert visitor_last_seq == said["seq"] == before[1] + 2

        # Closed: a new message is refused and takes nothing; the resend of a stored one is answered.
        assert (await csr.call("close", {"conversation_id": conversation_id}))["ok"]
        closed = await seqs(deployment, conversation_id)
        assert code(await csr.call("message", {"conversation_id": conversation_id, "client_id": new_id(),
                                               "body": "too late"})) == "closed"
        assert (await csr.call("message", {"conversation_id": conversation_id, "client_id": again,
                                           "body": "two"}))["seq"] == second["seq"]
        assert await seqs(deployment, conversation_id) == closed
    finally:
        await clients.sign_off(other)
        await other.disconnect()


async def test_a_visitors_message_carries_the_name_they_have_now(deployment, chat):
    csr, visitor, conversation_id, _ = chat
    await visitor.call("message", {"client_id": new_id(), "body": "hi", "name": "Ann Early"})
    await csr.rec.wait_for("message", lambda m: m["body"] == "hi" and m["author"] == "Ann Early")
    # Renamed meanwhile (another tab's pre-chat form, identify): the next message, which names no
    # one, is stored and shown under the new name.
    await execute(deployment, "UPDATE visitor SET name = ? WHERE id = (SELECT visitor_id FROM conversation "
                              "WHERE id = ?)", "Ann Later", conversation_id)
    body = f"later {new_id()[:6]}"
    assert (await visitor.call("message", {"client_id": new_id(), "body": body}))["ok"]
    shown = await csr.rec.wait_for("message", lambda m: m["body"] == body)
    assert shown["author"] == "Ann Later"
    rows = await fetch(deployment, "SELECT author_name FROM message WHERE conversation_id = ? AND body = ?",
                       conversation_id, body)
    assert rows == [{"author_name": "Ann Later"}]
