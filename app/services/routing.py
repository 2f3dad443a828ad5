"""Routing passes: read a snapshot, ask the pure policy, apply its decisions.

A pass runs under the routing store's lease (one at a time across workers) and applies each
decision with a conditional update (`status = 'waiting'` → `'assigned'`), so a chat is never
assigned twice and an agent never goes over capacity. A request that arrives while another
pass runs is remembered and served by a follow-up pass; a periodic tick is the safety net.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from tortoise.functions import Count

from app import runtime
from app.clock import utcnow
from app.models import Conversation, Department, Site, User, Visitor
from app.realtime import bus
from app.routing.policy import AgentSnapshot, WaitingChat, plan_assignments
from app.services import ServiceError, events, offers, queueinfo, serialize

log = logging.getLogger(__name__)


async def request_routing() -> None:
    """Ask for a routing pass; runs it now unless another worker is already running one."""
    store = runtime.current().routing_store
    await store.request_pass()
    while await store.try_acquire():
        try:
            if not await store.take_request():
                return
            await run_pass()
        finally:
            await store.release()
        # Another request may have come in between take_request and release: loop to serve it.


async def snapshot() -> tuple[list[WaitingChat], list[AgentSnapshot], dict[int | None, str]]:
    """The waiting chats, the Available agents and each department's strategy, as plain values."""
    rows = await Conversation.filter(status="waiting").order_by("-priority", "requested_at").limit(500).values(
        "id", "requested_at", "department_id", "priority", "sticky_agent_id", "site_id", "offered_to_id",
        "declined_by",
    )
    # A chat on offer is reserved: not routed again, and it counts against the CSR's capacity.
    offered: dict[int, int] = {}
    for r in rows:
        if r["offered_to_id"] is not None:
            offered[r["offered_to_id"]] = offered.get(r["offered_to_id"], 0) + 1
    rows = [r for r in rows if r["offered_to_id"] is None]
    if not rows:
        return [], [], {}
    departments = {
        d["id"]: d for d in await Department.filter(id__in={r["department_id"] for r in rows if r["department_id"]})
        .values("id", "routing_strategy", "sticky_seconds")
    }
    site_sticky = {
        s["id"]: s["settings"].get("sticky_seconds", 0) if isinstance(s["settings"], dict) else 0
        for s in await Site.filter(id__in={r["site_id"] for r in rows if r["sticky_agent_id"]}).values("id", "settings")
    }
    waiting = []
    for r in rows:
        department = departments.get(r["department_id"])
        sticky_seconds = department["sticky_seconds"] if department else site_sticky.get(r["site_id"], 0)
        sticky = r["sticky_agent_id"] if sticky_seconds and isinstance(sticky_seconds, int) else None
        waiting.append(WaitingChat(
            id=r["id"], requested_at=r["requested_at"], department_id=r["department_id"], priority=r["priority"],
            sticky_agent_id=sticky,
            sticky_until=r["requested_at"] + timedelta(seconds=sticky_seconds) if sticky else None,
            declined_by=frozenset(i for i in (r["declined_by"] or []) if isinstance(i, int)),
        ))
    strategies = {d["id"]: d["routing_strategy"] for d in departments.values()}
    agents = await User.filter(status="available", is_active=True).values(
        "id", "status", "max_chats", "last_chat_ended_at", "status_changed_at", "last_assigned_at", "skills"
    )
    loads = {
        row["agent_id"]: row["n"]
        for row in await Conversation.filter(status="assigned", agent_id__in=[a["id"] for a in agents])
        .annotate(n=Count("id"))
        .group_by("agent_id")
        .values("agent_id", "n")
    }
    memberships: dict[int, set[int]] = {}
    if any(c.department_id is not None for c in waiting):
        for row in await Department.filter(users__id__in=[a["id"] for a in agents]).values("id", "users__id"):
            memberships.setdefault(row["users__id"], set()).add(row["id"])
    snapshots = [
        AgentSnapshot(
            id=a["id"], status=a["status"], load=loads.get(a["id"], 0) + offered.get(a["id"], 0),
            capacity=a["max_chats"],
            idle_since=a["last_chat_ended_at"] or a["status_changed_at"],
            department_ids=frozenset(memberships.get(a["id"], ())),
            last_assigned_at=a["last_assigned_at"],
            skills=_skills(a["skills"]),
        )
        for a in agents
    ]
    return waiting, snapshots, strategies


def _skills(raw) -> dict[int, int]:
    """Skill levels as stored ({"<department id>": level}), with anything malformed left out."""
    if not isinstance(raw, dict):
        return {}
    out = {}
    for key, level in raw.items():
        if str(key).isdigit() and isinstance(level, int) and not isinstance(level, bool):
            out[int(key)] = level
    return out


async def run_pass() -> int:
    await offers.expire_due()
    waiting, agents, strategies = await snapshot()
    offer_seconds = {
        d["id"]: d["offer_seconds"]
        for d in await Department.filter(id__in={c.department_id for c in waiting if c.department_id})
        .values("id", "offer_seconds")
    }
    by_id = {c.id: c for c in waiting}
    assigned = 0
    for conversation_id, agent_id in plan_assignments(waiting, agents, strategies, now=utcnow()):
        seconds = offer_seconds.get(by_id[conversation_id].department_id, 0)
        if seconds > 0:
            await offers.offer(conversation_id, agent_id, seconds)
        elif await assign(conversation_id, agent_id):
            assigned += 1
    if waiting:
        await queueinfo.publish()
    return assigned


async def assign(conversation_id: int, agent_id: int, *, offered: bool = False) -> bool:
    """Give a waiting chat to an agent. False when the chat was no longer waiting (or is on offer
    to someone; `offered=True` is the accept of that agent's own offer)."""
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
    notice, _ = await conversations._append(
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
    store = runtime.current().routing_store
    # Under the routing lease, so that a pass cannot fill the same capacity at the same moment.
    for _ in range(100):
        if await store.try_acquire():
            break
        await asyncio.sleep(0.02)
    else:
        raise ServiceError("busy", "Routing is busy; try again.")
    try:
        if await Conversation.filter(status="assigned", agent_id=user.id).count() >= user.max_chats:
            raise ServiceError("unavailable", "You have no free capacity: close a chat first.")
        mine = conversation.offered_to_id == user.id
        if not await assign(conversation.id, user.id, offered=mine):
            raise ServiceError("invalid_state", "Someone else has taken this chat.")
    finally:
        await store.release()


async def tick_forever(interval: float = 2.0) -> None:
    """Safety net: a routing pass every `interval` seconds."""
    while True:
        await asyncio.sleep(interval)
        try:
            await request_routing()
        except asyncio.CancelledError:
            raise
        except Exception:  # keep ticking; the next pass retries
            log.exception("routing tick failed")


__all__ = ["assign", "pick", "queue_for", "request_routing", "run_pass", "snapshot", "tick_forever"]
