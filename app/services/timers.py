"""The shared schedule: what must happen later, fired by whichever worker is alive.

A timer is a name (``<kind>:<subject>``, e.g. ``agent.grace:42``), a due time and a small JSON
payload. With Redis it lives in the deployment's namespace — a sorted set of due times
(``timers:due``) and a hash of payloads (``timers:data``) — so every worker sees every timer;
without Redis (one process) the same code runs over a dict on the server's runtime.

Every worker polls the schedule every `POLL_SECONDS` (`run_forever`, started in the lifespan).
Taking a due timer is one atomic step (a Lua script): it is pushed `CLAIM_SECONDS` into the future
under the claimer's name, so no other worker sees it due; once its handler has run it is removed.
A worker that dies in the middle of a handler leaves the timer to fire again `CLAIM_SECONDS` later
on a live one: each timer's effect happens once (the handlers check the state they change before
changing it). Cancelling removes the timer, from any worker; a cancel that lands before the claim
wins.

The timers of this module's own kinds are the grace periods of who left (`departed`):
- ``agent.grace:<user id>`` — a CSR whose every console is gone goes Offline after
  `disconnect_grace_seconds` and their chats are re-queued (cancelled when a console connects).
- ``visitor.abandon:<visitor id>`` — a queued visitor with no tab left for
  `visitor_abandon_grace_seconds` has abandoned (each departure restarts it; a tab that came back
  makes it a no-op).
A socket's departure schedules them where it closes (app/realtime), and so does the lapse of a dead
worker's presence lease (app/presence.py `renew`, polled by `lease_forever`), so a killed worker's
CSRs and visitors are handled like any others.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable

from app import loops, presence, runtime
from app.clock import iso, utcnow
from app.models import Conversation, User
from app.services import agents, conversations, handoff
from app.tracking import live

log = logging.getLogger(__name__)

POLL_SECONDS = 0.25
CLAIM_SECONDS = 60.0  # a claimed timer whose worker died fires again this much later
BATCH = 100  # timers claimed per poll

AGENT_GRACE = "agent.grace"
VISITOR_ABANDON = "visitor.abandon"

_DUE = "timers:due"  # Redis keys, in the deployment's namespace (`Runtime.key`)
_DATA = "timers:data"

_SCHEDULE = """
if ARGV[4] == '0' and redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return 1
"""

_CANCEL = """
redis.call('HDEL', KEYS[2], ARGV[1])
return redis.call('ZREM', KEYS[1], ARGV[1])
"""

# Due timers move to the claim's own time (ARGV[2]): only their claimer sees them until then.
_CLAIM = """
local out = {}
for _, name in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))) do
  redis.call('ZADD', KEYS[1], ARGV[2], name)
  table.insert(out, name)
  table.insert(out, redis.call('HGET', KEYS[2], name) or '{}')
end
return out
"""

# Fired: gone, unless it was cancelled and scheduled anew meanwhile (another due time).
_DONE = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) == tonumber(ARGV[2]) then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
end
return 1
"""


class MemorySchedule(dict):
    """One process without Redis: name → [due ms, payload JSON] (on the server's runtime)."""


class TimerHandlers(dict):
    """What each kind of timer does: kind → async fn(subject, payload) (on the server's runtime;
    this module's kinds are there from the start, a test may add its own)."""

    def __init__(self) -> None:
        super().__init__({AGENT_GRACE: _agent_grace_over, VISITOR_ABANDON: _visitor_abandon_over})


class _Scripts(dict):
    """The Lua scripts, registered with this runtime's Redis client."""


def _now_ms() -> int:
    return int(time.time() * 1000)


def _redis_call(name: str, source: str, args: list) -> Awaitable[Any]:
    rt = runtime.current()
    scripts = rt.state(_Scripts)
    if name not in scripts:
        scripts[name] = rt.redis.register_script(source)
    return scripts[name](keys=[rt.key(_DUE), rt.key(_DATA)], args=args)


async def schedule(kind: str, subject: str, delay: float, payload: dict | None = None, *,
                   replace: bool = False) -> bool:
    """Fire `kind` for `subject` in `delay` seconds. A timer of that name already scheduled is kept
    as it is, unless `replace`. Returns whether this call set it."""
    name, due, data = f"{kind}:{subject}", _now_ms() + int(delay * 1000), json.dumps(payload or {})
    rt = runtime.current()
    if rt.redis is not None:
        return bool(await _redis_call("schedule", _SCHEDULE, [name, due, data, "1" if replace else "0"]))
    timers = rt.state(MemorySchedule)
    if name in timers and not replace:
        return False
    timers[name] = [due, data]
    return True


async def cancel(kind: str, subject: str) -> bool:
    """Cancel the timer, whichever worker scheduled it. Returns whether there was one."""
    name = f"{kind}:{subject}"
    rt = runtime.current()
    if rt.redis is not None:
        return bool(await _redis_call("cancel", _CANCEL, [name]))
    return rt.state(MemorySchedule).pop(name, None) is not None


