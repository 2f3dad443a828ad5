"""Visitors: recognising a browser, counting visits, recording where it is."""

from __future__ import annotations

import secrets

from app import presence
from app.clock import utcnow
from app.models import Site, Visitor
from app.tracking import geo
from app.tracking.useragent import classify


def new_visitor_id() -> str:
    return "v_" + secrets.token_urlsafe(15)


async def recognise(site: Site, visitor_id: str | None, user_agent: str | None, ip: str | None = None,
                    *, anonymize_ip: bool = True) -> Visitor:
    """Return the visitor for this connection, creating it on first sight. The user agent is
    parsed once per distinct string (cached); the country comes from the address, which is not
    kept. Visits are counted by the trail (app/services/tracking.py), from page views."""
    now = utcnow()
    visitor = await Visitor.get_or_none(id=visitor_id, site_id=site.id) if visitor_id else None
    device = classify(user_agent)
    ua = (user_agent or "")[:512] or None
    country = geo.country(ip, anonymized=anonymize_ip)
    if visitor is None:
        return await Visitor.create(
            id=new_visitor_id(), site_id=site.id, first_seen=now, last_seen=now, visit_count=0,
            user_agent=ua, browser=device.browser, os=device.os, device=device.device, is_bot=device.is_bot,
            country=country,
        )
    updates: dict = {"last_seen": now}
    if ua != visitor.user_agent:
        updates.update(user_agent=ua, browser=device.browser, os=device.os, device=device.device, is_bot=device.is_bot)
    if country and country != visitor.country:
        updates["country"] = country
    await Visitor.filter(id=visitor.id).update(**updates)
    for key, value in updates.items():
        setattr(visitor, key, value)
    return visitor


async def is_online(visitor_id: str) -> bool:
    return await presence.count(visitor_id) > 0
