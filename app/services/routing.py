"""Routing: keep the routing store in step with the database, and apply its decisions.

The store (`app.routing.store`: in memory, or Redis when REDIS_URL is set) holds the queues and
the agents with room; a decision there is one atomic step that reserves the chat for the agent.
This module writes each change of a chat or an agent into the store from its database row
(`sync_chat`, `sync_agent` — called from the event log, see `app.services.events`), asks the
store for decisions and applies them to the database: an assignment, or an offer. The database
update is conditional (`status = 'waiting'`), so a chat is never assigned twice; the store's
capacity check is atomic, so an agent never holds more chats than their capacity, across workers.
A periodic reconciliation repairs whatever a crashed worker left half done.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from app import runtime
from app.clock import utcnow
from app.models import Conversation, Department, Site, User, Visitor
from app import bus
from app.routing.store import GENERAL, AgentState, ChatState, chat_order, queue_id
from app.services import ServiceError, events, offers, queueinfo, serialize

log = logging.getLogger(__name__)

DEFAULT_CAPACITY = 3
MAX_DECISIONS_PER_PASS = 1000
RECONCILE_EVERY_TICKS = 5


def ms(moment: datetime | None) -> int:
    return int(moment.timestamp() * 1000) if moment is not None else 0


def now_ms() -> int:
    return ms(utcnow())


def capacity(max_chats: int | None, department_defaults: list[int | None]) -> int:
    """A CSR's own capacity, else the largest default of their departments, else 3."""
    if max_chats is not None:
        return max_chats
    defaults = [d for d in department_defaults if isinstance(d, int)]
    return max(defaults) if defaults else DEFAULT_CAPACITY


async def capacities(user_ids: list[int]) -> dict[int, int]:
    users = {u["id"]: u["max_chats"] for u in await User.filter(id__in=user_ids).values("id", "max_chats")}
    defaults: dict[int, list[int | None]] = {}
    if any(v is None for v in users.values()):
        for row in await Department.filter(users__id__in=[i for i, v in users.items() if v is None]) \
                .values("users__id", "default_max_chats"):
            defaults.setdefault(row["users__id"], []).append(row["default_max_chats"])
    return {i: capacity(v, defaults.get(i, [])) for i, v in users.items()}


def _skills(raw) -> dict[int, int]:
    """Skill levels as stored ({"<department id>": level}), with anything malformed left out."""
    if not isinstance(raw, dict):
        return {}
    out = {}
    for key, level in raw.items():
        if str(key).isdigit() and isinstance(level, int) and not isinstance(level, bool):
            out[int(key)] = level
    return out


async def agent_states(agent_ids: list[int] | None = None) -> list[AgentState]:
    """Agents as the store needs them: the given ones, or every Available one and every holder."""
    query = User.filter(id__in=agent_ids) if agent_ids is not None else User.filter(status="available")
    rows = await query.values("id", "status", "is_active", "max_chats", "last_chat_ended_at", "status_changed_at",
                              "last_assigned_at", "skills")
    ids = [r["id"] for r in rows]
    held: dict[int, list[int]] = {}
    for c in await Conversation.filter(status="assigned", agent_id__in=ids).values("id", "agent_id"):
        held.setdefault(c["agent_id"], []).append(c["id"])
    for c in await Conversation.filter(status="waiting", offered_to_id__in=ids).values("id", "offered_to_id"):
        held.setdefault(c["offered_to_id"], []).append(c["id"])
    memberships: dict[int, list[dict]] = {}
    for row in await Department.filter(users__id__in=ids).values("id", "users__id", "default_max_chats"):
        memberships.setdefault(row["users__id"], []).append(row)
    states = []
    for r in rows:
        departments = sorted(memberships.get(r["id"], []), key=lambda d: d["id"])
        skills = _skills(r["skills"])
        states.append(AgentState(
            id=r["id"], available=r["status"] == "available" and r["is_active"],
            capacity=capacity(r["max_chats"], [d["default_max_chats"] for d in departments]),
            idle_ms=ms(r["last_chat_ended_at"] or r["status_changed_at"]), last_ms=ms(r["last_assigned_at"]),
            queues=(GENERAL, *(str(d["id"]) for d in departments)),
            skills={str(d): lvl for d, lvl in skills.items()}, held=tuple(sorted(held.get(r["id"], ()))),
        ))
    return states