async def _claim(now_ms: int) -> list[tuple[str, str, int]]:
    """The due timers, taken by this worker: (name, payload JSON, claim time)."""
    until = now_ms + int(CLAIM_SECONDS * 1000)
    rt = runtime.current()
    if rt.redis is not None:
        raw = await _redis_call("claim", _CLAIM, [now_ms, until, BATCH])
        text = [item.decode() if isinstance(item, bytes) else str(item) for item in raw]
        return [(text[i], text[i + 1], until) for i in range(0, len(text), 2)]
    timers = rt.state(MemorySchedule)
    due = sorted((entry[0], name) for name, entry in timers.items() if entry[0] <= now_ms)[:BATCH]
    claimed = []
    for _, name in due:
        timers[name][0] = until
        claimed.append((name, timers[name][1], until))
    return claimed


async def _done(name: str, claimed: int) -> None:
    rt = runtime.current()
    if rt.redis is not None:
        await _redis_call("done", _DONE, [name, claimed])
        return
    timers = rt.state(MemorySchedule)
    if name in timers and timers[name][0] == claimed:
        del timers[name]


async def fire_due() -> int:
    """Fire the timers that are due (each handler once, in due order). Returns how many."""
    handlers: dict[str, Callable[[str, dict], Awaitable[None]]] = runtime.current().state(TimerHandlers)
    fired = 0
    for name, data, claimed in await _claim(_now_ms()):
        kind, _, subject = name.partition(":")
        handler = handlers.get(kind)
        try:
            if handler is None:
                log.warning("no handler for the timer %s: dropped", name)
            else:
                await handler(subject, json.loads(data))
                fired += 1
        except asyncio.CancelledError:
            raise  # the server stops: the claim runs out and a live worker fires it again
        except Exception:  # one handler's fault does not hold up the others
            log.exception("the timer %s failed", name)
        await _done(name, claimed)
    return fired


async def run_forever(interval: float = POLL_SECONDS) -> None:
    """Every worker: fire due timers every `interval` seconds."""
    loops.started("timers", interval)  # /readyz: stalled without a good poll for a while
    while True:
        try:
            await fire_due()
            loops.succeeded("timers")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # keep polling; the next poll retries
            loops.failed("timers", exc)
            log.exception("polling the timers failed")
        await asyncio.sleep(interval)


# --- departures: the grace periods ----------------------------------------------------------------


async def departed(key: str) -> None:
    """The last socket of a visitor, or of a CSR (``agent:<id>``), went away: its tab or console
    closed, or its worker's presence lease lapsed. Start their grace period."""
    settings = runtime.current().settings
    if key.startswith("agent:"):
        await schedule(AGENT_GRACE, key.removeprefix("agent:"), settings.disconnect_grace_seconds)
        return
    await schedule(VISITOR_ABANDON, key, settings.visitor_abandon_grace_seconds, {"left_at": iso(utcnow())},
                   replace=True)


async def returned(user_id: int) -> None:
    """A console of this CSR connected (on any worker): their grace period, if any, is over."""
    await cancel(AGENT_GRACE, str(user_id))


async def _agent_grace_over(subject: str, payload: dict) -> None:
    """No console of the CSR came back: Offline, and their chats go back to the front of the queue."""
    user_id = int(subject)
    if await presence.count(f"agent:{user_id}") > 0:
        return
    user = await User.get_or_none(id=user_id)
    if user is None:
        return
    if user.status != "offline":
        await agents.set_agent_state(user, "offline", "disconnected")
    await handoff.requeue_all(user, reason="disconnected")


async def _visitor_abandon_over(visitor_id: str, payload: dict) -> None:
    left_at = payload.get("left_at")
    at = datetime.fromisoformat(left_at) if isinstance(left_at, str) else utcnow()
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    await conversations.abandon_if_gone(visitor_id, at)


async def watch_absent_agents() -> int:
    """At start-up: CSRs who are Available or Away, or hold chats, with no console anywhere (the
    previous process stopped, or Redis lost its presence) get the grace period to reconnect, as
    if they had just left. Returns how many."""
    holding = {c["agent_id"] for c in await Conversation.filter(status="assigned").values("agent_id")}
    users = await User.filter(status__in=("available", "away")).values_list("id", flat=True)
    watched = 0
    for user_id in sorted(set(users) | {i for i in holding if i is not None}):
        if await presence.count(f"agent:{user_id}") == 0 and await schedule(
                AGENT_GRACE, str(user_id), runtime.current().settings.disconnect_grace_seconds):
            watched += 1
    return watched


async def renew_lease() -> None:
    """With Redis: heartbeat this worker's presence lease; the sockets of workers whose lease
    lapsed depart (their visitors leave the live Visitors list, their grace periods start)."""
    gone = await presence.renew()
    visitors = [key for key in gone if not key.startswith("agent:")]
    if visitors:
        await live.lapsed(visitors)
    for key in gone:
        await departed(key)


async def lease_forever() -> None:
    """With Redis, every worker: `renew_lease` every heartbeat (a quarter of the lease)."""
    loops.started("presence_lease", presence.heartbeat_seconds())
    while True:
        await asyncio.sleep(presence.heartbeat_seconds())
        try:
            await renew_lease()
            loops.succeeded("presence_lease")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the next heartbeat retries (a lease lapses only after several)
            loops.failed("presence_lease", exc)
            log.exception("renewing the presence lease failed")
