"""Supervision: the live board, monitor, whisper, barge in, take over, force an agent's state.

Every supervisory action is audited (AuditEvent: who, what, when, on which chat or agent).
"""

from __future__ import annotations

from datetime import datetime

from tortoise.expressions import Q
from tortoise.functions import Count, Min

from app.clock import iso, utcnow
from app.models import Conversation, Department, Message, Participant, User, Visitor
from app import bus
from app.services import ServiceError, accounts, agents, assignment, audit as audit_log, conversations, events, routing_state, scope, serialize, sessions

SUPERVISOR_ROLES = ("supervisor", "admin")


def require_supervisor(user: User) -> None:
    if user.role not in SUPERVISOR_ROLES:
        raise ServiceError("forbidden", "Only supervisors and admins can do this.")


async def audit(actor: User | None, action: str, *, conversation_id: int | None = None,
                target_user_id: int | None = None, **data) -> None:
    """`actor` None: the operator, on the command line."""
    await audit_log.record(actor, action, conversation_id=conversation_id, target_user_id=target_user_id, **data)


def _seconds_since(moment: datetime | None, now: datetime) -> float | None:
    return round((now - moment).total_seconds(), 1) if moment else None


async def board(user: User) -> dict:
    """The agents' states, times in state and loads; the queues' waiting counts and longest waits;
    the chats in progress — of the supervisor's scope (app/services/scope.py: their departments'
    queues, the general queues of their sites, their staff); everything for admins."""
    require_supervisor(user)
    now = utcnow()
    reach = await scope.reach(user)
    mine = scope.queue_filter(reach)
    team = await scope.supervised_staff(user)
    staff_query = User.filter(is_active=True, role__in=scope.STAFF_ROLES)
    if team is not None:
        staff_query = staff_query.filter(id__in=list(team))
    staff = await staff_query.order_by("display_name")
    load = {
        row["agent_id"]: row["n"]
        for row in await Conversation.filter(status="assigned", agent_id__in=[a.id for a in staff])
        .annotate(n=Count("id")).group_by("agent_id").values("agent_id", "n")
    }
    capacity = await routing_state.capacities([a.id for a in staff])
    queues = []
    waiting = Conversation.filter(status="waiting")
    if mine is not None:
        waiting = waiting.filter(mine)
    waiting_rows = await waiting.annotate(n=Count("id"), oldest=Min("requested_at")) \
        .group_by("department_id").values("department_id", "n", "oldest")
    names = {d["id"]: d["name"] for d in await Department.filter(
        id__in=[r["department_id"] for r in waiting_rows if r["department_id"] is not None]).values("id", "name")}
    for row in sorted(waiting_rows, key=lambda r: (r["department_id"] is not None, names.get(r["department_id"], ""))):
        queues.append({
            "department_id": row["department_id"],
            "name": names.get(row["department_id"], "General"),
            "waiting": row["n"],
            "longest_wait_seconds": _seconds_since(row["oldest"], now),
        })
    chats_query = Conversation.filter(status="assigned")
    if mine is not None:
        chats_query = chats_query.filter(mine | Q(agent_id=user.id))
    chats = await chats_query.order_by("assigned_at").limit(500)
    visitors = {v.id: v for v in await Visitor.filter(id__in={c.visitor_id for c in chats})}
    return {
        "agents": [
            {
                "id": a.id, "name": a.display_name, "role": a.role, "status": a.status, "reason": a.status_reason,
                "since": iso(a.status_changed_at), "seconds_in_state": _seconds_since(a.status_changed_at, now),
                "load": load.get(a.id, 0), "capacity": capacity[a.id],
            }
            for a in staff
        ],
        "queues": queues,
        "chats": [
            {
                "id": c.id, "agent_id": c.agent_id, "visitor_name": serialize.visitor_display_name(visitors[c.visitor_id]),
                "assigned_at": iso(c.assigned_at), "department": c.department_id,
            }
            for c in chats
        ],
    }


async def _supervised(user: User, conversation_id: int) -> Conversation:
    require_supervisor(user)
    conversation = await Conversation.get_or_none(id=conversation_id)
    # Out of the supervisor's queues: exactly like an id that does not exist.
    if conversation is None or not await scope.supervises(user, conversation):
        raise ServiceError("not_found", "No such conversation.")
    return conversation


