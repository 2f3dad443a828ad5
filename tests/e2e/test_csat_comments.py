"""The CSAT comments report: each rating with a comment — when, rating, the visitor's comment (text,
never markup), a link to the chat, CSR and department — of a supervisor's own departments only,
filtered like the other reports, with its CSV."""

from __future__ import annotations

import csv
import io
import json
import re

import httpx
import pytest
from playwright.async_api import expect

from tests.e2e.conftest import own_deployment
from tests.e2e.helpers import sign_in
from tests.support import clients
from tests.support.clients import new_id
from tests.support.server import cli

SCRIPT = "<script>window.pwned = 1</script> Great help!"


@pytest.fixture(scope="module")
def center(request):
    yield from own_deployment(request, "csat-comments")


async def rated_chat(d, agent, department: int, rating: str, comment: str | None) -> int:
    visitor = await clients.visitor(d.server.url, d.site_key, d.origin)
    ack = await visitor.call("message", {"client_id": new_id(), "body": "A question", "department_id": department})
    assert ack["ok"], ack
    cid = ack["conversation_id"]
    await agent.rec.wait_for("conversation.assigned", lambda c: c["id"] == cid)
    assert (await agent.call("close", {"conversation_id": cid}))["ok"]
    payload = {"conversation_id": cid, "rating": rating, **({"comment": comment} if comment is not None else {})}
    assert (await visitor.call("rate", payload))["ok"]
    await visitor.disconnect()
    return cid


async def signed_in(d, email: str) -> httpx.AsyncClient:
    http = httpx.AsyncClient(base_url=d.server.url)
    page = await http.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = await http.post("/login", data={"email": email, "password": d.password, "csrf_token": token})
    assert response.status_code == 303
    return http


async def test_a_supervisor_reads_their_departments_comments_as_text(center, new_page):
    d = center
    tag = new_id()[:6]
    csr, sam, ada = f"cat-{tag}@example.com", f"sam-{tag}@example.com", f"ada-{tag}@example.com"
    d.create_user(csr, "agent", f"Cat {tag}", max_chats=3)
    d.create_user(sam, "supervisor", f"Sam {tag}")
    d.create_user(ada, "admin", f"Ada {tag}")
    desk = json.loads(cli(d.env, "create-department", "--site", d.site_key, "--name", f"Returns {tag}",
                          "--member", csr, "--member", sam, "--json"))["id"]
    other = json.loads(cli(d.env, "create-department", "--site", d.site_key, "--name", f"Billing {tag}",
                           "--member", csr, "--json"))["id"]
    agent = await clients.agent(d.server.url, csr, d.password)
    assert (await agent.call("set_status", {"status": "available"}))["ok"]
    try:
        mine = await rated_chat(d, agent, desk, "good", SCRIPT)
        await rated_chat(d, agent, desk, "bad", None)  # no comment: not listed
        theirs = await rated_chat(d, agent, other, "neutral", "Billing secret")
    finally:
        await clients.sign_off(agent)
        await agent.disconnect()

    http = await signed_in(d, sam)
    try:
        report = (await http.get("/api/reports/csat_comments")).json()
        assert [(r["rating"], r["comment"], r["chat"], r["csr"], r["department"]) for r in report["rows"]] == [
            ("good", SCRIPT, mine, f"Cat {tag}", f"Returns {tag}")]
        assert report["rows"][0]["chat_url"] == f"/console?conversation={mine}"
        # Another department's comments: like a department that does not exist.
        for department in (other, 987654):
            response = await http.get("/api/reports/csat_comments", params={"department": str(department)})
            assert response.status_code == 404 and response.json()["error"]["message"] == "No such department."
        for params in ({"department": "abc"}, {"from": "2026-02-30"}, {"format": "xml"}, {"labels": "2"},
                       {"to": "x" * 100}):
            response = await http.get("/api/reports/csat_comments", params=params)
            assert response.status_code == 400 and response.json()["error"]["message"], params
        # The CSV: stable header, the comment as the visitor wrote it.
        text = (await http.get("/api/reports/csat_comments", params={"format": "csv"})).text
        rows = list(csv.reader(io.StringIO(text)))
        assert rows[0] == ["When", "Rating", "Comment", "Chat", "CSR", "Department"]
        assert rows[1][1:] == ["good", SCRIPT, str(mine), f"Cat {tag}", f"Returns {tag}"]
        assert len(rows) == 2
    finally:
        await http.aclose()
    # An admin filters to the other department.
    http = await signed_in(d, ada)
    try:
        report = (await http.get("/api/reports/csat_comments", params={"department": str(other)})).json()
        assert [(r["chat"], r["comment"]) for r in report["rows"]] == [(theirs, "Billing secret")]
    finally:
        await http.aclose()

    # On the page: the comment is text (the script never runs), the chat a link to it.
    _, page, errors = await new_page()
    await sign_in(page, d.server.url, sam, d.password)
    await page.goto(d.server.url + "/reports")
    table = page.get_by_role("table", name="CSAT comments")
    await expect(table.get_by_role("cell", name=SCRIPT, exact=True)).to_be_visible()
    link = table.get_by_role("link", name=f"Chat {mine}")
    await expect(link).to_have_attribute("href", f"/console?conversation={mine}")
    await expect(table).not_to_contain_text("Billing secret")
    assert await page.evaluate("window.pwned") is None
    assert await page.locator("#tables script").count() == 0
    assert errors.errors == []
