"""Routing: keep the routing store in step with the database, and apply its decisions.

The store (`app.routing.store`: in memory, or Redis when REDIS_URL is set) holds the queues and
the agents with room; a decision there is one atomic step that reserves the chat for the agent.
`app.services.routing_state` writes each change of a chat or an agent into the store from its
database row (the event log's listeners call it); this module asks the store for decisions and
applies them: an offer, or an assignment through the one assignment path
(`app.services.assignment.hand_to`). The database update is conditional (`status = 'waiting'`),
so a chat is never assigned twice; the store's capacity check is atomic, so an agent never holds
more chats than their capacity, across workers.
A periodic reconciliation repairs whatever a crashed worker left half done.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from app import loops, metrics, runtime
from app.clock import utcnow
from app.models import Conversation, Department, User, Visitor
from app.routing.store import AgentState, ChatState, unconfirmed
from app.services.routing_state import agent_states, chat_states, now_ms
from app.services import ServiceError, assignment, offers, queueinfo, routing_state, scope

log = logging.getLogger(__name__)

MAX_DECISIONS_PER_PASS = 1000
RECONCILE_EVERY_TICKS = 5


async def reconcile() -> int:
    """Bring the store in line with the database; returns how many entries were corrected.

    Every worker runs it at start-up, before it serves, and then every RECONCILE_EVERY_TICKS
    ticks — while other workers may be deciding. Each agent the database says is Available, and
    each agent the store knows, is rewritten from the database when their entry differs from it
    or their holds do (a chat the database gives them that the store does not; a hold the database
    does not confirm whose claim is outside CLAIM_GRACE_MS of now); an agent the database does
    not know at all loses their room and their unconfirmed holds. Each chat the store queues that
    the database does not say is waiting leaves the queue (also one the database does not know at
    all), and each chat waiting in the database joins it. A hold younger than the grace is never
    undone, as a live worker may have just made it: see "Following the database" in
    `app/routing/store.py`. So stale state — keys a restored backup left, a copy of another
    history, a worker that died half way — cannot keep claiming that a CSR is full."""
    store = runtime.current().routing_store
    now = now_ms()
    fixed = 0
    states = {a.id: a for a in await agent_states()}
    stale = (await store.known_agents()) - set(states)
    if stale:
        states.update({a.id: a for a in await agent_states(sorted(stale))})
        for agent_id in stale - set(states):  # no such user: no room, and no place in any queue
            states[agent_id] = AgentState(id=agent_id, available=False, capacity=0, queues=())
    ids = sorted(states)
    digests = await store.digests(ids)
    holds = await store.holds(ids)
    for agent_id, state in states.items():
        if digests.get(agent_id) != state.digest() or _holds_differ(state, holds.get(agent_id, {}), now):
            await store.put_agent(state, now_ms())
            fixed += 1
    waiting = {r["id"] for r in await Conversation.filter(status="waiting", offered_to_id=None).values("id")}
    known = await store.waiting()
    differ = sorted(waiting ^ known)
    found = await chat_states(differ)
    unknown = sorted(set(differ) - {state.id for state in found})  # queued in the store, not in the database
    for state in [*found, *(ChatState(id=i, state="gone", strategy="") for i in unknown)]:
        if await store.put_chat(state, now_ms()):
            fixed += 1
    return fixed


def _holds_differ(state: AgentState, held: dict[int, int], now: int) -> bool:
    """The store's holds of an agent ({chat: claimed at}) are not what the database says, in a way
    `put_agent` corrects: a chat of theirs missing, or a hold it does not confirm past the grace."""
    in_db = set(state.held)
    return bool(in_db - held.keys()) or any(
        chat not in in_db and unconfirmed(claimed, now) for chat, claimed in held.items())


@dataclass
class RoutingPasses:
    """This server's routing passes (on its runtime): whether one is running, whether another was
    asked for meanwhile, and the passes `schedule` started in the background."""

    running: bool = False
    again: bool = False
    background: set[asyncio.Task] = field(default_factory=set)


def _passes() -> RoutingPasses:
    return runtime.current().state(RoutingPasses)


async def request_routing() -> None:
    """Route now: run decisions until none is left (a request during a run makes it go again)."""
    passes = _passes()
    if passes.running:
        passes.again = True
        return
    passes.running = True
    try:
        while True:
            passes.again = False
            await run_pass()
            if not passes.again:
                break
        loops.succeeded("routing")  # whoever ran it: the tick, or a pass `schedule` started
    finally:
        passes.running = False


def schedule() -> None:
    """Route soon, off the caller's path: the reply to the visitor or CSR whose action made routing
    due does not wait for the decisions of everyone else who arrives meanwhile."""
    passes = _passes()
    if passes.running:
        passes.again = True
        return
    task = asyncio.get_running_loop().create_task(_route_in_background())
    passes.background.add(task)
    task.add_done_callback(passes.background.discard)


async def _route_in_background() -> None:
    try:
        await request_routing()
    except Exception:  # the next tick retries
        log.exception("routing pass failed")


async def run_pass() -> int:
    """Ask the store for decisions until it has none, and apply each to the database."""
    await offers.expire_due()
    store = runtime.current().routing_store
    decided = 0
    offer_seconds: dict[int, int] = {}
    while decided < MAX_DECISIONS_PER_PASS:
        decision = await store.decide(now_ms())
        if decision is None:
            break
        decided += 1
        conversation_id, agent_id = decision
        row = await Conversation.get_or_none(id=conversation_id).values("department_id")
        department_id = row["department_id"] if row else None
        if department_id is not None and department_id not in offer_seconds:
            offer_seconds[department_id] = (await Department.get(id=department_id).values("offer_seconds"))[
                "offer_seconds"]
        seconds = offer_seconds.get(department_id, 0) if department_id is not None else 0
        metrics.current().count_routing_decision("offer" if seconds > 0 else "assign")
        if seconds > 0:
            if not await offers.offer(conversation_id, agent_id, seconds):
                # The database says otherwise (closed, taken): the store follows it.
                await routing_state.sync_chat(conversation_id, from_agent=agent_id)
        else:
            await assign(conversation_id, agent_id)
    if decided or await Conversation.filter(status="waiting").exists():
        await queueinfo.publish()
    return decided


async def assign(conversation_id: int, agent_id: int) -> bool:
    """Apply a routing decision: the store holds the chat for the agent already. False when the
    database says otherwise (closed, taken meanwhile); the store then follows the database."""
    conversation = await Conversation.get_or_none(id=conversation_id)
    agent = await User.get_or_none(id=agent_id)
    if conversation is None or agent is None:
        await routing_state.sync_chat(conversation_id, from_agent=agent_id)
        return False
    try:
        await assignment.hand_to(conversation, agent, via=None, reserved=True)
    except ServiceError:
        return False
    return True


async def _member_of(user: User) -> set[int]:
    return {d["id"] for d in await Department.filter(users__id=user.id).values("id")}


async def queue_for(user: User) -> list[dict]:
    """The chats waiting in the queues this CSR serves (the general queue and their departments),
    in the order they will be served, with how long each has waited. A supervisor's: only the
    general queues of their own sites (app/services/scope.py)."""
    member_of = await _member_of(user)
    rows = await Conversation.filter(status="waiting").order_by("-priority", "requested_at").limit(200).values(
        "id", "requested_at", "department_id", "priority", "visitor_id", "department__name", "department__routing_strategy",
        "site_id",
    )
    visible = [r for r in rows if r["department_id"] is None or r["department_id"] in member_of]
    if user.role == "supervisor":
        reach = await scope.reach(user)
        visible = [r for r in visible if reach.covers(r["site_id"], r["department_id"])]
    names = {v["id"]: v for v in await Visitor.filter(id__in={r["visitor_id"] for r in visible}).values("id", "name")}
    now = utcnow()
    return [
        {
            "id": r["id"], "visitor_id": r["visitor_id"],
            "visitor_name": names[r["visitor_id"]]["name"] or f"Guest {r['visitor_id'][-4:]}",
            "department": r["department_id"], "department_name": r["department__name"],
            "manual": r["department__routing_strategy"] == "manual", "priority": r["priority"],
            "requested_at": r["requested_at"].isoformat(),
            "waiting_seconds": round((now - r["requested_at"]).total_seconds(), 1),
        }
        for r in visible
    ]


async def pick(user: User, conversation_id: int) -> None:
    """A CSR takes a waiting chat from a queue they serve (how manual / pooled queues work)."""
    conversation = await Conversation.get_or_none(id=conversation_id)
    if conversation is None or (conversation.department_id is not None
                                and conversation.department_id not in await _member_of(user)):
        raise ServiceError("not_found", "No such conversation.")
    if conversation.status != "waiting":
        raise ServiceError("invalid_state", "Someone else has taken this chat.")
    if conversation.offered_to_id is not None and conversation.offered_to_id != user.id:
        raise ServiceError("invalid_state", "This chat is on offer to someone else.")
    if user.status != "available":
        raise ServiceError("invalid_state", "Set yourself Available to take chats.")
    mine = conversation.offered_to_id == user.id
    try:
        # The store checks capacity and takes the place in one atomic step (their own offer holds it).
        await assignment.hand_to(conversation, user, via="offer" if mine else "pick", offered=mine, reserved=mine)
    except ServiceError as exc:
        if exc.code == "unavailable":
            raise ServiceError("unavailable", "You have no free capacity: close a chat first.") from None
        raise ServiceError("invalid_state", "Someone else has taken this chat.") from None


async def tick_forever(interval: float = 2.0, *, reconciled: bool = False) -> None:
    """Safety net: a routing pass every `interval` seconds, and a reconciliation with the
    database at once (unless the caller just `reconciled`: the server's start-up does) and every
    RECONCILE_EVERY_TICKS ticks."""
    ticks = 1 if reconciled else 0
    loops.started("routing", interval)  # /readyz: stalled without a good pass for a while
    while True:
        try:
            if ticks % RECONCILE_EVERY_TICKS == 0:
                fixed = await reconcile()
                if fixed and ticks:
                    log.info("routing store reconciled: %d corrections", fixed)
            ticks += 1
            await request_routing()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # keep ticking; the next pass retries
            loops.failed("routing", exc)
            log.exception("routing tick failed")
        await asyncio.sleep(interval)


__all__ = ["assign", "pick", "queue_for", "reconcile", "request_routing", "run_pass", "schedule", "tick_forever"]
