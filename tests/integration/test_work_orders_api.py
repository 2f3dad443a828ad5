"""The work orders' JSON API (app/web/workorders.py) and the customer's status link, through real
servers: SQLite with one process, and PostgreSQL + Redis with two (requests alternate between them).

Creating (numbers WO-<year>-000001 … counted per year, distinct and consecutive under concurrent
creates on both workers; from a real chat: the chat is linked and its visitor, site and customer
taken), reading (the detail; the list with each filter and its exact `total`), dispatch and
transfer, the workflow's statuses, the thread (a reply mailed to the customer with their link and
reply address; an internal note that never reaches them; feedback), urge, watchers, callbacks,
attachments (sniffed, served with their sniffed type and `nosniff`; HTML and SVG refused with
nothing stored), the customer's link (the public thread; a reply moves a waiting order back in
progress and reopens a resolved one; a closed one refuses) and bulk assignment.

The deployments are this module's own; every test makes its own users, teams and orders (their
subjects carry the test's tag, which the list's search finds), and sets teams, categories and SLA
policies up through app/services/work_setup.py in the test process.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.clock import utcnow
from app.models import WorkOrder
from app.security import Signer
from app.services import work_setup, workorders
from tests.support import clients
from tests.support.clients import new_id
from tests.support.db import fetch
from tests.support.inprocess import add_user, database
from tests.support.server import Deployment, deploy
from tests.support.web import csrf_of

WAIT = 30.0
REPLY_DOMAIN = "replies.example.com"
ENV = {"MAIL_REPLY_DOMAIN": REPLY_DOMAIN, "VISITOR_ABANDON_GRACE_SECONDS": "5"}

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89" \
      b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'


# -- the deployments -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def site():
    """SQLite, one server: this module's own."""
    d = deploy(database_url=None, redis_url=None, processes=1, extra_env=ENV)
    yield d
    d.stop()


@pytest.fixture(params=["sqlite", "postgres+redis x2"], scope="module")
def floor(request, site):
    """The module's SQLite server, and PostgreSQL + Redis with two workers (this module's own)."""
    if request.param == "sqlite":
        yield site
        return
    d = deploy(database_url=request.getfixturevalue("new_postgres_database")(),
               redis_url=request.getfixturevalue("redis_url"), processes=2, extra_env=ENV)
    yield d
    d.stop()


# -- helpers (the security and SLA modules use them too) -------------------------------------------

def tag() -> str:
    return new_id()[:8]


@dataclass
class Staff:
    """A signed-in staff member's browser: the session cookie and the page's CSRF token."""

    http: httpx.AsyncClient
    csrf: str
    id: int
    email: str
    url: str

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.http.get(path, params=params or None)

    async def post(self, path: str, body: Any = None, *, csrf: str | bool = True, content: bytes | str | None = None,
                   headers: dict[str, str] | None = None) -> httpx.Response:
        sent = {"X-CSRF-Token": self.csrf} if csrf is True else ({"X-CSRF-Token": csrf} if csrf else {})
        sent.update(headers or {})
        if content is not None:
            return await self.http.post(path, content=content, headers={"content-type": "application/json", **sent})
        return await self.http.post(path, json={} if body is None else body, headers=sent)

    async def upload(self, order_id: int | str, name: str, data: bytes, content_type: str = "image/png", *,
                     csrf: str | bool = True) -> httpx.Response:
        sent = {"X-CSRF-Token": self.csrf} if csrf is True else ({"X-CSRF-Token": csrf} if csrf else {})
        return await self.http.post(f"/api/work-orders/{order_id}/attachments", files={"file": (name, data, content_type)},
                                    headers=sent)

    async def order(self, order_id: int) -> dict:
        got = await self.get(f"/api/work-orders/{order_id}")
        assert got.status_code == 200, got.text
        return got.json()["order"]

    async def create(self, **values: Any) -> dict:
        made = await self.post("/api/work-orders", values)
        assert made.status_code == 201, made.text
        return made.json()["order"]


@contextlib.asynccontextmanager
async def staff(d: Deployment, email: str, server: int = 0, *, url: str | None = None):
    """`email` signed in on `d.servers[server]` (or the server at `url`), with the CSRF token of their
    session."""
    url = url or d.servers[server % len(d.servers)].url
    async with httpx.AsyncClient(base_url=url, follow_redirects=False, timeout=60) as http:
        page = await http.get("/login")
        done = await http.post("/login", data={"email": email, "password": d.password, "csrf_token": csrf_of(page.text)})
        assert done.status_code == 303, done.text
        account = await http.get("/account")
        assert account.status_code == 200, account.status_code
        yield Staff(http, csrf_of(account.text), d.users[email]["id"], email, url)


async def person(d: Deployment, t: str, who: str, role: str = "agent") -> str:
    """A new user of `role` named after `who` and the test's tag (made in this process); their e-mail."""
    email = f"{who.lower()}-{t}@example.com"
    await add_user(d, email, role, f"{who} {t}")
    return email


async def site_id(d: Deployment) -> int:
    return (await fetch(d, "SELECT id FROM site WHERE key = ?", d.site_key))[0]["id"]


async def in_process(d: Deployment, work):
    """Run `work()` (services, models) against the deployment's database in this process."""
    async with database(d, runtime=True):
        return await work()


async def new_team(d: Deployment, name: str, members: list[int], lead: int | None = None, **more: Any) -> int:
    async def make() -> int:
        return (await work_setup.save_team(None, {"name": name, "members": members, "lead_id": lead, **more})).id
    return await in_process(d, make)


async def new_category(d: Deployment, name: str, parent: int | None = None) -> int:
    async def make() -> int:
        return (await work_setup.save_category(None, {"name": name, "parent_id": parent})).id
    return await in_process(d, make)


async def new_policy(d: Deployment, category: int | None, priority: str | None, first: int | None,
                     resolution: int | None) -> int:
    async def make() -> int:
        return (await work_setup.save_policy(None, {"category_id": category, "priority": priority,
                                                    "first_response_minutes": first,
                                                    "resolution_minutes": resolution})).id
    return await in_process(d, make)


async def update_order(d: Deployment, order_id: int, **fields: Any) -> None:
    """Change an order's row directly (time passing: due times, creation times)."""
    async def change() -> None:
        await WorkOrder.filter(id=order_id).update(**fields)
    await in_process(d, change)