async def monitor(user: User, conversation_id: int) -> Conversation:
    conversation = await _supervised(user, conversation_id)
    # Every monitor is audited; it also counts as the read that `open`/`sync` would audit next.
    await scope.claim_audit(user, conversation.id)
    await audit(user, "monitor", conversation_id=conversation.id)
    return conversation


async def whisper(user: User, conversation_id: int, *, client_id: str, body: str) -> Message:
    """An internal message to the CSRs of a chat; it never reaches the visitor."""
    conversation = await _supervised(user, conversation_id)
    if conversation.status == "closed":
        raise ServiceError("closed", "This conversation is closed.")
    if conversation.status != "assigned":
        raise ServiceError("invalid_state", "A whisper goes to the CSR of a chat in progress; this one is waiting.")
    message, created = await conversations.append_message(
        conversation, sender_kind="internal", body=body, client_id=client_id, author=user,
        author_name=f"{user.display_name} (whisper)",
    )
    if created:
        await bus.to_staff("message", serialize.message(message), agent_id=conversation.agent_id,
                           conversation_id=conversation.id)
        await audit(user, "whisper", conversation_id=conversation.id)
    return message


async def barge(user: User, conversation_id: int) -> Conversation:
    """Join the chat visibly: the visitor sees the supervisor join and can read their messages."""
    conversation = await _supervised(user, conversation_id)
    if conversation.status != "assigned":
        raise ServiceError("invalid_state", "Only a chat in progress can be joined.")
    if conversation.agent_id == user.id or await Participant.exists(
        conversation_id=conversation.id, user_id=user.id, left_at=None
    ):
        raise ServiceError("invalid_state", "You are in this chat already.")
    await Participant.create(conversation_id=conversation.id, user_id=user.id, kind="barge", joined_at=utcnow())
    await assignment.system_notice(conversation, f"{user.display_name} joined the chat.")
    await events.conversation_event(conversation, "barged", agent_id=user.id)
    await audit(user, "barge", conversation_id=conversation.id)
    return conversation


async def take_over(user: User, conversation_id: int) -> Conversation:
    """Reassign the chat to the supervisor, whatever their state or load."""
    conversation = await _supervised(user, conversation_id)
    if conversation.status != "assigned":
        raise ServiceError("invalid_state", "Only a chat in progress can be taken over.")
    previous = conversation.agent_id
    if previous == user.id:
        raise ServiceError("invalid_state", "This chat is yours already.")
    # A supervisor's override: the one assignment path, without the capacity or availability check.
    conversation = await assignment.hand_to(
        conversation, user, via="take_over", previous=previous, force=True, actor=user,
        transfer={"via": "take_over"},
    )
    await audit(user, "take_over", conversation_id=conversation.id, target_user_id=previous)
    return conversation


async def force_state(user: User, target_id: int, status: str, reason: str | None) -> User:
    require_supervisor(user)
    target = await User.get_or_none(id=target_id, is_active=True, role__in=scope.STAFF_ROLES)
    team = await scope.supervised_staff(user) if target is not None else None
    if target is None or (team is not None and target.id not in team):
        raise ServiceError("not_found", "No such CSR.")
    await agents.set_agent_state(target, status, reason or f"set by {user.display_name}")
    await audit(user, "force_state", target_user_id=target.id, status=status)
    return target


async def deactivate(user: User, target_id: int) -> User:
    """An admin deactivates an account: it is set Offline (its chats go back to the queues, at the
    front) and can no longer sign in or take chats. Audited."""
    if user.role != "admin":
        raise ServiceError("forbidden", "Only admins can deactivate accounts.")
    if target_id == user.id:
        raise ServiceError("invalid_state", "You cannot deactivate your own account.")
    if not await User.exists(id=target_id, is_active=True):
        raise ServiceError("not_found", "No such user.")
    # The same path as the Users page: the last admin is kept, unused set-password links go void.
    return await accounts.deactivate_account(user, target_id)


async def sign_out_everywhere(user: User | None, target_id: int) -> int:
    """An admin (or, with `user` None, the operator on the command line) ends every session of an
    account: its consoles are disconnected on every worker and it must sign in again. Audited.
    Returns how many sessions ended."""
    if user is not None and user.role != "admin":
        raise ServiceError("forbidden", "Only admins can sign other people out.")
    target = await User.get_or_none(id=target_id)
    if target is None:
        raise ServiceError("not_found", "No such user.")
    ended = await sessions.end_all(target.id, "signed_out_by_admin")
    await audit(user, "sign_out_everywhere", target_user_id=target.id, sessions=ended)
    return ended
