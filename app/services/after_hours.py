"""Chats asked for outside business hours (docs/kpis.md, "After hours").

A chat a visitor asks for while its queue (a department, else the site's general queue) is outside
its business hours is not a queued chat: `conversations.start_conversation` refuses it with
`outside_hours` and the next opening (the widget shows the hours and offers the offline form; a
note left then is a missed chat "outside business hours"). A department with `accept_after_hours`
holds it instead — status `held`, events `requested` (after_hours) and `held` (opens_at), offered
to nobody — and this module queues it at the opening: the `held` event's listener (`schedule`) sets
a timer on the shared schedule (app/services/timers.py, so it survives a restart or a dead worker),
and the timer (`queue_held`) moves the chat to `waiting` with its queue time starting then (its
`requested_at` becomes the opening; the `queued` event routes it). A visitor who leaves while held
abandons it as an after-hours abandon (`abandoned` with after_hours, no queue time).
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from app import bus
from app.clock import utcnow
from app.models import Conversation, ConversationEvent
from app.services import conversations, events, timers

log = logging.getLogger(__name__)

QUEUE_HELD = "conversation.opening"  # the timer: ``conversation.opening:<conversation id>``


async def schedule(conversation: Conversation, event: ConversationEvent) -> None:
    """Listener of `held`: the chat joins its queue at `opens_at`."""
    data = event.data if isinstance(event.data, dict) else {}
    try:
        opens_at = datetime.fromisoformat(data["opens_at"])
    except (KeyError, TypeError, ValueError):
        opens_at = utcnow()
    if opens_at.tzinfo is None:
        opens_at = opens_at.replace(tzinfo=timezone.utc)
    await timers.schedule(QUEUE_HELD, str(conversation.id), max(0.0, (opens_at - utcnow()).total_seconds()),
                          replace=True)


async def queue_held(subject: str, payload: dict) -> None:
    """The timer: the queue has opened; a chat still held starts waiting in it now."""
    now = utcnow()
    if not await Conversation.filter(id=int(subject), status="held").update(status="waiting", requested_at=now):
        return  # left meanwhile
    conversation = await Conversation.get(id=int(subject))
    await events.conversation_event(conversation, "queued", at=now, after_hours=True)
    await bus.board_changed("queued")
    await conversations.publish_conversation(conversation)