TABLES = ("work_order", "work_order_event", "work_order_entry", "work_order_attachment", "work_order_callback",
          "work_order_watcher", "work_order_conversation", "outgoing_mail")


async def counts(d: Deployment) -> dict[str, int]:
    return {t: (await fetch(d, f"SELECT count(*) AS n FROM {t}"))[0]["n"] for t in TABLES}


def stored_files(d: Deployment) -> list[str]:
    folder = Path(d.env["DATA_DIR"]) / "attachments"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


async def events_of(d: Deployment, order_id: int) -> list[dict]:
    rows = await fetch(d, "SELECT kind, actor_id, team_id, handler_id, data FROM work_order_event "
                          "WHERE work_order_id = ? ORDER BY id", order_id)
    return [{**r, "data": json.loads(r["data"]) if isinstance(r["data"], str) else r["data"]} for r in rows]


async def mails_of(d: Deployment, order_id: int) -> list[dict]:
    rows = await fetch(d, "SELECT to_address, subject, body, headers, purpose, status FROM outgoing_mail "
                          "WHERE work_order_id = ? ORDER BY id", order_id)
    return [{**r, "headers": json.loads(r["headers"]) if isinstance(r["headers"], str) else r["headers"]}
            for r in rows]


def token_of(d: Deployment, order_id: int, link_secret: str) -> str:
    return Signer(d.env["SECRET_KEY"]).order_token(order_id, link_secret)


async def token(d: Deployment, order_id: int) -> str:
    secret = (await fetch(d, "SELECT link_secret FROM work_order WHERE id = ?", order_id))[0]["link_secret"]
    return token_of(d, order_id, secret)


def error(response: httpx.Response) -> dict:
    body = response.json()
    assert body["ok"] is False, body
    return body["error"]


# -- creating --------------------------------------------------------------------------------------

@pytest.fixture(params=["sqlite", "postgres+redis x2"])
def fresh(request):
    """A deployment of the test's own: its work-order counter starts from nothing."""
    if request.param == "sqlite":
        d = deploy(database_url=None, redis_url=None, processes=1, extra_env=ENV)
    else:
        d = deploy(database_url=request.getfixturevalue("new_postgres_database")(),
                   redis_url=request.getfixturevalue("redis_url"), processes=2, extra_env=ENV)
    yield d
    d.stop()


async def test_numbers_are_per_year_distinct_and_consecutive_under_concurrent_creates(fresh):
    d, t = fresh, tag()
    year = utcnow().year
    site = await site_id(d)
    async with staff(d, "agent@example.com", 0) as one, staff(d, "boss@example.com", 1) as two:
        # The very first orders of the deployment race for the year's counter, on both workers.
        made = await asyncio.gather(*(
            (one if i % 2 == 0 else two).post("/api/work-orders", {"site_id": site, "subject": f"Race {i} {t}"})
            for i in range(10)))
        assert [m.status_code for m in made] == [201] * 10, [m.text for m in made]
        numbers = sorted(m.json()["order"]["number"] for m in made)
        assert numbers == [f"WO-{year}-{n:06d}" for n in range(1, 11)]
        following = await one.create(site_id=site, subject=f"After {t}")
        assert following["number"] == f"WO-{year}-000011"
    counter = await fetch(d, "SELECT year, last_number FROM work_order_counter")
    assert counter == [{"year": year, "last_number": 11}]

    # The first numbers of a year, taken at once (a busy center at midnight on New Year's Eve): none
    # is refused, none is given twice.
    async def first_of_the_year() -> list[str]:
        return list(await asyncio.gather(*(workorders._next_number(2999) for _ in range(10))))
    assert sorted(await in_process(d, first_of_the_year)) == [f"WO-2999-{n:06d}" for n in range(1, 11)]


async def test_a_new_order_reads_back_with_its_customer_and_the_customer_is_mailed(floor):
    d, t = floor, tag()
    creator = await person(d, t, "Cora")
    site = await site_id(d)
    async with staff(d, creator) as cora:
        before = (await fetch(d, "SELECT count(*) AS n FROM work_order"))[0]["n"]
        order = await cora.create(site_id=site, subject=f"  Tent pole broke {t} ", description="Snapped in the wind.",
                                  priority="high", customer_name="Ana Lima", customer_email="ana@example.org",
                                  customer_phone="+49 30 1234-567", language="en")
    year = utcnow().year
    assert order["number"] == f"WO-{year}-{before + 1:06d}"
    assert (order["subject"], order["description"], order["priority"]) == (f"Tent pole broke {t}", "Snapped in the wind.",
                                                                           "high")
    assert order["customer"] == {"name": "Ana Lima", "email": "ana@example.org", "phone": "+49 30 1234-567"}
    assert (order["status"], order["source"], order["site_id"], order["created_by_id"]) == \
        ("new", "manual", site, d.users[creator]["id"])
    assert (order["team_id"], order["handler_id"], order["due_at"], order["escalation"]) == (None, None, None, 0)
    assert order["entries"] == [] and order["attachments"] == [] and order["watchers"] == []
    assert [h["kind"] for h in order["history"]] == ["created"]
    assert order["history"][0]["actor"] == f"Cora {t}"
    assert order["moves"] == ["assigned", "in_progress", "resolved"]
    assert order["may"] == {"handle": False, "dispatch": True, "reply": True, "close": True, "urge": True}

    mails = await mails_of(d, order["id"])
    assert len(mails) == 1
    mail = mails[0]
    secret = await token(d, order["id"])
    assert (mail["to_address"], mail["purpose"], mail["status"]) == ("ana@example.org", "created", "outbox")
    assert mail["subject"] == f"[{order['number']}] We received your request: Tent pole broke {t}"
    assert f"/requests/{secret}\n" in mail["body"] and mail["body"].startswith("Hello Ana Lima,")
    assert mail["headers"]["Reply-To"] == f"reply+{secret}@{REPLY_DOMAIN}"


async def test_an_order_in_chinese_mails_the_customer_in_chinese(floor):
    d, t = floor, tag()
    async with staff(d, await person(d, t, "Zhu")) as zhu:
        order = await zhu.create(site_id=await site_id(d), subject=f"退款 {t}", customer_email="li@example.cn",
                                 customer_name="李娜", language="zh-CN")
    mail = (await mails_of(d, order["id"]))[0]
    assert mail["subject"] == f"[{order['number']}] 我们已收到您的请求：退款 {t}"
    assert mail["body"].startswith("李娜，您好：")


