"""Knowledge reports: self-service and deflection, the content visitors miss, the articles read and
inserted, the canned responses used — from the knowledge event log `kb_event` (app/models/knowledge.py)
and the conversations visitors requested. docs/kpis.md "Knowledge base" states every rule.

- `knowledge`: per local day and in total — visitor searches (widget and help pages), those with no
  result, articles read, self-service sessions and how many ended without a chat (deflection),
  articles CSRs inserted (as a link / as text), chats closed after an insert, canned responses used.
  It also carries the three tables below, so the page makes one request for the section.
- `knowledge_unanswered`: what visitors searched for that found nothing, most frequent first.
- `knowledge_articles`: the articles read in the window, most read first, with their inserts.
- `knowledge_canned`: the canned responses used in the window, most used first.

A **self-service session** is built from one visitor's searches and reads in the window: it starts
at their first one and holds every one less than `SESSION_MINUTES` after that start; the first event
at or after that opens their next session. It is **deflected** when the visitor requested no chat
from its start until `SESSION_MINUTES` after its last event. It is counted for the deflection rate
only once that follow-up time has passed before the window's end (or now, for a window that has not
ended); sessions still open to a chat are shown apart (`sessions` − `sessions_counted`).

Counts are SQL aggregates over every matching row; sessions need each visitor's moments in order, so
those two columns are read for the window's searches and reads (no other text) and grouped here.
Statements are written for both back ends as in app/reports/workorder_report.py.

Scope: admins count every site's events; a supervisor the events of the sites they serve
(`Reach.sites`, None: every site). The department and CSR filters of the page do not apply here: a
visitor's search belongs to no queue.

The CSV of these reports is headed by the columns' machine names (`key`), which stay stable.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.clock import iso, utcnow
from app.kpi.intervals import as_zone
from app.models import Article, CannedResponse
from app.reports.kpi_report import Query
from app.reports.workorder_report import _Sql, _columns, _days, _dialect, _moment, _n, _rows, _window

REPORTS = ("knowledge", "knowledge_unanswered", "knowledge_articles", "knowledge_canned")
SESSION_MINUTES = 30
VISITOR_SOURCES = ("widget", "page")  # the widget's Help panel and the public help pages
SESSION = timedelta(minutes=SESSION_MINUTES)

DAILY = ("searches", "searches_no_result", "reads", "sessions", "sessions_counted", "deflected",
         "inserted_link", "inserted_text", "chats_closed_after_insert", "canned_used")


# --------------------------------------------------------------------------------------------
# Pure rules (tested through the report; plain values in, plain values out)


@dataclass(frozen=True)
class Session:
    visitor_id: str
    start: datetime
    last: datetime
    events: int


def sessions_of(moments: list[tuple[str, datetime]]) -> list[Session]:
    """Self-service sessions from (visitor, moment) pairs sorted by visitor, then moment."""
    out: list[Session] = []
    current: Session | None = None
    for visitor, at in moments:
        if current is not None and current.visitor_id == visitor and at - current.start < SESSION:
            current = Session(visitor, current.start, at, current.events + 1)
            continue
        if current is not None:
            out.append(current)
        current = Session(visitor, at, at, 1)
    if current is not None:
        out.append(current)
    return out


def settled(session: Session, as_of: datetime) -> bool:
    """Whether the session's follow-up time (no chat until `SESSION_MINUTES` after its last event)
    has passed by `as_of`."""
    return session.last + SESSION <= as_of


def deflected(session: Session, requests: list[datetime]) -> bool:
    """No chat requested in [start, last + SESSION_MINUTES); `requests`: the visitor's, sorted."""
    first_after = bisect_left(requests, session.start)
    return first_after >= len(requests) or requests[first_after] >= session.last + SESSION


def normal_query(query: str) -> str:
    """A search as it is counted among the unanswered ones: case and spacing do not make another."""
    return " ".join(query.casefold().split())


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


# --------------------------------------------------------------------------------------------
# SQL


