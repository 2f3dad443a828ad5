"""A worker killed mid-chat: three workers behind nginx, CSRs and visitors chatting through it, one
worker SIGKILLed in the middle and restarted a little later. Nothing may be lost or doubled.

    .venv/bin/python bench/chaos.py [--messages 10000] [--csrs 9] [--visitors 18]
    .venv/bin/python bench/chaos.py --quick          # small sizes, short lease and grace: about a minute

The cluster is deploy/cluster.py's (PostgreSQL + Redis, 3 workers behind Debian's nginx with
deploy/nginx.conf) on a scratch PostgreSQL database, dropped at the end, whose deployment's Redis
namespace (`sb:<uid>:`) is deleted at the end (bench/common.py). Every client is a python-socketio
client through nginx (websocket, an `affinity` of its own, chosen so that the clients spread evenly
over the workers) that follows docs/protocol.md "Recovery, end to end": an outbox of unacked
messages resent with the same `client_id` after reconnecting, `sync` after the last `seq` it holds
(on reconnect and on a gap), de-duplication by `seq`. CSRs (capacity 3) and visitors write to each
other continuously. When a share of the messages is acked, the worker holding a third of the
clients is killed with SIGKILL; it is restarted on its port `--restart-after` seconds later. A few
of its clients are "closed tabs" that never come back. Afterwards (exit status 1 when any fails):

- every message a sender was acked for is stored exactly once (by `client_id`), at the acked `seq`;
- every message reaches the other side (the visitor, or the CSR holding the chat), counted by `seq`
  after the receiver's own de-duplication, and every live client holds its whole numbering;
- no CSR is ever over capacity (the database, sampled every half second and at the end);
- within 60 s of the kill no chat is held by a CSR who is gone, and no chat waits while an
  Available CSR has room;
- the closed tabs show offline within the presence bound (1.25 × PRESENCE_LEASE_SECONDS): the
  visitors leave a supervisor's Visitors list, and the CSRs are Offline on the live board once
  their disconnect grace has run too;
- every client that reconnects is exchanging messages again (an ack for a new message, and a new
  message from the other side when someone is left there: a CSR whose only chat is with a
  closed-tab visitor has nobody to hear from) — the time from the kill is reported, median and worst;
- a visitor arriving after the restart, whom nginx sends to the restarted worker, is served.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import socketio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import REDIS_BENCH, add_quick, delete_keys, scratch_database_name, sizes  # noqa: E402
from tests.support.clients import socket_token  # noqa: E402
from tests.support.server import cli, free_port  # noqa: E402

FULL = {"messages": 10_000, "csrs": 9, "visitors": 18, "closed_csrs": 1, "closed_visitors": 2,
        "interval": 0.3, "lease": 10.0, "grace": 20.0, "restart_after": 10.0}
QUICK = {"messages": 600, "csrs": 5, "visitors": 8, "closed_csrs": 1, "closed_visitors": 1,
         "interval": 0.2, "lease": 2.0, "grace": 4.0, "restart_after": 3.0}
PG_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
WORKERS = 3
DOOMED = 1  # the worker killed (0-based); the supervisor sits on worker 0
CAPACITY = 3
KILL_AT = 0.4  # share of --messages acked when the worker is killed
SETTLED_WITHIN = 60.0  # after the kill: no chat held by a gone CSR, none waiting beside room
# Beyond the presence bound: the Visitors list's own once-a-second delta, our half-second polling
# and a busy 2-core machine.
SLACK = 5.0
WAIT = 60.0  # one step of the run (a connect, a call, an assignment) on a busy machine
ORIGIN = "https://chaos.example.com"


def _cluster_module():
    spec = importlib.util.spec_from_file_location("sb_cluster", ROOT / "deploy" / "cluster.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Disconnected(Exception):
    """The socket went away before the call was answered."""


async def until(condition, what: str, timeout: float, every: float = 0.5) -> float:
    """Polls `condition` (async) until it holds; returns the monotonic time it held. Raises on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        if await condition():
            return time.monotonic()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(every)  # polling a condition, not synchronising by time


@dataclass
class Chat:
    """One side's copy of a conversation: what it holds by seq (its own numbering) and its outbox."""

    id: int
    received: dict[int, str | None] = field(default_factory=dict)  # seq → client_id (None: system)
    outbox: list[tuple[str, str]] = field(default_factory=list)  # (client_id, body), oldest first
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one flush of the outbox at a time
    syncing: bool = False
    sender: asyncio.Task | None = None

    @property
    def resume(self) -> int:
        """The highest seq held with nothing missing before it."""
        seq = 0
        while seq + 1 in self.received:
            seq += 1
        return seq


