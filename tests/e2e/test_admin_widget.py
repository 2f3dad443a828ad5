"""The Widget admin page in Chromium: an admin changes the accent colour and the greetings, sees them
in the preview frame (the real widget, opening no socket) before saving, saves, and visitors of the
site get them — the colour on the launcher and the header, the greeting of their browser's
language; a colour too light for white text is refused next to "Accent colour"; a required e-mail
is asked for before the first message, and the topic picker goes when visitors may not pick one.

The deployment is this module's own (with the demo site, whose pages carry the widget)."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import own_deployment
from tests.e2e.helpers import launcher, visitor_send, widget, widget_log
from tests.support.clients import new_id

ADMIN = "admin@demo.switchboard"
TIMEOUT = 20_000  # ms: a busy CI machine
CHINESE_LAUNCHER = re.compile(r"^(打开|关闭)聊天")


@pytest.fixture(scope="module")
def center(request):
    yield from own_deployment(request, "admin-widget", seed_demo=True)


async def admin_on_widget_page(new_page, base: str, password: str):
    """An admin signed in, from the console header's "Admin" to the demo site's Widget page."""
    context, page, errors = await new_page()
    await page.goto(base + "/login")
    await page.get_by_label("Email").fill(ADMIN)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("navigation", name="Sections").get_by_role("link", name="Admin").click()
    await page.get_by_role("navigation", name="Admin").get_by_role("link", name="Widget").click()
    await page.get_by_label("Site", exact=True).select_option(label="Demo")
    await page.get_by_role("button", name="Show").click()
    await expect(page.get_by_role("heading", name="Widget of Demo")).to_be_visible(timeout=TIMEOUT)
    return context, page, errors


def preview_of(page):
    return page.get_by_title("Widget preview").content_frame


async def test_an_admin_sees_the_new_look_in_the_preview_before_saving_and_visitors_get_it(center, new_page):
    base, tag = center.server.url, new_id()[:6]
    greeting, greeting_zh = f"Welcome to Acme Outdoor ({tag}) — ask us anything.", f"欢迎光临 ({tag})"
    context, page, errors = await admin_on_widget_page(new_page, base, center.password)
    socket_requests: list[str] = []
    page.on("request", lambda r: socket_requests.append(r.url) if "/socket.io/" in r.url else None)

    # The preview: the real widget, its panel open, the saved look.
    preview = preview_of(page)
    panel = widget(preview)
    await expect(panel).to_be_visible(timeout=TIMEOUT)
    await expect(panel.get_by_label("Message")).to_be_visible()
    await expect(panel.get_by_text(greeting)).to_have_count(0)

    # Unsaved changes show in the preview at once.
    await page.get_by_label("Accent colour").fill("#0f766e")
    await expect(page.get_by_text("Contrast with white text: 5.47:1.")).to_be_visible()
    await page.get_by_label("Greeting (English)").fill(greeting)
    await page.get_by_label("Greeting (简体中文)").fill(greeting_zh)
    await page.get_by_label("Header title (English)").fill(f"Acme help {tag}")
    await page.get_by_label("Launcher position").select_option(label="Bottom left")
    await expect(panel.get_by_text(greeting)).to_be_visible(timeout=TIMEOUT)
    await expect(panel.get_by_role("heading", name=f"Acme help {tag}")).to_be_visible()
    await expect(launcher(preview)).to_have_css("background-color", "rgb(15, 118, 110)")
    await expect(panel.get_by_role("button", name="Send")).to_have_css("background-color", "rgb(15, 118, 110)")
    box, frame = await launcher(preview).bounding_box(), await page.get_by_title("Widget preview").bounding_box()
    assert box["x"] - frame["x"] < 100, (box, frame)  # bottom left of the frame

    # "Preview language" shows the Chinese texts (the frame reloads and gets the form's values again).
    await page.get_by_label("Preview language").select_option(label="简体中文")
    await expect(widget(preview_of(page)).get_by_text(greeting_zh)).to_be_visible(timeout=TIMEOUT)
    await expect(preview_of(page).get_by_role("button", name=CHINESE_LAUNCHER)).to_have_css("background-color", "rgb(15, 118, 110)")

    # Nothing was saved yet: a visitor still gets the old look.
    _, visitor, _ = await new_page()
    await visitor.goto(base + "/demo/")
    await expect(launcher(visitor)).to_have_css("background-color", "rgb(37, 99, 235)", timeout=TIMEOUT)

    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible(timeout=TIMEOUT)
    await expect(page.get_by_label("Accent colour")).to_have_value("#0f766e")
    await expect(page.get_by_label("Greeting (English)")).to_have_value(greeting)
    # The preview never opened a socket (it makes no visitor), and the CSP let everything run.
    assert socket_requests == []
    assert errors.errors == []

    # A visitor of the site: the new colour, corner and greeting (English browser) …
    _, visitor, visitor_errors = await new_page(locale="en-GB")
    await visitor.goto(base + "/demo/pricing")
    await expect(launcher(visitor)).to_have_css("background-color", "rgb(15, 118, 110)", timeout=TIMEOUT)
    box = await launcher(visitor).bounding_box()
    assert box and box["x"] < 100, box
    await launcher(visitor).click()
    await expect(widget(visitor).get_by_text(greeting)).to_be_visible(timeout=TIMEOUT)
    await expect(widget(visitor).get_by_role("heading", name=f"Acme help {tag}")).to_be_visible()
    await expect(widget(visitor).get_by_role("button", name="Send")).to_have_css("background-color", "rgb(15, 118, 110)")
    assert visitor_errors.errors == []
    # … and a Chinese browser gets the Chinese greeting (the title left empty: the widget's own).
    _, chinese, _ = await new_page(locale="zh-CN")
    await chinese.goto(base + "/demo/")
    await chinese.get_by_role("button", name=CHINESE_LAUNCHER).click()
    await expect(widget(chinese).get_by_text(greeting_zh)).to_be_visible(timeout=TIMEOUT)
    await expect(widget(chinese).get_by_role("heading", name="在线咨询")).to_be_visible()


async def test_a_colour_too_light_for_white_text_is_refused_next_to_the_field(center, new_page):
    _, page, errors = await admin_on_widget_page(new_page, center.server.url, center.password)
    before = await page.get_by_label("Accent colour").input_value()
    colour = page.get_by_label("Accent colour")
    await colour.fill("#7fb3ff")
    # Said while typing …
    await expect(page.get_by_text("Contrast with white text: 2.14:1, too low")).to_be_visible(timeout=TIMEOUT)
    # … and refused on Save, next to the field, with the ratio; nothing stored.
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#f-accent-color-error")).to_have_text(
        re.compile(r"White text on #7fb3ff has a contrast ratio of 2\.14:1; WCAG AA needs at least 4\.5:1"),
        timeout=TIMEOUT)
    await expect(colour).to_have_attribute("aria-invalid", "true")
    await expect(colour).to_have_accessible_description(re.compile(r"2\.14:1"))
    await expect(colour).to_have_value("#7fb3ff")  # what was typed, to correct it
    await expect(page.get_by_role("alert")).to_contain_text("Nothing was saved")
    await page.get_by_role("navigation", name="Admin").get_by_role("link", name="Widget").click()
    await expect(page.get_by_role("heading", name="Widget of Demo")).to_be_visible(timeout=TIMEOUT)
    await expect(page.get_by_label("Accent colour")).to_have_value(before)
    assert errors.errors == []


async def test_a_required_email_is_asked_before_the_first_message_and_topics_can_be_switched_off(center, new_page):
    base, tag = center.server.url, new_id()[:6]
    _, page, _ = await admin_on_widget_page(new_page, base, center.password)
    await page.get_by_label("Name field").select_option(label="Hidden")
    await page.get_by_label("Email field").select_option(label="Required")
    await page.get_by_label("Visitors pick a topic").uncheck()
    await page.get_by_label("Offline form").uncheck()
    # The preview follows: no Topic, no Name, "Email" without "(optional)".
    panel = widget(preview_of(page))
    await expect(panel.get_by_label("Email", exact=True)).to_be_visible(timeout=TIMEOUT)
    await expect(panel.get_by_label("Topic")).to_be_hidden()
    await expect(panel.get_by_label("Name (optional)", exact=True)).to_be_hidden()
    await expect(panel.get_by_role("button", name="Leave a note instead")).to_be_hidden()
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible(timeout=TIMEOUT)

    _, visitor, visitor_errors = await new_page(locale="en-US")
    await visitor.goto(base + "/demo/support")
    await launcher(visitor).click()
    panel = widget(visitor)
    email = panel.get_by_label("Email", exact=True)
    await expect(email).to_be_visible(timeout=TIMEOUT)
    await expect(panel.get_by_label("Topic")).to_be_hidden()
    await expect(panel.get_by_label("Name (optional)", exact=True)).to_be_hidden()
    # Nobody of the demo is Available, and the site has no offline form: no note offered.
    await expect(panel.get_by_role("button", name="Leave a note instead")).to_be_hidden()
    question = f"Do you ship tents to Norway? ({tag})"
    await visitor_send(visitor, question)
    await expect(panel.get_by_role("alert")).to_have_text("Please enter your email address to start the chat.")
    await expect(email).to_be_focused()
    await expect(panel.get_by_label("Message")).to_have_value(question)  # kept, nothing sent
    await expect(widget_log(visitor).get_by_text(question)).to_have_count(0)
    await email.fill(f"hiker-{tag}@example.org")
    await panel.get_by_label("Message").press("Enter")
    await expect(widget_log(visitor).get_by_text(question)).to_be_visible(timeout=TIMEOUT)
    await expect(widget_log(visitor)).not_to_contain_text("Sending…", timeout=TIMEOUT)
    await expect(email).to_be_hidden()  # the chat is going: no pre-chat form
    await panel.get_by_role("button", name="Minimize chat").click()
    assert visitor_errors.errors == []
