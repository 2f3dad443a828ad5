"""The Teams and Categories & SLA admin pages over HTTP, on real servers (SQLite; PostgreSQL + Redis
with two workers), and the `work-setup` command: a team created and edited with members, a lead and
hours in its own time zone with holidays; the two-level taxonomy (add, rename, deactivate,
reactivate) and SLA policies (add, edit, delete); every refused input shown next to its field with
nothing stored; admins only, CSRF-checked, audited; the command idempotent."""

from __future__ import annotations

import json
import re

import pytest

from tests.support.clients import new_id
from tests.support.db import fetch
from tests.support.server import cli
from tests.support.web import csrf_of, post_form, signed_in

TEAMS = "/admin/teams"
CATEGORIES = "/admin/work-categories"
POLICIES = "/admin/work-categories/policies"


def admin_of(d) -> str:
    email = f"admin-{new_id()[:8]}@example.com"
    d.create_user(email, "admin", "Ada Admin")
    return email


def team_form(name: str, **fields) -> dict:
    return {"name": name, "description": "", "lead_id": "", "business_hours": "", "time_zone": "", "holidays": "",
            **fields}


def field_error(html: str, field_id: str) -> str:
    found = re.search(rf'<p class="field-error" id="{field_id}-error">([^<]*)</p>', html)
    return found.group(1) if found else ""


def as_json(value):
    return json.loads(value) if isinstance(value, str) else value


async def team_named(d, name: str) -> list[dict]:
    return await fetch(d, "SELECT id, name, description, lead_id, business_hours, time_zone, holidays FROM work_team "
                          "WHERE name = ?", name)


async def members_of(d, team_id: int) -> list[int]:
    return sorted(r["user_id"] for r in await fetch(d, "SELECT user_id FROM team_member WHERE work_team_id = ?",
                                                    team_id))


async def count(d, table: str) -> int:
    return (await fetch(d, f"SELECT count(*) AS n FROM {table}"))[0]["n"]


async def category_id(d, name: str) -> int:
    [row] = await fetch(d, "SELECT id FROM work_category WHERE name = ?", name)
    return row["id"]


def setup(d, *args: str) -> dict:
    return json.loads(cli(d.env, "work-setup", *args, "--json"))


async def test_an_admin_creates_and_edits_a_team_with_members_and_hours(deployment):
    d = deployment
    admin = admin_of(d)
    tag = new_id()[:6]
    hugo = d.create_user(f"hugo-{tag}@example.com", "handler", f"Hugo {tag}")
    nia = d.create_user(f"nia-{tag}@example.com", "agent", f"Nia {tag}")
    name = f"Billing {tag}"
    async with signed_in(d.servers[0].url, admin, d.password) as http:
        new = await http.get(f"{TEAMS}/new")
        assert new.status_code == 200
        # Members are offered with their role; marketers are not offered at all.
        assert re.search(rf"Hugo {tag} <span class=\"muted\">\(Back office\)", new.text)
        assert re.search(rf"Nia {tag} <span class=\"muted\">\(CSR\)", new.text)
        assert "Mia Marketer" not in new.text
        created = await http.post(f"{TEAMS}/new", data={
            **team_form(name, description="Refunds and invoices", lead_id=str(nia["id"]),
                        business_hours="mon-fri 09:00-17:00", time_zone="Europe/Berlin",
                        holidays="2026-12-25 closed\n2026-12-24 09:00-13:00"),
            "members": [str(hugo["id"]), str(nia["id"])], "csrf_token": csrf_of(new.text)})
        assert created.status_code == 303, created.text[-2000:]
        [row] = await team_named(d, name)
        assert (row["description"], row["lead_id"], row["business_hours"], row["time_zone"]) == \
            ("Refunds and invoices", nia["id"], "mon-fri 09:00-17:00", "Europe/Berlin")
        assert as_json(row["holidays"]) == [{"date": "2026-12-24", "hours": "09:00-13:00"},
                                            {"date": "2026-12-25", "hours": None}]
        assert await members_of(d, row["id"]) == sorted([hugo["id"], nia["id"]])
        listing = await http.get(created.headers["location"])
        assert listing.status_code == 200 and 'role="status"' in listing.text
        line = re.search(rf"<tr>\s*<td>{name}<br>.*?</tr>", listing.text, re.DOTALL).group(0)
        assert "2 members" in line and f"Nia {tag}" in line and "Europe/Berlin" in line and "2 holidays" in line

        # The edit page shows what is stored; an edit takes a member out and changes the hours.
        page = await http.get(f"{TEAMS}/{row['id']}")
        assert 'value="Europe/Berlin"' in page.text and "2026-12-24 09:00-13:00" in page.text
        assert f'value="{hugo["id"]}" checked' in page.text and f'<option value="{nia["id"]}" selected' in page.text
        edited = await http.post(f"{TEAMS}/{row['id']}", data={
            **team_form(name, description="Refunds", business_hours="mon-sat 08:00-20:00", time_zone="Asia/Shanghai"),
            "members": str(hugo["id"]), "csrf_token": csrf_of(page.text)})
        assert edited.status_code == 303, edited.text[-2000:]
        [row] = await team_named(d, name)
        assert (row["description"], row["lead_id"], row["business_hours"], row["time_zone"]) == \
            ("Refunds", None, "mon-sat 08:00-20:00", "Asia/Shanghai")
        assert as_json(row["holidays"]) == []
        assert await members_of(d, row["id"]) == [hugo["id"]]
        assert (await http.get(f"{TEAMS}/987654")).status_code == 404

    audit = await fetch(d, "SELECT action, actor_id, data FROM audit_event WHERE action LIKE 'team_%' "
                           "AND CAST(data AS TEXT) LIKE ? ORDER BY id", f'%"team:{row["id"]}"%')
    assert [a["action"] for a in audit] == ["team_create", "team_update"], audit
    change = as_json(audit[1]["data"])
    assert change["before"]["members"] == sorted([hugo["id"], nia["id"]]) and change["after"]["members"] == [hugo["id"]]
    assert change["before"]["time_zone"] == "Europe/Berlin" and change["after"]["time_zone"] == "Asia/Shanghai"


