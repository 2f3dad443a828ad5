"""Work orders in Chromium: a CSR files an order with "New work order" and dispatches it to the
back office; the handler (role "handler") lands on Work orders, finds it under "Mine", replies to the
customer, resolves it and books a callback; the customer opens the status link from their mail,
sees the public thread and replies (with a picture), and the reply reaches the staff's thread. A
supervisor filters the list (status, overdue, search), saves a view, walks it with the keyboard
(j, k, /, Enter), urges an order and dispatches two at once. A marketer is refused; markup in a
subject, a description and a customer's reply stays text everywhere.

The deployment is this module's own. Teams, categories and an SLA policy have no admin page yet:
they are set up through the services (`services`, below), and one order is made overdue by moving
its due time in the database; every other step goes through the pages or the HTTP API."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.e2e.conftest import own_deployment
from tests.e2e.helpers import sign_in
from tests.support.clients import new_id
from tests.support.db import fetch
from tests.support.server import ROOT, Deployment

TIMEOUT = 30_000
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
NUMBER = re.compile(r"WO-\d{4}-\d{6}")

_RUNNER = """
import json, sys
from app.cli import _run_with_db
from app.config import load_settings

args = json.loads(sys.argv[1])
out = {{}}

async def work():
    from datetime import timedelta
    from app.clock import utcnow
    from app.models import WorkOrder
    from app.services import work_setup
{body}
    return 0

