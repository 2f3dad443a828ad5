"""The knowledge base over HTTP (app/web/knowledge.py), through a real server: the editors' JSON API
(articles, versions and restore, the Markdown preview, categories, images), the staff's pages, the
public help center, and the "Knowledge editor" permission on the admin Users page.

Who may: signed out 401; a CSR without the permission and a marketer 403 on every editor endpoint;
every POST without the session's CSRF token 403. Bad input (wrong types, missing fields, an unknown
category, a version of another article, a body over 100,000 characters, a request over 1 MiB, a file
that is not an image) is a clear error and stores nothing. Hostile Markdown (`<script>`, `<img
onerror>`, `javascript:` links, raw HTML) comes out harmless in the API's HTML and on the public
pages; internal, draft, archived and other-site articles stay out of visitors' reach by id, by
address and by search.

The deployment (SQLite, one server) is this module's own; every test makes its own articles (their
titles carry the test's tag) and its own users and sites, through the API or the services.
"""

from __future__ import annotations

import contextlib
import json
import re
from html.parser import HTMLParser
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from app.clock import utcnow
from app.models import Article, Site, User
from app.services import admin as admin_service, sites as sites_service
from tests.support.clients import new_id
from tests.support.db import fetch
from tests.support.inprocess import add_user, database
from tests.support.server import Deployment, deploy
from tests.support.web import csrf_of

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89" \
      b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
HTML_FILE = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
HOSTILE = """# Returns {tag}

<script>alert('x')</script>

<img src=x onerror=alert(1)>

[click me](javascript:alert(document.cookie)) and [also](JAVASCRIPT:alert(2)) and [data](data:text/html,<script>alert(3)</script>)

<iframe src="https://evil.example.com"></iframe><a href="javascript:alert(4)" onclick="alert(5)">raw link</a>

<div style="background:url(javascript:alert(6))">styled</div>

![pic](javascript:alert(7))

Plain words about 退货政策 stay.
"""


@pytest.fixture(scope="module")
def d():
    """SQLite, one server: this module's own."""
    deployment = deploy(database_url=None, redis_url=None, processes=1)
    yield deployment
    deployment.stop()


@pytest.fixture(params=["sqlite", "postgres"], scope="module")
def floor(request, d):
    """The module's SQLite server, and one on PostgreSQL (for the queries of the pages' own)."""
    if request.param == "sqlite":
        yield d
        return
    deployment = deploy(database_url=request.getfixturevalue("new_postgres_database")(), redis_url=None, processes=1)
    yield deployment
    deployment.stop()


def tag() -> str:
    return new_id()[:8]


class Staff:
    """A signed-in browser: the session cookie and the page's CSRF token."""

    def __init__(self, http: httpx.AsyncClient, csrf: str) -> None:
        self.http, self.csrf = http, csrf

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.http.get(path, params=params or None)

    async def post(self, path: str, body: Any = None, *, csrf: bool = True, content: bytes | None = None) -> httpx.Response:
        headers = {"X-CSRF-Token": self.csrf} if csrf else {}
        if content is not None:
            return await self.http.post(path, content=content, headers={"content-type": "application/json", **headers})
        return await self.http.post(path, json={} if body is None else body, headers=headers)

    async def upload(self, name: str, data: bytes, content_type: str = "image/png", *, csrf: bool = True) -> httpx.Response:
        headers = {"X-CSRF-Token": self.csrf} if csrf else {}
        return await self.http.post("/api/kb/images", files={"file": (name, data, content_type)}, headers=headers)

    async def create(self, **values: Any) -> dict:
        made = await self.post("/api/kb/articles", values)
        assert made.status_code == 201, made.text
        return made.json()["article"]


@contextlib.asynccontextmanager
async def staff(d: Deployment, email: str):
    async with httpx.AsyncClient(base_url=d.server.url, follow_redirects=False, timeout=60) as http:
        page = await http.get("/login")
        done = await http.post("/login", data={"email": email, "password": d.password, "csrf_token": csrf_of(page.text)})
        assert done.status_code == 303, done.text
        account = await http.get("/account")
        yield Staff(http, csrf_of(account.text))


@contextlib.asynccontextmanager
async def visitor(d: Deployment):
    async with httpx.AsyncClient(base_url=d.server.url, follow_redirects=False, timeout=60) as http:
        yield http


async def person(d: Deployment, t: str, who: str, role: str = "agent", *, editor: bool = False) -> str:
    email = f"{who.lower()}-{t}@example.com"
    made = await add_user(d, email, role, f"{who} {t}")
    if editor:
        async with database(d):
            await User.filter(id=made["id"]).update(knowledge_editor=True)
    return email


async def in_process(d: Deployment, work):
    async with database(d, runtime=True):
        return await work()


async def home_site(d: Deployment) -> dict:
    return (await fetch(d, "SELECT id, key FROM site WHERE key = ?", d.site_key))[0]


async def new_site(d: Deployment, name: str) -> Site:
    async def make() -> Site:
        return await sites_service.create_site(name, ["https://other.example.com"])
    return await in_process(d, make)


