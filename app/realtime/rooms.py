"""socket.io client managers that can move a user's sockets out of a room on every worker.

python-socketio removes one socket from a room by its sid (on any worker, through the pub/sub
manager), but a chat is lost by a *user*, whose consoles may sit on several workers and whose sids
no worker knows in full. `leave_members` takes every socket in one room (the user's own
`agent:<id>` room) out of another (`conv:<id>`): each worker does it for the sockets it holds. On
the pub/sub manager the instruction travels as a `close_room` message with an extra key, so it is
ordered with the emits around it on the same channel. `disconnect_members` closes every socket in
a room the same way (a deactivated user's consoles).

A worker alone on the channel publishes nothing: every socket is its own, so python-socketio's
publish (which this worker would only read back and drop) is a Redis round trip and two parses
per emit for no one. `RedisManager.join` makes that safe: before the worker serves, it subscribes
and says hello on the channel; every worker that hears a hello stops being alone, answers, and the
newcomer waits for the answers of all the workers subscribed before it serves. So no socket can
be on a worker that another worker believes absent. `check_peers`, every presence heartbeat, says
hello again and counts the channel's subscribers: one (this worker), with no other worker's hello
heard for a presence lease, makes it alone again.
"""

from __future__ import annotations

import asyncio
import logging

import socketio

log = logging.getLogger(__name__)

LEAVE_KEY = "sb_leave_members_of"
DISCONNECT_KEY = "sb_disconnect_members"
# A worker's hello on the channel (value: its host id) and another worker's answer to it (value: the
# hello's host id). They travel as `close_room` messages of a room no socket is in, so a worker of
# an earlier version, which does not know the keys, closes nothing.
HELLO_KEY = "sb_hello"
HERE_KEY = "sb_here"
PEERS_ROOM = "sb:peers"
JOIN_SECONDS = 5.0  # at most this long a starting worker waits for its hello's echo and answers


async def _leave_local(manager: socketio.AsyncManager, namespace: str, members_room: str, room: str) -> None:
    members = [sid for sid, _ in manager.get_participants(namespace, members_room)]
    for sid in members:
        await socketio.AsyncManager.leave_room(manager, sid, namespace, room)


async def _disconnect_local(manager: socketio.AsyncManager, namespace: str, members_room: str) -> None:
    members = [sid for sid, _ in manager.get_participants(namespace, members_room)]
    for sid in members:
        await manager.server.disconnect(sid, namespace=namespace, ignore_queue=True)


class LocalManager(socketio.AsyncManager):
    """One process: every socket is here."""

    async def leave_members(self, namespace: str, members_room: str, room: str) -> None:
        await _leave_local(self, namespace, members_room, room)

    async def disconnect_members(self, namespace: str, members_room: str) -> None:
        await _disconnect_local(self, namespace, members_room)


