"""The marketers' trail explorer: visits filtered by where they came from, what they read and
what they did; aggregates over them (landing and exit pages, referrers, keywords, UTM campaigns,
page-to-page paths, visits and chats per day, the invitation funnel per rule); one visitor's trail.

Exact at any size: every number counts every visit that matches the filters. The filters are one
SQL condition on `visit` (`_Where`), and each aggregate is a GROUP BY over the visits it keeps,
run in the database (SQLite or PostgreSQL) — no rows are brought into Python to be counted, and
nothing is capped. A page is the key stored with each page view (app/tracking/pages.py). The
visits' CSV streams every row in chunks (`visit_chunks`).

Marketers see trails and aggregates, never transcripts. Every table has the reports' shape
(`{title, columns: [{key, label, kind}], rows}`) so the page charts it and exports it as CSV.
"""

from __future__ import annotations

import asyncio

import json
import re
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.functions import Count

from app import db, runtime
from app.clock import iso
from app.models import Conversation, InvitationEvent, InvitationRule, PageView, Site, TrackEvent, Visit, Visitor
from app.services import ServiceError, tracking
from app.tracking.pages import UNKNOWN

MAX_DAYS = 92
LIST_LIMIT = 200  # visits listed on the page (the CSV has them all)
CHUNK = 1000  # visits per query while the CSV streams
TOP = 20
TRAIL_EVENTS = 2000  # custom events shown in one visitor's trail
CHAT_AFTER = timedelta(minutes=30)  # a chat requested this long after a visit's last activity is still its
REFERRER_TYPES = ("direct", "internal", "search", "social", "email", "paid", "other")
DEVICES = ("desktop", "mobile", "tablet")
UTM = ("utm_campaign", "utm_source", "utm_medium")
TABLES = ("visits", "landing_pages", "exit_pages", "referrers", "keywords", "utm", "paths", "daily", "funnel")
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
    utm_campaign: str | None = None
    utm_source: str | None = None
    utm_medium: str | None = None

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
        **{key: (_text(params, key, 200) or "").lower() or None for key in UTM},
    )


def _column(key: str, label: str, kind: str = "text") -> dict:
    return {"key": key, "label": label, "kind": kind}


async def check_site(filters: Filters) -> None:
    """A site filter names a site that exists (a 400 otherwise, not an empty page)."""
    if filters.site_id is not None and not await Site.exists(id=filters.site_id):
        raise ServiceError("bad_request", "No site %(id)s.", id=filters.site_id)


# --- SQL for both back ends -------------------------------------------------------------------


class _Sql:
    """One statement's arguments, numbered for the connection's dialect (`$n` / `?n`)."""

    def __init__(self) -> None:
        self.connection = db.current_connection(runtime.current().settings)
        self.pg = self.connection.capabilities.dialect == "postgres"
        self.args: list[Any] = []

    def arg(self, value: Any) -> str:
        if isinstance(value, datetime):
            value = value.astimezone(timezone.utc)
            if not self.pg:  # as tortoise writes a moment on SQLite: UTC text, in time order
                value = value.isoformat(" ")
        self.args.append(value)
        return f"${len(self.args)}" if self.pg else f"?{len(self.args)}"

    def like(self, value: str, before: str = "", after: str = "") -> str:
        escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return f"{self.arg(before + escaped + after)} ESCAPE '\\'"

    def json_text(self, column: str, key: str) -> str:
        return f"({column} ->> '{key}')" if self.pg else f"json_extract({column}, '$.{key}')"

    def later(self, moment: str, other: str, delta: timedelta) -> str:
        """`moment` is at most `delta` after `other` (both columns)."""
        if self.pg:
            return f"{moment} <= {other} + INTERVAL '{int(delta.total_seconds())} seconds'"
        return f"julianday({moment}) <= julianday({other}) + {delta.total_seconds() / 86400!r}"

    def day_index(self, column: str, edges: list[datetime]) -> str:
        """The index i of the day [edges[i], edges[i+1]) holding `column`: a balanced CASE."""
        def part(a: int, b: int) -> str:
            if b - a == 1:
                return str(a)
            mid = (a + b) // 2
            return f"CASE WHEN {column} < {self.arg(edges[mid])} THEN {part(a, mid)} ELSE {part(mid, b)} END"

        return part(0, len(edges) - 1)

    async def rows(self, text: str) -> list[dict[str, Any]]:
        return await self.connection.execute_query_dict(text, self.args)


