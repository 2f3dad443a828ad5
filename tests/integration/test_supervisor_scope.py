"""Supervisors are scoped to their departments (app/services/scope.py, docs/protocol.md "Scope"):
a supervisor of department A sees and acts on A's queue, CSRs and chats — on the board, the
wallboard, the reports, `monitor`, `whisper`, `barge`, `take_over`, `force_status`, transfers,
`open` / `sync` and the Visitors list — and nothing of department B, on no read and in no event
pushed to them; what is out of scope answers `not_found` (404 over HTTP) like a missing id. An
admin sees both; a supervisor in no department oversees the general team only.

Each test makes its own sites, departments (manual, so chats wait until picked) and users on the
shared deployments (SQLite, and PostgreSQL + Redis behind two workers), and closes its chats."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import httpx
import pytest

from tests.support import clients
from tests.support.clients import Client, new_id
from tests.support.server import Deployment, cli

WAIT = 30.0


def code(ack) -> str | None:
    return None if ack.get("ok") else ack["error"]["code"]


@dataclass
class Floor:
    """Site S1 with manual departments A (Ann; the supervisor Sue) and B (Bob); site S2 with C
    (Cy). Gus is a supervisor in no department, Fay a CSR in none, Ada an admin."""

    d: Deployment
    tag: str = field(default_factory=lambda: new_id()[:8])
    sites: dict[str, dict] = field(default_factory=dict)
    departments: dict[str, int] = field(default_factory=dict)
    users: dict[str, dict] = field(default_factory=dict)
    consoles: dict[str, Client] = field(default_factory=dict)
    visitors: list[Client] = field(default_factory=list)
    https: list[httpx.AsyncClient] = field(default_factory=list)

    def origin(self, site: str) -> str:
        return f"https://{site.lower()}-{self.tag}.example.com"

    def email(self, name: str) -> str:
        return f"{name}-{self.tag}@example.com"

    def name(self, name: str) -> str:
        return f"{name.title()} {self.tag}"

    def build(self) -> "Floor":
        for site in ("S1", "S2"):
            self.sites[site] = json.loads(cli(self.d.env, "create-site", "--name", f"{site} {self.tag}",
                                              "--origin", self.origin(site), "--json"))
        for name, role in (("ann", "agent"), ("bob", "agent"), ("cy", "agent"), ("fay", "agent"),
                           ("sue", "supervisor"), ("gus", "supervisor"), ("ada", "admin")):
            self.users[name] = self.d.create_user(self.email(name), role, self.name(name))
        for dept, site, members in (("A", "S1", ("ann", "sue")), ("B", "S1", ("bob",)), ("C", "S2", ("cy",))):
            self.departments[dept] = json.loads(cli(
                self.d.env, "create-department", "--site", self.sites[site]["key"], "--name", self.dept(dept),
                "--strategy", "manual", *sum((["--member", self.email(m)] for m in members), []), "--json"))["id"]
        return self

    def dept(self, label: str) -> str:
        return f"Dept {label} {self.tag}"

    def id(self, name: str) -> int:
        return self.users[name]["id"]

    async def console(self, name: str, server: int = 0) -> Client:
        self.consoles[name] = await clients.agent(self.d.servers[server].url, self.email(name), self.d.password)
        return self.consoles[name]

    async def visitor(self, site: str = "S1") -> tuple[Client, str]:
        v = await clients.visitor(self.d.servers[0].url, self.sites[site]["key"], self.origin(site))
        self.visitors.append(v)
        return v, v.rec.of("session")[0]["visitor_id"]

    async def ask(self, dept: str, body: str, site: str = "S1") -> tuple[Client, int]:
        """A visitor asks department `dept`; the chat waits (manual queue)."""
        v, _ = await self.visitor(site)
        ack = await v.call("message", {"client_id": new_id(), "body": body, "department_id": self.departments[dept]})
        assert ack["ok"], ack
        return v, ack["conversation_id"]

    async def picked(self, name: str, cid: int) -> None:
        console = self.consoles[name]
        assert (await console.call("pick", {"conversation_id": cid}))["ok"]
        await console.rec.wait_for("conversation.assigned", lambda c: c["id"] == cid, timeout=WAIT)

    async def http(self, name: str) -> httpx.AsyncClient:
        http = httpx.AsyncClient(base_url=self.d.servers[0].url, timeout=60)
        self.https.append(http)
        page = await http.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        response = await http.post("/login", data={"email": self.email(name), "password": self.d.password,
                                                   "csrf_token": csrf})
        assert response.status_code == 303
        return http

    async def close(self) -> None:
        for console in self.consoles.values():
            if console.connected:
                await clients.sign_off(console)  # closes the chats each still holds
                await console.disconnect()
        for v in self.visitors:
            if v.connected:
                await v.disconnect()
        for http in self.https:
            await http.aclose()


@pytest.fixture
async def floor(deployment):
    f = Floor(deployment).build()
    yield f
    await f.close()


def mentions(events: list[tuple[str, object]], conversation_ids: set[int]) -> list[tuple[str, object]]:
    """The events that carry one of these conversations."""
    found = []
    for event, data in events:
        if not isinstance(data, dict):
            continue
        if data.get("conversation_id") in conversation_ids or (
                event.startswith("conversation.") and data.get("id") in conversation_ids):
            found.append((event, data))
    return found


async def test_a_supervisor_sees_and_acts_on_their_department_only(floor):
    f, tag = floor, floor.tag
    ann, bob = await f.console("ann", 0), await f.console("bob", -1)
    sue = await f.console("sue", -1)
    ada = await f.console("ada", -1)  # on Sue's worker: what reaches Ada's socket there would reach Sue's
    for console in (ann, bob):
        assert (await console.call("set_status", {"status": "available"}))["ok"]

    # Two chats in each of A and B: one waits, one is picked by the department's CSR.
    _, a_waiting = await f.ask("A", f"A-WAIT {tag}")
    va, a_chat = await f.ask("A", f"A-ASK {tag}")
    _, b_waiting = await f.ask("B", f"B-SECRET-WAIT {tag}")
    vb, b_chat = await f.ask("B", f"B-SECRET-ASK {tag}")
    await f.picked("ann", a_chat)
    await f.picked("bob", b_chat)
    assert (await bob.call("message", {"conversation_id": b_chat, "client_id": new_id(),
                                       "body": f"B-SECRET-REPLY {tag}"}))["ok"]
    b_ids = {b_waiting, b_chat}

    # The board: A's queue, A's people (and herself), A's chat; nothing of B.
    board = await sue.call("board", {})
    assert board["ok"], board
    assert [q["name"] for q in board["queues"]] == [f.dept("A")]
    assert board["queues"][0]["waiting"] == 1
    agents = {a["id"] for a in board["agents"]}
    assert {f.id("ann"), f.id("sue")} <= agents and f.id("bob") not in agents and f.id("ada") not in agents
    assert {c["id"] for c in board["chats"]} == {a_chat}
    assert "SECRET" not in json.dumps(board) and f.name("bob") not in json.dumps(board)

    # The admin sees both.
    full = await ada.call("board", {})
    assert {f.dept("A"), f.dept("B")} <= {q["name"] for q in full["queues"]}
    assert {a_chat, b_chat} <= {c["id"] for c in full["chats"]}
    assert {f.id("ann"), f.id("bob")} <= {a["id"] for a in full["agents"]}

    # The wallboard: the same board, and today's figures of A's queue only (this test's site).
    wall = await sue.call("wallboard", {})
    assert wall["ok"], wall
    assert {c["id"] for c in wall["chats"]} == {a_chat} and [q["name"] for q in wall["queues"]] == [f.dept("A")]
    assert wall["today"]["offered"] == 2 and wall["today"]["answered"] == 1 and wall["today"]["waiting"] == 1
    assert (await ada.call("wallboard", {}))["today"]["offered"] >= 4

    # The queue list.
    queue = await sue.call("queue", {})
    assert queue["ok"], queue
    assert a_waiting in {c["id"] for c in queue["chats"]} and not b_ids & {c["id"] for c in queue["chats"]}

    # Reading and acting on B's chats and CSR: exactly like ids that do not exist.
    missing = 2_000_000_000
    for cid in (b_chat, b_waiting, missing):
        assert code(await sue.call("open", {"conversation_id": cid})) == "not_found"
        assert code(await sue.call("sync", {"conversation_id": cid, "after_seq": 0})) == "not_found"
        assert code(await sue.call("monitor", {"conversation_id": cid})) == "not_found"
        assert code(await sue.call("whisper", {"conversation_id": cid, "client_id": new_id(),
                                               "body": "psst"})) == "not_found"
        assert code(await sue.call("barge", {"conversation_id": cid})) == "not_found"
        assert code(await sue.call("take_over", {"conversation_id": cid})) == "not_found"
    for user_id in (f.id("bob"), f.id("ada"), missing):
        assert code(await sue.call("force_status", {"user_id": user_id, "status": "away"})) == "not_found"
    assert (await bob.call("set_status", {"status": "available"}))["ok"]  # still what it was

    # A's chat and CSR: she monitors, whispers, sets Ann's state.
    monitored = await sue.call("monitor", {"conversation_id": a_chat})
    assert monitored["ok"], monitored
    assert f"A-ASK {tag}" in json.dumps(monitored["messages"])
    assert (await sue.call("whisper", {"conversation_id": a_chat, "client_id": new_id(), "body": f"tip {tag}"}))["ok"]
    await ann.rec.wait_for("message", lambda m: m["body"] == f"tip {tag}", timeout=WAIT)
    assert (await sue.call("force_status", {"user_id": f.id("ann"), "status": "away"}))["status"] == "away"
    assert (await sue.call("force_status", {"user_id": f.id("ann"), "status": "available"}))["ok"]
    assert (await sue.call("open", {"conversation_id": a_waiting}))["ok"]

    # The admin acts on B's chat; Bob keeps writing. Sue hears nothing of it.
    assert (await ada.call("monitor", {"conversation_id": b_chat}))["ok"]
    assert (await ada.call("whisper", {"conversation_id": b_chat, "client_id": new_id(),
                                       "body": f"B-SECRET-WHISPER {tag}"}))["ok"]
    assert (await vb.call("message", {"client_id": new_id(), "body": f"B-SECRET-MORE {tag}",
                                      "conversation_id": b_chat}))["ok"]
    await ada.rec.wait_for("message", lambda m: m["body"] == f"B-SECRET-MORE {tag}", timeout=WAIT)
    # A message in A's chat after it: it reaches Sue, so anything of B sent before would have too.
    assert (await va.call("message", {"client_id": new_id(), "body": f"A-MORE {tag}",
                                      "conversation_id": a_chat}))["ok"]
    await sue.rec.wait_for("message", lambda m: m["body"] == f"A-MORE {tag}", timeout=WAIT)

    # She takes A's chat over; her transfer targets are A's people and queue, never B's.
    assert (await sue.call("take_over", {"conversation_id": a_chat}))["ok"]
    targets = await sue.call("transfer_targets", {"conversation_id": a_chat})
    assert targets["ok"], targets
    assert f.id("ann") in {a["id"] for a in targets["agents"]} and f.id("bob") not in {a["id"] for a in targets["agents"]}
    assert [d["name"] for d in targets["departments"]] == [f.dept("A")]
    assert code(await sue.call("transfer", {"conversation_id": a_chat, "to_agent_id": f.id("bob")})) == "not_found"
    assert code(await sue.call("transfer", {"conversation_id": a_chat,
                                            "to_department_id": f.departments["B"]})) == "not_found"
    assert (await sue.call("transfer", {"conversation_id": a_chat, "to_agent_id": f.id("ann")}))["ok"]
    await ann.rec.wait_for("conversation.assigned", lambda c: c["id"] == a_chat and c["agent_id"] == f.id("ann"),
                           timeout=WAIT)

    # Nothing pushed to Sue carried B's chats, people or words.
    pushed = sue.rec.events
    assert mentions(pushed, b_ids) == []
    assert "SECRET" not in json.dumps(pushed, default=str)
    assert f.name("bob") not in json.dumps(pushed, default=str)
    assert f.dept("B") not in json.dumps(pushed, default=str)
    assert sue.connected

    # The Visitors list: S1's visitors (A's and B's site), never S2's.
    for console in (sue, ada):
        assert (await console.call("visitors", {}))["ok"]
    v2, v2_id = await f.visitor("S2")
    v1, v1_id = await f.visitor("S1")

    def upserted(vid: str, path: str):
        return lambda delta: any(r["id"] == vid and (r["url"] or "").endswith(path) for r in delta["upsert"])

    assert (await v2.call("page_view", {"url": f.origin("S2") + "/two", "title": "Two"}))["ok"]
    await ada.rec.wait_for("visitors.delta", upserted(v2_id, "/two"), timeout=WAIT)
    assert (await v1.call("page_view", {"url": f.origin("S1") + "/one", "title": "One"}))["ok"]
    await sue.rec.wait_for("visitors.delta", upserted(v1_id, "/one"), timeout=WAIT)
    assert v2_id not in json.dumps(sue.rec.of("visitors.delta"))
    snapshot = {r["id"] for r in (await sue.call("visitors", {}))["visitors"]}
    assert v1_id in snapshot and v2_id not in snapshot
    assert code(await sue.call("visitor_profile", {"visitor_id": v2_id})) == "not_found"
    assert (await sue.call("visitor_profile", {"visitor_id": v1_id}))["ok"]


async def test_a_chat_moved_to_another_department_leaves_its_supervisors_watch(floor):
    f, tag = floor, floor.tag
    ann = await f.console("ann", 0)
    sue = await f.console("sue", -1)
    ada = await f.console("ada", -1)  # on Sue's worker
    assert (await ann.call("set_status", {"status": "available"}))["ok"]
    v, cid = await f.ask("A", f"moving {tag}")
    await f.picked("ann", cid)
    assert (await sue.call("monitor", {"conversation_id": cid}))["ok"]
    assert (await ada.call("monitor", {"conversation_id": cid}))["ok"]
    assert (await v.call("message", {"client_id": new_id(), "body": f"before {tag}", "conversation_id": cid}))["ok"]
    await sue.rec.wait_for("message", lambda m: m["body"] == f"before {tag}", timeout=WAIT)

    # Ann sends it to B: Sue no longer follows it (the admin still does), and may not read it again.
    assert (await ann.call("transfer", {"conversation_id": cid, "to_department_id": f.departments["B"]}))["ok"]
    for n in range(2):
        assert (await v.call("message", {"client_id": new_id(), "body": f"B-SECRET-AFTER-{n} {tag}",
                                         "conversation_id": cid}))["ok"]
        await ada.rec.wait_for("message", lambda m, n=n: m["body"] == f"B-SECRET-AFTER-{n} {tag}", timeout=WAIT)
    assert "SECRET" not in json.dumps(sue.rec.events, default=str)
    for event in ("monitor", "take_over", "barge"):
        assert code(await sue.call(event, {"conversation_id": cid})) == "not_found"
    assert cid not in {c["id"] for c in (await sue.call("board", {}))["chats"]}
    # She only watched it (she never held it or was in it): its transcript is B's now.
    assert code(await sue.call("open", {"conversation_id": cid})) == "not_found"
    assert code(await sue.call("sync", {"conversation_id": cid, "after_seq": 0})) == "not_found"
    assert (await ada.call("sync", {"conversation_id": cid, "after_seq": 0}))["ok"]


async def test_a_supervisor_in_no_department_oversees_the_general_team(floor):
    f, tag = floor, floor.tag
    ann, fay = await f.console("ann", 0), await f.console("fay", 0)
    gus = await f.console("gus", -1)
    assert (await ann.call("set_status", {"status": "available"}))["ok"]
    _, cid = await f.ask("A", f"A for Ann {tag}")
    await f.picked("ann", cid)

    board = await gus.call("board", {})
    assert board["ok"], board
    agents = {a["id"] for a in board["agents"]}
    assert f.id("fay") in agents and f.id("gus") in agents
    assert not {f.id("ann"), f.id("bob"), f.id("sue"), f.id("ada")} & agents
    assert cid not in {c["id"] for c in board["chats"]}
    assert f.dept("A") not in {q["name"] for q in board["queues"]}
    assert (await gus.call("wallboard", {}))["ok"]
    for event in ("open", "monitor", "take_over"):
        assert code(await gus.call(event, {"conversation_id": cid})) == "not_found"
    assert code(await gus.call("force_status", {"user_id": f.id("ann"), "status": "away"})) == "not_found"
    assert (await gus.call("force_status", {"user_id": f.id("fay"), "status": "offline"}))["ok"]
    await fay.rec.wait_for("status", lambda s: s["status"] == "offline", timeout=WAIT)
    assert f"A for Ann {tag}" not in json.dumps(gus.rec.events, default=str)


async def test_reports_and_pages_of_a_supervisor_are_their_departments(floor):
    f, tag = floor, floor.tag
    ann, bob = await f.console("ann", 0), await f.console("bob", -1)
    for console in (ann, bob):
        assert (await console.call("set_status", {"status": "available"}))["ok"]
    _, a_chat = await f.ask("A", f"A report {tag}")
    _, b_chat = await f.ask("B", f"B report {tag}")
    _, b_other = await f.ask("B", f"B report again {tag}")
    await f.picked("ann", a_chat)
    await f.picked("bob", b_chat)
    for console, cid in ((ann, a_chat), (bob, b_chat)):
        assert (await console.call("close", {"conversation_id": cid}))["ok"]

    sue, ada = await f.http("sue"), await f.http("ada")
    queues = (await sue.get("/api/reports/queues")).json()
    assert [r["queue"] for r in queues["rows"]] == [f.dept("A")]
    assert queues["rows"][0]["offered"] == 1
    everything = (await ada.get("/api/reports/queues")).json()
    assert {f.dept("A"), f.dept("B")} <= {r["queue"] for r in everything["rows"]}
    summary = (await sue.get("/api/reports/summary")).json()
    assert summary["headline"]["offered"] == 1 and summary["headline"]["answered"] == 1
    for name in ("agents", "states"):
        text = (await sue.get(f"/api/reports/{name}")).text
        assert f.name("bob") not in text, name
        assert f.name("bob") in (await ada.get(f"/api/reports/{name}")).text, name
    assert f.name("ann") in (await sue.get("/api/reports/agents")).text
    missed = (await sue.get("/api/reports/missed")).text
    assert f.dept("B") not in missed
    csv = (await sue.get("/api/reports/queues", params={"format": "csv"})).text
    assert f.dept("A") in csv and f.dept("B") not in csv

    # Filtering by B's department or CSR: like ones that do not exist.
    for params in ({"department": str(f.departments["B"])}, {"department": "999999999"},
                   {"agent": str(f.id("bob"))}, {"agent": "999999999"}):
        response = await sue.get("/api/reports/summary", params=params)
        assert response.status_code == 404, (params, response.text)
        assert response.json()["error"]["code"] == "not_found"
    assert (await sue.get("/api/reports/summary", params={"department": str(f.departments["A"])})).status_code == 200
    assert (await sue.get("/api/reports/summary", params={"agent": str(f.id("ann"))})).status_code == 200
    b_only = (await ada.get("/api/reports/summary", params={"department": str(f.departments["B"])})).json()
    assert b_only["headline"]["offered"] == 2

    # The reports page offers A's department only; the wallboard and staffing pages open.
    page = await sue.get("/reports")
    assert page.status_code == 200 and f.dept("A") in page.text and f.dept("B") not in page.text
    assert f.dept("B") in (await ada.get("/reports")).text
    for path in ("/wallboard", "/staffing", "/supervise"):
        assert (await sue.get(path)).status_code == 200, path
    assert b_other  # waits in B until the visitors leave


async def test_bad_input_on_the_supervisory_events_gets_clear_errors(floor):
    f = floor
    sue = await f.console("sue", -1)
    cases = [
        ("monitor", {}, "bad_request"), ("monitor", {"conversation_id": "12"}, "bad_request"),
        ("monitor", {"conversation_id": -1}, "bad_request"), ("monitor", [], "bad_request"),
        ("monitor", None, "bad_request"), ("whisper", {"conversation_id": 1}, "bad_request"),
        ("whisper", {"conversation_id": 1, "client_id": new_id(), "body": 5}, "bad_request"),
        ("barge", {"conversation_id": 1.5}, "bad_request"), ("take_over", {"conversation_id": True}, "bad_request"),
        ("force_status", {"user_id": f.id("ann")}, "bad_request"),
        ("force_status", {"user_id": "x", "status": "away"}, "bad_request"),
        ("force_status", {"user_id": f.id("bob"), "status": "away"}, "not_found"),
        ("open", {"conversation_id": 2_000_000_000}, "not_found"),
        ("sync", {"conversation_id": 1}, "bad_request"),
        ("transfer_targets", {"conversation_id": 2_000_000_000}, "not_found"),
        ("deactivate_user", {"user_id": f.id("bob")}, "forbidden"),
    ]
    for event, payload, expected in cases:
        ack = await sue.call(event, payload)
        assert code(ack) == expected, (event, payload, ack)
        assert ack["error"]["message"], ack
    assert sue.connected
    assert (await sue.call("board", {}))["ok"]
    # A CSR is not a supervisor at all.
    ann = await f.console("ann", 0)
    assert code(await ann.call("board", {})) == "forbidden"
    assert code(await ann.call("monitor", {"conversation_id": 1})) == "forbidden"
