"""Shared plumbing for socket handlers: uniform acks, errors, rate limits."""

from __future__ import annotations

import functools
import logging
from typing import Any, Awaitable, Callable

from app import runtime
from app.services import ServiceError

log = logging.getLogger("app.realtime")


def ok(**fields: Any) -> dict:
    return {"ok": True, **fields}


def error(code: str, message: str, **extra: Any) -> dict:
    return {"ok": False, "error": {"code": code, "message": message, **extra}}


def event(fn: Callable[..., Awaitable[dict]]) -> Callable[..., Awaitable[dict]]:
    """Wrap a namespace handler: refusals become error acks, faults become `internal`."""

    @functools.wraps(fn)
    async def wrapper(self, sid: str, data: Any = None) -> dict:
        try:
            return await fn(self, sid, data)
        except ServiceError as exc:
            return error(exc.code, exc.message, **getattr(exc, "extra", {}))
        except Exception:
            log.exception("handler %s failed", fn.__name__)
            return error("internal", "Something went wrong on our side; retry with the same client_id.")

    return wrapper


async def limit(key: str, count: int, window: float) -> None:
    retry_after = await runtime.current().rate_limiter.hit(key, count, window)
    if retry_after is not None:
        exc = ServiceError("rate_limited", "Too many events; slow down.")
        exc.extra = {"retry_after": round(retry_after, 1)}  # type: ignore[attr-defined]
        raise exc
