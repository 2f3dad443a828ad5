"""The routing store (in memory and Redis): its decisions are the pure policy's decisions, its
invariants hold under any sequence of operations, and on Redis under concurrent workers.

Needs Redis: each test's keys live under a prefix of its own (a fresh one per store, as each
example needs an empty store), deleted when the test ends."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from app.routing.policy import AgentSnapshot, WaitingChat, plan_assignments
from app.routing.store import (
    GENERAL, AgentState, ChatState, MemoryRoutingStore, RedisRoutingStore, chat_order, queue_id,
)
from tests.support.redis_keys import delete_keys, own_prefix

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
NOW = T0 + timedelta(hours=1)
DEPARTMENTS = (1, 2, 3)
HELD_BASE = 1_000_000  # ids of chats agents already hold (never among the waiting ones)


def ms(moment: datetime | None) -> int:
    return int(moment.timestamp() * 1000) if moment else 0


@pytest.fixture
def redis_db(redis_url):
    """(URL, this test's prefix): the Redis database is shared, so the test keeps to its prefix
    and deletes what it wrote afterwards."""
    prefix = own_prefix("test-routing")
    yield redis_url, prefix
    delete_keys(redis_url, prefix)


async def redis_store(redis_db: tuple[str, str]) -> tuple[RedisRoutingStore, Redis]:
    """An empty store: under a new part of the test's prefix."""
    url, prefix = redis_db
    redis = Redis.from_url(url)
    return RedisRoutingStore(redis, prefix=f"{prefix}{uuid.uuid4().hex[:8]}:rt:"), redis


# --- a floor: the same scenario as policy snapshots and as store states ---------------------


@st.composite
def floors(draw):
    strategies = {d: draw(st.sampled_from(("longest_idle", "least_busy", "round_robin", "skills", "manual")))
                  for d in DEPARTMENTS}
    strategies[None] = draw(st.sampled_from(("longest_idle", "least_busy", "round_robin")))
    agents = []
    for i in range(1, draw(st.integers(0, 7)) + 1):
        capacity = draw(st.integers(1, 3))
        departments = frozenset(draw(st.sets(st.sampled_from(DEPARTMENTS), max_size=2)))
        agents.append(AgentSnapshot(
            id=i, status=draw(st.sampled_from(("available", "available", "available", "away"))),
            load=draw(st.integers(0, capacity)), capacity=capacity,
            idle_since=draw(st.one_of(st.none(), st.integers(1, 3600).map(lambda s: T0 + timedelta(seconds=s)))),
            department_ids=departments,
            last_assigned_at=draw(st.one_of(st.none(), st.integers(1, 3600).map(lambda s: T0 + timedelta(seconds=s)))),
            skills={d: draw(st.integers(1, 5)) for d in departments},
        ))
    ids = [a.id for a in agents]
    chats = []
    for i in range(1, draw(st.integers(0, 12)) + 1):
        sticky = draw(st.one_of(st.none(), st.sampled_from(ids))) if ids else None
        chats.append(WaitingChat(
            id=i, requested_at=T0 + timedelta(seconds=draw(st.integers(0, 600))),
            department_id=draw(st.sampled_from((None, *DEPARTMENTS))), priority=draw(st.sampled_from((0, 0, 5))),
            sticky_agent_id=sticky,
            sticky_until=NOW + timedelta(seconds=draw(st.sampled_from((-30, 30)))) if sticky else None,
            declined_by=frozenset(draw(st.sets(st.sampled_from(ids), max_size=2))) if ids else frozenset(),
        ))
    return chats, agents, strategies


def agent_state(a: AgentSnapshot) -> AgentState:
    return AgentState(
        id=a.id, available=a.status == "available", capacity=a.capacity, idle_ms=ms(a.idle_since),
        last_ms=ms(a.last_assigned_at), queues=(GENERAL, *(str(d) for d in sorted(a.department_ids))),
        skills={str(d): lvl for d, lvl in a.skills.items()},
        held=tuple(HELD_BASE + a.id * 10 + k for k in range(a.load)),
    )


def chat_state(c: WaitingChat, strategies) -> ChatState:
    return ChatState(
        id=c.id, state="waiting", queue=queue_id(c.department_id), order=chat_order(c.priority, ms(c.requested_at)),
        strategy=strategies.get(c.department_id, "longest_idle"), sticky_agent=c.sticky_agent_id,
        sticky_until_ms=ms(c.sticky_until), declined=c.declined_by,
    )


async def load_floor(store, chats, agents, strategies) -> None:
    for a in agents:
        await store.put_agent(agent_state(a), ms(NOW))
    for c in sorted(chats, key=lambda c: c.id):
        await store.put_chat(chat_state(c, strategies), ms(NOW))


async def drain(store) -> list[tuple[int, int]]:
    decisions = []
    # One millisecond apart, as consecutive decisions are: the later one is the more recent.
    while (decision := await store.decide(ms(NOW) + len(decisions) + 1)) is not None:
        decisions.append(decision)
    return decisions


def policy_decisions(chats, agents, strategies):
    # The store keeps a department's strategy with the department's queue; the general queue too.
    return plan_assignments(chats, agents, strategies, now=NOW)


# --- the same decisions as the pure policy, in both stores ------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(floor=floors())
def test_the_memory_store_decides_like_the_policy(floor):
    chats, agents, strategies = floor

    async def scenario():
        store = MemoryRoutingStore()
        await load_floor(store, chats, agents, strategies)
        return await drain(store)

    assert asyncio.run(scenario()) == policy_decisions(chats, agents, strategies)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(floor=floors())
def test_the_redis_store_decides_like_the_policy(redis_db, floor):
    chats, agents, strategies = floor

    async def scenario():
        store, redis = await redis_store(redis_db)
        try:
            await load_floor(store, chats, agents, strategies)
            return await drain(store)
        finally:
            await redis.aclose()

    assert asyncio.run(scenario()) == policy_decisions(chats, agents, strategies)


# --- any sequence of operations: both stores agree, and the invariants hold ------------------


OPERATIONS = st.lists(st.one_of(
    st.tuples(st.just("agent"), st.integers(1, 5), st.booleans(), st.integers(1, 3),
              st.sets(st.sampled_from(DEPARTMENTS), max_size=2)),
    st.tuples(st.just("chat"), st.integers(1, 15), st.sampled_from((None, *DEPARTMENTS)), st.sampled_from((0, 5))),
    st.tuples(st.just("close"), st.integers(1, 15)),
    st.tuples(st.just("requeue"), st.integers(1, 15)),
    st.tuples(st.just("claim"), st.integers(1, 15), st.integers(1, 5)),
    # a transfer / pick / warm join (negative id) / warm hand-over / take-over through `take`
    st.tuples(st.just("take"), st.integers(-15, 15).filter(bool), st.integers(1, 5), st.booleans(),
              st.booleans()),
    st.tuples(st.just("decide"),),
), max_size=40)


async def apply(store, operations, strategies) -> list:
    """Run operations against a store; returns what each returned, and the final holdings."""
    out = []
    agents: dict[int, AgentState] = {}
    now = ms(NOW)
    for step, op in enumerate(operations):
        now += 1000
        kind = op[0]
        if kind == "agent":
            _, aid, available, capacity, departments = op
            held = tuple(sorted(c for c, a in (await holdings(store)).items() if a == aid))
            agents[aid] = AgentState(id=aid, available=available, capacity=capacity, idle_ms=now - 5000 * aid,
                                     queues=(GENERAL, *(str(d) for d in sorted(departments))), held=held)
            await store.put_agent(agents[aid], now)
            out.append(None)
        elif kind == "chat":
            _, cid, department, priority = op
            if await store.holder(cid) is not None:
                out.append("held")
                continue
            out.append(await store.put_chat(ChatState(
                id=cid, state="waiting", queue=queue_id(department), order=chat_order(priority, now),
                strategy=strategies.get(department, "longest_idle")), now))
        elif kind == "close":
            out.append(await store.put_chat(ChatState(id=op[1], state="gone"), now))
        elif kind == "requeue":
            holder = await store.holder(op[1])
            if holder is None:
                out.append(None)
                continue
            out.append(await store.put_chat(ChatState(id=op[1], state="waiting", order=chat_order(0, now)), now,
                                            from_agent=holder))
        elif kind == "claim":
            out.append(await store.claim(op[1], op[2], now))
        elif kind == "take":
            _, cid, aid, from_current, warm_handover = op
            expect = await store.holder(cid) if from_current else None
            release = -cid if warm_handover and cid > 0 else None
            before = await store.load(aid)
            result = await store.take(cid, aid, now, expect=expect, release=release)
            if result == "ok" and agents.get(aid) is not None and not (release and await store.holder(release)):
                # room is checked atomically: a take never puts the agent over capacity
                assert await store.load(aid) <= max(agents[aid].capacity, before)
            out.append(result)
        else:
            out.append(await store.decide(now))
        await check_invariants(store, agents)
    out.append(sorted((await holdings(store)).items()))
    return out


async def holdings(store) -> dict[int, int]:
    if isinstance(store, MemoryRoutingStore):
        return dict(store.holders)
    raw = await store._redis.hgetall(store.prefix + "holder")
    return {int(k): int(v) for k, v in raw.items()}


async def check_invariants(store, agents: dict[int, AgentState]) -> None:
    held = await holdings(store)
    # A chat is held by one agent, and held only where the agent's own list says so.
    for aid, state in agents.items():
        mine = {c for c, a in held.items() if a == aid}
        assert await store.load(aid) == len(mine)
    waiting = await store.waiting()
    assert not waiting & set(held), "a chat both waiting and held"
    # Nothing waits in a queue while an agent who serves it has room (after decisions ran out).


async def drained_invariant(store, agents) -> None:
    while await store.decide(ms(NOW) + 10**7) is not None:
        pass
    held = await holdings(store)
    if isinstance(store, MemoryRoutingStore):
        queued = {q: [c for _, c in chats] for q, chats in store.queues.items() if chats}
    else:
        queued = {}
        for q in await store._redis.smembers(store.prefix + "qs"):
            q = q.decode()
            queued[q] = [int(m) for m in await store._redis.zrange(f"{store.prefix}q:{q}", 0, -1)]
    for q, chats in queued.items():
        if not chats:
            continue
        for aid, state in agents.items():
            room = state.available and sum(1 for a in held.values() if a == aid) < state.capacity
            assert not (room and q in state.queues), f"chat {chats[0]} waits in {q} while agent {aid} has room"


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS, strategies=st.fixed_dictionaries(
    {d: st.sampled_from(("longest_idle", "least_busy", "round_robin", "skills")) for d in DEPARTMENTS}))