async def _conversion_names(filters: Filters) -> dict[tuple[str, ...], list[int]]:
    """The sites in view grouped by the custom events each counts as a conversion."""
    query = Site.all() if filters.site_id is None else Site.filter(id=filters.site_id)
    groups: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for site in await query:
        names = tuple(sorted(set(tracking.settings_of(site).conversion_events)))
        if names:
            groups[names].append(site.id)
    return groups


async def _visits_sql(sql: _Sql, filters: Filters, columns: str = "v.*") -> str:
    """`SELECT … FROM visit v WHERE <the filters>` with two more columns: `chat` and `converted`
    (1 or 0). Bots' visits are left out."""
    chat = (f"EXISTS (SELECT 1 FROM conversation c WHERE c.visitor_id = v.visitor_id "
            f"AND c.requested_at >= v.started_at AND {sql.later('c.requested_at', 'v.last_activity_at', CHAT_AFTER)})")
    groups = await _conversion_names(filters)
    if groups:
        parts = []
        for names, sites in groups.items():
            site_list = ", ".join(sql.arg(i) for i in sites)
            name_list = ", ".join(sql.arg(n) for n in names)
            parts.append(f"(v.site_id IN ({site_list}) AND e.name IN ({name_list}))")
        converted = f"EXISTS (SELECT 1 FROM track_event e WHERE e.visit_id = v.id AND ({' OR '.join(parts)}))"
    else:
        converted = "1 = 0"
    lo, hi = filters.window
    where = [f"v.started_at >= {sql.arg(lo)}", f"v.started_at < {sql.arg(hi)}",
             "NOT EXISTS (SELECT 1 FROM visitor r WHERE r.id = v.visitor_id AND r.is_bot)"]
    if filters.site_id is not None:
        where.append(f"v.site_id = {sql.arg(filters.site_id)}")
    if filters.visitor == "new":
        where.append("v.number = 1")
    elif filters.visitor == "returning":
        where.append("v.number > 1")
    for key in ("referrer_type", "country", "device"):
        value = getattr(filters, key)
        if value is not None:
            where.append(f"v.{key} = {sql.arg(value)}")
    if filters.referrer_domain:
        where.append(f"(lower(v.referrer_domain) = {sql.arg(filters.referrer_domain)} "
                     f"OR lower(v.referrer_domain) LIKE {sql.like(filters.referrer_domain, '%.')})")
    if filters.keyword:
        where.append(f"lower(v.keywords) LIKE {sql.like(filters.keyword, '%', '%')}")
    if filters.landing:
        where.append(f"v.landing_page LIKE {sql.like(filters.landing, '', '%')}")
    for key in UTM:
        value = getattr(filters, key)
        if value is not None:
            where.append(f"lower({sql.json_text('v.utm', key)}) = {sql.arg(value)}")
    if filters.chat is not None:
        where.append(chat if filters.chat else f"NOT {chat}")
    if filters.converted is not None:
        where.append(converted if filters.converted else f"NOT {converted}")
    return (f"SELECT {columns}, CASE WHEN {chat} THEN 1 ELSE 0 END AS chat, "
            f"CASE WHEN {converted} THEN 1 ELSE 0 END AS converted FROM visit v WHERE {' AND '.join(where)}")


def _n(value: Any) -> int:
    return int(value or 0)


_COUNTS = "COUNT(*) AS visits, SUM(f.chat) AS chats, SUM(f.converted) AS conversions"
_COUNT_COLUMNS = (("visits", "Visits"), ("chats", "Visits with a chat"), ("conversions", "Conversions"))


async def _top(filters: Filters, title: str, keys: list[tuple[str, str, str]], where: str = "") -> dict:
    """The TOP groups of the filtered visits by `keys` ([(key, label, SQL expression)]), each with
    its visits, visits with a chat and conversions."""
    sql = _Sql()
    inner = await _visits_sql(sql, filters)
    group = ", ".join(str(i + 1) for i in range(len(keys)))
    select = ", ".join(f"{expr} AS {key}" for key, _, expr in keys)
    order = ", ".join(key for key, _, _ in keys)
    text = (f"WITH f AS ({inner}) SELECT {select}, {_COUNTS} FROM f {where} "
            f"GROUP BY {group} ORDER BY visits DESC, {order} LIMIT {TOP}")
    rows = [{**{key: r[key] for key, _, _ in keys}, "visits": _n(r["visits"]), "chats": _n(r["chats"]),
             "conversions": _n(r["conversions"])} for r in await sql.rows(text)]
    columns = [_column(key, label) for key, label, _ in keys] + [_column(k, label, "count") for k, label in _COUNT_COLUMNS]
    return {"title": title, "columns": columns, "rows": rows}


