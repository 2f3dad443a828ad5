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

from app import runtime
from app.clock import iso, utcnow
from app.models import Conversation, Department, User
from app import bus
from app.services import ServiceError, agents, assignment, conversations, events

log = logging.getLogger(__name__)
MISSED_OFFERS_REASON = "missed offers"


class OfferTimers(dict[int, asyncio.TimerHandle]):
    """Timers of the offers this worker made (conversation id → timer), so they run out on time
    (the routing tick is the safety net); on the server's runtime."""


def _timers() -> OfferTimers:
    return runtime.current().state(OfferTimers)


async def offer(conversation_id: int, agent_id: int, seconds: int) -> bool:
    """Reserve a waiting chat for one CSR for `seconds`. False when it was taken meanwhile."""
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
    old = _timers().pop(conversation_id, None)
    if old is not None:
        old.cancel()
    _timers()[conversation_id] = loop.call_later(seconds + 0.05, _expire_soon, conversation_id)
    return True


def _expire_soon(conversation_id: int) -> None:
    _timers().pop(conversation_id, None)
    asyncio.ensure_future(_expire_and_route())


async def _expire_and_route() -> None:
    try:  # each `offer_expired` event's listener schedules a routing pass
        await expire_due()
    except Exception:  # the routing tick retries
        log.exception("expiring offers failed")


async def _withdraw(conversation: Conversation, agent_id: int, *, kind: str) -> bool:
    """Take an offer back from a CSR (declined or expired) and remember they had it."""
    if not await _take_back(conversation, agent_id, kind=kind):
        return False
    await _withdrawn(conversation, agent_id, kind=kind)
    return True


async def _take_back(conversation: Conversation, agent_id: int, *, kind: str) -> bool:
    """The database half of a withdrawal (no event yet, so no routing pass is due yet)."""
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
    timer = _timers().pop(conversation.id, None)
    if timer is not None:
        timer.cancel()
    return True


async def _withdrawn(conversation: Conversation, agent_id: int, *, kind: str) -> None:
    """The event (whose listeners sync the routing store and schedule a pass) and the CSR's notice."""
    await events.conversation_event(conversation, kind, agent_id=agent_id)
    await bus.to_staff("conversation.offer_withdrawn",
                       {"conversation_id": conversation.id, "reason": "declined" if kind == "offer_declined" else "expired"},
                       agent_id=agent_id)


async def expire_due() -> int:
    """Withdraw every offer whose time ran out; count misses and set serial missers Away.

    A CSR who reaches the limit is set Away *before* the `offer_expired` event: that event makes a
    routing pass due, which must not offer them the chat again."""
    due = await Conversation.filter(status="waiting", offered_to_id__isnull=False, offer_expires_at__lte=utcnow())
    expired = 0
    for conversation in due:
        agent_id = conversation.offered_to_id
        if not await _take_back(conversation, agent_id, kind="offer_expired"):
            continue
        expired += 1
        # One atomic increment: two workers expiring this CSR's offers at once both count.
        await User.filter(id=agent_id).update(missed_offers=F("missed_offers") + 1)
        agent = await User.get_or_none(id=agent_id)
        if agent is not None:
            limit = 3
            if conversation.department_id is not None:
                department = await Department.get_or_none(id=conversation.department_id)
                if department is not None:
                    limit = department.missed_offers_limit
            if limit > 0 and agent.missed_offers >= limit and agent.status == "available":
                await agents.set_agent_state(agent, "away", MISSED_OFFERS_REASON)
                await User.filter(id=agent.id).update(missed_offers=0)
        await _withdrawn(conversation, agent_id, kind="offer_expired")
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
    conversation = await _offered_to(user, conversation_id)
    try:  # the offer holds the CSR's place already
        await assignment.hand_to(conversation, user, via="offer", offered=True, reserved=True)
    except ServiceError:
        raise ServiceError("invalid_state", "This offer has expired.") from None
    timer = _timers().pop(conversation.id, None)
    if timer is not None:
        timer.cancel()


async def decline(user: User, conversation_id: int) -> None:
    conversation = await _offered_to(user, conversation_id)
    if not await _withdraw(conversation, user.id, kind="offer_declined"):
        raise ServiceError("invalid_state", "This offer has expired.")
    # The `offer_declined` event's listener schedules the next routing pass.
