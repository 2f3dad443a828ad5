"""The canned responses' JSON API (app/web/canned.py, app/services/canned.py) through real servers:
SQLite with one process, and — for what concurrency could break (duplicate shortcuts saved at the
same moment, uses counted at once on two workers) — PostgreSQL + Redis with two.

Who uses and writes each scope (personal: its owner; department: the department's supervisors and
admins, used by its members; global: admins, used by every chat staff member), another user's
personal response and another department's (404, as if they did not exist), marketers and
back-office handlers (403), sign-in and CSRF; the checks of what is saved (types, missing fields,
a 5,000-character body, duplicate shortcuts per scope owner, a 64 KiB request) with nothing stored
when refused; and `use`: the text filled from a real chat's visitor, CSR and site, the fallback for
a visitor with no name, a conversation the CSR may not read, `usage_count` and the `canned_used`
event.

The deployments are this module's own; every test makes its own users, departments, responses
(their shortcuts carry the test's tag) and conversations.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from app.clock import utcnow
from app.models import Conversation, Visitor
from app.services import admin, sites
from tests.integration.test_work_orders_api import error, in_process, person, site_id, staff, tag
from tests.support import clients
from tests.support.clients import new_id
from tests.support.db import fetch
from tests.support.server import deploy

WAIT = 30.0


@pytest.fixture(scope="module")
def site():
    """SQLite, one server: this module's own."""
    d = deploy(database_url=None, redis_url=None, processes=1)
    yield d
    d.stop()


@pytest.fixture(params=["sqlite", "postgres+redis x2"], scope="module")
def floor(request, site):
    """The module's SQLite server, and PostgreSQL + Redis with two workers (this module's own)."""
    if request.param == "sqlite":
        yield site
        return
    d = deploy(database_url=request.getfixturevalue("new_postgres_database")(),
               redis_url=request.getfixturevalue("redis_url"), processes=2)
    yield d
    d.stop()


# -- helpers ---------------------------------------------------------------------------------------

async def department(d, name: str, members: list[str], site_key: str | None = None) -> int:
    async def make() -> int:
        return (await admin.create_department(site_key or d.site_key, name, members)).id
    return await in_process(d, make)


async def other_site(d, name: str) -> tuple[int, str]:
    async def make() -> tuple[int, str]:
        made = await sites.create_site(name, [d.origin])
        return made.id, made.key
    return await in_process(d, make)


async def past_conversation(d, site: int, department_id: int | None = None, *, name: str | None = None) -> int:
    """A closed conversation (and its visitor, named `name`) of `site`'s queue `department_id`: what
    a chat leaves behind. Its rows are written here; `use` only reads them."""
    async def make() -> int:
        now = utcnow()
        visitor = await Visitor.create(id=new_id()[:24], site_id=site, first_seen=now, last_seen=now, visit_count=1,
                                       name=name, attributes={})
        conversation = await Conversation.create(site_id=site, visitor_id=visitor.id, department_id=department_id,
                                                 status="closed", requested_at=now, closed_at=now, closed_by="visitor")
        return conversation.id
    return await in_process(d, make)


async def rows(d, sql: str = "SELECT count(*) AS n FROM kb_canned_response", *args) -> int:
    return (await fetch(d, sql, *args))[0]["n"]


async def canned_row(d, response_id: int) -> dict:
    return (await fetch(d, "SELECT * FROM kb_canned_response WHERE id = ?", response_id))[0]


async def events(d, response_id: int) -> list[dict]:
    found = await fetch(d, "SELECT kind, canned_id, user_id, conversation_id, site_id, source FROM kb_event "
                           "WHERE canned_id = ? ORDER BY id", response_id)
    return found


async def create(who, **values) -> dict:
    made = await who.post("/api/canned", values)
    assert made.status_code == 201, made.text
    return made.json()["response"]


async def listed(who, manage: bool = False) -> dict[str, dict]:
    """The responses `who` gets from GET /api/canned, by shortcut (scope-qualified when two share one)."""
    got = await (who.get("/api/canned", manage="1") if manage else who.get("/api/canned"))
    assert got.status_code == 200, got.text
    out = {}
    for r in got.json()["responses"]:
        key = r["shortcut"] if r["shortcut"] not in out else f"{r['scope']}:{r['shortcut']}"
        out[key] = r
    return out