class Peer:
    """A visitor or a CSR: one python-socketio client through nginx, recovering as documented."""

    def __init__(self, run: "Run", name: str, kind: str, affinity: str, worker: int) -> None:
        self.run, self.name, self.kind, self.affinity, self.worker = run, name, kind, affinity, worker
        self.namespace = "/visitor" if kind == "visitor" else "/agent"
        self.own_sender = kind if kind == "visitor" else "agent"
        self.sio: socketio.AsyncClient | None = None
        self.ready = asyncio.Event()  # connected and recovered: senders may go on
        self.inflight: set[asyncio.Future] = set()
        self.hello: asyncio.Future | None = None  # `session` / `status` after connecting
        self.chats: dict[int, Chat] = {}
        self.acked: dict[str, tuple[int, int]] = {}  # client_id → (conversation, seq)
        self.closed_tab = False  # never reconnects
        self.leaving = False
        self.auth: dict[str, Any] = {}
        self.email = ""
        self.user_id: int | None = None
        self.visitor_id: str | None = None
        self.dropped_at: float | None = None
        self.reconnected_at: float | None = None
        self.acked_again_at: float | None = None  # first ack after reconnecting
        self.heard_again_at: float | None = None  # first live message of the other side after it
        self.duplicates = 0  # deliveries of a seq already held (harmless: de-duplicated)
        self.heard_after_kill_at: float | None = None  # first live message of the other side after the kill
        self.reconnects = 0
        self.reconnecting = False
        self.counter = 0
        self.errors: list[str] = []

    # -- the socket --------------------------------------------------------------------------
    async def connect(self) -> None:
        sio = socketio.AsyncClient(reconnection=False)
        self.sio = sio
        self.hello = asyncio.get_running_loop().create_future()
        ns = self.namespace

        @sio.on("*", namespace=ns)
        async def any_event(event: str, data: Any = None) -> None:
            if sio is self.sio:
                self.on_event(event, data)

        @sio.on("disconnect", namespace=ns)
        async def on_disconnect(*_args) -> None:
            if sio is self.sio:
                self.on_disconnect()

        headers = {"Origin": ORIGIN} if self.kind == "visitor" else {}
        await sio.connect(f"{self.run.url}/?affinity={self.affinity}", namespaces=[ns], auth=self.auth,
                          transports=["websocket"], headers=headers, wait_timeout=WAIT)
        hello = await asyncio.wait_for(self.hello, WAIT)
        if self.kind == "visitor":
            self.auth["token"] = hello["token"]
            self.visitor_id = hello["visitor_id"]
            if hello.get("conversation"):
                self.chats.setdefault(hello["conversation"]["id"], Chat(hello["conversation"]["id"]))

    def on_disconnect(self) -> None:
        self.ready.clear()
        for future in list(self.inflight):
            if not future.done():
                future.set_exception(Disconnected())
        if self.leaving or self.run.closing:
            return
        self.dropped_at = self.dropped_at or time.monotonic()
        if not self.closed_tab and not self.reconnecting:
            self.run.spawn(self.reconnect())

    async def reconnect(self) -> None:
        self.reconnecting = True
        try:
            await self._reconnect()
        finally:
            self.reconnecting = False

    async def _reconnect(self) -> None:
        delay = 0.2
        while not self.run.closing:
            try:
                await self.connect()
                await self.recover()
            except Exception as exc:  # refused while the worker is down, or dropped again: try again
                self.errors.append(f"reconnect: {type(exc).__name__}: {exc}")
                if self.sio is not None:
                    try:
                        await self.sio.disconnect()
                    except Exception:
                        pass
                await asyncio.sleep(delay)  # back-off between attempts
                delay = min(delay * 2, 2.0)
                continue
            self.reconnects += 1
            self.reconnected_at = time.monotonic()
            return

    async def call(self, event: str, data: Any, timeout: float = WAIT) -> Any:
        sio = self.sio
        if sio is None or not sio.connected:
            raise Disconnected()
        future = asyncio.get_running_loop().create_future()
        self.inflight.add(future)

        def answered(*args: Any) -> None:
            if not future.done():
                future.set_result(args[0] if args else None)

        try:
            await sio.emit(event, data, namespace=self.namespace, callback=answered)
            return await asyncio.wait_for(future, timeout)
        except socketio.exceptions.SocketIOError as exc:
            raise Disconnected() from exc
        finally:
            self.inflight.discard(future)

    # -- what arrives ------------------------------------------------------------------------
    def on_event(self, event: str, data: Any) -> None:
        if event in ("session", "status") and self.hello is not None and not self.hello.done():
            self.hello.set_result(data)
        elif event == "message":
            chat = self.chats.get(data.get("conversation_id"))
            if chat is not None:
                self.receive(chat, data, live=True)
        elif event == "conversation.assigned" and self.kind == "csr":
            self.run.spawn(self.take(data["id"]))
        elif event == "conversation" and self.kind == "visitor":
            self.chats.setdefault(data["id"], Chat(data["id"]))

    def receive(self, chat: Chat, message: dict, live: bool) -> None:
        seq = message["seq"]
        if seq in chat.received:
            self.duplicates += 1
            if chat.received[seq] != message.get("client_id"):
                self.errors.append(f"chat {chat.id}: seq {seq} held as {chat.received[seq]}, "
                                   f"received again as {message.get('client_id')}")
            return
        chat.received[seq] = message.get("client_id")
        other = message.get("sender") not in (self.own_sender, "system", "internal")
        if live and other and self.reconnected_at and self.heard_again_at is None:
            self.heard_again_at = time.monotonic()
        if live and other and self.run.killed_at and self.heard_after_kill_at is None:
            self.heard_after_kill_at = time.monotonic()
        if live and seq > chat.resume + 1:  # a gap: something was missed
            self.run.spawn(self.sync(chat))

    async def sync(self, chat: Chat) -> None:
        if chat.syncing:
            return
        chat.syncing = True
        try:
            answer = await self.call("sync", {"conversation_id": chat.id, "after_seq": chat.resume})
            if not answer.get("ok"):
                raise RuntimeError(f"sync of chat {chat.id}: {answer}")
            for message in answer["messages"]:
                self.receive(chat, message, live=False)
        except Disconnected:
            pass  # the reconnect syncs
        finally:
            chat.syncing = False

    # -- recovery and sending ----------------------------------------------------------------
    async def recover(self) -> None:
        """After (re)connecting: sync each chat after its resume point, then resend the outbox."""
        if self.kind == "csr":
            listed = await self.call("list", {})
            for conversation in listed["conversations"]:
                if conversation["id"] not in self.chats:
                    await self.take(conversation["id"])
        for chat in list(self.chats.values()):
            await self.sync(chat)
            await self.flush(chat)
        self.ready.set()

    async def take(self, conversation_id: int) -> None:
        """A CSR's new chat: `open` gives the transcript; then it writes to it like the others."""
        if conversation_id in self.chats:
            return
        chat = self.chats[conversation_id] = Chat(conversation_id)
        if self.run.sending:
            self.start_sender(chat)
        try:
            opened = await self.call("open", {"conversation_id": conversation_id})
        except Disconnected:
            return  # the reconnect syncs it from the start
        if not opened.get("ok"):
            raise RuntimeError(f"{self.name} could not open chat {conversation_id}: {opened}")
        for message in opened["messages"]:
            self.receive(chat, message, live=False)

    def start_sender(self, chat: Chat) -> None:
        if chat.sender is None:
            chat.sender = self.run.spawn(self.send_loop(chat))

    async def send_loop(self, chat: Chat) -> None:
        while self.run.sending and not self.closed_tab:
            await self.ready.wait()
            self.write(chat)
            await self.flush(chat)
            # The pace of a conversation (load generation), not a synchronisation.
            await asyncio.sleep(self.run.options.interval * random.uniform(0.5, 1.5))

    def write(self, chat: Chat) -> None:
        """A new message goes into the outbox first, as the widget and the console do."""
        self.counter += 1
        chat.outbox.append((uuid.uuid4().hex, f"{self.name} #{self.counter}"))

    async def flush(self, chat: Chat) -> None:
        """Sends the chat's outbox in order, each entry with its own client_id, until it is empty
        or the socket goes away (the entries stay for the next flush)."""
        async with chat.lock:
            while chat.outbox:
                client_id, body = chat.outbox[0]
                payload = {"client_id": client_id, "body": body}
                if self.kind == "csr":
                    payload["conversation_id"] = chat.id
                try:
                    ack = await self.call("message", payload)
                except (Disconnected, asyncio.TimeoutError):
                    return
                if not ack.get("ok"):
                    raise RuntimeError(f"{self.name}: message refused: {ack}")
                chat.outbox.pop(0)
                self.acked[client_id] = (chat.id, ack["seq"])
                chat.received.setdefault(ack["seq"], client_id)
                if self.reconnected_at and self.acked_again_at is None:
                    self.acked_again_at = time.monotonic()
                self.run.acked += 1

    async def start_chat(self) -> int:
        """A visitor's first message opens the chat."""
        client_id = uuid.uuid4().hex
        ack = await self.call("message", {"client_id": client_id, "body": f"{self.name}: hello"})
        if not ack.get("ok"):
            raise RuntimeError(f"{self.name} could not start a chat: {ack}")
        chat = self.chats.setdefault(ack["conversation_id"], Chat(ack["conversation_id"]))
        chat.received.setdefault(ack["seq"], client_id)
        self.acked[client_id] = (chat.id, ack["seq"])
        self.run.acked += 1
        return chat.id

    async def leave(self) -> None:
        self.leaving = True
        if self.sio is not None and self.sio.connected:
            await self.sio.disconnect()


