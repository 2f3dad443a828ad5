"""The visitor's widget against WCAG 2.1 AA, in Chromium.

axe-core finds no WCAG 2.1 A/AA violation in any state a visitor meets: closed (the launcher),
open, the pre-chat form, waiting in line, chatting, ended with the rating, an invitation, the
offline form, Help (results and an article), in the light and the dark scheme. A keyboard-only
visitor opens the chat, fills the pre-chat fields from where focus lands, chats, and finds the
rating next to their focus when the chat ends. The launcher's name carries the unread count (English
and Chinese); a new message is announced politely and focus stays where it was. The colours hold
for any accent colour: the ones an admin may save, and lighter ones tried in the admin's preview.

The module has a deployment of its own; each test makes a site of its own (its settings and topics)
on a customer's page on another origin, which embeds the widget with the snippet.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator

import pytest
from playwright.async_api import Page, expect

from app.models import User
from app.services import admin, knowledge
from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import own_deployment
from tests.e2e.helpers import tent_shop, launcher, sign_in, visitor_send, widget, widget_log
from tests.support import clients
from tests.support.clients import new_id
from tests.support.inprocess import database
from tests.support.server import Deployment, cli, free_port

TIMEOUT = 20_000  # ms: the machine may be busy with other suites
CSR = "agent@example.com"
CSR_NAME = "Alex Agent"


@pytest.fixture(scope="module")
def center(request) -> Iterator[Deployment]:
    yield from own_deployment(request, "a11y-widget")


@pytest.fixture(scope="module")
def shop(center) -> Iterator[str]:
    """The customer's site (its origin, yielded): /<site key> is a page embedding that site's widget."""
    with tent_shop(center.server.url, free_port(), '<p><a href="/about">About our tents</a></p>') as url:
        yield url


def new_site(center: Deployment, shop: str, *, look: dict | None = None, topic: str | None = None) -> dict:
    """A site on the shop's origin (its `url` is a page with its widget), with the widget settings
    `look` saved as the admin saves them and, with `topic`, a topic (department) the CSR answers."""
    site = json.loads(cli(center.env, "create-site", "--name", f"Tents {new_id()[:6]}", "--origin", shop, "--json"))
    if look:
        cli(center.env, "site-settings", "--site", site["key"], "--set", json.dumps({"widget": look}))
    if topic:
        site["department"] = json.loads(cli(center.env, "create-department", "--site", site["key"], "--name", topic,
                                            "--member", CSR, "--json"))["id"]
    site["url"] = f"{shop}/{site['key']}"
    return site


async def csr_of(center: Deployment) -> clients.Client:
    """The CSR over a socket, Available (the tests sign them off at the end)."""
    agent = await clients.agent(center.server.url, CSR, center.password)
    assert (await agent.call("set_status", {"status": "available"}))["ok"]
    return agent


async def reply(csr: clients.Client, conversation_id: int, body: str) -> None:
    sent = await csr.call("message", {"conversation_id": conversation_id, "client_id": new_id(), "body": body})
    assert sent["ok"], sent


async def read_all(csr: clients.Client, conversation_id: int) -> None:
    """The CSR has read the visitor's messages (the widget then says "Read" under the last one)."""
    opened = await csr.call("open", {"conversation_id": conversation_id})
    seq = max(m["seq"] for m in opened["messages"])
    assert (await csr.call("read", {"conversation_id": conversation_id, "seq": seq}))["ok"]


async def visitor_id(page: Page, site_key: str) -> str:
    """The visitor's id once the widget has its session (the page's CSP forbids wait_for_function)."""
    key = f"sb:{site_key}:vid"
    deadline = asyncio.get_running_loop().time() + TIMEOUT / 1000
    while (raw := await page.evaluate(f"localStorage.getItem('{key}')")) is None:
        assert asyncio.get_running_loop().time() < deadline, "the widget never got a session"
        await asyncio.sleep(0.05)  # polling for the session, not synchronising with the code under test
    return json.loads(raw)


def rating_of(page: Page):
    return widget(page).get_by_role("group", name="Rate this chat")


# --- axe in every state ---------------------------------------------------------------------------


