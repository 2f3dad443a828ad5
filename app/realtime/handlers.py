"""Shared plumbing for socket handlers: uniform acks, errors, rate limits."""

from __future__ import annotations

import functools
import logging
import time
from typing import Any, Awaitable, Callable

from app import i18n, logs, metrics, runtime
from app.i18n import N_
from app.services import ServiceError

log = logging.getLogger("app.realtime")


def ok(**fields: Any) -> dict:
    return {"ok": True, **fields}


def error(code: str, message: str, **extra: Any) -> dict:
    return {"ok": False, "error": {"code": code, "message": message, **extra}}


INTERNAL = N_("Something went wrong on our side; retry with the same client_id.")


def _in(session: dict, refusal: ServiceError) -> str:
    """A refusal's message in the language of the socket's user (staff sockets keep it in their
    session; visitors' widget words its own messages by code, so theirs stay as written)."""
    language = session.get("language")
    return refusal.said(i18n.translations(language).gettext) if language else refusal.message


def event(fn: Callable[..., Awaitable[dict]]) -> Callable[..., Awaitable[dict]]:
    """Wrap a namespace handler: refusals become error acks, faults become `internal`. Lines
    logged meanwhile carry the socket, the event and who sent it (app/logs.py); the time to the
    ack and error codes go to the worker's metrics (app/metrics.py)."""
    name = fn.__name__.removeprefix("on_")

    @functools.wraps(fn)
    async def wrapper(self, sid: str, data: Any = None) -> dict:
        started = time.perf_counter()
        try:
            session = await self.get_session(sid)
        except Exception:  # gone meanwhile: the handler answers for itself
            session = {}
        with logs.context(sid=sid, event=name, user_id=session.get("user_id"), visitor_id=session.get("visitor_id")):
            try:
                answer = await fn(self, sid, data)
            except ServiceError as exc:  # expected (bad input, refusals): an error ack, no traceback
                log.debug("%s refused: %s: %s", name, exc.code, exc.message)
                answer = error(exc.code, _in(session, exc), **getattr(exc, "extra", {}))
            except Exception:
                log.exception("handler %s failed", fn.__name__)
                answer = error("internal", _in(session, ServiceError("internal", INTERNAL)))
        metrics.current().observe_ack(self.namespace.strip("/"), name, time.perf_counter() - started, answer)
        return answer

    return wrapper


async def limit(key: str, count: int, window: float, *, ahead: bool = False) -> None:
    """Refuse (`rate_limited`) past `count` hits of `key` a `window`. `ahead`: decided without
    waiting for Redis (chat messages; app/ratelimit.py `hit_ahead`)."""
    limiter = runtime.current().rate_limiter
    retry_after = await (limiter.hit_ahead if ahead else limiter.hit)(key, count, window)
    if retry_after is not None:
        metrics.current().count_rate_limited(key.partition(":")[0])  # "msg:a:7" → msg
        exc = ServiceError("rate_limited", "Too many events; slow down.")
        exc.extra = {"retry_after": round(retry_after, 1)}  # type: ignore[attr-defined]
        raise exc
