"""Verified identity: `identify` with the site's HMAC (`user_hash`), devices linked only by
verified identities, a person's transcripts on their other devices, and the throttle on creating
visitors. Real servers (SQLite; PostgreSQL + Redis with two workers), real socket.io clients."""

from __future__ import annotations

import hashlib
import hmac
import json
import re

import pytest

from app.models import Visitor
from tests.support import clients
from tests.support.clients import new_id
from tests.support.inprocess import database
from tests.support.server import cli, deploy

SUPERVISOR = "boss@example.com"


@pytest.fixture(params=["sqlite", "postgres+redis x2"], scope="module")
def d(request, new_postgres_database, redis_url):
    if request.param == "sqlite":
        deployment = deploy(database_url=None, redis_url=None, processes=1)
    else:  # the deployment's Redis keys live in its own namespace: a shared database number is fine
        deployment = deploy(database_url=new_postgres_database(), redis_url=redis_url, processes=2)
    yield deployment
    deployment.stop()


def new_site(d, *, secret: bool) -> tuple[str, str | None]:
    """A site of this test's own: (key, identity secret or None)."""
    created = json.loads(cli(d.env, "create-site", "--name", f"Identity {new_id()[:6]}", "--origin", d.origin,
                             *sum((["--origin", s.url] for s in d.servers), []), "--json"))
    if not secret:
        return created["key"], None
    return created["key"], printed_secret(cli(d.env, "site-identity", "--site", created["key"]))


def printed_secret(output: str) -> str:
    return re.search(r"^[0-9a-f]{64}$", output, re.M).group(0)


