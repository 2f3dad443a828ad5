"""Verified identity in a real browser: two browser contexts are one person's two devices. The host
page says who its user is with `Switchboard('identify', {id, user_hash})`, the hash made as the
site's backend would (HMAC-SHA256 with the site's identity secret). A chat had on the first device
shows under "Earlier conversations" on the second once it is identified — and not with a wrong hash.

The host pages come from a small HTTP server of the test (an allowed origin of a site this module
creates, with an identity secret); they embed the real widget from the real server."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.async_api import expect

from tests.e2e.helpers import host_site, launcher, visitor_send, widget, widget_log
from tests.support import clients
from tests.support.clients import new_id
from tests.support.server import cli, free_port

TIMEOUT = 20_000  # ms: a busy CI machine


def user_hash(secret: str, user_id: str) -> str:
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def host_pages(site_key: str, widget_base: str, port: int):
    """Serves a site's pages at http://127.0.0.1:<port>/: `/?id=…&hash=…` identifies its user as
    the page loads (as a signed-in customer's pages do); `/` does not."""
    widget_tag = f'<script async src="{widget_base}/widget.js" data-site="{site_key}"></script>'

    def page(path: str) -> bytes:
        query = {k: v[0] for k, v in parse_qs(urlsplit(path).query).items()}
        identify = ""
        if "id" in query:
            claim = json.dumps({"id": query["id"], "user_hash": query.get("hash", "")}).replace("<", "\\u003c")
            identify = ("<script>window.Switchboard = window.Switchboard || function () {"
                        " (Switchboard.q = Switchboard.q || []).push(arguments); };"
                        f" Switchboard('identify', {claim});</script>")
        return (f"<!doctype html><html><head><title>Account</title></head><body><h1>Your account</h1>"
                f"{identify}{widget_tag}</body></html>").encode()

    return host_site(port, page)


@pytest.fixture(scope="module")
def shop(demo_deployment):
    """A site with an identity secret, its pages served by the test."""
    d = demo_deployment
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    site = json.loads(cli(d.env, "create-site", "--name", f"Identified {origin}", "--origin", origin, "--json"))
    secret = re.search(r"^[0-9a-f]{64}$", cli(d.env, "site-identity", "--site", site["key"]), re.M).group(0)
    with host_pages(site["key"], d.server.url, port):
        yield {"origin": origin, "key": site["key"], "secret": secret, "base": d.server.url}


def received(page) -> list[str]:
    """Every socket.io frame the page receives, as text."""
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(str(payload))))
    return frames


async def stored(page, shop, name: str):
    """What the widget keeps in the page's localStorage under `name` (docs/widget.md, "Storage keys")."""
    return await page.evaluate("key => JSON.parse(localStorage.getItem(key) || 'null')", f"sb:{shop['key']}:{name}")