async def test_no_violations_from_the_launcher_to_the_rating(center, shop, new_page):
    topic = f"Tents {new_id()[:6]}"
    site = new_site(center, shop, topic=topic)
    _, page, errors = await new_page(bypass_csp=True)
    await page.goto(site["url"])
    await expect(launcher(page)).to_be_visible()
    await visitor_id(page, site["key"])
    await assert_accessible(page, "the closed widget (the launcher)")

    await launcher(page).click()
    panel = widget(page)
    await expect(panel.get_by_label("Topic")).to_be_visible()
    await expect(panel.get_by_text("Nobody can chat right now", exact=False)).to_be_visible(timeout=TIMEOUT)
    await assert_accessible(page, "the open widget with its pre-chat form (nobody available)")

    await panel.get_by_label("Topic").select_option(label=topic)
    await panel.get_by_role("textbox", name="Name (optional)", exact=True).fill("Robin")
    await panel.get_by_role("textbox", name="Email (optional)", exact=True).fill("robin@example.org")
    await visitor_send(page, "Does the blue tent fit four?")
    await expect(panel.get_by_text(re.compile(r"^You're next in line"))).to_be_visible(timeout=TIMEOUT)
    await expect(widget_log(page).get_by_text("Delivered")).to_be_visible(timeout=TIMEOUT)
    await assert_accessible(page, "the widget waiting in line")

    csr = await csr_of(center)
    try:
        assigned = await csr.rec.wait_for("conversation.assigned", timeout=TIMEOUT / 1000)
        await reply(csr, assigned["id"], "It does, with room for bags.")
        await expect(widget_log(page).get_by_text("It does, with room for bags.")).to_be_visible(timeout=TIMEOUT)
        await expect(panel.get_by_text(f"You're chatting with {CSR_NAME}")).to_be_visible()
        await assert_accessible(page, "the widget in a chat (the CSR's reply shown)")

        assert (await csr.call("close", {"conversation_id": assigned["id"]}))["ok"]
        rating = rating_of(page)
        await expect(rating).to_be_visible(timeout=TIMEOUT)
        await assert_accessible(page, "the ended chat with its rating")
        await rating.get_by_role("button", name="Good").click()
        await expect(rating.get_by_role("button", name="Good")).to_have_attribute("aria-pressed", "true")
        await assert_accessible(page, "the rating with Good chosen")
        await rating.get_by_role("button", name="Send rating").click()
        await expect(rating.get_by_text("Thanks for your feedback")).to_be_visible(timeout=TIMEOUT)
        await assert_accessible(page, "the rating sent")
        assert errors.errors == []
    finally:
        await clients.sign_off(csr)
        await csr.disconnect()


async def test_no_violations_in_the_dark_scheme(center, shop, new_page):
    """A visitor whose system is dark gets the widget's dark scheme: chatting, then the rating."""
    site = new_site(center, shop, topic=f"Stoves {new_id()[:6]}")
    csr = await csr_of(center)
    try:
        _, page, errors = await new_page(bypass_csp=True, color_scheme="dark")
        await page.goto(site["url"])
        await launcher(page).click()
        panel = widget(page)
        await expect(panel.get_by_label("Topic")).to_be_visible(timeout=TIMEOUT)
        await assert_accessible(page, "the dark pre-chat form")
        await visitor_send(page, "Which fuel does the stove take?")
        assigned = await csr.rec.wait_for("conversation.assigned", timeout=TIMEOUT / 1000)
        await reply(csr, assigned["id"], "Any gas canister with a screw valve.")
        await read_all(csr, assigned["id"])
        await expect(widget_log(page).get_by_text("Any gas canister")).to_be_visible(timeout=TIMEOUT)
        await expect(widget_log(page).get_by_text(re.compile(r"· Read$"))).to_be_visible(timeout=TIMEOUT)
        await assert_accessible(page, "the dark chat")
        assert (await csr.call("close", {"conversation_id": assigned["id"]}))["ok"]
        await expect(rating_of(page)).to_be_visible(timeout=TIMEOUT)
        await rating_of(page).get_by_label("Comment (optional)").fill("Quick!")
        await assert_accessible(page, "the dark rating")
        assert errors.errors == []
    finally:
        await clients.sign_off(csr)
        await csr.disconnect()


async def test_no_violations_on_an_invitation(center, shop, new_page):
    site = new_site(center, shop, topic=f"Tarps {new_id()[:6]}")  # a site the CSR serves
    csr = await csr_of(center)
    try:
        _, page, errors = await new_page(bypass_csp=True)
        await page.goto(site["url"])
        vid = await visitor_id(page, site["key"])
        # An invitation is for a visitor in the live list (the CSR's Visitors view): wait for them there.
        listed = await csr.call("visitors", {})
        if not any(row["id"] == vid for row in listed["visitors"]):
            await csr.rec.wait_for("visitors.delta", lambda d: any(row["id"] == vid for row in d["upsert"]),
                                   timeout=TIMEOUT / 1000)
        ack = await csr.call("invite", {"visitor_id": vid, "message": "Looking for a tent?"})
        assert ack["ok"], ack
        card = page.get_by_role("dialog", name="Chat invitation")
        await expect(card.get_by_text("Looking for a tent?")).to_be_visible(timeout=TIMEOUT)
        await assert_accessible(page, "an invitation")
        # Declined from the keyboard: focus goes to the launcher, not to nothing.
        await card.get_by_role("button", name="Decline").focus()
        await page.keyboard.press("Enter")
        await expect(card).to_be_hidden()
        await expect(launcher(page)).to_be_focused()
        assert errors.errors == []
    finally:
        await clients.sign_off(csr)
        await csr.disconnect()


