"""The one path by which a chat reaches a CSR: `hand_to`.

A routing decision, an accepted offer, a pick from the queue, an accepted invitation, a transfer,
the hand-over at the end of a warm transfer and a supervisor's take-over all call `hand_to`, which

1. takes the CSR's place in the routing store in one atomic step (`RoutingStore.take`: room is
   checked and the hold moves from the previous CSR), unless the place is already theirs (a
   routing decision or their own offer reserved it) — a take-over is a supervisor's override and
   is the only path that may put someone over capacity;
2. changes the conversation row on a condition (still waiting / still the previous CSR's), so two
   paths racing for one chat cannot both win — the loser's store hold is undone from the database;
3. writes the events (`transferred` when it moves from a CSR, then `assigned` with `via`), the
   transfer note, and the "X joined the chat." notice, once;
4. takes the previous CSR's consoles out of the chat's room on every worker, before anything
   more of the chat is published;
5. publishes the change to the visitor, the new CSR and the previous one.

A warm transfer's colleague holds a place of their own while both CSRs are in the chat (`join_warm`;
it counts against their capacity); a supervisor who barges in does not (supervision, like a
take-over, is an override). `leave_chat` ends a participation and releases its place.
"""

from __future__ import annotations

from datetime import datetime

from app import bus, runtime
from app.clock import utcnow
from app.models import Conversation, Participant, User
from app.services import ServiceError, conversations, events, routing_state, serialize


async def hand_to(
    conversation: Conversation, agent: User, *, via: str | None, previous: int | None = None,
    offered: bool = False, reserved: bool = False, force: bool = False, from_warm: bool = False,
    actor: User | None = None, note: str | None = None, announce: bool = True,
    transfer: dict | None = None, at: datetime | None = None,
) -> Conversation:
    """Give `conversation` to `agent` (see the module's docstring); returns it updated.

    `previous`: the CSR it is taken from (a transfer, a take-over, a warm hand-over), or None for a
    chat that is waiting. `offered`: the accept of the agent's own offer. `reserved`: the store
    holds the place for the agent already (a routing decision, an offer). `force`: no capacity or
    availability check (a supervisor's take-over). `from_warm`: the agent's warm-transfer place
    becomes the chat itself. `transfer`: data of the `transferred` event, written first.
    Raises `unavailable` (no room / not Available) or `invalid_state` (taken or changed meanwhile).
    """
    now = at or utcnow()
    cid = conversation.id
    if not reserved:
        await _take_place(cid, agent, "Someone else has taken this chat.", expect=previous, force=force,
                          release=-cid if from_warm else None)
    if previous is None:
        condition = ({"offered_to_id": agent.id, "offer_expires_at__gt": now} if offered
                     else {"offered_to_id": None})
        updated = await Conversation.filter(id=cid, status="waiting", **condition).update(
            status="assigned", agent_id=agent.id, assigned_at=now, offered_to_id=None, offer_expires_at=None
        )
    else:
        updated = await Conversation.filter(id=cid, status="assigned", agent_id=previous).update(
            agent_id=agent.id, assigned_at=now
        )
    if not updated:
        # The database says otherwise (closed, taken, moved): the store follows it.
        await routing_state.sync_chat(cid, from_agent=agent.id)
        raise ServiceError("invalid_state", "This chat changed meanwhile; reload it.")
    if not force and not await User.exists(id=agent.id, is_active=True, status__not="offline"):
        # They went Offline (or were deactivated) while this was being decided: their chats were
        # being handed back, so this one goes straight back too, before anyone is told anything.
        if previous is None:
            await Conversation.filter(id=cid, status="assigned", agent_id=agent.id).update(
                status="waiting", agent_id=None, assigned_at=None)
        else:
            await Conversation.filter(id=cid, status="assigned", agent_id=agent.id).update(
                agent_id=previous, assigned_at=conversation.assigned_at)
        await routing_state.sync_chat(cid, from_agent=agent.id)
        raise ServiceError("unavailable", "%(name)s is not available.", name=agent.display_name)
    await conversation.refresh_from_db()

    # Before the events: routing reads the agents' idle times from these.
    await User.filter(id=agent.id).update(last_assigned_at=now, **({"missed_offers": 0} if offered else {}))
    if previous is not None:
        await User.filter(id=previous).update(last_chat_ended_at=now)
    # The new holder is no longer a participant beside the holder (a warm colleague, a barged-in supervisor).
    await Participant.filter(conversation_id=cid, user_id=agent.id, left_at=None).update(left_at=now)

    if transfer is not None:
        await events.conversation_event(
            conversation, "transferred", agent_id=actor.id if actor else agent.id, at=now, from_agent_id=previous,
            to_agent_id=agent.id, **transfer,
        )
    data: dict = {"via": via} if via else {}
    if previous is None:
        data["queue_seconds"] = (now - conversation.requested_at).total_seconds()
    await events.conversation_event(conversation, "assigned", agent_id=agent.id, at=now, **data)
    if previous is not None:  # before anything more of this chat is published
        await bus.leave_conversation(previous, cid)
    if note and actor is not None:
        await transfer_note(conversation, actor, note)
    if announce:
        await system_notice(conversation, f"{agent.display_name} joined the chat.")
    await bus.to_visitor(conversation.visitor_id, "conversation", serialize.conversation_for_visitor(conversation, agent))
    summary = await conversations.agent_summary(conversation)
    await bus.to_staff("conversation.assigned", summary, agent_id=agent.id)
    if previous is not None:
        await bus.to_staff("conversation.updated", summary, agent_id=previous)
    await bus.board_changed("assigned" if previous is None else "transferred")
    return conversation


