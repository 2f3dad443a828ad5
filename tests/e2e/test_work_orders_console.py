"""Work orders from the agent console and the widget, in Chromium.

A CSR files a work order from a chat ("Create work order": pre-filled from the chat), finds it in
the toast and in the visitor's sidebar, and opens it; the visitor comes back later and finds it
under "Your requests" in the widget, with a link to its status page. Closing a chat of a department
that requires a contact category asks for one ("What was this contact about?"), remembering the
recent choices. A note left through the widget's offline form is a work order too, linked from the
console's Notes list. The Visitors profile lists a visitor's work orders.

The deployment is this module's own (its CSRs are Available, and every Available CSR serves every
site's general queue), with the demo site seeded: its pages embed the widget.
"""

from __future__ import annotations

import json
import re

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.e2e.conftest import own_deployment
from tests.e2e.helpers import chat_list, launcher, set_status, sidebar, sign_in, transcript, visitor_send, widget
from tests.support import clients
from tests.support.clients import new_id
from tests.support.db import fetch
from tests.support.server import cli

TIMEOUT = 20_000
NUMBER = re.compile(r"WO-\d{4}-\d{6}")
CATEGORY = "Complaint › Delivery"  # the demo's taxonomy (and `work-setup --category "Complaint/Delivery"`)


@pytest.fixture(scope="module")
def center(request):
    yield from own_deployment(request, "work-orders-console", seed_demo=True)


@pytest.fixture(scope="module")
def world(center) -> dict:
    """Two CSRs (one for the general queue, one for a classifying department), a back-office
    handling team and the category; the demo site's key."""
    t = new_id()[:6]
    w = {"t": t, "base": center.server.url, "csr": f"gina-{t}@example.com", "csr2": f"cleo-{t}@example.com",
         "hal": f"hal-{t}@example.com", "team": f"Deliveries {t}"}
    center.create_user(w["csr"], "agent", f"Gina {t}")
    center.create_user(w["csr2"], "agent", f"Cleo {t}")
    center.create_user(w["hal"], "handler", f"Hal {t}")
    setup = json.loads(cli(center.env, "work-setup", "--team", w["team"], "--members", w["hal"],
                           "--category", "Complaint/Delivery", "--json"))
    w["category_id"] = next(c["id"] for c in setup["categories"] if c["path"] == CATEGORY)
    page = httpx.get(w["base"] + "/demo/").text
    w["site_key"] = re.search(r'<script[^>]+src="[^"]*/widget\.js"[^>]+data-site="([^"]+)"', page).group(1)
    return w


@pytest.fixture(scope="module")
async def signed_in(browser, center, world) -> dict[str, dict]:
    """Each CSR signed in once (sign-in is throttled per e-mail): storage states for new contexts."""
    states = {}
    for key in ("csr", "csr2"):
        context = await browser.new_context()
        try:
            page = await context.new_page()
            await sign_in(page, world["base"], world[key], center.password)
            states[key] = await context.storage_state()
        finally:
            await context.close()
    return states


# ---- what a person does --------------------------------------------------------------------------


async def open_console(new_page, state: dict, base: str):
    context, page, errors = await new_page(storage_state=state, viewport={"width": 1400, "height": 900})
    await page.goto(base + "/console")
    await expect(page.get_by_role("status").filter(has_text="Connected")).to_be_visible(timeout=TIMEOUT)
    await expect(page.get_by_label("Status")).to_be_enabled()
    return context, page, errors


async def open_widget(page: Page) -> None:
    """Open the chat panel unless the widget reopened it by itself (it remembers)."""
    await expect(launcher(page)).to_be_visible(timeout=TIMEOUT)
    if not await widget(page).is_visible():
        await launcher(page).click()
    await expect(widget(page)).to_be_visible()


def fact(page: Page, label: str):
    """The value of `label` in a work order's Details."""
    return page.locator("#facts dt", has_text=re.compile("^" + re.escape(label) + "$")).locator(
        "xpath=following-sibling::dd[1]")


def no_page_errors(*errors) -> None:
    for e in errors:
        assert not e.errors, e.errors


# ---- the stories -----------------------------------------------------------------------------------


