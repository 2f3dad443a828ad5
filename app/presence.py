"""Who is connected right now: socket counts per visitor (and per CSR, ``agent:<id>``), in memory
or in Redis.

Without Redis (one process) the counts are this server's, in memory.

With Redis the counts are shared, and each one is held on a lease: every worker counts its own
sockets in a hash of its own (``presence:worker:<worker id>``) beside the shared totals
(``presence:visitors``), and heartbeats its entry in ``presence:workers`` (a sorted set of
last-heartbeat times) every `lease / 4` seconds (`renew`). A worker that stops heartbeating —
killed, frozen, cut off — is reaped by the next live worker's heartbeat once its entry is older
than the lease: its sockets leave the totals in one atomic step, and `renew` returns the keys whose
total dropped to zero, whose departures the caller then handles like any other (grace timers, the
live Visitors list: app/services/timers.py). So a dead worker's sockets lose their presence within
1.25 × `PRESENCE_LEASE_SECONDS` (12.5 s by default). A worker that was reaped while alive (its loop
stalled past the lease) puts its own sockets back at its next heartbeat.
"""

from __future__ import annotations

import os
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field

from app import runtime

_KEY = "presence:visitors"  # the totals, in the deployment's Redis namespace (`Runtime.key`)
_WORKERS = "presence:workers"  # worker id → last heartbeat (ms)
_WORKER = "presence:worker:"  # + worker id: that worker's own counts

_JOINED = """
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
return redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
"""

# Only what this worker counted is undone: a socket of a worker reaped meanwhile was taken out of
# the totals already (the totals never go below what the live workers hold).
_LEFT = """
local here = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if here <= 0 then return tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') end
if here == 1 then redis.call('HDEL', KEYS[2], ARGV[1]) else redis.call('HINCRBY', KEYS[2], ARGV[1], -1) end
local total = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if total <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]); return 0 end
return total
"""

# Heartbeat, then reap the workers whose lease ran out. Returns {1 if this worker had been
# reaped itself, [keys whose total dropped to zero]}.
_RENEW = """
local now, lease, prefix = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local lost = redis.call('ZADD', KEYS[2], now, ARGV[1])
local gone = {}
for _, worker in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now - lease)) do
  local held = redis.call('HGETALL', prefix .. worker)
  for i = 1, #held, 2 do
    local total = redis.call('HINCRBY', KEYS[1], held[i], -tonumber(held[i + 1]))
    if total <= 0 then
      redis.call('HDEL', KEYS[1], held[i])
      table.insert(gone, held[i])
    end
  end
  redis.call('DEL', prefix .. worker)
  redis.call('ZREM', KEYS[2], worker)
end
return {lost, gone}
"""

# A worker reaped while alive puts back what it holds (ARGV: key, count, key, count, ...).
_RESTORE = """
for i = 1, #ARGV, 2 do
  local here = tonumber(redis.call('HGET', KEYS[2], ARGV[i]) or '0')
  local count = tonumber(ARGV[i + 1])
  if count ~= here then
    redis.call('HINCRBY', KEYS[1], ARGV[i], count - here)
    redis.call('HSET', KEYS[2], ARGV[i], count)
  end
end
return 1
"""


class LocalPresence(Counter):
    """This server's socket counts (on its runtime): the counts themselves without Redis, what it
    puts back after losing its lease with Redis."""


@dataclass
class Lease:
    """This worker's presence lease (on the server's runtime)."""

    worker_id: str = field(default_factory=lambda: f"{os.getpid()}-{secrets.token_hex(4)}")
    scripts: dict = field(default_factory=dict)


def _local() -> LocalPresence:
    return runtime.current().state(LocalPresence)


def _script(name: str, source: str):
    rt = runtime.current()
    scripts = rt.state(Lease).scripts
    if name not in scripts:
        scripts[name] = rt.redis.register_script(source)
    return scripts[name]


def _keys() -> list[str]:
    rt = runtime.current()
    return [rt.key(_KEY), rt.key(_WORKER + rt.state(Lease).worker_id)]


def worker_id() -> str:
    return runtime.current().state(Lease).worker_id


async def joined(visitor_id: str) -> None:
    rt = runtime.current()
    if rt.redis is not None:
        await _script("joined", _JOINED)(keys=_keys(), args=[visitor_id])
    _local()[visitor_id] += 1


async def left(visitor_id: str) -> int:
    """One socket of `visitor_id` went away here. Returns how many remain (on every worker)."""
    rt = runtime.current()
    local = _local()
    local[visitor_id] -= 1
    if local[visitor_id] <= 0:
        del local[visitor_id]
    if rt.redis is not None:
        return int(await _script("left", _LEFT)(keys=_keys(), args=[visitor_id]))
    return local.get(visitor_id, 0)


async def count(visitor_id: str) -> int:
    rt = runtime.current()
    if rt.redis is not None:
        value = await rt.redis.hget(rt.key(_KEY), visitor_id)
        return int(value or 0)
    return _local().get(visitor_id, 0)


def lease_seconds() -> float:
    return runtime.current().settings.presence_lease_seconds


def heartbeat_seconds() -> float:
    return lease_seconds() / 4


async def renew() -> list[str]:
    """With Redis: heartbeat this worker's lease and reap the workers whose lease ran out.
    Returns the keys (visitor ids, ``agent:<id>``) that have no socket left anywhere because of
    it. Without Redis: nothing to do."""
    rt = runtime.current()
    if rt.redis is None:
        return []
    lease = rt.state(Lease)
    lost, gone = await _script("renew", _RENEW)(
        keys=[rt.key(_KEY), rt.key(_WORKERS)],
        args=[lease.worker_id, int(time.time() * 1000), int(lease_seconds() * 1000), rt.key(_WORKER)])
    held = [item for key, n in _local().items() if n > 0 for item in (key, n)]
    if int(lost) and held:
        await _script("restore", _RESTORE)(keys=_keys(), args=held)
    return [key.decode() if isinstance(key, bytes) else str(key) for key in gone]
