"""Help in the widget over the visitor socket (docs/widget.md, "Help"): `help_search` and
`help_article` find and show published public articles of the visitor's site only, in English and
Chinese; searches and reads go to the knowledge event log, a read also to the visitor's trail; a
chat started from Help is recorded as such; bad input gets an error ack and stores nothing.

Real servers (SQLite; PostgreSQL + Redis with two workers), real socket.io visitor clients. Each test
makes a site of its own and seeds its articles directly with the knowledge service
(`inprocess.database(d, runtime=True)`), bound to that site so that no other test sees them.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from app.models import Article, KnowledgeEvent, TrackEvent, User
from app.services import admin, knowledge
from tests.support import clients
from tests.support.clients import new_id
from tests.support.inprocess import database
from tests.support.server import cli

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@dataclass
class Site:
    id: int
    key: str


def code(ack) -> str | None:
    return None if ack.get("ok") else ack["error"]["code"]


def new_site(d) -> Site:
    created = json.loads(cli(d.env, "create-site", "--name", f"Help {new_id()[:6]}", "--origin", d.origin,
                             *sum((["--origin", s.url] for s in d.servers), []), "--json"))
    return Site(created["id"], created["key"])


async def editor(d) -> User:
    """A knowledge editor of this test's own (the articles' author)."""
    user = await admin.create_user(f"ed-{new_id()[:8]}@example.com", d.password, "supervisor", "Eda Editor", 3)
    await User.filter(id=user.id).update(knowledge_editor=True)
    return await User.get(id=user.id)


async def publish(author: User, site: Site | None, title: str, body: str, **values) -> Article:
    values.setdefault("status", "published")
    values.setdefault("site_ids", [site.id] if site else [])
    return await knowledge.save(author, None, {"title": title, "body": body, **values})


async def visitor(d, site: Site, server: int = 0) -> clients.Client:
    client = await clients.visitor(d.servers[server].url, site.key, d.origin)
    assert (await client.call("page_view", {"url": "https://shop.example.com/faq", "title": "FAQ"}))["ok"]
    return client


def visitor_id(client) -> str:
    return client.rec.of("session")[0]["visitor_id"]


async def until(fetch, condition, timeout: float = 15.0):
    async def poll():
        while True:
            value = await fetch()
            if condition(value):
                return value
            await asyncio.sleep(0.1)  # polling for a condition: the trail is written in batches
    return await asyncio.wait_for(poll(), timeout)


async def events_of(d, vid: str) -> list[KnowledgeEvent]:
    async with database(d):
        return await KnowledgeEvent.filter(visitor_id=vid).order_by("id")


def ids(ack) -> list[int]:
    assert ack["ok"], ack
    return [r["id"] for r in ack["results"]]


async def test_a_visitor_searches_in_english_and_chinese_and_reads_an_article(deployment):
    d = deployment
    site = new_site(d)
    tag = new_id()[:6]
    async with database(d, runtime=True):
        author = await editor(d)
        shipping = await publish(author, site, f"Shipping times {tag}", "Parcels arrive in three days.")
        secret = await publish(author, site, f"Refund overrides {tag}", "Supervisors only.", audience="internal")
        image = await knowledge.add_image(author, "box.png", PNG)
        returns = await publish(
            author, site, f"Returns policy {tag}",
            "Send shoes back within **30 days**.\n\n"
            f"See [shipping](article:{shipping.id}) and [the override](article:{secret.id}).\n\n"
            f"![A box](image:{image.id})\n\n<script>alert(1)</script> [bad](javascript:alert(2))")
        chinese = await publish(author, site, "退货政策", "我们接受三十天内的退货。请保留收据。", language="zh")
    client = await visitor(d, site, server=-1)
    vid = visitor_id(client)
    try:
        ack = await client.call("help_search", {"query": f"returns {tag}", "language": "en"})
        assert ids(ack)[0] == returns.id and secret.id not in ids(ack)
        first = ack["results"][0]
        assert first["title"] == f"Returns policy {tag}" and "30 days" in first["excerpt"]
        # Chinese by words: 退货 finds 退货政策, in Chinese …
        assert ids(await client.call("help_search", {"query": "退货", "language": "zh"})) == [chinese.id]
        # … and, with nothing in the visitor's language, in any language.
        assert ids(await client.call("help_search", {"query": "退货", "language": "en"})) == [chinese.id]
        assert ids(await client.call("help_search", {"query": f"nothing{tag} here"})) == []

        ack = await client.call("help_article", {"id": returns.id})
        assert ack["ok"], ack
        article = ack["article"]
        assert (article["id"], article["title"], article["language"]) == (returns.id, f"Returns policy {tag}", "en")
        assert article["url"] == f"{d.servers[-1].url}/help/{site.key}/articles/{returns.id}-{returns.slug}"
        html = article["html"]
        assert "<strong>30 days</strong>" in html
        # A link to an article the visitor may read goes to its help-center page; one to an internal
        # article keeps its text only; images come from /kb/images of this site.
        assert f'href="{d.servers[-1].url}/help/{site.key}/articles/{shipping.id}-{shipping.slug}"' in html
        assert "the override" in html and f"article:{secret.id}" not in html and f"/articles/{secret.id}-" not in html
        assert f'src="{d.servers[-1].url}/kb/images/{image.id}?site={site.key}"' in html
        # Markup typed in the article is text; a javascript: link is no link.
        assert "<script" not in html and "&lt;script&gt;" in html and 'href="javascript' not in html

        kinds = [(e.kind, e.query, e.results, e.language, e.article_id) for e in await events_of(d, vid)]
        assert kinds == [("search", f"returns {tag}", 1, "en", None), ("search", "退货", 1, "zh", None),
                         ("search", "退货", 1, "en", None), ("search", f"nothing{tag} here", 0, None, None),
                         ("read", None, None, "en", returns.id)]
        stored = await events_of(d, vid)
        assert {(e.source, e.site_id) for e in stored} == {("widget", site.id)}
        assert len({e.session for e in stored}) == 1 and stored[0].session.startswith(vid)

        async def trail():
            async with database(d):
                return await TrackEvent.filter(visitor_id=vid, name="help_article_read")
        read = await until(trail, lambda rows: len(rows) == 1)
        assert read[0].props == {"article_id": returns.id, "title": f"Returns policy {tag}"}
        assert read[0].site_id == site.id
    finally:
        await client.disconnect()


async def test_internal_draft_archived_and_other_sites_articles_are_not_found(deployment):
    d = deployment
    site, other = new_site(d), new_site(d)
    word = "zq" + new_id()[:6].lower()
    async with database(d, runtime=True):
        author = await editor(d)
        public = await publish(author, site, f"Warranty {word}", "Two years.")
        hidden = [
            await publish(author, site, f"Warranty internal {word}", "Staff only.", audience="internal"),
            await publish(author, site, f"Warranty draft {word}", "Not yet.", status="draft"),
            await publish(author, site, f"Warranty archived {word}", "Old.", status="archived"),
            await publish(author, other, f"Warranty hats {word}", "Another shop's."),
        ]
    client = await visitor(d, site)
    vid = visitor_id(client)
    try:
        assert ids(await client.call("help_search", {"query": word})) == [public.id]
        assert ids(await client.call("help_search", {"query": f"warranty {word}", "language": "en"})) == [public.id]
        for article in hidden:
            ack = await client.call("help_article", {"id": article.id})
            assert code(ack) == "not_found", article.title
            assert ack["error"]["message"] == "No such article."
        assert code(await client.call("help_article", {"id": 987654321})) == "not_found"
        assert (await client.call("help_article", {"id": public.id}))["ok"]
        # Only what was found and read is recorded: no read of a refused id.
        assert [(e.kind, e.article_id) for e in await events_of(d, vid)] == \
            [("search", None), ("search", None), ("read", public.id)]
        assert client.connected
    finally:
        await client.disconnect()


async def test_bad_input_gets_an_error_and_stores_nothing(deployment):
    d = deployment
    site = new_site(d)
    client = await visitor(d, site)
    vid = visitor_id(client)
    try:
        for payload, expected in (
            ([], "bad_request"), ("returns", "bad_request"), ({}, "bad_request"), ({"query": 5}, "bad_request"),
            ({"query": ["returns"]}, "bad_request"), ({"query": ""}, "bad_request"), ({"query": "   "}, "bad_request"),
            ({"query": "x" * 201}, "too_large"), ({"query": "返" * 201}, "too_large"),
            ({"query": "returns", "language": "fr"}, "bad_request"), ({"query": "returns", "language": 5}, "bad_request"),
            ({"query": "a\x00b"}, "bad_request"),
        ):
            ack = await client.call("help_search", payload)
            assert code(ack) == expected, payload
            assert ack["error"]["message"], payload
        assert (await client.call("help_search", {"query": "x" * 200}))["ok"]  # exactly the limit is fine
        for payload in ([], "1", {}, {"id": "1"}, {"id": 1.5}, {"id": 0}, {"id": -3}, {"id": True}, {"id": None},
                        {"id": 2**40}, {"id": [1]}):
            ack = await client.call("help_article", payload)
            assert code(ack) == "bad_request", payload
            assert ack["error"]["message"], payload
        # The chat-start flag is a boolean too.
        ack = await client.call("message", {"client_id": new_id(), "body": "hi", "from_help": "yes"})
        assert code(ack) == "bad_request"
        assert client.connected
        assert [(e.kind, e.results) for e in await events_of(d, vid)] == [("search", 0)]
        assert (await client.call("history", {}))["conversations"] == []
    finally:
        await client.disconnect()


async def test_searches_are_rate_limited(deployment):
    site = new_site(deployment)
    client = await visitor(deployment, site)
    try:
        acks = [await client.call("help_search", {"query": f"limit {n}"}) for n in range(31)]
        assert all(a["ok"] for a in acks[:30])
        assert code(acks[30]) == "rate_limited" and acks[30]["error"]["retry_after"] > 0
        assert client.connected
    finally:
        await client.disconnect()


async def test_a_chat_started_from_help_is_recorded_with_its_conversation(deployment):
    d = deployment
    site = new_site(d)
    helped, plain = await visitor(d, site), await visitor(d, site, server=-1)
    try:
        assert (await helped.call("help_search", {"query": "returns"}))["ok"]
        first = await helped.call("message", {"client_id": new_id(), "body": "I still need help", "from_help": True})
        assert first["ok"], first
        again = await helped.call("message", {"client_id": new_id(), "body": "Anyone?", "from_help": True})
        assert again["conversation_id"] == first["conversation_id"]
        started = [e for e in await events_of(d, visitor_id(helped)) if e.kind == "chat_started"]
        assert [(e.conversation_id, e.site_id, e.source) for e in started] == \
            [(first["conversation_id"], site.id, "widget")]
        search = next(e for e in await events_of(d, visitor_id(helped)) if e.kind == "search")
        assert started[0].session == search.session
        # A chat started without Help (the protocol as before: no flag) records nothing.
        other = await plain.call("message", {"client_id": new_id(), "body": "Hello"})
        assert other["ok"] and await events_of(d, visitor_id(plain)) == []
        for client, ack in ((helped, first), (plain, other)):
            assert (await client.call("close", {"conversation_id": ack["conversation_id"]}))["ok"]
    finally:
        await helped.disconnect()
        await plain.disconnect()