async def test_a_csr_files_a_work_order_from_a_chat_and_the_visitor_finds_it_later(center, world, signed_in,
                                                                                   new_page):
    w, t, base = world, world["t"], world["base"]
    name, email = f"Noor {t}", f"noor-{t}@example.org"
    first, last = f"My parcel {t} never arrived", f"Order 55{t} was sent two weeks ago"

    # The visitor chats from the demo page, with their name and e-mail.
    visitor_ctx, visitor, visitor_errors = await new_page()
    await visitor.goto(base + "/demo/")
    await launcher(visitor).click()
    panel = widget(visitor)
    await panel.get_by_label(re.compile("^Name")).fill(name)
    await panel.get_by_label(re.compile("^Email")).fill(email)
    await visitor_send(visitor, first)
    await expect(panel.get_by_role("log").get_by_text(first, exact=True)).to_be_visible()
    await visitor_send(visitor, last)
    await expect(panel.get_by_role("log").get_by_text(last, exact=True)).to_be_visible()

    # The CSR takes it.
    _, csr, csr_errors = await open_console(new_page, signed_in["csr"], base)
    await set_status(csr, "Available")
    chat = chat_list(csr).filter(has_text=name)
    await expect(chat).to_have_count(1, timeout=TIMEOUT)
    await chat.click()
    await expect(transcript(csr).get_by_text(last, exact=True)).to_be_visible(timeout=TIMEOUT)
    orders = sidebar(csr).get_by_role("region", name="Work orders")
    await expect(orders).to_contain_text("No open work orders", timeout=TIMEOUT)

    # "Create work order": pre-filled from the chat.
    opener = csr.get_by_role("button", name="Create work order")
    await opener.click()
    dialog = csr.get_by_role("dialog", name="Create work order")
    await expect(dialog).to_be_visible()
    description = dialog.get_by_label("Description")
    await expect(description).to_have_value(re.compile(re.escape(last)), timeout=TIMEOUT)
    await expect(description).to_have_value(f"{first}\n{last}")
    await expect(dialog.get_by_label("Subject")).to_have_value(last)
    await expect(dialog.get_by_label("Subject")).to_be_focused()
    await expect(dialog.get_by_label("Customer name")).to_have_value(name)
    await expect(dialog.get_by_label("E-mail")).to_have_value(email)
    await dialog.get_by_label("Category").select_option(label=CATEGORY)
    await dialog.get_by_label("Priority").select_option(label="High")
    await dialog.get_by_label("Team").select_option(label=w["team"])
    await dialog.get_by_role("button", name="Create work order").click()
    await expect(dialog).to_be_hidden(timeout=TIMEOUT)

    # The toast links the new order; the sidebar lists it.
    toast_link = csr.get_by_role("link", name=re.compile(r"^Open WO-\d{4}-\d{6}$"))
    await expect(toast_link).to_be_visible()
    number = NUMBER.search(await toast_link.text_content()).group(0)
    href = await toast_link.get_attribute("href")
    assert re.fullmatch(r"/work-orders/\d+", href), href
    listed = orders.get_by_role("link", name=f"{number} · {last}", exact=True)
    await expect(listed).to_be_visible(timeout=TIMEOUT)
    await expect(listed).to_have_attribute("href", href)
    await expect(orders.get_by_role("listitem").filter(
        has=csr.get_by_role("link", name=f"{number} · {last}", exact=True))).to_contain_text(" — Assigned")

    # Opened again and cancelled (or escaped): nothing made, the focus back on the button.
    await opener.click()
    await expect(dialog.get_by_role("button", name="Cancel")).to_be_visible(timeout=TIMEOUT)
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_be_hidden()
    await expect(opener).to_be_focused()
    await opener.click()
    await expect(dialog.get_by_label("Subject")).to_be_focused(timeout=TIMEOUT)
    await csr.keyboard.press("Escape")
    await expect(dialog).to_have_count(0)
    await expect(opener).to_be_focused()
    rows = await fetch(center, "SELECT id, source, status, visitor_id FROM work_order WHERE number = ?", number)
    assert len(rows) == 1 and rows[0]["source"] == "chat" and rows[0]["status"] == "assigned", rows
    assert (await fetch(center, "SELECT count(*) AS n FROM work_order WHERE visitor_id = ?",
                        rows[0]["visitor_id"]))[0]["n"] == 1
    conversation = (await fetch(center, "SELECT id FROM conversation WHERE visitor_id = ?", rows[0]["visitor_id"]))
    assert len(conversation) == 1, conversation
    conversation_id = conversation[0]["id"]

    # The chat ends; the CSR follows the link to the order: its source, the chat, the customer.
    await csr.get_by_role("button", name="Close chat").click()
    await expect(csr.get_by_role("main").get_by_text("Chat closed")).to_be_visible(timeout=TIMEOUT)
    await expect(panel.get_by_text(re.compile("This chat has ended"))).to_be_visible(timeout=TIMEOUT)
    await set_status(csr, "Offline")
    await expect(csr.get_by_label("Status")).to_have_value("offline")
    await listed.click()
    await expect(csr).to_have_url(base + href, timeout=TIMEOUT)
    await expect(csr.get_by_role("heading", level=1)).to_contain_text(number, timeout=TIMEOUT)
    await expect(csr.get_by_role("heading", level=1)).to_contain_text(last)
    await expect(fact(csr, "Source")).to_have_text("Chat")
    chat_link = fact(csr, "Conversations").get_by_role("link", name=f"Conversation {conversation_id}", exact=True)
    await expect(chat_link).to_have_attribute("href", f"/console?conversation={conversation_id}")
    await expect(fact(csr, "Customer")).to_contain_text(name)
    await expect(fact(csr, "Customer")).to_contain_text(email)
    await expect(fact(csr, "Category")).to_have_text(CATEGORY)
    await expect(fact(csr, "Team")).to_have_text(w["team"])
    await expect(fact(csr, "Priority")).to_have_text("High")
    await expect(fact(csr, "Status")).to_have_text("Assigned")

    # Later, the same browser loads the widget again: "Your requests", with the order's status.
    await visitor.close()
    later = await visitor_ctx.new_page()
    later_errors = []
    later.on("pageerror", lambda exc: later_errors.append(str(exc)))
    await later.goto(base + "/demo/support")
    await open_widget(later)
    requests = widget(later).get_by_role("region", name="Your requests")
    link = requests.get_by_role("link", name=f"{number} · {last}", exact=True)
    await expect(link).to_be_visible(timeout=TIMEOUT)
    await expect(requests.get_by_role("listitem")).to_have_text([f"{number} · {last} — Being handled"])
    await expect(link).to_have_attribute("target", "_blank")
    async with visitor_ctx.expect_page() as opened:
        await link.click()
    status_page = await opened.value
    await status_page.wait_for_load_state()
    await expect(status_page).to_have_url(re.compile(r"/requests/[0-9]+\.[0-9a-f]+$"))
    await expect(status_page.get_by_role("heading", level=1)).to_have_text(last)
    await expect(status_page.get_by_text(number)).to_be_visible()
    await expect(status_page.get_by_text("Assigned", exact=True)).to_be_visible()

    # The Visitors view: the visitor (on the site now) and their work orders in the profile.
    await csr.goto(base + "/visitors")
    await expect(csr.get_by_text("Loading visitors…")).to_be_hidden(timeout=TIMEOUT)
    await csr.get_by_role("button", name=f"Profile of {name}", exact=True).click()
    profile = csr.get_by_role("complementary", name="Visitor profile")
    section = profile.locator("section").filter(has=csr.get_by_role("heading", name="Work orders", exact=True))
    await expect(section.get_by_role("link", name=f"{number} · {last}", exact=True)).to_have_attribute(
        "href", href, timeout=TIMEOUT)
    await expect(section).to_contain_text(" — Assigned")
    no_page_errors(visitor_errors, csr_errors)
    assert later_errors == []


