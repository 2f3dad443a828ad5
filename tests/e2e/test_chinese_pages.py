"""The staff side in Simplified Chinese, in Chromium: a user picks 简体中文 as their Language on the
account page (or follows a Chinese browser) and every staff page then shows no English — the
untranslated-text walk (tests/e2e/untranslated.py) over each page as the role that works on it, on
the demo deployment with a morning of history (tests/e2e/staff_world.py), so tables, charts and
lists are full.

Pages not translated yet are listed in NOT_YET: a page the app serves is either walked or listed,
so a new page cannot go unnoticed.
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import own_deployment
from tests.e2e.staff_world import NOT_PAGES, PAGES, TIMEOUT, World, build_world, open_as, shape, served_pages
from tests.e2e.untranslated import assert_translated
from tests.support.db import execute

# Pages visitors and customers read follow the visitor's language (the widget's, the help center's
# ?lang=), not a staff user's: they are not part of this walk.
VISITOR_PAGES = {"/help/{}/", "/help/{}/articles/{}", "/requests/{}", "{}"}
# Staff pages whose text is not translated yet.
NOT_YET = {
    "/visitors", "/work-orders", "/work-orders/{}", "/knowledge", "/knowledge/articles/{}", "/knowledge/new",
    "/canned", "/supervise", "/wallboard", "/reports", "/staffing", "/explorer",
    "/set-password/{}",
}
# Parts of a page that are not the staff's text: the admin's widget preview shows the visitor widget,
# which follows its own language (the preview's), not the admin's.
EXCLUDE = {"/admin/widget/preview/{}": ("#switchboard-widget",)}


def page_shape(path: str) -> str:
    return re.sub(r"/[0-9]+(?=/|$)", "/{}", shape(path))


WALKED = [p for p in PAGES if p[1] is not None and page_shape(p[2]) not in NOT_YET] + [
    ("sign-in", None, "/login", None),
]


@pytest.fixture(scope="module")
def center(request):
    yield from own_deployment(request, "chinese-pages", seed_demo=True)


@pytest.fixture(scope="module")
async def world(browser, center) -> World:
    built = await build_world(browser, center)
    await execute(center, "UPDATE app_user SET language = 'zh-CN'")
    return built


def test_every_staff_page_is_walked_or_listed_as_not_yet(tmp_path):
    walked = {page_shape(path) for _, _, path, _ in WALKED}
    missing = served_pages(tmp_path) - NOT_PAGES - VISITOR_PAGES - walked - NOT_YET - {"/console"}
    assert missing == set(), "staff pages neither walked in Chinese nor listed in NOT_YET"
    assert walked & NOT_YET == set()


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
