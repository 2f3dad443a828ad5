"""Routing decisions: what one costs as the floor grows, and on Redis against a round trip.

    .venv/bin/python bench/routing_decisions.py            # needs Redis on 127.0.0.1:6379 (database 0)
    .venv/bin/python bench/routing_decisions.py --no-redis
    .venv/bin/python bench/routing_decisions.py --quick   # floors of 50 and 1,000, 50 decisions each

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

from bench.common import REDIS_BENCH, add_quick, delete_keys, run_prefix  # noqa: E402
from app.routing.store import (  # noqa: E402
    GENERAL, AgentState, ChatState, MemoryRoutingStore, RedisRoutingStore, chat_order, queue_id,
)

NOW = 1_795_000_000_000  # ms
DEPARTMENTS = (1, 2, 3, 4)
STRATEGIES = {1: "longest_idle", 2: "least_busy", 3: "round_robin", 4: "skills"}
# small, large: the floor sizes; decisions timed per floor; PING/EVAL rounds; decisions in a row for
# the assignments-per-second figure.
FULL = {"small": 100, "large": 10_000, "decisions": 100, "rounds": 2000, "in_a_row": 2000}
QUICK = {"small": 50, "large": 1_000, "decisions": 50, "rounds": 200, "in_a_row": 200}


def floors(size: dict) -> tuple[tuple[int, int], ...]:
    small, large = size["small"], size["large"]
    return (small, small), (large, small), (small, large), (large, large)


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


async def time_decisions(store, decisions: int) -> tuple[float, int]:
    started = time.perf_counter()
    made = 0
    for k in range(decisions):
        if await store.decide(NOW + k + 1) is None:
            break
        made += 1
    return (time.perf_counter() - started) / max(1, made), made


async def memory_part(size: dict) -> list[tuple[int, int, float, int]]:
    rows = []
    for agents, chats in floors(size):
        store = MemoryRoutingStore()
        await load_floor(store, agents, chats)
        cost, made = await time_decisions(store, size["decisions"])
        rows.append((agents, chats, cost, made))
    return rows


async def redis_part(url: str, size: dict):
    from redis.asyncio import Redis

    redis = Redis.from_url(url)
    prefixes: list[str] = []

    def new_store() -> RedisRoutingStore:
        """A store in a namespace of this run's own; the previous floor's keys are deleted first."""
        for old in prefixes:
            delete_keys(url, old)
        prefixes[:] = [run_prefix("routing")]
        return RedisRoutingStore(redis, prefix=prefixes[-1])

    rounds = size["rounds"]
    trivial = redis.register_script("return 1")

    async def timed(fn) -> float:
        for _ in range(50):
            await fn()
        started = time.perf_counter()
        for _ in range(rounds):
            await fn()
        return (time.perf_counter() - started) / rounds

    measured = []
    try:
        ping = await timed(redis.ping)
        script = await timed(lambda: trivial())
        for agents, chats in floors(size):
            store = new_store()
            await load_floor(store, agents, chats)
            cost, made = await time_decisions(store, size["decisions"])
            measured.append((agents, chats, cost, made))
        # Throughput: decisions per second on the biggest floor, one after another.
        store = new_store()
        await load_floor(store, size["large"], size["large"])
        started = time.perf_counter()
        made = 0
        while made < size["in_a_row"] and await store.decide(NOW + made + 1) is not None:
            made += 1
        per_second = made / (time.perf_counter() - started)
    finally:
        for old in prefixes:
            delete_keys(url, old)
        await redis.aclose()
    return ping, script, measured, per_second


def table(rows, title: str) -> None:
    print(f"\n{title}\n")
    base_agents, base_chats, base, _ = rows[0]
    print(f"| agents | waiting chats | decisions timed | µs per decision | ratio to {base_agents:,} × {base_chats:,} |")
    print("|---|---|---|---|---|")
    for agents, chats, cost, made in rows:
        print(f"| {agents:,} | {chats:,} | {made} | {cost * 1e6:.1f} | **{cost / base:.2f}×** |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis", default=REDIS_BENCH, help="the Redis database (only keys under a prefix of "
                        "this run's own are touched)")
    parser.add_argument("--no-redis", action="store_true")
    add_quick(parser)
    args = parser.parse_args()
    size = QUICK if args.quick else FULL
    if args.quick:
        print("\n(QUICK mode: small floors, not for the record)")

    table(asyncio.run(memory_part(size)), "In-memory store: cost of a decision as the floor grows")
    if args.no_redis:
        return
    ping, script, redis_floors, per_second = asyncio.run(redis_part(args.redis, size))
    table(redis_floors, "Redis store: cost of a decision as the floor grows")
    print("\nRedis store against raw round trips (same run)\n")
    print("| operation | µs | ÷ PING |")
    print("|---|---|---|")
    print(f"| raw PING round trip | {ping * 1e6:.0f} | **1.00×** |")
    print(f"| trivial EVAL | {script * 1e6:.0f} | **{script / ping:.2f}×** |")
    for agents, chats, cost, _ in redis_floors:
        print(f"| one decision, {agents:,} agents × {chats:,} chats | {cost * 1e6:.0f} | **{cost / ping:.2f}×** |")
    large = size["large"]
    print(f"\nAssignments per second, one worker, {large:,} × {large:,} floor: **{per_second:,.0f}** "
          f"(PINGs per second: {1 / ping:,.0f})")


if __name__ == "__main__":
    main()
