"""The trail across workers and batches: one visit is one row whatever worker each tab of the
visitor reaches (the visit is decided in Redis, app/services/tracking.py), and a time on page that
arrives before its page view is written — handled first on the same socket, or sent by beacon to
another worker — is kept until the view is written, never lost. A PostgreSQL + Redis deployment of
two workers of this module's own, one visitor per test."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from tests.support import clients
from tests.support.clients import new_id
from tests.support.db import fetch
from tests.support.server import deploy

SHOP = "https://shop.example.com"


@pytest.fixture(scope="module")
def pair(new_postgres_database, redis_url):
    deployment = deploy(database_url=new_postgres_database(), redis_url=redis_url, processes=2)
    yield deployment
    deployment.stop()


async def until(read, condition, what: str, timeout: float = 30.0):
    async def poll():
        while True:
            value = await read()
            if condition(value):
                return value
            await asyncio.sleep(0.1)  # polling for a condition: the trail is written in batches
    try:
        return await asyncio.wait_for(poll(), timeout)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def profile(agent, visitor_id: str) -> dict:
    """The visitor's trail as a CSR sees it (the profile writes the batch of its worker first)."""
    ack = await agent.call("visitor_profile", {"visitor_id": visitor_id})
    assert ack["ok"], ack
    return ack


async def test_two_tabs_on_two_workers_make_one_visit(pair):
    d = pair
    first = await clients.visitor(d.servers[0].url, d.site_key, d.origin)
    session = first.rec.of("session")[0]
    vid, token = session["visitor_id"], session["token"]
    second = await clients.visitor(d.servers[1].url, d.site_key, d.origin, token=token)
    boss = await clients.agent(d.servers[0].url, "boss@example.com", d.password)
    try:
        # Both tabs open pages at the same moment, then take turns: every page of one visit.
        urls = []
        for round_ in range(3):
            pair_of = [(tab, f"{SHOP}/r{round_}/tab{i}") for i, tab in enumerate((first, second))]
            acks = await asyncio.gather(*(tab.call("page_view", {"url": url, "view_id": new_id()})
                                          for tab, url in pair_of))
            assert all(ack["ok"] and ack["tracked"] for ack in acks), acks
            urls += [url for _, url in pair_of]
        trail = await until(lambda: profile(boss, vid),
                            lambda p: sum(len(v["pages"]) for v in p["visits"]) == len(urls),
                            "every page view in the trail")
        assert len(trail["visits"]) == 1, trail["visits"]
        assert sorted(p["url"] for p in trail["visits"][0]["pages"]) == sorted(urls)
        rows = await fetch(d, "SELECT number FROM visit WHERE visitor_id = ?", vid)
        assert [r["number"] for r in rows] == [1]
    finally:
        for client in (first, second, boss):
            await client.disconnect()


async def test_a_time_on_page_handled_before_its_page_view_is_kept(pair):
    d = pair
    tab = await clients.visitor(d.servers[0].url, d.site_key, d.origin)
    vid = tab.rec.of("session")[0]["visitor_id"]
    boss = await clients.agent(d.servers[0].url, "boss@example.com", d.password)
    try:
        await tab.call("page_view", {"url": SHOP + "/start", "view_id": "start-1"})
        # The time of the next view is handled first (socket.io runs handlers concurrently), and
        # its batch is written before the view arrives: no row to update yet.
        assert (await tab.call("page_time", {"view_id": "next-1", "active_ms": 4200}))["ok"]
        await profile(boss, vid)  # the batch of that worker is written now
        assert (await tab.call("page_view", {"url": SHOP + "/next", "view_id": "next-1"}))["ok"]
        trail = await until(lambda: profile(boss, vid),
                            lambda p: any(pg["url"] == SHOP + "/next" for v in p["visits"] for pg in v["pages"]),
                            "the later view in the trail")
        page = next(pg for v in trail["visits"] for pg in v["pages"] if pg["url"] == SHOP + "/next")
        assert page["active_ms"] == 4200
    finally:
        for client in (tab, boss):
            await client.disconnect()


async def test_a_beacons_time_on_another_worker_waits_for_the_view(pair):
    d = pair
    tab = await clients.visitor(d.servers[0].url, d.site_key, d.origin)
    session = tab.rec.of("session")[0]
    vid, token = session["visitor_id"], session["token"]
    boss = await clients.agent(d.servers[1].url, "boss@example.com", d.password)
    view_id = new_id()
    try:
        # The page goes away: its time goes by beacon and reaches the other worker, which writes
        # its batch (the profile) before the first worker has written the view.
        body = {"site": d.site_key, "token": token,
                "events": [{"type": "page_time", "view_id": view_id, "active_ms": 7300}]}
        async with httpx.AsyncClient(base_url=d.servers[1].url) as http:
            response = await http.post("/api/track", content=json.dumps(body),
                                       headers={"Origin": SHOP, "Content-Type": "text/plain;charset=UTF-8"})
            assert response.status_code == 204, response.text
        await profile(boss, vid)
        assert (await tab.call("page_view", {"url": SHOP + "/late", "view_id": view_id}))["ok"]

        async def timed():
            rows = await fetch(d, "SELECT active_ms FROM page_view WHERE visitor_id = ? AND view_key = ?", vid, view_id)
            return rows[0]["active_ms"] if rows else None
        assert await until(timed, lambda ms: ms is not None, "the beacon's time on the written view") == 7300
    finally:
        for client in (tab, boss):
            await client.disconnect()