async def test_closing_a_chat_of_a_classifying_department_asks_what_it_was_about(center, world, signed_in, new_page):
    w, t, base = world, world["t"], world["base"]
    topic = f"Claims {t}"
    department = json.loads(cli(center.env, "create-department", "--site", w["site_key"], "--name", topic,
                                "--member", w["csr2"], "--classification", "required", "--json"))
    question = f"Where is my refund {t}?"

    _, csr, csr_errors = await open_console(new_page, signed_in["csr2"], base)
    await set_status(csr, "Available")
    try:
        _, visitor, visitor_errors = await new_page()
        await visitor.goto(base + "/demo/")
        await launcher(visitor).click()
        panel = widget(visitor)
        await panel.get_by_label("Topic").select_option(label=topic)
        await visitor_send(visitor, question)

        chat = chat_list(csr).filter(has_text=question)
        await expect(chat).to_have_count(1, timeout=TIMEOUT)
        await chat.click()
        await expect(transcript(csr).get_by_text(question, exact=True)).to_be_visible(timeout=TIMEOUT)

        close = csr.get_by_role("button", name="Close chat")
        dialog = csr.get_by_role("dialog", name="What was this contact about?")
        category = dialog.get_by_label("Category")

        # Escape, then Cancel: the chat stays open, the focus on "Close chat".
        await close.click()
        await expect(dialog).to_be_visible(timeout=TIMEOUT)
        await expect(category).to_be_focused()
        await csr.keyboard.press("Escape")
        await expect(dialog).to_have_count(0)
        await expect(close).to_be_focused()
        await close.click()
        await expect(dialog).to_be_visible(timeout=TIMEOUT)
        await dialog.get_by_role("button", name="Cancel").click()
        await expect(dialog).to_have_count(0)
        await expect(close).to_be_focused()
        await expect(csr.get_by_label("Message")).to_be_enabled()
        await expect(csr.get_by_role("main").get_by_text("Chat closed")).to_have_count(0)
        rows = await fetch(center, "SELECT id, status, category_id FROM conversation WHERE department_id = ?",
                           department["id"])
        assert len(rows) == 1 and rows[0]["status"] != "closed" and rows[0]["category_id"] is None, rows
        first_id = rows[0]["id"]

        # Required: nothing chosen is refused in the dialog; a category closes the chat.
        await close.click()
        await expect(dialog).to_be_visible(timeout=TIMEOUT)
        await expect(category.locator("optgroup[label='Recent']")).to_have_count(0)  # nothing chosen here yet
        await dialog.get_by_role("button", name="Close chat").click()
        await expect(dialog.get_by_role("alert")).to_have_text("Choose a category.")
        await expect(dialog).to_be_visible()
        await expect(category).to_be_focused()
        await category.select_option(label=CATEGORY)
        await dialog.get_by_role("button", name="Close chat").click()
        await expect(dialog).to_have_count(0)
        await expect(csr.get_by_role("main").get_by_text("Chat closed")).to_be_visible(timeout=TIMEOUT)
        await expect(panel.get_by_text(re.compile("This chat has ended"))).to_be_visible(timeout=TIMEOUT)
        rows = await fetch(center, "SELECT status, category_id FROM conversation WHERE id = ?", first_id)
        assert rows == [{"status": "closed", "category_id": w["category_id"]}], rows

        # A second chat of the department: the category chosen last comes first, under "Recent".
        again = f"And my second parcel {t}?"
        other = await clients.visitor(base, w["site_key"], origin=base)
        try:
            ack = await other.call("message", {"client_id": new_id(), "body": again, "department_id": department["id"]})
            assert ack["ok"], ack
            second = chat_list(csr).filter(has_text=again)
            await expect(second).to_have_count(1, timeout=TIMEOUT)
            await second.click()
            await expect(transcript(csr).get_by_text(again, exact=True)).to_be_visible(timeout=TIMEOUT)
            await close.click()
            await expect(dialog).to_be_visible(timeout=TIMEOUT)
            await expect(category.locator("optgroup[label='Recent'] option")).to_have_text([CATEGORY])
            await category.select_option(value=str(w["category_id"]))
            await dialog.get_by_role("button", name="Close chat").click()
            await expect(dialog).to_have_count(0)
            await expect(csr.get_by_role("main").get_by_text("Chat closed")).to_be_visible(timeout=TIMEOUT)
            rows = await fetch(center, "SELECT status, category_id FROM conversation WHERE id = ?", ack["conversation_id"])
            assert rows == [{"status": "closed", "category_id": w["category_id"]}], rows
        finally:
            await other.disconnect()
    finally:  # the next tests need nobody Available
        await set_status(csr, "Offline")
    await expect(csr.get_by_label("Status")).to_have_value("offline")
    no_page_errors(csr_errors, visitor_errors)


