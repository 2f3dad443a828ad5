"""When nobody can chat: whether a queue is open now, and the messages visitors leave instead.

A queue is open when it is within its business hours (if it has any) and at least one CSR who
serves it is Available. Otherwise the widget offers a form; the message is stored, listed in
the console for CSRs to follow up, and marked done there. Each note is also a work order (source
"offline note"): answered from the order's thread; marking the note done resolves the order, and an
order resolved or closed on its own page takes the note off the list.
"""

from __future__ import annotations

from typing import Any

from tortoise.expressions import Subquery

from app.clock import iso, utcnow
from app.models import ContactEvent, Conversation, Department, OfflineMessage, Site, User, Visitor, WorkOrder
from app import bus
from app.services import ServiceError, conversations, departments, scope, workorders
from app.tracking import live

STAFF_ROLES = ("agent", "supervisor", "admin")


def _within_hours(department: Department | dict) -> bool:
    """Within the queue's business hours and not on a closed holiday, in its own time zone (else
    the center's). Unreadable hours never close a queue (they are checked when set)."""
    get = department.get if isinstance(department, dict) else (lambda k: getattr(department, k))
    return departments.open_now(get("business_hours"), get("time_zone"), get("holidays"))


async def _general_open(site_id: int) -> bool:
    site = await Site.get_or_none(id=site_id)
    if site is None:
        return True
    return _within_hours(await departments.general_hours(site))


async def availability(site_id: int) -> dict[str, Any]:
    """{"general": bool, "departments": {"<id>": bool}} for the site's queues, now."""
    available = await User.filter(is_active=True, role__in=STAFF_ROLES, status="available").values_list("id", flat=True)
    available = set(available)
    rows = await Department.filter(site_id=site_id).values("id", "business_hours", "time_zone", "holidays")
    members: dict[int, set[int]] = {}
    for row in await Department.filter(site_id=site_id, users__id__in=list(available)).values("id", "users__id"):
        members.setdefault(row["id"], set()).add(row["users__id"])
    return {
        "general": bool(available) and await _general_open(site_id),
        "departments": {str(d["id"]): bool(members.get(d["id"])) and _within_hours(d) for d in rows},
    }


def _view(m: OfflineMessage, department_name: str | None = None, order: dict | None = None) -> dict[str, Any]:
    return {"id": m.id, "visitor_id": m.visitor_id, "name": m.name, "email": m.email, "body": m.body,
            "department": m.department_id, "department_name": department_name, "created_at": iso(m.created_at),
            "handled_at": iso(m.handled_at), "work_order": order}


async def leave_message(visitor: Visitor, *, email: str, body: str, name: str | None,
                        department_id: int | None) -> OfflineMessage:
    department = None
    if department_id is not None:
        department = await Department.get_or_none(id=department_id, site_id=visitor.site_id)
        if department is None:
            raise ServiceError("not_found", "No such department.")
    message = await OfflineMessage.create(site_id=visitor.site_id, visitor_id=visitor.id, department_id=department_id,
                                          name=name, email=email, body=body, created_at=utcnow())
    updates = {k: v for k, v in (("name", name), ("email", email)) if v and not getattr(visitor, k)}
    if updates:
        await Visitor.filter(id=visitor.id).update(**updates)
        if "name" in updates:  # the Visitors view shows it at once, as after a chat's pre-chat name
            await live.update(visitor.id, name=name)
    # A visitor who gave up waiting and left a message instead has abandoned the queue.
    waiting = await Conversation.filter(visitor_id=visitor.id, status="waiting").first()
    reason = "while_queued" if waiting is not None else await _closed_reason(visitor.site_id, department)
    # The event log of the missed-chats report (a note is a contact even when no chat was started).
    await ContactEvent.create(site_id=visitor.site_id, department_id=department_id, visitor_id=visitor.id,
                              kind="note_left", at=message.created_at,
                              data={"reason": reason, "offline_message_id": message.id,
                                    "conversation_id": waiting.id if waiting is not None else None})
    if waiting is not None:
        try:
            await conversations.close(waiting, by="visitor")
        except ServiceError:
            pass
    # Tracked to the end: the note is a work order (source "offline note"), mailed to the visitor.
    await workorders.from_offline_note(message)
    # Only a hint: each console re-reads the messages it may see.
    await bus.to_staff_room("offline_messages.changed", {"reason": "new"})
    return message


async def _closed_reason(site_id: int, department: Department | None) -> str:
    """Why nobody could chat when a note was left: `outside_hours` (the queue's business hours),
    `no_agent` (nobody serving it Available), or `open` (someone was: the visitor chose the form)."""
    if department is not None and not _within_hours(department) \
            or department is None and not await _general_open(site_id):
        return "outside_hours"
    state = await availability(site_id)
    is_open = state["departments"].get(str(department.id), False) if department is not None else state["general"]
    return "open" if is_open else "no_agent"


async def open_messages(user: User) -> list[dict[str, Any]]:
    """The open notes of the queues the user reads (app/services/scope.py): their departments and
    the general queues of the sites they serve; every one for supervisors and admins."""
    reach = await scope.reach(user)
    if not reach.messages:
        return []
    names = {d["id"]: d["name"] for d in await Department.all().values("id", "name")}
    # A note is its work order: one resolved or closed on the order's page is no longer open here.
    settled = WorkOrder.filter(offline_message_id__isnull=False, status__in=("resolved", "closed")) \
        .values_list("offline_message_id", flat=True)
    query = OfflineMessage.filter(handled_at=None).exclude(id__in=Subquery(settled))
    mine = scope.queue_filter(reach)
    if mine is not None:
        query = query.filter(mine)
    rows = await query.order_by("created_at").limit(200)
    orders = {o["offline_message_id"]: {"id": o["id"], "number": o["number"]} for o in await WorkOrder.filter(
        offline_message_id__in=[m.id for m in rows]).values("id", "number", "offline_message_id")} if rows else {}
    return [_view(m, names.get(m.department_id), orders.get(m.id)) for m in rows]


async def mark_done(user: User, message_id: int) -> None:
    message = await OfflineMessage.get_or_none(id=message_id)
    if message is None or not (await scope.reach(user)).covers(message.site_id, message.department_id):
        raise ServiceError("not_found", "No such message.")
    updated = await OfflineMessage.filter(id=message.id, handled_at=None).update(handled_at=utcnow(),
                                                                                   handled_by_id=user.id)
    if not updated:
        raise ServiceError("invalid_state", "Someone has handled this message already.")
    # Followed up: its work order is resolved too (the customer is told), so the two never disagree.
    await workorders.settle_note_order(user, message.id)
    await bus.to_staff_room("offline_messages.changed", {"reason": "done"})