_run_with_db(load_settings(), work)
print(json.dumps(out))
"""


def services(d: Deployment, body: str, **args: Any) -> dict:
    """Run `body` (statements inside an async function, with `args` in scope, filling the dict `out`)
    against the deployment's database through the services, as the CLI does."""
    script = _RUNNER.format(body=textwrap.indent(textwrap.dedent(body), "    "))
    result = subprocess.run([sys.executable, "-c", script, json.dumps(args)], cwd=ROOT, env=d.env,
                            capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"setup failed:\n{result.stdout}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


@dataclass
class World:
    d: Deployment
    t: str
    csr: str
    hal: str
    hana: str
    sue: str
    team: str  # the back-office team's name (Hal and Hana)
    category: str  # "Complaint › Delivery"

    @property
    def base(self) -> str:
        return self.d.server.url


@pytest.fixture(scope="module")
def center(request):
    yield from own_deployment(request, "work-orders")


@pytest.fixture(scope="module")
def world(center) -> World:
    d, t = center, new_id()[:6]
    emails = {"csr": f"cara-{t}@example.com", "hal": f"hal-{t}@example.com", "hana": f"hana-{t}@example.com",
              "sue": f"sue-{t}@example.com"}
    d.create_user(emails["csr"], "agent", f"Cara {t}")
    hal = d.create_user(emails["hal"], "handler", f"Hal {t}")["id"]
    hana = d.create_user(emails["hana"], "handler", f"Hana {t}")["id"]
    d.create_user(emails["sue"], "supervisor", f"Sue {t}")
    team = f"Billing {t}"
    services(d, """
        await work_setup.save_team(None, {"name": args["team"], "members": args["members"]})
        await work_setup.save_team(None, {"name": args["team"] + " (other)", "members": []})
        parent = await work_setup.save_category(None, {"name": "Complaint"})
        await work_setup.save_category(None, {"name": "Delivery", "parent_id": parent.id})
        await work_setup.save_policy(None, {"first_response_minutes": 60, "resolution_minutes": 480})
    """, team=team, members=[hal, hana])
    return World(d=d, t=t, team=team, category="Complaint › Delivery", **emails)


# ---- what a person does ------------------------------------------------------------------------


async def staff_sign_in(page: Page, w: World, email: str, next_path: str = "/work-orders") -> None:
    await page.goto(w.base + "/login?next=" + next_path)
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(w.d.password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Work orders", exact=True)).to_be_visible(timeout=TIMEOUT)


async def api(page: Page, w: World, path: str, data: dict) -> dict:
    """POST to the JSON API as the page's user, with the page's CSRF token."""
    token = await page.locator('meta[name="csrf-token"]').get_attribute("content")
    response = await page.request.post(w.base + path, data=data, headers={"X-CSRF-Token": token})
    body = await response.json()
    assert response.ok, body
    return body


async def options(page: Page, w: World) -> dict:
    response = await page.request.get(w.base + "/api/work-orders/options")
    return await response.json()


def fact(page: Page, label: str):
    """The value of `label` in an order's Details."""
    return page.locator("#facts dt", has_text=re.compile("^" + re.escape(label) + "$")).locator(
        "xpath=following-sibling::dd[1]")


def order_rows(page: Page):
    return page.get_by_role("table", name="Work orders").locator("tbody").get_by_role("row")


def row_of(page: Page, number: str):
    return order_rows(page).filter(has=page.get_by_role("link", name=number, exact=True))


async def mail_link(w: World, order_id: int) -> str:
    rows = await fetch(w.d, "SELECT body FROM outgoing_mail WHERE work_order_id = ? ORDER BY id", order_id)
    assert rows, "no mail to the customer"
    return re.search(r"http://\S+/requests/[0-9]+\.[0-9a-f]+", rows[0]["body"]).group(0)


def no_page_errors(*errors) -> None:
    for e in errors:
        assert not e.errors, e.errors


# ---- the stories -------------------------------------------------------------------------------


async def test_a_csr_files_an_order_the_back_office_resolves_it_and_the_customer_replies(world, new_page):
    w, t = world, world.t
    subject = f"Charged twice {t}"
    reply = f"We refunded the second charge ({t})."
    note = f"Refund ticket RF-{t}, internal only"
    customer_text = f"Thank you, but the refund is not there yet ({t})."

    # The CSR: console → Work orders → New work order.
    _, csr, csr_errors = await new_page()
    await sign_in(csr, w.base, w.csr, w.d.password)
    await csr.get_by_role("navigation", name="Sections").get_by_role("link", name="Work orders").click()
    await expect(csr.get_by_role("heading", name="Work orders", exact=True)).to_be_visible(timeout=TIMEOUT)
    opener = csr.get_by_role("button", name="New work order")
    await opener.click()
    dialog = csr.get_by_role("dialog", name="New work order")
    await expect(dialog).to_be_visible()
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_be_hidden()
    await expect(opener).to_be_focused()  # back where it opened from

    await opener.click()
    await dialog.get_by_label("Subject").fill(subject)
    await dialog.get_by_label("Description").fill("The customer was charged twice for one order.")
    await dialog.get_by_label("Category").select_option(label=w.category)
    await dialog.get_by_label("Priority").select_option(label="High")
    await dialog.get_by_label("Customer name").fill(f"Chen {t}")
    email = dialog.get_by_label("E-mail")
    await email.fill("chen at example")
    await dialog.get_by_label("Phone").fill("+86 21 5555 0100")
    await dialog.get_by_role("button", name="Create work order").click()
    await expect(email).to_have_attribute("aria-invalid", "true", timeout=TIMEOUT)
    await expect(email).to_have_accessible_description("This is not an e-mail address.")
    await expect(email).to_be_focused()
    await email.fill(f"chen-{t}@example.com")
    await dialog.get_by_role("button", name="Create work order").click()

    # The new order's page; the CSR dispatches it to the back office.
    await expect(csr).to_have_url(re.compile(r"/work-orders/\d+$"), timeout=TIMEOUT)
    title = csr.get_by_role("heading", level=1)
    await expect(title).to_contain_text(subject)
    number = NUMBER.search(await title.text_content()).group(0)
    order_id = int(csr.url.rsplit("/", 1)[1])
    await expect(fact(csr, "Status")).to_have_text("New")
    await expect(fact(csr, "Priority")).to_have_text("High")
    await expect(fact(csr, "Category")).to_have_text(w.category)
    await expect(fact(csr, "Customer")).to_contain_text(f"chen-{t}@example.com")
    await expect(fact(csr, "Due")).to_contain_text(re.compile(r"\d+ h"))
    dispatch = csr.get_by_role("form", name="Dispatch")
    await dispatch.get_by_label("Team").select_option(label=w.team)
    await dispatch.get_by_label("Handler").select_option(label=f"Hal {t}")
    await dispatch.get_by_role("button", name="Dispatch").click()
    await expect(csr.get_by_role("status")).to_have_text("The order is dispatched.", timeout=TIMEOUT)
    await expect(fact(csr, "Status")).to_have_text("Assigned")
    await expect(fact(csr, "Team")).to_have_text(w.team)
    await expect(fact(csr, "Handler")).to_have_text(f"Hal {t}")
    await expect(csr.get_by_role("form", name="Dispatch")).to_be_hidden()  # the creator dispatches only unowned orders

    # The handler signs in and lands on Work orders; the order is theirs ("Mine").
    _, hal, hal_errors = await new_page()
    await hal.goto(w.base + "/login")
    await hal.get_by_label("Email").fill(w.hal)
    await hal.get_by_label("Password").fill(w.d.password)
    await hal.get_by_role("button", name="Sign in").click()
    await expect(hal).to_have_url(w.base + "/work-orders", timeout=TIMEOUT)
    sections = hal.get_by_role("navigation", name="Sections")
    # Back-office staff take no chats: Work orders, and the knowledge base they answer from.
    await expect(sections.get_by_role("link")).to_have_text(["Work orders", "Knowledge base"])
    await expect(hal.get_by_role("button", name="New work order")).to_be_hidden()
    await hal.get_by_label("Mine").check()
    await expect(hal).to_have_url(re.compile(r"[?&]mine=1"))
    row = row_of(hal, number)
    await expect(row).to_contain_text(subject, timeout=TIMEOUT)
    await expect(row).to_contain_text(f"Chen {t}")
    await expect(row).to_contain_text(w.category)
    await expect(row.get_by_role("cell").nth(8)).to_have_text(re.compile(r"^\d+ h( \d+ min)?$"))
    await expect(hal.locator("#wo-status")).to_have_text("1 order")
    await row.get_by_role("link", name=number).click()
    await expect(hal.get_by_role("heading", level=1)).to_contain_text(number, timeout=TIMEOUT)

    # A reply to the customer and an internal note: labelled, in order, in the thread.
    thread = hal.get_by_role("list", name="Thread")
    await hal.get_by_label("Message").fill(reply)
    await hal.get_by_role("button", name="Reply to customer").click()
    await expect(hal.get_by_role("status")).to_have_text("Your reply was sent to the customer.", timeout=TIMEOUT)
    await expect(hal.get_by_label("Message")).to_have_value("")
    await hal.get_by_label("Message").fill(note)
    await hal.get_by_role("button", name="Add internal note").click()
    await expect(thread.get_by_role("listitem")).to_have_count(2, timeout=TIMEOUT)
    await expect(thread.get_by_role("listitem").nth(0)).to_contain_text("Reply to customer")
    await expect(thread.get_by_role("listitem").nth(0)).to_contain_text(reply)
    await expect(thread.get_by_role("listitem").nth(1)).to_contain_text("Internal note")
    await expect(thread.get_by_role("listitem").nth(1)).to_contain_text(note)

    # A file that is not an image or a PDF is refused (415), with the reason.
    await hal.get_by_label("Attach a file").set_input_files(
        files=[{"name": "notes.html", "mimeType": "text/html", "buffer": b"<script>alert(1)</script>"}])
    await expect(hal.get_by_role("alert")).to_contain_text("Only images", timeout=TIMEOUT)

    # Start, then Resolve: the button goes, the focus stays on the actions.
    await hal.get_by_role("button", name="Start").click()
    await expect(fact(hal, "Status")).to_have_text("In progress", timeout=TIMEOUT)
    await hal.get_by_role("button", name="Resolve").click()
    await expect(fact(hal, "Status")).to_have_text("Resolved", timeout=TIMEOUT)
    await expect(hal.get_by_role("button", name="Resolve")).to_be_hidden()
    await expect(hal.get_by_role("button", name="Reopen")).to_be_visible()
    await expect(hal.get_by_role("heading", name="Actions")).to_be_focused()
    history = hal.get_by_role("table", name="History")
    await expect(history).to_contain_text("In progress → Resolved")
    await expect(history).to_contain_text(f"To {w.team} · Hal {t}")

    # A callback (回访) after resolution, and its outcome.
    callback = hal.get_by_role("form", name="Add callback")
    await expect(callback.get_by_label("Assignee")).to_have_value(str(w.d.users[w.hal]["id"]))
    await callback.get_by_label("Note").fill("Check that the refund arrived")
    await callback.get_by_role("button", name="Add callback").click()
    await expect(hal.get_by_role("status")).to_have_text("The callback is added.", timeout=TIMEOUT)
    outcome = hal.get_by_role("form", name=re.compile("^Outcome of the callback"))
    await outcome.get_by_label("Outcome", exact=True).select_option(label="Satisfied")
    await outcome.get_by_role("button", name="Record outcome").click()
    await expect(hal.locator("#callbacks")).to_contain_text("Outcome: Satisfied", timeout=TIMEOUT)

    # The customer: the link in their mail opens the public thread (no internal note), in a page
    # with the strict CSP; they reply with a picture.
    link = await mail_link(w, order_id)
    purposes = [r["purpose"] for r in await fetch(w.d, "SELECT purpose FROM outgoing_mail WHERE work_order_id = ? "
                                                       "ORDER BY id", order_id)]
    assert purposes == ["created", "reply", "resolved"], purposes
    _, customer, customer_errors = await new_page()
    response = await customer.goto(link)
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp, csp
    await expect(customer.get_by_role("heading", level=1)).to_have_text(subject)
    await expect(customer.get_by_text(number)).to_be_visible()
    await expect(customer.get_by_text("Resolved", exact=True)).to_be_visible()
    await expect(customer.get_by_role("listitem").filter(has_text=reply)).to_contain_text(f"Hal {t}")
    await expect(customer.get_by_text(note)).to_have_count(0)
    await expect(customer.get_by_role("navigation")).to_have_count(0)
    await customer.get_by_label("Your reply").fill(customer_text)
    await customer.get_by_label("Attach an image or PDF").set_input_files(
        files=[{"name": "bank-statement.png", "mimeType": "image/png", "buffer": PNG}])
    await customer.get_by_role("button", name="Send reply").click()
    await expect(customer.get_by_role("status")).to_have_text("Thanks — your reply was added.", timeout=TIMEOUT)
    mine = customer.get_by_role("listitem").filter(has_text=customer_text)
    await expect(mine.locator("strong")).to_have_text("You")
    await expect(customer.get_by_role("link", name="bank-statement.png")).to_be_visible()

    # The staff page: the customer's reply in the thread, the order reopened, the picture attached.
    await hal.reload()
    customer_entry = thread.get_by_role("listitem").filter(has_text=customer_text)
    await expect(customer_entry).to_contain_text("Customer", timeout=TIMEOUT)
    await expect(customer_entry).to_contain_text("on the status page")
    await expect(fact(hal, "Status")).to_have_text("Assigned")
    await expect(fact(hal, "Reopened")).to_have_text("1×")
    attachment = hal.get_by_role("link", name="bank-statement.png")
    await expect(attachment).to_have_attribute("href", re.compile(rf"^/api/work-orders/{order_id}/attachments/\d+$"))
    no_page_errors(csr_errors, hal_errors, customer_errors)


async def test_a_supervisor_filters_walks_the_list_by_keyboard_and_urges(world, new_page):
    w, t = world, world.t
    _, sue, errors = await new_page()
    await staff_sign_in(sue, w, w.sue)
    opts = await options(sue, w)
    site = opts["sites"][0]["id"]
    team = next(x["id"] for x in opts["teams"] if x["name"] == w.team)
    made = {}
    for key in ("late", "fresh", "done"):
        body = await api(sue, w, "/api/work-orders", {"site_id": site, "subject": f"Parcel {t} {key}", "team_id": team,
                                                       "customer_name": f"Dana {t}"})
        made[key] = body["order"]
    await api(sue, w, f"/api/work-orders/{made['done']['id']}/status", {"status": "resolved"})
    services(w.d, """
        await WorkOrder.filter(id=args["id"]).update(due_at=utcnow() - timedelta(hours=2, minutes=5))
    """, id=made["late"]["id"])
    late, fresh, done = (made[k]["number"] for k in ("late", "fresh", "done"))

    # Search: the open ones (Open is the default status), the overdue one first and marked in words.
    search = sue.get_by_role("searchbox", name="Search")
    await search.fill(f"Parcel {t}")
    await expect(order_rows(sue)).to_have_count(2, timeout=TIMEOUT)
    await expect(sue.locator("#wo-status")).to_have_text("2 orders")
    await expect(order_rows(sue).nth(0)).to_contain_text(late)
    await expect(row_of(sue, late).get_by_role("cell").nth(8)).to_have_text(re.compile(r"Overdue by 2 h \d+ min"))
    await expect(sue).to_have_url(re.compile(r"[?&]q=Parcel"))

    # Overdue only; saved as a view.
    await sue.get_by_label("Overdue only").check()
    await expect(order_rows(sue)).to_have_count(1, timeout=TIMEOUT)
    await expect(order_rows(sue).nth(0)).to_contain_text(late)
    await expect(sue).to_have_url(re.compile(r"[?&]overdue=1"))
    await sue.get_by_label("View name").fill(f"Late parcels {t}")
    await sue.get_by_role("button", name="Save view").click()
    views = sue.get_by_role("region", name="Saved views")
    await expect(views.get_by_role("link", name=f"Late parcels {t}")).to_be_visible()
    await sue.get_by_label("Overdue only").uncheck()
    await expect(order_rows(sue)).to_have_count(2, timeout=TIMEOUT)

    # Status filters: Resolved, All; nothing matches: the empty state.
    await sue.get_by_label("Status").select_option(label="Resolved")
    await expect(order_rows(sue)).to_have_count(1, timeout=TIMEOUT)
    await expect(order_rows(sue).nth(0)).to_contain_text(done)
    await sue.get_by_label("Status").select_option(label="All")
    await expect(order_rows(sue)).to_have_count(3, timeout=TIMEOUT)
    await expect(sue.locator("#wo-status")).to_have_text("3 orders")
    await search.fill(f"Nothing like this {t}")
    await expect(sue.get_by_text("No work orders match these filters.")).to_be_visible(timeout=TIMEOUT)
    await expect(sue.locator("#wo-status")).to_have_text("0 orders")

    # The saved view (a bookmark of the filters) brings them back, also after a reload.
    await sue.reload()
    await views.get_by_role("link", name=f"Late parcels {t}").click()
    await expect(sue.get_by_label("Overdue only")).to_be_checked(timeout=TIMEOUT)
    await expect(search).to_have_value(f"Parcel {t}")
    await expect(sue.get_by_label("Status")).to_have_value("open")
    await expect(order_rows(sue)).to_have_count(1, timeout=TIMEOUT)
    await views.get_by_role("button", name=f"Delete view Late parcels {t}").click()
    await expect(views.get_by_role("link", name=f"Late parcels {t}")).to_have_count(0)

    # The keyboard: j / k move through the rows, "/" goes to the search box, Enter opens the order.
    await sue.get_by_label("Overdue only").uncheck()
    await expect(order_rows(sue)).to_have_count(2, timeout=TIMEOUT)
    await expect(sue.get_by_text("Enter opens it")).to_be_visible()
    await sue.get_by_role("heading", name="Work orders", exact=True).click()
    await sue.keyboard.press("/")
    await expect(search).to_be_focused()
    await sue.get_by_role("heading", name="Work orders", exact=True).click()
    await sue.keyboard.press("j")
    await expect(sue.get_by_role("link", name=late, exact=True)).to_be_focused()
    await sue.keyboard.press("j")
    await expect(sue.get_by_role("link", name=fresh, exact=True)).to_be_focused()
    await sue.keyboard.press("k")
    await expect(sue.get_by_role("link", name=late, exact=True)).to_be_focused()
    await sue.keyboard.press("Enter")
    await expect(sue).to_have_url(w.base + f"/work-orders/{made['late']['id']}", timeout=TIMEOUT)

    # Urge the late order: counted and shown.
    await expect(fact(sue, "Urges")).to_have_text("Not urged", timeout=TIMEOUT)
    await expect(fact(sue, "Due")).to_contain_text("Overdue by 2 h")
    urge = sue.get_by_role("form", name="Urge")
    await urge.get_by_label("Urge note (optional)").fill("The customer called twice")
    await urge.get_by_role("button", name="Urge").click()
    await expect(fact(sue, "Urges")).to_have_text("Urged 1×", timeout=TIMEOUT)
    await expect(sue.get_by_role("table", name="History")).to_contain_text("The customer called twice")
    await sue.go_back()
    await expect(row_of(sue, late).get_by_role("cell").nth(9)).to_have_text("1", timeout=TIMEOUT)
    no_page_errors(errors)


async def test_a_supervisor_dispatches_two_orders_at_once(world, new_page):
    w, t = world, world.t
    _, sue, errors = await new_page()
    await staff_sign_in(sue, w, w.sue)
    site = (await options(sue, w))["sites"][0]["id"]
    numbers = []
    for key in ("one", "two"):
        body = await api(sue, w, "/api/work-orders", {"site_id": site, "subject": f"Bulk {t} {key}"})
        numbers.append(body["order"]["number"])
    await sue.get_by_role("searchbox", name="Search").fill(f"Bulk {t}")
    await expect(order_rows(sue)).to_have_count(2, timeout=TIMEOUT)

    await sue.get_by_label("Select all").check()
    for number in numbers:
        await expect(sue.get_by_label(f"Select {number}")).to_be_checked()
    await sue.get_by_label("Select all").uncheck()
    for number in numbers:
        await sue.get_by_label(f"Select {number}").check()
    await expect(sue.get_by_label("Select all")).to_be_checked()
    bulk = sue.get_by_role("form", name="Dispatch selected")
    await expect(bulk).to_contain_text("(2 selected)")
    await bulk.get_by_label("Team").select_option(label=w.team)
    await bulk.get_by_label("Handler").select_option(label=f"Hana {t}")
    await bulk.get_by_role("button", name="Dispatch").click()
    await expect(bulk.get_by_role("status")).to_have_text("Dispatched 2 orders.", timeout=TIMEOUT)
    for number in numbers:
        row = row_of(sue, number)
        await expect(row).to_contain_text(w.team, timeout=TIMEOUT)
        await expect(row).to_contain_text(f"Hana {t}")
        await expect(row).to_contain_text("Assigned")
        await expect(sue.get_by_label(f"Select {number}")).not_to_be_checked()
    no_page_errors(errors)


async def test_a_supervisor_transfers_edits_watches_closes_and_reopens_an_order(world, new_page):
    w, t = world, world.t
    _, sue, errors = await new_page()
    await staff_sign_in(sue, w, w.sue)
    opts = await options(sue, w)
    team = next(x["id"] for x in opts["teams"] if x["name"] == w.team)
    made = (await api(sue, w, "/api/work-orders", {"site_id": opts["sites"][0]["id"], "subject": f"Moved {t}",
                                                    "team_id": team}))["order"]
    await sue.goto(w.base + f"/work-orders/{made['id']}")
    await expect(sue.get_by_role("heading", level=1)).to_contain_text(f"Moved {t}", timeout=TIMEOUT)

    # A transfer needs a reason: refused next to the field without one.
    transfer = sue.get_by_role("form", name="Transfer")
    await transfer.get_by_label("Team").select_option(label=w.team)
    await transfer.get_by_label("Handler").select_option(label=f"Hana {t}")
    await transfer.get_by_role("button", name="Transfer").click()
    reason = transfer.get_by_label("Reason")
    await expect(reason).to_have_attribute("aria-invalid", "true")
    await expect(reason).to_have_accessible_description("A reason is needed.")
    await expect(sue.get_by_role("alert")).to_contain_text("give the reason")
    await reason.fill("Hana knows this customer")
    await transfer.get_by_role("button", name="Transfer").click()
    await expect(sue.get_by_role("status")).to_have_text("The order is transferred.", timeout=TIMEOUT)
    await expect(fact(sue, "Handler")).to_have_text(f"Hana {t}")
    await expect(sue.get_by_role("table", name="History")).to_contain_text("Reason: Hana knows this customer")

    # Category and priority.
    edit = sue.get_by_role("form", name="Edit")
    await edit.get_by_label("Category").select_option(label=w.category)
    await edit.get_by_label("Priority").select_option(label="Urgent")
    await edit.get_by_role("button", name="Save changes").click()
    await expect(fact(sue, "Priority")).to_have_text("Urgent", timeout=TIMEOUT)
    await expect(fact(sue, "Category")).to_have_text(w.category)

    # Watch, stop watching.
    await sue.get_by_role("button", name="Watch", exact=True).click()
    await expect(fact(sue, "Watchers")).to_have_text(f"Sue {t}", timeout=TIMEOUT)
    await expect(sue.get_by_role("button", name="Stop watching")).to_have_attribute("aria-pressed", "true")
    await sue.get_by_role("button", name="Stop watching").click()
    await expect(fact(sue, "Watchers")).to_have_text("Nobody", timeout=TIMEOUT)

    # Resolve, Close, Reopen.
    await sue.get_by_role("button", name="Resolve").click()
    await sue.get_by_role("button", name="Close", exact=True).click()
    await expect(fact(sue, "Status")).to_have_text("Closed", timeout=TIMEOUT)
    await expect(sue.get_by_role("button", name="Reply to customer")).to_be_hidden()
    await sue.get_by_role("button", name="Reopen").click()
    await expect(fact(sue, "Status")).to_have_text("Assigned", timeout=TIMEOUT)
    await expect(fact(sue, "Reopened")).to_have_text("1×")
    no_page_errors(errors)


async def test_a_marketer_has_no_work_orders(world, new_page):
    w = world
    _, page, errors = await new_page()
    await page.goto(w.base + "/login")
    await page.get_by_label("Email").fill("marketer@example.com")
    await page.get_by_label("Password").fill(w.d.password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(re.compile(r"/explorer"), timeout=TIMEOUT)
    await expect(page.get_by_role("navigation", name="Sections").get_by_role("link", name="Work orders")).to_have_count(0)
    response = await page.goto(w.base + "/work-orders")
    assert response.status == 403
    response = await page.request.get(w.base + "/api/work-orders")
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "forbidden"


async def test_markup_from_staff_and_customers_is_shown_as_text(world, new_page):
    w, t = world, world.t
    subject = f'<img src=x onerror="alert(1)"><script>alert(2)</script> {t}'
    description = "<b>bold?</b><script>window.__pwned = 1</script>"
    customer_text = f'<svg onload="alert(3)"></svg><a href="javascript:alert(4)">click</a> {t}'
    _, sue, errors = await new_page()
    dialogs = []
    sue.on("dialog", lambda d: dialogs.append(d.message))
    await staff_sign_in(sue, w, w.sue)
    site = (await options(sue, w))["sites"][0]["id"]
    made = (await api(sue, w, "/api/work-orders", {"site_id": site, "subject": subject, "description": description,
                                                    "customer_email": f"mallory-{t}@example.com",
                                                    "language": "zh-CN"}))["order"]

    # The customer (in Chinese) replies with markup on their status page.
    _, customer, customer_errors = await new_page()
    customer.on("dialog", lambda d: dialogs.append(d.message))
    await customer.goto(await mail_link(w, made["id"]))
    await expect(customer.get_by_role("heading", level=1)).to_have_text(subject)
    assert await customer.locator("html").get_attribute("lang") == "zh-CN"
    await customer.get_by_label("您的回复").fill(customer_text)
    await customer.get_by_role("button", name="发送回复").click()
    await expect(customer.get_by_role("status")).to_have_text("已收到您的回复，谢谢！", timeout=TIMEOUT)
    await expect(customer.get_by_role("listitem").filter(has_text=customer_text).locator("strong")).to_have_text("您")
    assert await customer.evaluate("document.querySelectorAll('main img, main svg, main script, main b').length") == 0

    # The staff list and the order page.
    await sue.get_by_role("searchbox", name="Search").fill(t)
    await expect(row_of(sue, made["number"])).to_contain_text(subject, timeout=TIMEOUT)
    await row_of(sue, made["number"]).get_by_role("link", name=made["number"]).click()
    await expect(sue.get_by_role("heading", level=1)).to_have_text(made["number"] + " · " + subject, timeout=TIMEOUT)
    await expect(sue.get_by_text(description)).to_be_visible()
    await expect(sue.get_by_role("list", name="Thread").get_by_role("listitem")).to_contain_text(customer_text)
    assert await sue.evaluate(
        "document.querySelectorAll('main img, main svg, main script, main b, main a[href^=\"javascript\"]').length") == 0
    assert await sue.evaluate("window.__pwned === undefined")
    assert dialogs == []
    no_page_errors(errors, customer_errors)
