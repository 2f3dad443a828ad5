"""A seeded random walk over everything that moves a chat between people — visitors arriving
(routing), direct and warm transfers, leave, pick, a supervisor's take-over, closes by CSRs and by
visitors, CSRs going Offline / Available / Away by themselves or by the supervisor — executed
through real clients on a deployment of its own; about a third of the steps run two actions at
the same moment, to race them. After every step the system is left to settle
(the board and every console polled until two reads agree) and these must hold:

- no CSR is ever above capacity — neither the board's load nor their own `list` (their chats and
  their warm places in colleagues' chats); checked on every poll, not only once settled. The
  supervisor is exempt: a take-over is whatever their load;
- no chat is held by two people: each console's own view (built from the `conversation.assigned`
  / `conversation.updated` events it received) agrees with the server's `list`, and no chat is in
  two consoles' views;
- no chat waits in a queue (the general queue, or a department that is not manual) while an
  Available CSR of that queue has room — routing is given time to catch up (polled);
- a CSR who is Offline holds no chat (going Offline hands chats back).

`ASSIGNMENT_PROPERTY_SEED` and `ASSIGNMENT_PROPERTY_STEPS` replay or lengthen a run
(`ASSIGNMENT_PROPERTY_VERBOSE=1` with `pytest -s` prints every step); a failure names the seed,
the step and the steps before it.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.support import clients
from tests.support.clients import new_id
from tests.support.server import Deployment, cli, deploy

SEED = int(os.environ.get("ASSIGNMENT_PROPERTY_SEED", "20261202"))
STEPS = int(os.environ.get("ASSIGNMENT_PROPERTY_STEPS", "250"))
TOGETHER = 0.3  # the share of steps that run two actions at the same moment (a race)
VERBOSE = bool(os.environ.get("ASSIGNMENT_PROPERTY_VERBOSE"))  # print every step (with pytest -s)
SETTLE_SECONDS = 15.0  # routing ticks every 2 s; generous for two workers on two shared cores
POLL_SECONDS = 0.05
MAX_OPEN_CHATS = 10
CAPACITY = {"K1": 2, "K2": 3, "K3": 1, "K4": 2}  # the CSRs; "S" is the supervisor
SALES_MEMBERS = ("K1", "K2")  # a department routed as usual
POOL_MEMBERS = ("K1", "K3", "K4")  # a manual department: its chats wait until someone picks them
EXPECTED_REFUSALS = {"unavailable", "invalid_state", "not_found", "rate_limited"}


@pytest.fixture(params=["sqlite", "postgres+redis x2"], scope="module")
def walk_deployment(request, new_postgres_database, redis_url):
    if request.param == "sqlite":
        deployment = deploy(database_url=None, redis_url=None, processes=1)
    else:
        deployment = deploy(database_url=new_postgres_database(), redis_url=redis_url, processes=2)
    yield deployment
    deployment.stop()


class Violation(AssertionError):
    pass


@dataclass
class Chat:
    tab: clients.Client
    queue: str  # "general" | "sales" | "pool"


@dataclass
class Snapshot:
    statuses: dict[str, str]  # person → available | away | offline (board)
    loads: dict[str, int]  # person → load (board)
    capacities: dict[str, int]  # person → capacity (board)
    holders: dict[int, int | None]  # chat → agent_id (board: chats in progress)
    lists: dict[str, dict[int, dict]]  # person → their `list`, by chat
    views: dict[str, frozenset[int]]  # person → the chats their console believes it holds

    def key(self) -> Any:
        lists = {p: sorted((cid, c["agent_id"], tuple(sorted(x["id"] for x in c["participants"])))
                           for cid, c in chats.items()) for p, chats in self.lists.items()}
        return (self.statuses, self.loads, sorted(self.holders.items()), lists,
                {p: sorted(v) for p, v in self.views.items()})


@dataclass
class Walk:
    d: Deployment
    rng: random.Random
    tag: str = field(default_factory=lambda: new_id()[:6])
    ids: dict[str, int] = field(default_factory=dict)
    consoles: dict[str, clients.Client] = field(default_factory=dict)
    departments: dict[str, int] = field(default_factory=dict)
    chats: dict[int, Chat] = field(default_factory=dict)  # the open ones
    log: list[str] = field(default_factory=list)
    done: dict[str, int] = field(default_factory=dict)  # action → how many succeeded
    tried: dict[str, int] = field(default_factory=dict)
    snapshot: Snapshot | None = None
    step: int = 0

    # --- set-up --------------------------------------------------------------------------------

    def email(self, name: str) -> str:
        return f"walk-{name.lower()}-{self.tag}@example.com"

    async def staff(self) -> None:
        servers = self.d.servers
        for i, (name, capacity) in enumerate([*CAPACITY.items(), ("S", 2)]):
            role = "supervisor" if name == "S" else "agent"
            user = self.d.create_user(self.email(name), role, f"{name} {self.tag}", max_chats=capacity)
            self.ids[name] = user["id"]
            self.consoles[name] = await clients.agent(servers[i % len(servers)].url, self.email(name), self.d.password)
        for label, members, strategy in (("sales", SALES_MEMBERS, "longest_idle"), ("pool", POOL_MEMBERS, "manual")):
            # The supervisor is a member of both: supervisors act on their departments only.
            args = [arg for m in (*members, "S") for arg in ("--member", self.email(m))]
            self.departments[label] = json.loads(cli(self.d.env, "create-department", "--site", self.d.site_key,
                                                     "--name", f"{label} {self.tag}", "--strategy", strategy,
                                                     *args, "--json"))["id"]
        # The supervisor stays Away: never routed, and keeps what they take over.
        assert (await self.consoles["S"].call("set_status", {"status": "away"}))["ok"]
        for name in CAPACITY:
            assert (await self.consoles[name].call("set_status", {"status": "available"}))["ok"]

    def name_of(self, user_id: int | None) -> str | None:
        return next((n for n, i in self.ids.items() if i == user_id), None)

    # --- observing -----------------------------------------------------------------------------

    def view(self, name: str) -> frozenset[int]:
        """The chats this console believes its person holds, from the events it received."""
        me, held = self.ids[name], set()
        for event, data in self.consoles[name].rec.events:
            if event == "conversation.assigned" and data.get("agent_id") == me:
                held.add(data["id"])
            elif event == "conversation.updated":
                if data.get("status") == "assigned" and data.get("agent_id") == me:
                    held.add(data["id"])
                else:
                    held.discard(data["id"])
        return frozenset(held)

    async def observe(self) -> Snapshot:
        names = list(self.consoles)
        board, *lists = await asyncio.gather(self.consoles["S"].call("board", {}),
                                             *(self.consoles[n].call("list", {}) for n in names))
        assert board["ok"], board
        rows = {self.name_of(a["id"]): a for a in board["agents"] if a["id"] in self.ids.values()}
        snapshot = Snapshot(
            statuses={n: r["status"] for n, r in rows.items()},
            loads={n: r["load"] for n, r in rows.items()},
            capacities={n: r["capacity"] for n, r in rows.items()},
            holders={c["id"]: c["agent_id"] for c in board["chats"] if c["id"] in self.chats},
            lists={n: {c["id"]: c for c in listed["conversations"]} for n, listed in zip(names, lists)},
            views={n: self.view(n) for n in names},
        )
        self.check_capacity(snapshot)
        return snapshot

    def fail(self, message: str, snapshot: Snapshot | None = None) -> None:
        recent = "\n  ".join(self.log[-15:])
        state = ""
        if snapshot is not None:
            people = "\n  ".join(
                f"{n} ({self.ids[n]}): {snapshot.statuses[n]}, "
                f"board load {snapshot.loads[n]}/{snapshot.capacities[n]}, in {sorted(snapshot.lists[n])}, "
                f"holds {sorted(c for c, x in snapshot.lists[n].items() if x['agent_id'] == self.ids[n])}, "
                f"console believes {sorted(snapshot.views[n] & set(self.chats))}"
                for n in self.consoles)
            waiting = {cid: self.chats[cid].queue for cid in self.waiting(snapshot)}
            state = f"\nstate:\n  {people}\n  waiting: {waiting}"
        raise Violation(f"seed {SEED}, step {self.step}: {message}{state}\nlast steps:\n  {recent}")

    def check_capacity(self, s: Snapshot) -> None:
        """Never above capacity, on any read (the supervisor is exempt: take-over)."""
        for name, capacity in CAPACITY.items():
            if s.capacities[name] != capacity:
                self.fail(f"{name}'s capacity reads {s.capacities[name]}, not {capacity}", s)
            if s.loads[name] > capacity:
                self.fail(f"board: {name} has load {s.loads[name]} > capacity {capacity}", s)
            if len(s.lists[name]) > capacity:
                self.fail(f"list: {name} is in {sorted(s.lists[name])}, more than their capacity {capacity}", s)

    def waiting(self, s: Snapshot) -> list[int]:
        return sorted(cid for cid in self.chats if cid not in s.holders)

    def unsettled(self, s: Snapshot) -> list[str]:
        """What must hold once the system has settled (empty when it does)."""
        problems = []
        holders_by_list: dict[int, list[str]] = {}
        for name, chats in s.lists.items():
            held = {cid for cid, c in chats.items() if c["agent_id"] == self.ids[name]}
            for cid in held:
                holders_by_list.setdefault(cid, []).append(name)
            mine = {cid for cid in held if cid in self.chats}
            if s.views[name] & set(self.chats) != mine:
                problems.append(f"{name}'s console believes it holds {sorted(s.views[name] & set(self.chats))}, "
                                f"the server lists {sorted(mine)}")
        for cid, names in holders_by_list.items():
            if len(names) > 1:
                problems.append(f"chat {cid} is held by {names}")
        for cid, agent_id in s.holders.items():
            if holders_by_list.get(cid, [None]) != [self.name_of(agent_id)]:
                problems.append(f"board says chat {cid} is {self.name_of(agent_id)}'s, lists say "
                                f"{holders_by_list.get(cid)}")
        view_owners: dict[int, list[str]] = {}
        for name, view in s.views.items():
            for cid in view & set(self.chats):
                view_owners.setdefault(cid, []).append(name)
        problems += [f"chat {cid} is held by the consoles of {names}" for cid, names in view_owners.items()
                     if len(names) > 1]
        for cid in self.waiting(s):
            queue = self.chats[cid].queue
            if queue == "pool":
                continue
            members = CAPACITY if queue == "general" else SALES_MEMBERS
            free = [n for n in members if s.statuses[n] == "available" and len(s.lists[n]) < CAPACITY[n]]
            if free:
                problems.append(f"chat {cid} waits in {queue} while {free} are Available with room")
        for name in CAPACITY:
            if s.statuses[name] == "offline":
                held = [cid for cid, c in s.lists[name].items() if c["agent_id"] == self.ids[name]]
                if held:
                    problems.append(f"{name} is Offline and still holds {held}")
        return problems

    async def settle(self) -> Snapshot:
        deadline = time.monotonic() + SETTLE_SECONDS
        previous = None
        while True:
            snapshot = await self.observe()
            problems = self.unsettled(snapshot)
            if not problems and previous is not None and previous.key() == snapshot.key():
                self.snapshot = snapshot
                return snapshot
            if time.monotonic() > deadline:
                self.fail("; ".join(problems) or "the board never stopped changing", snapshot)
            previous = snapshot
            await asyncio.sleep(POLL_SECONDS)  # polling interval

    # --- acting --------------------------------------------------------------------------------

    def held_pairs(self, *, include_supervisor: bool = True) -> list[tuple[str, int]]:
        s = self.snapshot
        return sorted((self.name_of(agent_id), cid) for cid, agent_id in s.holders.items()
                      if self.name_of(agent_id) is not None and (include_supervisor or self.name_of(agent_id) != "S"))

    def warm_chats(self) -> list[tuple[str, int, list[int]]]:
        out = []
        for name, cid in self.held_pairs():
            summary = self.snapshot.lists[name].get(cid)
            if summary and summary["participants"]:
                out.append((name, cid, [p["id"] for p in summary["participants"]]))
        return out

    def choices(self) -> list[tuple[str, float]]:
        held = self.held_pairs()
        options = [
            ("arrive", 3.0 if len(self.chats) < MAX_OPEN_CHATS else 0.0),
            ("close", 2.0 if held else 0.0),
            ("visitor_close", 1.0 if self.chats else 0.0),
            ("transfer", 2.0 if held else 0.0),
            ("warm", 1.5 if held else 0.0),
            ("leave", 3.0 if self.warm_chats() else 0.0),
            ("pick", 1.5 if self.waiting(self.snapshot) else 0.0),
            ("take_over", 1.0 if self.held_pairs(include_supervisor=False) else 0.0),
            ("status", 2.0),
            ("force_status", 0.5),
        ]
        return [(a, w) for a, w in options if w > 0]

    async def act(self) -> None:
        """One action, or (sometimes) two at the same moment, chosen from the settled state."""
        options = self.choices()
        count = 2 if self.rng.random() < TOGETHER else 1
        actions = self.rng.choices([a for a, _ in options], weights=[w for _, w in options], k=count)
        results = await asyncio.gather(*(getattr(self, f"do_{action}")() for action in actions))
        together = " (together)" if count > 1 else ""
        for action, (description, ack) in zip(actions, results):
            self.tried[action] = self.tried.get(action, 0) + 1
            self.log.append(f"{self.step}: {description}{together} → {ack}")
            if VERBOSE:
                print(self.log[-1])
        for action, (description, ack) in zip(actions, results):
            if ack.get("ok"):
                self.done[action] = self.done.get(action, 0) + 1
            elif ack["error"]["code"] not in EXPECTED_REFUSALS:
                self.fail(f"{description} was refused with {ack['error']}")

    async def do_arrive(self) -> tuple[str, dict]:
        queue = self.rng.choice(["general", "sales", "pool"])
        server = self.d.servers[self.rng.randrange(len(self.d.servers))]
        tab = await clients.visitor(server.url, self.d.site_key, self.d.origin)
        payload = {"client_id": new_id(), "body": f"step {self.step}"}
        if queue != "general":
            payload["department_id"] = self.departments[queue]
        ack = await tab.call("message", payload)
        if ack.get("ok"):
            self.chats[ack["conversation_id"]] = Chat(tab, queue)
        else:
            await tab.disconnect()
        return f"a visitor asks in {queue}" + (f" (chat {ack['conversation_id']})" if ack.get("ok") else ""), ack

    async def _closed(self, cid: int, ack: dict) -> None:
        chat = self.chats.pop(cid, None) if ack.get("ok") else None
        if chat is not None:
            await chat.tab.disconnect()

    async def do_close(self) -> tuple[str, dict]:
        name, cid = self.rng.choice(self.held_pairs())
        ack = await self.consoles[name].call("close", {"conversation_id": cid})
        await self._closed(cid, ack)
        return f"{name} closes {cid}", ack

    async def do_visitor_close(self) -> tuple[str, dict]:
        cid = self.rng.choice(sorted(self.chats))
        ack = await self.chats[cid].tab.call("close", {"conversation_id": cid})
        await self._closed(cid, ack)
        return f"the visitor of {cid} leaves", ack

    async def do_transfer(self, warm: bool = False) -> tuple[str, dict]:
        name, cid = self.rng.choice(self.held_pairs())
        target = self.rng.choice([n for n in CAPACITY if n != name])
        payload = {"conversation_id": cid, "to_agent_id": self.ids[target], **({"warm": True} if warm else {})}
        ack = await self.consoles[name].call("transfer", payload)
        return f"{name} {'warm-' if warm else ''}transfers {cid} to {target}", ack

    async def do_warm(self) -> tuple[str, dict]:
        return await self.do_transfer(warm=True)

    async def do_leave(self) -> tuple[str, dict]:
        holder, cid, participants = self.rng.choice(self.warm_chats())
        who = holder if self.rng.random() < 0.6 else self.name_of(self.rng.choice(participants))
        ack = await self.consoles[who].call("leave", {"conversation_id": cid})
        return f"{who} leaves {cid} (held by {holder})", ack

    async def do_pick(self) -> tuple[str, dict]:
        cid = self.rng.choice(self.waiting(self.snapshot))
        name = self.rng.choice(list(CAPACITY))
        description = f"{name} picks {cid} ({self.chats[cid].queue})"
        return description, await self.consoles[name].call("pick", {"conversation_id": cid})

    async def do_take_over(self) -> tuple[str, dict]:
        name, cid = self.rng.choice(self.held_pairs(include_supervisor=False))
        ack = await self.consoles["S"].call("take_over", {"conversation_id": cid})
        return f"S takes over {cid} from {name}", ack

    def someone(self) -> str:
        """A CSR, half the time one who holds chats (so that going Offline or Away has something to do)."""
        holding = sorted({name for name, _ in self.held_pairs(include_supervisor=False)})
        return self.rng.choice(holding if holding and self.rng.random() < 0.5 else list(CAPACITY))

    async def do_status(self) -> tuple[str, dict]:
        name = self.someone()
        status = self.rng.choices(["available", "offline", "away"], weights=[3, 2, 1])[0]
        ack = await self.consoles[name].call("set_status", {"status": status})
        return f"{name} sets {status}", ack

    async def do_force_status(self) -> tuple[str, dict]:
        name = self.someone()
        status = self.rng.choice(["available", "offline", "away"])
        ack = await self.consoles["S"].call("force_status", {"user_id": self.ids[name], "status": status})
        return f"S forces {name} {status}", ack

    async def finish(self) -> None:
        for cid, chat in list(self.chats.items()):
            if chat.tab.connected:
                await chat.tab.call("close", {"conversation_id": cid})
                await chat.tab.disconnect()
        for console in self.consoles.values():
            if console.connected:
                await console.call("set_status", {"status": "offline"})
                await console.disconnect()


async def test_random_interleavings_keep_the_assignment_invariants(walk_deployment):
    walk = Walk(walk_deployment, random.Random(SEED))
    started = time.monotonic()
    try:
        await walk.staff()
        await walk.settle()
        for walk.step in range(1, STEPS + 1):
            await walk.act()
            await walk.settle()
    finally:
        await walk.finish()
    elapsed = time.monotonic() - started
    print(f"seed {SEED}: {STEPS} steps in {elapsed:.0f} s; tried {walk.tried}; succeeded {walk.done}")
    # The walk did exercise every way a chat moves (else the seed or the weights need a look).
    assert set(walk.done) >= {"arrive", "close", "visitor_close", "transfer", "warm", "leave", "pick", "take_over",
                              "status", "force_status"}, walk.done
