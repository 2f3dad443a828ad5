"""Agent state: Available / Away / Offline, each change an agent-status event."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from app.clock import utcnow
from app.models import AgentStatusEvent, AwayReason, Conversation, ConversationEvent, User
from app.models.org import AGENT_STATUSES, CHAT_ROLES
from app import bus
from app.services import ServiceError, audit, events, handoff, routing_state, sessions


DEFAULT_AWAY_REASONS = ("Break", "Meal", "Meeting", "Training", "After-chat work")
# Reasons the server itself gives (never chosen by a CSR).
SYSTEM_REASONS = ("disconnected", "missed offers")
# The Away reason that is after-chat work (wrap-up): its time after a chat's close is handle time.
WRAP_UP_REASON = "After-chat work"


async def away_reasons() -> list[str]:
    """The reasons a CSR may give for Away, in the admin's order (the defaults until edited)."""
    labels = [r.label for r in await AwayReason.all()]
    return labels or list(DEFAULT_AWAY_REASONS)


MAX_AWAY_REASONS = 30


async def set_away_reasons(labels: list[str], actor: User | None = None) -> list[str]:
    """Replace the list (the admin page and `away-reasons --set`); audited with before and after."""
    cleaned: list[str] = []
    for label in labels:
        label = " ".join(label.split())
        if not label or len(label) > 64:
            raise ServiceError("bad_request", "Each away reason needs 1 to 64 characters.")
        if label.lower() in (c.lower() for c in cleaned):
            raise ServiceError("bad_request", "%(reason)s is listed twice.", reason=repr(label))
        cleaned.append(label)
    if not cleaned:
        raise ServiceError("bad_request", "Give at least one away reason.")
    if len(cleaned) > MAX_AWAY_REASONS:
        raise ServiceError("bad_request", "At most %(most)s away reasons.", most=MAX_AWAY_REASONS)
    if any(label.lower() in SYSTEM_REASONS for label in cleaned):
        raise ServiceError("bad_request", "%(reasons)s are given by the server itself.", reasons=", ".join(SYSTEM_REASONS))
    before = await away_reasons()
    async with in_transaction():
        await AwayReason.all().delete()
        for position, label in enumerate(cleaned):
            await AwayReason.create(label=label, position=position)
    if before != cleaned:
        await audit.record(actor, "away_reasons_update", before={"reasons": before}, after={"reasons": cleaned})
    return cleaned


async def choose_state(user: User, status: str, reason: str | None) -> User:
    """A CSR's own change of state: a reason only with Away, and only one from the list."""
    if reason is not None:
        if status != "away":
            raise ServiceError("bad_request", "Only Away takes a reason.")
        if reason not in await away_reasons():
            raise ServiceError("bad_request", "That is not one of the away reasons.")
    return await set_agent_state(user, status, reason)


async def set_agent_state(user: User, status: str, reason: str | None = None) -> User:
    if status not in AGENT_STATUSES:
        raise ServiceError("bad_request", "status must be one of %(statuses)s.", statuses=", ".join(AGENT_STATUSES))
    if user.role not in CHAT_ROLES:
        raise ServiceError("forbidden", "Only CSRs, supervisors and admins take chats.")
    previous = user.status
    if previous == status and user.status_reason == reason:
        await bus.to_staff("status", {"status": status, "reason": reason}, agent_id=user.id)
        if status == "offline":  # nothing is held while Offline (after a restart, say)
            await handoff.requeue_all(user, reason=reason or "offline")
        return user
    now = utcnow()
    if previous == "away" and _is_wrap_up(user.status_reason):
        await _record_wrap_up(user, user.status_changed_at, now)
    await User.filter(id=user.id).update(status=status, status_reason=reason, status_changed_at=now)
    await events.agent_status_event(user, status, previous, reason, now)
    user.status, user.status_reason, user.status_changed_at = status, reason, now
    await bus.to_staff("status", {"status": status, "reason": reason}, agent_id=user.id)
    await bus.board_changed("status")
    if status == "offline":
        # Offline means handing back: every chat they hold goes to the front of its queue (Away keeps them).
        await handoff.requeue_all(user, reason=reason or "offline")
    return user


def _is_wrap_up(reason: str | None) -> bool:
    return reason is not None and reason.strip().lower() == WRAP_UP_REASON.lower()


async def _record_wrap_up(user: User, entered_at, now) -> None:
    """The CSR leaves Away "After-chat work": that time was wrap-up of their latest chat.

    The chat is the latest one they held when it closed (before now), closed no earlier than
    the state they were in just before After-chat work began, and without a wrap-up yet. Its
    wrap-up runs from the close — or from entering After-chat work, if that came later (the
    time in between was ready time, not handle time) — until now: a `wrap_up` event with
    `wrap_up_seconds`, which the KPI engine adds to the chat's handle time.
    """
    if entered_at is None:
        return
    before = await AgentStatusEvent.filter(user_id=user.id, at__lt=entered_at).order_by("-at", "-id").first()
    closes = ConversationEvent.filter(kind="closed", agent_id=user.id, at__lte=now)
    if before is not None:
        closes = closes.filter(at__gte=before.at)
    close = await closes.order_by("-at", "-id").first()
    if close is None or await ConversationEvent.filter(conversation_id=close.conversation_id, kind="wrap_up").exists():
        return
    start = max(close.at, entered_at)
    seconds = (now - start).total_seconds()
    conversation = await Conversation.get_or_none(id=close.conversation_id)
    if conversation is None or seconds <= 0:
        return
    await events.conversation_event(conversation, "wrap_up", agent_id=user.id, at=now,
                                    wrap_up_seconds=round(seconds, 3), started_at=start.isoformat())


async def deactivate(user: User) -> User:
    """The account can no longer sign in or take chats: Offline first (its chats are handed back
    to the queues), then inactive; every session of it ends and its consoles are disconnected."""
    if user.status != "offline":
        await set_agent_state(user, "offline", "deactivated")
    else:
        await handoff.requeue_all(user, reason="deactivated")
    await User.filter(id=user.id).update(is_active=False)
    user.is_active = False
    await sessions.end_all(user.id, "deactivated")
    await routing_state.sync_agent(user.id)
    await bus.board_changed("status")
    return user
