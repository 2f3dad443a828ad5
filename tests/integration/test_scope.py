"""One scope policy for every read (app/services/scope.py, docs/protocol.md "Scope"): a CSR reads
the conversations and visitors of the queues and sites they serve and the chats they held; the
rest answers `not_found` and is left out of profiles entirely; supervisors' reads are audited;
marketers never get message text.

Each test makes its own two sites, departments and users on the shared deployments (SQLite, and
PostgreSQL + Redis behind two workers), and closes its chats."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field

import httpx
import pytest

from tests.support import clients, db
from tests.support.clients import Client, new_id
from tests.support.server import Deployment, cli


def code(ack) -> str | None:
    return None if ack.get("ok") else ack["error"]["code"]


@dataclass
class Floor:
    """Two sites: S1 with departments A and B, S2 with department C; a CSR in each, one in none;
    a supervisor of all three (supervisors are scoped to their departments)."""

    d: Deployment
    tag: str = field(default_factory=lambda: new_id()[:8])
    sites: dict[str, dict] = field(default_factory=dict)
    departments: dict[str, int] = field(default_factory=dict)
    users: dict[str, dict] = field(default_factory=dict)
    consoles: dict[str, Client] = field(default_factory=dict)
    visitors: list[Client] = field(default_factory=list)

    def origin(self, site: str) -> str:
        return f"https://{site.lower()}-{self.tag}.example.com"

    def build(self) -> "Floor":
        for site in ("S1", "S2"):
            self.sites[site] = json.loads(cli(self.d.env, "create-site", "--name", f"{site} {self.tag}",
                                              "--origin", self.origin(site), "--json"))
        for name, role in (("ann", "agent"), ("bob", "agent"), ("cy", "agent"), ("free", "agent"),
                           ("boss", "supervisor"), ("mia", "marketer")):
            self.users[name] = self.d.create_user(f"{name}-{self.tag}@example.com", role, f"{name.title()} {self.tag}")
        for dept, site, member in (("A", "S1", "ann"), ("B", "S1", "bob"), ("C", "S2", "cy")):
            self.departments[dept] = json.loads(cli(
                self.d.env, "create-department", "--site", self.sites[site]["key"], "--name", f"{dept} {self.tag}",
                "--member", f"{member}-{self.tag}@example.com", "--member", f"boss-{self.tag}@example.com",
                "--json"))["id"]
        return self

    async def console(self, name: str, server: int = 0) -> Client:
        self.consoles[name] = await clients.agent(self.d.servers[server].url, f"{name}-{self.tag}@example.com",
                                                  self.d.password)
        return self.consoles[name]

    async def visitor(self, site: str) -> tuple[Client, str]:
        v = await clients.visitor(self.d.servers[0].url, self.sites[site]["key"], self.origin(site))
        self.visitors.append(v)
        return v, v.rec.of("session")[0]["visitor_id"]

    async def chat(self, visitor: Client, dept: str, holder: str, body: str) -> int:
        """The visitor asks department `dept`; its Available member `holder` gets it."""
        ack = await visitor.call("message", {"client_id": new_id(), "body": body,
                                             "department_id": self.departments[dept]})
        assert ack["ok"], ack
        cid = ack["conversation_id"]
        await self.consoles[holder].rec.wait_for("conversation.assigned", lambda c: c["id"] == cid, timeout=30)
        return cid

    async def close(self) -> None:
        # sign_off closes the chats each CSR still holds.
        for console in self.consoles.values():
            if console.connected:
                await clients.sign_off(console)
                await console.disconnect()
        for v in self.visitors:
            await v.disconnect()


@pytest.fixture
async def floor(deployment):
    f = Floor(deployment).build()
    yield f
    await f.close()


def text_of(reply) -> str:
    return json.dumps(reply)


def ids(profile: dict) -> list[int]:
    assert profile["ok"], profile
    return [c["id"] for c in profile["conversations"]]


async def reads(console: Client, cid: int) -> list[str | None]:
    """The codes of `open` and `sync` of a chat (None: read)."""
    return [code(await console.call("open", {"conversation_id": cid})),
            code(await console.call("sync", {"conversation_id": cid, "after_seq": 0}))]


async def read_audits(d: Deployment, actor_id: int) -> list[tuple[str, int]]:
    rows = await db.fetch(d, "SELECT action, conversation_id FROM audit_event WHERE actor_id = ? AND action IN "
                             "('read_conversation', 'read_profile') ORDER BY id", actor_id)
    return [(r["action"], r["conversation_id"]) for r in rows]


async def test_a_csr_reads_only_the_chats_and_visitors_of_their_queues(floor):
    f, tag = floor, floor.tag
    ann, bob, cy = await f.console("ann", 0), await f.console("bob", -1), await f.console("cy", 0)
    free, boss = await f.console("free", -1), await f.console("boss", 0)
    for console in (ann, bob, cy):
        assert (await console.call("set_status", {"status": "available"}))["ok"]
    v1, v1_id = await f.visitor("S1")
    v2, v2_id = await f.visitor("S2")

    # X: department B's, Bob's; a supervisor whispers; Bob hands it to department A with a note.
    x = await f.chat(v1, "B", "bob", f"X parcel late {tag}")
    assert (await boss.call("whisper", {"conversation_id": x, "client_id": new_id(), "body": f"WHISPER-X {tag}"}))["ok"]
    assert (await bob.call("transfer", {"conversation_id": x, "to_department_id": f.departments["A"],
                                        "note": f"NOTE-X {tag}"}))["ok"]
    await ann.rec.wait_for("conversation.assigned", lambda c: c["id"] == x, timeout=30)
    assert (await ann.call("close", {"conversation_id": x}))["ok"]
    # Y: department B's again, with a whisper; Z: site 2's department C.
    y = await f.chat(v1, "B", "bob", f"Y wrong size {tag}")
    assert (await boss.call("whisper", {"conversation_id": y, "client_id": new_id(), "body": f"WHISPER-Y {tag}"}))["ok"]
    assert (await bob.call("close", {"conversation_id": y}))["ok"]
    z = await f.chat(v2, "C", "cy", f"Z hello from site two {tag}")

    # Ann (department A) reads X, which she held, notes included; department B's Y is left out of
    # the profile and of `past` entirely, and opening it is not_found.
    profile = await ann.call("visitor_profile", {"visitor_id": v1_id})
    assert ids(profile) == [x]
    assert f"WHISPER-X {tag}" in text_of(profile) and f"NOTE-X {tag}" in text_of(profile)
    assert f"WHISPER-Y {tag}" not in text_of(profile) and f"Y wrong size {tag}" not in text_of(profile)
    opened = await ann.call("open", {"conversation_id": x})
    assert opened["ok"] and opened["past"] == [], opened
    assert await reads(ann, y) == ["not_found", "not_found"]

    # Bob held X before it went to department A: he still reads it, its notes too (audited once).
    opened = await bob.call("open", {"conversation_id": x})
    assert opened["ok"], opened
    assert {f"WHISPER-X {tag}", f"NOTE-X {tag}"} <= {m["body"] for m in opened["messages"]}
    assert [p["id"] for p in opened["past"]] == [y]
    assert ids(await bob.call("visitor_profile", {"visitor_id": v1_id})) == [y, x]
    assert (await bob.call("sync", {"conversation_id": x, "after_seq": 0}))["ok"]
    assert await read_audits(f.d, f.users["bob"]["id"]) == [("read_conversation", x)]

    # A CSR in no department serves every site's general queue, not departments: the visitors
    # yes, their department chats no — not the transcript, not the notes, not their count.
    for vid in (v1_id, v2_id):
        profile = await free.call("visitor_profile", {"visitor_id": vid})
        assert ids(profile) == [] and "WHISPER" not in text_of(profile) and tag not in text_of(profile)
    for cid in (x, y, z):
        assert await reads(free, cid) == ["not_found", "not_found"]

    # Another site's visitor and chat are nobody's business of site 1's CSRs, and the other way.
    for console in (ann, bob):
        assert code(await console.call("visitor_profile", {"visitor_id": v2_id})) == "not_found"
        assert await reads(console, z) == ["not_found", "not_found"]
    assert code(await ann.call("invite", {"visitor_id": v2_id})) == "not_found"
    assert code(await cy.call("visitor_profile", {"visitor_id": v1_id})) == "not_found"
    assert await reads(cy, x) == ["not_found", "not_found"]
    assert ids(await cy.call("visitor_profile", {"visitor_id": v2_id})) == [z]

    # A supervisor of every department reads everything of them.
    assert ids(await boss.call("visitor_profile", {"visitor_id": v1_id})) == [y, x]
    assert ids(await boss.call("visitor_profile", {"visitor_id": v2_id})) == [z]

    # Notes are staff-only: the visitor's history has the chats, never a whisper or a transfer note.
    history = await v1.call("history", {})
    assert f"X parcel late {tag}" in text_of(history) and f"Y wrong size {tag}" in text_of(history)
    assert "WHISPER" not in text_of(history) and "NOTE-X" not in text_of(history)

    # Bad input still gets a clear error.
    for payload, expected in (({"visitor_id": 5}, "bad_request"), ({"visitor_id": "v" * 41}, "too_large"),
                              ({}, "bad_request"), ([], "bad_request")):
        assert code(await ann.call("visitor_profile", payload)) == expected, payload


async def test_the_visitors_list_and_the_notes_are_the_sites_one_serves(floor):
    f, tag = floor, floor.tag
    ann, free, cy = await f.console("ann", -1), await f.console("free", -1), await f.console("cy", 0)
    for console in (ann, free):
        assert (await console.call("visitors", {}))["ok"]
    v1, v1_id = await f.visitor("S1")
    v2, v2_id = await f.visitor("S2")

    def upserted(vid: str, path: str):
        return lambda delta: any(r["id"] == vid and (r["url"] or "").endswith(path) for r in delta["upsert"])

    # Site 2's visitor moves first: a console that sees every site is told...
    assert (await v2.call("page_view", {"url": f.origin("S2") + "/two", "title": "Two"}))["ok"]
    await free.rec.wait_for("visitors.delta", upserted(v2_id, "/two"), timeout=30)
    # ... then site 1's, which Ann is told of; she never hears of site 2's visitor.
    assert (await v1.call("page_view", {"url": f.origin("S1") + "/one", "title": "One"}))["ok"]
    await ann.rec.wait_for("visitors.delta", upserted(v1_id, "/one"), timeout=30)
    await free.rec.wait_for("visitors.delta", upserted(v1_id, "/one"), timeout=30)
    assert v2_id not in text_of(ann.rec.of("visitors.delta"))
    snapshot = {r["id"] for r in (await ann.call("visitors", {}))["visitors"]}
    assert v1_id in snapshot and v2_id not in snapshot
    assert {v1_id, v2_id} <= {r["id"] for r in (await free.call("visitors", {}))["visitors"]}
    assert (await ann.call("visitors_stop", {}))["ok"]

    # A note left in site 2's general queue: for those who serve site 2, not for Ann.
    note = await v2.call("leave_message", {"email": "zo@example.org", "body": f"NOTE-S2 {tag}"})
    assert note["ok"], note
    assert all(m["id"] != note["id"] for m in (await ann.call("offline_messages", {}))["messages"])
    assert code(await ann.call("message_done", {"id": note["id"]})) == "not_found"
    assert any(m["id"] == note["id"] for m in (await free.call("offline_messages", {}))["messages"])
    assert (await cy.call("message_done", {"id": note["id"]}))["ok"]


async def test_a_supervisors_read_of_a_chat_is_audited_once_in_ten_minutes(floor):
    f, tag = floor, floor.tag
    bob, ann = await f.console("bob", 0), await f.console("ann", -1)
    boss = await f.console("boss", 0)
    boss_elsewhere = await clients.agent(f.d.servers[-1].url, f"boss-{tag}@example.com", f.d.password)
    try:
        assert (await bob.call("set_status", {"status": "available"}))["ok"]
        v1, _ = await f.visitor("S1")
        cid = await f.chat(v1, "B", "bob", f"audit me {tag}")
        assert (await boss.call("open", {"conversation_id": cid}))["ok"]
        assert await read_audits(f.d, f.users["boss"]["id"]) == [("read_conversation", cid)]
        # More reads within ten minutes, from another console on another worker: no more rows.
        for console in (boss_elsewhere, boss):
            assert (await console.call("sync", {"conversation_id": cid, "after_seq": 0}))["ok"]
        assert (await boss_elsewhere.call("open", {"conversation_id": cid}))["ok"]
        assert await read_audits(f.d, f.users["boss"]["id"]) == [("read_conversation", cid)]
        # The CSR who holds it reads without a trace; one outside its department reads nothing.
        assert (await bob.call("open", {"conversation_id": cid}))["ok"]
        assert await reads(ann, cid) == ["not_found", "not_found"]
        assert await read_audits(f.d, f.users["bob"]["id"]) == []
        assert await read_audits(f.d, f.users["ann"]["id"]) == []
    finally:
        await boss_elsewhere.disconnect()


async def test_a_marketer_gets_trails_and_never_message_text(floor):
    f, tag = floor, floor.tag
    bob, boss = await f.console("bob", 0), await f.console("boss", 0)
    assert (await bob.call("set_status", {"status": "available"}))["ok"]
    v1, v1_id = await f.visitor("S1")
    assert (await v1.call("page_view", {"url": f.origin("S1") + "/tents", "title": "Tents"}))["ok"]
    cid = await f.chat(v1, "B", "bob", f"SECRET-ASK {tag}")
    assert (await bob.call("message", {"conversation_id": cid, "client_id": new_id(), "body": f"SECRET-REPLY {tag}"}))["ok"]
    assert (await boss.call("whisper", {"conversation_id": cid, "client_id": new_id(),
                                        "body": f"SECRET-WHISPER {tag}"}))["ok"]

    async with httpx.AsyncClient(base_url=f.d.server.url, timeout=30) as http:
        page = await http.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        signed_in = await http.post("/login", data={"email": f"mia-{tag}@example.com", "password": f.d.password,
                                                     "csrf_token": csrf})
        assert signed_in.status_code == 303
        site = f.sites["S1"]["id"]
        # The trail is theirs: the visit shows up (page views are written in batches)...
        trail = None
        for _ in range(100):
            trail = await http.get(f"/api/explorer/visitors/{v1_id}")
            if trail.status_code == 200 and trail.json()["visits"]:
                break
            await asyncio.sleep(0.2)  # polling for a condition: the trail's batch is written
        assert trail.status_code == 200 and trail.json()["visits"][0]["pages"][0]["title"] == "Tents", trail.text
        replies = [trail]
        for name in ("visits", "landing_pages", "exit_pages", "referrers", "paths", "daily", "funnel"):
            for fmt in ("json", "csv"):
                reply = await http.get(f"/api/explorer/{name}", params={"site": site, "format": fmt})
                assert reply.status_code == 200, reply.text
                replies.append(reply)
        # ... transcripts, reports and exports are not, nor the console (so no socket: no `open`,
        # no `visitor_profile`).
        for path in ("/api/reports/summary", f"/api/admin/visitors/{v1_id}/export", "/console", "/visitors"):
            reply = await http.get(path)
            assert reply.status_code == 403, (path, reply.text)
            replies.append(reply)
        for reply in replies:
            assert "SECRET" not in reply.text, reply.request.url
