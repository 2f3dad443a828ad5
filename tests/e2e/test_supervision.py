"""The live board in Chromium: a supervisor watches queues and agents, monitors a chat, whispers
to its CSR (never to the visitor), barges in and takes the chat over."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.e2e.helpers import chat_list, launcher, set_status, sign_in, transcript, visitor_send, widget, widget_log
from tests.support.clients import new_id

WHISPER = "Offer free shipping, it is on me"


def board_table(page, name: str):
    return page.get_by_role("table", name=name)


def monitored(page):
    return page.get_by_role("log", name="Monitored transcript")


async def test_supervisor_monitors_whispers_barges_and_takes_over(demo, new_page):
    base = demo.server.url
    tag = new_id()[:6]
    demo.create_user(f"cleo-{tag}@example.com", "agent", f"Cleo {tag}")
    demo.create_user(f"sam-{tag}@example.com", "supervisor", f"Sam {tag}")
    _, cleo, cleo_errors = await new_page()
    _, sam, sam_errors = await new_page()
    _, visitor, visitor_errors = await new_page()
    frames: list[str] = []
    visitor.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(str(payload))))

    await sign_in(sam, base, f"sam-{tag}@example.com", demo.password)
    await sam.get_by_role("link", name="Live board").click()
    await expect(sam.get_by_text("Connected")).to_be_visible()
    # The demo deployment is shared by the e2e tests, which leave no chat waiting behind them.
    await expect(sam.get_by_text("No one is waiting.")).to_be_visible()

    # A visitor asks while no one is Available: the queue shows them, live.
    await visitor.goto(base + "/demo/")
    await launcher(visitor).click()
    await visitor_send(visitor, "Where is my parcel?")
    general = board_table(sam, "Queues").get_by_role("row").filter(has_text="General")
    await expect(general.get_by_role("cell").first).to_have_text("1")

    # A CSR becomes Available and gets the chat: the queue empties, the chat and the load show.
    await sign_in(cleo, base, f"cleo-{tag}@example.com", demo.password)
    await set_status(cleo, "Available")
    await expect(chat_list(cleo)).to_have_count(1)
    await expect(sam.get_by_text("No one is waiting.")).to_be_visible()
    cleo_row = board_table(sam, "Agents").get_by_role("row").filter(has_text=f"Cleo {tag}")
    await expect(cleo_row).to_contain_text("Available")
    await expect(cleo_row).to_contain_text("1 / 3")

    # Monitor: the transcript so far, then live.
    in_progress = sam.get_by_role("list", name="Chats in progress").get_by_role("listitem")
    await in_progress.filter(has_text=f"with Cleo {tag}").get_by_role("button", name=re.compile(r"^Monitor chat with ")).click()
    await expect(monitored(sam).get_by_text("Where is my parcel?")).to_be_visible()
    await visitor_send(visitor, "It was due on Monday")
    await expect(monitored(sam).get_by_text("It was due on Monday")).to_be_visible()

    # Whisper: the CSR sees it, the visitor never does.
    await chat_list(cleo).first.click()
    await sam.get_by_label("Whisper to agent").fill(WHISPER)
    await sam.get_by_role("button", name="Whisper").click()
    await expect(transcript(cleo).get_by_text(WHISPER)).to_be_visible()
    await expect(monitored(sam).get_by_text(WHISPER)).to_be_visible()

    # Barge in: the visitor sees the supervisor join and read their message.
    await sam.get_by_role("button", name="Barge in").click()
    await expect(widget_log(visitor).get_by_text(f"Sam {tag} joined the chat.")).to_be_visible()
    await sam.get_by_label("Message to the visitor").fill("I am the team lead, let me check.")
    await sam.get_by_label("Message to the visitor").press("Enter")
    await expect(widget_log(visitor).get_by_text("I am the team lead, let me check.")).to_be_visible()
    await expect(transcript(cleo).get_by_text("I am the team lead, let me check.")).to_be_visible()

    # Take over: the chat moves to the supervisor's console; the CSR's copy turns read-only.
    sam.once("dialog", lambda dialog: dialog.accept())
    await sam.get_by_role("button", name="Take over").click()
    await expect(sam.get_by_text("The chat is yours")).to_be_visible()
    await expect(cleo.get_by_label("Message")).to_be_disabled()
    await expect(sam.get_by_role("button", name="Take over")).to_be_disabled()
    await sam.get_by_role("link", name="Open the console").click()
    await expect(chat_list(sam)).to_have_count(1)

    # The whisper is nowhere on the visitor's side: not in the widget, not in any frame received.
    assert WHISPER not in await widget(visitor).inner_text()
    assert frames and not any(WHISPER in f for f in frames)
    assert visitor_errors.errors == [] and sam_errors.errors == [] and cleo_errors.errors == []
    await set_status(cleo, "Offline")


async def test_the_live_board_is_for_supervisors_only(demo, new_page, demo_agent_login):
    base = demo.server.url
    context, page, _ = await new_page(storage_state=demo_agent_login.storage_state)
    response = await page.goto(base + "/supervise")
    assert response.status == 403
    await expect(page.get_by_text("The live board is for supervisors and admins.")).to_be_visible()
    # The CSR's console offers no link to it.
    await page.goto(base + "/console")
    await expect(page.get_by_role("link", name="Live board")).to_have_count(0)
    await context.clear_cookies()
    await page.goto(base + "/supervise")
    await expect(page).to_have_url(re.compile(r"/login\?next=/supervise$"))
