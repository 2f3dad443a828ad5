"""The routing state and its decisions: in memory (one process) or in Redis (many workers).

The database is the record (who holds which chat); the store is the routing core's working
state, kept in step with the database by `app.services.routing` (every change of a chat or an
agent is written to the store from the database row, and a periodic reconciliation repairs
anything a crashed worker left behind). It holds:

- one queue of waiting chats per department (``"g"``: the general queue), ordered by priority,
  then request time (`order` = −priority × 10¹³ + request time in ms);
- per queue, the Available agents with free capacity, ordered by the queue's strategy;
- per agent, the chats they hold (assigned, or reserved by an offer) — their load;
- sticky chats, waiting for one CSR until a deadline.

A colleague in a warm transfer holds a place too, under the chat's id negated (−id): while both
CSRs are in the chat it counts against the colleague's capacity, and when the first CSR leaves
the colleague's place becomes the chat itself (`take` with `release`), so nobody ever goes over.

Every way a chat reaches a CSR other than a routing decision — a pick, an accepted invitation, a
transfer, a warm transfer, a take-over — takes its place with `take`: one atomic step that checks
the CSR's room (unless forced: a supervisor's take-over) and moves the hold from the CSR who had
it (`app/services/assignment.py`).

A **decision** (`decide`) is one atomic step: pick the first chat (across queues) whose queue has
an agent with room — or whose sticky CSR has room —, pick that queue's best agent (skipping the
CSRs who declined it, unless nobody else is there), and record the hold. In Redis it is one Lua
script (one round trip); in memory one synchronous call. Its cost does not grow with the number
of agents or waiting chats: O(queues + log agents) with sorted sets.

The decision is the same as `app.routing.policy.plan_assignments` over the same snapshot
(tests/unit/test_routing_store.py checks both stores against it and against each other).

Scores (smaller first; ties by id):
- longest_idle: max(idle since, last assigned) in ms, never = 0;
- least_busy: load × 10¹³ + that;
- round_robin: last assigned in ms, never = 0;
- skills: −level × 10¹³ + idle score.

**Following the database, safely while other workers run.** In Redis the store outlives every
worker, and may hold what the database never said: a worker that died between a decision and its
database update, another copy of the deployment that used these keys (a restored backup of Redis,
or of the database), a clock that was wrong. It is never wiped: a worker starting while others
run would drop their decisions of the last moment (applied to the database just after), and an
agent could then be given more chats than their capacity. Instead the store is *reconciled*
(`app.services.routing.reconcile`, at every worker's start-up before it serves, then every ten
seconds): every agent the database says is Available and every agent the store knows is rewritten
from the database when their entry or their holds differ from it; every chat the store queues
that the database does not say is waiting (closed, taken, or no longer there at all) leaves the
queue; every chat waiting in the database that the store does not queue joins it. What this may
not undo is a hold the database does not confirm yet but that a live worker may have just made:
a hold is kept while its claim time is within CLAIM_GRACE_MS of now (a decision is written to the
database within moments; a worker that takes longer is treated as dead). A claim dated further
from now in *either* direction is released — one from the future (a clock that ran ahead, a copy
restored from elsewhere) could otherwise claim a CSR's place forever; the workers' clocks must
therefore agree to well within the grace (NTP). So a stale hold outlives at most the grace and one
reconciliation — a backup's or another copy's claims are old, and go at the first one —, and
what a live worker just did survives it.

**Readings in order.** Two workers may sync the same chat at once (each after an event of it), and
the older reading of the database may land last: a hold of a chat that has closed since would come
back and, with the CSR's place already given to another chat, make them seem over capacity until
the next sync of theirs. So each reading carries the chat's *version* — its newest event id, read in
the same SQL statement as its row (`routing_state`) — and the store applies a reading only if it is
not older than the newest one applied (`ChatState.version`; a CSR's holds carry theirs,
`AgentState.versions`). Every change of a chat writes an event, and the sync that follows it reads
after it, so a reading taken before a change carries a smaller version than the reading after it.
A gone chat's version is remembered for GONE_MEMORY_MS, then forgotten (no key grows without end).
The keys themselves
live in the deployment's own namespace (``sb:<uid>:rt:``, `app.runtime`), so another deployment
sharing the Redis database is never read nor touched. The store assumes its own keys are
consistent with one another (every script keeps them so, and a Redis snapshot is taken at one
instant); it does not assume they agree with the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from redis.asyncio import Redis
from sortedcontainers import SortedList

GENERAL = "g"
SCALE = 10**13  # larger than any time in ms (2286 AD), so score terms do not overlap
CLAIM_GRACE_MS = 15_000  # a hold younger than this may not be in the database yet


# The claim time of a hold written *from* the database (it was confirmed when read): such a hold
# has no grace, so if a write ever raced a newer change of the chat unseen by the versions (a
# reading without one), the next reconciliation undoes it instead of waiting out the grace.
CONFIRMED = 0

# How long the store remembers the version of a chat that went (closed, abandoned): a write read
# from the database before the chat went, landing after, must not bring its hold back
# ("Versions" in `put_chat`). A reading older than this is long corrected by reconciliation.
GONE_MEMORY_MS = 300_000


def unconfirmed(claimed_ms: int, now_ms: int) -> bool:
    """A hold the database does not confirm may be dropped: its claim is not within the grace of
    now (older — its worker is gone —, or dated in the future, beyond any clock skew)."""
    return abs(now_ms - claimed_ms) > CLAIM_GRACE_MS


def queue_id(department_id: int | None) -> str:
    return GENERAL if department_id is None else str(department_id)


def chat_order(priority: int, requested_ms: int) -> int:
    return -priority * SCALE + requested_ms


@dataclass(frozen=True)
class AgentState:
    """An agent as routing needs them, read from the database."""

    id: int
    available: bool
    capacity: int
    idle_ms: int = 0  # last chat ended, or became available (0: never)
    last_ms: int = 0  # last chat received (0: never)
    queues: tuple[str, ...] = (GENERAL,)
    skills: dict[str, int] = field(default_factory=dict)  # queue id → level
    held: tuple[int, ...] = ()  # chats the database says they hold (assigned or offered)
    versions: dict[int, int] = field(default_factory=dict)  # held chat → its version when read

    def digest(self) -> str:
        skills = ",".join(f"{q}={lvl}" for q, lvl in sorted(self.skills.items()))
        held = ",".join(map(str, sorted(self.held)))
        return f"{int(self.available)}|{self.capacity}|{self.idle_ms}|{self.last_ms}|{','.join(self.queues)}|" \
               f"{skills}|{held}"


@dataclass(frozen=True)
class ChatState:
    """A chat as routing needs it, read from the database.

    `state`: "waiting" (in its queue, unless manual), "held" (assigned or on offer to `holder`),
    or "gone" (closed, or no longer a chat to route)."""

    id: int
    state: str
    queue: str = GENERAL
    order: int = 0
    strategy: str = "longest_idle"
    sticky_agent: int | None = None
    sticky_until_ms: int = 0
    declined: frozenset[int] = frozenset()
    holder: int | None = None
    # The chat's newest event id, read in the same statement as its row (None: unknown). The store
    # ignores a write older than one it has applied: two workers syncing a chat at once, the older
    # reading landing last, must not undo the newer (bring back a hold of a chat that closed).
    version: int | None = None


class RoutingStore(Protocol):
    async def put_agent(self, agent: AgentState, now_ms: int) -> None: ...
    async def put_chat(self, chat: ChatState, now_ms: int, from_agent: int | None = None) -> bool: ...
    async def decide(self, now_ms: int) -> tuple[int, int] | None: ...
    async def claim(self, chat_id: int, agent_id: int, now_ms: int) -> str: ...
    async def take(self, chat_id: int, agent_id: int, now_ms: int, *, expect: int | None = None,
                   force: bool = False, release: int | None = None) -> str: ...
    async def load(self, agent_id: int) -> int: ...
    async def digests(self, agent_ids: list[int]) -> dict[int, str | None]: ...
    async def known_agents(self) -> set[int]: ...
    async def holds(self, agent_ids: list[int]) -> dict[int, dict[int, int]]: ...
    async def waiting(self) -> set[int]: ...
    async def holder(self, chat_id: int) -> int | None: ...


# --- in memory ----------------------------------------------------------------------------------


class _MAgent:
    __slots__ = ("available", "capacity", "idle", "last", "queues", "skills", "digest")

    def __init__(self) -> None:
        self.available = False
        self.capacity = 0
        self.idle = 0
        self.last = 0
        self.queues: tuple[str, ...] = ()
        self.skills: dict[str, int] = {}
        self.digest = ""


class _MChat:
    __slots__ = ("queue", "order", "sticky", "until", "declined")

    def __init__(self, queue: str, order: int, sticky: int | None, until: int, declined: frozenset[int]) -> None:
        self.queue, self.order, self.sticky, self.until, self.declined = queue, order, sticky, until, declined


class MemoryRoutingStore:
    """The embedded store: plain dicts and sorted lists, each call atomic (no await inside)."""

    def __init__(self) -> None:
        self.strategy: dict[str, str] = {}
        self.agents: dict[int, _MAgent] = {}
        self.held: dict[int, dict[int, int]] = {}  # agent → {chat: claimed at ms}
        self.holders: dict[int, int] = {}  # chat → agent
        self.chats: dict[int, _MChat] = {}  # waiting chats (queued or sticky)
        self.queues: dict[str, SortedList] = {}  # queue → [(order, chat)]
        self.agent_queues: dict[str, SortedList] = {}  # queue → [(score, agent)] with room
        self.agent_scores: dict[tuple[str, int], tuple[int, int]] = {}
        self.sticky: dict[int, SortedList] = {}  # agent → [(order, chat)]
        self.sticky_due = SortedList()  # [(until, chat)]
        self.versions: dict[int, int] = {}  # chat → the newest version applied
        self.gone: dict[int, int] = {}  # chat → when it went (ms), in that order: its version is forgotten later

    # helpers (mirror the Lua functions of the Redis store one for one)
    def _score(self, aid: int, q: str) -> int:
        a = self.agents[aid]
        idle = max(a.idle, a.last)
        strategy = self.strategy.get(q, "longest_idle")
        if strategy == "least_busy":
            return len(self.held.get(aid, ())) * SCALE + idle
        if strategy == "round_robin":
            return a.last
        if strategy == "skills":
            return -a.skills.get(q, 0) * SCALE + idle
        return idle

    def _unrank(self, aid: int, q: str) -> None:
        old = self.agent_scores.pop((q, aid), None)
        if old is not None:
            self.agent_queues[q].remove(old)

    def _rescore(self, aid: int) -> None:
        a = self.agents.get(aid)
        if a is None:
            return
        room = a.available and len(self.held.get(aid, ())) < a.capacity
        for q in a.queues:
            self._unrank(aid, q)
            if room:
                entry = (self._score(aid, q), aid)
                self.agent_queues.setdefault(q, SortedList()).add(entry)
                self.agent_scores[(q, aid)] = entry

    def _unqueue(self, cid: int) -> None:
        c = self.chats.pop(cid, None)
        if c is None:
            return
        if c.sticky is not None:
            self.sticky[c.sticky].discard((c.order, cid))
            if not self.sticky[c.sticky]:
                del self.sticky[c.sticky]
            self.sticky_due.discard((c.until, cid))
        else:
            self.queues[c.queue].discard((c.order, cid))

    def _to_queue(self, cid: int) -> None:
        c = self.chats[cid]
        if c.sticky is not None:
            self._unqueue(cid)
            c.sticky = None
            self.chats[cid] = c
        self.queues.setdefault(c.queue, SortedList()).add((c.order, cid))

    def _release(self, cid: int) -> None:
        aid = self.holders.pop(cid, None)
        if aid is not None:
            self.held.get(aid, {}).pop(cid, None)
            self._rescore(aid)

    def _hold(self, cid: int, aid: int, now: int) -> None:
        previous = self.holders.get(cid)
        if previous is not None and previous != aid:
            self.held[previous].pop(cid, None)
            self._rescore(previous)
        self.holders[cid] = aid
        self.held.setdefault(aid, {})[cid] = now

    # the store's operations
    async def put_agent(self, agent: AgentState, now_ms: int) -> None:
        a = self.agents.get(agent.id)
        if a is None:
            a = self.agents[agent.id] = _MAgent()
        for q in a.queues:
            if q not in agent.queues:
                self._unrank(agent.id, q)
        a.available, a.capacity = agent.available, agent.capacity
        a.idle, a.last = max(a.idle, agent.idle_ms), max(a.last, agent.last_ms)
        a.queues, a.skills, a.digest = tuple(agent.queues), dict(agent.skills), agent.digest()
        in_db = set(agent.held)
        mine = self.held.setdefault(agent.id, {})
        for cid, claimed in list(mine.items()):
            if cid not in in_db and unconfirmed(claimed, now_ms):
                del mine[cid]
                if self.holders.get(cid) == agent.id:
                    del self.holders[cid]
        for cid in in_db:
            if self.holders.get(cid) != agent.id and not self._stale(cid, agent.versions.get(cid)):
                self._unqueue(cid)
                self._hold(cid, agent.id, CONFIRMED)
        if not agent.available:
            for _, cid in list(self.sticky.get(agent.id, ())):
                self._to_queue(cid)
        self._rescore(agent.id)

    def _stale(self, cid: int, version: int | None) -> bool:
        """A reading of the chat older than one already applied."""
        known = self.versions.get(cid)
        return version is not None and known is not None and version < known

    def _forget_gone(self, now_ms: int) -> None:
        for cid, at in list(self.gone.items()):
            if at > now_ms - GONE_MEMORY_MS:
                break
            del self.gone[cid]
            if cid not in self.holders and cid not in self.chats:
                self.versions.pop(cid, None)

    async def put_chat(self, chat: ChatState, now_ms: int, from_agent: int | None = None) -> bool:
        if chat.version is not None:
            if self._stale(chat.id, chat.version):
                return False
            self.versions[chat.id] = chat.version
        if chat.strategy and self.strategy.get(chat.queue) != chat.strategy:
            self.strategy[chat.queue] = chat.strategy
            for _, aid in list(self.agent_queues.get(chat.queue, ())):
                self._rescore(aid)
        current = self.holders.get(chat.id)
        if chat.state == "gone":
            self._unqueue(chat.id)
            self._release(chat.id)
            if chat.version is not None:
                self.gone.pop(chat.id, None)
                self.gone[chat.id] = now_ms
                self._forget_gone(now_ms)
            return True
        if chat.state == "held":
            self._unqueue(chat.id)
            if current != chat.holder:
                self._hold(chat.id, chat.holder, CONFIRMED)
                self._rescore(chat.holder)
            return True
        if current is not None:
            claimed = self.held.get(current, {}).get(chat.id)
            if current == from_agent or claimed is None or unconfirmed(claimed, now_ms):
                self._release(chat.id)
            else:
                return False  # a decision newer than this reading of the database holds it
        self._unqueue(chat.id)
        if chat.strategy == "manual":
            return True
        sticky = chat.sticky_agent
        a = self.agents.get(sticky) if sticky is not None else None
        if a is None or not a.available or chat.sticky_until_ms <= now_ms or chat.queue not in a.queues:
            sticky = None
        self.chats[chat.id] = _MChat(chat.queue, chat.order, sticky, chat.sticky_until_ms, chat.declined)
        if sticky is not None:
            self.sticky.setdefault(sticky, SortedList()).add((chat.order, chat.id))
            self.sticky_due.add((chat.sticky_until_ms, chat.id))
        else:
            self.queues.setdefault(chat.queue, SortedList()).add((chat.order, chat.id))
        return True

    async def decide(self, now_ms: int) -> tuple[int, int] | None:
        while self.sticky_due and self.sticky_due[0][0] <= now_ms:
            self._to_queue(self.sticky_due[0][1])
        best: tuple[int, int] | None = None
        best_agent: int | None = None
        best_queue: str | None = None
        for aid, chats in self.sticky.items():
            a = self.agents[aid]
            if a.available and len(self.held.get(aid, ())) < a.capacity and (best is None or chats[0] < best):
                best, best_agent, best_queue = chats[0], aid, None
        for q, chats in self.queues.items():
            if chats and self.agent_queues.get(q) and (best is None or chats[0] < best):
                best, best_agent, best_queue = chats[0], None, q
        if best is None:
            return None
        cid = best[1]
        if best_queue is not None:
            declined = self.chats[cid].declined
            ranked = self.agent_queues[best_queue]
            best_agent = next((aid for _, aid in ranked if aid not in declined), ranked[0][1])
        self._unqueue(cid)
        self._hold(cid, best_agent, now_ms)
        self.agents[best_agent].last = now_ms
        self._rescore(best_agent)
        return cid, best_agent

    async def claim(self, chat_id: int, agent_id: int, now_ms: int) -> str:
        current = self.holders.get(chat_id)
        if current == agent_id:
            return "ok"
        if current is not None:
            return "taken"
        a = self.agents.get(agent_id)
        if a is None or len(self.held.get(agent_id, ())) >= a.capacity:
            return "full"
        self._unqueue(chat_id)
        self._hold(chat_id, agent_id, now_ms)
        self._rescore(agent_id)
        return "ok"

    async def take(self, chat_id: int, agent_id: int, now_ms: int, *, expect: int | None = None,
                   force: bool = False, release: int | None = None) -> str:
        current = self.holders.get(chat_id)
        if current is not None and current not in (agent_id, expect):
            return "taken"
        if current != agent_id and not force:
            a = self.agents.get(agent_id)
            if a is None or not a.available:
                return "unavailable"
            load = len(self.held.get(agent_id, ())) - (1 if release is not None
                                                       and self.holders.get(release) == agent_id else 0)
            if load >= a.capacity:
                return "full"
        if current != agent_id:
            self._unqueue(chat_id)
            self._hold(chat_id, agent_id, now_ms)
        if release is not None and self.holders.get(release) == agent_id:
            self._release(release)
        self._rescore(agent_id)
        return "ok"

    async def load(self, agent_id: int) -> int:
        return len(self.held.get(agent_id, ()))

    async def digests(self, agent_ids: list[int]) -> dict[int, str | None]:
        return {i: (self.agents[i].digest if i in self.agents else None) for i in agent_ids}

    async def known_agents(self) -> set[int]:
        return {i for i, a in self.agents.items() if a.available or self.held.get(i)}

    async def holds(self, agent_ids: list[int]) -> dict[int, dict[int, int]]:
        """What each agent holds: {agent: {chat: claimed at ms}}."""
        return {i: dict(self.held.get(i, {})) for i in agent_ids}

    async def waiting(self) -> set[int]:
        return set(self.chats)

    async def holder(self, chat_id: int) -> int | None:
        return self.holders.get(chat_id)


# --- Redis --------------------------------------------------------------------------------------

# Keys under the prefix P: strategy (hash queue → strategy); a:<agent> (hash); agents (set);
# held:<agent> (zset chat → claimed at); holder (hash chat → agent); c:<chat> (hash); chats (set);
# q:<queue> (zset chat → order); qs (set of queues with chats); aq:<queue> (zset agent → score);
# sticky:<agent> (zset chat → order); sticky_due (zset chat → until); sticky_agents (set);
# ver (hash chat → newest version applied); gone (zset chat → when it went, to forget its version).
# Members are zero-padded ids, so that ties sort by id as in the in-memory store.
_LUA_COMMON = r"""
local P = ARGV[1]
local NOW = tonumber(ARGV[2])
local SCALE = 1e13
local GRACE = 15000
local function pad(id) return string.format('%012d', tonumber(id)) end
local function num(s) return tonumber(s) or 0 end
-- A hold the database does not confirm may go once its claim is not within GRACE of now (`unconfirmed`).
local function unconfirmed(claimed) return math.abs(NOW - tonumber(claimed)) > GRACE end

