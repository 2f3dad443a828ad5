"""Automatic invitations, from the admin's form to the visitor's screen: an admin adds a rule on
/admin/invitation-rules ("/demo/pricing*", 2 s on the page); a visitor who stays on the pricing
page sees the card after about 2 s when a CSR is Available with room — and not on another page,
not when nobody is Available, not when the only Available CSR is full.

The deployment is this module's own (with the demo site): its rule must not invite the visitors
of other tests."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
import pytest
from playwright.async_api import expect

from tests.e2e.conftest import own_deployment
from tests.e2e.helpers import launcher
from tests.support import clients
from tests.support.clients import new_id

ADMIN = "admin@demo.switchboard"
CSR = "agent@demo.switchboard"
MESSAGE = "Questions about pricing?"
PATTERN = "/demo/pricing*"


@pytest.fixture(scope="module")
def site(request):
    """A deployment of our own with the demo site seeded (its rule would invite other tests' visitors)."""
    yield from own_deployment(request, "invitation-rules", seed_demo=True)


class RuleFrames:
    """The widget's `rule_matched` calls on a page and the server's answers, from its socket frames."""

    def __init__(self, page) -> None:
        self.sent: dict[str, int] = {}  # ack id -> rule id
        self.answers: dict[str, dict] = {}  # ack id -> ack
        page.on("websocket", self._watch)

    def _watch(self, ws) -> None:
        ws.on("framesent", self._sent)
        ws.on("framereceived", self._received)

    def _sent(self, payload) -> None:
        found = re.match(r'^42/visitor,(\d+)(\[.*)$', str(payload), re.S)
        if found:
            event = json.loads(found.group(2))
            if event[0] == "rule_matched":
                self.sent[found.group(1)] = event[1]["rule_id"]

    def _received(self, payload) -> None:
        found = re.match(r'^43/visitor,(\d+)(\[.*)$', str(payload), re.S)
        if found and found.group(1) in self.sent:
            self.answers[found.group(1)] = json.loads(found.group(2))[0]

    async def answer_for(self, rule_id: int, timeout: float = 15.0) -> dict:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for ack_id, sent_rule in self.sent.items():
                if sent_rule == rule_id and ack_id in self.answers:
                    return self.answers[ack_id]
            assert asyncio.get_running_loop().time() < deadline, f"no answer to rule_matched {rule_id}"
            await asyncio.sleep(0.05)  # polling the recorded frames, not synchronising with the page

    def rules_sent(self) -> list[int]:
        return list(self.sent.values())


def card(page):
    return page.get_by_role("dialog", name="Chat invitation")


async def visitor_on(new_page, url: str):
    """A new visitor (own browser context) on `url`, once the widget is there: (page, frames, errors, t0)."""
    _, page, errors = await new_page()
    frames = RuleFrames(page)
    t0 = asyncio.get_running_loop().time()
    await page.goto(url)
    await expect(launcher(page)).to_be_visible()
    return page, frames, errors, t0


async def create_rule_on_the_admin_page(new_page, base: str, password: str, name: str) -> int:
    _, page, errors = await new_page()
    await page.goto(base + "/admin/invitation-rules")
    await page.get_by_label("Email").fill(ADMIN)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Automatic invitations")).to_be_visible()
    form = page.locator("form").filter(has=page.get_by_role("button", name="Add rule"))
    await form.get_by_label("Name", exact=True).fill(name)
    await form.get_by_label("Site", exact=True).select_option(label="Demo")
    await form.get_by_label("Message", exact=True).fill(MESSAGE)
    await form.get_by_label("Page path pattern").fill(PATTERN)
    await form.get_by_label("Seconds on page at least").fill("2")
    await expect(form.get_by_label("Enabled")).to_be_checked()
    await page.get_by_role("button", name="Add rule").click()
    rules = page.get_by_role("table", name="Rules")
    row = rules.get_by_role("row").filter(has_text=name)
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text(f"url: {PATTERN}")
    await expect(row).to_contain_text("min seconds on page: 2")
    await expect(row).to_contain_text("Anyone Available")
    await expect(row.get_by_role("cell").nth(5)).to_have_text("On")
    edit = await row.get_by_role("link", name=f"Edit {name}").get_attribute("href")
    assert errors.errors == []
    return int(re.search(r"edit=(\d+)", edit).group(1))


async def test_an_admins_rule_invites_visitors_on_pricing_when_someone_has_room(site, new_page):
    base = site.server.url
    pricing, home = base + "/demo/pricing", base + "/demo/"
    site_key = re.search(r'data-site="([^"]+)"', httpx.get(home).text).group(1)
    rule_id = await create_rule_on_the_admin_page(new_page, base, site.password, f"Pricing after 2 s {new_id()[:6]}")

    # 1. Nobody is Available: the widget asks when the 2 s are up, the server says no; no card.
    page, frames, errors, _ = await visitor_on(new_page, pricing)
    answer = await frames.answer_for(rule_id)
    assert answer["ok"] is False and answer["error"]["code"] == "not_eligible", answer
    assert answer["error"]["message"] == "Nobody can take a chat now.", answer
    await expect(card(page)).to_have_count(0)
    assert errors.errors == []

    # 2. The only Available CSR is full (one chat, capacity one): still nobody with room.
    site.create_user("full@example.com", "agent", "Fran Full", max_chats=1)
    full = await clients.agent(base, "full@example.com", site.password)
    chatter = None
    try:
        assert (await full.call("set_status", {"status": "available"}))["ok"]
        chatter = await clients.visitor(base, site_key, base)
        sent = await chatter.call("message", {"client_id": new_id(), "body": "Taking the only seat"})
        assert sent["ok"], sent
        await full.rec.wait_for("conversation.assigned", lambda c: c["id"] == sent["conversation_id"])
        page, frames, errors, _ = await visitor_on(new_page, pricing)
        answer = await frames.answer_for(rule_id)
        assert answer["ok"] is False and answer["error"]["message"] == "Nobody can take a chat now.", answer
        await expect(card(page)).to_have_count(0)
        assert errors.errors == []
    finally:
        await clients.sign_off(full)
        await full.disconnect()
        if chatter is not None:
            await chatter.disconnect()

    # 3. A CSR is Available with room.
    csr = await clients.agent(base, CSR, site.password)
    try:
        assert (await csr.call("set_status", {"status": "available"}))["ok"]

        # A visitor on another page: the widget never asks, no card (checked once a visitor who
        # came later to the pricing page has had theirs: this one's 2 s are up too by then).
        elsewhere, elsewhere_frames, elsewhere_errors, _ = await visitor_on(new_page, home)

        # ... and the server checks the page itself: a visitor claiming the rule elsewhere is refused.
        claimer = await clients.visitor(base, site_key, base)
        try:
            assert {"id": rule_id, "url": PATTERN, "min_seconds_on_page": 2} in claimer.rec.of("session")[0]["invitation_rules"]
            assert (await claimer.call("page_view", {"url": home, "title": "Home"}))["ok"]
            refused = await claimer.call("rule_matched", {"rule_id": rule_id})
            assert refused["ok"] is False and refused["error"]["code"] == "not_eligible", refused
            assert "url" in refused["error"]["message"], refused
        finally:
            await claimer.disconnect()

        # A visitor on the pricing page: the card, with the rule's message, after about 2 s.
        page, frames, errors, t0 = await visitor_on(new_page, pricing)
        invitation = card(page)
        await expect(invitation).to_be_visible(timeout=15_000)
        shown_after = asyncio.get_running_loop().time() - t0
        assert rule_id not in elsewhere_frames.rules_sent()
        await expect(card(elsewhere)).to_have_count(0)
        assert elsewhere_errors.errors == []
        await expect(invitation.get_by_text(MESSAGE, exact=True)).to_be_visible()
        assert shown_after >= 1.5, f"the card came after {shown_after:.1f} s, before the rule's 2 s"
        answer = await frames.answer_for(rule_id)
        assert answer["ok"] is True and answer["invitation"]["message"] == MESSAGE, answer
        # The card never takes the page's focus.
        assert await page.evaluate("document.activeElement === document.body")
        # Accepting opens the chat, with the invitation's text as its first message.
        await invitation.get_by_role("button", name="Accept").click()
        await expect(invitation).to_be_hidden()
        assigned = await csr.rec.wait_for("conversation.assigned")
        opened = await csr.call("open", {"conversation_id": assigned["id"]})
        assert opened["ok"] and opened["messages"][0]["body"] == MESSAGE, opened
        assert (await csr.call("close", {"conversation_id": assigned["id"]}))["ok"]
        assert errors.errors == []
    finally:
        await clients.sign_off(csr)
        await csr.disconnect()