async def test_an_order_from_a_real_chat_links_it_and_takes_its_visitor_site_and_customer(floor):
    d, t = floor, tag()
    csr = await person(d, t, "Chad")
    agent = await clients.agent(d.servers[-1].url, csr, d.password)
    visitor = await clients.visitor(d.servers[0].url, d.site_key, d.origin)
    visitor_id = visitor.rec.of("session")[0]["visitor_id"]
    try:
        assert (await agent.call("set_status", {"status": "available"}))["ok"]
        sent = await visitor.call("message", {"client_id": new_id(), "body": f"My parcel {t} never arrived",
                                              "name": "Vera Visitor", "email": f"vera-{t}@example.org"})
        assert sent["ok"], sent
        conversation_id = sent["conversation_id"]
        await agent.rec.wait_for("conversation.assigned", lambda c: c["id"] == conversation_id, timeout=WAIT)

        async with staff(d, csr, 1) as chad:
            draft = await chad.get("/api/work-orders/draft", conversation_id=str(conversation_id))
            assert draft.status_code == 200, draft.text
            assert draft.json()["draft"] == {
                "conversation_id": conversation_id, "site_id": await site_id(d), "visitor_id": visitor_id,
                "customer_name": "Vera Visitor", "customer_email": f"vera-{t}@example.org",
                "subject": f"My parcel {t} never arrived", "description": f"My parcel {t} never arrived"}
            order = await chad.create(conversation_id=conversation_id, subject=f"Parcel lost {t}")
            assert (order["source"], order["visitor_id"], order["site_id"]) == ("chat", visitor_id, await site_id(d))
            assert order["customer"] == {"name": "Vera Visitor", "email": f"vera-{t}@example.org", "phone": None}
            assert order["conversations"] == [conversation_id]
            assert order["history"][0]["data"]["conversation_id"] == conversation_id
            # The visitor's open orders, for the console's screen pop.
            listed = await chad.get(f"/api/visitors/{visitor_id}/work-orders")
            assert [o["id"] for o in listed.json()["orders"]] == [order["id"]]
        links = await fetch(d, "SELECT conversation_id FROM work_order_conversation WHERE work_order_id = ?", order["id"])
        assert links == [{"conversation_id": conversation_id}]
        assert [m["to_address"] for m in await mails_of(d, order["id"])] == [f"vera-{t}@example.org"]
    finally:
        await clients.sign_off(agent)
        await visitor.disconnect()
        await agent.disconnect()


# -- reading ---------------------------------------------------------------------------------------

async def test_the_list_filters_and_counts_exactly(floor):
    d, t = floor, tag()
    boss = await person(d, t, "Lia", "supervisor")
    hana, hugo = await person(d, t, "Hana"), await person(d, t, "Hugo")
    team = await new_team(d, f"Billing {t}", [d.users[hana]["id"], d.users[hugo]["id"]])
    other_team = await new_team(d, f"Logistics {t}", [d.users[hugo]["id"]])
    parent = await new_category(d, f"Complaint {t}")
    child = await new_category(d, f"Delivery {t}", parent)
    site = await site_id(d)
    async with staff(d, boss) as lia, staff(d, hana, 1) as hana_web:
        made = {}
        made["a"] = await lia.create(site_id=site, subject=f"A {t}", category_id=parent, priority="low", team_id=team)
        made["b"] = await lia.create(site_id=site, subject=f"B {t}", category_id=child, priority="urgent",
                                     team_id=team, handler_id=d.users[hana]["id"])
        made["c"] = await lia.create(site_id=site, subject=f"C {t}", priority="urgent", team_id=other_team,
                                     customer_email=f"c-{t}@example.org", customer_name=f"Carl {t}")
        made["d"] = await lia.create(site_id=site, subject=f"D {t}")
        made["e"] = await lia.create(site_id=site, subject=f"E {t}", handler_id=d.users[hana]["id"])
        ids = {k: v["id"] for k, v in made.items()}
        assert (await lia.post(f"/api/work-orders/{ids['d']}/status", {"status": "resolved"})).status_code == 200
        await update_order(d, ids["a"], due_at=utcnow() - timedelta(hours=2))  # overdue
        await update_order(d, ids["c"], due_at=utcnow() + timedelta(hours=2))

        async def listed(http: Staff = lia, **params: str) -> tuple[int, list[str]]:
            got = await http.get("/api/work-orders", q=t, **params)
            assert got.status_code == 200, got.text
            body = got.json()
            return body["total"], [o["subject"].split()[0] for o in body["orders"]]

        # Open ones by default: overdue and soonest due first, then the newest without a due time.
        assert await listed() == (4, ["A", "C", "E", "B"])
        assert await listed(status="all") == (5, ["A", "C", "E", "D", "B"])
        assert await listed(status="resolved") == (1, ["D"])
        assert await listed(status="assigned") == (4, ["A", "C", "E", "B"])
        assert await listed(status="new") == (0, [])
        assert await listed(team=str(team)) == (2, ["A", "B"])
        assert await listed(team=str(other_team)) == (1, ["C"])
        assert await listed(handler=str(d.users[hana]["id"])) == (2, ["E", "B"])
        assert await listed(category=str(parent)) == (2, ["A", "B"])  # the parent takes in its children
        assert await listed(category=str(child)) == (1, ["B"])
        assert await listed(priority="urgent") == (2, ["C", "B"])
        assert await listed(overdue="1") == (1, ["A"])
        assert await listed(site=str(site)) == (4, ["A", "C", "E", "B"])
        assert await listed(site="999999") == (0, [])
        assert await listed(hana_web, mine="1") == (2, ["E", "B"])
        assert await listed(mine="1") == (0, [])
        assert await listed(team=str(team), priority="urgent") == (1, ["B"])
        # The search: a number exactly, words of the subject or the customer's name, an address exactly.
        got = await lia.get("/api/work-orders", q=made["c"]["number"])
        assert got.json()["total"] == 1 and got.json()["orders"][0]["id"] == ids["c"]
        got = await lia.get("/api/work-orders", q=f"c-{t}@EXAMPLE.org")
        assert [o["id"] for o in got.json()["orders"]] == [ids["c"]]
        got = await lia.get("/api/work-orders", q=f"carl {t}")
        assert [o["id"] for o in got.json()["orders"]] == [ids["c"]]
        # Pages: the total is every match, whatever the page.
        pages = []
        for offset in (0, 2, 4, 6):
            got = (await lia.get("/api/work-orders", q=t, status="all", limit="2", offset=str(offset))).json()
            assert got["total"] == 5
            pages.append([o["id"] for o in got["orders"]])
        assert [len(p) for p in pages] == [2, 2, 1, 0]
        assert sorted(i for page in pages for i in page) == sorted(ids.values())
        # The list shows what a row needs.
        row = (await lia.get("/api/work-orders", q=made["b"]["number"])).json()["orders"][0]
        assert (row["team"], row["handler"], row["category"], row["status_label"]) == \
            (f"Billing {t}", f"Hana {t}", f"Complaint {t} › Delivery {t}", "Assigned")
        overdue = (await lia.get("/api/work-orders", q=made["a"]["number"])).json()["orders"][0]
        assert overdue["overdue"] is True and overdue["seconds_left"] < -7000

        for bad, field in (({"status": "done"}, "status"), ({"priority": "asap"}, "priority"),
                           ({"team": "x1"}, "team"), ({"handler": "-1"}, "handler"), ({"limit": "1e3"}, "limit"),
                           ({"q": "x" * 201}, "q")):
            refused = await lia.get("/api/work-orders", **bad)
            assert refused.status_code == 400 and error(refused)["field"] == field, (bad, refused.text)