def error(response: httpx.Response) -> dict:
    body = response.json()
    assert body["ok"] is False, body
    return body["error"]


TABLES = ("kb_article", "kb_article_version", "kb_category", "kb_article_image", "kb_article_site")


async def counts(d: Deployment) -> dict[str, int]:
    return {t: (await fetch(d, f"SELECT count(*) AS n FROM {t}"))[0]["n"] for t in TABLES}


SAFE_TAGS = {"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "code", "pre", "blockquote", "ul", "ol",
             "li", "a", "img", "table", "thead", "tbody", "tr", "th", "td", "del", "s"}


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, attrs))


def harmless(html: str) -> None:
    """Parsed as a browser would: only the article tags, no event handler or style attribute, and no
    address but http(s), mailto and our own paths."""
    parser = _Elements()
    parser.feed(html)
    for tag_name, attrs in parser.found:
        assert tag_name in SAFE_TAGS, (tag_name, html)
        for name, value in attrs:
            assert not name.startswith("on") and name != "style", (tag_name, name, html)
            if name in ("href", "src"):
                assert re.match(r"^(https?://|mailto:|/)", value or ""), (tag_name, name, value)


# -- who may ---------------------------------------------------------------------------------------

EDITOR_GETS = ["/api/kb/articles", "/api/kb/options", "/api/kb/categories", "/api/kb/articles/{id}",
               "/api/kb/articles/{id}/versions", "/api/kb/articles/{id}/versions/{version}"]
EDITOR_POSTS = ["/api/kb/articles", "/api/kb/articles/{id}", "/api/kb/articles/{id}/publish",
                "/api/kb/articles/{id}/archive", "/api/kb/articles/{id}/reviewed", "/api/kb/articles/{id}/delete",
                "/api/kb/articles/{id}/restore", "/api/kb/preview", "/api/kb/categories", "/api/kb/categories/{cat}",
                "/api/kb/categories/{cat}/delete"]


async def test_only_editors_use_the_editor_api(d):
    t = tag()
    ed = await person(d, t, "Ed", editor=True)
    async with staff(d, ed) as editor:
        cat = (await editor.post("/api/kb/categories", {"name": f"Orders {t}"})).json()["category"]["id"]
        article = await editor.create(title=f"Who may {t}", body="Body", status="published", category_id=cat)
        versions = (await editor.get(f"/api/kb/articles/{article['id']}/versions")).json()["versions"]
    fill = {"id": article["id"], "version": versions[0]["id"], "cat": cat}
    before = await counts(d)
    async with visitor(d) as anonymous:
        for path in EDITOR_GETS:
            got = await anonymous.get(path.format(**fill))
            assert got.status_code == 401 and error(got)["code"] == "unauthorized", path
        for path in [*EDITOR_POSTS, "/api/kb/images"]:
            got = await anonymous.post(path.format(**fill), json={"title": "x"})
            assert got.status_code == 401, path
    for email in ("agent@example.com", "marketer@example.com"):
        async with staff(d, email) as other:
            for path in EDITOR_GETS:
                got = await other.get(path.format(**fill))
                assert got.status_code == 403 and error(got)["code"] == "forbidden", (email, path)
            for path in EDITOR_POSTS:
                got = await other.post(path.format(**fill), {"title": "Mine now", "name": "Mine", "version_id": fill["version"]})
                assert got.status_code == 403 and error(got)["code"] == "forbidden", (email, path)
            got = await other.upload("a.png", PNG)
            assert got.status_code == 403, email
    async with staff(d, ed) as editor:
        for path in EDITOR_POSTS:
            got = await editor.post(path.format(**fill), {"title": "No token", "name": "No token"}, csrf=False)
            assert got.status_code == 403 and error(got)["code"] == "csrf", path
        got = await editor.upload("a.png", PNG, csrf=False)
        assert got.status_code == 403 and error(got)["code"] == "csrf"
        assert (await editor.get(f"/api/kb/articles/{article['id']}")).json()["article"]["title"] == f"Who may {t}"
    assert await counts(d) == before

    # An admin edits without the permission; the pages follow the same rule.
    async with staff(d, "agent@example.com") as csr:
        page = await csr.get("/knowledge")
        assert page.status_code == 200 and "New article" not in page.text and f"Who may {t}" in page.text
        assert (await csr.get("/knowledge/new")).status_code == 403
    async with staff(d, "marketer@example.com") as marketer:
        assert (await marketer.get("/knowledge")).status_code == 403
        assert (await marketer.get(f"/knowledge/articles/{article['id']}")).status_code == 403
    boss = await person(d, t, "Ada", "admin")
    async with staff(d, boss) as admin:
        page = await admin.get("/knowledge")
        assert page.status_code == 200 and "New article" in page.text
        assert (await admin.get("/api/kb/articles", q=f"Who may {t}")).json()["total"] == 1


# -- writing articles ------------------------------------------------------------------------------