def refused(response, status: int, code: str, field: str | None = None) -> dict:
    assert response.status_code == status, response.text
    found = error(response)
    assert found["code"] == code, found
    assert found["message"], found
    if field is not None:
        assert found.get("field") == field, found
    return found


# -- personal responses ----------------------------------------------------------------------------

async def test_a_csr_writes_their_own_personal_responses_and_nobody_else_reaches_them(site):
    d, t = site, tag()
    gina, olga = await person(d, t, "Gina"), await person(d, t, "Olga")
    ada = await person(d, t, "Ada", "admin")
    async with staff(d, gina) as g, staff(d, olga) as o, staff(d, ada) as a:
        made = await create(g, shortcut=f"/hi-{t}", title="Greeting", body="Hi {visitor.name}, I'm {agent.name}.")
        assert made == {"id": made["id"], "scope": "personal", "shortcut": f"hi-{t}", "title": "Greeting",
                        "body": "Hi {visitor.name}, I'm {agent.name}.", "usage_count": 0, "department": None,
                        "usable": True, "editable": True, "variables": ["visitor.name", "agent.name"]}
        row = await canned_row(d, made["id"])
        assert (row["scope"], row["owner_id"], row["department_id"], row["created_by_id"], row["shortcut"]) == \
            ("personal", g.id, None, g.id, f"hi-{t}")
        assert f"hi-{t}" in await listed(g)

        # An edit changes only the fields it names.
        edited = await g.post(f"/api/canned/{made['id']}", {"title": "Hello"})
        assert edited.status_code == 200, edited.text
        assert (edited.json()["response"]["title"], edited.json()["response"]["body"]) == ("Hello", made["body"])

        # Another CSR, even an admin: as if it did not exist.
        for other in (o, a):
            assert f"hi-{t}" not in await listed(other)
            assert f"hi-{t}" not in await listed(other, manage=True)
            refused(await other.post(f"/api/canned/{made['id']}", {"title": "Mine now"}), 404, "not_found")
            refused(await other.post(f"/api/canned/{made['id']}/delete"), 404, "not_found")
        assert (await canned_row(d, made["id"]))["title"] == "Hello"

        # The same shortcut is another user's to take; not twice for the same user, whatever its case.
        assert (await create(o, shortcut=f"hi-{t}", body="Olga's"))["shortcut"] == f"hi-{t}"
        refused(await g.post("/api/canned", {"shortcut": f"HI-{t}", "body": "again"}), 409, "conflict", "shortcut")
        other = await create(g, shortcut=f"bye-{t}", body="Bye")
        refused(await g.post(f"/api/canned/{other['id']}", {"shortcut": f"/Hi-{t}"}), 409, "conflict", "shortcut")
        # Its own shortcut, saved again: no conflict with itself.
        assert (await g.post(f"/api/canned/{made['id']}", {"shortcut": f"HI-{t}"})).status_code == 200

        # Deleted: gone, and a second delete finds nothing.
        assert (await g.post(f"/api/canned/{made['id']}/delete")).status_code == 200
        assert f"hi-{t}" not in await listed(g)
        assert await rows(d, "SELECT count(*) AS n FROM kb_canned_response WHERE id = ?", made["id"]) == 0
        refused(await g.post(f"/api/canned/{made['id']}/delete"), 404, "not_found")
        refused(await g.post(f"/api/canned/{made['id']}", {"title": "x"}), 404, "not_found")


