"""Hostile input through a running server (issue: security — hostile input gets a 4xx or an error
ack): reserved event names sent by a client run nothing; NaN and Infinity are refused in socket
events and beacons; deeply nested beacons get a 400, never a 500; made-up site keys never fill the
site cache."""

from __future__ import annotations

import json
import re

import httpx

from tests.support import clients
from tests.support.clients import new_id

SHOP = "https://shop.example.com"


def code(ack) -> str | None:
    return None if ack.get("ok") else ack["error"]["code"]


async def visitors_online(agent: clients.Client) -> set[str]:
    listed = await agent.call("visitors", {})
    assert listed["ok"], listed
    return {row["id"] for row in listed["visitors"]}


async def test_a_client_cannot_run_the_servers_connect_or_disconnect_handlers(deployment):
    d = deployment
    tag = new_id()[:6]
    d.create_user(f"watch-{tag}@example.com", "agent", f"Wes Watch {tag}")
    agent = await clients.agent(d.servers[0].url, f"watch-{tag}@example.com", d.password)
    visitor = await clients.visitor(d.servers[-1].url, d.site_key, d.origin)
    vid = visitor.rec.of("session")[0]["visitor_id"]
    try:
        assert (await agent.call("visitors", {}))["ok"]
        assert (await visitor.call("page_view", {"url": SHOP + "/tents", "title": "Tents"}))["ok"]
        await agent.rec.wait_for("visitors.delta", lambda dl: any(r["id"] == vid for r in dl["upsert"]), timeout=15)
        for name in ("disconnect", "connect", "connect_error"):
            for _ in range(2):
                ack = await visitor.call(name, {})
                assert code(ack) == "bad_request" and name in ack["error"]["message"], ack
        # Presence was neither dropped nor counted twice: the visitor is online, the socket works…
        assert vid in await visitors_online(agent)
        assert (await visitor.call("page_view", {"url": SHOP + "/tents/alpine", "title": "Alpine"}))["ok"]
        # … and leaving once is leaving: the real disconnect takes them off the list.
        await visitor.disconnect()
        await agent.rec.wait_for("visitors.delta", lambda dl: vid in dl["remove"], timeout=15)
        assert vid not in await visitors_online(agent)

        # The console's namespace alike: still connected, still Available.
        assert (await agent.call("set_status", {"status": "available"}))["ok"]
        assert code(await agent.call("disconnect", {})) == "bad_request"
        assert code(await agent.call("connect", {"token": "x"})) == "bad_request"
        status = await agent.call("set_status", {"status": "available"})
        assert status["ok"] and status["status"] == "available"
    finally:
        if visitor.sio.connected:
            await visitor.disconnect()
        await clients.sign_off(agent)
        await agent.disconnect()


async def test_nan_and_infinity_are_refused_and_never_stored(deployment):
    d = deployment
    agent = await clients.agent(d.server.url, "agent@example.com", d.password)
    visitor = await clients.visitor(d.server.url, d.site_key, d.origin)
    session = visitor.rec.of("session")[0]
    vid, token = session["visitor_id"], session["token"]
    try:
        assert (await visitor.call("page_view", {"url": SHOP + "/b", "view_id": "b1"}))["ok"]
        for bad in (float("nan"), float("inf"), float("-inf")):
            ack = await visitor.call("identify", {"attributes": {"score": bad}})
            assert code(ack) == "bad_request" and "finite" in ack["error"]["message"], ack
            ack = await visitor.call("track", {"name": "checkout", "props": {"total": bad}})
            assert code(ack) == "bad_request" and "finite" in ack["error"]["message"], ack
        assert (await visitor.call("track", {"name": "checkout", "props": {"total": 12.5}}))["ok"]
        headers = {"Origin": d.origin, "Content-Type": "text/plain;charset=UTF-8"}
        async with httpx.AsyncClient(base_url=d.server.url) as http:
            for literal in ("NaN", "Infinity", "-Infinity"):
                body = ('{"site": %s, "token": %s, "events": [{"type": "track", "name": "x", "props": {"v": %s}}]}'
                        % (json.dumps(d.site_key), json.dumps(token), literal))
                response = await http.post("/api/track", content=body, headers=headers)
                assert response.status_code == 400, response.text
                assert "finite" in response.json()["error"]["message"]
            # Deeply nested JSON is refused before it is parsed (it used to end in a RecursionError).
            for depth in (7, 8_000):  # 8,000 deep still fits in the 16 KiB a beacon may carry
                body = '{"site": "x", "events": ' + "[" * depth + "]" * depth + "}"
                response = await http.post("/api/track", content=body, headers=headers)
                assert response.status_code == 400, response.text[:200]
                assert response.json()["error"]["code"] == "bad_request"
        # What was kept is fine to read back: the CSR's profile of the visitor, and an admin's export
        # of the visitor's data (once a 500: "Out of range float values are not JSON compliant").
        profile = await agent.call("visitor_profile", {"visitor_id": vid})
        assert profile["ok"] and agent.sio.connected, profile
        admin = f"admin-{vid[-8:].lower()}@example.com"
        if admin not in d.users:
            d.create_user(admin, "admin", "Ada Admin")
        async with httpx.AsyncClient(base_url=d.server.url) as http:
            page = await http.get("/login")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            signed_in = await http.post("/login", data={"email": admin, "password": d.password, "csrf_token": csrf})
            assert signed_in.status_code == 303, signed_in.text[:300]
            export = await http.get(f"/api/admin/visitors/{vid}/export")
            assert export.status_code == 200, export.text[:300]
            assert any(e.get("props") == {"total": 12.5} for e in export.json()["events"]), export.text[:500]
    finally:
        await visitor.disconnect()
        await agent.disconnect()