async def test_an_article_is_created_read_saved_published_reviewed_archived_and_deleted(d):
    t = tag()
    ed = await person(d, t, "Ed", editor=True)
    owner = await person(d, t, "Olga")
    other = await new_site(d, f"Other {t}")
    home = await home_site(d)
    async with staff(d, ed) as editor:
        cat = (await editor.post("/api/kb/categories", {"name": f"Returns {t}"})).json()["category"]["id"]
        made = await editor.create(title=f"Refunds {t}", body="Send it back **within 60 days**.", category_id=cat,
                                   tags=["refund", "returns"], language="en", audience="public",
                                   site_ids=[home["id"]], owner_id=d.users[owner]["id"], note="First draft")
        assert made["status"] == "draft" and made["version"] == 1 and made["stale"] is False
        assert made["html"] == "<p>Send it back <strong>within 60 days</strong>.</p>\n"
        assert made["category"] == {"id": cat, "name": f"Returns {t}"}
        assert made["sites"] == [{"id": home["id"], "name": "Test shop"}]
        assert made["owner"]["id"] == d.users[owner]["id"] and made["author"]["name"] == f"Ed {t}"
        assert made["tags"] == ["refund", "returns"] and made["public"] == []
        read = (await editor.get(f"/api/kb/articles/{made['id']}")).json()["article"]
        assert read["body"] == "Send it back **within 60 days**." and read["version"] == 1

        saved = (await editor.post(f"/api/kb/articles/{made['id']}", {"title": f"Refunds and returns {t}",
                                                                        "note": "Clearer title"})).json()["article"]
        assert saved["version"] == 2 and saved["title"] == f"Refunds and returns {t}"
        assert saved["body"] == made["body"] and saved["site_ids"] == [home["id"]]  # what was not sent stays

        published = await editor.post(f"/api/kb/articles/{made['id']}/publish", {"site_ids": [home["id"], other.id]})
        assert published.status_code == 200, published.text
        published = published.json()["article"]
        assert published["status"] == "published" and published["version"] == 3
        assert {p["site"] for p in published["public"]} == {"Test shop", f"Other {t}"}
        assert f"/help/{d.site_key}/articles/{made['id']}-refunds-and-returns-{t.lower()}" in \
            [p["path"] for p in published["public"]]

        # Stale after the configured days without a review; "Mark reviewed" clears it.
        async def age() -> None:
            await Article.filter(id=made["id"]).update(reviewed_at=utcnow() - timedelta(days=181))
        await in_process(d, age)
        assert (await editor.get(f"/api/kb/articles/{made['id']}")).json()["article"]["stale"] is True
        stale = (await editor.get("/api/kb/articles", stale="1", q=f"Refunds {t}")).json()
        assert [a["id"] for a in stale["articles"]] == [made["id"]] and stale["stale_days"] == 180
        reviewed = (await editor.post(f"/api/kb/articles/{made['id']}/reviewed")).json()["article"]
        assert reviewed["stale"] is False and reviewed["version"] == 3  # a review is not a new version
        assert (await editor.get("/api/kb/articles", stale="1", q=f"Refunds {t}")).json()["total"] == 0

        archived = (await editor.post(f"/api/kb/articles/{made['id']}/archive")).json()["article"]
        assert archived["status"] == "archived" and archived["version"] == 4 and archived["public"] == []
        versions = (await editor.get(f"/api/kb/articles/{made['id']}/versions")).json()["versions"]
        assert [(v["number"], v["status"], v["note"]) for v in versions] == [
            (4, "archived", ""), (3, "published", ""), (2, "draft", "Clearer title"), (1, "draft", "First draft")]
        assert versions[0]["author"]["name"] == f"Ed {t}"

        gone = await editor.post(f"/api/kb/articles/{made['id']}/delete")
        assert gone.status_code == 200
        for path in (f"/api/kb/articles/{made['id']}", f"/api/kb/articles/{made['id']}/versions"):
            missing = await editor.get(path)
            assert missing.status_code == 404 and error(missing)["code"] == "not_found"
        again = await editor.post(f"/api/kb/articles/{made['id']}/delete")
        assert again.status_code == 404
    assert await fetch(d, "SELECT id FROM kb_article_version WHERE article_id = ?", made["id"]) == []


