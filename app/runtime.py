"""The collaborators a running server is built from, and every piece of state it keeps in memory.

Nothing a server changes while it runs lives in a module global: buffers, caches, timers and
limiters hang off its `Runtime`, so a test can start a server in-process and two deployments (two
runtimes) never share one. A module keeps its own state in a small class of its own (for example
`app.services.tracking.TrackingBuffers`) and reaches this server's instance with
`runtime.current().state(TrackingBuffers)`; the instance is made on first use and lives as long as
the runtime. Constants stay module globals.

With Redis, every key lives under this deployment's namespace, ``sb:<uid>:`` (`Runtime.key`; the
uid is the database's `deployment_identity`, see `app.services.deployment`): the runtime is bound
to it at start-up, once the database has been read (`bind_deployment`).

Which runtime is current: the one of the server whose code is running. A server's ASGI app runs
every call it gets (the lifespan, each HTTP request, each socket) inside `activated(runtime)`, a
context variable, so the tasks that call spawns (socket.io handlers, timers, background loops)
inherit it and two servers in one process and one event loop never see each other's runtime.
Outside any server's code, `current()` falls back to the runtime `install`ed for the whole process:
the one server of `python -m app serve`, or a CLI command's.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterator, TypeVar

from redis.asyncio import Redis

from app.config import Settings
from app.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from app.routing.store import MemoryRoutingStore, RedisRoutingStore, RoutingStore
from app.security import Signer

if TYPE_CHECKING:
    import socketio
    from tortoise.context import TortoiseContext

S = TypeVar("S")


def redis_prefix(deployment: str) -> str:
    """Where a deployment's Redis keys live: ``sb:<uid>:``."""
    return f"sb:{deployment}:"


class _Unbound:
    """Stands for a Redis-backed collaborator until the runtime knows its deployment's namespace."""

    def __init__(self, what: str) -> None:
        self._what = what

    def __getattr__(self, name: str):
        raise RuntimeError(f"the {self._what} needs the deployment's Redis namespace: call "
                           "Runtime.bind_deployment() at start-up")


class Listeners:
    """Who is told of which kind of event-log row, in the order they registered (see
    `app.services.events`; the reactions are registered by `app.services.listeners.install`)."""

    def __init__(self) -> None:
        self.conversation: dict[str, list[Callable[[Any, Any], Awaitable[None]]]] = defaultdict(list)
        self.agent: list[Callable[[Any, Any], Awaitable[None]]] = []

    def on_conversation(self, kinds, listener: Callable[[Any, Any], Awaitable[None]]) -> None:
        for kind in kinds:
            self.conversation[kind].append(listener)

    def on_agent_status(self, listener: Callable[[Any, Any], Awaitable[None]]) -> None:
        self.agent.append(listener)


@dataclass
class Runtime:
    settings: Settings
    signer: Signer
    rate_limiter: RateLimiter
    routing_store: RoutingStore
    redis: Redis | None = None
    listeners: Listeners = field(default_factory=Listeners)
    deployment: str | None = None  # the deployment's uid (app.services.deployment), once bound
    sio: socketio.AsyncServer | None = None  # where app.bus publishes (None: nobody listens)
    database: TortoiseContext | None = None  # the server's own database connections (app.db)
    _states: dict[type, Any] = field(default_factory=dict, repr=False)

    def bind_deployment(self, deployment: str) -> None:
        """Name this runtime's deployment; with Redis, its shared collaborators now use its namespace."""
        self.deployment = deployment
        if self.redis is not None:
            self.routing_store = RedisRoutingStore(self.redis, prefix=self.key("rt:"))
            self.rate_limiter = RedisRateLimiter(self.redis, prefix=self.key("rl:"))

    def key(self, name: str) -> str:
        """A Redis key in this deployment's namespace (``sb:<uid>:<name>``)."""
        if self.deployment is None:
            raise RuntimeError("the runtime is not bound to a deployment: call Runtime.bind_deployment()")
        return redis_prefix(self.deployment) + name

    def state(self, kind: type[S]) -> S:
        """This runtime's instance of a module's in-memory state class (made on first use)."""
        found = self._states.get(kind)
        if found is None:
            found = self._states[kind] = kind()
        return found

    def cancel_pending(self) -> int:
        """At shutdown: cancel the timers and tasks its states hold (offer and invitation expiries,
        live-row grace timers, background passes...), so that none runs after the server stopped
        (in-process, the event loop goes on). Returns how many."""
        this = asyncio.current_task()
        cancelled = 0
        for state in self._states.values():
            for item in _pending_in(state):
                if item is not this and not (isinstance(item, asyncio.Future) and item.done()):
                    item.cancel()
                    cancelled += 1
        return cancelled


def _pending_in(state: Any) -> list[asyncio.Handle | asyncio.Future]:
    """The timers and tasks a state object holds: as its values (a dict, a set) or attributes, or
    inside a container there (one level down)."""
    def members(value: Any) -> list[Any]:
        if isinstance(value, dict):
            return list(value.values())
        if isinstance(value, (list, set, tuple, frozenset)):
            return list(value)
        return [value]

    if isinstance(state, (dict, list, set)):
        top = members(state)
    else:
        top = list(getattr(state, "__dict__", {}).values())
    return [item for value in top for item in members(value)
            if isinstance(item, (asyncio.Handle, asyncio.Future))]


# The runtime of the server whose code is running (set per ASGI call: `activated`) ...
_active: ContextVar[Runtime | None] = ContextVar("switchboard_runtime", default=None)
# ... else the one installed for the whole process (`python -m app serve`, a CLI command).
_installed: Runtime | None = None


def build(settings: Settings, deployment: str | None = None) -> Runtime:
    """A runtime for `settings`. With Redis, the routing store and the rate limiter exist once the
    runtime is bound to its deployment (`deployment` here, or `bind_deployment` later)."""
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    runtime = Runtime(
        settings=settings,
        signer=Signer(settings.secret_key, settings.old_secret_keys),
        rate_limiter=_Unbound("rate limiter") if redis else MemoryRateLimiter(),
        routing_store=_Unbound("routing store") if redis else MemoryRoutingStore(),
        redis=redis,
    )
    if deployment is not None:
        runtime.bind_deployment(deployment)
    return runtime


def install(runtime: Runtime) -> None:
    """Make `runtime` the process-wide fallback: the current runtime wherever no server's runtime
    is `activated` (the normal one-server process and CLI commands)."""
    global _installed
    _installed = runtime


def uninstall(runtime: Runtime) -> None:
    """Drop the process-wide fallback if it is still `runtime`."""
    global _installed
    if _installed is runtime:
        _installed = None


@contextmanager
def activated(runtime: Runtime) -> Iterator[Runtime]:
    """Run the block, and every task it spawns, with `runtime` as the current one."""
    token = _active.set(runtime)
    try:
        yield runtime
    finally:
        _active.reset(token)


def installed() -> Runtime | None:
    """The current runtime, or None where no server runs (a script that installed none)."""
    active = _active.get()
    return active if active is not None else _installed


def current() -> Runtime:
    found = installed()
    if found is None:
        raise RuntimeError("no runtime: a server's code runs in app.runtime.activated(), "
                           "a one-server process calls app.runtime.install() at start-up")
    return found
