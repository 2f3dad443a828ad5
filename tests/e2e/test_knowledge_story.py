"""The knowledge base end to end, in Chromium, as its people use it together: one visitor finds the
answer under Help and never chats; another searches in Chinese, reads, and presses "Chat with us";
the CSR sees what that visitor searched and read, gets the matching article suggested for the
visitor's question, inserts its link, answers with a canned response whose variables are filled,
and the visitor receives it; the admin's Reports count the self-service session that did not
become a chat as deflected.

The deployment is this module's own; the shop is a page on an origin of its own that embeds the
real widget. A deflection is known only once 30 minutes have passed without a chat: the test makes
that time pass for the first visitor by moving their knowledge events an hour back.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from playwright.async_api import expect

from app.models import KnowledgeEvent, User
from app.services import canned, knowledge
from tests.e2e.conftest import own_deployment
from tests.e2e.helpers import chat_list, host_site, launcher, set_status, sidebar, sign_in, widget, widget_log
from tests.support.clients import new_id
from tests.support.inprocess import database
from tests.support.server import cli, free_port

TIMEOUT = 20_000  # ms: a busy two-core machine
QUESTION = "How do I return my shoes?"


@pytest.fixture(scope="module")
def center(request):
    yield from own_deployment(request, "knowledge-story")


@pytest.fixture(scope="module")
async def shop(center):
    t = new_id()[:6]
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    site = json.loads(cli(center.env, "create-site", "--name", f"Boot shop {t}", "--origin", origin, "--json"))
    csr, boss = f"kai-{t}@example.com", f"ada-{t}@example.com"
    center.create_user(csr, "agent", f"Kai {t}")
    center.create_user(boss, "admin", f"Ada {t}")
    async with database(center, runtime=True):
        admin = await User.get(email=boss)

        async def publish(**values) -> int:
            return (await knowledge.save(admin, None, {"status": "published", "site_ids": [site["id"]], **values})).id

        articles = {
            "returns": await publish(title="Returns policy", body="Return unworn shoes within **30 days**."),
            "zh": await publish(title="退货政策", language="zh", body="收到商品三十天内可以申请退货。"),
        }
        await canned.save(admin, None, {"scope": "global", "shortcut": f"hi{t}", "title": "Greeting",
                                        "body": "Hi {visitor.name}, {agent.name} here. Let me help."})
    html = (f'<!doctype html><html lang="en"><title>Boot shop</title><main><h1>Boots</h1></main>'
            f'<script async src="{center.server.url}/widget.js" data-site="{site["key"]}"></script>').encode()
    with host_site(port, lambda _path: html) as url:
        yield {"url": url, "site": site, "csr": csr, "boss": boss, "articles": articles, "t": t,
               "base": center.server.url, "csr_name": f"Kai {t}"}


def help_view(page):
    return widget(page).get_by_role("region", name="Help")


async def self_serve(page, url: str, query: str, title: str) -> None:
    """Open the widget, search Help for `query` and read the article `title`."""
    await page.goto(url)
    await launcher(page).click()
    await widget(page).get_by_role("button", name="Help", exact=True).click()
    search = help_view(page).get_by_role("searchbox", name="Search help articles")
    await search.fill(query)
    await search.press("Enter")
    found = help_view(page).get_by_role("list", name="Help articles found").get_by_role("button", name=title)
    await found.click(timeout=TIMEOUT)
    await expect(help_view(page).get_by_role("heading", name=title)).to_be_visible(timeout=TIMEOUT)


async def test_self_service_then_a_chat_the_csr_answers_from_the_knowledge_base(center, shop, new_page):
    base = shop["base"]
    # The first visitor finds the answer and leaves without chatting.
    _, reader, reader_errors = await new_page()
    await self_serve(reader, shop["url"], "returns", "Returns policy")
    await expect(help_view(reader)).to_contain_text("30 days")

    # The CSR is ready; the second visitor searches in Chinese, reads, and asks for a chat.
    _, csr, csr_errors = await new_page(viewport={"width": 1400, "height": 900})
    await sign_in(csr, base, shop["csr"], center.password)
    await set_status(csr, "Available")
    _, asker, asker_errors = await new_page()
    await self_serve(asker, shop["url"], "退货", "退货政策")
    await help_view(asker).get_by_role("button", name="Chat with us").click()
    box = widget(asker).get_by_label("Message")
    await box.fill(QUESTION)
    await box.press("Enter")

    # The CSR takes it and sees what the visitor did before asking.
    await expect(chat_list(csr)).to_have_count(1, timeout=TIMEOUT)
    await chat_list(csr).first.click()
    before = sidebar(csr).get_by_role("region", name="Before the chat")
    await expect(before).to_contain_text("Searched: “退货”", timeout=TIMEOUT)
    await expect(before.get_by_role("listitem")).to_have_text(["退货政策"])

    # The matching article is suggested for the question; its link goes into the reply.
    suggested = csr.get_by_role("region", name="Knowledge").get_by_role("listitem", name="Returns policy", exact=True)
    await expect(suggested).to_be_visible(timeout=TIMEOUT)
    await suggested.get_by_role("button", name="Insert link").click()
    reply = csr.get_by_role("textbox", name="Message")
    article_url = f"{base}/help/{shop['site']['key']}/articles/{shop['articles']['returns']}-returns-policy"
    await expect(reply).to_have_value(article_url)
    await reply.press("Enter")
    await expect(widget_log(asker).get_by_text(article_url)).to_be_visible(timeout=TIMEOUT)

    # A canned response by its shortcut, the visitor's and the CSR's names filled in.
    await reply.press_sequentially(f"/hi{shop['t']}")
    choices = csr.get_by_role("listbox", name="Canned responses")
    await expect(choices.get_by_role("option")).to_have_count(1, timeout=TIMEOUT)
    await reply.press("Enter")
    greeting = f"Hi there, {shop['csr_name']} here. Let me help."
    await expect(reply).to_have_value(greeting)
    await expect(choices).to_be_hidden()
    await reply.press("Enter")
    await expect(widget_log(asker).get_by_text(greeting)).to_be_visible(timeout=TIMEOUT)

    # An hour later the first visitor has still not chatted: their session is deflected; the
    # second one's chat came from Help, so it is not.
    async with database(center):
        searched = await KnowledgeEvent.get(kind="search", query="returns", site_id=shop["site"]["id"])
        for event in await KnowledgeEvent.filter(visitor_id=searched.visitor_id):
            await KnowledgeEvent.filter(id=event.id).update(at=event.at - timedelta(hours=1))
    _, boss, boss_errors = await new_page(viewport={"width": 1400, "height": 1000})
    await sign_in(boss, base, shop["boss"], center.password)
    await boss.goto(f"{base}/reports")
    section = boss.get_by_role("region", name="Knowledge base")
    await expect(section.get_by_role("group", name="Self-service sessions")).to_contain_text("2", timeout=TIMEOUT)
    await expect(section.get_by_role("group", name="Deflection rate")).to_contain_text(re.compile(r"100"))
    await expect(section.get_by_role("group", name="Articles read")).to_contain_text("2")
    await expect(section.get_by_role("group", name="Canned responses used")).to_contain_text("1")
    assert reader_errors.errors == [] and csr_errors.errors == [] and asker_errors.errors == []
    assert boss_errors.errors == []
