"""The widget's tracking in a real browser: page views of a single-page app in order (with the
site's strip params gone), time on each page (by socket and by beacon), Do Not Track, and the
visitor token kept in a cookie when localStorage is blocked.

The host pages come from a small HTTP server of the test at http://127.0.0.1:<port>/ (every path
is the same single-page app), an allowed origin of a site this module creates; they embed the real
widget from the real server."""

from __future__ import annotations

import asyncio
import inspect
import json
import re

import pytest
from playwright.async_api import expect

from tests.e2e.helpers import host_site, launcher, widget
from tests.support import clients
from tests.support.server import cli, free_port

SUPERVISOR = "boss@example.com"

# Counts every navigator.sendBeacon call (the real one still goes out).
SPY_BEACONS = """
  window.__beacons = [];
  const real = navigator.sendBeacon.bind(navigator);
  navigator.sendBeacon = (url, data) => { window.__beacons.push(String(url)); return real(url, data); };
"""
DNT = "Object.defineProperty(Navigator.prototype, 'doNotTrack', { get: () => '1', configurable: true });"
NO_LOCAL_STORAGE = """
  Object.defineProperty(window, 'localStorage', {
    configurable: true, get() { throw new DOMException('The operation is insecure.', 'SecurityError'); } });
"""


@pytest.fixture(scope="module")
def shop(demo_deployment):
    """A site whose origin is a local HTTP server serving its pages, stripping `token` from the URLs
    it tracks and respecting Do Not Track."""
    d = demo_deployment
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    site = json.loads(cli(d.env, "create-site", "--name", f"Tracked {origin}", "--origin", origin, "--json"))
    cli(d.env, "site-settings", "--site", site["key"], "--set",
        json.dumps({"tracking": {"strip_params": ["token"], "respect_dnt": True}}))
    html = (f'<!doctype html><html><head><title>Shop</title></head><body><h1>Shop</h1>'
            f'<form><label>Card number <input name="card"></label></form>'
            f'<script async src="{d.server.url}/widget.js" data-site="{site["key"]}"></script></body></html>').encode()

    with host_site(port, lambda _path: html):
        yield {"origin": origin, "key": site["key"], "base": d.server.url}


def frames(page) -> list[str]:
    """Every socket.io frame the page sends, as text."""
    sent: list[str] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(str(payload))))
    return sent


def events(sent: list[str], *names: str) -> list[tuple[str, dict]]:
    """(event, payload) of the frames among `sent` that emit one of `names` on /visitor."""
    out = []
    for text in sent:
        m = re.match(r"42/visitor,\d*(\[.*\])$", text, flags=re.S)
        if m:
            event = json.loads(m.group(1))
            if event[0] in names:
                out.append((event[0], event[1]))
    return out


def sessions(page) -> list[dict]:
    """Every `session` the page receives."""
    got: list[dict] = []

    def on_frame(payload):
        text = str(payload)
        if text.startswith("42/visitor,") and '"session"' in text:
            event = json.loads(text[len("42/visitor,"):])
            if event[0] == "session":
                got.append(event[1])

    page.on("websocket", lambda ws: ws.on("framereceived", on_frame))
    return got


