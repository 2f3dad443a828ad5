"""WCAG 2.1 AA on the staff side, in Chromium: axe-core finds no A/AA violation on any staff page
(and the public pages the staff's work makes: the help center, a customer's request status, the
set-password page), in the states that matter — a chat open in the console, its Transfer, Close and
Create work order dialogs, a profile, a trail, a monitored chat; every page has a working "Skip to
main content" link; and the day's work is done with the keyboard alone, the focus never falling
back to the page (`document.body`) when an action removes or disables what had it.

The deployment is this module's own, with the demo seeded (its staff, work orders, knowledge base
and canned responses) and a morning of history made through the real protocol — visits from
search engines, help searches and reads, chats answered, rated, abandoned, an invitation accepted,
a note left — so the reports, charts, tables and lists are not empty. The widget's own states are
checked in tests/e2e/test_accessibility_widget.py; where a staff page embeds the widget (the help
center, the widget preview) its shadow host is left to that module.
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import own_deployment
from tests.e2e.helpers import chat_list, transcript
from tests.e2e.staff_world import (
    NOT_PAGES, PAGES, TIMEOUT, WIDGET, World, build_world, open_as, settled, shape, served_pages,
)
from tests.support import clients
from tests.support.clients import new_id


@pytest.fixture(scope="module")
def center(request):
    yield from own_deployment(request, "accessibility-staff", seed_demo=True)


@pytest.fixture(scope="module")
async def world(browser, center) -> World:
    return await build_world(browser, center)


def test_every_page_the_app_serves_is_checked(tmp_path):
    """A new page is checked by axe as soon as it exists: this fails until it is in PAGES."""
    served = served_pages(tmp_path)
    checked = {shape(path) for _, _, path, _ in PAGES} | {"/requests/{}"}  # "{request}": a status page's link
    assert served - NOT_PAGES - checked == set(), "pages no accessibility test opens: add them to PAGES"


async def assert_names_hold_their_labels(page: Page, where: str, exclude: list[str]) -> None:
    """WCAG 2.5.3: a control's accessible name contains its visible text (axe's rule for it is
    experimental, outside the A/AA tags, so it is asked for by name)."""
    found = await page.evaluate("""async (exclude) => {
        const result = await window.axe.run({ exclude: exclude.map((s) => [s]) }, {
            runOnly: { type: "rule", values: ["label-content-name-mismatch"] }, resultTypes: ["violations"] });
        return result.violations.flatMap((v) => v.nodes.map((n) => n.html.slice(0, 200)));
    }""", exclude)
    assert not found, f"accessible names without their visible text on {where}:\n" + "\n".join(found)


async def assert_conforms(page: Page, where: str, *, embeds_widget: bool = False) -> None:
    exclude = [WIDGET] if embeds_widget else []
    await assert_accessible(page, where, exclude=exclude)
    await assert_names_hold_their_labels(page, where, exclude)


@pytest.mark.parametrize("what, role, path, prepare", PAGES, ids=[p[0] for p in PAGES])
async def test_no_wcag_violation_on(what, role, path, prepare, world, new_page):
    page = await open_as(new_page, world, role, path.format(**world.ids))
    if prepare is not None:
        await prepare(page)
    await assert_conforms(page, what, embeds_widget=path.startswith(("/help/", "/admin/widget/preview/")))
    assert page.errors.errors == []


# ---- the console with chats, and its dialogs ------------------------------------------------------------


async def open_console(new_page, world: World, **options) -> Page:
    page = await open_as(new_page, world, "agent", "/console", **options)
    await expect(page.get_by_label("Status")).to_be_enabled(timeout=TIMEOUT)
    return page


async def set_status(page: Page, status: str) -> None:
    await page.get_by_label("Status").select_option(status)
    await expect(page.locator("body")).to_have_attribute("data-agent-status", status, timeout=TIMEOUT)


async def visitor_asks(world: World, question: str, name: str, department: int | None = None):
    """A visitor of the demo site (a socket.io client) who asks `question`: (client, conversation id)."""
    visitor = await clients.visitor(world.base, world.site_key, origin=world.base)
    payload = {"client_id": new_id(), "body": question, "name": name}
    if department is not None:
        payload["department_id"] = department
    sent = await visitor.call("message", payload)
    assert sent["ok"], sent
    return visitor, sent["conversation_id"]


async def goodbye(visitors) -> None:
    """The visitors end their chats and leave: nothing is left for the next test's CSR."""
    for visitor, conversation in visitors:
        await visitor.call("close", {"conversation_id": conversation})
        await visitor.disconnect()


