from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from app.routing.policy import STRATEGIES, AgentSnapshot, WaitingChat, eligible, plan_assignments

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=timezone.utc)


def chat(i: int, minutes: int, department: int | None = None, priority: int = 0, sticky: int | None = None,
         sticky_minutes: int = 0) -> WaitingChat:
    return WaitingChat(id=i, requested_at=T0 + timedelta(minutes=minutes), department_id=department, priority=priority,
                       sticky_agent_id=sticky, sticky_until=T0 + timedelta(minutes=sticky_minutes) if sticky else None)


def agent(i: int, load: int = 0, capacity: int = 2, status: str = "available", idle_minutes: int | None = None,
          departments: frozenset[int] = frozenset(), assigned_minutes: int | None = None,
          skills: dict | None = None) -> AgentSnapshot:
    idle = T0 - timedelta(minutes=idle_minutes) if idle_minutes is not None else None
    last = T0 - timedelta(minutes=assigned_minutes) if assigned_minutes is not None else None
    return AgentSnapshot(id=i, status=status, load=load, capacity=capacity, idle_since=idle, department_ids=departments,
                         last_assigned_at=last, skills=skills or {})


def test_oldest_chat_first_to_the_only_free_agent():
    assert plan_assignments([chat(2, 5), chat(1, 1)], [agent(10, capacity=1)]) == [(1, 10)]


def test_only_available_agents_with_free_capacity():
    agents = [agent(1, status="away"), agent(2, status="offline"), agent(3, load=2, capacity=2)]
    assert plan_assignments([chat(1, 0)], agents) == []


def test_longest_idle_is_the_default():
    agents = [agent(1, load=1, idle_minutes=100), agent(2, load=0, idle_minutes=5), agent(3, load=0, idle_minutes=50)]
    assert plan_assignments([chat(1, 0)], agents) == [(1, 1)]
    # Someone who never had a chat is the idlest of all.
    assert plan_assignments([chat(1, 0)], agents + [agent(4)]) == [(1, 4)]
    # Receiving a chat ends one's idle time, so a burst spreads out.
    decisions = plan_assignments([chat(1, 0), chat(2, 1), chat(3, 2)], [agent(1, idle_minutes=9), agent(2, idle_minutes=3)])
    assert decisions == [(1, 1), (2, 2), (3, 1)]


def test_least_busy():
    agents = [agent(1, load=1, idle_minutes=100), agent(2, load=0, idle_minutes=5), agent(3, load=0, idle_minutes=50)]
    assert plan_assignments([chat(1, 0)], agents, {None: "least_busy"}) == [(1, 3)]
    decisions = plan_assignments([chat(1, 0), chat(2, 1), chat(3, 2)], agents, {None: "least_busy"})
    assert decisions == [(1, 3), (2, 2), (3, 1)]


def test_round_robin_takes_turns_whatever_the_load():
    agents = [agent(1, load=1, assigned_minutes=1), agent(2, load=0, assigned_minutes=30), agent(3, assigned_minutes=10)]
    decisions = plan_assignments([chat(i, i) for i in range(1, 5)], agents, {None: "round_robin"})
    assert decisions == [(1, 2), (2, 3), (3, 1), (4, 2)]


def test_skills_prefer_the_best_level_that_is_free():
    skilled = dict(departments=frozenset({7}))
    agents = [agent(1, skills={7: 1}, idle_minutes=90, **skilled), agent(2, skills={7: 3}, load=1, **skilled),
              agent(3, skills={7: 3}, load=2, capacity=2, **skilled)]
    assert plan_assignments([chat(1, 0, department=7)], agents, {7: "skills"}) == [(1, 2)]
    # When the best are full, the next level takes it.
    full = [agent(2, skills={7: 3}, load=2, capacity=2, **skilled), agents[0]]
    assert plan_assignments([chat(1, 0, department=7)], full, {7: "skills"}) == [(1, 1)]


def test_manual_queues_are_never_assigned_automatically():
    agents = [agent(1, departments=frozenset({7}))]
    assert plan_assignments([chat(1, 0, department=7), chat(2, 1)], agents, {7: "manual"}) == [(2, 1)]


def test_priority_first_then_first_come_first_served():
    waiting = [chat(1, 0), chat(2, 5, priority=10), chat(3, 1), chat(4, 9, priority=10)]
    assert [c for c, _ in plan_assignments(waiting, [agent(1, capacity=3)])] == [2, 4, 1]


def test_department_chats_go_only_to_its_agents():
    agents = [agent(1, departments=frozenset({7})), agent(2, departments=frozenset({8}))]
    assert plan_assignments([chat(1, 0, department=8)], agents) == [(1, 2)]
    assert plan_assignments([chat(1, 0, department=9)], agents) == []
    assert plan_assignments([chat(1, 0, department=8)], [agent(3)]) == []  # no department: not a member


