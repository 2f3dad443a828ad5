"""Who is connected right now: socket counts per visitor, in memory or in Redis."""

from __future__ import annotations

from collections import Counter

from app import runtime

_local: Counter[str] = Counter()
_KEY = "sb:presence:visitors"


async def joined(visitor_id: str) -> None:
    redis = runtime.current().redis
    if redis is not None:
        await redis.hincrby(_KEY, visitor_id, 1)
    else:
        _local[visitor_id] += 1


async def left(visitor_id: str) -> None:
    redis = runtime.current().redis
    if redis is not None:
        if await redis.hincrby(_KEY, visitor_id, -1) <= 0:
            await redis.hdel(_KEY, visitor_id)
    else:
        _local[visitor_id] -= 1
        if _local[visitor_id] <= 0:
            del _local[visitor_id]


async def count(visitor_id: str) -> int:
    redis = runtime.current().redis
    if redis is not None:
        value = await redis.hget(_KEY, visitor_id)
        return int(value or 0)
    return _local.get(visitor_id, 0)