async def landing_pages(filters: Filters) -> dict:
    return await _top(filters, "Top landing pages",
                      [("page", "Landing page", f"COALESCE(f.landing_page, '{UNKNOWN}')")])


async def exit_pages(filters: Filters) -> dict:
    """A visit's exit page: its last page view's page (its landing page when it has none) — one
    index lookup per visit (page_view (visit_id, at, id))."""
    last = ("(SELECT p.page FROM page_view p WHERE p.visit_id = f.id ORDER BY p.at DESC, p.id DESC LIMIT 1)")
    return await _top(filters, "Top exit pages",
                      [("page", "Exit page", f"COALESCE({last}, f.landing_page, '{UNKNOWN}')")])


async def referrers(filters: Filters) -> dict:
    result = await _top(filters, "Top referrers", [("kind", "Referrer type", "f.referrer_type"),
                                                   ("domain", "Referrer", "f.referrer_domain")])
    # "search · google.com", as before: one column.
    result["rows"] = [{"referrer": f"{r.pop('kind') or 'unknown'} · {r.pop('domain') or '—'}", **r}
                      for r in result["rows"]]
    result["columns"] = [_column("referrer", "Referrer")] + result["columns"][2:]
    return result


async def keywords(filters: Filters) -> dict:
    return await _top(filters, "Top search keywords", [("keywords", "Search keywords", "lower(f.keywords)")],
                      where="WHERE f.keywords IS NOT NULL AND f.keywords <> ''")


async def utm(filters: Filters) -> dict:
    """Visits per UTM campaign, source and medium (visits that carry at least one of them)."""
    dialect = _Sql()  # only for its JSON syntax
    exprs = [dialect.json_text("f.utm", key) for key in UTM]
    return await _top(filters, "UTM campaigns", [
        ("campaign", "Campaign", exprs[0]), ("source", "Source", exprs[1]), ("medium", "Medium", exprs[2])],
        where="WHERE f.utm <> '{}' AND (" + " OR ".join(f"{e} IS NOT NULL" for e in exprs) + ")")


async def paths(filters: Filters) -> dict:
    """Page → next page within a visit (a reload of the same page is no step), most common first."""
    sql = _Sql()
    inner = await _visits_sql(sql, filters, "v.id")
    text = (f"WITH f AS ({inner}), s AS (SELECT LAG(p.page) OVER (PARTITION BY p.visit_id ORDER BY p.at, p.id) "
            f"AS a, p.page AS b FROM page_view p WHERE p.visit_id IN (SELECT id FROM f)) "
            f"SELECT a, b, COUNT(*) AS n FROM s WHERE a IS NOT NULL AND b IS NOT NULL AND a <> b "
            f"GROUP BY a, b ORDER BY n DESC, a, b LIMIT {TOP}")
    return {"title": "Most common paths (page → next page)", "columns": [
        _column("from", "From"), _column("to", "To"), _column("visits", "Times", "count")],
        "rows": [{"from": r["a"], "to": r["b"], "visits": _n(r["n"])} for r in await sql.rows(text)]}


def _days(filters: Filters) -> tuple[list[date], list[datetime]]:
    zone = ZoneInfo(filters.time_zone)
    days = [filters.start + timedelta(days=i) for i in range((filters.end - filters.start).days + 1)]
    edges = [datetime.combine(d, datetime.min.time(), zone) for d in days]
    edges.append(datetime.combine(filters.end + timedelta(days=1), datetime.min.time(), zone))
    return days, edges


async def daily(filters: Filters) -> dict:
    sql = _Sql()
    days, edges = _days(filters)
    index = sql.day_index("f.started_at", edges)
    inner = await _visits_sql(sql, filters, "v.id, v.started_at")
    counts = {_n(r["d"]): r for r in await sql.rows(f"WITH f AS ({inner}) SELECT {index} AS d, {_COUNTS} "
                                                     f"FROM f GROUP BY 1")}
    rows = []
    for i, day in enumerate(days):
        r = counts.get(i) or {}
        rows.append({"day": day.isoformat(), "visits": _n(r.get("visits")), "chats": _n(r.get("chats")),
                     "conversions": _n(r.get("conversions"))})
    return {"title": "Visits and chats per day", "columns": [_column("day", "Day")] + [
        _column(k, label, "count") for k, label in _COUNT_COLUMNS], "rows": rows}


# --- the visits themselves --------------------------------------------------------------------