async def test_no_violations_in_the_open_widget_and_the_offline_form(center, shop, new_page):
    site = new_site(center, shop, look={"prechat": {"name": "hidden", "email": "hidden"}})
    _, page, errors = await new_page(bypass_csp=True)
    await page.goto(site["url"])
    await launcher(page).click()
    panel = widget(page)
    box = panel.get_by_role("textbox", name="Message")
    await expect(box).to_be_focused()  # no pre-chat field: the message box first
    offer = panel.get_by_role("button", name="Leave a note instead")
    await expect(offer).to_be_visible(timeout=TIMEOUT)
    await assert_accessible(page, "the open widget (nobody available)")

    await offer.click()
    await expect(panel.get_by_label("Your email")).to_be_focused()
    await assert_accessible(page, "the offline form")
    await panel.get_by_label("Your email").fill("camper@example.org")
    await panel.get_by_label("How can we help?").fill("Do you repair zips?")
    send = panel.get_by_role("button", name="Send to the team")
    await send.focus()
    await page.keyboard.press("Enter")
    await expect(panel.get_by_role("status").filter(has_text="Thanks! We'll reply to camper@example.org.")) \
        .to_be_visible(timeout=TIMEOUT)
    await expect(send).to_be_focused()  # the button stays usable (and focused) while the note goes
    await assert_accessible(page, "the offline form's thanks")
    # Back to the chat: focus to where the visitor starts.
    await panel.get_by_role("button", name="Back to chat").click()
    await expect(box).to_be_focused()
    assert errors.errors == []


async def test_no_violations_in_help(center, shop, new_page):
    site = new_site(center, shop)
    async with database(center, runtime=True):
        editor = await admin.create_user(f"ed-{new_id()[:6]}@example.com", center.password, "supervisor", "Eda", 3)
        await User.filter(id=editor.id).update(knowledge_editor=True)
        editor = await User.get(id=editor.id)
        for title, body in (("Pitching a tent", "Find **flat ground**, then [read the guide](https://example.com/guide)."),
                            ("Tent care", "Dry your tent before you pack it.\n\n- Brush off sand\n- Air it")):
            await knowledge.save(editor, None, {"title": title, "body": body, "status": "published",
                                                "site_ids": [site["id"]]})

    _, page, errors = await new_page(bypass_csp=True)
    await page.goto(site["url"])
    await launcher(page).click()
    panel = widget(page)
    await panel.get_by_role("button", name="Help", exact=True).click()
    view = panel.get_by_role("region", name="Help")
    search = view.get_by_role("searchbox", name="Search help articles")
    await expect(search).to_be_focused()
    await assert_accessible(page, "Help")
    await search.fill("tent")
    await search.press("Enter")
    results = view.get_by_role("list", name="Help articles found")
    await expect(results.get_by_role("button")).to_have_count(2, timeout=TIMEOUT)
    await assert_accessible(page, "Help's search results")
    await results.get_by_role("button", name="Pitching a tent").click()
    await expect(view.get_by_role("heading", name="Pitching a tent")).to_be_focused(timeout=TIMEOUT)
    await assert_accessible(page, "a Help article")
    # Help closed from its button: focus back where the visitor starts in the chat.
    await panel.get_by_role("button", name="Help", exact=True).click()
    await expect(panel.get_by_role("textbox", name="Name (optional)", exact=True)).to_be_focused()
    assert errors.errors == []


# --- the keyboard -----------------------------------------------------------------------------------


