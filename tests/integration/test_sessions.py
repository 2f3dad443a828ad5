"""Staff sessions live on the server: sign-out, a password change, deactivation, "sign out everywhere"
(by the user, an admin or the command line), idle time and the absolute lifetime end them — the
cookie, its copies, the socket tokens issued to them and the sockets open with them. Socket tokens
live minutes and are renewed from POST /api/socket-token."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from datetime import timedelta

import httpx
import pytest
import socketio
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from app.clock import utcnow
from app.models import StaffSession
from tests.support import clients
from tests.support.clients import new_id
from tests.support.db import fetch
from tests.support.inprocess import database
from tests.support.server import Deployment, cli, deploy
from tests.support.web import csrf_of, signed_in

WAIT = 20.0


def socket_token_of(html: str) -> str:
    return re.search(r'name="switchboard-socket-token" content="([^"]+)"', html).group(1)


browser = signed_in


@contextlib.asynccontextmanager
async def copy_of(http: httpx.AsyncClient, base_url: str | None = None):
    """Another client holding a copy of `http`'s cookies (a stolen cookie)."""
    async with httpx.AsyncClient(base_url=base_url or http.base_url, follow_redirects=False, timeout=30,
                                 cookies=dict(http.cookies)) as copy:
        yield copy


async def page_token(http: httpx.AsyncClient) -> str:
    console = await http.get("/console")
    assert console.status_code == 200, console.status_code
    return socket_token_of(console.text)


async def refusal(url: str, token: object) -> dict:
    client = clients.Client("/agent")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.sio.connect(url, namespaces=["/agent"], auth={"token": token}, transports=["websocket"],
                                 wait_timeout=10)
    await client.sio.disconnect()
    error = client.connect_error or {}
    return error.get("data", error)


async def disconnected(client: clients.Client) -> None:
    deadline = time.monotonic() + WAIT
    while client.connected:  # polling the client's own state, not the server's
        assert time.monotonic() < deadline, "the socket stayed connected"
        await asyncio.sleep(0.05)


def code(ack: dict) -> str | None:
    return None if ack.get("ok") else ack["error"]["code"]


def new_user(deployment: Deployment, role: str = "agent") -> str:
    email = f"{role}-{new_id()[:8]}@example.com"
    deployment.create_user(email, role)
    return email


async def account_form(http: httpx.AsyncClient) -> str:
    page = await http.get("/account")
    assert page.status_code == 200, page.status_code
    return csrf_of(page.text)


async def test_a_cookie_copied_before_sign_out_opens_nothing_after_it(sqlite_deployment):
    d = sqlite_deployment
    email = new_user(d, "admin")
    async with browser(d.server.url, email, d.password) as http, copy_of(http) as stolen:
        export = "/api/admin/visitors/v_nobody/export"
        assert (await stolen.get("/console")).status_code == 200
        assert (await stolen.get(export)).status_code == 404  # signed in: the visitor is unknown
        console = await http.get("/console")
        token = re.search(r'name="csrf-token" content="([^"]+)"', console.text).group(1)
        assert (await http.post("/logout", data={"csrf_token": token})).status_code == 303

        refused = await stolen.get("/console")
        assert refused.status_code == 303 and refused.headers["location"] == "/login?next=/console"
        assert (await stolen.get(export)).status_code == 401
        assert (await stolen.get("/account")).status_code == 303
    rows = await fetch(d, "SELECT s.revoked_reason FROM staff_session s JOIN app_user u ON u.id = s.user_id "
                          "WHERE u.email = ?", email)
    assert [r["revoked_reason"] for r in rows] == ["signed_out"]


async def test_sign_out_ends_that_sessions_sockets_and_tokens_on_every_worker(deployment):
    """The socket sits on the other worker than the sign-out; another session of the same user
    stays connected."""
    d = deployment
    email = new_user(d)
    first, last = d.servers[0].url, d.servers[-1].url
    async with browser(first, email, d.password) as http, browser(last, email, d.password) as elsewhere:
        token = await page_token(http)
        live = await clients.agent(last, email, d.password, token=token)
        other = await clients.agent(first, email, d.password, token=await page_token(elsewhere))
        try:
            console = await http.get("/console")
            csrf = re.search(r'name="csrf-token" content="([^"]+)"', console.text).group(1)
            assert (await http.post("/logout", data={"csrf_token": csrf})).status_code == 303

            await disconnected(live)
            for url in (first, last):
                assert (await refusal(url, token))["code"] == "unauthorized"
            assert other.connected and (await other.call("list", {}))["ok"]
        finally:
            await live.disconnect()
            await clients.sign_off(other)
            await other.disconnect()