async def _transfer_dialog(page: Page) -> None:
    await page.get_by_role("button", name="Transfer", exact=True).click()
    dialog = page.get_by_role("dialog", name="Transfer chat")
    await expect(dialog.get_by_role("radio").first).to_be_visible(timeout=TIMEOUT)


async def _close_dialog(page: Page) -> None:
    await page.get_by_role("button", name="Close chat").click()
    await expect(page.get_by_role("dialog", name="What was this contact about?")).to_be_visible(timeout=TIMEOUT)


async def _order_dialog(page: Page) -> None:
    await page.get_by_role("button", name="Create work order").click()
    dialog = page.get_by_role("dialog", name="Create work order")
    await expect(dialog.get_by_label("Subject")).to_be_visible(timeout=TIMEOUT)


async def _canned_list(page: Page) -> None:
    await page.get_by_label("Message").fill("/")
    await expect(page.get_by_role("listbox", name="Canned responses")).to_be_visible(timeout=TIMEOUT)


CONSOLE_STATES = [  # (what, in the Claims department?, the state to open, colour scheme)
    ("a chat open", False, None, "light"),
    ("a chat open, dark", False, None, "dark"),
    ("the Transfer dialog", False, _transfer_dialog, "light"),
    ("the Close dialog", True, _close_dialog, "light"),
    ("the Create work order dialog", False, _order_dialog, "light"),
    ("canned responses offered", False, _canned_list, "light"),
]


@pytest.mark.parametrize("what, claims, prepare, scheme", CONSOLE_STATES, ids=[s[0] for s in CONSOLE_STATES])
async def test_no_wcag_violation_in_the_console_with(what, claims, prepare, scheme, world, new_page):
    """Beside the open chat: a chat the visitor ended, the replies read, the queue's notes."""
    page = await open_console(new_page, world, color_scheme=scheme)
    visitors = []
    try:
        await set_status(page, "available")
        tag = new_id()[:4]
        ended = await visitor_asks(world, "Can I change my delivery address?", f"Ivo {tag}")
        visitors.append(ended)
        await expect(chat_list(page).filter(has_text=f"Ivo {tag}")).to_have_count(1, timeout=TIMEOUT)
        await ended[0].call("close", {"conversation_id": ended[1]})
        department = world.ids["department"] if claims else None
        asking = await visitor_asks(world, "Do the Alpine 2 poles fit the Alpine 3?", f"Noor {tag}", department)
        visitors.append(asking)
        chat = chat_list(page).filter(has_text=f"Noor {tag}")
        await chat.click(timeout=TIMEOUT)
        await expect(transcript(page).get_by_text("Do the Alpine 2 poles fit")).to_be_visible(timeout=TIMEOUT)
        await page.get_by_label("Message").fill("They do: same diameter.")
        await page.get_by_label("Message").press("Enter")
        seen = await asking[0].rec.wait_for("message", lambda m: m.get("body") == "They do: same diameter.")
        assert (await asking[0].call("read", {"conversation_id": asking[1], "seq": seen["seq"]}))["ok"]
        await expect(transcript(page).get_by_text("Read", exact=True)).to_be_visible(timeout=TIMEOUT)
        await expect(chat_list(page).filter(has_text=f"Ivo {tag}")).to_contain_text("Chat closed", timeout=TIMEOUT)
        await settled(page)
        if prepare is not None:
            await prepare(page)
        await assert_conforms(page, f"the console with {what}")
        await page.keyboard.press("Escape")
    finally:
        await goodbye(visitors)
        await set_status(page, "offline")
    assert page.errors.errors == []


