"""A supervisor reads the reports: headline figures with their change, charts, tables and CSV."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.e2e.helpers import sign_in
from tests.support import clients
from tests.support.clients import new_id


async def test_a_supervisor_reads_the_reports_and_downloads_a_csv(demo, demo_site_key, new_page):
    base = demo.server.url
    tag = new_id()[:6]
    demo.create_user(f"rory-{tag}@example.com", "supervisor", f"Rory {tag}")
    # A chat today, so the period has something in it: a visitor who gives up at once (a short abandon).
    visitor = await clients.visitor(base, demo_site_key, origin=base)
    ack = await visitor.call("message", {"client_id": new_id(), "body": "Hello?"})
    await visitor.call("close", {"conversation_id": ack["conversation_id"]})
    await visitor.disconnect()
    # And a CSR who worked a little today, so the state log has a timeline.
    csr = await clients.agent(base, f"rory-{tag}@example.com", demo.password)
    await csr.call("set_status", {"status": "available"})
    await csr.call("set_status", {"status": "away", "reason": "Meal"})
    await csr.call("set_status", {"status": "offline"})
    await csr.disconnect()

    _, page, errors = await new_page(accept_downloads=True)
    await sign_in(page, base, f"rory-{tag}@example.com", demo.password)
    await page.get_by_role("link", name="Reports").click()
    await expect(page.get_by_role("heading", name=re.compile("^Reports"))).to_be_visible()
    await expect(page.get_by_role("status")).to_have_text(re.compile(r"^(Showing|No chats between) "))
    offered = page.get_by_role("group", name="Offered", exact=True)
    await expect(offered).to_contain_text(re.compile(r"\d"))
    await expect(page.get_by_role("img", name="Chats per interval")).to_be_visible()
    await expect(page.get_by_role("table", name="Queues")).to_be_visible()
    # Every CSR's states as a timeline.
    timeline = page.get_by_role("list", name="Agent timelines").get_by_role("listitem", name=re.compile(f"^Rory {tag}:"))
    await expect(timeline).to_have_accessible_name(re.compile(r"available, .*away \(Meal\), .*offline"))
    await expect(page.get_by_role("table", name="Missed chats")).to_contain_text("Left within the short-abandon time")

    # Another interval re-reads everything; the address keeps the filters.
    await page.get_by_label("Interval", exact=True).select_option("hour")
    await page.get_by_role("button", name="Show").click()
    await expect(page).to_have_url(re.compile(r"slice=hour"))

    async with page.expect_download() as info:
        await page.get_by_role("link", name="Download CSV: Queues", exact=True).click()
    download = await info.value
    assert download.suggested_filename.startswith("switchboard-queues-")
    text = open(await download.path(), encoding="utf-8").read()
    assert text.splitlines()[0] == ("Queue,Offered,Answered,Abandoned,Service level,ASA,Longest wait,"
                                    "After-hours chats,After-hours abandoned")

    # Every chart's data has its CSV, with the page's filters.
    for caption, report in (("Chats per interval", "traffic"), ("Service level per interval", "traffic"),
                            ("24-hour profile", "traffic_hours"), ("Day-of-week profile", "traffic_weekdays"),
                            ("Work orders per day: created, resolved and open at the end of the day", "work_orders")):
        link = page.get_by_role("link", name=f"Download CSV: {caption}", exact=True)
        await expect(link).to_have_attribute("href", re.compile(rf"^/api/reports/{report}\?.*slice=hour.*format=csv"))
    async with page.expect_download() as info:
        await page.get_by_role("link", name="Download CSV: Day-of-week profile", exact=True).click()
    text = open(await (await info.value).path(), encoding="utf-8").read()
    assert text.splitlines()[0] == "weekday,offered" and len(text.splitlines()) == 8

    # A window by the hour: from 09:00 on the first day, through the whole last day; the address
    # keeps it, and a reload shows it again.
    await page.get_by_label("From hour", exact=True).select_option(label="09:00")
    await page.get_by_role("button", name="Show").click()
    await expect(page).to_have_url(re.compile(r"from=\d{4}-\d{2}-\d{2}T09%3A00&to=\d{4}-\d{2}-\d{2}&"))
    await expect(page.get_by_role("status")).to_have_text(re.compile(r"^(Showing|No chats between) .*9:00"))
    await page.reload()
    await expect(page.get_by_label("From hour", exact=True)).to_have_value("09")
    await expect(page.get_by_label("To hour", exact=True)).to_have_value("")
    await expect(page.get_by_role("status")).to_have_text(re.compile(r"^(Showing|No chats between) "))
    assert errors.errors == []
