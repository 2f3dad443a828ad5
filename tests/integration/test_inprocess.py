"""Two servers of two deployments in this test process and its one event loop: each keeps its own
runtime (routing store, live visitors, trail buffers, socket rooms) and its own database
connections, through every task its requests, sockets and timers spawn.

Nothing process-wide is installed (no runtime fallback, no tortoise global context), so a task that
lost its server's context would fail or land on the other server, and the assertions below would
see it."""

from __future__ import annotations

import asyncio
import contextvars
import socket
from datetime import timedelta

import httpx
import pytest
import socketio
import uvicorn
from tortoise.context import get_current_context

from app import runtime as runtime_mod
from app.clock import utcnow
from app.models import Conversation, Message, PageView, Site, User, Visitor
from app.services.tracking import TrackingBuffers
from app.tracking.live import LiveRows
from tests.support import clients
from tests.support.clients import new_id
from tests.support.inprocess import (
    InProcessServer,
    UvicornServer,
    add_user,
    database,
    prepare,
    serve,
)
from tests.support.server import Deployment

ENV = {"LIVE_VISITOR_GONE_SECONDS": "0.5"}


def nothing_process_wide() -> None:
    """The test's own context holds no runtime and no database, and no fallback would mask a lost one."""
    assert runtime_mod.installed() is None
    assert get_current_context() is None


@pytest.fixture
async def two_deployments():
    one, two = await prepare(extra_env=ENV), await prepare(extra_env=ENV)
    yield one, two
    one.stop()
    two.stop()


async def seed_offset(deployment: Deployment) -> None:
    """A closed chat and a spare user, written with the models: the second deployment's next ids are
    not the first one's, so a runtime or database crossing over would show in the numbers."""
    async with database(deployment):
        site = await Site.get(key=deployment.site_key)
        then = utcnow() - timedelta(days=1)
        visitor = await Visitor.create(id=f"v_seed_{new_id()[:8]}", site=site, first_seen=then, last_seen=then)
        await Conversation.create(site=site, visitor=visitor, status="closed", requested_at=then, closed_at=then)


async def chat(server: InProcessServer, deployment: Deployment, email: str, words: str) -> dict:
    """A CSR watching the Visitors view and a visitor who browses and asks; the CSR answers."""
    agent = await clients.agent(server.url, email, deployment.password)
    visitor = await clients.visitor(server.url, deployment.site_key, deployment.origin)
    vid = visitor.rec.of("session")[0]["visitor_id"]
    assert (await agent.call("set_status", {"status": "available"}))["status"] == "available"
    assert (await agent.call("visitors", {}))["ok"]  # watching the Visitors view from now on
    assert (await visitor.call("page_view", {"url": f"https://shop.example.com/{words}", "title": words}))["ok"]
    ack = await visitor.call("message", {"client_id": new_id(), "body": f"Question about {words}"})
    assert ack["ok"]
    cid = ack["conversation_id"]
    assigned = await agent.rec.wait_for("conversation.assigned", lambda c: c["id"] == cid)
    assert assigned["visitor_id"] == vid
    reply = await agent.call("message", {"conversation_id": cid, "client_id": new_id(), "body": f"Answer: {words}"})
    assert reply["ok"]
    got = await visitor.rec.wait_for("message", lambda m: m["sender"] == "agent")
    assert got["body"] == f"Answer: {words}"
    # The Visitors view of this server shows this visitor (a delta or the snapshot).
    await agent.rec.wait_for("visitors.delta", lambda d: any(r["id"] == vid for r in d.get("upsert", [])))
    return {"agent": agent, "visitor": visitor, "visitor_id": vid, "conversation_id": cid}