async def test_a_keyboard_only_visitor_chats_and_rates(center, shop, new_page):
    topic = f"Repairs {new_id()[:6]}"
    site = new_site(center, shop, topic=topic)
    csr = await csr_of(center)
    try:
        _, page, errors = await new_page()
        keys = page.keyboard
        await page.goto(site["url"])
        await visitor_id(page, site["key"])  # the page has loaded: the widget knows the site's topics
        await keys.press("Tab")  # the page's link
        await keys.press("Tab")
        await expect(launcher(page)).to_be_focused()
        await keys.press("Enter")

        # Focus lands on the first pre-chat field; the rest follow in Tab order.
        panel = widget(page)
        topic_box = panel.get_by_role("combobox", name="Topic")
        await expect(topic_box).to_be_focused(timeout=TIMEOUT)
        await keys.press("ArrowDown")
        await expect(topic_box).to_have_value(str(site["department"]))
        await keys.press("Tab")
        await expect(panel.get_by_role("textbox", name="Name (optional)")).to_be_focused()
        await keys.type("Kim")
        await keys.press("Tab")
        await expect(panel.get_by_role("textbox", name="Email (optional)")).to_be_focused()
        await keys.type("kim@example.org")
        await keys.press("Tab")
        box = panel.get_by_role("textbox", name="Message")
        await expect(box).to_be_focused()
        await keys.type("My tent pole snapped.")
        await keys.press("Enter")

        assigned = await csr.rec.wait_for("conversation.assigned", timeout=TIMEOUT / 1000)
        assert assigned["department"] == site["department"]
        opened = await csr.call("open", {"conversation_id": assigned["id"]})
        assert [m["body"] for m in opened["messages"] if m["sender"] == "visitor"] == ["My tent pole snapped."]
        await reply(csr, assigned["id"], "We will send a new one.")
        await expect(widget_log(page).get_by_text("We will send a new one.")).to_be_visible(timeout=TIMEOUT)
        await expect(box).to_be_focused()
        assert (await csr.call("close", {"conversation_id": assigned["id"]}))["ok"]

        # The chat ended: it is said, and focus comes to the rating; one Tab reaches its first button.
        await expect(panel.get_by_role("status").filter(has_text="This chat has ended")) \
            .to_contain_text("You can rate it below.", timeout=TIMEOUT)
        rating = rating_of(page)
        await expect(rating).to_be_focused(timeout=TIMEOUT)
        await keys.press("Tab")
        good = rating.get_by_role("button", name="Good")
        await expect(good).to_be_focused()
        await keys.press("Enter")
        await expect(good).to_have_attribute("aria-pressed", "true")
        for _ in ("Neutral", "Bad", "Comment"):
            await keys.press("Tab")
        await expect(rating.get_by_label("Comment (optional)")).to_be_focused()
        await keys.type("Quick and kind")
        await keys.press("Tab")
        await expect(rating.get_by_role("button", name="Send rating")).to_be_focused()
        await keys.press("Enter")
        rated = await csr.rec.wait_for("conversation.rated", timeout=TIMEOUT / 1000)
        assert (rated["rating"], rated["comment"]) == ("good", "Quick and kind")
        await expect(rating.get_by_role("status")).to_have_text("Thanks for your feedback · Rated: Good")
        # "Send rating" is disabled now: focus went back to the rating, not to nothing.
        await expect(rating).to_be_focused()
        # Escape closes the panel and focus returns to its opener.
        await keys.press("Escape")
        await expect(panel).to_be_hidden()
        await expect(launcher(page)).to_be_focused()
        assert errors.errors == []
    finally:
        await clients.sign_off(csr)
        await csr.disconnect()


# --- unread count and announcements -------------------------------------------------------------------


@pytest.mark.parametrize("locale, opened, closed, unread", [
    ("en-US", "Close chat", "Open chat", "Open chat, 1 unread message"),
    ("zh-CN", "关闭聊天 (chat)", "打开聊天 (chat)", "打开聊天 (chat)，1 条未读消息"),
])
async def test_the_launcher_names_the_unread_count_and_replies_are_announced_politely(
        center, shop, new_page, locale, opened, closed, unread):
    site = new_site(center, shop, look={"prechat": {"name": "hidden", "email": "hidden"}})
    csr = await csr_of(center)
    try:
        _, page, errors = await new_page(locale=locale, bypass_csp=True)
        await page.goto(site["url"])
        await page.get_by_role("button", name=closed, exact=True).click()
        panel = widget(page)
        box = panel.get_by_role("textbox", name=re.compile("^(Message|消息)$"))
        await expect(box).to_be_focused(timeout=TIMEOUT)
        await box.fill("Hello?")
        await box.press("Enter")
        assigned = await csr.rec.wait_for("conversation.assigned", timeout=TIMEOUT / 1000)

        # Open: a reply lands in the polite log and focus stays in the message box.
        await reply(csr, assigned["id"], "Hi, how can I help?")
        log = panel.get_by_role("log")
        await expect(log.get_by_text("Hi, how can I help?")).to_be_visible(timeout=TIMEOUT)
        await expect(log).to_have_attribute("aria-live", "polite")
        await expect(box).to_be_focused()
        await expect(page.get_by_role("button", name=opened, exact=True)).to_be_visible()
        await assert_accessible(page, f"the chat ({locale})")

        # Closed: the next reply is counted in the launcher's name.
        await page.keyboard.press("Escape")
        await expect(panel).to_be_hidden()
        await reply(csr, assigned["id"], "Are you still there?")
        named = page.get_by_role("button", name=unread, exact=True)
        await expect(named).to_be_visible(timeout=TIMEOUT)
        await expect(named).to_be_focused()  # the reply did not move focus
        await assert_accessible(page, f"the launcher with an unread reply ({locale})")
        await named.click()
        await expect(page.get_by_role("button", name=opened, exact=True)).to_be_visible()
        await expect(log.get_by_text("Are you still there?")).to_be_visible()
        assert errors.errors == []
    finally:
        await clients.sign_off(csr)
        await csr.disconnect()


