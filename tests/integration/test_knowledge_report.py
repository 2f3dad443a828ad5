"""The knowledge reports end to end, on SQLite and on PostgreSQL: a scripted knowledge event log and
the conversations visitors requested, written with the models into three past days of the center's
time zone (Asia/Shanghai); every figure of `knowledge`, `knowledge_unanswered`, `knowledge_articles`
and `knowledge_canned` checked against values worked out by hand below — for an admin (everything),
for a supervisor of site A (site A only), for a supervisor of site B (site B only) — their CSV, and
the reports refused to a CSR, a marketer and a signed-out browser.

The history (local times; D1, D2, D3 are the window's days). Visitor steps come from the widget
unless marked (page: a public help page; console: a CSR, not a visitor):

  v1 (A)  D1 10:00:00 search "Refund" (3)  10:05 read P1  10:29:59 search "退货 运费" (0)     → S1 (last 10:29:59)
          D1 10:30:00 read P1 — exactly 30 min after S1's start: a session of its own         → S2 (last 10:30:00)
          chat requested D1 11:00:00 = S2's last + 30 min (and later than S1's): both deflected
  v2 (A)  D1 12:00 search "delivery time" (0); chat requested 12:29:59 (last + 29:59): not deflected
  v3 (A)  chat requested D1 23:40 (before the session: does not count); D1 23:50 read P2;
          D2 00:10 search "Delivery  Time" (0) — the same session, counted on D1: deflected
  v4 (B)  D2 09:00 search "invoice" (0), 09:01 read P1: deflected
  v5 (A)  D3 23:40 search "tents" (1): its last + 30 min is after the window's end — not counted yet
  v6 (A)  D3 23:30 read P2: its last + 30 min is the window's end — counted, deflected
  page    D1 15:00 search "shipping" (0), no visitor id: a search, in no session
  console D2 11:00 search "refund", read P1 (a CSR): not visitor figures
  outside D0 23:59:59 and D3+1 00:00 searches (A): outside the window

  inserts (A, by Alex): C1 (v2's chat) link P1 D1 12:35, text P2 12:36, closed 12:50 → closed after an
  insert, D1. C2 (v1's chat) text P1 D2 10:00, closed D3+1 01:00 (after the window) → not counted.
  C3 (v3's chat) link P2 D3 08:00, closed 08:30 → D3.
  canned: /hello (global, used 10 times ever) D1 09:00 (A), D2 09:00 and 10:00 (A);
  /refund (used 4 times ever) D2 11:00 (B), D3 12:00 (A).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from app.models import Article, CannedResponse, Conversation, ConversationEvent, KnowledgeEvent, Site, Visitor
from tests.support import inprocess
from tests.support.clients import new_id
from tests.support.server import cli, deploy
from tests.support.web import signed_in

ZONE = "Asia/Shanghai"
SH = ZoneInfo(ZONE)
ADMIN = "kb-admin@example.com"
DAILY_KEYS = ["day", "searches", "searches_no_result", "reads", "sessions", "sessions_counted", "deflected",
              "deflection_rate", "inserted_link", "inserted_text", "chats_closed_after_insert", "canned_used"]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def center(request):
    url = request.getfixturevalue("new_postgres_database")() if request.param == "postgres" else None
    deployment = deploy(database_url=url, redis_url=None, processes=1, extra_env={"CENTER_TIME_ZONE": ZONE})
    deployment.create_user(ADMIN, "admin", "Ada Admin")
    yield deployment
    deployment.stop()


class History:
    def __init__(self, d1: date) -> None:
        self.d1 = d1
        self.ids: dict[str, int] = {}
        self.emails: dict[str, str] = {}

    @property
    def window(self) -> dict[str, str]:
        return {"from": self.d1.isoformat(), "to": (self.d1 + timedelta(days=2)).isoformat()}

    def days(self) -> list[str]:
        return [(self.d1 + timedelta(days=i)).isoformat() for i in range(3)]

    def at(self, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
        return datetime.combine(self.d1 + timedelta(days=day - 1), time(hour, minute, second), tzinfo=SH)


async def script_history(d) -> History:
    tag = new_id()[:6]
    h = History(datetime.now(SH).date() - timedelta(days=12))
    other = json.loads(cli(d.env, "create-site", "--name", "Other shop", "--origin", "https://other.example.com",
                           "--json"))
    for key, site_key in (("chief", d.site_key), ("far", other["key"])):
        email = f"{key}-{tag}@example.com"
        d.create_user(email, "supervisor", key.capitalize())
        cli(d.env, "create-department", "--site", site_key, "--name", f"Desk {key} {tag}", "--member", email, "--json")
        h.emails[key] = email
    at = h.at
    async with inprocess.database(d, runtime=True):
        site_a = (await Site.get(key=d.site_key)).id
        site_b = (await Site.get(key=other["key"])).id
        alex = d.users["agent@example.com"]["id"]
        now = datetime.now(SH)
        p1 = await Article.create(title="Refunds", slug="refunds", body="How refunds work.", status="published",
                                  created_at=now, updated_at=now)
        p2 = await Article.create(title="退货政策", slug="退货政策", body="退货的规则。", language="zh",
                                  status="published", created_at=now, updated_at=now)
        h.ids.update(P1=p1.id, P2=p2.id)
        hello = await CannedResponse.create(scope="global", shortcut="hello", title="Greeting", body="Hello!",
                                            usage_count=10, created_at=now, updated_at=now)
        refund = await CannedResponse.create(scope="global", shortcut="refund", title="Refund", body="Refunds…",
                                             usage_count=4, created_at=now, updated_at=now)
        h.ids.update(hello=hello.id, refund=refund.id)

        visitors = {}
        for name, site in (("v1", site_a), ("v2", site_a), ("v3", site_a), ("v4", site_b), ("v5", site_a),
                           ("v6", site_a)):
            visitors[name] = (await Visitor.create(id=f"{name}-{tag}", site_id=site, first_seen=now,
                                                   last_seen=now)).id

        async def chat(name: str, requested: datetime, closed: datetime | None = None) -> int:
            site = site_b if name == "v4" else site_a
            c = await Conversation.create(site_id=site, visitor_id=visitors[name], status="closed",
                                          requested_at=requested, closed_at=closed)
            await ConversationEvent.create(conversation_id=c.id, site_id=site, kind="requested", at=requested)
            if closed is not None:
                await ConversationEvent.create(conversation_id=c.id, site_id=site, kind="closed", at=closed)
            return c.id

        async def event(kind: str, moment: datetime, visitor: str | None = None, *, site: int = site_a,
                        source: str = "widget", **values) -> None:
            await KnowledgeEvent.create(kind=kind, at=moment, site_id=site, source=source,
                                        visitor_id=visitors[visitor] if visitor else None, **values)

        def search(moment, visitor, query, results, **more):
            return event("search", moment, visitor, query=query, results=results, **more)

        def read(moment, visitor, article, **more):
            return event("read", moment, visitor, article_id=article, **more)

        await search(at(1, 10), "v1", "Refund", 3)
        await read(at(1, 10, 5), "v1", p1.id)
        await search(at(1, 10, 29, 59), "v1", "退货 运费", 0)
        await read(at(1, 10, 30), "v1", p1.id)
        c2 = await chat("v1", at(1, 11), closed=at(4, 1))
        await search(at(1, 12), "v2", "delivery time", 0)
        c1 = await chat("v2", at(1, 12, 29, 59), closed=at(1, 12, 50))
        c3 = await chat("v3", at(1, 23, 40), closed=at(3, 8, 30))
        await read(at(1, 23, 50), "v3", p2.id)
        await search(at(2, 0, 10), "v3", "Delivery  Time", 0)
        await search(at(2, 9), "v4", "invoice", 0, site=site_b)
        await read(at(2, 9, 1), "v4", p1.id, site=site_b)
        await search(at(3, 23, 40), "v5", "tents", 1)
        await chat("v5", at(3, 23, 50))
        await read(at(3, 23, 30), "v6", p2.id)
        await search(at(1, 15), None, "shipping", 0, source="page")
        await search(at(2, 11), None, "refund", 2, source="console", user_id=alex)
        await read(at(2, 11, 1), None, p1.id, source="console", user_id=alex)
        await search(at(0, 23, 59, 59), "v1", "before", 0)
        await search(at(4, 0), "v1", "after", 0)

        async def insert(moment, conversation, article, how):
            await event("inserted", moment, source="console", user_id=alex, conversation_id=conversation,
                        article_id=article, data={"how": how})

        await insert(at(1, 12, 35), c1, p1.id, "link")
        await insert(at(1, 12, 36), c1, p2.id, "text")
        await insert(at(2, 10), c2, p1.id, "text")
        await insert(at(3, 8), c3, p2.id, "link")
        for moment, canned, site in ((at(1, 9), hello.id, site_a), (at(2, 9), hello.id, site_a),
                                     (at(2, 10), hello.id, site_a), (at(2, 11), refund.id, site_b),
                                     (at(3, 12), refund.id, site_a)):
            await event("canned_used", moment, source="console", user_id=alex, canned_id=canned, site=site)
    return h


# --------------------------------------------------------------------------------------------
# The figures, by hand


def day(label, searches, no_result, reads, sessions, counted, deflected, link, text, closed, canned) -> dict:
    return {"day": label, "searches": searches, "searches_no_result": no_result, "reads": reads,
            "sessions": sessions, "sessions_counted": counted, "deflected": deflected,
            "deflection_rate": round(deflected / counted, 4) if counted else None,
            "inserted_link": link, "inserted_text": text, "chats_closed_after_insert": closed, "canned_used": canned}


def expected_daily(h: History, who: str) -> list[dict]:
    d1, d2, d3 = h.days()
    if who == "far":  # site B: v4's search, read and session, one /refund
        return [day(d1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), day(d2, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1),
                day(d3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), day("Total", 1, 1, 1, 1, 1, 1, 0, 0, 0, 1)]
    b = 1 if who == "admin" else 0  # site B's figures, an admin's only
    # D1: searches v1 ×2, v2, page; no result v1 (退货 运费), v2, page; reads v1 ×2, v3; sessions S1 S2 v2 v3,
    # deflected S1 S2 v3; C1 link + text, closed after; /hello.
    # D2: searches v3 (+ v4); no result v3 (+ v4); reads (v4); (v4's session); C2 text; /hello ×2 (+ /refund B).
    # D3: search v5; read v6; sessions v5 (not counted yet) v6 (deflected); C3 link, closed after; /refund.
    return [day(d1, 4, 3, 3, 4, 4, 3, 1, 1, 1, 1),
            day(d2, 1 + b, 1 + b, b, b, b, b, 0, 1, 0, 2 + b),
            day(d3, 1, 0, 1, 2, 1, 1, 1, 0, 1, 1),
            day("Total", 6 + b, 4 + b, 4 + b, 6 + b, 5 + b, 4 + b, 2, 2, 2, 4 + b)]


def expected_unanswered(who: str) -> list[tuple[str, int]]:
    if who == "far":
        return [("invoice", 1)]
    rows = [("delivery time", 2), ("invoice", 1), ("shipping", 1), ("退货 运费", 1)]
    return [r for r in rows if who == "admin" or r[0] != "invoice"]


def expected_articles(h: History, who: str) -> list[dict]:
    def row(key, title, reads, link, text):
        return {"article_id": h.ids[key], "title": title, "reads": reads, "inserted_link": link, "inserted_text": text}

    if who == "far":
        return [row("P1", "Refunds", 1, 0, 0)]
    return [row("P1", "Refunds", 3 if who == "admin" else 2, 1, 1), row("P2", "退货政策", 2, 1, 1)]


def expected_canned(h: History, who: str) -> list[dict]:
    def row(key, shortcut, title, uses, ever):
        return {"canned_id": h.ids[key], "shortcut": shortcut, "title": title, "scope": "global", "uses": uses,
                "usage_count": ever}

    if who == "far":
        return [row("refund", "/refund", "Refund", 1, 4)]
    return [row("hello", "/hello", "Greeting", 3, 10), row("refund", "/refund", "Refund", 2 if who == "admin" else 1, 4)]


# --------------------------------------------------------------------------------------------
# The test


async def report(http: httpx.AsyncClient, name: str, params: dict) -> dict:
    response = await http.get(f"/api/reports/{name}", params=params)
    assert response.status_code == 200, (name, response.status_code, response.text)
    return response.json()


async def check_figures(http: httpx.AsyncClient, h: History, who: str) -> dict:
    window = h.window
    result = await report(http, "knowledge", window)
    assert result["rows"] == expected_daily(h, who), who
    assert result["totals"] == {k: v for k, v in expected_daily(h, who)[-1].items() if k != "day"}
    assert [(r["query"], r["searches"]) for r in result["unanswered"]["rows"]] == expected_unanswered(who)
    assert result["articles"]["rows"] == expected_articles(h, who)
    assert result["canned"]["rows"] == expected_canned(h, who)
    # Each list is a report of its own too (its own CSV), with the same rows.
    assert (await report(http, "knowledge_unanswered", window))["rows"] == result["unanswered"]["rows"]
    assert (await report(http, "knowledge_articles", window))["rows"] == result["articles"]["rows"]
    assert (await report(http, "knowledge_canned", window))["rows"] == result["canned"]["rows"]
    return result


async def test_every_knowledge_figure_of_a_scripted_history(center):
    d = center
    h = await script_history(d)
    window = h.window

    async with signed_in(d.server.url, ADMIN, d.password) as http:
        result = await check_figures(http, h, "admin")
        assert result["session_minutes"] == 30
        assert result["as_of"].startswith(h.at(4, 0).astimezone(ZoneInfo("UTC")).date().isoformat())
        last = {r["query"]: r["last_searched"] for r in result["unanswered"]["rows"]}
        assert datetime.fromisoformat(last["delivery time"]) == h.at(2, 0, 10)

        # CSV: headed by the columns' machine names, then the rows exactly as the JSON.
        exported = await http.get("/api/reports/knowledge", params={**window, "format": "csv"})
        assert exported.status_code == 200
        assert exported.headers["content-disposition"] == (
            f'attachment; filename="switchboard-knowledge-{window["from"]}-{window["to"]}.csv"')
        lines = list(csv.reader(io.StringIO(exported.text)))
        assert lines[0] == DAILY_KEYS
        assert lines[1:] == [["" if r[k] is None else str(r[k]) for k in DAILY_KEYS] for r in expected_daily(h, "admin")]
        assert lines[-1] == ["Total", "7", "5", "5", "7", "6", "5", "0.8333", "2", "2", "2", "5"]
        unanswered = list(csv.reader(io.StringIO((await http.get(
            "/api/reports/knowledge_unanswered", params={**window, "format": "csv"})).text)))
        assert unanswered[0] == ["query", "searches", "last_searched"]
        assert [row[:2] for row in unanswered[1:]] == [[q, str(n)] for q, n in expected_unanswered("admin")]
        canned = list(csv.reader(io.StringIO((await http.get(
            "/api/reports/knowledge_canned", params={**window, "format": "csv"})).text)))
        assert canned[0] == ["canned_id", "shortcut", "title", "scope", "uses", "usage_count"]
        assert canned[1] == [str(h.ids["hello"]), "/hello", "Greeting", "global", "3", "10"]
        articles = list(csv.reader(io.StringIO((await http.get(
            "/api/reports/knowledge_articles", params={**window, "format": "csv"})).text)))
        assert articles[0] == ["article_id", "title", "reads", "inserted_link", "inserted_text"]

        # The day before the window and the day after it hold only the searches outside it.
        before = await report(http, "knowledge", {"from": (h.d1 - timedelta(days=1)).isoformat(),
                                                  "to": (h.d1 - timedelta(days=1)).isoformat()})
        assert before["totals"]["searches"] == 1 and before["totals"]["sessions"] == 1
        # A bad parameter is refused like the other reports'.
        bad = await http.get("/api/reports/knowledge", params={"from": "yesterday"})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_request"
        assert (await http.get("/api/reports/knowledge_nothing", params=window)).status_code == 404

    # A supervisor of site A: site A's figures only; of site B: site B's only.
    async with signed_in(d.server.url, h.emails["chief"], d.password) as http:
        await check_figures(http, h, "chief")
    async with signed_in(d.server.url, h.emails["far"], d.password) as http:
        await check_figures(http, h, "far")

    # A CSR and a marketer read no report (as for every other report); signed out: sign in.
    for email in ("agent@example.com", "marketer@example.com"):
        async with signed_in(d.server.url, email, d.password) as http:
            for name in ("knowledge", "knowledge_unanswered", "knowledge_articles", "knowledge_canned"):
                response = await http.get(f"/api/reports/{name}", params=window)
                assert response.status_code == 403, (email, name, response.text)
                assert response.json()["error"]["code"] == "forbidden"
    async with httpx.AsyncClient(base_url=d.server.url) as anonymous:
        assert (await anonymous.get("/api/reports/knowledge", params=window)).status_code == 401


async def test_a_window_that_has_not_ended_counts_only_settled_sessions(center):
    """Today's sessions: one whose follow-up time has passed counts; one still open to a chat (its
    last step less than 30 minutes ago) is a session but not yet counted for the rate."""
    d = center
    tag = new_id()[:6]
    today = datetime.now(SH).date().isoformat()
    async with signed_in(d.server.url, ADMIN, d.password) as http:
        before = (await report(http, "knowledge", {"from": today, "to": today}))["totals"]
    async with inprocess.database(d, runtime=True):
        site = (await Site.get(key=d.site_key)).id
        now = datetime.now(SH)
        start_of_day = datetime.combine(now.date(), time(0), tzinfo=SH)
        # 31 minutes ago at the earliest (a day that began less than 31 minutes ago: its first instant).
        old = max(now - timedelta(minutes=31), start_of_day)
        settled_now = old + timedelta(minutes=30) <= now
        for name, moment in (("settled", old), ("open", now - timedelta(seconds=5))):
            visitor = await Visitor.create(id=f"{name}-{tag}", site_id=site, first_seen=now, last_seen=now)
            await KnowledgeEvent.create(kind="search", at=moment, site_id=site, visitor_id=visitor.id,
                                        query="today", results=1)
    async with signed_in(d.server.url, ADMIN, d.password) as http:
        after = (await report(http, "knowledge", {"from": today, "to": today}))["totals"]
    assert after["searches"] - before["searches"] == 2
    assert after["sessions"] - before["sessions"] == 2
    assert after["sessions_counted"] - before["sessions_counted"] == (1 if settled_now else 0)
    assert after["deflected"] - before["deflected"] == (1 if settled_now else 0)


async def test_the_demo_seeds_a_knowledge_base_in_both_languages():
    """`python -m app demo`: a dozen published articles in English and Chinese (two internal) in three
    categories, one linking another, found by the visitor's search in each language; canned responses
    of every scope. Running the demo again adds nothing."""
    from app.services import knowledge

    d = deploy(database_url=None, redis_url=None, processes=1, seed_demo=True)
    try:
        cli(d.env, "demo")
        async with inprocess.database(d, runtime=True):
            site = await Site.get(name="Demo")
            articles = await Article.all().prefetch_related("category", "sites")
            assert len(articles) == 12
            assert all(a.status == "published" for a in articles)
            assert sorted(a.language for a in articles) == ["en"] * 7 + ["zh"] * 5
            assert sum(a.audience == "internal" for a in articles) == 2
            assert {a.category.name for a in articles} == {"Orders", "Returns", "Account"}
            assert all([s.id for s in a.sites] == [site.id] for a in articles)
            by_title = {a.title: a for a in articles}
            assert f"(article:{by_title['Return policy'].id})" in by_title["How refunds work"].body
            assert f"(article:{by_title['退货政策'].id})" in by_title["退款多久到账"].body

            zh = await knowledge.search("退货", reader=knowledge.Reader.visitor(site.id, "zh"))
            assert by_title["退货政策"].id in [hit.id for hit in zh]
            en = await knowledge.search("refund", reader=knowledge.Reader.visitor(site.id, "en"))
            assert by_title["How refunds work"].id in [hit.id for hit in en]
            assert all(hit.audience == "public" for hit in en)  # the internal refund limits are staff-only

            canned = {c.shortcut: c for c in await CannedResponse.all().prefetch_related("owner", "department")}
            assert set(canned) == {"hello", "refund", "tracking", "thanks"}  # stored without the "/"
            assert canned["hello"].scope == "global" and "{visitor.name}" in canned["hello"].body
            assert canned["refund"].scope == "global"
            assert canned["tracking"].scope == "department" and canned["tracking"].department.name == "Support"
            assert canned["thanks"].scope == "personal" and canned["thanks"].owner.email == "agent@demo.switchboard"
    finally:
        d.stop()