# -- dispatch, transfer, the workflow --------------------------------------------------------------

async def test_dispatch_to_a_team_and_a_handler_and_a_transfer_with_its_reason(floor):
    d, t = floor, tag()
    boss = await person(d, t, "Dana", "supervisor")
    hal, hep = await person(d, t, "Hal", "handler"), await person(d, t, "Hep", "handler")
    out = await person(d, t, "Oto", "handler")
    team = await new_team(d, f"Returns {t}", [d.users[hal]["id"], d.users[hep]["id"]])
    async with staff(d, boss) as dana:
        order = await dana.create(site_id=await site_id(d), subject=f"Return {t}")
        path = f"/api/work-orders/{order['id']}"

        dispatched = await dana.post(f"{path}/dispatch", {"team_id": team})
        assert dispatched.status_code == 200, dispatched.text
        got = dispatched.json()["order"]
        assert (got["status"], got["team_id"], got["handler_id"], got["team"]) == ("assigned", team, None, f"Returns {t}")

        # A handler of the team: the team stays.
        got = (await dana.post(f"{path}/dispatch", {"handler_id": d.users[hal]["id"]})).json()["order"]
        assert (got["team_id"], got["handler_id"], got["handler"]) == (team, d.users[hal]["id"], f"Hal {t}")

        refused = await dana.post(f"{path}/dispatch", {"team_id": team, "handler_id": d.users[out]["id"]})
        assert refused.status_code == 400 and error(refused)["field"] == "handler_id"
        assert f"Oto {t} is not in Returns {t}" in error(refused)["message"]

        no_reason = await dana.post(f"{path}/dispatch", {"handler_id": d.users[hep]["id"], "transfer": True})
        assert no_reason.status_code == 400 and error(no_reason)["field"] == "reason"
        blank = await dana.post(f"{path}/dispatch", {"handler_id": d.users[hep]["id"], "transfer": True, "reason": "  "})
        assert blank.status_code == 400 and error(blank)["field"] == "reason"
        moved = await dana.post(f"{path}/dispatch", {"handler_id": d.users[hep]["id"], "transfer": True,
                                                     "reason": "Hal is on leave"})
        assert moved.status_code == 200, moved.text
        got = moved.json()["order"]
        assert (got["status"], got["team_id"], got["handler_id"]) == ("assigned", team, d.users[hep]["id"])

        # Someone outside the team: the order leaves the team with them.
        got = (await dana.post(f"{path}/dispatch", {"handler_id": d.users[out]["id"], "transfer": True,
                                                    "reason": "Needs Oto"})).json()["order"]
        assert (got["team_id"], got["handler_id"]) == (None, d.users[out]["id"])

    events = await events_of(d, order["id"])
    assert [e["kind"] for e in events] == ["created", "dispatched", "dispatched", "transferred", "transferred"]
    transfer = events[3]
    assert transfer["data"]["reason"] == "Hal is on leave"
    assert transfer["data"]["before"] == {"team_id": team, "handler_id": d.users[hal]["id"]}
    assert (transfer["team_id"], transfer["handler_id"], transfer["actor_id"]) == \
        (team, d.users[hep]["id"], d.users[boss]["id"])


async def test_a_transfer_needs_someone_handling_the_order_first(floor):
    d, t = floor, tag()
    hal = await person(d, t, "Hal", "handler")
    async with staff(d, "boss@example.com") as boss:
        order = await boss.create(site_id=await site_id(d), subject=f"Nobody yet {t}")
        refused = await boss.post(f"/api/work-orders/{order['id']}/dispatch",
                                  {"handler_id": d.users[hal]["id"], "transfer": True, "reason": "Why not"})
        assert refused.status_code == 409 and error(refused)["code"] == "invalid_state"
        nothing = await boss.post(f"/api/work-orders/{order['id']}/dispatch", {})
        assert nothing.status_code == 400 and error(nothing)["field"] == "team_id"
    assert [e["kind"] for e in await events_of(d, order["id"])] == ["created"]


