"""Work-order reports end to end, on SQLite and on PostgreSQL: a scripted history of orders made
through the work-order HTTP API (and chats classified through the agent socket), placed in three
past days of the center's time zone (Asia/Shanghai) by moving its moments with SQL; then every
figure of `work_orders`, `work_order_aging`, `work_order_sla`, `callbacks` and
`contact_categories` checked against values worked out by hand below — for an admin (everything),
for a supervisor (their site's orders and queues only), and refused to a CSR.

The history (local times; D1, D2, D3 are the window's days, D0 − n the days before it):

  order  site team/handler     category            created      first reply (due)     resolved (due)           other
  O1     A    Billing/Hana     Complaint › Billing D1 09:00     D1 09:30 (D1 10:00)   D1 15:00 (D2 09:00)      closed D1 16:00
  O2     A    Billing/Hana     Complaint › Billing D1 11:00     D1 14:00 (D1 12:00)   D2 11:00; reopened D2    urged once
                                                                                      15:00; D3 10:00 (D3 09:00)
  O3     A    Logistics/Ivan   Complaint › Delivery D2 08:00    — (D2 09:00)          — (D3 08:00)             urged twice, escalated
  O4     A    Logistics/—      Question            D3 00:00     — (no target)         — (no target)
  O5     A    Billing/Hana     Question            D1−5 10:00   —                     D2 12:00
  O6     A    —/—              —                   D1−9 10:00   —                     —
  O7     B    Logistics/Ivan   Question            D2 10:00     D2 10:30 (D2 11:00)   D2 13:00 (D3 10:00)
  O8     A    Billing/Hana     Complaint › Billing D3 09:00     D3 09:10 (D3 10:00)   D3+2 09:00 (D3+1 09:00)
  O9     A    Billing/—        Complaint › Delivery D3 12:00    — (in 10 days)        — (in 20 days)

  callbacks: C1 O1 Alex due D2 10:00 satisfied · C2 O1 Alex due D3 15:00 not done · C3 O7 Hana due
  D2 16:00 reached · C4 O2 Hana due D3 18:00 not reached · C6 O5 Hana due D1 00:00 (the window's first
  instant) not satisfied · C7 O5 Hana due D3+1 00:00 (the window's end: outside) · C5 O1 Alex due in 3 days.
  classified chats: K1 A Complaint › Delivery D1 10:00 · K2 A Question D1 23:59:59 · K3 A
  Complaint › Delivery D2 00:00 · K4 B Question D3 12:00.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.support import clients
from tests.support.clients import new_id
from tests.support.db import execute, fetch
from tests.support.server import Deployment, cli, deploy
from tests.support.web import signed_in

ZONE = "Asia/Shanghai"
SH = ZoneInfo(ZONE)
H = 3600


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def center(request):
    url = request.getfixturevalue("new_postgres_database")() if request.param == "postgres" else None
    deployment = deploy(database_url=url, redis_url=None, processes=1, extra_env={"CENTER_TIME_ZONE": ZONE})
    yield deployment
    deployment.stop()


# --------------------------------------------------------------------------------------------
# The scripted history


@dataclass
class History:
    d1: date
    orders: dict[str, int] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)
    emails: dict[str, str] = field(default_factory=dict)
    categories: dict[str, int] = field(default_factory=dict)

    @property
    def window(self) -> dict[str, str]:
        return {"from": self.d1.isoformat(), "to": (self.d1 + timedelta(days=2)).isoformat()}

    def at(self, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
        """Local time on day `day` of the window (1 = D1; 0 and below: before it)."""
        return datetime.combine(self.d1 + timedelta(days=day - 1), time(hour, minute, second), tzinfo=SH)


class Api:
    """The work-order JSON API as a signed-in admin, with the page's CSRF token."""

    def __init__(self, http: httpx.AsyncClient, token: str) -> None:
        self.http, self.token = http, token

    async def post(self, path: str, body: dict) -> dict:
        response = await self.http.post(path, json=body, headers={"x-csrf-token": self.token})
        assert response.status_code in (200, 201), (path, response.status_code, response.text)
        return response.json()

    async def order(self, **values) -> int:
        return (await self.post("/api/work-orders", values))["order"]["id"]

    async def move(self, order_id: int, status: str) -> None:
        await self.post(f"/api/work-orders/{order_id}/status", {"status": status})

    async def reply(self, order_id: int) -> None:
        await self.post(f"/api/work-orders/{order_id}/posts", {"kind": "reply", "body": "We are on it."})

    async def urge(self, order_id: int) -> None:
        await self.post(f"/api/work-orders/{order_id}/urge", {"note": "The customer called again."})

    async def callback(self, order_id: int, assignee: int) -> int:
        due = (datetime.now(SH) + timedelta(days=3)).replace(microsecond=0).isoformat()
        return (await self.post(f"/api/work-orders/{order_id}/callbacks",
                                {"assignee_id": assignee, "due_at": due}))["callback_id"]

    async def record(self, callback_id: int, outcome: str) -> None:
        await self.post(f"/api/work-orders/callbacks/{callback_id}", {"outcome": outcome})