async def test_bad_input_is_refused_clearly_and_stores_nothing(d):
    t = tag()
    ed = await person(d, t, "Ed", editor=True)
    async with staff(d, ed) as editor:
        article = await editor.create(title=f"Steady {t}", body="As it was.")
        before = await counts(d)
        cases = [
            ({"body": "No title"}, 400, "title"),
            ({"title": "   "}, 400, "title"),
            ({"title": 5}, 400, "title"),
            ({"title": "x" * 201}, 400, "title"),
            ({"title": "T", "body": ["not", "text"]}, 400, "body"),
            ({"title": "T", "category_id": 99_999_999}, 400, "category_id"),  # an unknown category
            ({"title": "T", "category_id": "1"}, 400, "category_id"),
            ({"title": "T", "language": "fr"}, 400, "language"),
            ({"title": "T", "audience": "everyone"}, 400, "audience"),
            ({"title": "T", "status": "live"}, 400, "status"),
            ({"title": "T", "tags": [1, 2]}, 400, "tags"),
            ({"title": "T", "tags": [f"t{i}" for i in range(21)]}, 400, "tags"),
            ({"title": "T", "site_ids": [99_999_999]}, 400, "site_ids"),
            ({"title": "T", "site_ids": "1"}, 400, "site_ids"),
            ({"title": "T", "owner_id": d.users["marketer@example.com"]["id"]}, 400, "owner_id"),
            ({"title": "T", "note": "n" * 201}, 400, "note"),
            ({"title": "T", "body": "[other](article:99999999)"}, 400, "body"),
            ({"title": "T", "body": "![gone](image:99999999)"}, 400, "body"),
            ({"title": "T", "body": "x" * 100_001}, 413, "body"),  # over 100,000 characters
        ]
        for values, status, field in cases:
            paths = ["/api/kb/articles"]
            if "title" in values:  # a save without a title keeps the article's
                paths.append(f"/api/kb/articles/{article['id']}")
            if "title" in values and "status" not in values:  # publishing sets the status
                paths.append(f"/api/kb/articles/{article['id']}/publish")
            for path in paths:
                got = await editor.post(path, values)
                assert got.status_code == status, (values, path, got.text)
                failure = error(got)
                assert failure["field"] == field and failure["message"], (values, failure)
        assert error(await editor.post("/api/kb/articles", {"title": "T", "body": "x" * 100_001}))["code"] == "too_large"
        # A 100,000-character Chinese body is within the limit (its JSON is over 64 KiB).
        wide = await editor.post("/api/kb/preview", {"body": "退" * 100_000})
        assert wide.status_code == 200
        # Over 1 MiB, or not a JSON object: refused unread.
        huge = await editor.post("/api/kb/articles", {"title": "T", "body": "y" * (1024 * 1024)})
        assert huge.status_code == 413 and error(huge)["code"] == "too_large"
        for content in (b"not json", b"[1, 2]", b'{"title": NaN}', b'{"a":' * 30 + b"1" + b"}" * 30):
            got = await editor.post("/api/kb/articles", content=content)
            assert got.status_code == 400 and error(got)["code"] == "bad_request", content
        for path in ("/api/kb/articles/abc", "/api/kb/articles/99999999", "/api/kb/articles/-1"):
            assert (await editor.get(path)).status_code == 404
            assert (await editor.post(path, {"title": "T"})).status_code == 404
        for params in ({"status": "live"}, {"language": "fr"}, {"audience": "all"}, {"category": "x"},
                       {"limit": "-1"}, {"q": "q" * 201}):
            got = await editor.get("/api/kb/articles", **params)
            assert got.status_code == 400 and error(got)["field"] in params, params
        assert (await editor.get(f"/api/kb/articles/{article['id']}")).json()["article"]["version"] == 1
    assert await counts(d) == before


# -- versions --------------------------------------------------------------------------------------

async def test_a_version_is_viewed_and_restored_and_the_history_stays(d):
    t = tag()
    ed = await person(d, t, "Ed", editor=True)
    async with staff(d, ed) as editor:
        cat = (await editor.post("/api/kb/categories", {"name": f"Shipping {t}"})).json()["category"]["id"]
        one = await editor.create(title=f"Shipping {t}", body="Ships in **2 days**.", category_id=cat, tags=["ship"])
        await editor.post(f"/api/kb/articles/{one['id']}", {"body": "Ships in 5 days.", "tags": ["slow"], "note": "Slower"})
        await editor.post(f"/api/kb/articles/{one['id']}/publish", {"title": f"Shipping times {t}"})
        other = await editor.create(title=f"Other {t}", body="Another article.")
        versions = (await editor.get(f"/api/kb/articles/{one['id']}/versions")).json()["versions"]
        first = versions[-1]
        assert first["number"] == 1
        shown = (await editor.get(f"/api/kb/articles/{one['id']}/versions/{first['id']}")).json()["version"]
        assert shown["title"] == f"Shipping {t}" and shown["body"] == "Ships in **2 days**."
        assert shown["html"] == "<p>Ships in <strong>2 days</strong>.</p>\n" and shown["tags"] == ["ship"]
        assert shown["author"]["name"] == f"Ed {t}"

        # A version of another article: a clear error, nothing stored.
        foreign = (await editor.get(f"/api/kb/articles/{other['id']}/versions")).json()["versions"][0]
        before = await counts(d)
        got = await editor.get(f"/api/kb/articles/{one['id']}/versions/{foreign['id']}")
        assert got.status_code == 404 and "version" in error(got)["message"]
        for body in ({"version_id": foreign["id"]}, {"version_id": 99_999_999}):
            got = await editor.post(f"/api/kb/articles/{one['id']}/restore", body)
            assert got.status_code == 404 and error(got)["code"] == "not_found", got.text
            assert error(got)["field"] == "version_id"
        for body, field in (({}, "version_id"), ({"version_id": "1"}, "version_id"), ({"version_id": None}, "version_id")):
            got = await editor.post(f"/api/kb/articles/{one['id']}/restore", body)
            assert got.status_code == 400 and error(got)["field"] == field, got.text
        assert await counts(d) == before

        restored = await editor.post(f"/api/kb/articles/{one['id']}/restore", {"version_id": first["id"]})
        assert restored.status_code == 200, restored.text
        restored = restored.json()["article"]
        assert restored["version"] == 4 and restored["title"] == f"Shipping {t}" and restored["body"] == "Ships in **2 days**."
        assert restored["tags"] == ["ship"] and restored["category_id"] == cat
        assert restored["status"] == "published"  # restoring the text does not unpublish it
        history = (await editor.get(f"/api/kb/articles/{one['id']}/versions")).json()["versions"]
        assert [v["number"] for v in history] == [4, 3, 2, 1]
        assert history[0]["note"] == "Restored version 1"
        assert [v["title"] for v in history[1:]] == [f"Shipping times {t}", f"Shipping {t}", f"Shipping {t}"]


