"""The staff side in Simplified Chinese, in Chromium: a user picks 简体中文 as their Language on the
account page (or follows a Chinese browser) and every staff page then shows no English — the
untranslated-text walk (tests/e2e/untranslated.py) over each page as the role that works on it, on
the demo deployment with a morning of history (tests/e2e/staff_world.py), so tables, charts and
lists are full.

A page the app serves is walked here (the console in its own states, tests/e2e/test_chinese_console.py
and test_chinese_console_panels.py), so a new page cannot go untranslated unnoticed.
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import own_deployment
from tests.support import clients
from tests.support.clients import new_id
from tests.e2e.staff_world import (
    NOT_PAGES, PAGES, TIMEOUT, World, build_world, open_as, settled, shape, served_pages,
)
from tests.e2e.untranslated import assert_translated
from tests.support.db import execute

# Pages visitors and customers read follow the visitor's language (the widget's, the help center's
# ?lang=), not a staff user's: they are not part of this walk.
VISITOR_PAGES = {"/help/{}/", "/help/{}/articles/{}", "/requests/{}", "{}"}
# Parts of a page that are not the staff's text: the admin's widget preview shows the visitor widget,
# which follows its own language (the preview's), not the admin's.
EXCLUDE = {"/admin/widget/preview/{}": ("#switchboard-widget",)}


def page_shape(path: str) -> str:
    return re.sub(r"/[0-9]+(?=/|$)", "/{}", shape(path))


WALKED = [p for p in PAGES if p[1] is not None] + [
    ("sign-in", None, "/login", None),
    ("set-password page", None, "/set-password/{password_token}", None),  # a new user's: follows the browser
]


@pytest.fixture(scope="module")
def center(request):
    yield from own_deployment(request, "chinese-pages", seed_demo=True)


@pytest.fixture(scope="module")
async def world(browser, center) -> World:
    built = await build_world(browser, center)
    await execute(center, "UPDATE app_user SET language = 'zh-CN'")
    return built


def test_every_staff_page_is_walked(tmp_path):
    walked = {page_shape(path) for _, _, path, _ in WALKED}
    missing = served_pages(tmp_path) - NOT_PAGES - VISITOR_PAGES - walked - {"/console"}
    assert missing == set(), "staff pages not walked in Chinese: add them to PAGES (tests/e2e/staff_world.py)"


@pytest.mark.parametrize("what, role, path, prepare", WALKED, ids=[p[0] for p in WALKED])
async def test_no_english_left_on(what, role, path, prepare, world, new_page):
    options = {} if role else {"locale": "zh-CN"}
    page = await open_as(new_page, world, role, path.format(**world.ids), **options)
    if prepare is not None:
        await prepare(page)
    await assert_translated(page, what, exclude=EXCLUDE.get(page_shape(path), ()))
    assert page.errors.errors == []


async def test_a_user_chooses_their_language_on_the_account_page(world, center, new_page):
    """English browser: Language 简体中文 → every page in Chinese; "Follow the browser" → English again."""
    email = "lin.language@example.com"
    center.create_user(email, "agent", "林语")
    _, page, errors = await new_page(locale="en-US")
    await page.goto(world.base + "/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(center.password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).not_to_have_url(re.compile(r"/login"), timeout=TIMEOUT)
    await page.goto(world.base + "/account")
    language = page.get_by_label("Language")
    await expect(language).to_have_value("")  # follows the browser until chosen
    await language.select_option(label="简体中文")
    await page.get_by_role("button", name="Save language").click()
    await expect(page.get_by_role("status")).to_have_text("语言已保存。")
    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    await expect(page.get_by_label("语言")).to_have_value("zh-CN")
    await expect(page.get_by_role("navigation", name="栏目").get_by_role("link", name="工作台")).to_be_visible()
    await assert_translated(page, "the account page after choosing 简体中文")

    await page.get_by_label("语言").select_option(label="跟随浏览器")
    await page.get_by_role("button", name="保存语言").click()
    await expect(page.get_by_role("status")).to_have_text("Your language was saved.")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.get_by_label("Language")).to_have_value("")
    assert errors.errors == []


async def test_the_sign_in_page_follows_the_browser(world, new_page):
    _, chinese, _ = await new_page(locale="zh-CN")
    await chinese.goto(world.base + "/login")
    await expect(chinese.get_by_role("button", name="登录")).to_be_visible()
    await expect(chinese.get_by_label("电子邮件")).to_be_visible()
    _, english, _ = await new_page(locale="en-GB")
    await english.goto(world.base + "/login")
    await expect(english.get_by_role("button", name="Sign in")).to_be_visible()
    await english.get_by_label("Email").fill("nobody@example.com")
    await english.get_by_label("Password").fill("wrong password")
    await english.get_by_role("button", name="Sign in").click()
    await expect(english.get_by_role("alert")).to_have_text("E-mail or password is incorrect.")
    await chinese.get_by_label("电子邮件").fill("nobody@example.com")
    await chinese.get_by_label("密码").fill("wrong password")
    await chinese.get_by_role("button", name="登录").click()
    await expect(chinese.get_by_role("alert")).to_have_text("电子邮件或密码不正确。")


# ---- live: the live board monitoring a chat, the wallboard's figures --------------------------------
# The page walk sees these pages on a quiet morning (no chat in progress, no one waiting); here a
# CSR of our own holds a chat and a second visitor waits, so the board's and the wallboard's
# sentences with figures and names in them are read in Chinese too.


async def _a_chat_and_a_queue(world: World, center) -> tuple:
    """Our CSR (Available, then Away) holds one chat; a second visitor waits in the general queue."""
    tag = new_id()[:6]
    email = f"wang-{tag}@example.com"
    center.create_user(email, "agent", f"Wang {tag}")
    csr = await clients.agent(world.base, email, center.password)
    visitors = []
    assert (await csr.call("set_status", {"status": "available"}))["ok"]
    for question in (f"Is the Alpine tent in stock? {tag}", f"Where is my parcel? {tag}"):
        visitor = await clients.visitor(world.base, world.site_key, origin=world.base)
        visitors.append(visitor)
        assert (await visitor.call("page_view", {"url": world.base + "/demo/", "title": "Demo shop"}))["ok"]
        sent = await visitor.call("message", {"client_id": new_id(), "body": question})
        assert sent["ok"], sent
        if len(visitors) == 1:
            await csr.rec.wait_for("conversation.assigned", lambda c: c["id"] == sent["conversation_id"])
            assert (await csr.call("message", {"conversation_id": sent["conversation_id"], "client_id": new_id(),
                                               "body": "Let me check for you."}))["ok"]
            assert (await csr.call("set_status", {"status": "away", "reason": "Meal"}))["ok"]
    return tag, csr, visitors


async def test_the_live_board_monitoring_a_chat_and_the_wallboard_are_in_chinese(world, center, new_page):
    tag, csr, visitors = await _a_chat_and_a_queue(world, center)
    try:
        board = await open_as(new_page, world, "supervisor", "/supervise")
        await expect(board.get_by_text("已连接", exact=True)).to_be_visible(timeout=TIMEOUT)
        queues = board.get_by_role("table", name="队列")
        await expect(queues.get_by_role("row").filter(has_text="通用队列")).to_contain_text(re.compile(r"通用队列\s*1"))
        wang = board.get_by_role("table", name="客服代表").get_by_role("row").filter(has_text=f"Wang {tag}")
        await expect(wang).to_contain_text("离开 · Meal")
        await expect(wang.get_by_role("cell").nth(2)).to_have_text("1 / 3")
        await expect(wang.get_by_role("combobox", name=f"设置 Wang {tag} 的状态")).to_have_value("away")
        chat = board.get_by_role("list", name="进行中的对话").get_by_role("listitem").filter(has_text=f"与 Wang {tag} 对话")
        await expect(chat).to_contain_text(re.compile(r"自 \d\d:\d\d 起"))
        await chat.get_by_role("button", name=re.compile(r"^监听与 访客 \S+ 的对话$")).click()
        await expect(chat.get_by_role("button", name=re.compile("^监听"))).to_have_attribute("aria-pressed", "true")
        await expect(chat).to_contain_text("监听中")
        await expect(board.locator("#monitor-title")).to_have_text(re.compile(rf"^访客 \S+ · 与 Wang {tag} 对话$"))
        transcript = board.get_by_role("log", name="监听中的聊天记录")
        await expect(transcript.get_by_text(f"Is the Alpine tent in stock? {tag}")).to_be_visible()
        await expect(transcript.get_by_text("Let me check for you.")).to_be_visible()
        await expect(board.get_by_role("button", name="插话")).to_be_enabled()
        await expect(board.get_by_role("button", name="接管")).to_be_enabled()
        await assert_translated(board, "the live board, monitoring a chat")
        assert board.errors.errors == []

        wall = await open_as(new_page, world, "supervisor", "/wallboard")
        await expect(wall.get_by_text("实时", exact=True)).to_be_visible(timeout=TIMEOUT)
        tile = lambda label: wall.get_by_role("region", name=label, exact=True)  # noqa: E731
        await expect(tile("等待中").locator("output")).to_have_text("1")
        await expect(tile("等待中").locator("p")).to_have_text("分布在 1 个队列")
        await expect(tile("最长等待").locator("output")).to_have_text(re.compile(r"^\d+:\d\d$"))
        await expect(tile("最长等待").locator("p")).to_have_text(re.compile(r"^(在 20秒内|超过 20秒)$"))
        await expect(tile("今天的服务水平").locator("output")).to_have_text(re.compile(r"^\d+%$"))
        await expect(tile("今天的服务水平").locator("p")).to_have_text(
            re.compile(r"^\d+ 个对话中有 \d+ 个在 20秒内接听$"))
        await expect(tile("进行中").locator("p")).to_have_text(re.compile(r"^\d+ 个空闲席位$"))
        await expect(tile("已接听").locator("p")).to_have_text(re.compile(r"^今天进线 \d+ 个对话$"))
        await expect(tile("放弃").locator("p")).to_have_text(re.compile(r"^占今天进线的 \d+%$"))
        await expect(wall.locator("#wb-date")).to_have_text(re.compile(r"月.*日.*星期"))
        queue = wall.locator("#wb-queues li").filter(has_text="通用队列")
        await expect(queue).to_contain_text("1 人等待")
        row = wall.locator("#wb-agents li").filter(has_text=f"Wang {tag}")
        await expect(row).to_contain_text("离开")
        await expect(row.locator(".wb-load")).to_have_attribute("title", "1 / 3 个对话")
        chat = wall.locator("#wb-chats li").filter(has_text=f"与 Wang {tag} 对话")
        await expect(chat).to_contain_text(re.compile(r"访客 \S+"))
        await expect(chat.locator(".wb-row-clock")).to_have_text(re.compile(r"^\d+:\d\d$"))
        await assert_translated(wall, "the wallboard, a chat in progress and a visitor waiting")
        assert wall.errors.errors == []

        # The Visitors view with these two visitors on the site, and one's profile open.
        view = await open_as(new_page, world, "agent", "/visitors")
        rows = view.get_by_role("table", name="在线访客").get_by_role("row")
        chatting = rows.filter(has_text="对话中")
        await expect(chatting.first).to_be_visible(timeout=TIMEOUT)
        await expect(rows.filter(has_text="等待中").first).to_contain_text("新")
        await expect(view.locator("#visitors-count")).to_have_text(re.compile(r"^\d+ 人在线$"))
        await expect(chatting.first.get_by_title("在站点停留的时长（本次访问）")).to_have_text(re.compile(r"^站内停留 \d+:\d\d$"))
        await chatting.first.get_by_role("button", name=re.compile(r"^访客 \S+ 的资料$")).click()
        profile = view.get_by_role("complementary", name="访客资料")
        await expect(profile).to_contain_text("当前在线")
        await expect(profile.get_by_role("list", name="浏览轨迹")).to_contain_text(re.compile(r"第 \d+ 次访问"))
        await settled(view)
        await assert_translated(view, "the Visitors view, a visitor's profile open")
        assert view.errors.errors == []
    finally:
        for visitor in visitors:
            await visitor.disconnect()
        await clients.sign_off(csr)
        await csr.disconnect()


@pytest.mark.parametrize("role, path, refusal", [
    ("agent", "/supervise", "实时看板仅供主管和管理员使用。"),
    ("agent", "/wallboard", "大屏仅供主管和管理员使用。"),
    ("marketer", "/visitors", "访客页面仅供客服代表、主管和管理员使用。"),
])
async def test_the_live_pages_refuse_in_the_users_language(role, path, refusal, world, new_page):
    page = await open_as(new_page, world, role, path)
    await expect(page.locator("body")).to_have_text(refusal)
