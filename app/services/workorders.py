"""Work orders: every state change of an order, once. Each writes the order, appends to its event
log (`WorkOrderEvent`), mails the customer when they are to hear of it and notifies the staff it
concerns (`work_order.notice` to their own rooms) — persist first, then emit. An offline note's
order that is settled or reopened hints the consoles' notes lists (`offline_messages.changed`, no
content, like the notes themselves).

Who reads an order (`reach`): admins every one; supervisors and CSRs the orders of the sites they
serve (app/services/scope.py); everyone the orders of their handling teams and those they created,
handle or watch. Back-office staff (role `handler`) read only the latter. Marketers none. What may
not be read answers `not_found`, exactly like an id that does not exist.

Who acts (`may`):
- handle (start, wait for the customer, feedback, resolve): the handler, members of the order's
  team, supervisors and admins; a CSR outside the team is refused (`forbidden`).
- dispatch / transfer: the same, and the order's creator while nobody handles it.
- reply to the customer, close: the handlers and the creator — and, for an order that came from a
  chat or an offline note, any CSR who reads it (the contact center answers its own customers).
- note, urge, reopen, watch, add a callback: whoever reads the order (an urge never by its own
  handler).

SLA: an order's targets come from the most specific policy of its category × priority
(app/workorders/sla.py), counted in its team's business hours from its creation (first response)
and from its creation (resolution; a reopen restarts the resolution clock). A timer in the shared
schedule (app/services/timers.py, kind ``wo.sla``) fires when an order becomes at risk and when it
is breached; each step escalates once (`escalation` 1 then 2), notifying the handler, the team's
lead and the watchers. The timers are rescheduled at start-up from the orders themselves
(`resume_sla_timers`), so neither a restart nor a dead worker loses one.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q, RawSQL
from tortoise.transactions import in_transaction

from app import bus, runtime
from app.clock import iso, utcnow
from app.models import (
    Conversation, Message, OfflineMessage, Site, Team, User, Visitor, WorkCategory, WorkOrder, WorkOrderAttachment,
    WorkOrderCallback, WorkOrderCounter, WorkOrderEntry, WorkOrderEvent,
)
from app.models.workorders import CALLBACK_OUTCOMES
from app.i18n import N_
from app.services import ServiceError, Words, mail, scope, timers, work_setup
from app.workorders import files, mails, sla, workflow
from app.workorders.workflow import PRIORITIES, SOURCES

SLA_TIMER = "wo.sla"
CALLBACK_TIMER = "wo.callback"
MAX_SUBJECT = 200
MAX_BODY = 20_000
MAX_REASON = 500
PHONE = re.compile(r"^[0-9+()\-. ]{3,40}$")
HANDLE_ROLES = ("supervisor", "admin")
STAFF_ROLES = ("agent", "supervisor", "admin", "handler")


def _refuse(field: str, message: str, code: str = "bad_request", **values: object) -> ServiceError:
    return ServiceError(code, message, field, **values)


def _text(value: object, field: str, label: str, *, most: int, required: bool = True) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise _refuse(field, "%(label)s must be text.", label=Words(label))
    value = value.strip()
    if required and not value:
        raise _refuse(field, "%(label)s is needed.", label=Words(label))
    if len(value) > most:
        raise _refuse(field, "%(label)s: at most %(most)s characters.", label=Words(label), most=most)
    return value


# -- who reads, who acts ---------------------------------------------------------------------------

@dataclass(frozen=True)
class OrderReach:
    user_id: int
    role: str
    sites: frozenset[int] | None  # None: every site's orders
    teams: frozenset[int]

    def query(self) -> Q | None:
        """A filter of the orders this user reads (None: every one)."""
        if self.sites is None:
            return None
        mine = Q(team_id__in=list(self.teams)) | Q(handler_id=self.user_id) | Q(created_by_id=self.user_id)
        return Q(site_id__in=list(self.sites)) | mine if self.sites else mine


async def reach(user: User) -> OrderReach:
    if user.role == "marketer" or not user.is_active:
        raise ServiceError("forbidden", "Work orders are for staff.")
    if user.role == "admin":  # every order: their teams change nothing
        return OrderReach(user.id, user.role, None, frozenset())
    teams = await work_setup.teams_of(user.id)
    if user.role in ("agent", "supervisor"):
        sites = (await scope.reach(user)).sites
        return OrderReach(user.id, user.role, sites if sites is not None else None, teams)
    return OrderReach(user.id, user.role, frozenset(), teams)


async def _readable(user: User, order: WorkOrder, r: OrderReach | None = None) -> bool:
    r = r or await reach(user)
    if r.sites is None or order.site_id in r.sites or order.team_id in r.teams:
        return True
    if user.id in (order.handler_id, order.created_by_id):
        return True
    return await order.watchers.filter(id=user.id).exists()


async def get(user: User, order_id: object) -> WorkOrder:
    """The order, when `user` may read it; else `not_found` (as if it did not exist)."""
    if type(order_id) is not int:
        raise _refuse("id", "An order id is a number.", "not_found")
    order = await WorkOrder.get_or_none(id=order_id)
    if order is None or not await _readable(user, order):
        raise ServiceError("not_found", "No such work order.")
    return order


async def may(user: User, order: WorkOrder, action: str) -> bool:
    """Whether `user` (who reads the order) may do `action` to it (see the module docstring)."""
    handles = (user.role in HANDLE_ROLES or user.id == order.handler_id
               or order.team_id is not None and order.team_id in await work_setup.teams_of(user.id))
    creator = user.id == order.created_by_id
    if action == "handle":
        return handles
    if action == "dispatch":
        return handles or creator and order.handler_id is None
    if action in ("reply", "close"):
        return handles or creator or user.role == "agent" and order.source in ("chat", "offline_note")
    if action == "urge":
        return user.id != order.handler_id
    return True  # note, reopen, watch, callback


# An order that is no longer open cannot be dispatched (one refusal per status, each translated whole).
NOT_DISPATCHED = {
    "resolved": N_("A resolved order cannot be dispatched."),
    "closed": N_("A closed order cannot be dispatched."),
}

# Who may not do what to an order: the refusal of each action (`_check`).
NOT_YOURS = {
    "handle": N_("Only the handler, their team and supervisors work on this order."),
    "dispatch": N_("Only the handling team, supervisors and the order's creator dispatch it."),
    "reply": N_("Only the handling team, supervisors and the order's creator write to the customer."),
    "close": N_("Only the handling team, supervisors and the order's creator close it."),
    "urge": N_("The handler cannot urge their own order."),
}


async def _check(user: User, order: WorkOrder, action: str) -> None:
    if not await may(user, order, action):
        refusal = NOT_YOURS.get(action, N_("Not allowed."))
        raise ServiceError("forbidden", refusal)


# -- the event log, notices ------------------------------------------------------------------------

async def _event(order: WorkOrder, kind: str, actor: User | None, **data: Any) -> WorkOrderEvent:
    event = await WorkOrderEvent.create(work_order_id=order.id, kind=kind, actor_id=actor.id if actor else None,
                                        team_id=order.team_id, handler_id=order.handler_id,
                                        category_id=order.category_id, at=utcnow(), data=data)
    if order.source == "offline_note" and kind in ("status", "reopened"):
        await bus.to_staff_room("offline_messages.changed", {"reason": "order"})
    return event


async def _notify(user_ids: set[int | None], order: WorkOrder, kind: str, text: str, **more: Any) -> None:
    """A notice on the pages of these staff (consoles, Work orders pages: an urge, an escalation …).
    `text` is the English line for API clients; the pages word it in their own language from `kind`,
    `number`, `subject` and `more` (`transfer`; `by` and `count` of an urge; `due` of a callback)."""
    payload = {"id": order.id, "number": order.number, "kind": kind, "subject": order.subject, "text": text, **more}
    for user_id in {u for u in user_ids if u is not None}:
        await bus.to_user(user_id, "work_order.notice", payload)


async def _watchers(order: WorkOrder) -> set[int]:
    return set(await order.watchers.all().values_list("id", flat=True))


async def _lead_of(team_id: int | None) -> int | None:
    if team_id is None:
        return None
    team = await Team.get_or_none(id=team_id)
    return team.lead_id if team else None


# -- the customer's link and mail ------------------------------------------------------------------

def customer_token(order: WorkOrder) -> str:
    return runtime.current().signer.order_token(order.id, order.link_secret)


def status_link(order: WorkOrder) -> str:
    return f"{runtime.current().settings.public_url}/requests/{customer_token(order)}"


def reply_address(order: WorkOrder) -> str:
    settings = runtime.current().settings
    return f"reply+{customer_token(order)}@{settings.mail_reply_domain}"


async def order_of_token(token: object) -> WorkOrder:
    """The order a customer's token opens; `not_found` for a forged, revoked or unknown one."""
    signer = runtime.current().signer
    # Only ASCII can be a token (hmac.compare_digest raises TypeError on other text: a 500).
    order_id = signer.order_token_id(token) if isinstance(token, str) and token.isascii() else None
    order = await WorkOrder.get_or_none(id=order_id) if order_id is not None else None
    if order is None or not signer.order_token_matches(str(token), order.id, order.link_secret):
        raise ServiceError("not_found", "This link is not valid.")
    return order


