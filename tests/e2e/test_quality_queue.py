"""Quality monitoring in Chromium: a supervisor sets the sampling rule; scripted chats (a bad rating among
them) and the weekly draw fill the evaluator's queue, which says why each chat is there; "Start
evaluation" opens a draft; a supervisor flags a chat from the console and it joins the queue as "Flagged
for review" (a CSR has no such button); the quality reports show the figures of a scripted set of
evaluations and the CSV says the same."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import httpx
import pytest
from playwright.async_api import expect

from app.clock import utcnow
from app.models import Conversation, ConversationEvent, Evaluation, Site, User, Visitor
from app.quality import sampling as pure
from app.services import evaluations, scorecards
from tests.e2e.conftest import own_deployment
from tests.e2e.helpers import sign_in
from tests.support import clients
from tests.support.clients import new_id
from tests.support.inprocess import database
from tests.support.server import cli

TIMEOUT = 30_000
SECTIONS = [{"title": "Chat", "criteria": [
    {"label": "Greets the visitor", "weight": 1},
    {"label": "Solves the question", "scale": "five", "weight": 1},
]}]


@pytest.fixture(scope="module")
def center(request):
    yield from own_deployment(request, "quality-queue")


async def sign_in_to_quality(page, base: str, email: str, password: str) -> None:
    """A `qa` user starts in Quality (no console)."""
    await page.goto(base + "/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Quality", level=1)).to_be_visible(timeout=TIMEOUT)


async def chat(d, agent, rating: str | None) -> int:
    visitor = await clients.visitor(d.server.url, d.site_key, d.origin)
    try:
        ack = await visitor.call("message", {"client_id": new_id(), "body": "Where is my parcel?"})
        assert ack["ok"], ack
        cid = ack["conversation_id"]
        await agent.rec.wait_for("conversation.assigned", lambda c: c["id"] == cid)
        assert (await agent.call("close", {"conversation_id": cid}))["ok"]
        if rating:
            assert (await visitor.call("rate", {"conversation_id": cid, "rating": rating}))["ok"]
        return cid
    finally:
        await visitor.disconnect()


async def test_sampling_fills_the_queue_and_the_supervisor_flags_from_the_console(center, new_page):
    d = center
    tag = new_id()[:6]
    eva, cat, sam = f"eva-{tag}@example.com", f"cat-{tag}@example.com", f"sam-{tag}@example.com"
    d.create_user(eva, "qa", f"Eva {tag}")
    d.create_user(cat, "agent", f"Cat {tag}")
    d.create_user(sam, "supervisor", f"Sam {tag}")

    # The supervisor sets the general queues' rule on the page.
    _, page, errors = await new_page()
    await sign_in(page, d.server.url, sam, d.password)
    await page.goto(d.server.url + "/quality/sampling")
    await expect(page.get_by_role("heading", name="Sampling rules", level=1)).to_be_visible(timeout=TIMEOUT)
    await page.get_by_label("Random chats per CSR per week").fill("1")
    await page.get_by_label("Active").check()
    await page.get_by_role("button", name="Save rule").click()  # no evaluator: refused beside the field
    await expect(page.get_by_text("An active rule needs at least one evaluator.")).to_be_visible(timeout=TIMEOUT)
    await page.get_by_label("Evaluators").select_option(label=f"Eva {tag}")
    await page.get_by_role("button", name="Save rule").click()
    await expect(page.get_by_role("status")).to_have_text("Rule saved.", timeout=TIMEOUT)

    agent = await clients.agent(d.server.url, cat, d.password)
    assert (await agent.call("set_status", {"status": "available"}))["ok"]
    try:
        bad = await chat(d, agent, "bad")
        good = await chat(d, agent, "good")
    finally:
        await clients.sign_off(agent)
        await agent.disconnect()
    week = pure.week_of(utcnow(), "UTC")
    assert '"queued": 1' in cli(d.env, "quality-sample", "--week", week.isoformat())  # the good one: random

    _, queue, queue_errors = await new_page()
    await sign_in_to_quality(queue, d.server.url, eva, d.password)
    await expect(queue.get_by_role("heading", name="Quality", level=1)).to_be_visible(timeout=TIMEOUT)
    table = queue.get_by_role("table", name="Chats to evaluate")
    bad_row = table.get_by_role("row").filter(has=queue.get_by_role("rowheader", name=f"#{bad}"))
    await expect(bad_row).to_contain_text("Bad rating — Rated bad", timeout=TIMEOUT)
    await expect(bad_row).to_contain_text(f"Cat {tag}")
    good_row = table.get_by_role("row").filter(has=queue.get_by_role("rowheader", name=f"#{good}"))
    await expect(good_row).to_contain_text(f"Random sample — Random sample of the week of {week.isoformat()}")
    await queue.get_by_label("Reason").select_option(label="Bad rating")
    await queue.get_by_role("button", name="Show").click()
    await expect(table.get_by_role("row")).to_have_count(2, timeout=TIMEOUT)  # the header and the bad one
    # No scorecard yet: said clearly.
    await bad_row.get_by_role("button", name="Start evaluation").click()
    await expect(queue.get_by_role("alert")).to_contain_text("No scorecard applies", timeout=TIMEOUT)
    async with database(d):
        await scorecards.save(await User.get(email=sam), name=f"Chats {tag}", sections=SECTIONS)
    await queue.get_by_role("row").filter(has=queue.get_by_role("rowheader", name=f"#{bad}")) \
        .get_by_role("button", name="Start evaluation").click()
    await expect(queue).to_have_url(re.compile(r"/quality/evaluations/\d+$"), timeout=TIMEOUT)
    evaluation_id = int(queue.url.rsplit("/", 1)[1])
    async with database(d):
        draft = await Evaluation.get(id=evaluation_id)
        assert (draft.conversation_id, draft.status) == (bad, "draft")

    # The supervisor takes a chat and flags it from the console; a CSR has no such button.
    boss = await clients.agent(d.server.url, sam, d.password)
    assert (await boss.call("set_status", {"status": "available"}))["ok"]
    visitor = await clients.visitor(d.server.url, d.site_key, d.origin)
    try:
        flagged = (await visitor.call("message", {"client_id": new_id(), "body": "I want to complain"}))["conversation_id"]
        await boss.rec.wait_for("conversation.assigned", lambda c: c["id"] == flagged)
        await page.goto(d.server.url + "/console")
        await page.get_by_role("list", name="My chats", exact=True).get_by_role("button").first.click()
        flag = page.get_by_role("button", name="Flag for review")
        await expect(flag).to_be_enabled(timeout=TIMEOUT)
        await flag.click()
        dialog = page.get_by_role("dialog", name="Flag this chat for review")
        await dialog.get_by_label("Reason (optional)").fill("Promised a refund we do not give")
        await dialog.get_by_role("button", name="Flag for review").click()
        await expect(page.get_by_text("Chat flagged for review.")).to_be_visible(timeout=TIMEOUT)
    finally:
        await visitor.disconnect()
        await clients.sign_off(boss)
        await boss.disconnect()
    await page.goto(d.server.url + "/quality?who=all")
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=f"#{flagged}"))
    await expect(row).to_contain_text(f"Flagged for review — Flagged by Sam {tag}: Promised a refund we do not give",
                                      timeout=TIMEOUT)
    await expect(row).to_contain_text("To evaluate")

    _, csr_page, csr_errors = await new_page()
    await sign_in(csr_page, d.server.url, cat, d.password)
    await csr_page.goto(d.server.url + "/console")
    await expect(csr_page.get_by_role("button", name="Close chat")).to_be_attached(timeout=TIMEOUT)
    await expect(csr_page.get_by_role("button", name="Flag for review")).to_have_count(0)
    await expect(csr_page.get_by_role("link", name="Quality")).to_have_count(0)
    assert errors.errors == [] and queue_errors.errors == [] and csr_errors.errors == []


async def closed_chat(site: Site, agent: User, hours_ago: float) -> Conversation:
    at = utcnow() - timedelta(hours=hours_ago)
    visitor = await Visitor.create(id=new_id(), site=site, first_seen=at, last_seen=at)
    return await Conversation.create(site=site, visitor=visitor, agent=agent, status="closed", requested_at=at,
                                     assigned_at=at, closed_at=at + timedelta(minutes=4), closed_by="agent")


async def test_the_reports_show_the_scripted_figures_and_the_csv_matches(center, new_page):
    d = center
    tag = new_id()[:6]
    ada, qa, ann, bob = (f"ada-{tag}@example.com", f"qa-{tag}@example.com", f"ann-{tag}@example.com",
                         f"bob-{tag}@example.com")
    d.create_user(ada, "admin", f"Ada {tag}")
    d.create_user(qa, "qa", f"Quinn {tag}")
    d.create_user(ann, "agent", f"Ann {tag}")
    d.create_user(bob, "agent", f"Bob {tag}")
    async with database(d):
        site = await Site.get(key=d.site_key)
        admin, quinn, csr_a, csr_b = [await User.get(email=e) for e in (ada, qa, ann, bob)]
        # Only this test's scorecard applies: a category of its own would be overkill — the center-wide
        # one of the other test may exist, so these chats are scored with whichever `start` picks.
        await scorecards.save(admin, name=f"Reports {tag}", sections=SECTIONS)
        script = [(csr_a, {"c1": "yes", "c2": "5"}, "good"),   # 100
                  (csr_a, {"c1": "no", "c2": "3"}, "bad"),     # 25
                  (csr_b, {"c1": "yes", "c2": "4"}, "neutral"),  # 87.5
                  (csr_b, {"c1": "no", "c2": "1"}, None)]      # 0
        for agent, answers, rating in script:
            chat_ = await closed_chat(site, agent, 2)
            if rating:
                await ConversationEvent.create(conversation=chat_, site=site, agent_id=agent.id, kind="rated",
                                               at=utcnow(), data={"rating": rating})
            draft = await evaluations.start(quinn, chat_.id)
            await evaluations.submit(quinn, draft.id, answers)
    # By hand: Ann (100 + 25) / 2 = 62.5, Bob (87.5 + 0) / 2 = 43.75; pairs (100, 100), (25, 0), (87.5, 50).
    _, page, errors = await new_page()
    await sign_in_to_quality(page, d.server.url, qa, d.password)
    await page.goto(d.server.url + "/quality/reports")
    await expect(page.get_by_role("heading", name="Quality reports", level=1)).to_be_visible(timeout=TIMEOUT)
    table = page.get_by_role("table", name="QA score by CSR")
    ann_row = table.get_by_role("row").filter(has_text=f"Ann {tag}")
    await expect(ann_row.get_by_role("cell")).to_have_text([f"Ann {tag}", "2", "62.5", "0", "0.0"])
    bob_row = table.get_by_role("row").filter(has_text=f"Bob {tag}")
    await expect(bob_row.get_by_role("cell")).to_have_text([f"Bob {tag}", "2", "43.75", "0", "0.0"])
    await expect(page.locator('[data-figure="correlation"]')).to_contain_text("over 3 chats")
    await expect(page.get_by_role("img", name="QA score by CSR")).to_be_visible()
    href = await page.get_by_role("link", name="Download “QA score by CSR” as CSV").get_attribute("href")
    cookies = {c["name"]: c["value"] for c in await page.context.cookies()}
    async with httpx.AsyncClient(base_url=d.server.url, cookies=cookies) as http:
        body = (await http.get(href)).text
    rows = {r["CSR"]: r for r in csv.DictReader(io.StringIO(body))}
    assert rows[f"Ann {tag}"] == {"CSR": f"Ann {tag}", "Evaluations": "2", "QA score": "62.5",
                                  "Critical failures": "0", "Critical failure rate (percent)": "0.0"}
    assert rows[f"Bob {tag}"]["QA score"] == "43.75"
    assert errors.errors == []
