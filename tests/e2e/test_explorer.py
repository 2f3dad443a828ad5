"""A marketer explores the trails: visits by referrer and keyword, one visitor's trail, aggregates,
CSV exports; a CSR may not."""

from __future__ import annotations

import csv
import io
import os
import re

from playwright.async_api import Page, expect

from tests.support import clients
from tests.support.clients import new_id


async def sign_in_at(page: Page, base: str, path: str, email: str, password: str) -> None:
    """Open `path` signed out, sign in on the login page it sends us to, and come back to it."""
    await page.goto(base + path)
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(re.compile(re.escape(path) + r"(\?|$)"))


async def seed_visits(demo, tag: str) -> list[str]:
    """Three visits on the shop: two from a search for tents (the first chats), one direct to the blog.
    Every URL and keyword carries `tag`, so this test finds its own visits among the others."""
    shop = demo.origin
    trails = [
        (f"https://www.google.com/search?q=blue+tent+{tag}", [("/tents", "Tents"), ("/tents/alpine-2", "Alpine 2")], True),
        (f"https://www.bing.com/search?q=tent+for+two+{tag}",
         [("/tents", "Tents"), ("/tents/alpine-2", "Alpine 2"), ("/checkout", "Checkout <img src=x onerror=alert(1)>")], False),
        (None, [("/blog/how-to-pitch", "How to pitch a tent")], False),
    ]
    ids = []
    for referrer, pages, chats in trails:
        visitor = await clients.visitor(demo.server.url, demo.site_key, shop)
        ids.append(visitor.rec.of("session")[0]["visitor_id"])
        previous = referrer
        for i, (path, title) in enumerate(pages):
            # The search visit came from a campaign: its landing page carries UTM tags.
            utm = f"&utm_campaign=winter-{tag}&utm_source=google&utm_medium=organic" if chats and i == 0 else ""
            ack = await visitor.call("page_view", {"url": f"{shop}{path}?t={tag}{utm}", "title": title,
                                                   "referrer": previous})
            assert ack.get("ok", True), ack
            previous = shop + path
        if chats:
            await invited_to_chat(demo, visitor, ids[-1], tag)
            # A custom event of the site's own: part of the trail.
            assert (await visitor.call("track", {"name": "signup", "props": {"plan": f"pro-{tag}"}}))["ok"]
        await visitor.disconnect()
    return ids


async def invited_to_chat(demo, visitor, visitor_id: str, tag: str) -> None:
    """A CSR invites the visitor, who sees the invitation, accepts it and asks something; the CSR closes."""
    email = f"ivy-{tag}@example.com"
    demo.create_user(email, "agent", f"Ivy {tag}")
    csr = await clients.agent(demo.server.url, email, demo.password)
    try:
        assert (await csr.call("set_status", {"status": "available"}))["ok"]
        ack = await csr.call("invite", {"visitor_id": visitor_id, "message": "Need a hand choosing a tent?"})
        assert ack["ok"], ack
        invitation = await visitor.rec.wait_for("invitation", lambda i: i["id"] == ack["invitation"]["id"])
        assert (await visitor.call("invitation_seen", {"id": invitation["id"]}))["ok"]
        accepted = await visitor.call("invitation_accept", {"id": invitation["id"]})
        assert accepted["ok"], accepted
        conversation_id = accepted["conversation"]["id"]
        await visitor.call("message", {"client_id": new_id(), "body": f"Private question {tag}"})
        await csr.rec.wait_for("conversation.assigned", lambda c: c["id"] == conversation_id)
        assert (await csr.call("close", {"conversation_id": conversation_id}))["ok"]
        assert (await csr.call("set_status", {"status": "offline"}))["ok"]
    finally:
        await csr.disconnect()


def cells(texts: list[str]) -> list[str]:
    """A table row's texts as the CSV writes them (an empty value shows as a dash)."""
    return ["" if t.strip() == "—" else t.strip() for t in texts]


