"""The Sites and Privacy admin pages over HTTP, on real servers (SQLite; PostgreSQL + Redis with two
workers): create, edit, disable and enable a site, rotate its key (the old key works for its grace
period, then is refused); a change reaches the widget's connect and the beacon on every worker at
once; a site's tracking settings saved and applied; a visitor found by id or e-mail, exported and
erased; every refused input shown next to its field with nothing stored; the audit rows; the CLI
going through the same services."""

from __future__ import annotations

import asyncio
import html
import json
import re
import subprocess
import sys
import time
from datetime import timedelta

import httpx
import pytest
import socketio

from app.clock import utcnow
from tests.support import clients
from tests.support.clients import new_id
from tests.support.db import fetch
from tests.support.server import ROOT, cli, deploy
from tests.support.web import csrf_of, post_form, signed_in

WAIT = 30.0
SHOP = "https://shop.example.com"  # every test deployment's first origin (tests/support/server.py)


# --- helpers -------------------------------------------------------------------------------------


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


def field_error(page: str, field_id: str) -> str:
    found = re.search(rf'<p class="field-error" id="{field_id}-error">([^<]*)</p>', page)
    return html.unescape(found.group(1)) if found else ""


def snippet_on(page: str) -> str:
    found = re.search(r'<textarea id="site-snippet"[^>]*>([^<]*)</textarea>', page)
    assert found, page[:3000]
    return html.unescape(found.group(1))


async def site_row(d, site_id: int) -> dict:
    [row] = await fetch(d, "SELECT id, name, key, allowed_origins, settings, disabled_at, previous_key, "
                           "previous_key_until FROM site WHERE id = ?", site_id)
    return {**row, "allowed_origins": as_json(row["allowed_origins"]), "settings": as_json(row["settings"])}


async def audit_of(d, site_id: int) -> list[dict]:
    rows = await fetch(d, "SELECT action, actor_id, data FROM audit_event WHERE CAST(data AS TEXT) LIKE ? "
                          "ORDER BY id", f'%"site:{site_id}"%')
    return [{**r, "data": as_json(r["data"])} for r in rows]


async def create_site(http: httpx.AsyncClient, name: str, origins: str) -> int:
    created = await post_form(http, "/admin/sites?new=1", {"name": name, "allowed_origins": origins},
                              action="/admin/sites")
    assert created.status_code == 303, created.text[:3000]
    found = re.match(r"^/admin/sites\?site=(\d+)&done=created$", created.headers["location"])
    assert found, created.headers["location"]
    return int(found.group(1))


async def post_on_site_page(http: httpx.AsyncClient, site_id: int, action: str, data: dict | None = None):
    page = await http.get(f"/admin/sites?site={site_id}")
    assert page.status_code == 200, page.text[:2000]
    return await http.post(action, data={"csrf_token": csrf_of(page.text), **(data or {})})


async def refusal(url: str, key: str, origin: str, token: str | None = None) -> dict:
    return await clients.refused(url, "/visitor", auth={"site": key, "token": token}, headers={"Origin": origin})


async def connect_or_refusal(url: str, key: str, origin: str, token: str | None = None) -> dict | None:
    """Connects a widget and leaves again (None), or the refusal's data."""
    client = clients.Client("/visitor")
    try:
        await client.sio.connect(url, namespaces=["/visitor"], auth={"site": key, "token": token},
                                 headers={"Origin": origin}, transports=["websocket"], wait_timeout=10)
    except socketio.exceptions.ConnectionError:
        error = client.connect_error or {}
        return error.get("data", error) or {"code": "(no code)"}
    finally:
        await client.sio.disconnect()
    return None


async def beacon(url: str, key: str, token: str, origin: str) -> httpx.Response:
    body = {"site": key, "token": token, "events": [{"type": "track", "name": "ping", "props": {}}]}
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        return await http.post("/api/track", content=json.dumps(body),
                               headers={"Origin": origin, "Content-Type": "text/plain;charset=UTF-8"})


async def gone(client: clients.Client) -> None:
    deadline = time.monotonic() + WAIT
    while client.connected:  # polling the client's own state, not the server's
        assert time.monotonic() < deadline, "the widget's socket stayed connected"
        await asyncio.sleep(0.05)


def session_of(visitor: clients.Client) -> dict:
    return visitor.rec.of("session")[0]


# --- sites -------------------------------------------------------------------------------------


