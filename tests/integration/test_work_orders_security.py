"""Work orders under attack, through real servers (SQLite; PostgreSQL + Redis with two workers):
who reads and who acts (app/services/workorders.py `reach` and `may`), the customer's token, CSRF,
and bad input on every POST endpoint.

- A customer's token opens its own order only: another order's id under its MAC, a changed MAC, a
  deleted order's token, a revoked one, garbage and overlong tokens are 404 with nothing of any order.
- A CSR of another site neither reads (404) nor acts on an order, nor starts one from another
  site's chat; a CSR outside the handling team may note and urge but not handle, reply or give
  feedback (403); a marketer is refused everywhere (403), a signed-out browser too (401); a
  missing or wrong CSRF token is refused (403) with nothing stored; back-office staff read exactly
  their teams' orders and their own.
- Bad input (wrong JSON types, missing fields, non-JSON, oversize, unknown ids, a handler not in the
  team, a move the workflow refuses, a non-numeric id) gets an error with its `code` (and `field`)
  and stores nothing: the work-order tables, the mail outbox and the attachments folder are
  counted before and after.

The deployments are this module's own; no SLA policy is set here, so no timer writes meanwhile.
"""

from __future__ import annotations

import json

import httpx
import pytest

from app.models import WorkOrder
from tests.integration.test_work_orders_api import (
    HTML,
    PNG,
    SVG,
    counts,
    error,
    in_process,
    new_category,
    new_team,
    person,
    site_id,
    staff,
    stored_files,
    tag,
    token,
)
from tests.support import clients
from tests.support.clients import new_id
from tests.support.db import fetch
from tests.support.server import Deployment, cli, deploy

ENV = {"VISITOR_ABANDON_GRACE_SECONDS": "5"}


@pytest.fixture(scope="module")
def site():
    d = deploy(database_url=None, redis_url=None, processes=1, extra_env=ENV)
    yield d
    d.stop()


@pytest.fixture(params=["sqlite", "postgres+redis x2"], scope="module")
def floor(request, site):
    if request.param == "sqlite":
        yield site
        return
    d = deploy(database_url=request.getfixturevalue("new_postgres_database")(),
               redis_url=request.getfixturevalue("redis_url"), processes=2, extra_env=ENV)
    yield d
    d.stop()


def second_site(d: Deployment, t: str) -> dict:
    return json.loads(cli(d.env, "create-site", "--name", f"Other shop {t}", "--origin", d.origin, "--json"))


def department(d: Deployment, site_key: str, name: str, *members: str) -> int:
    args = [arg for m in members for arg in ("--member", m)]
    return json.loads(cli(d.env, "create-department", "--site", site_key, "--name", name, *args, "--json"))["id"]


def nothing_of(response: httpx.Response, *orders: dict) -> None:
    """A refusal that gives nothing away: none of these orders' numbers, subjects or customers."""
    for order in orders:
        for secret in (order["number"], order["subject"], order["customer"]["email"] or order["number"]):
            assert secret not in response.text, (secret, response.text[:300])


def every_post(order_id: int | str, callback_id: int | str = 1, attachment_id: int | str = 1) -> list[tuple[str, dict]]:
    """Every staff POST endpoint, with a body that would be valid for someone allowed."""
    o = order_id
    return [
        ("/api/work-orders", {"site_id": 1, "subject": "Probe"}),
        (f"/api/work-orders/{o}", {"priority": "high"}),
        (f"/api/work-orders/{o}/dispatch", {"team_id": 1}),
        (f"/api/work-orders/{o}/status", {"status": "in_progress"}),
        (f"/api/work-orders/{o}/posts", {"kind": "note", "body": "Probe"}),
        (f"/api/work-orders/{o}/urge", {}),
        (f"/api/work-orders/{o}/watchers", {"user_id": 1}),
        (f"/api/work-orders/{o}/callbacks", {"assignee_id": 1, "due_at": "2031-01-01T10:00:00+00:00"}),
        (f"/api/work-orders/callbacks/{callback_id}", {"outcome": "reached"}),
        ("/api/work-orders/bulk-assign", {"ids": [o] if isinstance(o, int) else [1], "team_id": 1}),
    ]


def every_get(order_id: int | str, attachment_id: int | str = 1) -> list[str]:
    o = order_id
    return ["/api/work-orders", f"/api/work-orders/{o}", "/api/work-orders/options",
            "/api/work-orders/draft?conversation_id=1", f"/api/work-orders/{o}/attachments/{attachment_id}",
            "/api/visitors/abc/work-orders"]


# -- the customer's token --------------------------------------------------------------------------

