"""The knowledge panel beside a chat, in Chromium (agent_ui/src/knowledge_panel.js).

A visitor of a shoe shop asks "How do I return my shoes?"; the CSR's Knowledge region suggests the
shop's "Returns policy"; "Insert link" puts its public address into the reply box and "Insert text"
its answer as plain text — both editable, neither sent — and each insert is recorded. An internal
article is offered as text only ("Insert link" disabled, an "Internal" badge). "Search articles"
finds the Chinese article for 退货, says "No articles found" for nonsense, and goes back to the
suggestions when emptied. The visitor sidebar's "Before the chat" shows what the visitor searched
and read in the widget — and nothing for a visitor who did neither.

The deployment is this module's own; the shop is a site on an origin of its own (a small HTTP server
of the test) whose page embeds the real widget. Articles and the visitor's self-service steps are
written with app/services/knowledge.py in the test process.
"""

from __future__ import annotations

import json
import re

import pytest
from playwright.async_api import expect

from app.models import User
from app.services import knowledge
from tests.e2e.conftest import own_deployment
from tests.e2e.helpers import (
    chat_list,
    host_site,
    launcher,
    set_status,
    sidebar,
    sign_in,
    transcript,
    visitor_send,
    widget,
    widget_log,
)
from tests.support.clients import new_id
from tests.support.db import fetch
from tests.support.inprocess import database
from tests.support.server import cli, free_port

TIMEOUT = 20_000  # ms: a busy two-core machine
QUESTION = "How do I return my shoes?"
RETURNS = "You can return unworn **shoes** within *30 days*.\n\n1. Print the return label.\n2. Pack the shoes in their box.\n"
RETURNS_TEXT = "You can return unworn shoes within 30 days.\n\n1. Print the return label.\n2. Pack the shoes in their box."


@pytest.fixture(scope="module")
def center(request):
    yield from own_deployment(request, "knowledge-panel")


@pytest.fixture(scope="module")
async def shop(center):
    """The shoe shop: its site, its page with the widget, its articles, a CSR and an editor."""
    t = new_id()[:6]
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    site = json.loads(cli(center.env, "create-site", "--name", f"Shoe shop {t}", "--origin", origin, "--json"))
    csr, editor = f"kim-{t}@example.com", f"eve-{t}@example.com"
    center.create_user(csr, "agent", f"Kim {t}")  # in no department: every site's general queue
    center.create_user(editor, "admin", f"Eve {t}")
    async with database(center, runtime=True):
        author = await User.get(email=editor)

        async def publish(**values) -> int:
            return (await knowledge.save(author, None, {"status": "published", **values})).id

        articles = {
            "returns": await publish(title="Returns policy", body=RETURNS, site_ids=[site["id"]]),
            "internal": await publish(title="Returns for staff", audience="internal", site_ids=[site["id"]],
                                      body="Worn shoes may be returned with a manager's approval."),
            "zh": await publish(title="退货政策", language="zh", body="收到商品七天内可以申请**退货**。"),
        }
    html = (f'<!doctype html><html><head><title>Shoe shop</title></head><body><h1>Shoes</h1>'
            f'<script async src="{center.server.url}/widget.js" data-site="{site["key"]}"></script></body></html>').encode()
    with host_site(port, lambda _path: html) as url:
        yield {"url": url, "key": site["key"], "id": site["id"], "csr": csr, "articles": articles, "base": center.server.url}


def knowledge_region(page):
    return page.get_by_role("region", name="Knowledge")


def article(page, title: str):
    return knowledge_region(page).get_by_role("listitem", name=title, exact=True)