async def test_the_list_is_ordered_by_shortcut_and_carries_what_the_pages_need(site):
    d, t = site, tag()
    sam = await person(d, t, "Sam", "supervisor")
    team = await department(d, f"Billing {t}", [sam])
    async with staff(d, sam) as s:
        for shortcut in ("c", "a", "b"):
            await create(s, shortcut=f"{t}-{shortcut}", body=shortcut)
        got = await s.get("/api/canned")
        body = got.json()
        assert got.headers["cache-control"] == "no-store"
        mine = [r["shortcut"] for r in body["responses"] if r["shortcut"].startswith(t)]
        assert mine == [f"{t}-a", f"{t}-b", f"{t}-c"]
        assert body["may"] == {"personal": True, "department": True, "global": False}
        assert [dep for dep in body["departments"] if dep["id"] == team] == \
            [{"id": team, "name": f"Billing {t}", "site": "Test shop"}]
        assert [v["name"] for v in body["variables"]] == ["{visitor.name}", "{agent.name}", "{site.name}"]


# -- department and global responses ---------------------------------------------------------------

async def test_department_responses_are_written_by_its_supervisors_and_admins_and_used_by_its_members(site):
    d, t = site, tag()
    sam, sue = await person(d, t, "Sam", "supervisor"), await person(d, t, "Sue", "supervisor")
    cleo, carl = await person(d, t, "Cleo"), await person(d, t, "Carl")
    ada = await person(d, t, "Ada", "admin")
    billing = await department(d, f"Billing {t}", [sam, cleo])
    shipping = await department(d, f"Shipping {t}", [sue, carl])
    async with staff(d, sam) as s, staff(d, sue) as u, staff(d, cleo) as c, staff(d, carl) as k, \
            staff(d, ada) as a:
        made = await create(s, shortcut=f"refund-{t}", title="Refunds", body="Within 5 days.", scope="department",
                            department_id=billing)
        assert made["department"] == {"id": billing, "name": f"Billing {t}", "site": "Test shop"}
        assert (made["scope"], made["editable"]) == ("department", True)
        assert (await canned_row(d, made["id"]))["owner_id"] is None

        # A member CSR uses it, may not change it.
        seen = (await listed(c))[f"refund-{t}"]
        assert (seen["usable"], seen["editable"]) == (True, False)
        refused(await c.post(f"/api/canned/{made['id']}", {"body": "Changed"}), 403, "forbidden")
        refused(await c.post(f"/api/canned/{made['id']}/delete"), 403, "forbidden")
        refused(await c.post("/api/canned", {"shortcut": f"x-{t}", "body": "x", "scope": "department",
                                             "department_id": billing}), 403, "forbidden", "department_id")

        # Another department's people: not theirs to see, use or write.
        for outsider in (u, k):
            assert f"refund-{t}" not in await listed(outsider)
            refused(await outsider.post(f"/api/canned/{made['id']}", {"body": "Changed"}), 404, "not_found")
        refused(await u.post("/api/canned", {"shortcut": f"x-{t}", "body": "x", "scope": "department",
                                             "department_id": billing}), 403, "forbidden", "department_id")
        # … nor moved into another department by its own supervisor.
        refused(await s.post(f"/api/canned/{made['id']}", {"department_id": shipping}), 403, "forbidden",
                "department_id")

        # Unique per department: the other department may have its own /refund-<t>.
        refused(await s.post("/api/canned", {"shortcut": f"Refund-{t}", "body": "x", "scope": "department",
                                             "department_id": billing}), 409, "conflict", "shortcut")
        theirs = await create(u, shortcut=f"refund-{t}", body="Shipping's", scope="department", department_id=shipping)
        assert (await listed(k))[f"refund-{t}"]["id"] == theirs["id"]

        # An admin writes any department's responses; the list to use holds only their departments',
        # the page's list (manage=1) every department's.
        by_admin = await create(a, shortcut=f"late-{t}", body="Sorry", scope="department", department_id=shipping)
        assert f"late-{t}" not in await listed(a)
        managed = await listed(a, manage=True)
        assert (managed[f"late-{t}"]["usable"], managed[f"late-{t}"]["editable"]) == (False, True)
        assert managed[f"refund-{t}"]["editable"] is True
        assert (await a.post(f"/api/canned/{made['id']}", {"body": "Within 3 days."})).status_code == 200
        assert (await listed(c))[f"refund-{t}"]["body"] == "Within 3 days."
        assert (await a.post(f"/api/canned/{by_admin['id']}/delete")).status_code == 200

        # A supervisor's own department response may become personal (theirs) again.
        moved = await s.post(f"/api/canned/{made['id']}", {"scope": "personal"})
        assert moved.status_code == 200, moved.text
        assert (moved.json()["response"]["scope"], moved.json()["response"]["department"]) == ("personal", None)
        assert f"refund-{t}" not in await listed(c)
        assert (await canned_row(d, made["id"]))["owner_id"] == s.id


