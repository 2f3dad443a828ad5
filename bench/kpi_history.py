"""KPI reports on a large history: does a one-day report stay flat as history grows tenfold?

    .venv/bin/python bench/kpi_history.py                 # 100,000 then 1,000,000 conversations
    .venv/bin/python bench/kpi_history.py --scale 0.1     # a shorter run (10,000 then 100,000)
    .venv/bin/python bench/kpi_history.py --quick         # scale 0.01 (about 1,700 then 17,500), 2 runs each

It creates a scratch PostgreSQL database with a name of its own (dropped at the end unless --keep),
migrates it, and writes a realistic history straight into the event log with COPY: a constant
daily volume with an intraday profile (busier at 10:00-16:00), four departments, 40 CSRs on
shifts with lunch breaks, answered chats (queue time, first response, handle time), short and long
abandons, transfers, repeat contacts and ratings — the same event kinds the service layer writes.

Figures (each a ratio measured in the same run):
1. the summary report for one fixed day, with the history at N and then at 10·N conversations
   (older days added before that day): time(10·N) / time(N) — flat is ≈ 1;
2. the summary report for the last 30 days against a plain read of the same event rows
   (one SQL query, no computation) and against a plain sequential scan of the whole log for them:
   time(report) / time(read). The finished days' facts are kept (app/reports/kept_days.py): the
   first request keeps them (its time is shown, "first request"), the timed ones read them — from
   the database (each run drops the worker's cache first, as a new worker) and from the worker's
   cache of the kept days it read;
3. the whole summary report (this period and the previous one) for the last 30 days;
4. a check: the month's headline from the kept days equals the one derived from the event log
   alone (`kept_days.population(..., keep=False)` after dropping the kept days).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import statistics
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import add_quick, create_database, drop_database, scratch_database_name, sizes  # noqa: E402

FULL = {"scale": 1.0, "repeat": 5}
QUICK = {"scale": 0.01, "repeat": 2}
AGENTS = 40
DEPARTMENTS = ("Sales", "Support", "Billing", "Returns")
# Relative chat volume per hour of the day (center time = UTC here).
HOURLY = [1, 1, 1, 1, 1, 2, 3, 5, 8, 11, 13, 13, 12, 12, 13, 12, 10, 8, 6, 5, 4, 3, 2, 1]
LAST_DAY = date(2026, 10, 31)  # the newest day of the history


class History:
    """Writes days of history; ids are handed out here so batches can go through COPY."""

    def __init__(self, conn: asyncpg.Connection, per_day: int, seed: int = 7) -> None:
        self.conn = conn
        self.per_day = per_day
        self.rng = random.Random(seed)
        self.next_conversation = 1
        self.visitors: list[str] = []
        self.site_id = 0
        self.departments: list[int] = []
        self.agents: list[int] = []
        self.conversations = 0
        self.events = 0

    async def setup(self, visitor_pool: int) -> None:
        now = datetime(2025, 1, 1, tzinfo=timezone.utc)
        self.site_id = await self.conn.fetchval(
            "INSERT INTO site (name, key, allowed_origins, settings, created_at) "
            "VALUES ('Bench shop', 'site_bench', '[]', '{}', $1) RETURNING id", now)
        for name in DEPARTMENTS:
            self.departments.append(await self.conn.fetchval(
                "INSERT INTO department (name, site_id) VALUES ($1, $2) RETURNING id", name, self.site_id))
        for i in range(AGENTS):
            self.agents.append(await self.conn.fetchval(
                "INSERT INTO app_user (email, password_hash, role, display_name, max_chats, is_active, status, "
                "created_at) VALUES ($1, 'x', 'agent', $2, 3, true, 'offline', $3) RETURNING id",
                f"agent{i}@bench.example", f"Agent {i}", now))
        self.visitors = [f"v_bench_{i:08d}" for i in range(visitor_pool)]
        await self.conn.copy_records_to_table(
            "visitor",
            records=[(v, now, now, 1, False, "{}", self.site_id) for v in self.visitors],
            columns=["id", "first_seen", "last_seen", "visit_count", "is_bot", "attributes", "site_id"],
        )

    def _day(self, day: date) -> tuple[list, list, list]:
        rng = self.rng
        conversations, events, statuses = [], [], []
        midnight = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
        # CSRs: two shifts, a lunch break each.
        for n, agent in enumerate(self.agents):
            start = midnight + timedelta(hours=7 if n % 2 == 0 else 12, minutes=rng.randint(0, 20))
            lunch = start + timedelta(hours=4, minutes=rng.randint(0, 30))
            back = lunch + timedelta(minutes=rng.randint(25, 45))
            end = start + timedelta(hours=8, minutes=rng.randint(0, 30))
            for at, status, previous, reason in ((start, "available", "offline", None),
                                                 (lunch, "away", "available", "Lunch"),
                                                 (back, "available", "away", None),
                                                 (end, "offline", "available", None)):
                statuses.append((status, reason, previous, at, agent))
        total = sum(HOURLY)
        for hour, weight in enumerate(HOURLY):
            count = round(self.per_day * weight / total)
            for _ in range(count):
                cid = self.next_conversation
                self.next_conversation += 1
                department = rng.choice(self.departments)
                visitor = rng.choice(self.visitors)
                requested = midnight + timedelta(hours=hour, seconds=rng.uniform(0, 3600))
                ev = [("requested", requested, None, {}), ("queued", requested, None, {})]
                roll = rng.random()
                if roll < 0.06:  # abandoned, half of them short
                    wait = rng.uniform(1, 4) if rng.random() < 0.5 else rng.expovariate(1 / 60)
                    gone = requested + timedelta(seconds=wait)
                    ev += [("abandoned", gone, None, {"queue_seconds": wait, "by": "visitor"}),
                           ("closed", gone, None, {"by": "visitor"})]
                    conversations.append((cid, "closed", requested, None, None, gone, "visitor",
                                          None, department, self.site_id, visitor))
                else:
                    agent = rng.choice(self.agents)
                    wait = rng.expovariate(1 / 18)
                    assigned = requested + timedelta(seconds=wait)
                    first = assigned + timedelta(seconds=rng.uniform(5, 60))
                    closed = first + timedelta(seconds=rng.lognormvariate(math.log(360), 0.5))
                    ev += [("assigned", assigned, agent, {"queue_seconds": wait}),
                           ("first_response", first, agent, {})]
                    holder = agent
                    if rng.random() < 0.05:
                        other = rng.choice(self.agents)
                        at = first + (closed - first) / 2
                        ev += [("transferred", at, other, {"from_agent_id": agent, "to_agent_id": other}),
                               ("assigned", at, other, {"via": "transfer"})]
                        holder = other
                    ev.append(("closed", closed, holder, {"by": "agent"}))
                    if rng.random() < 0.2:
                        ev.append(("rated", closed + timedelta(seconds=30), holder,
                                   {"rating": rng.choices(("good", "neutral", "bad"), (7, 2, 1))[0]}))
                    conversations.append((cid, "closed", requested, assigned, first, closed, "agent",
                                          holder, department, self.site_id, visitor))
                for kind, at, agent_id, data in ev:
                    events.append((kind, at, json.dumps(data), agent_id, cid, department, self.site_id))
        return conversations, events, statuses

    async def write_days(self, days: list[date]) -> None:
        for day in days:
            conversations, events, statuses = self._day(day)
            await self.conn.copy_records_to_table(
                "conversation", records=[(*c, 0, 0, 0) for c in conversations],
                columns=["id", "status", "requested_at", "assigned_at", "first_response_at", "closed_at",
                         "closed_by", "agent_id", "department_id", "site_id", "visitor_id",
                         "last_seq", "visitor_read_seq", "agent_read_seq"])
            await self.conn.copy_records_to_table(
                "conversation_event", records=events,
                columns=["kind", "at", "data", "agent_id", "conversation_id", "department_id", "site_id"])
            await self.conn.copy_records_to_table(
                "agent_status_event", records=statuses,
                columns=["status", "reason", "previous_status", "at", "user_id"])
            self.conversations += len(conversations)
            self.events += len(events)
        await self.conn.execute(f"SELECT setval('conversation_id_seq', {self.next_conversation})")
        await self.conn.execute("VACUUM ANALYZE")


async def timed(fn, repeat: int) -> float:
    """Median seconds of `repeat` runs after one warm-up."""
    await fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, help="1.0 (the default): 100,000 then 1,000,000 conversations")
    parser.add_argument("--repeat", type=int, help="timed runs per figure (median; default 5)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    add_quick(parser)
    args = sizes(parser.parse_args(), FULL, QUICK)

    small_days, large_days = 36, 365
    per_day = max(50, round(1_000_000 * args.scale / large_days))
    name = scratch_database_name("kpi")
    url = await create_database(name)
    os.environ["DATABASE_URL"] = url.replace("postgresql://", "postgres://", 1)
    from app import db
    from app.config import load_settings
    from app.reports import kpi_report as report

    async def summary(first: date, end: date) -> dict:
        """The report's headline KPIs of the local days [first, end) — the `summary` report's work
        for one period: its events read from the log (with the FCR look-ahead), then the engine."""
        query = report.Query(start=first, end=end - timedelta(days=1))
        data = await report.load(query, conversations_only=True)
        return report._headline(report._kpis(data, data.facts))

    conn = await asyncpg.connect(url)
    try:
        history = History(conn, per_day)
        await history.setup(visitor_pool=max(1000, per_day * 120))
        days = [LAST_DAY - timedelta(days=i) for i in range(large_days)]
        started = time.perf_counter()
        await history.write_days(sorted(days[:small_days]))
        small = (history.conversations, history.events)
        generate_small = time.perf_counter() - started

        await db.init_db(load_settings())
        day = LAST_DAY - timedelta(days=3)

        async def one_day():
            return await summary(day, day + timedelta(days=1))

        async def one_day_cold():
            report.kept_days.forget()  # the kept rows read from the database, as a new worker does
            return await summary(day, day + timedelta(days=1))

        t_small = await timed(one_day, args.repeat)
        t_small_cold = await timed(one_day_cold, args.repeat)

        started = time.perf_counter()
        await history.write_days(sorted(days[small_days:]))
        generate_large = time.perf_counter() - started
        large = (history.conversations, history.events)
        t_large = await timed(one_day, args.repeat)
        t_large_cold = await timed(one_day_cold, args.repeat)

        month_start = LAST_DAY - timedelta(days=29)
        month_end = LAST_DAY + timedelta(days=1)

        async def month():
            return await summary(month_start, month_end)

        started = time.perf_counter()
        await month()  # keeps the month's finished days
        t_first = time.perf_counter() - started

        async def plain_read():
            lo = datetime(month_start.year, month_start.month, month_start.day, tzinfo=timezone.utc)
            hi = datetime(month_end.year, month_end.month, month_end.day, tzinfo=timezone.utc)
            return await conn.fetch(
                "SELECT conversation_id, kind, at, agent_id, department_id, site_id, data "
                "FROM conversation_event WHERE at >= $1 AND at < $2", lo, hi)

        async def sequential_scan():
            # The same rows by a plain sequential scan of the whole log (no index may be used).
            lo = datetime(month_start.year, month_start.month, month_start.day, tzinfo=timezone.utc)
            hi = datetime(month_end.year, month_end.month, month_end.day, tzinfo=timezone.utc)
            async with conn.transaction():
                for setting in ("enable_indexscan", "enable_bitmapscan", "enable_indexonlyscan"):
                    await conn.execute(f"SET LOCAL {setting} = off")
                return await conn.fetch(
                    "SELECT conversation_id, kind, at, agent_id, department_id, site_id, data "
                    "FROM conversation_event WHERE at >= $1 AND at < $2", lo, hi)

        async def month_cold():
            report.kept_days.forget()
            return await summary(month_start, month_end)

        t_month = await timed(month, args.repeat)
        t_month_cold = await timed(month_cold, args.repeat)
        whole = report.Query(start=month_start, end=month_end - timedelta(days=1))
        t_whole = await timed(lambda: report.summary(whole), args.repeat)
        # The kept days give what the event log alone gives.
        kept_headline = await month()
        await conn.execute("DELETE FROM kpi_kept_day")
        real_population = report.kept_days.population

        async def unkept(lo, hi, tz, **kw):
            return await real_population(lo, hi, tz, **{**kw, "keep": False})

        report.kept_days.population = unkept
        try:
            from_log = await month()
            t_from_log = await timed(month, 1)
        finally:
            report.kept_days.population = real_population
        if kept_headline != from_log:
            raise SystemExit(f"kept days differ from the event log:\n{kept_headline}\n{from_log}")
        t_read = await timed(plain_read, args.repeat)
        t_scan = await timed(sequential_scan, args.repeat)
        scan_rows = len(await sequential_scan())
        month_rows = len(await plain_read())
        await db.close_db()
    finally:
        await conn.close()
        if args.keep:
            print(f"(kept the scratch database {name})")
        else:
            await drop_database(name)

    print(f"\nKPI report on a growing history (PostgreSQL; median of {args.repeat} runs"
          f"{'; QUICK mode, not for the record' if args.quick else ''})\n")
    print("| figure | history | time ms | ratio |")
    print("|---|---|---|---|")
    print(f"| one-day summary | {small[0]:,} conversations, {small[1]:,} events | {t_small * 1000:.1f} | 1.00× |")
    print(f"| one-day summary | {large[0]:,} conversations, {large[1]:,} events | {t_large * 1000:.1f} | "
          f"**{t_large / t_small:.2f}×** |")
    print(f"| one-day summary, kept rows read from the database (a new worker) | {small[0]:,} conversations | "
          f"{t_small_cold * 1000:.1f} | 1.00× |")
    print(f"| one-day summary, kept rows read from the database (a new worker) | {large[0]:,} conversations | "
          f"{t_large_cold * 1000:.1f} | **{t_large_cold / t_small_cold:.2f}×** |")
    print(f"| plain read of the month's events ({month_rows:,} rows) | {large[0]:,} conversations | "
          f"{t_read * 1000:.1f} | 1.00× |")
    print(f"| plain sequential scan of the whole log for the month's events ({scan_rows:,} rows) | "
          f"{large[0]:,} conversations | {t_scan * 1000:.1f} | 1.00× |")
    print(f"| 30-day summary report, from the event log alone (no kept day) | {large[0]:,} conversations | "
          f"{t_from_log * 1000:.1f} | {t_from_log / t_read:.2f}× the indexed read, "
          f"{t_from_log / t_scan:.2f}× the sequential scan |")
    print(f"| 30-day summary report, first request (keeps the month's days) | {large[0]:,} conversations | "
          f"{t_first * 1000:.1f} | {t_first / t_scan:.2f}× the sequential scan |")
    print(f"| 30-day summary report (kept days, rows read from the database: a new worker) | {large[0]:,} conversations | "
          f"{t_month_cold * 1000:.1f} | **{t_month_cold / t_read:.2f}×** the indexed read, "
          f"**{t_month_cold / t_scan:.2f}×** the sequential scan |")
    print(f"| 30-day summary report (kept days, held by the worker after its first read) | {large[0]:,} conversations | "
          f"{t_month * 1000:.1f} | **{t_month / t_read:.2f}×** the indexed read, **{t_month / t_scan:.2f}×** the sequential scan |")
    print(f"| whole summary page, 30 days and the previous 30 (kept days) | {large[0]:,} conversations | "
          f"{t_whole * 1000:.1f} | {t_whole / t_scan:.2f}× the sequential scan |")
    print("\nThe month's headline from kept days equals the one from the event log alone.")
    print(f"\n(generated {small[0]:,} conversations in {generate_small:.0f} s, "
          f"then {large[0] - small[0]:,} more in {generate_large:.0f} s)")


if __name__ == "__main__":
    asyncio.run(main())
