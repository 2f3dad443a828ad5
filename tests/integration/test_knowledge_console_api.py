"""The console's knowledge API (app/web/knowledge_console.py, docs/protocol.md "Knowledge in the
console") through real servers: SQLite, and PostgreSQL for the path a CSR takes.

A CSR of desk A reads suggestions for the visitor's latest message in a real chat, searches (in
English and Chinese), gets what "Insert link" / "Insert text" put in the reply (a public article of
the chat's site has a link; an internal one, a draft-free article of another site none), records an
insert (a knowledge event), and reads what the visitor searched and read before the chat. A CSR of
desk B (same site), a CSR of another site and the general team get 404 for that chat; a marketer
403; wrong types, missing fields, unknown ids, oversize searches 400 / 404 / 413 with nothing stored.

The deployments are this module's own; every test makes its own users, departments, site, articles
and chat (their titles and the visitor's words carry the test's tag).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
import pytest

from app.clock import utcnow
from app.models import KnowledgeEvent, Message, Site, User
from app.services import admin, knowledge
from tests.integration.test_work_orders_api import error, person, staff, tag
from tests.support import clients
from tests.support.clients import new_id
from tests.support.db import fetch
from tests.support.inprocess import database
from tests.support.server import Deployment, deploy

WAIT = 30.0
ENV = {"VISITOR_ABANDON_GRACE_SECONDS": "5"}


@pytest.fixture(scope="module")
def site():
    """SQLite, one server: this module's own."""
    d = deploy(database_url=None, redis_url=None, processes=1, extra_env=ENV)
    yield d
    d.stop()


@pytest.fixture(params=["sqlite", "postgres"], scope="module")
def floor(request, site):
    """The module's SQLite server, and one on PostgreSQL (this module's own)."""
    if request.param == "sqlite":
        yield site
        return
    d = deploy(database_url=request.getfixturevalue("new_postgres_database")(), redis_url=None, processes=1,
               extra_env=ENV)
    yield d
    d.stop()


# -- the world of a test -----------------------------------------------------------------------------

RETURNS_BODY = """# How returns work

You can return unworn **shoes** within *30 days*, {item} included.

1. Print the [return label](https://shop.example.com/label).
2. Pack the shoes in their box.
3. See [exchanges](article:{exchanges}) and our [staff notes](article:{internal}).

- Refunds take 5 days
- `Store credit` is instant

<script>alert(1)</script>
"""


@dataclass
class World:
    d: Deployment
    t: str
    site_id: int
    other_site_id: int
    desks: dict[str, int]
    people: dict[str, str]  # who → e-mail
    articles: dict[str, int] = field(default_factory=dict)
    visitors: list[clients.Client] = field(default_factory=list)

    @property
    def item(self) -> str:
        return f"hiker{self.t}"

    async def chat(self, body: str | None, desk: str = "A") -> tuple[int, str]:
        """A visitor's chat in `desk` (waiting: the desk routes by hand); its id and the visitor's."""
        visitor = await clients.visitor(self.d.server.url, self.d.site_key, self.d.origin)
        self.visitors.append(visitor)
        visitor_id = visitor.rec.of("session")[0]["visitor_id"]
        ack = await visitor.call("message", {"client_id": new_id(), "body": body or f"Hello {self.t}",
                                             "department_id": self.desks[desk]})
        assert ack["ok"], ack
        return ack["conversation_id"], visitor_id

    async def close(self) -> None:
        for visitor in self.visitors:
            await visitor.disconnect()


