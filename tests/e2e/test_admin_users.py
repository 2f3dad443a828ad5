"""The Users admin page in Chromium: an admin goes from the console's header to Admin → Users, adds a
CSR to a department (a duplicate e-mail first: the message shows next to the field), copies the
one-time set-password link; the new CSR opens it in their own browser, sets a password and signs
in. Then the admin deactivates a CSR who is signed in with a chat: that console is signed out at
once, and the chat is re-queued and reaches a colleague. The audit log has each step.

The deployment is this module's own; every name is unique to the test."""

from __future__ import annotations

import json
import re

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import own_deployment
from tests.e2e.helpers import chat_list, set_status, sign_in
from tests.support import clients
from tests.support.clients import new_id
from tests.support.db import fetch
from tests.support.server import cli

TIMEOUT = 30_000
NEW_PASSWORD = "a-new-csr-password"


@pytest.fixture(scope="module")
def center(request):
    yield from own_deployment(request, "admin-users")


async def test_an_admin_adds_a_csr_by_link_and_deactivates_another_mid_chat(center, new_page):
    d, t = center, new_id()[:6]
    base = d.server.url
    admin, colleague_email, leaving_email = (f"ada-{t}@example.com", f"cleo-{t}@example.com",
                                             f"gus-{t}@example.com")
    new_email = f"nia-{t}@example.com"
    admin_id = d.create_user(admin, "admin", f"Ada {t}")["id"]
    d.create_user(colleague_email, "agent", f"Cleo {t}")
    leaving_id = d.create_user(leaving_email, "agent", f"Gus {t}")["id"]
    department_name = f"Care {t}"
    department = json.loads(cli(d.env, "create-department", "--site", d.site_key, "--name", department_name,
                                "--member", colleague_email, "--member", leaving_email, "--json"))["id"]

    # The admin: console → Admin → Users.
    context, page, errors = await new_page()
    await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    await sign_in(page, base, admin, d.password)
    await page.get_by_role("navigation", name="Sections").get_by_role("link", name="Admin").click()
    await page.get_by_role("navigation", name="Admin").get_by_role("link", name="Users").click()
    await expect(page.get_by_role("heading", name="Users", exact=True)).to_be_visible(timeout=TIMEOUT)

    # "Add user", with an e-mail that is taken: refused, the message next to the field, what was typed kept.
    form = page.locator("form").filter(has=page.get_by_role("button", name="Add user"))
    await form.get_by_label("Email", exact=True).fill(colleague_email.upper())
    await form.get_by_label("Name", exact=True).fill(f"Nia {t}")
    await form.get_by_label("Role", exact=True).select_option(label="CSR")
    await form.get_by_label(f"{department_name} (Test shop)").check()
    await form.get_by_label(f"Skill level for {department_name}").fill("8")
    await form.get_by_label("Capacity", exact=True).fill("2")
    await page.get_by_role("button", name="Add user").click()
    email_field = form.get_by_label("Email", exact=True)
    await expect(email_field).to_have_attribute("aria-invalid", "true", timeout=TIMEOUT)
    await expect(email_field).to_have_accessible_description(re.compile("exists already"))
    await expect(form.get_by_label(f"{department_name} (Test shop)")).to_be_checked()
    await expect(form.get_by_label(f"Skill level for {department_name}")).to_have_value("8")

    await email_field.fill(new_email)
    await page.get_by_role("button", name="Add user").click()
    await expect(page.get_by_role("heading", name=f"Set-password link for Nia {t}")).to_be_visible(timeout=TIMEOUT)
    link = await page.get_by_role("textbox", name="Set-password link").input_value()
    assert link.startswith(base + "/set-password/")
    await page.get_by_role("button", name="Copy link").click()
    await expect(page.get_by_role("status").filter(has_text="Copied.")).to_be_visible()
    assert await page.evaluate("navigator.clipboard.readText()") == link
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=f"Nia {t}", exact=True))
    await expect(row).to_contain_text(f"{department_name} · level 8")
    await expect(row.get_by_role("cell").nth(3)).to_have_text("2")
    await expect(row).to_contain_text("Never")

    # The new CSR, in a browser of their own: the link, a password, signed in.
    _, newcomer, newcomer_errors = await new_page()
    await newcomer.goto(link)
    await expect(newcomer.get_by_label("Email")).to_have_value(new_email)
    await newcomer.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    await newcomer.get_by_label("Repeat the new password").fill(NEW_PASSWORD)
    await newcomer.get_by_role("button", name="Set password").click()
    await expect(newcomer.get_by_role("status")).to_contain_text("Your password is set", timeout=TIMEOUT)
    await newcomer.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    await newcomer.get_by_role("button", name="Sign in").click()
    await expect(newcomer.get_by_text("Connected")).to_be_visible(timeout=TIMEOUT)
    await newcomer.goto(link)  # once only
    await expect(newcomer.get_by_role("alert")).to_contain_text("used already")

    # A CSR signed in with a chat; a colleague (Offline for now) in the same department.
    _, leaving, leaving_errors = await new_page()
    await sign_in(leaving, base, leaving_email, d.password)
    await set_status(leaving, "Available")
    colleague = await clients.agent(base, colleague_email, d.password)
    visitor = await clients.visitor(base, d.site_key, d.origin)
    try:
        sent = await visitor.call("message", {"client_id": new_id(), "body": "My order never came",
                                              "department_id": department})
        assert sent["ok"], sent
        chat = sent["conversation_id"]
        await expect(chat_list(leaving)).to_have_count(1, timeout=TIMEOUT)
        assert (await colleague.call("set_status", {"status": "available"}))["ok"]

        # Deactivated: their console is signed out at once; the chat goes to the colleague.
        await page.get_by_role("button", name=f"Deactivate Gus {t}").click()
        await expect(page.get_by_role("status").filter(has_text=f"Gus {t} is deactivated")).to_be_visible(
            timeout=TIMEOUT)
        await expect(leaving.get_by_text("Your session has ended.")).to_be_visible(timeout=TIMEOUT)
        await colleague.rec.wait_for("conversation.assigned", lambda c: c["id"] == chat, timeout=TIMEOUT / 1000)
        gus = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=f"Gus {t}", exact=True))
        await expect(gus).to_contain_text("Deactivated")
        await expect(gus.get_by_role("button", name=f"Reactivate Gus {t}")).to_be_visible()
    finally:
        await visitor.disconnect()
        await clients.sign_off(colleague)
        await colleague.disconnect()

    new_id_row = await fetch(d, "SELECT id FROM app_user WHERE email = ?", new_email)
    audit = await fetch(d, "SELECT actor_id, action, target_user_id FROM audit_event WHERE target_user_id IN (?, ?) "
                           "ORDER BY id", new_id_row[0]["id"], leaving_id)
    assert [(r["action"], r["actor_id"]) for r in audit if r["target_user_id"] == new_id_row[0]["id"]] == [
        ("user_create", admin_id), ("password_link", admin_id), ("password_set", new_id_row[0]["id"])]
    assert [(r["action"], r["actor_id"]) for r in audit if r["target_user_id"] == leaving_id][-1:] == [
        ("deactivate", admin_id)]
    assert errors.errors == [] and newcomer_errors.errors == [] and leaving_errors.errors == []
