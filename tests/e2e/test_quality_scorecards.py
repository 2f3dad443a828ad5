"""The Scorecards page in Chromium: a supervisor builds a scorecard with a critical criterion and an
automatic check (an empty name is refused beside its field), reorders and saves a new version; a `qa`
user reads it but has no edit controls and the API refuses their change."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from tests.e2e.conftest import own_deployment
from tests.support.clients import new_id

TIMEOUT = 30_000


@pytest.fixture(scope="module")
def center(request):
    yield from own_deployment(request, "quality-scorecards")


async def staff_sign_in(page: Page, base: str, email: str, password: str) -> None:
    await page.goto(base + "/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).not_to_have_url(re.compile(r"/login"), timeout=TIMEOUT)


async def test_a_supervisor_builds_a_scorecard_and_a_qa_user_cannot_change_it(center, new_page):
    d = center
    tag = new_id()[:6]
    sue, quinn = f"sue-{tag}@example.com", f"quinn-{tag}@example.com"
    d.create_user(sue, "supervisor", f"Sue {tag}")
    d.create_user(quinn, "qa", f"Quinn {tag}")
    name = f"Chat quality {tag}"

    _, page, errors = await new_page()
    await staff_sign_in(page, d.server.url, sue, d.password)
    await page.goto(d.server.url + "/quality/scorecards")
    await expect(page.get_by_role("heading", name="Scorecards", level=1)).to_be_visible()
    await expect(page.get_by_text("No scorecards yet")).to_be_visible(timeout=TIMEOUT)
    await page.get_by_role("button", name="New scorecard").click()
    editor = page.get_by_role("region", name="New scorecard")
    first = editor.get_by_role("group", name="Criterion 1")
    await first.get_by_label("Label").fill("Greets the visitor")
    await first.get_by_label("Automatic check").select_option(label="Greeting phrase present")
    await first.get_by_label("Guidance").fill("A greeting in the first reply.")
    # No name: refused, the error beside the field, nothing saved.
    await editor.get_by_role("button", name="Save scorecard").click()
    name_field = editor.get_by_label("Name", exact=True)
    await expect(name_field).to_have_attribute("aria-invalid", "true", timeout=TIMEOUT)
    await expect(editor.get_by_text("Cannot be empty.")).to_be_visible()
    await expect(name_field).to_be_focused()
    await name_field.fill(name)

    await editor.get_by_role("button", name="Add criterion to section 1").click()
    second = editor.get_by_role("group", name="Criterion 2")
    await second.get_by_label("Label").fill("Verifies the order number")
    await second.get_by_label("Weight").fill("2")
    await second.get_by_role("checkbox", name=re.compile("^Critical")).check()
    await editor.get_by_role("button", name="Add criterion to section 1").click()
    third = editor.get_by_role("group", name="Criterion 3")
    await third.get_by_label("Label").fill("Solves the question")
    await third.get_by_label("Scale").select_option("five")
    await third.get_by_label("Weight").fill("heavy")
    await editor.get_by_role("button", name="Save scorecard").click()
    await expect(third.get_by_label("Weight")).to_have_attribute("aria-invalid", "true", timeout=TIMEOUT)
    await expect(editor.get_by_text("A weight is a number.")).to_be_visible()
    await third.get_by_label("Weight").fill("3")
    await editor.get_by_role("button", name="Move Solves the question up").click()
    await expect(editor.get_by_role("group", name="Criterion 2").get_by_label("Label")).to_have_value("Solves the question")
    await editor.get_by_role("button", name="Save scorecard").click()

    saved = page.get_by_role("region", name=f"Edit {name}")
    await expect(saved.get_by_role("status").filter(has_text="Saved: version 1")).to_be_visible(timeout=TIMEOUT)
    row = page.get_by_role("row", name=re.compile(re.escape(name)))
    await expect(row).to_contain_text("The whole center")
    await expect(saved.get_by_role("group", name="Criterion 3").get_by_role("checkbox", name=re.compile("^Critical"))).to_be_checked()
    # A change makes version 2, both in the history.
    await saved.get_by_role("group", name="Criterion 1").get_by_label("Guidance").fill("Hello or 您好 in the first reply.")
    await saved.get_by_role("button", name="Save scorecard").click()
    await expect(saved.get_by_role("status").filter(has_text="Saved: version 2")).to_be_visible(timeout=TIMEOUT)
    history = saved.get_by_role("region", name="Version history")
    await expect(history.get_by_role("listitem")).to_have_count(2)
    assert errors.errors == []

    # The qa user: reads it, no edit controls, the API refuses a change.
    _, qa_page, qa_errors = await new_page()
    await staff_sign_in(qa_page, d.server.url, quinn, d.password)
    await qa_page.goto(d.server.url + "/quality/scorecards")
    qa_row = qa_page.get_by_role("row", name=re.compile(re.escape(name)))
    await expect(qa_row).to_be_visible(timeout=TIMEOUT)
    await expect(qa_page.get_by_role("button", name="New scorecard")).to_be_hidden()
    await expect(qa_page.get_by_role("button", name=f"Edit {name}")).to_have_count(0)
    await qa_page.get_by_role("button", name=f"View {name}").click()
    shown = qa_page.get_by_role("region", name=name)
    await expect(shown.get_by_text("Verifies the order number")).to_be_visible()
    await expect(shown.get_by_text(re.compile("Critical"))).to_be_visible()
    await expect(shown.get_by_role("textbox")).to_have_count(0)
    await expect(shown.get_by_role("button", name="Save scorecard")).to_have_count(0)
    token = await qa_page.locator('meta[name="csrf-token"]').get_attribute("content")
    refused = await qa_page.request.post(d.server.url + "/api/quality/scorecards", headers={"X-CSRF-Token": token},
                                         data={"name": "QA's own", "sections": [{"title": "A", "criteria": [{"label": "x"}]}]})
    assert refused.status == 403
    assert qa_errors.errors == []
