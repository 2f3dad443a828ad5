"""The Visitors view in Chromium: a CSR watches everyone on the site live (rows appear, change and
go as real socket.io visitors move), filters and sorts them, opens a profile with the trail,
invites a visitor; visitor-controlled text never runs as markup; 5,000 rows stay fast."""

from __future__ import annotations

import re
import statistics

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import own_deployment
from tests.e2e.helpers import sign_in
from tests.support import clients
from tests.support.clients import new_id

CSR = "agent@example.com"  # created by `deploy`, role agent
GOOGLE = "https://www.google.com/search?q=waterproof+trail+shoes"
XSS = '<img src=x onerror="window.__xss=1">'


@pytest.fixture(scope="module")
def live(request):
    """A deployment of our own, where a visitor who leaves is gone from the list after 1 s
    (and whose chats and visitors no other test sees)."""
    yield from own_deployment(request, "visitors", extra_env={"LIVE_VISITOR_GONE_SECONDS": "1"})


@pytest.fixture(scope="module")
async def csr_state(browser, live) -> dict:
    """The CSR signed in once (sign-in is rate limited per e-mail): cookies for new contexts."""
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await sign_in(page, live.server.url, CSR, live.password)
        return await context.storage_state()
    finally:
        await context.close()


async def open_visitors(new_page, live, csr_state, init_script: str | None = None):
    context, page, errors = await new_page(storage_state=csr_state)
    if init_script:
        await page.add_init_script(init_script)
    await page.goto(live.server.url + "/visitors")
    await expect(page.get_by_text("Connected")).to_be_visible()
    await expect(page.get_by_text("Loading visitors…")).to_be_hidden()
    return context, page, errors


def table(page):
    return page.get_by_role("table", name="Visitors online")


def row_of(page, name: str):
    return table(page).get_by_role("row").filter(has=page.get_by_role("button", name=f"Profile of {name}", exact=True))


def profile(page):
    return page.get_by_role("complementary", name="Visitor profile")


async def visitor_online(live, url: str, title: str, referrer: str | None = None, **kw):
    client = await clients.visitor(live.server.url, live.site_key, live.origin, **kw)
    ack = await client.call("page_view", {"url": url, "title": title, **({"referrer": referrer} if referrer else {})})
    assert ack["ok"], ack
    session = client.rec.of("session")[0]
    return client, session


def guest(session) -> str:
    return "Guest " + session["visitor_id"][-4:]


def names(page):
    """The visitors' name buttons, in the order the rows are shown."""
    return table(page).get_by_role("button", name=re.compile(r"^Profile of "))


