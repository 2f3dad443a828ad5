"""Customer satisfaction: after a chat closes, the visitor rates it — good, neutral or bad — with
an optional comment. Each rating is a `rated` event (the latest one counts: a visitor may change
their mind within the window); the CSR who handled the chat sees it live, and the reports count
it per CSR and department."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from app.clock import iso, utcnow
from app.models import Conversation, ConversationEvent, Visitor
from app import bus
from app.services import ServiceError, events

RATINGS = ("good", "neutral", "bad")
MAX_COMMENT = 1000
RATING_WINDOW = timedelta(days=7)


async def ratings_of(conversation_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The current rating of each conversation that has one: {rating, comment, at}."""
    if not conversation_ids:
        return {}
    out: dict[int, dict[str, Any]] = {}
    rows = await ConversationEvent.filter(conversation_id__in=conversation_ids, kind="rated").order_by("id") \
        .values("conversation_id", "at", "data")
    for row in rows:  # later ones win
        data = row["data"] if isinstance(row["data"], dict) else {}
        if data.get("rating") in RATINGS:
            out[row["conversation_id"]] = {"rating": data["rating"], "comment": data.get("comment"), "at": iso(row["at"])}
    return out


async def rate(visitor: Visitor, conversation_id: int, rating: str, comment: str | None) -> dict[str, Any]:
    if rating not in RATINGS:
        raise ServiceError("bad_request", "'rating' must be good, neutral or bad.")
    if comment is not None and len(comment) > MAX_COMMENT:
        raise ServiceError("too_large", "A comment can be at most %(most)s characters.", most=MAX_COMMENT)
    conversation = await Conversation.get_or_none(id=conversation_id, visitor_id=visitor.id)
    if conversation is None:
        raise ServiceError("not_found", "No such conversation.")
    if conversation.status != "closed":
        raise ServiceError("invalid_state", "A chat can be rated once it has ended.")
    if conversation.agent_id is None:
        raise ServiceError("invalid_state", "Only a chat someone answered can be rated.")
    now = utcnow()
    if conversation.closed_at is not None and now - conversation.closed_at > RATING_WINDOW:
        raise ServiceError("invalid_state", "This chat ended too long ago to be rated.")
    comment = comment.strip() or None if comment else None
    await events.conversation_event(conversation, "rated", agent_id=conversation.agent_id, at=now,
                                    rating=rating, comment=comment)
    result = {"rating": rating, "comment": comment, "at": iso(now)}
    await bus.to_staff("conversation.rated", {"conversation_id": conversation.id, **result},
                       agent_id=conversation.agent_id, conversation_id=conversation.id)
    return result
