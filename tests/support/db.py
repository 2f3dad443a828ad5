"""Read a deployment's database directly (SQLite or PostgreSQL), for checks of rows that no API
exposes (the audit log, for instance). Tests change state through the server; `execute` only
moves a scripted history into the past (what no API does)."""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tests.support.server import Deployment


def _moment(value: Any) -> Any:
    """SQLite hands datetimes back as text; PostgreSQL as aware datetimes. Both become aware."""
    if isinstance(value, str) and re.match(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d", value):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value


def _numbered(sql: str) -> str:
    """`?` placeholders as PostgreSQL's `$1, $2 …`."""
    count = iter(range(1, sql.count("?") + 1))
    return re.sub(r"\?", lambda _: f"${next(count)}", sql)


async def fetch(deployment: Deployment, sql: str, *args: Any) -> list[dict[str, Any]]:
    """Rows as dicts. Write placeholders as `?`; they become `$1…` on PostgreSQL."""
    url = deployment.env.get("DATABASE_URL")
    if url:
        import asyncpg

        conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
        try:
            rows = await conn.fetch(_numbered(sql), *args)
        finally:
            await conn.close()
        return [{k: _moment(v) for k, v in dict(r).items()} for r in rows]
    path = Path(deployment.env["DATA_DIR"]) / "switchboard.sqlite3"
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        conn.row_factory = sqlite3.Row
        rows = conn.execute(sql, args).fetchall()
    finally:
        conn.close()
    return [{k: _moment(r[k]) for k in r.keys()} for r in rows]


async def execute(deployment: Deployment, sql: str, *args: Any) -> None:
    """Change rows directly — only where a test must place its history in the past (an order's
    `created_at`, an event's `at`), which no API does. Placeholders `?`, as in `fetch`. An aware
    datetime is written as the server writes one: on SQLite, its UTC text (`2026-03-02 09:00:00+00:00`);
    pass a string to store other text."""
    url = deployment.env.get("DATABASE_URL")
    if url:
        import asyncpg

        conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
        try:
            await conn.execute(_numbered(sql), *args)
        finally:
            await conn.close()
        return
    values = [a.astimezone(timezone.utc).isoformat(" ") if isinstance(a, datetime) else a for a in args]
    conn = sqlite3.connect(_sqlite_path(deployment), timeout=10)
    try:
        conn.execute(sql, values)
        conn.commit()
    finally:
        conn.close()


def _sqlite_path(deployment: Deployment) -> Path:
    return Path(deployment.env["DATA_DIR"]) / "switchboard.sqlite3"
