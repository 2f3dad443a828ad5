"""The facts the automatic checks read (app/quality/checks.py), gathered from a chat's event log
(ConversationEvent) and messages, and the automatic answers of an evaluation's scorecard version."""

from __future__ import annotations

from app import runtime
from app.config import Settings
from app.models import Conversation, ConversationEvent, Department, Evaluation, Message, ScorecardVersion
from app.quality import checks


async def threshold_of(department_id: int | None) -> float:
    """The department's own service-level threshold, else the center's (as the KPI reports pick it)."""
    if department_id is not None:
        own = await Department.filter(id=department_id).values_list("sl_threshold_seconds", flat=True)
        if own and own[0] is not None:
            return float(own[0])
    try:
        return float(runtime.current().settings.service_level_threshold_seconds)
    except RuntimeError:  # no server around (a script): the configuration's default
        return float(Settings.service_level_threshold_seconds)


async def facts(conversation: Conversation) -> checks.Facts:
    events = await ConversationEvent.filter(conversation_id=conversation.id).order_by("at", "id") \
        .values("kind", "at", "data", "department_id")
    waiting_since = conversation.requested_at
    assigned_at = None
    first_response_at = conversation.first_response_at
    transfers: list[bool] = []
    department_id = conversation.department_id
    for e in events:
        data = e["data"] or {}
        if e["kind"] == "queued" and data.get("after_hours") and first_response_at is None:
            waiting_since = e["at"]
        elif e["kind"] == "assigned" and assigned_at is None:
            assigned_at = e["at"]
            department_id = e["department_id"] if e["department_id"] is not None else department_id
        elif e["kind"] == "transferred":
            transfers.append(bool(data.get("has_note")))
        elif e["kind"] == "first_response" and first_response_at is None:
            first_response_at = e["at"]
    if assigned_at is None:
        assigned_at = conversation.assigned_at
    rows = await Message.filter(conversation_id=conversation.id).order_by("seq") \
        .values("sender_kind", "body", "created_at")
    messages = [checks.Msg(r["sender_kind"], r["body"], r["created_at"]) for r in rows]
    return checks.Facts(
        waiting_since=waiting_since, assigned_at=assigned_at, first_response_at=first_response_at,
        closed_at=conversation.closed_at, category_id=conversation.category_id,
        threshold_seconds=await threshold_of(department_id), messages=messages, transfers=transfers)


async def for_evaluation(evaluation: Evaluation) -> dict[str, str]:
    """{criterion key: automatic answer} for the evaluation's version and chat."""
    version = await ScorecardVersion.get(id=evaluation.scorecard_version_id)
    if not any(c.get("auto") for s in version.sections for c in s["criteria"]):
        return {}
    conversation = await Conversation.get(id=evaluation.conversation_id)
    return checks.run_all(version.sections, await facts(conversation))
