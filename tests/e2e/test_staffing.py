"""The staffing plan in Chromium: the chart of forecast chats and required agents, the forecast
methods with their backtest error and the one used, new targets from the form, the CSV."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.e2e.helpers import sign_in
from tests.integration.test_staffing import ZONE, seed_history
from tests.support.server import deploy


@pytest.fixture(scope="module")
async def planned_center():
    deployment = deploy(database_url=None, redis_url=None, processes=1, extra_env={"CENTER_TIME_ZONE": ZONE})
    await seed_history(deployment, weeks=3)
    yield deployment
    deployment.stop()


async def test_the_staffing_page_shows_the_chart_and_the_methods(planned_center, new_page):
    base = planned_center.server.url
    _, page, errors = await new_page()
    await sign_in(page, base, "boss@example.com", planned_center.password)
    await page.goto(base + "/staffing?weeks=3")

    chart = page.get_by_role("img", name=re.compile(r"^Chart: forecast chats and required agents"))
    await expect(chart).to_be_visible()
    await expect(chart).to_have_attribute("data-drawn", "true")
    await expect(page.get_by_text("Drawing the chart…")).to_be_hidden()
    assert await chart.evaluate("c => c.width > 0 && c.height > 0")

    methods = page.get_by_role("table", name="Forecast methods")
    await expect(methods.get_by_role("row")).to_have_count(4)  # header + three methods
    used = methods.get_by_role("row").filter(has=page.get_by_role("cell", name="Used", exact=True))
    await expect(used).to_have_count(1)
    await expect(used.get_by_role("rowheader")).to_have_text("Seasonal naive (same slot last week)")
    await expect(used.get_by_role("cell").first).to_have_text("0.0 %")
    await expect(methods.get_by_role("row").filter(has_text="Holt-Winters smoothing (statsmodels)")).to_have_count(1)
    await expect(page.get_by_text("AHT / concurrency = 375 s")).to_be_visible()
    await expect(page.get_by_role("table", name="By day").get_by_role("row")).to_have_count(8)

    # New targets from the form: the plan is recomputed, and bad ones are explained.
    await page.get_by_label("Shrinkage (%)").fill("0")
    await page.get_by_role("button", name="Update plan").click()
    await expect(page).to_have_url(re.compile(r"shrinkage=0"))
    download = page.get_by_role("link", name="Download CSV")
    await expect(download).to_have_attribute("href", re.compile(r"^/staffing\.csv\?.*shrinkage=0"))
    await page.get_by_label("Service-level target (%)").fill("100")
    await page.get_by_role("button", name="Update plan").click()
    await expect(page.get_by_role("alert")).to_have_text("The service-level target must be above 0 % and below 100 %.")
    await expect(page.get_by_label("Service-level target (%)")).to_have_value("100")

    # The CSV downloads from the link.
    await page.go_back()
    async with page.expect_download() as info:
        await page.get_by_role("link", name="Download CSV").click()
    download_file = await info.value
    assert re.match(r"staffing-\d{4}-\d\d-\d\d\.csv$", download_file.suggested_filename)
    assert errors.errors == []


async def test_the_staffing_page_is_for_supervisors_only(planned_center, new_page):
    base = planned_center.server.url
    context, page, _ = await new_page()
    await sign_in(page, base, "agent@example.com", planned_center.password)
    response = await page.goto(base + "/staffing")
    assert response.status == 403
    await expect(page.get_by_text("Workforce planning is for supervisors and admins.")).to_be_visible()
    await context.clear_cookies()
    await page.goto(base + "/staffing")
    await expect(page).to_have_url(re.compile(r"/login\?next=/staffing$"))
