"""What the benchmark scripts share: scratch database names, Redis namespaces of their own, sizes.

Every script takes `--quick`: the same code path end to end with small sizes (seconds, not
minutes), still printing its ratio against the baseline measured in the same run. The figures of
a quick run are a smoke test, not something to record (docs/benchmarks.md has the full runs).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import uuid
from pathlib import Path

from tests.support.redis_keys import delete_keys, own_prefix  # noqa: F401 (the scripts import delete_keys from here)

# The Redis database the benchmarks use: 0, a real deployment's default; the test suite uses
# another (TEST_REDIS_URL, tests/conftest.py). Neither is anyone's alone, and nobody empties one:
# each run works in a namespace no one else uses — the deployment's own (`sb:<uid>:`, a fresh uid
# for each fresh scratch database: app/services/deployment.py), or a random prefix of its own
# (`run_prefix`) — and deletes its keys when it ends (`delete_keys`, shared with the tests:
# tests/support/redis_keys.py). tests/bench/test_quick.py checks both rules.
REDIS_BENCH = "redis://127.0.0.1:6379/0"

# Set by tests/bench/test_quick.py so it can drop whatever a killed run left behind.
RUN_ID_ENV = "SB_BENCH_RUN_ID"


def scratch_database_name(kind: str) -> str:
    """A PostgreSQL database name no other run (or test) uses: sb_bench_<kind>_<run>_<random>."""
    run = os.environ.get(RUN_ID_ENV, "")
    return "_".join(p for p in ("sb_bench", kind, run, uuid.uuid4().hex[:8]) if p)


def run_prefix(kind: str) -> str:
    """A Redis key prefix for this run alone: sb:bench-<kind>-<random>:"""
    return own_prefix(f"bench-{kind}")


def add_quick(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help="small sizes (seconds): a smoke test of the whole path, figures not for the record")


def sizes(args: argparse.Namespace, full: dict, quick: dict) -> argparse.Namespace:
    """Fills every size option left unset (None) from `quick` or `full`."""
    for name, value in (quick if args.quick else full).items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)
    return args


# The PostgreSQL server the scripts make their scratch databases on (a database of it to connect to).
ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
ROOT = Path(__file__).resolve().parent.parent


def database_url(name: str) -> str:
    return ADMIN_URL.rsplit("/", 1)[0] + "/" + name


async def create_database(name: str) -> str:
    """A scratch database migrated by `python -m app migrate`; returns its URL."""
    import asyncpg

    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = database_url(name)
    env = {**os.environ, "DATABASE_URL": url.replace("postgresql://", "postgres://", 1)}
    migrate = subprocess.run([sys.executable, "-m", "app", "migrate"], cwd=ROOT, env=env, capture_output=True,
                             text=True)
    if migrate.returncode != 0:
        await drop_database(name)
        raise RuntimeError(f"`python -m app migrate` failed:\n{migrate.stdout}\n{migrate.stderr}")
    return url


async def drop_database(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