async def test_an_admin_creates_and_edits_a_site_and_its_snippet(deployment):
    d = deployment
    admin = admin_of(d)
    tag = new_id()[:6]
    first, second, third = (f"https://shop-{tag}.example.com", f"http://127.0.0.1:{40000 + int(tag, 16) % 9999}",
                            f"https://outlet-{tag}.example.com")
    async with signed_in(d.servers[0].url, admin, d.password) as http:
        listing = await http.get("/admin/sites")
        assert listing.status_code == 200 and ">New site</button>" in listing.text
        form = await http.get("/admin/sites?new=1")
        assert '<label for="f-name">Name</label>' in form.text
        assert '<label for="f-allowed-origins">Allowed origins</label>' in form.text

        # Origins are normalised: lower case, no trailing slash, no default port; duplicates go.
        site_id = await create_site(http, f"  Shop {tag} ", f"HTTPS://Shop-{tag}.example.com:443/\n{second}\n{first}")
        row = await site_row(d, site_id)
        assert row["name"] == f"Shop {tag}" and row["allowed_origins"] == [first, second]
        assert row["key"].startswith("site_") and row["disabled_at"] is None

        page = await http.get(f"/admin/sites?site={site_id}&done=created")
        assert f"Shop {tag} is created" in page.text and ">Copy snippet</button>" in page.text
        assert snippet_on(page.text) == (f'<script async src="{d.servers[0].url}/widget.js" '
                                         f'data-site="{row["key"]}"></script>')
        listing = await http.get("/admin/sites")
        assert f"Shop {tag}" in listing.text and first in listing.text and "Enabled" in listing.text
        assert f'aria-label="Disable Shop {tag}"' in listing.text and f'aria-label="Edit Shop {tag}"' in listing.text

        # A widget on each allowed origin connects, on every worker.
        kept = [await clients.visitor(s.url, row["key"], first) for s in d.servers]
        dropped = [await clients.visitor(s.url, row["key"], second) for s in d.servers]
        try:
            # The edit: a new name, `second` no longer allowed, `third` allowed.
            edited = await post_on_site_page(http, site_id, f"/admin/sites/{site_id}",
                                             {"name": f"Shop {tag} EU", "allowed_origins": f"{first}\n{third}"})
            assert edited.status_code == 303 and edited.headers["location"].endswith("done=saved")
            row = await site_row(d, site_id)
            assert row["name"] == f"Shop {tag} EU" and row["allowed_origins"] == [first, third]
            # At once on every worker: pages on the origin no longer allowed lose their chat and are
            # refused; the new origin is let in; the others are left alone.
            for client in dropped:
                await gone(client)
            for server in d.servers:
                assert (await refusal(server.url, row["key"], second))["code"] == "origin_not_allowed"
                newcomer = await clients.visitor(server.url, row["key"], third)
                await newcomer.disconnect()
            assert all(client.connected for client in kept)
        finally:
            for client in kept + dropped:
                await client.disconnect()

    audit = await audit_of(d, site_id)
    assert [a["action"] for a in audit] == ["site_create", "site_update"], audit
    assert audit[0]["data"]["after"] == {"name": f"Shop {tag}", "allowed_origins": [first, second], "enabled": True}
    assert audit[1]["data"]["before"] == {"name": f"Shop {tag}", "allowed_origins": [first, second]}
    assert audit[1]["data"]["after"] == {"name": f"Shop {tag} EU", "allowed_origins": [first, third]}
    assert all(a["data"]["name"] for a in audit)


