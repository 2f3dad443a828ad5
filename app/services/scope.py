"""Scope: who may see which conversation, visitor, trail and note — the one place that decides.

Every read path asks here (`open`, `sync`, `monitor`, `visitor_profile` and `open`'s `past`, the
Visitors list and `invite`, the notes left for the team, the reports, the explorer, the export).

- Sites a CSR (role "agent") serves: the sites of their departments; a CSR in no department
  serves every site (routing gives every CSR every site's general queue).
- A CSR may read a **conversation** (messages, internal notes included — notes are staff-only,
  never sent to visitors) when they hold it, held it before (an `assigned` or `transferred` event
  with their id, or a participant row), are in it now (a warm transfer, a barge), or it belongs to
  one of their departments, or it is a general-queue chat (no department) of a site they serve.
- A CSR may read a **visitor** (profile, trail, custom events, attributes, live Visitors list
  entry, invite) when the visitor's site is one they serve, or they hold or held a conversation
  with the visitor. In a visitor's profile and in `open`'s `past` list, conversations the CSR may
  not read are left out entirely (not even their count). A note left for the team (offline
  message) is read like a conversation of its queue.
- Supervisor: every conversation and visitor, for now (`reach` is where "supervisors see only
  their departments" will go).
- Admin: everything. Marketer: trails only (visitors, visits, page views, the explorer, reports
  that carry no message text) — never messages, transcripts or notes; a marketer's profile of a
  visitor carries no conversations.
- Reading a conversation one does not hold and is not in (a supervisor or admin through
  `open`/`sync`, a CSR reading an earlier transcript in a profile or in `past`) writes an audit
  row (`read_conversation`, `read_profile`; `monitor` writes its own) — at most one per user per
  conversation per 10 minutes, counted in the shared rate limiter so every worker agrees.

What may not be read answers `not_found`, exactly like an id that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.expressions import Q

from app import runtime
from app.clock import utcnow
from app.models import AuditEvent, Conversation, ConversationEvent, Department, Participant, User, Visitor
from app.services import ServiceError

SUPERVISOR_ROLES = ("supervisor", "admin")
TRAIL_ROLES = ("marketer", "supervisor", "admin")  # the explorer: every site's trails, no text
HELD_KINDS = ("assigned", "transferred")
AUDIT_WINDOW_SECONDS = 600


@dataclass(frozen=True)
class Reach:
    """The queues a user reads: `sites` / `departments` None means every one. `messages` False: no
    conversation, transcript or note at all (marketers)."""

    user_id: int
    messages: bool
    sites: frozenset[int] | None
    departments: frozenset[int] | None

    def serves(self, site_id: int) -> bool:
        return self.sites is None or site_id in self.sites

    def covers(self, site_id: int, department_id: int | None) -> bool:
        """A chat or note of this queue: a department of theirs, or a general queue of a site they serve."""
        if not self.messages:
            return False
        if self.departments is None:
            return True
        return department_id in self.departments if department_id is not None else self.serves(site_id)


async def reach(user: User) -> Reach:
    """What `user` reads, by role (and a CSR's departments)."""
    if user.role == "admin":
        return Reach(user.id, True, None, None)
    if user.role == "supervisor":
        # For now every conversation and visitor; their own departments only is a later change, here.
        return Reach(user.id, True, None, None)
    if user.role == "agent":
        rows = await Department.filter(users__id=user.id).values("id", "site_id")
        if not rows:  # in no department: every site's general queue is theirs
            return Reach(user.id, True, None, frozenset())
        return Reach(user.id, True, frozenset(r["site_id"] for r in rows), frozenset(r["id"] for r in rows))
    if user.role == "marketer":
        return Reach(user.id, False, None, frozenset())
    return Reach(user.id, False, frozenset(), frozenset())


def may_explore(user: User) -> bool:
    """The explorer: trails and aggregates of every site, never message text."""
    return user.role in TRAIL_ROLES


def may_read_reports(user: User) -> bool:
    """KPI reports cover every queue and CSR: supervisors and admins."""
    return user.role in SUPERVISOR_ROLES


def may_export(user: User) -> bool:
    """A visitor's data export carries their transcripts: admins (who read everything)."""
    return user.role == "admin"


async def _taken_part(user_id: int, conversation_ids: list[int]) -> set[int]:
    """Of these conversations, those the user held (an assigned / transferred event) or took part in."""
    if not conversation_ids:
        return set()
    held = await ConversationEvent.filter(conversation_id__in=conversation_ids, agent_id=user_id,
                                          kind__in=HELD_KINDS).values_list("conversation_id", flat=True)
    joined = await Participant.filter(conversation_id__in=conversation_ids, user_id=user_id) \
        .values_list("conversation_id", flat=True)
    return set(held) | set(joined)


async def readable(user: User, conversations: list[Conversation]) -> list[Conversation]:
    """The conversations of `conversations` the user may read, in their order."""
    scope = await reach(user)
    if not scope.messages:
        return []
    if scope.departments is None:
        return list(conversations)
    rest = [c.id for c in conversations if c.agent_id != user.id and not scope.covers(c.site_id, c.department_id)]
    part = await _taken_part(user.id, rest)
    return [c for c in conversations if c.id not in rest or c.id in part]


async def _present(user: User, conversation: Conversation) -> bool:
    """Holds it or is in it now (a warm transfer, a barge)."""
    return conversation.agent_id == user.id or await Participant.exists(
        conversation_id=conversation.id, user_id=user.id, left_at=None)


async def read_conversation(user: User, conversation_id: int) -> tuple[Conversation, bool]:
    """The conversation if the user may read it (`not_found` otherwise), audited when they neither
    hold it nor are in it; and whether they follow it live (its room): who holds it or is in it,
    and supervisors and admins, who may watch any chat."""
    conversation = await Conversation.get_or_none(id=conversation_id)
    if conversation is None or not await readable(user, [conversation]):
        raise ServiceError("not_found", "No such conversation.")
    present = await _present(user, conversation)
    if not present:
        await audit_reads(user, [conversation], "read_conversation")
    return conversation, present or user.role in SUPERVISOR_ROLES


async def audit_reads(user: User, conversations: list[Conversation], action: str) -> None:
    """One audit row per conversation read that the user neither holds nor is in, unless one of
    theirs for it is younger than AUDIT_WINDOW_SECONDS (so `sync` does not flood the log)."""
    joined = set(await Participant.filter(conversation_id__in=[c.id for c in conversations], user_id=user.id,
                                          left_at=None).values_list("conversation_id", flat=True)) \
        if conversations else set()
    rows = [AuditEvent(actor_id=user.id, action=action, conversation_id=c.id, at=utcnow(), data={})
            for c in conversations
            if c.agent_id != user.id and c.id not in joined and await claim_audit(user, c.id)]
    if rows:
        await AuditEvent.bulk_create(rows)


async def claim_audit(user: User, conversation_id: int) -> bool:
    """True when no read of this conversation by this user was audited within the window (and
    claims it): the shared rate limiter makes this one atomic step across workers."""
    key = f"audit:read:{user.id}:{conversation_id}"
    return await runtime.current().rate_limiter.hit(key, 1, AUDIT_WINDOW_SECONDS) is None


async def read_visitor(user: User, visitor_id: str | None) -> Visitor:
    """The visitor if the user may read them (bots are nobody's); `not_found` otherwise."""
    visitor = await Visitor.get_or_none(id=visitor_id) if visitor_id else None
    if visitor is None or visitor.is_bot or not await may_read_visitor(user, visitor):
        raise ServiceError("not_found", "No such visitor.")
    return visitor


async def may_read_visitor(user: User, visitor: Visitor) -> bool:
    scope = await reach(user)
    if scope.serves(visitor.site_id):
        return True
    if user.role != "agent":
        return False
    # A CSR of other sites who holds or held a conversation with them.
    ids = await Conversation.filter(visitor_id=visitor.id).values_list("id", "agent_id")
    if any(agent_id == user.id for _, agent_id in ids):
        return True
    return bool(await _taken_part(user.id, [i for i, _ in ids]))


async def live_sites(user: User) -> frozenset[int] | None:
    """The sites whose visitors the user's Visitors list shows (None: every site)."""
    scope = await reach(user)
    return scope.sites


def queue_filter(scope: Reach) -> Q | None:
    """A query filter for the rows (conversations, notes) of the queues `scope` covers; None: every one."""
    if scope.departments is None:
        return None
    general = Q(department_id=None) if scope.sites is None else Q(department_id=None, site_id__in=list(scope.sites))
    if not scope.departments:
        return general
    return Q(department_id__in=list(scope.departments)) | general
