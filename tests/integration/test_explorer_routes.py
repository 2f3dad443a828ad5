"""Routes as pages: the demo site keeps its `tab` parameter and hash routes, so its support tabs are
pages of their own in the explorer's landing pages, exit pages and paths, and a step from one tab
to another of the same path is a step."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from tests.support import clients
from tests.support.clients import new_id
from tests.support.db import fetch
from tests.support.server import deploy


@pytest.fixture(scope="module")
def demo():
    deployment = deploy(database_url=None, redis_url=None, processes=1, seed_demo=True)
    yield deployment
    deployment.stop()


async def test_the_demo_support_tabs_are_pages_of_their_own(demo):
    [site] = await fetch(demo, "SELECT id, key FROM site WHERE name = 'Demo'")
    base = demo.server.url
    visitor = await clients.visitor(base, site["key"], base)
    try:
        for path in ("/demo/support", "/demo/support?tab=repairs", "/demo/support?tab=repairs#/faq",
                     "/demo/support?tab=repairs#/faq"):  # the last: the same page again, no step
            ack = await visitor.call("page_view", {"url": base + path, "title": "Support"})
            assert ack.get("ok", True), ack
    finally:
        await visitor.disconnect()
    email = f"mia-{new_id()[:6]}@example.com"
    demo.create_user(email, "marketer", "Mia")
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        page = await http.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        await http.post("/login", data={"email": email, "password": demo.password, "csrf_token": token})
        result = None
        for _ in range(100):  # page views are written in batches
            result = (await http.get("/api/explorer", params={"site": site["id"]})).json()
            if result["paths"]["rows"]:
                break
            await asyncio.sleep(0.1)
        landing = {r["page"]: r["visits"] for r in result["landing_pages"]["rows"]}
        exits = {r["page"]: r["visits"] for r in result["exit_pages"]["rows"]}
        paths = {(r["from"], r["to"]): r["visits"] for r in result["paths"]["rows"]}
        assert landing == {"/demo/support": 1}
        assert exits == {"/demo/support?tab=repairs#/faq": 1}
        assert paths == {("/demo/support", "/demo/support?tab=repairs"): 1,
                         ("/demo/support?tab=repairs", "/demo/support?tab=repairs#/faq"): 1}
        # A filter by landing page takes the page's key.
        tabbed = (await http.get("/api/explorer", params={"site": site["id"], "landing": "/demo/support?tab"})).json()
        assert tabbed["visits"]["total"] == 0
