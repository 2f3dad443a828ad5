"""The live Visitors view: every visitor online now, pushed to CSRs as they move (no polling);
a visitor's profile with their trail across visits and their earlier conversations."""

from __future__ import annotations

import pytest

from tests.support import clients
from tests.support.clients import new_id
from tests.support.server import deploy

GONE = 1.0
SEARCH = "https://www.google.com/search?q=blue+tent+waterproof"


@pytest.fixture(params=["sqlite", "postgres+redis x2"], scope="module")
def site(request, new_postgres_database, redis_url):
    env = {"LIVE_VISITOR_GONE_SECONDS": str(GONE)}
    if request.param == "sqlite":
        deployment = deploy(database_url=None, redis_url=None, processes=1, extra_env=env)
    else:
        deployment = deploy(database_url=new_postgres_database(), redis_url=redis_url, processes=2,
                            extra_env=env)
    yield deployment
    deployment.stop()


def code(ack) -> str | None:
    return None if ack.get("ok") else ack["error"]["code"]


def row_of(agent, visitor_id: str, predicate=lambda r: True):
    async def wait():
        found = await agent.rec.wait_for(
            "visitors.delta", lambda d: any(r["id"] == visitor_id and predicate(r) for r in d["upsert"]), timeout=15)
        return next(r for r in found["upsert"] if r["id"] == visitor_id and predicate(r))
    return wait()


async def test_csrs_see_visitors_arrive_move_chat_and_leave(site):
    d = site
    tag = new_id()[:6]
    email = f"watch-{tag}@example.com"
    d.create_user(email, "agent", f"Wanda Watch {tag}")
    agent = await clients.agent(d.servers[0].url, email, d.password)
    try:
        first = await agent.call("visitors", {})
        assert first["ok"] and isinstance(first["visitors"], list)
        # A visitor on the other worker lands from a search engine.
        visitor = await clients.visitor(d.servers[-1].url, d.site_key, d.origin)
        vid = visitor.rec.of("session")[0]["visitor_id"]
        landing = "https://shop.example.com/tents?utm_source=news"
        assert (await visitor.call("page_view", {"url": landing, "title": "Tents", "referrer": SEARCH}))["ok"]
        row = await row_of(agent, vid, lambda r: r["url"] == landing)
        assert row["title"] == "Tents" and row["pages"] == 1 and row["visit"] == 1 and row["returning"] is False
        assert row["referrer_type"] == "search" and row["keywords"] == "blue tent waterproof"
        assert row["chat"] == "none" and row["device"] == "desktop" and row["browser"]
        # The next page: the count goes up; the visit's referrer stays the landing one.
        page2 = "https://shop.example.com/tents/alpine-2"
        await visitor.call("page_view", {"url": page2, "title": "Alpine 2", "referrer": landing})
        row = await row_of(agent, vid, lambda r: r["url"] == page2)
        assert row["pages"] == 2 and row["referrer_type"] == "search"
        # A snapshot taken now (on either worker) has them too.
        again = await agent.call("visitors", {})
        assert any(r["id"] == vid and r["url"] == page2 for r in again["visitors"])
        # They start a chat: the row says so.
        await visitor.call("message", {"client_id": new_id(), "body": "Is the Alpine 2 in stock?"})
        await row_of(agent, vid, lambda r: r["chat"] == "waiting")
        # They leave: the row goes once the short grace has passed.
        await visitor.disconnect()
        await agent.rec.wait_for("visitors.delta", lambda dl: vid in dl["remove"], timeout=15)
        assert not any(r["id"] == vid for r in (await agent.call("visitors", {}))["visitors"])
    finally:
        await agent.disconnect()


async def test_bots_are_not_visitors(site):
    d = site
    agent = await clients.agent(d.server.url, "agent@example.com", d.password)
    bot = await clients.visitor(d.server.url, d.site_key, d.origin,
                                user_agent="Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
    person = await clients.visitor(d.server.url, d.site_key, d.origin)
    try:
        await agent.call("visitors", {})
        bot_id = bot.rec.of("session")[0]["visitor_id"]
        person_id = person.rec.of("session")[0]["visitor_id"]
        await bot.call("page_view", {"url": "https://shop.example.com/bot-page"})
        await person.call("page_view", {"url": "https://shop.example.com/person-page"})
        await row_of(agent, person_id)
        snapshot = (await agent.call("visitors", {}))["visitors"]
        assert any(r["id"] == person_id for r in snapshot)
        assert not any(r["id"] == bot_id for r in snapshot)
        assert not any(r["id"] == bot_id for dl in agent.rec.of("visitors.delta") for r in dl["upsert"])
    finally:
        for client in (bot, person, agent):
            await client.disconnect()


async def test_the_profile_shows_the_trail_across_visits_and_earlier_conversations(site):
    d = site
    agent = await clients.agent(d.server.url, "agent@example.com", d.password)
    visitor = await clients.visitor(d.server.url, d.site_key, d.origin)
    try:
        vid = visitor.rec.of("session")[0]["visitor_id"]
        for path, title in (("/", "Home"), ("/tents", "Tents"), ("/tents/alpine-2", "Alpine 2")):
            await visitor.call("page_view", {"url": f"https://shop.example.com{path}", "title": title,
                                             "referrer": SEARCH if path == "/" else None})
        await visitor.call("message", {"client_id": new_id(), "body": "Hello from the trail"})
        profile = await agent.call("visitor_profile", {"visitor_id": vid})
        assert profile["ok"], profile
        assert profile["visitor"]["id"] == vid
        pages = profile["visits"][0]["pages"]
        assert [p["title"] for p in pages] == ["Home", "Tents", "Alpine 2"]
        assert profile["visits"][0]["landing_url"] == "https://shop.example.com/"
        assert any(m["body"] == "Hello from the trail" for c in profile["conversations"] for m in c["messages"])
    finally:
        await visitor.disconnect()
        await agent.disconnect()


@pytest.mark.parametrize("payload, expected", [
    (None, "bad_request"), ({}, "bad_request"), ({"visitor_id": 7}, "bad_request"), ("v_x", "bad_request"),
    ({"visitor_id": "x" * 41}, "too_large"), ({"visitor_id": "v_nobody"}, "not_found"),
])
async def test_a_wrong_profile_request_is_refused_and_the_connection_stays(site, payload, expected):
    agent = await clients.agent(site.server.url, "agent@example.com", site.password)
    try:
        assert code(await agent.call("visitor_profile", payload)) == expected
        assert code(await agent.call("visitors", "not an object")) == "bad_request"
        assert (await agent.call("visitors", {}))["ok"]
    finally:
        await agent.disconnect()
