"""The append-only event log that KPIs are computed from."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.clock import utcnow
from app.models import AgentStatusEvent, Conversation, ConversationEvent, User


async def conversation_event(
    conversation: Conversation, kind: str, *, agent_id: int | None = None, at: datetime | None = None,
    using_db: Any = None, **data: Any,
) -> ConversationEvent:
    return await ConversationEvent.create(
        conversation_id=conversation.id,
        site_id=conversation.site_id,
        department_id=conversation.department_id,
        agent_id=agent_id,
        kind=kind,
        at=at or utcnow(),
        data=data,
        using_db=using_db,
    )


async def agent_status_event(
    user: User, status: str, previous: str | None, reason: str | None, at: datetime, using_db: Any = None
) -> AgentStatusEvent:
    return await AgentStatusEvent.create(
        user_id=user.id, status=status, previous_status=previous, reason=reason, at=at, using_db=using_db
    )
