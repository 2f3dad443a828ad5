from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from app.routing.policy import AgentSnapshot, WaitingChat, plan_assignments

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=timezone.utc)


def chat(i: int, minutes: int, department: int | None = None) -> WaitingChat:
    return WaitingChat(id=i, requested_at=T0 + timedelta(minutes=minutes), department_id=department)


def agent(i: int, load: int = 0, capacity: int = 2, status: str = "available", idle_minutes: int | None = None,
          departments: frozenset[int] = frozenset()) -> AgentSnapshot:
    idle = T0 - timedelta(minutes=idle_minutes) if idle_minutes is not None else None
    return AgentSnapshot(id=i, status=status, load=load, capacity=capacity, idle_since=idle, department_ids=departments)


def test_oldest_chat_first_to_the_only_free_agent():
    assert plan_assignments([chat(2, 5), chat(1, 1)], [agent(10, capacity=1)]) == [(1, 10)]


def test_only_available_agents_with_free_capacity():
    agents = [agent(1, status="away"), agent(2, status="offline"), agent(3, load=2, capacity=2)]
    assert plan_assignments([chat(1, 0)], agents) == []


def test_least_loaded_then_longest_idle():
    agents = [agent(1, load=1, idle_minutes=100), agent(2, load=0, idle_minutes=5), agent(3, load=0, idle_minutes=50)]
    assert plan_assignments([chat(1, 0)], agents) == [(1, 3)]
    # Chats spread out before anyone gets a second one.
    decisions = plan_assignments([chat(1, 0), chat(2, 1), chat(3, 2)], [agent(1), agent(2)])
    assert sorted(a for _, a in decisions[:2]) == [1, 2]


def test_department_chats_go_only_to_its_agents():
    agents = [agent(1, departments=frozenset({7})), agent(2, departments=frozenset({8}))]
    assert plan_assignments([chat(1, 0, department=8)], agents) == [(1, 2)]
    assert plan_assignments([chat(1, 0, department=9)], agents) == []
    assert plan_assignments([chat(1, 0, department=8)], [agent(3)]) == []  # no department: not a member


@settings(max_examples=300, deadline=None)
@given(
    chats=st.lists(st.tuples(st.integers(0, 600), st.one_of(st.none(), st.integers(1, 3))), max_size=40),
    agents=st.lists(
        st.tuples(st.sampled_from(["available", "away", "offline"]), st.integers(0, 4), st.integers(1, 4),
                  st.frozensets(st.integers(1, 3), max_size=2)),
        max_size=12,
    ),
)
def test_never_over_capacity_never_twice_never_idle_while_someone_could_take_it(chats, agents):
    waiting = [chat(i, m, d) for i, (m, d) in enumerate(chats)]
    snapshots = [agent(100 + i, load=min(load, cap), capacity=cap, status=s, departments=deps)
                 for i, (s, load, cap, deps) in enumerate(agents)]
    decisions = plan_assignments(waiting, snapshots)
    assigned_chats = [c for c, _ in decisions]
    assert len(assigned_chats) == len(set(assigned_chats))
    by_id = {a.id: a for a in snapshots}
    extra: dict[int, int] = {}
    for _, a in decisions:
        extra[a] = extra.get(a, 0) + 1
        assert by_id[a].status == "available"
    for a, n in extra.items():
        assert by_id[a].load + n <= by_id[a].capacity
    # Work conservation: a chat left waiting has no eligible agent with room left.
    for c in waiting:
        if c.id in assigned_chats:
            continue
        for a in snapshots:
            room = a.free - extra.get(a.id, 0)
            eligible = c.department_id is None or c.department_id in a.department_ids
            assert not (room > 0 and eligible)