async def join_warm(actor: User, conversation: Conversation, colleague: User, note: str | None) -> Conversation:
    """Warm transfer: the colleague joins the chat now, holding a place of their own (−id in the
    store) until the first CSR leaves and the chat becomes theirs (`hand_to(from_warm=True)`)."""
    cid = conversation.id
    if await Participant.exists(conversation_id=cid, user_id=colleague.id, left_at=None):
        raise ServiceError("invalid_state", "%(name)s is in this chat already.", name=colleague.display_name)
    if await Participant.exists(conversation_id=cid, kind="warm", left_at=None):
        raise ServiceError("invalid_state", "A warm transfer of this chat is under way already.")
    await _take_place(-cid, colleague, "A warm transfer of this chat is under way already.")
    now = utcnow()
    if await Conversation.filter(id=cid, status="assigned", agent_id=conversation.agent_id).count() == 0:
        await routing_state.sync_chat(cid)
        raise ServiceError("invalid_state", "This chat changed meanwhile; reload it.")
    await Participant.create(conversation_id=cid, user_id=colleague.id, kind="warm", joined_at=now)
    await events.conversation_event(conversation, "transfer_started", agent_id=actor.id, at=now,
                                    from_agent_id=conversation.agent_id, to_agent_id=colleague.id, warm=True,
                                    has_note=bool(note))
    if note:
        await transfer_note(conversation, actor, note)
    await system_notice(conversation, f"{colleague.display_name} joined the chat.")
    summary = await conversations.agent_summary(conversation)
    await bus.to_staff("conversation.assigned", summary, agent_id=colleague.id)
    await bus.to_staff("conversation.updated", summary, agent_id=conversation.agent_id)
    await bus.board_changed("transferred")
    return conversation


async def leave_chat(conversation: Conversation, participant: Participant, user: User) -> None:
    """A participant (warm colleague, barged-in supervisor) leaves: their place is released and
    their consoles leave the chat's room."""
    now = utcnow()
    if not await Participant.filter(id=participant.id, left_at=None).update(left_at=now):
        raise ServiceError("invalid_state", "You are not in this chat any more.")
    await events.conversation_event(conversation, "participant_left", agent_id=user.id, at=now)
    if participant.kind == "warm":
        await routing_state.sync_chat(conversation.id)
    await bus.leave_conversation(user.id, conversation.id)


async def requeue(conversation: Conversation, agent_id: int, *, reason: str) -> bool:
    """Put a chat the agent holds back at the front of its queue (its original request time); the
    visitor keeps the whole conversation and is told someone else is coming. False when it was
    closed or moved meanwhile."""
    now = utcnow()
    updated = await Conversation.filter(id=conversation.id, status="assigned", agent_id=agent_id).update(
        status="waiting", agent_id=None, assigned_at=None
    )
    if not updated:
        return False
    await conversation.refresh_from_db()
    await Participant.filter(conversation_id=conversation.id, left_at=None).update(left_at=now)
    await events.conversation_event(conversation, "requeued", agent_id=agent_id, at=now, reason=reason)
    await bus.leave_conversation(agent_id, conversation.id)
    await system_notice(conversation, "We are connecting you to someone else…")
    await bus.to_staff("conversation.updated", await conversations.agent_summary(conversation), agent_id=agent_id)
    await bus.to_visitor(conversation.visitor_id, "conversation", serialize.conversation_for_visitor(conversation, None))
    return True


async def _take_place(member: int, agent: User, taken: str, **how) -> None:
    """Take `agent`'s place for `member` (a chat, or −chat for a warm place) in the routing store."""
    result = await runtime.current().routing_store.take(member, agent.id, routing_state.now_ms(), **how)
    if result == "full":
        raise ServiceError("unavailable", "%(name)s has no free capacity.", name=agent.display_name)
    if result == "unavailable":
        raise ServiceError("unavailable", "%(name)s is not available.", name=agent.display_name)
    if result != "ok":
        raise ServiceError("invalid_state", taken)


async def transfer_note(conversation: Conversation, actor: User, note: str) -> None:
    """The transferring CSR's note: an internal message, for staff only (never the visitor)."""
    internal, _ = await conversations.append_message(
        conversation, sender_kind="internal", body=note, client_id=None, author=actor,
        author_name=f"{actor.display_name} (transfer note)",
    )
    await conversations.publish_message(conversation, internal)


async def system_notice(conversation: Conversation, body: str) -> None:
    """A system message both sides see ("Dana joined the chat.")."""
    notice, _ = await conversations.append_message(conversation, sender_kind="system", body=body, client_id=None)
    await conversations.publish_message(conversation, notice)