async def chat_states(chat_ids: list[int]) -> list[ChatState]:
    rows = await Conversation.filter(id__in=chat_ids).values(
        "id", "status", "requested_at", "department_id", "priority", "sticky_agent_id", "site_id", "offered_to_id",
        "declined_by", "agent_id",
    )
    departments = {
        d["id"]: d for d in await Department.filter(id__in={r["department_id"] for r in rows if r["department_id"]})
        .values("id", "routing_strategy", "sticky_seconds")
    }
    site_sticky = {
        s["id"]: s["settings"].get("sticky_seconds", 0) if isinstance(s["settings"], dict) else 0
        for s in await Site.filter(id__in={r["site_id"] for r in rows if r["sticky_agent_id"] and not r["department_id"]})
        .values("id", "settings")
    }
    states = []
    for r in rows:
        department = departments.get(r["department_id"])
        strategy = department["routing_strategy"] if department else "longest_idle"
        base = dict(id=r["id"], queue=queue_id(r["department_id"]), strategy=strategy)
        if r["status"] == "assigned" and r["agent_id"] is not None:
            states.append(ChatState(state="held", holder=r["agent_id"], **base))
        elif r["status"] == "waiting" and r["offered_to_id"] is not None:
            states.append(ChatState(state="held", holder=r["offered_to_id"], **base))
        elif r["status"] == "waiting":
            sticky_seconds = department["sticky_seconds"] if department else site_sticky.get(r["site_id"], 0)
            sticky = r["sticky_agent_id"] if isinstance(sticky_seconds, int) and sticky_seconds > 0 else None
            states.append(ChatState(
                state="waiting", order=chat_order(r["priority"], ms(r["requested_at"])), sticky_agent=sticky,
                sticky_until_ms=ms(r["requested_at"] + timedelta(seconds=sticky_seconds)) if sticky else 0,
                declined=frozenset(i for i in (r["declined_by"] or []) if isinstance(i, int)), **base,
            ))
        else:
            states.append(ChatState(state="gone", **base))
    return states


async def sync_agent(agent_id: int) -> None:
    store = runtime.current().routing_store
    for state in await agent_states([agent_id]):
        await store.put_agent(state, now_ms())


async def sync_chat(chat_id: int, *, from_agent: int | None = None) -> None:
    """Write a chat's database state into the store (and refresh the agents it moved between)."""
    store = runtime.current().routing_store
    before = await store.holder(chat_id)
    for state in await chat_states([chat_id]):
        await store.put_chat(state, now_ms(), from_agent=from_agent)
        agents = {a for a in (before, state.holder) if a is not None}
        if agents:
            for agent in await agent_states(sorted(agents)):
                await store.put_agent(agent, now_ms())


async def reconcile() -> int:
    """Bring the store in line with the database; returns how many entries were corrected."""
    store = runtime.current().routing_store
    fixed = 0
    states = {a.id: a for a in await agent_states()}
    stale = (await store.known_agents()) - set(states)
    if stale:
        states.update({a.id: a for a in await agent_states(sorted(stale))})
    digests = await store.digests(sorted(states))
    for agent_id, state in states.items():
        if digests.get(agent_id) != state.digest():
            await store.put_agent(state, now_ms())
            fixed += 1
    waiting = {r["id"] for r in await Conversation.filter(status="waiting", offered_to_id=None).values("id")}
    known = await store.waiting()
    for state in await chat_states(sorted(waiting ^ known)):
        if await store.put_chat(state, now_ms()):
            fixed += 1
    return fixed


_running = False
_again = False


async def request_routing() -> None:
    """Route now: run decisions until none is left (a request during a run makes it go again)."""
    global _running, _again
    if _running:
        _again = True
        return
    _running = True
    try:
        while True:
            _again = False
            await run_pass()
            if not _again:
                break
    finally:
        _running = False


_background: set[asyncio.Task] = set()


