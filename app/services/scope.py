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
- Supervisor: the same queues and sites as a CSR of the same departments — the chats of their
  departments, the general-queue chats of those departments' sites, those sites' visitors — and
  they act on them (`monitor`, `whisper`, `barge`, `take_over`). The **staff** they see and act on
  (the board, `force_status`, transfer targets: `supervised_staff`) are the members of their
  departments (`members`), whoever holds a chat of their queues right now, and themselves. A
  supervisor in no department oversees the general team, like a CSR in no department: every
  site's general queue and the CSRs and supervisors in no department — never a department's chats
  or people (to oversee the whole center, be an admin or a member of every department). Their
  reports, wallboard and staffing plan count only the chats of their queues (`covers`, by the
  queue the chat was requested in), the states and shifts of their `members` and the invitations
  of their sites. The explorer (trails, no text) stays every site's, as for marketers.
- Admin: everything. Marketer: trails only (visitors, visits, page views, the explorer, reports
  that carry no message text) — never messages, transcripts or notes; a marketer's profile of a
  visitor carries no conversations.
- Reading a conversation one does not hold and is not in (a supervisor or admin through
  `open`/`sync`, a CSR reading an earlier transcript in a profile or in `past`) writes an audit
  row (`read_conversation`, `read_profile`; `monitor` writes its own) — at most one per user per
  conversation per 10 minutes, counted in the shared rate limiter so every worker agrees.

What may not be read answers `not_found`, exactly like an id that does not exist (an HTTP
report filtered by a department or CSR out of scope: 404).
"""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.expressions import Q

from app import bus, runtime
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
    """What `user` reads, by role (and a CSR's or supervisor's departments)."""
    if user.role == "admin":
        return Reach(user.id, True, None, None)
    if user.role in ("agent", "supervisor"):
        rows = await Department.filter(users__id=user.id).values("id", "site_id")
        if not rows:  # in no department: every site's general queue is theirs (and no department's)
            return Reach(user.id, True, None, frozenset())
        return Reach(user.id, True, frozenset(r["site_id"] for r in rows), frozenset(r["id"] for r in rows))
    if user.role == "marketer":
        return Reach(user.id, False, None, frozenset())
    return Reach(user.id, False, frozenset(), frozenset())


def may_explore(user: User) -> bool:
    """The explorer: trails and aggregates of every site, never message text."""
    return user.role in TRAIL_ROLES


def may_read_reports(user: User) -> bool:
    """KPI reports: supervisors (of their queues and staff) and admins (everything)."""
    return user.role in SUPERVISOR_ROLES


STAFF_ROLES = ("agent", "supervisor", "admin")
GENERAL_TEAM_ROLES = ("agent", "supervisor")  # who a supervisor in no department oversees


async def members(user: User) -> frozenset[int] | None:
    """The staff of a supervisor's departments (None: everyone, for admins), themselves included.
    In no department: the CSRs and supervisors in no department (the general team)."""
    scope = await reach(user)
    if scope.departments is None:
        return None
    if scope.departments:
        ids = await User.filter(departments__id__in=list(scope.departments), is_active=True,
                                role__in=STAFF_ROLES).values_list("id", flat=True)
    else:
        placed = await Department.filter(users__id__isnull=False).values_list("users__id", flat=True)
        ids = await User.filter(is_active=True, role__in=GENERAL_TEAM_ROLES) \
            .exclude(id__in=list(set(placed))).values_list("id", flat=True)
    return frozenset(ids) | {user.id}


async def supervised_staff(user: User) -> frozenset[int] | None:
    """The staff a supervisor sees on the board and acts on (`force_status`, transfer targets):
    `members`, and whoever holds a chat of their queues now. None: everyone (admins)."""
    team = await members(user)
    if team is None:
        return None
    mine = queue_filter(await reach(user))
    holders = Conversation.filter(status="assigned", agent_id__isnull=False)
    if mine is not None:
        holders = holders.filter(mine)
    return team | frozenset(await holders.distinct().values_list("agent_id", flat=True))


async def supervises(user: User, conversation: Conversation) -> bool:
    """A supervisor may watch and act on (`monitor`, `whisper`, `barge`, `take_over`) a chat of
    their queues, or one they hold or are in now; admins any chat."""
    if user.role == "admin":
        return True
    if user.role != "supervisor":
        return False
    if (await reach(user)).covers(conversation.site_id, conversation.department_id):
        return True
    return await _present(user, conversation)


async def supervisors_out_of_reach(conversation: Conversation) -> list[int]:
    """The supervisors (not admins) whose queues no longer cover this chat and who are not in it:
    when a chat moves to another department they stop following it live."""
    out = []
    for supervisor in await User.filter(role="supervisor", is_active=True):
        if not await supervises(supervisor, conversation):
            out.append(supervisor.id)
    return out


async def leave_out_of_reach(user_id: int) -> None:
    """A supervisor whose departments changed stops following, on every worker, the open chats
    now outside them (unless they hold them or are in them)."""
    user = await User.get_or_none(id=user_id)
    if user is None or user.role != "supervisor":
        return
    scope = await reach(user)
    for conversation in await Conversation.filter(status__in=("waiting", "assigned")):
        if not scope.covers(conversation.site_id, conversation.department_id) \
                and not await _present(user, conversation):
            await bus.leave_conversation(user.id, conversation.id)


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
    and supervisors of its queue and admins, who may watch it (`supervises`)."""
    conversation = await Conversation.get_or_none(id=conversation_id)
    if conversation is None or not await readable(user, [conversation]):
        raise ServiceError("not_found", "No such conversation.")
    present = await _present(user, conversation)
    if not present:
        await audit_reads(user, [conversation], "read_conversation")
    return conversation, present or await supervises(user, conversation)


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
    if user.role not in ("agent", "supervisor"):
        return False
    # A CSR (or supervisor) of other sites who holds or held a conversation with them.
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


