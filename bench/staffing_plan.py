"""The staffing page with a year of history: its plan made afresh against the same plan read from
the cache (app/reports/planning.py, `PlanCache`).

    .venv/bin/python bench/staffing_plan.py            # a year at 550 chats a day (about 200,000)
    .venv/bin/python bench/staffing_plan.py --quick    # a year at 20 chats a day, 1 run each, Erlang A on 8 weeks

It creates a scratch PostgreSQL database with a name of its own (dropped at the end unless --keep),
migrates it, and writes 365 days of history up to yesterday (UTC, the center's time zone here)
straight into the event log with COPY (bench/kpi_history.py's generator: an intraday profile,
answered chats, abandons, transfers, ratings).

What a GET /staffing request waits for is the plan (`staffing_plan`): the weeks of history read
from the log, the forecast backtested and fitted, Erlang per half hour. Figures, each in the same
run, warm (after one unmeasured run), for the page's default inputs (8 weeks, Erlang C) and for
26 weeks (8 with --quick) with Erlang A:
1. the plan made afresh (`use_cache=False`: what every request did before the cache);
2. the same plan from the cache: the history's stamp read (four indexed queries) and a lookup;
   ratio = afresh / cached.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import add_quick, create_database, drop_database, scratch_database_name, sizes  # noqa: E402
from bench.kpi_history import History  # noqa: E402

FULL = {"per_day": 550, "repeat": 5, "long_weeks": 26}
QUICK = {"per_day": 20, "repeat": 1, "long_weeks": 8}
DAYS = 365


async def timed(fn, repeat: int):
    """Median seconds of `repeat` runs after one warm-up, and the last run's result."""
    await fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = await fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples), result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-day", type=int, help="chats a day over the year (default 550)")
    parser.add_argument("--repeat", type=int, help="timed runs per figure (median; default 5)")
    parser.add_argument("--long-weeks", type=int, help="weeks of history of the Erlang A plan (default 26)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    add_quick(parser)
    args = sizes(parser.parse_args(), FULL, QUICK)

    name = scratch_database_name("staffing")
    url = await create_database(name)
    os.environ["DATABASE_URL"] = url.replace("postgresql://", "postgres://", 1)
    from app import db
    from app import runtime as runtime_mod
    from app.config import load_settings
    from app.kpi.planning import StaffingTargets, to_csv
    from app.reports.planning import PlanCache, staffing_plan
    from app.services import deployment as deployment_identity

    rows = []
    conn = await asyncpg.connect(url)
    try:
        history = History(conn, args.per_day)
        await history.setup(visitor_pool=max(1000, args.per_day * 120))
        today = datetime.now(timezone.utc).date()
        started = time.perf_counter()
        await history.write_days([today - timedelta(days=i) for i in range(DAYS, 0, -1)])
        generated = time.perf_counter() - started

        settings = load_settings()
        await db.init_db(settings)
        rt = runtime_mod.build(settings, await deployment_identity.identity())
        with runtime_mod.activated(rt):
            for label, targets in (
                ("8 weeks, Erlang C (the page's defaults)", StaffingTargets()),
                (f"{args.long_weeks} weeks, Erlang A (patience 120 s, abandonment ≤ 5 %)",
                 StaffingTargets(weeks=args.long_weeks, model="erlang_a")),
            ):
                async def afresh(targets=targets):
                    return await staffing_plan(time_zone="UTC", targets=targets, concurrency_override=None,
                                               use_cache=False)

                async def cached(targets=targets):
                    return await staffing_plan(time_zone="UTC", targets=targets, concurrency_override=None)

                t_afresh, made = await timed(afresh, args.repeat)
                t_cached, read = await timed(cached, args.repeat)
                if to_csv(read) != to_csv(made):
                    raise SystemExit("the cached plan differs from the plan made afresh")
                rows.append((label, t_afresh, t_cached))
            cache = rt.state(PlanCache)
            hits, misses = cache.hits, cache.misses
        rt.cancel_pending()
        await db.close_db()
    finally:
        await conn.close()
        if args.keep:
            print(f"(kept the scratch database {name})")
        else:
            await drop_database(name)

    print(f"\nStaffing page plan with a year of history (PostgreSQL; {history.conversations:,} conversations, "
          f"{history.events:,} events; median of {args.repeat} warm runs"
          f"{'; QUICK mode, not for the record' if args.quick else ''})\n")
    print("| inputs | made afresh ms | from the cache ms | ratio |")
    print("|---|---|---|---|")
    for label, t_afresh, t_cached in rows:
        print(f"| {label} | {t_afresh * 1000:.1f} | {t_cached * 1000:.2f} | **{t_afresh / t_cached:.0f}×** |")
    print(f"\n(cache: {hits} hits, {misses} misses; the plans from the cache equal the plans made afresh; "
          f"generated the history in {generated:.0f} s)")


if __name__ == "__main__":
    asyncio.run(main())