async def test_visitors_appear_update_filter_sort_profile_and_go(live, new_page, csr_state):
    tag = new_id()[:6]
    shop = live.origin
    _, page, errors = await open_visitors(new_page, live, csr_state)

    # CSRs get the console and the Visitors view in the section links, not the supervisors' pages.
    sections = page.get_by_role("navigation", name="Sections")
    await expect(sections.get_by_role("link", name="Visitors")).to_have_attribute("aria-current", "page")
    await expect(sections.get_by_role("link", name="Console")).to_be_visible()
    await expect(sections.get_by_role("link", name="Live board")).to_have_count(0)

    ann, ann_session = await visitor_online(live, f"{shop}/shoes?c={tag}", f"Trail shoes {tag}", GOOGLE)
    bob = None
    try:
        ann_name = guest(ann_session)
        ann_row = row_of(page, ann_name)
        await expect(ann_row).to_contain_text(f"Trail shoes {tag}")
        await expect(ann_row).to_contain_text(f"{shop}/shoes?c={tag}")
        await expect(ann_row.get_by_role("cell").nth(2)).to_have_text("1")
        await expect(ann_row).to_contain_text("New")
        await expect(ann_row).to_contain_text("None")  # no chat
        # The link to the visitor's page opens elsewhere and gives nothing away.
        link = ann_row.get_by_role("link", name=f"{shop}/shoes?c={tag}")
        await expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
        await expect(link).to_have_attribute("target", "_blank")

        # Time on page ticks by itself.
        clock = ann_row.get_by_title("Time on this page")
        first = await clock.inner_text()
        await expect(clock).not_to_have_text(first, timeout=5000)

        # The visitor moves on: the same row changes, live.
        assert (await ann.call("page_view", {"url": f"{shop}/boots?c={tag}", "title": f"Alpine boots {tag}"}))["ok"]
        await expect(ann_row).to_contain_text(f"Alpine boots {tag}")
        await expect(ann_row.get_by_role("cell").nth(2)).to_have_text("2")
        await expect(row_of(page, ann_name)).to_have_count(1)

        # A second visitor with more pages, arriving later.
        bob, bob_session = await visitor_online(live, f"{shop}/?c={tag}", f"Home {tag}")
        bob_name = guest(bob_session)
        for n, title in enumerate(("Contact", "Jackets", "Tents"), start=1):
            assert (await bob.call("page_view", {"url": f"{shop}/p{n}?c={tag}", "title": f"{title} {tag}"}))["ok"]
        bob_row = row_of(page, bob_name)
        await expect(bob_row.get_by_role("cell").nth(2)).to_have_text("4")

        # Filter: by page text, with the count of what is shown.
        search = page.get_by_label("Filter visitors")
        await search.fill(tag)
        await expect(page.get_by_text(re.compile(r"\d+ online · 2 shown"))).to_be_visible()
        await expect(names(page)).to_have_text([ann_name, bob_name])  # longest on site first (the default)
        await page.get_by_label("Sort by").select_option(label="Pages")
        await expect(names(page)).to_have_text([bob_name, ann_name])
        await page.get_by_label("Sort by").select_option(label="Time on page")
        await expect(names(page)).to_have_text([ann_name, bob_name])
        await search.fill(f"alpine boots {tag}")
        await expect(page.get_by_text(re.compile(r"\d+ online · 1 shown"))).to_be_visible()
        await expect(ann_row).to_be_visible()
        await expect(bob_row).to_have_count(0)
        await search.fill(f"nothing-like-this-{tag}")
        await expect(page.get_by_text("No visitor matches these filters.")).to_be_visible()
        await search.fill(tag)
        await page.get_by_label("Visitors", exact=True).select_option(label="Returning")
        await expect(page.get_by_text("No visitor matches these filters.")).to_be_visible()
        await page.get_by_label("Visitors", exact=True).select_option(label="New")
        await page.get_by_label("Chat", exact=True).select_option(label="Chatting")
        await expect(page.get_by_text("No visitor matches these filters.")).to_be_visible()
        await page.get_by_label("Chat", exact=True).select_option(label="None")
        await expect(page.get_by_text(re.compile(r"\d+ online · 2 shown"))).to_be_visible()

        # Keyboard: the row is reachable and Enter opens the profile with the trail in order.
        await ann_row.focus()
        await page.keyboard.press("Enter")
        panel = profile(page)
        await expect(panel).to_be_visible()
        await expect(panel.get_by_role("heading", name=ann_name)).to_be_visible()
        await expect(panel).to_contain_text("Online now")
        trail = panel.get_by_role("list", name="Trail")
        await expect(trail).to_contain_text("Visit 1")
        await expect(trail).to_contain_text(re.compile(f"Trail shoes {tag}.*Alpine boots {tag}", re.S))
        await expect(trail.get_by_role("link", name=f"{shop}/shoes?c={tag}")).to_have_attribute(
            "rel", "noopener noreferrer nofollow")
        await expect(panel).to_contain_text("No earlier conversations.")
        # The open profile follows the visitor.
        assert (await ann.call("page_view", {"url": f"{shop}/checkout?c={tag}", "title": f"Checkout {tag}"}))["ok"]
        await expect(trail).to_contain_text(re.compile(f"Alpine boots {tag}.*Checkout {tag}", re.S))
        await page.keyboard.press("Escape")
        await expect(panel).to_be_hidden()
        await expect(ann_row).to_be_focused()

        # Arrow keys move between rows (sorted by time on page, Bob is above Ann now that Ann
        # moved to Checkout); the name button opens the profile too; Close closes it.
        await expect(names(page)).to_have_text([bob_name, ann_name])
        await page.keyboard.press("ArrowUp")
        await expect(bob_row).to_be_focused()
        await bob_row.get_by_role("button", name=f"Profile of {bob_name}").click()
        await expect(panel.get_by_role("heading", name=bob_name)).to_be_visible()
        await expect(panel.get_by_role("list", name="Trail")).to_contain_text(
            re.compile(f"Home {tag}.*Contact {tag}.*Jackets {tag}.*Tents {tag}", re.S))
        await panel.get_by_role("button", name="Close").click()
        await expect(panel).to_be_hidden()

        # The visitor leaves: the row goes.
        await ann.disconnect()
        await expect(ann_row).to_have_count(0)
        await expect(page.get_by_text(re.compile(r"\d+ online · 1 shown"))).to_be_visible()
        await bob.disconnect()
        bob = None
        await expect(page.get_by_text(re.compile(r"\d+ online · 0 shown"))).to_be_visible()
        await page.get_by_role("button", name="Clear filters").click()
        await expect(page.get_by_label("Filter visitors")).to_have_value("")
        assert errors.errors == []
    finally:
        for client in (ann, bob):
            if client is not None and client.connected:
                await client.disconnect()


