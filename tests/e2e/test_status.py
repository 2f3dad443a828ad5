"""A CSR goes Away with a reason; it survives a reload and supervisors see it on the live board."""

from __future__ import annotations

from playwright.async_api import expect

from tests.e2e.helpers import set_status, sign_in
from tests.support.clients import new_id


async def test_away_with_a_reason(demo, new_page):
    base = demo.server.url
    tag = new_id()[:6]
    demo.create_user(f"mia-{tag}@example.com", "agent", f"Mia {tag}")
    demo.create_user(f"sol-{tag}@example.com", "supervisor", f"Sol {tag}")
    _, mia, errors = await new_page()
    _, sol, _ = await new_page()
    await sign_in(mia, base, f"mia-{tag}@example.com", demo.password)
    await sign_in(sol, base, f"sol-{tag}@example.com", demo.password)
    await sol.goto(base + "/supervise")
    row = sol.get_by_role("table", name="Agents").get_by_role("row").filter(has_text=f"Mia {tag}")
    await expect(row).to_contain_text("Offline")

    await set_status(mia, "Away · Meal")
    await expect(row).to_contain_text("Away · Meal")
    await mia.reload()
    await expect(mia.get_by_text("Connected")).to_be_visible()
    await expect(mia.get_by_label("Status")).to_have_value("away:Meal")
    await set_status(mia, "Available")
    await expect(row).to_contain_text("Available")
    await expect(row).not_to_contain_text("Meal")
    await set_status(mia, "Offline")
    assert errors.errors == []