async def test_a_customers_token_opens_its_own_order_and_nothing_else(floor):
    d, t = floor, tag()
    async with staff(d, "boss@example.com") as boss:
        site = await site_id(d)
        a = await boss.create(site_id=site, subject=f"Order A {t}", customer_email=f"a-{t}@example.org")
        b = await boss.create(site_id=site, subject=f"Order B {t}", customer_email=f"b-{t}@example.org")
        gone = await boss.create(site_id=site, subject=f"Order C {t}", customer_email=f"c-{t}@example.org")
        revoked = await boss.create(site_id=site, subject=f"Order D {t}", customer_email=f"d-{t}@example.org")
    token_a, token_b = await token(d, a["id"]), await token(d, b["id"])
    async with httpx.AsyncClient(base_url=d.server.url, follow_redirects=False) as customer:
        sent = await customer.post(f"/requests/{token_a}", data={"body": "A photo"}, files={"file": ("a.png", PNG)})
        assert sent.status_code == 303, sent.text
    attachment = (await fetch(d, "SELECT id FROM work_order_attachment WHERE work_order_id = ?", a["id"]))[0]["id"]
    mac_a = token_a.partition(".")[2]
    token_gone, token_revoked = await token(d, gone["id"]), await token(d, revoked["id"])

    async def forget() -> None:
        await WorkOrder.filter(id=gone["id"]).delete()
        await WorkOrder.filter(id=revoked["id"]).update(link_secret="0" * 32)  # a new link: the old one is void
    await in_process(d, forget)

    flipped = mac_a[:-1] + ("0" if mac_a[-1] != "0" else "1")
    forged = [
        f"{b['id']}.{mac_a}",  # A's MAC on B's id
        f"{a['id']}.{flipped}",  # A's id, a changed MAC
        f"{a['id']}.{mac_a.upper()}",
        f"{a['id']}.{mac_a[:-1]}",
        f"{a['id']}{a['id']}.{mac_a}",
        token_gone, token_revoked,
        f"{a['id']}.{token_b.partition('.')[2]}",  # B's MAC on A's id
        "garbage", "1", ".", f".{mac_a}", f"{a['id']}.", f"-{a['id']}.{mac_a}", f"+{a['id']}.{mac_a}",
        f"{a['id']}.{'é' * 32}", f"{'٣'}.{mac_a}", f"{a['id']}.{mac_a}x", "9" * 19 + "." + mac_a,
        f"{a['id']}.{'a' * 5000}", "x" * 5000,
    ]
    before = await counts(d)
    async with httpx.AsyncClient(base_url=d.servers[-1].url, follow_redirects=False) as customer:
        assert (await customer.get(f"/requests/{token_a}")).status_code == 200
        assert (await customer.get(f"/requests/{token_a}/attachments/{attachment}")).status_code == 200
        for bad in forged:
            shown = await customer.get(f"/requests/{bad}")
            assert shown.status_code == 404, (bad, shown.status_code)
            nothing_of(shown, a, b, gone, revoked)
            posted = await customer.post(f"/requests/{bad}", data={"body": f"Injected {t}"})
            assert posted.status_code == 404, (bad, posted.status_code)
            nothing_of(posted, a, b, gone, revoked)
            file = await customer.get(f"/requests/{bad}/attachments/{attachment}")
            assert file.status_code == 404 and file.content != PNG, bad
        # B's token never reaches A's files.
        assert (await customer.get(f"/requests/{token_b}/attachments/{attachment}")).status_code == 404
    assert await counts(d) == before
    texts = [r["body"] for r in await fetch(d, "SELECT body FROM work_order_entry")]
    assert f"Injected {t}" not in texts


async def test_a_customer_reply_with_a_refused_file_stores_nothing(floor):
    d, t = floor, tag()
    async with staff(d, "boss@example.com") as boss:
        order = await boss.create(site_id=await site_id(d), subject=f"Half {t}", handler_id=d.users["boss@example.com"]["id"])
        assert (await boss.post(f"/api/work-orders/{order['id']}/status", {"status": "waiting"})).status_code == 200
    link = f"/requests/{await token(d, order['id'])}"
    before, files = await counts(d), stored_files(d)
    async with httpx.AsyncClient(base_url=d.server.url, follow_redirects=False) as customer:
        for name, data in (("page.html", HTML), ("cat.png", SVG)):
            refused = await customer.post(link, data={"body": f"See attached {t}"}, files={"file": (name, data, "image/png")})
            assert refused.status_code == 415, refused.text
    assert await counts(d) == before and stored_files(d) == files
    status = (await fetch(d, "SELECT status FROM work_order WHERE id = ?", order["id"]))[0]["status"]
    assert status == "waiting"


# -- who reads, who acts ---------------------------------------------------------------------------

