"""The append-only event log that KPIs are computed from."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.clock import utcnow
from app.models import AgentStatusEvent, Conversation, ConversationEvent, User


# Events after which the routing store must follow the chat's new state (app/services/routing.py).
ROUTING_KINDS = frozenset({
    "queued", "assigned", "offered", "offer_declined", "offer_expired", "abandoned", "closed", "transferred",
    "requeued", "note_left",
})

# What the live Visitors view shows of a visitor's chat after each event.
CHAT_STATES = {"queued": "waiting", "requeued": "waiting", "assigned": "assigned", "closed": "none"}


async def conversation_event(
    conversation: Conversation, kind: str, *, agent_id: int | None = None, at: datetime | None = None,
    using_db: Any = None, **data: Any,
) -> ConversationEvent:
    event = await ConversationEvent.create(
        conversation_id=conversation.id,
        site_id=conversation.site_id,
        department_id=conversation.department_id,
        agent_id=agent_id,
        kind=kind,
        at=at or utcnow(),
        data=data,
        using_db=using_db,
    )
    if kind in CHAT_STATES and using_db is None:
        from app.tracking import live

        await live.update(conversation.visitor_id, chat=CHAT_STATES[kind])
    if kind in ROUTING_KINDS and using_db is None:
        from app.services import routing

        # The agent the chat just left (a requeue, a transfer, a declined offer) releases it even if
        # they got it moments ago; without one, a hold younger than the database read is kept.
        released_by = data.get("from_agent_id") or agent_id
        await routing.sync_chat(conversation.id, from_agent=released_by if isinstance(released_by, int) else None)
    return event


async def agent_status_event(
    user: User, status: str, previous: str | None, reason: str | None, at: datetime, using_db: Any = None
) -> AgentStatusEvent:
    event = await AgentStatusEvent.create(
        user_id=user.id, status=status, previous_status=previous, reason=reason, at=at, using_db=using_db
    )
    if using_db is None:
        from app.services import routing

        await routing.sync_agent(user.id)
    return event