async def make_world(d: Deployment) -> World:
    """Desk A (CSR Ann) and desk B (CSR Bob) on the deployment's site; desk F (CSR Fay) on another
    site; an editor (admin), a marketer, and the articles."""
    t = tag()
    item = f"hiker{t}"  # the test's own product: the visitor's words match its articles only
    people = {"ann": await person(d, t, "Ann"), "bob": await person(d, t, "Bob"), "fay": await person(d, t, "Fay"),
              "eddie": await person(d, t, "Eddie", "admin"), "mia": await person(d, t, "Mia", "marketer"),
              "hal": await person(d, t, "Hal", "handler")}
    async with database(d, runtime=True):
        home = await Site.get(key=d.site_key)
        other = await admin.create_site(f"Other shop {t}", ["https://other.example.com"])
        desks = {"A": (await admin.create_department(d.site_key, f"Desk A {t}", [people["ann"]], strategy="manual")).id,
                 "B": (await admin.create_department(d.site_key, f"Desk B {t}", [people["bob"]], strategy="manual")).id,
                 "F": (await admin.create_department(other.key, f"Desk F {t}", [people["fay"]], strategy="manual")).id}
        editor = await User.get(email=people["eddie"])

        async def save(**values) -> int:
            return (await knowledge.save(editor, None, {"status": "published", **values})).id

        articles = {}
        articles["internal"] = await save(title=f"Refund exceptions {t}", audience="internal", site_ids=[home.id],
                                          body=f"Staff only: {item} shoes worn outside may be returned with approval.")
        articles["exchanges"] = await save(title=f"Exchanges {t}", body=f"Swap a size for free. {t}")
        articles["returns"] = await save(title=f"Returns policy {t}", site_ids=[home.id], body=RETURNS_BODY.format(
            item=item, exchanges=articles["exchanges"], internal=articles["internal"]))
        articles["zh"] = await save(title=f"退货政策 {t}", language="zh", body=f"收到商品七天内可以申请退货。{t}")
        articles["draft"] = await save(title=f"Returns draft {t}", status="draft", body=f"Return shoes, draft {t}")
        articles["abroad"] = await save(title=f"Returns abroad {t}", site_ids=[other.id],
                                        body=f"Return shoes from abroad {t}")
    return World(d, t, home.id, other.id, desks, people, articles)


@pytest.fixture
async def world(floor):
    w = await make_world(floor)
    yield w
    await w.close()


@pytest.fixture
async def home(site):
    """The world on the SQLite deployment (the checks that do not depend on the database)."""
    w = await make_world(site)
    yield w
    await w.close()


async def inserted_events(d: Deployment, conversation_id: int) -> list[dict]:
    rows = await fetch(d, "SELECT kind, source, user_id, conversation_id, article_id, site_id, data FROM kb_event "
                          "WHERE conversation_id = ? ORDER BY id", conversation_id)
    return [{**r, "data": json.loads(r["data"]) if isinstance(r["data"], str) else r["data"]} for r in rows]


# -- the CSR's path ------------------------------------------------------------------------------------