async def test_a_csr_of_another_site_neither_reads_nor_acts(floor):
    d, t = floor, tag()
    other = second_site(d, t)
    bea = await person(d, t, "Bea")
    department(d, other["key"], f"Other desk {t}", bea)
    dee = await person(d, t, "Dee")
    department(d, d.site_key, f"Home desk {t}", dee)
    async with staff(d, "boss@example.com") as boss:
        order = await boss.create(site_id=await site_id(d), subject=f"Home order {t}", customer_email=f"h-{t}@example.org")
        path = f"/api/work-orders/{order['id']}"
        file = (await boss.upload(order["id"], "a.png", PNG)).json()["attachment_id"]
        assert (await boss.post(f"{path}/status", {"status": "resolved"})).status_code == 200
        made = await boss.post(f"{path}/callbacks", {"assignee_id": d.users[dee]["id"],
                                                     "due_at": "2031-01-01T10:00:00+00:00"})
        callback = made.json()["callback_id"]
        assert (await boss.post(f"{path}/status", {"status": "reopened"})).status_code == 200

    async with staff(d, bea, 1) as bea_web:
        assert (await bea_web.get(path)).status_code == 404
        nothing_of(await bea_web.get(path), order)
        listed = (await bea_web.get("/api/work-orders", q=t, status="all")).json()
        assert (listed["total"], listed["orders"]) == (0, [])
        assert (await bea_web.get(f"{path}/attachments/{file}")).status_code == 404
        before = await counts(d)
        for where, body in every_post(order["id"], callback)[1:]:
            if where.endswith("bulk-assign"):
                refused = await bea_web.post(where, {"ids": [order["id"]], "handler_id": d.users[bea]["id"]})
                assert refused.status_code == 200 and refused.json()["done"] == []
                assert refused.json()["refused"][0]["code"] == "not_found"
                continue
            refused = await bea_web.post(where, body)
            assert refused.status_code == 404, (where, refused.text)
            assert error(refused)["code"] == "not_found"
            nothing_of(refused, order)
        upload = await bea_web.upload(order["id"], "b.png", PNG)
        assert upload.status_code == 404
        # Nor on the home site: no order of a site they do not serve.
        refused = await bea_web.post("/api/work-orders", {"site_id": await site_id(d), "subject": f"Sneak {t}"})
        assert refused.status_code == 404 and error(refused)["field"] == "site_id"
        assert await counts(d) == before
        # Their own site's orders are theirs.
        mine = await bea_web.create(site_id=other["id"], subject=f"Other order {t}")
        assert (await bea_web.get(f"/api/work-orders/{mine['id']}")).status_code == 200

    # A chat of the other site cannot start an order for a CSR of the home site.
    visitor = await clients.visitor(d.servers[0].url, other["key"], d.origin)
    try:
        sent = await visitor.call("message", {"client_id": new_id(), "body": f"Hello from the other shop {t}",
                                              "email": f"v-{t}@example.org"})
        assert sent["ok"], sent
        async with staff(d, dee) as dee_web:
            before = await counts(d)
            refused = await dee_web.post("/api/work-orders", {"conversation_id": sent["conversation_id"],
                                                              "subject": f"Not mine {t}"})
            assert refused.status_code == 404 and error(refused) == {
                "code": "not_found", "field": "conversation_id", "message": error(refused)["message"]}
            assert f"v-{t}@example.org" not in refused.text
            draft = await dee_web.get("/api/work-orders/draft", conversation_id=str(sent["conversation_id"]))
            assert draft.status_code == 404 and f"Hello from the other shop {t}" not in draft.text
            assert await counts(d) == before
            assert (await dee_web.get(path)).status_code == 200  # the home site's order is theirs to read
    finally:
        await visitor.disconnect()


