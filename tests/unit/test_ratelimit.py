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