async def test_bad_team_input_is_shown_next_to_its_field_and_nothing_is_stored(sqlite_deployment):
    d = sqlite_deployment
    admin = admin_of(d)
    tag = new_id()[:6]
    taken = f"Taken team {tag}"
    setup(d, "--team", taken)
    marketer = d.users["marketer@example.com"]["id"]
    agent = d.users["agent@example.com"]["id"]
    cases = [
        ({"name": ""}, "f-name", "A name is needed"),
        ({"name": "   "}, "f-name", "A name is needed"),
        ({"name": "x" * 101}, "f-name", "At most 100"),
        ({"name": taken}, "f-name", "A team of this name exists"),
        ({"description": "x" * 301}, "f-description", "At most 300"),
        ({"business_hours": "weekdays 9 to 5"}, "f-business-hours", "not"),
        ({"business_hours": "mon-fri 09:00-12:00, 11:00-14:00"}, "f-business-hours", "overlap"),
        ({"time_zone": "Mars/Olympus"}, "f-time-zone", "is not a time zone"),
        ({"holidays": "25.12.2026 closed"}, "f-holidays", "not a date"),
        ({"members": str(marketer)}, "f-members", "Only active staff"),
        ({"members": [str(agent), "987654"]}, "f-members", "Only active staff"),
        ({"members": "me"}, "f-members", "Pick members"),
        ({"lead_id": str(marketer)}, "f-lead-id", "No such user"),
        ({"lead_id": "987654"}, "f-lead-id", "No such user"),
        ({"lead_id": "boss"}, "f-lead-id", "Pick the lead"),
    ]
    teams_before = await count(d, "work_team")
    async with signed_in(d.servers[0].url, admin, d.password) as http:
        for fields, field_id, message in cases:
            refused = await post_form(http, f"{TEAMS}/new", {**team_form(f"Team {new_id()[:6]}"), **fields})
            assert refused.status_code == 400, (fields, refused.text[-500:])
            assert message in field_error(refused.text, field_id), (fields, refused.text[-3000:])
            assert 'aria-invalid="true"' in refused.text or field_id == "f-members", fields
            assert 'role="alert"' in refused.text and "Nothing was saved" in refused.text
        # What was typed is shown again.
        refused = await post_form(http, f"{TEAMS}/new", {**team_form(f"Kept {tag}", time_zone="Nowhere/Land"),
                                                         "members": str(agent)})
        assert f'value="Kept {tag}"' in refused.text and f'value="{agent}" checked' in refused.text
        # Editing refuses the same way and keeps the team as it was.
        [existing] = await team_named(d, taken)
        other = f"Other team {tag}"
        setup(d, "--team", other)
        refused = await post_form(http, f"{TEAMS}/{existing['id']}", team_form(other))
        assert refused.status_code == 400 and "exists" in field_error(refused.text, "f-name")
    assert await count(d, "work_team") == teams_before + 1  # only `other`, made by the command
    assert await team_named(d, taken) == [existing]