async def test_no_wcag_violation_on_the_live_board_monitoring_a_chat(world, new_page):
    casey = await clients.agent(world.base, world.casey, world.password)
    visitors = []
    try:
        assert (await casey.call("set_status", {"status": "available"}))["ok"]
        tag = new_id()[:4]
        visitors.append(await visitor_asks(world, "Is the sale on until Sunday?", f"Lea {tag}"))
        await casey.rec.wait_for("conversation.assigned", lambda c: c["id"] == visitors[0][1])
        page = await open_as(new_page, world, "supervisor", "/supervise")
        await page.get_by_role("button", name=f"Monitor chat with Lea {tag}").click()
        await expect(page.get_by_role("log", name="Monitored transcript")).to_contain_text("Is the sale on",
                                                                                            timeout=TIMEOUT)
        await assert_conforms(page, "the live board, monitoring a chat")
        assert page.errors.errors == []
    finally:
        await goodbye(visitors)
        await casey.call("set_status", {"status": "offline"})
        await casey.disconnect()


# ---- "Skip to main content" ---------------------------------------------------------------------------------

# The staff pages (the console's base template) and the help center; a customer's request status
# and the widget preview are pages of one main block, with nothing to skip.
SKIPPABLE = list(dict.fromkeys((role, path) for _, role, path, _ in PAGES
                               if path not in ("{request}", "/admin/widget/preview/{site}")))
# Pages that put the focus in their form once they have loaded what it offers (a new article: its
# categories, sites and staff), not at once: the check waits for it there.
FOCUS_THEIR_FORM_WHEN_LOADED = ("/knowledge/new",)


@pytest.mark.parametrize("role, path", SKIPPABLE, ids=[f"{r or 'anyone'} {p}" for r, p in SKIPPABLE])
async def test_skip_link_leads_to_the_main_content(role, path, world, new_page):
    page = await open_as(new_page, world, role, path.format(**world.ids))
    skip = page.get_by_role("link", name=re.compile(r"^(Skip to main content|跳到主要内容)$"))
    if path in FOCUS_THEIR_FORM_WHEN_LOADED:
        await page.wait_for_function("document.activeElement && document.activeElement !== document.body",
                                     timeout=20_000)
    if await page.evaluate("document.activeElement === document.body"):
        await page.keyboard.press("Tab")  # the first stop of the page
        await expect(skip).to_be_focused()
    else:  # a page that puts the focus in its form at once (sign-in, a new article): back to the top
        await tab_to(page, skip, "Shift+Tab")
    await expect(skip).to_be_in_viewport()  # visible once focused, and readable
    await assert_accessible(page, f"{path}, the skip link focused", include=".skip-link, .help-skip")
    await page.keyboard.press("Enter")
    assert await page.evaluate("!!document.activeElement.closest('main')"), "the focus is not in <main>"
    assert page.errors.errors == []


# ---- the keyboard alone ---------------------------------------------------------------------------------------


async def assert_focus_on_page(page: Page, after: str) -> None:
    """The focus is on something of the page, never fallen back to `document.body`."""
    where = await page.evaluate("document.activeElement ? document.activeElement.outerHTML.slice(0, 120) : null")
    assert where is not None and not where.startswith("<body"), f"the focus fell back to the page after {after}"


async def tab_to(page: Page, target, key: str = "Tab", limit: int = 60) -> None:
    """Presses `key` (Tab or Shift+Tab) until `target` has the focus, as a keyboard user moves."""
    for _ in range(limit):
        if await target.evaluate("(node) => node === document.activeElement"):
            return
        await page.keyboard.press(key)
        await assert_focus_on_page(page, key)
    raise AssertionError(f"{limit} presses of {key} never reached {target}")


