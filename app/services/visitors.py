"""Visitors: recognising a browser, counting visits, recording where it is."""

from __future__ import annotations

import ipaddress
import secrets

from app import presence, runtime
from app.clock import utcnow
from app.models import Site, Visitor
from app.services import ServiceError
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
        await _admit_new_visitor(site, ip)
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


def _address_key(ip: str | None) -> str:
    """Whom a new visitor is counted against: the address, or for IPv6 its /64 (one host is
    commonly given a whole /64, and could otherwise take a new address for every connect)."""
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return "unknown"
    if address.version == 6:
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False).network_address) + "/64"
    return str(address)


async def _admit_new_visitor(site: Site, ip: str | None) -> None:
    """A new visitor row is a database write anyone may cause: at most NEW_VISITORS_PER_ADDRESS
    from one address and NEW_VISITORS_PER_SITE for one site (docs/protocol.md, "Limits");
    `rate_limited` with `retry_after` beyond. A returning visitor is never counted."""
    rt = runtime.current()
    by_address = f"newv:a:{_address_key(ip)}"
    for key, (count, window) in ((by_address, rt.settings.new_visitors_per_address),
                                 (f"newv:s:{site.id}", rt.settings.new_visitors_per_site)):
        retry_after = await rt.rate_limiter.hit(key, count, window)
        if retry_after is not None:
            if key != by_address:  # refused for the site: this one does not count against the address
                await rt.rate_limiter.release(by_address)
            exc = ServiceError("rate_limited", "Too many new visitors just now; try again later.")
            exc.extra = {"retry_after": round(retry_after, 1)}  # type: ignore[attr-defined]
            raise exc


async def is_online(visitor_id: str) -> bool:
    return await presence.count(visitor_id) > 0