async def test_search_referrer_shows_type_and_keywords(live, new_page, csr_state):
    tag = new_id()[:6]
    _, page, errors = await open_visitors(new_page, live, csr_state)
    ann, session = await visitor_online(live, f"{live.origin}/shoes?c={tag}", f"Trail shoes {tag}", GOOGLE)
    try:
        row = row_of(page, guest(session))
        await expect(row).to_contain_text("Search")
        await expect(row).to_contain_text("\u201cwaterproof trail shoes\u201d")
        await page.get_by_label("Referrer").select_option(label="Search")
        await page.get_by_label("Filter visitors").fill(tag)
        await expect(row).to_be_visible()
        await page.get_by_label("Referrer").select_option(label="Direct")
        await expect(page.get_by_text("No visitor matches these filters.")).to_be_visible()
        assert errors.errors == []
    finally:
        await ann.disconnect()


async def test_visitor_controlled_text_is_never_markup(live, new_page, csr_state):
    tag = new_id()[:6]
    _, page, errors = await open_visitors(new_page, live, csr_state)
    payload_url = f'{live.origin}/{XSS}?c={tag}'
    evil = await clients.visitor(live.server.url, live.site_key, live.origin, user_agent=f"{XSS} javascript:alert(1)")
    try:
        token = evil.rec.of("session")[0]["token"]
        # javascript: URLs are refused or dropped by the server; the UI must not make links of them either.
        bad = await evil.call("page_view", {"url": "javascript:alert(1)", "title": XSS})
        assert bad["ok"] is False
        assert (await evil.call("page_view", {"url": payload_url, "title": f"{XSS} {tag}",
                                              "referrer": f"https://evil.example/{XSS}?q={XSS}"}))["ok"]
        sent = await evil.call("message", {"client_id": new_id(), "body": f"{XSS} javascript:alert(1)", "name": XSS})
        assert sent["ok"], sent
        # The name reaches the live row when the visitor's socket comes back (a page change).
        await evil.disconnect()
        evil = await clients.visitor(live.server.url, live.site_key, live.origin, token=token,
                                     user_agent=f"{XSS} javascript:alert(1)")
        row = row_of(page, XSS)
        await expect(row).to_contain_text(f"{XSS} {tag}")
        await expect(row).to_contain_text("Waiting")  # the chat it started
        await expect(row.get_by_role("button", name=f"Invite {XSS}")).to_be_disabled()
        await row.get_by_role("button", name=f"Profile of {XSS}").click()
        panel = profile(page)
        await expect(panel.get_by_role("heading", name=XSS)).to_be_visible()
        await expect(panel.get_by_role("list", name="Trail")).to_contain_text(f"{XSS} {tag}")
        chat = panel.get_by_role("group").filter(has_text="Waiting")  # <details> is a group
        await chat.get_by_text(re.compile("Waiting")).first.click()
        await expect(panel.get_by_text(f"{XSS} javascript:alert(1)")).to_be_visible()

        found = await page.evaluate("""() => ({
            xss: typeof window.__xss,
            imgs: document.querySelectorAll('img').length,
            jsLinks: Array.from(document.querySelectorAll('a[href]'))
                .filter((a) => !/^https?:/i.test(a.href)).map((a) => a.getAttribute('href')),
            onerror: document.querySelectorAll('[onerror]').length,
        })""")
        assert found == {"xss": "undefined", "imgs": 0, "jsLinks": [], "onerror": 0}, found
        assert errors.errors == []
        conversation_id = sent["conversation_id"]
        assert (await evil.call("close", {"conversation_id": conversation_id}))["ok"]
    finally:
        if evil.connected:
            await evil.disconnect()