async def test_a_csr_outside_the_team_notes_and_urges_but_neither_handles_nor_replies(floor):
    d, t = floor, tag()
    hal, cy = await person(d, t, "Hal", "handler"), await person(d, t, "Cy")
    team = await new_team(d, f"Billing {t}", [d.users[hal]["id"]])
    async with staff(d, "boss@example.com") as boss, staff(d, cy, 1) as cy_web:
        order = await boss.create(site_id=await site_id(d), subject=f"Team order {t}", team_id=team,
                                  handler_id=d.users[hal]["id"], customer_email=f"t-{t}@example.org")
        path = f"/api/work-orders/{order['id']}"
        seen = await cy_web.order(order["id"])  # a CSR of the site reads it
        assert seen["may"] == {"handle": False, "dispatch": False, "reply": False, "close": False, "urge": True}

        before = await counts(d)
        for where, body in ((f"{path}/status", {"status": "in_progress"}), (f"{path}/status", {"status": "waiting"}),
                            (f"{path}/status", {"status": "resolved"}),
                            (f"{path}/posts", {"kind": "reply", "body": "Hi from a stranger"}),
                            (f"{path}/posts", {"kind": "feedback", "body": "Done, I think"}),
                            (f"{path}/dispatch", {"handler_id": d.users[cy]["id"]}),
                            (f"{path}", {"priority": "urgent"})):
            refused = await cy_web.post(where, body)
            assert refused.status_code == 403, (where, body, refused.text)
            assert error(refused)["code"] == "forbidden"
        assert await counts(d) == before

        noted = await cy_web.post(f"{path}/posts", {"kind": "note", "body": "The customer called the shop"})
        assert noted.status_code == 201, noted.text
        urged = await cy_web.post(f"{path}/urge", {"note": "Customer is waiting"})
        assert urged.status_code == 200 and urged.json()["order"]["urge_count"] == 1
        got = await boss.order(order["id"])
        assert (got["status"], got["handler_id"]) == ("assigned", d.users[hal]["id"])
        assert [e["kind"] for e in got["entries"]] == ["note"]

        # The creator of an order (a CSR) may dispatch it while nobody handles it, reply and close;
        # never handle it, nor move it once someone does.
        own = await cy_web.create(site_id=await site_id(d), subject=f"Own {t}", customer_email=f"o-{t}@example.org")
        own_path = f"/api/work-orders/{own['id']}"
        assert (await cy_web.post(f"{own_path}/dispatch", {"team_id": team})).status_code == 200
        assert (await cy_web.post(f"{own_path}/posts", {"kind": "reply", "body": "We passed it on."})).status_code == 201
        refused = await cy_web.post(f"{own_path}/status", {"status": "resolved"})
        assert refused.status_code == 403
        async with staff(d, hal) as hal_web:
            assert (await hal_web.post(f"{own_path}/status", {"status": "in_progress"})).status_code == 200
        refused = await cy_web.post(f"{own_path}/dispatch", {"team_id": team, "handler_id": None, "transfer": True,
                                                             "reason": "Back"})
        assert refused.status_code == 403 and error(refused)["code"] == "forbidden"


async def test_a_marketer_is_refused_everywhere(site):
    d, t = site, tag()
    async with staff(d, "boss@example.com") as boss:
        order = await boss.create(site_id=await site_id(d), subject=f"Marketing {t}")
    before = await counts(d)
    async with staff(d, "marketer@example.com") as mia:
        for where in every_get(order["id"]):
            refused = await mia.http.get(where)
            assert refused.status_code == 403, (where, refused.text)
            if "/attachments/" not in where:
                assert error(refused)["code"] == "forbidden"
        for where, body in every_post(order["id"]):
            refused = await mia.post(where, body)
            assert refused.status_code == 403 and error(refused)["code"] == "forbidden", (where, refused.text)
            assert f"Marketing {t}" not in refused.text
        assert (await mia.upload(order["id"], "a.png", PNG)).status_code == 403
        assert (await mia.http.get("/work-orders")).status_code == 403
        assert (await mia.http.get(f"/work-orders/{order['id']}")).status_code == 403
    assert await counts(d) == before


async def test_signed_out_is_refused_everywhere(site):
    d, t = site, tag()
    async with staff(d, "boss@example.com") as boss:
        order = await boss.create(site_id=await site_id(d), subject=f"Signed out {t}")
    before = await counts(d)
    async with httpx.AsyncClient(base_url=d.server.url, follow_redirects=False) as anyone:
        for where in every_get(order["id"]):
            refused = await anyone.get(where)
            assert refused.status_code == 401, (where, refused.status_code)
            if where.startswith("/api/work-orders") and "/attachments/" not in where:
                assert error(refused)["code"] == "unauthorized"
        for where, body in every_post(order["id"]):
            refused = await anyone.post(where, json=body)
            assert refused.status_code == 401 and error(refused)["code"] == "unauthorized", where
        refused = await anyone.post(f"/api/work-orders/{order['id']}/attachments", files={"file": ("a.png", PNG)})
        assert refused.status_code == 401
        page = await anyone.get("/work-orders")
        assert page.status_code in (302, 303) and "/login" in page.headers["location"]
    assert await counts(d) == before


async def test_a_missing_or_wrong_csrf_token_is_refused_and_nothing_stored(floor):
    d, t = floor, tag()
    async with staff(d, "boss@example.com") as boss, staff(d, "agent@example.com", 1) as csr:
        order = await boss.create(site_id=await site_id(d), subject=f"CSRF {t}")
        before, files = await counts(d), stored_files(d)
        for token_sent in (False, "", "x" * 43, csr.csrf):  # none, empty, made up, another session's
            for where, body in every_post(order["id"]):
                refused = await boss.post(where, body, csrf=token_sent)
                assert refused.status_code == 403, (token_sent, where, refused.text)
                assert error(refused)["code"] == "csrf"
            upload = await boss.upload(order["id"], "a.png", PNG, csrf=token_sent)
            assert upload.status_code == 403 and error(upload)["code"] == "csrf"
        # A form field does not stand in for the header on JSON calls.
        refused = await boss.http.post("/api/work-orders", data={"csrf_token": boss.csrf, "subject": "x"})
        assert refused.status_code == 403
        assert await counts(d) == before and stored_files(d) == files


