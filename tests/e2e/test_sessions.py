"""Sessions in the browser: the console renews its short-lived socket token and reconnects with a
fresh one (no reload), and signing out in one tab ends the console in another."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import own_deployment
from tests.e2e.helpers import chat_list, set_status, sign_in, transcript
from tests.support import clients
from tests.support.clients import new_id

TOKEN_SECONDS = 5


@pytest.fixture(scope="module")
def short_tokens(request):
    """Socket tokens of 5 seconds: every reconnect of the console is past its page's token."""
    yield from own_deployment(request, "sessions", extra_env={"SOCKET_TOKEN_SECONDS": str(TOKEN_SECONDS)})


def connection(page):
    return page.get_by_role("status").filter(has_text=re.compile("Connected|Reconnecting|Connecting|Signed out"))


def renewal(response) -> bool:
    return response.url.endswith("/api/socket-token") and response.status == 200


async def test_the_console_reconnects_with_a_renewed_token(short_tokens, new_page):
    d = short_tokens
    base = d.server.url
    email = f"rene-{new_id()[:6]}@example.com"
    d.create_user(email, "agent", "Rene Renew")
    _, page, errors = await new_page()
    await sign_in(page, base, email, d.password)
    await page.evaluate("window.__samePage = true")  # a reload would lose it
    await set_status(page, "Available")
    # Two renewals (each at 60 % of the token's life): the page's own token has run out.
    for _ in range(2):
        async with page.expect_response(renewal, timeout=30000):
            pass

    # The server restarts: the socket drops, and comes back with a renewed token.
    d.server.stop()
    await expect(connection(page)).not_to_have_text("Connected", timeout=30000)
    d.server.start()
    await expect(connection(page)).to_have_text("Connected", timeout=60000)
    assert await page.evaluate("window.__samePage") is True

    visitor = await clients.visitor(base, d.site_key, d.origin)
    try:
        assert (await visitor.call("message", {"client_id": new_id(), "body": "Still there?"}))["ok"]
        await expect(chat_list(page)).to_have_count(1, timeout=30000)
        await chat_list(page).first.click()
        await expect(transcript(page).get_by_text("Still there?")).to_be_visible()
        await page.get_by_label("Message").fill("Yes, still here.")
        await page.get_by_label("Message").press("Enter")
        await visitor.rec.wait_for("message", lambda m: m["body"] == "Yes, still here.", timeout=30)
        await page.get_by_role("button", name="Close chat").click()
        await expect(page.get_by_role("main").get_by_text("Chat closed")).to_be_visible()
        await set_status(page, "Offline")
    finally:
        await visitor.disconnect()
    assert await page.evaluate("window.__samePage") is True
    assert errors.errors == []


async def test_signing_out_in_one_tab_ends_the_console_in_another(short_tokens, new_page):
    d = short_tokens
    base = d.server.url
    email = f"tabs-{new_id()[:6]}@example.com"
    d.create_user(email, "agent", "Tess Tabs")
    context, console, errors = await new_page()
    await sign_in(console, base, email, d.password)
    other = await context.new_page()  # the same browser: the same session
    await other.goto(base + "/account")
    await expect(other.get_by_role("heading", name="Your account")).to_be_visible()

    await other.get_by_role("button", name="Sign out", exact=True).click()
    await expect(other.get_by_role("button", name="Sign in")).to_be_visible()

    await expect(console.get_by_text("Your session has ended.")).to_be_visible(timeout=30000)
    await expect(connection(console)).to_have_text("Signed out")
    link = console.get_by_role("link", name="Sign in again")
    await expect(link).to_have_attribute("href", "/login")
    await link.click()
    await expect(console.get_by_role("button", name="Sign in")).to_be_visible()
    assert errors.errors == []
