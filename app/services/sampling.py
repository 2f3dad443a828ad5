"""What fills the evaluators' queues (docs/quality.md "Sampling, the queue and reports").

- Triggers are listeners on the event log (`install`, registered at start-up with the others): on
  `closed` — a transfer, a complaint category, a handle time above the department's 90th percentile of
  its last 4 weeks; on `rated` — a bad rating. Each queues the chat (a `SampleItem` with its reason and
  detail) and appends a `sampled` QualityEvent.
- The weekly random draw (`draw_week`): N closed chats per CSR of the week per rule, stratified
  (app/quality/sampling.py). It runs from `python -m app quality-sample [--week YYYY-MM-DD]` and from
  the shared schedule (the timer ``qa.weekly:draw``, app/services/timers.py): scheduled at start-up, it
  draws the last complete week and schedules itself for the next Monday; a worker that dies while
  drawing leaves the timer to fire again on a live one, and drawing a week twice adds nothing.
- `flag`: a supervisor's "Flag for review" from the console.

A chat is queued once per reason (a unique pair), never when it has been evaluated already (outside
calibration); the random draw never takes a chat queued for any reason.
"""

from __future__ import annotations

import logging
import time
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from tortoise.exceptions import IntegrityError
from tortoise.functions import Count, Min
from tortoise.transactions import in_transaction

from app import runtime
from app.clock import utcnow
from app.models import (
    Conversation, ConversationEvent, Evaluation, SampleItem, SamplingRule, User, WorkCategory,
)
from app.quality import sampling
from app.services import ServiceError, evaluations, scope, timers

log = logging.getLogger(__name__)

WEEKLY_TIMER = "qa.weekly"
FLAG_ROLES = ("supervisor", "admin")
MAX_FLAG_NOTE = 200


def _zone() -> str:
    return runtime.current().settings.center_time_zone


async def rule_for(department_id: int | None) -> SamplingRule | None:
    return await SamplingRule.filter(department_id=department_id, active=True).order_by("id").first()


def _rule(rule: SamplingRule) -> sampling.Rule:
    categories = rule.complaint_categories if isinstance(rule.complaint_categories, list) else []
    return sampling.Rule(on_bad_rating=rule.on_bad_rating, on_long_handle=rule.on_long_handle,
                         on_transfer=rule.on_transfer,
                         complaint_categories=frozenset(c for c in categories if isinstance(c, int)))


async def _load(evaluator_ids: list[int]) -> dict[int, int]:
    rows = await SampleItem.filter(evaluator_id__in=evaluator_ids, status="open").group_by("evaluator_id") \
        .annotate(n=Count("id")).values("evaluator_id", "n")
    return {r["evaluator_id"]: r["n"] for r in rows}


async def _evaluators(rule: SamplingRule | None) -> list[int]:
    if rule is None:
        return []
    return sorted(await rule.evaluators.filter(is_active=True).values_list("id", flat=True))


async def evaluated(conversation_id: int) -> bool:
    return await Evaluation.filter(solo=conversation_id).exists()


async def queue(conversation: Conversation, reason: str, detail: str, *, evaluator_id: int | None,
                actor_id: int | None = None, flagged_by: int | None = None) -> SampleItem | None:
    """Put the chat in a queue for `reason` (None if it is there for that reason already)."""
    at = conversation.closed_at or utcnow()
    try:
        async with in_transaction() as db:
            item = await SampleItem.create(
                conversation_id=conversation.id, agent_id=conversation.agent_id, evaluator_id=evaluator_id,
                department_id=conversation.department_id, reason=reason, detail=detail[:300],
                week=sampling.week_of(at, _zone()), flagged_by_id=flagged_by, using_db=db)
            await evaluations.record("sampled", actor_id=actor_id, agent_id=conversation.agent_id,
                                     conversation_id=conversation.id, using_db=db, reason=reason, detail=detail[:300],
                                     evaluator_id=evaluator_id, item_id=item.id,
                                     department_id=conversation.department_id)
    except IntegrityError:
        return None
    return item


async def _queue_triggers(conversation: Conversation, triggers: list[sampling.Trigger],
                          rule: SamplingRule) -> list[SampleItem]:
    if not triggers or await evaluated(conversation.id):
        return []
    evaluators = await _evaluators(rule)
    made = []
    for trigger in triggers:
        if await SampleItem.filter(conversation_id=conversation.id, reason=trigger.reason).exists():
            continue
        evaluator = sampling.spread(1, evaluators, await _load(evaluators))[0]
        item = await queue(conversation, trigger.reason, trigger.text(), evaluator_id=evaluator)
        if item is not None:
            made.append(item)
    return made


