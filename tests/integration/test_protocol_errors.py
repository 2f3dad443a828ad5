"""Bad input on every socket event: a clear error code, the connection stays usable, nothing
is stored half-way, other people's ids look like unknown ones, and the server logs no traceback."""

from __future__ import annotations

import json

import pytest

from app.security import Signer
from tests.support import clients
from tests.support.clients import new_id, refused
from tests.support.server import cli

pytestmark = pytest.mark.asyncio(loop_scope="session")

NOT_OBJECTS = ["text", ["a", "list"], 42, True]


def code(ack) -> str | None:
    return None if ack.get("ok") else ack["error"]["code"]


@pytest.fixture
async def visitor(deployment):
    client = await clients.visitor(deployment.server.url, deployment.site_key, deployment.origin)
    yield client
    if client.connected:
        await client.disconnect()


@pytest.fixture
async def held_chat(deployment, request):
    """A chat assigned to a dedicated agent; yields (agent, visitor, conversation_id)."""
    email = f"held-{new_id()[:8]}@example.com"
    deployment.create_user(email, "agent", "Hal Holder", max_chats=5)
    agent = await clients.agent(deployment.servers[-1].url, email, deployment.password)
    await agent.call("set_status", {"status": "available"})
    owner = await clients.visitor(deployment.server.url, deployment.site_key, deployment.origin)
    ack = await owner.call("message", {"client_id": new_id(), "body": "my private question"})
    await agent.rec.wait_for("conversation.assigned", lambda c: c["id"] == ack["conversation_id"])
    yield agent, owner, ack["conversation_id"]
    await clients.sign_off(agent)
    await owner.disconnect()
    await agent.disconnect()


# --- visitor namespace -----------------------------------------------------------------

@pytest.mark.parametrize("event", ["page_view", "message", "sync", "read", "close", "typing"])
@pytest.mark.parametrize("payload", NOT_OBJECTS)
async def test_visitor_payload_that_is_not_an_object(visitor, event, payload):
    ack = await visitor.call(event, payload)
    assert code(ack) == "bad_request", ack
    assert ack["error"]["message"]


@pytest.mark.parametrize("payload, expected", [
    ({}, "bad_request"),
    ({"body": "hi"}, "bad_request"),                                   # no client_id
    ({"client_id": "has spaces", "body": "hi"}, "bad_request"),
    ({"client_id": "x" * 65, "body": "hi"}, "bad_request"),
    ({"client_id": 123, "body": "hi"}, "bad_request"),
    ({"client_id": "ok-id"}, "bad_request"),                           # no body
    ({"client_id": "ok-id", "body": 5}, "bad_request"),
    ({"client_id": "ok-id", "body": "   \n "}, "bad_request"),
    ({"client_id": "ok-id", "body": "a\x00b"}, "bad_request"),
    ({"client_id": "ok-id", "body": "x" * 5001}, "too_large"),
    ({"client_id": "ok-id", "body": "hi", "name": "n" * 101}, "too_large"),
    ({"client_id": "ok-id", "body": "hi", "email": "not an email"}, "bad_request"),
    ({"client_id": "ok-id", "body": "hi", "name": ["x"]}, "bad_request"),
])
async def test_bad_messages_are_refused_and_nothing_is_stored(visitor, payload, expected):
    ack = await visitor.call("message", payload)
    assert code(ack) == expected, ack
    history = await visitor.call("history", {})
    assert history == {"ok": True, "conversations": [], "requests": []}
    # The connection is still usable.
    ok = await visitor.call("message", {"client_id": new_id(), "body": "x" * 5000})
    assert ok["ok"] and ok["seq"] == 1
    await visitor.call("close", {"conversation_id": ok["conversation_id"]})


@pytest.mark.parametrize("payload", [
    {},
    {"conversation_id": "1", "after_seq": 0},
    {"conversation_id": True, "after_seq": 0},
    {"conversation_id": -1, "after_seq": 0},
    {"conversation_id": 2**40, "after_seq": 0},
    {"conversation_id": 1, "after_seq": -5},
    {"conversation_id": 1, "after_seq": 1.5},
])
async def test_sync_with_wrong_types(visitor, payload):
    assert code(await visitor.call("sync", payload)) == "bad_request"


@pytest.mark.parametrize("payload, expected", [
    ({}, "bad_request"),
    ({"url": "javascript:alert(1)"}, "bad_request"),
    ({"url": 7}, "bad_request"),
    ({"url": "https://shop.example.com/" + "a" * 2100}, "too_large"),
    ({"url": "https://shop.example.com/", "title": "t" * 513}, "too_large"),
])
async def test_bad_page_views(visitor, payload, expected):
    assert code(await visitor.call("page_view", payload)) == expected
    assert (await visitor.call("page_view", {"url": "https://shop.example.com/ok", "title": "OK"}))["ok"]


