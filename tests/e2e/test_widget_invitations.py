"""Proactive invitations in the widget: a CSR invites a visitor browsing the demo site; the card
shows the CSR's message; Accept opens the chat with that CSR, Decline hides it and is remembered."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import DEMO_AGENT
from tests.e2e.helpers import launcher, widget, widget_log
from tests.support import clients


@pytest.fixture
async def csr(base_url, demo_deployment, demo_agent_login):
    """The demo agent over a socket, Available (the autouse reset puts them Offline afterwards)."""
    agent = await clients.agent(base_url, DEMO_AGENT, demo_deployment.password, token=demo_agent_login.socket_token)
    assert (await agent.call("set_status", {"status": "available"}))["ok"]
    yield agent
    await agent.disconnect()


def card(page):
    return page.get_by_role("dialog", name="Chat invitation")


async def browsing(new_page, base_url, demo_site_key):
    """A visitor on the demo pricing page, once the server knows they are there: (page, visitor id)."""
    _, page, errors = await new_page()
    await page.goto(base_url + "/demo/pricing")
    await expect(launcher(page)).to_be_visible()
    key = f"sb:{demo_site_key}:vid"
    deadline = asyncio.get_running_loop().time() + 10
    # (wait_for_function would eval a string, which the demo page's CSP forbids)
    while (raw := await page.evaluate(f"localStorage.getItem('{key}')")) is None:
        assert asyncio.get_running_loop().time() < deadline, "the widget never got a session"
        await asyncio.sleep(0.05)  # polling for the session, not synchronising with the code under test
    return page, errors, json.loads(raw)


async def invite(agent, visitor_id: str, message: str, timeout: float = 10.0) -> dict:
    """Invites once the visitor's page view has reached the live list (`not_found` until then)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        ack = await agent.call("invite", {"visitor_id": visitor_id, "message": message})
        if ack["ok"] or ack["error"]["code"] != "not_found" or asyncio.get_running_loop().time() > deadline:
            return ack
        await asyncio.sleep(0.1)  # polling the server's live list, not synchronising with the page


async def test_accepting_an_invitation_opens_the_chat_with_the_csr(csr, new_page, base_url, demo_site_key):
    page, errors, vid = await browsing(new_page, base_url, demo_site_key)
    message = "Hi! Questions about the <b>Pro</b> plan?"
    ack = await invite(csr, vid, message)
    assert ack["ok"], ack
    invitation_id = ack["invitation"]["id"]
    await expect(card(page)).to_be_visible()
    await expect(card(page).get_by_text(message, exact=True)).to_be_visible()  # text, never markup
    assert await card(page).locator("b").count() == 0
    # The widget said it showed it.
    await csr.rec.wait_for("invitation.updated", lambda u: u["id"] == invitation_id and u["state"] == "shown")
    # The card does not take the page's focus.
    assert await page.evaluate("document.activeElement === document.body")

    await card(page).get_by_role("button", name="Accept").click()
    await expect(card(page)).to_be_hidden()
    panel = widget(page)
    await expect(panel.get_by_role("textbox", name="Message")).to_be_visible()
    await expect(panel.get_by_text(re.compile(r"^You're chatting with "))).to_be_visible()
    await expect(widget_log(page).get_by_text(message, exact=True)).to_be_visible()
    await csr.rec.wait_for("conversation.assigned")
    assert errors.errors == []


async def test_declining_hides_the_card_and_is_remembered(csr, new_page, base_url, demo_site_key):
    page, errors, vid = await browsing(new_page, base_url, demo_site_key)
    ack = await invite(csr, vid, "Need a hand?")
    assert ack["ok"], ack
    await expect(card(page).get_by_text("Need a hand?")).to_be_visible()
    await card(page).get_by_role("button", name="Decline").click()
    await expect(card(page)).to_be_hidden()
    await csr.rec.wait_for("invitation.updated", lambda u: u["id"] == ack["invitation"]["id"] and u["state"] == "declined")
    again = await csr.call("invite", {"visitor_id": vid, "message": "Sure?"})
    assert not again["ok"] and again["error"]["code"] == "declined_recently"
    # No chat was opened.
    await expect(widget(page)).to_be_hidden()
    assert errors.errors == []


async def test_escape_hides_the_card_without_declining(csr, new_page, base_url, demo_site_key):
    page, errors, vid = await browsing(new_page, base_url, demo_site_key)
    ack = await invite(csr, vid, "Any questions?")
    assert ack["ok"], ack
    await expect(card(page)).to_be_visible()
    await card(page).get_by_role("button", name="Accept").focus()
    await page.keyboard.press("Escape")
    await expect(card(page)).to_be_hidden()
    # Still open: on the next page it is shown again (session.invitation).
    await page.goto(base_url + "/demo/")
    await expect(card(page).get_by_text("Any questions?")).to_be_visible()
    await card(page).get_by_role("button", name="Dismiss invitation").click()
    await expect(card(page)).to_be_hidden()
    assert errors.errors == []