# -- the list, categories, the preview ---------------------------------------------------------------

async def test_the_list_filters_and_pages(d):
    t = tag()
    ed = await person(d, t, "Ed", editor=True)
    async with staff(d, ed) as editor:
        cat = (await editor.post("/api/kb/categories", {"name": f"Filters {t}"})).json()["category"]["id"]
        a = await editor.create(title=f"Alpha {t}", body="one", status="published", category_id=cat)
        b = await editor.create(title=f"Beta {t}", body="two", language="zh", audience="internal")
        c = await editor.create(title=f"Gamma {t}", body="three", status="archived")

        async def ids(**params) -> list[int]:
            got = await editor.get("/api/kb/articles", q=t, **params)
            assert got.status_code == 200, got.text
            return sorted(x["id"] for x in got.json()["articles"])
        assert await ids() == sorted([a["id"], b["id"], c["id"]])
        assert await ids(status="published") == [a["id"]]
        assert await ids(status="archived") == [c["id"]]
        assert await ids(language="zh") == [b["id"]]
        assert await ids(audience="internal") == [b["id"]]
        assert await ids(category=str(cat)) == [a["id"]]
        first = (await editor.get("/api/kb/articles", q=t, limit="2", offset="0")).json()
        second = (await editor.get("/api/kb/articles", q=t, limit="2", offset="2")).json()
        assert first["total"] == second["total"] == 3
        assert len(first["articles"]) == 2 and len(second["articles"]) == 1
        assert {x["id"] for x in first["articles"] + second["articles"]} == {a["id"], b["id"], c["id"]}
        row = next(x for x in first["articles"] + second["articles"] if x["id"] == a["id"])
        assert row["category"] == {"id": cat, "name": f"Filters {t}"} and row["author"]["name"] == f"Ed {t}"


async def test_categories_are_added_renamed_and_deleted(d):
    t = tag()
    ed = await person(d, t, "Ed", editor=True)
    async with staff(d, ed) as editor:
        made = await editor.post("/api/kb/categories", {"name": f"Billing {t}", "position": 5})
        assert made.status_code == 201
        cat = made.json()["category"]
        assert cat["position"] == 5
        before = await counts(d)
        for body, status, field in (({"name": f"Billing {t}"}, 400, "name"), ({"name": ""}, 400, "name"),
                                    ({"name": 3}, 400, "name"), ({"name": "n" * 101}, 400, "name"),
                                    ({"name": "P", "position": 1.5}, 400, "position")):
            got = await editor.post("/api/kb/categories", body)
            assert got.status_code == status and error(got)["field"] == field, (body, got.text)
        assert await counts(d) == before
        article = await editor.create(title=f"Invoices {t}", body="x", category_id=cat["id"])
        renamed = await editor.post(f"/api/kb/categories/{cat['id']}", {"name": f"Payments {t}"})
        assert renamed.status_code == 200
        assert renamed.json()["category"] == {"id": cat["id"], "name": f"Payments {t}", "position": 5}
        listed = (await editor.get("/api/kb/categories")).json()["categories"]
        assert {"id": cat["id"], "name": f"Payments {t}", "position": 5, "articles": 1} in listed
        for path in ("/api/kb/categories/99999999", "/api/kb/categories/x"):
            assert (await editor.post(path, {"name": "Ghost"})).status_code == 404
            assert (await editor.post(path + "/delete")).status_code == 404
        assert (await editor.post(f"/api/kb/categories/{cat['id']}/delete")).status_code == 200
        after = (await editor.get(f"/api/kb/articles/{article['id']}")).json()["article"]
        assert after["category"] is None and after["category_id"] is None


async def test_the_preview_renders_sanitised_html(d):
    t = tag()
    ed = await person(d, t, "Ed", editor=True)
    async with staff(d, ed) as editor:
        other = await editor.create(title=f"Linked {t}", body="x")
        got = await editor.post("/api/kb/preview", {"body": f"## Hi\n\nSee [the other](article:{other['id']}).\n\n"
                                                        + HOSTILE.format(tag=t)})
        assert got.status_code == 200
        html = got.json()["html"]
        assert "<h2>Hi</h2>" in html and f'href="/knowledge/articles/{other["id"]}"' in html
        harmless(html)
        assert "&lt;script&gt;" in html and "退货政策" in html
        assert (await editor.post("/api/kb/preview", {"body": 5})).status_code == 400
        assert (await editor.post("/api/kb/preview", {"body": "x" * 100_001})).status_code == 413


