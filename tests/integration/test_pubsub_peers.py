"""A worker alone on the Redis pub/sub channel publishes nothing, and loses nothing when a second
worker joins (app/realtime/rooms.py): what python-socketio's Redis manager publishes is watched
with Redis's MONITOR, on a PostgreSQL + Redis deployment of this test's own, one worker at first,
then two, then one again.

Each step ends with a marker published by the test: MONITOR lists commands in the order Redis ran
them, so once the marker is seen, every publish the step made has been seen too.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from redis.asyncio import Redis

from app.web.app import redis_channel
from tests.support import clients
from tests.support.server import Server, deploy

WAIT = 30.0  # generous: a busy CI machine
LEASE = 4.0  # PRESENCE_LEASE_SECONDS: a worker counts the channel's workers every second


class Publishes:
    """Every PUBLISH Redis runs on `channel`, as (method, payload) — from MONITOR."""

    def __init__(self, redis: Redis, channel: str) -> None:
        self.redis, self.channel = redis, channel
        self.seen: list[tuple[str, str]] = []  # (channel, payload)
        self._changed = asyncio.Condition()
        self._task: asyncio.Task | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._watch())
        await asyncio.wait_for(self._ready.wait(), WAIT)

    async def _watch(self) -> None:
        async with self.redis.monitor() as monitor:
            self._ready.set()
            while True:
                try:
                    info = await monitor.next_command()
                except (ValueError, AttributeError, UnicodeError):  # a line redis-py cannot parse (other
                    continue  # tests' commands pass here too): it is read, and not a PUBLISH of ours
                parts = info.get("command", "").split(" ", 2)
                if len(parts) == 3 and parts[0].upper() == "PUBLISH" and parts[1].startswith(self.channel):
                    async with self._changed:
                        self.seen.append((parts[1], parts[2]))
                        self._changed.notify_all()

    async def step(self) -> list[dict]:
        """The emits published on the channel since the last step (a marker ends this one)."""
        marker = uuid.uuid4().hex
        await self.redis.publish(self.channel + ":marker", marker)

        async def marked() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: any(marker in p for _, p in self.seen))
        try:
            await asyncio.wait_for(marked(), WAIT)
        except TimeoutError:
            if self._task.done():
                raise AssertionError(f"MONITOR stopped: {self._task.exception()!r}") from None
            raise AssertionError(f"marker {marker} not seen; last seen {self.seen[-5:]}") from None
        ended = next(i for i, (_, p) in enumerate(self.seen) if marker in p)
        taken, self.seen = self.seen[:ended], self.seen[ended + 1:]
        emits = []
        for channel, payload in taken:
            if channel != self.channel:
                continue
            try:
                message = json.loads(payload)
            except ValueError:  # MONITOR quotes the payload
                message = json.loads(json.loads(payload))
            if message.get("method") == "emit":
                emits.append(message)
        return emits

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


@pytest.fixture
def deployment(new_postgres_database, redis_url):
    d = deploy(database_url=new_postgres_database(), redis_url=redis_url, processes=1,
               # The last step sends a message every moment until the worker is alone again (a lease
               # of quiet and a heartbeat): more than the default message rate limit allows.
               extra_env={"PRESENCE_LEASE_SECONDS": str(LEASE), "MESSAGE_RATE_LIMIT": "1000/60"})
    yield d
    d.stop()


async def test_a_worker_alone_publishes_nothing_and_a_worker_that_joins_gets_every_emit(deployment, redis_url):
    d = deployment
    first = d.server
    uid = d.redis_prefix.removeprefix("sb:").rstrip(":")
    redis = Redis.from_url(redis_url, socket_timeout=None)  # MONITOR's reads wait as long as need be
    publishes = Publishes(redis, redis_channel(redis_url, uid))
    await publishes.start()
    csr = await clients.agent(first.url, "agent@example.com", d.password)
    visitor = await clients.visitor(first.url, d.site_key, d.origin)
    second = boss = None
    try:
        assert (await csr.call("set_status", {"status": "available"}))["ok"]
        await publishes.step()

        # Alone: a chat's messages reach both sides, and nothing is published.
        started = await visitor.call("message", {"client_id": uuid.uuid4().hex, "body": "Where is my order?"})
        assert started["ok"], started
        chat = started["conversation_id"]
        await csr.rec.wait_for("conversation.assigned", lambda c: c["id"] == chat, timeout=WAIT)
        reply = await csr.call("message", {"conversation_id": chat, "client_id": uuid.uuid4().hex,
                                           "body": "On its way."})
        assert reply["ok"], reply
        await visitor.rec.wait_for("message", lambda m: m.get("body") == "On its way.", timeout=WAIT)
        assert await publishes.step() == []

        # A second worker joins; a supervisor there watches the chat: the first worker's emits
        # reach them, through Redis.
        second = Server(d.env).start()
        d.servers.append(second)
        boss = await clients.agent(second.url, "boss@example.com", d.password)
        assert (await boss.call("open", {"conversation_id": chat}))["ok"]
        sent = await visitor.call("message", {"client_id": uuid.uuid4().hex, "body": "Thanks!"})
        assert sent["ok"], sent
        await boss.rec.wait_for("message", lambda m: m.get("body") == "Thanks!", timeout=WAIT)
        await csr.rec.wait_for("message", lambda m: m.get("body") == "Thanks!", timeout=WAIT)
        assert any(e["event"] == "message" for e in await publishes.step())

        # The second worker stops: within a heartbeat or two the first is alone again and stops
        # publishing; its chat goes on.
        await boss.disconnect()
        boss = None
        second.stop()
        d.servers.remove(second)
        second = None
        for n in range(int(WAIT / 0.2)):
            body = f"Still there? {n}"
            assert (await visitor.call("message", {"client_id": uuid.uuid4().hex, "body": body}))["ok"]
            await csr.rec.wait_for("message", lambda m, body=body: m.get("body") == body, timeout=WAIT)
            if not await publishes.step():
                break
            await asyncio.sleep(0.2)  # polling the worker's next count of the channel
        else:
            raise AssertionError("the worker went on publishing after the other one stopped")
        await csr.call("close", {"conversation_id": chat})
    finally:
        for client in (boss, visitor, csr):
            if client is not None:
                await client.disconnect()
        if second is not None:
            second.stop()
        await publishes.stop()
        await redis.aclose()
