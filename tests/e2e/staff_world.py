"""The staff side as the page-walking tests see it (accessibility, the untranslated-text walk): the
demo deployment with a morning of history made through the real protocol, the demo's staff signed in,
and every page the app serves with the role that works on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx
from playwright.async_api import Page, expect

from app.models import User
from app.services import accounts, evaluations, scorecards
from tests.support import clients
from tests.support.clients import new_id
from tests.support.db import fetch
from tests.support.inprocess import database
from tests.support.server import cli

TIMEOUT = 30_000  # ms: a busy two-core machine
PASSWORD_ROLES = {  # the demo's staff (app/services/admin.py seed_demo), one of each role
    "agent": "agent@demo.switchboard",
    "supervisor": "supervisor@demo.switchboard",
    "admin": "admin@demo.switchboard",
    "marketer": "marketer@demo.switchboard",
    "handler": "backoffice@demo.switchboard",
}
QUALITY_SECTIONS = [{"title": "Conversation", "criteria": [
    {"label": "Greets the visitor", "auto": "greeting", "guidance": "A greeting in the first reply."},
    {"label": "Answers within the service level", "auto": "first_response"},
    {"label": "Verifies the order number", "critical": True},
    {"label": "Solves the question", "scale": "five", "weight": 2},
]}]
WIDGET = "#switchboard-widget"  # the widget's shadow host (tests/e2e/test_accessibility_widget.py)
CLAIMS = "Claims"  # a department of the demo site that asks what each chat was about


@dataclass
class World:
    base: str
    site_key: str  # the demo site's
    ids: dict
    states: dict  # role → storage state of a signed-in browser
    casey: str  # a CSR of the general queue who works through the protocol (a colleague to transfer to)
    password: str


# ---- the history: what a morning on the demo site leaves behind --------------------------------------


GOOGLE = "https://www.google.com/search?q=waterproof+tent"
BING = "https://www.bing.com/search?q=return+hiking+boots"
CHATS = [  # (referrer, first page, question, answer, rating)
    (GOOGLE, "/demo/", "Is the Alpine 2 tent waterproof?", "Yes, to 3,000 mm. Anything else?", "good"),
    (BING, "/demo/support", "How do I return my boots?", "Print the label from your order page.", "neutral"),
    (None, "/demo/pricing", "Do you ship to Norway?", "We do, within five working days.", "good"),
]


async def seed_history(center, base: str, site_key: str) -> str:
    """The morning's history, made by Casey (returned: the e-mail) and the demo site's visitors."""
    t = new_id()[:6]
    csr_email = f"casey-{t}@example.com"
    center.create_user(csr_email, "agent", f"Casey {t}")  # in no department: every site's general queue
    csr = await clients.agent(base, csr_email, center.password)
    try:
        assert (await csr.call("set_status", {"status": "available"}))["ok"]
        for referrer, path, question, answer, rating in CHATS:
            visitor = await clients.visitor(base, site_key, origin=base)
            try:
                ack = await visitor.call("page_view", {"url": base + path, "title": "Demo shop", "referrer": referrer})
                assert ack["ok"], ack
                found = await visitor.call("help_search", {"query": "return"})
                assert found["ok"], found
                if found["results"]:
                    assert (await visitor.call("help_article", {"id": found["results"][0]["id"]}))["ok"]
                sent = await visitor.call("message", {"client_id": new_id(), "body": question})
                assert sent["ok"], sent
                conversation = sent["conversation_id"]
                await csr.rec.wait_for("conversation.assigned", lambda c: c["id"] == conversation)
                assert (await csr.call("message", {"conversation_id": conversation, "client_id": new_id(),
                                                   "body": answer}))["ok"]
                assert (await csr.call("close", {"conversation_id": conversation}))["ok"]
                # With a comment (the visitor's text: the CSAT comments report shows it as data).
                assert (await visitor.call("rate", {"conversation_id": conversation, "rating": rating,
                                                    "comment": f"About: {question}"}))["ok"]
            finally:
                await visitor.disconnect()

        # An invitation, accepted: the funnel has a row.
        visitor = await clients.visitor(base, site_key, origin=base)
        try:
            await visitor.call("page_view", {"url": base + "/demo/pricing", "title": "Pricing", "referrer": GOOGLE})
            visitor_id = visitor.rec.of("session")[0]["visitor_id"]
            invited = await csr.call("invite", {"visitor_id": visitor_id, "message": "Need a hand choosing?"})
            assert invited["ok"], invited
            invitation = await visitor.rec.wait_for("invitation", lambda i: i["id"] == invited["invitation"]["id"])
            assert (await visitor.call("invitation_seen", {"id": invitation["id"]}))["ok"]
            accepted = await visitor.call("invitation_accept", {"id": invitation["id"]})
            assert accepted["ok"], accepted
            conversation = accepted["conversation"]["id"]
            await visitor.call("message", {"client_id": new_id(), "body": "Which one is lighter?"})
            await csr.rec.wait_for("conversation.assigned", lambda c: c["id"] == conversation)
            assert (await csr.call("close", {"conversation_id": conversation}))["ok"]
        finally:
            await visitor.disconnect()

        # A break, then nobody Available: a visitor gives up waiting, another leaves a note.
        assert (await csr.call("set_status", {"status": "away", "reason": "Meal"}))["ok"]
        assert (await csr.call("set_status", {"status": "offline"}))["ok"]
        visitor = await clients.visitor(base, site_key, origin=base)
        try:
            sent = await visitor.call("message", {"client_id": new_id(), "body": "Hello? Anyone there?"})
            assert (await visitor.call("close", {"conversation_id": sent["conversation_id"]}))["ok"]
            note = await visitor.call("leave_message", {"email": "ola.nordmann@example.org", "name": "Ola Nordmann",
                                                        "body": "Please call me back about my order 10442."})
            assert note["ok"], note
        finally:
            await visitor.disconnect()
    finally:
        await csr.disconnect()
    return csr_email


async def sign_in_state(browser, base: str, email: str, password: str) -> dict:
    """Signed in once (sign-in is throttled per e-mail): the cookies, for new contexts."""
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await page.goto(base + "/login")
        await page.get_by_label("Email").fill(email)
        await page.get_by_label("Password").fill(password)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page).not_to_have_url(re.compile(r"/login"), timeout=TIMEOUT)
        return await context.storage_state()
    finally:
        await context.close()


async def build_world(browser, center) -> World:
    """The demo deployment's morning of history, the ids the pages' paths name, and each role signed in."""
    base = center.server.url
    page = httpx.get(base + "/demo/").text
    site_key = re.search(r'<script[^>]+src="[^"]*/widget\.js"[^>]+data-site="([^"]+)"', page).group(1)
    casey = await seed_history(center, base, site_key)
    cli(center.env, "create-department", "--site", site_key, "--name", CLAIMS,
        "--member", PASSWORD_ROLES["agent"], "--classification", "required", "--json")

    one = lambda sql, *args: fetch(center, sql, *args)  # noqa: E731
    site = (await one("SELECT id FROM site WHERE key = ?", site_key))[0]["id"]
    order = (await one("SELECT id FROM work_order ORDER BY id LIMIT 1"))[0]["id"]
    article = (await one("SELECT id FROM kb_article WHERE status = 'published' AND audience = 'public' "
                         "ORDER BY id LIMIT 1"))[0]["id"]
    mail = await one("SELECT body FROM outgoing_mail WHERE work_order_id IS NOT NULL ORDER BY id LIMIT 1")
    request_link = re.search(r"/requests/[0-9]+\.[0-9a-f]+", mail[0]["body"]).group(0)
    async with database(center, runtime=True):
        _, password_token = await accounts.password_link(None, center.users.get("agent@example.com")["id"])
    ids = {
        "site": site, "key": site_key, "order": order, "article": article, "request": request_link,
        "password_token": password_token,
        "user": (await one("SELECT id FROM app_user WHERE email = ?", PASSWORD_ROLES["agent"]))[0]["id"],
        "department": (await one("SELECT id FROM department WHERE name = ?", CLAIMS))[0]["id"],
        "team": (await one("SELECT id FROM work_team ORDER BY id LIMIT 1"))[0]["id"],
        "category": (await one("SELECT id FROM work_category ORDER BY id LIMIT 1"))[0]["id"],
        "policy": (await one("SELECT id FROM sla_policy ORDER BY id LIMIT 1"))[0]["id"],
        # The demo's new CSR, with weeks of history (app/services/quality_demo.py): their scorecard.
        "csr": (await one("SELECT id FROM app_user WHERE email = ?", "nina@demo.switchboard"))[0]["id"],
    }
    # Quality: a center-wide scorecard, and the admin's draft evaluation of a closed chat (the form's page).
    chat, ids["chat"] = [r["id"] for r in await one(
        "SELECT id FROM conversation WHERE status = 'closed' AND agent_id IS NOT NULL AND id NOT IN "
        "(SELECT conversation_id FROM qa_evaluation) ORDER BY id LIMIT 2")]
    async with database(center, runtime=True):
        admin = await User.get(email=PASSWORD_ROLES["admin"])
        await scorecards.save(admin, name="Chat quality", sections=QUALITY_SECTIONS)
        ids["draft"] = (await evaluations.start(admin, chat)).id
    ids.update(await seed_quality_results(center, ids["site"]))
    states = {role: await sign_in_state(browser, base, email, center.password) for role, email in PASSWORD_ROLES.items()}
    return World(base=base, site_key=site_key, ids=ids, states=states, casey=casey, password=center.password)


# ---- quality: a submitted evaluation of the demo CSR's chat with a dispute, a calibration session, coaching


RESULT_SECTIONS = [{"title": "Conversation", "criteria": [
    {"label": "Greets the visitor", "weight": 1}, {"label": "Verifies the order", "critical": True, "weight": 1},
    {"label": "Solves the question", "scale": "five", "weight": 2}]}]


async def seed_quality_results(center, site_id: int) -> dict:
    """{evaluation, calibration, coaching}: ids of what the result, Calibration and Coaching pages show."""
    from datetime import timedelta

    from app.clock import utcnow
    from app.models import Conversation, User, Visitor
    from app.services import admin as admin_service
    from app.services import calibration, coaching, disputes, evaluations, scorecards

    async with database(center, runtime=True):
        csr = await User.get(email=PASSWORD_ROLES["agent"])
        boss = await User.get(email=PASSWORD_ROLES["admin"])
        qa = await admin_service.create_user(f"quinn-{new_id()[:6]}@example.com", center.password, "qa", "Quinn QA", None)
        _, version = await scorecards.save(boss, name="Chat quality (results)", sections=RESULT_SECTIONS)
        at = utcnow() - timedelta(hours=2)
        chats = []
        for _ in range(2):
            visitor = await Visitor.create(id=new_id(), site_id=site_id, first_seen=at, last_seen=at)
            chats.append(await Conversation.create(site_id=site_id, visitor=visitor, agent=csr, status="closed",
                                                   requested_at=at, assigned_at=at, closed_at=at + timedelta(minutes=4),
                                                   closed_by="agent"))
        draft = await evaluations.start(boss, chats[0].id, version=version)
        evaluation = await evaluations.submit(boss, draft.id, {"c1": "no", "c2": "yes", "c3": "4"}, automatic=["c1"],
                                              notes={"c3": "Solved, a little slowly."})
        await disputes.dispute(csr, evaluation.id, "c1", "I greeted the visitor in my first message.")
        session = await calibration.create(boss, "Monthly calibration", version.id, [chats[1].id], [boss.id, qa.id])
        for who, answers in ((boss, {"c1": "yes", "c2": "yes", "c3": "5"}), (qa, {"c1": "no", "c2": "yes", "c3": "3"})):
            mine = await calibration.start(who, session.id, chats[1].id)
            await evaluations.submit(who, mine.id, answers)
        await calibration.set_agreed(boss, session.id, chats[1].id, {"c1": "yes"})
        coached = await coaching.create(boss, {"agent_id": csr.id, "held_on": utcnow().date().isoformat(),
                                               "topics": "Greeting in the first message", "goals": "Greet every visitor",
                                               "follow_up_on": utcnow().date().isoformat(),
                                               "evaluation_ids": [evaluation.id]})
    return {"evaluation": evaluation.id, "calibration": session.id, "coaching": coached.id}


# ---- waiting for a page to be whole ---------------------------------------------------------------------


UNSETTLED = """() => {
    const busy = Array.from(document.querySelectorAll('[aria-busy="true"]')).map((n) => n.outerHTML.slice(0, 120));
    for (const node of document.querySelectorAll("body *")) {
        if (node.children.length === 0 && /^(Loading|Connecting)/.test(node.textContent.trim())
            && node.checkVisibility()) busy.push(node.outerHTML.slice(0, 120));
    }
    if (document.readyState !== "complete") busy.push("the document");
    return busy;
}"""


async def settled(page: Page) -> None:
    """The page has loaded what it shows: nothing busy, no "Loading…" or "Connecting…" in sight."""
    try:
        await page.wait_for_function(f"() => ({UNSETTLED})().length === 0", timeout=TIMEOUT)
    except Exception:
        raise AssertionError(f"{page.url} is still loading: {await page.evaluate(UNSETTLED)}") from None


async def open_as(new_page, world: World, role: str | None, path: str, **options) -> Page:
    context_options = {"bypass_csp": True, "viewport": {"width": 1400, "height": 900}, **options}
    if role:
        context_options["storage_state"] = world.states[role]
    _, page, errors = await new_page(**context_options)
    response = await page.goto(world.base + path)
    assert response is not None and response.status < 500, (path, response and response.status)
    await settled(page)
    page.errors = errors
    return page


# ---- every page, as the role that works on it ----------------------------------------------------------

# (what, role, path, the state to put the page in first or None). Paths name the world's ids.
async def _profile(page: Page) -> None:
    rows = page.get_by_role("button", name=re.compile("^Profile of "))
    if await rows.count():
        await rows.first.click()
        await expect(page.get_by_role("complementary", name="Visitor profile")).to_be_visible(timeout=TIMEOUT)
        await settled(page)


async def _trail(page: Page) -> None:
    # By structure, not by name: the walk opens it in Chinese too (the Visits table's first visit).
    await page.locator("#visits-body tr[data-visit]").first.focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("dialog#trail")).to_be_visible(timeout=TIMEOUT)
    await settled(page)


async def _new_order(page: Page) -> None:
    await page.get_by_role("button", name=re.compile("^(New work order|新建工单)$")).click()
    await expect(page.get_by_role("dialog")).to_be_visible(timeout=TIMEOUT)


async def _scorecard_open(page: Page) -> None:
    # By structure: the walk opens it in Chinese too (the first scorecard's Edit or View).
    await page.locator("#sc-rows button").first.click()
    await expect(page.locator("#sc-panel")).to_be_visible(timeout=TIMEOUT)
    await settled(page)


async def _new_response(page: Page) -> None:
    await page.get_by_role("button", name=re.compile("^(New canned response|新建快捷回复)$")).click()
    await expect(page.get_by_role("dialog")).to_be_visible(timeout=TIMEOUT)


PAGES = [
    ("sign-in", None, "/login", None),
    ("Visitors", "agent", "/visitors", None),
    ("Visitors, a profile open", "agent", "/visitors", _profile),
    ("Work orders", "agent", "/work-orders", None),
    ("Work orders, New work order", "agent", "/work-orders", _new_order),
    ("a work order", "agent", "/work-orders/{order}", None),
    ("Work orders (back office)", "handler", "/work-orders", None),
    ("a work order (back office)", "handler", "/work-orders/{order}", None),
    ("Knowledge base (reader)", "agent", "/knowledge", None),
    ("an article (reader)", "agent", "/knowledge/articles/{article}", None),
    ("a missing article", "agent", "/knowledge/articles/999999", None),
    ("Canned responses", "agent", "/canned", None),
    ("Canned responses, New canned response", "agent", "/canned", _new_response),
    ("Account", "agent", "/account", None),
    ("Live board", "supervisor", "/supervise", None),
    ("Wallboard", "supervisor", "/wallboard", None),
    ("Reports", "supervisor", "/reports", None),
    ("Staffing", "supervisor", "/staffing", None),
    ("Quality", "supervisor", "/quality", None),
    ("Quality, all evaluators", "supervisor", "/quality?who=all&status=all", None),
    ("Quality: sampling rules", "supervisor", "/quality/sampling", None),
    ("Quality reports", "supervisor", "/quality/reports", None),
    ("Scorecards", "supervisor", "/quality/scorecards", None),
    ("Scorecards, a scorecard open", "supervisor", "/quality/scorecards", _scorecard_open),
    ("an evaluation (the evaluator's form)", "admin", "/quality/evaluations/{draft}", None),
    ("a chat to evaluate", "admin", "/quality/chats/{chat}", None),
    ("My scorecard", "agent", "/quality/scorecard", None),
    ("Team scorecard", "supervisor", "/quality/team", None),
    ("a CSR's scorecard", "supervisor", "/quality/scorecard/{csr}", None),
    ("Explorer", "marketer", "/explorer", None),
    ("Explorer, a trail open", "marketer", "/explorer", _trail),
    ("Knowledge base (editor)", "admin", "/knowledge", None),
    ("a new article", "admin", "/knowledge/new", None),
    ("an article (editor)", "admin", "/knowledge/articles/{article}", None),
    ("Admin: sites", "admin", "/admin/sites", None),
    ("Admin: widget", "admin", "/admin/widget", None),
    ("Admin: widget preview", "admin", "/admin/widget/preview/{site}", None),
    ("Admin: users", "admin", "/admin/users", None),
    ("Admin: a user", "admin", "/admin/users/{user}", None),
    ("Admin: departments", "admin", "/admin/departments", None),
    ("Admin: a department", "admin", "/admin/departments/{department}", None),
    ("Admin: a new department", "admin", "/admin/departments/new", None),
    ("Admin: general queue hours", "admin", "/admin/departments/general/{site}", None),
    ("Admin: away reasons", "admin", "/admin/away-reasons", None),
    ("Admin: invitation rules", "admin", "/admin/invitation-rules", None),
    ("Admin: privacy", "admin", "/admin/privacy", None),
    ("Admin: teams", "admin", "/admin/teams", None),
    ("Admin: a team", "admin", "/admin/teams/{team}", None),
    ("Admin: a new team", "admin", "/admin/teams/new", None),
    ("Admin: categories and SLA", "admin", "/admin/work-categories", None),
    ("Admin: a category", "admin", "/admin/work-categories/{category}", None),
    ("Admin: an SLA policy", "admin", "/admin/work-categories/policies/{policy}", None),
    ("Admin: outgoing mail", "admin", "/admin/outgoing-mail", None),
    ("Admin: audit log", "admin", "/admin/audit", None),
    ("Evaluation (the CSR's result)", "agent", "/quality/evaluations/{evaluation}", None),
    ("Evaluation (a supervisor decides)", "supervisor", "/quality/evaluations/{evaluation}", None),
    ("Disputes", "supervisor", "/quality/disputes", None),
    ("Calibration", "admin", "/quality/calibration", None),
    ("a calibration session", "admin", "/quality/calibration/{calibration}", None),
    ("Coaching", "supervisor", "/quality/coaching", None),
    ("Coaching (the CSR's)", "agent", "/quality/coaching", None),
    ("a coaching session (the CSR's)", "agent", "/quality/coaching/{coaching}", None),
    ("a coaching session (its coach edits)", "admin", "/quality/coaching/{coaching}", None),
    ("help center", None, "/help/{key}/", None),
    ("help center in Chinese", None, "/help/{key}/?lang=zh", None),
    ("help center, a search", None, "/help/{key}/?q=return", None),
    ("help center, an article", None, "/help/{key}/articles/{article}", None),
    ("a customer's request status", None, "{request}", None),
    ("set-password page", None, "/set-password/{password_token}", None),
]


# What the app serves by GET that is no page to check: redirects, downloads, machine endpoints, the
# demo shop (a customer's site) and the widget's scripts. /console is checked in its own states below.
NOT_PAGES = {"/", "/healthz", "/readyz", "/metrics", "/admin", "/admin/audit.csv", "/staffing.csv", "/widget.js",
             "/widget-chat.js", "/demo/", "/demo/{}", "/kb/images/{}", "/requests/{}/attachments/{}", "/console",
             "/quality/calibration/deviation.csv", "/quality/reports.csv"}


def shape(path: str) -> str:
    """A path with its parameters blanked: /work-orders/{order_id:str} and /work-orders/{order} → /work-orders/{}."""
    return re.sub(r"\{[^}]*\}", "{}", path.split("?", 1)[0])



def served_pages(tmp_path) -> set[str]:
    """The shapes of every page the app serves by GET (not /api/)."""
    from starlette.routing import Route

    from app.config import load_settings
    from app.web.app import create_app

    server = create_app(load_settings({"DATA_DIR": str(tmp_path), "SECRET_KEY": "s"}), process_wide=False)
    return {shape(r.path) for r in server.asgi.other_asgi_app.routes
            if isinstance(r, Route) and "GET" in (r.methods or {"GET"}) and not r.path.startswith("/api/")}