async def test_the_token_endpoint_renews_for_a_live_session_only(sqlite_deployment):
    d = sqlite_deployment
    email = new_user(d)
    async with httpx.AsyncClient(base_url=d.server.url, timeout=30) as anonymous:
        response = await anonymous.post("/api/socket-token", headers={"x-csrf-token": "x"})
        assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
    async with browser(d.server.url, email, d.password) as http:
        console = await http.get("/console")
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', console.text).group(1)
        assert 'name="switchboard-socket-token-seconds" content="300"' in console.text
        assert (await http.get("/api/socket-token")).status_code == 405
        for headers in ({}, {"x-csrf-token": ""}, {"x-csrf-token": "not-the-token"}, {"x-csrf-token": "x" * 5000}):
            response = await http.post("/api/socket-token", headers=headers)
            assert response.status_code == 400 and response.json()["error"]["code"] == "bad_request", headers
        renewed = await http.post("/api/socket-token", headers={"x-csrf-token": csrf})
        assert renewed.status_code == 200 and renewed.headers["cache-control"] == "no-store"
        body = renewed.json()
        assert body["ok"] and body["expires_in"] == 300
        agent = await clients.agent(d.server.url, email, d.password, token=body["token"])
        try:
            assert (await agent.call("list", {}))["ok"]
        finally:
            await clients.sign_off(agent)
            await agent.disconnect()
    async with browser(d.server.url, "marketer@example.com", d.password) as marketer:
        explorer = await marketer.get("/account")
        response = await marketer.post("/api/socket-token", headers={"x-csrf-token": csrf_of(explorer.text)})
        assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"


