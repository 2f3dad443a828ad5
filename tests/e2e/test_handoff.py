"""Transfer with a note between two CSRs in their own browsers, the visitor in a third."""

from __future__ import annotations

from playwright.async_api import expect

from tests.e2e.helpers import chat_list, launcher, set_status, sign_in, transcript, visitor_send, widget, widget_log
from tests.support.clients import new_id

NOTE = "VIP customer, refund already approved"


async def test_transfer_with_note_reaches_the_colleague_and_never_the_visitor(demo, new_page):
    base = demo.server.url
    tag = new_id()[:6]
    demo.create_user(f"ana-{tag}@example.com", "agent", f"Ana {tag}")
    demo.create_user(f"ben-{tag}@example.com", "agent", f"Ben {tag}")
    _, ana, _ = await new_page()
    _, ben, _ = await new_page()
    _, visitor, visitor_errors = await new_page()
    frames: list[str] = []
    visitor.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(str(payload))))

    await sign_in(ana, base, f"ana-{tag}@example.com", demo.password)
    await set_status(ana, "Available")
    await visitor.goto(base + "/demo/")
    await launcher(visitor).click()
    await visitor_send(visitor, "My order never arrived")
    await expect(chat_list(ana)).to_have_count(1)
    await chat_list(ana).first.click()
    await expect(transcript(ana).get_by_text("My order never arrived")).to_be_visible()

    await sign_in(ben, base, f"ben-{tag}@example.com", demo.password)
    await set_status(ben, "Available")

    await ana.get_by_role("button", name="Transfer").click()
    dialog = ana.get_by_role("dialog", name="Transfer chat")
    await expect(dialog).to_be_visible()
    await dialog.get_by_role("radio", name=f"Ben {tag}").check()
    await dialog.get_by_label("Note for the receiver (only staff see it)").fill(NOTE)
    await dialog.get_by_role("button", name="Transfer").click()
    await expect(dialog).to_be_hidden()

    # Ben gets the chat with the whole transcript and the note.
    await expect(chat_list(ben)).to_have_count(1)
    await chat_list(ben).first.click()
    await expect(transcript(ben).get_by_text("My order never arrived")).to_be_visible()
    await expect(transcript(ben).get_by_text(NOTE)).to_be_visible()
    # The visitor sees who joined and keeps the conversation; Ana's copy becomes read-only.
    await expect(widget_log(visitor).get_by_text(f"Ben {tag} joined the chat.")).to_be_visible()
    await expect(widget(visitor).get_by_text(f"You're chatting with Ben {tag}")).to_be_visible()
    await expect(ana.get_by_label("Message")).to_be_disabled()

    await ben.get_by_label("Message").fill("I've sent a replacement today.")
    await ben.get_by_label("Message").press("Enter")
    await expect(widget_log(visitor).get_by_text("I've sent a replacement today.")).to_be_visible()
    await expect(widget_log(visitor).get_by_text("My order never arrived")).to_be_visible()

    # The note is nowhere on the visitor's side: not on the page, not in any frame received.
    assert NOTE not in await visitor.content()
    assert NOTE not in await widget(visitor).inner_text()
    assert frames and not any(NOTE in f for f in frames)
    assert visitor_errors.errors == []
    await ben.get_by_role("button", name="Close chat").click()
    await expect(widget_log(visitor).get_by_text("The chat was closed.")).to_be_visible()
    for page in (ana, ben):
        await set_status(page, "Offline")