async def _mail_customer(order: WorkOrder, kind: str, *, body: str = "", who: str = "") -> None:
    if not order.customer_email:
        return
    thread = []
    if kind == "resolved":
        for entry in await WorkOrderEntry.filter(work_order_id=order.id, kind__in=("reply", "customer")):
            name = mails.customer_label(order.customer_language) if entry.kind == "customer" else entry.author_name or ""
            thread.append(mails.Post(name, entry.created_at.strftime("%Y-%m-%d %H:%M UTC"), entry.body))
    subject, text = mails.compose(kind, order.customer_language, number=order.number, subject=order.subject,
                                  name=order.customer_name, link=status_link(order), body=body, who=who,
                                  thread=thread)
    await mail.queue(order.customer_email, subject, text, work_order_id=order.id, purpose=kind,
                     headers={"Reply-To": reply_address(order)})


# -- views -----------------------------------------------------------------------------------------

def _left(due: datetime | None, now: datetime) -> int | None:
    return int((due - now).total_seconds()) if due is not None else None


def view(order: WorkOrder, names: dict[int, str] | None = None, now: datetime | None = None) -> dict[str, Any]:
    names = names or {}
    now = now or utcnow()
    open_ = workflow.is_open(order.status)
    return {
        "id": order.id, "number": order.number, "site_id": order.site_id, "visitor_id": order.visitor_id,
        "customer": {"name": order.customer_name, "email": order.customer_email, "phone": order.customer_phone},
        "source": order.source, "category_id": order.category_id, "priority": order.priority,
        "subject": order.subject, "description": order.description, "status": order.status,
        "status_label": workflow.LABELS[order.status], "team_id": order.team_id,
        "team": names.get(("team", order.team_id)) if order.team_id else None,
        "handler_id": order.handler_id, "handler": names.get(("user", order.handler_id)) if order.handler_id else None,
        "created_by_id": order.created_by_id, "created_at": iso(order.created_at), "updated_at": iso(order.updated_at),
        "first_response_due_at": iso(order.first_response_due_at), "first_responded_at": iso(order.first_responded_at),
        "due_at": iso(order.due_at), "resolved_at": iso(order.resolved_at), "closed_at": iso(order.closed_at),
        "seconds_left": _left(order.due_at, now) if open_ else None,
        "overdue": bool(open_ and order.due_at is not None and order.due_at <= now),
        "escalation": order.escalation, "urge_count": order.urge_count, "reopen_count": order.reopen_count,
    }


async def _names(orders: list[WorkOrder]) -> dict:
    users = {o.handler_id for o in orders if o.handler_id} | {o.created_by_id for o in orders if o.created_by_id}
    teams = {o.team_id for o in orders if o.team_id}
    names: dict = {}
    for row in await User.filter(id__in=list(users)).values("id", "display_name"):
        names[("user", row["id"])] = row["display_name"]
    for row in await Team.filter(id__in=list(teams)).values("id", "name"):
        names[("team", row["id"])] = row["name"]
    return names