async def test_a_csr_gets_suggestions_searches_inserts_and_the_insert_is_recorded(world):
    w, t = world, world.t
    a = w.articles
    conversation_id, _ = await w.chat(f"How do I return my {w.item} shoes?")
    async with staff(w.d, w.people["ann"]) as ann:
        # Suggestions: the visitor's latest message, the articles of this chat's site a CSR reads.
        got = await ann.get("/api/kb/suggestions", conversation_id=str(conversation_id))
        assert got.status_code == 200, got.text
        body = got.json()
        assert body["has_message"] is True and body["conversation_id"] == conversation_id
        suggested = body["articles"]
        assert 1 <= len(suggested) <= 3
        first = next(s for s in suggested if s["id"] == a["returns"])  # (the ranking is the search's own)
        assert (first["title"], first["audience"], first["language"], first["linkable"]) == \
            (f"Returns policy {t}", "public", "en", True)
        assert "**" not in first["excerpt"] and "shoes" in first["excerpt"]
        ids = {s["id"] for s in suggested}
        assert a["draft"] not in ids and a["abroad"] not in ids  # a draft, another site's article
        internal = [s for s in suggested if s["id"] == a["internal"]]
        assert internal == [] or internal[0]["linkable"] is False

        # A newer message moves the suggestions with it.
        await w.visitors[-1].call("message", {"client_id": new_id(), "body": f"Can I swap a size? exchanges {t}"})
        moved = (await ann.get("/api/kb/suggestions", conversation_id=str(conversation_id))).json()["articles"]
        assert moved[0]["id"] == a["exchanges"], moved

        # Search, in English and in Chinese.
        found = (await ann.get("/api/kb/search", q=f"returns {t}", conversation_id=str(conversation_id))).json()
        assert found["query"] == f"returns {t}"
        assert {h["id"] for h in found["articles"]} == {a["returns"], a["internal"]}
        by_id = {h["id"]: h for h in found["articles"]}
        assert by_id[a["returns"]]["linkable"] is True and by_id[a["internal"]]["linkable"] is False
        assert by_id[a["internal"]]["audience"] == "internal"
        zh = (await ann.get("/api/kb/search", q="退货", conversation_id=str(conversation_id))).json()["articles"]
        assert a["zh"] in [h["id"] for h in zh]
        assert next(h for h in zh if h["id"] == a["zh"])["language"] == "zh"
        # Without a chat: the CSR's own sites, nothing offered as a link.
        loose = (await ann.get("/api/kb/search", q=f"returns {t}", limit="1")).json()["articles"]
        assert len(loose) == 1 and loose[0]["linkable"] is False

        # "Insert link" / "Insert text" of the public article: its address on this chat's site.
        got = await ann.get(f"/api/kb/articles/{a['returns']}/insert", conversation_id=str(conversation_id))
        assert got.status_code == 200, got.text
        insert = got.json()
        assert insert["link"] == f"{w.d.server.url}/help/{w.d.site_key}/articles/{a['returns']}-returns-policy-{t}"
        assert (insert["title"], insert["audience"]) == (f"Returns policy {t}", "public")
        text = insert["text"]
        assert text.startswith(f"How returns work\n\nYou can return unworn shoes within 30 days, {w.item} included.")
        assert "1. Print the return label (https://shop.example.com/label).\n2. Pack the shoes in their box." in text
        exchanges_url = f"{w.d.server.url}/help/{w.d.site_key}/articles/{a['exchanges']}-exchanges-{t}"
        assert f"3. See exchanges ({exchanges_url}) and our staff notes." in text  # internal: its words only
        assert "• Refunds take 5 days\n• Store credit is instant" in text
        for syntax in ("**", "# ", "](", "`", "- Refunds"):
            assert syntax not in text, syntax
        html = insert["html"]
        assert "<strong>shoes</strong>" in html and "<script" not in html and exchanges_url in html
        assert f"/articles/{a['internal']}-" not in html

        # The internal article: text, never a link.
        internal = (await ann.get(f"/api/kb/articles/{a['internal']}/insert",
                                  conversation_id=str(conversation_id))).json()
        assert internal["link"] is None and internal["audience"] == "internal"
        assert internal["text"].startswith(f"Staff only: {w.item} shoes worn outside")

        # The insert is recorded.
        for how, article in (("link", a["returns"]), ("text", a["internal"])):
            done = await ann.post("/api/kb/inserted", {"conversation_id": conversation_id, "article_id": article,
                                                       "how": how})
            assert done.status_code == 201, done.text
            assert done.json()["ok"] is True
    assert await inserted_events(w.d, conversation_id) == [
        {"kind": "inserted", "source": "console", "user_id": ann.id, "conversation_id": conversation_id,
         "article_id": a["returns"], "site_id": w.site_id, "data": {"how": "link"}},
        {"kind": "inserted", "source": "console", "user_id": ann.id, "conversation_id": conversation_id,
         "article_id": a["internal"], "site_id": w.site_id, "data": {"how": "text"}}]