async def test_a_verified_customer_sees_their_other_devices_transcript(shop, new_page):
    user = f"customer-{new_id()[:8]}"
    question = f"Where is parcel {new_id()[:6]}?"

    # Device 1: the customer, signed in on the site, chats; the chat ends.
    _, laptop, _ = await new_page()
    await laptop.goto(f"{shop['origin']}/?id={user}&hash={user_hash(shop['secret'], user)}")
    await launcher(laptop).click()
    await visitor_send(laptop, question)
    conv_key = json.dumps(f"sb:{shop['key']}:conv")
    await laptop.wait_for_function(f"() => (JSON.parse(localStorage.getItem({conv_key}) || 'null') || {{}}).id",
                                   timeout=TIMEOUT)
    same_browser = await clients.visitor(shop["base"], shop["key"], shop["origin"], token=await stored(laptop, shop, "token"))
    try:
        conversation = same_browser.rec.of("session")[0]["conversation"]
        assert (await same_browser.call("close", {"conversation_id": conversation["id"]}))["ok"]
    finally:
        await same_browser.disconnect()
    await expect(widget(laptop).get_by_text("The visitor left the chat.")).to_be_visible(timeout=TIMEOUT)

    # Device 2: another browser. With the panel open and nothing of the laptop's in it, the page
    # identifies its user: the widget asks for the history again and the laptop's chat appears.
    _, phone, _ = await new_page()
    await phone.goto(f"{shop['origin']}/")
    await launcher(phone).click()
    await expect(widget(phone).get_by_label("Message")).to_be_visible(timeout=TIMEOUT)
    await expect(widget(phone).get_by_text(question)).to_have_count(0)
    await phone.evaluate("([id, user_hash]) => Switchboard('identify', {id, user_hash})",
                         [user, user_hash(shop["secret"], user)])
    await expect(widget(phone).get_by_text("Earlier conversations")).to_be_visible(timeout=TIMEOUT)
    await expect(widget(phone).get_by_text(question)).to_be_visible(timeout=TIMEOUT)
    await expect(widget(phone).get_by_role("group").filter(has_text=question)).to_contain_text(
        "The visitor left the chat.")
    await expect(widget_log(phone).get_by_text(question)).to_have_count(0)  # history, not a live chat

    # Device 3: the same id with a wrong hash (a guess, or another user's) is refused as the page
    # loads; the panel opened afterwards shows nothing of the customer's.
    _, stranger, _ = await new_page()
    frames = received(stranger)
    async with stranger.expect_console_message(lambda m: "identify refused (forbidden)" in m.text, timeout=TIMEOUT):
        await stranger.goto(f"{shop['origin']}/?id={user}&hash={user_hash('a guessed secret', user)}")
    await launcher(stranger).click()
    await expect(widget(stranger).get_by_label("Message")).to_be_visible(timeout=TIMEOUT)
    deadline = asyncio.get_running_loop().time() + TIMEOUT / 1000
    while not any('"conversations"' in f for f in frames):  # the panel's `history` answered
        assert asyncio.get_running_loop().time() < deadline, "no history answer"
        await asyncio.sleep(0.1)  # polling what the page received, not synchronising with it
    await expect(widget(stranger).get_by_text("Earlier conversations")).to_have_count(0)
    await expect(widget(stranger).get_by_text(question)).to_have_count(0)
    # The server agrees: this browser's history holds nothing of the customer's.
    same_browser = await clients.visitor(shop["base"], shop["key"], shop["origin"],
                                         token=await stored(stranger, shop, "token"))
    try:
        assert (await same_browser.call("history", {}))["conversations"] == []
    finally:
        await same_browser.disconnect()


@pytest.fixture(scope="module")
def crowded(request):
    """A deployment of its own that admits one new visitor per address every 6 seconds, and a
    site's pages."""
    from tests.e2e.conftest import own_deployment

    for d in own_deployment(request, "new-visitor-throttle", extra_env={"NEW_VISITORS_PER_ADDRESS": "1/6"}):
        port = free_port()
        origin = f"http://127.0.0.1:{port}"
        key = json.loads(cli(d.env, "create-site", "--name", "Crowded", "--origin", origin, "--json"))["key"]
        with host_pages(key, d.server.url, port):
            yield {"origin": origin, "key": key}


async def test_a_widget_refused_as_one_new_visitor_too_many_comes_back_later(crowded, new_page):
    token_key = json.dumps(f"sb:{crowded['key']}:token")
    has_token = f"() => localStorage.getItem({token_key})"
    _, first, _ = await new_page()
    await first.goto(crowded["origin"] + "/")
    await first.wait_for_function(has_token, timeout=TIMEOUT)

    # Another new visitor from the same address within the 6 seconds: refused (`rate_limited`).
    # The widget neither gives up nor hammers the server: it waits as told, then connects once more.
    _, second, _ = await new_page()
    sockets = []
    second.on("websocket", lambda ws: sockets.append(ws.url))
    warnings = []
    second.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    await second.goto(crowded["origin"] + "/")
    await second.wait_for_function(has_token, timeout=30_000)
    assert len(sockets) == 2, sockets  # the refused one and the one after the wait
    assert not any("chat unavailable" in w for w in warnings), warnings
    await launcher(second).click()
    await expect(widget(second).get_by_label("Message")).to_be_visible(timeout=TIMEOUT)
    await expect(widget(second).get_by_text("Chat is not available on this page.")).to_have_count(0)
