"""Evaluations: an evaluator scores one closed chat against the scorecard that applies to it.

- `scorecard_for(conversation)`: the active scorecard of the chat's contact category (or its parent
  category), else of its department, else the center-wide one; its latest version.
- `start`: opens a draft (or returns the evaluator's own draft of the chat). Outside calibration a chat
  is evaluated once: a unique column (`Evaluation.solo`) settles two evaluators starting together.
- `save`: keeps a draft's answers (each one valid for its criterion's scale).
- `submit`: every criterion answered → the score (app/quality/scoring.py), in one transaction with the
  `submitted` event; the chat leaves every evaluator's queue.
- `record`: appends a step to the quality event log (`QualityEvent`), which the reports read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.clock import utcnow
from app.models import (
    Conversation, Evaluation, EvaluationAnswer, QualityEvent, SampleItem, Scorecard, ScorecardVersion, User,
    WorkCategory,
)
from app.quality import scoring
from app.services import ServiceError, scope

MAX_NOTE = 500


async def record(kind: str, *, actor_id: int | None, agent_id: int | None = None, evaluation_id: int | None = None,
                 conversation_id: int | None = None, at: datetime | None = None, using_db: Any = None,
                 **data: Any) -> QualityEvent:
    """Append one step to the quality event log."""
    return await QualityEvent.create(kind=kind, at=at or utcnow(), actor_id=actor_id, agent_id=agent_id,
                                     evaluation_id=evaluation_id, conversation_id=conversation_id, data=data,
                                     using_db=using_db)


def invalid(error: scoring.ScorecardError) -> ServiceError:
    return ServiceError("invalid", error.message, field=error.field, **error.values)


async def scorecard_for(conversation: Conversation) -> ScorecardVersion | None:
    """The latest version of the scorecard that applies to the chat (category > department > center)."""
    cards = await Scorecard.filter(active=True).values("id", "department_id", "category_id")
    category_ids: list[int] = []
    if conversation.category_id is not None:
        category_ids.append(conversation.category_id)
        parent = await WorkCategory.filter(id=conversation.category_id).values_list("parent_id", flat=True)
        if parent and parent[0] is not None:
            category_ids.append(parent[0])

    def rank(card: dict) -> int | None:
        if card["category_id"] is not None:
            if card["category_id"] not in category_ids:
                return None
            if card["department_id"] is not None and card["department_id"] != conversation.department_id:
                return None
            return 0 if card["category_id"] == conversation.category_id else 1
        if card["department_id"] is not None:
            return 2 if card["department_id"] == conversation.department_id else None
        return 3

    ranked = sorted((r, c["id"]) for c in cards if (r := rank(c)) is not None)
    if not ranked:
        return None
    return await ScorecardVersion.filter(scorecard_id=ranked[0][1]).order_by("-number").first()


async def _chat(user: User, conversation_id: object) -> Conversation:
    if isinstance(conversation_id, bool) or not isinstance(conversation_id, int):
        raise ServiceError("invalid", "A conversation id is a number.", field="conversation_id")
    conversation = await Conversation.get_or_none(id=conversation_id)
    if conversation is None or not await scope.evaluates(user, conversation.site_id, conversation.department_id):
        raise ServiceError("not_found", "No such conversation.")
    return conversation


async def start(user: User, conversation_id: object, calibration_id: int | None = None,
                version: ScorecardVersion | None = None) -> Evaluation:
    """A draft evaluation of the chat by `user` (theirs if they have one already)."""
    conversation = await _chat(user, conversation_id)
    if conversation.status != "closed":
        raise ServiceError("conflict", "Only a closed chat can be evaluated.")
    if conversation.agent_id is None:
        raise ServiceError("conflict", "No CSR handled this chat.")
    existing = await Evaluation.filter(conversation_id=conversation.id, calibration_id=calibration_id).all()
    for evaluation in existing:
        if calibration_id is not None and evaluation.evaluator_id != user.id:
            continue
        if evaluation.evaluator_id == user.id and evaluation.status == "draft":
            return evaluation
        raise ServiceError("conflict", "This chat has been evaluated already.")
    if version is None:
        version = await scorecard_for(conversation)
    if version is None:
        raise ServiceError("conflict", "No scorecard applies to this chat: build one on the Scorecards page.")
    now = utcnow()
    try:
        async with in_transaction() as db:
            evaluation = await Evaluation.create(
                conversation_id=conversation.id, scorecard_version_id=version.id, evaluator_id=user.id,
                agent_id=conversation.agent_id, department_id=conversation.department_id,
                calibration_id=calibration_id, solo=conversation.id if calibration_id is None else None,
                started_at=now, using_db=db)
            await record("started", actor_id=user.id, agent_id=conversation.agent_id, evaluation_id=evaluation.id,
                         conversation_id=conversation.id, at=now, using_db=db, calibration_id=calibration_id)
    except IntegrityError:  # another evaluator started the same chat at the same moment
        raise ServiceError("conflict", "This chat has been evaluated already.") from None
    return evaluation


async def get(user: User, evaluation_id: object) -> Evaluation:
    """An evaluation `user` may read: evaluators of its queue, the evaluated CSR (once submitted), a
    supervisor of the CSR. Anything else is `not_found`, like an id that does not exist."""
    if isinstance(evaluation_id, bool) or not isinstance(evaluation_id, int):
        raise ServiceError("not_found", "No such evaluation.")
    evaluation = await Evaluation.get_or_none(id=evaluation_id).select_related("conversation")
    if evaluation is None:
        raise ServiceError("not_found", "No such evaluation.")
    if evaluation.evaluator_id == user.id:
        return evaluation
    chat = evaluation.conversation
    calibrating = evaluation.calibration_id is not None
    if not calibrating and evaluation.status == "submitted":
        if evaluation.agent_id == user.id:
            return evaluation
        if await scope.evaluates(user, chat.site_id, chat.department_id):
            return evaluation
        everyone, staff = await scope.evaluation_reach(user)
        if everyone and (staff is None or evaluation.agent_id in staff):
            return evaluation
    raise ServiceError("not_found", "No such evaluation.")


def _answers(sections: list[dict], answers: object, partial: bool) -> dict[str, str]:
    if not isinstance(answers, dict):
        raise ServiceError("invalid", "Answers are an object of criterion → answer.", field="answers")
    known = {c["key"]: c for c in scoring.criteria(sections)}
    out: dict[str, str] = {}
    for key, value in answers.items():
        if key not in known:
            raise ServiceError("invalid", "Unknown criterion %(key)s.", field="answers", key=str(key)[:40])
        if partial and value in (None, ""):
            continue
        try:
            out[key] = scoring.check_answer(known[key], value)
        except scoring.ScorecardError as error:
            raise invalid(error) from None
    return out


def _notes(notes: object, keys: set[str]) -> dict[str, str]:
    if notes is None:
        return {}
    if not isinstance(notes, dict):
        raise ServiceError("invalid", "Notes are an object of criterion → text.", field="notes")
    out: dict[str, str] = {}
    for key, text in notes.items():
        if key not in keys:
            raise ServiceError("invalid", "Unknown criterion %(key)s.", field="notes", key=str(key)[:40])
        if not isinstance(text, str):
            raise ServiceError("invalid", "A note is text.", field="notes")
        if len(text) > MAX_NOTE:
            raise ServiceError("invalid", "A note is at most %(limit)s characters.", field="notes", limit=MAX_NOTE)
        out[key] = text.strip()
    return out


async def _draft(user: User, evaluation_id: object) -> tuple[Evaluation, list[dict]]:
    evaluation = await get(user, evaluation_id)
    if evaluation.evaluator_id != user.id:
        raise ServiceError("not_found", "No such evaluation.")
    if evaluation.status != "draft":
        raise ServiceError("conflict", "This evaluation has been submitted already.")
    version = await ScorecardVersion.get(id=evaluation.scorecard_version_id)
    return evaluation, version.sections


async def _write_answers(evaluation: Evaluation, answers: dict[str, str], automatic: set[str],
                         notes: dict[str, str], db: Any) -> None:
    await EvaluationAnswer.filter(evaluation_id=evaluation.id).using_db(db).delete()
    rows = [EvaluationAnswer(evaluation_id=evaluation.id, criterion=key, value=value, automatic=key in automatic,
                             note=notes.get(key, "")) for key, value in answers.items()]
    if rows:
        await EvaluationAnswer.bulk_create(rows, using_db=db)


def _automatic(automatic: object, keys: set[str]) -> set[str]:
    if automatic is None:
        return set()
    if not isinstance(automatic, list) or not all(isinstance(k, str) for k in automatic):
        raise ServiceError("invalid", "Automatic answers are a list of criterion keys.", field="automatic")
    return {k for k in automatic if k in keys}


async def save(user: User, evaluation_id: object, answers: object, automatic: object = None,
               notes: object = None) -> Evaluation:
    """Keep a draft's answers so far."""
    evaluation, sections = await _draft(user, evaluation_id)
    parsed = _answers(sections, answers, partial=True)
    keys = set(parsed)
    notes_ = _notes(notes, {c["key"] for c in scoring.criteria(sections)})
    async with in_transaction() as db:
        await _write_answers(evaluation, parsed, _automatic(automatic, keys), notes_, db)
    return evaluation