async def api_session(base_url: str, email: str, password: str):
    """(the signed-in context manager, Api): the CSRF token comes from the Work orders page."""
    context = signed_in(base_url, email, password)
    http = await context.__aenter__()
    page = await http.get("/work-orders")
    assert page.status_code == 200, page.text[:300]
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
    return context, Api(http, token)


async def place_order(d: Deployment, order_id: int, created: datetime, *, first_due=None, first_reply=None,
                      due=None, resolved=None, closed=None, replies=(), resolutions=(), reopenings=(),
                      statuses=()) -> None:
    """Move an order's moments: its row, and each event — `replies`, `resolutions` (status →
    resolved), `reopenings` and other `statuses` in the order they were written — every other
    event at its creation."""
    await execute(d, "UPDATE work_order SET created_at = ?, updated_at = ?, first_response_due_at = ?, "
                     "first_responded_at = ?, due_at = ?, resolved_at = ?, closed_at = ? WHERE id = ?",
                  created, created, first_due, first_reply, due, resolved, closed, order_id)
    queues = {"replied": list(replies), "reopened": list(reopenings), "resolved": list(resolutions),
              "status": list(statuses)}
    for event in await fetch(d, "SELECT id, kind, data FROM work_order_event WHERE work_order_id = ? ORDER BY id",
                             order_id):
        data = json.loads(event["data"]) if isinstance(event["data"], str) else (event["data"] or {})
        key = "resolved" if event["kind"] == "status" and data.get("status") == "resolved" else event["kind"]
        moment = queues[key].pop(0) if queues.get(key) else created
        await execute(d, "UPDATE work_order_event SET at = ? WHERE id = ?", moment, event["id"])
    assert not any(queues.values()), f"order {order_id}: events missing for {queues}"


