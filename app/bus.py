"""How services publish realtime events, without knowing about sockets.

Rooms: `visitor:<id>` holds every tab of one visitor; `agent:<id>` every console of one user;
`conv:<id>` the staff watching a conversation. With REDIS_URL set, socket.io's Redis manager
carries each emit to the workers that hold those sockets.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import socketio
from socketio.async_pubsub_manager import AsyncPubSubManager

from app import runtime

log = logging.getLogger(__name__)

VISITOR_NS = "/visitor"
AGENT_NS = "/agent"
# Staff pages without the console (Work orders, an order) hear their user's notices here; a
# socket is in its user's and its session's rooms only (app/realtime/notices.py).
NOTICES_NS = "/notices"
STAFF_NAMESPACES = (AGENT_NS, NOTICES_NS)  # every staff socket is in its user's and its session's rooms


def bind(sio: socketio.AsyncServer | None) -> None:
    """Publish through `sio` (the running server's socket.io server, kept on its runtime)."""
    runtime.current().sio = sio


def _server() -> socketio.AsyncServer | None:
    """The socket.io server to publish through, or None where no server runs (a CLI command)."""
    rt = runtime.installed()
    return rt.sio if rt is not None else None


def queued() -> bool:
    """Emits go through a message queue to every worker (Redis): each waits for its publish."""
    sio = _server()
    return sio is not None and isinstance(sio.manager, AsyncPubSubManager)


async def join_peers() -> None:
    """With Redis, before the worker serves: listen on the channel and meet the other workers
    (app/realtime/rooms.py `RedisManager.join`)."""
    sio = _server()
    join = getattr(sio.manager, "join", None) if sio is not None else None
    if join is not None:
        await join()


async def check_peers_forever(interval: float) -> None:
    """With Redis, every `interval` (the presence heartbeat): whether this worker is alone on the
    channel, hence need not publish (app/realtime/rooms.py)."""
    sio = _server()
    check = getattr(sio.manager, "check_peers", None) if sio is not None else None
    if check is None:
        return
    while True:
        await asyncio.sleep(interval)
        try:
            await check(interval * 4)  # quiet for a presence lease (four heartbeats): gone
        except asyncio.CancelledError:
            raise
        except Exception:  # the next one tries again; meanwhile every emit is published
            log.exception("counting the workers on the pub/sub channel failed")


def visitor_room(visitor_id: str) -> str:
    return f"visitor:{visitor_id}"


def agent_room(user_id: int) -> str:
    return f"agent:{user_id}"


def conversation_room(conversation_id: int) -> str:
    return f"conv:{conversation_id}"


def session_room(session_id: int) -> str:
    """Every console socket opened with one staff session's tokens (app/services/sessions.py)."""
    return f"session:{session_id}"


async def disconnect_room(room: str) -> None:
    """Close every staff socket in a room (consoles and notice sockets), on every worker (a session
    that ended: `session:<id>`; every session of a user: `agent:<id>`)."""
    sio = _server()
    if sio is not None:
        for namespace in STAFF_NAMESPACES:
            await sio.manager.disconnect_members(namespace, room)


def site_room(site_id: int) -> str:
    """Every widget socket of one site (visitor namespace)."""
    return f"site:{site_id}"


def site_origin_room(site_id: int, origin: str) -> str:
    """The widget sockets of one site opened from pages on one origin (visitor namespace)."""
    return f"site:{site_id}:{origin}"


async def disconnect_visitors(room: str) -> None:
    """Close every widget socket in a room of the visitor namespace, on every worker (a site that
    was disabled: `site_room`; an origin it no longer allows: `site_origin_room`)."""
    sio = _server()
    if sio is not None:
        await sio.manager.disconnect_members(VISITOR_NS, room)


async def to_visitor(visitor_id: str, event: str, data: Any, skip_sid: str | None = None) -> None:
    sio = _server()
    if sio is not None:
        await sio.emit(event, data, to=visitor_room(visitor_id), namespace=VISITOR_NS, skip_sid=skip_sid)


async def to_staff(
    event: str, data: Any, *, agent_id: int | None = None, conversation_id: int | None = None,
    skip_sid: str | None = None,
) -> None:
    """Send to the assigned agent's consoles and to staff watching the conversation (once each)."""
    sio = _server()
    if sio is None:
        return
    rooms = []
    if agent_id is not None:
        rooms.append(agent_room(agent_id))
    if conversation_id is not None:
        rooms.append(conversation_room(conversation_id))
    if rooms:
        await sio.emit(event, data, to=rooms, namespace=AGENT_NS, skip_sid=skip_sid)


async def leave_conversation(user_id: int, conversation_id: int) -> None:
    """Every console of this user, on every worker, stops receiving the conversation: they lost
    it (transferred, taken over, re-queued, left). They may `open` it again where they still may."""
    sio = _server()
    if sio is not None:
        await sio.manager.leave_members(AGENT_NS, agent_room(user_id), conversation_room(conversation_id))


SUPERVISORS_ROOM = "supervisors"


STAFF_ROOM = "staff"


async def to_room(room: str, event: str, data: Any) -> None:
    """To every console in a room of the agent namespace (e.g. `visitors`: the Visitors view)."""
    sio = _server()
    if sio is not None:
        await sio.emit(event, data, to=room, namespace=AGENT_NS)


async def to_user(user_id: int, event: str, data: Any) -> None:
    """To every page of one staff member: their consoles and their pages' notice sockets."""
    sio = _server()
    if sio is not None:
        for namespace in STAFF_NAMESPACES:
            await sio.emit(event, data, to=agent_room(user_id), namespace=namespace)


async def to_staff_room(event: str, data: Any) -> None:
    """To every signed-in console (CSRs, supervisors, admins)."""
    sio = _server()
    if sio is not None:
        await sio.emit(event, data, to=STAFF_ROOM, namespace=AGENT_NS)
QUEUE_REASONS = frozenset({"queued", "assigned", "abandoned", "closed", "transferred", "requeued", "take_over"})


async def board_changed(reason: str) -> None:
    """Hint to supervisors' boards that agents, queues or chats changed (they re-read the board),
    and to every console that the queues changed (`queue.changed`) when they did."""
    sio = _server()
    if sio is None:
        return
    await sio.emit("board.changed", {"reason": reason}, to=SUPERVISORS_ROOM, namespace=AGENT_NS)
    if reason in QUEUE_REASONS:
        await sio.emit("queue.changed", {"reason": reason}, to=STAFF_ROOM, namespace=AGENT_NS)
