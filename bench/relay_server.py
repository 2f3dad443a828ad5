"""Baseline for bench/message_roundtrip.py: a bare python-socketio relay, no routing.

A visitor's `message` is forwarded to the agent of its pair, an agent's `message` back to the
visitor of its pair (one room per role and pair, as Switchboard has one room per conversation),
through the same server stack (uvicorn + python-socketio ASGI) Switchboard runs on.

    relay_server.py PORT                 # the relay: no storage
    relay_server.py PORT DATABASE_URL    # the floor: each message first written raw, then relayed

With a DATABASE_URL (`sqlite:///path` or `postgres://…`) every message is first inserted, in a
durable transaction of its own, into a scratch table shaped like the product's `message` table
(same columns and unique constraints; no foreign keys), with no ORM: aiosqlite with the pragmas
tortoise opens the product's SQLite database with (journal_mode=WAL, journal_size_limit=16384,
foreign_keys=ON; synchronous left at SQLite's default, FULL), or an asyncpg pool of tortoise's
default size (1…5). That is the floor for a persisted chat message.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
from datetime import datetime, timezone

import socketio
import uvicorn

sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*")
FLOOR_TABLE = "bench_floor_message"
COLUMNS = ("conversation_id", "seq", "visitor_seq", "visitor_id", "sender_kind", "author_id", "author_name",
           "body", "client_id", "created_at")


def create_table_sql(postgres: bool) -> str:
    key = "BIGSERIAL PRIMARY KEY" if postgres else "INTEGER PRIMARY KEY AUTOINCREMENT"
    stamp = "TIMESTAMPTZ" if postgres else "TIMESTAMP"
    return (f"CREATE TABLE IF NOT EXISTS {FLOOR_TABLE} (id {key}, conversation_id INT NOT NULL, seq INT NOT NULL, "
            "visitor_seq INT, visitor_id VARCHAR(64), sender_kind VARCHAR(16) NOT NULL, author_id INT, "
            f"author_name VARCHAR(100), body TEXT NOT NULL, client_id VARCHAR(64), created_at {stamp} NOT NULL, "
            "UNIQUE (conversation_id, seq), UNIQUE (conversation_id, client_id), "
            "UNIQUE (conversation_id, visitor_seq), UNIQUE (visitor_id, client_id))")


class SqliteWriter:
    def __init__(self, path: str) -> None:
        self.path, self.db, self.lock = path, None, asyncio.Lock()  # one connection, as tortoise's

    async def open(self) -> None:
        import aiosqlite

        self.db = await aiosqlite.connect(self.path, isolation_level=None)
        for pragma in ("journal_mode=WAL", "journal_size_limit=16384", "foreign_keys=ON"):
            await (await self.db.execute(f"PRAGMA {pragma}")).close()
        await self.db.execute(create_table_sql(False))

    async def write(self, row: tuple) -> None:
        marks = ", ".join("?" for _ in COLUMNS)
        async with self.lock:
            await self.db.execute("BEGIN")
            try:
                await self.db.execute(f"INSERT INTO {FLOOR_TABLE} ({', '.join(COLUMNS)}) VALUES ({marks})", row)
            except BaseException:
                await self.db.execute("ROLLBACK")
                raise
            await self.db.execute("COMMIT")


class PostgresWriter:
    def __init__(self, url: str) -> None:
        self.url, self.pool = url, None

    async def open(self) -> None:
        import asyncpg

        self.pool = await asyncpg.create_pool(self.url, min_size=1, max_size=5)
        await self.pool.execute(create_table_sql(True))

    async def write(self, row: tuple) -> None:
        marks = ", ".join(f"${i + 1}" for i in range(len(COLUMNS)))
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(f"INSERT INTO {FLOOR_TABLE} ({', '.join(COLUMNS)}) VALUES ({marks})", *row)


writer: SqliteWriter | PostgresWriter | None = None
seqs: dict[int, itertools.count] = {}


@sio.on("connect", namespace="/relay")
async def connect(sid, environ, auth):
    await sio.enter_room(sid, f"{auth.get('role', 'visitor')}:{auth.get('pair', 0)}", namespace="/relay")


@sio.on("message", namespace="/relay")
async def message(sid, data):
    pair = data.get("pair", 0)
    sender = data.get("from")
    if writer is not None:
        seq = next(seqs.setdefault(pair, itertools.count(1)))
        await writer.write((pair, seq, seq, f"v{pair}" if sender == "visitor" else None, sender,
                            None, sender, data.get("body", ""), data.get("client_id") or f"{sid}:{seq}",
                            datetime.now(timezone.utc)))
    target = "agent" if sender == "visitor" else "visitor"
    await sio.emit("message", data, to=f"{target}:{pair}", namespace="/relay")
    return {"ok": True}


async def serve(port: int, database_url: str | None) -> None:
    global writer
    if database_url:
        writer = PostgresWriter(database_url) if database_url.startswith("postgres") else \
            SqliteWriter(database_url.split("://", 1)[1])
        await writer.open()
    config = uvicorn.Config(socketio.ASGIApp(sio), host="127.0.0.1", port=port, log_level="warning")
    await uvicorn.Server(config).serve()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None))
