"""Handoff: transferring a chat to another CSR or back to a department's queue.

The receiver gets the whole transcript and the transferring CSR's internal note (stored as an
`internal` message, which never reaches the visitor); the visitor sees who joined and keeps
the whole conversation. Every transfer is a `transferred` event.
"""

from __future__ import annotations

from tortoise.functions import Count

from app.clock import utcnow
from app.models import Conversation, Department, Participant, User
from app import bus
from app.services import ServiceError, assignment, conversations, events, routing_state, scope, serialize

STAFF_ROLES = ("agent", "supervisor", "admin")


async def loads(user_ids: list[int]) -> dict[int, int]:
    rows = await Conversation.filter(status="assigned", agent_id__in=user_ids).annotate(n=Count("id")) \
        .group_by("agent_id").values("agent_id", "n")
    return {row["agent_id"]: row["n"] for row in rows}


async def transfer_targets(actor: User, site_id: int) -> dict:
    """CSRs (with state and load) and departments a chat can be transferred to; a supervisor's are
    those of their scope (app/services/scope.py: their staff, their departments)."""
    staff, reach = await _scoped_targets(actor)
    agents = User.filter(is_active=True, role__in=STAFF_ROLES).exclude(id=actor.id)
    if staff is not None:
        agents = agents.filter(id__in=list(staff))
    agents = await agents.order_by("display_name")
    load = await loads([a.id for a in agents])
    capacity = await routing_state.capacities([a.id for a in agents])
    departments = await Department.filter(site_id=site_id).order_by("name")
    if reach is not None:
        departments = [d for d in departments if reach.covers(site_id, d.id)]
    waiting = {
        row["department_id"]: row["n"]
        for row in await Conversation.filter(status="waiting", department_id__in=[d.id for d in departments])
        .annotate(n=Count("id")).group_by("department_id").values("department_id", "n")
    }
    return {
        "agents": [
            {"id": a.id, "name": a.display_name, "status": a.status, "load": load.get(a.id, 0), "capacity": capacity[a.id]}
            for a in agents
        ],
        "departments": [{"id": d.id, "name": d.name, "waiting": waiting.get(d.id, 0)} for d in departments],
    }


async def _scoped_targets(actor: User) -> tuple[frozenset[int] | None, scope.Reach | None]:
    """Whom and where a supervisor may hand a chat to (None, None: anyone and anywhere)."""
    if actor.role != "supervisor":
        return None, None
    return await scope.supervised_staff(actor), await scope.reach(actor)


async def transfer(
    actor: User, conversation_id: int, *, to_agent_id: int | None = None, to_department_id: int | None = None,
    note: str | None = None, warm: bool = False,
) -> Conversation:
    if (to_agent_id is None) == (to_department_id is None):
        raise ServiceError("bad_request", "Give exactly one of 'to_agent_id' or 'to_department_id'.")
    if warm and to_agent_id is None:
        raise ServiceError("bad_request", "A warm transfer goes to a CSR, not to a department.")
    conversation = await conversations.agent_conversation(actor, conversation_id)
    if conversation.status != "assigned":
        raise ServiceError("invalid_state", "Only a chat in progress can be transferred.")
    previous_agent_id = conversation.agent_id
    target: User | None = None
    department: Department | None = None
    staff, reach = await _scoped_targets(actor)
    if to_agent_id is not None:
        target = await User.get_or_none(id=to_agent_id, is_active=True, role__in=STAFF_ROLES)
        if target is None or (staff is not None and target.id not in staff):
            raise ServiceError("not_found", "No such CSR.")
        if target.id == previous_agent_id:
            raise ServiceError("invalid_state", "This chat is already theirs.")
        if target.status != "available":
            raise ServiceError("unavailable", "%(name)s is not available.", name=target.display_name)
        # Their room is checked, and taken, atomically by the assignment path.
    else:
        department = await Department.get_or_none(id=to_department_id, site_id=conversation.site_id)
        if department is None or (reach is not None and not reach.covers(conversation.site_id, department.id)):
            raise ServiceError("not_found", "No such department.")

    if warm:
        return await assignment.join_warm(actor, conversation, target, note)
    if target is not None:
        return await assignment.hand_to(
            conversation, target, via="transfer", previous=previous_agent_id, actor=actor, note=note,
            transfer={"to_department_id": None, "has_note": bool(note)},
        )
    # Back to the queue of that department, keeping its place by the original request time.
    now = utcnow()
    updated = await Conversation.filter(id=conversation.id, status="assigned", agent_id=previous_agent_id).update(
        status="waiting", agent_id=None, department_id=department.id, assigned_at=None
    )
    if not updated:
        raise ServiceError("invalid_state", "This chat changed meanwhile; reload it.")
    await conversation.refresh_from_db()
    if previous_agent_id is not None:  # before the event: routing reads the agent's idle time
        await User.filter(id=previous_agent_id).update(last_chat_ended_at=now)
    await Participant.filter(conversation_id=conversation.id, left_at=None).update(left_at=now)
    await events.conversation_event(
        conversation, "transferred", agent_id=actor.id, at=now, from_agent_id=previous_agent_id,
        to_agent_id=None, to_department_id=department.id, has_note=bool(note),
    )
    if previous_agent_id is not None:  # before anything more of this chat is published
        await bus.leave_conversation(previous_agent_id, conversation.id)
    # Supervisors watching it whose queues do not hold its new department stop following it.
    for supervisor_id in await scope.supervisors_out_of_reach(conversation):
        await bus.leave_conversation(supervisor_id, conversation.id)
    if note:
        await assignment.transfer_note(conversation, actor, note)
    await assignment.system_notice(conversation, f"Transferring you to {department.name}…")
    if previous_agent_id is not None:
        await bus.to_staff("conversation.updated", await conversations.agent_summary(conversation),
                           agent_id=previous_agent_id)
    await bus.to_visitor(conversation.visitor_id, "conversation", serialize.conversation_for_visitor(conversation, None))
    await bus.board_changed("transferred")
    return conversation


