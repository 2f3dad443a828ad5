"""The wallboard in Chromium: it follows a chat from the queue to a CSR without reloading, keeps
its clocks moving, fits a wall screen without scrolling, and is for supervisors only."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.e2e.helpers import chat_list, launcher, set_status, sign_in, visitor_send
from tests.support.clients import new_id


def tile(page, name: str):
    """The figure of a wallboard tile ("Waiting", "Longest wait", ...)."""
    return page.get_by_role("region", name=name, exact=True).get_by_role("status")


def panel(page, name: str):
    return page.get_by_role("list", name=name, exact=True)


async def fits_without_scrolling(page) -> bool:
    return await page.evaluate(
        "() => document.documentElement.scrollHeight <= window.innerHeight"
        " && document.documentElement.scrollWidth <= window.innerWidth"
    )


async def test_the_wallboard_follows_a_chat_live(demo, new_page):
    base = demo.server.url
    tag = new_id()[:6]
    demo.create_user(f"wanda-{tag}@example.com", "supervisor", f"Wanda {tag}")
    demo.create_user(f"cleo-{tag}@example.com", "agent", f"Cleo {tag}")
    _, board, board_errors = await new_page(viewport={"width": 1920, "height": 1080})
    _, cleo, cleo_errors = await new_page()
    _, visitor, visitor_errors = await new_page()

    await sign_in(board, base, f"wanda-{tag}@example.com", demo.password)
    await board.goto(base + "/wallboard")
    await expect(board.get_by_text("Live", exact=True)).to_be_visible()
    await expect(board.get_by_text("Loading the wallboard…")).to_be_hidden()
    await expect(tile(board, "Waiting")).to_have_text("0")
    await expect(board.get_by_text("No one is waiting.")).to_be_visible()
    await expect(tile(board, "Longest wait")).to_have_text("—")
    await expect(tile(board, "Service level today")).to_have_text(re.compile(r"^(\d+%|—)$"))
    assert await fits_without_scrolling(board)

    # A visitor asks while no one is Available: the queue shows them without a reload, and the
    # longest wait ticks on the screen's own clock.
    await visitor.goto(base + "/demo/")
    await launcher(visitor).click()
    await visitor_send(visitor, "Do you have the tent in green?")
    await expect(tile(board, "Waiting")).to_have_text("1")
    general = panel(board, "Queues").get_by_role("listitem").filter(has_text="General")
    await expect(general).to_contain_text("1 waiting")
    await expect(tile(board, "Longest wait")).to_have_text(re.compile(r"^\d+:\d\d$"))
    shown = await tile(board, "Longest wait").text_content()
    await expect(tile(board, "Longest wait")).not_to_have_text(shown, timeout=5000)

    # A CSR goes Available and gets the chat: the queue empties; the chat and the CSR's load show.
    await sign_in(cleo, base, f"cleo-{tag}@example.com", demo.password)
    await set_status(cleo, "Available")
    await expect(chat_list(cleo)).to_have_count(1)
    await expect(tile(board, "Waiting")).to_have_text("0")
    await expect(tile(board, "Longest wait")).to_have_text("—")
    chat = panel(board, "Chats in progress").get_by_role("listitem").filter(has_text=f"with Cleo {tag}")
    await expect(chat).to_have_count(1)
    await expect(chat).to_contain_text(re.compile(r"\d+:\d\d"))
    cleo_row = panel(board, "Agents").get_by_role("listitem").filter(has_text=f"Cleo {tag}")
    await expect(cleo_row).to_contain_text("Available")
    await expect(cleo_row).to_contain_text("1 / 3")
    await expect(tile(board, "Answered")).not_to_have_text("0")
    assert await fits_without_scrolling(board)

    # The same board on a smaller screen still needs no scrolling.
    await board.set_viewport_size({"width": 1280, "height": 720})
    await expect(cleo_row).to_be_visible()
    assert await fits_without_scrolling(board)

    # The connection drops: the screen says so, then comes back by itself.
    await board.context.set_offline(True)
    await expect(board.get_by_text("Reconnecting…", exact=True)).to_be_visible(timeout=30000)
    await expect(board.get_by_role("alert")).to_have_text("Reconnecting… the figures may be out of date.")
    await board.context.set_offline(False)
    await expect(board.get_by_text("Live", exact=True)).to_be_visible(timeout=30000)
    await expect(board.get_by_role("alert")).to_be_hidden()
    await expect(cleo_row).to_contain_text("1 / 3")

    assert board_errors.errors == [] and cleo_errors.errors == [] and visitor_errors.errors == []
    # The chat ends here: left open on the shared demo deployment, it would go to another test's CSR.
    await chat_list(cleo).filter(has_text="Do you have the tent in green?").click()
    await cleo.get_by_role("button", name="Close chat").click()
    await expect(chat_list(cleo).filter(has_text="Do you have the tent in green?")).to_contain_text("Chat closed")
    await set_status(cleo, "Offline")


async def test_the_wallboard_is_for_supervisors_only(demo, new_page, demo_agent_login):
    base = demo.server.url
    context, page, _ = await new_page(storage_state=demo_agent_login.storage_state)
    response = await page.goto(base + "/wallboard")
    assert response.status == 403
    await expect(page.get_by_text("The wallboard is for supervisors and admins.")).to_be_visible()
    await context.clear_cookies()
    await page.goto(base + "/wallboard")
    await expect(page).to_have_url(re.compile(r"/login\?next=/wallboard$"))