async def test_two_servers_in_one_process_keep_their_deployments_apart(two_deployments):
    one, two = two_deployments
    nothing_process_wide()
    await seed_offset(two)
    nothing_process_wide()  # the database helper's context ended with its block
    ann = await add_user(one, "ann@one.example", "agent", "Ann One")
    await add_user(two, "spare@two.example", "agent", "Spare Two")
    bob = await add_user(two, "bob@two.example", "agent", "Bob Two")
    assert ann["id"] != bob["id"]

    async with serve(one) as a, serve(two) as b:
        nothing_process_wide()
        assert a.runtime is not b.runtime and a.runtime.sio is not b.runtime.sio
        assert a.runtime.database is not b.runtime.database
        assert a.runtime.deployment != b.runtime.deployment  # each read its own database's identity

        # Both chats at once, each on its own server.
        at_a, at_b = await asyncio.gather(chat(a, one, "ann@one.example", "tents"),
                                          chat(b, two, "bob@two.example", "kayaks"))
        va, vb = at_a["visitor_id"], at_b["visitor_id"]
        ca, cb = at_a["conversation_id"], at_b["conversation_id"]
        assert ca != cb  # the seeded chat moved the second deployment's numbering on

        # The routing store: each holds its own chat for its own CSR, and nothing else.
        assert a.runtime.routing_store.holders == {ca: ann["id"]}
        assert b.runtime.routing_store.holders == {cb: bob["id"]}
        # The live Visitors list: each server's rows and snapshot have its own visitor only.
        assert set(a.runtime.state(LiveRows).rows) == {va}
        assert set(b.runtime.state(LiveRows).rows) == {vb}
        for server, agent, mine, theirs in ((a, at_a["agent"], va, vb), (b, at_b["agent"], vb, va)):
            listed = {r["id"] for r in (await agent.call("visitors", {}))["visitors"]}
            assert mine in listed and theirs not in listed
            # What each CSR's console heard never named the other server's visitor or chat.
            assert theirs not in repr(agent.rec.events)
        # The trail buffers: each knows the visit of its own visitor only.
        assert set(a.runtime.state(TrackingBuffers).visits) == {va}
        assert set(b.runtime.state(TrackingBuffers).visits) == {vb}
        # The socket rooms: each socket.io server holds its own visitor's room.
        assert f"visitor:{va}" in a.runtime.sio.manager.rooms["/visitor"]
        assert f"visitor:{vb}" not in a.runtime.sio.manager.rooms["/visitor"]
        assert f"visitor:{vb}" in b.runtime.sio.manager.rooms["/visitor"]

        # A timer spawned by a socket's disconnect (the live row's grace, `loop.call_later`) runs
        # with its own server's runtime: the first visitor's row goes, the second one's stays.
        await at_a["visitor"].disconnect()
        await at_a["agent"].rec.wait_for("visitors.delta", lambda d: va in d.get("remove", []))
        assert a.runtime.state(LiveRows).rows == {} and set(b.runtime.state(LiveRows).rows) == {vb}
        assert at_b["visitor"].connected

        for side in (at_a, at_b):
            await side["agent"].call("set_status", {"status": "offline"})
            await side["visitor"].disconnect()
            await side["agent"].disconnect()
        nothing_process_wide()

    # Each database has only its own rows (read in this process with the models).
    async with database(one):
        assert set(await Visitor.all().values_list("id", flat=True)) == {va}
        assert await Conversation.all().values_list("id", flat=True) == [ca]
        messages = await Message.all().values_list("conversation_id", "body")
        assert {c for c, _ in messages} == {ca}  # the CSR's and the visitor's, and the notices
        assert {"Question about tents", "Answer: tents"} <= {body for _, body in messages}
        assert await PageView.filter(visitor_id=va).values_list("url", flat=True) == ["https://shop.example.com/tents"]
        assert await User.filter(email="bob@two.example").count() == 0
    async with database(two):
        visitors = set(await Visitor.all().values_list("id", flat=True))
        assert vb in visitors and va not in visitors and len(visitors) == 2  # with the seeded one
        assert await Conversation.filter(visitor_id=vb).values_list("id", flat=True) == [cb]
        messages = await Message.all().values_list("conversation_id", "body")
        assert {c for c, _ in messages} == {cb}
        assert {"Question about kayaks", "Answer: kayaks"} <= {body for _, body in messages}
        assert await User.filter(email="ann@one.example").count() == 0
    nothing_process_wide()


async def test_uvicorn_runs_requests_outside_the_lifespans_context():
    """Why `ServerApp` sets the server's runtime on every call: uvicorn runs the lifespan in a task of
    its own, so what the lifespan sets in its context no request sees; what the ASGI app sets when
    it is called, the request sees, and so do the socket.io handlers that call spawns."""
    var: contextvars.ContextVar[str] = contextvars.ContextVar("which", default="unset")
    seen: dict[str, str] = {}
    sio = socketio.AsyncServer(async_mode="asgi")

    @sio.on("which")
    async def which(sid, data):
        return var.get()

    async def web(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    var.set("set in the lifespan")
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        seen[scope["path"]] = var.get()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    inner = socketio.ASGIApp(sio, other_asgi_app=web)

    async def per_call(scope, receive, send):
        token = var.set("set per call") if scope.get("path", "").startswith(("/per-call", "/socket.io")) else None
        try:
            await inner(scope, receive, send)
        finally:
            if token is not None:
                var.reset(token)

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = UvicornServer(uvicorn.Config(per_call, lifespan="on", log_config=None, access_log=False))
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]), context=contextvars.Context())
    try:
        while not server.started:
            assert not task.done()
            await asyncio.sleep(0.01)  # polling for readiness
        async with httpx.AsyncClient(base_url=url) as http:
            await http.get("/plain")
            await http.get("/per-call")
        client = socketio.AsyncClient()
        await client.connect(url, transports=["websocket"])
        try:
            in_handler = await client.call("which", {})
        finally:
            await client.disconnect()
    finally:
        server.should_exit = True
        await task
        sock.close()
    assert seen == {"/plain": "unset", "/per-call": "set per call"}
    assert in_handler == "set per call"
