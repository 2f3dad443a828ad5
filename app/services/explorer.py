"""The marketers' trail explorer: visits filtered by where they came from, what they read and
what they did; aggregates over them (landing and exit pages, referrers, keywords, page-to-page
paths, visits and chats per day, the invitation funnel per rule); one visitor's trail.

Marketers see trails and aggregates, never transcripts. Every table has the reports' shape
(`{title, columns: [{key, label, kind}], rows}`) so the page charts it and exports it as CSV.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from tortoise.functions import Count

from app.clock import iso
from app.models import Conversation, InvitationEvent, InvitationRule, PageView, Site, TrackEvent, Visit, Visitor
from app.services import ServiceError, tracking

MAX_DAYS = 92
MAX_VISITS = 20_000  # visits an aggregate looks at (the newest first); the page says when it is capped
LIST_LIMIT = 200
TOP = 20
REFERRER_TYPES = ("direct", "internal", "search", "social", "email", "paid", "other")
DEVICES = ("desktop", "mobile", "tablet")
TABLES = ("visits", "landing_pages", "exit_pages", "referrers", "keywords", "paths", "daily", "funnel")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True)
class Filters:
    start: date
    end: date  # inclusive
    time_zone: str
    site_id: int | None = None
    referrer_type: str | None = None
    referrer_domain: str | None = None
    keyword: str | None = None
    landing: str | None = None  # path prefix of the landing page
    country: str | None = None
    device: str | None = None
    visitor: str | None = None  # new | returning
    chat: bool | None = None
    converted: bool | None = None

    @property
    def window(self) -> tuple[datetime, datetime]:
        zone = ZoneInfo(self.time_zone)
        lo = datetime.combine(self.start, datetime.min.time(), zone)
        hi = datetime.combine(self.end + timedelta(days=1), datetime.min.time(), zone)
        return lo, hi


def _date(value: str | None, name: str, default: date) -> date:
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ServiceError("bad_request", "'%(name)s' is a date such as 2026-11-23.", name=name) from None


def _choice(params, name: str, allowed) -> str | None:
    value = params.get(name) or None
    if value is not None and value not in allowed:
        raise ServiceError("bad_request", "'%(name)s' is one of %(allowed)s.", name=name, allowed=", ".join(allowed))
    return value


def _text(params, name: str, limit: int = 200) -> str | None:
    value = (params.get(name) or "").strip()
    if len(value) > limit:
        raise ServiceError("bad_request", "'%(name)s' is at most %(most)s characters.", name=name, most=limit)
    return value or None


def _yes_no(params, name: str) -> bool | None:
    value = params.get(name) or None
    if value is None:
        return None
    if value not in ("yes", "no"):
        raise ServiceError("bad_request", "'%(name)s' is yes or no.", name=name)
    return value == "yes"


def parse(params, time_zone: str, today: date) -> Filters:
    end = _date(params.get("to"), "to", today)
    start = _date(params.get("from"), "from", end - timedelta(days=6))
    if start > end:
        raise ServiceError("bad_request", "'from' is after 'to'.")
    if (end - start).days + 1 > MAX_DAYS:
        raise ServiceError("bad_request", "Explore at most %(most)s days at a time.", most=MAX_DAYS)
    site = params.get("site") or None
    if site is not None and not site.isdigit():
        raise ServiceError("bad_request", "'site' is a site id.")
    country = (params.get("country") or "").strip().upper() or None
    if country is not None and not _COUNTRY.match(country):
        raise ServiceError("bad_request", "'country' is a two-letter country code.")
    domain = _text(params, "referrer_domain", 253)
    return Filters(
        start=start, end=end, time_zone=time_zone, site_id=int(site) if site else None,
        referrer_type=_choice(params, "referrer_type", REFERRER_TYPES),
        referrer_domain=domain.lower().removeprefix("www.") if domain else None,
        keyword=(_text(params, "keyword", 100) or "").lower() or None, landing=_text(params, "landing"),
        country=country, device=_choice(params, "device", DEVICES),
        visitor=_choice(params, "visitor", ("new", "returning")), chat=_yes_no(params, "chat"),
        converted=_yes_no(params, "converted"),
    )


def _path(url: str | None) -> str:
    if not url:
        return "(unknown)"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unknown)"
    return parts.path or "/"


def _column(key: str, label: str, kind: str = "text") -> dict:
    return {"key": key, "label": label, "kind": kind}


async def _conversion_events(site_ids: set[int]) -> dict[int, set[str]]:
    return {site.id: set(tracking.settings_of(site).conversion_events) for site in await Site.filter(id__in=site_ids)}


async def visits(filters: Filters) -> tuple[list[dict], bool]:
    """The visits in the window that pass the filters, newest first, with their pages, chat and
    conversion flags. The second value says the window held more than MAX_VISITS."""
    lo, hi = filters.window
    query = Visit.filter(started_at__gte=lo, started_at__lt=hi)
    if filters.site_id is not None:
        query = query.filter(site_id=filters.site_id)
    if filters.visitor == "new":
        query = query.filter(number=1)
    elif filters.visitor == "returning":
        query = query.filter(number__gt=1)
    for key in ("referrer_type", "country", "device"):
        value = getattr(filters, key)
        if value is not None:
            query = query.filter(**{key: value})
    rows = await query.order_by("-started_at").limit(MAX_VISITS + 1).values()
    capped = len(rows) > MAX_VISITS
    rows = rows[:MAX_VISITS]
    bots = set(await Visitor.filter(id__in={r["visitor_id"] for r in rows}, is_bot=True).values_list("id", flat=True))
    rows = [r for r in rows if r["visitor_id"] not in bots]
    if filters.referrer_domain:
        wanted = filters.referrer_domain
        rows = [r for r in rows if (r.get("referrer_domain") or "").lower().removeprefix("www.") == wanted
                or (r.get("referrer_domain") or "").lower().endswith("." + wanted)]
    if filters.keyword:
        rows = [r for r in rows if filters.keyword in (r.get("keywords") or "").lower()]
    ids = [r["id"] for r in rows]
    pages: dict[int, list[dict]] = defaultdict(list)
    for start in range(0, len(ids), 5000):
        for p in await PageView.filter(visit_id__in=ids[start:start + 5000]).order_by("visit_id", "at", "id") \
                .values("visit_id", "url", "title", "at", "active_ms"):
            pages[p["visit_id"]].append(p)
    if filters.landing:
        rows = [r for r in rows if _path(r.get("landing_url") or (pages[r["id"]][0]["url"] if pages[r["id"]] else None))
                .startswith(filters.landing)]
    chats = await _chats(rows)
    conversions = await _conversions(rows)
    out = []
    for r in rows:
        trail = pages[r["id"]]
        item = {
            "id": r["id"], "visitor_id": r["visitor_id"], "site_id": r["site_id"], "number": r["number"],
            "started_at": iso(r["started_at"]), "last_activity_at": iso(r["last_activity_at"]),
            "landing_url": r.get("landing_url") or (trail[0]["url"] if trail else None),
            "exit_url": trail[-1]["url"] if trail else r.get("landing_url"),
            "pages": len(trail), "referrer": r.get("referrer"), "referrer_type": r.get("referrer_type"),
            "referrer_domain": r.get("referrer_domain"), "keywords": r.get("keywords"), "country": r.get("country"),
            "device": r.get("device"), "utm": r.get("utm") or {}, "chat": r["id"] in chats,
            "converted": r["id"] in conversions,
            "trail": [{"url": p["url"], "title": p["title"], "at": iso(p["at"]), "active_ms": p["active_ms"]}
                      for p in trail],
        }
        if filters.chat is not None and item["chat"] != filters.chat:
            continue
        if filters.converted is not None and item["converted"] != filters.converted:
            continue
        out.append(item)
    return out, capped


async def _chats(rows: list[dict]) -> set[int]:
    """Visits during which the visitor started a chat."""
    if not rows:
        return set()
    by_visitor: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_visitor[r["visitor_id"]].append(r)
    found = set()
    lo = min(r["started_at"] for r in rows)
    for c in await Conversation.filter(visitor_id__in=list(by_visitor), requested_at__gte=lo) \
            .values("visitor_id", "requested_at"):
        for r in by_visitor[c["visitor_id"]]:
            if r["started_at"] <= c["requested_at"] <= r["last_activity_at"] + timedelta(minutes=30):
                found.add(r["id"])
    return found


async def _conversions(rows: list[dict]) -> set[int]:
    """Visits with a conversion: a custom event the site counts as one (tracking.conversion_events)."""
    if not rows:
        return set()
    await tracking.flush()
    names = await _conversion_events({r["site_id"] for r in rows})
    found = set()
    ids = [r["id"] for r in rows]
    site_of = {r["id"]: r["site_id"] for r in rows}
    for start in range(0, len(ids), 5000):
        for e in await TrackEvent.filter(visit_id__in=ids[start:start + 5000]).values("visit_id", "name"):
            if e["name"] in names.get(site_of.get(e["visit_id"]), ()):
                found.add(e["visit_id"])
    return found


def _top(counter: Counter, key: str, label: str, title: str, extra: dict | None = None) -> dict:
    rows = [{key: name, "visits": n, **((extra or {}).get(name, {}))} for name, n in counter.most_common(TOP)]
    columns = [_column(key, label), _column("visits", "Visits", "count")]
    if extra:
        columns += [_column(k, k.replace("_", " ").capitalize(), "count") for k in next(iter(extra.values()), {})]
    return {"title": title, "columns": columns, "rows": rows}


async def table(name: str, filters: Filters) -> dict[str, Any]:
    if name not in TABLES:
        raise ServiceError("not_found", "No table %(name)s.", name=repr(name))
    if name == "funnel":
        return await funnel(filters)
    found, capped = await visits(filters)
    result: dict[str, Any]
    if name == "visits":
        rows = [{**{k: v for k, v in item.items() if k != "trail"}, "chat": "yes" if item["chat"] else "no",
                 "converted": "yes" if item["converted"] else "no", "utm": _utm_text(item["utm"])}
                for item in found[:LIST_LIMIT]]
        result = {"title": "Visits", "total": len(found), "columns": [
            _column("started_at", "Started", "time"), _column("visitor_id", "Visitor"), _column("number", "Visit", "count"),
            _column("landing_url", "Landing page"), _column("exit_url", "Exit page"), _column("pages", "Pages", "count"),
            _column("referrer_type", "Referrer type"), _column("referrer_domain", "Referrer"),
            _column("keywords", "Keywords"), _column("utm", "UTM"), _column("country", "Country"),
            _column("device", "Device"), _column("chat", "Chat"), _column("converted", "Converted"),
        ], "rows": rows}
    elif name == "landing_pages":
        result = _top(Counter(_path(v["landing_url"]) for v in found), "page", "Landing page", "Top landing pages")
    elif name == "exit_pages":
        result = _top(Counter(_path(v["exit_url"]) for v in found), "page", "Exit page", "Top exit pages")
    elif name == "referrers":
        result = _top(Counter(f"{v['referrer_type'] or 'unknown'} · {v['referrer_domain'] or '—'}" for v in found),
                      "referrer", "Referrer", "Top referrers")
    elif name == "keywords":
        result = _top(Counter((v["keywords"] or "").lower() for v in found if v["keywords"]), "keywords",
                      "Search keywords", "Top search keywords")
    elif name == "paths":
        pairs: Counter = Counter()
        for v in found:
            trail = [_path(p["url"]) for p in v["trail"]]
            for a, b in zip(trail, trail[1:]):
                if a != b:
                    pairs[(a, b)] += 1
        result = {"title": "Most common paths (page → next page)", "columns": [
            _column("from", "From"), _column("to", "To"), _column("visits", "Times", "count")],
            "rows": [{"from": a, "to": b, "visits": n} for (a, b), n in pairs.most_common(TOP)]}
    else:  # daily
        zone = ZoneInfo(filters.time_zone)
        per_day: dict[str, dict[str, int]] = {}
        day = filters.start
        while day <= filters.end:
            per_day[day.isoformat()] = {"visits": 0, "chats": 0, "conversions": 0}
            day += timedelta(days=1)
        for v in found:
            key = datetime.fromisoformat(v["started_at"]).astimezone(zone).date().isoformat()
            if key in per_day:
                per_day[key]["visits"] += 1
                per_day[key]["chats"] += int(v["chat"])
                per_day[key]["conversions"] += int(v["converted"])
        result = {"title": "Visits and chats per day", "columns": [
            _column("day", "Day"), _column("visits", "Visits", "count"), _column("chats", "Visits with a chat", "count"),
            _column("conversions", "Conversions", "count")],
            "rows": [{"day": d, **counts} for d, counts in per_day.items()]}
    result["capped"] = capped
    return result


def _utm_text(utm: Any) -> str:
    if not isinstance(utm, dict):
        return ""
    return " ".join(f"{k.removeprefix('utm_')}={v}" for k, v in sorted(utm.items()) if isinstance(v, str))


async def funnel(filters: Filters) -> dict[str, Any]:
    """The invitation funnel per rule (manual invitations as one row): sent → shown → accepted
    → chat → conversion, from the invitation event log."""
    lo, hi = filters.window
    query = InvitationEvent.filter(at__gte=lo, at__lt=hi)
    if filters.site_id is not None:
        query = query.filter(site_id=filters.site_id)
    counts: dict[int | None, Counter] = defaultdict(Counter)
    for row in await query.group_by("rule_id", "kind").annotate(n=Count("id")).values("rule_id", "kind", "n"):
        counts[row["rule_id"]][row["kind"]] = row["n"]
    names = {r["id"]: r["name"] for r in await InvitationRule.filter(id__in=[i for i in counts if i]).values("id", "name")}
    rows = []
    for rule_id, c in sorted(counts.items(), key=lambda kv: (kv[0] is not None, names.get(kv[0], ""))):
        sent = c["sent"]
        rows.append({
            "rule": names.get(rule_id, f"Rule {rule_id} (deleted)") if rule_id else "Manual invitations",
            "sent": sent, "shown": c["shown"], "accepted": c["accepted"], "chats": c["chat_started"],
            "conversions": c["converted"], "declined": c["declined"], "expired": c["expired"],
            "acceptance": round(c["accepted"] / sent, 4) if sent else None,
            "conversion": round(c["converted"] / c["chat_started"], 4) if c["chat_started"] else None,
        })
    return {"title": "Invitation funnel per rule", "capped": False, "columns": [
        _column("rule", "Rule"), _column("sent", "Sent", "count"), _column("shown", "Shown", "count"),
        _column("accepted", "Accepted", "count"), _column("chats", "Chats", "count"),
        _column("conversions", "Conversions", "count"), _column("declined", "Declined", "count"),
        _column("expired", "Expired", "count"), _column("acceptance", "Accepted / sent", "percent"),
        _column("conversion", "Converted / chats", "percent")], "rows": rows}


async def trail(visitor_id: str) -> dict[str, Any]:
    """One visitor's trail: every visit with its pages and events — no transcripts."""
    visitor = await Visitor.get_or_none(id=visitor_id)
    if visitor is None or visitor.is_bot:
        raise ServiceError("not_found", "No such visitor.")
    visits_ = await Visit.filter(visitor_id=visitor.id).order_by("-started_at").limit(100).values()
    pages: dict[int, list[dict]] = defaultdict(list)
    for p in await PageView.filter(visit_id__in=[v["id"] for v in visits_]).order_by("at", "id") \
            .values("visit_id", "url", "title", "at", "active_ms"):
        pages[p["visit_id"]].append({"url": p["url"], "title": p["title"], "at": iso(p["at"]),
                                     "active_ms": p["active_ms"]})
    chats = await Conversation.filter(visitor_id=visitor.id).count()
    return {
        "visitor": {"id": visitor.id, "first_seen": iso(visitor.first_seen), "last_seen": iso(visitor.last_seen),
                    "visits": visitor.visit_count, "country": visitor.country, "device": visitor.device,
                    "browser": visitor.browser, "os": visitor.os, "chats": chats},
        "visits": [{"number": v["number"], "started_at": iso(v["started_at"]), "referrer": v.get("referrer"),
                    "referrer_type": v.get("referrer_type"), "keywords": v.get("keywords"), "utm": v.get("utm") or {},
                    "pages": pages[v["id"]]} for v in visits_],
    }
