"""Message round trip visitor → agent → visitor through the full stack, against a bare relay.

Switchboard: the visitor's message is validated, persisted with its sequence number, routed
to the agent's console; an auto-replying agent answers through the same path. Baseline: a bare
python-socketio relay on the same server stack, measured in the same run. The floor: the same
relay writing each of the two messages raw into the same database first (one durable
transaction each, no ORM; bench/relay_server.py), the least a persisted chat message costs.
Reports median and p99 latency, messages per second, and the ratios full stack ÷ relay and
full stack ÷ floor. The sequential round trips are timed one stack after the other; with
--interleave, in turns (one round trip on each stack, the order rotating), so that the machine's
load changing meets the three alike — each round trip then also starts on a server that was idle
meanwhile, as a chat's messages mostly do.

    .venv/bin/python bench/message_roundtrip.py [--round-trips 300] [--pairs 10] [--per-pair 30] [--postgres] [--interleave]
    .venv/bin/python bench/message_roundtrip.py --quick [--postgres]     # small sizes, seconds
    .venv/bin/python bench/message_roundtrip.py --saturate [--processes 4] [--pairs 40] [--seconds 10] [--postgres]

--saturate: the ceiling. Several load-generator processes (multiprocessing) each drive their share
of the pairs, every pair sending its next round trip as soon as the last one came back, for a
fixed time; messages per second of the full stack, the floor and the relay, one after the other
in the same run. With --quick: 2 processes, 4 pairs, 1.5 s each.

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

FULL = {"round_trips": 300, "pairs": 10, "per_pair": 30, "warm_up": 20, "processes": 4, "seconds": 10.0}
QUICK = {"round_trips": 30, "pairs": 3, "per_pair": 10, "warm_up": 5, "processes": 2, "seconds": 1.5}
SATURATE_PAIRS = {"full": 40, "quick": 4}
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


async def interleaved(stacks: list, n: int) -> list[list[float]]:
    """`n` sequential round trips on each stack, taken in turns (one on each, the order rotating),
    so that a change of the machine's load meets every stack alike; the latencies of each stack."""
    latencies: list[list[float]] = [[] for _ in stacks]
    for i in range(n):
        for k in range(len(stacks)):
            j = (i + k) % len(stacks)
            run, visitor = stacks[j]
            latencies[j] += await run(visitor, 1)
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