async def test_back_office_staff_read_exactly_their_teams_and_their_own_orders(floor):
    d, t = floor, tag()
    hana, other = await person(d, t, "Hana", "handler"), await person(d, t, "Otis", "handler")
    team = await new_team(d, f"Back office {t}", [d.users[hana]["id"]])
    elsewhere = await new_team(d, f"Elsewhere {t}", [d.users[other]["id"]])
    site = await site_id(d)
    async with staff(d, "boss@example.com") as boss, staff(d, hana, 1) as hana_web:
        # They work on orders dispatched to them; they open none.
        before = await counts(d)
        refused = await hana_web.post("/api/work-orders", {"site_id": site, "subject": f"R0 mine {t}"})
        assert refused.status_code == 403 and error(refused)["code"] == "forbidden"
        assert await counts(d) == before
        theirs = {
            "team": await boss.create(site_id=site, subject=f"R1 team {t}", team_id=team),
            "handled": await boss.create(site_id=site, subject=f"R2 handled {t}", handler_id=d.users[hana]["id"]),
            "other team, then theirs": await boss.create(site_id=site, subject=f"R3 moved {t}", team_id=elsewhere),
            "watched": await boss.create(site_id=site, subject=f"R4 watched {t}"),
            "resolved": await boss.create(site_id=site, subject=f"R5 resolved {t}", team_id=team),
        }
        assert (await boss.post(f"/api/work-orders/{theirs['other team, then theirs']['id']}/dispatch",
                                {"team_id": team, "transfer": True, "reason": "Theirs"})).status_code == 200
        assert (await boss.post(f"/api/work-orders/{theirs['watched']['id']}/watchers",
                                {"user_id": d.users[hana]["id"]})).status_code == 200
        assert (await boss.post(f"/api/work-orders/{theirs['resolved']['id']}/status",
                                {"status": "resolved"})).status_code == 200
        not_theirs = [await boss.create(site_id=site, subject=f"N1 other team {t}", team_id=elsewhere),
                      await boss.create(site_id=site, subject=f"N2 nobody {t}"),
                      await boss.create(site_id=site, subject=f"N3 other handler {t}", handler_id=d.users[other]["id"])]

        listed = (await hana_web.get("/api/work-orders", q=t, status="all")).json()
        assert listed["total"] == 5
        assert sorted(o["id"] for o in listed["orders"]) == sorted(o["id"] for o in theirs.values())
        open_ones = (await hana_web.get("/api/work-orders", q=t)).json()
        assert open_ones["total"] == 4 and theirs["resolved"]["id"] not in [o["id"] for o in open_ones["orders"]]
        for order in theirs.values():
            assert (await hana_web.get(f"/api/work-orders/{order['id']}")).status_code == 200
        before = await counts(d)
        for order in not_theirs:
            refused = await hana_web.get(f"/api/work-orders/{order['id']}")
            assert refused.status_code == 404
            nothing_of(refused, order)
            note = await hana_web.post(f"/api/work-orders/{order['id']}/posts", {"kind": "note", "body": "x"})
            assert note.status_code == 404
            urge = await hana_web.post(f"/api/work-orders/{order['id']}/urge", {})
            assert urge.status_code == 404
        assert await counts(d) == before
        # Their pickers offer no site's visitors.
        assert (await hana_web.get("/api/work-orders/options")).json()["sites"] == []


# -- bad input -------------------------------------------------------------------------------------