def test_sticky_chat_waits_for_its_agent_then_falls_back():
    agents = [agent(1, load=2, capacity=2), agent(2)]
    sticky = chat(5, 0, sticky=1, sticky_minutes=1)
    # Within the window: held for agent 1, who is busy; others do not get it.
    assert plan_assignments([sticky], agents, now=T0) == []
    # Free within the window: theirs.
    assert plan_assignments([sticky], [agent(1, load=1, capacity=2), agent(2)], now=T0) == [(5, 1)]
    # Window over: the strategy decides.
    assert plan_assignments([sticky], agents, now=T0 + timedelta(minutes=2)) == [(5, 2)]
    # The sticky agent is not Available: no reason to wait.
    assert plan_assignments([sticky], [agent(1, status="away"), agent(2)], now=T0) == [(5, 2)]


@settings(max_examples=300, deadline=None)
@given(
    chats=st.lists(st.tuples(st.integers(0, 600), st.one_of(st.none(), st.integers(1, 3)), st.integers(0, 2)),
                   max_size=40),
    agents=st.lists(
        st.tuples(st.sampled_from(["available", "away", "offline"]), st.integers(0, 4), st.integers(1, 4),
                  st.frozensets(st.integers(1, 3), max_size=2)),
        max_size=12,
    ),
    strategy=st.sampled_from([s for s in STRATEGIES if s != "manual"]),
)
def test_never_over_capacity_never_twice_never_idle_while_someone_could_take_it(chats, agents, strategy):
    waiting = [chat(i, m, d, priority=p) for i, (m, d, p) in enumerate(chats)]
    snapshots = [agent(100 + i, load=min(load, cap), capacity=cap, status=s, departments=deps,
                       skills={d: (i % 3) + 1 for d in deps})
                 for i, (s, load, cap, deps) in enumerate(agents)]
    strategies = {d: strategy for d in (None, 1, 2, 3)}
    decisions = plan_assignments(waiting, snapshots, strategies)
    check_decisions(waiting, snapshots, decisions, strategies, now=None)


def check_decisions(waiting, snapshots, decisions, strategies, now):
    assigned_chats = [c for c, _ in decisions]
    assert len(assigned_chats) == len(set(assigned_chats)), "a chat assigned twice"
    by_id = {a.id: a for a in snapshots}
    chats = {c.id: c for c in waiting}
    extra: dict[int, int] = {}
    for c, a in decisions:
        extra[a] = extra.get(a, 0) + 1
        assert by_id[a].status == "available"
        assert eligible(by_id[a], chats[c]), "a chat went outside its department"
        assert strategies.get(chats[c].department_id) != "manual"
    for a, n in extra.items():
        assert by_id[a].load + n <= by_id[a].capacity, "over capacity"
    # Work conservation: a chat left waiting has no eligible agent with room left (unless it is
    # in a manual queue or held for its sticky agent).
    for c in waiting:
        if c.id in assigned_chats or strategies.get(c.department_id) == "manual":
            continue
        if c.sticky_agent_id is not None and now is not None and c.sticky_until and now < c.sticky_until \
                and c.sticky_agent_id in by_id and by_id[c.sticky_agent_id].status == "available" \
                and eligible(by_id[c.sticky_agent_id], c):
            continue
        for a in snapshots:
            room = a.free - extra.get(a.id, 0)
            assert not (room > 0 and eligible(a, c)), "a chat waits while an eligible agent has room"


class RoutingMachine(RuleBasedStateMachine):
    """Agents come and go, chats arrive and end, passes run: the invariants hold throughout."""

    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.agents: dict[int, dict] = {}
        self.waiting: dict[int, WaitingChat] = {}
        self.holding: dict[int, int] = {}  # chat → agent
        self.next_id = 1
        self.strategies: dict[int | None, str] = {}

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    @rule(strategy=st.sampled_from(STRATEGIES), department=st.sampled_from([None, 1, 2]))
    def set_strategy(self, strategy, department):
        self.strategies[department] = strategy

    @rule(capacity=st.integers(1, 3), departments=st.frozensets(st.integers(1, 2), max_size=2),
          level=st.integers(1, 3))
    def agent_signs_in(self, capacity, departments, level):
        self.agents[self._id()] = {"status": "available", "capacity": capacity, "departments": departments,
                                   "idle_since": self.now, "last_assigned": None,
                                   "skills": {d: level for d in departments}}

    @precondition(lambda self: self.agents)
    @rule(data=st.data(), status=st.sampled_from(["available", "away", "offline"]))
    def agent_changes_state(self, data, status):
        agent_id = data.draw(st.sampled_from(sorted(self.agents)))
        self.agents[agent_id]["status"] = status

    @rule(department=st.sampled_from([None, 1, 2]), priority=st.integers(0, 2), data=st.data())
    def chat_arrives(self, department, priority, data):
        sticky = None
        if self.agents and data.draw(st.booleans()):
            sticky = data.draw(st.sampled_from(sorted(self.agents)))
        cid = self._id()
        self.waiting[cid] = WaitingChat(id=cid, requested_at=self.now, department_id=department, priority=priority,
                                        sticky_agent_id=sticky,
                                        sticky_until=self.now + timedelta(seconds=30) if sticky else None)

    @precondition(lambda self: self.holding)
    @rule(data=st.data())
    def chat_ends(self, data):
        cid = data.draw(st.sampled_from(sorted(self.holding)))
        agent_id = self.holding.pop(cid)
        self.agents[agent_id]["idle_since"] = self.now

    @rule(seconds=st.integers(1, 40))
    def time_passes(self, seconds):
        self.now += timedelta(seconds=seconds)

    def snapshots(self) -> list[AgentSnapshot]:
        loads: dict[int, int] = {}
        for agent_id in self.holding.values():
            loads[agent_id] = loads.get(agent_id, 0) + 1
        return [AgentSnapshot(id=i, status=a["status"], load=loads.get(i, 0), capacity=a["capacity"],
                              idle_since=a["idle_since"], department_ids=a["departments"],
                              last_assigned_at=a["last_assigned"], skills=a["skills"])
                for i, a in self.agents.items()]

    @rule()
    def routing_pass(self):
        snapshots = self.snapshots()
        waiting = list(self.waiting.values())
        decisions = plan_assignments(waiting, snapshots, self.strategies, now=self.now)
        check_decisions(waiting, snapshots, decisions, self.strategies, now=self.now)
        for cid, agent_id in decisions:
            del self.waiting[cid]
            self.holding[cid] = agent_id
            self.agents[agent_id]["last_assigned"] = self.now

    @invariant()
    def never_over_capacity(self):
        # Agents who went Away keep their chats, but nobody ever holds more than their capacity.
        for snap in self.snapshots():
            assert snap.load <= snap.capacity

    @invariant()
    def a_chat_is_in_one_place(self):
        assert not set(self.waiting) & set(self.holding)


