"""The widget on a host page: isolated from its CSS, refused on foreign origins, in Chinese."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import expect

from tests.e2e.helpers import host_site, launcher, visitor_send, widget, widget_log
from tests.support.server import free_port


async def test_host_css_does_not_reach_the_widget(demo, new_page):
    _, page, errors = await new_page()
    await page.goto(demo.server.url + "/demo/")
    await launcher(page).click()
    box = widget(page).get_by_label("Message")
    await expect(box).to_be_visible()
    # The demo page styles button/textarea/div with Comic Sans; the shadow root stops it.
    assert "Comic Sans" in await page.evaluate("getComputedStyle(document.querySelector('main div, main')).fontFamily") \
        or "Comic Sans" in await page.evaluate("getComputedStyle(document.querySelector('div')).fontFamily")
    assert "Comic Sans" not in await box.evaluate("el => getComputedStyle(el).fontFamily")
    assert "Comic Sans" not in await launcher(page).evaluate("el => getComputedStyle(el).fontFamily")
    assert await page.locator("#switchboard-widget").count() == 1
    assert await page.evaluate("document.querySelector('#switchboard-widget').shadowRoot !== null")
    assert errors.errors == []


async def test_keyboard_escape_closes_and_focus_returns_to_the_launcher(demo, demo_site_key, new_page):
    _, page, _ = await new_page()
    await page.goto(demo.server.url + "/demo/pricing")
    await has_session(page, demo_site_key)  # the widget knows the site's pre-chat form
    await launcher(page).click()
    # A new visitor starts on the pre-chat form's first field (a topic, when the site has some),
    # which comes before the message box.
    panel = widget(page)
    name = panel.get_by_role("textbox", name="Name (optional)", exact=True)
    await expect(name).to_be_visible()
    topic = panel.get_by_role("combobox", name="Topic")
    await expect(topic if await topic.is_visible() else name).to_be_focused()
    await page.keyboard.press("Escape")
    await expect(widget(page)).to_be_hidden()
    await expect(launcher(page)).to_be_focused()


async def test_chinese_browser_gets_chinese_strings(demo, new_page):
    _, page, _ = await new_page(locale="zh-CN")
    await page.goto(demo.server.url + "/demo/")
    chinese_launcher = page.get_by_role("button", name="打开聊天 (chat)")
    await expect(chinese_launcher).to_be_visible()
    await chinese_launcher.click()
    await expect(widget(page).get_by_role("button", name="发送")).to_be_visible()
    await expect(widget(page).get_by_label("消息")).to_be_visible()


async def has_session(page, site_key: str) -> None:
    """Waits until the widget on `page` has had its session (its visitor id is stored)."""
    deadline = asyncio.get_running_loop().time() + 20
    while await page.evaluate(f"localStorage.getItem('sb:{site_key}:vid')") is None:
        assert asyncio.get_running_loop().time() < deadline, "the widget never got a session"
        await asyncio.sleep(0.05)  # polling for the session (the page's CSP forbids wait_for_function)


@pytest.fixture
def foreign_site(demo):
    """A page on an origin the demo site does not allow, embedding the widget."""
    html = (f'<!doctype html><title>Elsewhere</title><p>Another site</p>'
            f'<script async src="{demo.server.url}/widget.js" data-site="{demo_site_key(demo)}"></script>').encode()
    with host_site(free_port(), lambda _path: html) as url:
        yield url


def demo_site_key(demo) -> str:
    import re

    import httpx

    page = httpx.get(demo.server.url + "/demo/").text
    return re.search(r'data-site="([^"]+)"', page).group(1)


async def test_widget_on_a_foreign_origin_cannot_chat(demo, new_page, foreign_site):
    _, page, _ = await new_page()
    warnings = []
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    await page.goto(foreign_site)
    await launcher(page).click()
    await expect(widget(page).get_by_text("Chat is not available on this page.")).to_be_visible()
    await visitor_send(page, "let me in")
    await expect(widget_log(page).get_by_text("let me in")).to_be_visible()  # held locally, never sent
    assert any("origin_not_allowed" in w for w in warnings)
