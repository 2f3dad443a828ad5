"""Canned responses in Chromium: the Canned responses page and the console's reply box.

An admin writes a global response on the Canned responses page (a duplicate shortcut is refused at
its field); a CSR writes a personal one with variables, edits and deletes another. In the console
the CSR, in a chat with a visitor who gave their name, types "/ref": the list "Canned responses"
opens above the reply box (which offers it: aria-autocomplete, aria-activedescendant), ↓ / ↑ move, Enter inserts the text with the
visitor's and the CSR's names and the site's filled in — editable, not sent — and Enter then sends
it; Escape closes the list without sending; a shortcut nothing matches says so; a response created
meanwhile on the Canned responses page is offered at once. With a visitor who gave no name, a click
inserts "Hi there". Every use is counted.

The deployment is this module's own, with the demo site seeded (its pages embed the widget); the
demo's own canned responses are deleted first, so the lists hold only what the tests write.
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from tests.e2e.conftest import own_deployment
from tests.e2e.helpers import chat_list, launcher, set_status, sign_in, transcript, visitor_send, widget
from tests.integration.test_work_orders_api import staff
from tests.support.clients import new_id
from tests.support.db import fetch

TIMEOUT = 20_000


@pytest.fixture(scope="module")
def center(request):
    yield from own_deployment(request, "canned-responses", seed_demo=True)


@pytest.fixture(scope="module")
async def world(center) -> dict:
    """A CSR (in no department: every site's general queue) and an admin; no canned response yet."""
    t = new_id()[:6]
    w = {"t": t, "base": center.server.url, "csr": f"gina-{t}@example.com", "admin": f"ada-{t}@example.com",
         "csr_name": f"Gina {t}"}
    center.create_user(w["csr"], "agent", w["csr_name"])
    center.create_user(w["admin"], "admin", f"Ada {t}")
    async with staff(center, w["admin"]) as admin:
        for response in (await admin.get("/api/canned", manage="1")).json()["responses"]:
            if response["editable"]:
                assert (await admin.post(f"/api/canned/{response['id']}/delete")).status_code == 200
    # What is left is the demo agent's own (personal: nobody else's to use or delete).
    left = await fetch(center, "SELECT scope, owner_id FROM kb_canned_response")
    assert all(r["scope"] == "personal" and r["owner_id"] != center.users[w["csr"]]["id"] for r in left), left
    return w


@pytest.fixture(scope="module")
async def signed_in(browser, center, world) -> dict[str, dict]:
    """Each user signed in once (sign-in is throttled per e-mail): storage states for new contexts."""
    states = {}
    for key in ("csr", "admin"):
        context = await browser.new_context()
        try:
            page = await context.new_page()
            await sign_in(page, world["base"], world[key], center.password)
            states[key] = await context.storage_state()
        finally:
            await context.close()
    return states


# ---- what a person does --------------------------------------------------------------------------


async def open_canned_page(page: Page, base: str) -> None:
    await page.goto(base + "/canned")
    await expect(page.get_by_role("heading", level=1, name="Canned responses")).to_be_visible()
    await expect(page.locator("#cr-status")).not_to_have_text("Loading…", timeout=TIMEOUT)


async def write_response(page: Page, *, shortcut: str, title: str, text: str, scope: str | None = None) -> None:
    await page.get_by_role("button", name="New canned response").click()
    dialog = page.get_by_role("dialog", name="New canned response")
    await expect(dialog).to_be_visible()
    await dialog.get_by_label("Shortcut").fill(shortcut)
    await dialog.get_by_label("Title").fill(title)
    await dialog.get_by_label("Text").fill(text)
    if scope:
        await dialog.get_by_label("Scope").select_option(label=scope)
    await dialog.get_by_role("button", name="Save").click()


def group(page: Page, name: str):
    return page.get_by_role("region", name=re.compile("^" + re.escape(name)))


def reply_box(page: Page):
    return page.get_by_role("textbox", name="Message")


def canned_list(page: Page):
    return page.get_by_role("listbox", name="Canned responses")


async def open_console(new_page, state: dict, base: str):
    context, page, errors = await new_page(storage_state=state, viewport={"width": 1400, "height": 900})
    await page.goto(base + "/console")
    await expect(page.get_by_role("status").filter(has_text="Connected")).to_be_visible(timeout=TIMEOUT)
    await expect(page.get_by_label("Status")).to_be_enabled()
    return context, page, errors


async def visitor_chats(new_page, base: str, text: str, name: str | None = None):
    _, visitor, errors = await new_page()
    await visitor.goto(base + "/demo/")
    await launcher(visitor).click()
    panel = widget(visitor)
    await expect(panel).to_be_visible()
    if name:
        await panel.get_by_label(re.compile("^Name")).fill(name)
    await visitor_send(visitor, text)
    await expect(panel.get_by_role("log").get_by_text(text, exact=True)).to_be_visible(timeout=TIMEOUT)
    return visitor, errors


def no_page_errors(*errors) -> None:
    for e in errors:
        assert not e.errors, e.errors


# ---- the stories ---------------------------------------------------------------------------------


async def test_responses_are_written_on_the_canned_responses_page(center, world, signed_in, new_page):
    w, base = world, world["base"]

    # The admin: nothing yet, then a global response; the same shortcut again is refused at its field.
    _, admin, admin_errors = await new_page(storage_state=signed_in["admin"])
    await open_canned_page(admin, base)
    await expect(admin.get_by_text("No canned responses yet.")).to_be_visible()
    await write_response(admin, shortcut="/refund", title="Refund timing",
                         text="Refunds reach your account within 5 working days, {visitor.name}.", scope="Global (everyone)")
    await expect(admin.get_by_role("dialog", name="New canned response")).to_be_hidden(timeout=TIMEOUT)
    global_group = group(admin, "Global")
    await expect(global_group.get_by_text("/refund", exact=True)).to_be_visible(timeout=TIMEOUT)
    await expect(global_group).to_contain_text("Refund timing")
    await expect(global_group).to_contain_text("Not used yet")
    await expect(admin.get_by_text("No canned responses yet.")).to_be_hidden()

    await write_response(admin, shortcut="REFUND", title="Again", text="Twice", scope="Global (everyone)")
    dialog = admin.get_by_role("dialog", name="New canned response")
    shortcut = dialog.get_by_label("Shortcut")
    await expect(shortcut).to_have_attribute("aria-invalid", "true", timeout=TIMEOUT)
    await expect(dialog.get_by_text("There is a response /REFUND among the global ones already.")).to_be_visible()
    await expect(shortcut).to_be_focused()
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_be_hidden()
    assert (await fetch(center, "SELECT count(*) AS n FROM kb_canned_response WHERE lower(shortcut) = 'refund'"))[0]["n"] == 1

    # The CSR: uses the global response (no Edit for it), writes a personal one with variables.
    _, csr, csr_errors = await new_page(storage_state=signed_in["csr"])
    await open_canned_page(csr, base)
    await expect(group(csr, "Global").get_by_text("/refund", exact=True)).to_be_visible()
    await expect(csr.get_by_role("button", name="Edit /refund")).to_have_count(0)
    scope = csr.get_by_label("Scope")
    await write_response(csr, shortcut="two words", title="Bad", text="x")
    dialog = csr.get_by_role("dialog", name="New canned response")
    await expect(dialog.get_by_text(re.compile("A shortcut is 1 to 40 letters"))).to_be_visible(timeout=TIMEOUT)
    # A CSR writes personal responses only: Team and Global are not offered.
    await expect(scope.locator("option:not([disabled])")).to_have_count(1)
    await dialog.get_by_label("Shortcut").fill("ref-hello")
    await dialog.get_by_label("Title").fill("Greeting")
    await dialog.get_by_label("Text").fill("Hi {visitor.name}, this is {agent.name} from {site.name}. How can I help?")
    await dialog.get_by_role("button", name="Save").click()
    await expect(dialog).to_be_hidden(timeout=TIMEOUT)
    personal = group(csr, "Personal")
    await expect(personal.get_by_text("/ref-hello", exact=True)).to_be_visible(timeout=TIMEOUT)
    await expect(personal).to_contain_text("Greeting")

    # Another one, edited, then deleted.
    await write_response(csr, shortcut="later", title="Later", text="I'll get back to you.")
    await expect(personal.get_by_text("/later", exact=True)).to_be_visible(timeout=TIMEOUT)
    await csr.get_by_role("button", name="Edit /later").click()
    edit = csr.get_by_role("dialog", name="Edit /later")
    await expect(edit.get_by_label("Text")).to_have_value("I'll get back to you.")
    await edit.get_by_label("Title").fill("Back soon")
    await edit.get_by_role("button", name="Save").click()
    await expect(edit).to_be_hidden(timeout=TIMEOUT)
    await expect(personal).to_contain_text("Back soon", timeout=TIMEOUT)
    await csr.get_by_role("button", name="Delete /later").click()
    confirm = csr.get_by_role("dialog", name="Delete /later?")
    await confirm.get_by_role("button", name="Delete").click()
    await expect(confirm).to_be_hidden(timeout=TIMEOUT)
    await expect(personal.get_by_text("/later", exact=True)).to_have_count(0, timeout=TIMEOUT)
    await expect(csr.get_by_role("status").filter(has_text="Deleted /later.")).to_be_visible()
    left = await fetch(center, "SELECT shortcut FROM kb_canned_response WHERE created_by_id = ?",
                       center.users[w["csr"]]["id"])
    assert [r["shortcut"] for r in left] == ["ref-hello"]
    no_page_errors(admin_errors, csr_errors)


async def test_a_csr_inserts_canned_responses_by_shortcut_in_the_reply_box(center, world, signed_in, new_page):
    w, t, base = world, world["t"], world["base"]
    ids = {r["shortcut"]: r["id"] for r in await fetch(center, "SELECT id, shortcut FROM kb_canned_response")}
    assert {"refund", "ref-hello"} <= set(ids), ids  # written by the test above
    name, question = f"Noor {t}", f"Can I return my tent {t}?"
    greeting = f"Hi {name}, this is {w['csr_name']} from Demo. How can I help?"

    context, csr, csr_errors = await open_console(new_page, signed_in["csr"], base)
    await set_status(csr, "Available")
    visitor, visitor_errors = await visitor_chats(new_page, base, question, name)
    chat = chat_list(csr).filter(has_text=question)
    await expect(chat).to_have_count(1, timeout=TIMEOUT)
    await chat.click()
    await expect(transcript(csr).get_by_text(question, exact=True)).to_be_visible(timeout=TIMEOUT)

    box = reply_box(csr)
    await expect(box).to_be_enabled(timeout=TIMEOUT)
    await expect(box).to_have_attribute("aria-autocomplete", "list")
    await box.press_sequentially("/ref")
    listbox = canned_list(csr)
    await expect(listbox).to_be_visible(timeout=TIMEOUT)
    options = listbox.get_by_role("option")
    await expect(options).to_have_count(2)
    await expect(options.nth(0)).to_contain_text("/ref-hello — Greeting")
    await expect(options.nth(0)).to_contain_text("Hi {visitor.name}, this is {agent.name}")  # the preview
    await expect(options.nth(1)).to_contain_text("/refund — Refund timing")
    await expect(box).to_have_attribute("aria-controls", await listbox.get_attribute("id"))
    await expect(options.nth(0)).to_have_attribute("aria-selected", "true")
    await expect(box).to_have_attribute("aria-activedescendant", await options.nth(0).get_attribute("id"))

    # ↓ and ↑ move; Enter inserts the greeting, filled, in place of "/ref": nothing is sent.
    await box.press("ArrowDown")
    await expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    await expect(box).to_have_attribute("aria-activedescendant", await options.nth(1).get_attribute("id"))
    await box.press("ArrowUp")
    await expect(options.nth(0)).to_have_attribute("aria-selected", "true")
    await box.press("Enter")
    await expect(box).to_have_value(greeting, timeout=TIMEOUT)
    await expect(listbox).to_be_hidden()
    await expect(box).not_to_have_attribute("aria-activedescendant", re.compile(".*"))
    await expect(box).to_be_focused()
    await expect(transcript(csr).get_by_text(greeting)).to_have_count(0)

    # The text is the CSR's to edit; Enter then sends it.
    await box.press("End")
    await box.press_sequentially(" Take your time.")
    await box.press("Enter")
    sent = greeting + " Take your time."
    await expect(transcript(csr).get_by_text(sent, exact=True)).to_be_visible(timeout=TIMEOUT)
    await expect(widget(visitor).get_by_role("log").get_by_text(sent, exact=True)).to_be_visible(timeout=TIMEOUT)
    await expect(box).to_have_value("")

    # Escape closes the list and sends nothing; a second Escape is the page's.
    await box.press_sequentially("/ref")
    await expect(listbox).to_be_visible()
    await box.press("Escape")
    await expect(listbox).to_be_hidden()
    await expect(box).to_have_value("/ref")
    await box.press_sequentially("u")  # the same shortcut: the list stays closed
    await expect(listbox).to_be_hidden()
    await box.press("Escape")
    await expect(box).to_have_value("/refu")
    await expect(transcript(csr).get_by_text("/ref", exact=True)).to_have_count(0)
    await box.fill("")

    # What nothing matches says so.
    await box.press_sequentially("/zzz")
    await expect(csr.get_by_text("No canned responses match")).to_be_visible()
    await expect(listbox.get_by_role("option")).to_have_count(0)
    await box.press("Escape")
    await box.fill("")

    # A title matches too, after the shortcuts: "/timing" finds "Refund timing"; Tab inserts.
    await box.press_sequentially("Sure: /timing")
    await expect(listbox.get_by_role("option")).to_have_text([re.compile(r"^/refund — Refund timing")])
    await box.press("Tab")
    await expect(box).to_have_value(f"Sure: Refunds reach your account within 5 working days, {name}.", timeout=TIMEOUT)
    await box.fill("")

    # A response written meanwhile on the Canned responses page (another tab) is offered at once.
    page = await context.new_page()
    await open_canned_page(page, base)
    await write_response(page, shortcut="refnew", title="Fresh", text="Brand new, {visitor.name}!")
    await expect(group(page, "Personal").get_by_text("/refnew", exact=True)).to_be_visible(timeout=TIMEOUT)
    await page.close()
    await csr.bring_to_front()
    await box.focus()
    await box.press_sequentially("/refn")
    await expect(listbox.get_by_role("option")).to_have_text([re.compile(r"^/refnew — Fresh")], timeout=TIMEOUT)
    await box.press("Escape")
    await box.fill("")

    # A visitor who gave no name: a click inserts "Hi there"; the text after the caret stays.
    other_question = f"Hello? {t}"
    anonymous, anonymous_errors = await visitor_chats(new_page, base, other_question)
    other = chat_list(csr).filter(has_text=other_question)
    await expect(other).to_have_count(1, timeout=TIMEOUT)
    await other.click()
    await expect(transcript(csr).get_by_text(other_question, exact=True)).to_be_visible(timeout=TIMEOUT)
    await box.press_sequentially("Good morning! /ref-h")
    await listbox.get_by_role("option").filter(has_text="/ref-hello — Greeting").click()
    filled = f"Good morning! Hi there, this is {w['csr_name']} from Demo. How can I help?"
    await expect(box).to_have_value(filled, timeout=TIMEOUT)
    await expect(listbox).to_be_hidden()
    await box.press("Enter")
    await expect(transcript(csr).get_by_text(filled, exact=True)).to_be_visible(timeout=TIMEOUT)
    await expect(widget(anonymous).get_by_role("log").get_by_text(filled, exact=True)).to_be_visible(timeout=TIMEOUT)

    # Counted: the greeting twice, the refund once; each use a `canned_used` event of the console.
    counts = {r["shortcut"]: r["usage_count"] for r in await fetch(center, "SELECT shortcut, usage_count FROM kb_canned_response")}
    assert (counts["ref-hello"], counts["refund"], counts["refnew"]) == (2, 1, 0), counts
    used = await fetch(center, "SELECT canned_id, user_id, source FROM kb_event WHERE kind = 'canned_used' ORDER BY id")
    csr_id = center.users[w["csr"]]["id"]
    assert used == [{"canned_id": ids["ref-hello"], "user_id": csr_id, "source": "console"},
                    {"canned_id": ids["refund"], "user_id": csr_id, "source": "console"},
                    {"canned_id": ids["ref-hello"], "user_id": csr_id, "source": "console"}]
    no_page_errors(csr_errors, visitor_errors, anonymous_errors)
