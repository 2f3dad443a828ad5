"""Routing cost: the pure decision as agents and waiting chats grow, and the Redis coordination
against raw Redis round trips.

    .venv/bin/python bench/routing_decisions.py            # needs Redis on 127.0.0.1:6379 for part 2
    .venv/bin/python bench/routing_decisions.py --no-redis

Part 1 times `plan_assignments` (the decision) per chat decided, with 100 and 10,000 agents and
100 and 10,000 waiting chats (four departments, capacity 3, agents in one or two departments),
as a ratio to the 100 × 100 case; flat means the cost per decision does not grow with the floor.

Part 2 times what the Redis store adds to a routing pass — take the lease, take the request
flag, release the lease (SET NX PX, GETDEL, an EVAL) — against a raw round trip (PING) and a
trivial EVAL measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.routing.policy import AgentSnapshot, WaitingChat, plan_assignments  # noqa: E402

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
DEPARTMENTS = (1, 2, 3, 4)


def floor(agents: int, chats: int, seed: int = 1):
    rng = random.Random(seed)
    snapshots = []
    for i in range(agents):
        departments = frozenset(rng.sample(DEPARTMENTS, rng.choice((1, 2))))
        snapshots.append(AgentSnapshot(
            id=i + 1, status="available", load=rng.randint(0, 2), capacity=3,
            idle_since=T0 - timedelta(seconds=rng.randint(0, 3600)), department_ids=departments,
            last_assigned_at=T0 - timedelta(seconds=rng.randint(0, 3600)),
            skills={d: rng.randint(1, 5) for d in departments},
        ))
    waiting = [
        WaitingChat(id=i + 1, requested_at=T0 + timedelta(seconds=i), department_id=rng.choice(DEPARTMENTS),
                    priority=rng.choice((0, 0, 0, 10)))
        for i in range(chats)
    ]
    strategies = {1: "longest_idle", 2: "least_busy", 3: "round_robin", 4: "skills"}
    return waiting, snapshots, strategies


def per_pass(agents: int, chats: int, repeat: int) -> tuple[float, int]:
    waiting, snapshots, strategies = floor(agents, chats)
    samples = []
    decided = 0
    for _ in range(repeat):
        started = time.perf_counter()
        decisions = plan_assignments(waiting, snapshots, strategies, now=T0)
        samples.append(time.perf_counter() - started)
        decided = len(decisions)
    return statistics.median(samples), decided


async def redis_part(url: str, rounds: int) -> list[tuple[str, float]]:
    from redis.asyncio import Redis

    from app.routing.store import RedisRoutingStore

    redis = Redis.from_url(url)
    store = RedisRoutingStore(redis, prefix="sb:bench:routing:")
    trivial = redis.register_script("return 1")

    async def timed(fn) -> float:
        for _ in range(50):
            await fn()
        started = time.perf_counter()
        for _ in range(rounds):
            await fn()
        return (time.perf_counter() - started) / rounds

    async def one_pass():
        await store.request_pass()
        assert await store.try_acquire()
        await store.take_request()
        await store.release()

    try:
        ping = await timed(redis.ping)
        script = await timed(lambda: trivial())
        coordination = await timed(one_pass)
    finally:
        await redis.delete("sb:bench:routing:lock", "sb:bench:routing:dirty")
        await redis.aclose()
    return [("raw PING round trip", ping), ("trivial EVAL", script), ("routing pass coordination", coordination)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--no-redis", action="store_true")
    args = parser.parse_args()

    print("\nRouting decision cost (pure policy; median of %d passes)\n" % args.repeat)
    print("| agents | waiting chats | decided | ms per pass | µs per decision | ratio per decision |")
    print("|---|---|---|---|---|---|")
    base = None
    for agents, chats in ((100, 100), (10_000, 100), (100, 10_000), (10_000, 10_000)):
        seconds, decided = per_pass(agents, chats, args.repeat)
        cost = seconds / max(1, decided)
        base = base or cost
        print(f"| {agents:,} | {chats:,} | {decided:,} | {seconds * 1e3:.2f} | {cost * 1e6:.1f} | "
              f"**{cost / base:.2f}×** |")

    if not args.no_redis:
        rows = asyncio.run(redis_part(args.redis, 2000))
        ping = rows[0][1]
        print("\nRedis coordination of a routing pass (2,000 rounds)\n")
        print("| operation | µs | round trips (÷ PING) |")
        print("|---|---|---|")
        for name, seconds in rows:
            print(f"| {name} | {seconds * 1e6:.0f} | **{seconds / ping:.2f}×** |")


if __name__ == "__main__":
    main()