def _site_scope(sql: _Sql, query: Query, column: str = "e.site_id") -> str:
    sites = None if query.reach is None else query.reach.sites
    return "1 = 1" if sites is None else sql.among(column, sites)


def _visitor_steps(sql: _Sql, query: Query, lo: datetime, hi: datetime) -> str:
    """The window's visitor searches and reads (in scope)."""
    sources = ", ".join(f"'{s}'" for s in VISITOR_SOURCES)
    return (f"e.kind IN ('search', 'read') AND e.source IN ({sources}) AND {sql.within('e.at', lo, hi)} "
            f"AND {_site_scope(sql, query)}")


async def _counts(query: Query, dialect: str, edges: list[datetime], days: int) -> list[dict[str, int]]:
    lo, hi = edges[0], edges[-1]
    sql = _Sql(dialect)
    how = sql.json_text("e.data", "how")
    sources = ", ".join(f"'{s}'" for s in VISITOR_SOURCES)
    text = (
        f"SELECT {sql.day_index('e.at', edges)} AS d, "
        f"SUM(CASE WHEN e.kind = 'search' AND e.source IN ({sources}) THEN 1 ELSE 0 END) AS searches, "
        f"SUM(CASE WHEN e.kind = 'search' AND e.source IN ({sources}) AND e.results = 0 THEN 1 ELSE 0 END) "
        "AS searches_no_result, "
        f"SUM(CASE WHEN e.kind = 'read' AND e.source IN ({sources}) THEN 1 ELSE 0 END) AS reads, "
        f"SUM(CASE WHEN e.kind = 'inserted' AND {how} = 'link' THEN 1 ELSE 0 END) AS inserted_link, "
        f"SUM(CASE WHEN e.kind = 'inserted' AND {how} = 'text' THEN 1 ELSE 0 END) AS inserted_text, "
        "SUM(CASE WHEN e.kind = 'canned_used' THEN 1 ELSE 0 END) AS canned_used "
        f"FROM kb_event e WHERE e.kind IN ('search', 'read', 'inserted', 'canned_used') "
        f"AND {sql.within('e.at', lo, hi)} AND {_site_scope(sql, query)} GROUP BY 1"
    )
    out = [{key: 0 for key in DAILY} for _ in range(days)]
    for row in await _rows(sql, text):
        bucket = out[int(row["d"])]
        for key in ("searches", "searches_no_result", "reads", "inserted_link", "inserted_text", "canned_used"):
            bucket[key] += _n(row[key])

    # Chats closed after an insert: each conversation once, on the day of its first insert in the window.
    sql = _Sql(dialect)
    firsts = (f"SELECT e.conversation_id AS cid, MIN(e.at) AS first_at FROM kb_event e WHERE e.kind = 'inserted' "
              f"AND e.conversation_id IS NOT NULL AND {sql.within('e.at', lo, hi)} AND {_site_scope(sql, query)} "
              "GROUP BY e.conversation_id")
    closed = (f"SELECT c.conversation_id AS cid FROM conversation_event c WHERE c.kind = 'closed' "
              f"AND c.at < {sql.arg(hi)} AND c.at >= f.first_at AND c.conversation_id = f.cid")
    text = (f"SELECT {sql.day_index('f.first_at', edges)} AS d, COUNT(*) AS n FROM ({firsts}) f "
            f"WHERE EXISTS ({closed}) GROUP BY 1")
    for row in await _rows(sql, text):
        out[int(row["d"])]["chats_closed_after_insert"] += _n(row["n"])
    return out