async def requeue_all(agent: User, *, reason: str) -> list[int]:
    """Put every chat the agent holds back at the front of its queue (its original request time).

    Used when a CSR's consoles are all gone for longer than the grace period: the visitors keep
    their whole conversation and are told someone else is coming. Each chat gets a `requeued`
    event. Returns the ids of the chats that moved.
    """
    moved: list[int] = []
    for conversation in await Conversation.filter(status="assigned", agent_id=agent.id).order_by("requested_at"):
        if await assignment.requeue(conversation, agent.id, reason=reason):
            moved.append(conversation.id)
    # Warm-transfer places of theirs are given up too; the chats stay with their CSRs.
    for participant in await Participant.filter(user_id=agent.id, kind="warm", left_at=None):
        conversation = await Conversation.get(id=participant.conversation_id)
        try:
            await assignment.leave_chat(conversation, participant, agent)
        except ServiceError:
            continue
        await _announce_left(conversation, agent)
    if moved:
        await User.filter(id=agent.id).update(last_chat_ended_at=utcnow())
        await bus.board_changed("requeued")
    return moved


async def _announce_left(conversation: Conversation, user: User) -> None:
    await assignment.system_notice(conversation, f"{user.display_name} left the chat.")
    summary = await conversations.agent_summary(conversation)
    await bus.to_staff("conversation.updated", summary, agent_id=user.id)
    await bus.to_staff("conversation.updated", summary, agent_id=conversation.agent_id)
    await bus.board_changed("transferred")


async def leave(user: User, conversation_id: int) -> Conversation:
    """Leave a chat one is in with a colleague. The assigned CSR leaving hands the chat to the
    colleague of a warm transfer; anyone else in it (warm colleague, barged-in supervisor) just
    leaves. The visitor sees who left."""
    conversation = await Conversation.get_or_none(id=conversation_id)
    if conversation is None:
        raise ServiceError("not_found", "No such conversation.")
    mine = await Participant.filter(conversation_id=conversation.id, user_id=user.id, left_at=None).first()
    if conversation.agent_id != user.id and mine is None:
        raise ServiceError("not_found", "No such conversation.")
    if conversation.status != "assigned":
        raise ServiceError("invalid_state", "This chat is not in progress.")
    if conversation.agent_id == user.id:
        heir = await Participant.filter(conversation_id=conversation.id, kind="warm", left_at=None) \
            .order_by("joined_at").first()
        if heir is None:
            raise ServiceError("invalid_state", "Nobody else is in this chat: close it or transfer it instead.")
        successor = await User.get(id=heir.user_id)
        # The colleague's warm place becomes the chat: their load does not change, so it never overfills.
        await assignment.hand_to(
            conversation, successor, via="warm", previous=user.id, from_warm=True, force=True, announce=False,
            actor=user, transfer={"via": "warm"},
        )
    else:
        await assignment.leave_chat(conversation, mine, user)
    await _announce_left(conversation, user)
    return conversation