async def detail(user: User, order_id: object) -> dict[str, Any]:
    """An order with its thread (internal posts only for staff), history, attachments, callbacks,
    watchers, linked conversations and what the user may do."""
    order = await get(user, order_id)
    names = await _names([order])
    out = view(order, names)
    category = await WorkCategory.get_or_none(id=order.category_id) if order.category_id else None
    paths = {c["id"]: c["path"] for c in await work_setup.categories()}
    out["category"] = paths.get(order.category_id) if category else None
    out["created_by"] = names.get(("user", order.created_by_id))
    out["entries"] = [_entry_view(e) for e in await WorkOrderEntry.filter(work_order_id=order.id)]
    actors = {u["id"]: u["display_name"] for u in await User.all().values("id", "display_name")}
    out["history"] = [{"kind": e.kind, "at": iso(e.at), "actor": actors.get(e.actor_id) if e.actor_id else None,
                       "data": e.data} for e in await WorkOrderEvent.filter(work_order_id=order.id).order_by("at", "id")]
    out["attachments"] = [_attachment_view(a) for a in await WorkOrderAttachment.filter(work_order_id=order.id)]
    out["callbacks"] = [_callback_view(c, actors) for c in await WorkOrderCallback.filter(work_order_id=order.id)
                        .order_by("due_at")]
    out["watchers"] = [{"id": u["id"], "name": u["display_name"]}
                       for u in await order.watchers.all().values("id", "display_name")]
    out["conversations"] = list(await order.conversations.all().values_list("id", flat=True))
    out["may"] = {a: await may(user, order, a) for a in ("handle", "dispatch", "reply", "close", "urge")}
    out["moves"] = sorted(workflow.ALLOWED.get(order.status, ()))
    return out


def _entry_view(e: WorkOrderEntry) -> dict[str, Any]:
    return {"id": e.id, "kind": e.kind, "author": e.author_name, "author_id": e.author_id, "body": e.body,
            "via": e.via, "at": iso(e.created_at), "public": e.kind in ("reply", "customer")}


def _attachment_view(a: WorkOrderAttachment) -> dict[str, Any]:
    return {"id": a.id, "filename": a.filename, "content_type": a.content_type, "size": a.size,
            "by_customer": a.by_customer, "at": iso(a.created_at)}


def _callback_view(c: WorkOrderCallback, names: dict[int, str]) -> dict[str, Any]:
    return {"id": c.id, "assignee_id": c.assignee_id, "assignee": names.get(c.assignee_id), "due_at": iso(c.due_at),
            "note": c.note, "outcome": c.outcome, "outcome_note": c.outcome_note, "done_at": iso(c.done_at),
            "overdue": c.done_at is None and c.due_at <= utcnow()}


# -- the list --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Filters:
    status: str = "open"  # a status, "open" (every open one) or "all"
    team_id: int | None = None
    handler_id: int | None = None
    category_id: int | None = None
    priority: str | None = None
    overdue: bool = False
    mine: bool = False
    site_id: int | None = None
    search: str = ""