async def test_an_order_moves_through_the_workflow_and_is_reopened(floor):
    d, t = floor, tag()
    boss = await person(d, t, "Ivo", "supervisor")
    async with staff(d, boss) as ivo:
        order = await ivo.create(site_id=await site_id(d), subject=f"Workflow {t}", customer_email=f"w-{t}@example.org")
        path = f"/api/work-orders/{order['id']}"

        async def move(status: str) -> dict:
            moved = await ivo.post(f"{path}/status", {"status": status})
            assert moved.status_code == 200, (status, moved.text)
            return moved.json()["order"]

        started = await move("in_progress")
        assert (started["status"], started["handler_id"]) == ("in_progress", d.users[boss]["id"])  # who starts owns it
        assert started["moves"] == ["assigned", "resolved", "waiting"]
        assert (await move("waiting"))["status"] == "waiting"
        assert (await move("in_progress"))["status"] == "in_progress"
        assign = await ivo.post(f"{path}/status", {"status": "assigned"})
        assert assign.status_code == 409 and "Dispatch" in error(assign)["message"]
        resolved = await move("resolved")
        assert resolved["status"] == "resolved" and resolved["resolved_at"] is not None
        assert resolved["seconds_left"] is None and resolved["moves"] == ["closed", "reopened"]
        closed = await move("closed")
        assert closed["status"] == "closed" and closed["closed_at"] is not None
        for refused_status in ("in_progress", "resolved", "closed", "waiting"):
            refused = await ivo.post(f"{path}/status", {"status": refused_status})
            assert refused.status_code == 409 and error(refused) == {
                "code": "invalid_state", "field": "status", "message": error(refused)["message"]}
        reply = await ivo.post(f"{path}/posts", {"kind": "reply", "body": "Anything else?"})
        assert reply.status_code == 409 and error(reply)["code"] == "invalid_state"
        reopened = await move("reopened")
        assert (reopened["status"], reopened["reopen_count"], reopened["resolved_at"], reopened["closed_at"]) == \
            ("assigned", 1, None, None)
    events = await events_of(d, order["id"])
    assert [(e["kind"], e["data"].get("status")) for e in events] == [
        ("created", None), ("status", "in_progress"), ("status", "waiting"), ("status", "in_progress"),
        ("status", "resolved"), ("status", "closed"), ("reopened", None)]
    assert events[4]["data"]["previous"] == "in_progress"
    assert [m["purpose"] for m in await mails_of(d, order["id"])] == ["created", "resolved"]


async def test_subject_category_and_priority_are_edited_and_the_sla_follows(floor):
    d, t = floor, tag()
    category = await new_category(d, f"Warranty {t}")
    await new_policy(d, category, "high", 4 * 60, 3 * 24 * 60)  # far off: no timer fires during the test
    async with staff(d, "boss@example.com") as boss:
        order = await boss.create(site_id=await site_id(d), subject=f"Edit {t}")
        assert order["due_at"] is None
        changed = await boss.post(f"/api/work-orders/{order['id']}",
                                  {"subject": f"Edited {t}", "category_id": category, "priority": "high"})
        assert changed.status_code == 200, changed.text
        got = changed.json()["order"]
        assert (got["subject"], got["category_id"], got["priority"], got["category"]) == \
            (f"Edited {t}", category, "high", f"Warranty {t}")
        created = datetime.fromisoformat(got["created_at"])
        assert datetime.fromisoformat(got["due_at"]) == created + timedelta(days=3)
        assert datetime.fromisoformat(got["first_response_due_at"]) == created + timedelta(hours=4)
        # Back to normal: no policy applies, no due times.
        got = (await boss.post(f"/api/work-orders/{order['id']}", {"priority": "normal"})).json()["order"]
        assert (got["due_at"], got["first_response_due_at"]) == (None, None)
    events = await events_of(d, order["id"])
    assert events[1]["kind"] == "changed"
    assert events[1]["data"]["before"] == {"subject": f"Edit {t}", "category_id": None, "priority": "normal"}


# -- the thread ------------------------------------------------------------------------------------

async def test_a_reply_is_mailed_to_the_customer_with_their_link_and_a_note_never_is(floor):
    d, t = floor, tag()
    hank = await person(d, t, "Hank")
    team = await new_team(d, f"Care {t}", [d.users[hank]["id"]])
    async with staff(d, "boss@example.com") as boss, staff(d, hank, 1) as hank_web:
        order = await boss.create(site_id=await site_id(d), subject=f"Thread {t}", customer_email=f"t-{t}@example.org",
                                  customer_name="Tom", team_id=team)
        path = f"/api/work-orders/{order['id']}"
        secret = await token(d, order["id"])

        note = await hank_web.post(f"{path}/posts", {"kind": "note", "body": f"INTERNAL-{t}: customer is a reseller"})
        assert note.status_code == 201, note.text
        assert note.json()["order"]["first_responded_at"] is None
        reply = await hank_web.post(f"{path}/posts", {"kind": "reply", "body": f"We are on it, Tom ({t})."})
        assert reply.status_code == 201, reply.text
        got = reply.json()["order"]
        assert got["first_responded_at"] is not None
        assert [(e["kind"], e["public"], e["author"], e["author_id"]) for e in got["entries"]] == [
            ("note", False, f"Hank {t}", d.users[hank]["id"]), ("reply", True, f"Hank {t}", d.users[hank]["id"])]
        assert reply.json()["entry_id"] == got["entries"][1]["id"]

        for bad in ({"kind": "reply"}, {"kind": "reply", "body": "   "}, {"kind": "reply", "body": 42},
                    {"kind": "reply", "body": "x" * 20_001}):
            refused = await hank_web.post(f"{path}/posts", bad)
            assert refused.status_code == 400 and error(refused)["field"] == "body", (bad, refused.text)
        refused = await hank_web.post(f"{path}/posts", {"kind": "whisper", "body": "hi"})
        assert refused.status_code == 400 and error(refused)["field"] == "kind"

        # The customer's link shows the reply, never the note.
        async with httpx.AsyncClient(base_url=d.server.url) as customer:
            page = await customer.get(f"/requests/{secret}")
        assert page.status_code == 200
        assert f"We are on it, Tom ({t})." in html.unescape(page.text)
        assert f"INTERNAL-{t}" not in page.text
        assert page.headers["referrer-policy"] == "no-referrer" and page.headers["cache-control"] == "no-store"

        assert (await hank_web.post(f"{path}/status", {"status": "resolved"})).status_code == 200

    mails = await mails_of(d, order["id"])
    assert [m["purpose"] for m in mails] == ["created", "reply", "resolved"]
    reply_mail = mails[1]
    assert reply_mail["to_address"] == f"t-{t}@example.org"
    assert reply_mail["subject"] == f"[{order['number']}] Re: Thread {t}"
    assert f"We are on it, Tom ({t})." in reply_mail["body"] and f"— Hank {t}" in reply_mail["body"]
    assert re.search(rf"https?://[^\s]+/requests/{re.escape(secret)}\n", reply_mail["body"])
    assert reply_mail["headers"]["Reply-To"] == f"reply+{secret}@{REPLY_DOMAIN}"
    assert reply_mail["headers"]["Message-ID"].startswith("<")
    # The resolution mail carries the public thread: still no note.
    assert f"We are on it, Tom ({t})." in mails[2]["body"]
    assert all(f"INTERNAL-{t}" not in m["body"] for m in mails)
    kinds = [(e["kind"], e["data"].get("first")) for e in await events_of(d, order["id"])]
    assert kinds[:4] == [("created", None), ("dispatched", None), ("noted", False), ("replied", True)]


