"""The process-wide collaborators a running server is built from (set once at start-up)."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from app.config import Settings
from app.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from app.routing.store import MemoryRoutingStore, RedisRoutingStore, RoutingStore
from app.security import Signer


@dataclass
class Runtime:
    settings: Settings
    signer: Signer
    rate_limiter: RateLimiter
    routing_store: RoutingStore
    redis: Redis | None = None


_current: Runtime | None = None


def build(settings: Settings) -> Runtime:
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    return Runtime(
        settings=settings,
        signer=Signer(settings.secret_key),
        rate_limiter=RedisRateLimiter(redis) if redis else MemoryRateLimiter(),
        routing_store=RedisRoutingStore(redis) if redis else MemoryRoutingStore(),
        redis=redis,
    )


def install(runtime: Runtime) -> None:
    global _current
    _current = runtime


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("the runtime is not installed; call app.runtime.install() at start-up")
    return _current