local function score(aid, a, held, q)
  local idle = math.max(num(a[3]), num(a[4]))
  local s = redis.call('HGET', P .. 'strategy', q) or 'longest_idle'
  if s == 'least_busy' then return held * SCALE + idle end
  if s == 'round_robin' then return num(a[4]) end
  if s == 'skills' then
    local lvl = tonumber(string.match(',' .. (a[6] or '') .. ',', ',' .. q .. '=(%-?%d+),')) or 0
    return -lvl * SCALE + idle
  end
  return idle
end

local function rescore(aid)
  local a = redis.call('HMGET', P .. 'a:' .. aid, 'av', 'cap', 'idle', 'last', 'qs', 'sk')
  if not a[1] then return end
  local held = redis.call('ZCARD', P .. 'held:' .. aid)
  local room = a[1] == '1' and held < num(a[2])
  for q in string.gmatch(a[5] or '', '[^,]+') do
    if room then
      redis.call('ZADD', P .. 'aq:' .. q, string.format('%.0f', score(aid, a, held, q)), pad(aid))
    else
      redis.call('ZREM', P .. 'aq:' .. q, pad(aid))
    end
  end
end

local function unqueue(cid)
  local c = redis.call('HMGET', P .. 'c:' .. cid, 'q', 'st')
  if not c[1] then return end
  if c[2] and c[2] ~= '' then
    redis.call('ZREM', P .. 'sticky:' .. c[2], cid)
    if redis.call('ZCARD', P .. 'sticky:' .. c[2]) == 0 then redis.call('SREM', P .. 'sticky_agents', c[2]) end
    redis.call('ZREM', P .. 'sticky_due', cid)
  else
    redis.call('ZREM', P .. 'q:' .. c[1], cid)
  end
  redis.call('DEL', P .. 'c:' .. cid)
  redis.call('SREM', P .. 'chats', cid)
