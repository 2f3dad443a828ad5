"""The console's panels and dialogs in Simplified Chinese, in Chromium (agent_ui/src: transfer.js,
close_dialog.js, workorder_dialog.js, canned.js, knowledge_panel.js).

A CSR whose Language is 简体中文 (chosen on the account page) takes a chat of a department that asks
for a contact category. The knowledge panel beside it, the canned-response list ("/" in the reply
box), the transfer dialog, the create-work-order dialog and the close dialog each show no English:
the untranslated-text walk (tests/e2e/untranslated.py) reads each of them alone (`within`), since
the rest of the console is another module's. Data — names, article titles and excerpts, canned
responses' own words, category paths — is marked translate="no" and not read.

The console's own controls are found by their ids (their names are console.js's, translated
separately); the panels' and dialogs' controls by their Chinese names.

The deployment is this module's own, with the demo site seeded: its pages embed the widget, and its
knowledge base and canned responses fill the panels.
"""

from __future__ import annotations

import json
import re

import httpx
import pytest
from playwright.async_api import expect

from tests.e2e.conftest import own_deployment
from tests.e2e.helpers import launcher, sign_in, visitor_send, widget
from tests.e2e.untranslated import assert_translated
from tests.support.clients import new_id
from tests.support.server import cli

TIMEOUT = 20_000
CATEGORY = "Complaint › Delivery"
QUESTION = "How do refunds work? I want to return my order."


@pytest.fixture(scope="module")
def center(request):
    yield from own_deployment(request, "chinese-panels", seed_demo=True)


@pytest.fixture(scope="module")
def world(center) -> dict:
    """A CSR in a department that requires a contact category, a colleague (offline: listed in the
    transfer dialog), a handling team and the category; the demo site's key."""
    t = new_id()[:6]
    w = {"t": t, "base": center.server.url, "csr": f"lin-{t}@example.com", "colleague": f"wang-{t}@example.com",
         "topic": f"Claims {t}"}
    center.create_user(w["csr"], "agent", f"Lin {t}")
    center.create_user(w["colleague"], "agent", f"Wang {t}")
    center.create_user(f"hal-{t}@example.com", "handler", f"Hal {t}")
    cli(center.env, "work-setup", "--team", f"Deliveries {t}", "--members", f"hal-{t}@example.com",
        "--category", "Complaint/Delivery", "--json")
    page = httpx.get(w["base"] + "/demo/").text
    w["site_key"] = re.search(r'<script[^>]+src="[^"]*/widget\.js"[^>]+data-site="([^"]+)"', page).group(1)
    json.loads(cli(center.env, "create-department", "--site", w["site_key"], "--name", w["topic"],
                   "--member", w["csr"], "--member", w["colleague"], "--classification", "required", "--json"))
    return w


