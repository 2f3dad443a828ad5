"""Database wiring: tortoise configuration, start-up and migrations."""

from __future__ import annotations

from typing import Any

from tortoise import Tortoise

from app.config import Settings

APP_LABEL = "models"


def tortoise_config(settings: Settings) -> dict[str, Any]:
    return {
        "connections": {"default": settings.database_url},
        "apps": {
            APP_LABEL: {
                "models": ["app.models"],
                "migrations": "migrations",
                "default_connection": "default",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def init_db(settings: Settings, *, global_fallback: bool = True) -> None:
    # The server's lifespan runs in its own task while requests run in others: the global
    # fallback context lets every task reach the connections opened here.
    await Tortoise.init(config=tortoise_config(settings), _enable_global_fallback=global_fallback)


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