async def test_a_csr_takes_answers_transfers_and_closes_chats_with_the_keyboard(world, new_page):
    casey = await clients.agent(world.base, world.casey, world.password)
    page = await open_console(new_page, world)
    visitors = []
    try:
        tag = new_id()[:4]
        # Available: Tab to the status, "a" picks it.
        status = page.get_by_label("Status")
        await tab_to(page, status)
        await page.keyboard.press("a")
        await expect(page.locator("body")).to_have_attribute("data-agent-status", "available", timeout=TIMEOUT)
        await assert_focus_on_page(page, "choosing Available")

        # A chat comes; Tab into the list and Enter opens it.
        visitors.append(await visitor_asks(world, "Where is my parcel?", f"Rhea {tag}"))
        first = chat_list(page).filter(has_text=f"Rhea {tag}")
        await expect(first).to_have_count(1, timeout=TIMEOUT)
        await tab_to(page, first)
        await page.keyboard.press("Enter")
        await expect(transcript(page).get_by_text("Where is my parcel?")).to_be_visible(timeout=TIMEOUT)

        # The reply: typed and sent with Enter, the focus stays in the box.
        reply = page.get_by_label("Message")
        await tab_to(page, reply)
        await page.keyboard.type("It left the warehouse this morning.")
        await page.keyboard.press("Enter")
        await expect(transcript(page).get_by_text("It left the warehouse this morning.")).to_be_visible(timeout=TIMEOUT)
        await expect(reply).to_be_focused()

        # Transfer: the dialog opens on the first choice; Escape gives the focus back to Transfer.
        transfer = page.get_by_role("button", name="Transfer", exact=True)
        await tab_to(page, transfer, "Shift+Tab")
        await page.keyboard.press("Enter")
        dialog = page.get_by_role("dialog", name="Transfer chat")
        await expect(dialog.get_by_role("radio").first).to_be_visible(timeout=TIMEOUT)
        await expect(dialog.get_by_role("radio", disabled=False).first).to_be_focused(timeout=TIMEOUT)
        await page.keyboard.press("Escape")
        await expect(dialog).to_have_count(0)
        await expect(transfer).to_be_focused()
        # Cancel does the same.
        await page.keyboard.press("Enter")
        await expect(dialog.get_by_role("radio").first).to_be_visible(timeout=TIMEOUT)
        await tab_to(page, dialog.get_by_role("button", name="Cancel"))
        await page.keyboard.press("Enter")
        await expect(dialog).to_have_count(0)
        await expect(transfer).to_be_focused()
        # To Casey (Available now), with a note: the arrows choose, Tab moves on, Enter transfers.
        assert (await casey.call("set_status", {"status": "available"}))["ok"]
        await page.keyboard.press("Enter")
        casey_choice = dialog.get_by_role("radio", name=re.compile("^Casey "))
        await expect(casey_choice).to_be_enabled(timeout=TIMEOUT)
        for _ in range(10):
            if await casey_choice.is_checked():
                break
            await page.keyboard.press("ArrowDown")
        await expect(casey_choice).to_be_checked()
        await tab_to(page, dialog.get_by_label("Note for the receiver (only staff see it)"))
        await page.keyboard.type("Parcel number in the first message.")
        await tab_to(page, dialog.get_by_role("button", name="Transfer", exact=True))
        await page.keyboard.press("Enter")
        await expect(dialog).to_have_count(0, timeout=TIMEOUT)
        await casey.rec.wait_for("conversation.assigned", lambda c: c["id"] == visitors[0][1])
        # The chat is read-only here now, Transfer disabled: the focus is on the chat in the list.
        await expect(transfer).to_be_disabled(timeout=TIMEOUT)
        await expect(first).to_be_focused()
        assert (await casey.call("set_status", {"status": "away"}))["ok"]

        # Another chat, closed from the keyboard: the focus goes to "Remove from list" …
        visitors.append(await visitor_asks(world, "Can I pay by invoice?", f"Sol {tag}"))
        second = chat_list(page).filter(has_text=f"Sol {tag}")
        await expect(second).to_have_count(1, timeout=TIMEOUT)
        await tab_to(page, second, "Shift+Tab")  # new chats come first in the list
        await page.keyboard.press("Enter")
        await expect(transcript(page).get_by_text("Can I pay by invoice?")).to_be_visible(timeout=TIMEOUT)
        close = page.get_by_role("button", name="Close chat")
        await tab_to(page, close)
        await page.keyboard.press("Enter")
        remove = page.get_by_role("button", name="Remove from list")
        await expect(remove).to_be_focused(timeout=TIMEOUT)
        await expect(close).to_be_disabled()
        # … and once it is removed, to the chat now selected in the list.
        await page.keyboard.press("Enter")
        await expect(second).to_have_count(0)
        await expect(first).to_be_focused()
        await assert_focus_on_page(page, "Remove from list")
        assert page.errors.errors == []
    finally:
        await goodbye(visitors)
        await set_status(page, "offline")
        await casey.call("set_status", {"status": "offline"})
        await casey.disconnect()


