"""The agent console on its own: sign-in, status, its Content Security Policy, new-chat alerts."""

from __future__ import annotations

import asyncio
import json
import re

from playwright.async_api import expect

from tests.e2e.conftest import DEMO_AGENT
from tests.e2e.helpers import chat_list, set_status, transcript
from tests.e2e.recorders import RECORD_ALERTS, RECORD_CSP_VIOLATIONS
from tests.support import clients


async def console_page(new_page, login, **options):
    """A browser context where the demo agent is signed in already (the sign-in is reused)."""
    return await new_page(storage_state=login.storage_state, **options)


async def open_console(page, base_url: str) -> None:
    await page.goto(base_url + "/console")
    await expect(page.get_by_role("status").filter(has_text="Connected")).to_be_visible()


async def visitor_asks(base_url: str, site_key: str, body: str) -> clients.Client:
    """A visitor of the demo site (a socket.io client from the site's own origin) starts a chat."""
    visitor = await clients.visitor(base_url, site_key, origin=base_url)
    ack = await visitor.call("message", {"client_id": clients.new_id(), "body": body})
    assert ack["ok"], ack
    return visitor


async def test_wrong_password_is_refused_with_an_alert(demo_deployment, new_page):
    base = demo_deployment.server.url
    _, page, errors = await new_page()
    await page.goto(base + "/login")
    await page.get_by_label("Email").fill(DEMO_AGENT)
    await page.get_by_label("Password").fill(demo_deployment.password + "-wrong")
    await page.get_by_role("button", name="Sign in").click()

    await expect(page.get_by_role("alert")).to_contain_text(re.compile("incorrect|invalid|wrong", re.IGNORECASE))
    await expect(page).to_have_url(re.compile(r"/login"))
    await expect(page.get_by_label("Email")).to_have_value(DEMO_AGENT)  # kept, to correct the password
    await expect(page.get_by_label("Password")).to_have_value("")
    # Still signed out: the console sends the browser back to the sign-in page.
    await page.goto(base + "/console")
    await expect(page).to_have_url(re.compile(r"/login"))
    await expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert errors.errors == []


async def test_status_survives_a_reload(demo_deployment, demo_agent_login, new_page):
    base = demo_deployment.server.url
    # Another console of the same agent: the server tells every tab when the status changes,
    # which is how the test knows the change is stored before it reloads.
    observer = await clients.agent(base, DEMO_AGENT, demo_deployment.password, token=demo_agent_login.socket_token)
    try:
        _, page, errors = await console_page(new_page, demo_agent_login)
        await open_console(page, base)
        status = page.get_by_label("Status")
        await expect(status).to_be_enabled()
        await expect(status).to_have_value("offline")

        for label, value in (("Away", "away"), ("Offline", "offline")):
            await set_status(page, label)
            await observer.rec.wait_for("status", lambda d, value=value: d["status"] == value and d["reason"] is None)
            observer.rec.events.clear()
            await page.reload()
            await expect(page.get_by_role("status").filter(has_text="Connected")).to_be_visible()
            await expect(status).to_have_value(value)
            await expect(status.locator("option:checked")).to_have_text(label)

        # And on another device (a fresh browser context with the same sign-in).
        await set_status(page, "Away")
        await observer.rec.wait_for("status", lambda d: d == {"status": "away", "reason": None})
        _, elsewhere, _ = await console_page(new_page, demo_agent_login)
        await open_console(elsewhere, base)
        await expect(elsewhere.get_by_label("Status")).to_have_value("away")
        assert errors.errors == []
    finally:
        await observer.disconnect()


async def test_login_and_console_pages_have_no_csp_violations(demo_deployment, demo_agent_login, demo_site_key,
                                                              new_page):
    base = demo_deployment.server.url
    violations: list[str] = []

    def watch(context, page):
        page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)

    # The sign-in page, signed out.
    context, login_page, _ = await new_page()
    await context.add_init_script(RECORD_CSP_VIOLATIONS)
    watch(context, login_page)
    await login_page.goto(base + "/login")
    await expect(login_page.get_by_role("button", name="Sign in")).to_be_visible()
    await login_page.get_by_label("Email").fill(DEMO_AGENT)
    await login_page.get_by_label("Password").fill("not the password")
    await login_page.get_by_role("button", name="Sign in").click()
    await expect(login_page.get_by_role("alert")).to_be_visible()
    violations += await login_page.evaluate("window.__csp")

    # The console with a chat open: list, transcript, sidebar, toasts, status changes.
    context, page, _ = await console_page(new_page, demo_agent_login)
    await context.add_init_script(RECORD_CSP_VIOLATIONS)
    watch(context, page)
    await open_console(page, base)
    await set_status(page, "Available")
    visitor = await visitor_asks(base, demo_site_key, "Is the Trekker plan yearly?")
    try:
        await expect(chat_list(page)).to_have_count(1)
        await chat_list(page).first.click()
        await expect(transcript(page).get_by_text("Is the Trekker plan yearly?")).to_be_visible()
        await page.get_by_label("Message").fill("Yes, €99 a year.")
        await page.get_by_label("Message").press("Enter")
        await visitor.rec.wait_for("message", lambda m: m["body"] == "Yes, €99 a year.")
        await page.get_by_role("button", name="Close chat").click()
        await expect(page.get_by_role("main").get_by_text("Chat closed")).to_be_visible()
        await set_status(page, "Offline")
    finally:
        await visitor.disconnect()
    violations += await page.evaluate("window.__csp")
    assert violations == []


