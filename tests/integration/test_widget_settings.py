"""The Widget admin page over HTTP and the widget's socket, on real servers (SQLite; PostgreSQL +
Redis with two workers): the appearance saved, audited and sent to every new widget in `session`
on every worker at once; a required e-mail refuses a chat's first message without one (an error
ack, the connection stays, nothing stored); every bad input refused next to its field with nothing
stored; CSRF, role and unknown-site refusals; the preview page (admin only, frameable by this
origin alone, the real widget with the session it shows)."""

from __future__ import annotations

import html
import json
import re

import pytest

from tests.support import clients
from tests.support.clients import new_id
from tests.support.db import fetch
from tests.support.server import cli
from tests.support.web import csrf_of, post_form, signed_in

SHOP = "https://shop.example.com"  # every test deployment's first origin (tests/support/server.py)
AGENT = "agent@example.com"
SUPERVISOR = "boss@example.com"
DEFAULTS = {
    "accent_color": "#2563eb", "launcher_position": "bottom-right",
    "title": {"en": "Chat with us", "zh-CN": "在线咨询"}, "greeting": {"en": "", "zh-CN": ""},
    "prechat": {"name": "optional", "email": "optional"}, "topics": True, "offline_form": True,
}
# The form as the page posts it, with the defaults.
FORM = {
    "accent_color": "#2563eb", "launcher_position": "bottom-right", "title_en": "Chat with us", "title_zh": "在线咨询",
    "greeting_en": "", "greeting_zh": "", "prechat_name": "optional", "prechat_email": "optional",
    "topics": "on", "offline_form": "on",
}

_admins: dict[int, str] = {}


def admin_of(d) -> str:
    """An admin of the deployment (made once per deployment: hashing a password takes a while)."""
    if id(d) not in _admins:
        email = f"admin-{new_id()[:8]}@example.com"
        d.create_user(email, "admin", "Ada Admin")
        _admins[id(d)] = email
    return _admins[id(d)]


def as_json(value):
    return json.loads(value) if isinstance(value, str) else value


def new_site(d, name: str) -> dict:
    """A site of the test's own, allowed on SHOP and on every server's origin: {id, key}."""
    origins = sum((["--origin", s.url] for s in d.servers), ["--origin", SHOP])
    return json.loads(cli(d.env, "create-site", "--name", name, *origins, "--json"))


async def settings_of(d, site_id: int) -> dict:
    [row] = await fetch(d, "SELECT settings FROM site WHERE id = ?", site_id)
    return as_json(row["settings"]) or {}


async def audit_of(d, site_id: int) -> list[dict]:
    rows = await fetch(d, "SELECT action, actor_id, data FROM audit_event WHERE action = 'widget_update' "
                          "AND CAST(data AS TEXT) LIKE ? ORDER BY id", f'%"site:{site_id}"%')
    return [{**r, "data": as_json(r["data"])} for r in rows]


def field_error(page: str, field_id: str) -> str:
    found = re.search(rf'<p class="field-error" id="{field_id}-error">([^<]*)</p>', page)
    return html.unescape(found.group(1)) if found else ""


async def save(http, site_id: int, changes: dict, *, drop: tuple[str, ...] = ()):
    data = {k: v for k, v in {**FORM, **changes}.items() if k not in drop}
    return await post_form(http, f"/admin/widget?site={site_id}", data, action=f"/admin/widget/{site_id}")