async def test_typing_needs_a_boolean(visitor):
    assert code(await visitor.call("typing", {"typing": "yes"})) == "bad_request"
    assert (await visitor.call("typing", {"typing": False}))["ok"]


async def test_visitor_cannot_reach_another_visitors_conversation(deployment, held_chat, visitor):
    agent, owner, conversation_id = held_chat
    for event, payload in [
        ("sync", {"conversation_id": conversation_id, "after_seq": 0}),
        ("read", {"conversation_id": conversation_id, "seq": 1}),
        ("close", {"conversation_id": conversation_id}),
    ]:
        assert code(await visitor.call(event, payload)) == "not_found"
    assert code(await visitor.call("sync", {"conversation_id": 10**8, "after_seq": 0})) == "not_found"
    # The owner's chat goes on; the stranger hears nothing of it.
    reply = await agent.call("message", {"conversation_id": conversation_id, "client_id": new_id(), "body": "secret"})
    await owner.rec.wait_for("message", lambda m: m["seq"] == reply["seq"])
    assert visitor.rec.of("message") == [] and visitor.rec.of("conversation") == []
    still = await owner.call("sync", {"conversation_id": conversation_id, "after_seq": 0})
    assert still["conversation"]["status"] == "assigned"


async def test_flood_is_rate_limited_and_only_acked_messages_are_stored(visitor):
    acks = [await visitor.call("message", {"client_id": new_id(), "body": f"flood {i}"}) for i in range(30)]
    accepted = [a for a in acks if a.get("ok")]
    limited = [a for a in acks if code(a) == "rate_limited"]
    assert len(accepted) == 20 and len(limited) == 10
    assert all(a["error"]["retry_after"] > 0 for a in limited)
    assert visitor.connected
    conversation_id = accepted[0]["conversation_id"]
    stored = await visitor.call("sync", {"conversation_id": conversation_id, "after_seq": 0})
    bodies = [m["body"] for m in stored["messages"] if m["sender"] == "visitor"]
    assert bodies == [f"flood {i}" for i in range(20)]
    await visitor.call("close", {"conversation_id": conversation_id})


async def test_same_client_id_twice_is_stored_once(visitor):
    client_id = new_id()
    first = await visitor.call("message", {"client_id": client_id, "body": "once"})
    second = await visitor.call("message", {"client_id": client_id, "body": "once"})
    assert first["seq"] == second["seq"] and first["conversation_id"] == second["conversation_id"]
    stored = await visitor.call("sync", {"conversation_id": first["conversation_id"], "after_seq": 0})
    assert [m["body"] for m in stored["messages"]] == ["once"]
    await visitor.call("close", {"conversation_id": first["conversation_id"]})


# --- connecting -------------------------------------------------------------------------

async def test_visitor_connections_that_are_refused(deployment):
    url, key, origin = deployment.server.url, deployment.site_key, deployment.origin
    good = await clients.visitor(url, key, origin)
    token = good.rec.of("session")[0]["token"]
    await good.disconnect()
    other_site = json.loads(cli(deployment.env, "create-site", "--name", "Other", "--origin", origin, "--json"))
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    cases = [
        ({"auth": {"site": key}, "headers": {"Origin": "https://evil.example.net"}}, "origin_not_allowed"),
        ({"auth": {"site": key}, "headers": {}}, "origin_not_allowed"),
        ({"auth": {"site": "site_nope"}, "headers": {"Origin": origin}}, "unknown_site"),
        ({"auth": {}, "headers": {"Origin": origin}}, "bad_request"),
        ({"auth": {"site": key, "token": forged}, "headers": {"Origin": origin}}, "invalid_token"),
        ({"auth": {"site": other_site["key"], "token": token}, "headers": {"Origin": origin}}, "invalid_token"),
        ({"auth": {"site": key, "token": 12345}, "headers": {"Origin": origin}}, "invalid_token"),
    ]
    for connect, expected in cases:
        error = await refused(url, "/visitor", **connect)
        assert error.get("code") == expected, (connect, error)


async def test_agent_connections_that_are_refused(deployment):
    url = deployment.server.url
    assert (await refused(url, "/agent", auth={"token": "garbage"}))["code"] == "unauthorized"
    assert (await refused(url, "/agent", auth={}))["code"] == "unauthorized"
    # The console page is refused to marketers (403); even a validly signed token is refused.
    marketer_id = deployment.users["marketer@example.com"]["id"]
    marketer = Signer(deployment.env["SECRET_KEY"]).socket_token(marketer_id, 1)
    assert (await refused(url, "/agent", auth={"token": marketer}))["code"] == "unauthorized"
    agent_token = await clients.socket_token(url, "agent@example.com", deployment.password)
    error = await refused(url, "/agent", auth={"token": agent_token}, headers={"Origin": "https://evil.example.net"})
    assert error["code"] == "unauthorized"


