"""The live Visitors list: server work and bytes pushed per second with 5,000 visitors online,
each changing page every 30 seconds (about 167 page views a second).

    .venv/bin/python bench/live_list.py [--visitors 5000] [--seconds 30]
    .venv/bin/python bench/live_list.py --quick     # 500 visitors, 5 simulated seconds

Drives the live-visitor pipeline in-process (app/tracking/live.py: the row updates on each page
view and the once-a-second batch a console receives as `visitors.delta`), over simulated seconds,
and reports per second: the CPU time the pipeline took and the bytes of the batch one console
receives. Baseline, measured in the same run: sending the whole list every second (what a
console that polls for the list, as LiveHelperChat does every 10 s, would get on each refresh),
built and serialised the same way. The ratio is incremental ÷ whole list.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import runtime  # noqa: E402
from bench.common import add_quick, sizes  # noqa: E402
from app.config import load_settings  # noqa: E402
from app.clock import utcnow  # noqa: E402
from app.services.tracking import VisitState  # noqa: E402
from app.tracking import live, referrer as referrers  # noqa: E402

PAGES = [f"https://shop.example.com/{section}/{i}" for section in ("tents", "boots", "jackets", "blog") for i in range(50)]
FULL = {"visitors": 5000, "seconds": 30}
QUICK = {"visitors": 500, "seconds": 5}
REFERRERS = [None, "https://www.google.com/search?q=blue+tent", "https://www.facebook.com/", "https://news.example.org/a"]


@dataclass
class FakeVisitor:
    id: str
    site_id: int = 1
    is_bot: bool = False
    name: str | None = None
    country: str | None = "DE"
    device: str = "desktop"
    browser: str = "Chrome"
    os: str = "Windows"
    visit_count: int = 1
    current_url: str | None = None
    current_title: str | None = None


async def run(visitors: int, seconds: int) -> dict:
    rng = random.Random(3)
    crowd = [FakeVisitor(id=f"v_{i:06d}", visit_count=rng.choice((1, 1, 2, 5))) for i in range(visitors)]
    live.reset()
    visits = {}
    for v in crowd:
        await live.online(v)
        referrer = rng.choice(REFERRERS)
        url = rng.choice(PAGES)
        visits[v.id] = VisitState(id=1, number=v.visit_count, started_at=utcnow(), last_activity=utcnow(), pages=1,
                                  source=referrers.classify(referrer, url))
        await live.page_viewed(v, url, "A page", referrer, visits[v.id], True)
    live.state().dirty.clear()
    live.state().removed.clear()
    per_second = visitors / 30
    work = sent = 0.0
    full_work = full_bytes = 0.0
    carry = 0.0
    for _ in range(seconds):
        carry += per_second
        movers = int(carry)
        carry -= movers
        started = time.process_time()
        for v in rng.sample(crowd, movers):
            visits[v.id].pages += 1
            await live.page_viewed(v, rng.choice(PAGES), "Another page", None, visits[v.id], False)
        before = live.state().stats["bytes"]
        await live.flush()
        work += time.process_time() - started
        sent += live.state().stats["bytes"] - before
        # Baseline: the whole list, built and serialised, once a second.
        started = time.process_time()
        rows = await live.snapshot()
        body = json.dumps({"visitors": rows}, separators=(",", ":"))
        full_work += time.process_time() - started
        full_bytes += len(body)
    return {"work_ms": work / seconds * 1e3, "bytes": sent / seconds, "full_work_ms": full_work / seconds * 1e3,
            "full_bytes": full_bytes / seconds, "page_views": per_second}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--visitors", type=int, help=f"visitors online (default {FULL['visitors']:,})")
    parser.add_argument("--seconds", type=int, help=f"simulated seconds (default {FULL['seconds']})")
    add_quick(parser)
    args = sizes(parser.parse_args(), FULL, QUICK)
    runtime.install(runtime.build(load_settings({"DATA_DIR": "/tmp/sb-bench-live"})))
    r = asyncio.run(run(args.visitors, args.seconds))
    print(f"\nLive Visitors list: {args.visitors:,} online, each changing page every 30 s "
          f"({r['page_views']:.0f} page views a second), {args.seconds} simulated seconds"
          f"{'; QUICK mode, not for the record' if args.quick else ''}\n")
    print("| per second | incremental (`visitors.delta`) | whole list each second | ratio |")
    print("|---|---|---|---|")
    print(f"| server CPU time | {r['work_ms']:.1f} ms | {r['full_work_ms']:.1f} ms | "
          f"**{r['work_ms'] / r['full_work_ms']:.2f}×** |")
    print(f"| bytes to one console | {r['bytes'] / 1024:.1f} KiB | {r['full_bytes'] / 1024:.1f} KiB | "
          f"**{r['bytes'] / r['full_bytes']:.3f}×** |")


if __name__ == "__main__":
    main()
