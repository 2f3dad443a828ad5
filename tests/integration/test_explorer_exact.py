"""Exact at any size: over more visits than the explorer once looked at (it counted the newest
20,000), every number, table and the visits' CSV count every visit that matches the filters —
checked against what the rows themselves add up to (tests/support/trail_history.py) and against a
direct SQL count. The same on PostgreSQL, smaller."""

from __future__ import annotations

import csv
import io
import re

import httpx
import pytest

from tests.support import trail_history
from tests.support.clients import new_id
from tests.support.db import fetch
from tests.support.server import deploy

TOP = 20


async def signed_in(d) -> httpx.AsyncClient:
    email = f"marketer-{new_id()[:6]}@example.com"
    d.create_user(email, "marketer", "Mia")
    http = httpx.AsyncClient(base_url=d.server.url, timeout=120)
    page = await http.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    assert (await http.post("/login", data={"email": email, "password": d.password,
                                            "csrf_token": token})).status_code == 303
    return http


def _top_matches(rows: list[dict], key, expected) -> None:
    """The rows are the TOP most common groups, each with its exact count (ties in any order)."""
    got = {key(r): r["visits"] for r in rows}
    assert all(expected[k] == n for k, n in got.items()), {k: (n, expected[k]) for k, n in got.items()
                                                           if expected[k] != n}
    assert sorted(got.values(), reverse=True) == sorted(expected.values(), reverse=True)[:TOP]