async def test_invite_a_visitor_and_follow_the_invitation(live, new_page, csr_state):
    tag = new_id()[:6]
    _, page, errors = await open_visitors(new_page, live, csr_state)
    token = await page.locator('meta[name="switchboard-socket-token"]').get_attribute("content")
    me = await clients.agent(live.server.url, CSR, live.password, token=token)
    ann = None
    try:
        probe = await me.call("invite", {"visitor_id": "v_does_not_exist"}, timeout=5)
        assert probe["ok"] is False and probe["error"]["code"] in ("not_found", "unavailable"), probe

        # Offline CSRs are told why an invitation would be refused.
        await expect(page.get_by_text("set yourself Available in the console")).to_be_visible()
        assert (await me.call("set_status", {"status": "available"}))["ok"]
        await expect(page.get_by_text("set yourself Available in the console")).to_be_hidden()

        ann, session = await visitor_online(live, f"{live.origin}/tents?c={tag}", f"Tents {tag}")
        name = guest(session)
        row = row_of(page, name)
        await row.get_by_role("button", name=f"Invite {name}").click()
        dialog = page.get_by_role("dialog", name=f"Invite {name}")
        await expect(dialog).to_be_visible()
        await dialog.get_by_label("Message (optional)").fill(f"Need a hand choosing a tent? {tag}")
        await dialog.get_by_role("button", name="Send invitation").click()
        await expect(dialog).to_be_hidden()
        invitation_cell = row.get_by_role("cell").nth(7)
        await expect(invitation_cell).to_contain_text("Sent")
        await expect(invitation_cell).to_contain_text("by Alex Agent")
        await expect(row.get_by_role("button", name=f"Invite {name}")).to_be_disabled()

        shown = await ann.rec.wait_for("invitation")
        assert shown["message"] == f"Need a hand choosing a tent? {tag}"
        assert (await ann.call("invitation_seen", {"id": shown["id"]}))["ok"]
        await expect(invitation_cell).to_contain_text("Seen")
        assert (await ann.call("invitation_decline", {"id": shown["id"]}))["ok"]
        await expect(invitation_cell).to_contain_text("Declined")

        # Inviting again within the cool-down: the dialog says why, the row stays as it is.
        await row.get_by_role("button", name=f"Invite {name}").click()
        await dialog.get_by_role("button", name="Send invitation").click()
        await expect(dialog.get_by_role("alert")).to_have_text(re.compile("declined an invitation recently"))
        await dialog.get_by_role("button", name="Cancel").click()
        await expect(dialog).to_be_hidden()
        await expect(invitation_cell).to_contain_text("Declined")
        assert errors.errors == []
    finally:
        await clients.sign_off(me)
        await me.disconnect()
        if ann is not None and ann.connected:
            await ann.disconnect()