async def _sessions(query: Query, dialect: str, edges: list[datetime], counts: list[dict[str, int]]) -> datetime:
    """Adds each day's sessions, sessions counted for the rate and deflected ones; returns the
    moment sessions were judged at."""
    lo, hi = edges[0], edges[-1]
    as_of = min(hi, utcnow())
    sql = _Sql(dialect)
    text = (f"SELECT e.visitor_id AS v, e.at AS at FROM kb_event e WHERE {_visitor_steps(sql, query, lo, hi)} "
            "AND e.visitor_id IS NOT NULL ORDER BY e.visitor_id, e.at, e.id")
    moments = [(r["v"], _moment(r["at"])) for r in await _rows(sql, text)]
    if not moments:
        return as_of
    sql = _Sql(dialect)
    steps = _visitor_steps(sql, query, lo, hi)
    text = (f"SELECT c.visitor_id AS v, c.requested_at AS at FROM conversation c WHERE c.requested_at >= {sql.arg(lo)} "
            f"AND c.requested_at < {sql.arg(as_of)} AND c.visitor_id IN "
            f"(SELECT e.visitor_id FROM kb_event e WHERE {steps} AND e.visitor_id IS NOT NULL)")
    requests: dict[str, list[datetime]] = {}
    for row in await _rows(sql, text):
        requests.setdefault(row["v"], []).append(_moment(row["at"]))
    for moments_of in requests.values():
        moments_of.sort()
    starts = edges[1:-1]
    for session in sessions_of(moments):
        day = counts[bisect_right(starts, session.start)]
        day["sessions"] += 1
        if settled(session, as_of):
            day["sessions_counted"] += 1
            day["deflected"] += deflected(session, requests.get(session.visitor_id, []))
    return as_of


# --------------------------------------------------------------------------------------------
# The reports


DAILY_COLUMNS = _columns(
    ("day", "Day", "text"), ("searches", "Searches", "count"),
    ("searches_no_result", "Searches with no result", "count"), ("reads", "Articles read", "count"),
    ("sessions", "Self-service sessions", "count"), ("sessions_counted", "Sessions counted for deflection", "count"),
    ("deflected", "Deflected sessions", "count"), ("deflection_rate", "Deflection rate", "percent"),
    ("inserted_link", "Articles inserted as a link", "count"),
    ("inserted_text", "Articles inserted as text", "count"),
    ("chats_closed_after_insert", "Chats closed after an insert", "count"),
    ("canned_used", "Canned responses used", "count"))


async def knowledge(query: Query) -> dict[str, Any]:
    dialect = _dialect()
    days, edges = _days(query)
    counts = await _counts(query, dialect, edges, len(days))
    as_of = await _sessions(query, dialect, edges, counts)
    rows = [{"day": d.isoformat(), **c, "deflection_rate": _rate(c["deflected"], c["sessions_counted"])}
            for d, c in zip(days, counts)]
    totals = {key: sum(c[key] for c in counts) for key in DAILY}
    totals["deflection_rate"] = _rate(totals["deflected"], totals["sessions_counted"])
    rows.append({"day": "Total", **totals})
    return {"title": "Knowledge base per day", "window": _window(query), "as_of": iso(as_of),
            "session_minutes": SESSION_MINUTES, "totals": totals, "columns": DAILY_COLUMNS, "rows": rows,
            "unanswered": await unanswered(query, dialect), "articles": await articles(query, dialect),
            "canned": await canned(query, dialect)}


async def unanswered(query: Query, dialect: str | None = None) -> dict[str, Any]:
    lo, hi = query.window
    sql = _Sql(dialect or _dialect())
    text = (f"SELECT e.query AS q, COUNT(*) AS n, MAX(e.at) AS last FROM kb_event e "
            f"WHERE e.kind = 'search' AND e.results = 0 AND e.query IS NOT NULL AND "
            f"{_visitor_steps(sql, query, lo, hi)} GROUP BY e.query")
    merged: dict[str, dict[str, Any]] = {}
    for row in await _rows(sql, text):
        key = normal_query(row["q"])
        if not key:
            continue
        last = _moment(row["last"])
        entry = merged.setdefault(key, {"query": key, "searches": 0, "last_searched": last})
        entry["searches"] += _n(row["n"])
        entry["last_searched"] = max(entry["last_searched"], last)
    rows = sorted(merged.values(), key=lambda r: (-r["searches"], r["query"]))
    zone = as_zone(query.time_zone)
    for row in rows:  # the center's local time, with its offset
        row["last_searched"] = row["last_searched"].astimezone(zone).isoformat()
    return {"title": "Searches with no result", "window": _window(query),
            "columns": _columns(("query", "Search", "text"), ("searches", "Searches", "count"),
                                ("last_searched", "Last searched", "time")),
            "rows": rows}