def user_hash(secret: str, user_id: str) -> str:
    """What the site's backend computes (docs/widget.md, "Identity verification")."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def code(ack) -> str | None:
    return None if ack.get("ok") else ack["error"]["code"]


def visitor_id(client) -> str:
    return client.rec.of("session")[0]["visitor_id"]


async def stored(d, vid: str) -> Visitor:
    async with database(d):
        return await Visitor.get(id=vid)


async def test_identify_needs_the_sites_hash_and_only_verified_devices_are_linked(d):
    key, secret = new_site(d, secret=True)
    user = f"customer-{new_id()[:8]}"
    boss = await clients.agent(d.servers[-1].url, SUPERVISOR, d.password)
    laptop = await clients.visitor(d.servers[0].url, key, d.origin)
    phone = await clients.visitor(d.servers[-1].url, key, d.origin)
    thief = await clients.visitor(d.servers[0].url, key, d.origin)
    try:
        # Someone else's id: without its hash, with another id's hash, with a made-up one — refused
        # whole (the name that came along is not kept either).
        for claim in ({"id": user, "name": "Mallory"},
                      {"id": user, "user_hash": user_hash(secret, user + "x"), "name": "Mallory"},
                      {"id": user, "user_hash": "0" * 64, "name": "Mallory"},
                      {"id": user, "user_hash": user_hash("not the secret", user), "name": "Mallory"}):
            assert code(await thief.call("identify", claim)) == "forbidden", claim
        row = await stored(d, visitor_id(thief))
        assert (row.external_id, row.name, row.identity_verified) == (None, None, False)

        # The real person, on two devices (a hash in capitals is the same hash).
        ack = await laptop.call("identify", {"id": user, "user_hash": user_hash(secret, user), "name": "Dana"})
        assert ack == {"ok": True, "verified": True}
        ack = await phone.call("identify", {"id": user, "user_hash": user_hash(secret, user).upper()})
        assert ack == {"ok": True, "verified": True}
        row = await stored(d, visitor_id(phone))
        assert (row.external_id, row.identity_verified) == (user, True)
        # A name or attributes alone need no hash, and keep the verified id.
        assert await phone.call("identify", {"name": "Dana D."}) == {"ok": True, "verified": True}

        profile = await boss.call("visitor_profile", {"visitor_id": visitor_id(laptop)})
        assert profile["ok"] and profile["visitor"]["external_id"] == user
        assert profile["visitor"]["linked_visitors"] == [visitor_id(phone)]
        assert (await boss.call("visitor_profile", {"visitor_id": visitor_id(thief)}))["visitor"]["linked_visitors"] == []

        # A rotated secret verifies from the next call on; the old hashes no longer do.
        new_secret = printed_secret(cli(d.env, "site-identity", "--site", key, "--rotate"))
        assert new_secret != secret
        assert code(await laptop.call("identify", {"id": user, "user_hash": user_hash(secret, user)})) == "forbidden"
        ack = await laptop.call("identify", {"id": user, "user_hash": user_hash(new_secret, user)})
        assert ack == {"ok": True, "verified": True}
        # The secret is shown once: asking again without --rotate prints none.
        assert not re.search(r"[0-9a-f]{64}", cli(d.env, "site-identity", "--site", key))
    finally:
        for c in (laptop, phone, thief, boss):
            await c.disconnect()


async def test_user_hash_must_be_64_hex_characters_with_an_id(d):
    key, secret = new_site(d, secret=True)
    visitor = await clients.visitor(d.server.url, key, d.origin)
    try:
        good = user_hash(secret, "u-1")
        for payload in ({"id": "u-1", "user_hash": 12345}, {"id": "u-1", "user_hash": ["a"] * 64},
                        {"id": "u-1", "user_hash": {"hash": good}}, {"id": "u-1", "user_hash": True},
                        {"id": "u-1", "user_hash": good[:-1]}, {"id": "u-1", "user_hash": good + "0"},
                        {"id": "u-1", "user_hash": "g" * 64}, {"id": "u-1", "user_hash": "a" * 1000},
                        {"id": "u-1", "user_hash": ""}, {"user_hash": good}):
            assert code(await visitor.call("identify", payload)) == "bad_request", payload
        row = await stored(d, visitor_id(visitor))
        assert (row.external_id, row.identity_verified) == (None, False)
    finally:
        await visitor.disconnect()


async def test_without_a_secret_an_id_is_kept_unverified_and_links_nothing(d):
    key, _ = new_site(d, secret=False)
    user = f"customer-{new_id()[:8]}"
    boss = await clients.agent(d.servers[-1].url, SUPERVISOR, d.password)
    first = await clients.visitor(d.servers[0].url, key, d.origin)
    second = await clients.visitor(d.servers[-1].url, key, d.origin)
    try:
        started = await first.call("message", {"client_id": new_id(), "body": "My address is 1 Elm Street"})
        assert started["ok"]
        assert (await first.call("close", {"conversation_id": started["conversation_id"]}))["ok"]
        for device in (first, second):
            # A hash proves nothing here (the site has no secret): still unverified.
            assert await device.call("identify", {"id": user, "user_hash": "a" * 64}) == {"ok": True, "verified": False}
        profile = await boss.call("visitor_profile", {"visitor_id": visitor_id(second)})
        assert profile["visitor"]["external_id"] == user and profile["visitor"]["linked_visitors"] == []
        # The claim brings none of the other browser's transcripts.
        assert (await second.call("history", {}))["conversations"] == []
        assert [c["id"] for c in (await first.call("history", {}))["conversations"]] == [started["conversation_id"]]
    finally:
        for c in (first, second, boss):
            await c.disconnect()


async def test_a_verified_person_reads_their_other_devices_transcripts(d):
    key, secret = new_site(d, secret=True)
    user = f"customer-{new_id()[:8]}"
    proof = {"id": user, "user_hash": user_hash(secret, user)}
    agent = await clients.agent(d.servers[-1].url, "agent@example.com", d.password)
    boss = await clients.agent(d.servers[0].url, SUPERVISOR, d.password)
    laptop = await clients.visitor(d.servers[0].url, key, d.origin)
    phone = await clients.visitor(d.servers[-1].url, key, d.origin)
    spoof = await clients.visitor(d.servers[0].url, key, d.origin)
    try:
        assert (await agent.call("set_status", {"status": "available"}))["ok"]
        assert (await laptop.call("identify", proof))["verified"] is True
        asked = await laptop.call("message", {"client_id": new_id(), "body": "Where is my order?"})
        conversation_id = asked["conversation_id"]
        await agent.rec.wait_for("conversation.assigned", lambda c: c["id"] == conversation_id, timeout=30)
        assert (await agent.call("message", {"conversation_id": conversation_id, "client_id": new_id(),
                                             "body": "It ships today."}))["ok"]
        whisper = await boss.call("whisper", {"conversation_id": conversation_id, "client_id": new_id(),
                                              "body": "Internal: refund pending"})
        assert whisper["ok"], whisper
        assert (await agent.call("close", {"conversation_id": conversation_id}))["ok"]
        laptop_view = (await laptop.call("history", {}))["conversations"]
        assert [c["id"] for c in laptop_view] == [conversation_id] and laptop_view[0]["other_device"] is False

        # The phone before it says who it is: nothing of the laptop's.
        assert (await phone.call("history", {}))["conversations"] == []
        assert (await phone.call("identify", proof))["verified"] is True
        [shown] = (await phone.call("history", {}))["conversations"]
        assert shown["id"] == conversation_id and shown["other_device"] is True and shown["status"] == "closed"
        bodies = [m["body"] for m in shown["messages"]]
        assert "Where is my order?" in bodies and "It ships today." in bodies
        assert "Internal: refund pending" not in bodies and all(m["sender"] != "internal" for m in shown["messages"])
        # In the visitor's numbering: 1, 2, 3 … with no hole where the note is.
        assert [m["seq"] for m in shown["messages"]] == list(range(1, len(shown["messages"]) + 1))
        assert shown["messages"] == laptop_view[0]["messages"]
        # Read only: the chat is carried on (synced, read, rated, closed) on the device that had it.
        for event, payload in (("sync", {"conversation_id": conversation_id, "after_seq": 0}),
                               ("read", {"conversation_id": conversation_id, "seq": 1}),
                               ("rate", {"conversation_id": conversation_id, "rating": "good"}),
                               ("close", {"conversation_id": conversation_id})):
            assert code(await phone.call(event, payload)) == "not_found", event

        # A chat still going on the laptop is not the phone's to see.
        going = await laptop.call("message", {"client_id": new_id(), "body": "One more thing"})
        assert going["conversation_id"] != conversation_id
        assert [c["id"] for c in (await phone.call("history", {}))["conversations"]] == [conversation_id]
        assert (await laptop.call("close", {"conversation_id": going["conversation_id"]}))["ok"]

        # Whoever only claims the id gets nothing: refused, and no transcripts.
        assert code(await spoof.call("identify", {"id": user})) == "forbidden"
        assert (await spoof.call("history", {}))["conversations"] == []
    finally:
        await clients.sign_off(agent)
        for c in (laptop, phone, spoof, agent, boss):
            await c.disconnect()


# --- creating visitors is throttled ------------------------------------------------------------

async def refused(url: str, key: str, origin: str, address: str) -> dict:
    return await clients.refused(url, "/visitor", auth={"site": key, "token": None},
                                 headers={"Origin": origin, "X-Forwarded-For": address})


@pytest.fixture(params=["sqlite", "postgres+redis x2"])
def throttled(request, new_postgres_database, redis_url):
    """A deployment of its own with small limits (hour-long windows: a slow machine cannot see
    one run out mid-test). The test clients' address is the proxy's (127.0.0.1, trusted), so
    each pretends another visitor address with X-Forwarded-For."""
    limits = {"NEW_VISITORS_PER_ADDRESS": "4/3600", "NEW_VISITORS_PER_SITE": "10/3600"}
    if request.param == "sqlite":
        deployment = deploy(database_url=None, redis_url=None, processes=1, extra_env=limits)
    else:
        deployment = deploy(database_url=new_postgres_database(), redis_url=redis_url, processes=2, extra_env=limits)
    yield deployment
    deployment.stop()


async def test_a_flood_of_new_visitors_is_refused_but_returning_visitors_connect(throttled):
    d = throttled
    key = json.loads(cli(d.env, "create-site", "--name", "Flooded", "--origin", d.origin, "--json"))["key"]
    other_key = json.loads(cli(d.env, "create-site", "--name", "Quiet", "--origin", d.origin, "--json"))["key"]
    servers = [s.url for s in d.servers]
    connected = []

    async def new_visitor(address: str, site: str = key):
        # Alternating workers: with Redis the counts are shared.
        client = await clients.visitor(servers[len(connected) % len(servers)], site, d.origin,
                                       headers={"X-Forwarded-For": address})
        connected.append(client)
        return client

    try:
        first = await new_visitor("203.0.113.7")
        token = first.rec.of("session")[0]["token"]
        for _ in range(3):
            await new_visitor("203.0.113.7")
        error = await refused(servers[-1], key, d.origin, "203.0.113.7")
        assert error["code"] == "rate_limited" and error["retry_after"] > 0, error
        # The same /64 is the same IPv6 host.
        for n in range(4):
            await new_visitor(f"2001:db8:1:2::{n + 1}")
        assert (await refused(servers[0], key, d.origin, "2001:db8:1:2::ff"))["code"] == "rate_limited"
        # Returning visitors (a valid token) are never counted, however many.
        for _ in range(6):
            returning = await clients.visitor(servers[-1], key, d.origin, token=token,
                                              headers={"X-Forwarded-For": "203.0.113.7"})
            assert returning.rec.of("session")[0]["visitor_id"] == visitor_id(first)
            await returning.disconnect()
        # Another address may come in until the site has had its 10 new visitors …
        for _ in range(2):
            await new_visitor("198.51.100.20")
        assert (await refused(servers[0], key, d.origin, "198.51.100.21"))["code"] == "rate_limited"
        # … which another site does not share.
        await new_visitor("198.51.100.21", other_key)
    finally:
        for client in connected:
            await client.disconnect()
