"""The CSR disputes a criterion of their evaluation, their supervisor decides "changed", and the Score
on the page changes; the CSR then acknowledges. Another CSR gets 404 for the same page."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from app.models import User
from app.services import evaluations
from tests.e2e.conftest import own_deployment
from tests.e2e.quality_world import scorecard_and_chats, signed_in, team
from tests.support.clients import new_id
from tests.support.inprocess import database


@pytest.fixture(scope="module")
def center(request):
    yield from own_deployment(request, "quality-disputes")


async def test_the_csr_disputes_and_the_supervisor_changes_the_answer(center, new_page):
    d = center
    tag = new_id()[:6]
    people = team(d, tag, cora="agent", carl="agent", sue="supervisor", eva="qa", ada="admin")
    version, (chat,) = await scorecard_and_chats(d, people["ada"], people["cora"], people["department"], 1)
    async with database(d, runtime=True):
        eva = await User.get(email=people["eva"])
        draft = await evaluations.start(eva, chat, version=version)
        await evaluations.submit(eva, draft.id, {"c1": "no", "c2": "yes", "c3": "4"}, automatic=["c1"])
    path = f"/quality/evaluations/{draft.id}"

    csr = await signed_in(new_page, d, people["cora"])
    await csr.goto(d.server.url + path)
    await expect(csr.get_by_role("heading", name="Evaluation", level=1)).to_be_visible()
    await expect(csr.get_by_label("Score")).to_have_text("62.5")
    await expect(csr.get_by_text("Automatic")).to_be_visible()
    # A dispute without a comment is refused beside the field, nothing stored.
    await csr.get_by_label("Criterion").select_option(label="Greets the visitor")
    await csr.get_by_role("button", name="Dispute", exact=True).click()
    await expect(csr.locator("#f-comment-error")).to_have_text("Say why you dispute it.")
    await csr.get_by_label("Criterion").select_option(label="Greets the visitor")
    await csr.get_by_label("Comment").fill("I greeted the visitor in my first message.")
    await csr.get_by_role("button", name="Dispute", exact=True).click()
    await expect(csr.locator("p[role=status]")).to_have_text("Dispute sent: a supervisor will decide it.")
    await expect(csr.get_by_role("button", name="Acknowledge")).to_have_count(0)  # not while it is open
    await expect(csr.get_by_text("Waiting for a supervisor's decision.")).to_be_visible()

    boss = await signed_in(new_page, d, people["sue"])
    await boss.goto(d.server.url + "/quality/disputes")
    await expect(boss.get_by_role("heading", name="Disputes", level=1)).to_be_visible()
    await expect(boss.get_by_role("cell", name="I greeted the visitor in my first message.")).to_be_visible()
    await boss.get_by_role("link", name=re.compile(f"Open evaluation #{draft.id}")).click()
    decision = boss.get_by_role("group", name="Decide the dispute of “Greets the visitor”")
    await decision.get_by_role("radio", name="Changed").check()
    await decision.get_by_label("New answer").select_option(label="Yes")
    await decision.get_by_label("Note").fill("Right: the greeting is there.")
    await boss.get_by_role("button", name="Decide").click()
    await expect(boss.locator("p[role=status]")).to_have_text("Decision saved.")
    await expect(boss.get_by_label("Score")).to_have_text("87.5")  # (1 + 1 + 2 × 0.75) ÷ 4
    await expect(boss.get_by_text("Right: the greeting is there.")).to_be_visible()
    await expect(boss.get_by_role("button", name="Decide")).to_have_count(0)  # final

    await csr.reload()
    await expect(csr.get_by_label("Score")).to_have_text("87.5")
    await csr.get_by_role("button", name="Acknowledge").click()
    await expect(csr.locator("p[role=status]")).to_have_text("Acknowledged. Thank you.")
    await expect(csr.locator("#qa-agent-state")).to_have_text("Acknowledged")
    await expect(csr.get_by_role("button", name="Dispute", exact=True)).to_have_count(0)

    other = await signed_in(new_page, d, people["carl"])
    response = await other.goto(d.server.url + path)
    assert response.status == 404
    for page in (csr, boss, other):
        assert page.errors.errors == []
