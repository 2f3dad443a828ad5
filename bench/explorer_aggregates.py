"""The trail explorer on a large history: is each aggregate of a 30-day window within reach of the
same GROUP BY written by hand over the raw tables — and are the numbers the same?

    .venv/bin/python bench/explorer_aggregates.py                  # 1,000,000 visits, 10,000,000 page views, 90 days
    .venv/bin/python bench/explorer_aggregates.py --visits 200000  # 2,000,000 page views
    .venv/bin/python bench/explorer_aggregates.py --quick          # 20,000 visits, 3 runs each

It creates a scratch PostgreSQL database of its own (dropped at the end unless --keep), migrates
it, and writes with INSERT … SELECT over generate_series: visits spread over 90 days (one visitor
in 31 a bot), `--views-per-visit` page views each (default 10) over 12 pages with hash routes and
repeated pages, a closed chat for one visit in ten, a `purchase` event for one in fourteen and a
`newsletter` event (no conversion) for one in nine, UTM tags on a third, referrers of five kinds.

For each aggregate of the explorer's page over the last 30 days (landing pages, exit pages,
referrers, keywords, UTM, paths, visits per day, the visits' total): the service's time
(`app/services/explorer.py`, median of the runs) against hand-written SQL over the raw tables that
computes the same numbers (joins, EXISTS, window functions, GROUP BY), the ratio measured in the
same run, and a check that both give the same rows.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import add_quick, create_database, drop_database, scratch_database_name, sizes  # noqa: E402

FULL = {"visits": 1_000_000, "views_per_visit": 10, "repeat": 5}
QUICK = {"visits": 20_000, "views_per_visit": 10, "repeat": 3}
DAYS = 90
WINDOW = 30
PAGES = ["/", "/tents", "/tents/alpine-2", "/checkout", "/blog/how-to-pitch", "/support", "/support#/faq",
         "/support?tab=repairs", "/pricing", "/about", "/shop/boots", "/shop/socks"]


async def fill(url: str, visits: int, per_visit: int, now: datetime) -> None:
    pages = "ARRAY[" + ", ".join(f"'{p}'" for p in PAGES) + "]"

    def page(visit: str, step: str) -> str:  # the page of a visit's step-th view (some repeat)
        return f"({pages})[1 + (({visit} * 31 + {step} * 17 + ({step} / 3) * 5) % {len(PAGES)})]"

    conn = await asyncpg.connect(url)
    try:
        await conn.execute("INSERT INTO site (id, name, key, allowed_origins, settings, created_at) "
                           "VALUES (1, 'Bench', 'bench-site', '[]', '{}', now())")
        visitors = max(1, visits // 3)
        await conn.execute(
            "INSERT INTO visitor (id, site_id, first_seen, last_seen, visit_count, is_bot, attributes) "
            "SELECT 'b' || g, 1, $2, $2, 1, g % 31 = 0, '{}' FROM generate_series(1, $1) g", visitors, now)
        await conn.execute(f"""
            INSERT INTO visit (id, site_id, visitor_id, number, started_at, last_activity_at, landing_url, landing_page,
                               referrer_type, referrer_domain, keywords, utm)
            SELECT g, 1, 'b' || (1 + (g::bigint * 7919) % $2), 1 + g % 4,
                   $3::timestamptz - make_interval(secs => (g::bigint * 7777) % {DAYS * 86400}),
                   $3::timestamptz - make_interval(secs => (g::bigint * 7777) % {DAYS * 86400}) + make_interval(mins => $4),
                   'https://shop.example.com' || {page('g', '0')}, {page('g', '0')},
                   (ARRAY['direct','search','social','email','paid'])[1 + g % 5],
                   (ARRAY[NULL,'google.com','facebook.com',NULL,'bing.com'])[1 + g % 5],
                   CASE WHEN g % 5 = 1 THEN (ARRAY['blue tent','tent for two','alpine tent'])[1 + g % 3] END,
                   CASE g % 3 WHEN 0 THEN jsonb_build_object('utm_campaign', 'c' || (g % 7), 'utm_source', 's' || (g % 4),
                                                             'utm_medium', (ARRAY['email','cpc'])[1 + g % 2])
                              ELSE '{{}}'::jsonb END
            FROM generate_series(1, $1) g""", visits, visitors, now, per_visit)
        await conn.execute(f"""
            INSERT INTO page_view (visit_id, visitor_id, url, page, at)
            SELECT v.id, v.visitor_id, 'https://shop.example.com' || {page('v.id', 's')},
                   {page('v.id', 's')}, v.started_at + make_interval(mins => s)
            FROM visit v CROSS JOIN generate_series(0, $1 - 1) s ORDER BY v.id, s""", per_visit)
        await conn.execute("INSERT INTO conversation (site_id, visitor_id, requested_at, status, last_seq, "
                           "visitor_read_seq, agent_read_seq) SELECT 1, visitor_id, last_activity_at + interval "
                           "'5 minutes', 'closed', 0, 0, 0 FROM visit WHERE id % 10 = 0")
        await conn.execute("INSERT INTO track_event (site_id, visitor_id, visit_id, name, props, at) "
                           "SELECT 1, visitor_id, id, 'purchase', '{}'::jsonb, last_activity_at FROM visit WHERE id % 14 = 0 "
                           "UNION ALL SELECT 1, visitor_id, id, 'newsletter', '{}'::jsonb, last_activity_at FROM visit "
                           "WHERE id % 9 = 0")
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


# The same numbers, written by hand over the raw tables (PostgreSQL).
_BASE = """
WITH f AS (
  SELECT v.*, CASE WHEN EXISTS (SELECT 1 FROM conversation c WHERE c.visitor_id = v.visitor_id
                     AND c.requested_at BETWEEN v.started_at AND v.last_activity_at + interval '30 minutes') THEN 1 ELSE 0 END AS chat,
              CASE WHEN EXISTS (SELECT 1 FROM track_event e WHERE e.visit_id = v.id
                     AND e.name IN ('conversion', 'lead', 'purchase', 'signup')) THEN 1 ELSE 0 END AS converted
  FROM visit v JOIN visitor r ON r.id = v.visitor_id
  WHERE NOT r.is_bot AND v.started_at >= $1 AND v.started_at < $2)
