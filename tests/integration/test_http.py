"""HTTP: sign-in, CSRF, throttling, headers, redirects, the widget bundle, the demo pages."""

from __future__ import annotations

import re

import httpx
import pytest

from app.config import Settings
from tests.support.clients import new_id


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture
async def http(sqlite_deployment):
    async with httpx.AsyncClient(base_url=sqlite_deployment.server.url, follow_redirects=False) as client:
        yield client


async def sign_in(http: httpx.AsyncClient, email: str, password: str, next_path: str | None = None) -> httpx.Response:
    page = await http.get("/login")
    data = {"email": email, "password": password, "csrf_token": csrf_of(page.text)}
    if next_path is not None:
        data["next"] = next_path
    return await http.post("/login", data=data)


async def test_console_needs_a_session(http):
    response = await http.get("/console")
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/console"


async def test_sign_in_sets_a_safe_cookie_and_opens_the_console(sqlite_deployment, http):
    response = await sign_in(http, "agent@example.com", sqlite_deployment.password)
    assert response.status_code == 303 and response.headers["location"] == "/console"
    cookie = response.headers["set-cookie"].lower()
    assert "sb_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    console = await http.get("/console")
    assert console.status_code == 200
    assert 'name="switchboard-socket-token"' in console.text and "Alex Agent" in console.text
    csp = console.headers["content-security-policy"]
    script_src = re.search(r"script-src ([^;]+)", csp).group(1)
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert "frame-ancestors 'none'" in csp
    assert console.headers["x-frame-options"] == "DENY"
    assert console.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in console.text  # no inline script at all


async def test_wrong_password_and_unknown_user_look_the_same(sqlite_deployment, http):
    wrong = await sign_in(http, "agent@example.com", "not-the-password")
    unknown = await sign_in(http, f"nobody-{new_id()[:6]}@example.com", "whatever-password")
    assert wrong.status_code == unknown.status_code == 401
    assert "E-mail or password is incorrect." in wrong.text and "E-mail or password is incorrect." in unknown.text
    assert 'role="alert"' in wrong.text


async def test_missing_or_wrong_csrf_token_is_refused(sqlite_deployment, http):
    await http.get("/login")
    response = await http.post("/login", data={"email": "agent@example.com", "password": sqlite_deployment.password})
    assert response.status_code == 400 and "session expired" in response.text
    response = await http.post("/login", data={"email": "agent@example.com", "password": sqlite_deployment.password,
                                               "csrf_token": "forged"})
    assert response.status_code == 400
    assert (await http.get("/console")).status_code == 303


async def test_sign_in_is_throttled_per_email_and_address(sqlite_deployment, http):
    # (tests/integration/test_signin_throttle.py: the address and account limits, other addresses.)
    PAIR_LIMIT = Settings.signin_failures_per_pair  # this deployment's: the default

    email = f"throttle-{new_id()[:6]}@example.com"
    sqlite_deployment.create_user(email)
    statuses = [(await sign_in(http, email, "wrong-password")).status_code for _ in range(PAIR_LIMIT[0] + 1)]
    assert statuses == [401] * PAIR_LIMIT[0] + [429]
    # From this address, even the right password waits out the window.
    response = await sign_in(http, email, sqlite_deployment.password)
    assert response.status_code == 429 and "Too many sign-in attempts" in response.text


@pytest.mark.parametrize("target", ["//evil.example.net/x", "https://evil.example.net/", "/\\evil.example.net"])
async def test_next_cannot_redirect_off_site(sqlite_deployment, http, target):
    response = await sign_in(http, "other@example.com", sqlite_deployment.password, next_path=target)
    assert response.status_code == 303 and response.headers["location"] == "/console"


async def test_sign_out_needs_csrf(sqlite_deployment, http):
    await sign_in(http, "other@example.com", sqlite_deployment.password)
    console = await http.get("/console")
    assert (await http.post("/logout", data={})).status_code == 400
    assert (await http.get("/console")).status_code == 200
    token = re.search(r'name="csrf-token" content="([^"]+)"', console.text).group(1)
    response = await http.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert (await http.get("/console")).status_code == 303


async def test_marketers_do_not_get_the_chat_console(sqlite_deployment, http):
    signed = await sign_in(http, "marketer@example.com", sqlite_deployment.password)
    assert signed.status_code == 303 and signed.headers["location"] == "/explorer"
    assert (await http.get("/console")).status_code == 403
    # They start in the trail explorer instead.
    home = await http.get("/")
    assert home.status_code == 303 and home.headers["location"] == "/explorer"


async def test_widget_bundle_is_served_for_any_site(http):
    response = await http.get("/widget.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/javascript")
    assert "content-security-policy" not in response.headers


async def test_unknown_demo_page_is_404(http):
    assert (await http.get("/demo/nope")).status_code == 404


async def test_successful_sign_ins_from_one_address_are_not_throttled(sqlite_deployment, http):
    # Everyone in an office shares one address: only failures count against it.
    ADDRESS_LIMIT = Settings.signin_failures_per_address  # this deployment's: the default

    for _ in range(ADDRESS_LIMIT[0] + 2):
        response = await sign_in(http, "other@example.com", sqlite_deployment.password)
        assert response.status_code == 303
        http.cookies.clear()
