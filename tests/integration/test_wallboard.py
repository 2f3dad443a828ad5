"""The wallboard: GET /wallboard for supervisors and admins only, and the `wallboard` event —
the live board plus today's figures, computed from the event log — against a scripted day."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time

import httpx
import pytest

from tests.support import clients
from tests.support.clients import new_id
from tests.support.server import deploy

# A short threshold and short-abandon time, so the scripted day runs in seconds; T leaves what is
# "within T" (an answer at once, an abandon soon after S) seconds to spare on a busy machine.
THRESHOLD = 6.0
SHORT_ABANDON = 0.5
NOT_OBJECTS = ["text", ["a", "list"], 42, True]


def code(ack) -> str | None:
    return None if ack.get("ok") else ack["error"]["code"]


@pytest.fixture(params=["sqlite", "postgres+redis x2"], scope="module")
def center(request, new_postgres_database, redis_url):
    """A deployment of its own (today's figures start at zero) with T = 6 s and S = 0.5 s."""
    env = {"SERVICE_LEVEL_THRESHOLD_SECONDS": str(THRESHOLD), "SHORT_ABANDON_SECONDS": str(SHORT_ABANDON),
           "CENTER_TIME_ZONE": "Europe/Berlin"}
    if request.param == "sqlite":
        deployment = deploy(database_url=None, redis_url=None, processes=1, extra_env=env)
    else:
        deployment = deploy(database_url=new_postgres_database(), redis_url=redis_url, processes=2,
                            extra_env=env)
    yield deployment
    deployment.stop()


async def eventually(read, predicate, timeout: float = 15.0):
    """Re-read until `predicate(result)` holds (for figures that move with the clock, not with events)."""
    deadline = time.monotonic() + timeout
    while True:
        result = await read()
        if predicate(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {timeout} s; last: {result}")
        # The wait grows with the clock; nothing to be notified of. (Not faster: 120 reads a minute.)
        await asyncio.sleep(0.25)


@contextlib.asynccontextmanager
async def signed_in(base_url: str, email: str, password: str):
    async with httpx.AsyncClient(base_url=base_url, follow_redirects=False) as http:
        page = await http.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        response = await http.post("/login", data={"email": email, "password": password, "csrf_token": csrf})
        assert response.status_code == 303, response.text
        yield http


# --- the page --------------------------------------------------------------------------


async def test_the_page_is_for_supervisors_and_admins(center):
    base = center.server.url
    async with httpx.AsyncClient(base_url=base, follow_redirects=False) as anonymous:
        response = await anonymous.get("/wallboard")
        assert response.status_code == 303 and response.headers["location"] == "/login?next=/wallboard"

    tag = new_id()[:6]
    center.create_user(f"wb-admin-{tag}@example.com", "admin", "Ada Admin")
    for email in ("agent@example.com", "marketer@example.com"):
        async with signed_in(base, email, center.password) as http:
            response = await http.get("/wallboard")
            assert response.status_code == 403, email
            assert response.text == "The wallboard is for supervisors and admins."
    for email in ("boss@example.com", f"wb-admin-{tag}@example.com"):
        async with signed_in(base, email, center.password) as http:
            response = await http.get("/wallboard")
            assert response.status_code == 200, email
            assert 'name="switchboard-socket-token"' in response.text
            assert '<meta name="switchboard-time-zone" content="Europe/Berlin">' in response.text
            assert '<script src="/static/wallboard.js" defer></script>' in response.text
            assert "<script>" not in response.text
            assert "script-src 'self'" in response.headers["content-security-policy"]
            assert response.headers["cache-control"] == "no-store"
            bundle = await http.get("/static/wallboard.js")
            assert bundle.status_code == 200 and "wallboard" in bundle.text


# --- the event -------------------------------------------------------------------------


async def test_only_supervisors_and_admins_read_it_and_bad_payloads_are_refused(center):
    base = center.server.url
    agent = await clients.agent(base, "agent@example.com", center.password)
    boss = await clients.agent(center.servers[-1].url, "boss@example.com", center.password)
    try:
        refused = await agent.call("wallboard", {})
        assert code(refused) == "forbidden" and refused["error"]["message"]
        assert (await agent.call("list", {}))["ok"]  # the connection stays up
        for payload in NOT_OBJECTS:
            ack = await boss.call("wallboard", payload)
            assert code(ack) == "bad_request" and ack["error"]["message"], payload
        # No fields are read: unknown ones, however large, change nothing.
        ack = await boss.call("wallboard", {"department_id": 10**9, "junk": "x" * 50_000})
        assert ack["ok"] and set(ack) >= {"agents", "queues", "chats", "today"}
        assert (await boss.call("wallboard"))["ok"]  # no payload at all is an empty one
    finally:
        await agent.disconnect()
        await boss.disconnect()


async def test_reading_it_too_often_is_rate_limited(center):
    boss = await clients.agent(center.server.url, "boss@example.com", center.password)
    try:
        acks = [await boss.call("wallboard", {}) for _ in range(121)]
        assert all(a["ok"] for a in acks[:120])
        assert code(acks[120]) == "rate_limited" and acks[120]["error"]["retry_after"] > 0
        assert (await boss.call("board", {}))["ok"]
    finally:
        await boss.disconnect()


async def test_todays_figures_follow_a_scripted_day(center):
    """Three chats: one answered at once, one answered after waiting past T, one abandoned
    within T. SL (abandons negative) = 1/3, abandonment 1/3, ASA the mean of the two waits."""
    tag = new_id()[:6]
    csr_user = center.create_user(f"wb-csr-{tag}@example.com", "agent", f"Wes {tag}", max_chats=3)
    center.create_user(f"wb-sup-{tag}@example.com", "supervisor", f"Sia {tag}")
    boss = await clients.agent(center.servers[-1].url, f"wb-sup-{tag}@example.com", center.password)
    csr = await clients.agent(center.servers[0].url, f"wb-csr-{tag}@example.com", center.password)
    visitors = []

    async def wallboard():
        ack = await boss.call("wallboard", {})
        assert ack["ok"], ack
        return ack

    async def ask(text: str):
        visitor = await clients.visitor(center.servers[0].url, center.site_key, center.origin)
        visitors.append(visitor)
        ack = await visitor.call("message", {"client_id": new_id(), "body": text})
        assert ack["ok"], ack
        return visitor, ack["conversation_id"]

    try:
        start = await wallboard()
        assert start["today"]["offered"] == 0 and start["today"]["service_level"] is None
        assert start["today"]["threshold_seconds"] == THRESHOLD
        assert start["today"]["time_zone"] == "Europe/Berlin"
        assert start["queues"] == [] and start["chats"] == []

        # 1. Answered at once.
        assert (await csr.call("set_status", {"status": "available"}))["ok"]
        _, first = await ask("Do you ship to Norway?")
        await csr.rec.wait_for("conversation.assigned", lambda c: c["id"] == first)

        # 2. Waits past T while the CSR is away, then is answered.
        assert (await csr.call("set_status", {"status": "away"}))["ok"]
        changes = len(boss.rec.of("board.changed"))
        _, second = await ask("Where is my order?")
        await boss.rec.wait_for("board.changed", lambda d: len(boss.rec.of("board.changed")) > changes)
        queued = await eventually(wallboard, lambda b: b["queues"] and b["queues"][0]["longest_wait_seconds"] >= THRESHOLD + 0.5)
        assert [(q["name"], q["waiting"]) for q in queued["queues"]] == [("General", 1)]
        assert queued["today"]["waiting"] == 1 and queued["today"]["offered"] == 2
        assert queued["today"]["answered"] == 1 and queued["today"]["answered_within_threshold"] == 1
        assert (await csr.call("set_status", {"status": "available"}))["ok"]
        await csr.rec.wait_for("conversation.assigned", lambda c: c["id"] == second)

        # 3. Leaves the queue after S but within T.
        assert (await csr.call("set_status", {"status": "away"}))["ok"]
        leaver, third = await ask("Hello?")
        await eventually(wallboard, lambda b: b["queues"] and b["queues"][0]["longest_wait_seconds"] >= SHORT_ABANDON + 0.5)
        assert (await leaver.call("close", {"conversation_id": third}))["ok"]

        board = await eventually(wallboard, lambda b: b["today"]["abandoned"] == 1)
        today = board["today"]
        assert {k: today[k] for k in ("offered", "answered", "abandoned", "waiting", "short_abandons",
                                      "answered_within_threshold", "abandoned_within_threshold")} == {
            "offered": 3, "answered": 2, "abandoned": 1, "waiting": 0, "short_abandons": 0,
            "answered_within_threshold": 1, "abandoned_within_threshold": 1,
        }
        assert today["service_level"] == pytest.approx(1 / 3, abs=1e-4)
        assert today["abandonment_rate"] == pytest.approx(1 / 3, abs=1e-4)
        # ASA = (wait of chat 1 (< T) + wait of chat 2 (≥ T + 0.5)) / 2; the board shows waits to
        # 0.1 s and ASA to 0.1 s, hence the 0.1 s of slack.
        assert (THRESHOLD + 0.5) / 2 - 0.1 <= today["asa_seconds"] < (THRESHOLD + (THRESHOLD + 0.5 + 5)) / 2
        assert SHORT_ABANDON + 0.4 <= today["avg_abandon_seconds"] <= THRESHOLD
        assert today["sl_variant"] == "negative"

        # The live part: no queue, two chats in progress, the CSR Away holding two of three.
        assert board["queues"] == []
        assert sorted(c["id"] for c in board["chats"]) == sorted([first, second])
        assert {c["agent_id"] for c in board["chats"]} == {csr_user["id"]}
        me = next(a for a in board["agents"] if a["id"] == csr_user["id"])
        assert (me["status"], me["load"], me["capacity"]) == ("away", 2, 3)
    finally:
        for client in visitors:
            if client.connected:
                await client.disconnect()
        await clients.sign_off(csr)
        await csr.disconnect()
        await boss.disconnect()