async def test_bad_category_and_policy_input_is_shown_next_to_its_field_and_nothing_is_stored(sqlite_deployment):
    d = sqlite_deployment
    admin = admin_of(d)
    tag = new_id()[:6]
    top, sub = f"Complaint {tag}", f"Delivery {tag}"
    setup(d, "--category", f"{top}/{sub}", "--sla", f"{top}/{sub}:high:60:480")
    top_id, sub_id = await category_id(d, top), await category_id(d, sub)
    category_cases = [
        ({"name": "Third level", "parent_id": str(sub_id)}, "f-parent-id", "two levels"),
        ({"name": sub, "parent_id": str(top_id)}, "f-name", "exists here"),
        ({"name": top, "parent_id": ""}, "f-name", "exists here"),
        ({"name": "", "parent_id": ""}, "f-name", "A name is needed"),
        ({"name": "x" * 101, "parent_id": ""}, "f-name", "At most 100"),
        ({"name": "Orphan", "parent_id": "987654"}, "f-parent-id", "No such category"),
        ({"name": "Orphan", "parent_id": "top"}, "f-parent-id", "Pick a top-level category"),
    ]
    policy = {"category_id": str(sub_id), "priority": "low", "first_response_minutes": "30",
              "resolution_minutes": "240"}
    policy_cases = [
        ({"first_response_minutes": "", "resolution_minutes": ""}, "f-resolution-minutes", "Give a first-response"),
        ({"first_response_minutes": "0"}, "f-first-response-minutes", "from 1 to 525600"),
        ({"resolution_minutes": "525601"}, "f-resolution-minutes", "from 1 to 525600"),
        ({"resolution_minutes": "-5"}, "f-resolution-minutes", "from 1 to 525600"),
        ({"resolution_minutes": "99999999999999999"}, "f-resolution-minutes", "whole number"),
        ({"first_response_minutes": "soon"}, "f-first-response-minutes", "whole number"),
        ({"priority": "extreme"}, "f-priority", "low, normal, high or urgent"),
        ({"priority": "high"}, "f-category-id", "A policy for this category and priority exists"),
        ({"category_id": "987654"}, "f-category-id", "No such category"),
        ({"category_id": "x"}, "f-category-id", "Pick a category"),
    ]
    categories_before, policies_before = await count(d, "work_category"), await count(d, "sla_policy")
    async with signed_in(d.servers[0].url, admin, d.password) as http:
        for fields, field_id, message in category_cases:
            refused = await post_form(http, CATEGORIES, fields)
            assert refused.status_code == 400, (fields, refused.text[-500:])
            assert message in field_error(refused.text, field_id), (fields, refused.text[-3000:])
            assert 'aria-invalid="true"' in refused.text and 'role="alert"' in refused.text
        for fields, field_id, message in policy_cases:
            refused = await post_form(http, CATEGORIES, {**policy, **fields}, action=POLICIES)
            assert refused.status_code == 400, (fields, refused.text[-500:])
            assert message in field_error(refused.text, field_id), (fields, refused.text[-3000:])
            assert 'aria-invalid="true"' in refused.text and 'role="alert"' in refused.text
        # A rename to a name its siblings have, and an edit into an existing policy: refused too.
        setup(d, "--category", f"{top}/Other {tag}", "--sla", f"{top}/Other {tag}:*:10:")
        other_id = await category_id(d, f"Other {tag}")
        refused = await post_form(http, f"{CATEGORIES}/{other_id}", {"name": sub})
        assert refused.status_code == 400 and "exists here" in field_error(refused.text, "f-name")
        [other_policy] = await fetch(d, "SELECT id FROM sla_policy WHERE category_id = ?", other_id)
        refused = await post_form(http, f"{POLICIES}/{other_policy['id']}", {**policy, "priority": "high"})
        assert refused.status_code == 400 and "exists" in field_error(refused.text, "f-category-id")
    assert await count(d, "work_category") == categories_before + 1  # only `Other`, made by the command
    assert await count(d, "sla_policy") == policies_before + 1
    [kept] = await fetch(d, "SELECT name, parent_id FROM work_category WHERE id = ?", other_id)
    assert (kept["name"], kept["parent_id"]) == (f"Other {tag}", top_id)