async def test_a_disabled_site_is_refused_on_every_worker_at_once_and_keeps_its_history(deployment):
    d = deployment
    admin = admin_of(d)
    tag = new_id()[:6]
    async with signed_in(d.servers[0].url, admin, d.password) as http:
        site_id = await create_site(http, f"Closing {tag}", SHOP)
        key = (await site_row(d, site_id))["key"]
        # A widget open on every worker (each worker has the site in its cache), one with a chat.
        open_widgets = [await clients.visitor(s.url, key, SHOP) for s in d.servers]
        talker = open_widgets[0]
        sent = await talker.call("message", {"client_id": new_id(), "body": f"Hello {tag}"})
        assert sent["ok"], sent
        # Closed by the visitor, so that no CSR of another test is offered it.
        assert (await talker.call("close", {"conversation_id": sent["conversation_id"]}))["ok"]
        token, visitor_id = session_of(talker)["token"], session_of(talker)["visitor_id"]

        disabled = await post_on_site_page(http, site_id, f"/admin/sites/{site_id}/disable")
        assert disabled.status_code == 303 and disabled.headers["location"].endswith("done=disabled")
        assert (await site_row(d, site_id))["disabled_at"] is not None
        # Right away, on every worker: a new widget is refused, and so is the beacon...
        for server in reversed(d.servers):
            refused = await refusal(server.url, key, SHOP, token)
            assert refused["code"] == "site_disabled", refused
            answer = await beacon(server.url, key, token, SHOP)
            assert answer.status_code == 403 and answer.json()["error"]["code"] == "site_disabled", answer.text
        # ... and the widgets that were open are closed.
        for client in open_widgets:
            await gone(client)
        listing = await http.get("/admin/sites")
        assert f'aria-label="Enable Closing {tag}"' in listing.text

        # Its history stays: the visitor and their chat are still there.
        assert await fetch(d, "SELECT id FROM visitor WHERE id = ?", visitor_id)
        assert await fetch(d, "SELECT id FROM conversation WHERE visitor_id = ?", visitor_id)

        enabled = await post_on_site_page(http, site_id, f"/admin/sites/{site_id}/enable")
        assert enabled.status_code == 303 and (await site_row(d, site_id))["disabled_at"] is None
        for server in d.servers:
            back = await clients.visitor(server.url, key, SHOP, token=token)
            try:
                assert session_of(back)["visitor_id"] == visitor_id
            finally:
                await back.disconnect()
            assert (await beacon(server.url, key, token, SHOP)).status_code == 204

    actions = [a["action"] for a in await audit_of(d, site_id)]
    assert actions == ["site_create", "site_disable", "site_enable"], actions


async def test_a_rotated_key_keeps_working_in_its_grace_and_visitors_keep_their_identity(deployment):
    d = deployment
    admin = admin_of(d)
    tag = new_id()[:6]
    async with signed_in(d.servers[0].url, admin, d.password) as http:
        site_id = await create_site(http, f"Rotating {tag}", SHOP)
        old_key = (await site_row(d, site_id))["key"]
        first = await clients.visitor(d.servers[-1].url, old_key, SHOP)
        token, visitor_id = session_of(first)["token"], session_of(first)["visitor_id"]
        await first.disconnect()

        rotated_at = utcnow()
        rotated = await post_on_site_page(http, site_id, f"/admin/sites/{site_id}/rotate-key")
        assert rotated.status_code == 303 and rotated.headers["location"].endswith("done=rotated")
        row = await site_row(d, site_id)
        new_key = row["key"]
        assert new_key != old_key and row["previous_key"] == old_key
        grace = row["previous_key_until"] - rotated_at
        assert timedelta(days=7) - timedelta(minutes=1) < grace < timedelta(days=7) + timedelta(minutes=1), grace
        page = await http.get(f"/admin/sites?site={site_id}&done=rotated")
        assert snippet_on(page.text).endswith(f'data-site="{new_key}"></script>')
        assert f"The previous key <code>{old_key}</code> keeps working until" in page.text

        # On every worker: the new key, with the token the old one gave, is the same visitor; the
        # old key still works (pages not yet updated), on the socket and the beacon.
        for server in d.servers:
            for key in (new_key, old_key):
                again = await clients.visitor(server.url, key, SHOP, token=token)
                try:
                    assert session_of(again)["visitor_id"] == visitor_id
                finally:
                    await again.disconnect()
                assert (await beacon(server.url, key, token, SHOP)).status_code == 204

        # A second rotation ends the first key's grace at once, everywhere: only the key before the
        # current one is remembered.
        again = await post_on_site_page(http, site_id, f"/admin/sites/{site_id}/rotate-key")
        assert again.status_code == 303
        newest = (await site_row(d, site_id))["key"]
        for server in d.servers:
            refused = await refusal(server.url, old_key, SHOP, token)
            assert refused["code"] == "unknown_site", refused
            answer = await beacon(server.url, old_key, token, SHOP)
            assert answer.status_code == 404 and answer.json()["error"]["code"] == "unknown_site"
            for key in (new_key, newest):
                client = await clients.visitor(server.url, key, SHOP, token=token)
                await client.disconnect()

    audit = await audit_of(d, site_id)
    assert [a["action"] for a in audit] == ["site_create", "site_key_rotate", "site_key_rotate"], audit
    assert old_key not in json.dumps(audit[1]["data"]) and audit[1]["data"]["previous_key_until"]


@pytest.fixture(scope="module")
def short_grace():
    """A deployment whose replaced site keys work for 1.8 seconds (SITE_KEY_GRACE_HOURS)."""
    d = deploy(database_url=None, redis_url=None, processes=1, extra_env={"SITE_KEY_GRACE_HOURS": "0.0005"})
    yield d
    d.stop()