async def script_history(d: Deployment, *, with_chats: bool = True) -> History:
    tag = new_id()[:6]
    today = datetime.now(SH).date()
    h = History(d1=today - timedelta(days=12))
    for key, role, name in (("ada", "admin", "Ada Admin"), ("hana", "handler", "Hana Handler"),
                            ("ivan", "handler", "Ivan Handler"), ("chief", "supervisor", "Chief Supervisor")):
        email = f"{key}-{tag}@example.com"
        h.users[key] = d.create_user(email, role, name)["id"]
        h.emails[key] = email
    h.users["alex"] = d.users["agent@example.com"]["id"]
    h.emails["alex"] = "agent@example.com"
    site_a = (await fetch(d, "SELECT id FROM site WHERE key = ?", d.site_key))[0]["id"]
    other = json.loads(cli(d.env, "create-site", "--name", "Other shop", "--origin", "https://other.example.com",
                           "--origin", d.server.url, "--json"))
    site_b = other["id"]
    # The supervisor's department is on site A: their reports count site A's orders and queues.
    cli(d.env, "create-department", "--site", d.site_key, "--name", "Front desk", "--member", h.emails["chief"],
        "--json")
    cli(d.env, "work-setup", "--team", "Billing", "--members", h.emails["hana"], "--json")
    cli(d.env, "work-setup", "--team", "Logistics", "--members", h.emails["ivan"], "--json")
    setup = json.loads(cli(d.env, "work-setup", "--category", "Complaint/Billing", "--category", "Complaint/Delivery",
                           "--category", "Question", "--sla", "Complaint/Delivery:urgent:60:1440", "--json"))
    teams = {t["name"]: t["id"] for t in setup["teams"]}
    h.categories = {c["path"]: c["id"] for c in setup["categories"]}
    billing, delivery, question = (h.categories[p] for p in ("Complaint › Billing", "Complaint › Delivery", "Question"))
    hana, ivan, alex = h.users["hana"], h.users["ivan"], h.users["alex"]

    context, api = await api_session(d.server.url, h.emails["ada"], d.password)
    try:
        def new(subject, site=site_a, **values):
            return api.order(site_id=site, subject=subject, **values)

        o = h.orders
        o["O1"] = await new("Charged twice", team_id=teams["Billing"], handler_id=hana, category_id=billing)
        await api.reply(o["O1"])
        await api.move(o["O1"], "resolved")
        await api.move(o["O1"], "closed")
        c1 = await api.callback(o["O1"], alex)
        c2 = await api.callback(o["O1"], alex)
        c5 = await api.callback(o["O1"], alex)

        o["O2"] = await new("Refund missing", team_id=teams["Billing"], handler_id=hana, category_id=billing)
        await api.reply(o["O2"])
        await api.urge(o["O2"])
        await api.move(o["O2"], "resolved")
        await api.move(o["O2"], "reopened")
        await api.move(o["O2"], "resolved")
        c4 = await api.callback(o["O2"], hana)

        o["O3"] = await new("Parcel lost", team_id=teams["Logistics"], handler_id=ivan, category_id=delivery)
        await api.urge(o["O3"])
        await api.urge(o["O3"])
        o["O4"] = await new("Opening hours?", team_id=teams["Logistics"], category_id=question)
        o["O5"] = await new("Old question", team_id=teams["Billing"], handler_id=hana, category_id=question)
        await api.move(o["O5"], "resolved")
        c6 = await api.callback(o["O5"], hana)
        c7 = await api.callback(o["O5"], hana)
        o["O6"] = await new("Forgotten")
        o["O7"] = await new("Other shop's parcel", site=site_b, team_id=teams["Logistics"], handler_id=ivan,
                            category_id=question)
        await api.reply(o["O7"])
        await api.move(o["O7"], "resolved")
        c3 = await api.callback(o["O7"], hana)
        o["O8"] = await new("Invoice wrong", team_id=teams["Billing"], handler_id=hana, category_id=billing)
        await api.reply(o["O8"])
        await api.move(o["O8"], "resolved")
        o["O9"] = await new("Damaged box", team_id=teams["Billing"], category_id=delivery)
        for callback_id, outcome in ((c1, "satisfied"), (c3, "reached"), (c4, "not_reached"), (c6, "not_satisfied")):
            await api.record(callback_id, outcome)

        # O3 escalates the way every order does: its SLA timer finds it overdue. Created on D2 and made
        # urgent now, the urgent Complaint › Delivery policy (60 min / 24 h) puts both targets in the past.
        await execute(d, "UPDATE work_order SET created_at = ? WHERE id = ?", h.at(2, 8), o["O3"])
        await api.post(f"/api/work-orders/{o['O3']}", {"priority": "urgent"})
        for _ in range(100):  # the timer fires within a poll of the shared schedule (0.25 s)
            if await fetch(d, "SELECT id FROM work_order_event WHERE work_order_id = ? AND kind = 'escalated'",
                           o["O3"]):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("O3 did not escalate")
    finally:
        await context.__aexit__(None, None, None)

    at = h.at
    await place_order(d, o["O1"], at(1, 9), first_due=at(1, 10), first_reply=at(1, 9, 30), due=at(2, 9),
                      resolved=at(1, 15), closed=at(1, 16), replies=[at(1, 9, 30)], resolutions=[at(1, 15)],
                      statuses=[at(1, 16)])
    await place_order(d, o["O2"], at(1, 11), first_due=at(1, 12), first_reply=at(1, 14), due=at(3, 9),
                      resolved=at(3, 10), replies=[at(1, 14)], resolutions=[at(2, 11), at(3, 10)],
                      reopenings=[at(2, 15)])
    await place_order(d, o["O3"], at(2, 8), first_due=at(2, 9), due=at(3, 8))
    await place_order(d, o["O4"], at(3, 0))
    await place_order(d, o["O5"], at(-4, 10), resolved=at(2, 12), resolutions=[at(2, 12)])
    await place_order(d, o["O6"], at(-8, 10))
    await place_order(d, o["O7"], at(2, 10), first_due=at(2, 11), first_reply=at(2, 10, 30), due=at(3, 10),
                      resolved=at(2, 13), replies=[at(2, 10, 30)], resolutions=[at(2, 13)])
    await place_order(d, o["O8"], at(3, 9), first_due=at(3, 10), first_reply=at(3, 9, 10), due=at(4, 9),
                      resolved=at(5, 9), replies=[at(3, 9, 10)], resolutions=[at(5, 9)])
    now = datetime.now(SH)
    await place_order(d, o["O9"], at(3, 12), first_due=now + timedelta(days=10), due=now + timedelta(days=20))
    # Callbacks: a browser sends its own offset, and SQLite keeps the text as sent — so here too.
    for callback_id, due in ((c1, at(2, 10)), (c2, at(3, 15)), (c3, at(2, 16)), (c4, at(3, 18)), (c6, at(1, 0)),
                             (c7, at(4, 0))):
        value = due if d.env.get("DATABASE_URL") else due.isoformat(" ")
        await execute(d, "UPDATE work_order_callback SET due_at = ? WHERE id = ?", value, callback_id)
    assert c5  # due in three days: outside the window

    if with_chats:
        await classify_chats(d, h, other["key"])
    return h