async def test_an_admin_keeps_the_taxonomy_and_the_sla_policies(sqlite_deployment):
    d = sqlite_deployment
    admin = admin_of(d)
    tag = new_id()[:6]
    top, sub = f"Refund {tag}", f"Late {tag}"
    async with signed_in(d.servers[0].url, admin, d.password) as http:
        assert (await post_form(http, CATEGORIES, {"name": top, "parent_id": ""})).status_code == 303
        top_id = await category_id(d, top)
        assert (await post_form(http, CATEGORIES, {"name": sub, "parent_id": str(top_id)})).status_code == 303
        sub_id = await category_id(d, sub)
        page = (await http.get(CATEGORIES)).text
        nested = re.search(rf"{top}</span>.*?Sub-categories of {top}.*?{sub}</span>", page, re.DOTALL)
        assert nested, page
        # A sub-category is no parent: only top-level categories are offered as one.
        parent_select = re.search(r'<select id="f-parent-id".*?</select>', page, re.DOTALL).group(0)
        assert f'value="{top_id}"' in parent_select and f'value="{sub_id}"' not in parent_select

        # Rename keeps the parent; deactivate and reactivate keep the name.
        assert (await post_form(http, f"{CATEGORIES}/{sub_id}", {"name": f"Late delivery {tag}"})).status_code == 303
        assert (await post_form(http, CATEGORIES, {}, action=f"{CATEGORIES}/{sub_id}/deactivate")).status_code == 303
        [row] = await fetch(d, "SELECT name, parent_id, active FROM work_category WHERE id = ?", sub_id)
        assert (row["name"], row["parent_id"], bool(row["active"])) == (f"Late delivery {tag}", top_id, False)
        page = (await http.get(CATEGORIES)).text
        assert f'aria-label="Reactivate {top} › Late delivery {tag}"' in page
        policy_select = re.search(r'<select id="f-category-id".*?</select>', page, re.DOTALL).group(0)
        assert f'value="{sub_id}"' not in policy_select  # not offered while deactivated
        assert (await post_form(http, CATEGORIES, {}, action=f"{CATEGORIES}/{sub_id}/reactivate")).status_code == 303
        assert bool((await fetch(d, "SELECT active FROM work_category WHERE id = ?", sub_id))[0]["active"])

        # Policies: add, edit, delete.
        added = await post_form(http, CATEGORIES, {"category_id": str(sub_id), "priority": "urgent",
                                                   "first_response_minutes": "15", "resolution_minutes": ""},
                                action=POLICIES)
        assert added.status_code == 303, added.text[-2000:]
        [policy] = await fetch(d, "SELECT id, priority, first_response_minutes, resolution_minutes FROM sla_policy "
                                  "WHERE category_id = ?", sub_id)
        assert (policy["priority"], policy["first_response_minutes"], policy["resolution_minutes"]) == ("urgent", 15, None)
        page = (await http.get(CATEGORIES)).text
        assert re.search(rf"<td>{top} › Late delivery {tag}</td>\s*<td>Urgent</td>\s*<td>15</td>\s*<td>—</td>", page)
        edit = await http.get(f"{POLICIES}/{policy['id']}")
        assert edit.status_code == 200 and 'value="15"' in edit.text and '<option value="urgent" selected' in edit.text
        edited = await http.post(f"{POLICIES}/{policy['id']}", data={
            "csrf_token": csrf_of(edit.text), "category_id": str(top_id), "priority": "",
            "first_response_minutes": "30", "resolution_minutes": "600"})
        assert edited.status_code == 303, edited.text[-2000:]
        [policy] = await fetch(d, "SELECT id, category_id, priority, first_response_minutes, resolution_minutes "
                                  "FROM sla_policy WHERE id = ?", policy["id"])
        assert (policy["category_id"], policy["priority"], policy["first_response_minutes"],
                policy["resolution_minutes"]) == (top_id, None, 30, 600)
        deleted = await post_form(http, CATEGORIES, {}, action=f"{POLICIES}/{policy['id']}/delete")
        assert deleted.status_code == 303
        assert not await fetch(d, "SELECT id FROM sla_policy WHERE id = ?", policy["id"])
        gone = await post_form(http, CATEGORIES, {}, action=f"{POLICIES}/{policy['id']}/delete")
        assert gone.status_code == 404
        assert (await http.get(f"{CATEGORIES}/987654")).status_code == 404

    subjects = (f'%"category:{top_id}"%', f'%"category:{sub_id}"%', f'%"sla_policy:{policy["id"]}"%')
    actions = [r["action"] for r in await fetch(
        d, "SELECT action FROM audit_event WHERE CAST(data AS TEXT) LIKE ? OR CAST(data AS TEXT) LIKE ? "
           "OR CAST(data AS TEXT) LIKE ? ORDER BY id", *subjects)]
    assert actions == ["category_create", "category_create", "category_update", "category_update", "category_update",
                       "sla_policy_save", "sla_policy_save", "sla_policy_delete"], actions


