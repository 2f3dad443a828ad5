from app.ratelimit import MemoryRateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_fixed_window_allows_limit_then_reports_retry_after():
    clock = Clock()
    limiter = MemoryRateLimiter(clock)
    assert [await limiter.hit("k", 3, 10) for _ in range(3)] == [None, None, None]
    clock.now = 4.0
    assert await limiter.hit("k", 3, 10) == 6.0
    assert await limiter.hit("other", 3, 10) is None
    clock.now = 10.0
    assert await limiter.hit("k", 3, 10) is None


async def test_release_hands_back_one_hit():
    clock = Clock()
    limiter = MemoryRateLimiter(clock)
    assert [await limiter.hit("k", 2, 10) for _ in range(2)] == [None, None]
    await limiter.release("k")
    assert await limiter.hit("k", 2, 10) is None
    assert await limiter.hit("k", 2, 10) == 10.0
    await limiter.release("unknown")  # nothing to release is fine


async def test_redis_release_matches_memory(redis_url):
    from redis.asyncio import Redis

    from app.ratelimit import RedisRateLimiter
    from tests.support.redis_keys import own_prefix

    redis = Redis.from_url(redis_url)
    prefix = own_prefix("test-rl")  # the Redis database is shared: keys of this test's own
    try:
        limiter = RedisRateLimiter(redis, prefix=prefix)
        await limiter.release("k")
        assert await redis.exists(prefix + "k") == 0  # no key without a window
        assert [await limiter.hit("k", 2, 60) for _ in range(2)] == [None, None]
        await limiter.release("k")
        assert await limiter.hit("k", 2, 60) is None
        retry = await limiter.hit("k", 2, 60)
        assert retry is not None and 0 < retry <= 60
    finally:
        await redis.delete(prefix + "k")
        await redis.aclose()


async def test_redis_hit_matches_memory_and_keeps_its_window(redis_url):
    """One window per key: its TTL is set by the first hit and not moved by the next ones; the
    hits past the limit say how long until it ends; a key that lost its TTL gets one back."""
    from redis.asyncio import Redis

    from app.ratelimit import RedisRateLimiter
    from tests.support.redis_keys import own_prefix

    redis = Redis.from_url(redis_url)
    prefix = own_prefix("test-rl-hit")
    try:
        limiter = RedisRateLimiter(redis, prefix=prefix)
        assert [await limiter.hit("k", 3, 60) for _ in range(3)] == [None, None, None]
        assert await redis.get(prefix + "k") == b"3"
        first_ttl = await redis.pttl(prefix + "k")
        assert 0 < first_ttl <= 60_000
        await redis.pexpire(prefix + "k", 30_000)  # time going by: the next hit must not restart it
        retry = await limiter.hit("k", 3, 60)
        assert retry is not None and 0 < retry <= 30.0
        assert await redis.get(prefix + "k") == b"4"
        await redis.persist(prefix + "k")  # a key without a TTL would limit forever: it gets one
        assert await limiter.hit("k", 10, 20) is None
        assert 0 < await redis.pttl(prefix + "k") <= 20_000
    finally:
        await redis.delete(prefix + "k")
        await redis.aclose()


async def test_redis_hit_ahead_counts_here_at_once_and_learns_other_workers_hits(redis_url):
    """`hit_ahead` decides without waiting for Redis: this worker's own hits are refused past the
    limit at once, every hit is counted in Redis, and another worker's hits count from Redis's
    answer on (its first one here, before any answer, is the documented leeway)."""
    from redis.asyncio import Redis

    from app.ratelimit import RedisRateLimiter
    from tests.support.redis_keys import own_prefix

    redis = Redis.from_url(redis_url)
    prefix = own_prefix("test-rl-ahead")
    try:
        here, there = RedisRateLimiter(redis, prefix=prefix), RedisRateLimiter(redis, prefix=prefix)
        # A burst on one worker, none of it answered yet: the fourth and fifth are refused.
        outcomes = [await here.hit_ahead("k", 3, 60) for _ in range(5)]
        assert outcomes[:3] == [None, None, None]
        assert all(r is not None and 0 < r <= 60 for r in outcomes[3:])
        await here.settled()
        assert await redis.get(prefix + "k") == b"5"  # every hit counted, refused ones too
        assert 0 < await redis.pttl(prefix + "k") <= 60_000
        # The other worker: its first hit passes (nothing known yet); Redis's answer says 6.
        assert await there.hit_ahead("k", 3, 60) is None
        await there.settled()
        retry = await there.hit_ahead("k", 3, 60)
        assert retry is not None and 0 < retry <= 60
        # A window that ended: counted afresh from Redis's new window.
        await here.settled()
        await there.settled()
        await redis.delete(prefix + "k")
        fresh = RedisRateLimiter(redis, prefix=prefix)
        assert [await fresh.hit_ahead("k", 3, 60) for _ in range(3)] == [None, None, None]
        await fresh.settled()
        assert await redis.get(prefix + "k") == b"3"
    finally:
        await redis.delete(prefix + "k")
        await redis.aclose()
