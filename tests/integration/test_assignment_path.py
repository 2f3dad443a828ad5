"""One path for a chat to reach a CSR: capacity is taken atomically whichever way a chat comes
(routing, a direct or a warm transfer, leave, take-over); a CSR who goes Offline hands every chat
back; and whoever loses a chat stops hearing it on every console, on every worker.

On deployments of this module's own (SQLite, and PostgreSQL + Redis with two workers): capacity
is checked to the chat, so a chat another test left waiting must not reach these CSRs. Each test
still makes its own CSRs, departments and visitors, and closes its chats.

Capacity is read two ways: the supervisor's `board` (load / capacity per CSR) and the CSR's own
`list` (the chats they are in: their own and the warm places of colleagues' chats, which count
against capacity too)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.support import clients
from tests.support.clients import new_id
from tests.support.db import fetch
from tests.support.server import Deployment, cli, deploy

WAIT = 15.0  # generous: two workers on two shared cores


@pytest.fixture(params=["sqlite", "postgres+redis x2"], scope="module")
def quiet(request, new_postgres_database, redis_url):
    if request.param == "sqlite":
        deployment = deploy(database_url=None, redis_url=None, processes=1)
    else:
        deployment = deploy(database_url=new_postgres_database(), redis_url=redis_url, processes=2)
    yield deployment
    deployment.stop()


def code(ack: dict) -> str | None:
    return None if ack.get("ok") else ack["error"]["code"]


def about(event: str, data: Any, cid: int) -> bool:
    """Whether an agent-namespace event concerns conversation `cid`."""
    if not isinstance(data, dict):
        return False
    if data.get("conversation_id") == cid:
        return True
    return event.startswith("conversation") and data.get("id") == cid


class Floor:
    """This test's people: CSRs and supervisors (each a console), departments, visitors and their chats."""

    def __init__(self, d: Deployment) -> None:
        self.d = d
        self.tag = new_id()[:6]
        self.users: dict[str, dict] = {}
        self.consoles: dict[str, clients.Client] = {}
        self.extra_consoles: list[clients.Client] = []
        self.visitors: dict[int, clients.Client] = {}  # conversation → the visitor's tab
        self.supervisors: list[str] = []

    def email(self, name: str) -> str:
        return f"{name.lower()}-{self.tag}@example.com"

    def server(self, index: int) -> str:
        return self.d.servers[index % len(self.d.servers)].url

    async def staff(self, name: str, *, capacity: int, server: int = 0, role: str = "agent") -> clients.Client:
        self.users[name] = self.d.create_user(self.email(name), role, f"{name} {self.tag}", max_chats=capacity)
        if role == "supervisor":
            self.supervisors.append(name)
        self.consoles[name] = await clients.agent(self.server(server), self.email(name), self.d.password)
        return self.consoles[name]

    async def second_console(self, name: str, server: int) -> clients.Client:
        console = await clients.agent(self.server(server), self.email(name), self.d.password)
        self.extra_consoles.append(console)
        return console

    def id(self, name: str) -> int:
        return self.users[name]["id"]

    def department(self, label: str, *members: str, strategy: str = "longest_idle",
                   levels: dict[str, int] | None = None) -> int:
        """A department of these CSRs; the floor's supervisors so far are its members too (a
        supervisor sees and acts on their departments only: app/services/scope.py)."""
        supervisors = [n for n in self.supervisors if n not in members]
        args: list[str] = []
        for name in supervisors:
            args += ["--member", self.email(name)]
        for name in members:
            level = (levels or {}).get(name)
            args += ["--member", f"{self.email(name)}:{level}" if level else self.email(name)]
        return json.loads(cli(self.d.env, "create-department", "--site", self.d.site_key, "--name",
                              f"{label} {self.tag}", "--strategy", strategy, *args, "--json"))["id"]

    async def available(self, *names: str) -> None:
        for name in names:
            assert (await self.consoles[name].call("set_status", {"status": "available"}))["ok"]

    async def visitor(self, server: int = 0) -> clients.Client:
        return await clients.visitor(self.server(server), self.d.site_key, self.d.origin)

    async def ask(self, department: int, body: str, *, server: int = 0, tab: clients.Client | None = None) -> int:
        tab = tab or await self.visitor(server)
        ack = await tab.call("message", {"client_id": new_id(), "body": body, "department_id": department})
        assert ack["ok"], ack
        self.visitors[ack["conversation_id"]] = tab
        return ack["conversation_id"]

    async def given_to(self, name: str, cid: int) -> dict:
        return await self.consoles[name].rec.wait_for(
            "conversation.assigned", lambda c: c["id"] == cid and c["agent_id"] == self.id(name), timeout=WAIT)

    async def who_gets(self, cid: int, *names: str) -> str:
        """Which of these CSRs the chat is routed to (waits on all their consoles at once)."""
        tasks = {asyncio.create_task(self.consoles[n].rec.wait_for(
            "conversation.assigned", lambda c, n=n: c["id"] == cid and c["agent_id"] == self.id(n))): n for n in names}
        done, pending = await asyncio.wait(tasks, timeout=WAIT, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        assert done, f"chat {cid} was given to none of {names}"
        return tasks[done.pop()]

    async def listed(self, name: str) -> dict[int, dict]:
        """The chats the CSR is in, by their own `list`: theirs and warm places in colleagues' chats."""
        ack = await self.consoles[name].call("list", {})
        assert ack["ok"], ack
        return {c["id"]: c for c in ack["conversations"]}

    async def held(self, name: str) -> set[int]:
        return {cid for cid, c in (await self.listed(name)).items() if c["agent_id"] == self.id(name)}

    async def board_row(self, supervisor: str, name: str) -> dict:
        board = await self.consoles[supervisor].call("board", {})
        assert board["ok"], board
        return next(a for a in board["agents"] if a["id"] == self.id(name))

    async def within_capacity(self, supervisor: str, name: str, capacity: int) -> None:
        """Neither the board nor the CSR's own list shows them above capacity."""
        row = await self.board_row(supervisor, name)
        assert row["capacity"] == capacity and row["load"] <= capacity, row
        listed = await self.listed(name)
        assert len(listed) <= capacity, f"{name} is in {sorted(listed)}: over their capacity {capacity}"

    async def state(self, cid: int) -> dict:
        """The visitor's view of their chat, now (`sync` reads the database)."""
        synced = await self.visitors[cid].call("sync", {"conversation_id": cid, "after_seq": 0})
        assert synced["ok"], synced
        return synced["conversation"]

    async def finish(self) -> None:
        for cid, tab in self.visitors.items():
            if tab.connected:
                await tab.call("close", {"conversation_id": cid})
        for tab in {id(t): t for t in self.visitors.values()}.values():
            if tab.connected:
                await tab.disconnect()
        for console in [*self.consoles.values(), *self.extra_consoles]:
            if console.connected:
                await console.call("set_status", {"status": "offline"})
                await console.disconnect()


@pytest.fixture
async def floor(quiet):
    floor = Floor(quiet)
    try:
        yield floor
    finally:
        await floor.finish()


# --- capacity ------------------------------------------------------------------------------------


async def test_a_warm_transfer_to_a_full_colleague_is_refused_and_changes_nothing(floor):
    await floor.staff("Ann", capacity=5, server=0)
    colleague = await floor.staff("Cal", capacity=2, server=-1)
    await floor.staff("Sue", capacity=2, server=0, role="supervisor")
    ann_queue, cal_queue = floor.department("Ann desk", "Ann"), floor.department("Cal desk", "Cal")
    await floor.available("Ann", "Cal")
    x = await floor.ask(ann_queue, "I need an invoice", server=0)
    await floor.given_to("Ann", x)
    ys = [await floor.ask(cal_queue, f"Question {i}", server=-1) for i in range(2)]
    for y in ys:
        await floor.given_to("Cal", y)
    assert await floor.held("Cal") == set(ys)  # full

    ack = await floor.consoles["Ann"].call("transfer", {"conversation_id": x, "to_agent_id": floor.id("Cal"),
                                                        "warm": True, "note": "Please help with the invoice"})
    assert code(ack) == "unavailable", ack

    # Nothing changed: the chat is Ann's alone, Cal holds their two, the visitor heard of nobody.
    listed = await floor.listed("Ann")
    assert listed[x]["agent_id"] == floor.id("Ann") and listed[x]["participants"] == []
    assert set(await floor.listed("Cal")) == set(ys)
    await floor.within_capacity("Sue", "Cal", 2)
    assert (await floor.state(x))["agent"] == {"name": f"Ann {floor.tag}"}
    # Fences: a message each side is sure to receive after anything the refused transfer emitted.
    reply = await floor.consoles["Ann"].call("message", {"conversation_id": x, "client_id": new_id(), "body": "On it"})
    assert reply["ok"], reply
    await floor.visitors[x].rec.wait_for("message", lambda m: m["body"] == "On it", timeout=WAIT)
    mark = await colleague.call("message", {"conversation_id": ys[0], "client_id": new_id(), "body": "One moment"})
    assert mark["ok"], mark
    await colleague.rec.wait_for("message", lambda m: m["conversation_id"] == ys[0] and m["body"] == "One moment",
                                 timeout=WAIT)
    assert not [m for m in floor.visitors[x].rec.of("message") if m["body"] == f"Cal {floor.tag} joined the chat."]
    assert not [e for e, d in colleague.rec.events if about(e, d, x)]
    synced = await floor.visitors[x].call("sync", {"conversation_id": x, "after_seq": 0})
    assert not [m for m in synced["messages"] if m["body"] == f"Cal {floor.tag} joined the chat."]
    opened = await floor.consoles["Ann"].call("open", {"conversation_id": x})
    assert not [m for m in opened["messages"] if m["body"] == "Please help with the invoice"]  # no note stored


async def test_a_warm_colleague_counts_against_capacity_until_the_chat_is_theirs(floor):
    """Cal (capacity 2) holds one chat and takes a warm place in Ann's: full. The queue Cal serves
    with Eve prefers Cal (skills), so a chat arriving now shows whether routing counts the warm
    place: it must go to Eve. When Ann leaves, the chat becomes Cal's: still 2, never 3."""
    await floor.staff("Ann", capacity=5, server=0)
    await floor.staff("Cal", capacity=2, server=-1)
    await floor.staff("Eve", capacity=5, server=0)
    await floor.staff("Sue", capacity=2, server=-1, role="supervisor")
    ann_queue = floor.department("Ann desk", "Ann")
    shared = floor.department("Cal and Eve", "Cal", "Eve", strategy="skills", levels={"Cal": 9, "Eve": 1})
    await floor.available("Ann", "Cal", "Eve")

    x = await floor.ask(ann_queue, "My parcel is lost", server=-1)
    await floor.given_to("Ann", x)
    y = await floor.ask(shared, "Do you ship abroad?", server=0)
    assert await floor.who_gets(y, "Cal", "Eve") == "Cal"  # the skills strategy prefers Cal while Cal has room
    await floor.within_capacity("Sue", "Cal", 2)

    ack = await floor.consoles["Ann"].call("transfer", {"conversation_id": x, "to_agent_id": floor.id("Cal"),
                                                        "warm": True})
    assert ack["ok"], ack
    joined = await floor.consoles["Cal"].rec.wait_for("conversation.assigned", lambda c: c["id"] == x, timeout=WAIT)
    assert joined["agent_id"] == floor.id("Ann") and [p["id"] for p in joined["participants"]] == [floor.id("Cal")]
    assert set(await floor.listed("Cal")) == {x, y}
    await floor.within_capacity("Sue", "Cal", 2)

    z = await floor.ask(shared, "Can I pay by invoice?", server=-1)
    assert await floor.who_gets(z, "Cal", "Eve") == "Eve", "routing gave a chat to Cal, whose warm place filled them"
    await floor.within_capacity("Sue", "Cal", 2)

    assert (await floor.consoles["Ann"].call("leave", {"conversation_id": x}))["ok"]
    await floor.consoles["Cal"].rec.wait_for(
        "conversation.updated", lambda c: c["id"] == x and c["agent_id"] == floor.id("Cal"), timeout=WAIT)
    assert await floor.held("Cal") == {x, y}
    assert set(await floor.listed("Cal")) == {x, y}
    await floor.within_capacity("Sue", "Cal", 2)
    row = await floor.board_row("Sue", "Cal")
    assert row["load"] == 2

    w = await floor.ask(shared, "And gift wrapping?", server=0)
    assert await floor.who_gets(w, "Cal", "Eve") == "Eve"
    await floor.within_capacity("Sue", "Cal", 2)


RACE_ROUNDS = 8


async def test_a_direct_transfer_racing_routing_for_the_last_place_has_one_winner(floor):
    """Cal (capacity 2) holds one chat. Ann transfers a chat to Cal at the moment a visitor's chat
    arrives in the queue Cal serves with Eve (skills: Cal first while Cal has room). Exactly one of
    the two takes Cal's last place: the transfer is refused (`unavailable`) and the new chat is
    Cal's, or the transfer goes through and the new chat goes to Eve. Cal never holds three —
    watched all along on the supervisor's board and Cal's own list."""
    await floor.staff("Ann", capacity=RACE_ROUNDS + 2, server=0)
    await floor.staff("Cal", capacity=2, server=-1)
    await floor.staff("Eve", capacity=RACE_ROUNDS + 2, server=0)
    await floor.staff("Sue", capacity=2, server=-1, role="supervisor")
    ann_queue = floor.department("Ann desk", "Ann")
    shared = floor.department("Cal and Eve", "Cal", "Eve", strategy="skills", levels={"Cal": 9, "Eve": 1})
    await floor.available("Ann", "Cal", "Eve")
    y = await floor.ask(shared, "Where is my order?", server=0)
    assert await floor.who_gets(y, "Cal", "Eve") == "Cal"

    seen_over: list[str] = []
    stop = asyncio.Event()
    # Separate consoles for watching, so that the watchers' calls never queue behind the actors'.
    sue_watch = await floor.second_console("Sue", server=0)
    cal_watch = await floor.second_console("Cal", server=0)

    async def watch() -> int:
        polls = 0
        while not stop.is_set():
            board, listed = await asyncio.gather(sue_watch.call("board", {}), cal_watch.call("list", {}))
            row = next(a for a in board["agents"] if a["id"] == floor.id("Cal"))
            if row["load"] > row["capacity"]:
                seen_over.append(f"board: Cal load {row['load']} > capacity {row['capacity']}")
            if len(listed["conversations"]) > 2:
                seen_over.append(f"list: Cal is in {[c['id'] for c in listed['conversations']]}")
            polls += 1
            await asyncio.sleep(0.02)  # polling interval
        return polls

    watcher = asyncio.create_task(watch())
    outcomes = []
    try:
        for round_ in range(RACE_ROUNDS):
            x = await floor.ask(ann_queue, f"Transfer me, round {round_}", server=-1)
            await floor.given_to("Ann", x)
            newcomer = await floor.visitor(server=round_)
            transferred, asked = await asyncio.gather(
                floor.consoles["Ann"].call("transfer", {"conversation_id": x, "to_agent_id": floor.id("Cal")}),
                newcomer.call("message", {"client_id": new_id(), "body": f"Hello, round {round_}",
                                          "department_id": shared}),
            )
            assert asked["ok"], asked
            z = asked["conversation_id"]
            floor.visitors[z] = newcomer
            assert transferred.get("ok") or code(transferred) == "unavailable", transferred
            z_went_to = await floor.who_gets(z, "Cal", "Eve")
            if transferred.get("ok"):
                await floor.given_to("Cal", x)
            outcomes.append((bool(transferred.get("ok")), z_went_to))
            assert transferred.get("ok") != (z_went_to == "Cal"), \
                f"round {round_}: transfer {transferred}, the new chat went to {z_went_to}"
            cal_in = set(await floor.listed("Cal"))
            assert len(cal_in) <= 2 and y in cal_in, f"round {round_}: Cal is in {sorted(cal_in)}"
            await floor.within_capacity("Sue", "Cal", 2)
            # Back to one chat for Cal before the next round.
            for cid, holder in ((x, "Cal" if transferred.get("ok") else "Ann"), (z, z_went_to)):
                assert (await floor.consoles[holder].call("close", {"conversation_id": cid}))["ok"]
            assert await floor.held("Cal") == {y}
    finally:
        stop.set()
        polls = await watcher
    assert seen_over == [], seen_over[:5]
    assert polls > RACE_ROUNDS
    print("race outcomes (transfer won, new chat went to):", outcomes)


# --- Offline hands back, Away keeps --------------------------------------------------------------


async def _hand_back(floor: Floor, go_offline: Callable[[], Awaitable[None]]) -> None:
    """Olga holds two chats of her queue, a third waits; she goes Offline (by `go_offline`): both
    chats go back to the front of the queue (`requeued`, the visitors see `waiting`), and Pat, who
    becomes Available with room for two, gets exactly those two — not the newer one."""
    await floor.staff("Olga", capacity=2, server=0)
    await floor.staff("Pat", capacity=2, server=-1)
    await floor.staff("Sue", capacity=2, server=-1, role="supervisor")
    queue = floor.department("Returns", "Olga", "Pat")
    await floor.available("Olga")
    held = [await floor.ask(queue, f"Return number {i}", server=i) for i in range(2)]
    for cid in held:
        await floor.given_to("Olga", cid)
    newer = await floor.ask(queue, "I came later", server=0)
    assert (await floor.state(newer))["status"] == "waiting"

    await go_offline()

    for cid in held:
        await floor.visitors[cid].rec.wait_for("conversation", lambda c, cid=cid: c["id"] == cid
                                               and c["status"] == "waiting", timeout=WAIT)
        await floor.consoles["Olga"].rec.wait_for(
            "conversation.updated", lambda c, cid=cid: c["id"] == cid and c["agent_id"] != floor.id("Olga"),
            timeout=WAIT)
    assert await floor.listed("Olga") == {}
    row = await floor.board_row("Sue", "Olga")
    assert row["status"] == "offline" and row["load"] == 0, row
    requeued = await fetch(floor.d, "SELECT conversation_id FROM conversation_event WHERE kind = 'requeued' "
                                    "AND conversation_id IN (?, ?, ?)", *held, newer)
    assert sorted(r["conversation_id"] for r in requeued) == sorted(held)
    # At the front of their queue, in their original order.
    queued = (await floor.consoles["Pat"].call("queue", {}))["chats"]
    assert [c["id"] for c in queued if c["id"] in (*held, newer)] == [*held, newer]

    await floor.available("Pat")
    for cid in held:
        await floor.given_to("Pat", cid)
        await floor.visitors[cid].rec.wait_for("conversation", lambda c, cid=cid: c["id"] == cid
                                               and c["agent"] == {"name": f"Pat {floor.tag}"}, timeout=WAIT)
    assert await floor.held("Pat") == set(held)
    assert (await floor.state(newer))["status"] == "waiting"


async def test_a_csr_who_sets_themselves_offline_hands_their_chats_back(floor):
    async def go_offline() -> None:
        ack = await floor.consoles["Olga"].call("set_status", {"status": "offline"})
        assert ack["ok"] and ack["status"] == "offline", ack

    await _hand_back(floor, go_offline)


async def test_a_csr_forced_offline_by_a_supervisor_hands_their_chats_back(floor):
    async def go_offline() -> None:
        ack = await floor.consoles["Sue"].call("force_status", {"user_id": floor.id("Olga"), "status": "offline"})
        assert ack == {"ok": True, "status": "offline"}, ack
        await floor.consoles["Olga"].rec.wait_for("status", lambda s: s["status"] == "offline", timeout=WAIT)

    await _hand_back(floor, go_offline)


async def test_a_deactivated_csr_hands_their_chats_back_and_is_signed_out_everywhere(floor):
    """An admin deactivates Olga, who holds two chats and has a console on each worker: her chats
    go back to the front of the queue (reason `deactivated`), both consoles are disconnected, and
    neither her socket token nor her password lets her back in. A supervisor may not do this."""
    await floor.staff("Olga", capacity=2, server=0)
    await floor.second_console("Olga", server=-1)
    await floor.staff("Pat", capacity=2, server=-1)
    await floor.staff("Sue", capacity=2, server=-1, role="supervisor")
    await floor.staff("Ada", capacity=2, server=0, role="admin")
    queue = floor.department("Returns", "Olga", "Pat")
    token = await clients.socket_token(floor.server(0), floor.email("Olga"), floor.d.password)
    await floor.available("Olga")
    held = [await floor.ask(queue, f"Return number {i}", server=i) for i in range(2)]
    for cid in held:
        await floor.given_to("Olga", cid)

    refused = await floor.consoles["Sue"].call("deactivate_user", {"user_id": floor.id("Olga")})
    assert code(refused) == "forbidden", refused
    assert code(await floor.consoles["Ada"].call("deactivate_user", {"user_id": floor.id("Ada")})) == "invalid_state"
    assert code(await floor.consoles["Ada"].call("deactivate_user", {"user_id": 10**9})) == "not_found"
    assert code(await floor.consoles["Ada"].call("deactivate_user", {"user_id": "Olga"})) == "bad_request"

    ack = await floor.consoles["Ada"].call("deactivate_user", {"user_id": floor.id("Olga")})
    assert ack == {"ok": True}, ack
    for cid in held:
        await floor.visitors[cid].rec.wait_for("conversation", lambda c, cid=cid: c["id"] == cid
                                               and c["status"] == "waiting", timeout=WAIT)
    deadline = asyncio.get_running_loop().time() + WAIT
    for console in (floor.consoles["Olga"], *floor.extra_consoles):
        while console.sio.connected:  # polling the client's own state, not the server's
            assert asyncio.get_running_loop().time() < deadline, "a console of Olga's stayed connected"
            await asyncio.sleep(0.05)
    requeued = await fetch(floor.d, "SELECT conversation_id, data FROM conversation_event WHERE kind = 'requeued' "
                                    "AND conversation_id IN (?, ?)", *held)
    assert sorted(r["conversation_id"] for r in requeued) == sorted(held)
    assert all("deactivated" in str(r["data"]) for r in requeued), requeued
    board = await floor.consoles["Sue"].call("board", {})
    assert floor.id("Olga") not in [a["id"] for a in board["agents"]]
    audit = await fetch(floor.d, "SELECT action FROM audit_event WHERE target_user_id = ? AND action <> 'user_create'",
                        floor.id("Olga"))
    assert [r["action"] for r in audit] == ["deactivate"]

    comeback = clients.Client("/agent")
    with pytest.raises(Exception):
        await comeback.sio.connect(floor.server(-1), namespaces=["/agent"], auth={"token": token},
                                   transports=["websocket"], wait_timeout=10)
    assert comeback.connect_error["data"]["code"] == "unauthorized", comeback.connect_error
    with pytest.raises(AssertionError):
        await clients.socket_token(floor.server(0), floor.email("Olga"), floor.d.password)

    await floor.available("Pat")
    for cid in held:
        await floor.given_to("Pat", cid)


async def test_away_keeps_the_chats(floor):
    await floor.staff("Olga", capacity=2, server=0)
    await floor.staff("Pat", capacity=2, server=-1)
    await floor.staff("Sue", capacity=2, server=-1, role="supervisor")
    queue = floor.department("Returns", "Olga", "Pat")
    await floor.available("Olga")
    held = [await floor.ask(queue, f"Return number {i}", server=i) for i in range(2)]
    for cid in held:
        await floor.given_to("Olga", cid)

    assert (await floor.consoles["Olga"].call("set_status", {"status": "away", "reason": "Meal"}))["ok"]
    # Routing runs after the change (Pat gets a new chat), and still Olga's chats stay hers.
    await floor.available("Pat")
    newer = await floor.ask(queue, "Anyone there?", server=-1)
    await floor.given_to("Pat", newer)
    assert await floor.held("Olga") == set(held)
    assert await floor.held("Pat") == {newer}
    row = await floor.board_row("Sue", "Olga")
    assert row["status"] == "away" and row["load"] == 2, row
    for cid in held:
        assert (await floor.state(cid))["status"] == "assigned"
        assert not [c for c in floor.visitors[cid].rec.of("conversation") if c["status"] == "waiting"]
    requeued = await fetch(floor.d, "SELECT conversation_id FROM conversation_event WHERE kind = 'requeued' "
                                    "AND conversation_id IN (?, ?)", *held)
    assert requeued == []
    # The same when a supervisor sets her Away.
    ack = await floor.consoles["Sue"].call("force_status", {"user_id": floor.id("Olga"), "status": "away"})
    assert ack["ok"], ack
    await floor.consoles["Olga"].rec.wait_for("status", lambda s: s["status"] == "away" and s["reason"] != "Meal",
                                              timeout=WAIT)
    assert await floor.held("Olga") == set(held)


# --- whoever loses a chat stops hearing it --------------------------------------------------------


async def _previous_holder_hears_nothing(floor: Floor, hand_over: Callable[[int], Awaitable[clients.Client]]) -> None:
    """Olga has two consoles, one on each worker, both showing the chat. After `hand_over` (which
    returns the new holder's console), neither console receives anything more of the chat —
    no message (the visitor's, the new holder's, a whisper, a system notice: "<new holder> joined
    the chat." too, as the previous holder leaves the chat's room the moment it stops being theirs,
    before anything of the hand-over is published), no typing, no read — while the new holder
    receives all of it. The one thing the previous holder is sent is `conversation.updated`."""
    olga = await floor.staff("Olga", capacity=3, server=0)
    olga_too = await floor.second_console("Olga", server=-1)
    await floor.staff("Wes", capacity=2, server=0, role="supervisor")  # whispers
    queue = floor.department("Olga desk", "Olga")
    await floor.available("Olga")
    cid = await floor.ask(queue, "Hello?", server=-1)
    visitor = floor.visitors[cid]
    for console in (olga, olga_too):
        await console.rec.wait_for("conversation.assigned", lambda c: c["id"] == cid, timeout=WAIT)
        assert (await console.call("open", {"conversation_id": cid}))["ok"]

    async def say_everything(label: str) -> None:
        assert (await visitor.call("message", {"client_id": new_id(), "body": f"visitor {label}"}))["ok"]
        assert (await visitor.call("typing", {"typing": True}))["ok"]
        assert (await floor.consoles["Wes"].call("whisper", {"conversation_id": cid, "client_id": new_id(),
                                                              "body": f"whisper {label}"}))["ok"]

    async def heard_everything(console: clients.Client, label: str) -> None:
        await console.rec.wait_for("message", lambda m: m["conversation_id"] == cid and m["body"] == f"visitor {label}",
                                   timeout=WAIT)
        await console.rec.wait_for("message", lambda m: m["conversation_id"] == cid and m["body"] == f"whisper {label}",
                                   timeout=WAIT)
        await console.rec.wait_for("typing", lambda t: t["conversation_id"] == cid and t["typing"], timeout=WAIT)

    # Before: both of Olga's consoles hear the chat (so hearing nothing later means something).
    await say_everything("before")
    for console in (olga, olga_too):
        await heard_everything(console, "before")

    marks = {id(c): len(c.rec.events) for c in (olga, olga_too)}
    new_holder = await hand_over(cid)
    for console in (olga, olga_too):
        await console.rec.wait_for("conversation.updated", lambda c: c["id"] == cid
                                   and c["agent_id"] != floor.id("Olga"), timeout=WAIT)

    await say_everything("after")
    await heard_everything(new_holder, "after")
    reply = await new_holder.call("message", {"conversation_id": cid, "client_id": new_id(), "body": "reply after"})
    assert reply["ok"], reply
    await visitor.rec.wait_for("message", lambda m: m["body"] == "reply after", timeout=WAIT)
    last = max(m["seq"] for m in visitor.rec.of("message"))
    assert (await visitor.call("read", {"conversation_id": cid, "seq": last}))["ok"]
    await new_holder.rec.wait_for("read", lambda r: r["conversation_id"] == cid, timeout=WAIT)

    # Fence: a status change of Olga's reaches both her consoles after everything above was sent.
    assert (await olga.call("set_status", {"status": "away"}))["ok"]
    for console in (olga, olga_too):
        await console.rec.wait_for("status", lambda s: s["status"] == "away", timeout=WAIT)
    leaked = {
        where: [(e, d) for e, d in console.rec.events[marks[id(console)]:] if about(e, d, cid)
                and e != "conversation.updated"]
        for console, where in ((olga, "the first worker"), (olga_too, "the last worker"))
    }
    assert leaked == {"the first worker": [], "the last worker": []}, f"Olga's consoles still heard the chat: {leaked}"
    assert (await new_holder.call("close", {"conversation_id": cid}))["ok"]


async def test_after_a_transfer_the_previous_csr_hears_nothing_more_of_the_chat(floor):
    async def transfer(cid: int) -> clients.Client:
        nina = await floor.staff("Nina", capacity=3, server=0)
        await floor.available("Nina")
        ack = await floor.consoles["Olga"].call("transfer", {"conversation_id": cid, "to_agent_id": floor.id("Nina")})
        assert ack["ok"], ack
        await floor.given_to("Nina", cid)
        assert (await nina.call("open", {"conversation_id": cid}))["ok"]
        return nina

    await _previous_holder_hears_nothing(floor, transfer)


async def test_after_a_take_over_the_previous_csr_hears_nothing_more_of_the_chat(floor):
    sue = await floor.staff("Sue", capacity=2, server=-1, role="supervisor")  # so, of Olga's desk too

    async def take_over(cid: int) -> clients.Client:
        assert (await sue.call("take_over", {"conversation_id": cid}))["ok"]
        await floor.given_to("Sue", cid)
        return sue

    await _previous_holder_hears_nothing(floor, take_over)
