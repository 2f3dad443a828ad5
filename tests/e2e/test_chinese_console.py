"""The agent console in Simplified Chinese, in Chromium: a CSR whose Language is 简体中文 (chosen on the
account page) sets themselves 可接待, takes a visitor's chat, replies and closes it (关闭对话), every step
found by its Chinese name; the untranslated-text walk (tests/e2e/untranslated.py) finds no English
on the console with no chat, with the chat open, and once it is closed. What the visitor and the CSR
wrote, and people's names, are data (translate="no")."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import expect

from tests.e2e.conftest import own_deployment
from tests.e2e.untranslated import assert_translated
from tests.support import clients
from tests.support.clients import new_id

TIMEOUT = 20_000

@pytest.fixture(scope="module")
def center(request):
    yield from own_deployment(request, "chinese-console", seed_demo=True)


@pytest.fixture(autouse=True)
async def demo_agent_reset():
    """This module works on its own deployment: the shared demo agent has nothing to reset."""
    yield


@pytest.fixture(scope="module")
def world(center) -> dict:
    """A CSR of the general queue (every site's) and the demo site's key."""
    t = new_id()[:6]
    w = {"base": center.server.url, "csr": f"lin-{t}@example.com"}
    center.create_user(w["csr"], "agent", f"林晓 {t}")
    page = httpx.get(w["base"] + "/demo/").text
    w["site_key"] = re.search(r'<script[^>]+src="[^"]*/widget\.js"[^>]+data-site="([^"]+)"', page).group(1)
    return w


async def test_a_chinese_csr_takes_answers_and_closes_a_chat(center, world, new_page):
    base = world["base"]
    _, page, errors = await new_page(locale="en-US", viewport={"width": 1400, "height": 900})

    # Signed in from an English browser, the CSR chooses 简体中文 on the account page.
    await page.goto(base + "/login")
    await page.get_by_label("Email").fill(world["csr"])
    await page.get_by_label("Password").fill(center.password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).not_to_have_url(re.compile(r"/login"), timeout=TIMEOUT)
    await page.goto(base + "/account")
    await page.get_by_label("Language").select_option(label="简体中文")
    await page.get_by_role("button", name="Save language").click()
    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")

    # The console, no chat yet.
    await page.get_by_role("navigation", name="栏目").get_by_role("link", name="工作台").click()
    await expect(page).to_have_title("Switchboard · 工作台")
    await expect(page.get_by_role("status").filter(has_text="已连接")).to_be_visible()
    status = page.get_by_label("状态", exact=True)
    await expect(status).to_be_enabled()
    await expect(status.locator("option:checked")).to_have_text("离线")
    await expect(page.get_by_role("heading", name="未选择对话")).to_be_visible()
    await expect(page.get_by_text("还没有对话。将状态设为“可接待”即可接收对话。")).to_be_visible()
    await assert_translated(page, "the console with no chat")

    await status.select_option(label="可接待")
    await expect(status).to_have_value("available")

    visitor = await clients.visitor(base, world["site_key"], origin=base)
    question = "Do you ship to Hangzhou?"
    answer = "是的，三天内送达。"
    try:
        ack = await visitor.call("message", {"client_id": new_id(), "body": question})
        assert ack["ok"], ack

        # The chat comes to the CSR: opened from the list, the question in the transcript.
        chats = page.get_by_role("list", name="我的对话", exact=True).get_by_role("button")
        await expect(chats).to_have_count(1)
        await chats.first.click()
        log = page.get_by_role("log", name="聊天记录")
        await expect(log.get_by_text(question)).to_be_visible()
        await expect(page.get_by_role("main").get_by_text("进行中")).to_be_visible()
        visitor_pane = page.get_by_role("complementary", name="访客")
        await expect(visitor_pane.get_by_role("heading", name="以往对话")).to_be_visible()
        await expect(visitor_pane.get_by_text("没有未结工单")).to_be_visible()

        # The reply, sent with 发送.
        await page.get_by_role("textbox", name="消息").fill(answer)
        await page.get_by_role("button", name="发送", exact=True).click()
        await visitor.rec.wait_for("message", lambda m: m["body"] == answer)
        await expect(log.get_by_text(answer)).to_be_visible()
        await expect(log.get_by_text(re.compile("^(已发送|已读)$"))).to_be_visible()
        await expect(chats.first).to_contain_text("我：")
        await assert_translated(page, "the console with a chat open")

        # Closed: the state says so, the reply box too, and 从列表移除 is offered.
        await page.get_by_role("button", name="关闭对话").click()
        await expect(page.get_by_role("main").get_by_text("对话已关闭")).to_be_visible()
        await expect(page.get_by_role("textbox", name="消息")).to_have_attribute("placeholder", "该对话已关闭。")
        await expect(page.get_by_role("button", name="从列表移除")).to_be_visible()
        await expect(chats.first).to_contain_text("对话已关闭")
        await assert_translated(page, "the console after closing the chat")

        await status.select_option(label="离线")
        await expect(status).to_have_value("offline")
        assert errors.errors == []
    finally:
        await visitor.disconnect()
