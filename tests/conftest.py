"""Fixtures: real servers on free ports, on SQLite and on PostgreSQL + Redis with two processes.

Under CI (CI=true) a missing PostgreSQL, Redis or Chromium is a failure, never a skip:
`make test` starts or installs them first.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import uuid
from pathlib import Path

import pytest

from tests.support.server import PG_ADMIN_URL, Deployment, deploy

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/9")


# `make test` spreads whole files over its processes (pytest-xdist --dist loadfile), handing the
# next file in order to whichever process is free. Files run longest first, as a measured run timed
# them (tests/durations.json, seconds per file; `make durations` remeasures): the last files to
# start are then short ones, and the processes finish together instead of one waiting on another's
# long file. A file not measured yet counts as an average one.
DURATIONS = Path(__file__).with_name("durations.json")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    seconds = json.loads(DURATIONS.read_text()) if DURATIONS.exists() else {}
    if not seconds:
        return
    usual = sorted(seconds.values())[len(seconds) // 2]
    first_seen: dict[str, int] = {}
    for index, item in enumerate(items):
        first_seen.setdefault(item.nodeid.split("::", 1)[0], index)
    items.sort(key=lambda item: (-seconds.get(file := item.nodeid.split("::", 1)[0], usual), first_seen[file]))


def unavailable(what: str) -> None:
    message = f"{what} is not available"
    if IN_CI:
        pytest.fail(message + " (CI must provide it: see `make services`)")
    pytest.skip(message)


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def new_postgres_database():
    """new_postgres_database() → the URL of a fresh PostgreSQL database, dropped after the session."""
    if not _reachable("127.0.0.1", 5432):
        unavailable("PostgreSQL on 127.0.0.1:5432")
    import asyncpg

    admin = PG_ADMIN_URL.replace("postgres://", "postgresql://", 1)
    created: list[str] = []

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def make() -> str:
        name = "sb_test_" + uuid.uuid4().hex[:10]
        asyncio.run(run(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"

    yield make
    for name in created:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_url(new_postgres_database):
    return new_postgres_database()


@pytest.fixture(scope="session")
def redis_url():
    """TEST_REDIS_URL: one database for every test, never emptied. Each deployment keeps its keys in
    its own namespace (`sb:<uid>:`, a fresh uid per fresh database) and deletes them when it stops
    (`Deployment.stop`); a test using Redis directly takes a prefix of its own and deletes its keys
    (tests/support/redis_keys.py)."""
    if not _reachable("127.0.0.1", 6379):
        unavailable("Redis on 127.0.0.1:6379")
    return TEST_REDIS_URL


# The deployments many test modules share: a chat a test leaves waiting when its visitor goes is
# abandoned after 5 s (not the default 60 s), so it cannot reach a later test's CSR.
SHARED_ENV = {"VISITOR_ABANDON_GRACE_SECONDS": "5"}


@pytest.fixture(scope="session")
def sqlite_deployment():
    deployment = deploy(database_url=None, redis_url=None, processes=1, extra_env=SHARED_ENV)
    yield deployment
    deployment.stop()


@pytest.fixture(scope="session")
def scaled_deployment(postgres_url, redis_url):
    """PostgreSQL + Redis with two server processes sharing them."""
    deployment = deploy(database_url=postgres_url, redis_url=redis_url, processes=2, extra_env=SHARED_ENV)
    yield deployment
    deployment.stop()


@pytest.fixture(params=["sqlite", "postgres+redis x2"], scope="session")
def deployment(request) -> Deployment:
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_deployment")
    return request.getfixturevalue("scaled_deployment")