async def test_global_responses_are_written_by_admins_and_used_by_every_chat_staff_member(site):
    d, t = site, tag()
    ada, sam, cleo = await person(d, t, "Ada", "admin"), await person(d, t, "Sam", "supervisor"), await person(d, t, "Cleo")
    async with staff(d, ada) as a, staff(d, sam) as s, staff(d, cleo) as c:
        made = await create(a, shortcut=f"hours-{t}", title="Opening hours", body="We answer 9–17.", scope="global")
        assert (made["scope"], made["department"]) == ("global", None)
        for user in (s, c):
            seen = (await listed(user))[f"hours-{t}"]
            assert (seen["usable"], seen["editable"]) == (True, False)
            refused(await user.post(f"/api/canned/{made['id']}", {"body": "x"}), 403, "forbidden")
            refused(await user.post(f"/api/canned/{made['id']}/delete"), 403, "forbidden")
            refused(await user.post("/api/canned", {"shortcut": f"g-{t}", "body": "x", "scope": "global"}), 403,
                    "forbidden", "scope")
            # Their own personal response may move to global only through an admin: refused.
            mine = await create(user, shortcut=f"p-{t}-{user.id}", body="mine")
            refused(await user.post(f"/api/canned/{mine['id']}", {"scope": "global"}), 403, "forbidden", "scope")
        refused(await a.post("/api/canned", {"shortcut": f"HOURS-{t}", "body": "x", "scope": "global"}), 409, "conflict",
                "shortcut")
        # A personal response may share a global one's shortcut: both are listed.
        await create(c, shortcut=f"hours-{t}", body="My hours")
        both = [r for r in (await c.get("/api/canned")).json()["responses"] if r["shortcut"] == f"hours-{t}"]
        assert sorted(r["scope"] for r in both) == ["global", "personal"]


# -- who may call at all ---------------------------------------------------------------------------

async def test_marketers_handlers_the_signed_out_and_posts_without_the_csrf_token_are_refused(site):
    d, t = site, tag()
    hal = await person(d, t, "Hal", "handler")
    gina = await person(d, t, "Gina")
    async with staff(d, gina) as g:
        made = await create(g, shortcut=f"mine-{t}", body="Mine")
        conversation = await past_conversation(d, await site_id(d))
        calls = [("GET", "/api/canned", None), ("POST", "/api/canned", {"shortcut": f"m-{t}", "body": "x"}),
                 ("POST", f"/api/canned/{made['id']}", {"body": "x"}), ("POST", f"/api/canned/{made['id']}/delete", {}),
                 ("POST", f"/api/canned/{made['id']}/use", {"conversation_id": conversation})]
        for email in ("marketer@example.com", hal):
            async with staff(d, email) as who:
                for method, path, body in calls:
                    got = await (who.get(path) if method == "GET" else who.post(path, body))
                    refused(got, 403, "forbidden")
                page = await who.get("/canned")
                assert page.status_code == 403
        for method, path, body in calls[1:]:
            refused(await g.post(path, body, csrf=False), 403, "csrf")
            refused(await g.post(path, body, csrf="not-the-token"), 403, "csrf")
        async with httpx.AsyncClient(base_url=d.server.url) as anonymous:
            refused(await anonymous.get("/api/canned"), 401, "unauthorized")
            refused(await anonymous.post("/api/canned", json={"shortcut": "x", "body": "x"}), 401, "unauthorized")
            assert (await anonymous.get("/canned")).status_code in (302, 303)
        assert (await canned_row(d, made["id"]))["body"] == "Mine"
        assert await rows(d, "SELECT count(*) AS n FROM kb_canned_response WHERE shortcut = ?", f"m-{t}") == 0
        assert (await canned_row(d, made["id"]))["usage_count"] == 0

        # The page itself, for chat staff: the bundle, a strict CSP, no inline script.
        page = await g.get("/canned")
        assert page.status_code == 200
        assert '<script src="/static/canned.js"' in page.text
        assert "script-src 'self'" in page.headers.get("content-security-policy", "")
        assert "<script>" not in page.text


