"""The demo's quality monitoring (README "Quality"): a scorecard with a critical item and an automatic
check, a sampling rule, a quality evaluator, and weeks of history for a new CSR (started five weeks ago)
and a veteran (started a year ago), so the CSR scorecard and its tenure curve show something.

The history is what the live services would have written — conversations with their event-log rows
(requested, queued, assigned, first response, closed, rated), the CSRs' status events and shifts — made
with bulk inserts (`write_history`), which tests use too to script a history whose figures they
compute by hand. The evaluations go through the evaluation service (app/services/evaluations.py).
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from tortoise.transactions import in_transaction

from app.reports import kept_days
from app.services import evaluations, scorecards
from app.models import (
    AgentStatusEvent, Conversation, ConversationEvent, Department, SamplingRule, Shift, Site, User, Visitor,
)


@dataclass(frozen=True)
class ChatScript:
    """One chat a CSR answered: requested at `at`, answered after `queue` seconds, first reply
    `first_response` seconds after the answer, closed `handle` seconds after the answer; `rating` good |
    neutral | bad | None; `visitor`: the visitor's id (a new one when None)."""

    at: datetime
    queue: float = 10.0
    first_response: float | None = 30.0
    handle: float = 600.0
    rating: str | None = None
    visitor: str | None = None


@dataclass(frozen=True)
class DayScript:
    """A working day: Available from `start` to `end` (local times on `day`, UTC here), away (`reason`)
    from `away_from` for `away_minutes`, Offline after; a shift of the same hours when `shift`."""

    day: date
    start: time = time(9, 0)
    end: time = time(17, 0)
    away_from: time | None = time(12, 0)
    away_minutes: int = 30
    reason: str = "Lunch"
    shift: bool = True


def _at(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=timezone.utc)


async def write_history(site: Site, agent: User, chats: list[ChatScript], days: list[DayScript],
                        department: Department | None = None) -> list[Conversation]:
    """Insert a CSR's closed chats (with their event-log rows), status events and shifts in bulk."""
    visitors: dict[str, Visitor] = {}
    keys = [chat.visitor or secrets.token_hex(12) for chat in chats]
    known = set(await Visitor.filter(id__in=list(set(keys))).values_list("id", flat=True)) if keys else set()
    for chat, key in zip(chats, keys):
        if key not in visitors and key not in known:
            visitors[key] = Visitor(id=key, site_id=site.id, first_seen=chat.at, last_seen=chat.at, visit_count=1)
    if visitors:
        await Visitor.bulk_create(list(visitors.values()))
    department_id = department.id if department else None
    events = []
    # One transaction for the chats (their ids are needed for the events, so they are made one by one).
    async with in_transaction():
        conversations = [await Conversation.create(
            site_id=site.id, visitor_id=visitor_id, department_id=department_id, agent_id=agent.id, status="closed",
            requested_at=chat.at, assigned_at=chat.at + timedelta(seconds=chat.queue),
            first_response_at=(chat.at + timedelta(seconds=chat.queue + chat.first_response)
                               if chat.first_response is not None else None),
            closed_at=chat.at + timedelta(seconds=chat.queue + chat.handle), closed_by="agent")
            for chat, visitor_id in zip(chats, keys)]
    for chat, conversation in zip(chats, conversations):
        answered = chat.at + timedelta(seconds=chat.queue)
        replied = answered + timedelta(seconds=chat.first_response) if chat.first_response is not None else None
        closed = answered + timedelta(seconds=chat.handle)
        common = {"conversation_id": conversation.id, "site_id": site.id, "department_id": department_id}
        events += [ConversationEvent(kind="requested", at=chat.at, data={}, **common),
                   ConversationEvent(kind="queued", at=chat.at, data={}, **common),
                   ConversationEvent(kind="assigned", at=answered, agent_id=agent.id,
                                     data={"queue_seconds": chat.queue}, **common)]
        if replied is not None:
            events.append(ConversationEvent(kind="first_response", at=replied, agent_id=agent.id, data={}, **common))
        events.append(ConversationEvent(kind="closed", at=closed, agent_id=agent.id, data={"by": "agent"}, **common))
        if chat.rating:
            events.append(ConversationEvent(kind="rated", at=closed + timedelta(seconds=30), data={"rating": chat.rating},
                                            **common))
    if events:
        await ConversationEvent.bulk_create(events)
        # Chats of finished days: their kept days are stale (app/reports/kept_days.py).
        await kept_days.invalidate_between(min(c.requested_at for c in conversations),
                                           max(c.requested_at for c in conversations))
    states, shifts = [], []
    for d in days:
        start, end = _at(d.day, d.start), _at(d.day, d.end)
        states.append(AgentStatusEvent(user_id=agent.id, status="available", previous_status="offline", at=start))
        if d.away_from is not None:
            away = _at(d.day, d.away_from)
            states.append(AgentStatusEvent(user_id=agent.id, status="away", reason=d.reason,
                                           previous_status="available", at=away))
            states.append(AgentStatusEvent(user_id=agent.id, status="available", previous_status="away",
                                           at=away + timedelta(minutes=d.away_minutes)))
        states.append(AgentStatusEvent(user_id=agent.id, status="offline", previous_status="available", at=end))
        if d.shift:
            shifts.append(Shift(user_id=agent.id, starts_at=start, ends_at=end))
    if states:
        await AgentStatusEvent.bulk_create(states)
    if shifts:
        await Shift.bulk_create(shifts)
    return conversations