"""
_COUNTS = "count(*) AS visits, sum(chat) AS chats, sum(converted) AS conversions"
BY_HAND = {
    "landing_pages": _BASE + f"SELECT landing_page AS k, {_COUNTS} FROM f GROUP BY 1 ORDER BY visits DESC, 1 LIMIT 20",
    "exit_pages": _BASE + f"""SELECT x.page AS k, {_COUNTS} FROM f JOIN LATERAL (SELECT p.page FROM page_view p
        WHERE p.visit_id = f.id ORDER BY p.at DESC, p.id DESC LIMIT 1) x ON true GROUP BY 1 ORDER BY visits DESC, 1 LIMIT 20""",
    "referrers": _BASE + f"SELECT referrer_type || ' · ' || coalesce(referrer_domain, '—') AS k, {_COUNTS} FROM f "
                         "GROUP BY referrer_type, referrer_domain ORDER BY visits DESC, 1 LIMIT 20",
    "keywords": _BASE + f"SELECT lower(keywords) AS k, {_COUNTS} FROM f WHERE keywords <> '' GROUP BY 1 "
                        "ORDER BY visits DESC, 1 LIMIT 20",
    "utm": _BASE + f"""SELECT concat_ws(' / ', utm->>'utm_campaign', utm->>'utm_source', utm->>'utm_medium') AS k,
        {_COUNTS} FROM f WHERE utm <> '{{}}'::jsonb GROUP BY utm->>'utm_campaign', utm->>'utm_source', utm->>'utm_medium'
        ORDER BY visits DESC, 1 LIMIT 20""",
    "paths": _BASE + """SELECT a || ' → ' || b AS k, count(*) AS visits FROM (SELECT p.page AS b,
        lag(p.page) OVER (PARTITION BY p.visit_id ORDER BY p.at, p.id) AS a FROM page_view p JOIN f ON f.id = p.visit_id) s
        WHERE a <> b GROUP BY a, b ORDER BY visits DESC, 1 LIMIT 20""",
    "daily": _BASE + f"SELECT (started_at AT TIME ZONE 'UTC')::date::text AS k, {_COUNTS} FROM f GROUP BY 1 ORDER BY 1",
    "total": _BASE + f"SELECT 'all' AS k, {_COUNTS} FROM f",
}


def _ours(result: dict, name: str) -> set:
    rows = result["rows"]
    if name == "landing_pages" or name == "exit_pages":
        return {(r["page"], r["visits"], r["chats"], r["conversions"]) for r in rows}
    if name == "referrers":
        return {(r["referrer"], r["visits"], r["chats"], r["conversions"]) for r in rows}
    if name == "keywords":
        return {(r["keywords"], r["visits"], r["chats"], r["conversions"]) for r in rows}
    if name == "utm":
        return {(" / ".join(x for x in (r["campaign"], r["source"], r["medium"]) if x), r["visits"], r["chats"],
                 r["conversions"]) for r in rows}
    if name == "paths":
        return {(f"{r['from']} → {r['to']}", r["visits"]) for r in rows}
    if name == "daily":
        return {(r["day"], r["visits"], r["chats"], r["conversions"]) for r in rows if r["visits"]}
    return {("all", result["visits"], result["chats"], result["conversions"])}


def _theirs(rows, name: str) -> set:
    if name == "paths":
        return {(r["k"], r["visits"]) for r in rows}
    return {(r["k"], r["visits"], r["chats"], r["conversions"]) for r in rows}


async def _median(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def measure(url: str, repeat: int, now: datetime) -> list[tuple[str, float, float, int]]:
    from app import runtime
    from app.config import load_settings
    from app.db import close_db, init_db
    from app.services import explorer

    settings = load_settings({**os.environ, "DATABASE_URL": url.replace("postgresql://", "postgres://", 1),
                              "DATA_DIR": tempfile.mkdtemp(prefix="sb-bench-")})
    runtime.install(runtime.build(settings))
    await init_db(settings)
    conn = await asyncpg.connect(url)
    end = now.date()
    filters = explorer.Filters(start=end - timedelta(days=WINDOW - 1), end=end, time_zone="UTC")
    lo, hi = filters.window
    services = {"landing_pages": explorer.landing_pages, "exit_pages": explorer.exit_pages,
                "referrers": explorer.referrers, "keywords": explorer.keywords, "utm": explorer.utm,
                "paths": explorer.paths, "daily": explorer.daily, "total": explorer.totals}
    out = []
    try:
        for name, service in services.items():
            sql = BY_HAND[name]
            ours = await service(filters)
            if name == "total":
                ours = {"rows": [], **ours}
            # Every group by hand (no LIMIT): each of the explorer's rows is one of them, with the same
            # counts, and its rows are the most common ones (ties in any order).
            every = _theirs(await conn.fetch(sql.replace(" LIMIT 20", ""), lo, hi), name)
            mine = _ours(ours, name)
            top = sorted((row[1] for row in every), reverse=True)[:20]
            if name in ("daily", "total"):
                top = sorted((row[1] for row in every), reverse=True)  # every day, not a top
            if not mine <= every or sorted((row[1] for row in mine), reverse=True) != top:
                raise SystemExit(f"{name}: the explorer says {sorted(mine - every)[:5]}…, "
                                 f"SQL by hand {sorted(every - mine)[:5]}…")
            matched = sum(row[1] for row in every)  # visits (paths: steps) in the groups
            service_time = await _median(lambda: service(filters), repeat)
            hand_time = await _median(lambda: conn.fetch(sql, lo, hi), repeat)
            out.append((name, service_time, hand_time, matched))
        # The whole page for one filter change (one request): its tables side by side, as the
        # endpoint reads them, against the same tables one after another.
        await explorer.page(filters)
        side_by_side = await _median(lambda: explorer.page(filters), repeat)

        async def one_after_another():
            for table in explorer.TABLES:
                await explorer.table(table, filters)

        sequential = await _median(one_after_another, repeat)
        out.append(("whole page (side by side ÷ one after another)", side_by_side, sequential, 0))
    finally:
        await conn.close()
        await close_db()
    return out


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--visits", type=int, default=None)
    parser.add_argument("--views-per-visit", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    add_quick(parser)
    args = sizes(parser.parse_args(), FULL, QUICK)
    name = scratch_database_name("explorer")
    url = await create_database(name)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    try:
        started = time.perf_counter()
        await fill(url, args.visits, args.views_per_visit, now)
        print(f"wrote {args.visits:,} visits and {args.visits * args.views_per_visit:,} page views over {DAYS} days "
              f"in {time.perf_counter() - started:.1f} s")
        rows = await measure(url, args.repeat, now)
    finally:
        if not args.keep:
            await drop_database(name)
    print()
    print(f"| aggregate, last {WINDOW} days ({args.visits:,} visits, "
          f"{args.visits * args.views_per_visit:,} page views, PostgreSQL) | rows counted | explorer ms | "
          "SQL by hand ms | ratio |")
    print("|---|---:|---:|---:|---:|")
    for label, service, baseline, matched in rows:
        counted = f"{matched:,}" if matched else "—"
        print(f"| {label} | {counted} | {service * 1000:.1f} | {baseline * 1000:.1f} | **{service / baseline:.2f}×** |")
    print("\nEvery aggregate gave the same numbers as the SQL written by hand.")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
