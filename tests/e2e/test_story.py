"""The story, in two browser contexts: a visitor on the demo site and a CSR in the console.

Everything is selected by role and accessible name, as people find it, and every step waits on
what the person would see (never on time).
"""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.e2e.conftest import DEMO_AGENT, PageErrors
from tests.e2e.helpers import chat_list, launcher, set_status, sidebar, sign_in, transcript, widget, widget_log
from tests.e2e.recorders import RECORD_ALERTS

GREETING = "Hello from the demo page"
REPLY = "Hi! How can I help?"
PRICE = "Our plans start at €49"
MARKUP = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>'
COMEBACK = "I'm back with another question"
NAME = "Ada Lovelace"


async def type_and_press_enter(box, text: str) -> None:
    await box.fill(text)
    await box.press("Enter")


async def open_widget(page) -> None:
    """Open the chat panel unless the widget reopened it by itself (it remembers)."""
    await expect(launcher(page)).to_be_visible()
    if not await widget(page).is_visible():
        await launcher(page).click()
    await expect(widget(page)).to_be_visible()


async def test_visitor_and_csr_chat_across_pages_and_the_visitor_comes_back(demo_deployment, new_page):
    base = demo_deployment.server.url

    # 1. A visitor on the demo site opens the chat and writes; nobody is available yet.
    visitor_ctx, visitor, visitor_errors = await new_page(viewport={"width": 1100, "height": 800})
    await visitor.goto(base + "/demo/")
    await launcher(visitor).click()
    panel = widget(visitor)
    await expect(panel).to_be_visible()
    # Focus starts on the pre-chat form (its first field: the topic, when the site has topics),
    # which comes before the message box.
    await expect(panel.locator(":focus")).to_have_accessible_name(re.compile(r"^(Topic|Name)"))
    await panel.get_by_label(re.compile("^Name")).fill(NAME)  # the pre-chat fields are optional
    await type_and_press_enter(panel.get_by_label("Message"), GREETING)
    await expect(widget_log(visitor).get_by_text(GREETING, exact=True)).to_be_visible()
    await expect(panel.get_by_label("Message")).to_have_value("")
    await expect(widget_log(visitor)).not_to_contain_text("Sending…")  # stored by the server
    await expect(panel.get_by_text(re.compile(r"^You.re (next|number \d+) in line"))).to_be_visible()

    # 2. The CSR signs in, becomes Available, and the waiting chat is routed to them, with a
    #    desktop notification and a chime.
    agent_ctx, agent, agent_errors = await new_page(viewport={"width": 1280, "height": 800})
    await agent_ctx.grant_permissions(["notifications"], origin=base)
    await agent_ctx.add_init_script(RECORD_ALERTS)
    await sign_in(agent, base, DEMO_AGENT, demo_deployment.password)
    await expect(agent).to_have_url(base + "/console")
    await set_status(agent, "Available")
    chat = chat_list(agent).filter(has_text=NAME)
    await expect(chat).to_have_count(1)
    await agent.wait_for_function("window.__notifications.length > 0 && window.__tones > 0")
    notification = (await agent.evaluate("window.__notifications"))[0]
    assert notification["title"] == f"New chat from {NAME}", notification

    await chat.click()
    await expect(agent.get_by_role("heading", name=NAME)).to_be_visible()
    await expect(transcript(agent).get_by_text(GREETING, exact=True)).to_be_visible()
    visitor_card = sidebar(agent)
    await expect(visitor_card.get_by_text(re.compile(r"^(Headless)?Chrom(e|ium)\b"))).to_be_visible()
    await expect(visitor_card.get_by_text("Linux", exact=True)).to_be_visible()
    await expect(visitor_card.get_by_role("link", name=base + "/demo/", exact=True)).to_be_visible()
    await expect(panel.get_by_text(re.compile("You're chatting with Dana"))).to_be_visible()

    # 3. The CSR types (the visitor sees it) and replies.
    reply_box = agent.get_by_label("Message")
    await reply_box.press_sequentially("Hi! How can")
    typing = panel.get_by_text(re.compile("is typing"))
    await expect(typing).to_be_visible()
    await reply_box.press_sequentially(" I help?")
    await agent.get_by_role("button", name="Send").click()
    await expect(widget_log(visitor).get_by_text(REPLY, exact=True)).to_be_visible()
    await expect(typing).to_be_hidden()
    await expect(reply_box).to_have_value("")

    # 4. The visitor moves to another page: the conversation follows, in order.
    await visitor.goto(base + "/demo/pricing")
    await open_widget(visitor)
    panel = widget(visitor)
    await expect(widget_log(visitor)).to_contain_text(
        re.compile(re.escape(GREETING) + ".*" + re.escape(REPLY), re.DOTALL))
    await expect(visitor_card.get_by_role("link", name=base + "/demo/pricing", exact=True)).to_be_visible()

    # With the panel closed, a reply shows as an unread badge; opening the panel clears it.
    await panel.get_by_role("button", name="Minimize chat").click()
    await expect(panel).to_be_hidden()
    await type_and_press_enter(reply_box, PRICE)
    await expect(launcher(visitor)).to_have_accessible_name(re.compile(r"\b1 unread message"))
    await expect(launcher(visitor)).to_have_text("1", use_inner_text=True)
    await launcher(visitor).click()
    await expect(widget_log(visitor).get_by_text(PRICE, exact=True)).to_be_visible()
    await expect(launcher(visitor)).to_have_accessible_name("Close chat")
    await expect(launcher(visitor)).to_have_text("", use_inner_text=True)
    await expect(transcript(agent).get_by_text("Read", exact=True)).to_be_visible()  # the visitor has seen it

    # 5. Shift+Enter breaks the line and sends nothing; Enter sends both lines as one message.
    box = panel.get_by_label("Message")
    await box.press_sequentially("line one")
    await expect(agent.get_by_text("Visitor is typing…", exact=True)).to_be_visible()
    await box.press("Shift+Enter")
    await box.press_sequentially("line two")
    await expect(box).to_have_value("line one\nline two")
    await box.press("Enter")
    await expect(box).to_have_value("")
    two_lines = transcript(agent).get_by_role("article").filter(has_text="line one")
    await expect(two_lines).to_contain_text("line two")
    # Messages arrive in order: had Shift+Enter sent "line one", it would already be here too.
    assert await two_lines.count() == 1
    assert await two_lines.evaluate("m => m.querySelector('.msg-body').textContent") == "line one\nline two"

    # 6. Markup from a visitor is text on both sides, and none of it runs.
    await type_and_press_enter(box, MARKUP)
    await expect(widget_log(visitor).get_by_text(MARKUP, exact=True)).to_be_visible()
    await expect(transcript(agent).get_by_text(MARKUP, exact=True)).to_be_visible()
    for page in (visitor, agent):
        assert await page.locator("img[src='x'], script:text('__pwned')").count() == 0
        assert await page.evaluate("typeof window.__pwned") == "undefined"

    # 7. The CSR closes the chat; the visitor is told.
    await agent.get_by_role("button", name="Close chat").click()
    await expect(panel.get_by_text(re.compile("This chat has ended"))).to_be_visible()
    await expect(agent.get_by_role("main").get_by_text("Chat closed")).to_be_visible()
    await expect(reply_box).to_be_disabled()

    # 8. Later, the same browser (same localStorage) comes back on another page.
    await visitor.close()
    later = await visitor_ctx.new_page()
    later_errors = PageErrors(later)
    await later.goto(base + "/demo/support")
    await open_widget(later)
    earlier = widget(later).get_by_role("region", name="Earlier conversations")
    await expect(earlier.get_by_text(GREETING, exact=True)).to_be_visible()
    await expect(earlier.get_by_text(PRICE, exact=True)).to_be_visible()

    await type_and_press_enter(widget(later).get_by_label("Message"), COMEBACK)
    await expect(widget_log(later).get_by_text(COMEBACK, exact=True)).to_be_visible()
    new_chat = chat_list(agent).filter(has_text=NAME).filter(has_not_text="Chat closed")
    await expect(new_chat).to_have_count(1)
    await new_chat.click()
    await expect(transcript(agent).get_by_text(COMEBACK, exact=True)).to_be_visible()
    await expect(visitor_card.get_by_role("heading", name="Previous conversations")).to_be_visible()
    past = visitor_card.locator("details")
    await expect(past).to_have_count(1)
    await expect(past.get_by_text(GREETING, exact=True)).to_be_hidden()  # collapsed until asked
    await past.locator("summary").click()
    await expect(past.get_by_text(GREETING, exact=True)).to_be_visible()
    await expect(past.get_by_text(PRICE, exact=True)).to_be_visible()

    assert visitor_errors.errors == [] and later_errors.errors == [] and agent_errors.errors == []