def schedule() -> None:
    """Route soon, off the caller's path: the reply to the visitor or CSR whose action made routing
    due does not wait for the decisions of everyone else who arrives meanwhile."""
    global _again
    if _running:
        _again = True
        return
    task = asyncio.get_running_loop().create_task(_route_in_background())
    _background.add(task)
    task.add_done_callback(_background.discard)


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
        applied = await (offers.offer(conversation_id, agent_id, seconds) if seconds > 0
                         else assign(conversation_id, agent_id, decided=True))
        if not applied:  # the database says otherwise (closed, taken): the store follows it
            await sync_chat(conversation_id, from_agent=agent_id)
    if decided or await Conversation.filter(status="waiting").exists():
        await queueinfo.publish()
    return decided


async def assign(conversation_id: int, agent_id: int, *, offered: bool = False, decided: bool = False) -> bool:
    """Give a waiting chat to an agent. False when the chat was no longer waiting (or is on offer
    to someone; `offered=True` is the accept of that agent's own offer). The store holds the chat
    for the agent already (a decision, an offer, or a claim); `decided` only documents that."""
    from app.services import conversations

    now = utcnow()
    condition = {"offered_to_id": agent_id, "offer_expires_at__gt": now} if offered else {"offered_to_id": None}
    updated = await Conversation.filter(id=conversation_id, status="waiting", **condition).update(
        status="assigned", agent_id=agent_id, assigned_at=now, offered_to_id=None, offer_expires_at=None
    )
    if not updated:
        return False
    await User.filter(id=agent_id).update(last_assigned_at=now, **({"missed_offers": 0} if offered else {}))
    conversation = await Conversation.get(id=conversation_id)
    agent = await User.get(id=agent_id)
    await events.conversation_event(
        conversation, "assigned", agent_id=agent_id, at=now,
        queue_seconds=(now - conversation.requested_at).total_seconds(), **({"via": "offer"} if offered else {}),
    )
    notice, _ = await conversations.append_message(
        conversation, sender_kind="system", body=f"{agent.display_name} joined the chat.", client_id=None
    )
    visitor = await Visitor.get(id=conversation.visitor_id)
    await bus.to_visitor(visitor.id, "conversation", serialize.conversation_for_visitor(conversation, agent))
    await bus.to_visitor(visitor.id, "message", serialize.message(notice))
    await bus.to_staff("conversation.assigned", await conversations.agent_summary(conversation), agent_id=agent_id)
    await bus.board_changed("assigned")
    return True


async def _member_of(user: User) -> set[int]:
    return {d["id"] for d in await Department.filter(users__id=user.id).values("id")}


async def queue_for(user: User) -> list[dict]:
    """The chats waiting in the queues this CSR serves (the general queue and their departments),
    in the order they will be served, with how long each has waited."""
    member_of = await _member_of(user)
    rows = await Conversation.filter(status="waiting").order_by("-priority", "requested_at").limit(200).values(
        "id", "requested_at", "department_id", "priority", "visitor_id", "department__name", "department__routing_strategy"
    )
    visible = [r for r in rows if r["department_id"] is None or r["department_id"] in member_of]
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
    if not mine:
        # The store checks capacity and reserves the chat in one atomic step.
        claim = await runtime.current().routing_store.claim(conversation.id, user.id, now_ms())
        if claim == "full":
            raise ServiceError("unavailable", "You have no free capacity: close a chat first.")
        if claim != "ok":
            raise ServiceError("invalid_state", "Someone else has taken this chat.")
    if not await assign(conversation.id, user.id, offered=mine):
        await sync_chat(conversation.id, from_agent=user.id)
        raise ServiceError("invalid_state", "Someone else has taken this chat.")


async def tick_forever(interval: float = 2.0) -> None:
    """Safety net: a routing pass every `interval` seconds, and a reconciliation with the
    database at start-up and every few ticks."""
    ticks = 0
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
        except Exception:  # keep ticking; the next pass retries
            log.exception("routing tick failed")
        await asyncio.sleep(interval)


__all__ = ["assign", "capacities", "pick", "queue_for", "reconcile", "request_routing", "run_pass", "schedule", "sync_agent",
           "sync_chat", "tick_forever"]