async def test_feedback_is_the_handlers_and_stays_internal(floor):
    d, t = floor, tag()
    fay = await person(d, t, "Fay", "handler")
    team = await new_team(d, f"Tech {t}", [d.users[fay]["id"]])
    async with staff(d, "agent@example.com") as creator, staff(d, fay, 1) as fay_web:
        order = await creator.create(site_id=await site_id(d), subject=f"Feedback {t}", team_id=team,
                                     customer_email=f"f-{t}@example.org")
        done = await fay_web.post(f"/api/work-orders/{order['id']}/posts",
                                  {"kind": "feedback", "body": f"FEEDBACK-{t}: replaced the part"})
        assert done.status_code == 201, done.text
        entry = done.json()["order"]["entries"][0]
        assert (entry["kind"], entry["public"], entry["author"]) == ("feedback", False, f"Fay {t}")
        # The creator reads it.
        assert [e["kind"] for e in (await creator.order(order["id"]))["entries"]] == ["feedback"]
        async with httpx.AsyncClient(base_url=d.server.url) as customer:
            page = await customer.get(f"/requests/{await token(d, order['id'])}")
        assert page.status_code == 200 and f"FEEDBACK-{t}" not in page.text
    assert all(f"FEEDBACK-{t}" not in m["body"] for m in await mails_of(d, order["id"]))
    assert "feedback" in [e["kind"] for e in await events_of(d, order["id"])]


# -- urge, watchers, callbacks ---------------------------------------------------------------------

async def test_urging_counts_and_is_refused_to_the_handler_and_on_a_resolved_order(floor):
    d, t = floor, tag()
    hope = await person(d, t, "Hope")
    async with staff(d, "agent@example.com") as creator, staff(d, hope, 1) as hope_web:
        order = await creator.create(site_id=await site_id(d), subject=f"Urge {t}", handler_id=d.users[hope]["id"])
        path = f"/api/work-orders/{order['id']}"
        first = await creator.post(f"{path}/urge", {"note": "The customer called again"})
        assert first.status_code == 200 and first.json()["order"]["urge_count"] == 1
        second = await creator.post(f"{path}/urge")
        assert second.status_code == 200 and second.json()["order"]["urge_count"] == 2
        own = await hope_web.post(f"{path}/urge", {})
        assert own.status_code == 403 and error(own)["code"] == "forbidden"
        bad = await creator.post(f"{path}/urge", {"note": ["loud"]})
        assert bad.status_code == 400 and error(bad)["field"] == "note"
        assert (await hope_web.post(f"{path}/status", {"status": "resolved"})).status_code == 200
        late = await creator.post(f"{path}/urge", {})
        assert late.status_code == 409 and error(late)["code"] == "invalid_state"
        assert (await creator.order(order["id"]))["urge_count"] == 2
    urged = [e for e in await events_of(d, order["id"]) if e["kind"] == "urged"]
    assert [(e["data"]["count"], e["data"]["note"]) for e in urged] == [(1, "The customer called again"), (2, None)]


async def test_watchers_are_added_once_read_the_order_and_are_removed(floor):
    d, t = floor, tag()
    wes = await person(d, t, "Wes", "handler")  # reads nothing of this order but as its watcher
    async with staff(d, "boss@example.com") as boss, staff(d, wes, 1) as wes_web:
        order = await boss.create(site_id=await site_id(d), subject=f"Watch {t}")
        path = f"/api/work-orders/{order['id']}"
        assert (await wes_web.get(path)).status_code == 404
        for _ in range(2):
            added = await boss.post(f"{path}/watchers", {"user_id": d.users[wes]["id"]})
            assert added.status_code == 200, added.text
            assert added.json()["order"]["watchers"] == [{"id": d.users[wes]["id"], "name": f"Wes {t}"}]
        assert (await wes_web.get(path)).status_code == 200
        listed = (await wes_web.get("/api/work-orders", q=t)).json()
        assert (listed["total"], [o["id"] for o in listed["orders"]]) == (1, [order["id"]])
        for bad in ({"user_id": d.users["marketer@example.com"]["id"]}, {"user_id": 99_999_999}, {"user_id": "1"}, {}):
            refused = await boss.post(f"{path}/watchers", bad)
            assert refused.status_code == 400 and error(refused)["field"] == "user_id", (bad, refused.text)
        removed = await boss.post(f"{path}/watchers", {"user_id": d.users[wes]["id"], "on": False})
        assert removed.status_code == 200 and removed.json()["order"]["watchers"] == []
        assert (await wes_web.get(path)).status_code == 404
    kinds = [e["kind"] for e in await events_of(d, order["id"])]
    assert kinds == ["created", "watcher_added", "watcher_removed"]


