"""socket.io client managers that can move a user's sockets out of a room on every worker.

python-socketio removes one socket from a room by its sid (on any worker, through the pub/sub
manager), but a chat is lost by a *user*, whose consoles may sit on several workers and whose sids
no worker knows in full. `leave_members` takes every socket in one room (the user's own
`agent:<id>` room) out of another (`conv:<id>`): each worker does it for the sockets it holds. On
the pub/sub manager the instruction travels as a `close_room` message with an extra key, so it is
ordered with the emits around it on the same channel. `disconnect_members` closes every socket in
a room the same way (a deactivated user's consoles).
"""

from __future__ import annotations

import socketio

LEAVE_KEY = "sb_leave_members_of"
DISCONNECT_KEY = "sb_disconnect_members"


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
    """Several workers sharing Redis: the instruction reaches each of them."""

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
        if message.get(DISCONNECT_KEY):
            await _disconnect_local(self, namespace, message.get("room"))
        elif message.get(LEAVE_KEY) is not None:
            await _leave_local(self, namespace, message[LEAVE_KEY], message.get("room"))
        else:
            await super()._handle_close_room(message)