async def test_an_admin_saves_the_appearance_and_every_new_widget_gets_it(deployment):
    d, tag = deployment, new_id()[:6]
    site = new_site(d, f"Look {tag}")
    # A setting of another section, kept as it is.
    cli(d.env, "site-settings", "--site", site["key"], "--set", '{"tracking": {"retention_days": 30}}')
    before = await clients.visitor(d.servers[-1].url, site["key"], SHOP)  # every worker has the site cached
    try:
        assert before.rec.of("session")[0]["widget"] == DEFAULTS
        async with signed_in(d.servers[0].url, admin_of(d), d.password) as http:
            page = await http.get(f"/admin/widget?site={site['id']}")
            assert page.status_code == 200
            for label in ("Accent colour", "Launcher position", "Header title (English)", "Greeting (English)",
                          "Header title (简体中文)", "Greeting (简体中文)", "Name field", "Email field"):
                assert f">{label}</label>" in page.text, label
            assert "> Visitors pick a topic</label>" in page.text and "> Offline form</label>" in page.text
            assert '<iframe title="Widget preview"' in page.text
            assert f'src="/admin/widget/preview/{site["id"]}?lang=en"' in page.text
            assert '<script src="/static/admin_widget.js" defer></script>' in page.text

            greeting = f"Hello <b>{tag}</b>!\r\nAsk us anything."  # markup is text; lines are kept
            saved = await save(http, site["id"], {
                "accent_color": " #0F766E ", "launcher_position": "bottom-left", "title_en": f"  Acme   help {tag} ",
                "greeting_en": greeting, "title_zh": "", "greeting_zh": "您好", "prechat_name": "hidden",
                "prechat_email": "required", "topics": None, "offline_form": "on"}, drop=("topics",))
            assert saved.status_code == 303, saved.text[:3000]
            assert saved.headers["location"] == f"/admin/widget?site={site['id']}&done=saved"
            expected = {
                "accent_color": "#0f766e", "launcher_position": "bottom-left",
                "title": {"en": f"Acme help {tag}", "zh-CN": ""},
                "greeting": {"en": f"Hello <b>{tag}</b>!\nAsk us anything.", "zh-CN": "您好"},
                "prechat": {"name": "hidden", "email": "required"}, "topics": False, "offline_form": True,
            }
            stored = await settings_of(d, site["id"])
            assert stored["widget"] == expected
            assert stored["tracking"] == {"retention_days": 30}
            shown = await http.get(saved.headers["location"])
            assert "Saved." in shown.text and 'value="#0f766e"' in shown.text
            assert f"Hello &lt;b&gt;{tag}&lt;/b&gt;!" in shown.text
            assert re.search(r'id="f-topics" name="topics"\s*aria-describedby', shown.text)  # not checked

            # Every new widget, on every worker, at once: the new look in `session`.
            for server in d.servers:
                visitor = await clients.visitor(server.url, site["key"], SHOP)
                assert visitor.rec.of("session")[0]["widget"] == expected
                await visitor.disconnect()

            # Saving the same again changes nothing and records nothing.
            again = await save(http, site["id"], {
                "accent_color": "#0f766e", "launcher_position": "bottom-left", "title_en": f"Acme help {tag}",
                "greeting_en": expected["greeting"]["en"], "title_zh": "", "greeting_zh": "您好",
                "prechat_name": "hidden", "prechat_email": "required"}, drop=("topics",))
            assert again.status_code == 303
    finally:
        await before.disconnect()

    audit = await audit_of(d, site["id"])
    assert len(audit) == 1, audit
    [row] = await fetch(d, "SELECT id FROM app_user WHERE email = ?", admin_of(d))
    assert audit[0]["actor_id"] == row["id"]
    data = audit[0]["data"]
    assert data["subject"] == f"site:{site['id']}" and data["name"] == f"Look {tag}"
    assert data["before"] == {"accent_color": "#2563eb", "launcher_position": "bottom-right", "title_en": "Chat with us",
                              "title_zh": "在线咨询", "greeting_en": "", "greeting_zh": "", "prechat_name": "optional",
                              "prechat_email": "optional", "topics": True}
    assert data["after"] == {"accent_color": "#0f766e", "launcher_position": "bottom-left",
                             "title_en": f"Acme help {tag}", "title_zh": "", "greeting_en": expected["greeting"]["en"],
                             "greeting_zh": "您好", "prechat_name": "hidden", "prechat_email": "required", "topics": False}