async def test_hostile_markdown_is_harmless_in_the_api_and_on_the_public_page(floor):
    d = floor
    t = tag()
    ed = await person(d, t, "Ed", editor=True)
    async with staff(d, ed) as editor:
        made = await editor.create(title=f"<script>alert(1)</script> Returns {t}", body=HOSTILE.format(tag=t),
                                   status="published", tags=["<b>x</b>"])
        harmless(made["html"])
        assert "退货政策" in made["html"]
        page = await editor.get(f"/knowledge/articles/{made['id']}")
        assert page.status_code == 200 and "<script>alert" not in page.text
    async with visitor(d) as anonymous:
        url = f"/help/{d.site_key}/articles/{made['id']}-x"
        moved = await anonymous.get(url)
        assert moved.status_code == 301
        page = await anonymous.get(moved.headers["location"])
        assert page.status_code == 200, page.text
        body = page.text.split('<div class="help-body">', 1)[1].split("</article>", 1)[0]
        harmless(body)
        assert "退货政策" in body and "&lt;script&gt;" in body
        # The page's only scripts: the widget snippet (the title is text).
        assert re.findall(r"<script[^>]*>", page.text) == [f'<script async src="/widget.js" data-site="{d.site_key}">']
        assert "&lt;script&gt;alert(1)&lt;/script&gt; Returns" in page.text
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "script-src 'self' 'unsafe" not in csp
    async with staff(d, "agent@example.com") as csr:
        view = await csr.get(f"/knowledge/articles/{made['id']}")
        assert view.status_code == 200
        harmless(view.text.split('<div class="kb-html"', 1)[1].split("</article>", 1)[0])


# -- images ----------------------------------------------------------------------------------------

async def test_images_are_uploaded_checked_and_served_only_to_those_who_may_see_them(d):
    t = tag()
    ed = await person(d, t, "Ed", editor=True)
    async with staff(d, ed) as editor:
        before = await counts(d)
        for name, data, ctype, status in (("page.html", HTML_FILE, "image/png", 415), ("empty.png", b"", "image/png", 400),
                                          ("big.png", PNG + b"\0" * (5 * 1024 * 1024), "image/png", 413)):
            got = await editor.upload(name, data, ctype)
            assert got.status_code == status, (name, got.text)
            assert error(got)["field"] == "file"
        not_multipart = await editor.post("/api/kb/images", {"file": "x"})
        assert not_multipart.status_code == 400
        assert await counts(d) == before
        up = await editor.upload("my [photo].png", PNG)
        assert up.status_code == 201, up.text
        image = up.json()["image"]
        assert up.json()["markdown"] == f"![my photo](image:{image['id']})"
        seen = await editor.get(f"/kb/images/{image['id']}")
        assert seen.status_code == 200 and seen.content == PNG
        assert seen.headers["content-type"] == "image/png"
        assert seen.headers["x-content-type-options"] == "nosniff"
        assert seen.headers["content-disposition"].startswith("inline")
        assert seen.headers["content-security-policy"].startswith("default-src 'none'")
        internal = await editor.create(title=f"Pictures inside {t}", body=up.json()["markdown"], status="published",
                                       audience="internal")
        assert f'<img src="/kb/images/{image["id"]}" alt="my photo">' in internal["html"]

        up2 = (await editor.upload("two.png", PNG)).json()
        public = await editor.create(title=f"Pictures {t}", body=up2["markdown"], status="draft")
    async with visitor(d) as anonymous:
        key = d.site_key
        for image_id in (image["id"], up2["image"]["id"]):
            assert (await anonymous.get(f"/kb/images/{image_id}")).status_code == 404
            assert (await anonymous.get(f"/kb/images/{image_id}", params={"site": key})).status_code == 404
        assert (await anonymous.get("/kb/images/abc")).status_code == 404
    async with staff(d, ed) as editor:
        await editor.post(f"/api/kb/articles/{public['id']}/publish")
    async with visitor(d) as anonymous:
        shown = await anonymous.get(f"/kb/images/{up2['image']['id']}", params={"site": key})
        assert shown.status_code == 200 and shown.content == PNG
        assert shown.headers["content-security-policy"].startswith("default-src 'none'")
        assert (await anonymous.get(f"/kb/images/{image['id']}", params={"site": key})).status_code == 404
        page = await anonymous.get(f"/help/{key}/articles/{public['id']}-pictures-{t.lower()}")
        assert f'src="/kb/images/{up2["image"]["id"]}?site={key}"' in page.text


# -- the public help center -----------------------------------------------------------------------