async def test_an_old_key_is_refused_once_its_grace_is_over(short_grace):
    d = short_grace
    admin = admin_of(d)
    async with signed_in(d.server.url, admin, d.password) as http:
        site_id = await create_site(http, "Short grace", SHOP)
        old_key = (await site_row(d, site_id))["key"]
        first = await clients.visitor(d.server.url, old_key, SHOP)  # the site is in the worker's cache
        token = session_of(first)["token"]
        await first.disconnect()
        page = await http.get(f"/admin/sites?site={site_id}")
        assert "keep their chat for\n      2 seconds, then it is refused" in page.text
        rotated = await post_on_site_page(http, site_id, f"/admin/sites/{site_id}/rotate-key")
        assert rotated.status_code == 303
    row = await site_row(d, site_id)
    deadline = time.monotonic() + WAIT
    while True:  # the grace runs out on its own: no change to the site is made
        refused = await connect_or_refusal(d.server.url, old_key, SHOP, token)
        if refused is not None:
            assert refused["code"] == "site_key_expired", refused
            break
        assert time.monotonic() < deadline, "the old key still works"
        await asyncio.sleep(0.2)  # polling for the grace period to pass
    assert utcnow() >= row["previous_key_until"]
    answer = await beacon(d.server.url, old_key, token, SHOP)
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "site_key_expired"
    client = await clients.visitor(d.server.url, row["key"], SHOP, token=token)
    await client.disconnect()


# --- refused input ------------------------------------------------------------------------------


@pytest.mark.parametrize("name, origins, field_id, message", [
    ("", SHOP, "f-name", "A site needs a name."),
    ("   ", SHOP, "f-name", "A site needs a name."),
    ("x" * 201, SHOP, "f-name", "at most 200 characters"),
    ("Shop", "", "f-allowed-origins", "Give at least one origin"),
    ("Shop", "not an origin", "f-allowed-origins", "'not' is not an origin like https://shop.example.com"),
    ("Shop", "shop.example.com", "f-allowed-origins", "is not an origin like https://shop.example.com"),
    ("Shop", "ftp://shop.example.com", "f-allowed-origins", "it starts with https:// or http://"),
    ("Shop", "https://shop.example.com/checkout", "f-allowed-origins", "no path, query or #fragment"),
    ("Shop", "https://shop.example.com?x=1", "f-allowed-origins", "no path, query or #fragment"),
    ("Shop", "https://ann:secret@shop.example.com", "f-allowed-origins", "no user name or password"),
    ("Shop", "https://-shop-.example.com", "f-allowed-origins", "the host name is not valid"),
    ("Shop", "https://shop_example.com", "f-allowed-origins", "the host name is not valid"),
    ("Shop", "https://999.1.1.1", "f-allowed-origins", "the host name is not valid"),
    ("Shop", "https://shop.example.com:99999", "f-allowed-origins", "is not an origin"),
    ("Shop", "javascript:alert(1)", "f-allowed-origins", "it starts with https:// or http://"),
    ("Shop", "\n".join(f"https://s{n}.example.com" for n in range(51)), "f-allowed-origins", "At most 50 origins."),
    ("Shop", "https://" + "a" * 20000 + ".com", "f-allowed-origins", "Too long: at most 50 origins"),
    ("Shop", "https://" + "a" * 300 + ".com", "f-allowed-origins", "is not an origin"),
], ids=lambda value: value[:24] if isinstance(value, str) else None)
async def test_a_refused_site_form_says_why_next_to_the_field_and_stores_nothing(sqlite_deployment, name, origins,
                                                                                  field_id, message):
    d = sqlite_deployment
    admin = admin_of(d)
    tag = new_id()[:6]
    async with signed_in(d.server.url, admin, d.password) as http:
        before = await fetch(d, "SELECT count(*) AS n FROM site")
        shown = await http.get("/admin/sites?new=1")
        refused = await http.post("/admin/sites", data={"csrf_token": csrf_of(shown.text), "name": name,
                                                         "allowed_origins": origins})
        assert refused.status_code == 400, refused.text[:2000]
        assert message in field_error(refused.text, field_id), refused.text[:4000]
        assert 'role="alert"' in refused.text and 'aria-invalid="true"' in refused.text
        assert await fetch(d, "SELECT count(*) AS n FROM site") == before
        # The same on the edit form: the site keeps what it had.
        site_id = await create_site(http, f"Kept {tag}", SHOP)
        page = await http.get(f"/admin/sites?site={site_id}")
        refused = await http.post(f"/admin/sites/{site_id}", data={"csrf_token": csrf_of(page.text), "name": name,
                                                                   "allowed_origins": origins})
        assert refused.status_code == 400 and message in field_error(refused.text, field_id)
        row = await site_row(d, site_id)
        assert (row["name"], row["allowed_origins"]) == (f"Kept {tag}", [SHOP])
    assert [a["action"] for a in await audit_of(d, site_id)] == ["site_create"]


