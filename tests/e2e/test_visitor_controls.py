"""The visitor's controls in the widget, in Chromium, in English and Simplified Chinese: "End chat"
(asked once) and the rating after it, the transcript by mail, "Leave queue" (an abandon in the
reports), and a chat asked for outside business hours (the hours and the offline form; with
after-hours acceptance, held until the opening) that never reaches an Available CSR. axe-core finds
no WCAG 2.1 A/AA violation in the new states.

The module has a deployment of its own; each test makes a site of its own on a customer's page on
another origin, with topics (departments) of its own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from playwright.async_api import expect

from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import own_deployment
from tests.e2e.helpers import tent_shop, visitor_send, widget, widget_log
from tests.support import clients
from tests.support.clients import new_id
from tests.support.db import fetch
from tests.support.server import Deployment, cli, free_port
from tests.support.web import signed_in

ADMIN = "vc-admin@example.com"
LAUNCHER = re.compile(r"^((Open|Close) chat|(打开|关闭)聊天)")
# What the visitor reads, by the browser's language.
WORDS = {
    "en": {"topic": "Topic", "message": "Message", "email": "Email (optional)", "end": "End chat",
           "ask": "End this chat?", "yes": "Yes, end it", "cancel": "Cancel", "rate": "Rate this chat",
           "good": "Good", "send_rating": "Send rating", "thanks": "Thanks for your feedback",
           "transcript": "E-mail me the transcript", "sent": "Transcript sent to", "leave": "Leave queue",
           "leave_ask": "Leave the queue?", "leave_yes": "Yes, leave", "ended": "This chat has ended."},
    "zh-CN": {"topic": "咨询类别", "message": "消息", "email": "邮箱（可选）", "end": "结束对话",
              "ask": "结束本次对话？", "yes": "是，结束", "cancel": "取消", "rate": "为本次对话评分",
              "good": "满意", "send_rating": "提交评价", "thanks": "感谢您的反馈",
              "transcript": "把对话记录发到我的邮箱", "sent": "对话记录已发送至", "leave": "离开队列",
              "leave_ask": "离开队列？", "leave_yes": "是，离开", "ended": "本次会话已结束。"},
}


def launcher(page):
    return page.get_by_role("button", name=LAUNCHER)


@pytest.fixture(scope="module")
def center(request) -> Iterator[Deployment]:
    # Abandons count from the first moment (no short-abandon time): a test need not wait to leave.
    yield from own_deployment(request, "visitor-controls", extra_env={"SHORT_ABANDON_SECONDS": "0.001"})


@pytest.fixture(scope="module")
def admin_user(center) -> str:
    center.create_user(ADMIN, "admin", "Ada Admin")
    return ADMIN


@pytest.fixture(scope="module")
def shop(center) -> Iterator[str]:
    """The customer's site (its origin, yielded): /<site key> is a page embedding that site's widget."""
    with tent_shop(center.server.url, free_port()) as url:
        yield url


def new_site(center: Deployment, shop: str) -> dict:
    site = json.loads(cli(center.env, "create-site", "--name", f"Tents {new_id()[:6]}", "--origin", shop, "--json"))
    site["url"] = f"{shop}/{site['key']}"
    return site


def new_topic(center: Deployment, site: dict, *members: str, hours: str | None = None,
              after_hours: bool = False) -> tuple[str, int]:
    name = f"Topic {new_id()[:6]}"
    args = ["create-department", "--site", site["key"], "--name", name, "--json"]
    for member in members:
        args += ["--member", member]
    if hours:
        args += ["--hours", hours, "--time-zone", "UTC"]
    if after_hours:
        args.append("--accept-after-hours")
    return name, json.loads(cli(center.env, *args))["id"]


async def new_csr(center: Deployment) -> tuple[str, clients.Client]:
    """A CSR of the test's own, Available over a socket."""
    email = f"csr-{new_id()[:8]}@example.com"
    center.create_user(email, "agent", f"Cy {email[4:8]}")
    agent = await clients.agent(center.server.url, email, center.password)
    assert (await agent.call("set_status", {"status": "available"}))["ok"]
    return email, agent


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
async def test_a_visitor_ends_the_chat_rates_it_and_gets_the_transcript(center, shop, new_page, lang):
    w = WORDS[lang]
    site = new_site(center, shop)
    email, csr = await new_csr(center)
    topic, _ = new_topic(center, site, email)
    try:
        _, page, errors = await new_page(locale=lang, bypass_csp=True)
        await page.goto(site["url"])
        await launcher(page).click()
        panel = widget(page)
        await panel.get_by_label(w["topic"]).select_option(label=topic)
        await panel.get_by_label(w["email"]).fill(f"ann-{lang}@example.org")
        await visitor_send(page, "Does the tent fit four?") if lang == "en" else \
            await _send(panel, w, "帐篷能睡四个人吗？")
        assigned = await csr.rec.wait_for("conversation.assigned")
        await csr.call("message", {"conversation_id": assigned["id"], "client_id": new_id(), "body": "Yes, easily."})
        await expect(widget_log(page).get_by_text("Yes, easily.")).to_be_visible()

        # Asked once, with the focus on the question's Cancel; cancelling goes back to the button.
        end = panel.get_by_role("button", name=w["end"], exact=True)
        await end.click()
        question = panel.get_by_role("alertdialog", name=w["ask"])
        await expect(question).to_be_visible()
        await expect(question.get_by_role("button", name=w["cancel"])).to_be_focused()
        await assert_accessible(page, f"the end-chat question ({lang})")
        await page.keyboard.press("Escape")
        await expect(question).to_be_hidden()
        await expect(end).to_be_focused()
        await end.click()
        await question.get_by_role("button", name=w["yes"]).click()

        await expect(panel.get_by_text(w["ended"], exact=False)).to_be_visible()
        rating = panel.get_by_role("group", name=w["rate"])
        await expect(rating).to_be_visible()
        await expect(end).to_be_hidden()
        await rating.get_by_role("button", name=w["good"], exact=True).click()
        await rating.get_by_role("button", name=w["send_rating"]).click()
        await expect(rating.get_by_text(w["thanks"], exact=False)).to_be_visible()
        await panel.get_by_role("button", name=w["transcript"]).click()
        await expect(panel.get_by_text(w["sent"], exact=False)).to_contain_text(f"ann-{lang}@example.org")
        await assert_accessible(page, f"the ended chat with its transcript sent ({lang})")

        rows = await fetch(center, "SELECT c.closed_by, m.purpose, m.subject FROM conversation c, outgoing_mail m "
                                   "WHERE c.id = ? AND m.to_address = ?", assigned["id"], f"ann-{lang}@example.org")
        assert len(rows) == 1 and rows[0]["closed_by"] == "visitor" and rows[0]["purpose"] == "transcript"
        assert ("对话记录" in rows[0]["subject"]) == (lang == "zh-CN")
        assert errors.errors == []
    finally:
        await clients.sign_off(csr)
        await csr.disconnect()


