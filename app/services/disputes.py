"""The CSR's side of an evaluation: acknowledging it, disputing a criterion, a supervisor's decision.

Rules (docs/quality.md "Disputes, calibration and coaching"):

- Only the evaluated CSR acknowledges or disputes, and only their own submitted evaluation outside
  calibration; anyone else who may read it is refused (`forbidden`), anyone who may not gets
  `not_found` (app/services/evaluations.py `get`).
- A criterion is disputed at most once per evaluation (a unique key), with a comment; the CSR may
  dispute several criteria until they acknowledge. Acknowledging ends it: no dispute after, and no
  acknowledging while a dispute of theirs is still open (they wait for the decision, then acknowledge).
  `Evaluation.agent_state`: none → disputed → decided (every dispute decided) → acknowledged; or
  none → acknowledged.
- A dispute is decided by a supervisor of the CSR (`scope.evaluation_reach`: their `members`) or an
  admin, never by the CSR it is about: **upheld** (the answer stays) or **changed** (a new answer for
  the criterion; the evaluation's score and critical failure are computed again with
  app/quality/scoring.py over the evaluation's own scorecard version). A decision is final: it is a
  conditional update of an open dispute, so of two supervisors deciding at once one wins and the other
  gets `conflict`; the evaluation row is locked while its score is recomputed.
- Every step is a QualityEvent (acknowledged, disputed, decided) written in the transaction of its change.
"""

from __future__ import annotations

from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.clock import utcnow
from app.models import Dispute, Evaluation, EvaluationAnswer, ScorecardVersion, User
from app.quality import scoring
from app.services import ServiceError, evaluations, scope, text_field

MAX_COMMENT = 2000
OUTCOMES = ("upheld", "changed")
DECIDER_ROLES = ("supervisor", "admin")


async def _own(user: User, evaluation_id: object) -> Evaluation:
    evaluation = await evaluations.get(user, evaluation_id)
    if evaluation.agent_id != user.id or evaluation.calibration_id is not None:
        raise ServiceError("forbidden", "Only the CSR evaluated acknowledges or disputes an evaluation.")
    if evaluation.status != "submitted":
        raise ServiceError("not_found", "No such evaluation.")
    return evaluation


async def may_decide(user: User, evaluation: Evaluation) -> bool:
    """A supervisor of the evaluated CSR or an admin, never the CSR themselves."""
    if user.role not in DECIDER_ROLES or evaluation.agent_id == user.id or evaluation.calibration_id is not None:
        return False
    everyone, staff = await scope.evaluation_reach(user)
    return everyone and (staff is None or evaluation.agent_id in staff)


async def criteria_of(evaluation: Evaluation) -> list[dict]:
    version = await ScorecardVersion.get(id=evaluation.scorecard_version_id)
    return scoring.criteria(version.sections)


async def acknowledge(user: User, evaluation_id: object) -> Evaluation:
    evaluation = await _own(user, evaluation_id)
    if evaluation.agent_state == "acknowledged":
        raise ServiceError("conflict", "You acknowledged this evaluation already.")
    now = utcnow()
    async with in_transaction() as db:
        updated = await Evaluation.filter(id=evaluation.id, agent_state__in=("none", "decided")).using_db(db) \
            .update(agent_state="acknowledged", acknowledged_at=now)
        if not updated:
            if await Dispute.filter(evaluation_id=evaluation.id, outcome=None).using_db(db).exists():
                raise ServiceError("conflict", "A dispute of yours is still open: acknowledge once it is decided.")
            raise ServiceError("conflict", "You acknowledged this evaluation already.")
        await evaluations.record("acknowledged", actor_id=user.id, agent_id=evaluation.agent_id,
                                 evaluation_id=evaluation.id, conversation_id=evaluation.conversation_id, at=now,
                                 using_db=db)
    evaluation.agent_state, evaluation.acknowledged_at = "acknowledged", now
    return evaluation


async def dispute(user: User, evaluation_id: object, criterion: object, comment: object) -> Dispute:
    evaluation = await _own(user, evaluation_id)
    keys = {c["key"] for c in await criteria_of(evaluation)}
    if not isinstance(criterion, str) or criterion not in keys:
        raise ServiceError("bad_request", "Choose the criterion you dispute.", "criterion")
    text = text_field(comment, "comment", most=MAX_COMMENT, required="Say why you dispute it.")
    if evaluation.agent_state == "acknowledged":
        raise ServiceError("conflict", "You acknowledged this evaluation: it can no longer be disputed.")
    now = utcnow()
    try:
        async with in_transaction() as db:
            updated = await Evaluation.filter(id=evaluation.id, agent_state__in=("none", "disputed", "decided")) \
                .using_db(db).update(agent_state="disputed")
            if not updated:
                raise ServiceError("conflict", "You acknowledged this evaluation: it can no longer be disputed.")
            made = await Dispute.create(evaluation_id=evaluation.id, criterion=criterion, comment=text,
                                        raised_by_id=user.id, raised_at=now, using_db=db)
            await evaluations.record("disputed", actor_id=user.id, agent_id=evaluation.agent_id,
                                     evaluation_id=evaluation.id, conversation_id=evaluation.conversation_id, at=now,
                                     using_db=db, dispute_id=made.id, criterion=criterion)
    except IntegrityError:
        raise ServiceError("conflict", "You disputed this criterion already.", "criterion") from None
    return made