async def test_the_admin_pages_refuse_everyone_else_forged_forms_and_unknown_ids(sqlite_deployment):
    d = sqlite_deployment
    admin = admin_of(d)
    name = f"Guarded {new_id()[:6]}"
    site = {**json.loads(cli(d.env, "create-site", "--name", name, "--origin", SHOP, "--json")), "name": name}
    sid = site["id"]
    posts = [("/admin/sites", {"name": "Sneaky", "allowed_origins": SHOP}),
             (f"/admin/sites/{sid}", {"name": "Sneaky", "allowed_origins": SHOP}),
             (f"/admin/sites/{sid}/disable", {}), (f"/admin/sites/{sid}/enable", {}),
             (f"/admin/sites/{sid}/rotate-key", {}),
             (f"/admin/privacy/{sid}", {"visit_timeout_minutes": "5", "retention_days": "5"}),
             (f"/admin/privacy/{sid}/erase", {"visitor_id": "x", "confirm": "yes"})]
    gets = ["/admin/sites", f"/admin/sites?site={sid}", "/admin/privacy", f"/admin/privacy?site={sid}"]

    async def unchanged() -> None:
        row = await site_row(d, sid)
        assert (row["name"], row["key"], row["disabled_at"], row["settings"]) == (
            site["name"], site["key"], None, {}), row
        assert not await fetch(d, "SELECT id FROM site WHERE name = 'Sneaky'")

    # Signed out: sent to sign in. Other roles: 403, with or without their own CSRF token.
    async with httpx.AsyncClient(base_url=d.server.url, follow_redirects=False, timeout=30) as http:
        for path in gets:
            assert (await http.get(path)).status_code in (302, 303, 307), path
        for path, data in posts:
            assert (await http.post(path, data=data)).status_code in (302, 303, 307, 403), path
    for email in ("agent@example.com", "boss@example.com", "marketer@example.com"):
        async with signed_in(d.server.url, email, d.password) as http:
            token = csrf_of((await http.get("/account")).text)
            for path in gets:
                assert (await http.get(path)).status_code == 403, (email, path)
            for path, data in posts:
                assert (await http.post(path, data={"csrf_token": token, **data})).status_code == 403, (email, path)
    await unchanged()

    async with signed_in(d.server.url, admin, d.password) as http:
        # No CSRF token, another's, or a JSON body: 403 and nothing changes.
        for path, data in posts:
            assert (await http.post(path, data=data)).status_code == 403, path
            assert (await http.post(path, data={"csrf_token": "forged", **data})).status_code == 403, path
            assert (await http.post(path, json=data)).status_code == 403, path
        await unchanged()
        # Ids that name no site: 404, nothing made.
        token = csrf_of((await http.get("/admin/sites")).text)
        for path in ("/admin/sites?site=999999", "/admin/sites?site=abc", "/admin/sites?site=99999999999999999999",
                     "/admin/privacy?site=999999", "/admin/privacy?site=-1"):
            answer = await http.get(path)
            assert answer.status_code == 404 and "No such site." in answer.text, path
        for path in ("/admin/sites/999999", "/admin/sites/999999/disable", "/admin/sites/999999/enable",
                     "/admin/sites/999999/rotate-key", "/admin/sites/99999999999999999999/disable",
                     "/admin/privacy/999999", "/admin/privacy/999999/erase"):
            answer = await http.post(path, data={"csrf_token": token, "name": "Sneaky", "allowed_origins": SHOP,
                                                 "visit_timeout_minutes": "5", "retention_days": "5"})
            assert answer.status_code == 404, (path, answer.status_code)
        for path in ("/admin/sites/abc", "/admin/sites/1.5/disable"):
            assert (await http.post(path, data={"csrf_token": token})).status_code in (404, 405), path
        await unchanged()


# --- privacy ------------------------------------------------------------------------------------


