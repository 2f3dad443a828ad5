"""Page-view ingest: page views per second stored through the trail's own code path, against a
raw bulk insert of the same rows into the same database, in the same run.

    .venv/bin/python bench/trail_ingest.py              # SQLite and PostgreSQL
    .venv/bin/python bench/trail_ingest.py --visitors 500 --pages 20 --only sqlite
    .venv/bin/python bench/trail_ingest.py --quick      # 50 visitors × 10 pages, both back ends

Each back end gets a scratch database, migrated (PostgreSQL: a uniquely named one, dropped
after). 500 visitors each view 20 pages, interleaved as a busy site's traffic is (10,000 page
views). Timed, in order:

1. the trail (`app.services.tracking.page_view` for every view, as the socket handler calls it,
   yielding to the event loop between views as a server does between events:
   the visit found or opened, the page view queued, the batch written every 0.5 s or 500 rows;
   the clock stops when the last batch is written);
2. one write per page view — the page view inserted, its visit and visitor updated, each its
   own statement (what a tracker without batching costs);
3. the baseline: the same page-view rows inserted with one bulk insert in one transaction.

The ratio is each figure's page views per second over the baseline's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import add_quick, scratch_database_name, sizes  # noqa: E402

PG_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
FULL = {"visitors": 500, "pages": 20}
QUICK = {"visitors": 50, "pages": 10}
PAGES = [f"https://shop.example.com/{section}/{i}" for section in ("tents", "boots", "jackets", "blog")
         for i in range(50)]


async def scratch(backend: str, pg_db: str) -> str:
    if backend == "sqlite":
        path = Path(tempfile.mkdtemp(prefix="sb-bench-trail-")) / "trail.sqlite3"
        url = f"sqlite://{path}"
    else:
        import asyncpg

        conn = await asyncpg.connect(PG_ADMIN)
        try:
            await conn.execute(f'CREATE DATABASE "{pg_db}"')
        finally:
            await conn.close()
        url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgres://", 1) + "/" + pg_db
    env = {**os.environ, "DATABASE_URL": url}
    env.pop("REDIS_URL", None)
    migrate = subprocess.run([sys.executable, "-m", "app", "migrate"], cwd=ROOT, env=env, capture_output=True,
                             text=True)
    if migrate.returncode != 0:
        raise RuntimeError(f"`python -m app migrate` failed:\n{migrate.stdout}\n{migrate.stderr}")
    return url


async def run(backend: str, visitors: int, pages: int) -> dict:
    pg_db = scratch_database_name("trail")
    try:
        return await measure(await scratch(backend, pg_db), backend, visitors, pages)
    finally:
        if backend == "postgres":
            import asyncpg

            conn = await asyncpg.connect(PG_ADMIN)
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{pg_db}" WITH (FORCE)')
            finally:
                await conn.close()


async def measure(url: str, backend: str, visitors: int, pages: int) -> dict:
    from app import runtime
    from app.clock import utcnow
    from app.config import load_settings
    from app.db import close_db, init_db
    from app.models import PageView, Site, Visit, Visitor
    from app.services import tracking

    settings = load_settings({"DATABASE_URL": url, "DATA_DIR": tempfile.mkdtemp(prefix="sb-bench-")})
    runtime.install(runtime.build(settings))
    await init_db(settings)
    tracking.reset()
    try:
        site = await Site.create(name="Bench", key=f"site_bench_{backend}", allowed_origins=[], settings={})
        now = utcnow()

        async def crowd(tag: str) -> list:
            rows = [Visitor(id=f"v_{tag}_{i:05d}", site_id=site.id, first_seen=now, last_seen=now, visit_count=0,
                            device="desktop") for i in range(visitors)]
            await Visitor.bulk_create(rows, batch_size=1000)
            return rows

        rng = random.Random(5)
        order = [i for i in range(visitors) for _ in range(pages)]
        rng.shuffle(order)
        views = [(i, rng.choice(PAGES)) for i in order]
        n = len(views)
        track = tracking.settings_of(site)

        # 1. The trail's own path.
        people = await crowd("trail")
        started = time.perf_counter()
        for k, (i, page) in enumerate(views):
            await tracking.page_view(people[i], track, page, "A page", None, f"pv{k}")
            await asyncio.sleep(0)  # a server handles other events between page views: batches get written
        await tracking.flush()
        trail = time.perf_counter() - started
        stored = await PageView.filter(visitor_id__startswith="v_trail_").count()
        assert stored == n, (stored, n)

        # 2. One write per page view.
        people = await crowd("single")
        visit_of = {}
        for i, person in enumerate(people):
            visit_of[i] = (await Visit.create(site_id=site.id, visitor_id=person.id, number=1, started_at=now,
                                              last_activity_at=now)).id
        started = time.perf_counter()
        for i, page in views:
            at = utcnow()
            await PageView.create(visit_id=visit_of[i], visitor_id=people[i].id, url=page, title="A page", at=at)
            await Visit.filter(id=visit_of[i]).update(last_activity_at=at)
            await Visitor.filter(id=people[i].id).update(current_url=page, current_title="A page", last_seen=at)
        single = time.perf_counter() - started

        # 3. Baseline: the same rows, one bulk insert in one transaction.
        people = await crowd("bulk")
        visit_of = {}
        for i, person in enumerate(people):
            visit_of[i] = (await Visit.create(site_id=site.id, visitor_id=person.id, number=1, started_at=now,
                                              last_activity_at=now)).id
        from tortoise.transactions import in_transaction

        rows = [PageView(visit_id=visit_of[i], visitor_id=people[i].id, url=page, title="A page", at=now,
                         view_key=f"b{k}") for k, (i, page) in enumerate(views)]
        started = time.perf_counter()
        async with in_transaction() as conn:
            await PageView.bulk_create(rows, batch_size=tracking.BATCH_ROWS, using_db=conn)
        bulk = time.perf_counter() - started
        flushes = tracking.buffers().stats["flushes"]
        return {"n": n, "trail": n / trail, "single": n / single, "bulk": n / bulk, "flushes": flushes}
    finally:
        await close_db()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--visitors", type=int, help=f"visitors (default {FULL['visitors']})")
    parser.add_argument("--pages", type=int, help=f"pages each visitor views (default {FULL['pages']})")
    add_quick(parser)
    parser.add_argument("--only", choices=("sqlite", "postgres"))
    parser.add_argument("--rows-only", action="store_true", help=argparse.SUPPRESS)
    args = sizes(parser.parse_args(), FULL, QUICK)
    if args.rows_only:  # one back end, in a process of its own (the ORM binds to one database)
        r = asyncio.run(run(args.only, args.visitors, args.pages))
        print(json.dumps(r))
        return
    backends = [args.only] if args.only else ["sqlite", "postgres"]
    print(f"\nPage-view ingest: {args.visitors} visitors × {args.pages} pages, interleaved"
          f"{' (QUICK mode, not for the record)' if args.quick else ''}\n")
    print("| back end | path | page views/s | ratio to bulk insert |")
    print("|---|---|---|---|")
    for backend in backends:
        child = subprocess.run([sys.executable, __file__, "--only", backend, "--rows-only", "--visitors",
                                str(args.visitors), "--pages", str(args.pages)], capture_output=True, text=True)
        if child.returncode != 0:
            sys.exit(f"the {backend} run failed:\n{child.stdout}\n{child.stderr}")
        r = json.loads(child.stdout.strip().splitlines()[-1])
        name = "SQLite" if backend == "sqlite" else "PostgreSQL"
        print(f"| {name} | trail (batched, {r['flushes']} batches) | {r['trail']:,.0f} | **{r['trail'] / r['bulk']:.2f}×** |")
        print(f"| {name} | one write per page view | {r['single']:,.0f} | **{r['single'] / r['bulk']:.2f}×** |")
        print(f"| {name} | raw bulk insert (baseline) | {r['bulk']:,.0f} | 1.00× |")


if __name__ == "__main__":
    main()
