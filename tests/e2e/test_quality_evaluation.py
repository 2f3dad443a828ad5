"""The evaluation form in Chromium: a chat scripted with real socket.io clients (the CSR greets the
visitor within the threshold), an evaluator starts its evaluation, finds the greeting and the first
response pre-filled and marked "Automatic", pins a comment to the CSR's message, is stopped at an
unanswered criterion, answers the rest and submits: the Score follows the documented rule."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import expect

from tests.e2e.conftest import own_deployment
from tests.e2e.test_quality_scorecards import TIMEOUT, staff_sign_in
from tests.support import clients
from tests.support.clients import new_id
from tests.support.db import fetch
from tests.support.web import csrf_of

SECTIONS = [{"title": "Conversation", "criteria": [
    {"label": "Greets the visitor", "auto": "greeting", "guidance": "Hello or 您好 in the first reply."},
    {"label": "Answers in time", "auto": "first_response", "auto_param": 600},
    {"label": "Verifies the order number", "critical": True},
    {"label": "Solves the question", "scale": "five", "weight": 2},
]}]
GREETING = "Hello Ola, how can I help?"


@pytest.fixture(scope="module")
def center(request):
    yield from own_deployment(request, "quality-evaluation")


async def scripted_chat(d, csr_email: str) -> int:
    agent = await clients.agent(d.server.url, csr_email, d.password)
    visitor = await clients.visitor(d.server.url, d.site_key, d.origin)
    try:
        assert (await agent.call("set_status", {"status": "available"}))["ok"]
        await visitor.call("page_view", {"url": d.origin + "/orders/10442", "title": "Order 10442", "referrer": None})
        sent = await visitor.call("message", {"client_id": new_id(), "body": "Where is my <b>order</b> 10442?"})
        assert sent["ok"], sent
        cid = sent["conversation_id"]
        await agent.rec.wait_for("conversation.assigned", lambda c: c["id"] == cid)
        for body in (GREETING, "It ships today. Anything else?"):
            assert (await agent.call("message", {"conversation_id": cid, "client_id": new_id(), "body": body}))["ok"]
        assert (await agent.call("close", {"conversation_id": cid}))["ok"]
        return cid
    finally:
        await visitor.disconnect()
        await clients.sign_off(agent)
        await agent.disconnect()


async def test_an_evaluator_scores_a_chat_with_an_automatic_check_and_a_pinned_comment(center, new_page):
    d = center
    tag = new_id()[:6]
    ada, quinn, cora = f"ada-{tag}@example.com", f"quinn-{tag}@example.com", f"cora-{tag}@example.com"
    d.create_user(ada, "admin", f"Ada {tag}")
    d.create_user(quinn, "qa", f"Quinn {tag}")
    d.create_user(cora, "agent", f"Cora {tag}", max_chats=3)
    async with httpx.AsyncClient(base_url=d.server.url, timeout=60) as http:
        login = await http.get("/login")
        await http.post("/login", data={"email": ada, "password": d.password, "csrf_token": csrf_of(login.text)})
        token = csrf_of((await http.get("/account")).text)
        made = await http.post("/api/quality/scorecards", json={"name": f"Chat quality {tag}", "sections": SECTIONS},
                               headers={"X-CSRF-Token": token})
        assert made.status_code == 201, made.text
    chat = await scripted_chat(d, cora)

    _, page, errors = await new_page()
    await staff_sign_in(page, d.server.url, quinn, d.password)
    await page.goto(d.server.url + "/quality/scorecards")
    token = await page.locator('meta[name="csrf-token"]').get_attribute("content")
    started = await page.request.post(d.server.url + "/api/quality/evaluations", headers={"X-CSRF-Token": token},
                                      data={"conversation_id": chat})
    assert started.status == 201, await started.text()
    await page.goto(d.server.url + (await started.json())["url"])
    await expect(page.get_by_role("heading", name="Evaluation", level=1)).to_be_visible()

    # The transcript: the visitor's text as text, the CSR's messages, the trail.
    transcript = page.get_by_role("region", name="Transcript")
    await expect(transcript.get_by_text("Where is my <b>order</b> 10442?")).to_be_visible()
    await expect(transcript.get_by_text("Order 10442")).to_be_visible()

    # Pre-filled by the automatic checks, and marked so.
    greets = page.get_by_role("radiogroup", name="Greets the visitor")
    await expect(greets.get_by_role("radio", name="Yes")).to_be_checked()
    await expect(page.get_by_role("radiogroup", name="Answers in time").get_by_role("radio", name="Yes")).to_be_checked()
    criterion = page.locator(".qa-criterion", has=greets)
    await expect(criterion.get_by_text("Automatic", exact=True)).to_be_visible()

    # A comment pinned to the CSR's greeting.
    message = transcript.get_by_role("listitem").filter(has_text=GREETING)
    await message.get_by_role("button", name=re.compile(r"^Comment on this message: message \d+ from Cora")).click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_role("button", name="Pin comment").click()
    await expect(dialog.get_by_text("Write the comment first.")).to_be_visible(timeout=TIMEOUT)
    await dialog.get_by_label("Comment").fill("Warm, personal greeting.")
    await dialog.get_by_role("button", name="Pin comment").click()
    await expect(dialog).to_be_hidden(timeout=TIMEOUT)
    await expect(message.get_by_text("Warm, personal greeting.")).to_be_visible()

    # Submitting with a criterion unanswered: refused, the criterion focused.
    score = page.get_by_label("Score", exact=True)
    await expect(score).to_have_text("100")
    await page.get_by_role("radiogroup", name="Verifies the order number").get_by_role("radio", name="Yes").check()
    await page.get_by_role("button", name="Submit evaluation").click()
    unanswered = page.get_by_role("radiogroup", name="Solves the question")
    await expect(unanswered).to_have_attribute("aria-invalid", "true", timeout=TIMEOUT)
    await expect(unanswered.get_by_role("radio").first).to_be_focused()

    await unanswered.get_by_role("radio", name="4").check()
    await expect(score).to_have_text("90")  # 100 × (1 + 1 + 1 + 2 × 0.75) ÷ 5
    # Overriding an automatic answer clears its mark.
    await greets.get_by_role("radio", name="No", exact=True).check()
    await expect(criterion.get_by_text("Automatic", exact=True)).to_be_hidden()
    await expect(score).to_have_text("70")  # 100 × (0 + 1 + 1 + 1.5) ÷ 5
    await greets.get_by_role("radio", name="Yes").check()
    await page.get_by_role("button", name="Submit evaluation").click()
    await expect(page.get_by_text("Evaluation submitted.")).to_be_visible(timeout=TIMEOUT)
    await expect(score).to_have_text("90")
    assert errors.errors == []
    evaluation = (await started.json())["id"]
    stored = {r["criterion"]: (r["value"], bool(r["automatic"])) for r in await fetch(
        d, "SELECT criterion, value, automatic FROM qa_answer WHERE evaluation_id = ?", evaluation)}
    # The greeting overridden (then set back by hand) is the evaluator's now; the first response stays automatic.
    assert stored == {"c1": ("yes", False), "c2": ("yes", True), "c3": ("yes", False), "c4": ("4", False)}
    pinned = await fetch(d, "SELECT m.body FROM qa_comment c JOIN message m ON m.id = c.message_id "
                            "WHERE c.evaluation_id = ?", evaluation)
    assert [r["body"] for r in pinned] == [GREETING]
    scored = await fetch(d, "SELECT score, status FROM qa_evaluation WHERE id = ?", evaluation)
    assert (scored[0]["score"], scored[0]["status"]) == (90.0, "submitted")
