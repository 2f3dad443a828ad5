"""Message round trip visitor → agent → visitor through the full stack, against a bare relay.

Switchboard: the visitor's message is validated, persisted with its sequence number, routed
to the agent's console; an auto-replying agent answers through the same path. Baseline: a bare
python-socketio relay on the same server stack, measured in the same run. Reports median and
p99 latency, messages per second, and the ratios.

    .venv/bin/python bench/message_roundtrip.py [--round-trips 300] [--pairs 20] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import socketio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support import clients  # noqa: E402
from tests.support.server import deploy, free_port  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def switchboard_pair(dep, agent_email: str):
    agent = await clients.agent(dep.server.url, agent_email, dep.password)
    await agent.call("set_status", {"status": "available"})
    visitor = await clients.visitor(dep.server.url, dep.site_key, dep.origin)
    ack = await visitor.call("message", {"client_id": uuid.uuid4().hex, "body": "hello"})
    conversation_id = ack["conversation_id"]
    await agent.rec.wait_for("conversation.assigned", lambda c: c["id"] == conversation_id)
    await agent.call("open", {"conversation_id": conversation_id})

    @agent.sio.on("message", namespace="/agent")
    async def auto_reply(data):
        if data["sender"] == "visitor":
            # Not awaited inline: the client reads acks on the loop this handler runs on.
            asyncio.create_task(agent.call("message", {"conversation_id": conversation_id,
                                                       "client_id": uuid.uuid4().hex, "body": "re: " + data["body"]}))

    return visitor, agent


async def switchboard_round_trip(visitor, n: int) -> list[float]:
    latencies = []
    for i in range(n):
        got = asyncio.get_running_loop().create_future()
        body = f"ping {i} {uuid.uuid4().hex[:6]}"

        def on_message(data, body=body, got=got):
            if data.get("sender") == "agent" and data.get("body") == "re: " + body and not got.done():
                got.set_result(time.perf_counter())

        visitor.sio.handlers["/visitor"]["message"] = on_message
        start = time.perf_counter()
        await visitor.emit("message", {"client_id": uuid.uuid4().hex, "body": body})
        end = await asyncio.wait_for(got, 10)
        latencies.append(end - start)
    return latencies


async def relay_pair(url: str):
    visitor = socketio.AsyncClient()
    agent = socketio.AsyncClient()

    @agent.on("message", namespace="/relay")
    async def auto_reply(data):
        await agent.emit("message", {"from": "agent", "body": "re: " + data["body"]}, namespace="/relay")

    await agent.connect(url, namespaces=["/relay"], auth={"role": "agent"}, transports=["websocket"])
    await visitor.connect(url, namespaces=["/relay"], auth={"role": "visitor"}, transports=["websocket"])
    return visitor, agent


async def relay_round_trip(visitor, n: int) -> list[float]:
    latencies = []
    for i in range(n):
        got = asyncio.get_running_loop().create_future()
        body = f"ping {i}"

        def on_message(data, body=body, got=got):
            if data.get("body") == "re: " + body and not got.done():
                got.set_result(time.perf_counter())

        visitor.handlers.setdefault("/relay", {})["message"] = on_message
        start = time.perf_counter()
        await visitor.emit("message", {"from": "visitor", "body": body}, namespace="/relay")
        end = await asyncio.wait_for(got, 10)
        latencies.append(end - start)
    return latencies


async def throughput(pairs: list, run, per_pair: int) -> float:
    start = time.perf_counter()
    await asyncio.gather(*(run(v, per_pair) for v, _ in pairs))
    return len(pairs) * per_pair * 2 / (time.perf_counter() - start)  # two messages per round trip


def describe(name: str, latencies: list[float], rate: float) -> dict:
    return {"name": name, "median_ms": statistics.median(latencies) * 1000,
            "p99_ms": percentile(latencies, 0.99) * 1000, "msgs_per_s": rate}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--round-trips", type=int, default=300)
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--per-pair", type=int, default=30)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL + Redis instead of SQLite")
    args = parser.parse_args()

    pg = None
    if args.postgres:
        import asyncpg

        pg = "sb_bench_" + uuid.uuid4().hex[:8]
        conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
        await conn.execute(f'CREATE DATABASE "{pg}"')
        await conn.close()
    dep = deploy(database_url=f"postgres://postgres@127.0.0.1:5432/{pg}" if pg else None,
                 redis_url="redis://127.0.0.1:6379/8" if pg else None,
                 extra_env={"MESSAGE_RATE_LIMIT": "100000/1"})  # measure the stack, not the limiter
    port = free_port()
    relay = subprocess.Popen([sys.executable, str(ROOT / "bench" / "relay_server.py"), str(port)])
    try:
        for _ in range(200):
            try:
                probe = socketio.AsyncClient()
                await probe.connect(f"http://127.0.0.1:{port}", namespaces=["/relay"], auth={"role": "probe"})
                await probe.disconnect()
                break
            except socketio.exceptions.ConnectionError:
                await asyncio.sleep(0.05)

        # Latency: one pair, sequential round trips (warm-up first).
        sb_visitor, sb_agent = await switchboard_pair(dep, "agent@example.com")
        relay_visitor, relay_agent = await relay_pair(f"http://127.0.0.1:{port}")
        await switchboard_round_trip(sb_visitor, 20)
        await relay_round_trip(relay_visitor, 20)
        sb_lat = await switchboard_round_trip(sb_visitor, args.round_trips)
        relay_lat = await relay_round_trip(relay_visitor, args.round_trips)

        # Throughput: several pairs at once.
        sb_pairs = [(sb_visitor, sb_agent)]
        for i in range(args.pairs - 1):
            email = f"bench{i}@example.com"
            dep.create_user(email, "agent", f"Bench {i}", max_chats=1)
            sb_pairs.append(await switchboard_pair(dep, email))
        relay_pairs = [(relay_visitor, relay_agent)] + [
            await relay_pair(f"http://127.0.0.1:{port}") for _ in range(args.pairs - 1)
        ]
        sb_rate = await throughput(sb_pairs, switchboard_round_trip, args.per_pair)
        relay_rate = await throughput(relay_pairs, relay_round_trip, args.per_pair)

        sb = describe("switchboard (persisted, routed)", sb_lat, sb_rate)
        base = describe("bare python-socketio relay", relay_lat, relay_rate)
        backend = "PostgreSQL + Redis" if pg else "SQLite, in-memory state"
        print(f"\nMessage round trip visitor → agent → visitor ({backend}; {args.round_trips} sequential "
              f"round trips; throughput with {args.pairs} pairs × {args.per_pair})\n")
        print("| stack | median ms | p99 ms | messages/s |\n|---|---|---|---|")
        for row in (sb, base):
            print(f"| {row['name']} | {row['median_ms']:.2f} | {row['p99_ms']:.2f} | {row['msgs_per_s']:.0f} |")
        print(f"| ratio switchboard / relay | {sb['median_ms'] / base['median_ms']:.2f}× | "
              f"{sb['p99_ms'] / base['p99_ms']:.2f}× | {sb['msgs_per_s'] / base['msgs_per_s']:.2f}× |")
        for v, a in sb_pairs:
            await v.disconnect()
            await a.disconnect()
        for v, a in relay_pairs:
            await v.disconnect()
            await a.disconnect()
    finally:
        relay.terminate()
        dep.stop()
        if pg:
            conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
            await conn.execute(f'DROP DATABASE IF EXISTS "{pg}" WITH (FORCE)')
            await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