VISIT_COLUMNS = [
    _column("started_at", "Started", "time"), _column("visitor_id", "Visitor"), _column("number", "Visit", "count"),
    _column("landing_url", "Landing page"), _column("exit_url", "Exit page"), _column("pages", "Pages", "count"),
    _column("referrer_type", "Referrer type"), _column("referrer_domain", "Referrer"),
    _column("keywords", "Keywords"), _column("utm", "UTM"), _column("country", "Country"),
    _column("device", "Device"), _column("chat", "Chat"), _column("converted", "Converted"),
]


def _moment(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _json(value: Any) -> Any:
    if isinstance(value, (str, bytes)):
        try:
            return json.loads(value)
        except ValueError:
            return {}
    return value


async def _page_facts(ids: list[int]) -> tuple[dict[int, int], dict[int, str]]:
    """Per visit: how many page views, and the URL of the last."""
    if not ids:
        return {}, {}
    sql = _Sql()
    among = ", ".join(sql.arg(i) for i in ids)
    rows = await sql.rows(
        f"SELECT visit_id, url, n FROM (SELECT p.visit_id, p.url, COUNT(*) OVER (PARTITION BY p.visit_id) AS n, "
        f"ROW_NUMBER() OVER (PARTITION BY p.visit_id ORDER BY p.at DESC, p.id DESC) AS rn "
        f"FROM page_view p WHERE p.visit_id IN ({among})) x WHERE rn = 1")
    return {r["visit_id"]: _n(r["n"]) for r in rows}, {r["visit_id"]: r["url"] for r in rows}


async def _visit_rows(filters: Filters, limit: int, after: tuple[Any, int] | None = None) -> list[dict]:
    """The filtered visits, newest first, `limit` of them after the visit `after` (started_at, id)."""
    sql = _Sql()
    inner = await _visits_sql(sql, filters)
    where = ""
    if after is not None:
        at, last_id = after
        where = (f"WHERE f.started_at < {sql.arg(at)} OR (f.started_at = {sql.arg(at)} "
                 f"AND f.id < {sql.arg(last_id)})")
    rows = await sql.rows(f"WITH f AS ({inner}) SELECT * FROM f {where} "
                          f"ORDER BY f.started_at DESC, f.id DESC LIMIT {int(limit)}")
    counts, exits = await _page_facts([r["id"] for r in rows])
    out = []
    for r in rows:
        out.append({
            "id": r["id"], "visitor_id": r["visitor_id"], "site_id": r["site_id"], "number": r["number"],
            "started_at": iso(_moment(r["started_at"])), "last_activity_at": iso(_moment(r["last_activity_at"])),
            "landing_url": r["landing_url"], "exit_url": exits.get(r["id"], r["landing_url"]),
            "pages": counts.get(r["id"], 0), "referrer_type": r["referrer_type"],
            "referrer_domain": r["referrer_domain"], "keywords": r["keywords"], "country": r["country"],
            "device": r["device"], "utm": _utm_text(_json(r["utm"])), "chat": "yes" if r["chat"] else "no",
            "converted": "yes" if r["converted"] else "no", "_cursor": (r["started_at"], r["id"]),
        })
    return out


async def visit_chunks(filters: Filters) -> AsyncIterator[list[dict]]:
    """Every filtered visit, newest first, CHUNK at a time (the CSV streams them)."""
    after = None
    while True:
        rows = await _visit_rows(filters, CHUNK, after)
        if not rows:
            return
        after = rows[-1]["_cursor"]
        yield [{k: v for k, v in r.items() if k != "_cursor"} for r in rows]
        if len(rows) < CHUNK:
            return


async def totals(filters: Filters) -> dict[str, int]:
    sql = _Sql()
    inner = await _visits_sql(sql, filters, "v.id")
    rows = await sql.rows(f"WITH f AS ({inner}) SELECT {_COUNTS} FROM f")
    r = rows[0] if rows else {}
    return {"visits": _n(r.get("visits")), "chats": _n(r.get("chats")), "conversions": _n(r.get("conversions"))}


async def visit_list(filters: Filters) -> dict:
    """The newest LIST_LIMIT visits and how many match in all."""
    rows = await _visit_rows(filters, LIST_LIMIT)
    total = await totals(filters)
    return {"title": "Visits", "total": total["visits"], "chats": total["chats"],
            "conversions": total["conversions"], "columns": VISIT_COLUMNS,
            "rows": [{k: v for k, v in r.items() if k != "_cursor"} for r in rows]}


async def table(name: str, filters: Filters) -> dict[str, Any]:
    if name not in TABLES:
        raise ServiceError("not_found", "No table %(name)s.", name=repr(name))
    await check_site(filters)
    await tracking.flush()
    return await _TABLES[name](filters)


# On PostgreSQL a page's tables are read side by side, at most this many at once (each on a
# connection of the pool, which chats share: the rest of the pool stays free for them).
PAGE_QUERIES_AT_ONCE = 3
# The slowest tables start first, so that the last to start is a short one.
_SLOWEST_FIRST = ("paths", "visits", "exit_pages", "landing_pages", "referrers", "daily", "utm", "funnel", "keywords")
assert sorted(_SLOWEST_FIRST) == sorted(TABLES)


async def page(filters: Filters) -> dict[str, Any]:
    """Everything the explorer's page shows for one choice of filters (one request). On PostgreSQL
    the tables are read side by side (PAGE_QUERIES_AT_ONCE at a time); SQLite has one connection,
    so there they are read one after another."""
    await check_site(filters)
    await tracking.flush()
    if not _Sql().pg:
        return {name: await _TABLES[name](filters) for name in TABLES}
    gate = asyncio.Semaphore(PAGE_QUERIES_AT_ONCE)

    async def one(name: str) -> dict:
        async with gate:
            return await _TABLES[name](filters)

    results = await asyncio.gather(*(one(name) for name in _SLOWEST_FIRST))
    found = dict(zip(_SLOWEST_FIRST, results))
    return {name: found[name] for name in TABLES}


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
            # KPIS.md, as the reports count it: accepted / shown.
            "acceptance": round(c["accepted"] / c["shown"], 4) if c["shown"] else None,
            "conversion": round(c["converted"] / c["chat_started"], 4) if c["chat_started"] else None,
        })
    return {"title": "Invitation funnel per rule", "columns": [
        _column("rule", "Rule"), _column("sent", "Sent", "count"), _column("shown", "Shown", "count"),
        _column("accepted", "Accepted", "count"), _column("chats", "Chats", "count"),
        _column("conversions", "Conversions", "count"), _column("declined", "Declined", "count"),
        _column("expired", "Expired", "count"), _column("acceptance", "Accepted / shown", "percent"),
        _column("conversion", "Converted / chats", "percent")], "rows": rows}