# --- accent colours ---------------------------------------------------------------------------------


@pytest.mark.parametrize("accent", ["#1e3a8a", "#767676"])  # dark; the lightest grey an admin can save (4.54:1)
async def test_no_violations_with_an_accent_colour_the_admin_saved(center, shop, new_page, accent):
    site = new_site(center, shop, look={"accent_color": accent})
    csr = await csr_of(center)
    try:
        _, page, errors = await new_page(bypass_csp=True)
        await page.goto(site["url"])
        rgb = "rgb({}, {}, {})".format(*(int(accent[i:i + 2], 16) for i in (1, 3, 5)))
        await expect(launcher(page)).to_have_css("background-color", rgb, timeout=TIMEOUT)
        await launcher(page).click()
        await visitor_send(page, "Is there a kids' sleeping bag?")
        assigned = await csr.rec.wait_for("conversation.assigned", timeout=TIMEOUT / 1000)
        await reply(csr, assigned["id"], "Yes, in two sizes.")
        await read_all(csr, assigned["id"])
        await expect(widget_log(page).get_by_text("Yes, in two sizes.")).to_be_visible(timeout=TIMEOUT)
        await expect(widget_log(page).get_by_text(re.compile(r"· Read$"))).to_be_visible(timeout=TIMEOUT)
        await assert_accessible(page, f"the chat in {accent}")
        assert (await csr.call("close", {"conversation_id": assigned["id"]}))["ok"]
        await rating_of(page).get_by_role("button", name="Good").click(timeout=TIMEOUT)
        await assert_accessible(page, f"the rating in {accent}")
        assert errors.errors == []
    finally:
        await clients.sign_off(csr)
        await csr.disconnect()


@pytest.mark.parametrize("accent", ["#ffff00", "#22c55e"])
async def test_lighter_accent_colours_are_refused_and_hold_in_the_admins_preview(center, shop, new_page, accent):
    """White text does not reach 4.5:1 on these: the admin cannot save them, but sees them in the
    preview while trying them out, where the widget writes on them in black."""
    site = new_site(center, shop, topic=f"Boots {new_id()[:6]}")
    with pytest.raises(RuntimeError, match="contrast ratio"):
        cli(center.env, "site-settings", "--site", site["key"], "--set", json.dumps({"widget": {"accent_color": accent}}))

    boss = f"admin-{new_id()[:6]}@example.com"
    center.create_user(boss, "admin", "Ada Admin")
    _, page, errors = await new_page(bypass_csp=True)
    await sign_in(page, center.server.url, boss, center.password)
    await page.goto(f"{center.server.url}/admin/widget/preview/{site['id']}?lang=en")
    panel = widget(page)
    await expect(panel.get_by_label("Topic")).to_be_visible(timeout=TIMEOUT)
    # What the Widget page posts to its preview frame as the admin types (the page is the frame's
    # own parent here).
    look = {"accent_color": accent, "launcher_position": "bottom-right", "title": {"en": "", "zh-CN": ""},
            "greeting": {"en": "Hello!", "zh-CN": ""}, "prechat": {"name": "optional", "email": "optional"},
            "topics": True, "offline_form": True}
    await page.evaluate("look => window.postMessage({type: 'switchboard-preview', widget: look}, location.origin)", look)
    rgb = "rgb({}, {}, {})".format(*(int(accent[i:i + 2], 16) for i in (1, 3, 5)))
    await expect(launcher(page)).to_have_css("background-color", rgb, timeout=TIMEOUT)
    await expect(launcher(page)).to_have_css("color", "rgb(0, 0, 0)")
    await assert_accessible(page, f"the preview in {accent}", include="#switchboard-widget")
    assert errors.errors == []