async def decide(user: User, dispute_id: object, outcome: object, new_value: object = None,
                 note: object = None) -> Dispute:
    if isinstance(dispute_id, bool) or not isinstance(dispute_id, int):
        raise ServiceError("not_found", "No such dispute.")
    found = await Dispute.get_or_none(id=dispute_id)
    if found is None:
        raise ServiceError("not_found", "No such dispute.")
    evaluation = await evaluations.get(user, found.evaluation_id)  # not_found when they may not read it
    if not await may_decide(user, evaluation):
        raise ServiceError("forbidden", "A supervisor of the CSR decides their disputes.")
    if outcome not in OUTCOMES:
        raise ServiceError("bad_request", "Choose upheld or changed.", "outcome")
    text = text_field(note, "note", most=MAX_COMMENT)
    criteria = {c["key"]: c for c in await criteria_of(evaluation)}
    criterion = criteria.get(found.criterion)
    value = None
    if outcome == "changed":
        if criterion is None:
            raise ServiceError("bad_request", "This criterion is not on the evaluation's scorecard.", "new_value")
        try:
            value = scoring.check_answer(criterion, new_value)
        except scoring.ScorecardError as error:
            raise ServiceError("bad_request", error.message, "new_value", **error.values) from None
    if found.outcome is not None:
        raise ServiceError("conflict", "This dispute has been decided already.")
    now = utcnow()
    async with in_transaction() as db:
        # Lock the evaluation while its score is computed again (PostgreSQL; SQLite writes one at a time).
        locked = await Evaluation.filter(id=evaluation.id).using_db(db).select_for_update().first()
        decided = await Dispute.filter(id=found.id, outcome=None).using_db(db).update(
            outcome=outcome, new_value=value, decision_note=text, decided_by_id=user.id, decided_at=now)
        if not decided:
            raise ServiceError("conflict", "This dispute has been decided already.")
        answers = {a["criterion"]: a["value"] for a in
                   await EvaluationAnswer.filter(evaluation_id=evaluation.id).using_db(db).values("criterion", "value")}
        old_value = answers.get(found.criterion)
        before = (locked.score, locked.critical_failed)
        after = before
        if outcome == "changed" and value != old_value:
            answers[found.criterion] = value
            version = await ScorecardVersion.get(id=evaluation.scorecard_version_id).using_db(db)
            result = scoring.score(version.sections, answers)
            after = (result.score, result.critical_failed)
            await EvaluationAnswer.filter(evaluation_id=evaluation.id, criterion=found.criterion).using_db(db) \
                .update(value=value, automatic=False)
            await Evaluation.filter(id=evaluation.id).using_db(db).update(
                score=result.score, critical_failed=result.critical_failed)
        if not await Dispute.filter(evaluation_id=evaluation.id, outcome=None).using_db(db).exists():
            await Evaluation.filter(id=evaluation.id, agent_state="disputed").using_db(db).update(agent_state="decided")
        await evaluations.record("decided", actor_id=user.id, agent_id=evaluation.agent_id,
                                 evaluation_id=evaluation.id, conversation_id=evaluation.conversation_id, at=now,
                                 using_db=db, dispute_id=found.id, criterion=found.criterion, outcome=outcome,
                                 old_value=old_value, new_value=value, score_before=before[0], score=after[0],
                                 critical_failed=after[1])
    found.outcome, found.new_value, found.decision_note = outcome, value, text
    found.decided_by_id, found.decided_at = user.id, now
    return found


async def evaluation_of(dispute_id: int) -> int | None:
    """The evaluation a dispute is about (None: no such dispute); who may read it is `evaluations.get`'s."""
    found = await Dispute.filter(id=dispute_id).values_list("evaluation_id", flat=True)
    return found[0] if found else None


async def of_evaluation(evaluation_id: int) -> list[dict[str, Any]]:
    rows = await Dispute.filter(evaluation_id=evaluation_id).order_by("raised_at", "id") \
        .values("id", "criterion", "comment", "raised_at", "outcome", "new_value", "decision_note",
                "decided_at", "decided_by__display_name")
    return [{**r, "decided_by": r.pop("decided_by__display_name")} for r in rows]


async def open_disputes(user: User, limit: int = 200) -> list[dict[str, Any]]:
    """The open disputes `user` decides: of the CSRs they supervise (`members`), every one for an admin."""
    if user.role not in DECIDER_ROLES:
        return []
    everyone, staff = await scope.evaluation_reach(user)
    if not everyone:
        return []
    query = Dispute.filter(outcome=None, evaluation__calibration_id=None).exclude(evaluation__agent_id=user.id)
    if staff is not None:
        query = query.filter(evaluation__agent_id__in=list(staff))
    rows = await query.order_by("raised_at", "id").limit(limit).values(
        "id", "criterion", "comment", "raised_at", "evaluation_id", "evaluation__agent__display_name",
        "evaluation__scorecard_version_id", "evaluation__score")
    labels: dict[int, dict[str, str]] = {}
    for version_id in {r["evaluation__scorecard_version_id"] for r in rows}:
        version = await ScorecardVersion.get(id=version_id)
        labels[version_id] = {c["key"]: c["label"] for c in scoring.criteria(version.sections)}
    return [{"id": r["id"], "criterion": r["criterion"],
             "label": labels[r["evaluation__scorecard_version_id"]].get(r["criterion"], r["criterion"]),
             "comment": r["comment"], "raised_at": r["raised_at"], "evaluation_id": r["evaluation_id"],
             "agent": r["evaluation__agent__display_name"], "score": r["evaluation__score"]} for r in rows]
