"""One visitor's data protection requests: export everything we hold about them, or erase it.

Erasure deletes the visitor and everything that hangs off them — visits, page views, custom
events, invitations, notes left for the team, conversations with their messages, ratings and
their event-log rows, what they searched and read in the help center — so reports of past periods no longer count those chats. Who asked for it
is kept in the audit log (without the visitor's data)."""

from __future__ import annotations

from typing import Any

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from app.clock import iso, utcnow
from app.models import (
    AuditEvent, Conversation, ConversationEvent, Invitation, KnowledgeEvent, Message, OfflineMessage, PageView,
    TrackEvent, User, Visit, Visitor,
)
from app.reports import kept_days
from app.services import ServiceError, scope, tracking
from app.tracking import live


def _check(user: User | None) -> None:
    if user is not None and not scope.may_export(user):
        raise ServiceError("forbidden", "Only admins export or erase a visitor's data.")


async def _visitor(visitor_id: str) -> Visitor:
    visitor = await Visitor.get_or_none(id=visitor_id)
    if visitor is None:
        raise ServiceError("not_found", "No such visitor.")
    return visitor


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (iso(v) if hasattr(v, "isoformat") else v) for k, v in row.items()}


MAX_FOUND = 50


async def find(user: User | None, site_id: int, query: str) -> tuple[list[dict[str, Any]], int]:
    """The visitors of a site a data request names: by visitor id or the site's own user id
    (identify's `id`), or by e-mail — the one on their profile (identify, the pre-chat form) or one
    they left with an offline message. Returns (the first MAX_FOUND, most recent first; how many
    match in all)."""
    _check(user)
    query = query.strip() if isinstance(query, str) else ""
    if not query or len(query) > 254:
        return [], 0
    if "@" in query:
        left = await OfflineMessage.filter(site_id=site_id, email__iexact=query).values_list("visitor_id", flat=True)
        matching = Visitor.filter(Q(email__iexact=query) | Q(id__in=list(set(left))), site_id=site_id)
    else:
        matching = Visitor.filter(Q(id=query) | Q(external_id=query), site_id=site_id)
    total = await matching.count()
    rows = await matching.order_by("-last_seen").limit(MAX_FOUND).values(
        "id", "name", "email", "external_id", "first_seen", "last_seen", "visit_count")
    counts = {}
    ids = [r["id"] for r in rows]
    if ids:
        for visitor_id in await Conversation.filter(visitor_id__in=ids).values_list("visitor_id", flat=True):
            counts[visitor_id] = counts.get(visitor_id, 0) + 1
    return [{**r, "conversations": counts.get(r["id"], 0)} for r in rows], total


async def export(user: User | None, visitor_id: str) -> dict[str, Any]:
    """Everything we hold about one visitor, as plain JSON values. `user` None: the command line."""
    _check(user)
    visitor = await _visitor(visitor_id)
    await tracking.flush()
    conversations = await Conversation.filter(visitor_id=visitor.id).order_by("requested_at").values()
    ids = [c["id"] for c in conversations]
    # What the visitor may see, numbered as they see it (docs/protocol.md, "Sequence numbers").
    messages = await Message.filter(conversation_id__in=ids).exclude(sender_kind="internal") \
        .order_by("conversation_id", "visitor_seq") \
        .values("conversation_id", "sender_kind", "author_name", "body", "created_at", seq="visitor_seq") if ids else []
    by_conversation: dict[int, list[dict]] = {}
    for m in messages:
        by_conversation.setdefault(m["conversation_id"], []).append(_plain({k: v for k, v in m.items()
                                                                            if k != "conversation_id"}))
    ratings = await ConversationEvent.filter(conversation_id__in=ids, kind="rated").values("conversation_id", "at", "data") \
        if ids else []
    if user is not None:
        await AuditEvent.create(actor_id=user.id, action="visitor_export", at=utcnow(), data={"visitor_id": visitor.id})
    return {
        "exported_at": iso(utcnow()),
        "visitor": _plain({k: getattr(visitor, k) for k in (
            "id", "site_id", "external_id", "name", "email", "first_seen", "last_seen", "visit_count", "user_agent",
            "browser", "os", "device", "country", "current_url", "current_title", "attributes")}),
        "visits": [_plain(v) for v in await Visit.filter(visitor_id=visitor.id).order_by("started_at").values()],
        "page_views": [_plain(p) for p in await PageView.filter(visitor_id=visitor.id).order_by("at", "id").values(
            "visit_id", "url", "title", "referrer", "at", "active_ms")],
        "events": [_plain(e) for e in await TrackEvent.filter(visitor_id=visitor.id).order_by("at", "id").values(
            "visit_id", "name", "props", "url", "at")],
        "conversations": [{**_plain({k: c[k] for k in ("id", "status", "requested_at", "closed_at") if k in c}),
                           "messages": by_conversation.get(c["id"], [])} for c in conversations],
        "ratings": [_plain(r) for r in ratings],
        "invitations": [_plain(i) for i in await Invitation.filter(visitor_id=visitor.id).order_by("sent_at").values(
            "id", "message", "state", "sent_at", "answered_at")],
        "offline_messages": [_plain(o) for o in await OfflineMessage.filter(visitor_id=visitor.id).values(
            "name", "email", "body", "created_at")],
        "help": [_plain(k) for k in await KnowledgeEvent.filter(visitor_id=visitor.id).order_by("at", "id").values(
            "kind", "query", "article_id", "results", "language", "at")],
    }


async def erase(user: User | None, visitor_id: str) -> dict[str, int]:
    """Delete the visitor and everything we hold about them. Returns what was deleted."""
    _check(user)
    visitor = await _visitor(visitor_id)
    await tracking.flush()
    counts = {
        "visits": await Visit.filter(visitor_id=visitor.id).count(),
        "page_views": await PageView.filter(visitor_id=visitor.id).count(),
        "events": await TrackEvent.filter(visitor_id=visitor.id).count(),
        "conversations": await Conversation.filter(visitor_id=visitor.id).count(),
    }
    requested = await Conversation.filter(visitor_id=visitor.id).values_list("requested_at", flat=True)
    async with in_transaction() as conn:
        await PageView.filter(visitor_id=visitor.id).using_db(conn).delete()
        await TrackEvent.filter(visitor_id=visitor.id).using_db(conn).delete()
        await KnowledgeEvent.filter(visitor_id=visitor.id).using_db(conn).delete()
        await Visitor.filter(id=visitor.id).using_db(conn).delete()  # the rest cascades
        await AuditEvent.create(actor_id=user.id if user else None, action="visitor_erased", at=utcnow(),
                                data={"visitor_id": visitor.id, **counts}, using_db=conn)
    # Their kept KPI facts went with their conversations; the days that held them are derived again
    # (app/reports/kept_days.py), so no worker goes on showing them.
    for at in requested:
        await kept_days.invalidate(at)
    tracking.forget(visitor.id)
    live.forget(visitor.id)
    return counts
