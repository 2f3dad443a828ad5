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
    # CSRs with their state and load, and the departments with their queues.
    await expect(dialog.locator("label", has_text=f"Ben {tag}")).to_contain_text("Available · 0/3 chats")
    await expect(dialog.get_by_role("heading", name="Departments")).to_be_visible()
    await expect(dialog.locator("label", has_text="waiting").first).to_be_visible()
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


async def test_warm_transfer_both_csrs_stay_until_the_first_leaves(demo, new_page):
    base = demo.server.url
    tag = new_id()[:6]
    demo.create_user(f"cara-{tag}@example.com", "agent", f"Cara {tag}")
    demo.create_user(f"dev-{tag}@example.com", "agent", f"Dev {tag}")
    _, cara, _ = await new_page()
    _, dev, dev_errors = await new_page()
    _, visitor, _ = await new_page()
    await sign_in(cara, base, f"cara-{tag}@example.com", demo.password)
    await set_status(cara, "Available")
    await visitor.goto(base + "/demo/")
    await launcher(visitor).click()
    await visitor_send(visitor, "I need to change my delivery address")
    await expect(chat_list(cara)).to_have_count(1)
    await chat_list(cara).first.click()
    await sign_in(dev, base, f"dev-{tag}@example.com", demo.password)
    await set_status(dev, "Available")

    await cara.get_by_role("button", name="Transfer").click()
    dialog = cara.get_by_role("dialog", name="Transfer chat")
    await dialog.get_by_role("radio", name=f"Dev {tag}").check()
    await dialog.get_by_label("Warm transfer").check()
    await dialog.get_by_role("button", name="Transfer").click()
    await expect(dialog).to_be_hidden()

    # Dev joins; both are in the chat and both can write.
    await expect(widget_log(visitor).get_by_text(f"Dev {tag} joined the chat.")).to_be_visible()
    await expect(chat_list(dev)).to_have_count(1)
    await chat_list(dev).first.click()
    await dev.get_by_label("Message").fill("Hi, I can change that for you.")
    await dev.get_by_label("Message").press("Enter")
    await expect(widget_log(visitor).get_by_text("Hi, I can change that for you.")).to_be_visible()
    await expect(cara.get_by_label("Message")).to_be_enabled()

    # Cara leaves: the chat is Dev's; Cara's copy turns read-only.
    await cara.get_by_role("button", name="Leave chat").click()
    await expect(widget_log(visitor).get_by_text(f"Cara {tag} left the chat.")).to_be_visible()
    await expect(cara.get_by_label("Message")).to_be_disabled()
    await expect(dev.get_by_role("button", name="Leave chat")).to_be_hidden()
    await dev.get_by_role("button", name="Close chat").click()
    await expect(widget_log(visitor).get_by_text("The chat was closed.")).to_be_visible()
    assert dev_errors.errors == []
    for page in (cara, dev):
        await set_status(page, "Offline")