async def test_an_offline_note_is_a_work_order_in_the_notes_and_the_visitor_profile(center, world, signed_in,
                                                                                   new_page):
    t, base = world["t"], world["base"]
    name, email = f"Omar {t}", f"omar-{t}@example.org"
    body = f"The zip of my tent {t} broke\nBought in May, order 77{t}"
    subject = f"The zip of my tent {t} broke"

    # Nobody is Available: the widget offers a note.
    _, csr, csr_errors = await open_console(new_page, signed_in["csr"], base)
    await expect(csr.get_by_label("Status")).to_have_value("offline")
    visitor_ctx, visitor, visitor_errors = await new_page()
    await visitor.goto(base + "/demo/")
    await launcher(visitor).click()
    panel = widget(visitor)
    await expect(panel.get_by_text("Nobody can chat right now", exact=False)).to_be_visible(timeout=TIMEOUT)
    await panel.get_by_role("button", name="Leave a note instead").click()
    await panel.get_by_label("Your name (optional)").fill(name)
    await panel.get_by_label("Your email").fill(email)
    await panel.get_by_label("How can we help?").fill(body)
    await panel.get_by_role("button", name="Send to the team").click()
    await expect(panel.get_by_text(f"Thanks! We'll reply to {email}.")).to_be_visible(timeout=TIMEOUT)

    # The console's Notes list links the note's work order.
    note = csr.get_by_role("listitem", name=f"Note from {name}")
    await expect(note).to_contain_text(f"The zip of my tent {t} broke", timeout=TIMEOUT)
    order_link = note.get_by_role("link", name=re.compile(r"^Open WO-\d{4}-\d{6}$"))
    await expect(order_link).to_be_visible()
    number = NUMBER.search(await order_link.text_content()).group(0)
    href = await order_link.get_attribute("href")
    rows = await fetch(center, "SELECT w.id, w.source, o.email FROM work_order w "
                               "JOIN offline_message o ON o.id = w.offline_message_id WHERE w.number = ?", number)
    assert rows == [{"id": int(href.rsplit("/", 1)[1]), "source": "offline_note", "email": email}], rows
    await order_link.click()
    await expect(csr).to_have_url(base + href, timeout=TIMEOUT)
    await expect(csr.get_by_role("heading", level=1)).to_contain_text(number, timeout=TIMEOUT)
    await expect(csr.get_by_role("heading", level=1)).to_contain_text(subject)
    await expect(fact(csr, "Source")).to_have_text("Offline note")
    await expect(fact(csr, "Customer")).to_contain_text(email)
    await expect(csr.get_by_text("Bought in May", exact=False).first).to_be_visible()

    # The Visitors view: the visitor's profile lists the order.
    await csr.goto(base + "/visitors")
    await expect(csr.get_by_text("Loading visitors…")).to_be_hidden(timeout=TIMEOUT)
    await csr.get_by_role("button", name=f"Profile of {name}", exact=True).click()
    profile = csr.get_by_role("complementary", name="Visitor profile")
    section = profile.locator("section").filter(has=csr.get_by_role("heading", name="Work orders", exact=True))
    await expect(section.get_by_role("link", name=f"{number} · {subject}", exact=True)).to_have_attribute(
        "href", href, timeout=TIMEOUT)
    await expect(section).to_contain_text(" — New")

    # The same visitor comes back in a Chinese browser (the same storage): 您的请求, with the status.
    _, chinese, chinese_errors = await new_page(storage_state=await visitor_ctx.storage_state(), locale="zh-CN")
    await chinese.goto(base + "/demo/")
    await expect(chinese.get_by_role("button", name=re.compile(r"^(打开|关闭)聊天 \(chat\)"))).to_be_visible(timeout=TIMEOUT)
    if not await widget(chinese).is_visible():
        await chinese.get_by_role("button", name="打开聊天 (chat)").click()
    requests = widget(chinese).get_by_role("region", name="您的请求")
    await expect(requests.get_by_role("listitem")).to_have_text([f"{number} · {subject} — 已受理"], timeout=TIMEOUT)
    await expect(requests.get_by_role("link", name=f"{number} · {subject}", exact=True)).to_have_attribute(
        "href", re.compile(r"^http://127\.0\.0\.1:\d+/requests/[0-9]+\.[0-9a-f]+$"))
    no_page_errors(csr_errors, visitor_errors, chinese_errors)


