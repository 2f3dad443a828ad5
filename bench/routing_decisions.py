"""Routing decisions: what one costs as the floor grows, and on Redis against a round trip.

    .venv/bin/python bench/routing_decisions.py            # needs Redis on 127.0.0.1:6379 (database 15)
    .venv/bin/python bench/routing_decisions.py --no-redis

A decision is `RoutingStore.decide`: pick the next chat and its agent and record the hold, in one
atomic step (app/routing/store.py). The floor: four departments with the four automatic
strategies, agents in one or two departments, capacity 3 with a random load, some priorities.

Part 1 times 100 decisions on floors of 100 and 10,000 agents by 100 and 10,000 waiting chats,
in each store, as a ratio to the 100 × 100 floor of the same store: flat means a decision does
not grow with the floor. Part 2 compares a decision in the Redis store with a raw round trip
(PING) and a trivial EVAL measured in the same run: a decision should cost about one round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.routing.store import (  # noqa: E402
    GENERAL, AgentState, ChatState, MemoryRoutingStore, RedisRoutingStore, chat_order, queue_id,
)

NOW = 1_795_000_000_000  # ms
DEPARTMENTS = (1, 2, 3, 4)
STRATEGIES = {1: "longest_idle", 2: "least_busy", 3: "round_robin", 4: "skills"}
DECISIONS = 100


async def load_floor(store, agents: int, chats: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    for i in range(1, agents + 1):
        departments = sorted(rng.sample(DEPARTMENTS, rng.choice((1, 2))))
        await store.put_agent(AgentState(
            id=i, available=True, capacity=3, idle_ms=NOW - rng.randint(1, 3_600_000),
            last_ms=NOW - rng.randint(1, 3_600_000), queues=(GENERAL, *map(str, departments)),
            skills={str(d): rng.randint(1, 5) for d in departments},
            held=tuple(10_000_000 + i * 10 + k for k in range(rng.randint(0, 2))),
        ), NOW)
    for i in range(1, chats + 1):
        department = rng.choice(DEPARTMENTS)
        await store.put_chat(ChatState(
            id=i, state="waiting", queue=queue_id(department), order=chat_order(rng.choice((0, 0, 0, 10)), NOW - 10**6 + i),
            strategy=STRATEGIES[department],
        ), NOW)


async def time_decisions(store) -> tuple[float, int]:
    started = time.perf_counter()
    made = 0
    for k in range(DECISIONS):
        if await store.decide(NOW + k + 1) is None:
            break
        made += 1
    return (time.perf_counter() - started) / max(1, made), made


async def memory_part() -> list[tuple[int, int, float, int]]:
    rows = []
    for agents, chats in ((100, 100), (10_000, 100), (100, 10_000), (10_000, 10_000)):
        store = MemoryRoutingStore()
        await load_floor(store, agents, chats)
        cost, made = await time_decisions(store)
        rows.append((agents, chats, cost, made))
    return rows


async def redis_part(url: str, rounds: int):
    from redis.asyncio import Redis

    redis = Redis.from_url(url)
    trivial = redis.register_script("return 1")

    async def timed(fn) -> float:
        for _ in range(50):
            await fn()
        started = time.perf_counter()
        for _ in range(rounds):
            await fn()
        return (time.perf_counter() - started) / rounds

    floors = []
    try:
        ping = await timed(redis.ping)
        script = await timed(lambda: trivial())
        for agents, chats in ((100, 100), (10_000, 100), (100, 10_000), (10_000, 10_000)):
            await redis.flushdb()
            store = RedisRoutingStore(redis, prefix="sb:bench:rt:")
            await load_floor(store, agents, chats)
            cost, made = await time_decisions(store)
            floors.append((agents, chats, cost, made))
        # Throughput: decisions per second on the biggest floor, one after another.
        await redis.flushdb()
        store = RedisRoutingStore(redis, prefix="sb:bench:rt:")
        await load_floor(store, 10_000, 10_000)
        started = time.perf_counter()
        made = 0
        while made < 2000 and await store.decide(NOW + made + 1) is not None:
            made += 1
        per_second = made / (time.perf_counter() - started)
    finally:
        await redis.flushdb()
        await redis.aclose()
    return ping, script, floors, per_second


def table(rows, title: str) -> None:
    print(f"\n{title}\n")
    print("| agents | waiting chats | decisions timed | µs per decision | ratio to 100 × 100 |")
    print("|---|---|---|---|---|")
    base = rows[0][2]
    for agents, chats, cost, made in rows:
        print(f"| {agents:,} | {chats:,} | {made} | {cost * 1e6:.1f} | **{cost / base:.2f}×** |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--no-redis", action="store_true")
    args = parser.parse_args()

    table(asyncio.run(memory_part()), "In-memory store: cost of a decision as the floor grows")
    if args.no_redis:
        return
    ping, script, floors, per_second = asyncio.run(redis_part(args.redis, 2000))
    table(floors, "Redis store: cost of a decision as the floor grows")
    print("\nRedis store against raw round trips (same run)\n")
    print("| operation | µs | ÷ PING |")
    print("|---|---|---|")
    print(f"| raw PING round trip | {ping * 1e6:.0f} | **1.00×** |")
    print(f"| trivial EVAL | {script * 1e6:.0f} | **{script / ping:.2f}×** |")
    for agents, chats, cost, _ in floors:
        print(f"| one decision, {agents:,} agents × {chats:,} chats | {cost * 1e6:.0f} | **{cost / ping:.2f}×** |")
    print(f"\nAssignments per second, one worker, 10,000 × 10,000 floor: **{per_second:,.0f}** "
          f"(PINGs per second: {1 / ping:,.0f})")


if __name__ == "__main__":
    main()
