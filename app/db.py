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

from contextlib import contextmanager
from typing import Any, Iterator

from tortoise import Tortoise
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


async def migrate(settings: Settings) -> None:
    """Apply every pending migration in migrations/ (tortoise's built-in migration engine)."""
    from tortoise.migrations.api import migrate as run_migrations

    try:
        await run_migrations(config=tortoise_config(settings))
    finally:
        # Also after a failure: an open SQLite connection's thread would keep the process alive.
        await Tortoise.close_connections()
