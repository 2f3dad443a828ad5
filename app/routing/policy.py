"""Pure routing policy: which waiting chat goes to which agent.

Takes plain snapshots, returns plain decisions, so it is tested without a server or a
database (tests/unit/test_routing_policy.py, with a hypothesis state machine).

Order: higher priority first, then first come, first served (request time, then id).
Each queue (department; `None` is the general queue) has a strategy:

- ``longest_idle`` (default): the Available agent idle longest — whose last chat ended (or who
  last received one) longest ago; agents who never had a chat come first.
- ``least_busy``: fewest chats held, then longest idle.
- ``round_robin``: the agent who received a chat least recently, in turn.
- ``skills``: the highest skill level for that department (levels per agent and department),
  then longest idle.
- ``manual``: never assigned automatically; CSRs pick chats from the queue themselves.

A department's chat goes only to its members; a chat without one to anyone. Capacity is each
agent's maximum of concurrent chats. A chat that CSRs declined goes to others first.
**Sticky agent**: a returning visitor's chat waits for the
CSR they last talked to until ``sticky_until``, as long as that CSR is Available (busy or not);
then it falls back to the strategy.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

STRATEGIES = ("longest_idle", "least_busy", "round_robin", "skills", "manual")
DEFAULT_STRATEGY = "longest_idle"


@dataclass(frozen=True)
class WaitingChat:
    id: int
    requested_at: datetime
    department_id: int | None = None
    priority: int = 0  # higher goes first
    sticky_agent_id: int | None = None
    sticky_until: datetime | None = None
    declined_by: frozenset[int] = frozenset()  # CSRs who declined (or missed) its offer: tried last


@dataclass(frozen=True)
class AgentSnapshot:
    id: int
    status: str
    load: int
    capacity: int
    idle_since: datetime | None = None  # last chat ended (or became available); None = never
    department_ids: frozenset[int] = frozenset()
    last_assigned_at: datetime | None = None
    skills: Mapping[int, int] = field(default_factory=dict)  # department id → level (higher is better)

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.load) if self.status == "available" else 0


def eligible(agent: AgentSnapshot, chat: WaitingChat) -> bool:
    # A chat without a department goes to anyone; a department's chat only to its members.
    return chat.department_id is None or chat.department_id in agent.department_ids


def chat_order(chat: WaitingChat) -> tuple:
    return (-chat.priority, chat.requested_at, chat.id)


class _Agent:
    """An agent's state as the pass goes on (load and turn move with each decision)."""

    __slots__ = ("snap", "load", "assigned_in_pass", "version")

    def __init__(self, snap: AgentSnapshot) -> None:
        self.snap = snap
        self.load = snap.load
        self.assigned_in_pass = 0  # order of this agent's latest assignment in this pass (0: none)
        self.version = 0  # bumped with each chat given in this pass (re-keys its heap entries)

    @property
    def free(self) -> int:
        return max(0, self.snap.capacity - self.load) if self.snap.status == "available" else 0

    def _recency(self, *moments: datetime | None) -> tuple:
        # Never = first; then the oldest moment; an assignment in this pass is newer than any.
        if self.assigned_in_pass:
            return (2, datetime.min, self.assigned_in_pass, self.snap.id)
        known = [m for m in moments if m is not None]
        return (1 if known else 0, max(known) if known else datetime.min, 0, self.snap.id)

    def idle_key(self) -> tuple:
        # Idle since the later of "last chat ended" and "last chat received".
        return self._recency(self.snap.idle_since, self.snap.last_assigned_at)

    def turn_key(self) -> tuple:
        return self._recency(self.snap.last_assigned_at)


def _key(strategy: str, agent: _Agent, department_id: int | None) -> tuple:
    """The strategy's order of agents (smallest first); it changes only when the agent gets a chat."""
    if strategy == "least_busy":
        return (agent.load, agent.idle_key())
    if strategy == "round_robin":
        return agent.turn_key()
    if strategy == "skills":
        level = agent.snap.skills.get(department_id, 0) if department_id is not None else 0
        return (-level, agent.idle_key())
    return agent.idle_key()


class _Queue:
    """The agents who can take a queue's chats, best first, as a heap with lazy updates: an
    entry whose agent got a chat since it was pushed is re-keyed when it surfaces, and an agent
    without room leaves for good (room only shrinks within a pass). Picking is O(log agents)."""

    __slots__ = ("strategy", "department_id", "heap")

    def __init__(self, strategy: str, department_id: int | None, agents: list[_Agent]) -> None:
        self.strategy = strategy
        self.department_id = department_id
        self.heap = [(_key(strategy, a, department_id), a.version, a.snap.id, a) for a in agents]
        heapq.heapify(self.heap)

    def pick(self, declined: frozenset[int]) -> _Agent | None:
        skipped = []
        chosen = None
        while self.heap:
            key, version, agent_id, agent = self.heap[0]
            if agent.free <= 0:
                heapq.heappop(self.heap)
                continue
            if version != agent.version:
                heapq.heapreplace(self.heap, (_key(self.strategy, agent, self.department_id), agent.version,
                                              agent_id, agent))
                continue
            if agent_id in declined:
                skipped.append(heapq.heappop(self.heap))
                continue
            chosen = agent
            break
        for entry in skipped:
            heapq.heappush(self.heap, entry)
        if chosen is None and skipped:
            chosen = skipped[0][3]  # everyone declined: it comes round again, best first
        return chosen


def plan_assignments(
    waiting: list[WaitingChat],
    agents: list[AgentSnapshot],
    strategies: Mapping[int | None, str] | None = None,
    now: datetime | None = None,
) -> list[tuple[int, int]]:
    """Return (chat id, agent id) decisions for one pass; never over an agent's capacity.

    `strategies` maps a department id (None: the general queue) to its strategy; missing ones
    use the default. `now` is needed only for sticky chats (without it, stickiness is ignored).
    Cost: O((chats + agents x their departments) x log agents) — not chats x agents.
    """
    strategies = strategies or {}
    state = {a.id: _Agent(a) for a in agents}
    decisions: list[tuple[int, int]] = []
    queues: dict[int | None, _Queue] = {}

    def queue(department_id: int | None, strategy: str) -> _Queue:
        q = queues.get(department_id)
        if q is None:
            members = [a for a in state.values() if a.free > 0
                       and (department_id is None or department_id in a.snap.department_ids)]
            q = queues[department_id] = _Queue(strategy, department_id, members)
        return q

    room = sum(a.free for a in state.values())

    def give(chat: WaitingChat, agent: _Agent) -> None:
        nonlocal room
        decisions.append((chat.id, agent.snap.id))
        agent.load += 1
        agent.assigned_in_pass = len(decisions)
        agent.version += 1
        room -= 1

    for chat in sorted(waiting, key=chat_order):
        if room <= 0:
            break  # nobody has room left: the rest wait for the next pass
        strategy = strategies.get(chat.department_id, DEFAULT_STRATEGY)
        if strategy == "manual":
            continue
        if chat.sticky_agent_id is not None and now is not None and chat.sticky_until is not None \
                and now < chat.sticky_until:
            sticky = state.get(chat.sticky_agent_id)
            if sticky is not None and sticky.snap.status == "available" and eligible(sticky.snap, chat):
                if sticky.free > 0:
                    give(chat, sticky)
                continue  # busy: the chat waits for them until sticky_until
        best = queue(chat.department_id, strategy).pick(chat.declined_by)
        if best is not None:
            give(chat, best)
    return decisions