def test_both_stores_agree_on_any_sequence_and_keep_the_invariants(redis_db, operations, strategies):
    async def scenario():
        memory = MemoryRoutingStore()
        redis_store_, redis = await redis_store(redis_db)
        try:
            in_memory = await apply(memory, operations, strategies)
            in_redis = await apply(redis_store_, operations, strategies)
            assert in_memory == in_redis
            agents = {}
            for op in operations:
                if op[0] == "agent":
                    agents[op[1]] = AgentState(id=op[1], available=op[2], capacity=op[3],
                                               queues=(GENERAL, *(str(d) for d in sorted(op[4]))))
            for store in (memory, redis_store_):
                await check_held_within_capacity(store, agents)
                await drained_invariant(store, agents)
        finally:
            await redis.aclose()

    asyncio.run(scenario())


async def check_held_within_capacity(store, agents) -> None:
    """Decisions and claims never push an agent over capacity (put_agent may record what the
    database says an agent holds, which a transfer can make more than capacity: not counted)."""
    if isinstance(store, MemoryRoutingStore):
        claimed = store.held
    else:
        claimed = {}
        for aid in agents:
            claimed[aid] = dict.fromkeys(int(m) for m in await store._redis.zrange(f"{store.prefix}held:{aid}", 0, -1))
    for aid, state in agents.items():
        assert len(claimed.get(aid, {})) <= max(state.capacity, 3)