end

local function to_queue(cid)
  local c = redis.call('HMGET', P .. 'c:' .. cid, 'q', 'o', 'st')
  if c[3] and c[3] ~= '' then
    redis.call('ZREM', P .. 'sticky:' .. c[3], cid)
    if redis.call('ZCARD', P .. 'sticky:' .. c[3]) == 0 then redis.call('SREM', P .. 'sticky_agents', c[3]) end
    redis.call('HDEL', P .. 'c:' .. cid, 'st')
  end
  redis.call('ZREM', P .. 'sticky_due', cid)
  redis.call('ZADD', P .. 'q:' .. c[1], c[2], cid)
  redis.call('SADD', P .. 'qs', c[1])
end

local function release(cid)
  local aid = redis.call('HGET', P .. 'holder', cid)
  if aid then
    redis.call('ZREM', P .. 'held:' .. aid, cid)
    redis.call('HDEL', P .. 'holder', cid)
    rescore(aid)
  end
end

local function hold(cid, aid, at)
  local previous = redis.call('HGET', P .. 'holder', cid)
  if previous and previous ~= aid then
    redis.call('ZREM', P .. 'held:' .. previous, cid)
    rescore(previous)
  end
  redis.call('HSET', P .. 'holder', cid, aid)
  redis.call('ZADD', P .. 'held:' .. aid, at or NOW, cid)