async def articles(query: Query, dialect: str | None = None) -> dict[str, Any]:
    lo, hi = query.window
    sql = _Sql(dialect or _dialect())
    how = sql.json_text("e.data", "how")
    sources = ", ".join(f"'{s}'" for s in VISITOR_SOURCES)
    text = (f"SELECT e.article_id AS a, "
            f"SUM(CASE WHEN e.kind = 'read' AND e.source IN ({sources}) THEN 1 ELSE 0 END) AS reads, "
            f"SUM(CASE WHEN e.kind = 'inserted' AND {how} = 'link' THEN 1 ELSE 0 END) AS inserted_link, "
            f"SUM(CASE WHEN e.kind = 'inserted' AND {how} = 'text' THEN 1 ELSE 0 END) AS inserted_text "
            f"FROM kb_event e WHERE e.kind IN ('read', 'inserted') AND e.article_id IS NOT NULL "
            f"AND {sql.within('e.at', lo, hi)} AND {_site_scope(sql, query)} GROUP BY e.article_id")
    found = [r for r in await _rows(sql, text)
             if _n(r["reads"]) or _n(r["inserted_link"]) or _n(r["inserted_text"])]
    titles = dict(await Article.filter(id__in=[r["a"] for r in found]).values_list("id", "title"))
    rows = [{"article_id": int(r["a"]), "title": titles.get(r["a"], f"#{r['a']} (deleted)"), "reads": _n(r["reads"]),
             "inserted_link": _n(r["inserted_link"]), "inserted_text": _n(r["inserted_text"])} for r in found]
    rows.sort(key=lambda r: (-r["reads"], -(r["inserted_link"] + r["inserted_text"]), r["article_id"]))
    return {"title": "Articles read", "window": _window(query),
            "columns": _columns(("article_id", "Article id", "count"), ("title", "Title", "text"),
                                ("reads", "Reads", "count"), ("inserted_link", "Inserted as a link", "count"),
                                ("inserted_text", "Inserted as text", "count")),
            "rows": rows}


async def canned(query: Query, dialect: str | None = None) -> dict[str, Any]:
    lo, hi = query.window
    sql = _Sql(dialect or _dialect())
    text = (f"SELECT e.canned_id AS c, COUNT(*) AS n FROM kb_event e WHERE e.kind = 'canned_used' "
            f"AND e.canned_id IS NOT NULL AND {sql.within('e.at', lo, hi)} AND {_site_scope(sql, query)} "
            "GROUP BY e.canned_id")
    found = {int(r["c"]): _n(r["n"]) for r in await _rows(sql, text)}
    known = {c["id"]: c for c in await CannedResponse.filter(id__in=list(found))
             .values("id", "shortcut", "title", "scope", "usage_count")}
    rows = []
    for canned_id, uses in found.items():
        c = known.get(canned_id)
        shortcut = ("/" + c["shortcut"].lstrip("/")) if c else f"#{canned_id} (deleted)"
        rows.append({"canned_id": canned_id, "shortcut": shortcut,
                     "title": c["title"] if c else "", "scope": c["scope"] if c else "",
                     "uses": uses, "usage_count": c["usage_count"] if c else None})
    rows.sort(key=lambda r: (-r["uses"], r["shortcut"]))
    return {"title": "Canned responses used", "window": _window(query),
            "columns": _columns(("canned_id", "Canned response id", "count"), ("shortcut", "Shortcut", "text"),
                                ("title", "Title", "text"), ("scope", "Scope", "text"),
                                ("uses", "Uses in the period", "count"), ("usage_count", "Uses ever", "count")),
            "rows": rows}


async def run(name: str, query: Query) -> dict[str, Any]:
    result = await {"knowledge": knowledge, "knowledge_unanswered": unanswered, "knowledge_articles": articles,
                    "knowledge_canned": canned}[name](query)
    result["csv_header"] = "key"
    return result
