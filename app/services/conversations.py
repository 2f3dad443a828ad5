"""Conversations: start, post a message, read state, close.

Message ordering and idempotency (docs/protocol.md, "Sequence numbers"): a message is stored
with a unique (conversation, client_id) — and a visitor's own message with a unique
(visitor, client_id) — and two sequence numbers, taken in the same transaction: `seq`, the
staff numbering over every message (the conversation's `last_seq`), and `visitor_seq`, the
visitor's numbering over what the visitor may see (`visitor_last_seq`; none for internal
notes). Each audience's numbers run 1, 2, 3 … without holes. A resend of a known client_id
returns the stored message and writes nothing.

Read state: `visitor_read_seq` is kept in the staff numbering (only staff are told it) and
`agent_read_seq` in the visitor's numbering (what the visitor is told); each side's input is
converted on the way in, and the staff view of `agent_read_seq` on the way out.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime
from typing import Any
from fnmatch import fnmatchcase
from urllib.parse import urlsplit

from tortoise.backends.base.client import TransactionalDBClient
from tortoise.exceptions import IntegrityError, OperationalError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from app import presence, rows, runtime
from app.clock import iso, utcnow
from app.models import Conversation, ConversationEvent, Department, Message, Participant, Site, User, Visitor
from app import bus, metrics
from app.routing import hours, rules
from app.tracking import live
from app.services import ServiceError, csat, events, scope, serialize, tracking

# "held": asked for outside its queue's business hours, waiting for the opening (offered to nobody).
OPEN_STATUSES = ("held", "waiting", "assigned")


async def abandon_if_gone(visitor_id: str, left_at: datetime) -> bool:
    """A visitor who left the site while queued (no tab of theirs came back within the grace
    period) abandoned the chat when they left: close it so, with the time they waited."""
    if await presence.count(visitor_id) > 0:
        return False
    conversation = await Conversation.filter(visitor_id=visitor_id, status__in=("waiting", "held")).first()
    if conversation is None:
        return False
    try:
        await close(conversation, by="visitor", at=left_at)
    except ServiceError:  # taken or closed meanwhile
        return False
    return True


# The look-ups of every chat message, their SQL written once (app/rows.py).
_OPEN_OF_VISITOR = rows.Select(lambda: (
    f"SELECT {rows.columns(Conversation)} FROM conversation WHERE visitor_id = {{}} "
    f"AND status IN ({', '.join(repr(s) for s in OPEN_STATUSES)}) ORDER BY id DESC LIMIT 1"
))
_BY_ID = rows.Select(lambda: f"SELECT {rows.columns(Conversation)} FROM conversation WHERE id = {{}}")


async def open_conversation_of(visitor: Visitor) -> Conversation | None:
    return await rows.one(Conversation, _OPEN_OF_VISITOR, visitor.id)


async def visitor_conversation(visitor: Visitor, conversation_id: int) -> Conversation:
    conversation = await Conversation.get_or_none(id=conversation_id, visitor_id=visitor.id)
    if conversation is None:
        raise ServiceError("not_found", "No such conversation.")
    return conversation


async def _next_seqs(conn, conversation_id: int, *, visible: bool) -> tuple[int, int | None]:
    """Take the next staff seq and, for a message the visitor may see, the next visitor seq."""
    # One statement on both back ends (SQLite ≥ 3.35 and PostgreSQL support RETURNING); on
    # PostgreSQL the row lock it takes orders concurrent appends to one conversation.
    mark = "$1" if conn.capabilities.dialect == "postgres" else "?"
    step = 1 if visible else 0
    rows = await conn.execute_query_dict(
        f"UPDATE conversation SET last_seq = last_seq + 1, visitor_last_seq = visitor_last_seq + {step} "
        f"WHERE id = {mark} RETURNING last_seq, visitor_last_seq", [conversation_id]
    )
    return rows[0]["last_seq"], rows[0]["visitor_last_seq"] if visible else None


_MESSAGE_COLUMNS = ("conversation_id", "seq", "visitor_seq", "visitor_id", "sender_kind", "author_id", "author_name",
                    "body", "client_id", "created_at")


class _Found:
    """How the common case of a chat message finds its conversation: `where`, over the conversation
    row (its parameters first); the message's author name is `name`, SQL over that row, or else a
    parameter. Each gets its message's seqs (both: a message the visitor sees) and the message
    stored by statements written once:

    - on PostgreSQL one statement (a data-modifying WITH): the seqs taken, the message inserted
      and the conversation read back, atomic and durable as one transaction;
    - on SQLite one transaction of two statements (the seqs taken with the conversation read back,
      UPDATE … RETURNING; then the INSERT), all of it in one call on the database's thread
      (`_append_sqlite`): each call there is a hand-off between threads, so one rather than four
      (BEGIN, UPDATE, INSERT, COMMIT).
    """

    def __init__(self, where: str, name: str | None = None) -> None:
        self.named = name is not None
        returning = lambda: rows.columns(Conversation) + (f', {name} AS "author_name"' if name else "")  # noqa: E731
        bump = "UPDATE conversation SET last_seq = last_seq + 1, visitor_last_seq = visitor_last_seq + 1 WHERE "
        self.two_step = rows.Select(lambda: f"{bump}{where} RETURNING {returning()}")
        values = ("c.id, c.last_seq, c.visitor_last_seq, CAST({} AS VARCHAR), CAST({} AS VARCHAR), CAST({} AS BIGINT), "
                  + ("c.author_name" if name else "CAST({} AS VARCHAR)")
                  + ", CAST({} AS TEXT), CAST({} AS VARCHAR), CAST({} AS TIMESTAMPTZ)")
        self.one_statement = rows.Select(lambda: (
            f"WITH c AS ({bump}{where} RETURNING {returning()}), "
            f"m AS (INSERT INTO message ({', '.join(_MESSAGE_COLUMNS)}) SELECT {values} FROM c RETURNING id) "
            'SELECT c.*, m.id AS "message_id" FROM c CROSS JOIN m'
        ))


# The visitor's open conversation (the database allows one per visitor), the author name the
# visitor's as it is now; the user's own chat, unless closed.
_INSERT_MESSAGE_SQLITE = (f"INSERT INTO message ({', '.join(_MESSAGE_COLUMNS)}) "
                          f"VALUES ({', '.join('?' * len(_MESSAGE_COLUMNS))})")


def _append_sqlite(db: sqlite3.Connection, bump: str, keys: tuple, values: list,
                   named: bool) -> tuple[dict, int] | None:
    """On SQLite's thread, one transaction: the conversation's seqs taken by `bump` (found by
    `keys`), the message inserted with them and `values` (`_MESSAGE_COLUMNS` from visitor_id on;
    the author name from the row when `named`). (the conversation's row, the message's id); None,
    rolled back, when no conversation is found or the client_id is stored already."""
    cursor = db.cursor()
    try:
        cursor.execute("BEGIN")
        try:
            cursor.execute(bump, keys)
            found = cursor.fetchall()
            if not found:
                cursor.execute("ROLLBACK")
                return None
            row = dict(zip((d[0] for d in cursor.description), found[0]))
            if named:
                values[3] = row["author_name"]
            cursor.execute(_INSERT_MESSAGE_SQLITE, [row["id"], row["last_seq"], row["visitor_last_seq"], *values])
            message_id = cursor.lastrowid
            cursor.execute("COMMIT")
        except sqlite3.IntegrityError:  # a resend: its client_id is stored already
            cursor.execute("ROLLBACK")
            return None
        except BaseException:
            if db.in_transaction:
                cursor.execute("ROLLBACK")
            raise
        return row, message_id
    finally:
        cursor.close()


_VISITORS_OPEN = _Found(f"visitor_id = {{}} AND status IN ({', '.join(repr(s) for s in OPEN_STATUSES)})",
                          "(SELECT v.name FROM visitor v WHERE v.id = conversation.visitor_id)")
_AGENTS_OWN = _Found("id = {} AND agent_id = {} AND status <> 'closed'")


async def _insert_message(conn, **columns: Any) -> Message:
    """Store a new message on `conn` (a transaction's), created now: the ORM's own insert (its SQL
    built once per model, each value converted and validated by its field) without building the
    instance through the model's constructor and save hooks (no signals are registered)."""
    message = rows.instance(Message, {"id": None, **columns, "created_at": utcnow()})
    message._saved_in_db = False
    await conn.executor_class(model=Message, db=conn).execute_insert(message)
    message._saved_in_db = True
    return message


class _NotThere(Exception):
    """No conversation found: the transaction rolls back."""


async def _append_to_found(
    found_by: _Found, *keys: object, sender_kind: str, body: str, client_id: str, author: User | None = None,
    author_name: str | None = None, visitor_id: str | None = None,
) -> tuple[Conversation, Message] | None:
    """The common case of a chat message: stored in the conversation `found_by` finds by `keys`
    with its next seqs; (conversation, message). None, with nothing written, when there is no such
    conversation or the message's client_id is stored already (a resend): the caller's general
    path then says why, or returns the stored message."""
    db = Conversation._meta.db
    author_id = author.id if author else None
    try:
        if db.capabilities.dialect == "postgres":
            now = utcnow()
            args = [visitor_id, sender_kind, author_id] + ([] if found_by.named else [author_name])
            found = await found_by.one_statement.on(db, *keys, *args, body, client_id, now)
            if not found:
                return None
            row = found[0]
            message = rows.instance(Message, {
                "id": row["message_id"], "conversation_id": row["id"], "seq": row["last_seq"],
                "visitor_seq": row["visitor_last_seq"], "visitor_id": visitor_id, "sender_kind": sender_kind,
                "author_id": author_id, "author_name": row.get("author_name", author_name), "body": body,
                "client_id": client_id, "created_at": now})
        elif not isinstance(db, TransactionalDBClient):
            now = utcnow()
            values = [visitor_id, sender_kind, author_id, author_name, body, client_id, now.isoformat(" ")]
            async with db.acquire_connection() as aio:  # the connection's lock, as a transaction takes it
                try:
                    # aiosqlite runs a function on its thread with `_execute` (what its own methods use).
                    done = await aio._execute(_append_sqlite, aio._conn, found_by.two_step.sql("sqlite"), keys,
                                              values, found_by.named)
                except sqlite3.OperationalError as exc:  # as the ORM's own statements raise it
                    raise OperationalError(exc) from exc
            if done is None:
                return None
            row, message_id = done
            message = rows.instance(Message, {
                "id": message_id, "conversation_id": row["id"], "seq": row["last_seq"],
                "visitor_seq": row["visitor_last_seq"], "visitor_id": visitor_id, "sender_kind": sender_kind,
                "author_id": author_id, "author_name": values[3], "body": body, "client_id": client_id,
                "created_at": now})
        else:  # inside a caller's transaction: in it
            async with in_transaction() as conn:
                found = await found_by.two_step.on(conn, *keys)
                if not found:
                    raise _NotThere
                row = found[0]
                message = await _insert_message(
                    conn, conversation_id=row["id"], seq=row["last_seq"], visitor_seq=row["visitor_last_seq"],
                    sender_kind=sender_kind, body=body, client_id=client_id, visitor_id=visitor_id,
                    author_id=author_id, author_name=row.get("author_name", author_name),
                )
    except (_NotThere, IntegrityError):
        return None
    metrics.current().count_message(sender_kind)
    return rows.instance(Conversation, row), message


async def _stored(conversation_id: int, client_id: str, visitor_id: str | None) -> Message | None:
    """The message a resend repeats: the visitor's own by (visitor, client_id), wherever it is
    stored; else by (conversation, client_id)."""
    existing = None
    if visitor_id is not None:
        existing = await Message.get_or_none(visitor_id=visitor_id, client_id=client_id)
    if existing is None:
        existing = await Message.get_or_none(conversation_id=conversation_id, client_id=client_id)
    return existing


async def append_message(
    conversation: Conversation, *, sender_kind: str, body: str, client_id: str | None,
    author: User | None = None, author_name: str | None = None, visitor_id: str | None = None,
) -> tuple[Message, bool]:
    """Store one message with the next seq (and, unless it is an internal note, the next visitor
    seq); return (message, created).

    `visitor_id` marks the visitor's own message: its client_id is then unique per visitor, so a
    resend (from another tab after a new conversation opened, or racing in through another
    worker) returns the message it repeats, wherever it is stored, with created False.
    """
    visible = sender_kind != "internal"
    # No look-up first: the unique (conversation, client_id) and (visitor, client_id) constraints
    # turn a resend into an IntegrityError, which rolls the sequence bumps back; the stored
    # message is returned then.
    try:
        async with in_transaction() as conn:
            seq, visitor_seq = await _next_seqs(conn, conversation.id, visible=visible)
            message = await _insert_message(
                conn, conversation_id=conversation.id, seq=seq, visitor_seq=visitor_seq, sender_kind=sender_kind,
                body=body, client_id=client_id, visitor_id=visitor_id, author_id=author.id if author else None,
                author_name=author_name,
            )
    except IntegrityError:
        # The same client_id raced in from another connection: theirs won, return it.
        if client_id is None:
            raise
        existing = await _stored(conversation.id, client_id, visitor_id)
        if existing is None:
            raise
        return existing, False
    conversation.last_seq = seq
    if visitor_seq is not None:
        conversation.visitor_last_seq = visitor_seq
    metrics.current().count_message(sender_kind)
    return message, True


async def publish_message(conversation: Conversation, message: Message, skip_sid: str | None = None) -> None:
    """Send a stored message to each audience in its own numbering (internal notes: staff only).
    Through Redis the two publishes go out together (each delivers on this worker first)."""
    staff = serialize.message(message)
    if message.sender_kind == "internal":
        await bus.to_staff("message", staff, agent_id=conversation.agent_id, conversation_id=conversation.id)
        return
    shown = serialize.message_for_visitor(message)
    if bus.queued():
        await asyncio.gather(
            bus.to_visitor(conversation.visitor_id, "message", shown, skip_sid=skip_sid),
            bus.to_staff("message", staff, agent_id=conversation.agent_id, conversation_id=conversation.id))
    else:
        await bus.to_visitor(conversation.visitor_id, "message", shown, skip_sid=skip_sid)
        await bus.to_staff("message", staff, agent_id=conversation.agent_id, conversation_id=conversation.id)


async def post_to_open_conversation(visitor_id: str, *, client_id: str, body: str,
                                    skip_sid: str | None = None) -> tuple[Conversation, Message] | None:
    """A visitor's message in the conversation they have open — the common case, nothing read
    first — stored and published: (conversation, message). None, with nothing written, when they
    have none open or it is a resend: `post_visitor_message` then."""
    stored = await _append_to_found(_VISITORS_OPEN, visitor_id, sender_kind="visitor", body=body,
                                    client_id=client_id, visitor_id=visitor_id)
    if stored is not None:
        await publish_message(*stored, skip_sid=skip_sid)
    return stored


async def post_visitor_message(
    visitor: Visitor, *, client_id: str, body: str, name: str | None = None, email: str | None = None,
    skip_sid: str | None = None, department_id: int | None = None, languages: list[str] | None = None,
    open_tried: bool = False,
) -> tuple[Conversation, Message, bool]:
    """Append to the visitor's open conversation, starting one when there is none.

    `department_id` (one of the visitor's site's departments) picks the queue of a new
    conversation; it is ignored when the conversation is already open.
    Returns (conversation, message, started) where `started` says a new conversation began.
    `open_tried`: the caller found no open conversation a moment ago (`post_to_open_conversation`).
    """
    if department_id is not None and not await Department.exists(id=department_id, site_id=visitor.site_id):
        raise ServiceError("not_found", "No such department.")

    if name or email:
        updates = {k: v for k, v in (("name", name), ("email", email)) if v}
        await Visitor.filter(id=visitor.id).update(**updates)
        for key, value in updates.items():
            setattr(visitor, key, value)
        if name:
            await live.update(visitor.id, name=name)
    # The common case first: the visitor's open conversation, found by the statement that takes
    # the message's seqs. None open: the general path, which may start one.
    stored = None if open_tried else await _append_to_found(
        _VISITORS_OPEN, visitor.id, sender_kind="visitor", body=body, client_id=client_id, visitor_id=visitor.id)
    started = False
    if stored is not None:
        (conversation, message), created = stored, True
    else:
        conversation, started = await open_or_start(visitor, department_id, languages or [], client_id=client_id)
        if conversation is None:
            # A resend of the message that started a conversation which has since closed.
            earlier = await Message.get(visitor_id=visitor.id, client_id=client_id)
            return await Conversation.get(id=earlier.conversation_id), earlier, False
        message, created = await append_message(
            conversation, sender_kind="visitor", body=body, client_id=client_id, author_name=visitor.name,
            visitor_id=visitor.id,
        )
    if created:
        await publish_message(conversation, message, skip_sid=skip_sid)
    elif message.conversation_id != conversation.id:  # the resend of a message of an earlier chat
        conversation = await Conversation.get(id=message.conversation_id)
    return conversation, message, started and created


async def open_or_start(
    visitor: Visitor, department_id: int | None = None, languages: list[str] | None = None, *,
    client_id: str | None = None, hours_apply: bool = True,
) -> tuple[Conversation | None, bool]:
    """The visitor's open conversation, or a new one; (conversation, started).

    The database allows one open conversation per visitor (a partial unique index), so two tabs,
    two workers or two messages racing here all end up in the same one. With `client_id`, a
    message of the visitor's already stored (the resend of one that started a chat since closed)
    gives (None, False): nothing is started for it.
    """
    for _ in range(3):
        conversation = await open_conversation_of(visitor)
        if conversation is not None:
            return conversation, False
        if client_id is not None and await Message.exists(visitor_id=visitor.id, client_id=client_id):
            return None, False
        try:
            return await start_conversation(visitor, department_id, languages or [], hours_apply=hours_apply), True
        except IntegrityError:
            continue  # another tab or worker started it a moment ago: take theirs
    raise ServiceError("busy", "Your conversation is being opened; please try again.")


def visitor_priority(visitor: Visitor) -> int:
    """A site marks VIPs through identify attributes: `vip: true` (priority 10) or `priority: 0…100`."""
    attributes = visitor.attributes if isinstance(visitor.attributes, dict) else {}
    priority = attributes.get("priority")
    if isinstance(priority, int) and not isinstance(priority, bool):
        return max(0, min(100, priority))
    return 10 if attributes.get("vip") is True else 0


def _page_path(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return parts.path or "/"


async def rule_department(visitor: Visitor, languages: list[str] | None = None) -> Department | None:
    """The department the routing rules give a chat started without a topic: the first (by name)
    one of whose page patterns matches the visitor's current page; else the first whose languages
    match the browser's preferred languages, in the browser's order of preference."""
    departments = await Department.filter(site_id=visitor.site_id).order_by("name")
    path = _page_path(visitor.current_url)
    if path is not None:
        for department in departments:
            patterns = department.route_pages if isinstance(department.route_pages, list) else []
            if any(isinstance(p, str) and fnmatchcase(path, p) for p in patterns):
                return department
    return rules.department_for_languages(departments, languages or [])


async def queue_schedule(site_id: int, department: Department | None) -> hours.Schedule:
    """The business hours a new chat of this queue meets: its department's, else the site's general
    queue's (none set: always open), in their own time zone or else the center's."""
    if department is not None:
        business_hours, zone, holidays = department.business_hours, department.time_zone, department.holidays
    else:
        site = await Site.get_or_none(id=site_id)
        settings = site.settings if site is not None and isinstance(site.settings, dict) else {}
        general = settings.get("general_queue") if isinstance(settings.get("general_queue"), dict) else {}
        business_hours, zone, holidays = general.get("business_hours"), general.get("time_zone"), general.get("holidays")
    return hours.schedule(business_hours, zone or runtime.current().settings.center_time_zone, holidays or [])


def outside_hours(opens_at: datetime | None) -> ServiceError:
    exc = ServiceError("outside_hours", "We are closed now: leave a note, or come back when we open.")
    exc.extra = {"opens_at": iso(opens_at)}  # type: ignore[attr-defined]
    return exc


async def start_conversation(visitor: Visitor, department_id: int | None = None,
                             languages: list[str] | None = None, *, hours_apply: bool = True) -> Conversation:
    """A new conversation, waiting in its queue. Outside the queue's business hours (`hours_apply`:
    the visitor asked; an invitation a CSR sent is answered whatever the hours) it is refused with
    `outside_hours` and the next opening, or — when the department accepts chats after hours —
    held, offered to nobody, until the opening (app/services/after_hours.py queues it then)."""
    now = utcnow()
    department = await Department.get_or_none(id=department_id) if department_id is not None else \
        await rule_department(visitor, languages)
    department_id = department.id if department else None
    opens_at = None
    if hours_apply:
        schedule = await queue_schedule(visitor.site_id, department)
        if not schedule.open_at(now):
            opens_at = hours.next_open(schedule, now)
            if department is None or not department.accept_after_hours or opens_at is None:
                raise outside_hours(opens_at)
    priority = max(visitor_priority(visitor), department.priority if department else 0)
    # The CSR this visitor last talked to: their chat may wait a little for them (sticky agent).
    last = await (Conversation.filter(visitor_id=visitor.id, agent_id__isnull=False)
                  .order_by("-requested_at").first().values("agent_id"))
    conversation = await Conversation.create(
        site_id=visitor.site_id, visitor_id=visitor.id, department_id=department_id,
        status="waiting" if opens_at is None else "held",
        requested_at=now, priority=priority, sticky_agent_id=last["agent_id"] if last else None,
    )
    if opens_at is not None:
        # Held: not in any queue until the opening (the `held` event's listener sets its timer).
        await events.conversation_event(conversation, "requested", at=now, after_hours=True)
        await events.conversation_event(conversation, "held", at=now, opens_at=iso(opens_at))
        return conversation
    await events.conversation_event(conversation, "requested", at=now)
    await events.conversation_event(conversation, "queued", at=now)
    await bus.board_changed("queued")
    return conversation


async def held_until(conversation: Conversation) -> str | None:
    """When a held chat joins its queue (ISO 8601), from its `held` event."""
    row = await (ConversationEvent.filter(conversation_id=conversation.id, kind="held").order_by("-id").first()
                 .values("data"))
    data = row["data"] if row and isinstance(row["data"], dict) else {}
    return data.get("opens_at")


async def agent_conversation(user: User, conversation_id: int, *, participant: bool = False) -> Conversation:
    """The conversation if this user may act on it; `not_found` otherwise (no leak of others' ids).

    The assigned agent may do everything; someone in the chat with them (a warm transfer's
    colleague, a supervisor who barged in) may write in it where the caller allows
    (`participant`). Who may *read* a chat is app/services/scope.py's to say.
    """
    conversation = await rows.one(Conversation, _BY_ID, conversation_id)
    if conversation is None:
        raise ServiceError("not_found", "No such conversation.")
    if conversation.agent_id == user.id:
        return conversation
    if participant and await Participant.exists(conversation_id=conversation.id, user_id=user.id, left_at=None):
        return conversation
    raise ServiceError("not_found", "No such conversation.")


async def post_agent_message(user: User, conversation_id: int, *, client_id: str, body: str) -> Message:
    # The common case first: the user's own open chat, found (and checked) by the statement that
    # takes the message's seqs. Anything else — someone else's chat, one they are a participant
    # of, a closed one, no such id, a resend — writes nothing there and takes the general path,
    # which says why (or returns the stored message).
    stored = await _append_to_found(_AGENTS_OWN, conversation_id, user.id, sender_kind="agent", body=body,
                                    client_id=client_id, author=user, author_name=user.display_name)
    if stored is not None:
        (conversation, message), created = stored, True
    else:
        conversation = await agent_conversation(user, conversation_id, participant=True)
        if conversation.status == "closed":
            existing = await Message.get_or_none(conversation_id=conversation.id, client_id=client_id)
            if existing is not None:
                return existing
            raise ServiceError("closed", "This conversation is closed.")
        message, created = await append_message(
            conversation, sender_kind="agent", body=body, client_id=client_id, author=user,
            author_name=user.display_name,
        )
    if created:
        if conversation.first_response_at is None:
            updated = await Conversation.filter(id=conversation.id, first_response_at=None).update(
                first_response_at=message.created_at
            )
            if updated:
                await events.conversation_event(
                    conversation, "first_response", agent_id=user.id, at=message.created_at
                )
        await publish_message(conversation, message)
    return message


async def messages_after(conversation: Conversation, after_seq: int, *, include_internal: bool) -> list[Message]:
    """Staff (`include_internal`): every message after staff seq `after_seq`. The visitor: what
    they may see after visitor seq `after_seq`, in the visitor's numbering."""
    if include_internal:
        return await Message.filter(conversation_id=conversation.id, seq__gt=after_seq).order_by("seq")
    return await Message.filter(conversation_id=conversation.id, visitor_seq__gt=after_seq).order_by("visitor_seq")


async def _visitor_seq_at(conversation_id: int, seq: int) -> int:
    """The visitor's numbering of staff seq `seq`: the last visible message at or before it."""
    if seq <= 0:
        return 0
    row = await (Message.filter(conversation_id=conversation_id, seq__lte=seq, visitor_seq__isnull=False)
                 .order_by("-seq").first().values("visitor_seq"))
    return row["visitor_seq"] if row else 0


async def _staff_seq_of(conversation_id: int, visitor_seq: int) -> int:
    """The staff seq of the message the visitor numbers `visitor_seq`."""
    if visitor_seq <= 0:
        return 0
    row = await Message.filter(conversation_id=conversation_id, visitor_seq=visitor_seq).first().values("seq")
    return row["seq"] if row else 0


async def staff_read_seq(conversation: Conversation) -> int:
    """How far the agent has read, in the staff numbering (stored in the visitor's): up to the
    visitor-visible message they read last, not the internal notes after it."""
    return await _staff_seq_of(conversation.id, conversation.agent_read_seq)


async def mark_read(conversation: Conversation, side: str, seq: int) -> None:
    """Record that the visitor or the agent has read up to `seq`, in that side's own numbering
    (never moves backwards, never past the last message); the other side is told in theirs."""
    if side == "visitor":
        # Stored and told to staff in the staff numbering.
        seq = await _staff_seq_of(conversation.id, min(seq, conversation.visitor_last_seq))
        field = "visitor_read_seq"
    else:
        # Stored and told to the visitor in the visitor's numbering.
        seq = await _visitor_seq_at(conversation.id, min(seq, conversation.last_seq))
        field = "agent_read_seq"
    if seq <= getattr(conversation, field):
        return
    await Conversation.filter(id=conversation.id, **{f"{field}__lt": seq}).update(**{field: seq})
    setattr(conversation, field, seq)
    payload = {"conversation_id": conversation.id, "seq": seq}
    if side == "visitor":
        await bus.to_staff("read", payload, agent_id=conversation.agent_id, conversation_id=conversation.id)
    else:
        await bus.to_visitor(conversation.visitor_id, "read", payload)


async def close(conversation: Conversation, *, by: str, user: User | None = None,
                at: datetime | None = None, category_id: int | None = None) -> Conversation:
    """Close a conversation (by 'visitor', 'agent' or 'system'); abandoned when never assigned.

    `category_id` (what the contact was about, checked by the caller) is stored in the same write
    as the close: nobody sees a closed chat whose category is still missing.

    `at` backdates the close to when it really happened (a visitor who left the site while
    queued abandoned when they left, not when the server noticed)."""
    now = at or utcnow()
    # A visitor's (or the system's) close wins over whatever routing is doing at that moment: when
    # the chat was offered or assigned between our read and this write, read it again and close what
    # it has become. A CSR's close stays refused: the chat may have been handed to someone else.
    for _ in range(1 if by == "agent" else 5):
        was = conversation.status
        if was == "closed":
            raise ServiceError("invalid_state", "This conversation is already closed.")
        fields: dict[str, Any] = {"status": "closed", "closed_at": now, "closed_by": by}
        if category_id is not None:
            fields["category_id"] = category_id
        updated = await Conversation.filter(id=conversation.id, status=was).update(**fields)
        if updated:
            break
        await conversation.refresh_from_db()
    else:
        raise ServiceError("invalid_state", "This conversation changed meanwhile; reload it.")
    conversation.status, conversation.closed_at, conversation.closed_by = "closed", now, by
    if category_id is not None:
        conversation.category_id = category_id
    if conversation.agent_id is not None:  # before the events: routing reads the agent's idle time
        await User.filter(id=conversation.agent_id).update(last_chat_ended_at=now)
    if was == "waiting":
        await events.conversation_event(
            conversation, "abandoned", at=now,
            queue_seconds=(now - conversation.requested_at).total_seconds(), by=by,
        )
    elif was == "held":  # left before the opening: an after-hours abandon, never in the queue
        await events.conversation_event(
            conversation, "abandoned", at=now, after_hours=True,
            held_seconds=(now - conversation.requested_at).total_seconds(), by=by,
        )
    await events.conversation_event(conversation, "closed", agent_id=conversation.agent_id, at=now, by=by)
    notice = "The visitor left the chat." if by == "visitor" else "The chat was closed."
    message, _ = await append_message(conversation, sender_kind="system", body=notice, client_id=None)
    await publish_message(conversation, message)
    await Participant.filter(conversation_id=conversation.id, left_at=None).update(left_at=now)
    await publish_conversation(conversation)
    await bus.board_changed("closed")
    return conversation


async def publish_conversation(conversation: Conversation) -> None:
    """Tell both sides about a status or assignment change."""
    agent = await User.get_or_none(id=conversation.agent_id) if conversation.agent_id else None
    visitor = await Visitor.get(id=conversation.visitor_id)
    await bus.to_visitor(visitor.id, "conversation", serialize.conversation_for_visitor(conversation, agent))
    # The preview is what someone wrote: system notices ("… joined the chat") and internal notes are not.
    last = await (Message.filter(conversation_id=conversation.id, sender_kind__in=("visitor", "agent"))
                  .order_by("-seq").first())
    await bus.to_staff(
        "conversation.updated",
        serialize.conversation_for_agent(conversation, visitor, last, agent_read_seq=await staff_read_seq(conversation)),
        agent_id=conversation.agent_id, conversation_id=conversation.id,
    )


async def history(visitor: Visitor, limit: int = 20) -> list[dict]:
    """The visitor's conversations, newest first, with what the visitor may see of them (their
    numbering, no internal notes). A verified identity also gets the ended conversations of the
    same person's other verified devices (`other_device: true`), to read only: `sync`, `read`,
    `rate` and `close` take a browser's own conversations, so a chat is carried on where it was had."""
    others = [i for i in await tracking.linked_visitor_ids(visitor) if i != visitor.id]
    mine = Q(visitor_id=visitor.id)
    query = Conversation.filter(mine | Q(visitor_id__in=others, status="closed") if others else mine)
    conversations = await query.order_by("-id").limit(limit)
    items = await _with_messages(conversations, include_internal=False, for_agent=None)
    for conversation, item in zip(conversations, items):
        item["other_device"] = conversation.visitor_id != visitor.id
    return items


async def past_conversations(user: User, visitor: Visitor, exclude_id: int | None, limit: int = 20) -> list[dict]:
    """The visitor's conversations this user may read (scope), newest first, with every message
    (internal notes included); the others are left out entirely. Audited as `read_profile`."""
    query = Conversation.filter(visitor_id=visitor.id).order_by("-id")
    if exclude_id is not None:
        query = query.exclude(id=exclude_id)
    shown = (await scope.readable(user, await query))[:limit]
    await scope.audit_reads(user, shown, "read_profile")
    return await _with_messages(shown, include_internal=True, for_agent=visitor)


async def _with_messages(conversations: list[Conversation], *, include_internal: bool, for_agent: Visitor | None) -> list[dict]:
    """With their messages: for staff (`for_agent`) in the staff numbering, for the visitor in theirs."""
    if not conversations:
        return []
    ids = [c.id for c in conversations]
    query = Message.filter(conversation_id__in=ids)
    if not include_internal:
        query = query.exclude(sender_kind="internal")
    shape = serialize.message if for_agent is not None else serialize.message_for_visitor
    by_conversation: dict[int, list[dict]] = {i: [] for i in ids}
    staff_seq_of: dict[tuple[int, int], int] = {}  # (conversation, visitor seq) → staff seq
    for m in await query.order_by("conversation_id", "seq"):
        by_conversation[m.conversation_id].append(shape(m))
        if m.visitor_seq is not None:
            staff_seq_of[(m.conversation_id, m.visitor_seq)] = m.seq
    agents = {u.id: u for u in await User.filter(id__in={c.agent_id for c in conversations if c.agent_id})}
    ratings = await csat.ratings_of([c.id for c in conversations if c.status == "closed"])
    out = []
    for c in conversations:
        if for_agent is not None:
            read = staff_seq_of.get((c.id, c.agent_read_seq), 0)
            item = serialize.conversation_for_agent(c, for_agent, agent_read_seq=read)
            item["agent_name"] = agents[c.agent_id].display_name if c.agent_id in agents else None
        else:
            item = serialize.conversation_for_visitor(c, agents.get(c.agent_id))
        item["messages"] = by_conversation[c.id]
        item["rating"] = ratings.get(c.id)
        out.append(item)
    return out


async def agent_list(user: User) -> list[dict]:
    joined = await Participant.filter(user_id=user.id, left_at=None).values_list("conversation_id", flat=True)
    conversations = await Conversation.filter(Q(agent_id=user.id) | Q(id__in=list(joined)), status="assigned") \
        .order_by("assigned_at")
    return [await agent_summary(c) for c in conversations]


async def agent_summary(conversation: Conversation) -> dict:
    visitor = await Visitor.get(id=conversation.visitor_id)
    # The preview is what someone wrote: system notices ("… joined the chat") and internal notes are not.
    last = await (Message.filter(conversation_id=conversation.id, sender_kind__in=("visitor", "agent"))
                  .order_by("-seq").first())
    # agent_read_seq is in the visitor's numbering, which every visitor message has.
    unread = await Message.filter(
        conversation_id=conversation.id, visitor_seq__gt=conversation.agent_read_seq, sender_kind="visitor"
    ).count()
    summary = serialize.conversation_for_agent(conversation, visitor, last, unread,
                                               agent_read_seq=await staff_read_seq(conversation))
    if conversation.status == "closed":
            summary["rating"] = (await csat.ratings_of([conversation.id])).get(conversation.id)
    else:
        summary["rating"] = None
    summary["participants"] = [
        {"id": p["user_id"], "name": p["user__display_name"], "kind": p["kind"]}
        for p in await Participant.filter(conversation_id=conversation.id, left_at=None)
        .order_by("joined_at").values("user_id", "user__display_name", "kind")
    ]
    return summary