async def handle_seconds(conversation_ids: list[int]) -> dict[int, float]:
    """Handle time (first assignment → close) of closed chats, by id."""
    if not conversation_ids:
        return {}
    firsts = await ConversationEvent.filter(conversation_id__in=conversation_ids, kind="assigned") \
        .group_by("conversation_id").annotate(first=Min("at")).values("conversation_id", "first")
    closed = dict(await Conversation.filter(id__in=conversation_ids, closed_at__not_isnull=True)
                  .values_list("id", "closed_at"))
    out = {}
    for row in firsts:
        end = closed.get(row["conversation_id"])
        if end is not None and row["first"] is not None:
            out[row["conversation_id"]] = max(0.0, (end - row["first"]).total_seconds())
    return out


class HandleP90:
    """Per worker: each department's p90 of handle time, kept `P90_SECONDS` (a close does not read four
    weeks of chats each time; the figure moves slowly)."""

    def __init__(self) -> None:
        self.values: dict[int | None, tuple[float, float | None, int]] = {}


P90_SECONDS = 600.0


async def department_p90(department_id: int | None, before, exclude: int) -> tuple[float | None, int]:
    """The 90th percentile of handle time (first assignment → close) of the department's chats closed in
    the 4 weeks before `before` (the chat itself left out), and how many there were. One query joining
    the chats to their assignments; a figure from enough history is kept for a few minutes."""
    cache = runtime.current().state(HandleP90)
    now = time.monotonic()
    kept = cache.values.get(department_id)
    if kept is not None and now - kept[0] < P90_SECONDS:
        return kept[1], kept[2]
    chats = {"conversation__status": "closed", "conversation__agent_id__not_isnull": True,
             "conversation__closed_at__gte": before - sampling.HANDLE_WINDOW, "conversation__closed_at__lt": before}
    if department_id is None:
        chats["conversation__department_id__isnull"] = True
    else:
        chats["conversation__department_id"] = department_id
    rows = await ConversationEvent.filter(kind="assigned", **chats).exclude(conversation_id=exclude) \
        .group_by("conversation_id", "conversation__closed_at").annotate(first=Min("at")) \
        .values("conversation_id", "first", "conversation__closed_at")
    times = [max(0.0, (r["conversation__closed_at"] - r["first"]).total_seconds()) for r in rows
             if r["first"] is not None and r["conversation__closed_at"] is not None]
    found = sampling.percentile(times), len(times)
    if found[1] >= sampling.MIN_HANDLE_HISTORY:
        cache.values[department_id] = (now, *found)
    return found


async def on_closed(conversation: Conversation, event: ConversationEvent) -> None:
    try:
        if conversation.agent_id is None:
            return
        rule = await rule_for(conversation.department_id)
        if rule is None:
            return
        transfers = await ConversationEvent.filter(conversation_id=conversation.id, kind="transferred").count()
        category = None
        if conversation.category_id is not None:
            category = await WorkCategory.get_or_none(id=conversation.category_id)
        handle = (await handle_seconds([conversation.id])).get(conversation.id)
        p90, history = (None, 0)
        if rule.on_long_handle and handle is not None:
            p90, history = await department_p90(conversation.department_id, conversation.closed_at or utcnow(),
                                                conversation.id)
        triggers = sampling.on_close(
            _rule(rule), transfers=transfers, category_id=conversation.category_id,
            category_parent_id=category.parent_id if category else None,
            category_name=category.name if category else None, handle_seconds=handle, p90_seconds=p90,
            history=history)
        await _queue_triggers(conversation, triggers, rule)
    except Exception:  # sampling never holds up closing a chat
        log.exception("sampling a closed chat failed")


async def on_rated(conversation: Conversation, event: ConversationEvent) -> None:
    try:
        data = event.data if isinstance(event.data, dict) else {}
        rule = await rule_for(conversation.department_id)
        if rule is None or conversation.agent_id is None:
            return
        await _queue_triggers(conversation, sampling.on_rating(_rule(rule), data.get("rating")), rule)
    except Exception:
        log.exception("sampling a rated chat failed")


def install(listeners: runtime.Listeners) -> runtime.Listeners:
    listeners.on_conversation({"closed"}, on_closed)
    listeners.on_conversation({"rated"}, on_rated)
    return listeners


# -- the weekly draw ------------------------------------------------------------------------------

def last_complete_week(today: date | None = None) -> date:
    today = today or utcnow().astimezone(ZoneInfo(_zone())).date()
    return today - timedelta(days=today.weekday() + 7)


