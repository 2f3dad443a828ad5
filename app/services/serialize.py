"""The shapes documented in docs/protocol.md, built from models."""

from __future__ import annotations

from typing import Any

from app.clock import iso
from app.models import Conversation, Message, User, Visitor


def message(m: Message) -> dict[str, Any]:
    return {
        "conversation_id": m.conversation_id,
        "seq": m.seq,
        "client_id": m.client_id,
        "sender": m.sender_kind,
        "author": m.author_name,
        "body": m.body,
        "created_at": iso(m.created_at),
    }


def conversation_for_visitor(c: Conversation, agent: User | None = None) -> dict[str, Any]:
    return {
        "id": c.id,
        "status": c.status,
        "agent": {"name": agent.display_name} if agent is not None else None,
        "created_at": iso(c.requested_at),
        "closed_at": iso(c.closed_at),
        "last_seq": c.last_seq,
        "agent_read_seq": c.agent_read_seq,
        "department": c.department_id,
        "queue": None,  # filled in `session` / `sync` while waiting; live changes come as `queue` events
        "rating": None,  # filled in `session` / `sync` / `history` once closed and rated
    }


def visitor_display_name(v: Visitor) -> str:
    return v.name or f"Guest {v.id[-4:]}"


def conversation_for_agent(
    c: Conversation, visitor: Visitor, last_message: Message | None = None, unread: int = 0
) -> dict[str, Any]:
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
        "agent_read_seq": c.agent_read_seq,
        "last_message": message(last_message) if last_message is not None else None,
        "unread": unread,
    }


def visitor_profile(v: Visitor, online: bool) -> dict[str, Any]:
    from app.services import tracking

    v = tracking.latest(v)  # the page they are on now, even before the trail's batch is written
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
