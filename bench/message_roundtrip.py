"""Message round trip visitor → agent → visitor through the full stack, against a bare relay.

Switchboard: the visitor's message is validated, persisted with its sequence number, routed
to the agent's console; an auto-replying agent answers through the same path. Baseline: a bare
python-socketio relay on the same server stack, measured in the same run. Reports median and
p99 latency, messages per second, and the ratios.

    .venv/bin/python bench/message_roundtrip.py [--round-trips 300] [--pairs 10] [--per-pair 30] [--postgres]
    .venv/bin/python bench/message_roundtrip.py --quick [--postgres]     # small sizes, seconds

Pairs: every CSR of the benchmark has room for exactly one chat and is Available before its
visitor writes, so each chat reaches a CSR of its own whatever the routing strategy; the pair is
whichever free CSR the chat is assigned to. The relay pairs its clients the same way (one room
per pair), so both stacks deliver each message to one recipient.

With --postgres: a scratch PostgreSQL database (dropped at the end), hence a deployment of its
own, whose Redis keys live in its own namespace (`sb:<uid>:`) and are deleted at the end; nothing
else in the Redis database is touched (bench/common.py). Runs can follow one another.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import socketio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import REDIS_BENCH, add_quick, delete_keys, scratch_database_name, sizes  # noqa: E402
from tests.support import clients  # noqa: E402
from tests.support.server import deploy, free_port  # noqa: E402

FULL = {"round_trips": 300, "pairs": 10, "per_pair": 30, "warm_up": 20}
QUICK = {"round_trips": 30, "pairs": 3, "per_pair": 10, "warm_up": 5}
PG_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
WAIT = 10.0  # seconds any single step may take before the run fails (it never waits forever)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def available_csr(dep, email: str) -> clients.Client:
    agent = await clients.agent(dep.server.url, email, dep.password)
    await agent.call("set_status", {"status": "available"})
    return agent


async def assigned_to(free: list[clients.Client], conversation_id: int) -> clients.Client:
    """The CSR among `free` that the chat is assigned to (within WAIT seconds, or an error)."""
    waits = {
        asyncio.ensure_future(
            csr.rec.wait_for("conversation.assigned", lambda c: c["id"] == conversation_id, timeout=None)
        ): csr
        for csr in free
    }
    done, pending = await asyncio.wait(waits, timeout=WAIT, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    if not done:
        raise RuntimeError(f"chat {conversation_id} reached none of the {len(free)} free CSRs in {WAIT:.0f} s")
    return waits[done.pop()]


async def switchboard_pair(dep, free: list[clients.Client]):
    """A new visitor starts a chat; it is paired with whichever free CSR receives it."""
    visitor = await clients.visitor(dep.server.url, dep.site_key, dep.origin)
    ack = await visitor.call("message", {"client_id": uuid.uuid4().hex, "body": "hello"})
    if not ack.get("ok"):
        raise RuntimeError(f"the visitor could not start a chat: {ack}")
    conversation_id = ack["conversation_id"]
    agent = await assigned_to(free, conversation_id)
    free.remove(agent)
    await agent.call("open", {"conversation_id": conversation_id})

    @agent.sio.on("message", namespace="/agent")
    async def auto_reply(data):
        if data["sender"] == "visitor" and data["conversation_id"] == conversation_id:
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
        end = await asyncio.wait_for(got, WAIT)
        latencies.append(end - start)
    return latencies


async def relay_pair(url: str, pair: int):
    visitor = socketio.AsyncClient()
    agent = socketio.AsyncClient()

    @agent.on("message", namespace="/relay")
    async def auto_reply(data):
        await agent.emit("message", {"from": "agent", "pair": pair, "body": "re: " + data["body"]}, namespace="/relay")

    await agent.connect(url, namespaces=["/relay"], auth={"role": "agent", "pair": pair}, transports=["websocket"])
    await visitor.connect(url, namespaces=["/relay"], auth={"role": "visitor", "pair": pair}, transports=["websocket"])
    visitor.pair = pair
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
        await visitor.emit("message", {"from": "visitor", "pair": visitor.pair, "body": body}, namespace="/relay")
        end = await asyncio.wait_for(got, WAIT)
        latencies.append(end - start)
    return latencies


async def throughput(pairs: list, run, per_pair: int) -> float:
    start = time.perf_counter()
    await asyncio.gather(*(run(v, per_pair) for v, _ in pairs))
    return len(pairs) * per_pair * 2 / (time.perf_counter() - start)  # two messages per round trip


def describe(name: str, latencies: list[float], rate: float) -> dict:
    return {"name": name, "median_ms": statistics.median(latencies) * 1000,
            "p99_ms": percentile(latencies, 0.99) * 1000, "msgs_per_s": rate}


async def wait_for_relay(url: str) -> None:
    deadline = time.monotonic() + WAIT
    while True:
        probe = socketio.AsyncClient()
        try:
            await probe.connect(url, namespaces=["/relay"], auth={"role": "probe"})
            await probe.disconnect()
            return
        except socketio.exceptions.ConnectionError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the relay did not start at {url}") from None
            await asyncio.sleep(0.05)  # polling for readiness, not timing anything


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--round-trips", type=int, help=f"sequential round trips timed (default {FULL['round_trips']})")
    parser.add_argument("--pairs", type=int, help=f"visitor/CSR pairs at once for throughput (default {FULL['pairs']})")
    parser.add_argument("--per-pair", type=int, help=f"round trips per pair for throughput (default {FULL['per_pair']})")
    parser.add_argument("--warm-up", type=int, help=f"untimed round trips first (default {FULL['warm_up']})")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL + Redis instead of SQLite")
    parser.add_argument("--redis", default=REDIS_BENCH, help="with --postgres: the Redis database (only this "
                        "run's own keys are touched)")
    add_quick(parser)
    args = sizes(parser.parse_args(), FULL, QUICK)

    pg = redis_url = None
    if args.postgres:
        import asyncpg

        pg = scratch_database_name("roundtrip")
        conn = await asyncpg.connect(PG_ADMIN)
        await conn.execute(f'CREATE DATABASE "{pg}"')
        await conn.close()
        redis_url = args.redis
    connected: list = []
    relay = None
    dep = None
    namespace = None  # the deployment's Redis namespace, with --postgres
    try:
        pg_url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgres://", 1) + f"/{pg}"
        dep = deploy(database_url=pg_url if pg else None,
                     redis_url=redis_url,
                     extra_env={"MESSAGE_RATE_LIMIT": "100000/1"})  # measure the stack, not the limiter
        if redis_url:
            namespace = dep.redis_prefix
        # The benchmark's CSRs, one place each (the deployment's own users stay offline).
        emails = [f"bench{i}@example.com" for i in range(args.pairs)]
        for i, email in enumerate(emails):
            dep.create_user(email, "agent", f"Bench {i}", max_chats=1)
        port = free_port()
        relay_url = f"http://127.0.0.1:{port}"
        relay = subprocess.Popen([sys.executable, str(ROOT / "bench" / "relay_server.py"), str(port)])
        await wait_for_relay(relay_url)

        # Latency: one pair, sequential round trips (warm-up first).
        first = await available_csr(dep, emails[0])
        connected.append(first)
        sb_pairs = [await switchboard_pair(dep, [first])]
        relay_pairs = [await relay_pair(relay_url, 0)]
        connected += [sb_pairs[0][0], *relay_pairs[0]]
        await switchboard_round_trip(sb_pairs[0][0], args.warm_up)
        await relay_round_trip(relay_pairs[0][0], args.warm_up)
        sb_lat = await switchboard_round_trip(sb_pairs[0][0], args.round_trips)
        relay_lat = await relay_round_trip(relay_pairs[0][0], args.round_trips)

        # Throughput: several pairs at once, each CSR with its own chat.
        free = [await available_csr(dep, email) for email in emails[1:]]
        connected += free
        for _ in emails[1:]:
            sb_pairs.append(await switchboard_pair(dep, free))
            connected.append(sb_pairs[-1][0])
        for pair in range(1, args.pairs):
            relay_pairs.append(await relay_pair(relay_url, pair))
            connected += relay_pairs[-1]
        sb_rate = await throughput(sb_pairs, switchboard_round_trip, args.per_pair)
        relay_rate = await throughput(relay_pairs, relay_round_trip, args.per_pair)

        sb = describe("switchboard (persisted, routed)", sb_lat, sb_rate)
        base = describe("bare python-socketio relay", relay_lat, relay_rate)
        backend = "PostgreSQL + Redis" if pg else "SQLite, in-memory state"
        quick = "; QUICK mode, not for the record" if args.quick else ""
        print(f"\nMessage round trip visitor → agent → visitor ({backend}; {args.round_trips} sequential "
              f"round trips; throughput with {args.pairs} pairs × {args.per_pair}{quick})\n")
        print("| stack | median ms | p99 ms | messages/s |\n|---|---|---|---|")
        for row in (sb, base):
            print(f"| {row['name']} | {row['median_ms']:.2f} | {row['p99_ms']:.2f} | {row['msgs_per_s']:.0f} |")
        print(f"| ratio switchboard / relay | {sb['median_ms'] / base['median_ms']:.2f}× | "
              f"{sb['p99_ms'] / base['p99_ms']:.2f}× | {sb['msgs_per_s'] / base['msgs_per_s']:.2f}× |")
    except BaseException:
        if dep is not None:  # what the server said, before its log goes with it
            print(f"--- server log (last lines) ---\n{dep.server.log()[-4000:]}", file=sys.stderr)
        raise
    finally:
        for client in connected:
            try:
                await client.disconnect()
            except Exception:
                pass
        if relay is not None:
            relay.terminate()
            relay.wait(10)
        if dep is not None:
            dep.stop()
        if namespace:
            delete_keys(redis_url, namespace)  # this deployment's keys, nothing else
        if pg:
            conn = await asyncpg.connect(PG_ADMIN)
            await conn.execute(f'DROP DATABASE IF EXISTS "{pg}" WITH (FORCE)')
            await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