async def test_a_required_email_refuses_a_first_message_without_one(deployment):
    d, tag = deployment, new_id()[:6]
    site = new_site(d, f"Prechat {tag}")
    told_before = await clients.visitor(d.servers[0].url, site["key"], SHOP)  # connected while it was optional
    async with signed_in(d.servers[0].url, admin_of(d), d.password) as http:
        assert (await save(http, site["id"], {"prechat_email": "required"})).status_code == 303
    visitors = []
    try:
        visitor = await clients.visitor(d.servers[-1].url, site["key"], SHOP)
        visitors.append(visitor)
        vid = visitor.rec.of("session")[0]["visitor_id"]
        assert visitor.rec.of("session")[0]["widget"]["prechat"] == {"name": "optional", "email": "required"}

        first = new_id()
        refused = await visitor.call("message", {"client_id": first, "body": f"Hello {tag}", "name": "Ann"})
        assert refused == {"ok": False, "error": {"code": "prechat_required", "field": "email",
                                                 "message": "Please enter your e-mail address to start the chat."}}
        assert visitor.connected
        # Nothing stored: no conversation, no message, not even the name that came with it.
        assert await fetch(d, "SELECT id FROM conversation WHERE visitor_id = ?", vid) == []
        assert await fetch(d, "SELECT id FROM message WHERE visitor_id = ?", vid) == []
        [row] = await fetch(d, "SELECT name, email FROM visitor WHERE id = ?", vid)
        assert row == {"name": None, "email": None}

        # With the e-mail the chat starts; the next message needs none.
        sent = await visitor.call("message", {"client_id": first, "body": f"Hello {tag}",
                                              "email": f"ann-{tag}@example.org"})
        assert sent["ok"] and sent["seq"] == 1, sent
        more = await visitor.call("message", {"client_id": new_id(), "body": "Are you there?"})
        assert more["ok"] and more["seq"] == 2, more
        # The resend of the first message (after a reconnect, say) acks the stored one.
        again = await visitor.call("message", {"client_id": first, "body": f"Hello {tag}"})
        assert again["ok"] and again["seq"] == 1, again
        assert (await visitor.call("close", {"conversation_id": sent["conversation_id"]}))["ok"]

        # A visitor whose e-mail the page gave (identify) starts a chat without typing it.
        known = await clients.visitor(d.servers[0].url, site["key"], SHOP)
        visitors.append(known)
        assert (await known.call("identify", {"email": f"kim-{tag}@example.org"}))["ok"]
        started = await known.call("message", {"client_id": new_id(), "body": "Hi"})
        assert started["ok"], started
        assert (await known.call("close", {"conversation_id": started["conversation_id"]}))["ok"]

        # A widget connected before the change was told "optional", and is held to what it was told.
        early = await told_before.call("message", {"client_id": new_id(), "body": "Hi from before"})
        assert early["ok"], early
        assert (await told_before.call("close", {"conversation_id": early["conversation_id"]}))["ok"]
    finally:
        for client in visitors + [told_before]:
            await client.disconnect()


BAD_INPUT = [
    ("accent_color", "blue", "f-accent-color", "'blue' is not a colour like #2563eb: # and six hexadecimal digits."),
    ("accent_color", "#fff", "f-accent-color", "'#fff' is not a colour like #2563eb"),
    ("accent_color", "", "f-accent-color", "Give a colour like #2563eb"),
    ("accent_color", "#7fb3ff", "f-accent-color",
     "White text on #7fb3ff has a contrast ratio of 2.14:1; WCAG AA needs at least 4.5:1. Choose a darker colour."),
    ("accent_color", "#7f7f7f", "f-accent-color", "contrast ratio of 4.00:1"),
    ("launcher_position", "top-left", "f-launcher-position", "Launcher position is one of: Bottom right"),
    ("title_en", "x" * 61, "f-title-en", "Header title (English) has at most 60 characters (61 given)."),
    ("title_zh", "标" * 61, "f-title-zh", "Header title (简体中文) has at most 60 characters"),
    ("greeting_en", "y" * 301, "f-greeting-en", "Greeting (English) has at most 300 characters (301 given)."),
    ("greeting_zh", "bell\x07", "f-greeting-zh", "Greeting (简体中文) has characters that cannot be shown."),
    ("prechat_name", "mandatory", "f-prechat-name", "Name field is one of: Hidden (hidden), Optional (optional)"),
    ("prechat_email", "", "f-prechat-email", "Email field is one of:"),
    ("topics", "yes", "f-topics", "Visitors pick a topic is a checkbox: on or off."),
    ("offline_form", "1", "f-offline-form", "Offline form is a checkbox: on or off."),
]