async def test_bad_input_on_every_post_endpoint_gets_a_clear_error_and_stores_nothing(floor):
    d, t = floor, tag()
    hal, stranger = await person(d, t, "Hal"), await person(d, t, "Stan")
    team = await new_team(d, f"Repairs {t}", [d.users[hal]["id"]])
    await new_team(d, f"Others {t}", [d.users[stranger]["id"]])
    await new_category(d, f"Repairs {t}")
    site = await site_id(d)
    marketer = d.users["marketer@example.com"]["id"]
    async with staff(d, "boss@example.com") as boss:
        order = await boss.create(site_id=site, subject=f"Open {t}", team_id=team, handler_id=d.users[hal]["id"],
                                  customer_email=f"o-{t}@example.org")
        fresh = await boss.create(site_id=site, subject=f"New {t}")
        resolved = await boss.create(site_id=site, subject=f"Resolved {t}")
        assert (await boss.post(f"/api/work-orders/{resolved['id']}/status", {"status": "resolved"})).status_code == 200
        made = await boss.post(f"/api/work-orders/{resolved['id']}/callbacks",
                               {"assignee_id": d.users[hal]["id"], "due_at": "2031-01-01T10:00:00+00:00"})
        callback = made.json()["callback_id"]
        o, n, r = (f"/api/work-orders/{x['id']}" for x in (order, fresh, resolved))
        cb = f"/api/work-orders/callbacks/{callback}"
        big = {"site_id": site, "subject": "x", "description": "y" * (70 * 1024)}
        deep = "[" * 30_000 + "]" * 30_000  # under 64 KiB, far deeper than any parser recursion

        # (path, JSON body or raw text, status, code, field)
        cases: list[tuple[str, object, int, str, str | None]] = [
            # the body itself
            ("/api/work-orders", b"not json", 400, "bad_request", None),
            ("/api/work-orders", b"[1, 2]", 400, "bad_request", None),
            ("/api/work-orders", b'"text"', 400, "bad_request", None),
            ("/api/work-orders", b"\xff\xfe{}", 400, "bad_request", None),
            ("/api/work-orders", json.dumps(big).encode(), 413, "too_large", None),
            ("/api/work-orders", deep.encode(), 400, "bad_request", None),
            ("/api/work-orders", b'{"site_id": NaN, "subject": "x"}', 400, "bad_request", None),
            (f"{o}/posts", b'{"kind": "note", "body": "x", "n": Infinity}', 400, "bad_request", None),
            # creating
            ("/api/work-orders", {"site_id": site}, 400, "bad_request", "subject"),
            ("/api/work-orders", {"site_id": site, "subject": "   "}, 400, "bad_request", "subject"),
            ("/api/work-orders", {"site_id": site, "subject": 42}, 400, "bad_request", "subject"),
            ("/api/work-orders", {"site_id": site, "subject": ["a"]}, 400, "bad_request", "subject"),
            ("/api/work-orders", {"site_id": site, "subject": "s" * 201}, 400, "bad_request", "subject"),
            ("/api/work-orders", {"subject": "x"}, 400, "bad_request", "site_id"),
            ("/api/work-orders", {"site_id": str(site), "subject": "x"}, 400, "bad_request", "site_id"),
            ("/api/work-orders", {"site_id": 99_999_999, "subject": "x"}, 400, "bad_request", "site_id"),
            ("/api/work-orders", {"site_id": site, "subject": "x", "description": {"a": 1}}, 400, "bad_request",
             "description"),
            ("/api/work-orders", {"site_id": site, "subject": "x", "priority": "asap"}, 400, "bad_request", "priority"),
            ("/api/work-orders", {"site_id": site, "subject": "x", "priority": ["high"]}, 400, "bad_request",
             "priority"),
            ("/api/work-orders", {"site_id": site, "subject": "x", "category_id": 99_999_999}, 400, "bad_request",
             "category_id"),
            ("/api/work-orders", {"site_id": site, "subject": "x", "category_id": "1"}, 400, "bad_request",
             "category_id"),
            ("/api/work-orders", {"site_id": site, "subject": "x", "team_id": 99_999_999}, 400, "bad_request",
             "team_id"),
            ("/api/work-orders", {"site_id": site, "subject": "x", "team_id": True}, 400, "bad_request", "team_id"),
            ("/api/work-orders", {"site_id": site, "subject": "x", "handler_id": 99_999_999}, 400, "bad_request",
             "handler_id"),
            ("/api/work-orders", {"site_id": site, "subject": "x", "handler_id": marketer}, 400, "bad_request",
             "handler_id"),
            ("/api/work-orders", {"site_id": site, "subject": "x", "team_id": team,
                                  "handler_id": d.users[stranger]["id"]}, 400, "bad_request", "handler_id"),
            ("/api/work-orders", {"site_id": site, "subject": "x", "customer_email": "not-an-address"}, 400,
             "bad_request", "customer_email"),
            ("/api/work-orders", {"site_id": site, "subject": "x", "customer_email": "a@b.c\r\nBcc: x@y.z"}, 400,
             "bad_request", "customer_email"),
            ("/api/work-orders", {"site_id": site, "subject": "x", "customer_phone": "<script>"}, 400, "bad_request",
             "customer_phone"),
            ("/api/work-orders", {"site_id": site, "subject": "x", "customer_name": "n" * 101}, 400, "bad_request",
             "customer_name"),
            ("/api/work-orders", {"site_id": site, "subject": "x", "language": "fr"}, 400, "bad_request", "language"),
            ("/api/work-orders", {"subject": "x", "conversation_id": 99_999_999}, 404, "not_found", "conversation_id"),
            ("/api/work-orders", {"subject": "x", "conversation_id": "1"}, 404, "not_found", "conversation_id"),
            ("/api/work-orders", {"site_id": site, "subject": "x", "visitor_id": "no-such-visitor"}, 404, "not_found",
             "visitor_id"),
            ("/api/work-orders", {"site_id": site, "subject": "x", "visitor_id": 7}, 404, "not_found", "visitor_id"),
            # editing
            (o, {}, 400, "bad_request", "subject"),
            (o, {"subject": ""}, 400, "bad_request", "subject"),
            (o, {"subject": 5}, 400, "bad_request", "subject"),
            (o, {"priority": "soon"}, 400, "bad_request", "priority"),
            (o, {"subject": "fine", "priority": "soon"}, 400, "bad_request", "priority"),
            (o, {"category_id": 99_999_999}, 400, "bad_request", "category_id"),
            # dispatch and transfer
            (f"{o}/dispatch", {}, 400, "bad_request", "team_id"),
            (f"{o}/dispatch", {"team_id": "1"}, 400, "bad_request", "team_id"),
            (f"{o}/dispatch", {"team_id": 99_999_999}, 400, "bad_request", "team_id"),
            (f"{o}/dispatch", {"handler_id": 99_999_999}, 400, "bad_request", "handler_id"),
            (f"{o}/dispatch", {"handler_id": marketer}, 400, "bad_request", "handler_id"),
            (f"{o}/dispatch", {"team_id": team, "handler_id": d.users[stranger]["id"]}, 400, "bad_request",
             "handler_id"),
            (f"{o}/dispatch", {"handler_id": d.users[stranger]["id"], "transfer": True}, 400, "bad_request", "reason"),
            (f"{o}/dispatch", {"handler_id": d.users[stranger]["id"], "transfer": True, "reason": 5}, 400,
             "bad_request", "reason"),
            (f"{o}/dispatch", {"handler_id": d.users[stranger]["id"], "transfer": True, "reason": "r" * 501}, 400,
             "bad_request", "reason"),
            (f"{r}/dispatch", {"team_id": team}, 409, "invalid_state", "status"),
            # the workflow
            (f"{o}/status", {}, 400, "bad_request", "status"),
            (f"{o}/status", {"status": 3}, 400, "bad_request", "status"),
            (f"{o}/status", {"status": "done"}, 400, "bad_request", "status"),
            (f"{n}/status", {"status": "closed"}, 409, "invalid_state", "status"),
            (f"{n}/status", {"status": "waiting"}, 409, "invalid_state", "status"),
            (f"{n}/status", {"status": "reopened"}, 409, "invalid_state", "status"),
            (f"{o}/status", {"status": "assigned"}, 409, "invalid_state", "status"),
            (f"{r}/status", {"status": "in_progress"}, 409, "invalid_state", "status"),
            # the thread
            (f"{o}/posts", {}, 400, "bad_request", "kind"),
            (f"{o}/posts", {"kind": "whisper", "body": "x"}, 400, "bad_request", "kind"),
            (f"{o}/posts", {"kind": ["note"], "body": "x"}, 400, "bad_request", "kind"),
            (f"{o}/posts", {"kind": "note"}, 400, "bad_request", "body"),
            (f"{o}/posts", {"kind": "reply", "body": None}, 400, "bad_request", "body"),
            (f"{o}/posts", {"kind": "reply", "body": {"html": "<b>"}}, 400, "bad_request", "body"),
            (f"{o}/posts", {"kind": "feedback", "body": "f" * 20_001}, 400, "bad_request", "body"),
            # urge, watchers
            (f"{o}/urge", {"note": 1}, 400, "bad_request", "note"),
            (f"{o}/urge", {"note": "n" * 501}, 400, "bad_request", "note"),
            (f"{r}/urge", {}, 409, "invalid_state", "status"),
            (f"{o}/watchers", {}, 400, "bad_request", "user_id"),
            (f"{o}/watchers", {"user_id": "2"}, 400, "bad_request", "user_id"),
            (f"{o}/watchers", {"user_id": 99_999_999}, 400, "bad_request", "user_id"),
            (f"{o}/watchers", {"user_id": marketer}, 400, "bad_request", "user_id"),
            # callbacks
            (f"{o}/callbacks", {"assignee_id": d.users[hal]["id"], "due_at": "2031-01-01T10:00:00+00:00"}, 409,
             "invalid_state", "status"),
            (f"{r}/callbacks", {"due_at": "2031-01-01T10:00:00+00:00"}, 400, "bad_request", "assignee_id"),
            (f"{r}/callbacks", {"assignee_id": d.users[hal]["id"]}, 400, "bad_request", "due_at"),
            (f"{r}/callbacks", {"assignee_id": d.users[hal]["id"], "due_at": 1893492000}, 400, "bad_request",
             "due_at"),
            (f"{r}/callbacks", {"assignee_id": d.users[hal]["id"], "due_at": "2031-13-01T10:00:00+00:00"}, 400,
             "bad_request", "due_at"),
            (f"{r}/callbacks", {"assignee_id": d.users[hal]["id"], "due_at": "2031-01-01T10:00:00"}, 400,
             "bad_request", "due_at"),
            (f"{r}/callbacks", {"assignee_id": d.users[hal]["id"], "due_at": "2001-01-01T10:00:00+00:00"}, 400,
             "bad_request", "due_at"),
            (f"{r}/callbacks", {"assignee_id": marketer, "due_at": "2031-01-01T10:00:00+00:00"}, 400, "bad_request",
             "assignee_id"),
            (cb, {}, 400, "bad_request", "outcome"),
            (cb, {"outcome": "great"}, 400, "bad_request", "outcome"),
            (cb, {"outcome": "reached", "note": "n" * 501}, 400, "bad_request", "note"),
            ("/api/work-orders/callbacks/99999999", {"outcome": "reached"}, 404, "not_found", None),
            ("/api/work-orders/callbacks/x1", {"outcome": "reached"}, 404, "not_found", None),
            # bulk
            ("/api/work-orders/bulk-assign", {"team_id": team}, 400, "bad_request", "ids"),
            ("/api/work-orders/bulk-assign", {"ids": [order["id"]], "team_id": 99_999_999}, 400, "bad_request",
             "team_id"),
            ("/api/work-orders/bulk-assign", {"ids": [order["id"]], "team_id": team,
                                              "handler_id": d.users[stranger]["id"]}, 400, "bad_request", "handler_id"),
        ]
        # A non-numeric (or absurd) id in the path is no order at all.
        for odd in ("abc", "1e3", "-1", "%D9%A3", "1.0", "9" * 19, "0x10", "99999999"):
            for where, body in every_post(odd)[1:-2]:
                cases.append((where, body, 404, "not_found", None))

        before, files = await counts(d), stored_files(d)
        for where, body, status, code, field in cases:
            got = await boss.post(where, content=body) if isinstance(body, bytes) else await boss.post(where, body)
            assert got.status_code == status, (where, body if len(str(body)) < 300 else "…", got.status_code, got.text)
            assert got.headers["content-type"].startswith("application/json"), (where, got.text[:200])
            problem = error(got)
            assert problem["code"] == code and problem["message"], (where, problem)
            if field is not None:
                assert problem.get("field") == field, (where, body if len(str(body)) < 300 else "…", problem)
        # Attachments alike.
        for odd in ("abc", "-1", "99999999"):
            assert (await boss.upload(odd, "a.png", PNG)).status_code == 404
        assert (await boss.upload(order["id"], "a.html", HTML, "text/html")).status_code == 415
        assert await counts(d) == before and stored_files(d) == files
        # And the orders are as they were.
        for x, status in ((order, "assigned"), (fresh, "new"), (resolved, "resolved")):
            got = await boss.order(x["id"])
            assert (got["status"], got["urge_count"], got["watchers"]) == (status, 0, [])


