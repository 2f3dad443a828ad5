"""The Away reasons and Audit log admin pages over HTTP on a real server of this module's own (the
away reasons are the whole center's): editing the reasons (and what is refused), the audit log
listing each admin action with before → after, its filters, its pages and its CSV."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timedelta, timezone

import pytest

from tests.support import clients
from tests.support.clients import new_id
from tests.support.db import fetch
from tests.support.server import cli, deploy
from tests.support.web import csrf_of, post_form, signed_in

ADMIN = "root@example.com"


@pytest.fixture(scope="module")
def d():
    deployment = deploy(database_url=None, redis_url=None, processes=1)
    deployment.create_user(ADMIN, "admin", "Ada Admin")
    yield deployment
    deployment.stop()


def error_of(html: str, field_id: str) -> str:
    found = re.search(rf'<p class="field-error" id="{field_id}-error">([^<]*)</p>', html)
    return found.group(1) if found else ""


async def test_an_admin_edits_the_away_reasons_csrs_choose_from(d):
    agent = await clients.agent(d.servers[0].url, "agent@example.com", d.password)
    try:
        async with signed_in(d.servers[0].url, ADMIN, d.password) as http:
            page = await http.get("/admin/away-reasons")
            assert page.status_code == 200 and "After-chat work" in page.text
            saved = await post_form(http, "/admin/away-reasons",
                                    {"reasons": "Lunch\r\n\r\n  Training  \r\nAfter-chat work\r\n"})
            assert saved.status_code == 303 and saved.headers["location"] == "/admin/away-reasons?saved=1"
            assert (await agent.call("away_reasons", {}))["reasons"] == ["Lunch", "Training", "After-chat work"]
            assert (await agent.call("set_status", {"status": "away", "reason": "Training"}))["ok"]
            assert "Saved." in (await http.get("/admin/away-reasons?saved=1")).text

            for text, message in (("", "at least one"), ("Lunch\nlunch", "listed twice"), ("x" * 65, "1 to 64"),
                                  ("Lunch\nmissed offers", "given by the server"),
                                  ("\n".join(f"Reason {i}" for i in range(31)), "At most 30"),
                                  ("y\n" * 3000, "too long")):
                refused = await post_form(http, "/admin/away-reasons", {"reasons": text})
                assert refused.status_code == 400 and message in error_of(refused.text, "f-reasons"), text[:40]
                assert 'aria-invalid="true"' in refused.text
            assert (await http.post("/admin/away-reasons", data={"reasons": "Hacked"})).status_code == 403
            assert (await agent.call("away_reasons", {}))["reasons"] == ["Lunch", "Training", "After-chat work"]
        async with signed_in(d.servers[0].url, "boss@example.com", d.password) as boss:
            assert (await boss.get("/admin/away-reasons")).status_code == 403
            assert (await boss.post("/admin/away-reasons", data={"reasons": "Hacked"})).status_code == 403
        # The command line goes through the same service, audited as the command line.
        cli(d.env, "away-reasons", "--set", "Lunch", "Training", "Meeting", "After-chat work")
        rows = await fetch(d, "SELECT actor_id, data FROM audit_event WHERE action = 'away_reasons_update' ORDER BY id")
        changes = [json.loads(r["data"]) for r in rows]
        assert changes[-2]["after"] == {"reasons": ["Lunch", "Training", "After-chat work"]}
        assert rows[-1]["actor_id"] is None and changes[-1]["before"] == changes[-2]["after"]
        assert changes[-1]["after"]["reasons"][2] == "Meeting"
    finally:
        await clients.sign_off(agent)
        await agent.disconnect()


async def test_the_audit_log_lists_filters_pages_and_exports_what_admins_did(d):
    tag = new_id()[:6]
    site = json.loads(cli(d.env, "create-site", "--name", f"Audit {tag}", "--origin", d.origin, "--json"))
    async with signed_in(d.servers[0].url, ADMIN, d.password) as http:
        # A department whose name a spreadsheet would run as a formula.
        made = await post_form(http, f"/admin/departments/new?site={site['id']}", {
            "name": f"=HYPERLINK(\"http://evil\") {tag}", "site_id": str(site["id"]), "routing_strategy": "manual",
            "business_hours": "mon-fri 09:00-17:00", "time_zone": "Asia/Shanghai"}, action="/admin/departments/new")
        assert made.status_code == 303, made.text[-1500:]
        department = made.headers["location"].rsplit("=", 1)[1]
        page = await http.get(f"/admin/departments/{department}")
        edited = await http.post(f"/admin/departments/{department}", data={
            "csrf_token": csrf_of(page.text), "name": f"Desk {tag}", "routing_strategy": "round_robin",
            "business_hours": "mon-fri 09:00-17:00", "time_zone": "Asia/Shanghai"})
        assert edited.status_code == 303

        log = await http.get("/admin/audit", params={"action": "department_update"})
        assert log.status_code == 200
        assert "Changed a department" in log.text and f"department Desk {tag}" in log.text
        assert re.search(r"routing strategy</span>: <del>manual</del> → <ins>round_robin</ins>", log.text), log.text[-4000:]
        assert "Created a department" not in log.text.split("<tbody>", 1)[1]  # filtered by action
        everything = await http.get("/admin/audit")
        assert "Created a department" in everything.text and "Ada Admin" in everything.text

        # By who: the command line's changes are not the admin's.
        admin_id = (await fetch(d, "SELECT id FROM app_user WHERE email = ?", ADMIN))[0]["id"]
        mine = await http.get("/admin/audit", params={"actor": str(admin_id)})
        assert "Command line" not in mine.text.split("<tbody>", 1)[1]
        # By date, in the center's time zone: today has them, yesterday has none of them.
        today = datetime.now(timezone.utc).date()
        assert f"Desk {tag}" in (await http.get("/admin/audit", params={"from": today.isoformat(),
                                                                        "to": today.isoformat()})).text
        yesterday = (today - timedelta(days=1)).isoformat()
        assert f"Desk {tag}" not in (await http.get("/admin/audit", params={"to": yesterday})).text
        for params, field, message in (({"from": "yesterday"}, "f-from", "not a date"),
                                       ({"from": today.isoformat(), "to": yesterday}, "f-to", "before the start"),
                                       ({"actor": "me"}, None, "Choose someone"), ({"actor": "²"}, None, "Choose someone"), ({"action": "x" * 40}, None, "Choose an action")):
            refused = await http.get("/admin/audit", params=params)
            assert refused.status_code == 400, params
            assert message in (error_of(refused.text, field) if field else refused.text), params
        assert (await http.get("/admin/audit.csv", params={"from": "soon"})).status_code == 400

        # The CSV: the same rows, a formula never starts a cell.
        exported = await http.get("/admin/audit.csv", params={"action": "department_create"})
        assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert rows and all(r["action"] == "department_create" for r in rows)
        ours = next(r for r in rows if tag in r["target"])
        assert ours["target"] == f'department =HYPERLINK("http://evil") {tag}'
        assert all(not cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r.values() if cell)
        assert ours["actor"] == "Ada Admin" and "routing_strategy: — → manual" in ours["changes"]

        # Pages of 100, newest first, and "Older entries" goes on from the last one shown.
        for i in range(101):
            shown = await http.get("/admin/away-reasons")
            assert (await http.post("/admin/away-reasons", data={"csrf_token": csrf_of(shown.text),
                                                                   "reasons": f"Lunch\nBreak {i}"})).status_code == 303
        first = await http.get("/admin/audit", params={"action": "away_reasons_update"})
        assert first.text.count("Changed the away reasons") == 100 + 1  # the rows and the action picker
        older = re.search(r'href="(/admin/audit\?[^"]*before=\d+)"', first.text).group(1).replace("&amp;", "&")
        rest = await http.get(older)
        assert "Break 0" in rest.text and "Break 100" not in rest.text
    async with signed_in(d.servers[0].url, "boss@example.com", d.password) as boss:
        assert (await boss.get("/admin/audit")).status_code == 403
        assert (await boss.get("/admin/audit.csv")).status_code == 403


async def test_invitation_rule_changes_are_audited(d):
    tag = new_id()[:6]
    site = json.loads(cli(d.env, "create-site", "--name", f"Rules {tag}", "--origin", d.origin, "--json"))
    async with signed_in(d.servers[0].url, ADMIN, d.password) as http:
        made = await post_form(http, "/admin/invitation-rules", {
            "name": f"Pricing {tag}", "site_id": str(site["id"]), "message": "Questions?", "url": "/pricing*",
            "max_per_visitor": "1", "cap_hours": "24", "enabled": "on", "action": "save"})
        assert made.status_code == 303, made.text[-1500:]
        [rule] = await fetch(d, "SELECT id FROM invitation_rule WHERE name = ?", f"Pricing {tag}")
        for action in ("toggle", "delete"):
            done = await post_form(http, "/admin/invitation-rules", {"rule_id": str(rule["id"]), "action": action})
            assert done.status_code == 303, (action, done.text[-1000:])
        rows = await fetch(d, "SELECT action, data FROM audit_event WHERE CAST(data AS TEXT) LIKE ? ORDER BY id",
                           f"%rule:{rule['id']}\"%")
        assert [r["action"] for r in rows] == ["rule_create", "rule_update", "rule_delete"]
        assert json.loads(rows[1]["data"])["after"] == {"enabled": False}
        log = await http.get("/admin/audit", params={"action": "rule_delete"})
        assert "Deleted an invitation rule" in log.text and f"rule Pricing {tag}" in log.text
