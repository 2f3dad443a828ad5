"""The Sites admin page in Chromium: an admin goes from the console header to Admin → Sites, makes a
site (an origin that is not one is refused next to its field), copies its snippet with "Copy
snippet", and that exact snippet, on a page of another origin, carries a chat to a CSR. Without the
clipboard API the snippet is selected and the page says to press Ctrl+C.

The deployment is this module's own (with the demo site): its sites and CSR are nobody else's."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import own_deployment
from tests.e2e.helpers import host_site, launcher, visitor_send, widget, widget_log
from tests.support import clients
from tests.support.clients import new_id
from tests.support.server import free_port

ADMIN = "admin@demo.switchboard"
TIMEOUT = 20_000  # ms: a busy CI machine


@pytest.fixture(scope="module")
def center(request):
    yield from own_deployment(request, "admin-sites", seed_demo=True)


@pytest.fixture
def shop():
    """A customer's site on an origin of its own (a port of this test): it serves whatever page
    `shop["html"]` holds — the snippet the admin copied, once there is one."""
    port = free_port()
    holder = {"html": b"<!doctype html><title>Shop</title><h1>Coming soon</h1>", "origin": f"http://127.0.0.1:{port}"}
    with host_site(port, lambda _path: holder["html"]) as url:
        holder["url"] = url
        yield holder


async def admin_on_sites(new_page, base: str, password: str, **context):
    """An admin signed in, from the console header's "Admin" to the Sites page."""
    context_, page, errors = await new_page(**context)
    await page.goto(base + "/login")
    await page.get_by_label("Email").fill(ADMIN)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("navigation", name="Sections").get_by_role("link", name="Admin").click()
    await page.get_by_role("navigation", name="Admin").get_by_role("link", name="Sites").click()
    await expect(page.get_by_role("heading", name="Sites", exact=True)).to_be_visible(timeout=TIMEOUT)
    return context_, page, errors


async def new_site(page, name: str, origins: str) -> None:
    await page.get_by_role("button", name="New site").click()
    await page.get_by_label("Name", exact=True).fill(name)
    await page.get_by_label("Allowed origins").fill(origins)
    await page.get_by_role("button", name="Save").click()


async def test_an_admin_makes_a_site_copies_its_snippet_and_a_visitor_chats_through_it(center, shop, new_page):
    base, tag = center.server.url, new_id()[:6]
    name = f"Outdoor shop {tag}"
    csr_email = f"csr-{tag}@example.com"
    center.create_user(csr_email, "agent", f"Casey {tag}")  # in no department: every site's general queue
    context, page, errors = await admin_on_sites(new_page, base, center.password)
    await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)

    # An origin that is not one: the message is next to the field, nothing is made.
    await new_site(page, name, "shop.example.com/checkout")
    origins = page.get_by_label("Allowed origins")
    await expect(page.locator("#f-allowed-origins-error")).to_have_text(
        re.compile(r"is not an origin like https://shop\.example\.com"), timeout=TIMEOUT)
    await expect(origins).to_have_attribute("aria-invalid", "true")
    await expect(origins).to_have_accessible_description(re.compile("is not an origin like"))
    await expect(page.get_by_role("alert")).to_contain_text("Nothing was saved")
    await expect(page.get_by_role("table").get_by_text(name)).to_have_count(0)

    # The shop's real origin: the site is made and its snippet shown.
    await origins.fill(shop["origin"])
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("heading", name=name)).to_be_visible(timeout=TIMEOUT)
    await expect(page.get_by_role("status").filter(has_text="is created")).to_be_visible()
    row = page.get_by_role("row").filter(has_text=name)
    await expect(row).to_contain_text(shop["origin"])
    await expect(row.get_by_role("button", name=f"Disable {name}")).to_be_visible()

    await page.get_by_role("button", name="Copy snippet").click()
    await expect(page.get_by_role("status").filter(has_text="Copied to the clipboard.")).to_be_visible(timeout=TIMEOUT)
    copied = await page.evaluate("navigator.clipboard.readText()")
    shown = await page.get_by_label(f"Snippet for {name}").input_value()
    assert copied == shown, (copied, shown)
    assert re.fullmatch(rf'<script async src="{re.escape(base)}/widget\.js" data-site="site_[A-Za-z0-9_-]+"></script>',
                        copied), copied
    assert errors.errors == []

    # That exact line on the shop's page (another origin): a visitor chats with a CSR through it.
    shop["html"] = (f"<!doctype html><html><head><title>Outdoor shop</title></head><body><h1>Tents</h1>"
                    f"{copied}</body></html>").encode()
    csr = await clients.agent(base, csr_email, center.password)
    try:
        assert (await csr.call("set_status", {"status": "available"}))["ok"]
        _, visitor, visitor_errors = await new_page()
        await visitor.goto(shop["url"])
        await launcher(visitor).click()
        question = f"Is the Alpine 2 waterproof? {tag}"
        await visitor_send(visitor, question)
        assigned = await csr.rec.wait_for("conversation.assigned", timeout=TIMEOUT / 1000)
        opened = await csr.call("open", {"conversation_id": assigned["id"]})
        assert opened["ok"] and opened["messages"][0]["body"] == question, opened
        reply = f"Yes, fully taped seams. {tag}"
        sent = await csr.call("message", {"conversation_id": assigned["id"], "client_id": new_id(), "body": reply})
        assert sent["ok"], sent
        await expect(widget_log(visitor).get_by_text(reply)).to_be_visible(timeout=TIMEOUT)
        assert (await csr.call("close", {"conversation_id": assigned["id"]}))["ok"]
        assert visitor_errors.errors == []
    finally:
        await clients.sign_off(csr)
        await csr.disconnect()