async def test_the_help_center_shows_only_published_public_articles_of_the_site(floor):
    d = floor
    t = tag()
    ed = await person(d, t, "Ed", editor=True)
    other = await new_site(d, f"Elsewhere {t}")
    home = await home_site(d)
    key = d.site_key
    async with staff(d, ed) as editor:
        cat = (await editor.post("/api/kb/categories", {"name": f"Returns {t}"})).json()["category"]["id"]
        ok = await editor.create(title=f"Return policy {t}", body=f"Returns {t}: 60 days. See [sizes](article:0).".replace(
            "(article:0)", "(https://example.com/sizes)"), status="published", category_id=cat, site_ids=[home["id"]])
        everywhere = await editor.create(title=f"Opening hours {t}", body=f"hours {t}", status="published")
        zh = await editor.create(title=f"退货政策 {t}", body=f"退货 {t} 六十天内", status="published", language="zh")
        internal = await editor.create(title=f"Refund override {t}", body=f"override {t} secret",
                                       status="published", audience="internal")
        draft = await editor.create(title=f"Draft returns {t}", body=f"draft {t}")
        archived = await editor.create(title=f"Old returns {t}", body=f"old {t}", status="archived")
        elsewhere = await editor.create(title=f"Elsewhere returns {t}", body=f"elsewhere {t}", status="published",
                                        site_ids=[other.id])
        linking = await editor.create(title=f"Links {t}", status="published",
                                      body=f"[public](article:{ok['id']}) and [secret](article:{internal['id']})")
    async with visitor(d) as anonymous:
        index = await anonymous.get(f"/help/{key}/", params={"lang": "en"})
        assert index.status_code == 200
        text = index.text
        for shown in (ok, everywhere, linking):
            assert shown["title"] in text
        for hidden in (zh, internal, draft, archived, elsewhere):
            assert hidden["title"] not in text
        assert "<h2 id=\"group-" in text and f"Returns {t}" in text
        assert f'<script async src="/widget.js" data-site="{key}"></script>' in text
        csp = index.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "connect-src 'self'" in csp
        chinese = await anonymous.get(f"/help/{key}/", params={"lang": "zh"})
        assert zh["title"] in chinese.text and ok["title"] not in chinese.text and 'lang="zh-CN"' in chinese.text

        # Search: the visitor's reader (published, public, this site, the language asked).
        found = await anonymous.get(f"/help/{key}/", params={"q": f"returns {t}", "lang": "en"})
        assert ok["title"] in found.text
        for hidden in (internal, draft, archived, elsewhere):
            assert hidden["title"] not in found.text
        for words in (f"override {t}", f"draft {t}", f"elsewhere {t}", "secret"):
            nothing = await anonymous.get(f"/help/{key}/", params={"q": words, "lang": "en"})
            assert internal["title"] not in nothing.text and draft["title"] not in nothing.text
            assert elsewhere["title"] not in nothing.text
        zh_found = await anonymous.get(f"/help/{key}/", params={"q": "退货", "lang": "zh"})
        assert zh["title"] in zh_found.text
        events = await fetch(d, "SELECT kind, source, query, results, language, site_id FROM kb_event "
                                "WHERE kind = 'search' AND query = ?", f"returns {t}")
        assert events == [{"kind": "search", "source": "page", "query": f"returns {t}", "results": 1,
                           "language": "en", "site_id": home["id"]}]

        # An article: the right slug, else a redirect to it; what a visitor may not read is one 404 page.
        right = f"/help/{key}/articles/{ok['id']}-return-policy-{t.lower()}"
        page = await anonymous.get(right)
        assert page.status_code == 200 and ok["title"] in page.text and "60 days" in page.text
        assert 'href="https://example.com/sizes"' in page.text and 'rel="noopener noreferrer nofollow"' in page.text
        for wrong in (f"/help/{key}/articles/{ok['id']}-wrong", f"/help/{key}/articles/{ok['id']}"):
            moved = await anonymous.get(wrong)
            assert moved.status_code == 301 and moved.headers["location"] == right
        reads = await fetch(d, "SELECT source, article_id FROM kb_event WHERE kind = 'read' AND article_id = ?", ok["id"])
        assert reads == [{"source": "page", "article_id": ok["id"]}]
        zh_page = await anonymous.get(f"/help/{key}/articles/{zh['id']}-{quote(zh['slug'])}")
        assert zh_page.status_code == 200 and zh["title"] in zh_page.text
        # A link to an internal article is text only; to a public one, its public page.
        links = await anonymous.get(f"/help/{key}/articles/{linking['id']}-links-{t.lower()}")
        assert f'href="{right}"' in links.text and "secret" in links.text
        assert f"/articles/{internal['id']}" not in links.text and "knowledge/articles" not in links.text

        missing = None
        for hidden in (internal, draft, archived, elsewhere):
            for address in (f"/help/{key}/articles/{hidden['id']}-{hidden['slug']}", f"/help/{key}/articles/{hidden['id']}"):
                got = await anonymous.get(address)
                assert got.status_code == 404, address
                assert hidden["title"] not in got.text
                missing = missing or got.text
                assert got.text == missing  # the same page for all
        for address in (f"/help/{key}/articles/99999999-x", f"/help/{key}/articles/abc"):
            got = await anonymous.get(address)
            assert got.status_code == 404 and got.text == missing
        assert (await anonymous.get(f"/help/{other.key}/articles/{ok['id']}-x")).status_code == 404
        assert (await anonymous.get(f"/help/{other.key}/articles/{elsewhere['id']}-x")).status_code == 301
        assert (await anonymous.get("/help/no-such-site/")).status_code == 404
        read_events = await fetch(d, "SELECT count(*) AS n FROM kb_event WHERE kind = 'read' AND article_id IN (?, ?, ?, ?)",
                                  internal["id"], draft["id"], archived["id"], elsewhere["id"])
        assert read_events[0]["n"] == 0

    # A disabled site has no help center.
    async def disable() -> None:
        await sites_service.set_enabled(None, other.id, False)
    await in_process(d, disable)
    async with visitor(d) as anonymous:
        assert (await anonymous.get(f"/help/{other.key}/")).status_code == 404
        assert (await anonymous.get(f"/help/{other.key}/articles/{elsewhere['id']}-{elsewhere['slug']}")).status_code == 404


