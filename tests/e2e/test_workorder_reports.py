"""An admin reads the work-order reports on the Reports page: the "Work orders" section shows the
figures of the scripted history of tests/integration/test_workorder_reports.py (worked out by hand
there), its chart, and a CSV link per table that downloads the same rows."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import own_deployment
from tests.integration.test_workorder_reports import (
    AGING,
    CALLBACKS_ADMIN,
    SLA_ADMIN,
    ZONE,
    days_of,
    expected_categories,
    expected_work_orders,
    script_history,
)


@pytest.fixture(scope="module")
def center(request):
    yield from own_deployment(request, "workorder-reports", extra_env={"CENTER_TIME_ZONE": ZONE})


def cells(*values) -> list[str]:
    return [str(v) for v in values]


async def rows_of(table) -> list[list[str]]:
    rows = []
    for row in await table.locator("tbody tr").all():
        rows.append([(await c.inner_text()).strip() for c in await row.locator("td").all()])
    return rows


async def test_an_admin_reads_the_work_order_reports_and_downloads_their_csv(center, new_page):
    d = center
    h = await script_history(d)
    _, page, errors = await new_page(accept_downloads=True)
    await page.goto(d.server.url + "/login")
    await page.get_by_label("Email").fill(h.emails["ada"])
    await page.get_by_label("Password").fill(d.password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).not_to_have_url(re.compile(r"/login"))
    window = h.window
    await page.goto(f"{d.server.url}/reports?from={window['from']}&to={window['to']}")
    await expect(page.get_by_role("status")).to_have_text(re.compile(r"^(Showing|No chats between) "))

    section = page.get_by_role("region", name="Work orders", exact=True)
    await expect(section.get_by_role("heading", name="Work orders", exact=True)).to_be_visible()
    await expect(section.get_by_role("img", name=re.compile("^Work orders per day: created, resolved"))).to_be_visible()

    # Per day, with the window's totals; as the page formats them (counts as they are).
    daily = section.get_by_role("table", name="Work orders per day")
    await expect(daily).to_be_visible()
    assert await rows_of(daily) == [cells(r["day"], r["created"], r["reopened"], r["resolved"], r["backlog"])
                                    for r in expected_work_orders(h, admin=True)]
    aging = section.get_by_role("table", name="Open work orders by age")
    assert await rows_of(aging) == [cells(r["age"], r["orders"]) for r in AGING]

    # SLA: percentages to a tenth, durations in hours and minutes, urges per order to two places.
    sla = section.get_by_role("table", name="Work-order SLA")
    shown = await rows_of(sla)
    assert len(shown) == len(SLA_ADMIN)
    # All orders: first response 3 / 5, resolution 2 / 5, 4 resolved; average (6 + 24 + 3 + 48) h / 4 =
    # 20 h 15 min; 90th percentile by nearest rank (the 4th of 4) 48 h; reopen 1 / 4; urges 3 / 7.
    assert shown[0] == ["All", "All orders", "7", "3", "5", "60.0%", "2", "5", "40.0%", "4", "20 h 15 min",
                        "48 h 0 min", "25.0%", "0.43", "1"]
    assert shown[5] == ["Handler", "Nobody", "2", "0", "0", "—", "0", "0", "—", "0", "—", "—", "—", "0.00", "0"]
    assert [r[:3] for r in shown] == [[r["by"], r["name"], str(r["orders"])] for r in SLA_ADMIN]

    callbacks = section.get_by_role("table", name="Callbacks")
    assert await rows_of(callbacks) == [cells(*r.values()) for r in CALLBACKS_ADMIN]
    categories = section.get_by_role("table", name="Contact categories")
    d1, d2, d3 = days_of(h)
    assert await rows_of(categories) == [cells(r["category"], r[d1], r[d2], r[d3], r["chats"], r["work_orders"])
                                         for r in expected_categories(h, admin=True)]

    # Each table's CSV link: its visible text is in its accessible name; it downloads the table's rows.
    link = section.get_by_role("link", name="Download CSV: Work-order SLA", exact=True)
    await expect(link).to_have_text("Download CSV")
    async with page.expect_download() as info:
        await link.click()
    download = await info.value
    assert download.suggested_filename == f"switchboard-work_order_sla-{window['from']}-{window['to']}.csv"
    lines = list(csv.reader(io.StringIO(Path(await download.path()).read_text(encoding="utf-8"))))
    assert lines[0][:3] == ["By", "Name", "Orders"]
    assert lines[1] == ["All", "All orders", "7", "3", "5", "0.6", "2", "5", "0.4", "4", "72900.0", "172800.0",
                        "0.25", "0.4286", "1"]
    assert [line[:3] for line in lines[1:]] == [r[:3] for r in shown]

    async with page.expect_download() as info:
        await section.get_by_role("link", name="Download CSV: Work orders per day", exact=True).click()
    lines = list(csv.reader(io.StringIO(Path(await (await info.value).path()).read_text(encoding="utf-8"))))
    assert lines == [["Day", "Created", "Reopened", "Resolved", "Open at end of day"],
                     *await rows_of(daily)]
    for name in ("Open work orders by age", "Callbacks", "Contact categories"):
        await expect(section.get_by_role("link", name=f"Download CSV: {name}", exact=True)).to_have_text("Download CSV")
    assert errors.errors == []