async def test_callbacks_follow_a_resolution_and_are_recorded_once(floor):
    d, t = floor, tag()
    cal, other = await person(d, t, "Cal"), await person(d, t, "Ola")
    async with staff(d, "boss@example.com") as boss, staff(d, cal, 1) as cal_web, staff(d, other) as other_web:
        order = await boss.create(site_id=await site_id(d), subject=f"Callback {t}")
        path = f"/api/work-orders/{order['id']}"
        due = (utcnow() + timedelta(days=2)).isoformat()
        early = await boss.post(f"{path}/callbacks", {"assignee_id": d.users[cal]["id"], "due_at": due})
        assert early.status_code == 409 and error(early)["code"] == "invalid_state"
        assert (await boss.post(f"{path}/status", {"status": "resolved"})).status_code == 200

        for bad, field in (({"assignee_id": d.users[cal]["id"], "due_at": "tomorrow"}, "due_at"),
                           ({"assignee_id": d.users[cal]["id"], "due_at": "2031-01-01T10:00:00"}, "due_at"),
                           ({"assignee_id": d.users[cal]["id"], "due_at": "2001-01-01T10:00:00+00:00"}, "due_at"),
                           ({"assignee_id": d.users[cal]["id"]}, "due_at"),
                           ({"assignee_id": d.users["marketer@example.com"]["id"], "due_at": due}, "assignee_id"),
                           ({"due_at": due}, "assignee_id"),
                           ({"assignee_id": d.users[cal]["id"], "due_at": due, "note": "n" * 501}, "note")):
            refused = await boss.post(f"{path}/callbacks", bad)
            assert refused.status_code == 400 and error(refused)["field"] == field, (bad, refused.text)

        made = await boss.post(f"{path}/callbacks", {"assignee_id": d.users[cal]["id"], "due_at": due,
                                                     "note": "Ask if the refund arrived"})
        assert made.status_code == 201, made.text
        callback_id = made.json()["callback_id"]
        [callback] = made.json()["order"]["callbacks"]
        assert (callback["id"], callback["assignee_id"], callback["outcome"], callback["overdue"]) == \
            (callback_id, d.users[cal]["id"], None, False)

        not_theirs = await other_web.post(f"/api/work-orders/callbacks/{callback_id}", {"outcome": "reached"})
        assert not_theirs.status_code == 403 and error(not_theirs)["code"] == "forbidden"
        odd = await cal_web.post(f"/api/work-orders/callbacks/{callback_id}", {"outcome": "happy"})
        assert odd.status_code == 400 and error(odd)["field"] == "outcome"
        done = await cal_web.post(f"/api/work-orders/callbacks/{callback_id}",
                                  {"outcome": "satisfied", "note": "All good"})
        assert done.status_code == 200, done.text
        [callback] = done.json()["order"]["callbacks"]
        assert (callback["outcome"], callback["outcome_note"]) == ("satisfied", "All good")
        assert callback["done_at"] is not None
        again = await cal_web.post(f"/api/work-orders/callbacks/{callback_id}", {"outcome": "not_satisfied"})
        assert again.status_code == 409 and error(again)["code"] == "invalid_state"
        for missing in ("99999999", "abc"):
            gone = await cal_web.post(f"/api/work-orders/callbacks/{missing}", {"outcome": "reached"})
            assert gone.status_code == 404
    rows = await fetch(d, "SELECT outcome, outcome_note FROM work_order_callback WHERE work_order_id = ?", order["id"])
    assert rows == [{"outcome": "satisfied", "outcome_note": "All good"}]
    kinds = [e["kind"] for e in await events_of(d, order["id"])]
    assert kinds == ["created", "status", "callback_added", "callback_done"]


# -- attachments -----------------------------------------------------------------------------------

async def test_a_png_is_kept_and_served_with_its_sniffed_type_and_html_or_svg_never_are(floor):
    d, t = floor, tag()
    async with staff(d, "boss@example.com") as boss, staff(d, "agent@example.com", 1) as csr:
        order = await boss.create(site_id=await site_id(d), subject=f"Files {t}")
        path = f"/api/work-orders/{order['id']}"
        # A PNG that its browser called text/html, with a path in its name: the bytes decide.
        kept = await boss.upload(order["id"], "C:/fakepath/screenshot.png", PNG, "text/html")
        assert kept.status_code == 201, kept.text
        attachment_id = kept.json()["attachment_id"]
        [shown] = (await boss.order(order["id"]))["attachments"]
        assert (shown["filename"], shown["content_type"], shown["size"], shown["by_customer"]) == \
            ("screenshot.png", "image/png", len(PNG), False)

        before, files_before = await counts(d), stored_files(d)
        for name, data, claimed in (("page.html", HTML, "text/html"), ("drawing.svg", SVG, "image/svg+xml"),
                                    ("cat.png", SVG, "image/png"), ("cat.png", b"<svg/>", "image/png"),
                                    ("archive.zip", b"PK\x03\x04" + b"\x00" * 40, "application/zip")):
            refused = await boss.upload(order["id"], name, data, claimed)
            assert refused.status_code == 415, (name, refused.text)
            assert error(refused) == {"code": "unsupported_type", "field": "file",
                                      "message": error(refused)["message"]}
        empty = await boss.upload(order["id"], "empty.png", b"", "image/png")
        assert empty.status_code == 400 and error(empty)["field"] == "file"
        no_file = await boss.http.post(f"{path}/attachments", data={"x": "1"}, headers={"X-CSRF-Token": boss.csrf})
        assert no_file.status_code == 400 and error(no_file)["field"] == "file"
        # Over 10 MB: told by its length, and a file just over the limit inside a form that is not.
        huge = await boss.upload(order["id"], "huge.png", PNG + b"\x00" * (11 * 1024 * 1024), "image/png")
        assert huge.status_code == 413 and error(huge)["code"] == "too_large"
        just_over = await boss.upload(order["id"], "over.png", PNG + b"\x00" * (10 * 1024 * 1024 + 1 - len(PNG)))
        assert just_over.status_code == 413 and error(just_over)["code"] == "too_large"
        assert await counts(d) == before and stored_files(d) == files_before

        # Any reader downloads it: its sniffed type, never sniffed again by the browser, sandboxed.
        got = await csr.get(f"{path}/attachments/{attachment_id}")
        assert got.status_code == 200 and got.content == PNG
        assert got.headers["content-type"] == "image/png"
        assert got.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in got.headers["content-security-policy"]
        assert got.headers["content-disposition"].startswith("inline") and "screenshot.png" in \
            got.headers["content-disposition"]
        assert (await csr.get(f"{path}/attachments/99999999")).status_code == 404
        assert (await csr.get(f"{path}/attachments/x")).status_code == 404
        # A file staff attached to the order is internal: the customer's link does not serve it.
        async with httpx.AsyncClient(base_url=d.server.url) as customer:
            hidden = await customer.get(f"/requests/{await token(d, order['id'])}/attachments/{attachment_id}")
        assert hidden.status_code == 404 and hidden.content != PNG
    rows = await fetch(d, "SELECT storage_key, sha256, size FROM work_order_attachment WHERE work_order_id = ?",
                       order["id"])
    assert len(rows) == 1 and rows[0]["storage_key"] in stored_files(d)
    assert (Path(d.env["DATA_DIR"]) / "attachments" / rows[0]["storage_key"]).read_bytes() == PNG