async def test_csrs_read_published_articles_of_their_sites_only(floor):
    d = floor
    t = tag()
    ed = await person(d, t, "Ed", editor=True)
    csr = await person(d, t, "Cara")
    other = await new_site(d, f"Far {t}")

    async def place() -> None:
        await admin_service.create_department(d.site_key, f"Front {t}", [csr])
    await in_process(d, place)
    async with staff(d, ed) as editor:
        mine = await editor.create(title=f"Ours {t}", body="**ours**", status="published", audience="internal")
        draft = await editor.create(title=f"Draft {t}", body="x")
        far = await editor.create(title=f"Far away {t}", body="x", status="published", site_ids=[other.id])
    async with staff(d, csr) as reader:
        page = await reader.get(f"/knowledge/articles/{mine['id']}")
        assert page.status_code == 200 and "<strong>ours</strong>" in page.text and "Restore this version" not in page.text
        for hidden in (draft, far):
            got = await reader.get(f"/knowledge/articles/{hidden['id']}")
            assert got.status_code == 404 and hidden["title"] not in got.text
        listed = await reader.get("/knowledge")
        assert mine["title"] in listed.text and far["title"] not in listed.text and draft["title"] not in listed.text
        searched = await reader.get("/knowledge", q=f"Ours {t}")
        assert mine["title"] in searched.text
        assert (await reader.get(f"/api/kb/articles/{mine['id']}")).status_code == 403


# -- the permission on the Users page -----------------------------------------------------------------

async def test_admins_give_and_take_the_knowledge_editor_permission(d):
    t = tag()
    boss = await person(d, t, "Ada", "admin")
    csr = await person(d, t, "Carl")
    marketer = await person(d, t, "Mo", "marketer")
    carl = d.users[csr]["id"]
    async with staff(d, boss) as admin:
        form = await admin.get(f"/admin/users/{carl}")
        assert "Knowledge editor" in form.text and 'name="knowledge_editor"' in form.text
        token = csrf_of(form.text)
        saved = await admin.http.post(f"/admin/users/{carl}", data={
            "csrf_token": token, "name": f"Carl {t}", "role": "agent", "capacity": "3", "knowledge_editor": "1"})
        assert saved.status_code == 303, saved.text
        assert (await fetch(d, "SELECT knowledge_editor FROM app_user WHERE id = ?", carl))[0]["knowledge_editor"] in (1, True)
        listed = await admin.get("/admin/users", q=f"Carl {t}")
        assert "Knowledge editor" in listed.text
    async with staff(d, csr) as carl_browser:
        made = await carl_browser.post("/api/kb/articles", {"title": f"By Carl {t}", "body": "x"})
        assert made.status_code == 201
    audit = await fetch(d, "SELECT action, data FROM audit_event WHERE target_user_id = ? AND action = 'user_update'", carl)
    changes = [json.loads(a["data"]) if isinstance(a["data"], str) else a["data"] for a in audit]
    assert {"before": {"knowledge_editor": False}, "after": {"knowledge_editor": True}} in changes

    async with staff(d, boss) as admin:
        mo = d.users[marketer]["id"]
        form = await admin.get(f"/admin/users/{mo}")
        refused = await admin.http.post(f"/admin/users/{mo}", data={
            "csrf_token": csrf_of(form.text), "name": f"Mo {t}", "role": "marketer", "knowledge_editor": "1"})
        assert refused.status_code == 400 and "Marketers do not edit the knowledge base" in refused.text
        assert (await fetch(d, "SELECT knowledge_editor FROM app_user WHERE id = ?", mo))[0]["knowledge_editor"] in (0, False)
        # Unticked: the permission goes.
        form = await admin.get(f"/admin/users/{carl}")
        assert re.search(r'name="knowledge_editor" value="1"\s+checked', form.text)
        await admin.http.post(f"/admin/users/{carl}", data={
            "csrf_token": csrf_of(form.text), "name": f"Carl {t}", "role": "agent", "capacity": "3"})
    async with staff(d, csr) as carl_browser:
        assert (await carl_browser.post("/api/kb/articles", {"title": f"Again {t}"})).status_code == 403