def privacy_form(**fields) -> dict:
    base = {"enabled": "on", "respect_dnt": "on", "anonymize_ip": "on", "strip_params": "",
            "visit_timeout_minutes": "30", "retention_days": "395", "conversion_events": "purchase, signup",
            "hash_routes": "on", "route_params": ""}
    return {k: v for k, v in {**base, **fields}.items() if v is not None}


async def test_privacy_settings_are_saved_audited_and_applied_on_every_worker_at_once(deployment):
    d = deployment
    admin = admin_of(d)
    name = f"Private {new_id()[:6]}"
    site = json.loads(cli(d.env, "create-site", "--name", name, "--origin", SHOP, "--json"))
    warm = [await clients.visitor(s.url, site["key"], SHOP) for s in d.servers]  # cached on every worker
    for client in warm:
        assert session_of(client)["tracking"] == {"enabled": True, "dnt": True, "strip_params": []}
        await client.disconnect()
    async with signed_in(d.servers[0].url, admin, d.password) as http:
        page = await http.get(f"/admin/privacy?site={site['id']}")
        assert page.status_code == 200 and f"Tracking of {name}" in page.text
        assert 'value="purchase, signup, lead, conversion"' in page.text and 'value="395"' in page.text
        for label in ("Keep a trail", "Respect Do Not Track", "Anonymise IP addresses", "Stripped URL parameters",
                      "Visit timeout (minutes)", "Retention (days)", "Conversion events", "Hash routes are pages",
                      "Query parameters that make a page"):
            assert label in page.text, label
        saved = await http.post(f"/admin/privacy/{site['id']}", data={"csrf_token": csrf_of(page.text), **privacy_form(
            enabled=None, respect_dnt=None, strip_params="token, email\nsession_id", visit_timeout_minutes="10",
            retention_days="30", conversion_events="signup, paid.plan", hash_routes=None, route_params="tab, step")})
        assert saved.status_code == 303, saved.text[:3000]
        assert saved.headers["location"] == f"/admin/privacy?site={site['id']}&done=saved"
        page = await http.get(saved.headers["location"])
        assert 'value="token, email, session_id"' in page.text and 'value="signup, paid.plan"' in page.text
        assert 'value="tab, step"' in page.text
        # A parameter name that is not one: the form says so, in its field (a 400, nothing saved).
        refused = await http.post(f"/admin/privacy/{site['id']}", data={"csrf_token": csrf_of(page.text),
                                                                        **privacy_form(route_params="tab, <b>")})
        assert refused.status_code == 400 and "is not a query parameter name" in refused.text
    tracking = (await site_row(d, site["id"]))["settings"]["tracking"]
    assert tracking == {"enabled": False, "respect_dnt": False, "anonymize_ip": True,
                        "strip_params": ["token", "email", "session_id"], "visit_timeout_minutes": 10,
                        "retention_days": 30, "conversion_events": ["signup", "paid.plan"], "hash_routes": False,
                        "route_params": ["tab", "step"]}
    for server in d.servers:  # applied at once, on every worker
        client = await clients.visitor(server.url, site["key"], SHOP)
        try:
            assert session_of(client)["tracking"] == {"enabled": False, "dnt": False,
                                                      "strip_params": ["token", "email", "session_id"]}
        finally:
            await client.disconnect()
    [update] = [a for a in await audit_of(d, site["id"]) if a["action"] == "privacy_update"]
    assert update["data"]["before"] == {"enabled": True, "respect_dnt": True, "strip_params": [],
                                        "visit_timeout_minutes": 30, "retention_days": 395,
                                        "conversion_events": ["purchase", "signup", "lead", "conversion"],
                                        "hash_routes": True, "route_params": []}
    assert update["data"]["after"]["retention_days"] == 30 and "anonymize_ip" not in update["data"]["after"]

    # The CLI goes through the same checks and the same audit log.
    refused = subprocess.run([sys.executable, "-m", "app", "site-settings", "--site", site["key"], "--set",
                              json.dumps({"tracking": {"retention_days": 0}})], cwd=ROOT, env=d.env,
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "Retention is a whole number of days from 1 to 3650" in refused.stderr
    cli(d.env, "site-settings", "--site", site["key"], "--set", json.dumps({"tracking": {"enabled": True}}))
    assert (await site_row(d, site["id"]))["settings"]["tracking"]["enabled"] is True
    assert [a["action"] for a in await audit_of(d, site["id"])] == ["site_create", "privacy_update", "site_settings"]
    for server in d.servers:  # the command line's change too reaches the workers at once (with Redis)
        if not d.env.get("REDIS_URL"):
            break
        client = await clients.visitor(server.url, site["key"], SHOP)
        try:
            assert session_of(client)["tracking"]["enabled"] is True
        finally:
            await client.disconnect()


@pytest.mark.parametrize("fields, field, message", [
    ({"visit_timeout_minutes": "0"}, "visit_timeout_minutes", "Visit timeout is a whole number of minutes from 1 to 1440"),
    ({"visit_timeout_minutes": "1441"}, "visit_timeout_minutes", "from 1 to 1440"),
    ({"visit_timeout_minutes": "ten"}, "visit_timeout_minutes", "Visit timeout must be a whole number."),
    ({"visit_timeout_minutes": "-5"}, "visit_timeout_minutes", "Visit timeout must be a whole number."),
    ({"visit_timeout_minutes": "1e3"}, "visit_timeout_minutes", "Visit timeout must be a whole number."),
    ({"visit_timeout_minutes": "9" * 5000}, "visit_timeout_minutes", "Visit timeout must be a whole number."),
    ({"visit_timeout_minutes": ""}, "visit_timeout_minutes", "Visit timeout is required."),
    ({"retention_days": "3651"}, "retention_days", "Retention is a whole number of days from 1 to 3650"),
    ({"retention_days": "2.5"}, "retention_days", "Retention must be a whole number."),
    ({"retention_days": None}, "retention_days", "Retention is required."),
    ({"strip_params": "token, what?"}, "strip_params", "'what?' is not a query parameter name"),
    ({"strip_params": "<script>"}, "strip_params", "is not a query parameter name"),
    ({"strip_params": ", ".join(f"p{n}" for n in range(51))}, "strip_params", "At most 50 stripped url parameters"),
    ({"strip_params": "x" * 6001}, "strip_params", "at most 6000 characters"),
    ({"conversion_events": "signup, paid plan!"}, "conversion_events", "'plan!' is not an event name"),
    ({"conversion_events": "e" * 65}, "conversion_events", "is not an event name"),
    ({"enabled": "yes"}, "enabled", "Keep a trail is a checkbox: on or off."),
    ({"anonymize_ip": "1"}, "anonymize_ip", "Anonymise IP addresses is a checkbox"),
], ids=lambda value: str(value)[:30] if isinstance(value, dict) else None)
async def test_refused_privacy_settings_are_shown_next_to_their_field_and_nothing_is_stored(
        sqlite_deployment, fields, field, message):
    d = sqlite_deployment
    admin = admin_of(d)
    site = json.loads(cli(d.env, "create-site", "--name", f"Strict {new_id()[:6]}", "--origin", SHOP, "--json"))
    async with signed_in(d.server.url, admin, d.password) as http:
        page = await http.get(f"/admin/privacy?site={site['id']}")
        refused = await http.post(f"/admin/privacy/{site['id']}", data={"csrf_token": csrf_of(page.text),
                                                                        **privacy_form(**fields)})
        assert refused.status_code == 400, refused.text[:2000]
        shown = field_error(refused.text, "f-" + field.replace("_", "-"))
        assert message.lower() in shown.lower(), (shown, refused.text[:4000])
        assert 'role="alert"' in refused.text
    assert (await site_row(d, site["id"]))["settings"] == {}
    assert [a["action"] for a in await audit_of(d, site["id"])] == ["site_create"]


async def test_an_admin_finds_exports_and_erases_a_visitor(deployment):
    d = deployment
    admin = admin_of(d)
    tag = new_id()[:8]
    name = f"Requests {tag}"
    site = json.loads(cli(d.env, "create-site", "--name", name, "--origin", SHOP, "--json"))
    email, left_with = f"Ann.{tag}@Example.com", f"ann-private-{tag}@example.com"
    ann = await clients.visitor(d.servers[-1].url, site["key"], SHOP)
    try:
        assert (await ann.call("identify", {"id": f"user-{tag}", "name": "Ann", "email": email}))["ok"]
        assert (await ann.call("message", {"client_id": new_id(), "body": f"My order {tag}"}))["ok"]
        assert (await ann.call("leave_message", {"email": left_with, "body": "Call me back"}))["ok"]
        ann_id = session_of(ann)["visitor_id"]
    finally:
        await ann.disconnect()
    other = await clients.visitor(d.servers[0].url, site["key"], SHOP)
    other_id = session_of(other)["visitor_id"]
    await other.disconnect()

    async with signed_in(d.servers[0].url, admin, d.password) as http:
        base = "/admin/privacy"

        def at(**query) -> dict:
            return {"site": str(site["id"]), **query}

        for query in (email.upper(), left_with, ann_id, f"user-{tag}"):
            page = await http.get(base, params=at(q=query))
            assert page.status_code == 200 and f"<code>{ann_id}</code>" in page.text, query
            assert other_id not in page.text
            assert f'href="/api/admin/visitors/{ann_id}/export"' in page.text
            assert f'aria-label="Erase visitor {ann_id}"' in page.text
        empty = await http.get(base, params=at(q=f"nobody-{tag}@example.com"))
        assert f"No visitor of {name} has the id or e-mail" in empty.text and "<table" not in empty.text.split(
            "Visitor data requests")[1]
        # The same visitor is not found from another site's page.
        [own] = await fetch(d, "SELECT id FROM site WHERE key = ?", d.site_key)
        elsewhere = await http.get("/admin/privacy", params={"site": str(own["id"]), "q": ann_id})
        assert f"<code>{ann_id}</code>" not in elsewhere.text

        exported = await http.get(f"/api/admin/visitors/{ann_id}/export")
        assert exported.status_code == 200 and "attachment" in exported.headers["content-disposition"]
        data = exported.json()
        assert data["visitor"]["email"] == email and data["conversations"][0]["messages"][0]["body"] == f"My order {tag}"
        assert data["offline_messages"][0]["email"] == left_with

        confirm = await http.get(base, params=at(q=email, erase=ann_id))
        assert f"Erase visitor {ann_id}?" in confirm.text and ">Erase for good</button>" in confirm.text
        unconfirmed = await http.post(f"/admin/privacy/{site['id']}/erase",
                                      data={"csrf_token": csrf_of(confirm.text), "visitor_id": ann_id})
        assert unconfirmed.status_code == 400 and "Confirm the erasure" in unconfirmed.text
        assert await fetch(d, "SELECT id FROM visitor WHERE id = ?", ann_id)
        for wrong in ("no-such-visitor", other_id + "x", "x" * 41):
            missing = await http.post(f"/admin/privacy/{site['id']}/erase", data={
                "csrf_token": csrf_of(confirm.text), "visitor_id": wrong, "confirm": "yes"})
            assert missing.status_code in (400, 404), wrong
        erased = await http.post(f"/admin/privacy/{site['id']}/erase", data={
            "csrf_token": csrf_of(confirm.text), "visitor_id": ann_id, "confirm": "yes"})
        assert erased.status_code == 303, erased.text[:2000]
        page = await http.get(erased.headers["location"])
        assert f"Visitor {ann_id} is erased" in page.text
        assert not await fetch(d, "SELECT id FROM visitor WHERE id = ?", ann_id)
        assert not await fetch(d, "SELECT id FROM conversation WHERE visitor_id = ?", ann_id)
        assert await fetch(d, "SELECT id FROM visitor WHERE id = ?", other_id)
        gone_now = await http.get(base, params=at(q=email))
        assert "No visitor of" in gone_now.text
    erasures = await fetch(d, "SELECT action, actor_id, data FROM audit_event WHERE action IN "
                              "('visitor_erased', 'visitor_export') AND CAST(data AS TEXT) LIKE ?", f"%{ann_id}%")
    assert sorted(r["action"] for r in erasures) == ["visitor_erased", "visitor_export"]


# --- the command line -----------------------------------------------------------------------------


async def test_the_cli_makes_sites_through_the_same_service(sqlite_deployment):
    d = sqlite_deployment
    tag = new_id()[:6]
    made = json.loads(cli(d.env, "create-site", "--name", f"Scripted {tag}", "--origin", f"HTTPS://Scripted-{tag}.example.com/",
                          "--json"))
    assert made["origins"] == [f"https://scripted-{tag}.example.com"]
    assert made["snippet"] == f'<script async src="{d.env.get("PUBLIC_URL") or "http://127.0.0.1:8000"}/widget.js" ' \
                              f'data-site="{made["key"]}"></script>'
    refused = subprocess.run([sys.executable, "-m", "app", "create-site", "--name", "Bad", "--origin",
                              "https://shop.example.com/path"], cwd=ROOT, env=d.env, capture_output=True, text=True,
                             timeout=120)
    assert refused.returncode == 2 and "is not an origin like https://shop.example.com" in refused.stderr
    [created] = await audit_of(d, made["id"])
    assert (created["action"], created["actor_id"]) == ("site_create", None)