def aged_token(deployment: Deployment, token: str, age_seconds: int) -> str:
    """`token`'s payload signed again as if issued `age_seconds` ago."""
    secret = deployment.env["SECRET_KEY"]
    payload = URLSafeTimedSerializer(secret, salt="agent-socket").loads(token)

    class Aged(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - age_seconds

    return URLSafeTimedSerializer(secret, salt="agent-socket", signer=Aged).dumps(payload)


async def test_a_socket_token_lives_minutes(sqlite_deployment):
    d = sqlite_deployment
    email = new_user(d)
    async with browser(d.server.url, email, d.password) as http:
        token = await page_token(http)
        assert (await refusal(d.server.url, aged_token(d, token, 330)))["code"] == "token_expired"
        young = await clients.agent(d.server.url, email, d.password, token=aged_token(d, token, 240))
        await clients.sign_off(young)
        await young.disconnect()
    # Another session's id, or a payload that is not the server's, opens nothing.
    payload = URLSafeTimedSerializer(d.env["SECRET_KEY"], salt="agent-socket").loads(token)
    signer = URLSafeTimedSerializer(d.env["SECRET_KEY"], salt="agent-socket")
    for forged in ({**payload, "s": payload["s"] + 10**6}, {"u": payload["u"]}, {**payload, "s": "1"},
                   {**payload, "u": d.users["other@example.com"]["id"]}):
        assert (await refusal(d.server.url, signer.dumps(forged)))["code"] == "unauthorized", forged


@pytest.fixture(scope="module")
def short_lived() -> Deployment:
    """Sessions of half an hour that idle out after 5 minutes; socket tokens of a minute."""
    deployment = deploy(database_url=None, redis_url=None, extra_env={
        "SESSION_MAX_HOURS": "0.5", "SESSION_IDLE_MINUTES": "5", "SOCKET_TOKEN_SECONDS": "60"})
    yield deployment
    deployment.stop()


async def _session_of(deployment: Deployment, email: str) -> dict:
    rows = await fetch(deployment, "SELECT s.* FROM staff_session s JOIN app_user u ON u.id = s.user_id "
                                   "WHERE u.email = ? AND s.revoked_at IS NULL ORDER BY s.id DESC", email)
    return rows[0]


async def _age(deployment: Deployment, session_id: int, **moments: timedelta) -> None:
    """Move a session's moments into the past (as if that much time had gone by)."""
    async with database(deployment):
        now = utcnow()
        await StaffSession.filter(id=session_id).update(**{k: now - v for k, v in moments.items()})


async def test_sessions_idle_out_and_end_after_their_lifetime(short_lived):
    d = short_lived
    email = d.users["agent@example.com"]["email"]
    async with browser(d.server.url, email, d.password) as idle:
        row = await _session_of(d, email)
        assert timedelta(minutes=29) < row["expires_at"] - row["created_at"] <= timedelta(minutes=30)
        token = await page_token(idle)
        # 6 minutes without a request: over SESSION_IDLE_MINUTES.
        await _age(d, row["id"], last_seen_at=timedelta(minutes=6))
        assert (await idle.get("/console")).status_code == 303
        assert (await refusal(d.server.url, token))["code"] == "unauthorized"
        assert (await idle.post("/api/socket-token", headers={"x-csrf-token": "x"})).status_code == 401

    async with browser(d.server.url, email, d.password) as busy:
        # 4 minutes: still within it, and the request counts as activity.
        busy_row = await _session_of(d, email)
        await _age(d, busy_row["id"], last_seen_at=timedelta(minutes=4))
        assert (await busy.get("/console")).status_code == 200
        assert (await _session_of(d, email))["last_seen_at"] > utcnow() - timedelta(minutes=1)
        # Past its absolute lifetime, however busy.
        await _age(d, busy_row["id"], expires_at=timedelta(seconds=1))
        assert (await busy.get("/console")).status_code == 303
    async with browser(d.server.url, email, d.password) as http:
        token = await page_token(http)
        assert (await refusal(d.server.url, aged_token(d, token, 75)))["code"] == "token_expired"


async def test_a_live_socket_ends_with_its_sessions_lifetime(short_lived):
    d = short_lived
    email = d.users["other@example.com"]["email"]
    async with browser(d.server.url, email, d.password) as http:
        agent = await clients.agent(d.server.url, email, d.password, token=await page_token(http))
        try:
            assert (await agent.call("list", {}))["ok"]
            await _age(d, (await _session_of(d, email))["id"], expires_at=timedelta(seconds=1))
            # Its next event finds the session over: refused, and the socket is closed.
            with contextlib.suppress(socketio.exceptions.BadNamespaceError, socketio.exceptions.TimeoutError):
                assert code(await agent.call("list", {})) == "forbidden"
            await disconnected(agent)
        finally:
            await agent.disconnect()


async def test_a_password_change_ends_every_other_session(sqlite_deployment):
    d = sqlite_deployment
    email = new_user(d)
    new_password = "a-new-and-long-password"
    async with (browser(d.server.url, email, d.password) as http, browser(d.server.url, email, d.password) as other,
                copy_of(http) as stolen):
        live = await clients.agent(d.server.url, email, d.password, token=await page_token(other))
        try:
            csrf = await account_form(http)
            form = {"csrf_token": csrf, "current_password": d.password, "new_password": new_password,
                    "repeat_password": new_password}
            for change, status in [({"csrf_token": ""}, 400), ({"csrf_token": "forged"}, 400),
                                   ({"current_password": "not-my-password"}, 403),
                                   ({"current_password": ""}, 400), ({"new_password": ""}, 400),
                                   ({"new_password": "short", "repeat_password": "short"}, 400),
                                   ({"new_password": "x" * 2000, "repeat_password": "x" * 2000}, 400),
                                   ({"repeat_password": "something-else-entirely"}, 400),
                                   ({"new_password": d.password, "repeat_password": d.password}, 400)]:
                response = await http.post("/account/password", data={**form, **change})
                assert response.status_code == status, (change, response.status_code)
                assert 'role="alert"' in response.text
            assert (await other.get("/console")).status_code == 200  # nothing changed yet

            changed = await http.post("/account/password", data=form)
            assert changed.status_code == 303 and changed.headers["location"] == "/account?done=password"
            page = await http.get(changed.headers["location"])  # this browser goes on, with a new session
            assert page.status_code == 200 and "Your password was changed" in page.text
            assert (await http.get("/console")).status_code == 200
            assert (await other.get("/console")).status_code == 303
            assert (await stolen.get("/console")).status_code == 303
            await disconnected(live)
        finally:
            await live.disconnect()
    async with httpx.AsyncClient(base_url=d.server.url, timeout=30) as again:
        page = await again.get("/login")
        old = await again.post("/login", data={"email": email, "password": d.password, "csrf_token": csrf_of(page.text)})
        assert old.status_code == 401
    async with browser(d.server.url, email, new_password):
        pass


async def test_sign_out_everywhere_ends_every_session_of_mine(sqlite_deployment):
    d = sqlite_deployment
    email = new_user(d)
    async with browser(d.server.url, email, d.password) as http, browser(d.server.url, email, d.password) as other:
        sockets = [await clients.agent(d.server.url, email, d.password, token=await page_token(b)) for b in (http, other)]
        try:
            csrf = await account_form(http)
            assert (await http.post("/account/sign-out-everywhere", data={"csrf_token": "forged"})).status_code == 400
            assert (await http.post("/account/sign-out-everywhere", data={})).status_code == 400
            assert (await other.get("/console")).status_code == 200
            done = await http.post("/account/sign-out-everywhere", data={"csrf_token": csrf})
            assert done.status_code == 303 and done.headers["location"] == "/login"
            for browser_ in (http, other):
                assert (await browser_.get("/console")).status_code == 303
            for socket in sockets:
                await disconnected(socket)
        finally:
            for socket in sockets:
                await socket.disconnect()


async def test_an_admin_signs_someone_out_everywhere(sqlite_deployment):
    d = sqlite_deployment
    admin, supervisor, target = new_user(d, "admin"), new_user(d, "supervisor"), new_user(d)
    target_id = d.users[target]["id"]
    async with browser(d.server.url, target, d.password) as http:
        victim = await clients.agent(d.server.url, target, d.password, token=await page_token(http))
        boss = await clients.agent(d.server.url, supervisor, d.password)
        ada = await clients.agent(d.server.url, admin, d.password)
        try:
            assert code(await boss.call("sign_out_user", {"user_id": target_id})) == "forbidden"
            assert code(await victim.call("sign_out_user", {"user_id": target_id})) == "forbidden"
            for payload in ({}, {"user_id": "1"}, {"user_id": 0}, {"user_id": 1.5}, {"user_id": None}, [], "x"):
                assert code(await ada.call("sign_out_user", payload)) == "bad_request", payload
            assert code(await ada.call("sign_out_user", {"user_id": 10**9})) == "not_found"
            assert (await http.get("/console")).status_code == 200

            ack = await ada.call("sign_out_user", {"user_id": target_id})
            assert ack == {"ok": True, "sessions": 1}, ack
            await disconnected(victim)
            assert (await http.get("/console")).status_code == 303
            audit = await fetch(d, "SELECT action, actor_id FROM audit_event WHERE target_user_id = ? "
                                   "AND action <> 'user_create'", target_id)
            assert audit == [{"action": "sign_out_everywhere", "actor_id": d.users[admin]["id"]}]
        finally:
            for client in (victim, boss, ada):
                if client.connected:
                    await clients.sign_off(client)
                await client.disconnect()


async def test_the_command_line_signs_someone_out_everywhere(deployment):
    """With Redis the workers close the consoles at once; on one process without Redis, at their
    next event."""
    d = deployment
    email = new_user(d)
    async with browser(d.server.url, email, d.password) as http:
        live = await clients.agent(d.servers[-1].url, email, d.password, token=await page_token(http))
        try:
            out = cli(d.env, "sign-out-user", "--email", email)
            assert "1 session(s) ended" in out
            assert (await http.get("/console")).status_code == 303
            if not d.env.get("REDIS_URL"):
                with contextlib.suppress(socketio.exceptions.BadNamespaceError, socketio.exceptions.TimeoutError):
                    assert code(await live.call("list", {})) == "forbidden"
            await disconnected(live)
        finally:
            await live.disconnect()
    with pytest.raises(RuntimeError, match="no user with the e-mail"):
        cli(d.env, "sign-out-user", "--email", f"nobody-{new_id()[:6]}@example.com")
    audit = await fetch(d, "SELECT action, actor_id FROM audit_event WHERE target_user_id = ? "
                           "AND action <> 'user_create'", d.users[email]["id"])
    assert audit == [{"action": "sign_out_everywhere", "actor_id": None}]


async def test_deactivation_ends_every_session(sqlite_deployment):
    d = sqlite_deployment
    admin, target = new_user(d, "admin"), new_user(d)
    async with browser(d.server.url, target, d.password) as http, copy_of(http) as stolen:
        ada = await clients.agent(d.server.url, admin, d.password)
        try:
            assert (await ada.call("deactivate_user", {"user_id": d.users[target]["id"]})) == {"ok": True}
        finally:
            await clients.sign_off(ada)
            await ada.disconnect()
        assert (await stolen.get("/console")).status_code == 303
    rows = await fetch(d, "SELECT revoked_reason FROM staff_session WHERE user_id = ?", d.users[target]["id"])
    assert [r["revoked_reason"] for r in rows] == ["deactivated"]
