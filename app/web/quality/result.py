"""A submitted evaluation as its readers see it: the score, the answers, the chat, the CSR's
acknowledgement and disputes, a supervisor's decisions; and the open disputes a supervisor decides
(/quality/disputes). Forms post with the session's CSRF token and come back to the page: on a refusal
the page is drawn again (400/409) with the message beside its field, nothing stored."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app import i18n
from app.i18n import N_
from app.models import Evaluation, ScorecardVersion, User
from app.quality import scoring
from app.services import ServiceError, disputes, evaluations
from app.web.quality import evaluate, forms

NOTICES = {"acknowledged": N_("Acknowledged. Thank you."),
           "disputed": N_("Dispute sent: a supervisor will decide it."),
           "decided": N_("Decision saved.")}
AGENT_STATES = {"none": N_("Not acknowledged yet"), "acknowledged": N_("Acknowledged"),
                "disputed": N_("Disputed"), "decided": N_("Disputes decided")}
ANSWER_LABELS = {"yes": N_("Yes"), "no": N_("No"), "na": N_("Not applicable")}


async def _context(user: User, evaluation: Evaluation) -> dict[str, Any]:
    version = await ScorecardVersion.get(id=evaluation.scorecard_version_id).prefetch_related("scorecard")
    answers = await evaluations.answers_of(evaluation.id)
    found = await disputes.of_evaluation(evaluation.id)
    by_criterion = {d["criterion"]: d for d in found}
    await evaluation.fetch_related("evaluator", "agent")
    own = evaluation.agent_id == user.id and evaluation.calibration_id is None
    # The chat, for quality/_transcript.html: the evaluation form's own builder.
    transcript = (await evaluate.transcript_context(evaluation))["transcript"]
    criteria = scoring.criteria(version.sections)
    return {
        "evaluation": evaluation, "version": version, "sections": version.sections, "answers": answers,
        "disputes": found, "disputed": by_criterion, "own": own,
        "may_dispute": own and evaluation.agent_state != "acknowledged"
        and any(c["key"] not in by_criterion for c in criteria),
        "may_acknowledge": own and evaluation.agent_state in ("none", "decided"),
        "may_decide": await disputes.may_decide(user, evaluation),
        "agent_states": AGENT_STATES, "answer_labels": ANSWER_LABELS, "scales": scoring.ANSWERS,
        "criteria": criteria, "labels": {c["key"]: c["label"] for c in criteria},
        "transcript": transcript,
    }


async def page(request: Request, user: User, evaluation: Evaluation, *, status: int = 200,
               **extra: Any) -> Response:
    context = await _context(user, evaluation)
    notice = request.query_params.get("done")
    if notice in NOTICES and status == 200:
        context["notice"] = NOTICES[notice]
    return forms.render(request, user, "quality/result.html", status=status, **context, **extra)


async def _again(request: Request, user: User, evaluation_id: int, error: ServiceError,
                 values: dict[str, Any]) -> Response:
    try:
        evaluation = await evaluations.get(user, evaluation_id)
    except ServiceError as missing:
        return forms.refusal(missing)
    if error.code == "not_found":
        return forms.refusal(error)
    return await page(request, user, evaluation, status=forms.status_of(error), errors=forms.error_of(error),
                      values=values)


async def acknowledge(request: Request) -> Response:
    user, form, refused = await forms.posted(request)
    if refused is not None:
        return refused
    evaluation_id = request.path_params["evaluation_id"]
    try:
        await disputes.acknowledge(user, evaluation_id)
    except ServiceError as error:
        return await _again(request, user, evaluation_id, error, {})
    return RedirectResponse(f"/quality/evaluations/{evaluation_id}?done=acknowledged", status_code=303)


async def dispute(request: Request) -> Response:
    user, form, refused = await forms.posted(request)
    if refused is not None:
        return refused
    evaluation_id = request.path_params["evaluation_id"]
    values = {"criterion": str(form.get("criterion") or ""), "comment": str(form.get("comment") or "")}
    try:
        await disputes.dispute(user, evaluation_id, values["criterion"] or None, form.get("comment"))
    except ServiceError as error:
        return await _again(request, user, evaluation_id, error, values)
    return RedirectResponse(f"/quality/evaluations/{evaluation_id}?done=disputed", status_code=303)


async def decide(request: Request) -> Response:
    user, form, refused = await forms.posted(request)
    if refused is not None:
        return refused
    dispute_id = request.path_params["dispute_id"]
    outcome = str(form.get("outcome") or "")
    values = {"dispute": dispute_id, "outcome": outcome, "new_value": str(form.get("new_value") or ""),
              "note": str(form.get("note") or "")}
    evaluation_id = await disputes.evaluation_of(dispute_id)
    try:
        await disputes.decide(user, dispute_id, outcome or None, form.get("new_value") or None, form.get("note"))
    except ServiceError as error:
        if evaluation_id is None:
            return forms.refusal(error)
        return await _again(request, user, evaluation_id, error, values)
    back = str(form.get("back") or "")
    if back == "list":
        return RedirectResponse("/quality/disputes?done=decided", status_code=303)
    return RedirectResponse(f"/quality/evaluations/{evaluation_id}?done=decided", status_code=303)


async def open_list(request: Request) -> Response:
    user, refused = await forms.signed_in(request)
    if refused is not None:
        return refused
    if user.role not in disputes.DECIDER_ROLES:
        return forms.plain(i18n.gettext(N_("The disputes are for supervisors.")), 403)
    notice = NOTICES["decided"] if request.query_params.get("done") == "decided" else None
    return forms.render(request, user, "quality/disputes.html", rows=await disputes.open_disputes(user),
                        notice=notice)


ROUTES: list[Route] = [
    Route("/quality/evaluations/{evaluation_id:int}/acknowledge", acknowledge, methods=["POST"]),
    Route("/quality/evaluations/{evaluation_id:int}/dispute", dispute, methods=["POST"]),
    Route("/quality/disputes/{dispute_id:int}/decide", decide, methods=["POST"]),
    Route("/quality/disputes", open_list, methods=["GET"]),
]