async def test_a_supervisor_monitors_and_whispers_with_the_keyboard(world, new_page):
    casey = await clients.agent(world.base, world.casey, world.password)
    visitors = []
    try:
        assert (await casey.call("set_status", {"status": "available"}))["ok"]
        tag = new_id()[:4]
        visitors.append(await visitor_asks(world, "Do you price-match?", f"Ines {tag}"))
        await casey.rec.wait_for("conversation.assigned", lambda c: c["id"] == visitors[0][1])
        page = await open_as(new_page, world, "supervisor", "/supervise")

        # Monitor: the board is drawn anew, the focus stays on the (now pressed) button.
        monitor = page.get_by_role("button", name=f"Monitor chat with Ines {tag}")
        await tab_to(page, monitor)
        await page.keyboard.press("Enter")
        log = page.get_by_role("log", name="Monitored transcript")
        await expect(log).to_contain_text("Do you price-match?", timeout=TIMEOUT)
        await expect(monitor).to_have_attribute("aria-pressed", "true")
        await expect(monitor).to_be_focused()
        await assert_focus_on_page(page, "Monitor")

        # A whisper, typed and sent with Enter: Casey gets it, the focus stays in the box.
        whisper = page.get_by_label("Whisper to agent")
        await tab_to(page, whisper)
        await page.keyboard.type("Yes: within 14 days of purchase.")
        await page.keyboard.press("Enter")
        got = await casey.rec.wait_for("message", lambda m: m.get("body") == "Yes: within 14 days of purchase.")
        assert got["sender"] == "internal"
        await expect(whisper).to_have_value("", timeout=TIMEOUT)
        await expect(whisper).to_be_focused()
        # The board changes (the visitor leaves): the focus still is on the page.
        await goodbye(visitors)
        visitors = []
        await expect(page.get_by_text("No chats in progress.")).to_be_visible(timeout=TIMEOUT)
        await assert_focus_on_page(page, "the chat ended")
        assert page.errors.errors == []
    finally:
        await goodbye(visitors)
        await casey.call("set_status", {"status": "offline"})
        await casey.disconnect()


# ---- every dialog gives the focus back ---------------------------------------------------------------------


async def press(page: Page, control) -> None:
    """A keyboard user's press: the control gets the focus, Enter."""
    await control.focus()
    await page.keyboard.press("Enter")


async def leave_and_come_back(page: Page, opener, dialog, close_name: str = "Cancel") -> None:
    """Escape, then the dialog's own Cancel (or Close): each time the focus is back on `opener`."""
    for way_out in ("Escape", close_name):
        await press(page, opener)
        await expect(dialog).to_be_visible(timeout=TIMEOUT)
        await assert_focus_on_page(page, "opening the dialog")
        if way_out == "Escape":
            await page.keyboard.press("Escape")
        else:
            await press(page, dialog.get_by_role("button", name=way_out, exact=True))
        await expect(dialog).to_be_hidden(timeout=TIMEOUT)
        await expect(opener).to_be_focused()