async def test_a_marketer_explores_visits_trails_and_csv(demo, new_page):
    base = demo.server.url
    tag = "t" + os.urandom(3).hex()
    email = f"mia-{tag}@example.com"
    demo.create_user(email, "marketer", f"Mia {tag}")
    search_visitor, bing_visitor, _ = await seed_visits(demo, tag)

    _, page, errors = await new_page()
    await sign_in_at(page, base, "/explorer", email, demo.password)
    await expect(page.get_by_role("heading", name=re.compile("^Trail explorer"))).to_be_visible()
    # Marketers get the explorer, not the chat sections.
    nav = page.get_by_role("navigation", name="Sections")
    await expect(nav.get_by_role("link", name="Explorer")).to_have_attribute("aria-current", "page")
    await expect(nav.get_by_role("link", name="Console")).to_have_count(0)
    await expect(page.get_by_role("status")).to_have_text(re.compile(r"^Showing \d+ visits? from "))

    # The seeded visits, with where they came from.
    visits = page.get_by_role("table", name="Visits", exact=True)
    mine = visits.locator("tbody tr").filter(has_text=tag)
    await expect(mine).to_have_count(3)
    from_google = mine.filter(has_text=f"blue tent {tag}")
    await expect(from_google).to_contain_text("search")
    await expect(from_google).to_contain_text("google.com")
    await expect(from_google).to_contain_text("/tents/alpine-2")
    await expect(mine.filter(has_text="/blog/how-to-pitch")).to_contain_text("direct")

    # Aggregates and charts over the same visits.
    await expect(page.get_by_role("img", name="Visits and chats per day")).to_be_visible()
    await expect(page.get_by_role("img", name="Invitation funnel per rule")).to_be_visible()
    funnel = page.get_by_role("table", name="Invitation funnel per rule")
    await expect(funnel.get_by_role("row").filter(has_text="Manual invitations")).to_be_visible()
    await expect(page.get_by_role("table", name="Top search keywords")).to_contain_text(f"blue tent {tag}")
    paths = page.get_by_role("table", name=re.compile("^Most common paths"))
    await expect(paths.get_by_role("row").filter(has_text="/tents/alpine-2").first).to_contain_text("/tents")
    await expect(page.get_by_role("link", name="Download CSV: Top landing pages")).to_have_attribute(
        "href", re.compile(r"^/api/explorer/landing_pages\?.*format=csv"))

    # The campaign's table, and its filter.
    campaigns = page.get_by_role("table", name="UTM campaigns")
    await expect(campaigns.get_by_role("row").filter(has_text=f"winter-{tag}")).to_contain_text("organic")
    await page.get_by_label("UTM campaign", exact=True).fill(f"winter-{tag}")
    await page.get_by_role("button", name="Show").click()
    await expect(page.get_by_role("status")).to_have_text(re.compile(r"^Showing 1 visit from "))
    await expect(visits.locator("tbody tr")).to_have_count(1)
    await expect(visits.locator("tbody tr")).to_contain_text(f"blue tent {tag}")
    await page.get_by_label("UTM campaign", exact=True).fill("")

    # Filter by search keyword: the two searches, not the blog visit — one request for the whole page.
    data_requests: list[str] = []
    page.on("request", lambda r: data_requests.append(r.url) if "/api/explorer" in r.url else None)
    await page.get_by_label("Search keyword", exact=True).fill(tag)
    await page.get_by_role("button", name="Show").click()
    await expect(page).to_have_url(re.compile(rf"keyword={tag}"))
    await expect(page.get_by_role("status")).to_have_text(re.compile(r"^Showing 2 visits from "))
    assert len(data_requests) == 1 and re.search(r"/api/explorer\?.*keyword=", data_requests[0]), data_requests
    rows = visits.locator("tbody tr")
    await expect(rows).to_have_count(2)
    await expect(rows.filter(has_text="/blog/")).to_have_count(0)

    # A click on a visit opens the visitor's trail: the pages in order, with time on page.
    await rows.filter(has_text=f"blue tent {tag}").click()
    trail = page.get_by_role("dialog", name=f"Trail of visitor {search_visitor}")
    await expect(trail).to_be_visible()
    pages = trail.get_by_role("list", name="Pages of visit 1").get_by_role("listitem")
    await expect(pages).to_have_text([re.compile(r"^Tents.*on page"), re.compile(r"^Alpine 2.*(on page|unknown)")])
    await expect(trail).to_contain_text(f"Keywords: blue tent {tag}")
    events = trail.get_by_role("list", name="Events of visit 1").get_by_role("listitem")
    await expect(events).to_have_count(1)
    await expect(events).to_contain_text(f"Event: signup plan=pro-{tag}")
    await expect(trail).not_to_contain_text("Private question")
    await trail.get_by_role("button", name="Close trail").click()
    await expect(trail).to_be_hidden()

    # Enter on a focused row opens it too; Escape closes.
    bing_row = rows.filter(has_text=f"tent for two {tag}")
    await bing_row.focus()
    await bing_row.press("Enter")
    trail = page.get_by_role("dialog", name=f"Trail of visitor {bing_visitor}")
    pages = trail.get_by_role("list", name="Pages of visit 1").get_by_role("listitem")
    await expect(pages).to_have_text([re.compile("^Tents"), re.compile("^Alpine 2"), re.compile("^Checkout")])
    # A page title is the visitor's text, never markup.
    await expect(pages.nth(2)).to_contain_text("Checkout <img src=x onerror=alert(1)>")
    await expect(trail.locator("img")).to_have_count(0)
    await page.keyboard.press("Escape")
    await expect(trail).to_be_hidden()
    await expect(bing_row).to_be_focused()

    # The CSV of the visits table has the table's rows.
    link = page.get_by_role("link", name="Download CSV: Visits", exact=True)
    href = await link.get_attribute("href")
    assert href.startswith("/api/explorer/visits?") and "format=csv" in href and f"keyword={tag}" in href
    response = await page.request.get(base + href)
    assert response.status == 200 and response.headers["content-type"].startswith("text/csv")
    exported = list(csv.reader(io.StringIO(await response.text())))
    header = [t.strip() for t in await visits.locator("thead th").all_inner_texts()]
    assert exported[0] == header
    started = header.index("Started")
    shown = [cells(await row.locator("td").all_inner_texts()) for row in await rows.all()]
    assert len(exported[1:]) == len(shown) == 2
    for csv_row, table_row in zip(exported[1:], shown):
        assert [v for i, v in enumerate(csv_row) if i != started] == [v for i, v in enumerate(table_row) if i != started]

    # No visit matches: the empty state. A bad period: the API's message in an alert.
    await page.get_by_label("Search keyword", exact=True).fill(f"nothing-{tag}")
    await page.get_by_role("button", name="Show").click()
    await expect(page.get_by_text("No visits match these filters.")).to_be_visible()
    await page.get_by_label("From", exact=True).fill("2026-01-10")
    await page.get_by_label("To", exact=True).fill("2026-01-01")
    await page.get_by_role("button", name="Show").click()
    await expect(page.get_by_role("alert")).to_have_text("'from' is after 'to'.")
    await expect(visits).to_have_count(0)
    assert errors.errors == []


async def test_a_csr_may_not_open_the_explorer(demo, new_page):
    base = demo.server.url
    email = f"cory-{new_id()[:6]}@example.com"
    demo.create_user(email, "agent", "Cory CSR")
    _, page, _ = await new_page()
    await page.goto(base + "/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(demo.password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("navigation", name="Sections")).to_be_visible()
    await expect(page.get_by_role("link", name="Explorer")).to_have_count(0)
    response = await page.goto(base + "/explorer")
    assert response.status == 403
    await expect(page.get_by_text("The trail explorer is for marketers, supervisors and admins.")).to_be_visible()
    api = await page.request.get(base + "/api/explorer/visits")
    assert api.status == 403 and (await api.json())["error"]["code"] == "forbidden"
