"""Fixed-window rate limits, in memory (one process) or in Redis (several workers)."""

from __future__ import annotations

import math
import time
from typing import Protocol

from redis.asyncio import Redis


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int, window: float) -> float | None:
        """Count one hit; return None when allowed, else the seconds until the window resets."""

    async def release(self, key: str) -> None:
        """Take back one hit of the current window (an attempt that turned out to be legitimate)."""

    async def count(self, key: str, window: float) -> int:
        """The hits counted in the current window (0 when it has run out)."""


class MemoryRateLimiter:
    def __init__(self, clock=time.monotonic) -> None:
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}

    async def hit(self, key: str, limit: int, window: float) -> float | None:
        now = self._clock()
        start, count = self._windows.get(key, (now, 0))
        if now - start >= window:
            start, count = now, 0
        count += 1
        self._windows[key] = (start, count)
        if len(self._windows) > 100_000:  # drop stale windows now and then
            self._windows = {k: v for k, v in self._windows.items() if now - v[0] < 3600}
        if count > limit:
            return max(0.0, window - (now - start))
        return None

    async def release(self, key: str) -> None:
        if key in self._windows:
            start, count = self._windows[key]
            self._windows[key] = (start, max(0, count - 1))

    async def count(self, key: str, window: float) -> int:
        start, count = self._windows.get(key, (0.0, 0))
        return count if self._clock() - start < window else 0

    def reset(self, key: str) -> None:
        self._windows.pop(key, None)


class RedisRateLimiter:
    """`prefix`: where the windows' keys live — the deployment's namespace (``sb:<uid>:rl:``)."""

    # One hit: count it, start the window's TTL unless it runs already, and say the count and the
    # TTL left (ms) — atomic, in one command (EVALSHA; the script is sent again if Redis lost it).
    HIT = ("local count = redis.call('INCR', KEYS[1]) "
           "redis.call('EXPIRE', KEYS[1], ARGV[1], 'NX') "
           "return {count, redis.call('PTTL', KEYS[1])}")

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._hit = redis.register_script(self.HIT)

    async def hit(self, key: str, limit: int, window: float) -> float | None:
        count, ttl = await self._hit(keys=[self._prefix + key], args=[max(1, math.ceil(window))])
        if count > limit:
            return max(0.0, ttl / 1000.0)
        return None

    async def release(self, key: str) -> None:
        name = self._prefix + key
        # Decrement only while the window's key exists, so a release never creates a key without a TTL.
        await self._redis.eval(
            "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end return 0",
            1, name)

    async def count(self, key: str, window: float) -> int:
        value = await self._redis.get(self._prefix + key)  # the key's TTL ends its window
        return int(value or 0)

    def reset(self, key: str) -> None:  # pragma: no cover - used by tests on memory only
        pass
