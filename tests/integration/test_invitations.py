"""Proactive invitations, as a CSR and a visitor meet them over real sockets: invite → the widget
is told at once → accept opens a chat with the inviting CSR; decline is remembered (no new
invitation for a while); an ignored invitation expires; every step is counted in the report."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
import pytest

from tests.support import clients
from tests.support.clients import new_id
from tests.support.server import cli, deploy

# An unanswered invitation expires after this long: short enough to wait out, long enough for a
# visitor to answer it first on a busy machine.
EXPIRY = 8


@pytest.fixture(scope="module")
def site():
    deployment = deploy(database_url=None, redis_url=None, processes=1)
    cli(deployment.env, "site-settings", "--site", deployment.site_key, "--set",
        json.dumps({"invitations": {"timeout_seconds": EXPIRY, "decline_cooldown_hours": 12}}))
    yield deployment
    deployment.stop()


def code(ack) -> str | None:
    return None if ack.get("ok") else ack["error"]["code"]


async def csr(d, name: str, max_chats: int = 3):
    email = f"{name.lower()}-{new_id()[:6]}@example.com"
    d.create_user(email, "agent", name, max_chats=max_chats)
    agent = await clients.agent(d.server.url, email, d.password)
    assert (await agent.call("set_status", {"status": "available"}))["ok"]
    return agent


async def browsing(d):
    visitor = await clients.visitor(d.server.url, d.site_key, d.origin)
    await visitor.call("page_view", {"url": "https://shop.example.com/tents", "title": "Tents"})
    return visitor, visitor.rec.of("session")[0]["visitor_id"]


async def test_invite_accept_opens_a_chat_with_the_inviting_csr(site):
    d = site
    inviter = await csr(d, "Ivy")
    visitor, vid = await browsing(d)
    try:
        ack = await inviter.call("invite", {"visitor_id": vid, "message": "Need a hand choosing a tent?"})
        assert ack["ok"], ack
        invitation = await visitor.rec.wait_for("invitation", lambda i: i["id"] == ack["invitation"]["id"])
        assert invitation["message"] == "Need a hand choosing a tent?" and invitation["agent"]["name"] == "Ivy"
        assert (await visitor.call("invitation_seen", {"id": invitation["id"]}))["ok"]
        accepted = await visitor.call("invitation_accept", {"id": invitation["id"]})
        assert accepted["ok"], accepted
        cid = accepted["conversation"]["id"]
        assigned = await inviter.rec.wait_for("conversation.assigned", lambda c: c["id"] == cid)
        assert assigned["id"] == cid
        opened = await inviter.call("open", {"conversation_id": cid})
        assert opened["messages"][0]["body"] == "Need a hand choosing a tent?"
        assert opened["messages"][0]["sender"] == "agent" and opened["messages"][0]["author"] == "Ivy"
        # The visitor's reply lands in that chat.
        reply = await visitor.call("message", {"client_id": new_id(), "body": "Yes please!"})
        assert reply["conversation_id"] == cid
        await inviter.rec.wait_for("message", lambda m: m["body"] == "Yes please!")
        # The same invitation cannot be accepted twice, nor a chatting visitor invited again.
        assert code(await visitor.call("invitation_accept", {"id": invitation["id"]})) == "invalid_state"
        assert code(await inviter.call("invite", {"visitor_id": vid})) == "invalid_state"
        await inviter.call("close", {"conversation_id": cid})
    finally:
        await visitor.disconnect()
        await inviter.disconnect()


async def test_a_declined_invitation_is_remembered(site):
    d = site
    inviter = await csr(d, "Dee")
    visitor, vid = await browsing(d)
    try:
        ack = await inviter.call("invite", {"visitor_id": vid})
        invitation = await visitor.rec.wait_for("invitation")
        assert invitation["message"] == "Hi! Can I help you with anything?"  # the site's default
        assert (await visitor.call("invitation_decline", {"id": ack["invitation"]["id"]}))["ok"]
        await inviter.rec.wait_for("invitation.updated", lambda u: u["state"] == "declined")
        again = await inviter.call("invite", {"visitor_id": vid})
        assert code(again) == "declined_recently" and again["error"]["message"]
        assert not visitor.rec.of("conversation")
    finally:
        await visitor.disconnect()
        await inviter.disconnect()


async def test_an_ignored_invitation_expires_and_can_be_sent_again(site):
    d = site
    inviter = await csr(d, "Eli")
    visitor, vid = await browsing(d)
    try:
        first = (await inviter.call("invite", {"visitor_id": vid}))["invitation"]["id"]
        await visitor.rec.wait_for("invitation.withdrawn", lambda w: w["id"] == first and w["reason"] == "expired",
                                   timeout=EXPIRY + 20)
        assert code(await visitor.call("invitation_accept", {"id": first})) == "invalid_state"
        second = await inviter.call("invite", {"visitor_id": vid})
        assert second["ok"] and second["invitation"]["id"] != first
    finally:
        await visitor.disconnect()
        await inviter.disconnect()


async def test_every_step_is_counted_in_the_invitations_report(site):
    d = site
    async with httpx.AsyncClient(base_url=d.server.url) as http:
        page = await http.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        await http.post("/login", data={"email": "boss@example.com", "password": d.password, "csrf_token": token})
        report = (await http.get("/api/reports/invitations", params={"days": 1})).json()
    counts = {row["step"]: row["count"] for row in report["rows"]}
    # The tests above: three sent (+1 re-sent), one shown, one accepted + chat, one declined, one expired.
    assert counts["sent"] >= 4 and counts["accepted"] >= 1 and counts["declined"] >= 1
    assert counts["expired"] >= 1 and counts["chat_started"] >= 1 and counts["shown"] >= 1
    # Rates over the invitations the visitors saw (KPIS.md).
    assert report["acceptance_rate"] == round(counts["accepted"] / counts["shown"], 4)
    assert report["chat_rate"] == round(counts["chat_started"] / counts["shown"], 4)
    assert report["conversion_rate"] == round(counts["converted"] / counts["chat_started"], 4)


@pytest.mark.parametrize("payload, expected", [
    (None, "bad_request"), ("v_1", "bad_request"), ({}, "bad_request"), ({"visitor_id": 5}, "bad_request"),
    ({"visitor_id": "x" * 41}, "too_large"), ({"visitor_id": "v_nobody"}, "not_found"),
    ({"visitor_id": "VISITOR", "message": "x" * 501}, "too_large"),
    ({"visitor_id": "VISITOR", "message": 12}, "bad_request"),
])
async def test_wrong_invitations_are_refused(site, payload, expected):
    d = site
    inviter = await csr(d, "Wes")
    visitor, vid = await browsing(d)
    try:
        if isinstance(payload, dict) and payload.get("visitor_id") == "VISITOR":
            payload = dict(payload, visitor_id=vid)
        assert code(await inviter.call("invite", payload)) == expected
        assert not visitor.rec.of("invitation")
        assert (await inviter.call("invite", {"visitor_id": vid}))["ok"]  # the connection still works
    finally:
        await visitor.disconnect()
        await inviter.disconnect()


async def test_only_the_invited_visitor_answers_and_only_available_csrs_invite(site):
    d = site
    inviter = await csr(d, "Oli")
    visitor, vid = await browsing(d)
    other, _ = await browsing(d)
    try:
        invitation = (await inviter.call("invite", {"visitor_id": vid}))["invitation"]["id"]
        for event in ("invitation_accept", "invitation_decline", "invitation_seen"):
            assert code(await other.call(event, {"id": invitation})) == "not_found"
            assert code(await other.call(event, {"id": "1"})) == "bad_request"
            assert code(await other.call(event, {})) == "bad_request"
        assert (await visitor.call("invitation_decline", {"id": invitation}))["ok"]
        # Away CSRs do not invite; a visitor who left cannot be invited.
        await inviter.call("set_status", {"status": "away"})
        _, third = await browsing(d)
        assert code(await inviter.call("invite", {"visitor_id": third})) == "unavailable"
        await inviter.call("set_status", {"status": "available"})
        await other.disconnect()
        gone = other.rec.of("session")[0]["visitor_id"]
        assert code(await inviter.call("invite", {"visitor_id": gone})) == "not_found"
    finally:
        for client in (visitor, other, inviter):
            if client.connected:
                await client.disconnect()


# --- automatic rules ----------------------------------------------------------------------------


async def admin_session(d) -> httpx.AsyncClient:
    email = f"admin-{new_id()[:6]}@example.com"
    d.create_user(email, "admin", "Ada Admin")
    http = httpx.AsyncClient(base_url=d.server.url)
    page = await http.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = await http.post("/login", data={"email": email, "password": d.password, "csrf_token": token})
    assert response.status_code == 303
    return http


async def form_token(http) -> str:
    page = await http.get("/admin/invitation-rules")
    assert page.status_code == 200
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


async def add_rule(http, **fields) -> httpx.Response:
    data = {"csrf_token": await form_token(http), "action": "save", "enabled": "on", "site_id": "1",
            "max_per_visitor": "1", "cap_hours": "24", **fields}
    return await http.post("/admin/invitation-rules", data=data)


async def test_a_rule_invites_after_the_time_on_a_matching_page_only_when_someone_can_chat(site):
    d = site
    inviter = await csr(d, "Rae")
    rae = next(email for email in d.users if email.startswith("rae-"))
    desk = json.loads(cli(d.env, "create-department", "--site", d.site_key, "--name", f"Pricing desk {new_id()[:4]}",
                          "--member", rae, "--json"))["id"]
    http = await admin_session(d)
    name = f"Pricing help {new_id()[:4]}"
    # 6 s on the page, less the server's slack for clocks (app/tracking/rules.py, 3 s): a match
    # sent at once is early by 3 s, one sent 3.5 s later is not.
    response = await add_rule(http, name=name, message="Questions about our prices?", url="/pricing*",
                              min_seconds_on_page="6", department_id=str(desk))
    assert response.status_code == 303, response.text
    listing = (await http.get("/admin/invitation-rules")).text
    assert name in listing
    await http.aclose()

    visitor = await clients.visitor(d.server.url, d.site_key, d.origin)
    other = await clients.visitor(d.server.url, d.site_key, d.origin)
    try:
        rules = visitor.rec.of("session")[0]["invitation_rules"]
        rule = next(r for r in rules if r.get("url") == "/pricing*" and r.get("min_seconds_on_page") == 6)
        await visitor.call("page_view", {"url": "https://shop.example.com/pricing/tents", "title": "Prices"})
        await other.call("page_view", {"url": "https://shop.example.com/blog", "title": "Blog"})
        # Too early: the server checks the time itself.
        early = await visitor.call("rule_matched", {"rule_id": rule["id"]})
        assert code(early) == "not_eligible" and "min_seconds_on_page" in early["error"]["message"]
        # Not on other pages, whatever the time.
        elsewhere = await other.call("rule_matched", {"rule_id": rule["id"]})
        assert code(elsewhere) == "not_eligible" and "url" in elsewhere["error"]["message"]
        # Scenario timing: the visitor reads the page for a while.
        await asyncio.sleep(3.5)
        # Nobody Available: no invitation.
        await inviter.call("set_status", {"status": "away"})
        nobody = await visitor.call("rule_matched", {"rule_id": rule["id"]})
        assert code(nobody) == "not_eligible" and "Nobody" in nobody["error"]["message"]
        await inviter.call("set_status", {"status": "available"})
        due = await visitor.call("rule_matched", {"rule_id": rule["id"]})
        assert due["ok"], due
        shown = await visitor.rec.wait_for("invitation", lambda i: i["id"] == due["invitation"]["id"])
        assert shown["message"] == "Questions about our prices?"
        # It expires unanswered; the rule's cap (one per visitor a day) keeps it from coming back.
        await visitor.rec.wait_for("invitation.withdrawn", lambda w: w["id"] == shown["id"], timeout=EXPIRY + 20)
        again = await visitor.call("rule_matched", {"rule_id": rule["id"]})
        assert code(again) == "not_eligible" and "often" in again["error"]["message"]
        for payload, expected in (({}, "bad_request"), ({"rule_id": "1"}, "bad_request"),
                                  ({"rule_id": 987654}, "not_found"), ("x", "bad_request")):
            assert code(await visitor.call("rule_matched", payload)) == expected
    finally:
        for client in (visitor, other, inviter):
            await client.disconnect()


async def test_the_rules_page_is_for_admins_and_refuses_bad_rules_without_storing_them(site):
    d = site
    http = await admin_session(d)
    try:
        for fields, message in (
            ({"name": "", "message": "Hi"}, "needs a name"),
            ({"name": "Bad", "message": ""}, "needs a message"),
            ({"name": "Bad", "message": "Hi", "url": "pricing"}, "path pattern"),
            ({"name": "Bad", "message": "Hi", "min_pages": "lots"}, "whole number"),
            ({"name": "Bad", "message": "Hi", "country": "Germany"}, "country"),
            ({"name": "Bad", "message": "Hi", "active_hours": "whenever"}, "Active hours"),
            ({"name": "Bad", "message": "Hi", "department_id": "999"}, "department"),
        ):
            response = await add_rule(http, **fields)
            assert response.status_code == 400 and message in response.text, (fields, response.text[:300])
        listing = (await http.get("/admin/invitation-rules")).text
        assert ">Bad<" not in listing
        # No CSRF token: refused.
        assert (await http.post("/admin/invitation-rules", data={"name": "x", "message": "y"})).status_code == 403
    finally:
        await http.aclose()
    async with httpx.AsyncClient(base_url=d.server.url) as anonymous:
        assert (await anonymous.get("/admin/invitation-rules")).status_code == 303
    async with httpx.AsyncClient(base_url=d.server.url) as supervisor:
        page = await supervisor.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        await supervisor.post("/login", data={"email": "boss@example.com", "password": d.password, "csrf_token": token})
        assert (await supervisor.get("/admin/invitation-rules")).status_code == 403


async def test_a_rule_on_a_typed_identify_attribute_invites_visitors_identified_with_that_type(site):
    """`vip = true` (true/false) and `orders = 5` (number), chosen on the admin form, are stored
    typed, shown again as chosen, and match what `identify` sends with its own type."""
    d = site
    inviter = await csr(d, "Vic")
    vic = next(email for email in d.users if email.startswith("vic-"))
    desk = json.loads(cli(d.env, "create-department", "--site", d.site_key, "--name", f"VIP desk {new_id()[:4]}",
                          "--member", vic, "--json"))["id"]
    http = await admin_session(d)
    visitors = []
    try:
        names = {}
        for key, kind, typed in (("vip", "boolean", "True"), ("orders", "number", "5")):
            names[key] = f"Typed {key} {new_id()[:4]}"
            response = await add_rule(http, name=names[key], message=f"Hello {key}", department_id=str(desk),
                                      attribute_name=f"{key}_{desk}", attribute_type=kind, attribute_equals=typed)
            assert response.status_code == 303, response.text
        # Bad values for a type: refused with the reason, nothing stored.
        for kind, typed, message in (("number", "five", "must be a number"), ("boolean", "yes", "true or false"),
                                     ("number", "nan", "must be a number"), ("date", "x", "text, number or true/false")):
            response = await add_rule(http, name="Badly typed", message="Hi", attribute_name="x", attribute_type=kind,
                                      attribute_equals=typed)
            assert response.status_code == 400 and message in response.text, (kind, typed, response.text[:300])
        listing = (await http.get("/admin/invitation-rules")).text
        assert ">Badly typed<" not in listing
        # The edit form shows the stored type and value again (a round trip).
        ids = {}
        for key, kind, shown in (("vip", "boolean", "true"), ("orders", "number", "5")):
            ids[key] = int(re.search(r'edit=(\d+)" aria-label="Edit ' + re.escape(names[key]) + '"', listing).group(1))
            form = (await http.get(f"/admin/invitation-rules?edit={ids[key]}")).text
            assert f'<option value="{kind}" selected>' in form, form
            assert f'name="attribute_equals" placeholder="pro" value="{shown}"' in form

        async def answer(attributes: dict, key: str) -> dict:
            visitor = await clients.visitor(d.server.url, d.site_key, d.origin)
            visitors.append(visitor)
            assert (await visitor.call("identify", {"attributes": attributes}))["ok"]
            return await visitor.call("rule_matched", {"rule_id": ids[key]})

        vip, orders = f"vip_{desk}", f"orders_{desk}"
        assert (await answer({vip: True}, "vip"))["ok"]
        assert (await answer({orders: 5}, "orders"))["ok"]
        assert (await answer({orders: 5.0}, "orders"))["ok"]
        # Other types are other values: the text "true", the number 1, the text "5".
        for attributes, key in (({vip: "true"}, "vip"), ({vip: 1}, "vip"), ({orders: "5"}, "orders"),
                                ({orders: 6}, "orders")):
            ack = await answer(attributes, key)
            assert code(ack) == "not_eligible" and "attribute" in ack["error"]["message"], (attributes, ack)
    finally:
        await http.aclose()
        for client in (*visitors, inviter):
            await client.disconnect()