async def search(user: User, filters: Filters, *, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """The orders `user` reads that match, most urgent first (overdue and soonest due, then newest),
    with the exact count of every match."""
    r = await reach(user)
    query = WorkOrder.all()
    readable = r.query()
    if readable is not None:
        watched = await WorkOrder.filter(watchers__id=user.id).values_list("id", flat=True)
        query = query.filter(readable | Q(id__in=list(watched)) if watched else readable)
    if filters.status == "open":
        query = query.filter(status__in=workflow.OPEN)
    elif filters.status != "all":
        query = query.filter(status=filters.status)
    if filters.team_id is not None:
        query = query.filter(team_id=filters.team_id)
    if filters.handler_id is not None:
        query = query.filter(handler_id=filters.handler_id)
    if filters.category_id is not None:
        children = await WorkCategory.filter(parent_id=filters.category_id).values_list("id", flat=True)
        query = query.filter(category_id__in=[filters.category_id, *children])
    if filters.priority is not None:
        query = query.filter(priority=filters.priority)
    if filters.site_id is not None:
        query = query.filter(site_id=filters.site_id)
    if filters.overdue:
        query = query.filter(due_at__lte=utcnow(), status__in=workflow.OPEN)
    if filters.mine:
        query = query.filter(handler_id=user.id)
    if filters.search:
        term = filters.search
        query = query.filter(Q(number__iexact=term) | Q(subject__icontains=term) | Q(customer_email__iexact=term)
                             | Q(customer_name__icontains=term))
    total = await query.count()
    # One query for the page with the names it shows (team, handler, category and its parent).
    rows = await _ordered(query.select_related("team", "handler", "category__parent"), offset, limit)
    now = utcnow()
    out = []
    for o in rows:
        names = {("team", o.team_id): o.team.name if o.team else None,
                 ("user", o.handler_id): o.handler.display_name if o.handler else None}
        v = view(o, names, now)
        category = o.category
        v["category"] = None if category is None else (
            f"{category.parent.name} › {category.name}" if category.parent is not None else category.name)
        out.append(v)
    return {"total": total, "orders": out}


async def _ordered(query, offset: int, limit: int) -> list[WorkOrder]:
    # Orders with a due time first, soonest (most overdue) first; then the newest without one.
    return await query.annotate(undated=RawSQL('CASE WHEN "due_at" IS NULL THEN 1 ELSE 0 END')) \
        .order_by("undated", "due_at", "-created_at", "-id").offset(offset).limit(limit)


# -- creating --------------------------------------------------------------------------------------

async def _next_number(year: int) -> str:
    """The year's next number: one atomic increment of the year's counter row, so creators on every
    worker get distinct, consecutive numbers. The row is made first by whichever creator gets there
    (the others' inserts clash and they use it): the first orders of a year never race into an error."""
    if not await WorkOrderCounter.exists(year=year):
        try:
            await WorkOrderCounter.create(year=year, last_number=0)
        except IntegrityError:
            pass  # another creator made it meanwhile
    async with in_transaction() as conn:
        await WorkOrderCounter.filter(year=year).using_db(conn).update(last_number=F("last_number") + 1)
        row = await WorkOrderCounter.get(year=year).using_db(conn)
        return workflow.number(year, row.last_number)


async def _apply_sla(order: WorkOrder, *, restart: bool = False) -> None:
    """Set the order's due times from its policy and team hours, and its SLA timer."""
    category = await WorkCategory.get_or_none(id=order.category_id) if order.category_id else None
    policy = await work_setup.policy_for(category, order.priority)
    schedule = await work_setup.schedule_of(order.team_id)
    start = utcnow() if restart else await _clock_start(order)  # a reopened order's clock: from then
    # Once answered, the first-response target is history (the reports judge the answer by it).
    first = order.first_response_due_at if order.first_responded_at is not None else None
    due = None
    if policy is not None:
        if policy.first_response_minutes and order.first_responded_at is None:
            first = sla.add_business_minutes(schedule, order.created_at, policy.first_response_minutes)
        if policy.resolution_minutes:
            due = sla.add_business_minutes(schedule, start, policy.resolution_minutes)
    order.first_response_due_at, order.due_at = first, due
    await WorkOrder.filter(id=order.id).update(first_response_due_at=first, due_at=due)
    await _schedule_sla(order, start)


async def _clock_start(order: WorkOrder) -> datetime:
    """When the order's resolution clock started: its last reopening, else its creation."""
    reopened = await WorkOrderEvent.filter(work_order_id=order.id, kind="reopened").order_by("-at", "-id") \
        .limit(1).values_list("at", flat=True)
    return reopened[0] if reopened else order.created_at


def _awaits_first_response(order: WorkOrder) -> bool:
    """Whether the first-response target still runs: set, unanswered, and the order never reopened
    (a reopened order is judged by its new resolution target; a first response missed before the
    reopening was escalated then and stays missed in the reports)."""
    return order.first_response_due_at is not None and order.first_responded_at is None \
        and order.reopen_count == 0


async def _schedule_sla(order: WorkOrder, start: datetime | None = None) -> None:
    """The next SLA step of an open order in the shared schedule (none when nothing is due).
    `start`: when its resolution clock started (None: looked up, `_clock_start`)."""
    if not workflow.is_open(order.status):
        await timers.cancel(SLA_TIMER, str(order.id))
        return
    if start is None and order.due_at is not None:
        start = await _clock_start(order)
    moments = []
    if order.due_at is not None:
        warn = sla.warn_at(start or order.created_at, order.due_at)
        moments.append(warn if order.escalation < 1 else order.due_at)
    if _awaits_first_response(order):
        moments.append(order.first_response_due_at)
    if not moments or order.escalation >= 2:
        # Breached is the last step: a timer kept at a moment gone by would fire on every poll.
        await timers.cancel(SLA_TIMER, str(order.id))
        return
    delay = max(0.0, (min(moments) - utcnow()).total_seconds())
    await timers.schedule(SLA_TIMER, str(order.id), delay, {"start": iso(start or order.created_at)}, replace=True)


async def create(actor: User | None, values: dict[str, Any], *, source: str = "manual",
                 offline_message_id: int | None = None) -> WorkOrder:
    """A new order. `values`: site_id, subject, description, priority, category_id, customer name /
    email / phone, visitor_id, conversation_id (links the chat and takes its site and visitor),
    team_id, handler_id (dispatches it at once), language."""
    if source not in SOURCES:
        raise _refuse("source", "Unknown source.")
    if actor is not None and actor.role not in ("agent", "supervisor", "admin"):
        raise ServiceError("forbidden", "Work orders are opened by CSRs, supervisors and admins; back-office "
                                        "staff work on those dispatched to them.")
    conversation = None
    if values.get("conversation_id") is not None:
        conversation = await _conversation(actor, values["conversation_id"])
    visitor = None
    visitor_id = values.get("visitor_id") or (conversation.visitor_id if conversation else None)
    if visitor_id is not None:
        if not isinstance(visitor_id, str) or len(visitor_id) > 40:
            raise _refuse("visitor_id", "No such visitor.", "not_found")
        visitor = await Visitor.get_or_none(id=visitor_id)
        if visitor is None:
            raise _refuse("visitor_id", "No such visitor.", "not_found")
    site_id = values.get("site_id") if visitor is None else visitor.site_id
    if type(site_id) is not int or not await Site.filter(id=site_id).exists():
        raise _refuse("site_id", "Pick a site.")
    if actor is not None and actor.role in ("agent", "supervisor"):
        sites = (await scope.reach(actor)).sites
        if sites is not None and site_id not in sites and conversation is None:
            raise _refuse("site_id", "No such site.", "not_found")
    subject = _text(values.get("subject"), "subject", N_("Subject"), most=MAX_SUBJECT)
    description = _text(values.get("description"), "description", N_("Description"), most=MAX_BODY, required=False)
    priority = values.get("priority") or "normal"
    if priority not in PRIORITIES:
        raise _refuse("priority", "Priority is low, normal, high or urgent.")
    category = await work_setup.category_of(values.get("category_id"))
    name = _text(values.get("customer_name"), "customer_name", N_("Name"), most=100, required=False) \
        or (visitor.name if visitor else None) or None
    email = _text(values.get("customer_email"), "customer_email", N_("E-mail"), most=254, required=False) \
        or (visitor.email if visitor else None) or None
    if email and not mail.plausible_address(email):
        raise _refuse("customer_email", "This is not an e-mail address.")
    phone = _text(values.get("customer_phone"), "customer_phone", N_("Phone"), most=40, required=False) or None
    if phone and not PHONE.match(phone):
        raise _refuse("customer_phone", "A phone number has digits, spaces and + ( ) - . only.")
    language = values.get("language") or "en"
    if language not in mails.LANGUAGES:
        raise _refuse("language", "The customer's language is en or zh-CN.")
    team, handler = await _target(values.get("team_id"), values.get("handler_id"))
    now = utcnow()
    number = await _next_number(now.year)
    order = await WorkOrder.create(
        number=number, site_id=site_id, visitor_id=visitor.id if visitor else None, customer_name=name,
        customer_email=email, customer_phone=phone, customer_language=language, source=source,
        category_id=category.id if category else None, priority=priority, subject=subject, description=description,
        status="assigned" if team or handler else "new", team_id=team.id if team else None,
        handler_id=handler.id if handler else None, created_by_id=actor.id if actor else None,
        created_at=now, updated_at=now, link_secret=secrets.token_hex(16), offline_message_id=offline_message_id)
    if conversation is not None:
        await order.conversations.add(conversation)
    await _event(order, "created", actor, source=source, priority=priority,
                 conversation_id=conversation.id if conversation else None)
    if team or handler:
        await _event(order, "dispatched", actor, team_id=order.team_id, handler_id=order.handler_id)
        await _notify({order.handler_id}, order, "dispatched", f"{order.number} is yours: {order.subject}")
    await _apply_sla(order)
    await _mail_customer(order, "created")
    return order


async def _target(team_id: object, handler_id: object) -> tuple[Team | None, User | None]:
    team = handler = None
    if team_id is not None and team_id != "":
        team = await Team.get_or_none(id=team_id) if type(team_id) is int else None
        if team is None:
            raise _refuse("team_id", "No such team.")
    if handler_id is not None and handler_id != "":
        handler = await User.get_or_none(id=handler_id, is_active=True) if type(handler_id) is int else None
        if handler is None or handler.role not in STAFF_ROLES:
            raise _refuse("handler_id", "No such handler.")
        if team is not None and not await team.members.filter(id=handler.id).exists():
            raise _refuse("handler_id", "%(name)s is not in %(team)s.", name=handler.display_name, team=team.name)
    return team, handler


async def _conversation(user: User | None, conversation_id: object) -> Conversation:
    """A conversation the user reads (anyone's for the system), else `not_found`."""
    conversation = await Conversation.get_or_none(id=conversation_id) if type(conversation_id) is int else None
    if conversation is None or user is not None and not await scope.readable(user, [conversation]):
        raise _refuse("conversation_id", "No such conversation.", "not_found")
    return conversation


async def from_conversation_draft(user: User, conversation_id: object) -> dict[str, Any]:
    """What the console's "Create work order" form starts with: the customer, the chat's site and
    a summary (the visitor's last messages)."""
    conversation = await _conversation(user, conversation_id)
    visitor = await Visitor.get(id=conversation.visitor_id)
    last = await Message.filter(conversation_id=conversation.id, sender_kind="visitor").order_by("-seq").limit(5)
    lines = [m.body for m in reversed(last)]
    summary = "\n".join(lines)[:MAX_BODY]
    subject = (lines[-1] if lines else "").splitlines()[0][:80] if lines else ""
    return {"conversation_id": conversation.id, "site_id": conversation.site_id, "visitor_id": visitor.id,
            "customer_name": visitor.name, "customer_email": visitor.email, "subject": subject,
            "description": summary}


async def settle_note_order(actor: User, offline_message_id: int) -> None:
    """A CSR marked the note done (its queue is theirs: checked by the caller): its order, while
    still open, is resolved by them."""
    order = await WorkOrder.get_or_none(offline_message_id=offline_message_id)
    if order is None or not workflow.is_open(order.status):
        return
    previous = order.status
    await _save(order, status="resolved", resolved_at=utcnow())
    await _event(order, "status", actor, previous=previous, status="resolved", via="note_done")
    await _mail_customer(order, "resolved")
    await _schedule_sla(order)


async def from_offline_note(note: OfflineMessage) -> WorkOrder:
    """A note a visitor left through the offline form becomes a work order (source "offline note")."""
    subject = note.body.strip().splitlines()[0][:80] if note.body.strip() else "Message from the website"
    return await create(None, {"site_id": note.site_id, "visitor_id": note.visitor_id, "subject": subject,
                               "description": note.body, "customer_name": note.name,
                               "customer_email": note.email},
                        source="offline_note", offline_message_id=note.id)


# -- moving an order -------------------------------------------------------------------------------

async def _save(order: WorkOrder, **fields: Any) -> None:
    fields["updated_at"] = utcnow()
    await WorkOrder.filter(id=order.id).update(**fields)
    for key, value in fields.items():
        setattr(order, key, value)


async def dispatch(actor: User, order_id: object, *, team_id: object = None, handler_id: object = None,
                   reason: object = None, transfer: bool = False) -> WorkOrder:
    """Dispatch (派单) an open order to a team and/or a person; a transfer (转派) moves one already
    dispatched and needs a reason."""
    order = await get(actor, order_id)
    await _check(actor, order, "dispatch")
    if not workflow.is_open(order.status):
        raise _refuse("status", NOT_DISPATCHED[order.status], "invalid_state")
    if team_id in (None, "") and handler_id in (None, ""):
        raise _refuse("team_id", "Pick a team or a handler.")
    team, handler = await _target(team_id, handler_id)
    why = _text(reason, "reason", N_("Reason"), most=MAX_REASON, required=transfer)
    if transfer and order.team_id is None and order.handler_id is None:
        raise _refuse("team_id", "Nobody handles this order yet: dispatch it.", "invalid_state")
    before = {"team_id": order.team_id, "handler_id": order.handler_id}
    new_team = team.id if team else (order.team_id if handler and order.team_id and await Team.filter(
        id=order.team_id, members__id=handler.id).exists() else None)
    await _save(order, team_id=new_team, handler_id=handler.id if handler else None,
                status="assigned" if order.status == "new" or handler else order.status)
    if order.status in ("in_progress", "waiting") and before["handler_id"] != order.handler_id:
        await _save(order, status="assigned")
    await _event(order, "transferred" if transfer else "dispatched", actor, reason=why or None, before=before,
                 team_id=order.team_id, handler_id=order.handler_id)
    if before["team_id"] != order.team_id:
        await _apply_sla(order)
    text = f"{order.number} was {'transferred' if transfer else 'dispatched'} to you: {order.subject}"
    await _notify({order.handler_id} - {actor.id}, order, "dispatched", text, transfer=transfer)
    return order


async def move(actor: User, order_id: object, status: object) -> WorkOrder:
    """in_progress (start), waiting (for the customer), resolved, closed, or reopened."""
    order = await get(actor, order_id)
    if not isinstance(status, str):
        raise _refuse("status", "A status is text.")
    if status not in workflow.STATUSES and status != "reopened":
        raise _refuse("status", "Unknown status: %(status)s.", status=repr(status[:40]))  # bad input, not a refused move
    try:
        workflow.check_move(order.status, status)
    except workflow.WorkflowError as exc:
        raise _refuse("status", str(exc), "invalid_state") from None
    if status == "assigned":
        raise _refuse("status", "Dispatch or transfer the order to assign it.", "invalid_state")
    action = {"closed": "close", "reopened": "reopen"}.get(status, "handle")
    await _check(actor, order, action)
    previous = order.status
    now = utcnow()
    if status == "reopened":
        target = workflow.reopened_status(order.team_id is not None or order.handler_id is not None)
        await _save(order, status=target, resolved_at=None, closed_at=None, reopen_count=order.reopen_count + 1,
                    escalation=0)
        await _event(order, "reopened", actor, previous=previous)
        await _apply_sla(order, restart=True)
        await _notify({order.handler_id, *await _watchers(order)} - {actor.id}, order, "reopened",
                      f"{order.number} was reopened: {order.subject}")
        return order
    fields: dict[str, Any] = {"status": status}
    if status == "in_progress" and order.handler_id is None:
        fields["handler_id"] = actor.id  # whoever starts on an unowned order owns it
    if status == "resolved":
        fields["resolved_at"] = now
    if status == "closed":
        fields["closed_at"] = now
    await _save(order, **fields)
    await _event(order, "status", actor, previous=previous, status=status)
    if status == "resolved":
        await _mail_customer(order, "resolved")
        await _notify({order.created_by_id, *await _watchers(order)} - {actor.id}, order, "resolved",
                      f"{order.number} is resolved: {order.subject}")
    await _schedule_sla(order)
    return order


async def change(actor: User, order_id: object, values: dict[str, Any]) -> WorkOrder:
    """Edit the subject, category or priority of an open order (the SLA follows)."""
    order = await get(actor, order_id)
    await _check(actor, order, "dispatch")
    fields: dict[str, Any] = {}
    if "subject" in values:
        fields["subject"] = _text(values["subject"], "subject", N_("Subject"), most=MAX_SUBJECT)
    if "category_id" in values:
        category = await work_setup.category_of(values["category_id"])
        fields["category_id"] = category.id if category else None
    if "priority" in values:
        if values["priority"] not in PRIORITIES:
            raise _refuse("priority", "Priority is low, normal, high or urgent.")
        fields["priority"] = values["priority"]
    if not fields:
        raise _refuse("subject", "Nothing to change.")
    before = {k: getattr(order, k) for k in fields}
    await _save(order, **fields)
    await _event(order, "changed", actor, before=before, after=fields)
    if {"category_id", "priority"} & set(fields) and workflow.is_open(order.status):
        await _apply_sla(order)
    return order


# -- the thread ------------------------------------------------------------------------------------

async def post(actor: User, order_id: object, kind: object, body: object) -> WorkOrderEntry:
    """A public reply to the customer (`reply`, mailed to them), an internal note (`note`) or the
    handler's feedback to the contact center (`feedback`)."""
    order = await get(actor, order_id)
    if kind not in ("reply", "note", "feedback"):
        raise _refuse("kind", "A post is a reply, a note or feedback.")
    text = _text(body, "body", N_("The text"), most=MAX_BODY)
    if kind == "reply":
        await _check(actor, order, "reply")
        if order.status == "closed":
            raise _refuse("status", "Reopen the order to write to the customer.", "invalid_state")
    if kind == "feedback":
        await _check(actor, order, "handle")
    entry = await WorkOrderEntry.create(work_order_id=order.id, kind=kind, author_id=actor.id,
                                        author_name=actor.display_name, body=text, via="web", created_at=utcnow())
    fields: dict[str, Any] = {}
    if kind == "reply" and order.first_responded_at is None:
        fields["first_responded_at"] = entry.created_at
    await _save(order, **fields)
    await _event(order, {"reply": "replied", "note": "noted", "feedback": "feedback"}[kind], actor, entry_id=entry.id,
                 first=bool(fields))
    if kind == "reply":
        await _mail_customer(order, "reply", body=text, who=actor.display_name)
        if fields:
            await _schedule_sla(order)
    if kind == "feedback":
        await _notify({order.created_by_id, *await _watchers(order)} - {actor.id}, order, "feedback",
                      f"Feedback on {order.number}: {order.subject}")
    return entry


async def customer_reply(order: WorkOrder, body: object, *, via: str) -> WorkOrderEntry:
    """The customer's reply, from their status link or by e-mail: back in the thread; an order
    waiting for them goes back to in progress, a resolved one is reopened."""
    text = _text(body, "body", N_("Your reply"), most=MAX_BODY)
    if order.status == "closed":
        raise _refuse("status", "This request is closed. Please start a new one.", "invalid_state")
    entry = await WorkOrderEntry.create(work_order_id=order.id, kind="customer", author_id=None,
                                        author_name=order.customer_name, body=text, via=via, created_at=utcnow())
    previous = order.status
    await _save(order)
    await _event(order, "customer_replied", None, entry_id=entry.id, via=via)
    if previous == "waiting":
        await _save(order, status="in_progress")
        await _event(order, "status", None, previous=previous, status="in_progress")
    elif previous == "resolved":
        await _save(order, status=workflow.reopened_status(order.team_id is not None or order.handler_id is not None),
                    resolved_at=None, reopen_count=order.reopen_count + 1, escalation=0)
        await _event(order, "reopened", None, previous=previous, by="customer")
        await _apply_sla(order, restart=True)
    await _notify({order.handler_id, order.created_by_id, *await _watchers(order)}, order, "customer",
                  f"The customer replied on {order.number}")
    return entry


async def reply_from_mail(recipient: str, sender: str, subject: str, text: str) -> None:
    """An e-mail to an order's reply address (``reply+TOKEN@…``): the customer's reply."""
    local = recipient.partition("@")[0]
    if not local.lower().startswith("reply+"):
        raise ServiceError("not_found", "No such mailbox.")
    order = await order_of_token(local[len("reply+"):])
    await customer_reply(order, text, via="email")


async def public_view(order: WorkOrder) -> dict[str, Any]:
    """What the customer's status link shows: the public thread, never internal posts or staff ids."""
    entries = await WorkOrderEntry.filter(work_order_id=order.id, kind__in=("reply", "customer"))
    return {"number": order.number, "subject": order.subject, "status": order.status,
            "status_label": workflow.LABELS[order.status], "created_at": iso(order.created_at),
            "language": order.customer_language,
            "entries": [{"mine": e.kind == "customer", "author": e.author_name if e.kind == "reply" else None,
                         "body": e.body, "at": iso(e.created_at)} for e in entries],
            "attachments": [_attachment_view(a) for a in await _public_attachments(order)]}


async def _public_attachments(order: WorkOrder) -> list[WorkOrderAttachment]:
    """The files the customer sees: their own, and those of staff replies to them (a file staff
    attached to the order itself, or to a note, stays internal)."""
    public = await WorkOrderEntry.filter(work_order_id=order.id, kind__in=("reply", "customer")) \
        .values_list("id", flat=True)
    return await WorkOrderAttachment.filter(Q(by_customer=True) | Q(entry_id__in=list(public)) if public
                                            else Q(by_customer=True), work_order_id=order.id)


async def visitor_requests(visitor_id: str) -> list[dict[str, Any]]:
    """A returning visitor's requests for the widget's "Your requests": number, subject, status and
    their own status link."""
    rows = await WorkOrder.filter(visitor_id=visitor_id).order_by("-created_at").limit(20)
    return [{"number": o.number, "subject": o.subject, "status": o.status, "status_label": workflow.LABELS[o.status],
             "updated_at": iso(o.updated_at), "link": status_link(o)} for o in rows]


async def of_visitor(user: User, visitor_id: str, *, open_only: bool = True) -> list[dict[str, Any]]:
    """A visitor's orders the user reads (the console's screen pop, the Visitors profile)."""
    r = await reach(user)
    query = WorkOrder.filter(visitor_id=visitor_id)
    if open_only:
        query = query.filter(status__in=workflow.OPEN)
    readable = r.query()
    if readable is not None:
        query = query.filter(readable)
    rows = await query.order_by("-created_at").limit(20)
    names = await _names(rows)
    return [view(o, names) for o in rows]


# -- urge, watch, callbacks ------------------------------------------------------------------------

async def urge(actor: User, order_id: object, note: object = None) -> WorkOrder:
    """Urge (催办) a slow or overdue order: counted, shown, and the handler and the team's lead are notified."""
    order = await get(actor, order_id)
    await _check(actor, order, "urge")
    if not workflow.is_open(order.status):
        raise _refuse("status", "Only an open order can be urged.", "invalid_state")
    why = _text(note, "note", N_("Note"), most=MAX_REASON, required=False)
    await WorkOrder.filter(id=order.id).update(urge_count=F("urge_count") + 1, updated_at=utcnow())
    order = await WorkOrder.get(id=order.id)
    await _event(order, "urged", actor, note=why or None, count=order.urge_count)
    text = f"{actor.display_name} urged {order.number} ({order.urge_count}×): {order.subject}"
    await _notify({order.handler_id, await _lead_of(order.team_id)} - {actor.id}, order, "urged", text,
                  by=actor.display_name, count=order.urge_count)
    return order


async def watch(actor: User, order_id: object, user_id: object, *, on: bool = True) -> None:
    """Add or remove a watcher (cc, 抄送): they are told of feedback, resolution and escalations."""
    order = await get(actor, order_id)
    target = await User.get_or_none(id=user_id, is_active=True) if type(user_id) is int else None
    if target is None or target.role not in STAFF_ROLES:
        raise _refuse("user_id", "No such colleague.")
    if on:
        if not await order.watchers.filter(id=target.id).exists():
            await order.watchers.add(target)
            await _event(order, "watcher_added", actor, user_id=target.id)
    elif await order.watchers.filter(id=target.id).exists():
        await order.watchers.remove(target)
        await _event(order, "watcher_removed", actor, user_id=target.id)


def _when(value: object, field: str) -> datetime:
    if not isinstance(value, str):
        raise _refuse(field, "A time is needed.")
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise _refuse(field, "This is not a time.") from None
    if at.tzinfo is None:
        raise _refuse(field, "A time needs its time zone.")
    return at.astimezone(timezone.utc)  # stored in UTC like every other moment


async def add_callback(actor: User, order_id: object, *, assignee_id: object, due_at: object,
                       note: object = None) -> WorkOrderCallback:
    """A follow-up call or message (回访) after resolution, due by `due_at`, for a CSR."""
    order = await get(actor, order_id)
    if order.status not in ("resolved", "closed"):
        raise _refuse("status", "Callbacks follow a resolved order.", "invalid_state")
    assignee = await User.get_or_none(id=assignee_id, is_active=True) if type(assignee_id) is int else None
    if assignee is None or assignee.role not in STAFF_ROLES:
        raise _refuse("assignee_id", "No such colleague.")
    due = _when(due_at, "due_at")
    if due < utcnow() - timedelta(minutes=5):
        raise _refuse("due_at", "A callback is due in the future.")
    text = _text(note, "note", N_("Note"), most=500, required=False)
    if not await _readable(assignee, order):  # they must be able to open it to call back: they watch it
        await order.watchers.add(assignee)
        await _event(order, "watcher_added", actor, user_id=assignee.id)
    callback = await WorkOrderCallback.create(work_order_id=order.id, assignee_id=assignee.id, due_at=due, note=text,
                                              created_by_id=actor.id, created_at=utcnow())
    await _event(order, "callback_added", actor, callback_id=callback.id, assignee_id=assignee.id, due_at=iso(due))
    await timers.schedule(CALLBACK_TIMER, str(callback.id), max(0.0, (due - utcnow()).total_seconds()),
                          replace=True)
    await _notify({assignee.id} - {actor.id}, order, "callback", f"Callback on {order.number} due {iso(due)}",
                  due=iso(due))
    return callback


async def record_callback(actor: User, callback_id: object, *, outcome: object, note: object = None) -> WorkOrderCallback:
    callback = await WorkOrderCallback.get_or_none(id=callback_id) if type(callback_id) is int else None
    if callback is None:
        raise ServiceError("not_found", "No such callback.")
    order = await get(actor, callback.work_order_id)
    if actor.id != callback.assignee_id and actor.role not in HANDLE_ROLES:
        raise ServiceError("forbidden", "Only the assignee or a supervisor records this callback.")
    if outcome not in CALLBACK_OUTCOMES:
        raise _refuse("outcome", "The outcome is reached, not reached, satisfied or not satisfied.")
    text = _text(note, "note", N_("Note"), most=500, required=False)
    updated = await WorkOrderCallback.filter(id=callback.id, done_at=None).update(
        outcome=outcome, outcome_note=text or None, done_at=utcnow())
    if not updated:
        raise ServiceError("invalid_state", "This callback is recorded already.")
    await timers.cancel(CALLBACK_TIMER, str(callback.id))
    await _event(order, "callback_done", actor, callback_id=callback.id, outcome=outcome)
    return await WorkOrderCallback.get(id=callback.id)


# -- attachments -----------------------------------------------------------------------------------

def attachments_dir() -> Path:
    settings = runtime.current().settings
    return Path(settings.attachments_dir) if settings.attachments_dir else settings.data_dir / "attachments"


def check_file(data: object) -> str:
    """The content type of a file that may be attached, or the refusal (field `file`)."""
    if not isinstance(data, (bytes, bytearray)) or not data:
        raise _refuse("file", "The file is empty.")
    if len(data) > files.MAX_BYTES:
        raise _refuse("file", "A file is at most 10 MB.", "too_large")
    kind = files.sniff(bytes(data[:16]))
    if kind is None:
        raise _refuse("file", "Only images (PNG, JPEG, GIF, WebP) and PDF files can be attached.", "unsupported_type")
    return kind


async def attach(order: WorkOrder, filename: object, data: bytes, *, actor: User | None,
                 entry_id: int | None = None) -> WorkOrderAttachment:
    """Keep an image or a PDF (≤ 10 MB, its type read from its content) on the order; `actor` None:
    the customer, through their link."""
    kind = check_file(data)
    if actor is not None:
        await get(actor, order.id)
    key = secrets.token_hex(20)
    folder = attachments_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / key
    path.write_bytes(bytes(data))
    try:
        attachment = await WorkOrderAttachment.create(
            work_order_id=order.id, entry_id=entry_id, filename=files.safe_name(str(filename or "")),
            content_type=kind, size=len(data), sha256=hashlib.sha256(data).hexdigest(), storage_key=key,
            uploaded_by_id=actor.id if actor else None, by_customer=actor is None, created_at=utcnow())
    except Exception:
        path.unlink(missing_ok=True)
        raise
    await _event(order, "attached", actor, attachment_id=attachment.id, filename=attachment.filename)
    return attachment


async def attachment_file(order: WorkOrder, attachment_id: object, *,
                          customer: bool = False) -> tuple[WorkOrderAttachment, Path]:
    """An attachment of the order and where its bytes are; `customer`: only what their link shows."""
    attachment = await WorkOrderAttachment.get_or_none(id=attachment_id, work_order_id=order.id) \
        if type(attachment_id) is int else None
    if attachment is not None and customer and attachment.id not in {a.id for a in await _public_attachments(order)}:
        attachment = None
    if attachment is None:
        raise ServiceError("not_found", "No such attachment.")
    return attachment, attachments_dir() / attachment.storage_key


# -- the timers ------------------------------------------------------------------------------------

async def sla_timer(subject: str, payload: dict) -> None:
    """The SLA step of an order is due: warn (at risk) or escalate (breached), once each."""
    order = await WorkOrder.get_or_none(id=int(subject))
    if order is None or not workflow.is_open(order.status):
        return
    now = utcnow()
    start_raw = payload.get("start")
    start = datetime.fromisoformat(start_raw) if isinstance(start_raw, str) else order.created_at
    breached = []
    if order.due_at is not None and order.due_at <= now:
        breached.append("resolution")
    if _awaits_first_response(order) and order.first_response_due_at <= now:
        breached.append("first_response")
    level = 2 if breached else (1 if order.due_at is not None and sla.warn_at(start, order.due_at) <= now else 0)
    kind = "escalated" if level == 2 else "sla_warning"
    raised = False
    if level > order.escalation:
        async with in_transaction():  # the level and its event are one write: nobody sees one without the other
            raised = bool(await WorkOrder.filter(id=order.id, escalation__lt=level).update(escalation=level))
            if raised:
                order.escalation = level
                await _event(order, kind, None, level=level, breached=breached)
    if raised:
        what = "is overdue" if level == 2 else "is about to miss its SLA"
        await _notify({order.handler_id, await _lead_of(order.team_id), *await _watchers(order)}, order, kind,
                      f"{order.number} {what}: {order.subject}")
    await _schedule_sla(order, start)


async def callback_timer(subject: str, payload: dict) -> None:
    callback = await WorkOrderCallback.get_or_none(id=int(subject))
    if callback is None or callback.done_at is not None:
        return
    order = await WorkOrder.get(id=callback.work_order_id)
    await _event(order, "callback_due", None, callback_id=callback.id)
    await _notify({callback.assignee_id}, order, "callback_due", f"A callback on {order.number} is due now")


async def resume_sla_timers() -> int:
    """At start-up: every open order's next SLA step and every pending callback is in the schedule
    (kept as it is where it already is). Returns how many orders were looked at."""
    count = 0
    pending = Q(due_at__isnull=False) | Q(first_response_due_at__isnull=False, first_responded_at__isnull=True)
    for order in await WorkOrder.filter(pending, status__in=workflow.OPEN, escalation__lt=2):
        await _schedule_sla(order)
        count += 1
    for callback in await WorkOrderCallback.filter(done_at=None):
        await timers.schedule(CALLBACK_TIMER, str(callback.id),
                              max(0.0, (callback.due_at - utcnow()).total_seconds()))
    return count