end

-- A reading of the chat older than one already applied (`version`: '' or nil when unknown).
local function stale(cid, version)
  if not version or version == '' then return false end
  local known = redis.call('HGET', P .. 'ver', cid)
  return known and tonumber(version) < tonumber(known)
end
"""

# ARGV: P, now, agent, available, capacity, idle, last, queues (csv), skills (q=level csv), held (csv), digest,
# versions of the held chats (chat=version csv)
_PUT_AGENT = _LUA_COMMON + r"""
local aid = ARGV[3]
local key = P .. 'a:' .. aid
local old = redis.call('HMGET', key, 'qs', 'idle', 'last')
local newq = {}
for q in string.gmatch(ARGV[8], '[^,]+') do newq[q] = true end
for q in string.gmatch(old[1] or '', '[^,]+') do
  if not newq[q] then redis.call('ZREM', P .. 'aq:' .. q, pad(aid)) end
end
redis.call('HSET', key, 'av', ARGV[4], 'cap', ARGV[5],
  'idle', string.format('%.0f', math.max(num(old[2]), num(ARGV[6]))),
  'last', string.format('%.0f', math.max(num(old[3]), num(ARGV[7]))),
  'qs', ARGV[8], 'sk', ARGV[9], 'dg', ARGV[11])
if ARGV[4] == '1' then redis.call('SADD', P .. 'agents', aid) else redis.call('SREM', P .. 'agents', aid) end
local indb = {}
for id in string.gmatch(ARGV[10], '[^,]+') do indb[pad(id)] = true end
local mine = redis.call('ZRANGE', P .. 'held:' .. aid, 0, -1, 'WITHSCORES')
for i = 1, #mine, 2 do
  local cid = mine[i]
  if not indb[cid] and unconfirmed(mine[i + 1]) then
    redis.call('ZREM', P .. 'held:' .. aid, cid)
    if redis.call('HGET', P .. 'holder', cid) == aid then redis.call('HDEL', P .. 'holder', cid) end
  end