# --- agent namespace --------------------------------------------------------------------

@pytest.mark.parametrize("event", ["set_status", "open", "message", "sync", "typing", "read", "close"])
async def test_agent_payload_that_is_not_an_object(deployment, event):
    agent = await clients.agent(deployment.server.url, "other@example.com", deployment.password)
    try:
        for payload in NOT_OBJECTS:
            assert code(await agent.call(event, payload)) == "bad_request"
        assert (await agent.call("list", {}))["ok"]
    finally:
        await agent.disconnect()


async def test_agent_bad_fields(deployment, held_chat):
    agent, owner, conversation_id = held_chat
    cases = [
        ("set_status", {"status": "sleeping"}, "bad_request"),
        ("set_status", {"status": 1}, "bad_request"),
        ("message", {"conversation_id": conversation_id, "client_id": new_id(), "body": "y" * 5001}, "too_large"),
        ("message", {"conversation_id": conversation_id, "client_id": new_id()}, "bad_request"),
        ("message", {"conversation_id": str(conversation_id), "client_id": new_id(), "body": "x"}, "bad_request"),
        ("open", {}, "bad_request"),
        ("read", {"conversation_id": conversation_id, "seq": "1"}, "bad_request"),
        ("typing", {"conversation_id": conversation_id}, "bad_request"),
    ]
    for event, payload, expected in cases:
        assert code(await agent.call(event, payload)) == expected, (event, payload)
    transcript = await agent.call("sync", {"conversation_id": conversation_id, "after_seq": 0})
    assert [m["body"] for m in transcript["messages"] if m["sender"] == "agent"] == []


async def test_agents_cannot_act_on_someone_elses_chat(deployment, held_chat):
    holder, owner, conversation_id = held_chat
    other = await clients.agent(deployment.server.url, "other@example.com", deployment.password)
    boss = await clients.agent(deployment.server.url, "boss@example.com", deployment.password)
    try:
        # A CSR of the site may read its general queue's chats (app/services/scope.py), without
        # following them live; acting on them is the holder's alone.
        assert (await other.call("open", {"conversation_id": conversation_id}))["ok"]
        assert (await other.call("sync", {"conversation_id": conversation_id, "after_seq": 0}))["ok"]
        await owner.call("message", {"client_id": new_id(), "body": "only for my CSR"})
        await holder.rec.wait_for("message", lambda m: m["body"] == "only for my CSR")
        assert not [m for m in other.rec.of("message") if m["conversation_id"] == conversation_id]
        for event, payload in [
            ("message", {"conversation_id": conversation_id, "client_id": new_id(), "body": "hijack"}),
            ("read", {"conversation_id": conversation_id, "seq": 1}),
            ("typing", {"conversation_id": conversation_id, "typing": True}),
            ("close", {"conversation_id": conversation_id}),
        ]:
            assert code(await other.call(event, payload)) == "not_found", event
        # A supervisor may watch, not write (taking over is the routing issue's job).
        assert (await boss.call("open", {"conversation_id": conversation_id}))["ok"]
        assert code(await boss.call("message", {"conversation_id": conversation_id, "client_id": new_id(),
                                                "body": "hello"})) == "not_found"
        state = await owner.call("sync", {"conversation_id": conversation_id, "after_seq": 0})
        assert state["conversation"]["status"] == "assigned"
        assert [m["body"] for m in state["messages"] if m["sender"] == "agent"] == []
    finally:
        await other.disconnect()
        await boss.disconnect()


async def test_agent_message_to_a_closed_chat(deployment, held_chat):
    agent, owner, conversation_id = held_chat
    client_id = new_id()
    sent = await agent.call("message", {"conversation_id": conversation_id, "client_id": client_id, "body": "last"})
    assert (await agent.call("close", {"conversation_id": conversation_id}))["ok"]
    assert code(await agent.call("close", {"conversation_id": conversation_id})) == "invalid_state"
    # A resend of an acknowledged message still acks its seq; a new one is refused.
    again = await agent.call("message", {"conversation_id": conversation_id, "client_id": client_id, "body": "last"})
    assert again["seq"] == sent["seq"]
    late = await agent.call("message", {"conversation_id": conversation_id, "client_id": new_id(), "body": "late"})
    assert code(late) == "closed"


async def test_no_traceback_in_server_logs(deployment):
    for server in deployment.servers:
        assert "Traceback" not in server.log(), server.log()[-3000:]
