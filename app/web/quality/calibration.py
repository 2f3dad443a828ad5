"""Calibration pages: /quality/calibration (the sessions, "New calibration session", the evaluator
deviation report and its CSV) and /quality/calibration/{id} (score each chat, the table of answers,
spread and agreed answers; close). Forms post with the CSRF token; a refusal draws the page again with
the message beside its field (400), nothing stored; a session one may not read is 404."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app import i18n
from app.clock import utcnow
from app.i18n import N_
from app.services import ServiceError, calibration, scope
from app.web.quality import forms
from app.web.quality.result import ANSWER_LABELS

NOTICES = {"created": N_("Calibration session created."), "agreed": N_("Agreed answers saved."),
           "closed": N_("Session closed: its evaluators now see every answer.")}
NOT_FOR_YOU = N_("Calibration is for evaluators.")


async def _list(request: Request, user, *, status: int = 200, errors=None, values=None) -> Response:
    period = request.query_params.get("period") or "week"
    if period not in ("week", "month"):
        period = "week"
    report = await calibration.deviation_report(user, period, since=utcnow().date() - timedelta(days=366))
    notice = NOTICES.get(request.query_params.get("done") or "") if status == 200 else None
    return forms.render(request, user, "quality/calibration.html", status=status,
                        sessions=await calibration.sessions(user), versions=await calibration.versions(),
                        evaluators=await calibration.evaluators(), chats=await calibration.recent_chats(user),
                        report=report, period=period, notice=notice, errors=errors or {}, values=values or {})


async def index(request: Request) -> Response:
    user, refused = await forms.signed_in(request)
    if refused is not None:
        return refused
    if not scope.may_evaluate(user):
        return forms.plain(i18n.gettext(NOT_FOR_YOU), 403)
    return await _list(request, user)


async def create(request: Request) -> Response:
    user, form, refused = await forms.posted(request)
    if refused is not None:
        return refused
    if not scope.may_evaluate(user):
        return forms.plain(i18n.gettext(NOT_FOR_YOU), 403)
    values = {"name": str(form.get("name") or ""), "scorecard_version_id": str(form.get("scorecard_version_id") or ""),
              "conversation_ids": [str(v) for v in form.getlist("conversation_ids")],
              "evaluator_ids": [str(v) for v in form.getlist("evaluator_ids")]}
    try:
        version = forms.number(values["scorecard_version_id"])
        chats = forms.numbers(values["conversation_ids"])
        people = forms.numbers(values["evaluator_ids"])
        session = await calibration.create(user, form.get("name"), version, chats, people)
    except ServiceError as error:
        return await _list(request, user, status=forms.status_of(error), errors=forms.error_of(error), values=values)
    return RedirectResponse(f"/quality/calibration/{session.id}?done=created", status_code=303)


async def _session_page(request: Request, user, session_id: int, *, status: int = 200, errors=None) -> Response:
    try:
        session, leads, evaluator = await calibration.get(user, session_id)
    except ServiceError as error:
        return forms.refusal(error)
    table = await calibration.table(user, session, leads)
    notice = NOTICES.get(request.query_params.get("done") or "") if status == 200 else None
    return forms.render(request, user, "quality/calibration_session.html", status=status, session=session,
                        leads=leads, evaluator=evaluator, table=table, answer_labels=ANSWER_LABELS,
                        notice=notice, errors=errors or {})


async def session_page(request: Request) -> Response:
    user, refused = await forms.signed_in(request)
    if refused is not None:
        return refused
    return await _session_page(request, user, request.path_params["session_id"])


async def start(request: Request) -> Response:
    user, form, refused = await forms.posted(request)
    if refused is not None:
        return refused
    session_id = request.path_params["session_id"]
    try:
        evaluation = await calibration.start(user, session_id, forms.number(form.get("conversation_id")))
    except ServiceError as error:
        if error.code == "not_found":
            return forms.refusal(error)
        return await _session_page(request, user, session_id, status=forms.status_of(error),
                                   errors=forms.error_of(error))
    return RedirectResponse(f"/quality/evaluations/{evaluation.id}", status_code=303)


async def agree(request: Request) -> Response:
    user, form, refused = await forms.posted(request)
    if refused is not None:
        return refused
    session_id = request.path_params["session_id"]
    answers = {key[len("agreed-"):]: str(form.get(key) or "") for key in form.keys() if key.startswith("agreed-")}
    try:
        await calibration.set_agreed(user, session_id, forms.number(form.get("conversation_id")), answers)
    except ServiceError as error:
        if error.code == "not_found":
            return forms.refusal(error)
        return await _session_page(request, user, session_id, status=forms.status_of(error),
                                   errors=forms.error_of(error))
    return RedirectResponse(f"/quality/calibration/{session_id}?done=agreed", status_code=303)


async def close(request: Request) -> Response:
    user, form, refused = await forms.posted(request)
    if refused is not None:
        return refused
    session_id = request.path_params["session_id"]
    try:
        await calibration.close(user, session_id)
    except ServiceError as error:
        if error.code == "not_found":
            return forms.refusal(error)
        return await _session_page(request, user, session_id, status=forms.status_of(error),
                                   errors=forms.error_of(error))
    return RedirectResponse(f"/quality/calibration/{session_id}?done=closed", status_code=303)


async def deviation_csv(request: Request) -> Response:
    user, refused = await forms.signed_in(request)
    if refused is not None:
        return refused
    if not scope.may_evaluate(user):
        return forms.plain(i18n.gettext(NOT_FOR_YOU), 403)
    period = request.query_params.get("period") or "week"
    try:
        rows = await calibration.deviation_report(user, period)
    except ServiceError as error:
        return forms.refusal(error)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["period_start", "evaluator_id", "evaluator", "answers_with_agreed", "differing",
                     "share_differing", "chats_scored", "mean_abs_score_gap"])
    for r in rows:
        name = r["evaluator"]
        if name[:1] in ("=", "+", "-", "@"):  # never a formula in a spreadsheet
            name = "'" + name
        writer.writerow([r["period"].isoformat(), r["evaluator_id"], name, r["answers"], r["differing"],
                         "" if r["share"] is None else r["share"], r["chats_scored"],
                         "" if r["mean_score_gap"] is None else r["mean_score_gap"]])
    stamp = date.today().isoformat()
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="calibration-deviation-{period}-{stamp}.csv"',
                             "cache-control": "no-store"})


ROUTES = [
    Route("/quality/calibration", index, methods=["GET"]),
    Route("/quality/calibration", create, methods=["POST"]),
    Route("/quality/calibration/deviation.csv", deviation_csv, methods=["GET"]),
    Route("/quality/calibration/{session_id:int}", session_page, methods=["GET"]),
    Route("/quality/calibration/{session_id:int}/start", start, methods=["POST"]),
    Route("/quality/calibration/{session_id:int}/agreed", agree, methods=["POST"]),
    Route("/quality/calibration/{session_id:int}/close", close, methods=["POST"]),
]
