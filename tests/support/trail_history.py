"""A large trail written straight into a deployment's database (bulk inserts, seconds for tens of
thousands of visits), and what the explorer must count over it — computed here in Python from the
rows themselves, independently of the explorer's SQL.

Visits spread over `days` days ending yesterday (UTC noon ± 8 h, so a day is the same in the
center's default zone); some visitors are bots (their visits are never counted); some visits chat,
some convert (a `purchase` event), some carry UTM tags; pages include hash routes and the
same-page steps the explorer must keep or drop.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from tests.support.server import Deployment

PAGES = ["/", "/tents", "/tents/alpine-2", "/checkout", "/blog/how-to-pitch", "/support", "/support#/faq",
         "/support#/returns", "/pricing", "/about", "/contact", "/shop/boots", "/shop/socks"]
REFERRERS = [("direct", None, None), ("search", "google.com", "blue tent"), ("search", "bing.com", "tent for two"),
             ("social", "facebook.com", None), ("email", None, None), ("paid", "google.com", "cheap tents"),
             ("search", "duckduckgo.com", "alpine tent")]
UTMS = [{}, {}, {"utm_campaign": "winter", "utm_source": "newsletter", "utm_medium": "email"},
        {"utm_campaign": "spring", "utm_source": "google", "utm_medium": "cpc"}, {"utm_source": "facebook"}]
SHOP = "https://shop.example.com"


@dataclass
class History:
    first_day: date
    last_day: date
    visits: list[dict] = field(default_factory=list)  # counted ones (no bots), with their pages
    bot_visits: int = 0

    def first_day_start(self) -> datetime:
        return datetime.combine(self.first_day, datetime.min.time(), timezone.utc)

    def end(self) -> datetime:
        return datetime.combine(self.last_day + timedelta(days=1), datetime.min.time(), timezone.utc)

    # --- what the explorer must say ---------------------------------------------------------------

    def counted(self, **where) -> list[dict]:
        return [v for v in self.visits if all(v[k] == value for k, value in where.items())]

    def landing(self, visits=None) -> Counter:
        return Counter(v["pages"][0] for v in (visits or self.visits))

    def exits(self, visits=None) -> Counter:
        return Counter(v["pages"][-1] for v in (visits or self.visits))

    def paths(self, visits=None) -> Counter:
        out: Counter = Counter()
        for v in visits or self.visits:
            for a, b in zip(v["pages"], v["pages"][1:]):
                if a != b:
                    out[(a, b)] += 1
        return out

    def referrers(self) -> Counter:
        return Counter(f"{v['referrer_type'] or 'unknown'} · {v['referrer_domain'] or '—'}" for v in self.visits)

    def keywords(self) -> Counter:
        return Counter(v["keywords"] for v in self.visits if v["keywords"])

    def utm(self) -> Counter:
        return Counter((v["utm"].get("utm_campaign"), v["utm"].get("utm_source"), v["utm"].get("utm_medium"))
                       for v in self.visits if v["utm"])

    def daily(self) -> dict[str, tuple[int, int, int]]:
        out: dict[str, list[int]] = {}
        for v in self.visits:
            day = out.setdefault(v["started_at"].date().isoformat(), [0, 0, 0])
            day[0] += 1
            day[1] += v["chat"]
            day[2] += v["converted"]
        return {k: tuple(n) for k, n in out.items()}


def generate(site_id: int, visits: int, days: int = 10, seed: int = 7) -> tuple[History, dict[str, list]]:
    """The rows of `visits` visits (plus a few bots') and what they must count to."""
    rng = random.Random(seed)
    today = datetime.now(timezone.utc).date()
    first = today - timedelta(days=days)
    history = History(first, today - timedelta(days=1))
    tag = f"{rng.getrandbits(32):08x}"
    visitors = [(f"v_exact_{tag}_{i}", i % 31 == 0) for i in range(max(1, visits // 3))]
    rows: dict[str, list] = {"visitor": [], "visit": [], "page_view": [], "conversation": [], "track_event": []}
    noon = datetime.combine(first, datetime.min.time(), timezone.utc) + timedelta(hours=12)
    for visitor_id, bot in visitors:
        rows["visitor"].append((visitor_id, site_id, noon, noon, 0, 1 if bot else 0, "{}"))
    numbers: Counter = Counter()
    visit_id = 10_000_000 + rng.randrange(1_000_000) * 10
    for i in range(visits):
        visitor_id, bot = visitors[rng.randrange(len(visitors))]
        numbers[visitor_id] += 1
        visit_id += 1
        started = noon + timedelta(days=rng.randrange(days), seconds=rng.randrange(-8 * 3600, 8 * 3600))
        kind, domain, keywords = REFERRERS[rng.randrange(len(REFERRERS))]
        utm = UTMS[rng.randrange(len(UTMS))]
        count = rng.choice((1, 1, 2, 3, 4, 6))
        pages = [rng.choice(PAGES) for _ in range(count)]
        if rng.random() < 0.1:
            pages.append(pages[-1])  # a reload: no step
        at = started
        for page in pages:
            rows["page_view"].append((visit_id, visitor_id, SHOP + page, page, at))
            at += timedelta(seconds=rng.randrange(5, 120))
        last = at - timedelta(seconds=1)
        chat = rng.random() < 0.12
        converted = rng.random() < 0.07
        if chat:
            rows["conversation"].append((site_id, visitor_id, last + timedelta(minutes=rng.randrange(0, 25))))
        if converted:
            rows["track_event"].append((site_id, visitor_id, visit_id, "purchase", last))
        elif rng.random() < 0.05:
            rows["track_event"].append((site_id, visitor_id, visit_id, "newsletter", last))  # not a conversion
        rows["visit"].append((visit_id, site_id, visitor_id, numbers[visitor_id], started, last, SHOP + pages[0],
                              pages[0], kind, domain, keywords, json.dumps(utm)))
        if bot:
            history.bot_visits += 1
            continue
        history.visits.append({"id": visit_id, "visitor_id": visitor_id, "number": numbers[visitor_id],
                               "started_at": started, "pages": pages, "referrer_type": kind,
                               "referrer_domain": domain, "keywords": keywords, "utm": utm, "chat": int(chat),
                               "converted": int(converted)})
    # A chat opened by a visitor counts for every visit of theirs it falls in (started ≤ request ≤
    # last activity + 30 min): the visits above keep to their own flag only when no other chat of
    # the same visitor falls in their span, so recompute it from the chats themselves.
    chats: dict[str, list[datetime]] = {}
    for _, visitor_id, at in rows["conversation"]:
        chats.setdefault(visitor_id, []).append(at)
    last_of = {r[0]: r[5] for r in rows["visit"]}
    for v in history.visits:
        v["chat"] = int(any(v["started_at"] <= at <= last_of[v["id"]] + timedelta(minutes=30)
                            for at in chats.get(v["visitor_id"], ())))
    return history, rows


def _sqlite_text(value):
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat(" ")
    return value


_SQL = {
    "visitor": "INSERT INTO visitor (id, site_id, first_seen, last_seen, visit_count, is_bot, attributes) "
               "VALUES (?, ?, ?, ?, ?, ?, ?)",
    "visit": "INSERT INTO visit (id, site_id, visitor_id, number, started_at, last_activity_at, landing_url, "
             "landing_page, referrer_type, referrer_domain, keywords, utm) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "page_view": "INSERT INTO page_view (visit_id, visitor_id, url, page, at) VALUES (?, ?, ?, ?, ?)",
    "conversation": "INSERT INTO conversation (site_id, visitor_id, requested_at, status, last_seq, "
                    "visitor_read_seq, agent_read_seq) VALUES (?, ?, ?, 'closed', 0, 0, 0)",
    "track_event": "INSERT INTO track_event (site_id, visitor_id, visit_id, name, at, props) "
                   "VALUES (?, ?, ?, ?, ?, '{}')",
}


async def insert(deployment: Deployment, rows: dict[str, list]) -> None:
    """Bulk inserts, straight into the deployment's database (SQLite or PostgreSQL)."""
    url = deployment.env.get("DATABASE_URL")
    if url:
        import asyncpg

        from tests.support.db import _numbered

        conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
        try:
            async with conn.transaction():
                for table, sql in _SQL.items():
                    sql = _numbered(sql)
                    if table == "visitor":
                        sql = sql.replace("$6, $7", "$6::int::boolean, $7")
                    if table == "visit":
                        sql = sql.replace("$12)", "$12::jsonb)")
                    await conn.executemany(sql, rows[table])
        finally:
            await conn.close()
        return
    conn = sqlite3.connect(Path(deployment.env["DATA_DIR"]) / "switchboard.sqlite3", timeout=30)
    try:
        with conn:
            for table, sql in _SQL.items():
                conn.executemany(sql, [tuple(_sqlite_text(v) for v in row) for row in rows[table]])
    finally:
        conn.close()