async def _send(panel, w, text: str) -> None:
    box = panel.get_by_label(w["message"], exact=True)
    await box.fill(text)
    await box.press("Enter")


async def test_a_visitor_leaves_the_queue_and_the_report_counts_an_abandon(center, shop, admin_user, new_page):
    w = WORDS["zh-CN"]
    site = new_site(center, shop)
    topic, desk = new_topic(center, site)  # nobody serves it: the chat waits
    _, page, errors = await new_page(locale="zh-CN", bypass_csp=True)
    await page.goto(site["url"])
    await launcher(page).click()
    panel = widget(page)
    await panel.get_by_label(w["topic"]).select_option(label=topic)
    await _send(panel, w, "有人吗？")
    leave = panel.get_by_role("button", name=w["leave"], exact=True)
    await expect(leave).to_be_visible()
    await leave.click()
    question = panel.get_by_role("alertdialog", name=w["leave_ask"])
    await assert_accessible(page, "the leave-queue question")
    await question.get_by_role("button", name=w["leave_yes"]).click()
    await expect(panel.get_by_text(w["ended"], exact=False)).to_be_visible()
    await expect(panel.get_by_role("group", name=w["rate"])).to_be_hidden()  # nobody answered: nothing to rate
    async with signed_in(center.server.url, ADMIN, center.password) as http:
        headline = (await http.get("/api/reports/summary", params={"department": desk})).json()["headline"]
    assert (headline["offered"], headline["abandoned"], headline["answered"]) == (1, 1, 0)
    assert errors.errors == []


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