end
local versions = {}
for id, v in string.gmatch(ARGV[12] or '', '(%-?%d+)=(%d+)') do versions[pad(id)] = v end
for cid, _ in pairs(indb) do
  if redis.call('HGET', P .. 'holder', cid) ~= aid and not stale(cid, versions[cid]) then
    unqueue(cid)
    hold(cid, aid, 0)
  end
end
if ARGV[4] ~= '1' then
  for _, cid in ipairs(redis.call('ZRANGE', P .. 'sticky:' .. aid, 0, -1)) do to_queue(cid) end
end
rescore(aid)
return 1
"""

# ARGV: P, now, chat, state, queue, order, strategy, sticky agent, sticky until, declined (,a,b,), holder, from,
# version ('' when unknown), how long a gone chat's version is remembered (ms)
_PUT_CHAT = _LUA_COMMON + r"""
local cid = pad(ARGV[3])
local state, q, strategy = ARGV[4], ARGV[5], ARGV[7]
local version = ARGV[13]
if version ~= '' then
  if stale(cid, version) then return 0 end
  redis.call('HSET', P .. 'ver', cid, version)
end
if strategy ~= '' and redis.call('HGET', P .. 'strategy', q) ~= strategy then
  redis.call('HSET', P .. 'strategy', q, strategy)
  for _, m in ipairs(redis.call('ZRANGE', P .. 'aq:' .. q, 0, -1)) do rescore(tostring(tonumber(m))) end
