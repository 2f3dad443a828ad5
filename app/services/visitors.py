"""Visitors: recognising a browser, counting visits, recording where it is."""

from __future__ import annotations

import secrets
from datetime import timedelta

from app import presence
from app.clock import utcnow
from app.models import Conversation, PageView, Site, Visit, Visitor
from app.realtime import bus
from app.tracking.useragent import classify

VISIT_TIMEOUT = timedelta(minutes=30)


def new_visitor_id() -> str:
    return "v_" + secrets.token_urlsafe(15)


async def recognise(site: Site, visitor_id: str | None, user_agent: str | None) -> Visitor:
    """Return the visitor for this connection, creating it on first sight, and count visits."""
    now = utcnow()
    visitor = await Visitor.get_or_none(id=visitor_id, site_id=site.id) if visitor_id else None
    device = classify(user_agent)
    ua = (user_agent or "")[:512] or None
    if visitor is None:
        visitor = await Visitor.create(
            id=new_visitor_id(), site_id=site.id, first_seen=now, last_seen=now, visit_count=1,
            user_agent=ua, browser=device.browser, os=device.os, device=device.device, is_bot=device.is_bot,
        )
        await Visit.create(site_id=site.id, visitor_id=visitor.id, number=1, started_at=now, last_activity_at=now)
        return visitor
    updates: dict = {"last_seen": now}
    if now - visitor.last_seen > VISIT_TIMEOUT:
        updates["visit_count"] = visitor.visit_count + 1
        await Visit.create(
            site_id=site.id, visitor_id=visitor.id, number=visitor.visit_count + 1, started_at=now, last_activity_at=now
        )
    if ua != visitor.user_agent:
        updates.update(user_agent=ua, browser=device.browser, os=device.os, device=device.device, is_bot=device.is_bot)
    await Visitor.filter(id=visitor.id).update(**updates)
    for key, value in updates.items():
        setattr(visitor, key, value)
    return visitor


async def record_page_view(visitor: Visitor, url: str, title: str | None, referrer: str | None) -> None:
    now = utcnow()
    visit = await Visit.filter(visitor_id=visitor.id).order_by("-started_at").first()
    if visit is None or now - visit.last_activity_at > VISIT_TIMEOUT:
        number = visitor.visit_count + (0 if visit is None else 1)
        visit = await Visit.create(
            site_id=visitor.site_id, visitor_id=visitor.id, number=number, started_at=now, last_activity_at=now,
            landing_url=url, referrer=referrer,
        )
        visitor.visit_count = number
    elif visit.landing_url is None:
        await Visit.filter(id=visit.id).update(landing_url=url, referrer=referrer, last_activity_at=now)
    else:
        await Visit.filter(id=visit.id).update(last_activity_at=now)
    await PageView.create(visit_id=visit.id, visitor_id=visitor.id, url=url, title=title, referrer=referrer, at=now)
    await Visitor.filter(id=visitor.id).update(
        current_url=url, current_title=title, last_seen=now, visit_count=visitor.visit_count
    )
    visitor.current_url, visitor.current_title, visitor.last_seen = url, title, now
    open_chat = await Conversation.filter(visitor_id=visitor.id, status="assigned").first()
    if open_chat is not None:
        await bus.to_staff(
            "visitor.page", {"visitor_id": visitor.id, "url": url, "title": title},
            agent_id=open_chat.agent_id, conversation_id=open_chat.id,
        )


async def is_online(visitor_id: str) -> bool:
    return await presence.count(visitor_id) > 0
