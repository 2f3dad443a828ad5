"""Agent state: Available / Away / Offline, each change an agent-status event."""

from __future__ import annotations

from app.clock import utcnow
from app.models import User
from app.models.org import AGENT_STATUSES
from app.realtime import bus
from app.services import ServiceError, events, routing


async def set_agent_state(user: User, status: str, reason: str | None = None) -> User:
    if status not in AGENT_STATUSES:
        raise ServiceError("bad_request", f"status must be one of {', '.join(AGENT_STATUSES)}.")
    if user.role == "marketer":
        raise ServiceError("forbidden", "Marketers do not take chats.")
    previous = user.status
    if previous == status and user.status_reason == reason:
        await bus.to_staff("status", {"status": status}, agent_id=user.id)
        return user
    now = utcnow()
    await User.filter(id=user.id).update(status=status, status_reason=reason, status_changed_at=now)
    await events.agent_status_event(user, status, previous, reason, now)
    user.status, user.status_reason, user.status_changed_at = status, reason, now
    await bus.to_staff("status", {"status": status}, agent_id=user.id)
    await bus.board_changed("status")
    if status == "available":
        await routing.request_routing()
    return user