async def test_every_bad_input_is_refused_next_to_its_field_and_nothing_is_stored(deployment):
    d, tag = deployment, new_id()[:6]
    site = new_site(d, f"Refusals {tag}")
    async with signed_in(d.servers[0].url, admin_of(d), d.password) as http:
        for field, value, field_id, message in BAD_INPUT:
            # With a good change beside the bad one: nothing of either is kept.
            good = "title_en" if field == "greeting_en" else "greeting_en"
            refused = await save(http, site["id"], {good: f"Changed {tag}", field: value})
            assert refused.status_code == 400, (field, value, refused.status_code)
            assert message in field_error(refused.text, field_id), (field, value, refused.text[:4000])
            assert re.search(rf'id="{field_id}"[^>]*aria-invalid="true"', refused.text, re.S), field
            assert "Nothing was saved" in refused.text
            assert f"Changed {tag}" in refused.text  # what was typed, to correct it
        assert "widget" not in await settings_of(d, site["id"])
    assert await audit_of(d, site["id"]) == []


async def test_csrf_role_and_unknown_site_refusals(deployment):
    d, tag = deployment, new_id()[:6]
    site = new_site(d, f"Guarded {tag}")
    base = d.servers[0].url
    async with signed_in(base, admin_of(d), d.password) as http:
        page = await http.get(f"/admin/widget?site={site['id']}")
        # No CSRF token, or another one: 403, nothing stored.
        missing = await http.post(f"/admin/widget/{site['id']}", data={**FORM, "accent_color": "#0f766e"})
        assert missing.status_code == 403
        forged = await http.post(f"/admin/widget/{site['id']}",
                                 data={**FORM, "accent_color": "#0f766e", "csrf_token": "x" * 40})
        assert forged.status_code == 403
        # Sites that do not exist: 404 (the page, saving, the preview).
        assert (await http.get("/admin/widget?site=999999")).status_code == 404
        assert (await http.get("/admin/widget?site=abc")).status_code == 404
        gone = await http.post("/admin/widget/999999", data={**FORM, "csrf_token": csrf_of(page.text)})
        assert gone.status_code == 404 and "No such site." in gone.text
        assert (await http.get("/admin/widget/preview/999999")).status_code == 404
    for email in (AGENT, SUPERVISOR):
        async with signed_in(base, email, d.password) as http:
            assert (await http.get(f"/admin/widget?site={site['id']}")).status_code == 403
            assert (await http.get(f"/admin/widget/preview/{site['id']}")).status_code == 403
            console = await http.get("/account")
            token = csrf_of(console.text)
            refused = await http.post(f"/admin/widget/{site['id']}",
                                      data={**FORM, "accent_color": "#0f766e", "csrf_token": token})
            assert refused.status_code == 403
    async with signed_in(base, admin_of(d), d.password) as http:
        await http.post("/logout", data={"csrf_token": csrf_of((await http.get("/account")).text)})
        signed_out = await http.get(f"/admin/widget/preview/{site['id']}")
        assert signed_out.status_code in (302, 303, 307) and "/login" in signed_out.headers["location"]
    assert "widget" not in await settings_of(d, site["id"])
    assert await audit_of(d, site["id"]) == []