async def test_only_admins_with_the_forms_token_change_the_work_setup(sqlite_deployment):
    d = sqlite_deployment
    admin = admin_of(d)
    tag = new_id()[:6]
    made = setup(d, "--team", f"Guarded {tag}", "--category", f"Guarded {tag}", "--sla", f"Guarded {tag}:*:5:")
    team_id = next(t["id"] for t in made["teams"] if t["name"] == f"Guarded {tag}")
    cat_id = next(c["id"] for c in made["categories"] if c["name"] == f"Guarded {tag}")
    policy_id = next(p["id"] for p in made["policies"] if p["category_id"] == cat_id)
    gets = [TEAMS, f"{TEAMS}/new", f"{TEAMS}/{team_id}", CATEGORIES, f"{CATEGORIES}/{cat_id}", f"{POLICIES}/{policy_id}"]
    posts = {
        f"{TEAMS}/new": team_form(f"Sneaky {tag}"), f"{TEAMS}/{team_id}": team_form(f"Sneaky {tag}"),
        CATEGORIES: {"name": f"Sneaky {tag}"}, f"{CATEGORIES}/{cat_id}": {"name": f"Sneaky {tag}"},
        f"{CATEGORIES}/{cat_id}/deactivate": {}, f"{CATEGORIES}/{cat_id}/reactivate": {},
        POLICIES: {"priority": "low", "resolution_minutes": "5"},
        f"{POLICIES}/{policy_id}": {"priority": "low", "resolution_minutes": "5"},
        f"{POLICIES}/{policy_id}/delete": {},
    }
    before = await fetch(d, "SELECT count(*) AS n FROM audit_event")
    for email in ("boss@example.com", "agent@example.com"):
        async with signed_in(d.servers[0].url, email, d.password) as http:
            token = csrf_of((await http.get("/account")).text)  # a valid token of their own session
            for path in gets:
                assert (await http.get(path)).status_code == 403, (email, path)
            for path, data in posts.items():
                assert (await http.post(path, data={**data, "csrf_token": token})).status_code == 403, (email, path)
    async with signed_in(d.servers[0].url, admin, d.password) as http:
        for path, data in posts.items():  # no token, a stale one
            assert (await http.post(path, data=data)).status_code == 403, path
            assert (await http.post(path, data={**data, "csrf_token": "not-the-token"})).status_code == 403, path
        http.cookies.clear()
        for path in gets:
            gone = await http.get(path)
            assert gone.status_code == 303 and gone.headers["location"] == f"/login?next={path}", path
        for path, data in posts.items():
            gone = await http.post(path, data=data)
            assert gone.status_code == 303 and gone.headers["location"].startswith("/login"), path
    assert await fetch(d, "SELECT count(*) AS n FROM audit_event") == before
    assert not await fetch(d, "SELECT id FROM work_team WHERE name = ?", f"Sneaky {tag}")
    assert not await fetch(d, "SELECT id FROM work_category WHERE name = ?", f"Sneaky {tag}")
    [still] = await fetch(d, "SELECT active FROM work_category WHERE id = ?", cat_id)
    assert bool(still["active"])
    assert await fetch(d, "SELECT id FROM sla_policy WHERE id = ?", policy_id)