async def trail(visitor_id: str) -> dict[str, Any]:
    """One visitor's trail: every visit with its pages and events — no transcripts."""
    visitor = await Visitor.get_or_none(id=visitor_id)
    if visitor is None or visitor.is_bot:
        raise ServiceError("not_found", "No such visitor.")
    await tracking.flush()
    visits_ = await Visit.filter(visitor_id=visitor.id).order_by("-started_at").limit(100).values()
    pages: dict[int, list[dict]] = defaultdict(list)
    for p in await PageView.filter(visit_id__in=[v["id"] for v in visits_]).order_by("at", "id") \
            .values("visit_id", "url", "title", "at", "active_ms"):
        pages[p["visit_id"]].append({"url": p["url"], "title": p["title"], "at": iso(p["at"]),
                                     "active_ms": p["active_ms"]})
    events: dict[int, list[dict]] = defaultdict(list)
    for e in await TrackEvent.filter(visit_id__in=[v["id"] for v in visits_]).order_by("at", "id") \
            .limit(TRAIL_EVENTS).values("visit_id", "name", "props", "url", "at"):
        events[e["visit_id"]].append({"name": e["name"], "props": e["props"] or {}, "url": e["url"],
                                      "at": iso(e["at"])})
    chats = await Conversation.filter(visitor_id=visitor.id).count()
    return {
        "visitor": {"id": visitor.id, "first_seen": iso(visitor.first_seen), "last_seen": iso(visitor.last_seen),
                    "visits": visitor.visit_count, "country": visitor.country, "device": visitor.device,
                    "browser": visitor.browser, "os": visitor.os, "chats": chats},
        "visits": [{"number": v["number"], "started_at": iso(v["started_at"]), "referrer": v.get("referrer"),
                    "referrer_type": v.get("referrer_type"), "keywords": v.get("keywords"), "utm": v.get("utm") or {},
                    "pages": pages[v["id"]], "events": events[v["id"]]} for v in visits_],
    }


_TABLES = {"visits": visit_list, "landing_pages": landing_pages, "exit_pages": exit_pages, "referrers": referrers,
           "keywords": keywords, "utm": utm, "paths": paths, "daily": daily, "funnel": funnel}