async def test_the_consoles_create_work_order_dialog_gives_the_focus_back(world, new_page):
    page = await open_console(new_page, world)
    visitors = []
    try:
        await set_status(page, "available")
        tag = new_id()[:4]
        visitors.append(await visitor_asks(world, "My tent pole snapped on day one.", f"Aya {tag}"))
        await chat_list(page).filter(has_text=f"Aya {tag}").click(timeout=TIMEOUT)
        await expect(transcript(page).get_by_text("My tent pole snapped")).to_be_visible(timeout=TIMEOUT)
        opener = page.get_by_role("button", name="Create work order")
        await expect(opener).to_be_enabled(timeout=TIMEOUT)
        dialog = page.get_by_role("dialog", name="Create work order")
        await leave_and_come_back(page, opener, dialog)
        # And made: back on the button, the order in the toast.
        await press(page, opener)
        await expect(dialog.get_by_label("Subject")).to_be_focused(timeout=TIMEOUT)
        await press(page, dialog.get_by_role("button", name="Create work order"))
        await expect(dialog).to_be_hidden(timeout=TIMEOUT)
        await expect(opener).to_be_focused()
        await expect(page.get_by_role("alert").filter(has_text="created")).to_be_visible(timeout=TIMEOUT)
        assert page.errors.errors == []
    finally:
        await goodbye(visitors)
        await set_status(page, "offline")


async def test_the_pages_dialogs_give_the_focus_back(world, new_page):
    # Canned responses: New canned response, left and saved.
    page = await open_as(new_page, world, "agent", "/canned")
    opener = page.get_by_role("button", name="New canned response")
    dialog = page.get_by_role("dialog", name="New canned response")
    await leave_and_come_back(page, opener, dialog)
    await press(page, opener)
    shortcut = "kb" + new_id()[:4]
    await dialog.get_by_label("Shortcut").fill(shortcut)
    await dialog.get_by_label("Text", exact=True).fill("Have a look at our help center.")
    await press(page, dialog.get_by_role("button", name="Save"))
    await expect(dialog).to_be_hidden(timeout=TIMEOUT)
    await expect(page.get_by_role("status").filter(has_text=f"Saved /{shortcut}.")).to_be_visible(timeout=TIMEOUT)
    await expect(opener).to_be_focused()
    # … and deleted: the response is gone, the focus on New canned response.
    delete = page.get_by_role("button", name=f"Delete /{shortcut}")
    confirm = page.get_by_role("dialog", name=f"Delete /{shortcut}?")
    await leave_and_come_back(page, delete, confirm)
    await press(page, delete)
    await press(page, confirm.get_by_role("button", name="Delete"))
    await expect(delete).to_have_count(0, timeout=TIMEOUT)
    await expect(opener).to_be_focused()
    assert page.errors.errors == []

    # Work orders: New work order.
    page = await open_as(new_page, world, "agent", "/work-orders")
    await leave_and_come_back(page, page.get_by_role("button", name="New work order"),
                              page.get_by_role("dialog", name="New work order"))
    assert page.errors.errors == []

    # Explorer: a visit's trail, from its row.
    page = await open_as(new_page, world, "marketer", "/explorer")
    row = page.get_by_role("table", name="Visits").get_by_role("row").nth(1)
    await leave_and_come_back(page, row, page.get_by_role("dialog", name=re.compile("^Trail")), "Close trail")
    assert page.errors.errors == []


async def test_the_visitors_invite_dialog_gives_the_focus_back(world, new_page):
    visitor = await clients.visitor(world.base, world.site_key, origin=world.base)
    try:
        tag = new_id()[:4]
        assert (await visitor.call("identify", {"name": f"Una {tag}"}))["ok"]
        assert (await visitor.call("page_view", {"url": world.base + "/demo/pricing", "title": "Pricing"}))["ok"]
        page = await open_as(new_page, world, "agent", "/visitors")
        invite = page.get_by_role("button", name=f"Invite Una {tag}")
        await expect(invite).to_be_visible(timeout=TIMEOUT)
        await leave_and_come_back(page, invite, page.get_by_role("dialog", name=f"Invite Una {tag}"))
        assert page.errors.errors == []
    finally:
        await visitor.disconnect()
