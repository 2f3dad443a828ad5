"""Routing passes: read a snapshot, ask the pure policy, apply its decisions.

A pass runs under the routing store's lease (one at a time across workers) and applies each
decision with a conditional update (`status = 'waiting'` → `'assigned'`), so a chat is never
assigned twice and an agent never goes over capacity. A request that arrives while another
pass runs is remembered and served by a follow-up pass; a periodic tick is the safety net.
"""

from __future__ import annotations

import asyncio
import logging

from tortoise.functions import Count

from app import runtime
from app.clock import utcnow
from app.models import Conversation, Department, User, Visitor
from app.realtime import bus
from app.routing.policy import AgentSnapshot, WaitingChat, plan_assignments
from app.services import events, serialize

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


async def snapshot() -> tuple[list[WaitingChat], list[AgentSnapshot]]:
    waiting = [
        WaitingChat(id=c["id"], requested_at=c["requested_at"], department_id=c["department_id"])
        for c in await Conversation.filter(status="waiting").order_by("requested_at").limit(500).values(
            "id", "requested_at", "department_id"
        )
    ]
    if not waiting:
        return [], []
    agents = await User.filter(status="available", is_active=True).values(
        "id", "status", "max_chats", "last_chat_ended_at", "status_changed_at"
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
            id=a["id"], status=a["status"], load=loads.get(a["id"], 0), capacity=a["max_chats"],
            idle_since=a["last_chat_ended_at"] or a["status_changed_at"],
            department_ids=frozenset(memberships.get(a["id"], ())),
        )
        for a in agents
    ]
    return waiting, snapshots


async def run_pass() -> int:
    waiting, agents = await snapshot()
    assigned = 0
    for conversation_id, agent_id in plan_assignments(waiting, agents):
        if await assign(conversation_id, agent_id):
            assigned += 1
    return assigned


async def assign(conversation_id: int, agent_id: int) -> bool:
    """Give a waiting chat to an agent. False when the chat was no longer waiting."""
    from app.services import conversations

    now = utcnow()
    updated = await Conversation.filter(id=conversation_id, status="waiting").update(
        status="assigned", agent_id=agent_id, assigned_at=now
    )
    if not updated:
        return False
    conversation = await Conversation.get(id=conversation_id)
    agent = await User.get(id=agent_id)
    await events.conversation_event(
        conversation, "assigned", agent_id=agent_id, at=now,
        queue_seconds=(now - conversation.requested_at).total_seconds(),
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


__all__ = ["assign", "request_routing", "run_pass", "snapshot", "tick_forever"]