async def test_the_visitors_searches_and_reads_before_the_chat(world):
    w, t = world, world.t
    conversation_id, visitor_id = await w.chat(f"Hi {t}")
    other_id = new_id()[:20]

    async def seed() -> None:
        await knowledge.record("search", site_id=w.site_id, visitor_id=visitor_id, query="return shoes", results=2)
        await knowledge.record("search", site_id=w.site_id, visitor_id=visitor_id, query="退货", results=1)
        await knowledge.record("read", site_id=w.site_id, visitor_id=visitor_id, article_id=w.articles["returns"])
        await knowledge.record("read", site_id=w.site_id, visitor_id=visitor_id, article_id=w.articles["zh"])
        await knowledge.record("search", site_id=w.site_id, visitor_id=other_id, query="someone else")
        old = await knowledge.record("search", site_id=w.site_id, visitor_id=visitor_id, query="long ago")
        await KnowledgeEvent.filter(id=old.id).update(at=utcnow() - timedelta(minutes=45))
    async with database(w.d, runtime=True):
        await seed()

    async with staff(w.d, w.people["ann"]) as ann:
        got = await ann.get("/api/kb/self-service", conversation_id=str(conversation_id))
        assert got.status_code == 200, got.text
        assert got.json() == {"ok": True, "conversation_id": conversation_id, "searched": ["return shoes", "退货"],
                              "read": [{"id": w.articles["returns"], "title": f"Returns policy {t}"},
                                       {"id": w.articles["zh"], "title": f"退货政策 {t}"}]}
        # A visitor who did neither: nothing.
        quiet, _ = await w.chat(f"Hello again {t}")
        nothing = (await ann.get("/api/kb/self-service", conversation_id=str(quiet))).json()
        assert (nothing["searched"], nothing["read"]) == ([], [])


async def test_no_suggestions_before_the_visitor_writes_and_a_supervisor_or_admin_reads_too(home):
    w, t = home, home.t
    conversation_id, _ = await w.chat(f"How do I return my {w.item} shoes?")
    async with staff(w.d, w.people["eddie"]) as eddie:  # an admin (and an editor): published articles only
        got = (await eddie.get("/api/kb/suggestions", conversation_id=str(conversation_id))).json()
        assert w.articles["returns"] in [s["id"] for s in got["articles"]]
        assert w.articles["draft"] not in [s["id"] for s in got["articles"]]
        found = (await eddie.get("/api/kb/search", q=f"draft {t}")).json()["articles"]
        assert w.articles["draft"] not in [h["id"] for h in found]
        draft = await eddie.get(f"/api/kb/articles/{w.articles['draft']}/insert", conversation_id=str(conversation_id))
        assert draft.status_code == 404 and error(draft)["code"] == "not_found"
        # Another site's public article: text, but no link on this chat's site.
        abroad = (await eddie.get(f"/api/kb/articles/{w.articles['abroad']}/insert",
                                  conversation_id=str(conversation_id))).json()
        assert abroad["link"] is None and abroad["text"].startswith("Return shoes from abroad")

    # A chat whose visitor wrote nothing (an accepted invitation starts with the CSR's words): made
    # here by turning the visitor's message into a system notice.
    async def nothing_from_the_visitor() -> None:
        await Message.filter(conversation_id=conversation_id, sender_kind="visitor").update(sender_kind="system")
    async with database(w.d, runtime=True):
        await nothing_from_the_visitor()
    async with staff(w.d, w.people["ann"]) as ann:
        got = (await ann.get("/api/kb/suggestions", conversation_id=str(conversation_id))).json()
        assert got == {"ok": True, "conversation_id": conversation_id, "has_message": False, "articles": []}


# -- who may -------------------------------------------------------------------------------------------

