"""The trail as the widget reports it: page views, time on page (socket and beacon), custom
events and identify; visits, referrers, UTM tags; privacy settings; retention; export and erasure.
Real servers, real socket.io clients, real HTTP."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta

import httpx
import pytest

from app.clock import utcnow
from app.models import Conversation, PageView, Site, TrackEvent, Visit, Visitor
from app.services import tracking
from tests.support import clients
from tests.support.clients import new_id
from tests.support.inprocess import database
from tests.support.server import cli, deploy

SEARCH = "https://www.google.com/search?q=blue+tent+waterproof"
SHOP = "https://shop.example.com"


@pytest.fixture(params=["sqlite", "postgres+redis x2"], scope="module")
def site(request, new_postgres_database, redis_url):
    if request.param == "sqlite":
        deployment = deploy(database_url=None, redis_url=None, processes=1)
    else:
        deployment = deploy(database_url=new_postgres_database(), redis_url=redis_url, processes=2)
    yield deployment
    deployment.stop()


def code(ack) -> str | None:
    return None if ack.get("ok") else ack["error"]["code"]


def new_site(d, tracking: dict | None = None) -> str:
    """A site of its own (servers cache a site's settings for a while), with tracking settings."""
    created = json.loads(cli(d.env, "create-site", "--name", f"Shop {new_id()[:6]}", "--origin", SHOP,
                             *sum((["--origin", s.url] for s in d.servers), []), "--json"))
    if tracking is not None:
        cli(d.env, "site-settings", "--site", created["key"], "--set", json.dumps({"tracking": tracking}))
    return created["key"]


async def until(fetch, condition, timeout: float = 10.0):
    async def poll():
        while True:
            value = await fetch()
            if condition(value):
                return value
            await asyncio.sleep(0.1)  # polling for a condition: the trail is written in batches
    return await asyncio.wait_for(poll(), timeout)


async def signed_in(d, role: str) -> tuple[httpx.AsyncClient, str]:
    email = f"{role}-{new_id()[:6]}@example.com"
    d.create_user(email, role, role.capitalize())
    http = httpx.AsyncClient(base_url=d.server.url)
    page = await http.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    assert (await http.post("/login", data={"email": email, "password": d.password,
                                            "csrf_token": token})).status_code == 303
    console = await http.get("/console" if role != "marketer" else "/explorer")
    csrf = re.search(r'name="csrf-token" content="([^"]+)"|name="csrf_token" value="([^"]+)"', console.text)
    return http, next(g for g in csrf.groups() if g)


async def profile_of(agent, visitor_id: str) -> dict:
    ack = await agent.call("visitor_profile", {"visitor_id": visitor_id})
    assert ack["ok"], ack
    return ack


async def test_a_visit_is_recorded_with_its_pages_time_referrer_and_tags(site):
    d = site
    agent = await clients.agent(d.servers[0].url, "agent@example.com", d.password)
    visitor = await clients.visitor(d.servers[-1].url, d.site_key, d.origin)
    try:
        session = visitor.rec.of("session")[0]
        vid = session["visitor_id"]
        assert session["tracking"] == {"enabled": True, "dnt": True, "strip_params": []}
        landing = SHOP + "/tents?utm_source=news&utm_medium=email&utm_campaign=spring"
        ack = await visitor.call("page_view", {"url": landing, "title": "Tents", "referrer": SEARCH, "view_id": "pv1"})
        assert ack == {"ok": True, "tracked": True}
        # The same view said again (a reconnect) is not a second page.
        assert (await visitor.call("page_view", {"url": landing, "title": "Tents", "view_id": "pv1"}))["ok"]
        assert (await visitor.call("page_time", {"view_id": "pv1", "active_ms": 4200}))["ok"]
        assert (await visitor.call("page_view", {"url": SHOP + "/tents/alpine-2", "title": "Alpine 2",
                                                 "referrer": landing, "view_id": "pv2"}))["ok"]
        # A smaller count arriving late does not shrink the time on page.
        assert (await visitor.call("page_time", {"view_id": "pv1", "active_ms": 1000}))["ok"]
        assert (await visitor.call("page_time", {"view_id": "pv2", "active_ms": 2500}))["ok"]

        def complete(p):
            pages = p["visits"][0]["pages"] if p["visits"] else []
            return len(pages) == 2 and pages[1]["active_ms"] == 2500
        profile = await until(lambda: profile_of(agent, vid), complete)
        visit = profile["visits"][0]
        assert visit["number"] == 1 and visit["landing_url"] == landing
        assert visit["referrer_type"] == "search"
        assert visit["keywords"] == "blue tent waterproof" and visit["referrer_domain"] == "google.com"
        assert visit["utm"] == {"utm_source": "news", "utm_medium": "email", "utm_campaign": "spring"}
        assert visit["device"] == "desktop"
        assert [(p["url"], p["active_ms"]) for p in visit["pages"]] == [(landing, 4200),
                                                                        (SHOP + "/tents/alpine-2", 2500)]
    finally:
        await visitor.disconnect()
        await agent.disconnect()


async def test_time_on_page_arrives_by_beacon_when_the_page_goes_away(site):
    d = site
    agent = await clients.agent(d.servers[0].url, "agent@example.com", d.password)
    visitor = await clients.visitor(d.servers[0].url, d.site_key, d.origin)
    session = visitor.rec.of("session")[0]
    vid, token = session["visitor_id"], session["token"]
    await visitor.call("page_view", {"url": SHOP + "/faq", "title": "FAQ", "view_id": "faq1"})
    await visitor.disconnect()
    body = {"site": d.site_key, "token": token, "events": [
        {"type": "page_time", "view_id": "faq1", "active_ms": 61000},
        {"type": "track", "name": "newsletter", "props": {"list": "weekly"}},
    ]}
    async with httpx.AsyncClient(base_url=d.servers[-1].url) as http:
        response = await http.post("/api/track", content=json.dumps(body),
                                   headers={"Origin": SHOP, "Content-Type": "text/plain;charset=UTF-8"})
        assert response.status_code == 204 and response.headers["access-control-allow-origin"] == SHOP
    try:
        profile = await until(lambda: profile_of(agent, vid),
                              lambda p: p["visits"] and p["visits"][0]["pages"][0]["active_ms"] == 61000
                              and p["events"])
        assert profile["events"][0]["name"] == "newsletter" and profile["events"][0]["props"] == {"list": "weekly"}
    finally:
        await agent.disconnect()


async def test_identify_links_devices_and_track_records_events(site):
    d = site
    user_id = f"customer-{new_id()[:8]}"
    # Only identities verified with the site's secret link devices (tests/integration/test_identity.py).
    key = new_site(d)
    secret = re.search(r"^[0-9a-f]{64}$", cli(d.env, "site-identity", "--site", key), re.M).group(0)
    agent = await clients.agent(d.servers[0].url, "agent@example.com", d.password)
    laptop = await clients.visitor(d.servers[0].url, key, d.origin)
    phone = await clients.visitor(d.servers[-1].url, key, d.origin,
                                  user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
                                             "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")
    try:
        laptop_id = laptop.rec.of("session")[0]["visitor_id"]
        phone_id = phone.rec.of("session")[0]["visitor_id"]
        await laptop.call("page_view", {"url": SHOP + "/account", "view_id": "a1"})
        await phone.call("page_view", {"url": SHOP + "/cart", "view_id": "b1"})
        for device in (laptop, phone):
            ack = await device.call("identify", {"id": user_id, "user_hash": tracking.identity_hash(secret, user_id),
                                                 "name": "Dana Doe", "email": "dana@example.com",
                                                 "attributes": {"plan": "pro", "seats": 5, "trial": False}})
            assert ack == {"ok": True, "verified": True}
        assert (await phone.call("track", {"name": "purchase", "props": {"total": 99.5}})) == {"ok": True,
                                                                                            "tracked": True}
        profile = await until(lambda: profile_of(agent, laptop_id),
                              lambda p: len(p["visits"]) == 2 and p["events"])
        assert profile["visitor"]["external_id"] == user_id and profile["visitor"]["name"] == "Dana Doe"
        assert profile["visitor"]["attributes"] == {"plan": "pro", "seats": 5, "trial": False}
        assert profile["visitor"]["linked_visitors"] == [phone_id]
        assert {v["visitor_id"] for v in profile["visits"]} == {laptop_id, phone_id}
        assert [e["name"] for e in profile["events"]] == ["purchase"]
    finally:
        for c in (laptop, phone, agent):
            await c.disconnect()


async def test_privacy_settings(site):
    d = site
    agent = await clients.agent(d.servers[0].url, "agent@example.com", d.password)
    try:
        # A site that keeps no trail: chat works, nothing is tracked.
        off = new_site(d, {"enabled": False})
        visitor = await clients.visitor(d.server.url, off, SHOP)
        assert visitor.rec.of("session")[0]["tracking"]["enabled"] is False
        assert await visitor.call("page_view", {"url": SHOP + "/", "view_id": "x1"}) == {"ok": True, "tracked": False}
        assert (await visitor.call("track", {"name": "signup"}))["tracked"] is False
        assert (await visitor.call("message", {"client_id": new_id(), "body": "Hello?"}))["ok"]
        profile = await profile_of(agent, visitor.rec.of("session")[0]["visitor_id"])
        assert profile["visits"] == [] and profile["events"] == []
        await visitor.disconnect()
        # Do Not Track / Global Privacy Control are respected by default …
        on = new_site(d, {"strip_params": ["token", "email"]})
        for header in ({"DNT": "1"}, {"Sec-GPC": "1"}):
            private = await clients.visitor(d.server.url, on, SHOP, headers=header)
            assert private.rec.of("session")[0]["tracking"]["enabled"] is False
            assert (await private.call("page_view", {"url": SHOP + "/", "view_id": "p1"}))["tracked"] is False
            await private.disconnect()
        # … and listed query parameters never reach the database.
        visitor = await clients.visitor(d.server.url, on, SHOP)
        session = visitor.rec.of("session")[0]
        assert session["tracking"]["strip_params"] == ["token", "email"]
        await visitor.call("page_view", {"url": SHOP + "/reset?token=s3cret&step=2&Email=a%40b.c", "view_id": "r1",
                                         "referrer": SHOP + "/login?token=old"})
        profile = await until(lambda: profile_of(agent, session["visitor_id"]), lambda p: p["visits"])
        assert profile["visits"][0]["pages"][0]["url"] == SHOP + "/reset?step=2"
        assert "s3cret" not in json.dumps(profile) and "old" not in json.dumps(profile["visits"])
        await visitor.disconnect()
        # With respect_dnt off, a DNT browser is tracked.
        ignoring = new_site(d, {"respect_dnt": False})
        visitor = await clients.visitor(d.server.url, ignoring, SHOP, headers={"DNT": "1"})
        assert (await visitor.call("page_view", {"url": SHOP + "/", "view_id": "d1"}))["tracked"] is True
        await visitor.disconnect()
    finally:
        await agent.disconnect()


BAD_SOCKET_EVENTS = [
    ("page_view", "not an object", "bad_request"),
    ("page_view", {}, "bad_request"),
    ("page_view", {"url": "javascript:alert(1)"}, "bad_request"),
    ("page_view", {"url": SHOP + "/" + "x" * 3000}, "too_large"),
    ("page_view", {"url": SHOP + "/", "view_id": "has spaces"}, "bad_request"),
    ("page_view", {"url": SHOP + "/", "title": 12}, "bad_request"),
    ("page_time", {"view_id": "v1"}, "bad_request"),
    ("page_time", {"view_id": "v1", "active_ms": -5}, "bad_request"),
    ("page_time", {"view_id": "v1", "active_ms": "100"}, "bad_request"),
    ("page_time", {"view_id": ["v1"], "active_ms": 100}, "bad_request"),
    ("track", {}, "bad_request"),
    ("track", {"name": "<script>"}, "bad_request"),
    ("track", {"name": "ok", "props": [1, 2]}, "bad_request"),
    ("track", {"name": "ok", "props": {"nested": {"a": 1}}}, "bad_request"),
    ("track", {"name": "ok", "props": {f"k{i}": i for i in range(25)}}, "too_large"),
    ("track", {"name": "ok", "props": {"k": "x" * 3000}}, "too_large"),
    ("identify", {"id": 42}, "bad_request"),
    ("identify", {"id": "x" * 200}, "too_large"),
    ("identify", {"email": "not-an-address"}, "bad_request"),
    ("identify", {"attributes": "plan=pro"}, "bad_request"),
    ("identify", {"attributes": {"bad key": 1}}, "bad_request"),
    ("identify", {"attributes": {"plan": "x" * 300}}, "too_large"),
    ("identify", {"attributes": {f"a{i}": i for i in range(40)}}, "too_large"),
]


async def test_bad_tracking_events_are_refused_and_the_connection_stays(site):
    d = site
    visitor = await clients.visitor(d.server.url, d.site_key, d.origin)
    try:
        for event, payload, expected in BAD_SOCKET_EVENTS:
            ack = await visitor.call(event, payload)
            assert code(ack) == expected, (event, payload, ack)
            assert ack["error"]["message"]
        assert visitor.connected
        assert (await visitor.call("page_view", {"url": SHOP + "/fine", "view_id": "fine"}))["ok"]
    finally:
        await visitor.disconnect()


async def test_the_beacon_endpoint_refuses_bad_input_and_stores_nothing_of_it(site):
    d = site
    agent = await clients.agent(d.server.url, "agent@example.com", d.password)
    visitor = await clients.visitor(d.server.url, d.site_key, d.origin)
    session = visitor.rec.of("session")[0]
    vid, token = session["visitor_id"], session["token"]
    await visitor.call("page_view", {"url": SHOP + "/b", "view_id": "b1"})
    await visitor.disconnect()
    headers = {"Origin": SHOP, "Content-Type": "text/plain;charset=UTF-8"}

    def beacon(events, **extra):
        return json.dumps({"site": d.site_key, "token": token, "events": events, **extra})

    cases = [
        ("{not json", 400, "bad_request"),
        (json.dumps([1, 2]), 400, "bad_request"),
        (json.dumps({"token": token, "events": []}), 400, "bad_request"),
        (beacon([]), 400, "bad_request"),
        (beacon([{"type": "page_time", "view_id": "b1", "active_ms": 1}] * 21), 413, "too_large"),
        (beacon([{"type": "page_time", "view_id": "b1", "active_ms": 1}], pad="x" * 20000), 413, "too_large"),
        (json.dumps({"site": d.site_key, "token": "forged", "events": [{"type": "track", "name": "x"}]}), 401, None),
        (json.dumps({"site": "site_nope", "token": token, "events": [{"type": "track", "name": "x"}]}), 404,
         "unknown_site"),
        # One good event and one bad one: the beacon is refused whole; the good one is not kept.
        (beacon([{"type": "page_time", "view_id": "b1", "active_ms": 7777}, {"type": "page_time", "view_id": "b1"}]),
         400, "bad_request"),
        (beacon([{"type": "delete_everything"}]), 400, "bad_request"),
    ]
    try:
        async with httpx.AsyncClient(base_url=d.server.url) as http:
            for body, status, expected in cases:
                response = await http.post("/api/track", content=body, headers=headers)
                assert response.status_code == status, (body[:80], response.text)
                if expected:
                    assert response.json()["error"]["code"] == expected and response.json()["error"]["message"]
            bad = await http.post("/api/track", content=cases[8][0], headers=headers)
            assert bad.json()["error"]["index"] == 1
            # Another site's page may not send beacons for this one.
            foreign = await http.post("/api/track", content=beacon([{"type": "track", "name": "x"}]),
                                      headers={**headers, "Origin": "https://evil.example.net"})
            assert foreign.status_code == 403 and foreign.json()["error"]["code"] == "origin_not_allowed"
            # Nothing of the refused beacons was kept.
            profile = await until(lambda: profile_of(agent, vid), lambda p: p["visits"])
            assert profile["visits"][0]["pages"][0]["active_ms"] is None and profile["events"] == []
            # Rate limited per visitor: 30 a minute.
            ok = beacon([{"type": "page_time", "view_id": "b1", "active_ms": 10}])
            statuses = [(await http.post("/api/track", content=ok, headers=headers)).status_code for _ in range(32)]
            assert statuses[0] == 204 and 429 in statuses
            limited = await http.post("/api/track", content=ok, headers=headers)
            assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    finally:
        await agent.disconnect()


async def test_an_admin_exports_and_erases_a_visitors_data(site):
    d = site
    visitor = await clients.visitor(d.server.url, d.site_key, d.origin)
    session = visitor.rec.of("session")[0]
    vid = session["visitor_id"]
    await visitor.call("page_view", {"url": SHOP + "/gdpr", "title": "Privacy", "view_id": "g1"})
    await visitor.call("identify", {"name": "Erin Erase", "email": "erin@example.com"})
    await visitor.call("track", {"name": "signup"})
    await visitor.call("message", {"client_id": new_id(), "body": "Please forget me"})
    await visitor.disconnect()
    admin, csrf = await signed_in(d, "admin")
    agent_http, agent_csrf = await signed_in(d, "agent")
    try:
        exported = await until(lambda: admin.get(f"/api/admin/visitors/{vid}/export"),
                               lambda r: r.status_code == 200 and r.json()["page_views"] and r.json()["events"])
        assert "attachment" in exported.headers["content-disposition"]
        data = exported.json()
        assert data["visitor"]["id"] == vid and data["visitor"]["email"] == "erin@example.com"
        assert data["page_views"][0]["url"] == SHOP + "/gdpr" and data["events"][0]["name"] == "signup"
        assert data["conversations"][0]["messages"][0]["body"] == "Please forget me"
        # Only admins; only with the CSRF token; unknown ids are 404.
        assert (await agent_http.get(f"/api/admin/visitors/{vid}/export")).status_code == 403
        assert (await agent_http.post(f"/api/admin/visitors/{vid}/erase",
                                      headers={"X-CSRF-Token": agent_csrf})).status_code == 403
        assert (await admin.post(f"/api/admin/visitors/{vid}/erase")).status_code == 403
        assert (await admin.post(f"/api/admin/visitors/{vid}/erase",
                                 headers={"X-CSRF-Token": "wrong"})).json()["error"]["code"] == "csrf"
        assert (await admin.get("/api/admin/visitors/v_nobody/export")).status_code == 404
        async with httpx.AsyncClient(base_url=d.server.url) as anonymous:
            assert (await anonymous.get(f"/api/admin/visitors/{vid}/export")).status_code == 401
        # Erase: everything goes.
        erased = await admin.post(f"/api/admin/visitors/{vid}/erase", headers={"X-CSRF-Token": csrf})
        assert erased.status_code == 200 and erased.json()["deleted"]["conversations"] == 1
        assert (await admin.get(f"/api/admin/visitors/{vid}/export")).status_code == 404
        # Their old token now opens a new, empty visitor.
        back = await clients.visitor(d.server.url, d.site_key, d.origin, token=session["token"])
        assert back.rec.of("session")[0]["visitor_id"] != vid and back.rec.of("session")[0]["conversation"] is None
        await back.disconnect()
    finally:
        await admin.aclose()
        await agent_http.aclose()


async def seed_old_trails(d, site_key: str, tag: str) -> None:
    """Three visitors with a visit, a page view and an event: two 40 days ago (one of them with a
    chat), one 2 days ago."""
    async with database(d):
        site = await Site.get(key=site_key)
        now = utcnow()
        for name, days, chatted in (("old", 40, False), ("oldchat", 40, True), ("recent", 2, False)):
            at = now - timedelta(days=days)
            visitor = await Visitor.create(id=f"v_{name}_{tag}", site=site, first_seen=at, last_seen=at,
                                           visit_count=1)
            visit = await Visit.create(site=site, visitor=visitor, number=1, started_at=at, last_activity_at=at,
                                       landing_url="https://shop.example.com/")
            await PageView.create(visit=visit, visitor=visitor, url="https://shop.example.com/", at=at)
            await TrackEvent.create(site=site, visitor=visitor, visit=visit, name="signup", props={}, at=at)
            if chatted:
                await Conversation.create(site=site, visitor=visitor, status="closed", requested_at=at, closed_at=at)


async def trail_counts(d, tag: str) -> dict[str, list[int]]:
    """[visitors, visits, page views, events] of each seeded visitor."""
    async with database(d):
        out = {}
        for name in ("old", "oldchat", "recent"):
            vid = f"v_{name}_{tag}"
            out[name] = [await Visitor.filter(id=vid).count(), await Visit.filter(visitor_id=vid).count(),
                         await PageView.filter(visitor_id=vid).count(), await TrackEvent.filter(visitor_id=vid).count()]
        return out


async def test_retention_purges_the_trail_older_than_the_sites_setting(site):
    d = site
    key = new_site(d, {"retention_days": 30})
    tag = new_id()[:8]
    await seed_old_trails(d, key, tag)
    totals = json.loads(cli(d.env, "purge-trail").strip().splitlines()[-1])
    assert totals["visits"] >= 2 and totals["visitors"] >= 1
    assert await trail_counts(d, tag) == {"old": [0, 0, 0, 0], "oldchat": [1, 0, 0, 0], "recent": [1, 1, 1, 1]}


async def test_a_new_visit_begins_after_the_sites_inactivity_timeout(site):
    """The trail service itself, called in this process on the deployment's database (with a runtime
    of the deployment, as a CLI command has)."""
    d = site
    key = new_site(d, {"visit_timeout_minutes": 10})
    async with database(d, runtime=True):
        site_row = await Site.get(key=key)
        settings = tracking.settings_of(site_row)
        visitor = await Visitor.create(id=f"v_visits_{new_id()[:8]}", site=site_row, first_seen=utcnow(),
                                       last_seen=utcnow())
        t0 = utcnow() - timedelta(hours=3)
        # (minutes after t0, page): a visit, 9 minutes later the same visit, 11 minutes after that a new one.
        for minutes, page in ((0, "/a"), (9, "/b"), (20, "/c"), (21, "/d")):
            await tracking.page_view(visitor, settings, "https://shop.example.com" + page, None, None, page[1:],
                                     at=t0 + timedelta(minutes=minutes))
        await tracking.flush()
        visits = await Visit.filter(visitor_id=visitor.id).order_by("number").values("id", "number")
        pages = {v["number"]: await PageView.filter(visit_id=v["id"]).order_by("at").values_list("url", flat=True)
                 for v in visits}
        count = (await Visitor.get(id=visitor.id)).visit_count
    shop = "https://shop.example.com"
    assert pages == {1: [shop + "/a", shop + "/b"], 2: [shop + "/c", shop + "/d"]} and count == 2
