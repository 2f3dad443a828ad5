"""Offer and accept: in a department with `offer_seconds`, routing offers a chat to one CSR, who
accepts or declines it within that time. A declined or unanswered offer goes to the next CSR; a
CSR who lets `missed_offers_limit` offers in a row run out is set Away ("missed offers").

While on offer the chat stays `waiting` (the visitor keeps their place) and is reserved for that
CSR (`offered_to`, `offer_expires_at`): routing does not route it again and counts it against the
CSR's capacity. Every step is an event: offered, offer_declined, offer_expired, and `assigned`
(with `via: "offer"`) on accept.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from tortoise.expressions import F

from app.clock import iso, utcnow
from app.models import Conversation, Department, User
from app import bus
from app.services import ServiceError, agents, events

log = logging.getLogger(__name__)
MISSED_OFFERS_REASON = "missed offers"

# Timers of offers made by this worker, so they run out on time (the routing tick is the safety net).
_timers: dict[int, asyncio.TimerHandle] = {}


async def offer(conversation_id: int, agent_id: int, seconds: int) -> bool:
    """Reserve a waiting chat for one CSR for `seconds`. False when it was taken meanwhile."""
    from app.services import conversations

    now = utcnow()
    expires = now + timedelta(seconds=seconds)
    updated = await Conversation.filter(id=conversation_id, status="waiting", offered_to_id=None).update(
        offered_to_id=agent_id, offer_expires_at=expires
    )
    if not updated:
        return False
    conversation = await Conversation.get(id=conversation_id)
    await events.conversation_event(conversation, "offered", agent_id=agent_id, at=now, seconds=seconds)
    summary = await conversations.agent_summary(conversation)
    await bus.to_staff("conversation.offered", {**summary, "offer_expires_at": iso(expires), "offer_seconds": seconds},
                       agent_id=agent_id)
    loop = asyncio.get_running_loop()
    old = _timers.pop(conversation_id, None)
    if old is not None:
        old.cancel()
    _timers[conversation_id] = loop.call_later(seconds + 0.05, _expire_soon, conversation_id)
    return True


def _expire_soon(conversation_id: int) -> None:
    _timers.pop(conversation_id, None)
    asyncio.ensure_future(_expire_and_route())


async def _expire_and_route() -> None:
    from app.services import routing

    try:
        if await expire_due():
            await routing.request_routing()
    except Exception:  # the routing tick retries
        log.exception("expiring offers failed")


async def _withdraw(conversation: Conversation, agent_id: int, *, kind: str) -> bool:
    """Take an offer back from a CSR (declined or expired) and remember they had it."""
    declined = [i for i in (conversation.declined_by or []) if isinstance(i, int)]
    if agent_id not in declined:
        declined.append(agent_id)
    condition = {"offered_to_id": agent_id}
    if kind == "offer_expired":
        condition["offer_expires_at__lte"] = utcnow()
    updated = await Conversation.filter(id=conversation.id, status="waiting", **condition).update(
        offered_to_id=None, offer_expires_at=None, declined_by=declined
    )
    if not updated:
        return False
    timer = _timers.pop(conversation.id, None)
    if timer is not None:
        timer.cancel()
    await events.conversation_event(conversation, kind, agent_id=agent_id)
    await bus.to_staff("conversation.offer_withdrawn",
                       {"conversation_id": conversation.id, "reason": "declined" if kind == "offer_declined" else "expired"},
                       agent_id=agent_id)
    return True


async def expire_due() -> int:
    """Withdraw every offer whose time ran out; count misses and set serial missers Away."""
    due = await Conversation.filter(status="waiting", offered_to_id__isnull=False, offer_expires_at__lte=utcnow())
    expired = 0
    for conversation in due:
        agent_id = conversation.offered_to_id
        if not await _withdraw(conversation, agent_id, kind="offer_expired"):
            continue
        expired += 1
        # One atomic increment: two workers expiring this CSR's offers at once both count.
        await User.filter(id=agent_id).update(missed_offers=F("missed_offers") + 1)
        agent = await User.get_or_none(id=agent_id)
        if agent is None:
            continue
        limit = 3
        if conversation.department_id is not None:
            department = await Department.get_or_none(id=conversation.department_id)
            if department is not None:
                limit = department.missed_offers_limit
        if limit > 0 and agent.missed_offers >= limit and agent.status == "available":
            await agents.set_agent_state(agent, "away", MISSED_OFFERS_REASON)
            await User.filter(id=agent.id).update(missed_offers=0)
    return expired


async def _offered_to(user: User, conversation_id: int) -> Conversation:
    conversation = await Conversation.get_or_none(id=conversation_id)
    # Only a CSR this chat was offered to may learn anything about it.
    if conversation is None or (conversation.offered_to_id != user.id and conversation.agent_id != user.id
                                and user.id not in (conversation.declined_by or [])):
        raise ServiceError("not_found", "No such offer.")
    if conversation.status != "waiting" or conversation.offered_to_id != user.id \
            or conversation.offer_expires_at is None or conversation.offer_expires_at <= utcnow():
        raise ServiceError("invalid_state", "This offer has expired.")
    return conversation


async def accept(user: User, conversation_id: int) -> None:
    from app.services import routing

    conversation = await _offered_to(user, conversation_id)
    if not await routing.assign(conversation.id, user.id, offered=True):
        raise ServiceError("invalid_state", "This offer has expired.")
    timer = _timers.pop(conversation.id, None)
    if timer is not None:
        timer.cancel()


async def decline(user: User, conversation_id: int) -> None:
    from app.services import routing

    conversation = await _offered_to(user, conversation_id)
    if not await _withdraw(conversation, user.id, kind="offer_declined"):
        raise ServiceError("invalid_state", "This offer has expired.")
    await routing.request_routing()