async def test_the_panels_and_dialogs_of_a_chat_show_no_english(center, world, new_page):
    w = world
    _, csr, csr_errors = await new_page(viewport={"width": 1400, "height": 900}, locale="en-US")
    await sign_in(csr, w["base"], w["csr"], center.password)

    # The CSR chooses 简体中文 on the account page.
    await csr.goto(w["base"] + "/account")
    await csr.get_by_label("Language").select_option(label="简体中文")
    await csr.get_by_role("button", name="Save language").click()
    await expect(csr.locator("html")).to_have_attribute("lang", "zh-CN", timeout=TIMEOUT)

    await csr.goto(w["base"] + "/console")
    await expect(csr.locator("html")).to_have_attribute("lang", "zh-CN")
    status = csr.locator("#status-select")
    await expect(status).to_be_enabled(timeout=TIMEOUT)
    await status.select_option("available")

    # Before any chat: the knowledge panel says how it works.
    panel = csr.locator("#knowledge-panel")
    await expect(panel).to_contain_text("选择一个对话即可查看推荐文章。", timeout=TIMEOUT)
    await assert_translated(csr, "the knowledge panel without a chat", within="#knowledge-panel")

    # A visitor asks in the classifying department; the CSR takes the chat.
    _, visitor, visitor_errors = await new_page()
    await visitor.goto(w["base"] + "/demo/")
    await launcher(visitor).click()
    await expect(widget(visitor)).to_be_visible(timeout=TIMEOUT)
    await widget(visitor).get_by_label("Topic").select_option(label=w["topic"])
    await visitor_send(visitor, QUESTION)
    chat = csr.locator("#chat-list button").filter(has_text=QUESTION)
    await expect(chat).to_have_count(1, timeout=TIMEOUT)
    await chat.click()
    await expect(csr.locator("#transcript").get_by_text(QUESTION, exact=True)).to_be_visible(timeout=TIMEOUT)

    # The knowledge panel: suggested articles for the question, with their buttons in Chinese.
    await expect(panel.get_by_role("heading", name="推荐")).to_be_visible()
    await expect(panel.get_by_role("button", name="插入正文").first).to_be_visible(timeout=TIMEOUT)
    await expect(panel.locator(".kb-status")).to_have_text(re.compile(r"^\d+ 篇文章$"))
    await panel.get_by_role("button", name="预览").first.click()
    await expect(panel.locator(".kb-preview").first).not_to_contain_text("加载中…", timeout=TIMEOUT)
    await assert_translated(csr, "the knowledge panel with suggestions", within="#knowledge-panel")
    await panel.get_by_label("搜索文章").fill("zzzz nothing like this")
    await expect(panel.get_by_role("heading", name="搜索结果")).to_be_visible()
    await expect(panel.locator(".kb-status")).to_have_text("未找到文章", timeout=TIMEOUT)
    await assert_translated(csr, "the knowledge panel without results", within="#knowledge-panel")
    await panel.get_by_label("搜索文章").fill("")

    # The canned responses: "/" in the reply box opens the list.
    reply = csr.locator("#reply")
    await reply.click()
    await reply.press_sequentially("/")
    canned = csr.get_by_role("listbox", name="快捷回复")
    await expect(canned).to_be_visible(timeout=TIMEOUT)
    await expect(canned.get_by_role("option").first).to_be_visible(timeout=TIMEOUT)
    await expect(csr.locator("#canned-popup .canned-option-scope").first).to_have_text(re.compile("^(全局|团队)$"))
    await assert_translated(csr, "the canned-response list", within="#canned-popup")
    await reply.press_sequentially("zzzz")
    await expect(csr.locator("#canned-popup [role=status]")).to_have_text("没有匹配的快捷回复")
    await assert_translated(csr, "the canned-response list with no match", within="#canned-popup")
    await reply.fill("")

    # The transfer dialog: the colleague (offline, with their load), the departments, the note.
    await csr.locator("#transfer-button").click()
    transfer = csr.get_by_role("dialog", name="转接对话")
    await expect(transfer).to_be_visible(timeout=TIMEOUT)
    await expect(transfer.locator("label", has_text=f"Wang {w['t']}")).to_contain_text(
        re.compile(r"离线 · \d+/\d+ 个对话"), timeout=TIMEOUT)
    await expect(transfer.get_by_role("heading", name="部门")).to_be_visible()
    await expect(transfer.get_by_label("给接收人的备注（仅员工可见）")).to_be_visible()
    await assert_translated(csr, "the transfer dialog", within="dialog.transfer-dialog")
    await transfer.get_by_role("button", name="取消").click()
    await expect(transfer).to_have_count(0)

    # The create-work-order dialog, pre-filled from the chat.
    await csr.locator("#create-order-button").click()
    order = csr.get_by_role("dialog", name="创建工单")
    await expect(order.get_by_label("主题")).to_be_visible(timeout=TIMEOUT)
    await expect(order.get_by_label("优先级")).to_have_value("normal")
    await expect(order.get_by_label("优先级").locator("option:checked")).to_have_text("普通")
    await assert_translated(csr, "the create-work-order dialog", within="dialog.wo-dialog")
    await order.get_by_role("button", name="取消").click()
    await expect(order).to_have_count(0)

    # The close dialog: the department asks what the contact was about; nothing chosen is refused.
    await csr.locator("#close-button").click()
    ask = csr.get_by_role("dialog", name="这次联系是关于什么的？")
    await expect(ask).to_be_visible(timeout=TIMEOUT)
    await assert_translated(csr, "the close dialog", within="dialog.close-dialog")
    await ask.get_by_role("button", name="关闭对话").click()
    await expect(ask.get_by_role("alert")).to_have_text("请选择一个分类。")
    await assert_translated(csr, "the close dialog refusing no category", within="dialog.close-dialog")
    await ask.get_by_label("分类").select_option(label=CATEGORY)
    await ask.get_by_role("button", name="关闭对话").click()
    await expect(ask).to_have_count(0, timeout=TIMEOUT)

    await status.select_option("offline")
    assert csr_errors.errors == []
    assert visitor_errors.errors == []