end
local current = redis.call('HGET', P .. 'holder', cid)
if state == 'gone' then
  unqueue(cid)
  release(cid)
  if version ~= '' then
    redis.call('ZADD', P .. 'gone', NOW, cid)
    for _, old in ipairs(redis.call('ZRANGEBYSCORE', P .. 'gone', '-inf', NOW - tonumber(ARGV[14]), 'LIMIT', 0, 100)) do
      redis.call('ZREM', P .. 'gone', old)
      if not redis.call('HGET', P .. 'holder', old) and redis.call('SISMEMBER', P .. 'chats', old) == 0 then
        redis.call('HDEL', P .. 'ver', old)
      end
    end
  end
  return 1
end
if state == 'held' then
  unqueue(cid)
  if current ~= ARGV[11] then
    hold(cid, ARGV[11], 0)
    rescore(ARGV[11])
  end
  return 1
end
if current then
  local claimed = redis.call('ZSCORE', P .. 'held:' .. current, cid)
  if current == ARGV[12] or not claimed or unconfirmed(claimed) then
    release(cid)
  else
    return 0
  end
end
unqueue(cid)
if strategy == 'manual' then return 1 end
local sticky = ARGV[8]
local until_ms = num(ARGV[9])
if sticky ~= '' then
  local a = redis.call('HMGET', P .. 'a:' .. sticky, 'av', 'qs')
  if a[1] ~= '1' or until_ms <= NOW or not string.find(',' .. (a[2] or '') .. ',', ',' .. q .. ',', 1, true) then
    sticky = ''
  end
