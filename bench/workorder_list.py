"""The Work orders list on a large history: is the service's list within 2× of the same query
written by hand in SQL?

    .venv/bin/python bench/workorder_list.py             # 1,000,000 orders on PostgreSQL
    .venv/bin/python bench/workorder_list.py --orders 200000
    .venv/bin/python bench/workorder_list.py --quick     # 20,000 orders, 3 runs each

It creates a scratch PostgreSQL database of its own (dropped at the end unless --keep), migrates
it, and writes N orders with one INSERT … SELECT over generate_series: 20 handling teams of 5
handlers, a two-level taxonomy of 12 categories, four priorities, 25 % of the orders open (new,
assigned, in progress, waiting), 80 % with a resolution due time, created over the last two years.

Figures (each a ratio measured in the same run, median of the runs):
1. the default view (an admin's open orders, most urgent first, first page of 50 with the exact
   count of every match): `services.workorders.search` / the same count and page in hand-written SQL;
2. a filtered view (one team, status "in progress", overdue only): the same ratio.
The service's time includes everything it does for the page (the names of teams and handlers, the
category paths); the SQL baseline reads the same count and the same 50 rows.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import add_quick, create_database, drop_database, scratch_database_name, sizes  # noqa: E402

FULL = {"orders": 1_000_000, "repeat": 7}
QUICK = {"orders": 20_000, "repeat": 3}
TEAMS = 20
HANDLERS_PER_TEAM = 5
PAGE = 50
OPEN = ("new", "assigned", "in_progress", "waiting")


async def fill(url: str, orders: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("INSERT INTO site (name, key, allowed_origins, settings, created_at) "
                           "VALUES ('Bench', 'bench-site', '[]', '{}', now())")
        await conn.execute(
            "INSERT INTO app_user (email, password_hash, role, display_name, is_active, status, missed_offers, skills, "
            "created_at) SELECT 'h' || g || '@bench.example', 'x', 'handler', 'Handler ' || g, true, 'offline', 0, "
            "'{}', now() FROM generate_series(1, $1) g", TEAMS * HANDLERS_PER_TEAM + 1)
        await conn.execute("UPDATE app_user SET role = 'admin' WHERE email = 'h1@bench.example'")
        await conn.execute("INSERT INTO work_team (name, description, holidays, created_at) "
                           "SELECT 'Team ' || g, '', '[]', now() FROM generate_series(1, $1) g", TEAMS)
        await conn.execute("INSERT INTO team_member (work_team_id, user_id) SELECT ((g - 2) / $2) + 1, g "
                           "FROM generate_series(2, $1) g", TEAMS * HANDLERS_PER_TEAM + 1, HANDLERS_PER_TEAM)
        await conn.execute("INSERT INTO work_category (name, position, active) "
                           "SELECT 'Category ' || g, 0, true FROM generate_series(1, 4) g")
        await conn.execute("INSERT INTO work_category (parent_id, name, position, active) "
                           "SELECT (g % 4) + 1, 'Sub ' || g, 0, true FROM generate_series(1, 8) g")
        # Deterministic pseudo-random columns from the row number.
        await conn.execute(f"""
            INSERT INTO work_order (number, site_id, source, customer_name, customer_email, customer_language,
                category_id, priority, subject, description, status, team_id, handler_id, created_at, updated_at,
                first_response_due_at, due_at, resolved_at, escalation, urge_count, reopen_count, link_secret)
            SELECT 'WO-B-' || lpad(g::text, 8, '0'), 1, 'manual', 'Customer ' || (g % 5000),
                'c' || (g % 5000) || '@example.com', 'en', 5 + (g % 8),
                (ARRAY['low','normal','high','urgent'])[1 + (g * 7 % 4)], 'Order subject ' || g, '',
                CASE WHEN g % 4 = 0 THEN (ARRAY['new','assigned','in_progress','waiting'])[1 + (g / 4 % 4)]
                     WHEN g % 4 = 1 THEN 'resolved' ELSE 'closed' END,
                1 + (g % {TEAMS}), 2 + (g % {TEAMS * HANDLERS_PER_TEAM}),
                now() - make_interval(mins => (g * 37 % 1051200)), now(),
                CASE WHEN g % 5 = 1 THEN NULL ELSE now() - make_interval(mins => (g * 37 % 1051200)) + interval '4 hours' END,
                CASE WHEN g % 5 = 1 THEN NULL ELSE now() - make_interval(mins => (g * 37 % 1051200)) + interval '2 days' END,
                CASE WHEN g % 4 = 0 THEN NULL ELSE now() - make_interval(mins => (g * 37 % 1051200)) + interval '1 day' END,
                0, 0, 0, md5(g::text)
            FROM generate_series(1, $1) g""", orders)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def _median(fn, repeat: int):
    async def run() -> float:
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            await fn()
            times.append(time.perf_counter() - started)
        return statistics.median(times)
    return run()


async def measure(url: str, repeat: int) -> list[tuple[str, float, float, int]]:
    from app.config import load_settings
    from app.db import init_db
    from app.models import User
    from app.services import workorders
    from tortoise import Tortoise

    settings = load_settings({**os.environ, "DATABASE_URL": url.replace("postgresql://", "postgres://", 1)})
    await init_db(settings)
    conn = await asyncpg.connect(url)
    try:
        admin = await User.get(email="h1@bench.example")
        team_id = 1
        views = [
            ("default view (open, most urgent first)", workorders.Filters(),
             "SELECT count(*) FROM work_order WHERE status = ANY($1::text[])",
             "SELECT * FROM work_order WHERE status = ANY($1::text[]) "
             "ORDER BY due_at IS NULL, due_at, created_at DESC, id DESC LIMIT 50", [list(OPEN)]),
            ("team + in progress + overdue", workorders.Filters(status="in_progress", team_id=team_id, overdue=True),
             "SELECT count(*) FROM work_order WHERE team_id = $1 AND status = 'in_progress' AND due_at <= now()",
             "SELECT * FROM work_order WHERE team_id = $1 AND status = 'in_progress' AND due_at <= now() "
             "ORDER BY due_at IS NULL, due_at, created_at DESC, id DESC LIMIT 50", [team_id]),
        ]
        out = []
        for label, filters, count_sql, page_sql, args in views:
            async def ours():
                result = await workorders.search(admin, filters, limit=PAGE)
                return result

            async def by_hand():
                await conn.fetchval(count_sql, *args)
                await conn.fetch(page_sql, *args)

            check = await workorders.search(admin, filters, limit=PAGE)
            expected = await conn.fetchval(count_sql, *args)
            if check["total"] != expected:
                raise SystemExit(f"{label}: the service counted {check['total']}, SQL {expected}")
            await ours()
            await by_hand()  # warm both
            service = await _median(ours, repeat)
            baseline = await _median(by_hand, repeat)
            out.append((label, service, baseline, expected))
        return out
    finally:
        await conn.close()
        await Tortoise.close_connections()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    add_quick(parser)
    args = sizes(parser.parse_args(), FULL, QUICK)
    name = scratch_database_name("workorders")
    url = await create_database(name)
    try:
        started = time.perf_counter()
        await fill(url, args.orders)
        print(f"wrote {args.orders:,} work orders in {time.perf_counter() - started:.1f} s")
        rows = await measure(url, args.repeat)
    finally:
        if not args.keep:
            await drop_database(name)
    print()
    print(f"| view ({args.orders:,} orders, PostgreSQL) | matches | service ms | SQL by hand ms | ratio |")
    print("|---|---:|---:|---:|---:|")
    for label, service, baseline, matches in rows:
        print(f"| {label} | {matches:,} | {service * 1000:.1f} | {baseline * 1000:.1f} | **{service / baseline:.2f}×** |")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