async def test_a_pdf_is_a_download_never_shown_inline(floor):
    d, t = floor, tag()
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    async with staff(d, "boss@example.com") as boss:
        order = await boss.create(site_id=await site_id(d), subject=f"PDF {t}")
        kept = await boss.upload(order["id"], "invoice.pdf", pdf, "application/pdf")
        assert kept.status_code == 201, kept.text
        got = await boss.get(f"/api/work-orders/{order['id']}/attachments/{kept.json()['attachment_id']}")
    assert got.status_code == 200 and got.content == pdf
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["content-disposition"].startswith("attachment")
    assert got.headers["x-content-type-options"] == "nosniff"


# -- the customer's link ---------------------------------------------------------------------------

async def test_the_customers_link_shows_the_public_thread_and_takes_their_replies(floor):
    d, t = floor, tag()
    hedy = await person(d, t, "Hedy")
    async with staff(d, "boss@example.com") as boss, staff(d, hedy, 1) as hedy_web:
        order = await boss.create(site_id=await site_id(d), subject=f"Link {t}", customer_name="Rita",
                                  customer_email=f"r-{t}@example.org", handler_id=d.users[hedy]["id"])
        path = f"/api/work-orders/{order['id']}"
        secret = await token(d, order["id"])
        link = f"/requests/{secret}"
        await hedy_web.post(f"{path}/posts", {"kind": "note", "body": f"SECRET-NOTE-{t}"})
        await hedy_web.post(f"{path}/posts", {"kind": "reply", "body": f"Could you send a photo? {t}"})
        assert (await hedy_web.post(f"{path}/status", {"status": "waiting"})).status_code == 200

        async with httpx.AsyncClient(base_url=d.servers[-1].url, follow_redirects=False) as customer:
            page = await customer.get(link)
            assert page.status_code == 200, page.text
            text = html.unescape(page.text)
            assert order["number"] in text and f"Link {t}" in text and f"Could you send a photo? {t}" in text
            assert f"SECRET-NOTE-{t}" not in text
            assert "hedy-" not in text  # no staff address

            # Their reply: in the thread, and the order waiting for them is worked on again.
            sent = await customer.post(link, data={"body": f"Here it is {t}"})
            assert sent.status_code == 303 and sent.headers["location"] == f"{link}?sent=1"
            got = await hedy_web.order(order["id"])
            assert got["status"] == "in_progress"
            assert [(e["kind"], e["via"], e["author"]) for e in got["entries"]][-1] == ("customer", "link", "Rita")
            assert f"Here it is {t}" in html.unescape((await customer.get(link)).text)

            # With a photo: kept as the customer's.
            sent = await customer.post(link, data={"body": "And the box"}, files={"file": ("box.png", PNG, "image/png")})
            assert sent.status_code == 303, sent.text
            [photo] = (await hedy_web.order(order["id"]))["attachments"]
            assert (photo["filename"], photo["by_customer"]) == ("box.png", True)
            shown = await customer.get(f"{link}/attachments/{photo['id']}")
            assert shown.status_code == 200 and shown.content == PNG and shown.headers["x-content-type-options"] == "nosniff"

            empty = await customer.post(link, data={"body": "   "})
            assert empty.status_code == 400

            # A resolved order is reopened by their reply; a closed one refuses it.
            assert (await hedy_web.post(f"{path}/status", {"status": "resolved"})).status_code == 200
            assert (await customer.post(link, data={"body": f"Still broken {t}"})).status_code == 303
            got = await hedy_web.order(order["id"])
            assert (got["status"], got["reopen_count"], got["resolved_at"]) == ("assigned", 1, None)
            assert (await hedy_web.post(f"{path}/status", {"status": "resolved"})).status_code == 200
            assert (await hedy_web.post(f"{path}/status", {"status": "closed"})).status_code == 200
            before = await counts(d)
            refused = await customer.post(link, data={"body": "Hello?"})
            assert refused.status_code == 409 and "closed" in refused.text
            assert await counts(d) == before
    events = await events_of(d, order["id"])
    customer_events = [e for e in events if e["actor_id"] is None]
    assert [(e["kind"], e["data"].get("status") or e["data"].get("by")) for e in customer_events] == [
        ("customer_replied", None), ("status", "in_progress"), ("customer_replied", None), ("attached", None),
        ("customer_replied", None), ("reopened", "customer")]


# -- bulk assignment -------------------------------------------------------------------------------

async def test_bulk_assign_dispatches_what_it_may_and_reports_the_rest(floor):
    d, t = floor, tag()
    hal = await person(d, t, "Hal", "handler")
    team = await new_team(d, f"Bulk {t}", [d.users[hal]["id"]])
    async with staff(d, "boss@example.com") as boss:
        site = await site_id(d)
        first = await boss.create(site_id=site, subject=f"Bulk 1 {t}")
        second = await boss.create(site_id=site, subject=f"Bulk 2 {t}")
        done = await boss.create(site_id=site, subject=f"Bulk 3 {t}")
        assert (await boss.post(f"/api/work-orders/{done['id']}/status", {"status": "resolved"})).status_code == 200

        before = await counts(d)
        for bad, field in (({"ids": [first["id"]], "team_id": 99_999_999}, "team_id"),
                           ({"ids": [first["id"]], "handler_id": d.users["marketer@example.com"]["id"]}, "handler_id"),
                           ({"ids": [first["id"]]}, "team_id"),
                           ({"ids": [], "team_id": team}, "ids"), ({"ids": "1,2", "team_id": team}, "ids"),
                           ({"ids": [True], "team_id": team}, "ids"), ({"ids": list(range(1, 202)), "team_id": team}, "ids")):
            refused = await boss.post("/api/work-orders/bulk-assign", bad)
            assert refused.status_code == 400 and error(refused)["field"] == field, (bad, refused.text)
        assert await counts(d) == before

        result = await boss.post("/api/work-orders/bulk-assign", {
            "ids": [first["id"], 99_999_999, done["id"], second["id"]], "team_id": team,
            "handler_id": d.users[hal]["id"]})
        assert result.status_code == 200, result.text
        body = result.json()
        assert body["done"] == [first["id"], second["id"]]
        assert [(r["id"], r["code"]) for r in body["refused"]] == [(99_999_999, "not_found"), (done["id"], "invalid_state")]
        for order in (first, second):
            got = await boss.order(order["id"])
            assert (got["status"], got["team_id"], got["handler_id"]) == ("assigned", team, d.users[hal]["id"])
