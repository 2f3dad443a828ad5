"""An admin runs a queue from the browser: from the header's "Admin" to Departments, a new
department with a CSR and hours in another time zone (closed now: the visitor is offered a note;
open: the chat waits in the manual queue), the strategy switched to automatic (the waiting chat
reaches the CSR at once), a refused time zone shown next to its field, and the audit log listing
it all."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import own_deployment
from tests.e2e.helpers import chat_list, launcher, set_status, sign_in, widget
from tests.support.clients import new_id
from tests.support.db import fetch

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ZONE = "Pacific/Auckland"  # its day is not the center's (UTC)


@pytest.fixture(scope="module")
def center(request):
    """A deployment of this module's own: its CSR, Available, must not take other tests' chats
    (every CSR serves the general queues), nor they its."""
    yield from own_deployment(request, "admin-departments", seed_demo=True)


def hours_in_zone(*, open_now: bool) -> str:
    local = datetime.now(ZoneInfo(ZONE))
    return f"{DAYS[local.weekday() if open_now else (local.weekday() + 1) % 7]} 00:00-24:00"


async def test_an_admin_sets_up_a_department_its_hours_and_strategy_in_the_browser(center, new_page):
    demo = center
    base = demo.server.url
    tag = new_id()[:6]
    admin, csr = f"ada-{tag}@example.com", f"nia-{tag}@example.com"
    demo.create_user(admin, "admin", f"Ada {tag}")
    demo.create_user(csr, "agent", f"Nia {tag}")
    [site] = await fetch(demo, "SELECT id, name FROM site WHERE name = 'Demo'")
    topic = f"Kiwi desk {tag}"

    _, boss, boss_errors = await new_page()
    await sign_in(boss, base, admin, demo.password)
    await boss.get_by_role("navigation", name="Sections").get_by_role("link", name="Admin").click()
    admin_nav = boss.get_by_role("navigation", name="Admin")
    await admin_nav.get_by_role("link", name="Departments").click()
    await expect(admin_nav.get_by_role("link", name="Departments")).to_have_attribute("aria-current", "page")
    await boss.get_by_role("button", name=f"New department of {site['name']}").click()

    # A time zone that does not exist: said next to the field, nothing stored.
    await boss.get_by_label("Name", exact=True).fill(topic)
    await boss.get_by_label("Strategy").select_option(label="Manual (CSRs pick from the queue)")
    await boss.get_by_role("checkbox", name=f"Nia {tag}").check()
    await boss.get_by_label("Business hours", exact=True).fill(hours_in_zone(open_now=False))
    await boss.get_by_label("Time zone").fill("Mars/Olympus")
    await boss.get_by_role("button", name="Save").click()
    await expect(boss.get_by_label("Time zone")).to_have_attribute("aria-invalid", "true")
    await expect(boss.locator("#f-time-zone-error")).to_contain_text("is not a time zone")
    await expect(boss.get_by_role("alert")).to_contain_text("Nothing was saved")
    assert not await fetch(demo, "SELECT id FROM department WHERE name = ?", topic)
    # What was typed is still there; the zone corrected, it is saved.
    await expect(boss.get_by_label("Name", exact=True)).to_have_value(topic)
    await expect(boss.get_by_role("checkbox", name=f"Nia {tag}")).to_be_checked()
    await boss.get_by_label("Time zone").fill(ZONE)
    await expect(boss.get_by_role("checkbox", name="Accept chats outside business hours")).not_to_be_checked()
    await boss.get_by_role("button", name="Save").click()
    await expect(boss.get_by_role("status")).to_have_text("Saved.")
    assert await fetch(demo, "SELECT accept_after_hours FROM department WHERE name = ?", topic) in (
        [{"accept_after_hours": 0}], [{"accept_after_hours": False}])
    row = boss.get_by_role("row", name=re.compile(re.escape(topic)))
    await expect(row).to_contain_text(ZONE)
    await expect(row).to_contain_text(f"Nia {tag}")

    _, agent, agent_errors = await new_page()
    await sign_in(agent, base, csr, demo.password)
    await set_status(agent, "Available")

    # Closed now in its own time zone, though its CSR is Available: the visitor is offered a note.
    _, visitor, visitor_errors = await new_page()
    await visitor.goto(base + "/demo/support")
    await launcher(visitor).click()
    panel = widget(visitor)
    await panel.get_by_label("Topic").select_option(label=topic)
    await expect(panel.get_by_text("Nobody can chat right now")).to_be_visible()

    # Open now: the visitor's chat waits in the manual queue for a CSR to take it.
    await row.get_by_role("link", name=f"Edit {topic}").click()
    await boss.get_by_label("Business hours", exact=True).fill(hours_in_zone(open_now=True))
    await boss.get_by_role("button", name="Save").click()
    await expect(boss.get_by_role("status")).to_have_text("Saved.")
    await launcher(visitor).click()  # closed and opened again: the widget asks who can chat now
    await expect(panel).to_be_hidden()
    await launcher(visitor).click()
    await expect(panel.get_by_text("Nobody can chat right now")).to_be_hidden()
    await panel.get_by_label("Message").fill("Is the ferry running today?")
    await panel.get_by_label("Message").press("Enter")
    waiting = agent.get_by_role("list", name=re.compile("^Waiting"))
    await expect(waiting.get_by_role("button", name=re.compile(r"^Take chat with "))).to_have_count(1)
    await expect(chat_list(agent)).to_have_count(0)

    # Switched to automatic: the waiting chat reaches the CSR without anyone taking it.
    await row.get_by_role("link", name=f"Edit {topic}").click()
    await boss.get_by_label("Strategy").select_option(label="Longest idle CSR first")
    await boss.get_by_role("button", name="Save").click()
    await expect(boss.get_by_role("status")).to_have_text("Saved.")
    await expect(chat_list(agent)).to_have_count(1, timeout=30_000)

    # The audit log lists both changes, with what the strategy was and became.
    await admin_nav.get_by_role("link", name="Audit log").click()
    await boss.get_by_label("Who").select_option(label=f"Ada {tag}")
    await boss.get_by_role("button", name="Filter").click()
    entries = boss.get_by_role("row", name=re.compile(f"department {re.escape(topic)}"))
    await expect(entries).to_have_count(3)
    await expect(entries.filter(has_text="Created a department")).to_have_count(1)
    await expect(entries.filter(has_text="manual → longest_idle")).to_have_count(1)
    assert boss_errors.errors == [] and agent_errors.errors == [] and visitor_errors.errors == []
    await set_status(agent, "Offline")
