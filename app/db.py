"""Database wiring: tortoise configuration, start-up and migrations.

A server owns its connections: a `TortoiseContext` (tortoise's contextvar-scoped state) opened by
`open_database` and kept on its runtime; the server runs every call inside `using(context)`, so
the models reach that server's database from every task the call spawns. `python -m app serve`
also makes it tortoise's process-wide fallback (`process_wide=True`); a server started in-process
by a test does not, so two of them in one process keep their databases apart.

One limit of tortoise itself: each model's base query (built with its database's SQL dialect) is
kept on the model class, so contexts open at the same time in one process must all be SQLite or
all PostgreSQL (one after the other, they may differ: see `connection_name`).
"""

from __future__ import annotations

import pkgutil
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from tortoise import Tortoise
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.connection import get_connection
from tortoise.context import TortoiseContext, _current_context

from app.config import Settings

APP_LABEL = "models"


def connection_name(settings: Settings) -> str:
    """The connection's name: its SQL dialect. Tortoise caches each model's statements by connection
    name for the whole process (`tortoise.backends.base.executor.EXECUTOR_CACHE`), so a SQLite and a
    PostgreSQL database opened one after the other in one process (a test run) must not share one."""
    return "sqlite" if settings.is_sqlite else "postgres"


def tortoise_config(settings: Settings) -> dict[str, Any]:
    name = connection_name(settings)
    return {
        "connections": {name: settings.database_url},
        "apps": {
            APP_LABEL: {
                "models": ["app.models"],
                "migrations": "migrations",
                "default_connection": name,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def init_db(settings: Settings, *, global_fallback: bool = True) -> None:
    """Open the database for this task and the tasks it spawns (a CLI command, a script); with
    `global_fallback`, for every task of the process."""
    await Tortoise.init(config=tortoise_config(settings), _enable_global_fallback=global_fallback)


async def open_database(settings: Settings, context: TortoiseContext | None = None, *,
                        process_wide: bool = False) -> TortoiseContext:
    """Connections of their own to `settings`' database, in `context` (a new one by default).
    Models use them inside `using(context)`; with `process_wide`, also wherever no other context
    is in use (one per process: tortoise refuses a second)."""
    context = context or TortoiseContext()
    with using(context):  # tortoise finalises the models against the context in use
        await context.init(config=tortoise_config(settings), _enable_global_fallback=process_wide)
    return context


@contextmanager
def using(context: TortoiseContext) -> Iterator[TortoiseContext]:
    """Run the block, and every task it spawns, on `context`'s connections. (Tortoise's own
    `with context:` keeps a single reset token on the context, so it cannot be entered by several
    tasks at once; this sets tortoise's context variable the way `Tortoise.init` does.)"""
    token = _current_context.set(context)
    try:
        yield context
    finally:
        _current_context.reset(token)


async def close_db() -> None:
    await Tortoise.close_connections()


# --- migrations ---------------------------------------------------------------------------------
# Tortoise records each applied migration in `tortoise_migrations` (app, name, applied_at); the
# files in migrations/ are numbered, so their names sort in the order they apply.

MIGRATIONS_TABLE = "tortoise_migrations"


def migration_files() -> list[str]:
    """The migrations this code carries, in order (as tortoise's loader finds them)."""
    import migrations

    return sorted(name for _, name, is_pkg in pkgutil.iter_modules(migrations.__path__)
                  if not is_pkg and name[0] not in "_~")


@dataclass(frozen=True)
class MigrationStatus:
    applied: list[str]  # of this code's migrations, in order
    pending: list[str]  # this code's migrations the database lacks
    unknown: list[str]  # recorded in the database, not in this code (a newer release migrated it)

    @property
    def current(self) -> bool:
        return not self.pending

    @property
    def out_of_order(self) -> bool:
        """A pending migration comes before an applied one: a gap, which `migrate` cannot explain."""
        return bool(self.pending and self.applied) and self.pending[0] < self.applied[-1]


async def applied_migrations(connection: BaseDBAsyncClient) -> list[str]:
    """The names the database records as applied ([] before the first migration). Unlike
    tortoise's recorder, a database that cannot be read raises instead of answering [] — a
    readiness check must not take "unreachable" for "empty"."""
    if connection.capabilities.dialect == "postgres":
        probe = f"SELECT to_regclass('{MIGRATIONS_TABLE}') IS NOT NULL AS present"
    else:
        probe = f"SELECT count(*) AS present FROM sqlite_master WHERE type = 'table' AND name = '{MIGRATIONS_TABLE}'"
    _, rows = await connection.execute_query(probe)
    if not rows or not rows[0]["present"]:
        return []
    _, rows = await connection.execute_query(
        f"SELECT name FROM {MIGRATIONS_TABLE} WHERE app = '{APP_LABEL}' ORDER BY applied_at, name")
    return [row["name"] for row in rows]


async def migration_status(connection: BaseDBAsyncClient) -> MigrationStatus:
    applied = set(await applied_migrations(connection))
    files = migration_files()
    return MigrationStatus(applied=[n for n in files if n in applied], pending=[n for n in files if n not in applied],
                           unknown=sorted(applied - set(files)))


def current_connection(settings: Settings) -> BaseDBAsyncClient:
    """The connection to `settings`' database in the context in use (a server's, inside `using`)."""
    return get_connection(connection_name(settings))


async def status(settings: Settings) -> MigrationStatus:
    """What `migrate --status` shows (opens and closes its own connections)."""
    await Tortoise.init(config=tortoise_config(settings), _enable_global_fallback=True)
    try:
        return await migration_status(current_connection(settings))
    finally:
        await Tortoise.close_connections()


class MigrationFailed(Exception):
    def __init__(self, name: str, applied: list[str], cause: BaseException, rolled_back: bool) -> None:
        self.name, self.applied, self.cause, self.rolled_back = name, applied, cause, rolled_back
        where = ("it was rolled back" if rolled_back else
                 f"it may be PARTLY applied: compare the schema with migrations/{name}.py before retrying")
        super().__init__(f"migration {name} failed: {type(cause).__name__}: {cause}\n{where}; "
                         "fix the cause and run `migrate` again")


async def migrate(settings: Settings, on_applied: Callable[[str], None] | None = None) -> list[str]:
    """Apply every pending migration in migrations/ (tortoise's built-in migration engine), in
    order; returns their names, calling `on_applied(name)` as each one is recorded. A migration
    that fails raises `MigrationFailed` naming it (those before it stay applied)."""
    from tortoise.migrations.api import migrate as run_migrations

    done: list[str] = []
    running: list[str] = []

    def progress(event: str, app_label: str, name: str) -> None:
        if event == "apply_start":
            running[:] = [name]
        elif event == "apply_done":
            running.clear()
            done.append(name)
            if on_applied is not None:
                on_applied(name)

    try:
        await run_migrations(config=tortoise_config(settings), progress=progress)
    except Exception as exc:
        if not running:
            raise
        import importlib

        migration = importlib.import_module(f"migrations.{running[0]}").Migration
        # Tortoise runs an atomic migration in one transaction; both back ends roll DDL back.
        rolled_back = bool(getattr(migration, "atomic", True)) and \
            current_connection(settings).capabilities.can_rollback_ddl
        raise MigrationFailed(running[0], done, exc, rolled_back) from exc
    finally:
        # Also after a failure: an open SQLite connection's thread would keep the process alive.
        await Tortoise.close_connections()
    return done