# -- what is saved ---------------------------------------------------------------------------------

async def test_bad_input_is_refused_with_its_field_and_nothing_is_stored(site):
    d, t = site, tag()
    sam = await person(d, t, "Sam", "supervisor")
    await department(d, f"Billing {t}", [sam])
    async with staff(d, sam) as s:
        before = await rows(d)
        cases = [
            ({"body": "no shortcut"}, "shortcut"),
            ({"shortcut": f"x-{t}"}, "body"),
            ({"shortcut": f"x-{t}", "body": ""}, "body"),
            ({"shortcut": f"x-{t}", "body": "   \n "}, "body"),
            ({"shortcut": "", "body": "x"}, "shortcut"),
            ({"shortcut": "/", "body": "x"}, "shortcut"),
            ({"shortcut": 5, "body": "x"}, "shortcut"),
            ({"shortcut": None, "body": "x"}, "shortcut"),
            ({"shortcut": ["x"], "body": "x"}, "shortcut"),
            ({"shortcut": "two words", "body": "x"}, "shortcut"),
            ({"shortcut": "ré", "body": "x"}, "shortcut"),
            ({"shortcut": "x" * 41, "body": "x"}, "shortcut"),
            ({"shortcut": f"x-{t}", "body": {"text": "x"}}, "body"),
            ({"shortcut": f"x-{t}", "body": 42}, "body"),
            ({"shortcut": f"x-{t}", "body": "x" * 5001}, "body"),
            ({"shortcut": f"x-{t}", "body": "x", "title": "t" * 101}, "title"),
            ({"shortcut": f"x-{t}", "body": "x", "title": ["t"]}, "title"),
            ({"shortcut": f"x-{t}", "body": "x", "scope": "team"}, "scope"),
            ({"shortcut": f"x-{t}", "body": "x", "scope": None}, "scope"),
            ({"shortcut": f"x-{t}", "body": "x", "scope": "department"}, "department_id"),
            ({"shortcut": f"x-{t}", "body": "x", "scope": "department", "department_id": "1"}, "department_id"),
            ({"shortcut": f"x-{t}", "body": "x", "scope": "department", "department_id": 1.5}, "department_id"),
            ({"shortcut": f"x-{t}", "body": "x", "scope": "department", "department_id": True}, "department_id"),
            ({"shortcut": f"x-{t}", "body": "x", "scope": "department", "department_id": 2**40}, "department_id"),
            ({"shortcut": f"x-{t}", "body": "x", "scope": "department", "department_id": 999999}, "department_id"),
            ({"shortcut": f"x-{t}", "body": "x", "scope": "personal", "department_id": 1}, "department_id"),
        ]
        for values, field in cases:
            refused(await s.post("/api/canned", values), 400, "bad_request", field)
        # Not a JSON object, not JSON, nested too deep, larger than 64 KiB.
        for content in ("[]", '"x"', "{", "NaN", '{"shortcut": "a", "body": "b", "x": ' + "[" * 50 + "]" * 50 + "}"):
            refused(await s.post("/api/canned", content=content), 400, "bad_request")
        big = json.dumps({"shortcut": f"x-{t}", "body": "x" * 70_000})
        refused(await s.post("/api/canned", content=big), 413, "too_large")
        assert await rows(d) == before

        # The limits themselves are taken: a 5,000-character body (Chinese too), a 100-character title,
        # a 40-character shortcut; text is kept as text.
        longest = await create(s, shortcut="y" * 36 + t[:4], title="t" * 100, body="退" * 5000)
        assert (len(longest["body"]), len(longest["title"]), len(longest["shortcut"])) == (5000, 100, 40)
        markup = await create(s, shortcut=f"m-{t}", body="<script>alert(1)</script> {visitor.name}")
        assert markup["body"] == "<script>alert(1)</script> {visitor.name}"

        # An edit is checked the same way, and a refused edit changes nothing.
        for values, field in [({"body": "x" * 5001}, "body"), ({"shortcut": "a b"}, "shortcut"),
                              ({"title": 5}, "title"), ({"scope": "everyone"}, "scope"), ({"body": ""}, "body")]:
            refused(await s.post(f"/api/canned/{markup['id']}", values), 400, "bad_request", field)
        assert (await canned_row(d, markup["id"]))["body"] == markup["body"]
        for path in ("/api/canned/abc", "/api/canned/-1", "/api/canned/0", "/api/canned/99999999999",
                     "/api/canned/1e3"):
            refused(await s.post(path, {"body": "x"}), 404, "not_found")
            refused(await s.post(path + "/delete"), 404, "not_found")