async def _check(d, visits: int) -> None:
    site_id = (await fetch(d, "SELECT id FROM site ORDER BY id LIMIT 1"))[0]["id"]
    history, rows = trail_history.generate(site_id, visits)
    await trail_history.insert(d, rows)
    window = {"from": history.first_day.isoformat(), "to": history.last_day.isoformat()}
    http = await signed_in(d)
    try:
        reply = await http.get("/api/explorer", params=window)
        assert reply.status_code == 200, reply.text
        page = reply.json()
        total = len(history.visits)
        assert total > 0 and history.bot_visits > 0
        # A direct SQL count of the same visits.
        direct = await fetch(d, "SELECT COUNT(*) AS n FROM visit v JOIN visitor r ON r.id = v.visitor_id "
                                "WHERE NOT r.is_bot AND v.started_at >= ? AND v.started_at < ?",
                             history.first_day_start(), history.end())
        assert page["visits"]["total"] == total == direct[0]["n"]
        assert page["visits"]["chats"] == sum(v["chat"] for v in history.visits)
        assert page["visits"]["conversions"] == sum(v["converted"] for v in history.visits)
        assert len(page["visits"]["rows"]) == 200
        _top_matches(page["landing_pages"]["rows"], lambda r: r["page"], history.landing())
        _top_matches(page["exit_pages"]["rows"], lambda r: r["page"], history.exits())
        _top_matches(page["referrers"]["rows"], lambda r: r["referrer"], history.referrers())
        _top_matches(page["keywords"]["rows"], lambda r: r["keywords"], history.keywords())
        _top_matches(page["utm"]["rows"], lambda r: (r["campaign"], r["source"], r["medium"]), history.utm())
        paths = history.paths()
        got = {(r["from"], r["to"]): r["visits"] for r in page["paths"]["rows"]}
        assert all(paths[k] == n for k, n in got.items())
        assert sorted(got.values(), reverse=True) == sorted(paths.values(), reverse=True)[:TOP]
        # Hash routes are pages of their own, and a step between two routes of one path is a step.
        assert ("/support#/faq", "/support") in paths and ("/support", "/support") not in paths
        daily = {r["day"]: (r["visits"], r["chats"], r["conversions"]) for r in page["daily"]["rows"]}
        assert {k: v for k, v in daily.items() if v != (0, 0, 0)} == history.daily()

        # Filters apply before counting: exact under a filter too.
        narrowed = await http.get("/api/explorer", params={**window, "landing": "/support", "keyword": "tent",
                                                           "utm_campaign": "winter"})
        assert narrowed.status_code == 200, narrowed.text
        wanted = [v for v in history.visits if v["pages"][0].startswith("/support") and v["keywords"]
                  and "tent" in v["keywords"] and v["utm"].get("utm_campaign") == "winter"]
        assert narrowed.json()["visits"]["total"] == len(wanted) > 0
        _top_matches(narrowed.json()["exit_pages"]["rows"], lambda r: r["page"], history.exits(wanted))
        chatted = (await http.get("/api/explorer/daily", params={**window, "chat": "yes"})).json()
        assert sum(r["visits"] for r in chatted["rows"]) == sum(v["chat"] for v in history.visits)

        # The visits' CSV: every visit, streamed.
        async with http.stream("GET", "/api/explorer/visits", params={**window, "format": "csv"}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/csv")
            text = "".join([chunk async for chunk in response.aiter_text()])
        lines = list(csv.reader(io.StringIO(text)))
        header, body = lines[0], lines[1:]
        assert header[:3] == ["Started", "Visitor", "Visit"]
        assert len(body) == total
        assert {(r[1], int(r[2])) for r in body} == {(v["visitor_id"], v["number"]) for v in history.visits}
    finally:
        await http.aclose()


@pytest.fixture(scope="module")
def sqlite_site():
    deployment = deploy(database_url=None, redis_url=None, processes=1)
    yield deployment
    deployment.stop()


async def test_every_number_counts_every_visit_beyond_the_former_cap(sqlite_site):
    await _check(sqlite_site, 25_500)


@pytest.fixture(scope="module")
def postgres_site(new_postgres_database):
    deployment = deploy(database_url=new_postgres_database(), redis_url=None, processes=1)
    yield deployment
    deployment.stop()


async def test_the_same_sql_counts_exactly_on_postgresql(postgres_site):
    await _check(postgres_site, 3_000)


@pytest.mark.parametrize("query", [
    "site=999999", "site=-1", "utm_source=" + "x" * 201, "chat=1", "converted=maybe", "from=2026-02-30",
    "landing=" + "x" * 301, "visitor=old",
])
async def test_the_page_endpoint_refuses_bad_filters_with_a_400(sqlite_site, query):
    http = await signed_in(sqlite_site)
    try:
        response = await http.get("/api/explorer?" + query)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["message"]
        # The visits' CSV refuses them the same way, before it starts streaming.
        assert (await http.get("/api/explorer/visits?format=csv&" + query)).status_code == 400
    finally:
        await http.aclose()


async def test_only_explorers_get_the_page_endpoint(sqlite_site):
    async with httpx.AsyncClient(base_url=sqlite_site.server.url) as anonymous:
        assert (await anonymous.get("/api/explorer")).status_code == 401
    email = f"agent-{new_id()[:6]}@example.com"
    sqlite_site.create_user(email, "agent", "Ann")
    async with httpx.AsyncClient(base_url=sqlite_site.server.url) as agent:
        page = await agent.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        await agent.post("/login", data={"email": email, "password": sqlite_site.password, "csrf_token": token})
        assert (await agent.get("/api/explorer")).status_code == 403


async def test_the_funnel_rate_is_accepted_over_shown_as_in_kpis(sqlite_site):
    """KPIS.md: invitation acceptance = accepted ÷ shown (not ÷ sent), as the reports count it."""
    from datetime import datetime, timedelta, timezone

    from tests.support.db import execute

    d = sqlite_site
    site_id = (await fetch(d, "SELECT id FROM site ORDER BY id LIMIT 1"))[0]["id"]
    now = datetime.now(timezone.utc)
    visitor = "v_funnel_" + new_id()[:8]
    await execute(d, "INSERT INTO visitor (id, site_id, first_seen, last_seen, visit_count, is_bot, attributes) "
                     "VALUES (?, ?, ?, ?, 1, 0, '{}')", visitor, site_id, now, now)
    # 4 sent, 2 shown, 1 accepted (one invitation per step, all manual).
    for kind in ("sent", "sent", "sent", "sent", "shown", "shown", "accepted"):
        await execute(d, "INSERT INTO invitation (message, state, sent_at, expires_at, site_id, visitor_id) "
                         "VALUES ('Hi', 'sent', ?, ?, ?, ?)", now, now + timedelta(minutes=5), site_id, visitor)
        await execute(d, "INSERT INTO invitation_event (kind, at, data, invitation_id, site_id) "
                         "VALUES (?, ?, '{}', (SELECT MAX(id) FROM invitation), ?)", kind, now, site_id)
    http = await signed_in(d)
    try:
        funnel = (await http.get("/api/explorer/funnel", params={"site": site_id})).json()
        [manual] = [r for r in funnel["rows"] if r["rule"] == "Manual invitations"]
        assert (manual["sent"], manual["shown"], manual["accepted"]) == (4, 2, 1)
        assert manual["acceptance"] == 0.5
        assert {c["key"]: c["label"] for c in funnel["columns"]}["acceptance"] == "Accepted / shown"
    finally:
        await http.aclose()
