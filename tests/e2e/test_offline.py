"""Nobody can chat in the chosen queue (outside its hours): the widget offers a note; a CSR of
that queue finds it in the console, replies by e-mail and marks it done."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from playwright.async_api import expect

from tests.e2e.helpers import launcher, set_status, sign_in, widget
from tests.support.clients import new_id
from tests.support.db import fetch
from tests.support.server import cli

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


async def test_a_visitor_leaves_a_note_and_a_csr_follows_it_up(demo, demo_site_key, new_page):
    base = demo.server.url
    tag = new_id()[:6]
    email = f"nia-{tag}@example.com"
    demo.create_user(email, "agent", f"Nia {tag}")
    tomorrow = DAYS[(datetime.now(timezone.utc).weekday() + 1) % 7]  # the demo center runs on UTC
    topic = f"Repairs {tag}"
    cli(demo.env, "create-department", "--site", demo_site_key, "--name", topic, "--member", email,
        "--hours", f"{tomorrow} 09:00-17:00", "--json")

    _, csr, csr_errors = await new_page()
    await sign_in(csr, base, email, demo.password)
    await set_status(csr, "Available")  # signed in and Available, but the queue is closed today

    _, visitor, visitor_errors = await new_page()
    await visitor.goto(base + "/demo/support")
    await launcher(visitor).click()
    panel = widget(visitor)
    await panel.get_by_label("Topic").select_option(label=topic)
    await expect(panel.get_by_text("Nobody can chat right now")).to_be_visible()
    await panel.get_by_role("button", name="Leave a note instead").click()
    await panel.get_by_label("Your email").fill("not an address")
    await panel.get_by_label("How can we help?").fill("My stove <b>leaks</b> gas at the valve")
    await panel.get_by_role("button", name="Send to the team").click()
    await expect(panel.get_by_role("alert")).to_have_text(re.compile("valid|email", re.IGNORECASE))
    await panel.get_by_label("Your email").fill("camper@example.org")
    await panel.get_by_role("button", name="Send to the team").click()
    await expect(panel.get_by_text("Thanks! We'll reply to camper@example.org.")).to_be_visible()

    note = csr.get_by_role("listitem", name="Note from camper@example.org")
    await expect(note).to_contain_text("My stove <b>leaks</b> gas at the valve")
    # The note is a work order: answered from its thread, not by a mail outside it.
    order = note.get_by_role("link", name=re.compile(r"^Open WO-\d{4}-\d{6}$"))
    await expect(order).to_have_attribute("href", re.compile(r"^/work-orders/\d+$"))
    number = (await order.text_content()).removeprefix("Open ")
    await note.get_by_role("button", name=re.compile("^Done with the note from")).click()
    await expect(note).to_have_count(0)
    # Done: the order is resolved too, and the customer is told.
    rows = await fetch(demo, "SELECT status, source, customer_email FROM work_order WHERE number = ?", number)
    assert rows == [{"status": "resolved", "source": "offline_note", "customer_email": "camper@example.org"}]
    assert csr_errors.errors == [] and visitor_errors.errors == []
    await set_status(csr, "Offline")


async def test_after_a_long_wait_the_visitor_may_leave_a_note_instead(demo, demo_site_key, new_page):
    base = demo.server.url
    tag = new_id()[:6]
    email = f"lia-{tag}@example.com"
    demo.create_user(email, "agent", f"Lia {tag}")
    topic = f"Warranty {tag}"
    cli(demo.env, "create-department", "--site", demo_site_key, "--name", topic, "--member", email,
        "--max-wait-seconds", "5", "--json")
    _, visitor, errors = await new_page()
    await visitor.goto(base + "/demo/")
    await launcher(visitor).click()
    panel = widget(visitor)
    await panel.get_by_label("Topic").select_option(label=topic)
    await panel.get_by_label("Message").fill("Is my tent still under warranty?")
    await panel.get_by_label("Message").press("Enter")
    await expect(panel.get_by_text(re.compile(r"^You're next in line"))).to_be_visible()
    # Nobody takes it: after the queue's maximum wait the widget offers a note.
    await expect(panel.get_by_text("Sorry for the wait.", exact=False)).to_be_visible(timeout=15_000)
    await panel.get_by_role("button", name="Leave a note instead").click()
    await panel.get_by_label("Your email").fill("hiker@example.org")
    await panel.get_by_label("How can we help?").fill("Bought it in 2024, order 5531")
    await panel.get_by_role("button", name="Send to the team").click()
    await expect(panel.get_by_text("Thanks! We'll reply to hiker@example.org.")).to_be_visible()
    # The chat left in the queue ended (abandoned); an unanswered chat is not offered for rating.
    await expect(panel.get_by_text("This chat has ended.", exact=False)).to_be_visible()
    await expect(panel.get_by_role("group", name="Rate this chat")).to_be_hidden()
    assert errors.errors == []
