"""Pure routing policy: which waiting chat goes to which agent.

Takes plain snapshots, returns plain decisions, so it is tested without a server or a
database. The strategy here is the baseline every department gets: the oldest waiting chat
goes first, to the Available agent with free capacity who has been idle longest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class WaitingChat:
    id: int
    requested_at: datetime
    department_id: int | None = None


@dataclass(frozen=True)
class AgentSnapshot:
    id: int
    status: str
    load: int
    capacity: int
    idle_since: datetime | None = None  # last chat ended (or became available); None = never
    department_ids: frozenset[int] = frozenset()

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.load) if self.status == "available" else 0


def _eligible(agent: AgentSnapshot, chat: WaitingChat) -> bool:
    # A chat without a department goes to anyone; a department's chat only to its members.
    return chat.department_id is None or chat.department_id in agent.department_ids


def _idle_key(agent: AgentSnapshot) -> tuple:
    # Never-used agents first, then the longest idle; id keeps it deterministic.
    return (agent.idle_since is not None, agent.idle_since or datetime.min, agent.id)


def plan_assignments(waiting: list[WaitingChat], agents: list[AgentSnapshot]) -> list[tuple[int, int]]:
    """Return (chat id, agent id) pairs: oldest chat first, never over an agent's capacity."""
    free = {a.id: a.free for a in agents}
    loads = {a.id: a.load for a in agents}
    by_id = {a.id: a for a in agents}
    decisions: list[tuple[int, int]] = []
    for chat in sorted(waiting, key=lambda c: (c.requested_at, c.id)):
        candidates = [by_id[i] for i, f in free.items() if f > 0 and _eligible(by_id[i], chat)]
        if not candidates:
            continue
        # Least loaded first keeps chats spread out; among equals, the longest idle.
        best = min(candidates, key=lambda a: (loads[a.id], _idle_key(a)))
        decisions.append((chat.id, best.id))
        free[best.id] -= 1
        loads[best.id] += 1
    return decisions