async def test_other_desks_other_sites_and_the_general_team_get_404_and_a_marketer_403(home):
    w = home
    conversation_id, _ = await w.chat(f"How do I return my shoes? {w.t}")
    article = w.articles["returns"]
    reads = [("/api/kb/suggestions", {"conversation_id": str(conversation_id)}),
             ("/api/kb/self-service", {"conversation_id": str(conversation_id)}),
             ("/api/kb/search", {"q": "returns", "conversation_id": str(conversation_id)}),
             (f"/api/kb/articles/{article}/insert", {"conversation_id": str(conversation_id)})]
    before = await inserted_events(w.d, conversation_id)
    for who in ("bob", "fay"):  # desk B of the same site; desk F of another site
        async with staff(w.d, w.people[who]) as outsider:
            for path, params in reads:
                got = await outsider.get(path, **params)
                assert got.status_code == 404, (who, path, got.text)
                assert error(got)["code"] == "not_found"
            posted = await outsider.post("/api/kb/inserted", {"conversation_id": conversation_id, "article_id": article,
                                                              "how": "text"})
            assert posted.status_code == 404 and error(posted)["code"] == "not_found"
    async with staff(w.d, "agent@example.com") as general:  # the general team: not a desk's chat
        got = await general.get("/api/kb/suggestions", conversation_id=str(conversation_id))
        assert got.status_code == 404
    async with staff(w.d, w.people["fay"]) as fay:  # the home site's article is not hers either
        got = await fay.get(f"/api/kb/articles/{article}/insert", conversation_id=str(conversation_id))
        assert got.status_code == 404
        assert [h["id"] for h in (await fay.get("/api/kb/search", q=f"returns {w.t}")).json()["articles"]] == \
            [w.articles["abroad"]]
    async with staff(w.d, w.people["mia"]) as mia:  # a marketer reads no article
        for path, params in [*reads, ("/api/kb/search", {"q": "returns"})]:
            got = await mia.get(path, **params)
            assert got.status_code == 403, (path, got.text)
            assert error(got)["code"] == "forbidden"
        posted = await mia.post("/api/kb/inserted", {"conversation_id": conversation_id, "article_id": article,
                                                     "how": "text"})
        assert posted.status_code == 403
    async with staff(w.d, w.people["hal"]) as hal:  # back-office: articles yes, this chat no
        assert (await hal.get("/api/kb/search", q=f"returns {w.t}")).status_code == 200
        assert (await hal.get("/api/kb/suggestions", conversation_id=str(conversation_id))).status_code == 404
    assert await inserted_events(w.d, conversation_id) == before


async def test_signed_out_is_401_and_a_post_without_its_csrf_token_is_403(home):
    w = home
    conversation_id, _ = await w.chat(f"Returns? {w.t}")
    async with staff(w.d, w.people["ann"]) as ann:
        async with httpx.AsyncClient(base_url=ann.url) as anonymous:
            got = await anonymous.get("/api/kb/search", params={"q": "returns"})
            assert got.status_code == 401 and error(got)["code"] == "unauthorized"
        body = {"conversation_id": conversation_id, "article_id": w.articles["returns"], "how": "link"}
        for csrf in (False, "forged"):
            refused = await ann.post("/api/kb/inserted", body, csrf=csrf)
            assert refused.status_code == 403 and error(refused)["code"] == "csrf"
    assert await inserted_events(w.d, conversation_id) == []


# -- bad input ---------------------------------------------------------------------------------------------

