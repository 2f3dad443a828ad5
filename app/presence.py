"""Who is connected right now: socket counts per visitor, in memory or in Redis."""

from __future__ import annotations

from collections import Counter

from app import runtime

_KEY = "presence:visitors"  # in the deployment's Redis namespace (`Runtime.key`)


class LocalPresence(Counter):
    """One process without Redis: this server's socket counts (on its runtime)."""


def _local() -> LocalPresence:
    return runtime.current().state(LocalPresence)


async def joined(visitor_id: str) -> None:
    rt = runtime.current()
    if rt.redis is not None:
        await rt.redis.hincrby(rt.key(_KEY), visitor_id, 1)
    else:
        _local()[visitor_id] += 1


async def left(visitor_id: str) -> None:
    rt = runtime.current()
    if rt.redis is not None:
        if await rt.redis.hincrby(rt.key(_KEY), visitor_id, -1) <= 0:
            await rt.redis.hdel(rt.key(_KEY), visitor_id)
    else:
        local = _local()
        local[visitor_id] -= 1
        if local[visitor_id] <= 0:
            del local[visitor_id]


async def count(visitor_id: str) -> int:
    rt = runtime.current()
    if rt.redis is not None:
        value = await rt.redis.hget(rt.key(_KEY), visitor_id)
        return int(value or 0)
    return _local().get(visitor_id, 0)