end
redis.call('HSET', P .. 'c:' .. cid, 'q', q, 'o', ARGV[6], 'dc', ARGV[10], 'st', sticky)
redis.call('SADD', P .. 'chats', cid)
if sticky ~= '' then
  redis.call('ZADD', P .. 'sticky:' .. sticky, ARGV[6], cid)
  redis.call('ZADD', P .. 'sticky_due', ARGV[9], cid)
  redis.call('SADD', P .. 'sticky_agents', sticky)
else
  redis.call('ZADD', P .. 'q:' .. q, ARGV[6], cid)
  redis.call('SADD', P .. 'qs', q)
end
return 1
"""

_DECIDE = _LUA_COMMON + r"""
for _, cid in ipairs(redis.call('ZRANGEBYSCORE', P .. 'sticky_due', '-inf', NOW)) do to_queue(cid) end
local best, best_score, best_agent, best_q = nil, nil, nil, nil
local function better(cid, s)
  s = tonumber(s)
  return best == nil or s < best_score or (s == best_score and cid < best)
end
for _, aid in ipairs(redis.call('SMEMBERS', P .. 'sticky_agents')) do
  local a = redis.call('HMGET', P .. 'a:' .. aid, 'av', 'cap')
  if a[1] == '1' and redis.call('ZCARD', P .. 'held:' .. aid) < num(a[2]) then
    local h = redis.call('ZRANGE', P .. 'sticky:' .. aid, 0, 0, 'WITHSCORES')
    if h[1] and better(h[1], h[2]) then best, best_score, best_agent, best_q = h[1], tonumber(h[2]), aid, nil end
  end
end
for _, q in ipairs(redis.call('SMEMBERS', P .. 'qs')) do
  local h = redis.call('ZRANGE', P .. 'q:' .. q, 0, 0, 'WITHSCORES')
  if not h[1] then
    redis.call('SREM', P .. 'qs', q)
  elseif redis.call('ZCARD', P .. 'aq:' .. q) > 0 and better(h[1], h[2]) then
    best, best_score, best_agent, best_q = h[1], tonumber(h[2]), nil, q
  end
end
if not best then return false end
if best_q then
  local dc = redis.call('HGET', P .. 'c:' .. best, 'dc') or ''
  local first, offset = nil, 0
  while not best_agent do
    local page = redis.call('ZRANGE', P .. 'aq:' .. best_q, offset, offset + 15)
    if #page == 0 then break end
    for _, m in ipairs(page) do
      local aid = tostring(tonumber(m))
      first = first or aid
      if not string.find(dc, ',' .. aid .. ',', 1, true) then best_agent = aid break end
    end
    offset = offset + 16
  end
  best_agent = best_agent or first
end
unqueue(best)
hold(best, best_agent)
redis.call('HSET', P .. 'a:' .. best_agent, 'last', string.format('%.0f', NOW))
rescore(best_agent)
return {tonumber(best), tonumber(best_agent)}
"""

# ARGV: P, now, chat, agent
_CLAIM = _LUA_COMMON + r"""
local cid, aid = pad(ARGV[3]), ARGV[4]
local current = redis.call('HGET', P .. 'holder', cid)
if current == aid then return 'ok' end
if current then return 'taken' end
local cap = redis.call('HGET', P .. 'a:' .. aid, 'cap')
if not cap or redis.call('ZCARD', P .. 'held:' .. aid) >= tonumber(cap) then return 'full' end
unqueue(cid)
hold(cid, aid)
rescore(aid)
return 'ok'
"""

# ARGV: P, now, chat, agent, expect ('' none), force ('1'/'0'), release ('' none). See `take`.
_TAKE = _LUA_COMMON + r"""
local cid, aid = pad(ARGV[3]), ARGV[4]
local expect = ARGV[5] ~= '' and ARGV[5] or nil
local rel = ARGV[7] ~= '' and pad(ARGV[7]) or nil
local current = redis.call('HGET', P .. 'holder', cid)
if current and current ~= aid and current ~= expect then return 'taken' end
if current ~= aid and ARGV[6] ~= '1' then
  local a = redis.call('HMGET', P .. 'a:' .. aid, 'av', 'cap')
  if a[1] ~= '1' then return 'unavailable' end
  local held = redis.call('ZCARD', P .. 'held:' .. aid)
  if rel and redis.call('HGET', P .. 'holder', rel) == aid then held = held - 1 end
  if held >= num(a[2]) then return 'full' end
