"""Help in the widget, as a visitor uses it in Chromium: open the chat panel, press "Help", search
the site's help articles in English, read one, go back, search in Chinese, then "Chat with us"
starts a chat that a CSR receives (recorded as a chat started from Help). A Chinese browser gets
the Help view in Chinese. The article's body is the server's sanitised HTML: markup typed into an
article never runs.

The module has a deployment of its own (no demo articles) and a customer's page on another origin
that embeds the widget with the snippet; its articles are seeded with the knowledge service.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator

import pytest
from playwright.async_api import expect

from app.models import KnowledgeEvent, User
from app.services import admin, knowledge
from tests.e2e.conftest import own_deployment
from tests.e2e.helpers import host_site, launcher, widget, widget_log
from tests.support import clients
from tests.support.clients import new_id
from tests.support.inprocess import database
from tests.support.server import Deployment, cli, free_port

TIMEOUT = 20_000
CSR = "agent@example.com"


@pytest.fixture(scope="module")
def center(request) -> Iterator[Deployment]:
    yield from own_deployment(request, "widget-help")


@pytest.fixture(scope="module")
def shop(center) -> Iterator[tuple[str, dict]]:
    """(the page's URL, the site) — a customer's page embedding the widget."""
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    site = json.loads(cli(center.env, "create-site", "--name", f"Shoes {new_id()[:6]}", "--origin", origin, "--json"))
    html = (f'<!doctype html><html lang="en"><title>Shoe shop</title><main><h1>Shoe shop</h1></main>'
            f'<script async src="{center.server.url}/widget.js" data-site="{site["key"]}"></script>').encode()
    with host_site(port, lambda _path: html) as url:
        yield url, site


@pytest.fixture(scope="module")
async def articles(center, shop) -> dict[str, int]:
    site = shop[1]
    async with database(center, runtime=True):
        editor = await admin.create_user(f"ed-{new_id()[:6]}@example.com", center.password, "supervisor", "Eda", 3)
        await User.filter(id=editor.id).update(knowledge_editor=True)
        editor = await User.get(id=editor.id)

        async def publish(title: str, body: str, **values) -> int:
            return (await knowledge.save(editor, None, {"title": title, "body": body, "status": "published",
                                                        "site_ids": [site["id"]], **values})).id

        sizes = await publish("Shoe sizes", "Our shoes run **true to size**.")
        return {
            "sizes": sizes,
            "returns": await publish(
                "Returns policy",
                "Send shoes back within **30 days** for a full refund.\n\n"
                f"- Read about [sizes](article:{sizes}) first\n- Keep the box\n\n"
                "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">"),
            "internal": await publish("Returns for staff", "Supervisors may extend returns.", audience="internal"),
            "tuihuo": await publish("退货政策", "我们接受三十天内的退货。请保留收据。", language="zh"),
        }


def help_view(page):
    return widget(page).get_by_role("region", name=re.compile("^(Help|帮助)$"))


async def test_a_visitor_finds_an_answer_then_chats_from_help(center, shop, articles, new_page):
    url, site = shop
    csr = await clients.agent(center.server.url, CSR, center.password)
    try:
        assert (await csr.call("set_status", {"status": "available"}))["ok"]
        _, page, errors = await new_page()
        await page.goto(url)
        await launcher(page).click()
        panel = widget(page)
        await panel.get_by_role("button", name="Help", exact=True).click()
        view = help_view(page)
        search = view.get_by_role("searchbox", name="Search help articles")
        await expect(search).to_be_focused()

        # A search with no answer says so.
        await search.fill("umbrellas")
        await search.press("Enter")
        await expect(view.get_by_role("status")).to_have_text(re.compile("No articles match “umbrellas”"),
                                                              timeout=TIMEOUT)

        # English: the public article is found (the internal one is not) and read.
        await search.fill("returns")
        await view.get_by_role("button", name="Search", exact=True).click()
        results = view.get_by_role("list", name="Help articles found")
        await expect(results.get_by_role("button")).to_have_text(["Returns policy"], timeout=TIMEOUT)
        await expect(results).to_contain_text("30 days")
        await results.get_by_role("button", name="Returns policy").click()
        heading = view.get_by_role("heading", name="Returns policy")
        await expect(heading).to_be_focused(timeout=TIMEOUT)
        await expect(view.locator("strong")).to_have_text("30 days")
        link = view.get_by_role("link", name="sizes")
        assert await link.get_attribute("href") == \
            f"{center.server.url}/help/{site['key']}/articles/{articles['sizes']}-shoe-sizes"
        page_link = view.get_by_role("link", name="Open in the help center")
        assert (await page_link.get_attribute("href")).endswith(f"/articles/{articles['returns']}-returns-policy")
        # Markup typed in the article is shown as text and never runs.
        await expect(view).to_contain_text("<script>document.title='pwned'</script>")
        assert await page.title() == "Shoe shop" and await view.locator("script, img").count() == 0

        # Back to the results (focus returns to the article's button), then a search in Chinese.
        await view.get_by_role("button", name="Back to results").click()
        await expect(results.get_by_role("button", name="Returns policy")).to_be_focused()
        await search.fill("退货")
        await search.press("Enter")
        await expect(results.get_by_role("button")).to_have_text(["退货政策"], timeout=TIMEOUT)
        await results.get_by_role("button", name="退货政策").click()
        await expect(view.get_by_role("heading", name="退货政策")).to_be_visible(timeout=TIMEOUT)
        await expect(view).to_contain_text("我们接受三十天内的退货")

        # "Still need help?" → the chat, whose first message starts a conversation the CSR gets.
        await expect(view).to_contain_text("Still need help?")
        await view.get_by_role("button", name="Chat with us").click()
        await expect(help_view(page)).to_be_hidden()
        box = panel.get_by_label("Message")
        await expect(box).to_be_visible()
        await box.fill("The policy does not say who pays the postage.")
        await box.press("Enter")
        assigned = await csr.rec.wait_for("conversation.assigned", timeout=TIMEOUT / 1000)
        opened = await csr.call("open", {"conversation_id": assigned["id"]})
        assert [m["body"] for m in opened["messages"] if m["sender"] == "visitor"] == \
            ["The policy does not say who pays the postage."]
        await expect(widget_log(page)).to_contain_text("who pays the postage")

        async with database(center):
            events = await KnowledgeEvent.filter(visitor_id=assigned["visitor_id"]).order_by("id")
        assert [(e.kind, e.query or e.article_id) for e in events] == [
            ("search", "umbrellas"), ("search", "returns"), ("read", articles["returns"]), ("search", "退货"),
            ("read", articles["tuihuo"]), ("chat_started", None)]
        assert events[-1].conversation_id == assigned["id"]
        assert errors.errors == []
        await csr.call("close", {"conversation_id": assigned["id"]})
    finally:
        await csr.call("set_status", {"status": "offline"})
        await csr.disconnect()


async def test_a_chinese_browser_gets_help_in_chinese(shop, articles, new_page):
    url, _ = shop
    _, page, errors = await new_page(locale="zh-CN")
    await page.goto(url)
    await page.get_by_role("button", name="打开聊天 (chat)").click()
    panel = widget(page)
    await panel.get_by_role("button", name="帮助", exact=True).click()
    view = help_view(page)
    search = view.get_by_role("searchbox", name="搜索帮助文章")
    await search.fill("退货")
    await search.press("Enter")
    results = view.get_by_role("list")
    await expect(results.get_by_role("button")).to_have_text(["退货政策"], timeout=TIMEOUT)
    # "联系客服" from the keyboard goes back to the chat, on its first field (the optional name).
    chat = view.get_by_role("button", name="联系客服")
    await chat.focus()
    await page.keyboard.press("Enter")
    await expect(panel.get_by_role("textbox", name="姓名（可选）")).to_be_focused()
    # Help again: the last results are still there; pressing "帮助" once more returns to the chat.
    await panel.get_by_role("button", name="帮助", exact=True).click()
    await expect(results.get_by_role("button")).to_have_text(["退货政策"])
    await panel.get_by_role("button", name="帮助", exact=True).click()
    await expect(help_view(page)).to_be_hidden()
    assert errors.errors == []


async def test_a_search_asked_while_the_widget_connects_waits_for_the_connection(shop, articles, new_page):
    """A visitor quicker than the page's first session: the search says "Searching…" until the
    connection is up, then answers (it used to fail at once with "could not search")."""
    url, _ = shop
    _, page, errors = await new_page()
    held: list = []
    release = asyncio.Event()

    async def hold(ws) -> None:  # the widget's socket reaches the server only once released
        held.append(ws)
        await release.wait()
        ws.connect_to_server()

    await page.route_web_socket(re.compile(r"/socket\.io/"), hold)
    # Only WebSocket: with it held, socket.io's long-polling fallback would connect instead.
    await page.route(re.compile(r"/socket\.io/.*transport=polling"), lambda route: route.abort())
    await page.goto(url)
    await launcher(page).click()
    await widget(page).get_by_role("button", name="Help", exact=True).click()
    view = help_view(page)
    search = view.get_by_role("searchbox", name="Search help articles")
    await search.fill("returns")
    await search.press("Enter")
    await expect(view.get_by_role("status")).to_have_text("Searching…", timeout=TIMEOUT)
    release.set()
    await expect(view.get_by_role("list").get_by_role("button")).to_have_text(["Returns policy"], timeout=TIMEOUT)
    assert held, "the widget's WebSocket did not go through the hold"
    assert errors.errors == []
