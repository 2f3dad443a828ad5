"""Fixed-window rate limits, in memory (one process) or in Redis (several workers)."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Protocol

from redis.asyncio import Redis

log = logging.getLogger(__name__)


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int, window: float) -> float | None:
        """Count one hit; return None when allowed, else the seconds until the window resets."""

    async def hit_ahead(self, key: str, limit: int, window: float) -> float | None:
        """`hit`, decided without waiting for a shared store (a flood limit on a hot path: chat
        messages). Through Redis, from this worker's latest answer for the key and its hits since;
        hits made on other workers count from their answers on, so a burst spread over workers
        may pass the limit by what is in flight. Never for a limit that guards secrets."""

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

    hit_ahead = hit  # one process: the count here is the whole count

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

    def __init__(self, redis: Redis, prefix: str, clock=time.monotonic) -> None:
        self._redis = redis
        self._prefix = prefix
        self._hit = redis.register_script(self.HIT)
        self._clock = clock
        # hit_ahead's view per key: [count estimated, window end (clock), hits sent not yet answered]
        self._ahead: dict[str, list] = {}
        self._sending: set[asyncio.Task] = set()

    async def hit(self, key: str, limit: int, window: float) -> float | None:
        count, ttl = await self._hit(keys=[self._prefix + key], args=[max(1, math.ceil(window))])
        if count > limit:
            return max(0.0, ttl / 1000.0)
        return None

    async def hit_ahead(self, key: str, limit: int, window: float) -> float | None:
        now = self._clock()
        view = self._ahead.get(key)
        if view is None or now >= view[1]:  # nothing known of this window: this worker's hits only
            view = self._ahead[key] = [0, now + window, 0]
        view[0] += 1
        view[2] += 1
        task = asyncio.create_task(self._count(key, view, window))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)
        if len(self._ahead) > 10_000:  # drop the views of ended windows now and then
            self._ahead = {k: v for k, v in self._ahead.items() if v[1] > now or v[2]}
        return max(0.0, view[1] - now) if view[0] > limit else None

    async def settled(self) -> None:
        """Wait until every hit_ahead hit sent has been answered."""
        while self._sending:
            await asyncio.gather(*list(self._sending), return_exceptions=True)

    async def _count(self, key: str, view: list, window: float) -> None:
        """Count a hit_ahead hit in Redis; its answer (every worker's hits) plus this worker's hits
        still unanswered becomes the view."""
        try:
            count, ttl = await self._hit(keys=[self._prefix + key], args=[max(1, math.ceil(window))])
        except Exception:  # Redis away: this worker's own count stands meanwhile
            view[2] -= 1
            log.warning("counting rate limit %s in Redis failed", key, exc_info=True)
            return
        view[2] -= 1
        if self._ahead.get(key) is view:
            view[0], view[1] = int(count) + view[2], self._clock() + max(0, int(ttl)) / 1000.0

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