class Run:
    """The scenario on one cluster; `violations` lists every invariant that broke."""

    def __init__(self, options: argparse.Namespace, cluster, database_url: str) -> None:
        self.options, self.cluster, self.database_url = options, cluster, database_url
        self.url = cluster.url
        self.password = "chaos-" + uuid.uuid4().hex[:12]
        self.tasks: set[asyncio.Task] = set()
        self.sending = False
        self.closing = False
        self.acked = 0
        self.killed_at: float | None = None
        self.violations: list[str] = []
        self.figures: dict[str, Any] = {}
        self.capacity_samples = 0
        self.over_capacity: list[str] = []
        self.peers: list[Peer] = []
        self.reconnecting: list[Peer] = []  # the killed worker's clients that come back
        self.db = None

    def spawn(self, coro) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None and not self.closing:
            exc = task.exception()
            self.violations.append(f"a client task failed: {type(exc).__name__}: {exc}")

    def fail(self, what: str) -> None:
        self.violations.append(what)

    # -- set-up ------------------------------------------------------------------------------
    async def affinities(self, per_worker: int) -> list[list[str]]:
        """`per_worker` affinity values for each worker: which worker nginx sends an affinity to is
        read from the `worker` label of /metrics fetched through nginx with it."""
        pids = {str(proc.pid): i for i, proc in enumerate(self.cluster.workers)}
        found: list[list[str]] = [[] for _ in pids]
        for _ in range(per_worker * WORKERS * 20):
            if all(len(f) >= per_worker for f in found):
                return found
            affinity = uuid.uuid4().hex[:16]
            worker = await self.worker_of(affinity)
            if len(found[pids[worker]]) < per_worker:
                found[pids[worker]].append(affinity)
        raise RuntimeError(f"nginx did not spread affinities over the workers: {[len(f) for f in found]}")

    async def worker_of(self, affinity: str) -> str:
        """The name (process id) of the worker nginx sends requests with this affinity to."""
        headers = {"Authorization": f"Bearer {self.cluster.env['METRICS_TOKEN']}"}
        async with httpx.AsyncClient(base_url=self.url, timeout=WAIT) as http:
            response = await http.get("/metrics", params={"affinity": affinity}, headers=headers)
        response.raise_for_status()
        return re.search(r'worker="([^"]+)"', response.text).group(1)

    async def setup(self) -> None:
        import asyncpg

        o = self.options
        # A pool: the capacity sampler, the checks after the kill and the run query at once.
        self.db = await asyncpg.create_pool(self.database_url.replace("postgres://", "postgresql://", 1),
                                            min_size=1, max_size=4)
        env = self.cluster.env
        site = json.loads(await asyncio.to_thread(
            cli, env, "create-site", "--name", "Chaos shop", "--origin", ORIGIN, "--json"))
        self.site_key = site["key"]
        emails = [f"csr{i}@chaos.example.com" for i in range(o.csrs)] + ["boss@chaos.example.com"]
        for i, email in enumerate(emails):
            role = "supervisor" if email.startswith("boss") else "agent"
            user = json.loads(await asyncio.to_thread(
                cli, env, "create-user", "--email", email, "--password", self.password, "--role", role,
                "--max-chats", str(CAPACITY), "--name", email.split("@")[0], "--json"))
            if role == "agent":
                self.peers.append(Peer(self, email.split("@")[0], "csr", "", 0))
                self.peers[-1].user_id = user["id"]
                self.peers[-1].email = email
        csrs = list(self.peers)
        visitors = [Peer(self, f"visitor{i}", "visitor", "", 0) for i in range(o.visitors)]
        self.peers += visitors

        # Placement: round robin over the workers, the closed tabs on the doomed one.
        per_worker = -(-len(csrs) // WORKERS) + -(-len(visitors) // WORKERS) + 2  # + the boss, a late visitor
        slots = await self.affinities(per_worker)
        doomed_csrs = [p for i, p in enumerate(csrs) if i % WORKERS == DOOMED]
        doomed_visitors = [p for i, p in enumerate(visitors) if i % WORKERS == DOOMED]
        if len(doomed_csrs) < o.closed_csrs or len(doomed_visitors) < o.closed_visitors:
            raise SystemExit("too few clients for the closed tabs asked for")
        for p in doomed_csrs[:o.closed_csrs] + doomed_visitors[:o.closed_visitors]:
            p.closed_tab = True
        for i, p in enumerate(csrs):
            p.worker = i % WORKERS
        for i, p in enumerate(visitors):
            p.worker = i % WORKERS
        for p in self.peers:
            p.affinity = slots[p.worker].pop()
        for p in visitors:
            p.auth = {"site": self.site_key, "token": None}
        self.boss = Peer(self, "boss", "csr", slots[0].pop(), 0)
        self.late_affinity = slots[DOOMED].pop()
        self.boss.email = "boss@chaos.example.com"

        # Everyone connects; the closed-tab CSRs are Available first and get the first chats, so
        # that the CSRs who will be gone hold chats when their worker dies.
        async def sign_in(peer: Peer) -> None:
            peer.auth = {"token": await socket_token(self.url, peer.email, self.password)}
            await peer.connect()
            peer.ready.set()

        await asyncio.gather(*(sign_in(p) for p in csrs + [self.boss]))
        await asyncio.gather(*(p.connect() for p in visitors))
        for p in visitors:
            p.ready.set()
        closed_csrs = [p for p in csrs if p.closed_tab]
        for p in closed_csrs:
            await self.status(p, "available")
        # They are filled (so no later chat reaches them), by visitors who stay connected.
        first = [p for p in visitors if p.worker != DOOMED][: CAPACITY * len(closed_csrs)]
        if len(first) < CAPACITY * len(closed_csrs):
            raise SystemExit("too few visitors to fill the closed-tab CSRs")
        rest = [p for p in visitors if p not in first]
        await self.start_chats(first)
        await until(lambda: self.all_held(first), "the first chats to reach the closed-tab CSRs", WAIT)
        for p in csrs:
            if not p.closed_tab:
                await self.status(p, "available")
        await self.start_chats(rest)
        await until(lambda: self.all_held(visitors), "every chat to reach a CSR", WAIT)
        self.check_capacity(await self.loads())

    async def status(self, peer: Peer, status: str) -> None:
        answer = await peer.call("set_status", {"status": status})
        if not answer.get("ok"):
            raise RuntimeError(f"{peer.name} could not go {status}: {answer}")

    async def start_chats(self, visitors: list[Peer]) -> None:
        await asyncio.gather(*(p.start_chat() for p in visitors))

    async def all_held(self, visitors: list[Peer]) -> bool:
        """Every one of these visitors' chats is assigned, and its CSR's client has it open."""
        ids = [cid for p in visitors for cid in p.chats]
        rows = await self.db.fetch("SELECT id, agent_id FROM conversation WHERE id = ANY($1::int[]) "
                                   "AND status = 'assigned'", ids)
        by_user = {p.user_id: p for p in self.peers if p.kind == "csr"}
        return len(rows) == len(ids) and all(
            r["agent_id"] in by_user and r["id"] in by_user[r["agent_id"]].chats for r in rows)

    # -- during the run ----------------------------------------------------------------------
    async def loads(self) -> list:
        return await self.db.fetch(
            "SELECT u.id, u.display_name, u.status, u.max_chats, count(c.id) AS load FROM app_user u "
            "LEFT JOIN conversation c ON c.agent_id = u.id AND c.status = 'assigned' "
            "WHERE u.role = 'agent' GROUP BY u.id")

    def check_capacity(self, rows) -> None:
        self.capacity_samples += 1
        for r in rows:
            if r["load"] > (r["max_chats"] or CAPACITY):
                self.over_capacity.append(f"{r['display_name']} held {r['load']} chats (capacity {r['max_chats']})")

    async def sample_capacity(self) -> None:
        while not self.closing:
            self.check_capacity(await self.loads())
            await asyncio.sleep(0.5)  # the sampling period

    async def settled(self) -> bool:
        """No chat held by a CSR who is gone; no chat waiting while an Available CSR has room."""
        gone = [p.user_id for p in self.peers if p.kind == "csr" and p.closed_tab]
        held = await self.db.fetchval("SELECT count(*) FROM conversation WHERE status = 'assigned' "
                                      "AND agent_id = ANY($1::int[])", gone)
        waiting = await self.db.fetchval("SELECT count(*) FROM conversation WHERE status = 'waiting'")
        room = [r for r in await self.loads() if r["status"] == "available" and r["load"] < (r["max_chats"] or 3)]
        return held == 0 and not (waiting and room)

    async def boss_call(self, event: str) -> dict:
        answer = await self.boss.call(event, {})
        if not answer.get("ok"):
            raise RuntimeError(f"{event}: {answer}")
        return answer

    async def listed_visitors(self) -> set[str]:
        return {v["id"] for v in (await self.boss_call("visitors"))["visitors"]}

    async def board_status(self) -> dict[int, str]:
        return {a["id"]: a["status"] for a in (await self.boss_call("board"))["agents"]}

    async def after_kill(self, killed_at: float) -> None:
        """The checks bounded from the kill, each polled until it holds (or its bound passes)."""
        o = self.options
        gone_visitors = {p.visitor_id for p in self.peers if p.kind == "visitor" and p.closed_tab}
        gone_csrs = [p.user_id for p in self.peers if p.kind == "csr" and p.closed_tab]
        presence_bound = 1.25 * o.lease
        checks = {  # name: (condition, bound, slack)
            "closed-tab visitors off the Visitors list": (
                lambda: self._none_listed(gone_visitors), presence_bound, SLACK),
            "closed-tab CSRs Offline on the board": (
                lambda: self._all_offline(gone_csrs), presence_bound + o.grace, SLACK),
            "no chat held by a gone CSR, none waiting beside room": (self.settled, SETTLED_WITHIN, 0.0),
        }

        async def one(name: str, condition, bound: float, slack: float) -> None:
            try:
                at = await until(condition, name, bound + slack - (time.monotonic() - killed_at))
            except AssertionError:
                self.fail(f"{name}: not within {bound + slack:.1f} s of the kill")
                return
            self.figures[name] = (at - killed_at, bound, slack)

        await asyncio.gather(*(one(name, *check) for name, check in checks.items()))

    async def _none_listed(self, ids: set[str]) -> bool:
        return not (ids & await self.listed_visitors())

    async def _all_offline(self, ids: list[int]) -> bool:
        status = await self.board_status()
        return all(status.get(i) == "offline" for i in ids)

    async def exchange(self) -> None:
        o = self.options
        # The closed tabs are where the Visitors list and the board show them before the kill.
        gone_visitors = {p.visitor_id for p in self.peers if p.kind == "visitor" and p.closed_tab}
        await until(lambda: self._all_listed(gone_visitors), "the closed-tab visitors on the Visitors list", WAIT)
        self.sending = True
        for p in self.peers:
            for chat in p.chats.values():
                p.start_sender(chat)
        sampler = self.spawn(self.sample_capacity())
        await until(self._half_way, f"{KILL_AT:.0%} of the messages", 20 * WAIT, every=0.1)

        doomed = self.cluster.workers[DOOMED]
        doomed.kill()  # SIGKILL: no shutdown, no disconnect handler, nothing decremented
        killed_at = self.killed_at = time.monotonic()
        await asyncio.to_thread(doomed.wait, 30)
        self.figures["acked at the kill"] = self.acked
        checks = self.spawn(self.after_kill(killed_at))
        await asyncio.sleep(o.restart_after)  # the operator's pause before the restart, on purpose
        await asyncio.to_thread(self.cluster.restart_worker, DOOMED, WAIT)
        self.figures["restarted after"] = time.monotonic() - killed_at

        reconnecting = self.reconnecting = [p for p in self.peers if p.worker == DOOMED and not p.closed_tab]
        try:
            await until(lambda: self._recovered(reconnecting), "every reconnecting client exchanging again",
                        SETTLED_WITHIN, every=0.2)
        except AssertionError as exc:
            behind = [self._recovery_state(p) for p in reconnecting if not await self._recovered([p])]
            self.fail(f"{exc}: {'; '.join(behind)}")
        for p in reconnecting:
            if p.dropped_at is None:
                self.fail(f"{p.name} was on the killed worker but never lost its socket")
        # Back when it sends again and, when someone is left to write to it, hears from them again.
        self.figures["recovery"] = [max(p.acked_again_at, p.heard_again_at or p.acked_again_at) - killed_at
                                    for p in reconnecting
                                    if p.acked_again_at and (p.heard_again_at or not self._has_live_partner(p))]
        gone = {p.user_id for p in self.peers if p.kind == "csr" and p.closed_tab}
        taken_over = [p for p in self.peers if p.kind == "visitor" and not p.closed_tab
                      and any(p.chats.keys() & c.chats.keys() for c in self.peers if c.user_id in gone)]
        try:
            await until(lambda: self._heard(taken_over), "the gone CSRs' visitors hearing from another CSR",
                        SETTLED_WITHIN + o.grace, every=0.2)
        except AssertionError as exc:
            self.fail(str(exc))
        self.figures["taken over"] = [p.heard_after_kill_at - killed_at for p in taken_over if p.heard_after_kill_at]
        await checks
        await self.late_visitor()
        await until(self._all_sent, f"{o.messages:,} messages acked", 20 * WAIT, every=0.2)
        self.sending = False
        # Every live client's senders stop, its outbox drains (each entry acked), and a last sync
        # brings what a live event may still have been carrying (a later message would show the gap).
        live = [p for p in self.peers if not p.closed_tab]
        senders = [chat.sender for p in live for chat in p.chats.values() if chat.sender is not None]
        await asyncio.wait_for(asyncio.gather(*senders), WAIT)
        await until(lambda: self._drained(live), "every outbox acked", WAIT)
        for p in live:
            for chat in p.chats.values():
                await p.sync(chat)
        sampler.cancel()
        self.check_capacity(await self.loads())
        if not await self.settled():
            self.fail("at the end a chat is held by a gone CSR, or waits beside room")

    async def late_visitor(self) -> None:
        """A visitor arriving once nginx sends to the restarted worker again: served like the others."""
        pid = str(self.cluster.workers[DOOMED].pid)

        async def restarted_reached() -> bool:
            return await self.worker_of(self.late_affinity) == pid

        await until(restarted_reached, "nginx sending to the restarted worker again", WAIT)
        late = Peer(self, "late visitor", "visitor", self.late_affinity, DOOMED)
        late.auth = {"site": self.site_key, "token": None}
        await late.connect()
        late.ready.set()
        self.peers.append(late)
        for conversation_id in [await late.start_chat()]:
            late.start_sender(late.chats[conversation_id])
        await until(lambda: self.all_held([late]), "the late visitor's chat to reach a CSR", WAIT)
        self.figures["late visitor"] = True

    async def _all_listed(self, ids: set[str]) -> bool:
        return ids <= await self.listed_visitors()

    async def _half_way(self) -> bool:
        return self.acked >= KILL_AT * self.options.messages

    async def _all_sent(self) -> bool:
        return self.acked >= self.options.messages

    async def _recovered(self, peers: list[Peer]) -> bool:
        return all(p.acked_again_at and (p.heard_again_at or not self._has_live_partner(p)) for p in peers)

    def _has_live_partner(self, p: Peer) -> bool:
        """Whether someone who is still there writes in one of `p`'s chats: a CSR whose only chat
        is with a closed-tab visitor writes on but has nobody left to hear from."""
        return any(q is not p and not q.closed_tab and q.chats.keys() & p.chats.keys() for q in self.peers)

    def _recovery_state(self, p: Peer) -> str:
        """Where a reconnecting client stands (for the report when it is not exchanging again)."""
        at = (lambda t: "no" if t is None else f"{t - self.killed_at:+.1f} s")
        chats = ", ".join(f"{c.id} (held to seq {c.resume}, outbox {len(c.outbox)}, "
                          f"sender {'running' if c.sender and not c.sender.done() else 'stopped'})"
                          for c in p.chats.values()) or "none"
        return (f"{p.name}: reconnected {at(p.reconnected_at)} ({p.reconnects}x), acked again {at(p.acked_again_at)}, "
                f"heard again {at(p.heard_again_at)}, ready {p.ready.is_set()}, chats {chats}, "
                f"errors {p.errors[-3:]}")

    async def _heard(self, peers: list[Peer]) -> bool:
        return all(p.heard_after_kill_at for p in peers)

    async def _drained(self, peers: list[Peer]) -> bool:
        return not any(chat.outbox for p in peers for chat in p.chats.values())

    # -- afterwards --------------------------------------------------------------------------
    async def verify(self) -> None:
        """Acked = stored exactly once at its seq; stored = received by the other side, by seq."""
        acked = {cid: (p, conv, seq) for p in self.peers for cid, (conv, seq) in p.acked.items()}
        self.figures["messages"] = len(acked)
        rows = await self.db.fetch("SELECT conversation_id, seq, visitor_seq, client_id, sender_kind FROM message "
                                   "WHERE client_id = ANY($1::text[])", list(acked))
        stored: dict[str, list] = {}
        for r in rows:
            stored.setdefault(r["client_id"], []).append(r)
        lost = [cid for cid in acked if cid not in stored]
        doubled = [cid for cid, found in stored.items() if len(found) > 1]
        misplaced = []
        for cid, (peer, conv, seq) in acked.items():
            for r in stored.get(cid, []):
                at = r["visitor_seq"] if peer.kind == "visitor" else r["seq"]
                if (r["conversation_id"], at) != (conv, seq):
                    misplaced.append(cid)
        chats = {r["id"]: r for r in await self.db.fetch(
            "SELECT id, agent_id, status, last_seq, visitor_last_seq FROM conversation")}
        csr_of = {p.user_id: p for p in self.peers if p.kind == "csr"}
        undelivered = []
        delivered = 0
        incomplete = []
        for p in self.peers:
            if p.closed_tab:
                continue
            for chat in p.chats.values():
                row = chats[chat.id]
                if p.kind == "csr" and row["agent_id"] != p.user_id:
                    continue  # a chat this CSR no longer holds: the holder's copy is the one checked
                last = row["visitor_last_seq"] if p.kind == "visitor" else row["last_seq"]
                if set(chat.received) != set(range(1, last + 1)):
                    incomplete.append(f"{p.name} chat {chat.id}: holds {len(chat.received)} of 1..{last}")
        for cid, found in stored.items():
            sender = acked[cid][0]
            for r in found:
                if sender.kind == "visitor":
                    receiver, at = csr_of.get(chats[r["conversation_id"]]["agent_id"]), r["seq"]
                else:
                    receiver = next((p for p in self.peers if p.kind == "visitor" and r["conversation_id"] in p.chats),
                                    None)
                    at = r["visitor_seq"]
                if receiver is None or receiver.closed_tab:
                    continue  # the other side is a closed tab: nobody to deliver to
                chat = receiver.chats.get(r["conversation_id"])
                if chat is None or chat.received.get(at) != cid:
                    undelivered.append(cid)
                else:
                    delivered += 1
        for p in self.peers:
            self.violations += [f"{p.name}: {e}" for e in p.errors if not e.startswith("reconnect:")]
        self.figures.update(lost=len(lost) + len(undelivered), duplicated=len(doubled) + len(misplaced),
                            delivered=delivered,
                            duplicate_deliveries=sum(p.duplicates for p in self.peers),
                            reconnects=sum(p.reconnects for p in self.peers))
        if lost:
            self.fail(f"{len(lost)} acked messages are not stored, e.g. {lost[:3]}")
        if doubled:
            self.fail(f"{len(doubled)} acked messages are stored more than once, e.g. {doubled[:3]}")
        if misplaced:
            self.fail(f"{len(misplaced)} acked messages are stored at another seq than acked, e.g. {misplaced[:3]}")
        if undelivered:
            self.fail(f"{len(undelivered)} messages never reached the other side, e.g. {undelivered[:3]}")
        if incomplete:
            self.fail(f"clients missing part of their numbering: {incomplete[:5]}")
        if self.over_capacity:
            self.fail(f"CSRs over capacity ({len(self.over_capacity)} samples): {self.over_capacity[:3]}")
        if delivered < len(acked) // 2:  # all but the closed tabs' share: the check checked something
            self.fail(f"only {delivered} of {len(acked)} messages were checked at their receiver")
        if len(acked) < self.options.messages:
            self.fail(f"only {len(acked)} messages exchanged, {self.options.messages} asked for")

    async def sign_off(self) -> None:
        """The run's CSRs close the chats they hold and go Offline; then everyone disconnects."""
        for p in self.peers:
            if p.kind != "csr" or p.closed_tab:
                continue
            try:
                listed = await p.call("list", {})
                for conversation in listed.get("conversations", []):
                    await p.call("close", {"conversation_id": conversation["id"]})
                await p.call("set_status", {"status": "offline"})
            except Exception as exc:
                self.fail(f"{p.name} could not sign off: {type(exc).__name__}: {exc}")

    async def close(self) -> None:
        self.closing = True
        for p in [*self.peers, getattr(self, "boss", None)]:
            if p is not None:
                try:
                    await p.leave()
                except Exception:
                    pass
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.db is not None:
            try:
                await asyncio.wait_for(self.db.close(), 10)
            except asyncio.TimeoutError:
                self.db.terminate()

    def report(self) -> str:
        o, f = self.options, self.figures
        recovery = f.get("recovery") or []
        lines = [
            f"\nWorker kill: {WORKERS} workers behind nginx, {o.csrs} CSRs (capacity {CAPACITY}) and {o.visitors} "
            f"visitors; worker {DOOMED + 1} SIGKILLed after {f.get('acked at the kill', 0):,} acked messages, "
            f"restarted {f.get('restarted after', 0):.1f} s later; {o.closed_csrs} CSR(s) and {o.closed_visitors} "
            f"visitor(s) of it never come back; PRESENCE_LEASE_SECONDS {o.lease:g}, "
            f"AGENT_DISCONNECT_GRACE_SECONDS {o.grace:g}" + ("; QUICK mode, not for the record" if o.quick else "")
            + "\n",
            "| messages exchanged | lost | duplicated |\n|---|---|---|",
            f"| messages exchanged | {f.get('messages', 0):,} | lost {f.get('lost', '?')} | "
            f"duplicated {f.get('duplicated', '?')} |",
            "",
            "| after the kill | seconds | bound |\n|---|---|---|",
        ]
        for name in ("closed-tab visitors off the Visitors list", "closed-tab CSRs Offline on the board",
                     "no chat held by a gone CSR, none waiting beside room"):
            if name in f:
                at, bound, slack = f[name]
                lines.append(f"| {name} | {at:.1f} | {bound:.1f}" + (f" (+{slack:g} slack) |" if slack else " |"))
            else:
                lines.append(f"| {name} | not reached | |")
        if recovery:
            lines.append(f"| reconnecting clients exchanging again ({len(recovery)}), median | "
                         f"{statistics.median(recovery):.1f} | |")
            lines.append(f"| reconnecting clients exchanging again, worst | {max(recovery):.1f} | "
                         f"{SETTLED_WITHIN:g} |")
        taken = f.get("taken over") or []
        if taken:
            lines.append(f"| the gone CSRs' {len(taken)} visitors hearing from another CSR, worst | {max(taken):.1f} | "
                         f"{1.25 * o.lease + o.grace:.1f} + routing |")
        lines += [
            "",
            ("A visitor arriving after the restart, on the restarted worker, was served. "
             if f.get("late visitor") else "") +
            f"Delivered to a live receiver and checked there by seq: {f.get('delivered', 0):,}. "
            f"CSR capacity sampled {self.capacity_samples} times, over capacity: {len(self.over_capacity)}; "
            f"deliveries de-duplicated by seq: {f.get('duplicate_deliveries', 0):,}; "
            f"reconnects: {f.get('reconnects', 0)}.",
        ]
        return "\n".join(lines)


def cluster_env(options: argparse.Namespace, metrics_token: str) -> dict[str, str]:
    return {
        "SECRET_KEY": "chaos-" + uuid.uuid4().hex, "LOG_LEVEL": "warning", "METRICS_TOKEN": metrics_token,
        "PRESENCE_LEASE_SECONDS": str(options.lease), "AGENT_DISCONNECT_GRACE_SECONDS": str(options.grace),
        "VISITOR_ABANDON_GRACE_SECONDS": str(options.grace),
        "MESSAGE_RATE_LIMIT": "100000/1",  # the run measures recovery, not the limiter
        "NEW_VISITORS_PER_ADDRESS": "1000000/60", "NEW_VISITORS_PER_SITE": "1000000/60",
        "SOCKET_TOKEN_SECONDS": "3600",  # a CSR reconnects with the token it signed in with
    }


async def run(options: argparse.Namespace, database_url: str, redis_url: str) -> Run:
    """The whole scenario on a cluster of its own over `database_url` (empty) and `redis_url`.
    Returns the finished run: `violations` is empty when every invariant held."""
    module = _cluster_module()
    data_dir = tempfile.mkdtemp(prefix="sb-chaos-")
    args = argparse.Namespace(workers=WORKERS, worker_ports=None, port=free_port(), database_url=database_url,
                              database=None, postgres_admin_url=None, redis_url=redis_url, data_dir=data_dir,
                              demo=False)
    cluster = module.Cluster(args)
    cluster.env.update(cluster_env(options, uuid.uuid4().hex))
    scenario = None
    try:
        await asyncio.to_thread(cluster.prepare)
        await asyncio.to_thread(cluster.start)
        scenario = Run(options, cluster, database_url)
        try:
            await scenario.setup()
            await scenario.exchange()
            await scenario.verify()
            await scenario.sign_off()
        except BaseException as exc:
            scenario.fail(f"the run stopped: {type(exc).__name__}: {exc}")
            logs = cluster.prefix / "logs"
            for log in sorted(logs.glob("worker-*.log")):
                print(f"--- {log.name} (last lines) ---\n{log.read_text()[-3000:]}", file=sys.stderr)
            if not isinstance(exc, Exception):
                raise
        finally:
            await scenario.close()
        return scenario
    finally:
        await asyncio.to_thread(cluster.stop)
        import shutil

        shutil.rmtree(data_dir, ignore_errors=True)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--messages", type=int, help=f"messages to exchange in all (default {FULL['messages']:,})")
    p.add_argument("--csrs", type=int, help=f"CSRs, capacity {CAPACITY} each (default {FULL['csrs']})")
    p.add_argument("--visitors", type=int, help=f"visitors, one chat each (default {FULL['visitors']})")
    p.add_argument("--closed-csrs", type=int, help="CSRs of the killed worker who never come back")
    p.add_argument("--closed-visitors", type=int, help="visitors of the killed worker who never come back")
    p.add_argument("--interval", type=float, help="seconds between a client's messages in a chat (on average)")
    p.add_argument("--lease", type=float, help=f"PRESENCE_LEASE_SECONDS (default {FULL['lease']:g})")
    p.add_argument("--grace", type=float, help=f"AGENT_DISCONNECT_GRACE_SECONDS (default {FULL['grace']:g})")
    p.add_argument("--restart-after", type=float, help="seconds between the kill and the restart")
    p.add_argument("--redis", default=REDIS_BENCH, help="the Redis database (only this run's own keys are touched)")
    add_quick(p)
    return p


def check_sizes(options: argparse.Namespace) -> None:
    if (options.csrs - options.closed_csrs) * CAPACITY < options.visitors + 1:
        raise SystemExit("the CSRs who stay need room for every chat, and one more for the late visitor")


async def main() -> int:
    import asyncpg

    options = sizes(parser().parse_args(), FULL, QUICK)
    check_sizes(options)
    name = scratch_database_name("chaos")
    conn = await asyncpg.connect(PG_ADMIN)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    database_url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgres://", 1) + f"/{name}"
    try:
        scenario = await run(options, database_url, options.redis)
        print(scenario.report())
        for violation in scenario.violations:
            print(f"VIOLATION: {violation}", file=sys.stderr)
        return 1 if scenario.violations else 0
    finally:
        try:  # the deployment's Redis namespace (its identity is in the database the run migrated)
            namespace = json.loads(await asyncio.to_thread(
                cli, {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": options.redis,
                      "PYTHONPATH": str(ROOT)}, "deployment-id", "--json"))["redis_prefix"]
        except RuntimeError as exc:
            print(f"no Redis namespace to delete: {exc}", file=sys.stderr)
        else:
            delete_keys(options.redis, namespace)  # this deployment's keys, nothing else
        conn = await asyncpg.connect(PG_ADMIN)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
