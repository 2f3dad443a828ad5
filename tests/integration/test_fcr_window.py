"""The first-contact-resolution window is the center's setting (FCR_WINDOW_HOURS, docs/kpis.md):
with a window of 5.4 s, a visitor who comes back 7 s after their first chat closed was resolved at
first contact; one who comes back at once was not."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from tests.support import clients
from tests.support.clients import new_id
from tests.support.server import deploy

WINDOW_HOURS = 0.0015  # 5.4 s


@pytest.fixture(scope="module")
def center():
    deployment = deploy(database_url=None, redis_url=None, processes=1,
                        extra_env={"FCR_WINDOW_HOURS": str(WINDOW_HOURS)})
    yield deployment
    deployment.stop()


async def chat(d, agent, body: str, token: str | None = None) -> str:
    """A chat answered and closed; the visitor's token (to come back as the same visitor)."""
    visitor = await clients.visitor(d.server.url, d.site_key, d.origin, token=token)
    ack = await visitor.call("message", {"client_id": new_id(), "body": body})
    assert ack["ok"], ack
    await agent.rec.wait_for("conversation.assigned", lambda c: c["id"] == ack["conversation_id"])
    assert (await agent.call("message", {"conversation_id": ack["conversation_id"], "client_id": new_id(),
                                         "body": "Hello!"}))["ok"]
    assert (await agent.call("close", {"conversation_id": ack["conversation_id"]}))["ok"]
    token = visitor.rec.of("session")[0]["token"]
    await visitor.disconnect()
    return token


async def test_the_reports_use_the_centers_fcr_window(center):
    d = center
    d.create_user("fay@example.com", "agent", "Fay", max_chats=3)
    d.create_user("fred@example.com", "supervisor", "Fred")
    fay = await clients.agent(d.server.url, "fay@example.com", d.password)
    assert (await fay.call("set_status", {"status": "available"}))["ok"]
    try:
        late = await chat(d, fay, "First question")
        await asyncio.sleep(7)  # scenario timing: back after the 5.4 s window
        await chat(d, fay, "Back later", token=late)
        soon = await chat(d, fay, "Another visitor")
        await chat(d, fay, "Back at once", token=soon)
    finally:
        await fay.disconnect()
    async with httpx.AsyncClient(base_url=d.server.url) as http:
        page = await http.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        await http.post("/login", data={"email": "fred@example.com", "password": d.password, "csrf_token": token})
        today = datetime.now(timezone.utc).date()
        summary = (await http.get("/api/reports/summary", params={
            "from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat()})).json()
    assert summary["fcr_window_hours"] == WINDOW_HOURS
    # Four answered chats: only the one followed at once by its visitor's next chat is not resolved
    # (with the default 24 h, the first would not be either: 2 of 4).
    assert summary["headline"]["fcr"] == 0.75, summary["headline"]