def start_relay(database_url: str | None = None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    args = [sys.executable, str(ROOT / "bench" / "relay_server.py"), str(port)]
    return subprocess.Popen(args + ([database_url] if database_url else [])), f"http://127.0.0.1:{port}"


async def drive(pairs: list, run_one, seconds: float) -> tuple[int, float]:
    """Every pair sends round trip after round trip until `seconds` are up; (messages, elapsed)."""
    done = [0]
    start = time.perf_counter()
    deadline = start + seconds

    async def loop(visitor):
        while time.perf_counter() < deadline:
            await run_one(visitor, 1)
            done[0] += 2  # two messages per round trip
    await asyncio.gather(*(loop(v) for v, _ in pairs))
    return done[0], time.perf_counter() - start


async def _load_generator(index: int, plan: dict, lock, barrier, results) -> None:
    connected: list = []
    try:
        sb_pairs = []
        for email in plan["emails"]:
            # One free CSR at a time across all the processes: the new chat can only reach this one.
            await asyncio.get_running_loop().run_in_executor(None, lock.acquire)
            try:
                csr = await clients.agent(plan["url"], email, plan["password"])
                connected.append(csr)
                await csr.call("set_status", {"status": "available"})
                sb_pairs.append(await switchboard_pair(plan["dep"], [csr]))
                connected.append(sb_pairs[-1][0])
            finally:
                lock.release()
        relay_pairs = {}
        for kind in ("floor", "relay"):
            relay_pairs[kind] = []
            for k in range(len(plan["emails"])):
                relay_pairs[kind].append(await relay_pair(plan[kind], 1000 * (index + 1) + k))
                connected += relay_pairs[kind][-1]
        for kind, pairs, run_one in (("switchboard", sb_pairs, switchboard_round_trip),
                                     ("floor", relay_pairs["floor"], relay_round_trip),
                                     ("relay", relay_pairs["relay"], relay_round_trip)):
            await run_one(pairs[0][0], 2)  # warm
            await asyncio.get_running_loop().run_in_executor(None, barrier.wait, 120)
            results.put((kind, *await drive(pairs, run_one, plan["seconds"])))
    finally:
        for client in connected:
            try:
                await client.disconnect()
            except Exception:
                pass


class _Dep:  # what switchboard_pair needs of a deployment, picklable
    def __init__(self, url: str, site_key: str, origin: str) -> None:
        self.server = type("S", (), {"url": url})()
        self.site_key, self.origin = site_key, origin


def load_generator(index: int, plan: dict, lock, barrier, results) -> None:
    plan = dict(plan, dep=_Dep(plan["url"], plan["site_key"], plan["origin"]))
    asyncio.run(_load_generator(index, plan, lock, barrier, results))


def saturate(dep, emails: list[str], floor_url: str, relay_url: str, processes: int, seconds: float) -> dict:
    """Messages per second at saturation for each stack: the sum over the load generators."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    lock, barrier, results = ctx.Lock(), ctx.Barrier(processes), ctx.Queue()
    shares = [emails[i::processes] for i in range(processes)]
    plans = [{"emails": share, "url": dep.server.url, "password": dep.password, "site_key": dep.site_key,
              "origin": dep.origin, "floor": floor_url, "relay": relay_url, "seconds": seconds}
             for share in shares]
    procs = [ctx.Process(target=load_generator, args=(i, plan, lock, barrier, results), daemon=True)
             for i, plan in enumerate(plans)]
    for proc in procs:
        proc.start()
    totals: dict[str, list[float]] = {}
    try:
        for _ in range(3 * processes):
            kind, messages, elapsed = results.get(timeout=180)
            totals.setdefault(kind, [0, 0.0])
            totals[kind][0] += messages
            totals[kind][1] = max(totals[kind][1], elapsed)
    finally:
        for proc in procs:
            proc.join(30)
            if proc.is_alive():
                proc.terminate()
    if any(proc.exitcode for proc in procs):
        raise RuntimeError(f"a load generator failed: exit codes {[p.exitcode for p in procs]}")
    return {kind: messages / elapsed for kind, (messages, elapsed) in totals.items()}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--round-trips", type=int, help=f"sequential round trips timed (default {FULL['round_trips']})")
    parser.add_argument("--pairs", type=int, help=f"visitor/CSR pairs at once for throughput (default {FULL['pairs']})")
    parser.add_argument("--per-pair", type=int, help=f"round trips per pair for throughput (default {FULL['per_pair']})")
    parser.add_argument("--warm-up", type=int, help=f"untimed round trips first (default {FULL['warm_up']})")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL + Redis instead of SQLite")
    parser.add_argument("--interleave", action="store_true", help="time the sequential round trips in turns "
                        "across the three stacks instead of one stack after the other")
    parser.add_argument("--saturate", action="store_true", help="the ceiling: messages/s at saturation, "
                        "several load-generator processes, many pairs")
    parser.add_argument("--processes", type=int, help=f"with --saturate: load-generator processes "
                        f"(default {FULL['processes']})")
    parser.add_argument("--seconds", type=float, help=f"with --saturate: seconds each stack is driven "
                        f"(default {FULL['seconds']})")
    parser.add_argument("--redis", default=REDIS_BENCH, help="with --postgres: the Redis database (only this "
                        "run's own keys are touched)")
    add_quick(parser)
    args = parser.parse_args()
    if args.saturate and args.pairs is None:
        args.pairs = SATURATE_PAIRS["quick" if args.quick else "full"]
    args = sizes(args, FULL, QUICK)

    pg = redis_url = None
    if args.postgres:
        import asyncpg

        pg = scratch_database_name("roundtrip")
        conn = await asyncpg.connect(PG_ADMIN)
        await conn.execute(f'CREATE DATABASE "{pg}"')
        await conn.close()
        redis_url = args.redis
    connected: list = []
    relay = floor = None
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
        # The floor writes into the deployment's own database (a scratch table, dropped at the end).
        floor_db = pg_url if pg else f"sqlite://{Path(dep.env['DATA_DIR']) / 'switchboard.sqlite3'}"
        relay, relay_url = start_relay()
        floor, floor_url = start_relay(floor_db)
        await wait_for_relay(relay_url)
        await wait_for_relay(floor_url)
        backend = "PostgreSQL + Redis" if pg else "SQLite, in-memory state"
        quick = "; QUICK mode, not for the record" if args.quick else ""

        if args.saturate:
            rates = await asyncio.get_running_loop().run_in_executor(
                None, saturate, dep, emails, floor_url, relay_url, args.processes, args.seconds)
            print(f"\nMessages per second at saturation ({backend}; {args.processes} load-generator processes, "
                  f"{args.pairs} pairs, {args.seconds:g} s per stack{quick})\n")
            print("| stack | messages/s |\n|---|---|")
            for kind, name in (("switchboard", "switchboard (persisted, routed)"),
                               ("floor", "floor: relay + raw durable writes"), ("relay", "bare python-socketio relay")):
                print(f"| {name} | {rates[kind]:.0f} |")
            print(f"| ratio switchboard / relay at saturation | {rates['switchboard'] / rates['relay']:.2f}× |")
            print(f"| ratio switchboard / floor at saturation | {rates['switchboard'] / rates['floor']:.2f}× |")
            return

        # Latency: one pair, sequential round trips (warm-up first).
        first = await available_csr(dep, emails[0])
        connected.append(first)
        sb_pairs = [await switchboard_pair(dep, [first])]
        relay_pairs = [await relay_pair(relay_url, 0)]
        floor_pairs = [await relay_pair(floor_url, 0)]
        connected += [sb_pairs[0][0], *relay_pairs[0], *floor_pairs[0]]
        await switchboard_round_trip(sb_pairs[0][0], args.warm_up)
        await relay_round_trip(relay_pairs[0][0], args.warm_up)
        await relay_round_trip(floor_pairs[0][0], args.warm_up)
        stacks = [(switchboard_round_trip, sb_pairs[0][0]), (relay_round_trip, relay_pairs[0][0]),
                  (relay_round_trip, floor_pairs[0][0])]
        if args.interleave:
            sb_lat, relay_lat, floor_lat = await interleaved(stacks, args.round_trips)
        else:  # one stack after the other
            sb_lat, relay_lat, floor_lat = [await run(visitor, args.round_trips) for run, visitor in stacks]

        # Throughput: several pairs at once, each CSR with its own chat.
        free = [await available_csr(dep, email) for email in emails[1:]]
        connected += free
        for _ in emails[1:]:
            sb_pairs.append(await switchboard_pair(dep, free))
            connected.append(sb_pairs[-1][0])
        for pair in range(1, args.pairs):
            relay_pairs.append(await relay_pair(relay_url, pair))
            floor_pairs.append(await relay_pair(floor_url, pair))
            connected += [*relay_pairs[-1], *floor_pairs[-1]]
        sb_rate = await throughput(sb_pairs, switchboard_round_trip, args.per_pair)
        relay_rate = await throughput(relay_pairs, relay_round_trip, args.per_pair)
        floor_rate = await throughput(floor_pairs, relay_round_trip, args.per_pair)

        sb = describe("switchboard (persisted, routed)", sb_lat, sb_rate)
        base = describe("bare python-socketio relay", relay_lat, relay_rate)
        low = describe("floor: relay + raw durable writes", floor_lat, floor_rate)
        print(f"\nMessage round trip visitor → agent → visitor ({backend}; {args.round_trips} sequential "
              f"round trips{', interleaved' if args.interleave else ''}; throughput with {args.pairs} pairs × {args.per_pair}{quick})\n")
        print("| stack | median ms | p99 ms | messages/s |\n|---|---|---|---|")
        for row in (sb, low, base):
            print(f"| {row['name']} | {row['median_ms']:.2f} | {row['p99_ms']:.2f} | {row['msgs_per_s']:.0f} |")
        for name, other in (("relay", base), ("floor", low)):
            print(f"| ratio switchboard / {name} | {sb['median_ms'] / other['median_ms']:.2f}× | "
                  f"{sb['p99_ms'] / other['p99_ms']:.2f}× | {sb['msgs_per_s'] / other['msgs_per_s']:.2f}× |")
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
        for process in (relay, floor):
            if process is not None:
                process.terminate()
                process.wait(10)
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
