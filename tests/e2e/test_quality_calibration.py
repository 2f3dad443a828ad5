"""Calibration in Chromium: a lead creates a session on the page, two evaluators score the same chat
blind with answers that differ, the lead sees each one's answer and the spread and sets the agreed
answer; an evaluator sees only their own answers until the session is closed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.async_api import expect

from app.clock import utcnow
from app.models import User
from app.services import calibration, evaluations
from tests.e2e.conftest import own_deployment
from tests.e2e.quality_world import scorecard_and_chats, signed_in, team
from tests.support.clients import new_id
from tests.support.inprocess import database


@pytest.fixture(scope="module")
def center(request):
    yield from own_deployment(request, "quality-calibration")


async def test_two_evaluators_spread_and_the_agreed_answer(center, new_page):
    d = center
    tag = new_id()[:6]
    people = team(d, tag, cora="agent", eva="qa", ed="qa", ada="admin")
    version, (chat, other_chat) = await scorecard_and_chats(d, people["ada"], people["cora"], people["department"], 2)
    eva_name, ed_name = f"Eva {tag}", f"Ed {tag}"

    lead = await signed_in(new_page, d, people["ada"])
    await lead.goto(d.server.url + "/quality/calibration")
    await expect(lead.get_by_role("heading", name="Calibration", level=1)).to_be_visible()
    await expect(lead.get_by_text("No calibration sessions yet.")).to_be_visible()
    # Missing evaluators: refused beside the field, nothing stored.
    await lead.get_by_label("Name", exact=True).fill(f"March {tag}")
    await lead.get_by_label(f"Chat #{chat} ").check()
    await lead.get_by_label(eva_name).check()
    await lead.get_by_role("button", name="Create session").click()
    await expect(lead.locator("#f-evaluators-error")).to_have_text("Choose at least 2.")
    await expect(lead.get_by_text("No calibration sessions yet.")).to_be_visible()
    await lead.get_by_label(ed_name).check()
    await lead.get_by_role("button", name="Create session").click()
    await expect(lead.locator("p[role=status]")).to_have_text("Calibration session created.")
    session_id = int(lead.url.rsplit("/", 1)[1].split("?")[0])

    # Each evaluator scores the chat on their own (through the service, as the evaluation form would).
    async with database(d, runtime=True):
        for email, answers in ((people["eva"], {"c1": "yes", "c2": "yes", "c3": "5"}),
                               (people["ed"], {"c1": "no", "c2": "yes", "c3": "3"})):
            evaluator = await User.get(email=email)
            draft = await calibration.start(evaluator, session_id, chat)
            await evaluations.submit(evaluator, draft.id, answers)

    blind = await signed_in(new_page, d, people["eva"])
    await blind.goto(d.server.url + f"/quality/calibration/{session_id}")
    table = blind.get_by_role("table", name=f"Answers to chat #{chat}")
    await expect(table.get_by_role("columnheader", name=eva_name)).to_be_visible()
    await expect(table.get_by_role("columnheader", name=ed_name)).to_have_count(0)  # blind while open
    await expect(table.get_by_role("columnheader", name="Spread")).to_have_count(0)

    await lead.reload()
    table = lead.get_by_role("table", name=f"Answers to chat #{chat}")
    greets = table.get_by_role("row", name="Greets the visitor")
    await expect(greets.get_by_role("cell").nth(0)).to_have_text("No")  # Ed's column comes first (by name)
    await expect(greets.get_by_role("cell").nth(1)).to_have_text("Yes")
    await expect(greets.get_by_role("cell").nth(2)).to_have_text("50% agree")
    solves = table.get_by_role("row", name="Solves the question")
    await expect(solves.get_by_role("cell").nth(2)).to_have_text("50% agree · range 3–5, SD 1.0")
    score = table.get_by_role("row", name="Score")
    await expect(score.get_by_role("cell").nth(0)).to_have_text("50.0")  # Ed: (0 + 1 + 2 × 0.5) ÷ 4
    await expect(score.get_by_role("cell").nth(1)).to_have_text("100.0")
    await expect(score.get_by_role("cell").nth(2)).to_have_text("max − min: 50.0")

    await lead.get_by_label("Agreed answer for Greets the visitor").first.select_option(label="Yes")
    await lead.get_by_label("Agreed answer for Verifies the order number").first.select_option(label="Yes")
    await lead.get_by_label("Agreed answer for Solves the question").first.select_option("4")
    await lead.get_by_role("button", name=f"Save agreed answers for chat #{chat}").click()
    await expect(lead.locator("p[role=status]")).to_have_text("Agreed answers saved.")
    table = lead.get_by_role("table", name=f"Answers to chat #{chat}")
    await expect(table.get_by_role("row", name="Score").get_by_role("cell").nth(3)).to_have_text("87.5")
    await expect(lead.get_by_label("Agreed answer for Greets the visitor").first).to_have_value("yes")

    # The deviation report: Eva differs on one answer of three, Ed on two.
    await lead.goto(d.server.url + "/quality/calibration")
    report = lead.get_by_role("table", name="How often each evaluator's calibration answers differ from the agreed answer")
    await expect(report.get_by_role("row", name=eva_name)).to_contain_text("33%")
    await expect(report.get_by_role("row", name=ed_name)).to_contain_text("67%")

    await lead.goto(d.server.url + f"/quality/calibration/{session_id}")
    await lead.get_by_role("button", name="Close session").click()
    await expect(lead.locator("p[role=status]")).to_have_text("Session closed: its evaluators now see every answer.")
    await blind.reload()
    table = blind.get_by_role("table", name=f"Answers to chat #{chat}")
    await expect(table.get_by_role("columnheader", name=ed_name)).to_be_visible()
    await expect(table.get_by_role("columnheader", name="Agreed answer")).to_be_visible()
    for page in (lead, blind):
        assert page.errors.errors == []


async def test_coaching_created_edited_and_read_by_the_csr(center, new_page):
    d = center
    tag = new_id()[:6]
    people = team(d, tag, cora="agent", carl="agent", sue="supervisor", eva="qa", ada="admin")
    version, (chat,) = await scorecard_and_chats(d, people["ada"], people["cora"], people["department"], 1)
    async with database(d, runtime=True):
        eva = await User.get(email=people["eva"])
        draft = await evaluations.start(eva, chat, version=version)
        await evaluations.submit(eva, draft.id, {"c1": "no", "c2": "yes", "c3": "4"})
    cora_name = f"Cora {tag}"
    held = (utcnow().date() - timedelta(days=14)).isoformat()
    follow_up = (utcnow().date() - timedelta(days=1)).isoformat()  # due now

    csr = await signed_in(new_page, d, people["cora"])
    await csr.goto(d.server.url + "/quality/coaching")
    await expect(csr.get_by_role("heading", name="Coaching", level=1)).to_be_visible()
    await expect(csr.get_by_text("No coaching sessions yet. When your supervisor coaches you")).to_be_visible()
    await expect(csr.get_by_role("button", name="Save coaching session")).to_have_count(0)

    boss = await signed_in(new_page, d, people["sue"])
    await boss.goto(d.server.url + "/quality/coaching")
    await boss.get_by_label("Show the evaluations of").select_option(label=cora_name)
    await boss.get_by_role("button", name="Show", exact=True).click()
    await boss.get_by_label("CSR", exact=True).select_option(label=cora_name)
    await boss.get_by_label("Date", exact=True).fill(held)
    await boss.get_by_role("button", name="Save coaching session").click()  # no topics: refused
    await expect(boss.locator("#f-topics-error")).to_have_text("Say what you talked about.")
    await boss.get_by_label("Topics").fill("Greeting in the first message")
    await boss.get_by_label("Goals").fill("Greet every visitor")
    await boss.get_by_label("Follow-up date").fill(follow_up)
    await boss.get_by_label(f"Evaluation #{draft.id} ").check()
    await boss.get_by_role("button", name="Save coaching session").click()
    await expect(boss.locator("p[role=status]")).to_have_text("Coaching session saved.")
    await boss.get_by_label("Goals").fill("Greet every visitor and offer more help")
    await boss.get_by_role("button", name="Save changes").click()
    await expect(boss.locator("p[role=status]")).to_have_text("Changes saved.")
    session_path = boss.url.split("?")[0].replace(d.server.url, "")

    await csr.reload()
    row = csr.get_by_role("row", name="Greeting in the first message")
    await expect(row).to_contain_text(follow_up)
    await expect(row.get_by_text("Due")).to_be_visible()  # the follow-up date has passed
    await row.get_by_role("link", name=held).click()
    await expect(csr.get_by_text("Greet every visitor and offer more help")).to_be_visible()
    await expect(csr.get_by_role("link", name=f"Evaluation #{draft.id}")).to_be_visible()
    await expect(csr.get_by_role("button", name="Save changes")).to_have_count(0)  # read-only

    other = await signed_in(new_page, d, people["carl"])
    assert (await other.goto(d.server.url + session_path)).status == 404
    for page in (csr, boss, other):
        assert page.errors.errors == []