class RedisManager(socketio.AsyncRedisManager):
    """Several workers sharing Redis: the instruction reaches each of them; a worker alone on the
    channel publishes nothing (module docstring)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.alone = False  # known only after `join`; until then every emit is published
        self._heard = 0  # hellos of other workers heard so far
        self._last_heard = float("-inf")  # when the latest of them was heard (event loop time)
        self._echo = asyncio.Event()  # this worker's latest hello came back: it is subscribed
        self._answered: set[str] = set()  # the workers that answered this worker's hello

    async def _publish(self, data):
        if self.alone:
            return None
        return await super()._publish(data)

    async def join(self, timeout: float = JOIN_SECONDS) -> None:
        """Start listening now (not at the first connection, as python-socketio would), say hello,
        and wait until every worker already subscribed has answered; then know whether alone.
        Call before the worker serves. A worker that does not answer in `timeout` is not waited
        for longer (the worker then publishes, as it would alone never be known)."""
        server = self.server
        if not server.manager_initialized:
            server.manager_initialized = True
            self.initialize()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        others = await self._hello(deadline)
        while others and len(self._answered) < others:
            if loop.time() >= deadline:
                log.warning("%d of %d other workers answered this worker's hello on the channel",
                            len(self._answered), others)
                return
            # Again (a worker that subscribed between the first hello and the count missed it),
            # then a moment for the answers, which the listener records.
            await socketio.AsyncRedisManager._publish(self, self._hello_message())
            await asyncio.sleep(0.02)

    async def check_peers(self, quiet: float) -> None:
        """Say hello again and count the channel's subscribers: alone when this worker is the only
        one and no other worker has said hello for `quiet` seconds (a worker whose listener is
        reconnecting is not counted, but still says hello every heartbeat). Every presence
        heartbeat (`bus.check_peers_forever`), with `quiet` the presence lease."""
        await self._hello(asyncio.get_running_loop().time() + JOIN_SECONDS, quiet)

    def _hello_message(self) -> dict:
        # Under a host id not this worker's, so that its own listener does not drop it as its own.
        return {"method": "close_room", "room": PEERS_ROOM, "namespace": "/", "host_id": "hello:" + self.host_id,
                HELLO_KEY: self.host_id}

    async def _hello(self, deadline: float, quiet: float = 0.0) -> int | None:
        """Publish a hello until it comes back (this worker is subscribed), then count the other
        subscribers and set `alone` (none, and no other worker's hello for `quiet` seconds); that
        count, or None when the hello never came back."""
        loop = asyncio.get_running_loop()
        self._echo.clear()
        pause = 0.02  # a hello published before the listener subscribed is not heard: again, less often
        while not self._echo.is_set():
            await socketio.AsyncRedisManager._publish(self, self._hello_message())
            try:
                await asyncio.wait_for(self._echo.wait(), min(pause, max(0.0, deadline - loop.time())))
            except TimeoutError:
                pause = min(pause * 2, 1.0)
                if loop.time() >= deadline:
                    self.alone = False
                    log.warning("this worker's hello did not come back on the channel: it publishes every emit")
                    return None
        heard = self._heard
        counts = await self.redis.pubsub_numsub(self.channel)
        others = max(0, int(counts[0][1]) - 1) if counts else 0
        # A hello heard while counting: that worker subscribed after the count, so it is there too.
        self.alone = others == 0 and self._heard == heard and loop.time() - self._last_heard > quiet
        return others

    async def leave_members(self, namespace: str, members_room: str, room: str) -> None:
        await _leave_local(self, namespace, members_room, room)
        await self._publish({"method": "close_room", "room": room, "namespace": namespace,
                             "host_id": self.host_id, LEAVE_KEY: members_room})

    async def disconnect_members(self, namespace: str, members_room: str) -> None:
        await _disconnect_local(self, namespace, members_room)
        await self._publish({"method": "close_room", "room": members_room, "namespace": namespace,
                             "host_id": self.host_id, DISCONNECT_KEY: True})

    async def _handle_close_room(self, message: dict) -> None:
        namespace = message.get("namespace") or "/"
        if HELLO_KEY in message:
            if message[HELLO_KEY] == self.host_id:
                self._echo.set()
            else:  # another worker: publish from now on, and tell it so
                self.alone = False
                self._heard += 1
                self._last_heard = asyncio.get_running_loop().time()
                await socketio.AsyncRedisManager._publish(self, {
                    "method": "close_room", "room": PEERS_ROOM, "namespace": "/", "host_id": self.host_id,
                    HERE_KEY: message[HELLO_KEY]})
            return
        if HERE_KEY in message:
            if message[HERE_KEY] == self.host_id:
                self._answered.add(str(message.get("host_id")))
            return
        if message.get(DISCONNECT_KEY):
            await _disconnect_local(self, namespace, message.get("room"))
        elif message.get(LEAVE_KEY) is not None:
            await _leave_local(self, namespace, message[LEAVE_KEY], message.get("room"))
        else:
            await super()._handle_close_room(message)
