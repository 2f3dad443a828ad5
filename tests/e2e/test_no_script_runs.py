"""Every field a visitor controls carries a script payload — URL, page title, referrer (and its
search keywords), user agent, name, identify attributes, custom event props, the chat message —
and no script runs anywhere staff look: the console (chat list, transcript, visitor sidebar), the
Visitors view (row and profile), the trail explorer (visits and trail), the reports page, nor the
visitor's own widget. Each page also shows the payload as text where that field is shown, so a
page that dropped it instead of escaping it would fail too.

The deployment is this module's own (with the demo site): its one CSR gets this visitor's chat
and no other."""

from __future__ import annotations

import asyncio
import json
import re
from urllib.parse import quote_plus

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import own_deployment
from tests.e2e.helpers import chat_list, launcher, set_status, sidebar, sign_in, transcript, widget, widget_log
from tests.e2e.recorders import RECORD_CSP_VIOLATIONS
from tests.support.clients import new_id

CSR = "agent@demo.switchboard"
MARKETER = "marketer@example.com"
SUPERVISOR = "boss@example.com"

IMG = '<img src=x onerror="window.__xss=1">'
SCRIPT = "<script>window.__xss=1</script>"
SVG = '"><svg onload=window.__xss=1>'
ALERT = "<img src=x onerror=alert(1)>"

TAG = new_id()[:6]
NAME = f"{IMG} Eve{TAG}"  # at most 100 characters
TITLE = f"{SVG} {SCRIPT} {ALERT} {TAG}"
KEYWORDS = f"{IMG} {TAG}"  # from the referrer: a Google search for the payload
REFERRER = "https://www.google.com/search?q=" + quote_plus(KEYWORDS)
ATTRIBUTE = f"{SVG}{SCRIPT}"
EVENT = "x:onerror"
PROPS = f"<svg/onload=alert(1)> {TAG}"  # no quote: shown inside JSON as it is
MESSAGE = f"{IMG} {SCRIPT} {SVG} {ALERT} {TAG}"
USER_AGENT = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
              f"Safari/537.36 {IMG}{SCRIPT}")

# What a page must show when it ran nothing of the visitor's: no marker, no element carrying an
# event handler, no inline script, no <svg>/<img> made from visitor text — in the document and in
# every open shadow root (the widget renders in one).
INERT = """() => {
    const roots = [document];
    for (let i = 0; i < roots.length; i++) {
        for (const node of roots[i].querySelectorAll('*')) if (node.shadowRoot) roots.push(node.shadowRoot);
    }
    const count = (selector) => roots.reduce((n, root) => n + root.querySelectorAll(selector).length, 0);
    return {
        xss: typeof window.__xss,
        handlers: count('[onerror], [onload]'),
        inline: count('script:not([src])'),
        made: count('img[src="x"], svg[onload]'),
        csp: (window.__csp || []).filter((v) => /^script-src/.test(v)),
        shadowRoots: roots.length - 1,
    };
}"""


@pytest.fixture(scope="module")
def site(request):
    """A deployment of our own with the demo site seeded."""
    yield from own_deployment(request, "no-script", seed_demo=True)


class Watched:
    """A page with its dialogs (alert/confirm/prompt would be a script that ran) and errors."""

    def __init__(self, page, errors) -> None:
        self.page, self.errors, self.dialogs = page, errors, []

        async def dismiss(dialog):
            self.dialogs.append(f"{dialog.type}: {dialog.message}")
            await dialog.dismiss()

        page.on("dialog", dismiss)

    async def assert_inert(self, where: str) -> None:
        found = await self.page.evaluate(INERT)
        found.pop("shadowRoots")
        assert found == {"xss": "undefined", "handlers": 0, "inline": 0, "made": 0, "csp": []}, (where, found)
        assert self.dialogs == [], (where, self.dialogs)
        script_errors = [e for e in self.errors.errors if re.search(r"script", e, re.I)]
        assert script_errors == [], (where, script_errors)


async def watched(new_page, **options) -> Watched:
    context, page, errors = await new_page(**options)
    await context.add_init_script(RECORD_CSP_VIOLATIONS)
    return Watched(page, errors)