TestRoutingMachine = RoutingMachine.TestCase
TestRoutingMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)


def test_declined_chats_go_to_someone_else_first_then_round_again():
    declined = WaitingChat(id=1, requested_at=T0, declined_by=frozenset({1}))
    assert plan_assignments([declined], [agent(1, idle_minutes=99), agent(2, idle_minutes=1)]) == [(1, 2)]
    assert plan_assignments([declined], [agent(1), agent(2, status="away")]) == [(1, 1)]


def reference_plan(waiting, agents, strategies, now):
    """The policy written the obvious way (every candidate looked at for every chat): the oracle
    the heap-based `plan_assignments` must agree with, decision for decision."""
    from app.routing.policy import DEFAULT_STRATEGY, _Agent, _key, chat_order

    state = {a.id: _Agent(a) for a in agents}
    decisions = []
    for chat in sorted(waiting, key=chat_order):
        strategy = strategies.get(chat.department_id, DEFAULT_STRATEGY)
        if strategy == "manual":
            continue
        if chat.sticky_agent_id is not None and now is not None and chat.sticky_until and now < chat.sticky_until:
            sticky = state.get(chat.sticky_agent_id)
            if sticky is not None and sticky.snap.status == "available" and eligible(sticky.snap, chat):
                if sticky.free > 0:
                    decisions.append((chat.id, sticky.snap.id))
                    sticky.load += 1
                    sticky.assigned_in_pass = len(decisions)
                continue
        candidates = [a for a in state.values() if a.free > 0 and eligible(a.snap, chat)]
        candidates = [a for a in candidates if a.snap.id not in chat.declined_by] or candidates
        if candidates:
            best = min(candidates, key=lambda a: (_key(strategy, a, chat.department_id), a.snap.id))
            decisions.append((chat.id, best.snap.id))
            best.load += 1
            best.assigned_in_pass = len(decisions)
    return decisions


@settings(max_examples=400, deadline=None)
@given(
    chats=st.lists(st.tuples(st.integers(0, 60), st.one_of(st.none(), st.integers(1, 3)), st.integers(0, 2),
                             st.one_of(st.none(), st.integers(100, 108)), st.frozensets(st.integers(100, 108), max_size=3)),
                   max_size=30),
    agents=st.lists(
        st.tuples(st.sampled_from(["available", "available", "away"]), st.integers(0, 3), st.integers(1, 3),
                  st.frozensets(st.integers(1, 3), max_size=3), st.one_of(st.none(), st.integers(0, 50)),
                  st.one_of(st.none(), st.integers(0, 50))),
        max_size=9,
    ),
    strategies=st.dictionaries(st.sampled_from([None, 1, 2, 3]), st.sampled_from(STRATEGIES)),
)
def test_the_heap_policy_decides_exactly_like_the_obvious_one(chats, agents, strategies):
    waiting = [WaitingChat(id=i, requested_at=T0 + timedelta(minutes=m), department_id=d, priority=p,
                           sticky_agent_id=s, sticky_until=T0 + timedelta(minutes=30) if s else None, declined_by=dec)
               for i, (m, d, p, s, dec) in enumerate(chats)]
    snapshots = [agent(100 + i, load=min(load, cap), capacity=cap, status=st_, departments=deps, idle_minutes=idle,
                       assigned_minutes=turn, skills={d: (i % 3) + 1 for d in deps})
                 for i, (st_, load, cap, deps, idle, turn) in enumerate(agents)]
    now = T0 + timedelta(minutes=10)
    assert plan_assignments(waiting, snapshots, strategies, now=now) == reference_plan(waiting, snapshots, strategies, now)
