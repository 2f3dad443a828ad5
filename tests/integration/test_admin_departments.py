"""The Departments admin page over HTTP, on real servers (SQLite; PostgreSQL + Redis with two
workers): create and edit a department with members, skill levels and hours in its own time zone
with holidays, the general queue's hours, routing following a change at once on every worker,
every refused input shown next to its field with nothing stored, and the audit rows."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.support import clients
from tests.support.clients import new_id
from tests.support.db import fetch
from tests.support.server import cli
from tests.support.web import csrf_of, post_form, signed_in

WAIT = 30.0
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def admin_of(d) -> str:
    email = f"admin-{new_id()[:8]}@example.com"
    d.create_user(email, "admin", "Ada Admin")
    return email


def own_site(d) -> dict:
    name = f"Desk site {new_id()[:6]}"
    return {**json.loads(cli(d.env, "create-site", "--name", name, "--origin", d.origin, "--json")), "name": name}


def hours_around_now(zone: str, *, open_now: bool) -> str:
    """Weekly hours that are open right now in `zone` (the whole local day), or closed (tomorrow only)."""
    local = datetime.now(ZoneInfo(zone))
    day = local.weekday() if open_now else (local.weekday() + 1) % 7
    return f"{DAYS[day]} 00:00-24:00"


def form(name: str, **fields) -> dict:
    base = {"name": name, "routing_strategy": "longest_idle", "priority": "0", "default_max_chats": "",
            "offer_seconds": "0", "missed_offers_limit": "3", "sticky_seconds": "0", "sl_threshold_seconds": "",
            "max_wait_seconds": "", "route_pages": "", "route_languages": "", "business_hours": "",
            "time_zone": "", "holidays": ""}
    return {**base, **fields}


def field_error(html: str, field_id: str) -> str:
    found = re.search(rf'<p class="field-error" id="{field_id}-error">([^<]*)</p>', html)
    return found.group(1) if found else ""


async def departments_of(d, site_id: int) -> list[dict]:
    return await fetch(d, "SELECT id, name, routing_strategy, business_hours, time_zone, holidays FROM department "
                          "WHERE site_id = ? ORDER BY id", site_id)


async def test_an_admin_creates_and_edits_a_department_with_hours_in_its_own_time_zone(deployment):
    d = deployment
    admin = admin_of(d)
    site = own_site(d)
    tag = new_id()[:6]
    member = f"mei-{tag}@example.com"
    mei = d.create_user(member, "agent", f"Mei {tag}")
    async with signed_in(d.servers[0].url, admin, d.password) as http:
        listing = await http.get("/admin/departments")
        assert listing.status_code == 200 and site["name"] in listing.text
        assert "No departments yet" in listing.text
        created = await post_form(http, f"/admin/departments/new?site={site['id']}", form(
            f"Shanghai desk {tag}", site_id=str(site["id"]), routing_strategy="skills",
            business_hours="mon-fri 09:00-18:00", time_zone="Asia/Shanghai",
            holidays="2026-12-25 closed\n2026-12-24 09:00-13:00", **{f"member_{mei['id']}": "on",
                                                                      f"level_{mei['id']}": "7"},
            route_pages="/cn/*", route_languages="zh, zh-cn", sl_threshold_seconds="30"),
            action="/admin/departments/new")
        assert created.status_code == 303, created.text[:2000]
        [row] = await departments_of(d, site["id"])
        assert (row["name"], row["routing_strategy"], row["time_zone"]) == (f"Shanghai desk {tag}", "skills", "Asia/Shanghai")
        holidays = json.loads(row["holidays"]) if isinstance(row["holidays"], str) else row["holidays"]
        assert holidays == [{"date": "2026-12-24", "hours": "09:00-13:00"}, {"date": "2026-12-25", "hours": None}]
        skills = (await fetch(d, "SELECT skills FROM app_user WHERE id = ?", mei["id"]))[0]["skills"]
        assert (json.loads(skills) if isinstance(skills, str) else skills)[str(row["id"])] == 7
        listing = await http.get("/admin/departments")
        assert f"Shanghai desk {tag}" in listing.text and "Asia/Shanghai" in listing.text and f"Mei {tag}" in listing.text

        # The edit page shows what is stored; an edit keeps what it does not change.
        page = await http.get(f"/admin/departments/{row['id']}")
        assert 'value="Asia/Shanghai"' in page.text and "2026-12-24 09:00-13:00" in page.text
        edited = await http.post(f"/admin/departments/{row['id']}", data=form(
            f"Shanghai desk {tag}", csrf_token=csrf_of(page.text), routing_strategy="round_robin",
            business_hours="mon-sat 08:00-20:00", time_zone="Asia/Shanghai", holidays="2026-12-25 closed"))
        assert edited.status_code == 303, edited.text[:2000]
        [row] = await departments_of(d, site["id"])
        assert (row["routing_strategy"], row["business_hours"]) == ("round_robin", "mon-sat 08:00-20:00")
        # Nobody ticked: the member left the department, and their skill level for it went with them.
        assert not await fetch(d, "SELECT 1 FROM user_department WHERE department_id = ?", row["id"])

    audit = await fetch(d, "SELECT action, data FROM audit_event WHERE action LIKE 'department_%' "
                           "AND CAST(data AS TEXT) LIKE ? ORDER BY id", f"%department:{row['id']}%")
    actions = [a["action"] for a in audit]
    assert actions == ["department_create", "department_update"], audit
    change = json.loads(audit[1]["data"]) if isinstance(audit[1]["data"], str) else audit[1]["data"]
    assert change["before"]["routing_strategy"] == "skills" and change["after"]["routing_strategy"] == "round_robin"
    assert change["before"]["members"] == {str(mei["id"]): 7} and change["after"]["members"] == {}


@pytest.mark.parametrize("fields, field_id, message", [
    ({"time_zone": "Mars/Olympus"}, "f-time-zone", "is not a time zone"),
    ({"business_hours": "mon-fri 09:00-12:00, 11:00-14:00"}, "f-business-hours", "overlap"),
    ({"business_hours": "weekdays 9 to 5"}, "f-business-hours", "not"),
    ({"default_max_chats": "0"}, "f-default-max-chats", "between 1 and 50"),
    ({"default_max_chats": "1000"}, "f-default-max-chats", "between 1 and 50"),
    ({"offer_seconds": "soon"}, "f-offer-seconds", "whole number"),
    ({"offer_seconds": "²"}, "f-offer-seconds", "whole number"),  # a digit to str.isdigit, not to int()
    ({"sl_threshold_seconds": "99999999999999"}, "f-sl-threshold-seconds", "whole number"),
    ({"holidays": "25.12.2026 closed"}, "f-holidays", "not a date"),
    ({"route_pages": "pricing"}, "f-route-pages", "path"),
    ({"route_languages": "English"}, "f-route-languages", "tag"),
    ({"name": ""}, "f-name", "needs a name"),
    ({"name": "x" * 201}, "f-name", "At most 200"),
])
async def test_bad_input_is_shown_next_to_its_field_and_nothing_is_stored(sqlite_deployment, fields, field_id, message):
    d = sqlite_deployment
    admin = admin_of(d)
    site = own_site(d)
    async with signed_in(d.servers[0].url, admin, d.password) as http:
        refused = await post_form(http, "/admin/departments/new",
                                  {**form(f"Desk {new_id()[:6]}", site_id=str(site["id"])), **fields})
        assert refused.status_code == 400, refused.text[:500]
        assert message in field_error(refused.text, field_id), refused.text[-3000:]
        assert 'aria-invalid="true"' in refused.text and 'role="alert"' in refused.text
        assert await departments_of(d, site["id"]) == []


async def test_the_rest_of_what_the_page_refuses(sqlite_deployment):
    d = sqlite_deployment
    admin = admin_of(d)
    site = own_site(d)
    tag = new_id()[:6]
    cli(d.env, "create-department", "--site", site["key"], "--name", f"Taken {tag}")
    async with signed_in(d.servers[0].url, admin, d.password) as http:
        new = f"/admin/departments/new?site={site['id']}"
        for fields, field_id, message in (
            ({"name": f"Taken {tag}"}, "f-name", "already"),
            ({"routing_strategy": "fastest"}, "f-strategy", "must be one of"),
            ({"site_id": "999999"}, "f-site-id", "Choose one of the sites"),
            ({"site_id": "x"}, "f-site-id", "Choose one of the sites"),
            ({"member_999999": "on"}, "f-members", "not an active"),
            ({f"member_{d.users['agent@example.com']['id']}": "on",
              f"level_{d.users['agent@example.com']['id']}": "11"}, "f-members", "1 to 10"),
        ):
            refused = await post_form(http, new, {**form(f"Desk {new_id()[:6]}", site_id=str(site["id"])), **fields},
                                      action="/admin/departments/new")
            assert refused.status_code == 400 and message in field_error(refused.text, field_id), (fields, refused.text[-2000:])
        assert [r["name"] for r in await departments_of(d, site["id"])] == [f"Taken {tag}"]
        # No CSRF token, a stale one: refused, nothing stored.
        for token in (None, "not-the-token"):
            data = form(f"Sneaky {tag}", site_id=str(site["id"]), **({"csrf_token": token} if token else {}))
            assert (await http.post("/admin/departments/new", data=data)).status_code == 403
        assert (await http.get("/admin/departments/987654")).status_code == 404
        assert (await http.post("/admin/departments/987654", data={"csrf_token": csrf_of((await http.get(new)).text)}
                                )).status_code == 404
        assert (await http.get("/admin/departments/general/987654")).status_code == 404
    assert [r["name"] for r in await departments_of(d, site["id"])] == [f"Taken {tag}"]
    # Not an admin: refused; signed out: sent to sign in.
    for email in ("boss@example.com", "agent@example.com", "marketer@example.com"):
        async with signed_in(d.servers[0].url, email, d.password) as http:
            assert (await http.get("/admin/departments")).status_code == 403
            assert (await http.post("/admin/departments/new", data=form("x", site_id=str(site["id"])))).status_code == 403
    async with signed_in(d.servers[0].url, admin, d.password) as http:
        http.cookies.clear()
        gone = await http.get("/admin/departments")
        assert gone.status_code == 303 and gone.headers["location"].startswith("/login")


async def test_hours_in_a_departments_own_time_zone_decide_whether_visitors_can_chat(deployment):
    d = deployment
    admin = admin_of(d)
    site = own_site(d)
    tag = new_id()[:6]
    member = f"kai-{tag}@example.com"
    kai = d.create_user(member, "agent", f"Kai {tag}")
    zone = "Pacific/Auckland"  # far from the center's UTC: its day is not UTC's
    agent = await clients.agent(d.servers[-1].url, member, d.password)
    visitor = await clients.visitor(d.servers[0].url, site["key"], d.origin)
    try:
        assert (await agent.call("set_status", {"status": "available"}))["ok"]
        async with signed_in(d.servers[0].url, admin, d.password) as http:
            made = await post_form(http, "/admin/departments/new", form(
                f"Night desk {tag}", site_id=str(site["id"]), business_hours=hours_around_now(zone, open_now=False),
                time_zone=zone, **{f"member_{kai['id']}": "on"}))
            assert made.status_code == 303, made.text[:1000]
            [row] = await departments_of(d, site["id"])
            state = await visitor.call("availability", {})
            assert state["departments"][str(row["id"])] is False and state["general"] is True

            # Open now in that zone: visitors may chat (asked on the other worker).
            page = await http.get(f"/admin/departments/{row['id']}")
            opened = await http.post(f"/admin/departments/{row['id']}", data=form(
                f"Night desk {tag}", csrf_token=csrf_of(page.text), time_zone=zone,
                business_hours=hours_around_now(zone, open_now=True), **{f"member_{kai['id']}": "on"}))
            assert opened.status_code == 303
            assert (await visitor.call("availability", {}))["departments"][str(row["id"])] is True

            # Today a holiday in that zone: closed again.
            today = datetime.now(ZoneInfo(zone)).date()
            page = await http.get(f"/admin/departments/{row['id']}")
            holiday = await http.post(f"/admin/departments/{row['id']}", data=form(
                f"Night desk {tag}", csrf_token=csrf_of(page.text), time_zone=zone,
                business_hours=hours_around_now(zone, open_now=True), holidays=f"{today.isoformat()} closed\n"
                f"{(today + timedelta(days=1)).isoformat()} 09:00-12:00", **{f"member_{kai['id']}": "on"}))
            assert holiday.status_code == 303
            assert (await visitor.call("availability", {}))["departments"][str(row["id"])] is False

            # The site's general queue gets hours too: closed now, then open again.
            general = f"/admin/departments/general/{site['id']}"
            closed = await post_form(http, general, {"business_hours": hours_around_now("UTC", open_now=False),
                                                     "time_zone": "", "holidays": ""})
            assert closed.status_code == 303
            assert (await visitor.call("availability", {}))["general"] is False
            refused = await post_form(http, general, {"business_hours": "", "time_zone": "Nowhere/Land", "holidays": ""})
            assert refused.status_code == 400 and "not a time zone" in field_error(refused.text, "f-time-zone")
            assert (await visitor.call("availability", {}))["general"] is False  # nothing stored
            reopened = await post_form(http, general, {"business_hours": "", "time_zone": "", "holidays": ""})
            assert reopened.status_code == 303
            assert (await visitor.call("availability", {}))["general"] is True
        actions = [r["action"] for r in await fetch(d, "SELECT action FROM audit_event WHERE CAST(data AS TEXT) LIKE ?",
                                                    f"%site:{site['id']}\"%")]
        assert actions.count("general_hours_update") == 2, actions
    finally:
        await clients.sign_off(agent)
        await agent.disconnect()
        await visitor.disconnect()


async def test_a_strategy_change_reaches_routing_at_once_on_every_worker(deployment):
    """A manual queue leaves its chat waiting for a CSR to pick; switched to automatic on the
    admin page (served by one worker), the waiting chat reaches the member (on the other)."""
    d = deployment
    admin = admin_of(d)
    site = own_site(d)
    tag = new_id()[:6]
    member = f"ray-{tag}@example.com"
    ray = d.create_user(member, "agent", f"Ray {tag}")
    department = json.loads(cli(d.env, "create-department", "--site", site["key"], "--name", f"Manual {tag}",
                                "--strategy", "manual", "--member", member, "--json"))["id"]
    agent = await clients.agent(d.servers[-1].url, member, d.password)
    visitor = await clients.visitor(d.servers[0].url, site["key"], d.origin)
    try:
        assert (await agent.call("set_status", {"status": "available"}))["ok"]
        sent = await visitor.call("message", {"client_id": new_id(), "body": "Anyone?", "department_id": department})
        cid = sent["conversation_id"]
        queue = await agent.call("queue", {})
        assert any(c["id"] == cid for c in queue["chats"]), queue
        assert (await fetch(d, "SELECT status FROM conversation WHERE id = ?", cid))[0]["status"] == "waiting"
        async with signed_in(d.servers[0].url, admin, d.password) as http:
            page = await http.get(f"/admin/departments/{department}")
            changed = await http.post(f"/admin/departments/{department}", data=form(
                f"Manual {tag}", csrf_token=csrf_of(page.text), routing_strategy="longest_idle",
                **{f"member_{ray['id']}": "on"}))
            assert changed.status_code == 303
        assigned = await agent.rec.wait_for("conversation.assigned", lambda c: c["id"] == cid, timeout=WAIT)
        assert assigned["id"] == cid
        assert (await visitor.call("close", {"conversation_id": cid}))["ok"]
    finally:
        await clients.sign_off(agent)
        await agent.disconnect()
        await visitor.disconnect()


async def test_a_supervisor_taken_out_of_a_department_stops_following_its_chats(deployment):
    """Monitoring a chat of their department, a supervisor is removed from it on the admin page
    (one worker): the chat's next messages no longer reach them (on the other worker), and they
    can no longer monitor it."""
    d = deployment
    admin = admin_of(d)
    site = own_site(d)
    tag = new_id()[:6]
    sup_email, csr_email = f"sol-{tag}@example.com", f"cai-{tag}@example.com"
    sol = d.create_user(sup_email, "supervisor", f"Sol {tag}")
    cai = d.create_user(csr_email, "agent", f"Cai {tag}")
    department = json.loads(cli(d.env, "create-department", "--site", site["key"], "--name", f"Watched {tag}",
                                "--member", sup_email, "--member", csr_email, "--json"))["id"]
    csr = await clients.agent(d.servers[0].url, csr_email, d.password)
    boss = await clients.agent(d.servers[-1].url, sup_email, d.password)
    visitor = await clients.visitor(d.servers[0].url, site["key"], d.origin)
    try:
        assert (await csr.call("set_status", {"status": "available"}))["ok"]
        cid = (await visitor.call("message", {"client_id": new_id(), "body": "First", "department_id": department}))[
            "conversation_id"]
        await csr.rec.wait_for("conversation.assigned", lambda c: c["id"] == cid, timeout=WAIT)
        assert (await boss.call("monitor", {"conversation_id": cid}))["ok"]
        assert (await visitor.call("message", {"client_id": new_id(), "body": "Seen by Sol"}))["ok"]
        await boss.rec.wait_for("message", lambda m: m["body"] == "Seen by Sol", timeout=WAIT)

        async with signed_in(d.servers[0].url, admin, d.password) as http:
            page = await http.get(f"/admin/departments/{department}")
            saved = await http.post(f"/admin/departments/{department}", data=form(
                f"Watched {tag}", csrf_token=csrf_of(page.text), **{f"member_{cai['id']}": "on"}))
            assert saved.status_code == 303
        assert sol["id"] not in [r["app_user_id"] for r in await fetch(
            d, "SELECT app_user_id FROM user_department WHERE department_id = ?", department)]
        assert (await visitor.call("message", {"client_id": new_id(), "body": "Not for Sol"}))["ok"]
        await csr.rec.wait_for("message", lambda m: m["body"] == "Not for Sol", timeout=WAIT)
        # The CSR got it; the supervisor, on the other worker, did not (the message went out after
        # the change took effect, and the bus delivers in order).
        assert (await visitor.call("message", {"client_id": new_id(), "body": "Marker"}))["ok"]
        await csr.rec.wait_for("message", lambda m: m["body"] == "Marker", timeout=WAIT)
        assert not [m for m in boss.rec.of("message") if m["body"] in ("Not for Sol", "Marker")]
        assert (await boss.call("monitor", {"conversation_id": cid}))["error"]["code"] == "not_found"
        assert (await visitor.call("close", {"conversation_id": cid}))["ok"]
    finally:
        await clients.sign_off(csr)
        for client in (csr, boss, visitor):
            await client.disconnect()
