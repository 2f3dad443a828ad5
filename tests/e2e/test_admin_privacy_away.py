"""The Privacy and Away reasons admin pages in Chromium: an admin changes a site's tracking
settings (a retention of 0 days is refused next to its field), finds a visitor by e-mail and
erases them after confirming; replaces the away reasons, and a CSR's status menu offers the new
ones. The deployment is this module's own: the away reasons are the whole center's."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import own_deployment
from tests.e2e.helpers import sign_in
from tests.support import clients
from tests.support.clients import new_id
from tests.support.db import fetch

ADMIN = "admin@demo.switchboard"
CSR = "agent@demo.switchboard"
TIMEOUT = 20_000


@pytest.fixture(scope="module")
def center(request):
    yield from own_deployment(request, "admin-privacy-away", seed_demo=True)


async def to_admin_page(page, name: str) -> None:
    await page.get_by_role("navigation", name="Sections").get_by_role("link", name="Admin").click()
    await page.get_by_role("navigation", name="Admin").get_by_role("link", name=name).click()
    await expect(page.get_by_role("navigation", name="Admin").get_by_role("link", name=name)) \
        .to_have_attribute("aria-current", "page", timeout=TIMEOUT)


async def test_an_admin_sets_tracking_and_erases_a_visitor_on_request(center, new_page):
    base, tag = center.server.url, new_id()[:6]
    [site] = await fetch(center, "SELECT id, name, key FROM site WHERE name = 'Demo'")
    email = f"dana-{tag}@example.org"
    visitor = await clients.visitor(base, site["key"], base)
    visitor_id = visitor.rec.of("session")[0]["visitor_id"]
    assert (await visitor.call("identify", {"name": "Dana", "email": email}))["ok"]
    await visitor.disconnect()

    _, page, errors = await new_page()
    await sign_in(page, base, ADMIN, center.password)
    await to_admin_page(page, "Privacy")
    await page.get_by_label("Site").select_option(label="Demo")
    await page.get_by_role("button", name="Show").click()

    retention = page.get_by_label("Retention (days)")
    await retention.fill("0")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_label("Retention (days)")).to_have_attribute("aria-invalid", "true", timeout=TIMEOUT)
    await expect(page.get_by_label("Retention (days)")).to_have_accessible_description(re.compile(r"1.*3650"))
    await page.get_by_label("Retention (days)").fill("90")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status").filter(has_text="Saved")).to_be_visible(timeout=TIMEOUT)
    await expect(page.get_by_label("Retention (days)")).to_have_value("90")

    finder = page.get_by_role("search", name="Find a visitor")
    await finder.get_by_label("Visitor id or e-mail").fill(email.upper())
    await finder.get_by_role("button", name="Find").click()
    found = page.get_by_role("table", name="Visitors found")
    await expect(found.get_by_role("row")).to_have_count(2, timeout=TIMEOUT)  # the header and Dana
    await expect(found.get_by_role("link", name=f"Export visitor {visitor_id}")).to_be_visible()
    await found.get_by_role("link", name=f"Erase visitor {visitor_id}").click()
    confirm = page.get_by_role("group").filter(has=page.get_by_role("button", name="Erase for good"))
    await expect(confirm).to_contain_text(visitor_id)
    await confirm.get_by_role("button", name="Erase for good").click()
    await expect(page.get_by_role("status").filter(has_text="erased")).to_be_visible(timeout=TIMEOUT)
    assert not await fetch(center, "SELECT id FROM visitor WHERE id = ?", visitor_id)
    actions = [r["action"] for r in await fetch(center, "SELECT action FROM audit_event ORDER BY id")]
    assert "privacy_update" in actions and "visitor_erased" in actions
    assert errors.errors == []


async def test_an_admin_replaces_the_away_reasons_and_csrs_get_them(center, new_page):
    base = center.server.url
    _, page, errors = await new_page()
    await sign_in(page, base, ADMIN, center.password)
    await to_admin_page(page, "Away reasons")
    reasons = page.get_by_label("Away reasons")
    await reasons.fill("Lunch\nmissed offers")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_label("Away reasons")).to_have_attribute("aria-invalid", "true", timeout=TIMEOUT)
    await expect(page.get_by_label("Away reasons")).to_have_accessible_description(re.compile("given by the server"))
    await page.get_by_label("Away reasons").fill("Lunch\nCoaching\nAfter-chat work")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_contain_text("Saved.", timeout=TIMEOUT)

    _, csr, csr_errors = await new_page()
    await sign_in(csr, base, CSR, center.password)
    status = csr.get_by_label("Status")
    await expect(status.get_by_role("option", name="Away · Coaching")).to_have_count(1)
    await expect(status.get_by_role("option", name="Away · Break")).to_have_count(0)
    await status.select_option(label="Away · Coaching")
    await expect(status).to_have_value("away:Coaching")
    await status.select_option(label="Offline")

    await to_admin_page(page, "Audit log")
    await page.get_by_label("Action").select_option(label="Changed the away reasons")
    await page.get_by_role("button", name="Filter").click()
    await expect(page.get_by_role("row", name=re.compile("Changed the away reasons"))).to_have_count(1)
    assert errors.errors == [] and csr_errors.errors == []