async def classify_chats(d: Deployment, h: History, other_site_key: str) -> None:
    alex = await clients.agent(d.server.url, "agent@example.com", d.password)
    try:
        assert (await alex.call("set_status", {"status": "available"}))["ok"]
        chats = (("K1", d.site_key, d.origin, "Complaint › Delivery", h.at(1, 10)),
                 ("K2", d.site_key, d.origin, "Question", h.at(1, 23, 59, 59)),
                 ("K3", d.site_key, d.origin, "Complaint › Delivery", h.at(2, 0)),
                 ("K4", other_site_key, "https://other.example.com", "Question", h.at(3, 12)))
        for name, key, origin, path, moment in chats:
            visitor = await clients.visitor(d.server.url, key, origin)
            ack = await visitor.call("message", {"client_id": new_id(), "body": f"{name}: hello"})
            assert ack["ok"], ack
            cid = ack["conversation_id"]
            await alex.rec.wait_for("conversation.assigned", lambda c, cid=cid: c["id"] == cid)
            closed = await alex.call("close", {"conversation_id": cid, "category_id": h.categories[path]})
            assert closed["ok"], closed
            await visitor.disconnect()
            await execute(d, "UPDATE conversation_event SET at = ? WHERE conversation_id = ? AND kind = 'classified'",
                          moment, cid)
        assert (await alex.call("set_status", {"status": "offline"}))["ok"]
    finally:
        await alex.disconnect()


# --------------------------------------------------------------------------------------------
# The figures, by hand


def days_of(h: History) -> list[str]:
    return [(h.d1 + timedelta(days=i)).isoformat() for i in range(3)]