async def test_work_order_notices_reach_the_console_with_a_link_to_the_order(center, world, signed_in, new_page):
    """Cleo dispatches a work order to Gina, then urges it: Gina's console tells her each time in a
    toast whose link opens the order (`work_order.notice` used to reach no page)."""
    w, t, base = world, world["t"], world["base"]
    _, gina, gina_errors = await open_console(new_page, signed_in["csr"], base)
    _, cleo, cleo_errors = await new_page(storage_state=signed_in["csr2"])
    await cleo.goto(base + "/console")
    token = await cleo.locator('meta[name="csrf-token"]').get_attribute("content")
    site = (await fetch(center, "SELECT id FROM site WHERE key = ?", w["site_key"]))[0]["id"]
    subject = f"Replace the zip {t}"
    made = await cleo.request.post(base + "/api/work-orders", headers={"X-CSRF-Token": token},
                                   data={"site_id": site, "subject": subject, "handler_id": center.users[w["csr"]]["id"]})
    assert made.status == 201, await made.text()
    order = (await made.json())["order"]
    toasts = gina.locator("#toasts")
    mine = toasts.locator(".toast", has_text=f"Work order {order['number']} is yours: {subject}")
    await expect(mine).to_be_visible(timeout=TIMEOUT)
    urged = await cleo.request.post(base + f"/api/work-orders/{order['id']}/urge", headers={"X-CSRF-Token": token},
                                    data={"note": "The customer called twice."})
    assert urged.status == 200, await urged.text()
    nudge = toasts.locator(".toast", has_text=f"Cleo {t} urged work order {order['number']}: {subject}")
    await expect(nudge).to_be_visible(timeout=TIMEOUT)
    await nudge.get_by_role("link", name="Open work order").click()
    await expect(gina).to_have_url(re.compile(rf"/work-orders/{order['id']}$"), timeout=TIMEOUT)
    await expect(gina.get_by_role("heading", level=1)).to_contain_text(order["number"], timeout=TIMEOUT)
    no_page_errors(gina_errors, cleo_errors)


