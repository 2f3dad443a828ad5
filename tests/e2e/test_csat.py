"""After a chat ends the visitor rates it; the CSR sees the rating in the console."""

from __future__ import annotations

from playwright.async_api import expect

from tests.e2e.helpers import chat_list, launcher, set_status, sign_in, visitor_send, widget, widget_log
from tests.support.clients import new_id

COMMENT = 'Fast help <img src=x onerror="window.__xss=1">'


async def test_the_visitor_rates_the_chat_and_the_csr_sees_it(demo, new_page):
    base = demo.server.url
    tag = new_id()[:6]
    demo.create_user(f"tia-{tag}@example.com", "agent", f"Tia {tag}")
    _, csr, csr_errors = await new_page()
    _, visitor, visitor_errors = await new_page()
    await sign_in(csr, base, f"tia-{tag}@example.com", demo.password)
    await set_status(csr, "Available")
    await visitor.goto(base + "/demo/")
    await launcher(visitor).click()
    await visitor_send(visitor, "Is the red tent waterproof?")
    # (The demo deployment is shared: the CSR may be handed another test's chat too.)
    mine = chat_list(csr).filter(has_text="Is the red tent waterproof?")
    await expect(mine).to_have_count(1)
    await mine.click()
    await csr.get_by_label("Message").fill("Yes, 3000 mm.")
    await csr.get_by_label("Message").press("Enter")
    await expect(widget_log(visitor).get_by_text("Yes, 3000 mm.")).to_be_visible()
    await csr.get_by_role("button", name="Close chat").click()

    rating = widget(visitor).get_by_role("group", name="Rate this chat")
    await expect(rating).to_be_visible()
    await expect(rating.get_by_text("How was this chat?")).to_be_visible()
    await expect(rating.get_by_role("button", name="Send rating")).to_be_disabled()
    await rating.get_by_role("button", name="Good").click()
    await expect(rating.get_by_role("button", name="Good")).to_have_attribute("aria-pressed", "true")
    await rating.get_by_label("Comment").fill(COMMENT)
    await rating.get_by_role("button", name="Send rating").click()
    await expect(rating.get_by_text("Thanks for your feedback")).to_be_visible()

    # The CSR sees it at once, comment as text.
    await expect(csr.get_by_text(f"Rated Good: “{COMMENT}”")).to_be_visible()
    assert await visitor.evaluate("typeof window.__xss") == "undefined"
    assert await csr.evaluate("typeof window.__xss") == "undefined"
    assert visitor_errors.errors == [] and csr_errors.errors == []
    await set_status(csr, "Offline")