def expected_work_orders(h: History, *, admin: bool) -> list[dict]:
    # Created: D1 O1 O2; D2 O3 (O7: site B); D3 O4 O8 O9. Resolutions: D1 O1; D2 O2 O5 (O7); D3 O2.
    # Reopened: D2 O2. Open at the start: O5, O6.
    # Backlog: D1 2 + 2 − 1 = 3 (O2 O5 O6); D2 3 + 1 (+1 O7) + 1 − 2 (−1 O7) = 3 (O2 O3 O6);
    # D3 3 + 3 − 1 = 5 (O3 O4 O6 O8 O9).
    d1, d2, d3 = days_of(h)
    b = 1 if admin else 0  # O7, on site B, is an admin's only
    return [{"day": d1, "created": 2, "reopened": 0, "resolved": 1, "backlog": 3},
            {"day": d2, "created": 1 + b, "reopened": 1, "resolved": 2 + b, "backlog": 3},
            {"day": d3, "created": 3, "reopened": 0, "resolved": 1, "backlog": 5},
            {"day": "Total", "created": 6 + b, "reopened": 1, "resolved": 4 + b, "backlog": 5}]


# Open at the window's end (D3+1 00:00): O6 9 days 14 h (> 7 days); O3 40 h and O4 exactly 24 h
# (1–3 days: a day old is no longer "< 1 day"); O8 15 h and O9 12 h (< 1 day).
AGING = [{"age": "< 1 day", "orders": 2}, {"age": "1–3 days", "orders": 2}, {"age": "3–7 days", "orders": 0},
         {"age": "> 7 days", "orders": 1}, {"age": "Total", "orders": 5}]