async def test_duplicate_shortcuts_saved_at_the_same_moment_are_taken_once(floor):
    d, t = floor, tag()
    ada = await person(d, t, "Ada", "admin")
    async with staff(d, ada, 0) as one, staff(d, ada, 1) as two:
        made = await asyncio.gather(*((one if i % 2 else two).post(
            "/api/canned", {"shortcut": f"race-{t}", "body": f"Try {i}", "scope": "global"}) for i in range(10)))
        assert sorted(m.status_code for m in made) == [201] + [409] * 9, [m.text for m in made]
        personal = await asyncio.gather(*((one if i % 2 else two).post(
            "/api/canned", {"shortcut": f"Race-{t}", "body": f"Mine {i}"}) for i in range(6)))
        assert sorted(m.status_code for m in personal) == [201] + [409] * 5, [m.text for m in personal]
    assert await rows(d, "SELECT count(*) AS n FROM kb_canned_response WHERE lower(shortcut) = ?", f"race-{t}") == 2


# -- using one ---------------------------------------------------------------------------------------

async def test_using_a_response_in_a_real_chat_fills_it_counts_it_and_records_it(floor):
    d, t = floor, tag()
    csr = await person(d, t, "Gina")
    agent = await clients.agent(d.servers[-1].url, csr, d.password)
    visitor = await clients.visitor(d.servers[0].url, d.site_key, d.origin)
    try:
        assert (await agent.call("set_status", {"status": "available"}))["ok"]
        sent = await visitor.call("message", {"client_id": new_id(), "body": f"Where is my parcel {t}?",
                                              "name": f"Vera {t}"})
        assert sent["ok"], sent
        conversation_id = sent["conversation_id"]
        await agent.rec.wait_for("conversation.assigned", lambda c: c["id"] == conversation_id, timeout=WAIT)

        async with staff(d, csr, 0) as g, staff(d, csr, 1) as g2:
            made = await create(g, shortcut=f"hi-{t}",
                                body="Hi {visitor.name}, this is {agent.name} from {site.name}. {order.id}?")
            messages = "SELECT count(*) AS n FROM message WHERE conversation_id = ?"
            before = await rows(d, messages, conversation_id)
            used = await g2.post(f"/api/canned/{made['id']}/use", {"conversation_id": conversation_id})
            assert used.status_code == 200, used.text
            assert used.json() == {"ok": True, "id": made["id"], "shortcut": f"hi-{t}",
                                   "text": f"Hi Vera {t}, this is Gina {t} from Test shop. {{order.id}}?"}
            # Using is not sending: the chat holds no new message.
            assert await rows(d, messages, conversation_id) == before
            assert (await canned_row(d, made["id"]))["usage_count"] == 1
            assert await events(d, made["id"]) == [{
                "kind": "canned_used", "canned_id": made["id"], "user_id": g.id, "conversation_id": conversation_id,
                "site_id": await site_id(d), "source": "console"}]

            # Counted exactly when used at once on every worker.
            many = await asyncio.gather(*((g if i % 2 else g2).post(f"/api/canned/{made['id']}/use",
                                                                    {"conversation_id": conversation_id})
                                          for i in range(12)))
            assert [m.status_code for m in many] == [200] * 12
            assert (await canned_row(d, made["id"]))["usage_count"] == 13
            assert len(await events(d, made["id"])) == 13
            assert (await listed(g))[f"hi-{t}"]["usage_count"] == 13
    finally:
        await clients.sign_off(agent)
        await visitor.disconnect()
        await agent.disconnect()