async def test_the_work_setup_command_is_idempotent(sqlite_deployment):
    d = sqlite_deployment
    tag = new_id()[:6]
    lead = d.create_user(f"lead-{tag}@example.com", "supervisor", f"Lee {tag}")
    back = d.create_user(f"back-{tag}@example.com", "handler", f"Bea {tag}")
    team = f"Logistics {tag}"
    args = ("--team", team, "--members", f"{back['email']},agent@example.com", "--lead", lead["email"],
            "--hours", "mon-fri 09:00-17:00", "--time-zone", "Europe/Berlin", "--holidays", "2026-12-25 closed",
            "--description", "Deliveries", "--category", f"Complaint {tag}/Delivery", "--category", f"Question {tag}",
            "--sla", f"Complaint {tag}/Delivery:high:60:480", "--sla", f"Question {tag}:*::1440")
    audit_before = (await fetch(d, "SELECT count(*) AS n FROM audit_event"))[0]["n"]
    first = setup(d, *args)
    audit_after_first = (await fetch(d, "SELECT count(*) AS n FROM audit_event"))[0]["n"]
    # One team, three categories, two policies: each made once, audited as the operator's.
    assert audit_after_first == audit_before + 6
    second = setup(d, *args)
    assert second == first
    assert (await fetch(d, "SELECT count(*) AS n FROM audit_event"))[0]["n"] == audit_after_first

    [made] = [t for t in first["teams"] if t["name"] == team]
    assert sorted(made["members"]) == sorted([back["email"], "agent@example.com"]) and made["lead"] == lead["email"]
    assert (made["business_hours"], made["time_zone"], made["holidays"], made["description"]) == \
        ("mon-fri 09:00-17:00", "Europe/Berlin", [{"date": "2026-12-25", "hours": None}], "Deliveries")
    paths = {c["path"]: c for c in first["categories"]}
    delivery = paths[f"Complaint {tag} › Delivery"]
    assert delivery["parent_id"] == paths[f"Complaint {tag}"]["id"]
    [policy] = [p for p in first["policies"] if p["category_id"] == delivery["id"]]
    assert (policy["priority"], policy["first_response_minutes"], policy["resolution_minutes"]) == ("high", 60, 480)

    # A change is one audited change; what is not named stays.
    third = setup(d, "--team", team, "--members", back["email"], "--sla", f"Complaint {tag}/Delivery:high:30:480")
    [changed] = [t for t in third["teams"] if t["name"] == team]
    assert changed["members"] == [back["email"]] and changed["lead"] == lead["email"]
    assert changed["time_zone"] == "Europe/Berlin"
    [policy] = [p for p in third["policies"] if p["category_id"] == delivery["id"]]
    assert policy["first_response_minutes"] == 30
    assert (await fetch(d, "SELECT count(*) AS n FROM audit_event"))[0]["n"] == audit_after_first + 2

    # Refusals: the service's message, nothing stored.
    for bad in (("--team", f"Bad {tag}", "--members", "marketer@example.com"),
                ("--team", f"Bad {tag}", "--members", "nobody@example.com"),
                ("--team", f"Bad {tag}", "--time-zone", "Mars/Olympus"),
                ("--category", f"A {tag}/B/C"),
                ("--sla", f"Question {tag}:extreme:5:5"),
                ("--sla", f"Question {tag}:low:0:5"),
                ("--sla", f"Question {tag}:low::")):
        with pytest.raises(RuntimeError, match="error"):
            cli(d.env, "work-setup", *bad)
    assert not await fetch(d, "SELECT id FROM work_team WHERE name = ?", f"Bad {tag}")
    assert not await fetch(d, "SELECT id FROM work_category WHERE name LIKE ?", f"A {tag}%")
    assert (await fetch(d, "SELECT count(*) AS n FROM audit_event"))[0]["n"] == audit_after_first + 2