def acks(page) -> dict[str, list]:
    """Every visitor event the page sends, by name, with the server's ack once it came: {name: [ack|None]}."""
    sent: dict[str, str] = {}
    got: dict[str, list] = {}

    def on_sent(payload):
        found = re.match(r"^42/visitor,(\d+)(\[.*)$", str(payload), re.S)
        if found:
            name = json.loads(found.group(2))[0]
            sent[found.group(1)] = name
            got.setdefault(name, [])

    def on_received(payload):
        found = re.match(r"^43/visitor,(\d+)(\[.*)$", str(payload), re.S)
        if found and found.group(1) in sent:
            got[sent[found.group(1)]].append(json.loads(found.group(2))[0])

    page.on("websocket", lambda ws: (ws.on("framesent", on_sent), ws.on("framereceived", on_received)))
    return got


async def acked(got: dict[str, list], name: str, timeout: float = 10.0) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while not got.get(name):
        assert asyncio.get_running_loop().time() < deadline, f"no ack for {name}"
        await asyncio.sleep(0.05)  # polling the recorded frames, not synchronising with the page
    return got[name][-1]


async def acked_times(got: dict[str, list], name: str, times: int, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while len([a for a in got.get(name, []) if a.get("ok")]) < times:
        assert asyncio.get_running_loop().time() < deadline, f"{name} acked {got.get(name)}"
        await asyncio.sleep(0.05)  # polling the recorded frames, not synchronising with the page


async def test_no_visitor_text_ever_runs_as_script(site, new_page):
    base = site.server.url

    # 1. The visitor: lands from a search for a payload, on a URL carrying one, with a payload in
    #    the user agent; says who they are and fires a custom event; moves on (a page title with a
    #    payload); writes a payload in the chat.
    visitor = await watched(new_page, user_agent=USER_AGENT)
    got = acks(visitor.page)
    landing = f"{base}/demo/?q={SCRIPT}"
    await visitor.page.goto(landing, referer=REFERRER)
    assert await visitor.page.evaluate("document.referrer") == REFERRER
    await expect(launcher(visitor.page)).to_be_visible()
    await visitor.page.evaluate(
        "([name, plan, event, note]) => { Switchboard('identify', {name, email: 'eve@example.com', plan});"
        " Switchboard('track', event, {note}); }", [NAME, ATTRIBUTE, EVENT, PROPS])
    assert (await acked(got, "identify"))["ok"] is True
    assert (await acked(got, "track"))["ok"] is True
    landing_url = await visitor.page.evaluate("location.href")  # as the browser encoded it
    assert "%3Cscript%3E" in landing_url

    await visitor.page.get_by_role("navigation", name="Demo site").get_by_role("link", name="Pricing").click()
    await expect(visitor.page.get_by_role("heading", name="Pricing")).to_be_visible()
    await visitor.page.evaluate("([title, svg]) => { document.title = title;"
                                " history.pushState({}, '', '/demo/pricing?plan=' + svg + '#' + svg); }", [TITLE, SVG])
    spa_url = await visitor.page.evaluate("location.href")
    await acked_times(got, "page_view", 3)  # landing, pricing, the SPA route

    await launcher(visitor.page).click()
    panel = widget(visitor.page)
    box = panel.get_by_label("Message")
    await box.fill(MESSAGE)
    await box.press("Enter")
    await expect(widget_log(visitor.page).get_by_text(MESSAGE, exact=True)).to_be_visible()
    await expect(widget_log(visitor.page)).not_to_contain_text("Sending…")
    assert (await visitor.page.evaluate(INERT))["shadowRoots"] >= 1  # the widget's, searched too
    await visitor.assert_inert("the visitor's page")

    # 2. The CSR: the chat list, the transcript, the visitor sidebar.
    csr = await watched(new_page)
    await sign_in(csr.page, base, CSR, site.password)
    await set_status(csr.page, "Available")
    chat = chat_list(csr.page).filter(has_text=NAME)
    await expect(chat).to_have_count(1)
    await expect(chat).to_contain_text(MESSAGE[:40])  # the preview (shortened)
    await csr.assert_inert("the console's chat list")
    await chat.click()
    await expect(csr.page.get_by_role("heading", name=NAME)).to_be_visible()
    await expect(transcript(csr.page).get_by_text(MESSAGE, exact=True)).to_be_visible()
    card = sidebar(csr.page)
    await expect(card.get_by_text(NAME, exact=True)).to_be_visible()
    await expect(card.get_by_text(TITLE, exact=True)).to_be_visible()
    await expect(card.get_by_text(spa_url, exact=True)).to_be_visible()
    await csr.assert_inert("the console's transcript and sidebar")

    # 3. The CSR's Visitors view: the row and the profile.
    await csr.page.goto(base + "/visitors")
    await expect(csr.page.get_by_text("Connected")).to_be_visible()
    row = csr.page.get_by_role("table", name="Visitors online").get_by_role("row").filter(
        has=csr.page.get_by_role("button", name=f"Profile of {NAME}", exact=True))
    await expect(row).to_contain_text(TITLE)
    await expect(row.get_by_role("link", name=spa_url, exact=True)).to_be_visible()
    await expect(row).to_contain_text(f"\u201c{KEYWORDS}\u201d")
    await csr.assert_inert("the Visitors view's row")
    await row.get_by_role("button", name=f"Profile of {NAME}").click()
    panel = csr.page.get_by_role("complementary", name="Visitor profile")
    await expect(panel.get_by_role("heading", name=NAME)).to_be_visible()
    trail = panel.get_by_role("list", name="Trail")
    await expect(trail).to_contain_text(TITLE)
    await expect(trail.get_by_role("link", name=landing_url, exact=True)).to_be_visible()
    await expect(trail).to_contain_text(f"\u201c{KEYWORDS}\u201d")
    await expect(panel.get_by_text(ATTRIBUTE, exact=True)).to_be_visible()  # the identify attribute
    await expect(panel.get_by_text(EVENT, exact=True)).to_be_visible()
    await expect(panel.get_by_text(json.dumps({"note": PROPS}, separators=(",", ":")), exact=True)).to_be_visible()
    await csr.assert_inert("the Visitors view's profile")

    # 4. A marketer's explorer: the visits list and the trail.
    marketer = await watched(new_page)
    await marketer.page.goto(base + "/explorer")
    await marketer.page.get_by_label("Email").fill(MARKETER)
    await marketer.page.get_by_label("Password").fill(site.password)
    await marketer.page.get_by_role("button", name="Sign in").click()
    visits = marketer.page.get_by_role("table", name="Visits", exact=True)
    mine = visits.locator("tbody tr").filter(has_text=KEYWORDS)
    await expect(mine).to_have_count(1)
    await expect(marketer.page.get_by_role("table", name="Top search keywords")).to_contain_text(KEYWORDS)
    await marketer.assert_inert("the explorer's visits")
    await mine.click()
    dialog = marketer.page.get_by_role("dialog", name=re.compile(r"^Trail of visitor "))
    pages = dialog.get_by_role("list", name="Pages of visit 1").get_by_role("listitem")
    await expect(pages).to_have_count(3)
    await expect(pages.nth(2)).to_contain_text(TITLE)
    await expect(pages.nth(0)).to_contain_text(landing_url)
    await expect(dialog).to_contain_text(f"Keywords: {KEYWORDS}")
    await marketer.assert_inert("the explorer's trail")

    # 5. A supervisor's reports (counts, names of staff and queues: no visitor text is shown there).
    boss = await watched(new_page)
    await boss.page.goto(base + "/reports")
    await boss.page.get_by_label("Email").fill(SUPERVISOR)
    await boss.page.get_by_label("Password").fill(site.password)
    await boss.page.get_by_role("button", name="Sign in").click()
    await expect(boss.page).to_have_url(re.compile(r"/reports"))
    await expect(boss.page.get_by_role("table").first).to_be_visible()
    await boss.assert_inert("the reports page")

    # And the visitor's page, which showed the CSR's side of things meanwhile, ran nothing either.
    await visitor.assert_inert("the visitor's page, at the end")