async def _agent_waiting_for_chats(new_page, base, login):
    """A console tab of the demo agent, Available, that records notifications and tones."""
    context, page, errors = await new_page(storage_state=login.storage_state)
    await context.grant_permissions(["notifications"], origin=base)
    await context.add_init_script(RECORD_ALERTS)
    await open_console(page, base)
    await set_status(page, "Available")
    await expect(page.get_by_text(re.compile("No chats yet"))).to_be_visible()
    return page, errors


async def test_a_new_chat_rings_and_shows_a_desktop_notification(demo_deployment, demo_agent_login, demo_site_key,
                                                                 new_page):
    base = demo_deployment.server.url
    page, errors = await _agent_waiting_for_chats(new_page, base, demo_agent_login)
    visitor = await visitor_asks(base, demo_site_key, "Do you ship to Norway?")
    try:
        await expect(chat_list(page)).to_have_count(1)
        await page.wait_for_function("window.__notifications.length > 0 && window.__tones > 0")
        notifications = await page.evaluate("window.__notifications")
        assert len(notifications) == 1, notifications
        assert re.fullmatch(r"New chat from .+", notifications[0]["title"]), notifications
        # One chat, one alert: the chat's later messages do not ring again.
        tones = await page.evaluate("window.__tones")
        await visitor.call("message", {"client_id": clients.new_id(), "body": "Or to Iceland?"})
        await expect(transcript(page).get_by_text("Or to Iceland?")).to_be_visible()
        assert await page.evaluate("window.__notifications.length") == 1
        assert await page.evaluate("window.__tones") == tones
    finally:
        await visitor.disconnect()
    assert errors.errors == []


async def test_the_new_chat_alert_and_list_show_what_the_visitor_wrote(demo_deployment, demo_agent_login,
                                                                      demo_site_key, new_page):
    base = demo_deployment.server.url
    page, _ = await _agent_waiting_for_chats(new_page, base, demo_agent_login)
    visitor = await visitor_asks(base, demo_site_key, "Can I return boots after 30 days?")
    try:
        await expect(chat_list(page)).to_have_count(1)
        await page.wait_for_function("window.__notifications.length > 0")
        notification = (await page.evaluate("window.__notifications"))[0]
        assert "Can I return boots after 30 days?" in notification["body"], notification
        await expect(chat_list(page).first).to_contain_text("Can I return boots after 30 days?")
    finally:
        await visitor.disconnect()


async def test_a_chat_that_could_not_be_loaded_is_asked_for_again(demo_deployment, demo_agent_login, demo_site_key,
                                                                   new_page):
    """The console's `open` for a chat fails (here the test answers it with a server error): the
    console asks again by itself; after three failed retries the transcript says why and offers
    "Try again". It used to say "Loading…" for good."""
    base = demo_deployment.server.url
    failing = {"left": 0, "answered": 0}
    all_failed = asyncio.Event()

    async def relay(ws) -> None:  # the console's socket, with `open` answered by the test while failing
        server = ws.connect_to_server()

        def from_page(message) -> None:
            asked = re.match(r'42/agent,(\d+)\["open",', message) if isinstance(message, str) else None
            if asked and failing["left"] > 0:
                failing["left"] -= 1
                failing["answered"] += 1
                if failing["left"] == 0:
                    all_failed.set()
                error = {"code": "internal", "message": "Something went wrong."}
                ws.send(f"43/agent,{asked.group(1)}" + json.dumps([{"ok": False, "error": error}]))
                return
            server.send(message)

        ws.on_message(from_page)

    context, page, errors = await console_page(new_page, demo_agent_login)
    await page.route_web_socket(re.compile(r"/socket\.io/"), relay)
    await page.route(re.compile(r"/socket\.io/.*transport=polling"), lambda route: route.abort())
    visitors = []
    try:
        await open_console(page, base)
        await set_status(page, "Available")
        # One failure: the console's own retry loads the chat.
        failing["left"] = 1
        visitors.append(await visitor_asks(base, demo_site_key, "Is the Trail 40 pack waterproof?"))
        await expect(transcript(page).get_by_text("Is the Trail 40 pack waterproof?")).to_be_visible()
        assert failing["answered"] == 1
        # The first `open` and its three retries fail: the transcript says so and offers to try again.
        all_failed.clear()
        failing["left"] = 4
        visitors.append(await visitor_asks(base, demo_site_key, "Does the Trail 40 have a rain cover?"))
        await chat_list(page).filter(has_text="Does the Trail 40 have a rain cover?").click()
        await asyncio.wait_for(all_failed.wait(), 30)
        alert = transcript(page).get_by_role("alert")
        await expect(alert).to_contain_text("This chat could not be loaded: Something went wrong.")
        await alert.get_by_role("button", name="Try again").click()
        await expect(transcript(page).get_by_text("Does the Trail 40 have a rain cover?")).to_be_visible()
        await expect(alert).to_have_count(0)
        assert failing["answered"] == 5
    finally:
        for visitor in visitors:
            await visitor.disconnect()
    assert errors.errors == []