async def test_a_csr_inserts_the_suggested_article_and_sees_what_the_visitor_read(center, shop, new_page):
    base = shop["base"]
    returns_url = f"{base}/help/{shop['key']}/articles/{shop['articles']['returns']}-returns-policy"

    _, csr, csr_errors = await new_page(viewport={"width": 1400, "height": 900})
    await sign_in(csr, base, shop["csr"], center.password)
    panel = knowledge_region(csr)
    search = panel.get_by_label("Search articles")
    reply = csr.get_by_role("textbox", name="Message")

    # No chat yet: nothing suggested; a search finds articles, but nothing can be inserted.
    await expect(panel).to_contain_text("Select a chat to see suggested articles.", timeout=TIMEOUT)
    await search.fill("退货")
    await expect(article(csr, "退货政策")).to_be_visible(timeout=TIMEOUT)
    await expect(article(csr, "退货政策").get_by_role("button", name="Insert text")).to_be_disabled()
    await search.fill("")
    await expect(panel).to_contain_text("Select a chat to see suggested articles.")

    # The visitor asks; the CSR gets the chat and the suggestions for the question.
    await set_status(csr, "Available")
    _, visitor, visitor_errors = await new_page()
    await visitor.goto(shop["url"])
    await launcher(visitor).click()
    await expect(widget(visitor)).to_be_visible(timeout=TIMEOUT)
    async with csr.expect_response(lambda r: "/api/kb/self-service" in r.url, timeout=TIMEOUT) as looked:
        await visitor_send(visitor, QUESTION)
        await expect(chat_list(csr)).to_have_count(1, timeout=TIMEOUT)
        await chat_list(csr).first.click()
    assert (await looked.value).status == 200
    await expect(transcript(csr).get_by_text(QUESTION, exact=True)).to_be_visible(timeout=TIMEOUT)
    await expect(panel.get_by_role("heading", name="Suggested")).to_be_visible()
    suggested = article(csr, "Returns policy")
    await expect(suggested).to_be_visible(timeout=TIMEOUT)
    await expect(suggested).to_contain_text("You can return unworn shoes within 30 days.")
    # The visitor neither searched nor read anything before: no "Before the chat".
    await expect(sidebar(csr).get_by_role("region", name="Before the chat")).to_have_count(0)

    # "Insert link": the public address, in the reply box, editable, not sent.
    conversation_id = (await fetch(center, "SELECT id FROM conversation WHERE site_id = ? ORDER BY id DESC LIMIT 1",
                                   shop["id"]))[0]["id"]
    async with csr.expect_response(lambda r: "/api/kb/inserted" in r.url) as noted:
        await suggested.get_by_role("button", name="Insert link").click()
    assert (await noted.value).status == 201
    await expect(reply).to_have_value(returns_url)
    await expect(reply).to_be_focused()
    await reply.press("End")
    await reply.press_sequentially(" — here you go")
    await expect(reply).to_have_value(returns_url + " — here you go")
    await expect(transcript(csr).get_by_text(returns_url)).to_have_count(0)

    # "Insert text" (by keyboard): the answer as plain text.
    await reply.fill("")
    async with csr.expect_response(lambda r: "/api/kb/inserted" in r.url) as noted:
        await suggested.get_by_role("button", name="Insert text").focus()
        await csr.keyboard.press("Enter")
    assert (await noted.value).status == 201
    await expect(reply).to_have_value(RETURNS_TEXT)
    rows = await fetch(center, "SELECT article_id, data FROM kb_event WHERE kind = 'inserted' AND conversation_id = ? "
                               "ORDER BY id", conversation_id)
    assert [(r["article_id"], json.loads(r["data"])["how"]) for r in rows] == \
        [(shop["articles"]["returns"], "link"), (shop["articles"]["returns"], "text")]

    # The internal article: marked, its text may go in, never its link.
    internal = article(csr, "Returns for staff")
    await expect(internal).to_be_visible()
    await expect(internal.get_by_text("Internal", exact=True)).to_be_visible()
    await expect(internal.get_by_role("button", name="Insert link")).to_be_disabled()
    await expect(internal.get_by_role("button", name="Insert text")).to_be_enabled()

    # "Search articles": Chinese, nothing found, and back to the suggestions.
    await search.fill("退货")
    await search.press("Enter")
    await expect(panel.get_by_role("heading", name="Results")).to_be_visible()
    chinese = article(csr, "退货政策")
    await expect(chinese).to_be_visible(timeout=TIMEOUT)
    await expect(chinese.get_by_role("button", name="Insert link")).to_be_enabled()
    await expect(article(csr, "Returns policy")).to_have_count(0)
    await search.fill("zqxjkv")
    await expect(panel.get_by_role("status")).to_have_text("No articles found", timeout=TIMEOUT)
    await search.press("Escape")
    await expect(search).to_have_value("")
    await expect(article(csr, "Returns policy")).to_be_visible(timeout=TIMEOUT)

    # The preview is the article as the server rendered and cleaned it.
    await suggested.get_by_role("button", name="Preview").click()
    await expect(suggested.locator("strong", has_text="shoes")).to_be_visible(timeout=TIMEOUT)

    # The visitor had searched and read in the widget before: the sidebar says so (read once per chat).
    visitor_id = (await fetch(center, "SELECT visitor_id FROM conversation WHERE id = ?", conversation_id))[0]["visitor_id"]
    async with database(center, runtime=True):
        await knowledge.record("search", site_id=shop["id"], visitor_id=visitor_id, query="退货", results=1)
        await knowledge.record("search", site_id=shop["id"], visitor_id=visitor_id, query="<b>return</b>", results=1)
        await knowledge.record("read", site_id=shop["id"], visitor_id=visitor_id,
                               article_id=shop["articles"]["returns"])
    await csr.reload()
    before = sidebar(csr).get_by_role("region", name="Before the chat")
    await expect(before).to_be_visible(timeout=TIMEOUT)
    await expect(before).to_contain_text("Searched: “退货”, “<b>return</b>”")
    await expect(before.get_by_role("listitem")).to_have_text(["Returns policy"])
    await expect(before.locator("b")).to_have_count(0)

    # Nothing was sent to the visitor.
    await expect(widget_log(visitor).get_by_text(re.compile("help/"))).to_have_count(0)
    assert csr_errors.errors == [] and visitor_errors.errors == []