async def test_a_visitor_with_no_name_is_greeted_with_the_fallback(site):
    d, t = site, tag()
    gina, ada = await person(d, t, "Gina"), await person(d, t, "Ada", "admin")
    conversation = await past_conversation(d, await site_id(d), name=None)
    blank = await past_conversation(d, await site_id(d), name="   ")
    async with staff(d, ada) as a, staff(d, gina) as g:
        made = await create(a, shortcut=f"hello-{t}", body="Hi {visitor.name}, {agent.name} of {site.name} here.",
                            scope="global")
        for conversation_id in (conversation, blank):
            used = await g.post(f"/api/canned/{made['id']}/use", {"conversation_id": conversation_id})
            assert used.status_code == 200, used.text
            assert used.json()["text"] == f"Hi there, Gina {t} of Test shop here."


async def test_use_is_refused_for_a_conversation_out_of_reach_and_for_bad_ids(site):
    d, t = site, tag()
    gina, olga = await person(d, t, "Gina"), await person(d, t, "Olga")
    await department(d, f"Home {t}", [gina])
    far_site, far_key = await other_site(d, f"Far shop {t}")
    far_department = await department(d, f"Far {t}", [], far_key)
    far = await past_conversation(d, far_site, far_department, name="Faye")
    home = await past_conversation(d, await site_id(d), name="Hugo")
    async with staff(d, gina) as g, staff(d, olga) as o:
        mine = await create(g, shortcut=f"hi-{t}", body="Hi {visitor.name}")
        olgas = await create(o, shortcut=f"hi-{t}", body="Olga's")
        cases = [
            (f"/api/canned/{mine['id']}/use", {"conversation_id": far}, 404, "not_found", None),  # another site's chat
            (f"/api/canned/{mine['id']}/use", {"conversation_id": 2**31 + 5}, 404, "not_found", None),
            (f"/api/canned/{mine['id']}/use", {"conversation_id": -3}, 404, "not_found", None),
            (f"/api/canned/{mine['id']}/use", {"conversation_id": 2**70}, 404, "not_found", None),
            (f"/api/canned/{mine['id']}/use", {}, 400, "bad_request", "conversation_id"),
            (f"/api/canned/{mine['id']}/use", {"conversation_id": None}, 400, "bad_request", "conversation_id"),
            (f"/api/canned/{mine['id']}/use", {"conversation_id": str(home)}, 400, "bad_request", "conversation_id"),
            (f"/api/canned/{mine['id']}/use", {"conversation_id": float(home)}, 400, "bad_request", "conversation_id"),
            (f"/api/canned/{mine['id']}/use", {"conversation_id": True}, 400, "bad_request", "conversation_id"),
            (f"/api/canned/{mine['id']}/use", {"conversation_id": [home]}, 400, "bad_request", "conversation_id"),
            (f"/api/canned/{olgas['id']}/use", {"conversation_id": home}, 404, "not_found", None),  # Olga's own
            ("/api/canned/99999999/use", {"conversation_id": home}, 404, "not_found", None),
            ("/api/canned/abc/use", {"conversation_id": home}, 404, "not_found", None),
        ]
        for path, body, status, code, field in cases:
            refused(await g.post(path, body), status, code, field)
        refused(await g.post(f"/api/canned/{mine['id']}/use", content="[1]"), 400, "bad_request")
        assert "conversation" in refused(await g.post(f"/api/canned/{mine['id']}/use", {"conversation_id": far}),
                                         404, "not_found")["message"].lower()
        # Nothing counted, nothing recorded.
        for response in (mine, olgas):
            assert (await canned_row(d, response["id"]))["usage_count"] == 0
            assert await events(d, response["id"]) == []
        # The chat of their own site's general queue is theirs to read.
        used = await g.post(f"/api/canned/{mine['id']}/use", {"conversation_id": home})
        assert (used.status_code, used.json()["text"]) == (200, "Hi Hugo")