end
if current ~= aid then
  unqueue(cid)
  hold(cid, aid)
end
if rel and redis.call('HGET', P .. 'holder', rel) == aid then release(rel) end
rescore(aid)
return 'ok'
"""


class RedisRoutingStore:
    """The shared store: the same structures as Redis hashes, sets and sorted sets; every
    operation one Lua script, so each decision is one atomic step and one round trip."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self.prefix = prefix
        self._put_agent = redis.register_script(_PUT_AGENT)
        self._put_chat = redis.register_script(_PUT_CHAT)
        self._decide = redis.register_script(_DECIDE)
        self._claim = redis.register_script(_CLAIM)
        self._take = redis.register_script(_TAKE)

    def _args(self, now_ms: int, *rest) -> list:
        return [self.prefix, int(now_ms), *rest]

    async def put_agent(self, agent: AgentState, now_ms: int) -> None:
        await self._put_agent(args=self._args(
            now_ms, agent.id, "1" if agent.available else "0", agent.capacity, agent.idle_ms, agent.last_ms,
            ",".join(agent.queues), ",".join(f"{q}={lvl}" for q, lvl in agent.skills.items()),
            ",".join(map(str, agent.held)), agent.digest(),
            ",".join(f"{cid}={v}" for cid, v in agent.versions.items()),
        ))

    async def put_chat(self, chat: ChatState, now_ms: int, from_agent: int | None = None) -> bool:
        declined = "," + ",".join(map(str, sorted(chat.declined))) + "," if chat.declined else ""
        return bool(await self._put_chat(args=self._args(
            now_ms, chat.id, chat.state, chat.queue, chat.order, chat.strategy or "",
            chat.sticky_agent if chat.sticky_agent is not None else "", chat.sticky_until_ms, declined,
            chat.holder if chat.holder is not None else "", from_agent if from_agent is not None else "",
            chat.version if chat.version is not None else "", GONE_MEMORY_MS,
        )))

    async def decide(self, now_ms: int) -> tuple[int, int] | None:
        result = await self._decide(args=self._args(now_ms))
        return (int(result[0]), int(result[1])) if result else None

    async def claim(self, chat_id: int, agent_id: int, now_ms: int) -> str:
        result = await self._claim(args=self._args(now_ms, chat_id, agent_id))
        return result.decode() if isinstance(result, bytes) else str(result)

    async def take(self, chat_id: int, agent_id: int, now_ms: int, *, expect: int | None = None,
                   force: bool = False, release: int | None = None) -> str:
        result = await self._take(args=self._args(
            now_ms, chat_id, agent_id, expect if expect is not None else "", "1" if force else "0",
            release if release is not None else "",
        ))
        return result.decode() if isinstance(result, bytes) else str(result)

    async def load(self, agent_id: int) -> int:
        return int(await self._redis.zcard(f"{self.prefix}held:{agent_id}"))

    async def digests(self, agent_ids: list[int]) -> dict[int, str | None]:
        if not agent_ids:
            return {}
        async with self._redis.pipeline(transaction=False) as pipe:
            for aid in agent_ids:
                pipe.hget(f"{self.prefix}a:{aid}", "dg")
            values = await pipe.execute()
        return {aid: (v.decode() if v is not None else None) for aid, v in zip(agent_ids, values)}

    async def known_agents(self) -> set[int]:
        available = {int(m) for m in await self._redis.smembers(self.prefix + "agents")}
        holders = {int(v) for v in await self._redis.hvals(self.prefix + "holder")}
        return available | holders

    async def holds(self, agent_ids: list[int]) -> dict[int, dict[int, int]]:
        """What each agent holds: {agent: {chat: claimed at ms}} (one round trip)."""
        if not agent_ids:
            return {}
        async with self._redis.pipeline(transaction=False) as pipe:
            for aid in agent_ids:
                pipe.zrange(f"{self.prefix}held:{aid}", 0, -1, withscores=True)
            values = await pipe.execute()
        return {aid: {int(m): int(score) for m, score in rows} for aid, rows in zip(agent_ids, values)}

    async def waiting(self) -> set[int]:
        return {int(m) for m in await self._redis.smembers(self.prefix + "chats")}

    async def holder(self, chat_id: int) -> int | None:
        value = await self._redis.hget(self.prefix + "holder", f"{chat_id:012d}")
        return int(value) if value is not None else None
