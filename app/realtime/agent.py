"""The `/agent` namespace: what the console speaks (docs/protocol.md)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import socketio

from app import i18n, presence, runtime
from app.clock import iso, utcnow
from app.reports import live
from app.models import Message, User, Visitor
from app.models.org import CHAT_ROLES
from app import bus
from app.realtime import validation as v
from app.realtime.handlers import event, limit, ok
from app.realtime.visitor import refuse
from app.security import TokenError
from app.services import (
    ServiceError, agents, classification, conversations, handoff, invitations, offers, offline, profiles, routing, scope, serialize,
    sessions, supervision, timers, tracking, visitors,
)
from app.tracking import live as live_visitors

def _same_origin(environ: dict) -> bool:
    origin = environ.get("HTTP_ORIGIN")
    if not origin:
        return True  # non-browser clients; the token is what authenticates
    return urlsplit(origin).netloc == environ.get("HTTP_HOST")


async def staff_connect(ns: socketio.AsyncNamespace, sid: str, environ: dict, auth: Any) -> tuple[User, int]:
    """A staff page's socket (`/agent`, `/notices`): its origin and socket token checked, in its
    session's and its user's rooms; (the user, the session id). Refuses `unauthorized` (or
    `token_expired`); the caller checks the role."""
    if not _same_origin(environ):
        raise refuse("unauthorized", "The console must connect from its own origin.")
    token = auth.get("token") if isinstance(auth, dict) else None
    rt = runtime.current()
    try:
        user_id, session_id = rt.signer.read_socket_token(token, rt.settings.socket_token_seconds)
    except TokenError as exc:
        code = "token_expired" if exc.code == "token_expired" else "unauthorized"
        raise refuse(code, exc.message) from None
    # In its session's and its user's rooms before the session is read (the token's signature
    # vouches for both ids; a refused connection leaves them again), so a sign-out that lands
    # after the read finds this socket there; one that lands while it is still connecting
    # (python-socketio does not close those) is caught by `_user` at its first event.
    await ns.enter_room(sid, bus.session_room(session_id))
    await ns.enter_room(sid, bus.agent_room(user_id))
    try:
        return await sessions.socket_user(session_id, user_id), session_id
    except ServiceError as exc:
        raise refuse("unauthorized", exc.message) from None


class AgentNamespace(socketio.AsyncNamespace):
    async def on_connect(self, sid: str, environ: dict, auth: Any = None) -> None:
        user, session_id = await staff_connect(self, sid, environ, auth)
        if user.role not in CHAT_ROLES:
            raise refuse("unauthorized", "The chat console is for CSRs, supervisors and admins.")
        # Its refusals' messages speak the user's language (app/realtime/handlers.py `event`).
        language = i18n.choose(user.language, environ.get("HTTP_ACCEPT_LANGUAGE"))
        await self.save_session(sid, {"user_id": user.id, "session_id": session_id, "language": language})
        await self.enter_room(sid, bus.STAFF_ROOM)
        if user.role in supervision.SUPERVISOR_ROLES:
            await self.enter_room(sid, bus.SUPERVISORS_ROOM)
        await presence.joined(f"agent:{user.id}")
        await timers.returned(user.id)  # their grace period ends, whichever worker runs it
        await self.emit("status", {"status": user.status, "reason": user.status_reason}, to=sid)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        session = await self.get_session(sid)
        user_id = session.get("user_id")
        if user_id is None:
            return
        # Their last console anywhere: the grace period starts on the shared schedule, so it ends
        # (Offline, chats re-queued) even if this worker does not live that long.
        if await presence.left(f"agent:{user_id}") == 0:
            await timers.departed(f"agent:{user_id}")

    async def _user(self, sid: str) -> User:
        # The staff session is checked on every event, not only on connect: a worker that missed
        # the sign-out's broadcast still closes the socket here.
        socket_session = await self.get_session(sid)
        try:
            return await sessions.socket_user(socket_session.get("session_id"), socket_session.get("user_id"),
                                              connected=True)
        except ServiceError:
            await self.disconnect(sid)
            raise ServiceError("forbidden", sessions.ENDED_MESSAGE) from None

    async def _user_within(self, sid: str, kind: str, count: int, window: float) -> User:
        """`_user`, then a hit on the user's rate limit `kind` (`kind:<user id>`), decided without
        waiting for Redis (`limit`'s `ahead`)."""
        user = await self._user(sid)
        await limit(f"{kind}:{user.id}", count, window, ahead=True)
        return user

    @event
    async def on_set_status(self, sid: str, data: Any) -> dict:
        data = v.payload(data)
        status = v.text(data, "status", max_len=16)
        reason = v.text(data, "reason", max_len=64, required=False)
        await limit(f"status:{sid}", 30, 60.0)
        user = await agents.choose_state(await self._user(sid), status, reason)
        return ok(status=user.status, reason=user.status_reason)

    @event
    async def on_away_reasons(self, sid: str, data: Any) -> dict:
        v.payload(data)
        return ok(reasons=await agents.away_reasons())

    @event
    async def on_list(self, sid: str, data: Any) -> dict:
        v.payload(data)
        return ok(conversations=await conversations.agent_list(await self._user(sid)))

    @event
    async def on_open(self, sid: str, data: Any) -> dict:
        data = v.payload(data)
        conversation_id = v.integer(data, "conversation_id", minimum=1)
        user = await self._user(sid)
        conversation, live_too = await scope.read_conversation(user, conversation_id)
        if live_too:
            await self.enter_room(sid, bus.conversation_room(conversation.id))
        visitor = await Visitor.get(id=conversation.visitor_id)
        messages = await Message.filter(conversation_id=conversation.id).order_by("seq")
        return ok(
            conversation=await conversations.agent_summary(conversation),
            messages=[serialize.message(m) for m in messages],
            visitor=serialize.visitor_profile(tracking.latest(visitor), await visitors.is_online(visitor.id)),
            past=await conversations.past_conversations(user, visitor, exclude_id=conversation.id),
        )

    @event
    async def on_message(self, sid: str, data: Any) -> dict:
        data = v.payload(data)
        conversation_id = v.integer(data, "conversation_id", minimum=1)
        client_id = v.client_id(data)
        settings = runtime.current().settings
        body = v.text(data, "body", max_len=settings.max_message_chars)
        user = await self._user_within(sid, "msg:a", settings.message_rate[0] * 3, settings.message_rate[1])
        message = await conversations.post_agent_message(user, conversation_id, client_id=client_id, body=body)
        return ok(seq=message.seq, created_at=serialize.message(message)["created_at"])

    @event
    async def on_sync(self, sid: str, data: Any) -> dict:
        data = v.payload(data)
        conversation_id = v.integer(data, "conversation_id", minimum=1)
        after_seq = v.integer(data, "after_seq", minimum=0)
        user = await self._user(sid)
        conversation, _ = await scope.read_conversation(user, conversation_id)
        messages = await conversations.messages_after(conversation, after_seq, include_internal=True)
        return ok(messages=[serialize.message(m) for m in messages])

    @event
    async def on_typing(self, sid: str, data: Any) -> dict:
        data = v.payload(data)
        conversation_id = v.integer(data, "conversation_id", minimum=1)
        typing = v.boolean(data, "typing")
        user = await self._user(sid)
        conversation = await conversations.agent_conversation(user, conversation_id)
        try:
            await limit(f"typing:{sid}", 20, 10.0)
        except ServiceError:
            return ok()
        if conversation.status == "assigned":
            await bus.to_visitor(
                conversation.visitor_id, "typing",
                {"conversation_id": conversation.id, "typing": typing, "name": user.display_name},
            )
        return ok()

    @event
    async def on_read(self, sid: str, data: Any) -> dict:
        data = v.payload(data)
        conversation_id = v.integer(data, "conversation_id", minimum=1)
        seq = v.integer(data, "seq", minimum=0)
        conversation = await conversations.agent_conversation(await self._user(sid), conversation_id)
        await conversations.mark_read(conversation, "agent", seq)
        return ok()

    @event
    async def on_close(self, sid: str, data: Any) -> dict:
        data = v.payload(data)
        conversation_id = v.integer(data, "conversation_id", minimum=1)
        category_id = v.integer(data, "category_id", minimum=1, required=False)
        user = await self._user(sid)
        conversation = await conversations.agent_conversation(user, conversation_id)
        category = await classification.before_close(conversation, category_id)  # refused: nothing closes
        await conversations.close(conversation, by="agent", user=user,
                                  category_id=category.id if category is not None else None)
        if category is not None:
            await classification.classified(conversation, category, user)
        return ok()

    @event
    async def on_close_options(self, sid: str, data: Any) -> dict:
        """What closing this chat asks for: {classification: off|optional|required, categories}."""
        data = v.payload(data)
        conversation_id = v.integer(data, "conversation_id", minimum=1)
        await limit(f"close_options:{sid}", 60, 60.0)
        conversation = await conversations.agent_conversation(await self._user(sid), conversation_id)
        return ok(**await classification.close_options(conversation))

    @event
    async def on_queue(self, sid: str, data: Any) -> dict:
        v.payload(data)
        await limit(f"queue:{sid}", 60, 60.0)
        return ok(chats=await routing.queue_for(await self._user(sid)))

    @event
    async def on_offline_messages(self, sid: str, data: Any) -> dict:
        v.payload(data)
        await limit(f"offline:{sid}", 60, 60.0)
        return ok(messages=await offline.open_messages(await self._user(sid)))

    @event
    async def on_message_done(self, sid: str, data: Any) -> dict:
        data = v.payload(data)
        message_id = v.integer(data, "id", minimum=1)
        await offline.mark_done(await self._user(sid), message_id)
        return ok()

    @event
    async def on_accept(self, sid: str, data: Any) -> dict:
        data = v.payload(data)
        conversation_id = v.integer(data, "conversation_id", minimum=1)
        user = await self._user(sid)
        await limit(f"offer:{user.id}", 60, 60.0)
        await offers.accept(user, conversation_id)
        return ok()

    @event
    async def on_decline(self, sid: str, data: Any) -> dict:
        data = v.payload(data)
        conversation_id = v.integer(data, "conversation_id", minimum=1)
        user = await self._user(sid)
        await limit(f"offer:{user.id}", 60, 60.0)
        await offers.decline(user, conversation_id)
        return ok()

    @event
    async def on_pick(self, sid: str, data: Any) -> dict:
        data = v.payload(data)
        conversation_id = v.integer(data, "conversation_id", minimum=1)
        user = await self._user(sid)
        await limit(f"pick:{user.id}", 30, 60.0)
        await routing.pick(user, conversation_id)
        return ok()

    @event
    async def on_transfer_targets(self, sid: str, data: Any) -> dict:
        data = v.payload(data)
        conversation_id = v.integer(data, "conversation_id", minimum=1)
        user = await self._user(sid)
        conversation = await conversations.agent_conversation(user, conversation_id)
        return ok(**await handoff.transfer_targets(user, conversation.site_id))

    @event
    async def on_transfer(self, sid: str, data: Any) -> dict:
        data = v.payload(data)
        conversation_id = v.integer(data, "conversation_id", minimum=1)
        to_agent_id = v.integer(data, "to_agent_id", minimum=1, required=False)
        to_department_id = v.integer(data, "to_department_id", minimum=1, required=False)
        note = v.text(data, "note", max_len=2000, required=False)
        warm = v.boolean(data, "warm") if "warm" in data else False
        user = await self._user(sid)
        await limit(f"transfer:{user.id}", 30, 60.0)
        await handoff.transfer(user, conversation_id, to_agent_id=to_agent_id, to_department_id=to_department_id,
                               note=note, warm=warm)
        return ok()

    @event
    async def on_leave(self, sid: str, data: Any) -> dict:
        data = v.payload(data)
        conversation_id = v.integer(data, "conversation_id", minimum=1)
        user = await self._user(sid)
        await limit(f"transfer:{user.id}", 30, 60.0)
        await handoff.leave(user, conversation_id)
        return ok()

    # --- supervision ---------------------------------------------------------------

    @event
    async def on_visitors(self, sid: str, data: Any) -> dict:
        """Start watching the Visitors view: every visitor online now; then `visitors.delta`."""
        v.payload(data)
        sites = await scope.live_sites(await self._user(sid))
        await self._leave_visitor_rooms(sid)
        for room in live_visitors.rooms_for(sites):
            await self.enter_room(sid, room)
        return ok(visitors=await live_visitors.snapshot(sites), at=iso(utcnow()))

    @event
    async def on_visitors_stop(self, sid: str, data: Any) -> dict:
        v.payload(data)
        await self._leave_visitor_rooms(sid)
        return ok()

    async def _leave_visitor_rooms(self, sid: str) -> None:
        for room in self.rooms(sid):
            if live_visitors.is_room(room):
                await self.leave_room(sid, room)

    @event
    async def on_invite(self, sid: str, data: Any) -> dict:
        """Invite a visitor who is on the site now to chat (their widget shows it at once)."""
        data = v.payload(data)
        visitor_id = v.text(data, "visitor_id", max_len=40)
        message = v.text(data, "message", max_len=500, required=False)
        user = await self._user(sid)
        await limit(f"invite:{user.id}", 30, 60.0)
        return ok(invitation=await invitations.invite(user, visitor_id, message))

    @event
    async def on_visitor_profile(self, sid: str, data: Any) -> dict:
        data = v.payload(data)
        visitor_id = v.text(data, "visitor_id", max_len=40)
        return ok(**await profiles.profile(await self._user(sid), visitor_id))

    @event
    async def on_board(self, sid: str, data: Any) -> dict:
        v.payload(data)
        return ok(**await supervision.board(await self._user(sid)))

    @event
    async def on_wallboard(self, sid: str, data: Any) -> dict:
        v.payload(data)
        user = await self._user(sid)
        supervision.require_supervisor(user)
        await limit(f"wallboard:{sid}", 120, 60.0)
        board = await supervision.board(user)
        settings = runtime.current().settings
        # A supervisor's day is that of their queues (app/services/scope.py), like their board.
        today = await live.today(
            time_zone=settings.center_time_zone, threshold_seconds=settings.service_level_threshold_seconds,
            short_abandon_seconds=settings.short_abandon_seconds, reach=await scope.reach(user),
        )
        return ok(**board, today=today)

    @event
    async def on_monitor(self, sid: str, data: Any) -> dict:
        data = v.payload(data)
        conversation_id = v.integer(data, "conversation_id", minimum=1)
        await supervision.monitor(await self._user(sid), conversation_id)
        return await self.on_open(sid, {"conversation_id": conversation_id})

    @event
    async def on_whisper(self, sid: str, data: Any) -> dict:
        data = v.payload(data)
        conversation_id = v.integer(data, "conversation_id", minimum=1)
        client_id = v.client_id(data)
        body = v.text(data, "body", max_len=runtime.current().settings.max_message_chars)
        user = await self._user(sid)
        await limit(f"whisper:{user.id}", 60, 10.0)
        message = await supervision.whisper(user, conversation_id, client_id=client_id, body=body)
        return ok(seq=message.seq, created_at=serialize.message(message)["created_at"])

    @event
    async def on_barge(self, sid: str, data: Any) -> dict:
        data = v.payload(data)
        conversation_id = v.integer(data, "conversation_id", minimum=1)
        await supervision.barge(await self._user(sid), conversation_id)
        await self.enter_room(sid, bus.conversation_room(conversation_id))
        return ok()

    @event
    async def on_take_over(self, sid: str, data: Any) -> dict:
        data = v.payload(data)
        conversation_id = v.integer(data, "conversation_id", minimum=1)
        await supervision.take_over(await self._user(sid), conversation_id)
        return ok()

    @event
    async def on_force_status(self, sid: str, data: Any) -> dict:
        data = v.payload(data)
        user_id = v.integer(data, "user_id", minimum=1)
        status = v.text(data, "status", max_len=16)
        reason = v.text(data, "reason", max_len=64, required=False)
        target = await supervision.force_state(await self._user(sid), user_id, status, reason)
        return ok(status=target.status)

    @event
    async def on_deactivate_user(self, sid: str, data: Any) -> dict:
        data = v.payload(data)
        user_id = v.integer(data, "user_id", minimum=1)
        # Their sessions end and their consoles are disconnected on every worker (sessions.end_all).
        await supervision.deactivate(await self._user(sid), user_id)
        return ok()

    @event
    async def on_sign_out_user(self, sid: str, data: Any) -> dict:
        """An admin ends every session of an account (its consoles are disconnected everywhere)."""
        data = v.payload(data)
        user_id = v.integer(data, "user_id", minimum=1)
        ended = await supervision.sign_out_everywhere(await self._user(sid), user_id)
        return ok(sessions=ended)
