"""Keys of one's own in a shared Redis database (the tests' and the benchmarks').

Nobody empties a database: every deployment keeps its keys in its own namespace (`sb:<uid>:`, a
fresh uid for each fresh database: app/services/deployment.py), and whatever writes to Redis
directly uses a random prefix of its own (`own_prefix`). Each deletes its own keys when it ends
(`delete_keys`), so runs sharing the database (the suite twice at once, a benchmark beside it)
neither see nor remove each other's keys.
"""

from __future__ import annotations

import re
import uuid


def own_prefix(kind: str) -> str:
    """A Redis key prefix no one else uses: sb:<kind>-<random>:"""
    return f"sb:{kind}-{uuid.uuid4().hex[:12]}:"


def delete_keys(url: str, prefix: str) -> int:
    """Deletes every key under `prefix` in the Redis database of `url`; returns how many."""
    import redis

    if not re.fullmatch(r"sb:[0-9a-z-]{8,}:[0-9a-z:-]*", prefix):  # one namespace, never all of sb:
        raise ValueError(f"refusing to delete keys under {prefix!r}")
    client = redis.Redis.from_url(url)
    deleted = 0
    try:
        batch = []
        for key in client.scan_iter(match=prefix + "*", count=1000):
            batch.append(key)
            if len(batch) == 1000:
                deleted += client.unlink(*batch)
                batch = []
        if batch:
            deleted += client.unlink(*batch)
    finally:
        client.close()
    return deleted
