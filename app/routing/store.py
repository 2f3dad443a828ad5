"""Where workers coordinate routing: one process (in memory) or many (Redis).

A routing pass reads a snapshot from the database and applies conditional updates, so a chat
can never be assigned twice. The store makes passes mutually exclusive across workers (so an
agent's capacity is never exceeded by two passes deciding at once) and remembers that another
pass was asked for while one was running, so no request for routing is lost.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Protocol

from redis.asyncio import Redis


class RoutingStore(Protocol):
    async def try_acquire(self) -> bool: ...
    async def release(self) -> None: ...
    async def request_pass(self) -> None: ...
    async def take_request(self) -> bool: ...


class MemoryRoutingStore:
    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._requested = False

    async def try_acquire(self) -> bool:
        if self._lock.locked():
            return False
        await self._lock.acquire()
        return True

    async def release(self) -> None:
        self._lock.release()

    async def request_pass(self) -> None:
        self._requested = True

    async def take_request(self) -> bool:
        requested, self._requested = self._requested, False
        return requested


_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class RedisRoutingStore:
    """A lease in Redis (SET NX PX, released by compare-and-delete) and a 'dirty' flag."""

    def __init__(self, redis: Redis, prefix: str = "sb:routing:", lease_ms: int = 10_000) -> None:
        self._redis = redis
        self._lock_key = prefix + "lock"
        self._dirty_key = prefix + "dirty"
        self._lease_ms = lease_ms
        self._token: str | None = None
        self._release = redis.register_script(_RELEASE)

    async def try_acquire(self) -> bool:
        token = secrets.token_hex(8)
        if await self._redis.set(self._lock_key, token, nx=True, px=self._lease_ms):
            self._token = token
            return True
        return False

    async def release(self) -> None:
        if self._token is not None:
            await self._release(keys=[self._lock_key], args=[self._token])
            self._token = None

    async def request_pass(self) -> None:
        await self._redis.set(self._dirty_key, "1")

    async def take_request(self) -> bool:
        return bool(await self._redis.getdel(self._dirty_key))