async def test_without_the_clipboard_api_the_snippet_is_selected_to_copy_by_hand(center, shop, new_page):
    base, tag = center.server.url, new_id()[:6]
    name = f"Old browser shop {tag}"
    _, page, errors = await admin_on_sites(new_page, base, center.password)
    await page.add_init_script("Object.defineProperty(navigator, 'clipboard', {value: undefined});")
    await new_site(page, name, shop["origin"])
    await expect(page.get_by_role("heading", name=name)).to_be_visible(timeout=TIMEOUT)
    await page.reload()  # the init script applies from this load on
    await page.get_by_role("button", name="Copy snippet").click()
    await expect(page.get_by_role("status").filter(has_text="Press Ctrl+C to copy the selected snippet.")) \
        .to_be_visible(timeout=TIMEOUT)
    snippet = page.get_by_label(f"Snippet for {name}")
    await expect(snippet).to_be_focused()
    selected = await snippet.evaluate("field => field.value.substring(field.selectionStart, field.selectionEnd)")
    assert selected == await snippet.input_value() and selected.startswith("<script async src=")

    # Disabled from the list: the shop's widget says chat is not available.
    await page.get_by_role("row").filter(has_text=name).get_by_role("button", name=f"Disable {name}").click()
    await expect(page.get_by_role("status").filter(has_text=f"{name} is disabled")).to_be_visible(timeout=TIMEOUT)
    shop["html"] = f"<!doctype html><title>Shop</title><h1>Shop</h1>{selected}".encode()
    _, visitor, _ = await new_page()
    warnings: list[str] = []
    visitor.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    await visitor.goto(shop["url"])
    await launcher(visitor).click()
    await expect(widget(visitor).get_by_text("Chat is not available on this page.")).to_be_visible(timeout=TIMEOUT)
    assert any("site_disabled" in w for w in warnings), warnings
    assert errors.errors == []


async def test_after_a_key_rotation_a_returning_visitor_finds_their_earlier_chat(center, shop, new_page):
    """Pages with the old snippet keep their chat during the grace period, and a visitor met with
    the old key is the same visitor — with their earlier conversation — on a page with the new one."""
    base, tag = center.server.url, new_id()[:6]
    name = f"Rotating shop {tag}"
    _, page, errors = await admin_on_sites(new_page, base, center.password)
    await new_site(page, name, shop["origin"])
    await expect(page.get_by_role("heading", name=name)).to_be_visible(timeout=TIMEOUT)
    old_snippet = await page.get_by_label(f"Snippet for {name}").input_value()

    shop["html"] = f"<!doctype html><title>Shop</title><h1>Shop</h1>{old_snippet}".encode()
    _, visitor, visitor_errors = await new_page()
    await visitor.goto(shop["url"])
    await launcher(visitor).click()
    question = f"Do you ship to Iceland? {tag}"
    await visitor_send(visitor, question)
    await expect(widget_log(visitor).get_by_text(question)).to_be_visible(timeout=TIMEOUT)

    await page.get_by_role("button", name=f"Rotate key of {name}").click()
    await expect(page.get_by_role("status").filter(has_text=f"{name} has a new key")).to_be_visible(timeout=TIMEOUT)
    new_snippet = await page.get_by_label(f"Snippet for {name}").input_value()
    assert new_snippet != old_snippet

    # The old snippet still works during the grace period.
    await visitor.reload()
    await expect(widget_log(visitor).get_by_text(question)).to_be_visible(timeout=TIMEOUT)
    # The page now carries the new snippet: the same visitor, with their chat.
    shop["html"] = f"<!doctype html><title>Shop</title><h1>Shop</h1>{new_snippet}".encode()
    await visitor.reload()
    panel = widget(visitor)
    if not await panel.is_visible():
        await launcher(visitor).click()
    await expect(widget_log(visitor).get_by_text(question)).to_be_visible(timeout=TIMEOUT)
    assert errors.errors == [] and visitor_errors.errors == []
