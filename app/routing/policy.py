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

    __slots__ = ("snap", "load", "assigned_in_pass")

    def __init__(self, snap: AgentSnapshot) -> None:
        self.snap = snap
        self.load = snap.load
        self.assigned_in_pass = 0  # order of this agent's latest assignment in this pass (0: none)

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


def _pick(strategy: str, candidates: list[_Agent], chat: WaitingChat) -> _Agent:
    if strategy == "least_busy":
        return min(candidates, key=lambda a: (a.load, a.idle_key()))
    if strategy == "round_robin":
        return min(candidates, key=_Agent.turn_key)
    if strategy == "skills":
        level = lambda a: a.snap.skills.get(chat.department_id, 0) if chat.department_id is not None else 0  # noqa: E731
        return min(candidates, key=lambda a: (-level(a), a.idle_key()))
    return min(candidates, key=_Agent.idle_key)


def plan_assignments(
    waiting: list[WaitingChat],
    agents: list[AgentSnapshot],
    strategies: Mapping[int | None, str] | None = None,
    now: datetime | None = None,
) -> list[tuple[int, int]]:
    """Return (chat id, agent id) decisions for one pass; never over an agent's capacity.

    `strategies` maps a department id (None: the general queue) to its strategy; missing ones
    use the default. `now` is needed only for sticky chats (without it, stickiness is ignored).
    """
    strategies = strategies or {}
    state = {a.id: _Agent(a) for a in agents}
    decisions: list[tuple[int, int]] = []

    def give(chat: WaitingChat, agent: _Agent) -> None:
        decisions.append((chat.id, agent.snap.id))
        agent.load += 1
        agent.assigned_in_pass = len(decisions)

    for chat in sorted(waiting, key=chat_order):
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
        candidates = [a for a in state.values() if a.free > 0 and eligible(a.snap, chat)]
        if not candidates:
            continue
        # An offer goes to the next CSR; only when everyone has declined does it come round again.
        candidates = [a for a in candidates if a.snap.id not in chat.declined_by] or candidates
        give(chat, _pick(strategy, candidates, chat))
    return decisions