async def draw_week(week: date, seed: str | None = None) -> int:
    """The random draw of the week starting on Monday `week`, for every active rule. Returns how many
    chats it queued (0 when drawn already)."""
    if week.weekday() != 0:
        raise ServiceError("invalid", "A week starts on a Monday.", field="week")
    start, end = sampling.week_bounds(week, _zone())
    made = 0
    for rule in await SamplingRule.filter(active=True).order_by("id"):
        if rule.per_agent_per_week <= 0:
            continue
        rows = await Conversation.filter(department_id=rule.department_id, status="closed",
                                         agent_id__not_isnull=True, closed_at__gte=start, closed_at__lt=end) \
            .values("id", "agent_id")
        if not rows:
            continue
        ids = [r["id"] for r in rows]
        taken = set(await SampleItem.filter(conversation_id__in=ids).values_list("conversation_id", flat=True))
        taken |= set(await Evaluation.filter(solo__in=ids).values_list("solo", flat=True))
        already_rows = await SampleItem.filter(reason="random", week=week, department_id=rule.department_id) \
            .group_by("agent_id").annotate(n=Count("id")).values("agent_id", "n")
        already = {r["agent_id"]: r["n"] for r in already_rows if r["agent_id"] is not None}
        drawn = sampling.draw([sampling.Chat(r["id"], r["agent_id"]) for r in rows], rule.per_agent_per_week,
                              seed or f"{week.isoformat()}:{rule.id}", exclude=taken, already=already)
        evaluators = await _evaluators(rule)
        assigned = sampling.spread(len(drawn), evaluators, await _load(evaluators))
        chats = {c.id: c for c in await Conversation.filter(id__in=[d.id for d in drawn])}
        for chat, evaluator in zip(drawn, assigned):
            detail = sampling.DETAILS["random"] % {"week": week.isoformat()}
            if await queue(chats[chat.id], "random", detail, evaluator_id=evaluator) is not None:
                made += 1
    return made


async def weekly_timer(subject: str, payload: dict) -> None:
    """The shared schedule's weekly draw: the last complete week, then the next Monday (00:10)."""
    await draw_week(last_complete_week())
    await schedule_weekly(replace=True)


async def schedule_weekly(replace: bool = False) -> None:
    zone = ZoneInfo(_zone())
    now = utcnow().astimezone(zone)
    if replace:
        monday = now.date() + timedelta(days=7 - now.weekday())
        due = sampling.week_bounds(monday, _zone())[0] + timedelta(minutes=10)
        delay = max(0.0, (due - now).total_seconds())
    else:
        delay = 60.0  # at start-up: catch up on a week missed while no server ran
    await timers.schedule(WEEKLY_TIMER, "draw", delay, replace=replace)


# -- Flag for review ------------------------------------------------------------------------------

async def flag(user: User, conversation_id: object, note: object = None) -> SampleItem:
    """A supervisor (or admin) puts a chat of their queues in the evaluators' queue: reason `flag`."""
    if user.role not in FLAG_ROLES:
        raise ServiceError("forbidden", "Only supervisors and admins flag chats for review.")
    if isinstance(conversation_id, bool) or not isinstance(conversation_id, int):
        raise ServiceError("invalid", "A conversation id is a number.", field="conversation_id")
    if note is not None and not isinstance(note, str):
        raise ServiceError("invalid", "The reason is text.", field="reason")
    note = (note or "").strip()
    if len(note) > MAX_FLAG_NOTE:
        raise ServiceError("invalid", "The reason is at most %(limit)s characters.", field="reason",
                           limit=MAX_FLAG_NOTE)
    conversation = await Conversation.get_or_none(id=conversation_id)
    if conversation is None or not await scope.evaluates(user, conversation.site_id, conversation.department_id):
        raise ServiceError("not_found", "No such conversation.")
    if conversation.agent_id is None:
        raise ServiceError("conflict", "No CSR handled this chat.")
    if await evaluated(conversation.id):
        raise ServiceError("conflict", "This chat has been evaluated already.")
    if await SampleItem.filter(conversation_id=conversation.id, reason="flag").exists():
        raise ServiceError("conflict", "This chat is flagged for review already.")
    rule = await rule_for(conversation.department_id)
    evaluators = await _evaluators(rule)
    evaluator = sampling.spread(1, evaluators, await _load(evaluators))[0]
    name = user.display_name or user.email
    detail = (sampling.DETAILS["flag_note"] % {"name": name, "note": note} if note
              else sampling.DETAILS["flag"] % {"name": name})
    item = await queue(conversation, "flag", detail, evaluator_id=evaluator, actor_id=user.id, flagged_by=user.id)
    if item is None:
        raise ServiceError("conflict", "This chat is flagged for review already.")
    await evaluations.record("flagged", actor_id=user.id, agent_id=conversation.agent_id,
                             conversation_id=conversation.id, note=note, item_id=item.id)
    return item