async def test_five_thousand_visitors_stay_fast(live, new_page, csr_state, record_property):
    """Dev-only self-check through the test hook (present only when window.__SB_TEST__ is set
    before load): 5,000 rows render fewer than 200 row elements, and a delta of 50 updates is
    applied and painted within 50 ms."""
    _, page, errors = await open_visitors(new_page, live, csr_state, init_script="window.__SB_TEST__ = true")
    figures = await page.evaluate("""async () => {
        const hook = window.__sbVisitorsTestHook;
        const frame = () => new Promise((resolve) => requestAnimationFrame(() => resolve()));
        const now = Date.now();
        const types = ["direct", "internal", "search", "social", "email", "paid", "other", null];
        const row = (i, extra) => ({
            id: "v_synthetic_" + i, site_id: 1, name: i % 3 ? null : "Synthetic " + i,
            url: "https://shop.example.com/p/" + i, title: "Product " + i,
            page_since: new Date(now - (i % 600) * 1000).toISOString(), pages: 1 + (i % 9), visit: 1 + (i % 4),
            returning: i % 4 > 0, referrer: null, referrer_type: types[i % 8], referrer_domain: "example.org",
            keywords: i % 8 === 2 ? "tent " + i : null, country: ["DE", "FR", "US", null][i % 4],
            device: "desktop", browser: "Chrome 131", os: "Linux", chat: ["none", "waiting", "assigned"][i % 3],
            invitation: null, online_since: new Date(now - i * 1000).toISOString(), ...extra,
        });
        const rowCount = () => document.querySelectorAll('[role="table"] [role="rowgroup"] [role="row"]').length;
        const all = Array.from({ length: 5000 }, (_, i) => row(i));
        let t0 = performance.now();
        hook.apply({ upsert: all, remove: [] });
        await frame();
        const initialMs = performance.now() - t0;
        const afterInitial = rowCount();
        const scroller = document.getElementById("scroller");
        scroller.scrollTop = 2500 * 56;
        await frame();
        await frame();
        const afterScroll = rowCount();
        const middle = Array.from(document.querySelectorAll('#rows [role="row"]'))
            .map((r) => Number(r.getAttribute("aria-rowindex")));
        const timings = [];
        const work = [];
        for (let round = 0; round < 20; round++) {
            const upsert = Array.from({ length: 50 }, (_, k) => {
                const i = (round * 211 + k * 97) % 5000;
                return row(i, { title: "Changed " + round + " " + i, pages: 10 + round,
                                page_since: new Date().toISOString() });
            });
            t0 = performance.now();
            hook.apply({ upsert, remove: [] });
            await frame();
            timings.push(performance.now() - t0);
            work.push(hook.stats().lastRenderMs);
        }
        return { initialMs, afterInitial, afterScroll, minIndex: Math.min(...middle), maxIndex: Math.max(...middle),
                 timings, work, stats: hook.stats() };
    }""")
    timings = sorted(figures["timings"])
    median = statistics.median(timings)
    summary = (f"5,000 rows: first apply+render {figures['initialMs']:.1f} ms, {figures['afterInitial']} row elements "
               f"({figures['afterScroll']} after scrolling to the middle, rows {figures['minIndex']}-{figures['maxIndex']}); "
               f"50-row delta apply+frame: median {median:.1f} ms, max {timings[-1]:.1f} ms; "
               f"render work alone: max {max(figures['work']):.1f} ms")
    print("\n" + summary)
    record_property("visitors_perf", summary)
    assert figures["stats"]["rows"] >= 5000
    assert figures["afterInitial"] < 200 and figures["afterScroll"] < 200, summary
    assert 2000 < figures["minIndex"] < 2600, summary  # the window really moved to the middle
    assert median < 50 and timings[int(len(timings) * 0.9)] < 50, summary
    assert errors.errors == []


async def test_visitors_view_is_for_csrs_supervisors_and_admins(live, new_page):
    base = live.server.url
    _, page, _ = await new_page()
    await page.goto(base + "/visitors")
    await expect(page).to_have_url(re.compile(r"/login\?next=/visitors$"))
    await page.get_by_label("Email").fill("marketer@example.com")
    await page.get_by_label("Password").fill(live.password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_load_state()
    response = await page.goto(base + "/visitors")
    assert response.status == 403
    await expect(page.get_by_text("The Visitors view is for CSRs, supervisors and admins.")).to_be_visible()

    # Supervisors keep every section link, Visitors included.
    _, boss, _ = await new_page()
    await sign_in(boss, base, "boss@example.com", live.password)
    sections = boss.get_by_role("navigation", name="Sections")
    for name in ("Console", "Visitors", "Live board", "Wallboard", "Reports", "Staffing"):
        await expect(sections.get_by_role("link", name=name, exact=True)).to_be_visible()
    await sections.get_by_role("link", name="Visitors").click()
    await expect(boss.get_by_role("table", name="Visitors online")).to_be_visible()
    await expect(boss.get_by_text("Connected")).to_be_visible()