async def test_trail_limits_count_per_visitor_so_a_reconnect_does_not_reset_them(deployment):
    d = deployment
    first = await clients.visitor(d.servers[0].url, d.site_key, d.origin)
    token = first.rec.of("session")[0]["token"]
    try:
        acks = [await first.call("identify", {"name": f"Name {i}"}) for i in range(10)]
        assert all(a["ok"] for a in acks), acks
        assert code(await first.call("identify", {"name": "One more"})) == "rate_limited"
    finally:
        await first.disconnect()
    # The same visitor again, on the other worker: the minute is not over, the limit still holds.
    again = await clients.visitor(d.servers[-1].url, d.site_key, d.origin, token=token)
    try:
        assert code(await again.call("identify", {"name": "After a reconnect"})) == "rate_limited"
        # Someone else is not limited by it.
        other = await clients.visitor(d.servers[-1].url, d.site_key, d.origin)
        try:
            assert (await other.call("identify", {"name": "Someone else"}))["ok"]
        finally:
            await other.disconnect()
    finally:
        await again.disconnect()


async def test_a_supervisor_whispers_only_into_a_chat_in_progress(deployment):
    d = deployment
    tag = new_id()[:6]
    d.create_user(f"sup-{tag}@example.com", "supervisor", f"Sol Sup {tag}")
    boss = await clients.agent(d.server.url, f"sup-{tag}@example.com", d.password)
    visitor = await clients.visitor(d.server.url, d.site_key, d.origin)
    try:
        sent = await visitor.call("message", {"client_id": new_id(), "body": "Anyone?"})
        assert sent["ok"], sent
        ack = await boss.call("whisper", {"conversation_id": sent["conversation_id"], "client_id": new_id(),
                                          "body": "psst"})
        assert code(ack) == "invalid_state", ack
        opened = await boss.call("open", {"conversation_id": sent["conversation_id"]})
        assert [m["sender"] for m in opened["messages"]] == ["visitor"], opened
    finally:
        await visitor.call("close", {"conversation_id": sent["conversation_id"]})
        await visitor.disconnect()
        await boss.disconnect()


async def test_the_site_cache_keeps_only_sites_that_exist_and_only_so_many(monkeypatch):
    """Keys an unauthenticated client makes up are refused and never kept; real sites are kept up
    to the cache's size (the oldest quarter goes first)."""
    from app.realtime import visitor as visitor_namespace
    from app.services import admin
    from tests.support.inprocess import database, prepare, serve

    monkeypatch.setattr(visitor_namespace, "_SITE_CACHE_SIZE", 4)
    deployment = await prepare()
    try:
        async with database(deployment):
            keys = [(await admin.create_site(f"Shop {n}", [SHOP])).key for n in range(6)]
        async with serve(deployment) as server:
            cache = server.runtime.state(visitor_namespace.SiteCache)
            for n in range(30):
                error = await clients.refused(server.url, "/visitor", auth={"site": f"site_made_up_{n}"},
                                              headers={"Origin": SHOP})
                assert error["code"] == "unknown_site", error
            assert len(cache) == 0
            for key in keys:
                visitor = await clients.visitor(server.url, key, SHOP)
                await visitor.disconnect()
                assert key in cache and len(cache) <= 4
            assert set(cache) <= set(keys)
    finally:
        deployment.stop()
