"""The shapes documented in docs/protocol.md, built from models."""

from __future__ import annotations

from typing import Any

from app.clock import iso
from app.models import Conversation, Message, User, Visitor


def message(m: Message) -> dict[str, Any]:
    """A message as staff see it: `seq` in the staff numbering (every message, internal notes too)."""
    return {
        "conversation_id": m.conversation_id,
        "seq": m.seq,
        "client_id": m.client_id,
        "sender": m.sender_kind,
        "author": m.author_name,
        "body": m.body,
        "created_at": iso(m.created_at),
    }


def message_for_visitor(m: Message) -> dict[str, Any]:
    """A message as the visitor sees it: `seq` in the visitor's numbering (1, 2, 3 … over what the
    visitor may see). Internal notes have none and are never sent to a visitor."""
    if m.visitor_seq is None:
        raise ValueError("an internal note has no place in the visitor's numbering")
    return {**message(m), "seq": m.visitor_seq}


def conversation_for_visitor(c: Conversation, agent: User | None = None) -> dict[str, Any]:
    """The visitor's view: `last_seq` and `agent_read_seq` in the visitor's numbering."""
    return {
        "id": c.id,
        "status": c.status,
        "agent": {"name": agent.display_name} if agent is not None else None,
        "created_at": iso(c.requested_at),
        "closed_at": iso(c.closed_at),
        "last_seq": c.visitor_last_seq,
        "agent_read_seq": c.agent_read_seq,  # stored in the visitor's numbering
        "department": c.department_id,
        "queue": None,  # filled in `session` / `sync` while waiting; live changes come as `queue` events
        "rating": None,  # filled in `session` / `sync` / `history` once closed and rated
    }


def visitor_display_name(v: Visitor) -> str:
    return v.name or f"Guest {v.id[-4:]}"


def conversation_for_agent(
    c: Conversation, visitor: Visitor, last_message: Message | None = None, unread: int = 0, *,
    agent_read_seq: int,
) -> dict[str, Any]:
    """The staff view: every seq in the staff numbering. `agent_read_seq` is passed in, converted
    from the visitor's numbering it is stored in (services/conversations.py, `staff_read_seq`)."""
    return {
        "id": c.id,
        "status": c.status,
        "visitor_id": visitor.id,
        "visitor_name": visitor_display_name(visitor),
        "department": c.department_id,
        "agent_id": c.agent_id,
        "created_at": iso(c.requested_at),
        "assigned_at": iso(c.assigned_at),
        "closed_at": iso(c.closed_at),
        "last_seq": c.last_seq,
        "visitor_read_seq": c.visitor_read_seq,
        "agent_read_seq": agent_read_seq,
        "last_message": message(last_message) if last_message is not None else None,
        "unread": unread,
    }


def visitor_profile(v: Visitor, online: bool) -> dict[str, Any]:
    """`v` as the CSR's sidebar shows it (callers pass `tracking.latest(v)`: the page they are on
    now, even before the trail's batch is written)."""
    return {
        "id": v.id,
        "name": v.name,
        "email": v.email,
        "first_seen": iso(v.first_seen),
        "last_seen": iso(v.last_seen),
        "visit_count": v.visit_count,
        "browser": v.browser,
        "os": v.os,
        "device": v.device,
        "country": v.country,
        "current_page": {"url": v.current_url, "title": v.current_title} if v.current_url else None,
        "online": online,
    }
