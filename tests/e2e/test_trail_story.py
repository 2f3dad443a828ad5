"""A visitor's trail, told end to end in Chromium: they land on the demo site from a Google search
for "blue tent", browse three pages (one of them a single-page-app route change made with
history.pushState), and stay a known time on one of them. A CSR watching the Visitors view sees
the row follow them live (current page, pages count, referrer type and keyword), and the profile
shows the trail in order with the time on each page and where the visit came from."""

from __future__ import annotations

import asyncio
import json
import re

from playwright.async_api import expect

from tests.e2e.helpers import launcher

GOOGLE = "https://www.google.com/search?q=blue+tent"
STAY_SECONDS = 3


def table(page):
    return page.get_by_role("table", name="Visitors online")


def row_of(page, name: str):
    return table(page).get_by_role("row").filter(has=page.get_by_role("button", name=f"Profile of {name}", exact=True))


def profile(page):
    return page.get_by_role("complementary", name="Visitor profile")


async def visitor_id(page, site_key: str) -> str:
    """The visitor id the widget stored once the server opened its session."""
    key = f"sb:{site_key}:vid"
    deadline = asyncio.get_running_loop().time() + 10
    # (wait_for_function evaluates a string, which the demo page's CSP forbids)
    while (raw := await page.evaluate(f"localStorage.getItem('{key}')")) is None:
        assert asyncio.get_running_loop().time() < deadline, "the widget never got a session"
        await asyncio.sleep(0.05)  # polling for the session, not synchronising with the code under test
    return json.loads(raw)


def seconds_active(text: str) -> int | None:
    found = re.fullmatch(r"(\d+) s active", text.strip())
    return int(found.group(1)) if found else None


async def test_a_visitor_from_a_search_leaves_a_trail_the_csr_follows_live(
        new_page, base_url, demo_site_key, demo_agent_login):
    # The CSR watches the Visitors view before the visitor arrives.
    _, csr, csr_errors = await new_page(storage_state=demo_agent_login.storage_state)
    await csr.goto(base_url + "/visitors")
    await expect(csr.get_by_text("Connected")).to_be_visible()
    await expect(csr.get_by_text("Loading visitors…")).to_be_hidden()

    # 1. The visitor lands on the home page from a Google search.
    _, visitor, visitor_errors = await new_page()
    await visitor.goto(base_url + "/demo/", referer=GOOGLE)
    assert await visitor.evaluate("document.referrer") == GOOGLE  # what the widget reports
    await expect(launcher(visitor)).to_be_visible()
    vid = await visitor_id(visitor, demo_site_key)
    name = "Guest " + vid[-4:]
    row = row_of(csr, name)
    await expect(row).to_contain_text("Acme Outdoor — Home")
    await expect(row.get_by_role("cell").nth(2)).to_have_text("1")
    referrer_cell = row.get_by_role("cell").nth(3)
    await expect(referrer_cell).to_contain_text("Search")
    await expect(referrer_cell).to_contain_text("\u201cblue tent\u201d")

    # 2. To the pricing page (a full page load), the row follows.
    await visitor.get_by_role("navigation", name="Demo site").get_by_role("link", name="Pricing").click()
    await expect(visitor.get_by_role("heading", name="Pricing")).to_be_visible()
    await expect(row).to_contain_text("Acme Outdoor — Pricing")
    await expect(row.get_by_role("link", name=base_url + "/demo/pricing", exact=True)).to_be_visible()
    await expect(row.get_by_role("cell").nth(2)).to_have_text("2")

    # 3. To the support page, where the visitor reads for a known time before changing tab.
    await visitor.get_by_role("navigation", name="Demo site").get_by_role("link", name="Support").click()
    await expect(visitor.get_by_role("tab", name="Returns")).to_have_attribute("aria-selected", "true")
    await expect(row).to_contain_text("Acme Outdoor — Support")
    await expect(row.get_by_role("cell").nth(2)).to_have_text("3")
    assert await visitor.evaluate("document.visibilityState") == "visible"  # time on page counts only then
    # Real time must pass for time on page to be measured: a bounded wait, on purpose.
    await visitor.wait_for_timeout(STAY_SECONDS * 1000)

    # 4. A tab of the support page is a route of a single-page app (history.pushState): a page view
    #    of its own, and the support page's time goes to the server with it.
    await visitor.get_by_role("tab", name="Repairs").click()
    await expect(visitor).to_have_url(base_url + "/demo/support?tab=repairs")
    await expect(visitor.get_by_text("We repair for free")).to_be_visible()
    await expect(row).to_contain_text("Acme Outdoor — Support: Repairs")
    await expect(row.get_by_role("link", name=base_url + "/demo/support?tab=repairs", exact=True)).to_be_visible()
    await expect(row.get_by_role("cell").nth(2)).to_have_text("4")
    # Still where the visit came from: the first page's search.
    await expect(referrer_cell).to_contain_text("Search")
    await expect(referrer_cell).to_contain_text("\u201cblue tent\u201d")

    # 5. The CSR opens the profile from the keyboard: the trail in order, with time on each page.
    await row.focus()
    await csr.keyboard.press("Enter")
    panel = profile(csr)
    await expect(panel.get_by_role("heading", name=name)).to_be_visible()
    await expect(panel).to_contain_text("Online now")
    trail = panel.get_by_role("list", name="Trail")
    visits = trail.locator(":scope > li")
    await expect(visits).to_have_count(1)
    await expect(visits.first).to_contain_text("Visit 1")
    await expect(visits.first).to_contain_text("4 pages")
    await expect(visits.first.get_by_role("definition").first).to_have_text("Search · google.com · \u201cblue tent\u201d")
    pages = visits.first.get_by_role("list").get_by_role("listitem")
    await expect(pages).to_have_text([
        re.compile(r"Acme Outdoor — Home\s*" + re.escape(base_url + "/demo/")),
        re.compile(r"Acme Outdoor — Pricing\s*" + re.escape(base_url + "/demo/pricing")),
        re.compile(r"Acme Outdoor — Support\s*" + re.escape(base_url + "/demo/support") + r"(?!\?)"),
        re.compile(r"Acme Outdoor — Support: Repairs\s*" + re.escape(base_url + "/demo/support?tab=repairs")),
    ])
    # Home and pricing: their time went when each page was left (by beacon, the page going away);
    # support: by socket, when the route changed. The page stayed on for ~3 s reads 2-10 s.
    active = pages.locator(".vv-page-active")
    await expect(active.nth(2)).to_have_text(re.compile(r"^\d+ s active$"))
    support = seconds_active(await active.nth(2).inner_text())
    assert support is not None and 2 <= support <= 10, await active.nth(2).inner_text()
    for i in (0, 1):
        await expect(active.nth(i)).to_have_text(re.compile(r"^\d+ s active$"))
        quick = seconds_active(await active.nth(i).inner_text())
        assert quick is not None and 0 <= quick <= 10, (i, quick)  # the time it took to follow a link
    await csr.keyboard.press("Escape")
    await expect(panel).to_be_hidden()
    await expect(row).to_be_focused()

    assert visitor_errors.errors == [] and csr_errors.errors == []