async def submit(user: User, evaluation_id: object, answers: object, automatic: object = None,
                 notes: object = None) -> Evaluation:
    """Score and submit a draft: every criterion answered, the score and its event in one transaction."""
    evaluation, sections = await _draft(user, evaluation_id)
    parsed = _answers(sections, answers, partial=False)
    try:
        result = scoring.score(sections, parsed)
    except scoring.ScorecardError as error:
        raise invalid(error) from None
    notes_ = _notes(notes, set(parsed))
    now = utcnow()
    async with in_transaction() as db:
        updated = await Evaluation.filter(id=evaluation.id, status="draft").using_db(db).update(
            status="submitted", score=result.score, critical_failed=result.critical_failed, submitted_at=now)
        if not updated:
            raise ServiceError("conflict", "This evaluation has been submitted already.")
        await _write_answers(evaluation, parsed, _automatic(automatic, set(parsed)), notes_, db)
        await record("submitted", actor_id=user.id, agent_id=evaluation.agent_id, evaluation_id=evaluation.id,
                     conversation_id=evaluation.conversation_id, at=now, using_db=db, score=result.score,
                     critical_failed=result.critical_failed, version_id=evaluation.scorecard_version_id,
                     calibration_id=evaluation.calibration_id, department_id=evaluation.department_id)
        if evaluation.calibration_id is None:
            await SampleItem.filter(conversation_id=evaluation.conversation_id, status="open").using_db(db) \
                .update(status="done")
    evaluation.status, evaluation.score, evaluation.critical_failed = "submitted", result.score, result.critical_failed
    evaluation.submitted_at = now
    return evaluation


async def answers_of(evaluation_id: int) -> dict[str, dict[str, Any]]:
    """{criterion: {value, automatic, note}} of an evaluation."""
    rows = await EvaluationAnswer.filter(evaluation_id=evaluation_id).values("criterion", "value", "automatic", "note")
    return {r["criterion"]: {"value": r["value"], "automatic": r["automatic"], "note": r["note"]} for r in rows}