async def test_wrong_types_missing_fields_unknown_ids_and_oversize_input(home):
    w = home
    conversation_id, _ = await w.chat(f"Returns? {w.t}")
    cid, article = str(conversation_id), w.articles["returns"]
    async with staff(w.d, w.people["ann"]) as ann:
        async def refused(path: str, status: int, code: str, field: str | None = None, **params) -> None:
            got = await ann.get(path, **params)
            assert got.status_code == status, (path, params, got.text)
            e = error(got)
            assert e["code"] == code and e["message"], e
            if field:
                assert e["field"] == field, e

        for path in ("/api/kb/suggestions", "/api/kb/self-service"):
            await refused(path, 400, "bad_request", "conversation_id")
            await refused(path, 400, "bad_request", "conversation_id", conversation_id="abc")
            await refused(path, 400, "bad_request", "conversation_id", conversation_id="-1")
            await refused(path, 400, "bad_request", "conversation_id", conversation_id="1.5")
            await refused(path, 400, "bad_request", "conversation_id", conversation_id="0")
            await refused(path, 400, "bad_request", "conversation_id", conversation_id="9" * 30)
            await refused(path, 404, "not_found", conversation_id="999999999")
        await refused("/api/kb/search", 400, "bad_request", "q")
        await refused("/api/kb/search", 400, "bad_request", "q", q="x" * 201)
        await refused("/api/kb/search", 400, "bad_request", "limit", q="returns", limit="0")
        await refused("/api/kb/search", 400, "bad_request", "limit", q="returns", limit="51")
        await refused("/api/kb/search", 400, "bad_request", "limit", q="returns", limit="ten")
        await refused("/api/kb/search", 400, "bad_request", "conversation_id", q="returns", conversation_id="x")
        await refused("/api/kb/search", 404, "not_found", q="returns", conversation_id="999999999")
        assert (await ann.get("/api/kb/search", q="x" * 200)).status_code == 200
        assert (await ann.get("/api/kb/search", q="   ")).json()["articles"] == []
        await refused(f"/api/kb/articles/{article}/insert", 400, "bad_request", "conversation_id")
        await refused(f"/api/kb/articles/{article}/insert", 404, "not_found", conversation_id="999999999")
        await refused("/api/kb/articles/999999999/insert", 404, "not_found", conversation_id=cid)
        await refused("/api/kb/articles/abc/insert", 404, "not_found", conversation_id=cid)
        await refused("/api/kb/articles/1e3/insert", 404, "not_found", conversation_id=cid)

        good = {"conversation_id": conversation_id, "article_id": article, "how": "text"}
        for body, status, field_ in [
            ({}, 400, "conversation_id"),
            ({**good, "conversation_id": None}, 400, "conversation_id"),
            ({**good, "conversation_id": str(conversation_id)}, 400, "conversation_id"),
            ({**good, "conversation_id": True}, 400, "conversation_id"),
            ({**good, "conversation_id": 1.0 * conversation_id}, 400, "conversation_id"),
            ({**good, "conversation_id": -5}, 400, "conversation_id"),
            ({**good, "conversation_id": 2**40}, 400, "conversation_id"),
            ({k: v for k, v in good.items() if k != "article_id"}, 400, "article_id"),
            ({**good, "article_id": [article]}, 400, "article_id"),
            ({**good, "article_id": {"id": article}}, 400, "article_id"),
            ({k: v for k, v in good.items() if k != "how"}, 400, "how"),
            ({**good, "how": "paste"}, 400, "how"),
            ({**good, "how": ["link"]}, 400, "how"),
            ({**good, "article_id": w.articles["internal"], "how": "link"}, 400, "how"),  # internal: no link
            ({**good, "article_id": w.articles["abroad"], "how": "link"}, 404, None),  # not Ann's site
            ({**good, "article_id": w.articles["draft"]}, 404, None),
            ({**good, "article_id": 999999999}, 404, None),
            ({**good, "conversation_id": 999999999}, 404, None),
        ]:
            got = await ann.post("/api/kb/inserted", body)
            assert got.status_code == status, (body, got.text)
            e = error(got)
            assert e["message"]
            if field_:
                assert e["field"] == field_, (body, e)
        for raw, status in [("[1, 2]", 400), ("not json", 400), ('{"conversation_id": NaN}', 400),
                            ("[" * 50 + "]" * 50, 400), (json.dumps({**good, "pad": "x" * 10_000}), 413)]:
            got = await ann.post("/api/kb/inserted", content=raw)
            assert got.status_code == status, (raw[:40], got.text)
            assert error(got)["message"]
    assert await inserted_events(w.d, conversation_id) == []
