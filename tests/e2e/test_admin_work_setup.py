"""An admin sets up the back office in Chromium: from the header's "Admin" to Teams (empty at first),
a team with a back-office handler and a CSR and business hours in its own time zone (a time zone that
does not exist is refused next to its field first), then Categories & SLA: "Complaint" with its
sub-category "Delivery", and an SLA policy for it (one without targets refused next to its field).
The deployment is this module's own: teams and categories are the whole center's."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import own_deployment
from tests.e2e.helpers import sign_in
from tests.support.clients import new_id
from tests.support.db import fetch

TIMEOUT = 20_000


@pytest.fixture(scope="module")
def center(request):
    yield from own_deployment(request, "admin-work-setup", seed_demo=False)


async def to_admin_page(page, name: str) -> None:
    admin_nav = page.get_by_role("navigation", name="Admin")
    await admin_nav.get_by_role("link", name=name).click()
    await expect(admin_nav.get_by_role("link", name=name)).to_have_attribute("aria-current", "page", timeout=TIMEOUT)


async def test_an_admin_sets_up_teams_categories_and_sla_policies(center, new_page):
    d = center
    base, tag = d.server.url, new_id()[:6]
    admin = f"ada-{tag}@example.com"
    d.create_user(admin, "admin", f"Ada {tag}")
    d.create_user(f"hugo-{tag}@example.com", "handler", f"Hugo {tag}")
    d.create_user(f"nia-{tag}@example.com", "agent", f"Nia {tag}")
    team = f"Billing {tag}"

    _, page, errors = await new_page()
    await sign_in(page, base, admin, d.password)
    await page.get_by_role("navigation", name="Sections").get_by_role("link", name="Admin").click()
    await to_admin_page(page, "Teams")
    await expect(page.get_by_text("No handling teams yet")).to_be_visible()
    await page.get_by_role("link", name="New team").click()

    # A time zone that does not exist: said next to the field, nothing stored, what was typed kept.
    await page.get_by_label("Name", exact=True).fill(team)
    await page.get_by_label("Description").fill("Refunds and invoices")
    await page.get_by_label("Lead").select_option(label=f"Nia {tag} (CSR)")
    members = page.get_by_role("list", name="Members")
    await members.get_by_role("checkbox", name=f"Hugo {tag} (Back office)").check()
    await members.get_by_role("checkbox", name=f"Nia {tag} (CSR)").check()
    await expect(members.get_by_role("checkbox", name="Mia Marketer")).to_have_count(0)
    await page.get_by_label("Business hours").fill("mon-fri 09:00-17:00")
    await page.get_by_label("Time zone").fill("Mars/Olympus")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_label("Time zone")).to_have_attribute("aria-invalid", "true", timeout=TIMEOUT)
    await expect(page.get_by_label("Time zone")).to_have_accessible_description(re.compile("is not a time zone"))
    await expect(page.get_by_role("alert")).to_contain_text("Nothing was saved")
    assert not await fetch(d, "SELECT id FROM work_team WHERE name = ?", team)
    await expect(page.get_by_label("Name", exact=True)).to_have_value(team)
    await expect(page.get_by_role("checkbox", name=f"Hugo {tag}")).to_be_checked()
    await page.get_by_label("Time zone").fill("Europe/Berlin")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_have_text("Saved.", timeout=TIMEOUT)
    row = page.get_by_role("row", name=re.compile(re.escape(team)))
    await expect(row).to_contain_text("2 members")
    await expect(row).to_contain_text(f"Hugo {tag}")
    await expect(row).to_contain_text("Europe/Berlin")
    await expect(row.get_by_role("cell").nth(1)).to_have_text(f"Nia {tag}")  # the lead

    # Categories: "Complaint", then "Delivery" under it.
    await to_admin_page(page, "Categories & SLA")
    await expect(page.get_by_text("No categories yet")).to_be_visible()
    await page.get_by_label("Name", exact=True).fill("Complaint")
    await page.get_by_role("button", name="Add category").click()
    await expect(page.get_by_role("status")).to_have_text("Saved.", timeout=TIMEOUT)
    await page.get_by_label("Name", exact=True).fill("Delivery")
    await page.get_by_label("Parent").select_option(label="Complaint")
    await page.get_by_role("button", name="Add category").click()
    sub = page.get_by_role("list", name="Sub-categories of Complaint")
    await expect(sub.get_by_role("listitem")).to_have_count(1, timeout=TIMEOUT)
    await expect(sub.get_by_role("listitem")).to_contain_text("Delivery")
    await expect(page.get_by_role("list", name="Categories").get_by_role("button", name="Deactivate Complaint",
                                                                          exact=True)).to_be_visible()

    # An SLA policy without targets is refused next to its field; with them it is listed.
    await page.get_by_label("Category", exact=True).select_option(label="Complaint › Delivery")
    await page.get_by_label("Priority").select_option(label="High")
    await page.get_by_role("button", name="Add policy").click()
    resolution = page.get_by_label("Resolution (minutes)")
    await expect(resolution).to_have_attribute("aria-invalid", "true", timeout=TIMEOUT)
    await expect(resolution).to_have_accessible_description(re.compile("Give a first-response or a resolution target"))
    assert not await fetch(d, "SELECT id FROM sla_policy")
    await expect(page.get_by_label("Category", exact=True)).to_have_value(re.compile(r"\d+"))  # kept
    await page.get_by_label("First response (minutes)").fill("60")
    await page.get_by_label("Resolution (minutes)").fill("480")
    await page.get_by_role("button", name="Add policy").click()
    await expect(page.get_by_role("status")).to_have_text("Saved.", timeout=TIMEOUT)
    policy = page.get_by_role("table", name="SLA policies").get_by_role("row", name=re.compile("Complaint › Delivery"))
    await expect(policy).to_have_count(1)
    await expect(policy.get_by_role("cell")).to_have_text(["Complaint › Delivery", "High", "60", "480", re.compile("Edit")])

    [stored] = await fetch(d, "SELECT priority, first_response_minutes, resolution_minutes FROM sla_policy")
    assert (stored["priority"], stored["first_response_minutes"], stored["resolution_minutes"]) == ("high", 60, 480)
    assert errors.errors == []
