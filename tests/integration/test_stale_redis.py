"""The database is the truth for Redis too: a deployment's Redis keys live in its own namespace
(`sb:<uid>:`, the uid being its `deployment_identity` row), and at start-up and on every periodic
check its routing state is reconciled from the database — so keys that claim its CSRs are full
cannot stop a chat from reaching them: another deployment's keys (or an older version's, without
a namespace) in the same Redis database, or stale keys in its own namespace, as a Redis backup
restored over a newer database leaves them. A hold a live worker may have just made (younger than
CLAIM_GRACE_MS) survives another worker's start-up; once older, it goes.

PostgreSQL + Redis with two worker processes, in the Redis database every test shares (each keeps
to its own keys and deletes them afterwards)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import time
import uuid
from urllib.parse import urlsplit

import pytest
import redis as sync_redis
from redis.asyncio import Redis

from app.models import DeploymentIdentity
from app.routing.store import CLAIM_GRACE_MS, chat_order
from app.services import deployment as deployment_identity
from tests.support import clients
from tests.support.clients import new_id
from tests.support.inprocess import database
from tests.support.redis_keys import delete_keys
from tests.support.server import ROOT, cli, deploy

LEGACY_PREFIX = "sb:"  # keys of a version that did not namespace them (`sb:rt:`, `sb:presence:…`)
# Their names are fixed, so runs of this module beside each other (two suites on one Redis) take
# turns with them; the lock expires should a run die holding it.
LEGACY_LOCK = "sb:test-stale-redis:legacy-lock"
HOUR_MS = 3_600_000
GHOST = 900_000  # chat ids no database here has


def now_ms() -> int:
    return int(time.time() * 1000)


def pad(i: int) -> str:
    return f"{i:012d}"


def fill_full_floor(redis: sync_redis.Redis, prefix: str, agent_ids, *, claimed_ms: int, first_chat: int) -> None:
    """Routing keys (app/routing/store.py layout, under `prefix`) in which every agent of
    `agent_ids` is Available with one place and holds one chat — full — and chats wait in the
    general queue ahead of any real one."""
    rt = prefix + "rt:"
    with redis.pipeline(transaction=True) as pipe:
        pipe.hset(rt + "strategy", "g", "longest_idle")
        for n, aid in enumerate(agent_ids):
            cid = pad(first_chat + n)
            pipe.hset(f"{rt}a:{aid}", mapping={"av": "1", "cap": "1", "idle": "0", "last": "0", "qs": "g",
                                               "sk": "", "dg": "stale"})
            pipe.sadd(rt + "agents", aid)
            pipe.zadd(f"{rt}held:{aid}", {cid: claimed_ms})
            pipe.hset(rt + "holder", cid, aid)
        for n in range(5):
            cid = pad(first_chat + 1000 + n)
            pipe.hset(f"{rt}c:{cid}", mapping={"q": "g", "o": chat_order(100, n), "dc": "", "st": ""})
            pipe.sadd(rt + "chats", cid)
            pipe.zadd(rt + "q:g", {cid: chat_order(100, n)})
        pipe.sadd(rt + "qs", "g")
        for aid in agent_ids:  # and everyone is connected
            pipe.hset(prefix + "presence:visitors", f"agent:{aid}", 1)
        pipe.execute()


def foreign_keys(redis: sync_redis.Redis, foreign_uid: str) -> dict[bytes, bytes]:
    """Every key of the other deployment and of the older version, serialised."""
    return {key: redis.dump(key) for pattern in (f"sb:{foreign_uid}:*", "sb:rt:*", "sb:presence:*")
            for key in redis.scan_iter(match=pattern)}


@contextlib.contextmanager
def legacy_keys_to_ourselves(redis: sync_redis.Redis):
    token = uuid.uuid4().hex.encode()
    deadline = time.monotonic() + 300
    while not redis.set(LEGACY_LOCK, token, nx=True, ex=300):
        assert time.monotonic() < deadline, "another run kept the older version's keys for 5 minutes"
        time.sleep(0.5)  # polling the lock
    try:
        yield
    finally:
        if redis.get(LEGACY_LOCK) == token:
            redis.delete(LEGACY_LOCK)


def stop(deployment) -> None:
    for server in deployment.servers:
        server.stop()


def start(deployment) -> None:
    for server in deployment.servers:
        server.start()


async def a_chat_reaches(agent: clients.Client, visitor: clients.Client, body: str, timeout: float = 10.0) -> int:
    cid = (await visitor.call("message", {"client_id": new_id(), "body": body}))["conversation_id"]
    await agent.rec.wait_for("conversation.assigned", lambda c: c["id"] == cid, timeout=timeout)
    return cid


async def log_off(agent: clients.Client, *chats: int) -> None:
    for cid in chats:
        await agent.call("close", {"conversation_id": cid})
    await agent.call("set_status", {"status": "offline"})
    await agent.disconnect()


# --- another deployment's keys ------------------------------------------------------------------


@pytest.fixture
def shared_redis(new_postgres_database, redis_url):
    """A deployment started on a Redis database where another deployment, live (its claims are fresh
    for as long as this test runs), and an older version's unnamespaced keys both say that agents
    1-50 — ours among them — are full, and queue chats ahead of any of ours. Yields (deployment,
    Redis, the other deployment's uid, their keys)."""
    foreign_uid = uuid.uuid4().hex  # another deployment sharing the Redis database
    redis = sync_redis.Redis.from_url(redis_url)
    with legacy_keys_to_ourselves(redis):
        later = now_ms() + 24 * HOUR_MS
        fill_full_floor(redis, f"sb:{foreign_uid}:", range(1, 51), claimed_ms=later, first_chat=GHOST)
        fill_full_floor(redis, LEGACY_PREFIX, range(1, 51), claimed_ms=later, first_chat=GHOST)
        theirs = foreign_keys(redis, foreign_uid)
        deployment = deploy(database_url=new_postgres_database(), redis_url=redis_url, processes=2)
        try:
            yield deployment, redis, foreign_uid, theirs
        finally:
            deployment.stop()
            delete_keys(redis_url, f"sb:{foreign_uid}:")
            redis.delete(*theirs)  # what is left: the older version's
            redis.close()


async def test_another_deployments_keys_in_the_same_redis_database_neither_block_nor_get_touched(shared_redis):
    d, redis, foreign_uid, theirs = shared_redis
    prefix = d.redis_prefix
    assert prefix not in (f"sb:{foreign_uid}:", LEGACY_PREFIX) and len(prefix) == len("sb::") + 32
    email = f"ours-{new_id()[:6]}@example.com"
    csr = d.create_user(email, "agent", "Oona Ours", max_chats=1)["id"]
    assert csr <= 50
    agent = await clients.agent(d.servers[0].url, email, d.password)
    visitor = await clients.visitor(d.servers[1].url, d.site_key, d.origin)
    cid = None
    try:
        assert (await agent.call("set_status", {"status": "available"}))["ok"]
        cid = await a_chat_reaches(agent, visitor, "Anyone there?")
        # Our state is in our namespace, on our channel; theirs is exactly as they left it.
        assert redis.zrange(f"{prefix}rt:held:{csr}", 0, -1) == [pad(cid).encode()]
        assert redis.hget(f"{prefix}presence:visitors", f"agent:{csr}") == b"1"
        number = urlsplit(d.env["REDIS_URL"]).path.strip("/") or "0"
        channel = f"switchboard:{prefix[len('sb:'):-1]}:{number}"  # app/web/app.py redis_channel
        assert channel.encode() in redis.pubsub_channels("switchboard:*")
        assert foreign_keys(redis, foreign_uid) == theirs
    finally:
        await log_off(agent, *([cid] if cid else []))
        await visitor.disconnect()


# --- stale keys in the deployment's own namespace -----------------------------------------------


@pytest.fixture(scope="module")
def restorable(new_postgres_database, redis_url):
    env = {"AGENT_DISCONNECT_GRACE_SECONDS": "120", "VISITOR_ABANDON_GRACE_SECONDS": "120"}
    deployment = deploy(database_url=new_postgres_database(), redis_url=redis_url, processes=2,
                        extra_env=env)
    yield deployment
    deployment.stop()


async def test_a_restored_redis_backup_that_says_a_csr_is_full_does_not_keep_chats_from_them(restorable):
    d = restorable
    prefix = d.redis_prefix + "rt:"
    redis = Redis.from_url(d.env["REDIS_URL"])
    email = f"restored-{new_id()[:6]}@example.com"
    csr = d.create_user(email, "agent", "Rita Restored", max_chats=2)["id"]
    agent = await clients.agent(d.servers[0].url, email, d.password)
    visitor = await clients.visitor(d.servers[1].url, d.site_key, d.origin)
    assert (await agent.call("set_status", {"status": "available"}))["ok"]
    closed = await a_chat_reaches(agent, visitor, "A question from before the backup")
    assert (await agent.call("close", {"conversation_id": closed}))["ok"]
    await agent.disconnect()
    await visitor.disconnect()
    stop(d)

    # Redis is restored from a backup of an hour ago, when the CSR held that chat, and another one
    # claimed by a worker whose clock ran an hour ahead; the backup's own entry for the CSR already
    # matches the database (as one taken the instant after a decision does), and a chat that
    # exists in no database here waits first in the queue.
    async with redis.pipeline(transaction=True) as pipe:
        pipe.zadd(f"{prefix}held:{csr}", {pad(closed): now_ms() - HOUR_MS, pad(GHOST): now_ms() + HOUR_MS})
        pipe.hset(prefix + "holder", mapping={pad(closed): csr, pad(GHOST): csr})
        pipe.zrem(prefix + "aq:g", pad(csr))  # full: no place in the ranking
        ghost = pad(GHOST + 1)
        pipe.hset(f"{prefix}c:{ghost}", mapping={"q": "g", "o": chat_order(100, 0), "dc": "", "st": ""})
        pipe.sadd(prefix + "chats", ghost)
        pipe.zadd(prefix + "q:g", {ghost: chat_order(100, 0)})
        pipe.sadd(prefix + "qs", "g")
        await pipe.execute()
    assert await redis.hget(f"{prefix}a:{csr}", "av") == b"1"

    start(d)  # every worker reconciles with the database before it serves

    agent = await clients.agent(d.servers[1].url, email, d.password)  # still Available in the database
    visitor = await clients.visitor(d.servers[0].url, d.site_key, d.origin)
    cids = []
    try:
        cids.append(await a_chat_reaches(agent, visitor, "Hello after the restore"))
        held = await redis.zrange(f"{prefix}held:{csr}", 0, -1)
        assert held == [pad(cids[0]).encode()]
        assert pad(GHOST + 1).encode() not in await redis.smembers(prefix + "chats")
        assert await redis.hget(prefix + "holder", pad(closed)) is None
        # Both places are theirs again: a second chat reaches them too.
        second = await clients.visitor(d.servers[1].url, d.site_key, d.origin)
        try:
            cids.append(await a_chat_reaches(agent, second, "And me"))
        finally:
            await second.disconnect()
    finally:
        await log_off(agent, *cids)
        await visitor.disconnect()
        await redis.aclose()


async def test_a_hold_a_live_worker_just_made_survives_another_workers_start_up_then_goes(restorable):
    d = restorable
    prefix = d.redis_prefix + "rt:"
    redis = Redis.from_url(d.env["REDIS_URL"])
    email = f"live-{new_id()[:6]}@example.com"
    csr = d.create_user(email, "agent", "Lee Live", max_chats=1)["id"]
    agent = await clients.agent(d.servers[0].url, email, d.password)
    cids = []
    try:
        assert (await agent.call("set_status", {"status": "available"}))["ok"]
        d.servers[1].stop()
        # Worker 0 has just decided a chat for the CSR and not written it to the database yet (it
        # fills the CSR's one place); worker 1 starts meanwhile.
        chat = pad(GHOST + 2)
        planted = now_ms()
        async with redis.pipeline(transaction=True) as pipe:
            pipe.zadd(f"{prefix}held:{csr}", {chat: planted})
            pipe.hset(prefix + "holder", chat, csr)
            pipe.zrem(prefix + "aq:g", pad(csr))
            await pipe.execute()
        d.servers[1].start()
        if now_ms() - planted >= CLAIM_GRACE_MS:
            pytest.skip("the worker took longer than the grace to start: nothing left to check")
        assert await redis.zscore(f"{prefix}held:{csr}", chat) == planted  # not undone
        assert await redis.hget(prefix + "holder", chat) == str(csr).encode()

        # The worker never confirms it: once the grace has passed, a reconciliation frees the place
        # and a waiting chat reaches the CSR — not before.
        visitor = await clients.visitor(d.servers[1].url, d.site_key, d.origin)
        try:
            cids.append(await a_chat_reaches(agent, visitor, "Waiting for a place",
                                             timeout=CLAIM_GRACE_MS / 1000 + 30))
            assert now_ms() - planted > CLAIM_GRACE_MS
            assert await redis.hget(prefix + "holder", chat) is None
            assert await redis.zrange(f"{prefix}held:{csr}", 0, -1) == [pad(cids[0]).encode()]
        finally:
            await visitor.disconnect()
    finally:
        if d.servers[1].proc is None or d.servers[1].proc.poll() is not None:
            d.servers[1].start()
        await log_off(agent, *cids)
        await redis.aclose()


# --- the identity itself ------------------------------------------------------------------------

@pytest.fixture
def fresh_postgres_env(new_postgres_database):
    """The environment of a deployment on a database of its own (no server, no Redis)."""
    data_dir = tempfile.mkdtemp(prefix="sb-identity-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL"))}
    env.update(DATA_DIR=data_dir, DATABASE_URL=new_postgres_database(), PYTHONPATH=str(ROOT), LOG_LEVEL="warning")
    yield env
    shutil.rmtree(data_dir, ignore_errors=True)


async def test_the_first_migration_makes_one_identity_and_workers_racing_to_make_it_agree(fresh_postgres_env):
    env = fresh_postgres_env
    cli(env, "migrate")
    made = cli(env, "deployment-id").strip()
    assert len(made) == 32 and cli(env, "deployment-id").strip() == made
    # Without a row (a database migrated before identities existed), eight workers at once make one.
    async with database(env):
        await DeploymentIdentity.all().delete()
        uids = await asyncio.gather(*(deployment_identity.identity() for _ in range(8)))
        rows = await DeploymentIdentity.all().count()
    assert len(set(uids)) == 1 and rows == 1 and uids[0] != made