# Quality (app/quality, docs/quality.md): who evaluates which chats and reads which evaluations.
QA_ROLES = ("qa", "supervisor", "admin")  # evaluators
SCORECARD_ROLES = ("supervisor", "admin")  # build scorecards and sampling rules (never a `qa` user)


def may_evaluate(user: User) -> bool:
    """The Quality pages (queue, evaluation, calibration, coaching): evaluators."""
    return user.role in QA_ROLES


async def evaluates(user: User, site_id: int, department_id: int | None) -> bool:
    """May `user` evaluate (and read the evaluations of) a chat of this queue? A `qa` user and an admin:
    every chat of the center; a supervisor: the chats of their queues (`covers`); anyone else: none."""
    if user.role in ("qa", "admin"):
        return True
    if user.role == "supervisor":
        return (await reach(user)).covers(site_id, department_id)
    return False


async def evaluation_reach(user: User) -> tuple[bool, frozenset[int] | None]:
    """Whose evaluations and scorecards `user` reads: (True, None) everyone's (qa, admin); (True, ids) the
    staff a supervisor oversees (`members`); (False, {own id}) a CSR their own; (False, ∅) nobody (marketers,
    back office)."""
    if user.role in ("qa", "admin"):
        return True, None
    if user.role == "supervisor":
        return True, await members(user)
    if user.role == "agent":
        return False, frozenset({user.id})
    return False, frozenset()


async def may_edit_scorecard(user: User, department_id: int | None) -> bool:
    """Scorecards and sampling rules: an admin any; a supervisor those of their departments (a supervisor in
    no department: the center-wide ones, as they oversee the general team)."""
    if user.role == "admin":
        return True
    if user.role != "supervisor":
        return False
    scope = await reach(user)
    if department_id is None:
        return scope.departments is not None and not scope.departments
    return scope.departments is not None and department_id in scope.departments