# -- the demo ------------------------------------------------------------------------------------------

DEMO_SECTIONS = [
    {"title": "Opening", "criteria": [
        {"key": "greets", "label": "Greets the visitor by name", "weight": 1, "auto": "greeting",
         "guidance": "Hello / Hi and the visitor's name when known."},
        {"key": "first_reply", "label": "First reply within the department's threshold", "weight": 1,
         "auto": "first_response", "guidance": "Filled from the event log."},
    ]},
    {"title": "Resolution", "criteria": [
        {"key": "verifies", "label": "Verifies the order number before changing an order", "weight": 2,
         "critical": True, "guidance": "A change without verification fails the whole evaluation."},
        {"key": "solves", "label": "Solves the question", "scale": "five", "weight": 3},
        {"key": "closing", "label": "Offers more help before closing", "weight": 1, "auto": "closing"},
    ]},
]


def _workdays(first: date, last: date) -> list[date]:
    out, day = [], first
    while day <= last:
        if day.weekday() < 5:
            out.append(day)
        day += timedelta(days=1)
    return out


async def seed(site: Site, password: str, *, admin_email: str, supervisor_email: str, today: date | None = None,
               create_user=None) -> None:
    """The demo's quality monitoring, once (a demo made before has it already when its evaluator exists)."""
    if await User.filter(email=DEMO_QA_EMAIL).exists():
        return
    rng = random.Random(15)
    today = today or datetime.now(timezone.utc).date()
    support = await Department.get_or_none(site_id=site.id, name="Support")
    admin = await User.get_or_none(email=admin_email)
    if support is None or admin is None:  # a demo whose Support department or admin was removed
        return
    qa = await create_user(DEMO_QA_EMAIL, password, "qa", "Quinn (demo quality evaluator)")
    new = await create_user(DEMO_NEW_CSR_EMAIL, password, "agent", "Nina (new CSR)")
    veteran = await create_user(DEMO_VETERAN_EMAIL, password, "agent", "Victor (veteran CSR)")
    new_start, veteran_start = today - timedelta(weeks=5), today - timedelta(days=365)
    await User.filter(id=new.id).update(started_on=new_start)
    await User.filter(id=veteran.id).update(started_on=veteran_start)
    await support.users.add(new, veteran)
    await scorecards.save(admin, name="Chat quality", sections=DEMO_SECTIONS,
                          description="Every Support chat: greeting, a quick first reply, verification, a solution.")
    rule = await SamplingRule.create(department_id=support.id, per_agent_per_week=2, on_bad_rating=True,
                                     on_long_handle=True, on_transfer=True)
    await rule.evaluators.add(qa)

    days = _workdays(new_start, today - timedelta(days=1))
    scored: dict[int, list[Conversation]] = {}
    for agent, is_new in ((new, True), (veteran, False)):
        chats = []
        for day in days:
            progress = min(1.0, (day - new_start).days / 35)  # 0 on the new CSR's first day, 1 five weeks on
            per_day = (3 + round(3 * progress)) if is_new else 6
            for n in range(per_day):
                at = _at(day, time(9, 10)) + timedelta(minutes=70 * n + rng.randint(0, 20))
                if is_new:
                    first = 70 - 40 * progress + rng.uniform(-8, 8)
                    handle = 1000 - 450 * progress + rng.uniform(-60, 60)
                    good = rng.random() < 0.55 + 0.3 * progress
                else:
                    first = 22 + rng.uniform(-6, 6)
                    handle = 480 + rng.uniform(-60, 60)
                    good = rng.random() < 0.88
                rating = None if rng.random() < 0.4 else ("good" if good else rng.choice(["neutral", "bad"]))
                # A visitor who comes back within the day: not resolved at first contact (more often early on).
                again = chats and rng.random() < (0.3 - 0.2 * progress if is_new else 0.08)
                chats.append(ChatScript(at=at, queue=rng.uniform(3, 25), first_response=round(first, 1),
                                        handle=round(handle, 1), rating=rating,
                                        visitor=f"demo-qa-{agent.id}-{len(chats) - 1 if again else len(chats)}"))
        conversations = await write_history(site, agent, chats, [DayScript(day) for day in days], support)
        scored[agent.id] = conversations
    # Evaluations: two a week of each CSR's chats, the new CSR's scores rising over their first weeks.
    for agent, is_new in ((new, True), (veteran, False)):
        conversations = scored[agent.id]
        for i, conversation in enumerate(conversations[:: max(1, len(conversations) // 10)][:10]):
            progress = i / 9
            evaluation = await evaluations.start(qa, conversation.id)
            solves = str(min(5, 2 + round(3 * progress))) if is_new else rng.choice(["4", "5"])
            verifies = "no" if is_new and i == 1 else "yes"
            answers = {"greets": "yes" if not is_new or progress > 0.3 else "no",
                       "first_reply": "yes" if not is_new or progress > 0.5 else "no",
                       "verifies": verifies, "solves": solves, "closing": "yes"}
            await evaluations.submit(qa, evaluation.id, answers, automatic=["first_reply"])


DEMO_QA_EMAIL = "qa@demo.switchboard"
DEMO_NEW_CSR_EMAIL = "nina@demo.switchboard"
DEMO_VETERAN_EMAIL = "victor@demo.switchboard"