def sla(by, name, orders, fr, res, resolved, seconds, reopened, urges, escalations) -> dict:
    """A row of work_order_sla from counts: fr, res = (in time, counted)."""
    ordered = sorted(seconds)
    rank = -(-90 * len(ordered) // 100)
    return {"by": by, "name": name, "orders": orders,
            "first_response_in_time": fr[0], "first_response_counted": fr[1],
            "first_response_sla": round(fr[0] / fr[1], 4) if fr[1] else None,
            "resolution_in_time": res[0], "resolution_counted": res[1],
            "resolution_sla": round(res[0] / res[1], 4) if res[1] else None,
            "resolved": resolved,
            "avg_resolution_seconds": round(sum(seconds) / len(seconds), 1) if seconds else None,
            "p90_resolution_seconds": float(ordered[rank - 1]) if seconds else None,
            "reopen_rate": round(reopened / resolved, 4) if resolved else None,
            "urges_per_order": round(urges / orders, 4), "escalations": escalations}


# Resolution times (creation → first resolution): O1 6 h, O2 24 h (its later reopening and second
# resolution do not count), O7 3 h, O8 48 h.
O1, O2, O7, O8 = 6 * H, 24 * H, 3 * H, 48 * H
SLA_ADMIN = [
    # First response: O1 met, O2 late, O3 due and unanswered (missed), O7 met, O8 met; O4 has no target,
    # O9's is still ahead (pending): 3 / 5. Resolution: O1 met, O2 (its target restarted on reopening,
    # resolved after it) missed, O3 missed, O7 met, O8 resolved after its due time: 2 / 5.
    sla("All", "All orders", 7, (3, 5), (2, 5), 4, [O1, O2, O7, O8], 1, 3, 1),
    sla("Team", "Billing", 4, (2, 3), (1, 3), 3, [O1, O2, O8], 1, 1, 0),  # O1 O2 O8 O9
    sla("Team", "Logistics", 3, (1, 2), (1, 2), 1, [O7], 0, 2, 1),  # O3 O4 O7
    sla("Handler", "Hana Handler", 3, (2, 3), (1, 3), 3, [O1, O2, O8], 1, 1, 0),
    sla("Handler", "Ivan Handler", 2, (1, 2), (1, 2), 1, [O7], 0, 2, 1),
    sla("Handler", "Nobody", 2, (0, 0), (0, 0), 0, [], 0, 0, 0),  # O4 O9
    sla("Category", "Complaint › Billing", 3, (2, 3), (1, 3), 3, [O1, O2, O8], 1, 1, 0),
    sla("Category", "Complaint › Delivery", 2, (0, 1), (0, 1), 0, [], 0, 2, 1),  # O3 O9
    sla("Category", "Question", 2, (1, 1), (1, 1), 1, [O7], 0, 0, 0),  # O4 O7
]
SLA_SUPERVISOR = [  # without O7 (site B)
    sla("All", "All orders", 6, (2, 4), (1, 4), 3, [O1, O2, O8], 1, 3, 1),
    sla("Team", "Billing", 4, (2, 3), (1, 3), 3, [O1, O2, O8], 1, 1, 0),
    sla("Team", "Logistics", 2, (0, 1), (0, 1), 0, [], 0, 2, 1),
    sla("Handler", "Hana Handler", 3, (2, 3), (1, 3), 3, [O1, O2, O8], 1, 1, 0),
    sla("Handler", "Ivan Handler", 1, (0, 1), (0, 1), 0, [], 0, 2, 1),
    sla("Handler", "Nobody", 2, (0, 0), (0, 0), 0, [], 0, 0, 0),
    sla("Category", "Complaint › Billing", 3, (2, 3), (1, 3), 3, [O1, O2, O8], 1, 1, 0),
    sla("Category", "Complaint › Delivery", 2, (0, 1), (0, 1), 0, [], 0, 2, 1),
    sla("Category", "Question", 1, (0, 0), (0, 0), 0, [], 0, 0, 0),
]


def callback(assignee, due, done, pending, overdue, reached, not_reached, satisfied, not_satisfied) -> dict:
    return {"assignee": assignee, "due": due, "done": done, "pending": pending, "overdue": overdue,
            "reached": reached, "not_reached": not_reached, "satisfied": satisfied, "not_satisfied": not_satisfied}


# Due in the window: C1 C2 (Alex); C3 (site B) C4 C6 (Hana, C6 at the window's first instant). C7, due at
# the window's end, and C5, due in three days, are outside. C2 is not done and its time has passed.
CALLBACKS_ADMIN = [callback("Alex Agent", 2, 1, 0, 1, 0, 0, 1, 0), callback("Hana Handler", 3, 3, 0, 0, 1, 1, 0, 1),
                   callback("Total", 5, 4, 0, 1, 1, 1, 1, 1)]
CALLBACKS_SUPERVISOR = [callback("Alex Agent", 2, 1, 0, 1, 0, 0, 1, 0),
                        callback("Hana Handler", 2, 2, 0, 0, 0, 1, 0, 1),
                        callback("Total", 4, 3, 0, 1, 0, 1, 1, 1)]


def expected_categories(h: History, *, admin: bool) -> list[dict]:
    # Chats: K1 D1 and K3 (at D2's first instant) Complaint › Delivery; K2 (D1 23:59:59) Question;
    # K4 (site B) D3 Question. Orders created in the window: Billing O1 O2 O8; Delivery O3 O9;
    # Question O4 (and O7, site B).
    d1, d2, d3 = days_of(h)
    b = 1 if admin else 0
    return [
        {"category": "Complaint › Billing", d1: 0, d2: 0, d3: 0, "chats": 0, "work_orders": 3},
        {"category": "Complaint › Delivery", d1: 1, d2: 1, d3: 0, "chats": 2, "work_orders": 2},
        {"category": "Question", d1: 1, d2: 0, d3: b, "chats": 1 + b, "work_orders": 1 + b},
        {"category": "Total", d1: 2, d2: 1, d3: b, "chats": 3 + b, "work_orders": 6 + b},
    ]


# --------------------------------------------------------------------------------------------
# The test


async def report(http: httpx.AsyncClient, name: str, params: dict) -> dict:
    response = await http.get(f"/api/reports/{name}", params=params)
    assert response.status_code == 200, (name, response.status_code, response.text)
    return response.json()


async def test_every_work_order_figure_of_a_scripted_history(center):
    d = center
    h = await script_history(d)
    window = h.window

    async with signed_in(d.server.url, h.emails["ada"], d.password) as http:
        daily = await report(http, "work_orders", window)
        assert daily["rows"] == expected_work_orders(h, admin=True)
        assert daily["opening_backlog"] == 2
        assert daily["aging"]["rows"] == AGING
        assert (await report(http, "work_order_aging", window))["rows"] == AGING
        sla_report = await report(http, "work_order_sla", window)
        assert sla_report["rows"] == SLA_ADMIN
        only_teams = await report(http, "work_order_sla", {**window, "group": "team"})
        assert only_teams["rows"] == SLA_ADMIN[:3]
        assert (await report(http, "callbacks", window))["rows"] == CALLBACKS_ADMIN
        assert (await report(http, "contact_categories", window))["rows"] == expected_categories(h, admin=True)

        # A window reaching into the future: C5 (due in three days) is not yet due; nothing else is in it.
        today = datetime.now(SH).date()
        ahead = await report(http, "callbacks", {"from": today.isoformat(),
                                                 "to": (today + timedelta(days=5)).isoformat()})
        assert ahead["rows"] == [callback("Alex Agent", 1, 0, 1, 0, 0, 0, 0, 0), callback("Total", 1, 0, 1, 0, 0, 0, 0, 0)]

        # The day before the window: O5 and O6 were open at its end, both created before it.
        before = await report(http, "work_orders", {"from": (h.d1 - timedelta(days=1)).isoformat(),
                                                    "to": (h.d1 - timedelta(days=1)).isoformat()})
        assert before["rows"][-1] == {"day": "Total", "created": 0, "reopened": 0, "resolved": 0, "backlog": 2}
        assert before["opening_backlog"] == 2

        # CSV: the table's labels, then its rows, exactly as the JSON.
        exported = await http.get("/api/reports/work_order_sla", params={**window, "format": "csv"})
        assert exported.status_code == 200
        assert exported.headers["content-disposition"].startswith("attachment;")
        lines = list(csv.reader(io.StringIO(exported.text)))
        assert lines[0] == [c["label"] for c in sla_report["columns"]]
        assert lines[0][:6] == ["By", "Name", "Orders", "First responses in time", "First responses counted",
                                "First-response SLA"]
        assert lines[1] == ["All", "All orders", "7", "3", "5", "0.6", "2", "5", "0.4", "4", "72900.0", "172800.0",
                            "0.25", "0.4286", "1"]
        assert len(lines) == 1 + len(SLA_ADMIN)
        daily_csv = list(csv.reader(io.StringIO((await http.get(
            "/api/reports/work_orders", params={**window, "format": "csv"})).text)))
        assert daily_csv[0] == ["Day", "Created", "Reopened", "Resolved", "Open at end of day"]
        assert daily_csv[1:] == [[str(r[k]) for k in ("day", "created", "reopened", "resolved", "backlog")]
                                 for r in expected_work_orders(h, admin=True)]

        # A group the SLA report does not take, and a work-order group on a chat report: 400.
        for name, group in (("work_order_sla", "site"), ("summary", "team")):
            refused = await http.get(f"/api/reports/{name}", params={**window, "group": group})
            assert refused.status_code == 400, (name, group, refused.text)

    # The supervisor of site A: site A's orders and callbacks, and the chats of site A's queues.
    async with signed_in(d.server.url, h.emails["chief"], d.password) as http:
        assert (await report(http, "work_orders", window))["rows"] == expected_work_orders(h, admin=False)
        assert (await report(http, "work_order_aging", window))["rows"] == AGING
        assert (await report(http, "work_order_sla", window))["rows"] == SLA_SUPERVISOR
        assert (await report(http, "callbacks", window))["rows"] == CALLBACKS_SUPERVISOR
        assert (await report(http, "contact_categories", window))["rows"] == expected_categories(h, admin=False)

    # A CSR reads no report; a signed-out browser is told to sign in.
    async with signed_in(d.server.url, "agent@example.com", d.password) as http:
        for name in ("work_orders", "work_order_aging", "work_order_sla", "callbacks", "contact_categories"):
            assert (await http.get(f"/api/reports/{name}", params=window)).status_code == 403
    async with httpx.AsyncClient(base_url=d.server.url) as anonymous:
        assert (await anonymous.get("/api/reports/work_orders", params=window)).status_code == 401