async def test_the_preview_page_carries_the_real_widget_with_the_session_it_shows(deployment):
    d, tag = deployment, new_id()[:6]
    site = new_site(d, f"Preview {tag}")
    cli(d.env, "create-department", "--site", site["key"], "--name", f"Tents {tag}")
    async with signed_in(d.servers[0].url, admin_of(d), d.password) as http:
        assert (await save(http, site["id"], {"greeting_en": "Hi <there>", "accent_color": "#0f766e"})).status_code == 303
        page = await http.get(f"/admin/widget?site={site['id']}")
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]  # the admin page itself
        visitors_before = await fetch(d, "SELECT count(*) AS n FROM visitor WHERE site_id = ?", site["id"])
        preview = await http.get(f"/admin/widget/preview/{site['id']}?lang=zh-CN")
        assert preview.status_code == 200
        csp = preview.headers["content-security-policy"]
        assert "frame-ancestors 'self'" in csp and "script-src 'self'" in csp and "connect-src 'none'" in csp
        assert preview.headers["x-frame-options"] == "SAMEORIGIN"
        assert preview.headers["cache-control"] == "no-store"
        script = re.search(r'<script async src="/widget\.js" data-site="([^"]+)" data-preview="([^"]*)" '
                           r'data-lang="([^"]+)"></script>', preview.text)
        assert script, preview.text
        assert script.group(1) == site["key"] and script.group(3) == "zh-CN"
        session = json.loads(html.unescape(script.group(2)))
        assert session["widget"]["greeting"]["en"] == "Hi <there>"
        assert session["widget"]["accent_color"] == "#0f766e"
        assert [dep["name"] for dep in session["departments"]] == [f"Tents {tag}"]
        assert session["conversation"] is None and session["token"] is None
        # An unknown language is English; the page makes no visitor.
        other = await http.get(f"/admin/widget/preview/{site['id']}?lang=fr")
        assert 'data-lang="en"' in other.text
        assert await fetch(d, "SELECT count(*) AS n FROM visitor WHERE site_id = ?", site["id"]) == visitors_before


@pytest.mark.parametrize("colour, ratio", [("#2563eb", 5.17), ("#767676", 4.54), ("#000000", 21.0), ("#ffffff", 1.0)])
def test_the_contrast_ratio_is_wcags(colour, ratio):
    from app.services import widget_settings

    assert round(widget_settings.contrast_ratio(colour, "#ffffff"), 2) == ratio


async def test_the_command_line_is_checked_the_same_way_and_a_site_without_notes_takes_none(deployment):
    """`site-settings --set '{"widget": …}'` goes through the page's checks (a partial change is
    merged); with the offline form off, `leave_message` is refused on the server too."""
    d = deployment
    site = new_site(d, f"Notes {new_id()[:6]}")
    with pytest.raises(RuntimeError, match="contrast"):
        cli(d.env, "site-settings", "--site", site["key"], "--set", '{"widget": {"accent_color": "#7fb3ff"}}')
    with pytest.raises(RuntimeError, match="not a widget setting"):
        cli(d.env, "site-settings", "--site", site["key"], "--set", '{"widget": {"colour": "#000000"}}')
    assert "widget" not in await settings_of(d, site["id"])
    cli(d.env, "site-settings", "--site", site["key"], "--set",
        '{"widget": {"offline_form": false, "greeting": {"en": "Hello there"}}}')
    stored = (await settings_of(d, site["id"]))["widget"]
    assert stored["offline_form"] is False and stored["greeting"] == {"en": "Hello there", "zh-CN": ""}
    assert stored["accent_color"] == DEFAULTS["accent_color"]
    visitor = await clients.visitor(d.servers[-1].url, site["key"], SHOP)
    try:
        assert visitor.rec.of("session")[0]["widget"]["offline_form"] is False
        refused = await visitor.call("leave_message", {"email": "ana@example.org", "body": "Call me"})
        assert refused["error"]["code"] == "offline_form_off" and visitor.connected
        assert not await fetch(d, "SELECT id FROM offline_message WHERE site_id = ?", site["id"])
    finally:
        await visitor.disconnect()