async def test_a_handler_on_the_work_orders_page_hears_an_order_dispatched_to_them(center, world, signed_in,
                                                                                   new_page):
    """Hal handles orders in the back office, with no console: the Work orders page tells him when
    Cleo dispatches one to him, and the toast's link opens it."""
    w, t, base = world, world["t"], world["base"]
    _, hal, hal_errors = await new_page(viewport={"width": 1400, "height": 900})
    await hal.goto(base + "/login?next=/work-orders")
    await hal.get_by_label("Email").fill(w["hal"])
    await hal.get_by_label("Password").fill(center.password)
    await hal.get_by_role("button", name="Sign in").click()
    await expect(hal.get_by_role("heading", name="Work orders", level=1)).to_be_visible(timeout=TIMEOUT)
    await expect(hal.locator("#toasts[data-connected=true]")).to_have_count(1, timeout=TIMEOUT)  # its notice socket
    _, cleo, cleo_errors = await new_page(storage_state=signed_in["csr2"])
    await cleo.goto(base + "/console")
    token = await cleo.locator('meta[name="csrf-token"]').get_attribute("content")
    site = (await fetch(center, "SELECT id FROM site WHERE key = ?", w["site_key"]))[0]["id"]
    hal_id, subject = center.users[w["hal"]]["id"], f"Buckle cracked {t}"
    made = await cleo.request.post(base + "/api/work-orders", headers={"X-CSRF-Token": token},
                                   data={"site_id": site, "subject": subject, "handler_id": hal_id})
    assert made.status == 201, await made.text()
    order = (await made.json())["order"]
    toast = hal.locator("#toasts .toast", has_text=subject)
    await expect(toast).to_be_visible(timeout=TIMEOUT)
    await expect(toast).to_contain_text(f"Work order {order['number']} is yours: {subject}")
    await toast.get_by_role("link", name="Open work order").click()
    await expect(hal).to_have_url(re.compile(rf"/work-orders/{order['id']}$"), timeout=TIMEOUT)
    await expect(hal.get_by_role("heading", level=1)).to_contain_text(order["number"], timeout=TIMEOUT)
    # On the order's own page too.
    await expect(hal.locator("#toasts[data-connected=true]")).to_have_count(1, timeout=TIMEOUT)
    again = f"Strap torn {t}"
    made = await cleo.request.post(base + "/api/work-orders", headers={"X-CSRF-Token": token},
                                   data={"site_id": site, "subject": again, "handler_id": hal_id})
    assert made.status == 201, await made.text()
    await expect(hal.locator("#toasts .toast", has_text=again)).to_be_visible(timeout=TIMEOUT)
    no_page_errors(hal_errors, cleo_errors)
