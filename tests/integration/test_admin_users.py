"""The Users admin page (/admin/users) and the one-time set-password links, through real servers
(SQLite; PostgreSQL + Redis with two workers where routing or locking is at stake): the list, "Add
user", edit, deactivate, reactivate, reset password; the last-admin guard; every refusal (bad
fields next to their field, other ids, no CSRF, other roles, signed out); the audit rows; and the
CLI's `create-user`, which goes through the same service.

Every test makes its own users and departments (unique names); the deployments are this module's
own, so no other test's chat can reach these CSRs."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import html
import json
import re
import subprocess
import sys
import time
from datetime import timedelta

import httpx
import pytest

from app.clock import utcnow
from app.models import PasswordToken
from tests.support import clients
from tests.support.clients import new_id
from tests.support.db import fetch
from tests.support.inprocess import database
from tests.support.server import ROOT, Deployment, cli, deploy

WAIT = 30.0
GOOD_PASSWORD = "a-long-new-password"


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

def tag() -> str:
    return new_id()[:8]


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def field_error(page: str, field: str) -> str | None:
    """The message shown next to a field of the form (None: no message there)."""
    found = re.search(rf'id="f-{field.replace("_", "-")}-error">([^<]*)<', page)
    return html.unescape(found.group(1)) if found else None


def link_of(page: str) -> str:
    return html.unescape(re.search(r'id="set-password-link"[^>]*value="([^"]+)"', page).group(1))


def rows_of(page: str) -> dict[str, list[str]]:
    """The users table: {name: [email, role, departments, capacity, state, last sign-in]}."""
    rows = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", page, re.S):
        cells = [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", c)).split())
                 for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        if len(cells) >= 7 and cells[0] != "Name":
            rows[cells[0]] = cells[1:7]
    return rows


def new_admin(d: Deployment, t: str) -> str:
    email = f"ada-{t}@example.com"
    d.create_user(email, "admin", f"Ada {t}")
    return email


def new_department(d: Deployment, name: str, *members: str) -> int:
    args = sum((["--member", m] for m in members), [])
    return json.loads(cli(d.env, "create-department", "--site", d.site_key, "--name", name, *args, "--json"))["id"]


@contextlib.asynccontextmanager
async def signed_in(base_url: str, email: str, password: str):
    async with httpx.AsyncClient(base_url=base_url, follow_redirects=False, timeout=60) as http:
        page = await http.get("/login")
        done = await http.post("/login", data={"email": email, "password": password, "csrf_token": csrf_of(page.text)})
        assert done.status_code == 303, done.text
        yield http


async def sign_in_status(base_url: str, email: str, password: str) -> int:
    async with httpx.AsyncClient(base_url=base_url, follow_redirects=False, timeout=60) as http:
        page = await http.get("/login")
        return (await http.post("/login", data={"email": email, "password": password,
                                                "csrf_token": csrf_of(page.text)})).status_code


async def form_token(http: httpx.AsyncClient) -> str:
    page = await http.get("/admin/users")
    assert page.status_code == 200, page.status_code
    return csrf_of(page.text)


async def user_row(d: Deployment, email: str) -> dict | None:
    rows = await fetch(d, "SELECT id, email, display_name, role, max_chats, skills, is_active, password_hash "
                          "FROM app_user WHERE email = ?", email)
    return rows[0] if rows else None


async def departments_of(d: Deployment, user_id: int) -> list[int]:
    rows = await fetch(d, "SELECT department_id FROM user_department WHERE app_user_id = ? ORDER BY department_id",
                       user_id)
    return [r["department_id"] for r in rows]


def plain(value):
    return json.loads(value) if isinstance(value, str) else value


async def audit_of(d: Deployment, user_id: int) -> list[dict]:
    rows = await fetch(d, "SELECT actor_id, action, target_user_id, data FROM audit_event WHERE target_user_id = ? "
                          "ORDER BY id", user_id)
    return [{**r, "data": plain(r["data"])} for r in rows]


async def disconnected(client: clients.Client) -> None:
    deadline = time.monotonic() + WAIT
    while client.connected:  # the client's own state, polled
        assert time.monotonic() < deadline, "the socket stayed connected"
        await asyncio.sleep(0.05)


async def count_users(d: Deployment) -> int:
    return (await fetch(d, "SELECT count(*) AS n FROM app_user"))[0]["n"]


# -- the list --------------------------------------------------------------------------------------

async def test_the_list_shows_role_departments_capacity_state_and_last_sign_in(site):
    d, t = site, tag()
    admin = new_admin(d, t)
    csr, boss = f"cara-{t}@example.com", f"sol-{t}@example.com"
    d.create_user(csr, "agent", f"Cara {t}", max_chats=None)
    d.create_user(boss, "supervisor", f"Sol {t}", max_chats=4)
    json.loads(cli(d.env, "create-department", "--site", d.site_key, "--name", f"Sales {t}", "--member", f"{csr}:7",
                   "--default-max-chats", "5", "--json"))
    async with signed_in(d.server.url, admin, d.password) as http:
        page = await http.get("/admin/users", params={"q": t})
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        rows = rows_of(page.text)
        assert list(rows) == [f"Ada {t}", f"Cara {t}", f"Sol {t}"]  # by name
        assert rows[f"Cara {t}"] == [csr, "CSR", f"Sales {t} · level 7", "Default (5)", "Active · Offline", "Never"]
        assert rows[f"Sol {t}"][1:5] == ["Supervisor", "None", "4", "Active · Offline"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", rows[f"Ada {t}"][5]), rows[f"Ada {t}"]
        assert f'aria-label="Deactivate Cara {t}"' in page.text
        assert f'aria-label="Deactivate Ada {t}"' not in page.text  # not oneself

        supervisors = rows_of((await http.get("/admin/users", params={"q": t, "role": "supervisor"})).text)
        assert list(supervisors) == [f"Sol {t}"]
        by_mail = rows_of((await http.get("/admin/users", params={"q": f"CARA-{t}@"})).text)
        assert list(by_mail) == [f"Cara {t}"]
        nobody = await http.get("/admin/users", params={"q": t, "state": "deactivated"})
        assert rows_of(nobody.text) == {} and "No user matches these filters." in nobody.text
        # Filters it does not know are ignored, and a long search is cut, never an error.
        odd = await http.get("/admin/users", params={"q": "x" * 5000, "role": "root", "state": "?"})
        assert odd.status_code == 200


# -- add user, the link --------------------------------------------------------------------------

async def test_a_new_user_sets_their_password_once_with_the_link_shown_to_the_admin(floor):
    d, t = floor, tag()
    admin = new_admin(d, t)
    department = new_department(d, f"Support {t}")
    email = f"Nia.{t}@Example.COM"
    async with signed_in(d.servers[0].url, admin, d.password) as http:
        made = await http.post("/admin/users", data={
            "csrf_token": await form_token(http), "email": email, "name": f"  Nia   New {t} ", "role": "agent",
            "departments": [str(department)], f"skill_{department}": "7", "capacity": "2"})
        assert made.status_code == 200, made.text
        link = link_of(made.text)
        assert link.startswith(d.servers[0].url + "/set-password/")
        assert f"Set-password link for Nia New {t}" in made.text and "Copy link" in made.text
        assert link not in (await http.get("/admin/users")).text  # shown once
        admin_id = (await user_row(d, admin))["id"]

    user = await user_row(d, email.lower())
    assert (user["display_name"], user["role"], user["max_chats"], user["is_active"]) == (f"Nia New {t}", "agent", 2, True)
    assert plain(user["skills"]) == {str(department): 7}
    assert await departments_of(d, user["id"]) == [department]
    token = link.rsplit("/", 1)[1]
    tokens = await fetch(d, "SELECT token_hash, purpose, created_by_id, created_at, expires_at, used_at "
                            "FROM password_token WHERE user_id = ?", user["id"])
    assert len(tokens) == 1 and tokens[0]["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert (tokens[0]["purpose"], tokens[0]["created_by_id"], tokens[0]["used_at"]) == ("invite", admin_id, None)
    assert tokens[0]["expires_at"] - tokens[0]["created_at"] == timedelta(hours=72)

    # Before the password is set, nothing signs them in.
    assert await sign_in_status(d.servers[-1].url, email, d.password) == 401

    async with httpx.AsyncClient(follow_redirects=False, timeout=60) as newcomer:
        page = await newcomer.get(link)
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        assert email.lower() in page.text
        csrf = csrf_of(page.text)
        short = await newcomer.post(link, data={"csrf_token": csrf, "password": "short", "repeat_password": "short"})
        assert short.status_code == 400 and "at least 10 characters" in short.text
        differ = await newcomer.post(link, data={"csrf_token": csrf, "password": GOOD_PASSWORD,
                                                 "repeat_password": GOOD_PASSWORD + "!"})
        assert differ.status_code == 400 and "do not match" in differ.text
        huge = await newcomer.post(link, data={"csrf_token": csrf, "password": "p" * 2000, "repeat_password": "p" * 2000})
        assert huge.status_code == 400 and "at most 1024" in huge.text
        forged = await newcomer.post(link, data={"password": GOOD_PASSWORD, "repeat_password": GOOD_PASSWORD})
        assert forged.status_code == 403
        assert (await user_row(d, email.lower()))["password_hash"] == user["password_hash"]  # nothing stored

        done = await newcomer.post(link, data={"csrf_token": csrf, "password": GOOD_PASSWORD,
                                               "repeat_password": GOOD_PASSWORD})
        assert done.status_code == 200 and "Your password is set" in done.text
        assert 'action="/login"' in done.text  # a sign-in form, with the message
        again = await newcomer.post(link, data={"csrf_token": csrf, "password": "another-password-1",
                                                "repeat_password": "another-password-1"})
        assert again.status_code == 410 and "used already" in again.text
        assert (await newcomer.get(link)).status_code == 410
    assert await sign_in_status(d.servers[-1].url, email, GOOD_PASSWORD) == 303
    assert await sign_in_status(d.servers[-1].url, email, "another-password-1") == 401

    audit = await audit_of(d, user["id"])
    assert [(r["action"], r["actor_id"]) for r in audit] == [
        ("user_create", admin_id), ("password_link", admin_id), ("password_set", user["id"])]
    assert audit[0]["data"]["after"] == {"email": email.lower(), "name": f"Nia New {t}", "role": "agent", "capacity": 2,
                                         "departments": {str(department): 7}, "active": True}
    assert token not in json.dumps([r["data"] for r in audit])


async def test_reset_password_voids_older_links_and_using_it_ends_the_users_sessions(site):
    d, t = site, tag()
    admin = new_admin(d, t)
    email = f"rex-{t}@example.com"
    user_id = d.create_user(email, "agent", f"Rex {t}")["id"]
    async with signed_in(d.server.url, admin, d.password) as http, signed_in(d.server.url, email, d.password) as rex:
        token = await form_token(http)
        first = link_of((await http.post(f"/admin/users/{user_id}/password-link", data={"csrf_token": token})).text)
        second_page = await http.post(f"/admin/users/{user_id}/password-link", data={"csrf_token": token})
        assert second_page.status_code == 200 and "older links no longer work" in second_page.text
        second = link_of(second_page.text)
        assert first != second
        # Until a link is used, the current password still works.
        assert (await rex.get("/console")).status_code == 200
        async with httpx.AsyncClient(timeout=60) as b:
            replaced = await b.get(first)
        assert replaced.status_code == 410 and "expired or was replaced" in replaced.text

        async with httpx.AsyncClient(follow_redirects=False, timeout=60) as b:
            page = await b.get(second)
            done = await b.post(second, data={"csrf_token": csrf_of(page.text), "password": GOOD_PASSWORD,
                                              "repeat_password": GOOD_PASSWORD})
            assert done.status_code == 200, done.text
        ended = await rex.get("/console")
        assert ended.status_code == 303 and ended.headers["location"].startswith("/login")
    assert await sign_in_status(d.server.url, email, d.password) == 401
    assert await sign_in_status(d.server.url, email, GOOD_PASSWORD) == 303
    sessions = await fetch(d, "SELECT revoked_reason FROM staff_session WHERE user_id = ? AND revoked_reason IS NOT NULL",
                           user_id)
    assert "password_set" in [s["revoked_reason"] for s in sessions]
    actions = [(r["action"], r["data"].get("purpose")) for r in await audit_of(d, user_id)]
    assert actions[-3:] == [("password_link", "reset"), ("password_link", "reset"), ("password_set", "reset")]


async def test_an_expired_link_sets_nothing(site):
    d, t = site, tag()
    admin = new_admin(d, t)
    email = f"exp-{t}@example.com"
    async with signed_in(d.server.url, admin, d.password) as http:
        made = await http.post("/admin/users", data={"csrf_token": await form_token(http), "email": email,
                                                     "name": f"Exp {t}", "role": "agent"})
        link = link_of(made.text)
    user = await user_row(d, email)
    async with httpx.AsyncClient(follow_redirects=False, timeout=60) as b:
        csrf = csrf_of((await b.get(link)).text)
        async with database(d):  # 72 hours later
            await PasswordToken.filter(user_id=user["id"]).update(expires_at=utcnow() - timedelta(seconds=1))
        page = await b.get(link)
        assert page.status_code == 410 and "This link has expired" in page.text
        refused = await b.post(link, data={"csrf_token": csrf, "password": GOOD_PASSWORD,
                                           "repeat_password": GOOD_PASSWORD})
        assert refused.status_code == 410 and "This link has expired" in refused.text
    assert (await user_row(d, email))["password_hash"] == user["password_hash"]
    assert await sign_in_status(d.server.url, email, GOOD_PASSWORD) == 401


# -- edit ------------------------------------------------------------------------------------------

async def test_an_edit_reaches_routing_at_once_on_every_worker(floor):
    d, t = floor, tag()
    admin = new_admin(d, t)
    email = f"eli-{t}@example.com"
    user_id = d.create_user(email, "agent", f"Eli {t}", max_chats=1)["id"]
    department = new_department(d, f"Billing {t}")  # Eli is not in it yet
    agent = await clients.agent(d.servers[-1].url, email, d.password)
    visitors = []

    async def ask(body: str) -> int:
        visitor = await clients.visitor(d.servers[-1].url, d.site_key, d.origin)
        visitors.append(visitor)
        sent = await visitor.call("message", {"client_id": new_id(), "body": body, "department_id": department})
        assert sent["ok"], sent
        return sent["conversation_id"]

    try:
        assert (await agent.call("set_status", {"status": "available"}))["ok"]
        first = await ask("A billing question")
        async with signed_in(d.servers[0].url, admin, d.password) as http:
            token = await form_token(http)
            edit = await http.get(f"/admin/users/{user_id}")
            assert edit.status_code == 200 and f"Edit Eli {t}" in edit.text
            saved = await http.post(f"/admin/users/{user_id}", data={
                "csrf_token": token, "name": f"Eli Edited {t}", "role": "agent", "departments": [str(department)],
                f"skill_{department}": "3", "capacity": "1"})
            assert saved.status_code == 303 and saved.headers["location"] == f"/admin/users?done=saved&user={user_id}"
            # In Billing now: the waiting chat reaches them at once (the admin was on the other worker).
            await agent.rec.wait_for("conversation.assigned", lambda c: c["id"] == first, timeout=WAIT)
            notice = await http.get(saved.headers["location"])
            assert f"Eli Edited {t}: changes saved." in notice.text

            # Full at one chat; a second one waits until the capacity is raised.
            second = await ask("Another billing question")
            status = (await fetch(d, "SELECT status FROM conversation WHERE id = ?", second))[0]["status"]
            assert status == "waiting"
            raised = await http.post(f"/admin/users/{user_id}", data={
                "csrf_token": token, "name": f"Eli Edited {t}", "role": "agent", "departments": [str(department)],
                f"skill_{department}": "3", "capacity": "2"})
            assert raised.status_code == 303
            await agent.rec.wait_for("conversation.assigned", lambda c: c["id"] == second, timeout=WAIT)

            row = await user_row(d, email)
            assert (row["display_name"], row["max_chats"], plain(row["skills"])) == (f"Eli Edited {t}", 2,
                                                                                     {str(department): 3})
            updates = [r for r in await audit_of(d, user_id) if r["action"] == "user_update"]
            assert [u["data"]["before"] for u in updates] == [{"name": f"Eli {t}", "departments": {}}, {"capacity": 1}]
            assert [u["data"]["after"] for u in updates] == [
                {"name": f"Eli Edited {t}", "departments": {str(department): 3}}, {"capacity": 2}]

            # A new role: their consoles reconnect (on every worker) to join the new role's rooms.
            promoted = await http.post(f"/admin/users/{user_id}", data={
                "csrf_token": token, "name": f"Eli Edited {t}", "role": "supervisor", "departments": [str(department)],
                f"skill_{department}": "3", "capacity": "2"})
            assert promoted.status_code == 303
            await disconnected(agent)
            assert (await user_row(d, email))["role"] == "supervisor"
            # Out of the department again: the membership and the skill go.
            left = await http.post(f"/admin/users/{user_id}", data={
                "csrf_token": token, "name": f"Eli Edited {t}", "role": "supervisor", "capacity": ""})
            assert left.status_code == 303
            row = await user_row(d, email)
            assert (row["max_chats"], plain(row["skills"])) == (None, {})
            assert await departments_of(d, user_id) == []
    finally:
        for visitor in visitors:
            await visitor.disconnect()
        await agent.disconnect()


# -- deactivate, reactivate ------------------------------------------------------------------------

async def test_deactivating_signs_out_at_once_requeues_the_chats_and_keeps_the_history(floor):
    d, t = floor, tag()
    admin = new_admin(d, t)
    gone_email, colleague_email = f"gus-{t}@example.com", f"cleo-{t}@example.com"
    gone_id = d.create_user(gone_email, "agent", f"Gus {t}", max_chats=2)["id"]
    d.create_user(colleague_email, "agent", f"Cleo {t}", max_chats=2)
    department = new_department(d, f"Returns {t}", gone_email, colleague_email)
    gone = await clients.agent(d.servers[-1].url, gone_email, d.password)
    colleague = await clients.agent(d.servers[0].url, colleague_email, d.password)
    visitor = await clients.visitor(d.servers[0].url, d.site_key, d.origin)
    try:
        async with signed_in(d.servers[-1].url, gone_email, d.password) as gone_browser:
            assert (await gone.call("set_status", {"status": "available"}))["ok"]
            sent = await visitor.call("message", {"client_id": new_id(), "body": "Where is my parcel?",
                                                  "department_id": department})
            cid = sent["conversation_id"]
            await gone.rec.wait_for("conversation.assigned", lambda c: c["id"] == cid, timeout=WAIT)
            assert (await gone.call("message", {"conversation_id": cid, "client_id": new_id(),
                                                "body": f"Looking into it {t}"}))["ok"]
            assert (await colleague.call("set_status", {"status": "available"}))["ok"]

            async with signed_in(d.servers[0].url, admin, d.password) as http:
                token = await form_token(http)
                done = await http.post(f"/admin/users/{gone_id}/deactivate", data={"csrf_token": token})
                assert done.status_code == 303, done.text
                assert done.headers["location"] == f"/admin/users?done=deactivated&user={gone_id}"
                await disconnected(gone)
                await colleague.rec.wait_for("conversation.assigned", lambda c: c["id"] == cid, timeout=WAIT)
                ended = await gone_browser.get("/console")
                assert ended.status_code == 303 and ended.headers["location"].startswith("/login")
                assert await sign_in_status(d.servers[0].url, gone_email, d.password) == 401

                page = await http.get(done.headers["location"])
                assert f"Gus {t} is deactivated" in page.text
                assert rows_of(page.text)[f"Gus {t}"][4] == "Deactivated"
                assert f'aria-label="Reactivate Gus {t}"' in page.text
                twice = await http.post(f"/admin/users/{gone_id}/deactivate", data={"csrf_token": token})
                assert twice.status_code == 409 and "deactivated already" in twice.text

                # Their history and numbers stay.
                kept = await fetch(d, "SELECT author_id FROM message WHERE conversation_id = ? AND body = ?", cid,
                                   f"Looking into it {t}")
                assert [k["author_id"] for k in kept] == [gone_id]
                assert await fetch(d, "SELECT id FROM conversation_event WHERE conversation_id = ? AND kind = 'assigned' "
                                      "AND agent_id = ?", cid, gone_id)
                row = await user_row(d, gone_email)
                assert row["is_active"] in (False, 0) and await departments_of(d, gone_id) == [department]

                back = await http.post(f"/admin/users/{gone_id}/reactivate", data={"csrf_token": token})
                assert back.status_code == 303
                assert "is active again" in (await http.get(back.headers["location"])).text
                again = await http.post(f"/admin/users/{gone_id}/reactivate", data={"csrf_token": token})
                assert again.status_code == 409 and "active already" in again.text
        assert await sign_in_status(d.servers[-1].url, gone_email, d.password) == 303
        admin_id = (await user_row(d, admin))["id"]
        actions = [(r["action"], r["actor_id"]) for r in await audit_of(d, gone_id)]
        assert actions[-2:] == [("deactivate", admin_id), ("reactivate", admin_id)]
    finally:
        await visitor.disconnect()
        await gone.disconnect()
        await clients.sign_off(colleague)
        await colleague.disconnect()


@pytest.fixture(params=["sqlite", "postgres"])
def fresh(request):
    """A deployment of the test's own: no other test's admins count."""
    database_url = request.getfixturevalue("new_postgres_database")() if request.param == "postgres" else None
    d = deploy(database_url=database_url, redis_url=None, processes=1)
    yield d
    d.stop()


async def test_the_last_active_admin_can_be_neither_deactivated_nor_demoted(fresh):
    d = fresh
    t = tag()
    solo = new_admin(d, t)
    solo_id = (await user_row(d, solo))["id"]
    async with signed_in(d.server.url, solo, d.password) as http:
        token = await form_token(http)
        mine = await http.post(f"/admin/users/{solo_id}/deactivate", data={"csrf_token": token})
        assert mine.status_code == 409 and "You cannot deactivate your own account." in mine.text
        demoted = await http.post(f"/admin/users/{solo_id}", data={"csrf_token": token, "name": f"Ada {t}",
                                                                    "role": "agent"})
        assert demoted.status_code == 400
        assert "last active admin" in field_error(demoted.text, "role")
        row = await user_row(d, solo)
        assert (row["role"], row["is_active"]) in (("admin", True), ("admin", 1))

    # Two admins demote each other at the same moment: one of them stays an admin.
    other = f"bo-{t}@example.com"
    other_id = d.create_user(other, "admin", f"Bo {t}")["id"]
    async with signed_in(d.server.url, solo, d.password) as a, signed_in(d.server.url, other, d.password) as b:
        tokens = [await form_token(a), await form_token(b)]
        answers = await asyncio.gather(
            a.post(f"/admin/users/{other_id}", data={"csrf_token": tokens[0], "name": f"Bo {t}", "role": "agent"}),
            b.post(f"/admin/users/{solo_id}", data={"csrf_token": tokens[1], "name": f"Ada {t}", "role": "agent"}))
    assert sorted(r.status_code for r in answers) in ([303, 400], [303, 403]), [r.status_code for r in answers]
    admins = await fetch(d, "SELECT id FROM app_user WHERE role = 'admin' AND is_active = ?", True)
    assert len(admins) == 1


# -- refusals --------------------------------------------------------------------------------------

BAD_NEW_USERS = [
    ("email", {"email": "not-an-email"}, "is not an e-mail address"),
    ("email", {"email": ""}, "Enter an e-mail address."),
    ("email", {"email": "x" * 250 + "@example.com"}, "At most 254 characters."),
    ("email", {"email": "a b@example.com"}, "is not an e-mail address"),
    ("name", {"name": ""}, "Enter a name."),
    ("name", {"name": "n" * 101}, "At most 100 characters."),
    ("name", {"name": "n" * 200_000}, "At most 100 characters."),
    ("role", {"role": "root"}, "Choose a role from the list"),
    ("role", {"role": ""}, "Choose a role."),
    ("capacity", {"capacity": "0"}, "Capacity must be between 1 and 50."),
    ("capacity", {"capacity": "1000"}, "Capacity must be between 1 and 50."),
    ("capacity", {"capacity": "-3"}, "Capacity must be between 1 and 50."),
    ("capacity", {"capacity": "2.5"}, "Capacity must be a whole number."),
    ("capacity", {"capacity": "two"}, "Capacity must be a whole number."),
    ("capacity", {"capacity": "²"}, "Capacity must be a whole number."),
    ("capacity", {"capacity": "9" * 40}, "Capacity must be a whole number."),
    ("departments", {"departments": ["999999"]}, "There is no such department"),
    ("departments", {"departments": ["sales"]}, "There is no such department"),
    ("departments", {"departments": ["99999999999999999"]}, "There is no such department"),
    ("skill", {"skill": "0"}, "Skill level must be between 1 and 10."),
    ("skill", {"skill": "11"}, "Skill level must be between 1 and 10."),
    ("skill", {"skill": "high"}, "Skill level must be a whole number."),
    ("departments", {"role": "marketer"}, "Marketers take no chats"),
]


async def test_bad_input_shows_next_to_its_field_and_stores_nothing(site):
    d, t = site, tag()
    admin = new_admin(d, t)
    taken = f"Taken-{t}@example.com"
    d.create_user(taken.lower(), "agent", f"Taken {t}")
    department = new_department(d, f"Forms {t}")
    async with signed_in(d.server.url, admin, d.password) as http:
        token = await form_token(http)
        before = await count_users(d)
        cases = [*BAD_NEW_USERS, ("email", {"email": taken.upper()}, "exists already")]
        for field, change, message in cases:
            email, change = f"bad-{new_id()[:8]}@example.com", dict(change)
            form = {"csrf_token": token, "email": email, "name": f"Bad {t}", "role": "agent", "capacity": "3",
                    "departments": [str(department)], f"skill_{department}": "5"}
            if "skill" in change:
                form[f"skill_{department}"] = change.pop("skill")
                field = f"skill_{department}"
            form.update(change)
            answer = await http.post("/admin/users", data=form)
            assert answer.status_code == 400, (field, change, answer.status_code)
            shown = field_error(answer.text, field)
            assert shown is not None and message in shown, (field, change, shown)
            assert "Nothing was saved" in answer.text
            if field != "email":  # what was typed is shown again
                assert f'value="{email}"' in answer.text
        assert await count_users(d) == before

        # Several bad fields at once: each one's message, each next to its field.
        answer = await http.post("/admin/users", data={"csrf_token": token, "email": "nope", "name": "",
                                                       "role": "boss", "capacity": "1000"})
        assert answer.status_code == 400
        assert [bool(field_error(answer.text, f)) for f in ("email", "name", "role", "capacity")] == [True] * 4

        # The edit form refuses the same way.
        user_id = d.create_user(f"ed-{t}@example.com", "agent", f"Ed {t}")["id"]
        before_row = await user_row(d, f"ed-{t}@example.com")
        for field, change, message in [
            ("capacity", {"capacity": "1000"}, "between 1 and 50"), ("capacity", {"capacity": "0"}, "between 1 and 50"),
            ("role", {"role": "owner"}, "Choose a role"), ("name", {"name": " "}, "Enter a name."),
            ("departments", {"departments": ["424242"]}, "There is no such department"),
            (f"skill_{department}", {"departments": [str(department)], f"skill_{department}": "12"}, "between 1 and 10"),
        ]:
            answer = await http.post(f"/admin/users/{user_id}", data={"csrf_token": token, "name": f"Ed {t}",
                                                                      "role": "agent", **change})
            assert answer.status_code == 400, (field, answer.status_code)
            assert message in (field_error(answer.text, field) or ""), (field, field_error(answer.text, field))
        assert await user_row(d, f"ed-{t}@example.com") == before_row
        assert await departments_of(d, user_id) == []


async def test_other_ids_roles_and_forms_without_csrf_are_refused(site):
    d, t = site, tag()
    admin = new_admin(d, t)
    target_email = f"tia-{t}@example.com"
    target = d.create_user(target_email, "agent", f"Tia {t}")["id"]
    posts = ["/admin/users", f"/admin/users/{target}", f"/admin/users/{target}/deactivate",
             f"/admin/users/{target}/reactivate", f"/admin/users/{target}/password-link"]
    form = {"email": f"new-{t}@example.com", "name": f"Tia {t}", "role": "admin", "capacity": "9"}
    before = await count_users(d)
    target_before = await user_row(d, target_email)

    # Signed out: to the sign-in page.
    async with httpx.AsyncClient(base_url=d.server.url, follow_redirects=False, timeout=60) as anonymous:
        page = await anonymous.get("/admin/users")
        assert page.status_code == 303 and page.headers["location"] == "/login?next=/admin/users"
        for path in posts:
            assert (await anonymous.post(path, data=form)).status_code == 303, path
        assert (await anonymous.get(f"/admin/users/{target}")).status_code == 303

    # Other roles: 403, whatever they post.
    for role in ("agent", "supervisor", "marketer"):
        email = f"{role}-{t}@example.com"
        d.create_user(email, role)
        async with signed_in(d.server.url, email, d.password) as http:
            assert (await http.get("/admin/users")).status_code == 403
            assert (await http.get(f"/admin/users/{target}")).status_code == 403
            token = csrf_of((await http.get("/account")).text)
            for path in posts:
                assert (await http.post(path, data={**form, "csrf_token": token})).status_code == 403, (role, path)

    async with signed_in(d.server.url, admin, d.password) as http:
        token = await form_token(http)
        # No CSRF token, a wrong one, or a JSON body (no form at all): 403.
        for path in posts:
            assert (await http.post(path, data=form)).status_code == 403, path
            assert (await http.post(path, data={**form, "csrf_token": token + "x"})).status_code == 403, path
            assert (await http.post(path, json={**form, "csrf_token": token})).status_code == 403, path
        # Users that do not exist: 404.
        for missing in ("987654", "99999999999999999999"):
            assert (await http.get(f"/admin/users/{missing}")).status_code == 404
            for action in ("", "/deactivate", "/reactivate", "/password-link"):
                answer = await http.post(f"/admin/users/{missing}{action}",
                                         data={**form, "csrf_token": token})
                assert answer.status_code == 404, (missing, action, answer.status_code)
        assert (await http.get("/admin/users/abc")).status_code == 404
    assert await count_users(d) == before + 3
    assert await user_row(d, target_email) == target_before
    assert await fetch(d, "SELECT id FROM password_token WHERE user_id = ?", target) == []

    # Links that are not links.
    async with httpx.AsyncClient(base_url=d.server.url, follow_redirects=False, timeout=60) as b:
        for token in ("nope", "a" * 43, "x" * 500, "a.b!c"):
            page = await b.get(f"/set-password/{token}")
            assert page.status_code == 404 and "This link is not valid" in page.text, token
        page = await b.get("/login")  # the same browser session: its CSRF token
        posted = await b.post("/set-password/" + "a" * 43, data={"csrf_token": csrf_of(page.text),
                                                                  "password": GOOD_PASSWORD,
                                                                  "repeat_password": GOOD_PASSWORD})
        assert posted.status_code == 404
        assert (await b.post("/set-password/" + "a" * 43, data={"password": GOOD_PASSWORD})).status_code == 403


# -- the CLI ---------------------------------------------------------------------------------------

async def test_the_cli_creates_users_through_the_same_service(site):
    d, t = site, tag()
    out = cli(d.env, "create-user", "--email", f"Cli-{t}@Example.com", "--password", "cli-password", "--role",
              "supervisor", "--name", f"Cli {t}", "--max-chats", "4")
    found = re.fullmatch(rf"Created supervisor cli-{t}@example\.com \(id (\d+)\)\.\n", out)
    assert found, out
    user_id = int(found.group(1))
    made = json.loads(cli(d.env, "create-user", "--email", f"json-{t}@example.com", "--password", "cli-password",
                          "--json"))
    assert made == {"id": made["id"], "email": f"json-{t}@example.com", "role": "agent"}
    row = await user_row(d, f"json-{t}@example.com")
    assert (row["display_name"], row["max_chats"]) == (f"json-{t}", None)

    for args, message in [
        (["--email", f"CLI-{t}@example.com", "--password", "cli-password"], "exists already"),
        (["--email", f"short-{t}@example.com", "--password", "short"], "at least 8 characters"),
        (["--email", f"cap-{t}@example.com", "--password", "cli-password", "--max-chats", "0"], "between 1 and 50"),
        (["--email", "nobody", "--password", "cli-password"], "is not an e-mail address"),
    ]:
        result = subprocess.run([sys.executable, "-m", "app", "create-user", *args], cwd=ROOT, env=d.env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 2 and result.stderr.startswith("error: ") and message in result.stderr, result
    assert await user_row(d, f"short-{t}@example.com") is None

    assert await sign_in_status(d.server.url, f"cli-{t}@example.com", "cli-password") == 303
    audit = await audit_of(d, user_id)
    assert [(r["action"], r["actor_id"]) for r in audit] == [("user_create", None)]
    assert audit[0]["data"]["after"]["role"] == "supervisor" and audit[0]["data"]["after"]["capacity"] == 4