async def wait_until(predicate, what: str, timeout: float = 15.0):
    """Polls `predicate` (plain or async) until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)  # polling the server's state, not synchronising with the page


async def visitor_id(page, key: str) -> str:
    raw = await wait_until(lambda: page.evaluate(f"localStorage.getItem('sb:{key}:vid')"), "the visitor id")
    return json.loads(raw)


@pytest.fixture
async def supervisor(demo_deployment):
    agent = await clients.agent(demo_deployment.server.url, SUPERVISOR, demo_deployment.password)
    yield agent
    await agent.disconnect()


async def test_spa_navigation_makes_page_views_in_order(shop, new_page, supervisor):
    context, page, errors = await new_page()
    await context.add_init_script(SPY_BEACONS)
    sent = frames(page)
    o = shop["origin"]
    await page.goto(o + "/start?token=secret&x=1")
    await page.get_by_label("Card number").fill("4242 4242 4242 4242")
    vid = await visitor_id(page, shop["key"])
    await page.evaluate("""() => {
        history.pushState({}, '', '/tents?token=abc');
        history.replaceState({}, '', '/tents');               // the same URL once stripped: no new view
        history.pushState({}, '', '/tents/alpine-2');
        location.hash = 'reviews';                           // hashchange: a new view
    }""")
    await page.go_back()  # popstate → /tents/alpine-2
    expected = [o + "/start?x=1", o + "/tents", o + "/tents/alpine-2", o + "/tents/alpine-2#reviews",
                o + "/tents/alpine-2"]

    async def trail():
        profile = await supervisor.call("visitor_profile", {"visitor_id": vid})
        assert profile["ok"], profile
        pages = [p for visit in reversed(profile["visits"]) for p in visit["pages"]]
        # Each earlier view's active time goes by socket when the route changes.
        timed = len(pages) >= len(expected) and all(p["active_ms"] is not None for p in pages[:-1])
        return pages if timed else None

    pages = await wait_until(trail, "five page views, the earlier ones with their active time")
    assert [p["url"] for p in pages] == expected
    # A view's page_view goes before its page_time, even for a view left in the task that opened it
    # (the server cannot time a view it has not recorded yet).
    order = [(name, p["view_id"]) for name, p in events(sent, "page_view", "page_time")]
    timed_first = [view for i, (name, view) in enumerate(order)
                   if name == "page_time" and ("page_view", view) not in order[:i]]
    assert timed_first == [], order
    # Nothing of the form, and no stripped parameter, ever left the page.
    assert not any("4242" in f or "secret" in f or "token=abc" in f for f in sent)

    # The page goes away: the last view's time goes by beacon to /api/track.
    await page.evaluate("window.dispatchEvent(new PageTransitionEvent('pagehide'))")
    assert await page.evaluate("window.__beacons") == [shop["base"] + "/api/track"]

    async def last_timed():
        profile = await supervisor.call("visitor_profile", {"visitor_id": vid})
        last = profile["visits"][0]["pages"][-1]
        return last["active_ms"] is not None and last
    await wait_until(last_timed, "the beacon's page_time")
    assert errors.errors == []


async def test_do_not_track_stops_tracking_but_not_chat(shop, new_page):
    context, page, errors = await new_page()
    await context.add_init_script(SPY_BEACONS + DNT)
    sent = frames(page)
    await page.goto(shop["origin"] + "/start")
    await visitor_id(page, shop["key"])
    # A route change, a custom event, then identify (not tracking: it still goes) as the marker
    # that everything before it was processed (timers run in order).
    await page.evaluate("""() => {
        history.pushState({}, '', '/tents');
        setTimeout(() => Switchboard('track', 'added_to_cart', {sku: 'T-2'}), 0);
        setTimeout(() => Switchboard('identify', {id: 'dnt-user-1'}), 0);
    }""")
    await wait_until(lambda: any('"identify"' in f for f in sent), "the identify frame")
    await page.evaluate("window.dispatchEvent(new PageTransitionEvent('pagehide'))")
    assert not [f for f in sent if re.search(r'"(page_view|page_time|track)"', f)]
    assert await page.evaluate("window.__beacons") == []
    # The chat works as ever.
    await launcher(page).click()
    await expect(widget(page).get_by_role("textbox", name="Message")).to_be_visible()
    await expect(widget(page).get_by_text("Chat is not available on this page.")).to_have_count(0)
    assert errors.errors == []


async def test_the_visitor_token_falls_back_to_a_cookie(shop, new_page):
    context, page, errors = await new_page()
    await context.add_init_script(NO_LOCAL_STORAGE)
    got = sessions(page)
    await page.goto(shop["origin"] + "/start")
    await wait_until(lambda: bool(got), "the first session")
    name = f"sb_{shop['key']}_t"
    cookie = await wait_until(lambda: _cookie(context, name), "the token cookie")
    assert cookie["value"] and cookie["path"] == "/" and cookie["sameSite"] == "Lax" and not cookie["secure"]
    # Two years asked; Chromium caps every cookie at 400 days.
    assert cookie["expires"] > (await page.evaluate("Date.now() / 1000")) + 390 * 24 * 3600
    # The next page (a new document: nothing in memory) is the same visitor.
    first = got[0]["visitor_id"]
    await page.goto(shop["origin"] + "/tents")
    await wait_until(lambda: len(got) >= 2, "the second session")
    assert got[1]["visitor_id"] == first
    assert errors.errors == []


async def _cookie(context, name: str):
    return next((c for c in await context.cookies() if c["name"] == name), None)
