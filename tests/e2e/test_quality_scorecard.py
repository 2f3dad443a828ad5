"""The CSR scorecard in Chromium: a scripted history of a new CSR (Nell), a veteran (Vera) and a teammate
(Tom), inserted straight into this module's own deployment (tests/support/quality_history.py, where each
figure is computed by hand). Nell opens "My scorecard" and sees her weekly figures against the team
median and her tenure curve against the veterans' median (tables and the charts' figures); another CSR's
scorecard is not found; the supervisor reads the team view and opens Nell's page; an admin sets a start
date in Admin → Users (a date in the future is refused beside the field)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from playwright.async_api import Page, expect

from tests.e2e.conftest import own_deployment
from tests.support.clients import new_id
from tests.support.quality_history import script

TIMEOUT = 30_000


@pytest.fixture(scope="module")
def center(request):
    yield from own_deployment(request, "quality-scorecard")


async def sign_in(page: Page, base: str, email: str, password: str) -> None:
    await page.goto(base + "/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).not_to_have_url(re.compile(r"/login"), timeout=TIMEOUT)


def cells(table, header: str):
    """The cells of the row headed `header` (exactly)."""
    row = table.get_by_role("row").filter(has=table.page.get_by_role("rowheader", name=header, exact=True))
    return row.get_by_role("cell")


async def test_the_csr_and_the_supervisor_read_the_scorecard_and_the_tenure_curve(center, new_page):
    d = center
    tag = new_id()[:6]
    w = await script(d, tag)
    base = d.server.url
    until = (w["week_b"] + timedelta(days=6)).isoformat()

    _, page, errors = await new_page()
    await sign_in(page, base, w["emails"]["nell"], d.password)
    await page.get_by_role("navigation", name="Sections").get_by_role("link", name="My scorecard").click()
    await expect(page.get_by_role("heading", name="My scorecard", level=1)).to_be_visible(timeout=TIMEOUT)
    await page.get_by_label("Weeks").fill("2")
    await page.get_by_label("Until").fill(until)
    await page.get_by_role("button", name="Show").click()
    await expect(page).to_have_url(re.compile(r"weeks=2"), timeout=TIMEOUT)

    weekly = page.get_by_role("table", name="Weekly trends")
    await expect(weekly.get_by_role("columnheader")).to_have_text(
        ["Metric", f"Week of {w['week_a'].isoformat()}", f"Week of {w['week_b'].isoformat()}"])
    # Week A by hand: QA (80 + 60) ÷ 2; team median of 70, 95 (Tom has none); first responses 60 40 20 …
    expected = {
        "QA score": ["70.0", "90.0"], "QA score (team median)": ["82.5", "90.0"],
        "CSAT": ["50.0%", "100.0%"], "CSAT (team median)": ["75.0%", "100.0%"],
        "First response time": ["40.0 s", "25.0 s"], "First response time (team median)": ["30.0 s", "25.0 s"],
        "AHT": ["600.0 s", "500.0 s"], "AHT (team median)": ["400.0 s", "500.0 s"],
        "First-contact resolution": ["66.7%", "100.0%"], "Occupancy": ["6.7%", "3.7%"],
        "Adherence to schedule": ["93.8%", "93.8%"], "Chats per hour": ["0.38", "0.25"],
        "Chats per hour (team median)": ["0.38", "0.25"],
    }
    for header, values in expected.items():
        await expect(cells(weekly, header)).to_have_text(values)

    tenure = page.get_by_role("table", name="Tenure curve")
    await expect(tenure.get_by_role("columnheader")).to_have_text(["Metric", "Week 0", "Week 1"])
    for header, values in {
        "QA score": ["70.0", "90.0"], "QA score (veterans)": ["95.0", "—"],
        "First response time (veterans)": ["20.0 s", "—"], "AHT (veterans)": ["300.0 s", "—"],
        "CSAT (veterans)": ["75.0%", "—"], "Chats per hour (veterans)": ["0.50", "—"],
    }.items():
        await expect(cells(tenure, header)).to_have_text(values)
    await expect(page.get_by_text(f"Started on {w['week_a'].isoformat()}.")).to_be_visible()
    await expect(page.get_by_text(re.compile(r"median of the team's 1 veterans"))).to_be_visible()

    # The charts: their figures, as a screen reader gets them, follow "Metric in the charts".
    await expect(page.locator("#chart-tenure-figures")).to_contain_text("QA score: Week 0 70, Week 1 90.",
                                                                        timeout=TIMEOUT)
    await expect(page.locator("#chart-tenure-figures")).to_contain_text("QA score (veterans): Week 0 95, Week 1 none.")
    await page.get_by_label("Metric in the charts").select_option(label="First response time")
    await expect(page.locator("#chart-tenure-figures")).to_contain_text("First response time: Week 0 40, Week 1 25.")
    await expect(page.locator("#chart-weekly-figures")).to_contain_text(
        f"First response time (team median): {w['week_a'].isoformat()} 30, {w['week_b'].isoformat()} 25.")

    # Her evaluations link to their result page; the calibration one is not among them; the coaching session.
    evaluations = page.get_by_role("table", name="Evaluations")
    await expect(evaluations.get_by_role("link")).to_have_count(3)
    await expect(evaluations.get_by_role("link", name=f"Evaluation #{w['evaluations'][0]}")).to_have_attribute(
        "href", f"/quality/evaluations/{w['evaluations'][0]}")
    await expect(page.get_by_role("table", name="Coaching sessions")).to_contain_text(
        f"Verify the order number first {tag}")
    download = page.get_by_role("link", name="Download CSV: tenure curve")
    await expect(download).to_have_attribute("href", re.compile(r"view=tenure.*format=csv"))

    # Another CSR's scorecard: not found, like one that does not exist.
    response = await page.goto(f"{base}/quality/scorecard/{w['ids']['vera']}")
    assert response.status == 404
    assert errors.errors == [], errors.errors

    # The supervisor: the team view, then Nell's page.
    _, boss, boss_errors = await new_page()
    await sign_in(boss, base, w["emails"]["sue"], d.password)
    await boss.get_by_role("navigation", name="Sections").get_by_role("link", name="Quality").click()
    await boss.get_by_role("navigation", name="Quality pages").get_by_role("link", name="Team scorecard").click()
    await expect(boss.get_by_role("heading", name="Team scorecard", level=1)).to_be_visible(timeout=TIMEOUT)
    await boss.get_by_label("Weeks").fill("2")
    await boss.get_by_label("Until").fill(until)
    await boss.get_by_role("button", name="Show").click()
    team = boss.get_by_role("table", name=f"From {w['week_a'].isoformat()} to {until}")
    await expect(team).to_be_visible(timeout=TIMEOUT)
    # Nell over both weeks: first responses 60 40 20 30 20 → 34; QA 80 60 90 → 76.7; 5 chats in 16 h.
    await expect(cells(team, w["names"]["nell"]).nth(1)).to_have_text("76.7")
    await expect(cells(team, w["names"]["nell"]).nth(3)).to_have_text("34.0 s")
    await expect(cells(team, w["names"]["vera"]).nth(1)).to_have_text("95.0")
    await expect(cells(team, "Team median").nth(7)).to_have_text("93.8%")
    await team.get_by_role("link", name=w["names"]["nell"]).click()
    await expect(boss.get_by_role("heading", name=f"Scorecard of {w['names']['nell']}", level=1)).to_be_visible(
        timeout=TIMEOUT)
    await expect(boss.get_by_role("table", name="Tenure curve")).to_be_visible()
    assert boss_errors.errors == [], boss_errors.errors


async def test_an_admin_sets_a_start_date(center, new_page):
    d = center
    tag = new_id()[:6]
    w = await script(d, tag)
    _, page, _ = await new_page()
    await sign_in(page, d.server.url, w["emails"]["ada"], d.password)
    await page.goto(f"{d.server.url}/admin/users/{w['ids']['tom']}")
    form = page.locator("form.admin-form")
    field = form.get_by_label("Start date")
    await expect(field).to_have_value((w["week_a"] - timedelta(days=7)).isoformat())  # Tom's
    future = (datetime.now(timezone.utc).date() + timedelta(days=10)).isoformat()
    await field.fill(future)
    await form.get_by_role("button", name="Save").click()
    await expect(page.get_by_text("The start date cannot be in the future.")).to_be_visible(timeout=TIMEOUT)
    await expect(form.get_by_label("Start date")).to_have_attribute("aria-invalid", "true")
    await form.get_by_label("Start date").fill("2024-01-15")
    await form.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_contain_text("changes saved", timeout=TIMEOUT)
    await page.goto(f"{d.server.url}/admin/users/{w['ids']['tom']}")
    await expect(page.locator("form.admin-form").get_by_label("Start date")).to_have_value("2024-01-15")