# --- many workers at once on Redis ------------------------------------------------------------


async def test_concurrent_workers_never_double_assign_nor_exceed_capacity(redis_db):
    """Eight workers (connections) deciding at once over 40 agents and 300 chats."""
    rng = random.Random(7)
    setup, redis = await redis_store(redis_db)
    capacity = {aid: rng.randint(1, 3) for aid in range(1, 41)}
    departments = {aid: tuple(str(d) for d in sorted(rng.sample(DEPARTMENTS, rng.randint(0, 2))))
                   for aid in capacity}
    for aid, cap in capacity.items():
        await setup.put_agent(AgentState(id=aid, available=True, capacity=cap, idle_ms=rng.randint(1, 10**6),
                                         queues=(GENERAL, *departments[aid])), ms(NOW))
    for cid in range(1, 301):
        department = rng.choice((None, *DEPARTMENTS))
        await setup.put_chat(ChatState(id=cid, state="waiting", queue=queue_id(department),
                                       order=chat_order(0, ms(T0) + cid)), ms(NOW))
    workers = [Redis.from_url(redis_db[0]) for _ in range(8)]
    try:
        stores = [RedisRoutingStore(w, prefix=setup.prefix) for w in workers]

        async def work(store):
            got = []
            while (decision := await store.decide(ms(NOW) + 1)) is not None:
                got.append(decision)
            return got

        results = await asyncio.gather(*(work(s) for s in stores))
        decisions = [d for worker in results for d in worker]
        chats = [c for c, _ in decisions]
        assert len(chats) == len(set(chats)), "a chat was assigned twice"
        per_agent: dict[int, int] = {}
        for _, aid in decisions:
            per_agent[aid] = per_agent.get(aid, 0) + 1
        assert all(per_agent[aid] <= capacity[aid] for aid in per_agent)
        # Every agent with room for a queue that still has chats is full: nothing left undecided.
        assert sum(per_agent.values()) == min(300, sum(capacity.values())) or all(
            per_agent.get(aid, 0) == capacity[aid] for aid in capacity)
        assert sum(1 for r in results if r) > 1, "the workers did not actually decide concurrently"
    finally:
        for w in workers:
            await w.aclose()
        await redis.aclose()


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_a_hold_the_database_never_confirmed_is_released_after_the_grace(redis_db, kind):
    """A worker died between a decision and its database update: the chat is still waiting in the
    database. A reading of the database moments after the decision may predate it (kept); one
    after CLAIM_GRACE_MS means the worker is gone (released, routed again)."""
    from app.routing.store import CLAIM_GRACE_MS

    redis = None
    if kind == "memory":
        store = MemoryRoutingStore()
    else:
        store, redis = await redis_store(redis_db)
    try:
        t = ms(NOW)
        await store.put_agent(AgentState(id=1, available=True, capacity=1), t)
        waiting = ChatState(id=5, state="waiting", order=chat_order(0, t))
        await store.put_chat(waiting, t)
        assert await store.decide(t + 1) == (5, 1)
        assert await store.put_chat(waiting, t + 1000) is False
        assert await store.holder(5) == 1 and await store.load(1) == 1
        assert await store.put_chat(waiting, t + CLAIM_GRACE_MS + 10) is True
        assert await store.holder(5) is None and await store.load(1) == 0
        assert await store.decide(t + CLAIM_GRACE_MS + 20) == (5, 1)
        # The agent who got it releases it at once (a requeue names them), whatever its age.
        assert await store.put_chat(waiting, t + CLAIM_GRACE_MS + 30, from_agent=1) is True
        assert await store.waiting() == {5}
    finally:
        if redis is not None:
            await redis.aclose()


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_take_checks_room_moves_the_hold_and_turns_a_warm_place_into_the_chat(redis_db, kind):
    """`take` is the one atomic step of every assignment path other than a routing decision."""
    redis = None
    if kind == "memory":
        store = MemoryRoutingStore()
    else:
        store, redis = await redis_store(redis_db)
    try:
        t = ms(NOW)
        await store.put_agent(AgentState(id=1, available=True, capacity=2), t)
        await store.put_agent(AgentState(id=2, available=True, capacity=1), t)
        await store.put_agent(AgentState(id=3, available=False, capacity=3), t)
        for cid in (10, 11, 12):
            await store.put_chat(ChatState(id=cid, state="waiting", order=chat_order(0, t + cid)), t)
        assert await store.take(10, 1, t) == "ok"  # a pick from the queue
        assert await store.take(10, 2, t) == "taken"  # someone else holds it
        assert await store.take(10, 2, t, expect=1) == "ok"  # a transfer from CSR 1
        assert (await store.holder(10), await store.load(1), await store.load(2)) == (2, 0, 1)
        assert await store.take(11, 2, t) == "full"
        assert await store.take(11, 3, t) == "unavailable"
        assert await store.take(11, 3, t, force=True) == "ok"  # a take-over ignores both
        # warm transfer of chat 12 (held by 1) to colleague 2 with no room: refused; to 1's colleague with room
        assert await store.take(12, 1, t) == "ok"
        assert await store.take(-12, 2, t) == "full"
        await store.put_agent(AgentState(id=2, available=True, capacity=2, held=(10,)), t)
        assert await store.take(-12, 2, t) == "ok"
        assert await store.load(2) == 2
        assert await store.take(11, 2, t, expect=3) == "full"  # the warm place counts
        # the hand-over: 2's warm place becomes the chat, their load stays 2, 1's drops
        assert await store.take(12, 2, t, expect=1, release=-12) == "ok"
        assert (await store.holder(12), await store.holder(-12), await store.load(2), await store.load(1)) == \
            (2, None, 2, 0)
        assert await store.waiting() == set()
    finally:
        if redis is not None:
            await redis.aclose()


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_a_hold_the_database_does_not_confirm_is_kept_only_within_the_grace_of_now_either_way(redis_db, kind):
    """What reconciliation may drop (app/routing/store.py, "Following the database"): a hold the
    database does not confirm goes once its claim is further than CLAIM_GRACE_MS from now — older
    (its worker died) or newer (a clock ahead, a copy restored from elsewhere), which would
    otherwise fill the CSR's place forever; within the grace it stays (a live worker just made it)."""
    from app.routing.store import CLAIM_GRACE_MS

    redis = None
    if kind == "memory":
        store = MemoryRoutingStore()
    else:
        store, redis = await redis_store(redis_db)
    try:
        t = ms(NOW)
        agent = AgentState(id=1, available=True, capacity=2)
        await store.put_agent(agent, t)
        for cid in (5, 6):
            await store.put_chat(ChatState(id=cid, state="waiting", order=chat_order(0, t + cid)), t)
        # Two decisions the database never heard of: one by a worker whose clock is a little ahead,
        # one by a worker (or a restored copy) an hour ahead.
        assert await store.decide(t + CLAIM_GRACE_MS // 2) == (5, 1)
        assert await store.decide(t + 3_600_000) == (6, 1)
        assert await store.holds([1]) == {1: {5: t + CLAIM_GRACE_MS // 2, 6: t + 3_600_000}}
        await store.put_agent(agent, t)  # the database, read now: they hold nothing
        assert await store.holds([1]) == {1: {5: t + CLAIM_GRACE_MS // 2}}
        assert await store.load(1) == 1 and await store.holder(6) is None
        await store.put_agent(agent, t + CLAIM_GRACE_MS * 2)  # later: the near one is past the grace too
        assert await store.holds([1]) == {1: {}} and await store.load(1) == 0
    finally:
        if redis is not None:
            await redis.aclose()


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_a_reading_older_than_one_applied_never_brings_a_closed_chat_back(redis_db, kind):
    """Two workers sync a chat at once and the older reading lands last (a busy machine): the chat
    closed, its CSR got other chats in its place, and then a reading from before the close says
    the CSR still holds it. Each reading carries the chat's version (its newest event id, read in
    the same statement as its row); one older than a version already applied changes nothing —
    neither as the chat's own state nor among the CSR's holds — so the CSR never seems to hold
    more than their capacity. A reading without a version (unknown) is applied as before."""
    from app.routing.store import GONE_MEMORY_MS

    redis = None
    if kind == "memory":
        store = MemoryRoutingStore()
    else:
        store, redis = await redis_store(redis_db)
    try:
        t = ms(NOW)
        await store.put_agent(AgentState(id=1, available=True, capacity=2), t)
        old_reading = ChatState(id=7, state="held", holder=1, version=40)
        assert await store.put_chat(old_reading, t) is True
        assert await store.put_chat(ChatState(id=7, state="gone", version=41), t + 1) is True  # closed
        for cid in (8, 9):  # its place is taken
            await store.put_chat(ChatState(id=cid, state="waiting", order=chat_order(0, t + cid)), t + 2)
        assert await store.decide(t + 3) == (8, 1) and await store.decide(t + 3) == (9, 1)
        # the reading from before the close lands now, as the chat's state and among the CSR's holds
        assert await store.put_chat(old_reading, t + 4) is False
        await store.put_agent(AgentState(id=1, available=True, capacity=2, held=(7, 8, 9),
                                         versions={7: 40, 8: 50, 9: 51}), t + 4)
        assert await store.holder(7) is None and await store.load(1) == 2
        assert (await store.holds([1]))[1].keys() == {8, 9}
        # a newer reading is applied; an equal one too (nothing happened to the chat in between)
        assert await store.put_chat(ChatState(id=8, state="gone", version=60), t + 5) is True
        assert await store.put_chat(ChatState(id=8, state="gone", version=60), t + 6) is True
        assert await store.load(1) == 1
        # without a version (unknown) a reading is applied as before
        assert await store.put_chat(ChatState(id=7, state="held", holder=1), t + 7) is True
        assert await store.holder(7) == 1
        assert await store.put_chat(ChatState(id=7, state="gone"), t + 8) is True
        # a gone chat's version is forgotten after GONE_MEMORY_MS (another chat going prunes it)
        later = t + GONE_MEMORY_MS + 100
        assert await store.put_chat(ChatState(id=10, state="gone", version=70), later) is True
        assert await store.put_chat(ChatState(id=8, state="held", holder=1, version=1), later) is True
        assert await store.holder(8) == 1
    finally:
        if redis is not None:
            await redis.aclose()
