"""The append-only event log that KPIs are computed from, and the listeners that react to it.

`conversation_event` and `agent_status_event` append a row and then call the listeners registered
for that kind — nothing else. What must follow a fact (the routing store following the chat, the
live Visitors list showing the chat's state, a routing pass when a chat starts waiting) is a
listener, registered at start-up by `app.services.listeners.install`; the registry belongs to the
running server's `Runtime`, so two servers in one process never share one. Rows written inside a
caller's transaction (`using_db`) notify nobody: the caller acts after committing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app import runtime
from app.clock import utcnow
from app.reports import kept_days
from app.models import AgentStatusEvent, Conversation, ConversationEvent, User


def _listeners() -> runtime.Listeners | None:
    rt = runtime.installed()
    return rt.listeners if rt is not None else None


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
    if using_db is None:
        # A late event for a conversation of a kept day makes that day stale (app/reports/kept_days.py);
        # a caller writing inside its own transaction does this after committing.
        await kept_days.invalidate(conversation.requested_at)
    listeners = _listeners()
    if listeners is not None and using_db is None:
        for listener in listeners.conversation.get(kind, ()):
            await listener(conversation, event)
    return event


async def agent_status_event(
    user: User, status: str, previous: str | None, reason: str | None, at: datetime, using_db: Any = None
) -> AgentStatusEvent:
    event = await AgentStatusEvent.create(
        user_id=user.id, status=status, previous_status=previous, reason=reason, at=at, using_db=using_db
    )
    listeners = _listeners()
    if listeners is not None and using_db is None:
        for listener in listeners.agent:
            await listener(user, event)
    return event
