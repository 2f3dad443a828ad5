"""The trail explorer's data: visits filtered and aggregated, CSV exports, one visitor's trail —
for marketers, supervisors and admins, never with transcripts."""

from __future__ import annotations

import asyncio
import csv
import io
import re

import httpx
import pytest

from tests.support import clients
from tests.support.clients import new_id
from tests.support.server import deploy

SHOP = "https://shop.example.com"


@pytest.fixture(scope="module")
def site():
    deployment = deploy(database_url=None, redis_url=None, processes=1)
    yield deployment
    deployment.stop()


async def signed_in(d, role: str) -> httpx.AsyncClient:
    email = f"{role}-{new_id()[:6]}@example.com"
    d.create_user(email, role, role.capitalize())
    http = httpx.AsyncClient(base_url=d.server.url)
    page = await http.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    assert (await http.post("/login", data={"email": email, "password": d.password,
                                            "csrf_token": token})).status_code == 303
    return http


async def until(fetch, condition, timeout: float = 10.0):
    async def poll():
        while True:
            value = await fetch()
            if condition(value):
                return value
            await asyncio.sleep(0.1)  # polling for a condition (page views are written in batches)
    return await asyncio.wait_for(poll(), timeout)


@pytest.fixture(scope="module")
async def seeded(site):
    """Three visits: two from a search for tents (one chats), one direct to the blog."""
    d = site
    tag = new_id()[:6]
    trails = [
        ("https://www.google.com/search?q=blue+tent", [("/tents", "Tents"), ("/tents/alpine-2", "Alpine 2")], True),
        ("https://www.bing.com/search?q=tent+for+two", [("/tents", "Tents"), ("/tents/alpine-2", "Alpine 2"),
                                                         ("/checkout", "Checkout")], False),
        (None, [("/blog/how-to-pitch", "How to pitch a tent")], False),
    ]
    ids = []
    for referrer, pages, chats in trails:
        visitor = await clients.visitor(d.server.url, d.site_key, d.origin)
        ids.append(visitor.rec.of("session")[0]["visitor_id"])
        previous = referrer
        for path, title in pages:
            await visitor.call("page_view", {"url": SHOP + path + f"?t={tag}", "title": title, "referrer": previous})
            previous = SHOP + path
        if chats:
            await visitor.call("message", {"client_id": new_id(), "body": "Private question about tents"})
        await visitor.disconnect()
    return ids


async def test_visits_are_listed_with_their_landing_exit_referrer_and_chat(site, seeded):
    http = await signed_in(site, "marketer")
    try:
        result = await until(lambda: _json(http, "/api/explorer/visits"),
                             lambda r: sum(1 for row in r["rows"] if row["visitor_id"] in seeded) == 3)
        mine = {row["visitor_id"]: row for row in result["rows"] if row["visitor_id"] in seeded}
        first, second, third = (mine[i] for i in seeded)
        assert first["pages"] == 2 and first["referrer_type"] == "search" and first["keywords"] == "blue tent"
        assert first["chat"] == "yes" and second["chat"] == "no"
        assert second["exit_url"].startswith(SHOP + "/checkout") and third["referrer_type"] == "direct"
        # Filters narrow the list.
        chatted = await _json(http, "/api/explorer/visits?chat=yes")
        assert {r["visitor_id"] for r in chatted["rows"]} & set(seeded) == {seeded[0]}
        blog = await _json(http, "/api/explorer/visits?landing=/blog")
        assert {r["visitor_id"] for r in blog["rows"]} & set(seeded) == {seeded[2]}
        search = await _json(http, "/api/explorer/visits?referrer_type=search&keyword=tent")
        assert {r["visitor_id"] for r in search["rows"]} & set(seeded) == set(seeded[:2])
        # Aggregates over the same visits.
        landing = {r["page"]: r["visits"] for r in (await _json(http, "/api/explorer/landing_pages"))["rows"]}
        assert landing["/tents"] >= 2 and landing["/blog/how-to-pitch"] >= 1
        paths = {(r["from"], r["to"]): r["visits"] for r in (await _json(http, "/api/explorer/paths"))["rows"]}
        assert paths[("/tents", "/tents/alpine-2")] >= 2
        keywords = {r["keywords"] for r in (await _json(http, "/api/explorer/keywords"))["rows"]}
        assert {"blue tent", "tent for two"} <= keywords
        daily = (await _json(http, "/api/explorer/daily"))["rows"]
        assert sum(r["visits"] for r in daily) >= 3 and sum(r["chats"] for r in daily) >= 1
        # CSV: the same rows as the table.
        response = await http.get("/api/explorer/landing_pages?format=csv")
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(response.text)))
        assert rows[0] == ["Landing page", "Visits", "Visits with a chat", "Conversions"]
        assert {r[0]: int(r[1]) for r in rows[1:]} == landing
        # Trails, never transcripts.
        trail = await _json(http, f"/api/explorer/visitors/{seeded[0]}")
        assert [p["title"] for p in trail["visits"][0]["pages"]] == ["Tents", "Alpine 2"]
        assert "Private question" not in str(trail) and "Private question" not in str(result)
    finally:
        await http.aclose()


async def _json(http, path: str) -> dict:
    response = await http.get(path)
    assert response.status_code == 200, response.text
    return response.json()


async def test_who_may_explore(site):
    async with httpx.AsyncClient(base_url=site.server.url) as anonymous:
        assert (await anonymous.get("/api/explorer/visits")).status_code == 401
        assert (await anonymous.get("/explorer")).status_code == 303
    agent = await signed_in(site, "agent")
    supervisor = await signed_in(site, "supervisor")
    try:
        assert (await agent.get("/api/explorer/visits")).status_code == 403
        assert (await agent.get("/explorer")).status_code == 403
        assert (await supervisor.get("/api/explorer/visits")).status_code == 200
    finally:
        await agent.aclose()
        await supervisor.aclose()


@pytest.mark.parametrize("query, status", [
    ("from=yesterday", 400), ("from=2026-11-20&to=2026-11-01", 400), ("from=2025-01-01&to=2026-01-01", 400),
    ("referrer_type=tv", 400), ("device=watch", 400), ("chat=maybe", 400), ("country=Germany", 400),
    ("site=abc", 400), ("format=xml", 400), ("keyword=" + "x" * 301, 400),
])
async def test_bad_filters_get_a_clear_error(site, query, status):
    http = await signed_in(site, "marketer")
    try:
        response = await http.get(f"/api/explorer/visits?{query}")
        assert response.status_code == status and response.json()["error"]["message"]
        assert (await http.get("/api/explorer/nonsense")).status_code == 404
        assert (await http.get("/api/explorer/visitors/v_nobody")).status_code == 404
        assert (await http.get("/api/explorer/visitors/" + "x" * 50)).status_code == 400
    finally:
        await http.aclose()
