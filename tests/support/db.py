"""Read a deployment's database directly (SQLite or PostgreSQL), for checks of rows that no API
exposes (the audit log, for instance). Read-only by intent: tests change state through the server."""

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


async def fetch(deployment: Deployment, sql: str, *args: Any) -> list[dict[str, Any]]:
    """Rows as dicts. Write placeholders as `?`; they become `$1…` on PostgreSQL."""
    url = deployment.env.get("DATABASE_URL")
    if url:
        import asyncpg

        n = 0

        def number(_: re.Match) -> str:
            nonlocal n
            n += 1
            return f"${n}"

        conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
        try:
            rows = await conn.fetch(re.sub(r"\?", number, sql), *args)
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