async def test_a_callback_for_someone_outside_the_order_lets_them_open_it(floor):
    """A callback's assignee must open the order to call back: one who could not read it becomes a
    watcher (and reads it); nobody else gains anything."""
    d, t = floor, tag()
    other = second_site(d, t)
    bea = await person(d, t, "Bea")
    department(d, other["key"], f"Far desk {t}", bea)
    async with staff(d, "boss@example.com") as boss:
        order = await boss.create(site_id=await site_id(d), subject=f"Call back {t}", customer_email=f"c-{t}@example.org")
        path = f"/api/work-orders/{order['id']}"
        async with staff(d, bea, 1) as bea_web:
            assert (await bea_web.get(path)).status_code == 404
            assert (await boss.post(f"{path}/status", {"status": "resolved"})).status_code == 200
            made = await boss.post(f"{path}/callbacks", {"assignee_id": d.users[bea]["id"],
                                                         "due_at": "2031-01-01T10:00:00+00:00"})
            assert made.status_code == 201, made.text
            detail = await bea_web.order(order["id"])
            assert [w["id"] for w in detail["watchers"]] == [d.users[bea]["id"]]
            recorded = await bea_web.post(f"/api/work-orders/callbacks/{made.json()['callback_id']}",
                                          {"outcome": "reached"})
            assert recorded.status_code == 200, recorded.text