async def test_outside_hours_the_visitor_gets_the_hours_and_the_note_form_and_no_csr_is_offered_the_chat(
        center, shop, new_page):
    site = new_site(center, shop)
    email, csr = await new_csr(center)
    tomorrow = DAYS[(datetime.now(timezone.utc).weekday() + 1) % 7]
    topic, desk = new_topic(center, site, email, hours=f"{tomorrow} 00:00-24:00")
    try:
        # The visitor's browser is in Shanghai: the opening is shown in its time.
        _, page, errors = await new_page(bypass_csp=True, timezone_id="Asia/Shanghai")
        await page.goto(site["url"])
        await launcher(page).click()
        panel = widget(page)
        await panel.get_by_label("Topic").select_option(label=topic)
        await visitor_send(page, "Is the shop open?")
        hours = panel.get_by_text(re.compile(r"^We're closed now\. We open again .*GMT\+8.*\.$"))
        await expect(hours).to_be_visible()
        note = panel.get_by_role("button", name="Leave a note instead")
        await expect(note).to_be_focused()
        await assert_accessible(page, "the widget outside business hours")
        await note.click()
        await expect(panel.get_by_label("How can we help?")).to_have_value("Is the shop open?")
        await panel.get_by_label("Your email").fill("owl@example.org")
        await panel.get_by_role("button", name="Send to the team").click()
        await expect(panel.get_by_text("Thanks! We'll reply to owl@example.org.")).to_be_visible()
        assert await fetch(center, "SELECT id FROM conversation WHERE department_id = ?", desk) == []
        notes = await fetch(center, "SELECT data FROM contact_event WHERE department_id = ?", desk)
        assert [json.loads(n["data"])["reason"] for n in notes] == ["outside_hours"]
        assert not csr.rec.of("conversation.assigned") and errors.errors == []
    finally:
        await clients.sign_off(csr)
        await csr.disconnect()


async def test_a_queue_accepting_chats_after_hours_holds_the_chat_until_it_opens(center, shop, new_page):
    w = WORDS["zh-CN"]
    site = new_site(center, shop)
    email, csr = await new_csr(center)
    now = datetime.now(timezone.utc)
    opening = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    if (opening - now).total_seconds() < 20:  # time to ask while still closed
        opening += timedelta(minutes=1)
    end = min(opening.hour * 60 + opening.minute + 30, 1440)
    topic, desk = new_topic(center, site, email, after_hours=True,
                            hours=f"{DAYS[opening.weekday()]} {opening:%H:%M}-{end // 60:02d}:{end % 60:02d}")
    try:
        _, page, errors = await new_page(locale="zh-CN", bypass_csp=True)
        await page.goto(site["url"])
        await launcher(page).click()
        panel = widget(page)
        await panel.get_by_label(w["topic"]).select_option(label=topic)
        await _send(panel, w, "早上好")
        await expect(panel.get_by_text(re.compile("^现在不在服务时间内：开始服务时"))).to_be_visible()
        await expect(panel.get_by_role("button", name=w["leave"], exact=True)).to_be_visible()
        await assert_accessible(page, "a chat held until the opening")
        assert datetime.now(timezone.utc) < opening
        rows = await fetch(center, "SELECT status FROM conversation WHERE department_id = ?", desk)
        assert [r["status"] for r in rows] == ["held"] and not csr.rec.of("conversation.assigned")
        # At the opening it joins the queue and reaches the Available CSR.
        assigned = await csr.rec.wait_for("conversation.assigned", timeout=120)
        assert datetime.now(timezone.utc) >= opening
        await expect(panel.get_by_text(re.compile("正在为您服务$"))).to_be_visible()
        await expect(panel.get_by_role("button", name=w["end"], exact=True)).to_be_visible()
        assert assigned["department"] == desk and errors.errors == []
    finally:
        await clients.sign_off(csr)
        await csr.disconnect()
